//! Validation of a parsed configuration into a [`Plan`]: every problem is collected with its
//! path before anything is built, so one run of `weir validate` lists them all.

use std::collections::BTreeSet;

use weir_core::Signal;
use weir_exporters::ExporterSettings;
use weir_extensions::ExtensionSettings;
use weir_processors::{ConnectorSettings, ProcessorSettings};
use weir_receivers::ReceiverSettings;

use super::{
    components::ComponentId,
    raw::{RawConfig, RawPipeline, Telemetry},
};

/// A configuration that passed validation: only what the pipelines use, ready to build.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Receivers used by some pipeline.
    pub receivers: Vec<(ComponentId, ReceiverSettings)>,
    /// Processors used by some pipeline (each pipeline builds its own instance).
    pub processors: Vec<(ComponentId, ProcessorSettings)>,
    /// Exporters used by some pipeline.
    pub exporters: Vec<(ComponentId, ExporterSettings)>,
    /// Connectors used by some pipelines.
    pub connectors: Vec<(ComponentId, ConnectorSettings)>,
    /// Extensions listed in `service.extensions`.
    pub extensions: Vec<(ComponentId, ExtensionSettings)>,
    /// The pipelines.
    pub pipelines: Vec<PipelinePlan>,
    /// weir's own logs.
    pub telemetry: Telemetry,
}

/// One validated pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelinePlan {
    /// `traces`, `metrics/backend`, ...
    pub id: String,
    /// The signal it carries.
    pub signal: Signal,
    /// Receivers and connectors feeding it.
    pub receivers: Vec<ComponentId>,
    /// Processors, in order.
    pub processors: Vec<ComponentId>,
    /// Exporters and connectors it feeds.
    pub exporters: Vec<ComponentId>,
}

impl Plan {
    /// The settings of processor `id`, if the plan has it.
    pub fn processor(&self, id: &ComponentId) -> Option<&ProcessorSettings> {
        self.processors.iter().find(|(i, _)| i == id).map(|(_, p)| p)
    }

    /// The settings of exporter `id`, when `id` is an exporter.
    pub fn exporter(&self, id: &ComponentId) -> Option<&ExporterSettings> {
        self.exporters.iter().find(|(i, _)| i == id).map(|(_, e)| e)
    }

    /// The configuration of connector `id`, when `id` is a connector.
    pub fn connector(&self, id: &ComponentId) -> Option<&ConnectorSettings> {
        self.connectors.iter().find(|(i, _)| i == id).map(|(_, c)| c)
    }
}

/// The outcome of validation: errors (fatal) and warnings.
#[derive(Debug, Default)]
pub(super) struct Problems {
    /// Each `path: message`.
    pub errors: Vec<String>,
    /// Each `path: message`.
    pub warnings: Vec<String>,
}

impl Problems {
    /// Starts from the problems found while parsing the components.
    pub(super) fn new(errors: Vec<String>, warnings: Vec<String>) -> Problems {
        Problems { errors, warnings }
    }

    fn error(&mut self, path: impl std::fmt::Display, message: impl std::fmt::Display) {
        self.errors.push(format!("{path}: {message}"));
    }
}

