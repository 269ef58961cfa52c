//! The `prometheus` receiver: scrapes the targets of Prometheus' `scrape_configs` (static and
//! file discovery, `relabel_configs`) every `scrape_interval`, each within `scrape_timeout`
//! and `body_size_limit`, at an offset in the interval fixed per target so that scrapes do not
//! all start together; reads the text format or OpenMetrics (asked for first); applies
//! `metric_relabel_configs`, `sample_limit` and `label_limit`; and hands OTLP metrics to the
//! pipelines (`translate.rs`) with Prometheus' synthetic `up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling` and `scrape_series_added`.
//! A failed scrape is `up` 0, logged, and its target's series go stale.

mod config;
mod discovery;
mod exposition;
mod kubernetes;
mod relabel;
#[cfg(test)]
mod tests;
mod translate;

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

pub use config::{
    Authorization, BasicAuth, Config, FileSdConfig, Global, PrometheusConfig, ScrapeConfig,
    Settings, StaticConfig, TlsConfig,
};
use http_body_util::{BodyExt, Full};
pub use relabel::RelabelConfig;
use tokio_util::sync::CancellationToken;
use weir_core::{BoxFuture, Receiver, ReceiverError, ReceiverOutput, declare::BuildReceiver};
use weir_otlp::{
    Batch,
    proto::metrics::v1::{Gauge, Metric, NumberDataPoint, metric, number_data_point},
};

use self::{
    config::{Credentials, Job},
    translate::{State, Target},
};

/// What Prometheus asks for: OpenMetrics first, then the text format.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

use crate::scrape::HttpClient;

impl BuildReceiver for Settings {
    fn build<'a>(
        &'a self,
        id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> BoxFuture<'a, std::io::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let mut clients = Vec::new();
            for job in &self.jobs {
                clients.push(crate::scrape::http_client(&job.tls)?);
            }
            Ok(Box::new(PrometheusReceiver { id: id.to_owned(), settings: self.clone(), clients })
                as Box<dyn Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// The running receiver.
pub struct PrometheusReceiver {
    id: String,
    settings: Settings,
    clients: Vec<HttpClient>,
}

impl Receiver for PrometheusReceiver {
    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let PrometheusReceiver { id, settings, clients } = *self;
            let settings = Arc::new(settings);
            let output = Arc::new(output);
            let mut tasks = Vec::new();
            for (index, client) in clients.into_iter().enumerate() {
                let (id, settings, output, shutdown) =
                    (id.clone(), settings.clone(), output.clone(), shutdown.clone());
                tasks.push(tokio::spawn(async move {
                    run_job(&id, settings, index, client, output, shutdown).await;
                }));
            }
            for task in tasks {
                let _ = task.await;
            }
            Ok(())
        })
    }
}

/// Keeps one scrape loop per target of job `index`, as discovery finds them.
async fn run_job(
    id: &str,
    settings: Arc<Settings>,
    index: usize,
    client: HttpClient,
    output: Arc<ReceiverOutput>,
    shutdown: CancellationToken,
) {
    let job = &settings.jobs[index];
    let refresh = job.file_sd.iter().map(|(_, every)| *every).min();
    let changed = Arc::new(tokio::sync::Notify::new());
    let mut found = Vec::new();
    for sd in &job.kubernetes {
        let (sender, mut receiver) = tokio::sync::watch::channel(Vec::new());
        tokio::spawn(kubernetes::discover(job.name.clone(), sd.clone(), sender, shutdown.clone()));
        found.push(receiver.clone());
        let changed = changed.clone();
        tokio::spawn(async move {
            while receiver.changed().await.is_ok() {
                changed.notify_one();
            }
        });
    }
    let mut running: HashMap<Target, CancellationToken> = HashMap::new();
    loop {
        let groups: Vec<Vec<kubernetes::Group>> =
            found.iter().map(|r| r.borrow().clone()).collect();
        let targets = discovery::targets(job, &groups);
        running.retain(|target, stop| {
            let keep = targets.contains(target);
            if !keep {
                stop.cancel();
            }
            keep
        });
        for target in targets {
            if running.contains_key(&target) {
                continue;
            }
            let stop = shutdown.child_token();
            running.insert(target.clone(), stop.clone());
            let (id, settings, client, output) =
                (id.to_owned(), settings.clone(), client.clone(), output.clone());
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let state =
                    scrape_loop(&id, &settings, index, &target, client, &output, stop).await;
                if !shutdown.is_cancelled() {
                    gone(&id, &target, state, &output).await;
                }
            });
        }
        let timer = async {
            match refresh {
                Some(refresh) => tokio::time::sleep(refresh).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = timer => {}
            () = changed.notified() => {}
        }
    }
}

