//! oci-signature-hook: an OCI runtime hook that refuses to start a container whose image does not
//! satisfy the host's `containers-policy.json`.
//!
//! The pipeline, one pass (DESIGN.md): OCI state on stdin → containers/storage (container → image,
//! manifest, signatures) → policy (requirements for the image's reference) → verification →
//! verdict → audit record and exit code. Every error before a verdict denies, unless the policy
//! accepts anything for the image.

pub mod audit;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod invoker;
mod json;
pub mod manifest;
pub mod policy;
pub mod privilege;
pub mod reference;
pub mod registries;
pub mod signature;
pub mod state;
pub mod storage;
#[cfg(test)]
pub(crate) mod testing;
pub mod verify;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use audit::{Record, Verdict};
use config::Mode;
use policy::{Policy, Requirement};
use reference::Reference;
use storage::Store;
use verify::{Subject, Verifier};

/// The process exit code. Anything non-zero blocks the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Allow = 0,
    Deny = 1,
    Usage = 2,
}

pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

/// Runs the program with `args` (without the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> Exit {
    match cli::parse(args) {
        Err(e) => {
            eprintln!("oci-signature-hook: {e}\n\n{}", cli::USAGE);
            Exit::Usage
        }
        Ok(cli::Command::Help) => {
            print!("{}", cli::USAGE);
            Exit::Allow
        }
        Ok(cli::Command::Version) => {
            println!("oci-signature-hook {}", env!("CARGO_PKG_VERSION"));
            Exit::Allow
        }
        Ok(cli::Command::Check(args)) => {
            check::run(&args, &invoker::detect(), verifier(args.openpgp).as_ref())
        }
        Ok(cli::Command::Hook(args)) => {
            let who = invoker::detect();
            let mode = args
                .mode
                .unwrap_or_else(|| configured_mode(args.config.as_deref(), &who));
            let policy = args.policy.unwrap_or_else(|| default_policy_path(&who));
            let socket = args
                .syslog_socket
                .unwrap_or_else(|| audit::DEFAULT_SOCKET.into());
            let verifier = verifier(args.openpgp);
            let cache = if args.no_cache {
                None
            } else {
                args.cache_dir
                    .or_else(|| cache::default_dir(who.rootless()))
                    .and_then(|d| cache::Cache::open(&d))
            };
            let how = How {
                rootless: who.rootless(),
                mode,
                cache,
                timeout: args.timeout.unwrap_or(storage::LOCK_WAIT),
                keep_privileges: false,
            };
            let (mut verdict, record) =
                decide(&policy, std::io::stdin().lock(), verifier.as_ref(), &how);
            if verdict == Verdict::Deny && mode == Mode::Warn {
                verdict = Verdict::WouldDeny;
            }
            report(verdict, &record, &socket)
        }
    }
}

/// The OpenPGP implementation `which` names.
fn verifier(which: cli::OpenPgp) -> Box<dyn Verifier> {
    match which {
        #[cfg(feature = "sequoia")]
        cli::OpenPgp::Sequoia => Box::new(verify::sequoia::Sequoia),
        _ => Box::new(verify::gpg::Gpgme::new()),
    }
}

/// The mode set in the hook's config file; enforce if it says nothing or cannot be trusted. The
/// file must belong to root: inside a rootless user's namespace, host root's files appear owned by
/// the overflow UID, and uid 0 there is the user, whose files do not count.
fn configured_mode(path: Option<&Path>, who: &invoker::Invoker) -> Mode {
    let path = path.unwrap_or(Path::new(config::DEFAULT_CONFIG));
    let root = if who.in_user_namespace {
        invoker::overflow_uid()
    } else {
        0
    };
    match config::load(path, root) {
        Ok(c) => c.mode.unwrap_or_default(),
        Err(e) => {
            eprintln!("oci-signature-hook: {}; enforcing", audit::sanitize(&e));
            Mode::Enforce
        }
    }
}

