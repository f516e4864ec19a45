//! `oci-signature-hook check` on real podman stores: the lab's, and private ones made into each
//! pitfall the hints name (a locally imported image, signatures replaced by a later pull, a list
//! signed only at the top, a registry without a lookaside).

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{hook_path, hook_verdict, lab, unique, Scratch, LAB_IMAGES};

const TRUSTED: &str =
    r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}]}"#;
const ACCEPT: &str = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;

struct CheckRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl CheckRun {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("check --format json: {e}\n{}", self.stdout))
    }
}

/// `check` on the store at `root` (with `driver`), `HOME` as the lab's (so registries.d is the
/// lab's, which has a lookaside for its registry) unless `args` names another.
fn check(root: &Path, run: &Path, driver: &str, args: &[&str]) -> CheckRun {
    let tmp = Scratch::new(&format!("check-tmp-{}", unique()));
    let out = Command::new(hook_path())
        .arg("check")
        .arg("--root")
        .arg(root)
        .arg("--runroot")
        .arg(run)
        .args(["--storage-driver", driver])
        .args(args)
        .env("HOME", lab().get("LAB_HOME"))
        .env("TMPDIR", tmp.path())
        .env_remove("CONTAINERS_STORAGE_CONF")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "check left {left:?} in its TMPDIR");
    CheckRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn lab_check(args: &[&str]) -> CheckRun {
    let lab = lab();
    check(
        Path::new(lab.get("ROOT")),
        Path::new(lab.get("RUNROOT")),
        lab.get("DRIVER"),
        args,
    )
}

/// The image rows of a JSON report for `reference`.
fn image_row<'a>(report: &'a Value, reference: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "image" && r["reference"] == reference)
        .unwrap_or_else(|| panic!("no image row for {reference} in {report:#}"))
}

