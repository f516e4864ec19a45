//! Rekor signed entry timestamps (SETs): the proof, signed by a Rekor log's key, that a
//! signature was logged. containers/image checks a SET offline, with no inclusion proof: the
//! SET's signature by one of the policy's Rekor keys over the RFC 8785 form of its payload, and
//! that the logged `hashedrekord` 0.0.1 entry names this very key or certificate, signature and
//! payload.
//!
//! Ref: containers/image `signature/internal/rekor_set.go` (`VerifyRekorSET`); the entry is
//! decoded leniently, as Go's `encoding/json` decodes Rekor's generated models.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::keys::PublicKey;
use super::{jcs, pem};
use crate::json::{go_bytes, go_fold, go_string, Object, Value, GO_BASE64};

/// Verifies the SET `set_json` for the signature `base64_signature` of `payload`, made by the key
/// or certificate `key_or_cert_pem` (one PEM block, nothing after it). Returns the SET's
/// `integratedTime` (seconds since the epoch).
///
/// Errors name the first check that failed, in containers/image's words where it has them.
pub fn verify_set(
    rekor_keys: &[PublicKey],
    set_json: &[u8],
    key_or_cert_pem: &[u8],
    base64_signature: &str,
    payload: &[u8],
) -> Result<i64, String> {
    let set = Value::parse(set_json)?;
    let set = Object::strict(&set, &["SignedEntryTimestamp", "Payload"])?;
    let timestamp =
        go_bytes(set.require("SignedEntryTimestamp")?, "SignedEntryTimestamp")?.unwrap_or_default();
    let canonical = jcs::canonicalize(set.require("Payload")?)
        .map_err(|e| format!("canonicalizing Rekor SET JSON: {e}"))?;
    let signed_by_rekor = rekor_keys
        .iter()
        .any(|k| k.verify_ecdsa_asn1(&Sha256::digest(canonical.as_bytes()), &timestamp));
    if !signed_by_rekor {
        return Err("cryptographic signature verification of Rekor SET failed".into());
    }

    let (body, integrated_time) =
        rekor_payload(&canonical).map_err(|e| format!("parsing Rekor SET payload: {e}"))?;

    let spec = hashedrekord_spec(&body)
        .map_err(|e| format!("decoding the body of a Rekor SET payload: {e}"))?;
    let signature =
        lookup(&spec, "signature").ok_or(r#"Missing "signature" field in hashedrekord"#)?;
    let public_key = lookup(signature, "publicKey")
        .ok_or(r#"Missing "signature.publicKey" field in hashedrekord"#)?;
    let logged_pem = base64_member(public_key, "content")?;
    let (logged, rest) =
        pem::decode(&logged_pem).ok_or("publicKey in Rekor SET is not in PEM format")?;
    if !rest.is_empty() {
        return Err("publicKey in Rekor SET has trailing data".into());
    }
    let (ours, rest) = pem::decode(key_or_cert_pem).ok_or(
        "public key or cert to be matched against publicKey in Rekor SET is not in PEM format",
    )?;
    if !rest.is_empty() {
        return Err(
            "public key or cert to be matched against publicKey in Rekor SET has trailing data"
                .into(),
        );
    }
    if logged.bytes != ours.bytes {
        return Err("publicKey in Rekor SET does not match".into());
    }
    let signature_bytes = decode_std_base64(base64_signature)
        .map_err(|e| format!("decoding signature base64: {e}"))?;
    if base64_member(signature, "content")? != signature_bytes {
        return Err("signature in Rekor SET does not match".into());
    }
    let data = lookup(&spec, "data").ok_or(r#"Missing "data" field in hashedrekord"#)?;
    let hash = lookup(data, "hash").ok_or(r#"Missing "data.hash" field in hashedrekord"#)?;
    let algorithm = string_member(hash, "algorithm")?
        .ok_or(r#"Missing "data.hash.algorithm" field in hashedrekord"#)?;
    if algorithm != "sha256" {
        return Err(format!(
            r#"Unexpected "data.hash.algorithm" value {algorithm:?}"#
        ));
    }
    let value = string_member(hash, "value")?
        .ok_or(r#"Missing "data.hash.value" field in hashedrekord"#)?;
    let logged_hash = decode_hex(&value)
        .ok_or_else(|| format!(r#"Invalid "data.hash.value" field in hashedrekord: {value:?}"#))?;
    if logged_hash != Sha256::digest(payload).as_slice() {
        return Err("payload in Rekor SET does not match".into());
    }
    Ok(integrated_time)
}

/// The signed payload's `body` and `integratedTime`: exactly the four members, each present
/// and of its type (containers/image's `UntrustedRekorPayload`).
fn rekor_payload(canonical: &str) -> Result<(Vec<u8>, i64), String> {
    let entry = Value::parse(canonical.as_bytes())?;
    let entry = Object::strict(&entry, &["body", "integratedTime", "logIndex", "logID"])?;
    let body = go_bytes(entry.require("body")?, "body")?.unwrap_or_default();
    let integrated_time = go_int64(entry.require("integratedTime")?, "integratedTime")?;
    go_int64(entry.require("logIndex")?, "logIndex")?;
    go_string(entry.require("logID")?, "logID")?;
    Ok((body, integrated_time))
}

/// The `spec` of a `hashedrekord` entry with `apiVersion` `0.0.1`. The entry is decoded as Rekor's
/// Go models are: member names without regard to case, the last of equal names winning, unknown
/// members ignored; the spec then goes through a generic map and back, so inside it the member
/// whose name sorts last among equal ones wins ([`lookup`]).
fn hashedrekord_spec(body: &[u8]) -> Result<Value, String> {
    let v = Value::parse(body)?;
    let Value::Object(members) = &v else {
        return Err(format!("cannot unmarshal {} into a hashedrekord", v.kind()));
    };
    let mut api_version = None;
    let mut spec = Value::Null;
    let mut kind = String::new();
    for (name, value) in members {
        match go_fold(name).as_str() {
            "apiversion" => {
                api_version = match value {
                    Value::Null => None,
                    v => Some(go_string(v, "apiVersion")?),
                }
            }
            "spec" => spec = value.clone(),
            "kind" if !matches!(value, Value::Null) => kind = go_string(value, "kind")?,
            _ => {}
        }
    }
    if kind != "hashedrekord" {
        return Err(format!("invalid kind value: {kind:?}"));
    }
    let api_version = api_version.ok_or("missing Rekor SET Payload API version")?;
    if api_version != "0.0.1" {
        return Err(format!(
            "unsupported Rekor SET Payload hashedrekord version {api_version:?}"
        ));
    }
    match spec {
        Value::Object(_) | Value::Null => Ok(spec),
        other => Err(format!(
            "cannot unmarshal {} into the hashedrekord spec",
            other.kind()
        )),
    }
}

/// The member `name` of an object inside a hashedrekord spec (`None` for a missing member, a
/// `null`, or a spec that is not an object): of the members whose names equal `name` without
/// regard to case, the last by name (a Go map re-encoded sorts its keys), and of members with
/// the very same name, the last written.
fn lookup<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let Value::Object(members) = v else {
        return None;
    };
    let want = go_fold(name);
    members
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| go_fold(k) == want)
        .max_by(|(i, (a, _)), (j, (b, _))| a.cmp(b).then(i.cmp(j)))
        .map(|(_, (_, v))| v)
        .filter(|v| !matches!(v, Value::Null))
}

/// A `strfmt.Base64` member: a standard-base64 string (`null` or missing: empty).
fn base64_member(v: &Value, name: &str) -> Result<Vec<u8>, String> {
    match lookup(v, name) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => decode_std_base64(s).map_err(|e| format!("{name}: {e}")),
        Some(other) => Err(format!(
            "{name}: cannot use {} as base64 data",
            other.kind()
        )),
    }
}

/// A `*string` member: `None` when missing or `null`.
fn string_member(v: &Value, name: &str) -> Result<Option<String>, String> {
    lookup(v, name).map(|s| go_string(s, name)).transpose()
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, CR and LF skipped.
pub fn decode_std_base64(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: Vec<u8> = s.bytes().filter(|c| *c != b'\r' && *c != b'\n').collect();
    GO_BASE64
        .decode(cleaned)
        .map_err(|e| format!("illegal base64 data: {e}"))
}

/// Go's `hex.DecodeString`: an even number of hex digits, either case.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

/// Go's `json.Unmarshal` into an `int64`: an integer literal in range; `null` leaves 0.
fn go_int64(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("{what}: cannot unmarshal number {n} into an int64")),
        other => Err(format!("{what}: cannot use {} as a number", other.kind())),
    }
}

#[cfg(test)]
mod tests;
