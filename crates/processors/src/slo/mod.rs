//! The `slo` connector (traces, logs or metrics → metrics): SLOs declared in configuration,
//! computed in stream.
//!
//! Each event selected by an SLO's `total` selector counts in its group (by `group_by`) with
//! its adjusted count (from `ot=th`; 1 without one), as good or bad, at its event time (a
//! span's end) in the buckets of `window::Windows`. Every `evaluation_interval` the connector
//! emits, per SLO and group: `slo.events.total` and `slo.events.good` (cumulative counters),
//! `slo.objective`, `slo.burn_rate{slo.window}` (none for a window without events),
//! `slo.error_budget.remaining`, `slo.sli`, `slo.alert.firing{slo.alert.tier}` and
//! `slo.window.coverage{slo.window}`; `slo.estimated=true` marks points to which adjusted
//! counts other than 1 contributed. Alert tiers are the SRE Workbook's: `page_fast` (1h and
//! 5m at 14.4×), `page_slow` (6h and 30m at 6×) and `ticket` (3d and 6h at 1×); a tier fires
//! when both windows burn at least that fast, and a change of state is logged.
//!
//! Events later than `allowed_lateness` count in the current bucket; events more than 30 s
//! in the future are clamped to now. Groups past `max_groups` fold into one group with
//! `otel.metric.overflow=true`. With `snapshot.directory`, the connector asks the pipeline to
//! write its state there every `snapshot.interval` and at shutdown ([`weir_core::Persist`]:
//! the connector does no IO), and its builder reads it back when weir starts.

mod calendar;
mod config;
mod emit;
mod select;
#[cfg(test)]
mod tests;
pub mod window;

use std::{collections::HashMap, path::PathBuf, time::Duration};

pub use config::{
    BudgetingMethod, Calendar, Config, Indicator, LatencyThreshold, MetricSource, Objective,
    Period, Selector, Settings, Slo, SnapshotConfig, Source, TimeWindow, parse_duration,
};
use serde::{Deserialize, Serialize};
use weir_core::{Batch, Decoded, Output, Persist, Processor};
use weir_otlp::proto::{
    common::v1::InstrumentationScope,
    logs::v1::ResourceLogs,
    metrics::v1::{
        AggregationTemporality, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
    },
    resource::v1::Resource,
    trace::v1::{ResourceSpans, status::StatusCode},
};
pub use window::{Counts, Windows};

use crate::sampling;
pub use calendar::budget;
use calendar::*;
use emit::*;
use select::*;

const SECOND: u64 = 1_000_000_000;

/// An alert tier: long and short windows (seconds) and the burn rate both must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    /// `slo.alert.tier`.
    pub name: &'static str,
    /// The long window, seconds.
    pub long: u64,
    /// The short window, seconds.
    pub short: u64,
    /// The burn rate.
    pub burn_rate: f64,
}

/// The SRE Workbook's tiers.
pub const TIERS: [Tier; 3] = [
    Tier { name: "page_fast", long: 3600, short: 300, burn_rate: 14.4 },
    Tier { name: "page_slow", long: 21_600, short: 1800, burn_rate: 6.0 },
    Tier { name: "ticket", long: 259_200, short: 21_600, burn_rate: 1.0 },
];

impl Tier {
    /// Whether the tier fires at `now` for `target`.
    pub fn firing(&self, windows: &Windows, now: u64, target: f64) -> bool {
        let burns = |secs: u64| windows.counts(now, secs * SECOND).burn_rate(target);
        let reaches = |b: Option<f64>| b.is_some_and(|b| b >= self.burn_rate * (1.0 - 1e-9));
        reaches(burns(self.long)) && reaches(burns(self.short))
    }
}

/// One SLO × group.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Group {
    attributes: Vec<(String, String)>,
    windows: Windows,
    firing: Vec<bool>,
}

/// One SLO's state.
struct SloState {
    slo: Slo,
    period: Period,
    target: f64,
    groups: HashMap<Vec<(String, String)>, Group>,
    /// Cumulative metric series' last values, to turn them into increments.
    last: HashMap<String, f64>,
}

