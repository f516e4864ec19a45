//! Public keys as sigstore signatures use them: read from PEM (`PUBLIC KEY`, PKIX, or
//! `RSA PUBLIC KEY`, PKCS#1; only the first block counts), written back as PKIX DER (a Rekor
//! entry names its key that way), and used to verify a payload signature with SHA-256: ECDSA
//! (ASN.1 DER, or IEEE P1363 `r‖s` when the bytes are not ASN.1), RSA PKCS#1 v1.5, or Ed25519.
//!
//! Ref: sigstore `pkg/cryptoutils/publickey.go` (`UnmarshalPEMToPublicKey`), `pkg/signature`
//! (`LoadVerifier`, `ECDSAVerifier.VerifySignature`), Go `crypto/x509` `ParsePKIXPublicKey`.
//! ECDSA is RustCrypto's (`ecdsa.rs`), RSA and Ed25519 `ring`'s.

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use der::{Decode, Encode, Tagged};
use ring::signature as rs;
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use sha2::{Digest, Sha256};

use super::{ecdsa, pem};

pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
pub const OID_P224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.33");
pub const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// An elliptic curve ECDSA keys may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P224,
    P256,
    P384,
    P521,
}

impl Curve {
    fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P224 => OID_P224,
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
            Curve::P521 => OID_P521,
        }
    }

    /// The byte length of a field element (and of `r` and `s`).
    pub fn size(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// A public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An uncompressed point (`04 ‖ x ‖ y`) on `curve`.
    Ecdsa {
        curve: Curve,
        point: Vec<u8>,
    },
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// `ECDSA P-256`, `RSA 2048`, `Ed25519`: for messages.
    pub fn describe(&self) -> String {
        match self {
            PublicKey::Ecdsa { curve, .. } => format!("ECDSA {curve:?}").replace('P', "P-"),
            PublicKey::Rsa { n, .. } => format!("RSA {}", bit_len(n)),
            PublicKey::Ed25519(_) => "Ed25519".into(),
        }
    }

    /// The key of a PKIX `SubjectPublicKeyInfo` (DER), as Go's `x509.ParsePKIXPublicKey` reads
    /// it: RSA with NULL parameters, ECDSA on a named curve with an uncompressed point, Ed25519
    /// without parameters, on P-224, P-256, P-384 or P-521 (the curves Go supports).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("x509: malformed public key: {e}"))?;
        PublicKey::from_spki(&spki)
    }

    pub fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, String> {
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or("x509: public key bit string is not a whole number of bytes")?;
        let alg = &spki.algorithm;
        if alg.oid == OID_RSA {
            match alg.parameters {
                Some(p) if p.tag() == der::Tag::Null && p.value().is_empty() => {}
                _ => return Err("x509: RSA key missing NULL parameters".into()),
            }
            rsa_pkcs1(key)
        } else if alg.oid == OID_EC_PUBLIC_KEY {
            let curve = alg
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or("x509: failed to parse ECDSA parameters as named curve")?;
            let curve = match curve {
                OID_P224 => Curve::P224,
                OID_P256 => Curve::P256,
                OID_P384 => Curve::P384,
                OID_P521 => Curve::P521,
                _ => return Err("x509: unsupported elliptic curve".into()),
            };
            if !ecdsa::valid_point(curve, key) {
                return Err("x509: failed to unmarshal elliptic curve point".into());
            }
            Ok(PublicKey::Ecdsa {
                curve,
                point: key.to_vec(),
            })
        } else if alg.oid == OID_ED25519 {
            if alg.parameters.is_some() {
                return Err("x509: Ed25519 key encoded with illegal parameters".into());
            }
            let k: [u8; 32] = key
                .try_into()
                .map_err(|_| "x509: wrong Ed25519 public key size")?;
            Ok(PublicKey::Ed25519(k))
        } else {
            Err(format!("x509: unknown public key algorithm {}", alg.oid))
        }
    }

    /// The PKIX `SubjectPublicKeyInfo` DER of the key (Go's `x509.MarshalPKIXPublicKey`).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let (oid, params, key): (ObjectIdentifier, Option<Vec<u8>>, Vec<u8>) = match self {
            PublicKey::Ecdsa { curve, point } => {
                (OID_EC_PUBLIC_KEY, curve.oid().to_der().ok(), point.clone())
            }
            PublicKey::Rsa { n, e } => (OID_RSA, Some(vec![5, 0]), pkcs1_der(n, e)),
            PublicKey::Ed25519(k) => (OID_ED25519, None, k.to_vec()),
        };
        let params = params.as_deref().and_then(|p| AnyRef::from_der(p).ok());
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid,
                parameters: params,
            },
            subject_public_key: match BitStringRef::from_bytes(&key) {
                Ok(b) => b,
                Err(_) => return Vec::new(),
            },
        };
        spki.to_der().unwrap_or_default()
    }

    /// Whether `signature` is this ECDSA key's ASN.1 DER signature of `digest` (Go's
    /// `ecdsa.VerifyASN1`: strict DER, nothing after it).
    pub fn verify_ecdsa_asn1(&self, digest: &[u8], signature: &[u8]) -> bool {
        let PublicKey::Ecdsa { curve, point } = self else {
            return false;
        };
        ecdsa::parse_der(signature).is_some_and(|(r, s)| ecdsa::verify(*curve, point, digest, r, s))
    }

    /// Whether `signature` is this key's signature of `message` with SHA-256, as sigstore's
    /// verifiers check it (`LoadVerifier(key, crypto.SHA256)`).
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        match self {
            PublicKey::Ecdsa { curve, point } => {
                let digest = Sha256::digest(message);
                if looks_like_asn1_signature(signature) {
                    if self.verify_ecdsa_asn1(&digest, signature) {
                        Ok(())
                    } else {
                        Err("invalid signature when validating ASN.1 encoded signature".into())
                    }
                } else {
                    // IEEE P1363: r and s are the halves, each read as a big-endian number.
                    if signature.is_empty() || signature.len() > 132 || signature.len() % 2 != 0 {
                        return Err("ecdsa: Invalid IEEE_P1363 encoded bytes".into());
                    }
                    let (r, s) = signature.split_at(signature.len() / 2);
                    if ecdsa::verify(*curve, point, &digest, r, s) {
                        Ok(())
                    } else {
                        Err("invalid signature when validating IEEE_P1363 encoded signature".into())
                    }
                }
            }
            PublicKey::Rsa { n, e } => rs::RsaPublicKeyComponents { n, e }
                .verify(
                    &rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    message,
                    signature,
                )
                .map_err(|_| "crypto/rsa: verification error".into()),
            PublicKey::Ed25519(k) => rs::UnparsedPublicKey::new(&rs::ED25519, k)
                .verify(message, signature)
                .map_err(|_| "failed to verify signature".into()),
        }
    }
}