/// The policy containers/image would use: the system one, or for a rootless user
/// `~/.config/containers/policy.json` when it exists (`homedir.Get()` + that path, as
/// containers/image looks for it). Root never reads a per-user file: its policy is the host's.
pub fn default_policy_path(who: &invoker::Invoker) -> PathBuf {
    if who.rootless() {
        if let Some(home) = &who.home {
            let user = home.join(".config/containers/policy.json");
            if user.exists() {
                return user;
            }
        }
    }
    PathBuf::from(SYSTEM_POLICY)
}

/// Reaches a verdict for the container whose state is on `stdin`. Never panics on bad input; an
/// error is a deny with its reason.
pub fn decide(
    policy_path: &Path,
    stdin: impl Read,
    verifier: &dyn Verifier,
    how: &How,
) -> (Verdict, Record) {
    let mut record = Record {
        policy: policy_path.to_path_buf(),
        ..Record::default()
    };
    let verdict = match evaluate(policy_path, stdin, verifier, how, &mut record) {
        Ok(()) => Verdict::Allow,
        Err(reason) => {
            record.reason = reason;
            Verdict::Deny
        }
    };
    (verdict, record)
}

/// How the hook runs: for whom, in which mode, with which verdict cache, within what time.
#[derive(Debug)]
pub struct How {
    pub rootless: bool,
    pub mode: Mode,
    pub cache: Option<cache::Cache>,
    /// How long the hook may wait for the store's locks before it denies.
    pub timeout: std::time::Duration,
    /// Skip dropping capabilities (for callers that are not the hook process itself).
    pub keep_privileges: bool,
}

impl Default for How {
    fn default() -> Self {
        How {
            rootless: false,
            mode: Mode::Enforce,
            cache: None,
            timeout: storage::LOCK_WAIT,
            keep_privileges: false,
        }
    }
}

fn evaluate(
    policy_path: &Path,
    stdin: impl Read,
    verifier: &dyn Verifier,
    how: &How,
    record: &mut Record,
) -> Result<(), String> {
    let deadline = Instant::now() + how.timeout;
    // Nothing untrusted has been read yet: give up every privilege first.
    let dropped = if how.keep_privileges {
        Ok(())
    } else {
        privilege::drop_all()
    };
    let state = state::read(stdin)?;
    record.container = state.id.clone();
    let (policy, policy_bytes) = Policy::load_with_bytes(policy_path).map_err(|e| e.to_string())?;
    let rootless = how.rootless;
    if let Err(e) = dropped {
        if policy.accepts_anything() {
            record.reason = format!("the policy accepts any image ({e})");
            return Ok(());
        }
        return Err(e);
    }

    // Storage errors before the scope is known deny, unless the policy accepts anything anywhere.
    let lenient = |e: storage::StorageError, record: &mut Record| -> Result<(), String> {
        if policy.accepts_anything() {
            record.reason = format!("the policy accepts any image ({e})");
            Ok(())
        } else {
            Err(e.to_string())
        }
    };
    let (store, id) = match Store::from_bundle(&state.bundle, &state.id, rootless, || {
        storage::conf::load(rootless)
    }) {
        Ok(s) => s,
        Err(e) => return lenient(e, record),
    };
    let container = match store.container(&id, deadline) {
        Ok(c) => c,
        Err(e) => return lenient(e, record),
    };
    record.image_id = container.image_id.clone();
    let reference = match reference_of(&container) {
        Ok(r) => r,
        Err(e) => {
            record.image = container.image_name.clone().unwrap_or_default();
            if policy.accepts_anything() {
                record.reason = format!("the policy accepts any image ({e})");
                return Ok(());
            }
            return Err(e);
        }
    };
    record.image = match (&reference, &container.image_name) {
        (Some(r), _) => r.to_string(),
        (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };

    let check_image = |image: &storage::Image| cross_check(&state.annotations, &container, image);
    let cache = how.cache.as_ref().map(|cache| CacheUse {
        cache,
        policy_bytes: &policy_bytes,
        mode: how.mode,
    });
    let j = judge(
        &policy,
        &store,
        reference.as_ref(),
        &container.image_id,
        deadline,
        verifier,
        &check_image,
        cache.as_ref(),
    );
    record.scope = j.scope.to_string();
    record.manifest_digest = j
        .image
        .as_ref()
        .map(|i| i.manifest_digest.clone())
        .unwrap_or_default();
    record.reason = j.outcome.map_err(|d| d.reason)?;
    Ok(())
}

/// The policy's verdict on one image under the reference it is claimed by.
#[derive(Debug)]
pub struct Judgement<'p> {
    pub scope: policy::Scope,
    /// The image, if a requirement needed it and it could be read.
    pub image: Option<storage::Image>,
    /// Why it is allowed, or why not.
    pub outcome: Result<String, Denial<'p>>,
}

