//! The `prometheus` exporter: metrics served for scraping, with the Collector's options
//! (`endpoint`, `namespace`, `const_labels`, `metric_expiration`,
//! `resource_to_telemetry_conversion`, `enable_open_metrics`) and weir's `max_series`.
//!
//! Exported points update an in-memory table of series: cumulative points replace a series'
//! value, delta sums and histograms add to it (so a delta source reads as a counter). The
//! table holds at most `max_series` series (new ones past it are refused, counted in
//! `weir_exporter_prometheus_series_refused_total`) and forgets series not updated for
//! `metric_expiration`, on a timer that runs whether or not anyone scrapes. Exponential
//! histograms have no classic text form and are counted as refused. Each resource also gives
//! a `target_info` series; `job` and `instance` come from `service.namespace`/`service.name`
//! and `service.instance.id`, and the instrumentation scope from `otel_scope_name` and
//! `otel_scope_version`.

mod config;
pub mod naming;
#[cfg(test)]
mod tests;

pub use config::{Config, ResourceConversion};

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use naming::Kind;
use tokio_util::sync::CancellationToken;
use weir_core::{Batch, BoxFuture, Decoded, ExportError, Exporter};
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue},
    metrics::v1::{AggregationTemporality, metric::Data, number_data_point},
};

/// A series' value.
#[derive(Debug, Clone, PartialEq)]
enum SeriesValue {
    Number(f64),
    Histogram { bounds: Vec<f64>, counts: Vec<u64>, sum: f64, count: u64 },
    Summary { quantiles: Vec<(f64, f64)>, sum: f64, count: u64 },
}

#[derive(Debug)]
struct Series {
    value: SeriesValue,
    updated: Instant,
}

#[derive(Debug)]
struct Family {
    kind: Kind,
    help: String,
    series: HashMap<Vec<(String, String)>, Series>,
}

/// The table of series, shared by the exporter and the scrape handler.
#[derive(Debug)]
struct Table {
    families: BTreeMap<String, Family>,
    series: usize,
    refused: u64,
}

/// The `prometheus` exporter.
pub struct PrometheusExporter {
    config: Config,
    table: Arc<Mutex<Table>>,
    addr: SocketAddr,
    stop: CancellationToken,
    refused: metrics::Counter,
}

