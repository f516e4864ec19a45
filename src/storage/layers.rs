//! Layers: an image's top layer and each layer's parent, the directory that holds a layer's own
//! files, the container that owns a read-write layer, and the state buildah keeps beside its
//! working containers.
//!
//! Layer records are loaded as containers/storage loads them: `<driver>-layers/layers.json`, then
//! `volatile-layers.json` (in the graph root's layer directory, or the run root's for a transient
//! store), a later record with the same ID winning, all under the graph root's `layers.lock`.
//! Each of storage.conf's additional image stores has a layer store of its own, searched after.
//! A layer's own files are `<root>/overlay/<id>/diff` (overlay) or `<root>/vfs/dir/<id>` (vfs).
//! Buildah keeps a working container's state in `buildah.json` in the container's directory,
//! which is always `<graphroot>/<driver>-containers/<id>/userdata`.
//! Ref: containers/storage `layers.go` (`Layer`, `newLayerStore`, `newROLayerStore`, `load`),
//! `store.go` (`ContainerDirectory`, `getROLayerStoresLocked`), `drivers/overlay/overlay.go` and
//! `drivers/vfs/driver.go` (`dir`); buildah `buildah.go` (`Builder`, `OpenBuilder`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::fs::Dir;
use super::records::{self, null_as_empty, quick_record, Container, HasId, ImageSummary};
use super::{Result, StorageError, Store};

/// How many layers `named_ancestor` walks down at most (images have tens).
const MAX_ANCESTORS: usize = 512;
/// buildah.json holds the image's configuration and manifest besides the few fields read here.
const MAX_BUILDAH_STATE_BYTES: u64 = 4 << 20;

/// What buildah's state file says a working container was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildahState {
    /// The image as the build named it (`"image"`): a reference, or the short ID of an unnamed
    /// intermediate image; `None` for `FROM scratch`.
    pub from_image: Option<String>,
    /// That image's full ID (`"image-id"`); `None` for `FROM scratch`.
    pub from_image_id: Option<String>,
}

/// One record of layers.json.
#[derive(Deserialize)]
struct LayerRecord {
    id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    parent: String,
}

impl HasId for LayerRecord {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The members of buildah.json read here; the rest is ignored.
#[derive(Deserialize)]
struct BuildahFile {
    #[serde(rename = "type", default, deserialize_with = "null_as_empty")]
    kind: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    image: String,
    #[serde(rename = "image-id", default, deserialize_with = "null_as_empty")]
    image_id: String,
}

impl Store {
    /// The top layer of image `image_id`, from its record in the graph root's image store or, if
    /// it is not there, in the additional image stores (as `Store::image` searches them); `None`
    /// if the image has no layer.
    pub fn top_layer(&self, image_id: &str, deadline: Instant) -> Result<Option<String>> {
        check_image_id(image_id)?;
        let images = format!("{}-images", self.driver);
        let mut dirs = vec![self.subdir(&images)?];
        for store in self.additional_image_stores()? {
            if let Some(d) = open_if_present(&store.join(&images))? {
                dirs.push(d);
            }
        }
        for dir in &dirs {
            let _lock = records::lock(dir, "images.lock", deadline)?;
            if let Some(rec) = records::find_image(dir, image_id)? {
                return Ok(Some(rec.layer).filter(|l| !l.is_empty()));
            }
        }
        Err(StorageError::UnknownImage(image_id.into()))
    }