/// Why an image is denied.
#[derive(Debug)]
pub struct Denial<'p> {
    /// `requirement: reason`, or just the reason for an error before any requirement.
    pub reason: String,
    pub requirement: Option<&'p Requirement>,
    /// For `signedBy`: why each signature was rejected.
    pub signatures: Vec<verify::SigFailure>,
}

impl Denial<'_> {
    fn error(reason: String) -> Self {
        Denial {
            reason,
            requirement: None,
            signatures: Vec::new(),
        }
    }
}

/// The verdict cache, and the inputs of a verdict that `judge` does not otherwise see.
pub struct CacheUse<'a> {
    pub cache: &'a cache::Cache,
    pub policy_bytes: &'a [u8],
    pub mode: Mode,
}

/// Evaluates `policy` for image `image_id` claimed as `reference`, reading the image only if a
/// requirement needs it; `check_image` may veto the image once read. With a cache, an allow is
/// looked up before verifying and recorded after.
#[allow(clippy::too_many_arguments)]
pub fn judge<'p>(
    policy: &'p Policy,
    store: &Store,
    reference: Option<&Reference>,
    image_id: &str,
    deadline: Instant,
    verifier: &dyn Verifier,
    check_image: &dyn Fn(&storage::Image) -> Result<(), String>,
    cache: Option<&CacheUse>,
) -> Judgement<'p> {
    let (reqs, scope) = policy.requirements_for(reference);
    let mut image = None;
    if verify::needs_image(reqs) {
        let digest = reference.and_then(Reference::digest);
        match store
            .image(image_id, digest, deadline)
            .map_err(|e| e.to_string())
            .and_then(|i| check_image(&i).map(|()| i))
        {
            Ok(i) => image = Some(i),
            Err(e) => {
                return Judgement {
                    scope,
                    image: None,
                    outcome: Err(Denial::error(e)),
                }
            }
        }
    }
    // With a cache, the keys are read once, up front: the key hashes exactly the bytes verified.
    let preloaded: Vec<LoadedKeys> = match cache {
        Some(_) => reqs
            .iter()
            .filter_map(|r| match r {
                Requirement::SignedBy { keys, .. } => Some((keys, verify::load_keys(keys))),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let mut cache_key = None;
    if let (Some(c), Some(img)) = (cache, &image) {
        if preloaded.iter().all(|(_, r)| r.is_ok()) {
            let key = verdict_key(c, verifier, img, reference, &scope, &preloaded);
            if c.cache.hit(&key) {
                return Judgement {
                    scope,
                    image,
                    outcome: Ok("every requirement is satisfied (cached verdict)".into()),
                };
            }
            cache_key = Some(key);
        }
    }
    let load = |k: &policy::KeySource| {
        preloaded
            .iter()
            .find(|(s, _)| std::ptr::eq(*s, k))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| verify::load_keys(k))
    };
    let subject = image.as_ref().map(|i| Subject {
        reference,
        manifest_digest: &i.manifest_digest,
        signatures: &i.signatures,
    });
    let outcome = match verify::evaluate_with_keys(reqs, subject, verifier, &load) {
        Ok(passed) => {
            if let (Some(c), Some(key)) = (cache, &cache_key) {
                c.cache.store(key, passed.expires);
            }
            Ok(match reqs {
                [Requirement::InsecureAcceptAnything] => "insecureAcceptAnything".to_string(),
                _ => "every requirement is satisfied".to_string(),
            })
        }
        Err(f) => Err(Denial {
            reason: format!("{}: {}", f.requirement.type_name(), f.reason),
            requirement: Some(f.requirement),
            signatures: f.signatures,
        }),
    };
    Judgement {
        scope,
        image,
        outcome,
    }
}

/// A `signedBy` key source and the bytes read from it.
type LoadedKeys<'p> = (&'p policy::KeySource, Result<Vec<Vec<u8>>, String>);

