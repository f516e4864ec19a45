//! The audit trail: one record per decision, and the one-line reason on stderr for a deny.
//!
//! A record is a fixed list of facts ([`Record::fields`]). It is written, in this order of
//! preference, to:
//!
//! - **the journal**, through journald's native socket (`/run/systemd/journal/socket`), as
//!   structured fields (`VERDICT=`, `CONTAINER_ID=`, …) with the syslog line as `MESSAGE=`
//!   ([`journal`]);
//! - **syslog**, through `/dev/log`, as one line of `key=value` pairs in a fixed order
//!   ([`Record::format`]) with the identifier `oci-signature-hook` and facility `auth`. When the
//!   journal took the record and `/dev/log` is journald's own socket (`dev-log` beside the native
//!   one), this is skipped: the journal would hold the record twice;
//! - **a file**, only when neither socket took it: the same line with a timestamp, appended to
//!   `/var/log/oci-signature-hook.log` (a rootless user's own state directory), bounded in size
//!   ([`mod@file`]).
//!
//! Names, tags and identities come from whoever pushed or tagged an image, so every value is
//! escaped before it is written anywhere. Sending waits at most [`SEND_TIMEOUT`] for both sockets
//! together. If no destination takes a record, the verdict stands, and stderr says so once.

pub mod file;
pub mod journal;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use syslog::{Facility, Formatter3164};

/// The syslog identifier (`APP-NAME`/tag) of every record, and its journal `SYSLOG_IDENTIFIER`.
pub const IDENT: &str = "oci-signature-hook";
/// The syslog socket records go to unless `--syslog-socket` says otherwise.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// The decision for one container start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Allow,
    Deny,
    /// Warn mode: the policy rejects the image, and the start goes ahead.
    WouldDeny,
}

impl Verdict {
    /// The word records use: `allow`, `deny`, `would-deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::WouldDeny => "would-deny",
        }
    }

    /// The syslog severity: `info` (6) for an allow, `warning` (4) otherwise.
    pub fn priority(self) -> u8 {
        match self {
            Verdict::Allow => 6,
            Verdict::Deny | Verdict::WouldDeny => 4,
        }
    }
}

/// What started the container, as the hook finds it: where the runtime's bundle is, not what
/// anyone claims in an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Engine {
    /// A bundle in a store's graph root: podman (pod infra containers and containers without an
    /// image included).
    Podman,
    /// A bundle in a store's run root, as CRI-O lays them out.
    CriO,
    /// A `podman build` / buildah RUN step (`hook::build_step`).
    Buildah,
}

impl Engine {
    /// The word records use: `podman`, `cri-o`, `buildah`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::CriO => "cri-o",
            Engine::Buildah => "buildah",
        }
    }
}

/// Identical decisions a record stands for besides its own (`repeats`): how many, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeats {
    /// How many identical decisions for the same container were not written one by one.
    pub count: u64,
    /// When the first of them was made.
    pub since: SystemTime,
}

/// Everything one audit record holds. Unknown fields stay empty (written `-`; left out of the
/// journal's fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The container's ID (a runtime's 64 hex digits; buildah's `buildah-buildahNNN`).
    pub container: String,
    /// The container's name (podman's `--name`), when the store could be read.
    pub container_name: String,
    /// What started it, once the bundle was found in a store or as a build step.
    pub engine: Option<Engine>,
    /// The host UID the hook runs for (a rootless user's own UID; 0 for root).
    pub uid: Option<u32>,
    /// Whether that is a rootless user.
    pub rootless: Option<bool>,
    /// The reference the image is judged under.
    pub image: String,
    /// The image's ID (64 hex digits).
    pub image_id: String,
    /// The digest of the manifest the container runs, when it was read.
    pub manifest_digest: String,
    /// The policy file.
    pub policy: PathBuf,
    /// The policy entry whose requirements applied (`docker example.com`, `default`).
    pub scope: String,
    /// For a deny, the type of the requirement that failed (`signedBy`); for an allow, the
    /// requirement types that passed, comma-separated, or the grounds (`insecureAcceptAnything`
    /// for a policy that accepts any image, `pod-infra`, `imageless`). Empty when the decision
    /// came before any requirement (an unreadable state or store).
    pub requirement: String,
    /// Whether the allow came from the verdict cache.
    pub cached: bool,
    /// Identical decisions this record also stands for (`repeats`).
    pub repeats: Option<Repeats>,
    /// The reason, in words.
    pub reason: String,
}