fn hints(row: &Value) -> String {
    row["hints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_table_and_json_of_the_lab_store() {
    let lab = lab();
    let dir = Scratch::new("check-lab");
    let trusted = dir.file("trusted.json", lab.expand(TRUSTED));
    let trusted = trusted.to_str().unwrap();

    let table = lab_check(&["--policy", trusted]);
    assert_eq!(table.code, Some(1), "{}{}", table.stdout, table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("KIND")
            && lines[0].contains("REFERENCE")
            && lines[0].contains("REASON"),
        "{}",
        table.stdout
    );
    let line_of = |image: &str| {
        lines
            .iter()
            .find(|l| l.starts_with("image ") && l.contains(&format!(" {image} ")))
            .unwrap_or_else(|| panic!("no row for {image}:\n{}", table.stdout))
            .to_string()
    };
    let signed = line_of(&lab.image("signed"));
    assert!(signed.contains(" allow "), "{signed}");
    assert!(
        signed.contains(&lab.get("IMAGE_ID_SIGNED")[..12]),
        "{signed}"
    );
    let unsigned = line_of(&lab.image("unsigned"));
    assert!(
        unsigned.contains(" DENY ") && unsigned.contains("no signature exists"),
        "{unsigned}"
    );
    assert!(table.stdout.contains("  hint: "), "{}", table.stdout);
    assert!(
        table.stdout.trim_end().ends_with("would be blocked"),
        "{}",
        table.stdout
    );

    let json = lab_check(&["--policy", trusted, "--format", "json"]);
    assert_eq!(json.code, Some(1), "{}", json.stderr);
    let report = json.json();
    assert_eq!(report["policy"], trusted);
    assert_eq!(report["storage"]["driver"], lab.get("DRIVER"));
    let signed = image_row(&report, &lab.image("signed"));
    assert_eq!(signed["verdict"], "allow");
    assert_eq!(signed["image_id"], lab.get("IMAGE_ID_SIGNED"));
    assert_eq!(signed["manifest_digest"], lab.get("DIGEST_SIGNED"));
    let unsigned = image_row(&report, &lab.image("unsigned"));
    assert_eq!(unsigned["verdict"], "deny");
    assert_eq!(unsigned["requirement"], "signedBy");
    // The lab's registries.d has a lookaside, so the hint is about how the image got here.
    assert!(
        hints(unsigned).contains("no stored signatures"),
        "{unsigned:#}"
    );
    assert!(hints(unsigned).contains(&format!(
        "\"{}/lab/unsigned\": [{{\"type\": \"insecureAcceptAnything\"}}]",
        lab.get("REGISTRY")
    )));
    let other = image_row(&report, &lab.image("other-identity"));
    assert_eq!(other["verdict"], "deny");
    assert!(
        hints(other).contains(&format!(
            "\"signedIdentity\": {{\"type\": \"exactRepository\", \"dockerRepository\": \"{}/lab/elsewhere\"}}",
            lab.get("REGISTRY")
        )),
        "{other:#}"
    );
    let rows = report["results"].as_array().unwrap();
    let denied = rows.iter().filter(|r| r["verdict"] == "deny").count();
    assert_eq!(report["denied"], denied);
    // Containers are listed under the names they were created from.
    let (id, _) = lab.container(&lab.image("wrongkey"));
    let containers = lab_check(&["--policy", trusted, "--format", "json"]).json();
    let name = String::from_utf8(
        lab.podman()
            .args(["inspect", "--format", "{{.Name}}", &id])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let row = containers["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "container" && r["container"] == name.trim())
        .unwrap_or_else(|| panic!("no row for container {name}"));
    assert_eq!(row["reference"], lab.image("wrongkey").as_str());
    assert_eq!(row["verdict"], "deny");

    // A candidate policy that accepts everything: nothing would be blocked.
    let accept = dir.file("accept.json", ACCEPT);
    let ok = lab_check(&["--policy", accept.to_str().unwrap()]);
    assert_eq!(ok.code, Some(0), "{}{}", ok.stdout, ok.stderr);
    assert!(!ok.stdout.contains("DENY"), "{}", ok.stdout);
}

#[test]
fn check_agrees_with_the_hook() {
    let lab = lab();
    let dir = Scratch::new("check-agrees");
    let trusted = dir.file("trusted.json", lab.expand(TRUSTED));
    let images: Vec<String> = LAB_IMAGES.iter().map(|n| lab.image(n)).collect();
    let mut args = vec!["--policy", trusted.to_str().unwrap(), "--format", "json"];
    args.extend(images.iter().map(String::as_str));
    let report = lab_check(&args).json();
    let mut allowed = 0;
    for image in &images {
        let (_, state) = lab.container(image);
        let hook = hook_verdict(&trusted, &state);
        let row = image_row(&report, image);
        assert_eq!(
            row["verdict"] == "allow",
            hook.allowed(),
            "{image}: check says {row:#}, the hook says {}",
            hook.stderr
        );
        if hook.allowed() {
            allowed += 1;
        } else {
            let reason = row["reason"].as_str().unwrap();
            assert!(hook.stderr.contains(reason), "{reason} / {}", hook.stderr);
        }
    }
    assert_eq!(allowed, 2, "signed and two-sigs");
}

/// A private vfs store and the podman that uses it.
struct Store {
    dir: Scratch,
}

impl Store {
    fn new(name: &str) -> Store {
        Store {
            dir: Scratch::new(name),
        }
    }

    fn podman(&self, args: &[&str]) -> String {
        let out = lab()
            .vfs_podman(self.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pull(&self, image: &str) {
        let accept = lab().get("POLICY_ACCEPT");
        self.podman(&[
            "pull",
            "-q",
            "--tls-verify=false",
            "--signature-policy",
            accept,
            image,
        ]);
    }

    fn check(&self, args: &[&str]) -> CheckRun {
        check(
            &self.dir.path().join("root"),
            &self.dir.path().join("run"),
            "vfs",
            args,
        )
    }
}

fn skopeo(args: &[&str]) {
    let out = Command::new(lab().get("LAB_SKOPEO"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hints_name_each_pitfall() {
    let lab = lab();
    let store = Store::new("check-pitfalls");
    let trusted = store.dir.file("trusted.json", lab.expand(TRUSTED));
    let trusted = trusted.to_str().unwrap();
    let registry = lab.get("REGISTRY");

    // 1. Built or loaded locally: imported from a tarball.
    let rootfs = store.dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    let tar = store.dir.path().join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    store.podman(&["import", "-q", tar.to_str().unwrap(), "localhost/built:1"]);
    let r = store.check(&["--policy", trusted, "--format", "json", "localhost/built:1"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let row = image_row(&r.json(), "localhost/built:1").clone();
    assert!(hints(&row).contains("built or loaded locally"), "{row:#}");
    assert!(
        hints(&row).contains("\"localhost/built\": [{\"type\": \"insecureAcceptAnything\"}]"),
        "{row:#}"
    );
    // Short names resolve as podman resolves them.
    let r = store.check(&["--policy", trusted, "built:1"]);
    assert!(r.stdout.contains("localhost/built:1"), "{}", r.stdout);

    // 2. Signatures replaced: the signed image pulled, then the same image ID pulled again from
    //    an unsigned copy.
    let mirror = lab.unsigned_copy(&lab.image("signed"), "mirror");
    store.pull(&lab.image("signed"));
    let before = store.check(&["--policy", trusted, &lab.image("signed")]);
    assert_eq!(before.code, Some(0), "{}{}", before.stdout, before.stderr);
    store.pull(&mirror);
    let r = store.check(&[
        "--policy",
        trusted,
        "--format",
        "json",
        &lab.image("signed"),
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let row = image_row(&r.json(), &lab.image("signed")).clone();
    assert!(hints(&row).contains("signatures were replaced"), "{row:#}");

    // 3. A manifest list signed only at the top: the pull stores the platform image, unsigned.
    let list = format!("{registry}/lab/multi-{}:v1", std::process::id());
    store.podman(&["manifest", "create", &list]);
    store.podman(&[
        "manifest",
        "add",
        "--tls-verify=false",
        &list,
        &format!("docker://{}", lab.image("unsigned")),
    ]);
    store.podman(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "--all",
        &list,
        &format!("docker://{list}"),
    ]);
    let raw = store.dir.path().join("list.json");
    let out = Command::new(lab.get("LAB_SKOPEO"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{list}"))
        .output()
        .unwrap();
    std::fs::write(&raw, &out.stdout).unwrap();
    let list_digest = oci_signature_hook::manifest::sha256_digest(&out.stdout);
    let repo = list
        .trim_start_matches(&format!("{registry}/"))
        .trim_end_matches(":v1");
    let sigdir = Path::new(lab.get("LOOKASIDE")).join(format!(
        "{repo}@sha256={}",
        list_digest.trim_start_matches("sha256:")
    ));
    std::fs::create_dir_all(&sigdir).unwrap();
    skopeo(&[
        "standalone-sign",
        "-o",
        sigdir.join("signature-1").to_str().unwrap(),
        raw.to_str().unwrap(),
        &list,
        lab.get("TRUSTED_FPR"),
    ]);
    store.pull(&list);
    let r = store.check(&["--policy", trusted, "--format", "json", &list]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let row = image_row(&r.json(), &list).clone();
    assert!(
        hints(&row).contains("pulled from a manifest list"),
        "{row:#}"
    );
    assert!(hints(&row).contains(&list_digest), "{row:#}");
    // podman agrees that the pull itself would have been rejected.
    let pull = lab
        .vfs_podman(store.dir.path())
        .args([
            "pull",
            "-q",
            "--tls-verify=false",
            "--signature-policy",
            trusted,
            &list,
        ])
        .output()
        .unwrap();
    assert!(!pull.status.success());

    // 4. A registry for which registries.d gives no lookaside (a store of its own: the list above
    //    holds the same image).
    let store = Store::new("check-no-lookaside");
    store.pull(&lab.image("unsigned"));
    let empty = store.dir.path().join("registries.d");
    std::fs::create_dir_all(&empty).unwrap();
    let r = store.check(&[
        "--policy",
        trusted,
        "--format",
        "json",
        "--registries.d",
        empty.to_str().unwrap(),
        &lab.image("unsigned"),
    ]);
    let row = image_row(&r.json(), &lab.image("unsigned")).clone();
    assert!(
        hints(&row).contains(&format!("gives a lookaside for {registry}")),
        "{row:#}"
    );
}

#[test]
fn errors_exit_2_with_a_reason() {
    let lab = lab();
    let dir = Scratch::new("check-errors");
    let trusted = dir.file("trusted.json", lab.expand(TRUSTED));
    let trusted = trusted.to_str().unwrap();
    let r = lab_check(&["--policy", trusted, "no/such/image:1"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("no image \"no/such/image:1\""),
        "{}",
        r.stderr
    );
    let bad = dir.file("bad.json", r#"{"default":[{"type":"reject","x":1}]}"#);
    let r = lab_check(&["--policy", bad.to_str().unwrap()]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("Unknown key"), "{}", r.stderr);
    let r = lab_check(&["--format", "yaml"]);
    assert_eq!(r.code, Some(2));
    // A graph root that does not exist is an error; an empty one has nothing to block.
    let r = check(
        &dir.path().join("none"),
        &dir.path().join("run"),
        "vfs",
        &["--policy", trusted],
    );
    assert_eq!(r.code, Some(2), "{}", r.stdout);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let r = check(
        &dir.path().join("empty"),
        &dir.path().join("run"),
        "vfs",
        &["--policy", trusted],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("0 checked, 0 would be blocked"),
        "{}",
        r.stdout
    );
}

/// A real multi-step `podman build` leaves its intermediate images without names: `check` leaves
/// them out and counts them, `--all` checks them. Built, loaded and pulled images without
/// signatures each get their own hint; a `reject` scope says how to allow an image; a scope of
/// several requirements says which failed.
#[test]
fn unnamed_images_origins_and_requirements() {
    let lab = lab();
    let store = Store::new("check-origins");
    let registry = lab.get("REGISTRY");
    let unsigned = lab.image("unsigned");
    let accept = lab.get("POLICY_ACCEPT");
    store.pull(&unsigned);
    let ctx = store.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {unsigned}\nRUN echo a > /a\nRUN echo b > /b\nLABEL step=three\n"),
    )
    .unwrap();
    store.podman(&[
        "build",
        "-q",
        "--signature-policy",
        accept,
        "-t",
        "localhost/built:1",
        ctx.to_str().unwrap(),
    ]);
    let listed = store.podman(&["images", "-a", "--format", "{{.Repository}}"]);
    let unnamed = listed.lines().filter(|l| *l == "<none>").count();
    assert!(unnamed >= 2, "a three-step build leaves intermediates");

    let trusted = store.dir.file("trusted.json", lab.expand(TRUSTED));
    let trusted = trusted.to_str().unwrap();
    let r = store.check(&["--policy", trusted]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(" <none> "), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "\n{unnamed} images without a name (<none>: a build's intermediate images, or names moved to a newer image) not checked; --all (-a) checks them\n"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with("\n2 checked, 2 would be blocked\n"),
        "{}",
        r.stdout
    );
    let json = store
        .check(&["--policy", trusted, "--format", "json"])
        .json();
    assert_eq!(json["skipped_unnamed"], unnamed);
    for all in ["--all", "-a"] {
        let r = store.check(&["--policy", trusted, all]);
        assert_eq!(r.code, Some(1));
        assert_eq!(
            r.stdout.lines().filter(|l| l.contains(" <none> ")).count(),
            unnamed,
            "{}",
            r.stdout
        );
        assert!(!r.stdout.contains("without a name"), "{}", r.stdout);
        assert!(
            r.stdout.ends_with(&format!(
                "\n{} checked, {} would be blocked\n",
                2 + unnamed,
                2 + unnamed
            )),
            "{}",
            r.stdout
        );
    }

    // Built here, pulled without signatures: each its own hint.
    let report = json;
    let built = hints(image_row(&report, "localhost/built:1"));
    assert!(
        built.contains("it was built on this host (podman build or commit"),
        "{built}"
    );
    assert!(!built.contains("pulled from"), "{built}");
    let pulled = hints(image_row(&report, &unsigned));
    assert!(
        pulled.contains(&format!(
            "it was pulled from {registry} (its layers are compressed"
        )),
        "{pulled}"
    );
    assert!(!pulled.contains("built on this host"), "{pulled}");

    // Loaded: the same pulled image, saved and loaded into another store.
    let archive = store.dir.path().join("unsigned.tar");
    store.podman(&["save", "-q", "-o", archive.to_str().unwrap(), &unsigned]);
    let other = Store::new("check-loaded");
    other.podman(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let r = other.check(&["--policy", trusted, "--format", "json"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let loaded = hints(image_row(&r.json(), &unsigned));
    assert!(
        loaded.contains("it was loaded from an archive (podman load of a docker-archive"),
        "{loaded}"
    );
    assert!(!loaded.contains("pulled from"), "{loaded}");

    // A reject default, and a scope of two requirements whose second fails.
    let strict = store.dir.file(
        "strict.json",
        lab.expand(&format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{registry}/lab/unsigned":[{{"type":"insecureAcceptAnything"}},{{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}}]}}}}}}"#
        )),
    );
    let r = store.check(&["--policy", strict.to_str().unwrap(), "--format", "json"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let report = r.json();
    let built = image_row(&report, "localhost/built:1");
    assert_eq!(built["requirement"], "reject");
    let h = hints(built);
    assert!(
        h.contains("scope default rejects every image (reject); to run this one deliberately, give its repository a scope of its own")
            && h.contains("\"localhost/built\": [{\"type\": \"signedBy\""),
        "{h}"
    );
    let two = image_row(&report, &unsigned);
    assert_eq!(two["requirement"], "signedBy");
    let h = hints(two);
    assert!(
        h.contains(&format!(
            "requirement 2 of 2 in scope docker {registry}/lab/unsigned failed (signedBy): every requirement of a scope must pass, in order"
        )),
        "{h}"
    );
}
