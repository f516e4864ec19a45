//! X.509 certificates for sigstore's `fulcio` and `pki` trust roots: parsing, and chain
//! verification with the rules of Go's `crypto/x509` `Certificate.Verify`, which containers/image
//! calls.
//!
//! What is checked, as Go does: every certificate of a chain is valid at the given time (the
//! root too); a certificate may sign another only if it is a CA (basic constraints), may sign
//! certificates (key usage, when present) and its key verifies the signature (SHA-1 and MD5
//! refused); intermediates must be CAs and respect path length limits; no certificate may carry
//! a critical extension Go does not handle; and some chain must allow code signing: every
//! certificate in it that lists extended key usages lists code signing or "any". Chains are
//! built through every candidate issuer, with at most 100 signature checks.
//!
//! A CA's name constraints apply to the names of every certificate below it (`constraints`).
//! Deliberate difference, failing closed: RSA-PSS certificate signatures are not supported
//! (refused).
//!
//! Ref: Go `crypto/x509` `verify.go` (`Verify`, `buildChains`, `isValid`,
//! `checkChainForKeyUsage`, `VerifyHostname`), `x509.go` (`CheckSignatureFrom`), `parser.go`.

use std::net::IpAddr;

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use ring::signature as rs;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};

use sha2::{Digest, Sha256, Sha384, Sha512};

use super::keys::PublicKey;

mod constraints;
use super::pem;

/// The subject alternative name extension.
pub const OID_SAN: Oid = Oid::new_unwrap("2.5.29.17");
const OID_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
const OID_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const OID_NAME_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.30");
const OID_EKU: Oid = Oid::new_unwrap("2.5.29.37");
/// Extensions Go's parser handles besides those above: CRL distribution points, authority and
/// subject key identifiers, certificate policies, policy mappings, policy constraints, inhibit
/// any-policy, authority information access.
const HANDLED: [Oid; 8] = [
    Oid::new_unwrap("2.5.29.31"),
    Oid::new_unwrap("2.5.29.35"),
    Oid::new_unwrap("2.5.29.14"),
    Oid::new_unwrap("2.5.29.32"),
    Oid::new_unwrap("2.5.29.33"),
    Oid::new_unwrap("2.5.29.36"),
    Oid::new_unwrap("2.5.29.54"),
    Oid::new_unwrap("1.3.6.1.5.5.7.1.1"),
];
const OID_EKU_ANY: Oid = Oid::new_unwrap("2.5.29.37.0");
const OID_EKU_CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");

const SIG_ECDSA_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
const SIG_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const SIG_ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const SIG_ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const SIG_RSA_MD5: Oid = Oid::new_unwrap("1.2.840.113549.1.1.4");
const SIG_RSA_SHA1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
const SIG_RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const SIG_RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const SIG_RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const SIG_ED25519: Oid = Oid::new_unwrap("1.3.101.112");

/// Go's limit on signature checks while building chains for one certificate.
const MAX_SIGNATURE_CHECKS: usize = 100;
/// The most certificates read from one PEM text (a chain is a handful).
pub const MAX_CERTIFICATES: usize = 64;

/// A parsed certificate: what verification and the policy's checks read.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Vec<u8>,
    /// 1, 2 or 3.
    version: u8,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    /// Seconds since the epoch, both inclusive.
    pub not_before: i64,
    pub not_after: i64,
    /// The subject's key, or why it cannot be used (an algorithm this build does not support).
    pub key: Result<PublicKey, String>,
    signature_algorithm: Oid,
    signature: Vec<u8>,
    /// Basic constraints: (is a CA, path length limit).
    basic_constraints: Option<(bool, Option<u8>)>,
    /// Key usage bits as Go numbers them (bit 0: digital signature); 0 when absent.
    key_usage: u16,
    ext_key_usage: Vec<Oid>,
    pub emails: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// The CA's name constraints, if it has any.
    name_constraints: Option<constraints::NameConstraints>,
    /// Whether it has a subject alternative name extension (then a CA's name constraints apply
    /// to it).
    has_san: bool,
    pub uris: Vec<String>,
    /// Critical extensions Go's parser does not handle.
    pub unhandled_critical: Vec<Oid>,
    /// Every extension, by OID, with its value (DER).
    pub extensions: Vec<(Oid, Vec<u8>)>,
}

const KEY_USAGE_CERT_SIGN: u16 = 1 << 5;

