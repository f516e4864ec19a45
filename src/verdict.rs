//! The verdict on one image: the decision the hook and `check` both make, in one place.
//!
//! The input is the image under evaluation, [`UnparsedImage`]: the store, the reference the image
//! is judged under, its ID and a deadline, with the manifest and signatures read only if a
//! requirement needs them (containers/image's `UnparsedImage` plays this part in
//! `signature/policy_eval.go`). The output is an [`Outcome`]: allow on stated [`Grounds`], or deny
//! for a typed [`Reason`]. The text of either is made where a line is written, from `Display`.
//!
//! Three rules live here and nowhere else:
//! - **Fail closed, once.** An error on the way to a verdict denies, unless the policy accepts any
//!   image whatever its reference ([`settle`]).
//! - **The claimed reference.** A container is judged under the name it was created from,
//!   normalized as podman pulls it ([`reference_of`]).
//! - **Engine claims are only cross-checked.** CRI-O's annotations must agree with storage, which
//!   stays the source of truth; they can deny a start, never allow one ([`EngineClaims`]).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use crate::cache::{self, Cache, Hit};
use crate::config::{Imageless, Mode};
use crate::policy::{self, KeySource, Policy, PolicyError, Requirement, Scope};
use crate::privilege::PrivilegeError;
use crate::reference::{self, Reference};
use crate::signature::Signature;
use crate::state::StateError;
use crate::storage::{Container, Image, StorageError, Store};
use crate::verify::{self, Failure, KeyError, Passed, PolicyKeys, Subject, Verifier};
use crate::{infra, manifest};

/// The image under evaluation: where it is, what it is claimed as, and (read on demand) its
/// manifest and signatures.
#[derive(Debug)]
pub struct UnparsedImage<'s> {
    store: &'s Store,
    reference: Option<Reference>,
    image_id: String,
    deadline: Instant,
    image: Option<Image>,
}

impl<'s> UnparsedImage<'s> {
    /// Image `image_id` (64 lowercase hex digits) in `store`, judged under `reference` (`None`:
    /// started by ID, so no name-based rule can match). Store reads give up at `deadline`.
    pub fn new(
        store: &'s Store,
        reference: Option<Reference>,
        image_id: &str,
        deadline: Instant,
    ) -> Self {
        UnparsedImage {
            store,
            reference,
            image_id: image_id.to_string(),
            deadline,
            image: None,
        }
    }

    /// The reference the image is judged under.
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// The image ID.
    pub fn id(&self) -> &str {
        &self.image_id
    }

    /// The manifest the container runs and its stored signatures, read from the store the first
    /// time they are asked for. With a digest reference, that digest's manifest.
    pub fn read(&mut self) -> Result<&Image, StorageError> {
        if self.image.is_none() {
            let digest = self.reference.as_ref().and_then(Reference::digest);
            self.image = Some(self.store.image(&self.image_id, digest, self.deadline)?);
        }
        match &self.image {
            Some(image) => Ok(image),
            None => Err(StorageError::UnknownImage(self.image_id.clone())),
        }
    }

    /// What was read, if anything.
    pub fn into_read(self) -> Option<Image> {
        self.image
    }
}

/// Why an allow is an allow. Each variant carries the proof only its maker can build.
#[derive(Debug)]
pub enum Grounds {
    /// Every requirement passed (`verify::evaluate_with_keys` made the proof). `insecure`: the
    /// list was `[insecureAcceptAnything]` alone.
    Requirements { passed: Passed, insecure: bool },
    /// The same inputs were allowed before (`Cache::hit` made the proof), under requirements of
    /// these types.
    Cached {
        hit: Hit,
        requirements: Vec<&'static str>,
    },
    /// An error stood before the verdict, and the policy accepts any image anyway.
    AcceptsAnything(Reason),
    /// The container has no image, and the hook's config file says to allow that (`imageless`),
    /// or (`imageless = "policy"`) the policy's default requirements passed.
    Imageless {
        rule: ImagelessRule,
        passed: Option<Passed>,
    },
    /// The policy denied the image, and it is podman's own pod infra ("pause") image: its only
    /// layer holds exactly this host's catatonit (`infra::podman_pause`), whatever it is named.
    PodInfra { catatonit: PathBuf, denied: Failure },
}

