//! The scrapers: each reads its files under the root path (`/proc`, `/sys` or their copies
//! under `root_path` when the host's file system is mounted into a container) and adds its
//! metrics, with the Collector's names, units and attributes. Parsing takes the files' text,
//! so that it is tested on fixed inputs and against this machine.

use crate::scrape::{Kind, Number, Scrape};

/// A metric's name, unit, description and kind.
type Def = (&'static str, &'static str, &'static str, Kind);

const CPU_TIME: Def =
    ("system.cpu.time", "s", "Total seconds each logical CPU spent on each mode.", Kind::Counter);
const MEMORY_USAGE: Def = ("system.memory.usage", "By", "Bytes of memory in use.", Kind::UpDown);
const MEMORY_UTILIZATION: Def =
    ("system.memory.utilization", "1", "Percentage of memory bytes in use.", Kind::Gauge);
const LOAD_1M: Def =
    ("system.cpu.load_average.1m", "{thread}", "Average CPU Load over 1 minute.", Kind::Gauge);
const LOAD_5M: Def =
    ("system.cpu.load_average.5m", "{thread}", "Average CPU Load over 5 minutes.", Kind::Gauge);
const LOAD_15M: Def =
    ("system.cpu.load_average.15m", "{thread}", "Average CPU Load over 15 minutes.", Kind::Gauge);
const NETWORK_IO: Def =
    ("system.network.io", "By", "The number of bytes transmitted and received.", Kind::Counter);
const NETWORK_PACKETS: Def =
    ("system.network.packets", "{packets}", "The number of packets transferred.", Kind::Counter);
const NETWORK_ERRORS: Def =
    ("system.network.errors", "{errors}", "The number of errors encountered.", Kind::Counter);
const NETWORK_DROPPED: Def =
    ("system.network.dropped", "{packets}", "The number of packets dropped.", Kind::Counter);
const NETWORK_CONNECTIONS: Def =
    ("system.network.connections", "{connections}", "The number of connections.", Kind::UpDown);
const PAGING_USAGE: Def =
    ("system.paging.usage", "By", "Swap (unix) or pagefile (windows) usage.", Kind::UpDown);
const PAGING_OPERATIONS: Def =
    ("system.paging.operations", "{operations}", "The number of paging operations.", Kind::Counter);
const PAGING_FAULTS: Def =
    ("system.paging.faults", "{faults}", "The number of page faults.", Kind::Counter);
const PROCESSES_COUNT: Def = (
    "system.processes.count",
    "{processes}",
    "Total number of processes in each state.",
    Kind::UpDown,
);
const PROCESSES_CREATED: Def = (
    "system.processes.created",
    "{processes}",
    "Total number of created processes.",
    Kind::Counter,
);
const DISK_IO: Def = ("system.disk.io", "By", "Disk bytes transferred.", Kind::Counter);
const DISK_OPERATIONS: Def =
    ("system.disk.operations", "{operations}", "Disk operations count.", Kind::Counter);
const DISK_IO_TIME: Def = ("system.disk.io_time", "s", "Time disk spent activated.", Kind::Counter);
const DISK_OPERATION_TIME: Def =
    ("system.disk.operation_time", "s", "Time spent in disk operations.", Kind::Counter);
const DISK_WEIGHTED_IO_TIME: Def = (
    "system.disk.weighted_io_time",
    "s",
    "Time disk spent activated multiplied by the queue length.",
    Kind::Counter,
);
const DISK_PENDING: Def = (
    "system.disk.pending_operations",
    "{operations}",
    "The queue size of pending I/O operations.",
    Kind::UpDown,
);
const DISK_MERGED: Def = (
    "system.disk.merged",
    "{operations}",
    "The number of disk reads/writes merged into single physical disk access operations.",
    Kind::Counter,
);
const FILESYSTEM_USAGE: Def =
    ("system.filesystem.usage", "By", "Filesystem bytes used.", Kind::UpDown);
const FILESYSTEM_INODES: Def =
    ("system.filesystem.inodes.usage", "{inodes}", "FileSystem inodes used.", Kind::UpDown);
const FILESYSTEM_UTILIZATION: Def =
    ("system.filesystem.utilization", "1", "Fraction of filesystem bytes used.", Kind::Gauge);
const UPTIME: Def = ("system.uptime", "s", "The time the system has been running.", Kind::Gauge);

/// Clock ticks per second of `/proc/stat` (`USER_HZ`, 100 on every Linux architecture weir
/// runs on).
const USER_HZ: f64 = 100.0;

/// The boot time from `/proc/stat` (`btime`, seconds), in nanoseconds.
pub(crate) fn boot_time(stat: &str) -> Option<u64> {
    let seconds: u64 = stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    Some(seconds * 1_000_000_000)
}

/// `cpu`: `system.cpu.time` per logical CPU and state from `/proc/stat`.
pub(crate) fn cpu(stat: &str, scrape: &mut Scrape) {
    const STATES: [&str; 8] =
        ["user", "nice", "system", "idle", "wait", "interrupt", "softirq", "steal"];
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        if !name.starts_with("cpu") || name == "cpu" {
            continue;
        }
        for (state, ticks) in STATES.iter().zip(fields) {
            let Ok(ticks) = ticks.parse::<u64>() else { continue };
            let seconds = ticks as f64 / USER_HZ;
            scrape.point(CPU_TIME, &[("cpu", name), ("state", state)], Number::Double(seconds));
        }
    }
}

