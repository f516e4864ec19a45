//! Shared test helpers: the lab (a real registry, keys, signed images and podman storage built by
//! `tests/lab/lab.sh`), running the built hook, and scratch directories.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// The built hook. Cargo does not pass `CARGO_BIN_EXE_*` through a rustc wrapper (see
/// .cargo/config.toml), so it is also found beside the test executable (`target/<profile>/`).
pub fn hook_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| match option_env!("CARGO_BIN_EXE_oci-signature-hook") {
        Some(p) => p.to_string(),
        None => {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(Path::parent).unwrap();
            dir.join("oci-signature-hook")
                .to_string_lossy()
                .into_owned()
        }
    })
}

/// The lab: `OSH_LAB` if set (tests/run.sh brings one up and down), else one built here under
/// `target/` and left up for the next run.
pub struct Lab {
    env: HashMap<String, String>,
    containers: Mutex<HashMap<String, String>>,
}

pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let dir = match std::env::var("OSH_LAB") {
            Ok(d) => PathBuf::from(d),
            Err(_) => {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-lab");
                if !dir.join("env").exists() {
                    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.sh");
                    let st = Command::new("bash").arg(script).arg("up").arg(&dir).status().unwrap();
                    assert!(st.success(), "tests/lab/lab.sh up failed (it needs root and the packages .ci/run installs)");
                }
                dir
            }
        };
        let text = std::fs::read_to_string(dir.join("env")).unwrap();
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Lab { env, containers: Mutex::new(HashMap::new()) }
    })
}

/// The lab's images (`lab/NAME:v1`), one per kind of signature.
pub const LAB_IMAGES: &[&str] = &[
    "signed",
    "unsigned",
    "wrongkey",
    "expired",
    "revoked",
    "copied",
    "other-identity",
    "two-sigs",
    "garbage-sig",
];

impl Lab {
    /// Copies `image` in the lab registry to a new repository `lab/NAME-<pid>:v1` without its
    /// signatures (the same manifest, so the same image ID), and returns the new reference.
    pub fn unsigned_copy(&self, image: &str, name: &str) -> String {
        let copy = format!(
            "{}/lab/{name}-{}:v1",
            self.get("REGISTRY"),
            std::process::id()
        );
        let out = Command::new(self.get("LAB_SKOPEO"))
            .args([
                "copy",
                "-q",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--remove-signatures",
            ])
            .arg(format!("docker://{image}"))
            .arg(format!("docker://{copy}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        copy
    }

    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("lab env has no {key}"))
    }

    /// `127.0.0.1:PORT/lab/NAME:v1`
    pub fn image(&self, name: &str) -> String {
        format!("{}/lab/{name}:v1", self.get("REGISTRY"))
    }

    pub fn podman(&self) -> Command {
        Command::new(self.get("LAB_PODMAN"))
    }

    /// podman on a vfs store of its own under `dir`, with the lab's registry and registries.d (so
    /// that pulls store signatures).
    pub fn vfs_podman(&self, dir: &Path) -> Command {
        self.private_podman(dir, "vfs")
    }

