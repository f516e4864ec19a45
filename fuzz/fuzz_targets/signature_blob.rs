//! Stored signatures: cutting a blob by recorded sizes, format detection, and the simple-signing
//! payload parser.
//!
//! The whole input is parsed as a payload and detected as one signature. For the split, the first
//! byte is a header (bits 0-2: how many sizes; bit 3: the last size takes whatever is left; bit 4:
//! one size is enormous), then two bytes (little-endian) per size, then the blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_signature_hook::signature::{self, BlobError, Signature};

fuzz_target!(|data: &[u8]| {
    detect(data);
    payload(data);

    let Some((&header, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(header & 7);
    if rest.len() < 2 * count {
        return;
    }
    let (size_bytes, blob) = rest.split_at(2 * count);
    let mut sizes: Vec<usize> = size_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    if header & 8 != 0 {
        if let Some((last, before)) = sizes.split_last_mut() {
            let used: usize = before.iter().sum();
            *last = blob.len().saturating_sub(used);
        }
    }
    if header & 16 != 0 {
        if let Some(first) = sizes.first_mut() {
            *first = usize::MAX - *first;
        }
    }
    split(blob, &sizes);
});

fn split(blob: &[u8], sizes: &[usize]) {
    match signature::split(blob, sizes) {
        Ok(sigs) => {
            assert_eq!(sigs.len(), sizes.len());
            let mut at = 0;
            for (sig, &n) in sigs.iter().zip(sizes) {
                let part = &blob[at..at + n];
                assert_eq!(signature::from_blob(part).as_ref(), Ok(sig));
                at += n;
            }
            assert_eq!(at, blob.len(), "split left bytes over");
        }
        Err(BlobError::Short { needed, found }) => {
            assert_eq!(found, blob.len());
            assert!(needed > found);
        }
        Err(BlobError::Extra(n)) => {
            let total: usize = sizes.iter().sum();
            assert_eq!(n, blob.len() - total);
            assert!(n > 0);
        }
        Err(BlobError::Format { index, .. }) => {
            assert!(index < sizes.len());
            let at: usize = sizes[..index].iter().sum();
            let part = &blob[at..at + sizes[index]];
            assert!(signature::from_blob(part).is_err());
        }
    }
}

fn detect(b: &[u8]) {
    match signature::from_blob(b) {
        Ok(Signature::SimpleSigning(p)) => {
            if b.first() == Some(&0) {
                assert!(b.starts_with(b"\0simple-signing\n"));
                assert_eq!(&b[16..], p.as_slice());
            } else {
                assert_eq!(b, p.as_slice());
            }
        }
        Ok(Signature::Sigstore(p)) => {
            assert!(b.starts_with(b"\0sigstore-json\n"));
            assert_eq!(&b[15..], p.as_slice());
        }
        Err(_) => {}
    }
}

fn payload(b: &[u8]) {
    let Ok(p) = signature::parse_payload(b) else {
        return;
    };
    // Whatever is accepted is a JSON object holding the two claims, once each byte that is not
    // UTF-8 reads as U+FFFD (as Go's decoder reads it).
    let v: serde_json::Value = serde_json::from_str(&per_byte_lossy(b))
        .unwrap_or_else(|e| panic!("accepted a payload that is not JSON: {e}"));
    let critical = &v["critical"];
    assert_eq!(
        critical["type"].as_str(),
        Some("atomic container signature")
    );
    let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    assert_eq!(
        text(&critical["image"]["docker-manifest-digest"]),
        p.manifest_digest
    );
    assert_eq!(
        text(&critical["identity"]["docker-reference"]),
        p.docker_reference
    );
    assert!(v["optional"].is_object());
}

/// U+FFFD for each byte that is not part of valid UTF-8.
fn per_byte_lossy(mut b: &[u8]) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).expect("valid up to here"));
                out.push(char::REPLACEMENT_CHARACTER);
                b = &rest[1..];
            }
        }
    }
}
