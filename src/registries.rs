//! `containers-registries.d(5)`, read only far enough to tell whether a pull of an image would have
//! fetched its signatures from a lookaside store (containers/image `docker/registries_d.go`). `check` uses this for a
//! remediation hint; no verdict depends on it.
//!
//! The files are YAML. This reads the subset the format uses in practice — block mappings of
//! plain or quoted scalars, and one-line flow mappings (`host: {lookaside: URL}`) — and ignores
//! anything else, which at worst costs a hint.

use std::path::{Path, PathBuf};

use crate::reference::{docker_namespaces, Reference};

const MAX_FILE_BYTES: u64 = 1 << 20;
const MAX_FILES: usize = 1024;

/// One `docker:` namespace entry, or `default-docker` (`namespace == None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Section {
    namespace: Option<String>,
    lookaside: Option<String>,
    sigstore: Option<String>,
    attachments: Option<bool>,
}

/// The configuration of one registries.d directory.
#[derive(Debug, Clone, Default)]
pub struct RegistriesD {
    pub dir: PathBuf,
    sections: Vec<Section>,
}

/// Where a pull of an image reads signatures from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The lookaside URL a section configures; `None` means the built-in local default.
    pub lookaside: Option<String>,
    pub sigstore_attachments: bool,
}

/// The registries.d directory containers/image would use for a pull by this user (root included):
/// `$HOME/.config/containers/registries.d` when it exists, else the system one.
pub fn default_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let d = PathBuf::from(home).join(".config/containers/registries.d");
        if d.is_dir() {
            return d;
        }
    }
    PathBuf::from("/etc/containers/registries.d")
}

impl RegistriesD {
    /// Reads every `*.yaml` file in `dir` (a missing directory is an empty configuration).
    pub fn load(dir: &Path) -> Result<RegistriesD, String> {
        let mut out = RegistriesD {
            dir: dir.to_path_buf(),
            sections: Vec::new(),
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(format!("cannot read {dir:?}: {e}")),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .take(MAX_FILES)
            .collect();
        files.sort();
        for f in files {
            let bytes = crate::files::read_regular(&f, true, MAX_FILE_BYTES)
                .map_err(|e| format!("cannot read {f:?}: {}", crate::words::io(&e)))?;
            out.sections.extend(parse(&String::from_utf8_lossy(&bytes)));
        }
        Ok(out)
    }

    /// Where a pull of `r` reads signatures from: the most specific section with a URL, else the
    /// default section, else the built-in default; attachments as the first section that says.
    pub fn sources(&self, r: &Reference) -> Sources {
        let mut keys: Vec<Option<String>> = vec![Some(r.to_string())];
        keys.extend(docker_namespaces(r).into_iter().map(Some));
        keys.push(None);
        let mut lookaside = None;
        let mut attachments = None;
        for key in &keys {
            for s in self.sections.iter().filter(|s| &s.namespace == key) {
                if lookaside.is_none() {
                    lookaside = s.lookaside.clone().or_else(|| s.sigstore.clone());
                }
                if attachments.is_none() {
                    attachments = s.attachments;
                }
            }
        }
        Sources {
            lookaside,
            sigstore_attachments: attachments.unwrap_or(false),
        }
    }
}

/// The sections of one file.
fn parse(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    // The top-level key we are under, and the indentation of the current namespace key.
    let mut top: Option<String> = None;
    let mut ns_indent: Option<usize> = None;
    for raw in text.lines() {
        let line = strip_comment(raw);
        if line.trim().is_empty() || line.trim_start().starts_with("---") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let Some((key, value)) = split_key(line.trim()) else {
            continue;
        };
        if indent == 0 {
            top = Some(key.clone());
            ns_indent = None;
            if key == "default-docker" {
                let mut s = Section::default();
                apply_flow(&mut s, &value);
                out.push(s);
            }
            continue;
        }
        match top.as_deref() {
            Some("default-docker") => {
                if let Some(s) = out.iter_mut().rev().find(|s| s.namespace.is_none()) {
                    apply(s, &key, &value);
                }
            }
            Some("docker") => {
                if ns_indent.is_none_or(|n| indent <= n) {
                    ns_indent = Some(indent);
                    let mut s = Section {
                        namespace: Some(key),
                        ..Section::default()
                    };
                    apply_flow(&mut s, &value);
                    out.push(s);
                } else if let Some(s) = out.last_mut().filter(|s| s.namespace.is_some()) {
                    apply(s, &key, &value);
                }
            }
            _ => {}
        }
    }
    out
}

fn apply(s: &mut Section, key: &str, value: &str) {
    let v = unquote(value);
    match key {
        "lookaside" if !v.is_empty() => s.lookaside = Some(v),
        "sigstore" if !v.is_empty() => s.sigstore = Some(v),
        "use-sigstore-attachments" => s.attachments = Some(v == "true"),
        _ => {}
    }
}

/// `{lookaside: URL, use-sigstore-attachments: true}` on the key's own line.
fn apply_flow(s: &mut Section, value: &str) {
    let Some(inner) = value
        .trim()
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
    else {
        return;
    };
    for part in inner.split(',') {
        if let Some((k, v)) = split_key(part.trim()) {
            apply(s, &k, &v);
        }
    }
}

/// `key: value` (the key possibly quoted); the value may be empty.
fn split_key(line: &str) -> Option<(String, String)> {
    let (key, rest) = if let Some(q @ ('"' | '\'')) = line.chars().next() {
        let end = line[1..].find(q)? + 1;
        (line[1..end].to_string(), line[end + 1..].trim_start())
    } else {
        let i = line
            .find(": ")
            .or_else(|| line.strip_suffix(':').map(|l| l.len()))?;
        (line[..i].trim().to_string(), &line[i..])
    };
    let value = rest.strip_prefix(':')?.trim();
    Some((key, value.to_string()))
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// The line without a trailing `# comment` (a `#` that starts the line or follows a space, and is
/// not inside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return &line[..i],
            None => {}
        }
        prev = c;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap().with_default_tag()
    }

    const CONF: &str = r#"
