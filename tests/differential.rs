//! The hook's verdict against containers/image's own: for every policy × image below, the hook
//! (reading the signatures stored in containers-storage) must agree with
//! `podman pull --signature-policy P IMAGE` (reading them from the registry's lookaside).

use crate::common::{hook_verdict_with, lab, Scratch, LAB_IMAGES};

/// Policies, with `$REGISTRY` and `$KEYS` filled in from the lab.
const POLICIES: &[(&str, &str)] = &[
    (
        "accept",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    ),
    ("reject", r#"{"default":[{"type":"reject"}]}"#),
    (
        "trusted",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#,
    ),
    (
        "trusted-armored",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.asc"}]}"#,
    ),
    (
        "other",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/other.gpg"}]}"#,
    ),
    (
        "expired",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/expired.gpg"}]}"#,
    ),
    (
        "revoked",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/revoked.gpg"}]}"#,
    ),
    (
        "keypaths",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["$KEYS/other.gpg","$KEYS/trusted.gpg"]}]}"#,
    ),
    (
        "keypaths-empty",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}]}"#,
    ),
    (
        "keypaths-missing",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["$KEYS/trusted.gpg","$KEYS/missing.gpg"]}]}"#,
    ),
    (
        "keypath-missing",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/missing.gpg"}]}"#,
    ),
    (
        "keydata-garbage",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"bm9uc2Vuc2U="}]}"#,
    ),
    (
        "keytype-unimplemented",
        r#"{"default":[{"type":"signedBy","keyType":"signedByGPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#,
    ),
    (
        "both-keys",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"},{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/other.gpg"}]}"#,
    ),
    (
        "match-exact",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{"type":"matchExact"}}]}"#,
    ),
    (
        "match-repository",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{"type":"matchRepository"}}]}"#,
    ),
    (
        "exact-reference",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{"type":"exactReference","dockerReference":"$REGISTRY/lab/elsewhere:v9"}}]}"#,
    ),
    (
        "exact-repository",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{"type":"exactRepository","dockerRepository":"$REGISTRY/lab/elsewhere"}}]}"#,
    ),
    (
        "remap-mirror",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{"type":"remapIdentity","prefix":"$REGISTRY/lab","signedPrefix":"$REGISTRY/mirror"}}]}"#,
    ),
    (
        "remap-unrelated",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{"type":"remapIdentity","prefix":"example.com","signedPrefix":"example.net"}}]}"#,
    ),
    (
        "scoped",
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{
        "$REGISTRY/lab/unsigned":[{"type":"insecureAcceptAnything"}],
        "$REGISTRY/lab":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}],
        "$REGISTRY/lab/wrongkey:v1":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/other.gpg"}]}}}"#,
    ),
    (
        "wildcard",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{
        "*.0.0.1":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}],
        "*.1":[{"type":"reject"}]}}}"#,
    ),
    (
        "transport-default",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{
        "":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}],
        "other.example.com":[{"type":"insecureAcceptAnything"}]}}}"#,
    ),
    (
        "other-transports",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}],"transports":{
        "dir":{"/var/lib/x":[{"type":"insecureAcceptAnything"}]},
        "containers-storage":{"[overlay@/var/lib/containers/storage]":[{"type":"reject"}]},
        "docker-daemon":{"":[{"type":"reject"}]}}}"#,
    ),
    (
        "invalid-unknown-key",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"x":[{"type":"reject","x":1}]}}}"#,
    ),
    (
        "invalid-storage-scope",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"containers-storage":{"docker.io/library/busybox":[{"type":"reject"}]}}}"#,
    ),
    (
        "invalid-duplicate",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"default":[{"type":"insecureAcceptAnything"}]}"#,
    ),
    (
        "signed-base-layer",
        r#"{"default":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}]}"#,
    ),
    (
        "accept-then-reject",
        r#"{"default":[{"type":"insecureAcceptAnything"},{"type":"reject"}]}"#,
    ),
    (
        // Invalid for every containers/image: 5.23 does not know `fulcio`, the newest refuses null.
        "sigstore-null-fulcio",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"quay.io":[{"type":"sigstoreSigned","keyPath":"/k","fulcio":null}]}}}"#,
    ),
];

#[test]
fn hook_verdicts_match_podman_pull() {
    let lab = lab();
    let dir = Scratch::new("differential");
    let mut refs: Vec<String> = LAB_IMAGES.iter().map(|i| lab.image(i)).collect();
    // By digest too: the identity is then digest-only.
    for name in ["signed", "other-identity"] {
        let key = format!("DIGEST_{}", name.to_uppercase().replace('-', "_"));
        refs.push(format!(
            "{}/lab/{name}@{}",
            lab.get("REGISTRY"),
            lab.get(&key)
        ));
    }
    let states: Vec<String> = refs.iter().map(|r| lab.container(r).1).collect();

    // Every OpenPGP implementation of this build must give containers/image's verdicts.
    let openpgp: &[&str] = if cfg!(feature = "sequoia") {
        &["gpgme", "sequoia"]
    } else {
        &["gpgme"]
    };
    let mut table = Vec::new();
    let mut mismatches = Vec::new();
    for (name, text) in POLICIES {
        let policy = dir.file(&format!("{name}.json"), lab.expand(text));
        for (r, state) in refs.iter().zip(&states) {
            let oracle = pull_allowed(&policy, r, &dir);
            for imp in openpgp {
                let hook = hook_verdict_with(&policy, state, &["--openpgp", imp]);
                table.push(format!(
                    "{name:22} {r:90} {imp:8} hook={} pull={}",
                    verdict(hook.allowed()),
                    verdict(oracle)
                ));
                if hook.allowed() != oracle {
                    mismatches.push(format!(
                        "{name} {r} ({imp}): hook {} ({}), podman pull {}",
                        verdict(hook.allowed()),
                        hook.stderr.trim(),
                        verdict(oracle)
                    ));
                }
            }
        }
    }
    println!("{}", table.join("\n"));
    assert!(
        mismatches.is_empty(),
        "{} disagreements:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The table must exercise both verdicts for most images.
    let per = openpgp.len();
    assert!(table.iter().filter(|l| l.ends_with("pull=allow")).count() > 40 * per);
    assert!(table.iter().filter(|l| l.ends_with("pull=deny")).count() > 100 * per);
}

fn verdict(allowed: bool) -> &'static str {
    if allowed {
        "allow"
    } else {
        "deny"
    }
}

/// containers/image's verdict: `podman pull --signature-policy` into a throwaway store.
fn pull_allowed(policy: &std::path::Path, image: &str, dir: &Scratch) -> bool {
    let lab = lab();
    let out = lab
        .vfs_podman(&dir.path().join("oracle"))
        .args(["pull", "-q", "--signature-policy"])
        .arg(policy)
        .arg(image)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // A pull that fails for another reason than the policy would make the comparison meaningless.
    if !out.status.success() {
        assert!(
            err.contains("Source image rejected")
                || err.contains("invalid policy")
                || err.contains("policy"),
            "podman pull {image} failed for another reason: {err}"
        );
    }
    out.status.success()
}
