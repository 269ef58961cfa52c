//! Exponential backoff with jitter, as the Collector's retry sender computes it.

use std::{
    hash::BuildHasher,
    time::{Duration, Instant},
};

use super::config::RetryConfig;

/// The waits between attempts at delivering one batch.
pub(crate) struct Backoff<'a> {
    config: &'a RetryConfig,
    interval: Duration,
    started: Instant,
    attempts: u64,
}

impl<'a> Backoff<'a> {
    pub(crate) fn new(config: &'a RetryConfig, started: Instant) -> Backoff<'a> {
        Backoff { config, interval: config.initial_interval, started, attempts: 0 }
    }

    /// The next wait, at least `hint` (the backend's RetryInfo or Retry-After), or `None`
    /// when waiting would pass `max_elapsed_time`.
    pub(crate) fn next(&mut self, now: Instant, hint: Option<Duration>) -> Option<Duration> {
        self.attempts += 1;
        let factor = self.config.randomization_factor;
        let jitter = 1.0 + factor * (2.0 * unit_random(self.attempts) - 1.0);
        let mut wait = self.interval.mul_f64(jitter.max(0.0));
        if let Some(hint) = hint {
            wait = wait.max(hint);
        }
        let grown = self.interval.mul_f64(self.config.multiplier);
        self.interval = grown.min(self.config.max_interval);
        let limit = self.config.max_elapsed_time;
        if !limit.is_zero() && now.duration_since(self.started) + wait > limit {
            return None;
        }
        Some(wait)
    }
}

/// A number in [0, 1) that differs between calls and processes (jitter needs no more).
fn unit_random(salt: u64) -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(salt);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(randomization_factor: f64, max_elapsed_secs: u64) -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            max_elapsed_time: Duration::from_secs(max_elapsed_secs),
            multiplier: 2.0,
            randomization_factor,
        }
    }

    #[test]
    fn grows_to_the_maximum_then_stops_at_the_elapsed_limit() {
        let config = config(0.0, 12);
        let start = Instant::now();
        let mut backoff = Backoff::new(&config, start);
        let mut now = start;
        let mut waits = Vec::new();
        while let Some(wait) = backoff.next(now, None) {
            waits.push(wait.as_secs());
            now += wait;
        }
        // 1 + 2 + 4 + 4 = 11 s; one more 4 s wait would pass 12 s
        assert_eq!(waits, vec![1, 2, 4, 4]);
    }

    #[test]
    fn jitter_stays_within_the_factor_and_hints_are_respected() {
        let config = config(0.5, 0);
        let start = Instant::now();
        let mut backoff = Backoff::new(&config, start);
        let first = backoff.next(start, None).unwrap();
        assert!(
            first >= Duration::from_millis(500) && first <= Duration::from_millis(1500),
            "{first:?}"
        );
        let hinted = backoff.next(start, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(hinted, Duration::from_secs(60), "a longer hint wins");
        for _ in 0..100 {
            assert!(backoff.next(start, None).is_some(), "max_elapsed_time 0 retries forever");
        }
    }
}
