//! `podman run` with the hook installed through `--hooks-dir`: the whole path, runtime included.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::{agents_under, hook_path, lab, Scratch};

struct Run {
    out: Output,
    records: Vec<String>,
}

/// `podman run --rm IMAGE echo started` with the hook under `policy`, its audit records sent to a
/// socket of the test's own, and its TMPDIR private (and checked empty afterwards).
fn run(image: &str, policy: &str) -> Run {
    run_in(lab().podman(), image, policy)
}

/// `run` with another podman (another store).
fn run_in(podman: Command, image: &str, policy: &str) -> Run {
    run_with(podman, image, policy, &[], &[])
}

/// `run` with extra arguments for the hook and for `podman run`.
fn run_with(
    mut podman: Command,
    image: &str,
    policy: &str,
    hook_args: &[&str],
    run_args: &[&str],
) -> Run {
    let lab = lab();
    let dir = Scratch::new(&format!("run-{}", crate::common::unique()));
    let policy = dir.file("policy.json", lab.expand(policy));
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let socket = dir.path().join("log");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    let hooks = dir.path().join("hooks.d");
    std::fs::create_dir(&hooks).unwrap();
    let mut hook_argv = vec![
        hook_path(),
        "--policy",
        policy.to_str().unwrap(),
        "--syslog-socket",
        socket.to_str().unwrap(),
    ];
    // A verdict cache of the run's own, so that every run verifies (and writes an entry).
    let cache = dir.path().join("cache");
    if !hook_args.contains(&"--cache-dir") {
        hook_argv.extend(["--cache-dir", cache.to_str().unwrap()]);
    }
    hook_argv.extend_from_slice(hook_args);
    let hook = serde_json::json!({
        "version": "1.0.0",
        "hook": {
            "path": hook_path(),
            "args": hook_argv,
            "env": [format!("TMPDIR={}", tmp.display())],
        },
        "when": {"always": true},
        "stages": ["prestart"],
    });
    dir.file("hooks.d/oci-signature-hook.json", hook.to_string());
    let out = podman
        .arg("--hooks-dir")
        .arg(&hooks)
        .args(["run", "--rm"])
        .args(run_args)
        .args([image, "echo", "started"])
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the hook left {left:?} in its TMPDIR");
    assert!(
        agents_under(&tmp).is_empty(),
        "a gpg-agent was left running"
    );
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut records = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = receiver.recv(&mut buf) {
        records.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    Run { out, records }
}

fn started(r: &Run) -> bool {
    r.out.status.success() && String::from_utf8_lossy(&r.out.stdout).contains("started")
}

fn stderr(r: &Run) -> String {
    String::from_utf8_lossy(&r.out.stderr).into_owned()
}

const TRUSTED: &str =
    r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#;

#[test]
fn signed_image_starts_and_is_audited() {
    let image = lab().image("signed");
    let r = run(&image, TRUSTED);
    assert!(started(&r), "{}", stderr(&r));
    assert_eq!(r.records.len(), 1, "{:?}", r.records);
    let rec = &r.records[0];
    assert!(rec.contains("oci-signature-hook["), "{rec}");
    assert!(rec.contains("verdict=allow"), "{rec}");
    assert!(rec.contains(&format!("image={image}")), "{rec}");
    assert!(
        rec.contains(&format!("image_id={}", lab().get("IMAGE_ID_SIGNED"))),
        "{rec}"
    );
    assert!(
        rec.contains(&format!("manifest_digest={}", lab().get("DIGEST_SIGNED"))),
        "{rec}"
    );
    // facility auth (4), severity info (6): <38>
    assert!(rec.starts_with("<38>"), "{rec}");
}

#[test]
fn unsigned_image_is_blocked_with_a_clear_reason() {
    let image = lab().image("unsigned");
    let r = run(&image, TRUSTED);
    assert!(!started(&r));
    let err = stderr(&r);
    assert!(
        err.contains("oci-signature-hook: blocked container start"),
        "{err}"
    );
    assert!(err.contains(&image), "{err}");
    assert!(err.contains(&lab().get("IMAGE_ID_UNSIGNED")[..12]), "{err}");
    assert!(err.contains(lab().get("DIGEST_UNSIGNED")), "{err}");
    assert!(err.contains("signedBy: no signature exists"), "{err}");
    assert!(err.contains("scope default"), "{err}");
    assert_eq!(r.records.len(), 1, "{:?}", r.records);
    assert!(
        r.records[0].starts_with("<36>"),
        "warning severity: {}",
        r.records[0]
    );
    assert!(r.records[0].contains("verdict=deny"), "{}", r.records[0]);
}

#[test]
fn wrong_key_is_blocked() {
    let r = run(&lab().image("wrongkey"), TRUSTED);
    assert!(!started(&r));
    assert!(stderr(&r).contains("No public key"), "{}", stderr(&r));
}

#[test]
fn signature_copied_from_another_image_is_blocked() {
    let r = run(&lab().image("copied"), TRUSTED);
    assert!(!started(&r));
    let err = stderr(&r);
    assert!(
        err.contains(&format!("is for manifest {}", lab().get("DIGEST_SIGNED"))),
        "{err}"
    );
}

#[test]
fn identity_mismatch_is_blocked() {
    let r = run(&lab().image("other-identity"), TRUSTED);
    assert!(!started(&r));
    let err = stderr(&r);
    assert!(err.contains("lab/elsewhere:v9\" is not accepted"), "{err}");
}

#[test]
fn reject_scope_blocks_even_a_signed_image() {
    let policy = r#"{"default":[{"type":"insecureAcceptAnything"}],
        "transports":{"docker":{"$REGISTRY/lab":[{"type":"reject"}]}}}"#;
    let r = run(&lab().image("signed"), policy);
    assert!(!started(&r));
    let err = stderr(&r);
    assert!(
        err.contains("reject: the policy rejects every image in this scope"),
        "{err}"
    );
    assert!(
        err.contains(&format!("scope docker {}/lab", lab().get("REGISTRY"))),
        "{err}"
    );
}

