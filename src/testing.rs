//! Test support shared by the unit tests, so that the pipeline can be tested without root, podman
//! or gpg: containers/storage fixture trees written the way containers/storage and containers/image
//! write them ([`Tree`], [`ImageFixture`], [`ContainerFixture`], [`LayerFixture`], and buildah's
//! state files), and a fake OpenPGP implementation ([`Fake`]) with signatures made by [`sig`].
//!
//! A typical pipeline test:
//!
//! ```text
//! let t = Tree::new();
//! let d = manifest_digest(&id);
//! t.image(&ImageFixture::new(&id).names(&["example.com/app:1"]).signatures(&[sig("a", &d, "example.com/app:1")]));
//! let bundle = t.container(&ContainerFixture::new(&cid, &id).created_from("example.com/app:1"));
//! let store = t.store(&cid); // and the policy: signed_by("a"), verified with Fake
//! ```
//!
//! Ref: containers/storage `images.go`, `containers.go`, `layers.go` (the record files and
//! big-data names), `drivers/overlay/overlay.go` and `drivers/vfs/driver.go` (layer directories),
//! buildah `buildah.go` (`buildah.json`),
//! containers/image `storage/storage_dest.go` (which big-data items and metadata a pull stores),
//! `signature/simple.go` (the payload) and `internal/signature/signature.go` (the stored form).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use serde::Serialize;

use crate::manifest::sha256_digest;
use crate::signature::Signature;
use crate::storage::{big_data_file_name, StorageConf, Store};
use crate::verify::{Keyring, Verified, Verifier};

/// A 64-character ID or digest hex of one repeated character: `hex64('a')` is `aaaa…a`.
pub(crate) fn hex64(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// A deadline for lock waits that a test should never reach: two seconds from now.
pub(crate) fn soon() -> Instant {
    Instant::now() + Duration::from_secs(2)
}

/// The storage.conf loader for a store that must not need storage.conf: always an error.
pub(crate) fn no_conf() -> Result<StorageConf, String> {
    Err("storage.conf must not be needed here".into())
}

/// An OCI image manifest (no layers) whose config digest is `sha256:<image_id>`, the manifest
/// containers/storage accepts as image `image_id`'s.
pub(crate) fn image_manifest(image_id: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{image_id}","size":1}},"layers":[]}}"#
    )
    .into_bytes()
}

/// `sha256:<hex>` of [`image_manifest`]`(image_id)`: the digest its signatures must name.
pub(crate) fn manifest_digest(image_id: &str) -> String {
    sha256_digest(&image_manifest(image_id))
}