/// A `/proc/meminfo` field, in bytes.
fn meminfo(text: &str, field: &str) -> Option<i64> {
    let line = text.lines().find(|l| l.split(':').next() == Some(field))?;
    let kib: i64 = line.split(':').nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// `memory`: `system.memory.usage` by state (and `system.memory.utilization`) from
/// `/proc/meminfo`; used is what is neither free, buffers, page cache nor reclaimable slab.
pub(crate) fn memory(text: &str, scrape: &mut Scrape) {
    let get = |f| meminfo(text, f).unwrap_or(0);
    let total = get("MemTotal");
    let (free, buffered, cached) = (get("MemFree"), get("Buffers"), get("Cached"));
    let (reclaimable, unreclaimable) = (get("SReclaimable"), get("SUnreclaim"));
    let used = (total - free - buffered - cached - reclaimable).max(0);
    let states = [
        ("used", used),
        ("free", free),
        ("buffered", buffered),
        ("cached", cached),
        ("slab_reclaimable", reclaimable),
        ("slab_unreclaimable", unreclaimable),
    ];
    for (state, bytes) in states {
        scrape.point(MEMORY_USAGE, &[("state", state)], Number::Int(bytes));
        if total > 0 {
            let share = bytes as f64 / total as f64;
            scrape.point(MEMORY_UTILIZATION, &[("state", state)], Number::Double(share));
        }
    }
}

/// `load`: the 1, 5 and 15 minute load averages from `/proc/loadavg`.
/// With `cpus` (`cpu_average`), each is divided by the number of logical CPUs.
pub(crate) fn load(text: &str, cpus: Option<usize>, scrape: &mut Scrape) {
    let divisor = cpus.map_or(1.0, |n| n as f64);
    let values: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse::<f64>().ok())
        .map(|v| v / divisor)
        .collect();
    if let [one, five, fifteen] = values[..] {
        scrape.point(LOAD_1M, &[], Number::Double(one));
        scrape.point(LOAD_5M, &[], Number::Double(five));
        scrape.point(LOAD_15M, &[], Number::Double(fifteen));
    }
}

