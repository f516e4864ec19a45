//! containers-policy.json: the requirements an image must meet, and which of them apply to an image.
//!
//! Implements `containers-policy.json(5)` as containers/image does (docs/semantics.md, "The policy file"): the file is
//! parsed strictly (`parse`), the requirement list is chosen by the most specific `docker` scope
//! (`requirements_for`), and `signedIdentity` rules compare references (`identity`).

pub mod identity;
mod parse;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use identity::{IdentityError, IdentityRule};

use crate::reference::{docker_namespaces, Reference};

/// A policy file larger than this is refused: real ones are a few KiB.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

/// The host's policy (containers/image `builtinDefaultPolicyPath`).
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

/// Where a rootless user's own policy is, under their home (containers/image `userPolicyFile`).
const USER_POLICY: &str = ".config/containers/policy.json";

/// The policy containers/image would use for `who` when none is named: for a rootless user
/// `~/.config/containers/policy.json` when it exists, else [`SYSTEM_POLICY`].
///
/// containers/image (`signature/policy_config.go`, `defaultPolicyPathWithHomeDir`, the same from
/// v5.23 to v5.36) joins `homedir.Get()` (`$HOME`, else the password database) with
/// `.config/containers/policy.json` and takes it if `stat` succeeds: a dangling link or an
/// unreadable directory means the system file. It does not read `$XDG_CONFIG_HOME` for the
/// policy (a 2020 proposal to, containers/image pull request 1011, was not merged), unlike
/// `storage.conf`'s readers, so neither does this.
///
/// Root never reads a per-user file, where containers/image would read root's own: the hook's
/// environment is whatever the runtime passes it, and a start by root is judged by the host's
/// policy.
pub fn default_path(who: &crate::invoker::Invoker) -> PathBuf {
    if who.rootless() {
        if let Some(home) = &who.home {
            let user = home.join(USER_POLICY);
            if user.exists() {
                return user;
            }
        }
    }
    PathBuf::from(SYSTEM_POLICY)
}

/// The whole policy. Transport and scope order is kept only for messages; lookups are by key.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub default: Vec<Requirement>,
    pub transports: Vec<(String, Scopes)>,
}

/// A transport's scopes and their requirement lists.
pub type Scopes = Vec<(String, Vec<Requirement>)>;

/// One policy requirement (`containers-policy.json(5)`, "Policy Requirements").
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    InsecureAcceptAnything,
    Reject,
    SignedBy {
        key_type: KeyType,
        keys: KeySource,
        identity: IdentityRule,
    },
    /// Parses; containers/image has never implemented it, so it denies.
    SignedBaseLayer,
    /// A sigstore signature by a trusted key or certificate (the newest format).
    SigstoreSigned(Box<Sigstore>),
}

/// A `sigstoreSigned` requirement (containers/image `signature/policy_types.go`,
/// `prSigstoreSigned`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sigstore {
    /// Whose signatures are trusted.
    pub trust: SigstoreTrust,
    /// `rekorPublicKey{Path,Paths,Data,Datas}`: when set, a signature must carry a Rekor SET
    /// (signed entry timestamp) signed by one of these ECDSA keys.
    pub rekor: Option<KeySource>,
    pub identity: IdentityRule,
}

/// The trust root of a `sigstoreSigned` requirement: exactly one of these.
#[derive(Debug, Clone, PartialEq)]
pub enum SigstoreTrust {
    /// `keyPath`, `keyPaths`, `keyData` or `keyDatas`: PEM public keys.
    PublicKeys(KeySource),
    /// `fulcio`: a certificate issued by one of the CA certificates `ca` (PEM) at the time the
    /// Rekor SET records, for `subject_email`, by `oidc_issuer`.
    Fulcio {
        ca: KeySource,
        oidc_issuer: String,
        subject_email: String,
    },
    /// `pki`: a certificate that chains to `roots` (PEM) now, through `intermediates` and the
    /// signature's own chain; `subject_email` and `subject_hostname` are checked when not empty.
    Pki {
        roots: KeySource,
        intermediates: Option<KeySource>,
        subject_email: String,
        subject_hostname: String,
    },
}

