//! Remediation hints for a `signedBy` denial: the pitfalls behind most of them (an image built
//! or loaded locally, a pull from a manifest list, signatures replaced by a later pull, no
//! lookaside in registries.d, a signature that names another reference), each with what to do;
//! and for a `sigstoreSigned` denial (`sigstore_hints`): no `use-sigstore-attachments` in
//! registries.d, cosign's tag-less identity under the default identity rule, a certificate for
//! another e-mail or issuer, a SET by another Rekor key.

use super::origin::{Origin, BUILDAH_LABEL};
use crate::policy::identity::IdentityError;
use crate::reference::Reference;
use crate::registries::RegistriesD;
use crate::storage;
use crate::verify::{Failure, RequirementError, SigFailure};

/// Remediation hints for a `signedBy` denial, for the pitfalls that cause most of them.
pub fn hints(
    image: &storage::Image,
    reference: Option<&Reference>,
    failures: &[SigFailure],
    registries: &RegistriesD,
    origin: Origin,
) -> Vec<String> {
    let mut out = Vec::new();
    if image.signatures.is_empty() {
        let from_list = image.digests.len() > 1
            && image
                .digests
                .first()
                .is_some_and(|d| *d != image.manifest_digest);
        if image.replaced_signatures {
            // A pull needs a registry: a localhost/ name is podman's name for a local image, so
            // name another of the image's names that is on a registry, if it has one.
            let source = reference
                .filter(|r| r.domain() != "localhost")
                .map(Reference::to_string)
                .or_else(|| {
                    image.names.iter().find_map(|n| {
                        Reference::parse_normalized(n)
                            .ok()
                            .filter(|r| r.domain() != "localhost")
                            .map(|r| r.to_string())
                    })
                });
            out.push(format!(
                "its signatures were replaced: a later pull or copy of the same image ID stored it again without them; pull it again from the signed source{}",
                source.map(|r| format!(" (podman pull {r})")).unwrap_or_default()
            ));
        } else if from_list {
            out.push(format!(
                "it was pulled from a manifest list ({}): a pull verifies and stores only the platform image's signatures, and none were found for {}; sign each platform image's manifest digest, not only the list's, then pull again",
                image.digests[0], image.manifest_digest
            ));
        } else if let Some(hint) = origin_hint(origin, image) {
            out.push(hint);
        } else {
            match reference {
                Some(r) if r.domain() != "localhost" => {
                    let src = registries.sources(r);
                    if src.lookaside.is_none() && !src.sigstore_attachments {
                        out.push(format!(
                            "no file in {} gives a lookaside for {}: a pull that read only these files looked for signatures in the local default and stored none (a pull may also have read ~/.config/containers/registries.d; if it had a lookaside, that lookaside had no signature for this manifest); add one (docker: {{{}: {{lookaside: URL}}}}) and pull again",
                            registries.dir.display(),
                            r.domain(),
                            r.domain()
                        ));
                    } else if origin == Origin::Pulled {
                        out.push(format!(
                            "it was pulled from {} (its layers are compressed, as a registry serves them) and has no stored signatures, although registries.d gives a lookaside for it: the lookaside had none for manifest {} when it was pulled; sign that digest and pull it again",
                            r.domain(),
                            image.manifest_digest
                        ));
                    } else {
                        out.push(
                            "it has no stored signatures: it was loaded from an archive, built locally, or pulled without its signatures; pull it again from the signed source".into(),
                        );
                    }
                }
                _ => out.push(
                    "it was built or loaded locally, so it has no signatures; push it with podman push --sign-by KEY and run the copy pulled back, or allow it as below".into(),
                ),
            }
        }
        if let Some(r) = reference {
            out.push(format!(
                "to allow it without signatures deliberately, give its repository its own policy entry: \"transports\": {{\"docker\": {{\"{}\": [{{\"type\": \"insecureAcceptAnything\"}}]}}}}",
                r.name()
            ));
        }
    }
    for f in failures {
        let SigFailure::Identity { signed, error, .. } = f else {
            continue;
        };
        match error {
            IdentityError::NoImageReference => out.push(
                "the container was created by image ID, so no name-based signedIdentity can match; create it by name, or use \"signedIdentity\": {\"type\": \"exactRepository\", ...}".into(),
            ),
            IdentityError::NotAccepted(_) => {
                let Ok(signed_ref) = Reference::parse_normalized(signed) else {
                    continue;
                };
                let same_repo = reference.is_some_and(|r| r.name() == signed_ref.name());
                let rule = if same_repo {
                    "{\"type\": \"matchRepository\"}".to_string()
                } else {
                    format!(
                        "{{\"type\": \"exactRepository\", \"dockerRepository\": \"{}\"}}",
                        signed_ref.name()
                    )
                };
                let hint = format!(
                    "the signature names {}{}; the signedBy requirement would accept it with \"signedIdentity\": {rule}",
                    signed,
                    reference.map(|r| format!(", not {r}")).unwrap_or_default()
                );
                if !out.contains(&hint) {
                    out.push(hint);
                }
            }
        }
    }
    out
}

