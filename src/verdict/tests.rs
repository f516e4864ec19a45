//! The decision rules, without root: the claimed reference, the fail-closed rule and the engine
//! claims, each as a table.

use super::*;

fn container(name: Option<&str>) -> Container {
    Container {
        id: "c".into(),
        names: vec![],
        image_id: "ab".repeat(32),
        layer: String::new(),
        image_name: name.map(String::from),
    }
}

#[test]
fn the_claimed_reference_is_the_creation_name_normalized() {
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (Some("example.com/app:1"), Some("example.com/app:1")),
        (Some("busybox"), Some("docker.io/library/busybox:latest")),
        (Some("example.com/app"), Some("example.com/app:latest")),
        (Some("abababab"), None),
        (Some(&"ab".repeat(32)), None),
        (Some("sha256:ababab"), None),
        (None, None),
        // A tag and a digest: checked by the digest, as podman pulls it.
        (
            Some("busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            Some("docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ),
    ];
    for (name, want) in cases {
        let got = reference_of(&container(*name))
            .expect("a reference or none")
            .map(|r| r.to_string());
        assert_eq!(got.as_deref(), *want, "{name:?}");
    }
    // A hex-looking name that is not a prefix of the image ID is a name.
    assert!(matches!(
        reference_of(&container(Some("cdcdcd"))),
        Ok(Some(_))
    ));
    // A name that is not a reference is an error, not an image without a name.
    let e = reference_of(&container(Some("NOT A REFERENCE"))).expect_err("not a reference");
    assert!(e.to_string().contains("not an image reference"), "{e}");
}

