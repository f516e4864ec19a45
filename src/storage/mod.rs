//! containers/storage, read-only: from the OCI bundle path to the container's image, its manifest
//! and its stored signatures.
//!
//! Layout (SEMANTICS.md §7): `<graphroot>/<driver>-containers/containers.json` names the
//! container's image ID and, in its metadata, the reference it was created from;
//! `<graphroot>/<driver>-images/images.json` lists images with their big-data keys and the
//! signature sizes; `<driver>-images/<id>/<file>` holds each big-data item.
//! Ref: containers/storage `store.go`, `images.go`, `containers.go`; containers/image
//! `storage/storage_src.go`.

pub mod conf;
mod fs;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use serde::Deserialize;

pub use conf::StorageConf;
use fs::ReadLock;
pub use fs::{read_bounded, Dir, LOCK_WAIT};

use crate::manifest::{self, Manifest};
use crate::signature::{self, Signature};

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
/// What the container's storage record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    /// Its names (podman's `--name`).
    pub names: Vec<String>,
    pub image_id: String,
    /// The reference the container was created from (podman's and CRI-O's `image-name`).
    pub image_name: Option<String>,
}

/// An image with the manifest the container runs and that manifest's stored signatures.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub names: Vec<String>,
    /// Every manifest digest the store knows for the image (`digest` and `manifest-*` keys).
    pub digests: Vec<String>,
    pub manifest: Vec<u8>,
    /// `sha256:` of `manifest`, the digest a signature must name.
    pub manifest_digest: String,
    pub signatures: Vec<Signature>,
    /// A signatures blob is stored but no sizes are: a later unsigned pull or copy of the same
    /// image replaced the signatures (containers/image keeps the old blob).
    pub replaced_signatures: bool,
}

