use std::time::Duration;

use weir_core::testing::spans;

use super::*;

fn batcher(size: usize, max: usize, timeout_ms: u64) -> Batcher {
    Batcher::new(&Config {
        send_batch_size: size,
        send_batch_max_size: max,
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn sizes(out: &Output) -> Vec<usize> {
    out.batches().map(Batch::item_count).collect()
}

#[test]
fn waits_for_send_batch_size_then_sends_everything_pending() {
    let mut b = batcher(10, 0, 200);
    let mut out = Output::new();
    b.process(spans("a", 6, 1), &mut out);
    assert!(out.is_empty());
    b.process(spans("b", 7, 2), &mut out);
    assert_eq!(sizes(&out), vec![13], "the trigger is not a size: all 13 leave together");
}

#[test]
fn max_size_splits_and_keeps_the_remainder_pending() {
    let mut b = batcher(10, 10, 200);
    let mut out = Output::new();
    b.process(spans("a", 25, 1), &mut out);
    assert_eq!(sizes(&out), vec![10, 10]);
    let mut rest = Output::new();
    b.shutdown(Instant::now(), &mut rest);
    assert_eq!(sizes(&rest), vec![5]);
}

#[test]
fn timeout_releases_a_small_batch() {
    let mut b = batcher(100, 0, 200);
    let mut out = Output::new();
    b.process(spans("a", 3, 1), &mut out);
    let t0 = Instant::now();
    b.flush(t0, &mut out);
    b.flush(t0 + Duration::from_millis(199), &mut out);
    assert!(out.is_empty(), "not due yet");
    b.flush(t0 + Duration::from_millis(200), &mut out);
    assert_eq!(sizes(&out), vec![3]);
    // the clock restarts with the next pending items
    b.process(spans("a", 1, 2), &mut out);
    b.flush(t0 + Duration::from_millis(300), &mut out);
    assert_eq!(sizes(&out), vec![3], "new items wait their own timeout");
}

#[test]
fn zero_timeout_sends_at_once_split_by_max() {
    let mut b = batcher(8192, 4, 0);
    let mut out = Output::new();
    b.process(spans("a", 9, 1), &mut out);
    assert_eq!(sizes(&out), vec![4, 4, 1]);
}

#[test]
fn no_item_is_lost_or_duplicated() {
    let mut b = batcher(7, 5, 200);
    let mut out = Output::new();
    for seed in 0..20 {
        b.process(spans("a", (seed % 4) as usize + 1, seed), &mut out);
    }
    b.shutdown(Instant::now(), &mut out);
    let total: usize = sizes(&out).iter().sum();
    let expected: usize = (0..20).map(|s| s % 4 + 1).sum();
    assert_eq!(total, expected);
    assert!(sizes(&out).iter().all(|&n| n <= 5));
}

#[test]
fn max_below_size_is_invalid() {
    let config = Config { send_batch_size: 100, send_batch_max_size: 10, ..Config::default() };
    assert_eq!(
        config.problems(),
        vec![(
            "send_batch_max_size".to_owned(),
            "must be 0 or at least send_batch_size (100), got 10".to_owned()
        )]
    );
}
