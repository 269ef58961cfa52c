use weir_core::Component;
use weir_otlp::proto::metrics::v1::{ResourceMetrics, metric, number_data_point};

use super::{
    config::Settings,
    discovery,
    exposition::{self, Type},
    relabel::{self, RelabelConfig, Rule},
    translate::{self, State},
};

const PAGE: &str = r#"# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="get",path="/a\"b\\c"} 1027 1700000000000
http_requests_total{method="post",path="/x",} 3
# TYPE temperature gauge
temperature 21.5
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 3
latency_seconds_bucket{le="1"} 7
latency_seconds_bucket{le="+Inf"} 9
latency_seconds_sum 4.2
latency_seconds_count 9
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.02
rpc_seconds{quantile="0.99"} 0.3
rpc_seconds_sum 12
rpc_seconds_count 400
untyped_thing NaN
target_info{team="shop",region="eu"} 1
"#;

#[test]
fn the_text_format_parses_into_families() {
    let families = exposition::parse(PAGE, false).unwrap();
    let names: Vec<(&str, Type, usize)> =
        families.iter().map(|f| (f.name.as_str(), f.kind, f.samples.len())).collect();
    assert_eq!(
        names,
        [
            ("http_requests_total", Type::Counter, 2),
            ("temperature", Type::Gauge, 1),
            ("latency_seconds", Type::Histogram, 5),
            ("rpc_seconds", Type::Summary, 4),
            ("untyped_thing", Type::Untyped, 1),
            ("target_info", Type::Untyped, 1),
        ]
    );
    let first = &families[0].samples[0];
    assert_eq!(first.labels[1], ("path".into(), "/a\"b\\c".into()));
    assert_eq!(first.timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(families[0].help, "Requests served.");
    assert!(families[4].samples[0].value.is_nan());
    assert_eq!(
        exposition::parse("a{b=\"c} 1", false).unwrap_err(),
        "line 1: label b: unterminated value"
    );
    assert_eq!(
        exposition::parse("ok 1\n9bad 1", false).unwrap_err(),
        "line 2: invalid metric name \"9bad\""
    );
    assert_eq!(exposition::parse("x one", false).unwrap_err(), "line 1: x: invalid value \"one\"");
}

#[test]
fn openmetrics_counters_units_created_and_exemplars() {
    let page = "# TYPE jobs counter\n# UNIT jobs seconds\n# HELP jobs Jobs.\njobs_total 12 1700000000.5 # {trace_id=\"abc\"} 1 1700000000\njobs_created 1699999000\n# EOF\nignored 1\n";
    let families = exposition::parse(page, true).unwrap();
    assert_eq!(families.len(), 1, "nothing after # EOF");
    let jobs = &families[0];
    assert_eq!((jobs.kind, jobs.unit.as_str(), jobs.samples.len()), (Type::Counter, "seconds", 2));
    assert_eq!(jobs.samples[0].timestamp_ms, Some(1_700_000_000_500), "seconds in OpenMetrics");
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    labels.sort();
    labels
}

fn rule(yaml: &str) -> Rule {
    let config: RelabelConfig = serde_saphyr::from_str(yaml).unwrap();
    Rule::new(&config).unwrap()
}

#[test]
fn relabeling_does_what_prometheus_does() {
    let target =
        labels(&[("__address__", "10.0.0.1:9100"), ("env", "Prod"), ("__meta_team", "shop")]);
    let run = |yaml: &str| {
        let mut set = target.clone();
        relabel::apply(&[rule(yaml)], &mut set).then_some(set)
    };
    let replaced = run("{source_labels: [__address__], regex: '(.+):(\\d+)', target_label: host, replacement: '$1'}").unwrap();
    assert!(replaced.contains(&("host".into(), "10.0.0.1".into())));
    assert_eq!(
        run("{source_labels: [env], regex: 'prod', target_label: x}").unwrap(),
        target,
        "anchored and case-sensitive: no match"
    );
    assert!(run("{source_labels: [env], regex: 'Prod', action: keep}").is_some());
    assert!(run("{source_labels: [env], regex: 'Pro', action: keep}").is_none(), "anchored");
    assert!(run("{source_labels: [env], regex: 'Prod', action: drop}").is_none());
    assert!(run("{source_labels: [env], target_label: env, action: keepequal}").is_some());
    assert!(run("{source_labels: [__meta_team], target_label: env, action: dropequal}").is_some());
    let hashed =
        run("{source_labels: [__address__], modulus: 4, target_label: shard, action: hashmod}")
            .unwrap();
    assert!(hashed.contains(&("shard".into(), "1".into())), "md5's last 8 bytes mod 4: {hashed:?}");
    let mapped = run("{regex: '__meta_(.+)', action: labelmap}").unwrap();
    assert!(mapped.contains(&("team".into(), "shop".into())));
    assert!(!run("{regex: 'env', action: labeldrop}").unwrap().iter().any(|(k, _)| k == "env"));
    assert_eq!(run("{regex: '__.*', action: labelkeep}").unwrap().len(), 2);
    let lower = run("{source_labels: [env], target_label: env, action: lowercase}").unwrap();
    assert!(lower.contains(&("env".into(), "prod".into())));
    let upper = run("{source_labels: [env, __meta_team], separator: '-', target_label: both, action: uppercase}").unwrap();
    assert!(upper.contains(&("both".into(), "PROD-SHOP".into())));
    let emptied = run("{source_labels: [missing], target_label: env, replacement: ''}").unwrap();
    assert!(!emptied.iter().any(|(k, _)| k == "env"), "an empty replacement removes the label");
    let bad: RelabelConfig = serde_saphyr::from_str("{action: hashmod, target_label: x}").unwrap();
    assert_eq!(Rule::new(&bad).unwrap_err().0, "modulus");
    let bad: RelabelConfig = serde_saphyr::from_str("{action: shout}").unwrap();
    assert_eq!(Rule::new(&bad).unwrap_err().1, "unknown relabel action \"shout\"");
}

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

fn points(metrics: &ResourceMetrics, name: &str) -> Vec<(f64, u64, u32)> {
    let metric = metrics.scope_metrics[0].metrics.iter().find(|m| m.name == name);
    match metric.and_then(|m| m.data.as_ref()) {
        Some(metric::Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsDouble(v)) => (v, p.start_time_unix_nano, p.flags),
                _ => (f64::NAN, p.start_time_unix_nano, p.flags),
            })
            .collect(),
        Some(metric::Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsDouble(v)) => (v, 0, p.flags),
                _ => (f64::NAN, 0, p.flags),
            })
            .collect(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn scrapes_become_otlp_with_start_times_resets_and_staleness() {
    let settings = settings(
        "config:
  scrape_configs:
    - job_name: shop
      static_configs: [{targets: ['10.0.0.1:9100'], labels: {env: prod}}]
      metric_relabel_configs:
        - {source_labels: [__name__], regex: 'untyped_.*', action: drop}",
    );
    let job = &settings.jobs[0];
    let targets = discovery::targets(job, &[]);
    assert_eq!(targets.len(), 1);
    let target = &targets[0];
    assert_eq!(target.url, "http://10.0.0.1:9100/metrics");
    let mut state = State::default();
    let families = exposition::parse(PAGE, false).unwrap();
    let (first, counts) = translate::convert(target, job, &families, 1_000, &mut state, false);
    assert_eq!(
        (counts.scraped, counts.kept),
        (14, 12),
        "untyped dropped, target_info is the resource's"
    );
    let resource = &first.resource.as_ref().unwrap().attributes;
    let keys: Vec<&str> = resource.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "service.name",
            "service.instance.id",
            "server.address",
            "server.port",
            "url.scheme",
            "env",
            "region",
            "team"
        ]
    );
    let requests = points(&first, "http_requests_total");
    assert_eq!(requests[0], (1027.0, 1_700_000_000_000_000_000, 0), "start: the first observation");
    let attributes = &first.scope_metrics[0].metrics[0].data.as_ref().map(|d| match d {
        metric::Data::Sum(s) => {
            s.data_points[1].attributes.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>()
        }
        _ => vec![],
    });
    assert_eq!(
        attributes.as_deref(),
        Some(&["env".to_owned(), "method".into(), "path".into()][..]),
        "no job or instance"
    );
    let histogram =
        first.scope_metrics[0].metrics.iter().find(|m| m.name == "latency_seconds").unwrap();
    let Some(metric::Data::Histogram(h)) = &histogram.data else { panic!() };
    assert_eq!(h.data_points[0].bucket_counts, [3, 4, 2]);
    assert_eq!(h.data_points[0].explicit_bounds, [0.1, 1.0]);
    assert_eq!((h.data_points[0].count, h.data_points[0].sum), (9, Some(4.2)));
    let summary = first.scope_metrics[0].metrics.iter().find(|m| m.name == "rpc_seconds").unwrap();
    let Some(metric::Data::Summary(s)) = &summary.data else { panic!() };
    assert_eq!(s.data_points[0].quantile_values.len(), 2);

    // the counter fell (a restart) and the gauge vanished
    let page =
        "# TYPE http_requests_total counter\nhttp_requests_total{method=\"post\",path=\"/x\"} 1\n";
    let (second, _) = translate::convert(
        target,
        job,
        &exposition::parse(page, false).unwrap(),
        2_000,
        &mut state,
        false,
    );
    assert_eq!(
        points(&second, "http_requests_total")[0],
        (1.0, 1_000, 0),
        "a reset starts at the previous scrape"
    );
    assert_eq!(
        points(&second, "temperature")[0].2,
        1,
        "a vanished series is flagged no recorded value"
    );
    let stale = translate::all_stale(&mut state, 3_000);
    assert_eq!(stale.len(), 1, "after a failed scrape every series goes stale");
}

