//! podman 5 with crun and with runc, in a Debian 13 root made by `tests/lab/podman5.sh`: the
//! podman most users run, which hands a hooks.d `prestart` hook to the runtime as
//! `createRuntime`, and crun, its usual runtime, which passes another container state than runc
//! and drops a hook's stderr.
//!
//! The root is `OSH_PODMAN5_ROOT` (tests/run.sh makes it). In it, `tests/lab/podman5-images.sh`
//! pulls a signed, an unsigned and a wrong-key image from a registry with a lookaside, so their
//! signatures are stored as a pull stores them; the hook is the one the other tests run, copied
//! in (a static binary: the root has another libc). Each test has its own policy, hooks dir
//! (`podman --hooks-dir`), decisions directory and audit socket in the root.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::hook_path;

/// Where the tests keep their files in the root.
const OSH: &str = "/lab/osh";
/// Makes the images and keys in the root (run inside it).
const IMAGES_SCRIPT: &str = include_str!("lab/podman5-images.sh");
/// The registry the images were pulled from; it runs only while the script does.
const REGISTRY: &str = "127.0.0.1:5000";

const TRUSTED: &str =
    r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#;

/// The podman5 root, with the hook and the test images in it.
struct Root {
    dir: PathBuf,
}

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::var_os("OSH_PODMAN5_ROOT").unwrap_or_else(|| {
            panic!(
                "OSH_PODMAN5_ROOT is not set: the podman 5 tests run in a Debian 13 root made by \
                 `tests/lab/podman5.sh root DIR` (tests/run.sh makes one at /var/tmp/osh-podman5 \
                 and sets it); make one and run again with OSH_PODMAN5_ROOT=DIR"
            )
        });
        let root = Root { dir: dir.into() };
        root.install_hook();
        root.make_images();
        root
    })
}

impl Root {
    /// The host's path of `path` in the root.
    fn host(&self, path: &str) -> PathBuf {
        self.dir.join(path.trim_start_matches('/'))
    }

