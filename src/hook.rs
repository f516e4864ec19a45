//! The prestart hook: OCI state on stdin → the container and its image in containers/storage →
//! the verdict → an audit record, a reason on stderr for a deny, and the exit code.
//!
//! Runtimes run hooks as the OCI runtime spec's "POSIX-platform Hooks" say: the state on stdin,
//! and any non-zero exit blocks the start. Everything before the verdict that fails denies,
//! unless the policy accepts any image (`verdict::settle`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::audit::{self, Engine, Record, Verdict};
use crate::config::Mode;
use crate::exit::Exit;
use crate::policy::Policy;
use crate::settings::HookSettings;
use crate::storage::{self, Container, StorageError, Store};
use crate::verdict::{self, CacheUse, Decision, ImagelessRule, Outcome, Reason, Verification};
use crate::verify::PolicyKeys;
use crate::{build, decisions, privilege, repeats, state, words};

/// Runs the hook for the container whose state is on `stdin`: decides, records, and returns the
/// exit code (`Allow` for an allow or a warn-mode would-deny, `Deny` otherwise). Lock waits end
/// at the deadline; nothing else is watched (see `run_watched`).
pub fn run(settings: &HookSettings, stdin: impl Read) -> Exit {
    run_until(settings, stdin, Instant::now() + settings.timeout, &|_| {})
}

/// `run`, as the hook process runs it: the whole decision, counted from `started`, ends by
/// `--timeout`. A watchdog thread ends it there if the hook has not reached its verdict: it ends
/// the gpg processes the hook started, removes their temporary homes, denies (warn mode: records
/// a would-deny and exits 0) saying what the hook was waiting for, and exits the process.
pub fn run_watched(started: Instant, settings: &HookSettings, stdin: impl Read) -> Exit {
    let deadline = started + settings.timeout;
    let known = Arc::new(Mutex::new(first_record(settings)));
    let watch = Watch {
        deadline,
        timeout: settings.timeout,
        mode: settings.mode,
        keep_privileges: settings.keep_privileges,
        sinks: settings.sinks.clone(),
        decisions: settings.decisions.clone(),
        known: Arc::clone(&known),
    };
    if let Err(e) = std::thread::Builder::new()
        .name("deadline".into())
        .spawn(move || watch.run())
    {
        // Without the watchdog nothing would bound a gpg run: fail closed, as for any internal
        // error.
        let record = Record {
            reason: format!("cannot enforce --timeout (no thread for it: {e})"),
            ..first_record(settings)
        };
        let verdict = match settings.mode {
            Mode::Warn => Verdict::WouldDeny,
            Mode::Enforce => Verdict::Deny,
        };
        return report(verdict, &record, &settings.sinks);
    }
    let note = |r: &Record| *known.lock().unwrap_or_else(|e| e.into_inner()) = r.clone();
    run_until(settings, stdin, deadline, &note)
}

fn run_until(
    settings: &HookSettings,
    stdin: impl Read,
    deadline: Instant,
    note: &dyn Fn(&Record),
) -> Exit {
    let (mut verdict, record) = decide_until(settings, stdin, deadline, note);
    if !crate::deadline::settle() {
        // The watchdog has claimed the report (a deny) and is ending the process.
        loop {
            std::thread::park();
        }
    }
    if verdict == Verdict::Deny && settings.mode == Mode::Warn {
        verdict = Verdict::WouldDeny;
    }
    let exit = say(verdict, &record);
    // What is written to the audit trail may be coalesced (`repeats`); the verdict, the exit code,
    // the line on stderr and the decision for `why` never are.
    let plan = match &settings.repeats {
        Some(dir) => repeats::coalesce(
            dir,
            verdict,
            &record,
            SystemTime::now(),
            settings.repeat_window,
        ),
        None => repeats::Plan::as_is(&record),
    };
    if let Some((v, flushed)) = &plan.flush {
        audit_or_say(*v, flushed, &settings.sinks);
    }
    if let Some(written) = &plan.write {
        audit_or_say(verdict, written, &settings.sinks);
    }
    if let Some(dir) = &settings.repeats {
        let now = SystemTime::now();
        for (v, flushed) in repeats::overdue(dir, &record.container, now, settings.repeat_window) {
            audit_or_say(v, &flushed, &settings.sinks);
        }
    }
    if let Some(dir) = &settings.decisions {
        keep(dir, verdict, &record);
    }
    exit
}

