use std::sync::{Arc, Mutex};

use weir_otlp::{Batch, Decoded, Signal};

use super::*;
use crate::testing::spans;
use crate::{Metadata, WhenFull};

/// Tags each batch's first span name with its id, so the order of stages is visible.
struct Tag(&'static str);

impl Processor for Tag {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        if let Decoded::Traces(rs) = batch.decoded_mut() {
            rs[0].scope_spans[0].spans[0].name.push_str(self.0);
        }
        out.push(batch);
    }
}

/// Holds everything until shutdown; counts flushes.
struct Hold {
    held: Vec<Batch>,
    flushes: Arc<Mutex<usize>>,
}

impl Processor for Hold {
    fn process(&mut self, batch: Batch, _out: &mut Output) {
        self.held.push(batch);
    }
    fn flush(&mut self, _now: Instant, _out: &mut Output) {
        *self.flushes.lock().unwrap() += 1;
    }
    fn shutdown(&mut self, _now: Instant, out: &mut Output) {
        self.held.drain(..).for_each(|b| out.push(b));
    }
}

fn consumer(name: &str) -> (Consumer, mpsc::Receiver<Message>) {
    let (sender, receiver) = mpsc::channel(16);
    (Consumer::blocking(name, sender), receiver)
}

fn first_name(batch: &Batch) -> String {
    let Decoded::Traces(rs) = &*batch.view() else { panic!("traces expected") };
    rs[0].scope_spans[0].spans[0].name.clone()
}

#[tokio::test]
async fn processors_run_in_order_and_every_consumer_gets_each_batch() {
    let (input_tx, input) = mpsc::channel(4);
    let (a, mut ra) = consumer("a");
    let (b, mut rb) = consumer("b");
    let stages: Vec<(String, Box<dyn Processor>)> =
        vec![("tag/1".into(), Box::new(Tag("+1"))), ("tag/2".into(), Box::new(Tag("+2")))];
    let pipeline = Pipeline::new("traces", Signal::Traces, input, stages, vec![a, b], DEFAULT_TICK);
    let task = tokio::spawn(pipeline.run());
    input_tx.send(spans("svc", 3, 1).into()).await.unwrap();
    drop(input_tx);
    task.await.unwrap();
    for rx in [&mut ra, &mut rb] {
        let batch = rx.recv().await.expect("a batch").batch;
        assert_eq!(first_name(&batch), "span-0+1+2");
        assert_eq!(batch.item_count(), 3);
        assert!(rx.recv().await.is_none(), "consumer closed after the pipeline ended");
    }
}

