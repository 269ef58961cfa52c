//! research/algorithms.md §3.7's hand-computed cases.

use std::time::Instant;

use weir_otlp::{
    attributes::kv,
    proto::{
        metrics::v1::{Histogram, HistogramDataPoint, Metric},
        trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span::SpanKind},
    },
};

use super::*;

const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// A start far from zero, aligned to an hour.
const T0: u64 = 1_800_000_000 * SECOND;
const TARGET: f64 = 0.999;

/// 1000 requests a minute in 10-second buckets from `from` to `to`, a share `bad` of them bad.
fn traffic(w: &mut Windows, from: u64, to: u64, bad: f64) {
    let per_bucket = 1000.0 / 6.0;
    let mut t = from;
    while t < to {
        w.add(t, per_bucket * (1.0 - bad), per_bucket, false);
        t += 10 * SECOND;
    }
}

fn burn(w: &Windows, now: u64, window: u64) -> f64 {
    w.counts(now, window).burn_rate(TARGET).unwrap()
}

#[test]
fn a_steady_half_budget_burn_is_half_on_every_window() {
    let start = T0 - 30 * DAY;
    let mut w = Windows::new(30 * 86_400, start);
    traffic(&mut w, start, T0, 0.0005);
    for window in [5 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY, 30 * DAY] {
        assert!((burn(&w, T0, window) - 0.5).abs() < 1e-9, "{window}: {}", burn(&w, T0, window));
    }
    let (_, remaining) = budget(&w, BudgetingMethod::Occurrences, TARGET, T0, 30 * DAY);
    assert!((remaining - 0.5).abs() < 1e-9, "{remaining}");
}

#[test]
fn two_percent_errors_page_at_minute_44_and_slowly_at_108() {
    let start = T0 - 30 * DAY;
    let mut w = Windows::new(30 * 86_400, start);
    traffic(&mut w, start, T0, 0.0);
    let page_fast = TIERS[0];
    let page_slow = TIERS[1];
    let mut t = T0;
    for minute in 1..=120u64 {
        traffic(&mut w, t, t + MINUTE, 0.02);
        t += MINUTE;
        match minute {
            43 => assert!(!page_fast.firing(&w, t, TARGET), "1h burn {}", burn(&w, t, HOUR)),
            44 => assert!(page_fast.firing(&w, t, TARGET), "1h burn {}", burn(&w, t, HOUR)),
            60 => assert!((burn(&w, t, 6 * HOUR) - 10.0 / 3.0).abs() < 1e-9),
            107 => assert!(!page_slow.firing(&w, t, TARGET)),
            108 => assert!(page_slow.firing(&w, t, TARGET), "6h burn {}", burn(&w, t, 6 * HOUR)),
            _ => {}
        }
    }
}

#[test]
fn a_total_outage_pages_at_60_seconds_and_spends_the_budget_exactly() {
    let start = T0 - 30 * DAY;
    let mut w = Windows::new(30 * 86_400, start);
    traffic(&mut w, start, T0, 0.0);
    let page_fast = TIERS[0];
    traffic(&mut w, T0, T0 + 50 * SECOND, 1.0);
    assert!(!page_fast.firing(&w, T0 + 50 * SECOND, TARGET));
    assert!((burn(&w, T0 + 50 * SECOND, HOUR) - 13.888_888_888).abs() < 1e-6);
    traffic(&mut w, T0 + 50 * SECOND, T0 + 60 * SECOND, 1.0);
    assert!(page_fast.firing(&w, T0 + 60 * SECOND, TARGET));
    traffic(&mut w, T0 + 60 * SECOND, T0 + 10 * MINUTE, 1.0);
    let end = T0 + 10 * MINUTE;
    let (_, remaining) = budget(&w, BudgetingMethod::Occurrences, TARGET, end, 30 * DAY);
    assert!((remaining - 0.768_52).abs() < 1e-5, "{remaining}");
    traffic(&mut w, end, end + 5 * MINUTE, 0.0);
    assert!(!page_fast.firing(&w, end + 5 * MINUTE, TARGET), "reset by the short window");
}

