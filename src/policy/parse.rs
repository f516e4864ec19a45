//! The strict policy parser: every object is checked for unknown and duplicate keys, every list
//! must be non-empty, and any error rejects the whole file, as `NewPolicyFromBytes` does.
//!
//! Ref: containers/image `signature/policy_config.go`, `signature/policy_config_sigstore.go`.

use std::path::PathBuf;

use super::{IdentityRule, KeySource, KeyType, Policy, Requirement, Sigstore, SigstoreTrust};
use crate::json::{go_bytes, go_string, Object, Value};
use crate::manifest::is_lower_hex;
use crate::reference::{validate_digest, Reference};

type Result<T> = std::result::Result<T, String>;

pub(super) fn policy(bytes: &[u8]) -> Result<Policy> {
    let v = Value::parse(bytes)?;
    let top = Object::strict(&v, &["default", "transports"])?;
    // Go decodes "default": null into a nil list, which is then reported as missing... unless the
    // list parser sees it first: `null` reaches `PolicyRequirements.UnmarshalJSON` as an empty list.
    let default = match top.get("default") {
        None => return Err("Default policy is missing".into()),
        Some(v) => requirements(v)?,
    };
    let mut transports = Vec::new();
    if let Some(t) = top.get("transports") {
        for (name, scopes_v) in Object::unique(t)?.members() {
            let mut scopes = Vec::new();
            for (scope, reqs) in Object::unique(scopes_v)?.members() {
                if !scope.is_empty() {
                    validate_scope(name, scope).map_err(|_| format!("Unknown key {scope:?}"))?;
                }
                scopes.push((scope.clone(), requirements(reqs)?));
            }
            transports.push((name.clone(), scopes));
        }
    }
    Ok(Policy {
        default,
        transports,
    })
}

/// A requirement list: a non-empty array (`null` counts as empty).
fn requirements(v: &Value) -> Result<Vec<Requirement>> {
    let items = match v {
        Value::Null => &[][..],
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "cannot use {} as a list of policy requirements",
                other.kind()
            ))
        }
    };
    if items.is_empty() {
        return Err("List of verification policy requirements must not be empty".into());
    }
    items.iter().map(requirement).collect()
}

/// The `type` member as Go's first pass reads it (`null` and a missing key both give "").
fn type_of(v: &Value, what: &str) -> Result<String> {
    match v {
        Value::Object(_) => {}
        Value::Null => return Ok(String::new()),
        other => return Err(format!("cannot use {} as a {what}", other.kind())),
    }
    let Value::Object(members) = v else {
        return Ok(String::new());
    };
    // The last exact "type" wins in Go's first pass; duplicates are rejected in the second.
    match members.iter().rev().find(|(k, _)| k == "type") {
        Some((_, t)) => go_string(t, "type"),
        None => Ok(String::new()),
    }
}

fn requirement(v: &Value) -> Result<Requirement> {
    let t = type_of(v, "policy requirement")?;
    match t.as_str() {
        "insecureAcceptAnything" => {
            Object::strict(v, &["type"])?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            Object::strict(v, &["type"])?;
            Ok(Requirement::Reject)
        }
        "signedBy" => signed_by(v),
        "signedBaseLayer" => {
            let o = Object::strict(v, &["type", "baseLayerIdentity"])?;
            identity(o.require("baseLayerIdentity")?)?;
            Ok(Requirement::SignedBaseLayer)
        }
        "sigstoreSigned" => sigstore_signed(v),
        other => Err(format!("Unknown policy requirement type {other:?}")),
    }
}

