//! containers/storage, read-only: from the OCI bundle path to the container's image, its manifest
//! and its stored signatures.
//!
//! Layout: `<graphroot>/<driver>-containers/containers.json` names the container's image ID and,
//! in its metadata, the reference it was created from; `<graphroot>/<driver>-images/images.json`
//! lists images with their big-data keys and the signature sizes; `<driver>-images/<id>/<file>`
//! holds each big-data item. A run root may hold container records too (transient stores), and
//! storage.conf's additional image stores are read-only `<driver>-images` directories searched
//! after the graph root's. Everything is read under containers/storage's read locks.
//!
//! This module is the store; `records` reads the JSON records, `image` an image's manifest and
//! signatures, `conf` storage.conf and `fs` the files themselves.
//! Ref: containers/storage `store.go` (`load`, the layered image stores), containers/image
//! `storage/storage_src.go`.

pub mod conf;
mod fs;
mod image;
mod records;

use std::cell::OnceCell;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use conf::StorageConf;
pub use fs::{read_bounded, Dir, LOCK_WAIT};
pub use image::{big_data_file_name, Image};
pub use records::{Container, ImageSummary};

/// containers.json and images.json: large stores have thousands of entries, not gigabytes.
const MAX_INDEX_BYTES: u64 = 256 << 20;
/// A manifest (containers/image refuses larger ones from registries).
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// One record found by `find_record`; a bigger one is parsed with the whole file instead.
const MAX_RECORD_BYTES: u64 = 4 << 20;
/// All signatures of one image together.
const MAX_SIGNATURES_BYTES: u64 = 16 << 20;

/// Why the image could not be read. Every one denies the start.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("bundle {0:?} is not a containers/storage container directory (<root>/<driver>-containers/<id>/userdata)")]
    Bundle(PathBuf),
    #[error("container ID {state:?} does not match the bundle's {bundle:?}")]
    IdMismatch { state: String, bundle: String },
    #[error("cannot read {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot parse {path:?}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("container {0} is not in containers/storage")]
    UnknownContainer(String),
    #[error("container {0} has no image (it was not created from an image)")]
    NoImage(String),
    #[error("image {0} is not in containers/storage")]
    UnknownImage(String),
    #[error("image {id}: {reason}")]
    Image { id: String, reason: String },
    #[error("{0}")]
    Conf(String),
    #[error(
        "bundle {bundle:?} is in neither a graph root nor the run root of {conf} ({runroot:?})"
    )]
    UnknownRunRoot {
        bundle: PathBuf,
        conf: String,
        runroot: PathBuf,
    },
}

type Result<T> = std::result::Result<T, StorageError>;

