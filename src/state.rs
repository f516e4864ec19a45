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

/// Reads and checks the state from `r` (bounded).
pub fn read(r: impl Read) -> Result<ContainerState, String> {
    let mut bytes = Vec::new();
    r.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the container state from stdin: {e}"))?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(format!(
            "container state on stdin is larger than {MAX_STATE_BYTES} bytes"
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(
            "no container state on stdin (the hook is run by an OCI runtime, which writes it)"
                .into(),
        );
    }
    let state: State = serde_json::from_slice(&bytes)
        .map_err(|e| format!("invalid container state on stdin: {e}"))?;
    if state.id().is_empty() {
        return Err("container state on stdin has no id".into());
    }
    if state.bundle().as_os_str().is_empty() {
        return Err("container state on stdin has no bundle".into());
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
        assert!(read(&huge[..]).unwrap_err().contains("larger"));
    }
}