fn signed_by(v: &Value) -> Result<Requirement> {
    let o = Object::strict(
        v,
        &[
            "type",
            "keyType",
            "keyPath",
            "keyPaths",
            "keyData",
            "signedIdentity",
        ],
    )?;
    let key_type = match o.get("keyType") {
        None => return Err("invalid keyType \"\"".into()),
        Some(kt) => match go_string(kt, "keyType")?.as_str() {
            "GPGKeys" => KeyType::GpgKeys,
            "signedByGPGKeys" => KeyType::SignedByGpgKeys,
            "X509Certificates" => KeyType::X509Certificates,
            "signedByX509CAs" => KeyType::SignedByX509Cas,
            other => return Err(format!("Unrecognized keyType value {other:?}")),
        },
    };
    let identity = match o.get("signedIdentity") {
        None => IdentityRule::MatchRepoDigestOrExact,
        Some(si) => identity(si)?,
    };
    let present = ["keyPath", "keyPaths", "keyData"]
        .iter()
        .filter(|k| o.get(k).is_some())
        .count();
    let keys = match present {
        0 => return Err(
            "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present"
                .into(),
        ),
        1 => {
            if let Some(p) = o.get("keyPath") {
                Some(go_string(p, "keyPath")?)
                    .filter(|p| !p.is_empty())
                    .map(|p| KeySource::Path(p.into()))
            } else if let Some(ps) = o.get("keyPaths") {
                go_string_list(ps, "keyPaths")?
                    .map(|ps| KeySource::Paths(ps.into_iter().map(PathBuf::from).collect()))
            } else {
                o.get("keyData")
                    .map(|d| go_bytes(d, "keyData"))
                    .transpose()?
                    .flatten()
                    .map(KeySource::Data)
            }
        }
        _ => return Err(
            "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present"
                .into(),
        ),
    };
    let keys =
        keys.ok_or("exactly one of keyPath, keyPaths and keyData must be specified".to_string())?;
    Ok(Requirement::SignedBy {
        key_type,
        keys,
        identity,
    })
}

/// The newest `sigstoreSigned` format (containers/image `signature/policy_config_sigstore.go`):
/// exactly one trust root, at most one Rekor key source, with the `fulcio`/`pki` rules. A path
/// given as `""` counts as absent, data given as `""` as present (it fails later, as upstream).
fn sigstore_signed(v: &Value) -> Result<Requirement> {
    let o = Object::strict(
        v,
        &[
            "type",
            "keyPath",
            "keyPaths",
            "keyData",
            "keyDatas",
            "fulcio",
            "pki",
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
            "signedIdentity",
        ],
    )?;
    let mut roots: Vec<SigstoreTrust> =
        sources(&o, ["keyPath", "keyPaths", "keyData", "keyDatas"])?
            .into_iter()
            .map(SigstoreTrust::PublicKeys)
            .collect();
    // Present, even as null, they must be objects (newest containers/image).
    if let Some(f) = o.get("fulcio") {
        roots.push(fulcio(f)?);
    }
    if let Some(p) = o.get("pki") {
        roots.push(pki(p)?);
    }
    if roots.len() != 1 {
        return Err(
            "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
                .into(),
        );
    }
    let trust = roots.remove(0);
    let mut rekor = sources(
        &o,
        [
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
        ],
    )?;
    if rekor.len() > 1 {
        return Err("at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and rekorPublicKeyDatas can be used".into());
    }
    let rekor = rekor.pop();
    match (&trust, &rekor) {
        (SigstoreTrust::Fulcio { .. }, None) => {
            return Err("Fulcio requires a Rekor public key".into());
        }
        (SigstoreTrust::Pki { .. }, Some(_)) => {
            return Err("rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and rekorPublicKeyDatas are not supported for pki".into());
        }
        _ => {}
    }
    let identity = match o.get("signedIdentity") {
        None => IdentityRule::MatchRepoDigestOrExact,
        Some(si) => identity(si)?,
    };
    Ok(Requirement::SigstoreSigned(Box::new(Sigstore {
        trust,
        rekor,
        identity,
    })))
}

/// The sources that are set among `[path, paths, data, datas]`, in that order: a non-empty
/// path, a non-empty list of paths, data (even `""`), a non-empty list of data. A list given as
/// `[]` or `null` is an error ("contains no entries").
fn sources(o: &Object, [path, paths, data, datas]: [&str; 4]) -> Result<Vec<KeySource>> {
    let mut set = Vec::new();
    if let Some(p) = o.get(path) {
        let p = go_string(p, path)?;
        if !p.is_empty() {
            set.push(KeySource::Path(p.into()));
        }
    }
    if let Some(ps) = o.get(paths) {
        match go_string_list(ps, paths)? {
            Some(l) if !l.is_empty() => {
                set.push(KeySource::Paths(l.into_iter().map(PathBuf::from).collect()))
            }
            _ => return Err(format!("{paths:?} contains no entries")),
        }
    }
    if let Some(d) = o.get(data) {
        if let Some(d) = go_bytes(d, data)? {
            set.push(KeySource::Data(d));
        }
    }
    if let Some(ds) = o.get(datas) {
        match go_bytes_list(ds, datas)? {
            Some(l) if !l.is_empty() => set.push(KeySource::Datas(l)),
            _ => return Err(format!("{datas:?} contains no entries")),
        }
    }
    Ok(set)
}

