//! `oci-signature-hook trust show`: the policy as the hook reads it, before it is enforced.
//!
//! The policy is parsed by `Policy::load`, the hook's own parser, and the config file by
//! `config::load`; every key, CA and Rekor key source is read by `verify::load_keys`, one file at
//! a time, and parsed as the requirement that names it parses it: GPG keys imported by the
//! OpenPGP implementation (counting the keys), sigstore public keys by `keys::from_pem`, Rekor
//! keys likewise and ECDSA only, Fulcio CAs and PKI roots by `x509::pool_from_pem`, PKI
//! intermediates by `x509::certificates_from_pem`. Anything wrong is a problem, and the command
//! exits `Exit::Problem`: the hook would deny every image the broken part of the policy covers.
//! Notes (not problems) say what a strict `default` means for podman and for the hook.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::sanitize;
use crate::cli::TrustArgs;
use crate::config::{self, Config};
use crate::exit::Exit;
use crate::invoker::Invoker;
use crate::policy::{
    IdentityRule, KeySource, KeyType, Policy, Requirement, Sigstore, SigstoreTrust,
};
use crate::verify::sigstore::{keys, x509};
use crate::verify::{load_keys, Verifier};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub policy: PathBuf,
    /// Why the policy cannot be used; then the hook denies every start.
    pub policy_error: Option<String>,
    pub config: ConfigReport,
    pub scopes: Vec<ScopeReport>,
    /// What the policy means beyond its requirements (a strict default, for podman and the hook).
    pub notes: Vec<String>,
    /// How many problems were found (the exit code is 3 when there is one).
    pub problems: usize,
}

/// The hook's config file.
#[derive(Debug, Serialize)]
pub struct ConfigReport {
    pub path: PathBuf,
    /// Whether a file is there (a missing one means the defaults).
    pub present: bool,
    /// The settings in force: the file's, else the defaults.
    pub mode: &'static str,
    pub imageless: &'static str,
    /// Why the file is not used: the hook then enforces, with the defaults.
    pub error: Option<String>,
}

/// One transport scope, or the default.
#[derive(Debug, Serialize)]
pub struct ScopeReport {
    /// `None` for `default`.
    pub transport: Option<String>,
    pub scope: Option<String>,
    pub requirements: Vec<RequirementReport>,
}

/// One requirement and the files it reads.
#[derive(Debug, Serialize)]
pub struct RequirementReport {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `keyType` for `signedBy`.
    #[serde(rename = "keyType", skip_serializing_if = "Option::is_none")]
    pub key_type: Option<&'static str>,
    /// `signedIdentity`, for `signedBy` and `sigstoreSigned`.
    #[serde(rename = "signedIdentity", skip_serializing_if = "Option::is_none")]
    pub signed_identity: Option<String>,
    /// Other settings (`fulcio`'s issuer and e-mail, `pki`'s subject), as `name value`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    pub sources: Vec<SourceReport>,
    /// Why the requirement denies every image whatever its signatures.
    pub problem: Option<String>,
}

/// One key, CA or Rekor key file (or inline datum).
#[derive(Debug, Serialize)]
pub struct SourceReport {
    /// What it holds: `GPG keys`, `public key`, `Fulcio CA`, `PKI roots`, `PKI intermediates`,
    /// `Rekor key`.
    pub role: &'static str,
    /// The file, or `None` for inline data (`keyData`, `keyDatas`, …).
    pub file: Option<PathBuf>,
    pub ok: bool,
    /// What was found (`1 key`, `ECDSA P-256`, `2 certificates`), or what is wrong.
    pub detail: String,
}

/// Runs `trust show` for `who`: prints the report, and exits `Problem` if it found one.
pub fn run(args: &TrustArgs, who: &Invoker) -> Exit {
    let policy = args
        .policy
        .clone()
        .unwrap_or_else(|| crate::policy::default_path(who));
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    let verifier = crate::settings::verifier(args.openpgp);
    let report = report(&policy, &config, who.host_root_uid(), verifier.as_ref());
    let out = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("oci-signature-hook trust show: cannot encode the report: {e}");
                return Exit::Usage;
            }
        }
    } else {
        text(&report)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("oci-signature-hook trust show: cannot write the report: {e}");
        return Exit::Usage;
    }
    if report.problems > 0 {
        Exit::Problem
    } else {
        Exit::Allow
    }
}

