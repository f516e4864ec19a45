//! Every `signedIdentity` type against real signatures: the lab's `signed` image carries its own
//! identity, `other-identity` claims `lab/elsewhere:v9`.

use crate::common::{hook_verdict, lab, Scratch};

#[test]
fn each_signed_identity_type_accepts_and_rejects_as_documented() {
    let lab = lab();
    let dir = Scratch::new("identity");
    let digest_ref = format!(
        "{}/lab/signed@{}",
        lab.get("REGISTRY"),
        lab.get("DIGEST_SIGNED")
    );
    let cases: &[(&str, &str, bool)] = &[
        ("signed", r#"{"type":"matchRepoDigestOrExact"}"#, true),
        ("signed", r#"{"type":"matchExact"}"#, true),
        ("signed", r#"{"type":"matchRepository"}"#, true),
        (
            "signed",
            r#"{"type":"exactReference","dockerReference":"$REGISTRY/lab/signed:v1"}"#,
            true,
        ),
        (
            "signed",
            r#"{"type":"exactReference","dockerReference":"$REGISTRY/lab/signed:v2"}"#,
            false,
        ),
        (
            "signed",
            r#"{"type":"exactRepository","dockerRepository":"$REGISTRY/lab/signed"}"#,
            true,
        ),
        (
            "signed",
            r#"{"type":"exactRepository","dockerRepository":"$REGISTRY/lab/other"}"#,
            false,
        ),
        (
            "signed",
            r#"{"type":"remapIdentity","prefix":"$REGISTRY/lab","signedPrefix":"$REGISTRY/mirror"}"#,
            false,
        ),
        (
            "signed",
            r#"{"type":"remapIdentity","prefix":"$REGISTRY/nomatch","signedPrefix":"$REGISTRY/mirror"}"#,
            true,
        ),
        (
            "other-identity",
            r#"{"type":"matchRepoDigestOrExact"}"#,
            false,
        ),
        ("other-identity", r#"{"type":"matchExact"}"#, false),
        ("other-identity", r#"{"type":"matchRepository"}"#, false),
        (
            "other-identity",
            r#"{"type":"exactReference","dockerReference":"$REGISTRY/lab/elsewhere:v9"}"#,
            true,
        ),
        (
            "other-identity",
            r#"{"type":"exactRepository","dockerRepository":"$REGISTRY/lab/elsewhere"}"#,
            true,
        ),
        (
            "other-identity",
            r#"{"type":"remapIdentity","prefix":"$REGISTRY/lab/other-identity","signedPrefix":"$REGISTRY/lab/elsewhere"}"#,
            false,
        ),
        // Created by digest: the default rule wants the same repository only; matchExact the digest.
        ("@digest", r#"{"type":"matchRepoDigestOrExact"}"#, true),
        ("@digest", r#"{"type":"matchExact"}"#, false),
        ("@digest", r#"{"type":"matchRepository"}"#, true),
    ];
    for (i, (image, identity, want)) in cases.iter().enumerate() {
        let reference = if *image == "@digest" {
            digest_ref.clone()
        } else {
            lab.image(image)
        };
        let policy = format!(
            r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg","signedIdentity":{identity}}}]}}"#
        );
        let path = dir.file(&format!("p{i}.json"), lab.expand(&policy));
        let (_, state) = lab.container(&reference);
        let got = hook_verdict(&path, &state);
        assert_eq!(
            got.allowed(),
            *want,
            "{reference} under {identity}: {}",
            got.stderr
        );
        if !want {
            assert!(got.stderr.contains("is not accepted"), "{}", got.stderr);
        }
    }
}