/// An image as listed in an image store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: String,
    pub names: Vec<String>,
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
            for c in all_containers(&dir, deadline)? {
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
            let _lock = lock(&dir, "images.lock", deadline)?;
            for rec in image_records(&dir)? {
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
            if let Some(c) = find_container(&dir, id, deadline)? {
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
        if let Some(img) = image_in(&dir, id, want_digest, deadline)? {
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
            if let Some(img) = image_in(&dir, id, want_digest, deadline)? {
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

/// The container's record in one containers directory, if it is there.
fn find_container(dir: &Dir, id: &str, deadline: Instant) -> Result<Option<Container>> {
    let _lock = lock(dir, "containers.lock", deadline)?;
    // The volatile file is loaded after the other, so its record would win.
    let mut found = None;
    for file in ["volatile-containers.json", "containers.json"] {
        if let Some(rec) = quick_record::<ContainerRecord>(dir, file, id)? {
            found = Some((rec, dir.path().join(file)));
            break;
        }
    }
    let found = match found {
        Some(f) => Some(f),
        None => container_records(dir)?
            .into_iter()
            .rev()
            .find(|(c, _)| c.id == id),
    };
    let Some((rec, path)) = found else {
        return Ok(None);
    };
    if rec.image.is_empty() {
        return Err(StorageError::NoImage(id.into()));
    }
    container_of(rec, &path).map(Some)
}

/// The record of `id` in `file`, found without parsing the rest of the file (`fs::find_record`);
/// `None` when that finds nothing usable, and the caller parses the whole file.
fn quick_record<T: HasId + serde::de::DeserializeOwned>(
    dir: &Dir,
    file: &str,
    id: &str,
) -> Result<Option<T>> {
    let path = dir.path().join(file);
    let f = match dir.file(file) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StorageError::Read { path, source }),
    };
    let read_err = |source| StorageError::Read {
        path: path.clone(),
        source,
    };
    let Some(at) = fs::find_record(&f, id, MAX_INDEX_BYTES).map_err(read_err)? else {
        return Ok(None);
    };
    // Read only as far as the record goes: a window that doubles until the record parses.
    let mut window: u64 = 16 << 10;
    loop {
        let bytes = fs::read_at(&f, at, at + window).map_err(read_err)?;
        let complete = (bytes.len() as u64) < window;
        match serde_json::Deserializer::from_slice(&bytes)
            .into_iter::<T>()
            .next()
        {
            Some(Ok(rec)) if rec.id() == id => return Ok(Some(rec)),
            Some(Err(e)) if e.is_eof() && !complete && window < MAX_RECORD_BYTES => {
                window *= 2;
            }
            _ => return Ok(None),
        }
    }
}

trait HasId {
    fn id(&self) -> &str;
}

impl HasId for ContainerRecord {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for ImageRecord {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The records of one image store's images.json (none if it has no such file).
fn image_records(dir: &Dir) -> Result<Vec<ImageRecord>> {
    let path = dir.path().join("images.json");
    let bytes = match dir.read("images.json", MAX_INDEX_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StorageError::Read { path, source }),
    };
    serde_json::from_slice(&bytes).map_err(|e| StorageError::Parse {
        path,
        reason: e.to_string(),
    })
}

/// Every container record in one containers directory.
fn all_containers(dir: &Dir, deadline: Instant) -> Result<Vec<Container>> {
    let _lock = lock(dir, "containers.lock", deadline)?;
    container_records(dir)?
        .into_iter()
        .filter(|(r, _)| !r.image.is_empty())
        .map(|(r, path)| container_of(r, &path))
        .collect()
}

/// The records of containers.json and volatile-containers.json, each with its file.
fn container_records(dir: &Dir) -> Result<Vec<(ContainerRecord, PathBuf)>> {
    let mut out = Vec::new();
    for file in ["containers.json", "volatile-containers.json"] {
        let path = dir.path().join(file);
        let bytes = match dir.read(file, MAX_INDEX_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(StorageError::Read { path, source }),
        };
        let records: Vec<ContainerRecord> =
            serde_json::from_slice(&bytes).map_err(|e| StorageError::Parse {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        out.extend(records.into_iter().map(|r| (r, path.clone())));
    }
    Ok(out)
}

/// A container record with its metadata decoded.
fn container_of(rec: ContainerRecord, path: &Path) -> Result<Container> {
    let meta: ContainerMetadata = if rec.metadata.is_empty() {
        ContainerMetadata::default()
    } else {
        serde_json::from_str(&rec.metadata).map_err(|e| StorageError::Parse {
            path: path.to_path_buf(),
            reason: format!("container {} metadata: {e}", rec.id),
        })?
    };
    Ok(Container {
        id: rec.id,
        names: rec.names,
        image_id: rec.image,
        image_name: meta.image_name.filter(|n| !n.is_empty()),
    })
}

/// Image `id` from one image store, if it is there.
fn image_in(
    dir: &Dir,
    id: &str,
    want_digest: Option<&str>,
    deadline: Instant,
) -> Result<Option<Image>> {
    let _lock = lock(dir, "images.lock", deadline)?;
    let rec = match quick_record::<ImageRecord>(dir, "images.json", id)? {
        Some(r) => Some(r),
        None => image_records(dir)?.into_iter().rev().find(|i| i.id == id),
    };
    let Some(rec) = rec else {
        return Ok(None);
    };
    let image_dir = dir.dir(id).map_err(|source| StorageError::Read {
        path: dir.path().join(id),
        source,
    })?;
    read_image(&image_dir, rec, want_digest).map(Some)
}

fn lock(dir: &Dir, name: &str, deadline: Instant) -> Result<Option<ReadLock>> {
    ReadLock::acquire(dir, name, deadline).map_err(|source| StorageError::Read {
        path: dir.path().join(name),
        source,
    })
}

fn read_image(dir: &Dir, rec: ImageRecord, want_digest: Option<&str>) -> Result<Image> {
    let id = rec.id.clone();
    let err = |reason: String| StorageError::Image {
        id: id.clone(),
        reason,
    };
    let meta: ImageMetadata = if rec.metadata.is_empty() {
        ImageMetadata::default()
    } else {
        serde_json::from_str(&rec.metadata).map_err(|e| err(format!("invalid metadata: {e}")))?
    };
    let has = |key: &str| rec.big_data_names.iter().any(|k| k == key);
    let read = |key: &str, max: u64| -> Result<Vec<u8>> {
        let name = big_data_file_name(key);
        dir.read(&name, max).map_err(|e| {
            err(format!(
                "cannot read {key:?} ({:?}): {e}",
                dir.path().join(&name)
            ))
        })
    };

    let mut digests: Vec<String> = Vec::new();
    if !rec.digest.is_empty() {
        digests.push(rec.digest.clone());
    }
    for (key, d) in &rec.big_data_digests {
        if key.starts_with("manifest") && !digests.contains(d) {
            digests.push(d.clone());
        }
    }

    // The manifest: for a reference by digest, that manifest if stored; else the default one.
    let mut manifest_key = "manifest".to_string();
    if let Some(d) = want_digest {
        let key = format!("manifest-{d}");
        if has(&key) {
            manifest_key = key;
        } else if !digests.iter().any(|x| x == d) {
            return Err(err(format!(
                "the container was created from digest {d}, which the image does not have"
            )));
        }
    }
    if !has(&manifest_key) {
        return Err(err(format!("no stored manifest ({manifest_key:?})")));
    }
    let mut manifest = read(&manifest_key, MAX_MANIFEST_BYTES)?;
    let mut manifest_digest = manifest::sha256_digest(&manifest);
    let mut instance = None;
    match manifest::parse(&manifest).map_err(&err)? {
        Manifest::Image { config_digest } => {
            if config_digest != format!("sha256:{}", rec.id) {
                return Err(err(format!(
                    "the manifest's config digest {config_digest} is not the image ID"
                )));
            }
        }
        Manifest::Schema1 => {
            return Err(err("Docker schema 1 manifests are not supported".into()));
        }
        Manifest::List { instances } => {
            // A list: the instance whose config is this image (as CRI-O picks it).
            let mut found = None;
            for d in instances {
                let key = format!("manifest-{d}");
                if !has(&key) {
                    continue;
                }
                let m = read(&key, MAX_MANIFEST_BYTES)?;
                if let Ok(Manifest::Image { config_digest }) = manifest::parse(&m) {
                    if config_digest == format!("sha256:{}", rec.id)
                        && manifest::sha256_digest(&m) == d
                    {
                        found = Some((m, d));
                        break;
                    }
                }
            }
            let (m, d) = found.ok_or_else(|| {
                err("no stored instance of the manifest list is this image".into())
            })?;
            manifest = m;
            manifest_digest = d.clone();
            instance = Some(d);
        }
    }

    // The signatures of that manifest (`GetSignaturesWithFormat`).
    let (sizes, key) = match &instance {
        None => (meta.signature_sizes, "signatures".to_string()),
        Some(d) => {
            let hex = d.split_once(':').map(|(_, h)| h).unwrap_or(d);
            (
                meta.signatures_sizes.get(d).cloned().unwrap_or_default(),
                format!("signature-{hex}"),
            )
        }
    };
    let blob = if sizes.is_empty() {
        Vec::new()
    } else {
        read(&key, MAX_SIGNATURES_BYTES)?
    };
    let signatures = signature::split(&blob, &sizes).map_err(|e| err(e.to_string()))?;
    let replaced_signatures =
        sizes.is_empty() && has(&key) && rec.big_data_sizes.get(&key).is_some_and(|&n| n > 0);

    Ok(Image {
        id: rec.id,
        names: rec.names,
        digests,
        manifest,
        manifest_digest,
        signatures,
        replaced_signatures,
    })
}

/// containers/storage's big-data file name: the key itself if it is only `[.0-9a-z]`, else `=` and
/// its standard base64 (`makeBigDataBaseName`).
pub fn big_data_file_name(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        key.to_string()
    } else {
        format!("={}", base64::engine::general_purpose::STANDARD.encode(key))
    }
}

#[derive(Deserialize)]
struct ContainerRecord {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    image: String,
    #[serde(default)]
    metadata: String,
}

#[derive(Deserialize, Default)]
struct ContainerMetadata {
    #[serde(rename = "image-name", default)]
    image_name: Option<String>,
}

#[derive(Deserialize)]
struct ImageRecord {
    id: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    metadata: String,
    #[serde(rename = "big-data-names", default)]
    big_data_names: Vec<String>,
    #[serde(rename = "big-data-digests", default)]
    big_data_digests: HashMap<String, String>,
    #[serde(rename = "big-data-sizes", default)]
    big_data_sizes: HashMap<String, i64>,
}

/// containers/image's image metadata (`storageImageMetadata`).
#[derive(Deserialize, Default)]
struct ImageMetadata {
    #[serde(rename = "signature-sizes", default)]
    signature_sizes: Vec<usize>,
    #[serde(rename = "signatures-sizes", default)]
    signatures_sizes: HashMap<String, Vec<usize>>,
}

#[cfg(test)]
mod tests;