impl fmt::Display for Grounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grounds::Requirements { insecure: true, .. } => f.write_str("insecureAcceptAnything"),
            Grounds::Requirements { .. } => f.write_str("every requirement is satisfied"),
            Grounds::Cached { .. } => {
                f.write_str("every requirement is satisfied (cached verdict)")
            }
            Grounds::AcceptsAnything(r) => write!(f, "the policy accepts any image ({r})"),
            Grounds::Imageless { rule, .. } => write!(f, "{rule}"),
            Grounds::PodInfra { catatonit, .. } => write!(
                f,
                "podman's own pod infra image: its only layer is this host's {}, byte for byte",
                catatonit.display()
            ),
        }
    }
}

/// Why a start is denied: the stage that failed, with that stage's own error.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// The OCI state on stdin.
    #[error(transparent)]
    State(#[from] StateError),
    /// The policy file.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Giving up privileges before reading untrusted input.
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    /// containers/storage: the container, the image, its manifest or signatures.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The name the container was created from.
    #[error(transparent)]
    Name(#[from] NameError),
    /// An engine's claim about the image disagrees with storage.
    #[error(transparent)]
    Claim(#[from] ClaimMismatch),
    /// A requirement of the policy failed (`type: reason`).
    #[error(transparent)]
    Requirement(#[from] Failure),
    /// The container has no image, and the config file's `imageless` denies it (or, with
    /// `"policy"`, the policy's default requirements failed).
    #[error("{rule}{}", failure.as_ref().map(|f| format!(": {f}")).unwrap_or_default())]
    Imageless {
        rule: ImagelessRule,
        failure: Option<Failure>,
    },
}

impl Reason {
    /// The failing requirement's `type`, for a policy deny.
    pub fn requirement(&self) -> Option<&'static str> {
        match self {
            Reason::Requirement(f) => Some(f.requirement),
            _ => None,
        }
    }
}

/// The verdict: allow on grounds, or deny for a reason. Displays as the reason text audit records
/// and deny lines carry.
#[derive(Debug)]
pub enum Outcome {
    Allow(Grounds),
    Deny(Reason),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Allow(g) => g.fmt(f),
            Outcome::Deny(r) => r.fmt(f),
        }
    }
}

impl Outcome {
    /// Whether the start may go ahead.
    pub fn allows(&self) -> bool {
        matches!(self, Outcome::Allow(_))
    }

    /// Whether the allow came from the verdict cache.
    pub fn cached(&self) -> bool {
        matches!(self, Outcome::Allow(Grounds::Cached { .. }))
    }

    /// What an audit record's `requirement` says: for a deny, the type of the requirement that
    /// failed (`imageless` when the config file's setting denied); for an allow, the types of the
    /// requirements that passed, comma-separated, or the grounds: `insecureAcceptAnything` (an
    /// error, under a policy that accepts any image), `pod-infra`, `imageless` (the config file's
    /// setting allowed). Empty for a deny before any requirement (an unreadable state or store).
    pub fn requirement(&self) -> String {
        match self {
            Outcome::Allow(Grounds::Requirements { passed, .. }) => passed.types().join(","),
            Outcome::Allow(Grounds::Cached { requirements, .. }) => requirements.join(","),
            Outcome::Allow(Grounds::AcceptsAnything(_)) => "insecureAcceptAnything".into(),
            Outcome::Allow(Grounds::Imageless {
                passed: Some(p), ..
            }) => p.types().join(","),
            Outcome::Allow(Grounds::Imageless { passed: None, .. }) => "imageless".into(),
            Outcome::Allow(Grounds::PodInfra { .. }) => "pod-infra".into(),
            Outcome::Deny(Reason::Imageless {
                failure: Some(f), ..
            }) => f.requirement.into(),
            Outcome::Deny(Reason::Imageless { failure: None, .. }) => "imageless".into(),
            Outcome::Deny(r) => r.requirement().unwrap_or_default().into(),
        }
    }
}

/// The fail-closed rule: an error on the way to a verdict denies, unless the policy (once it could
/// be read) accepts any image whatever its reference — then nothing could have been denied, and
/// the error is only recorded. Without a usable state or policy there is nothing to consult.
pub fn settle(policy: Option<&Policy>, result: Result<Grounds, Reason>) -> Outcome {
    let reason = match result {
        Ok(grounds) => return Outcome::Allow(grounds),
        Err(reason) => reason,
    };
    match (reason, policy) {
        // No state or policy to consult; or the admin's explicit word on image-less containers.
        (r @ (Reason::State(_) | Reason::Policy(_) | Reason::Imageless { .. }), _) => {
            Outcome::Deny(r)
        }
        (r, Some(p)) if p.accepts_anything() => Outcome::Allow(Grounds::AcceptsAnything(r)),
        (r, _) => Outcome::Deny(r),
    }
}

