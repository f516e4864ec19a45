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
//! This module is the store; `location` works out where it is, `records` reads the JSON records,
//! `image` an image's manifest and signatures, `layers` the layers and the containers and build
//! state that own them, `conf` storage.conf and `fs` the files themselves.
//! Ref: containers/storage `store.go` (`load`, the layered image stores), containers/image
//! `storage/storage_src.go`.

pub mod conf;
mod fs;
mod image;
mod layers;
pub mod location;
mod records;

use std::cell::OnceCell;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use conf::StorageConf;
pub use fs::{read_bounded, Dir, LOCK_WAIT};
pub use image::{big_data_file_name, Image};
pub use layers::BuildahState;
pub use location::{default_roots, Location, Overrides};
pub use records::{Container, ImageSummary};

/// containers.json and images.json: large stores have thousands of entries, not gigabytes.
const MAX_INDEX_BYTES: u64 = 256 << 20;
/// A manifest (containers/image refuses larger ones from registries).
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// One record found by `find_record`; a bigger one is parsed with the whole file instead.
const MAX_RECORD_BYTES: u64 = 4 << 20;
/// All signatures of one image together: containers/image refuses a signature larger than 4 MiB,
/// and a pull stores a few of a few hundred bytes each. The hook holds them, a copy of each, and
/// the plaintext of the one being verified (`verify::MAX_PAYLOAD_BYTES`) at once: with this
/// bound, that stays within 16 MiB.
const MAX_SIGNATURES_BYTES: u64 = 4 << 20;

/// Why the image could not be read. Every one denies the start.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("bundle {0:?} is not a containers/storage container directory (<root>/<driver>-containers/<id>/userdata)")]
    Bundle(PathBuf),
    #[error("container ID {state:?} does not match the bundle's {bundle:?}")]
    IdMismatch { state: String, bundle: String },
    #[error("cannot read {path:?}: {}", crate::words::io(source))]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot parse {path:?}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("container {0} is not in containers/storage")]
    UnknownContainer(String),
    #[error("image {0} is not in containers/storage")]
    UnknownImage(String),
    #[error("image {id}: {reason}")]
    Image { id: String, reason: String },
    #[error("layer {0} is not in containers/storage")]
    UnknownLayer(String),
    #[error("layer {id:?}: {reason}")]
    Layer { id: String, reason: String },
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

/// A container store, located from a bundle path or given.
#[derive(Debug)]
pub struct Store {
    pub graphroot: PathBuf,
    pub driver: String,
    root: Dir,
    /// Where container records may be, in the order they are searched.
    container_dirs: Vec<PathBuf>,
    /// storage.conf's additional image stores: known when the store was located with storage.conf,
    /// else read from it on first need.
    additional_image_stores: OnceCell<std::result::Result<Vec<PathBuf>, String>>,
    /// Whose storage.conf that is.
    rootless: bool,
}

impl Store {
    /// Finds the store and container ID from a bundle, `<root>/<driver>-containers/<id>/userdata`
    /// (`location::of_bundle`). Podman's `<root>` is the graph root. CRI-O's is the run root: the
    /// graph root is then the one storage.conf pairs with that run root (`load_conf` reads
    /// storage.conf, only if needed).
    pub fn from_bundle(
        bundle: &Path,
        state_id: &str,
        rootless: bool,
        load_conf: impl FnOnce() -> std::result::Result<StorageConf, String>,
    ) -> Result<(Store, String)> {
        let found = location::of_bundle(bundle, state_id, rootless, load_conf)?;
        let container_dirs = found.container_dirs();
        let additional = found.conf.map(|c| c.additional_image_stores);
        let store = Store::new(
            found.graphroot,
            found.driver,
            container_dirs,
            additional,
            rootless,
        )?;
        Ok((store, found.id))
    }