/// One fact of a record: its `key` in the syslog line, its field name in the journal, and its
/// value (unescaped; empty if unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub journal: &'static str,
    pub value: String,
}

impl Record {
    /// The record's facts in their fixed order: `verdict`, `container`, `name`, `engine`, `uid`,
    /// `rootless`, `image`, `image_id`, `manifest_digest`, `policy`, `scope`, `requirement`,
    /// `cached`, then `repeats` and `since` only when the record stands for repeats, and `reason`
    /// last (the one long, free text).
    pub fn fields(&self, verdict: Verdict) -> Vec<Field> {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        let f = |key, journal, value: String| Field {
            key,
            journal,
            value,
        };
        let mut out = vec![
            f("verdict", "VERDICT", verdict.as_str().into()),
            f("container", "CONTAINER_ID", self.container.clone()),
            f("name", "CONTAINER_NAME", self.container_name.clone()),
            f(
                "engine",
                "ENGINE",
                self.engine.map(|e| e.as_str().into()).unwrap_or_default(),
            ),
            f(
                "uid",
                "INVOKER_UID",
                self.uid.map(|u| u.to_string()).unwrap_or_default(),
            ),
            f(
                "rootless",
                "ROOTLESS",
                self.rootless.map(yes_no).unwrap_or_default(),
            ),
            f("image", "IMAGE", self.image.clone()),
            f("image_id", "IMAGE_ID", self.image_id.clone()),
            f(
                "manifest_digest",
                "MANIFEST_DIGEST",
                self.manifest_digest.clone(),
            ),
            f(
                "policy",
                "POLICY",
                self.policy.to_string_lossy().into_owned(),
            ),
            f("scope", "SCOPE", self.scope.clone()),
            f("requirement", "REQUIREMENT", self.requirement.clone()),
            f("cached", "CACHED", yes_no(self.cached)),
        ];
        if let Some(r) = &self.repeats {
            out.push(f("repeats", "REPEATS", r.count.to_string()));
            out.push(f("since", "REPEATS_SINCE", file::utc(r.since)));
        }
        out.push(f("reason", "REASON", self.reason.clone()));
        out
    }

    /// The syslog line: every field as `key=value` (`quote`), in the order of `fields`.
    pub fn format(&self, verdict: Verdict) -> String {
        let mut s = String::new();
        for field in self.fields(verdict) {
            if !s.is_empty() {
                s.push(' ');
            }
            let _ = write!(s, "{}={}", field.key, quote(&field.value));
        }
        s
    }
}

/// How long sending one record may take, both sockets together. A receiver that stops reading
/// must not stall every container start: past this, the record goes to the next destination and,
/// if none takes it, is dropped and stderr says so.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// Where records go: the journal's native socket, the syslog socket, and the file used when
/// neither takes a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sinks {
    /// journald's native socket (`--journal-socket`, default `journal::DEFAULT_SOCKET`).
    pub journal: PathBuf,
    /// The syslog socket (`--syslog-socket`, default `/dev/log`).
    pub syslog: PathBuf,
    /// The file for records no socket took (`--log-file`, the config file's `log_file`, else
    /// `file::default_path`); `None` if no path could be had (a rootless user without a home).
    pub file: Option<file::FileSink>,
}

/// Where a record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivered {
    pub journal: bool,
    pub syslog: bool,
    pub file: bool,
}

/// Writes the record to the journal, then syslog (unless that is the journal again), then, if
/// neither took it, the file. `Err` says why it reached none of them.
pub fn deliver(sinks: &Sinks, verdict: Verdict, record: &Record) -> Result<Delivered, String> {
    let give_up = Instant::now() + SEND_TIMEOUT;
    let mut done = Delivered::default();
    let mut why = Vec::new();
    let line = record.format(verdict);
    match journal::send(&sinks.journal, verdict, record, &line, give_up) {
        Ok(sent) => done.journal = sent,
        Err(e) => why.push(e),
    }
    if !(done.journal && journal::is_journal_syslog(&sinks.journal, &sinks.syslog)) {
        match syslog_send(&sinks.syslog, verdict, &line, give_up) {
            Ok(()) => done.syslog = true,
            Err(e) => why.push(e),
        }
    }
    if done.journal || done.syslog {
        return Ok(done);
    }
    match &sinks.file {
        Some(f) => match f.append(&line) {
            Ok(()) => {
                done.file = true;
                Ok(done)
            }
            Err(e) => {
                why.push(e);
                Err(why.join("; "))
            }
        },
        None => {
            why.push("no file for records (no home directory)".into());
            Err(why.join("; "))
        }
    }
}

