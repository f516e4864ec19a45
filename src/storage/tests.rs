//! Storage readers on small fixture trees laid out as containers/storage writes them: records
//! found in either container file, manifests and signatures read and cut apart, bounded lock waits,
//! and hostile or corrupt stores refused.
//! Ref: containers/storage `containers.go`, `images.go`; containers/image `storage/storage_src.go`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::manifest::sha256_digest;
use crate::signature::Signature;
use crate::testing::{hex64, image_manifest, no_conf, soon, ContainerFixture, ImageFixture, Tree};

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
    let t = Tree::new();
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
    let t = Tree::new();
    let (a, b, img) = (hex64('a'), hex64('b'), hex64('1'));
    t.container(&ContainerFixture::new(&a, &img).created_from("example.com/app:1"));
    t.container(&ContainerFixture::new(&b, &img).volatile());
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
fn a_container_without_image_is_read_with_an_empty_image_id() {
    // podman's `run --rootfs` containers and buildah's `FROM scratch` working containers have no
    // image: the record says `"image":""` (or nothing), and the caller decides what that means.
    let t = Tree::new();
    let (a, b, c, l) = (hex64('a'), hex64('b'), hex64('c'), hex64('e'));
    t.write_containers_json(
        "containers.json",
        &format!(
            r#"[{{"id":"{a}","image":""}},{{"id":"{b}","names":null,"image":null,"layer":"{l}","metadata":null,"flags":{{"Volatile":true}}}},{{"id":"{c}","image":"{}"}}]"#,
            hex64('1')
        ),
    );
    let s = t.store(&a);
    let got = s.container(&a, soon()).unwrap();
    assert_eq!((got.image_id.as_str(), got.image_name), ("", None));
    let got = s.container(&b, soon()).unwrap();
    assert_eq!(
        (got.image_id.as_str(), got.layer.as_str(), got.names.len()),
        ("", l.as_str(), 0)
    );
    let all: Vec<(String, String)> = s
        .containers(soon())
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.image_id))
        .collect();
    assert_eq!(
        all,
        [
            (a.clone(), String::new()),
            (b, String::new()),
            (c, hex64('1'))
        ]
    );
}

#[test]
fn a_container_with_bad_metadata_is_an_error() {
    let t = Tree::new();
    let a = hex64('a');
    t.write_containers_json(
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
    let t = Tree::new();
    let id = hex64('1');
    t.image(
        &ImageFixture::new(&id)
            .names(&["example.com/app:1"])
            .signature_blobs(&[b"\xa3one", b"\x89two!"]),
    );
    let img = t.store(&hex64('a')).image(&id, None, soon()).unwrap();
    assert_eq!(img.manifest_digest, sha256_digest(&image_manifest(&id)));
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
    let t = Tree::new();
    let id = hex64('1');
    t.image(&ImageFixture::new(&id).signature_blobs(&[b"\xa3one"]));
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
    let t = Tree::new();
    let id = hex64('1');
    t.image(&ImageFixture::new(&id));
    t.big_data(&id, "manifest", &image_manifest(&hex64('2')));
    let err = t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not the image ID"), "{err}");
}

#[test]
fn symlinked_or_oversized_big_data_is_refused() {
    let t = Tree::new();
    let id = hex64('1');
    t.image(&ImageFixture::new(&id).signature_blobs(&[b"\xa3one"]));
    let outside = t.root.join("outside");
    std::fs::write(&outside, b"\xa3one").unwrap();
    let sigfile = t.big_data_path(&id, "signatures");
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
    let t = Tree::new();
    let id = hex64('1');
    let d = sha256_digest(&image_manifest(&id));
    let other = sha256_digest(b"other");
    t.image(
        &ImageFixture::new(&id)
            .in_list(&[&other])
            .signature_blobs(&[b"\xa3sig"]),
    );
    let img = t.store(&hex64('a')).image(&id, None, soon()).unwrap();
    assert_eq!(img.manifest_digest, d);
    assert_eq!(
        img.signatures,
        vec![Signature::SimpleSigning(b"\xa3sig".to_vec())]
    );
}

#[test]
fn a_digest_reference_picks_that_manifest_and_must_be_known() {
    let t = Tree::new();
    let id = hex64('1');
    t.image(&ImageFixture::new(&id));
    let d = sha256_digest(&image_manifest(&id));
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
    let t = Tree::new();
    for bad in [
        "",
        "{",
        "{}",
        r#"[{"id":1}]"#,
        r#"[{"id":"x","metadata":5}]"#,
    ] {
        t.write_images_json(bad);
        assert!(
            t.store(&hex64('a'))
                .image(&hex64('1'), None, soon())
                .is_err(),
            "{bad}"
        );
    }
    let id = hex64('1');
    t.write_images_json(&format!(r#"[{{"id":"{id}","metadata":"{{\"signature-sizes\":[-1]}}","big-data-names":["manifest"]}}]"#));
    t.big_data(&id, "manifest", &image_manifest(&id));
    assert!(t
        .store(&hex64('a'))
        .image(&id, None, soon())
        .unwrap_err()
        .to_string()
        .contains("invalid metadata"));
}

#[test]
fn a_write_lock_held_elsewhere_is_waited_for_with_a_bound() {
    let t = Tree::new();
    let id = hex64('1');
    t.image(&ImageFixture::new(&id));
    let lock = t.images_dir().join("images.lock");
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
    let t = Tree::new();
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
    t.write_containers_json("containers.json", &format!("[{}]", recs.join(",")));
    let s = t.store(&cid);
    let c = s.container(&cid, soon()).unwrap();
    assert_eq!(c.image_id, hex64('1'));
    assert_eq!(c.image_name.as_deref(), Some("example.com/app:1"));

    // Far from the end (more than the 256 KiB looked at first), it is found by the forward search.
    let mut far = recs.clone();
    far.extend((400..800).map(|i| record(&format!("{i:064x}"), &hex64('9'), 700)));
    t.write_containers_json("containers.json", &format!("[{}]", far.join(",")));
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('1'));
    // Two far records with the same ID: the later one.
    let mut twice = far.clone();
    twice.insert(500, record(&cid, &hex64('7'), 10));
    t.write_containers_json("containers.json", &format!("[{}]", twice.join(",")));
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('7'));

    // A later record with the same ID wins, as it does when containers/storage loads the file.
    recs.push(record(&cid, &hex64('2'), 10));
    t.write_containers_json("containers.json", &format!("[{}]", recs.join(",")));
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
    t.write_containers_json("containers.json", &nested);
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('3'));

    // A record that does not parse falls back to the full parse, which reports the error.
    t.write_containers_json(
        "containers.json",
        &format!(r#"[{{"id":"{cid}","image":5}}]"#),
    );
    let err = s.container(&cid, soon()).unwrap_err().to_string();
    assert!(err.contains("cannot parse"), "{err}");
    // The volatile file is read too, and its record wins.
    t.write_containers_json(
        "containers.json",
        &format!("[{}]", record(&cid, &hex64('5'), 10)),
    );
    t.write_containers_json(
        "volatile-containers.json",
        &format!("[{}]", record(&cid, &hex64('6'), 10)),
    );
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, hex64('6'));
}

