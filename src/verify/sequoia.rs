//! An in-process OpenPGP verifier (Sequoia), a build option (`--features sequoia`) chosen with
//! `--openpgp sequoia`. It spawns no process and writes no file, so a first verification costs
//! about a millisecond instead of the tens gpgme needs. gpgme stays the default, for parity with
//! containers/image.
//!
//! It keeps gpgme's rules (docs/semantics.md, "OpenPGP acceptance"): exactly one signature in the message; the signer's
//! primary key must be one of the imported keys (a signing subkey counts for its primary); the
//! signature must not have expired; and the signing key must be valid **now** — not expired, not
//! revoked — as gpgme requires, where Sequoia alone judges the key at signing time. The one known
//! difference: Sequoia's standard policy rejects signatures made with weak algorithms (SHA-1
//! among them) that GnuPG 2.2 still accepts. Bzip2-compressed messages are not supported (GnuPG
//! compresses with zlib by default).

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::cert::CertParser;
use openpgp::parse::stream::{
    MessageLayer, MessageStructure, VerificationError, VerificationHelper, VerifierBuilder,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::types::RevocationStatus;
use openpgp::{Cert, KeyHandle};

use super::{BoundedBuffer, Keyring, SignatureVerified, Verified, Verifier, MAX_PAYLOAD_BYTES};

/// A signed message larger than this is refused (simple-signing payloads are a few hundred bytes).
const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// How much plaintext Sequoia holds back until it has checked the signature (its default is
/// 25 MiB). A simple-signing payload fits, so it is checked before any byte is released; a larger
/// plaintext streams through, is checked at its end, and counts only if that check passes.
const BUFFER_BYTES: usize = 64 << 10;

/// The Sequoia verifier.
#[derive(Debug, Default)]
pub struct Sequoia;

impl Verifier for Sequoia {
    fn name(&self) -> &'static str {
        "sequoia"
    }

    fn open(&self, key_blobs: &[Vec<u8>]) -> Result<Box<dyn Keyring>, String> {
        let mut certs = Vec::new();
        for blob in key_blobs {
            // Like gpgme's import: what does not parse imports nothing (and, with no key at
            // all, the requirement is denied for that).
            let Ok(parser) = CertParser::from_bytes(blob) else {
                continue;
            };
            certs.extend(parser.flatten());
        }
        Ok(Box::new(SequoiaKeyring { certs }))
    }
}

struct SequoiaKeyring {
    certs: Vec<Cert>,
}

impl Keyring for SequoiaKeyring {
    fn key_count(&self) -> usize {
        self.certs.len()
    }

    fn verify(&mut self, signature: &[u8]) -> Result<Verified, String> {
        if signature.len() > MAX_MESSAGE_BYTES {
            return Err("signature is too large".into());
        }
        let policy = StandardPolicy::new();
        let helper = Helper {
            certs: &self.certs,
            policy: &policy,
            signer: None,
            expires: None,
        };
        let mut v = VerifierBuilder::from_bytes(signature)
            .map(|b| b.buffer_size(BUFFER_BYTES))
            .and_then(|b| b.with_policy(&policy, None, helper))
            .map_err(|e| format!("OpenPGP verification failed: {e}"))?;
        // The plaintext streams into a bounded buffer: past the bound, the copy stops, and
        // nothing more is decompressed.
        let mut plaintext = BoundedBuffer::new(MAX_PAYLOAD_BYTES);
        let copied = std::io::copy(&mut v, &mut plaintext);
        let payload = plaintext.into_inner()?;
        copied.map_err(|e| format!("OpenPGP verification failed: {e}"))?;
        let signer = v
            .helper_ref()
            .signer
            .clone()
            .ok_or("OpenPGP verification failed: no signature was checked")?;
        let expires = v.helper_ref().expires;
        Ok(Verified {
            payload,
            signer,
            expires,
            _proof: SignatureVerified(()),
        })
    }
}

struct Helper<'a> {
    certs: &'a [Cert],
    policy: &'a StandardPolicy<'a>,
    /// The primary fingerprint of the one good signature's key.
    signer: Option<String>,
    /// The earliest expiry of that signature, its key and the primary key.
    expires: Option<std::time::SystemTime>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.to_vec())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let mut results = Vec::new();
        for layer in structure.into_iter() {
            match layer {
                MessageLayer::Compression { .. } => {}
                MessageLayer::Encryption { .. } => {
                    return Err(anyhow::anyhow!("the message is encrypted"));
                }
                MessageLayer::SignatureGroup { results: r } => results.extend(r),
            }
        }
        if results.len() != 1 {
            return Err(anyhow::anyhow!(
                "unexpected signature count {}",
                results.len()
            ));
        }
        let good = match results.remove(0) {
            Ok(good) => good,
            Err(e) => return Err(anyhow::anyhow!("{}", describe(&e))),
        };
        let cert = good.ka.cert();
        let fpr = cert.fingerprint().to_hex();
        // As gpgme: the key must be usable now, not only when it signed.
        let now = cert
            .with_policy(self.policy, None)
            .map_err(|e| anyhow::anyhow!("invalid signature by {fpr}: {e}"))?;
        if let RevocationStatus::Revoked(_) = now.revocation_status() {
            return Err(anyhow::anyhow!(
                "invalid signature by {fpr}: the key is revoked"
            ));
        }
        now.alive().map_err(|e| {
            anyhow::anyhow!("invalid signature by {fpr}: the key is not alive: {e}")
        })?;
        let handle = good.ka.key().key_handle();
        let key = now.keys().key_handle(handle).next().ok_or_else(|| {
            anyhow::anyhow!("invalid signature by {fpr}: the key is not valid now")
        })?;
        if let RevocationStatus::Revoked(_) = key.revocation_status() {
            return Err(anyhow::anyhow!(
                "invalid signature by {fpr}: the signing key is revoked"
            ));
        }
        key.alive().map_err(|e| {
            anyhow::anyhow!("invalid signature by {fpr}: the signing key is not alive: {e}")
        })?;
        self.expires = [
            good.sig.signature_expiration_time(),
            now.primary_key().key_expiration_time(),
            key.key_expiration_time(),
        ]
        .into_iter()
        .fold(None, super::earliest);
        self.signer = Some(fpr);
        Ok(())
    }
}

fn describe(e: &VerificationError) -> String {
    match e {
        VerificationError::MissingKey { .. } => format!("No public key ({e})"),
        other => other.to_string(),
    }
}
