//! CRI-O's layout: the bundle is the run-root copy of the container directory, the graph root
//! comes from storage.conf, and the image is named in annotations (docs/semantics.md, "CRI-O's annotations"). CRI-O is not
//! packaged here, so the store is podman's and the bundle and annotations are laid out as CRI-O
//! lays them out. Also: images in `additionalimagestores`.

use std::collections::HashMap;

use crate::common::{lab, run_hook_env, HookResult, Scratch};

const TRUSTED: &str =
    r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#;

/// The OCI state CRI-O's runtime passes for a container created from `image`, with `annotations`
/// changed by `tweak`; the bundle is in the run root.
pub(crate) fn crio_state(
    image: &str,
    tweak: impl FnOnce(&mut HashMap<&'static str, String>),
) -> String {
    let lab = lab();
    let (id, _) = lab.container(image);
    let driver = lab.get("DRIVER");
    let bundle = format!("{}/{driver}-containers/{id}/userdata", lab.get("RUNROOT"));
    std::fs::create_dir_all(&bundle).unwrap();
    let name = image
        .rsplit_once("/lab/")
        .map(|(_, n)| n.split([':', '@']).next().unwrap())
        .unwrap();
    let image_id = lab
        .get(&format!(
            "IMAGE_ID_{}",
            name.to_uppercase().replace('-', "_")
        ))
        .to_string();
    let mut annotations: HashMap<&'static str, String> = HashMap::from([
        ("io.kubernetes.cri-o.ContainerID", id.clone()),
        ("io.kubernetes.cri-o.ContainerType", "container".into()),
        ("io.kubernetes.cri-o.Image", image.into()),
        ("io.kubernetes.cri-o.ImageName", image.into()),
        ("io.kubernetes.cri-o.ImageRef", image_id),
        ("io.kubernetes.cri-o.Namespace", "default".into()),
        ("io.kubernetes.cri-o.SandboxID", "5".repeat(64)),
    ]);
    tweak(&mut annotations);
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "created", "bundle": bundle, "annotations": annotations})
        .to_string()
}

fn verdict(state: &str, storage_conf: &str) -> HookResult {
    let dir = Scratch::new(&format!("crio-{}", crate::common::unique()));
    let policy = dir.file("policy.json", lab().expand(TRUSTED));
    let out = run_hook_env(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--syslog-socket",
            "/nonexistent",
        ],
        state.as_bytes(),
        dir.path(),
        &[("CONTAINERS_STORAGE_CONF", storage_conf)],
    );
    HookResult {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_run_root_bundle_finds_the_graph_root_in_storage_conf() {
    let lab = lab();
    let conf = lab.get("CONTAINERS_STORAGE_CONF");
    let signed = verdict(&crio_state(&lab.image("signed"), |_| {}), conf);
    assert!(signed.allowed(), "{}", signed.stderr);
    let unsigned = verdict(&crio_state(&lab.image("unsigned"), |_| {}), conf);
    assert_eq!(unsigned.code, Some(1));
    assert!(
        unsigned.stderr.contains("no signature exists"),
        "{}",
        unsigned.stderr
    );
}

#[test]
fn a_run_root_that_storage_conf_does_not_name_is_refused() {
    let lab = lab();
    let dir = Scratch::new("crio-other-conf");
    let conf = dir.file(
        "storage.conf",
        "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/x\"\nrunroot = \"/run/x\"\n",
    );
    let r = verdict(
        &crio_state(&lab.image("signed"), |_| {}),
        conf.to_str().unwrap(),
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("neither a graph root nor the run root"),
        "{}",
        r.stderr
    );
    let bad = dir.file("bad.conf", "[storage\n");
    let r = verdict(
        &crio_state(&lab.image("signed"), |_| {}),
        bad.to_str().unwrap(),
    );
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("invalid"), "{}", r.stderr);
}

#[test]
fn annotations_that_disagree_with_storage_deny() {
    let lab = lab();
    let conf = lab.get("CONTAINERS_STORAGE_CONF");
    let other_id = lab.get("IMAGE_ID_UNSIGNED").to_string();
    type Tweak = Box<dyn FnOnce(&mut HashMap<&'static str, String>)>;
    let cases: Vec<(Tweak, &str)> = vec![
        (
            Box::new(move |a| drop(a.insert("io.kubernetes.cri-o.ImageRef", other_id))),
            "ImageRef",
        ),
        (
            Box::new(|a| drop(a.insert("io.kubernetes.cri-o.Image", "example.com/other:1".into()))),
            "cri-o.Image=",
        ),
        (
            Box::new(|a| {
                drop(a.insert(
                    "io.kubernetes.cri-o.ImageName",
                    "example.com/other:1".into(),
                ))
            }),
            "ImageName",
        ),
    ];
    for (tweak, what) in cases {
        let r = verdict(&crio_state(&lab.image("signed"), tweak), conf);
        assert_eq!(r.code, Some(1), "{what}");
        assert!(
            r.stderr.contains(what) && r.stderr.contains("annotation"),
            "{what}: {}",
            r.stderr
        );
    }
    // Without CRI-O's annotations (podman) nothing is cross-checked.
    let r = verdict(&crio_state(&lab.image("signed"), |a| a.clear()), conf);
    assert!(r.allowed(), "{}", r.stderr);
}

#[test]
fn images_in_additional_image_stores_are_found() {
    let lab = lab();
    let dir = Scratch::new("ais");
    let extra = dir.path().join("extra");
    let accept = dir.file(
        "accept.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    // The image lives only in a read-only additional store; the container in the main store.
    let out = lab
        .private_podman(&extra, "overlay")
        .args(["pull", "-q", "--signature-policy"])
        .arg(&accept)
        .arg(lab.image("signed"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = dir.path().join("main");
    let out = lab
        .private_podman(&main, "overlay")
        .arg("--storage-opt")
        .arg(format!(
            "additionalimagestore={}",
            extra.join("root").display()
        ))
        .args(["create", &lab.image("signed"), "true"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let bundle = main.join(format!("root/overlay-containers/{id}/userdata"));
    assert!(
        !main.join("root/overlay-images/images.json").exists() || {
            let images =
                std::fs::read_to_string(main.join("root/overlay-images/images.json")).unwrap();
            !images.contains(lab.get("IMAGE_ID_SIGNED"))
        }
    );
    let state =
        serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "created", "bundle": bundle})
            .to_string();
    let with = dir.file(
        "with.conf",
        format!(
            "[storage]\ndriver = \"overlay\"\n[storage.options]\nadditionalimagestores = [\"{}\"]\n",
            extra.join("root").display()
        ),
    );
    let r = verdict(&state, with.to_str().unwrap());
    assert!(r.allowed(), "{}", r.stderr);
    let without = dir.file("without.conf", "[storage]\ndriver = \"overlay\"\n");
    let r = verdict(&state, without.to_str().unwrap());
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("is not in containers/storage"),
        "{}",
        r.stderr
    );
}
