//! Location resolution, table-driven: explicit settings win, a rootless user with the system's
//! storage.conf uses `rootless_storage_path`, the driver is detected in containers/storage's
//! manner and an invalid one is refused; a bundle path names its store.
//! Ref: containers/storage `types/options.go`, `drivers/driver.go`.

use std::path::{Path, PathBuf};

use super::*;

fn root_user() -> Invoker {
    Invoker {
        rootless_uid: None,
        home: Some("/root".into()),
        in_user_namespace: false,
    }
}

fn rootless_user() -> Invoker {
    Invoker {
        rootless_uid: Some(1000),
        home: Some("/home/alice".into()),
        in_user_namespace: true,
    }
}

/// A storage.conf with both roots and a driver set.
fn conf(system: bool) -> StorageConf {
    StorageConf {
        driver: Some("vfs".into()),
        graphroot: Some("/conf/graph".into()),
        runroot: Some("/conf/run".into()),
        additional_image_stores: vec!["/ro/one".into(), "/ro/two".into()],
        rootless_storage_path: Some("$HOME/.store-$UID".into()),
        path: Some("/etc/containers/storage.conf".into()),
        system,
    }
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

/// One row of a resolution table: what is given, and the location expected.
struct Roots {
    case: &'static str,
    overrides: Overrides<'static>,
    who: Invoker,
    conf: StorageConf,
    graphroot: PathBuf,
    runroot: Option<PathBuf>,
}

#[test]
fn roots_come_from_flags_then_storage_conf_then_the_defaults() {
    let (rootless_run, rootless_graph) = default_roots(true);
    let flags = Overrides {
        graphroot: Some(Path::new("/flag/graph")),
        runroot: Some(Path::new("/flag/run")),
        driver: None,
    };
    let no_roots = StorageConf {
        graphroot: None,
        runroot: None,
        rootless_storage_path: None,
        ..conf(true)
    };
    let mut cases = vec![
        Roots {
            case: "flags win",
            overrides: flags,
            who: root_user(),
            conf: conf(true),
            graphroot: p("/flag/graph"),
            runroot: Some(p("/flag/run")),
        },
        Roots {
            case: "flags win for a rootless user too",
            overrides: flags,
            who: rootless_user(),
            conf: conf(true),
            graphroot: p("/flag/graph"),
            runroot: Some(p("/flag/run")),
        },
        Roots {
            case: "root uses the system file's roots",
            overrides: Overrides::default(),
            who: root_user(),
            conf: conf(true),
            graphroot: p("/conf/graph"),
            runroot: Some(p("/conf/run")),
        },
        Roots {
            case: "rootless with the system file: rootless_storage_path with $HOME and $UID",
            overrides: Overrides::default(),
            who: rootless_user(),
            conf: conf(true),
            graphroot: p("/home/alice/.store-1000"),
            runroot: rootless_run.clone(),
        },
        Roots {
            case: "rootless with the system file and a run root flag",
            overrides: Overrides {
                runroot: Some(Path::new("/flag/run")),
                ..Overrides::default()
            },
            who: rootless_user(),
            conf: conf(true),
            graphroot: p("/home/alice/.store-1000"),
            runroot: Some(p("/flag/run")),
        },
        Roots {
            case: "rootless with its own file uses that file's roots",
            overrides: Overrides::default(),
            who: rootless_user(),
            conf: conf(false),
            graphroot: p("/conf/graph"),
            runroot: Some(p("/conf/run")),
        },
        Roots {
            case: "root without configured roots: the built-in ones",
            overrides: Overrides::default(),
            who: root_user(),
            conf: no_roots.clone(),
            graphroot: p("/var/lib/containers/storage"),
            runroot: Some(p("/run/containers/storage")),
        },
    ];
    // The rootless defaults come from the environment; without HOME there is none to compare.
    if let Some(graph) = rootless_graph {
        cases.push(Roots {
            case: "rootless with the system file and no rootless_storage_path: the defaults",
            overrides: Overrides::default(),
            who: rootless_user(),
            conf: no_roots,
            graphroot: graph,
            runroot: rootless_run,
        });
    }
    for c in cases {
        // The driver is given: the built-in roots may hold stores on this host.
        let overrides = Overrides {
            driver: Some("btrfs"),
            ..c.overrides
        };
        let got =
            resolve(&overrides, &c.who, &c.conf).unwrap_or_else(|e| panic!("{}: {e}", c.case));
        assert_eq!(
            got,
            Location {
                graphroot: c.graphroot,
                runroot: c.runroot,
                driver: "btrfs".into(),
                additional_image_stores: vec![p("/ro/one"), p("/ro/two")],
            },
            "{}",
            c.case
        );
    }
}

/// One row of a driver table: the stores in the graph root, `--storage-driver`, storage.conf's
/// driver, and the driver expected.
struct Driver {
    case: &'static str,
    stores: &'static [&'static str],
    flag: Option<&'static str>,
    configured: Option<&'static str>,
    want: &'static str,
}

