//! The OCI state a runtime writes on the hook's stdin.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use oci_signature_hook::state;

/// Hands out its bytes a few at a time, as a pipe may.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = state::read(data);
    if let Ok(s) = &whole {
        assert!(!s.id.is_empty(), "accepted a state without an id");
        assert!(
            !s.bundle.as_os_str().is_empty(),
            "accepted a state without a bundle"
        );
        assert!(data.len() as u64 <= state::MAX_STATE_BYTES);
    }
    // The same bytes read in small pieces give the same answer.
    let step = 1 + data.first().map_or(0, |&b| usize::from(b % 7));
    let pieces = state::read(Trickle { data, step });
    assert_eq!(
        whole, pieces,
        "reading in pieces of {step} changed the result"
    );
});