/// The name a container was created from is not an image reference.
#[derive(Debug, thiserror::Error)]
#[error("the container was created from {name:?}, which is not an image reference ({error})")]
pub struct NameError {
    pub name: String,
    #[source]
    pub error: reference::ParseError,
}

/// The reference a container claims: the name it was created from, normalized, with `:latest` if
/// it had no tag and without its tag if it also has a digest (`Reference::for_policy`, as podman
/// pulls it). `None` if it was created by image ID (the ID, a prefix of at least 6 hex digits,
/// either with `sha256:`) or has no recorded name.
pub fn reference_of(c: &Container) -> Result<Option<Reference>, NameError> {
    let Some(name) = c.image_name.as_deref() else {
        return Ok(None);
    };
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let is_id_prefix = hex.len() >= 6 && manifest::is_lower_hex(hex) && c.image_id.starts_with(hex);
    if is_id_prefix {
        return Ok(None);
    }
    Reference::parse_normalized(name)
        .map(|r| Some(r.for_policy()))
        .map_err(|error| NameError {
            name: name.to_string(),
            error,
        })
}

/// The reference a container is judged under: the name it was created from (`reference_of`);
/// for a container created by image ID, in any spelling (the ID, a short ID, `sha256:<ID>`), the
/// image's first name, which is the name podman itself records when a container is created from
/// a plain ID (podman `pkg/specgen/generate/container_create.go`). So every spelling of one image
/// gets one answer. `None` only for an image that has no name (or cannot be read: the verdict
/// then reads it again and says why).
pub fn claimed_reference(
    store: &Store,
    container: &Container,
    deadline: Instant,
) -> Result<Option<Reference>, NameError> {
    if let Some(r) = reference_of(container)? {
        return Ok(Some(r));
    }
    let mut by_id = UnparsedImage::new(store, None, &container.image_id, deadline);
    let first = by_id.read().ok().and_then(|i| i.names.first().cloned());
    Ok(first
        .and_then(|n| Reference::parse_normalized(&n).ok())
        .map(Reference::for_policy))
}

/// CRI-O's annotation naming the image the user asked for.
pub const CRIO_IMAGE: &str = "io.kubernetes.cri-o.Image";
/// CRI-O's annotation naming the image by one of its stored names.
pub const CRIO_IMAGE_NAME: &str = "io.kubernetes.cri-o.ImageName";
/// CRI-O's annotation naming the image by ID.
pub const CRIO_IMAGE_REF: &str = "io.kubernetes.cri-o.ImageRef";

/// What the engine that started the container says about its image: CRI-O's annotations
/// (`io.kubernetes.cri-o.ImageRef`, `.Image`, `.ImageName`), and the name the container was
/// created from. `check` has no runtime state, so it has none.
#[derive(Debug, Clone, Copy)]
pub struct EngineClaims<'a> {
    pub annotations: &'a HashMap<String, String>,
    pub creation_name: Option<&'a str>,
}

/// An engine's annotation disagrees with storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimMismatch {
    #[error("annotation {CRIO_IMAGE_REF}={claimed} is not the container's image {image_id}")]
    ImageRef { claimed: String, image_id: String },
    #[error(
        "annotation {CRIO_IMAGE}={claimed} is not the name the container was created from ({name})"
    )]
    Image { claimed: String, name: String },
    #[error("annotation {CRIO_IMAGE_NAME}={claimed} is not a name of image {image_id}")]
    ImageName { claimed: String, image_id: String },
}

