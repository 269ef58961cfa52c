//! `weir loadgen`: an OTLP load generator.
//!
//! Requests are built before the clock starts (a ring of `--prebuilt` distinct requests per
//! worker, encoded and compressed once), so sending costs little more than the transport.
//! Open loop (`--rate N`): each worker sends on a fixed schedule and measures latency from the
//! *scheduled* send time when it runs behind (from its wake-up when it was on time), so a slow
//! server shows up as latency rather than as fewer requests (no coordinated omission). Closed loop (`--rate 0`): each worker sends as fast as answers
//! come back.

pub mod shape;
mod transport;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::Serialize;
use weir_otlp::Signal;

use self::{shape::Shape, transport::Client};

/// The signal to send, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalArg {
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
    /// Log records.
    Logs,
}

impl From<SignalArg> for Signal {
    fn from(signal: SignalArg) -> Signal {
        match signal {
            SignalArg::Traces => Signal::Traces,
            SignalArg::Metrics => Signal::Metrics,
            SignalArg::Logs => Signal::Logs,
        }
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
}

/// Body encoding (HTTP only; gRPC is always protobuf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Protobuf.
    Proto,
    /// OTLP/JSON.
    Json,
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
    /// None.
    None,
}

/// Report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A human-readable summary.
    Text,
    /// One JSON object.
    Json,
}

/// `weir loadgen` options.
#[derive(Debug, Clone, clap::Args, Serialize)]
#[group(id = "load")]
pub struct Args {
    /// What to send.
    #[arg(long, value_enum, default_value_t = SignalArg::Traces)]
    pub signal: SignalArg,
    /// `host:port` of the OTLP receiver.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub endpoint: String,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    pub protocol: Protocol,
    /// Body encoding for HTTP.
    #[arg(long, value_enum, default_value_t = Encoding::Proto)]
    pub encoding: Encoding,
    /// Request compression.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Items per second over all workers; 0 sends as fast as answers come (closed loop).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// How long to send, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Duration,
    /// Stop after this many requests in all (0: no limit; the duration still applies).
    #[arg(long, default_value_t = 0)]
    pub requests: u64,
    /// Concurrent senders.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Items per request (spans are rounded up to whole traces).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Distinct requests each worker builds before sending and then cycles through; 0 builds
    /// every request afresh (every id unique, slower).
    #[arg(long, default_value_t = 16)]
    pub prebuilt: usize,
    /// Seed of the generated telemetry.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    #[serde(skip)]
    pub output: Output,
    /// The shape of the telemetry.
    #[command(flatten)]
    pub shape: Shape,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    weir_core::duration::parse(text)
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&weir_core::duration::format(*d))
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    fn of(mut micros: Vec<u64>) -> Latency {
        if micros.is_empty() {
            return Latency::default();
        }
        micros.sort_unstable();
        let at = |q: f64| {
            micros[((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1] as f64
                / 1000.0
        };
        Latency {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: *micros.last().unwrap() as f64 / 1000.0,
        }
    }
}

/// What a run achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The options of the run.
    pub args: Args,
    /// Requests answered with success.
    pub requests_ok: u64,
    /// Items in those requests.
    pub items_ok: u64,
    /// Requests that failed, by status (`grpc:14`, `http:503`, `transport`).
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Items accepted per second.
    pub items_per_second: f64,
    /// Items per second asked for (0: closed loop).
    pub offered_items_per_second: f64,
    /// Request latency (from the scheduled send time in open loop).
    pub latency_ms: Latency,
}

impl Report {
    /// A human-readable summary.
    pub fn text(&self) -> String {
        let errors: u64 = self.errors.values().sum();
        let mut out = format!(
            "{} {:?} over {:?}: {} requests ({} items) accepted in {:.2}s = {:.0} items/s{}\n",
            Signal::from(self.args.signal),
            self.args.protocol,
            self.args.endpoint,
            self.requests_ok,
            self.items_ok,
            self.seconds,
            self.items_per_second,
            if self.offered_items_per_second > 0.0 {
                format!(" (offered {:.0})", self.offered_items_per_second)
            } else {
                " (closed loop)".into()
            },
        );
        let l = &self.latency_ms;
        out.push_str(&format!(
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}\n",
            l.p50, l.p90, l.p99, l.p999, l.max
        ));
        out.push_str(&format!("errors: {errors}"));
        for (status, count) in &self.errors {
            out.push_str(&format!("  {status}: {count}"));
        }
        out.push('\n');
        out
    }
}

