//! Opening storage files without following symlinks, reading them with a size bound, and taking
//! containers/storage's `fcntl` read locks with a bounded wait.
//!
//! A store's files are opened relative to a directory handle, one component at a time, with
//! `O_NOFOLLOW`: a symlink anywhere below the store root is refused, never followed.
//! Ref: containers/storage `pkg/lockfile/lockfile_unix.go` (the `fcntl` locks on `*.lock` files),
//! `containers.go` and `images.go` (`save`: how the JSON record files are written).

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

pub use crate::files::read_bounded;
use crate::files::{self, open_at};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An open directory, and its path for messages.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens the directory at `path` (an absolute path given by the runtime; symlinks in it are
    /// the host's business, and followed).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = open_at(libc::AT_FDCWD, path, libc::O_DIRECTORY)?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens the subdirectory `name` (one component), refusing a symlink.
    pub fn dir(&self, name: &str) -> io::Result<Dir> {
        let fd = open_at(
            self.fd.as_raw_fd(),
            component(name)?,
            libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// Opens the file `name` (one component) for reading, refusing a symlink and anything but a
    /// regular file, without blocking in the open (`files::open_regular`): a FIFO in its place
    /// cannot stall the hook.
    pub fn file(&self, name: &str) -> io::Result<File> {
        files::open_regular_at(self.fd.as_raw_fd(), component(name)?, false)
    }

    /// The names of the directory's first `limit` entries, in the order the file system lists
    /// them, without `.` and `..`; reading stops there, so a huge directory costs no more.
    pub fn names(&self, limit: usize) -> io::Result<Vec<OsString>> {
        list(self.fd.as_raw_fd(), limit)
    }

    /// Reads the file `name` whole, refusing one larger than `max` bytes.
    pub fn read(&self, name: &str, max: u64) -> io::Result<Vec<u8>> {
        read_bounded(self.file(name)?, max)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Finds the last top-level record of a containers/storage JSON array file (`containers.json`,
/// `images.json`) that starts with `{"id":"<id>"`, the way containers/storage writes them, and
/// returns the offset of its `{`, without parsing the file: it looks first in the last 256 KiB,
/// where a newly created container is, then searches the rest. `Ok(None)` if there is no such record (the
/// caller then parses the whole file, which also covers any other layout). The last match is the
/// one containers/storage would use: it loads records into a map by ID.
pub fn find_record(file: &File, id: &str, max_file: u64) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 256 << 10;
    let len = file.metadata()?.len();
    if len > max_file {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {max_file}-byte limit"),
        ));
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let needle = format!("{{\"id\":\"{id}\"");
    let overlap = needle.len() as u64 - 1;
    // The last chunk first (a new container's record is there), backwards; then the rest of the
    // file forwards, which memchr searches several times faster, keeping the last match.
    let tail = len.saturating_sub(CHUNK);
    let last_chunk = read_at(file, tail, len)?;
    let found = match memchr::memmem::rfind(&last_chunk, needle.as_bytes()) {
        Some(i) => Some(tail + i as u64),
        None => {
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            let mut last = None;
            let mut start = 0;
            while start < tail {
                // Chunks overlap by the needle's length, so a match across a boundary is seen;
                // the last one reaches into the tail chunk, where there is no match.
                let chunk = read_at(file, start, (start + CHUNK + overlap).min(len))?;
                last = finder
                    .find_iter(&chunk)
                    .last()
                    .map(|i| start + i as u64)
                    .or(last);
                start += CHUNK;
            }
            last
        }
    };
    let Some(at) = found else {
        return Ok(None);
    };
    // A top-level element follows `[` or `,` (after optional whitespace).
    let before = read_at(file, at.saturating_sub(64), at)?;
    let prev = before.iter().rev().find(|b| !b.is_ascii_whitespace());
    if !matches!(prev, Some(b'[') | Some(b',')) {
        return Ok(None);
    }
    Ok(Some(at))
}

/// The bytes of `file` from offset `from` to `to` (fewer at its end).
pub fn read_at(file: &File, from: u64, to: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; usize::try_from(to.saturating_sub(from)).unwrap_or(0)];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], from + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// A name must be a single path component.
fn component(name: &str) -> io::Result<&Path> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid file name {name:?}"),
        ));
    }
    Ok(Path::new(name))
}

