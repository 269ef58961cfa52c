//! The `pprof` extension: CPU profiles of weir in the pprof format, as Go's `net/http/pprof`
//! serves them, on the Collector's default port 1777 (weir binds 127.0.0.1).
//! `GET /debug/pprof/profile?seconds=N` (default 30) samples every thread's stack 100 times a
//! second for N seconds and answers the gzip-compressed `profile.proto` message that
//! `go tool pprof` and other pprof readers take; `save_to_file` profiles from start to shutdown
//! into a file instead. One profile runs at a time (a second request gets 500, as in Go).
//! Sampling is `pprof-rs` (a maintained Rust sampling profiler: SIGPROF and stack unwinding);
//! the protobuf is encoded here from the published `profile.proto`.

use std::{collections::HashMap, io::Write as _, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prost::Message as _;
use serde::Deserialize;

/// Samples per second.
const FREQUENCY: i32 = 100;

/// `extensions.pprof`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: `host:port` (default 127.0.0.1:1777).
    pub endpoint: String,
    /// `block_profile_fraction`: Go's blocking profile, which a Rust process does not have.
    pub block_profile_fraction: i64,
    /// `mutex_profile_fraction`: Go's mutex profile, likewise.
    pub mutex_profile_fraction: i64,
    /// `save_to_file`: profile from start to shutdown into this file.
    pub save_to_file: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: "127.0.0.1:1777".into(),
            block_profile_fraction: 0,
            mutex_profile_fraction: 0,
            save_to_file: None,
        }
    }
}

impl Config {
    /// Every problem, as `(path below the extension, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty() {
            errors.push((
                "endpoint".into(),
                "\"endpoint\" is required when using the \"pprof\" extension".into(),
            ));
        }
        for (name, value) in [
            ("block_profile_fraction", self.block_profile_fraction),
            ("mutex_profile_fraction", self.mutex_profile_fraction),
        ] {
            if value > 0 {
                errors.push((
                    name.into(),
                    "Go runtime profiles: weir serves CPU profiles only".into(),
                ));
            }
        }
        errors
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "pprof",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Beta,
        summary: "CPU profiles in the pprof format on /debug/pprof/profile",
    }
);

impl crate::BuildExtension for Config {
    fn serve<'a>(
        &'a self,
        id: &'a str,
        context: &'a crate::Context,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Option<crate::Served>>> {
        Box::pin(async move {
            let busy = Arc::new(tokio::sync::Mutex::new(()));
            let router = Router::new()
                .route("/debug/pprof/", get(index))
                .route("/debug/pprof/profile", get(profile))
                .with_state(busy.clone());
            let shutdown = context.shutdown.clone();
            let (addr, serving) =
                crate::serve_router(id, &self.endpoint, router, shutdown.clone()).await?;
            let save = self.save_to_file.clone();
            let task = tokio::spawn(async move {
                // the file is written before the task ends, so shutdown waits for it
                let saving = save.map(|path| tokio::spawn(save_until(path, busy, shutdown)));
                let served = serving.await;
                if let Some(saving) = saving {
                    saving.await.map_err(std::io::Error::other)??;
                }
                served
            });
            Ok(Some(crate::Served { addr, task }))
        })
    }
}

async fn index() -> impl IntoResponse {
    "weir pprof\n\n/debug/pprof/profile?seconds=N  CPU profile (default 30 s)\n"
}

/// `seconds=N` of the query, if given and a number.
fn seconds(uri: &axum::http::Uri) -> Option<u64> {
    let query = uri.query()?;
    query.split('&').find_map(|pair| pair.strip_prefix("seconds=")?.parse().ok())
}

async fn profile(
    State(busy): State<Arc<tokio::sync::Mutex<()>>>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(_running) = busy.try_lock() else {
        let message = "Could not enable CPU profiling: cpu profiling already in use\n";
        return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
    };
    let seconds = seconds(&uri).unwrap_or(30).clamp(1, 3600);
    let sampled = tokio::task::spawn_blocking(move || {
        let guard = pprof::ProfilerGuard::new(FREQUENCY).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_secs(seconds));
        encode(&guard)
    })
    .await;
    let body = match sampled {
        Ok(Ok(body)) => body,
        Ok(Err(message)) => return failure(&message),
        Err(join) => return failure(&join.to_string()),
    };
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"profile\""),
    ];
    (StatusCode::OK, headers, body).into_response()
}

