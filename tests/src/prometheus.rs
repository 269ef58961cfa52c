//! A real Prometheus server (Debian package `prometheus`) for end-to-end tests: started on a
//! free loopback port with a temporary storage path, stopped with the test.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A Prometheus server that stops with the test.
pub struct Prometheus {
    child: Child,
    /// `host:port` of its HTTP API.
    pub address: String,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(args: &[String]) -> Child {
    Command::new("prometheus")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus) is installed: scripts/test installs it")
}

/// Starts Prometheus scraping `target` every second (if any), with extra `flags`.
pub fn start_prometheus(target: Option<std::net::SocketAddr>, flags: &[&str]) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let scrape = match target {
        Some(target) => format!(
            "scrape_configs:\n  - job_name: weir\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
        None => String::new(),
    };
    start_with_config(&format!("global: {{scrape_interval: 1s}}\n{scrape}"), flags, dir)
}

/// Starts Prometheus on `config` (a whole `prometheus.yml`).
pub fn start_prometheus_with(config: &str) -> Prometheus {
    start_with_config(config, &[], tempfile::tempdir().unwrap())
}

fn start_with_config(text: &str, flags: &[&str], dir: tempfile::TempDir) -> Prometheus {
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, text).unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let mut args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address={address}"),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    let child = spawn(&args);
    let prometheus = Prometheus { child, address, args, _dir: dir };
    prometheus.wait_ready();
    prometheus
}

impl Prometheus {
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if reqwest::blocking::get(format!("http://{}/-/ready", self.address))
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not become ready on {}", self.address);
    }

    /// Stops the server gracefully (SIGTERM, so its write-ahead log is complete).
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.child = spawn(&self.args);
        self.wait_ready();
    }

    /// The remote-write URL.
    pub fn remote_write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.address)
    }

    /// A GET of the HTTP API, parsed.
    pub fn api(&self, path_and_query: &str) -> Option<serde_json::Value> {
        let response =
            reqwest::blocking::get(format!("http://{}{path_and_query}", self.address)).ok()?;
        serde_json::from_str(&response.text().ok()?).ok()
    }
}

/// Percent-encodes a query parameter.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of an instant PromQL query, once it satisfies `want` (60 s at most).
pub fn query(prometheus: &Prometheus, promql: &str, want: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(body) = prometheus.api(&format!("/api/v1/query?query={}", encode(promql)))
            && let Some(value) = body["data"]["result"][0]["value"][1].as_str()
        {
            let value: f64 = value.parse().unwrap();
            if want(value) {
                return value;
            }
            last = Some(value);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{promql}: no wanted value within 60 s (last {last:?})");
}
