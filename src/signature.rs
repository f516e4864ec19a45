//! Stored signatures: cutting the stored blob by its recorded sizes, telling formats apart, and the
//! simple-signing payload a verified signature carries.
//!
//! Ref: containers/image `storage/storage_src.go` (`GetSignaturesWithFormat`),
//! `internal/signature/signature.go` (`FromBlob`), `signature/simple.go`; the payload format is
//! `containers-signature(5)`; docs/semantics.md, "The simple-signing payload" and "Stored signatures".

use crate::json::{go_bytes, go_string, Object, Value};

/// One stored signature, by format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// An OpenPGP "simple signing" signature: the raw OpenPGP message.
    SimpleSigning(Vec<u8>),
    /// A sigstore signature (`sigstore-json`), kept as its JSON.
    Sigstore(Vec<u8>),
}

/// Why stored signatures cannot be read. Any of these fails the whole evaluation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("stored signatures are inconsistent: the sizes need at least {needed} bytes, only {found} are stored")]
    Short { needed: usize, found: usize },
    #[error("stored signatures contain {0} bytes more than their recorded sizes")]
    Extra(usize),
    #[error("stored signature {index}: {reason}")]
    Format { index: usize, reason: String },
}

/// Cuts `blob` into signatures by `sizes` (in order), and parses each one's format.
pub fn split(blob: &[u8], sizes: &[usize]) -> Result<Vec<Signature>, BlobError> {
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(sizes.len());
    for (index, &len) in sizes.iter().enumerate() {
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= blob.len())
            .ok_or(BlobError::Short {
                needed: offset.saturating_add(len),
                found: blob.len(),
            })?;
        let sig =
            from_blob(&blob[offset..end]).map_err(|reason| BlobError::Format { index, reason })?;
        out.push(sig);
        offset = end;
    }
    if offset != blob.len() {
        return Err(BlobError::Extra(blob.len() - offset));
    }
    Ok(out)
}

/// `signature.FromBlob`: a `\0<format>\n` prefix, or a bare binary OpenPGP message.
pub fn from_blob(b: &[u8]) -> Result<Signature, String> {
    let Some(&first) = b.first() else {
        return Err("empty signature blob".into());
    };
    match first {
        0x00 => {
            let rest = &b[1..];
            let nl = rest
                .iter()
                .position(|&c| c == b'\n')
                .ok_or("invalid signature format, missing newline")?;
            let format = &rest[..nl];
            if let Some(c) = format.iter().find(|c| !(0x20..=0x7e).contains(*c)) {
                return Err(format!("invalid signature format, non-ASCII byte {c:#04x}"));
            }
            let payload = rest[nl + 1..].to_vec();
            match format {
                b"simple-signing" => Ok(Signature::SimpleSigning(payload)),
                b"sigstore-json" => {
                    check_sigstore_json(&payload)?;
                    Ok(Signature::Sigstore(payload))
                }
                other => Err(format!(
                    "unrecognized signature format {:?}",
                    String::from_utf8_lossy(other)
                )),
            }
        }
        // Compressed data, one-pass signature (0x3D as upstream accepts it) and signature packets.
        0xA0..=0xA3 | 0xC8 | 0x90..=0x92 | 0x3D | 0xC4 | 0x88..=0x8B | 0xC2 => {
            Ok(Signature::SimpleSigning(b.to_vec()))
        }
        other => Err(format!(
            "unrecognized signature format, starting with binary {other:#04x}"
        )),
    }
}

/// A sigstore signature as containers/image stores it (`internal/signature/sigstore.go`): the
/// attachment's MIME type, its payload, and its annotations (the signature, and optionally a
/// certificate, chain and Rekor SET). Untrusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigstoreJson {
    pub mime_type: String,
    pub payload: Vec<u8>,
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Decodes a `sigstore-json` chunk as containers/image does, with Go's lenient `encoding/json`:
/// unknown members ignored, member names matched without regard to case, the last of repeated
/// members winning (repeated `annotations` objects merge), `null` leaving a string as it was and
/// an annotation's value empty. containers/image decodes each chunk as soon as it is read, and a
/// chunk that does not decode fails the whole evaluation, even under a `signedBy` requirement that
/// never looks at it.
pub fn decode_sigstore(b: &[u8]) -> Result<SigstoreJson, String> {
    let v = Value::parse(b).map_err(|e| format!("sigstore-json: {e}"))?;
    let mut out = SigstoreJson::default();
    let members = match &v {
        Value::Null => return Ok(out),
        Value::Object(members) => members,
        other => {
            return Err(format!(
                "sigstore-json: cannot use {} as a signature",
                other.kind()
            ))
        }
    };
    for (name, value) in members {
        match crate::json::go_fold(name).as_str() {
            "mimetype" if !matches!(value, Value::Null) => {
                out.mime_type = go_string(value, "sigstore-json mimeType")?;
            }
            "payload" => {
                out.payload = go_bytes(value, "sigstore-json payload")?.unwrap_or_default();
            }
            "annotations" => match value {
                Value::Null => out.annotations.clear(),
                Value::Object(annotations) => {
                    for (k, a) in annotations {
                        let a = go_string(a, "sigstore-json annotations")?;
                        out.annotations.insert(k.clone(), a);
                    }
                }
                other => {
                    return Err(format!(
                        "sigstore-json annotations: cannot use {} as a map",
                        other.kind()
                    ))
                }
            },
            _ => {}
        }
    }
    Ok(out)
}

