//! `containers-storage.conf(5)`: where the stores are, for bundles that do not name the graph root
//! (CRI-O passes the run-root copy of the bundle) and for additional read-only image stores.
//!
//! Which file: `$CONTAINERS_STORAGE_CONF`, else for a non-root user
//! `$XDG_CONFIG_HOME/containers/storage.conf` (or `~/.config/...`) when it exists, else
//! `/etc/containers/storage.conf`, else `/usr/share/containers/storage.conf`, else the built-in
//! defaults. Ref: containers/storage `types/options.go`, `docs/containers-storage.conf.5.md`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

const MAX_CONF_BYTES: u64 = 1 << 20;

/// The parts of storage.conf the hook uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageConf {
    pub driver: Option<String>,
    pub graphroot: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub additional_image_stores: Vec<PathBuf>,
    /// `rootless_storage_path`: a rootless user's graph root, set in the system file.
    pub rootless_storage_path: Option<String>,
    /// The file it came from, for messages; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    /// Whether that file is the system's (`/etc`, `/usr/share`), whose `graphroot` and `runroot`
    /// are root's and do not apply to a rootless user.
    pub system: bool,
}

#[derive(Deserialize, Default)]
struct File {
    #[serde(default)]
    storage: Section,
}

#[derive(Deserialize, Default)]
struct Section {
    driver: Option<String>,
    graphroot: Option<String>,
    runroot: Option<String>,
    rootless_storage_path: Option<String>,
    #[serde(default)]
    options: Options,
}

#[derive(Deserialize, Default)]
struct Options {
    #[serde(default)]
    additionalimagestores: Vec<String>,
}

/// Finds and reads storage.conf. A file that exists but cannot be read or parsed is an error.
pub fn load(rootless: bool) -> Result<StorageConf, String> {
    let env = std::env::var_os("CONTAINERS_STORAGE_CONF")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let mut candidates: Vec<PathBuf> = env.into_iter().collect();
    if candidates.is_empty() {
        if rootless {
            let config_home = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            candidates.extend(config_home.map(|d| d.join("containers/storage.conf")));
        }
        candidates.push("/etc/containers/storage.conf".into());
        candidates.push("/usr/share/containers/storage.conf".into());
    }
    for path in candidates {
        match crate::files::open_regular(&path, true) {
            Ok(f) => {
                let bytes = super::fs::read_bounded(f, MAX_CONF_BYTES)
                    .map_err(|e| format!("cannot read {path:?}: {}", crate::words::io(&e)))?;
                let text =
                    String::from_utf8(bytes).map_err(|_| format!("{path:?} is not UTF-8"))?;
                let system = path.starts_with("/etc/containers/")
                    || path.starts_with("/usr/share/containers/");
                return parse(&text)
                    .map(|c| StorageConf {
                        path: Some(path.clone()),
                        system,
                        ..c
                    })
                    .map_err(|e| format!("invalid {path:?}: {e}"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {path:?}: {}", crate::words::io(&e))),
        }
    }
    Ok(StorageConf::default())
}

/// Parses storage.conf text; keys the hook does not use are ignored.
pub fn parse(text: &str) -> Result<StorageConf, String> {
    let f: File = basic_toml::from_str(text).map_err(|e| e.to_string())?;
    let path = |s: Option<String>| s.filter(|s| !s.is_empty()).map(PathBuf::from);
    Ok(StorageConf {
        driver: f.storage.driver.filter(|d| !d.is_empty()),
        graphroot: path(f.storage.graphroot),
        runroot: path(f.storage.runroot),
        additional_image_stores: f
            .storage
            .options
            .additionalimagestores
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        rootless_storage_path: f.storage.rootless_storage_path.filter(|s| !s.is_empty()),
        path: None,
        system: false,
    })
}

/// Whether two paths name the same directory (both resolved; unequal if either cannot be).
pub fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_roots_driver_and_additional_stores() {
        let c = parse(
            r#"
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
transient_store = false

[storage.options]
additionalimagestores = ["/usr/lib/containers/storage", "/mnt/images"]
pull_options = {enable_partial_images = "false"}

[storage.options.overlay]
mountopt = "nodev"
"#,
        )
        .unwrap();
        assert_eq!(c.driver.as_deref(), Some("overlay"));
        assert_eq!(c.graphroot, Some("/var/lib/containers/storage".into()));
        assert_eq!(c.runroot, Some("/run/containers/storage".into()));
        assert_eq!(
            c.additional_image_stores,
            vec![
                PathBuf::from("/usr/lib/containers/storage"),
                "/mnt/images".into()
            ]
        );
        assert_eq!(parse("").unwrap(), StorageConf::default());
        assert!(parse("[storage\n").is_err());
        assert!(parse("[storage]\ngraphroot = 5\n").is_err());
    }
}
