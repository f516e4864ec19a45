//! The decision rules, without root: the claimed reference, the fail-closed rule and the engine
//! claims, each as a table.

use super::*;

fn container(name: Option<&str>) -> Container {
    Container {
        id: "c".into(),
        names: vec![],
        image_id: "ab".repeat(32),
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
