#![no_main]
//! `cargo +nightly fuzz run wal`: see `weir::fuzz::wal`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::wal(data));
