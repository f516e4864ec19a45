//! Name constraints of a CA certificate, parsed and checked as Go's `crypto/x509` does: every
//! certificate below the CA in a chain that has a subject alternative name extension must have
//! each of its e-mail, DNS, URI and IP names outside every excluded subtree and, where the CA
//! permits names of that kind, inside one permitted subtree.
//!
//! Ref: Go `crypto/x509` `parser.go` (`parseNameConstraintsExtension`), `verify.go`
//! (`isValid`, `checkNameConstraints`, `matchDomainConstraint`, `matchEmailConstraint`,
//! `matchURIConstraint`, `matchIPConstraint`, `parseRFC2821Mailbox`, `domainToReverseLabels`).

use der::Decode;
use x509_cert::ext::pkix::constraints::name::GeneralSubtrees;
use x509_cert::ext::pkix::name::GeneralName;

use super::Certificate;

/// The names one subtree list (permitted or excluded) holds, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Subtrees {
    dns: Vec<String>,
    emails: Vec<String>,
    uris: Vec<String>,
    /// Address and mask, both 4 or both 16 bytes.
    ips: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A CA's name constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameConstraints {
    permitted: Subtrees,
    excluded: Subtrees,
}

/// Parses a name constraints extension's value; the flag says whether it holds a kind of name
/// Go does not handle (which makes a critical extension unhandled).
pub fn parse(value: &[u8]) -> Result<(NameConstraints, bool), String> {
    let nc = x509_cert::ext::pkix::NameConstraints::from_der(value)
        .map_err(|_| "x509: invalid NameConstraints extension".to_string())?;
    let permitted = nc.permitted_subtrees.unwrap_or_default();
    let excluded = nc.excluded_subtrees.unwrap_or_default();
    if permitted.is_empty() && excluded.is_empty() {
        return Err("x509: empty name constraints extension".into());
    }
    let mut unhandled = false;
    let mut values = |subtrees: GeneralSubtrees| -> Result<Subtrees, String> {
        let mut out = Subtrees::default();
        for s in subtrees {
            match s.base {
                GeneralName::DnsName(d) => {
                    let d = d.to_string();
                    if reverse_labels(d.strip_prefix('.').unwrap_or(&d)).is_none() {
                        return Err(format!("x509: failed to parse dnsName constraint {d:?}"));
                    }
                    out.dns.push(d);
                }
                GeneralName::IpAddress(ip) => {
                    let b = ip.as_bytes();
                    let (addr, mask) = match b.len() {
                        8 => b.split_at(4),
                        32 => b.split_at(16),
                        n => {
                            return Err(format!(
                                "x509: IP constraint contained value of length {n}"
                            ))
                        }
                    };
                    if !valid_mask(mask) {
                        return Err("x509: IP constraint contained invalid mask".into());
                    }
                    out.ips.push((addr.to_vec(), mask.to_vec()));
                }
                GeneralName::Rfc822Name(e) => {
                    let e = e.to_string();
                    let ok = if e.contains('@') {
                        mailbox(&e).is_some()
                    } else {
                        reverse_labels(e.strip_prefix('.').unwrap_or(&e)).is_some()
                    };
                    if !ok {
                        return Err(format!("x509: failed to parse rfc822Name constraint {e:?}"));
                    }
                    out.emails.push(e);
                }
                GeneralName::UniformResourceIdentifier(u) => {
                    let u = u.to_string();
                    if u.parse::<std::net::IpAddr>().is_ok()
                        || reverse_labels(u.strip_prefix('.').unwrap_or(&u)).is_none()
                    {
                        return Err(format!("x509: failed to parse URI constraint {u:?}"));
                    }
                    out.uris.push(u);
                }
                _ => unhandled = true,
            }
        }
        Ok(out)
    };
    let permitted = values(permitted)?;
    let excluded = values(excluded)?;
    Ok((
        NameConstraints {
            permitted,
            excluded,
        },
        unhandled,
    ))
}

/// Go's `isValidIPMask`: ones, then zeros.
fn valid_mask(mask: &[u8]) -> bool {
    let mut seen_zero = false;
    for b in mask {
        if seen_zero && *b != 0 {
            return false;
        }
        if *b != 0xff {
            if b.leading_ones() + b.trailing_zeros() != 8 {
                return false;
            }
            seen_zero = true;
        }
    }
    true
}