    /// Copies the hook to `/lab/osh/bin/oci-signature-hook`. It must be static: the root has no
    /// libgpgme, and another libc.
    fn install_hook(&self) {
        let out = Command::new("ldd").arg(hook_path()).output().unwrap();
        let linkage = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            linkage.contains("statically linked") || linkage.contains("not a dynamic executable"),
            "{} is dynamically linked, it cannot run in the podman5 root (is RUSTC_WRAPPER set? \
             see .cargo/config.toml): {linkage}",
            hook_path()
        );
        let bin = self.host(&format!("{OSH}/bin"));
        std::fs::create_dir_all(&bin).unwrap();
        // By rename: a hook another test process is running keeps its file.
        let tmp = bin.join(format!(".oci-signature-hook.{}", std::process::id()));
        std::fs::copy(hook_path(), &tmp).unwrap();
        std::fs::rename(&tmp, bin.join("oci-signature-hook")).unwrap();
    }

    /// Runs tests/lab/podman5-images.sh in the root; it does nothing if its images are there.
    fn make_images(&self) {
        let script = format!("{OSH}/podman5-images.sh");
        let tmp = self.host(&format!("{script}.{}", std::process::id()));
        std::fs::write(&tmp, IMAGES_SCRIPT).unwrap();
        std::fs::rename(&tmp, self.host(&script)).unwrap();
        let out = self.run(&["bash", &script]);
        assert!(
            out.status.success(),
            "tests/lab/podman5-images.sh failed in {}: {}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `podman5.sh run ROOT -- CMD`. One at a time, across threads and processes: to podman each
    /// run is a fresh boot, so its first command resets the state of every container in the
    /// store, including those another run has running (which then fail).
    fn run(&self, cmd: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/podman5.sh");
        Command::new("flock")
            .arg(self.host(&format!("{OSH}/lock")))
            .args(["timeout", "-k", "10", "300", "bash"])
            .arg(script)
            .arg("run")
            .arg(&self.dir)
            .arg("--")
            .args(cmd)
            .output()
            .unwrap()
    }
}

/// `127.0.0.1:5000/osh/NAME:v1`, one of the images podman5-images.sh made.
fn image(name: &str) -> String {
    format!("{REGISTRY}/osh/{name}:v1")
}

/// One test with one runtime: its directory in the root holds its policy, its hooks dir (the
/// hook with that policy, a verdict cache and decisions directory of its own, its TMPDIR) and
/// the socket its audit records go to.
struct Case {
    runtime: &'static str,
    /// The directory, as the root sees it.
    dir: String,
    host: PathBuf,
    log: UnixDatagram,
}

impl Case {
    fn new(test: &str, runtime: &'static str, policy: &str) -> Case {
        let root = root();
        let dir = format!("{OSH}/cases/{test}-{runtime}");
        let host = root.host(&dir);
        let _ = std::fs::remove_dir_all(&host);
        std::fs::create_dir_all(host.join("hooks.d")).unwrap();
        std::fs::create_dir_all(host.join("tmp")).unwrap();
        let policy = policy.replace("$KEYS", &format!("{OSH}/fixture/keys"));
        std::fs::write(host.join("policy.json"), policy).unwrap();
        let socket = host.join("log");
        let log = UnixDatagram::bind(&socket).unwrap_or_else(|e| {
            panic!(
                "bind {}: {e} (a socket path has at most 107 bytes: a shorter OSH_PODMAN5_ROOT)",
                socket.display()
            )
        });
        log.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let hook = serde_json::json!({
            "version": "1.0.0",
            "hook": {
                "path": format!("{OSH}/bin/oci-signature-hook"),
                "args": [
                    "oci-signature-hook",
                    "--policy", format!("{dir}/policy.json"),
                    "--cache-dir", format!("{dir}/state"),
                    "--syslog-socket", format!("{dir}/log"),
                ],
                "env": [format!("TMPDIR={dir}/tmp")],
            },
            "when": {"always": true},
            "stages": ["prestart"],
        });
        std::fs::write(
            host.join("hooks.d/oci-signature-hook.json"),
            hook.to_string(),
        )
        .unwrap();
        Case {
            runtime,
            dir,
            host,
            log,
        }
    }

    /// `podman --hooks-dir <the case's> --runtime <the case's> ARGS` in the root.
    fn podman(&self, args: &[&str]) -> Output {
        let hooks = format!("{}/hooks.d", self.dir);
        let mut cmd = vec!["podman", "--hooks-dir", &hooks, "--runtime", self.runtime];
        cmd.extend_from_slice(args);
        root().run(&cmd)
    }

    /// `podman run RUN_ARGS IMAGE echo started`, and the audit records of that start.
    fn start(&self, run_args: &[&str], name: &str) -> Start {
        let image = image(name);
        let mut args = vec!["run"];
        args.extend_from_slice(run_args);
        args.extend([image.as_str(), "echo", "started"]);
        let out = self.podman(&args);
        let left: Vec<_> = std::fs::read_dir(self.host.join("tmp")).unwrap().collect();
        assert!(left.is_empty(), "the hook left {left:?} in its TMPDIR");
        let mut records = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.log.recv(&mut buf) {
            records.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        Start { out, records }
    }

    /// A start the hook blocked, for `reason`: podman exits 126, as for any runtime failure (127
    /// would claim the command was not found). runc puts the hook's line in podman's error; crun
    /// says only that the hook failed. The audit record has the reason with either.
    fn assert_blocked(&self, r: &Start, reason: &str) {
        let err = r.stderr();
        assert_eq!(r.out.status.code(), Some(126), "{err}");
        assert!(!r.stdout().contains("started"), "{}", r.stdout());
        if self.runtime == "runc" {
            assert!(
                err.contains("oci-signature-hook: blocked container start"),
                "{err}"
            );
            assert!(err.contains(reason), "{err}");
        } else {
            let hook = format!("crun: error executing hook `{OSH}/bin/oci-signature-hook`");
            assert!(err.contains(&hook), "{err}");
        }
        let rec = r.record("verdict=deny");
        assert!(rec.contains(reason), "{rec}");
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // Kept when the test failed, to look at.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.host);
        }
    }
}

struct Start {
    out: Output,
    records: Vec<String>,
}

impl Start {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn started(&self) -> bool {
        self.out.status.success() && self.stdout().contains("started")
    }

    /// The one audit record of the start (the hook ran once), which has `verdict`.
    fn record(&self, verdict: &str) -> &str {
        assert_eq!(self.records.len(), 1, "{:?}", self.records);
        let rec = &self.records[0];
        assert!(rec.contains(verdict), "{rec}");
        rec
    }
}

/// A container made with `--name`, removed when the test ends (and before it starts, in case a
/// run that was stopped left it).
struct Named<'a> {
    case: &'a Case,
    name: String,
}

