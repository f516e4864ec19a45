//! The file records go to when neither the journal nor syslog takes them (minimal VMs, CI
//! runners): one line per record, `TIMESTAMP oci-signature-hook[PID]: RECORD`, the timestamp in
//! UTC (RFC 3339, seconds).
//!
//! The file is opened `O_APPEND|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC`, created 0600, and used only if
//! it is a regular file of the hook's user that neither group nor others can write: a symlink, a
//! FIFO or someone else's file in its place is refused, never followed or waited on. Past
//! `max_bytes` it is rotated once, to `<file>.1` (replacing the previous one), so the two together
//! hold at most about twice the bound. Concurrent hooks rotate under an `flock` of the file, and
//! the one that finds the file already rotated appends to the new one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::invoker::Invoker;

/// Root's file.
pub const ROOT_PATH: &str = "/var/log/oci-signature-hook.log";
/// The bound before the file is rotated: 1 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// The smallest bound a config file may set (a record is a few hundred bytes).
pub const MIN_MAX_BYTES: u64 = 1024;

/// The fallback file and its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSink {
    pub path: PathBuf,
    /// Past this many bytes the file is rotated to `<path>.1`.
    pub max_bytes: u64,
    /// Whether missing parent directories are created (0700): for a rootless user's state
    /// directory, not for `/var/log`.
    pub make_dirs: bool,
}

/// Where the file is by default: `/var/log/oci-signature-hook.log` for root; for a rootless
/// user `$XDG_STATE_HOME/oci-signature-hook/records.log`, else
/// `~/.local/state/oci-signature-hook/records.log` (`None` without a home).
pub fn default_path(who: &Invoker) -> Option<PathBuf> {
    if !who.rootless() {
        return Some(PathBuf::from(ROOT_PATH));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| who.home.as_ref().map(|h| h.join(".local/state")))?;
    Some(state.join("oci-signature-hook/records.log"))
}

impl FileSink {
    /// Appends one record `line` with a timestamp; `Err` says why it could not.
    pub fn append(&self, line: &str) -> Result<(), String> {
        let text = format!(
            "{} {}[{}]: {line}\n",
            utc(SystemTime::now()),
            super::IDENT,
            std::process::id()
        );
        self.append_raw(text.as_bytes())
            .map_err(|e| format!("cannot append to {:?}: {e}", self.path))
    }

    fn append_raw(&self, text: &[u8]) -> Result<(), String> {
        if self.make_dirs {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir);
            }
        }
        let mut f = open(&self.path)?;
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        if len > 0 && len + text.len() as u64 > self.max_bytes {
            if let Some(fresh) = self.rotate(&f)? {
                f = fresh;
            }
        }
        // One write of one line: O_APPEND keeps concurrent hooks' lines whole.
        f.write_all(text).map_err(|e| crate::words::io(&e))
    }

    /// Moves the file `f` (open at `self.path`) to `<path>.1` and opens a new one, if this hook
    /// gets the file's lock within a moment; `None` if it does not (it then appends past the
    /// bound, once). If another hook rotated it first, the new file.
    fn rotate(&self, f: &File) -> Result<Option<File>, String> {
        if !lock(f) {
            return Ok(None);
        }
        let same = std::fs::symlink_metadata(&self.path)
            .ok()
            .zip(f.metadata().ok())
            .is_some_and(|(p, o)| p.dev() == o.dev() && p.ino() == o.ino());
        if same {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, &old).map_err(|e| crate::words::io(&e))?;
        }
        open(&self.path).map(Some)
    }
}

/// Opens (creating 0600) the file at `path` for appending, without following a symlink or
/// waiting on a FIFO, and only if it is a regular file of this user that neither group nor others
/// can write.
fn open(path: &Path) -> Result<File, String> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| crate::words::io(&e))?;
    let meta = f.metadata().map_err(|e| crate::words::io(&e))?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "not a regular file ({})",
            crate::files::describe(meta.file_type())
        ));
    }
    if meta.uid() != crate::invoker::effective_uid() || meta.mode() & 0o022 != 0 {
        return Err("owned by another user, or writable by group or others".into());
    }
    Ok(f)
}

/// Takes `f`'s exclusive lock, trying for up to 200 ms (never blocking in the call).
#[allow(unsafe_code)]
fn lock(f: &File) -> bool {
    for _ in 0..20 {
        // SAFETY: flock(2) takes an open descriptor, which `f` keeps open across the call, and a
        // flag; it touches no memory. The lock goes with the descriptor when `f` is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// `t` in UTC as RFC 3339 to the second: `2024-05-01T12:00:00Z`. Times before 1970 are written as
/// 1970-01-01T00:00:00Z.
pub fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn utc_is_rfc3339() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ] {
            assert_eq!(
                utc(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
                want
            );
        }
        assert_eq!(
            utc(SystemTime::UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    fn sink(path: PathBuf, max_bytes: u64) -> FileSink {
        FileSink {
            path,
            max_bytes,
            make_dirs: false,
        }
    }

    #[test]
    fn the_file_is_private_bounded_and_rotated_once() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("records.log");
        let old = d.path().join("records.log.1");
        let s = sink(path.clone(), 1000);
        let line = "x".repeat(180);
        // (records appended so far, lines in the file, lines in .1)
        let rows = [(1, 1, 0), (4, 4, 0), (5, 1, 4), (8, 4, 4), (9, 1, 4)];
        let mut written = 0;
        for (total, here, rotated) in rows {
            while written < total {
                s.append(&line).unwrap();
                written += 1;
            }
            let count = |p: &Path| {
                std::fs::read_to_string(p)
                    .map(|t| t.lines().count())
                    .unwrap_or(0)
            };
            assert_eq!((count(&path), count(&old)), (here, rotated), "{total}");
            assert!(std::fs::metadata(&path).unwrap().len() <= 1000);
        }
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        assert!(
            first.contains(&format!(" oci-signature-hook[{}]: xxx", std::process::id())),
            "{first}"
        );
        assert_eq!(first.as_bytes()[4], b'-', "{first}");
    }

    #[test]
    fn a_symlink_fifo_or_open_file_in_its_place_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        std::fs::write(&target, "").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(sink(link, 1 << 20).append("r").is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"");
        let fifo = d.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let start = std::time::Instant::now();
        assert!(sink(fifo, 1 << 20).append("r").is_err());
        assert!(start.elapsed() < Duration::from_secs(1));
        let open = d.path().join("open");
        std::fs::write(&open, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(sink(open, 1 << 20).append("r").is_err());
        let deep = FileSink {
            path: d.path().join("a/b/records.log"),
            max_bytes: 1 << 20,
            make_dirs: true,
        };
        deep.append("r").unwrap();
        let dir = std::fs::metadata(d.path().join("a/b")).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700);
    }

    #[test]
    fn the_default_is_var_log_for_root_and_the_state_dir_for_a_rootless_user() {
        let root = Invoker {
            rootless_uid: None,
            home: Some("/root".into()),
            in_user_namespace: false,
        };
        assert_eq!(default_path(&root), Some(PathBuf::from(ROOT_PATH)));
        let user = Invoker {
            rootless_uid: Some(1001),
            home: Some("/home/u".into()),
            in_user_namespace: true,
        };
        if std::env::var_os("XDG_STATE_HOME").is_none() {
            assert_eq!(
                default_path(&user),
                Some(PathBuf::from(
                    "/home/u/.local/state/oci-signature-hook/records.log"
                ))
            );
            let homeless = Invoker { home: None, ..user };
            assert_eq!(default_path(&homeless), None);
        }
    }
}
