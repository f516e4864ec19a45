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

/// podman pattern-matches a runtime's error: "no such file or directory" and "not found" turn a
/// blocked start into "command not found" and exit code 127. The hook says it in its own words.
#[test]
fn a_missing_key_file_blocks_with_exit_126_in_the_hooks_words() {
    let r = run(
        &lab().image("signed"),
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/trusted.gpg"}]}"#,
    );
    assert!(!started(&r));
    assert_eq!(r.out.status.code(), Some(126), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains("key file \"/nonexistent/trusted.gpg\" does not exist"),
        "{err}"
    );
    let lower = err.to_lowercase();
    for misread in ["no such file", "not found", "permission denied"] {
        assert!(!lower.contains(misread), "{misread:?} in: {err}");
    }
}

/// As podman pull reads it: root's hook reads a key file in a directory only its owner (another
/// user) may enter, before it gives up its capabilities.
#[test]
fn a_key_in_another_users_private_directory_is_read_with_roots_rights() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("key-owner");
    let private = dir.path().join("home-of-someone");
    std::fs::create_dir(&private).unwrap();
    std::fs::copy(
        lab().expand("$KEYS/trusted.gpg"),
        private.join("trusted.gpg"),
    )
    .unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&private, Some(54321), Some(54321)).unwrap();
    std::os::unix::fs::chown(private.join("trusted.gpg"), Some(54321), Some(54321)).unwrap();
    let policy = format!(
        r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}"#,
        private.join("trusted.gpg").display()
    );
    let r = run(&lab().image("signed"), &policy);
    assert!(started(&r), "{}", stderr(&r));
}

/// Every deny names the container and its image, also when the policy itself is what failed.
#[test]
fn an_invalid_policy_deny_names_the_container_and_the_image() {
    let image = lab().image("signed");
    let r = run_with(
        lab().podman(),
        &image,
        r#"{"default":[{"type":"insecureAcceptAnything"}],"extra":1}"#,
        &[],
        &["--name", "invalid-policy-victim"],
    );
    assert!(!started(&r));
    let err = stderr(&r);
    assert!(
        err.contains("container invalid-policy-victim (ID "),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "image {image} (ID {})",
            &lab().get("IMAGE_ID_SIGNED")[..12]
        )),
        "{err}"
    );
    let rec = &r.records[0];
    assert!(rec.contains("name=invalid-policy-victim"), "{rec}");
    assert!(rec.contains(&format!("image={image}")), "{rec}");
    assert!(
        rec.contains(&format!("image_id={}", lab().get("IMAGE_ID_SIGNED"))),
        "{rec}"
    );
}

/// One image, one answer, however `podman run` names it.
#[test]
fn every_spelling_of_an_image_gets_one_answer() {
    for (name, signed) in [("signed", true), ("unsigned", false)] {
        let image = lab().image(name);
        let upper = name.to_uppercase();
        let id = lab().get(&format!("IMAGE_ID_{upper}")).to_string();
        let digest = lab().get(&format!("DIGEST_{upper}")).to_string();
        let repo = image.rsplit_once(':').unwrap().0.to_string();
        for spelling in [
            image.clone(),
            id.clone(),
            id[..12].to_string(),
            format!("sha256:{id}"),
            format!("{repo}@{digest}"),
            format!("{image}@{digest}"),
        ] {
            let r = run(&spelling, TRUSTED);
            assert_eq!(started(&r), signed, "{spelling}: {}", stderr(&r));
            if !signed {
                assert_eq!(r.out.status.code(), Some(126), "{spelling}");
            }
        }
    }
}
