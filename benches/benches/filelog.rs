//! The `filelog` receiver's cost per line: pod log files in the CRI format (what containerd
//! and CRI-O write) read through the `container` operator into OTLP batches, the same files
//! read as plain lines, and — the floor — a `tail -F`-style read of the same bytes into lines.
//! Run with `cargo bench -p weir-benches --bench filelog`.

use std::io::{BufRead, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_core::Component as _;
use weir_receivers::filelog::{Follower, Settings};

/// The allocator weir runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LINES: usize = 100_000;

fn filelog(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let pod = dir.path().join("shop_api-7d9_0b1c2d3e/api");
    std::fs::create_dir_all(&pod).unwrap();
    let path = pod.join("0.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..LINES {
        // a realistic access-log line; every tenth split by the runtime
        let message = format!(
            "10.0.{}.{} - - \"GET /api/cart/{i} HTTP/1.1\" 200 512 \"-\" \"checkout/1.4\"",
            i % 200,
            i % 250
        );
        if i % 10 == 0 {
            let (a, b) = message.split_at(20);
            writeln!(file, "2026-12-03T10:00:00.{i:09}Z stdout P {a}").unwrap();
            writeln!(file, "2026-12-03T10:00:00.{i:09}Z stdout F {b}").unwrap();
        } else {
            writeln!(file, "2026-12-03T10:00:00.{i:09}Z stdout F {message}").unwrap();
        }
    }
    file.flush().unwrap();
    drop(file);
    let bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!("{LINES} entries, {bytes} bytes");
    let settings = |operators: &str| {
        Settings::parse(&format!(
            "include: ['{}/*/*/*.log']\nstart_at: beginning\nforce_flush_period: 0s\n{operators}",
            dir.path().display()
        ))
        .unwrap()
    };
    let read_all = |settings: &Settings| {
        let mut follower = Follower::new(settings.clone());
        let mut records = 0;
        loop {
            let read = follower.poll();
            if read.batches.is_empty() {
                break;
            }
            records += read.batches.iter().map(|b| b.item_count()).sum::<usize>();
        }
        records
    };
    let container = settings("operators: [{type: container}]");
    let plain = settings("");
    assert_eq!(read_all(&container), LINES, "every entry, partial lines joined");
    let mut group = c.benchmark_group("filelog");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(20);
    group.bench_function("container_operator", |b| b.iter(|| read_all(&container)));
    group.bench_function("plain_lines", |b| b.iter(|| read_all(&plain)));
    group.bench_function("tail_floor", |b| {
        b.iter(|| {
            let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
            file.lines().map(|l| l.unwrap()).collect::<Vec<String>>().len()
        })
    });
    group.finish();
}

criterion_group!(benches, filelog);
criterion_main!(benches);
