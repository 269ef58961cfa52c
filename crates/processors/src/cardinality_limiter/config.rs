//! Options of the `cardinality_limiter` processor (names from research/algorithms.md §1.4).

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;

/// `processors.cardinality_limiter`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `mode`: `enforce` (default) changes the data; `shadow` passes it unchanged and reports
    /// exactly what `enforce` would have done.
    pub mode: Mode,
    /// `tenant_from`: where a data point's tenant comes from.
    pub tenant_from: TenantFrom,
    /// `limits`: the budgets.
    pub limits: Limits,
    /// `resource_key_attributes`: the resource attributes that are part of a series'
    /// identity; absent means all of them.
    pub resource_key_attributes: Option<Vec<String>>,
    /// `series_ttl`: an admitted series not seen for this long is released (default 10m).
    #[serde(with = "weir_core::duration")]
    pub series_ttl: Duration,
    /// `overflow`: what happens to points over budget.
    pub overflow: Overflow,
    /// `reporting`: demand estimates and exploding labels.
    pub reporting: Reporting,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mode: Mode::Enforce,
            tenant_from: TenantFrom::default(),
            limits: Limits::default(),
            resource_key_attributes: None,
            series_ttl: Duration::from_secs(600),
            overflow: Overflow::default(),
            reporting: Reporting::default(),
        }
    }
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Limit the data.
    Enforce,
    /// Report only.
    Shadow,
}

/// `tenant_from`: request metadata first, then a resource attribute, then `default`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantFrom {
    /// `metadata_key`: a request header kept by a receiver with `include_metadata: true`
    /// (e.g. `X-Scope-OrgID`).
    pub metadata_key: Option<String>,
    /// `resource_attribute`: e.g. `tenant.id`.
    pub resource_attribute: Option<String>,
    /// `default`: the tenant of everything else (default `default`).
    pub default: String,
    /// `max_tenants`: distinct tenants tracked (default 100); data of further tenants
    /// counts against `default`, counted and logged.
    pub max_tenants: usize,
}

impl Default for TenantFrom {
    fn default() -> TenantFrom {
        TenantFrom {
            metadata_key: None,
            resource_attribute: None,
            default: "default".into(),
            max_tenants: 100,
        }
    }
}

/// `limits`: budgets in non-overflow series; 0 means unlimited.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// `global_max_series` (default 1,000,000).
    pub global_max_series: usize,
    /// `per_tenant`.
    pub per_tenant: PerTenant,
    /// `per_metric`: budgets for metrics whose name matches (first match wins; `*` is a
    /// wildcard); they replace the tenant's `max_series_per_metric`.
    pub per_metric: Vec<MetricLimit>,
    /// `label_value_limits`: distinct values a label may take per metric; values past the
    /// limit become `overflow.label_sentinel`.
    pub label_value_limits: Vec<LabelLimit>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            global_max_series: 1_000_000,
            per_tenant: PerTenant::default(),
            per_metric: Vec::new(),
            label_value_limits: Vec::new(),
        }
    }
}

/// `per_tenant`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerTenant {
    /// `default`: every tenant's budgets unless overridden.
    pub default: TenantLimits,
    /// `overrides`: budgets by tenant name.
    pub overrides: BTreeMap<String, TenantLimits>,
}

/// One tenant's budgets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantLimits {
    /// `max_series` (default 0: only the global budget applies).
    pub max_series: usize,
    /// `max_series_per_metric` (default 2000, the OpenTelemetry SDK's default limit).
    pub max_series_per_metric: usize,
}

impl Default for TenantLimits {
    fn default() -> TenantLimits {
        TenantLimits { max_series: 0, max_series_per_metric: 2000 }
    }
}

/// An entry of `per_metric`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricLimit {
    /// `match`: a metric name, `*` matching any run of characters.
    #[serde(rename = "match")]
    pub pattern: String,
    /// `max_series`.
    pub max_series: usize,
}

/// An entry of `label_value_limits`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelLimit {
    /// `metric`: which metrics (default `*`).
    #[serde(default = "any_metric")]
    pub metric: String,
    /// `label`: the data point attribute.
    pub label: String,
    /// `max_values`: distinct values kept per metric.
    pub max_values: usize,
}