impl Requirement {
    /// Every key or certificate source the requirement reads (to read them up front, and to key
    /// a cached verdict on their bytes), in a fixed order.
    pub fn key_sources(&self) -> Vec<&KeySource> {
        match self {
            Requirement::SignedBy { keys, .. } => vec![keys],
            Requirement::SigstoreSigned(s) => {
                let mut v = match &s.trust {
                    SigstoreTrust::PublicKeys(k) => vec![k],
                    SigstoreTrust::Fulcio { ca, .. } => vec![ca],
                    SigstoreTrust::Pki {
                        roots,
                        intermediates,
                        ..
                    } => std::iter::once(roots).chain(intermediates).collect(),
                };
                v.extend(&s.rekor);
                v
            }
            _ => Vec::new(),
        }
    }
}

impl Requirement {
    /// The requirement's `type`, as written in the policy.
    pub fn type_name(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
            Requirement::Reject => "reject",
            Requirement::SignedBy { .. } => "signedBy",
            Requirement::SignedBaseLayer => "signedBaseLayer",
            Requirement::SigstoreSigned(_) => "sigstoreSigned",
        }
    }
}

/// `signedBy`'s `keyType`. Only `GPGKeys` is implemented (by containers/image too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    GpgKeys,
    SignedByGpgKeys,
    X509Certificates,
    SignedByX509Cas,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::GpgKeys => "GPGKeys",
            KeyType::SignedByGpgKeys => "signedByGPGKeys",
            KeyType::X509Certificates => "X509Certificates",
            KeyType::SignedByX509Cas => "signedByX509CAs",
        }
    }
}

/// Where keys or certificates come from: a file (`keyPath`), files (`keyPaths`), data given
/// inline (`keyData`, base64-decoded) or several such (`keyDatas`, `sigstoreSigned` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Path(PathBuf),
    Paths(Vec<PathBuf>),
    Data(Vec<u8>),
    Datas(Vec<Vec<u8>>),
}

/// Why a policy cannot be used. Every one of them denies every start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be opened or read (`reason` in `words::unreadable`'s form).
    #[error("{reason}")]
    Read { path: PathBuf, reason: String },
    #[error("policy {path:?} is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("invalid policy in {path:?}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl Policy {
    /// Reads and parses the policy file at `path`.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        Policy::load_with_bytes(path).map(|(p, _)| p)
    }

    /// `load`, also returning the file's bytes (the verdict cache keys on them).
    pub fn load_with_bytes(path: &Path) -> Result<(Policy, Vec<u8>), PolicyError> {
        let read_err = |e: std::io::Error| PolicyError::Read {
            path: path.to_path_buf(),
            reason: crate::words::unreadable("policy", path, &e),
        };
        // The admin's file: a symlink is followed, but what it reaches must be a regular file.
        let file = crate::files::open_regular(path, true).map_err(read_err)?;
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let policy = Policy::from_bytes(&bytes).map_err(|reason| PolicyError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok((policy, bytes))
    }

    /// Parses a policy document (`NewPolicyFromBytes`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy, String> {
        parse::policy(bytes)
    }

    /// Every requirement of the policy: the default's, then each transport scope's, in file order.
    pub fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.default.iter().chain(
            self.transports
                .iter()
                .flat_map(|(_, scopes)| scopes.iter().flat_map(|(_, reqs)| reqs.iter())),
        )
    }

    /// Whether every requirement anywhere in the docker transport and the default is
    /// `insecureAcceptAnything`: then no image can be denied, whatever its reference.
    pub fn accepts_anything(&self) -> bool {
        let all = |reqs: &[Requirement]| {
            reqs.iter()
                .all(|r| *r == Requirement::InsecureAcceptAnything)
        };
        all(&self.default)
            && self
                .transports
                .iter()
                .filter(|(t, _)| t == "docker")
                .all(|(_, scopes)| scopes.iter().all(|(_, reqs)| all(reqs)))
    }

    /// The requirements for an image run under the docker transport with reference `r` (`None` for an
    /// image with no name), and the scope they came from: the exact reference, then each namespace,
    /// then the transport's `""`, then `default`, as `requirementsForImageRef` in containers/image's `signature/policy_eval.go`.
    pub fn requirements_for(&self, r: Option<&Reference>) -> (&[Requirement], Scope) {
        if let Some((_, scopes)) = self.transports.iter().find(|(t, _)| t == "docker") {
            let find = |key: &str| scopes.iter().find(|(k, _)| k == key).map(|(_, reqs)| reqs);
            if let Some(r) = r {
                let mut candidates = vec![r.to_string()];
                candidates.extend(docker_namespaces(r));
                for key in candidates {
                    if let Some(reqs) = find(&key) {
                        return (reqs, Scope::Docker(key));
                    }
                }
            }
            if let Some(reqs) = find("") {
                return (reqs, Scope::Docker(String::new()));
            }
        }
        (&self.default, Scope::Default)
    }
}

