//! `weir bench`: capacity planning for one pipeline configuration.
//!
//! Runs weir as a child process on the configuration, with its receiver on a free loopback
//! port and its `otlp`/`otlphttp` exporters pointed at a sink this command runs and counts;
//! drives [`crate::loadgen`] in open loop at increasing rates; and after each step reads
//! weir's CPU time and RSS from /proc, its refusals and drops from its self-metrics, and what
//! reached the sink. A step is sustainable when nothing was refused, dropped or left
//! undelivered, the achieved rate is at least 95 % of the offered one, and p99 latency is
//! under the bound. The last sustainable step is the knee.

pub mod report;
mod sink;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use weir_exporters::ExporterSettings;
use weir_receivers::ReceiverSettings;

use crate::{
    config::{self, Source},
    extensions::ExtensionSettings,
    loadgen,
};

/// `weir bench` options.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct Args {
    /// The configuration to measure.
    #[arg(long)]
    pub config: PathBuf,
    /// Items per second of the first step.
    #[arg(long, default_value_t = 20_000)]
    pub start_rate: u64,
    /// Each step offers this many times the rate of the one before.
    #[arg(long, default_value_t = 1.5)]
    pub step_factor: f64,
    /// The most steps to run (the run stops at the first unsustainable step).
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// How long each step sends.
    #[arg(long, default_value = "5s", value_parser = weir_core::duration::parse)]
    #[serde(serialize_with = "serialize_duration")]
    pub step_duration: Duration,
    /// The p99 request latency a sustainable step stays under, milliseconds.
    #[arg(long, default_value_t = 100.0)]
    pub p99_bound_ms: f64,
    /// Items per second the deployment must carry: the report sizes replicas for it.
    #[arg(long)]
    pub target_rate: Option<u64>,
    /// Spare capacity each replica keeps at the target rate (0.3 = run at 70 % of capacity).
    #[arg(long, default_value_t = 0.3)]
    pub headroom: f64,
    /// CPU cores each replica gets, for sizing.
    #[arg(long, default_value_t = 1.0)]
    pub cores_per_replica: f64,
    /// Where to write report.json, report.html and the plots.
    #[arg(long, default_value = "weir-bench-report")]
    pub report: PathBuf,
    /// The weir binary to run (default: this one).
    #[arg(long)]
    pub weir_binary: Option<PathBuf>,
    /// Pin weir to these CPUs (a `taskset -c` list such as `0` or `0-1`), and the bench's own
    /// load and sink to the others, so CPU figures are weir's alone.
    #[arg(long)]
    pub weir_cpus: Option<String>,
    /// Load shape and transport, as for `weir loadgen` (endpoint, rate and duration are set
    /// by the bench).
    #[command(flatten)]
    pub load: loadgen::Args,
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&weir_core::duration::format(*d))
}

/// One step's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Items per second offered.
    pub offered: f64,
    /// Items per second weir accepted.
    pub achieved: f64,
    /// Items that reached the sink during the step (and its drain).
    pub delivered: u64,
    /// Items loadgen had accepted.
    pub accepted: u64,
    /// Requests refused or failed.
    pub errors: u64,
    /// Items weir dropped (send failures, full queues, pipeline drops).
    pub dropped: f64,
    /// Request latency percentiles, ms.
    pub latency_ms: loadgen::Latency,
    /// weir's CPU use, in cores.
    pub cpu_cores: f64,
    /// CPU seconds per million items.
    pub cpu_seconds_per_million: f64,
    /// weir's resident set size at the end of the step, MiB.
    pub rss_mib: f64,
    /// Whether the step met every condition.
    pub sustainable: bool,
}

