//! Whom the hook runs for. Rootless podman runs the OCI runtime, and so the hook, inside the user's
//! namespace, where the user is uid 0: the effective UID alone would call every rootless start
//! rootful. `/proc/self/uid_map` says which host user uid 0 is.

use std::io::Read;
use std::path::PathBuf;

const MAX_PROC_BYTES: u64 = 64 << 10;

/// The user a container start or a `check` is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoker {
    /// The host UID of a rootless user; `None` for root.
    pub rootless_uid: Option<u32>,
    /// The user's home: `$HOME`, else the passwd entry of the host UID.
    pub home: Option<PathBuf>,
    /// Whether this process is in a user namespace other than the host's.
    pub in_user_namespace: bool,
}

impl Invoker {
    pub fn rootless(&self) -> bool {
        self.rootless_uid.is_some()
    }

    /// The UID that host root's files have as this process sees them: 0, or inside a user
    /// namespace (rootless podman) the overflow UID, since host root is not mapped there.
    pub fn host_root_uid(&self) -> u32 {
        if self.in_user_namespace {
            overflow_uid()
        } else {
            0
        }
    }
}

/// Finds out from the process's credentials and `/proc/self/uid_map`.
pub fn detect() -> Invoker {
    let euid = effective_uid();
    let map = read_small("/proc/self/uid_map").unwrap_or_default();
    let in_user_namespace = !map.trim().is_empty() && !is_identity_map(&map);
    let host_uid = if in_user_namespace {
        host_uid_of(&map, euid)
    } else {
        Some(euid)
    };
    // An unmapped UID cannot be root on the host.
    let rootless_uid = match host_uid {
        Some(0) => None,
        Some(u) => Some(u),
        None => Some(u32::MAX),
    };
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let uid = host_uid?;
            passwd_home(&read_small("/etc/passwd")?, uid)
        });
    Invoker {
        rootless_uid,
        home,
        in_user_namespace,
    }
}

/// This process's effective UID, as the kernel sees it in the process's own user namespace
/// (uid 0 for rootless podman's hooks: see [`detect`] for whom that is on the host).
#[allow(unsafe_code)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn read_small(path: &str) -> Option<String> {
    let mut s = String::new();
    crate::files::open_regular(std::path::Path::new(path), true)
        .ok()?
        .take(MAX_PROC_BYTES)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// `0 0 4294967295`: the host's own namespace.
fn is_identity_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// The host UID that `uid` inside the namespace maps to (`inside outside count` per line).
pub fn host_uid_of(map: &str, uid: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut f = line.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) = (f.next(), f.next(), f.next())
        else {
            return None;
        };
        let uid = u64::from(uid);
        (uid >= inside && uid - inside < count)
            .then(|| outside + (uid - inside))
            .and_then(|h| u32::try_from(h).ok())
    })
}

/// The home directory of `uid` in passwd text.
pub fn passwd_home(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid) && f[5].starts_with('/'))
            .then(|| PathBuf::from(f[5]))
    })
}

/// The UID that files of host users this namespace does not map appear to have (host root among
/// them), from `/proc/sys/kernel/overflowuid`.
pub fn overflow_uid() -> u32 {
    read_small("/proc/sys/kernel/overflowuid")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_namespace_uid_to_the_host() {
        let rootless = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(host_uid_of(rootless, 0), Some(1001));
        assert_eq!(host_uid_of(rootless, 1), Some(100000));
        assert_eq!(host_uid_of(rootless, 65536), Some(165535));
        assert_eq!(host_uid_of(rootless, 65537), None);
        assert!(!is_identity_map(rootless));
        let host = "         0          0 4294967295\n";
        assert!(is_identity_map(host));
        assert_eq!(host_uid_of(host, 1000), Some(1000));
        assert_eq!(host_uid_of("garbage\n", 0), None);
    }

    #[test]
    fn finds_a_home_in_passwd() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nbad line\nalice:x:1001:1001::/home/alice:/bin/sh\n";
        assert_eq!(passwd_home(passwd, 1001), Some("/home/alice".into()));
        assert_eq!(passwd_home(passwd, 0), Some("/root".into()));
        assert_eq!(passwd_home(passwd, 7), None);
    }
}