#[test]
fn a_store_at_a_location_searches_its_additional_image_stores_after_the_graph_root() {
    let (graph, extra) = (Tree::new(), Tree::new());
    let (here, there) = (hex64('1'), hex64('2'));
    graph.image(&ImageFixture::new(&here).names(&["example.com/here:1"]));
    extra.image(&ImageFixture::new(&there).names(&["example.com/there:1"]));
    // The same image in both: the graph root's record wins.
    extra.image(&ImageFixture::new(&here).names(&["example.com/elsewhere:1"]));
    let location = Location {
        graphroot: graph.root.clone(),
        runroot: None,
        driver: "vfs".into(),
        additional_image_stores: vec![extra.root.clone(), graph.root.join("missing")],
    };
    let s = Store::at(&location).unwrap();
    assert_eq!(
        s.images(soon()).unwrap(),
        vec![
            ImageSummary {
                id: here.clone(),
                names: vec!["example.com/here:1".into()],
            },
            ImageSummary {
                id: there.clone(),
                names: vec!["example.com/there:1".into()],
            },
        ]
    );
    assert_eq!(s.image(&there, None, soon()).unwrap().id, there);
    assert_eq!(
        s.image(&here, None, soon()).unwrap().names,
        ["example.com/here:1"]
    );
    assert!(matches!(
        s.image(&hex64('3'), None, soon()),
        Err(StorageError::UnknownImage(_))
    ));
}

#[test]
fn a_run_root_bundle_finds_records_in_both_roots_and_storage_conf_s_image_stores() {
    let (run, graph, extra) = (Tree::new(), Tree::new(), Tree::new());
    std::fs::remove_dir_all(run.images_dir()).unwrap();
    let (cid, other, id) = (hex64('c'), hex64('d'), hex64('1'));
    run.container(&ContainerFixture::new(&cid, &id).volatile());
    graph.container(&ContainerFixture::new(&other, &id));
    extra.image(&ImageFixture::new(&id));
    let conf = StorageConf {
        graphroot: Some(graph.root.clone()),
        runroot: Some(run.root.clone()),
        additional_image_stores: vec![extra.root.clone()],
        ..StorageConf::default()
    };
    let mut loads = 0;
    let (s, got) = Store::from_bundle(&run.bundle(&cid), &cid, false, || {
        loads += 1;
        Ok(conf)
    })
    .unwrap();
    assert_eq!(
        (got.as_str(), s.graphroot.as_path()),
        (cid.as_str(), graph.root.as_path())
    );
    assert_eq!(s.container(&cid, soon()).unwrap().image_id, id);
    assert_eq!(s.container(&other, soon()).unwrap().image_id, id);
    let ids: Vec<String> = s
        .containers(soon())
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [cid, other]);
    // storage.conf was read once, to find the graph root; its image stores come from that read.
    assert_eq!(s.image(&id, None, soon()).unwrap().id, id);
    assert_eq!(loads, 1);
}
