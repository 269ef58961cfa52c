//! The `process` scraper: one resource per process, named by the Collector's resource
//! attributes (`process.pid`, `process.parent_pid`, `process.executable.name`,
//! `process.executable.path`, `process.command`, `process.command_line`, `process.owner`, and
//! `process.cgroup` when enabled), with its CPU time, memory, disk IO and, when enabled, its
//! threads, file descriptors, page faults, context switches, pending signals and uptime, read
//! from `/proc/<pid>/`. Cumulative sums start when the process started.
//!
//! A process that ends between the listing and the reading is skipped; what cannot be read
//! for another reason (another user's `/proc/<pid>/io` or `exe` without the privilege) is
//! logged unless its `mute_process_*_error` option is set, and the rest of the process's
//! figures are still written.

use std::collections::HashMap;

use weir_otlp::{
    attributes::{kv, kv_value},
    proto::{
        common::v1::{InstrumentationScope, any_value::Value},
        metrics::v1::{ResourceMetrics, ScopeMetrics},
        resource::v1::Resource,
    },
};

use super::config::{ProcessOptions, ScraperSettings};
use crate::scrape::{Kind, Number, Scrape};

/// What every process's figures are read against.
pub(crate) struct Host {
    /// Boot time, in nanoseconds since the epoch.
    pub(crate) boot: u64,
    /// Clock ticks per second (`/proc/<pid>/stat` counts CPU time in them).
    pub(crate) ticks: u64,
    /// Bytes per page (`rss` counts pages).
    pub(crate) page: u64,
    /// `MemTotal`, in bytes, for `process.memory.utilization`.
    pub(crate) memory: Option<u64>,
    /// User names by uid, from `/etc/passwd`.
    pub(crate) users: HashMap<u32, String>,
}

/// User names by uid, from the text of `/etc/passwd`.
pub(crate) fn users(passwd: &str) -> HashMap<u32, String> {
    passwd
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((uid, name.to_owned()))
        })
        .collect()
}

/// What one process's files say (each `None` when it could not be read).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Files {
    pub(crate) stat: String,
    pub(crate) status: String,
    pub(crate) cmdline: Option<Vec<u8>>,
    pub(crate) exe: Option<String>,
    pub(crate) io: Option<String>,
    pub(crate) cgroup: Option<String>,
    pub(crate) fds: Option<usize>,
}

/// The fields of `/proc/<pid>/stat` after the command name, numbered from the state (field 3).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).map(str::trim)
}

fn io_field(io: &str, key: &str) -> Option<i64> {
    io.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.trim().parse().ok())
}

