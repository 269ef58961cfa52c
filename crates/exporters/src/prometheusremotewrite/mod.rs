//! The `prometheusremotewrite` exporter: Prometheus remote write 1.0 (protobuf `WriteRequest`,
//! snappy block compression, `X-Prometheus-Remote-Write-Version: 0.1.0`), with the
//! Collector's options.
//!
//! Conversion, with the names of `crate::prometheus::naming`: gauges and non-monotonic
//! cumulative sums as gauges; monotonic cumulative sums as counters (`_total`); cumulative
//! histograms as `_bucket{le}` (cumulative counts), `_sum` and `_count`; summaries as
//! `{quantile}`, `_sum`, `_count`; cumulative exponential histograms as native histograms
//! (schema = scale, lowered to at most 8). Delta points have no remote-write form: they are
//! dropped, counted in `weir_exporter_prometheusremotewrite_dropped_points_total{reason}` and
//! logged, naming the `deltatocumulative` processor that converts them. Each series' labels
//! are sanitised, sorted and unique (colliding names join their values with `;`), its
//! samples sorted by time; `job`/`instance` come from the resource, and `target_info` carries
//! the rest of it. Requests stay under `max_batch_size_bytes` before compression.
//!
//! Responses: 2xx is success; 429 and 5xx are retryable, honouring `Retry-After`; any other
//! status is permanent (the server refused the data: one bad sample rejects its request),
//! counted by the export queue with the server's message.

mod config;
#[cfg(test)]
mod tests;

/// The remote-write messages, compiled from `proto/prometheus/remote_write.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

use std::sync::Arc;

use std::collections::BTreeMap;

use bytes::Bytes;
pub use config::{Config, Enabled, RemoteWriteQueue, TargetInfo};
use http::{Request, StatusCode, header};
use http_body_util::Full;
use prost::Message;
use proto::{BucketSpan, Histogram, Label, MetricMetadata, Sample, TimeSeries, WriteRequest};
use weir_core::{Batch, BoxFuture, Decoded, ExportError, Exporter, Metadata, auth::ClientAuth};
use weir_otlp::proto::{
    common::v1::AnyValue,
    metrics::v1::{
        AggregationTemporality, ExponentialHistogramDataPoint, Metric, NumberDataPoint,
        exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    },
};

use crate::{
    client::{request_headers, retry_after},
    prometheus::naming::{self, Kind},
};

/// The highest native-histogram schema.
const MAX_SCHEMA: i32 = 8;

/// Exports metrics with remote write.
pub struct RemoteWriteExporter {
    id: String,
    client: crate::client::HttpClient,
    config: Config,
    headers: http::HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    /// The log of dropped delta points, rate-limited (the counter counts all).
    dropped_log: weir_core::log_limit::LogLimiter,
    dropped_delta: metrics::Counter,
    dropped_other: metrics::Counter,
}

/// A series being built: labels and samples.
#[derive(Default)]
struct Series {
    labels: Vec<Label>,
    samples: Vec<Sample>,
    histograms: Vec<Histogram>,
}

/// What one batch converts to.
#[derive(Default)]
pub struct Converted {
    series: BTreeMap<Vec<(String, String)>, Series>,
    metadata: BTreeMap<String, MetricMetadata>,
    /// Points dropped because they are delta.
    pub delta: u64,
    /// Points dropped for another reason (no value).
    pub other: u64,
}

impl RemoteWriteExporter {
    /// An exporter with its own connection pool.
    pub fn new(
        id: &str,
        config: &Config,
        auth: Option<Arc<dyn ClientAuth>>,
    ) -> std::io::Result<RemoteWriteExporter> {
        let (client, headers) =
            crate::client::http_client(config.timeout, &config.headers, &config.tls)?;
        let counter = |reason: &'static str| metrics::counter!(crate::telemetry::REMOTE_WRITE_DROPPED_POINTS, "exporter" => id.to_owned(), "reason" => reason);
        Ok(RemoteWriteExporter {
            id: id.to_owned(),
            client,
            config: config.clone(),
            headers,
            auth,
            dropped_delta: counter("delta_temporality"),
            dropped_log: Default::default(),
            dropped_other: counter("no_value"),
        })
    }

