//! From stored signature bytes, through the OpenPGP parser (Sequoia, in process), to the
//! requirement's verdict: a `signedBy` with a fixed Ed25519 key (`fuzz/keys/public.b64`) for
//! `example.com/app:1` at a fixed manifest digest. The seeds include signatures that key made
//! (one compressed) and one for another image, so the whole path is reached.
//!
//! Checked: no panic, no unbounded memory or time (libFuzzer's limits), and the same bytes give
//! the same verdict twice.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oci_signature_hook::policy::Policy;
use oci_signature_hook::reference::Reference;
use oci_signature_hook::signature;
use oci_signature_hook::verify::{self, sequoia::Sequoia, Subject};

const DIGEST: &str = "sha256:93850b707585e404e4951a3ddc1f05a34b3d4f5fc081d616f46d8a2e8f1c8e68";

fn policy() -> &'static (Policy, Reference) {
    static P: OnceLock<(Policy, Reference)> = OnceLock::new();
    P.get_or_init(|| {
        let key = include_str!("../keys/public.b64").trim();
        let json = format!(
            r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyData":"{key}"}}]}}"#
        );
        let policy = Policy::from_bytes(json.as_bytes()).expect("the fuzz policy parses");
        let reference = Reference::parse_normalized("example.com/app:1")
            .expect("a reference")
            .for_policy();
        (policy, reference)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(sig) = signature::from_blob(data) else {
        return;
    };
    let (policy, reference) = policy();
    let signatures = [sig];
    let subject = Subject {
        reference: Some(reference),
        manifest_digest: DIGEST,
        signatures: &signatures,
    };
    let first = verify::evaluate(&policy.default, Some(subject), &Sequoia).map(|_| ());
    let again = verify::evaluate(&policy.default, Some(subject), &Sequoia).map(|_| ());
    assert_eq!(first, again, "one input, two verdicts");
});
