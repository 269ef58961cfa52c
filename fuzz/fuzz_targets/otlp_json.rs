#![no_main]
//! `cargo +nightly fuzz run otlp_json`: see `weir::fuzz::otlp_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::otlp_json(data));
