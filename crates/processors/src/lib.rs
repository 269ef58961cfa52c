//! Processors and connectors of weir: synchronous and pure (no IO, no locks, no clocks), so
//! each is tested with plain `#[test]`s. [`ProcessorConfig`] and [`ConnectorConfig`] are the
//! closed sets of each kind.

pub mod batch;
pub mod cardinality_limiter;
pub mod deltatocumulative;
pub mod forward;
pub mod memory_limiter;
pub mod probabilistic_sampler;
pub mod resource;
pub mod sampling;
pub mod slo;
pub mod spanmetrics;
pub mod tail_sampling;

use weir_core::{ComponentInfo, Processor, Signal, options::or_default};

const ALL_SIGNALS: &[Signal] = &[Signal::Traces, Signal::Metrics, Signal::Logs];

/// The configuration of one processor, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessorConfig {
    /// `batch`: groups items into batches by size and time.
    Batch(batch::Config),
    /// `memory_limiter`: refuses data at the receivers while memory is over the limit.
    MemoryLimiter(memory_limiter::Config),
    /// `cardinality_limiter`: bounds metric series, keeping totals in overflow series.
    CardinalityLimiter(Box<cardinality_limiter::Config>),
    /// `probabilistic_sampler`: consistent probability sampling of spans and log records.
    ProbabilisticSampler(Box<probabilistic_sampler::Config>),
    /// `tail_sampling`: whole-trace decisions by policies, memory-bounded.
    TailSampling(Box<tail_sampling::Config>),
    /// `deltatocumulative`: delta sums and histograms to cumulative, bounded by `max_streams`.
    DeltaToCumulative(deltatocumulative::Config),
    /// `resource`: inserts, updates, upserts or deletes resource attributes.
    Resource(resource::Config),
}

/// Every processor type.
pub const PROCESSORS: &[ComponentInfo] = &[
    ComponentInfo { name: "batch", aliases: &[], signals: ALL_SIGNALS, stability: "beta" },
    ComponentInfo { name: "memory_limiter", aliases: &[], signals: ALL_SIGNALS, stability: "beta" },
    ComponentInfo {
        name: "cardinality_limiter",
        aliases: &[],
        signals: &[Signal::Metrics],
        stability: "alpha",
    },
    ComponentInfo {
        name: "probabilistic_sampler",
        aliases: &[],
        signals: &[Signal::Traces, Signal::Logs],
        stability: "beta",
    },
    ComponentInfo { name: "resource", aliases: &[], signals: ALL_SIGNALS, stability: "beta" },
    ComponentInfo {
        name: "deltatocumulative",
        aliases: &[],
        signals: &[Signal::Metrics],
        stability: "alpha",
    },
    ComponentInfo {
        name: "tail_sampling",
        aliases: &[],
        signals: &[Signal::Traces],
        stability: "beta",
    },
];