impl PrometheusExporter {
    /// Binds the endpoint and starts serving and expiring.
    pub async fn start(id: &str, config: &Config) -> std::io::Result<PrometheusExporter> {
        let listener = tokio::net::TcpListener::bind(&config.endpoint).await?;
        let addr = listener.local_addr()?;
        let table =
            Arc::new(Mutex::new(Table { families: BTreeMap::new(), series: 0, refused: 0 }));
        let stop = CancellationToken::new();
        let open_metrics = config.enable_open_metrics;
        let served = table.clone();
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: http::HeaderMap| {
                let table = served.clone();
                async move {
                    let accept = headers
                        .get(http::header::ACCEPT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    let open = open_metrics && accept.contains("application/openmetrics-text");
                    let body = render(&table.lock().expect("not poisoned"), open);
                    let content_type = if open {
                        "application/openmetrics-text; version=1.0.0; charset=utf-8"
                    } else {
                        "text/plain; version=0.0.4; charset=utf-8"
                    };
                    ([(http::header::CONTENT_TYPE, content_type)], body)
                }
            }),
        );
        let shutdown = stop.clone();
        tokio::spawn(async move {
            let server =
                axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
            if let Err(error) = server.await {
                tracing::error!(%error, "prometheus endpoint failed");
            }
        });
        let expired = table.clone();
        let expiration = config.metric_expiration;
        let shutdown = stop.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(
                (expiration / 4).clamp(Duration::from_millis(100), Duration::from_secs(10)),
            );
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = ticker.tick() => expire(&mut expired.lock().expect("not poisoned"), expiration),
                }
            }
        });
        tracing::info!(exporter = id, %addr, "serving metrics for scraping");
        Ok(PrometheusExporter {
            config: config.clone(),
            table,
            addr,
            stop,
            refused: metrics::counter!(crate::telemetry::PROMETHEUS_SERIES_REFUSED, "exporter" => id.to_owned()),
        })
    }

    /// Records a batch of metrics into the table.
    fn record(&self, batch: &Batch) {
        let view = batch.view();
        let Decoded::Metrics(resources) = &*view else { return };
        let mut table = self.table.lock().expect("not poisoned");
        let before = table.refused;
        let now = Instant::now();
        for resource_metrics in resources {
            let resource: Vec<(String, String)> = resource_metrics
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                .collect();
            let (job, instance) = naming::job_and_instance(&resource);
            let mut base: Vec<(String, String)> = Vec::new();
            if let Some(job) = &job {
                base.push(("job".into(), job.clone()));
            }
            if let Some(instance) = &instance {
                base.push(("instance".into(), instance.clone()));
            }
            for (k, v) in &self.config.const_labels {
                base.push((naming::label_name(k), v.clone()));
            }
            let mut info = base.clone();
            for (key, value) in &resource {
                if !["service.name", "service.namespace", "service.instance.id"]
                    .contains(&key.as_str())
                {
                    info.push((naming::label_name(key), value.clone()));
                    if self.config.resource_to_telemetry_conversion.enabled {
                        base.push((naming::label_name(key), value.clone()));
                    }
                }
            }
            if !resource.is_empty() {
                let name = if self.config.namespace.is_empty() {
                    "target_info".to_owned()
                } else {
                    format!(
                        "{}_target_info",
                        naming::metric_name(&self.config.namespace, "", Kind::Gauge, "")
                    )
                };
                upsert(
                    &mut table,
                    &self.config,
                    &name,
                    Kind::Gauge,
                    "Target metadata",
                    info,
                    now,
                    |v| *v = SeriesValue::Number(1.0),
                    SeriesValue::Number(1.0),
                );
            }
            for scope_metrics in &resource_metrics.scope_metrics {
                let mut labels = base.clone();
                if let Some(scope) = &scope_metrics.scope {
                    if !scope.name.is_empty() {
                        labels.push(("otel_scope_name".into(), scope.name.clone()));
                    }
                    if !scope.version.is_empty() {
                        labels.push(("otel_scope_version".into(), scope.version.clone()));
                    }
                }
                for metric in &scope_metrics.metrics {
                    self.record_metric(&mut table, metric, &labels, now);
                }
            }
        }
        let refused = table.refused - before;
        if refused > 0 {
            self.refused.increment(refused);
            tracing::warn!(
                refused,
                max_series = self.config.max_series,
                "prometheus exporter: series over max_series refused"
            );
        }
    }

    fn record_metric(
        &self,
        table: &mut Table,
        metric: &weir_otlp::proto::metrics::v1::Metric,
        labels: &[(String, String)],
        now: Instant,
    ) {
        let with = |attributes: &[KeyValue]| -> Vec<(String, String)> {
            let mut all = labels.to_vec();
            for kv in attributes {
                all.push((naming::label_name(&kv.key), text(kv.value.as_ref())));
            }
            all
        };
        let delta = |t: i32| t == AggregationTemporality::Delta as i32;
        let config = &self.config;
        match &metric.data {
            Some(Data::Gauge(g)) => {
                let name =
                    naming::metric_name(&metric.name, &metric.unit, Kind::Gauge, &config.namespace);
                for p in &g.data_points {
                    let v = number(p.value);
                    upsert(
                        table,
                        config,
                        &name,
                        Kind::Gauge,
                        &metric.description,
                        with(&p.attributes),
                        now,
                        |s| *s = SeriesValue::Number(v),
                        SeriesValue::Number(v),
                    );
                }
            }
            Some(Data::Sum(s)) => {
                let kind = if s.is_monotonic { Kind::Counter } else { Kind::Gauge };
                let name = naming::metric_name(&metric.name, &metric.unit, kind, &config.namespace);
                let adds = delta(s.aggregation_temporality);
                for p in &s.data_points {
                    let v = number(p.value);
                    upsert(
                        table,
                        config,
                        &name,
                        kind,
                        &metric.description,
                        with(&p.attributes),
                        now,
                        |s| match s {
                            SeriesValue::Number(old) if adds => *old += v,
                            other => *other = SeriesValue::Number(v),
                        },
                        SeriesValue::Number(v),
                    );
                }
            }
            Some(Data::Histogram(h)) => {
                let name = naming::metric_name(
                    &metric.name,
                    &metric.unit,
                    Kind::Histogram,
                    &config.namespace,
                );
                let adds = delta(h.aggregation_temporality);
                for p in &h.data_points {
                    let fresh = SeriesValue::Histogram {
                        bounds: p.explicit_bounds.clone(),
                        counts: p.bucket_counts.clone(),
                        sum: p.sum.unwrap_or(0.0),
                        count: p.count,
                    };
                    upsert(
                        table,
                        config,
                        &name,
                        Kind::Histogram,
                        &metric.description,
                        with(&p.attributes),
                        now,
                        |s| match s {
                            SeriesValue::Histogram { bounds, counts, sum, count }
                                if adds
                                    && *bounds == p.explicit_bounds
                                    && counts.len() == p.bucket_counts.len() =>
                            {
                                counts.iter_mut().zip(&p.bucket_counts).for_each(|(c, n)| *c += n);
                                *sum += p.sum.unwrap_or(0.0);
                                *count += p.count;
                            }
                            other => *other = fresh.clone(),
                        },
                        fresh.clone(),
                    );
                }
            }
            Some(Data::Summary(s)) => {
                let name = naming::metric_name(
                    &metric.name,
                    &metric.unit,
                    Kind::Summary,
                    &config.namespace,
                );
                for p in &s.data_points {
                    let fresh = SeriesValue::Summary {
                        quantiles: p
                            .quantile_values
                            .iter()
                            .map(|q| (q.quantile, q.value))
                            .collect(),
                        sum: p.sum,
                        count: p.count,
                    };
                    upsert(
                        table,
                        config,
                        &name,
                        Kind::Summary,
                        &metric.description,
                        with(&p.attributes),
                        now,
                        |s| *s = fresh.clone(),
                        fresh.clone(),
                    );
                }
            }
            Some(Data::ExponentialHistogram(e)) => table.refused += e.data_points.len() as u64,
            None => {}
        }
    }
}

