//! Docker references: parsing, normalization, default tags and policy namespaces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_signature_hook::reference::{docker_namespaces, validate_digest, Reference};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    let canonical = Reference::parse_canonical(s);
    let normalized = Reference::parse_normalized(s);
    if let Ok(c) = &canonical {
        // Canonical input is a normalized reference that prints as itself.
        assert_eq!(normalized.as_ref(), Ok(c));
        assert_eq!(c.to_string(), s);
    }
    let Ok(r) = normalized else {
        return;
    };

    // Printing and parsing again gives the same reference, which is then canonical.
    let printed = r.to_string();
    let again = Reference::parse_normalized(&printed)
        .unwrap_or_else(|e| panic!("{s:?} parsed, its form {printed:?} does not: {e}"));
    assert_eq!(again, r, "{s:?} -> {printed:?}");
    assert_eq!(Reference::parse_canonical(&printed).as_ref(), Ok(&r));
    assert_eq!(canonical.is_ok(), printed == s);

    // Parts: the name is what precedes the tag and digest; a digest is a valid one.
    let name = r.name();
    assert!(printed.starts_with(&name));
    assert!(name.len() <= 255, "name of {} bytes", name.len());
    if let Some(d) = r.digest() {
        assert!(validate_digest(d).is_ok(), "invalid digest {d:?} kept");
        assert!(printed.ends_with(&format!("@{d}")));
    }
    if let Some(t) = r.tag() {
        assert!(!t.is_empty() && t.len() <= 128, "tag {t:?}");
    }
    assert_eq!(r.is_name_only(), r.tag().is_none() && r.digest().is_none());

    // `with_default_tag` adds `latest` to a bare name only.
    let tagged = r.clone().with_default_tag();
    if r.is_name_only() {
        assert_eq!(tagged.tag(), Some("latest"));
        assert_eq!(tagged.name(), name);
        assert_eq!(tagged.digest(), None);
        let t = tagged.to_string();
        assert_eq!(
            Reference::parse_normalized(&t).as_ref(),
            Ok(&tagged),
            "{t:?}"
        );
    } else {
        assert_eq!(tagged, r);
    }

    // Namespaces: the repository first, then its parents, then `*.` wildcards; all distinct.
    let ns = docker_namespaces(&r);
    assert_eq!(ns.first(), Some(&name));
    for (i, n) in ns.iter().enumerate() {
        assert!(!n.is_empty(), "empty namespace for {printed:?}");
        assert!(
            n.starts_with("*.") || name.starts_with(n.as_str()),
            "namespace {n:?} of {printed:?}"
        );
        assert!(
            !ns[..i].contains(n),
            "namespace {n:?} twice for {printed:?}"
        );
    }
    assert_eq!(docker_namespaces(&tagged), ns);
});