impl ProcessorConfig {
    /// Deserialises the configuration of a processor of type `kind`; `None` when no processor
    /// has that type.
    pub fn deserialize<'de, D>(
        kind: &str,
        deserializer: D,
    ) -> Option<Result<ProcessorConfig, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        Some(match kind {
            "batch" => or_default(deserializer).map(ProcessorConfig::Batch),
            "memory_limiter" => or_default(deserializer).map(ProcessorConfig::MemoryLimiter),
            "cardinality_limiter" => {
                or_default(deserializer).map(ProcessorConfig::CardinalityLimiter)
            }
            "probabilistic_sampler" => {
                or_default(deserializer).map(ProcessorConfig::ProbabilisticSampler)
            }
            "tail_sampling" => or_default(deserializer).map(ProcessorConfig::TailSampling),
            "deltatocumulative" => or_default(deserializer).map(ProcessorConfig::DeltaToCumulative),
            "resource" => or_default(deserializer).map(ProcessorConfig::Resource),
            _ => return None,
        })
    }

    /// The signals this processor handles.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ProcessorConfig::CardinalityLimiter(_) => &[Signal::Metrics],
            ProcessorConfig::ProbabilisticSampler(_) => &[Signal::Traces, Signal::Logs],
            ProcessorConfig::TailSampling(_) => &[Signal::Traces],
            ProcessorConfig::DeltaToCumulative(_) => &[Signal::Metrics],
            _ => ALL_SIGNALS,
        }
    }

    /// Every problem of this configuration, as `(path below the component, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ProcessorConfig::Batch(config) => config.validate(),
            ProcessorConfig::MemoryLimiter(config) => config.validate(),
            ProcessorConfig::CardinalityLimiter(config) => config.validate(),
            ProcessorConfig::ProbabilisticSampler(config) => config.validate(),
            ProcessorConfig::TailSampling(config) => config.validate(),
            ProcessorConfig::DeltaToCumulative(config) => config.validate(),
            ProcessorConfig::Resource(config) => config.validate(),
        }
    }

    /// A new instance of processor `id` (one per pipeline that lists it, as in the Collector).
    pub fn build(&self, id: &str) -> Box<dyn Processor> {
        match self {
            ProcessorConfig::Batch(config) => Box::new(batch::Batcher::new(config)),
            ProcessorConfig::MemoryLimiter(_) => Box::new(memory_limiter::PassThrough),
            ProcessorConfig::CardinalityLimiter(config) => {
                Box::new(cardinality_limiter::Limiter::new(config, id))
            }
            ProcessorConfig::ProbabilisticSampler(config) => {
                Box::new(probabilistic_sampler::Sampler::new(config, id))
            }
            ProcessorConfig::TailSampling(config) => {
                Box::new(tail_sampling::TailSampler::new(config, id))
            }
            ProcessorConfig::DeltaToCumulative(config) => {
                Box::new(deltatocumulative::DeltaToCumulative::new(config, id))
            }
            ProcessorConfig::Resource(config) => Box::new(resource::ResourceProcessor::new(config)),
        }
    }
}

/// The configuration of one connector, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorConfig {
    /// `forward`: passes data unchanged from pipelines of one signal to others of the same.
    Forward(forward::Config),
    /// `spanmetrics`: RED metrics from spans.
    SpanMetrics(Box<spanmetrics::Config>),
    /// `slo`: service-level objectives from spans, logs or metrics, as metrics.
    Slo(Box<slo::Config>),
}

/// Every connector type.
pub const CONNECTORS: &[ComponentInfo] = &[
    ComponentInfo { name: "forward", aliases: &[], signals: ALL_SIGNALS, stability: "beta" },
    ComponentInfo {
        name: "spanmetrics",
        aliases: &[],
        signals: &[Signal::Traces],
        stability: "alpha",
    },
    ComponentInfo { name: "slo", aliases: &[], signals: ALL_SIGNALS, stability: "development" },
];

impl ConnectorConfig {
    /// Deserialises the configuration of a connector of type `kind`; `None` when no connector
    /// has that type.
    pub fn deserialize<'de, D>(
        kind: &str,
        deserializer: D,
    ) -> Option<Result<ConnectorConfig, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        Some(match kind {
            "forward" => or_default(deserializer).map(ConnectorConfig::Forward),
            "spanmetrics" => or_default(deserializer).map(ConnectorConfig::SpanMetrics),
            "slo" => or_default(deserializer).map(ConnectorConfig::Slo),
            _ => return None,
        })
    }

    /// Whether the connector can end a pipeline of `from` and start one of `to`.
    pub fn connects(&self, from: Signal, to: Signal) -> bool {
        match self {
            ConnectorConfig::Forward(_) => from == to,
            ConnectorConfig::SpanMetrics(_) => from == Signal::Traces && to == Signal::Metrics,
            ConnectorConfig::Slo(_) => to == Signal::Metrics,
        }
    }

    /// Every problem of this configuration, as `(path below the component, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ConnectorConfig::Forward(_) => Vec::new(),
            ConnectorConfig::SpanMetrics(config) => config.validate(),
            ConnectorConfig::Slo(config) => config.validate(),
        }
    }

    /// A new connector instance: a processor whose output feeds the pipelines that list the
    /// connector as a receiver.
    pub fn build(&self, id: &str) -> Box<dyn Processor> {
        match self {
            ConnectorConfig::Forward(_) => Box::new(forward::Forward),
            ConnectorConfig::SpanMetrics(config) => Box::new(spanmetrics::SpanMetrics::new(config)),
            ConnectorConfig::Slo(config) => Box::new(slo::SloConnector::new(config, id)),
        }
    }
}
