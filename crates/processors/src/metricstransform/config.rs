//! `processors.metricstransform`: the Collector's options as written, and their validation
//! into [`Settings`] (regular expressions compiled, actions and operations typed).

use std::collections::{BTreeMap, HashMap, HashSet};

use regex::Regex;
use serde::Deserialize;
use weir_core::ConfigError;

/// `processors.metricstransform`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `transforms`, applied in order to every scope's metrics.
    pub transforms: Vec<Transform>,
}

/// One entry of `transforms`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Transform {
    /// `include`: the metric name, or a regular expression with `match_type: regexp`.
    pub include: String,
    /// `match_type`: `strict` (default) or `regexp`.
    pub match_type: Option<String>,
    /// `experimental_match_labels`: point labels the points must have (an empty value: the
    /// label must be absent or empty), compared as `match_type` says.
    pub experimental_match_labels: BTreeMap<String, String>,
    /// `action`: `update`, `insert`, `combine` or `group`.
    pub action: Option<String>,
    /// `new_name`: the metric's new name (`$1`, `${name}` expand regexp groups).
    pub new_name: String,
    /// `group_resource_labels`: resource attributes of a `group`'s new resource.
    pub group_resource_labels: Option<BTreeMap<String, String>>,
    /// `aggregation_type`: how `combine` merges points.
    pub aggregation_type: Option<String>,
    /// `submatch_case`: `lower` or `upper` for labels `combine` makes of regexp groups.
    pub submatch_case: Option<String>,
    /// `operations`, applied in order to the resulting metric.
    pub operations: Vec<Operation>,
}

/// One entry of `operations`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Operation {
    /// `action`: the operation.
    pub action: String,
    /// `label`: the label operated on.
    pub label: String,
    /// `new_label`: the label's new name (`update_label`) or the label added (`add_label`).
    pub new_label: String,
    /// `label_set`: the labels `aggregate_labels` keeps.
    pub label_set: Option<Vec<String>>,
    /// `aggregation_type`: how `aggregate_labels` and `aggregate_label_values` merge points.
    pub aggregation_type: Option<String>,
    /// `aggregated_values`: the values `aggregate_label_values` merges.
    pub aggregated_values: Vec<String>,
    /// `new_value`: the value added (`add_label`) or merged into (`aggregate_label_values`).
    pub new_value: String,
    /// `value_actions`: value renames of `update_label`.
    pub value_actions: Vec<ValueAction>,
    /// `experimental_scale`: the factor of `experimental_scale_value`.
    pub experimental_scale: f64,
    /// `label_value`: the value whose points `delete_label_value` deletes.
    pub label_value: Option<String>,
}

/// One entry of `value_actions`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValueAction {
    /// `value`: the value renamed.
    pub value: String,
    /// `new_value`: its new name.
    pub new_value: String,
}

/// How points that become one are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Their sum.
    Sum,
    /// Their mean (integers: truncated).
    Mean,
    /// The least.
    Min,
    /// The greatest.
    Max,
    /// How many there are.
    Count,
    /// The middle one (or the mean of the two in the middle).
    Median,
}

const AGGREGATIONS: &str = "sum, mean, min, max, count, median";

impl Aggregation {
    fn parse(text: &str) -> Option<Aggregation> {
        Some(match text {
            "sum" => Aggregation::Sum,
            "mean" => Aggregation::Mean,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "count" => Aggregation::Count,
            "median" => Aggregation::Median,
            _ => return None,
        })
    }
}

/// How a label value is compared with `experimental_match_labels`.
#[derive(Debug, Clone)]
pub(crate) enum ValueMatcher {
    Strict(String),
    Regexp(Regex),
}

impl ValueMatcher {
    pub(crate) fn matches(&self, value: &str) -> bool {
        match self {
            ValueMatcher::Strict(expected) => expected == value,
            ValueMatcher::Regexp(regex) => regex.is_match(value),
        }
    }
}

/// How metric names are selected.
#[derive(Debug, Clone)]
pub(crate) enum NameMatcher {
    Strict(String),
    Regexp(Regex),
}

/// `include`, `match_type` and `experimental_match_labels`, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) name: NameMatcher,
    pub(crate) labels: Vec<(String, ValueMatcher)>,
}

/// A transform's `action`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Update,
    Insert,
    Combine,
    /// With the resource attributes to set.
    Group(Vec<(String, String)>),
}