/// The report on the policy at `policy` and the config file at `config` (which counts only if
/// owned by `root_uid`), GPG keys imported with `verifier`.
pub fn report(policy: &Path, config: &Path, root_uid: u32, verifier: &dyn Verifier) -> Report {
    let config = config_report(config, root_uid);
    let mut problems = usize::from(config.error.is_some());
    let (scopes, policy_error, notes) = match Policy::load(policy) {
        Err(e) => {
            problems += 1;
            (
                Vec::new(),
                Some(crate::words::plain(&e.to_string())),
                Vec::new(),
            )
        }
        Ok(p) => {
            let mut scopes = vec![ScopeReport {
                transport: None,
                scope: None,
                requirements: p.default.iter().map(|r| requirement(r, verifier)).collect(),
            }];
            for (transport, list) in &p.transports {
                for (scope, reqs) in list {
                    scopes.push(ScopeReport {
                        transport: Some(transport.clone()),
                        scope: Some(scope.clone()),
                        requirements: reqs.iter().map(|r| requirement(r, verifier)).collect(),
                    });
                }
            }
            problems += scopes
                .iter()
                .flat_map(|s| &s.requirements)
                .map(|r| {
                    usize::from(r.problem.is_some()) + r.sources.iter().filter(|s| !s.ok).count()
                })
                .sum::<usize>();
            let notes = notes(&p, &config);
            (scopes, None, notes)
        }
    };
    Report {
        policy: policy.to_path_buf(),
        policy_error,
        config,
        scopes,
        notes,
        problems,
    }
}

fn config_report(path: &Path, root_uid: u32) -> ConfigReport {
    let present = std::fs::symlink_metadata(path).is_ok();
    let (c, error) = match config::load(path, root_uid) {
        Ok(c) => (c, None),
        Err(e) => (Config::default(), Some(crate::words::plain(&e))),
    };
    ConfigReport {
        path: path.to_path_buf(),
        present,
        mode: match c.mode.unwrap_or_default() {
            config::Mode::Enforce => "enforce",
            config::Mode::Warn => "warn",
        },
        imageless: c.imageless.unwrap_or_default().as_str(),
        error,
    }
}

/// `signedIdentity` as the policy spells it.
pub fn identity(rule: &IdentityRule) -> String {
    match rule {
        IdentityRule::MatchExact => "matchExact".into(),
        IdentityRule::MatchRepoDigestOrExact => "matchRepoDigestOrExact".into(),
        IdentityRule::MatchRepository => "matchRepository".into(),
        IdentityRule::ExactReference(r) => format!("exactReference {r}"),
        IdentityRule::ExactRepository(r) => format!("exactRepository {r}"),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => format!("remapIdentity {prefix} -> {signed_prefix}"),
    }
}

/// One requirement, its files read and parsed.
fn requirement(req: &Requirement, verifier: &dyn Verifier) -> RequirementReport {
    let mut r = RequirementReport {
        kind: req.type_name(),
        key_type: None,
        signed_identity: None,
        settings: Vec::new(),
        sources: Vec::new(),
        problem: None,
    };
    match req {
        Requirement::InsecureAcceptAnything | Requirement::Reject => {}
        Requirement::SignedBaseLayer => {
            r.problem =
                Some("not implemented (by containers/image either): it denies every image".into())
        }
        Requirement::SignedBy {
            key_type,
            keys,
            identity: rule,
        } => {
            r.key_type = Some(key_type.as_str());
            r.signed_identity = Some(identity(rule));
            if *key_type == KeyType::GpgKeys {
                r.sources = each(keys, "GPG keys", &|blob| gpg_keys(blob, verifier));
            } else {
                r.problem = Some(format!(
                    "keyType {} is not implemented (by containers/image either): it denies every image",
                    key_type.as_str()
                ));
            }
        }
        Requirement::SigstoreSigned(s) => sigstore(s, &mut r),
    }
    r
}

