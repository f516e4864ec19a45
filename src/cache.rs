//! The verdict cache: an allow, remembered under a key that covers everything the verdict
//! depends on, so that the next start of the same image under the same policy skips gpg.
//!
//! The key is the exact text of its inputs: the binary's version, the mode, the image ID, the
//! manifest digest, a hash of the stored signatures, a hash of the policy file, a hash of every key
//! the applicable requirements name, the reference used as the identity, and the scope. An entry
//! is a file named by the key's SHA-256 holding the key text itself, compared byte for byte on
//! lookup, so a hash collision or a foreign file cannot produce a hit. Any change to an input is a
//! different key: a changed policy or key file takes effect at the very next start.
//!
//! A verdict can also end by the clock: gpg refuses a signature once it, or the key that made it,
//! has expired. An entry therefore records the earliest such expiry of the signatures its allow
//! rests on and is a miss from then on; and no entry is used for more than a day
//! (`MAX_AGE`), so that anything else that time alone changes is looked at again daily.
//!
//! Only allows are cached, never an error or a deny. The directory must be a real directory owned
//! by this user with mode 0700, and each entry a regular file owned by this user that nobody else
//! can write; anything else is ignored (a miss). Entries are written to a temporary file and
//! renamed into place.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::manifest::hex;

/// Entries are small; a bigger file is not one of ours.
const MAX_ENTRY_BYTES: u64 = 64 << 10;
/// Past this many entries the cache is emptied before the next write (it lives in `/run`, memory).
const MAX_ENTRIES: usize = 4096;
const FORMAT: &str = "oci-signature-hook verdict cache 2";
/// The longest an entry is used.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The default directory: `/run/oci-signature-hook` for root, `$XDG_RUNTIME_DIR/...` for a
/// rootless user (none if that is not set).
pub fn default_dir(rootless: bool) -> Option<PathBuf> {
    if !rootless {
        return Some(PathBuf::from("/run/oci-signature-hook"));
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("oci-signature-hook"))
}

/// Proof that an allow was found in the cache under the verdict's exact inputs. Only
/// `Cache::hit` makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit(());

/// An open cache directory.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    uid: u32,
}

/// The inputs of one verdict, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

/// Builds a key from the verdict's inputs, in a fixed order.
#[derive(Debug)]
pub struct KeyBuilder(String);

impl KeyBuilder {
    pub fn new() -> KeyBuilder {
        KeyBuilder(format!("{FORMAT}\nversion={}\n", env!("CARGO_PKG_VERSION")))
    }

    /// A text input (one line: newlines in it are escaped).
    pub fn text(mut self, name: &str, value: &str) -> Self {
        let _ = writeln!(self.0, "{name}={}", value.escape_default());
        self
    }

    /// A byte input, by its SHA-256.
    pub fn bytes(self, name: &str, value: &[u8]) -> Self {
        let hex = hex(&Sha256::digest(value));
        self.text(name, &hex)
    }

    /// A list of byte strings, length-prefixed so that the split is part of the hash.
    pub fn list(self, name: &str, items: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        h.update((items.len() as u64).to_be_bytes());
        for i in items {
            h.update((i.len() as u64).to_be_bytes());
            h.update(i);
        }
        let hex = hex(&h.finalize());
        self.text(name, &hex)
    }

    pub fn build(self) -> Key {
        Key(self.0)
    }
}

impl Default for KeyBuilder {
    fn default() -> Self {
        KeyBuilder::new()
    }
}

impl Key {
    fn file_name(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }

    /// The entry's text up to its expiry line.
    fn entry(&self) -> String {
        format!("{}verdict=allow\nnot-after=", self.0)
    }
}

impl Cache {
    /// Opens (creating it if missing) the cache at `dir`; `None` if it is not safe to use.
    pub fn open(dir: &Path) -> Option<Cache> {
        let uid = crate::invoker::effective_uid();
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let meta = std::fs::symlink_metadata(dir).ok()?;
        let private = meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0;
        private.then(|| Cache {
            dir: dir.to_path_buf(),
            uid,
        })
    }

    /// A cached allow for `key` that has not expired, as proof for the verdict; `None` if there
    /// is none (a missing, foreign, malformed or expired entry).
    pub fn hit(&self, key: &Key) -> Option<Hit> {
        self.hit_at(key, SystemTime::now()).then_some(Hit(()))
    }

