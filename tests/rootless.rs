//! Rootless podman, as a real non-root user: podman runs the hook inside the user's namespace,
//! the bundle is in the user's own storage, and the user's `~/.config/containers/policy.json`
//! takes precedence over the system policy, as containers/image does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{hook_path, lab};

const USER: &str = "osh-rootless";

/// The test user, made on first use: a home, and subordinate UID/GID ranges for its namespace.
fn user() -> (u32, PathBuf) {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, USER]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id("-u").is_none() {
        let st = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", USER])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {USER}");
    }
    for (file, flag) in [
        ("/etc/subuid", "--add-subuids"),
        ("/etc/subgid", "--add-subgids"),
    ] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
            let st = Command::new("usermod")
                .args([flag, "400000-465535", USER])
                .status()
                .unwrap();
            assert!(st.success(), "usermod {flag}");
        }
    }
    let uid = id("-u").unwrap();
    let run = PathBuf::from(format!("/run/user/{uid}"));
    std::fs::create_dir_all(&run).unwrap();
    chown(&run, uid);
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    (uid, PathBuf::from(format!("/home/{USER}")))
}

fn chown(path: &Path, uid: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A command run as the test user, with a clean login-like environment.
fn as_user(uid: u32, home: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", USER, "--", "env", "-i"])
        .arg(format!("HOME={}", home.display()))
        .arg(format!("USER={USER}"))
        .arg("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .arg(format!("XDG_RUNTIME_DIR=/run/user/{uid}"))
        .args(["timeout", "300"])
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A world-readable directory of the user's test fixtures (the lab's own is root-only).
struct Shared(PathBuf);

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn rootless_podman_enforces_the_users_own_policy() {
    let lab = lab();
    let (uid, home) = user();
    let shared = Shared(PathBuf::from(format!(
        "/tmp/osh-rootless-{}",
        std::process::id()
    )));
    let dir = &shared.0;
    std::fs::create_dir_all(dir.join("hooks.d")).unwrap();
    std::fs::copy(hook_path(), dir.join("oci-signature-hook")).unwrap();
    copy_tree(Path::new(lab.get("LOOKASIDE")), &dir.join("lookaside"));
    std::fs::copy(
        format!("{}/keys/trusted.gpg", lab.get("LAB")),
        dir.join("trusted.gpg"),
    )
    .unwrap();
    std::fs::write(
        dir.join("accept.json"),
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("hooks.d/oci-signature-hook.json"),
        format!(
            r#"{{"version":"1.0.0","hook":{{"path":"{}/oci-signature-hook"}},"when":{{"always":true}},"stages":["prestart"]}}"#,
            dir.display()
        ),
    )
    .unwrap();
    let st = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());

    // The user's own configuration: where pulls find signatures, and the policy.
    let config = home.join(".config/containers");
    std::fs::create_dir_all(config.join("registries.d")).unwrap();
    std::fs::write(
        config.join("registries.d/lab.yaml"),
        format!(
            "docker:\n  {}:\n    lookaside: file://{}/lookaside\n",
            lab.get("REGISTRY"),
            dir.display()
        ),
    )
    .unwrap();
    let user_policy = config.join("policy.json");
    let signed_by = format!(
        r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}/trusted.gpg"}}]}}"#,
        dir.display()
    );
    std::fs::write(&user_policy, &signed_by).unwrap();
    chown(&home.join(".config"), uid);

    let accept = format!("{}/accept.json", dir.display());
    let hooks = format!("{}/hooks.d", dir.display());
    let (signed, unsigned) = (lab.image("signed"), lab.image("unsigned"));
    for image in [&signed, &unsigned] {
        ok(
            as_user(
                uid,
                &home,
                &[
                    "podman",
                    "pull",
                    "-q",
                    "--tls-verify=false",
                    "--signature-policy",
                    &accept,
                    image,
                ],
            ),
            "rootless podman pull",
        );
    }
    let run = |image: &str| {
        as_user(
            uid,
            &home,
            &[
                "podman",
                "run",
                "--rm",
                "--network",
                "none",
                "--hooks-dir",
                &hooks,
                image,
                "echo",
                "started",
            ],
        )
    };

    let out = run(&signed);
    assert_eq!(
        ok(out, "rootless podman run of the signed image").trim(),
        "started"
    );
    let out = run(&unsigned);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the unsigned image started rootless");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("started"),
        "{err}"
    );
    assert!(
        err.contains("oci-signature-hook: blocked container start")
            && err.contains("no signature exists"),
        "{err}"
    );
    // The user's policy, not the system one, decided; the bundle was found in the user's store.
    assert!(
        err.contains(&format!("policy {}", user_policy.display())),
        "{err}"
    );
    assert!(err.contains(&lab.get("IMAGE_ID_UNSIGNED")[..12]), "{err}");

    // The user relaxes their own policy: the same image now starts. (Rootless enforcement is a
    // guard-rail: the user controls their own hooks and policy.)
    std::fs::write(
        &user_policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let out = run(&unsigned);
    assert_eq!(
        ok(
            out,
            "rootless podman run under the user's permissive policy"
        )
        .trim(),
        "started"
    );

    // check, run by the user, reads the same storage and policy.
    std::fs::write(&user_policy, &signed_by).unwrap();
    let out = as_user(
        uid,
        &home,
        &[
            &format!("{}/oci-signature-hook", dir.display()),
            "check",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["policy"], user_policy.to_str().unwrap());
    let verdict = |image: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reference"] == image && r["kind"] == "image")
            .map(|r| r["verdict"].clone())
    };
    assert_eq!(verdict(&signed), Some("allow".into()), "{report:#}");
    assert_eq!(verdict(&unsigned), Some("deny".into()), "{report:#}");
    let _ = std::fs::remove_file(&user_policy);
}
