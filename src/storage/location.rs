//! Where a store is: its graph root, run root, graph driver and additional image stores, worked
//! out either from explicit settings, storage.conf and the built-in defaults (`check`), or from an
//! OCI bundle path (the hook).
//!
//! The rules follow containers/storage: a rootless user whose storage.conf is the system's does not
//! use root's `graphroot` and `runroot` from it, only its `rootless_storage_path` (with `$HOME` and
//! `$UID` replaced), else the rootless defaults under `$XDG_DATA_HOME` (or `~/.local/share`) and
//! `$XDG_RUNTIME_DIR`. Without a configured driver, a driver that already has a store in the graph
//! root is used. A bundle path is `<root>/<driver>-containers/<id>/userdata`, where `<root>` is
//! the graph root (podman) or the run root (CRI-O), which storage.conf pairs with a graph root.
//! Ref: containers/storage `types/options.go` (`loadStoreOptionsFromConfFile`,
//! `getRootlessStorageOpts`), `types/utils.go` (`getRootlessRuntimeDir`, `getRootlessDirInfo`),
//! `drivers/driver.go` (`New`, `scanPriorDrivers`), `docs/containers-storage.conf.5.md`.

use std::path::{Path, PathBuf};

use super::conf::{self, StorageConf};
use super::{Result, StorageError};
use crate::invoker::Invoker;

/// Drivers looked for in the graph root, in this order, when none is given or the configured one
/// has no store there.
const DRIVERS: [&str; 6] = ["overlay", "vfs", "btrfs", "zfs", "aufs", "devmapper"];

/// Where a store is, after explicit settings, storage.conf and the built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub graphroot: PathBuf,
    /// Where transient container records may also be; `None` if no run root is known.
    pub runroot: Option<PathBuf>,
    pub driver: String,
    /// storage.conf's `additionalimagestores`: read-only graph roots whose images are searched
    /// after the graph root's, in this order.
    pub additional_image_stores: Vec<PathBuf>,
}

/// What was asked for explicitly (`check`'s `--root`, `--runroot` and `--storage-driver`). Each
/// one given wins over storage.conf and the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides<'a> {
    pub graphroot: Option<&'a Path>,
    pub runroot: Option<&'a Path>,
    pub driver: Option<&'a str>,
}

/// Reads `who`'s storage.conf (`conf::load`) and resolves the store's location with it.
pub fn locate(overrides: &Overrides<'_>, who: &Invoker) -> std::result::Result<Location, String> {
    let conf = conf::load(who.rootless())?;
    resolve(overrides, who, &conf)
}

/// The store's location: `overrides` first, then `conf`, then the built-in defaults; the driver
/// is the given one, else the configured one if it has a store in the graph root, else the first
/// of `DRIVERS` that has, else the configured one, else `overlay`.
pub fn resolve(
    overrides: &Overrides<'_>,
    who: &Invoker,
    conf: &StorageConf,
) -> std::result::Result<Location, String> {
    let rootless = who.rootless();
    let (default_run, default_graph) = default_roots(rootless);
    // As containers/storage: a rootless user does not use root's graph and run roots from the
    // system file, only its rootless_storage_path.
    let (conf_graph, conf_run) = if rootless && conf.system {
        let graph = conf.rootless_storage_path.as_deref().map(|p| {
            let home = who
                .home
                .as_ref()
                .map(|h| h.display().to_string())
                .unwrap_or_default();
            let uid = who.rootless_uid.unwrap_or_default().to_string();
            PathBuf::from(p.replace("$HOME", &home).replace("$UID", &uid))
        });
        (graph, None)
    } else {
        (conf.graphroot.clone(), conf.runroot.clone())
    };
    let graphroot = overrides
        .graphroot
        .map(Path::to_path_buf)
        .or(conf_graph)
        .or(default_graph)
        .ok_or("no graph root: pass --root (HOME is not set)")?;
    let runroot = overrides
        .runroot
        .map(Path::to_path_buf)
        .or(conf_run)
        .or(default_run);
    // The driver: the flag; else the configured one if it has a store here; else whichever has.
    let has_store = |d: &str| graphroot.join(format!("{d}-images")).is_dir();
    let driver = match (overrides.driver.map(String::from), conf.driver.clone()) {
        (Some(d), _) => d,
        (None, Some(d)) if has_store(&d) => d,
        (None, configured) => DRIVERS
            .into_iter()
            .find(|d| has_store(d))
            .map(String::from)
            .or(configured)
            .unwrap_or_else(|| "overlay".into()),
    };
    if driver.is_empty() || driver.contains('/') || driver.starts_with('.') {
        return Err(format!("invalid storage driver {driver:?}"));
    }
    Ok(Location {
        graphroot,
        runroot,
        driver,
        additional_image_stores: conf.additional_image_stores.clone(),
    })
}