/// An OCI image index listing `instances` (manifest digests), in that order.
pub(crate) fn manifest_list(instances: &[String]) -> Vec<u8> {
    let entries: Vec<String> = instances
        .iter()
        .map(|d| format!(r#"{{"digest":"{d}"}}"#))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

/// A signature as containers/image stores it: `\0<format>\n` and its bytes.
pub(crate) fn stored(signature: &Signature) -> Vec<u8> {
    let (format, bytes) = match signature {
        Signature::SimpleSigning(b) => ("simple-signing", b),
        Signature::Sigstore(b) => ("sigstore-json", b),
    };
    let mut out = format!("\0{format}\n").into_bytes();
    out.extend_from_slice(bytes);
    out
}

/// A containers/storage graph root in a temporary directory (removed on drop), with one graph
/// driver's `<driver>-containers`, `<driver>-images` and `<driver>-layers` directories and their
/// lock files. Images, containers and layers added with [`Tree::image`], [`Tree::container`] and
/// [`Tree::layer`] accumulate in `images.json`, `containers.json` (or
/// `volatile-containers.json`) and `layers.json` (or `volatile-layers.json`), which are rewritten
/// whole after each addition, each record starting with its `"id"` as containers/storage writes
/// them.
pub(crate) struct Tree {
    _dir: tempfile::TempDir,
    /// The graph root.
    pub root: PathBuf,
    pub driver: String,
    images: RefCell<Vec<String>>,
    containers: RefCell<BTreeMap<&'static str, Vec<String>>>,
    layers: RefCell<BTreeMap<&'static str, Vec<String>>>,
}

impl Tree {
    /// An empty store with the `vfs` driver.
    pub fn new() -> Tree {
        Tree::with_driver("vfs")
    }

    /// An empty store with the graph driver `driver`.
    pub fn with_driver(driver: &str) -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("osh-storage-")
            .tempdir()
            .expect("a temporary directory");
        let root = dir.path().to_path_buf();
        let t = Tree {
            _dir: dir,
            root,
            driver: driver.into(),
            images: RefCell::default(),
            containers: RefCell::default(),
            layers: RefCell::default(),
        };
        write(&t.containers_dir().join("containers.lock"), b"");
        write(&t.images_dir().join("images.lock"), b"");
        write(&t.layers_dir().join("layers.lock"), b"");
        t
    }

    /// `<root>/<driver>-containers`.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join(format!("{}-containers", self.driver))
    }

    /// `<root>/<driver>-images`.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join(format!("{}-images", self.driver))
    }

    /// `<root>/<driver>-layers`.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join(format!("{}-layers", self.driver))
    }

    /// The directory of layer `id`'s own files: `<root>/overlay/<id>/diff` for overlay,
    /// `<root>/vfs/dir/<id>` for vfs (and the vfs form for any other driver).
    pub fn layer_path(&self, id: &str) -> PathBuf {
        match self.driver.as_str() {
            "overlay" => self.root.join("overlay").join(id).join("diff"),
            _ => self.root.join("vfs/dir").join(id),
        }
    }

    /// Writes `layer`'s record, appended to its layers file, and its directory with its files.
    /// Returns the directory ([`Tree::layer_path`]).
    pub fn layer(&self, layer: &LayerFixture) -> PathBuf {
        let record = LayerRecord {
            id: &layer.id,
            parent: layer.parent.as_deref(),
            created: "2024-01-01T00:00:00Z",
        };
        let record = serde_json::to_string(&record).expect("record encodes");
        let file = if layer.volatile {
            "volatile-layers.json"
        } else {
            "layers.json"
        };
        let mut layers = self.layers.borrow_mut();
        let records = layers.entry(file).or_default();
        records.push(record);
        self.write_layers_json(file, &format!("[{}]", records.join(",")));
        let dir = self.layer_path(&layer.id);
        std::fs::create_dir_all(&dir).expect("create the layer directory");
        for (name, data) in &layer.files {
            write(&dir.join(name), data);
        }
        dir
    }

    /// Replaces the layers file `file` (`layers.json` or `volatile-layers.json`) with `json`,
    /// verbatim.
    pub fn write_layers_json(&self, file: &str, json: &str) {
        write(&self.layers_dir().join(file), json.as_bytes());
    }

    /// Writes buildah's state file for container `cid`, `<driver>-containers/<cid>/userdata/
    /// buildah.json`, verbatim, and returns its path.
    pub fn buildah_json(&self, cid: &str, json: &[u8]) -> PathBuf {
        let path = self.bundle(cid).join("buildah.json");
        write(&path, json);
        path
    }

    /// The bundle path of container `cid`, `<root>/<driver>-containers/<cid>/userdata`, created.
    pub fn bundle(&self, cid: &str) -> PathBuf {
        let b = self.containers_dir().join(cid).join("userdata");
        std::fs::create_dir_all(&b).expect("create the bundle directory");
        b
    }

    /// Replaces the containers file `file` (`containers.json` or `volatile-containers.json`)
    /// with `json`, verbatim.
    pub fn write_containers_json(&self, file: &str, json: &str) {
        write(&self.containers_dir().join(file), json.as_bytes());
    }

    /// Replaces `images.json` with `json`, verbatim.
    pub fn write_images_json(&self, json: &str) {
        write(&self.images_dir().join("images.json"), json.as_bytes());
    }

    /// Writes the big-data item `key` of image `image_id` (its file name is
    /// [`big_data_file_name`]`(key)`); the image's record is not changed.
    pub fn big_data(&self, image_id: &str, key: &str, data: &[u8]) {
        let dir = self.images_dir().join(image_id);
        std::fs::create_dir_all(&dir).expect("create the image directory");
        write(&dir.join(big_data_file_name(key)), data);
    }

    /// The path of the big-data item `key` of image `image_id`.
    pub fn big_data_path(&self, image_id: &str, key: &str) -> PathBuf {
        self.images_dir()
            .join(image_id)
            .join(big_data_file_name(key))
    }

    /// Writes `image`: its manifests and signatures as big-data items, and its record, appended
    /// to `images.json`. Returns what was stored.
    pub fn image(&self, image: &ImageFixture) -> StoredImage {
        let id = &image.id;
        let manifest = image_manifest(id);
        let d = sha256_digest(&manifest);
        let mut items: Vec<(String, Vec<u8>)> = Vec::new();
        let mut digests = BTreeMap::new();
        let mut meta = Metadata::default();
        let mut record_digest = d.clone();
        let mut list_digest = None;
        match &image.list {
            None => {
                items.push(("manifest".into(), manifest.clone()));
                digests.insert("manifest".to_string(), d.clone());
                meta.signature_sizes = image.signatures.iter().map(Vec::len).collect();
                if !image.signatures.is_empty() {
                    items.push(("signatures".into(), image.signatures.concat()));
                }
            }
            Some(list) => {
                let mut instances = list.other_instances.clone();
                instances.push(d.clone());
                let bytes = manifest_list(&instances);
                let ld = sha256_digest(&bytes);
                items.push(("manifest".into(), bytes.clone()));
                items.push((format!("manifest-{ld}"), bytes));
                digests.insert("manifest".to_string(), ld.clone());
                digests.insert(format!("manifest-{ld}"), ld.clone());
                meta.signature_sizes = list.signatures.iter().map(Vec::len).collect();
                if !list.signatures.is_empty() {
                    items.push(("signatures".into(), list.signatures.concat()));
                }
                if !image.signatures.is_empty() {
                    let sizes = image.signatures.iter().map(Vec::len).collect();
                    meta.signatures_sizes.insert(d.clone(), sizes);
                    items.push((
                        format!("signature-{}", &d["sha256:".len()..]),
                        image.signatures.concat(),
                    ));
                }
                record_digest = ld.clone();
                list_digest = Some(ld);
            }
        }
        items.push((format!("manifest-{d}"), manifest));
        digests.insert(format!("manifest-{d}"), d.clone());
        for (key, data) in &items {
            self.big_data(id, key, data);
        }
        let record = ImageRecord {
            id,
            digest: &record_digest,
            names: &image.names,
            layer: &image.layer,
            metadata: serde_json::to_string(&meta).expect("metadata encodes"),
            big_data_names: items.iter().map(|(k, _)| k.as_str()).collect(),
            big_data_sizes: items.iter().map(|(k, v)| (k.as_str(), v.len())).collect(),
            big_data_digests: digests,
        };
        let record = serde_json::to_string(&record).expect("record encodes");
        let mut images = self.images.borrow_mut();
        images.push(record);
        self.write_images_json(&format!("[{}]", images.join(",")));
        StoredImage {
            manifest_digest: d,
            list_digest,
        }
    }

    /// Writes `container`'s record, appended to its containers file, and returns its bundle path.
    pub fn container(&self, container: &ContainerFixture) -> PathBuf {
        let metadata = container.created_from.as_ref().map(|name| {
            serde_json::json!({"image-name": name, "image-id": container.image_id}).to_string()
        });
        let record = ContainerRecord {
            id: &container.id,
            names: &container.names,
            image: &container.image_id,
            layer: &container.layer,
            metadata: metadata.unwrap_or_default(),
        };
        let record = serde_json::to_string(&record).expect("record encodes");
        let file = if container.volatile {
            "volatile-containers.json"
        } else {
            "containers.json"
        };
        let mut containers = self.containers.borrow_mut();
        let records = containers.entry(file).or_default();
        records.push(record);
        self.write_containers_json(file, &format!("[{}]", records.join(",")));
        self.bundle(&container.id)
    }

    /// The store as the hook finds it from container `cid`'s bundle (which is created), for a
    /// store that does not need storage.conf.
    pub fn store(&self, cid: &str) -> Store {
        Store::from_bundle(&self.bundle(cid), cid, false, no_conf)
            .expect("the bundle names this store")
            .0
    }

    /// The store as `check` opens it: by graph root and driver, without a run root.
    pub fn open(&self) -> Store {
        Store::open(&self.root, None, &self.driver, false).expect("the graph root opens")
    }
}