    fn hit_at(&self, key: &Key, now: SystemTime) -> bool {
        let path = self.dir.join(key.file_name());
        // Not through a symlink, and only a regular file: a FIFO here is a miss, not a wait.
        let Ok(file) = crate::files::open_regular(&path, false) else {
            return false;
        };
        let Ok(meta) = file.metadata() else {
            return false;
        };
        if meta.uid() != self.uid || meta.mode() & 0o022 != 0 {
            return false;
        }
        let mut text = Vec::new();
        if file
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut text)
            .is_err()
        {
            return false;
        }
        let Some(rest) = text.strip_prefix(key.entry().as_bytes()) else {
            return false;
        };
        // `not-after=<seconds since the epoch>\n`, nothing else.
        let Some(secs) = rest
            .strip_suffix(b"\n")
            .filter(|d| !d.is_empty() && d.len() <= 20 && d.iter().all(u8::is_ascii_digit))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse::<u64>().ok())
        else {
            return false;
        };
        // A time past what the clock can hold is not one this cache wrote.
        UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .is_some_and(|not_after| now < not_after)
    }

    /// Records an allow for `key` that holds until `expires` (`None`: no expiry), for at most
    /// `MAX_AGE`. Failures are ignored: the cache only saves time.
    pub fn store(&self, key: &Key, expires: Option<SystemTime>) {
        self.store_at(key, expires, SystemTime::now());
    }

    fn store_at(&self, key: &Key, expires: Option<SystemTime>, now: SystemTime) {
        let limit = now + MAX_AGE;
        let not_after = expires.map_or(limit, |e| e.min(limit));
        // Whole seconds, rounded down: an entry never outlives what it rests on.
        let Ok(secs) = not_after.duration_since(UNIX_EPOCH).map(|d| d.as_secs()) else {
            return;
        };
        if UNIX_EPOCH + Duration::from_secs(secs) <= now {
            return;
        }
        self.prune();
        let name = key.file_name();
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            crate::cache::unique()
        ));
        let written = (|| -> std::io::Result<()> {
            let mut f: File = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(format!("{}{secs}\n", key.entry()).as_bytes())?;
            std::fs::rename(&tmp, self.dir.join(&name))
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Empties the cache when it has grown past its bound.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        if names.len() >= MAX_ENTRIES {
            for p in names {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (u64::from(nanos) << 16) | N.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("osh-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn key(policy: &[u8]) -> Key {
        KeyBuilder::new()
            .text("image_id", "abc")
            .bytes("policy", policy)
            .list("signatures", &[b"one", b"two"])
            .build()
    }

    #[test]
    fn a_stored_allow_is_found_under_its_exact_key_only() {
        let d = dir("exact");
        let c = Cache::open(&d).unwrap();
        assert!(c.hit(&key(b"p1")).is_none());
        c.store(&key(b"p1"), None);
        assert!(c.hit(&key(b"p1")).is_some());
        assert!(c.hit(&key(b"p2")).is_none());
        // The split between list items is part of the key.
        let a = KeyBuilder::new().list("s", &[b"ab", b"c"]).build();
        let b = KeyBuilder::new().list("s", &[b"a", b"bc"]).build();
        assert_ne!(a, b);
        // Newlines cannot forge another input's line.
        let x = KeyBuilder::new().text("a", "1\nb=2").build();
        let y = KeyBuilder::new().text("a", "1").text("b", "2").build();
        assert_ne!(x, y);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_foreign_or_unsafe_entries_are_misses() {
        let d = dir("corrupt");
        let c = Cache::open(&d).unwrap();
        let k = key(b"p");
        let path = d.join(k.file_name());
        // Right name, wrong content.
        std::fs::write(&path, "verdict=allow\n").unwrap();
        assert!(c.hit(&k).is_none());
        // Right content, but writable by others.
        let right = format!("{}{}\n", k.entry(), u64::MAX / 2);
        std::fs::write(&path, &right).unwrap();
        assert!(c.hit(&k).is_some());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(c.hit(&k).is_none());
        // A symlink to a right entry elsewhere.
        std::fs::remove_file(&path).unwrap();
        let elsewhere = d.with_extension("elsewhere");
        std::fs::write(&elsewhere, &right).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(c.hit(&k).is_none());
        std::fs::remove_file(&elsewhere).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_entry_expires_with_what_it_rests_on_and_after_a_day_at_most() {
        let d = dir("expiry");
        let c = Cache::open(&d).unwrap();
        let k = key(b"p");
        let now = SystemTime::now();
        let s = Duration::from_secs;
        // A signature or key that expires in a minute.
        c.store_at(&k, Some(now + s(60)), now);
        assert!(c.hit_at(&k, now + s(59)));
        assert!(!c.hit_at(&k, now + s(60)));
        // Nothing expires: a day at most.
        c.store_at(&k, None, now);
        assert!(c.hit_at(&k, now + MAX_AGE - s(1)));
        assert!(!c.hit_at(&k, now + MAX_AGE));
        // Expiring later than a day: a day.
        c.store_at(&k, Some(now + MAX_AGE * 10), now);
        assert!(!c.hit_at(&k, now + MAX_AGE));
        // Already expired (or within the second): not stored, the old entry stays as it was.
        std::fs::remove_file(d.join(k.file_name())).unwrap();
        c.store_at(&k, Some(now), now);
        c.store_at(&k, Some(UNIX_EPOCH), now);
        assert!(!d.join(k.file_name()).exists());
        // An expiry line that is not exactly one number is a miss.
        for tail in [
            "",
            "x\n",
            "12 \n",
            "-1\n",
            "99999999999999999999999\n",
            "18446744073709551615\n",
            "5\n\n",
        ] {
            std::fs::write(d.join(k.file_name()), format!("{}{tail}", k.entry())).unwrap();
            assert!(!c.hit_at(&k, UNIX_EPOCH), "{tail:?}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_open_directory_is_not_used() {
        let d = dir("open");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(Cache::open(&d).is_none());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(Cache::open(&d).is_some());
        std::fs::remove_dir_all(&d).unwrap();
        // A symlink to a private directory is not used either.
        let real = dir("real");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = dir("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(Cache::open(&link).is_none());
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(&real).unwrap();
    }
}