/// `submatch_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Lower,
    Upper,
}

/// An operation, compiled.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    AddLabel {
        label: String,
        value: String,
    },
    UpdateLabel {
        label: String,
        new_label: Option<String>,
        values: HashMap<String, String>,
    },
    DeleteLabelValue {
        label: String,
        value: String,
    },
    ToggleScalarDataType,
    Scale(f64),
    AggregateLabels {
        keep: HashSet<String>,
        aggregation: Aggregation,
    },
    AggregateLabelValues {
        label: String,
        values: HashSet<String>,
        new_value: String,
        aggregation: Aggregation,
    },
}

/// A transform, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) filter: Filter,
    pub(crate) action: Action,
    pub(crate) new_name: String,
    pub(crate) aggregation: Option<Aggregation>,
    pub(crate) case: Option<Case>,
    pub(crate) operations: Vec<Op>,
}

/// A validated `metricstransform` configuration, compiled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) config: Config,
    pub(crate) transforms: Vec<Compiled>,
}

impl Settings {
    /// The configuration as written.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// `{{version}}` in new values is this build's version, as the Collector puts its own.
fn with_version(text: &str) -> String {
    text.replace("{{version}}", env!("CARGO_PKG_VERSION"))
}

/// Collects problems at paths below one transform.
struct Problems<'a> {
    path: String,
    errors: &'a mut Vec<ConfigError>,
}

impl Problems<'_> {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(ConfigError::new(format!("{}.{field}", self.path), message));
    }

    fn aggregation(
        &mut self,
        field: &str,
        value: Option<&str>,
        required: &str,
    ) -> Option<Aggregation> {
        match value {
            None => {
                if !required.is_empty() {
                    self.push(field, format!("must be set {required}"));
                }
                None
            }
            Some(text) => {
                let parsed = Aggregation::parse(text);
                if parsed.is_none() {
                    self.push(
                        field,
                        format!("unsupported {text:?}: expected one of {AGGREGATIONS}"),
                    );
                }
                parsed
            }
        }
    }
}

impl Config {
    /// Checks every transform and compiles it, or returns every problem with its path.
    pub(crate) fn compile(&self) -> Result<Vec<Compiled>, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::new();
        for (i, transform) in self.transforms.iter().enumerate() {
            let mut problems = Problems { path: format!("transforms[{i}]"), errors: &mut errors };
            if let Some(transform) = transform.compile(&mut problems) {
                compiled.push(transform);
            }
        }
        if errors.is_empty() { Ok(compiled) } else { Err(errors) }
    }
}

impl Transform {
    fn compile(&self, problems: &mut Problems<'_>) -> Option<Compiled> {
        let regexp = match self.match_type.as_deref() {
            None | Some("strict") => false,
            Some("regexp") => true,
            Some(other) => {
                problems.push(
                    "match_type",
                    format!("unsupported {other:?}: expected strict or regexp"),
                );
                false
            }
        };
        let name = if self.include.is_empty() {
            problems.push("include", "must be set");
            None
        } else if regexp {
            match Regex::new(&self.include) {
                Ok(regex) => Some(NameMatcher::Regexp(regex)),
                Err(e) => {
                    problems.push("include", format!("invalid regexp {:?}: {e}", self.include));
                    None
                }
            }
        } else {
            Some(NameMatcher::Strict(self.include.clone()))
        };
        let mut labels = Vec::new();
        for (label, value) in &self.experimental_match_labels {
            if !regexp {
                labels.push((label.clone(), ValueMatcher::Strict(value.clone())));
                continue;
            }
            match Regex::new(value) {
                Ok(regex) => labels.push((label.clone(), ValueMatcher::Regexp(regex))),
                Err(e) => problems.push(
                    &format!("experimental_match_labels.{label}"),
                    format!("invalid regexp {value:?}: {e}"),
                ),
            }
        }
        let action = match self.action.as_deref() {
            None => {
                problems.push("action", "must be set (update, insert, combine or group)");
                None
            }
            Some("update") => Some(Action::Update),
            Some("insert") => Some(Action::Insert),
            Some("combine") => Some(Action::Combine),
            Some("group") => match &self.group_resource_labels {
                Some(labels) => Some(Action::Group(
                    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                )),
                None => {
                    problems.push("group_resource_labels", "must be set when action is group");
                    None
                }
            },
            Some(other) => {
                problems.push(
                    "action",
                    format!("unsupported {other:?}: expected update, insert, combine or group"),
                );
                None
            }
        };
        if matches!(action, Some(Action::Insert | Action::Combine)) && self.new_name.is_empty() {
            problems.push("new_name", "must be set when action is insert or combine");
        }
        let required = if action == Some(Action::Combine) { "when action is combine" } else { "" };
        let aggregation =
            problems.aggregation("aggregation_type", self.aggregation_type.as_deref(), required);
        let case = match self.submatch_case.as_deref() {
            None | Some("") => None,
            Some("lower") => Some(Case::Lower),
            Some("upper") => Some(Case::Upper),
            Some(other) => {
                problems.push(
                    "submatch_case",
                    format!("unsupported {other:?}: expected lower or upper"),
                );
                None
            }
        };
        let mut operations = Vec::new();
        for (j, operation) in self.operations.iter().enumerate() {
            let mut below = Problems {
                path: format!("{}.operations[{j}]", problems.path),
                errors: problems.errors,
            };
            if let Some(op) = operation.compile(&mut below) {
                operations.push(op);
            }
        }
        Some(Compiled {
            filter: Filter { name: name?, labels },
            action: action?,
            new_name: self.new_name.clone(),
            aggregation,
            case,
            operations,
        })
    }
}