    /// The parent of layer `layer_id` (`None` for a base layer), from the graph root's layer store
    /// or, if it is not there, the additional image stores' ones. A layer that is in none of them
    /// is an error.
    pub fn layer_parent(&self, layer_id: &str, deadline: Instant) -> Result<Option<String>> {
        check_layer_id(layer_id)?;
        let layers = format!("{}-layers", self.driver);
        if let Some(dir) = open_if_present(&self.graphroot.join(&layers))? {
            let _lock = records::lock(&dir, "layers.lock", deadline)?;
            // A transient store keeps its volatile layers in the run root's layer directory.
            let mut run_dirs = Vec::new();
            let graph_containers = self.graphroot.join(format!("{}-containers", self.driver));
            for containers in &self.container_dirs {
                if *containers == graph_containers {
                    continue;
                }
                if let Some(d) = containers.parent().map(|r| r.join(&layers)) {
                    run_dirs.extend(open_if_present(&d)?);
                }
            }
            let mut files = vec![(&dir, "layers.json"), (&dir, "volatile-layers.json")];
            files.extend(run_dirs.iter().map(|d| (d, "volatile-layers.json")));
            if let Some(rec) = last_record::<LayerRecord>(&files, layer_id)? {
                return Ok(Some(rec.parent).filter(|p| !p.is_empty()));
            }
        }
        for store in self.additional_image_stores()? {
            let Some(dir) = open_if_present(&store.join(&layers))? else {
                continue;
            };
            let _lock = records::lock(&dir, "layers.lock", deadline)?;
            let files = [(&dir, "layers.json"), (&dir, "volatile-layers.json")];
            if let Some(rec) = last_record::<LayerRecord>(&files, layer_id)? {
                return Ok(Some(rec.parent).filter(|p| !p.is_empty()));
            }
        }
        Err(StorageError::UnknownLayer(layer_id.into()))
    }

