//! sigstore (`sigstoreSigned`) signatures, held cell by cell to containers/image 5.34 (podman 5.4 in
//! the Debian 13 root of `tests/lab/podman5.sh`, `OSH_PODMAN5_ROOT`).
//!
//! `tests/lab/podman5-sigstore.sh` makes the corpus in the root: keys of every type, Rekor SETs,
//! Fulcio-style and PKI certificates, and images signed with skopeo, cosign and hand-made
//! signatures, pulled by podman so that their signatures are stored as podman stores them.
//! `tests/lab/podman5-sigstore-matrix.sh` then judges each (policy, image) cell three times: by
//! `podman pull --signature-policy` from the corpus registry (the oracle), and by a real
//! `podman run` of the stored image with this build of the hook under crun and under runc. The
//! test asserts that the lab is what it was built to be (the oracle gives each cell the verdict
//! the corpus was made for), then that the hook agrees with the oracle in every cell, under both
//! runtimes, but for the few it denies on purpose. The matrix script runs by hand too (see its header).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::hook_path;

/// Where the corpus and matrix scripts go in the root.
const OSH: &str = "/lab/osh";
const CORPUS_SCRIPT: &str = include_str!("lab/podman5-sigstore.sh");
const MATRIX_SCRIPT: &str = include_str!("lab/podman5-sigstore-matrix.sh");
/// The hook the matrix installs in its hooks dirs (a name of its own: tests/podman5.rs installs
/// the same build as `oci-signature-hook`).
const HOOK: &str = "/lab/osh/bin/oci-signature-hook-sigstore";

/// Cells the corpus was built to be allowed, one or more per trust root and identity rule: if
/// the oracle denies any of them, the lab is broken, and a hook that denies everything must not
/// pass for one that agrees.
const MUST_ALLOW: &[&str] = &[
    "key-skopeo/skopeo",
    "key-skopeo/multi@list",
    "key-cosign-repo/cosign",
    "key-p256/p256",
    "key-p384/p384",
    "key-ed25519/ed25519",
    "key-rsa-pkcs1/rsa",
    "keydatas/rsa",
    "rekor-path/rekor",
    "rekor-datas/rekor-other",
    "fulcio/fulcio",
    "fulcio/fulcio-inter",
    "fulcio/fulcio-expired-now",
    "pki/pki-email",
    "pki-host/pki-dns",
    "id-remap/otherident",
    "scope-mixed/mixed",
];

/// Cells it was built to be denied.
const MUST_DENY: &[&str] = &[
    "key-skopeo/unsigned",
    "key-cosign/cosign",
    "rekor-path/rekor-other",
    "fulcio/fulcio-expired-at-set",
    "pki/pki-nochain",
];

/// Cells 5.34 allows and the hook denies on purpose (docs/semantics.md §13, "sigstore edge
/// cases"). None today: every cell must agree. A cell listed here must stay that way: a hook
/// that starts allowing one of them has changed its rules, and this list and the docs go with it.
const DENIED_ON_PURPOSE: &[&str] = &[];

/// The matrix's table has every cell of its script; fewer means it was cut short.
const MIN_CELLS: usize = 150;

/// One line of the matrix's TSV.
#[derive(Debug)]
struct Cell {
    name: String,
    expected: String,
    oracle: String,
    crun: String,
    runc: String,
    oracle_message: String,
    hook_reason: String,
    note: String,
}

fn root_dir() -> PathBuf {
    std::env::var_os("OSH_PODMAN5_ROOT")
        .unwrap_or_else(|| {
            panic!(
                "OSH_PODMAN5_ROOT is not set: the sigstore matrix runs in a Debian 13 root made \
                 by `tests/lab/podman5.sh root DIR` (tests/run.sh makes one at \
                 /var/tmp/osh-podman5 and sets it); make one and run again with \
                 OSH_PODMAN5_ROOT=DIR"
            )
        })
        .into()
}

/// The host's path of `path` in the root.
fn host(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Writes `content` to `path` in the root, by rename (another test process may be reading it).
fn install(root: &Path, path: &str, content: &[u8]) {
    let dest = host(root, path);
    let tmp = dest.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, &dest).unwrap();
}

/// `podman5.sh run ROOT -- CMD`, one at a time across test processes (the lock tests/podman5.rs
/// takes): to podman each run is a fresh boot.
fn run_in_root(root: &Path, cmd: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/podman5.sh");
    Command::new("flock")
        .arg(host(root, &format!("{OSH}/lock")))
        .args(["timeout", "-k", "10", "900", "bash"])
        .arg(script)
        .arg("run")
        .arg(root)
        .arg("--")
        .args(cmd)
        .output()
        .unwrap()
}

/// The hook must be static: the root has another libc and no libgpgme.
fn install_hook(root: &Path) {
    let out = Command::new("ldd").arg(hook_path()).output().unwrap();
    let linkage = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        linkage.contains("statically linked") || linkage.contains("not a dynamic executable"),
        "{} is dynamically linked, it cannot run in the podman5 root (is RUSTC_WRAPPER set? see \
         .cargo/config.toml): {linkage}",
        hook_path()
    );
    std::fs::create_dir_all(host(root, &format!("{OSH}/bin"))).unwrap();
    install(root, HOOK, &std::fs::read(hook_path()).unwrap());
    let mut perms = std::fs::metadata(host(root, HOOK)).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(host(root, HOOK), perms).unwrap();
}