/// A key from PEM: the first block only, `PUBLIC KEY` (PKIX) or `RSA PUBLIC KEY` (PKCS#1).
pub fn from_pem(pem_bytes: &[u8]) -> Result<PublicKey, String> {
    let (block, _) = pem::decode(pem_bytes).ok_or("PEM decoding failed")?;
    match block.kind.as_str() {
        "PUBLIC KEY" => PublicKey::from_spki_der(&block.bytes),
        "RSA PUBLIC KEY" => rsa_pkcs1(&block.bytes),
        other => Err(format!(
            "unknown Public key PEM file type: {other}. Are you passing the correct public key?"
        )),
    }
}

/// `-----BEGIN PUBLIC KEY-----` PEM of the key's PKIX DER (sigstore `MarshalPublicKeyToPEM`).
pub fn to_pem(key: &PublicKey) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(key.to_spki_der());
    let mut out = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
    for chunk in b64.as_bytes().chunks(64) {
        out.extend_from_slice(chunk);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END PUBLIC KEY-----\n");
    out
}

/// A PKCS#1 `RSAPublicKey` (Go's `x509.ParsePKCS1PublicKey`).
fn rsa_pkcs1(der: &[u8]) -> Result<PublicKey, String> {
    let k = pkcs1::RsaPublicKey::from_der(der)
        .map_err(|e| format!("x509: failed to parse public key (use ParsePKIXPublicKey instead for this key format): {e}"))?;
    let n = strip_zeros(k.modulus.as_bytes());
    let e = strip_zeros(k.public_exponent.as_bytes());
    if n.is_empty() {
        return Err("x509: RSA modulus is not a positive number".into());
    }
    if e.is_empty() || e.len() > 4 || (e.len() == 4 && e[0] & 0x80 != 0) {
        return Err("x509: RSA public exponent is not a positive number".into());
    }
    Ok(PublicKey::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

/// PKCS#1 `RSAPublicKey` DER of `n` and `e` (big-endian, no leading zeros).
fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let (Ok(n), Ok(e)) = (der::asn1::UintRef::new(n), der::asn1::UintRef::new(e)) else {
        return Vec::new();
    };
    pkcs1::RsaPublicKey {
        modulus: n,
        public_exponent: e,
    }
    .to_der()
    .unwrap_or_default()
}

pub fn strip_zeros(mut x: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = x {
        x = rest;
    }
    x
}

fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(b) => n.len() * 8 - b.leading_zeros() as usize,
    }
}