impl NameConstraints {
    /// Whether the names of `cert` (a certificate below this CA with a SAN extension) are all
    /// allowed.
    pub fn check(&self, cert: &Certificate) -> Result<(), String> {
        for e in &cert.emails {
            let m = mailbox(e).ok_or_else(|| format!("x509: cannot parse rfc822Name {e:?}"))?;
            self.one(
                "email address",
                e,
                &self.excluded.emails,
                &self.permitted.emails,
                |c| match_email(&m, c),
            )?;
        }
        for d in &cert.dns_names {
            if reverse_labels(d).is_none() {
                return Err(format!("x509: cannot parse dnsName {d:?}"));
            }
            self.one(
                "DNS name",
                d,
                &self.excluded.dns,
                &self.permitted.dns,
                |c| match_domain(d, c),
            )?;
        }
        for u in &cert.uris {
            self.one("URI", u, &self.excluded.uris, &self.permitted.uris, |c| {
                match_uri(u, c)
            })?;
        }
        for ip in &cert.ip_addresses {
            let bytes = match ip {
                std::net::IpAddr::V4(a) => a.octets().to_vec(),
                std::net::IpAddr::V6(a) => a.octets().to_vec(),
            };
            self.one(
                "IP address",
                &ip.to_string(),
                &self.excluded.ips,
                &self.permitted.ips,
                |c| Ok(match_ip(&bytes, c)),
            )?;
        }
        Ok(())
    }

    /// Go's `checkNameConstraints` for one name: no excluded subtree matches, and one permitted
    /// subtree does if any are listed. A constraint that cannot be compared fails.
    fn one<C>(
        &self,
        kind: &str,
        name: &str,
        excluded: &[C],
        permitted: &[C],
        matches: impl Fn(&C) -> Result<bool, String>,
    ) -> Result<(), String> {
        for c in excluded {
            if matches(c)? {
                return Err(format!(
                    "x509: {kind} {name:?} is excluded by a constraint in the CA"
                ));
            }
        }
        if permitted.is_empty() {
            return Ok(());
        }
        for c in permitted {
            if matches(c)? {
                return Ok(());
            }
        }
        Err(format!(
            "x509: {kind} {name:?} is not permitted by any constraint in the CA"
        ))
    }
}

/// Go's `domainToReverseLabels`: the labels, last first; `None` for an empty label (a trailing
/// dot included) or a character outside printable ASCII.
fn reverse_labels(domain: &str) -> Option<Vec<&str>> {
    if domain.is_empty() {
        return Some(Vec::new());
    }
    let labels: Vec<&str> = domain.rsplit('.').collect();
    labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|c| (33..=126).contains(&c)))
        .then_some(labels)
}

/// Go's `matchDomainConstraint`: an empty constraint matches everything; a leading dot
/// requires at least one more label; labels compare without regard to ASCII case.
fn match_domain(domain: &str, constraint: &str) -> Result<bool, String> {
    if constraint.is_empty() {
        return Ok(true);
    }
    let domain_labels =
        reverse_labels(domain).ok_or_else(|| format!("cannot parse domain {domain:?}"))?;
    let (must_have_subdomains, constraint) = match constraint.strip_prefix('.') {
        Some(c) => (true, c),
        None => (false, constraint),
    };
    let constraint_labels =
        reverse_labels(constraint).ok_or_else(|| format!("cannot parse domain {constraint:?}"))?;
    if domain_labels.len() < constraint_labels.len()
        || (must_have_subdomains && domain_labels.len() == constraint_labels.len())
    {
        return Ok(false);
    }
    Ok(constraint_labels
        .iter()
        .zip(&domain_labels)
        .all(|(c, d)| c.eq_ignore_ascii_case(d)))
}

/// An RFC 2821 mailbox: local part (unquoted) and domain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mailbox {
    local: String,
    domain: String,
}

/// Go's `parseRFC2821Mailbox`: a quoted string or dot-atoms (backslash escapes allowed), `@`,
/// then anything that parses as domain labels.
fn mailbox(input: &str) -> Option<Mailbox> {
    let b = input.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut local = Vec::new();
    let mut i = 0;
    if b[0] == b'"' {
        i = 1;
        loop {
            let c = *b.get(i)?;
            i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let n = *b.get(i)?;
                    if n == 11 || n == 12 || (1..=9).contains(&n) || (14..=127).contains(&n) {
                        local.push(n);
                        i += 1;
                    } else {
                        return None;
                    }
                }
                11 | 12 | 32 | 33 | 127 => local.push(c),
                c if (1..=8).contains(&c)
                    || (14..=31).contains(&c)
                    || (35..=91).contains(&c)
                    || (93..=126).contains(&c) =>
                {
                    local.push(c)
                }
                _ => return None,
            }
        }
    } else {
        while let Some(&c) = b.get(i) {
            if c == b'\\' {
                // An escaped character is taken, whatever it is.
                local.push(*b.get(i + 1)?);
                i += 2;
            } else if c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&c) {
                local.push(c);
                i += 1;
            } else {
                break;
            }
        }
        if local.is_empty()
            || local.first() == Some(&b'.')
            || local.last() == Some(&b'.')
            || local.windows(2).any(|w| w == b"..")
        {
            return None;
        }
    }
    if b.get(i) != Some(&b'@') {
        return None;
    }
    let domain = input.get(i + 1..)?;
    reverse_labels(domain)?;
    Some(Mailbox {
        local: String::from_utf8_lossy(&local).into_owned(),
        domain: domain.to_string(),
    })
}

