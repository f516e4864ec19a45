//! `signedIdentity`: does the identity a signature claims fit the image's reference?
//!
//! Ref: containers/image `signature/policy_reference_match.go`; docs/semantics.md, "signedIdentity matching".

use crate::reference::Reference;

/// How a signature's claimed `docker-reference` must relate to the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRule {
    MatchExact,
    /// The default when a requirement has no `signedIdentity`.
    MatchRepoDigestOrExact,
    MatchRepository,
    ExactReference(Reference),
    ExactRepository(Reference),
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// Why a claimed identity is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("signature for identity {0:?} is not accepted")]
    NotAccepted(String),
    #[error("the image has no name-based reference, so no signed identity can match it (it was started by image ID)")]
    NoImageReference,
}

impl IdentityRule {
    /// Checks the identity `signed` (untrusted, from a verified payload) against `image`, the
    /// reference the container was created from (`None` when it was created by ID).
    pub fn check(&self, image: Option<&Reference>, signed: &str) -> Result<(), IdentityError> {
        if self.matches(image, signed) {
            Ok(())
        } else if image.is_none() && self.needs_image() {
            Err(IdentityError::NoImageReference)
        } else {
            Err(IdentityError::NotAccepted(signed.to_string()))
        }
    }

    fn needs_image(&self) -> bool {
        !matches!(
            self,
            IdentityRule::ExactReference(_) | IdentityRule::ExactRepository(_)
        )
    }

    fn matches(&self, image: Option<&Reference>, signed: &str) -> bool {
        let Ok(signed) = Reference::parse_normalized(signed) else {
            return false;
        };
        match self {
            IdentityRule::ExactReference(want) => {
                !want.is_name_only() && !signed.is_name_only() && signed == *want
            }
            IdentityRule::ExactRepository(want) => signed.name() == want.name(),
            _ => {
                let Some(intended) = image else { return false };
                match self {
                    IdentityRule::MatchExact => {
                        !intended.is_name_only() && !signed.is_name_only() && signed == *intended
                    }
                    IdentityRule::MatchRepoDigestOrExact => repo_digest_or_exact(intended, &signed),
                    IdentityRule::MatchRepository => signed.name() == intended.name(),
                    IdentityRule::RemapIdentity {
                        prefix,
                        signed_prefix,
                    } => match remap(intended, prefix, signed_prefix) {
                        Some(remapped) => repo_digest_or_exact(&remapped, &signed),
                        None => false,
                    },
                    IdentityRule::ExactReference(_) | IdentityRule::ExactRepository(_) => false,
                }
            }
        }
    }
}

/// The default rule: a tagged image needs the exact reference; a digested one the same repository
/// (the digest itself is bound by the manifest check); a name-only signature never matches.
fn repo_digest_or_exact(intended: &Reference, signed: &Reference) -> bool {
    if signed.is_name_only() {
        return false;
    }
    if intended.tag().is_some() {
        signed == intended
    } else if intended.digest().is_some() {
        signed.name() == intended.name()
    } else {
        false
    }
}

