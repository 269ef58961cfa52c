//! The `hostmetrics` receiver: the host's CPU, memory, load, network, paging, process and
//! disk figures every `collection_interval`, read from `/proc` (under `root_path` when the
//! host's file system is mounted into a container), with the Collector's options, metric
//! names, units and attributes, and its per-metric `metrics.<name>.enabled` toggles and
//! defaults. Scrapers built: `cpu`, `memory`, `load`, `network`, `paging`, `processes`, `disk`,
//! `filesystem`, `system` and `process` (`process.rs`).
//!
//! Each scrape is one batch: a resource per scraper (no resource attributes, as in the
//! Collector: add them with `resourcedetection`) whose scope names the scraper, and one per
//! process for `process`.

pub mod config;

mod process;
mod scrapers;
#[cfg(test)]
mod tests;

pub use config::{Config, Settings};

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use weir_core::{BoxFuture, Receiver, ReceiverError, ReceiverOutput};
use weir_otlp::{
    Batch,
    proto::{
        common::v1::InstrumentationScope,
        metrics::v1::{ResourceMetrics, ScopeMetrics},
        resource::v1::Resource,
    },
};

use crate::scrape::Scrape;
use config::Scraper;

/// The scope name of a scraper's metrics, as the Collector writes it.
fn scope_name(scraper: &str) -> String {
    format!(
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/{scraper}scraper"
    )
}

/// Reads a file under the root path; empty when it cannot be read (a scraper then reports
/// nothing rather than failing the others).
fn read(root: &str, path: &str) -> String {
    std::fs::read_to_string(format!("{root}{path}")).unwrap_or_default()
}

/// One scrape of every configured scraper, as a batch.
pub(crate) fn scrape(settings: &Settings, now: u64) -> Batch {
    let root = settings.root_path.as_str();
    let stat = read(root, "/proc/stat");
    let start = scrapers::boot_time(&stat).unwrap_or(0);
    let mut resources = Vec::new();
    for scraper in &settings.scrapers {
        if scraper.kind == Scraper::Process {
            resources.extend(processes(root, scraper, start, now));
            continue;
        }
        let enabled = scraper.enabled.clone();
        let mut scrape = Scrape {
            start,
            now,
            enabled: Box::new(move |m| enabled.enabled(m)),
            metrics: Vec::new(),
        };
        match scraper.kind {
            Scraper::Cpu => scrapers::cpu(&stat, &mut scrape),
            Scraper::Memory => scrapers::memory(&read(root, "/proc/meminfo"), &mut scrape),
            Scraper::Load => scrapers::load(
                &read(root, "/proc/loadavg"),
                scraper.cpu_average.then(|| logical_cpus(&stat)),
                &mut scrape,
            ),
            Scraper::Network => {
                let tcp = [read(root, "/proc/net/tcp"), read(root, "/proc/net/tcp6")];
                let tcp: Vec<&str> = tcp.iter().map(String::as_str).collect();
                scrapers::network(
                    &read(root, "/proc/net/dev"),
                    &tcp,
                    &|d| scraper.devices.selects(d),
                    &mut scrape,
                )
            }
            Scraper::Paging => scrapers::paging(
                &read(root, "/proc/swaps"),
                &read(root, "/proc/vmstat"),
                &mut scrape,
            ),
            Scraper::Processes => scrapers::processes(&stat, &mut scrape),
            Scraper::Disk => scrapers::disk(
                &read(root, "/proc/diskstats"),
                &|d| scraper.devices.selects(d),
                &mut scrape,
            ),
            Scraper::Filesystem => {
                let (mounts, filesystems) =
                    (read(root, "/proc/mounts"), read(root, "/proc/filesystems"));
                for mount in scrapers::mounts(&mounts, &filesystems, scraper.virtual_too) {
                    let selected = scraper.devices.selects(mount.device)
                        && scraper.fs_types.selects(mount.fs_type)
                        && scraper.mount_points.selects(mount.mountpoint);
                    if let (true, Some(space)) = (selected, statvfs(root, mount.mountpoint)) {
                        scrapers::filesystem(&mount, space, &mut scrape);
                    }
                }
            }
            Scraper::System => scrapers::system(&read(root, "/proc/uptime"), &mut scrape),
            Scraper::Process => unreachable!("scraped per process above"),
        }
        if scrape.metrics.is_empty() {
            continue;
        }
        resources.push(ResourceMetrics {
            resource: Some(Resource::default()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: scope_name(scraper.kind.name()),
                    ..Default::default()
                }),
                metrics: scrape.metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        });
    }
    Batch::from(resources)
}

/// One resource per process under the root path.
fn processes(
    root: &str,
    scraper: &config::ScraperSettings,
    boot: u64,
    now: u64,
) -> Vec<ResourceMetrics> {
    let memory = read(root, "/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse().ok())
        .map(|kib: u64| kib * 1024);
    let host = process::Host {
        boot,
        ticks: rustix::param::clock_ticks_per_second(),
        page: rustix::param::page_size() as u64,
        memory,
        users: process::users(&read(root, "/etc/passwd")),
    };
    process::pids(root)
        .into_iter()
        .filter_map(|pid| {
            let files = process::read_files(root, pid, &scraper.process)?;
            process::process(pid, &files, &host, scraper, now)
        })
        .collect()
}

/// `statvfs` of a mount point under the root path; `None` when it cannot be read (a mount
/// the process cannot see, a stale network mount).
fn statvfs(root: &str, mountpoint: &str) -> Option<scrapers::Space> {
    let s = rustix::fs::statvfs(format!("{root}{mountpoint}").as_str()).ok()?;
    Some(scrapers::Space {
        fragment: s.f_frsize,
        blocks: s.f_blocks,
        free: s.f_bfree,
        available: s.f_bavail,
        files: s.f_files,
        files_free: s.f_ffree,
    })
}

/// The logical CPUs listed in `/proc/stat`.
fn logical_cpus(stat: &str) -> usize {
    stat.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count().max(1)
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The running receiver.
pub struct HostMetrics {
    id: String,
    settings: Settings,
}

impl Receiver for HostMetrics {
    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let HostMetrics { id, settings } = *self;
            let timing = (settings.initial_delay, settings.collection_interval);
            crate::scrape::every(&id, timing, &output, &shutdown, || {
                std::future::ready(Ok(scrape(&settings, unix_nanos())))
            })
            .await;
            Ok(())
        })
    }
}