/// The cache key of a verdict: every input it depends on (see `cache`).
fn verdict_key(
    c: &CacheUse,
    verifier: &dyn Verifier,
    image: &storage::Image,
    reference: Option<&Reference>,
    scope: &policy::Scope,
    keys: &[LoadedKeys],
) -> cache::Key {
    let sigs: Vec<Vec<u8>> = image
        .signatures
        .iter()
        .map(|s| match s {
            signature::Signature::SimpleSigning(b) => [b"simple:".as_slice(), b].concat(),
            signature::Signature::Sigstore(b) => [b"sigstore:".as_slice(), b].concat(),
        })
        .collect();
    let sig_refs: Vec<&[u8]> = sigs.iter().map(Vec::as_slice).collect();
    let mut k = cache::KeyBuilder::new()
        .text("mode", &format!("{:?}", c.mode))
        .text("openpgp", verifier.name())
        .text("image_id", &image.id)
        .text("manifest_digest", &image.manifest_digest)
        .list("signatures", &sig_refs)
        .bytes("policy", c.policy_bytes)
        .text(
            "identity",
            &reference.map(ToString::to_string).unwrap_or_default(),
        )
        .text("scope", &scope.to_string());
    for (i, (_, blobs)) in keys.iter().enumerate() {
        if let Ok(blobs) = blobs {
            let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
            k = k.list(&format!("keys.{i}"), &refs);
        }
    }
    k.build()
}

