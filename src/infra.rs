//! Recognizing podman's own pod infra ("pause") image by what it is, not by its name.
//!
//! podman 4.3 and 5.0–5.4 build `localhost/podman-pause:<version>-<built>` on the host, from
//! `FROM scratch`, `COPY catatonit /catatonit`, `ENTRYPOINT ["/catatonit","-P"]`, catatonit being
//! the host's own binary (found in `/usr/local/libexec/podman`, `/usr/local/lib/podman`,
//! `/usr/libexec/podman`, `/usr/lib/podman`, then `$PATH`). Such an image has one layer, and that
//! layer's directory holds one entry, `catatonit`, byte for byte a catatonit binary of the host.
//! A name is anyone's to give; those bytes are root's.
//! Ref: podman `pkg/specgen/generate/pause_image.go` (`PullOrBuildInfraImage`,
//! `buildPauseImage`); containers/common `pkg/config/config.go` (`FindHelperBinary`) and
//! `pkg/config/default.go` (the helper directories).

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::storage::Dir;

/// The repository podman names its pod infra image in (`localhost/podman-pause:<version>-<built>`);
/// the name alone proves nothing, and only messages use it.
pub const PAUSE_REPOSITORY: &str = "localhost/podman-pause";

/// Where a host's catatonit may be, podman's helper directories first.
pub const CATATONIT: [&str; 6] = [
    "/usr/libexec/podman/catatonit",
    "/usr/local/libexec/podman/catatonit",
    "/usr/lib/podman/catatonit",
    "/usr/local/lib/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/local/bin/catatonit",
];

/// catatonit is under a megabyte; anything this large is not it.
const MAX_BYTES: u64 = 64 << 20;
/// Each side of the comparison reads this much at a time: 64 KiB held in all.
const CHUNK: usize = 32 << 10;

/// The host catatonit ([`CATATONIT`]) that `layer`, an image's only layer directory, is podman's
/// pause image of; `None` if it is not one. `root_uid` is the UID host root's files have as this
/// process sees them (0, or the overflow UID in a rootless user's namespace).
pub fn podman_pause(layer: &Dir, root_uid: u32) -> Option<PathBuf> {
    let candidates = CATATONIT.map(Path::new);
    podman_pause_among(layer, &candidates, root_uid)
}

/// As [`podman_pause`], with the host's catatonit looked for at `candidates`, in order.
///
/// The layer directory must hold exactly one entry (at most two are listed), `catatonit`, a
/// regular file (opened without following a symlink) of at most 64 MiB. A candidate must be a
/// regular file (symlinks to it are followed: these paths are root's) owned by `root_uid`,
/// writable by neither group nor others, of the same size, and the same bytes, compared a chunk
/// at a time. The first candidate that matches is returned.
pub fn podman_pause_among(layer: &Dir, candidates: &[&Path], root_uid: u32) -> Option<PathBuf> {
    let names = layer.names(2).ok()?;
    if names.len() != 1 || names[0] != "catatonit" {
        return None;
    }
    let file = layer.file("catatonit").ok()?;
    let size = file.metadata().ok()?.len();
    if size > MAX_BYTES {
        return None;
    }
    candidates
        .iter()
        .find(|host| same_as_host(&file, size, host, root_uid))
        .map(|host| host.to_path_buf())
}

