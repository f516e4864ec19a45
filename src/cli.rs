//! Command-line arguments. Flag names follow skopeo's where they mean the same thing.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::config::Mode;

pub const USAGE: &str = "\
usage: oci-signature-hook [OPTIONS] < STATE
       oci-signature-hook check [CHECK OPTIONS] [IMAGE...]
       oci-signature-hook why [WHY OPTIONS] CONTAINER
       oci-signature-hook trust show [TRUST OPTIONS]

An OCI runtime hook (stage prestart): reads the container state on stdin, and exits 0 if the
container's image satisfies the signature policy, non-zero to block the container's start.

Options:
  --policy FILE           the signature policy (like skopeo --policy); default
                          /etc/containers/policy.json, or for a rootless user
                          ~/.config/containers/policy.json when it exists (as containers/image)
  --registries.d DIR      ignored; accepted for compatibility (like skopeo --registries.d):
                          the signatures checked are those in storage
  --syslog-socket PATH    where audit records go as syslog lines (default /dev/log)
  --journal-socket PATH   journald's native socket, where records go as structured
                          fields (default /run/systemd/journal/socket)
  --log-file PATH         where records go that neither socket took (default
                          /var/log/oci-signature-hook.log, or for a rootless user
                          ~/.local/state/oci-signature-hook/records.log)
  --mode MODE             enforce (block a start the policy rejects; the default) or warn
                          (allow it, and record that it would have been blocked)
  --config FILE           the hook's configuration (default
                          /etc/containers/oci-signature-hook.conf; used only if root-owned)
  --cache-dir DIR         where allows are cached (default /run/oci-signature-hook, or
                          $XDG_RUNTIME_DIR/oci-signature-hook for a rootless user)
  --no-cache              verify every time
  --openpgp IMPL          gpgme (the default, as containers/image) or sequoia (in-process;
                          only in builds with the sequoia feature)
  --timeout SECONDS       the longest the whole decision may take, counted from the hook's
                          start: lock waits, every gpg run, everything (default 10). When it
                          runs out, the hook ends the gpg processes it started, removes their
                          temporary GnuPG home, and denies, saying what it was waiting for (in
                          warn mode: records a would-deny and exits 0), within about a second.
                          Keep it below the hook's timeout in hooks.d (30 s)
  -h, --help              print this help
  -V, --version           print the version

check: evaluates local images (under each of their names) and existing containers (under the
name each was created from) against the policy, or a candidate one, and says what the hook would
block and how to fix it. Exits 0 if nothing would be blocked, 1 if something would, 2 on error.
  IMAGE...                images to check, by name or ID prefix (default: every image with a
                          name, and every container)
  -a, --all               also images without names (<none>: a build's intermediate images),
                          as podman images -a lists them
  --policy FILE           the policy to evaluate (default as above)
  --registries.d DIR      registries.d directory, for hints (default
                          /etc/containers/registries.d, or the user's own)
  --root DIR              the storage graph root (like podman --root)
  --runroot DIR           the storage run root (like podman --runroot)
  --storage-driver NAME   the storage driver (like podman --storage-driver)
  --format FORMAT         table (the default) or json
  --openpgp IMPL          as above
  -h, --help              print this help

why: shows the last decision the hook made for a container (by name, ID or ID prefix), with the
reason a blocked start was given: crun, unlike runc, does not show it. Exits 0 if the last
decision allowed the start, 1 if it blocked it, 2 if there is none.
  CONTAINER               the container's name, ID, or an ID prefix of 3 or more characters
  --cache-dir DIR         where the hook keeps its decisions (default as above)
  -h, --help              print this help

trust show: parses the policy exactly as the hook does and the hook's config file, lists each
transport scope with its requirements, and says of every key, CA and Rekor key file whether it
can be read and parses. Exits 0 if all is well, 3 if anything is wrong (the hook would deny
what that part of the policy covers), 2 on a usage error.
  --policy FILE           the policy (default as above)
  --config FILE           the hook's configuration (default as above)
  --json                  print the report as JSON
  --openpgp IMPL          the OpenPGP implementation that imports GPG keys (as above)
  -h, --help              print this help
";

/// What to do: the hook itself, or one of its commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Hook(HookArgs),
    Check(CheckArgs),
    Why(WhyArgs),
    Trust(TrustArgs),
    Help,
    Version,
}

/// `trust show`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustArgs {
    /// `--policy`, else the default policy.
    pub policy: Option<PathBuf>,
    /// `--config`, else the default config file.
    pub config: Option<PathBuf>,
    /// `--json`: the report as JSON.
    pub json: bool,
    /// `--openpgp`: which implementation imports GPG keys.
    pub openpgp: OpenPgp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookArgs {
    pub policy: Option<PathBuf>,
    pub registries_d: Option<PathBuf>,
    pub syslog_socket: Option<PathBuf>,
    pub journal_socket: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
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
    /// `-a`, `--all`: also images without names (skipped by default).
    pub all: bool,
    pub images: Vec<String>,
    pub openpgp: OpenPgp,
}

/// `why`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WhyArgs {
    pub container: String,
    pub cache_dir: Option<PathBuf>,
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

/// A flag as the parser and the help name it: `--long`, maybe `-s`, and what it sets. The
/// parser accepts exactly the flags of its table (a variant left out of the table is never
/// constructed, which the dead-code lint reports), and a test checks the help against them.
#[derive(Debug, Clone, Copy)]
struct Flag<T> {
    long: &'static str,
    short: Option<char>,
    what: T,
}

const fn flag<T>(long: &'static str, short: Option<char>, what: T) -> Flag<T> {
    Flag { long, short, what }
}

/// Hook mode's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookFlag {
    Policy,
    RegistriesD,
    SyslogSocket,
    JournalSocket,
    LogFile,
    Mode,
    Config,
    CacheDir,
    NoCache,
    OpenPgp,
    Timeout,
    Help,
    Version,
}

