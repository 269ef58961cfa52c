//! `weir loadgen` against weir's `file` exporter: exactly the items it reports sent arrive,
//! over both transports and encodings, in open and closed loop.

use std::time::Duration;

use clap::Parser;
use weir::loadgen;
use weir_tests::Weir;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: loadgen::Args,
}

fn args(line: &str) -> loadgen::Args {
    Cli::parse_from(std::iter::once("loadgen").chain(line.split_whitespace())).args
}

#[test]
fn every_item_loadgen_reports_arrives() {
    let cases = [
        (
            "grpc traces, closed loop",
            "--signal traces --protocol grpc --requests 40 --batch-size 50 --workers 3",
        ),
        (
            "http metrics json gzip, open loop",
            "--signal metrics --protocol http --encoding json --compression gzip --rate 20000 --requests 30 --batch-size 100",
        ),
        (
            "http logs zstd, fresh requests",
            "--signal logs --protocol http --compression zstd --requests 25 --batch-size 40 --prebuilt 0",
        ),
    ];
    for (name, line) in cases {
        let weir = Weir::start();
        let mut args = args(line);
        args.endpoint = match args.protocol {
            loadgen::Protocol::Grpc => weir.grpc().to_string(),
            loadgen::Protocol::Http => weir.http().to_string(),
        };
        args.duration = Duration::from_secs(30);
        let report = weir.runtime.block_on(loadgen::run(args.clone())).unwrap();
        assert!(report.errors.is_empty(), "{name}: {:?}", report.errors);
        assert_eq!(report.requests_ok, args.requests, "{name}");
        let arrived: u64 = weir.stop().iter().map(|b| b.item_count() as u64).sum();
        assert_eq!(arrived, report.items_ok, "{name}");
        assert!(arrived >= args.requests * args.batch_size as u64, "{name}");
    }
}

#[test]
fn open_loop_keeps_its_rate() {
    let weir = Weir::start();
    let mut args =
        args("--signal logs --protocol grpc --rate 5000 --batch-size 50 --workers 2 --duration 1s");
    args.endpoint = weir.grpc().to_string();
    let report = weir.runtime.block_on(loadgen::run(args)).unwrap();
    // 100 requests scheduled over one second: all sent on schedule, none beyond it; the rate
    // is at most the offered one (answers arriving late on a loaded machine lower it)
    assert_eq!(report.requests_ok, 100, "{}", report.text());
    assert!((2500.0..=5000.0).contains(&report.items_per_second), "{}", report.text());
    weir.stop();
}