/// Replicas needed for `--target-rate`.
#[derive(Debug, Clone, Serialize)]
pub struct Sizing {
    /// The rate to carry.
    pub target_rate: u64,
    /// Spare capacity kept.
    pub headroom: f64,
    /// Replicas: the target over what one replica carries at `cores_per_replica` cores
    /// (items per core at the knee) less the headroom.
    pub replicas: u64,
    /// CPU cores per replica.
    pub cores_per_replica: f64,
    /// Memory to request per replica, MiB (RSS at the knee plus headroom).
    pub memory_mib_per_replica: f64,
    /// Whether a step failed: otherwise the last step was still sustainable and capacity may
    /// be higher than measured.
    pub knee_reached: bool,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The options.
    pub args: Args,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The last sustainable step, if any.
    pub knee: Option<usize>,
    /// Items per second per CPU core at the knee.
    pub items_per_core: Option<f64>,
    /// Items the sink counted over the whole run.
    pub sink_items: u64,
    /// Replica sizing, when a target rate was given.
    pub sizing: Option<Sizing>,
}

struct Weir {
    child: Child,
}

impl Weir {
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        // fields after ')' start at field 3; clock ticks are 100 per second on Linux
        (ticks(11) + ticks(12)) / 100.0
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

/// Moves this process (load generator and sink) off the CPUs given to weir.
fn pin_self_elsewhere(weir_cpus: &str) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taken =
        parse_cpu_list(weir_cpus).with_context(|| format!("invalid --weir-cpus {weir_cpus:?}"))?;
    let rest: Vec<String> =
        (0..cpus).filter(|c| !taken.contains(c)).map(|c| c.to_string()).collect();
    anyhow::ensure!(
        !rest.is_empty(),
        "--weir-cpus {weir_cpus} leaves no CPU for the load generator"
    );
    let status = Command::new("taskset")
        .args(["-a", "-c", "-p", &rest.join(",")])
        .arg(std::process::id().to_string())
        .stdout(Stdio::null())
        .status()
        .context("cannot run taskset (util-linux)")?;
    anyhow::ensure!(status.success(), "taskset failed to pin the bench process");
    Ok(())
}

