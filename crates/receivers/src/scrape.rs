//! Building the metrics of scraping receivers (`hostmetrics`, `kubelet_stats`): sums and gauges of OTLP data points, with the attributes,
//! start time and time of a scrape.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;
use weir_core::ReceiverOutput;
use weir_otlp::{
    Batch,
    attributes::kv,
    proto::{
        common::v1::KeyValue,
        metrics::v1::{Gauge, Metric, NumberDataPoint, Sum, metric, number_data_point},
    },
};

/// The HTTP(S) client of a scraping receiver.
pub(crate) type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// A client for `http://` and `https://` targets, trusting and presenting what `tls` says.
pub(crate) fn http_client(tls: &weir_core::tls::ClientTlsOptions) -> std::io::Result<HttpClient> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.client_config(&[])?)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector))
}

/// A number, integer or floating point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Double(f64),
}

/// The metrics of one scrape, as they are built.
pub(crate) struct Scrape {
    /// When the counters started (the host's boot time), for cumulative sums.
    pub(crate) start: u64,
    /// The time of the scrape.
    pub(crate) now: u64,
    /// The metrics enabled, by name.
    pub(crate) enabled: Box<dyn Fn(&str) -> bool + Send + Sync>,
    pub(crate) metrics: Vec<Metric>,
}

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A cumulative monotonic sum (a counter).
    Counter,
    /// A cumulative non-monotonic sum (an up-down counter: usage).
    UpDown,
    /// A gauge.
    Gauge,
}

impl Scrape {
    /// Adds a point to metric `name` (created on its first point), unless it is disabled.
    pub(crate) fn point(
        &mut self,
        (name, unit, description, kind): (&str, &str, &str, Kind),
        attributes: &[(&str, &str)],
        value: Number,
    ) {
        if !(self.enabled)(name) {
            return;
        }
        let point = NumberDataPoint {
            attributes: attributes.iter().map(|(k, v)| kv(k, v)).collect::<Vec<KeyValue>>(),
            start_time_unix_nano: match kind {
                Kind::Gauge => 0,
                Kind::Counter | Kind::UpDown => self.start,
            },
            time_unix_nano: self.now,
            value: Some(match value {
                Number::Int(i) => number_data_point::Value::AsInt(i),
                Number::Double(d) => number_data_point::Value::AsDouble(d),
            }),
            ..NumberDataPoint::default()
        };
        let i = match self.metrics.iter().position(|m| m.name == name) {
            Some(i) => i,
            None => {
                let data = match kind {
                    Kind::Gauge => metric::Data::Gauge(Gauge::default()),
                    Kind::Counter | Kind::UpDown => metric::Data::Sum(Sum {
                        data_points: Vec::new(),
                        aggregation_temporality: 2,
                        is_monotonic: matches!(kind, Kind::Counter),
                    }),
                };
                self.metrics.push(Metric {
                    name: name.to_owned(),
                    unit: unit.to_owned(),
                    description: description.to_owned(),
                    data: Some(data),
                    ..Metric::default()
                });
                self.metrics.len() - 1
            }
        };
        match &mut self.metrics[i].data {
            Some(metric::Data::Gauge(g)) => g.data_points.push(point),
            Some(metric::Data::Sum(s)) => s.data_points.push(point),
            _ => {}
        }
    }
}

/// Runs a scraping receiver: after `initial_delay`, `scrape` every `interval` until shutdown,
/// each batch handed to the pipelines (waiting at most one interval). A failed scrape or a
/// refused batch is logged and the next scrape goes on.
pub(crate) async fn every<F, Fut>(
    id: &str,
    (initial_delay, interval): (Duration, Duration),
    output: &ReceiverOutput,
    shutdown: &CancellationToken,
    mut scrape: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Batch, String>>,
{
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = tokio::time::sleep(initial_delay) => {}
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let batch = match scrape().await {
            Ok(batch) if batch.is_empty() => continue,
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(receiver = id, %error, "scrape failed");
                continue;
            }
        };
        if let Err(error) = output.send(batch, Instant::now() + interval).await {
            tracing::warn!(receiver = id, %error, "a scrape was not taken by the pipelines");
        }
    }
}
