//! Reading one image from an image store: which stored manifest the container runs (the one of
//! the digest it was created from, or the instance of a manifest list that is this image), that
//! manifest's stored signatures, and the file names big-data items are stored under.
//!
//! Each big-data item of image `<id>` is a file in `<driver>-images/<id>/`; its key says what it
//! is: `manifest` (the default manifest), `manifest-<digest>` (the manifest of that digest),
//! `signatures` (the default manifest's signatures, concatenated; the metadata's
//! `signature-sizes` cuts them apart) and `signature-<hex>` (the signatures of instance
//! `sha256:<hex>`, cut by `signatures-sizes[<digest>]`).
//! Ref: containers/image `storage/storage_src.go` (`GetManifest`, `GetSignaturesWithFormat`),
//! `storage/storage_image.go` (`storageImageMetadata`); containers/storage `images.go`
//! (`makeBigDataBaseName`).

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine;
use serde::Deserialize;

use super::fs::Dir;
use super::records::{self, ImageRecord};
use super::{Result, StorageError, MAX_MANIFEST_BYTES, MAX_SIGNATURES_BYTES};
use crate::manifest::{self, Manifest};
use crate::signature::{self, Signature};

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

/// containers/image's image metadata (`storageImageMetadata`).
#[derive(Deserialize, Default)]
struct ImageMetadata {
    #[serde(rename = "signature-sizes", default)]
    signature_sizes: Vec<usize>,
    #[serde(rename = "signatures-sizes", default)]
    signatures_sizes: HashMap<String, Vec<usize>>,
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

/// Image `id` from one image store, if it is there, read under the store's images lock.
pub(super) fn image_in(
    dir: &Dir,
    id: &str,
    want_digest: Option<&str>,
    deadline: Instant,
) -> Result<Option<Image>> {
    let _lock = records::lock(dir, "images.lock", deadline)?;
    let Some(rec) = records::find_image(dir, id)? else {
        return Ok(None);
    };
    let image_dir = dir.dir(id).map_err(|source| StorageError::Read {
        path: dir.path().join(id),
        source,
    })?;
    read_image(&image_dir, rec, want_digest).map(Some)
}

/// The config blob (big-data key `sha256:<id>`) of image `id` in one image store, if the store
/// has the image, read under the store's images lock.
pub(super) fn config_in(dir: &Dir, id: &str, deadline: Instant) -> Result<Option<Vec<u8>>> {
    let _lock = records::lock(dir, "images.lock", deadline)?;
    let Some(rec) = records::find_image(dir, id)? else {
        return Ok(None);
    };
    let key = format!("sha256:{id}");
    let err = |reason: String| StorageError::Image {
        id: id.to_string(),
        reason,
    };
    if !rec.big_data_names.contains(&key) {
        return Err(err("no stored config".into()));
    }
    let image_dir = dir.dir(id).map_err(|source| StorageError::Read {
        path: dir.path().join(id),
        source,
    })?;
    let name = big_data_file_name(&key);
    image_dir
        .read(&name, MAX_MANIFEST_BYTES)
        .map(Some)
        .map_err(|e| {
            err(format!(
                "cannot read its config ({:?}): {e}",
                image_dir.path().join(&name)
            ))
        })
}

/// Reads the manifest and signatures of the image whose record is `rec` from its big-data
/// directory `dir`.
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
