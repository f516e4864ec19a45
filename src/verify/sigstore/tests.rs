//! sigstore verification with real keys, certificates and Rekor SETs (`testdata/`, made by
//! `testdata/make.py`): key parsing and payload signatures, RFC 8785, and `sigstoreSigned`
//! end to end through `verify::evaluate`. Expected verdicts are containers/image 5.34's
//! (`signature/policy_eval_sigstore.go`, sigstore `pkg/cryptoutils`, `pkg/signature`).
#![allow(clippy::unwrap_used, clippy::panic, clippy::type_complexity)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::keys::{self, PublicKey};
use super::*;
use crate::json::Value;
use crate::policy::Policy;
use crate::reference::Reference;
use crate::signature::Signature;
use crate::testing::Fake;

/// The bytes of a fixture file.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/verify/sigstore/testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture file as text.
pub(crate) fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

/// A signature fixture's bytes.
fn sig(name: &str) -> Vec<u8> {
    unb64(&text(&format!("sig-{name}.b64")))
}

fn key(name: &str) -> PublicKey {
    keys::from_pem(&fixture(name)).unwrap()
}

/// `integratedTime` of the Fulcio SETs: 2021-01-01 00:05 UTC.
pub(crate) const T_SET: i64 = 1_609_459_500;

// --- keys::from_pem ----------------------------------------------------------------------------

