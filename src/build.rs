//! Recognizing a buildah (`podman build`) RUN step from its OCI bundle: which store and which
//! working container's layer the step's root file system is.
//!
//! Buildah runs each RUN step as an OCI container of its own: the state's `id` is
//! `buildah-buildah<N>`, the bundle a temporary directory `$TMPDIR/buildah<N>`, and the bundle's
//! `config.json` names `<bundle>/mnt/rootfs` as the root, a bind mount of the working container's
//! mount point made in the private mount namespace that the runtime, and so the hook, run in.
//! The kernel's mount table for that namespace (`/proc/self/mountinfo`) then says what is mounted
//! there: for overlay, an overlay whose `upperdir` is `<graphroot>/overlay/<layer>/diff`; for vfs,
//! a bind of `<graphroot>/vfs/dir/<layer>`. That names the store and the working container's
//! read-write layer; `storage` goes on from there.
//!
//! What this module finds is what the kernel says is mounted, no more: whoever owns the mount
//! namespace (a rootless user owns theirs) chose those mounts.
//!
//! mountinfo, one line per mount (`proc(5)`): `ID parent major:minor root mount-point options
//! [optional fields...] - fstype source super-options`. The kernel escapes space, tab, newline
//! and backslash in paths as `\ooo` octal (`seq_path_root`, `seq_dentry`, `mangle`); overlay shows
//! its directories with `seq_show_option` or `seq_escape` and also escapes `,` (and `:` in
//! `lowerdir`), so the super options split at every literal comma.
//! Ref: buildah `run_linux.go` (`Run`, `runUsingRuntime`), `run_common.go`; Linux
//! `fs/proc_namespace.c` (`show_mountinfo`), `include/linux/seq_file.h` (`seq_show_option`),
//! `fs/overlayfs/params.c` (`ovl_show_options`); containers/storage `drivers/overlay/overlay.go`,
//! `drivers/vfs/driver.go`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::storage::{read_bounded, Dir, StorageError};

/// The bundle's config.json (a runtime spec is kilobytes).
const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// /proc/self/mountinfo: a few hundred bytes a mount.
const MAX_MOUNTINFO_BYTES: u64 = 16 << 20;

/// The part of the runtime spec read here.
#[derive(Deserialize)]
struct Config {
    root: Option<Root>,
}

#[derive(Deserialize)]
struct Root {
    path: String,
}

/// The root file system path `<bundle>/config.json` names (`root.path`), relative paths taken
/// relative to the bundle, and written without `.` components, repeated or trailing slashes (as
/// the runtime resolves it, and as mountinfo shows mount points). config.json must be a regular
/// file, not a symlink, of at most 4 MiB; the rest of it is not read.
pub fn root_path(bundle: &Path) -> Result<PathBuf, StorageError> {
    let path = bundle.join("config.json");
    let read_err = |source| StorageError::Read {
        path: path.clone(),
        source,
    };
    let file = Dir::open(bundle)
        .and_then(|d| d.file("config.json"))
        .map_err(read_err)?;
    let bytes = read_bounded(file, MAX_CONFIG_BYTES).map_err(read_err)?;
    let parse_err = |reason: String| StorageError::Parse {
        path: path.clone(),
        reason,
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(parse_err("not a JSON object".into()));
    }
    let config: Config = serde_json::from_slice(&bytes).map_err(|e| parse_err(e.to_string()))?;
    let root = config
        .root
        .map(|r| r.path)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| parse_err("no root.path".into()))?;
    if root.contains('\0') {
        return Err(parse_err("root.path has a NUL byte".into()));
    }
    Ok(bundle.join(root).components().collect())
}