/// Go's `matchEmailConstraint`: a constraint with `@` names one mailbox (local part exact,
/// domain without regard to case); otherwise it is a domain constraint on the mailbox's domain.
fn match_email(m: &Mailbox, constraint: &str) -> Result<bool, String> {
    if constraint.contains('@') {
        let c = mailbox(constraint).ok_or_else(|| {
            format!("x509: internal error: cannot parse constraint {constraint:?}")
        })?;
        return Ok(m.local == c.local && m.domain.eq_ignore_ascii_case(&c.domain));
    }
    match_domain(&m.domain, constraint)
}

/// Go's `matchURIConstraint`: the URI's host (not an IP address, not empty) as a domain.
fn match_uri(uri: &str, constraint: &str) -> Result<bool, String> {
    // The authority of `scheme://[userinfo@]host[:port]/...`.
    let authority = uri
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return Err(format!(
            "URI with empty host ({uri:?}) cannot be matched against constraints"
        ));
    }
    let host = if host_port.contains(':') && !host_port.ends_with(']') {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    } else {
        host_port
    };
    if (host.starts_with('[') && host.ends_with(']')) || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "URI with IP ({uri:?}) cannot be matched against constraints"
        ));
    }
    match_domain(host, constraint)
}

/// Go's `matchIPConstraint`: the same length, and equal under the mask.
fn match_ip(ip: &[u8], (addr, mask): &(Vec<u8>, Vec<u8>)) -> bool {
    ip.len() == addr.len()
        && ip
            .iter()
            .zip(addr)
            .zip(mask)
            .all(|((i, a), m)| i & m == a & m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_as_in_go() {
        let cases = [
            ("example.com", "example.com", true),
            ("a.example.com", "example.com", true),
            ("a.example.com", ".example.com", true),
            ("example.com", ".example.com", false),
            ("EXAMPLE.com", "example.COM", true),
            ("badexample.com", "example.com", false),
            ("example.org", "example.com", false),
            ("anything.test", "", true),
        ];
        for (domain, constraint, want) in cases {
            assert_eq!(
                match_domain(domain, constraint),
                Ok(want),
                "{domain} {constraint}"
            );
        }
        assert!(match_domain("a..b", "b").is_err());
    }

    #[test]
    fn mailboxes_parse_and_match_as_in_go() {
        let m = mailbox("dev@example.com").unwrap_or_else(|| unreachable!());
        assert_eq!(m.local, "dev");
        assert_eq!(m.domain, "example.com");
        assert!(mailbox("\"a b\"@example.com").is_some());
        // Go takes anything after the @ that parses as labels, even nothing: "a@" is a mailbox.
        assert!(mailbox("a@").is_some());
        for bad in [
            "",
            "@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a",
        ] {
            assert!(mailbox(bad).is_none(), "{bad}");
        }
        let cases = [
            ("dev@example.com", "dev@EXAMPLE.com", true),
            ("dev@example.com", "Dev@example.com", false),
            ("dev@example.com", "example.com", true),
            ("dev@sub.example.com", ".example.com", true),
            ("dev@example.com", ".example.com", false),
            ("dev@example.org", "example.com", false),
        ];
        for (email, constraint, want) in cases {
            let m = mailbox(email).unwrap_or_else(|| unreachable!());
            assert_eq!(
                match_email(&m, constraint),
                Ok(want),
                "{email} {constraint}"
            );
        }
    }

    #[test]
    fn uris_and_ips_match_as_in_go() {
        assert_eq!(
            match_uri("https://ci.example.com/x", ".example.com"),
            Ok(true)
        );
        assert_eq!(
            match_uri("https://user@ci.example.com:8443/x", "ci.example.com"),
            Ok(true)
        );
        assert_eq!(match_uri("https://other.test/x", "example.com"), Ok(false));
        assert!(match_uri("https://10.0.0.1/x", "example.com").is_err());
        assert!(match_uri("urn:x", "example.com").is_err());
        let net = (vec![10, 0, 0, 0], vec![255, 0, 0, 0]);
        assert!(match_ip(&[10, 1, 2, 3], &net));
        assert!(!match_ip(&[11, 1, 2, 3], &net));
        assert!(!match_ip(&[0; 16], &net));
        assert!(valid_mask(&[255, 255, 240, 0]));
        assert!(!valid_mask(&[255, 0, 255, 0]));
        assert!(!valid_mask(&[255, 0b1010_0000, 0, 0]));
    }
}
