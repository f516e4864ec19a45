//! Command-line arguments. Flag names follow skopeo's where they mean the same thing.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::config::Mode;

pub const USAGE: &str = "\
usage: oci-signature-hook [OPTIONS] < STATE
       oci-signature-hook check [CHECK OPTIONS] [IMAGE...]

An OCI runtime hook (stage prestart): reads the container state on stdin, and exits 0 if the
container's image satisfies the signature policy, non-zero to block the container's start.

Options:
  --policy FILE           the signature policy (like skopeo --policy); default
                          /etc/containers/policy.json, or for a rootless user
                          $XDG_CONFIG_HOME/containers/policy.json or
                          ~/.config/containers/policy.json when it exists
  --registries.d DIR      registries.d directory (like skopeo --registries.d)
  --syslog-socket PATH    where audit records go (default /dev/log)
  --mode MODE             enforce (block a start the policy rejects; the default) or warn
                          (allow it, and record that it would have been blocked)
  --config FILE           the hook's configuration (default
                          /etc/containers/oci-signature-hook.conf; used only if root-owned)
  --cache-dir DIR         where allows are cached (default /run/oci-signature-hook, or
                          $XDG_RUNTIME_DIR/oci-signature-hook for a rootless user)
  --no-cache              verify every time
  --openpgp IMPL          gpgme (the default, as containers/image) or sequoia (in-process;
                          only in builds with the sequoia feature)
  --timeout SECONDS       how long to wait for the store's locks before denying (default 10;
                          keep it below the hook's timeout in hooks.d)
  -h, --help              print this help
  -V, --version           print the version

check: evaluates local images (under each of their names) and existing containers (under the
name each was created from) against the policy, or a candidate one, and says what the hook would
block and how to fix it. Exits 0 if nothing would be blocked, 1 if something would, 2 on error.
  IMAGE...                images to check, by name or ID prefix (default: --all)
  --all                   every image and every container
  --policy FILE           the policy to evaluate (default as above)
  --registries.d DIR      registries.d directory, for hints (default
                          /etc/containers/registries.d, or the user's own)
  --root DIR              the storage graph root (like podman --root)
  --runroot DIR           the storage run root (like podman --runroot)
  --storage-driver NAME   the storage driver (like podman --storage-driver)
  --format FORMAT         table (the default) or json
  --openpgp IMPL          as above
";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Hook(HookArgs),
    Check(CheckArgs),
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookArgs {
    pub policy: Option<PathBuf>,
    pub registries_d: Option<PathBuf>,
    pub syslog_socket: Option<PathBuf>,
    pub mode: Option<Mode>,
    pub config: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: bool,
    pub openpgp: OpenPgp,
    pub timeout: Option<std::time::Duration>,
}

/// Which OpenPGP implementation verifies signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenPgp {
    #[default]
    Gpgme,
    Sequoia,
}

fn openpgp(p: &mut lexopt::Parser) -> Result<OpenPgp, String> {
    match string(p)?.as_str() {
        "gpgme" => Ok(OpenPgp::Gpgme),
        "sequoia" if cfg!(feature = "sequoia") => Ok(OpenPgp::Sequoia),
        "sequoia" => {
            Err("this build has no Sequoia verifier (build with --features sequoia)".into())
        }
        other => Err(format!("invalid --openpgp {other:?} (gpgme or sequoia)")),
    }
}

/// `check`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckArgs {
    pub policy: Option<PathBuf>,
    pub registries_d: Option<PathBuf>,
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub storage_driver: Option<String>,
    pub format: Format,
    pub all: bool,
    pub images: Vec<String>,
    pub openpgp: OpenPgp,
}

/// `check`'s output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

fn value(p: &mut lexopt::Parser) -> Result<OsString, String> {
    p.value().map_err(|e| e.to_string())
}

