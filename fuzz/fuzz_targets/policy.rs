//! containers-policy.json: the strict parser, then scope selection for a few references.
//!
//! Input: the policy document, optionally followed by a NUL byte and newline-separated
//! references to look up. The policy's own docker scopes and a few fixed names are looked up too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_signature_hook::policy::{IdentityRule, Policy, Requirement, Scope};
use oci_signature_hook::reference::{docker_namespaces, Reference};

const FIXED: &[&str] = &[
    "busybox",
    "example.com/ns/app:v1",
    "registry.example.com:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

fuzz_target!(|data: &[u8]| {
    let (doc, refs) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(policy) = Policy::from_bytes(doc) else {
        return;
    };
    // Parsing is deterministic.
    assert_eq!(Policy::from_bytes(doc).as_ref(), Ok(&policy));
    // Every requirement list is non-empty (an empty one is a parse error).
    assert!(!policy.default.is_empty(), "empty default accepted");
    for (t, scopes) in &policy.transports {
        for (s, reqs) in scopes {
            assert!(!reqs.is_empty(), "empty list accepted for {t} {s:?}");
        }
    }

    let mut names: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    for (t, scopes) in &policy.transports {
        if t == "docker" {
            names.extend(scopes.iter().map(|(s, _)| s.clone()));
        }
    }
    names.extend(
        String::from_utf8_lossy(refs)
            .lines()
            .take(16)
            .map(str::to_string),
    );

    let accepts_anything = policy.accepts_anything();
    check(&policy, None, accepts_anything);
    for n in &names {
        if let Ok(r) = Reference::parse_normalized(n) {
            check(&policy, Some(&r), accepts_anything);
            let tagged = r.with_default_tag();
            check(&policy, Some(&tagged), accepts_anything);
        }
    }
});

/// `requirements_for` returns the list of the scope it names, and the scope is one of the
/// candidates for the reference.
fn check(policy: &Policy, r: Option<&Reference>, accepts_anything: bool) {
    let (reqs, scope) = policy.requirements_for(r);
    assert!(!reqs.is_empty());
    match &scope {
        Scope::Default => assert_eq!(reqs, policy.default.as_slice()),
        Scope::Docker(key) => {
            let docker = policy
                .transports
                .iter()
                .find(|(t, _)| t == "docker")
                .expect("a docker scope without a docker transport");
            let listed = docker
                .1
                .iter()
                .find(|(k, _)| k == key)
                .expect("the scope is not in the policy");
            assert_eq!(reqs, listed.1.as_slice());
            if !key.is_empty() {
                let r = r.expect("a named scope for an image without a name");
                let mut candidates = vec![r.to_string()];
                candidates.extend(docker_namespaces(r));
                assert!(
                    candidates.contains(key),
                    "scope {key:?} is not a candidate for {r}"
                );
            }
        }
    }
    let _ = scope.to_string();
    if accepts_anything {
        assert!(
            reqs.iter()
                .all(|q| *q == Requirement::InsecureAcceptAnything),
            "accepts_anything, yet {scope} has another requirement"
        );
    }
    for q in reqs {
        let _ = q.type_name();
        let identity = match q {
            Requirement::SignedBy { identity, .. } => Some(identity),
            Requirement::SigstoreSigned(s) => Some(&s.identity),
            _ => None,
        };
        if let Some(identity) = identity {
            // Identity rules against the image's own name and a few claims.
            if let Some(r) = r {
                let own = r.to_string();
                let verdict = identity.check(Some(r), &own);
                // A signature claiming exactly the image's tagged or digested reference matches
                // under the rules that compare with the image.
                let same = matches!(
                    identity,
                    IdentityRule::MatchExact
                        | IdentityRule::MatchRepoDigestOrExact
                        | IdentityRule::MatchRepository
                );
                if same && !r.is_name_only() {
                    assert!(
                        verdict.is_ok(),
                        "{identity:?} refused {own} for {own}: {verdict:?}"
                    );
                }
                let _ = identity.check(Some(r), &r.name());
                let _ = identity.check(None, &own);
            }
            let _ = identity.check(r, "example.com/other:1");
        }
    }
}
