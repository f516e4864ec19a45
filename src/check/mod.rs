//! `oci-signature-hook check`: what would the hook block? Evaluates local images (under each of
//! their names) and existing containers (under the name each was created from) against the policy
//! or a candidate one, through the same verdict the hook reaches (`verdict`), and explains each
//! denial with a hint for the usual causes (`hints`). `table` prints the report.
//!
//! What differs from the hook, on purpose: `check` has no runtime state, so no engine annotations
//! are cross-checked; it keeps its privileges (it starts nothing); and it never uses the verdict
//! cache, so every row is verified now.

mod hints;
mod origin;
mod table;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

pub use hints::{hints, requirement_hints, sigstore_hints};
pub use origin::{origin, Origin};
pub use table::table;

use crate::audit::sanitize;
use crate::cli::{CheckArgs, Format};
use crate::exit::Exit;
use crate::invoker::Invoker;
use crate::policy::Policy;
use crate::reference::Reference;
use crate::registries::RegistriesD;
use crate::settings::CheckSettings;
use crate::storage::{self, ImageSummary, Location, Store};
use crate::verdict::{
    self, Decision, ImagelessRule, NameError, Outcome, Reason, UnparsedImage, Verification,
};
use crate::verify::PolicyKeys;

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub kind: Kind,
    /// The container's name, for a container.
    pub container: Option<String>,
    /// The reference evaluated; `None` for an image without names or a container created by ID.
    pub reference: Option<String>,
    pub image_id: String,
    pub manifest_digest: Option<String>,
    pub verdict: RowVerdict,
    pub scope: String,
    /// The requirement that denied it.
    pub requirement: Option<&'static str>,
    pub reason: String,
    pub hints: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Container,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowVerdict {
    Allow,
    Deny,
}

#[derive(Serialize)]
struct Report<'a> {
    policy: &'a Path,
    storage: StorageReport<'a>,
    results: &'a [Row],
    denied: usize,
    /// Images without names left out (without `--all`).
    skipped_unnamed: usize,
}

/// What `evaluate` found: the rows, and how many images without names it left out.
#[derive(Debug)]
pub struct Evaluated {
    pub rows: Vec<Row>,
    /// Images without names (`<none>`: a build's intermediate images, images whose names went
    /// to a newer image) not checked, because neither `--all` nor an image was asked for.
    pub skipped_unnamed: usize,
}

#[derive(Serialize)]
struct StorageReport<'a> {
    graphroot: &'a Path,
    runroot: Option<&'a Path>,
    driver: &'a str,
}

