//! Layers, their directories, the containers that own them and buildah's state, on fixture trees
//! laid out as containers/storage and buildah write them; hostile trees refused.

use std::io::Read;

use super::*;
use crate::storage::Location;
use crate::testing::{hex64, soon, ContainerFixture, ImageFixture, LayerFixture, Tree};

/// buildah.json as buildah 1.28 wrote it for `FROM 127.0.0.1:5000/lab/signed:v1` (trimmed: the
/// real file also holds the image's configuration and manifest).
fn buildah_json(image: &str, image_id: &str) -> String {
    format!(
        r#"{{"type":"buildah 0.0.1","image":"{image}","image-id":"{image_id}","image-digest":"sha256:{}","config":"eyJhcmNoaXRlY3R1cmUiOiJhbWQ2NCJ9","manifest":"","container-name":"signed-working-container","container-id":"{}","mountpoint":"","ProcessLabel":"","MountLabel":"","ociv1":{{"created":"2024-01-01T00:00:00Z","config":{{"Cmd":["/bin/sh"]}}}},"docker":{{"config":{{}}}},"TopLayer":"","PrependedEmptyLayers":null,"AppendedEmptyLayers":null,"CommonBuildOpts":{{"AddHost":[],"Ulimit":["nofile=1024:1024"]}},"Capabilities":null,"IDMappingOptions":{{"HostUIDMapping":true}},"TempVolumes":{{}},"ContentDigester":{{}},"Devices":null}}"#,
        hex64('d'),
        hex64('c')
    )
}

/// A store at `graph` with `extra` as its additional image store (as storage.conf would say).
fn with_additional(graph: &Tree, extra: &Tree, runroot: Option<&Path>) -> Store {
    Store::at(&Location {
        graphroot: graph.root.clone(),
        runroot: runroot.map(Path::to_path_buf),
        driver: graph.driver.clone(),
        additional_image_stores: vec![extra.root.clone()],
    })
    .unwrap()
}

