//! Audit records: every field of a record for a real podman start, a CRI-O start and a
//! `podman build` step, read back from a socket of the test's own that speaks journald's native
//! protocol; one record per decision in the journal; a real rsyslogd; the file records go to when
//! there is no socket, its mode and its bound; repeated denials of one container counted, not
//! logged; and an unreachable destination, which keeps the verdict and says so once.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use oci_signature_hook::audit::journal;

use crate::common::{hook_path, hooks_dir, lab, run_hook, run_hook_env, unique, Scratch};

const TRUSTED: &str =
    r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#;

/// The syslog keys of a record in their order, each with its journal field.
const KEYS: &[(&str, &str)] = &[
    ("verdict", "VERDICT"),
    ("container", "CONTAINER_ID"),
    ("name", "CONTAINER_NAME"),
    ("engine", "ENGINE"),
    ("uid", "INVOKER_UID"),
    ("rootless", "ROOTLESS"),
    ("image", "IMAGE"),
    ("image_id", "IMAGE_ID"),
    ("manifest_digest", "MANIFEST_DIGEST"),
    ("policy", "POLICY"),
    ("scope", "SCOPE"),
    ("requirement", "REQUIREMENT"),
    ("cached", "CACHED"),
    ("repeats", "REPEATS"),
    ("since", "REPEATS_SINCE"),
    ("reason", "REASON"),
];

/// The keys of a record that stands for no repeats.
fn plain_keys() -> Vec<&'static str> {
    KEYS.iter()
        .map(|(k, _)| *k)
        .filter(|k| !matches!(*k, "repeats" | "since"))
        .collect()
}

/// A socket of the test's own at `<dir>/socket` that speaks journald's native protocol, and
/// `<dir>/dev-log`, standing for journald's syslog socket.
struct Journal {
    rx: UnixDatagram,
    dev_log: UnixDatagram,
    dir: Scratch,
}

type Entry = HashMap<String, String>;

impl Journal {
    fn new(name: &str) -> Journal {
        let dir = Scratch::new(&format!("journal-{name}-{}", unique()));
        let rx = UnixDatagram::bind(dir.path().join("socket")).unwrap();
        let dev_log = UnixDatagram::bind(dir.path().join("dev-log")).unwrap();
        for s in [&rx, &dev_log] {
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
        }
        Journal { rx, dev_log, dir }
    }

    fn socket(&self) -> String {
        self.dir.path().join("socket").display().to_string()
    }

    fn dev_log(&self) -> String {
        self.dir.path().join("dev-log").display().to_string()
    }

    /// The entries received so far, each datagram parsed.
    fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = self.rx.recv(&mut buf) {
            let fields = journal::decode(&buf[..n]).expect("a well-formed datagram");
            let mut e = Entry::new();
            for (k, v) in fields {
                assert!(e.insert(k.clone(), v).is_none(), "{k} twice");
            }
            out.push(e);
        }
        out
    }

    /// How many syslog lines reached `dev-log`.
    fn syslog_lines(&self) -> usize {
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0;
        while self.dev_log.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    }
}

/// Checks that an entry's `MESSAGE` (the syslog line) holds the keys in their order, with the
/// values its journal fields hold, and returns the entry.
fn consistent(e: &Entry) -> &Entry {
    let line = &e["MESSAGE"];
    let pairs = parse_fields(line);
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let want: Vec<&str> = KEYS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !matches!(*k, "repeats" | "since") || e.contains_key("REPEATS"))
        .collect();
    assert_eq!(keys, want, "{line}");
    for (k, v) in &pairs {
        let field = KEYS.iter().find(|(key, _)| key == k).unwrap().1;
        match e.get(field) {
            Some(j) => assert_eq!(j, v, "{field} in {line}"),
            None => assert_eq!(v, "-", "{field} missing for {line}"),
        }
    }
    assert_eq!(e["SYSLOG_IDENTIFIER"], "oci-signature-hook");
    assert_eq!(e["SYSLOG_FACILITY"], "4");
    let priority = if e["VERDICT"] == "allow" { "6" } else { "4" };
    assert_eq!(e["PRIORITY"], priority, "{line}");
    e
}

