use std::time::Duration;

use axum::{Router, http::HeaderMap, routing::get};
use http::{Method, StatusCode};

use super::{Endpoint, Error, get_json, get_text, request};

const WITHIN: Duration = Duration::from_secs(5);

fn routes() -> Router {
    Router::new()
        .route(
            "/base/doc",
            get(|headers: HeaderMap| async move {
                match headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) {
                    Some("Google") => (StatusCode::OK, r#"{"id": 7}"#.to_owned()),
                    _ => (StatusCode::FORBIDDEN, "missing Metadata-Flavor".to_owned()),
                }
            }),
        )
        .route("/base/text", get(|| async { " plain \n" }))
        .route("/base/huge", get(|| async { vec![b'x'; super::MAX_BODY + 1] }))
        .route("/base/token", axum::routing::put(|| async { "token-1" }))
}

async fn serve() -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    Endpoint::parse(&format!("http://{address}/base/")).unwrap()
}

#[test]
fn endpoints_parse_as_written() {
    let endpoint = Endpoint::parse("http://169.254.169.254").unwrap();
    assert_eq!(endpoint.describe("/latest"), "http://169.254.169.254:80/latest");
    let endpoint = Endpoint::parse("http://[::1]:8080/v4/abc/").unwrap();
    assert_eq!(endpoint.describe("/task"), "http://[::1]:8080/v4/abc/task");
    let endpoint = Endpoint::parse("unix:///var/run/docker.sock").unwrap();
    assert_eq!(endpoint, Endpoint::Unix { socket: "/var/run/docker.sock".into() });
    assert!(Endpoint::parse("https://example.com").unwrap_err().contains("expected http://"));
    assert!(Endpoint::parse("unix://relative.sock").unwrap_err().contains("absolute path"));
    assert!(Endpoint::parse("http:///path").unwrap_err().contains("no host"));
}

#[tokio::test]
async fn headers_are_sent_and_json_is_read() {
    let endpoint = serve().await;
    let value: serde_json::Value =
        get_json(&endpoint, "/doc", &[("Metadata-Flavor", "Google")], WITHIN).await.unwrap();
    assert_eq!(value["id"], 7);
    let refused = get_json::<serde_json::Value>(&endpoint, "/doc", &[], WITHIN).await;
    let Err(Error::Status { status: 403, body, url }) = refused else { panic!("{refused:?}") };
    assert_eq!(body, "missing Metadata-Flavor");
    assert!(url.ends_with("/base/doc"), "{url}");
    assert_eq!(get_text(&endpoint, "/text", &[], WITHIN).await.unwrap(), "plain");
    let token = request(&endpoint, Method::PUT, "/token", &[], WITHIN).await.unwrap();
    assert_eq!(&token[..], b"token-1");
    let not_json = get_json::<serde_json::Value>(&endpoint, "/text", &[], WITHIN).await;
    assert!(
        matches!(not_json, Err(Error::Invalid(ref m)) if m.contains("not the documented JSON"))
    );
}

#[tokio::test]
async fn answers_are_bounded() {
    let endpoint = serve().await;
    let huge = request(&endpoint, Method::GET, "/huge", &[], WITHIN).await;
    assert!(matches!(huge, Err(Error::Invalid(ref m)) if m.contains("at most")), "{huge:?}");
}

#[tokio::test]
async fn nobody_there_is_unreachable() {
    // A port bound and closed again: nothing listens on it.
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = Endpoint::parse(&format!("http://{address}")).unwrap();
    let refused = request(&endpoint, Method::GET, "/", &[], WITHIN).await;
    assert!(matches!(refused, Err(Error::Unreachable(_))), "{refused:?}");

    // A server that accepts and never answers: the deadline ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Endpoint::parse(&format!("http://{}", silent.local_addr().unwrap())).unwrap();
    let waited =
        request(&endpoint, Method::GET, "/", &[], Duration::from_millis(200)).await.unwrap_err();
    assert!(waited.to_string().contains("no answer within 200ms"), "{waited}");
    drop(silent);
}

#[tokio::test]
async fn unix_sockets_are_asked_like_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("engine.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    let endpoint = Endpoint::parse(&format!("unix://{}", socket.display())).unwrap();
    assert_eq!(get_text(&endpoint, "/base/text", &[], WITHIN).await.unwrap(), "plain");
}