/// Keeps the decision for `why`.
fn keep(dir: &Path, verdict: Verdict, record: &Record) {
    let line = match verdict {
        Verdict::Allow => String::new(),
        Verdict::Deny | Verdict::WouldDeny => deny_line(record),
    };
    decisions::record(dir, &record.container, &record.format(verdict), &line);
}

/// How long after the deadline the watchdog acts: a lock wait that ends at the deadline gives its
/// own reason first.
const GRACE: Duration = Duration::from_millis(200);

/// How long the watchdog waits for syslog to take its record before it exits anyway.
const AUDIT_WAIT: Duration = Duration::from_millis(500);

/// What the watchdog needs to deny on its own: the deadline, how to report, and what the hook
/// knows so far of the container and its image.
struct Watch {
    deadline: Instant,
    timeout: Duration,
    mode: Mode,
    keep_privileges: bool,
    sinks: audit::Sinks,
    decisions: Option<PathBuf>,
    known: Arc<Mutex<Record>>,
}

impl Watch {
    fn run(self) {
        // Capabilities and no_new_privs belong to each thread: this one gives up its own, as the
        // hook's thread does before it reads anything from the runtime or the store. Killing
        // gpg, removing its home and writing the records need none. (If this fails, so does the
        // hook's own drop, which denies.)
        if !self.keep_privileges {
            let _ = privilege::drop_all();
        }
        let fire = self.deadline + GRACE;
        let now = Instant::now();
        if fire > now {
            std::thread::sleep(fire - now);
        }
        if !crate::deadline::expire() {
            // The hook reached its verdict in time, and reports it.
            return;
        }
        // Fixed before anything else: whatever happens below, the process exits with this, and
        // it never allows in enforce mode.
        let (verdict, code) = match self.mode {
            Mode::Warn => (Verdict::WouldDeny, Exit::Allow),
            Mode::Enforce => (Verdict::Deny, Exit::Deny),
        };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deny(verdict)));
        exit_now(code)
    }

    fn deny(&self, verdict: Verdict) {
        let doing = crate::deadline::activity();
        crate::residue::end();
        let mut record = self.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut reason = format!(
            "the decision took longer than --timeout {} s",
            self.timeout.as_secs_f64()
        );
        if !doing.is_empty() {
            reason.push_str(&format!(" (while {doing})"));
        }
        record.reason = words::plain(&reason);
        say(verdict, &record);
        // syslog gets a moment, not its usual 2 s: the runtime's own timeout is near.
        let (tx, rx) = std::sync::mpsc::channel();
        let (sinks, audited) = (self.sinks.clone(), record.clone());
        let _ = std::thread::Builder::new().spawn(move || {
            audit_or_say(verdict, &audited, &sinks);
            let _ = tx.send(());
        });
        if rx.recv_timeout(AUDIT_WAIT).is_err() {
            eprintln!(
                "oci-signature-hook: audit record not written: the journal, syslog or the file did not take it in time"
            );
        }
        if let Some(dir) = &self.decisions {
            keep(dir, verdict, &record);
        }
    }
}

/// Exits at once, without running exit handlers: the hook's own thread may be inside gpgme.
#[allow(unsafe_code)]
fn exit_now(code: Exit) -> ! {
    use std::io::Write;
    let _ = std::io::stderr().flush();
    // SAFETY: _exit(2) ends the process; it takes a plain integer and touches no memory.
    unsafe { libc::_exit(code as i32) }
}

/// Reaches a verdict for the container whose state is on `stdin`, and the record that says so.
/// Never panics on bad input; an error is a deny with its reason (or an allow with it, when the
/// policy accepts any image).
pub fn decide(settings: &HookSettings, stdin: impl Read) -> (Verdict, Record) {
    decide_until(settings, stdin, Instant::now() + settings.timeout, &|_| {})
}