/// Prebuilt request bodies and the items each holds.
fn prebuild(args: &Args, worker: usize) -> Vec<(Bytes, u64)> {
    let mut generator =
        shape::Generator::new(args.shape.clone(), args.seed.wrapping_add(worker as u64 * 7919));
    let count = args.prebuilt.max(1);
    (0..count)
        .map(|_| {
            let batch = generator.next(args.signal.into(), args.batch_size.max(1));
            let items = batch.item_count() as u64;
            (transport::body(args, &batch), items)
        })
        .collect()
}

struct WorkerResult {
    requests_ok: u64,
    items_ok: u64,
    errors: BTreeMap<String, u64>,
    latencies: Vec<u64>,
}

/// Runs the load and reports what it achieved.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let client = Client::new(&args)?;
    let workers = args.workers.max(1);
    let mut rings: Vec<Vec<(Bytes, u64)>> = Vec::new();
    if args.prebuilt > 0 {
        for worker in 0..workers {
            rings.push(prebuild(&args, worker));
        }
    }
    let items_per_request = match rings.first() {
        Some(ring) => ring.iter().map(|(_, n)| *n).sum::<u64>() as f64 / ring.len() as f64,
        None => args.batch_size as f64,
    };
    // Per worker: the interval between scheduled sends, in open loop.
    let interval = (args.rate > 0).then(|| {
        let requests_per_second = args.rate as f64 / items_per_request / workers as f64;
        Duration::from_secs_f64(1.0 / requests_per_second)
    });
    let requests_per_worker = (args.requests > 0).then(|| args.requests.div_ceil(workers as u64));
    let start = Instant::now();
    let deadline = start + args.duration;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let client = client.clone();
        let ring = rings.get(worker).cloned();
        let args = args.clone();
        let limit = requests_per_worker.map(|n| {
            if worker as u64 == workers as u64 - 1 {
                args.requests - n * (workers as u64 - 1)
            } else {
                n
            }
        });
        tasks.push(tokio::spawn(async move {
            let mut generator = shape::Generator::new(
                args.shape.clone(),
                args.seed.wrapping_add(worker as u64 * 7919),
            );
            let mut result = WorkerResult {
                requests_ok: 0,
                items_ok: 0,
                errors: BTreeMap::new(),
                latencies: Vec::new(),
            };
            let mut sent = 0u64;
            loop {
                if limit.is_some_and(|limit| sent >= limit) {
                    break;
                }
                let scheduled = match interval {
                    Some(interval) => start + interval.mul_f64(sent as f64),
                    None => Instant::now(),
                };
                if scheduled >= deadline {
                    break;
                }
                // the request is built before its time comes: building it is not the server's
                let (body, items) = match &ring {
                    Some(ring) => ring[(sent % ring.len() as u64) as usize].clone(),
                    None => {
                        let batch = generator.next(args.signal.into(), args.batch_size.max(1));
                        let items = batch.item_count() as u64;
                        (transport::body(&args, &batch), items)
                    }
                };
                // Latency counts from the scheduled time when the worker is behind (waiting on
                // the server delayed it: coordinated omission), and from the wake-up when it
                // slept: the timer's lateness (up to its 1 ms tick) is not the server's.
                let from = if scheduled > Instant::now() {
                    tokio::time::sleep_until(scheduled.into()).await;
                    Instant::now()
                } else {
                    scheduled
                };
                sent += 1;
                match client.send(body).await {
                    Ok(()) => {
                        result.requests_ok += 1;
                        result.items_ok += items;
                    }
                    Err(status) => *result.errors.entry(status).or_default() += 1,
                }
                result.latencies.push(from.elapsed().as_micros() as u64);
            }
            result
        }));
    }
    let mut requests_ok = 0;
    let mut items_ok = 0;
    let mut errors = BTreeMap::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let result = task.await?;
        requests_ok += result.requests_ok;
        items_ok += result.items_ok;
        for (status, count) in result.errors {
            *errors.entry(status).or_default() += count;
        }
        latencies.extend(result.latencies);
    }
    // An open-loop run lasts its duration even when the last answer came earlier.
    let mut seconds = start.elapsed().as_secs_f64();
    if args.rate > 0 && args.requests == 0 {
        seconds = seconds.max(args.duration.as_secs_f64());
    }
    Ok(Report {
        requests_ok,
        items_ok,
        errors,
        seconds,
        items_per_second: items_ok as f64 / seconds,
        offered_items_per_second: args.rate as f64,
        latency_ms: Latency::of(latencies),
        args,
    })
}

#[cfg(test)]
mod tests;
