//! The `memory_limiter` processor, with the Collector's options. It works as admission
//! control: receivers feeding a pipeline that lists it refuse new data while memory usage is
//! over the soft limit (`weir_core::memory::MemoryLimiter`). Inside the pipeline it passes
//! batches through unchanged.

use std::time::Duration;

use serde::Deserialize;
use weir_core::{Batch, Output, Processor};

const MIB: u64 = 1 << 20;

/// `processors.memory_limiter`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `check_interval`: how often usage is sampled (required, > 0; the Collector
    /// recommends 1s).
    #[serde(with = "weir_core::duration")]
    pub check_interval: Duration,
    /// `limit_mib`: the hard limit in MiB.
    pub limit_mib: u64,
    /// `spike_limit_mib`: the headroom below the hard limit (default 20 % of it); data is
    /// refused above `limit - spike`.
    pub spike_limit_mib: u64,
    /// `limit_percentage`: the hard limit as a percentage of available memory.
    pub limit_percentage: u64,
    /// `spike_limit_percentage`: the headroom as a percentage of available memory.
    pub spike_limit_percentage: u64,
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.check_interval.is_zero() {
            errors.push(("check_interval".into(), "must be > 0".into()));
        }
        match (self.limit_mib, self.limit_percentage) {
            (0, 0) => errors.push(("limit_mib".into(), "set limit_mib or limit_percentage".into())),
            (mib, 0) if self.spike_limit_mib >= mib => errors.push((
                "spike_limit_mib".into(),
                format!("must be less than limit_mib ({mib}), got {}", self.spike_limit_mib),
            )),
            (0, percentage) if percentage > 100 => errors.push((
                "limit_percentage".into(),
                format!("must be at most 100, got {percentage}"),
            )),
            (0, percentage) if self.spike_limit_percentage >= percentage => errors.push((
                "spike_limit_percentage".into(),
                format!(
                    "must be less than limit_percentage ({percentage}), got {}",
                    self.spike_limit_percentage
                ),
            )),
            (mib, percentage) if mib > 0 && percentage > 0 => errors.push((
                "limit_percentage".into(),
                "set limit_mib or limit_percentage, not both".into(),
            )),
            _ => {}
        }
        errors
    }

    /// The hard limit and the spike headroom in bytes, given the memory available.
    pub fn limits(&self, total_memory: u64) -> (u64, u64) {
        if self.limit_mib > 0 {
            let spike =
                if self.spike_limit_mib > 0 { self.spike_limit_mib } else { self.limit_mib / 5 };
            return (self.limit_mib * MIB, spike * MIB);
        }
        let limit = total_memory / 100 * self.limit_percentage;
        let spike = if self.spike_limit_percentage > 0 {
            total_memory / 100 * self.spike_limit_percentage
        } else {
            limit / 5
        };
        (limit, spike)
    }
}

/// The in-pipeline side: passes everything on (admission happens at the receivers).
#[derive(Debug)]
pub struct PassThrough;

impl Processor for PassThrough {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        out.push(batch);
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "memory_limiter",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "refuses data at the receivers while memory is over the limit",
    }
);

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let _ = id;
        Box::new(PassThrough)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_collector() {
        let mib =
            Config { check_interval: Duration::from_secs(1), limit_mib: 1000, ..Config::default() };
        assert!(mib.problems().is_empty());
        assert_eq!(mib.limits(0), (1000 * MIB, 200 * MIB), "spike defaults to 20 %");
        let percent = Config {
            check_interval: Duration::from_secs(1),
            limit_percentage: 80,
            spike_limit_percentage: 25,
            ..Config::default()
        };
        assert_eq!(percent.limits(100 * MIB), (80 * MIB, 25 * MIB));
    }

    #[test]
    fn invalid_limits_are_named() {
        let none = Config::default();
        let paths: Vec<String> = none.problems().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, vec!["check_interval", "limit_mib"]);
        let spike = Config {
            check_interval: Duration::from_secs(1),
            limit_mib: 10,
            spike_limit_mib: 10,
            ..Config::default()
        };
        assert_eq!(spike.problems()[0].1, "must be less than limit_mib (10), got 10");
    }
}
