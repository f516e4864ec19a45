//! The hook's own words for what went wrong, so that podman does not misread them.
//!
//! runc quotes a failed hook's stderr in its error, and podman guesses what happened from that
//! text: "permission denied" and "operation not permitted" become "OCI permission denied";
//! "no such file or directory", "executable file not found in" and (podman 5) "open executable"
//! become "OCI runtime attempted to invoke a command that was not found", and any text with "not
//! found" or "no such file" makes `podman run` exit 127 instead of 126 (podman
//! `libpod/oci_util.go` `getOCIRuntimeError`, `libpod/define/exec_codes.go` `ExitCode`). The hook
//! never says these: [`io()`] describes an I/O error in its own words, and [`plain`] rewrites any
//! text that reaches stderr or an audit record (a message of gpg's, say) as a last resort.

use std::io;

/// What podman pattern-matches, lowercase, with the hook's words for each. Longer phrases first:
/// "not found" is part of "executable file not found in".
const MISREAD: [(&str, &str); 6] = [
    (
        "executable file not found in",
        "executable file missing from",
    ),
    ("no such file or directory", "does not exist"),
    ("permission denied", "access refused"),
    ("operation not permitted", "not allowed"),
    ("open executable", "open the program"),
    ("not found", "missing"),
];

/// `text` with every phrase podman pattern-matches (any case) replaced by the hook's own words;
/// "no such file" alone (podman's exit-code rule) becomes "no file".
pub fn plain(text: &str) -> String {
    let mut out = text.to_string();
    for (phrase, words) in MISREAD.iter().chain([("no such file", "no file")].iter()) {
        out = replace_ignoring_case(&out, phrase, words);
    }
    out
}

/// Replaces each ASCII-case-insensitive occurrence of `phrase` (lowercase ASCII) in `text`.
fn replace_ignoring_case(text: &str, phrase: &str, words: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    // ASCII lowercasing keeps every byte offset, and `phrase` is ASCII, so each match starts and
    // ends on character boundaries of `text`.
    for (at, _) in lower.match_indices(phrase) {
        if at < rest {
            continue;
        }
        out.push_str(text.get(rest..at).unwrap_or_default());
        out.push_str(words);
        rest = at + phrase.len();
    }
    out.push_str(text.get(rest..).unwrap_or_default());
    out
}

/// An I/O error in the hook's words: what happened, then the errno's name where there is one
/// (`does not exist (ENOENT)`, `access refused (EACCES)`, `not allowed (EPERM)`); anything else
/// as the system says it, through [`plain`].
pub fn io(e: &io::Error) -> String {
    if let Some(kind) = crate::files::kind(e) {
        return format!("not a regular file ({kind})");
    }
    match e.raw_os_error() {
        Some(libc::ENOENT) => "does not exist (ENOENT)".into(),
        Some(libc::EACCES) => "access refused (EACCES)".into(),
        Some(libc::EPERM) => "not allowed (EPERM)".into(),
        Some(libc::ENOTDIR) => {
            "not a directory, or a symbolic link, which is not followed (ENOTDIR)".into()
        }
        Some(libc::ELOOP) => "is a symbolic link, which is not followed (ELOOP)".into(),
        _ => plain(&e.to_string()),
    }
}

/// Why the file at `path` (a `what`: "policy", "key file") could not be read: `key file "/k"
/// does not exist`, or `cannot read key file "/k": access refused (EACCES)`.
pub fn unreadable(what: &str, path: &std::path::Path, e: &io::Error) -> String {
    if let Some(kind) = crate::files::kind(e) {
        return format!("{what} {path:?} is not a regular file ({kind})");
    }
    match e.raw_os_error() {
        Some(libc::ENOENT) => format!("{what} {path:?} does not exist"),
        _ => format!("cannot read {what} {path:?}: {}", io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_podman_pattern_matches_survives() {
        let cases = [
            "open /k: No such file or directory (os error 2)",
            "PERMISSION DENIED",
            "gpg: Operation not permitted",
            "exec: executable file not found in $PATH",
            "image not found",
            "no such file",
            "cannot open executable",
        ];
        for c in cases {
            let p = plain(c).to_lowercase();
            for bad in [
                "no such file",
                "permission denied",
                "operation not permitted",
                "executable file not found in",
                "not found",
                "open executable",
            ] {
                assert!(!p.contains(bad), "{c:?} -> {p:?}");
            }
        }
        assert_eq!(
            plain("open /k: No such file or directory (os error 2)"),
            "open /k: does not exist (os error 2)"
        );
        assert_eq!(plain("ünïcödé Not Found ✓"), "ünïcödé missing ✓");
        assert_eq!(plain("nothing to change"), "nothing to change");
    }

    #[test]
    fn io_errors_are_said_in_the_hooks_words() {
        let e = |n| io::Error::from_raw_os_error(n);
        assert_eq!(io(&e(libc::ENOENT)), "does not exist (ENOENT)");
        assert_eq!(io(&e(libc::EACCES)), "access refused (EACCES)");
        assert_eq!(io(&e(libc::EPERM)), "not allowed (EPERM)");
        let p = std::path::Path::new("/etc/k.gpg");
        assert_eq!(
            unreadable("key file", p, &e(libc::ENOENT)),
            "key file \"/etc/k.gpg\" does not exist"
        );
        assert_eq!(
            unreadable("policy", p, &e(libc::EACCES)),
            "cannot read policy \"/etc/k.gpg\": access refused (EACCES)"
        );
    }
}
