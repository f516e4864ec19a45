//! `sigstoreSigned`: sigstore (cosign) signatures, verified offline as containers/image 5.34
//! does.
//!
//! A signature is a `sigstore-json` chunk stored with the image: an attachment whose MIME type
//! must be `application/vnd.dev.cosign.simplesigning.v1+json`, whose payload is the signed
//! claim (a simple-signing-like JSON naming the manifest digest and a docker reference), and
//! whose annotations hold the base64 signature and, depending on the trust root, a certificate,
//! its chain and a Rekor SET. One accepted signature is enough.
//!
//! For each candidate signature, in order (containers/image `signature/policy_eval_sigstore.go`):
//! 1. the trust root: the policy's public keys, or a Fulcio CA (with Rekor keys), or PKI roots;
//! 2. with public keys and Rekor keys: a SET that logs one of the keys; that key alone is used;
//! 3. with Fulcio: a SET that logs the certificate, then the certificate's chain to the CA at
//!    the SET's `integratedTime`, its OIDC issuer and e-mail; its key is used;
//! 4. with PKI: the certificate's chain to the roots now, its e-mail and host name;
//! 5. the payload's signature by one of the keys (SHA-256);
//! 6. the payload, then its manifest digest, then its identity, as for `signedBy`.
//!
//! No network is used: like containers/image, no Rekor inclusion proof and no certificate
//! transparency (SCT) is checked.

pub mod ecdsa;
pub mod jcs;
pub mod keys;
pub mod pem;
pub mod rekor;
pub mod x509;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use self::keys::PublicKey;
use self::x509::Certificate;
use super::{KeyLoader, RequirementError, SigFailure, Subject, MAX_SIGNATURES};
use crate::policy::{KeySource, Sigstore, SigstoreTrust};
use crate::signature::{self, Signature, SigstoreJson};

/// The MIME type of a sigstore signature; other attachments are skipped.
pub const SIGNATURE_MIME_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The base64 signature of the payload.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// The Rekor SET (JSON: `SignedEntryTimestamp`, `Payload`).
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// The signer's certificate (PEM).
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// The certificate's chain (PEM), the root last.
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";

/// Fulcio's OIDC issuer extensions: the raw string (v1), and a DER string (v2).
const OID_ISSUER_V1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OID_ISSUER_V2: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");

/// The requirement's trust, read and parsed.
enum TrustRoot {
    Keys(Vec<PublicKey>),
    Fulcio {
        cas: Vec<Certificate>,
        oidc_issuer: String,
        subject_email: String,
    },
    Pki {
        roots: Vec<Certificate>,
        intermediates: Vec<Certificate>,
        subject_email: String,
        subject_hostname: String,
    },
}

/// Evaluates a `sigstoreSigned` requirement. `Ok` holds when the pass stops holding by the
/// clock (a PKI chain's first expiry), if ever.
pub(super) fn evaluate(
    req: &Sigstore,
    subject: Subject<'_>,
    load: KeyLoader<'_>,
) -> Result<Option<SystemTime>, RequirementError> {
    let mut other = 0;
    let mut attachments = 0;
    let mut candidates = Vec::new();
    for s in subject.signatures {
        match s {
            Signature::SimpleSigning(_) => other += 1,
            Signature::Sigstore(b) => {
                // Every chunk decoded when the image was read; this cannot fail here.
                let sig = signature::decode_sigstore(b).map_err(RequirementError::TrustRoot)?;
                if sig.mime_type == SIGNATURE_MIME_TYPE {
                    candidates.push(sig);
                } else {
                    attachments += 1;
                }
            }
        }
    }
    if candidates.is_empty() {
        return Err(RequirementError::NoSigstoreSignature { other, attachments });
    }
    if candidates.len() > MAX_SIGNATURES {
        return Err(RequirementError::TooManySignatures(candidates.len()));
    }
    crate::deadline::doing("reading the sigstore trust root".to_string());
    let root = trust_root(req, load)?;
    let rekor = match &req.rekor {
        None => None,
        Some(source) => Some(rekor_keys(source, load)?),
    };
    let mut failures = Vec::new();
    for (i, sig) in candidates.iter().enumerate() {
        if crate::deadline::expired() {
            failures.push(SigFailure::Crypto(
                "not verified: the deadline passed".into(),
            ));
            break;
        }
        crate::deadline::doing(format!(
            "verifying sigstore signature {} of {}",
            i + 1,
            candidates.len()
        ));
        match accept(sig, &root, rekor.as_deref(), req, subject) {
            Ok(expires) => return Ok(expires),
            Err(f) => failures.push(f),
        }
    }
    Err(RequirementError::Signatures(failures))
}