    async fn send(&self, request: &WriteRequest, metadata: &Metadata) -> Result<(), ExportError> {
        let body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .map_err(|e| ExportError::Permanent { message: format!("snappy: {e}") })?;
        let mut builder = Request::post(&self.config.endpoint)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header(header::CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header(header::USER_AGENT, concat!("weir/", env!("CARGO_PKG_VERSION")));
        if let Some(headers) = builder.headers_mut() {
            headers.extend(request_headers(&self.headers, self.auth.as_ref(), metadata));
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ExportError::Permanent { message: format!("request: {e}") })?;
        let response = self.client.request(request).await.map_err(|e| ExportError::Retryable {
            after: None,
            message: format!("{}: {e}", self.config.endpoint),
        })?;
        let status = response.status();
        let after = retry_after(response.headers());
        if status.is_success() {
            return Ok(());
        }
        let body = crate::client::read_response(response.into_body()).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_owned();
        let message = format!("{}: HTTP {status}: {text}", self.config.endpoint);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(ExportError::Retryable { after, message })
        } else {
            Err(ExportError::Permanent { message })
        }
    }
}

impl Converted {
    fn push(&mut self, labels: Vec<(String, String)>, sample: Sample) {
        self.series.entry(labels).or_default().samples.push(sample);
    }

    /// One sample per number point; returns the latest point time.
    fn numbers(
        &mut self,
        name: &str,
        base: &[(String, String)],
        points: &[NumberDataPoint],
    ) -> u64 {
        let mut latest = 0;
        for p in points {
            let Some(value) = number(p.value) else {
                self.other += 1;
                continue;
            };
            latest = latest.max(p.time_unix_nano);
            self.push(
                labels(name, base, &p.attributes, None),
                Sample { value, timestamp: ms(p.time_unix_nano) },
            );
        }
        latest
    }

    fn histogram(&mut self, labels: Vec<(String, String)>, histogram: Histogram) {
        self.series.entry(labels).or_default().histograms.push(histogram);
    }

    fn describe(
        &mut self,
        family: &str,
        kind: proto::metric_metadata::MetricType,
        metric: &Metric,
    ) {
        self.metadata.entry(family.to_owned()).or_insert_with(|| MetricMetadata {
            r#type: kind as i32,
            metric_family_name: family.to_owned(),
            help: metric.description.clone(),
            unit: metric.unit.clone(),
        });
    }

    /// The requests, each at most `max_bytes` encoded (a series larger than that alone).
    pub fn requests(self, max_bytes: usize, metadata: bool) -> Vec<WriteRequest> {
        let mut requests = Vec::new();
        let mut current = WriteRequest::default();
        let mut size = 0;
        for (labels, mut series) in self.series {
            series.labels = labels.into_iter().map(|(name, value)| Label { name, value }).collect();
            series.samples.sort_by_key(|s| s.timestamp);
            series.histograms.sort_by_key(|h| h.timestamp);
            let series = TimeSeries {
                labels: series.labels,
                samples: series.samples,
                exemplars: Vec::new(),
                histograms: series.histograms,
            };
            let len = series.encoded_len() + 8;
            if size + len > max_bytes && !current.timeseries.is_empty() {
                requests.push(std::mem::take(&mut current));
                size = 0;
            }
            size += len;
            current.timeseries.push(series);
        }
        if !current.timeseries.is_empty() {
            requests.push(current);
        }
        if metadata && let Some(first) = requests.first_mut() {
            first.metadata = self.metadata.into_values().collect();
        }
        requests
    }
}

/// Sorted, unique labels with `__name__`; colliding names join their values with `;`.
fn labels(
    name: &str,
    base: &[(String, String)],
    attributes: &[weir_otlp::proto::common::v1::KeyValue],
    extra: Option<(&str, String)>,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = base.to_vec();
    for kv in attributes {
        all.push((naming::label_name(&kv.key), text(kv.value.as_ref())));
    }
    if let Some((k, v)) = extra {
        all.push((k.to_owned(), v));
    }
    all.push(("__name__".to_owned(), name.to_owned()));
    all.sort();
    let mut unique: Vec<(String, String)> = Vec::with_capacity(all.len());
    for (k, v) in all {
        match unique.last_mut() {
            Some(last) if last.0 == k => {
                if last.1 != v {
                    last.1 = format!("{};{v}", last.1);
                }
            }
            _ => unique.push((k, v)),
        }
    }
    unique.retain(|(_, v)| !v.is_empty());
    unique
}

/// An attribute value as label text (the one stable rendering, never `Debug` output).
fn text(value: Option<&AnyValue>) -> String {
    weir_otlp::attributes::text(value).unwrap_or_default()
}

