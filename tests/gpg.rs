//! The gpgme verifier with real keys and messages made by gpg: what counts as one good signature
//! by a trusted key, and that nothing (no temp dir, no gpg-agent) is left behind.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use oci_signature_hook::verify::gpg::Gpgme;
use oci_signature_hook::verify::Verifier;

use crate::common::{agents_under, Scratch};

fn gpg(home: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn fingerprints(home: &Path, uid: &str) -> Vec<String> {
    let out = gpg(home, &["--with-colons", "--list-keys", uid], b"");
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("fpr:"))
        .map(|l| l.split(':').nth(9).unwrap().to_string())
        .collect()
}

struct Keys {
    dir: Scratch,
    home: std::path::PathBuf,
}

impl Keys {
    fn new(name: &str) -> Keys {
        let dir = Scratch::new(name);
        let home = dir.path().join("gnupg");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        Keys { dir, home }
    }

    /// A new ed25519 signing key; `options` go before the command (e.g. a faked time).
    fn key(&self, uid: &str, options: &[&str]) -> String {
        let mut args = options.to_vec();
        args.extend_from_slice(&["--quick-gen-key", uid, "ed25519", "sign", "never"]);
        gpg(&self.home, &args, b"");
        fingerprints(&self.home, uid)[0].clone()
    }

    fn export(&self, fpr: &str) -> Vec<u8> {
        gpg(&self.home, &["--export", fpr], b"")
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .status();
    }
}

const PAYLOAD: &[u8] = b"{\"critical\":{}}";

#[test]
fn one_good_signature_by_a_trusted_key_verifies_and_nothing_is_left() {
    let k = Keys::new("gpg-good");
    let fpr = k.key("Good <good@example.com>", &[]);
    let sig = gpg(&k.home, &["--local-user", &fpr, "--sign"], PAYLOAD);
    let tmp = k.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let verifier = Gpgme { tmp: tmp.clone() };
    {
        let mut ring = verifier.open(&[k.export(&fpr)]).unwrap();
        assert_eq!(ring.key_count(), 1);
        let v = ring.verify(&sig).unwrap();
        assert_eq!(v.payload, PAYLOAD);
        assert_eq!(v.signer, fpr);
        // Armored keyrings import too.
        let armored = gpg(&k.home, &["--armor", "--export", &fpr], b"");
        assert_eq!(verifier.open(&[armored]).unwrap().key_count(), 1);
    }
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temporary GnuPG home left behind"
    );
    assert!(agents_under(&tmp).is_empty(), "gpg-agent left running");
}

#[test]
fn signatures_that_are_not_exactly_one_good_one_are_rejected() {
    let k = Keys::new("gpg-bad");
    let a = k.key("A <a@example.com>", &[]);
    let b = k.key("B <b@example.com>", &[]);
    let verifier = Gpgme {
        tmp: k.dir.path().to_path_buf(),
    };
    let mut ring = verifier.open(&[k.export(&a)]).unwrap();

    let by_b = gpg(&k.home, &["--local-user", &b, "--sign"], PAYLOAD);
    assert!(ring.verify(&by_b).unwrap_err().contains("No public key"));

    let two = gpg(
        &k.home,
        &["--local-user", &a, "--local-user", &b, "--sign"],
        PAYLOAD,
    );
    let mut both = verifier.open(&[k.export(&a), k.export(&b)]).unwrap();
    assert!(both.verify(&two).unwrap_err().contains("signature count 2"));

    let detached = gpg(&k.home, &["--local-user", &a, "--detach-sign"], PAYLOAD);
    assert!(ring.verify(&detached).is_err());

    let literal = gpg(&k.home, &["--store"], PAYLOAD);
    assert!(ring
        .verify(&literal)
        .unwrap_err()
        .contains("signature count 0"));

    let encrypted = gpg(&k.home, &["--symmetric", "--passphrase", "x"], PAYLOAD);
    assert!(ring.verify(&encrypted).is_err());

    let mut tampered = gpg(
        &k.home,
        &["--local-user", &a, "--sign", "--compress-algo", "none"],
        PAYLOAD,
    );
    let at = tampered
        .windows(PAYLOAD.len())
        .position(|w| w == PAYLOAD)
        .unwrap();
    tampered[at + 2] ^= 1;
    assert!(ring
        .verify(&tampered)
        .unwrap_err()
        .contains("Bad signature"));

    assert!(ring.verify(b"").is_err());
    assert!(ring.verify(b"\xa3garbage").is_err());
}

#[test]
fn expired_signatures_are_rejected() {
    let k = Keys::new("gpg-expired");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let created = (now - 3600).to_string();
    let a = k.key("A <a@example.com>", &["--faked-system-time", &created]);
    let then = (now - 600).to_string();
    let sig = gpg(
        &k.home,
        &[
            "--faked-system-time",
            &then,
            "--default-sig-expire",
            "seconds=60",
            "--local-user",
            &a,
            "--sign",
        ],
        PAYLOAD,
    );
    let verifier = Gpgme {
        tmp: k.dir.path().to_path_buf(),
    };
    let mut ring = verifier.open(&[k.export(&a)]).unwrap();
    let err = ring.verify(&sig).unwrap_err();
    assert!(err.to_lowercase().contains("expired"), "{err}");
}

#[test]
fn a_signing_subkey_counts_for_its_primary_key() {
    let k = Keys::new("gpg-subkey");
    let primary = k.key("Primary <p@example.com>", &[]);
    gpg(
        &k.home,
        &["--quick-add-key", &primary, "ed25519", "sign", "never"],
        b"",
    );
    let fprs = fingerprints(&k.home, &primary);
    let sub = fprs.iter().find(|f| **f != primary).unwrap().clone();
    let sig = gpg(
        &k.home,
        &["--local-user", &format!("{sub}!"), "--sign"],
        PAYLOAD,
    );
    let verifier = Gpgme {
        tmp: k.dir.path().to_path_buf(),
    };
    let mut ring = verifier.open(&[k.export(&primary)]).unwrap();
    let v = ring.verify(&sig).unwrap();
    assert_eq!(v.signer, primary, "the subkey {sub} maps to its primary");
}

#[test]
fn garbage_keys_import_nothing() {
    let dir = Scratch::new("gpg-garbage-keys");
    let verifier = Gpgme {
        tmp: dir.path().to_path_buf(),
    };
    assert_eq!(
        verifier.open(&[b"nonsense".to_vec()]).unwrap().key_count(),
        0
    );
    assert_eq!(verifier.open(&[]).unwrap().key_count(), 0);
}