fn sigstore(s: &Sigstore, r: &mut RequirementReport) {
    r.signed_identity = Some(identity(&s.identity));
    match &s.trust {
        SigstoreTrust::PublicKeys(k) => r.sources = each(k, "public key", &public_key),
        SigstoreTrust::Fulcio {
            ca,
            oidc_issuer,
            subject_email,
        } => {
            r.settings = vec![
                format!("oidcIssuer {oidc_issuer}"),
                format!("subjectEmail {subject_email}"),
            ];
            r.sources = each(ca, "Fulcio CA", &|b| {
                x509::pool_from_pem(b, "Fulcio CA certificates").map(|c| certificates(c.len()))
            });
        }
        SigstoreTrust::Pki {
            roots,
            intermediates,
            subject_email,
            subject_hostname,
        } => {
            r.settings = [
                ("subjectEmail", subject_email),
                ("subjectHostname", subject_hostname),
            ]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
            r.sources = each(roots, "PKI roots", &|b| {
                x509::pool_from_pem(b, "PKI CA Roots certificates").map(|c| certificates(c.len()))
            });
            if let Some(i) = intermediates {
                r.sources.extend(each(i, "PKI intermediates", &|b| {
                    x509::certificates_from_pem(b)
                        .map(|c| certificates(c.len()))
                        .map_err(|e| format!("loading trusted intermediate certificates: {e}"))
                }));
            }
        }
    }
    if let Some(rekor) = &s.rekor {
        r.sources.extend(each(rekor, "Rekor key", &rekor_key));
    }
}

fn certificates(n: usize) -> String {
    format!("{n} certificate{}", if n == 1 { "" } else { "s" })
}

/// Each file (or datum) of `source`, read as the hook reads it and parsed by `parse`.
fn each(
    source: &KeySource,
    role: &'static str,
    parse: &dyn Fn(&[u8]) -> Result<String, String>,
) -> Vec<SourceReport> {
    let one = |file: Option<PathBuf>, single: KeySource| {
        let (ok, detail) = match load_keys(&single) {
            Err(e) => (false, e.to_string()),
            Ok(blobs) => match blobs.first().map(|b| parse(b)) {
                Some(Ok(d)) => (true, d),
                Some(Err(e)) => (false, e),
                None => (false, "nothing to read".into()),
            },
        };
        SourceReport {
            role,
            file,
            ok,
            detail: crate::words::plain(&detail),
        }
    };
    match source {
        KeySource::Path(p) => vec![one(Some(p.clone()), KeySource::Path(p.clone()))],
        KeySource::Paths(ps) => ps
            .iter()
            .map(|p| one(Some(p.clone()), KeySource::Path(p.clone())))
            .collect(),
        KeySource::Data(d) => vec![one(None, KeySource::Data(d.clone()))],
        KeySource::Datas(ds) => ds
            .iter()
            .map(|d| one(None, KeySource::Data(d.clone())))
            .collect(),
    }
}

/// GPG keys, imported as `signedBy` imports them: at least one key.
fn gpg_keys(blob: &[u8], verifier: &dyn Verifier) -> Result<String, String> {
    let ring = verifier.open(&[blob.to_vec()])?;
    match ring.key_count() {
        0 => Err(format!("no public key imported (by {})", verifier.name())),
        n => Ok(format!(
            "{n} key{} imported (by {})",
            if n == 1 { "" } else { "s" },
            verifier.name()
        )),
    }
}

fn public_key(blob: &[u8]) -> Result<String, String> {
    keys::from_pem(blob)
        .map(|k| k.describe())
        .map_err(|e| format!("parsing public key: {e}"))
}

fn rekor_key(blob: &[u8]) -> Result<String, String> {
    match keys::from_pem(blob) {
        Err(e) => Err(format!("parsing Rekor public key: {e}")),
        Ok(k @ keys::PublicKey::Ecdsa { .. }) => Ok(k.describe()),
        Ok(k) => Err(format!(
            "Rekor public key is not using ECDSA ({}): a Rekor key must be",
            k.describe()
        )),
    }
}

/// The transports podman itself judges by the policy when it loads, saves or copies images.
const PODMAN_TRANSPORTS: [(&str, &str); 3] = [
    ("docker-archive", "podman load of a docker-archive"),
    ("oci-archive", "podman load of an oci-archive"),
    ("containers-storage", "podman save"),
];

