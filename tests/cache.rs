//! The verdict cache on a real store: a second start of the same image is answered from the
//! cache, and any change to what the verdict depends on (the policy file, a key file, the stored
//! signatures) takes effect at the very next start. Errors and denies are never cached; a corrupt
//! or foreign entry is ignored.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{lab, run_hook, unique, Scratch};

/// One hook run: its exit code and the audit record it sent.
struct Start {
    code: Option<i32>,
    record: String,
    stderr: String,
}

impl Start {
    fn cached(&self) -> bool {
        self.record.contains("(cached verdict)")
    }
}

struct Bench {
    dir: Scratch,
    cache: PathBuf,
    socket: PathBuf,
    receiver: UnixDatagram,
}

impl Bench {
    fn new(name: &str) -> Bench {
        let dir = Scratch::new(name);
        let cache = dir.path().join("cache");
        let socket = dir.path().join("log");
        let receiver = UnixDatagram::bind(&socket).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Bench {
            dir,
            cache,
            socket,
            receiver,
        }
    }

    fn start(&self, policy: &Path, state: &str) -> Start {
        let tmp = self.dir.path().join(format!("tmp-{}", unique()));
        std::fs::create_dir(&tmp).unwrap();
        let out = run_hook(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--syslog-socket",
                self.socket.to_str().unwrap(),
                "--cache-dir",
                self.cache.to_str().unwrap(),
            ],
            state.as_bytes(),
            &tmp,
        );
        let mut buf = vec![0u8; 64 << 10];
        let n = self.receiver.recv(&mut buf).expect("no audit record");
        Start {
            code: out.status.code(),
            record: String::from_utf8_lossy(&buf[..n]).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The cache's entries (the `decisions` directory beside them is not one).
    fn entries(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(&self.cache) {
            Ok(d) => d
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn policy_for(key: &Path) -> String {
    format!(
        r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}"#,
        key.display()
    )
}

fn keys() -> PathBuf {
    PathBuf::from(lab().get("LAB")).join("keys")
}

/// A bench, a policy trusting the lab key, and the state of a container of the signed image.
fn signed_start(name: &str) -> (Bench, PathBuf, String) {
    let lab = lab();
    let b = Bench::new(name);
    let policy = b
        .dir
        .file("policy.json", policy_for(&keys().join("trusted.gpg")));
    let (_, state) = lab.container(&lab.image("signed"));
    (b, policy, state)
}

#[test]
fn a_second_start_is_answered_from_the_cache() {
    let lab = lab();
    let (b, policy, state) = signed_start("cache-hit");
    let first = b.start(&policy, &state);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(!first.cached(), "{}", first.record);
    // The directory is private, and holds one private entry.
    let mode = std::fs::metadata(&b.cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let entries = b.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry_mode = std::fs::metadata(&entries[0]).unwrap().permissions().mode();
    assert_eq!(entry_mode & 0o777, 0o600);
    let second = b.start(&policy, &state);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(second.cached(), "{}", second.record);

    // Another reference to the same image is another key.
    let (_, by_digest) = lab.container(&format!(
        "{}/lab/signed@{}",
        lab.get("REGISTRY"),
        lab.get("DIGEST_SIGNED")
    ));
    let other = b.start(&policy, &by_digest);
    assert_eq!(other.code, Some(0), "{}", other.stderr);
    assert!(!other.cached(), "{}", other.record);

    // A corrupt entry is ignored (the start verifies again) and replaced.
    for e in b.entries() {
        std::fs::write(&e, "verdict=allow\n").unwrap();
    }
    let again = b.start(&policy, &state);
    assert_eq!(again.code, Some(0));
    assert!(!again.cached(), "{}", again.record);
    assert!(b.start(&policy, &state).cached());
    // An entry another user owns is ignored.
    for e in b.entries() {
        std::os::unix::fs::chown(&e, Some(65534), Some(65534)).unwrap();
    }
    assert!(!b.start(&policy, &state).cached());
    // So is a cache directory others can write to.
    std::fs::set_permissions(&b.cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(!b.start(&policy, &state).cached());
    assert!(!b.start(&policy, &state).cached());
}

#[test]
fn a_changed_policy_takes_effect_at_the_next_start() {
    let (b, policy, state) = signed_start("cache-policy");
    assert_eq!(b.start(&policy, &state).code, Some(0));
    assert!(b.start(&policy, &state).cached());
    // The same file now trusts another key: denied at once.
    std::fs::write(&policy, policy_for(&keys().join("other.gpg"))).unwrap();
    let denied = b.start(&policy, &state);
    assert_eq!(denied.code, Some(1), "{}", denied.record);
    assert!(denied.record.contains("verdict=deny"), "{}", denied.record);
    // Even a change that does not alter the meaning is a new key.
    std::fs::write(
        &policy,
        format!("{}\n", policy_for(&keys().join("trusted.gpg"))),
    )
    .unwrap();
    let allowed = b.start(&policy, &state);
    assert_eq!(allowed.code, Some(0));
    assert!(!allowed.cached(), "{}", allowed.record);
}

#[test]
fn a_changed_key_file_takes_effect_at_the_next_start() {
    let lab = lab();
    let b = Bench::new("cache-key");
    let key = b.dir.path().join("key.gpg");
    std::fs::copy(keys().join("trusted.gpg"), &key).unwrap();
    let policy = b.dir.file("policy.json", policy_for(&key));
    let (_, state) = lab.container(&lab.image("signed"));
    assert_eq!(b.start(&policy, &state).code, Some(0));
    assert!(b.start(&policy, &state).cached());
    // The policy is unchanged; the key file it names now holds another key.
    std::fs::copy(keys().join("other.gpg"), &key).unwrap();
    let denied = b.start(&policy, &state);
    assert_eq!(denied.code, Some(1), "{}", denied.record);
    assert!(denied.record.contains("verdict=deny"), "{}", denied.record);
    // A key file that cannot be read is an error: denied, and nothing is cached for it.
    std::fs::remove_file(&key).unwrap();
    let before = b.entries().len();
    let missing = b.start(&policy, &state);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.record.contains("key.gpg\\\" does not exist"),
        "{}",
        missing.record
    );
    assert_eq!(b.entries().len(), before);
}

/// A private vfs store of the test's own, filled by `podman pull` from the lab registry (so that
/// pulls store signatures, under the lab's accept-anything policy).
struct Store(Scratch);

impl Store {
    fn new(name: &str) -> Store {
        Store(Scratch::new(&format!("{name}-{}", unique())))
    }

    fn podman(&self, args: &[&str]) -> String {
        let out = lab().vfs_podman(self.0.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn pull(&self, image: &str) {
        let accept = lab().get("POLICY_ACCEPT");
        self.podman(&[
            "pull",
            "-q",
            "--tls-verify=false",
            "--signature-policy",
            accept,
            image,
        ]);
    }

    /// Creates a container of `image` and returns its OCI state.
    fn container(&self, image: &str) -> String {
        let id = self.podman(&["create", image, "true"]);
        format!(
            r#"{{"ociVersion":"1.0.2","id":"{id}","status":"creating","bundle":"{}/root/vfs-containers/{id}/userdata"}}"#,
            self.0.path().display()
        )
    }
}

#[test]
fn changed_signatures_take_effect_at_the_next_start() {
    let lab = lab();
    let b = Bench::new("cache-sigs");
    let policy = b
        .dir
        .file("policy.json", policy_for(&keys().join("trusted.gpg")));
    let store = Store::new("cache-store");
    let signed = lab.image("signed");
    store.pull(&signed);
    let state = store.container(&signed);
    assert_eq!(b.start(&policy, &state).code, Some(0));
    assert!(b.start(&policy, &state).cached());
    // The same image ID pulled again from an unsigned copy: its stored signatures are replaced.
    let mirror = lab.unsigned_copy(&signed, "cache-mirror");
    store.pull(&mirror);
    let denied = b.start(&policy, &state);
    assert_eq!(denied.code, Some(1), "{}", denied.record);
    assert!(
        denied.record.contains("no signature exists"),
        "{}",
        denied.record
    );
}

#[test]
fn an_allow_ends_when_its_signature_expires() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let lab = lab();
    let b = Bench::new("cache-expiry");
    let policy = b
        .dir
        .file("policy.json", policy_for(&keys().join("trusted.gpg")));
    // The signed image's manifest under a new name, signed by the trusted key for 15 s.
    let copy = lab.unsigned_copy(&lab.image("signed"), "cache-expiry");
    let digest = lab.get("DIGEST_SIGNED");
    let payload = format!(
        r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{digest}"}},"identity":{{"docker-reference":"{copy}"}}}},"optional":{{}}}}"#
    );
    let expires_at = Instant::now() + Duration::from_secs(15);
    let mut gpg = Command::new("gpg")
        .env("GNUPGHOME", lab.get("GNUPGHOME"))
        .args(["--batch", "--no-tty", "--default-sig-expire", "seconds=15"])
        .args([
            "--local-user",
            lab.get("TRUSTED_FPR"),
            "--output",
            "-",
            "--sign",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    gpg.stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let signed = gpg.wait_with_output().unwrap();
    assert!(
        signed.status.success(),
        "gpg --sign: {}",
        String::from_utf8_lossy(&signed.stderr)
    );
    // Where a pull looks for it: the lab's lookaside, `<repository path>@sha256=<hex>/signature-1`.
    let path = copy
        .strip_prefix(&format!("{}/", lab.get("REGISTRY")))
        .and_then(|p| p.rsplit_once(':'))
        .map(|(p, _)| p)
        .unwrap();
    let sigdir =
        Path::new(lab.get("LOOKASIDE")).join(format!("{path}@{}", digest.replacen(':', "=", 1)));
    std::fs::create_dir_all(&sigdir).unwrap();
    std::fs::write(sigdir.join("signature-1"), &signed.stdout).unwrap();

    let store = Store::new("cache-expiry-store");
    store.pull(&copy);
    let state = store.container(&copy);

    let first = b.start(&policy, &state);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(
        Instant::now() < expires_at,
        "the setup outlasted the signature"
    );
    assert!(b.start(&policy, &state).cached());
    // Once the signature has expired, the cached allow is not used and gpg refuses it.
    std::thread::sleep(
        expires_at.saturating_duration_since(Instant::now()) + Duration::from_secs(2),
    );
    let after = b.start(&policy, &state);
    assert_eq!(after.code, Some(1), "{}", after.record);
    assert!(!after.cached(), "{}", after.record);
    assert!(after.record.contains("xpired"), "{}", after.record);
    std::fs::remove_dir_all(&sigdir).unwrap();
}