#[test]
fn accepts_anything_only_when_no_requirement_could_deny() {
    let p = |s: &str| Policy::from_bytes(s.as_bytes()).unwrap();
    assert!(p(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).accepts_anything());
    assert!(p(r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"dir":{"":[{"type":"reject"}]}}}"#).accepts_anything());
    assert!(!p(r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"x":[{"type":"reject"}]}}}"#).accepts_anything());
    assert!(!p(r#"{"default":[{"type":"reject"}]}"#).accepts_anything());
}

/// Every fail-closed and fail-open path of `settle`: which reasons an accept-anything policy
/// overrides, and which deny whatever the policy says.
#[test]
fn settle_denies_every_error_unless_the_policy_accepts_anything() {
    let lenient =
        Policy::from_bytes(br#"{"default":[{"type":"insecureAcceptAnything"}]}"#).expect("policy");
    let strict = Policy::from_bytes(br#"{"default":[{"type":"reject"}]}"#).expect("policy");
    let reasons: Vec<(fn() -> Reason, bool)> = vec![
        (|| StateError::Empty.into(), false),
        (|| PolicyError::TooLarge { path: "/p".into() }.into(), false),
        (|| PrivilegeError::NoNewPrivs("EPERM".into()).into(), true),
        (|| StorageError::UnknownContainer("c".into()).into(), true),
        (
            || {
                NameError {
                    name: "A B".into(),
                    error: reference::ParseError::InvalidFormat,
                }
                .into()
            },
            true,
        ),
        (
            || {
                ClaimMismatch::ImageRef {
                    claimed: "x".into(),
                    image_id: "y".into(),
                }
                .into()
            },
            true,
        ),
    ];
    for (make, overridable) in reasons {
        let text = make().to_string();
        let out = settle(Some(&strict), Err(make()));
        assert!(!out.allows(), "a strict policy allowed {text}");
        assert_eq!(out.to_string(), text);
        let out = settle(None, Err(make()));
        assert!(!out.allows(), "no policy allowed {text}");
        let out = settle(Some(&lenient), Err(make()));
        assert_eq!(out.allows(), overridable, "{text}");
        if overridable {
            assert_eq!(
                out.to_string(),
                format!("the policy accepts any image ({text})")
            );
        }
    }
}

mod pipeline {
    //! The whole decision without root: a fixture store, a policy file, the OCI state a runtime
    //! would write, and the fake verifier; `hook::decide` gives the verdict and the reason, and
    //! `check` must reach the same one for the same container.

    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use crate::audit::Verdict;
    use crate::check;
    use crate::cli::CheckArgs;
    use crate::config::{Imageless, Mode};
    use crate::hook;
    use crate::registries::RegistriesD;
    use crate::settings::HookSettings;
    use crate::testing::{
        hex64, manifest_digest, sig, signed_by, ContainerFixture, Fake, ImageFixture, Tree,
    };
    use crate::verdict::{ImagelessRule, Verification};

    const NAME: &str = "example.com/app:1";
    const CONFIG: &str = "/etc/containers/oci-signature-hook.conf";

    /// The image under test: signed by key `a` for NAME unless a row says otherwise.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Image {
        Signed,
        Unsigned,
        SignedForOtherDigest,
        SignedForOtherName,
        SignedByOtherKey,
        /// Signed for NAME, but stored without any name (as after `podman rmi` of its tag).
        SignedUnnamed,
        /// The container's image is not in images.json.
        Missing,
    }

    /// How the runtime's state and the container record look.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Start {
        /// `podman run example.com/app:1`.
        ByName,
        /// `podman run <short image ID>`, recorded as given for an image without names.
        ById,
        /// `podman run sha256:<image ID>`, recorded as given whatever the image's names.
        BySha256Id,
        /// `podman run <name>@<digest>` and `<name>:<tag>@<digest>`.
        ByDigest,
        ByTagAndDigest,
        /// A creation name that is not a reference.
        BadName,
        /// The state names a container the store does not have.
        UnknownContainer,
        /// The bundle is not in a store at all.
        ForeignBundle,
        /// The state on stdin is not JSON.
        GarbageState,
        /// CRI-O's annotation names another image ID.
        WrongImageRef,
        /// `podman run --rootfs DIR`: the container has no image.
        Imageless,
    }

    struct Row {
        policy: String,
        image: Image,
        start: Start,
        allow: bool,
        reason: String,
    }

    fn policy_with(default: &str, docker: &str) -> String {
        format!(r#"{{"default":{default},"transports":{{"docker":{{{docker}}}}}}}"#)
    }

    const ACCEPT: &str = r#"[{"type":"insecureAcceptAnything"}]"#;
    const REJECT: &str = r#"[{"type":"reject"}]"#;

    fn rows(id: &str) -> Vec<Row> {
        let other = manifest_digest(&hex64('9'));
        let strict = policy_with(REJECT, &format!(r#""example.com":{}"#, signed_by("a")));
        let accept = policy_with(ACCEPT, "");
        let row = |policy: &str, image, start, allow, reason: &str| Row {
            policy: policy.to_string(),
            image,
            start,
            allow,
            reason: reason.to_string(),
        };
        let not_in_store = format!("container {} is not in containers/storage", hex64('d'));
        vec![
            // Allows, and what they rest on.
            row(&strict, Image::Signed, Start::ByName, true, "every requirement is satisfied"),
            row(&accept, Image::Unsigned, Start::ByName, true, "insecureAcceptAnything"),
            row(
                &policy_with(REJECT, &format!(r#""example.com/app":{ACCEPT}"#)),
                Image::Unsigned,
                Start::ByName,
                true,
                "insecureAcceptAnything",
            ),
            // Each requirement's denies.
            row(
                &policy_with(REJECT, ""),
                Image::Signed,
                Start::ByName,
                false,
                "reject: the policy rejects every image in this scope",
            ),
            row(
                &strict,
                Image::Unsigned,
                Start::ByName,
                false,
                "signedBy: no signature exists (a signature by a trusted key was required)",
            ),
            row(&strict, Image::SignedByOtherKey, Start::ByName, false, "signedBy: no public key b"),
            row(
                &strict,
                Image::SignedForOtherDigest,
                Start::ByName,
                false,
                &format!("signedBy: signature by a is for manifest {other}, not for this image's manifest"),
            ),
            row(
                &strict,
                Image::SignedForOtherName,
                Start::ByName,
                false,
                "signedBy: signature for identity \"example.com/app:2\" is not accepted",
            ),
            row(
                &policy_with(
                    REJECT,
                    r#""example.com":[{"type":"insecureAcceptAnything"},{"type":"reject"}]"#,
                ),
                Image::Signed,
                Start::ByName,
                false,
                "reject: the policy rejects every image in this scope",
            ),
            row(
                &policy_with(
                    r#"[{"type":"sigstoreSigned","keyData":"a2V5","signedIdentity":{"type":"matchRepository"}}]"#,
                    "",
                ),
                Image::Signed,
                Start::ByName,
                false,
                "sigstoreSigned: no sigstore signature exists (a signature by a trusted key or certificate was required) (1 non-sigstore signatures, 0 sigstore non-signature attachments)",
            ),
            row(
                &policy_with(
                    REJECT,
                    r#""example.com":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/key.gpg"}]"#,
                ),
                Image::Signed,
                Start::ByName,
                false,
                "signedBy: key file \"/nonexistent/key.gpg\" does not exist",
            ),
            // One image, one answer, however it is spelled: by ID it is judged under its first
            // name, as podman records a plain ID.
            row(&strict, Image::Signed, Start::ById, true, "every requirement is satisfied"),
            row(&strict, Image::Signed, Start::BySha256Id, true, "every requirement is satisfied"),
            row(&strict, Image::Signed, Start::ByDigest, true, "every requirement is satisfied"),
            row(&strict, Image::Signed, Start::ByTagAndDigest, true, "every requirement is satisfied"),
            row(
                &strict,
                Image::SignedByOtherKey,
                Start::BySha256Id,
                false,
                "signedBy: no public key b",
            ),
            // An image without a name has no reference: scoped by `default`, and no identity can
            // match.
            row(
                &policy_with(&signed_by("a"), ""),
                Image::SignedUnnamed,
                Start::ById,
                false,
                "signedBy: the image has no name-based reference, so no signed identity can match it (it was started by image ID)",
            ),
            row(
                &policy_with(&signed_by("a"), ""),
                Image::SignedUnnamed,
                Start::BySha256Id,
                false,
                "signedBy: the image has no name-based reference, so no signed identity can match it (it was started by image ID)",
            ),
            // Errors before the verdict: closed, unless the policy accepts anything.
            row(&strict, Image::Signed, Start::UnknownContainer, false, &not_in_store),
            row(
                &accept,
                Image::Signed,
                Start::UnknownContainer,
                true,
                &format!("the policy accepts any image ({not_in_store})"),
            ),
            row(
                &strict,
                Image::Signed,
                Start::BadName,
                false,
                "the container was created from \"NOT A NAME\", which is not an image reference (invalid reference format: repository name must be lowercase)",
            ),
            row(
                &accept,
                Image::Signed,
                Start::BadName,
                true,
                "the policy accepts any image (the container was created from \"NOT A NAME\", which is not an image reference (invalid reference format: repository name must be lowercase))",
            ),
            row(
                &strict,
                Image::Missing,
                Start::ByName,
                false,
                &format!("image {id} is not in containers/storage"),
            ),
            // A scope that needs no image never reads it.
            row(
                &policy_with(ACCEPT, &format!(r#""other.example":{}"#, signed_by("a"))),
                Image::Missing,
                Start::ByName,
                true,
                "insecureAcceptAnything",
            ),
            row(&strict, Image::Signed, Start::ForeignBundle, false, "bundle"),
            row(&accept, Image::Signed, Start::ForeignBundle, true, "the policy accepts any image (bundle"),
            // The state comes first: without it there is nothing to judge, whatever the policy.
            row(&accept, Image::Signed, Start::GarbageState, false, "invalid container state on stdin"),
            // Engine claims can only deny.
            row(
                &strict,
                Image::Signed,
                Start::WrongImageRef,
                false,
                &format!(
                    "annotation io.kubernetes.cri-o.ImageRef=sha256:{} is not the container's image {id}",
                    hex64('9')
                ),
            ),
            row(&accept, Image::Signed, Start::WrongImageRef, true, "insecureAcceptAnything"),
            // No image: judged (imageless = "policy") as an image without name or signatures.
            row(
                &accept,
                Image::Signed,
                Start::Imageless,
                true,
                &format!("the container has no image; imageless = \"policy\" ({CONFIG}) judges it by the policy's default requirements"),
            ),
            row(
                &strict,
                Image::Signed,
                Start::Imageless,
                false,
                &format!("the container has no image; imageless = \"policy\" ({CONFIG}) judges it by the policy's default requirements: reject: the policy rejects every image in this scope"),
            ),
            row(
                &policy_with(&signed_by("a"), ""),
                Image::Signed,
                Start::Imageless,
                false,
                &format!("the container has no image; imageless = \"policy\" ({CONFIG}) judges it by the policy's default requirements: signedBy: no signature exists"),
            ),
        ]
        .into_iter()
        .inspect(|r| {
            // Every row's policy parses (a typo would turn it into a policy error row).
            assert!(
                crate::policy::Policy::from_bytes(r.policy.as_bytes()).is_ok(),
                "{}",
                r.policy
            );
        })
        .collect()
    }

    fn settings(policy: PathBuf) -> HookSettings {
        HookSettings {
            policy,
            mode: Mode::Enforce,
            imageless: Imageless::Policy,
            config: CONFIG.into(),
            sinks: crate::audit::Sinks {
                journal: "/nonexistent/oci-signature-hook-test.journal".into(),
                syslog: "/nonexistent/oci-signature-hook-test.sock".into(),
                file: None,
            },
            repeats: None,
            repeat_window: Duration::ZERO,
            uid: 0,
            cache: None,
            decisions: None,
            timeout: Duration::from_secs(2),
            verifier: Box::new(Fake),
            rootless: false,
            host_root: 0,
            keep_privileges: true,
        }
    }

    fn state(cid: &str, bundle: &Path, annotations: &HashMap<String, String>) -> String {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "id": cid,
            "status": "created",
            "pid": 1,
            "bundle": bundle,
            "annotations": annotations,
        })
        .to_string()
    }

    /// Builds the row's store; returns it with the state JSON a runtime would write.
    fn setup(row: &Row, id: &str) -> (Tree, String) {
        let t = Tree::new();
        let cid = hex64('c');
        let d = manifest_digest(id);
        let sigs = match row.image {
            Image::Signed | Image::SignedUnnamed => vec![sig("a", &d, NAME)],
            Image::Unsigned | Image::Missing => vec![],
            Image::SignedForOtherDigest => vec![sig("a", &manifest_digest(&hex64('9')), NAME)],
            Image::SignedForOtherName => vec![sig("a", &d, "example.com/app:2")],
            Image::SignedByOtherKey => vec![sig("b", &d, NAME)],
        };
        match row.image {
            Image::Missing => {}
            Image::SignedUnnamed => {
                t.image(&ImageFixture::new(id).signatures(&sigs));
            }
            _ => {
                t.image(&ImageFixture::new(id).names(&[NAME]).signatures(&sigs));
            }
        }
        let image_id = if row.start == Start::Imageless {
            ""
        } else {
            id
        };
        let c = ContainerFixture::new(&cid, image_id).names(&["web"]);
        let c = match row.start {
            Start::ById => c.created_from(&id[..12]),
            Start::BySha256Id => c.created_from(&format!("sha256:{id}")),
            Start::ByDigest => c.created_from(&format!("example.com/app@{d}")),
            Start::ByTagAndDigest => c.created_from(&format!("{NAME}@{d}")),
            Start::BadName => c.created_from("NOT A NAME"),
            Start::Imageless => c,
            _ => c.created_from(NAME),
        };
        let bundle = t.container(&c);
        let mut annotations = HashMap::new();
        let (state_id, bundle) = match row.start {
            Start::UnknownContainer => {
                let other = hex64('d');
                let b = t.bundle(&other);
                (other, b)
            }
            Start::ForeignBundle => (cid.clone(), PathBuf::from("/nonexistent/bundle/userdata")),
            Start::WrongImageRef => {
                annotations.insert(
                    super::CRIO_IMAGE_REF.to_string(),
                    format!("sha256:{}", hex64('9')),
                );
                (cid.clone(), bundle)
            }
            _ => (cid.clone(), bundle),
        };
        let state = match row.start {
            Start::GarbageState => "garbage".to_string(),
            _ => state(&state_id, &bundle, &annotations),
        };
        (t, state)
    }

    #[test]
    fn the_verdict_table() {
        let id = hex64('1');
        let dir = tempfile::tempdir().expect("temporary directory");
        for (n, row) in rows(&id).iter().enumerate() {
            let policy = dir.path().join(format!("policy-{n}.json"));
            std::fs::write(&policy, &row.policy).expect("write the policy");
            let (tree, state) = setup(row, &id);
            let what = format!(
                "row {n}: {:?} {:?} under {}",
                row.image, row.start, row.policy
            );
            let (verdict, record) = hook::decide(&settings(policy.clone()), state.as_bytes());
            assert_eq!(
                verdict == Verdict::Allow,
                row.allow,
                "{what}: {}",
                record.reason
            );
            assert!(
                record.reason.starts_with(&row.reason),
                "{what}:\n got {:?}\nwant {:?}",
                record.reason,
                row.reason
            );
            // check reaches the same verdict for the same container, except where it cannot
            // see what the hook saw (no runtime state: no annotations, no bundle).
            if matches!(
                row.start,
                Start::ByName
                    | Start::ById
                    | Start::BySha256Id
                    | Start::ByDigest
                    | Start::ByTagAndDigest
                    | Start::BadName
                    | Start::Imageless
            ) {
                let store = tree.open();
                let policy = crate::policy::Policy::load(&policy).expect("policy");
                let keys = crate::verify::PolicyKeys::load(&policy);
                let how = Verification {
                    verifier: &Fake,
                    keys: &keys,
                    imageless: ImagelessRule {
                        setting: Imageless::Policy,
                        config: CONFIG.into(),
                    },
                    cache: None,
                    host_root: 0,
                };
                let rows = check::evaluate(
                    &store,
                    &policy,
                    &RegistriesD::default(),
                    &CheckArgs::default(),
                    &how,
                )
                .expect("check evaluates the store")
                .rows;
                let c = rows
                    .iter()
                    .find(|r| r.container.as_deref() == Some("web"))
                    .unwrap_or_else(|| panic!("{what}: no container row in {rows:?}"));
                assert_eq!(
                    c.verdict == check::RowVerdict::Allow,
                    row.allow,
                    "{what}: check said {:?}",
                    c.reason
                );
                assert_eq!(c.reason, record.reason, "{what}");
            }
        }
    }

    #[test]
    fn a_second_start_is_answered_from_the_cache_and_warn_mode_never_blocks() {
        let id = hex64('1');
        let dir = tempfile::tempdir().expect("temporary directory");
        let policy = dir.path().join("policy.json");
        std::fs::write(
            &policy,
            policy_with(REJECT, &format!(r#""example.com":{}"#, signed_by("a"))),
        )
        .expect("write the policy");
        let row = Row {
            policy: String::new(),
            image: Image::Signed,
            start: Start::ByName,
            allow: true,
            reason: String::new(),
        };
        let (_tree, state) = setup(&row, &id);
        let mut s = settings(policy.clone());
        s.cache = crate::cache::Cache::open(&dir.path().join("cache"));
        assert!(s.cache.is_some());
        let first = hook::decide(&s, state.as_bytes());
        let second = hook::decide(&s, state.as_bytes());
        assert_eq!(first.1.reason, "every requirement is satisfied");
        assert_eq!(
            second.1.reason,
            "every requirement is satisfied (cached verdict)"
        );
        assert_eq!((first.0, second.0), (Verdict::Allow, Verdict::Allow));

        // Warn mode: a deny is recorded as would-deny and the start goes ahead.
        let unsigned = Row {
            image: Image::Unsigned,
            ..row
        };
        let (_tree, state) = setup(&unsigned, &id);
        let mut s = settings(policy);
        s.mode = Mode::Warn;
        assert_eq!(hook::run(&s, state.as_bytes()), crate::exit::Exit::Allow);
        s.mode = Mode::Enforce;
        assert_eq!(hook::run(&s, state.as_bytes()), crate::exit::Exit::Deny);
    }

    #[test]
    fn an_explicit_imageless_setting_decides_and_says_so() {
        let id = hex64('1');
        let dir = tempfile::tempdir().expect("temporary directory");
        let policy = dir.path().join("policy.json");
        let row = Row {
            policy: String::new(),
            image: Image::Signed,
            start: Start::Imageless,
            allow: true,
            reason: String::new(),
        };
        let (_tree, state) = setup(&row, &id);
        for (body, setting, allow, reason) in [
            (
                policy_with(REJECT, ""),
                Imageless::Allow,
                true,
                format!("the container has no image; imageless = \"allow\" ({CONFIG})"),
            ),
            // An explicit "deny" stands even where the policy accepts anything.
            (
                policy_with(ACCEPT, ""),
                Imageless::Deny,
                false,
                format!("the container has no image; imageless = \"deny\" ({CONFIG})"),
            ),
        ] {
            std::fs::write(&policy, body).expect("write the policy");
            let mut s = settings(policy.clone());
            s.imageless = setting;
            let (verdict, record) = hook::decide(&s, state.as_bytes());
            assert_eq!(verdict == Verdict::Allow, allow, "{setting:?}");
            assert_eq!(record.reason, reason);
        }
    }
}
