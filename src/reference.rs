//! Docker image references, parsed and normalized exactly as containers/image does.
//!
//! Every scope and identity decision compares references as strings, so the parser must agree with
//! containers/image (`docker/reference/normalize.go`, `reference.go`, `regexp.go`) on which strings
//! are references and on their normalized form (docs/semantics.md, "References").
//!
//! ```text
//! reference  ::= name [ ":" tag ] [ "@" digest ]
//! name       ::= [ domain "/" ] component ( "/" component )*      (at most 255 bytes)
//! domain     ::= dcomp ( "." dcomp )* [ ":" [0-9]+ ]
//! dcomp      ::= [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! component  ::= [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        ::= [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! digest     ::= sha256:[a-f0-9]{64} | sha384:[a-f0-9]{96} | sha512:[a-f0-9]{128}
//! ```

use std::fmt;

use crate::manifest::is_lower_hex;

/// The longest name (domain and path) a reference may have.
const NAME_TOTAL_LENGTH_MAX: usize = 255;
const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";

/// Why a string is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase,
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("cannot specify 64-byte hexadecimal strings")]
    HexIdentifier,
    #[error("invalid digest {0:?}")]
    Digest(String),
    #[error("reference {0:?} is not in its canonical form")]
    NotCanonical(String),
}

/// A parsed, normalized reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Empty only for the odd strings the grammar takes without a valid domain (see `parse`).
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses `s` and normalizes it (`busybox` → `docker.io/library/busybox`), like
    /// `reference.ParseNormalizedNamed`. No default tag is added.
    pub fn parse_normalized(s: &str) -> Result<Self, ParseError> {
        if s.len() == 64 && is_lower_hex(s) {
            return Err(ParseError::HexIdentifier);
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder.split(':').next().unwrap_or_default();
        if remote_name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ParseError::Uppercase);
        }
        parse(&format!("{domain}/{remainder}"))
    }

    /// Parses `s`, which must already be in normalized form (`reference.ParseNamed`).
    pub fn parse_canonical(s: &str) -> Result<Self, ParseError> {
        let r = Self::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(ParseError::NotCanonical(s.to_string()));
        }
        Ok(r)
    }

    /// `domain/path`, the repository.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Neither a tag nor a digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The reference a pull of `self` is checked under: a reference with both a tag and a digest
    /// loses the tag (podman resolves `name:tag@digest` to `name@digest`; the docker transport
    /// refuses both at once), and a name-only one gets `:latest`.
    pub fn for_policy(mut self) -> Self {
        if self.digest.is_some() {
            self.tag = None;
        }
        self.with_default_tag()
    }

    /// Adds `:latest` to a name-only reference, as the docker transport does for a pull.
    pub fn with_default_tag(mut self) -> Self {
        if self.is_name_only() {
            self.tag = Some("latest".to_string());
        }
        self
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Splits off the registry the way docker does: the first component is a registry only if it
/// contains `.` or `:` or is `localhost`.
fn split_docker_domain(name: &str) -> (&str, String) {
    let (mut domain, remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DEFAULT_DOMAIN, name),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN;
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remainder}"));
    }
    (domain, remainder.to_string())
}

/// `reference.Parse`: matches the anchored reference grammar. Like the regular expression it
/// mirrors, it first tries the part before the first `/` as a domain and, if the rest does not
/// then match, reads the whole name as path components (so `a_b.com/x` has no domain).
fn parse(s: &str) -> Result<Reference, ParseError> {
    let attempt = |with_domain: bool| -> Option<(String, String, Option<String>, Option<String>)> {
        let (domain, rest) = if with_domain {
            let (d, rest) = s.split_once('/')?;
            if !is_domain(d) {
                return None;
            }
            (d, rest)
        } else {
            ("", s)
        };
        let (path, tag, digest) = split_path_tag_digest(rest)?;
        Some((domain.to_string(), path.to_string(), tag, digest))
    };
    let (domain, path, tag, digest) =
        attempt(true).or_else(|| attempt(false)).ok_or_else(|| {
            if s.to_ascii_lowercase() != s && parse(&s.to_ascii_lowercase()).is_ok() {
                ParseError::Uppercase
            } else {
                ParseError::InvalidFormat
            }
        })?;
    let name_len = if domain.is_empty() {
        path.len()
    } else {
        domain.len() + 1 + path.len()
    };
    if name_len > NAME_TOTAL_LENGTH_MAX {
        return Err(ParseError::NameTooLong);
    }
    if let Some(d) = &digest {
        validate_digest(d)?;
    }
    Ok(Reference {
        domain,
        path,
        tag,
        digest,
    })
}