/// Validates the pipelines of `raw` (whose components were each validated as they were
/// parsed) into a plan, or returns every error found, with those `problems` already had.
pub(super) fn validate(
    raw: RawConfig,
    mut problems: Problems,
) -> Result<(Plan, Vec<String>), Problems> {
    for (i, name) in raw.service.extensions.iter().enumerate() {
        if raw.extensions.get(name).is_none() && !raw.invalid.contains(name) {
            problems.error(
                format!("service.extensions[{i}]"),
                format!("extension {name:?} is not defined under extensions"),
            );
        }
    }
    for (id, _) in &raw.extensions.0 {
        if !raw.service.extensions.iter().any(|name| name == id.as_str()) {
            problems
                .warnings
                .push(format!("extensions.{id}: defined but not listed in service.extensions"));
        }
    }
    // (the component, the option naming the extension, the extension, server side or not)
    let mut authenticators: Vec<(String, &str, &str, bool)> = Vec::new();
    for (id, receiver) in &raw.receivers.0 {
        for name in receiver.as_dyn().authenticators() {
            authenticators.push((format!("receivers.{id}"), "auth.authenticator", name, true));
        }
    }
    for (id, exporter) in &raw.exporters.0 {
        if let Some(name) = exporter.as_dyn().authenticator() {
            authenticators.push((format!("exporters.{id}"), "auth.authenticator", name, false));
        }
    }
    for (id, extension) in &raw.extensions.0 {
        if let Some(name) = extension.as_dyn().chains_to() {
            authenticators.push((format!("extensions.{id}"), "additional_auth", name, false));
        }
    }
    for (component, option, name, server) in authenticators {
        let path = format!("{component}: {option} {name:?}");
        let side = if server { "requests it receives" } else { "requests it sends" };
        match raw.extensions.0.iter().find(|(e, _)| e.as_str() == name) {
            None => problems.error(path, "is not defined under extensions"),
            Some(_) if !raw.service.extensions.iter().any(|n| n == name) => {
                problems.error(path, "is not listed in service.extensions")
            }
            Some((_, extension)) => {
                let sides = extension.as_dyn().authenticates();
                if !(if server { sides.server } else { sides.client }) {
                    problems.error(path, format!("cannot authenticate the {side}"));
                }
            }
        }
    }
    if let Some(cycle) = authenticator_cycle(&raw.extensions.0) {
        problems.error(
            format!("extensions.{cycle}.additional_auth"),
            "chains back to itself through additional_auth",
        );
    }
    for (id, exporter) in &raw.exporters.0 {
        let Some(storage) = exporter.as_dyn().queue().queue.storage else { continue };
        let path = format!("exporters.{id}.sending_queue.storage");
        let listed = raw.service.extensions.contains(&storage);
        match raw.extensions.0.iter().find(|(e, _)| e.as_str() == storage) {
            Some((_, e)) if e.as_dyn().storage().is_some() && listed => {}
            Some((_, e)) if e.as_dyn().storage().is_some() => problems
                .error(path, format!("extension {storage:?} is not listed in service.extensions")),
            Some(_) => problems.error(path, format!("extension {storage:?} is not a file_storage")),
            None => problems
                .error(path, format!("extension {storage:?} is not defined under extensions")),
        }
    }
    for (path, message) in crate::logs::problems(&raw.service.telemetry.logs) {
        problems.error(format!("service.telemetry.logs.{path}"), message);
    }
    if raw.service.telemetry.metrics.readers.len() > 1 {
        problems.error(
            "service.telemetry.metrics.readers",
            "weir serves one Prometheus endpoint: give one reader",
        );
    }

    if raw.service.pipelines.is_empty() {
        problems.error("service.pipelines", "must define at least one pipeline");
    }
    let mut pipelines = Vec::new();
    for (id, pipeline) in &raw.service.pipelines {
        if let Some(plan) = check_pipeline(&raw, id, pipeline, &mut problems) {
            pipelines.push(plan);
        }
    }
    check_connectors(&raw, &pipelines, &mut problems);
    if problems.errors.is_empty() {
        check_cycles(&raw, &pipelines, &mut problems);
    }

    let used: BTreeSet<&ComponentId> = pipelines
        .iter()
        .flat_map(|p| p.receivers.iter().chain(&p.processors).chain(&p.exporters))
        .collect();
    let mut warnings = Vec::new();
    let mut keep = |section: &str, id: &ComponentId| {
        let is_used = used.contains(id);
        if !is_used {
            warnings.push(format!("{section}.{id}: defined but used in no pipeline"));
        }
        is_used
    };
    let receivers =
        raw.receivers.0.iter().filter(|(id, _)| keep("receivers", id)).cloned().collect();
    let processors =
        raw.processors.0.iter().filter(|(id, _)| keep("processors", id)).cloned().collect();
    let exporters =
        raw.exporters.0.iter().filter(|(id, _)| keep("exporters", id)).cloned().collect();
    let connectors =
        raw.connectors.0.iter().filter(|(id, _)| keep("connectors", id)).cloned().collect();
    problems.warnings.extend(warnings);
    if !problems.errors.is_empty() {
        return Err(problems);
    }
    let extensions = raw
        .extensions
        .0
        .iter()
        .filter(|(id, _)| raw.service.extensions.iter().any(|name| name == id.as_str()))
        .cloned()
        .collect();
    let plan = Plan {
        receivers,
        processors,
        exporters,
        connectors,
        extensions,
        pipelines,
        telemetry: raw.service.telemetry,
    };
    Ok((plan, problems.warnings))
}

