//! OpenTelemetry → Prometheus names, after the specification's compatibility rules
//! (`specification/compatibility/prometheus_and_openmetrics.md`): invalid characters become
//! `_`, units become suffixes (`ms` → `_milliseconds`, `By` → `_bytes`, `1` on a gauge →
//! `_ratio`, `{annotations}` dropped, `a/b` → `_a_per_b`), monotonic sums end in `_total`, and
//! resource identity becomes `job` and `instance`. One place for every exporter that speaks
//! Prometheus.

/// How a metric is exposed, which decides its suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic sum: `_total`.
    Counter,
    /// A gauge or non-monotonic sum: `_ratio` for unit `1`.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
    /// A summary.
    Summary,
}

impl Kind {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

/// The Prometheus metric name of OpenTelemetry metric `name` with `unit`, exposed as `kind`,
/// under an optional `namespace`.
pub fn metric_name(name: &str, unit: &str, kind: Kind, namespace: &str) -> String {
    let mut base = sanitize(name, true);
    if !namespace.is_empty() {
        base = format!("{}_{base}", sanitize(namespace, true));
    }
    if kind == Kind::Counter {
        base = base.strip_suffix("_total").map(str::to_owned).unwrap_or(base);
    }
    let suffix = match (unit_suffix(unit), kind) {
        (Some(suffix), _) => Some(suffix),
        (None, Kind::Gauge) if unit == "1" => Some("ratio".to_owned()),
        _ => None,
    };
    if let Some(suffix) = suffix
        && !base.ends_with(&format!("_{suffix}"))
    {
        base = format!("{base}_{suffix}");
    }
    if kind == Kind::Counter {
        base.push_str("_total");
    }
    collapse(&base)
}

/// The Prometheus label name of attribute `key`.
pub fn label_name(key: &str) -> String {
    let name = sanitize(key, false);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{name}")
    } else if name.starts_with("__") && !key.starts_with("__") {
        format!("key{name}")
    } else {
        name
    }
}

/// Replaces characters Prometheus does not allow with `_`; a leading digit gets a `_` prefix
/// (metric names) and runs of `_` collapse to one.
fn sanitize(text: &str, metric: bool) -> String {
    let mut out: String = text
        .chars()
        .map(
            |c| if c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':') { c } else { '_' },
        )
        .collect();
    if metric && out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if metric { collapse(&out) } else { out }
}

fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out
}

/// The suffix a unit adds, if any.
pub fn unit_suffix(unit: &str) -> Option<String> {
    // annotations in braces say nothing Prometheus keeps
    let mut stripped = String::new();
    let mut depth = 0;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            c if depth == 0 => stripped.push(c),
            _ => {}
        }
    }
    let unit = stripped.trim();
    if unit.is_empty() || unit == "1" {
        return None;
    }
    let name = match unit.split_once('/') {
        Some((numerator, denominator)) => {
            let per = per_unit(denominator.trim());
            match numerator.trim() {
                "" | "1" => format!("per_{per}"),
                n => format!("{}_per_{per}", unit_word(n)),
            }
        }
        None => unit_word(unit),
    };
    let name = sanitize(&name, true);
    (!name.is_empty()).then(|| name.trim_matches('_').to_owned())
}

fn unit_word(unit: &str) -> String {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        other => other,
    }
    .to_owned()
}

fn per_unit(unit: &str) -> String {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
    .to_owned()
}

/// `job` from `service.namespace` and `service.name`, `instance` from `service.instance.id`.
pub fn job_and_instance(resource: &[(String, String)]) -> (Option<String>, Option<String>) {
    let get = |key: &str| resource.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let job = match (get("service.namespace"), get("service.name")) {
        (Some(namespace), Some(name)) => Some(format!("{namespace}/{name}")),
        (None, Some(name)) => Some(name),
        _ => None,
    };
    (job, get("service.instance.id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_compatibility_rules() {
        let cases = [
            (
                "http.server.request.duration",
                "s",
                Kind::Histogram,
                "",
                "http_server_request_duration_seconds",
            ),
            ("http.server.requests", "{request}", Kind::Counter, "", "http_server_requests_total"),
            ("system.memory.usage", "By", Kind::Gauge, "", "system_memory_usage_bytes"),
            ("cpu.utilization", "1", Kind::Gauge, "", "cpu_utilization_ratio"),
            ("requests_total", "1", Kind::Counter, "", "requests_total"),
            ("calls", "", Kind::Counter, "traces.span.metrics", "traces_span_metrics_calls_total"),
            (
                "duration",
                "ms",
                Kind::Histogram,
                "traces.span.metrics",
                "traces_span_metrics_duration_milliseconds",
            ),
            ("throughput", "By/s", Kind::Gauge, "", "throughput_bytes_per_second"),
            ("rate", "1/s", Kind::Gauge, "", "rate_per_second"),
            ("2xx..count", "", Kind::Gauge, "", "_2xx_count"),
            ("latency_seconds", "s", Kind::Gauge, "", "latency_seconds"),
            ("temp", "Cel", Kind::Gauge, "", "temp_celsius"),
        ];
        for (name, unit, kind, namespace, expected) in cases {
            assert_eq!(metric_name(name, unit, kind, namespace), expected, "{name} {unit}");
        }
    }

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(label_name("http.route"), "http_route");
        assert_eq!(label_name("2fa"), "key_2fa");
        assert_eq!(label_name("_private"), "_private");
        assert_eq!(label_name("__reserved"), "__reserved");
        assert_eq!(label_name(".x"), "_x");
    }

    #[test]
    fn job_and_instance_come_from_the_service() {
        let resource = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
        };
        assert_eq!(
            job_and_instance(&resource(&[
                ("service.name", "api"),
                ("service.namespace", "shop"),
                ("service.instance.id", "i-1")
            ])),
            (Some("shop/api".into()), Some("i-1".into()))
        );
        assert_eq!(job_and_instance(&resource(&[("host.name", "h")])), (None, None));
    }
}
