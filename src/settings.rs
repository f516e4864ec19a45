//! Settings: the command line's typed arguments (`cli`), resolved once into what each command
//! runs with — defaults filled in, the config file read, the cache opened, the OpenPGP
//! implementation chosen. Nothing after this step looks at a flag again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache::{self, Cache};
use crate::cli::{CheckArgs, HookArgs, OpenPgp};
use crate::config::{self, Imageless, Mode};
use crate::invoker::Invoker;
use crate::verify::{self, Verifier};
use crate::{audit, decisions, policy, repeats, storage, words};

/// What the prestart hook runs with.
pub struct HookSettings {
    /// The policy file (`--policy`, else `policy::default_path`).
    pub policy: PathBuf,
    /// `--mode`, else the config file's `mode`, else enforce.
    pub mode: Mode,
    /// The config file's `imageless`, else `policy`; and the file, for reasons that name it.
    pub imageless: Imageless,
    pub config: PathBuf,
    /// Where audit records go: the journal (`--journal-socket`), syslog (`--syslog-socket`, else
    /// `/dev/log`), and the file for records neither takes (`--log-file`, else the config file's
    /// `log_file`, else `audit::file::default_path`).
    pub sinks: audit::Sinks,
    /// Where repeated denials are counted (`repeats`): under `--cache-dir`, else the cache's
    /// default directory; none if it is not private.
    pub repeats: Option<PathBuf>,
    /// The config file's `repeat_window`, else `repeats::DEFAULT_WINDOW`.
    pub repeat_window: Duration,
    /// The host UID the hook runs for (`Invoker`): a rootless user's, or 0.
    pub uid: u32,
    /// The verdict cache, unless `--no-cache` or no private directory could be had.
    pub cache: Option<Cache>,
    /// Where the last decision for each container is kept for `why` (`decisions`): under
    /// `--cache-dir`, else the cache's default directory; none if it is not private.
    pub decisions: Option<PathBuf>,
    /// How long everything after the hook starts may take before it denies (`--timeout`,
    /// default 10 s).
    pub timeout: Duration,
    pub verifier: Box<dyn Verifier>,
    /// Whether the hook runs for a rootless user (their store, their policy).
    pub rootless: bool,
    /// The UID host root's files have here (`Invoker::host_root_uid`).
    pub host_root: u32,
    /// Skip dropping capabilities (for callers that are not the hook process itself).
    pub keep_privileges: bool,
}

impl HookSettings {
    /// Resolves the hook's flags for `who`. Never fails: a config file that cannot be trusted is
    /// said on stderr, and the hook enforces.
    pub fn resolve(args: HookArgs, who: &Invoker) -> HookSettings {
        let config_path = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
        let config = trusted_config(&config_path, who);
        let mode = args.mode.or(config.mode).unwrap_or_default();
        let state_dir = args
            .cache_dir
            .clone()
            .or_else(|| cache::default_dir(who.rootless()));
        let cache = if args.no_cache {
            None
        } else {
            state_dir.as_deref().and_then(Cache::open)
        };
        let decisions = state_dir.as_deref().and_then(decisions::open);
        let repeats = state_dir.as_deref().and_then(repeats::open);
        let file = args
            .log_file
            .clone()
            .or(config.log_file.clone())
            .or_else(|| audit::file::default_path(who))
            .map(|path| audit::file::FileSink {
                path,
                max_bytes: config
                    .log_file_max_bytes
                    .unwrap_or(audit::file::DEFAULT_MAX_BYTES),
                make_dirs: who.rootless(),
            });
        HookSettings {
            policy: args.policy.unwrap_or_else(|| policy::default_path(who)),
            mode,
            imageless: config.imageless.unwrap_or_default(),
            config: config_path,
            sinks: audit::Sinks {
                journal: args
                    .journal_socket
                    .unwrap_or_else(|| audit::journal::DEFAULT_SOCKET.into()),
                syslog: args
                    .syslog_socket
                    .unwrap_or_else(|| audit::DEFAULT_SOCKET.into()),
                file,
            },
            repeats,
            repeat_window: config
                .repeat_window
                .map(Duration::from_secs)
                .unwrap_or(repeats::DEFAULT_WINDOW),
            uid: who.rootless_uid.unwrap_or(0),
            cache,
            decisions,
            timeout: args.timeout.unwrap_or(storage::LOCK_WAIT),
            verifier: verifier(args.openpgp),
            rootless: who.rootless(),
            host_root: who.host_root_uid(),
            keep_privileges: false,
        }
    }
}

/// What `check` runs with. The store's location is resolved when it is opened, since that reads
/// storage.conf and can fail.
pub struct CheckSettings {
    pub args: CheckArgs,
    /// The policy to evaluate (`--policy`, else `policy::default_path`).
    pub policy: PathBuf,
    /// For hints (`--registries.d`, else the system's or the user's).
    pub registries_d: PathBuf,
    pub verifier: Box<dyn Verifier>,
    /// The hook's config file's `imageless`, so that `check` judges image-less containers as
    /// the hook does; and that file.
    pub imageless: Imageless,
    pub config: PathBuf,
    /// The UID host root's files have here (`Invoker::host_root_uid`).
    pub host_root: u32,
}

impl CheckSettings {
    /// Resolves `check`'s flags for `who`.
    pub fn resolve(args: CheckArgs, who: &Invoker) -> CheckSettings {
        CheckSettings {
            policy: args
                .policy
                .clone()
                .unwrap_or_else(|| policy::default_path(who)),
            registries_d: args
                .registries_d
                .clone()
                .unwrap_or_else(crate::registries::default_dir),
            verifier: verifier(args.openpgp),
            imageless: trusted_config(Path::new(config::DEFAULT_CONFIG), who)
                .imageless
                .unwrap_or_default(),
            config: PathBuf::from(config::DEFAULT_CONFIG),
            host_root: who.host_root_uid(),
            args,
        }
    }
}

/// The OpenPGP implementation `which` names.
pub fn verifier(which: OpenPgp) -> Box<dyn Verifier> {
    match which {
        #[cfg(feature = "sequoia")]
        OpenPgp::Sequoia => Box::new(verify::sequoia::Sequoia),
        _ => Box::new(verify::gpg::Gpgme::new()),
    }
}

/// The hook's config file, if it can be trusted; else the defaults (enforce, `imageless =
/// "policy"`), said on stderr. The
/// file must belong to root: inside a rootless user's namespace, host root's files appear owned by
/// the overflow UID, and uid 0 there is the user, whose files do not count.
fn trusted_config(path: &Path, who: &Invoker) -> config::Config {
    match config::load(path, who.host_root_uid()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "oci-signature-hook: {}; using the defaults (enforce)",
                words::plain(&audit::sanitize(&e))
            );
            config::Config::default()
        }
    }
}