/// The state written to a snapshot.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    slos: Vec<(String, Vec<Group>)>,
}

/// The `slo` connector.
pub struct SloConnector {
    config: Config,
    slos: Vec<SloState>,
    last_evaluation: u64,
    last_snapshot: u64,
    snapshot: Option<(PathBuf, Duration)>,
    late: metrics::Counter,
    rejected: metrics::Counter,
}

impl SloConnector {
    /// A connector `id` with validated `settings`, its snapshot (if it has one) read back.
    pub fn open(settings: &Settings, id: &str) -> SloConnector {
        let mut connector = SloConnector::new(settings, id);
        if let Some((path, _)) = &connector.snapshot
            && let Ok(bytes) = std::fs::read(path)
        {
            let path = path.clone();
            connector.restore(&path, &bytes);
        }
        connector
    }

    /// A connector `id` with validated `settings`, empty.
    pub fn new(settings: &Settings, id: &str) -> SloConnector {
        let config = &settings.config;
        SloConnector {
            config: config.clone(),
            slos: config
                .slos
                .iter()
                .zip(&settings.periods)
                .map(|(slo, &period)| SloState {
                    slo: slo.clone(),
                    period,
                    target: slo.target(),
                    groups: HashMap::new(),
                    last: HashMap::new(),
                })
                .collect(),
            last_evaluation: 0,
            last_snapshot: 0,
            snapshot: config
                .snapshot
                .as_ref()
                .map(|s| (s.directory.join(format!("{}.json", id.replace('/', "_"))), s.interval)),
            late: metrics::counter!(crate::telemetry::SLO_LATE_EVENTS, "connector" => id.to_owned()),
            rejected: metrics::counter!(crate::telemetry::SLO_REJECTED_POINTS, "connector" => id.to_owned()),
        }
    }