/// Runs `check` with `settings` for `who`; prints the report on stdout and errors on stderr.
pub fn run(settings: &CheckSettings, who: &Invoker) -> Exit {
    let args = &settings.args;
    let policy_path = &settings.policy;
    let fail = |msg: String| {
        eprintln!("oci-signature-hook check: {}", sanitize(&msg));
        Exit::Usage
    };
    let policy = match Policy::load(policy_path) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let registries = match RegistriesD::load(&settings.registries_d) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let loc = match locate(args, who) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let store = match Store::at(&loc) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let keys = PolicyKeys::load(&policy);
    let how = Verification {
        verifier: settings.verifier.as_ref(),
        keys: &keys,
        imageless: ImagelessRule {
            setting: settings.imageless,
            config: settings.config.clone(),
        },
        cache: None,
        host_root: settings.host_root,
    };
    let Evaluated {
        rows,
        skipped_unnamed,
    } = match evaluate(&store, &policy, &registries, args, &how) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let denied = rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Deny)
        .count();
    let out = match args.format {
        Format::Table => table(&rows, skipped_unnamed),
        Format::Json => {
            let report = Report {
                policy: policy_path,
                storage: StorageReport {
                    graphroot: &loc.graphroot,
                    runroot: loc.runroot.as_deref(),
                    driver: &loc.driver,
                },
                results: &rows,
                denied,
                skipped_unnamed,
            };
            match serde_json::to_string_pretty(&report) {
                Ok(s) => s + "\n",
                Err(e) => return fail(format!("cannot encode the report: {e}")),
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return fail(format!("cannot write the report: {e}"));
    }
    if denied > 0 {
        Exit::Deny
    } else {
        Exit::Allow
    }
}

/// The store `check` reads: `--root`, `--runroot` and `--storage-driver` first, then
/// storage.conf, then the built-in defaults (`storage::location`).
pub fn locate(args: &CheckArgs, who: &Invoker) -> Result<Location, String> {
    let explicit = storage::Overrides {
        graphroot: args.root.as_deref(),
        runroot: args.runroot.as_deref(),
        driver: args.storage_driver.as_deref(),
    };
    storage::location::locate(&explicit, who)
}

/// One evaluation target: an image under a name, or a container.
struct Target {
    kind: Kind,
    container: Option<String>,
    reference: Option<Reference>,
    /// The name as stored, when it does not parse as a reference.
    raw_name: Option<String>,
    /// Why a container's creation name is not a reference (judged as in the hook).
    name_error: Option<NameError>,
    image_id: String,
}

/// The rows for the images and containers `args` selects. With no image named, every image
/// with a name and every container is checked, and images without names too with `--all`
/// (containers are checked whatever their image).
pub fn evaluate(
    store: &Store,
    policy: &Policy,
    registries: &RegistriesD,
    args: &CheckArgs,
    how: &Verification,
) -> Result<Evaluated, String> {
    let deadline = Instant::now() + storage::LOCK_WAIT;
    let mut images = store.images(deadline).map_err(|e| e.to_string())?;
    images.sort_by(|a, b| a.names.first().cmp(&b.names.first()).then(a.id.cmp(&b.id)));
    let mut targets = Vec::new();
    let mut skipped_unnamed = 0;
    if args.images.is_empty() {
        for img in &images {
            if img.names.is_empty() && !args.all {
                skipped_unnamed += 1;
                continue;
            }
            targets.extend(image_targets(img));
        }
        let mut containers = store.containers(deadline).map_err(|e| e.to_string())?;
        containers.sort_by(|a, b| a.names.first().cmp(&b.names.first()));
        for c in containers {
            let (reference, name_error) = match verdict::claimed_reference(store, &c, deadline) {
                Ok(r) => (r, None),
                Err(e) => (None, Some(e)),
            };
            targets.push(Target {
                kind: Kind::Container,
                container: Some(c.names.first().cloned().unwrap_or_else(|| c.id.clone())),
                reference,
                name_error,
                raw_name: c.image_name.clone(),
                image_id: c.image_id.clone(),
            });
        }
    } else {
        for name in &args.images {
            targets.extend(resolve(&images, name)?);
        }
    }

    let mut done: HashMap<(String, Option<String>), Row> = HashMap::new();
    let mut rows = Vec::new();
    for t in targets {
        // A name that does not parse is its own case (a deny), not a start by image ID.
        let key = (
            t.image_id.clone(),
            t.reference
                .as_ref()
                .map(|r| r.to_string())
                .or_else(|| t.name_error.as_ref().map(ToString::to_string)),
        );
        let mut row = match done.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = evaluate_one(store, policy, registries, &t, how);
                done.insert(key, r.clone());
                r
            }
        };
        row.kind = t.kind;
        row.container = t.container;
        if row.reference.is_none() {
            row.reference = t.raw_name;
        }
        rows.push(row);
    }
    Ok(Evaluated {
        rows,
        skipped_unnamed,
    })
}

/// An image's rows: one per name, or one without a name.
fn image_targets(img: &ImageSummary) -> Vec<Target> {
    if img.names.is_empty() {
        return vec![Target {
            kind: Kind::Image,
            container: None,
            reference: None,
            raw_name: None,
            name_error: None,
            image_id: img.id.clone(),
        }];
    }
    img.names
        .iter()
        .map(|n| {
            let reference = Reference::parse_normalized(n)
                .ok()
                .map(Reference::for_policy);
            Target {
                kind: Kind::Image,
                container: None,
                raw_name: reference.is_none().then(|| n.clone()),
                reference,
                name_error: None,
                image_id: img.id.clone(),
            }
        })
        .collect()
}