#[test]
fn the_driver_is_the_given_or_configured_one_else_one_with_a_store() {
    let row = |case, stores, flag, configured, want| Driver {
        case,
        stores,
        flag,
        configured,
        want,
    };
    let cases = [
        row(
            "the flag, store or not",
            &["vfs"],
            Some("zfs"),
            Some("vfs"),
            "zfs",
        ),
        row(
            "configured, with a store",
            &["overlay", "btrfs"],
            None,
            Some("btrfs"),
            "btrfs",
        ),
        row(
            "configured without a store: one that has",
            &["vfs"],
            None,
            Some("btrfs"),
            "vfs",
        ),
        row(
            "overlay before vfs",
            &["vfs", "overlay"],
            None,
            None,
            "overlay",
        ),
        row("vfs before btrfs", &["btrfs", "vfs"], None, None, "vfs"),
        row("btrfs before zfs", &["zfs", "btrfs"], None, None, "btrfs"),
        row("zfs before aufs", &["aufs", "zfs"], None, None, "zfs"),
        row(
            "aufs before devmapper",
            &["devmapper", "aufs"],
            None,
            None,
            "aufs",
        ),
        row(
            "no store: the configured one",
            &[],
            None,
            Some("zfs"),
            "zfs",
        ),
        row(
            "no store and none configured: overlay",
            &["other"],
            None,
            None,
            "overlay",
        ),
    ];
    for c in cases {
        let graph = tempfile::tempdir().unwrap();
        for d in c.stores {
            std::fs::create_dir(graph.path().join(format!("{d}-images"))).unwrap();
        }
        let overrides = Overrides {
            graphroot: Some(graph.path()),
            runroot: None,
            driver: c.flag,
        };
        let conf = StorageConf {
            driver: c.configured.map(String::from),
            ..StorageConf::default()
        };
        let got =
            resolve(&overrides, &root_user(), &conf).unwrap_or_else(|e| panic!("{}: {e}", c.case));
        assert_eq!(got.driver, c.want, "{}", c.case);
    }
}

#[test]
fn an_invalid_driver_name_is_refused() {
    let graph = tempfile::tempdir().unwrap();
    for (flag, configured) in [
        (Some(""), None),
        (Some("a/b"), None),
        (Some(".hidden"), None),
        (Some(".."), Some("vfs")),
        (None, Some("../x")),
        (None, Some("x/y")),
    ] {
        let overrides = Overrides {
            graphroot: Some(graph.path()),
            runroot: None,
            driver: flag,
        };
        let conf = StorageConf {
            driver: configured.map(String::from),
            ..StorageConf::default()
        };
        let name = flag.or(configured).unwrap_or_default();
        assert_eq!(
            resolve(&overrides, &root_user(), &conf),
            Err(format!("invalid storage driver {name:?}")),
            "{flag:?} {configured:?}"
        );
    }
}

#[test]
fn a_run_root_bundle_takes_the_graph_root_storage_conf_pairs_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (run, graph) = (dir.path().join("run"), dir.path().join("graph"));
    std::fs::create_dir_all(graph.join("vfs-images")).unwrap();
    let cid = "c".repeat(64);
    let bundle = run.join(format!("vfs-containers/{cid}/userdata"));
    std::fs::create_dir_all(&bundle).unwrap();
    let conf = StorageConf {
        graphroot: Some(graph.clone()),
        runroot: Some(run.clone()),
        additional_image_stores: vec![p("/ro")],
        path: Some(p("/etc/containers/storage.conf")),
        ..StorageConf::default()
    };
    let found = of_bundle(&bundle, &cid, false, || Ok(conf.clone())).unwrap();
    assert_eq!(
        found,
        BundleLocation {
            id: cid.clone(),
            graphroot: graph.clone(),
            driver: "vfs".into(),
            containers_dir: run.join("vfs-containers"),
            conf: Some(conf.clone()),
        }
    );
    assert_eq!(
        found.container_dirs(),
        vec![run.join("vfs-containers"), graph.join("vfs-containers")]
    );

    // A bundle in a graph root does not read storage.conf, and has one containers directory.
    let in_graph = graph.join(format!("vfs-containers/{cid}/userdata"));
    std::fs::create_dir_all(&in_graph).unwrap();
    let found = of_bundle(&in_graph, &cid, false, || Err("not needed".into())).unwrap();
    assert_eq!(
        (found.graphroot.as_path(), found.conf),
        (graph.as_path(), None)
    );

    // A run root storage.conf does not name is not guessed at.
    let elsewhere = StorageConf {
        runroot: Some(dir.path().join("other")),
        ..conf
    };
    let err = of_bundle(&bundle, &cid, false, || Ok(elsewhere))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "bundle {bundle:?} is in neither a graph root nor the run root of \"/etc/containers/storage.conf\" ({:?})",
            dir.path().join("other")
        )
    );
    let err = of_bundle(&bundle, &cid, false, || Err("cannot read it".into()))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "cannot read it");
}
