//! Evaluating the policy's requirements against the image and its stored signatures.
//!
//! A requirement list passes only if every requirement passes, in order, stopping at the first
//! that fails. `signedBy` passes if any simple-signing signature verifies with one of its keys, names
//! the manifest's digest, and claims an accepted identity (in that order, as containers/image).
//! Ref: containers/image `signature/policy_eval.go`, `policy_eval_signedby.go`, `simple.go`.

pub mod gpg;
#[cfg(feature = "sequoia")]
pub mod sequoia;
pub mod sigstore;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::policy::{IdentityError, IdentityRule, KeySource, KeyType, Requirement};
use crate::reference::Reference;
use crate::signature::{self, Signature};

/// A key file larger than this is refused.
const MAX_KEY_BYTES: u64 = 16 << 20;

/// The most plaintext one signature may carry. A simple-signing payload is a few hundred bytes,
/// and containers/image refuses a signature larger than 4 MiB; but a compressed OpenPGP message
/// of a few hundred KiB expands to gigabytes, and the OpenPGP implementation writes out whatever
/// it decompresses. Past this, the signature is rejected and its plaintext is never held.
pub const MAX_PAYLOAD_BYTES: usize = 4 << 20;

/// The most signatures one `signedBy` examines. containers/image sets no limit, but a pull stores
/// one signature per signer (a few at most), and each signature costs a gpg run: an image with
/// more is denied before any is examined, so thousands of junk signatures cannot run gpg
/// thousands of times.
pub const MAX_SIGNATURES: usize = 64;

/// Where a verifier writes a signature's plaintext: it takes at most `limit` bytes, and a write
/// past that fails with an I/O error (so that gpgme, or a copy loop, stops producing more) and
/// frees what was held. Once refused, it refuses every later write.
#[derive(Debug)]
pub struct BoundedBuffer {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl BoundedBuffer {
    pub fn new(limit: usize) -> BoundedBuffer {
        BoundedBuffer {
            buf: Vec::new(),
            limit,
            exceeded: false,
        }
    }

    /// Whether a write went past the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// What was written: the whole plaintext, or why not if it went past the limit.
    pub fn into_inner(self) -> Result<Vec<u8>, String> {
        if self.exceeded {
            Err(payload_too_large_for(self.limit))
        } else {
            Ok(self.buf)
        }
    }
}

/// Why a signature's plaintext was refused.
fn payload_too_large_for(limit: usize) -> String {
    format!("signature payload is larger than {limit} bytes")
}

impl Write for BoundedBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.exceeded || b.len() > self.limit - self.buf.len() {
            self.exceeded = true;
            self.buf = Vec::new();
            return Err(std::io::Error::other(payload_too_large_for(self.limit)));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
    /// When this verification stops holding by the clock alone: the earliest expiry of the
    /// signature, the signing key and its primary key (`None`: none of them expires).
    pub expires: Option<SystemTime>,
    _proof: SignatureVerified,
}

/// The earlier of two expiries, `None` being never.
pub fn earliest(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Proof that a requirement list passed, and until when it passes by the clock alone (`None`: no
/// expiry was involved). Only `evaluate_with_keys` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    expires: Option<SystemTime>,
    types: Vec<&'static str>,
}

impl Passed {
    /// The types of the requirements that passed, in the policy's order (`signedBy`).
    pub fn types(&self) -> &[&'static str] {
        &self.types
    }

    /// Until when the pass holds by the clock alone (`None`: no expiry was involved).
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

/// An OpenPGP implementation.
pub trait Verifier {
    /// Its name, part of a cached verdict's key (implementations may differ at the edges).
    fn name(&self) -> &'static str;
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
/// that is not `insecureAcceptAnything` is `signedBy` or `sigstoreSigned`. Otherwise the image is never read.
pub fn needs_image(reqs: &[Requirement]) -> bool {
    matches!(
        reqs.iter()
            .find(|r| **r != Requirement::InsecureAcceptAnything),
        Some(Requirement::SignedBy { .. } | Requirement::SigstoreSigned(_))
    )
}

/// Why one signature was not accepted, in the order the checks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigFailure {
    /// Not one good signature by a trusted key (gpgme's verdict).
    Crypto(String),
    /// Verified, but the payload is not a valid simple-signing payload.
    Payload(String),
    /// Verified, but for another manifest.
    Digest { signer: String, signed: String },
    /// Verified and for this manifest, but the identity is not accepted.
    Identity {
        signer: String,
        signed: String,
        error: IdentityError,
    },
}

impl std::fmt::Display for SigFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigFailure::Crypto(e) => f.write_str(e),
            SigFailure::Payload(e) => write!(f, "invalid signature payload: {e}"),
            SigFailure::Digest { signer, signed } => {
                write!(
                    f,
                    "signature by {signer} is for manifest {signed}, not for this image's manifest"
                )
            }
            SigFailure::Identity { error, .. } => write!(f, "{error}"),
        }
    }
}

