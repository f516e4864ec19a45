//! The one deadline of a hook run (`--timeout`): what the hook is doing now, for the reason it
//! gives when time runs out, and who gets to report the decision, the hook or its watchdog.
//!
//! Exactly one of them reports: the first to `settle` (the hook, with its verdict) or `expire`
//! (the watchdog, with a deny) wins, and the other reports nothing. So a verdict reached after
//! the deadline is never written or acted on, and an allow cannot follow a deny.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

const RUNNING: u8 = 0;
const SETTLED: u8 = 1;
const EXPIRED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(RUNNING);

/// What the hook is doing now, as words that follow "while": "verifying signature 3 of 7 with
/// gpgme".
static ACTIVITY: Mutex<String> = Mutex::new(String::new());

/// Says what the hook is doing now.
pub fn doing(what: impl Into<String>) {
    let what = what.into();
    *ACTIVITY.lock().unwrap_or_else(|e| e.into_inner()) = what;
}

/// What the hook said it is doing (empty if nothing yet). The lock is only ever held to copy a
/// string, so this never waits long.
pub fn activity() -> String {
    ACTIVITY.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Claims the report for the hook's own verdict: true if the deadline has not claimed it.
pub fn settle() -> bool {
    STATE
        .compare_exchange(RUNNING, SETTLED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
        || STATE.load(Ordering::SeqCst) == SETTLED
}

/// Claims the report for the deadline: true if the hook had not reached its verdict.
pub fn expire() -> bool {
    STATE
        .compare_exchange(RUNNING, EXPIRED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
        || STATE.load(Ordering::SeqCst) == EXPIRED
}

/// Whether the deadline has claimed the report: work still going on is wasted, and should stop
/// starting anything new (another gpg run).
pub fn expired() -> bool {
    STATE.load(Ordering::SeqCst) == EXPIRED
}

/// Whether the hook has claimed the report.
pub fn settled() -> bool {
    STATE.load(Ordering::SeqCst) == SETTLED
}
