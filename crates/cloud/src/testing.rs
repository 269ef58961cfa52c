//! A metadata server for tests: answers what a test puts at a path, with each service's own
//! rules checked as the real ones check them — GCP's `Metadata-Flavor: Google` (403 without),
//! IMDSv2's session token (a `PUT /latest/api/token` with a TTL header, then 401 on any read
//! without that token; [`MetadataServer::imds_v1`] makes it refuse tokens with 403 as an
//! IMDSv1-only service does), Azure's `Metadata: true` (400 without). It listens on
//! 127.0.0.1 or on a Unix socket (the Docker Engine's).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    Router,
    extract::{Request, State},
    http::{Method, StatusCode},
};

/// The token the served IMDS gives.
pub const IMDS_TOKEN: &str = "AQAEAtest-token==";

#[derive(Default)]
struct Shared {
    documents: Mutex<BTreeMap<String, String>>,
    requests: Mutex<Vec<String>>,
    imds_v1: AtomicBool,
}

/// A running metadata server; it stops with the runtime it was started on.
#[derive(Clone)]
pub struct MetadataServer {
    /// Its `http://127.0.0.1:port` or `unix:///path`.
    pub endpoint: String,
    shared: Arc<Shared>,
}

impl MetadataServer {
    /// Starts one on 127.0.0.1, on the current runtime.
    pub async fn start() -> MetadataServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address: SocketAddr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared::default());
        let app = router(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        MetadataServer { endpoint: format!("http://{address}"), shared }
    }

    /// Starts one on a Unix socket at `path`, on the current runtime.
    pub async fn start_unix(path: &Path) -> MetadataServer {
        let listener = tokio::net::UnixListener::bind(path).expect("bind the socket");
        let shared = Arc::new(Shared::default());
        let app = router(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        MetadataServer { endpoint: format!("unix://{}", path.display()), shared }
    }

    /// Answers `GET path` (with its query, if the service has one) with `body`.
    pub fn serve(&self, path: &str, body: &str) -> &MetadataServer {
        self.shared.documents.lock().expect("documents").insert(path.to_owned(), body.to_owned());
        self
    }

    /// Makes the IMDS refuse session tokens (403), as an IMDSv1-only one does.
    pub fn imds_v1(&self) {
        self.shared.imds_v1.store(true, Ordering::Relaxed);
    }

    /// The requests answered so far: `METHOD path?query token=<yes|no>`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().expect("requests").clone()
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(answer).with_state(shared)
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> (StatusCode, String) {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let header = |name: &str| {
        request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    };
    let token = header("x-aws-ec2-metadata-token");
    let line = format!("{} {path} token={}", request.method(), !token.is_empty());
    shared.requests.lock().expect("requests").push(line);
    let v1 = shared.imds_v1.load(Ordering::Relaxed);
    if path.starts_with("/computeMetadata/") && header("metadata-flavor") != "Google" {
        return (StatusCode::FORBIDDEN, "Missing Metadata-Flavor:Google header.".into());
    }
    if path.starts_with("/metadata/") && header("metadata") != "true" {
        let body = r#"{"error":"Bad request. Required metadata header not specified"}"#;
        return (StatusCode::BAD_REQUEST, body.into());
    }
    if path == "/latest/api/token" {
        return match (request.method(), v1) {
            (&Method::PUT, true) => (StatusCode::FORBIDDEN, "tokens are off".into()),
            (&Method::PUT, false) if header("x-aws-ec2-metadata-token-ttl-seconds").is_empty() => {
                (StatusCode::BAD_REQUEST, "no TTL".into())
            }
            (&Method::PUT, false) => (StatusCode::OK, IMDS_TOKEN.into()),
            _ => (StatusCode::METHOD_NOT_ALLOWED, String::new()),
        };
    }
    if path.starts_with("/latest/") && !v1 && token != IMDS_TOKEN {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    if request.method() != Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, String::new());
    }
    match shared.documents.lock().expect("documents").get(&path) {
        Some(body) => (StatusCode::OK, body.clone()),
        None => (StatusCode::NOT_FOUND, format!("{path} not found")),
    }
}