const HOOK_FLAGS: &[Flag<HookFlag>] = &[
    flag("policy", None, HookFlag::Policy),
    flag("registries.d", None, HookFlag::RegistriesD),
    flag("syslog-socket", None, HookFlag::SyslogSocket),
    flag("journal-socket", None, HookFlag::JournalSocket),
    flag("log-file", None, HookFlag::LogFile),
    flag("mode", None, HookFlag::Mode),
    flag("config", None, HookFlag::Config),
    flag("cache-dir", None, HookFlag::CacheDir),
    flag("no-cache", None, HookFlag::NoCache),
    flag("openpgp", None, HookFlag::OpenPgp),
    flag("timeout", None, HookFlag::Timeout),
    flag("help", Some('h'), HookFlag::Help),
    flag("version", Some('V'), HookFlag::Version),
];

/// `check`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckFlag {
    All,
    Policy,
    RegistriesD,
    Root,
    Runroot,
    StorageDriver,
    Format,
    OpenPgp,
    Help,
}

const CHECK_FLAGS: &[Flag<CheckFlag>] = &[
    flag("all", Some('a'), CheckFlag::All),
    flag("policy", None, CheckFlag::Policy),
    flag("registries.d", None, CheckFlag::RegistriesD),
    flag("root", None, CheckFlag::Root),
    flag("runroot", None, CheckFlag::Runroot),
    flag("storage-driver", None, CheckFlag::StorageDriver),
    flag("format", None, CheckFlag::Format),
    flag("openpgp", None, CheckFlag::OpenPgp),
    flag("help", Some('h'), CheckFlag::Help),
];

/// `why`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhyFlag {
    CacheDir,
    Help,
}

const WHY_FLAGS: &[Flag<WhyFlag>] = &[
    flag("cache-dir", None, WhyFlag::CacheDir),
    flag("help", Some('h'), WhyFlag::Help),
];

/// `trust show`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrustFlag {
    Policy,
    Config,
    Json,
    OpenPgp,
    Help,
}

const TRUST_FLAGS: &[Flag<TrustFlag>] = &[
    flag("policy", None, TrustFlag::Policy),
    flag("config", None, TrustFlag::Config),
    flag("json", None, TrustFlag::Json),
    flag("openpgp", None, TrustFlag::OpenPgp),
    flag("help", Some('h'), TrustFlag::Help),
];