fn any_metric() -> String {
    "*".into()
}

/// `overflow`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Overflow {
    /// `label_sentinel`: the value a label over its value limit takes (default `<overflow>`).
    pub label_sentinel: String,
    /// `keep_resource_attributes`: the resource attributes an overflow series keeps (default
    /// `[service.name]`); one overflow series per metric and distinct set of these.
    pub keep_resource_attributes: Vec<String>,
    /// `max_overflow_series_per_metric`: overflow series per metric (default 100); past it,
    /// overflow points keep no resource attributes.
    pub max_overflow_series_per_metric: usize,
    /// `gauge_policy`: what becomes of gauge points over budget (default `drop`, counted).
    pub gauge_policy: GaugePolicy,
    /// `max_tracked_cumulative_series`: cumulative series whose last value is kept to turn
    /// their points into increments of the overflow series (default 100,000); past it, the
    /// increments of further series are not tracked, counted as untracked points.
    pub max_tracked_cumulative_series: usize,
}

impl Default for Overflow {
    fn default() -> Overflow {
        Overflow {
            label_sentinel: "<overflow>".into(),
            keep_resource_attributes: vec!["service.name".into()],
            max_overflow_series_per_metric: 100,
            gauge_policy: GaugePolicy::Drop,
            max_tracked_cumulative_series: 100_000,
        }
    }
}

/// `gauge_policy`: summing gauges means nothing, so a policy says what the overflow series
/// of a gauge carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GaugePolicy {
    /// Drop the points (counted).
    Drop,
    /// The latest point.
    Last,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

/// `reporting`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reporting {
    /// `window`: how long rejected series count in a demand estimate (default 10m; sketches
    /// are double-buffered, so an estimate covers one to two windows).
    #[serde(with = "weir_core::duration")]
    pub window: Duration,
    /// `top_metrics`: metrics with per-metric self-metrics, by demand (default 20).
    pub top_metrics: usize,
    /// `top_labels_per_metric`: exploding labels reported per metric (default 5).
    pub top_labels_per_metric: usize,
}

impl Default for Reporting {
    fn default() -> Reporting {
        Reporting { window: Duration::from_secs(600), top_metrics: 20, top_labels_per_metric: 5 }
    }
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, path: String, message: &str| {
            if !ok {
                errors.push((path, message.to_owned()));
            }
        };
        check(!self.series_ttl.is_zero(), "series_ttl".into(), "must be > 0");
        check(!self.reporting.window.is_zero(), "reporting.window".into(), "must be > 0");
        check(self.tenant_from.max_tenants > 0, "tenant_from.max_tenants".into(), "must be > 0");
        check(!self.tenant_from.default.is_empty(), "tenant_from.default".into(), "must be set");
        if let Some(key) = &self.tenant_from.metadata_key {
            check(!key.is_empty(), "tenant_from.metadata_key".into(), "must not be empty");
        }
        for (i, limit) in self.limits.per_metric.iter().enumerate() {
            check(
                !limit.pattern.is_empty(),
                format!("limits.per_metric[{i}].match"),
                "must be set",
            );
        }
        for (i, limit) in self.limits.label_value_limits.iter().enumerate() {
            let path = format!("limits.label_value_limits[{i}]");
            check(!limit.label.is_empty(), format!("{path}.label"), "must be set");
            check(limit.max_values > 0, format!("{path}.max_values"), "must be > 0");
        }
        check(
            !self.overflow.label_sentinel.is_empty(),
            "overflow.label_sentinel".into(),
            "must not be empty",
        );
        check(
            self.overflow.max_overflow_series_per_metric > 0,
            "overflow.max_overflow_series_per_metric".into(),
            "must be > 0",
        );
        errors
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_stars_anywhere() {
        assert!(glob("*", "anything"));
        assert!(glob("http.*", "http.server.duration"));
        assert!(glob("*.duration", "http.server.duration"));
        assert!(glob("http.*.duration", "http.server.duration"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("http.*", "rpc.server"));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("a*a", "aa") && !glob("a*a", "a"));
    }
}