#[tokio::test(start_paused = true)]
async fn ticks_flush_and_shutdown_releases_what_is_held() {
    let flushes = Arc::new(Mutex::new(0));
    let hold = Hold { held: Vec::new(), flushes: flushes.clone() };
    let (input_tx, input) = mpsc::channel(4);
    let (a, mut ra) = consumer("a");
    let stages: Vec<(String, Box<dyn Processor>)> =
        vec![("hold".into(), Box::new(hold)), ("tag".into(), Box::new(Tag("!")))];
    let pipeline =
        Pipeline::new("traces", Signal::Traces, input, stages, vec![a], Duration::from_secs(1));
    let task = tokio::spawn(pipeline.run());
    input_tx.send(spans("svc", 2, 1).into()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(ra.try_recv().is_err(), "held until shutdown");
    // the first tick fires at once, then one per second
    assert_eq!(*flushes.lock().unwrap(), 4);
    drop(input_tx);
    task.await.unwrap();
    let batch = ra.recv().await.expect("released at shutdown").batch;
    assert_eq!(first_name(&batch), "span-0!", "released data still runs through later stages");
}

#[tokio::test]
async fn a_consumer_gone_counts_a_drop_without_stopping_the_others() {
    let (input_tx, input) = mpsc::channel(4);
    let (a, ra) = consumer("a");
    let (b, mut rb) = consumer("b");
    drop(ra);
    let pipeline = Pipeline::new("logs", Signal::Logs, input, Vec::new(), vec![a, b], DEFAULT_TICK);
    let task = tokio::spawn(pipeline.run());
    input_tx.send(crate::testing::logs("svc", 2).into()).await.unwrap();
    drop(input_tx);
    task.await.unwrap();
    assert_eq!(rb.recv().await.map(|m| m.batch.item_count()), Some(2));
}

#[tokio::test]
async fn a_full_drop_newest_consumer_loses_only_its_copy() {
    let (input_tx, input) = mpsc::channel(4);
    let (full_sender, mut full_rx) = mpsc::channel(1);
    let full =
        Consumer { when_full: WhenFull::DropNewest, ..Consumer::blocking("drop", full_sender) };
    let (b, mut rb) = consumer("b");
    let pipeline =
        Pipeline::new("logs", Signal::Logs, input, Vec::new(), vec![full, b], DEFAULT_TICK);
    let task = tokio::spawn(pipeline.run());
    for n in 1..=3 {
        input_tx.send(crate::testing::logs("svc", n).into()).await.unwrap();
    }
    drop(input_tx);
    task.await.unwrap();
    assert_eq!(full_rx.recv().await.map(|m| m.batch.item_count()), Some(1), "the first fit");
    assert!(full_rx.recv().await.is_none(), "the others were dropped, not waited for");
    let counts: Vec<usize> =
        std::iter::from_fn(|| rb.try_recv().ok()).map(|m| m.batch.item_count()).collect();
    assert_eq!(counts, vec![1, 2, 3], "the blocking consumer got everything");
}

#[tokio::test]
async fn request_metadata_follows_its_batch_but_not_what_is_flushed_later() {
    let flushes = Arc::new(Mutex::new(0));
    let (input_tx, input) = mpsc::channel(4);
    let (a, mut ra) = consumer("a");
    let stages: Vec<(String, Box<dyn Processor>)> = vec![("tag".into(), Box::new(Tag("!")))];
    let pipeline = Pipeline::new("traces", Signal::Traces, input, stages, vec![a], DEFAULT_TICK);
    let task = tokio::spawn(pipeline.run());
    let metadata = Metadata::new([("X-Scope-OrgID".to_owned(), "acme".to_owned())]);
    input_tx
        .send(Message { batch: spans("svc", 1, 1), metadata, ack: Default::default(), route: None })
        .await
        .unwrap();
    let message = ra.recv().await.unwrap();
    assert_eq!(message.metadata.get("x-scope-orgid"), Some("acme"));

    let hold = Hold { held: Vec::new(), flushes };
    let (input_tx, input) = mpsc::channel(4);
    let (b, mut rb) = consumer("b");
    let stages: Vec<(String, Box<dyn Processor>)> = vec![("hold".into(), Box::new(hold))];
    let pipeline = Pipeline::new("traces", Signal::Traces, input, stages, vec![b], DEFAULT_TICK);
    let held = tokio::spawn(pipeline.run());
    let metadata = Metadata::new([("x-scope-orgid".to_owned(), "acme".to_owned())]);
    input_tx
        .send(Message { batch: spans("svc", 1, 1), metadata, ack: Default::default(), route: None })
        .await
        .unwrap();
    drop(input_tx);
    held.await.unwrap();
    assert!(rb.recv().await.unwrap().metadata.is_empty(), "released at shutdown, not in a request");
    drop(task);
}

/// Counts what it saw and asks for that count to be kept on disk at each flush.
struct Keeps {
    path: std::path::PathBuf,
    seen: usize,
}

impl Processor for Keeps {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        self.seen += batch.item_count();
        out.push(batch);
    }
    fn flush(&mut self, _now: Instant, out: &mut Output) {
        out.persist(Persist { path: self.path.clone(), bytes: self.seen.to_string().into() });
    }
}

#[tokio::test]
async fn the_pipeline_writes_the_state_processors_ask_it_to_keep() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/keeps.txt");
    let (input_tx, input) = mpsc::channel(4);
    let (a, mut ra) = consumer("a");
    let stages: Vec<(String, Box<dyn Processor>)> =
        vec![("keeps".into(), Box::new(Keeps { path: path.clone(), seen: 0 }))];
    let pipeline = Pipeline::new("traces", Signal::Traces, input, stages, vec![a], DEFAULT_TICK);
    let task = tokio::spawn(pipeline.run());
    input_tx.send(spans("svc", 3, 1).into()).await.unwrap();
    input_tx.send(spans("svc", 4, 2).into()).await.unwrap();
    drop(input_tx);
    task.await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "7", "written at shutdown, directory made");
    assert!(ra.recv().await.is_some(), "batches still flow");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}
