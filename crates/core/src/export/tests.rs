use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use super::*;
use crate::{
    BoxFuture, Decoded,
    testing::{CollectingExporter, spans},
};

/// What one scripted attempt does.
#[derive(Clone)]
enum Step {
    Fail(ExportError),
    Hang,
}

/// Follows a script of failures, then succeeds; counts attempts and keeps what it delivered.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<Step>>,
    attempts: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    delivered: CollectingExporter,
    hold: Option<Duration>,
}

impl Scripted {
    fn new(script: Vec<Step>) -> Arc<Scripted> {
        Arc::new(Scripted { script: Mutex::new(script.into()), ..Scripted::default() })
    }
}

impl Exporter for Scripted {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a crate::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let step = self.script.lock().unwrap().pop_front();
            match step {
                Some(Step::Fail(error)) => Err(error),
                Some(Step::Hang) => std::future::pending().await,
                None => {
                    let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    self.most_in_flight.fetch_max(now, Ordering::SeqCst);
                    if let Some(hold) = self.hold {
                        tokio::time::sleep(hold).await;
                    }
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                    self.delivered.export(batch, metadata).await
                }
            }
        })
    }
}

fn unavailable(after: Option<Duration>) -> Step {
    Step::Fail(ExportError::Retryable { after, message: "unavailable".into() })
}

fn settings(max_elapsed_secs: u64) -> Settings {
    let mut settings = Settings::default();
    settings.retry.initial_interval = Duration::from_secs(1);
    settings.retry.max_interval = Duration::from_secs(4);
    settings.retry.randomization_factor = 0.0;
    settings.retry.multiplier = 2.0;
    settings.retry.max_elapsed_time = Duration::from_secs(max_elapsed_secs);
    settings.timeout = Duration::from_secs(2);
    settings
}

