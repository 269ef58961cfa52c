//! Options of the `slo` connector: SLOs as a subset of OpenSLO v1 (`service`, `objectives`,
//! `timeWindow`, `budgetingMethod`, a ratio or latency indicator) plus weir's selectors,
//! `group_by`, burn-rate windows and lateness.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::Deserialize;
use weir_otlp::Signal;

/// `connectors.slo`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `evaluation_interval`: how often burn rates and alerts are computed and emitted
    /// (default 10s).
    #[serde(with = "weir_core::duration")]
    pub evaluation_interval: Duration,
    /// `max_groups`: groups per SLO; further ones fold into one overflow group (default 100).
    pub max_groups: usize,
    /// `snapshot`: where and how often the state is written, to survive restarts.
    pub snapshot: Option<SnapshotConfig>,
    /// `slos`.
    pub slos: Vec<Slo>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            evaluation_interval: Duration::from_secs(10),
            max_groups: 100,
            snapshot: None,
            slos: Vec::new(),
        }
    }
}

/// `snapshot` options, apart from the SLOs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// `directory`.
    pub directory: PathBuf,
    /// `interval` (default 60s).
    #[serde(default = "minute", with = "weir_core::duration")]
    pub interval: Duration,
}

fn minute() -> Duration {
    Duration::from_secs(60)
}

/// One SLO.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// `name`.
    pub name: String,
    /// `service`: the `service.name` whose events count (spans and logs).
    #[serde(default)]
    pub service: String,
    /// `objectives`: exactly one.
    pub objectives: Vec<Objective>,
    /// `timeWindow`: exactly one.
    #[serde(rename = "timeWindow", default = "thirty_days")]
    pub time_window: Vec<TimeWindow>,
    /// `budgetingMethod`: `Occurrences` (default) or `Timeslices`.
    #[serde(rename = "budgetingMethod", default)]
    pub budgeting_method: BudgetingMethod,
    /// `indicator` (default: server spans of `service`, bad when their status is ERROR).
    #[serde(default)]
    pub indicator: Indicator,
    /// `group_by`: attributes (span or log, then resource) that split the SLO.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// `windows`: burn-rate windows (default 5m, 30m, 1h, 2h, 6h, 1d, 3d); the SLO window is
    /// always added.
    #[serde(default = "default_windows", deserialize_with = "durations")]
    pub windows: Vec<Duration>,
    /// `allowed_lateness`: events this late still land in their own bucket (default 2m).
    #[serde(default = "two_minutes", with = "weir_core::duration")]
    pub allowed_lateness: Duration,
}

fn thirty_days() -> Vec<TimeWindow> {
    vec![TimeWindow { duration: "30d".into(), is_rolling: true, calendar: None }]
}

fn two_minutes() -> Duration {
    Duration::from_secs(120)
}

fn default_windows() -> Vec<Duration> {
    [300, 1800, 3600, 7200, 21600, 86400, 259200].map(Duration::from_secs).to_vec()
}

fn durations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let texts: Vec<String> = Vec::deserialize(d)?;
    texts.iter().map(|t| parse_duration(t).map_err(serde::de::Error::custom)).collect()
}

/// An objective.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// `target` in [0, 1).
    #[serde(default)]
    pub target: Option<f64>,
    /// `targetPercent` in [0, 100).
    #[serde(rename = "targetPercent", default)]
    pub target_percent: Option<f64>,
    /// `timeSliceTarget` (Timeslices): a slice is good when its ratio is at least this.
    #[serde(rename = "timeSliceTarget", default)]
    pub time_slice_target: Option<f64>,
    /// `timeSliceWindow` (Timeslices): only `1m`.
    #[serde(rename = "timeSliceWindow", default)]
    pub time_slice_window: Option<String>,
    /// `displayName`.
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
}

impl Objective {
    /// The target as a ratio.
    pub fn ratio(&self) -> f64 {
        self.target.or(self.target_percent.map(|p| p / 100.0)).unwrap_or(0.0)
    }
}

