//! Image manifests: their digest, their config digest, and the instances of a manifest list.
//!
//! Ref: containers/image `manifest/manifest.go` (`GuessMIMEType`, `Digest`), the OCI image spec and
//! Docker's schema 2; docs/semantics.md, "Which manifest".

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `bytes` in lowercase hex, as digests and IDs are written.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Whether `s` is lowercase hex digits only (`[0-9a-f]*`, so also when empty), as go-digest
/// wants a digest's hex and containers/storage writes IDs. Callers check the length.
pub fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a manifest is, as far as the hook needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// A single image: its config digest is the image ID.
    Image { config_digest: String },
    /// A manifest list / image index: the digests of its instances.
    List { instances: Vec<String> },
    /// Docker schema 1, which has no config; its digest needs the JWS stripped.
    Schema1,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    media_type: Option<String>,
    config: Option<Descriptor>,
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

/// Classifies a stored manifest.
pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| format!("invalid manifest: {e}"))?;
    if raw.schema_version == Some(1) {
        return Ok(Manifest::Schema1);
    }
    match (raw.config, raw.manifests) {
        (Some(c), None) => Ok(Manifest::Image {
            config_digest: c.digest,
        }),
        (None, Some(m)) => Ok(Manifest::List {
            instances: m.into_iter().map(|d| d.digest).collect(),
        }),
        _ => Err(format!(
            "unrecognized manifest (media type {:?})",
            raw.media_type.unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_of_the_bytes() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        let all: Vec<u8> = (0..=255).collect();
        let h = hex(&all);
        assert_eq!(h.len(), 512);
        assert!(is_lower_hex(&h));
    }

    #[test]
    fn lower_hex_is_digits_and_a_to_f() {
        assert!(is_lower_hex("0123456789abcdef"));
        assert!(is_lower_hex(""));
        for s in ["ABCDEF", "0a0G", "abcdeg", "sha256:00", " 00", "é"] {
            assert!(!is_lower_hex(s), "{s}");
        }
    }

    #[test]
    fn classifies_manifests() {
        let img = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:aa"},"layers":[]}"#;
        assert_eq!(
            parse(img).unwrap(),
            Manifest::Image {
                config_digest: "sha256:aa".into()
            }
        );
        let list =
            br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:bb"},{"digest":"sha256:cc"}]}"#;
        assert_eq!(
            parse(list).unwrap(),
            Manifest::List {
                instances: vec!["sha256:bb".into(), "sha256:cc".into()]
            }
        );
        assert_eq!(
            parse(br#"{"schemaVersion":1,"fsLayers":[]}"#).unwrap(),
            Manifest::Schema1
        );
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"schemaVersion":2}"#).is_err());
    }
}