/// Why one requirement denied an image. The texts are the deny reasons admins read; they follow
/// containers/image's where it has one (`signature/policy_eval_*.go`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequirementError {
    /// `reject`.
    #[error("the policy rejects every image in this scope")]
    Rejected,
    /// `signedBaseLayer`, which containers/image parses but has never implemented.
    #[error("not implemented (by containers/image either)")]
    SignedBaseLayerUnimplemented,
    /// No sigstore signature is stored with the image (`other` simple-signing signatures and
    /// `attachments` sigstore attachments of another MIME type were skipped).
    #[error("no sigstore signature exists (a signature by a trusted key or certificate was required){}", skipped(*.other, *.attachments))]
    NoSigstoreSignature { other: usize, attachments: usize },
    /// A `sigstoreSigned` trust root (key, CA or Rekor key) could not be parsed.
    #[error("{0}")]
    TrustRoot(String),
    /// A `signedBy` reached without the image having been read (a bug in the caller).
    #[error("internal error: the image was not read")]
    ImageNotRead,
    /// No simple-signing signature is stored with the image.
    #[error("no signature exists (a signature by a trusted key was required)")]
    NoSignature,
    /// More simple-signing signatures than `MAX_SIGNATURES` are stored with the image.
    #[error("the image has {0} signatures, more than the {MAX_SIGNATURES} that are examined")]
    TooManySignatures(usize),
    /// A `keyType` other than `GPGKeys`.
    #[error("keyType {0:?} is not implemented")]
    KeyTypeUnimplemented(&'static str),
    /// A key file could not be read.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The OpenPGP implementation could not make a keyring of the keys (its own words).
    #[error("{0}")]
    Keyring(String),
    /// The key source held no public key.
    #[error("no public keys imported from the policy's key source")]
    NoKeys,
    /// Signatures were examined and none was accepted; one entry per signature, in store order.
    #[error("{}", summarize(.0))]
    Signatures(Vec<SigFailure>),
}

/// What a `sigstoreSigned` skipped, when it skipped something.
fn skipped(other: usize, attachments: usize) -> String {
    if other == 0 && attachments == 0 {
        String::new()
    } else {
        format!(
            " ({other} non-sigstore signatures, {attachments} sigstore non-signature attachments)"
        )
    }
}