fn failure(message: &str) -> Response {
    let body = format!("Could not profile: {message}\n");
    (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}

/// `save_to_file`: profiles from now until `shutdown`, then writes the profile to `path`.
async fn save_until(
    path: std::path::PathBuf,
    busy: Arc<tokio::sync::Mutex<()>>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let _running = busy.lock().await;
    let (stop, stopped) = std::sync::mpsc::sync_channel::<()>(1);
    let profiling = tokio::task::spawn_blocking(move || {
        let guard = pprof::ProfilerGuard::new(FREQUENCY).map_err(std::io::Error::other)?;
        let _ = stopped.recv();
        let body = encode(&guard).map_err(std::io::Error::other)?;
        std::fs::write(&path, body).map_err(|e| {
            std::io::Error::new(e.kind(), format!("pprof: cannot write {}: {e}", path.display()))
        })
    });
    shutdown.cancelled().await;
    let _ = stop.send(());
    profiling.await.map_err(std::io::Error::other)?
}

/// The profile so far as a gzip-compressed `perftools.profiles.Profile`.
fn encode(guard: &pprof::ProfilerGuard<'_>) -> Result<Vec<u8>, String> {
    let report = guard.report().build().map_err(|e| e.to_string())?;
    let mut table = Strings::default();
    let period = 1_000_000_000 / i64::from(FREQUENCY);
    let samples = proto::ValueType { r#type: table.id("samples"), unit: table.id("count") };
    let cpu = proto::ValueType { r#type: table.id("cpu"), unit: table.id("nanoseconds") };
    let mut profile = proto::Profile {
        sample_type: vec![samples, cpu.clone()],
        period_type: Some(cpu),
        period,
        time_nanos: report
            .timing
            .start_time
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64),
        duration_nanos: report.timing.duration.as_nanos() as i64,
        ..proto::Profile::default()
    };
    let mut functions: HashMap<(String, String), u64> = HashMap::new();
    let mut locations: HashMap<Vec<(u64, i64)>, u64> = HashMap::new();
    for (frames, count) in &report.data {
        let mut location_ids = Vec::new();
        for frame in &frames.frames {
            let mut lines = Vec::new();
            for symbol in frame {
                let key = (symbol.name(), symbol.filename().into_owned());
                let next_id = functions.len() as u64 + 1;
                let function_id = *functions.entry(key.clone()).or_insert_with(|| {
                    profile.function.push(proto::Function {
                        id: next_id,
                        name: table.id(&key.0),
                        system_name: table.id(&key.0),
                        filename: table.id(&key.1),
                        start_line: 0,
                    });
                    next_id
                });
                lines.push((function_id, i64::from(symbol.lineno())));
            }
            let next_id = locations.len() as u64 + 1;
            let location_id = *locations.entry(lines.clone()).or_insert_with(|| {
                let line = lines
                    .iter()
                    .map(|&(function_id, line)| proto::Line { function_id, line, column: 0 })
                    .collect();
                profile.location.push(proto::Location { id: next_id, line, ..Default::default() });
                next_id
            });
            location_ids.push(location_id);
        }
        let count = *count as i64;
        let thread = proto::Label {
            key: table.id("thread"),
            str: table.id(&frames.thread_name_or_id()),
            ..Default::default()
        };
        profile.sample.push(proto::Sample {
            location_id: location_ids,
            value: vec![count, count * period],
            label: vec![thread],
        });
    }
    profile.string_table = table.strings;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&profile.encode_to_vec()).map_err(|e| e.to_string())?;
    gzip.finish().map_err(|e| e.to_string())
}

/// The profile's string table: index 0 is the empty string.
struct Strings {
    strings: Vec<String>,
    index: HashMap<String, i64>,
}

impl Default for Strings {
    fn default() -> Strings {
        Strings { strings: vec![String::new()], index: HashMap::from([(String::new(), 0)]) }
    }
}

impl Strings {
    fn id(&mut self, text: &str) -> i64 {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.strings.len() as i64;
        self.strings.push(text.to_owned());
        self.index.insert(text.to_owned(), id);
        id
    }
}

/// The messages of `profile.proto` (github.com/google/pprof, package `perftools.profiles`)
/// that weir writes.
pub mod proto {
    /// A profile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        /// What each sample value measures.
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        /// The samples.
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        /// Code locations.
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        /// Functions.
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// Every string, referred to by index.
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        /// When the profile was taken.
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        /// For how long.
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        /// What a period is.
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        /// The time between samples.
        #[prost(int64, tag = "12")]
        pub period: i64,
    }

    /// A measure: type and unit, as string table indices.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        /// `cpu`, `samples`.
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        /// `nanoseconds`, `count`.
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// One stack and its values.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Innermost first.
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        /// One per sample type.
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        /// The thread.
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// A label of a sample.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// The key, a string index.
        #[prost(int64, tag = "1")]
        pub key: i64,
        /// The value, a string index.
        #[prost(int64, tag = "2")]
        pub str: i64,
        /// A numeric value.
        #[prost(int64, tag = "3")]
        pub num: i64,
    }

    /// A code location: the lines of its inlined functions.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        /// Its id (not 0).
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Its binary, if known.
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        /// Its address, if known.
        #[prost(uint64, tag = "3")]
        pub address: u64,
        /// Innermost inlined function first.
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// A line of a function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        /// The function.
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        /// The line number.
        #[prost(int64, tag = "2")]
        pub line: i64,
        /// The column.
        #[prost(int64, tag = "3")]
        pub column: i64,
    }

    /// A function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        /// Its id (not 0).
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Its name, a string index.
        #[prost(int64, tag = "2")]
        pub name: i64,
        /// Its raw name.
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        /// Its source file.
        #[prost(int64, tag = "4")]
        pub filename: i64,
        /// Where it starts.
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;
    use crate::BuildExtension as _;

    /// Spins on the CPU for `for_ms`, in a function the profile should name.
    #[inline(never)]
    fn burn_the_cpu(for_ms: u64) -> u64 {
        let start = std::time::Instant::now();
        let mut x = 1u64;
        while start.elapsed() < Duration::from_millis(for_ms) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        x
    }

    fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<u8>) {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: weir\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let status = std::str::from_utf8(&response[9..12]).unwrap().parse().unwrap();
        (status, response[split + 4..].to_vec())
    }

    #[test]
    fn a_cpu_profile_names_the_busy_function() {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let context = crate::Context {
            health: Default::default(),
            shutdown: Default::default(),
            topology: Default::default(),
            recent_errors: Default::default(),
        };
        let config = Config { endpoint: "127.0.0.1:0".into(), ..Config::default() };
        let served = runtime.block_on(config.serve("pprof", &context)).unwrap().unwrap();
        let busy = std::thread::spawn(|| burn_the_cpu(1500));
        let addr = served.addr;
        let profiling = std::thread::spawn(move || get(addr, "/debug/pprof/profile?seconds=1"));
        std::thread::sleep(Duration::from_millis(300));
        let (second, _) = get(addr, "/debug/pprof/profile?seconds=1");
        assert_eq!(second, 500, "one profile at a time");
        let (status, body) = profiling.join().unwrap();
        busy.join().unwrap();
        assert_eq!(status, 200);
        // the body is what this extension wrote, gzip of a bounded profile
        #[allow(clippy::disallowed_types)]
        let mut gunzip = flate2::read::GzDecoder::new(body.as_slice());
        let mut raw = Vec::new();
        gunzip.read_to_end(&mut raw).unwrap();
        let profile = proto::Profile::decode(raw.as_slice()).unwrap();
        let text = |i: i64| profile.string_table[i as usize].as_str();
        let types: Vec<(&str, &str)> =
            profile.sample_type.iter().map(|t| (text(t.r#type), text(t.unit))).collect();
        assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
        let samples: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
        assert!(samples >= 20, "about 100 per second of a busy thread: {samples}");
        assert!(
            profile.function.iter().any(|f| text(f.name).contains("burn_the_cpu")),
            "the busy function is named"
        );
        context.shutdown.cancel();
        runtime.block_on(served.task).unwrap().unwrap();
    }
}