fn ms(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

/// Converts a batch of metrics.
pub fn convert(config: &Config, batch: &Batch) -> Converted {
    use proto::metric_metadata::MetricType as T;
    let mut out = Converted::default();
    let view = batch.view();
    let Decoded::Metrics(resources) = &*view else { return out };
    let cumulative = |t: i32| t == AggregationTemporality::Cumulative as i32;
    for resource_metrics in resources {
        let attributes = resource_metrics.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let resource: Vec<(String, String)> =
            attributes.iter().map(|kv| (kv.key.clone(), text(kv.value.as_ref()))).collect();
        let (job, instance) = naming::job_and_instance(&resource);
        let mut base: Vec<(String, String)> = Vec::new();
        base.extend(job.clone().map(|j| ("job".to_owned(), j)));
        base.extend(instance.clone().map(|i| ("instance".to_owned(), i)));
        for (k, v) in &config.external_labels {
            base.push((naming::label_name(k), v.clone()));
        }
        let identifying = ["service.name", "service.namespace", "service.instance.id"];
        if config.resource_to_telemetry_conversion.enabled {
            for (k, v) in resource.iter().filter(|(k, _)| !identifying.contains(&k.as_str())) {
                base.push((naming::label_name(k), v.clone()));
            }
        }
        let mut latest = 0;
        for metric in resource_metrics.scope_metrics.iter().flat_map(|s| &s.metrics) {
            let name =
                |kind| naming::metric_name(&metric.name, &metric.unit, kind, &config.namespace);
            match &metric.data {
                Some(Data::Gauge(g)) => {
                    let name = name(Kind::Gauge);
                    out.describe(&name, T::Gauge, metric);
                    latest = latest.max(out.numbers(&name, &base, &g.data_points));
                }
                Some(Data::Sum(s)) => {
                    if !cumulative(s.aggregation_temporality) {
                        out.delta += s.data_points.len() as u64;
                        continue;
                    }
                    let kind = if s.is_monotonic { Kind::Counter } else { Kind::Gauge };
                    let name = name(kind);
                    out.describe(&name, if s.is_monotonic { T::Counter } else { T::Gauge }, metric);
                    latest = latest.max(out.numbers(&name, &base, &s.data_points));
                }
                Some(Data::Histogram(h)) => {
                    if !cumulative(h.aggregation_temporality) {
                        out.delta += h.data_points.len() as u64;
                        continue;
                    }
                    let name = name(Kind::Histogram);
                    out.describe(&name, T::Histogram, metric);
                    for p in &h.data_points {
                        latest = latest.max(p.time_unix_nano);
                        let t = ms(p.time_unix_nano);
                        let mut cumulative_count = 0;
                        for (i, bound) in p.explicit_bounds.iter().enumerate() {
                            cumulative_count += p.bucket_counts.get(i).copied().unwrap_or(0);
                            let le = Some(("le", float(*bound)));
                            out.push(
                                labels(&format!("{name}_bucket"), &base, &p.attributes, le),
                                Sample { value: cumulative_count as f64, timestamp: t },
                            );
                        }
                        let le = Some(("le", "+Inf".to_owned()));
                        out.push(
                            labels(&format!("{name}_bucket"), &base, &p.attributes, le),
                            Sample { value: p.count as f64, timestamp: t },
                        );
                        out.push(
                            labels(&format!("{name}_count"), &base, &p.attributes, None),
                            Sample { value: p.count as f64, timestamp: t },
                        );
                        if let Some(sum) = p.sum {
                            out.push(
                                labels(&format!("{name}_sum"), &base, &p.attributes, None),
                                Sample { value: sum, timestamp: t },
                            );
                        }
                    }
                }
                Some(Data::ExponentialHistogram(e)) => {
                    if !cumulative(e.aggregation_temporality) {
                        out.delta += e.data_points.len() as u64;
                        continue;
                    }
                    let name = name(Kind::Histogram);
                    out.describe(&name, T::Histogram, metric);
                    for p in &e.data_points {
                        latest = latest.max(p.time_unix_nano);
                        out.histogram(labels(&name, &base, &p.attributes, None), native(p));
                    }
                }
                Some(Data::Summary(s)) => {
                    let name = name(Kind::Summary);
                    out.describe(&name, T::Summary, metric);
                    for p in &s.data_points {
                        latest = latest.max(p.time_unix_nano);
                        let t = ms(p.time_unix_nano);
                        for q in &p.quantile_values {
                            let quantile = Some(("quantile", float(q.quantile)));
                            out.push(
                                labels(&name, &base, &p.attributes, quantile),
                                Sample { value: q.value, timestamp: t },
                            );
                        }
                        out.push(
                            labels(&format!("{name}_count"), &base, &p.attributes, None),
                            Sample { value: p.count as f64, timestamp: t },
                        );
                        out.push(
                            labels(&format!("{name}_sum"), &base, &p.attributes, None),
                            Sample { value: p.sum, timestamp: t },
                        );
                    }
                }
                None => {}
            }
        }
        if config.target_info.enabled && latest > 0 && (job.is_some() || instance.is_some()) {
            let mut info: Vec<(String, String)> = Vec::new();
            info.extend(job.clone().map(|j| ("job".to_owned(), j)));
            info.extend(instance.clone().map(|i| ("instance".to_owned(), i)));
            for (k, v) in &config.external_labels {
                info.push((naming::label_name(k), v.clone()));
            }
            for (k, v) in resource.iter().filter(|(k, _)| !identifying.contains(&k.as_str())) {
                info.push((naming::label_name(k), v.clone()));
            }
            let name = if config.namespace.is_empty() {
                "target_info".to_owned()
            } else {
                format!(
                    "{}_target_info",
                    naming::metric_name(&config.namespace, "", Kind::Gauge, "")
                )
            };
            out.push(labels(&name, &info, &[], None), Sample { value: 1.0, timestamp: ms(latest) });
        }
    }
    out
}

fn number(value: Option<number_data_point::Value>) -> Option<f64> {
    match value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

fn float(v: f64) -> String {
    if v == f64::INFINITY { "+Inf".into() } else { format!("{v}") }
}

/// An exponential histogram as a native histogram: bucket i of OpenTelemetry, (base^i,
/// base^(i+1)], is bucket i + 1 of Prometheus.
fn native(p: &ExponentialHistogramDataPoint) -> Histogram {
    let mut p = p.clone();
    while p.scale > MAX_SCHEMA {
        for buckets in [&mut p.positive, &mut p.negative].into_iter().flatten() {
            weir_otlp::exponential::downscale(buckets, 1);
        }
        p.scale -= 1;
    }
    let (positive_spans, positive_deltas) = spans_and_deltas(p.positive.as_ref());
    let (negative_spans, negative_deltas) = spans_and_deltas(p.negative.as_ref());
    Histogram {
        count: Some(proto::histogram::Count::CountInt(p.count)),
        sum: p.sum.unwrap_or(0.0),
        schema: p.scale,
        zero_threshold: p.zero_threshold,
        zero_count: Some(proto::histogram::ZeroCount::ZeroCountInt(p.zero_count)),
        negative_spans,
        negative_deltas,
        negative_counts: Vec::new(),
        positive_spans,
        positive_deltas,
        positive_counts: Vec::new(),
        reset_hint: proto::histogram::ResetHint::Unknown as i32,
        timestamp: ms(p.time_unix_nano),
    }
}

/// One span per run of buckets (runs of more than two empty buckets split spans) and the
/// counts as deltas from the previous bucket.
fn spans_and_deltas(buckets: Option<&Buckets>) -> (Vec<BucketSpan>, Vec<i64>) {
    let Some(buckets) = buckets else { return (Vec::new(), Vec::new()) };
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::new();
    let mut previous = 0i64;
    let mut next_index: Option<i64> = None;
    let mut gap = 0i64;
    for (i, count) in buckets.bucket_counts.iter().enumerate() {
        let index = i64::from(buckets.offset) + i as i64 + 1;
        if *count == 0 {
            gap += 1;
            continue;
        }
        match (next_index, spans.last_mut()) {
            (Some(expected), Some(span)) if index - expected <= 2 => {
                // short gaps stay inside the span as zero buckets
                for _ in expected..index {
                    deltas.push(-previous);
                    previous = 0;
                }
                span.length += (index - expected) as u32 + 1;
            }
            (expected, _) => {
                let offset = match expected {
                    Some(expected) => index - expected,
                    None => index,
                };
                spans.push(BucketSpan { offset: offset as i32, length: 1 });
            }
        }
        let value = *count as i64;
        deltas.push(value - previous);
        previous = value;
        next_index = Some(index + 1);
        gap = 0;
    }
    let _ = gap;
    (spans, deltas)
}

impl Exporter for RemoteWriteExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let converted = convert(&self.config, batch);
            if converted.delta > 0 {
                self.dropped_delta.increment(converted.delta);
                if let Some(suppressed) = self.dropped_log.check() {
                    tracing::warn!(exporter = %self.id, points = converted.delta, suppressed,
                        "delta points have no remote-write form and were dropped: add the delta_to_cumulative processor to the pipeline");
                }
            }
            if converted.other > 0 {
                self.dropped_other.increment(converted.other);
            }
            for request in
                converted.requests(self.config.max_batch_size_bytes, self.config.send_metadata)
            {
                self.send(&request, metadata).await?;
            }
            Ok(())
        })
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "prometheus_remote_write",
        aliases: &["prometheusremotewrite"],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Metrics]),
        stability: weir_core::Stability::Beta,
        summary: "Prometheus remote write 1.0",
    }
);

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move {
            Ok(Arc::new(RemoteWriteExporter::new(id, self, auth.client(self.auth.as_ref())?)?)
                as Arc<dyn Exporter>)
        })
    }

    fn queue(&self) -> weir_core::export::Settings {
        self.settings()
    }

    fn authenticator(&self) -> Option<&str> {
        self.auth.as_ref().map(|a| a.authenticator.as_str())
    }
}
