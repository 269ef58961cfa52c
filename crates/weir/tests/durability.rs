//! Durability of the persistent sending queue, with weir as a real process: killed with
//! SIGKILL while clients send, and writing to a disk that fills up. Every item a client was
//! told is accepted must reach the backend at least once.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{SocketAddr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use prost::Message as _;
use weir_otlp::{
    ExportLogsServiceRequest, ExportLogsServiceResponse, proto::common::v1::any_value::Value,
};

/// Makes each item about 150 bytes.
const PADDING: &str = "................................................................................................................................";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(weir_port: u16, backend_port: u16, directory: &Path, extra: &str) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{weir_port}
processors:
  batch:
    timeout: 20ms
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:{backend_port}
    compression: none
    timeout: 2s
    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms}}
    sending_queue:
      storage: file_storage
extensions:
  file_storage:
    directory: {}
{extra}
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
",
        directory.display()
    )
}

/// weir as a child process on `config_path`, once its receiver answers.
fn start_weir(config_path: &Path, port: u16, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--config")
        .arg(config_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let listening = weir_core::testing::wait_until(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(listening, "weir listens on {port}");
    child
}

/// A backend that records the body of every log record it receives.
struct Backend {
    received: Arc<Mutex<Vec<String>>>,
    runtime: tokio::runtime::Runtime,
}

impl Backend {
    fn start(port: u16) -> Backend {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = received.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
                .await
                .unwrap();
            let router = Router::new().route("/v1/logs", post(accept)).with_state(state);
            axum::serve(listener, router).await.unwrap();
        });
        Backend { received, runtime }
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

async fn accept(State(received): State<Arc<Mutex<Vec<String>>>>, body: Bytes) -> Vec<u8> {
    let request = ExportLogsServiceRequest::decode(body).expect("OTLP protobuf");
    let mut received = received.lock().unwrap();
    for record in
        request.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records)
    {
        if let Some(Value::StringValue(text)) = record.body.as_ref().and_then(|b| b.value.as_ref())
        {
            received.push(text.clone());
        }
    }
    ExportLogsServiceResponse::default().encode_to_vec()
}

/// Sends numbered items, `per_request` at a time, until `stop`; returns the numbers of the
/// items whose request was answered 200, and how many requests were refused or failed.
fn client(
    port: u16,
    first: usize,
    per_request: usize,
    stop: Arc<AtomicBool>,
    pause: Duration,
) -> (Vec<usize>, usize) {
    let http =
        reqwest::blocking::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    let (mut acked, mut refused, mut next) = (Vec::new(), 0, first);
    while !stop.load(Ordering::Acquire) {
        let items: Vec<usize> = (next..next + per_request).collect();
        next += per_request;
        let records: Vec<String> = items
            .iter()
            .map(|i| format!(r#"{{"body":{{"stringValue":"item-{i} {PADDING}"}}}}"#))
            .collect();
        let body = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
            records.join(",")
        );
        let answer = http
            .post(format!("http://127.0.0.1:{port}/v1/logs"))
            .header("content-type", "application/json")
            .body(body)
            .send();
        match answer {
            Ok(response) if response.status() == 200 => acked.extend(items),
            _ => refused += 1,
        }
        std::thread::sleep(pause);
    }
    (acked, refused)
}

fn wait_for(
    backend: &Backend,
    acked: &BTreeSet<usize>,
    within: Duration,
) -> BTreeMap<usize, usize> {
    let deadline = Instant::now() + within;
    loop {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for text in backend.received() {
            let number = text
                .strip_prefix("item-")
                .and_then(|n| n.split(' ').next()?.parse().ok())
                .expect("an item");
            *counts.entry(number).or_default() += 1;
        }
        if acked.iter().all(|i| counts.contains_key(i)) || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn items_acknowledged_before_kill_9_are_delivered_after_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (weir_port, backend_port) = (free_port(), free_port());
    let config_path = dir.path().join("weir.yaml");
    let storage = dir.path().join("storage");
    let extra = "    create_directory: true\n    fsync: false";
    std::fs::write(&config_path, config(weir_port, backend_port, &storage, extra)).unwrap();
    let log = dir.path().join("weir.log");

    let stop = Arc::new(AtomicBool::new(false));
    let mut weir = start_weir(&config_path, weir_port, &log);
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let stop = stop.clone();
            // four clients, numbered apart
            std::thread::spawn(move || {
                client(weir_port, c * 1_000_000_000, 100, stop, Duration::ZERO)
            })
        })
        .collect();
    let kills = AtomicUsize::new(0);
    for cycle in 0..5 {
        std::thread::sleep(Duration::from_millis(300 + 150 * cycle));
        weir.kill().unwrap(); // SIGKILL
        weir.wait().unwrap();
        kills.fetch_add(1, Ordering::AcqRel);
        weir = start_weir(&config_path, weir_port, &log);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Release);
    let mut acked = BTreeSet::new();
    let mut refused = 0;
    for client in clients {
        let (items, failures) = client.join().unwrap();
        acked.extend(items);
        refused += failures;
    }
    weir.kill().unwrap();
    weir.wait().unwrap();

    // The backend comes up; weir starts again and delivers what its log holds.
    let backend = Backend::start(backend_port);
    let mut weir = start_weir(&config_path, weir_port, &log);
    let counts = wait_for(&backend, &acked, Duration::from_secs(60));
    weir.kill().unwrap();
    weir.wait().unwrap();
    drop(backend.runtime);
    let kept = std::env::var_os("WEIR_TEST_KEEP").map(|_| dir.keep());
    eprintln!("kept: {kept:?}");

    let missing: Vec<&usize> = acked.iter().filter(|i| !counts.contains_key(i)).collect();
    let received: usize = counts.values().sum();
    let duplicates = received - counts.len();
    let unacked_delivered = counts.keys().filter(|i| !acked.contains(i)).count();
    eprintln!(
        "{} kills; {} items acknowledged, {} requests refused or cut; received {received} ({} distinct): \
         {duplicates} duplicates, {unacked_delivered} delivered without an acknowledgement",
        kills.load(Ordering::Acquire),
        acked.len(),
        refused,
        counts.len()
    );
    assert!(acked.len() > 1_000, "the clients got through between kills: {}", acked.len());
    assert!(refused > 0, "some requests met a dead weir");
    assert!(
        missing.is_empty(),
        "{} acknowledged items lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(path.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_clients_keeps_what_it_acknowledged_and_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (weir_port, backend_port) = (free_port(), free_port());
    let storage = dir.path().join("storage");
    // A 256 KiB disk; without the right to mount one, a log bounded to 1 MiB stands in.
    let tmpfs = Tmpfs::mount(&storage, "256k");
    let extra = match &tmpfs {
        Some(_) => "    create_directory: true",
        None => {
            eprintln!(
                "mount -t tmpfs is not permitted: bounding the log with max_size_mib: 1 instead"
            );
            "    create_directory: true\n    max_size_mib: 1"
        }
    };
    let config_path = dir.path().join("weir.yaml");
    std::fs::write(&config_path, config(weir_port, backend_port, &storage, extra)).unwrap();
    let log = dir.path().join("weir.log");
    let mut weir = start_weir(&config_path, weir_port, &log);

    // The backend is down: the log fills the disk, then clients are refused.
    let run_clients = |first: usize, seconds: u64| {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    client(weir_port, first + c * 1_000_000, 100, stop, Duration::ZERO)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Release);
        let mut acked = BTreeSet::new();
        let mut refused = 0;
        for client in clients {
            let (items, failures) = client.join().unwrap();
            acked.extend(items);
            refused += failures;
        }
        (acked, refused)
    };
    let (mut acked, refused) = run_clients(0, 6);
    eprintln!("disk full: {} items acknowledged, {refused} requests refused", acked.len());
    assert!(!acked.is_empty(), "the log took data until the disk was full");
    assert!(refused > 0, "then clients were refused");
    assert!(weir.try_wait().unwrap().is_none(), "weir keeps running on a full disk");

    // Space returns as the backend takes what the log holds.
    let backend = Backend::start(backend_port);
    let counts = wait_for(&backend, &acked, Duration::from_secs(30));
    let missing = acked.iter().filter(|i| !counts.contains_key(i)).count();
    assert_eq!(missing, 0, "every acknowledged item delivered once the backend is up");
    let (resumed, _) = run_clients(100_000_000, 2);
    eprintln!("after space returned: {} more items acknowledged", resumed.len());
    assert!(!resumed.is_empty(), "clients are accepted again");
    acked.extend(resumed);
    let counts = wait_for(&backend, &acked, Duration::from_secs(30));
    weir.kill().unwrap();
    weir.wait().unwrap();
    let missing = acked.iter().filter(|i| !counts.contains_key(i)).count();
    assert_eq!(missing, 0, "every acknowledged item delivered");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("persistent queue: batch not written"), "the refusals are logged");
    drop(tmpfs);
}