#[test]
fn timeslices_count_good_minutes() {
    let start = T0;
    let mut w = Windows::new(86_400, start);
    for minute in 0..1440u64 {
        let bad = if [10, 500, 1000].contains(&minute) { 0.015 } else { 0.0 };
        traffic(&mut w, start + minute * MINUTE, start + (minute + 1) * MINUTE, bad);
        w.classify_slices(start + (minute + 1) * MINUTE, 0.99);
    }
    let end = start + DAY;
    let (sli, _) = budget(&w, BudgetingMethod::Timeslices, TARGET, end, DAY);
    assert!((sli.unwrap() - 1437.0 / 1440.0).abs() < 1e-9, "{sli:?}");
}

fn span(
    service_kind: i32,
    duration_ms: u64,
    error: bool,
    end: u64,
    tracestate: &str,
    id: u64,
) -> Span {
    let mut trace_id = id.to_be_bytes().to_vec();
    trace_id.extend(u64::MAX.to_be_bytes());
    Span {
        trace_id,
        kind: service_kind,
        start_time_unix_nano: end - duration_ms * 1_000_000,
        end_time_unix_nano: end,
        status: error.then(|| Status { code: StatusCode::Error as i32, ..Status::default() }),
        trace_state: tracestate.into(),
        ..Span::default()
    }
}

fn traces(service: &str, spans: Vec<Span>) -> Batch {
    Batch::from(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
        schema_url: String::new(),
    }])
}

fn config(yaml: &str) -> Config {
    let config: Config = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    assert_eq!(config.problems(), Vec::<(String, String)>::new());
    config
}

/// Gauge values of metric `name` in what the connector emitted, by `slo.window` (or "").
fn gauges(out: &mut Output, name: &str) -> Vec<(String, f64, bool)> {
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Metrics(r) => r,
            _ => vec![],
        })
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .filter(|m| m.name == name)
        .flat_map(|m| match m.data {
            Some(Data::Gauge(g)) => g.data_points,
            Some(Data::Sum(s)) => s.data_points,
            _ => vec![],
        })
        .map(|p| {
            let window = p
                .attributes
                .iter()
                .find(|kv| kv.key == "slo.window")
                .and_then(|kv| text(kv.value.as_ref()))
                .unwrap_or_default();
            let estimated = p.attributes.iter().any(|kv| kv.key == "slo.estimated");
            let Some(number_data_point::Value::AsDouble(v)) = p.value else { panic!() };
            (window, v, estimated)
        })
        .collect()
}

#[test]
fn a_latency_sli_from_spans_and_from_a_histogram_agree() {
    let spans_config = config(
        "slos: [{name: fast, service: checkout, objectives: [{target: 0.99}], indicator: {latency: {threshold: 300ms}}}]",
    );
    let mut connector = SloConnector::new(&valid(&spans_config), "slo");
    let now = T0;
    // 1000 server spans: 10 over 300 ms, 5 at exactly 300 ms (good), the rest faster; and a
    // client span that must not count
    let spans: Vec<Span> = (0..1000u64)
        .map(|i| {
            let ms = if i < 10 {
                301
            } else if i < 15 {
                300
            } else {
                100 + i % 150
            };
            span(SpanKind::Server as i32, ms, false, now - SECOND, "", i)
        })
        .chain([span(SpanKind::Client as i32, 900, false, now - SECOND, "", 5000)])
        .collect();
    connector.process(traces("checkout", spans), &mut Output::at(now));
    let mut out = Output::at(now + 10 * SECOND);
    connector.flush(Instant::now(), &mut out);
    let sli = gauges(&mut out, "slo.sli");
    assert_eq!(sli.len(), 1);
    assert!((sli[0].1 - 0.99).abs() < 1e-12, "{sli:?}");

    let histogram = |bounds: &[f64], counts: &[u64]| {
        Batch::from(vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "http.server.request.duration".into(),
                    unit: "ms".into(),
                    data: Some(Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            time_unix_nano: now - SECOND,
                            count: counts.iter().sum(),
                            bucket_counts: counts.to_vec(),
                            explicit_bounds: bounds.to_vec(),
                            ..Default::default()
                        }],
                        aggregation_temporality: AggregationTemporality::Delta as i32,
                    })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            schema_url: String::new(),
        }])
    };
    for (threshold, expected) in [("300ms", Some(0.99)), ("250ms", None)] {
        let metric_config = config(&format!(
            "slos: [{{name: fast, service: checkout, objectives: [{{target: 0.99}}], indicator: {{source: metrics, latency: {{threshold: {threshold}}}, metric: {{histogram: http.server.request.duration}}}}}}]"
        ));
        let mut connector = SloConnector::new(&valid(&metric_config), "slo");
        // buckets [100, 300, 1000] ms: 300 at ≤ 100, 690 at ≤ 300, 10 at ≤ 1000
        connector
            .process(histogram(&[100.0, 300.0, 1000.0], &[300, 690, 10, 0]), &mut Output::at(now));
        let mut out = Output::at(now + 10 * SECOND);
        connector.flush(Instant::now(), &mut out);
        let sli = gauges(&mut out, "slo.sli").first().map(|g| g.1);
        assert_eq!(
            sli, expected,
            "threshold {threshold}: 250 ms is not a bucket bound, so nothing counts"
        );
    }
}