/// Whether `host` is a root-owned, root-only-writable regular file with the `size` bytes of `file`.
fn same_as_host(file: &File, size: u64, host: &Path, root_uid: u32) -> bool {
    // Non-blocking, and only a regular file: a FIFO in its place is refused, not waited on.
    let Ok(host) = crate::files::open_regular(host, true) else {
        return false;
    };
    let Ok(meta) = host.metadata() else {
        return false;
    };
    if meta.uid() != root_uid || meta.mode() & 0o022 != 0 || meta.len() != size {
        return false;
    }
    let (mut a, mut b) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut at = 0u64;
    while at < size {
        let n = usize::try_from((size - at).min(CHUNK as u64)).unwrap_or(CHUNK);
        let (a, b) = (&mut a[..n], &mut b[..n]);
        if file.read_exact_at(a, at).is_err() || host.read_exact_at(b, at).is_err() || a != b {
            return false;
        }
        at += n as u64;
    }
    // Neither has grown since its size was taken.
    let ended = |f: &File, buf: &mut [u8]| matches!(f.read_at(buf, size), Ok(0));
    ended(file, &mut a[..1]) && ended(&host, &mut b[..1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    struct Setup {
        _tmp: tempfile::TempDir,
        layer: PathBuf,
        host: PathBuf,
    }

    /// A layer directory holding `catatonit` with `bytes`, and a "host catatonit" with the same
    /// bytes, mode 0755, owned by this process's user.
    fn setup(bytes: &[u8]) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let layer = tmp.path().join("diff");
        std::fs::create_dir(&layer).unwrap();
        std::fs::write(layer.join("catatonit"), bytes).unwrap();
        let host = tmp.path().join("host-catatonit");
        std::fs::write(&host, bytes).unwrap();
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).unwrap();
        Setup {
            _tmp: tmp,
            layer,
            host,
        }
    }

    fn me() -> u32 {
        crate::invoker::effective_uid()
    }

    fn check(s: &Setup, candidates: &[&Path]) -> Option<PathBuf> {
        podman_pause_among(&Dir::open(&s.layer).unwrap(), candidates, me())
    }

    const BINARY: &[u8] = b"\x7fELF\x02\x01\x01\0catatonit 0.1.7";

    #[test]
    fn the_host_s_catatonit_alone_in_the_layer_is_podman_s_pause_image() {
        let s = setup(BINARY);
        assert_eq!(check(&s, &[&s.host]), Some(s.host.clone()));
        // The first candidate that matches; missing ones are skipped.
        let missing = s.layer.join("missing");
        assert_eq!(check(&s, &[&missing, &s.host]), Some(s.host.clone()));
        assert_eq!(check(&s, &[&missing]), None);
        assert_eq!(check(&s, &[]), None);
        // A candidate that is a symlink (Debian's /usr/libexec/podman/catatonit is) is followed.
        let link = s.layer.parent().unwrap().join("libexec-catatonit");
        symlink(&s.host, &link).unwrap();
        assert_eq!(check(&s, &[&link]), Some(link.clone()));
        // Owned by someone else than root.
        let other = me().wrapping_add(1);
        assert_eq!(
            podman_pause_among(&Dir::open(&s.layer).unwrap(), &[&s.host], other),
            None
        );
    }

    #[test]
    fn anything_else_in_the_layer_is_not() {
        // Another file beside it.
        let s = setup(BINARY);
        std::fs::write(s.layer.join("sh"), b"").unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // A directory beside it.
        let s = setup(BINARY);
        std::fs::create_dir(s.layer.join("etc")).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // Empty.
        let s = setup(BINARY);
        std::fs::remove_file(s.layer.join("catatonit")).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // One entry by another name.
        std::fs::write(s.layer.join("catatonit2"), BINARY).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // A symlink named catatonit, to the host's binary itself.
        let s = setup(BINARY);
        std::fs::remove_file(s.layer.join("catatonit")).unwrap();
        symlink(&s.host, s.layer.join("catatonit")).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // A directory named catatonit.
        let s = setup(BINARY);
        std::fs::remove_file(s.layer.join("catatonit")).unwrap();
        std::fs::create_dir(s.layer.join("catatonit")).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // A FIFO named catatonit: refused without waiting for a writer.
        let s = setup(BINARY);
        std::fs::remove_file(s.layer.join("catatonit")).unwrap();
        mkfifo(&s.layer.join("catatonit"));
        assert_eq!(check(&s, &[&s.host]), None);
    }

    #[test]
    fn the_bytes_must_be_the_same() {
        // Same size, one byte different.
        let s = setup(BINARY);
        let mut other = BINARY.to_vec();
        other[BINARY.len() - 1] ^= 1;
        std::fs::write(s.layer.join("catatonit"), &other).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // A different size, the same beginning.
        std::fs::write(s.layer.join("catatonit"), &BINARY[..BINARY.len() - 1]).unwrap();
        assert_eq!(check(&s, &[&s.host]), None);
        // Larger than one chunk: the same, then differing only in the last byte, then in the first
        // byte of the second chunk.
        let big: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        let s = setup(&big);
        assert_eq!(check(&s, &[&s.host]), Some(s.host.clone()));
        for at in [big.len() - 1, CHUNK, 0] {
            let mut other = big.clone();
            other[at] ^= 0x80;
            std::fs::write(s.layer.join("catatonit"), &other).unwrap();
            assert_eq!(check(&s, &[&s.host]), None, "{at}");
        }
        // Empty files are the same bytes; catatonit is never empty, but nothing here says so.
        let s = setup(b"");
        assert_eq!(check(&s, &[&s.host]), Some(s.host.clone()));
    }

    #[test]
    fn a_candidate_others_can_write_or_that_is_not_a_file_is_skipped() {
        let s = setup(BINARY);
        let good = s.layer.parent().unwrap().join("good-catatonit");
        std::fs::copy(&s.host, &good).unwrap();
        for mode in [0o757, 0o775, 0o777, 0o722] {
            std::fs::set_permissions(&s.host, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(check(&s, &[&s.host]), None, "{mode:o}");
            assert_eq!(check(&s, &[&s.host, &good]), Some(good.clone()), "{mode:o}");
        }
        // Read-only for everyone is fine.
        std::fs::set_permissions(&s.host, std::fs::Permissions::from_mode(0o500)).unwrap();
        assert_eq!(check(&s, &[&s.host]), Some(s.host.clone()));
        // A directory or a FIFO where a candidate should be.
        let dir = s.layer.parent().unwrap().join("dir");
        std::fs::create_dir(&dir).unwrap();
        let fifo = s.layer.parent().unwrap().join("fifo");
        mkfifo(&fifo);
        assert_eq!(check(&s, &[&dir, &fifo]), None);
    }

    #[test]
    fn anything_over_64_mib_is_refused_unread() {
        let s = setup(b"");
        for p in [s.layer.join("catatonit"), s.host.clone()] {
            File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(MAX_BYTES + 1)
                .unwrap();
        }
        assert_eq!(check(&s, &[&s.host]), None);
    }

    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: a valid NUL-terminated path.
        let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(r, 0);
    }
}