/// The resource and metrics of process `pid`, or `None` when it is not selected (by
/// `include`/`exclude` on its executable name) or its name cannot be read.
pub(crate) fn process(
    pid: u32,
    files: &Files,
    host: &Host,
    scraper: &ScraperSettings,
    now: u64,
) -> Option<ResourceMetrics> {
    let options = &scraper.process;
    let name = status_field(&files.status, "Name")?;
    if !scraper.devices.selects(name) {
        return None;
    }
    let fields = stat_fields(&files.stat)?;
    let number = |field: usize| -> Option<u64> { fields.get(field - 3)?.parse().ok() };
    let ticks = host.ticks.max(1) as f64;
    let started_ticks = number(22).unwrap_or(0);
    let started = host.boot + started_ticks * 1_000_000_000 / host.ticks.max(1);
    if now.saturating_sub(started) < options.delay {
        return None;
    }
    let mut attributes = vec![kv_value("process.pid", Value::IntValue(pid.into()))];
    let wants = |name: &str| options.attributes.enabled(name);
    if wants("process.parent_pid")
        && let Some(parent) = number(4)
    {
        attributes.push(kv_value("process.parent_pid", Value::IntValue(parent as i64)));
    }
    if wants("process.executable.name") {
        attributes.push(kv("process.executable.name", name));
    }
    if wants("process.executable.path")
        && let Some(exe) = &files.exe
    {
        attributes.push(kv("process.executable.path", exe));
    }
    let args: Vec<String> = files
        .cmdline
        .iter()
        .flat_map(|c| c.split(|b| *b == 0))
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if wants("process.command")
        && let Some(command) = args.first()
    {
        attributes.push(kv("process.command", command));
    }
    if wants("process.command_line") && !args.is_empty() {
        attributes.push(kv("process.command_line", &args.join(" ")));
    }
    let uid =
        status_field(&files.status, "Uid").and_then(|u| u.split_whitespace().next()?.parse().ok());
    if wants("process.owner") {
        match uid.and_then(|u: u32| host.users.get(&u)) {
            Some(owner) => attributes.push(kv("process.owner", owner)),
            None if !options.mute_user => {
                tracing::debug!(pid, ?uid, "no user name for the process's owner");
            }
            None => {}
        }
    }
    if wants("process.cgroup")
        && let Some(cgroup) = &files.cgroup
    {
        attributes.push(kv("process.cgroup", cgroup.trim_end()));
    }

    let enabled = scraper.enabled.clone();
    let mut scrape = Scrape {
        start: started,
        now,
        enabled: Box::new(move |m| enabled.enabled(m)),
        metrics: Vec::new(),
    };
    const CPU_TIME: (&str, &str, &str, Kind) = (
        "process.cpu.time",
        "s",
        "Total CPU seconds broken down by different states.",
        Kind::Counter,
    );
    for (state, field) in [("user", 14), ("system", 15), ("wait", 42)] {
        if let Some(t) = number(field) {
            scrape.point(CPU_TIME, &[("state", state)], Number::Double(t as f64 / ticks));
        }
    }
    let rss = number(24).map(|pages| pages * host.page);
    if let Some(rss) = rss {
        let usage =
            ("process.memory.usage", "By", "The amount of physical memory in use.", Kind::UpDown);
        scrape.point(usage, &[], Number::Int(rss as i64));
        if let Some(total) = host.memory.filter(|t| *t > 0) {
            let utilization = (
                "process.memory.utilization",
                "1",
                "Percentage of total physical memory that is used by the process.",
                Kind::Gauge,
            );
            scrape.point(utilization, &[], Number::Double(rss as f64 / total as f64));
        }
    }
    if let Some(virtual_bytes) = number(23) {
        let virtual_memory = ("process.memory.virtual", "By", "Virtual memory size.", Kind::UpDown);
        scrape.point(virtual_memory, &[], Number::Int(virtual_bytes as i64));
    }
    match &files.io {
        Some(io) => {
            let disk_io = ("process.disk.io", "By", "Disk bytes transferred.", Kind::Counter);
            let operations = (
                "process.disk.operations",
                "{operations}",
                "Number of disk operations performed by the process.",
                Kind::Counter,
            );
            for (direction, bytes, calls) in
                [("read", "read_bytes", "syscr"), ("write", "write_bytes", "syscw")]
            {
                if let Some(b) = io_field(io, bytes) {
                    scrape.point(disk_io, &[("direction", direction)], Number::Int(b));
                }
                if let Some(c) = io_field(io, calls) {
                    scrape.point(operations, &[("direction", direction)], Number::Int(c));
                }
            }
        }
        None if !options.mute_io => {
            tracing::debug!(
                pid,
                process = name,
                "cannot read /proc/{pid}/io: no process.disk.io for it"
            );
        }
        None => {}
    }
    if let Some(threads) = number(20) {
        let t = ("process.threads", "{threads}", "Process threads count.", Kind::UpDown);
        scrape.point(t, &[], Number::Int(threads as i64));
    }
    if let Some(fds) = files.fds {
        let f = (
            "process.open_file_descriptors",
            "{count}",
            "Number of file descriptors in use by the process.",
            Kind::UpDown,
        );
        scrape.point(f, &[], Number::Int(fds as i64));
    }
    let faults = (
        "process.paging.faults",
        "{faults}",
        "Number of page faults the process has made.",
        Kind::Counter,
    );
    for (kind, field) in [("minor", 10), ("major", 12)] {
        if let Some(n) = number(field) {
            scrape.point(faults, &[("type", kind)], Number::Int(n as i64));
        }
    }
    let switches = (
        "process.context_switches",
        "{count}",
        "Number of times the process has been context switched.",
        Kind::Counter,
    );
    for (kind, key) in
        [("voluntary", "voluntary_ctxt_switches"), ("involuntary", "nonvoluntary_ctxt_switches")]
    {
        if let Some(n) = status_field(&files.status, key).and_then(|v| v.parse::<i64>().ok()) {
            scrape.point(switches, &[("type", kind)], Number::Int(n));
        }
    }
    let pending = ["SigPnd", "ShdPnd"]
        .iter()
        .filter_map(|k| u64::from_str_radix(status_field(&files.status, k)?, 16).ok())
        .fold(0u64, |all, mask| all | mask);
    let signals = (
        "process.signals_pending",
        "{signals}",
        "Number of pending signals for the process.",
        Kind::UpDown,
    );
    scrape.point(signals, &[], Number::Int(i64::from(pending.count_ones())));
    let uptime = ("process.uptime", "s", "The time the process has been running.", Kind::Gauge);
    scrape.point(uptime, &[], Number::Double(now.saturating_sub(started) as f64 / 1e9));

    Some(ResourceMetrics {
        resource: Some(Resource { attributes, ..Resource::default() }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: super::scope_name("process"),
                ..Default::default()
            }),
            metrics: scrape.metrics,
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    })
}

/// Reads process `pid`'s files under `root`; `None` when the process is gone. What cannot be
/// read is logged unless muted.
pub(crate) fn read_files(root: &str, pid: u32, options: &ProcessOptions) -> Option<Files> {
    let dir = format!("{root}/proc/{pid}");
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let exe = match std::fs::read_link(format!("{dir}/exe")) {
        Ok(path) => Some(path.display().to_string()),
        Err(error) => {
            if !options.mute_exe {
                tracing::debug!(pid, %error, "cannot read the executable's path");
            }
            None
        }
    };
    let io = std::fs::read_to_string(format!("{dir}/io")).ok();
    let fds = std::fs::read_dir(format!("{dir}/fd")).ok().map(|d| d.count());
    Some(Files {
        stat,
        status,
        cmdline: std::fs::read(format!("{dir}/cmdline")).ok(),
        exe,
        io,
        cgroup: std::fs::read_to_string(format!("{dir}/cgroup")).ok(),
        fds,
    })
}

/// The processes' ids under `root`.
pub(crate) fn pids(root: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(format!("{root}/proc")) else { return Vec::new() };
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}
