//! The `zpages` extension: live pages about the running weir, on the Collector's default port
//! 55679 (weir binds 127.0.0.1 by default). `/debug/servicez`: version, start time, state,
//! links; `/debug/pipelinez`: every pipeline with its receivers, processors and exporters;
//! `/debug/extensionz`: the extensions; `/debug/componentz`: every component with its type and
//! stability; `/debug/errorz`: the latest warnings and errors weir logged (a bounded ring);
//! `/debug/featurez`: feature gates (weir has none). Pages are HTML; the same data is served as
//! JSON when the request asks `Accept: application/json`.

use std::{collections::VecDeque, sync::Mutex, time::SystemTime};

use axum::{
    Router,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};

/// `extensions.zpages`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: `host:port` (default 127.0.0.1:55679).
    pub endpoint: String,
    /// `expvar`: Go's expvar page, which a Rust process does not have.
    pub expvar: Expvar,
}

/// `expvar`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expvar {
    /// `enabled`: must stay false.
    pub enabled: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config { endpoint: "127.0.0.1:55679".into(), expvar: Expvar::default() }
    }
}

impl Config {
    /// Every problem, as `(path below the extension, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty() {
            errors.push((
                "endpoint".into(),
                "\"endpoint\" is required when using the \"zpages\" extension".into(),
            ));
        } else if !self
            .endpoint
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        {
            errors.push((
                "endpoint".into(),
                format!("invalid endpoint {:?}: expected host:port", self.endpoint),
            ));
        }
        if self.expvar.enabled {
            errors.push((
                "expvar.enabled".into(),
                "expvar is Go's: weir serves its metrics on service.telemetry.metrics".into(),
            ));
        }
        errors
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "zpages",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Beta,
        summary: "live pages: pipelines, components, weir's state, recent errors",
    }
);

impl crate::BuildExtension for Config {
    fn serve<'a>(
        &'a self,
        id: &'a str,
        context: &'a crate::Context,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Option<crate::Served>>> {
        Box::pin(async move {
            let router = router(context.clone());
            let (addr, serving) =
                crate::serve_router(id, &self.endpoint, router, context.shutdown.clone()).await?;
            Ok(Some(crate::Served { addr, task: tokio::spawn(serving) }))
        })
    }
}

/// What the topology tells the pages about the running configuration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Topology {
    /// Every pipeline.
    pub pipelines: Vec<Pipeline>,
    /// Every component: kind, id, type, stability.
    pub components: Vec<ComponentRow>,
}

/// One pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    /// `traces/backend`.
    pub id: String,
    /// Receivers and connectors feeding it.
    pub receivers: Vec<String>,
    /// Processors, in order.
    pub processors: Vec<String>,
    /// Exporters and connectors it feeds.
    pub exporters: Vec<String>,
}

/// One component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentRow {
    /// `receiver`, `processor`, ...
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Its type's name.
    pub type_name: &'static str,
    /// Its type's stability.
    pub stability: &'static str,
}

/// The latest warnings and errors weir logged: a ring of at most [`RecentErrors::CAPACITY`].
#[derive(Debug, Default)]
pub struct RecentErrors {
    entries: Mutex<VecDeque<LogEntry>>,
}

/// One logged warning or error.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// When, RFC 3339.
    pub time: String,
    /// `WARN` or `ERROR`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message and its fields.
    pub message: String,
}

impl RecentErrors {
    /// How many entries are kept.
    pub const CAPACITY: usize = 100;

