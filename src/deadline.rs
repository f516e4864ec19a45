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

/// Who reports: nobody yet, the hook, or the deadline. Changes once.
struct Claim(AtomicU8);

impl Claim {
    const fn new() -> Claim {
        Claim(AtomicU8::new(RUNNING))
    }

    /// Claims the report for `who`: true if it is (now, or already) theirs.
    fn claim(&self, who: u8) -> bool {
        match self
            .0
            .compare_exchange(RUNNING, who, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(holder) => holder == who,
        }
    }

    fn is(&self, who: u8) -> bool {
        self.0.load(Ordering::SeqCst) == who
    }
}

static STATE: Claim = Claim::new();

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
    STATE.claim(SETTLED)
}

/// Claims the report for the deadline: true if the hook had not reached its verdict.
pub fn expire() -> bool {
    STATE.claim(EXPIRED)
}

/// Whether the deadline has claimed the report: work still going on is wasted, and should stop
/// starting anything new (another gpg run).
pub fn expired() -> bool {
    STATE.is(EXPIRED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_claim_reports() {
        let c = Claim::new();
        assert!(c.claim(SETTLED));
        assert!(c.claim(SETTLED));
        assert!(!c.claim(EXPIRED));
        assert!(c.is(SETTLED) && !c.is(EXPIRED));
        let c = Claim::new();
        assert!(c.claim(EXPIRED));
        assert!(!c.claim(SETTLED));
        assert!(c.is(EXPIRED));
    }

    #[test]
    fn racing_claims_have_one_winner() {
        for _ in 0..200 {
            let c = std::sync::Arc::new(Claim::new());
            let other = std::sync::Arc::clone(&c);
            let t = std::thread::spawn(move || other.claim(EXPIRED));
            let settled = c.claim(SETTLED);
            let expired = t.join().unwrap();
            assert!(settled != expired);
        }
    }
}