/// `network`: bytes, packets, errors and drops per interface and direction from
/// `/proc/net/dev`, and TCP connections by state from `/proc/net/tcp` and `tcp6`.
pub(crate) fn network(
    dev: &str,
    tcp: &[&str],
    selects: &dyn Fn(&str) -> bool,
    scrape: &mut Scrape,
) {
    for line in dev.lines().skip(2) {
        let Some((device, counters)) = line.split_once(':') else { continue };
        let device = device.trim();
        if !selects(device) {
            continue;
        }
        let c: Vec<i64> = counters.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        if c.len() < 12 {
            continue;
        }
        // receive: bytes packets errs drop ...; transmit from the 9th field on
        for (direction, base) in [("receive", 0), ("transmit", 8)] {
            let attributes = [("device", device), ("direction", direction)];
            scrape.point(NETWORK_IO, &attributes, Number::Int(c[base]));
            scrape.point(NETWORK_PACKETS, &attributes, Number::Int(c[base + 1]));
            scrape.point(NETWORK_ERRORS, &attributes, Number::Int(c[base + 2]));
            scrape.point(NETWORK_DROPPED, &attributes, Number::Int(c[base + 3]));
        }
    }
    const TCP_STATES: [&str; 12] = [
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT_1",
        "FIN_WAIT_2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "DELETE",
    ];
    let mut counts = [0i64; 12];
    for table in tcp {
        for line in table.lines().skip(1) {
            let Some(state) = line.split_whitespace().nth(3) else { continue };
            if let Ok(code) = u8::from_str_radix(state, 16)
                && (1..=11).contains(&code)
            {
                counts[code as usize - 1] += 1;
            }
        }
    }
    for (state, count) in TCP_STATES.iter().zip(counts) {
        scrape.point(
            NETWORK_CONNECTIONS,
            &[("protocol", "tcp"), ("state", state)],
            Number::Int(count),
        );
    }
}

/// `paging`: swap usage per device from `/proc/swaps`, and paging operations and faults from
/// `/proc/vmstat`.
pub(crate) fn paging(swaps: &str, vmstat: &str, scrape: &mut Scrape) {
    for line in swaps.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(device), Some(size), Some(used)) = (f.first(), f.get(2), f.get(3)) else {
            continue;
        };
        let (Ok(size), Ok(used)) = (size.parse::<i64>(), used.parse::<i64>()) else { continue };
        scrape.point(
            PAGING_USAGE,
            &[("device", device), ("state", "used")],
            Number::Int(used * 1024),
        );
        scrape.point(
            PAGING_USAGE,
            &[("device", device), ("state", "free")],
            Number::Int((size - used) * 1024),
        );
    }
    let get = |name: &str| {
        vmstat
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<i64>().ok())
    };
    let operations = [
        ("page_in", "major", get("pswpin")),
        ("page_out", "major", get("pswpout")),
        ("page_in", "minor", get("pgpgin")),
        ("page_out", "minor", get("pgpgout")),
    ];
    for (direction, kind, value) in operations {
        if let Some(value) = value {
            scrape.point(
                PAGING_OPERATIONS,
                &[("direction", direction), ("type", kind)],
                Number::Int(value),
            );
        }
    }
    if let (Some(all), Some(major)) = (get("pgfault"), get("pgmajfault")) {
        scrape.point(PAGING_FAULTS, &[("type", "major")], Number::Int(major));
        scrape.point(PAGING_FAULTS, &[("type", "minor")], Number::Int(all - major));
    }
}

/// `processes`: running and blocked processes, and processes created, from `/proc/stat`.
pub(crate) fn processes(stat: &str, scrape: &mut Scrape) {
    let get =
        |name: &str| stat.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<i64>().ok());
    if let Some(running) = get("procs_running ") {
        scrape.point(PROCESSES_COUNT, &[("status", "running")], Number::Int(running));
    }
    if let Some(blocked) = get("procs_blocked ") {
        scrape.point(PROCESSES_COUNT, &[("status", "blocked")], Number::Int(blocked));
    }
    if let Some(created) = get("processes ") {
        scrape.point(PROCESSES_CREATED, &[], Number::Int(created));
    }
}