#[test]
fn keys_from_pem() {
    let pkix_in_pkcs1_block = String::from_utf8(fixture("key-p256.pem"))
        .unwrap()
        .replace("PUBLIC KEY", "RSA PUBLIC KEY");
    let pkcs1_in_pkix_block = text("key-rsa-pkcs1.pem").replace("RSA PUBLIC KEY", "PUBLIC KEY");
    let junk_first = format!("some text\n{}", text("key-ed25519.pem"));
    // (input, Ok(description) or Err(substring))
    let cases: Vec<(&str, Vec<u8>, Result<&str, &str>)> = vec![
        ("P-256", fixture("key-p256.pem"), Ok("ECDSA P-256")),
        ("P-384", fixture("key-p384.pem"), Ok("ECDSA P-384")),
        ("Ed25519", fixture("key-ed25519.pem"), Ok("Ed25519")),
        ("RSA PKIX", fixture("key-rsa.pem"), Ok("RSA 2048")),
        ("RSA PKCS#1", fixture("key-rsa-pkcs1.pem"), Ok("RSA 2048")),
        // Only the first block counts.
        (
            "two blocks",
            fixture("key-two-blocks.pem"),
            Ok("ECDSA P-256"),
        ),
        ("text before", junk_first.into_bytes(), Ok("Ed25519")),
        (
            "unknown type",
            fixture("key-unknown-type.pem"),
            Err("unknown Public key PEM file type: EC PUBLIC KEY"),
        ),
        // Every curve Go's crypto/ecdsa supports.
        ("P-521", fixture("key-p521.pem"), Ok("ECDSA P-521")),
        (
            "off curve",
            fixture("key-offcurve.pem"),
            Err("x509: failed to unmarshal elliptic curve point"),
        ),
        (
            "garbage",
            fixture("key-garbage.pem"),
            Err("x509: malformed public key"),
        ),
        (
            "RSA without NULL parameters",
            fixture("key-rsa-noparams.pem"),
            Err("x509: RSA key missing NULL parameters"),
        ),
        (
            "PKIX in an RSA PUBLIC KEY block",
            pkix_in_pkcs1_block.into_bytes(),
            Err("x509: failed to parse public key"),
        ),
        (
            "PKCS#1 in a PUBLIC KEY block",
            pkcs1_in_pkix_block.into_bytes(),
            Err("x509: malformed public key"),
        ),
        ("empty", Vec::new(), Err("PEM decoding failed")),
        ("no PEM", b"not a key".to_vec(), Err("PEM decoding failed")),
        // A damaged first block is skipped by Go's pem.Decode: the next one counts.
        (
            "damaged first block",
            format!(
                "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n{}",
                text("key-p384.pem")
            )
            .into_bytes(),
            Ok("ECDSA P-384"),
        ),
    ];
    for (what, input, want) in cases {
        match (keys::from_pem(&input), want) {
            (Ok(k), Ok(d)) => assert_eq!(k.describe(), d, "{what}"),
            (Err(e), Err(s)) => assert!(e.contains(s), "{what}: {e:?} lacks {s:?}"),
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn keys_round_trip_to_pkix() {
    // A PKIX key is written back byte for byte (a Rekor entry is matched on these bytes), and
    // as PEM exactly as sigstore's MarshalPublicKeyToPEM writes it.
    for name in [
        "key-p256.pem",
        "key-p384.pem",
        "key-ed25519.pem",
        "key-rsa.pem",
        "rekor.pem",
    ] {
        let (block, _) = pem::decode(&fixture(name)).unwrap();
        let k = key(name);
        assert_eq!(k.to_spki_der(), block.bytes, "{name}");
        assert_eq!(keys::to_pem(&k), fixture(name), "{name}");
        assert_eq!(PublicKey::from_spki_der(&block.bytes).unwrap(), k, "{name}");
    }
    // A PKCS#1 RSA key becomes the same key in PKIX.
    let (pkix, _) = pem::decode(&fixture("key-rsa.pem")).unwrap();
    assert_eq!(key("key-rsa-pkcs1.pem").to_spki_der(), pkix.bytes);
    assert_eq!(key("key-rsa-pkcs1.pem"), key("key-rsa.pem"));
}

// --- PublicKey::verify_sha256 ------------------------------------------------------------------

#[test]
fn payload_signatures() {
    let payload = fixture("payload-cimage.json");
    let other = fixture("payload-cosign.json");
    let with = |mut s: Vec<u8>, extra: &[u8]| {
        s.extend_from_slice(extra);
        s
    };
    // (key, signature, message, Ok or Err(substring))
    let cases: Vec<(&str, Vec<u8>, &[u8], Result<(), &str>)> = vec![
        ("key-p256.pem", sig("p256"), &payload, Ok(())),
        ("key-p256.pem", sig("p256-p1363"), &payload, Ok(())),
        // Go's ecdsa.Verify does not require a low S.
        ("key-p256.pem", sig("p256-highs"), &payload, Ok(())),
        ("key-p256.pem", sig("p256-cosign"), &other, Ok(())),
        ("key-two-blocks.pem", sig("p256"), &payload, Ok(())),
        // ASN.1 with trailing bytes: parsed as ASN.1 (asn1.Unmarshal allows them), then
        // refused by ecdsa.VerifyASN1.
        (
            "key-p256.pem",
            with(sig("p256"), &[0]),
            &payload,
            Err("invalid signature when validating ASN.1 encoded signature"),
        ),
        (
            "key-p256.pem",
            with(sig("p256-p1363"), &[0]),
            &payload,
            Err("ecdsa: Invalid IEEE_P1363 encoded bytes"),
        ),
        (
            "key-p256.pem",
            with(sig("p256-p1363"), &[0, 0]),
            &payload,
            Err("invalid signature when validating IEEE_P1363 encoded signature"),
        ),
        (
            "key-p256.pem",
            Vec::new(),
            &payload,
            Err("ecdsa: Invalid IEEE_P1363 encoded bytes"),
        ),
        (
            "key-p256.pem",
            vec![0; 134],
            &payload,
            Err("ecdsa: Invalid IEEE_P1363 encoded bytes"),
        ),
        (
            "key-p256.pem",
            sig("p256"),
            &other,
            Err("invalid signature when validating ASN.1 encoded signature"),
        ),
        (
            "key-p256.pem",
            sig("p256-p1363"),
            &other,
            Err("invalid signature when validating IEEE_P1363 encoded signature"),
        ),
        (
            "key-p384.pem",
            sig("p256"),
            &payload,
            Err("invalid signature when validating ASN.1 encoded signature"),
        ),
        ("key-p384.pem", sig("p384"), &payload, Ok(())),
        ("key-p384.pem", sig("p384-p1363"), &payload, Ok(())),
        (
            "key-p256.pem",
            sig("p384"),
            &payload,
            Err("invalid signature when validating ASN.1 encoded signature"),
        ),
        ("key-rsa.pem", sig("rsa"), &payload, Ok(())),
        ("key-rsa-pkcs1.pem", sig("rsa"), &payload, Ok(())),
        (
            "key-rsa.pem",
            sig("rsa"),
            &other,
            Err("crypto/rsa: verification error"),
        ),
        (
            "key-rsa.pem",
            sig("p256"),
            &payload,
            Err("crypto/rsa: verification error"),
        ),
        ("key-ed25519.pem", sig("ed25519"), &payload, Ok(())),
        (
            "key-ed25519.pem",
            sig("ed25519"),
            &other,
            Err("failed to verify signature"),
        ),
        (
            "key-ed25519.pem",
            with(sig("ed25519"), &[0]),
            &payload,
            Err("failed to verify signature"),
        ),
    ];
    for (i, (k, s, msg, want)) in cases.into_iter().enumerate() {
        let got = key(k).verify_sha256(msg, &s);
        match (got, want) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(w)) => assert!(e.contains(w), "row {i} ({k}): {e:?} lacks {w:?}"),
            (got, want) => panic!("row {i} ({k}): got {got:?}, want {want:?}"),
        }
    }
}

// --- pem::decode (what pem.rs's own table does not cover) --------------------------------------

#[test]
fn pem_decode_more_edges() {
    // (input, Some((type, has headers, rest)) or None)
    type Want<'a> = Option<(&'a str, bool, &'a str)>;
    let cases: &[(&str, Want)] = &[
        // Headers are noted; the body after the blank line is the data.
        (
            "-----BEGIN A-----\nK: v\n\nYQ==\n-----END A-----\nrest",
            Some(("A", true, "rest")),
        ),
        // No end line at all.
        ("-----BEGIN A-----\nYQ==\n", None),
        // The end line without its final dashes.
        ("-----BEGIN A-----\nYQ==\n-----END A---\n", None),
        // The begin line without its final dashes is not a block.
        ("-----BEGIN A\nYQ==\n-----END A-----\n", None),
        // Several blocks: the first, and the rest starts at the second.
        (
            "-----BEGIN A-----\nYQ==\n-----END A-----\n-----BEGIN B-----\nYg==\n-----END B-----\n",
            Some(("A", false, "-----BEGIN B-----\nYg==\n-----END B-----\n")),
        ),
        // A type with spaces.
        (
            "-----BEGIN RSA PUBLIC KEY-----\nYQ==\n-----END RSA PUBLIC KEY-----",
            Some(("RSA PUBLIC KEY", false, "")),
        ),
        // Unpadded base64 is damaged to Go: the block is skipped.
        ("-----BEGIN A-----\nYQ\n-----END A-----\n", None),
    ];
    for (input, want) in cases {
        match (pem::decode(input.as_bytes()), want) {
            (None, None) => {}
            (Some((b, rest)), Some((kind, headers, want_rest))) => {
                assert_eq!(b.kind, *kind, "{input:?}");
                assert_eq!(b.has_headers, *headers, "{input:?}");
                assert_eq!(rest, want_rest.as_bytes(), "{input:?}");
            }
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }
    // Every certificate fixture is one block with nothing after it.
    for name in ["ca-root.pem", "fulcio-leaf.pem", "leaf-sha1.pem"] {
        let bytes = fixture(name);
        let (b, rest) = pem::decode(&bytes).unwrap();
        assert_eq!((b.kind.as_str(), rest), ("CERTIFICATE", &b""[..]), "{name}");
    }
}

// --- jcs: RFC 8785's examples ------------------------------------------------------------------

#[test]
fn jcs_rfc8785_examples() {
    let canon = |s: &str| jcs::canonicalize(&Value::parse(s.as_bytes()).unwrap());
    // §3.2.2.
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let want = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canon(input).unwrap(), want);
    // §3.2.3: sorted by UTF-16 code units.
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let got = canon(input).unwrap();
    let order: Vec<&str> = got
        .split(",\"")
        .map(|m| m.split("\":").nth(1).unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "\"Carriage Return\"",
            "\"One\"",
            "\"Control\"",
            "\"Latin Small Letter O With Diaeresis\"",
            "\"Euro Sign\"",
            "\"Emoji: Grinning Face\"",
            "\"Hebrew Letter Dalet With Dagesh\"}",
        ]
    );
    assert!(got.starts_with("{\"\\r\":"), "{got}");
    assert!(got.contains("\"\u{80}\":\"Control\""), "{got}");
    // Appendix B: IEEE 754 doubles as ECMAScript prints them.
    let numbers = [
        ("0", "0"),
        ("-0", "0"),
        ("5e-324", "5e-324"),
        ("-5e-324", "-5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("-1.7976931348623157e308", "-1.7976931348623157e+308"),
        ("9007199254740992", "9007199254740992"),
        ("-9007199254740992", "-9007199254740992"),
        ("295147905179352830000", "295147905179352830000"),
        ("9.999999999999997e22", "9.999999999999997e+22"),
        ("1e23", "1e+23"),
        ("1.0e-6", "0.000001"),
        ("9.999999999999997e-7", "9.999999999999997e-7"),
        ("333333333.3333333", "333333333.3333333"),
        ("624", "624"),
    ];
    for (input, want) in numbers {
        assert_eq!(
            canon(&format!("[{input}]")).unwrap(),
            format!("[{want}]"),
            "{input}"
        );
    }
    // The canonicalizer containers/image uses refuses duplicate names at any depth.
    assert!(canon(r#"{"a":{"b":1,"b":2}}"#)
        .unwrap_err()
        .contains("Duplicate key"));
}

// --- sigstoreSigned end to end -----------------------------------------------------------------

fn digest() -> String {
    text("digest.txt")
}

/// A `sigstore-json` signature of `payload` with `annotations`.
fn sigstore(mime: &str, payload: &[u8], annotations: &[(&str, String)]) -> Signature {
    let annotations: serde_json::Map<String, serde_json::Value> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_string(), serde_json::Value::String(v.clone())))
        .collect();
    let chunk = serde_json::json!({
        "mimeType": mime,
        "payload": b64(payload),
        "annotations": annotations,
    });
    Signature::Sigstore(serde_json::to_vec(&chunk).unwrap())
}

