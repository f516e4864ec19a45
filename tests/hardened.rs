//! Hostile storage, injected faults and least privilege: every one ends in a deny with a reason
//! (unless the policy accepts anything), never an allow, a panic or a hang.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{hook_path, hook_verdict, lab, run_hook, store_copy, HookResult, Scratch};

const ACCEPT: &str = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;

fn trusted(dir: &Scratch) -> PathBuf {
    dir.file(
        "trusted.json",
        lab().expand(
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#,
        ),
    )
}

fn denied(r: &HookResult, reason: &str) {
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("blocked container start"))
        .unwrap_or_else(|| panic!("no reason line: {}", r.stderr));
    assert!(line.contains(reason), "expected {reason:?} in: {line}");
    // In the test log (`--nocapture`): what an admin would read for this attack.
    println!("{line}");
}

fn images_dir(root: &Path) -> PathBuf {
    root.join(format!("{}-images", lab().get("DRIVER")))
}

fn image_dir(root: &Path) -> PathBuf {
    images_dir(root).join(lab().get("IMAGE_ID_SIGNED"))
}

/// Holds a write lock (fcntl, as containers/storage takes it) on `path` until dropped.
struct WriteLock(Child);

impl WriteLock {
    fn hold(path: &Path) -> WriteLock {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import fcntl,sys,time\nf=open(sys.argv[1],'a+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(120)",
            ])
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        WriteLock(child)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile storage
// ---------------------------------------------------------------------------------------------

#[test]
fn a_big_data_file_that_links_out_of_the_store_is_refused() {
    let dir = Scratch::new("hostile-symlink");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    assert!(hook_verdict(&policy, &state).allowed());
    // The signatures replaced by a link to a file outside the store with the same bytes.
    let sigs = image_dir(&root).join("signatures");
    let outside = dir.path().join("outside");
    std::fs::copy(&sigs, &outside).unwrap();
    std::fs::remove_file(&sigs).unwrap();
    std::os::unix::fs::symlink(&outside, &sigs).unwrap();
    denied(&hook_verdict(&policy, &state), "cannot read \"signatures\"");
    // The whole image directory as a link.
    std::fs::remove_file(&sigs).unwrap();
    std::fs::copy(&outside, &sigs).unwrap();
    let moved = dir.path().join("moved-image");
    std::fs::rename(image_dir(&root), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, image_dir(&root)).unwrap();
    denied(&hook_verdict(&policy, &state), "cannot read");
}

#[test]
fn an_oversized_file_is_refused_without_reading_it_all() {
    let dir = Scratch::new("hostile-big");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    // A sparse 8 GiB manifest: reading it whole would take minutes and all memory.
    let manifest = image_dir(&root).join("manifest");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&manifest)
        .unwrap();
    f.set_len(8 << 30).unwrap();
    denied(&hook_verdict(&policy, &state), "larger than");
}

#[test]
fn a_non_utf8_name_is_refused() {
    let dir = Scratch::new("hostile-utf8");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    let images = images_dir(&root).join("images.json");
    let text = std::fs::read(&images).unwrap();
    let name = format!("{}/lab/signed:v1", lab().get("REGISTRY"));
    let at = text
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .unwrap();
    let mut bad = text.clone();
    bad[at + name.len() - 2] = 0xff;
    std::fs::write(&images, &bad).unwrap();
    denied(&hook_verdict(&policy, &state), "cannot parse");
}

