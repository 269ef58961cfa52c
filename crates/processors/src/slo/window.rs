//! The state of one SLO × group: weighted good and total counts in three rings of time
//! buckets (10 s for the last hour, 1 min for the last 6 hours, 1 h for the SLO window), so
//! that every window is an exact sum of counts at its bucket granularity — never an average
//! of ratios.

use serde::{Deserialize, Serialize};

const SECOND: u64 = 1_000_000_000;

/// One bucket: its absolute index (time / resolution) and what it counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bucket {
    index: u64,
    good: f64,
    total: f64,
    weighted: bool,
}

/// A ring of buckets of one resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ring {
    resolution: u64,
    buckets: Vec<Bucket>,
}

impl Ring {
    fn new(resolution_secs: u64, len: usize) -> Ring {
        Ring {
            resolution: resolution_secs * SECOND,
            buckets: vec![Bucket { index: u64::MAX, ..Bucket::default() }; len],
        }
    }

    /// The time this ring covers back from now.
    fn span(&self) -> u64 {
        self.resolution * self.buckets.len() as u64
    }

    fn add(&mut self, t: u64, good: f64, total: f64, weighted: bool) {
        let index = t / self.resolution;
        let len = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(index % len) as usize];
        if bucket.index != index {
            if bucket.index != u64::MAX && bucket.index > index {
                return; // older than the ring holds
            }
            *bucket = Bucket { index, ..Bucket::default() };
        }
        bucket.good += good;
        bucket.total += total;
        bucket.weighted |= weighted;
    }

    /// Sums of the buckets in [from, to); the bucket holding `from` counts for the share of
    /// it inside the window (exact at bucket boundaries, even traffic assumed within it).
    fn sum(&self, from: u64, to: u64) -> (f64, f64, bool) {
        let first = from / self.resolution;
        let last = to.div_ceil(self.resolution);
        let share = |b: &Bucket| {
            if b.index == first {
                ((first + 1) * self.resolution - from) as f64 / self.resolution as f64
            } else {
                1.0
            }
        };
        self.buckets
            .iter()
            .filter(|b| b.index != u64::MAX && b.index >= first && b.index < last)
            .fold((0.0, 0.0, false), |(g, t, w), b| {
                (g + b.good * share(b), t + b.total * share(b), w || b.weighted)
            })
    }
}

/// Good and total over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    /// Weighted good events.
    pub good: f64,
    /// Weighted events.
    pub total: f64,
    /// Whether some event counted with an adjusted count other than 1.
    pub estimated: bool,
}

impl Counts {
    /// (bad / total) / (1 − target); `None` without events.
    pub fn burn_rate(&self, target: f64) -> Option<f64> {
        (self.total > 0.0).then(|| ((self.total - self.good) / self.total) / (1.0 - target))
    }
}

/// The buckets of one SLO × group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Windows {
    fine: Ring,
    medium: Ring,
    coarse: Ring,
    /// When counting began (for coverage).
    pub(crate) started: u64,
    /// Cumulative totals since the start.
    pub(crate) good: f64,
    pub(crate) total: f64,
    pub(crate) estimated: bool,
    /// Timeslices: good and total slices per hour, and the minutes already classified.
    slices: Ring,
    classified_minute: u64,
}

impl Windows {
    /// Windows for an SLO period of `period_secs`, starting at `now`.
    pub fn new(period_secs: u64, now: u64) -> Windows {
        let hours = period_secs.div_ceil(3600).max(72) as usize + 1;
        Windows {
            fine: Ring::new(10, 361),
            medium: Ring::new(60, 361),
            coarse: Ring::new(3600, hours),
            started: now,
            good: 0.0,
            total: 0.0,
            estimated: false,
            slices: Ring::new(3600, hours),
            classified_minute: now / (60 * SECOND),
        }
    }

    /// Counts events at time `t`.
    pub fn add(&mut self, t: u64, good: f64, total: f64, weighted: bool) {
        for ring in [&mut self.fine, &mut self.medium, &mut self.coarse] {
            ring.add(t, good, total, weighted);
        }
        self.good += good;
        self.total += total;
        self.estimated |= weighted;
    }

    /// Good and total over the `window` (nanoseconds) ending at `now`, from the finest ring
    /// that covers it.
    pub fn counts(&self, now: u64, window: u64) -> Counts {
        let ring = [&self.fine, &self.medium, &self.coarse]
            .into_iter()
            .find(|r| r.span() >= window)
            .unwrap_or(&self.coarse);
        let (good, total, estimated) = ring.sum(now.saturating_sub(window), now);
        Counts { good, total, estimated }
    }

    /// The share of `window` backed by data since counting began.
    pub fn coverage(&self, now: u64, window: u64) -> f64 {
        (now.saturating_sub(self.started) as f64 / window as f64).min(1.0)
    }

    /// Timeslices: classifies every whole minute before `settled` (good iff its good ratio is
    /// at least `slice_target`; minutes without events are left out).
    pub fn classify_slices(&mut self, settled: u64, slice_target: f64) {
        let minute = 60 * SECOND;
        let until = settled / minute;
        while self.classified_minute < until {
            let start = self.classified_minute * minute;
            let (good, total, _) = self.medium.sum(start, start + minute);
            if total > 0.0 {
                let good_slice = good / total >= slice_target - 1e-12;
                self.slices.add(start, if good_slice { 1.0 } else { 0.0 }, 1.0, false);
            }
            self.classified_minute += 1;
        }
    }

    /// Good and total slices over `window` ending at `now`.
    pub fn slices(&self, now: u64, window: u64) -> Counts {
        let (good, total, _) = self.slices.sum(now.saturating_sub(window), now);
        Counts { good, total, estimated: false }
    }

    /// Bytes this state takes.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Windows>()
            + std::mem::size_of::<Bucket>()
                * (self.fine.buckets.len()
                    + self.medium.buckets.len()
                    + self.coarse.buckets.len()
                    + self.slices.buckets.len())
    }
}