fn check_pipeline(
    raw: &RawConfig,
    id: &str,
    pipeline: &RawPipeline,
    problems: &mut Problems,
) -> Option<PipelinePlan> {
    let at = format!("service.pipelines.{id}");
    let signal_name = id.split_once('/').map_or(id, |(signal, _)| signal);
    let Some(signal) = Signal::parse(signal_name) else {
        problems.error(&at, format!("unknown signal {signal_name:?}: a pipeline id is traces, metrics or logs, optionally followed by /name"));
        return None;
    };
    if id.ends_with('/') {
        problems.error(&at, "the name after '/' must not be empty");
    }
    let before = problems.errors.len();
    if pipeline.receivers.is_empty() {
        problems.error(format!("{at}.receivers"), "must list at least one receiver");
    }
    if pipeline.exporters.is_empty() {
        problems.error(format!("{at}.exporters"), "must list at least one exporter");
    }
    let mut receivers = Vec::new();
    for (i, name) in pipeline.receivers.iter().enumerate() {
        let path = format!("{at}.receivers[{i}]");
        if let Some(config) = raw.receivers.get(name) {
            if !config.declaration().signals.accepts(signal) {
                problems.error(&path, format!("receiver {name:?} does not produce {signal}"));
            }
        } else if raw.connectors.get(name).is_none() && !raw.invalid.contains(name) {
            problems.error(
                &path,
                format!("receiver {name:?} is not defined under receivers or connectors"),
            );
        }
        push_unique(&mut receivers, name, &path, problems);
    }
    let mut processors = Vec::new();
    for (i, name) in pipeline.processors.iter().enumerate() {
        let path = format!("{at}.processors[{i}]");
        match raw.processors.get(name) {
            Some(config) if !config.declaration().signals.accepts(signal) => {
                problems.error(&path, format!("processor {name:?} does not handle {signal}"));
            }
            Some(_) => {}
            None if raw.invalid.contains(name) => {}
            None => {
                problems.error(&path, format!("processor {name:?} is not defined under processors"))
            }
        }
        push_unique(&mut processors, name, &path, problems);
    }
    let mut exporters = Vec::new();
    for (i, name) in pipeline.exporters.iter().enumerate() {
        let path = format!("{at}.exporters[{i}]");
        if let Some(config) = raw.exporters.get(name) {
            if !config.declaration().signals.accepts(signal) {
                problems.error(&path, format!("exporter {name:?} does not accept {signal}"));
            }
        } else if raw.connectors.get(name).is_none() && !raw.invalid.contains(name) {
            problems.error(
                &path,
                format!("exporter {name:?} is not defined under exporters or connectors"),
            );
        }
        push_unique(&mut exporters, name, &path, problems);
    }
    (problems.errors.len() == before).then(|| PipelinePlan {
        id: id.to_owned(),
        signal,
        receivers,
        processors,
        exporters,
    })
}

fn push_unique(list: &mut Vec<ComponentId>, name: &str, path: &str, problems: &mut Problems) {
    match ComponentId::parse(name) {
        Ok(id) if list.contains(&id) => problems.error(path, format!("{name:?} is listed twice")),
        Ok(id) => list.push(id),
        Err(message) => problems.error(path, message),
    }
}