fn string(p: &mut lexopt::Parser) -> Result<String, String> {
    value(p)?
        .into_string()
        .map_err(|v| format!("{v:?} is not valid UTF-8"))
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut hook = HookArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Value(v) if v == "check" => return parse_check(&mut p),
            Long("policy") => hook.policy = Some(value(&mut p)?.into()),
            Long("registries.d") => hook.registries_d = Some(value(&mut p)?.into()),
            Long("syslog-socket") => hook.syslog_socket = Some(value(&mut p)?.into()),
            Long("mode") => hook.mode = Some(string(&mut p)?.parse()?),
            Long("config") => hook.config = Some(value(&mut p)?.into()),
            Long("cache-dir") => hook.cache_dir = Some(value(&mut p)?.into()),
            Long("no-cache") => hook.no_cache = true,
            Long("openpgp") => hook.openpgp = openpgp(&mut p)?,
            Long("timeout") => {
                let secs: f64 = string(&mut p)?
                    .parse()
                    .map_err(|_| "--timeout takes a number of seconds".to_string())?;
                if !(0.0..=3600.0).contains(&secs) {
                    return Err("--timeout must be between 0 and 3600 seconds".into());
                }
                hook.timeout = Some(std::time::Duration::from_secs_f64(secs));
            }
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Command::Hook(hook))
}

fn parse_check(p: &mut lexopt::Parser) -> Result<Command, String> {
    let mut c = CheckArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("policy") => c.policy = Some(value(p)?.into()),
            Long("registries.d") => c.registries_d = Some(value(p)?.into()),
            Long("root") => c.root = Some(value(p)?.into()),
            Long("runroot") => c.runroot = Some(value(p)?.into()),
            Long("storage-driver") => c.storage_driver = Some(string(p)?),
            Long("format") => {
                c.format = match string(p)?.as_str() {
                    "table" => Format::Table,
                    "json" => Format::Json,
                    other => return Err(format!("invalid format {other:?} (table or json)")),
                }
            }
            Long("all") | Short('a') => c.all = true,
            Long("openpgp") => c.openpgp = openpgp(p)?,
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(v) => c.images.push(
                v.into_string()
                    .map_err(|v| format!("{v:?} is not valid UTF-8"))?,
            ),
            other => return Err(other.unexpected().to_string()),
        }
    }
    if c.all && !c.images.is_empty() {
        return Err("name images or pass --all, not both".into());
    }
    Ok(Command::Check(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Command, String> {
        parse(a.iter().map(OsString::from))
    }

    #[test]
    fn parses_skopeo_style_flags() {
        assert_eq!(args(&[]).unwrap(), Command::Hook(HookArgs::default()));
        let c = args(&[
            "--policy",
            "/p.json",
            "--registries.d=/r",
            "--syslog-socket",
            "/s",
        ])
        .unwrap();
        assert_eq!(
            c,
            Command::Hook(HookArgs {
                policy: Some("/p.json".into()),
                registries_d: Some("/r".into()),
                syslog_socket: Some("/s".into()),
                mode: None,
                config: None,
                cache_dir: None,
                no_cache: false,
                openpgp: OpenPgp::Gpgme,
                timeout: None,
            })
        );
        let Command::Hook(h) = args(&["--mode", "warn", "--config", "/c"]).unwrap() else {
            panic!()
        };
        assert_eq!((h.mode, h.config), (Some(Mode::Warn), Some("/c".into())));
        assert!(args(&["--mode", "off"]).is_err());
        assert_eq!(args(&["--help"]).unwrap(), Command::Help);
        assert_eq!(args(&["-V"]).unwrap(), Command::Version);
    }

    #[test]
    fn rejects_unknown_arguments() {
        assert!(args(&["--polcy", "x"]).is_err());
        assert!(args(&["--policy"]).is_err());
        assert!(args(&["extra"]).is_err());
        assert!(args(&["check", "--mode", "warn"]).is_err());
        assert!(args(&["check", "--format", "yaml"]).is_err());
        assert!(args(&["check", "--all", "busybox"]).is_err());
    }

    #[test]
    fn parses_check() {
        assert_eq!(
            args(&["check"]).unwrap(),
            Command::Check(CheckArgs::default())
        );
        let Command::Check(c) = args(&[
            "check",
            "--root=/r",
            "--runroot",
            "/rr",
            "--storage-driver",
            "vfs",
            "--format",
            "json",
            "--policy",
            "/p",
            "busybox",
            "quay.io/a/b:1",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.root, Some("/r".into()));
        assert_eq!(c.runroot, Some("/rr".into()));
        assert_eq!(c.storage_driver.as_deref(), Some("vfs"));
        assert_eq!(c.format, Format::Json);
        assert_eq!(c.policy, Some("/p".into()));
        assert_eq!(c.images, ["busybox", "quay.io/a/b:1"]);
        let Command::Check(c) = args(&["check", "--all"]).unwrap() else {
            panic!()
        };
        assert!(c.all);
    }
}
