//! ECDSA verification on the NIST curves Go supports (P-224, P-256, P-384, P-521), over a
//! digest the caller computed, as Go's `crypto/ecdsa` `Verify` does: a digest longer than the
//! curve's order is truncated to its bit length, any `s` in range verifies (no low-S rule).
//! The arithmetic is RustCrypto's (`p224`, `p256`, `p384`, `p521`).

use super::keys::Curve;

/// Whether `(r, s)` (big-endian, any leading zeros) is a valid signature of `digest` by the
/// uncompressed point `point` on `curve`.
pub fn verify(curve: Curve, point: &[u8], digest: &[u8], r: &[u8], s: &[u8]) -> bool {
    macro_rules! with {
        ($c:ident) => {{
            use $c::ecdsa::signature::hazmat::PrehashVerifier;
            let size = curve.size();
            let (Some(r), Some(s)) = (fixed(r, size), fixed(s, size)) else {
                return false;
            };
            let Ok(sig) = $c::ecdsa::Signature::from_scalars(
                $c::FieldBytes::clone_from_slice(&r),
                $c::FieldBytes::clone_from_slice(&s),
            ) else {
                return false;
            };
            // A digest shorter than the order is its number as is (RustCrypto refuses one
            // shorter than half the field, e.g. SHA-256 on P-521, so it is padded here).
            let Some(digest) = fixed_or_longer(digest, size) else {
                return false;
            };
            $c::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .and_then(|k| k.verify_prehash(&digest, &sig))
                .is_ok()
        }};
    }
    match curve {
        Curve::P224 => with!(p224),
        Curve::P256 => with!(p256),
        Curve::P384 => with!(p384),
        Curve::P521 => with!(p521),
    }
}

/// Whether `point` is a valid uncompressed point on `curve` (Go refuses any other key when it
/// parses one).
pub fn valid_point(curve: Curve, point: &[u8]) -> bool {
    if point.len() != 1 + 2 * curve.size() || point.first() != Some(&4) {
        return false;
    }
    match curve {
        Curve::P224 => p224::ecdsa::VerifyingKey::from_sec1_bytes(point).is_ok(),
        Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point).is_ok(),
        Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point).is_ok(),
        Curve::P521 => p521::ecdsa::VerifyingKey::from_sec1_bytes(point).is_ok(),
    }
}

/// A digest left-padded with zeros to at least `size` bytes (the same number); a longer one is
/// kept whole (the curve's verifier takes its leftmost bytes, as Go does). `None` for no digest.
fn fixed_or_longer(digest: &[u8], size: usize) -> Option<Vec<u8>> {
    if digest.is_empty() {
        return None;
    }
    let mut v = vec![0; size.saturating_sub(digest.len())];
    v.extend_from_slice(digest);
    Some(v)
}

/// `x` left-padded to `size` bytes, or `None` if it is longer (then it is out of range).
fn fixed(x: &[u8], size: usize) -> Option<Vec<u8>> {
    let x = super::keys::strip_zeros(x);
    (x.len() <= size).then(|| {
        let mut v = vec![0; size - x.len()];
        v.extend_from_slice(x);
        v
    })
}

/// `r` and `s` of a strict DER `SEQUENCE { INTEGER r, INTEGER s }` with nothing after it (Go's
/// `ecdsa.VerifyASN1` parsing): minimal lengths, minimal and positive integers.
pub fn parse_der(sig: &[u8]) -> Option<(&[u8], &[u8])> {
    let (body, rest) = super::keys::der_element(sig, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, body) = super::keys::der_element(body, 0x02)?;
    let (s, body) = super::keys::der_element(body, 0x02)?;
    (body.is_empty() && positive_minimal(r) && positive_minimal(s)).then_some((r, s))
}

fn positive_minimal(int: &[u8]) -> bool {
    match int {
        [] => false,
        [first, ..] if first & 0x80 != 0 => false,
        [0, second, ..] if second & 0x80 == 0 => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sha2::{Digest, Sha256, Sha512};

    /// A deterministic "random" source for signing in tests.
    struct Counter(u64);

    impl p256::ecdsa::signature::rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = (self.next_u64() >> 56) as u8;
            }
        }
        fn try_fill_bytes(
            &mut self,
            dest: &mut [u8],
        ) -> Result<(), p256::ecdsa::signature::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl p256::ecdsa::signature::rand_core::CryptoRng for Counter {}

    /// On each curve: a signature verifies over SHA-256 and over SHA-512 (truncated or padded to
    /// the order, as Go does), also with `s` replaced by `n - s` (Go has no low-S rule); another
    /// digest, another key or a zero `r` does not.
    #[test]
    fn verifies_on_every_curve_as_go() {
        macro_rules! check {
            ($c:ident, $curve:expr) => {{
                use $c::ecdsa::signature::hazmat::RandomizedPrehashSigner;
                let curve: Curve = $curve;
                let mut bytes = vec![7u8; curve.size()];
                bytes[0] = 0;
                let secret = $c::ecdsa::SigningKey::from_slice(&bytes).unwrap();
                use $c::elliptic_curve::sec1::ToEncodedPoint;
                let point = $c::PublicKey::from_secret_scalar(secret.as_nonzero_scalar())
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                assert!(valid_point(curve, &point));
                let mut bad_point = point.clone();
                *bad_point.last_mut().unwrap() ^= 1;
                assert!(!valid_point(curve, &bad_point));
                for digest in [
                    Sha256::digest(b"payload").to_vec(),
                    Sha512::digest(b"payload").to_vec(),
                ] {
                    let padded = fixed_or_longer(&digest, curve.size()).unwrap();
                    let sig: $c::ecdsa::Signature = secret
                        .sign_prehash_with_rng(&mut Counter(1), &padded)
                        .unwrap();
                    let (r, s) = sig.split_bytes();
                    assert!(verify(curve, &point, &digest, &r, &s), "{curve:?}");
                    let der = sig.to_der();
                    let (dr, ds) = parse_der(der.as_bytes()).unwrap();
                    assert!(verify(curve, &point, &digest, dr, ds));
                    // n - s
                    let high: $c::Scalar = -*sig.s();
                    assert!(
                        verify(curve, &point, &digest, &r, &high.to_bytes()),
                        "{curve:?} high S"
                    );
                    assert!(!verify(curve, &point, &Sha256::digest(b"other"), &r, &s));
                    assert!(!verify(curve, &bad_point, &digest, &r, &s));
                    assert!(!verify(curve, &point, &digest, &[0], &s));
                }
            }};
        }
        check!(p224, Curve::P224);
        check!(p256, Curve::P256);
        check!(p384, Curve::P384);
        check!(p521, Curve::P521);
    }

    #[test]
    fn der_is_strict() {
        // SEQUENCE { INTEGER 1, INTEGER 2 }
        assert!(parse_der(&[0x30, 6, 2, 1, 1, 2, 1, 2]).is_some());
        // Trailing bytes, a non-minimal integer, a negative one, an empty one.
        assert!(parse_der(&[0x30, 6, 2, 1, 1, 2, 1, 2, 0]).is_none());
        assert!(parse_der(&[0x30, 7, 2, 2, 0, 1, 2, 1, 2]).is_none());
        assert!(parse_der(&[0x30, 6, 2, 1, 0x81, 2, 1, 2]).is_none());
        assert!(parse_der(&[0x30, 5, 2, 0, 2, 1, 2]).is_none());
        assert!(parse_der(&[0x31, 6, 2, 1, 1, 2, 1, 2]).is_none());
    }
}
