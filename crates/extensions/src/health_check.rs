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
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

    fn answer(&self) -> (StatusCode, String) {
        if self.state.load(Ordering::SeqCst) != READY {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"Server not available"}"#.into(),
            );
        }
        let since = self.since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        let body = serde_json::json!({
            "status": "Server available",
            "upSince": since,
            "uptime": format!("{:.3}s", self.started.elapsed().as_secs_f64()),
        });
        (StatusCode::OK, body.to_string())
    }
}

/// Serves the health endpoint on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    health: Health,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new().route(
        &config.path,
        get(move || {
            let (status, body) = health.answer();
            async move { (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

impl weir_core::Component for Config {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "health_check",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Beta,
        summary: "an HTTP endpoint that answers whether the pipelines run",
    };

    fn validate(config: Config) -> Result<Config, Vec<weir_core::ConfigError>> {
        let problems = config.problems();
        weir_core::declare::checked(config, problems)
    }
}

impl crate::BuildExtension for Config {
    fn serve<'a>(
        &'a self,
        id: &'a str,
        context: &'a crate::Context,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Option<crate::Served>>> {
        Box::pin(async move {
            let listener = crate::bind(id, &self.endpoint).await?;
            let addr = listener.local_addr()?;
            let task =
                serve(listener, self.clone(), context.health.clone(), context.shutdown.clone());
            Ok(Some(crate::Served { addr, task: tokio::spawn(task) }))
        })
    }

    fn authenticators(&self) -> std::io::Result<crate::Provided> {
        Ok(crate::Provided::default())
    }

    fn storage(&self) -> Option<&crate::file_storage::Config> {
        None
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
        health.set_stopping();
        assert_eq!(
            health.answer(),
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"Server not available"}"#.to_owned())
        );
    }
}
