//! Integration tests: the built hook against real podman storage, real GPG signatures made by
//! skopeo and gpg, real `podman run` with the hook installed through `--hooks-dir`, and
//! `podman pull --signature-policy` as the reference verdict.
//!
//! They need root and the packages `.ci/run` installs; `tests/run.sh` runs them.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

mod audit;
mod bad_input;
mod cache;
mod check;
mod crio;
mod differential;
mod gpg;
mod hardened;
mod identity;
mod lifecycle;
mod podman5;
mod podman_run;
mod rootless;
mod sigstore;
mod trust;