/// What `arg` is in `flags`, or the error for an argument nobody expects.
fn lookup<T: Copy>(flags: &[Flag<T>], arg: lexopt::Arg<'_>) -> Result<T, String> {
    flags
        .iter()
        .find(|f| match arg {
            Long(l) => l == f.long,
            Short(c) => f.short == Some(c),
            Value(_) => false,
        })
        .map(|f| f.what)
        .ok_or_else(|| arg.unexpected().to_string())
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut hook = HookArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        if matches!(&arg, Value(v) if v == "check") {
            return parse_check(&mut p);
        }
        if matches!(&arg, Value(v) if v == "why") {
            return parse_why(&mut p);
        }
        if matches!(&arg, Value(v) if v == "trust") {
            return parse_trust(&mut p);
        }
        match lookup(HOOK_FLAGS, arg)? {
            HookFlag::Policy => hook.policy = Some(value(&mut p)?.into()),
            HookFlag::RegistriesD => hook.registries_d = Some(value(&mut p)?.into()),
            HookFlag::SyslogSocket => hook.syslog_socket = Some(value(&mut p)?.into()),
            HookFlag::JournalSocket => hook.journal_socket = Some(value(&mut p)?.into()),
            HookFlag::LogFile => hook.log_file = Some(value(&mut p)?.into()),
            HookFlag::Mode => hook.mode = Some(string(&mut p)?.parse()?),
            HookFlag::Config => hook.config = Some(value(&mut p)?.into()),
            HookFlag::CacheDir => hook.cache_dir = Some(value(&mut p)?.into()),
            HookFlag::NoCache => hook.no_cache = true,
            HookFlag::OpenPgp => hook.openpgp = openpgp(&mut p)?,
            HookFlag::Timeout => {
                let secs: f64 = string(&mut p)?
                    .parse()
                    .map_err(|_| "--timeout takes a number of seconds".to_string())?;
                if !(0.0..=3600.0).contains(&secs) {
                    return Err("--timeout must be between 0 and 3600 seconds".into());
                }
                hook.timeout = Some(std::time::Duration::from_secs_f64(secs));
            }
            HookFlag::Help => return Ok(Command::Help),
            HookFlag::Version => return Ok(Command::Version),
        }
    }
    Ok(Command::Hook(hook))
}

fn parse_check(p: &mut lexopt::Parser) -> Result<Command, String> {
    let mut c = CheckArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        if let Value(v) = arg {
            c.images.push(
                v.into_string()
                    .map_err(|v| format!("{v:?} is not valid UTF-8"))?,
            );
            continue;
        }
        match lookup(CHECK_FLAGS, arg)? {
            CheckFlag::All => c.all = true,
            CheckFlag::Policy => c.policy = Some(value(p)?.into()),
            CheckFlag::RegistriesD => c.registries_d = Some(value(p)?.into()),
            CheckFlag::Root => c.root = Some(value(p)?.into()),
            CheckFlag::Runroot => c.runroot = Some(value(p)?.into()),
            CheckFlag::StorageDriver => c.storage_driver = Some(string(p)?),
            CheckFlag::Format => {
                c.format = match string(p)?.as_str() {
                    "table" => Format::Table,
                    "json" => Format::Json,
                    other => return Err(format!("invalid format {other:?} (table or json)")),
                }
            }
            CheckFlag::OpenPgp => c.openpgp = openpgp(p)?,
            CheckFlag::Help => return Ok(Command::Help),
        }
    }
    if c.all && !c.images.is_empty() {
        return Err("name images or pass --all, not both".into());
    }
    Ok(Command::Check(c))
}

fn parse_why(p: &mut lexopt::Parser) -> Result<Command, String> {
    let mut w = WhyArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        if let Value(v) = arg {
            if !w.container.is_empty() {
                return Err("why takes one container".into());
            }
            w.container = v
                .into_string()
                .map_err(|v| format!("{v:?} is not valid UTF-8"))?;
            continue;
        }
        match lookup(WHY_FLAGS, arg)? {
            WhyFlag::CacheDir => w.cache_dir = Some(value(p)?.into()),
            WhyFlag::Help => return Ok(Command::Help),
        }
    }
    if w.container.is_empty() {
        return Err("why needs a container name or ID".into());
    }
    Ok(Command::Why(w))
}