/// A hooks directory under `dir` whose hook records to `journal` (and to `<dir>/nothing` for
/// syslog), keeps its state in `<dir>/state`, and takes `extra` arguments.
fn hooks(dir: &Scratch, journal: &Journal, policy: &Path, extra: &[&str]) -> PathBuf {
    let state = dir.path().join("state");
    let mut args: Vec<String> = vec![
        hook_path().into(),
        "--policy".into(),
        policy.display().to_string(),
        "--journal-socket".into(),
        journal.socket(),
        "--syslog-socket".into(),
        dir.path().join("nothing").display().to_string(),
        "--log-file".into(),
        dir.path().join("records.log").display().to_string(),
        "--cache-dir".into(),
        state.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    hooks_dir(dir.path(), &args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A config file for the hook, root-owned and 0644 as the hook requires.
fn config(dir: &Scratch, text: &str) -> PathBuf {
    let conf = dir.file("hook.conf", text);
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    conf
}

#[test]
fn a_podman_start_records_every_field_in_the_journal_and_the_line() {
    let lab = lab();
    let dir = Scratch::new("records-podman");
    let j = Journal::new("podman");
    let policy = dir.file("policy.json", lab.expand(TRUSTED));
    let hooks = hooks(&dir, &j, &policy, &[]);
    let start = |image: &str| {
        let name = format!("osh-records-{}-{}", std::process::id(), unique());
        let create = lab
            .podman()
            .args(["create", "--name", &name, image, "true"])
            .output()
            .unwrap();
        assert!(create.status.success(), "{}", text(&create));
        let id = String::from_utf8_lossy(&create.stdout).trim().to_string();
        let out = lab
            .podman()
            .arg("--hooks-dir")
            .arg(&hooks)
            .args(["start", "-a", &name])
            .output()
            .unwrap();
        let _ = lab.podman().args(["rm", "-f", &name]).output();
        (name, id, out.status.success())
    };
    let signed = lab.image("signed");
    let unsigned = lab.image("unsigned");
    let runs = [
        (start(&signed), "allow", &signed, "SIGNED", "no"),
        (start(&signed), "allow", &signed, "SIGNED", "yes"),
        (start(&unsigned), "deny", &unsigned, "UNSIGNED", "no"),
    ];
    let entries = j.entries();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(j.syslog_lines(), 0);
    for (((name, id, started), verdict, image, kind, cached), e) in runs.iter().zip(&entries) {
        assert_eq!(*started, *verdict == "allow", "{e:?}");
        let e = consistent(e);
        let expect = [
            ("VERDICT", verdict.to_string()),
            ("CONTAINER_ID", id.clone()),
            ("CONTAINER_NAME", name.clone()),
            ("ENGINE", "podman".into()),
            ("INVOKER_UID", "0".into()),
            ("ROOTLESS", "no".into()),
            ("IMAGE", image.to_string()),
            ("IMAGE_ID", lab.get(&format!("IMAGE_ID_{kind}")).into()),
            ("MANIFEST_DIGEST", lab.get(&format!("DIGEST_{kind}")).into()),
            ("POLICY", policy.display().to_string()),
            ("SCOPE", "default".into()),
            ("REQUIREMENT", "signedBy".into()),
            ("CACHED", cached.to_string()),
        ];
        for (k, v) in expect {
            assert_eq!(e.get(k), Some(&v), "{k} in {e:?}");
        }
        assert!(!e.contains_key("REPEATS"), "{e:?}");
        let reason = &e["REASON"];
        match (*verdict, *cached) {
            ("allow", "no") => assert_eq!(reason, "every requirement is satisfied"),
            ("allow", _) => assert!(reason.contains("(cached verdict)"), "{reason}"),
            _ => assert!(
                reason.starts_with("signedBy: no signature exists"),
                "{reason}"
            ),
        }
    }
    // The journal took every record: the file was not needed.
    assert!(!dir.path().join("records.log").exists());
}

#[test]
fn a_crio_start_records_the_engine_from_where_its_bundle_is() {
    let lab = lab();
    let dir = Scratch::new("records-crio");
    let j = Journal::new("crio");
    let policy = dir.file("policy.json", lab.expand(TRUSTED));
    let (id, _) = lab.container(&lab.image("signed"));
    let state = crate::crio::crio_state(&lab.image("signed"), |_| {});
    let out = run_hook_env(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--journal-socket",
            &j.socket(),
            "--syslog-socket",
            "/nonexistent/log",
            "--cache-dir",
            dir.path().join("state").to_str().unwrap(),
            "--no-cache",
        ],
        state.as_bytes(),
        dir.path(),
        &[(
            "CONTAINERS_STORAGE_CONF",
            lab.get("CONTAINERS_STORAGE_CONF"),
        )],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let entries = j.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = consistent(&entries[0]);
    for (k, v) in [
        ("VERDICT", "allow"),
        ("CONTAINER_ID", id.as_str()),
        ("ENGINE", "cri-o"),
        ("INVOKER_UID", "0"),
        ("ROOTLESS", "no"),
        ("IMAGE_ID", lab.get("IMAGE_ID_SIGNED")),
        ("MANIFEST_DIGEST", lab.get("DIGEST_SIGNED")),
        ("REQUIREMENT", "signedBy"),
        ("CACHED", "no"),
    ] {
        assert_eq!(e.get(k).map(String::as_str), Some(v), "{k} in {e:?}");
    }
    assert_eq!(e["IMAGE"], lab.image("signed"));
    assert!(!e["CONTAINER_NAME"].is_empty());
}

#[test]
fn a_build_step_records_buildah_its_working_container_and_base_image() {
    let lab = lab();
    let dir = Scratch::new("records-build");
    let j = Journal::new("build");
    let policy = dir.file("policy.json", lab.expand(TRUSTED));
    let hooks = hooks(&dir, &j, &policy, &[]);
    let mut entries = Vec::new();
    for (base, ok) in [("signed", true), ("unsigned", false)] {
        let ctx = dir.path().join(format!("ctx-{base}"));
        std::fs::create_dir(&ctx).unwrap();
        std::fs::write(
            ctx.join("Containerfile"),
            format!("FROM {}\nRUN true\n", lab.image(base)),
        )
        .unwrap();
        let tag = format!("localhost/records-build:{}", unique());
        let out = lab
            .podman()
            .args(["build", "--no-cache", "--hooks-dir"])
            .arg(&hooks)
            .args(["-t", &tag])
            .arg(&ctx)
            .output()
            .unwrap();
        let _ = lab.podman().args(["rmi", "-f", &tag]).output();
        assert_eq!(out.status.success(), ok, "{}", text(&out));
        let got = j.entries();
        assert_eq!(got.len(), 1, "one RUN step: {got:?}");
        entries.extend(got.into_iter().map(|e| (base, e)));
    }
    for (base, e) in &entries {
        let e = consistent(e);
        let kind = base.to_uppercase();
        let verdict = if *base == "signed" { "allow" } else { "deny" };
        assert_eq!(e["VERDICT"], verdict);
        assert_eq!(e["ENGINE"], "buildah");
        assert!(e["CONTAINER_NAME"].ends_with("-working-container"), "{e:?}");
        assert!(!e["CONTAINER_ID"].is_empty());
        assert_eq!(e["IMAGE"], lab.image(base));
        assert_eq!(e["IMAGE_ID"], lab.get(&format!("IMAGE_ID_{kind}")));
        assert_eq!(e["MANIFEST_DIGEST"], lab.get(&format!("DIGEST_{kind}")));
        assert_eq!(e["REQUIREMENT"], "signedBy");
        assert_eq!(e["INVOKER_UID"], "0");
        assert_eq!(e["ROOTLESS"], "no");
    }
}

#[test]
fn the_journal_gets_each_record_once_and_another_syslog_gets_it_too() {
    let lab = lab();
    let dir = Scratch::new("records-once");
    let j = Journal::new("once");
    let policy = dir.file("policy.json", lab.expand(TRUSTED));
    let (_, state) = lab.container(&lab.image("unsigned"));
    let other = dir.path().join("rsyslog");
    let other_rx = UnixDatagram::bind(&other).unwrap();
    other_rx
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let link = dir.path().join("log");
    std::os::unix::fs::symlink(j.dev_log(), &link).unwrap();
    let run = |syslog: &str| {
        let state_dir = dir.path().join(format!("state-{}", unique()));
        run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--journal-socket",
                &j.socket(),
                "--syslog-socket",
                syslog,
                "--cache-dir",
                state_dir.to_str().unwrap(),
                "--no-cache",
            ],
            state.as_bytes(),
            dir.path(),
        )
    };
    // journald's own syslog socket, by its path or through a link as /dev/log is: skipped.
    for syslog in [j.dev_log(), link.display().to_string()] {
        let out = run(&syslog);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            !text(&out).contains("audit record not written"),
            "{}",
            text(&out)
        );
        assert_eq!(j.entries().len(), 1);
        assert_eq!(j.syslog_lines(), 0, "{syslog}");
    }
    // Another syslog daemon's socket gets the line as well.
    let out = run(other.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(j.entries().len(), 1);
    let mut buf = vec![0u8; 1 << 16];
    let n = other_rx.recv(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]);
    assert!(line.contains("verdict=deny container="), "{line}");
}

