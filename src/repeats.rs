//! Repeated denials, counted instead of written one by one.
//!
//! A container that is restarted in a loop (`podman run --restart=always` of an image a tightened
//! policy now rejects) is denied again and again for the same reason: hundreds of identical
//! records a minute. So a deny (or would-deny) that repeats the container's last written record
//! exactly (every field: image, IDs, policy, scope, requirement, reason) within the window
//! (`repeat_window` in the config file, default 60 s) is counted rather than written. The first
//! record is always written. The next record for that container and reason after the window
//! carries the count: `repeats=N since=TIME` (journal: `REPEATS=`, `REPEATS_SINCE=`), meaning
//! that N identical decisions since TIME were not written one by one.
//!
//! Nothing is lost when the loop ends differently: when the container's next decision is another
//! one (an allow, another reason), the last counted decision is written first, with `repeats=N-1
//! since=TIME` (it stands for itself and the N-1 before it). When the loop simply stops (the
//! container is removed, or never started again), the next decision for any container on the
//! host writes that count, once the container's state is a window old (`overdue`). Until then a
//! pending count is shown by `oci-signature-hook why`; it is kept under the cache directory
//! (`/run` for root), so a reboot before any later decision loses it. So every record stands for
//! itself plus its `repeats`.
//!
//! This changes only what is written to the audit trail. The verdict, the exit code, the line on
//! stderr and the decision kept for `why` are the same for every start; the state is read only
//! after the verdict and never consulted to reach one.
//!
//! The state is one file per container, `<cache dir>/repeats/<container ID>` (JSON), private to
//! the user like `decisions`, replaced by rename, at most [`MAX_BYTES`] each, and pruned to the
//! newest `decisions::MAX_DECISIONS` containers. Two hooks deciding for the same container at the
//! same moment may each read the state before the other writes it: a count may then come out one
//! short, never a record skipped that was not counted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::audit::{Record, Repeats, Verdict};
use crate::{decisions, invoker};

/// The window unless the config file sets `repeat_window`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// A state file is one record and a few numbers; anything bigger is not one of ours.
pub const MAX_BYTES: u64 = 64 << 10;

/// What is remembered of a container's last denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The decision's syslog line without `repeats`: what makes two decisions the same.
    pub key: String,
    /// When a record with this key was last written.
    pub logged_at: SystemTime,
    /// Decisions with this key since then that were counted, not written.
    pub suppressed: u64,
    /// When the first of them was made.
    pub since: Option<SystemTime>,
    /// The last of them, written if the container's next decision is another one.
    pub last: Option<(Verdict, Record)>,
}

/// What to write for one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// First, the last counted decision of another kind, standing for the ones before it.
    pub flush: Option<(Verdict, Record)>,
    /// Then this decision's record, with the repeats it stands for; `None` if it is counted.
    pub write: Option<Record>,
}

impl Plan {
    /// Write the record as it is: nothing to coalesce.
    pub fn as_is(record: &Record) -> Plan {
        Plan {
            flush: None,
            write: Some(record.clone()),
        }
    }
}

