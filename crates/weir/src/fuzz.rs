//! The entry points of the `cargo fuzz` targets in `fuzz/`. They live here, in the library,
//! so that the test suite replays every input the fuzzers kept (`fuzz/regressions/<target>/`)
//! through exactly the code the fuzzers ran. Each takes arbitrary bytes and must neither
//! panic, hang nor allocate beyond its bounds.

use std::io::Write;

use weir_core::export::wal::{Wal, WalOptions};
use weir_otlp::{Batch, Signal};
use weir_receivers::decompress::{Encoding, decompress as decompress_body};

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// The targets, by name, for the regression test.
pub const TARGETS: &[(&str, Target)] = &[
    ("otlp_protobuf", otlp_protobuf),
    ("otlp_json", otlp_json),
    ("decompress", decompress),
    ("config", config),
    ("wal", wal),
    ("wire_split", wire_split),
];

fn signal(selector: Option<&u8>) -> Signal {
    Signal::ALL[usize::from(selector.copied().unwrap_or(0)) % 3]
}

/// The OTLP/protobuf request path: walk and decode as the first byte's signal, validate (the
/// walk must agree with decode + validation, and count the same items), and encode a valid
/// batch back, which must decode and encode to the same bytes (compared as bytes: a NaN in a
/// histogram's `min` is not equal to itself).
pub fn otlp_protobuf(data: &[u8]) {
    let (selector, body) = data.split_first().map_or((None, data), |(s, b)| (Some(s), b));
    let signal = signal(selector);
    // the wire walk refuses exactly what a decode and the id checks refuse, counting the same
    let walked = weir_otlp::wire::walk(signal, body);
    let Ok(batch) = Batch::decode_protobuf(signal, body) else {
        assert!(walked.is_err(), "the walk accepts what the decoder refuses");
        return;
    };
    if weir_otlp::validate(&batch).is_err() {
        assert!(walked.is_err(), "the walk accepts what the id checks refuse");
        return;
    }
    assert_eq!(walked.ok(), Some(batch.item_count()), "the walk counts as the decoder");
    let encoded = batch.encode_protobuf();
    let again = Batch::decode_protobuf(signal, &encoded).expect("re-encoded");
    assert!(again.encode_protobuf() == encoded, "protobuf round trip");
}

/// Encoded requests: a request that walks (first byte: the signal) is split at a position
/// the second byte picks and appended back; both parts walk with the items they should hold,
/// and the whole decodes to as many items again.
pub fn wire_split(data: &[u8]) {
    let Some((selector, rest)) = data.split_first() else { return };
    let Some((&at, body)) = rest.split_first() else { return };
    let signal = signal(Some(selector));
    let bytes = bytes::Bytes::copy_from_slice(body);
    let Ok(mut whole) = weir_otlp::wire::Encoded::new(signal, bytes) else { return };
    let total = whole.item_count();
    if total < 2 {
        return;
    }
    let n = 1 + usize::from(at) % (total - 1);
    let front = whole.split_front(n);
    assert_eq!(weir_otlp::wire::walk(signal, &front.to_bytes()), Ok(n), "the front walks");
    assert_eq!(weir_otlp::wire::walk(signal, &whole.to_bytes()), Ok(total - n), "the back walks");
    let (front_items, back_items) = (front.decode().item_count(), whole.decode().item_count());
    assert_eq!((front_items, back_items), (n, total - n), "the parts decode to their items");
    let mut joined = front;
    joined.append(whole);
    assert_eq!(joined.decode().item_count(), total, "appended back");
}

/// The OTLP/JSON decoder: decode as the first byte's signal and validate; what decodes must
/// encode to JSON that decodes again.
pub fn otlp_json(data: &[u8]) {
    let (selector, body) = data.split_first().map_or((None, data), |(s, b)| (Some(s), b));
    let Ok(batch) = weir_otlp::json::decode(signal(selector), body) else { return };
    let _ = weir_otlp::validate(&batch);
    weir_otlp::json::decode_any(&weir_otlp::json::encode(&batch)).expect("re-encoded JSON");
}

/// The decompressors with their size cap: the first byte picks gzip, deflate or zstd; the
/// output never exceeds the cap.
pub fn decompress(data: &[u8]) {
    const LIMIT: usize = 1 << 16;
    let (selector, body) = data.split_first().map_or((0, data), |(s, b)| (*s, b));
    let encoding = [Encoding::Gzip, Encoding::Deflate, Encoding::Zstd][usize::from(selector) % 3];
    if let Ok(out) = decompress_body(encoding, bytes::Bytes::copy_from_slice(body), LIMIT) {
        assert!(out.len() <= LIMIT, "{} bytes out of a {LIMIT}-byte cap", out.len());
    }
}

/// The configuration loader, on arbitrary text.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let _ = crate::config::load_texts(vec![("fuzz.yaml".into(), text)], &[], |_| None);
}

/// The write-ahead log's recovery on an arbitrary segment file: every record it returns
/// reads back, and there are no more records than the file could hold.
pub fn wal(data: &[u8]) {
    let dir = tempfile_dir();
    let mut file = std::fs::File::create(dir.join("0000000000000000.wal")).expect("segment");
    file.write_all(data).expect("written");
    drop(file);
    let options = WalOptions { fsync: false, segment_bytes: 1 << 20, max_bytes: 0, max_records: 0 };
    let (mut log, recovery) = Wal::open(&dir, options).expect("opens");
    assert!(
        recovery.pending <= data.len() / 17,
        "{} records in {} bytes",
        recovery.pending,
        data.len()
    );
    while let Some(location) = log.dispatch() {
        log.read(&location).expect("a recovered record reads back");
        log.done(location.id).expect("marked done");
    }
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "weir-fuzz-wal-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