impl EngineClaims<'_> {
    /// Checks the claims against `image` as storage has it. An empty annotation says nothing.
    pub fn check(&self, image: &Image) -> Result<(), ClaimMismatch> {
        let get = |k: &str| {
            self.annotations
                .get(k)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        if let Some(r) = get(CRIO_IMAGE_REF) {
            if r.strip_prefix("sha256:").unwrap_or(r) != image.id {
                return Err(ClaimMismatch::ImageRef {
                    claimed: r.to_string(),
                    image_id: image.id.clone(),
                });
            }
        }
        if let (Some(u), Some(n)) = (get(CRIO_IMAGE), self.creation_name) {
            if u != n {
                return Err(ClaimMismatch::Image {
                    claimed: u.to_string(),
                    name: n.to_string(),
                });
            }
        }
        if let Some(n) = get(CRIO_IMAGE_NAME) {
            if !image.names.iter().any(|x| x == n) {
                return Err(ClaimMismatch::ImageName {
                    claimed: n.to_string(),
                    image_id: image.id.clone(),
                });
            }
        }
        Ok(())
    }
}

/// How images are judged: the OpenPGP implementation, the policy's keys (read up front), what
/// to do with a container that has no image, and optionally the verdict cache with the inputs of
/// a verdict the evaluation does not otherwise see.
pub struct Verification<'a> {
    pub verifier: &'a dyn Verifier,
    pub keys: &'a PolicyKeys<'a>,
    pub imageless: ImagelessRule,
    pub cache: Option<CacheUse<'a>>,
    /// The UID host root's files have here: 0, or in a rootless user's namespace the overflow
    /// UID (for `infra::podman_pause`, which trusts only root's catatonit).
    pub host_root: u32,
}

/// The config file's `imageless` setting and the file it comes from, for reasons that say which
/// setting decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagelessRule {
    pub setting: Imageless,
    pub config: PathBuf,
}

impl fmt::Display for ImagelessRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (setting, config) = (self.setting.as_str(), self.config.display());
        match self.setting {
            Imageless::Policy => write!(
                f,
                "the container has no image; imageless = \"{setting}\" ({config}) judges it by the policy's default requirements"
            ),
            _ => write!(
                f,
                "the container has no image; imageless = \"{setting}\" ({config})"
            ),
        }
    }
}

/// Judges a container that has no image (`podman run --rootfs`, a build step `FROM scratch`)
/// by the `imageless` rule: allow, deny, or the policy's requirements for an image with no name
/// and no signatures.
pub fn imageless(policy: &Policy, how: &Verification) -> Decision {
    let rule = how.imageless.clone();
    let (scope, result) = match rule.setting {
        Imageless::Allow => (None, Ok(Grounds::Imageless { rule, passed: None })),
        Imageless::Deny => (
            None,
            Err(Reason::Imageless {
                rule,
                failure: None,
            }),
        ),
        Imageless::Policy => {
            let (reqs, scope) = policy.requirements_for(None);
            let nothing = Subject {
                reference: None,
                manifest_digest: "",
                signatures: &[],
            };
            let result = match verify::evaluate_with_keys(reqs, Some(nothing), how.verifier, &|k| {
                how.keys.get(k)
            }) {
                Ok(passed) => Ok(Grounds::Imageless {
                    rule,
                    passed: Some(passed),
                }),
                Err(f) => Err(Reason::Imageless {
                    rule,
                    failure: Some(f),
                }),
            };
            (Some(scope), result)
        }
    };
    Decision {
        scope,
        image: None,
        outcome: settle(Some(policy), result),
    }
}

/// The verdict cache, and the verdict's inputs besides the image: the policy file's bytes and the
/// mode.
pub struct CacheUse<'a> {
    pub cache: &'a Cache,
    pub policy_bytes: &'a [u8],
    pub mode: Mode,
}

/// The policy's verdict on one image, with what an audit record says about it.
#[derive(Debug)]
pub struct Decision {
    /// The policy entry whose requirements applied; `None` if the decision came before one was
    /// chosen.
    pub scope: Option<Scope>,
    /// The image's manifest and signatures, if they were read.
    pub image: Option<Image>,
    pub outcome: Outcome,
}

/// Judges a container: under the name it was created from, against `policy`, with the engine's
/// claims cross-checked. The result is settled (`settle`).
pub fn container(
    policy: &Policy,
    store: &Store,
    container: &Container,
    annotations: &HashMap<String, String>,
    deadline: Instant,
    how: &Verification,
) -> (Option<Reference>, Decision) {
    if container.image_id.is_empty() {
        return (None, imageless(policy, how));
    }
    let reference = match claimed_reference(store, container, deadline) {
        Ok(r) => r,
        Err(e) => {
            let decision = Decision {
                scope: None,
                image: None,
                outcome: settle(Some(policy), Err(e.into())),
            };
            return (None, decision);
        }
    };
    let claims = EngineClaims {
        annotations,
        creation_name: container.image_name.as_deref(),
    };
    let image = UnparsedImage::new(store, reference.clone(), &container.image_id, deadline);
    (reference, judge(policy, image, Some(claims), how))
}