impl<'a> Named<'a> {
    fn new(case: &'a Case, name: String) -> Named<'a> {
        case.podman(&["rm", "--force", "--ignore", &name]);
        Named { case, name }
    }
}

impl Drop for Named<'_> {
    fn drop(&mut self) {
        self.case.podman(&["rm", "--force", "--ignore", &self.name]);
    }
}

/// Each test below, once with crun and once with runc: `podman5::NAME::crun`, `podman5::NAME::runc`.
macro_rules! with_crun_and_runc {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn crun() {
                super::$name("crun");
            }
            #[test]
            fn runc() {
                super::$name("runc");
            }
        }
    )*};
}

with_crun_and_runc!(
    signed_image_starts,
    unsigned_image_is_blocked,
    why_tells_the_reason,
    missing_key_file_blocks_with_126,
    insecure_accept_anything_starts_an_unsigned_image,
    wrong_key_is_blocked,
);

fn signed_image_starts(runtime: &'static str) {
    let case = Case::new("signed", runtime, TRUSTED);
    let r = case.start(&["--rm"], "signed");
    assert!(r.started(), "{}", r.stderr());
    let rec = r.record("verdict=allow");
    assert!(rec.contains(&format!("image={}", image("signed"))), "{rec}");
}

fn unsigned_image_is_blocked(runtime: &'static str) {
    let case = Case::new("unsigned", runtime, TRUSTED);
    let r = case.start(&["--rm"], "unsigned");
    case.assert_blocked(&r, "signedBy: no signature exists");
    if runtime == "runc" {
        assert!(r.stderr().contains(&image("unsigned")), "{}", r.stderr());
    }
}

/// `why` reads back what crun does not show: the last decision for the container, by name.
fn why_tells_the_reason(runtime: &'static str) {
    let case = Case::new("why", runtime, TRUSTED);
    let state = format!("{}/state", case.dir);
    let why = |name: &str| {
        root().run(&[
            &format!("{OSH}/bin/oci-signature-hook"),
            "why",
            "--cache-dir",
            &state,
            name,
        ])
    };

    let denied = Named::new(&case, format!("osh-why-unsigned-{runtime}"));
    let r = case.start(&["--name", &denied.name], "unsigned");
    case.assert_blocked(&r, "signedBy: no signature exists");
    let out = why(&denied.name);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("container {}", denied.name)),
        "{text}"
    );
    assert!(text.contains("): deny"), "{text}");
    assert!(text.contains("blocked container start"), "{text}");
    assert!(text.contains("signedBy: no signature exists"), "{text}");
    assert!(text.contains(&image("unsigned")), "{text}");

    let allowed = Named::new(&case, format!("osh-why-signed-{runtime}"));
    let r = case.start(&["--name", &allowed.name], "signed");
    assert!(r.started(), "{}", r.stderr());
    let out = why(&allowed.name);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("): allow"), "{text}");
}

/// A key file that is missing blocks every start, in words podman does not sort as a command
/// that is missing ("no such file", "not found": exit code 127) or may not run ("permission
/// denied"); podman reads the runtime's error that way.
fn missing_key_file_blocks_with_126(runtime: &'static str) {
    let policy =
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/missing.gpg"}]}"#;
    let case = Case::new("nokey", runtime, policy);
    let r = case.start(&["--rm"], "signed");
    case.assert_blocked(&r, "does not exist");
    let err = r.stderr().to_lowercase();
    for words in ["no such file", "not found", "permission denied"] {
        assert!(!err.contains(words), "{err}");
    }
}

fn insecure_accept_anything_starts_an_unsigned_image(runtime: &'static str) {
    let case = Case::new(
        "accept",
        runtime,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    let r = case.start(&["--rm"], "unsigned");
    assert!(r.started(), "{}", r.stderr());
    let rec = r.record("verdict=allow");
    assert!(rec.contains("reason=insecureAcceptAnything"), "{rec}");
}

fn wrong_key_is_blocked(runtime: &'static str) {
    let case = Case::new("wrongkey", runtime, TRUSTED);
    let r = case.start(&["--rm"], "wrongkey");
    case.assert_blocked(&r, "No public key");
}
