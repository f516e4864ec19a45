//! The bundle's root and the layer mounted there, from mountinfo text captured during real
//! `podman build` RUN steps (podman 4.3, buildah 1.28, runc, kernel 6.x; overlay and vfs, with
//! and without a space in the paths) and from hand-written hostile variants.

use std::path::{Path, PathBuf};

use super::*;

const LAYER: &str = "efcc2b08fc688b756ad97ad46061f28752cf88d8231eed412f831d0fbae35724";

/// Captured in the hook of a RUN step with the overlay driver; the host's unrelated mounts and
/// the container's own mount of its layer (`…/merged`) come before the bundle's bind of it.
const OVERLAY: &str = r"72 71 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
74 72 0:21 / /proc rw,relatime - proc proc rw
75 72 0:22 / /sys rw,relatime - sysfs sysfs rw
76 75 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
86 76 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
87 72 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
88 87 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
90 87 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
92 72 254:0 /tmp/osh-lab.main/root/overlay /tmp/osh-lab.main/root/overlay rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
93 92 0:39 / /tmp/osh-lab.main/root/overlay/111730cecad69c73b17099ddd244762bd1a3ba2e222ac69c658fef03541a2ecd/merged rw,relatime - overlay overlay rw,lowerdir=/tmp/osh-lab.main/root/overlay/111730cecad69c73b17099ddd244762bd1a3ba2e222ac69c658fef03541a2ecd/empty,upperdir=/tmp/osh-lab.main/root/overlay/111730cecad69c73b17099ddd244762bd1a3ba2e222ac69c658fef03541a2ecd/diff,workdir=/tmp/osh-lab.main/root/overlay/111730cecad69c73b17099ddd244762bd1a3ba2e222ac69c658fef03541a2ecd/work,uuid=on,fsync=volatile
94 92 0:41 / /tmp/osh-lab.main/root/overlay/efcc2b08fc688b756ad97ad46061f28752cf88d8231eed412f831d0fbae35724/merged rw,relatime - overlay overlay rw,lowerdir=/tmp/osh-lab.main/root/overlay/l/2NMNZBJK7BAXC5524JVMCCIGU5,upperdir=/tmp/osh-lab.main/root/overlay/efcc2b08fc688b756ad97ad46061f28752cf88d8231eed412f831d0fbae35724/diff,workdir=/tmp/osh-lab.main/root/overlay/efcc2b08fc688b756ad97ad46061f28752cf88d8231eed412f831d0fbae35724/work,uuid=on,fsync=volatile
95 72 254:0 /tmp/osh-lab.main/tmp/buildah1597763440/mnt /tmp/osh-lab.main/tmp/buildah1597763440/mnt rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
96 95 0:41 / /tmp/osh-lab.main/tmp/buildah1597763440/mnt/rootfs rw,relatime - overlay overlay rw,lowerdir=/tmp/osh-lab.main/root/overlay/l/2NMNZBJK7BAXC5524JVMCCIGU5,upperdir=/tmp/osh-lab.main/root/overlay/efcc2b08fc688b756ad97ad46061f28752cf88d8231eed412f831d0fbae35724/diff,workdir=/tmp/osh-lab.main/root/overlay/efcc2b08fc688b756ad97ad46061f28752cf88d8231eed412f831d0fbae35724/work,uuid=on,fsync=volatile
";
const OVERLAY_ROOT: &str = "/tmp/osh-lab.main/tmp/buildah1597763440/mnt/rootfs";

/// Captured with `--storage-driver vfs`: the root is a bind of the layer's directory, shown by
/// its path within the file system mounted at `/`.
const VFS: &str = r"65 42 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
66 65 0:21 / /proc rw,relatime - proc proc rw
85 65 254:0 /tmp/prims-vfs/tmp/buildah1743739914/mnt /tmp/prims-vfs/tmp/buildah1743739914/mnt rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
86 85 254:0 /tmp/prims-vfs/root/vfs/dir/47f4d32ea98e3a42cf5649a7632f70bf79f957b16d6c2f6257c75eb4c3908218 /tmp/prims-vfs/tmp/buildah1743739914/mnt/rootfs rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
";
const VFS_ROOT: &str = "/tmp/prims-vfs/tmp/buildah1743739914/mnt/rootfs";
const VFS_LAYER: &str = "47f4d32ea98e3a42cf5649a7632f70bf79f957b16d6c2f6257c75eb4c3908218";