#[test]
fn honor_labels_decides_clashes() {
    let page = "m{env=\"page\"} 1\n";
    for (honor, expected) in
        [(false, vec![("env", "prod"), ("exported_env", "page")]), (true, vec![("env", "page")])]
    {
        let settings = settings(&format!(
            "config:\n  scrape_configs:\n    - job_name: j\n      honor_labels: {honor}\n      static_configs: [{{targets: ['h:1'], labels: {{env: prod}}}}]"
        ));
        let job = &settings.jobs[0];
        let target = &discovery::targets(job, &[])[0];
        let (metrics, _) = translate::convert(
            target,
            job,
            &exposition::parse(page, false).unwrap(),
            1,
            &mut State::default(),
            false,
        );
        let Some(metric::Data::Gauge(g)) = &metrics.scope_metrics[0].metrics[0].data else {
            panic!()
        };
        let found: Vec<(String, String)> = g.data_points[0]
            .attributes
            .iter()
            .map(|kv| (kv.key.clone(), weir_otlp::attributes::text(kv.value.as_ref()).unwrap()))
            .collect();
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(found, expected, "honor_labels: {honor}");
    }
}

#[test]
fn targets_are_relabeled_with_prometheus_reserved_labels() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.json"),
        r#"[{"targets": ["10.0.0.2:9100"], "labels": {"team": "shop"}}]"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("b.yaml"), "- targets: ['10.0.0.3:9100']\n").unwrap();
    let settings = settings(&format!(
        "config:
  scrape_configs:
    - job_name: nodes
      scheme: https
      params: {{module: [cpu]}}
      file_sd_configs: [{{files: ['{0}/*.json', '{0}/b.yaml']}}]
      relabel_configs:
        - {{source_labels: [__address__], regex: '10.0.0.3:.*', action: drop}}
        - {{source_labels: [__meta_filepath], regex: '.*/(.*)', target_label: file}}
        - {{target_label: __param_module, replacement: memory}}",
        dir.path().display()
    ));
    let targets = discovery::targets(&settings.jobs[0], &[]);
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0].url, "https://10.0.0.2:9100/metrics?module=memory");
    let names: Vec<&str> = targets[0].labels.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["file", "instance", "job", "team"]);
    assert_eq!(targets[0].label("file"), "a.json");
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        "config:
  scrape_configs:
    - job_name: a
      scrape_interval: 10s
      scrape_timeout: 30s
      scheme: ftp
      kubernetes_sd_configs: [{role: pods, api_server: 'https://k8s'}]
      relabel_configs: [{action: hashmod, target_label: x}]
      body_size_limit: lots
    - job_name: a
target_allocator: {endpoint: http://ta}",
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            "target_allocator: is not built in weir yet",
            "config.scrape_configs[0].scrape_timeout: 30s is longer than scrape_interval (10s)",
            "config.scrape_configs[0].scheme: \"ftp\": expected http or https",
            "config.scrape_configs[0].kubernetes_sd_configs[0].role: \"pods\": expected node, service, pod, endpoints or endpointslice",
            "config.scrape_configs[0].kubernetes_sd_configs[0].api_server: is not built in weir yet: use kubeconfig_file, or run in the cluster",
            "config.scrape_configs[0].relabel_configs[0].modulus: must be > 0 with action hashmod",
            "config.scrape_configs[0].body_size_limit: \"lots\": expected a size like 100MB or 512KiB",
            "config.scrape_configs[1].job_name: \"a\" is used by another scrape config",
        ]
    );
}