/// One rejected signature's reason, or a count and every reason joined by `; `.
fn summarize(failures: &[SigFailure]) -> String {
    match failures {
        [one] => one.to_string(),
        all => format!(
            "none of the {} signatures was accepted: {}",
            all.len(),
            all.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// Why a key source's bytes could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{reason}")]
    Read { path: PathBuf, reason: String },
    #[error("key file {path:?} is larger than {MAX_KEY_BYTES} bytes")]
    TooLarge { path: PathBuf },
}

/// Why a requirement list denied an image: the first requirement that failed (by its policy
/// `type`), and why. Displays as `type: reason`, the form deny lines use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{requirement}: {error}")]
pub struct Failure {
    /// The failing requirement's `type` (`Requirement::type_name`).
    pub requirement: &'static str,
    /// Its position in its scope's requirement list, from 1; and how many the list has (all of
    /// them must pass).
    pub position: usize,
    pub count: usize,
    pub error: RequirementError,
}

impl Failure {
    /// Why each signature was rejected, for a `signedBy` that examined some (else empty).
    pub fn signatures(&self) -> &[SigFailure] {
        match &self.error {
            RequirementError::Signatures(s) => s,
            _ => &[],
        }
    }
}

/// Checks every requirement in order; the first that fails, and why, is the reason to deny.
/// `subject` may be `None` only when `needs_image` is false.
pub fn evaluate(
    reqs: &[Requirement],
    subject: Option<Subject<'_>>,
    verifier: &dyn Verifier,
) -> Result<Passed, Failure> {
    evaluate_with_keys(reqs, subject, verifier, &load_keys)
}

/// Where `signedBy` gets the bytes of a key source (so that a caller can hash exactly the keys
/// that were used).
pub type KeyLoader<'a> = &'a dyn Fn(&KeySource) -> Result<Vec<Vec<u8>>, KeyError>;

/// `evaluate`, with the keys coming from `keys`. Only this function makes a `Passed`: an allow
/// on the strength of the requirements always went through it.
pub fn evaluate_with_keys(
    reqs: &[Requirement],
    subject: Option<Subject<'_>>,
    verifier: &dyn Verifier,
    keys: KeyLoader<'_>,
) -> Result<Passed, Failure> {
    let mut expires = None;
    let mut types = Vec::with_capacity(reqs.len());
    for (i, req) in reqs.iter().enumerate() {
        types.push(req.type_name());
        let until = check(req, subject, verifier, keys).map_err(|error| Failure {
            requirement: req.type_name(),
            position: i + 1,
            count: reqs.len(),
            error,
        })?;
        expires = earliest(expires, until);
    }
    Ok(Passed { expires, types })
}

fn check(
    req: &Requirement,
    subject: Option<Subject<'_>>,
    verifier: &dyn Verifier,
    load: KeyLoader<'_>,
) -> Result<Option<SystemTime>, RequirementError> {
    match req {
        Requirement::InsecureAcceptAnything => Ok(None),
        Requirement::Reject => Err(RequirementError::Rejected),
        Requirement::SignedBaseLayer => Err(RequirementError::SignedBaseLayerUnimplemented),
        Requirement::SigstoreSigned(req) => match subject {
            None => Err(RequirementError::ImageNotRead),
            Some(subject) => sigstore::evaluate(req, subject, load),
        },
        Requirement::SignedBy {
            key_type,
            keys,
            identity,
        } => match subject {
            None => Err(RequirementError::ImageNotRead),
            Some(subject) => signed_by(*key_type, keys, identity, subject, verifier, load),
        },
    }
}

fn signed_by(
    key_type: KeyType,
    keys: &KeySource,
    identity: &IdentityRule,
    subject: Subject<'_>,
    verifier: &dyn Verifier,
    load: KeyLoader<'_>,
) -> Result<Option<SystemTime>, RequirementError> {
    let sigs: Vec<&[u8]> = subject
        .signatures
        .iter()
        .filter_map(|s| match s {
            Signature::SimpleSigning(b) => Some(b.as_slice()),
            Signature::Sigstore(_) => None,
        })
        .collect();
    if sigs.is_empty() {
        return Err(RequirementError::NoSignature);
    }
    if sigs.len() > MAX_SIGNATURES {
        return Err(RequirementError::TooManySignatures(sigs.len()));
    }
    if key_type != KeyType::GpgKeys {
        return Err(RequirementError::KeyTypeUnimplemented(key_type.as_str()));
    }
    let blobs = load(keys)?;
    let with = verifier.name();
    crate::deadline::doing(format!("importing the policy's keys with {with}"));
    let mut ring = verifier.open(&blobs).map_err(RequirementError::Keyring)?;
    if ring.key_count() == 0 {
        return Err(RequirementError::NoKeys);
    }
    let mut failures = Vec::new();
    for (i, sig) in sigs.iter().enumerate() {
        if crate::deadline::expired() {
            // The deadline has denied already: start no more work (another gpg) for nothing.
            failures.push(SigFailure::Crypto(
                "not verified: the deadline passed".into(),
            ));
            break;
        }
        crate::deadline::doing(format!(
            "verifying signature {} of {} with {with}",
            i + 1,
            sigs.len()
        ));
        match accept(ring.as_mut(), sig, identity, subject) {
            Ok(expires) => return Ok(expires),
            Err(f) => failures.push(f),
        }
    }
    Err(RequirementError::Signatures(failures))
}

/// One signature: cryptography and key, then payload, then manifest digest, then identity.
fn accept(
    ring: &mut dyn Keyring,
    sig: &[u8],
    identity: &IdentityRule,
    subject: Subject<'_>,
) -> Result<Option<SystemTime>, SigFailure> {
    let verified = ring.verify(sig).map_err(SigFailure::Crypto)?;
    let payload = signature::parse_payload(&verified.payload).map_err(SigFailure::Payload)?;
    if payload.manifest_digest != subject.manifest_digest {
        return Err(SigFailure::Digest {
            signer: verified.signer,
            signed: payload.manifest_digest,
        });
    }
    identity
        .check(subject.reference, &payload.docker_reference)
        .map_err(|error| SigFailure::Identity {
            signer: verified.signer,
            signed: payload.docker_reference,
            error,
        })?;
    Ok(verified.expires)
}

/// The bytes of every key source a policy names, read once, up front: the hook reads them before
/// it gives up its privileges, as containers/image reads them in the process that pulls (with
/// root's rights for root). A key source that cannot be read is an error only for a requirement
/// that is evaluated.
pub struct PolicyKeys<'p> {
    loaded: Vec<(&'p KeySource, KeyBytes)>,
}

/// The bytes of each key of one key source, or why they could not be read.
pub type KeyBytes = Result<Vec<Vec<u8>>, KeyError>;

impl<'p> PolicyKeys<'p> {
    /// Reads every key and certificate source of `policy` (`signedBy`, `sigstoreSigned`) (`load_keys`, each file bounded).
    pub fn load(policy: &'p crate::policy::Policy) -> PolicyKeys<'p> {
        let loaded = policy
            .requirements()
            .flat_map(Requirement::key_sources)
            .map(|keys| (keys, load_keys(keys)))
            .collect();
        PolicyKeys { loaded }
    }

    /// No keys read up front (every key source is read when asked for).
    pub fn empty() -> PolicyKeys<'p> {
        PolicyKeys { loaded: Vec::new() }
    }

    /// The bytes of key source `keys`: as read by `load` when `keys` is one of the policy's
    /// (compared by identity), else read now.
    pub fn get(&self, keys: &KeySource) -> Result<Vec<Vec<u8>>, KeyError> {
        self.loaded
            .iter()
            .find(|(k, _)| std::ptr::eq(*k, keys))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| load_keys(keys))
    }
}

/// The bytes of each key a key source names: one entry per file of `keyPath`/`keyPaths` (each
/// read with a bound of 16 MiB), or the decoded `keyData`.
pub fn load_keys(keys: &KeySource) -> Result<Vec<Vec<u8>>, KeyError> {
    let read = |p: &Path| -> Result<Vec<u8>, KeyError> {
        let err = |e: std::io::Error| KeyError::Read {
            path: p.to_path_buf(),
            reason: crate::words::unreadable("key file", p, &e),
        };
        // The admin's file: a symlink is followed, but what it reaches must be a regular file.
        let f = crate::files::open_regular(p, true).map_err(err)?;
        let mut buf = Vec::new();
        f.take(MAX_KEY_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(err)?;
        if buf.len() as u64 > MAX_KEY_BYTES {
            return Err(KeyError::TooLarge {
                path: p.to_path_buf(),
            });
        }
        Ok(buf)
    };
    match keys {
        KeySource::Path(p) => Ok(vec![read(p)?]),
        KeySource::Paths(ps) => ps.iter().map(|p| read(p)).collect(),
        KeySource::Data(d) => Ok(vec![d.clone()]),
        KeySource::Datas(ds) => Ok(ds.clone()),
    }
}

#[cfg(test)]
mod tests;
