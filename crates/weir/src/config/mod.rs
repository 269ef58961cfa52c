//! Configuration: the OpenTelemetry Collector's YAML shape, loaded in three steps.
//!
//! 1. **Load**: read each file (or the embedded default), expand `${env:VAR}` references.
//! 2. **Parse** with `serde-saphyr` straight into typed structs (`deny_unknown_fields`), so
//!    a mistake is reported with its line and column. Several files and `--set` overrides are
//!    first merged as YAML trees (maps merged, lists replaced; later wins) and the merged
//!    document is parsed the same way.
//! 3. **Validate** into a [`Plan`], collecting every problem with its path.
//!
//! Building (binding sockets, opening files) is the topology's job and starts from a `Plan`.

mod components;
mod env;
mod excerpt;
mod merge;
mod plan;
mod raw;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use components::{ComponentId, Components, Kind, known_names};
pub use plan::{PipelinePlan, Plan};
pub use raw::{LogEncoding, LogLevel, LogSampling, Logs, RawConfig, Service, Telemetry};
use serde_json::Value;

/// The configuration weir runs when given none: OTLP in on loopback, everything to `debug`.
pub const DEFAULT: &str = include_str!("default.yaml");

/// Where configuration text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file given with `--config`.
    File(PathBuf),
    /// The embedded default.
    Default,
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Default => "the embedded default configuration".into(),
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// An environment reference or `--set` is malformed.
    #[error("{source_name}: {message}")]
    Syntax {
        /// The file or `--set`.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The YAML does not fit the configuration's shape.
    #[error("{source_name}: {message}")]
    Parse {
        /// The file, or the merged document.
        source_name: String,
        /// serde-saphyr's report, with line, column and snippet.
        message: String,
    },
    /// The configuration parsed but is not valid.
    #[error("{source_name}: invalid configuration:\n{}", .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file, or the merged document (line numbers refer to it).
        source_name: String,
        /// Each `path: message`.
        errors: Vec<String>,
    },
}

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What to build.
    pub plan: Plan,
    /// Things worth telling the user that do not stop weir (unused components, unset
    /// variables).
    pub warnings: Vec<String>,
    /// The merged configuration as written (after expansion and `--set`), for
    /// `weir print-config`.
    pub effective: Value,
}

/// Configuration text after expansion and merging, not yet parsed into components.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Unset environment variables.
    pub warnings: Vec<String>,
    /// The merged configuration as written (after expansion and `--set`).
    pub effective: Value,
    /// The name of the document to parse and its text.
    document: (String, String),
}

/// Reads `sources` (the embedded default when empty), expands variables and merges them with
/// the `--set` overrides.
pub fn prepare(sources: &[Source], sets: &[String]) -> Result<Prepared, ConfigError> {
    let sources = if sources.is_empty() { vec![Source::Default] } else { sources.to_vec() };
    let mut texts = Vec::new();
    for source in &sources {
        let text = match source {
            Source::File(path) => std::fs::read_to_string(path)
                .map_err(|error| ConfigError::Read { path: path.display().to_string(), error })?,
            Source::Default => DEFAULT.to_owned(),
        };
        texts.push((source.name(), text));
    }
    prepare_texts(texts, sets, |name| std::env::var(name).ok())
}

/// Loads `sources` (the embedded default when empty) with `--set` overrides.
pub fn load(sources: &[Source], sets: &[String]) -> Result<Loaded, ConfigError> {
    prepare(sources, sets)?.load()
}

/// Loads configuration texts `(name, text)` with `--set` overrides, reading environment
/// variables through `lookup`.
pub fn load_texts(
    texts: Vec<(String, String)>,
    sets: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    prepare_texts(texts, sets, lookup)?.load()
}