/// The bytes of each file or datum of a source.
fn bytes_of(source: &KeySource, load: KeyLoader<'_>) -> Result<Vec<Vec<u8>>, RequirementError> {
    Ok(load(source)?)
}

fn trust_root(req: &Sigstore, load: KeyLoader<'_>) -> Result<TrustRoot, RequirementError> {
    let bad = RequirementError::TrustRoot;
    Ok(match &req.trust {
        SigstoreTrust::PublicKeys(source) => {
            let keys = bytes_of(source, load)?
                .iter()
                .enumerate()
                .map(|(i, pem)| {
                    keys::from_pem(pem)
                        .map_err(|e| bad(format!("parsing public key {}: {e}", i + 1)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if keys.is_empty() {
                return Err(bad("the policy's key source holds no public keys".into()));
            }
            TrustRoot::Keys(keys)
        }
        SigstoreTrust::Fulcio {
            ca,
            oidc_issuer,
            subject_email,
        } => TrustRoot::Fulcio {
            cas: x509::pool_from_pem(&one(bytes_of(ca, load)?), "Fulcio CA certificates")
                .map_err(bad)?,
            oidc_issuer: oidc_issuer.clone(),
            subject_email: subject_email.clone(),
        },
        SigstoreTrust::Pki {
            roots,
            intermediates,
            subject_email,
            subject_hostname,
        } => TrustRoot::Pki {
            roots: x509::pool_from_pem(&one(bytes_of(roots, load)?), "PKI CA Roots certificates")
                .map_err(bad)?,
            intermediates: match intermediates {
                None => Vec::new(),
                Some(source) => x509::certificates_from_pem(&one(bytes_of(source, load)?))
                    .map_err(|e| bad(format!("loading trusted intermediate certificates: {e}")))?,
            },
            subject_email: subject_email.clone(),
            subject_hostname: subject_hostname.clone(),
        },
    })
}

/// The one file or datum of a `…Path`/`…Data` pair.
fn one(mut v: Vec<Vec<u8>>) -> Vec<u8> {
    v.pop().unwrap_or_default()
}

fn rekor_keys(source: &KeySource, load: KeyLoader<'_>) -> Result<Vec<PublicKey>, RequirementError> {
    let bad = RequirementError::TrustRoot;
    let keys = bytes_of(source, load)?
        .iter()
        .enumerate()
        .map(|(i, pem)| match keys::from_pem(pem) {
            Err(e) => Err(bad(format!("parsing Rekor public key {}: {e}", i + 1))),
            Ok(k @ PublicKey::Ecdsa { .. }) => Ok(k),
            Ok(_) => Err(bad(format!(
                "Rekor public key {} is not using ECDSA",
                i + 1
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(bad(
            "the policy's Rekor key source holds no public keys".into()
        ));
    }
    Ok(keys)
}

/// One signature, checked in containers/image's order.
fn accept(
    sig: &SigstoreJson,
    root: &TrustRoot,
    rekor: Option<&[PublicKey]>,
    req: &Sigstore,
    subject: Subject<'_>,
) -> Result<Option<SystemTime>, SigFailure> {
    let crypto = SigFailure::Crypto;
    let annotation = |name: &str| sig.annotations.get(name);
    let missing = |name: &str| crypto(format!("missing {name} annotation"));
    let b64_signature =
        annotation(ANNOTATION_SIGNATURE).ok_or_else(|| missing(ANNOTATION_SIGNATURE))?;
    let mut expires = None;
    let (keys, signer): (Vec<PublicKey>, String) = match root {
        TrustRoot::Keys(keys) => match rekor {
            None => (keys.clone(), describe_keys(keys)),
            Some(rekor) => {
                let set =
                    annotation(ANNOTATION_BUNDLE).ok_or_else(|| missing(ANNOTATION_BUNDLE))?;
                let mut errors = Vec::new();
                let mut logged = None;
                for (i, key) in keys.iter().enumerate() {
                    match rekor::verify_set(
                        rekor,
                        set.as_bytes(),
                        &keys::to_pem(key),
                        b64_signature,
                        &sig.payload,
                    ) {
                        Ok(_) => {
                            logged = Some((i, key));
                            break;
                        }
                        Err(e) => errors.push(e),
                    }
                }
                let (i, key) = logged.ok_or_else(|| {
                    crypto(format!(
                        "No public key verified against the RekorSET: {}",
                        errors.join(", ")
                    ))
                })?;
                (
                    vec![key.clone()],
                    format!("key {} ({})", i + 1, key.describe()),
                )
            }
        },
        TrustRoot::Fulcio {
            cas,
            oidc_issuer,
            subject_email,
        } => {
            let rekor = rekor.ok_or_else(|| crypto("Fulcio requires a Rekor public key".into()))?;
            let set = annotation(ANNOTATION_BUNDLE).ok_or_else(|| missing(ANNOTATION_BUNDLE))?;
            let cert_pem = annotation(ANNOTATION_CERTIFICATE)
                .ok_or_else(|| missing(ANNOTATION_CERTIFICATE))?;
            let at = rekor::verify_set(
                rekor,
                set.as_bytes(),
                cert_pem.as_bytes(),
                b64_signature,
                &sig.payload,
            )
            .map_err(crypto)?;
            let leaf = leaf_certificate(cert_pem)?;
            let intermediates = chain_intermediates(annotation(ANNOTATION_CHAIN))?;
            x509::verify(&leaf, &intermediates, cas, at, &[x509::OID_SAN])
                .map_err(|e| crypto(format!("verifying leaf certificate failed: {e}")))?;
            let issuer = fulcio_issuer(&leaf).map_err(crypto)?;
            if issuer != oidc_issuer.as_bytes() {
                return Err(crypto(format!(
                    "Unexpected Fulcio OIDC issuer {:?}",
                    String::from_utf8_lossy(&issuer)
                )));
            }
            if !leaf.emails.contains(subject_email) {
                return Err(crypto(format!(
                    "Required email {subject_email:?} not found (got {:?})",
                    leaf.emails
                )));
            }
            certificate_key(leaf, subject_email)?
        }
        TrustRoot::Pki {
            roots,
            intermediates,
            subject_email,
            subject_hostname,
        } => {
            let cert_pem = annotation(ANNOTATION_CERTIFICATE)
                .ok_or_else(|| missing(ANNOTATION_CERTIFICATE))?;
            let mut pool = intermediates.clone();
            pool.extend(chain_intermediates(annotation(ANNOTATION_CHAIN))?);
            let leaf = leaf_certificate(cert_pem)?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let until = x509::verify(&leaf, &pool, roots, now, &[])
                .map_err(|e| crypto(format!("verifying leaf certificate failed: {e}")))?;
            expires = Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(until).unwrap_or(0)));
            if !subject_email.is_empty() && !leaf.emails.contains(subject_email) {
                return Err(crypto(format!(
                    "Required email {subject_email:?} not found (got {:?})",
                    leaf.emails
                )));
            }
            if !subject_hostname.is_empty() && !leaf.matches_hostname(subject_hostname) {
                return Err(crypto(format!(
                    "Unexpected subject hostname: the certificate is not valid for {subject_hostname:?}"
                )));
            }
            let who = if subject_email.is_empty() {
                subject_hostname
            } else {
                subject_email
            };
            certificate_key(leaf, who)?
        }
    };
    let signature = rekor::decode_std_base64(b64_signature)
        .map_err(|e| crypto(format!("base64 decoding: {e}")))?;
    let mut errors = Vec::new();
    if !keys
        .iter()
        .any(|k| match k.verify_sha256(&sig.payload, &signature) {
            Ok(()) => true,
            Err(e) => {
                errors.push(e);
                false
            }
        })
    {
        return Err(crypto(format!(
            "cryptographic signature verification failed: {}",
            errors.join(", ")
        )));
    }
    let payload = signature::parse_sigstore_payload(&sig.payload).map_err(SigFailure::Payload)?;
    if payload.manifest_digest != subject.manifest_digest {
        return Err(SigFailure::Digest {
            signer,
            signed: payload.manifest_digest,
        });
    }
    req.identity
        .check(subject.reference, &payload.docker_reference)
        .map_err(|error| SigFailure::Identity {
            signer,
            signed: payload.docker_reference,
            error,
        })?;
    Ok(expires)
}

/// The key of a verified certificate, and who it names.
fn certificate_key(leaf: Certificate, who: &str) -> Result<(Vec<PublicKey>, String), SigFailure> {
    let key = leaf
        .key
        .map_err(|e| SigFailure::Crypto(format!("the certificate's key cannot be used: {e}")))?;
    let signer = format!("certificate for {who} ({})", key.describe());
    Ok((vec![key], signer))
}

fn describe_keys(keys: &[PublicKey]) -> String {
    match keys {
        [one] => format!("key {}", one.describe()),
        _ => format!("one of {} keys", keys.len()),
    }
}

/// The certificate annotation: exactly one certificate.
fn leaf_certificate(pem_text: &str) -> Result<Certificate, SigFailure> {
    let mut certs = x509::certificates_from_pem(pem_text.as_bytes())
        .map_err(|e| SigFailure::Crypto(format!("parsing leaf certificate: {e}")))?;
    match certs.len() {
        0 => Err(SigFailure::Crypto(
            "no certificate found in signature certificate data".into(),
        )),
        1 => Ok(certs.remove(0)),
        _ => Err(SigFailure::Crypto(
            "unexpected multiple certificates present in signature certificate data".into(),
        )),
    }
}

/// The chain annotation's certificates except the last (the root, which only the policy may
/// name); none if it is absent or empty.
fn chain_intermediates(chain: Option<&String>) -> Result<Vec<Certificate>, SigFailure> {
    match chain {
        Some(text) if !text.is_empty() => {
            let mut certs = x509::certificates_from_pem(text.as_bytes())
                .map_err(|e| SigFailure::Crypto(format!("loading certificate chain: {e}")))?;
            certs.pop();
            Ok(certs)
        }
        _ => Ok(Vec::new()),
    }
}

/// The OIDC issuer a Fulcio certificate names: extension 1.3.6.1.4.1.57264.1.1 (the raw bytes)
/// and/or 1.3.6.1.4.1.57264.1.8 (a DER string), equal when both are present. Bytes, as Go
/// compares them: a byte that is not UTF-8 never equals the policy's (UTF-8) issuer.
fn fulcio_issuer(cert: &Certificate) -> Result<Vec<u8>, String> {
    let v1 = cert
        .extensions
        .iter()
        .find(|(o, _)| *o == OID_ISSUER_V1)
        .map(|(_, v)| v.clone());
    let v2 = match cert.extensions.iter().find(|(o, _)| *o == OID_ISSUER_V2) {
        None => None,
        Some((_, v)) => Some(
            der_string(v).map_err(|e| format!("invalid ASN.1 in OIDC issuer v2 extension: {e}"))?,
        ),
    };
    match (v1, v2) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "inconsistent OIDC issuer extension values: v1 {:?}, v2 {:?}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        )),
        (Some(a), _) => Ok(a),
        (None, Some(b)) => Ok(b),
        (None, None) => Err("Fulcio certificate is missing the issuer extension".into()),
    }
}

/// A DER string as Go's `asn1.Unmarshal` into a `string` reads it, with nothing after it: the
/// bytes of a UTF8String (valid UTF-8), PrintableString (its character set, plus `*` and `&`),
/// IA5String (ASCII), NumericString (digits and space), T61String or GeneralString (any bytes),
/// or the UTF-8 of a BMPString (UTF-16BE, a final NUL dropped, bad surrogates replaced).
fn der_string(v: &[u8]) -> Result<Vec<u8>, String> {
    let (&tag, rest) = v.split_first().ok_or("data truncated")?;
    let (&first, mut rest) = rest.split_first().ok_or("data truncated")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n || rest[0] == 0 {
            return Err("invalid or non-minimal length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        if len < 0x80 {
            return Err("non-minimal length".into());
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err("data truncated".into());
    }
    if rest.len() > len {
        return Err("trailing data".into());
    }
    let printable = |b: u8| b.is_ascii_alphanumeric() || b" '()+,-./:=?*&".contains(&b);
    let all = |ok: &dyn Fn(u8) -> bool, what: &str| {
        if rest.iter().all(|&b| ok(b)) {
            Ok(rest.to_vec())
        } else {
            Err(format!("{what} contains invalid character"))
        }
    };
    match tag {
        0x0c => std::str::from_utf8(rest)
            .map(|s| s.as_bytes().to_vec())
            .map_err(|_| "invalid UTF-8 string".into()),
        0x13 => all(&printable, "PrintableString"),
        0x16 => all(&|b: u8| b.is_ascii(), "IA5String"),
        0x12 => all(&|b: u8| b.is_ascii_digit() || b == b' ', "NumericString"),
        0x14 | 0x1b => Ok(rest.to_vec()),
        0x1e => {
            if rest.len() % 2 != 0 {
                return Err("odd-length BMP string".into());
            }
            let units = rest.strip_suffix(&[0, 0]).unwrap_or(rest);
            let units = units
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            Ok(char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect::<String>()
                .into_bytes())
        }
        t => Err(format!("tag 0x{t:02x} is not a string")),
    }
}

#[cfg(test)]
pub(crate) mod tests;
