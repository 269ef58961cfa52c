//! Options of the `probabilistic_sampler` processor, with the Collector's names and defaults.

use serde::Deserialize;

/// `processors.probabilistic_sampler`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sampling_percentage`: 0 drops all, 100 or more keeps all (default 0).
    pub sampling_percentage: f64,
    /// `mode` (default `hash_seed`).
    pub mode: Mode,
    /// `hash_seed`: the seed of `hash_seed` mode and of attribute hashing (default 0).
    pub hash_seed: u32,
    /// `sampling_precision`: hex digits of the thresholds written, 1 to 14 (default 4).
    pub sampling_precision: u8,
    /// `fail_closed`: drop items without randomness (default true).
    pub fail_closed: bool,
    /// `attribute_source` (logs): `traceID` (default) or `record`.
    pub attribute_source: AttributeSource,
    /// `from_attribute` (logs, with `attribute_source: record`): the attribute hashed.
    pub from_attribute: String,
    /// `sampling_priority` (logs): an attribute whose value is the percentage to apply.
    pub sampling_priority: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sampling_percentage: 0.0,
            mode: Mode::HashSeed,
            hash_seed: 0,
            sampling_precision: 4,
            fail_closed: true,
            attribute_source: AttributeSource::TraceId,
            from_attribute: String::new(),
            sampling_priority: String::new(),
        }
    }
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// 14 bits of a seeded hash.
    HashSeed,
    /// The specification's proportional mode.
    Proportional,
    /// The specification's equalizing mode.
    Equalizing,
}

/// `attribute_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AttributeSource {
    /// The trace id.
    #[serde(rename = "traceID")]
    TraceId,
    /// A log record attribute (`from_attribute`).
    #[serde(rename = "record")]
    Record,
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.sampling_percentage.is_nan() || self.sampling_percentage < 0.0 {
            errors.push((
                "sampling_percentage".into(),
                format!("must be >= 0, got {}", self.sampling_percentage),
            ));
        }
        if !(1..=14).contains(&self.sampling_precision) {
            errors.push((
                "sampling_precision".into(),
                format!("must be 1 to 14, got {}", self.sampling_precision),
            ));
        }
        if self.attribute_source == AttributeSource::Record && self.from_attribute.is_empty() {
            errors.push((
                "from_attribute".into(),
                "must name a log attribute when attribute_source is record".into(),
            ));
        }
        errors
    }
}
