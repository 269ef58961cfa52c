//! Budgets of series shared by the limiter instances, and what they report.

use std::{
    collections::HashMap,
    hash::BuildHasherDefault,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// Keys that are hashes already.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(super) type Ids<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// A budget of series shared by whoever admits against it: reserve before admitting, give
/// back on expiry. The count never passes the limit.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    /// A budget of `limit` series; 0 means unlimited.
    pub fn new(limit: usize) -> Arc<Budget> {
        let limit = if limit == 0 { u64::MAX } else { limit as u64 };
        Arc::new(Budget { limit, used: AtomicU64::new(0) })
    }

    /// Takes one series from the budget, if there is room.
    pub fn try_reserve(&self) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < self.limit).then_some(used + 1)
            })
            .is_ok()
    }

    /// Gives back `n` series.
    pub fn release(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Series taken now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The limit, `None` when unlimited.
    pub fn limit(&self) -> Option<u64> {
        (self.limit != u64::MAX).then_some(self.limit)
    }
}

/// What the limiter did, summed over tenants (also published as self-metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Points of admitted series.
    pub points_admitted: u64,
    /// Points routed to an overflow series (or dropped by `gauge_policy: drop`).
    pub points_overflowed: u64,
    /// Series admitted.
    pub series_admitted: u64,
    /// Admitted series released after `series_ttl`.
    pub series_expired: u64,
    /// Label values rewritten to the sentinel.
    pub label_values_rewritten: u64,
    /// Gauge points over budget dropped by `gauge_policy: drop`.
    pub gauge_points_dropped: u64,
    /// Summary points over budget, dropped.
    pub summary_points_dropped: u64,
    /// Points of cumulative overflow series whose increments were not tracked.
    pub untracked_points: u64,
    /// Data points whose tenant was not tracked (past `max_tenants`) and so counted as the
    /// default tenant's.
    pub tenant_points_folded: u64,
}

impl Stats {
    pub(super) fn add(&mut self, other: &Stats) {
        self.points_admitted += other.points_admitted;
        self.points_overflowed += other.points_overflowed;
        self.series_admitted += other.series_admitted;
        self.series_expired += other.series_expired;
        self.label_values_rewritten += other.label_values_rewritten;
        self.gauge_points_dropped += other.gauge_points_dropped;
        self.summary_points_dropped += other.summary_points_dropped;
        self.untracked_points += other.untracked_points;
        self.tenant_points_folded += other.tenant_points_folded;
    }
}

/// A metric's demand: admitted series and distinct rejected ones (estimated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Series admitted now (exact).
    pub admitted: u64,
    /// Distinct series rejected over the last one to two windows (HyperLogLog).
    pub rejected_estimate: u64,
    /// Label keys by distinct values among rejected series, most first.
    pub top_labels: Vec<(String, u64)>,
}

impl Demand {
    /// Admitted plus rejected.
    pub fn estimate(&self) -> u64 {
        self.admitted + self.rejected_estimate
    }
}
