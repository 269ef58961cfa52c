use std::time::Duration;

use serde::Deserialize;

/// `processors.batch`, with the Collector's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `send_batch_size`: pending items that trigger a send (default 8192).
    pub send_batch_size: usize,
    /// `send_batch_max_size`: the most items in one batch; 0 for no limit (default).
    pub send_batch_max_size: usize,
    /// `timeout`: the longest items wait (default 200ms).
    #[serde(with = "weir_core::duration")]
    pub timeout: Duration,
    /// `metadata_keys`: request metadata keys whose value combinations are batched apart
    /// (default none: one batch for all requests, carrying no metadata).
    pub metadata_keys: Vec<String>,
    /// `metadata_cardinality_limit`: the most combinations batched apart (default 1000; 0
    /// for no limit).
    pub metadata_cardinality_limit: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            send_batch_size: 8192,
            send_batch_max_size: 0,
            timeout: Duration::from_millis(200),
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            errors.push((
                "send_batch_max_size".into(),
                format!(
                    "must be 0 or at least send_batch_size ({}), got {}",
                    self.send_batch_size, self.send_batch_max_size
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, key) in self.metadata_keys.iter().enumerate() {
            if !seen.insert(key.to_ascii_lowercase()) {
                errors.push((
                    format!("metadata_keys[{i}]"),
                    format!("duplicate key {key:?} (keys are case-insensitive)"),
                ));
            }
        }
        errors
    }
}
