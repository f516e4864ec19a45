//! The records of `containers.json`, `volatile-containers.json` and `images.json`: finding one
//! container's or image's record, reading them all, and the read locks they are read under.
//!
//! containers/storage keeps each store's records as one JSON array per file and loads it into a
//! map by ID, so a later record with the same ID wins; the volatile file (transient containers) is
//! loaded after `containers.json`. A record is found from the end of the file without parsing the
//! rest when it is laid out the way containers/storage writes it, else by parsing the whole file.
//! Ref: containers/storage `containers.go` (`Container`, `load`), `images.go` (`Image`, `load`),
//! `pkg/lockfile/lockfile_unix.go`; the `image-name` metadata is podman's `libpod/storage.go` and
//! CRI-O's `internal/storage/runtime.go` (`RuntimeContainerMetadata`).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::fs::{self, Dir, ReadLock};
use super::{Result, StorageError, MAX_INDEX_BYTES, MAX_RECORD_BYTES};

/// What the container's storage record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    /// Its names (podman's `--name`).
    pub names: Vec<String>,
    /// Its image's ID; empty for a container made without an image (podman's `run --rootfs`,
    /// buildah's working container `FROM scratch`).
    pub image_id: String,
    /// Its read-write layer's ID.
    pub layer: String,
    /// The reference the container was created from (podman's and CRI-O's `image-name`).
    pub image_name: Option<String>,
}

/// An image as listed in an image store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: String,
    pub names: Vec<String>,
}

/// One record of containers.json. A missing or `null` member reads as empty, as Go decodes it.
#[derive(Deserialize)]
struct ContainerRecord {
    id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    names: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    image: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    layer: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    metadata: String,
}

/// A JSON `null` as the type's empty value, as Go's `encoding/json` leaves a field it decodes
/// `null` into.
pub(super) fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The parts of a container's metadata (a JSON string inside its record) that the hook reads.
#[derive(Deserialize, Default)]
struct ContainerMetadata {
    #[serde(rename = "image-name", default)]
    image_name: Option<String>,
}

/// One record of images.json.
#[derive(Deserialize)]
pub(super) struct ImageRecord {
    pub id: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub names: Vec<String>,
    /// The image's top layer.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub layer: String,
    #[serde(default)]
    pub metadata: String,
    #[serde(rename = "big-data-names", default)]
    pub big_data_names: Vec<String>,
    #[serde(rename = "big-data-digests", default)]
    pub big_data_digests: HashMap<String, String>,
    #[serde(rename = "big-data-sizes", default)]
    pub big_data_sizes: HashMap<String, i64>,
}

/// A record that `quick_record` can check it found the right one of.
pub(super) trait HasId {
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

/// Takes the read lock `name` of `dir` (none if the store has no such lock file).
pub(super) fn lock(dir: &Dir, name: &str, deadline: Instant) -> Result<Option<ReadLock>> {
    ReadLock::acquire(dir, name, deadline).map_err(|source| StorageError::Read {
        path: dir.path().join(name),
        source,
    })
}

/// The container's record in one containers directory, if it is there. A container without an
/// image is returned with an empty `image_id`: the caller decides what that means.
pub(super) fn find_container(dir: &Dir, id: &str, deadline: Instant) -> Result<Option<Container>> {
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
    container_of(rec, &path).map(Some)
}

/// Every container record in one containers directory, those without an image included.
pub(super) fn all_containers(dir: &Dir, deadline: Instant) -> Result<Vec<Container>> {
    let _lock = lock(dir, "containers.lock", deadline)?;
    container_records(dir)?
        .into_iter()
        .map(|(r, path)| container_of(r, &path))
        .collect()
}

/// The container whose read-write layer is `layer` in one containers directory, if it is there;
/// the record containers/storage would load last wins.
pub(super) fn container_with_layer(
    dir: &Dir,
    layer: &str,
    deadline: Instant,
) -> Result<Option<Container>> {
    let _lock = lock(dir, "containers.lock", deadline)?;
    let found = container_records(dir)?
        .into_iter()
        .rev()
        .find(|(c, _)| c.layer == layer);
    match found {
        Some((rec, path)) => container_of(rec, &path).map(Some),
        None => Ok(None),
    }
}

/// The record of image `id` in one image store's images.json, if it is there. The caller holds
/// the store's images lock.
pub(super) fn find_image(dir: &Dir, id: &str) -> Result<Option<ImageRecord>> {
    match quick_record::<ImageRecord>(dir, "images.json", id)? {
        Some(r) => Ok(Some(r)),
        None => Ok(image_records(dir)?.into_iter().rev().find(|i| i.id == id)),
    }
}

/// The records of one image store's images.json (none if it has no such file).
pub(super) fn image_records(dir: &Dir) -> Result<Vec<ImageRecord>> {
    parse_records(dir, "images.json")
}

/// The records of the JSON array file `file` of `dir` (read whole, bounded; none if there is no
/// such file).
pub(super) fn parse_records<T: DeserializeOwned>(dir: &Dir, file: &str) -> Result<Vec<T>> {
    let path = dir.path().join(file);
    let bytes = match dir.read(file, MAX_INDEX_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StorageError::Read { path, source }),
    };
    serde_json::from_slice(&bytes).map_err(|e| StorageError::Parse {
        path,
        reason: e.to_string(),
    })
}

/// The record of `id` in `file`, found without parsing the rest of the file (`fs::find_record`);
/// `None` when that finds nothing usable, and the caller parses the whole file.
pub(super) fn quick_record<T: HasId + DeserializeOwned>(
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

/// The records of containers.json and volatile-containers.json, each with its file, in the order
/// containers/storage loads them.
fn container_records(dir: &Dir) -> Result<Vec<(ContainerRecord, PathBuf)>> {
    let mut out = Vec::new();
    for file in ["containers.json", "volatile-containers.json"] {
        let path = dir.path().join(file);
        let records: Vec<ContainerRecord> = parse_records(dir, file)?;
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
        layer: rec.layer,
        image_name: meta.image_name.filter(|n| !n.is_empty()),
    })
}