    /// Takes back the state of a snapshot read from `path`.
    fn restore(&mut self, path: &std::path::Path, bytes: &[u8]) {
        match serde_json::from_slice::<Snapshot>(bytes) {
            Ok(snapshot) => {
                for (name, groups) in snapshot.slos {
                    if let Some(state) = self.slos.iter_mut().find(|s| s.slo.name == name) {
                        state.groups =
                            groups.into_iter().map(|g| (g.attributes.clone(), g)).collect();
                    }
                }
                tracing::info!(path = %path.display(), "slo state restored from its snapshot");
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "slo snapshot unreadable; starting empty")
            }
        }
    }

    /// The state to write to the snapshot file, when there is one.
    fn snapshot(&self) -> Option<Persist> {
        let (path, _) = self.snapshot.as_ref()?;
        let snapshot = Snapshot {
            slos: self
                .slos
                .iter()
                .map(|s| (s.slo.name.clone(), s.groups.values().cloned().collect()))
                .collect(),
        };
        match serde_json::to_vec(&snapshot) {
            Ok(bytes) => Some(Persist { path: path.clone(), bytes }),
            Err(error) => {
                tracing::warn!(%error, "slo snapshot not encoded");
                None
            }
        }
    }

    /// The windows of SLO `name`'s group with `attributes` (for tests and inspection).
    pub fn windows(&self, name: &str, attributes: &[(String, String)]) -> Option<&Windows> {
        self.slos.iter().find(|s| s.slo.name == name)?.groups.get(attributes).map(|g| &g.windows)
    }

    /// Bytes of state per SLO × group.
    pub fn bytes_per_group(&self) -> usize {
        let period = self.slos.first().map_or(30 * 86_400, |s| period_seconds(s.period, 0));
        Windows::new(period, 0).bytes()
    }

    /// Counts `good` and `total` (weighted) events of a group at event time `t`.
    #[allow(clippy::too_many_arguments)]
    fn count(
        &mut self,
        slo_index: usize,
        group: Vec<(String, String)>,
        t: u64,
        good: f64,
        total: f64,
        weighted: bool,
        now: u64,
    ) {
        let max_groups = self.config.max_groups;
        let state = &mut self.slos[slo_index];
        let t = if now > 0 && t + state.slo.allowed_lateness.as_nanos() as u64 + 30 * SECOND < now {
            self.late.increment(1);
            now
        } else if now > 0 && t > now + 30 * SECOND {
            now
        } else {
            t
        };
        let group = if state.groups.contains_key(&group) || state.groups.len() < max_groups {
            group
        } else {
            vec![("otel.metric.overflow".to_owned(), "true".to_owned())]
        };
        let period = period_seconds(state.period, now.max(t));
        let entry = state.groups.entry(group.clone()).or_insert_with(|| Group {
            attributes: group,
            windows: Windows::new(period, if now > 0 { now } else { t }),
            firing: vec![false; TIERS.len()],
        });
        entry.windows.add(t, good, total, weighted);
    }

    fn spans(&mut self, resources: &[ResourceSpans], now: u64) {
        for resource_spans in resources {
            let resource = resource_spans.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                for i in 0..self.slos.len() {
                    let slo = &self.slos[i].slo;
                    if slo.indicator.source != Source::Spans || !span_total(slo, span, resource) {
                        continue;
                    }
                    let good =
                        match (&slo.indicator.latency, &slo.indicator.bad, &slo.indicator.good) {
                            (Some(latency), _, _) => {
                                span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano)
                                    <= latency.threshold.as_nanos() as u64
                            }
                            (None, Some(bad), _) => !span_matches(bad, span, resource),
                            (None, None, Some(good)) => span_matches(good, span, resource),
                            (None, None, None) => span
                                .status
                                .as_ref()
                                .is_none_or(|s| s.code != StatusCode::Error as i32),
                        };
                    let weight = sampling::incoming(&span.trace_state, &span.trace_id)
                        .threshold
                        .map_or(1.0, |t| t.adjusted_count());
                    let group = group_of(&slo.group_by, &span.attributes, resource);
                    let good = if good { weight } else { 0.0 };
                    self.count(i, group, span.end_time_unix_nano, good, weight, weight != 1.0, now);
                }
            }
        }
    }

    fn logs(&mut self, resources: &[ResourceLogs], now: u64) {
        for resource_logs in resources {
            let resource = resource_logs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            for record in resource_logs.scope_logs.iter().flat_map(|s| &s.log_records) {
                for i in 0..self.slos.len() {
                    let slo = &self.slos[i].slo;
                    if slo.indicator.source != Source::Logs {
                        continue;
                    }
                    let matches = |s: &Selector| {
                        attributes_match(&s.attributes, &record.attributes)
                            && attributes_match(&s.resource, resource)
                            && s.min_severity.is_none_or(|min| record.severity_number >= min)
                    };
                    let service_ok =
                        slo.service.is_empty() || has(resource, "service.name", &slo.service);
                    if !service_ok || !matches(&slo.indicator.total) {
                        continue;
                    }
                    let good = match (&slo.indicator.bad, &slo.indicator.good) {
                        (Some(bad), _) => !matches(bad),
                        (None, Some(good)) => matches(good),
                        (None, None) => record.severity_number < 17,
                    };
                    let t = if record.time_unix_nano > 0 {
                        record.time_unix_nano
                    } else {
                        record.observed_time_unix_nano
                    };
                    let group = group_of(&slo.group_by, &record.attributes, resource);
                    self.count(i, group, t, if good { 1.0 } else { 0.0 }, 1.0, false, now);
                }
            }
        }
    }

    fn metrics(&mut self, resources: &[ResourceMetrics], now: u64) {
        for resource_metrics in resources {
            let resource =
                resource_metrics.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            for metric in resource_metrics.scope_metrics.iter().flat_map(|s| &s.metrics) {
                for i in 0..self.slos.len() {
                    let slo = self.slos[i].slo.clone();
                    let (Source::Metrics, Some(source)) =
                        (slo.indicator.source, &slo.indicator.metric)
                    else {
                        continue;
                    };
                    if !slo.service.is_empty() && !has(resource, "service.name", &slo.service) {
                        continue;
                    }
                    if source.histogram.as_deref() == Some(metric.name.as_str()) {
                        let Some(Data::Histogram(h)) = &metric.data else { continue };
                        let threshold = slo
                            .indicator
                            .latency
                            .as_ref()
                            .map_or(0.0, |l| l.threshold.as_secs_f64());
                        let threshold =
                            if metric.unit == "s" { threshold } else { threshold * 1000.0 };
                        for p in &h.data_points {
                            let Some(index) = p
                                .explicit_bounds
                                .iter()
                                .position(|b| (b - threshold).abs() < 1e-9 * threshold.max(1.0))
                            else {
                                self.rejected.increment(1);
                                tracing::warn!(slo = %slo.name, threshold, bounds = ?p.explicit_bounds, "latency threshold is not a bucket bound of the histogram: point not counted");
                                continue;
                            };
                            let good_count: u64 = p.bucket_counts.iter().take(index + 1).sum();
                            let cumulative = h.aggregation_temporality
                                == AggregationTemporality::Cumulative as i32;
                            let key = format!("{}|{:?}|{:?}", metric.name, resource, p.attributes);
                            let (good, total) = if cumulative {
                                let state = &mut self.slos[i];
                                let last_good = state
                                    .last
                                    .insert(format!("{key}|good"), good_count as f64)
                                    .unwrap_or(good_count as f64);
                                let last_total = state
                                    .last
                                    .insert(format!("{key}|total"), p.count as f64)
                                    .unwrap_or(p.count as f64);
                                (good_count as f64 - last_good, p.count as f64 - last_total)
                            } else {
                                (good_count as f64, p.count as f64)
                            };
                            let group = group_of(&slo.group_by, &p.attributes, resource);
                            if total > 0.0 {
                                self.count(i, group, p.time_unix_nano, good, total, false, now);
                            }
                        }
                        continue;
                    }
                    let role = if source.total.as_deref() == Some(metric.name.as_str()) {
                        0
                    } else if source.bad.as_deref() == Some(metric.name.as_str()) {
                        1
                    } else if source.good.as_deref() == Some(metric.name.as_str()) {
                        2
                    } else {
                        continue;
                    };
                    let Some(Data::Sum(sum)) = &metric.data else { continue };
                    for p in &sum.data_points {
                        let value = match p.value {
                            Some(number_data_point::Value::AsInt(v)) => v as f64,
                            Some(number_data_point::Value::AsDouble(v)) => v,
                            None => 0.0,
                        };
                        let increment = if sum.aggregation_temporality
                            == AggregationTemporality::Cumulative as i32
                        {
                            let key = format!("{}|{:?}|{:?}", metric.name, resource, p.attributes);
                            let last = self.slos[i].last.insert(key, value).unwrap_or(value);
                            if value >= last { value - last } else { value }
                        } else {
                            value
                        };
                        if increment <= 0.0 {
                            continue;
                        }
                        let group = group_of(&slo.group_by, &p.attributes, resource);
                        // with a bad counter, total counts events as good and bad takes them
                        // back; with a good counter, total counts events and good the good ones
                        let (good, total) = match role {
                            0 if source.good.is_some() => (0.0, increment),
                            0 => (increment, increment),
                            1 => (-increment, 0.0),
                            _ => (increment, 0.0),
                        };
                        self.count(i, group, p.time_unix_nano, good, total, false, now);
                    }
                }
            }
        }
    }

    /// Burn rates, budgets and alerts of every group at `now`, as metrics.
    fn evaluate(&mut self, now: u64, out: &mut Output) {
        let mut resources = Vec::new();
        for state in &mut self.slos {
            let slo = &state.slo;
            let period = state.period;
            let period_window = period_seconds(period, now) * SECOND;
            let period_label = slo.time_window[0].duration.clone();
            let mut windows: Vec<(String, u64)> =
                slo.windows.iter().map(|w| (label(*w), w.as_nanos() as u64)).collect();
            windows.push((period_label, period_window));
            let mut metrics = Metrics::default();
            for group in state.groups.values_mut() {
                let w = &mut group.windows;
                if slo.budgeting_method == BudgetingMethod::Timeslices {
                    let slice_target = slo.objectives[0].time_slice_target.unwrap_or(state.target);
                    w.classify_slices(
                        now.saturating_sub(slo.allowed_lateness.as_nanos() as u64),
                        slice_target,
                    );
                }
                let mut attributes = vec![("slo.name".to_owned(), slo.name.clone())];
                if !slo.service.is_empty() {
                    attributes.push(("slo.service".to_owned(), slo.service.clone()));
                }
                attributes.extend(group.attributes.iter().cloned());
                let estimated = w.estimated;
                if estimated {
                    attributes.push(("slo.estimated".into(), "true".into()));
                }
                let start = w.started;
                metrics.sum("slo.events.total", &attributes, start, now, w.total);
                metrics.sum("slo.events.good", &attributes, start, now, w.good);
                metrics.gauge("slo.objective", &attributes, now, state.target);
                for (name, length) in &windows {
                    let mut with_window = attributes.clone();
                    with_window.push(("slo.window".into(), name.clone()));
                    if let Some(burn) = w.counts(now, *length).burn_rate(state.target) {
                        metrics.gauge("slo.burn_rate", &with_window, now, burn);
                    }
                    metrics.gauge(
                        "slo.window.coverage",
                        &with_window,
                        now,
                        w.coverage(now, *length),
                    );
                }
                let (sli, remaining) =
                    budget(w, slo.budgeting_method, state.target, now, period_window);
                if let Some(sli) = sli {
                    metrics.gauge("slo.sli", &attributes, now, sli);
                }
                metrics.gauge("slo.error_budget.remaining", &attributes, now, remaining);
                for (i, tier) in TIERS.iter().enumerate() {
                    let firing = tier.firing(w, now, state.target);
                    if firing != group.firing[i] {
                        group.firing[i] = firing;
                        tracing::warn!(slo = %slo.name, group = ?group.attributes, tier = tier.name, firing, "slo alert changed state");
                    }
                    let mut with_tier = attributes.clone();
                    with_tier.push(("slo.alert.tier".into(), tier.name.into()));
                    metrics.gauge("slo.alert.firing", &with_tier, now, f64::from(u8::from(firing)));
                }
            }
            if metrics.0.is_empty() {
                continue;
            }
            let resource = match slo.service.as_str() {
                "" => Vec::new(),
                service => vec![weir_otlp::attributes::kv("service.name", service)],
            };
            resources.push(ResourceMetrics {
                resource: Some(Resource { attributes: resource, ..Resource::default() }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "weir.slo".into(),
                        ..Default::default()
                    }),
                    metrics: metrics.0.into_values().collect(),
                    ..ScopeMetrics::default()
                }],
                schema_url: String::new(),
            });
        }
        if !resources.is_empty() {
            out.push_message(Batch::from(resources).into());
        }
    }
}

