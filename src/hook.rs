//! The prestart hook: OCI state on stdin → the container and its image in containers/storage →
//! the verdict → an audit record, a reason on stderr for a deny, and the exit code.
//!
//! Runtimes run hooks as the OCI runtime spec's "POSIX-platform Hooks" say: the state on stdin,
//! and any non-zero exit blocks the start. Everything before the verdict that fails denies,
//! unless the policy accepts any image (`verdict::settle`).

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use crate::audit::{self, Record, Verdict};
use crate::config::Mode;
use crate::exit::Exit;
use crate::policy::Policy;
use crate::settings::HookSettings;
use crate::storage::{self, Container, StorageError, Store};
use crate::verdict::{self, CacheUse, Decision, ImagelessRule, Outcome, Reason, Verification};
use crate::verify::PolicyKeys;
use crate::{build, decisions, privilege, state, words};

/// Runs the hook for the container whose state is on `stdin`: decides, records, and returns the
/// exit code (`Allow` for an allow or a warn-mode would-deny, `Deny` otherwise).
pub fn run(settings: &HookSettings, stdin: impl Read) -> Exit {
    let (mut verdict, record) = decide(settings, stdin);
    if verdict == Verdict::Deny && settings.mode == Mode::Warn {
        verdict = Verdict::WouldDeny;
    }
    let exit = report(verdict, &record, &settings.syslog_socket);
    if let Some(dir) = &settings.decisions {
        let line = match verdict {
            Verdict::Allow => String::new(),
            Verdict::Deny | Verdict::WouldDeny => deny_line(&record),
        };
        decisions::record(dir, &record.container, &record.format(verdict), &line);
    }
    exit
}

/// Reaches a verdict for the container whose state is on `stdin`, and the record that says so.
/// Never panics on bad input; an error is a deny with its reason (or an allow with it, when the
/// policy accepts any image).
pub fn decide(settings: &HookSettings, stdin: impl Read) -> (Verdict, Record) {
    let mut record = Record {
        policy: settings.policy.clone(),
        ..Record::default()
    };
    let outcome = evaluate(settings, stdin, &mut record);
    let verdict = if outcome.allows() {
        Verdict::Allow
    } else {
        Verdict::Deny
    };
    record.reason = words::plain(&outcome.to_string());
    (verdict, record)
}

fn evaluate(settings: &HookSettings, stdin: impl Read, record: &mut Record) -> Outcome {
    let deadline = Instant::now() + settings.timeout;
    // What the admin's policy names is read with the rights the hook was started with, as
    // containers/image reads it in the process that pulls: the policy and every key file in it.
    let loaded = Policy::load_with_bytes(&settings.policy);
    let keys = loaded.as_ref().ok().map(|(p, _)| PolicyKeys::load(p));
    // Nothing from the runtime, the store or an image has been read yet: give up every privilege.
    let dropped = if settings.keep_privileges {
        Ok(())
    } else {
        privilege::drop_all()
    };
    let state = match state::read(stdin) {
        Ok(s) => s,
        Err(e) => return verdict::settle(None, Err(e.into())),
    };
    record.container = state.id.clone();
    // The container and its image are named in every record that can name them, also when the
    // policy is what failed.
    let rootless = settings.rootless;
    let found = if dropped.is_ok() {
        locate(&state, rootless, deadline)
    } else {
        Err(StorageError::Bundle(state.bundle.clone()))
    };
    if let Ok((_, c)) = &found {
        record.container_name = c.names.first().cloned().unwrap_or_default();
        record.image_id = c.image_id.clone();
        record.image = c.image_name.clone().unwrap_or_default();
    }
    let (policy, policy_bytes) = match &loaded {
        Ok(p) => p,
        Err(e) => return verdict::settle(None, Err(e.clone().into())),
    };
    let settle = |r: Reason| verdict::settle(Some(policy), Err(r));
    if let Err(e) = dropped {
        return settle(e.into());
    }
    let (store, container) = match found {
        Ok(f) => f,
        Err(e) => return settle(e.into()),
    };
    let empty = PolicyKeys::empty();
    let how = Verification {
        verifier: settings.verifier.as_ref(),
        keys: keys.as_ref().unwrap_or(&empty),
        imageless: ImagelessRule {
            setting: settings.imageless,
            config: settings.config.clone(),
        },
        cache: settings.cache.as_ref().map(|cache| CacheUse {
            cache,
            policy_bytes,
            mode: settings.mode,
        }),
        host_root: settings.host_root,
    };
    let (reference, decision) = verdict::container(
        policy,
        &store,
        &container,
        &state.annotations,
        deadline,
        &how,
    );
    let Decision {
        scope,
        image,
        outcome,
    } = decision;
    if let Some(r) = &reference {
        record.image = r.to_string();
    }
    record.scope = scope.map(|s| s.to_string()).unwrap_or_default();
    record.manifest_digest = image.map(|i| i.manifest_digest).unwrap_or_default();
    outcome
}

/// The store and the container the runtime is starting, from the bundle: a container in
/// containers/storage (podman, CRI-O), or a build step (`build_step`).
fn locate(
    state: &state::ContainerState,
    rootless: bool,
    deadline: Instant,
) -> Result<(Store, Container), StorageError> {
    match Store::from_bundle(&state.bundle, &state.id, rootless, || {
        storage::conf::load(rootless)
    }) {
        Ok((store, id)) => store.container(&id, deadline).map(|c| (store, c)),
        Err(StorageError::Bundle(b)) => {
            build_step(&state.bundle, rootless, deadline)?.ok_or(StorageError::Bundle(b))
        }
        Err(e) => Err(e),
    }
}