#[test]
fn sampled_spans_are_reweighted_and_marked_estimated() {
    let config = config("slos: [{name: avail, service: api, objectives: [{target: 0.999}]}]");
    let mut connector = SloConnector::new(&valid(&config), "slo");
    let now = T0;
    // 1,000,000 requests with 0.5 % errors: errors kept at p = 1, the rest at p = 0.01
    let mut state = 7u64;
    let mut spans = Vec::new();
    for i in 0..1_000_000u64 {
        let error = i % 200 == 0;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if error {
            spans.push(span(SpanKind::Server as i32, 5, true, now - SECOND, "ot=th:0", i));
        } else if state.is_multiple_of(100) {
            spans.push(span(SpanKind::Server as i32, 5, false, now - SECOND, "ot=th:fd70a4", i));
        }
    }
    connector.process(traces("api", spans), &mut Output::at(now));
    let w = connector.windows("avail", &[]).unwrap();
    let counts = w.counts(now, HOUR);
    assert!((counts.total - 1e6).abs() < 0.03 * 1e6, "total {}", counts.total);
    assert!((counts.total - counts.good - 5000.0).abs() < 1e-6, "bad exactly 5000");
    let mut out = Output::at(now + 10 * SECOND);
    connector.flush(Instant::now(), &mut out);
    assert!(gauges(&mut out, "slo.burn_rate").iter().all(|(_, _, estimated)| *estimated));
}

#[test]
fn client_and_server_spans_of_one_request_count_once() {
    let config = config("slos: [{name: avail, service: b, objectives: [{target: 0.99}]}]");
    let mut connector = SloConnector::new(&valid(&config), "slo");
    connector.process(
        traces("a", vec![span(SpanKind::Client as i32, 5, false, T0, "", 1)]),
        &mut Output::at(T0),
    );
    connector.process(
        traces("b", vec![span(SpanKind::Server as i32, 4, false, T0, "", 1)]),
        &mut Output::at(T0),
    );
    assert_eq!(connector.windows("avail", &[]).unwrap().counts(T0 + SECOND, HOUR).total, 1.0);
}

