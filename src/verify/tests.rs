//! Requirement evaluation with the fake OpenPGP implementation of `crate::testing`: order,
//! summaries, and the checks after cryptography (payload, manifest digest, identity).
//! Ref: containers/image `signature/policy_eval.go`, `policy_eval_signedby.go`.

use super::*;
use crate::policy::Policy;
use crate::testing::{sig, signed_by, Fake};

impl Verified {
    /// A verification by the fake OpenPGP implementation of `crate::testing`, which cannot make
    /// one itself: only this module and its children can.
    pub(crate) fn fake(payload: Vec<u8>, signer: String, expires: Option<SystemTime>) -> Verified {
        Verified {
            payload,
            signer,
            expires,
            _proof: SignatureVerified(()),
        }
    }
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn reqs(json: &str) -> Vec<Requirement> {
    Policy::from_bytes(format!(r#"{{"default":{json}}}"#).as_bytes())
        .unwrap()
        .default
}

fn eval(json: &str, sigs: &[Signature]) -> Result<(), String> {
    let r = Reference::parse_normalized("example.com/app:1").unwrap();
    let subject = Subject {
        reference: Some(&r),
        manifest_digest: DIGEST,
        signatures: sigs,
    };
    let reqs = reqs(json);
    evaluate(&reqs, Some(subject), &Fake)
        .map(|_| ())
        .map_err(|f| f.error.to_string())
}

#[test]
fn one_accepted_signature_suffices() {
    let good = sig("a", DIGEST, "example.com/app:1");
    assert_eq!(
        eval(
            &signed_by("a"),
            &[sig("b", DIGEST, "example.com/app:1"), good.clone()]
        ),
        Ok(())
    );
    assert_eq!(eval(&signed_by("a"), &[good]), Ok(()));
}

#[test]
fn a_pass_lasts_until_the_earliest_expiry_it_rests_on() {
    let r = Reference::parse_normalized("example.com/app:1").unwrap();
    let at = |n: u64| Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(n));
    let run = |json: &str, sigs: &[Signature]| {
        let reqs = reqs(json);
        let subject = Subject {
            reference: Some(&r),
            manifest_digest: DIGEST,
            signatures: sigs,
        };
        evaluate(&reqs, Some(subject), &Fake)
            .map(|p| p.expires())
            .map_err(|f| f.error.to_string())
    };
    let id = "example.com/app:1";
    let both = format!(
        r#"[{{"type":"insecureAcceptAnything"}},{},{}]"#,
        &signed_by("a@100")[1..signed_by("a@100").len() - 1],
        &signed_by("b@50")[1..signed_by("b@50").len() - 1]
    );
    let sigs = [sig("a@100", DIGEST, id), sig("b@50", DIGEST, id)];
    assert_eq!(run(&both, &sigs), Ok(at(50)));
    assert_eq!(run(&signed_by("a@100"), &sigs), Ok(at(100)));
    assert_eq!(run(&signed_by("c"), &[sig("c", DIGEST, id)]), Ok(None));
    assert_eq!(run(r#"[{"type":"insecureAcceptAnything"}]"#, &[]), Ok(None));
}

#[test]
fn checks_run_in_order_crypto_digest_identity() {
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let e = eval(&signed_by("a"), &[sig("b", other, "x.com/y:1")]).unwrap_err();
    assert!(e.contains("no public key b"), "{e}");
    let e = eval(&signed_by("a"), &[sig("a", other, "x.com/y:1")]).unwrap_err();
    assert!(e.contains(&format!("is for manifest {other}")), "{e}");
    let e = eval(&signed_by("a"), &[sig("a", DIGEST, "example.com/app:2")]).unwrap_err();
    assert!(e.contains("example.com/app:2\" is not accepted"), "{e}");
    let bad_payload = Signature::SimpleSigning(b"SIG:a:This is not JSON".to_vec());
    assert!(eval(&signed_by("a"), &[bad_payload])
        .unwrap_err()
        .contains("invalid signature payload"));
}

#[test]
fn several_rejections_are_summarized() {
    let e = eval(
        &signed_by("a"),
        &[
            sig("b", DIGEST, "example.com/app:1"),
            sig("c", DIGEST, "example.com/app:1"),
        ],
    )
    .unwrap_err();
    assert!(
        e.starts_with("none of the 2 signatures was accepted: no public key b; no public key c"),
        "{e}"
    );
}

#[test]
fn no_signature_or_only_sigstore_ones_deny() {
    assert!(eval(&signed_by("a"), &[])
        .unwrap_err()
        .contains("no signature exists"));
    let sigstore = Signature::Sigstore(b"{}".to_vec());
    assert!(eval(&signed_by("a"), &[sigstore])
        .unwrap_err()
        .contains("no signature exists"));
}

#[test]
fn key_sources_that_yield_no_keys_deny() {
    let good = [sig("a", DIGEST, "example.com/app:1")];
    let e = eval(
        r#"[{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}]"#,
        &good,
    )
    .unwrap_err();
    assert!(e.contains("no public keys imported"), "{e}");
    let e = eval(
        r#"[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/key.gpg"}]"#,
        &good,
    )
    .unwrap_err();
    assert!(
        e.contains("key file \"/nonexistent/key.gpg\" does not exist"),
        "{e}"
    );
    let e = eval(
        r#"[{"type":"signedBy","keyType":"X509Certificates","keyPath":"/k"}]"#,
        &good,
    )
    .unwrap_err();
    assert!(e.contains("not implemented"), "{e}");
    // With no signature at all, a broken key source is never read (as upstream).
    let e = eval(
        r#"[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/key.gpg"}]"#,
        &[],
    )
    .unwrap_err();
    assert!(e.contains("no signature exists"), "{e}");
}

#[test]
fn every_requirement_must_pass_and_the_first_failure_stops() {
    let good = [sig("a", DIGEST, "example.com/app:1")];
    let both = format!(
        r#"[{},{}]"#,
        &signed_by("a")[1..signed_by("a").len() - 1],
        r#"{"type":"reject"}"#
    );
    assert!(eval(&both, &good).unwrap_err().contains("rejects"));
    let reqs =
        reqs(r#"[{"type":"reject"},{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]"#);
    let failed = evaluate(&reqs, None, &Fake).unwrap_err();
    assert_eq!(failed.requirement, "reject");
    assert_eq!(
        eval(
            r#"[{"type":"insecureAcceptAnything"},{"type":"insecureAcceptAnything"}]"#,
            &[]
        ),
        Ok(())
    );
    assert!(eval(r#"[{"type":"sigstoreSigned","keyPath":"/k"}]"#, &good)
        .unwrap_err()
        .contains("no sigstore signature exists"));
    assert!(eval(
        r#"[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchExact"}}]"#,
        &good
    )
    .is_err());
}

#[test]
fn the_image_is_read_only_when_a_signed_by_is_reached() {
    assert!(!needs_image(&reqs(
        r#"[{"type":"insecureAcceptAnything"}]"#
    )));
    assert!(!needs_image(&reqs(
        r#"[{"type":"reject"},{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]"#
    )));
    assert!(needs_image(&reqs(
        r#"[{"type":"insecureAcceptAnything"},{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]"#
    )));
    let reqs = reqs(r#"[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]"#);
    assert!(
        evaluate(&reqs, None, &Fake).is_err(),
        "a signedBy without the image never allows"
    );
}

#[test]
fn the_bounded_buffer_takes_up_to_its_limit() {
    let mut b = BoundedBuffer::new(8);
    b.write_all(b"1234").unwrap();
    b.write_all(b"5678").unwrap();
    assert!(!b.exceeded());
    assert_eq!(b.into_inner(), Ok(b"12345678".to_vec()));
    // Empty writes never exceed it.
    let mut b = BoundedBuffer::new(0);
    b.write_all(b"").unwrap();
    assert_eq!(b.into_inner(), Ok(Vec::new()));
}

#[test]
fn the_bounded_buffer_refuses_past_its_limit_and_drops_what_it_held() {
    let mut b = BoundedBuffer::new(8);
    b.write_all(b"12345").unwrap();
    let err = b.write(b"6789").unwrap_err();
    assert!(err.to_string().contains("larger than 8 bytes"), "{err}");
    assert!(b.exceeded());
    assert_eq!(b.buf.capacity(), 0, "the plaintext is not held");
    // Once refused, always refused, even a write that would have fit.
    assert!(b.write(b"1").is_err());
    assert_eq!(
        b.into_inner(),
        Err("signature payload is larger than 8 bytes".to_string())
    );
    // A copy loop stops at the first refusal, without reading the rest.
    let mut source = std::io::Read::chain(&[0u8; 100][..], std::io::repeat(0));
    let mut b = BoundedBuffer::new(MAX_PAYLOAD_BYTES);
    assert!(std::io::copy(&mut source, &mut b).is_err());
    assert_eq!(
        b.into_inner(),
        Err("signature payload is larger than 4194304 bytes".to_string())
    );
}

/// Counts keyrings opened and signatures verified.
struct Counting(std::cell::Cell<usize>);

impl Verifier for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn open(&self, blobs: &[Vec<u8>]) -> Result<Box<dyn Keyring>, String> {
        self.0.set(self.0.get() + 1);
        Fake.open(blobs)
    }
}

#[test]
fn more_signatures_than_examined_deny_before_any_is_verified() {
    let r = Reference::parse_normalized("example.com/app:1").unwrap();
    let good = sig("a", DIGEST, "example.com/app:1");
    let run = |sigs: &[Signature]| {
        let counting = Counting(std::cell::Cell::new(0));
        let result = evaluate(
            &reqs(&signed_by("a")),
            Some(Subject {
                reference: Some(&r),
                manifest_digest: DIGEST,
                signatures: sigs,
            }),
            &counting,
        )
        .map(|_| ())
        .map_err(|f| f.to_string());
        (result, counting.0.get())
    };
    // At the bound, every signature is examined: the last one is accepted.
    let mut sigs = vec![sig("b", DIGEST, "example.com/app:1"); MAX_SIGNATURES - 1];
    sigs.push(good.clone());
    assert_eq!(run(&sigs), (Ok(()), 1));
    // One more, and none is: not even a keyring is made.
    sigs.insert(0, sig("b", DIGEST, "example.com/app:1"));
    assert_eq!(
        run(&sigs),
        (
            Err(format!(
                "signedBy: the image has {} signatures, more than the 64 that are examined",
                MAX_SIGNATURES + 1
            )),
            0
        )
    );
    // sigstore signatures are not examined by signedBy, and do not count.
    let mut sigs = vec![Signature::Sigstore(b"{}".to_vec()); 2 * MAX_SIGNATURES];
    sigs.push(good);
    assert_eq!(run(&sigs), (Ok(()), 1));
}