impl Certificate {
    /// Parses a DER certificate as strictly as Go's `x509.ParseCertificate` where a verdict
    /// depends on it: duplicate extensions, malformed known extensions or keys, and mismatched
    /// signature algorithm identifiers are errors.
    pub fn from_der(der: &[u8]) -> Result<Certificate, String> {
        let c = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("x509: malformed certificate: {e}"))?;
        let tbs = &c.tbs_certificate;
        if c.signature_algorithm != tbs.signature {
            return Err("x509: inner and outer signature algorithm identifiers don't match".into());
        }
        let enc = |e: der::Error| format!("x509: {e}");
        let version = match tbs.version {
            x509_cert::Version::V1 => 1,
            x509_cert::Version::V2 => 2,
            x509_cert::Version::V3 => 3,
        };
        let time = |t: &x509_cert::time::Time| -> i64 {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        let spki = tbs.subject_public_key_info.to_der().map_err(enc)?;
        let key = match PublicKey::from_spki_der(&spki) {
            Ok(k) => Ok(k),
            // A known algorithm with a bad key fails the parse, as in Go; an unknown one leaves
            // the certificate without a usable key.
            Err(e) if e.starts_with("x509:") && !e.starts_with("x509: unknown public key") => {
                return Err(e)
            }
            Err(e) => Err(e),
        };
        let mut cert = Certificate {
            der: der.to_vec(),
            tbs: tbs.to_der().map_err(enc)?,
            version,
            subject: tbs.subject.to_der().map_err(enc)?,
            issuer: tbs.issuer.to_der().map_err(enc)?,
            not_before: time(&tbs.validity.not_before),
            not_after: time(&tbs.validity.not_after),
            key,
            signature_algorithm: c.signature_algorithm.oid,
            signature: c.signature.raw_bytes().to_vec(),
            basic_constraints: None,
            key_usage: 0,
            ext_key_usage: Vec::new(),
            emails: Vec::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            name_constraints: None,
            has_san: false,
            uris: Vec::new(),
            unhandled_critical: Vec::new(),
            extensions: Vec::new(),
        };
        for ext in tbs.extensions.iter().flatten() {
            let id = ext.extn_id;
            if cert.extensions.iter().any(|(o, _)| *o == id) {
                return Err("x509: certificate contains duplicate extensions".into());
            }
            let value = ext.extn_value.as_bytes();
            cert.extensions.push((id, value.to_vec()));
            let mut handled = true;
            match id {
                OID_KEY_USAGE => {
                    let bits = der::asn1::BitStringRef::from_der(value)
                        .map_err(|e| format!("x509: invalid key usage: {e}"))?;
                    let mut usage = 0u16;
                    for (i, set) in bits.bits().enumerate().take(9) {
                        if set {
                            usage |= 1 << i;
                        }
                    }
                    cert.key_usage = usage;
                }
                OID_BASIC_CONSTRAINTS => {
                    let bc = BasicConstraints::from_der(value)
                        .map_err(|e| format!("x509: invalid basic constraints: {e}"))?;
                    cert.basic_constraints = Some((bc.ca, bc.path_len_constraint));
                }
                OID_SAN => {
                    let san = SubjectAltName::from_der(value)
                        .map_err(|e| format!("x509: invalid subject alternative names: {e}"))?;
                    cert.has_san = true;
                    let mut found = false;
                    for name in san.0 {
                        match name {
                            GeneralName::Rfc822Name(s) => cert.emails.push(s.to_string()),
                            GeneralName::DnsName(s) => cert.dns_names.push(s.to_string()),
                            GeneralName::UniformResourceIdentifier(u) => {
                                cert.uris.push(u.to_string())
                            }
                            GeneralName::IpAddress(ip) => {
                                let b = ip.as_bytes();
                                let addr = match b.len() {
                                    4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap_or_default()),
                                    16 => IpAddr::from(<[u8; 16]>::try_from(b).unwrap_or_default()),
                                    n => {
                                        return Err(format!(
                                            "x509: cannot parse IP address of length {n}"
                                        ))
                                    }
                                };
                                cert.ip_addresses.push(addr);
                            }
                            _ => continue,
                        }
                        found = true;
                    }
                    // A SAN extension with none of these is left to the critical check.
                    handled = found;
                }
                OID_NAME_CONSTRAINTS => {
                    let (nc, unhandled) = constraints::parse(value)?;
                    cert.name_constraints = Some(nc);
                    handled = !unhandled;
                }
                OID_EKU => {
                    cert.ext_key_usage = ExtendedKeyUsage::from_der(value)
                        .map_err(|e| format!("x509: invalid extended key usages: {e}"))?
                        .0;
                }
                _ => {
                    handled = HANDLED.contains(&id);
                    // Go parses these too, and a malformed one fails the certificate.
                    if handled {
                        parse_handled(id, value)?;
                    }
                }
            }
            if ext.critical && !handled {
                cert.unhandled_critical.push(id);
            }
        }
        Ok(cert)
    }

    /// Whether `self` may have signed `child`, and its key verifies `child`'s signature (Go's
    /// `CheckSignatureFrom`).
    fn signed(&self, child: &Certificate) -> Result<(), String> {
        match self.basic_constraints {
            None if self.version == 3 => return Err(
                "x509: invalid signature: parent certificate cannot sign this kind of certificate"
                    .into(),
            ),
            Some((false, _)) => return Err(
                "x509: invalid signature: parent certificate cannot sign this kind of certificate"
                    .into(),
            ),
            _ => {}
        }
        if self.key_usage != 0 && self.key_usage & KEY_USAGE_CERT_SIGN == 0 {
            return Err(
                "x509: invalid signature: parent certificate cannot sign this kind of certificate"
                    .into(),
            );
        }
        let key = self.key.as_ref().map_err(Clone::clone)?;
        let (tbs, sig) = (&child.tbs[..], &child.signature[..]);
        let rsa = |alg: &'static rs::RsaParameters, n: &[u8], e: &[u8]| {
            rs::RsaPublicKeyComponents { n, e }
                .verify(alg, tbs, sig)
                .is_ok()
        };
        let verified = match (child.signature_algorithm, key) {
            (SIG_ECDSA_SHA256, PublicKey::Ecdsa { .. }) => {
                key.verify_ecdsa_asn1(&Sha256::digest(tbs), sig)
            }
            (SIG_ECDSA_SHA384, PublicKey::Ecdsa { .. }) => {
                key.verify_ecdsa_asn1(&Sha384::digest(tbs), sig)
            }
            (SIG_ECDSA_SHA512, PublicKey::Ecdsa { .. }) => {
                key.verify_ecdsa_asn1(&Sha512::digest(tbs), sig)
            }
            (SIG_RSA_SHA256, PublicKey::Rsa { n, e }) => {
                rsa(&rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, n, e)
            }
            (SIG_RSA_SHA384, PublicKey::Rsa { n, e }) => rsa(&rs::RSA_PKCS1_2048_8192_SHA384, n, e),
            (SIG_RSA_SHA512, PublicKey::Rsa { n, e }) => {
                rsa(&rs::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY, n, e)
            }
            (SIG_ED25519, PublicKey::Ed25519(k)) => rs::UnparsedPublicKey::new(&rs::ED25519, k)
                .verify(tbs, sig)
                .is_ok(),
            (SIG_ECDSA_SHA1 | SIG_RSA_SHA1 | SIG_RSA_MD5, _) => {
                return Err(format!(
                    "x509: cannot verify signature: insecure algorithm {}",
                    child.signature_algorithm
                ))
            }
            (alg, key) => {
                return Err(format!(
                    "x509: signature algorithm {alg} with a {} key is not supported",
                    key.describe()
                ))
            }
        };
        if verified {
            Ok(())
        } else {
            Err("x509: invalid signature".into())
        }
    }

    /// Go's `isValid` for a certificate at position `kind` of a chain whose certificates so far
    /// (leaf first) are `chain`, at time `at`.
    fn valid(
        &self,
        kind: Kind,
        chain: &[&Certificate],
        at: i64,
        tolerated: &[Oid],
    ) -> Result<(), String> {
        if self
            .unhandled_critical
            .iter()
            .any(|o| !tolerated.contains(o))
        {
            return Err("x509: unhandled critical extension".into());
        }
        if at < self.not_before || at > self.not_after {
            return Err(format!(
                "x509: certificate has expired or is not yet valid: the time {at} is outside {}..{}",
                self.not_before, self.not_after
            ));
        }
        if let (Some(nc), false) = (&self.name_constraints, kind == Kind::Leaf) {
            for below in chain.iter().filter(|c| c.has_san) {
                nc.check(below)?;
            }
        }
        if kind == Kind::Intermediate && !matches!(self.basic_constraints, Some((true, _))) {
            return Err("x509: certificate is not authorized to sign other certificates".into());
        }
        if let Some((_, Some(max))) = self.basic_constraints {
            if chain.len().saturating_sub(1) > usize::from(max) {
                return Err("x509: too many intermediates for path length constraint".into());
            }
        }
        Ok(())
    }

    /// Whether the certificate allows code signing by its extended key usages (none listed:
    /// any use).
    fn allows_code_signing(&self) -> bool {
        self.ext_key_usage.is_empty()
            || self.ext_key_usage.contains(&OID_EKU_ANY)
            || self.ext_key_usage.contains(&OID_EKU_CODE_SIGNING)
    }

    /// Go's `VerifyHostname`: an IP address against the IP SANs, a name against the DNS SANs
    /// (without regard to ASCII case, a leading `*.` label matching one label).
    pub fn matches_hostname(&self, host: &str) -> bool {
        let candidate_ip = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .filter(|_| host.len() >= 3)
            .unwrap_or(host);
        if let Ok(ip) = candidate_ip.parse::<IpAddr>() {
            let canon = |a: &IpAddr| match a {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => *v6,
            };
            return self.ip_addresses.iter().any(|a| canon(a) == canon(&ip));
        }
        let name = host.to_ascii_lowercase();
        let valid_input = valid_hostname(&name, false);
        self.dns_names.iter().any(|pattern| {
            if valid_input && valid_hostname(pattern, true) {
                match_hostnames(pattern, &name)
            } else {
                !matches!(pattern.as_str(), "" | ".")
                    && !matches!(name.as_str(), "" | ".")
                    && pattern.to_ascii_lowercase() == name
            }
        })
    }
}

