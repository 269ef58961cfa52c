use weir_core::Component;
use weir_otlp::{
    Decoded,
    proto::metrics::v1::{Metric, metric, number_data_point},
};

use super::{config::Settings, scrape, scrapers};
use crate::scrape::Scrape;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

fn all_on() -> Scrape {
    Scrape { start: 1, now: 2, enabled: Box::new(|_| true), metrics: Vec::new() }
}

/// `(attributes as "k=v,k=v", value)` of each point of `name`.
fn points(metrics: &[Metric], name: &str) -> Vec<(String, f64)> {
    let metric = metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("no {name}"));
    let points = match &metric.data {
        Some(metric::Data::Sum(s)) => &s.data_points,
        Some(metric::Data::Gauge(g)) => &g.data_points,
        _ => panic!("{name}: not a number"),
    };
    points
        .iter()
        .map(|p| {
            let attributes: Vec<String> = p
                .attributes
                .iter()
                .map(|kv| {
                    format!(
                        "{}={}",
                        kv.key,
                        weir_otlp::attributes::text(kv.value.as_ref()).unwrap_or_default()
                    )
                })
                .collect();
            let value = match p.value {
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                Some(number_data_point::Value::AsDouble(d)) => d,
                None => f64::NAN,
            };
            (attributes.join(","), value)
        })
        .collect()
}

#[test]
fn parsers_on_fixed_inputs() {
    let mut s = all_on();
    scrapers::cpu("cpu  10 0 0 0 0 0 0 0\ncpu0 150 2 30 400 5 6 7 8\nintr 1\n", &mut s);
    let cpu = points(&s.metrics, "system.cpu.time");
    assert_eq!(cpu[0], ("cpu=cpu0,state=user".to_owned(), 1.5));
    assert_eq!(cpu[3], ("cpu=cpu0,state=idle".to_owned(), 4.0));
    assert_eq!(cpu[4], ("cpu=cpu0,state=wait".to_owned(), 0.05));
    assert_eq!(cpu.len(), 8, "the aggregate cpu line is left out");

    let mut s = all_on();
    scrapers::load("0.50 1.00 2.00 1/100 42\n", Some(2), &mut s);
    assert_eq!(points(&s.metrics, "system.cpu.load_average.15m"), [(String::new(), 1.0)]);

    let mut s = all_on();
    let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0\n    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n";
    let tcp = "  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0\n   1: 0100007F:1F90 0100007F:9C40 01 0\n";
    scrapers::network(dev, &[tcp], &|d| d != "lo", &mut s);
    assert_eq!(
        points(&s.metrics, "system.network.io"),
        [
            ("device=eth0,direction=receive".to_owned(), 1000.0),
            ("device=eth0,direction=transmit".to_owned(), 2000.0)
        ]
    );
    assert_eq!(points(&s.metrics, "system.network.dropped")[1].1, 4.0);
    let connections = points(&s.metrics, "system.network.connections");
    assert!(connections.contains(&("protocol=tcp,state=LISTEN".to_owned(), 1.0)));
    assert!(connections.contains(&("protocol=tcp,state=ESTABLISHED".to_owned(), 1.0)));

    let mut s = all_on();
    scrapers::disk("   8       0 sda 100 5 2048 40 50 6 4096 60 2 70 110\n", &|_| true, &mut s);
    assert_eq!(
        points(&s.metrics, "system.disk.io")[0],
        ("device=sda,direction=read".to_owned(), 2048.0 * 512.0)
    );
    assert_eq!(points(&s.metrics, "system.disk.io_time"), [("device=sda".to_owned(), 0.07)]);
    assert_eq!(
        points(&s.metrics, "system.disk.pending_operations"),
        [("device=sda".to_owned(), 2.0)]
    );

    let mut s = all_on();
    let swaps = "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 1000 250 -2\n";
    scrapers::paging(
        swaps,
        "pgpgin 10\npgpgout 20\npswpin 1\npswpout 2\npgfault 100\npgmajfault 7\n",
        &mut s,
    );
    assert_eq!(
        points(&s.metrics, "system.paging.usage"),
        [
            ("device=/dev/sda2,state=used".to_owned(), 256000.0),
            ("device=/dev/sda2,state=free".to_owned(), 768000.0)
        ]
    );
    assert_eq!(
        points(&s.metrics, "system.paging.faults"),
        [("type=major".to_owned(), 7.0), ("type=minor".to_owned(), 93.0)]
    );

    let mut s = all_on();
    scrapers::processes("processes 4242\nprocs_running 3\nprocs_blocked 1\n", &mut s);
    assert_eq!(points(&s.metrics, "system.processes.created"), [(String::new(), 4242.0)]);
    assert_eq!(points(&s.metrics, "system.processes.count")[0], ("status=running".to_owned(), 3.0));
}

