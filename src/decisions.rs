//! The last decision for each container, kept where `oci-signature-hook why` can show it.
//!
//! crun, the default runtime of podman 5 on most distributions, throws a hook's stderr away: a
//! blocked start shows only ``crun: error executing hook `...` (exit code: 1)``. So the hook also
//! writes the decision for each container to `<dir>/decisions/<container ID>` (`dir` being the
//! verdict cache's directory: `/run/oci-signature-hook` for root, `$XDG_RUNTIME_DIR/...` for a
//! rootless user), and `why` reads it back by container name or ID.
//!
//! A file holds two lines: the audit record (`audit::Record::format`) and the line a deny puts on
//! stderr (empty for an allow). Files are private to the user (0600 in a 0700 directory, which
//! must be a real directory owned by the user), replaced by rename, bounded in size, and at most
//! `MAX_DECISIONS` (plus a slack of 64) are kept: past that, the oldest are removed. The directory lives in `/run`
//! (memory), so it is empty again after a reboot. Failures to write are ignored: the audit record
//! stands on its own.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::invoker;

/// How many containers' decisions are kept.
pub const MAX_DECISIONS: usize = 512;
/// How far past `MAX_DECISIONS` the directory may grow before it is pruned back.
const SLACK: usize = 64;
/// A decision file is two lines of a few hundred bytes; anything bigger is not one of ours.
const MAX_BYTES: u64 = 64 << 10;

/// The decisions directory under `dir`, if it is (or can be made) private to this user.
pub fn open(dir: &Path) -> Option<PathBuf> {
    private_subdir(dir, "decisions")
}

/// `dir/name`, created 0700 (with `dir`) if missing, if both are directories owned by this user
/// that nobody else can enter.
pub(crate) fn private_subdir(dir: &Path, name: &str) -> Option<PathBuf> {
    let uid = invoker::effective_uid();
    for d in [dir.to_path_buf(), dir.join(name)] {
        match std::fs::DirBuilder::new().mode(0o700).create(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let meta = std::fs::symlink_metadata(&d).ok()?;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
            return None;
        }
    }
    Some(dir.join(name))
}

/// A container ID as a file name: 1 to 128 characters of `[A-Za-z0-9_.-]`, not starting with a
/// dot (runtimes' IDs are 64 hex digits; CRI-O's and buildah's are similar).
pub(crate) fn file_name(container_id: &str) -> Option<&str> {
    let ok = !container_id.is_empty()
        && container_id.len() <= 128
        && !container_id.starts_with('.')
        && container_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then_some(container_id)
}

/// Replaces the file `path` in the private directory `dir` with `bytes`: written to a new file
/// (mode 0600, never through a symlink) and renamed into place, so a reader sees the old file or
/// the new one, whole. `false` if it could not be (nothing is left behind then).
pub(crate) fn replace_private(dir: &Path, path: &Path, bytes: &[u8]) -> bool {
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.is_ok()
}

/// Records `record` (an audit record line) and `deny_line` (empty for an allow) as the last
/// decision for `container_id` in the decisions directory `dir` (from `open`).
pub fn record(dir: &Path, container_id: &str, record: &str, deny_line: &str) {
    let Some(name) = file_name(container_id) else {
        return;
    };
    let path = dir.join(name);
    let new = std::fs::symlink_metadata(&path).is_err();
    if !replace_private(dir, &path, format!("{record}\n{deny_line}\n").as_bytes()) {
        return;
    }
    if new {
        prune(dir);
    }
}

/// Removes the oldest decisions past `MAX_DECISIONS`, once there are `SLACK` more: most starts
/// only count names, and one in `SLACK` new containers reads their times.
pub(crate) fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    if entries.count() <= MAX_DECISIONS + SLACK {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    if files.len() <= MAX_DECISIONS {
        return;
    }
    files.sort();
    let excess = files.len() - MAX_DECISIONS;
    for (_, p) in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(p);
    }
}

/// One container's last decision, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub container_id: String,
    /// When it was written.
    pub at: SystemTime,
    /// The audit record (`verdict=... container=... name=...`).
    pub record: String,
    /// What stderr said, for a deny.
    pub deny_line: String,
}

impl Decision {
    /// The value of `key` in the record (unquoted only if it was written bare).
    pub fn field(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.record
            .split(' ')
            .find_map(|kv| kv.strip_prefix(prefix.as_str()))
    }
}

/// The decisions in `dir` for the container named `which` (its name, its full ID, or an ID
/// prefix of at least 3 characters), newest first. Files that are not private regular files of
/// this user, or too big, are passed over.
pub fn find(dir: &Path, which: &str) -> Vec<Decision> {
    let uid = invoker::effective_uid();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Decision> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let id = e.file_name().into_string().ok()?;
            file_name(&id)?;
            // Not through a symlink, and only a regular file: a FIFO is passed over, not waited on.
            let f = crate::files::open_regular(&e.path(), false).ok()?;
            let meta = f.metadata().ok()?;
            if meta.uid() != uid || meta.mode() & 0o022 != 0 {
                return None;
            }
            let mut text = String::new();
            f.take(MAX_BYTES).read_to_string(&mut text).ok()?;
            let mut lines = text.lines();
            let d = Decision {
                container_id: id,
                at: meta.modified().ok()?,
                record: lines.next()?.to_string(),
                deny_line: lines.next().unwrap_or_default().to_string(),
            };
            let matches = d.container_id == which
                || (which.len() >= 3 && d.container_id.starts_with(which))
                || d.field("name") == Some(which);
            matches.then_some(d)
        })
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_decision_is_found_by_name_id_or_prefix_and_old_ones_go() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open(&tmp.path().join("state")).expect("a private directory");
        let id = "ab".repeat(32);
        record(&dir, &id, "verdict=deny container=abab name=web", "blocked");
        record(&dir, &id, "verdict=allow container=abab name=web", "");
        record(&dir, "../escape", "verdict=deny", "x");
        record(&dir, "", "verdict=deny", "x");
        for which in ["web", id.as_str(), "abab"] {
            let found = find(&dir, which);
            assert_eq!(found.len(), 1, "{which}");
            assert_eq!(found[0].field("verdict"), Some("allow"));
            assert_eq!(found[0].deny_line, "");
        }
        assert!(find(&dir, "ab").is_empty(), "a prefix needs 3 characters");
        assert!(find(&dir, "nothing").is_empty());
        assert!(!tmp.path().join("state/escape").exists());
        for n in 0..MAX_DECISIONS + SLACK + 1 {
            record(&dir, &format!("c{n}"), "verdict=allow", "");
        }
        // One more than the slack allows (the first container's and these) was pruned back to
        // MAX_DECISIONS, then one more written.
        let kept = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(kept, MAX_DECISIONS + 1);
        assert!(find(&dir, "c0").is_empty(), "the oldest went first");
    }

    #[test]
    fn a_directory_others_can_enter_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("open");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(open(&d).is_none());
    }
}