/// Decodes one of the `HANDLED` extensions, as Go's parser does, only to refuse a malformed one.
fn parse_handled(id: Oid, value: &[u8]) -> Result<(), String> {
    use x509_cert::ext::pkix as e;
    let ok = match id.to_string().as_str() {
        "2.5.29.31" => e::CrlDistributionPoints::from_der(value).is_ok(),
        "2.5.29.35" => e::AuthorityKeyIdentifier::from_der(value).is_ok(),
        "2.5.29.14" => e::SubjectKeyIdentifier::from_der(value).is_ok(),
        "2.5.29.32" => e::CertificatePolicies::from_der(value).is_ok(),
        "2.5.29.33" => e::PolicyMappings::from_der(value).is_ok(),
        "2.5.29.36" => e::PolicyConstraints::from_der(value).is_ok(),
        "2.5.29.54" => e::InhibitAnyPolicy::from_der(value).is_ok(),
        "1.3.6.1.5.5.7.1.1" => e::AuthorityInfoAccessSyntax::from_der(value).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("x509: malformed extension {id}"))
    }
}

/// Where a certificate stands in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    Intermediate,
    Root,
}

/// Every certificate in `pem_text` (sigstore's `UnmarshalCertificatesFromPEM`): after trimming
/// whitespace, the text must be nothing but PEM blocks, each a certificate that parses.
pub fn certificates_from_pem(pem_text: &[u8]) -> Result<Vec<Certificate>, String> {
    let mut rest = trim_space(pem_text);
    let mut out = Vec::new();
    while !rest.is_empty() {
        if out.len() == MAX_CERTIFICATES {
            return Err(format!("more than {MAX_CERTIFICATES} certificates"));
        }
        let (block, after) = pem::decode(rest).ok_or("error during PEM decoding")?;
        out.push(Certificate::from_der(&block.bytes)?);
        rest = after;
    }
    Ok(out)
}