#[test]
fn a_scrape_of_this_machine_agrees_with_proc() {
    let settings = settings(
        "collection_interval: 1s
scrapers:
  cpu:
  memory:
  load:
  network:
  paging:
  processes:
  disk:
  system:",
    );
    let first = scrape(&settings, 1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let second = scrape(&settings, 2);
    let metrics = |batch: weir_otlp::Batch| -> Vec<Metric> {
        let Decoded::Metrics(r) = batch.into_decoded() else { panic!() };
        r.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics).collect()
    };
    let (first, second) = (metrics(first), metrics(second));
    for name in [
        "system.cpu.time",
        "system.memory.usage",
        "system.cpu.load_average.1m",
        "system.network.io",
        "system.processes.created",
        "system.uptime",
    ] {
        assert!(first.iter().any(|m| m.name == name), "{name} missing");
    }
    assert!(!first.iter().any(|m| m.name == "system.memory.utilization"), "disabled by default");
    // cpu time never goes back, per cpu and state
    let (before, after) = (points(&first, "system.cpu.time"), points(&second, "system.cpu.time"));
    assert_eq!(before.len(), after.len());
    for ((k1, v1), (k2, v2)) in before.iter().zip(&after) {
        assert_eq!(k1, k2);
        assert!(v2 >= v1, "{k1}: {v1} then {v2}");
    }
    // memory: the total is the sum of the states; free is within a few percent of /proc
    let kib = |field: &str| -> f64 {
        let line = meminfo.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() * 1024.0
    };
    let memory = points(&first, "system.memory.usage");
    let free = memory.iter().find(|(k, _)| k == "state=free").unwrap().1;
    assert!(
        (free - kib("MemFree")).abs() <= kib("MemTotal") * 0.05,
        "free {free} vs {}",
        kib("MemFree")
    );
    let accounted: f64 =
        memory.iter().filter(|(k, _)| k != "state=slab_unreclaimable").map(|(_, v)| v).sum();
    assert!(
        (accounted - kib("MemTotal")).abs() <= kib("MemTotal") * 0.05,
        "{accounted} vs {}",
        kib("MemTotal")
    );
}

#[test]
fn toggles_and_mistakes() {
    let toggled = settings(
        "scrapers:
  memory:
    metrics:
      system.memory.usage: {enabled: false}
      system.memory.utilization: {enabled: true}",
    );
    let Decoded::Metrics(r) = scrape(&toggled, 1).into_decoded() else { panic!() };
    let names: Vec<String> = r
        .into_iter()
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["system.memory.utilization"]);

    let errors = Settings::parse(
        "collection_interval: soon
scrapers:
  process: {metrics: {process.cpu.utilization: {enabled: true}}, resource_attributes: {process.gpu: {enabled: true}}}
  gpu:
  memory: {include_fs_types: {fs_types: [ext4], match_type: strict}}
  cpu: {cpu_average: true, mute_process_io_error: true}
  disk: {include: {devices: [sda], match_type: fuzzy}}",
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            "collection_interval: invalid duration \"soon\": expected a number with a unit, like \"5s\" or \"200ms\"",
            "scrapers.cpu.cpu_average: applies to the load scraper only",
            "scrapers.cpu.mute_process_io_error: applies to the process scraper only",
            "scrapers.disk.include.match_type: unknown match type \"fuzzy\": expected strict or regexp",
            "scrapers.gpu: unknown scraper \"gpu\"",
            "scrapers.memory.include_fs_types: applies to the filesystem scraper only",
            "scrapers.process.resource_attributes.process.gpu: is not a resource attribute of the process scraper",
            "scrapers.process.metrics.process.cpu.utilization: is not built in weir yet (process.cpu.time is)",
        ]
    );
}

