//! How an unsigned image came to be in the store, from what the store keeps of it: its manifest,
//! its config and its names. Podman records no origin, but each way in leaves its mark (podman
//! 4.3 to 5.4, as `tests/check.rs` makes each for real):
//!
//! | way in | manifest | config |
//! | --- | --- | --- |
//! | `podman build`, `podman commit` (buildah) | layers stored uncompressed: each digest is its `diff_id` | label `io.buildah.version` |
//! | `podman load` of a docker-archive | each digest is its `diff_id`, yet the layers are declared gzip (`…diff.tar.gzip`): containers/image writes the archive's plain tars so | the archive's |
//! | `podman import` | uncompressed layers | no buildah label |
//! | `podman pull` | compressed layers, as registries serve them (a digest is never the `diff_id`) | the registry's |
//!
//! An oci-archive `podman load` keeps the archive's manifest, compressed by `podman save`: it
//! looks pulled, and is told apart only by a `localhost/` name.

use serde::Deserialize;

use crate::reference::Reference;

/// How an image came to be in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Built or committed on this host (buildah's label, uncompressed layers).
    Built,
    /// Loaded from a docker-archive (`podman load`, `docker save`'s format).
    Loaded,
    /// Pulled from a registry (compressed layers and a name on a registry).
    Pulled,
    /// Made here some other way, or loaded: uncompressed layers without buildah's label
    /// (`podman import`), or compressed layers under a `localhost/` name.
    Local,
    /// The manifest or config does not say.
    Unknown,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
}

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    rootfs: RootFs,
    #[serde(default)]
    config: Option<ContainerConfig>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct ContainerConfig {
    #[serde(rename = "Labels", default)]
    labels: Option<std::collections::HashMap<String, String>>,
}

/// The label buildah puts on every image it commits.
pub const BUILDAH_LABEL: &str = "io.buildah.version";

/// How the image whose manifest, config (if it could be read) and names are given came to be in
/// the store.
pub fn origin(manifest: &[u8], config: Option<&[u8]>, names: &[String]) -> Origin {
    let (Ok(m), Some(Ok(c))) = (
        serde_json::from_slice::<Manifest>(manifest),
        config.map(serde_json::from_slice::<Config>),
    ) else {
        return Origin::Unknown;
    };
    let uncompressed = m.layers.len() == c.rootfs.diff_ids.len()
        && m.layers
            .iter()
            .zip(&c.rootfs.diff_ids)
            .all(|(l, d)| l.digest == *d);
    let declared_compressed = m
        .layers
        .iter()
        .any(|l| l.media_type.ends_with("gzip") || l.media_type.ends_with("zstd"));
    let buildah = c
        .config
        .and_then(|c| c.labels)
        .is_some_and(|l| l.contains_key(BUILDAH_LABEL));
    let on_registry = names
        .iter()
        .any(|n| Reference::parse_normalized(n).is_ok_and(|r| r.domain() != "localhost"));
    match (uncompressed, declared_compressed, buildah) {
        (true, true, _) => Origin::Loaded,
        (true, false, true) => Origin::Built,
        (true, false, false) => Origin::Local,
        (false, _, _) if on_registry => Origin::Pulled,
        (false, _, _) => Origin::Local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const Z: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    const OCI_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    const OCI_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    const DOCKER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    const DOCKER_GZ: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    fn manifest(layers: &[(&str, &str)]) -> Vec<u8> {
        let layers: Vec<_> = layers
            .iter()
            .map(|(t, d)| serde_json::json!({"mediaType": t, "digest": d, "size": 1}))
            .collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "layers": layers})).unwrap()
    }

    fn config(diff_ids: &[&str], buildah: bool) -> Vec<u8> {
        let labels = if buildah {
            serde_json::json!({BUILDAH_LABEL: "1.28.2", "x": "y"})
        } else {
            serde_json::Value::Null
        };
        serde_json::to_vec(&serde_json::json!({
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Labels": labels},
        }))
        .unwrap()
    }

    #[test]
    fn each_way_in_is_told_apart() {
        let registry = ["127.0.0.1:5000/lab/app:1".to_string()];
        let local = ["localhost/app:1".to_string()];
        let none: [String; 0] = [];
        type Case<'a> = (&'a str, Vec<u8>, Option<Vec<u8>>, &'a [String], Origin);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("podman build (OCI)", manifest(&[(OCI_TAR, A), (OCI_TAR, B)]), Some(config(&[A, B], true)), &local, Origin::Built),
            ("podman build --format docker", manifest(&[(DOCKER_TAR, A)]), Some(config(&[A], true)), &local, Origin::Built),
            ("a build's intermediate image", manifest(&[(OCI_TAR, A)]), Some(config(&[A], true)), &none, Origin::Built),
            ("built, tagged for a registry", manifest(&[(OCI_TAR, A)]), Some(config(&[A], true)), &registry, Origin::Built),
            ("docker-archive load", manifest(&[(DOCKER_GZ, A)]), Some(config(&[A], false)), &registry, Origin::Loaded),
            ("docker-archive load of a build", manifest(&[(DOCKER_GZ, A), (DOCKER_GZ, B)]), Some(config(&[A, B], true)), &local, Origin::Loaded),
            ("podman import", manifest(&[(OCI_TAR, A)]), Some(config(&[A], false)), &local, Origin::Local),
            ("pulled (gzip)", manifest(&[(OCI_GZ, Z)]), Some(config(&[A], false)), &registry, Origin::Pulled),
            ("pulled (zstd), built by buildah", manifest(&[(OCI_ZSTD, Z)]), Some(config(&[A], true)), &registry, Origin::Pulled),
            ("compressed under a local name", manifest(&[(OCI_GZ, Z)]), Some(config(&[A], true)), &local, Origin::Local),
            ("compressed, no name", manifest(&[(OCI_GZ, Z)]), Some(config(&[A], false)), &none, Origin::Local),
            ("layer counts differ", manifest(&[(OCI_TAR, A)]), Some(config(&[A, B], true)), &local, Origin::Local),
            ("no config", manifest(&[(OCI_TAR, A)]), None, &local, Origin::Unknown),
            ("a config that is not JSON", manifest(&[(OCI_TAR, A)]), Some(b"{".to_vec()), &local, Origin::Unknown),
            ("a manifest that is not JSON", b"<html>".to_vec(), Some(config(&[A], true)), &local, Origin::Unknown),
        ];
        for (what, m, c, names, want) in cases {
            assert_eq!(origin(&m, c.as_deref(), names), want, "{what}");
        }
    }
}