    /// Records one entry, forgetting the oldest beyond the capacity.
    pub fn push(&self, level: &str, target: &str, message: String) {
        let entry = LogEntry {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            level: level.to_owned(),
            target: target.to_owned(),
            message,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The entries, newest first.
    pub fn latest(&self) -> Vec<LogEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().rev().cloned().collect()
    }
}

fn router(context: crate::Context) -> Router {
    let page = |f: fn(&crate::Context) -> (String, serde_json::Value)| {
        let context = context.clone();
        get(move |headers: HeaderMap| {
            let (html, json) = f(&context);
            async move { respond(&headers, html, json) }
        })
    };
    Router::new()
        .route("/debug/servicez", page(servicez))
        .route("/debug/pipelinez", page(pipelinez))
        .route("/debug/extensionz", page(extensionz))
        .route("/debug/componentz", page(componentz))
        .route("/debug/errorz", page(errorz))
        .route("/debug/featurez", page(featurez))
}

fn respond(headers: &HeaderMap, html: String, json: serde_json::Value) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json.to_string())
            .into_response()
    } else {
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>weir zpages</title></head>\
             <body><p><a href=\"/debug/servicez\">service</a> · <a href=\"/debug/pipelinez\">pipelines</a> · \
             <a href=\"/debug/componentz\">components</a> · <a href=\"/debug/extensionz\">extensions</a> · \
             <a href=\"/debug/errorz\">recent errors</a> · <a href=\"/debug/featurez\">feature gates</a></p>{html}</body></html>"
        );
        (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn table(headings: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = String::from("<table border=\"1\" cellpadding=\"4\"><tr>");
    for h in headings {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{}</td>", escape(&cell)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn servicez(context: &crate::Context) -> (String, serde_json::Value) {
    let started = humantime::format_rfc3339_seconds(context.health.since()).to_string();
    let state = context.health.state_name();
    let rows = vec![
        vec!["version".into(), env!("CARGO_PKG_VERSION").into()],
        vec!["started".into(), started.clone()],
        vec!["state".into(), state.into()],
        vec!["os".into(), std::env::consts::OS.into()],
        vec!["architecture".into(), std::env::consts::ARCH.into()],
    ];
    let json = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"), "started": started, "state": state,
        "os": std::env::consts::OS, "architecture": std::env::consts::ARCH,
    });
    (format!("<h1>weir</h1>{}", table(&["", ""], rows)), json)
}

fn pipelinez(context: &crate::Context) -> (String, serde_json::Value) {
    let rows = context
        .topology
        .pipelines
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.receivers.join(", "),
                p.processors.join(" → "),
                p.exporters.join(", "),
            ]
        })
        .collect();
    let html = format!(
        "<h1>Pipelines</h1>{}",
        table(&["pipeline", "receivers", "processors", "exporters"], rows)
    );
    (html, serde_json::json!({ "pipelines": context.topology.pipelines }))
}

fn rows_of<'a>(context: &'a crate::Context, kind: Option<&str>) -> Vec<&'a ComponentRow> {
    let all = context.topology.components.iter();
    all.filter(|c| kind.is_none_or(|k| c.kind == k)).collect()
}

fn componentz(context: &crate::Context) -> (String, serde_json::Value) {
    let state = context.health.state_name();
    let components = rows_of(context, None);
    let rows = components
        .iter()
        .map(|c| {
            vec![c.kind.into(), c.id.clone(), c.type_name.into(), c.stability.into(), state.into()]
        })
        .collect();
    let html = format!(
        "<h1>Components</h1>{}",
        table(&["kind", "id", "type", "stability", "state"], rows)
    );
    (html, serde_json::json!({ "state": state, "components": components }))
}

fn extensionz(context: &crate::Context) -> (String, serde_json::Value) {
    let extensions = rows_of(context, Some("extension"));
    let rows = extensions.iter().map(|c| vec![c.id.clone(), c.type_name.into()]).collect();
    let html = format!("<h1>Extensions</h1>{}", table(&["id", "type"], rows));
    (html, serde_json::json!({ "extensions": extensions }))
}

fn errorz(context: &crate::Context) -> (String, serde_json::Value) {
    let latest = context.recent_errors.latest();
    let rows = latest
        .iter()
        .map(|e| vec![e.time.clone(), e.level.clone(), e.target.clone(), e.message.clone()])
        .collect();
    let html = format!(
        "<h1>Recent warnings and errors</h1><p>the latest {} logged, newest first</p>{}",
        RecentErrors::CAPACITY,
        table(&["time", "level", "target", "message"], rows)
    );
    (html, serde_json::json!({ "errors": latest }))
}

fn featurez(_: &crate::Context) -> (String, serde_json::Value) {
    (
        "<h1>Feature gates</h1><p>weir has no feature gates.</p>".into(),
        serde_json::json!({ "gates": [] }),
    )
}
