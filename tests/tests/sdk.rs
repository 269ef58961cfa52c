//! The official OpenTelemetry Rust SDK exporting traces, metrics and logs to weir over gRPC
//! and over HTTP/protobuf; weir writes them with the `file` exporter and the test reads the
//! file back: every span, data point and log record arrived once, with its attributes.

use weir_tests::{
    Weir,
    sdk::{self, TRANSPORTS},
};

#[test]
fn traces_arrive_once_with_their_attributes() {
    for transport in TRANSPORTS {
        let weir = Weir::start();
        sdk::send_traces(&weir, transport);
        sdk::check_traces(&weir.stop(), transport);
    }
}

#[test]
fn metrics_arrive_with_their_values() {
    for transport in TRANSPORTS {
        let weir = Weir::start();
        sdk::send_metrics(&weir, transport);
        sdk::check_metrics(&weir.stop(), transport);
    }
}

#[test]
fn logs_arrive_once_with_their_attributes() {
    for transport in TRANSPORTS {
        let weir = Weir::start();
        sdk::send_logs(&weir, transport);
        sdk::check_logs(&weir.stop(), transport);
    }
}
