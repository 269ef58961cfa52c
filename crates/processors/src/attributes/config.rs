//! `processors.attributes` as written, and its checks: every action is compiled (regular
//! expressions, values with their types) or every problem reported with its path.

use regex::Regex;
use serde::Deserialize;
use weir_core::ConfigError;

use super::action::{Action, Mode, Source, Type};
use crate::match_properties::{ConfigValue, MatchProperties};

/// `processors.attributes`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `actions`: applied in order to each selected span, log record or data point.
    pub actions: Vec<ActionConfig>,
    /// `include`: act only on items matching these properties.
    pub include: Option<MatchProperties>,
    /// `exclude`: do not act on items matching these properties.
    pub exclude: Option<MatchProperties>,
}

/// One entry of `actions`, as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionConfig {
    /// `key`: the attribute acted on.
    pub key: String,
    /// `action`: `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or `convert`
    /// (in any case, as the Collector reads it).
    pub action: String,
    /// `value`: the value to set, of the type written (`2245` an int, `"2245"` a string).
    pub value: Option<ConfigValue>,
    /// `from_attribute`: set the value of this attribute of the same item.
    pub from_attribute: String,
    /// `from_context`: set a value of the request's metadata: `metadata.<key>` (a header
    /// kept with `include_metadata: true`), `auth.<name>` (what the authenticator said about
    /// the client) or a bare metadata key; several values are joined with `;`.
    pub from_context: String,
    /// `default_value`: set when `value`, `from_attribute` or `from_context` gives nothing.
    pub default_value: Option<ConfigValue>,
    /// `pattern`: the keys to `delete` or `hash`, or the named groups to `extract`.
    pub pattern: String,
    /// `converted_type`: `int`, `double` or `string`, for `convert`.
    pub converted_type: String,
}

const ACTIONS: &str = "insert, update, upsert, delete, hash, extract or convert";

/// What the Collector offers under `from_context` and weir's request metadata does not hold.
const CLIENT_ADDRESS: &str = "client.address";

impl Config {
    /// Compiles the actions, or returns every problem (paths below the processor).
    pub(super) fn actions(&self) -> Result<Vec<Action>, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if self.actions.is_empty() {
            errors.push(ConfigError::new("actions", "must hold at least one action"));
        }
        let mut actions = Vec::with_capacity(self.actions.len());
        for (i, action) in self.actions.iter().enumerate() {
            match action.compile() {
                Ok(action) => actions.push(action),
                Err(e) => errors.extend(e.into_iter().map(|e| e.under(&format!("actions[{i}]")))),
            }
        }
        if errors.is_empty() { Ok(actions) } else { Err(errors) }
    }
}

impl ActionConfig {
    /// The action, or its problems with paths below it (`pattern`, or empty for the whole).
    fn compile(&self) -> Result<Action, Vec<ConfigError>> {
        let name = self.action.to_ascii_lowercase();
        let mut errors = Vec::new();
        let action = match name.as_str() {
            "insert" => self.set(Mode::Insert, &mut errors),
            "update" => self.set(Mode::Update, &mut errors),
            "upsert" => self.set(Mode::Upsert, &mut errors),
            "delete" | "hash" => self.by_key_or_pattern(&name, &mut errors),
            "extract" => self.extract(&mut errors),
            "convert" => self.convert(&mut errors),
            "" => {
                errors.push(ConfigError::new("action", format!("must be set: {ACTIONS}")));
                None
            }
            other => {
                errors.push(ConfigError::new(
                    "action",
                    format!("unknown action {other:?}: expected {ACTIONS}"),
                ));
                None
            }
        };
        match action {
            Some(action) if errors.is_empty() => Ok(action),
            _ => Err(errors),
        }
    }