/// Hints for any requirement that denied, whatever its type: which of several failed (all of a
/// scope's requirements must pass), and for `reject`, how to allow the image deliberately.
/// `scope` is the scope as reports name it (`docker example.com`, `default`).
pub fn requirement_hints(
    failure: &Failure,
    scope: &str,
    reference: Option<&Reference>,
) -> Vec<String> {
    let mut out = Vec::new();
    if failure.count > 1 {
        out.push(format!(
            "requirement {} of {} in scope {scope} failed ({}): every requirement of a scope must pass, in order{}",
            failure.position,
            failure.count,
            failure.requirement,
            if failure.position < failure.count {
                ", and the ones after it were not checked"
            } else {
                ""
            }
        ));
    }
    if failure.requirement == "reject" {
        out.push(match reference {
            Some(r) if r.name() == crate::infra::PAUSE_REPOSITORY => format!(
                "scope {scope} rejects every image; {} is the name of podman's pod infra image, and the hook starts podman's own whatever the policy says (its only layer is this host's root-owned catatonit); this image is not that one, so it is judged like any other",
                r.name()
            ),
            Some(r) => format!(
                "scope {scope} rejects every image (reject); to run this one deliberately, give its repository a scope of its own, which wins over {scope}: \"transports\": {{\"docker\": {{\"{}\": [{{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"KEY\"}}]}}}} to require its signature, or [{{\"type\": \"insecureAcceptAnything\"}}] to accept it unsigned",
                r.name()
            ),
            None => format!(
                "scope {scope} rejects every image; an image without a name is judged by the docker transport's \"\" scope, else default: name it (podman tag ID NAME) and give that name a scope of its own"
            ),
        });
    }
    out
}

/// What to say of an image without signatures that was built or loaded here (`origin`): those
/// never had any, whatever registries.d says.
fn origin_hint(origin: Origin, image: &storage::Image) -> Option<String> {
    match origin {
        Origin::Built => Some(format!(
            "it was built on this host (podman build or commit: its config has buildah's {BUILDAH_LABEL} label and its layers are stored uncompressed), so nothing has signed it; push it with podman push --sign-by KEY (or --sign-by-sigstore-private-key FILE) and run the copy pulled back, or allow its name deliberately (below)"
        )),
        Origin::Loaded => Some(format!(
            "it was loaded from an archive (podman load of a docker-archive: its manifest declares compressed layers whose digests are the archive's uncompressed tars, {}), and an archive carries no signatures; pull it from the signed registry instead, or allow its name deliberately (below)",
            image.manifest_digest
        )),
        _ => None,
    }
}

