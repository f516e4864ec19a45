//! `check`'s human-readable report: an aligned table, then the hints of each denial, then a
//! count. Every value is escaped: names and tags are chosen by whoever pushed the image.

use super::{Kind, Row, RowVerdict};
use crate::audit::sanitize;

/// The human-readable report: a table, then the hints of each denial, then how many images
/// without names were left out (`skipped_unnamed`) and the count.
pub fn table(rows: &[Row], skipped_unnamed: usize) -> String {
    const HEAD: [&str; 7] = [
        "KIND",
        "NAME",
        "REFERENCE",
        "IMAGE ID",
        "DIGEST",
        "VERDICT",
        "REASON",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                match r.kind {
                    Kind::Image => "image".into(),
                    Kind::Container => "container".into(),
                },
                sanitize(r.container.as_deref().unwrap_or("-")),
                sanitize(r.reference.as_deref().unwrap_or("<none>")),
                short(&r.image_id),
                r.manifest_digest
                    .as_deref()
                    .map(|d| {
                        let (alg, hex) = d.split_once(':').unwrap_or(("", d));
                        format!("{alg}:{}", short(hex))
                    })
                    .unwrap_or_else(|| "-".into()),
                match r.verdict {
                    RowVerdict::Allow => "allow".into(),
                    RowVerdict::Deny => "DENY".into(),
                },
                sanitize(&r.reason),
            ]
        })
        .collect();
    let mut width = HEAD.map(str::len);
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut l = String::new();
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                l.push_str(c);
                l.extend(std::iter::repeat_n(' ', width[i] - c.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&HEAD.map(String::from));
    for c in &cells {
        line(c);
    }
    let denied: Vec<&Row> = rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Deny)
        .collect();
    let mut seen = Vec::new();
    for r in &denied {
        if r.hints.is_empty() || seen.contains(&(&r.image_id, &r.reference)) {
            continue;
        }
        seen.push((&r.image_id, &r.reference));
        out.push_str(&format!(
            "\n{} ({}):\n",
            sanitize(r.reference.as_deref().unwrap_or("<none>")),
            short(&r.image_id)
        ));
        for h in &r.hints {
            out.push_str(&format!("  hint: {}\n", sanitize(h)));
        }
    }
    if skipped_unnamed > 0 {
        out.push_str(&format!(
            "\n{skipped_unnamed} image{} without a name (<none>: a build's intermediate images, or names moved to a newer image) not checked; --all (-a) checks {}\n",
            if skipped_unnamed == 1 { "" } else { "s" },
            if skipped_unnamed == 1 { "it" } else { "them" },
        ));
    }
    out.push_str(&format!(
        "\n{} checked, {} would be blocked\n",
        rows.len(),
        denied.len()
    ));
    out
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn the_table_aligns_and_escapes() {
        let row = Row {
            kind: Kind::Container,
            container: Some("web\u{1b}[2J".into()),
            reference: Some("docker.io/library/busybox:latest".into()),
            image_id: "b".repeat(64),
            manifest_digest: Some(M.into()),
            verdict: RowVerdict::Deny,
            scope: "default".into(),
            requirement: Some("signedBy"),
            reason: "signedBy: no signature".into(),
            hints: vec!["do this".into()],
        };
        let t = table(std::slice::from_ref(&row), 0);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("KIND       NAME"), "{t}");
        assert!(!t.contains('\u{1b}'));
        assert!(
            lines[1].contains("bbbbbbbbbbbb  sha256:111111111111  DENY"),
            "{t}"
        );
        assert!(t.contains("  hint: do this"));
        assert!(t.ends_with("1 checked, 1 would be blocked\n"));
    }
}
