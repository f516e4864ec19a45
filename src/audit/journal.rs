//! Records as journal entries, through journald's native socket.
//!
//! The native protocol (systemd's `systemd.journal-fields(7)` and "Native Journal Protocol"): one
//! datagram per entry, made of fields, each either `KEY=value\n`, or — for a value that holds a
//! newline — `KEY\n`, the value's length as a 64-bit little-endian integer, the value, and `\n`.
//! Keys are upper-case letters, digits and `_`, not starting with `_` (journald sets those
//! itself) nor a digit. Values are escaped as in the syslog line (`audit::sanitize`), so they hold
//! no newline; the length-prefixed form is there for any that would.
//!
//! An entry too large for one datagram is refused (the kernel says `EMSGSIZE`), and the record
//! goes to syslog instead: journald's own clients then pass a memfd, which the hook does not.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Instant;

use super::{remaining, sanitize, Record, Verdict, IDENT, SEND_TIMEOUT};

/// journald's native socket.
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";

/// syslog's facility `auth`, as a number (`SYSLOG_FACILITY=`).
const FACILITY_AUTH: u8 = 4;

/// The fields of the journal entry for a record: `MESSAGE` (the syslog line), `PRIORITY`,
/// `SYSLOG_FACILITY`, `SYSLOG_IDENTIFIER`, `SYSLOG_PID`, then every known field of the record
/// (`Record::fields`) under its journal name, escaped. Unknown fields are left out.
pub fn fields(verdict: Verdict, record: &Record, line: &str) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("MESSAGE", line.to_string()),
        ("PRIORITY", verdict.priority().to_string()),
        ("SYSLOG_FACILITY", FACILITY_AUTH.to_string()),
        ("SYSLOG_IDENTIFIER", IDENT.to_string()),
        ("SYSLOG_PID", std::process::id().to_string()),
    ];
    out.extend(
        record
            .fields(verdict)
            .into_iter()
            .filter(|f| !f.value.is_empty())
            .map(|f| (f.journal, sanitize(&f.value))),
    );
    out
}