fn parse(tsv: &str) -> Vec<Cell> {
    let mut lines = tsv.lines();
    assert_eq!(
        lines.next(),
        Some("cell\texpected\toracle\tcrun\trunc\toracle_message\thook_reason\tnote"),
        "not the matrix's TSV:\n{tsv}"
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 8, "a matrix line of {} fields: {line:?}", f.len());
            Cell {
                name: f[0].into(),
                expected: f[1].into(),
                oracle: f[2].into(),
                crun: f[3].into(),
                runc: f[4].into(),
                oracle_message: f[5].into(),
                hook_reason: f[6].into(),
                note: f[7].into(),
            }
        })
        .collect()
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// A column of a table of cells: its heading, and what it shows of a cell.
type Column = (&'static str, fn(&Cell) -> String);

/// The cells as an aligned table of `columns`.
fn table(cells: &[&Cell], columns: &[Column]) -> String {
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|c| columns.iter().map(|(_, get)| clip(&get(c), 110)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (head, _))| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: Vec<String>| {
        let padded: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(columns.iter().map(|(h, _)| h.to_string()).collect());
    for r in rows {
        out.push('\n');
        out.push_str(&line(r));
    }
    out
}

#[test]
fn every_cell_agrees_with_containers_image() {
    let root = root_dir();
    install_hook(&root);
    install(
        &root,
        &format!("{OSH}/podman5-sigstore.sh"),
        CORPUS_SCRIPT.as_bytes(),
    );
    install(
        &root,
        &format!("{OSH}/podman5-sigstore-matrix.sh"),
        MATRIX_SCRIPT.as_bytes(),
    );

    let out = run_in_root(&root, &["bash", &format!("{OSH}/podman5-sigstore.sh")]);
    assert!(
        out.status.success(),
        "tests/lab/podman5-sigstore.sh failed in {}: {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let started = std::time::Instant::now();
    let out = run_in_root(
        &root,
        &[
            "env",
            &format!("OSH_SIGSTORE_HOOK={HOOK}"),
            "bash",
            &format!("{OSH}/podman5-sigstore-matrix.sh"),
        ],
    );
    let tsv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tests/lab/podman5-sigstore-matrix.sh failed in {}: {}\n{tsv}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let cells = parse(&tsv);
    eprintln!(
        "sigstore matrix: {} cells in {:.0?}",
        cells.len(),
        started.elapsed()
    );

    // The lab first: a hook can only be judged against an oracle that says what the corpus was
    // built for.
    assert!(
        cells.len() >= MIN_CELLS,
        "only {} cells (at least {MIN_CELLS}):\n{tsv}",
        cells.len()
    );
    let cell = |name: &str| {
        cells
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no cell {name} in the matrix"))
    };
    for (names, want) in [(MUST_ALLOW, "allow"), (MUST_DENY, "deny")] {
        for name in names {
            let c = cell(name);
            assert_eq!(
                c.oracle, want,
                "the oracle must {want} {name} (the lab is broken): {c:?}"
            );
        }
    }
    let lab: Vec<&Cell> = cells.iter().filter(|c| c.oracle != c.expected).collect();
    assert!(
        lab.is_empty(),
        "containers/image gave {} cells another verdict than the corpus was built for (the \
         lab, or the expectation, is wrong):\n{}",
        lab.len(),
        table(
            &lab,
            &[
                ("cell", |c| c.name.clone()),
                ("expected", |c| c.expected.clone()),
                ("oracle", |c| c.oracle.clone()),
                ("oracle message", |c| c.oracle_message.clone()),
                ("note", |c| c.note.clone()),
            ]
        )
    );

    // Then the hook, under both runtimes.
    for name in DENIED_ON_PURPOSE {
        let c = cell(name);
        assert!(
            c.oracle == "allow" && c.crun == "deny" && c.runc == "deny",
            "{name} is in DENIED_ON_PURPOSE: containers/image allows it and the hook denies it \
             under crun and runc; got {c:?}"
        );
    }
    let disagree: Vec<&Cell> = cells
        .iter()
        .filter(|c| !DENIED_ON_PURPOSE.contains(&c.name.as_str()))
        .filter(|c| c.crun != c.oracle || c.runc != c.oracle)
        .collect();
    assert!(
        disagree.is_empty(),
        "the hook disagrees with containers/image 5.34 in {} of {} cells:\n{}",
        disagree.len(),
        cells.len(),
        table(
            &disagree,
            &[
                ("cell", |c| c.name.clone()),
                ("oracle", |c| c.oracle.clone()),
                ("crun", |c| c.crun.clone()),
                ("runc", |c| c.runc.clone()),
                ("oracle message", |c| c.oracle_message.clone()),
                ("hook reason", |c| c.hook_reason.clone()),
            ]
        )
    );
}
