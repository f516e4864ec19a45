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
    }
}
