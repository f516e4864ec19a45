//! Opening the files the hook reads so that no kind of file can stall it or stand in for a
//! regular one.
//!
//! Opening a FIFO for reading blocks until a writer opens it, which may be never; a device may do
//! the same, or worse. Every file is therefore opened with `O_NONBLOCK` (and `O_NOCTTY`), checked
//! with `fstat` to be a regular file, and only then made blocking again. Files in places an
//! unprivileged user may write to (the store, the verdict cache, the decisions directory) are
//! also opened with `O_NOFOLLOW`; root's own files (the policy, key files, configuration) may be
//! symlinks, which are followed, but the file reached must still be a regular one.

use std::ffi::CString;
use std::fmt;
use std::fs::{File, FileType};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// The error of opening something that is not a regular file; [`kind`] finds it again in an
/// `io::Error`, and it reads `not a regular file (a FIFO)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotRegular(pub &'static str);

impl fmt::Display for NotRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a regular file ({})", self.0)
    }
}

impl std::error::Error for NotRegular {}

/// What kind of file `e` says was found instead of a regular one (`"a FIFO"`), if that is the
/// error.
pub fn kind(e: &io::Error) -> Option<&'static str> {
    e.get_ref()?.downcast_ref::<NotRegular>().map(|n| n.0)
}

/// The kind of a file, in words: `a FIFO`, `a directory`.
pub fn describe(t: FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a file of unknown kind"
    }
}

/// Opens `path` for reading, without blocking in the open, and only if it is a regular file:
/// anything else is an error carrying [`NotRegular`]. With `follow` false a symlink as the last
/// component is refused (`ELOOP`).
pub fn open_regular(path: &Path, follow: bool) -> io::Result<File> {
    open_regular_at(libc::AT_FDCWD, path, follow)
}

/// [`open_regular`] relative to the directory `dirfd` (or `AT_FDCWD`).
pub(crate) fn open_regular_at(dirfd: libc::c_int, path: &Path, follow: bool) -> io::Result<File> {
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    let file = File::from(open_at(
        dirfd,
        path,
        libc::O_NONBLOCK | libc::O_NOCTTY | nofollow,
    )?);
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            NotRegular(describe(t)),
        ));
    }
    clear_nonblocking(&file)?;
    Ok(file)
}

/// [`open_regular`], then the file read whole, refusing one larger than `max` bytes.
pub fn read_regular(path: &Path, follow: bool, max: u64) -> io::Result<Vec<u8>> {
    read_bounded(open_regular(path, follow)?, max)
}

/// Reads `r` to its end, or fails once it has more than `max` bytes.
pub fn read_bounded(r: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {max}-byte limit"),
        ));
    }
    Ok(buf)
}

/// `openat(dirfd, path, flags | O_RDONLY | O_CLOEXEC)`.
#[allow(unsafe_code)]
pub(crate) fn open_at(dirfd: libc::c_int, path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; `dirfd` is AT_FDCWD or
    // a descriptor the caller keeps open across the call. openat does not retain the pointer.
    let fd = unsafe { libc::openat(dirfd, c.as_ptr(), flags | libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Clears `O_NONBLOCK` on an open file.
#[allow(unsafe_code)]
fn clear_nonblocking(file: &File) -> io::Result<()> {
    // SAFETY: `file` is an open descriptor; F_GETFL and F_SETFL take and return plain ints.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[allow(unsafe_code)]
    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    fn refused(path: &Path, follow: bool) -> &'static str {
        let e = open_regular(path, follow).unwrap_err();
        let k = kind(&e).unwrap_or_else(|| panic!("{path:?}: {e}"));
        assert_eq!(e.to_string(), format!("not a regular file ({k})"));
        k
    }

    #[test]
    fn a_regular_file_is_opened_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"data").unwrap();
        for follow in [true, false] {
            let f = open_regular(&p, follow).unwrap();
            #[allow(unsafe_code)]
            // SAFETY: `f` is an open descriptor.
            let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
            assert_eq!(flags & libc::O_NONBLOCK, 0);
            assert_eq!(read_bounded(f, 4).unwrap(), b"data");
        }
        assert_eq!(read_regular(&p, true, 4).unwrap(), b"data");
        assert!(read_regular(&p, true, 3).is_err());
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo");
        mkfifo(&p);
        let start = std::time::Instant::now();
        assert_eq!(refused(&p, true), "a FIFO");
        assert_eq!(refused(&p, false), "a FIFO");
        // Behind a symlink too, when symlinks are followed.
        let link = d.path().join("link");
        symlink(&p, &link).unwrap();
        assert_eq!(refused(&link, true), "a FIFO");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_symlink_is_followed_only_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let link = d.path().join("link");
        symlink(&p, &link).unwrap();
        assert_eq!(read_regular(&link, true, 10).unwrap(), b"x");
        let e = open_regular(&link, false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        // A dangling one does not exist either way.
        let dangling = d.path().join("dangling");
        symlink(d.path().join("nothing"), &dangling).unwrap();
        let e = open_regular(&dangling, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn directories_sockets_and_devices_are_refused() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(refused(d.path(), true), "a directory");
        assert_eq!(refused(d.path(), false), "a directory");
        let sock = d.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        // A socket cannot be opened at all (ENXIO); either way it is not read.
        let e = open_regular(&sock, true).unwrap_err();
        assert!(
            kind(&e) == Some("a socket") || e.raw_os_error() == Some(libc::ENXIO),
            "{e}"
        );
        assert_eq!(refused(Path::new("/dev/null"), true), "a character device");
    }
}