/// What [`Tree::image`] stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredImage {
    /// The digest of the image's own manifest ([`manifest_digest`] of its ID).
    pub manifest_digest: String,
    /// The digest of the manifest list, for an image pulled through one.
    pub list_digest: Option<String>,
}

/// An image for [`Tree::image`]: ID, names, signatures, and whether it was pulled through a
/// manifest list.
///
/// A single image stores `manifest` and `manifest-<digest>` (both [`image_manifest`] of the ID)
/// and, if it has signatures, `signatures` (concatenated, cut by the metadata's
/// `signature-sizes`); the record's `digest` is the manifest's. An image pulled through a list
/// ([`ImageFixture::in_list`]) stores the list as `manifest` and `manifest-<list digest>`, its own
/// manifest as `manifest-<digest>`, its signatures as `signature-<hex>` (cut by
/// `signatures-sizes[<digest>]`) and the list's as `signatures`; the record's `digest` is the
/// list's.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageFixture {
    id: String,
    names: Vec<String>,
    layer: String,
    signatures: Vec<Vec<u8>>,
    list: Option<ListFixture>,
}

#[derive(Debug, Clone, Default)]
struct ListFixture {
    other_instances: Vec<String>,
    signatures: Vec<Vec<u8>>,
}

impl ImageFixture {
    /// Image `id` (64 lowercase hex digits), without names or signatures.
    pub fn new(id: &str) -> ImageFixture {
        ImageFixture {
            id: id.into(),
            ..ImageFixture::default()
        }
    }

