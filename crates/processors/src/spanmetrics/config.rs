//! Options of the `spanmetrics` connector, with the Collector's names and defaults.

use std::time::Duration;

use serde::Deserialize;

/// `connectors.spanmetrics`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `histogram`.
    pub histogram: HistogramConfig,
    /// `dimensions`: span (then resource) attributes added to the default dimensions.
    pub dimensions: Vec<Dimension>,
    /// `calls_dimensions`: more dimensions for the calls metric only.
    pub calls_dimensions: Vec<Dimension>,
    /// `events`: a count of span events.
    pub events: Events,
    /// `add_resource_attributes`: keep the spans' resource attributes on the metrics (weir
    /// always does, as the Collector does by default).
    pub add_resource_attributes: bool,
    /// `exclude_dimensions`: default dimensions left out.
    pub exclude_dimensions: Vec<String>,
    /// `exemplars`.
    pub exemplars: Exemplars,
    /// `include_instrumentation_scope`: spans of these instrumentation scopes get
    /// `span.instrumentation.scope.name` (and `.version`, when set) as dimensions.
    pub include_instrumentation_scope: Vec<String>,
    /// `resource_metrics_key_attributes`: the resource attributes that identify a resource's
    /// metrics (default all).
    pub resource_metrics_key_attributes: Vec<String>,
    /// `aggregation_temporality`: `AGGREGATION_TEMPORALITY_CUMULATIVE` (default) or
    /// `AGGREGATION_TEMPORALITY_DELTA`.
    pub aggregation_temporality: String,
    /// `metrics_flush_interval` (default 15s).
    #[serde(with = "weir_core::duration")]
    pub metrics_flush_interval: Duration,
    /// `metrics_expiration`: series not updated for this long are forgotten (default 0:
    /// never).
    #[serde(with = "weir_core::duration")]
    pub metrics_expiration: Duration,
    /// `namespace` (default `traces.span.metrics`).
    pub namespace: String,
    /// `aggregation_cardinality_limit`: series per metric before overflow (default 0: none).
    pub aggregation_cardinality_limit: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            histogram: HistogramConfig::default(),
            dimensions: Vec::new(),
            calls_dimensions: Vec::new(),
            events: Events::default(),
            add_resource_attributes: false,
            exclude_dimensions: Vec::new(),
            exemplars: Exemplars::default(),
            include_instrumentation_scope: Vec::new(),
            resource_metrics_key_attributes: Vec::new(),
            aggregation_temporality: "AGGREGATION_TEMPORALITY_CUMULATIVE".into(),
            metrics_flush_interval: Duration::from_secs(15),
            metrics_expiration: Duration::ZERO,
            namespace: "traces.span.metrics".into(),
            aggregation_cardinality_limit: 0,
        }
    }
}

/// `histogram`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistogramConfig {
    /// `disable`: no duration metric.
    pub disable: bool,
    /// `unit`: `ms` (default) or `s`.
    pub unit: String,
    /// `explicit`.
    pub explicit: Option<Explicit>,
    /// `exponential`.
    pub exponential: Option<Exponential>,
    /// `dimensions`: more dimensions for the duration metric only.
    pub dimensions: Vec<Dimension>,
}

impl Default for HistogramConfig {
    fn default() -> HistogramConfig {
        HistogramConfig {
            disable: false,
            unit: "ms".into(),
            explicit: None,
            exponential: None,
            dimensions: Vec::new(),
        }
    }
}

/// `events`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    /// `enabled`: count span events in `{namespace}.events`.
    pub enabled: bool,
    /// `dimensions`: event (then resource) attributes added to the default dimensions;
    /// required when enabled.
    pub dimensions: Vec<Dimension>,
}

/// `histogram.explicit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explicit {
    /// `buckets`: durations (`2ms`, `1s`).
    #[serde(deserialize_with = "durations")]
    pub buckets: Vec<Duration>,
}

/// `histogram.exponential`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exponential {
    /// `max_size`: buckets per range (default 160).
    #[serde(default = "max_size")]
    pub max_size: usize,
}

fn max_size() -> usize {
    160
}

fn durations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let texts: Vec<String> = Vec::deserialize(d)?;
    texts.iter().map(|t| weir_core::duration::parse(t).map_err(serde::de::Error::custom)).collect()
}

/// An entry of `dimensions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// `name`: the attribute.
    pub name: String,
    /// `default`: the value when the attribute is missing (else the dimension is left out).
    #[serde(default)]
    pub default: Option<String>,
}

/// `exemplars`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exemplars {
    /// `enabled`.
    pub enabled: bool,
    /// `max_per_data_point` (default 5 when enabled).
    pub max_per_data_point: usize,
}

/// The Collector's default buckets, in milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10000.0, 15000.0,
];

impl Config {
    /// Whether points are delta.
    pub fn delta(&self) -> bool {
        self.aggregation_temporality == "AGGREGATION_TEMPORALITY_DELTA"
    }

    /// Every problem, as `(path below the connector, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if !["AGGREGATION_TEMPORALITY_CUMULATIVE", "AGGREGATION_TEMPORALITY_DELTA"]
            .contains(&self.aggregation_temporality.as_str())
        {
            errors.push((
                "aggregation_temporality".into(),
                format!(
                    "{:?} is not AGGREGATION_TEMPORALITY_CUMULATIVE or AGGREGATION_TEMPORALITY_DELTA",
                    self.aggregation_temporality
                ),
            ));
        }
        if !["ms", "s"].contains(&self.histogram.unit.as_str()) {
            errors.push((
                "histogram.unit".into(),
                format!("{:?} is not ms or s", self.histogram.unit),
            ));
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            errors.push(("histogram".into(), "set explicit or exponential, not both".into()));
        }
        if let Some(explicit) = &self.histogram.explicit
            && explicit.buckets.windows(2).any(|w| w[0] >= w[1])
        {
            errors.push(("histogram.explicit.buckets".into(), "must increase".into()));
        }
        let lists = [
            ("dimensions", &self.dimensions),
            ("calls_dimensions", &self.calls_dimensions),
            ("histogram.dimensions", &self.histogram.dimensions),
            ("events.dimensions", &self.events.dimensions),
        ];
        for (path, dimensions) in lists {
            // each list against the defaults and itself, as the Collector checks them
            let mut names: Vec<&str> =
                vec!["service.name", "span.kind", "status.code", "span.name"];
            for (i, dimension) in dimensions.iter().enumerate() {
                if names.contains(&dimension.name.as_str()) {
                    errors.push((
                        format!("{path}[{i}]"),
                        format!("duplicate dimension name {}", dimension.name),
                    ));
                }
                names.push(&dimension.name);
            }
        }
        if self.events.enabled && self.events.dimensions.is_empty() {
            errors.push(("events.dimensions".into(), "no dimensions configured for events".into()));
        }
        if self.metrics_flush_interval.is_zero() {
            errors.push(("metrics_flush_interval".into(), "must be > 0".into()));
        }
        errors
    }
}