/// A container store located from a bundle path.
#[derive(Debug)]
pub struct Store {
    pub graphroot: PathBuf,
    pub driver: String,
    root: Dir,
    /// Where container records may be: the bundle's own root (a run root with a transient
    /// store), then the graph root.
    container_dirs: Vec<PathBuf>,
    conf: OnceCell<std::result::Result<StorageConf, String>>,
    rootless: bool,
}
impl Store {
    /// Finds the store and container ID from a bundle, `<root>/<driver>-containers/<id>/userdata`.
    /// Podman's `<root>` is the graph root. CRI-O's is the run root: the graph root is then the one
    /// storage.conf pairs with that run root (`load_conf` reads storage.conf, only if needed).
    pub fn from_bundle(
        bundle: &Path,
        state_id: &str,
        rootless: bool,
        load_conf: impl FnOnce() -> std::result::Result<StorageConf, String>,
    ) -> Result<(Store, String)> {
        let bad = || StorageError::Bundle(bundle.to_path_buf());
        if !bundle.is_absolute() || bundle.file_name().and_then(|n| n.to_str()) != Some("userdata")
        {
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
        let conf = OnceCell::new();
        let graphroot = if base.join(format!("{driver}-images")).is_dir() {
            base.to_path_buf()
        } else {
            let c = conf
                .get_or_init(load_conf)
                .clone()
                .map_err(StorageError::Conf)?;
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
        let root = Dir::open(&graphroot).map_err(|source| StorageError::Read {
            path: graphroot.clone(),
            source,
        })?;
        let mut container_dirs = vec![containers_dir.to_path_buf()];
        let in_graphroot = graphroot.join(format!("{driver}-containers"));
        if !conf::same_dir(&in_graphroot, containers_dir) {
            container_dirs.push(in_graphroot);
        }
        let store = Store {
            graphroot,
            driver: driver.to_string(),
            root,
            container_dirs,
            conf,
            rootless,
        };
        Ok((store, id.to_string()))
    }

    /// Opens the store at `graphroot` with `driver` directly (for `check`); container records are
    /// also searched under `runroot` (transient stores).
    pub fn open(
        graphroot: &Path,
        runroot: Option<&Path>,
        driver: &str,
        rootless: bool,
    ) -> Result<Store> {
        let root = Dir::open(graphroot).map_err(|source| StorageError::Read {
            path: graphroot.to_path_buf(),
            source,
        })?;
        let mut container_dirs = vec![graphroot.join(format!("{driver}-containers"))];
        container_dirs.extend(runroot.map(|r| r.join(format!("{driver}-containers"))));
        Ok(Store {
            graphroot: graphroot.to_path_buf(),
            driver: driver.to_string(),
            root,
            container_dirs,
            conf: OnceCell::new(),
            rootless,
        })
    }

    /// Every container record, from every place containers may be.
    pub fn containers(&self, deadline: Instant) -> Result<Vec<Container>> {
        let mut out: Vec<Container> = Vec::new();
        for path in &self.container_dirs {
            let dir = match Dir::open(path) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(StorageError::Read {
                        path: path.clone(),
                        source,
                    })
                }
            };
            for c in records::all_containers(&dir, deadline)? {
                if !out.iter().any(|o| o.id == c.id) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Every image in the graph root's store and the additional stores (first one wins).
    pub fn images(&self, deadline: Instant) -> Result<Vec<ImageSummary>> {
        let images = format!("{}-images", self.driver);
        let mut dirs = vec![self.graphroot.join(&images)];
        if let Ok(c) = self.conf() {
            dirs.extend(c.additional_image_stores.iter().map(|s| s.join(&images)));
        }
        let mut out: Vec<ImageSummary> = Vec::new();
        for path in dirs {
            let dir = match Dir::open(&path) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(StorageError::Read { path, source }),
            };
            let _lock = records::lock(&dir, "images.lock", deadline)?;
            for rec in records::image_records(&dir)? {
                if !out.iter().any(|o| o.id == rec.id) {
                    out.push(ImageSummary {
                        id: rec.id,
                        names: rec.names,
                    });
                }
            }
        }
        Ok(out)
    }

    /// storage.conf, read once; the loader given to `from_bundle` is used only for a run-root
    /// bundle, so a podman store reads it here, on first need.
    fn conf(&self) -> Result<&StorageConf> {
        let rootless = self.rootless;
        self.conf
            .get_or_init(|| conf::load(rootless))
            .as_ref()
            .map_err(|e| StorageError::Conf(e.clone()))
    }

    fn subdir(&self, name: &str) -> Result<Dir> {
        self.root.dir(name).map_err(|source| StorageError::Read {
            path: self.graphroot.join(name),
            source,
        })
    }

    /// Reads the container's record (under the containers lock of each place it may be in).
    pub fn container(&self, id: &str, deadline: Instant) -> Result<Container> {
        for path in &self.container_dirs {
            let dir = match Dir::open(path) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(StorageError::Read {
                        path: path.clone(),
                        source,
                    })
                }
            };
            if let Some(c) = records::find_container(&dir, id, deadline)? {
                return Ok(c);
            }
        }
        Err(StorageError::UnknownContainer(id.into()))
    }

    /// Reads image `id`: its record, the manifest the container runs and that manifest's
    /// signatures, all under one images lock. `want_digest` is the digest of the reference the
    /// container was created from, if it had one. The graph root's image store is searched first,
    /// then each of storage.conf's `additionalimagestores`, as containers/storage does.
    pub fn image(&self, id: &str, want_digest: Option<&str>, deadline: Instant) -> Result<Image> {
        if id.len() != 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(StorageError::Image {
                id: id.into(),
                reason: "invalid image ID".into(),
            });
        }
        let images = format!("{}-images", self.driver);
        let dir = self.subdir(&images)?;
        if let Some(img) = image::image_in(&dir, id, want_digest, deadline)? {
            return Ok(img);
        }
        for store in &self.conf()?.additional_image_stores {
            let dir = match Dir::open(&store.join(&images)) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(StorageError::Read {
                        path: store.join(&images),
                        source,
                    })
                }
            };
            if let Some(img) = image::image_in(&dir, id, want_digest, deadline)? {
                return Ok(img);
            }
        }
        Err(StorageError::UnknownImage(id.into()))
    }
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

#[cfg(test)]
mod tests;