    /// Its names (`registry/repository:tag` references, as podman stores them).
    pub fn names(mut self, names: &[&str]) -> ImageFixture {
        self.names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Its top layer (the record's `layer`).
    pub fn layer(mut self, layer: &str) -> ImageFixture {
        self.layer = layer.into();
        self
    }

    /// Adds signatures of its own manifest, each stored in containers/image's form ([`stored`]).
    pub fn signatures(mut self, signatures: &[Signature]) -> ImageFixture {
        self.signatures.extend(signatures.iter().map(stored));
        self
    }

    /// Adds signatures of its own manifest, each stored exactly as given (its recorded size is
    /// its length in bytes).
    pub fn signature_blobs(mut self, blobs: &[&[u8]]) -> ImageFixture {
        self.signatures.extend(blobs.iter().map(|b| b.to_vec()));
        self
    }

    /// Pulled through a manifest list whose instances are `other_instances` (manifest digests,
    /// not stored) and then this image's manifest.
    pub fn in_list(mut self, other_instances: &[&str]) -> ImageFixture {
        let list = self.list.get_or_insert_with(ListFixture::default);
        list.other_instances = other_instances.iter().map(|d| d.to_string()).collect();
        self
    }

    /// Adds signatures of the manifest list itself (only with [`ImageFixture::in_list`]).
    pub fn list_signatures(mut self, signatures: &[Signature]) -> ImageFixture {
        let list = self.list.get_or_insert_with(ListFixture::default);
        list.signatures.extend(signatures.iter().map(stored));
        self
    }
}

/// A container for [`Tree::container`]: created from image `image_id`, by a name or by ID.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerFixture {
    id: String,
    image_id: String,
    layer: String,
    names: Vec<String>,
    created_from: Option<String>,
    volatile: bool,
}

impl ContainerFixture {
    /// Container `id` of image `image_id`, created by image ID (no `image-name` metadata).
    pub fn new(id: &str, image_id: &str) -> ContainerFixture {
        ContainerFixture {
            id: id.into(),
            image_id: image_id.into(),
            ..ContainerFixture::default()
        }
    }