/// One of a path (non-empty) and data (even `""`), by the names `path` and `data`; `None` if
/// neither is set, an error naming both if both are.
fn path_or_data(o: &Object, path: &str, data: &str) -> Result<Option<KeySource>> {
    let p = o
        .get(path)
        .map(|p| go_string(p, path))
        .transpose()?
        .filter(|p| !p.is_empty());
    let d = o
        .get(data)
        .map(|d| go_bytes(d, data))
        .transpose()?
        .flatten();
    match (p, d) {
        (Some(_), Some(_)) => Err(format!("{path} and {data} cannot be used simultaneously")),
        (Some(p), None) => Ok(Some(KeySource::Path(p.into()))),
        (None, Some(d)) => Ok(Some(KeySource::Data(d))),
        (None, None) => Ok(None),
    }
}

/// A string member; absent and `null` are `""`.
fn string_member(o: &Object, key: &str) -> Result<String> {
    Ok(o.get(key)
        .map(|s| go_string(s, key))
        .transpose()?
        .unwrap_or_default())
}

fn fulcio(v: &Value) -> Result<SigstoreTrust> {
    let o = Object::strict(v, &["caPath", "caData", "oidcIssuer", "subjectEmail"])?;
    let ca = path_or_data(&o, "caPath", "caData")
        .ok()
        .flatten()
        .ok_or("exactly one of caPath and caData must be specified")?;
    let oidc_issuer = string_member(&o, "oidcIssuer")?;
    if oidc_issuer.is_empty() {
        return Err("oidcIssuer not specified".into());
    }
    let subject_email = string_member(&o, "subjectEmail")?;
    if subject_email.is_empty() {
        return Err("subjectEmail not specified".into());
    }
    Ok(SigstoreTrust::Fulcio {
        ca,
        oidc_issuer,
        subject_email,
    })
}

fn pki(v: &Value) -> Result<SigstoreTrust> {
    let o = Object::strict(
        v,
        &[
            "caRootsPath",
            "caRootsData",
            "caIntermediatesPath",
            "caIntermediatesData",
            "subjectEmail",
            "subjectHostname",
        ],
    )?;
    let roots = path_or_data(&o, "caRootsPath", "caRootsData")
        .ok()
        .flatten()
        .ok_or("exactly one of caRootsPath and caRootsData must be specified")?;
    let intermediates = path_or_data(&o, "caIntermediatesPath", "caIntermediatesData")?;
    let subject_email = string_member(&o, "subjectEmail")?;
    let subject_hostname = string_member(&o, "subjectHostname")?;
    if subject_email.is_empty() && subject_hostname.is_empty() {
        return Err("at least one of subjectEmail, subjectHostname must be specified".into());
    }
    Ok(SigstoreTrust::Pki {
        roots,
        intermediates,
        subject_email,
        subject_hostname,
    })
}

/// A `signedIdentity` object: exactly its type's keys, all present.
fn identity(v: &Value) -> Result<IdentityRule> {
    let t = type_of(v, "signedIdentity")?;
    let exact = |keys: &[&str]| -> Result<Object<'_>> {
        let o = Object::strict(v, keys)?;
        for k in keys {
            o.require(k)?;
        }
        Ok(o)
    };
    match t.as_str() {
        "matchExact" => exact(&["type"]).map(|_| IdentityRule::MatchExact),
        "matchRepoDigestOrExact" => exact(&["type"]).map(|_| IdentityRule::MatchRepoDigestOrExact),
        "matchRepository" => exact(&["type"]).map(|_| IdentityRule::MatchRepository),
        "exactReference" => {
            let o = exact(&["type", "dockerReference"])?;
            let s = go_string(o.require("dockerReference")?, "dockerReference")?;
            let r = Reference::parse_normalized(&s)
                .map_err(|e| format!("Invalid format of dockerReference {s}: {e}"))?;
            if r.is_name_only() {
                return Err(format!(
                    "dockerReference {s} contains neither a tag nor digest"
                ));
            }
            Ok(IdentityRule::ExactReference(r))
        }
        "exactRepository" => {
            let o = exact(&["type", "dockerRepository"])?;
            let s = go_string(o.require("dockerRepository")?, "dockerRepository")?;
            let r = Reference::parse_normalized(&s)
                .map_err(|e| format!("Invalid format of dockerRepository {s}: {e}"))?;
            Ok(IdentityRule::ExactRepository(r))
        }
        "remapIdentity" => {
            let o = exact(&["type", "prefix", "signedPrefix"])?;
            let prefix = go_string(o.require("prefix")?, "prefix")?;
            let signed_prefix = go_string(o.require("signedPrefix")?, "signedPrefix")?;
            for p in [&prefix, &signed_prefix] {
                if !is_remap_prefix(p) {
                    return Err(format!("prefix {p:?} is not valid"));
                }
            }
            Ok(IdentityRule::RemapIdentity {
                prefix,
                signed_prefix,
            })
        }
        other => Err(format!("Unknown policy reference match type {other:?}")),
    }
}

