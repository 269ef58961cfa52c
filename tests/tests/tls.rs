//! TLS and mTLS with certificates made in the test (rcgen): the handshake matrix (valid,
//! expired, wrong CA, missing or foreign client certificate), rotation picked up without a
//! restart, and data over TLS from weir's own exporters (gRPC with mTLS, HTTP over https).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_core::tls::ClientTlsOptions;
use weir_otlp::{Batch, Signal};
use weir_tests::Weir;

/// A CA that signs certificates into files.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { issuer: Issuer::new(params, key), pem }
    }

    /// Writes `<name>.pem` and `<name>.key` for `names`, valid now (or expired).
    fn sign(&self, dir: &Path, name: &str, expired: bool) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_file, key_file) =
            (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }

    fn file(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

fn gateway(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Weir {
    let client_ca = client_ca
        .map(|ca| format!("\n          client_ca_file: {}", ca.display()))
        .unwrap_or_default();
    let tls = format!(
        "tls:\n          cert_file: {}\n          key_file: {}\n          reload_interval: 100ms{client_ca}",
        cert.display(),
        key.display()
    );
    Weir::start_with(&format!(
        "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        {tls}
      http:
        endpoint: 127.0.0.1:0
        {tls}
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
"
    ))
}

/// Whether a client with `options` gets an HTTP/2 conversation from `weir`'s gRPC port: a
/// handshake, then the server's SETTINGS frame (with TLS 1.3 a refused client certificate
/// only shows when reading).
fn converses(weir: &Weir, options: &ClientTlsOptions) -> bool {
    let config = Arc::new(options.client_config(&[b"h2"]).unwrap());
    let addr = weir.grpc();
    weir.runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let Ok(mut tls) = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await else {
            return false;
        };
        if tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.is_err() {
            return false;
        }
        let mut frame = [0u8; 9];
        let read = tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut frame)).await;
        matches!(read, Ok(Ok(_))) && frame[3] == 0x4
    })
}

fn trusting(ca: &Path) -> ClientTlsOptions {
    ClientTlsOptions { ca_file: Some(ca.to_owned()), ..ClientTlsOptions::default() }
}

#[test]
fn the_handshake_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, other) = (Ca::new("weir test CA"), Ca::new("another CA"));
    let (ca_file, other_file) = (ca.file(dir.path(), "ca"), other.file(dir.path(), "other"));
    let (cert, key) = ca.sign(dir.path(), "server", false);
    let (expired_cert, expired_key) = ca.sign(dir.path(), "expired", true);

    let server = gateway(&cert, &key, None);
    assert!(converses(&server, &trusting(&ca_file)), "a valid certificate from a trusted CA");
    assert!(!converses(&server, &trusting(&other_file)), "a CA the client does not trust");
    let skip = ClientTlsOptions { insecure_skip_verify: true, ..ClientTlsOptions::default() };
    assert!(converses(&server, &skip), "insecure_skip_verify");
    server.stop();

    let expired = gateway(&expired_cert, &expired_key, None);
    assert!(!converses(&expired, &trusting(&ca_file)), "an expired certificate");
    expired.stop();

    // mTLS: the client must present a certificate from the client CA.
    let (client_cert, client_key) = ca.sign(dir.path(), "client", false);
    let (foreign_cert, foreign_key) = other.sign(dir.path(), "foreign", false);
    let mtls = gateway(&cert, &key, Some(&ca_file));
    let with = |cert: &Path, key: &Path| ClientTlsOptions {
        cert_file: Some(cert.to_owned()),
        key_file: Some(key.to_owned()),
        ..trusting(&ca_file)
    };
    assert!(converses(&mtls, &with(&client_cert, &client_key)), "a client certificate from the CA");
    assert!(!converses(&mtls, &trusting(&ca_file)), "no client certificate");
    assert!(
        !converses(&mtls, &with(&foreign_cert, &foreign_key)),
        "a client certificate from another CA"
    );
    mtls.stop();
}

#[test]
fn a_rotated_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (Ca::new("old CA"), Ca::new("new CA"));
    let (old_file, new_file) = (old_ca.file(dir.path(), "old"), new_ca.file(dir.path(), "new"));
    let (cert, key) = old_ca.sign(dir.path(), "server", false);
    let weir = gateway(&cert, &key, None);
    assert!(converses(&weir, &trusting(&old_file)));
    assert!(!converses(&weir, &trusting(&new_file)));

    // Rotate: the same paths now hold a certificate from the new CA.
    let (rotated_cert, rotated_key) = new_ca.sign(dir.path(), "rotated", false);
    std::fs::copy(&rotated_key, &key).unwrap();
    std::fs::copy(&rotated_cert, &cert).unwrap();
    assert!(
        weir_tests::wait_until(Duration::from_secs(5), || converses(&weir, &trusting(&new_file))),
        "the rotated certificate is served within 5 s"
    );
    assert!(!converses(&weir, &trusting(&old_file)), "the old one is no longer served");
    weir.stop();
}

#[test]
fn weir_exporters_send_over_tls_and_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("weir test CA");
    let ca_file = ca.file(dir.path(), "ca");
    let (cert, key) = ca.sign(dir.path(), "server", false);
    let (client_cert, client_key) = ca.sign(dir.path(), "client", false);
    let gateway = gateway(&cert, &key, Some(&ca_file));
    let tls = format!(
        "tls: {{ca_file: {}, cert_file: {}, key_file: {}}}",
        ca_file.display(),
        client_cert.display(),
        client_key.display()
    );
    let agent = Weir::start_with(&format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp:
    endpoint: localhost:{}
    {tls}
  otlphttp:
    endpoint: https://127.0.0.1:{}
    {tls}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp, otlphttp]
",
        gateway.grpc().port(),
        gateway.http().port()
    ));
    let mut generator = weir::loadgen::shape::Generator::new(Default::default(), 5);
    let batch = generator.next(Signal::Traces, 50);
    assert_eq!(agent.post(&batch), 200);
    agent.stop();
    let spans: usize = gateway.stop().iter().map(Batch::item_count).sum();
    assert_eq!(spans, 100, "50 spans over gRPC with mTLS and 50 over https");
}
