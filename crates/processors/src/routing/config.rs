//! `connectors.routing`: the options as written, and their validation into compiled routes.

use serde::Deserialize;
use weir_core::{Component, ConfigError};
use weir_ottl::{Context, ErrorMode, Signal};

use super::{Route, Test};
use crate::ottl;

/// `connectors.routing`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `default_pipelines`.
    pub default_pipelines: Vec<String>,
    /// `error_mode`.
    pub error_mode: ErrorMode,
    /// `table`.
    pub table: Vec<RouteConfig>,
    /// `match_once`: removed from the Collector (routes are first-match); only `true` is
    /// accepted.
    pub match_once: Option<bool>,
}

/// One route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// `statement`: `route() where <condition>`.
    pub statement: Option<String>,
    /// `condition`.
    pub condition: Option<String>,
    /// `context`.
    pub context: Option<String>,
    /// `action`: `move` (default) or `copy`.
    pub action: Option<String>,
    /// `pipelines`.
    pub pipelines: Vec<String>,
}

/// The validated connector.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub(super) routes: Vec<Route>,
    pub(super) pipelines: Vec<Vec<String>>,
    pub(super) default_pipelines: Vec<String>,
    pub(super) error_mode: ErrorMode,
}

/// `request["key"] == "value"` or `!=`.
fn request_test(text: &str) -> Option<Test> {
    let re = regex::Regex::new(r#"^\s*request\s*\[\s*"([^"]+)"\s*\]\s*(==|!=)\s*"([^"]*)"\s*$"#)
        .expect("valid");
    let caps = re.captures(text)?;
    Some(Test::Request {
        key: caps[1].to_ascii_lowercase(),
        equal: &caps[2] == "==",
        value: caps[3].to_owned(),
    })
}

/// Compiles a route's condition: in its context, or inferred from its paths, or (as the
/// Collector did before inference) in the resource context.
fn compile(text: &str, context: Option<Context>, path: String) -> Result<Test, ConfigError> {
    // without a context: inferred from the paths, else the resource context (the old default)
    let contexts = match context {
        Some(c) => vec![Some(c)],
        None => vec![None, Some(Context::Resource)],
    };
    let mut first = None;
    for context in contexts {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            if context.is_some_and(|c| !c.of_signal(signal)) {
                continue;
            }
            match ottl::condition(text, context, signal, path.clone()) {
                Ok(c) => return Ok(Test::Ottl(c)),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
    }
    Err(first.unwrap_or_else(|| ConfigError::new(path, "no signal has this context")))
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "routing",
        aliases: &[],
        signals: weir_core::Signals::Connector(&[
            (Signal::Traces, Signal::Traces),
            (Signal::Metrics, Signal::Metrics),
            (Signal::Logs, Signal::Logs),
        ]),
        stability: weir_core::Stability::Alpha,
        summary: "routes telemetry to pipelines by OTTL conditions or request metadata",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if config.match_once == Some(false) {
            errors.push(ConfigError::new(
                "match_once",
                "was removed: routes match once, in table order",
            ));
        }
        if config.table.is_empty() {
            errors.push(ConfigError::new("table", "must hold at least one route"));
        }
        if config.table.len() > 63 {
            errors.push(ConfigError::new("table", "holds more than 63 routes"));
        }
        let mut routes = Vec::new();
        let mut pipelines = Vec::new();
        for (i, route) in config.table.iter().enumerate() {
            let at = format!("table[{i}]");
            if route.pipelines.is_empty() {
                errors.push(ConfigError::new(
                    format!("{at}.pipelines"),
                    "must name at least one pipeline",
                ));
            }
            let copy = match route.action.as_deref() {
                None | Some("move") => false,
                Some("copy") => true,
                Some(other) => {
                    errors.push(ConfigError::new(
                        format!("{at}.action"),
                        format!("unknown action {other:?}: expected move or copy"),
                    ));
                    false
                }
            };
            let (text, path) = match (&route.condition, &route.statement) {
                (Some(c), None) => (c.clone(), format!("{at}.condition")),
                (None, Some(s)) => match s.trim().strip_prefix("route()").map(str::trim_start) {
                    Some(rest) if rest.starts_with("where ") => {
                        (rest["where ".len()..].to_owned(), format!("{at}.statement"))
                    }
                    _ => {
                        errors.push(ConfigError::new(
                            format!("{at}.statement"),
                            "must read route() where <condition>",
                        ));
                        continue;
                    }
                },
                _ => {
                    errors
                        .push(ConfigError::new(at, "needs exactly one of condition and statement"));
                    continue;
                }
            };
            let test = match route.context.as_deref() {
                Some("request") => match request_test(&text) {
                    Some(test) => Ok(test),
                    None => Err(ConfigError::new(
                        path,
                        "a request condition reads request[\"key\"] == \"value\" (or !=)",
                    )),
                },
                Some(name) => match Context::parse(name) {
                    Some(context) => compile(&text, Some(context), path),
                    None => Err(ConfigError::new(
                        format!("{at}.context"),
                        format!("unknown context {name:?}"),
                    )),
                },
                None => compile(&text, None, path),
            };
            match test {
                Ok(test) => {
                    routes.push(Route { test, copy });
                    pipelines.push(route.pipelines.clone());
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Settings {
                routes,
                pipelines,
                default_pipelines: config.default_pipelines,
                error_mode: config.error_mode,
            })
        } else {
            Err(errors)
        }
    }
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(super::Router::new(self, id))
    }

    fn routes(&self) -> Vec<(String, String)> {
        let mut routes = Vec::new();
        for (i, pipelines) in self.pipelines.iter().enumerate() {
            for (j, p) in pipelines.iter().enumerate() {
                routes.push((format!("table[{i}].pipelines[{j}]"), p.clone()));
            }
        }
        for (j, p) in self.default_pipelines.iter().enumerate() {
            routes.push((format!("default_pipelines[{j}]"), p.clone()));
        }
        routes
    }
}
