//! PEM blocks, found and decoded as Go's `encoding/pem` `Decode` does: text before a block is
//! skipped, a block whose armour or base64 is damaged is skipped, and the first good block is
//! returned with what follows it. Which block counts, and whether anything trails it, decides
//! verdicts (only the first block of a key file is a key; a Rekor SET's key must be one block),
//! so the rules are Go's, not a general PEM reader's.

use base64::Engine as _;

/// One PEM block: its type (`PUBLIC KEY`, `CERTIFICATE`, ...), whether it has headers
/// (`Key: value` lines), and its decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: String,
    pub has_headers: bool,
    pub bytes: Vec<u8>,
}

const BEGIN: &[u8] = b"\n-----BEGIN ";
const END: &[u8] = b"\n-----END ";
const DASHES: &[u8] = b"-----";

/// The first line of `data` without its line ending and trailing spaces and tabs, and the rest
/// after the newline.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    let (mut l, rest) = match memchr::memchr(b'\n', data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    while let [head @ .., b' ' | b'\t' | b'\r'] = l {
        l = head;
    }
    (l, rest)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The first PEM block in `data` and the bytes after it, or `None` if there is none.
pub fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    loop {
        if rest.starts_with(&BEGIN[1..]) {
            rest = &rest[BEGIN.len() - 1..];
        } else if let Some(i) = find(rest, BEGIN) {
            rest = &rest[i + BEGIN.len()..];
        } else {
            return None;
        }
        let (type_line, after) = line(rest);
        rest = after;
        let Some(kind) = type_line.strip_suffix(DASHES) else {
            continue;
        };
        let mut has_headers = false;
        let mut body = rest;
        loop {
            if body.is_empty() {
                return None;
            }
            let (l, next) = line(body);
            if !l.contains(&b':') {
                break;
            }
            has_headers = true;
            body = next;
        }
        let (end, trailer_at) = if !has_headers && body.starts_with(&END[1..]) {
            (0, END.len() - 1)
        } else {
            match find(body, END) {
                Some(i) => (i, i + END.len()),
                None => continue,
            }
        };
        let trailer = &body[trailer_at..];
        let want = kind.len() + DASHES.len();
        if trailer.len() < want {
            continue;
        }
        let (trailer, rest_of_line) = trailer.split_at(want);
        if !trailer.starts_with(kind) || !trailer.ends_with(DASHES) {
            continue;
        }
        if !line(rest_of_line).0.is_empty() {
            continue;
        }
        // Go's base64 decoder skips CR and LF; spaces and tabs are removed first.
        let text: Vec<u8> = body[..end]
            .iter()
            .copied()
            .filter(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        let Ok(bytes) = crate::json::GO_BASE64.decode(&text) else {
            continue;
        };
        let after = line(&body[end + END.len() - 1..]).1;
        return Some((
            Block {
                kind: String::from_utf8_lossy(kind).into_owned(),
                has_headers,
                bytes,
            },
            after,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: &str, b64: &str) -> String {
        format!("-----BEGIN {kind}-----\n{b64}\n-----END {kind}-----\n")
    }

    #[test]
    fn finds_the_first_good_block() {
        type Want<'a> = Option<(&'a str, &'a [u8], &'a str)>;
        let cases: &[(&str, Want)] = &[
            // (input, (type, bytes, rest))
            (
                &block("PUBLIC KEY", "YWJj"),
                Some(("PUBLIC KEY", b"abc", "")),
            ),
            (
                &format!("junk\n{}tail", block("A", "YQ==")),
                Some(("A", b"a", "tail")),
            ),
            // Text before the armour on the same line: not a block.
            ("x-----BEGIN A-----\nYQ==\n-----END A-----\n", None),
            // The end line names another type: skipped, the next block counts.
            (
                &format!(
                    "-----BEGIN A-----\nYQ==\n-----END B-----\n{}",
                    block("C", "Yg==")
                ),
                Some(("C", b"b", "")),
            ),
            // Bad base64 in the first block: the second counts.
            (
                &format!("{}{}", block("A", "!!!!"), block("B", "Yg==")),
                Some(("B", b"b", "")),
            ),
            // An empty body, END right after the BEGIN line.
            ("-----BEGIN A-----\n-----END A-----", Some(("A", b"", ""))),
            // Only whitespace may follow the end line.
            ("-----BEGIN A-----\nYQ==\n-----END A----- x\n", None),
            (
                "-----BEGIN A-----\nYQ==\n-----END A-----  \nnext",
                Some(("A", b"a", "next")),
            ),
            // Spaces, tabs and CRs in the body are ignored.
            (
                "-----BEGIN A-----\r\nY Q\t=\r\n=\r\n-----END A-----\r\n",
                Some(("A", b"a", "")),
            ),
            ("no pem here", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = decode(input.as_bytes());
            match (got, want) {
                (None, None) => {}
                (Some((b, rest)), Some((kind, bytes, want_rest))) => {
                    assert_eq!(b.kind, *kind, "{input:?}");
                    assert_eq!(b.bytes, *bytes, "{input:?}");
                    assert_eq!(rest, want_rest.as_bytes(), "{input:?}");
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn headers_are_noted() {
        let (b, _) = decode(b"-----BEGIN A-----\nProc-Type: 4\n\nYQ==\n-----END A-----\n").unwrap();
        assert!(b.has_headers);
        assert_eq!(b.bytes, b"a");
    }
}
