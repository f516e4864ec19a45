//! Evaluating the policy's requirements against the image and its stored signatures.
//!
//! A requirement list passes only if every requirement passes, in order, stopping at the first
//! that fails. `signedBy` passes if any simple-signing signature verifies with one of its keys, names
//! the manifest's digest, and claims an accepted identity (in that order, as containers/image).
//! Ref: containers/image `signature/policy_eval.go`, `policy_eval_signedby.go`, `simple.go`.

pub mod gpg;

use std::io::Read;
use std::path::Path;

use crate::policy::{IdentityRule, KeySource, KeyType, Requirement};
use crate::reference::Reference;
use crate::signature::{self, Signature};

/// A key file larger than this is refused.
const MAX_KEY_BYTES: u64 = 16 << 20;

/// Proof that a signature was verified cryptographically by a trusted key; only this module and
/// its verifiers can make one.
#[derive(Debug)]
pub struct SignatureVerified(());

/// A signature that verified, with what it signed.
#[derive(Debug)]
pub struct Verified {
    pub payload: Vec<u8>,
    /// The trusted primary key's fingerprint.
    pub signer: String,
    _proof: SignatureVerified,
}

/// An OpenPGP implementation.
pub trait Verifier {
    /// A keyring holding only the keys in `key_blobs` (binary or armored keyrings).
    fn open(&self, key_blobs: &[Vec<u8>]) -> Result<Box<dyn Keyring>, String>;
}

/// Keys imported for one requirement.
pub trait Keyring {
    /// How many keys were imported (their primary fingerprints are trusted).
    fn key_count(&self) -> usize;
    /// Verifies an opaque signed message, requiring exactly one good signature by a trusted key.
    fn verify(&mut self, signature: &[u8]) -> Result<Verified, String>;
}

/// What the requirements are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The reference the container was created from; `None` if by ID.
    pub reference: Option<&'a Reference>,
    pub manifest_digest: &'a str,
    pub signatures: &'a [Signature],
}

/// Whether evaluating `reqs` reaches a requirement that reads the image: the first requirement
/// that is not `insecureAcceptAnything` is `signedBy`. Otherwise the image is never read.
pub fn needs_image(reqs: &[Requirement]) -> bool {
    matches!(
        reqs.iter()
            .find(|r| **r != Requirement::InsecureAcceptAnything),
        Some(Requirement::SignedBy { .. })
    )
}

/// Checks every requirement in order; the first that fails, and why, is the reason to deny.
/// `subject` may be `None` only when `needs_image` is false.
pub fn evaluate<'r>(
    reqs: &'r [Requirement],
    subject: Option<Subject<'_>>,
    verifier: &dyn Verifier,
) -> Result<(), (&'r Requirement, String)> {
    for req in reqs {
        check(req, subject, verifier).map_err(|reason| (req, reason))?;
    }
    Ok(())
}

fn check(
    req: &Requirement,
    subject: Option<Subject<'_>>,
    verifier: &dyn Verifier,
) -> Result<(), String> {
    match req {
        Requirement::InsecureAcceptAnything => Ok(()),
        Requirement::Reject => Err("the policy rejects every image in this scope".into()),
        Requirement::SignedBaseLayer => Err("not implemented (by containers/image either)".into()),
        Requirement::SigstoreSigned { .. } => {
            Err("sigstore signatures are not supported yet".into())
        }
        Requirement::SignedBy {
            key_type,
            keys,
            identity,
        } => {
            let subject = subject.ok_or("internal error: the image was not read")?;
            signed_by(*key_type, keys, identity, subject, verifier)
        }
    }
}

fn signed_by(
    key_type: KeyType,
    keys: &KeySource,
    identity: &IdentityRule,
    subject: Subject<'_>,
    verifier: &dyn Verifier,
) -> Result<(), String> {
    let sigs: Vec<&[u8]> = subject
        .signatures
        .iter()
        .filter_map(|s| match s {
            Signature::SimpleSigning(b) => Some(b.as_slice()),
            Signature::Sigstore(_) => None,
        })
        .collect();
    if sigs.is_empty() {
        return Err("no signature exists (a signature by a trusted key was required)".into());
    }
    if key_type != KeyType::GpgKeys {
        return Err(format!(
            "keyType {:?} is not implemented",
            key_type.as_str()
        ));
    }
    let blobs = load_keys(keys)?;
    let mut ring = verifier.open(&blobs)?;
    if ring.key_count() == 0 {
        return Err("no public keys imported from the policy's key source".into());
    }
    let mut reasons = Vec::new();
    for sig in &sigs {
        match accept(ring.as_mut(), sig, identity, subject) {
            Ok(()) => return Ok(()),
            Err(reason) => reasons.push(reason),
        }
    }
    Err(match reasons.len() {
        1 => reasons.remove(0),
        n => format!(
            "none of the {n} signatures was accepted: {}",
            reasons.join("; ")
        ),
    })
}

/// One signature: cryptography and key, then payload, then manifest digest, then identity.
fn accept(
    ring: &mut dyn Keyring,
    sig: &[u8],
    identity: &IdentityRule,
    subject: Subject<'_>,
) -> Result<(), String> {
    let verified = ring.verify(sig)?;
    let payload = signature::parse_payload(&verified.payload)
        .map_err(|e| format!("invalid signature payload: {e}"))?;
    if payload.manifest_digest != subject.manifest_digest {
        return Err(format!(
            "signature by {} is for manifest {}, not for this image's manifest",
            verified.signer, payload.manifest_digest
        ));
    }
    identity
        .check(subject.reference, &payload.docker_reference)
        .map_err(|e| e.to_string())
}

fn load_keys(keys: &KeySource) -> Result<Vec<Vec<u8>>, String> {
    let read = |p: &Path| -> Result<Vec<u8>, String> {
        let f = std::fs::File::open(p).map_err(|e| format!("cannot read key file {p:?}: {e}"))?;
        let mut buf = Vec::new();
        f.take(MAX_KEY_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read key file {p:?}: {e}"))?;
        if buf.len() as u64 > MAX_KEY_BYTES {
            return Err(format!(
                "key file {p:?} is larger than {MAX_KEY_BYTES} bytes"
            ));
        }
        Ok(buf)
    };
    match keys {
        KeySource::Path(p) => Ok(vec![read(p)?]),
        KeySource::Paths(ps) => ps.iter().map(|p| read(p)).collect(),
        KeySource::Data(d) => Ok(vec![d.clone()]),
    }
}

#[cfg(test)]
mod tests;