#[test]
fn a_restart_from_the_snapshot_reproduces_the_burn_rates() {
    let dir = std::env::temp_dir().join(format!("weir-slo-{}", std::process::id()));
    let yaml = format!(
        "snapshot: {{directory: {}, interval: 60s}}\nslos: [{{name: avail, service: api, objectives: [{{target: 0.999}}], group_by: [route]}}]",
        dir.display()
    );
    let config = config(&yaml);
    let feed = |connector: &mut SloConnector, from: u64, to: u64| {
        let mut t = from;
        while t < to {
            let spans = (0..20u64).map(|i| {
                let mut s = span(SpanKind::Server as i32, 5, i == 0, t, "", t + i);
                s.attributes.push(kv("route", "/a"));
                s
            });
            connector.process(traces("api", spans.collect()), &mut Output::at(t));
            t += 10 * SECOND;
        }
    };
    let burns = |connector: &mut SloConnector, now: u64| {
        let mut out = Output::at(now);
        connector.flush(Instant::now(), &mut out);
        let mut g = gauges(&mut out, "slo.burn_rate");
        g.sort_by(|a, b| a.0.cmp(&b.0));
        g
    };
    let mut uninterrupted =
        SloConnector::new(&valid(&Config { snapshot: None, ..config.clone() }), "slo");
    feed(&mut uninterrupted, T0, T0 + 60 * MINUTE);
    let expected = burns(&mut uninterrupted, T0 + 60 * MINUTE);

    let mut first = SloConnector::open(&valid(&config), "slo");
    feed(&mut first, T0, T0 + 30 * MINUTE);
    let mut out = Output::at(T0 + 30 * MINUTE);
    first.shutdown(Instant::now(), &mut out);
    drop(first);
    let persists = out.take_persists();
    assert_eq!(persists.len(), 1, "the state, asked of the pipeline at shutdown");
    assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(), "no IO itself");
    persists[0].write().unwrap();
    let mut restarted = SloConnector::open(&valid(&config), "slo");
    feed(&mut restarted, T0 + 30 * MINUTE, T0 + 60 * MINUTE);
    let after = burns(&mut restarted, T0 + 60 * MINUTE);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!expected.is_empty());
    assert_eq!(after, expected);
}

#[test]
fn calendar_windows_and_bad_configurations() {
    // 2026-11-28 12:00 UTC: the month began 27.5 days before
    let now = 1_795_867_200 * SECOND;
    assert_eq!(civil_from_days((now / SECOND / 86_400) as i64), (2026, 11, 28));
    assert_eq!(period_seconds(Period::CalendarMonth, now), 27 * 86_400 + 12 * 3600);
    assert_eq!(period_seconds(Period::CalendarWeek, now), 5 * 86_400 + 12 * 3600, "Saturday noon");
    let bad: Config = serde_saphyr::from_str(
        "slos: [{name: x, objectives: [{target: 1.5}], timeWindow: [{duration: 1M, calendar: {timeZone: Europe/Paris}}], budgetingMethod: Timeslices, indicator: {}}]",
    )
    .unwrap();
    let errors: Vec<String> =
        bad.problems().into_iter().map(|(p, m)| format!("{p}: {m}")).collect();
    assert_eq!(
        errors,
        vec![
            "slos[0].objectives[0].target: must be in (0, 1), got 1.5",
            "slos[0].objectives[0].timeSliceTarget: Timeslices needs a timeSliceTarget in (0, 1]",
            "slos[0].timeWindow[0].calendar.timeZone: only UTC is supported, got \"Europe/Paris\"",
        ]
    );
}

#[test]
fn log_records_are_events_too_and_a_group_costs_69_kb() {
    use weir_otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let config = config(
        "slos: [{name: jobs, service: worker, objectives: [{target: 0.9}], indicator: {source: logs}}]",
    );
    let mut connector = SloConnector::new(&valid(&config), "slo");
    let records = (0..10)
        .map(|i| LogRecord {
            time_unix_nano: T0,
            severity_number: if i < 2 { 17 } else { 9 },
            ..LogRecord::default()
        })
        .collect();
    let batch = Batch::from(vec![ResourceLogs {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "worker")],
            ..Resource::default()
        }),
        scope_logs: vec![ScopeLogs { log_records: records, ..ScopeLogs::default() }],
        schema_url: String::new(),
    }]);
    connector.process(batch, &mut Output::at(T0));
    let counts = connector.windows("jobs", &[]).unwrap().counts(T0 + SECOND, HOUR);
    assert_eq!((counts.good, counts.total), (8.0, 10.0));
    let bytes = connector.bytes_per_group();
    assert!((69_000..70_000).contains(&bytes), "{bytes} bytes per SLO × group for 30 days");
}

fn valid(config: &Config) -> Settings {
    <Settings as weir_core::Component>::validate(config.clone()).expect("valid")
}