/// `remapIdentity`: when the image's repository is `prefix` or below it (on a `/` boundary), the
/// first occurrence of `prefix` in its reference becomes `signed_prefix`, and the result must be a
/// canonical reference. `None` when it is not; the image unchanged when the prefix does not apply.
fn remap(intended: &Reference, prefix: &str, signed_prefix: &str) -> Option<Reference> {
    let name = intended.name();
    let applies = name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes().get(prefix.len()) == Some(&b'/'));
    if !applies {
        return Some(intended.clone());
    }
    let rewritten = intended.to_string().replacen(prefix, signed_prefix, 1);
    Reference::parse_canonical(&rewritten).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn r(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap()
    }

    fn accepts(rule: &IdentityRule, image: &str, signed: &str) -> bool {
        rule.check(Some(&r(image)), signed).is_ok()
    }

    #[test]
    fn match_repo_digest_or_exact_table() {
        let rule = IdentityRule::MatchRepoDigestOrExact;
        let cases: &[(&str, String, bool)] = &[
            ("busybox:latest", "busybox:latest".into(), true),
            (
                "busybox:latest",
                "docker.io/library/busybox:latest".into(),
                true,
            ),
            ("busybox:latest", "busybox:notlatest".into(), false),
            ("busybox:latest", format!("busybox@{D1}"), false),
            ("busybox:latest", "busybox".into(), false),
            (&format!("busybox@{D1}"), "busybox:latest".into(), true),
            (&format!("busybox@{D1}"), format!("busybox@{D2}"), true),
            (&format!("busybox@{D1}"), "busybox".into(), false),
            (&format!("busybox@{D1}"), "other:latest".into(), false),
            (
                &format!("busybox:latest@{D1}"),
                "busybox:latest".into(),
                false,
            ),
            (
                &format!("busybox:latest@{D1}"),
                format!("busybox:latest@{D1}"),
                true,
            ),
            ("busybox", "busybox:latest".into(), false),
            ("busybox:latest", "UPPERCASE:latest".into(), false),
        ];
        for (image, signed, want) in cases {
            assert_eq!(accepts(&rule, image, signed), *want, "{image} vs {signed}");
        }
    }

    #[test]
    fn match_exact_and_repository() {
        let exact = IdentityRule::MatchExact;
        assert!(accepts(&exact, "a.com/x:1", "a.com/x:1"));
        assert!(!accepts(&exact, "a.com/x:1", "a.com/x:2"));
        assert!(!accepts(&exact, &format!("a.com/x@{D1}"), "a.com/x:1"));
        assert!(accepts(
            &exact,
            &format!("a.com/x@{D1}"),
            &format!("a.com/x@{D1}")
        ));
        assert!(!accepts(&exact, "a.com/x", "a.com/x"));
        let repo = IdentityRule::MatchRepository;
        assert!(accepts(&repo, "a.com/x:1", "a.com/x"));
        assert!(accepts(&repo, "a.com/x:1", &format!("a.com/x@{D2}")));
        assert!(!accepts(&repo, "a.com/x:1", "a.com/y:1"));
    }

    #[test]
    fn exact_rules_ignore_the_image() {
        let er = IdentityRule::ExactReference(r("a.com/x:1"));
        assert!(er.check(None, "a.com/x:1").is_ok());
        assert!(accepts(&er, "b.com/other:9", "a.com/x:1"));
        assert!(!accepts(&er, "a.com/x:1", "a.com/x:2"));
        assert!(!accepts(&er, "a.com/x:1", "a.com/x"));
        let erepo = IdentityRule::ExactRepository(r("a.com/x:ignored"));
        assert!(erepo.check(None, "a.com/x").is_ok());
        assert!(accepts(&erepo, "b.com/y:1", &format!("a.com/x@{D1}")));
        assert!(!accepts(&erepo, "a.com/x:1", "a.com/xy:1"));
    }

    #[test]
    fn remap_identity() {
        let rule = |p: &str, s: &str| IdentityRule::RemapIdentity {
            prefix: p.into(),
            signed_prefix: s.into(),
        };
        let docker = rule("docker.io", "not-docker-signed.example");
        assert!(accepts(
            &docker,
            "busybox:latest",
            "not-docker-signed.example/library/busybox:latest"
        ));
        assert!(!accepts(&docker, "busybox:latest", "busybox:latest"));
        // Prefix on a "/" boundary only.
        let ex = rule("example.com", "mirror.example.net");
        assert!(!accepts(
            &ex,
            "example.com:5000/image:1",
            "mirror.example.net:5000/image:1"
        ));
        assert!(accepts(
            &ex,
            "example.com:5000/image:1",
            "example.com:5000/image:1"
        ));
        assert!(accepts(
            &ex,
            "example.com/ns/image:1",
            "mirror.example.net/ns/image:1"
        ));
        let lib = rule("docker.io/library", "example.com/lib");
        assert!(!accepts(
            &lib,
            "docker.io/libraryy/image:1",
            "example.com/liby/image:1"
        ));
        assert!(accepts(&lib, "busybox:1", "example.com/lib/busybox:1"));
        assert!(accepts(
            &lib,
            &format!("busybox@{D1}"),
            "example.com/lib/busybox:any"
        ));
        // A rewrite that is not canonical never matches.
        let bad = rule("example.com", "mirror.example.net/UP");
        assert!(!accepts(
            &bad,
            "example.com/x:1",
            "mirror.example.net/UP/x:1"
        ));
        assert!(!accepts(&bad, "example.com/x:1", "example.com/x:1"));
    }

    #[test]
    fn no_image_reference_fails_every_image_based_rule() {
        for rule in [
            IdentityRule::MatchExact,
            IdentityRule::MatchRepoDigestOrExact,
            IdentityRule::MatchRepository,
            IdentityRule::RemapIdentity {
                prefix: "a.com".into(),
                signed_prefix: "b.com".into(),
            },
        ] {
            assert_eq!(
                rule.check(None, "a.com/x:1"),
                Err(IdentityError::NoImageReference),
                "{rule:?}"
            );
        }
    }
}