#[test]
fn mounts_and_file_system_space() {
    let mounts = "proc /proc proc rw,relatime 0 0\n/dev/vda1 / ext4 rw,relatime 0 0\n/dev/vdb /data xfs ro,noatime 0 0\n";
    let filesystems = "nodev\tproc\n\text4\n\txfs\n";
    let found = scrapers::mounts(mounts, filesystems, false);
    assert_eq!(found.len(), 2, "proc is virtual");
    assert_eq!(
        (found[1].device, found[1].mountpoint, found[1].fs_type, found[1].mode),
        ("/dev/vdb", "/data", "xfs", "ro")
    );
    assert_eq!(scrapers::mounts(mounts, filesystems, true).len(), 3);

    // the root file system of this machine, against statvfs read in the test
    let settings = settings(
        "scrapers:\n  filesystem:\n    include_mount_points: {mount_points: [/], match_type: strict}",
    );
    let Decoded::Metrics(r) = scrape(&settings, 1).into_decoded() else { panic!() };
    let metrics: Vec<Metric> =
        r.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics).collect();
    let usage = points(&metrics, "system.filesystem.usage");
    let stat = rustix::fs::statvfs("/").unwrap();
    let free = (stat.f_bavail * stat.f_frsize) as f64;
    let used = ((stat.f_blocks - stat.f_bfree) * stat.f_frsize) as f64;
    let state = |s: &str| usage.iter().find(|(k, _)| k.ends_with(&format!("state={s}"))).unwrap().1;
    assert!(usage.iter().all(|(k, _)| k.contains("mountpoint=/,")), "{usage:?}");
    assert!((state("free") - free).abs() <= 64.0 * 1024.0 * 1024.0, "{} vs {free}", state("free"));
    assert!((state("used") - used).abs() <= 64.0 * 1024.0 * 1024.0, "{} vs {used}", state("used"));
    assert!(points(&metrics, "system.filesystem.inodes.usage").len() == 2);
}

fn resource_text(rm: &weir_otlp::proto::metrics::v1::ResourceMetrics, key: &str) -> Option<String> {
    let attributes = &rm.resource.as_ref()?.attributes;
    weir_otlp::attributes::text(weir_otlp::attributes::find(attributes, key))
}