/// Captured with TMPDIR="/tmp/prims-vfs/tmp/with space" (vfs).
const VFS_SPACE: &str = r"65 42 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
85 65 254:0 /tmp/prims-vfs/tmp/with\040space/buildah3561713966/mnt /tmp/prims-vfs/tmp/with\040space/buildah3561713966/mnt rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
86 85 254:0 /tmp/prims-vfs/root/vfs/dir/46e7f77bad7b3407b2fe5595fade6571e5c262815c1e847ea42212d7fe548c9b /tmp/prims-vfs/tmp/with\040space/buildah3561713966/mnt/rootfs rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
";

/// Captured with --root "/tmp/prims-ovl sp/root" and TMPDIR="/tmp/prims-ovl sp/tmp" (overlay).
const OVERLAY_SPACE: &str = r"69 68 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
89 69 254:0 /tmp/prims-ovl\040sp/root/overlay /tmp/prims-ovl\040sp/root/overlay rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
90 89 0:39 / /tmp/prims-ovl\040sp/root/overlay/6428d5cbb887a0d6f865b5aade5f3b4dd9b2d527bc709ae9070d39db2f818c29/merged rw,relatime - overlay overlay rw,lowerdir=/tmp/prims-ovl\040sp/root/overlay/l/K4C6ONU6QYPZYOHVARIEOMBC37,upperdir=/tmp/prims-ovl\040sp/root/overlay/6428d5cbb887a0d6f865b5aade5f3b4dd9b2d527bc709ae9070d39db2f818c29/diff,workdir=/tmp/prims-ovl\040sp/root/overlay/6428d5cbb887a0d6f865b5aade5f3b4dd9b2d527bc709ae9070d39db2f818c29/work,uuid=on,fsync=volatile
91 69 254:0 /tmp/prims-ovl\040sp/tmp/buildah887284413/mnt /tmp/prims-ovl\040sp/tmp/buildah887284413/mnt rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
92 91 0:39 / /tmp/prims-ovl\040sp/tmp/buildah887284413/mnt/rootfs rw,relatime - overlay overlay rw,lowerdir=/tmp/prims-ovl\040sp/root/overlay/l/K4C6ONU6QYPZYOHVARIEOMBC37,upperdir=/tmp/prims-ovl\040sp/root/overlay/6428d5cbb887a0d6f865b5aade5f3b4dd9b2d527bc709ae9070d39db2f818c29/diff,workdir=/tmp/prims-ovl\040sp/root/overlay/6428d5cbb887a0d6f865b5aade5f3b4dd9b2d527bc709ae9070d39db2f818c29/work,uuid=on,fsync=volatile
";

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// An overlay mount at `at` with `options` as its super options.
fn overlay_at(id: u32, at: &str, options: &str) -> String {
    format!("{id} 95 0:50 / {at} rw,relatime shared:7 - overlay overlay {options}\n")
}

fn upper(graphroot: &str, layer: &str) -> String {
    format!("rw,lowerdir={graphroot}/overlay/l/ABC,upperdir={graphroot}/overlay/{layer}/diff,workdir={graphroot}/overlay/{layer}/work")
}

/// What `working_layer` gives: `(graph root, driver, layer ID)`, or nothing.
type Found = Option<(PathBuf, String, String)>;

fn found(graphroot: &str, driver: &str, layer: &str) -> Found {
    Some((graphroot.into(), driver.into(), layer.into()))
}