/// Remediation hints for a `sigstoreSigned` denial: `error` is why the requirement failed.
pub fn sigstore_hints(
    image: &storage::Image,
    reference: Option<&Reference>,
    error: &RequirementError,
    registries: &RegistriesD,
    origin: Origin,
) -> Vec<String> {
    let mut out = Vec::new();
    match error {
        RequirementError::NoSigstoreSignature { other, .. } => {
            if let Some(hint) = origin_hint(origin, image).filter(|_| *other == 0) {
                out.push(hint);
            } else if let Some(r) = reference.filter(|r| r.domain() != "localhost") {
                if !registries.sources(r).sigstore_attachments {
                    out.push(format!(
                        "no file in {} sets use-sigstore-attachments: true for {}: a pull that read only these files did not fetch or store its sigstore signatures (a pull may also have read ~/.config/containers/registries.d; if it set it, the registry had no signature for this manifest); add docker: {{{}: {{use-sigstore-attachments: true}}}} and pull again",
                        registries.dir.display(),
                        r.domain(),
                        r.domain()
                    ));
                }
            }
            if *other > 0 {
                out.push(format!(
                    "it has {other} simple-signing (GPG) signature(s) but no sigstore signature; this scope requires sigstoreSigned: sign it with cosign or skopeo --sign-by-sigstore-private-key, or require signedBy"
                ));
            } else if image.signatures.is_empty() && out.is_empty() {
                out.push(
                    "it has no stored signatures: it was built or loaded locally, or pulled without them; run the copy pulled from the signed source".into(),
                );
            }
        }
        RequirementError::Signatures(failures) => {
            for f in failures {
                let hint = match f {
                    SigFailure::Identity {
                        signed,
                        error: IdentityError::NotAccepted(_),
                        ..
                    } => match Reference::parse_normalized(signed) {
                        Ok(s) if s.tag().is_none() && s.digest().is_none() => format!(
                            "the signature names the repository {signed} without a tag, as cosign signs; the default signedIdentity (matchRepoDigestOrExact) never accepts that: use \"signedIdentity\": {{\"type\": \"matchRepository\"}} (or exactRepository)"
                        ),
                        _ => format!(
                            "the signature names {signed}{}; choose a signedIdentity that accepts it (matchRepository, exactRepository, remapIdentity)",
                            reference.map(|r| format!(", not {r}")).unwrap_or_default()
                        ),
                    },
                    SigFailure::Crypto(e) if e.contains("Required email") => format!(
                        "the certificate was issued for another e-mail ({e}); set subjectEmail to the signer's, or sign as that identity"
                    ),
                    SigFailure::Crypto(e) if e.contains("OIDC issuer") => format!(
                        "the certificate names another OIDC issuer ({e}); set oidcIssuer to the one the signer logged in with"
                    ),
                    SigFailure::Crypto(e) if e.contains("Rekor SET failed") => "the Rekor SET was signed by another Rekor key than the policy names: set rekorPublicKeyPath to the key of the Rekor instance that logged the signature".into(),
                    SigFailure::Crypto(e) if e.contains("missing dev.sigstore.cosign/bundle") => "the signature has no Rekor SET (made with --tlog-upload=false?); with rekorPublicKey* set, a SET is required: sign with a Rekor upload, or drop the Rekor key from a public-key requirement".into(),
                    _ => continue,
                };
                if !out.contains(&hint) {
                    out.push(hint);
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(sigs: usize, digests: &[&str], replaced: bool) -> storage::Image {
        storage::Image {
            id: "a".repeat(64),
            names: vec!["registry.example.com/app:1".into()],
            digests: digests.iter().map(|s| s.to_string()).collect(),
            manifest: Vec::new(),
            manifest_digest: format!("sha256:{}", "1".repeat(64)),
            signatures: (0..sigs)
                .map(|_| crate::signature::Signature::SimpleSigning(vec![0xa3]))
                .collect(),
            replaced_signatures: replaced,
        }
    }

    fn r(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap().with_default_tag()
    }

    const M: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const L: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn a_local_image_is_said_to_be_local() {
        let reg = RegistriesD::default();
        let h = hints(
            &image(0, &[M], false),
            Some(&r("localhost/app:1")),
            &[],
            &reg,
            Origin::Unknown,
        );
        assert!(h[0].contains("built or loaded locally"), "{h:?}");
        assert!(h[1].contains("\"localhost/app\": [{\"type\": \"insecureAcceptAnything\"}]"));
    }

    #[test]
    fn a_registry_without_lookaside_is_named() {
        let h = hints(
            &image(0, &[M], false),
            Some(&r("registry.example.com/app:1")),
            &[],
            &RegistriesD::default(),
            Origin::Unknown,
        );
        assert!(
            h[0].contains("gives a lookaside for registry.example.com"),
            "{h:?}"
        );
    }

    #[test]
    fn a_list_or_replaced_signatures_are_named() {
        let reference = r("registry.example.com/app:1");
        let h = hints(
            &image(0, &[L, M], false),
            Some(&reference),
            &[],
            &RegistriesD::default(),
            Origin::Unknown,
        );
        assert!(h[0].contains("pulled from a manifest list"), "{h:?}");
        let h = hints(
            &image(0, &[M], true),
            Some(&reference),
            &[],
            &RegistriesD::default(),
            Origin::Unknown,
        );
        assert!(h[0].contains("signatures were replaced"), "{h:?}");
        assert!(h[0].contains("podman pull registry.example.com/app:1"));
        // Asked under a local name, the pull names the image's name on a registry.
        let h = hints(
            &image(0, &[M], true),
            Some(&r("localhost/app:dev")),
            &[],
            &RegistriesD::default(),
            Origin::Unknown,
        );
        assert!(
            h[0].contains("podman pull registry.example.com/app:1"),
            "{h:?}"
        );
        assert!(!h[0].contains("podman pull localhost"), "{h:?}");
    }

    #[test]
    fn an_identity_mismatch_names_the_rule_that_would_accept_it() {
        let reg = RegistriesD::default();
        let fail = |signed: &str| SigFailure::Identity {
            signer: "K".into(),
            signed: signed.into(),
            error: IdentityError::NotAccepted(signed.into()),
        };
        let reference = r("registry.example.com/app:1");
        let h = hints(
            &image(1, &[M], false),
            Some(&reference),
            &[fail("registry.example.com/app:2")],
            &reg,
            Origin::Unknown,
        );
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].contains("{\"type\": \"matchRepository\"}"), "{h:?}");
        let h = hints(
            &image(1, &[M], false),
            Some(&reference),
            &[fail("mirror.example.com/x/app:1")],
            &reg,
            Origin::Unknown,
        );
        assert!(
            h[0].contains("\"dockerRepository\": \"mirror.example.com/x/app\""),
            "{h:?}"
        );
        // A signed image whose signatures fail for other reasons gets no hint.
        let h = hints(
            &image(1, &[M], false),
            Some(&reference),
            &[SigFailure::Crypto("untrusted".into())],
            &reg,
            Origin::Unknown,
        );
        assert!(h.is_empty());
    }

    #[test]
    fn sigstore_hints_name_the_pitfall() {
        use crate::policy::identity::IdentityError;
        let reg = RegistriesD::default();
        let img = image(0, &[M], false);
        let app = r("registry.example.com/app:1");
        let cases: Vec<(RequirementError, &str)> = vec![
            (
                RequirementError::NoSigstoreSignature {
                    other: 0,
                    attachments: 0,
                },
                "use-sigstore-attachments: true for registry.example.com",
            ),
            (
                RequirementError::NoSigstoreSignature {
                    other: 1,
                    attachments: 0,
                },
                "1 simple-signing (GPG) signature(s) but no sigstore signature",
            ),
            (
                RequirementError::Signatures(vec![SigFailure::Identity {
                    signer: "key".into(),
                    signed: "registry.example.com/app".into(),
                    error: IdentityError::NotAccepted("registry.example.com/app".into()),
                }]),
                "without a tag, as cosign signs",
            ),
            (
                RequirementError::Signatures(vec![SigFailure::Identity {
                    signer: "key".into(),
                    signed: "registry.example.com/other:2".into(),
                    error: IdentityError::NotAccepted("registry.example.com/other:2".into()),
                }]),
                "names registry.example.com/other:2, not registry.example.com/app:1",
            ),
            (
                RequirementError::Signatures(vec![SigFailure::Crypto(
                    "Required email \"a@example.com\" not found (got [\"b@example.com\"])".into(),
                )]),
                "issued for another e-mail",
            ),
            (
                RequirementError::Signatures(vec![SigFailure::Crypto(
                    "Unexpected Fulcio OIDC issuer \"https://other\"".into(),
                )]),
                "another OIDC issuer",
            ),
            (
                RequirementError::Signatures(vec![SigFailure::Crypto(
                    "No public key verified against the RekorSET: cryptographic signature verification of Rekor SET failed".into(),
                )]),
                "another Rekor key",
            ),
        ];
        for (error, want) in cases {
            let h = sigstore_hints(&img, Some(&app), &error, &reg, Origin::Unknown);
            assert!(h.iter().any(|h| h.contains(want)), "{error:?}: {h:?}");
        }
        // Nothing to say about a failure without a known pitfall.
        let h = sigstore_hints(
            &img,
            Some(&app),
            &RequirementError::Signatures(vec![SigFailure::Crypto("x509: bad".into())]),
            &reg,
            Origin::Unknown,
        );
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn requirement_hints_say_which_failed_and_how_to_allow_a_rejected_image() {
        let fail = |requirement: &'static str, position: usize, count: usize| Failure {
            requirement,
            position,
            count,
            error: RequirementError::Rejected,
        };
        let app = r("registry.example.com/app:1");
        let pause = r("localhost/podman-pause:4.3.1-0");
        type Case<'a> = (
            &'a str,
            Failure,
            Option<&'a Reference>,
            &'a [&'a str],
            &'a [&'a str],
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("one requirement, signedBy", fail("signedBy", 1, 1), Some(&app), &[], &["requirement 1 of 1", "reject"]),
            ("second of three", fail("signedBy", 2, 3), Some(&app),
                &["requirement 2 of 3 in scope docker registry.example.com failed (signedBy): every requirement of a scope must pass, in order, and the ones after it were not checked"], &[]),
            ("last of two", fail("sigstoreSigned", 2, 2), Some(&app),
                &["requirement 2 of 2 in scope docker registry.example.com failed (sigstoreSigned): every requirement of a scope must pass, in order"], &["not checked"]),
            ("reject", fail("reject", 1, 1), Some(&app),
                &["scope docker registry.example.com rejects every image (reject)", "\"registry.example.com/app\": [{\"type\": \"signedBy\"", "[{\"type\": \"insecureAcceptAnything\"}] to accept it unsigned"], &["requirement 1 of 1"]),
            ("reject after an accept", fail("reject", 2, 2), Some(&app),
                &["requirement 2 of 2", "rejects every image (reject)"], &[]),
            ("reject, podman's pause name", fail("reject", 1, 1), Some(&pause),
                &["podman's pod infra image", "this image is not that one"], &["insecureAcceptAnything"]),
            ("reject, no name", fail("reject", 1, 1), None,
                &["an image without a name", "podman tag ID NAME"], &[]),
        ];
        for (what, failure, reference, want, not) in cases {
            let h =
                requirement_hints(failure, "docker registry.example.com", *reference).join("\n");
            for w in *want {
                assert!(h.contains(w), "{what}: {w:?} not in {h}");
            }
            for n in *not {
                assert!(!h.contains(n), "{what}: {n:?} in {h}");
            }
        }
    }

    #[test]
    fn an_unsigned_image_is_told_by_how_it_came_here() {
        let reg = RegistriesD::default();
        let app = r("registry.example.com/app:1");
        let local = r("localhost/app:1");
        #[rustfmt::skip]
        let cases: &[(Origin, &Reference, &str, &[&str])] = &[
            (Origin::Built, &local, "built on this host (podman build or commit", &["loaded from an archive"]),
            (Origin::Built, &app, "built on this host", &["lookaside"]),
            (Origin::Loaded, &app, "loaded from an archive (podman load of a docker-archive", &["built on this host"]),
            (Origin::Loaded, &local, "an archive carries no signatures", &[]),
            (Origin::Local, &local, "built or loaded locally", &[]),
            (Origin::Unknown, &local, "built or loaded locally", &[]),
            // Without a lookaside for the registry, that is the likeliest cause of a pull without signatures.
            (Origin::Pulled, &app, "gives a lookaside for registry.example.com", &["built"]),
        ];
        for (origin, reference, want, not) in cases {
            let h = hints(&image(0, &[M], false), Some(reference), &[], &reg, *origin).join("\n");
            assert!(h.contains(want), "{origin:?} {reference}: {h}");
            for n in *not {
                assert!(!h.contains(n), "{origin:?} {reference}: {n:?} in {h}");
            }
            assert!(h.contains("insecureAcceptAnything"), "{origin:?}: {h}");
            let s = sigstore_hints(
                &image(0, &[M], false),
                Some(reference),
                &RequirementError::NoSigstoreSignature {
                    other: 0,
                    attachments: 0,
                },
                &reg,
                *origin,
            )
            .join("\n");
            if matches!(origin, Origin::Built | Origin::Loaded) {
                assert!(s.contains(want), "sigstore {origin:?}: {s}");
            }
        }
        // With a lookaside for the registry, a pulled image had none there.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("lab.yaml"),
            "docker:\n  registry.example.com:\n    lookaside: file:///srv/sigs\n",
        )
        .unwrap();
        let with = RegistriesD::load(d.path()).unwrap();
        let h = hints(
            &image(0, &[M], false),
            Some(&app),
            &[],
            &with,
            Origin::Pulled,
        )
        .join("\n");
        assert!(
            h.contains("it was pulled from registry.example.com (its layers are compressed")
                && h.contains(&format!("the lookaside had none for manifest {M}")),
            "{h}"
        );
        let h = hints(
            &image(0, &[M], false),
            Some(&app),
            &[],
            &with,
            Origin::Unknown,
        )
        .join("\n");
        assert!(
            h.contains("it has no stored signatures: it was loaded"),
            "{h}"
        );
    }
}
