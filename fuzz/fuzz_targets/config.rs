#![no_main]
//! `cargo +nightly fuzz run config`: see `weir::fuzz::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::config(data));
