//! The OCI container state a runtime writes to a hook's standard input.
//!
//! Ref: OCI runtime spec `runtime.md` ("State") and `config.md` ("POSIX-platform Hooks").

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use oci_spec::runtime::State;

/// An OCI state is a few hundred bytes; annotations may add some.
pub const MAX_STATE_BYTES: u64 = 1 << 20;

/// The parts of the state the hook uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    /// Set by the engine (CRI-O names the image in them) and, through it, by users: they may only
    /// ever make a verdict stricter.
    pub annotations: HashMap<String, String>,
}

/// Why the state on stdin cannot be used. Every one denies the start: without the state the hook
/// does not know which container it is judging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the container state from stdin: {0}")]
    Read(String),
    #[error("container state on stdin is larger than {MAX_STATE_BYTES} bytes")]
    TooLarge,
    #[error("no container state on stdin (the hook is run by an OCI runtime, which writes it)")]
    Empty,
    #[error("invalid container state on stdin: {0}")]
    Invalid(String),
    #[error("container state on stdin has no id")]
    NoId,
    #[error("container state on stdin has no bundle")]
    NoBundle,
}

/// Reads and checks the state from `r`: at most `MAX_STATE_BYTES`, JSON as the OCI runtime spec's
/// state, with a non-empty `id` and `bundle`.
pub fn read(r: impl Read) -> Result<ContainerState, StateError> {
    let mut bytes = Vec::new();
    r.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StateError::Read(e.to_string()))?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(StateError::TooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(StateError::Empty);
    }
    let state: State =
        serde_json::from_slice(&bytes).map_err(|e| StateError::Invalid(e.to_string()))?;
    if state.id().is_empty() {
        return Err(StateError::NoId);
    }
    if state.bundle().as_os_str().is_empty() {
        return Err(StateError::NoBundle);
    }
    Ok(ContainerState {
        id: state.id().clone(),
        bundle: state.bundle().clone(),
        annotations: state.annotations().clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_runtime_state() {
        let s = br#"{"ociVersion":"1.0.2-dev","id":"abc","status":"created","pid":42,"bundle":"/b/userdata","annotations":{"a":"b"}}"#;
        let st = read(&s[..]).unwrap();
        assert_eq!(
            (st.id.as_str(), st.bundle.to_str()),
            ("abc", Some("/b/userdata"))
        );
        assert_eq!(st.annotations.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn rejects_bad_states() {
        for s in [
            &b""[..],
            b"  \n",
            b"garbage",
            b"{",
            br#"{"id":"abc"}"#,
            br#"{"bundle":"/b"}"#,
            br#"{"id":"abc","bundle":"/b","status":"weird"}"#,
            br#"[]"#,
        ] {
            assert!(read(s).is_err(), "{}", String::from_utf8_lossy(s));
        }
        let huge = vec![b' '; (MAX_STATE_BYTES + 10) as usize];
        assert_eq!(read(&huge[..]).unwrap_err(), StateError::TooLarge);
    }
}