/// Go's `bytes.TrimSpace`: Unicode white space (as UTF-8) removed from both ends.
fn trim_space(mut b: &[u8]) -> &[u8] {
    let space_at = |b: &[u8], front: bool| -> Option<usize> {
        (1..=4.min(b.len())).find_map(|n| {
            let part = if front { &b[..n] } else { &b[b.len() - n..] };
            std::str::from_utf8(part)
                .ok()
                .filter(|s| s.chars().all(char::is_whitespace))
                .map(|_| n)
        })
    };
    while let Some(n) = space_at(b, true) {
        b = &b[n..];
    }
    while let Some(n) = space_at(b, false) {
        b = &b[..b.len() - n];
    }
    b
}

/// A CA pool from PEM text (Go's `CertPool.AppendCertsFromPEM`): every `CERTIFICATE` block
/// without headers that parses; other blocks are skipped. An error if none is found.
pub fn pool_from_pem(pem_text: &[u8], what: &str) -> Result<Vec<Certificate>, String> {
    let mut rest = pem_text;
    let mut out: Vec<Certificate> = Vec::new();
    while let Some((block, after)) = pem::decode(rest) {
        rest = after;
        if block.kind != "CERTIFICATE" || block.has_headers {
            continue;
        }
        if let Ok(c) = Certificate::from_der(&block.bytes) {
            if !out.iter().any(|o| o.der == c.der) {
                out.push(c);
            }
        }
        if out.len() > MAX_CERTIFICATES {
            return Err(format!(
                "more than {MAX_CERTIFICATES} certificates in {what}"
            ));
        }
    }
    if out.is_empty() {
        return Err(format!("error loading {what}"));
    }
    Ok(out)
}