    /// Opens the store at `graphroot` with `driver` directly (for `check`); container records are
    /// also searched under `runroot` (transient stores).
    pub fn open(
        graphroot: &Path,
        runroot: Option<&Path>,
        driver: &str,
        rootless: bool,
    ) -> Result<Store> {
        Store::in_roots(graphroot, runroot, driver, None, rootless)
    }

    /// Opens the store at `location` (`location::resolve`), as `open` does, with the location's
    /// additional image stores: storage.conf is not read again.
    pub fn at(location: &Location) -> Result<Store> {
        let additional = Some(location.additional_image_stores.clone());
        // storage.conf is never read for this store, so whose it would be does not matter.
        let rootless = false;
        Store::in_roots(
            &location.graphroot,
            location.runroot.as_deref(),
            &location.driver,
            additional,
            rootless,
        )
    }

    /// A store whose container records are searched for in the graph root, then in the run root.
    fn in_roots(
        graphroot: &Path,
        runroot: Option<&Path>,
        driver: &str,
        additional: Option<Vec<PathBuf>>,
        rootless: bool,
    ) -> Result<Store> {
        let mut container_dirs = vec![graphroot.join(format!("{driver}-containers"))];
        container_dirs.extend(runroot.map(|r| r.join(format!("{driver}-containers"))));
        Store::new(
            graphroot.to_path_buf(),
            driver.to_string(),
            container_dirs,
            additional,
            rootless,
        )
    }

    /// Opens the graph root; `additional` is storage.conf's additional image stores if it was read.
    fn new(
        graphroot: PathBuf,
        driver: String,
        container_dirs: Vec<PathBuf>,
        additional: Option<Vec<PathBuf>>,
        rootless: bool,
    ) -> Result<Store> {
        let root = Dir::open(&graphroot).map_err(|source| StorageError::Read {
            path: graphroot.clone(),
            source,
        })?;
        let additional_image_stores = match additional {
            Some(stores) => OnceCell::from(Ok(stores)),
            None => OnceCell::new(),
        };
        Ok(Store {
            graphroot,
            driver,
            root,
            container_dirs,
            additional_image_stores,
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
        if let Ok(stores) = self.additional_image_stores() {
            dirs.extend(stores.iter().map(|s| s.join(&images)));
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

    /// storage.conf's additional image stores. storage.conf is read once: the loader given to
    /// `from_bundle` is used only for a run-root bundle, so a podman store reads it here, on first
    /// need.
    fn additional_image_stores(&self) -> Result<&[PathBuf]> {
        let rootless = self.rootless;
        self.additional_image_stores
            .get_or_init(|| conf::load(rootless).map(|c| c.additional_image_stores))
            .as_deref()
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
        self.in_image_stores(id, |dir| image::image_in(dir, id, want_digest, deadline))
    }

    /// The config blob of image `id` (big-data key `sha256:<id>`), at most 4 MiB, read under
    /// the images lock of the store that has it: what `check` reads to tell how an image came
    /// to be here (its labels, history and layer digests).
    pub fn image_config(&self, id: &str, deadline: Instant) -> Result<Vec<u8>> {
        self.in_image_stores(id, |dir| image::config_in(dir, id, deadline))
    }

    /// `find` in the graph root's image store, then in each of storage.conf's
    /// `additionalimagestores`, as containers/storage searches them; the first store that has
    /// image `id` answers.
    fn in_image_stores<T>(&self, id: &str, find: impl Fn(&Dir) -> Result<Option<T>>) -> Result<T> {
        if id.len() != 64 || !crate::manifest::is_lower_hex(id) {
            return Err(StorageError::Image {
                id: id.into(),
                reason: "invalid image ID".into(),
            });
        }
        let images = format!("{}-images", self.driver);
        let dir = self.subdir(&images)?;
        if let Some(found) = find(&dir)? {
            return Ok(found);
        }
        for store in self.additional_image_stores()? {
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
            if let Some(found) = find(&dir)? {
                return Ok(found);
            }
        }
        Err(StorageError::UnknownImage(id.into()))
    }
}

#[cfg(test)]
mod tests;
