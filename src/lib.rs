//! oci-signature-hook: an OCI runtime hook that refuses to start a container whose image does not
//! satisfy the host's `containers-policy.json`.
//!
//! The pipeline, one pass: OCI state on stdin (`state`) → containers/storage, from the container
//! to its image's manifest and signatures (`storage`) → the requirements for the image's reference
//! (`policy`) → verification (`verify`) → the verdict (`verdict`) → audit record and exit code
//! (`audit`, `exit`). `hook` runs it for one container start; `check` runs the same verdict over
//! a whole store. `docs/architecture.md` walks through it.
//!
//! | module | what it holds |
//! | --- | --- |
//! | `cli`, `settings` | flags as typed arguments; resolved once into settings |
//! | `hook` | the prestart command: state → verdict → audit → exit code |
//! | `deadline`, `residue` | `--timeout` for the whole decision; no GnuPG home or gpg outlives the hook |
//! | `check` | what the hook would block, with hints |
//! | `trust` | `trust show`: the policy as the hook reads it, its key files and the config checked |
//! | `why`, `decisions` | the last decision for a container, for runtimes that hide the reason |
//! | `verdict` | the one decision, the fail-closed rule, typed deny reasons |
//! | `state` | the OCI state on stdin |
//! | `storage` | containers/storage, read-only and bounded |
//! | `policy` | `containers-policy.json`: parsing, scopes, identities |
//! | `reference` | docker references, as containers/image normalizes them |
//! | `signature`, `manifest` | stored signature blobs and payloads; manifests and digests |
//! | `verify` | requirement evaluation; OpenPGP through gpgme (or Sequoia) |
//! | `cache` | remembered allows, keyed by every input of the verdict |
//! | `audit`, `repeats` | records to the journal, syslog or a file, and escaping; repeated denials counted |
//! | `config`, `invoker`, `privilege`, `registries` | the config file, the user, least privilege, registries.d |
//! | `words` | messages in words podman does not misread |

pub mod audit;
pub mod build;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod deadline;
pub mod decisions;
pub mod exit;
pub mod files;
pub mod hook;
pub mod infra;
pub mod invoker;
mod json;
pub mod manifest;
pub mod policy;
pub mod privilege;
pub mod reference;
pub mod registries;
pub mod repeats;
pub mod residue;
pub mod settings;
pub mod signature;
pub mod state;
pub mod storage;
#[cfg(test)]
pub(crate) mod testing;
pub mod trust;
pub mod verdict;
pub mod verify;
pub mod why;
pub mod words;

use std::ffi::OsString;

pub use exit::Exit;
use settings::{CheckSettings, HookSettings};

/// Runs the program with `args` (without the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> Exit {
    match cli::parse(args) {
        Err(e) => {
            eprintln!("oci-signature-hook: {e}\n\n{}", cli::USAGE);
            Exit::Usage
        }
        Ok(cli::Command::Help) => {
            print!("{}", cli::USAGE);
            Exit::Allow
        }
        Ok(cli::Command::Version) => {
            println!("oci-signature-hook {}", env!("CARGO_PKG_VERSION"));
            Exit::Allow
        }
        Ok(cli::Command::Check(args)) => {
            let who = invoker::detect();
            check::run(&CheckSettings::resolve(args, &who), &who)
        }
        Ok(cli::Command::Why(args)) => {
            let who = invoker::detect();
            why::run(&args, &who)
        }
        Ok(cli::Command::Trust(args)) => {
            let who = invoker::detect();
            trust::run(&args, &who)
        }
        Ok(cli::Command::Hook(args)) => {
            // --timeout counts from here.
            let started = std::time::Instant::now();
            let who = invoker::detect();
            let settings = HookSettings::resolve(args, &who);
            hook::run_watched(started, &settings, std::io::stdin().lock())
        }
    }
}
