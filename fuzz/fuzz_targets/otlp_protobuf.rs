#![no_main]
//! `cargo +nightly fuzz run otlp_protobuf`: see `weir::fuzz::otlp_protobuf`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::otlp_protobuf(data));