/// `timeWindow` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// `duration`: `28d`, `30d`, `1w`, `1M` (calendar only).
    pub duration: String,
    /// `isRolling`.
    #[serde(rename = "isRolling", default)]
    pub is_rolling: bool,
    /// `calendar`: `{startTime, timeZone}`; only `UTC` is supported.
    #[serde(default)]
    pub calendar: Option<Calendar>,
}

/// `calendar`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// `startTime`.
    #[serde(rename = "startTime", default)]
    pub start_time: Option<String>,
    /// `timeZone`.
    #[serde(rename = "timeZone", default = "utc")]
    pub time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}

/// `budgetingMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum BudgetingMethod {
    /// Good events over all events.
    #[default]
    Occurrences,
    /// Good one-minute slices over slices with events.
    Timeslices,
}

/// `indicator`: what an event is and when it is good.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Indicator {
    /// `source`: `spans` (default), `logs` or `metrics`.
    pub source: Source,
    /// `total`: which events count (spans: default server spans of `service`).
    pub total: Selector,
    /// `bad`: which counted events are bad (spans default: status ERROR).
    pub bad: Option<Selector>,
    /// `good`: which counted events are good (instead of `bad`).
    pub good: Option<Selector>,
    /// `latency`: good iff the duration is at most the threshold.
    pub latency: Option<LatencyThreshold>,
    /// `metric` (source `metrics`): the counters or the histogram.
    pub metric: Option<MetricSource>,
}

/// `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Spans.
    #[default]
    Spans,
    /// Log records.
    Logs,
    /// Metric points.
    Metrics,
}

/// A selector over spans (or logs): every given condition must hold.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    /// `span_kind`: `SERVER`, `CLIENT`, `INTERNAL`, `PRODUCER`, `CONSUMER`.
    pub span_kind: Vec<String>,
    /// `status_code`: `OK`, `ERROR`, `UNSET`.
    pub status_code: Vec<String>,
    /// `attributes`: span or log attributes with these values.
    pub attributes: BTreeMap<String, String>,
    /// `resource`: resource attributes with these values.
    pub resource: BTreeMap<String, String>,
    /// `min_severity` (logs): a severity number (17 = ERROR).
    pub min_severity: Option<i32>,
}

/// `latency`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyThreshold {
    /// `threshold`: a duration (`300ms`).
    #[serde(with = "weir_core::duration")]
    pub threshold: Duration,
}

/// `metric`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSource {
    /// `total`: a counter of all events.
    #[serde(default)]
    pub total: Option<String>,
    /// `bad`: a counter of bad events.
    #[serde(default)]
    pub bad: Option<String>,
    /// `good`: a counter of good events.
    #[serde(default)]
    pub good: Option<String>,
    /// `histogram`: a duration histogram (with `latency`); its unit is `ms` or `s`.
    #[serde(default)]
    pub histogram: Option<String>,
}

/// Parses OpenSLO durations: a number and `s`, `m`, `h`, `d`, `w` (and Go-style ones).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) =
        text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 30d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return weir_core::duration::parse(text).map_err(|e| e.to_string()),
    };
    Ok(Duration::from_secs(n * seconds))
}

impl Slo {
    /// The objective's target.
    pub fn target(&self) -> f64 {
        self.objectives.first().map_or(0.0, Objective::ratio)
    }

    /// The window as (rolling length in seconds) or a calendar month/week; an error names a
    /// missing window or a duration that does not parse.
    pub fn period(&self) -> Result<Period, String> {
        let window = self.time_window.first().ok_or("timeWindow must have one entry")?;
        Ok(match (window.is_rolling, window.duration.as_str()) {
            (false, "1M") => Period::CalendarMonth,
            (false, "1w") => Period::CalendarWeek,
            (_, d) => Period::Rolling(parse_duration(d)?.as_secs()),
        })
    }