    /// The value sources that are set, by option name.
    fn sources(&self) -> Vec<&'static str> {
        let mut sources = Vec::new();
        if self.value.is_some() {
            sources.push("value");
        }
        if !self.from_attribute.is_empty() {
            sources.push("from_attribute");
        }
        if !self.from_context.is_empty() {
            sources.push("from_context");
        }
        sources
    }

    /// Refuses each option in `unused` that is set, naming `action`.
    fn refuse(&self, action: &str, unused: &[&str], errors: &mut Vec<ConfigError>) {
        for &option in unused {
            let set = match option {
                "value" => self.value.is_some(),
                "from_attribute" => !self.from_attribute.is_empty(),
                "from_context" => !self.from_context.is_empty(),
                "default_value" => self.default_value.is_some(),
                "pattern" => !self.pattern.is_empty(),
                "converted_type" => !self.converted_type.is_empty(),
                _ => unreachable!("an option of an action"),
            };
            if set {
                errors.push(ConfigError::new(option, format!("{action} does not use {option}")));
            }
        }
    }

    fn require_key(&self, action: &str, errors: &mut Vec<ConfigError>) {
        if self.key.is_empty() {
            errors.push(ConfigError::new("key", format!("must be set for {action}")));
        }
    }

    /// `insert`, `update` or `upsert`.
    fn set(&self, mode: Mode, errors: &mut Vec<ConfigError>) -> Option<Action> {
        let action = mode.as_str();
        self.require_key(action, errors);
        self.refuse(action, &["pattern", "converted_type"], errors);
        let sources = self.sources();
        let default = self.default_value.as_ref().map(ConfigValue::to_any_value);
        let source = match sources.as_slice() {
            [] if default.is_some() => Source::Nothing,
            [] => {
                errors.push(ConfigError::new(
                    "",
                    format!(
                        "{action} needs one of value, from_attribute, from_context or \
                         default_value"
                    ),
                ));
                return None;
            }
            [_] if self.value.is_some() => {
                if default.is_some() {
                    errors.push(ConfigError::new(
                        "default_value",
                        "is never used with value, which is always there",
                    ));
                }
                Source::Value(self.value.as_ref()?.to_any_value())
            }
            [_] if !self.from_attribute.is_empty() => {
                Source::Attribute(self.from_attribute.clone())
            }
            [_] => Source::Context(context_key(&self.from_context, errors)?),
            [first, second, ..] => {
                errors.push(ConfigError::new(
                    "",
                    format!(
                        "{action} takes one of value, from_attribute or from_context: {first} \
                         and {second} are both set"
                    ),
                ));
                return None;
            }
        };
        Some(Action::Set { key: self.key.clone(), mode, source, default })
    }

    /// `delete` or `hash`: by `key`, `pattern` or both.
    fn by_key_or_pattern(&self, action: &str, errors: &mut Vec<ConfigError>) -> Option<Action> {
        self.refuse(
            action,
            &["value", "from_attribute", "from_context", "default_value", "converted_type"],
            errors,
        );
        if self.key.is_empty() && self.pattern.is_empty() {
            errors.push(ConfigError::new("", format!("{action} needs a key, a pattern or both")));
            return None;
        }
        let key = (!self.key.is_empty()).then(|| self.key.clone());
        let pattern = match self.pattern.is_empty() {
            true => None,
            false => Some(regex(&self.pattern, errors)?),
        };
        Some(if action == "delete" {
            Action::Delete { key, pattern }
        } else {
            Action::Hash { key, pattern }
        })
    }

    /// `extract`: the named groups of `pattern`, found in the string value of `key`.
    fn extract(&self, errors: &mut Vec<ConfigError>) -> Option<Action> {
        self.require_key("extract", errors);
        self.refuse(
            "extract",
            &["value", "from_attribute", "from_context", "default_value", "converted_type"],
            errors,
        );
        if self.pattern.is_empty() {
            errors.push(ConfigError::new("pattern", "must be set for extract"));
            return None;
        }
        let regex = regex(&self.pattern, errors)?;
        let mut groups = Vec::new();
        for (index, name) in regex.capture_names().enumerate().skip(1) {
            match name {
                Some(name) => groups.push((index, name.to_owned())),
                None => {
                    errors.push(ConfigError::new(
                        "pattern",
                        format!(
                            "group {index} has no name: every group becomes an attribute named \
                             after it (write (?P<name>...), or (?:...) to only group)"
                        ),
                    ));
                    return None;
                }
            }
        }
        if groups.is_empty() {
            errors.push(ConfigError::new(
                "pattern",
                "has no named group: write (?P<name>...) for each attribute to extract",
            ));
            return None;
        }
        Some(Action::Extract { key: self.key.clone(), regex, groups })
    }

    /// `convert`: to `converted_type`.
    fn convert(&self, errors: &mut Vec<ConfigError>) -> Option<Action> {
        self.require_key("convert", errors);
        self.refuse(
            "convert",
            &["value", "from_attribute", "from_context", "default_value", "pattern"],
            errors,
        );
        let to = match self.converted_type.as_str() {
            "int" => Type::Int,
            "double" => Type::Double,
            "string" => Type::String,
            "" => {
                errors.push(ConfigError::new(
                    "converted_type",
                    "must be set for convert: int, double or string",
                ));
                return None;
            }
            other => {
                errors.push(ConfigError::new(
                    "converted_type",
                    format!("unknown type {other:?}: expected int, double or string"),
                ));
                return None;
            }
        };
        Some(Action::Convert { key: self.key.clone(), to })
    }
}

/// The request metadata key `from_context` reads: `metadata.<key>` and bare keys are the
/// request's headers, `auth.<name>` the authenticated client's attributes (which receivers
/// keep in the metadata under that very key).
fn context_key(from_context: &str, errors: &mut Vec<ConfigError>) -> Option<String> {
    if from_context == CLIENT_ADDRESS {
        errors.push(ConfigError::new(
            "from_context",
            "client.address is not available: weir keeps no client address in request metadata",
        ));
        return None;
    }
    let key = from_context.strip_prefix("metadata.").unwrap_or(from_context);
    if key.is_empty() || key == "auth." {
        errors.push(ConfigError::new(
            "from_context",
            format!("{from_context:?} names no key: write metadata.<header> or auth.<name>"),
        ));
        return None;
    }
    Some(key.to_owned())
}

fn regex(pattern: &str, errors: &mut Vec<ConfigError>) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(regex) => Some(regex),
        Err(e) => {
            errors.push(ConfigError::new(
                "pattern",
                format!("invalid regular expression {pattern:?}: {e}"),
            ));
            None
        }
    }
}