/// Sets or updates one series, creating it if the table has room.
#[allow(clippy::too_many_arguments)]
fn upsert(
    table: &mut Table,
    config: &Config,
    name: &str,
    kind: Kind,
    help: &str,
    mut labels: Vec<(String, String)>,
    now: Instant,
    update: impl FnOnce(&mut SeriesValue),
    fresh: SeriesValue,
) {
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    let room = table.series < config.max_series;
    let family = table.families.entry(name.to_owned()).or_insert_with(|| Family {
        kind,
        help: help.to_owned(),
        series: HashMap::new(),
    });
    match family.series.get_mut(&labels) {
        Some(series) => {
            update(&mut series.value);
            series.updated = now;
        }
        None if room => {
            family.series.insert(labels, Series { value: fresh, updated: now });
            table.series += 1;
        }
        None => table.refused += 1,
    }
}

fn expire(table: &mut Table, expiration: Duration) {
    let now = Instant::now();
    let mut removed = 0;
    for family in table.families.values_mut() {
        let before = family.series.len();
        family.series.retain(|_, s| now.duration_since(s.updated) < expiration);
        removed += before - family.series.len();
    }
    table.families.retain(|_, f| !f.series.is_empty());
    table.series -= removed;
}

fn number(value: Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// An attribute value as label text (the one stable rendering, never `Debug` output).
fn text(value: Option<&AnyValue>) -> String {
    weir_otlp::attributes::text(value).unwrap_or_default()
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn sample(
    out: &mut String,
    name: &str,
    labels: &[(String, String)],
    extra: Option<(&str, String)>,
    value: String,
) {
    out.push_str(name);
    let mut all: Vec<String> =
        labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
    if let Some((k, v)) = extra {
        all.push(format!("{k}=\"{v}\""));
    }
    if !all.is_empty() {
        let _ = write!(out, "{{{}}}", all.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// The text exposition format (or OpenMetrics).
fn render(table: &Table, open_metrics: bool) -> String {
    let mut out = String::new();
    for (name, family) in &table.families {
        let family_name = if open_metrics && family.kind == Kind::Counter {
            name.strip_suffix("_total").unwrap_or(name)
        } else {
            name
        };
        let _ = writeln!(out, "# HELP {family_name} {}", escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {family_name} {}", family.kind.as_str());
        let mut series: Vec<_> = family.series.iter().collect();
        series.sort_by(|a, b| a.0.cmp(b.0));
        for (labels, s) in series {
            match &s.value {
                SeriesValue::Number(v) => sample(&mut out, name, labels, None, float(*v)),
                SeriesValue::Histogram { bounds, counts, sum, count } => {
                    let mut cumulative = 0;
                    for (i, bound) in bounds.iter().enumerate() {
                        cumulative += counts.get(i).copied().unwrap_or(0);
                        sample(
                            &mut out,
                            &format!("{name}_bucket"),
                            labels,
                            Some(("le", float(*bound))),
                            cumulative.to_string(),
                        );
                    }
                    sample(
                        &mut out,
                        &format!("{name}_bucket"),
                        labels,
                        Some(("le", "+Inf".into())),
                        count.to_string(),
                    );
                    sample(&mut out, &format!("{name}_sum"), labels, None, float(*sum));
                    sample(&mut out, &format!("{name}_count"), labels, None, count.to_string());
                }
                SeriesValue::Summary { quantiles, sum, count } => {
                    for (q, v) in quantiles {
                        sample(&mut out, name, labels, Some(("quantile", float(*q))), float(*v));
                    }
                    sample(&mut out, &format!("{name}_sum"), labels, None, float(*sum));
                    sample(&mut out, &format!("{name}_count"), labels, None, count.to_string());
                }
            }
        }
    }
    if open_metrics {
        out.push_str("# EOF\n");
    }
    out
}

impl Exporter for PrometheusExporter {
    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.addr)
    }

    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        _: &'a weir_core::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        self.record(batch);
        Box::pin(async { Ok(()) })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ExportError>> {
        self.stop.cancel();
        Box::pin(async { Ok(()) })
    }
}
