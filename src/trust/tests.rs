//! The report on policies and config files of every kind, with the fake OpenPGP implementation
//! (a key is `KEY:<name>`) and the sigstore fixtures' real keys and certificates.

use super::*;
use crate::testing::Fake;
use crate::verify::sigstore::tests::fixture;

/// A scratch directory holding the policy, its key files and a config file.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        let d = tempfile::tempdir().unwrap();
        let put = |name: &str, data: &[u8]| std::fs::write(d.path().join(name), data).unwrap();
        put("gpg.key", b"KEY:trusted");
        put("not-a-key.gpg", b"garbage");
        put("p256.pem", &fixture("key-p256.pem"));
        put("rsa.pem", &fixture("key-rsa.pem"));
        put("garbage.pem", &fixture("key-garbage.pem"));
        put("rekor.pem", &fixture("rekor.pem"));
        put("ca.pem", &fixture("ca-root.pem"));
        put("int.pem", &fixture("int-ca.pem"));
        Files(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// `report` on `policy` (with `$D` standing for the directory) and a config file of `config`
    /// (none if `None`).
    fn report(&self, policy: &str, config: Option<&str>) -> Report {
        let p = self.path("policy.json");
        std::fs::write(&p, policy.replace("$D", self.0.path().to_str().unwrap())).unwrap();
        let c = self.path("hook.conf");
        let _ = std::fs::remove_file(&c);
        if let Some(text) = config {
            std::fs::write(&c, text).unwrap();
        }
        // The file is this test's own: its owner counts as root.
        let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&p).unwrap());
        report(&p, &c, uid, &Fake)
    }
}

const ACCEPT: &str = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;

fn signed_by(key: &str) -> String {
    format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"registry.example.com":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"$D/{key}"}}]}}}}}}"#
    )
}

fn sigstore_key(key: &str, rekor: &str) -> String {
    format!(
        r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{"r.example.com":[{{"type":"sigstoreSigned","keyPath":"$D/{key}","rekorPublicKeyPath":"$D/{rekor}","signedIdentity":{{"type":"matchRepository"}}}}]}}}}}}"#
    )
}

#[test]
fn every_source_is_read_and_parsed_as_the_hook_does() {
    let f = Files::new();
    type Case = (&'static str, String, usize, &'static [&'static str]);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("accept anything", ACCEPT.into(), 0, &["default\n  1. insecureAcceptAnything\n"]),
        ("a GPG key", signed_by("gpg.key"), 0,
            &["docker \"registry.example.com\"\n  1. signedBy, keyType GPGKeys, signedIdentity matchRepoDigestOrExact\n", "GPG keys $D/gpg.key: ok, 1 key imported (by fake)"]),
        ("a missing GPG key", signed_by("missing.gpg"), 1, &["GPG keys $D/missing.gpg: PROBLEM: key file \"$D/missing.gpg\" does not exist"]),
        ("a file with no key", signed_by("not-a-key.gpg"), 1, &["PROBLEM: no public key imported (by fake)"]),
        ("keyPaths, one missing",
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["$D/gpg.key","$D/gone.gpg"]}]}"#.into(), 1,
            &["$D/gpg.key: ok", "$D/gone.gpg: PROBLEM"]),
        ("keyData", r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"S0VZOmlubGluZQ=="}]}"#.into(), 0,
            &["GPG keys (inline data): ok, 1 key imported"]),
        ("an unimplemented keyType",
            r#"{"default":[{"type":"signedBy","keyType":"X509Certificates","keyPath":"/x"}]}"#.into(), 1,
            &["PROBLEM: keyType X509Certificates is not implemented"]),
        ("signedBaseLayer",
            r#"{"default":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchExact"}}]}"#.into(), 1,
            &["PROBLEM: not implemented"]),
        ("sigstore: a P-256 key and an ECDSA Rekor key", sigstore_key("p256.pem", "rekor.pem"), 0,
            &["signedIdentity matchRepository", "public key $D/p256.pem: ok, ECDSA P-256", "Rekor key $D/rekor.pem: ok, ECDSA P-256"]),
        ("sigstore: an unparsable key", sigstore_key("garbage.pem", "rekor.pem"), 1,
            &["public key $D/garbage.pem: PROBLEM: parsing public key"]),
        ("sigstore: an RSA Rekor key", sigstore_key("p256.pem", "rsa.pem"), 1,
            &["Rekor key $D/rsa.pem: PROBLEM: Rekor public key is not using ECDSA (RSA"]),
        ("sigstore: both missing", sigstore_key("none.pem", "none2.pem"), 2, &["none.pem: PROBLEM", "none2.pem: PROBLEM"]),
        ("fulcio", r#"{"default":[{"type":"sigstoreSigned","fulcio":{"caPath":"$D/ca.pem","oidcIssuer":"https://issuer","subjectEmail":"a@example.com"},"rekorPublicKeyPath":"$D/rekor.pem"}]}"#.into(), 0,
            &["oidcIssuer https://issuer, subjectEmail a@example.com", "Fulcio CA $D/ca.pem: ok, 1 certificate"]),
        ("fulcio, a key for a CA", r#"{"default":[{"type":"sigstoreSigned","fulcio":{"caPath":"$D/p256.pem","oidcIssuer":"https://issuer","subjectEmail":"a@example.com"},"rekorPublicKeyPath":"$D/rekor.pem"}]}"#.into(), 1,
            &["Fulcio CA $D/p256.pem: PROBLEM: error loading Fulcio CA certificates"]),
        ("pki", r#"{"default":[{"type":"sigstoreSigned","pki":{"caRootsPath":"$D/ca.pem","caIntermediatesPath":"$D/int.pem","subjectHostname":"h.example.com"}}]}"#.into(), 0,
            &["subjectHostname h.example.com", "PKI roots $D/ca.pem: ok, 1 certificate", "PKI intermediates $D/int.pem: ok, 1 certificate"]),
        ("pki, garbage intermediates", r#"{"default":[{"type":"sigstoreSigned","pki":{"caRootsPath":"$D/ca.pem","caIntermediatesPath":"$D/garbage.pem","subjectEmail":"a@example.com"}}]}"#.into(), 1,
            &["PKI intermediates $D/garbage.pem: PROBLEM: loading trusted intermediate certificates"]),
        ("not JSON", "{".into(), 1, &["PROBLEM: invalid policy in", "(the hook denies every start)"]),
        ("an unknown key", r#"{"default":[{"type":"reject"}],"extra":1}"#.into(), 1, &["PROBLEM: invalid policy in"]),
    ];
    let dir = f.0.path().to_str().unwrap().to_string();
    for (what, policy, problems, want) in cases {
        let r = f.report(&policy, None);
        let t = text(&r);
        assert_eq!(r.problems, problems, "{what}:\n{t}");
        for w in want {
            let w = w.replace("$D", &dir);
            assert!(t.contains(&w), "{what}: {w:?} not in\n{t}");
        }
        let end = match problems {
            0 => "\nno problems found\n".to_string(),
            1 => "\n1 problem found\n".to_string(),
            n => format!("\n{n} problems found\n"),
        };
        assert!(t.ends_with(&end), "{what}:\n{t}");
        // The JSON says the same.
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["problems"], problems, "{what}");
    }
}