/// Verifies `leaf` at time `at` (seconds since the epoch) against `roots`, through any of
/// `intermediates`, requiring a chain that allows code signing. `tolerated` lists critical
/// extensions of the leaf that are accepted although unhandled. Returns the earliest `not_after`
/// of the chain that holds longest (when the verdict stops holding by the clock).
pub fn verify(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: i64,
    tolerated: &[Oid],
) -> Result<i64, String> {
    leaf.valid(Kind::Leaf, &[], at, tolerated)?;
    let mut chains: Vec<Vec<&Certificate>> = Vec::new();
    let mut hint = None;
    if roots.iter().any(|r| r.der == leaf.der) {
        chains.push(vec![leaf]);
    } else {
        let mut checks = 0;
        let built = build(
            leaf,
            &mut vec![leaf],
            intermediates,
            roots,
            at,
            &mut checks,
            &mut chains,
            &mut hint,
        );
        // Past the limit, Go keeps the chains it found before it.
        if chains.is_empty() {
            built?;
        }
    }
    if chains.is_empty() {
        return Err(match hint {
            Some(h) => format!("x509: certificate signed by unknown authority ({h})"),
            None => "x509: certificate signed by unknown authority".into(),
        });
    }
    chains
        .iter()
        .filter(|chain| chain.iter().all(|c| c.allows_code_signing()))
        .map(|chain| chain.iter().map(|c| c.not_after).min().unwrap_or(i64::MAX))
        .max()
        .ok_or_else(|| "x509: certificate specifies an incompatible key usage".into())
}

/// Go's `buildChains`: every chain from `chain`'s last certificate up to a root.
#[allow(clippy::too_many_arguments)]
fn build<'a>(
    cert: &'a Certificate,
    chain: &mut Vec<&'a Certificate>,
    intermediates: &'a [Certificate],
    roots: &'a [Certificate],
    at: i64,
    checks: &mut usize,
    chains: &mut Vec<Vec<&'a Certificate>>,
    hint: &mut Option<String>,
) -> Result<(), String> {
    let candidates = roots
        .iter()
        .map(|c| (Kind::Root, c))
        .chain(intermediates.iter().map(|c| (Kind::Intermediate, c)))
        .filter(|(_, c)| c.subject == cert.issuer);
    for (kind, candidate) in candidates {
        if candidate.key.is_err() || chain.iter().any(|c| same(c, candidate)) {
            continue;
        }
        *checks += 1;
        if *checks > MAX_SIGNATURE_CHECKS {
            return Err(
                "x509: signature check attempts limit reached while verifying certificate chain"
                    .into(),
            );
        }
        if let Err(e) = candidate.signed(cert) {
            hint.get_or_insert(e);
            continue;
        }
        if let Err(e) = candidate.valid(kind, chain, at, &[]) {
            hint.get_or_insert(e);
            continue;
        }
        chain.push(candidate);
        match kind {
            Kind::Root => chains.push(chain.clone()),
            _ => build(
                candidate,
                chain,
                intermediates,
                roots,
                at,
                checks,
                chains,
                hint,
            )?,
        }
        chain.pop();
    }
    Ok(())
}

/// Go's `alreadyInChain`: the same subject, key and subject alternative names.
fn same(a: &Certificate, b: &Certificate) -> bool {
    let san = |c: &Certificate| {
        c.extensions
            .iter()
            .find(|(o, _)| *o == OID_SAN)
            .map(|(_, v)| v.clone())
    };
    a.subject == b.subject && a.key.is_ok() && a.key == b.key && san(a) == san(b)
}

/// Go's `validHostname`: dot-separated labels of letters, digits, `-` (not first) and `_`; a
/// pattern may start with a `*` label; an input may end with a dot.
fn valid_hostname(host: &str, pattern: bool) -> bool {
    let host = if pattern {
        host
    } else {
        host.strip_suffix('.').unwrap_or(host)
    };
    if host.is_empty() || host == "*" {
        return false;
    }
    host.split('.').enumerate().all(|(i, label)| {
        !label.is_empty()
            && ((pattern && i == 0 && label == "*")
                || label
                    .chars()
                    .enumerate()
                    .all(|(j, c)| c.is_ascii_alphanumeric() || c == '_' || (c == '-' && j != 0)))
    })
}

/// Go's `matchHostnames`: label by label, a leading `*` matching any one label.
fn match_hostnames(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len()
        && p.iter()
            .zip(&h)
            .enumerate()
            .all(|(i, (p, h))| (i == 0 && *p == "*") || p == h)
}

#[cfg(test)]
mod tests;