fn read_all(dir: &Dir, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    dir.file(name).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn an_image_s_top_layer_is_its_record_s_layer() {
    let t = Tree::new();
    let (img, bare, top) = (hex64('1'), hex64('2'), hex64('e'));
    t.image(&ImageFixture::new(&img).layer(&top));
    t.image(&ImageFixture::new(&bare));
    let s = t.open();
    assert_eq!(s.top_layer(&img, soon()).unwrap(), Some(top));
    assert_eq!(s.top_layer(&bare, soon()).unwrap(), None);
    assert!(matches!(
        s.top_layer(&hex64('3'), soon()),
        Err(StorageError::UnknownImage(_))
    ));
    for bad in ["", "../x", &hex64('A'), &hex64('g'), &"1".repeat(63)] {
        assert!(
            matches!(s.top_layer(bad, soon()), Err(StorageError::Image { .. })),
            "{bad}"
        );
    }
    // `"layer":null` reads as no layer, as Go decodes it.
    t.write_images_json(&format!(r#"[{{"id":"{img}","layer":null}}]"#));
    assert_eq!(s.top_layer(&img, soon()).unwrap(), None);
    t.write_images_json(&format!(r#"[{{"id":"{img}","layer":5}}]"#));
    assert!(matches!(
        s.top_layer(&img, soon()),
        Err(StorageError::Parse { .. })
    ));
}

#[test]
fn a_top_layer_is_found_in_an_additional_image_store_after_the_graph_root() {
    let (graph, extra) = (Tree::new(), Tree::new());
    let (here, there) = (hex64('1'), hex64('2'));
    graph.image(&ImageFixture::new(&here).layer(&hex64('a')));
    extra.image(&ImageFixture::new(&here).layer(&hex64('b')));
    extra.image(&ImageFixture::new(&there).layer(&hex64('c')));
    let s = with_additional(&graph, &extra, None);
    assert_eq!(s.top_layer(&here, soon()).unwrap(), Some(hex64('a')));
    assert_eq!(s.top_layer(&there, soon()).unwrap(), Some(hex64('c')));
}

#[test]
fn a_layer_s_parent_comes_from_layers_json_and_the_volatile_file_wins() {
    let t = Tree::new();
    let (base, child, vol) = (hex64('a'), hex64('b'), hex64('c'));
    t.layer(&LayerFixture::new(&base));
    t.layer(&LayerFixture::new(&child).parent(&base));
    let s = t.open();
    assert_eq!(s.layer_parent(&base, soon()).unwrap(), None);
    assert_eq!(s.layer_parent(&child, soon()).unwrap(), Some(base.clone()));
    // A volatile layer, and a volatile record of a layer that layers.json also has: containers/
    // storage loads the volatile file last.
    t.layer(&LayerFixture::new(&vol).parent(&child).volatile());
    t.layer(&LayerFixture::new(&child).volatile());
    assert_eq!(s.layer_parent(&vol, soon()).unwrap(), Some(child.clone()));
    assert_eq!(s.layer_parent(&child, soon()).unwrap(), None);
    assert!(matches!(
        s.layer_parent(&hex64('d'), soon()),
        Err(StorageError::UnknownLayer(_))
    ));
}

#[test]
fn a_null_or_absent_parent_is_a_base_layer_in_any_layout() {
    let t = Tree::new();
    let (a, b, c) = (hex64('a'), hex64('b'), hex64('c'));
    // Not `{"id":` first: the whole file is parsed.
    t.write_layers_json(
        "layers.json",
        &format!(
            r#"[ {{"parent":null,"id":"{a}"}}, {{"names":["x"],"id":"{b}","parent":"{a}"}}, {{"id":"{c}","parent":null}} ]"#
        ),
    );
    let s = t.open();
    assert_eq!(s.layer_parent(&a, soon()).unwrap(), None);
    assert_eq!(s.layer_parent(&b, soon()).unwrap(), Some(a.clone()));
    assert_eq!(s.layer_parent(&c, soon()).unwrap(), None);
}

#[test]
fn missing_corrupt_or_bad_layer_records_are_errors() {
    let t = Tree::new();
    let a = hex64('a');
    let s = t.open();
    // No layers.json at all: the layer is unknown.
    assert!(matches!(
        s.layer_parent(&a, soon()),
        Err(StorageError::UnknownLayer(_))
    ));
    // No layer directory at all.
    std::fs::remove_dir_all(t.layers_dir()).unwrap();
    assert!(matches!(
        s.layer_parent(&a, soon()),
        Err(StorageError::UnknownLayer(_))
    ));
    for bad in ["", "{", "{}", r#"[{"id":1}]"#, r#"[{"id":"x","parent":5}]"#] {
        t.write_layers_json("layers.json", bad);
        assert!(
            matches!(s.layer_parent(&a, soon()), Err(StorageError::Parse { .. })),
            "{bad}"
        );
    }
    t.write_layers_json("layers.json", "[]");
    for bad in ["", "..", "../../etc", &hex64('A'), &"a".repeat(65), "a/b"] {
        assert!(
            matches!(s.layer_parent(bad, soon()), Err(StorageError::Layer { .. })),
            "{bad}"
        );
    }
    // A symlinked layers.json is not followed.
    let outside = t.root.join("outside.json");
    std::fs::write(&outside, format!(r#"[{{"id":"{a}"}}]"#)).unwrap();
    std::fs::remove_file(t.layers_dir().join("layers.json")).unwrap();
    std::os::unix::fs::symlink(&outside, t.layers_dir().join("layers.json")).unwrap();
    let err = s.layer_parent(&a, soon()).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn a_transient_store_s_volatile_layers_are_in_the_run_root() {
    let (graph, run) = (Tree::new(), Tree::new());
    let (base, vol) = (hex64('a'), hex64('b'));
    graph.layer(&LayerFixture::new(&base));
    run.layer(&LayerFixture::new(&vol).parent(&base).volatile());
    let s = Store::open(&graph.root, Some(&run.root), "vfs", false).unwrap();
    assert_eq!(s.layer_parent(&vol, soon()).unwrap(), Some(base.clone()));
    // A run root's layers.json is not a layer store.
    let other = hex64('c');
    run.layer(&LayerFixture::new(&other));
    assert!(matches!(
        s.layer_parent(&other, soon()),
        Err(StorageError::UnknownLayer(_))
    ));
}

#[test]
fn layers_of_additional_image_stores_are_searched_after_the_graph_root() {
    let (graph, extra) = (Tree::new(), Tree::new());
    let (a, b) = (hex64('a'), hex64('b'));
    graph.layer(&LayerFixture::new(&a));
    extra.layer(&LayerFixture::new(&a).parent(&b));
    extra.layer(&LayerFixture::new(&b).file("f", b"from the extra store"));
    let s = with_additional(&graph, &extra, None);
    assert_eq!(s.layer_parent(&a, soon()).unwrap(), None);
    assert_eq!(s.layer_parent(&b, soon()).unwrap(), None);
    let dir = s.layer_dir(&b).unwrap().unwrap();
    assert_eq!(read_all(&dir, "f"), b"from the extra store");
    assert_eq!(dir.path(), extra.layer_path(&b));
}

#[test]
fn images_are_found_by_their_top_layer() {
    let (graph, extra) = (Tree::new(), Tree::new());
    let (a, b, c, d) = (hex64('1'), hex64('2'), hex64('3'), hex64('4'));
    let (top, other) = (hex64('e'), hex64('f'));
    graph.image(
        &ImageFixture::new(&a)
            .names(&["example.com/a:1"])
            .layer(&top),
    );
    graph.image(&ImageFixture::new(&b).layer(&other));
    graph.image(&ImageFixture::new(&c).layer(&top));
    extra.image(
        &ImageFixture::new(&d)
            .names(&["example.com/d:1"])
            .layer(&top),
    );
    // The graph root's record of `b` shadows the additional store's.
    extra.image(&ImageFixture::new(&b).layer(&top));
    let s = with_additional(&graph, &extra, None);
    let got = s.images_with_top_layer(&top, soon()).unwrap();
    assert_eq!(
        got,
        [
            ImageSummary {
                id: a,
                names: vec!["example.com/a:1".into()]
            },
            ImageSummary {
                id: c,
                names: vec![]
            },
            ImageSummary {
                id: d,
                names: vec!["example.com/d:1".into()]
            },
        ]
    );
    assert_eq!(s.images_with_top_layer(&hex64('9'), soon()).unwrap(), []);
    assert!(s.images_with_top_layer("../e", soon()).is_err());
}

#[test]
fn a_layer_directory_is_the_driver_s_and_opened_without_symlinks() {
    let t = Tree::with_driver("overlay");
    let a = hex64('a');
    let path = t.layer(&LayerFixture::new(&a).file("catatonit", b"\x7fELF"));
    assert_eq!(path, t.root.join("overlay").join(&a).join("diff"));
    let s = t.open();
    let dir = s.layer_dir(&a).unwrap().unwrap();
    assert_eq!(read_all(&dir, "catatonit"), b"\x7fELF");

    let v = Tree::new();
    let path = v.layer(&LayerFixture::new(&a).file("x", b"vfs"));
    assert_eq!(path, v.root.join("vfs/dir").join(&a));
    assert_eq!(
        read_all(&v.open().layer_dir(&a).unwrap().unwrap(), "x"),
        b"vfs"
    );

    let b = Tree::with_driver("btrfs");
    assert!(b.open().layer_dir(&a).unwrap().is_none());

    // A missing layer directory is an error, and so is a bad ID, whatever the driver.
    let err = s.layer_dir(&hex64('b')).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
    for bad in ["", "..", "../x", &hex64('A'), "l", &format!("{a}/..")] {
        assert!(
            matches!(s.layer_dir(bad), Err(StorageError::Layer { .. })),
            "{bad}"
        );
        assert!(b.open().layer_dir(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_symlinked_layer_directory_is_refused() {
    let t = Tree::with_driver("overlay");
    let (a, b, c) = (hex64('a'), hex64('b'), hex64('c'));
    let real = t.layer(&LayerFixture::new(&a).file("catatonit", b"x"));
    // `diff` a symlink to another layer's directory.
    std::fs::create_dir_all(t.root.join("overlay").join(&b)).unwrap();
    std::os::unix::fs::symlink(&real, t.layer_path(&b)).unwrap();
    // `<id>` itself a symlink.
    std::os::unix::fs::symlink(
        t.root.join("overlay").join(&a),
        t.root.join("overlay").join(&c),
    )
    .unwrap();
    let s = t.open();
    // O_NOFOLLOW with O_DIRECTORY fails on a symlink with ENOTDIR.
    for id in [&b, &c] {
        let err = s.layer_dir(id).unwrap_err();
        assert!(
            matches!(&err, StorageError::Read { source, .. } if source.raw_os_error() == Some(libc::ENOTDIR)),
            "{id}: {err}"
        );
    }
    // The driver's own directory a symlink.
    let v = Tree::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(elsewhere.path().join("dir").join(&a)).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), v.root.join("vfs")).unwrap();
    assert!(v.open().layer_dir(&a).is_err());
}

#[test]
fn a_single_layer_image_gives_its_layer_directory() {
    let t = Tree::with_driver("overlay");
    let (single, stacked, bare) = (hex64('1'), hex64('2'), hex64('3'));
    let (base, top) = (hex64('a'), hex64('b'));
    t.layer(&LayerFixture::new(&base).file("catatonit", b"pause"));
    t.layer(&LayerFixture::new(&top).parent(&base));
    t.image(&ImageFixture::new(&single).layer(&base));
    t.image(&ImageFixture::new(&stacked).layer(&top));
    t.image(&ImageFixture::new(&bare));
    let s = t.open();
    let dir = s.single_layer(&single, soon()).unwrap().unwrap();
    assert_eq!(read_all(&dir, "catatonit"), b"pause");
    assert!(s.single_layer(&stacked, soon()).unwrap().is_none());
    assert!(s.single_layer(&bare, soon()).unwrap().is_none());
    // A top layer missing from layers.json is an error, not a single layer.
    let lost = hex64('4');
    t.image(&ImageFixture::new(&lost).layer(&hex64('c')));
    assert!(matches!(
        s.single_layer(&lost, soon()),
        Err(StorageError::UnknownLayer(_))
    ));
    // A top layer that is not a layer ID.
    t.write_images_json(&format!(r#"[{{"id":"{single}","layer":"../../etc"}}]"#));
    assert!(matches!(
        s.single_layer(&single, soon()),
        Err(StorageError::Layer { .. })
    ));
}

#[test]
fn the_container_of_a_layer_is_found_in_either_container_file() {
    let t = Tree::with_driver("overlay");
    let (ctr, work, scratch) = (hex64('a'), hex64('b'), hex64('c'));
    let (l1, l2, l3) = (hex64('1'), hex64('2'), hex64('3'));
    let img = hex64('9');
    t.container(
        &ContainerFixture::new(&ctr, &img)
            .layer(&l1)
            .created_from("example.com/a:1"),
    );
    // buildah working containers: volatile, no metadata; `FROM scratch` has no image.
    t.container(&ContainerFixture::new(&work, &img).layer(&l2).volatile());
    t.container(&ContainerFixture::new(&scratch, "").layer(&l3).volatile());
    let s = t.store(&ctr);
    let c = s.container_by_layer(&l1, soon()).unwrap().unwrap();
    assert_eq!(
        (c.id, c.image_id, c.layer, c.image_name.as_deref()),
        (
            ctr.clone(),
            img.clone(),
            l1.clone(),
            Some("example.com/a:1")
        )
    );
    let c = s.container_by_layer(&l2, soon()).unwrap().unwrap();
    assert_eq!((c.id, c.image_id), (work.clone(), img.clone()));
    let c = s.container_by_layer(&l3, soon()).unwrap().unwrap();
    assert_eq!((c.id, c.image_id.as_str()), (scratch.clone(), ""));
    assert_eq!(s.container_by_layer(&hex64('4'), soon()).unwrap(), None);
    for bad in ["", "../x", &hex64('G')] {
        assert!(s.container_by_layer(bad, soon()).is_err(), "{bad}");
    }
}

#[test]
fn a_container_of_a_layer_is_read_as_containers_storage_1_43_wrote_it() {
    // Storage 1.43 kept working containers in containers.json with a `Volatile` flag; records
    // are as buildah 1.28 left them (no metadata, `"image":""` for `FROM scratch`).
    let t = Tree::with_driver("overlay");
    let (a, b, la, lb) = (hex64('a'), hex64('b'), hex64('1'), hex64('2'));
    t.write_containers_json(
        "containers.json",
        &format!(
            r#"[{{"id":"{a}","names":["working-container"],"image":"","layer":"{la}","created":"2026-11-30T00:57:02.767969453Z","flags":{{"MountLabel":"","ProcessLabel":"","Volatile":true}}}},{{"id":"{b}","names":["1714baebc44c-working-container"],"image":"{}","layer":"{lb}","metadata":null,"created":"2026-11-30T00:57:03.070531164Z","flags":{{"MountLabel":"","ProcessLabel":"","Volatile":true}}}}]"#,
            hex64('9')
        ),
    );
    let s = t.store(&a);
    let c = s.container_by_layer(&la, soon()).unwrap().unwrap();
    assert_eq!(
        (c.id, c.names, c.image_id),
        (a, vec!["working-container".into()], String::new())
    );
    let c = s.container_by_layer(&lb, soon()).unwrap().unwrap();
    assert_eq!((c.id, c.image_id), (b, hex64('9')));
    // A later record for the same layer wins, as containers/storage loads the file.
    t.write_containers_json(
        "volatile-containers.json",
        &format!(r#"[{{"id":"{}","image":"","layer":"{la}"}}]"#, hex64('e')),
    );
    assert_eq!(
        s.container_by_layer(&la, soon()).unwrap().unwrap().id,
        hex64('e')
    );
    t.write_containers_json("volatile-containers.json", r#"[{"id":"x","layer":5}]"#);
    assert!(matches!(
        s.container_by_layer(&la, soon()),
        Err(StorageError::Parse { .. })
    ));
}

#[test]
fn buildah_state_says_what_a_working_container_was_made_from() {
    let t = Tree::with_driver("overlay");
    let (cid, img) = (hex64('c'), hex64('1'));
    let c = {
        t.container(
            &ContainerFixture::new(&cid, &img)
                .layer(&hex64('e'))
                .volatile(),
        );
        t.store(&cid).container(&cid, soon()).unwrap()
    };
    let s = t.store(&cid);
    // No state file: not a buildah container.
    assert_eq!(s.buildah_state(&c).unwrap(), None);

    t.buildah_json(
        &cid,
        buildah_json("127.0.0.1:5000/lab/signed:v1", &img).as_bytes(),
    );
    assert_eq!(
        s.buildah_state(&c).unwrap(),
        Some(BuildahState {
            from_image: Some("127.0.0.1:5000/lab/signed:v1".into()),
            from_image_id: Some(img.clone()),
        })
    );
    // A later RUN step of the same stage: an unnamed intermediate image, named by its short ID.
    t.buildah_json(&cid, buildah_json(&img[..12], &img).as_bytes());
    assert_eq!(
        s.buildah_state(&c).unwrap().unwrap().from_image.as_deref(),
        Some(&img[..12])
    );
    // FROM scratch, as buildah 1.28 wrote it: no `image`, an empty `image-id`.
    t.buildah_json(
        &cid,
        br#"{"type":"buildah 0.0.1","image-id":"","image-digest":"","container-name":"working-container","TopLayer":"","AppendedEmptyLayers":null}"#,
    );
    assert_eq!(
        s.buildah_state(&c).unwrap(),
        Some(BuildahState {
            from_image: None,
            from_image_id: None
        })
    );
    t.buildah_json(
        &cid,
        br#"{"type":"buildah 0.0.1","image":null,"image-id":null}"#,
    );
    assert_eq!(s.buildah_state(&c).unwrap().unwrap().from_image_id, None);
    // Another type, or none: not buildah's.
    for other in [
        br#"{"type":"buildahx","image":"a","image-id":"b"}"#.as_slice(),
        br#"{"image":"a","image-id":"b"}"#,
        br#"{"type":"podman 4.3","image":"a"}"#,
    ] {
        t.buildah_json(&cid, other);
        assert_eq!(s.buildah_state(&c).unwrap(), None);
    }
}

#[test]
fn a_hostile_buildah_state_file_is_refused() {
    let t = Tree::with_driver("overlay");
    let (cid, img) = (hex64('c'), hex64('1'));
    t.container(&ContainerFixture::new(&cid, &img).volatile());
    let s = t.store(&cid);
    let c = s.container(&cid, soon()).unwrap();
    let good = buildah_json("example.com/a:1", &img);

    // Too large, even though it parses: at most 4 MiB is read.
    let mut big = good.clone().into_bytes();
    big.pop();
    big.extend(format!(r#","pad":"{}"}}"#, "x".repeat(4 << 20)).bytes());
    let path = t.buildah_json(&cid, &big);
    let err = s.buildah_state(&c).unwrap_err().to_string();
    assert!(err.contains("limit"), "{err}");

    // A symlink to a good file elsewhere.
    let outside = t.root.join("buildah.json");
    std::fs::write(&outside, &good).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let err = s.buildah_state(&c).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    std::fs::remove_file(&path).unwrap();

    // A directory, a FIFO (which must not stall the open), garbage, wrong types, duplicates.
    std::fs::create_dir(&path).unwrap();
    assert!(s.buildah_state(&c).is_err());
    std::fs::remove_dir(&path).unwrap();
    let fifo = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
    assert_eq!(r, 0);
    assert!(s.buildah_state(&c).is_err());
    std::fs::remove_file(&path).unwrap();
    for bad in [
        "",
        "{",
        "[]",
        r#"["buildah 0.0.1","a","b"]"#,
        r#"{"type":"buildah 0.0.1","image":5}"#,
        r#"{"type":"buildah 0.0.1","image-id":["x"]}"#,
        r#"{"type":"buildah 0.0.1","image":"a","image":"b"}"#,
    ] {
        t.buildah_json(&cid, bad.as_bytes());
        assert!(
            matches!(s.buildah_state(&c), Err(StorageError::Parse { .. })),
            "{bad}"
        );
    }

    // The userdata directory a symlink to another container's.
    let other = hex64('d');
    t.buildah_json(&other, good.as_bytes());
    let userdata = t.containers_dir().join(&cid).join("userdata");
    std::fs::remove_dir_all(&userdata).unwrap();
    std::os::unix::fs::symlink(t.containers_dir().join(&other).join("userdata"), &userdata)
        .unwrap();
    assert!(s.buildah_state(&c).is_err());

    // A container ID that is not one path component.
    for id in ["..", "../d", ""] {
        let hostile = Container {
            id: id.into(),
            ..c.clone()
        };
        assert!(s.buildah_state(&hostile).is_err(), "{id}");
    }
}