/// Whether `key` may name a field an application sends: `[A-Z0-9_]`, not starting with `_` or a
/// digit, at most 64 bytes (journald's `journal_field_valid`).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && !key.starts_with('_')
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// One datagram of the native protocol holding `fields`. A key that is not valid is left out.
pub fn encode(fields: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in fields {
        if !valid_key(key) {
            continue;
        }
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Sends the record to the journal at `socket`. `Ok(false)` if there is no journal there (no
/// socket); `Err` if there is one and it did not take the record by `give_up`.
pub fn send(
    socket: &Path,
    verdict: Verdict,
    record: &Record,
    line: &str,
    give_up: Instant,
) -> Result<bool, String> {
    if std::fs::symlink_metadata(socket).is_err() {
        return Ok(false);
    }
    let datagram = encode(&fields(verdict, record, line));
    let unsent = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
            "the journal at {socket:?} did not take the record within {} s",
            SEND_TIMEOUT.as_secs()
        ),
        _ => format!("cannot write to the journal at {socket:?}: {e}"),
    };
    let s = UnixDatagram::unbound().map_err(unsent)?;
    s.set_write_timeout(Some(remaining(give_up)))
        .map_err(unsent)?;
    s.send_to(&datagram, socket).map_err(unsent)?;
    Ok(true)
}

/// Whether the syslog socket `syslog` is journald's own (`dev-log` beside the native socket
/// `journal`, which `/dev/log` usually links to): the same socket file, followed through links.
pub fn is_journal_syslog(journal: &Path, syslog: &Path) -> bool {
    let Some(dir) = journal.parent() else {
        return false;
    };
    match (
        std::fs::metadata(dir.join("dev-log")),
        std::fs::metadata(syslog),
    ) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Parses a native-protocol datagram back into fields (for tests, and a receiver of the test's
/// own). `None` if it is not well formed.
pub fn decode(mut d: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    while !d.is_empty() {
        let nl = d.iter().position(|&b| b == b'\n')?;
        let head = &d[..nl];
        if let Some(eq) = head.iter().position(|&b| b == b'=') {
            out.push((
                String::from_utf8(head[..eq].to_vec()).ok()?,
                String::from_utf8(head[eq + 1..].to_vec()).ok()?,
            ));
            d = &d[nl + 1..];
        } else {
            let rest = &d[nl + 1..];
            let len = usize::try_from(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)).ok()?;
            let value = rest.get(8..8usize.checked_add(len)?)?;
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            out.push((
                String::from_utf8(head.to_vec()).ok()?,
                String::from_utf8(value.to_vec()).ok()?,
            ));
            d = &rest[8 + len + 1..];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_encode_each_field_in_its_form() {
        type Row<'a> = (&'a str, Vec<(&'a str, String)>, Vec<u8>);
        let rows: Vec<Row> = vec![
            ("plain", vec![("A", "b".into())], b"A=b\n".to_vec()),
            ("empty value", vec![("A", String::new())], b"A=\n".to_vec()),
            (
                "an equals sign in the value stays",
                vec![("A", "x=y".into())],
                b"A=x=y\n".to_vec(),
            ),
            (
                "a newline takes the length-prefixed form",
                vec![("M", "a\nb".into())],
                [b"M\n".as_slice(), &3u64.to_le_bytes(), b"a\nb\n"].concat(),
            ),
            (
                "two fields, in order",
                vec![("A", "1".into()), ("B", "2".into())],
                b"A=1\nB=2\n".to_vec(),
            ),
            (
                "invalid keys are left out",
                vec![
                    ("_UID", "0".into()),
                    ("lower", "x".into()),
                    ("1A", "x".into()),
                    ("", "x".into()),
                    ("OK", "y".into()),
                ],
                b"OK=y\n".to_vec(),
            ),
        ];
        for (what, fields, want) in rows {
            let got = encode(&fields);
            assert_eq!(got, want, "{what}");
            let back = decode(&got).unwrap();
            let kept: Vec<(String, String)> = fields
                .iter()
                .filter(|(k, _)| valid_key(k))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            assert_eq!(back, kept, "{what}");
        }
        assert_eq!(decode(b"A\n\x05\0\0\0\0\0\0\0ab\n"), None, "short value");
        assert_eq!(decode(b"A=b"), None, "no final newline");
    }

    #[test]
    fn a_record_becomes_journal_fields() {
        let r = Record {
            container: "c1".into(),
            container_name: "web\nverdict=allow".into(),
            uid: Some(0),
            rootless: Some(false),
            reason: "r".into(),
            ..Record::default()
        };
        let line = r.format(Verdict::Deny);
        let f = fields(Verdict::Deny, &r, &line);
        let get = |k: &str| f.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MESSAGE"), Some(line.as_str()));
        assert_eq!(get("PRIORITY"), Some("4"));
        assert_eq!(get("SYSLOG_IDENTIFIER"), Some("oci-signature-hook"));
        assert_eq!(get("VERDICT"), Some("deny"));
        assert_eq!(get("CONTAINER_NAME"), Some("web\\u{a}verdict=allow"));
        assert_eq!(get("INVOKER_UID"), Some("0"));
        assert_eq!(get("ROOTLESS"), Some("no"));
        assert_eq!(get("CACHED"), Some("no"));
        assert_eq!(get("IMAGE"), None, "unknown fields are left out");
        assert_eq!(get("REPEATS"), None);
        assert!(f.iter().all(|(k, _)| valid_key(k)));
        let allow = fields(Verdict::Allow, &r, &line);
        assert!(allow.contains(&("PRIORITY", "6".into())));
    }

    #[test]
    fn a_receiver_gets_one_datagram_and_dev_log_is_recognized() {
        let d = tempfile::tempdir().unwrap();
        let socket = d.path().join("socket");
        let rx = UnixDatagram::bind(&socket).unwrap();
        let r = Record {
            reason: "x".into(),
            ..Record::default()
        };
        let give_up = Instant::now() + SEND_TIMEOUT;
        assert_eq!(send(&socket, Verdict::Allow, &r, "line", give_up), Ok(true));
        let mut buf = vec![0; 65536];
        let n = rx.recv(&mut buf).unwrap();
        let got = decode(&buf[..n]).unwrap();
        assert!(got.contains(&("REASON".into(), "x".into())), "{got:?}");
        assert_eq!(
            send(&d.path().join("none"), Verdict::Allow, &r, "l", give_up),
            Ok(false)
        );
        // dev-log beside the socket, and a link to it, are the journal's syslog socket.
        let dev_log = d.path().join("dev-log");
        let _l = UnixDatagram::bind(&dev_log).unwrap();
        let link = d.path().join("log");
        std::os::unix::fs::symlink(&dev_log, &link).unwrap();
        assert!(is_journal_syslog(&socket, &dev_log));
        assert!(is_journal_syslog(&socket, &link));
        let other = d.path().join("other");
        let _o = UnixDatagram::bind(&other).unwrap();
        assert!(!is_journal_syslog(&socket, &other));
        assert!(!is_journal_syslog(&socket, Path::new("/nonexistent")));
    }
}