/// Rewrites the creation name of the containers made from the lab's signed image in `root`.
fn set_creation_name(root: &Path, name: &str) {
    let lab = lab();
    let path = root.join(format!("{}-containers/containers.json", lab.get("DRIVER")));
    let text = std::fs::read_to_string(&path).unwrap();
    // The metadata is itself a JSON string inside the record, so its quotes are escaped.
    assert!(!name.contains(['"', '\\']), "{name}");
    let old = format!(r#"\"image-name\":\"{}\""#, lab.image("signed"));
    assert!(text.contains(&old), "no {old} in {}", path.display());
    let new = format!(r#"\"image-name\":\"{name}\""#);
    std::fs::write(&path, text.replace(&old, &new)).unwrap();
}

#[test]
fn a_creation_name_with_a_tag_and_a_digest_is_checked_by_its_digest() {
    // CRI-O records the name as the user wrote it; podman pulls `name:tag@digest` as
    // `name@digest`, and that is the reference the policy and the identity rules see.
    let lab = lab();
    let dir = Scratch::new("name-tag-digest");
    let (root, state) = store_copy(&dir);
    let digest = lab.get("DIGEST_SIGNED");
    let repo = format!("{}/lab/signed", lab.get("REGISTRY"));
    set_creation_name(&root, &format!("{repo}:v1@{digest}"));
    // The signature claims `…/signed:v1`; for a digested reference, the repository must match.
    let r = hook_verdict(&trusted(&dir), &state);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // The scope of the digested reference wins over the repository's.
    let policy = dir.file(
        "scoped.json",
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{repo}@{digest}":[{{"type":"reject"}}],"{repo}":[{{"type":"insecureAcceptAnything"}}]}}}}}}"#
        ),
    );
    denied(&hook_verdict(&policy, &state), "reject");
}

#[test]
fn a_creation_name_that_is_not_a_reference_denies() {
    let dir = Scratch::new("name-invalid");
    let (root, state) = store_copy(&dir);
    set_creation_name(&root, "Not A Reference");
    denied(
        &hook_verdict(&trusted(&dir), &state),
        "which is not an image reference",
    );
    let accept = dir.file("accept.json", ACCEPT);
    let r = hook_verdict(&accept, &state);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

#[test]
fn duplicate_names_across_images_do_not_lend_signatures() {
    let dir = Scratch::new("hostile-dup");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    // Another image record claims the signed image's name and its signatures' sizes, but it is
    // not the container's image: the container's own image is what is judged.
    let images = images_dir(&root).join("images.json");
    let list: serde_json::Value = serde_json::from_slice(&std::fs::read(&images).unwrap()).unwrap();
    let mut records = list.as_array().unwrap().clone();
    let signed_id = lab().get("IMAGE_ID_SIGNED");
    let signed = records
        .iter()
        .find(|r| r["id"] == signed_id)
        .unwrap()
        .clone();
    // The container now points at an unsigned image that shares the signed one's name.
    let unsigned_id = "d".repeat(64);
    let mut fake = signed.clone();
    fake["id"] = unsigned_id.clone().into();
    fake["metadata"] = "{}".into();
    records.push(fake);
    std::fs::write(&images, serde_json::to_vec(&records).unwrap()).unwrap();
    let containers = root.join(format!(
        "{}-containers/containers.json",
        lab().get("DRIVER")
    ));
    let text = std::fs::read_to_string(&containers)
        .unwrap()
        .replace(signed_id, &unsigned_id);
    std::fs::write(&containers, text).unwrap();
    let fake_dir = images_dir(&root).join(&unsigned_id);
    std::fs::create_dir_all(&fake_dir).unwrap();
    std::fs::copy(image_dir(&root).join("manifest"), fake_dir.join("manifest")).unwrap();
    // Its manifest names the signed image's config, not this image ID.
    denied(
        &hook_verdict(&policy, &state),
        "the manifest's config digest",
    );
}

#[test]
fn a_manifest_swapped_after_signing_is_refused() {
    let dir = Scratch::new("hostile-swap");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    // The same config (so the image ID still matches), but a changed manifest: whitespace is
    // enough to change its digest, which the signature names.
    let manifest = image_dir(&root).join("manifest");
    let mut m = std::fs::read(&manifest).unwrap();
    m.push(b'\n');
    std::fs::write(&manifest, &m).unwrap();
    denied(
        &hook_verdict(&policy, &state),
        "not for this image's manifest",
    );
}

#[test]
fn signature_sizes_that_disagree_with_the_blob_are_refused() {
    let dir = Scratch::new("hostile-sizes");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    let sigs = image_dir(&root).join("signatures");
    let mut blob = std::fs::read(&sigs).unwrap();
    blob.extend_from_slice(b"extra");
    std::fs::write(&sigs, &blob).unwrap();
    denied(
        &hook_verdict(&policy, &state),
        "more than their recorded sizes",
    );
}

// ---------------------------------------------------------------------------------------------
// Injected faults
// ---------------------------------------------------------------------------------------------

/// The hook in a mount namespace of its own where `paths` are hidden behind /dev/null.
fn hook_without(paths: &[&str], policy: &Path, state: &str, tmp: &Path) -> HookResult {
    let mut script = String::new();
    for p in paths {
        script.push_str(&format!("mount --bind /dev/null {p} && "));
    }
    script.push_str("exec \"$@\"");
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ])
        .arg(hook_path())
        .args([
            "--no-cache",
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
            "--policy",
        ])
        .arg(policy)
        .env("TMPDIR", tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(state.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    HookResult {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn no_gpg_binary_denies_unless_the_policy_accepts_anything() {
    let lab = lab();
    let dir = Scratch::new("fault-gpg");
    let (_, state) = lab.container(&lab.image("signed"));
    let hidden = ["/usr/bin/gpg", "/usr/bin/gpgconf"];
    let r = hook_without(&hidden, &trusted(&dir), &state, dir.path());
    denied(&r, "signedBy: gpgme cannot use gpg (is gnupg installed");
    let accept = dir.file("accept.json", ACCEPT);
    let r = hook_without(&hidden, &accept, &state, dir.path());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

#[test]
fn an_unwritable_temp_dir_denies() {
    let lab = lab();
    let dir = Scratch::new("fault-tmp");
    let (_, state) = lab.container(&lab.image("signed"));
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let out = run_hook(
        &[
            "--policy",
            trusted(&dir).to_str().unwrap(),
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
        ],
        state.as_bytes(),
        &ro,
    );
    let r = HookResult {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // Root could write there with CAP_DAC_OVERRIDE; the hook has given it up.
    denied(&r, "cannot create a temporary GnuPG home");
}

#[test]
fn roots_policy_is_read_with_roots_rights_and_a_policy_that_is_no_file_denies() {
    let lab = lab();
    let dir = Scratch::new("fault-policy");
    let (_, state) = lab.container(&lab.image("signed"));
    // As podman pull reads it: root reads a policy only root could read, mode 0000 included,
    // before the hook gives up its capabilities.
    let policy = dir.file("policy.json", ACCEPT);
    std::fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    assert_eq!(hook_verdict(&policy, &state).code, Some(0));
    // A directory is no policy, whatever the rights.
    let r = hook_verdict(dir.path(), &state);
    denied(&r, "is not a regular file (a directory)");
}

#[test]
fn a_syslog_that_stops_reading_does_not_stall_starts() {
    use std::os::unix::net::UnixDatagram;
    let lab = lab();
    let dir = Scratch::new("fault-syslog-stall");
    let (_, state) = lab.container(&lab.image("signed"));
    let policy = trusted(&dir);
    let socket = dir.path().join("log");
    // Bound, never read: its queue fills after a few records, and then a send would block.
    let _receiver = UnixDatagram::bind(&socket).unwrap();
    let mut stalled = 0;
    for _ in 0..16 {
        let out = run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--syslog-socket",
                socket.to_str().unwrap(),
                "--log-file",
                "/dev/null",
            ],
            state.as_bytes(),
            dir.path(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        if err.contains("did not take the record within") {
            stalled += 1;
        }
        if stalled == 2 {
            break;
        }
    }
    assert_eq!(stalled, 2, "the queue never filled");
}

/// Starts the hook on `state` in the background.
fn spawn_hook(policy: &Path, state: &str, args: &[&str], tmp: &Path) -> Child {
    let mut child = Command::new(hook_path())
        .args([
            "--no-cache",
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
            "--policy",
        ])
        .arg(policy)
        .args(args)
        .env("TMPDIR", tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(state.as_bytes())
        .unwrap();
    child
}

fn status_field(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn a_write_lock_held_too_long_denies_within_the_timeout() {
    let dir = Scratch::new("fault-lock");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    let _lock = WriteLock::hold(&images_dir(&root).join("images.lock"));
    let start = Instant::now();
    let out = spawn_hook(&policy, &state, &["--timeout", "1"], dir.path())
        .wait_with_output()
        .unwrap();
    let r = HookResult {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    denied(&r, "stayed locked for writing");
    // Bounded: the deadline, not the lock holder, decides (a generous bound, not a benchmark).
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn every_privilege_is_given_up_before_the_store_is_read() {
    let dir = Scratch::new("least-privilege");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    // The hook waits for this lock after it has read the state and the policy, and before it
    // reads the image: the moment to look at its credentials.
    let lock = WriteLock::hold(&images_dir(&root).join("images.lock"));
    let child = spawn_hook(&policy, &state, &["--timeout", "20"], dir.path());
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_field(pid, "NoNewPrivs") != "1" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    // Capabilities belong to each thread: every thread of the hook (its watchdog too) holds none.
    let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .map(|t| t.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(tasks.len() >= 2, "no watchdog thread: {tasks:?}");
    for task in &tasks {
        let status = |field: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{task}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("{field}:"))
                        .map(|v| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        for field in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(
                status(field),
                "0000000000000000",
                "{field} of thread {task} of the waiting hook"
            );
        }
        assert_eq!(status("NoNewPrivs"), "1", "thread {task}");
    }
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn fifty_concurrent_podman_runs_each_get_the_right_verdict() {
    use std::os::unix::net::UnixDatagram;
    let lab = lab();
    let dir = Scratch::new("concurrent");
    let policy = trusted(&dir);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let socket = dir.path().join("log");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // A syslog daemon reads as records come.
    let reader = std::thread::spawn(move || {
        let mut records = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = receiver.recv(&mut buf) {
            records.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        records
    });
    // One shared verdict cache: concurrent misses race to write the same entry.
    let cache = dir.path().join("cache");
    let hook = serde_json::json!({
        "version": "1.0.0",
        "hook": {
            "path": hook_path(),
            "args": [hook_path(), "--policy", policy, "--syslog-socket", socket,
                     "--cache-dir", cache],
            "env": [format!("TMPDIR={}", tmp.display())],
            "timeout": 60,
        },
        "when": {"always": true},
        "stages": ["prestart"],
    });
    std::fs::create_dir(dir.path().join("hooks.d")).unwrap();
    let hooks = dir.path().join("hooks.d");
    dir.file("hooks.d/oci-signature-hook.json", hook.to_string());

    let runs: Vec<(bool, std::thread::JoinHandle<std::process::Output>)> = (0..50)
        .map(|i| {
            let signed = i % 2 == 0;
            let image = lab.image(if signed { "signed" } else { "unsigned" });
            let hooks = hooks.clone();
            let handle = std::thread::spawn(move || {
                crate::common::lab()
                    .podman()
                    .arg("--hooks-dir")
                    .arg(&hooks)
                    .args(["run", "--rm", &image, "echo", "started"])
                    .output()
                    .unwrap()
            });
            (signed, handle)
        })
        .collect();
    let mut wrong = Vec::new();
    for (i, (signed, handle)) in runs.into_iter().enumerate() {
        let out = handle.join().unwrap();
        let started =
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if started != signed || (!signed && !stderr.contains("blocked container start")) {
            wrong.push(format!("run {i} (signed: {signed}): {stderr}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // One complete record per start.
    let records = reader.join().unwrap();
    assert_eq!(records.len(), 50, "{records:#?}");
    let keys = [
        "verdict=",
        " container=",
        " image=",
        " image_id=",
        " manifest_digest=",
        " policy=",
        " scope=",
        " reason=",
    ];
    for r in &records {
        let mut at = 0;
        for k in keys {
            let i = r[at..]
                .find(k)
                .unwrap_or_else(|| panic!("{k} missing or out of order in {r}"));
            at += i + k.len();
        }
    }
    let allows = records
        .iter()
        .filter(|r| r.contains("verdict=allow"))
        .count();
    let denies = records
        .iter()
        .filter(|r| r.contains("verdict=deny"))
        .count();
    assert_eq!((allows, denies), (25, 25));
    let mut containers: Vec<&str> = records
        .iter()
        .filter_map(|r| r.split(" container=").nth(1)?.split(' ').next())
        .collect();
    containers.sort();
    containers.dedup();
    assert_eq!(
        containers.len(),
        50,
        "a container judged twice or not at all"
    );
    // Nothing left behind: no temporary GnuPG home, no gpg process, one intact cache entry.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    assert!(crate::common::agents_under(&tmp).is_empty());
    let gpg_left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("gpg") && c.contains(&*tmp.to_string_lossy()))
        .collect();
    assert!(gpg_left.is_empty(), "{gpg_left:?}");
    // One cache entry (beside the decisions directory, which holds one file per container).
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
}

// ---------------------------------------------------------------------------------------------
// Files that are not regular files
// ---------------------------------------------------------------------------------------------

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success(), "mkfifo {path:?}");
}

/// Runs the hook with `args` (after `--syslog-socket /nonexistent/log --timeout 3`, unless it is
/// `why`) and `env` on
/// `state`, killing it if it is still running after 20 s; the result and how long it took, which
/// must be under 5 s (a generous bound on a hook that must not wait on a FIFO at all).
fn bounded(args: &[&str], env: &[(&str, &str)], state: &str, what: &str) -> HookResult {
    let tmp = Scratch::new(&format!("fifo-tmp-{}", crate::common::unique()));
    let start = Instant::now();
    let hook_flags: &[&str] = if args.first() == Some(&"why") {
        &[]
    } else {
        &[
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
            "--timeout",
            "3",
        ]
    };
    let mut child = Command::new(hook_path())
        .args(hook_flags)
        .args(args)
        .env("TMPDIR", tmp.path())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(state.as_bytes());
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the hook was still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    let out = child.wait_with_output().unwrap();
    let r = HookResult {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    println!("{what}: {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "{what}: took {took:?}: {}",
        r.stderr
    );
    r
}

/// A FIFO at each of a store's files: a deny naming the file, at once.
#[test]
fn a_fifo_in_place_of_a_store_file_denies_at_once() {
    let driver = lab().get("DRIVER");
    let cases = [
        ("manifest", image_dir as fn(&Path) -> PathBuf),
        ("images.lock", images_dir),
        ("images.json", images_dir),
        ("containers.lock", |root: &Path| {
            root.join(format!("{}-containers", lab().get("DRIVER")))
        }),
        ("containers.json", |root: &Path| {
            root.join(format!("{}-containers", lab().get("DRIVER")))
        }),
    ];
    for (name, dir_of) in cases {
        let dir = Scratch::new(&format!("fifo-store-{name}"));
        let (root, state) = store_copy(&dir);
        let policy = trusted(&dir);
        let path = dir_of(&root).join(name);
        mkfifo(&path);
        let args = ["--no-cache", "--policy", policy.to_str().unwrap()];
        let r = bounded(&args, &[], &state, &format!("{driver} store {name}"));
        denied(&r, &format!("{name}\""));
        denied(&r, "not a regular file (a FIFO)");
    }
}

#[test]
fn a_fifo_as_the_policy_or_a_key_file_denies_at_once() {
    let lab = lab();
    let dir = Scratch::new("fifo-policy");
    let (_, state) = lab.container(&lab.image("signed"));
    let fifo = dir.path().join("policy.json");
    mkfifo(&fifo);
    let r = bounded(
        &["--no-cache", "--policy", fifo.to_str().unwrap()],
        &[],
        &state,
        "policy",
    );
    denied(
        &r,
        &format!("policy {fifo:?} is not a regular file (a FIFO)"),
    );
    // The admin's policy may be a symlink; what it leads to must still be a regular file.
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let r = bounded(
        &["--no-cache", "--policy", link.to_str().unwrap()],
        &[],
        &state,
        "policy behind a symlink",
    );
    denied(&r, "is not a regular file (a FIFO)");

    let key = dir.path().join("key.gpg");
    mkfifo(&key);
    let policy = dir.file(
        "keyfifo.json",
        format!(
            r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{:?}}}]}}"#,
            key.to_str().unwrap()
        ),
    );
    let r = bounded(
        &["--no-cache", "--policy", policy.to_str().unwrap()],
        &[],
        &state,
        "key file",
    );
    denied(
        &r,
        &format!("key file {key:?} is not a regular file (a FIFO)"),
    );
}

#[test]
fn a_fifo_as_the_config_is_ignored_for_the_defaults() {
    let lab = lab();
    let dir = Scratch::new("fifo-config");
    let (_, state) = lab.container(&lab.image("signed"));
    let policy = trusted(&dir);
    let fifo = dir.path().join("hook.conf");
    mkfifo(&fifo);
    let r = bounded(
        &[
            "--no-cache",
            "--policy",
            policy.to_str().unwrap(),
            "--config",
            fifo.to_str().unwrap(),
        ],
        &[],
        &state,
        "config",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is not a regular file (a FIFO); using the defaults (enforce)"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_fifo_as_a_cache_entry_or_a_decision_is_passed_over() {
    let lab = lab();
    let dir = Scratch::new("fifo-cache");
    let (cid, state) = lab.container(&lab.image("signed"));
    let policy = trusted(&dir);
    let cache = dir.path().join("cache");
    let args = [
        "--policy",
        policy.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let r = bounded(&args, &[], &state, "cache: first run");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    // The entry a FIFO: a miss, verified again.
    mkfifo(&entries[0]);
    let r = bounded(&args, &[], &state, "cache entry");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // The container's decision a FIFO: `why` passes it over, and the hook replaces it.
    let decision = cache.join("decisions").join(&cid);
    assert!(decision.is_file());
    mkfifo(&decision);
    let why = bounded(
        &["why", "--cache-dir", cache.to_str().unwrap(), &cid],
        &[],
        "",
        "why with a FIFO decision",
    );
    assert_ne!(why.code, Some(0), "{}", why.stderr);
    let r = bounded(&args, &[], &state, "decision file");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(decision.is_file());
}

#[test]
fn a_fifo_as_storage_conf_denies_at_once() {
    let lab = lab();
    let dir = Scratch::new("fifo-storage-conf");
    let policy = trusted(&dir);
    // A CRI-O-style bundle in a run root: the graph root comes from storage.conf.
    let id = "f".repeat(64);
    let bundle = dir.path().join(format!(
        "run/{}-containers/{id}/userdata",
        lab.get("DRIVER")
    ));
    std::fs::create_dir_all(&bundle).unwrap();
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"{id}","status":"created","bundle":{:?}}}"#,
        bundle.to_str().unwrap()
    );
    let conf = dir.path().join("storage.conf");
    mkfifo(&conf);
    let r = bounded(
        &["--no-cache", "--policy", policy.to_str().unwrap()],
        &[("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap())],
        &state,
        "storage.conf",
    );
    denied(&r, &format!("{conf:?}: not a regular file (a FIFO)"));
}

// ---------------------------------------------------------------------------------------------
// The deadline, and what a hook leaves behind
// ---------------------------------------------------------------------------------------------

/// A directory with a `gpg` that runs the real one, except for a verification, where it starts
/// `sleep <marker>` (a child, which does not name the GnuPG home) and waits for it. Put first on
/// the hook's PATH. `marker` is a unique duration of about a minute.
fn slow_gpg(dir: &Scratch) -> (String, String) {
    let real = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("gpg"))
        .find(|p| p.is_file())
        .expect("gpg on PATH");
    let marker = format!("60.{}{}", std::process::id(), crate::common::unique());
    let bin = dir.path().join("slow-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("gpg");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --output ] && {{ sleep {marker}; exit 2; }}; done\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, marker)
}

/// Command lines of running processes that contain `needle` (zombies have none).
fn processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

fn kill_processes_with(needle: &str) {
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd)
            .replace('\0', " ")
            .contains(needle)
        {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_gpg_that_hangs_is_ended_at_the_timeout_with_its_home() {
    use std::os::unix::net::UnixDatagram;
    let lab = lab();
    let dir = Scratch::new("deadline-gpg");
    let (_, state) = lab.container(&lab.image("signed"));
    let policy = trusted(&dir);
    let (path, marker) = slow_gpg(&dir);
    let socket = dir.path().join("log");
    let syslog = UnixDatagram::bind(&socket).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for mode in ["enforce", "warn"] {
        let tmp = dir.path().join(format!("tmp-{mode}"));
        std::fs::create_dir(&tmp).unwrap();
        let start = Instant::now();
        let out = crate::common::run_hook_env(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--syslog-socket",
                socket.to_str().unwrap(),
                "--log-file",
                "/dev/null",
                "--timeout",
                "2",
                "--mode",
                mode,
            ],
            state.as_bytes(),
            &tmp,
            &[("PATH", &path)],
        );
        let took = start.elapsed();
        let r = HookResult {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        println!("{mode}: the hook took {took:?}");
        let reason = "the decision took longer than --timeout 2 s \
                      (while verifying signature 1 of 1 with gpgme)";
        if mode == "enforce" {
            denied(&r, reason);
        } else {
            assert_eq!(r.code, Some(0), "{}", r.stderr);
            assert!(
                r.stderr
                    .contains("warn mode, start allowed: would have blocked")
                    && r.stderr.contains(reason),
                "{}",
                r.stderr
            );
        }
        assert!(took < Duration::from_millis(3500), "took {took:?}");
        let mut buf = [0u8; 8192];
        let n = syslog.recv(&mut buf).expect("an audit record");
        let record = String::from_utf8_lossy(&buf[..n]);
        let verdict = if mode == "enforce" {
            "deny"
        } else {
            "would-deny"
        };
        assert!(
            record.contains(&format!("verdict={verdict} ")) && record.contains("took longer"),
            "{record}"
        );
        // Nothing left: no home, no gpg, not what that gpg started.
        assert!(
            entries(&tmp).is_empty(),
            "left in TMPDIR: {:?}",
            entries(&tmp)
        );
        let left = [
            processes_with(&tmp.to_string_lossy()),
            processes_with(&marker),
        ]
        .concat();
        kill_processes_with(&marker);
        assert!(left.is_empty(), "still running: {left:?}");
    }
}

#[test]
fn a_home_left_by_a_killed_hook_is_removed_by_the_next_run() {
    let lab = lab();
    let dir = Scratch::new("deadline-kill");
    let (_, state) = lab.container(&lab.image("signed"));
    let policy = trusted(&dir);
    let (path, marker) = slow_gpg(&dir);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // Killed while gpg verifies, as the runtime kills a hook at its timeout.
    let mut hook = Command::new(hook_path())
        .args([
            "--no-cache",
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
            "--policy",
        ])
        .arg(&policy)
        .args(["--timeout", "60"])
        .env("TMPDIR", &tmp)
        .env("PATH", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    hook.stdin
        .take()
        .unwrap()
        .write_all(state.as_bytes())
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while processes_with(&marker).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!processes_with(&marker).is_empty(), "gpg never verified");
    hook.kill().unwrap();
    hook.wait().unwrap();
    kill_processes_with(&marker);
    kill_processes_with(&tmp.to_string_lossy());
    let left = entries(&tmp);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&format!("oci-signature-hook-{}-", hook.id())));
    // The next run, with the real gpg, removes it, and leaves nothing of its own.
    let out = run_hook(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
        ],
        state.as_bytes(),
        &tmp,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(entries(&tmp).is_empty(), "left: {:?}", entries(&tmp));
}

// ---------------------------------------------------------------------------------------------
// Bounds on what signatures cost
// ---------------------------------------------------------------------------------------------

/// Replaces the stored signatures of the signed image in `root` with `sigs`.
fn set_signatures(root: &Path, sigs: &[Vec<u8>]) {
    std::fs::write(image_dir(root).join("signatures"), sigs.concat()).unwrap();
    let images = images_dir(root).join("images.json");
    let mut list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&images).unwrap()).unwrap();
    let rec = list
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == lab().get("IMAGE_ID_SIGNED"))
        .unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(rec["metadata"].as_str().unwrap()).unwrap();
    let sizes: Vec<usize> = sigs.iter().map(Vec::len).collect();
    meta["signature-sizes"] = serde_json::json!(sizes);
    rec["metadata"] = meta.to_string().into();
    rec["big-data-sizes"]["signatures"] = sigs.iter().map(Vec::len).sum::<usize>().into();
    std::fs::write(&images, serde_json::to_vec(&list).unwrap()).unwrap();
}

/// An OpenPGP message as gpg would make it with `--sign --compress-algo zlib` of `zeros` zero
/// bytes, but for its signature packet: a compressed-data packet (ZLIB, level 9) holding a
/// one-pass signature packet and a literal-data packet of zeros. Zeros compress about 1000 to
/// 1, and gpg writes out every byte it decompresses.
fn compression_bomb(zeros: u64) -> Vec<u8> {
    let script = r#"
import struct, sys, zlib
zeros = int(sys.argv[1])
ops = bytes([0xC4, 13, 3, 0, 8, 1]) + b"\x11" * 8 + b"\x01"
lit = bytes([0xCB, 0xFF]) + struct.pack(">I", 6 + zeros) + b"b\x00" + b"\x00" * 4
c = zlib.compressobj(9)
out = sys.stdout.buffer
out.write(bytes([0xA3, 2]))
out.write(c.compress(ops + lit))
chunk = bytes(1 << 20)
while zeros:
    n = min(zeros, len(chunk))
    out.write(c.compress(chunk[:n]))
    zeros -= n
out.write(c.flush())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &zeros.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The OpenPGP implementations of this build, as `--openpgp` values.
fn implementations() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v = vec!["gpgme"];
    #[cfg(feature = "sequoia")]
    v.push("sequoia");
    v
}

/// What one hook run cost.
struct Measured {
    result: HookResult,
    /// Peak resident set, KiB (`/usr/bin/time -f %M`).
    rss_kib: u64,
    elapsed: Duration,
    /// How many times gpg was started.
    gpg_runs: usize,
}

/// Runs the hook on `state` under /usr/bin/time, with a `gpg` on `PATH` that counts its runs,
/// and checks that nothing is left: no file in its TMPDIR, no gpg process with a home there.
fn measured_hook(policy: &Path, state: &str, openpgp: &str) -> Measured {
    let dir = Scratch::new(&format!("measured-{}", crate::common::unique()));
    let tmp = dir.path().join("tmp");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let runs = dir.path().join("gpg-runs");
    let real_gpg = ["/usr/bin/gpg", "/bin/gpg"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap();
    dir.file(
        "bin/gpg",
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec {real_gpg} \"$@\"\n",
            runs.display()
        ),
    );
    std::fs::set_permissions(
        bin.join("gpg"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The runs log is written by gpg, which runs without the hook's capabilities.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let rss = dir.path().join("rss");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let start = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(hook_path())
        .args([
            "--no-cache",
            "--syslog-socket",
            "/nonexistent/log",
            "--log-file",
            "/dev/null",
            "--openpgp",
            openpgp,
            "--policy",
        ])
        .arg(policy)
        .env("TMPDIR", &tmp)
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(state.as_bytes());
    let out = child.wait_with_output().unwrap();
    let elapsed = start.elapsed();
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the hook left {left:?} in its TMPDIR");
    // gpgme does not wait for gpg itself; gpg ends as soon as its pipes are closed.
    let gpg_under_tmp = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains("gpg") && c.contains(&*tmp.to_string_lossy()))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !gpg_under_tmp().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gpg_under_tmp().is_empty(), "{:?}", gpg_under_tmp());
    let rss_kib = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gpg_runs = std::fs::read_to_string(&runs)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    Measured {
        result: HookResult {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        rss_kib,
        elapsed,
        gpg_runs,
    }
}

/// The most memory signatures may add to a hook's: the stored signatures (at most 4 MiB), a copy
/// of each, and the plaintext of one (at most 4 MiB). A release build holds about 4 MiB besides,
/// so that its peak stays within 16 MiB.
const MAX_GROWTH_KIB: u64 = 12 << 10;

/// The peak memory of this build's hook denying an image with one tiny junk signature.
fn baseline_kib(root: &Path, policy: &Path, state: &str, openpgp: &str) -> u64 {
    let saved = std::fs::read(image_dir(root).join("signatures")).unwrap();
    let images = std::fs::read(images_dir(root).join("images.json")).unwrap();
    set_signatures(root, &[vec![0xA3, 0x02, 0x00]]);
    let m = measured_hook(policy, state, openpgp);
    assert_eq!(m.result.code, Some(1), "{}", m.result.stderr);
    std::fs::write(image_dir(root).join("signatures"), saved).unwrap();
    std::fs::write(images_dir(root).join("images.json"), images).unwrap();
    m.rss_kib
}

/// Checks that the peak memory of `m` is at most `MAX_GROWTH_KIB` above `base`.
fn within_bounds(m: &Measured, base: u64, openpgp: &str) {
    assert!(
        m.rss_kib <= base + MAX_GROWTH_KIB,
        "{openpgp}: {} KiB, {} KiB without the signatures",
        m.rss_kib,
        base
    );
}

/// A copy of the lab's store to put hostile signatures into: its root, the state of a container
/// of the signed image, a policy trusting its key, each implementation's peak memory on the
/// genuine signature (KiB), and that signature's bytes.
struct Hostile {
    root: PathBuf,
    state: String,
    policy: PathBuf,
    base: std::collections::HashMap<&'static str, u64>,
    genuine: Vec<u8>,
}

fn hostile(dir: &Scratch) -> Hostile {
    let (root, state) = store_copy(dir);
    let policy = trusted(dir);
    let base = implementations()
        .into_iter()
        .map(|o| (o, baseline_kib(&root, &policy, &state, o)))
        .collect();
    let genuine = std::fs::read(image_dir(&root).join("signatures")).unwrap();
    Hostile {
        root,
        state,
        policy,
        base,
        genuine,
    }
}

#[test]
fn a_compressed_signature_that_expands_to_gigabytes_is_refused_in_bounded_memory() {
    let dir = Scratch::new("bomb");
    let Hostile {
        root,
        state,
        policy,
        base,
        genuine,
    } = hostile(&dir);
    for (zeros, stored) in [(256u64 << 20, 256usize << 10), (1 << 30, 1 << 20)] {
        let bomb = compression_bomb(zeros);
        assert!(bomb.len() <= stored + stored / 16, "{} bytes", bomb.len());
        // Alone, it denies with the bound's reason.
        set_signatures(&root, std::slice::from_ref(&bomb));
        for openpgp in implementations() {
            let m = measured_hook(&policy, &state, openpgp);
            println!(
                "{openpgp}: {} stored bytes expanding to {zeros}: {} KiB peak, {:?}, {} gpg runs",
                bomb.len(),
                m.rss_kib,
                m.elapsed,
                m.gpg_runs
            );
            denied(
                &m.result,
                "signedBy: signature payload is larger than 4194304 bytes",
            );
            within_bounds(&m, base[openpgp], openpgp);
        }
        // Before a genuine signature, it does not hide that one.
        set_signatures(&root, &[bomb, genuine.clone()]);
        for openpgp in implementations() {
            let m = measured_hook(&policy, &state, openpgp);
            assert_eq!(m.result.code, Some(0), "{openpgp}: {}", m.result.stderr);
            within_bounds(&m, base[openpgp], openpgp);
        }
    }
}

#[test]
fn thousands_of_junk_signatures_deny_by_their_count_without_running_gpg() {
    let dir = Scratch::new("many-sigs");
    let Hostile {
        root,
        state,
        policy,
        base,
        genuine,
    } = hostile(&dir);
    // 20,000 signatures of 3 bytes: a compressed-data packet header and nothing more.
    let mut sigs = vec![vec![0xA3, 0x02, 0x00]; 20_000];
    sigs.push(genuine.clone());
    set_signatures(&root, &sigs);
    for openpgp in implementations() {
        let m = measured_hook(&policy, &state, openpgp);
        println!(
            "{openpgp}: 20001 signatures: {} KiB peak, {:?}, {} gpg runs",
            m.rss_kib, m.elapsed, m.gpg_runs
        );
        denied(
            &m.result,
            "signedBy: the image has 20001 signatures, more than the 64 that are examined",
        );
        assert_eq!(m.gpg_runs, 0, "{openpgp}");
        within_bounds(&m, base[openpgp], openpgp);
    }
    // At the bound, each is examined, and the genuine one, last, is accepted.
    let mut sigs = vec![vec![0xA3, 0x02, 0x00]; 63];
    sigs.push(genuine);
    set_signatures(&root, &sigs);
    for openpgp in implementations() {
        let m = measured_hook(&policy, &state, openpgp);
        assert_eq!(m.result.code, Some(0), "{openpgp}: {}", m.result.stderr);
        // One gpg run per signature, and four more: gpgme's engine checks, the import of the
        // keys and the accepted signer's key listing.
        assert!(m.gpg_runs <= 64 + 4, "{openpgp}: {}", m.gpg_runs);
    }
}

#[test]
fn signatures_at_the_storage_bound_are_verified_in_bounded_memory() {
    // The most stored signature bytes an image may have (4 MiB): a signature that expands to
    // 1 GiB, then junk up to the bound. The image's signatures, the copy of each that is
    // verified, and the plaintext bound are held together.
    const STORED_MAX: usize = 4 << 20;
    let dir = Scratch::new("sigs-at-bound");
    let Hostile {
        root,
        state,
        policy,
        base,
        ..
    } = hostile(&dir);
    let bomb = compression_bomb(1 << 30);
    // The rest: literal-data packets of zeros in "compressed" packets of algorithm 0 (stored),
    // which gpg reads to their end and writes out, each below the plaintext bound.
    let rest = STORED_MAX - bomb.len();
    let mut sigs = vec![bomb];
    sigs.extend((0..4).map(|i| {
        let len = rest / 4 + usize::from(i < rest % 4);
        let body = u32::try_from(len - 8).unwrap();
        let mut s = vec![0xA3, 0x00, 0xCB, 0xFF];
        s.extend_from_slice(&body.to_be_bytes());
        s.extend_from_slice(b"b\x00\x00\x00\x00\x00");
        s.resize(len, 0);
        s
    }));
    assert_eq!(sigs.iter().map(Vec::len).sum::<usize>(), STORED_MAX);
    set_signatures(&root, &sigs);
    for openpgp in implementations() {
        let m = measured_hook(&policy, &state, openpgp);
        println!(
            "{openpgp}: {STORED_MAX} stored bytes: {} KiB peak, {:?}, {} gpg runs",
            m.rss_kib, m.elapsed, m.gpg_runs
        );
        denied(&m.result, "signature payload is larger than 4194304 bytes");
        within_bounds(&m, base[openpgp], openpgp);
    }
    // One byte more is refused before anything is verified.
    sigs.push(vec![0xA3]);
    set_signatures(&root, &sigs);
    for openpgp in implementations() {
        let m = measured_hook(&policy, &state, openpgp);
        denied(&m.result, "larger than");
        assert_eq!(m.gpg_runs, 0, "{openpgp}");
    }
}

/// A large junk signature: gpg gives up on it early, and gpgme was seen to keep waiting on it
/// until the runtime's hook timeout. The deadline ends it, with a deny and nothing left behind.
#[test]
fn a_large_junk_signature_ends_within_the_deadline() {
    let dir = Scratch::new("junk-sig");
    let (root, state) = store_copy(&dir);
    let policy = trusted(&dir);
    let mut junk = vec![0xA3, 0x02];
    junk.extend((0..128 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    set_signatures(&root, &[junk]);
    for openpgp in implementations() {
        let start = Instant::now();
        let r = crate::common::hook_verdict_with(
            &policy,
            &state,
            &["--no-cache", "--timeout", "3", "--openpgp", openpgp],
        );
        let took = start.elapsed();
        println!("{openpgp}: 128 KiB junk signature: {took:?}: {}", r.stderr);
        assert_eq!(r.code, Some(1), "{openpgp}: {}", r.stderr);
        assert!(r.stderr.contains("blocked container start"), "{}", r.stderr);
        // Well before the runtime's 30 s: the deadline, not the runtime, ended it.
        assert!(took < Duration::from_secs(10), "{openpgp}: {took:?}");
    }
}