/// What is left of the time until `give_up`, at least a millisecond (a zero timeout would mean
/// none at all).
pub(crate) fn remaining(give_up: Instant) -> Duration {
    give_up
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// Sends the syslog `line` for a `verdict` to the socket at `socket`; `Err` says why it could not.
pub fn syslog_send(
    socket: &Path,
    verdict: Verdict,
    line: &str,
    give_up: Instant,
) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::net::{UnixDatagram, UnixStream};
    use syslog::{LogFormat, Severity};

    let formatter = Formatter3164 {
        facility: Facility::LOG_AUTH,
        hostname: None,
        process: IDENT.into(),
        pid: std::process::id(),
    };
    // Said plainly: podman reads "no such file or directory" in a hook's error as a missing runtime.
    if std::fs::symlink_metadata(socket).is_err() {
        return Err(format!("there is no syslog socket at {socket:?}"));
    }
    let severity = match verdict {
        Verdict::Allow => Severity::LOG_INFO,
        Verdict::Deny | Verdict::WouldDeny => Severity::LOG_WARNING,
    };
    let mut msg = Vec::new();
    formatter
        .format(&mut msg, severity, line)
        .map_err(|e| format!("cannot format the record: {e}"))?;
    let unreachable = |e: std::io::Error| format!("cannot reach syslog at {socket:?}: {e}");
    let unwritten = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            format!(
                "syslog at {socket:?} did not take the record within {} s",
                SEND_TIMEOUT.as_secs()
            )
        } else {
            format!("cannot write to syslog at {socket:?}: {e}")
        }
    };
    // A datagram socket (journald, rsyslog), or else a stream socket (some syslog-ng setups).
    let dgram = UnixDatagram::unbound().map_err(unreachable)?;
    match dgram.connect(socket) {
        Ok(()) => {
            dgram
                .set_write_timeout(Some(remaining(give_up)))
                .map_err(unreachable)?;
            dgram.send(&msg).map(drop).map_err(unwritten)
        }
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
            stream
                .set_write_timeout(Some(remaining(give_up)))
                .map_err(unreachable)?;
            msg.push(b'\n');
            stream.write_all(&msg).map_err(unwritten)
        }
        Err(e) => Err(unreachable(e)),
    }
}

/// A value as it appears in a record: bare if it is plain, else double-quoted with `"` and `\`
/// escaped. Control, bidi and other invisible characters are escaped as `\u{..}` either way.
pub fn quote(v: &str) -> String {
    let clean = sanitize(v);
    if clean.is_empty() {
        return "-".into();
    }
    if clean
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'=')
    {
        return clean;
    }
    let mut s = String::with_capacity(clean.len() + 2);
    s.push('"');
    for c in clean.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Escapes characters that could forge a line or reorder text on a terminal: C0/C1 controls, DEL,
