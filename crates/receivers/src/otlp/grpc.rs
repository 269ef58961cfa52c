//! gRPC receivers on tonic: OTLP's three export services, or Jaeger's `PostSpans`.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    Request, Response, Status,
    codec::{CompressionEncoding, EnabledCompressionEncodings},
    codegen::{Body, BoxFuture, StdError},
    server::{NamedService, UnaryService},
    service::interceptor::InterceptedService,
};
use tonic_types::StatusExt;
use weir_otlp::{Batch, Signal, grpc::RawCodec};

use weir_core::Metadata;

use crate::intake::{Intake, Refusal};

#[derive(Clone)]
struct Service(Arc<Intake>);

/// The attributes of the client the interceptor authenticated.
#[derive(Clone)]
struct Authenticated(Vec<(String, String)>);

impl Service {
    fn metadata<T>(&self, request: &Request<T>) -> Metadata {
        let authenticated = request.extensions().get::<Authenticated>().map(|a| a.0.clone());
        let peer = request.remote_addr();
        self.0.metadata(request.metadata().as_ref(), authenticated.unwrap_or_default(), peer)
    }

    /// Checks credentials before the message is decoded: UNAUTHENTICATED with no detail.
    #[allow(clippy::result_large_err)]
    fn authenticate(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let headers = request.metadata().clone().into_headers();
        let attributes = self
            .0
            .authenticate(&headers)
            .map_err(|()| Status::unauthenticated("unauthenticated"))?;
        request.extensions_mut().insert(Authenticated(attributes));
        Ok(request)
    }

    async fn accept(
        &self,
        batch: Batch,
        metadata: Metadata,
        deadline: Option<Instant>,
    ) -> Result<(), Status> {
        self.0.accept(batch, metadata, deadline).await.map_err(|refusal| match refusal {
            Refusal::Invalid(message) => Status::invalid_argument(message),
            Refusal::Unavailable(message) => Status::unavailable(message),
            Refusal::Unsupported(signal) => {
                Status::unimplemented(format!("this receiver feeds no {signal} pipeline"))
            }
            Refusal::Exhausted(message, retry_after) => Status::with_error_details(
                tonic::Code::ResourceExhausted,
                message,
                tonic_types::ErrorDetails::with_retry_info(Some(retry_after)),
            ),
        })
    }
}

/// How long to wait for room in the pipelines under the client's `grpc-timeout` (gRPC over
/// HTTP/2, "Timeout"): a fifth less than the timeout (at most a second less). tonic itself
/// cancels the call at the deadline, counted from before the request was decoded, and the
/// client should hear UNAVAILABLE (retry later) rather than a cancellation that says nothing.
fn deadline<T>(request: &Request<T>) -> Option<Instant> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    let margin = (timeout / 5).min(Duration::from_secs(1));
    Instant::now().checked_add(timeout.saturating_sub(margin))
}

/// A unary export method served from the request's raw bytes (as they came: decompressed,
/// within the size limit) and answered with an empty message: OTLP's three export services and
/// Jaeger's `PostSpans`.
pub(crate) trait Export: Clone + Send + Sync + 'static {
    /// The gRPC service's full name.
    const NAME: &'static str;
    /// The method's path.
    const PATH: &'static str;
    /// The signal it carries.
    const SIGNAL: Signal;
    /// The request as a batch, or why it is invalid.
    fn batch(intake: &Intake, bytes: Bytes) -> Result<Batch, String>;
}

/// OTLP's export service of `SIGNAL` (an index into [`Signal::ALL`]): the request is walked,
/// not decoded, unless a pipeline reads the items.
#[derive(Clone)]
pub(crate) struct Otlp<const SIGNAL: usize>;

/// The gRPC service names of the export services, in [`Signal::ALL`]'s order.
const SERVICE_NAMES: [&str; 3] = [
    "opentelemetry.proto.collector.trace.v1.TraceService",
    "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "opentelemetry.proto.collector.logs.v1.LogsService",
];

/// The export methods' paths, in [`Signal::ALL`]'s order.
const EXPORT_PATHS: [&str; 3] = [
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
];

