//! The OpenPGP verifiers with real keys and messages made by gpg: what counts as one good
//! signature by a trusted key, and that nothing (no temp dir, no gpg-agent) is left behind. Every
//! test runs against gpgme and, in a build with the `sequoia` feature, against Sequoia too.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use oci_signature_hook::verify::gpg::Gpgme;
use oci_signature_hook::verify::Verifier;

/// Every verifier of this build, by name; gpgme's temporary homes go under `tmp`.
fn verifiers(tmp: &Path) -> Vec<(&'static str, Box<dyn Verifier>)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, Box<dyn Verifier>)> = vec![(
        "gpgme",
        Box::new(Gpgme {
            tmp: tmp.to_path_buf(),
        }),
    )];
    #[cfg(feature = "sequoia")]
    v.push((
        "sequoia",
        Box::new(oci_signature_hook::verify::sequoia::Sequoia),
    ));
    v
}

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
    for (name, verifier) in verifiers(&tmp) {
        let mut ring = verifier.open(&[k.export(&fpr)]).unwrap();
        assert_eq!(ring.key_count(), 1, "{name}");
        let v = ring.verify(&sig).unwrap();
        assert_eq!(v.payload, PAYLOAD, "{name}");
        assert_eq!(v.signer, fpr, "{name}");
        // Armored keyrings import too.
        let armored = gpg(&k.home, &["--armor", "--export", &fpr], b"");
        assert_eq!(verifier.open(&[armored]).unwrap().key_count(), 1, "{name}");
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
    let by_b = gpg(&k.home, &["--local-user", &b, "--sign"], PAYLOAD);
    let two = gpg(
        &k.home,
        &["--local-user", &a, "--local-user", &b, "--sign"],
        PAYLOAD,
    );
    let detached = gpg(&k.home, &["--local-user", &a, "--detach-sign"], PAYLOAD);
    let literal = gpg(&k.home, &["--store"], PAYLOAD);
    let encrypted = gpg(&k.home, &["--symmetric", "--passphrase", "x"], PAYLOAD);
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

    for (name, verifier) in verifiers(k.dir.path()) {
        let mut ring = verifier.open(&[k.export(&a)]).unwrap();
        let err = ring.verify(&by_b).unwrap_err();
        assert!(err.contains("No public key"), "{name}: {err}");
        let mut both = verifier.open(&[k.export(&a), k.export(&b)]).unwrap();
        let err = both.verify(&two).unwrap_err();
        assert!(err.contains("signature count 2"), "{name}: {err}");
        assert!(ring.verify(&detached).is_err(), "{name}");
        let err = ring.verify(&literal).unwrap_err();
        assert!(err.contains("signature count 0"), "{name}: {err}");
        assert!(ring.verify(&encrypted).is_err(), "{name}");
        let err = ring.verify(&tampered).unwrap_err();
        assert!(err.contains("Bad signature"), "{name}: {err}");
        assert!(ring.verify(b"").is_err(), "{name}");
        assert!(ring.verify(b"\xa3garbage").is_err(), "{name}");
    }
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
    for (name, verifier) in verifiers(k.dir.path()) {
        let mut ring = verifier.open(&[k.export(&a)]).unwrap();
        let err = ring.verify(&sig).unwrap_err();
        assert!(
            err.to_lowercase().contains("expired") || err.contains("not alive"),
            "{name}: {err}"
        );
    }
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
    for (name, verifier) in verifiers(k.dir.path()) {
        let mut ring = verifier.open(&[k.export(&primary)]).unwrap();
        let v = ring.verify(&sig).unwrap();
        assert_eq!(
            v.signer, primary,
            "{name}: the subkey {sub} maps to its primary"
        );
    }
}

#[test]
fn garbage_keys_import_nothing() {
    let dir = Scratch::new("gpg-garbage-keys");
    for (name, verifier) in verifiers(dir.path()) {
        assert_eq!(
            verifier.open(&[b"nonsense".to_vec()]).unwrap().key_count(),
            0,
            "{name}"
        );
        assert_eq!(verifier.open(&[]).unwrap().key_count(), 0, "{name}");
    }
}

#[test]
fn a_key_expired_or_revoked_since_signing_is_rejected_by_every_verifier() {
    let k = Keys::new("gpg-since");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Expired: valid for an hour from two hours ago; it signed while valid.
    let created = (now - 7200).to_string();
    let mut args = vec!["--faked-system-time", created.as_str()];
    args.extend_from_slice(&[
        "--quick-gen-key",
        "Expiring <e@example.com>",
        "ed25519",
        "sign",
        "seconds=3600",
    ]);
    gpg(&k.home, &args, b"");
    let expiring = fingerprints(&k.home, "Expiring <e@example.com>")[0].clone();
    let then = (now - 5400).to_string();
    let by_expired = gpg(
        &k.home,
        &[
            "--faked-system-time",
            &then,
            "--local-user",
            &expiring,
            "--sign",
        ],
        PAYLOAD,
    );
    // Revoked: signed first, then revoked with the revocation certificate gpg made for it.
    let revoked = k.key("Revoked <r@example.com>", &[]);
    let by_revoked = gpg(&k.home, &["--local-user", &revoked, "--sign"], PAYLOAD);
    let rev = std::fs::read_to_string(
        k.home
            .join("openpgp-revocs.d")
            .join(format!("{revoked}.rev")),
    )
    .unwrap()
    .replace("\n:-----BEGIN", "\n-----BEGIN");
    gpg(&k.home, &["--import"], rev.as_bytes());
    for (name, verifier) in verifiers(k.dir.path()) {
        let mut ring = verifier.open(&[k.export(&expiring)]).unwrap();
        let err = ring.verify(&by_expired).unwrap_err();
        assert!(
            err.to_lowercase().contains("expired") || err.contains("not alive"),
            "{name}: {err}"
        );
        let mut ring = verifier.open(&[k.export(&revoked)]).unwrap();
        let err = ring.verify(&by_revoked).unwrap_err();
        assert!(err.to_lowercase().contains("revoked"), "{name}: {err}");
    }
}

/// The documented difference: Sequoia's standard policy rejects SHA-1 signatures, which
/// GnuPG 2.2 (and so gpgme and containers/image) still accepts.
#[cfg(feature = "sequoia")]
#[test]
fn sequoia_rejects_sha1_signatures_that_gpgme_accepts() {
    let k = Keys::new("gpg-sha1");
    gpg(
        &k.home,
        &[
            "--quick-gen-key",
            "Old <old@example.com>",
            "rsa2048",
            "sign",
            "never",
        ],
        b"",
    );
    let old = fingerprints(&k.home, "Old <old@example.com>")[0].clone();
    let sig = gpg(
        &k.home,
        &["--local-user", &old, "--digest-algo", "SHA1", "--sign"],
        PAYLOAD,
    );
    let key = k.export(&old);
    let gpgme = Gpgme {
        tmp: k.dir.path().to_path_buf(),
    };
    assert_eq!(
        gpgme
            .open(std::slice::from_ref(&key))
            .unwrap()
            .verify(&sig)
            .unwrap()
            .signer,
        old
    );
    let err = oci_signature_hook::verify::sequoia::Sequoia
        .open(&[key])
        .unwrap()
        .verify(&sig)
        .unwrap_err();
    assert!(err.contains("Policy rejected"), "{err}");
}