/// CRI-O's annotations name the container's image (SEMANTICS.md §10). Storage is the source of
/// truth; when an annotation disagrees with it, something is wrong and the start is denied.
fn cross_check(
    annotations: &std::collections::HashMap<String, String>,
    container: &storage::Container,
    image: &storage::Image,
) -> Result<(), String> {
    let get = |k: &str| {
        annotations
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(r) = get(CRIO_IMAGE_REF) {
        if r.strip_prefix("sha256:").unwrap_or(r) != container.image_id {
            return Err(format!(
                "annotation {CRIO_IMAGE_REF}={r} is not the container's image {}",
                container.image_id
            ));
        }
    }
    if let (Some(u), Some(n)) = (get(CRIO_IMAGE), container.image_name.as_deref()) {
        if u != n {
            return Err(format!(
                "annotation {CRIO_IMAGE}={u} is not the name the container was created from ({n})"
            ));
        }
    }
    if let Some(n) = get(CRIO_IMAGE_NAME) {
        if !image.names.iter().any(|x| x == n) {
            return Err(format!(
                "annotation {CRIO_IMAGE_NAME}={n} is not a name of image {}",
                image.id
            ));
        }
    }
    Ok(())
}

const CRIO_IMAGE: &str = "io.kubernetes.cri-o.Image";
const CRIO_IMAGE_NAME: &str = "io.kubernetes.cri-o.ImageName";
const CRIO_IMAGE_REF: &str = "io.kubernetes.cri-o.ImageRef";

/// The reference a container claims: the name it was created from, normalized, with `:latest` if
/// it had no tag and without its tag if it also has a digest (`Reference::for_policy`). `None` if
/// it was created by image ID or has no recorded name; an error if the name is not a reference.
pub fn reference_of(c: &storage::Container) -> Result<Option<Reference>, String> {
    let Some(name) = c.image_name.as_deref() else {
        return Ok(None);
    };
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let is_id_prefix = hex.len() >= 6
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && c.image_id.starts_with(hex);
    if is_id_prefix {
        return Ok(None);
    }
    Reference::parse_normalized(name)
        .map(|r| Some(r.for_policy()))
        .map_err(|e| {
            format!(
                "the container was created from {:?}, which is not an image reference ({e})",
                name
            )
        })
}

/// Writes the audit record and, for a deny, the reason on stderr; returns the exit code.
pub fn report(verdict: Verdict, record: &Record, socket: &Path) -> Exit {
    // The reason comes first: podman shows the hook's stderr in its error message, and readers
    // (and some log collectors) stop at the first line.
    let exit = match verdict {
        Verdict::Allow => Exit::Allow,
        Verdict::Deny => {
            eprintln!("oci-signature-hook: {}", deny_line(record));
            Exit::Deny
        }
        Verdict::WouldDeny => {
            eprintln!(
                "oci-signature-hook: warn mode, start allowed: would have {}",
                deny_line(record)
            );
            Exit::Allow
        }
    };
    if let Err(e) = audit::log(socket, verdict, record) {
        eprintln!(
            "oci-signature-hook: audit record not written: {}",
            audit::sanitize(&e)
        );
    }
    exit
}

/// The one line an admin reads in podman's error message.
pub fn deny_line(r: &Record) -> String {
    let s = audit::sanitize;
    let mut line = String::from("blocked container start");
    if !r.image.is_empty() || !r.image_id.is_empty() {
        let image = if r.image.is_empty() {
            "(no name)".to_string()
        } else {
            s(&r.image)
        };
        line.push_str(&format!(": image {image}"));
        let mut ids = Vec::new();
        if !r.image_id.is_empty() {
            ids.push(format!("ID {}", short(&r.image_id)));
        }
        if !r.manifest_digest.is_empty() {
            ids.push(format!("manifest {}", r.manifest_digest));
        }
        if !ids.is_empty() {
            line.push_str(&format!(" ({})", ids.join(", ")));
        }
    }
    line.push_str(&format!(": {}", s(&r.reason)));
    let mut context = vec![format!("policy {}", r.policy.display())];
    if !r.scope.is_empty() {
        context.push(format!("scope {}", s(&r.scope)));
    }
    line.push_str(&format!(" ({})", context.join(", ")));
    line
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: Option<&str>) -> storage::Container {
        storage::Container {
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
        assert!(e.contains("not an image reference"), "{e}");
    }

    #[test]
    fn the_deny_line_names_image_ids_reason_policy_and_scope() {
        let r = Record {
            container: "c".into(),
            image: "example.com/app:1".into(),
            image_id: "0123456789abcdef".into(),
            manifest_digest: "sha256:aa".into(),
            policy: "/etc/containers/policy.json".into(),
            scope: "docker example.com".into(),
            reason: "signedBy: no signature exists\n".into(),
        };
        assert_eq!(
            deny_line(&r),
            "blocked container start: image example.com/app:1 (ID 0123456789ab, manifest sha256:aa): \
             signedBy: no signature exists\\u{a} (policy /etc/containers/policy.json, scope docker example.com)"
        );
        let early = Record {
            policy: "/p".into(),
            reason: "invalid container state".into(),
            ..Record::default()
        };
        assert_eq!(
            deny_line(&early),
            "blocked container start: invalid container state (policy /p)"
        );
    }

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(
            (Exit::Allow as u8, Exit::Deny as u8, Exit::Usage as u8),
            (0, 1, 2)
        );
    }

    #[test]
    fn accepts_anything_only_when_no_requirement_could_deny() {
        let p = |s: &str| Policy::from_bytes(s.as_bytes()).unwrap();
        assert!(p(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).accepts_anything());
        assert!(p(r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"dir":{"":[{"type":"reject"}]}}}"#).accepts_anything());
        assert!(!p(r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"x":[{"type":"reject"}]}}}"#).accepts_anything());
        assert!(!p(r#"{"default":[{"type":"reject"}]}"#).accepts_anything());
    }
}