impl Operation {
    fn compile(&self, problems: &mut Problems<'_>) -> Option<Op> {
        let require = |field: &str, missing: bool, problems: &mut Problems<'_>| {
            if missing {
                problems.push(field, format!("must be set when action is {}", self.action));
            }
        };
        let op = match self.action.as_str() {
            "add_label" => {
                require("new_label", self.new_label.is_empty(), problems);
                require("new_value", self.new_value.is_empty(), problems);
                Op::AddLabel { label: self.new_label.clone(), value: with_version(&self.new_value) }
            }
            "update_label" => {
                require("label", self.label.is_empty(), problems);
                Op::UpdateLabel {
                    label: self.label.clone(),
                    new_label: (!self.new_label.is_empty()).then(|| self.new_label.clone()),
                    values: self
                        .value_actions
                        .iter()
                        .map(|a| (a.value.clone(), with_version(&a.new_value)))
                        .collect(),
                }
            }
            "delete_label_value" => {
                require("label", self.label.is_empty(), problems);
                require("label_value", self.label_value.is_none(), problems);
                Op::DeleteLabelValue {
                    label: self.label.clone(),
                    value: self.label_value.clone().unwrap_or_default(),
                }
            }
            "toggle_scalar_data_type" => Op::ToggleScalarDataType,
            "experimental_scale_value" => {
                require("experimental_scale", self.experimental_scale == 0.0, problems);
                Op::Scale(self.experimental_scale)
            }
            "aggregate_labels" => {
                require("label_set", self.label_set.is_none(), problems);
                let required = "when action is aggregate_labels";
                let aggregation = problems.aggregation(
                    "aggregation_type",
                    self.aggregation_type.as_deref(),
                    required,
                );
                Op::AggregateLabels {
                    keep: self.label_set.iter().flatten().cloned().collect(),
                    aggregation: aggregation?,
                }
            }
            "aggregate_label_values" => {
                require("label", self.label.is_empty(), problems);
                require("aggregated_values", self.aggregated_values.is_empty(), problems);
                require("new_value", self.new_value.is_empty(), problems);
                let required = "when action is aggregate_label_values";
                let aggregation = problems.aggregation(
                    "aggregation_type",
                    self.aggregation_type.as_deref(),
                    required,
                );
                Op::AggregateLabelValues {
                    label: self.label.clone(),
                    values: self.aggregated_values.iter().cloned().collect(),
                    new_value: with_version(&self.new_value),
                    aggregation: aggregation?,
                }
            }
            "" => {
                problems.push("action", "must be set");
                return None;
            }
            other => {
                problems.push(
                    "action",
                    format!(
                        "unsupported {other:?}: expected one of add_label, update_label, \
                         delete_label_value, toggle_scalar_data_type, experimental_scale_value, \
                         aggregate_labels, aggregate_label_values"
                    ),
                );
                return None;
            }
        };
        Some(op)
    }
}
