use std::time::Duration;

use weir_core::testing::spans;

use super::*;

fn batcher(size: usize, max: usize, timeout_ms: u64) -> Batcher {
    Batcher::new(
        "batch",
        &Config {
            send_batch_size: size,
            send_batch_max_size: max,
            timeout: Duration::from_millis(timeout_ms),
            ..Config::default()
        },
    )
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

fn tenant(tenant: &str, region: &str) -> Metadata {
    Metadata::new([
        ("X-Tenant".to_owned(), tenant.to_owned()),
        ("region".to_owned(), region.to_owned()),
        ("user-agent".to_owned(), "sdk".to_owned()),
    ])
}

/// What left, as `(tenant, items)` in order.
fn by_tenant(out: &mut Output) -> Vec<(Option<String>, usize)> {
    out.drain()
        .map(|m| (m.metadata.get("x-tenant").map(str::to_owned), m.batch.item_count()))
        .collect()
}

#[test]
fn metadata_keys_batch_each_combination_apart_and_carry_only_those_keys() {
    let config =
        Config { send_batch_size: 10, metadata_keys: vec!["x-tenant".into()], ..Config::default() };
    let mut b = Batcher::new("batch", &config);
    let mut out = Output::new();
    for (who, n) in [("a", 6), ("b", 6), ("a", 6)] {
        out.set_metadata(tenant(who, "eu"));
        b.process(spans(who, n, n as u64), &mut out);
    }
    let sent: Vec<Message> = out.drain().collect();
    assert_eq!(sent.len(), 1, "only tenant a reached 10 items");
    assert_eq!(sent[0].batch.item_count(), 12);
    assert_eq!(
        sent[0].metadata,
        Metadata::new([("x-tenant".to_owned(), "a".to_owned())]),
        "the batch keeps the batching keys and nothing else"
    );
    b.shutdown(Instant::now(), &mut out);
    assert_eq!(by_tenant(&mut out), vec![(Some("b".into()), 6)]);
}

#[test]
fn without_metadata_keys_batches_merge_requests_and_carry_no_metadata() {
    let mut b = batcher(10, 0, 200);
    let mut out = Output::new();
    for who in ["a", "b"] {
        out.set_metadata(tenant(who, "eu"));
        b.process(spans(who, 6, 1), &mut out);
    }
    assert_eq!(by_tenant(&mut out), vec![(None, 12)]);
}

#[test]
fn past_the_cardinality_limit_new_combinations_pass_unbatched_with_their_metadata() {
    let config = Config {
        send_batch_size: 100,
        metadata_keys: vec!["x-tenant".into(), "region".into()],
        metadata_cardinality_limit: 2,
        ..Config::default()
    };
    let mut b = Batcher::new("batch", &config);
    let mut out = Output::new();
    for (who, region) in [("a", "eu"), ("a", "us"), ("b", "eu"), ("a", "eu")] {
        out.set_metadata(tenant(who, region));
        b.process(spans(who, 3, 1), &mut out);
    }
    let passed: Vec<Message> = out.drain().collect();
    assert_eq!(passed.len(), 1, "the third combination is over the limit of two");
    assert_eq!(passed[0].metadata.get("x-tenant"), Some("b"));
    assert_eq!(passed[0].metadata.get("region"), Some("eu"));
    assert_eq!(passed[0].batch.item_count(), 3, "nothing lost");
    b.shutdown(Instant::now(), &mut out);
    let mut held = by_tenant(&mut out);
    held.sort();
    assert_eq!(held, vec![(Some("a".into()), 3), (Some("a".into()), 6)]);
}
