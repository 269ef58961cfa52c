//! `receivers.filelog`: the Collector's options and their validation.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;
use weir_core::ConfigError;

/// `receivers.filelog`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `include`: glob patterns of the files to read (`*`, `?`, `[...]`, `**`).
    pub include: Vec<String>,
    /// `exclude`: glob patterns of files not to read.
    pub exclude: Vec<String>,
    /// `exclude_older_than`: files not modified for this long are not read.
    pub exclude_older_than: Option<String>,
    /// `start_at`: `end` (default: only what is written from now) or `beginning`.
    pub start_at: String,
    /// `poll_interval`: how often the files are looked at.
    pub poll_interval: String,
    /// `max_concurrent_files`: files read at once.
    pub max_concurrent_files: usize,
    /// `fingerprint_size`: the first bytes that identify a file (`1kb`).
    pub fingerprint_size: String,
    /// `max_log_size`: a longer entry is cut there, and counted (`1MiB`).
    pub max_log_size: String,
    /// `encoding`: `utf-8` (also `utf8`, `nop`).
    pub encoding: String,
    /// `multiline`: `line_start_pattern` or `line_end_pattern`.
    pub multiline: Option<Multiline>,
    /// `include_file_name`: `log.file.name` on each record.
    pub include_file_name: bool,
    /// `include_file_path`: `log.file.path`.
    pub include_file_path: bool,
    /// `include_file_name_resolved`: `log.file.name_resolved` (symbolic links followed).
    pub include_file_name_resolved: bool,
    /// `include_file_path_resolved`: `log.file.path_resolved`.
    pub include_file_path_resolved: bool,
    /// `force_flush_period`: an unfinished last line is sent after this long without more.
    pub force_flush_period: String,
    /// `delete_after_read` (with `start_at: beginning`): a file is deleted once read to its
    /// end and handed on.
    pub delete_after_read: bool,
    /// `attributes`: added to each record.
    pub attributes: BTreeMap<String, String>,
    /// `resource`: added to each record's resource.
    pub resource: BTreeMap<String, String>,
    /// `storage`: a `file_storage` extension for checkpoints (not built yet).
    pub storage: Option<String>,
    /// `retry_on_failure` (accepted: weir waits for the pipelines instead of dropping).
    pub retry_on_failure: Option<serde_json::Value>,
    /// `operators`: `container` (the others are not built yet).
    pub operators: Vec<serde_json::Value>,
    /// `header` (not built yet).
    pub header: Option<serde_json::Value>,
    /// `compression`: `gzip` for compressed files (not built yet).
    pub compression: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            include: Vec::new(),
            exclude: Vec::new(),
            exclude_older_than: None,
            start_at: "end".into(),
            poll_interval: "200ms".into(),
            max_concurrent_files: 1024,
            fingerprint_size: "1kb".into(),
            max_log_size: "1MiB".into(),
            encoding: "utf-8".into(),
            multiline: None,
            include_file_name: true,
            include_file_path: false,
            include_file_name_resolved: false,
            include_file_path_resolved: false,
            force_flush_period: "500ms".into(),
            delete_after_read: false,
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            storage: None,
            retry_on_failure: None,
            operators: Vec::new(),
            header: None,
            compression: None,
        }
    }
}

/// `multiline`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Multiline {
    /// `line_start_pattern`: an entry starts at a line that matches.
    pub line_start_pattern: Option<String>,
    /// `line_end_pattern`: an entry ends at a line that matches.
    pub line_end_pattern: Option<String>,
    /// `omit_pattern`: leave the matched pattern out of the entry (not built).
    pub omit_pattern: bool,
}

/// How entries are cut from lines.
#[derive(Debug, Clone)]
pub(crate) enum Split {
    /// One line, one entry.
    Lines,
    /// An entry starts at a line matching.
    Start(regex::Regex),
    /// An entry ends at a line matching.
    End(regex::Regex),
}

/// The validated receiver.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<glob::Pattern>,
    pub(crate) exclude_older_than: Option<Duration>,
    pub(crate) start_at_beginning: bool,
    pub(crate) poll_interval: Duration,
    pub(crate) max_concurrent_files: usize,
    pub(crate) fingerprint_size: usize,
    pub(crate) max_log_size: usize,
    pub(crate) split: Split,
    pub(crate) names: [bool; 4],
    pub(crate) force_flush_period: Duration,
    pub(crate) delete_after_read: bool,
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) resource: BTreeMap<String, String>,
    /// The `container` operator: its format (else told per line), whether the path's
    /// Kubernetes attributes are added, and the most bytes of a recombined entry.
    pub(crate) container: Option<(Option<super::container::Format>, bool, usize)>,
}

