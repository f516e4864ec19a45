//! The process exit code. A runtime treats any non-zero exit of a hook as a failed hook and does
//! not start the container (OCI runtime spec, "POSIX-platform Hooks").

/// What the process exits with: `0` allow, `1` deny (also for every error before a verdict), `2`
/// a usage error (and, for `check`, a policy or store it cannot read), `3` a problem `trust show`
/// found in the policy, its key files or the config file (the hook would deny what it affects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Allow = 0,
    Deny = 1,
    Usage = 2,
    /// `trust show` found a problem.
    Problem = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(
            (
                Exit::Allow as u8,
                Exit::Deny as u8,
                Exit::Usage as u8,
                Exit::Problem as u8
            ),
            (0, 1, 2, 3)
        );
    }
}
