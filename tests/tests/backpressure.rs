//! A pipeline that does not drain: the receiver waits for room until the deadline, then
//! refuses with a retryable status (gRPC UNAVAILABLE, HTTP 503 with Retry-After) instead of
//! buffering, and the refused request reaches no pipeline.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weir_core::{Consumer, Receiver, ReceiverOutput, Signal, testing::spans};
use weir_receivers::otlp::{Config, Grpc, Http, OtlpReceiver, Protocols};
use weir_tests::grpc_raw;

#[test]
fn a_full_pipeline_is_refused_with_a_retryable_status_after_the_deadline() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let config = Config {
            protocols: Protocols {
                grpc: Some(Grpc { endpoint: "127.0.0.1:0".into(), ..Grpc::default() }),
                http: Some(Http { endpoint: "127.0.0.1:0".into(), ..Http::default() }),
            },
        };
        let receiver = OtlpReceiver::bind("otlp", &config, &Default::default()).await.unwrap();
        let addrs = receiver.local_addrs();
        let (grpc, http) = (addrs[0].1, addrs[1].1);
        // A pipeline input of one batch, already full, that nobody reads.
        let (sender, mut input) = mpsc::channel(1);
        sender.try_send(spans("filler", 1, 0).into()).unwrap();
        let mut output = ReceiverOutput::new();
        output.add(Signal::Traces, Consumer::blocking("traces", sender));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(Box::new(receiver).run(output, shutdown.clone()));
        let body = spans("svc", 5, 1).encode_protobuf();

        // gRPC: the client's 1 s deadline bounds the wait (weir answers 20 % early).
        let started = Instant::now();
        let path = Signal::Traces.grpc_export_path();
        let answer = grpc_raw(grpc, path, body.clone(), &[("grpc-timeout", "1S")]).await;
        let waited = started.elapsed();
        assert_eq!(answer.code, 14, "UNAVAILABLE: {answer:?}");
        assert!(answer.message.contains("pipeline is full"), "{answer:?}");
        assert!(
            waited >= Duration::from_millis(700) && waited < Duration::from_secs(3),
            "{waited:?}"
        );

        // HTTP has no deadline header: the receiver waits its default (5 s) at most.
        let client = reqwest::Client::new();
        let response = client
            .post(format!("http://{http}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");

        // Neither refused request reached the pipeline: only the filler is there.
        assert_eq!(input.try_recv().unwrap().batch.item_count(), 1);
        assert!(input.try_recv().is_err());
        shutdown.cancel();
        task.await.unwrap().unwrap();
    });
}
