//! The `health_check` extension: `GET <path>` answers 200 with a JSON status while the
//! pipelines run, and 503 while weir starts or shuts down (the Collector's behaviour, so
//! Kubernetes probes written for it keep working).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::{Instant, SystemTime},
};

use axum::{Router, http::StatusCode, routing::get};
use serde::Deserialize;

/// `extensions.health_check`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: `host:port` (default 127.0.0.1:13133).
    pub endpoint: String,
    /// `path`: the path answered (default `/`).
    pub path: String,
}

impl Default for Config {
    fn default() -> Config {
        Config { endpoint: "127.0.0.1:13133".into(), path: "/".into() }
    }
}

impl Config {
    /// Every problem, as `(path below the extension, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if !self
            .endpoint
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        {
            errors.push((
                "endpoint".into(),
                format!("invalid endpoint {:?}: expected host:port", self.endpoint),
            ));
        }
        if !self.path.starts_with('/') {
            errors.push(("path".into(), format!("{:?} must start with '/'", self.path)));
        }
        errors
    }
}

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

/// Whether the pipelines run, shared by the topology (which sets it) and the extension.
#[derive(Debug, Clone)]
pub struct Health {
    state: Arc<AtomicU8>,
    started: Instant,
    since: SystemTime,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            state: Arc::new(AtomicU8::new(STARTING)),
            started: Instant::now(),
            since: SystemTime::now(),
        }
    }
}

impl Health {
    /// Every pipeline runs.
    pub fn set_ready(&self) {
        self.state.store(READY, Ordering::SeqCst);
    }

    /// Shutdown began.
    pub fn set_stopping(&self) {
        self.state.store(STOPPING, Ordering::SeqCst);
    }

    /// When weir started.
    pub fn since(&self) -> SystemTime {
        self.since
    }

    /// `starting`, `running` or `stopping`.
    pub fn state_name(&self) -> &'static str {
        match self.state.load(Ordering::SeqCst) {
            READY => "running",
            STOPPING => "stopping",
            _ => "starting",
        }
    }

    /// The Collector's answer: 200 with `upSince` (RFC 3339, nanoseconds, UTC) and `uptime`
    /// (a Go duration) while ready, else 503 with the zero time.
    fn answer(&self) -> (StatusCode, String) {
        if self.state.load(Ordering::SeqCst) != READY {
            let body = serde_json::json!({
                "status": "Server not available",
                "upSince": "0001-01-01T00:00:00Z",
                "uptime": "",
            });
            return (StatusCode::SERVICE_UNAVAILABLE, body.to_string());
        }
        let body = serde_json::json!({
            "status": "Server available",
            "upSince": humantime::format_rfc3339_nanos(self.since).to_string(),
            "uptime": go_duration(self.started.elapsed()),
        });
        (StatusCode::OK, body.to_string())
    }
}

/// A duration as Go prints one: `1h2m3.5s`, `2m0.25s`, `3.000000001s`.
fn go_duration(d: std::time::Duration) -> String {
    let total = d.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let mut fraction = format!("{:09}", d.subsec_nanos());
    while fraction.ends_with('0') {
        fraction.pop();
    }
    let seconds =
        if fraction.is_empty() { format!("{seconds}s") } else { format!("{seconds}.{fraction}s") };
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// The health endpoint's routes.
fn router(config: &Config, health: Health) -> Router {
    Router::new().route(
        &config.path,
        get(move || {
            let (status, body) = health.answer();
            async move { (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "health_check",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Beta,
        summary: "an HTTP endpoint that answers whether the pipelines run",
    }
);

impl crate::BuildExtension for Config {
    fn serve<'a>(
        &'a self,
        id: &'a str,
        context: &'a crate::Context,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Option<crate::Served>>> {
        Box::pin(async move {
            let router = router(self, context.health.clone());
            let (addr, serving) =
                crate::serve_router(id, &self.endpoint, router, context.shutdown.clone()).await?;
            Ok(Some(crate::Served { addr, task: tokio::spawn(serving) }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_only_between_start_and_shutdown() {
        let health = Health::default();
        assert_eq!(health.answer().0, StatusCode::SERVICE_UNAVAILABLE, "starting");
        health.set_ready();
        let (status, body) = health.answer();
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "Server available");
        let since = json["upSince"].as_str().unwrap();
        let parsed = humantime::parse_rfc3339(since).expect("RFC 3339");
        assert_eq!(parsed, health.since, "{since}");
        assert!(json["uptime"].as_str().unwrap().ends_with('s'));
        health.set_stopping();
        let (status, body) = health.answer();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "Server not available");
        assert_eq!(json["upSince"], "0001-01-01T00:00:00Z");
    }

    #[test]
    fn uptime_reads_as_a_go_duration() {
        let d = |s, n| go_duration(std::time::Duration::new(s, n));
        assert_eq!(d(3, 0), "3s");
        assert_eq!(d(62, 500_000_000), "1m2.5s");
        assert_eq!(d(3723, 1), "1h2m3.000000001s");
    }
}