#[test]
fn real_captures_give_the_store_and_the_working_container_s_layer() {
    let cases: &[(&str, &str, Found)] = &[
        (
            OVERLAY,
            OVERLAY_ROOT,
            found("/tmp/osh-lab.main/root", "overlay", LAYER),
        ),
        (
            VFS,
            VFS_ROOT,
            found("/tmp/prims-vfs/root", "vfs", VFS_LAYER),
        ),
        (
            VFS_SPACE,
            "/tmp/prims-vfs/tmp/with space/buildah3561713966/mnt/rootfs",
            found(
                "/tmp/prims-vfs/root",
                "vfs",
                "46e7f77bad7b3407b2fe5595fade6571e5c262815c1e847ea42212d7fe548c9b",
            ),
        ),
        (
            OVERLAY_SPACE,
            "/tmp/prims-ovl sp/tmp/buildah887284413/mnt/rootfs",
            found(
                "/tmp/prims-ovl sp/root",
                "overlay",
                "6428d5cbb887a0d6f865b5aade5f3b4dd9b2d527bc709ae9070d39db2f818c29",
            ),
        ),
        // The escaped form is not the path.
        (
            OVERLAY_SPACE,
            r"/tmp/prims-ovl\040sp/tmp/buildah887284413/mnt/rootfs",
            None,
        ),
        // The captures' other mount points are not layers.
        (OVERLAY, "/", None),
        (OVERLAY, "/proc", None),
        (OVERLAY, "/tmp/osh-lab.main/tmp/buildah1597763440/mnt", None),
        (OVERLAY, "/tmp/osh-lab.main/root/overlay", None),
        (VFS, "/tmp/prims-vfs/tmp/buildah1743739914/mnt", None),
        (
            OVERLAY,
            "/tmp/osh-lab.main/tmp/buildah1597763440/mnt/rootfs/",
            None,
        ),
        (OVERLAY, "/elsewhere", None),
        ("", OVERLAY_ROOT, None),
    ];
    for (text, root, want) in cases {
        assert_eq!(&working_layer(text, Path::new(root)), want, "{root}");
    }
    // The container's own mount of its layer is recognized too.
    assert_eq!(
        working_layer(
            OVERLAY,
            Path::new(&format!("/tmp/osh-lab.main/root/overlay/{LAYER}/merged"))
        ),
        found("/tmp/osh-lab.main/root", "overlay", LAYER)
    );
}