impl SloConnector {
    /// Evaluates at the pipeline's time once an `evaluation_interval` has passed since the
    /// last evaluation; whether it did.
    fn evaluate_if_due(&mut self, out: &mut Output) -> bool {
        let now = out.unix_nanos();
        let interval = self.config.evaluation_interval.as_nanos() as u64;
        if now == 0 || now < self.last_evaluation + interval {
            return false;
        }
        self.last_evaluation = now - now % interval;
        self.evaluate(self.last_evaluation, out);
        true
    }
}

impl Processor for SloConnector {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let now = out.unix_nanos();
        match &*batch.view() {
            Decoded::Traces(resources) => self.spans(resources, now),
            Decoded::Logs(resources) => self.logs(resources, now),
            Decoded::Metrics(resources) => self.metrics(resources, now),
        }
    }

    fn flush(&mut self, _now: std::time::Instant, out: &mut Output) {
        let now = out.unix_nanos();
        if !self.evaluate_if_due(out) {
            return;
        }
        if let Some((_, every)) = self.snapshot
            && now >= self.last_snapshot + every.as_nanos() as u64
        {
            self.last_snapshot = now;
            out.persist_all(self.snapshot());
        }
    }

    fn shutdown(&mut self, _now: std::time::Instant, out: &mut Output) {
        self.evaluate_if_due(out);
        out.persist_all(self.snapshot());
    }
}