/// The first `limit` entry names of the directory `dirfd`, through a descriptor of its own (a new
/// open of `.`), so that the listing does not move `dirfd`'s offset.
#[allow(unsafe_code)]
fn list(dirfd: libc::c_int, limit: usize) -> io::Result<Vec<OsString>> {
    use std::os::unix::ffi::OsStringExt;
    let own = open_at(dirfd, Path::new("."), libc::O_DIRECTORY)?;
    let fd = std::os::fd::IntoRawFd::into_raw_fd(own);
    // SAFETY: `fd` is an open directory descriptor that nothing else owns; on success the
    // directory stream owns it and closedir below closes it.
    let stream = unsafe { libc::fdopendir(fd) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `fd` is still ours to close.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    let mut out = Vec::new();
    let mut result = Ok(());
    while out.len() < limit {
        // readdir reports an error only through errno, which is cleared first.
        // SAFETY: __errno_location returns this thread's errno, always valid to write.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a live directory stream, used by this thread only.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(0) {
                result = Err(e);
            }
            break;
        }
        // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated, and it stays
        // valid until the next readdir on this stream; the name is copied out before that.
        let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            out.push(OsString::from_vec(name.to_vec()));
        }
    }
    // SAFETY: `stream` is live and closed once; this also closes `fd`.
    unsafe { libc::closedir(stream) };
    result.map(|()| out)
}

/// A shared `fcntl` record lock on a containers/storage lock file, released on drop (when the
/// descriptor closes).
#[derive(Debug)]
pub struct ReadLock {
    _file: File,
}

/// How long to wait for an engine to release a write lock. The runtime may run hooks while the
/// engine holds a lock, so the wait is bounded, and running out of time denies.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

impl ReadLock {
    /// Takes a read lock on `dir/name`, polling until `deadline`. A missing lock file (read-only
    /// additional stores have none) gives `Ok(None)`.
    pub fn acquire(dir: &Dir, name: &str, deadline: Instant) -> io::Result<Option<ReadLock>> {
        let file = match dir.file(name) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut pause = Duration::from_millis(1);
        loop {
            match try_read_lock(&file) {
                Ok(()) => return Ok(Some(ReadLock { _file: file })),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("{:?} stayed locked for writing", dir.path().join(name)),
                        ));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[allow(unsafe_code)]
fn try_read_lock(file: &File) -> io::Result<()> {
    // SAFETY: an all-zero `flock` is a valid value (whole file from offset 0); the fields that
    // matter are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_RDLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: `file` is an open descriptor and `fl` a valid flock that lives across the call.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "osh-fs-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn refuses_symlinks_below_the_root() {
        let d = tmp();
        std::fs::write(d.join("real"), b"x").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        symlink(d.join("real"), d.join("link")).unwrap();
        symlink(d.join("sub"), d.join("dirlink")).unwrap();
        let dir = Dir::open(&d).unwrap();
        assert_eq!(dir.read("real", 10).unwrap(), b"x");
        assert!(dir.read("link", 10).is_err());
        assert!(dir.dir("dirlink").is_err());
        assert!(dir.dir("sub").is_ok());
        assert!(dir.read("../real", 10).is_err());
        assert!(dir.file("sub").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn lists_at_most_the_names_asked_for() {
        let d = tmp();
        let dir = Dir::open(&d).unwrap();
        assert!(dir.names(2).unwrap().is_empty());
        std::fs::write(d.join("one"), b"").unwrap();
        assert_eq!(dir.names(2).unwrap(), [OsString::from("one")]);
        for i in 0..100 {
            std::fs::write(d.join(format!("f{i}")), b"").unwrap();
        }
        assert_eq!(dir.names(2).unwrap().len(), 2);
        assert_eq!(dir.names(0).unwrap().len(), 0);
        // Each listing starts from the beginning, and opening files still works.
        assert_eq!(dir.names(1000).unwrap().len(), 101);
        assert_eq!(dir.names(1000).unwrap().len(), 101);
        assert!(dir.file("one").is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let d = tmp();
        let fifo = CString::new(d.join("fifo").as_os_str().as_bytes()).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: a valid NUL-terminated path.
        let r = unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
        assert_eq!(r, 0);
        let dir = Dir::open(&d).unwrap();
        let err = dir.file("fifo").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // A regular file is read as usual: the non-blocking flag is gone once it is open.
        std::fs::write(d.join("f"), b"data").unwrap();
        let f = dir.file("f").unwrap();
        #[allow(unsafe_code)]
        // SAFETY: `f` is an open descriptor.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        assert_eq!(read_bounded(f, 10).unwrap(), b"data");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bounds_every_read() {
        assert!(read_bounded(&b"12345"[..], 5).is_ok());
        assert!(read_bounded(&b"123456"[..], 5).is_err());
    }

    #[test]
    fn read_lock_without_a_lock_file_is_none() {
        let d = tmp();
        let dir = Dir::open(&d).unwrap();
        assert!(ReadLock::acquire(&dir, "images.lock", Instant::now())
            .unwrap()
            .is_none());
        std::fs::write(d.join("images.lock"), b"").unwrap();
        assert!(ReadLock::acquire(&dir, "images.lock", Instant::now())
            .unwrap()
            .is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