/// Splits `path[:tag][@digest]`, each part matching its grammar (the digest only by the loose
/// `DigestRegexp`; `validate_digest` does the rest).
fn split_path_tag_digest(rest: &str) -> Option<(&str, Option<String>, Option<String>)> {
    let (before_digest, digest) = match rest.split_once('@') {
        Some((b, d)) => {
            if !is_loose_digest(d) {
                return None;
            }
            (b, Some(d.to_string()))
        }
        None => (rest, None),
    };
    let (path, tag) = match before_digest.split_once(':') {
        Some((p, t)) => {
            if !is_tag(t) {
                return None;
            }
            (p, Some(t.to_string()))
        }
        None => (before_digest, None),
    };
    if !path.split('/').all(is_path_component) {
        return None;
    }
    Some((path, tag, digest))
}

/// `DomainRegexp`, anchored.
pub(crate) fn is_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host.split('.').all(|c| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    })
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
pub(crate) fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or any number of "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
fn is_loose_digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's validation: a known algorithm and lowercase hex of exactly its length.
pub fn validate_digest(d: &str) -> Result<(), ParseError> {
    let bad = || ParseError::Digest(d.to_string());
    let (algo, hex) = d.split_once(':').ok_or_else(bad)?;
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(bad()),
    };
    if hex.len() == len && is_lower_hex(hex) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The policy scopes a docker reference falls in, most specific first, as containers/image's `docker/policyconfiguration/naming.go` lists them: the
