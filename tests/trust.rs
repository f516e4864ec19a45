//! `oci-signature-hook trust show` on the lab's real keys: a policy that works, and policies and
//! config files broken in each way an admin breaks them (a missing key file, a file that holds no
//! key, a sigstore key that does not parse, an RSA Rekor key, a policy that is not JSON, an
//! unknown key in the config file), with the exit code and the words of each.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{hook_path, lab, Scratch};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn trust_show(args: &[&str]) -> Run {
    let out = Command::new(hook_path())
        .args(["trust", "show"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const RSA: &str = include_str!("../src/verify/sigstore/testdata/key-rsa.pem");
const P256: &str = include_str!("../src/verify/sigstore/testdata/key-p256.pem");
const REKOR: &str = include_str!("../src/verify/sigstore/testdata/rekor.pem");

#[test]
fn a_good_policy_passes_and_each_broken_one_exits_3() {
    let lab = lab();
    let dir = Scratch::new("trust-show");
    let d = dir.path().to_str().unwrap().to_string();
    dir.file("junk.gpg", "not a key\n");
    dir.file("rsa.pem", RSA);
    dir.file("p256.pem", P256);
    dir.file("rekor.pem", REKOR);
    let no_config = format!("{d}/none.conf");
    let good = dir.file(
        "good.json",
        lab.expand(&format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{
                "docker":{{"$REGISTRY":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"$KEYS/trusted.gpg"}}],
                           "$REGISTRY/lab/two":[{{"type":"signedBy","keyType":"GPGKeys","keyPaths":["$KEYS/trusted.gpg","$KEYS/other.gpg"],"signedIdentity":{{"type":"matchRepository"}}}}],
                           "$REGISTRY/lab/cosign":[{{"type":"sigstoreSigned","keyPath":"{d}/p256.pem","rekorPublicKeyPath":"{d}/rekor.pem"}}]}},
                "docker-archive":{{"":[{{"type":"insecureAcceptAnything"}}]}},
                "oci-archive":{{"":[{{"type":"insecureAcceptAnything"}}]}},
                "containers-storage":{{"":[{{"type":"insecureAcceptAnything"}}]}}}}}}"#
        )),
    );
    let r = trust_show(&["--policy", good.to_str().unwrap(), "--config", &no_config]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let keys = format!("{}/keys", lab.get("LAB"));
    for want in [
        format!("policy {}: valid\n", good.display()),
        format!("config {no_config}: none; the defaults apply: mode enforce, imageless policy\n"),
        "\ndefault\n  1. reject\n".to_string(),
        format!(
            "\ndocker \"{}\"\n  1. signedBy, keyType GPGKeys, signedIdentity matchRepoDigestOrExact\n     GPG keys {keys}/trusted.gpg: ok, 1 key imported (by gpgme)\n",
            lab.get("REGISTRY")
        ),
        format!("     GPG keys {keys}/other.gpg: ok, 1 key imported (by gpgme)\n"),
        format!("     public key {d}/p256.pem: ok, ECDSA P-256\n     Rekor key {d}/rekor.pem: ok, ECDSA P-256\n"),
        "\ndocker-archive \"\"\n  1. insecureAcceptAnything\n".to_string(),
        "note: default is reject".to_string(),
    ] {
        assert!(r.stdout.contains(&want), "{want:?} not in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("podman applies"), "{}", r.stdout);
    assert!(r.stdout.ends_with("\nno problems found\n"), "{}", r.stdout);
    let j: Value = serde_json::from_str(
        &trust_show(&[
            "--policy",
            good.to_str().unwrap(),
            "--config",
            &no_config,
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(j["problems"], 0);
    assert_eq!(j["scopes"][1]["requirements"][0]["keyType"], "GPGKeys");
    assert_eq!(j["scopes"][1]["requirements"][0]["sources"][0]["ok"], true);

    // Broken policies: each problem named, exit 3.
    let policy = |name: &str, reqs: &str| {
        dir.file(
            name,
            lab.expand(&format!(
                r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"$REGISTRY":{reqs}}}}}}}"#
            )),
        )
    };
    type Case = (&'static str, std::path::PathBuf, &'static str);
    let cases: Vec<Case> = vec![
        (
            "a missing key file",
            policy(
                "missing.json",
                &format!(r#"[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{d}/gone.gpg"}}]"#),
            ),
            "/gone.gpg: PROBLEM: key file",
        ),
        (
            "a file without a key",
            policy(
                "junk.json",
                &format!(r#"[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{d}/junk.gpg"}}]"#),
            ),
            "/junk.gpg: PROBLEM: no public key imported (by gpgme)",
        ),
        (
            "an unparsable sigstore key",
            policy(
                "badkey.json",
                &format!(r#"[{{"type":"sigstoreSigned","keyPath":"{d}/junk.gpg"}}]"#),
            ),
            "public key {d}/junk.gpg: PROBLEM: parsing public key",
        ),
        (
            "an RSA Rekor key",
            policy(
                "rekor.json",
                &format!(
                    r#"[{{"type":"sigstoreSigned","keyPath":"{d}/p256.pem","rekorPublicKeyPath":"{d}/rsa.pem"}}]"#
                ),
            ),
            "Rekor key {d}/rsa.pem: PROBLEM: Rekor public key is not using ECDSA (RSA 2048)",
        ),
        (
            "not JSON",
            dir.file("bad.json", r#"{"default":[{"type":"reject"}"#),
            "bad.json: PROBLEM: invalid policy in",
        ),
    ];
    for (what, path, want) in cases {
        let r = trust_show(&["--policy", path.to_str().unwrap(), "--config", &no_config]);
        assert_eq!(r.code, Some(3), "{what}: {}{}", r.stdout, r.stderr);
        let want = want.replace("{d}", &d);
        assert!(
            r.stdout.contains(&want),
            "{what}: {want:?} not in\n{}",
            r.stdout
        );
        assert!(
            r.stdout.ends_with("\n1 problem found\n"),
            "{what}:\n{}",
            r.stdout
        );
    }
    let r = trust_show(&[
        "--policy",
        &format!("{d}/absent.json"),
        "--config",
        &no_config,
    ]);
    assert_eq!(r.code, Some(3));
    assert!(
        r.stdout.contains("absent.json\" does not exist"),
        "{}",
        r.stdout
    );

    // The config file: an unknown key is a problem; a good one is shown.
    let conf = dir.file("hook.conf", "mode = \"warn\"\nmodes = \"enforce\"\n");
    let r = trust_show(&[
        "--policy",
        good.to_str().unwrap(),
        "--config",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(3), "{}", r.stdout);
    assert!(
        r.stdout.contains("PROBLEM: invalid") && r.stdout.contains("unknown field `modes`"),
        "{}",
        r.stdout
    );
    let conf = dir.file("warn.conf", "mode = \"warn\"\n");
    let r = trust_show(&[
        "--policy",
        good.to_str().unwrap(),
        "--config",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert!(
        r.stdout.contains(": valid: mode warn, imageless policy\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("note: mode = warn"), "{}", r.stdout);

    // A usage error is 2, not 3.
    let out = Command::new(hook_path()).args(["trust"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = r.stderr;
}