# Signatures of our images
default-docker:
  lookaside: file:///var/lib/containers/sigstore   # the default
docker:
  registry.example.com:
    lookaside: "https://sigs.example.com/lookaside"
  registry.example.com/team/app:
    use-sigstore-attachments: true
  '*.internal.example': {lookaside: "https://internal.example/sigs", use-sigstore-attachments: true}
  quay.io/bare:
"#;

    #[test]
    fn the_most_specific_section_with_a_url_wins() {
        let d = RegistriesD {
            dir: "/x".into(),
            sections: parse(CONF),
        };
        assert_eq!(
            d.sources(&r("registry.example.com/team/app:1")),
            Sources {
                lookaside: Some("https://sigs.example.com/lookaside".into()),
                sigstore_attachments: true,
            }
        );
        assert_eq!(
            d.sources(&r("registry.example.com/other"))
                .lookaside
                .as_deref(),
            Some("https://sigs.example.com/lookaside")
        );
        assert_eq!(
            d.sources(&r("reg.internal.example/a")),
            Sources {
                lookaside: Some("https://internal.example/sigs".into()),
                sigstore_attachments: true,
            }
        );
        // A section without a URL does not stop the search.
        assert_eq!(
            d.sources(&r("quay.io/bare/x")).lookaside.as_deref(),
            Some("file:///var/lib/containers/sigstore")
        );
    }

    #[test]
    fn no_configuration_means_the_built_in_default() {
        let d = RegistriesD::default();
        assert_eq!(
            d.sources(&r("busybox")),
            Sources {
                lookaside: None,
                sigstore_attachments: false,
            }
        );
        let d = RegistriesD {
            dir: "/x".into(),
            sections: parse("docker:\n  other.example:\n    sigstore: http://o/s\n"),
        };
        assert_eq!(d.sources(&r("busybox")).lookaside, None);
        assert_eq!(
            d.sources(&r("other.example/a")).lookaside.as_deref(),
            Some("http://o/s")
        );
    }

    #[test]
    fn comments_and_quotes() {
        assert_eq!(strip_comment("a: 'x # y' # z"), "a: 'x # y' ");
        assert_eq!(strip_comment("a: http://h/#frag"), "a: http://h/#frag");
        assert_eq!(
            split_key("\"a:b\": c"),
            Some(("a:b".to_string(), "c".to_string()))
        );
        assert_eq!(split_key("docker:"), Some(("docker".into(), String::new())));
        assert_eq!(split_key("- item"), None);
    }

    #[test]
    fn a_fifo_among_the_files_is_refused_without_waiting() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("a.yaml");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let e = RegistriesD::load(d.path()).unwrap_err();
        assert!(e.contains("not a regular file (a FIFO)"), "{e}");
        assert!(e.contains("a.yaml"), "{e}");
    }
}
