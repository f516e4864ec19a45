//! What else a real host starts through the runtime, each under a strict policy (`default:
//! reject`, `signedBy` for the lab registry), with real podman and the hook through
//! `--hooks-dir`: `podman build` RUN steps, a pod's infra container, and containers without an
//! image (`--rootfs`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{hook_path, hooks_dir, lab, unique, Scratch};

const STRICT: &str = r#"{"default":[{"type":"reject"}],
    "transports":{"docker":{"$REGISTRY":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}}}"#;

/// A hooks dir whose hook judges by `policy`, with `extra` hook arguments; its decisions go to
/// `<dir>/state`.
fn hooks(dir: &Scratch, policy: &str, extra: &[&str]) -> PathBuf {
    let policy = dir.file("policy.json", lab().expand(policy));
    let state = dir.path().join("state");
    let mut args = vec![
        hook_path().to_string(),
        "--policy".into(),
        policy.display().to_string(),
        "--syslog-socket".into(),
        "/nonexistent/log".into(),
        "--log-file".into(),
        "/dev/null".into(),
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

/// `podman build --no-cache` of `containerfile` with the hook; the image is removed afterwards.
fn build(hooks: &Path, dir: &Scratch, containerfile: &str) -> Output {
    let ctx = dir.path().join(format!("ctx-{}", unique()));
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Containerfile"), lab().expand(containerfile)).unwrap();
    let tag = format!("localhost/lifecycle-build:{}", unique());
    let out = lab()
        .podman()
        .args(["build", "--no-cache", "--hooks-dir"])
        .arg(hooks)
        .args(["-t", &tag])
        .arg(&ctx)
        .output()
        .unwrap();
    let _ = lab().podman().args(["rmi", "-f", &tag]).output();
    out
}

#[test]
fn a_build_from_an_accepted_image_runs_its_steps_and_one_from_a_rejected_image_is_blocked() {
    let dir = Scratch::new("lifecycle-build");
    let hooks = hooks(&dir, STRICT, &[]);
    // Two RUN steps: the second runs on the unnamed image the first committed.
    let ok = build(
        &hooks,
        &dir,
        "FROM $REGISTRY/lab/signed:v1\nRUN echo one > /one\nRUN cat /one\n",
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let bad = build(
        &hooks,
        &dir,
        "FROM $REGISTRY/lab/unsigned:v1\nRUN echo never > /never\n",
    );
    assert!(!bad.status.success());
    let out = text(&bad);
    assert!(out.contains("blocked container start"), "{out}");
    assert!(
        out.contains(&format!("image {}", lab().image("unsigned"))),
        "the reason names the base image: {out}"
    );
    assert!(out.contains("working-container"), "{out}");
}

#[test]
fn a_multi_stage_build_judges_each_stage_by_what_it_was_built_on() {
    let dir = Scratch::new("lifecycle-stages");
    let hooks = hooks(&dir, STRICT, &[]);
    // A stage FROM an earlier stage's unnamed image, and a final stage FROM scratch with no RUN.
    let ok = build(
        &hooks,
        &dir,
        "FROM $REGISTRY/lab/signed:v1 AS one\nRUN echo one > /one\n\
         FROM one AS two\nRUN cat /one > /two\n\
         FROM scratch\nCOPY --from=two /two /two\n",
    );
    assert!(ok.status.success(), "{}", text(&ok));
    // The same chain on a rejected base is blocked at its first step.
    let bad = build(
        &hooks,
        &dir,
        "FROM $REGISTRY/lab/wrongkey:v1 AS one\nRUN echo one > /one\nFROM one\nRUN cat /one\n",
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains(&format!("image {}", lab().image("wrongkey"))),
        "{}",
        text(&bad)
    );
}

#[test]
fn a_pod_starts_under_a_strict_policy_and_an_impostor_pause_tag_does_not() {
    let dir = Scratch::new("lifecycle-pod");
    let hooks = hooks(&dir, STRICT, &[]);
    let pod = format!("lifecycle-pod-{}", unique());
    let create = lab()
        .podman()
        .arg("--hooks-dir")
        .arg(&hooks)
        .args(["pod", "create", "--name", &pod])
        .output()
        .unwrap();
    assert!(create.status.success(), "{}", text(&create));
    let member = lab()
        .podman()
        .arg("--hooks-dir")
        .arg(&hooks)
        .args([
            "run",
            "--rm",
            "--pod",
            &pod,
            &lab().image("signed"),
            "echo",
            "in-pod",
        ])
        .output()
        .unwrap();
    let _ = lab().podman().args(["pod", "rm", "-f", &pod]).output();
    assert!(member.status.success(), "{}", text(&member));
    let decisions = std::fs::read_dir(dir.path().join("state/decisions"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>()
        .join("");
    assert!(
        decisions.contains("podman's own pod infra image: its only layer is this host's"),
        "{decisions}"
    );
    // Tagged with the infra image's name, an unsigned image stays under the policy.
    let impostor = format!("localhost/podman-pause:impostor-{}", unique());
    let tag = lab()
        .podman()
        .args(["tag", &lab().image("unsigned"), &impostor])
        .output()
        .unwrap();
    assert!(tag.status.success(), "{}", text(&tag));
    let run = lab()
        .podman()
        .arg("--hooks-dir")
        .arg(&hooks)
        .args(["run", "--rm", &impostor, "echo", "impostor"])
        .output()
        .unwrap();
    let _ = lab().podman().args(["rmi", &impostor]).output();
    assert!(!run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains("reject: the policy rejects every image in this scope"),
        "{}",
        text(&run)
    );
}

#[test]
fn a_container_without_an_image_follows_the_imageless_setting() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("lifecycle-rootfs");
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    let start = |hooks: &Path| {
        lab()
            .podman()
            .arg("--hooks-dir")
            .arg(hooks)
            .args(["run", "--rm", "--rootfs"])
            .arg(&rootfs)
            .args(["/bin/busybox", "echo", "rootfs-started"])
            .output()
            .unwrap()
    };
    // The default, "policy": judged by the default requirements, here `reject`.
    let out = start(&hooks(&dir, STRICT, &[]));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the container has no image; imageless = \"policy\""),
        "{}",
        text(&out)
    );
    for (setting, starts) in [("allow", true), ("deny", false)] {
        let d = Scratch::new(&format!("lifecycle-rootfs-{setting}"));
        let conf = d.file("hook.conf", format!("imageless = \"{setting}\"\n"));
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let policy = if starts {
            STRICT
        } else {
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#
        };
        let out = start(&hooks(&d, policy, &["--config", conf.to_str().unwrap()]));
        assert_eq!(out.status.success(), starts, "{setting}: {}", text(&out));
        if !starts {
            assert!(
                text(&out).contains(&format!(
                    "the container has no image; imageless = \"deny\" ({})",
                    conf.display()
                )),
                "{}",
                text(&out)
            );
        }
    }
}
