//! Per-key sample rates for a goal average rate (Refinery's dynamic samplers, after
//! dynsampler-go's `calculateSampleRates`): each key gets a share of the kept budget
//! proportional to the log10 of its volume; rare keys keep everything, frequent keys absorb
//! the sampling. Rates come from the previous interval's counts, never from a trace's
//! randomness, so applying them as thresholds stays consistent.

use std::collections::BTreeMap;

/// The key of traces beyond `max_keys` in one interval.
pub(crate) const OTHER: &str = "<other>";

/// The goal ratio and the rate of each key, for `counts` and a goal average rate. Keys are
/// visited in sorted order so that rounding is deterministic; budget a key does not use is
/// spread over the keys after it.
pub(crate) fn sample_rates(
    counts: &BTreeMap<String, u64>,
    goal_sample_rate: u64,
) -> (f64, BTreeMap<String, u64>) {
    let total: u64 = counts.values().sum();
    let mut rates = BTreeMap::new();
    if total == 0 || goal_sample_rate == 0 {
        return (0.0, rates);
    }
    let goal_count = total as f64 / goal_sample_rate as f64;
    let log_sum: f64 = counts.values().map(|c| (*c.max(&1) as f64).log10()).sum();
    let goal_ratio = if log_sum > 0.0 { goal_count / log_sum } else { goal_count };
    let mut extra = 0.0;
    let mut remaining = counts.len();
    for (key, count) in counts {
        let count = (*count).max(1) as f64;
        let share = extra / remaining as f64;
        let goal = (count.log10() * goal_ratio).max(1.0) + share;
        extra -= share;
        let rate = if count <= goal {
            extra += goal - count;
            1
        } else {
            let rate = (count / goal).ceil();
            extra += goal - count / rate;
            rate as u64
        };
        rates.insert(key.clone(), rate);
        remaining -= 1;
    }
    (goal_ratio, rates)
}

/// The counts of the interval in progress and the rates from the last one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rates {
    counts: BTreeMap<String, u64>,
    rates: BTreeMap<String, u64>,
    goal_sample_rate: u64,
    max_keys: usize,
}

impl Rates {
    pub(crate) fn new(goal_sample_rate: u64, max_keys: usize) -> Rates {
        Rates { goal_sample_rate, max_keys, ..Rates::default() }
    }

    /// Counts one trace of `key` and returns the rate it is sampled at (1 for a key not seen
    /// in the previous interval).
    pub(crate) fn observe(&mut self, key: String) -> u64 {
        let key = if self.counts.contains_key(&key) || self.counts.len() < self.max_keys {
            key
        } else {
            OTHER.to_owned()
        };
        let rate = self.rates.get(&key).copied().unwrap_or(1);
        *self.counts.entry(key).or_default() += 1;
        rate
    }

    /// Ends an interval: the counts become the rates. An interval without traffic changes
    /// nothing.
    pub(crate) fn adjust(&mut self) {
        if self.counts.is_empty() {
            return;
        }
        let counts = std::mem::take(&mut self.counts);
        self.rates = sample_rates(&counts, self.goal_sample_rate).1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// research/algorithms.md §2.4's worked example.
    #[test]
    fn the_worked_example_gets_its_rates() {
        let counts: BTreeMap<String, u64> = [
            ("GET /home 200", 90_000),
            ("GET /api 200", 9_000),
            ("POST /pay 200", 900),
            ("POST /pay 500", 90),
            ("GET /admin 403", 10),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let (ratio, rates) = sample_rates(&counts, 100);
        assert!((ratio - 67.4902).abs() < 1e-4, "{ratio}");
        let expected = [
            ("GET /admin 403", 1),
            ("GET /api 200", 33),
            ("GET /home 200", 256),
            ("POST /pay 200", 5),
            ("POST /pay 500", 1),
        ];
        for (key, rate) in expected {
            assert_eq!(rates[key], rate, "{key}");
        }
        let kept: f64 = counts.iter().map(|(k, c)| *c as f64 / rates[k] as f64).sum();
        assert!((kept - 904.29).abs() < 0.01, "{kept}");
    }

    #[test]
    fn rates_come_from_the_previous_interval_and_keys_are_bounded() {
        let mut rates = Rates::new(10, 2);
        assert_eq!(rates.observe("a".into()), 1, "nothing known yet");
        for _ in 0..999 {
            rates.observe("a".into());
        }
        rates.observe("b".into());
        rates.observe("c".into()); // past max_keys
        rates.adjust();
        assert!(rates.observe("a".into()) > 1);
        assert_eq!(rates.observe("b".into()), 1);
        assert_eq!(rates.observe("c".into()), 1, "counted as <other>, which was rare");
    }
}