    fn validate(&self, path: &str, errors: &mut Vec<(String, String)>) {
        let mut error =
            |field: &str, message: String| errors.push((format!("{path}.{field}"), message));
        if self.name.is_empty() {
            error("name", "must be set".into());
        }
        match self.objectives.as_slice() {
            [objective] => {
                let target = objective.ratio();
                if !(0.0..1.0).contains(&target) || target == 0.0 {
                    error("objectives[0].target", format!("must be in (0, 1), got {target}"));
                }
                if self.budgeting_method == BudgetingMethod::Timeslices {
                    if objective
                        .time_slice_target
                        .is_none_or(|t| !(0.0..=1.0).contains(&t) || t == 0.0)
                    {
                        error(
                            "objectives[0].timeSliceTarget",
                            "Timeslices needs a timeSliceTarget in (0, 1]".into(),
                        );
                    }
                    if objective.time_slice_window.as_deref().is_some_and(|w| w != "1m") {
                        error(
                            "objectives[0].timeSliceWindow",
                            "only 1m slices are supported".into(),
                        );
                    }
                }
            }
            _ => error("objectives", "must hold exactly one objective".into()),
        }
        match self.time_window.as_slice() {
            [window] => {
                if let Some(calendar) = &window.calendar
                    && calendar.time_zone != "UTC"
                {
                    error(
                        "timeWindow[0].calendar.timeZone",
                        format!("only UTC is supported, got {:?}", calendar.time_zone),
                    );
                }
                let calendar =
                    !window.is_rolling && ["1M", "1w"].contains(&window.duration.as_str());
                if !calendar && parse_duration(&window.duration).is_err() {
                    error(
                        "timeWindow[0].duration",
                        format!(
                            "{:?} is not a duration like 30d (calendar: 1M or 1w)",
                            window.duration
                        ),
                    );
                }
            }
            _ => error("timeWindow", "must hold exactly one window".into()),
        }
        let indicator = &self.indicator;
        if indicator.bad.is_some() && indicator.good.is_some() {
            error("indicator", "set bad or good, not both".into());
        }
        if indicator.source == Source::Metrics {
            match &indicator.metric {
                None => error("indicator.metric", "source metrics needs a metric block".into()),
                Some(m) if m.histogram.is_some() && indicator.latency.is_none() => error(
                    "indicator.latency",
                    "a histogram indicator needs a latency threshold".into(),
                ),
                Some(m)
                    if m.histogram.is_none()
                        && (m.total.is_none() || (m.bad.is_none() && m.good.is_none())) =>
                {
                    error("indicator.metric", "counters need total and bad or good".into())
                }
                Some(_) => {}
            }
        }
        if self.windows.iter().any(|w| w.is_zero()) {
            error("windows", "must be > 0".into());
        }
    }
}

/// An SLO window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The last so many seconds.
    Rolling(u64),
    /// The current calendar month (UTC).
    CalendarMonth,
    /// The current calendar week (UTC, from Monday).
    CalendarWeek,
}

impl Config {
    /// Every problem, as `(path below the connector, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.slos.is_empty() {
            errors.push(("slos".into(), "must declare at least one SLO".into()));
        }
        if self.evaluation_interval.is_zero() {
            errors.push(("evaluation_interval".into(), "must be > 0".into()));
        }
        if self.max_groups == 0 {
            errors.push(("max_groups".into(), "must be > 0".into()));
        }
        for (i, slo) in self.slos.iter().enumerate() {
            slo.validate(&format!("slos[{i}]"), &mut errors);
        }
        errors
    }
}

/// A validated `slo` configuration, each SLO's period compiled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(super) config: Config,
    pub(super) periods: Vec<Period>,
}

impl weir_core::Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "slo",
        aliases: &[],
        signals: weir_core::Signals::Connector(&[
            (Signal::Traces, Signal::Metrics),
            (Signal::Metrics, Signal::Metrics),
            (Signal::Logs, Signal::Metrics),
        ]),
        stability: weir_core::Stability::Development,
        summary: "service-level objectives from spans, logs or metrics: budgets, burn rates, alerts",
    };

    fn validate(config: Config) -> Result<Settings, Vec<weir_core::ConfigError>> {
        let mut problems = config.problems();
        let mut periods = Vec::new();
        // validation above names a bad window; this compiles the good ones
        let compile = problems.is_empty();
        for (i, slo) in config.slos.iter().enumerate().filter(|_| compile) {
            match slo.period() {
                Ok(period) => periods.push(period),
                Err(message) => problems.push((format!("slos[{i}].timeWindow"), message)),
            }
        }
        weir_core::declare::checked(Settings { config, periods }, problems)
    }
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(super::SloConnector::open(self, id))
    }
}
