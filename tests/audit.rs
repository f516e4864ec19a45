//! Audit records when syslog is unreachable: the verdict stands, and stderr says so once.

use crate::common::{lab, run_hook, Scratch};

#[test]
fn unreachable_syslog_keeps_the_verdict_and_says_so_once() {
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
        let out = run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
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
        assert_eq!(
            keys,
            [
                "verdict",
                "container",
                "name",
                "image",
                "image_id",
                "manifest_digest",
                "policy",
                "scope",
                "reason"
            ],
            "{line}"
        );
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