/// A connector must end some pipeline and start another that it can feed.
fn check_connectors(raw: &RawConfig, pipelines: &[PipelinePlan], problems: &mut Problems) {
    for (id, connector) in &raw.connectors.0 {
        for (path, pipeline) in connector.as_dyn().routes() {
            let fed = pipelines.iter().any(|p| p.id == pipeline && p.receivers.contains(id));
            if !fed {
                problems.error(
                    format!("connectors.{}.{path}", id.as_str()),
                    format!("pipeline {pipeline:?} does not list {:?} as a receiver", id.as_str()),
                );
            }
        }
        for pipeline in pipelines {
            let at = format!("service.pipelines.{}", pipeline.id);
            if let Some(i) = pipeline.exporters.iter().position(|e| e == id) {
                let feeds = pipelines.iter().any(|p| {
                    p.receivers.contains(id) && connects(connector, pipeline.signal, p.signal)
                });
                if !feeds {
                    problems.error(
                        format!("{at}.exporters[{i}]"),
                        format!(
                            "connector {:?} is a receiver of no pipeline it can feed from {}",
                            id.as_str(),
                            pipeline.signal
                        ),
                    );
                }
            }
            if let Some(i) = pipeline.receivers.iter().position(|r| r == id) {
                let fed = pipelines.iter().any(|p| {
                    p.exporters.contains(id) && connects(connector, p.signal, pipeline.signal)
                });
                if !fed {
                    problems.error(
                        format!("{at}.receivers[{i}]"),
                        format!(
                            "connector {:?} is an exporter of no pipeline it can take to {}",
                            id.as_str(),
                            pipeline.signal
                        ),
                    );
                }
            }
        }
    }
}

/// Pipelines joined by connectors must not form a cycle: data would loop forever.
fn check_cycles(raw: &RawConfig, pipelines: &[PipelinePlan], problems: &mut Problems) {
    let next = |p: &PipelinePlan| -> Vec<usize> {
        let mut out = Vec::new();
        for exporter in &p.exporters {
            let Some(connector) = raw.connectors.get(exporter.as_str()) else { continue };
            for (j, q) in pipelines.iter().enumerate() {
                if q.receivers.contains(exporter) && connects(connector, p.signal, q.signal) {
                    out.push(j);
                }
            }
        }
        out
    };
    // Depth-first search with colours: 0 unvisited, 1 on the stack, 2 done.
    fn visit(i: usize, colour: &mut [u8], next: &dyn Fn(usize) -> Vec<usize>) -> Option<usize> {
        colour[i] = 1;
        for j in next(i) {
            if colour[j] == 1 {
                return Some(j);
            }
            if colour[j] == 0
                && let Some(found) = visit(j, colour, next)
            {
                return Some(found);
            }
        }
        colour[i] = 2;
        None
    }
    let mut colour = vec![0u8; pipelines.len()];
    let next_of = |i: usize| next(&pipelines[i]);
    for i in 0..pipelines.len() {
        if colour[i] == 0
            && let Some(j) = visit(i, &mut colour, &next_of)
        {
            problems.error(
                format!("service.pipelines.{}", pipelines[j].id),
                "is part of a cycle of pipelines joined by connectors",
            );
            return;
        }
    }
}

fn connects(connector: &ConnectorSettings, from: Signal, to: Signal) -> bool {
    connector.declaration().signals.connects(from, to)
}

/// An extension whose `additional_auth` chain comes back to it, if any.
fn authenticator_cycle(extensions: &[(ComponentId, ExtensionSettings)]) -> Option<&str> {
    let next = |id: &str| {
        extensions.iter().find(|(e, _)| e.as_str() == id).and_then(|(_, e)| e.as_dyn().chains_to())
    };
    extensions.iter().map(|(id, _)| id.as_str()).find(|start| {
        let mut at = *start;
        for _ in 0..extensions.len() {
            match next(at) {
                Some(n) if n == *start => return true,
                Some(n) => at = n,
                None => return false,
            }
        }
        false
    })
}
