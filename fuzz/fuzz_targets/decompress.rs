#![no_main]
//! `cargo +nightly fuzz run decompress`: see `weir::fuzz::decompress`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::decompress(data));