/// Decides what to write for `record` (a `verdict` reached at `now`) given the container's state
/// `prev`, and the state to keep (`None`: none). Allows, and every decision when `window` is
/// zero, are written; a deny or would-deny identical to the last one written less than `window`
/// ago is counted. A clock that went back counts as the window having passed.
pub fn plan(
    prev: Option<Entry>,
    verdict: Verdict,
    record: &Record,
    now: SystemTime,
    window: Duration,
) -> (Plan, Option<Entry>) {
    let key = (verdict != Verdict::Allow && !window.is_zero()).then(|| {
        let plain = Record {
            repeats: None,
            ..record.clone()
        };
        plain.format(verdict)
    });
    let fresh = |key: Option<String>| {
        key.map(|key| Entry {
            key,
            logged_at: now,
            suppressed: 0,
            since: None,
            last: None,
        })
    };
    match prev {
        Some(mut p) if Some(&p.key) == key.as_ref() => {
            let within = now
                .duration_since(p.logged_at)
                .is_ok_and(|elapsed| elapsed < window);
            if within {
                p.suppressed += 1;
                p.since = p.since.or(Some(now));
                p.last = Some((verdict, record.clone()));
                let plan = Plan {
                    flush: None,
                    write: None,
                };
                return (plan, Some(p));
            }
            let repeats = (p.suppressed > 0).then(|| Repeats {
                count: p.suppressed,
                since: p.since.unwrap_or(p.logged_at),
            });
            let write = Record {
                repeats,
                ..record.clone()
            };
            (
                Plan {
                    flush: None,
                    write: Some(write),
                },
                fresh(key),
            )
        }
        prev => {
            let flush = prev.and_then(|p| {
                let (v, last) = p.last.filter(|_| p.suppressed > 0)?;
                let repeats = Repeats {
                    count: p.suppressed - 1,
                    since: p.since.unwrap_or(p.logged_at),
                };
                Some((
                    v,
                    Record {
                        repeats: Some(repeats),
                        ..last
                    },
                ))
            });
            (
                Plan {
                    flush,
                    write: Some(record.clone()),
                },
                fresh(key),
            )
        }
    }
}

/// The state directory under the cache directory `dir`, if it is (or can be made) private to
/// this user.
pub fn open(dir: &Path) -> Option<PathBuf> {
    decisions::private_subdir(dir, "repeats")
}