/// `decide`, with lock waits ending at `deadline`, and `note` told what the record holds each
/// time it learns more (for the watchdog's record, if it comes to that).
fn decide_until(
    settings: &HookSettings,
    stdin: impl Read,
    deadline: Instant,
    note: &dyn Fn(&Record),
) -> (Verdict, Record) {
    let mut record = first_record(settings);
    let outcome = evaluate(settings, stdin, deadline, &mut record, note);
    let verdict = if outcome.allows() {
        Verdict::Allow
    } else {
        Verdict::Deny
    };
    record.reason = words::plain(&outcome.to_string());
    record.requirement = outcome.requirement();
    record.cached = outcome.cached();
    (verdict, record)
}

/// What a record says before anything is read: the policy, and whom the hook runs for.
fn first_record(settings: &HookSettings) -> Record {
    Record {
        policy: settings.policy.clone(),
        uid: Some(settings.uid),
        rootless: Some(settings.rootless),
        ..Record::default()
    }
}

fn evaluate(
    settings: &HookSettings,
    stdin: impl Read,
    deadline: Instant,
    record: &mut Record,
    note: &dyn Fn(&Record),
) -> Outcome {
    crate::deadline::doing("reading the policy and its keys");
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
    crate::deadline::doing("reading the container's state from the runtime");
    let state = match state::read(stdin) {
        Ok(s) => s,
        Err(e) => return verdict::settle(None, Err(e.into())),
    };
    record.container = state.id.clone();
    note(record);
    crate::deadline::doing("reading the container's record in the store");
    // The container and its image are named in every record that can name them, also when the
    // policy is what failed.
    let rootless = settings.rootless;
    let found = if dropped.is_ok() {
        locate(&state, rootless, deadline)
    } else {
        Err(StorageError::Bundle(state.bundle.clone()))
    };
    if let Ok((_, c, engine)) = &found {
        record.engine = Some(*engine);
        record.container_name = c.names.first().cloned().unwrap_or_default();
        record.image_id = c.image_id.clone();
        record.image = c.image_name.clone().unwrap_or_default();
        note(record);
    }
    let (policy, policy_bytes) = match &loaded {
        Ok(p) => p,
        Err(e) => return verdict::settle(None, Err(e.clone().into())),
    };
    let settle = |r: Reason| verdict::settle(Some(policy), Err(r));
    if let Err(e) = dropped {
        return settle(e.into());
    }
    let (store, container, _) = match found {
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
    crate::deadline::doing("judging the image");
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

/// The store and the container the runtime is starting, from the bundle, and what started it: a
/// container in containers/storage (podman's bundle is in the graph root, CRI-O's in the run
/// root), or a build step (`build_step`, buildah's).
fn locate(
    state: &state::ContainerState,
    rootless: bool,
    deadline: Instant,
) -> Result<(Store, Container, Engine), StorageError> {
    match Store::from_bundle(&state.bundle, &state.id, rootless, || {
        storage::conf::load(rootless)
    }) {
        Ok((store, id)) => {
            let engine = if state.bundle.starts_with(&store.graphroot) {
                Engine::Podman
            } else {
                Engine::CriO
            };
            store.container(&id, deadline).map(|c| (store, c, engine))
        }
        Err(StorageError::Bundle(b)) => build_step(&state.bundle, rootless, deadline)?
            .map(|(store, c)| (store, c, Engine::Buildah))
            .ok_or(StorageError::Bundle(b)),
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
pub fn report(verdict: Verdict, record: &Record, sinks: &audit::Sinks) -> Exit {
    let exit = say(verdict, record);
    audit_or_say(verdict, record, sinks);
    exit
}

/// For a deny, the reason on stderr; the exit code.
fn say(verdict: Verdict, record: &Record) -> Exit {
    // The reason comes first: podman shows the hook's stderr in its error message, and readers
    // (and some log collectors) stop at the first line.
    match verdict {
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
    }
}

/// The audit record, or on stderr why it could not be written anywhere.
fn audit_or_say(verdict: Verdict, record: &Record, sinks: &audit::Sinks) {
    if let Err(e) = audit::deliver(sinks, verdict, record) {
        eprintln!(
            "oci-signature-hook: audit record not written: {}",
            words::plain(&audit::sanitize(&e))
        );
    }
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
            ..Record::default()
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
