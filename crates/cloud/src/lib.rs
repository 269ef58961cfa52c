//! The metadata services weir asks once, at start, to say where it runs: a cloud's instance
//! metadata (GCP's metadata server, AWS IMDSv2, Azure IMDS), ECS task metadata v4 and the
//! Docker Engine API over its socket.
//!
//! These are plain HTTP/1.1 services on a link-local address, a loopback port or a Unix
//! socket, asked a handful of times: each request gets its own connection (no pool to keep),
//! is bounded by a deadline and its answer by [`MAX_BODY`] bytes. An address nobody answers
//! on is [`Error::Unreachable`]: for a detector that means "not on this platform", not a
//! failure.

pub mod aws;
pub mod azure;
pub mod docker;
pub mod gcp;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

use std::{path::PathBuf, time::Duration};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

/// What a detector found: attribute names and values, in the order found.
pub type Attributes = Vec<(String, Value)>;

/// An attribute's value: services answer text, and lists of it (ECS' log groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// One string.
    Text(String),
    /// A list of strings.
    List(Vec<String>),
}

/// Reads an environment variable: the process' own in weir, a fixed table in tests (the
/// platforms are told apart by variables such as `KUBERNETES_SERVICE_HOST` and `K_SERVICE`).
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process' environment, as [`Env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn push(found: &mut Attributes, name: &str, value: impl Into<String>) {
    let value = value.into();
    if !value.is_empty() {
        found.push((name.to_owned(), Value::Text(value)));
    }
}

/// Waits `duration` (detectors retry and refresh on the runtime this crate brings).
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// `work`'s output, or `None` when it takes longer than `within`.
pub async fn within<F: std::future::Future>(within: Duration, work: F) -> Option<F::Output> {
    tokio::time::timeout(within, work).await.ok()
}

/// The largest answer read: metadata documents are a few kilobytes.
pub const MAX_BODY: usize = 4 << 20;

/// Where a metadata service listens: `http://host[:port][/base]` or `unix:///path/to.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An HTTP server: its `host:port` and the path every request is under.
    Http {
        /// `host:port`.
        authority: String,
        /// The base path, without a trailing `/` (may be empty).
        base: String,
    },
    /// An HTTP server on a Unix socket (the Docker Engine's).
    Unix {
        /// The socket's path.
        socket: PathBuf,
    },
}

impl Endpoint {
    /// Parses `http://host[:port][/base]` (port 80 when absent) or `unix:///path`.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!("{text:?}: a unix endpoint needs an absolute path"));
            }
            return Ok(Endpoint::Unix { socket: PathBuf::from(path) });
        }
        let rest = text.strip_prefix("http://").ok_or_else(|| {
            format!("{text:?}: expected http://host[:port][/path] or unix:///path")
        })?;
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("{text:?}: no host"));
        }
        let authority =
            if has_port(authority) { authority.to_owned() } else { format!("{authority}:80") };
        Ok(Endpoint::Http { authority, base: base.to_owned() })
    }

    /// The endpoint with `path` appended to its base (for services whose documents sit under
    /// one prefix, such as ECS' `${ECS_CONTAINER_METADATA_URI_V4}/task`).
    pub fn describe(&self, path: &str) -> String {
        match self {
            Endpoint::Http { authority, base } => format!("http://{authority}{base}{path}"),
            Endpoint::Unix { socket } => format!("unix://{}{path}", socket.display()),
        }
    }
}

fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        // `[::1]:80` has one; `[::1]` does not.
        Some((host, port)) => !port.is_empty() && !port.contains(']') && !host.is_empty(),
        None => false,
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Nothing answers there (refused, unreachable, or no answer before the deadline): the
    /// service does not exist where weir runs.
    Unreachable(String),
    /// The service answered with an error status.
    Status {
        /// What was asked.
        url: String,
        /// The status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer is not what the service documents (too large, not JSON of the expected shape).
    Invalid(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(why) | Error::Invalid(why) => f.write_str(why),
            Error::Status { url, status, body } => write!(f, "{url}: status {status}: {body}"),
        }
    }
}

impl std::error::Error for Error {}

/// One request: `method` on `path` under `endpoint`, with `headers`, answered within
/// `within`. A status other than 2xx is [`Error::Status`].
pub async fn request(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    within: Duration,
) -> Result<Bytes, Error> {
    let url = endpoint.describe(path);
    match tokio::time::timeout(within, exchange(endpoint, method, path, headers, &url)).await {
        Ok(answer) => answer,
        Err(_) => Err(Error::Unreachable(format!("{url}: no answer within {within:?}"))),
    }
}

/// [`request`] with `GET`, the answer read as JSON.
pub async fn get_json<T: DeserializeOwned>(
    endpoint: &Endpoint,
    path: &str,
    headers: &[(&str, &str)],
    within: Duration,
) -> Result<T, Error> {
    let body = request(endpoint, Method::GET, path, headers, within).await?;
    serde_json::from_slice(&body).map_err(|e| {
        Error::Invalid(format!("{}: not the documented JSON: {e}", endpoint.describe(path)))
    })
}

/// [`request`] with `GET`, the answer read as UTF-8 text (trimmed).
pub async fn get_text(
    endpoint: &Endpoint,
    path: &str,
    headers: &[(&str, &str)],
    within: Duration,
) -> Result<String, Error> {
    let body = request(endpoint, Method::GET, path, headers, within).await?;
    String::from_utf8(body.to_vec())
        .map(|text| text.trim().to_owned())
        .map_err(|_| Error::Invalid(format!("{}: not UTF-8 text", endpoint.describe(path))))
}

async fn exchange(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    url: &str,
) -> Result<Bytes, Error> {
    let unreachable = |e: std::io::Error| Error::Unreachable(format!("{url}: {e}"));
    let (host, target) = match endpoint {
        Endpoint::Http { authority, base } => (authority.as_str(), format!("{base}{path}")),
        Endpoint::Unix { .. } => ("localhost", path.to_owned()),
    };
    let target = if target.is_empty() { "/".to_owned() } else { target };
    let mut builder = Request::builder().method(method).uri(target).header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::new()))
        .map_err(|e| Error::Invalid(format!("{url}: cannot make the request: {e}")))?;
    let response = match endpoint {
        Endpoint::Http { authority, .. } => {
            let stream = tokio::net::TcpStream::connect(authority).await.map_err(unreachable)?;
            send(TokioIo::new(stream), request, url).await?
        }
        Endpoint::Unix { socket } => {
            let stream = tokio::net::UnixStream::connect(socket).await.map_err(unreachable)?;
            send(TokioIo::new(stream), request, url).await?
        }
    };
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            Error::Invalid(format!("{url}: answer unread (at most {MAX_BODY} bytes): {e}"))
        })?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
        return Err(Error::Status { url: url.to_owned(), status: status.as_u16(), body: text });
    }
    Ok(body)
}

async fn send<S>(
    io: TokioIo<S>,
    request: Request<Full<Bytes>>,
    url: &str,
) -> Result<http::Response<hyper::body::Incoming>, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| Error::Unreachable(format!("{url}: {e}"));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(failed)?;
    // The connection is driven beside the request and ends with it.
    tokio::spawn(connection);
    sender.send_request(request).await.map_err(failed)
}

#[cfg(test)]
mod tests;
