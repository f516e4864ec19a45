//! oci-signature-hook: blocks a container start whose image fails the signature policy.

use std::process::ExitCode;

fn main() -> ExitCode {
    oci_signature_hook::run(std::env::args_os().skip(1)).into()
}