/// What a strict `default` means, for podman and for the hook.
fn notes(p: &Policy, config: &ConfigReport) -> Vec<String> {
    let mut out = Vec::new();
    let strict = p
        .default
        .iter()
        .any(|r| *r != Requirement::InsecureAcceptAnything);
    if strict {
        let what = p
            .default
            .iter()
            .find(|r| **r != Requirement::InsecureAcceptAnything)
            .map(Requirement::type_name)
            .unwrap_or_default();
        out.push(format!(
            "default is {what}: the hook denies every image no docker scope covers, images without a name, and (imageless = \"{}\") containers without an image, such as podman run --rootfs and build stages FROM scratch; podman's own pod infra image still starts (the hook's pod infra rule), and build steps are judged by their base image",
            config.imageless
        ));
        let missing: Vec<String> = PODMAN_TRANSPORTS
            .iter()
            .filter(|(t, _)| !p.transports.iter().any(|(have, _)| have == t))
            .map(|(t, what)| format!("{what} (\"{t}\")"))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "podman applies this default to other transports too: {} fail with \"Source image rejected: Running image … is rejected by policy\"; give each transport a scope of its own, e.g. \"transports\": {{\"docker-archive\": {{\"\": [{{\"type\": \"insecureAcceptAnything\"}}]}}}} (the hook judges only the docker transport, so these do not loosen it)",
                missing.join(", ")
            ));
        }
    }
    if config.mode == "warn" {
        out.push(
            "mode = warn: a start the policy rejects goes ahead and is recorded as would-deny; set mode = \"enforce\" once this report and oci-signature-hook check show nothing unexpected".into(),
        );
    }
    out
}

/// The human-readable report.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let p = sanitize(&r.policy.display().to_string());
    match &r.policy_error {
        None => out.push_str(&format!("policy {p}: valid\n")),
        Some(e) => out.push_str(&format!(
            "policy {p}: PROBLEM: {} (the hook denies every start)\n",
            sanitize(e)
        )),
    }
    let c = &r.config;
    let cp = sanitize(&c.path.display().to_string());
    match (&c.error, c.present) {
        (Some(e), _) => out.push_str(&format!(
            "config {cp}: PROBLEM: {} (the hook uses the defaults: mode enforce, imageless policy)\n",
            sanitize(e)
        )),
        (None, true) => out.push_str(&format!(
            "config {cp}: valid: mode {}, imageless {}\n",
            c.mode, c.imageless
        )),
        (None, false) => out.push_str(&format!(
            "config {cp}: none; the defaults apply: mode {}, imageless {}\n",
            c.mode, c.imageless
        )),
    }
    for s in &r.scopes {
        match (&s.transport, &s.scope) {
            (Some(t), Some(scope)) => {
                out.push_str(&format!("\n{} {:?}\n", sanitize(t), sanitize(scope)))
            }
            _ => out.push_str("\ndefault\n"),
        }
        for (i, req) in s.requirements.iter().enumerate() {
            let mut line = format!("  {}. {}", i + 1, req.kind);
            if let Some(k) = req.key_type {
                line.push_str(&format!(", keyType {k}"));
            }
            if let Some(id) = &req.signed_identity {
                line.push_str(&format!(", signedIdentity {}", sanitize(id)));
            }
            for setting in &req.settings {
                line.push_str(&format!(", {}", sanitize(setting)));
            }
            out.push_str(&line);
            out.push('\n');
            if let Some(problem) = &req.problem {
                out.push_str(&format!("     PROBLEM: {}\n", sanitize(problem)));
            }
            for src in &req.sources {
                let file = src
                    .file
                    .as_ref()
                    .map(|f| sanitize(&f.display().to_string()))
                    .unwrap_or_else(|| "(inline data)".into());
                out.push_str(&format!(
                    "     {} {file}: {}{}\n",
                    src.role,
                    if src.ok { "ok, " } else { "PROBLEM: " },
                    sanitize(&src.detail)
                ));
            }
        }
    }
    for n in &r.notes {
        out.push_str(&format!("\nnote: {}\n", sanitize(n)));
    }
    out.push_str(&match r.problems {
        0 => "\nno problems found\n".to_string(),
        1 => "\n1 problem found\n".to_string(),
        n => format!("\n{n} problems found\n"),
    });
    out
}

#[cfg(test)]
mod tests;