async fn run(exporter: Arc<Scripted>, settings: Settings, batches: usize) {
    let (consumer, queue) = queue("test", exporter, settings);
    let task = tokio::spawn(queue.run());
    for seed in 0..batches {
        consumer.sender.send(spans("svc", 10, seed as u64).into()).await.unwrap();
    }
    drop(consumer);
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn everything_is_exported_then_the_queue_stops() {
    let exporter = Scripted::new(Vec::new());
    run(exporter.clone(), settings(300), 5).await;
    assert_eq!(exporter.delivered.item_count(), 50);
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_and_timeouts_are_retried_until_delivered() {
    let exporter = Scripted::new(vec![
        unavailable(None),
        Step::Hang,
        unavailable(Some(Duration::from_secs(10))),
    ]);
    let started = tokio::time::Instant::now();
    run(exporter.clone(), settings(300), 1).await;
    assert_eq!(exporter.attempts.load(Ordering::SeqCst), 4);
    assert_eq!(exporter.delivered.item_count(), 10, "delivered once, nothing lost");
    // waits 1 s, then a 2 s timeout and 2 s, then the backend's 10 s hint: 15 s
    assert_eq!(started.elapsed().as_secs(), 15);
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_dropped_without_retry() {
    let permanent = Step::Fail(ExportError::Permanent { message: "400 bad request".into() });
    let exporter = Scripted::new(vec![permanent]);
    run(exporter.clone(), settings(300), 1).await;
    assert_eq!(exporter.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(exporter.delivered.item_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_elapsed_time() {
    let exporter = Scripted::new(vec![unavailable(None); 100]);
    let started = tokio::time::Instant::now();
    run(exporter.clone(), settings(10), 1).await;
    // attempts at 0, 1, 3, 7 s; the next wait (4 s) would pass 10 s
    assert_eq!(exporter.attempts.load(Ordering::SeqCst), 4);
    assert_eq!(started.elapsed().as_secs(), 7);
    assert_eq!(exporter.delivered.item_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn disabled_retries_drop_at_the_first_failure() {
    let exporter = Scripted::new(vec![unavailable(None)]);
    let mut settings = settings(300);
    settings.retry.enabled = false;
    run(exporter.clone(), settings, 1).await;
    assert_eq!(exporter.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(exporter.delivered.item_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn at_most_num_consumers_exports_run_at_once() {
    let exporter = Arc::new(Scripted { hold: Some(Duration::from_secs(1)), ..Scripted::default() });
    let mut settings = settings(300);
    settings.queue.num_consumers = 3;
    run(exporter.clone(), settings, 12).await;
    assert_eq!(exporter.delivered.item_count(), 120);
    assert_eq!(exporter.most_in_flight.load(Ordering::SeqCst), 3);
}

#[test]
fn invalid_settings_are_named() {
    let mut settings = Settings::default();
    settings.queue.num_consumers = 0;
    settings.retry.multiplier = 0.5;
    settings.retry.max_interval = Duration::from_secs(1);
    let paths: Vec<String> = settings.validate().into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        paths,
        vec![
            "sending_queue.num_consumers",
            "retry_on_failure.max_interval",
            "retry_on_failure.multiplier"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_queue_merges_batches_by_size_and_time_and_splits_at_max_size() {
    let exporter = Scripted::new(Vec::new());
    let mut settings = settings(300);
    settings.queue.num_consumers = 1;
    settings.queue.batch =
        Some(QueueBatch { flush_timeout: Duration::from_millis(200), min_size: 25, max_size: 20 });
    let (consumer, queue) = queue("test", exporter.clone(), settings);
    let task = tokio::spawn(queue.run());
    // three batches of 10 arrive together: 30 >= 25 leave at once, as 20 + 10
    for seed in 0..3 {
        consumer.sender.send(spans("svc", 10, seed).into()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let sizes =
        |e: &Scripted| e.delivered.batches().iter().map(Batch::item_count).collect::<Vec<_>>();
    assert_eq!(sizes(&exporter), vec![20, 10]);
    // a lone small batch waits for the flush timeout
    consumer.sender.send(spans("svc", 5, 9).into()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sizes(&exporter).len(), 2, "still waiting");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(sizes(&exporter), vec![20, 10, 5]);
    // signals are merged apart
    consumer.sender.send(spans("svc", 3, 10).into()).await.unwrap();
    consumer.sender.send(crate::testing::logs("svc", 4).into()).await.unwrap();
    drop(consumer);
    task.await.unwrap();
    let last: Vec<(Signal, usize)> =
        exporter.delivered.batches()[3..].iter().map(|b| (b.signal(), b.item_count())).collect();
    assert_eq!(last, vec![(Signal::Traces, 3), (Signal::Logs, 4)]);
}

#[tokio::test(start_paused = true)]
async fn the_queue_merges_only_batches_of_the_same_request_metadata() {
    let exporter = Scripted::new(Vec::new());
    let mut settings = settings(300);
    settings.queue.num_consumers = 1;
    settings.queue.batch =
        Some(QueueBatch { flush_timeout: Duration::from_millis(200), min_size: 100, max_size: 0 });
    let (consumer, queue) = queue("test", exporter.clone(), settings);
    let task = tokio::spawn(queue.run());
    // each request from another client: the client's address does not split a tenant
    let tenant = |t: &str, seed: u64| {
        let peer = std::net::Ipv4Addr::new(127, 0, 0, 1 + seed as u8).into();
        Metadata::new([("x-tenant".to_owned(), t.to_owned())]).with_peer(Some(peer))
    };
    for (seed, who) in [(0, "a"), (1, "b"), (2, "a"), (3, "b"), (4, "a")] {
        let message = Message { metadata: tenant(who, seed), ..spans("svc", 10, seed).into() };
        consumer.sender.send(message).await.unwrap();
    }
    drop(consumer);
    task.await.unwrap();
    let sent: Vec<(Option<String>, usize)> = exporter
        .delivered
        .requests()
        .iter()
        .map(|(b, m)| (m.get("x-tenant").map(str::to_owned), b.item_count()))
        .collect();
    assert_eq!(sent, vec![(Some("a".into()), 30), (Some("b".into()), 20)]);
}

#[tokio::test(start_paused = true)]
async fn a_queue_sized_in_items_holds_at_most_that_many() {
    // The exporter hangs until the timeout, then succeeds: the queue fills meanwhile.
    let exporter = Scripted::new(vec![Step::Hang]);
    let mut settings = settings(300);
    settings.queue.num_consumers = 1;
    settings.queue.queue_size = Some(25);
    settings.queue.sizer = Some(crate::Sizer::Items);
    settings.queue.block_on_overflow = false;
    let (consumer, queue) = queue("test", exporter.clone(), settings);
    let task = tokio::spawn(queue.run());
    // 25 items of room, counting the batch in flight: two of 10 fit
    let mut outcomes = Vec::new();
    for seed in 0..5 {
        outcomes.push(consumer.send(spans("svc", 10, seed).into()).await.is_ok());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(outcomes, vec![true, true, false, false, false]);
    assert_eq!(consumer.capacity.as_ref().unwrap().available(), 5);
    drop(consumer);
    task.await.unwrap();
    assert_eq!(exporter.delivered.item_count(), 20, "what was accepted is delivered");
}

/// Refuses as too large every request over `max_items` items; keeps the rest.
#[derive(Default)]
struct Limited {
    max_items: usize,
    delivered: CollectingExporter,
    refused: AtomicUsize,
}

impl Exporter for Limited {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a crate::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            if batch.item_count() > self.max_items {
                self.refused.fetch_add(1, Ordering::SeqCst);
                return Err(ExportError::TooLarge { message: "larger than max".into() });
            }
            self.delivered.export(batch, metadata).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_refused_as_too_large_is_halved_until_it_passes() {
    let exporter = Arc::new(Limited { max_items: 7, ..Limited::default() });
    let (consumer, queue) = queue("test", exporter.clone(), settings(300));
    let task = tokio::spawn(queue.run());
    consumer.sender.send(spans("svc", 30, 1).into()).await.unwrap();
    drop(consumer);
    task.await.unwrap();
    let sizes: Vec<usize> = exporter.delivered.batches().iter().map(Batch::item_count).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 30, "every span, once");
    assert!(sizes.iter().all(|n| *n <= 7), "{sizes:?}");
    // 30 -> 15 + 15 -> four of 7 or 8 -> the 8s halve again
    assert_eq!(sizes, [7, 4, 4, 7, 4, 4]);
    assert_eq!(exporter.refused.load(Ordering::SeqCst), 5, "30, two 15s, two 8s");
}

#[tokio::test(start_paused = true)]
async fn a_single_item_too_large_is_dropped_and_the_rest_delivered() {
    let exporter = Arc::new(Limited { max_items: 0, ..Limited::default() });
    let (consumer, queue) = queue("test", exporter.clone(), settings(300));
    let task = tokio::spawn(queue.run());
    consumer.sender.send(spans("svc", 4, 1).into()).await.unwrap();
    drop(consumer);
    task.await.unwrap();
    assert_eq!(exporter.delivered.item_count(), 0);
    assert_eq!(exporter.refused.load(Ordering::SeqCst), 7, "4, 2, 2, then each of the 4 alone");
}

#[tokio::test(start_paused = true)]
async fn batches_over_max_request_bytes_leave_as_several_requests() {
    let exporter = Scripted::new(Vec::new());
    let mut settings = settings(300);
    let batch = spans("svc", 100, 1);
    let total = batch.encoded_len();
    settings.max_request_bytes = total / 3;
    let (consumer, queue) = queue("test", exporter.clone(), settings);
    let task = tokio::spawn(queue.run());
    consumer.sender.send(batch.into()).await.unwrap();
    drop(consumer);
    task.await.unwrap();
    let parts = exporter.delivered.batches();
    assert_eq!(parts.iter().map(Batch::item_count).sum::<usize>(), 100);
    assert!(parts.len() >= 4, "{} parts", parts.len());
    assert!(parts.iter().all(|p| p.encoded_len() <= total / 3));
    let names: Vec<String> = parts
        .iter()
        .flat_map(|b| match &*b.view() {
            Decoded::Traces(r) => {
                r[0].scope_spans[0].spans.iter().map(|s| s.name.clone()).collect::<Vec<_>>()
            }
            _ => unreachable!(),
        })
        .collect();
    let expected: Vec<String> = match spans("svc", 100, 1).into_decoded() {
        Decoded::Traces(r) => r[0].scope_spans[0].spans.iter().map(|s| s.name.clone()).collect(),
        _ => unreachable!(),
    };
    assert_eq!(names, expected, "in order");
}

#[tokio::test(start_paused = true)]
async fn a_queue_not_sized_by_the_user_counts_bytes_held_until_delivered_including_retries() {
    let exporter = Scripted::new(vec![unavailable(None); 6]);
    let mut settings = settings(300);
    settings.queue.num_consumers = 1;
    assert_eq!(settings.queue.bound(false), (crate::Sizer::Bytes, super::DEFAULT_QUEUE_BYTES));
    assert_eq!(settings.queue.bound(true), (crate::Sizer::Requests, super::DEFAULT_QUEUE_SIZE));
    let (consumer, queue) = queue("test", exporter.clone(), settings);
    let capacity = consumer.capacity.clone().expect("an enabled queue has a capacity");
    let task = tokio::spawn(queue.run());
    let batches: Vec<Batch> = (0..3).map(|seed| spans("svc", 10, seed)).collect();
    let bytes: usize = batches.iter().map(Batch::encoded_len).sum();
    for batch in batches {
        consumer.send(batch.into()).await.unwrap();
    }
    // the first batch is being retried, the others wait: all three are held
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(exporter.attempts.load(Ordering::SeqCst) >= 1);
    assert_eq!(capacity.held_bytes(), bytes);
    assert_eq!(capacity.held(), bytes, "the bytes sizer counts bytes");
    drop(consumer);
    task.await.unwrap();
    assert_eq!(exporter.delivered.item_count(), 30);
    assert_eq!((capacity.held(), capacity.held_bytes()), (0, 0), "given back once delivered");
}