/// `1kb`, `1KiB`, `16MB`, `1024` (bytes), as the Collector writes sizes.
fn size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl weir_core::Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "filelog",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Logs]),
        stability: weir_core::Stability::Alpha,
        summary: "follows log files by fingerprint through rotation and truncation",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut error =
            |path: String, message: String| errors.push(ConfigError::new(path, message));
        if config.include.is_empty() {
            error("include".into(), "names no file: give at least one glob pattern".into());
        }
        let mut patterns = |list: &[String], field: &str| {
            let mut out = Vec::new();
            for (i, text) in list.iter().enumerate() {
                match glob::Pattern::new(text) {
                    Ok(pattern) => out.push(pattern),
                    Err(e) => error(format!("{field}[{i}]"), format!("invalid glob {text:?}: {e}")),
                }
            }
            out
        };
        patterns(&config.include, "include");
        let include = config.include.clone();
        let exclude = patterns(&config.exclude, "exclude");
        let mut duration = |field: &str, text: &str| match weir_core::duration::parse(text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(ConfigError::new(field, e));
                Duration::ZERO
            }
        };
        let poll_interval = duration("poll_interval", &config.poll_interval);
        let force_flush_period = duration("force_flush_period", &config.force_flush_period);
        let exclude_older_than =
            config.exclude_older_than.as_deref().map(|t| duration("exclude_older_than", t));
        let mut error = |path: &str, message: String| errors.push(ConfigError::new(path, message));
        if poll_interval.is_zero() {
            error("poll_interval", "must be > 0".into());
        }
        let start_at_beginning = match config.start_at.as_str() {
            "beginning" => true,
            "end" => false,
            other => {
                error("start_at", format!("{other:?}: expected beginning or end"));
                false
            }
        };
        let mut bytes = |field: &str, text: &str| {
            size(text).filter(|n| *n > 0).unwrap_or_else(|| {
                error(field, format!("{text:?}: expected a size like 1kb or 1MiB"));
                1
            })
        };
        let fingerprint_size = bytes("fingerprint_size", &config.fingerprint_size);
        let max_log_size = bytes("max_log_size", &config.max_log_size);
        if !["utf-8", "utf8", "nop"].contains(&config.encoding.to_ascii_lowercase().as_str()) {
            error("encoding", format!("{:?} is not built in weir yet (utf-8 is)", config.encoding));
        }
        let split = match &config.multiline {
            None => Split::Lines,
            Some(multiline) => {
                let compile = |text: &str| regex::Regex::new(text).map_err(|e| e.to_string());
                match (&multiline.line_start_pattern, &multiline.line_end_pattern) {
                    (Some(start), None) => compile(start).map(Split::Start).unwrap_or_else(|e| {
                        error("multiline.line_start_pattern", e);
                        Split::Lines
                    }),
                    (None, Some(end)) => compile(end).map(Split::End).unwrap_or_else(|e| {
                        error("multiline.line_end_pattern", e);
                        Split::Lines
                    }),
                    _ => {
                        error(
                            "multiline",
                            "give exactly one of line_start_pattern and line_end_pattern".into(),
                        );
                        Split::Lines
                    }
                }
            }
        };
        if config.multiline.as_ref().is_some_and(|m| m.omit_pattern) {
            error("multiline.omit_pattern", "is not built in weir yet".into());
        }
        let mut container = None;
        for (i, operator) in config.operators.iter().enumerate() {
            let kind = operator.get("type").and_then(|t| t.as_str()).unwrap_or("");
            match kind {
                "container" => match serde_json::from_value::<super::container::ContainerConfig>(
                    operator.clone(),
                ) {
                    Ok(options) => {
                        let format = match options.format.as_deref() {
                            None | Some("") => None,
                            Some("docker") => Some(super::container::Format::Docker),
                            Some("crio" | "containerd") => Some(super::container::Format::Cri),
                            Some(other) => {
                                error(
                                    &format!("operators[{i}].format"),
                                    format!("{other:?}: expected docker, crio or containerd"),
                                );
                                None
                            }
                        };
                        let max =
                            options.max_log_size.as_deref().and_then(size).unwrap_or(max_log_size);
                        container = Some((format, options.add_metadata_from_filepath, max));
                    }
                    Err(e) => error(&format!("operators[{i}]"), e.to_string()),
                },
                "" => error(&format!("operators[{i}].type"), "is required".into()),
                other => error(
                    &format!("operators[{i}].type"),
                    format!("the {other} operator is not built in weir yet (container is)"),
                ),
            }
        }
        for (field, set) in [
            ("storage", config.storage.is_some()),
            ("header", config.header.is_some()),
            ("compression", config.compression.is_some()),
        ] {
            if set {
                error(field, "is not built in weir yet".into());
            }
        }
        if config.delete_after_read && !start_at_beginning {
            error("delete_after_read", "needs start_at: beginning".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            include,
            exclude,
            exclude_older_than,
            start_at_beginning,
            poll_interval,
            max_concurrent_files: config.max_concurrent_files.max(1),
            fingerprint_size,
            max_log_size,
            split,
            names: [
                config.include_file_name,
                config.include_file_path,
                config.include_file_name_resolved,
                config.include_file_path_resolved,
            ],
            force_flush_period,
            delete_after_read: config.delete_after_read,
            attributes: config.attributes,
            resource: config.resource,
            container,
        })
    }
}