/// A buildah (`podman build`) RUN step, judged as a container of the image the step builds on.
///
/// buildah runs each RUN step from a bundle of its own (`$TMPDIR/buildahNNN`) whose root is a
/// mount of the working container's layer: the mount table says which layer and store
/// (`build::working_layer`), the store which working container has that layer, and buildah's
/// state file which image it was made from, under which name. A step of a stage built on an
/// unnamed image of the same build (the image of an earlier step, or of an earlier stage) is
/// judged by the named image that one was built on (`Store::named_ancestor`): its layers are
/// that image's, plus what earlier steps, each judged in turn, added. A stage `FROM scratch` has
/// no image (`imageless`), in every step. `None` if the bundle is not a build step of a store.
fn build_step(
    bundle: &Path,
    rootless: bool,
    deadline: Instant,
) -> Result<Option<(Store, Container)>, StorageError> {
    let Ok(root) = build::root_path(bundle) else {
        return Ok(None);
    };
    let mountinfo = build::read_mountinfo().map_err(|source| StorageError::Read {
        path: "/proc/self/mountinfo".into(),
        source,
    })?;
    let Some((graphroot, driver, layer)) = build::working_layer(&mountinfo, &root) else {
        return Ok(None);
    };
    let store = Store::open(&graphroot, None, &driver, rootless)?;
    let Some(working) = store.container_by_layer(&layer, deadline)? else {
        return Ok(None);
    };
    let Some(buildah) = store.buildah_state(&working)? else {
        return Ok(None);
    };
    let from_id = buildah.from_image_id.clone().unwrap_or_default();
    if from_id != working.image_id {
        return Err(StorageError::Image {
            id: working.image_id.clone(),
            reason: format!(
                "buildah's state for working container {} names image {from_id:?}",
                working.id
            ),
        });
    }
    let mut step = Container {
        image_name: buildah.from_image.filter(|n| !n.is_empty()),
        ..working
    };
    let unnamed = matches!(
        verdict::claimed_reference(&store, &step, deadline),
        Ok(None)
    );
    if !step.image_id.is_empty() && unnamed {
        match store.named_ancestor(&step.image_id, deadline)? {
            Some(base) => {
                step.image_name = base.names.first().cloned();
                step.image_id = base.id;
            }
            // Built on nothing: a later step of a stage FROM scratch, image-less like its first.
            None => {
                step.image_name = None;
                step.image_id = String::new();
            }
        }
    }
    Ok(Some((store, step)))
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
            words::plain(&audit::sanitize(&e))
        );
    }
    exit
}

/// The one line an admin reads in podman's error message: `blocked container start: container
/// NAME (ID 12 hex digits), image NAME (ID 12 hex digits, manifest DIGEST): REASON (policy PATH,
/// scope SCOPE)`, each part left out when unknown; every value escaped (`audit::sanitize`).
pub fn deny_line(r: &Record) -> String {
    let s = audit::sanitize;
    let mut parts = Vec::new();
    match (r.container_name.is_empty(), r.container.is_empty()) {
        (false, _) => parts.push(format!(
            "container {} (ID {})",
            s(&r.container_name),
            short(&s(&r.container))
        )),
        (true, false) => parts.push(format!("container {}", short(&s(&r.container)))),
        (true, true) => {}
    }
    if !r.image.is_empty() || !r.image_id.is_empty() {
        let image = if r.image.is_empty() {
            "(no name)".to_string()
        } else {
            s(&r.image)
        };
        let mut ids = Vec::new();
        if !r.image_id.is_empty() {
            ids.push(format!("ID {}", short(&r.image_id)));
        }
        if !r.manifest_digest.is_empty() {
            ids.push(format!("manifest {}", r.manifest_digest));
        }
        if ids.is_empty() {
            parts.push(format!("image {image}"));
        } else {
            parts.push(format!("image {image} ({})", ids.join(", ")));
        }
    }
    let mut line = String::from("blocked container start");
    if !parts.is_empty() {
        line.push_str(&format!(": {}", parts.join(", ")));
    }
    line.push_str(&format!(": {}", s(&r.reason)));
    let mut context = vec![format!("policy {}", r.policy.display())];
    if !r.scope.is_empty() {
        context.push(format!("scope {}", s(&r.scope)));
    }
    line.push_str(&format!(" ({})", context.join(", ")));
    words::plain(&line)
}

/// A 64-hex ID's first 12 digits, as podman shows IDs; any other ID (buildah's
/// `buildah-buildahNNN`) whole.
fn short(id: &str) -> String {
    if id.len() == 64 && crate::manifest::is_lower_hex(id) {
        id[..12].to_string()
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_line_names_image_ids_reason_policy_and_scope() {
        let r = Record {
            container: "0123456789ab".repeat(5) + "cdef",
            container_name: "web".into(),
            image: "example.com/app:1".into(),
            image_id: "fedcba987654".repeat(5) + "3210",
            manifest_digest: "sha256:aa".into(),
            policy: "/etc/containers/policy.json".into(),
            scope: "docker example.com".into(),
            reason: "signedBy: no signature exists\n".into(),
        };
        assert_eq!(
            deny_line(&r),
            "blocked container start: container web (ID 0123456789ab), image example.com/app:1 \
             (ID fedcba987654, manifest sha256:aa): signedBy: no signature exists\\u{a} \
             (policy /etc/containers/policy.json, scope docker example.com)"
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
        // IDs that are not podman's 64 hex digits (buildah's) are shown whole.
        let build = Record {
            container: "buildah-buildah123".into(),
            container_name: "app-working-container".into(),
            ..early
        };
        assert!(deny_line(&build).starts_with(
            "blocked container start: container app-working-container (ID buildah-buildah123): "
        ));
    }
}