#[test]
fn with_no_socket_records_go_to_a_private_bounded_file() {
    let lab = lab();
    let dir = Scratch::new("records-file");
    let accept = dir.file(
        "accept.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    let reject = dir.file("reject.json", r#"{"default":[{"type":"reject"}]}"#);
    let conf = config(&dir, "log_file_max_bytes = 2048\nrepeat_window = 0\n");
    let file = dir.path().join("log/records.log");
    std::fs::create_dir(dir.path().join("log")).unwrap();
    let (_, state) = lab.container(&lab.image("unsigned"));
    let run = |policy: &Path, mode: &str| {
        run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--mode",
                mode,
                "--config",
                conf.to_str().unwrap(),
                "--journal-socket",
                "/nonexistent/journal",
                "--syslog-socket",
                "/nonexistent/log",
                "--log-file",
                file.to_str().unwrap(),
                "--cache-dir",
                dir.path().join("state").to_str().unwrap(),
                "--no-cache",
            ],
            state.as_bytes(),
            dir.path(),
        )
    };
    // An allow and a warn-mode would-deny, which nothing else would have recorded.
    for (policy, want) in [
        (&accept, "verdict=allow "),
        (&reject, "verdict=would-deny "),
    ] {
        let out = run(policy, "warn");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            !text(&out).contains("audit record not written"),
            "{}",
            text(&out)
        );
        let written = std::fs::read_to_string(&file).unwrap();
        let last = written.lines().last().unwrap();
        // `2024-05-01T12:00:00Z oci-signature-hook[PID]: verdict=...`
        let (stamp, rest) = last.split_once(' ').unwrap();
        assert_eq!(stamp.len(), 20, "{last}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{last}"
        );
        let (ident, record) = rest.split_once(": ").unwrap();
        assert!(ident.starts_with("oci-signature-hook["), "{last}");
        assert!(record.starts_with(want), "{last}");
        let keys: Vec<String> = parse_fields(record).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, plain_keys(), "{last}");
    }
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // Past 2048 bytes, rotated once to .1: the two never hold more than twice that.
    for _ in 0..12 {
        assert_eq!(run(&reject, "enforce").status.code(), Some(1));
    }
    let rotated = dir.path().join("log/records.log.1");
    assert!(rotated.exists());
    assert!(std::fs::metadata(&file).unwrap().len() <= 2048);
    assert!(std::fs::metadata(&rotated).unwrap().len() <= 2048);
    let lines =
        std::fs::read_to_string(&file).unwrap() + &std::fs::read_to_string(&rotated).unwrap();
    assert!(lines.lines().all(|l| l.contains(": verdict=")), "{lines}");
    let left = std::fs::read_dir(dir.path().join("log")).unwrap().count();
    assert_eq!(left, 2);
}

