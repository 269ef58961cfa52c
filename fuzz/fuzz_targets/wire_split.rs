#![no_main]
//! `cargo +nightly fuzz run wire_split`: see `weir::fuzz::wire_split`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::wire_split(data));