#[test]
fn a_process_from_fixed_files() {
    let configured = settings(
        "scrapers:\n  process:\n    metrics:\n      process.threads: {enabled: true}\n      process.context_switches: {enabled: true}\n    resource_attributes:\n      process.cgroup: {enabled: true}\n",
    );
    let scraper = &configured.scrapers[0];
    let files = super::process::Files {
        stat: "4242 (my app) S 1 4242 4242 0 -1 4194560 900 0 3 0 250 75 0 0 20 0 6 0 1000 \
               123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 12 0 0"
            .into(),
        status: "Name:\tmy app\nUid:\t1000\t1000\t1000\t1000\nvoluntary_ctxt_switches:\t40\n\
                 nonvoluntary_ctxt_switches:\t2\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\n"
            .into(),
        cmdline: Some(b"/usr/bin/my-app\0--port\08080\0".to_vec()),
        exe: Some("/usr/bin/my-app".into()),
        io: Some("rchar: 9\nwchar: 9\nsyscr: 7\nsyscw: 3\nread_bytes: 4096\nwrite_bytes: 8192\n".into()),
        cgroup: Some("0::/system.slice/my-app.service\n".into()),
        fds: Some(12),
    };
    let host = super::process::Host {
        boot: 1_700_000_000 * 1_000_000_000,
        ticks: 100,
        page: 4096,
        memory: Some(8 << 30),
        users: super::process::users(
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        ),
    };
    let now = 1_700_001_000 * 1_000_000_000;
    let rm = super::process::process(4242, &files, &host, scraper, now).expect("selected");
    assert_eq!(resource_text(&rm, "process.pid").as_deref(), Some("4242"));
    assert_eq!(resource_text(&rm, "process.parent_pid").as_deref(), Some("1"));
    assert_eq!(resource_text(&rm, "process.executable.name").as_deref(), Some("my app"));
    assert_eq!(resource_text(&rm, "process.executable.path").as_deref(), Some("/usr/bin/my-app"));
    assert_eq!(resource_text(&rm, "process.command").as_deref(), Some("/usr/bin/my-app"));
    assert_eq!(
        resource_text(&rm, "process.command_line").as_deref(),
        Some("/usr/bin/my-app --port 8080")
    );
    assert_eq!(resource_text(&rm, "process.owner").as_deref(), Some("alice"));
    assert_eq!(
        resource_text(&rm, "process.cgroup").as_deref(),
        Some("0::/system.slice/my-app.service")
    );
    let metrics = &rm.scope_metrics[0].metrics;
    assert!(rm.scope_metrics[0].scope.as_ref().unwrap().name.ends_with("/processscraper"));
    assert_eq!(
        points(metrics, "process.cpu.time"),
        [
            ("state=user".to_owned(), 2.5),
            ("state=system".to_owned(), 0.75),
            ("state=wait".to_owned(), 0.12)
        ]
    );
    assert_eq!(points(metrics, "process.memory.usage"), [(String::new(), 2048.0 * 4096.0)]);
    assert_eq!(points(metrics, "process.memory.virtual"), [(String::new(), 123456789.0)]);
    assert_eq!(
        points(metrics, "process.disk.io"),
        [("direction=read".to_owned(), 4096.0), ("direction=write".to_owned(), 8192.0)]
    );
    assert_eq!(points(metrics, "process.threads"), [(String::new(), 6.0)]);
    assert_eq!(
        points(metrics, "process.context_switches"),
        [("type=voluntary".to_owned(), 40.0), ("type=involuntary".to_owned(), 2.0)]
    );
    for off in [
        "process.disk.operations",
        "process.open_file_descriptors",
        "process.uptime",
        "process.signals_pending",
    ] {
        assert!(metrics.iter().all(|m| m.name != off), "{off} is off by default");
    }
    // cumulative sums start when the process started: boot + 1000 ticks of 10 ms
    let Some(metric::Data::Sum(sum)) =
        &metrics.iter().find(|m| m.name == "process.cpu.time").unwrap().data
    else {
        panic!("a sum")
    };
    assert_eq!(sum.data_points[0].start_time_unix_nano, (1_700_000_000 + 10) * 1_000_000_000);

    let excluding =
        settings("scrapers:\n  process:\n    exclude: {names: [\"my .*\"], match_type: regexp}\n");
    assert!(super::process::process(4242, &files, &host, &excluding.scrapers[0], now).is_none());
    let young = settings("scrapers:\n  process:\n    scrape_process_delay: 2h\n");
    assert!(super::process::process(4242, &files, &host, &young.scrapers[0], now).is_none());
}

#[test]
fn this_test_process_as_the_process_scraper_sees_it() {
    let settings = settings("scrapers:\n  process:\n");
    let pid = std::process::id().to_string();
    let before = std::fs::read_to_string("/proc/self/stat").unwrap();
    let batch = scrape(&settings, super::unix_nanos());
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let Decoded::Metrics(resources) = batch.into_decoded() else { panic!("metrics") };
    let me = resources
        .iter()
        .find(|rm| resource_text(rm, "process.pid").as_deref() == Some(pid.as_str()))
        .expect("this process is scraped");
    let name = std::fs::read_to_string("/proc/self/status").unwrap();
    let name = name.lines().find_map(|l| l.strip_prefix("Name:")).unwrap().trim().to_owned();
    assert_eq!(resource_text(me, "process.executable.name"), Some(name));
    let exe = std::env::current_exe().unwrap().display().to_string();
    assert_eq!(resource_text(me, "process.executable.path"), Some(exe));
    let metrics = &me.scope_metrics[0].metrics;
    let rss = statm.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap()
        * rustix::param::page_size() as f64;
    let usage = points(metrics, "process.memory.usage")[0].1;
    assert!((usage - rss).abs() / rss < 0.1, "memory usage {usage} against statm {rss}");
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let user_before: f64 =
        before.rsplit_once(')').unwrap().1.split_whitespace().nth(11).unwrap().parse().unwrap();
    let user = points(metrics, "process.cpu.time")[0].1;
    assert!(user >= user_before / ticks, "cpu time is monotonic: {user} ≥ {}", user_before / ticks);
    assert!(resources.len() > 1, "other processes too");
}