/// A target discovery no longer finds: its series go stale, as Prometheus marks them.
async fn gone(id: &str, target: &Target, mut state: State, output: &ReceiverOutput) {
    let stale = translate::all_stale(&mut state, unix_nanos());
    if stale.is_empty() {
        return;
    }
    let batch =
        Batch::from(vec![translate::resource_metrics(translate::resource_of(target), stale)]);
    if let Err(error) = output.send(batch, Instant::now() + Duration::from_secs(5)).await {
        tracing::warn!(receiver = id, target = %target.url, %error, "the stale markers of a target gone were not taken");
    }
}

/// Scrapes `target` every interval, at an offset fixed by its URL, until `stop`; returns
/// what it knew of the target's series.
async fn scrape_loop(
    id: &str,
    settings: &Settings,
    index: usize,
    target: &Target,
    client: HttpClient,
    output: &ReceiverOutput,
    stop: CancellationToken,
) -> State {
    let job = &settings.jobs[index];
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    target.url.hash(&mut hasher);
    let offset = Duration::from_nanos(hasher.finish() % job.interval.as_nanos().max(1) as u64);
    let mut state = State::default();
    tokio::select! {
        _ = stop.cancelled() => return state,
        _ = tokio::time::sleep(offset) => {}
    }
    let mut ticker = tokio::time::interval(job.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let labels = [
        (weir_core::telemetry::RECEIVER, id.to_owned()),
        (weir_core::telemetry::TRANSPORT, "http".to_owned()),
    ];
    let signal = weir_otlp::Signal::Metrics;
    let accepted = metrics::counter!(weir_core::telemetry::receiver_accepted(signal), &labels);
    let refused = metrics::counter!(weir_core::telemetry::receiver_refused(signal), &labels);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return state,
            _ = ticker.tick() => {}
        }
        let batch = scrape(id, settings, job, target, &client, &mut state).await;
        let points = batch.item_count() as u64;
        match output.send(batch, Instant::now() + job.interval).await {
            Ok(()) => accepted.increment(points),
            Err(error) => {
                refused.increment(points);
                tracing::warn!(receiver = id, target = %target.url, %error, "a scrape was not taken by the pipelines");
            }
        }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// One scrape of `target`, as the batch to send: its metrics (or its series gone stale) and
/// the synthetic ones.
async fn scrape(
    id: &str,
    settings: &Settings,
    job: &Job,
    target: &Target,
    client: &HttpClient,
    state: &mut State,
) -> Batch {
    let now = unix_nanos();
    let began = Instant::now();
    let fetched = tokio::time::timeout(job.timeout, fetch(job, target, client)).await;
    let page = match fetched {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within scrape_timeout ({:?})", job.timeout)),
    };
    let parsed = page.and_then(|(body, openmetrics)| {
        let text = std::str::from_utf8(&body).map_err(|_| "the page is not UTF-8".to_owned())?;
        let families = exposition::parse(text, openmetrics)?;
        Ok((families, body.len()))
    });
    let checked = parsed.and_then(|(families, size)| {
        if job.label_limit > 0 {
            let extra = target.labels.len();
            let over = families
                .iter()
                .flat_map(|f| &f.samples)
                .find(|s| s.labels.len() + extra > job.label_limit);
            if let Some(sample) = over {
                return Err(format!(
                    "label_limit ({}) exceeded by {}",
                    job.label_limit, sample.name
                ));
            }
        }
        Ok((families, size))
    });
    let (mut resource_metrics, counts, size, up) = match checked {
        Ok((families, size)) => {
            let (metrics, counts) = translate::convert(
                target,
                job,
                &families,
                now,
                state,
                settings.trim_metric_suffixes,
            );
            if job.sample_limit > 0 && counts.kept > job.sample_limit {
                tracing::warn!(receiver = id, target = %target.url, limit = job.sample_limit, samples = counts.kept, "scrape failed: sample_limit exceeded");
                let stale = translate::all_stale(state, now);
                let resource = translate::resource_of(target);
                (translate::resource_metrics(resource, stale), counts, size, 0.0)
            } else {
                (metrics, counts, size, 1.0)
            }
        }
        Err(error) => {
            tracing::warn!(receiver = id, target = %target.url, %error, "scrape failed");
            let stale = translate::all_stale(state, now);
            let resource = translate::resource_of(target);
            (translate::resource_metrics(resource, stale), translate::Counts::default(), 0, 0.0)
        }
    };
    let mut synthetic = vec![
        ("up", up),
        ("scrape_duration_seconds", began.elapsed().as_secs_f64()),
        ("scrape_samples_scraped", counts.scraped as f64),
        ("scrape_samples_post_metric_relabeling", counts.kept as f64),
        ("scrape_series_added", counts.added as f64),
    ];
    if settings.report_extra_scrape_metrics {
        synthetic.push(("scrape_body_size_bytes", size as f64));
        synthetic.push(("scrape_sample_limit", job.sample_limit as f64));
        synthetic.push(("scrape_timeout_seconds", job.timeout.as_secs_f64()));
    }
    let metrics = &mut resource_metrics.scope_metrics[0].metrics;
    // as Prometheus labels them: with the target's labels
    let attributes: Vec<_> = target
        .labels
        .iter()
        .filter(|(k, _)| k != "job" && k != "instance")
        .map(|(k, v)| weir_otlp::attributes::kv(k, v))
        .collect();
    for (name, value) in synthetic {
        metrics.push(Metric {
            name: name.to_owned(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    attributes: attributes.clone(),
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsDouble(value)),
                    ..Default::default()
                }],
            })),
            ..Default::default()
        });
    }
    Batch::from(vec![resource_metrics])
}