/// `trust show` (podman's `image trust show` spelling); `trust` alone says what it takes.
fn parse_trust(p: &mut lexopt::Parser) -> Result<Command, String> {
    match p.next().map_err(|e| e.to_string())? {
        Some(Value(v)) if v == "show" => {}
        Some(Long("help") | Short('h')) => return Ok(Command::Help),
        _ => return Err("trust takes a command: trust show".into()),
    }
    let mut t = TrustArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match lookup(TRUST_FLAGS, arg)? {
            TrustFlag::Policy => t.policy = Some(value(p)?.into()),
            TrustFlag::Config => t.config = Some(value(p)?.into()),
            TrustFlag::Json => t.json = true,
            TrustFlag::OpenPgp => t.openpgp = openpgp(p)?,
            TrustFlag::Help => return Ok(Command::Help),
        }
    }
    Ok(Command::Trust(t))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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
                journal_socket: None,
                log_file: None,
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

    /// The flags a section of the help lists, from the first column of its option lines
    /// (`-a, --all`, `--policy FILE`), each with its value's name if it takes one.
    fn help_flags(section: &str) -> Vec<(String, Option<String>)> {
        let mut flags = Vec::new();
        for line in section.lines().filter(|l| l.starts_with("  -")) {
            let column = line.trim_start().split("  ").next().unwrap();
            for spelling in column.split(", ") {
                let mut words = spelling.split(' ');
                let name = words.next().unwrap().to_string();
                flags.push((name, words.next().map(str::to_string)));
            }
        }
        flags
    }

    fn table_flags<T>(table: &[Flag<T>]) -> BTreeSet<String> {
        table
            .iter()
            .flat_map(|f| {
                std::iter::once(format!("--{}", f.long)).chain(f.short.map(|c| format!("-{c}")))
            })
            .collect()
    }

    /// The help lists exactly the flags the parser accepts, for the hook and for `check`, and a
    /// flag takes a value exactly when the help names one.
    #[test]
    fn the_help_lists_exactly_the_flags_the_parser_accepts() {
        let (hook, rest) = USAGE
            .split_once("\ncheck:")
            .expect("the help has a check section");
        let (check, rest) = rest
            .split_once("\nwhy:")
            .expect("the help has a why section");
        let (why, trust) = rest
            .split_once("\ntrust show:")
            .expect("the help has a trust show section");
        let hook = hook
            .split_once("\nOptions:\n")
            .expect("an Options section")
            .1;
        for (section, table, prefix) in [
            (hook, table_flags(HOOK_FLAGS), &[][..]),
            (check, table_flags(CHECK_FLAGS), &["check"][..]),
            (why, table_flags(WHY_FLAGS), &["why", "web"][..]),
            (trust, table_flags(TRUST_FLAGS), &["trust", "show"][..]),
        ] {
            let listed = help_flags(section);
            let names: BTreeSet<String> = listed.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(
                names, table,
                "the help and the parser disagree ({prefix:?})"
            );
            assert_eq!(
                names.len(),
                listed.len(),
                "a flag listed twice ({prefix:?})"
            );
            for (name, metavar) in &listed {
                let with = |extra: &[&str]| {
                    let mut a: Vec<&str> = prefix.to_vec();
                    a.push(name);
                    a.extend_from_slice(extra);
                    args(&a)
                };
                match metavar.as_deref() {
                    None => assert!(with(&[]).is_ok(), "{prefix:?} {name}"),
                    Some(m) => {
                        let sample = match m {
                            "MODE" => "warn",
                            "FORMAT" => "json",
                            "IMPL" => "gpgme",
                            "SECONDS" => "5",
                            _ => "/x",
                        };
                        assert!(with(&[sample]).is_ok(), "{prefix:?} {name} {sample}");
                        assert!(with(&[]).is_err(), "{prefix:?} {name} needs a value");
                    }
                }
            }
        }
    }

    #[test]
    fn parses_trust_show() {
        type Case<'a> = (&'a [&'a str], Result<Command, ()>);
        let t = |policy: Option<&str>, config: Option<&str>, json: bool| {
            Ok(Command::Trust(TrustArgs {
                policy: policy.map(PathBuf::from),
                config: config.map(PathBuf::from),
                json,
                openpgp: OpenPgp::Gpgme,
            }))
        };
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (&["trust", "show"], t(None, None, false)),
            (&["trust", "show", "--policy", "/p", "--config=/c", "--json"], t(Some("/p"), Some("/c"), true)),
            (&["trust", "show", "--openpgp", "gpgme"], t(None, None, false)),
            (&["trust", "show", "-h"], Ok(Command::Help)),
            (&["trust", "--help"], Ok(Command::Help)),
            (&["trust"], Err(())),
            (&["trust", "list"], Err(())),
            (&["trust", "show", "extra"], Err(())),
            (&["trust", "show", "--all"], Err(())),
            (&["trust", "show", "--policy"], Err(())),
        ];
        for (argv, want) in cases {
            assert_eq!(&args(argv).map_err(|_| ()), want, "{argv:?}");
        }
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
        assert_eq!(args(&["check", "-a"]).unwrap(), Command::Check(c));
    }
}