/// bidi controls, zero-width and line/paragraph separators.
pub fn sanitize(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        let invisible = c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}');
        if invisible {
            let _ = write!(s, "\\u{{{:x}}}", c as u32);
        } else {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_attacker_chosen_text() {
        assert_eq!(sanitize("a\nb\u{202E}c\u{7f}"), "a\\u{a}b\\u{202e}c\\u{7f}");
        assert_eq!(quote("plain:1"), "plain:1");
        assert_eq!(quote(""), "-");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote("x\"y=z"), "\"x\\\"y=z\"");
        // The escape's backslash is itself escaped inside quotes: the record stays one line.
        assert_eq!(
            quote("evil\nverdict=allow"),
            "\"evil\\\\u{a}verdict=allow\""
        );
    }

    fn full() -> Record {
        Record {
            container: "c1".into(),
            container_name: "web".into(),
            engine: Some(Engine::Podman),
            uid: Some(0),
            rootless: Some(false),
            image: "example.com/app:1".into(),
            image_id: "ab".into(),
            manifest_digest: "sha256:cd".into(),
            policy: "/etc/containers/policy.json".into(),
            scope: "docker example.com".into(),
            requirement: "signedBy".into(),
            cached: false,
            repeats: None,
            reason: "no signature exists".into(),
        }
    }

    #[test]
    fn records_have_a_fixed_layout() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let rows: Vec<(&str, Record, Verdict, &str)> = vec![
            (
                "a deny, every field known",
                full(),
                Verdict::Deny,
                "verdict=deny container=c1 name=web engine=podman uid=0 rootless=no \
                 image=example.com/app:1 image_id=ab manifest_digest=sha256:cd \
                 policy=/etc/containers/policy.json scope=\"docker example.com\" \
                 requirement=signedBy cached=no reason=\"no signature exists\"",
            ),
            (
                "a cached allow of a rootless user's build step",
                Record {
                    engine: Some(Engine::Buildah),
                    uid: Some(1001),
                    rootless: Some(true),
                    cached: true,
                    reason: "every requirement is satisfied (cached verdict)".into(),
                    ..full()
                },
                Verdict::Allow,
                "verdict=allow container=c1 name=web engine=buildah uid=1001 rootless=yes \
                 image=example.com/app:1 image_id=ab manifest_digest=sha256:cd \
                 policy=/etc/containers/policy.json scope=\"docker example.com\" \
                 requirement=signedBy cached=yes \
                 reason=\"every requirement is satisfied (cached verdict)\"",
            ),
            (
                "repeats come before the reason",
                Record {
                    engine: Some(Engine::CriO),
                    repeats: Some(Repeats { count: 281, since }),
                    ..full()
                },
                Verdict::WouldDeny,
                "verdict=would-deny container=c1 name=web engine=cri-o uid=0 rootless=no \
                 image=example.com/app:1 image_id=ab manifest_digest=sha256:cd \
                 policy=/etc/containers/policy.json scope=\"docker example.com\" \
                 requirement=signedBy cached=no repeats=281 since=2023-11-14T22:13:20Z \
                 reason=\"no signature exists\"",
            ),
            (
                "nothing known",
                Record::default(),
                Verdict::Deny,
                "verdict=deny container=- name=- engine=- uid=- rootless=- image=- image_id=- \
                 manifest_digest=- policy=- scope=- requirement=- cached=no reason=-",
            ),
            (
                "a forged field stays inside its value",
                Record {
                    container_name: "x verdict=allow\n".into(),
                    ..full()
                },
                Verdict::Deny,
                "verdict=deny container=c1 name=\"x verdict=allow\\\\u{a}\" engine=podman uid=0 \
                 rootless=no image=example.com/app:1 image_id=ab manifest_digest=sha256:cd \
                 policy=/etc/containers/policy.json scope=\"docker example.com\" \
                 requirement=signedBy cached=no reason=\"no signature exists\"",
            ),
        ];
        for (what, record, verdict, want) in rows {
            assert_eq!(record.format(verdict), want, "{what}");
        }
    }

    #[test]
    fn every_field_has_a_journal_name() {
        let since = SystemTime::UNIX_EPOCH;
        let r = Record {
            repeats: Some(Repeats { count: 2, since }),
            ..full()
        };
        let names: Vec<&str> = r.fields(Verdict::Deny).iter().map(|f| f.journal).collect();
        assert_eq!(
            names,
            [
                "VERDICT",
                "CONTAINER_ID",
                "CONTAINER_NAME",
                "ENGINE",
                "INVOKER_UID",
                "ROOTLESS",
                "IMAGE",
                "IMAGE_ID",
                "MANIFEST_DIGEST",
                "POLICY",
                "SCOPE",
                "REQUIREMENT",
                "CACHED",
                "REPEATS",
                "REPEATS_SINCE",
                "REASON"
            ]
        );
    }

    #[test]
    fn a_record_no_destination_takes_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let sinks = Sinks {
            journal: "/nonexistent/journal".into(),
            syslog: "/nonexistent/log".into(),
            file: Some(file::FileSink {
                path: d.path().join("no-dir/records.log"),
                max_bytes: file::DEFAULT_MAX_BYTES,
                make_dirs: false,
            }),
        };
        let err = deliver(&sinks, Verdict::Allow, &Record::default()).unwrap_err();
        assert!(err.contains("/nonexistent/log"), "{err}");
        assert!(err.contains("records.log"), "{err}");
        // With a file it can write, the record lands there.
        let sinks = Sinks {
            file: Some(file::FileSink {
                path: d.path().join("records.log"),
                max_bytes: file::DEFAULT_MAX_BYTES,
                make_dirs: false,
            }),
            ..sinks
        };
        let done = deliver(&sinks, Verdict::Allow, &Record::default()).unwrap();
        assert_eq!(
            done,
            Delivered {
                file: true,
                ..Delivered::default()
            }
        );
    }
}