/// Judges `image` against `policy`: the requirements of its scope, in order, reading the image
/// only if one needs it; `claims` may veto the image once read. With a cache, an allow is looked up
/// before verifying and recorded after. The result is settled (`settle`).
pub fn judge(
    policy: &Policy,
    mut image: UnparsedImage,
    claims: Option<EngineClaims>,
    how: &Verification,
) -> Decision {
    let (reqs, scope) = policy.requirements_for(image.reference());
    let result = match evaluate(reqs, &scope, &mut image, claims, how) {
        // podman builds its pod infra image itself, from the host's catatonit, and never signs
        // it: recognized by what it is, it starts whatever the policy says of its name.
        Err(Reason::Requirement(denied)) => {
            match image
                .store
                .single_layer(image.id(), image.deadline)
                .ok()
                .flatten()
                .and_then(|layer| infra::podman_pause(&layer, how.host_root))
            {
                Some(catatonit) => Ok(Grounds::PodInfra { catatonit, denied }),
                None => Err(Reason::Requirement(denied)),
            }
        }
        other => other,
    };
    // An image whose engine claims disagree with storage is not named by its manifest.
    let read = match &result {
        Err(Reason::Claim(_)) => None,
        _ => image.into_read(),
    };
    Decision {
        scope: Some(scope),
        image: read,
        outcome: settle(Some(policy), result),
    }
}

fn evaluate(
    reqs: &[Requirement],
    scope: &Scope,
    image: &mut UnparsedImage,
    claims: Option<EngineClaims>,
    how: &Verification,
) -> Result<Grounds, Reason> {
    let reference = image.reference.clone();
    let read = if verify::needs_image(reqs) {
        let read = image.read()?;
        if let Some(c) = claims {
            c.check(read)?;
        }
        Some(read)
    } else {
        None
    };
    let mut cache_key = None;
    if let (Some(c), Some(img)) = (&how.cache, read) {
        let keys: Result<Vec<Vec<Vec<u8>>>, KeyError> = reqs
            .iter()
            .flat_map(Requirement::key_sources)
            .map(|keys| how.keys.get(keys))
            .collect();
        // A key that cannot be read denies below; there is nothing to look up or remember.
        if let Ok(keys) = keys {
            let key = verdict_key(c, how.verifier, img, reference.as_ref(), scope, &keys);
            if let Some(hit) = c.cache.hit(&key) {
                let requirements = reqs.iter().map(Requirement::type_name).collect();
                return Ok(Grounds::Cached { hit, requirements });
            }
            cache_key = Some(key);
        }
    }
    let load = |k: &KeySource| how.keys.get(k);
    let subject = read.map(|i| Subject {
        reference: reference.as_ref(),
        manifest_digest: &i.manifest_digest,
        signatures: &i.signatures,
    });
    let passed = verify::evaluate_with_keys(reqs, subject, how.verifier, &load)?;
    if let (Some(c), Some(key)) = (&how.cache, &cache_key) {
        c.cache.store(key, passed.expires());
    }
    Ok(Grounds::Requirements {
        passed,
        insecure: matches!(reqs, [Requirement::InsecureAcceptAnything]),
    })
}

/// The cache key of a verdict: every input it depends on (the `cache` module lists them).
fn verdict_key(
    c: &CacheUse,
    verifier: &dyn Verifier,
    image: &Image,
    reference: Option<&Reference>,
    scope: &policy::Scope,
    keys: &[Vec<Vec<u8>>],
) -> cache::Key {
    let sigs: Vec<Vec<u8>> = image
        .signatures
        .iter()
        .map(|s| match s {
            Signature::SimpleSigning(b) => [b"simple:".as_slice(), b].concat(),
            Signature::Sigstore(b) => [b"sigstore:".as_slice(), b].concat(),
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
    for (i, blobs) in keys.iter().enumerate() {
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        k = k.list(&format!("keys.{i}"), &refs);
    }
    k.build()
}

#[cfg(test)]
mod tests;