impl<const SIGNAL: usize> Export for Otlp<SIGNAL> {
    const NAME: &'static str = SERVICE_NAMES[SIGNAL];
    const PATH: &'static str = EXPORT_PATHS[SIGNAL];
    const SIGNAL: Signal = Signal::ALL[SIGNAL];

    fn batch(intake: &Intake, bytes: Bytes) -> Result<Batch, String> {
        intake.protobuf(Self::SIGNAL, bytes)
    }
}

/// One export service on tonic.
#[derive(Clone)]
struct ExportServer<E> {
    service: Service,
    max_message_size: usize,
    /// The request encodings accepted: gzip, zstd and deflate.
    accept: EnabledCompressionEncodings,
    export: std::marker::PhantomData<E>,
}

impl<E: Export> ExportServer<E> {
    fn new(service: Service, max_message_size: usize) -> Self {
        let mut accept = EnabledCompressionEncodings::default();
        for encoding in
            [CompressionEncoding::Gzip, CompressionEncoding::Zstd, CompressionEncoding::Deflate]
        {
            accept.enable(encoding);
        }
        ExportServer { service, max_message_size, accept, export: std::marker::PhantomData }
    }
}

impl<E: Export> NamedService for ExportServer<E> {
    const NAME: &'static str = E::NAME;
}

impl<E: Export, B> tower::Service<http::Request<B>> for ExportServer<E>
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != E::PATH {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let mut grpc = tonic::server::Grpc::new(RawCodec)
            .apply_compression_config(self.accept, EnabledCompressionEncodings::default())
            .apply_max_message_size_config(Some(self.max_message_size), None);
        let call = Call::<E> { service: self.service.clone(), export: std::marker::PhantomData };
        Box::pin(async move { Ok(grpc.unary(call, request).await) })
    }
}

/// One export call: the request's bytes in, the empty response out.
struct Call<E> {
    service: Service,
    export: std::marker::PhantomData<E>,
}

impl<E: Export> UnaryService<Bytes> for Call<E> {
    type Response = Vec<Bytes>;
    type Future = BoxFuture<Response<Vec<Bytes>>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let service = self.service.clone();
        Box::pin(async move {
            let deadline = deadline(&request);
            let metadata = service.metadata(&request);
            let batch = E::batch(&service.0, request.into_inner());
            let batch = batch.map_err(Status::invalid_argument)?;
            service.accept(batch, metadata, deadline).await?;
            Ok(Response::new(Vec::new()))
        })
    }
}

/// The services a gRPC server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Services {
    /// OTLP's export services, of the signals some pipeline takes.
    Otlp,
    /// Jaeger's `CollectorService`.
    Jaeger,
}