#[test]
fn repeated_starts_of_a_denied_container_are_counted_not_logged() {
    let lab = lab();
    let dir = Scratch::new("records-repeats");
    let j = Journal::new("repeats");
    let policy = dir.file("policy.json", lab.expand(TRUSTED));
    let conf = config(&dir, "repeat_window = 3\n");
    let hooks = hooks(&dir, &j, &policy, &["--config", conf.to_str().unwrap()]);
    let name = format!("osh-records-loop-{}", std::process::id());
    let create = lab
        .podman()
        .args(["create", "--name", &name, &lab.image("unsigned"), "true"])
        .output()
        .unwrap();
    assert!(create.status.success(), "{}", text(&create));
    let start = || {
        let out = lab
            .podman()
            .arg("--hooks-dir")
            .arg(&hooks)
            .args(["start", &name])
            .output()
            .unwrap();
        assert!(!out.status.success(), "a denied image started");
    };
    let began = Instant::now();
    let mut starts = 0u64;
    while began.elapsed() < Duration::from_secs(10) {
        start();
        starts += 1;
    }
    let why = std::process::Command::new(hook_path())
        .args(["why", "--cache-dir"])
        .arg(dir.path().join("state"))
        .arg(&name)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&why.stdout).into_owned();
    assert_eq!(why.status.code(), Some(1), "{said}");
    let pending: u64 = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("pending: "))
        .and_then(|l| l.split(' ').next())
        .map(|n| n.parse().unwrap())
        .unwrap_or(0);
    // Past the window, the next start's record carries the count.
    std::thread::sleep(Duration::from_millis(3100));
    start();
    starts += 1;
    let _ = lab.podman().args(["rm", "-f", &name]).output();
    let entries = j.entries();
    let stood_for: u64 = entries
        .iter()
        .map(|e| {
            let e = consistent(e);
            assert_eq!(e["VERDICT"], "deny");
            1 + e.get("REPEATS").map_or(0, |n| n.parse::<u64>().unwrap())
        })
        .sum();
    eprintln!(
        "restart loop: {starts} denied starts, {} records, {pending} pending before the last",
        entries.len()
    );
    assert!(starts >= 10, "only {starts} starts in 10 s");
    assert!(
        entries.len() <= 6,
        "{} records for {starts} starts",
        entries.len()
    );
    assert_eq!(stood_for, starts, "every start is in a record or a count");
    assert!(pending > 0, "{said}");
    let last = entries.last().unwrap();
    assert_eq!(last.get("REPEATS"), Some(&pending.to_string()), "{last:?}");
    assert!(
        !entries[0].contains_key("REPEATS"),
        "the first is written as it is"
    );
}

