//! Rate-limited logging for what can happen once per batch (drops, refusals, failed writes):
//! the counters count every occurrence, the log shows the first and then at most one line per
//! [`LOG_INTERVAL`], with how many similar lines were left out since. A backend that is down
//! for an hour writes a few hundred lines, not one per batch.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// How often a rate-limited log line may repeat.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Decides which occurrences of one kind of event are logged.
#[derive(Debug)]
pub struct LogLimiter {
    epoch: Instant,
    interval_ms: u64,
    /// Milliseconds since `epoch` before which nothing more is logged.
    next_ms: AtomicU64,
    /// Occurrences not logged since the last line.
    suppressed: AtomicU64,
}

impl Default for LogLimiter {
    fn default() -> LogLimiter {
        LogLimiter::new(LOG_INTERVAL)
    }
}

impl LogLimiter {
    /// A limiter letting one line through per `interval`.
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            epoch: Instant::now(),
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether this occurrence is logged: `Some(n)` with the `n` occurrences left out since
    /// the last logged one, or `None` (counted as left out).
    pub fn check(&self) -> Option<u64> {
        self.check_at(self.epoch.elapsed().as_millis() as u64)
    }

    /// [`LogLimiter::check`] on the caller's clock, in milliseconds: for processors, which
    /// read no clock and pass the pipeline's time. One limiter keeps to one clock.
    pub fn check_at(&self, now_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Acquire);
        let due = now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms + self.interval_ms,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
        if due {
            Some(self.suppressed.swap(0, Ordering::AcqRel))
        } else {
            self.suppressed.fetch_add(1, Ordering::AcqRel);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_occurrence_is_logged_then_one_per_interval_with_the_count_left_out() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        assert_eq!(limiter.check_at(0), Some(0));
        assert_eq!(limiter.check_at(1), None);
        assert_eq!(limiter.check_at(9_999), None);
        assert_eq!(limiter.check_at(10_000), Some(2), "two left out since the first");
        assert_eq!(limiter.check_at(10_001), None);
        assert_eq!(limiter.check_at(60_000), Some(1));
    }
}
