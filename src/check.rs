//! `oci-signature-hook check`: what would the hook block? Evaluates local images (under each of
//! their names) and existing containers (under the name each was created from) against the policy
//! or a candidate one, with the same code the hook runs, and explains each denial with a hint for
//! the usual causes.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::audit::sanitize;
use crate::cli::{CheckArgs, Format};
use crate::invoker::Invoker;
use crate::policy::identity::IdentityError;
use crate::policy::{Policy, Requirement};
use crate::reference::Reference;
use crate::registries::RegistriesD;
use crate::storage::{self, ImageSummary, Store};
use crate::verify::{SigFailure, Verifier};
use crate::{judge, reference_of, Exit};

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
}

#[derive(Serialize)]
struct StorageReport<'a> {
    graphroot: &'a Path,
    runroot: Option<&'a Path>,
    driver: &'a str,
}

/// Where the store is, after flags, storage.conf and the built-in defaults.
#[derive(Debug, Clone)]
pub struct Location {
    pub graphroot: PathBuf,
    pub runroot: Option<PathBuf>,
    pub driver: String,
}

/// Runs `check`; prints the report on stdout and errors on stderr.
pub fn run(args: &CheckArgs, who: &Invoker, verifier: &dyn Verifier) -> Exit {
    let rootless = who.rootless();
    let policy_path = args
        .policy
        .clone()
        .unwrap_or_else(|| crate::default_policy_path(who));
    let fail = |msg: String| {
        eprintln!("oci-signature-hook check: {}", sanitize(&msg));
        Exit::Usage
    };
    let policy = match Policy::load(&policy_path) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let registries_dir = args
        .registries_d
        .clone()
        .unwrap_or_else(crate::registries::default_dir);
    let registries = match RegistriesD::load(&registries_dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let loc = match locate(args, who) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let store = match Store::open(
        &loc.graphroot,
        loc.runroot.as_deref(),
        &loc.driver,
        rootless,
    ) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let rows = match evaluate(&store, &policy, &registries, args, verifier) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let denied = rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Deny)
        .count();
    let out = match args.format {
        Format::Table => table(&rows),
        Format::Json => {
            let report = Report {
                policy: &policy_path,
                storage: StorageReport {
                    graphroot: &loc.graphroot,
                    runroot: loc.runroot.as_deref(),
                    driver: &loc.driver,
                },
                results: &rows,
                denied,
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

/// The store `check` reads: flags first, then storage.conf, then the built-in defaults.
pub fn locate(args: &CheckArgs, who: &Invoker) -> Result<Location, String> {
    let explicit = storage::Overrides {
        graphroot: args.root.as_deref(),
        runroot: args.runroot.as_deref(),
        driver: args.storage_driver.as_deref(),
    };
    storage::location::locate(&explicit, who).map(|l| Location {
        graphroot: l.graphroot,
        runroot: l.runroot,
        driver: l.driver,
    })
}

/// One evaluation target: an image under a name, or a container.
struct Target {
    kind: Kind,
    container: Option<String>,
    reference: Option<Reference>,
    /// The name as stored, when it does not parse as a reference.
    raw_name: Option<String>,
    /// Why a container's creation name is not a reference (it then denies, as in the hook).
    name_error: Option<String>,
    image_id: String,
}

/// The rows for the images and containers `args` selects.
pub fn evaluate(
    store: &Store,
    policy: &Policy,
    registries: &RegistriesD,
    args: &CheckArgs,
    verifier: &dyn Verifier,
) -> Result<Vec<Row>, String> {
    let deadline = Instant::now() + storage::LOCK_WAIT;
    let mut images = store.images(deadline).map_err(|e| e.to_string())?;
    images.sort_by(|a, b| a.names.first().cmp(&b.names.first()).then(a.id.cmp(&b.id)));
    let mut targets = Vec::new();
    if args.images.is_empty() {
        for img in &images {
            targets.extend(image_targets(img));
        }
        let mut containers = store.containers(deadline).map_err(|e| e.to_string())?;
        containers.sort_by(|a, b| a.names.first().cmp(&b.names.first()));
        for c in containers {
            let (reference, name_error) = match reference_of(&c) {
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
                .or_else(|| t.name_error.clone()),
        );
        let mut row = match done.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = evaluate_one(store, policy, registries, &t, verifier);
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
    Ok(rows)
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
    if hex.len() >= 3 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
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

fn evaluate_one(
    store: &Store,
    policy: &Policy,
    registries: &RegistriesD,
    t: &Target,
    verifier: &dyn Verifier,
) -> Row {
    if let Some(e) = t.name_error.as_ref().filter(|_| !policy.accepts_anything()) {
        return Row {
            kind: t.kind,
            container: None,
            reference: None,
            image_id: t.image_id.clone(),
            manifest_digest: None,
            verdict: RowVerdict::Deny,
            scope: String::new(),
            requirement: None,
            reason: e.clone(),
            hints: Vec::new(),
        };
    }
    let deadline = Instant::now() + storage::LOCK_WAIT;
    let reference = t.reference.as_ref();
    let j = judge(
        policy,
        store,
        reference,
        &t.image_id,
        deadline,
        verifier,
        &|_| Ok(()),
        None,
    );
    let digest_wanted = reference.and_then(Reference::digest);
    // For the digest column when the policy did not need the image.
    let image = j
        .image
        .or_else(|| store.image(&t.image_id, digest_wanted, deadline).ok());
    let mut row = Row {
        kind: t.kind,
        container: None,
        reference: reference.map(|r| r.to_string()),
        image_id: t.image_id.clone(),
        manifest_digest: image.as_ref().map(|i| i.manifest_digest.clone()),
        verdict: RowVerdict::Allow,
        scope: j.scope.to_string(),
        requirement: None,
        reason: String::new(),
        hints: Vec::new(),
    };
    match j.outcome {
        Ok(reason) => row.reason = reason,
        Err(d) => {
            row.verdict = RowVerdict::Deny;
            row.reason = d.reason;
            row.requirement = d.requirement.map(Requirement::type_name);
            if matches!(d.requirement, Some(Requirement::SignedBy { .. })) {
                if let Some(img) = &image {
                    row.hints = hints(img, reference, &d.signatures, registries);
                }
            }
        }
    }
    row
}

/// Remediation hints for a `signedBy` denial, for the pitfalls that cause most of them.
pub fn hints(
    image: &storage::Image,
    reference: Option<&Reference>,
    failures: &[SigFailure],
    registries: &RegistriesD,
) -> Vec<String> {
    let mut out = Vec::new();
    if image.signatures.is_empty() {
        let from_list = image.digests.len() > 1
            && image
                .digests
                .first()
                .is_some_and(|d| *d != image.manifest_digest);
        if image.replaced_signatures {
            // A pull needs a registry: a localhost/ name is podman's name for a local image, so
            // name another of the image's names that is on a registry, if it has one.
            let source = reference
                .filter(|r| r.domain() != "localhost")
                .map(Reference::to_string)
                .or_else(|| {
                    image.names.iter().find_map(|n| {
                        Reference::parse_normalized(n)
                            .ok()
                            .filter(|r| r.domain() != "localhost")
                            .map(|r| r.to_string())
                    })
                });
            out.push(format!(
                "its signatures were replaced: a later pull or copy of the same image ID stored it again without them; pull it again from the signed source{}",
                source.map(|r| format!(" (podman pull {r})")).unwrap_or_default()
            ));
        } else if from_list {
            out.push(format!(
                "it was pulled from a manifest list ({}): a pull verifies and stores only the platform image's signatures, and none were found for {}; sign each platform image's manifest digest, not only the list's, then pull again",
                image.digests[0], image.manifest_digest
            ));
        } else {
            match reference {
                Some(r) if r.domain() != "localhost" => {
                    let src = registries.sources(r);
                    if src.lookaside.is_none() && !src.sigstore_attachments {
                        out.push(format!(
                            "no file in {} gives a lookaside for {}, so a pull of it looked for signatures only in the local default and stored none; add one (docker: {{{}: {{lookaside: URL}}}}) and pull again",
                            registries.dir.display(),
                            r.domain(),
                            r.domain()
                        ));
                    } else {
                        out.push(
                            "it has no stored signatures: it was loaded from an archive, built locally, or pulled without its signatures; pull it again from the signed source".into(),
                        );
                    }
                }
                _ => out.push(
                    "it was built or loaded locally, so it has no signatures; push it with podman push --sign-by KEY and run the copy pulled back, or allow it as below".into(),
                ),
            }
        }
        if let Some(r) = reference {
            out.push(format!(
                "to allow it without signatures deliberately, give its repository its own policy entry: \"transports\": {{\"docker\": {{\"{}\": [{{\"type\": \"insecureAcceptAnything\"}}]}}}}",
                r.name()
            ));
        }
    }
    for f in failures {
        let SigFailure::Identity { signed, error, .. } = f else {
            continue;
        };
        match error {
            IdentityError::NoImageReference => out.push(
                "the container was created by image ID, so no name-based signedIdentity can match; create it by name, or use \"signedIdentity\": {\"type\": \"exactRepository\", ...}".into(),
            ),
            IdentityError::NotAccepted(_) => {
                let Ok(signed_ref) = Reference::parse_normalized(signed) else {
                    continue;
                };
                let same_repo = reference.is_some_and(|r| r.name() == signed_ref.name());
                let rule = if same_repo {
                    "{\"type\": \"matchRepository\"}".to_string()
                } else {
                    format!(
                        "{{\"type\": \"exactRepository\", \"dockerRepository\": \"{}\"}}",
                        signed_ref.name()
                    )
                };
                let hint = format!(
                    "the signature names {}{}; the signedBy requirement would accept it with \"signedIdentity\": {rule}",
                    signed,
                    reference.map(|r| format!(", not {r}")).unwrap_or_default()
                );
                if !out.contains(&hint) {
                    out.push(hint);
                }
            }
        }
    }
    out
}

/// The human-readable report: a table, then the hints of each denial.
pub fn table(rows: &[Row]) -> String {
    const HEAD: [&str; 7] = [
        "KIND",
        "NAME",
        "REFERENCE",
        "IMAGE ID",
        "DIGEST",
        "VERDICT",
        "REASON",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                match r.kind {
                    Kind::Image => "image".into(),
                    Kind::Container => "container".into(),
                },
                sanitize(r.container.as_deref().unwrap_or("-")),
                sanitize(r.reference.as_deref().unwrap_or("<none>")),
                short(&r.image_id),
                r.manifest_digest
                    .as_deref()
                    .map(|d| {
                        let (alg, hex) = d.split_once(':').unwrap_or(("", d));
                        format!("{alg}:{}", short(hex))
                    })
                    .unwrap_or_else(|| "-".into()),
                match r.verdict {
                    RowVerdict::Allow => "allow".into(),
                    RowVerdict::Deny => "DENY".into(),
                },
                sanitize(&r.reason),
            ]
        })
        .collect();
    let mut width = HEAD.map(str::len);
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut l = String::new();
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                l.push_str(c);
                l.extend(std::iter::repeat_n(' ', width[i] - c.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&HEAD.map(String::from));
    for c in &cells {
        line(c);
    }
    let denied: Vec<&Row> = rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Deny)
        .collect();
    let mut seen = Vec::new();
    for r in &denied {
        if r.hints.is_empty() || seen.contains(&(&r.image_id, &r.reference)) {
            continue;
        }
        seen.push((&r.image_id, &r.reference));
        out.push_str(&format!(
            "\n{} ({}):\n",
            sanitize(r.reference.as_deref().unwrap_or("<none>")),
            short(&r.image_id)
        ));
        for h in &r.hints {
            out.push_str(&format!("  hint: {}\n", sanitize(h)));
        }
    }
    out.push_str(&format!(
        "\n{} checked, {} would be blocked\n",
        rows.len(),
        denied.len()
    ));
    out
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(sigs: usize, digests: &[&str], replaced: bool) -> storage::Image {
        storage::Image {
            id: "a".repeat(64),
            names: vec!["registry.example.com/app:1".into()],
            digests: digests.iter().map(|s| s.to_string()).collect(),
            manifest: Vec::new(),
            manifest_digest: format!("sha256:{}", "1".repeat(64)),
            signatures: (0..sigs)
                .map(|_| crate::signature::Signature::SimpleSigning(vec![0xa3]))
                .collect(),
            replaced_signatures: replaced,
        }
    }

    fn r(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap().with_default_tag()
    }

    const M: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const L: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn a_local_image_is_said_to_be_local() {
        let reg = RegistriesD::default();
        let h = hints(
            &image(0, &[M], false),
            Some(&r("localhost/app:1")),
            &[],
            &reg,
        );
        assert!(h[0].contains("built or loaded locally"), "{h:?}");
        assert!(h[1].contains("\"localhost/app\": [{\"type\": \"insecureAcceptAnything\"}]"));
    }

    #[test]
    fn a_registry_without_lookaside_is_named() {
        let h = hints(
            &image(0, &[M], false),
            Some(&r("registry.example.com/app:1")),
            &[],
            &RegistriesD::default(),
        );
        assert!(
            h[0].contains("gives a lookaside for registry.example.com"),
            "{h:?}"
        );
    }

    #[test]
    fn a_list_or_replaced_signatures_are_named() {
        let reference = r("registry.example.com/app:1");
        let h = hints(
            &image(0, &[L, M], false),
            Some(&reference),
            &[],
            &RegistriesD::default(),
        );
        assert!(h[0].contains("pulled from a manifest list"), "{h:?}");
        let h = hints(
            &image(0, &[M], true),
            Some(&reference),
            &[],
            &RegistriesD::default(),
        );
        assert!(h[0].contains("signatures were replaced"), "{h:?}");
        assert!(h[0].contains("podman pull registry.example.com/app:1"));
        // Asked under a local name, the pull names the image's name on a registry.
        let h = hints(
            &image(0, &[M], true),
            Some(&r("localhost/app:dev")),
            &[],
            &RegistriesD::default(),
        );
        assert!(
            h[0].contains("podman pull registry.example.com/app:1"),
            "{h:?}"
        );
        assert!(!h[0].contains("podman pull localhost"), "{h:?}");
    }

    #[test]
    fn an_identity_mismatch_names_the_rule_that_would_accept_it() {
        let reg = RegistriesD::default();
        let fail = |signed: &str| SigFailure::Identity {
            signer: "K".into(),
            signed: signed.into(),
            error: IdentityError::NotAccepted(signed.into()),
        };
        let reference = r("registry.example.com/app:1");
        let h = hints(
            &image(1, &[M], false),
            Some(&reference),
            &[fail("registry.example.com/app:2")],
            &reg,
        );
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].contains("{\"type\": \"matchRepository\"}"), "{h:?}");
        let h = hints(
            &image(1, &[M], false),
            Some(&reference),
            &[fail("mirror.example.com/x/app:1")],
            &reg,
        );
        assert!(
            h[0].contains("\"dockerRepository\": \"mirror.example.com/x/app\""),
            "{h:?}"
        );
        // A signed image whose signatures fail for other reasons gets no hint.
        let h = hints(
            &image(1, &[M], false),
            Some(&reference),
            &[SigFailure::Crypto("untrusted".into())],
            &reg,
        );
        assert!(h.is_empty());
    }

    #[test]
    fn the_table_aligns_and_escapes() {
        let row = Row {
            kind: Kind::Container,
            container: Some("web\u{1b}[2J".into()),
            reference: Some("docker.io/library/busybox:latest".into()),
            image_id: "b".repeat(64),
            manifest_digest: Some(M.into()),
            verdict: RowVerdict::Deny,
            scope: "default".into(),
            requirement: Some("signedBy"),
            reason: "signedBy: no signature".into(),
            hints: vec!["do this".into()],
        };
        let t = table(&[row]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("KIND       NAME"), "{t}");
        assert!(!t.contains('\u{1b}'));
        assert!(
            lines[1].contains("bbbbbbbbbbbb  sha256:111111111111  DENY"),
            "{t}"
        );
        assert!(t.contains("  hint: do this"));
        assert!(t.ends_with("1 checked, 1 would be blocked\n"));
    }
}