/// A signature of the containers/image-style payload by `sig_name`, with more annotations.
fn signed(sig_name: &str, more: &[(&str, String)]) -> Signature {
    let mut a = vec![(ANNOTATION_SIGNATURE, text(&format!("sig-{sig_name}.b64")))];
    a.extend(more.iter().cloned());
    sigstore(SIGNATURE_MIME_TYPE, &fixture("payload-cimage.json"), &a)
}

fn bundle(set: &str) -> (&'static str, String) {
    (ANNOTATION_BUNDLE, text(&format!("set-{set}.json")))
}

fn certificate(name: &str) -> (&'static str, String) {
    (ANNOTATION_CERTIFICATE, text(&format!("{name}.pem")))
}

fn chain(names: &[&str]) -> (&'static str, String) {
    (
        ANNOTATION_CHAIN,
        names.iter().map(|n| text(&format!("{n}.pem"))).collect(),
    )
}

/// `keyData`-style base64 of a fixture file.
fn data(name: &str) -> String {
    b64(&fixture(name))
}

/// Evaluates a `sigstoreSigned` requirement (the JSON object's members after `type`) for
/// `example.com/app:1` with the fixtures' manifest digest.
fn run(members: &str, sigs: &[Signature]) -> Result<Option<SystemTime>, String> {
    let policy = format!(r#"{{"default":[{{"type":"sigstoreSigned",{members}}}]}}"#);
    let reqs = Policy::from_bytes(policy.as_bytes()).unwrap().default;
    let r = Reference::parse_normalized("example.com/app:1").unwrap();
    let d = digest();
    let subject = crate::verify::Subject {
        reference: Some(&r),
        manifest_digest: &d,
        signatures: sigs,
    };
    crate::verify::evaluate(&reqs, Some(subject), &Fake)
        .map(|p| p.expires())
        .map_err(|f| f.to_string())
}

fn key_data(name: &str) -> String {
    format!(r#""keyData":"{}""#, data(name))
}

fn check(
    rows: Vec<(
        &str,
        String,
        Vec<Signature>,
        Result<Option<SystemTime>, &str>,
    )>,
) {
    for (what, members, sigs, want) in rows {
        match (run(&members, &sigs), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{what}: {e:?} lacks {w:?}"),
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn public_keys_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, fixture(name)).unwrap();
        p.display().to_string()
    };
    let p256 = key_data("key-p256.pem");
    let repo = r#""signedIdentity":{"type":"matchRepository"}"#;
    let cosign = |s: &str| {
        sigstore(
            SIGNATURE_MIME_TYPE,
            &fixture("payload-cosign.json"),
            &[(ANNOTATION_SIGNATURE, text(&format!("sig-{s}.b64")))],
        )
    };
    let other_digest = sigstore(
        SIGNATURE_MIME_TYPE,
        &fixture("payload-other-digest.json"),
        &[(ANNOTATION_SIGNATURE, text("sig-p256-other-digest.b64"))],
    );
    let rows = vec![
        ("keyData", p256.clone(), vec![signed("p256", &[])], Ok(None)),
        (
            "keyPath",
            format!(r#""keyPath":"{}""#, path("key-p256.pem")),
            vec![signed("p256-p1363", &[])],
            Ok(None),
        ),
        (
            "keyPaths",
            format!(
                r#""keyPaths":["{}","{}"]"#,
                path("key-p384.pem"),
                path("key-rsa-pkcs1.pem")
            ),
            vec![signed("rsa", &[])],
            Ok(None),
        ),
        (
            "keyDatas",
            format!(
                r#""keyDatas":["{}","{}"]"#,
                data("key-rsa.pem"),
                data("key-ed25519.pem")
            ),
            vec![signed("ed25519", &[])],
            Ok(None),
        ),
        (
            "a key file with two blocks: the first counts",
            format!(r#""keyPath":"{}""#, path("key-two-blocks.pem")),
            vec![signed("p256", &[])],
            Ok(None),
        ),
        (
            "a key file with two blocks: the second does not count",
            format!(r#""keyPath":"{}""#, path("key-two-blocks.pem")),
            vec![signed("p384", &[])],
            Err("cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"),
        ),
        (
            "wrong key",
            key_data("key-p384.pem"),
            vec![signed("p256", &[])],
            Err("cryptographic signature verification failed"),
        ),
        (
            "each key's error is listed",
            format!(
                r#""keyDatas":["{}","{}"]"#,
                data("key-rsa.pem"),
                data("key-ed25519.pem")
            ),
            vec![signed("p256", &[])],
            Err("cryptographic signature verification failed: crypto/rsa: verification error, failed to verify signature"),
        ),
        (
            "a cosign payload names no tag: the default identity rule rejects it",
            p256.clone(),
            vec![cosign("p256-cosign")],
            Err("signature for identity \"example.com/app\" is not accepted"),
        ),
        (
            "a cosign payload under matchRepository",
            format!("{p256},{repo}"),
            vec![cosign("p256-cosign")],
            Ok(None),
        ),
        (
            "wrong digest",
            p256.clone(),
            vec![other_digest],
            Err("is for manifest sha256:1111111111111111111111111111111111111111111111111111111111111111"),
        ),
        (
            "one bad, one good",
            p256.clone(),
            vec![signed("p384", &[]), signed("p256", &[])],
            Ok(None),
        ),
        (
            "two bad: both reasons",
            p256.clone(),
            vec![signed("p384", &[]), signed("rsa", &[])],
            Err("none of the 2 signatures was accepted: cryptographic signature verification failed"),
        ),
        (
            "only a GPG signature",
            p256.clone(),
            vec![Signature::SimpleSigning(b"\xa3\x01gpg".to_vec())],
            Err("(1 non-sigstore signatures, 0 sigstore non-signature attachments)"),
        ),
        (
            "only a non-signature attachment",
            p256.clone(),
            vec![sigstore("text/plain", b"hello", &[])],
            Err("(0 non-sigstore signatures, 1 sigstore non-signature attachments)"),
        ),
        (
            "no signature annotation",
            p256.clone(),
            vec![sigstore(SIGNATURE_MIME_TYPE, &fixture("payload-cimage.json"), &[])],
            Err("missing dev.cosignproject.cosign/signature annotation"),
        ),
        (
            "a signature that is not base64",
            p256.clone(),
            vec![sigstore(
                SIGNATURE_MIME_TYPE,
                &fixture("payload-cimage.json"),
                &[(ANNOTATION_SIGNATURE, "!!!".into())],
            )],
            Err("base64"),
        ),
        (
            "an unusable key is a trust root error",
            key_data("key-garbage.pem"),
            vec![signed("p256", &[])],
            Err("parsing public key 1: x509: malformed public key"),
        ),
        (
            "the second unusable key is named",
            format!(
                r#""keyDatas":["{}","{}"]"#,
                data("key-p256.pem"),
                data("key-unknown-type.pem")
            ),
            vec![signed("p256", &[])],
            Err("parsing public key 2: unknown Public key PEM file type"),
        ),
    ];
    check(rows);
}

#[test]
fn public_keys_with_rekor_end_to_end() {
    let p256 = key_data("key-p256.pem");
    let rekor = |name: &str| format!(r#""rekorPublicKeyData":"{}""#, data(name));
    let rows = vec![
        (
            "logged",
            format!("{p256},{}", rekor("rekor.pem")),
            vec![signed("p256", &[bundle("key")])],
            Ok(None),
        ),
        (
            "one of several Rekor keys",
            format!(
                r#"{p256},"rekorPublicKeyDatas":["{}","{}"]"#,
                data("rekor2.pem"),
                data("rekor.pem")
            ),
            vec![signed("p256", &[bundle("key")])],
            Ok(None),
        ),
        (
            "the logged key among several keys is used",
            format!(
                r#""keyDatas":["{}","{}"],{}"#,
                data("key-p384.pem"),
                data("key-p256.pem"),
                rekor("rekor.pem")
            ),
            vec![signed("p256", &[bundle("key")])],
            Ok(None),
        ),
        (
            "a stored SET with members reordered",
            format!("{p256},{}", rekor("rekor.pem")),
            vec![signed("p256", &[bundle("key-reordered")])],
            Ok(None),
        ),
        (
            "no bundle",
            format!("{p256},{}", rekor("rekor.pem")),
            vec![signed("p256", &[])],
            Err("missing dev.sigstore.cosign/bundle annotation"),
        ),
        (
            "SET by another Rekor key",
            format!("{p256},{}", rekor("rekor2.pem")),
            vec![signed("p256", &[bundle("key")])],
            Err("No public key verified against the RekorSET: cryptographic signature verification of Rekor SET failed"),
        ),
        (
            "each key's SET error is listed",
            format!(
                r#""keyDatas":["{}","{}"],{}"#,
                data("key-p384.pem"),
                data("key-ed25519.pem"),
                rekor("rekor.pem")
            ),
            vec![signed("p256", &[bundle("key")])],
            Err("No public key verified against the RekorSET: publicKey in Rekor SET does not match, publicKey in Rekor SET does not match"),
        ),
        (
            "a logged key, but the signature is another's",
            format!("{p256},{}", rekor("rekor.pem")),
            vec![signed("p256-p1363", &[bundle("key")])],
            Err("signature in Rekor SET does not match"),
        ),
        (
            "a Rekor key that is not ECDSA",
            format!("{p256},{}", rekor("key-ed25519.pem")),
            vec![signed("p256", &[bundle("key")])],
            Err("Rekor public key 1 is not using ECDSA"),
        ),
        (
            "a second Rekor key that is not ECDSA",
            format!(
                r#"{p256},"rekorPublicKeyDatas":["{}","{}"]"#,
                data("rekor.pem"),
                data("key-rsa.pem")
            ),
            vec![signed("p256", &[bundle("key")])],
            Err("Rekor public key 2 is not using ECDSA"),
        ),
        (
            "an unusable Rekor key",
            format!("{p256},{}", rekor("key-garbage.pem")),
            vec![signed("p256", &[bundle("key")])],
            Err("parsing Rekor public key 1:"),
        ),
    ];
    check(rows);
}

fn fulcio(issuer: &str, email: &str) -> String {
    format!(
        r#""fulcio":{{"caData":"{}","oidcIssuer":"{issuer}","subjectEmail":"{email}"}},"rekorPublicKeyData":"{}""#,
        data("ca-root.pem"),
        data("rekor.pem")
    )
}

/// A signature by the Fulcio leaf key, with certificate `leaf`, the full chain and the SET
/// `set` (by default the one logging `leaf`).
fn by_fulcio(leaf: &str, set: Option<&str>) -> Vec<Signature> {
    vec![signed(
        "leaf",
        &[
            certificate(leaf),
            chain(&["int-ca", "ca-root"]),
            bundle(set.unwrap_or(leaf)),
        ],
    )]
}

#[test]
fn fulcio_end_to_end() {
    let good = fulcio("https://issuer.example.com", "signer@example.com");
    let rows = vec![
        // The leaf expired long ago, but was valid at the SET's integratedTime.
        (
            "good",
            good.clone(),
            by_fulcio("fulcio-leaf", None),
            Ok(None),
        ),
        (
            "expired at integratedTime",
            good.clone(),
            by_fulcio("fulcio-leaf", Some("fulcio-leaf-late")),
            Err("x509: certificate has expired or is not yet valid"),
        ),
        (
            "not yet valid at integratedTime",
            good.clone(),
            by_fulcio("fulcio-leaf", Some("fulcio-leaf-early")),
            Err("x509: certificate has expired or is not yet valid"),
        ),
        (
            "no EKU: any use",
            good.clone(),
            by_fulcio("fulcio-noeku", None),
            Ok(None),
        ),
        (
            "serverAuth only",
            good.clone(),
            by_fulcio("fulcio-serverauth", None),
            Err("x509: certificate specifies an incompatible key usage"),
        ),
        (
            "any EKU",
            good.clone(),
            by_fulcio("fulcio-anyeku", None),
            Ok(None),
        ),
        (
            "issuer v1 only",
            good.clone(),
            by_fulcio("fulcio-v1only", None),
            Ok(None),
        ),
        (
            "issuer v2 only",
            good.clone(),
            by_fulcio("fulcio-v8only", None),
            Ok(None),
        ),
        // Go's asn1.Unmarshal reads a BMPString into a string.
        (
            "issuer v2 as a BMPString",
            good.clone(),
            by_fulcio("fulcio-v8bmp", None),
            Ok(None),
        ),
        (
            "inconsistent issuers",
            good.clone(),
            by_fulcio("fulcio-inconsistent", None),
            Err(
                r#"inconsistent OIDC issuer extension values: v1 "https://issuer.example.com", v2 "https://other.example.com""#,
            ),
        ),
        (
            "no issuer",
            good.clone(),
            by_fulcio("fulcio-noissuer", None),
            Err("Fulcio certificate is missing the issuer extension"),
        ),
        (
            "another issuer required",
            fulcio("https://other.example.com", "signer@example.com"),
            by_fulcio("fulcio-leaf", None),
            Err(r#"Unexpected Fulcio OIDC issuer "https://issuer.example.com""#),
        ),
        (
            "another e-mail in the certificate",
            good.clone(),
            by_fulcio("fulcio-wrong-email", None),
            Err(r#"Required email "signer@example.com" not found (got ["someone@example.com"])"#),
        ),
        // A critical SAN Go leaves unhandled is tolerated: the chain verifies, and the
        // e-mail check is what fails.
        (
            "critical SAN without e-mail",
            good.clone(),
            by_fulcio("fulcio-othername", None),
            Err(r#"Required email "signer@example.com" not found (got [])"#),
        ),
        (
            "unknown critical extension",
            good.clone(),
            by_fulcio("fulcio-unknown-critical", None),
            Err("x509: unhandled critical extension"),
        ),
        (
            "the SET logs another certificate",
            good.clone(),
            by_fulcio("fulcio-leaf", Some("fulcio-noeku")),
            Err("publicKey in Rekor SET does not match"),
        ),
        (
            "no chain",
            good.clone(),
            vec![signed(
                "leaf",
                &[certificate("fulcio-leaf"), bundle("fulcio-leaf")],
            )],
            Err("x509: certificate signed by unknown authority"),
        ),
        // The chain's last certificate is dropped (it is the root, which only the policy may
        // name): a chain of the intermediate alone gives no intermediate.
        (
            "a chain of the intermediate only",
            good.clone(),
            vec![signed(
                "leaf",
                &[
                    certificate("fulcio-leaf"),
                    chain(&["int-ca"]),
                    bundle("fulcio-leaf"),
                ],
            )],
            Err("x509: certificate signed by unknown authority"),
        ),
        (
            "no certificate",
            good.clone(),
            vec![signed("leaf", &[bundle("fulcio-leaf")])],
            Err("missing dev.sigstore.cosign/certificate annotation"),
        ),
        (
            "no bundle",
            good.clone(),
            vec![signed("leaf", &[certificate("fulcio-leaf")])],
            Err("missing dev.sigstore.cosign/bundle annotation"),
        ),
        (
            "two certificates",
            good.clone(),
            vec![signed(
                "leaf",
                &[
                    (
                        ANNOTATION_CERTIFICATE,
                        text("fulcio-leaf.pem") + &text("int-ca.pem"),
                    ),
                    chain(&["int-ca", "ca-root"]),
                    bundle("fulcio-leaf"),
                ],
            )],
            // The SET check comes first, and wants one PEM block.
            Err("has trailing data"),
        ),
        (
            "the certificate's key did not sign",
            good.clone(),
            vec![signed(
                "p256",
                &[
                    certificate("fulcio-leaf"),
                    chain(&["int-ca", "ca-root"]),
                    bundle("fulcio-leaf"),
                ],
            )],
            Err("signature in Rekor SET does not match"),
        ),
        (
            "a Rekor key that is not ECDSA",
            format!(
                r#""fulcio":{{"caData":"{}","oidcIssuer":"https://issuer.example.com","subjectEmail":"signer@example.com"}},"rekorPublicKeyData":"{}""#,
                data("ca-root.pem"),
                data("key-rsa.pem")
            ),
            by_fulcio("fulcio-leaf", None),
            Err("Rekor public key 1 is not using ECDSA"),
        ),
        (
            "a CA file without certificates",
            format!(
                r#""fulcio":{{"caData":"{}","oidcIssuer":"https://issuer.example.com","subjectEmail":"signer@example.com"}},"rekorPublicKeyData":"{}""#,
                data("key-p256.pem"),
                data("rekor.pem")
            ),
            by_fulcio("fulcio-leaf", None),
            Err("error loading Fulcio CA certificates"),
        ),
    ];
    check(rows);
}

fn pki(extra: &str) -> String {
    format!(
        r#""pki":{{"caRootsData":"{}","caIntermediatesData":"{}",{extra}}}"#,
        data("ca-root.pem"),
        data("int-ca.pem")
    )
}

#[test]
fn pki_end_to_end() {
    // The chain verifies now, and holds until the leaf expires (2098-01-01).
    let until = Some(UNIX_EPOCH + Duration::from_secs(4_039_372_800));
    let by = |leaf: &str| vec![signed("leaf", &[certificate(leaf)])];
    let rows = vec![
        (
            "e-mail",
            pki(r#""subjectEmail":"pki@example.com""#),
            by("pki-email"),
            Ok(until),
        ),
        (
            "intermediates from the chain annotation",
            format!(
                r#""pki":{{"caRootsData":"{}","subjectEmail":"pki@example.com"}}"#,
                data("ca-root.pem")
            ),
            vec![signed(
                "leaf",
                &[certificate("pki-email"), chain(&["int-ca", "ca-root"])],
            )],
            Ok(until),
        ),
        (
            "no intermediate",
            format!(
                r#""pki":{{"caRootsData":"{}","subjectEmail":"pki@example.com"}}"#,
                data("ca-root.pem")
            ),
            by("pki-email"),
            Err("x509: certificate signed by unknown authority"),
        ),
        (
            "host name",
            pki(r#""subjectHostname":"signer.example.com""#),
            by("pki-dns"),
            Ok(until),
        ),
        (
            "wildcard host name",
            pki(r#""subjectHostname":"x.wild.example.com""#),
            by("pki-dns"),
            Ok(until),
        ),
        (
            "IP address",
            pki(r#""subjectHostname":"192.0.2.1""#),
            by("pki-ip"),
            Ok(until),
        ),
        (
            "another host name",
            pki(r#""subjectHostname":"other.example.com""#),
            by("pki-dns"),
            Err("Unexpected subject hostname"),
        ),
        (
            "another e-mail",
            pki(r#""subjectEmail":"someone@example.com""#),
            by("pki-email"),
            Err(r#"Required email "someone@example.com" not found (got ["pki@example.com"])"#),
        ),
        (
            "e-mail and host name both checked",
            pki(r#""subjectEmail":"pki@example.com","subjectHostname":"signer.example.com""#),
            by("pki-email"),
            Err("Unexpected subject hostname"),
        ),
        (
            "expired",
            pki(r#""subjectEmail":"pki@example.com""#),
            by("pki-expired"),
            Err("x509: certificate has expired or is not yet valid"),
        ),
        (
            "SHA-1",
            pki(r#""subjectEmail":"pki@example.com""#),
            by("leaf-sha1"),
            Err("insecure algorithm"),
        ),
        // Unlike fulcio, pki tolerates no critical SAN Go leaves unhandled.
        (
            "critical SAN without names Go handles",
            pki(r#""subjectEmail":"signer@example.com""#),
            by("fulcio-othername"),
            Err("x509: unhandled critical extension"),
        ),
        (
            "no certificate",
            pki(r#""subjectEmail":"pki@example.com""#),
            vec![signed("leaf", &[])],
            Err("missing dev.sigstore.cosign/certificate annotation"),
        ),
        (
            "the certificate's key did not sign",
            pki(r#""subjectEmail":"pki@example.com""#),
            vec![signed("p256", &[certificate("pki-email")])],
            Err("cryptographic signature verification failed"),
        ),
    ];
    check(rows);
}

#[test]
fn fulcio_issuer_extension() {
    let leaf = |name: &str| {
        x509::certificates_from_pem(&fixture(&format!("{name}.pem")))
            .unwrap()
            .remove(0)
    };
    let issuer = Ok(b"https://issuer.example.com".to_vec());
    for name in [
        "fulcio-leaf",
        "fulcio-v1only",
        "fulcio-v8only",
        "fulcio-v8bmp",
    ] {
        assert_eq!(fulcio_issuer(&leaf(name)), issuer, "{name}");
    }
    assert!(fulcio_issuer(&leaf("pki-email"))
        .unwrap_err()
        .contains("missing the issuer extension"));
}

#[test]
fn issuer_v2_strings_as_go_reads_them() {
    // (DER, Ok(bytes) or Err(substring)), per Go's encoding/asn1 into a string.
    let cases: &[(&[u8], Result<&[u8], &str>)] = &[
        (b"\x0c\x03a\xc3\xa9", Ok("aé".as_bytes())),
        (b"\x0c\x01\xff", Err("invalid UTF-8")),
        (b"\x13\x05a:/?*", Ok(b"a:/?*")),
        (
            b"\x13\x01@",
            Err("PrintableString contains invalid character"),
        ),
        (b"\x16\x01@", Ok(b"@")),
        (b"\x16\x01\xc3", Err("IA5String contains invalid character")),
        (b"\x12\x03 12", Ok(b" 12")),
        (
            b"\x12\x01a",
            Err("NumericString contains invalid character"),
        ),
        // T61String and GeneralString: any bytes, kept as they are.
        (b"\x14\x01\xff", Ok(b"\xff")),
        (b"\x1b\x01\xff", Ok(b"\xff")),
        (b"\x1e\x04\x00a\x00\x00", Ok(b"a")),
        (b"\x1e\x02\xd8\x00", Ok("\u{fffd}".as_bytes())),
        (b"\x1e\x03\x00a\x00", Err("odd-length")),
        (b"\x04\x01a", Err("is not a string")),
        (b"\x0c\x01ab", Err("trailing data")),
        (b"\x0c\x02a", Err("truncated")),
        (b"\x0c\x81\x01a", Err("non-minimal")),
        (b"", Err("truncated")),
    ];
    for (der, want) in cases {
        match (der_string(der), want) {
            (Ok(got), Ok(w)) => assert_eq!(got, *w, "{der:x?}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{der:x?}: {e:?} lacks {w:?}"),
            (got, want) => panic!("{der:x?}: got {got:?}, want {want:?}"),
        }
    }
}