/// Whether an ECDSA signature is read as ASN.1: sigstore's verifier tries Go's lenient
/// `asn1.Unmarshal` into a sequence of two integers first (bytes after it are allowed), and
/// only bytes that do not parse so are read as IEEE P1363.
fn looks_like_asn1_signature(sig: &[u8]) -> bool {
    let Ok((header, rest)) = der_header(sig) else {
        return false;
    };
    if header.0 != 0x30 || rest.len() < header.1 {
        return false;
    }
    let mut body = &rest[..header.1];
    for _ in 0..2 {
        match der_header(body) {
            Ok(((0x02, len), after)) if after.len() >= len && len > 0 => {
                let int = &after[..len];
                // Go's encoding/asn1 refuses non-minimal integers.
                if len > 1
                    && ((int[0] == 0 && int[1] & 0x80 == 0)
                        || (int[0] == 0xff && int[1] & 0x80 != 0))
                {
                    return false;
                }
                body = &after[len..];
            }
            _ => return false,
        }
    }
    true
}

/// The contents of one DER element with tag `tag` at the start of `b`, and what follows it.
pub fn der_element(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let ((t, len), rest) = der_header(b).ok()?;
    (t == tag && rest.len() >= len).then(|| rest.split_at(len))
}

/// A DER tag (single byte) and definite, minimally encoded length.
fn der_header(b: &[u8]) -> Result<((u8, usize), &[u8]), ()> {
    let (&tag, rest) = b.split_first().ok_or(())?;
    let (&first, rest) = rest.split_first().ok_or(())?;
    if first < 0x80 {
        return Ok(((tag, usize::from(first)), rest));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 || rest.len() < n || rest[0] == 0 {
        return Err(());
    }
    let len = rest[..n]
        .iter()
        .fold(0usize, |a, &x| (a << 8) | usize::from(x));
    if len < 0x80 {
        return Err(());
    }
    Ok(((tag, len), &rest[n..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_detection_follows_go() {
        // SEQUENCE { INTEGER 1, INTEGER 2 }
        assert!(looks_like_asn1_signature(&[0x30, 6, 2, 1, 1, 2, 1, 2]));
        // Trailing bytes after the sequence are allowed by asn1.Unmarshal.
        assert!(looks_like_asn1_signature(&[0x30, 6, 2, 1, 1, 2, 1, 2, 9]));
        // A non-minimal integer is not ASN.1 to Go.
        assert!(!looks_like_asn1_signature(&[0x30, 7, 2, 2, 0, 1, 2, 1, 2]));
        assert!(!looks_like_asn1_signature(&[0u8; 64]));
        assert!(!looks_like_asn1_signature(&[]));
    }
}