/// `validateIdentityRemappingPrefix`: a bare `host[:port]`, or `host/` followed by a name that
/// matches the reference name grammar (no tag or digest). Short names slip through, as upstream.
fn is_remap_prefix(s: &str) -> bool {
    use crate::reference::{is_domain, is_path_component};
    if is_domain(s) {
        return true;
    }
    let Some((first, rest)) = s.split_once('/') else {
        return false;
    };
    is_domain(first)
        && (rest.split('/').all(is_path_component) || s.split('/').all(is_path_component))
}

/// Go's `json.Unmarshal` into `[]string`: `null` is a nil list (absent), each element like a string.
fn go_string_list(v: &Value, what: &str) -> Result<Option<Vec<String>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|i| go_string(i, what))
            .collect::<Result<_>>()
            .map(Some),
        other => Err(format!(
            "{what}: cannot use {} as a list of strings",
            other.kind()
        )),
    }
}

fn go_bytes_list(v: &Value, what: &str) -> Result<Option<Vec<Vec<u8>>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|i| go_bytes(i, what).map(Option::unwrap_or_default))
            .collect::<Result<_>>()
            .map(Some),
        other => Err(format!("{what}: cannot use {} as a list", other.kind())),
    }
}

/// Scope keys of the transports containers/image registers are validated at load time; a bad one
/// is reported as an unknown key, as each transport's `ValidatePolicyConfigurationScope` does. `docker` scopes and unregistered transports
/// are not checked.
fn validate_scope(transport: &str, scope: &str) -> std::result::Result<(), ()> {
    let ok = match transport {
        "dir" | "sif" | "oci" | "oci-archive" => {
            scope.starts_with('/') && scope != "/" && go_clean(scope) == scope
        }
        "docker-archive" | "tarball" => false,
        "docker-daemon" => validate_digest(scope).is_err(),
        "containers-storage" => storage_scope_ok(scope),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

/// `[driver@/graphroot]` or `[/graphroot]`, then nothing, `name`, `name@ID-or-digest` or
/// `name@digest@ID`.
fn storage_scope_ok(scope: &str) -> bool {
    let Some(rest) = scope.strip_prefix('[') else {
        return false;
    };
    let Some(close) = rest.find(']') else {
        return false;
    };
    if close == 0 {
        return false;
    }
    let (store, image) = (&rest[..close], &rest[close + 1..]);
    let store_ok = match store.split_once('@') {
        None => store.starts_with('/'),
        Some((driver, root)) => !driver.is_empty() && !root.is_empty() && root.starts_with('/'),
    };
    if !store_ok {
        return false;
    }
    if image.is_empty() {
        return true;
    }
    let is_id = |s: &str| s.len() == 64 && is_lower_hex(s);
    let fields: Vec<&str> = image.splitn(3, '@').collect();
    match fields.as_slice() {
        [_] => true,
        [_, x] => is_id(x) || validate_digest(x).is_ok(),
        [_, d, id] => validate_digest(d).is_ok() && is_id(id),
        _ => false,
    }
}

/// Go's `filepath.Clean` for absolute Unix paths.
fn go_clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            x => out.push(x),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match policy(json.as_bytes()) {
            Ok(p) => panic!("accepted {json}: {p:?}"),
            Err(e) => e,
        }
    }

    fn ok(json: &str) -> Policy {
        policy(json.as_bytes()).unwrap_or_else(|e| panic!("rejected {json}: {e}"))
    }

    const ACCEPT: &str = r#"[{"type":"insecureAcceptAnything"}]"#;

    #[test]
    fn invalid_utf8_in_a_string_does_not_reject_the_policy() {
        // As with containers/image, the byte reads as U+FFFD: this scope matches no reference.
        let p = policy(
            b"{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"a\xe9.com\":[{\"type\":\"insecureAcceptAnything\"}]}}}",
        )
        .unwrap();
        assert_eq!(p.transports[0].1[0].0, "a\u{fffd}.com");
    }

    fn with_default(req: &str) -> String {
        format!(r#"{{"default":[{req}]}}"#)
    }

    #[test]
    fn top_level_is_strict() {
        for (json, want) in [
            ("{}", "Default policy is missing"),
            (r#"{"default":[]}"#, "must not be empty"),
            (r#"{"default":null}"#, "must not be empty"),
            (
                r#"{"Default":[{"type":"reject"}]}"#,
                "Unknown key \"Default\"",
            ),
            (
                r#"{"default":[{"type":"reject"}],"default":[{"type":"reject"}]}"#,
                "Duplicate key",
            ),
            (
                r#"{"default":[{"type":"reject"}],"transports":null}"#,
                "JSON object expected",
            ),
            (
                r#"{"default":[{"type":"reject"}],"transports":{"docker":null}}"#,
                "JSON object expected",
            ),
            (
                r#"{"default":[{"type":"reject"}],"transports":{"docker":{"":[]}}}"#,
                "must not be empty",
            ),
            (
                r#"{"default":[{"type":"reject"}],"transports":{"docker":{"a":[{"type":"reject"}],"a":[{"type":"reject"}]}}}"#,
                "Duplicate key",
            ),
            (r#"{"default":[{"type":"reject"}]} x"#, ""),
            (r#"[]"#, "JSON object expected"),
            (
                r#"{"default":[null]}"#,
                "Unknown policy requirement type \"\"",
            ),
            (
                r#"{"default":[{}]}"#,
                "Unknown policy requirement type \"\"",
            ),
            (
                r#"{"default":[{"type":"Reject"}]}"#,
                "Unknown policy requirement type \"Reject\"",
            ),
            (
                r#"{"default":[{"type":"reject","x":1}]}"#,
                "Unknown key \"x\"",
            ),
            (
                r#"{"default":[{"type":"reject","type":"reject"}]}"#,
                "Duplicate key",
            ),
            (
                r#"{"default":[{"type":"insecureAcceptAnything","Type":"x"}]}"#,
                "Unknown key",
            ),
            (r#"{"default":{"type":"reject"}}"#, "cannot use"),
        ] {
            assert!(err(json).contains(want), "{json}: {}", err(json));
        }
        ok(r#"{"default":[{"type":"reject"}],"transports":{}}"#);
        ok(r#"{"default":[{"type":"reject"}],"transports":{"docker":{}}}"#);
        ok(r#"{"default":[{"typ\u0065":"reject"}]}"#);
    }

    #[test]
    fn signed_by_key_sources() {
        let sb = |rest: &str| {
            with_default(&format!(
                r#"{{"type":"signedBy","keyType":"GPGKeys"{rest}}}"#
            ))
        };
        for (rest, want) in [
            ("", "none of them present"),
            (r#","keyPath":"/a","keyData":"""#, "more than one present"),
            (r#","keyPath":"""#, "exactly one of"),
            (r#","keyPath":null"#, "exactly one of"),
            (r#","keyPaths":null"#, "exactly one of"),
            (r#","keyData":null"#, "exactly one of"),
            (r#","keyData":"not base64!""#, "base64"),
            (r#","keyData":"YQ""#, "base64"),
            (r#","keyPath":1"#, "cannot use"),
            (r#","keyPaths":"/a""#, "cannot use"),
            (
                r#","keyPath":"/a","signedIdentity":null"#,
                "Unknown policy reference match type \"\"",
            ),
            (
                r#","keyPath":"/a","signedIdentity":{}"#,
                "Unknown policy reference match type \"\"",
            ),
            (r#","keyPath":"/a","extra":1"#, "Unknown key \"extra\""),
        ] {
            assert!(err(&sb(rest)).contains(want), "{rest}: {}", err(&sb(rest)));
        }
        let keys = |rest: &str| match &ok(&sb(rest)).default[0] {
            Requirement::SignedBy { keys, .. } => keys.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(keys(r#","keyPaths":[]"#), KeySource::Paths(vec![]));
        assert_eq!(
            keys(r#","keyPaths":["/a",null]"#),
            KeySource::Paths(vec!["/a".into(), "".into()])
        );
        assert_eq!(keys(r#","keyData":"""#), KeySource::Data(vec![]));
        assert_eq!(keys(r#","keyData":"YQ==""#), KeySource::Data(b"a".to_vec()));
        assert_eq!(keys(r#","keyData":"YR==""#), KeySource::Data(b"a".to_vec()));
        assert_eq!(
            keys(r#","keyData":"Y\nQ=\r=""#),
            KeySource::Data(b"a".to_vec())
        );
        assert_eq!(keys(r#","keyPath":"/k""#), KeySource::Path("/k".into()));
    }

    #[test]
    fn signed_by_key_types() {
        let kt = |t: &str| {
            with_default(&format!(
                r#"{{"type":"signedBy","keyType":{t},"keyPath":"/k"}}"#
            ))
        };
        for t in [
            "\"GPGKeys\"",
            "\"signedByGPGKeys\"",
            "\"X509Certificates\"",
            "\"signedByX509CAs\"",
        ] {
            ok(&kt(t));
        }
        for t in ["\"gpgkeys\"", "null", "\"\""] {
            assert!(err(&kt(t)).contains("keyType"), "{t}");
        }
        assert!(
            err(&with_default(r#"{"type":"signedBy","keyPath":"/k"}"#)).contains("invalid keyType")
        );
    }

    #[test]
    fn signed_identities() {
        let si = |s: &str| {
            with_default(&format!(
                r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{s}}}"#
            ))
        };
        for s in [
            r#"{"type":"matchExact"}"#,
            r#"{"type":"matchRepoDigestOrExact"}"#,
            r#"{"type":"matchRepository"}"#,
            r#"{"type":"exactReference","dockerReference":"busybox:latest"}"#,
            r#"{"type":"exactRepository","dockerRepository":"busybox"}"#,
            r#"{"type":"exactRepository","dockerRepository":"busybox:latest"}"#,
            r#"{"type":"remapIdentity","prefix":"docker.io","signedPrefix":"example.com/mirror"}"#,
            r#"{"type":"remapIdentity","prefix":"busybox","signedPrefix":"example.com:5000"}"#,
            r#"{"type":"remapIdentity","prefix":"ns/repo","signedPrefix":"localhost"}"#,
        ] {
            ok(&si(s));
        }
        for (s, want) in [
            (r#"{"type":"matchExact","x":1}"#, "Unknown key"),
            (r#"{"type":"exactReference"}"#, "missing"),
            (
                r#"{"type":"exactReference","dockerReference":"busybox"}"#,
                "neither a tag nor digest",
            ),
            (
                r#"{"type":"exactReference","dockerReference":"UPPER:1"}"#,
                "Invalid format",
            ),
            (
                r#"{"type":"exactRepository","dockerRepository":null}"#,
                "Invalid format",
            ),
            (
                r#"{"type":"remapIdentity","prefix":"","signedPrefix":"a.com"}"#,
                "not valid",
            ),
            (
                r#"{"type":"remapIdentity","prefix":"*.example.com","signedPrefix":"a.com"}"#,
                "not valid",
            ),
            (
                r#"{"type":"remapIdentity","prefix":"example.com/ns/repo:tag","signedPrefix":"a.com"}"#,
                "not valid",
            ),
            (r#"{"type":"remapIdentity","prefix":"a.com"}"#, "missing"),
            (
                r#"{"type":"MatchExact"}"#,
                "Unknown policy reference match type",
            ),
        ] {
            assert!(err(&si(s)).contains(want), "{s}: {}", err(&si(s)));
        }
    }

    #[test]
    fn other_requirement_types_parse() {
        ok(&with_default(
            r#"{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchExact"}}"#,
        ));
        assert!(err(&with_default(r#"{"type":"signedBaseLayer"}"#)).contains("missing"));
        let ss = |rest: &str| with_default(&format!(r#"{{"type":"sigstoreSigned"{rest}}}"#));
        for rest in [
            r#","keyPath":"/k""#,
            r#","keyPaths":["/a","/b"]"#,
            r#","keyData":"""#,
            r#","keyDatas":["YQ=="]"#,
            r#","keyPath":"/k","rekorPublicKeyPath":"/r""#,
            r#","fulcio":{"caPath":"/ca","oidcIssuer":"https://i","subjectEmail":"a@b"},"rekorPublicKeyData":"YQ==""#,
            r#","pki":{"caRootsPath":"/r","subjectHostname":"h"}"#,
            r#","keyPath":"/k","signedIdentity":{"type":"matchRepository"}"#,
            // Scalars as null are unset.
            r#","keyPath":"/k","keyData":null,"rekorPublicKeyPath":null"#,
        ] {
            ok(&ss(rest));
        }
        for rest in [
            "",
            r#","keyPath":"""#,
            r#","keyPaths":[]"#,
            r#","keyPath":"/k","keyData":"YQ==""#,
            r#","fulcio":{"caPath":"/ca","oidcIssuer":"https://i","subjectEmail":"a@b"}"#,
            r#","fulcio":{"caPath":"/ca","caData":"YQ==","oidcIssuer":"i","subjectEmail":"a@b"},"rekorPublicKeyPath":"/r""#,
            r#","fulcio":{"caPath":"/ca","subjectEmail":"a@b"},"rekorPublicKeyPath":"/r""#,
            r#","pki":{"caRootsPath":"/r"}"#,
            r#","pki":{"caRootsPath":"/r","subjectEmail":"e"},"rekorPublicKeyPath":"/r""#,
            r#","keyPath":"/k","rekorPublicKeyPath":"/r","rekorPublicKeyData":"YQ==""#,
            r#","keyPath":"/k","keyType":"GPGKeys""#,
            // A key present as null is present: a list must list something, an object be one.
            r#","keyPath":"/k","keyPaths":null"#,
            r#","keyPath":"/k","keyDatas":null"#,
            r#","keyPath":"/k","fulcio":null"#,
            r#","keyPath":"/k","pki":null"#,
            r#","keyPath":"/k","rekorPublicKeyPaths":null"#,
            r#","keyPath":"/k","rekorPublicKeyDatas":null"#,
        ] {
            err(&ss(rest));
        }
    }

    #[test]
    fn scopes_of_registered_transports_are_validated() {
        let t = |transport: &str, scope: &str| {
            format!(
                r#"{{"default":{ACCEPT},"transports":{{"{transport}":{{"{scope}":{ACCEPT}}}}}}}"#
            )
        };
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for (transport, scope) in [
            ("docker", "anything at all"),
            ("docker", "example*.*.com"),
            ("nonexistent-transport", "whatever scope"),
            ("atomic", "x y z"),
            ("dir", "/a/b"),
            ("oci", "/a"),
            ("oci-archive", "/a/b.tar"),
            ("sif", "/a"),
            ("docker-daemon", "busybox:latest"),
            ("docker-daemon", "md5:0123456789abcdef0123456789abcdef"),
            ("containers-storage", "[/g]"),
            ("containers-storage", "[overlay@/g]"),
            ("containers-storage", "[overlay@/g]example.com/x:1"),
            (
                "containers-storage",
                &format!("[overlay@/g]example.com/x@{id}"),
            ),
            (
                "containers-storage",
                &format!("[overlay@/g]example.com/x@{d}"),
            ),
            (
                "containers-storage",
                &format!("[overlay@/g]example.com/x@{d}@{id}"),
            ),
        ] {
            ok(&t(transport, scope));
        }
        for (transport, scope) in [
            ("dir", "a/b"),
            ("dir", "/"),
            ("dir", "/a/../b"),
            ("dir", "/a/"),
            ("oci", "/a//b"),
            ("docker-archive", "/a"),
            ("tarball", "/a"),
            ("docker-daemon", d),
            ("containers-storage", "docker.io/library/busybox"),
            ("containers-storage", "[]"),
            ("containers-storage", "[g]"),
            ("containers-storage", "[overlay@g]"),
            ("containers-storage", "[@/g]"),
            ("containers-storage", "[/g]x@notadigest"),
            ("containers-storage", &format!("[/g]x@{id}@{id}")),
        ] {
            assert!(
                err(&t(transport, scope)).contains("Unknown key"),
                "{transport} {scope}"
            );
        }
    }
}