/// The built-in run and graph roots (`containers-storage.conf(5)`).
pub fn default_roots(rootless: bool) -> (Option<PathBuf>, Option<PathBuf>) {
    if !rootless {
        return (
            Some("/run/containers/storage".into()),
            Some("/var/lib/containers/storage".into()),
        );
    }
    let run = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(|d| PathBuf::from(d).join("containers"));
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    (run, data.map(|d| d.join("containers/storage")))
}

/// Where the store of an OCI bundle is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLocation {
    /// The container ID the bundle path names.
    pub id: String,
    pub graphroot: PathBuf,
    pub driver: String,
    /// The bundle's own `<driver>-containers` directory: the graph root's (podman) or the run
    /// root's (CRI-O).
    pub containers_dir: PathBuf,
    /// storage.conf, when it was read to find the graph root.
    pub conf: Option<StorageConf>,
}

impl BundleLocation {
    /// Where container records may be: the bundle's own directory (a run root with a transient
    /// store), then the graph root's if that is another one.
    pub fn container_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.containers_dir.clone()];
        let in_graphroot = self.graphroot.join(format!("{}-containers", self.driver));
        if !conf::same_dir(&in_graphroot, &self.containers_dir) {
            dirs.push(in_graphroot);
        }
        dirs
    }
}

/// Finds the store and container ID from a bundle, `<root>/<driver>-containers/<id>/userdata`.
/// Podman's `<root>` is the graph root. CRI-O's is the run root: the graph root is then the one
/// storage.conf pairs with that run root (`load_conf` reads storage.conf, only if needed).
pub fn of_bundle(
    bundle: &Path,
    state_id: &str,
    rootless: bool,
    load_conf: impl FnOnce() -> std::result::Result<StorageConf, String>,
) -> Result<BundleLocation> {
    let bad = || StorageError::Bundle(bundle.to_path_buf());
    if !bundle.is_absolute() || bundle.file_name().and_then(|n| n.to_str()) != Some("userdata") {
        return Err(bad());
    }
    let id_dir = bundle.parent().ok_or_else(bad)?;
    let id = id_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(bad)?;
    let containers_dir = id_dir.parent().ok_or_else(bad)?;
    let driver = containers_dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix("-containers"))
        .filter(|d| !d.is_empty())
        .ok_or_else(bad)?;
    let base = containers_dir.parent().ok_or_else(bad)?;
    if id != state_id {
        return Err(StorageError::IdMismatch {
            state: state_id.into(),
            bundle: id.into(),
        });
    }
    let mut conf = None;
    let graphroot = if base.join(format!("{driver}-images")).is_dir() {
        base.to_path_buf()
    } else {
        let c: &StorageConf = conf.insert(load_conf().map_err(StorageError::Conf)?);
        let (default_run, default_graph) = default_roots(rootless);
        let runroot = c.runroot.clone().or(default_run).unwrap_or_default();
        let conf_name = c
            .path
            .as_ref()
            .map(|p| format!("{p:?}"))
            .unwrap_or_else(|| "the storage defaults".into());
        if !conf::same_dir(base, &runroot) {
            return Err(StorageError::UnknownRunRoot {
                bundle: bundle.to_path_buf(),
                conf: conf_name,
                runroot,
            });
        }
        c.graphroot
            .clone()
            .or(default_graph)
            .ok_or(StorageError::UnknownRunRoot {
                bundle: bundle.to_path_buf(),
                conf: conf_name,
                runroot,
            })?
    };
    Ok(BundleLocation {
        id: id.to_string(),
        graphroot,
        driver: driver.to_string(),
        containers_dir: containers_dir.to_path_buf(),
        conf,
    })
}

#[cfg(test)]
mod tests;