    /// Every image whose top layer is `layer_id`, in the graph root's image store and the
    /// additional ones (an image ID in several stores counts as the first store's record says).
    pub fn images_with_top_layer(
        &self,
        layer_id: &str,
        deadline: Instant,
    ) -> Result<Vec<ImageSummary>> {
        check_layer_id(layer_id)?;
        let images = format!("{}-images", self.driver);
        let mut paths = vec![self.graphroot.join(&images)];
        paths.extend(
            self.additional_image_stores()?
                .iter()
                .map(|s| s.join(&images)),
        );
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for path in paths {
            let Some(dir) = open_if_present(&path)? else {
                continue;
            };
            let _lock = records::lock(&dir, "images.lock", deadline)?;
            for rec in records::image_records(&dir)? {
                if seen.contains(&rec.id) {
                    continue;
                }
                seen.push(rec.id.clone());
                if rec.layer == layer_id {
                    out.push(ImageSummary {
                        id: rec.id,
                        names: rec.names,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The image a locally built image was built on: the nearest image with a name whose top
    /// layer is an ancestor of `image_id`'s top layer (an unnamed image built on an unnamed image
    /// is passed over). `None` if no ancestor is such an image (built `FROM scratch`). Follows at
    /// most `MAX_ANCESTORS` parents.
    pub fn named_ancestor(
        &self,
        image_id: &str,
        deadline: Instant,
    ) -> Result<Option<ImageSummary>> {
        let Some(mut layer) = self.top_layer(image_id, deadline)? else {
            return Ok(None);
        };
        for _ in 0..MAX_ANCESTORS {
            let Some(parent) = self.layer_parent(&layer, deadline)? else {
                return Ok(None);
            };
            let images = self.images_with_top_layer(&parent, deadline)?;
            if let Some(named) = images.into_iter().find(|i| !i.names.is_empty()) {
                return Ok(Some(named));
            }
            layer = parent;
        }
        Err(StorageError::Layer {
            id: layer,
            reason: format!("more than {MAX_ANCESTORS} layers below image {image_id}"),
        })
    }

    /// The directory that holds layer `layer_id`'s own files: `overlay/<id>/diff` (overlay) or
    /// `vfs/dir/<id>` (vfs) in the graph root or, if it is not there, in an additional image
    /// store; `None` for other drivers. Each component is opened without following symlinks.
    pub fn layer_dir(&self, layer_id: &str) -> Result<Option<Dir>> {
        check_layer_id(layer_id)?;
        let components: [&str; 3] = match self.driver.as_str() {
            "overlay" => ["overlay", layer_id, "diff"],
            "vfs" => ["vfs", "dir", layer_id],
            _ => return Ok(None),
        };
        let walk = |from: &Dir| -> io::Result<Dir> {
            let mut dir = from.dir(components[0])?;
            for c in &components[1..] {
                dir = dir.dir(c)?;
            }
            Ok(dir)
        };
        let first = match walk(&self.root) {
            Ok(d) => return Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => e,
            Err(source) => return Err(read_error(&self.graphroot, &components, source)),
        };
        for store in self.additional_image_stores()? {
            let found = Dir::open(store).and_then(|root| walk(&root));
            match found {
                Ok(d) => return Ok(Some(d)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(read_error(store, &components, source)),
            }
        }
        Err(read_error(&self.graphroot, &components, first))
    }

    /// The directory of image `image_id`'s only layer (`layer_dir`): `None` if its top layer has
    /// a parent, if it has no layer, or for a driver other than overlay and vfs.
    pub fn single_layer(&self, image_id: &str, deadline: Instant) -> Result<Option<Dir>> {
        let Some(top) = self.top_layer(image_id, deadline)? else {
            return Ok(None);
        };
        if self.layer_parent(&top, deadline)?.is_some() {
            return Ok(None);
        }
        self.layer_dir(&top)
    }

    /// The container whose read-write layer is `layer_id`, from containers.json and
    /// volatile-containers.json in each place container records may be (first place first);
    /// containers without an image included.
    pub fn container_by_layer(
        &self,
        layer_id: &str,
        deadline: Instant,
    ) -> Result<Option<Container>> {
        check_layer_id(layer_id)?;
        for path in &self.container_dirs {
            let Some(dir) = open_if_present(path)? else {
                continue;
            };
            if let Some(c) = records::container_with_layer(&dir, layer_id, deadline)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// What buildah's state file for `container`, `<graphroot>/<driver>-containers/<id>/userdata/
    /// buildah.json`, says it was made from: `None` if there is no such file or its `type` is not
    /// buildah's (`buildah <version>`). The file must be a regular file, not a symlink, of at most
    /// 4 MiB; members other than `type`, `image` and `image-id` are ignored.
    pub fn buildah_state(&self, container: &Container) -> Result<Option<BuildahState>> {
        let containers = format!("{}-containers", self.driver);
        let path = self
            .graphroot
            .join(&containers)
            .join(&container.id)
            .join("userdata/buildah.json");
        let read = || -> io::Result<Vec<u8>> {
            self.root
                .dir(&containers)?
                .dir(&container.id)?
                .dir("userdata")?
                .read("buildah.json", MAX_BUILDAH_STATE_BYTES)
        };
        let bytes = match read() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StorageError::Read { path, source }),
        };
        // serde would also take a JSON array for a struct; buildah's (Go's) decoder would not.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(StorageError::Parse {
                path,
                reason: "not a JSON object".into(),
            });
        }
        let state: BuildahFile =
            serde_json::from_slice(&bytes).map_err(|e| StorageError::Parse {
                path,
                reason: e.to_string(),
            })?;
        if !state.kind.starts_with("buildah ") {
            return Ok(None);
        }
        Ok(Some(BuildahState {
            from_image: Some(state.image).filter(|s| !s.is_empty()),
            from_image_id: Some(state.image_id).filter(|s| !s.is_empty()),
        }))
    }
}

/// An image ID must be 64 lowercase hex digits.
fn check_image_id(id: &str) -> Result<()> {
    if id.len() != 64 || !crate::manifest::is_lower_hex(id) {
        return Err(StorageError::Image {
            id: id.into(),
            reason: "invalid image ID".into(),
        });
    }
    Ok(())
}

/// A layer ID must be 64 lowercase hex digits.
fn check_layer_id(id: &str) -> Result<()> {
    if id.len() != 64 || !crate::manifest::is_lower_hex(id) {
        return Err(StorageError::Layer {
            id: id.into(),
            reason: "invalid layer ID (not 64 lowercase hexadecimal digits)".into(),
        });
    }
    Ok(())
}

/// The directory at `path`, or `None` if it does not exist.
fn open_if_present(path: &Path) -> Result<Option<Dir>> {
    match Dir::open(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StorageError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_error(root: &Path, components: &[&str], source: io::Error) -> StorageError {
    let path: PathBuf = components.iter().fold(root.to_path_buf(), |p, c| p.join(c));
    StorageError::Read { path, source }
}

/// The record of `id` that containers/storage would use from `files`, given in the order it loads
/// them (a later record wins): found from the end of each file, the last file first, when the
/// files are laid out as containers/storage writes them, else by parsing them whole. Missing
/// files are skipped.
fn last_record<T: HasId + DeserializeOwned>(files: &[(&Dir, &str)], id: &str) -> Result<Option<T>> {
    for (dir, file) in files.iter().rev() {
        if let Some(rec) = quick_record::<T>(dir, file, id)? {
            return Ok(Some(rec));
        }
    }
    let mut found = None;
    for (dir, file) in files {
        for rec in records::parse_records::<T>(dir, file)? {
            if rec.id() == id {
                found = Some(rec);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