/// repository, each parent down to the registry, then `*.` wildcards of the port-less host.
pub fn docker_namespaces(r: &Reference) -> Vec<String> {
    let mut res = Vec::new();
    let mut name = r.name();
    loop {
        res.push(name.clone());
        match name.rfind('/') {
            Some(i) => name.truncate(i),
            None => break,
        }
    }
    if let Some(i) = name.find(':') {
        name.truncate(i);
    }
    while let Some(i) = name.find('.') {
        name = name[i + 1..].to_string();
        res.push(format!("*.{name}"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalizes_like_docker() {
        let d = D;
        let cases: &[(&str, &str)] = &[
            ("busybox", "docker.io/library/busybox"),
            ("busybox:latest", "docker.io/library/busybox:latest"),
            ("library/busybox:1", "docker.io/library/busybox:1"),
            ("index.docker.io/foo/bar", "docker.io/foo/bar"),
            ("index.docker.io/bar", "docker.io/library/bar"),
            ("docker.io/bar", "docker.io/library/bar"),
            (
                "testing/manifest:latest",
                "docker.io/testing/manifest:latest",
            ),
            ("localhost/x:1", "localhost/x:1"),
            ("localhost:5000/x", "localhost:5000/x"),
            ("localhost:5000", "docker.io/library/localhost:5000"),
            ("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1"),
            ("Example.COM/x:1", "Example.COM/x:1"),
            ("a.b/c__d-e---f.g_h:TAG_1.x-", "a.b/c__d-e---f.g_h:TAG_1.x-"),
            ("a_b.com/c:1", "a_b.com/c:1"),
        ];
        for (input, want) in cases {
            let got = Reference::parse_normalized(input).map(|r| r.to_string());
            assert_eq!(got.as_deref(), Ok(*want), "{input}");
        }
        let with_digest = format!("x.io/y@{d}");
        assert_eq!(
            Reference::parse_normalized(&with_digest)
                .unwrap()
                .to_string(),
            with_digest
        );
        let both = format!("x.io/y:t@{d}");
        let r = Reference::parse_normalized(&both).unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("t"), Some(d)));
    }

    #[test]
    fn the_odd_domainless_name_has_an_empty_domain() {
        let r = Reference::parse_normalized("a_b.com/c:1").unwrap();
        assert_eq!((r.domain(), r.name().as_str()), ("", "a_b.com/c"));
    }

    #[test]
    fn rejects_what_docker_rejects() {
        let long = format!("example.com/{}", "a".repeat(244));
        let cases: &[(&str, ParseError)] = &[
            ("", ParseError::InvalidFormat),
            ("Busybox", ParseError::Uppercase),
            ("example.com/Foo:1", ParseError::Uppercase),
            ("UPPERCASEISINVALID", ParseError::Uppercase),
            ("busybox:", ParseError::InvalidFormat),
            ("busybox:-x", ParseError::InvalidFormat),
            ("a//b", ParseError::InvalidFormat),
            ("a/b/", ParseError::InvalidFormat),
            ("-a.com/b", ParseError::InvalidFormat),
            ("a.com:x/b", ParseError::InvalidFormat),
            ("a.com/b_-c", ParseError::InvalidFormat),
            ("a.com/b___c", ParseError::InvalidFormat),
            ("a.com/b..c", ParseError::InvalidFormat),
            (&long, ParseError::NameTooLong),
        ];
        for (input, want) in cases {
            assert_eq!(
                Reference::parse_normalized(input).as_ref().err(),
                Some(want),
                "{input}"
            );
        }
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            Reference::parse_normalized(&hex),
            Err(ParseError::HexIdentifier)
        );
        let tag129 = format!("a.com/b:{}", "t".repeat(129));
        assert!(Reference::parse_normalized(&tag129).is_err());
        assert!(Reference::parse_normalized(&format!("a.com/b:{}", "t".repeat(128))).is_ok());
        for bad in [
            "sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "md5:0123456789abcdef0123456789abcdef",
            "sha256:0123",
        ] {
            assert!(
                Reference::parse_normalized(&format!("a.com/b@{bad}")).is_err(),
                "{bad}"
            );
        }
        assert!(
            Reference::parse_normalized(&format!("a.com/b@sha512:{}", "a".repeat(128))).is_ok()
        );
    }

    #[test]
    fn name_length_counts_the_domain() {
        let ok = format!("docker.io/library/{}", "a".repeat(255 - 18));
        assert!(Reference::parse_normalized(&ok).is_ok());
        let too_long = format!("{}a", ok);
        assert_eq!(
            Reference::parse_normalized(&too_long),
            Err(ParseError::NameTooLong)
        );
    }

    #[test]
    fn canonical_parse_requires_normalized_input() {
        assert!(Reference::parse_canonical("docker.io/library/busybox:latest").is_ok());
        assert!(Reference::parse_canonical("busybox:latest").is_err());
        assert!(Reference::parse_canonical("index.docker.io/library/busybox").is_err());
    }

    #[test]
    fn namespaces_go_from_repository_to_wildcards() {
        let cases: &[(&str, &[&str])] = &[
            (
                "busybox",
                &[
                    "docker.io/library/busybox",
                    "docker.io/library",
                    "docker.io",
                    "*.io",
                ],
            ),
            (
                "registry.example.com:5000/ns1/ns2/repo:tag",
                &[
                    "registry.example.com:5000/ns1/ns2/repo",
                    "registry.example.com:5000/ns1/ns2",
                    "registry.example.com:5000/ns1",
                    "registry.example.com:5000",
                    "*.example.com",
                    "*.com",
                ],
            ),
            ("localhost/x:1", &["localhost/x", "localhost"]),
            (
                "Example.COM/x:1",
                &["Example.COM/x", "Example.COM", "*.COM"],
            ),
            (
                "127.0.0.1:5000/lab/a:v1",
                &[
                    "127.0.0.1:5000/lab/a",
                    "127.0.0.1:5000/lab",
                    "127.0.0.1:5000",
                    "*.0.0.1",
                    "*.0.1",
                    "*.1",
                ],
            ),
        ];
        for (input, want) in cases {
            let r = Reference::parse_normalized(input).unwrap();
            assert_eq!(docker_namespaces(&r), *want, "{input}");
        }
    }
}