#[test]
fn unreachable_destinations_keep_the_verdict_and_say_so_once() {
    let lab = lab();
    let dir = Scratch::new("no-syslog");
    let accept = dir.file(
        "accept.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    let reject = dir.file("reject.json", r#"{"default":[{"type":"reject"}]}"#);
    let (_, state) = lab.container(&lab.image("signed"));
    let socket = dir.path().join("no-such-socket");
    for (policy, code) in [(&accept, 0), (&reject, 1)] {
        // No journal, no syslog, and a file that is not one (run_hook's /dev/null).
        let out = run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--journal-socket",
                "/nonexistent/journal",
                "--syslog-socket",
                socket.to_str().unwrap(),
            ],
            state.as_bytes(),
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(code));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches("audit record not written").count(), 1, "{err}");
        assert!(err.contains("there is no syslog socket"), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
        // A deny's reason is the first line, before the note about syslog.
        if code == 1 {
            assert!(
                err.lines()
                    .next()
                    .unwrap()
                    .starts_with("oci-signature-hook: blocked container start"),
                "{err}"
            );
        }
    }
}

/// A real rsyslogd listening on a socket of the test's own, writing what it receives to a file.
struct Rsyslogd {
    child: std::process::Child,
    dir: Scratch,
}

impl Rsyslogd {
    fn start() -> Rsyslogd {
        let dir = Scratch::new("rsyslogd");
        let d = dir.path().display();
        let conf = dir.file(
            "rsyslog.conf",
            format!(
                r#"global(workDirectory="{d}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{d}/log")
template(name="plain" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname% %msg%\n")
*.* action(type="omfile" file="{d}/out.log" template="plain")
"#
            ),
        );
        let child = std::process::Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("pid"))
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if dir.path().join("log").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            dir.path().join("log").exists(),
            "rsyslogd did not create its socket"
        );
        Rsyslogd { child, dir }
    }

    fn socket(&self) -> String {
        self.dir.path().join("log").to_string_lossy().into_owned()
    }

    /// The lines written so far, once there are at least `n`.
    fn lines(&self, n: usize) -> Vec<String> {
        let out = self.dir.path().join("out.log");
        for _ in 0..100 {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= n {
                return lines;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("rsyslogd wrote fewer than {n} lines");
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn rsyslogd_gets_one_parsable_record_per_decision() {
    let lab = lab();
    let syslog = Rsyslogd::start();
    let dir = Scratch::new("rsyslog-policies");
    let accept = dir.file(
        "accept.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    let trusted = dir.file(
        "trusted.json",
        lab.expand(r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#),
    );
    let (signed_id, signed) = lab.container(&lab.image("signed"));
    let (unsigned_id, unsigned) = lab.container(&lab.image("unsigned"));
    let socket = syslog.socket();
    for (policy, state, code) in [
        (&trusted, &signed, 0),
        (&trusted, &unsigned, 1),
        (&accept, &unsigned, 0),
    ] {
        let out = run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--journal-socket",
                "/nonexistent/journal",
                "--syslog-socket",
                &socket,
            ],
            state.as_bytes(),
            dir.path(),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains("audit record not written"));
    }
    let lines = syslog.lines(3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let fields =
        |line: &str| -> Vec<(String, String)> { parse_fields(line.splitn(3, ' ').nth(2).unwrap()) };
    let expect = [
        ("auth.info", "allow", &signed_id, "IMAGE_ID_SIGNED"),
        ("auth.warning", "deny", &unsigned_id, "IMAGE_ID_UNSIGNED"),
        ("auth.info", "allow", &unsigned_id, "IMAGE_ID_UNSIGNED"),
    ];
    for (line, (prio, verdict, container, image_id)) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(&format!("{prio} oci-signature-hook ")),
            "{line}"
        );
        let f = fields(line);
        let keys: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, plain_keys(), "{line}");
        let get = |k: &str| &f.iter().find(|(key, _)| key == k).unwrap().1;
        assert_eq!(get("verdict"), verdict);
        assert_eq!(get("container"), container);
        assert_eq!(get("image_id"), &lab.get(image_id));
        // The container's name is podman's, never empty for a podman container.
        assert!(!get("name").is_empty() && get("name") != "-", "{line}");
        assert!(!get("reason").is_empty() && get("reason") != "-", "{line}");
    }
}

/// Splits `k=v k="v w" …` as a log tool would (double quotes with `\` escapes).
fn parse_fields(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.trim().chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
            chars.next();
        } else {
            val = chars.by_ref().take_while(|c| *c != ' ').collect();
        }
        out.push((key, val));
    }
    out
}