fn prepare_texts(
    texts: Vec<(String, String)>,
    sets: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Prepared, ConfigError> {
    let mut warnings = Vec::new();
    let mut expanded = Vec::new();
    for (name, text) in texts {
        let (text, unset) = env::expand(&text, &lookup)
            .map_err(|message| ConfigError::Syntax { source_name: name.clone(), message })?;
        for variable in unset {
            warnings.push(format!(
                "{name}: environment variable {variable} is not set: expanded to nothing"
            ));
        }
        expanded.push((name, text));
    }

    let mut effective = Value::Object(Default::default());
    for (name, text) in &expanded {
        let tree: Value = serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
            source_name: name.clone(),
            message: saphyr_message(&e),
        })?;
        let tree = if tree.is_null() { Value::Object(Default::default()) } else { tree };
        merge::merge(&mut effective, tree);
    }
    for assignment in sets {
        merge::set(&mut effective, assignment)
            .map_err(|message| ConfigError::Syntax { source_name: "--set".into(), message })?;
    }

    // One file and no overrides: parse the text itself, so errors point into the user's file.
    let document = if expanded.len() == 1 && sets.is_empty() {
        expanded.pop().expect("one text")
    } else {
        let names: Vec<String> = expanded.into_iter().map(|(name, _)| name).collect();
        let with_sets = if sets.is_empty() { "" } else { " + --set" };
        let name = format!("the merged configuration ({}{with_sets})", names.join(" + "));
        let text = serde_saphyr::to_string(&effective).map_err(|e| ConfigError::Parse {
            source_name: name.clone(),
            message: saphyr_message(&e),
        })?;
        (name, text)
    };
    Ok(Prepared { warnings, effective, document })
}

impl Prepared {
    /// Parses the document into typed components and validates it into a plan.
    pub fn load(self) -> Result<Loaded, ConfigError> {
        let Prepared { mut warnings, effective, document: (source_name, text) } = self;
        let document: raw::RawDocument = match serde_saphyr::from_str(&text) {
            Ok(document) => document,
            Err(e) => return Err(ConfigError::Parse { source_name, message: saphyr_message(&e) }),
        };
        let (raw, problems) = parse_components(&text, &document);
        let (plan, plan_warnings) = plan::validate(raw, problems)
            .map_err(|problems| ConfigError::Invalid { source_name, errors: problems.errors })?;
        warnings.extend(plan_warnings);
        Ok(Loaded { plan, warnings, effective })
    }
}

/// Parses each component and the service section of `document` on its own, collecting every
/// problem instead of stopping at the first.
fn parse_components(text: &str, document: &raw::RawDocument) -> (RawConfig, plan::Problems) {
    use components::parse_section;
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let receivers = parse_section(text, &document.receivers, &mut errors, &mut warnings);
    let processors = parse_section(text, &document.processors, &mut errors, &mut warnings);
    let exporters = parse_section(text, &document.exporters, &mut errors, &mut warnings);
    let connectors = parse_section(text, &document.connectors, &mut errors, &mut warnings);
    let extensions = parse_section(text, &document.extensions, &mut errors, &mut warnings);
    let service = match &document.service {
        None => Service::default(),
        Some(service) => {
            let yaml = excerpt::of(text, &service.referenced);
            match weir_core::declare::parse_options::<Service>(&yaml) {
                Ok(service) => service,
                Err(error) => {
                    errors.push(error.under("service").to_string());
                    Service::default()
                }
            }
        }
    };
    let invalid = [
        receivers.invalid,
        processors.invalid,
        exporters.invalid,
        connectors.invalid,
        extensions.invalid,
    ]
    .concat();
    let raw = RawConfig {
        receivers: receivers.components,
        processors: processors.components,
        exporters: exporters.components,
        connectors: connectors.components,
        extensions: extensions.components,
        invalid,
        service,
    };
    (raw, plan::Problems::new(errors, warnings))
}

/// The effective configuration as YAML with secrets (`headers`, `auth`, passwords, tokens)
/// replaced by `[REDACTED]`.
pub fn redacted_yaml(effective: &Value) -> String {
    let mut value = effective.clone();
    merge::redact(&mut value);
    serde_saphyr::to_string(&value)
        .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

/// serde-saphyr's report without its own leading `error: ` (weir's output adds one).
fn saphyr_message(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    text.strip_prefix("error: ").map(str::to_owned).unwrap_or(text)
}