/// A name given on the command line, as podman resolves local images: a stored name, the name
/// normalized (`busybox` → `docker.io/library/busybox:latest`), `localhost/` + the name, or a
/// unique image ID prefix (which means each of that image's names).
fn resolve(images: &[ImageSummary], name: &str) -> Result<Vec<Target>, String> {
    let mut candidates = vec![name.to_string()];
    if let Ok(r) = Reference::parse_normalized(name) {
        candidates.push(r.with_default_tag().to_string());
    }
    if let Ok(r) = Reference::parse_normalized(&format!("localhost/{name}")) {
        candidates.push(r.with_default_tag().to_string());
    }
    for c in &candidates {
        if let Some(img) = images.iter().find(|i| i.names.iter().any(|n| n == c)) {
            return Ok(vec![Target {
                kind: Kind::Image,
                container: None,
                reference: Reference::parse_normalized(c)
                    .ok()
                    .map(Reference::for_policy),
                raw_name: Some(c.clone()),
                name_error: None,
                image_id: img.id.clone(),
            }]);
        }
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() >= 3 && crate::manifest::is_lower_hex(hex) {
        let matching: Vec<&ImageSummary> =
            images.iter().filter(|i| i.id.starts_with(hex)).collect();
        match matching.as_slice() {
            [img] => return Ok(image_targets(img)),
            [] => {}
            _ => return Err(format!("image ID prefix {name:?} is ambiguous")),
        }
    }
    Err(format!("no image {:?} in the store", sanitize(name)))
}

/// One target's row: the verdict the hook would reach for it, with hints for a `signedBy` deny.
fn evaluate_one(
    store: &Store,
    policy: &Policy,
    registries: &RegistriesD,
    t: &Target,
    how: &Verification,
) -> Row {
    let deadline = Instant::now() + storage::LOCK_WAIT;
    let reference = t.reference.as_ref();
    let decision = match &t.name_error {
        _ if t.image_id.is_empty() => verdict::imageless(policy, how),
        Some(e) => Decision {
            scope: None,
            image: None,
            outcome: verdict::settle(
                Some(policy),
                Err(Reason::Name(NameError {
                    name: e.name.clone(),
                    error: e.error.clone(),
                })),
            ),
        },
        None => verdict::judge(
            policy,
            UnparsedImage::new(store, t.reference.clone(), &t.image_id, deadline),
            None,
            how,
        ),
    };
    let digest_wanted = reference.and_then(Reference::digest);
    // For the digest column when the policy did not need the image (not for a container whose
    // name is no reference: the hook names no manifest for it either).
    let judged = decision.scope.is_some();
    let image = decision
        .image
        .or_else(|| judged.then(|| store.image(&t.image_id, digest_wanted, deadline).ok())?);
    let mut row = Row {
        kind: t.kind,
        container: None,
        reference: reference.map(|r| r.to_string()),
        image_id: t.image_id.clone(),
        manifest_digest: image.as_ref().map(|i| i.manifest_digest.clone()),
        verdict: RowVerdict::Allow,
        scope: decision.scope.map(|s| s.to_string()).unwrap_or_default(),
        requirement: None,
        reason: decision.outcome.to_string(),
        hints: Vec::new(),
    };
    if let Outcome::Deny(reason) = &decision.outcome {
        row.verdict = RowVerdict::Deny;
        row.requirement = reason.requirement();
        if let Reason::Requirement(f) = reason {
            row.hints = requirement_hints(f, &row.scope, reference);
        }
        if let (Reason::Requirement(f), Some(img)) = (reason, &image) {
            // How it came here matters only when it has no signatures; the config is read then.
            let origin = || {
                let config = store.image_config(&img.id, deadline).ok();
                origin(&img.manifest, config.as_deref(), &img.names)
            };
            if f.requirement == "signedBy" {
                let o = if img.signatures.is_empty() {
                    origin()
                } else {
                    Origin::Unknown
                };
                row.hints
                    .extend(hints(img, reference, f.signatures(), registries, o));
            } else if f.requirement == "sigstoreSigned" {
                let o = if img.signatures.is_empty() {
                    origin()
                } else {
                    Origin::Unknown
                };
                row.hints
                    .extend(sigstore_hints(img, reference, &f.error, registries, o));
            }
        }
    }
    row
}