/// Plans the records for a decision (`plan`) with the state kept in `dir` (from `open`) for the
/// container, and keeps the new state. Without a usable state, every record is written as is.
pub fn coalesce(
    dir: &Path,
    verdict: Verdict,
    record: &Record,
    now: SystemTime,
    window: Duration,
) -> Plan {
    let Some(name) = decisions::file_name(&record.container) else {
        return Plan::as_is(record);
    };
    let path = dir.join(name);
    let prev = load(&path);
    if prev.is_none() && (verdict == Verdict::Allow || window.is_zero()) {
        return Plan::as_is(record);
    }
    let had = prev.is_some();
    let (plan, next) = plan(prev, verdict, record, now, window);
    match next {
        Some(entry) => save(dir, &path, &entry, !had),
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    plan
}

/// The most entries one decision looks at, and the most overdue counts it writes, in `overdue`.
pub const MAX_SCAN: usize = decisions::MAX_DECISIONS + 64;
pub const MAX_FLUSH: usize = 16;

/// Counts left pending by other containers whose loop ended: a container removed, or never
/// started again, has no next decision to carry its count. So every decision also writes, for
/// any other container whose state was last changed a whole `window` ago, the last counted
/// decision with `repeats=N-1` (as a different next decision would), and drops state that
/// holds no count. An entry is claimed by rename before it is written, so two hooks never write
/// the same count. At most [`MAX_FLUSH`] records, from at most [`MAX_SCAN`] entries.
pub fn overdue(
    dir: &Path,
    except: &str,
    now: SystemTime,
    window: Duration,
) -> Vec<(Verdict, Record)> {
    let mut out = Vec::new();
    if window.is_zero() {
        return out;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten().take(MAX_SCAN) {
        if out.len() == MAX_FLUSH {
            break;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.starts_with('.') || name == except || decisions::file_name(name).is_none() {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= window);
        if !old {
            continue;
        }
        // Claimed by rename: whoever renames it writes its count.
        let claimed = dir.join(format!(".overdue-{}-{name}", std::process::id()));
        if std::fs::rename(entry.path(), &claimed).is_err() {
            continue;
        }
        let state = load(&claimed);
        let _ = std::fs::remove_file(&claimed);
        if let Some(p) = state.filter(|p| p.suppressed > 0) {
            if let Some((v, last)) = p.last {
                let repeats = Repeats {
                    count: p.suppressed - 1,
                    since: p.since.unwrap_or(p.logged_at),
                };
                out.push((
                    v,
                    Record {
                        repeats: Some(repeats),
                        ..last
                    },
                ));
            }
        }
    }
    out
}

/// The state for the container `container_id` in `dir` (the cache directory's `repeats`), if
/// it holds decisions counted and not yet written.
pub fn pending(dir: &Path, container_id: &str) -> Option<Entry> {
    let name = decisions::file_name(container_id)?;
    load(&dir.join(name)).filter(|e| e.suppressed > 0)
}

/// The state at `path`: a private regular file of this user, not through a symlink, bounded.
fn load(path: &Path) -> Option<Entry> {
    let f = crate::files::open_regular(path, false).ok()?;
    let meta = f.metadata().ok()?;
    if meta.uid() != invoker::effective_uid() || meta.mode() & 0o022 != 0 {
        return None;
    }
    let bytes = crate::files::read_bounded(f, MAX_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Replaces the state at `path` by rename; when it is a new container's, prunes `dir`.
fn save(dir: &Path, path: &Path, entry: &Entry, new: bool) {
    let Ok(text) = serde_json::to_vec(entry) else {
        return;
    };
    if text.len() as u64 > MAX_BYTES {
        let _ = std::fs::remove_file(path);
        return;
    }
    if !decisions::replace_private(dir, path, &text) {
        return;
    }
    if new {
        decisions::prune(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn deny(container: &str, reason: &str) -> Record {
        Record {
            container: container.into(),
            reason: reason.into(),
            ..Record::default()
        }
    }

    /// What a sequence of decisions for one window writes: each step's (verdict, record, time)
    /// and the records written, as `(container, reason, repeats)`.
    #[test]
    fn repeats_are_counted_and_written_with_the_next_record() {
        type Step = (Verdict, Record, u64);
        type Written = Vec<(String, String, Option<(u64, u64)>)>;
        let d = Verdict::Deny;
        let rows: Vec<(&str, Vec<Step>, Duration, Written)> = vec![
            (
                "the first record is always written",
                vec![(d, deny("c", "r"), 0)],
                W,
                vec![("c".into(), "r".into(), None)],
            ),
            (
                "repeats inside the window are counted, the next after it says how many",
                vec![
                    (d, deny("c", "r"), 0),
                    (d, deny("c", "r"), 1),
                    (d, deny("c", "r"), 2),
                    (d, deny("c", "r"), 59),
                    (d, deny("c", "r"), 60),
                    (d, deny("c", "r"), 61),
                ],
                W,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), Some((3, 1))),
                ],
            ),
            (
                "the window counts from the last written record",
                vec![
                    (d, deny("c", "r"), 0),
                    (d, deny("c", "r"), 60),
                    (d, deny("c", "r"), 119),
                    (d, deny("c", "r"), 120),
                ],
                W,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), Some((1, 119))),
                ],
            ),
            (
                "another reason is written, after the last counted one of the old",
                vec![
                    (d, deny("c", "r"), 0),
                    (d, deny("c", "r"), 1),
                    (d, deny("c", "r"), 2),
                    (d, deny("c", "s"), 3),
                ],
                W,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), Some((1, 1))),
                    ("c".into(), "s".into(), None),
                ],
            ),
            (
                "an allow is always written, and flushes the count",
                vec![
                    (d, deny("c", "r"), 0),
                    (d, deny("c", "r"), 1),
                    (Verdict::Allow, deny("c", "ok"), 2),
                    (Verdict::Allow, deny("c", "ok"), 3),
                ],
                W,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), Some((0, 1))),
                    ("c".into(), "ok".into(), None),
                    ("c".into(), "ok".into(), None),
                ],
            ),
            (
                "a would-deny is not the same as a deny",
                vec![
                    (d, deny("c", "r"), 0),
                    (Verdict::WouldDeny, deny("c", "r"), 1),
                ],
                W,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), None),
                ],
            ),
            (
                "a window of zero writes every record",
                vec![(d, deny("c", "r"), 0), (d, deny("c", "r"), 0)],
                Duration::ZERO,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), None),
                ],
            ),
            (
                "a clock that went back ends the window",
                vec![
                    (d, deny("c", "r"), 10),
                    (d, deny("c", "r"), 11),
                    (d, deny("c", "r"), 5),
                ],
                W,
                vec![
                    ("c".into(), "r".into(), None),
                    ("c".into(), "r".into(), Some((1, 11))),
                ],
            ),
        ];
        for (what, steps, window, want) in rows {
            let mut state = None;
            let mut got: Written = Vec::new();
            for (verdict, record, t) in steps {
                let (plan, next) = plan(state.take(), verdict, &record, at(t), window);
                state = next;
                for r in plan.flush.map(|(_, r)| r).into_iter().chain(plan.write) {
                    let rep = r.repeats.map(|p| {
                        let since = p.since.duration_since(at(0)).unwrap().as_secs();
                        (p.count, since)
                    });
                    got.push((r.container, r.reason, rep));
                }
            }
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn each_container_has_its_own_count_and_the_state_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open(&tmp.path().join("state")).unwrap();
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let step = |c: &str, t| coalesce(&dir, Verdict::Deny, &deny(c, "r"), at(t), W);
        assert!(step(&a, 0).write.is_some());
        assert!(step(&b, 1).write.is_some(), "another container");
        assert!(step(&a, 2).write.is_none());
        assert!(step(&a, 3).write.is_none());
        assert_eq!(pending(&dir, &a).map(|e| e.suppressed), Some(2));
        assert_eq!(pending(&dir, &b), None);
        let summary = step(&a, 100).write.unwrap();
        assert_eq!(summary.repeats.map(|r| r.count), Some(2));
        assert_eq!(pending(&dir, &a), None);
        let meta = std::fs::metadata(dir.join(&a)).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(std::fs::read(dir.join(&a)).unwrap().len() < 4096);
        // An allow with no state writes nothing there; one after a deny removes the state.
        let allow = coalesce(&dir, Verdict::Allow, &deny(&b, "ok"), at(5), W);
        assert!(allow.write.is_some());
        assert!(!dir.join(&b).exists());
        // A state file that is not ours, or garbage, is no state: the record is written.
        std::fs::write(dir.join(&a), b"garbage").unwrap();
        assert!(step(&a, 101).write.is_some());
        // A name that cannot be a file name is never coalesced.
        assert!(step("../x", 0).write.is_some());
        assert!(step("../x", 1).write.is_some());
    }

    /// A loop that stops (its container removed) leaves a count: the next decision for another
    /// container writes it once the state is a window old, exactly once; a state without a count
    /// is dropped; the decision's own container, and fresh state, are left alone.
    #[test]
    fn counts_left_by_a_stopped_loop_are_written_by_the_next_decision() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open(&tmp.path().join("state")).unwrap();
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let now = SystemTime::now();
        let step = |id: &str| coalesce(&dir, Verdict::Deny, &deny(id, "r"), now, W);
        // a: written once, then 3 counted; b: written once, nothing counted; c: fresh.
        for _ in 0..4 {
            step(&a);
        }
        step(&b);
        step(&c);
        assert_eq!(pending(&dir, &a).map(|e| e.suppressed), Some(3));
        let age = |id: &str, secs: u64| {
            let f = std::fs::File::options()
                .write(true)
                .open(dir.join(id))
                .unwrap();
            f.set_modified(now - Duration::from_secs(secs)).unwrap();
        };
        age(&a, 61);
        age(&b, 61);
        age(&c, 59);
        // Not yet a window old for c; a and b are; the decision's own container is skipped.
        let out = overdue(&dir, &a, now, W);
        assert!(out.is_empty(), "{out:?}");
        let out = overdue(&dir, "x", now, W);
        assert_eq!(out.len(), 1, "{out:?}");
        let (v, rec) = &out[0];
        assert_eq!(*v, Verdict::Deny);
        assert_eq!(rec.container, a);
        // It stands for itself and 2 more: 1 written + 3 counted = 4 decisions in all.
        assert_eq!(rec.repeats.as_ref().map(|r| r.count), Some(2));
        assert!(!dir.join(&a).exists());
        assert!(!dir.join(&b).exists(), "state without a count is dropped");
        assert!(dir.join(&c).exists());
        assert!(overdue(&dir, "x", now, W).is_empty(), "written once");
        // With coalescing off nothing is looked at.
        age(&c, 3600);
        assert!(overdue(&dir, "x", now, Duration::ZERO).is_empty());
        assert!(dir.join(&c).exists());
    }
}
