//! Storage readers on small fixture trees laid out as containers/storage writes them: records
//! found in either container file, manifests and signatures read and cut apart, bounded lock waits,
//! and hostile or corrupt stores refused.
//! Ref: containers/storage `containers.go`, `images.go`; containers/image `storage/storage_src.go`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;
use crate::manifest::sha256_digest;
use crate::signature::Signature;

struct Tree {
    root: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn hex64(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn manifest_for(image_id: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{image_id}","size":1}},"layers":[]}}"#
    )
    .into_bytes()
}

impl Tree {
    fn new(name: &str) -> Tree {
        let root = std::env::temp_dir().join(format!("osh-storage-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("vfs-containers")).unwrap();
        std::fs::create_dir_all(root.join("vfs-images")).unwrap();
        Tree { root }
    }

    fn bundle(&self, cid: &str) -> PathBuf {
        let b = self.root.join(format!("vfs-containers/{cid}/userdata"));
        std::fs::create_dir_all(&b).unwrap();
        b
    }

    fn containers(&self, file: &str, json: &str) {
        std::fs::write(self.root.join("vfs-containers").join(file), json).unwrap();
    }

    fn images(&self, json: &str) {
        std::fs::write(self.root.join("vfs-images/images.json"), json).unwrap();
    }

    fn big_data(&self, image_id: &str, key: &str, data: &[u8]) {
        let dir = self.root.join(format!("vfs-images/{image_id}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(big_data_file_name(key)), data).unwrap();
    }

    fn store(&self, cid: &str) -> Store {
        Store::from_bundle(&self.bundle(cid), cid, false, no_conf)
            .unwrap()
            .0
    }

    /// One image with a manifest and `sigs` concatenated as its signatures.
    fn simple_image(&self, id: &str, sigs: &[&[u8]]) -> String {
        let m = manifest_for(id);
        let d = sha256_digest(&m);
        self.big_data(id, "manifest", &m);
        self.big_data(id, &format!("manifest-{d}"), &m);
        let blob: Vec<u8> = sigs.concat();
        self.big_data(id, "signatures", &blob);
        let sizes: Vec<String> = sigs.iter().map(|s| s.len().to_string()).collect();
        let meta = format!(r#"{{"signature-sizes":[{}]}}"#, sizes.join(","));
        format!(
            r#"{{"id":"{id}","digest":"{d}","names":["example.com/app:1"],"metadata":{},"big-data-names":["manifest","manifest-{d}","signatures"],"big-data-digests":{{"manifest":"{d}","manifest-{d}":"{d}"}}}}"#,
            serde_json::to_string(&meta).unwrap()
        )
    }
}

/// storage.conf for tests that must not need it.
fn no_conf() -> std::result::Result<StorageConf, String> {
    Err("storage.conf must not be needed here".into())
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(2)
}

#[test]
fn big_data_file_names_follow_containers_storage() {
    assert_eq!(big_data_file_name("manifest"), "manifest");
    assert_eq!(big_data_file_name("signatures"), "signatures");
    assert_eq!(
        big_data_file_name("signature-e967"),
        "=c2lnbmF0dXJlLWU5Njc="
    );
    assert_eq!(
        big_data_file_name("manifest-sha256:e9"),
        "=bWFuaWZlc3Qtc2hhMjU2OmU5"
    );
    assert_eq!(big_data_file_name("a.b.0"), "a.b.0");
    assert_eq!(big_data_file_name("Manifest"), "=TWFuaWZlc3Q=");
}

#[test]
fn bundle_path_gives_root_driver_and_id() {
    let t = Tree::new("bundle");
    let cid = hex64('c');
    let (s, id) = Store::from_bundle(&t.bundle(&cid), &cid, false, no_conf).unwrap();
    assert_eq!(
        (s.graphroot.as_path(), s.driver.as_str(), id.as_str()),
        (t.root.as_path(), "vfs", cid.as_str())
    );
    for bad in [
        "/x/userdata",
        "/a/b/c",
        "relative/vfs-containers/x/userdata",
        "/vfs-containers/x/userdata2",
        "/r/-containers/x/userdata",
    ] {
        assert!(
            Store::from_bundle(Path::new(bad), "x", false, no_conf).is_err(),
            "{bad}"
        );
    }
    assert!(matches!(
        Store::from_bundle(&t.bundle(&cid), "other", false, no_conf),
        Err(StorageError::IdMismatch { .. })
    ));
}

#[test]
fn finds_containers_in_both_container_files() {
    let t = Tree::new("containers");
    let (a, b, img) = (hex64('a'), hex64('b'), hex64('1'));
    let meta =
        serde_json::to_string(r#"{"image-name":"example.com/app:1","image-id":"x"}"#).unwrap();
    t.containers(
        "containers.json",
        &format!(r#"[{{"id":"{a}","image":"{img}","metadata":{meta}}}]"#),
    );
    t.containers(
        "volatile-containers.json",
        &format!(r#"[{{"id":"{b}","image":"{img}"}}]"#),
    );
    let s = t.store(&a);
    let c = s.container(&a, soon()).unwrap();
    assert_eq!(c.image_name.as_deref(), Some("example.com/app:1"));
    assert_eq!(c.image_id, img);
    let c = s.container(&b, soon()).unwrap();
    assert_eq!(c.image_name, None);
    assert!(matches!(
        s.container(&hex64('d'), soon()),
        Err(StorageError::UnknownContainer(_))
    ));
}

#[test]
fn a_container_without_image_or_with_bad_metadata_is_an_error() {
    let t = Tree::new("containers-bad");
    let a = hex64('a');
    t.containers(
        "containers.json",
        &format!(r#"[{{"id":"{a}","image":""}}]"#),
    );
    assert!(matches!(
        t.store(&a).container(&a, soon()),
        Err(StorageError::NoImage(_))
    ));
    t.containers(
        "containers.json",
        &format!(
            r#"[{{"id":"{a}","image":"{}","metadata":"{{"}}]"#,
            hex64('1')
        ),
    );
    assert!(matches!(
        t.store(&a).container(&a, soon()),
        Err(StorageError::Parse { .. })
    ));
}

#[test]
fn reads_the_manifest_and_splits_signatures() {
    let t = Tree::new("image");
    let id = hex64('1');
    let rec = t.simple_image(&id, &[b"\xa3one", b"\x89two!"]);
    t.images(&format!("[{rec}]"));
    let img = t.store(&hex64('a')).image(&id, None, soon()).unwrap();
    assert_eq!(img.manifest_digest, sha256_digest(&manifest_for(&id)));
    assert_eq!(
        img.signatures,
        vec![
            Signature::SimpleSigning(b"\xa3one".to_vec()),
            Signature::SimpleSigning(b"\x89two!".to_vec())
        ]
    );
    assert_eq!(img.digests, vec![img.manifest_digest.clone()]);
    assert!(matches!(
        t.store(&hex64('a')).image(&hex64('2'), None, soon()),
        Err(StorageError::UnknownImage(_))
    ));
    assert!(t.store(&hex64('a')).image("../etc", None, soon()).is_err());
}

#[test]
fn inconsistent_signature_sizes_are_an_error() {
    let t = Tree::new("sizes");
    let id = hex64('1');
    let rec = t.simple_image(&id, &[b"\xa3one"]);
    t.images(&format!("[{rec}]"));
    t.big_data(&id, "signatures", b"\xa3one+extra");
    let err = t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than their recorded sizes"), "{err}");
    t.big_data(&id, "signatures", b"\xa3o");
    let err = t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 4 bytes"), "{err}");
}

#[test]
fn config_digest_must_be_the_image_id() {
    let t = Tree::new("config");
    let id = hex64('1');
    let rec = t.simple_image(&id, &[]);
    t.images(&format!("[{rec}]"));
    t.big_data(&id, "manifest", &manifest_for(&hex64('2')));
    let err = t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not the image ID"), "{err}");
}

#[test]
fn symlinked_or_oversized_big_data_is_refused() {
    let t = Tree::new("hostile");
    let id = hex64('1');
    let rec = t.simple_image(&id, &[b"\xa3one"]);
    t.images(&format!("[{rec}]"));
    let outside = t.root.join("outside");
    std::fs::write(&outside, b"\xa3one").unwrap();
    let sigfile = t.root.join(format!("vfs-images/{id}/signatures"));
    std::fs::remove_file(&sigfile).unwrap();
    std::os::unix::fs::symlink(&outside, &sigfile).unwrap();
    let err = t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read \"signatures\""), "{err}");
    std::fs::remove_file(&sigfile).unwrap();
    std::fs::write(&sigfile, vec![0xa3; (MAX_SIGNATURES_BYTES + 1) as usize]).unwrap();
    let err = t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("limit"), "{err}");
}

#[test]
fn a_manifest_list_uses_the_instance_and_its_signatures() {
    let t = Tree::new("list");
    let id = hex64('1');
    let inst = manifest_for(&id);
    let d = sha256_digest(&inst);
    let other = sha256_digest(b"other");
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"digest":"{other}"}},{{"digest":"{d}"}}]}}"#
    );
    let ld = sha256_digest(list.as_bytes());
    t.big_data(&id, "manifest", list.as_bytes());
    t.big_data(&id, &format!("manifest-{ld}"), list.as_bytes());
    t.big_data(&id, &format!("manifest-{d}"), &inst);
    let hex = &d[7..];
    t.big_data(&id, &format!("signature-{hex}"), b"\xa3sig");
    let meta = serde_json::to_string(&format!(r#"{{"signatures-sizes":{{"{d}":[4]}}}}"#)).unwrap();
    t.images(&format!(
        r#"[{{"id":"{id}","digest":"{ld}","metadata":{meta},"big-data-names":["manifest","manifest-{ld}","manifest-{d}","signature-{hex}"]}}]"#
    ));
    let img = t.store(&hex64('a')).image(&id, None, soon()).unwrap();
    assert_eq!(img.manifest_digest, d);
    assert_eq!(
        img.signatures,
        vec![Signature::SimpleSigning(b"\xa3sig".to_vec())]
    );
}

#[test]
fn a_digest_reference_picks_that_manifest_and_must_be_known() {
    let t = Tree::new("digest");
    let id = hex64('1');
    let rec = t.simple_image(&id, &[]);
    t.images(&format!("[{rec}]"));
    let d = sha256_digest(&manifest_for(&id));
    assert!(t.store(&hex64('a')).image(&id, Some(&d), soon()).is_ok());
    let unknown = format!("sha256:{}", hex64('9'));
    let err = t
        .store(&hex64('a'))
        .image(&id, Some(&unknown), soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("which the image does not have"), "{err}");
}

#[test]
fn corrupt_images_json_is_an_error() {
    let t = Tree::new("corrupt");
    for bad in [
        "",
        "{",
        "{}",
        r#"[{"id":1}]"#,
        r#"[{"id":"x","metadata":5}]"#,
    ] {
        t.images(bad);
        assert!(
            t.store(&hex64('a'))
                .image(&hex64('1'), None, soon())
                .is_err(),
            "{bad}"
        );
    }
    let id = hex64('1');
    t.images(&format!(r#"[{{"id":"{id}","metadata":"{{\"signature-sizes\":[-1]}}","big-data-names":["manifest"]}}]"#));
    t.big_data(&id, "manifest", &manifest_for(&id));
    assert!(t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string()
        .contains("invalid metadata"));
}

#[test]
fn a_write_lock_held_elsewhere_is_waited_for_with_a_bound() {
    let t = Tree::new("lock");
    let id = hex64('1');
    let rec = t.simple_image(&id, &[]);
    t.images(&format!("[{rec}]"));
    let lock = t.root.join("vfs-images/images.lock");
    std::fs::write(&lock, b"").unwrap();
    // flock(1) takes a different lock kind; a child holding an fcntl write lock is needed.
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import fcntl,sys,time\nf=open('{}','r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(30)",
            lock.display()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let err = t
        .store(&hex64('a'))
        .image(&id, None, Instant::now() + Duration::from_millis(300))
        .unwrap_err();
    assert!(err.to_string().contains("stayed locked"), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(t.store(&hex64('a')).image(&id, None, soon()).is_ok());
}

#[test]
fn a_record_is_found_from_the_end_without_parsing_the_rest() {
    let t = Tree::new("quick");
    let cid = hex64('c');
    let record = |id: &str, image: &str, pad: usize| {
        format!(
            r#"{{"id":"{id}","names":["n{}"],"image":"{image}","metadata":"{{\"image-name\":\"example.com/app:1\"}}","pad":"{}"}}"#,
            pad,
            "x".repeat(pad)
        )
    };
    // Many records before it, big enough that the search crosses 64 KiB chunks; the container's
    // record straddles a chunk boundary.
    let mut recs: Vec<String> = (0..300)
        .map(|i| record(&format!("{i:064x}"), &hex64('9'), 700))
        .collect();
    recs.push(record(&cid, &hex64('1'), 40_000));
    recs.extend((300..400).map(|i| record(&format!("{i:064x}"), &hex64('9'), 700)));
    t.containers("containers.json", &format!("[{}]", recs.join(",")));
    let s = t.store(&cid);
    let c = s.container(&cid, soon()).unwrap();
    assert_eq!(c.image_id, hex64('1'));
    assert_eq!(c.image_name.as_deref(), Some("example.com/app:1"));

    // Far from the end (more than the 256 KiB looked at first), it is found by the forward search.
    let mut far = recs.clone();
    far.extend((400..800).map(|i| record(&format!("{i:064x}"), &hex64('9'), 700)));
    t.containers("containers.json", &format!("[{}]", far.join(",")));
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('1'));
    // Two far records with the same ID: the later one.
    let mut twice = far.clone();
    twice.insert(500, record(&cid, &hex64('7'), 10));
    t.containers("containers.json", &format!("[{}]", twice.join(",")));
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('7'));

    // A later record with the same ID wins, as it does when containers/storage loads the file.
    recs.push(record(&cid, &hex64('2'), 10));
    t.containers("containers.json", &format!("[{}]", recs.join(",")));
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('2'));

    // The search finds only top-level records: an `{"id":…` that follows anything but `[` or `,`
    // sends the hook to the full parse, which reads the real record.
    let nested = format!(
        r#"[{},{{"id":"{}","image":"{}","nested":{{"id":"{cid}","image":"{}"}}}}]"#,
        record(&cid, &hex64('3'), 10),
        hex64('e'),
        hex64('9'),
        hex64('4')
    );
    t.containers("containers.json", &nested);
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('3'));

    // A record that does not parse falls back to the full parse, which reports the error.
    t.containers(
        "containers.json",
        &format!(r#"[{{"id":"{cid}","image":5}}]"#),
    );
    let err = s.container(&cid, soon()).unwrap_err().to_string();
    assert!(err.contains("cannot parse"), "{err}");
    // The volatile file is read too, and its record wins.
    t.containers(
        "containers.json",
        &format!("[{}]", record(&cid, &hex64('5'), 10)),
    );
    t.containers(
        "volatile-containers.json",
        &format!("[{}]", record(&cid, &hex64('6'), 10)),
    );
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('6'));
}