    /// Its names (podman's `--name`).
    pub fn names(mut self, names: &[&str]) -> ContainerFixture {
        self.names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Created from the reference `name` (the `image-name` metadata podman and CRI-O write).
    pub fn created_from(mut self, name: &str) -> ContainerFixture {
        self.created_from = Some(name.into());
        self
    }

    /// Recorded in `volatile-containers.json` (a transient container), not `containers.json`.
    pub fn volatile(mut self) -> ContainerFixture {
        self.volatile = true;
        self
    }

    /// Its read-write layer (the record's `layer`).
    pub fn layer(mut self, layer: &str) -> ContainerFixture {
        self.layer = layer.into();
        self
    }
}

/// A layer for [`Tree::layer`]: its ID, its parent and the files of its directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerFixture {
    id: String,
    parent: Option<String>,
    files: Vec<(String, Vec<u8>)>,
    volatile: bool,
}

impl LayerFixture {
    /// Layer `id` (64 lowercase hex digits), a base layer with an empty directory.
    pub fn new(id: &str) -> LayerFixture {
        LayerFixture {
            id: id.into(),
            ..LayerFixture::default()
        }
    }

    /// Its parent layer.
    pub fn parent(mut self, parent: &str) -> LayerFixture {
        self.parent = Some(parent.into());
        self
    }

    /// A file `name` (a path relative to the layer directory) holding `data`.
    pub fn file(mut self, name: &str, data: &[u8]) -> LayerFixture {
        self.files.push((name.into(), data.to_vec()));
        self
    }

    /// Recorded in `volatile-layers.json`, not `layers.json`.
    pub fn volatile(mut self) -> LayerFixture {
        self.volatile = true;
        self
    }
}

/// An images.json record, in containers/storage's field order (`id` first).
#[derive(Serialize)]
struct ImageRecord<'a> {
    id: &'a str,
    digest: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    names: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    layer: &'a str,
    metadata: String,
    #[serde(rename = "big-data-names")]
    big_data_names: Vec<&'a str>,
    #[serde(rename = "big-data-sizes")]
    big_data_sizes: BTreeMap<&'a str, usize>,
    #[serde(rename = "big-data-digests")]
    big_data_digests: BTreeMap<String, String>,
}

/// containers/image's image metadata (`storageImageMetadata`); sizes are in bytes.
#[derive(Serialize, Default)]
struct Metadata {
    #[serde(rename = "signature-sizes", skip_serializing_if = "Vec::is_empty")]
    signature_sizes: Vec<usize>,
    #[serde(
        rename = "signatures-sizes",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    signatures_sizes: BTreeMap<String, Vec<usize>>,
}

/// A containers.json record, in containers/storage's field order (`id` first).
#[derive(Serialize)]
struct ContainerRecord<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    names: &'a [String],
    image: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    layer: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    metadata: String,
}

/// A layers.json record, in containers/storage's field order (`id` first; no `parent` for a base
/// layer).
#[derive(Serialize)]
struct LayerRecord<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    created: &'a str,
}

fn write(path: &Path, data: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the parent directory");
    }
    std::fs::write(path, data).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

/// A fake OpenPGP implementation. A key is the bytes `KEY:<name>` ([`key`]); a signature is
/// `SIG:<name>:<payload>` ([`sig`]), good if key `<name>` was imported, and it signs `<payload>`
/// for signer `<name>`. A name `<x>@<n>` is a key that expires `n` seconds after the epoch.
pub(crate) struct Fake;

/// The keys imported into a [`Fake`] keyring, by name.
pub(crate) struct FakeRing(Vec<String>);

impl Verifier for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn open(&self, blobs: &[Vec<u8>]) -> Result<Box<dyn Keyring>, String> {
        let names = blobs
            .iter()
            .filter_map(|b| {
                String::from_utf8_lossy(b)
                    .strip_prefix("KEY:")
                    .map(str::to_string)
            })
            .collect();
        Ok(Box::new(FakeRing(names)))
    }
}

impl Keyring for FakeRing {
    fn key_count(&self) -> usize {
        self.0.len()
    }

