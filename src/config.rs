//! The hook's own configuration file, `/etc/containers/oci-signature-hook.conf` (TOML), which an
//! admin uses to set the mode without editing the hooks.d JSON:
//!
//! ```toml
//! mode = "warn"          # or "enforce" (the default)
//! imageless = "policy"   # or "allow", "deny": containers without an image (`podman run --rootfs`)
//! repeat_window = 60     # seconds in which a repeated deny of a container is counted, not logged
//! log_file = "/var/log/oci-signature-hook.log"  # for records no syslog or journal took
//! log_file_max_bytes = 1048576                  # rotated once, to <log_file>.1, past this
//! ```
//!
//! Only a regular file owned by root and writable by nobody else is used: nothing a container's
//! creator controls may loosen the verdict, and warn mode loosens it.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/containers/oci-signature-hook.conf";
const MAX_CONFIG_BYTES: u64 = 64 << 10;

/// Enforce blocks a start the policy rejects; warn only records that it would have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Warn,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "warn" => Ok(Mode::Warn),
            other => Err(format!("invalid mode {other:?} (enforce or warn)")),
        }
    }
}

/// What to do with a container that has no image (`podman run --rootfs DIR`, a `podman build`
/// step `FROM scratch`): there are no signatures to verify, so the hook cannot judge one as it
/// judges an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Imageless {
    /// Judge it as an image without a name or signatures: by the policy's default requirements
    /// (the docker transport's `""` scope, else `default`). A policy whose default is
    /// `insecureAcceptAnything` allows it; `reject` or `signedBy` denies it.
    #[default]
    Policy,
    /// Allow it, with an audit record.
    Allow,
    /// Deny it.
    Deny,
}

impl Imageless {
    /// The setting as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Imageless::Policy => "policy",
            Imageless::Allow => "allow",
            Imageless::Deny => "deny",
        }
    }
}

/// The file's settings; each is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub imageless: Option<Imageless>,
    /// Seconds in which a deny that repeats a container's last record is counted rather than
    /// written (`repeats`); 0 writes every record. Default 60.
    #[serde(default)]
    pub repeat_window: Option<u64>,
    /// The file for records neither the journal nor syslog took (`audit::file`).
    #[serde(default)]
    pub log_file: Option<std::path::PathBuf>,
    /// Bytes past which that file is rotated (at least `audit::file::MIN_MAX_BYTES`).
    #[serde(default)]
    pub log_file_max_bytes: Option<u64>,
}

/// Reads the config at `path`. A missing file is the default config. A file that is not
/// root-owned, is writable by others, or does not parse is an error: the caller then enforces.
pub fn load(path: &Path, root_uid: u32) -> Result<Config, String> {
    // Opened without blocking: a FIFO in its place is refused, not waited on.
    let file = match crate::files::open_regular(path, true) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => match crate::files::kind(&e) {
            Some(kind) => return Err(format!("{path:?} is not a regular file ({kind})")),
            None => return Err(format!("cannot read {path:?}: {}", crate::words::io(&e))),
        },
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {path:?}: {}", crate::words::io(&e)))?;
    if meta.uid() != root_uid || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{path:?} is not owned by root or is writable by others; ignoring it"
        ));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let config: Config =
        basic_toml::from_str(&text).map_err(|e| format!("invalid {path:?}: {e}"))?;
    if let Some(n) = config.log_file_max_bytes {
        if n < crate::audit::file::MIN_MAX_BYTES {
            return Err(format!(
                "invalid {path:?}: log_file_max_bytes must be at least {}",
                crate::audit::file::MIN_MAX_BYTES
            ));
        }
    }
    if config.repeat_window.is_some_and(|w| w > 86_400) {
        return Err(format!(
            "invalid {path:?}: repeat_window must be at most 86400 seconds"
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mode() {
        assert_eq!(
            basic_toml::from_str::<Config>("mode = \"warn\"")
                .unwrap()
                .mode,
            Some(Mode::Warn)
        );
        assert_eq!(
            basic_toml::from_str::<Config>("").unwrap(),
            Config::default()
        );
        assert!(basic_toml::from_str::<Config>("mode = \"off\"").is_err());
        for (text, want) in [
            ("imageless = \"allow\"", Imageless::Allow),
            ("imageless = \"deny\"", Imageless::Deny),
            ("imageless = \"policy\"", Imageless::Policy),
        ] {
            let c = basic_toml::from_str::<Config>(text).unwrap();
            assert_eq!(c.imageless, Some(want), "{text}");
            assert_eq!(want.as_str(), text.split('"').nth(1).unwrap());
        }
        assert!(basic_toml::from_str::<Config>("imageless = \"yes\"").is_err());
        assert!(basic_toml::from_str::<Config>("other = 1").is_err());
        let c = basic_toml::from_str::<Config>(
            "repeat_window = 5\nlog_file = \"/l\"\nlog_file_max_bytes = 2048",
        )
        .unwrap();
        assert_eq!(
            (c.repeat_window, c.log_file, c.log_file_max_bytes),
            (Some(5), Some("/l".into()), Some(2048))
        );
        assert!(basic_toml::from_str::<Config>("repeat_window = -1").is_err());
        assert_eq!("warn".parse::<Mode>(), Ok(Mode::Warn));
        assert!("Warn".parse::<Mode>().is_err());
    }

    #[test]
    fn only_a_root_owned_file_counts() {
        let dir = std::env::temp_dir().join(format!("osh-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.conf");
        std::fs::write(&p, "mode = \"warn\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let root = MetadataExt::uid(&std::fs::metadata(&p).unwrap()) == 0;
        if root {
            assert_eq!(load(&p, 0).unwrap().mode, Some(Mode::Warn));
            for (text, ok) in [
                ("log_file_max_bytes = 1024\n", true),
                ("log_file_max_bytes = 1023\n", false),
                ("repeat_window = 86400\n", true),
                ("repeat_window = 86401\n", false),
            ] {
                std::fs::write(&p, text).unwrap();
                assert_eq!(load(&p, 0).is_ok(), ok, "{text}");
            }
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        assert!(
            load(&p, 0).is_err(),
            "group/world-writable or foreign-owned config must not count"
        );
        assert_eq!(
            load(&dir.join("missing.conf"), 0).unwrap(),
            Config::default()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_or_a_directory_is_refused_without_waiting() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("hook.conf");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let e = load(&fifo, 0).unwrap_err();
        assert!(e.ends_with("is not a regular file (a FIFO)"), "{e}");
        let e = load(d.path(), 0).unwrap_err();
        assert!(e.ends_with("is not a regular file (a directory)"), "{e}");
    }
}
