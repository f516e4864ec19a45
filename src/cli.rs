//! Command-line arguments. Flag names follow skopeo's where they mean the same thing.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::config::Mode;

pub const USAGE: &str = "\
usage: oci-signature-hook [OPTIONS] < STATE

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
  -h, --help              print this help
  -V, --version           print the version
";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Hook(HookArgs),
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
}

fn value(p: &mut lexopt::Parser) -> Result<OsString, String> {
    p.value().map_err(|e| e.to_string())
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut hook = HookArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("policy") => hook.policy = Some(value(&mut p)?.into()),
            Long("registries.d") => hook.registries_d = Some(value(&mut p)?.into()),
            Long("syslog-socket") => hook.syslog_socket = Some(value(&mut p)?.into()),
            Long("mode") => {
                hook.mode = Some(
                    value(&mut p)?
                        .string()
                        .map_err(|e| e.to_string())?
                        .parse()?,
                )
            }
            Long("config") => hook.config = Some(value(&mut p)?.into()),
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Command::Hook(hook))
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
    }
}
