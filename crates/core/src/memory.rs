//! Admission control by memory: the `memory_limiter` processor's mechanism.
//!
//! A [`MemoryLimiter`] samples the process's resident set size every `check_interval` and
//! adds the bytes of every request admitted since the last sample, so a burst between two
//! samples counts at once. While that usage is above the soft limit (`limit - spike`),
//! receivers refuse new data with a retryable status (gRPC RESOURCE_EXHAUSTED with
//! RetryInfo, HTTP 429 with Retry-After) instead of letting memory grow.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio_util::sync::CancellationToken;

/// Limits in bytes and how often usage is sampled.
#[derive(Debug)]
pub struct MemoryLimiter {
    id: String,
    soft_limit: u64,
    check_interval: Duration,
    sampled: AtomicU64,
    admitted: AtomicU64,
    refusing: AtomicBool,
}

impl MemoryLimiter {
    /// A limiter refusing data above `limit - spike` bytes.
    pub fn new(id: &str, limit: u64, spike: u64, check_interval: Duration) -> Arc<MemoryLimiter> {
        Arc::new(MemoryLimiter {
            id: id.to_owned(),
            soft_limit: limit.saturating_sub(spike),
            check_interval,
            sampled: AtomicU64::new(rss_bytes().unwrap_or(0)),
            admitted: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
        })
    }

    /// How long a refused client should wait: one check interval, when usage is sampled again.
    pub fn retry_after(&self) -> Duration {
        self.check_interval
    }

    /// Whether new data may enter now.
    pub fn admits(&self) -> bool {
        let usage = self.sampled.load(Ordering::Relaxed) + self.admitted.load(Ordering::Relaxed);
        let over = usage > self.soft_limit;
        if over != self.refusing.swap(over, Ordering::Relaxed) {
            if over {
                tracing::warn!(processor = %self.id, usage, soft_limit = self.soft_limit,
                    "memory usage is above the soft limit: refusing data");
            } else {
                tracing::info!(processor = %self.id, usage, "memory usage is back under the soft limit");
            }
        }
        !over
    }

    /// Counts `bytes` just admitted, until the next sample.
    pub fn admitted(&self, bytes: u64) {
        self.admitted.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records a usage sample (resident set size), forgetting the bytes admitted before it.
    pub fn sample(&self, resident: u64) {
        self.sampled.store(resident, Ordering::Relaxed);
        self.admitted.store(0, Ordering::Relaxed);
    }

    /// Samples the resident set size every `check_interval` until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.check_interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {
                    if let Some(rss) = rss_bytes() {
                        self.sample(rss);
                    }
                }
            }
        }
    }
}

/// The resident set size of this process in bytes, from `/proc/self/status`.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The memory available to this process: the cgroup (v2) limit when one is set, else the
/// machine's total memory.
pub fn total_memory() -> Option<u64> {
    if let Ok(max) = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        && let Ok(bytes) = max.trim().parse::<u64>()
    {
        return Some(bytes);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_above_the_soft_limit_counting_bursts_between_samples() {
        let limiter = MemoryLimiter::new("memory_limiter", 1000, 200, Duration::from_secs(1));
        limiter.sample(700);
        assert!(limiter.admits(), "700 is under the soft limit of 1000 - 200");
        limiter.admitted(100);
        assert!(limiter.admits(), "800 is at the soft limit");
        limiter.admitted(50);
        assert!(!limiter.admits(), "a burst since the sample counts at once");
        limiter.sample(500);
        assert!(limiter.admits(), "a new sample replaces the burst estimate");
        assert!(rss_bytes().is_some_and(|rss| rss > 0));
        assert!(total_memory().is_some_and(|total| total > 0));
    }
}
