//! `oci-signature-hook why CONTAINER`: the last decision the hook made for a container, read
//! back from `decisions`. Under crun, which drops a hook's stderr, this is where the reason for a
//! blocked start is (besides the audit record in syslog or the journal). A count of repeated
//! denials not yet written to the audit trail (`repeats`) is shown too.

use std::time::SystemTime;

use crate::cli::WhyArgs;
use crate::exit::Exit;
use crate::invoker::Invoker;
use crate::{audit, cache, decisions, repeats};

/// Prints the last decision for `args.container` on stdout: exit 0 if it allowed the start, 1
/// if it blocked it (or would have, in warn mode), 2 if none is recorded.
pub fn run(args: &WhyArgs, who: &Invoker) -> Exit {
    let Some(dir) = args
        .cache_dir
        .clone()
        .or_else(|| cache::default_dir(who.rootless()))
    else {
        eprintln!("oci-signature-hook why: no directory for decisions (XDG_RUNTIME_DIR is not set; pass --cache-dir)");
        return Exit::Usage;
    };
    let repeats_dir = dir.join("repeats");
    let dir = dir.join("decisions");
    let found = decisions::find(&dir, &args.container);
    let Some(last) = found.first() else {
        eprintln!(
            "oci-signature-hook why: no decision recorded for {:?} in {}",
            audit::sanitize(&args.container),
            dir.display()
        );
        return Exit::Usage;
    };
    let verdict = last.field("verdict").unwrap_or("-");
    let ago = SystemTime::now()
        .duration_since(last.at)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = last.field("name").unwrap_or("-");
    println!(
        "container {} ({}): {} {} s ago",
        audit::sanitize(name),
        last.container_id,
        verdict,
        ago
    );
    if !last.deny_line.is_empty() {
        println!("  {}", last.deny_line);
    }
    println!("  record: {}", last.record);
    if let Some(p) = repeats::pending(&repeats_dir, &last.container_id) {
        println!(
            "  pending: {} more starts decided the same way since {} (not logged yet: the next record for this container says so)",
            p.suppressed,
            p.since.map(audit::file::utc).unwrap_or_else(|| "-".into())
        );
    }
    if found.len() > 1 {
        println!(
            "  ({} more containers match {:?}; name one by its full ID)",
            found.len() - 1,
            audit::sanitize(&args.container)
        );
    }
    match verdict {
        "allow" => Exit::Allow,
        _ => Exit::Deny,
    }
}