fn check_sigstore_json(b: &[u8]) -> Result<(), String> {
    decode_sigstore(b).map(|_| ())
}

/// The claims of a simple-signing payload. Untrusted until its signature is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// `critical.image.docker-manifest-digest`, as written (checked by string comparison).
    pub manifest_digest: String,
    /// `critical.identity.docker-reference`, as written.
    pub docker_reference: String,
}

const SIMPLE_SIGNING_TYPE: &str = "atomic container signature";

const SIGSTORE_TYPE: &str = "cosign container image signature";

/// Parses a simple-signing payload as strictly as containers/image's `signature/simple.go`.
pub fn parse_payload(bytes: &[u8]) -> Result<Payload, String> {
    parse(bytes, SIMPLE_SIGNING_TYPE)
}

/// Parses a sigstore signature's payload as containers/image's
/// `signature/internal/sigstore_payload.go` does: the simple-signing structure with the type
/// `cosign container image signature`, and an `optional` that may be `null` (cosign writes
/// that).
pub fn parse_sigstore_payload(bytes: &[u8]) -> Result<Payload, String> {
    parse(bytes, SIGSTORE_TYPE)
}

fn parse(bytes: &[u8], kind: &str) -> Result<Payload, String> {
    let v = Value::parse(bytes)?;
    let top = Object::strict(&v, &["critical", "optional"])?;
    let critical = top.require("critical")?;
    let optional = top.require("optional")?;

    // `optional`: an object (or, for sigstore, `null`); unknown members are ignored, but creator
    // and timestamp are typed.
    let empty = Value::Object(Vec::new());
    let optional = match optional {
        Value::Null if kind == SIGSTORE_TYPE => &empty,
        o => o,
    };
    let opt = Object::unique(optional)?;
    if let Some(c) = opt.get("creator") {
        go_string(c, "optional.creator")?;
    }
    if let Some(t) = opt.get("timestamp") {
        match t {
            Value::Null => {}
            Value::Number(n) => {
                let f = n.as_f64().ok_or("optional.timestamp is out of range")?;
                // Go converts through int64 and compares back.
                if f.fract() != 0.0
                    || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                {
                    return Err("Field optional.timestamp is not an integer".into());
                }
            }
            other => {
                return Err(format!(
                    "optional.timestamp: cannot use {} as a number",
                    other.kind()
                ))
            }
        }
    }

    let crit = Object::strict(critical, &["type", "image", "identity"])?;
    let t = go_string(crit.require("type")?, "critical.type")?;
    let image = crit.require("image")?;
    let identity = crit.require("identity")?;
    if t != kind {
        return Err(format!("Unrecognized signature type {t:?}"));
    }
    let image = Object::strict(image, &["docker-manifest-digest"])?;
    let manifest_digest = go_string(
        image.require("docker-manifest-digest")?,
        "docker-manifest-digest",
    )?;
    let identity = Object::strict(identity, &["docker-reference"])?;
    let docker_reference = go_string(identity.require("docker-reference")?, "docker-reference")?;
    Ok(Payload {
        manifest_digest,
        docker_reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_sizes_exactly() {
        let blob = [0xA3, 1, 2, 0x89, 4];
        assert_eq!(
            split(&blob, &[3, 2]).unwrap(),
            vec![
                Signature::SimpleSigning(vec![0xA3, 1, 2]),
                Signature::SimpleSigning(vec![0x89, 4])
            ]
        );
        assert_eq!(
            split(&blob, &[3, 3]),
            Err(BlobError::Short {
                needed: 6,
                found: 5
            })
        );
        assert_eq!(split(&blob, &[3]), Err(BlobError::Extra(2)));
        assert_eq!(
            split(&blob, &[usize::MAX]),
            Err(BlobError::Short {
                needed: usize::MAX,
                found: 5
            })
        );
        assert_eq!(split(&[], &[]).unwrap(), vec![]);
        assert!(matches!(
            split(&blob, &[0, 5]),
            Err(BlobError::Format { index: 0, .. })
        ));
    }

    #[test]
    fn detects_formats_by_first_byte() {
        for b in [
            0xA0u8, 0xA1, 0xA2, 0xA3, 0xC8, 0x90, 0x91, 0x92, 0x3D, 0xC4, 0x88, 0x89, 0x8A, 0x8B,
            0xC2,
        ] {
            assert!(
                matches!(from_blob(&[b, 0]), Ok(Signature::SimpleSigning(_))),
                "{b:#x}"
            );
        }
        for b in [0x93u8, 0x2D, 0x8C, 0xA4, 0xFF, b'{'] {
            assert!(from_blob(&[b, 0]).is_err(), "{b:#x}");
        }
        assert_eq!(
            from_blob(b"\0simple-signing\n\xa3x"),
            Ok(Signature::SimpleSigning(vec![0xa3, b'x']))
        );
        assert_eq!(
            from_blob(b"\0sigstore-json\n{}"),
            Ok(Signature::Sigstore(b"{}".to_vec()))
        );
        assert!(from_blob(b"\0other\n{}").is_err());
        // A sigstore-json chunk must decode as containers/image decodes it, leniently.
        for ok in [
            &b"null"[..],
            br#"{"mimeType":"a","payload":"aGk=","annotations":{"k":"v","n":null},"x":[1]}"#,
            br#"{"MIMETYPE":null,"Payload":"aG\nk=","ANNOTATIONS":null}"#,
            br#"{"payload":""}"#,
        ] {
            let mut b = b"\0sigstore-json\n".to_vec();
            b.extend_from_slice(ok);
            assert!(from_blob(&b).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"{"[..],
            b"[]",
            b"1",
            br#"{"payload":"!!!"}"#,
            br#"{"payload":"aGk"}"#,
            br#"{"payload":1}"#,
            br#"{"mimeType":{}}"#,
            br#"{"annotations":{"a":1}}"#,
            br#"{"annotations":[]}"#,
            br#"{"PAYLOAD":"@"}"#,
            br#"{} x"#,
        ] {
            let mut b = b"\0sigstore-json\n".to_vec();
            b.extend_from_slice(bad);
            assert!(from_blob(&b).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(from_blob(b"\0sigstore-json").is_err());
        assert!(from_blob(b"\0sig\x01\n").is_err());
        assert!(from_blob(b"").is_err());
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn payload(critical: &str, optional: &str) -> String {
        format!(r#"{{"critical":{critical},"optional":{optional}}}"#)
    }

    fn critical(t: &str) -> String {
        format!(
            r#"{{"type":"{t}","image":{{"docker-manifest-digest":"{D}"}},"identity":{{"docker-reference":"a.com/x:1"}}}}"#
        )
    }

    #[test]
    fn accepts_a_well_formed_payload() {
        let c = critical(SIMPLE_SIGNING_TYPE);
        for opt in [
            "{}",
            r#"{"creator":"atomic 5.23.1","timestamp":1795587633}"#,
            r#"{"creator":null,"timestamp":null}"#,
            r#"{"timestamp":1e3}"#,
            r#"{"anything":{"nested":[1,{"a":1,"a":2}]}}"#,
        ] {
            let p = parse_payload(payload(&c, opt).as_bytes()).unwrap();
            assert_eq!(
                (p.manifest_digest.as_str(), p.docker_reference.as_str()),
                (D, "a.com/x:1")
            );
        }
    }

    #[test]
    fn rejects_malformed_payloads() {
        let c = critical(SIMPLE_SIGNING_TYPE);
        let cases = [
            payload(&c, "null"),
            payload(&c, "[]"),
            payload(&c, r#"{"timestamp":1.5}"#),
            payload(&c, r#"{"timestamp":"1"}"#),
            payload(&c, r#"{"creator":1}"#),
            payload(&c, r#"{"a":1,"a":1}"#),
            payload(&critical("cosign container image signature"), "{}"),
            payload(&critical("Atomic container signature"), "{}"),
            format!(r#"{{"critical":{c}}}"#),
            format!(r#"{{"critical":{c},"optional":{{}},"extra":1}}"#),
            format!(r#"{{"critical":{c},"optional":{{}},"critical":{c}}}"#),
            format!(r#"{{"critical":{c},"optional":{{}}}} x"#),
            payload(&c.replace(r#""identity""#, r#""identity2""#), "{}"),
            payload(
                &c.replace(r#"{"docker-reference""#, r#"{"x":1,"docker-reference""#),
                "{}",
            ),
            payload(&c.replace(r#""type":"#, r#""extra":1,"type":"#), "{}"),
            payload(&c.replace(&format!(r#""{D}""#), "1"), "{}"),
            "This is not JSON".into(),
        ];
        for p in cases {
            assert!(parse_payload(p.as_bytes()).is_err(), "{p}");
        }
        // A null digest or reference reads as "" (and then cannot match anything).
        let p = parse_payload(payload(&c.replace(&format!(r#""{D}""#), "null"), "{}").as_bytes())
            .unwrap();
        assert_eq!(p.manifest_digest, "");
    }
}
