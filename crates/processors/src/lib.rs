//! Processors and connectors of weir: synchronous and pure (no IO, no locks, no clocks), so
//! each is tested with plain `#[test]`s. [`ProcessorSettings`] and [`ConnectorSettings`] are the
//! closed sets of each kind.

pub mod attributes;
pub mod batch;
pub mod cardinality_limiter;
pub mod count;
pub mod cumulativetodelta;
pub mod deltatocumulative;
pub mod filter;
pub mod forward;
pub mod groupbyattrs;
pub mod k8sattributes;
pub mod match_properties;
pub mod memory_limiter;
pub mod metricstransform;
mod ottl;
pub mod probabilistic_sampler;
pub mod resource;
pub mod resourcedetection;
pub mod routing;
pub mod sampling;
pub mod slo;
pub mod spanmetrics;
pub mod tail_sampling;
mod telemetry;
pub mod transform;

weir_core::kind! {
    /// A validated processor, by type.
    pub enum ProcessorSettings as dyn weir_core::declare::BuildProcessor {
        /// `batch`: groups items into batches by size and time.
        Batch(batch::Config),
        /// `memory_limiter`: refuses data at the receivers while memory is over the limit.
        MemoryLimiter(memory_limiter::Config),
        /// `cardinality_limiter`: bounds metric series, keeping totals in overflow series.
        CardinalityLimiter(cardinality_limiter::Config),
        /// `probabilistic_sampler`: consistent probability sampling of spans and log records.
        ProbabilisticSampler(probabilistic_sampler::Config),
        /// `tail_sampling`: whole-trace decisions by policies, memory-bounded.
        TailSampling(tail_sampling::Settings),
        /// `deltatocumulative`: delta sums and histograms to cumulative.
        DeltaToCumulative(deltatocumulative::Config),
        /// `cumulativetodelta`: cumulative sums and histograms to delta.
        CumulativeToDelta(cumulativetodelta::Settings),
        /// `metricstransform`: renames, relabels, scales and aggregates metrics.
        MetricsTransform(metricstransform::Settings),
        /// `resource`: inserts, updates, upserts or deletes resource attributes.
        Resource(resource::Config),
        /// `groupbyattrs`: moves record attributes to the resource, merging by resource.
        GroupByAttrs(groupbyattrs::Config),
        /// `transform`: changes telemetry with OTTL statements.
        Transform(transform::Settings),
        /// `filter`: drops telemetry matching OTTL conditions or include/exclude properties.
        Filter(filter::Settings),
        /// `resourcedetection`: adds attributes detected at start to every resource.
        ResourceDetection(resourcedetection::Settings),
        /// `attributes`: inserts, updates, deletes, hashes, extracts or converts attributes.
        Attributes(attributes::Settings),
        /// `k8s_attributes`: adds the sender's pod, workload, namespace and node.
        K8sAttributes(k8sattributes::Settings),
    }
}

weir_core::kind! {
    /// A validated connector, by type.
    pub enum ConnectorSettings as dyn weir_core::declare::BuildProcessor {
        /// `forward`: passes data unchanged between pipelines of the same signal.
        Forward(forward::Config),
        /// `spanmetrics`: RED metrics from spans.
        SpanMetrics(spanmetrics::Config),
        /// `slo`: service-level objectives from spans, logs or metrics, as metrics.
        Slo(slo::Settings),
        /// `routing`: routes telemetry to pipelines by OTTL conditions or request metadata.
        Routing(routing::Settings),
        /// `count`: counts spans, span events, metrics, data points and log records as metrics.
        Count(count::Settings),
    }
}
