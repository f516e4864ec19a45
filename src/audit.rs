//! The audit trail: one syslog record per decision, and the one-line reason on stderr for a deny.
//!
//! Records go to the local syslog socket (`/dev/log`) with the identifier `oci-signature-hook` and
//! facility `auth`, as `key=value` pairs in a fixed order. Names, tags and identities come from
//! whoever pushed or tagged an image, so every value is escaped before it is written anywhere.
//! If syslog cannot be reached the verdict stands, and stderr says so once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use syslog::{Facility, Formatter3164};

/// The syslog identifier (`APP-NAME`/tag) of every record.
pub const IDENT: &str = "oci-signature-hook";
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// The decision for one container start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    /// Warn mode: the policy rejects the image, and the start goes ahead.
    WouldDeny,
}

/// Everything one audit record holds. Unknown fields stay empty (`-`).
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The container's ID.
    pub container: String,
    /// The container's name (podman's `--name`), when the store could be read.
    pub container_name: String,
    pub image: String,
    pub image_id: String,
    pub manifest_digest: String,
    pub policy: PathBuf,
    pub scope: String,
    pub reason: String,
}

impl Record {
    /// The fixed `key=value` layout.
    pub fn format(&self, verdict: Verdict) -> String {
        let mut s = String::new();
        let v = match verdict {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::WouldDeny => "would-deny",
        };
        let policy = self.policy.to_string_lossy();
        for (k, val) in [
            ("verdict", v),
            ("container", &self.container),
            ("name", &self.container_name),
            ("image", &self.image),
            ("image_id", &self.image_id),
            ("manifest_digest", &self.manifest_digest),
            ("policy", &policy),
            ("scope", &self.scope),
            ("reason", &self.reason),
        ] {
            if !s.is_empty() {
                s.push(' ');
            }
            let _ = write!(s, "{k}={}", quote(val));
        }
        s
    }
}

/// How long a record may wait for syslog to take it. A syslog daemon that stops reading must not
/// stall every container start: past this, the record is dropped and stderr says so.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes the record to syslog at `socket`; `Err` says why it could not.
pub fn log(socket: &Path, verdict: Verdict, record: &Record) -> Result<(), String> {
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
        .format(&mut msg, severity, record.format(verdict))
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
                .set_write_timeout(Some(SEND_TIMEOUT))
                .map_err(unreachable)?;
            dgram.send(&msg).map(drop).map_err(unwritten)
        }
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
            stream
                .set_write_timeout(Some(SEND_TIMEOUT))
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

    #[test]
    fn record_has_a_fixed_layout() {
        let r = Record {
            container: "c1".into(),
            container_name: "web".into(),
            image: "example.com/app:1".into(),
            image_id: "ab".into(),
            manifest_digest: "sha256:cd".into(),
            policy: "/etc/containers/policy.json".into(),
            scope: "docker example.com".into(),
            reason: "no signature exists".into(),
        };
        assert_eq!(
            r.format(Verdict::Deny),
            "verdict=deny container=c1 name=web image=example.com/app:1 image_id=ab manifest_digest=sha256:cd \
             policy=/etc/containers/policy.json scope=\"docker example.com\" reason=\"no signature exists\""
        );
        assert!(Record::default()
            .format(Verdict::Allow)
            .starts_with("verdict=allow container=- name=- image=-"));
    }

    #[test]
    fn unreachable_syslog_is_an_error_not_a_panic() {
        let err = log(
            Path::new("/nonexistent/log"),
            Verdict::Allow,
            &Record::default(),
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent/log"), "{err}");
    }
}