#[test]
fn the_last_mount_at_the_root_wins() {
    let at = "/var/tmp/buildah1/mnt/rootfs";
    let (a, b) = (hex('a'), hex('b'));
    let tmpfs = format!("200 95 0:60 / {at} rw - tmpfs tmpfs rw\n");
    let cases: Vec<(String, Found)> = vec![
        (
            overlay_at(100, at, &upper("/var/lib/containers/storage", &a))
                + &overlay_at(101, at, &upper("/var/lib/containers/storage", &b)),
            found("/var/lib/containers/storage", "overlay", &b),
        ),
        // Something else mounted on top of the layer: not a layer.
        (
            overlay_at(100, at, &upper("/var/lib/containers/storage", &a)) + &tmpfs,
            None,
        ),
        (
            tmpfs.clone() + &overlay_at(100, at, &upper("/var/lib/containers/storage", &a)),
            found("/var/lib/containers/storage", "overlay", &a),
        ),
        // A mount below the root (inside it) changes nothing.
        (
            overlay_at(100, at, &upper("/s", &a))
                + &format!("201 100 0:61 / {at}/proc rw - proc proc rw\n"),
            found("/s", "overlay", &a),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(working_layer(&text, Path::new(at)), want, "{text}");
    }
}

#[test]
fn only_an_upper_directory_of_a_layer_is_a_layer() {
    let at = "/var/tmp/buildah1/mnt/rootfs";
    let a = hex('a');
    let cases: Vec<(String, Found)> = vec![
        (
            upper("/var/lib/containers/storage", &a),
            found("/var/lib/containers/storage", "overlay", &a),
        ),
        // Lookalikes.
        (format!("upperdir=/s/overlay/{a}/work"), None),
        (format!("upperdir=/s/overlay/{a}/diff/sub"), None),
        (format!("upperdir=/s/overlay/{a}/merged"), None),
        (format!("upperdir=/s/overlay/{}/diff", &a[..63]), None),
        (format!("upperdir=/s/overlay/{}/diff", hex('A')), None),
        (format!("upperdir=/s/overlay/{}x/diff", &a[..63]), None),
        (format!("upperdir=/s/overlays/{a}/diff"), None),
        (format!("upperdir=/s/vfs/dir/{a}"), None),
        (format!("upperdir=s/overlay/{a}/diff"), None),
        (format!("upperdir=/s/../overlay/{a}/diff"), None),
        (format!("upperdir=/s/./overlay/{a}/diff"), None),
        (format!("upperdir=/s//overlay/{a}/diff"), None),
        (format!("upperdir=/s/overlay/{a}/diff/"), None),
        (format!("upperdir=/overlay/{a}"), None),
        (format!("upperdir=overlay/{a}/diff"), None),
        // A graph root at `/` is odd, but it is a path.
        (
            format!("upperdir=/overlay/{a}/diff"),
            found("/", "overlay", &a),
        ),
        // No upper directory (a read-only overlay), or two.
        ("rw,lowerdir=/s/overlay/l/A:/s/overlay/l/B".into(), None),
        (
            format!("{},upperdir=/t/overlay/{a}/diff", upper("/s", &a)),
            None,
        ),
        // Escapes: a comma, a space and a backslash in the graph root; a lower directory whose
        // name mimics an upperdir option stays one option.
        (
            format!(r"rw,upperdir=/a\054b\040c\134d/overlay/{a}/diff"),
            found(r"/a,b c\d", "overlay", &a),
        ),
        (
            format!(
                r"rw,lowerdir=/x\054upperdir=/evil/overlay/{}/diff,upperdir=/s/overlay/{a}/diff",
                hex('e')
            ),
            found("/s", "overlay", &a),
        ),
        // An escape the kernel never writes.
        (format!(r"rw,upperdir=/a\9/overlay/{a}/diff"), None),
        (format!(r"rw,upperdir=/a\05/overlay/{a}/diff"), None),
        (format!(r"rw,upperdir=/a\/overlay/{a}/diff"), None),
        // A byte that was not UTF-8 (read as U+FFFD) could be anything.
        (format!("rw,upperdir=/a\u{FFFD}/overlay/{a}/diff"), None),
    ];
    for (options, want) in cases {
        let text = overlay_at(100, at, &options);
        assert_eq!(working_layer(&text, Path::new(at)), want, "{options}");
    }
}

#[test]
fn a_bind_mount_is_a_vfs_layer_through_its_file_system_s_root() {
    let at = "/var/tmp/buildah7/mnt/rootfs";
    let a = hex('a');
    let bind = |dev: &str, root: &str| {
        format!("300 299 {dev} {root} {at} rw,relatime - xfs /dev/sdb1 rw\n")
    };
    let host = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n30 1 8:17 / /var/lib/containers rw,relatime shared:2 - xfs /dev/sdb1 rw,attr2\n";
    let cases: Vec<(String, Found)> = vec![
        // The graph root on a file system of its own.
        (
            format!("{host}{}", bind("8:17", &format!("/storage/vfs/dir/{a}"))),
            found("/var/lib/containers/storage", "vfs", &a),
        ),
        // On the root file system.
        (
            format!("{host}{}", bind("8:1", &format!("/var/lib/containers/storage/vfs/dir/{a}"))),
            found("/var/lib/containers/storage", "vfs", &a),
        ),
        // No entry mounts that file system's root.
        (
            format!("{host}{}", bind("8:33", &format!("/storage/vfs/dir/{a}"))),
            None,
        ),
        // Not a vfs layer directory.
        (format!("{host}{}", bind("8:17", "/storage/other")), None),
        (
            format!("{host}{}", bind("8:17", &format!("/storage/vfs/dir/{a}/sub"))),
            None,
        ),
        (
            format!("{host}{}", bind("8:17", &format!("/storage/vfs/{a}"))),
            None,
        ),
        (
            format!("{host}{}", bind("8:17", &format!("/storage/overlay/{a}/diff"))),
            None,
        ),
        // A bind of a directory that was deleted.
        (
            format!("{host}{}", bind("8:17", &format!("/storage/vfs/dir/{a}//deleted"))),
            None,
        ),
        // A whole file system mounted there that is not an overlay.
        (format!("{host}{}", bind("8:17", "/")), None),
        // fuse-overlayfs shows no upper directory.
        (
            format!("{host}300 299 0:70 / {at} rw,nodev,noatime - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0,group_id=0,default_permissions,allow_other\n"),
            None,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(working_layer(&text, Path::new(at)), want, "{text}");
    }
}

#[test]
fn a_line_that_does_not_parse_means_nothing_can_be_said() {
    let at = "/var/tmp/buildah1/mnt/rootfs";
    let good = overlay_at(100, at, &upper("/s", &hex('a')));
    assert!(working_layer(&good, Path::new(at)).is_some());
    for bad in [
        "garbage",
        "1 2 3 4 5 6",
        "1 2 0:1 / /x rw shared:1",
        r"1 2 0:1 /\8 /x rw - ext4 /dev/x rw",
        r"1 2 0:1 / /x\04 rw - ext4 /dev/x rw",
    ] {
        let text = format!("{good}{bad}\n");
        assert_eq!(working_layer(&text, Path::new(at)), None, "{bad}");
    }
    // A root with U+FFFD never matches, even a mount point with the same text.
    let odd = "/var/tmp/\u{FFFD}/rootfs";
    let text = overlay_at(100, odd, &upper("/s", &hex('a')));
    assert_eq!(working_layer(&text, Path::new(odd)), None);
}

#[test]
fn this_process_s_mountinfo_reads_and_parses() {
    let text = read_mountinfo().unwrap();
    assert!(!text.is_empty());
    for line in text.lines() {
        assert!(Entry::parse(line).is_some(), "{line}");
    }
}

/// A bundle directory with `config` as its config.json.
fn bundle(config: &[u8]) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("buildah")
        .tempdir()
        .unwrap();
    std::fs::write(d.path().join("config.json"), config).unwrap();
    d
}

#[test]
fn the_root_path_is_config_json_s_relative_to_the_bundle() {
    let spec = |root: &str| {
        format!(
            r#"{{"ociVersion":"1.0.2-dev","process":{{"terminal":false,"user":{{"uid":0,"gid":0}},"args":["/bin/sh","-c","echo hi > /x"],"env":["PATH=/usr/sbin:/usr/bin"],"cwd":"/"}},"root":{{"path":{root}}},"hostname":"abc","mounts":[{{"destination":"/proc","type":"proc","source":"/proc"}}],"hooks":{{"prestart":[{{"path":"/usr/libexec/oci/hooks.d/oci-signature-hook"}}]}},"linux":{{"namespaces":[{{"type":"pid"}},{{"type":"mount"}}]}}}}"#
        )
    };
    let cases: &[(&str, &str)] = &[
        (r#""/tmp/b/mnt/rootfs""#, "/tmp/b/mnt/rootfs"),
        (r#""/tmp//b/./mnt/rootfs/""#, "/tmp/b/mnt/rootfs"),
        (r#""with space/r""#, "<bundle>/with space/r"),
    ];
    for (root, want) in cases {
        let d = bundle(spec(root).as_bytes());
        let want = want.replace("<bundle>", &d.path().display().to_string());
        assert_eq!(root_path(d.path()).unwrap(), PathBuf::from(want), "{root}");
    }
    let d = bundle(spec(r#""mnt/rootfs""#).as_bytes());
    assert_eq!(root_path(d.path()).unwrap(), d.path().join("mnt/rootfs"));
    let d = bundle(spec(r#""./mnt//rootfs""#).as_bytes());
    assert_eq!(root_path(d.path()).unwrap(), d.path().join("mnt/rootfs"));
}

#[test]
fn a_bad_or_hostile_config_json_is_an_error() {
    for bad in [
        "",
        "{",
        "[]",
        r#"[{"path":"/x"}]"#,
        "{}",
        r#"{"root":null}"#,
        r#"{"root":{}}"#,
        r#"{"root":{"path":""}}"#,
        r#"{"root":{"path":5}}"#,
        r#"{"root":{"path":"/a\u0000b"}}"#,
        r#"{"root":{"path":"/a"},"root":{"path":"/b"}}"#,
    ] {
        let d = bundle(bad.as_bytes());
        assert!(
            matches!(root_path(d.path()), Err(StorageError::Parse { .. })),
            "{bad}"
        );
    }
    // Too large, though it parses.
    let mut big = br#"{"root":{"path":"/r"},"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 4 << 20));
    big.extend(br#""}"#);
    let d = bundle(&big);
    let err = root_path(d.path()).unwrap_err().to_string();
    assert!(err.contains("limit"), "{err}");

    // Missing; a symlink to a good one; a directory; a FIFO, which must not stall the open.
    let d = tempfile::tempdir().unwrap();
    let err = root_path(d.path()).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
    let good = d.path().join("good.json");
    std::fs::write(&good, br#"{"root":{"path":"/r"}}"#).unwrap();
    let config = d.path().join("config.json");
    std::os::unix::fs::symlink(&good, &config).unwrap();
    let err = root_path(d.path()).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    std::fs::remove_file(&config).unwrap();
    std::fs::create_dir(&config).unwrap();
    assert!(matches!(
        root_path(d.path()),
        Err(StorageError::Read { .. })
    ));
    std::fs::remove_dir(&config).unwrap();
    let c = std::ffi::CString::new(config.as_os_str().as_encoded_bytes()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(r, 0);
    let err = root_path(d.path()).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
}