/// One scrape's page of the first target of the first job, parsed and translated as the
/// receiver does (a fresh target: every series is new): the cost of a scrape without the
/// network, for benchmarks.
pub fn convert_page(settings: &Settings, page: &str, openmetrics: bool) -> Result<Batch, String> {
    let job = settings.jobs.first().ok_or("no job")?;
    let target = discovery::targets(job, &[]).into_iter().next().ok_or("no static target")?;
    let families = exposition::parse(page, openmetrics)?;
    let mut state = State::default();
    let (metrics, _) = translate::convert(
        &target,
        job,
        &families,
        unix_nanos(),
        &mut state,
        settings.trim_metric_suffixes,
    );
    Ok(Batch::from(vec![metrics]))
}

/// The page of `target` and whether it is OpenMetrics, read up to the job's limit.
async fn fetch(job: &Job, target: &Target, client: &HttpClient) -> Result<(Vec<u8>, bool), String> {
    let mut request = hyper::Request::get(&target.url)
        .header("accept", ACCEPT)
        .header("user-agent", concat!("weir/", env!("CARGO_PKG_VERSION")))
        .header("x-prometheus-scrape-timeout-seconds", job.timeout.as_secs_f64().to_string());
    match &job.credentials {
        Some(Credentials::Header(value)) => request = request.header("authorization", value),
        Some(Credentials::File(scheme, path)) => {
            let token = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            request = request.header("authorization", format!("{scheme} {}", token.trim()));
        }
        Some(Credentials::BasicFile(user, path)) => {
            use base64::Engine as _;
            let password = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let pair = format!("{user}:{}", password.trim_end_matches('\n'));
            let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
            request = request.header("authorization", value);
        }
        None => {}
    }
    let request = request.body(Full::default()).map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| format!("{}: {e}", target.url))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{}: server returned HTTP status {status}", target.url));
    }
    let openmetrics = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/openmetrics-text"));
    let mut body = response.into_body();
    let mut page = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("{}: {e}", target.url))?;
        if let Ok(data) = frame.into_data() {
            if page.len() + data.len() > job.body_limit {
                return Err(format!(
                    "body size limit exceeded: more than {} bytes",
                    job.body_limit
                ));
            }
            page.extend_from_slice(&data);
        }
    }
    Ok((page, openmetrics))
}
