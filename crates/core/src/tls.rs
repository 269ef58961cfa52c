//! TLS with rustls (the `ring` provider), for receivers (`tls` on a protocol: server
//! certificate, optional client CA for mTLS, minimum version, reloading) and exporters (`tls`:
//! CA, client certificate, `insecure_skip_verify`, `server_name_override`), with the
//! Collector's option names.
//!
//! A receiver's certificates are read again every `reload_interval` when a file changed, and
//! the next handshakes use them: rotation needs no restart. Handshakes run beside the accept
//! loop, each bounded by [`HANDSHAKE_TIMEOUT`], so a client that opens a connection and says
//! nothing holds only its own connection.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use rustls::{
    ClientConfig, RootCertStore, ServerConfig,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject},
    server::WebPkiClientVerifier,
};
use serde::Deserialize;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// How long a client has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Completed handshakes waiting for the server to take them.
const ACCEPTED: usize = 64;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The TLS versions from `min_version` (`"1.2"`, default, or `"1.3"`).
fn versions(
    min_version: Option<&str>,
) -> io::Result<&'static [&'static rustls::SupportedProtocolVersion]> {
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY_13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min_version {
        None | Some("1.2") => Ok(&BOTH),
        Some("1.3") => Ok(&ONLY_13),
        Some(other) => {
            Err(invalid(format!("min_version {other:?}: weir supports \"1.2\" and \"1.3\"")))
        }
    }
}

fn certificates(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|c| c.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(invalid(format!("{}: no PEM certificate", path.display())));
    }
    Ok(certificates)
}

fn private_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

fn roots(path: &Path) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path)? {
        roots.add(certificate).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The operating system's trusted CAs (none where it has none; unreadable ones are skipped).
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    roots
}

/// `tls` on a receiver's protocol.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// `cert_file`: the server's certificate chain (PEM).
    pub cert_file: PathBuf,
    /// `key_file`: its private key (PEM).
    pub key_file: PathBuf,
    /// `client_ca_file`: require client certificates signed by these CAs (mTLS).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// `min_version`: `"1.2"` (default) or `"1.3"`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// `reload_interval`: how often to look for changed files (default 0: never).
    #[serde(default, with = "crate::duration")]
    pub reload_interval: Duration,
}

impl ServerTls {
    /// Every problem, as `(path below tls, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match versions(self.min_version.as_deref()) {
            Ok(_) => Vec::new(),
            Err(e) => vec![("min_version".into(), e.to_string())],
        }
    }

    fn files(&self) -> Vec<&Path> {
        let mut files = vec![self.cert_file.as_path(), self.key_file.as_path()];
        files.extend(self.client_ca_file.as_deref());
        files
    }

    /// A rustls server configuration from the files as they are now.
    pub fn server_config(&self) -> io::Result<ServerConfig> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(self.min_version.as_deref())?)
            .map_err(|e| invalid(e.to_string()))?;
        let builder = match &self.client_ca_file {
            Some(ca) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                        .build()
                        .map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certificates(&self.cert_file)?, private_key(&self.key_file)?)
            .map_err(|e| invalid(format!("{}: {e}", self.cert_file.display())))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// A server's TLS configuration, replaced when its files change.
#[derive(Clone)]
pub struct ReloadingServer {
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl ReloadingServer {
    /// Loads `tls` (failing now if a file is missing or wrong).
    pub fn new(tls: &ServerTls) -> io::Result<ReloadingServer> {
        let current = Arc::new(RwLock::new(Arc::new(tls.server_config()?)));
        Ok(ReloadingServer { current })
    }

    /// With a `reload_interval`, reloads `tls` on that period until `shutdown`.
    pub fn watch(&self, tls: &ServerTls, shutdown: CancellationToken) {
        if !tls.reload_interval.is_zero() {
            let (tls, server) = (tls.clone(), self.clone());
            tokio::spawn(async move { server.reload(tls, shutdown).await });
        }
    }

    async fn reload(self, tls: ServerTls, shutdown: CancellationToken) {
        let stamp = |tls: &ServerTls| -> Vec<Option<SystemTime>> {
            tls.files()
                .iter()
                .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                .collect()
        };
        let mut seen = stamp(&tls);
        let mut ticker = tokio::time::interval(tls.reload_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = stamp(&tls);
            if now == seen {
                continue;
            }
            match tls.server_config() {
                Ok(config) => {
                    *self.current.write().expect("not poisoned") = Arc::new(config);
                    seen = now;
                    tracing::info!(cert_file = %tls.cert_file.display(), "TLS certificates reloaded");
                }
                // a rotation caught half-written: keep the old ones and look again next time
                Err(error) => tracing::warn!(%error, "TLS certificates not reloaded"),
            }
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().expect("not poisoned").clone())
    }

    /// Accepts TCP connections on `listener` and completes their handshakes beside the accept
    /// loop; the connections that complete one in time arrive on the returned channel.
    pub fn incoming(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)> {
        let (sender, receiver) = mpsc::channel(ACCEPTED);
        let server = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = sender.closed() => return,
                    accepted = listener.accept() => accepted,
                };
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::debug!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, sender) = (server.acceptor(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = sender.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        receiver
    }
}

/// The options an exporter's `tls` gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientTlsOptions {
    /// `ca_file`: trust these CAs (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// `cert_file` and `key_file`: present this certificate (mTLS).
    pub cert_file: Option<PathBuf>,
    /// See `cert_file`.
    pub key_file: Option<PathBuf>,
    /// `insecure_skip_verify`: accept any server certificate.
    pub insecure_skip_verify: bool,
    /// `min_version`.
    pub min_version: Option<String>,
}

impl ClientTlsOptions {
    /// A rustls client configuration, speaking `alpn` (`h2` for gRPC).
    pub fn client_config(&self, alpn: &[&[u8]]) -> io::Result<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(self.min_version.as_deref())?)
            .map_err(|e| invalid(e.to_string()))?;
        let builder = if self.insecure_skip_verify {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
        } else {
            let roots = match &self.ca_file {
                Some(ca) => roots(ca)?,
                None => system_roots(),
            };
            builder.with_root_certificates(roots)
        };
        let mut config = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(certificates(cert)?, private_key(key)?)
                .map_err(|e| invalid(format!("{}: {e}", cert.display())))?,
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// `insecure_skip_verify`: any certificate is accepted (signatures are still checked, so the
/// handshake itself is sound).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