#[test]
fn insecure_accept_anything_starts_an_unsigned_image() {
    let r = run(
        &lab().image("unsigned"),
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    assert!(started(&r), "{}", stderr(&r));
    assert!(
        r.records[0].contains("reason=insecureAcceptAnything"),
        "{:?}",
        r.records
    );
}

#[test]
fn invalid_policy_blocks_every_start() {
    let r = run(
        &lab().image("signed"),
        r#"{"default":[{"type":"insecureAcceptAnything"}],"extra":1}"#,
    );
    assert!(!started(&r));
    let err = stderr(&r);
    assert!(
        err.contains("invalid policy in") && err.contains("Unknown key") && err.contains("extra"),
        "{err}"
    );
}

#[test]
fn a_vfs_store_in_its_own_root_works_too() {
    let dir = Scratch::new("vfs");
    let accept = dir.file(
        "accept.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    for name in ["signed", "unsigned"] {
        let out = lab()
            .vfs_podman(dir.path())
            .args(["pull", "-q", "--signature-policy"])
            .arg(&accept)
            .arg(lab().image(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r = run_in(
        lab().vfs_podman(dir.path()),
        &lab().image("signed"),
        TRUSTED,
    );
    assert!(started(&r), "{}", stderr(&r));
    assert!(r.records[0].contains("verdict=allow"), "{:?}", r.records);
    let r = run_in(
        lab().vfs_podman(dir.path()),
        &lab().image("unsigned"),
        TRUSTED,
    );
    assert!(!started(&r));
    assert!(stderr(&r).contains("no signature exists"), "{}", stderr(&r));
}

#[test]
fn warn_mode_starts_what_enforce_would_block_and_records_it() {
    let image = lab().image("unsigned");
    let r = run_with(lab().podman(), &image, TRUSTED, &["--mode", "warn"], &[]);
    assert!(started(&r), "{}", stderr(&r));
    assert_eq!(r.records.len(), 1, "{:?}", r.records);
    let rec = &r.records[0];
    assert!(
        rec.starts_with("<36>") && rec.contains("verdict=would-deny"),
        "{rec}"
    );
    assert!(
        rec.contains("reason=\"signedBy: no signature exists"),
        "{rec}"
    );
}

#[test]
fn the_mode_comes_from_a_root_owned_config_file_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("config");
    let conf = dir.file("hook.conf", "mode = \"warn\"\n");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let image = lab().image("unsigned");
    let conf_arg = ["--config", conf.to_str().unwrap()];
    let r = run_with(lab().podman(), &image, TRUSTED, &conf_arg, &[]);
    assert!(started(&r), "{}", stderr(&r));
    assert!(
        r.records[0].contains("verdict=would-deny"),
        "{:?}",
        r.records
    );
    // Writable by others: not trusted, so the hook enforces.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = run_with(lab().podman(), &image, TRUSTED, &conf_arg, &[]);
    assert!(!started(&r));
    assert!(
        stderr(&r).contains("not owned by root or is writable by others"),
        "{}",
        stderr(&r)
    );
}

#[test]
fn annotations_labels_and_env_cannot_loosen_the_verdict() {
    let image = lab().image("unsigned");
    let loosen = [
        "--annotation",
        "oci-signature-hook.mode=warn",
        "--annotation",
        "io.kubernetes.cri-o.ImageName=127.0.0.1:1/lab/signed:v1",
        "--label",
        "oci-signature-hook.mode=warn",
        "--env",
        "OCI_SIGNATURE_HOOK_MODE=warn",
    ];
    let r = run_with(lab().podman(), &image, TRUSTED, &[], &loosen);
    assert!(!started(&r));
    assert!(r.records[0].contains("verdict=deny"), "{:?}", r.records);
}
