//! Helpers for weir's end-to-end tests: a weir topology started in-process on ephemeral
//! loopback ports with its output written by the `file` exporter, and raw clients for the
//! requests no SDK sends (corrupt, oversized, compressed bombs).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use weir_core::testing::{wait_for, wait_until, wait_until_async};

pub mod backend;
pub mod kube_api;
pub mod prometheus;
pub mod sdk;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use weir::{config, topology};
use weir_otlp::Batch;

/// A weir topology running on its own tokio runtime.
pub struct Weir {
    /// The runtime weir runs on; tests use it for their own async clients too.
    pub runtime: tokio::runtime::Runtime,
    running: Option<topology::Running>,
    /// Where the `file` exporter writes.
    pub output: PathBuf,
    _dir: tempfile::TempDir,
}

/// A configuration with an `otlp` receiver on ephemeral loopback ports for both transports
/// and every signal written to `{output}` by the `file` exporter. `{http}` takes extra HTTP
/// options.
pub const FILE_CONFIG: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    metrics:
      receivers: [otlp]
      exporters: [file]
    logs:
      receivers: [otlp]
      exporters: [file]
";

impl Weir {
    /// Starts [`FILE_CONFIG`].
    pub fn start() -> Weir {
        Weir::start_with(FILE_CONFIG)
    }

    /// Starts a configuration in which `{output}` is replaced by the output file's path.
    pub fn start_with(template: &str) -> Weir {
        let dir = tempfile::tempdir().expect("temporary directory");
        let output = dir.path().join("out.jsonl");
        let text = template.replace("{output}", &output.display().to_string());
        // Self-metrics on an ephemeral port too: tests run side by side.
        let sets = ["service::telemetry::metrics::address=127.0.0.1:0".to_owned()];
        let loaded = config::load_texts(vec![("test.yaml".into(), text)], &sets, |_| None)
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = runtime.block_on(topology::start(&loaded.plan)).expect("weir starts");
        Weir { runtime, running: Some(running), output, _dir: dir }
    }

    /// The metrics page weir serves now.
    pub fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.addr(weir::topology::TELEMETRY, "http"));
        reqwest::blocking::get(url).expect("metrics endpoint").text().expect("metrics page")
    }

    /// The address receiver `id` listens on for `transport` (`grpc` or `http`).
    pub fn addr(&self, id: &str, transport: &str) -> SocketAddr {
        self.running.as_ref().and_then(|r| r.addr(id, transport)).expect("receiver listens")
    }

    /// The gRPC address of receiver `otlp`.
    pub fn grpc(&self) -> SocketAddr {
        self.addr("otlp", "grpc")
    }

    /// The HTTP address of receiver `otlp`.
    pub fn http(&self) -> SocketAddr {
        self.addr("otlp", "http")
    }

    /// Posts `batch` as OTLP/HTTP protobuf to receiver `otlp`; returns the HTTP status.
    pub fn post(&self, batch: &Batch) -> u16 {
        let path = match batch.signal() {
            weir_otlp::Signal::Traces => "traces",
            weir_otlp::Signal::Metrics => "metrics",
            weir_otlp::Signal::Logs => "logs",
        };
        reqwest::blocking::Client::new()
            .post(format!("http://{}/v1/{path}", self.http()))
            .header("content-type", "application/x-protobuf")
            .body(batch.encode_protobuf())
            .send()
            .expect("an HTTP answer")
            .status()
            .as_u16()
    }

    /// Shuts weir down (draining everything) and returns every batch the file exporter wrote.
    pub fn stop(self) -> Vec<Batch> {
        self.stop_files().remove("out.jsonl").unwrap_or_default()
    }

    /// Shuts weir down and returns the batches of every file written beside the output, by
    /// file name (`out.jsonl`, and e.g. `out.jsonl.copy` for a `{output}.copy` path).
    pub fn stop_files(mut self) -> std::collections::BTreeMap<String, Vec<Batch>> {
        let running = self.running.take().expect("running");
        self.runtime.block_on(running.shutdown(Duration::from_secs(20))).expect("clean shutdown");
        let mut files = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir(self._dir.path()).expect("output directory") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("a file").to_string_lossy().into_owned();
            files.insert(name, read_batches(&path));
        }
        files
    }
}

/// Every batch in a file written by the `file` exporter.
pub fn read_batches(path: &std::path::Path) -> Vec<Batch> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| weir_otlp::json::decode_any(line.as_bytes()).expect("every line decodes"))
        .collect()
}

/// A gRPC answer: the `grpc-status` code and `grpc-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcAnswer {
    /// The gRPC status code (0 is OK).
    pub code: i32,
    /// The status message, percent-decoded.
    pub message: String,
}

/// Sends one raw gRPC unary request to `path` (e.g.
/// `/opentelemetry.proto.collector.trace.v1.TraceService/Export`) with extra `headers`:
/// `payload` is framed as is, flagged compressed when a `grpc-encoding` header is given, so
/// tests can send bytes no encoder would.
pub async fn grpc_raw(
    addr: SocketAddr,
    path: &str,
    payload: Bytes,
    headers: &[(&str, &str)],
) -> GrpcAnswer {
    let compressed = headers.iter().any(|(name, _)| *name == "grpc-encoding");
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(u8::from(compressed));
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(frame))).expect("request");
    let response = client.request(request).await.expect("gRPC response");
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let get = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let code = get("grpc-status").and_then(|c| c.parse().ok()).expect("a grpc-status");
    let message = percent_decode(&get("grpc-message").unwrap_or_default());
    GrpcAnswer { code, message }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// gzip of `len` zero bytes, compressed as it streams (never holding `len` bytes).
pub fn gzip_of_zeros(len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).expect("in memory");
        left -= n;
    }
    encoder.finish().expect("in memory")
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

/// The value of the sample of metric `name` whose labels include `labels`, on a Prometheus
/// text page.
pub fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}