#[test]
fn the_config_file_is_validated() {
    let f = Files::new();
    type Case = (&'static str, Option<&'static str>, usize, &'static str);
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("none", None, 0, "none; the defaults apply: mode enforce, imageless policy"),
        ("warn", Some("mode = \"warn\"\n"), 0, "valid: mode warn, imageless policy"),
        ("imageless", Some("imageless = \"deny\"\n"), 0, "valid: mode enforce, imageless deny"),
        ("an unknown key", Some("mode = \"warn\"\nmodes = 1\n"), 1, "PROBLEM: invalid"),
        ("a bad value", Some("mode = \"off\"\n"), 1, "PROBLEM: invalid"),
        ("not TOML", Some("mode =\n"), 1, "PROBLEM: invalid"),
    ];
    for (what, config, problems, want) in cases {
        let r = f.report(ACCEPT, *config);
        let t = text(&r);
        assert_eq!(r.problems, *problems, "{what}:\n{t}");
        assert!(t.contains(want), "{what}: {want:?} not in\n{t}");
    }
    let r = f.report(ACCEPT, Some("mode = \"warn\"\n"));
    assert!(
        r.notes.iter().any(|n| n.starts_with("mode = warn")),
        "{:?}",
        r.notes
    );
}

#[test]
fn a_strict_default_is_explained() {
    let f = Files::new();
    type Case = (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    );
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("accept anything", ACCEPT, &[], &["default is", "podman applies"]),
        ("reject, no other transport", r#"{"default":[{"type":"reject"}]}"#,
            &["default is reject: the hook denies every image no docker scope covers", "pod infra rule",
              "podman load of a docker-archive (\"docker-archive\"), podman load of an oci-archive (\"oci-archive\"), podman save (\"containers-storage\") fail"], &[]),
        ("reject, the archives allowed", r#"{"default":[{"type":"reject"}],"transports":{"docker-archive":{"":[{"type":"insecureAcceptAnything"}]},"oci-archive":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
            &["podman save (\"containers-storage\") fail"], &["docker-archive\")"]),
        ("reject, every podman transport", r#"{"default":[{"type":"reject"}],"transports":{"docker-archive":{"":[{"type":"insecureAcceptAnything"}]},"oci-archive":{"":[{"type":"insecureAcceptAnything"}]},"containers-storage":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
            &["default is reject"], &["podman applies"]),
        ("signedBy default", r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"S0VZOng="}]}"#,
            &["default is signedBy"], &[]),
    ];
    for (what, policy, want, not) in cases {
        let r = f.report(policy, None);
        let notes = r.notes.join("\n");
        for w in *want {
            assert!(notes.contains(w), "{what}: {w:?} not in\n{notes}");
        }
        for n in *not {
            assert!(!notes.contains(n), "{what}: {n:?} in\n{notes}");
        }
        assert_eq!(r.problems, 0, "{what}: notes are not problems");
    }
}