/// `disk`: per block device from `/proc/diskstats` (sectors of 512 bytes, times in ms).
pub(crate) fn disk(diskstats: &str, selects: &dyn Fn(&str) -> bool, scrape: &mut Scrape) {
    for line in diskstats.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 || !selects(f[2]) {
            continue;
        }
        let device = f[2];
        let n = |i: usize| f[i].parse::<i64>().unwrap_or(0);
        let seconds = |i: usize| n(i) as f64 / 1000.0;
        for (direction, ops, merged, sectors, ms) in [("read", 3, 4, 5, 6), ("write", 7, 8, 9, 10)]
        {
            let attributes = [("device", device), ("direction", direction)];
            scrape.point(DISK_IO, &attributes, Number::Int(n(sectors) * 512));
            scrape.point(DISK_OPERATIONS, &attributes, Number::Int(n(ops)));
            scrape.point(DISK_MERGED, &attributes, Number::Int(n(merged)));
            scrape.point(DISK_OPERATION_TIME, &attributes, Number::Double(seconds(ms)));
        }
        scrape.point(DISK_PENDING, &[("device", device)], Number::Int(n(11)));
        scrape.point(DISK_IO_TIME, &[("device", device)], Number::Double(seconds(12)));
        scrape.point(DISK_WEIGHTED_IO_TIME, &[("device", device)], Number::Double(seconds(13)));
    }
}

/// `system`: the uptime from `/proc/uptime`.
pub(crate) fn system(uptime: &str, scrape: &mut Scrape) {
    if let Some(seconds) = uptime.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()) {
        scrape.point(UPTIME, &[], Number::Double(seconds));
    }
}

/// One mounted file system, from `/proc/mounts`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mount<'a> {
    pub(crate) device: &'a str,
    pub(crate) mountpoint: &'a str,
    pub(crate) fs_type: &'a str,
    pub(crate) mode: &'static str,
}

/// The mounts of `/proc/mounts`, without the virtual file systems (those `/proc/filesystems`
/// marks `nodev`) unless `virtual_too`.
pub(crate) fn mounts<'a>(mounts: &'a str, filesystems: &str, virtual_too: bool) -> Vec<Mount<'a>> {
    let nodev: Vec<&str> =
        filesystems.lines().filter_map(|l| l.strip_prefix("nodev")).map(str::trim).collect();
    mounts
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (device, mountpoint, fs_type, options) =
                (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?);
            if !virtual_too && nodev.contains(fs_type) {
                return None;
            }
            let mode = if options.split(',').any(|o| o == "ro") { "ro" } else { "rw" };
            Some(Mount { device, mountpoint, fs_type, mode })
        })
        .collect()
}

/// The sizes `statvfs` gives of one file system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Space {
    pub(crate) fragment: u64,
    pub(crate) blocks: u64,
    pub(crate) free: u64,
    pub(crate) available: u64,
    pub(crate) files: u64,
    pub(crate) files_free: u64,
}

/// `filesystem`: bytes and inodes per mounted file system: used, free (available to
/// unprivileged users) and reserved (free only to root).
pub(crate) fn filesystem(mount: &Mount<'_>, space: Space, scrape: &mut Scrape) {
    let attributes = |state| {
        [
            ("device", mount.device),
            ("mode", mount.mode),
            ("mountpoint", mount.mountpoint),
            ("type", mount.fs_type),
            ("state", state),
        ]
    };
    let bytes = |blocks: u64| Number::Int((blocks * space.fragment) as i64);
    let used = space.blocks.saturating_sub(space.free);
    scrape.point(FILESYSTEM_USAGE, &attributes("used"), bytes(used));
    scrape.point(FILESYSTEM_USAGE, &attributes("free"), bytes(space.available));
    scrape.point(
        FILESYSTEM_USAGE,
        &attributes("reserved"),
        bytes(space.free.saturating_sub(space.available)),
    );
    let inodes_used = space.files.saturating_sub(space.files_free);
    scrape.point(FILESYSTEM_INODES, &attributes("used"), Number::Int(inodes_used as i64));
    scrape.point(FILESYSTEM_INODES, &attributes("free"), Number::Int(space.files_free as i64));
    let usable = used + space.available;
    if usable > 0 {
        let attributes = &attributes("")[..4];
        scrape.point(
            FILESYSTEM_UTILIZATION,
            attributes,
            Number::Double(used as f64 / usable as f64),
        );
    }
}
