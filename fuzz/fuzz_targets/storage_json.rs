//! containers/storage records: containers.json, images.json, and an image's stored manifest and
//! signatures, read through the public store API from a real directory tree.
//!
//! Input: a flags byte, then four parts separated by NUL bytes: containers.json, images.json, the
//! manifest of image `IMAGE` and its signatures blob (the last part may itself hold NULs). In
//! images.json, `@D@` is replaced by the digest of the manifest part and `@H@` by its hex, so that
//! records can name it. Flags: bit 0 moves containers.json to volatile-containers.json; bit 1
//! also writes a copy there; bit 2 asks for the image by the manifest's digest; bit 3 stores the
//! manifest as an instance of a generated manifest list.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use oci_signature_hook::manifest::{self, Manifest};
use oci_signature_hook::storage::{big_data_file_name, Store};

const CONTAINER: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
const IMAGE: &str = "1ce1ce001ce1ce001ce1ce001ce1ce001ce1ce001ce1ce001ce1ce001ce1ce00";

/// The store, one per process, rewritten for every input.
struct Tree {
    root: PathBuf,
    bundle: PathBuf,
}

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("osh-fuzz-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let bundle = root.join(format!("vfs-containers/{CONTAINER}/userdata"));
        std::fs::create_dir_all(&bundle).expect("bundle directory");
        std::fs::create_dir_all(root.join(format!("vfs-images/{IMAGE}"))).expect("image directory");
        std::fs::write(root.join("vfs-containers/containers.lock"), b"").expect("lock file");
        std::fs::write(root.join("vfs-images/images.lock"), b"").expect("lock file");
        // An empty storage.conf: no additional image stores from the host.
        let conf = root.join("storage.conf");
        std::fs::write(&conf, b"").expect("storage.conf");
        std::env::set_var("CONTAINERS_STORAGE_CONF", &conf);
        Tree { root, bundle }
    })
}

fn put(path: &Path, data: Option<&[u8]>) {
    match data {
        Some(d) => std::fs::write(path, d).expect("write fixture file"),
        None => match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove {path:?}: {e}"),
        },
    }
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == 0);
    let containers = parts.next().unwrap_or_default();
    let images = parts.next().unwrap_or_default();
    let manifest_part = parts.next().unwrap_or_default();
    let sigs = parts.next().unwrap_or_default();

    let t = tree();
    let cdir = t.root.join("vfs-containers");
    let idir = t.root.join("vfs-images");
    let img = idir.join(IMAGE);

    let volatile_only = flags & 1 != 0;
    put(
        &cdir.join("containers.json"),
        (!volatile_only).then_some(containers),
    );
    put(
        &cdir.join("volatile-containers.json"),
        (volatile_only || flags & 2 != 0).then_some(containers),
    );

    let d = manifest::sha256_digest(manifest_part);
    let hex = &d["sha256:".len()..];
    let images = replace(
        &replace(images, b"@D@", d.as_bytes()),
        b"@H@",
        hex.as_bytes(),
    );
    put(&idir.join("images.json"), Some(&images));

    // The manifest, also under its digest; signatures for it as a single image or as an instance.
    let as_list = flags & 8 != 0;
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"digest":"{d}"}}]}}"#
    );
    let default_manifest = if as_list {
        list.as_bytes()
    } else {
        manifest_part
    };
    let by_digest = img.join(big_data_file_name(&format!("manifest-{d}")));
    let instance_sigs = img.join(big_data_file_name(&format!("signature-{hex}")));
    put(&img.join("manifest"), Some(default_manifest));
    put(&by_digest, Some(manifest_part));
    put(&img.join("signatures"), Some(sigs));
    put(&instance_sigs, Some(sigs));

    let deadline = Instant::now() + Duration::from_secs(5);
    let (store, id) = Store::from_bundle(&t.bundle, CONTAINER, false, || {
        Err("storage.conf is not needed for a graph-root bundle".into())
    })
    .expect("the fixed bundle is a store bundle");
    assert_eq!(id, CONTAINER);
    assert_eq!(store.graphroot, t.root);
    assert_eq!(store.driver, "vfs");

    if let Ok(c) = store.container(CONTAINER, deadline) {
        assert_eq!(c.id, CONTAINER);
        // A container without an image (`podman run --rootfs`) is returned with an empty image
        // ID: the verdict decides it by the imageless setting.
        if !c.image_id.is_empty() && c.image_id != IMAGE {
            let _ = store.image(&c.image_id, None, deadline);
        }
    }
    let want = (flags & 4 != 0).then_some(d.as_str());
    check_image(&store, IMAGE, None, manifest_part, deadline);
    if want.is_some() {
        check_image(&store, IMAGE, want, manifest_part, deadline);
    }

    let store = Store::open(&t.root, None, "vfs", false).expect("open the store");
    if let Ok(all) = store.containers(deadline) {
        for (i, c) in all.iter().enumerate() {
            assert!(
                !all[..i].iter().any(|o| o.id == c.id),
                "container {} twice",
                c.id
            );
        }
    }
    if let Ok(all) = store.images(deadline) {
        for (i, m) in all.iter().enumerate() {
            assert!(
                !all[..i].iter().any(|o| o.id == m.id),
                "image {} twice",
                m.id
            );
        }
    }

    // Their names change with every input: do not let them pile up.
    put(&by_digest, None);
    put(&instance_sigs, None);
});

fn check_image(
    store: &Store,
    id: &str,
    want: Option<&str>,
    manifest_part: &[u8],
    deadline: Instant,
) {
    let Ok(img) = store.image(id, want, deadline) else {
        return;
    };
    assert_eq!(img.id, id);
    assert_eq!(img.manifest_digest, manifest::sha256_digest(&img.manifest));
    match manifest::parse(&img.manifest) {
        Ok(Manifest::Image { config_digest }) => assert_eq!(config_digest, format!("sha256:{id}")),
        other => panic!("image read with a manifest that is not its own: {other:?}"),
    }
    // Asked for by a digest that is not a list, the image has that manifest or knows the digest.
    // (For a list, the instance that is this image is read instead.)
    if let Some(w) =
        want.filter(|_| !matches!(manifest::parse(manifest_part), Ok(Manifest::List { .. })))
    {
        assert!(
            img.manifest_digest == w || img.digests.iter().any(|x| x == w),
            "asked for {w}, got {}",
            img.manifest_digest
        );
    }
    for (i, d) in img.digests.iter().enumerate() {
        assert!(!img.digests[..i].contains(d), "digest {d} twice");
    }
}
