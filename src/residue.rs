//! What the hook leaves on the host while it runs, and how none of it outlives the hook: the
//! temporary GnuPG homes it makes, and the gpg processes gpgme runs in them.
//!
//! gpgme double-forks every gpg it runs, so those processes are not the hook's children and no
//! `wait` or `kill` of a child reaches them. They do name their home on their command line
//! (`--homedir`), and the homes are private to this process: so a process whose command line
//! names one of our homes, and everything it started, is ours to end (`end`).
//!
//! A hook killed outright (SIGKILL, the runtime's hook timeout, a crash) cannot clean up. Each
//! home therefore holds an owner file naming the process that made it (its PID namespace, PID and
//! start time); the next hook that makes a home removes those whose maker no longer runs
//! (`sweep`). No place exists that the kernel empties when a process dies and that gpg can use as
//! a home without privileges the hook has given up (a private tmpfs needs `CAP_SYS_ADMIN`), so a
//! sweep it is.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Every temporary home starts with this, then `<pid>-`.
pub const HOME_PREFIX: &str = "oci-signature-hook-";

/// The file in each home that says which process made it.
pub const OWNER_FILE: &str = "oci-signature-hook.owner";

/// At most this many leftover homes are removed per run, so that a directory full of them costs
/// one start no more than a few milliseconds; the next runs take the rest.
const SWEEP_REMOVALS: usize = 8;

/// At most this many entries of the temporary directory are looked at per sweep.
const SWEEP_ENTRIES: usize = 10_000;

/// A home whose maker cannot be identified (no owner file, or a process in another PID
/// namespace) is left alone until it has been unused this long: longer than any hook runs
/// (`--timeout` is at most an hour, and the hook ends itself then).
const UNKNOWN_OWNER_AGE: Duration = Duration::from_secs(2 * 3600);

/// The homes this process has now, and whether `end` has run (no new home may be made then).
struct Homes {
    ended: bool,
    live: Vec<PathBuf>,
}

static HOMES: Mutex<Homes> = Mutex::new(Homes {
    ended: false,
    live: Vec::new(),
});

fn homes() -> std::sync::MutexGuard<'static, Homes> {
    HOMES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records that `home` now exists and is this process's; an error once `end` has run, since
/// nothing would remove it then.
pub fn track(home: &Path) -> Result<(), String> {
    let mut homes = homes();
    if homes.ended {
        return Err("the deadline has passed: no new GnuPG home is made".into());
    }
    homes.live.push(home.to_path_buf());
    Ok(())
}

/// Records that `home` is gone.
pub fn untrack(home: &Path) {
    homes().live.retain(|h| h != home);
}

/// Ends every process running in one of this process's homes (and what those started), then
/// removes the homes. For the deadline, when gpgme may be in the middle of a run: the processes
/// are ended twice, a moment apart, to catch one gpgme started meanwhile.
pub fn end() {
    // Held only for a push or a retain, never across anything that blocks. A home made after
    // this is refused (`track`), so the list is complete.
    let now = {
        let mut homes = homes();
        homes.ended = true;
        homes.live.clone()
    };
    end_in(&now);
}

fn end_in(now: &[PathBuf]) {
    for _ in 0..2 {
        for home in now {
            kill_processes_in(home);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for home in now {
        let _ = std::fs::remove_dir_all(home);
    }
    for home in now {
        kill_processes_in(home);
    }
}

/// One process as /proc shows it.
struct Proc {
    pid: i32,
    ppid: i32,
    cmdline: Vec<u8>,
}

fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read(e.path().join("stat")).ok()?;
            let fields = stat_fields(&stat)?;
            let ppid = fields.get(1)?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            Some(Proc { pid, ppid, cmdline })
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses): the state first, then the parent's PID, …
fn stat_fields(stat: &[u8]) -> Option<Vec<String>> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// SIGKILLs every process (but this one) whose command line names `home`, and every descendant
/// of those, found before any is killed (a killed parent's children move to another parent).
fn kill_processes_in(home: &Path) {
    let needle = home.as_os_str().as_bytes();
    if needle.is_empty() {
        return;
    }
    let me = std::process::id() as i32;
    let all = processes();
    let mut doomed: Vec<i32> = all
        .iter()
        .filter(|p| p.pid != me && contains(&p.cmdline, needle))
        .map(|p| p.pid)
        .collect();
    let mut i = 0;
    while i < doomed.len() {
        let parent = doomed[i];
        for p in &all {
            if p.ppid == parent && p.pid != me && !doomed.contains(&p.pid) {
                doomed.push(p.pid);
            }
        }
        i += 1;
    }
    for pid in doomed {
        kill(pid);
    }
}

#[allow(unsafe_code)]
fn kill(pid: i32) {
    // SAFETY: kill(2) with a positive PID and a valid signal; no memory is involved.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What the owner file says: the maker's PID namespace, PID and start time (clock ticks after
/// boot, `/proc/<pid>/stat` field 22). A PID and its start time name one process for the life of
/// the system.
fn owner_line() -> String {
    format!(
        "{} {} {}\n",
        pid_namespace().unwrap_or_default(),
        std::process::id(),
        start_time(std::process::id() as i32).unwrap_or_default()
    )
}

/// Writes the owner file into `home`, which this process has just made.
pub fn mark(home: &Path) -> std::io::Result<()> {
    std::fs::write(home.join(OWNER_FILE), owner_line())
}

fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 of the whole line; the fields after the name start at field 3.
    stat_fields(&stat)?.get(22 - 3)?.parse().ok()
}

/// Whether /proc shows this process's PID namespace (it may be another's, in a container).
fn proc_is_ours() -> bool {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse::<u32>().ok()))
        == Some(std::process::id())
}