    /// `vfs_podman` with another storage driver.
    pub fn private_podman(&self, dir: &Path, driver: &str) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.get("CONTAINERS_CONF"))
            .env(
                "CONTAINERS_REGISTRIES_CONF",
                self.get("CONTAINERS_REGISTRIES_CONF"),
            )
            .env("HOME", self.get("LAB_HOME"))
            .env("TMPDIR", self.get("LAB_TMPDIR"))
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .args(["--storage-driver", driver]);
        c
    }

    /// A container created from `image` (a reference, once per reference), as the OCI state the
    /// runtime would pass: `(id, state JSON)`.
    pub fn container(&self, image: &str) -> (String, String) {
        let mut map = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        let id = map
            .entry(image.to_string())
            .or_insert_with(|| {
                let out = self
                    .podman()
                    .args(["create", image, "true"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "podman create {image}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8(out.stdout).unwrap().trim().to_string()
            })
            .clone();
        (id.clone(), self.state(&id))
    }

    pub fn state(&self, id: &str) -> String {
        let bundle = format!(
            "{}/{}-containers/{id}/userdata",
            self.get("ROOT"),
            self.get("DRIVER")
        );
        format!(
            r#"{{"ociVersion":"1.0.2-dev","id":"{id}","status":"creating","pid":1,"bundle":"{bundle}"}}"#
        )
    }

    /// The lab's policy with `$REGISTRY`, `$KEYS` (the keys directory) and `$LAB` substituted.
    pub fn expand(&self, text: &str) -> String {
        text.replace("$REGISTRY", self.get("REGISTRY"))
            .replace("$KEYS", &format!("{}/keys", self.get("LAB")))
            .replace("$LAB", self.get("LAB"))
    }
}

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("osh-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the hook binary with `args` and `stdin`, with `TMPDIR` set to `tmp`.
/// `<dir>/hooks.d`, holding one hook definition that runs the built hook with `args` (its
/// argv, from `argv[0]`) at `prestart` for every container; for `podman --hooks-dir`.
pub fn hooks_dir(dir: &Path, args: &[String]) -> PathBuf {
    let hook = serde_json::json!({
        "version": "1.0.0",
        "hook": {"path": hook_path(), "args": args},
        "when": {"always": true},
        "stages": ["prestart"],
    });
    let hooks = dir.join("hooks.d");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("oci-signature-hook.json"), hook.to_string()).unwrap();
    hooks
}

pub fn run_hook(args: &[&str], stdin: &[u8], tmp: &Path) -> Output {
    run_hook_env(args, stdin, tmp, &[])
}

/// `run_hook` with more environment variables. Without `--cache-dir`, the verdict cache is off,
/// so that every run verifies (tests/cache.rs tests the cache); without `--log-file`, records that
/// no socket takes are not kept (tests/audit.rs tests the file).
pub fn run_hook_env(args: &[&str], stdin: &[u8], tmp: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(hook_path());
    let hook_mode = !matches!(args.first(), Some(&"check") | Some(&"why"));
    if !args.contains(&"--cache-dir") && hook_mode {
        cmd.arg("--no-cache");
    }
    // Records no socket takes go nowhere (a character device is refused, and stderr says so),
    // not to the host's /var/log, unless the test names a file.
    if !args.contains(&"--log-file") && hook_mode {
        cmd.args(["--log-file", "/dev/null"]);
    }
    let mut child = cmd
        .args(args)
        .env("TMPDIR", tmp)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The hook may exit before reading everything (it bounds its read): ignore EPIPE.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// The outcome of one hook run, for assertions.
#[derive(Debug)]
pub struct HookResult {
    pub code: Option<i32>,
    pub stderr: String,
}

impl HookResult {
    pub fn allowed(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs the hook in hook mode under `policy` for the state `state`, with no syslog socket and a
/// private TMPDIR that must be empty afterwards.
pub fn hook_verdict(policy: &Path, state: &str) -> HookResult {
    hook_verdict_with(policy, state, &[])
}

/// `hook_verdict` with more arguments for the hook.
pub fn hook_verdict_with(policy: &Path, state: &str, args: &[&str]) -> HookResult {
    let tmp = Scratch::new(&format!("tmp-{}", unique()));
    let policy = policy.to_str().unwrap();
    let mut argv = vec!["--policy", policy, "--syslog-socket", "/nonexistent/log"];
    argv.extend_from_slice(args);
    let out = run_hook(&argv, state.as_bytes(), tmp.path());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "the hook left {left:?} in its TMPDIR");
    HookResult {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// gpg-agent processes whose home is under `dir`.
pub fn agents_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains("gpg-agent") && cmd.contains(&*dir.to_string_lossy()) {
            found.push(cmd);
        }
    }
    found
}

/// A copy of the lab's store trimmed to one container and its image, for corrupting.
pub fn store_copy(dir: &Scratch) -> (PathBuf, String) {
    let lab = lab();
    let (cid, _) = lab.container(&lab.image("signed"));
    let root = dir.path().join("root");
    let driver = lab.get("DRIVER");
    let image_id = lab.get("IMAGE_ID_SIGNED");
    let src = Path::new(lab.get("ROOT"));
    std::fs::create_dir_all(root.join(format!("{driver}-containers/{cid}/userdata"))).unwrap();
    std::fs::create_dir_all(root.join(format!("{driver}-images/{image_id}"))).unwrap();
    for f in [
        format!("{driver}-containers/containers.json"),
        format!("{driver}-images/images.json"),
    ] {
        std::fs::copy(src.join(&f), root.join(&f)).unwrap();
    }
    for e in std::fs::read_dir(src.join(format!("{driver}-images/{image_id}"))).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            root.join(format!("{driver}-images/{image_id}"))
                .join(e.file_name()),
        )
        .unwrap();
    }
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"{cid}","status":"creating","bundle":"{}/{driver}-containers/{cid}/userdata"}}"#,
        root.display()
    );
    (root, state)
}