/// Serves OTLP/gRPC on `listener` until `shutdown`, then finishes requests in flight.
/// Only the services of signals that some pipeline takes are registered; the others answer
/// UNIMPLEMENTED.
pub(crate) async fn serve(
    listener: Result<(crate::tls::Incoming, std::net::SocketAddr), TcpListener>,
    intake: Intake,
    config: &super::config::Grpc,
    shutdown: CancellationToken,
    services: Services,
) -> Result<(), tonic::transport::Error> {
    let max_message_size = config.max_recv_msg_size();
    let max_concurrent_streams = config.max_concurrent_streams;
    let keepalive = &config.keepalive.server_parameters;
    let nonzero = |d: std::time::Duration| (!d.is_zero()).then_some(d);
    let intake = Arc::new(intake);
    let service = Service(intake.clone());
    let accepts = |signal| service.0.accepts(signal);
    let check = {
        let service = service.clone();
        move |request| service.authenticate(request)
    };
    let otlp = services == Services::Otlp;
    let traces = (otlp && accepts(Signal::Traces)).then(|| {
        InterceptedService::new(
            ExportServer::<Otlp<0>>::new(service.clone(), max_message_size),
            check.clone(),
        )
    });
    let metrics = (otlp && accepts(Signal::Metrics)).then(|| {
        InterceptedService::new(
            ExportServer::<Otlp<1>>::new(service.clone(), max_message_size),
            check.clone(),
        )
    });
    let logs = (otlp && accepts(Signal::Logs)).then(|| {
        InterceptedService::new(
            ExportServer::<Otlp<2>>::new(service.clone(), max_message_size),
            check.clone(),
        )
    });
    let jaeger = (services == Services::Jaeger).then(|| {
        InterceptedService::new(
            ExportServer::<crate::jaeger::PostSpans>::new(service.clone(), max_message_size),
            check.clone(),
        )
    });
    let mut server = tonic::transport::Server::builder()
        .http2_keepalive_interval(nonzero(keepalive.time))
        .http2_keepalive_timeout(nonzero(keepalive.timeout));
    if let Some(age) = nonzero(keepalive.max_connection_age) {
        server = server.max_connection_age(age);
    }
    if let Some(grace) = nonzero(keepalive.max_connection_age_grace) {
        server = server.max_connection_age_grace(grace);
    }
    let router = server
        .http2_max_header_list_size(Some(crate::http_server::MAX_HEADER_BYTES as u32))
        .max_concurrent_streams((max_concurrent_streams > 0).then_some(max_concurrent_streams))
        .layer(tower::util::MapResponseLayer::new(bad_request_statuses))
        .add_optional_service(traces)
        .add_optional_service(metrics)
        .add_optional_service(logs)
        .add_optional_service(jaeger);
    let stopping = shutdown.clone();
    let served = async {
        match listener {
            Ok((incoming, _)) => {
                let incoming = crate::tls::stream(incoming);
                router.serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()).await
            }
            Err(listener) => {
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                router.serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()).await
            }
        }
    };
    // Requests in flight finish within their wait for the pipelines; a connection that says
    // nothing does not hold shutdown longer than that.
    let cut_off = async move {
        stopping.cancelled().await;
        tokio::time::sleep(crate::intake::DEFAULT_WAIT).await;
    };
    let result = tokio::select! {
        served = served => served,
        () = cut_off => Ok(()),
    };
    intake.close();
    result
}

/// Statuses tonic gives to bad requests before a handler runs, in the words of the OTLP
/// specification and of the Collector: a message over the size limit is RESOURCE_EXHAUSTED
/// (tonic says OUT_OF_RANGE, which OTLP clients retry), and a message that does not decode or
/// decompress is INVALID_ARGUMENT (tonic says INTERNAL). Neither code comes from weir's own
/// handlers. Such errors are sent trailers-only, so the status is in the response headers.
fn bad_request_statuses(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers_mut();
    let replacement = match headers.get("grpc-status").map(http::HeaderValue::as_bytes) {
        Some(b"11") => "8",
        Some(b"13") => "3",
        _ => return response,
    };
    headers.insert("grpc-status", http::HeaderValue::from_static(replacement));
    response
}

/// A gRPC transport bound: its socket, options and security.
pub(crate) type BoundGrpc = (TcpListener, super::config::Grpc, crate::listen::Security);

/// Binds a gRPC transport with its kernel buffers, authenticator and TLS.
pub(crate) async fn bind(
    id: &str,
    grpc: &super::config::Grpc,
    auth: &weir_core::auth::Authenticators,
) -> std::io::Result<BoundGrpc> {
    let security = crate::listen::Security::new(grpc.auth.as_ref(), grpc.tls.as_ref(), auth)?;
    let buffers =
        crate::listen::Buffers { read: grpc.read_buffer_size, write: grpc.write_buffer_size };
    let listener = crate::listen::bind(&grpc.endpoint, id, "grpc", buffers).await?;
    Ok((listener, grpc.clone(), security))
}

/// Serves `services` on a bound transport, in a task of its own, until `shutdown`.
pub(crate) fn spawn(
    id: &str,
    (listener, config, security): BoundGrpc,
    output: weir_core::ReceiverOutput,
    services: Services,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), String>> {
    let intake = Intake::new(id, "grpc", output, config.include_metadata, security.auth.clone());
    tokio::spawn(async move {
        let listener = security.accept(listener, &shutdown);
        serve(listener, intake, &config, shutdown, services).await.map_err(|e| e.to_string())
    })
}