/// A `taskset -c` list: `0`, `0-2`, `0,2`.
fn parse_cpu_list(list: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                cpus.extend(a.trim().parse::<usize>().ok()?..=b.trim().parse::<usize>().ok()?)
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn scrape(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
    port: u16,
) -> String {
    use http_body_util::BodyExt;
    let Ok(uri) = format!("http://127.0.0.1:{port}/metrics").parse::<http::Uri>() else {
        return String::new();
    };
    let Ok(response) = client.get(uri).await else { return String::new() };
    let Ok(body) = response.into_body().collect().await else { return String::new() };
    String::from_utf8_lossy(&body.to_bytes()).into_owned()
}

/// The sum of every sample on a Prometheus text page whose name starts with one of
/// `prefixes`.
fn sum_of(page: &str, prefixes: &[&str]) -> f64 {
    page.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The `--set` overrides that put the configuration's receiver, exporters and self-metrics
/// where the bench can reach them. Returns them with the receiver's address and protocol.
fn overrides(
    config: &config::Plan,
    sink: &sink::Sink,
    metrics_port: u16,
) -> anyhow::Result<(Vec<String>, String, loadgen::Protocol)> {
    // load goes to the first otlp receiver; others (scrapers) run beside it as configured
    let (id, otlp) = config
        .receivers
        .iter()
        .find_map(|(id, r)| match r {
            ReceiverSettings::Otlp(otlp) => Some((id, otlp)),
            _ => None,
        })
        .context("the bench offers load to an otlp receiver, and the configuration has none")?;
    let port = free_port()?;
    let (protocol, key) = if otlp.protocols.grpc.is_some() {
        (loadgen::Protocol::Grpc, "grpc")
    } else {
        (loadgen::Protocol::Http, "http")
    };
    let mut sets = vec![
        format!("receivers::{id}::protocols::{key}::endpoint=127.0.0.1:{port}"),
        format!("service::telemetry::metrics::address=127.0.0.1:{metrics_port}"),
        "service::telemetry::logs::level=warn".to_owned(),
    ];
    for (id, exporter) in &config.exporters {
        match exporter {
            ExporterSettings::Otlp(_) => {
                sets.push(format!("exporters::{id}::endpoint=http://{}", sink.grpc));
                sets.push(format!("exporters::{id}::tls::insecure=true"));
            }
            ExporterSettings::OtlpHttp(_) => {
                sets.push(format!("exporters::{id}::endpoint=http://{}", sink.http))
            }
            ExporterSettings::Prometheus(_) => {
                sets.push(format!("exporters::{id}::endpoint=127.0.0.1:{}", free_port()?))
            }
            ExporterSettings::PrometheusRemoteWrite(_) => {
                sets.push(format!("exporters::{id}::endpoint=http://{}/api/v1/write", sink.http))
            }
            // A ring of one backend, the sink: every routing step runs, on one endpoint.
            ExporterSettings::LoadBalancing(lb) => {
                sets.push(format!("exporters::{id}::protocol::otlp::tls::insecure=true"));
                if lb.resolver.dns.is_some() {
                    sets.push(format!(
                        "exporters::{id}::resolver::dns::hostname={}",
                        sink.grpc.ip()
                    ));
                    sets.push(format!("exporters::{id}::resolver::dns::port={}", sink.grpc.port()));
                } else {
                    sets.push(format!(
                        "exporters::{id}::resolver::static::hostnames=[{}]",
                        sink.grpc
                    ));
                }
            }
            ExporterSettings::Nop(_) | ExporterSettings::Debug(_) | ExporterSettings::File(_) => {}
        }
    }
    for (id, extension) in &config.extensions {
        match extension {
            ExtensionSettings::HealthCheck(_)
            | ExtensionSettings::ZPages(_)
            | ExtensionSettings::Pprof(_) => {
                sets.push(format!("extensions::{id}::endpoint=127.0.0.1:{}", free_port()?))
            }
            ExtensionSettings::FileStorage(_)
            | ExtensionSettings::BearerTokenAuth(_)
            | ExtensionSettings::BasicAuth(_)
            | ExtensionSettings::HeadersSetter(_) => {}
        }
    }
    Ok((sets, format!("127.0.0.1:{port}"), protocol))
}

/// Runs the bench and writes its report.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let loaded = config::load(&[Source::File(args.config.clone())], &[])?;
    let sink = sink::Sink::start().await?;
    let metrics_port = free_port()?;
    let (sets, endpoint, protocol) = overrides(&loaded.plan, &sink, metrics_port)?;
    let measures_delivery = loaded.plan.exporters.iter().any(|(_, e)| {
        matches!(
            e,
            ExporterSettings::Otlp(_)
                | ExporterSettings::OtlpHttp(_)
                | ExporterSettings::LoadBalancing(_)
        )
    });
    // Processors that read items may aggregate or drop them (the cardinality limiter's
    // overflow series) and send on fewer than they take: then delivery means that everything
    // exported reached the sink and no queue holds anything. Those that touch only resources
    // (resource, k8s_attributes, resource_detection) or batches keep every item.
    let reshapes = loaded.plan.processors.iter().any(|(_, p)| p.as_dyn().reads_items());
    std::fs::create_dir_all(&args.report)
        .with_context(|| format!("cannot create {}", args.report.display()))?;
    let binary = match &args.weir_binary {
        Some(binary) => binary.clone(),
        None => std::env::current_exe()?,
    };
    let log = std::fs::File::create(args.report.join("weir.log"))?;
    let mut command = match &args.weir_cpus {
        Some(cpus) => {
            pin_self_elsewhere(cpus)?;
            let mut taskset = Command::new("taskset");
            taskset.arg("-c").arg(cpus).arg(&binary);
            taskset
        }
        None => Command::new(&binary),
    };
    command.arg("run").arg("--config").arg(&args.config);
    for set in &sets {
        command.arg("--set").arg(set);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let weir = Weir { child };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&endpoint).await.is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "weir did not listen on {endpoint} within 30 s (see {})",
            args.report.join("weir.log").display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scraper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let dropped_of = |page: &str| {
        sum_of(
            page,
            &[
                "otelcol_exporter_send_failed",
                "otelcol_exporter_enqueue_failed",
                weir_core::telemetry::PIPELINE_DROPPED_ITEMS,
            ],
        )
    };

    let mut steps = Vec::new();
    let mut rate = args.start_rate as f64;
    for _ in 0..args.steps.max(1) {
        let mut load = args.load.clone();
        load.endpoint = endpoint.clone();
        load.protocol = protocol;
        load.rate = rate as u64;
        load.duration = args.step_duration;
        load.requests = 0;
        let before_page = scrape(&scraper, metrics_port).await;
        // what counts as delivered: the offered signal, unless the configuration reshapes it
        // (then whatever comes out); scraping receivers beside the load add other signals
        let offered = weir_otlp::Signal::from(args.load.signal);
        let delivered_now = || if reshapes { sink.items() } else { sink.items_of(offered) };
        let (cpu_before, sink_before, wall) = (weir.cpu_seconds(), delivered_now(), Instant::now());
        let result = loadgen::run(load).await?;
        // Let the pipeline drain what it accepted, up to two seconds.
        let drain_until = Instant::now() + Duration::from_secs(2);
        let mut last = (delivered_now(), Instant::now());
        while Instant::now() < drain_until {
            let items = delivered_now();
            if !reshapes && items - sink_before >= result.items_ok {
                break;
            }
            if items != last.0 {
                last = (items, Instant::now());
            } else if reshapes
                && last.1.elapsed() > Duration::from_millis(300)
                && sum_of(&scrape(&scraper, metrics_port).await, &["otelcol_exporter_queue_size"])
                    == 0.0
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = wall.elapsed().as_secs_f64();
        let cpu = weir.cpu_seconds() - cpu_before;
        let after_page = scrape(&scraper, metrics_port).await;
        let delivered = delivered_now() - sink_before;
        let errors: u64 = result.errors.values().sum();
        let dropped = dropped_of(&after_page) - dropped_of(&before_page);
        // Only otlp, otlphttp and loadbalancing exporters reach the sink; with others delivery
        // is not measured.
        let sent = |page: &str| sum_of(page, &["otelcol_exporter_sent_"]);
        let delivered_all = !measures_delivery
            || if reshapes {
                sum_of(&after_page, &["otelcol_exporter_queue_size"]) == 0.0
                    && delivered as f64 >= sent(&after_page) - sent(&before_page)
            } else {
                delivered >= result.items_ok
            };
        let sustainable = errors == 0
            && dropped == 0.0
            && delivered_all
            && result.items_per_second >= 0.95 * rate
            && result.latency_ms.p99 <= args.p99_bound_ms;
        let step = Step {
            offered: rate,
            achieved: result.items_per_second,
            delivered,
            accepted: result.items_ok,
            errors,
            dropped,
            latency_ms: result.latency_ms.clone(),
            cpu_cores: cpu / seconds,
            cpu_seconds_per_million: if result.items_ok > 0 {
                cpu / result.items_ok as f64 * 1e6
            } else {
                0.0
            },
            rss_mib: weir.rss_mib(),
            sustainable,
        };
        eprintln!("{}", report::step_line(&step));
        steps.push(step);
        if !sustainable {
            break;
        }
        rate *= args.step_factor.max(1.01);
    }
    drop(weir);
    let knee = steps.iter().rposition(|s| s.sustainable);
    let items_per_core = knee.map(|k| steps[k].achieved / steps[k].cpu_cores.max(1e-9));
    let sizing = match (args.target_rate, knee, items_per_core) {
        (Some(target), Some(k), Some(per_core)) => {
            let per_replica =
                per_core * args.cores_per_replica * (1.0 - args.headroom.clamp(0.0, 0.95));
            Some(Sizing {
                target_rate: target,
                headroom: args.headroom,
                replicas: (target as f64 / per_replica).ceil().max(1.0) as u64,
                cores_per_replica: args.cores_per_replica,
                memory_mib_per_replica: steps[k].rss_mib * (1.0 + args.headroom),
                knee_reached: steps.iter().any(|s| !s.sustainable),
            })
        }
        _ => None,
    };
    let report = Report { args, steps, knee, items_per_core, sink_items: sink.items(), sizing };
    report::write(&report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_as_taskset_writes_them() {
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_list("a"), None);
    }
}