/// Whether the process that made a home, as its owner file says, has ended.
fn maker_gone(owner: &str) -> Option<bool> {
    let mut words = owner.split_whitespace();
    let (ns, pid, start) = (words.next()?, words.next()?, words.next()?);
    let pid: i32 = pid.parse().ok()?;
    let start: u64 = start.parse().ok()?;
    if ns != pid_namespace()? || !proc_is_ours() {
        return None;
    }
    // Gone, or the PID is another process's now.
    Some(start_time(pid) != Some(start))
}

/// Removes up to `SWEEP_REMOVALS` homes in `tmp` that hooks killed before they could remove them:
/// directories of our user named `oci-signature-hook-<pid>-…` whose maker has ended, or, when
/// that cannot be told, unused for longer than any hook runs. Returns how many were removed.
pub fn sweep(tmp: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let uid = crate::invoker::effective_uid();
    let mut removed = 0;
    for entry in dir.take(SWEEP_ENTRIES).flatten() {
        if removed == SWEEP_REMOVALS {
            break;
        }
        let name = entry.file_name();
        if !is_home_name(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid || homes().live.contains(&path) {
            continue;
        }
        if stale(&path, &meta) {
            // remove_dir_all does not follow symbolic links; the directory is ours and 0700.
            if std::fs::remove_dir_all(&path).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

fn is_home_name(name: &OsStr) -> bool {
    let Some(rest) = name.as_bytes().strip_prefix(HOME_PREFIX.as_bytes()) else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest.get(digits) == Some(&b'-')
}

fn stale(path: &Path, meta: &std::fs::Metadata) -> bool {
    let owner = read_owner(&path.join(OWNER_FILE));
    if let Some(gone) = owner.as_deref().and_then(maker_gone) {
        return gone;
    }
    let used = meta.modified().unwrap_or_else(|_| SystemTime::now());
    SystemTime::now()
        .duration_since(used)
        .is_ok_and(|age| age > UNKNOWN_OWNER_AGE)
}

fn read_owner(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut s = String::new();
    f.take(256).read_to_string(&mut s).ok()?;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(tmp: &Path, pid: &str, owner: Option<&str>) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = tmp.join(format!("{HOME_PREFIX}{pid}-{n}"));
        std::fs::create_dir(&p).unwrap();
        if let Some(o) = owner {
            std::fs::write(p.join(OWNER_FILE), o).unwrap();
        }
        p
    }

    #[test]
    fn homes_of_ended_makers_are_swept_and_live_or_unknown_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let ns = pid_namespace().unwrap();
        let me = std::process::id();
        let my_start = start_time(me as i32).unwrap();
        // Made by this process: its maker runs.
        let live = home(tmp.path(), &me.to_string(), Some(&owner_line()));
        // The same PID, but a process that started at another time: the PID was reused.
        let reused = home(
            tmp.path(),
            &me.to_string(),
            Some(&format!("{ns} {me} {}\n", my_start + 1)),
        );
        // A PID that does not run.
        let gone = home(
            tmp.path(),
            "999999999",
            Some(&format!("{ns} 999999999 1\n")),
        );
        // Another PID namespace, or no owner file, and recently used: kept.
        let elsewhere = home(tmp.path(), "7", Some("pid:[1] 7 1\n"));
        let unknown = home(tmp.path(), "8", None);
        // Not a home.
        let other = tmp.path().join(format!("{HOME_PREFIX}x"));
        std::fs::create_dir(&other).unwrap();
        assert_eq!(sweep(tmp.path()), 2);
        assert!(live.exists() && elsewhere.exists() && unknown.exists() && other.exists());
        assert!(!reused.exists() && !gone.exists());
    }

    #[test]
    fn a_sweep_removes_a_bounded_number() {
        let tmp = tempfile::tempdir().unwrap();
        let ns = pid_namespace().unwrap();
        for i in 0..SWEEP_REMOVALS + 3 {
            let p = tmp.path().join(format!("{HOME_PREFIX}999999999-{i}"));
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join(OWNER_FILE), format!("{ns} 999999999 1\n")).unwrap();
        }
        assert_eq!(sweep(tmp.path()), SWEEP_REMOVALS);
        assert_eq!(sweep(tmp.path()), 3);
    }

    #[test]
    fn processes_running_in_a_home_and_their_children_are_ended() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp
            .path()
            .join(format!("{HOME_PREFIX}{}-k", std::process::id()));
        std::fs::create_dir(&home).unwrap();
        // A shell naming the home, with a child that does not.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 60; true", "sh"])
            .arg(&home)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let sleeper = processes()
            .into_iter()
            .find(|p| p.ppid == child.id() as i32)
            .map(|p| p.pid)
            .unwrap();
        end_in(std::slice::from_ref(&home));
        assert!(child.wait().unwrap().code().is_none());
        assert!(!home.exists());
        std::thread::sleep(Duration::from_millis(50));
        let alive = std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
            .map(|s| !s.contains(") Z"))
            .unwrap_or(false);
        assert!(!alive, "the child was left running");
    }
}