/// The policy entry whose requirements applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Default,
    Docker(String),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Default => f.write_str("default"),
            Scope::Docker(s) if s.is_empty() => f.write_str("docker default"),
            Scope::Docker(s) => write!(f, "docker {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Policy {
        Policy::from_bytes(json.as_bytes()).unwrap()
    }

    #[test]
    fn the_most_specific_docker_scope_wins() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{
                "":[{"type":"reject"}],
                "example.com":[{"type":"insecureAcceptAnything"}],
                "example.com/ns":[{"type":"reject"}],
                "example.com/ns/app:v1":[{"type":"insecureAcceptAnything"}],
                "*.example.com":[{"type":"insecureAcceptAnything"}],
                "*.com":[{"type":"reject"}],
                "docker.io/library":[{"type":"insecureAcceptAnything"}],
                "busybox":[{"type":"reject"}]
            }}}"#,
        );
        let cases: &[(&str, &str)] = &[
            ("example.com/ns/app:v1", "docker example.com/ns/app:v1"),
            ("example.com/ns/app:v2", "docker example.com/ns"),
            ("example.com/other:1", "docker example.com"),
            ("example.com:5000/x:1", "docker *.com"),
            ("a.example.com/x:1", "docker *.example.com"),
            ("b.a.example.com/x:1", "docker *.example.com"),
            ("other.org/x:1", "docker default"),
            ("busybox:latest", "docker docker.io/library"),
            ("localhost/x:1", "docker default"),
        ];
        for (image, want) in cases {
            let r = Reference::parse_normalized(image).unwrap();
            let (_, scope) = p.requirements_for(Some(&r));
            assert_eq!(scope.to_string(), *want, "{image}");
        }
        assert_eq!(p.requirements_for(None).1, Scope::Docker(String::new()));
    }

    #[test]
    fn without_docker_transport_the_default_applies() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],"transports":{"dir":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
        );
        let r = Reference::parse_normalized("busybox").unwrap();
        assert_eq!(
            p.requirements_for(Some(&r)),
            (&[Requirement::Reject][..], Scope::Default)
        );
    }

    #[test]
    fn scope_keys_are_case_sensitive() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"example.com":[{"type":"insecureAcceptAnything"}]}}}"#,
        );
        let r = Reference::parse_normalized("Example.com/x:1").unwrap();
        assert_eq!(p.requirements_for(Some(&r)).1, Scope::Default);
    }

    #[test]
    fn the_default_policy_is_the_users_only_for_a_rootless_user_who_has_one() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        // A home whose ~/.config/containers/policy.json is made by `make`.
        let home = |name: &str, make: &dyn Fn(&Path)| {
            let home = tmp.path().join(name);
            let dir = home.join(".config/containers");
            std::fs::create_dir_all(&dir).unwrap();
            make(&dir.join("policy.json"));
            home
        };
        let with = home("with", &|p| std::fs::write(p, "{}").unwrap());
        let without = home("without", &|_| {});
        let dangling = home("dangling", &|p| {
            symlink("/nonexistent/policy.json", p).unwrap()
        });
        let link = home("link", &|p| symlink(with.join(USER_POLICY), p).unwrap());

        let system = PathBuf::from(SYSTEM_POLICY);
        let user = |home: &Path| home.join(".config/containers/policy.json");
        type Case<'a> = (&'a str, Option<u32>, Option<&'a Path>, PathBuf);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("root, with a file",        None,       Some(&with),     system.clone()),
            ("root, no home",            None,       None,            system.clone()),
            ("rootless, with a file",    Some(1000), Some(&with),     user(&with)),
            ("rootless, no file",        Some(1000), Some(&without),  system.clone()),
            ("rootless, no home",        Some(1000), None,            system.clone()),
            ("rootless, dangling link",  Some(1000), Some(&dangling), system.clone()),
            ("rootless, link to a file", Some(1000), Some(&link),     user(&link)),
        ];
        for (what, rootless_uid, home, want) in cases {
            let who = crate::invoker::Invoker {
                rootless_uid: *rootless_uid,
                home: home.map(Path::to_path_buf),
                in_user_namespace: rootless_uid.is_some(),
            };
            assert_eq!(&default_path(&who), want, "{what}");
        }
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let err = Policy::load(Path::new("/nonexistent/policy.json")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/policy.json"),
            "{err}"
        );
    }
}
