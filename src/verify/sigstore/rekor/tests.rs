//! `verify_set` with real Rekor SETs (`../testdata/set-*.json`, made by `make.py`): a good SET,
//! each way one can be broken, and Go's leniency where containers/image has it.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::verify::sigstore::keys;
use crate::verify::sigstore::tests::{fixture, text, T_SET};

fn key(name: &str) -> PublicKey {
    keys::from_pem(&fixture(name)).unwrap()
}

struct Row {
    what: &'static str,
    rekor: &'static [&'static str],
    set: String,
    key_pem: Vec<u8>,
    signature: String,
    payload: Vec<u8>,
    want: Result<i64, &'static str>,
}

/// A row checking SET `set` for the P-256 key's signature of the containers/image payload.
fn row(what: &'static str, set: &str, want: Result<i64, &'static str>) -> Row {
    Row {
        what,
        rekor: &["rekor.pem"],
        set: text(&format!("set-{set}.json")),
        key_pem: fixture("key-p256.pem"),
        signature: text("sig-p256.b64"),
        payload: fixture("payload-cimage.json"),
        want,
    }
}

#[test]
fn verify_set_table() {
    let rows = vec![
        row("good", "key", Ok(T_SET)),
        Row {
            rekor: &["rekor2.pem", "rekor.pem"],
            ..row("one of several Rekor keys", "key", Ok(T_SET))
        },
        Row {
            rekor: &["rekor2.pem"],
            ..row(
                "another Rekor key",
                "key",
                Err("cryptographic signature verification of Rekor SET failed"),
            )
        },
        Row {
            rekor: &["rekor2.pem"],
            ..row("signed by the other Rekor key", "key-rekor2", Ok(T_SET))
        },
        Row {
            rekor: &[],
            ..row(
                "no Rekor key",
                "key",
                Err("cryptographic signature verification of Rekor SET failed"),
            )
        },
        Row {
            key_pem: fixture("key-p384.pem"),
            ..row(
                "another key",
                "key",
                Err("publicKey in Rekor SET does not match"),
            )
        },
        // The key as containers/image passes it: re-encoded as PKIX PEM.
        Row {
            key_pem: keys::to_pem(&key("key-p256.pem")),
            ..row("the key re-encoded as PKIX PEM", "key", Ok(T_SET))
        },
        Row {
            key_pem: fixture("key-two-blocks.pem"),
            ..row(
                "a key with more PEM after it",
                "key",
                Err("public key or cert to be matched against publicKey in Rekor SET has trailing data"),
            )
        },
        Row {
            key_pem: b"not PEM".to_vec(),
            ..row(
                "a key that is not PEM",
                "key",
                Err("public key or cert to be matched against publicKey in Rekor SET is not in PEM format"),
            )
        },
        Row {
            signature: text("sig-p256-p1363.b64"),
            ..row(
                "another signature",
                "key",
                Err("signature in Rekor SET does not match"),
            )
        },
        Row {
            signature: "!!!!".into(),
            ..row(
                "a signature that is not base64",
                "key",
                Err("decoding signature base64"),
            )
        },
        Row {
            payload: fixture("payload-cosign.json"),
            ..row(
                "another payload",
                "key",
                Err("payload in Rekor SET does not match"),
            )
        },
        // What is signed is the canonical form: how the SET is stored does not matter...
        row("members reordered, whitespace", "key-reordered", Ok(T_SET)),
        // ... and a signature over other bytes than the canonical form does not verify.
        row(
            "signed over non-canonical bytes",
            "key-signed-noncanonical",
            Err("cryptographic signature verification of Rekor SET failed"),
        ),
        row(
            "duplicate member in the payload",
            "key-dup-member",
            Err("canonicalizing Rekor SET JSON: Duplicate key"),
        ),
        row(
            "extra member in the payload",
            "key-extra-member",
            Err("parsing Rekor SET payload"),
        ),
        row(
            "missing member in the payload",
            "key-missing-logid",
            Err("parsing Rekor SET payload"),
        ),
        row("extra member in the SET", "key-top-extra", Err("Extra")),
        row(
            "missing member in the SET",
            "key-top-missing",
            Err("SignedEntryTimestamp"),
        ),
        row(
            "hashedrekord 0.0.2",
            "key-api-version",
            Err("unsupported Rekor SET Payload hashedrekord version"),
        ),
        row(
            "no API version",
            "key-no-api-version",
            Err("missing Rekor SET Payload API version"),
        ),
        row("another kind", "key-kind", Err("invalid kind value: \"rekord\"")),
        row(
            "logged PEM with trailing data",
            "key-pem-trailing",
            Err("publicKey in Rekor SET has trailing data"),
        ),
        row(
            "logged key not PEM",
            "key-not-pem",
            Err("publicKey in Rekor SET is not in PEM format"),
        ),
        row(
            "body not JSON",
            "key-body-not-json",
            Err("decoding the body of a Rekor SET payload"),
        ),
        row(
            "SHA-512",
            "key-sha512",
            Err(r#"Unexpected "data.hash.algorithm" value "sha512""#),
        ),
        row(
            "hash not hex",
            "key-bad-hex",
            Err(r#"Invalid "data.hash.value" field in hashedrekord"#),
        ),
        row(
            "no data",
            "key-no-data",
            Err(r#"Missing "data" field in hashedrekord"#),
        ),
        row(
            "no hash value",
            "key-no-hash-value",
            Err(r#"Missing "data.hash.value" field in hashedrekord"#),
        ),
        row(
            "no signature",
            "key-no-signature",
            Err(r#"Missing "signature" field in hashedrekord"#),
        ),
        row(
            "no public key",
            "key-no-public-key",
            Err(r#"Missing "signature.publicKey" field in hashedrekord"#),
        ),
        // Go's encoding/json matches member names without regard to case.
        row("member names in other cases", "key-case", Ok(T_SET)),
        Row {
            set: "not JSON".into(),
            ..row("SET not JSON", "key", Err(""))
        },
        Row {
            key_pem: fixture("fulcio-leaf.pem"),
            signature: text("sig-leaf.b64"),
            ..row("a certificate", "fulcio-leaf", Ok(T_SET))
        },
        Row {
            key_pem: fixture("fulcio-leaf.pem"),
            signature: text("sig-leaf.b64"),
            ..row("a later time", "fulcio-leaf-late", Ok(1_609_460_400))
        },
        Row {
            key_pem: fixture("fulcio-noeku.pem"),
            signature: text("sig-leaf.b64"),
            ..row(
                "another certificate",
                "fulcio-leaf",
                Err("publicKey in Rekor SET does not match"),
            )
        },
    ];
    for r in rows {
        let rekor: Vec<PublicKey> = r.rekor.iter().map(|n| key(n)).collect();
        let got = verify_set(
            &rekor,
            r.set.as_bytes(),
            &r.key_pem,
            &r.signature,
            &r.payload,
        );
        match (got, r.want) {
            (Ok(t), Ok(w)) => assert_eq!(t, w, "{}", r.what),
            (Err(e), Err(w)) => assert!(e.contains(w), "{}: {e:?} lacks {w:?}", r.what),
            (got, want) => panic!("{}: got {got:?}, want {want:?}", r.what),
        }
    }
}

#[test]
fn body_members_resolve_as_go_decodes_them() {
    use crate::json::Value;
    // Inside the spec (decoded into a map, re-encoded with sorted keys, decoded again), among
    // names equal without regard to case the one sorting last wins; a null there clears.
    let v = Value::parse(br#"{"Signature":{"a":1},"signature":null}"#).unwrap();
    assert!(lookup(&v, "signature").is_none());
    let v = Value::parse(br#"{"signature":null,"Signature":{"a":1}}"#).unwrap();
    assert!(lookup(&v, "signature").is_none());
    let v = Value::parse(br#"{"SIGNATURE":1,"Signature":2}"#).unwrap();
    assert_eq!(lookup(&v, "signature"), Some(&Value::parse(b"2").unwrap()));
    // Go's hex.DecodeString: either case, even length.
    assert_eq!(decode_hex("0aFf"), Some(vec![0x0a, 0xff]));
    assert_eq!(decode_hex("abc"), None);
    assert_eq!(decode_hex("0g"), None);
    // base64.StdEncoding: padding required; CR and LF ignored.
    assert_eq!(decode_std_base64("YQ==\r\n"), Ok(b"a".to_vec()));
    assert!(decode_std_base64("YQ").is_err());
    assert!(decode_std_base64("Y Q==").is_err());
}