/// `/proc/self/mountinfo`, read whole (at most 16 MiB). Bytes that are not UTF-8 (the kernel
/// does not escape them) become U+FFFD; [`working_layer`] never matches a path that has one.
pub fn read_mountinfo() -> io::Result<String> {
    let bytes =
        crate::files::read_regular(Path::new("/proc/self/mountinfo"), true, MAX_MOUNTINFO_BYTES)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The store and layer mounted at `root`, from mountinfo text: `(graph root, driver, layer ID)`.
///
/// The mount is the last entry whose mount point is `root` (later mounts stack on top). An
/// overlay mount of a whole file system must have exactly one `upperdir`, and it must be
/// `<graphroot>/overlay/<layer>/diff`. A bind mount of a directory (any file system type; the
/// entry's root field is the directory within its file system) is resolved through the first
/// entry of the same device that mounts that file system's root, and must be
/// `<graphroot>/vfs/dir/<layer>`. The layer ID must be 64 lowercase hex digits, and every path
/// absolute with no `.` or `..` component. Anything else, an entry that does not parse, or a path
/// with U+FFFD (a byte that was not UTF-8), gives `None`.
pub fn working_layer(mountinfo: &str, root: &Path) -> Option<(PathBuf, String, String)> {
    let root = root.as_os_str().as_bytes();
    if has_replacement(root) {
        return None;
    }
    let mut entries = Vec::new();
    for line in mountinfo.lines().filter(|l| !l.is_empty()) {
        // A line that does not parse might be the mount on top: nothing can be said.
        entries.push(Entry::parse(line)?);
    }
    let top = entries.iter().rev().find(|e| e.mount_point == root)?;
    if top.fstype == "overlay" && top.root == b"/" {
        let mut upper = top
            .super_options
            .split(',')
            .filter_map(|o| o.strip_prefix("upperdir="));
        let (Some(dir), None) = (upper.next(), upper.next()) else {
            return None;
        };
        return layer_of(&unescape(dir)?, &["overlay", "<layer>", "diff"], "overlay");
    }
    if top.root == b"/" {
        return None;
    }
    let fs_root = entries
        .iter()
        .find(|e| e.device == top.device && e.root == b"/")?;
    let mut path = fs_root.mount_point.clone();
    if path == b"/" {
        path.clear();
    }
    path.extend_from_slice(&top.root);
    layer_of(&path, &["vfs", "dir", "<layer>"], "vfs")
}

/// One mountinfo entry, with its paths unescaped.
struct Entry<'a> {
    device: &'a str,
    root: Vec<u8>,
    mount_point: Vec<u8>,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Entry<'a>> {
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
        let (device, root, mount_point) = (fields.get(2)?, fields.get(3)?, fields.get(4)?);
        Some(Entry {
            device,
            root: unescape(root)?,
            mount_point: unescape(mount_point)?,
            fstype: fields.get(sep + 1)?,
            super_options: fields.get(sep + 3).copied().unwrap_or(""),
        })
    }
}

/// A mountinfo path with the kernel's `\ooo` octal escapes decoded; `None` for a backslash that
/// does not start one (the kernel escapes every backslash).
fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let digits = b.get(i + 1..i + 4)?;
        if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
            return None;
        }
        let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
        out.push(u8::try_from(value).ok()?);
        i += 4;
    }
    Some(out)
}

/// `(graph root, driver, layer)` if `path` is `<graphroot>/<tail>`, `<layer>` in `tail` standing
/// for a 64-hex layer ID.
fn layer_of(path: &[u8], tail: &[&str; 3], driver: &str) -> Option<(PathBuf, String, String)> {
    if has_replacement(path) || path.first() != Some(&b'/') {
        return None;
    }
    let parts: Vec<&[u8]> = path[1..].split(|b| *b == b'/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == b"." || *p == b"..")
    {
        return None;
    }
    let (base, last) = parts.split_at(parts.len().checked_sub(3)?);
    let mut layer = None;
    for (got, want) in last.iter().zip(tail) {
        if *want == "<layer>" {
            let id = std::str::from_utf8(got).ok()?;
            if id.len() != 64 || !crate::manifest::is_lower_hex(id) {
                return None;
            }
            layer = Some(id.to_string());
        } else if *got != want.as_bytes() {
            return None;
        }
    }
    let graphroot: PathBuf = std::iter::once(Component::RootDir)
        .chain(base.iter().map(|p| Component::Normal(OsStr::from_bytes(p))))
        .collect();
    Some((graphroot, driver.to_string(), layer?))
}

/// Whether `b` holds U+FFFD, which may stand for a byte that was not UTF-8.
fn has_replacement(b: &[u8]) -> bool {
    memchr::memmem::find(b, "\u{FFFD}".as_bytes()).is_some()
}

#[cfg(test)]
mod tests;
