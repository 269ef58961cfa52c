//! CORS for the OTLP/HTTP receiver, so that browser SDKs can send to weir: the Collector's
//! `cors` options `allowed_origins` (`*` matches any run of characters:
//! `https://*.example.com`), `allowed_headers` (`*` for any; `Accept`, `Accept-Language`,
//! `Content-Type` and `Content-Language` are always allowed, and `X-Requested-With` when the
//! list is empty), `exposed_headers` and `max_age` (seconds). CORS is on only when
//! `allowed_origins` lists something. As in the Collector, credentials are allowed, so an
//! allowed origin is echoed rather than answered with `*`.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here
//! with 204: with the allow headers when the origin, the method (POST) and every requested
//! header are allowed, without them otherwise (the browser then refuses). Other requests from
//! an allowed origin get `Access-Control-Allow-Origin` and `-Allow-Credentials` on their answer.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

/// `protocols.http.cors`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cors {
    /// `allowed_origins`: origins that may send, with `*` wildcards.
    pub allowed_origins: Vec<String>,
    /// `allowed_headers`: request headers a browser may send beyond the always-allowed ones.
    pub allowed_headers: Vec<String>,
    /// `exposed_headers`: response headers a page may read.
    pub exposed_headers: Vec<String>,
    /// `max_age`: seconds a browser may cache a preflight's answer (0: not sent).
    pub max_age: u64,
}

impl Cors {
    /// Every problem, as `(path below cors, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        for (i, origin) in self.allowed_origins.iter().enumerate() {
            if origin.is_empty() || origin.contains(char::is_whitespace) {
                errors.push((
                    format!("allowed_origins[{i}]"),
                    format!("{origin:?} is not an origin pattern"),
                ));
            }
        }
        for (list, name) in
            [(&self.allowed_headers, "allowed_headers"), (&self.exposed_headers, "exposed_headers")]
        {
            for (i, h) in list.iter().enumerate() {
                if h != "*" && header::HeaderName::try_from(h.as_str()).is_err() {
                    errors.push((format!("{name}[{i}]"), format!("{h:?} is not a header name")));
                }
            }
        }
        errors
    }

    /// Whether CORS is on.
    pub fn enabled(&self) -> bool {
        !self.allowed_origins.is_empty()
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|pattern| wildcard_match(pattern, origin))
    }

    fn header_allowed(&self, name: &str) -> bool {
        const ALWAYS: [&str; 4] = ["accept", "accept-language", "content-type", "content-language"];
        let name = name.trim().to_ascii_lowercase();
        ALWAYS.contains(&name.as_str())
            || (self.allowed_headers.is_empty() && name == "x-requested-with")
            || self.allowed_headers.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(&name))
    }
}

/// `pattern` with `*` matching any run of characters (including none).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// The middleware: answers preflights, decorates answers to allowed origins.
pub(crate) async fn handle(
    State(cors): State<std::sync::Arc<Cors>>,
    request: Request,
    next: Next,
) -> Response {
    let origin =
        request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(origin) = origin else { return next.run(request).await };
    let allowed = cors.origin_allowed(&origin);
    let preflight = request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return preflight_answer(&cors, &origin, allowed, request.headers());
    }
    let mut response = next.run(request).await;
    if allowed {
        let headers = response.headers_mut();
        allow_origin(headers, &origin);
        if !cors.exposed_headers.is_empty()
            && let Ok(v) = HeaderValue::try_from(cors.exposed_headers.join(", "))
        {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
    response.headers_mut().append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::try_from(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
}

fn preflight_answer(cors: &Cors, origin: &str, allowed: bool, request: &HeaderMap) -> Response {
    let method_ok = request
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .is_some_and(|m| m.as_bytes().eq_ignore_ascii_case(b"POST"));
    let requested = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let headers_ok =
        requested.split(',').filter(|h| !h.trim().is_empty()).all(|h| cors.header_allowed(h));
    let mut response = (StatusCode::NO_CONTENT, Body::empty()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    if !(allowed && method_ok && headers_ok) {
        return response;
    }
    allow_origin(headers, origin);
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
    if !requested.trim().is_empty()
        && let Ok(v) = HeaderValue::try_from(requested)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    if cors.max_age > 0 {
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(cors.max_age));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_with_wildcards() {
        assert!(wildcard_match("https://*.example.com", "https://app.example.com"));
        assert!(wildcard_match("https://*.example.com", "https://a.b.example.com"));
        assert!(!wildcard_match("https://*.example.com", "https://example.com"));
        assert!(!wildcard_match("https://*.example.com", "http://app.example.com"));
        assert!(wildcard_match("http://*", "http://localhost:3000"));
        assert!(wildcard_match("https://app.example.com", "https://app.example.com"));
        assert!(!wildcard_match("https://app.example.com", "https://app.example.com.evil"));
        assert!(wildcard_match("*://*:*", "http://h:1"));
    }

    #[test]
    fn headers_always_allowed_and_listed() {
        let cors = Cors { allowed_origins: vec!["*".into()], ..Cors::default() };
        assert!(cors.header_allowed("Content-Type"));
        assert!(cors.header_allowed("x-requested-with"), "allowed when the list is empty");
        assert!(!cors.header_allowed("X-Api-Key"));
        let listed = Cors { allowed_headers: vec!["X-Api-Key".into()], ..cors.clone() };
        assert!(listed.header_allowed("x-api-key"));
        assert!(!listed.header_allowed("x-requested-with"));
        let any = Cors { allowed_headers: vec!["*".into()], ..cors };
        assert!(any.header_allowed("x-anything"));
    }
}
