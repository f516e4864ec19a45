//! Bad input of every kind ends in a block with a clear one-line reason: a non-zero exit, never a
//! panic, never an allow (unless the policy accepts anything).

use crate::common::{hook_verdict, lab, run_hook, store_copy, HookResult, Scratch};

const ACCEPT: &str = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;

fn trusted_policy(dir: &Scratch) -> std::path::PathBuf {
    dir.file("trusted.json", lab().expand(r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#))
}

fn denied(r: &HookResult, reason: &str) {
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("blocked container start"))
        .unwrap_or_else(|| panic!("no reason line: {}", r.stderr));
    assert!(line.contains(reason), "{line}");
}

#[test]
fn garbage_or_empty_stdin_is_blocked() {
    let dir = Scratch::new("bad-stdin");
    let policy = dir.file("accept.json", ACCEPT);
    for (stdin, reason) in [
        ("", "no container state on stdin"),
        ("garbage", "invalid container state"),
        ("{\"id\":\"x\"}", "has no bundle"),
        ("{\"bundle\":\"/x\"}", "has no id"),
        ("[1,2", "invalid container state"),
    ] {
        denied(&hook_verdict(&policy, stdin), reason);
    }
    // Oversized input is cut at the bound, not read to the end.
    let big = format!("{{\"id\":\"{}\"}}", "a".repeat(2 << 20));
    denied(&hook_verdict(&policy, &big), "larger than");
}

#[test]
fn a_missing_or_foreign_bundle_is_blocked() {
    let dir = Scratch::new("bad-bundle");
    let policy = trusted_policy(&dir);
    let id = "0".repeat(64);
    let state = |bundle: &str| {
        format!(r#"{{"ociVersion":"1.0.2","id":"{id}","status":"creating","bundle":"{bundle}"}}"#)
    };
    denied(
        &hook_verdict(
            &policy,
            &state("/nonexistent/overlay-containers/x/userdata"),
        ),
        "bundle",
    );
    denied(
        &hook_verdict(
            &policy,
            &state(&format!("/nonexistent/overlay-containers/{id}/userdata")),
        ),
        "is in neither a graph root nor the run root",
    );
    // A graph root (it has the driver's image directory) without a containers.json: an empty
    // store, as containers/storage reads it.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("overlay-images")).expect("mkdir");
    denied(
        &hook_verdict(
            &policy,
            &state(&format!(
                "{}/overlay-containers/{id}/userdata",
                root.display()
            )),
        ),
        "is not in containers/storage",
    );
    denied(
        &hook_verdict(&policy, &state("/tmp")),
        "not a containers/storage container directory",
    );
    denied(
        &hook_verdict(&policy, &state("relative/overlay-containers/x/userdata")),
        "bundle",
    );
}

#[test]
fn an_unknown_container_is_blocked() {
    let dir = Scratch::new("unknown-container");
    let lab = lab();
    let id = "f".repeat(64);
    denied(
        &hook_verdict(&trusted_policy(&dir), &lab.state(&id)),
        &format!("container {id} is not in containers/storage"),
    );
}

#[test]
fn an_id_that_disagrees_with_the_bundle_is_blocked() {
    let dir = Scratch::new("id-mismatch");
    let lab = lab();
    let (id, _) = lab.container(&lab.image("signed"));
    let state = lab.state(&id).replacen(
        &format!("\"id\":\"{id}\""),
        &format!("\"id\":\"{}\"", "e".repeat(64)),
        1,
    );
    denied(
        &hook_verdict(&trusted_policy(&dir), &state),
        "does not match the bundle",
    );
}

#[test]
fn corrupt_storage_json_is_blocked() {
    let dir = Scratch::new("corrupt-json");
    let (root, state) = store_copy(&dir);
    let policy = trusted_policy(&dir);
    // The copy itself is good.
    assert!(hook_verdict(&policy, &state).allowed());
    let images = root.join(format!("{}-images/images.json", lab().get("DRIVER")));
    std::fs::write(&images, b"[{\"id\": ").unwrap();
    denied(&hook_verdict(&policy, &state), "cannot parse");
    // ...unless the policy accepts anything: then the image is never read.
    assert!(hook_verdict(&dir.file("accept.json", ACCEPT), &state).allowed());
    let containers = root.join(format!(
        "{}-containers/containers.json",
        lab().get("DRIVER")
    ));
    std::fs::write(&containers, b"{}").unwrap();
    denied(&hook_verdict(&policy, &state), "cannot parse");
}

#[test]
fn an_unreadable_or_invalid_policy_is_blocked() {
    let dir = Scratch::new("bad-policy");
    let lab = lab();
    let (_, state) = lab.container(&lab.image("signed"));
    // Said in the hook's words: podman reads "No such file or directory" as a missing runtime.
    let missing = dir.path().join("missing.json");
    let r = hook_verdict(&missing, &state);
    denied(&r, &format!("policy {missing:?} does not exist"));
    assert!(
        !r.stderr.to_lowercase().contains("no such file"),
        "{}",
        r.stderr
    );
    denied(
        &hook_verdict(dir.path(), &state),
        &format!(
            "policy {:?} is not a regular file (a directory)",
            dir.path()
        ),
    );
    for (text, reason) in [
        ("", "invalid policy"),
        ("{", "invalid policy"),
        (r#"{"default":[]}"#, "must not be empty"),
        (r#"{"transports":{}}"#, "Default policy is missing"),
        (
            r#"{"default":[{"type":"insecureAcceptAnything","extra":true}]}"#,
            "Unknown key",
        ),
    ] {
        denied(&hook_verdict(&dir.file("p.json", text), &state), reason);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = Scratch::new("usage");
    let out = run_hook(&["--no-such-flag"], b"", dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    let out = run_hook(&["--version"], b"", dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("oci-signature-hook "));
}