    fn verify(&mut self, sig: &[u8]) -> Result<Verified, String> {
        let s = String::from_utf8_lossy(sig);
        let rest = s.strip_prefix("SIG:").ok_or("not a signature")?;
        let (name, payload) = rest.split_once(':').ok_or("not a signature")?;
        if !self.0.iter().any(|k| k == name) {
            return Err(format!("no public key {name}"));
        }
        let expires = name
            .split_once('@')
            .and_then(|(_, n)| n.parse().ok())
            .map(|n| SystemTime::UNIX_EPOCH + Duration::from_secs(n));
        Ok(Verified::fake(
            payload.as_bytes().to_vec(),
            name.into(),
            expires,
        ))
    }
}

/// The [`Fake`] key `name`.
pub(crate) fn key(name: &str) -> Vec<u8> {
    format!("KEY:{name}").into_bytes()
}

/// The [`Fake`] key `name` as a policy's `keyData` (base64).
pub(crate) fn key_data(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(key(name))
}

/// A policy requirement list, as JSON, with one `signedBy` requirement for the [`Fake`] key `name`
/// (and the default `signedIdentity`, `matchRepoDigestOrExact`).
pub(crate) fn signed_by(name: &str) -> String {
    format!(
        r#"[{{"type":"signedBy","keyType":"GPGKeys","keyData":"{}"}}]"#,
        key_data(name)
    )
}

/// A simple-signing signature by the [`Fake`] key `key` of the manifest digest `digest`
/// (`sha256:<hex>`) for the reference `identity`.
pub(crate) fn sig(key: &str, digest: &str, identity: &str) -> Signature {
    let payload = format!(
        r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{digest}"}},"identity":{{"docker-reference":"{identity}"}}}},"optional":{{}}}}"#
    );
    Signature::SimpleSigning(format!("SIG:{key}:{payload}").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::parse_payload;

    #[test]
    fn a_signed_image_and_a_container_in_a_few_lines() {
        let (id, cid) = (hex64('1'), hex64('c'));
        let d = manifest_digest(&id);
        let t = Tree::new();
        t.image(
            &ImageFixture::new(&id)
                .names(&["example.com/app:1"])
                .signatures(&[sig("a", &d, "example.com/app:1")]),
        );
        t.container(
            &ContainerFixture::new(&cid, &id)
                .names(&["web"])
                .created_from("example.com/app:1"),
        );
        let store = t.store(&cid);
        let c = store.container(&cid, soon()).unwrap();
        assert_eq!(
            (c.names, c.image_id, c.image_name),
            (
                vec!["web".into()],
                id.clone(),
                Some("example.com/app:1".into())
            )
        );
        let img = store.image(&id, None, soon()).unwrap();
        assert_eq!(img.names, ["example.com/app:1"]);
        assert_eq!(img.manifest_digest, d);
        let [Signature::SimpleSigning(bytes)] = img.signatures.as_slice() else {
            panic!("one simple-signing signature: {:?}", img.signatures);
        };
        let verified = Fake.open(&[key("a")]).unwrap().verify(bytes).unwrap();
        let payload = parse_payload(&verified.payload).unwrap();
        assert_eq!(payload.manifest_digest, d);
        assert_eq!(payload.docker_reference, "example.com/app:1");
        assert!(Fake.open(&[key("b")]).unwrap().verify(bytes).is_err());
    }

    #[test]
    fn an_image_from_a_list_has_its_instance_signatures() {
        let id = hex64('1');
        let d = manifest_digest(&id);
        let other = format!("sha256:{}", hex64('9'));
        let t = Tree::new();
        let stored = t.image(
            &ImageFixture::new(&id)
                .in_list(&[&other])
                .signatures(&[sig("a", &d, "example.com/app:1")])
                .list_signatures(&[sig("a", "sha256:list", "example.com/app:1")]),
        );
        assert_eq!(stored.manifest_digest, d);
        let ld = stored.list_digest.expect("a list digest");
        assert_eq!(ld, sha256_digest(&manifest_list(&[other, d.clone()])));
        let img = t.open().image(&id, None, soon()).unwrap();
        assert_eq!(img.manifest_digest, d);
        assert_eq!(img.signatures, [sig("a", &d, "example.com/app:1")]);
        assert_eq!(img.digests.first(), Some(&ld));
        assert!(img.digests.contains(&d));
    }
}
