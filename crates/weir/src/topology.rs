//! Building a [`Plan`] into running tasks, and shutting them down in order.
//!
//! One task per export queue, one per pipeline, one per connector and input signal, one per
//! receiver. They are joined only by bounded channels; each task holds the senders of what it
//! feeds. Shutdown cancels the receivers; every other task ends when its input closes, after
//! handing on what it held, so data drains downstream stage by stage.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use weir_core::{
    Consumer, Message, Processor, ReceiverError, ReceiverOutput, Signal, export,
    memory::{self, MemoryLimiter},
    pipeline::{DEFAULT_TICK, Pipeline},
};

use weir_extensions::health_check::Health;
use weir_processors::ProcessorSettings;

use crate::config::{ComponentId, Plan};

/// Batches a pipeline input holds before receivers wait (and, past their deadline, refuse).
pub const PIPELINE_CAPACITY: usize = 16;

/// How long shutdown may take to drain pipelines and export queues by default.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);

/// A running topology.
pub struct Running {
    addrs: Vec<(String, &'static str, SocketAddr)>,
    shutdown: CancellationToken,
    receivers: Vec<(String, JoinHandle<Result<(), ReceiverError>>)>,
    pipelines: Vec<JoinHandle<()>>,
    exporters: Vec<JoinHandle<()>>,
    health: Health,
    /// Stops the services beside the pipelines (self-metrics, extensions), last.
    services_shutdown: CancellationToken,
    services: Vec<(String, JoinHandle<std::io::Result<()>>)>,
}

/// The id under which [`Running::addr`] knows the self-metrics endpoint.
pub const TELEMETRY: &str = "service.telemetry.metrics";

async fn bind(what: &str, endpoint: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(endpoint)
        .await
        .with_context(|| format!("{what}: cannot listen on {endpoint}"))
}

/// Starts the self-metrics endpoint and the extensions: they answer (health: 503) while the
/// pipelines are built.
async fn start_services(
    plan: &Plan,
    health: &Health,
    shutdown: &CancellationToken,
    addrs: &mut Vec<(String, &'static str, SocketAddr)>,
) -> anyhow::Result<Vec<(String, JoinHandle<std::io::Result<()>>)>> {
    let mut services = Vec::new();
    if let Some(endpoint) = plan.telemetry.metrics.endpoint() {
        crate::telemetry::recorder();
        crate::telemetry::target_info(&plan.telemetry.resource);
        let listener = bind(TELEMETRY, &endpoint).await?;
        addrs.push((TELEMETRY.into(), "http", listener.local_addr()?));
        services.push((
            TELEMETRY.to_owned(),
            tokio::spawn(crate::telemetry::serve(listener, shutdown.clone())),
        ));
    }
    let context = weir_extensions::Context {
        health: health.clone(),
        shutdown: shutdown.clone(),
        topology: Arc::new(describe(plan)),
        recent_errors: crate::telemetry::recent_errors(),
    };
    for (id, extension) in &plan.extensions {
        let served = extension.as_dyn().serve(id.as_str(), &context).await?;
        if let Some(served) = served {
            addrs.push((id.to_string(), "http", served.addr));
            services.push((id.to_string(), served.task));
        }
    }
    Ok(services)
}

/// The running configuration as the zpages describe it.
fn describe(plan: &Plan) -> weir_extensions::zpages::Topology {
    use weir_extensions::zpages::{ComponentRow, Pipeline};
    let ids = |list: &[ComponentId]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let pipelines = plan
        .pipelines
        .iter()
        .map(|p| Pipeline {
            id: p.id.clone(),
            receivers: ids(&p.receivers),
            processors: ids(&p.processors),
            exporters: ids(&p.exporters),
        })
        .collect();
    let mut components = Vec::new();
    let mut row = |kind: &'static str, id: &ComponentId, d: &'static weir_core::Declaration| {
        let (type_name, stability) = (d.name, d.stability.as_str());
        components.push(ComponentRow { kind, id: id.to_string(), type_name, stability });
    };
    plan.receivers.iter().for_each(|(id, c)| row("receiver", id, c.declaration()));
    plan.processors.iter().for_each(|(id, c)| row("processor", id, c.declaration()));
    plan.exporters.iter().for_each(|(id, c)| row("exporter", id, c.declaration()));
    plan.connectors.iter().for_each(|(id, c)| row("connector", id, c.declaration()));
    plan.extensions.iter().for_each(|(id, c)| row("extension", id, c.declaration()));
    weir_extensions::zpages::Topology { pipelines, components }
}

/// Export queues: one per exporter, shared by every pipeline that lists it; an exporter that
/// serves (a scrape endpoint) adds its address to `addrs`.
async fn export_queues<'p>(
    plan: &'p Plan,
    auth: &weir_core::auth::Authenticators,
    addrs: &mut Vec<(String, &'static str, SocketAddr)>,
) -> anyhow::Result<(HashMap<&'p ComponentId, Consumer>, Vec<export::ExportQueue>)> {
    let mut exporter_inputs: HashMap<&ComponentId, Consumer> = HashMap::new();
    let mut queues = Vec::new();
    for (id, config) in &plan.exporters {
        let exporter = config
            .as_dyn()
            .build(id.as_str(), auth)
            .await
            .with_context(|| format!("exporter {id}"))?;
        if let Some(addr) = exporter.local_addr() {
            addrs.push((id.to_string(), "http", addr));
        }
        let settings = config.as_dyn().queue();
        let (consumer, queue) = match &settings.queue.storage {
            None => export::queue(id.as_str(), exporter, settings),
            Some(storage) => {
                let storage = plan
                    .extensions
                    .iter()
                    .find_map(|(e, c)| (e.as_str() == storage).then(|| c.as_dyn().storage())?)
                    .context("validated: a file_storage extension")?
                    .storage()
                    .with_context(|| format!("exporter {id}: sending_queue.storage {storage}"))?;
                export::persistent_queue(id.as_str(), exporter, settings, &storage)
                    .with_context(|| format!("exporter {id}: opening its persistent queue"))?
            }
        };
        exporter_inputs.insert(id, consumer);
        queues.push(queue);
    }
    Ok((exporter_inputs, queues))
}

/// Memory limiters: one per processor id, sampling usage until the services stop.
fn memory_limiters<'p>(
    plan: &'p Plan,
    services_shutdown: &CancellationToken,
    services: &mut Vec<(String, JoinHandle<std::io::Result<()>>)>,
) -> HashMap<&'p ComponentId, Arc<MemoryLimiter>> {
    let mut limiters: HashMap<&ComponentId, Arc<MemoryLimiter>> = HashMap::new();
    for (id, config) in &plan.processors {
        let ProcessorSettings::MemoryLimiter(config) = config else { continue };
        let (limit, spike) = config.limits(memory::total_memory().unwrap_or(0));
        let limiter = MemoryLimiter::new(id.as_str(), limit, spike, config.check_interval);
        let sampler = limiter.clone().run(services_shutdown.clone());
        services.push((
            id.to_string(),
            tokio::spawn(async move {
                sampler.await;
                Ok(())
            }),
        ));
        limiters.insert(id, limiter);
    }
    limiters
}

/// The work processors need beside them (Kubernetes watches), started once per processor id
/// and stopped with the services; waits for what the receivers need first.
async fn backgrounds(
    plan: &Plan,
    services_shutdown: &CancellationToken,
    services: &mut Vec<(String, JoinHandle<std::io::Result<()>>)>,
) -> anyhow::Result<()> {
    let mut ready = Vec::new();
    for (id, settings) in &plan.processors {
        let started = settings.as_dyn().background(id.as_str(), services_shutdown.child_token());
        let Some(background) =
            started.await.map_err(|e| anyhow::anyhow!("processors.{id}: {e}"))?
        else {
            continue;
        };
        let run = background.run;
        services.push((
            id.to_string(),
            tokio::spawn(async move {
                run.await;
                Ok(())
            }),
        ));
        ready.extend(background.ready.map(|r| (id, r)));
    }
    for (id, ready) in ready {
        if tokio::time::timeout(ready.within, ready.when).await.is_err() {
            if ready.fatal {
                anyhow::bail!("processors.{id}: {}", ready.failure);
            }
            tracing::warn!(processor = %id, "{}; starting without it", ready.failure);
        }
    }
    Ok(())
}

/// The input channel of every pipeline: senders for what feeds it, receivers for its task.
struct Inputs<'p> {
    senders: HashMap<&'p str, mpsc::Sender<Message>>,
    receivers: HashMap<&'p str, mpsc::Receiver<Message>>,
}

impl<'p> Inputs<'p> {
    fn new(plan: &'p Plan) -> Inputs<'p> {
        let (mut senders, mut receivers) = (HashMap::new(), HashMap::new());
        for pipeline in &plan.pipelines {
            let (sender, receiver) = mpsc::channel(PIPELINE_CAPACITY);
            senders.insert(pipeline.id.as_str(), sender);
            receivers.insert(pipeline.id.as_str(), receiver);
        }
        Inputs { senders, receivers }
    }

    /// A feeder of pipeline `id`'s input.
    fn consumer(&self, id: &str) -> Consumer {
        Consumer::blocking(id, self.senders[id].clone())
    }
}

/// The inputs of the connectors, by connector and the signal it takes there.
type ConnectorInputs<'p> = HashMap<(&'p ComponentId, Signal), Consumer>;

/// Connectors: one pipeline-like task per connector and signal it takes, feeding every
/// pipeline that lists the connector as a receiver and that it can feed from that signal.
fn connectors<'p>(plan: &'p Plan, inputs: &Inputs<'p>) -> (ConnectorInputs<'p>, Vec<Pipeline>) {
    let mut connector_inputs = HashMap::new();
    let mut runnable = Vec::new();
    for (id, connector) in &plan.connectors {
        for from in Signal::ALL {
            let feeds_from_here =
                plan.pipelines.iter().any(|p| p.signal == from && p.exporters.contains(id));
            if !feeds_from_here {
                continue;
            }
            let consumers: Vec<Consumer> = plan
                .pipelines
                .iter()
                .filter(|p| {
                    p.receivers.contains(id)
                        && connector.declaration().signals.connects(from, p.signal)
                })
                .map(|p| inputs.consumer(&p.id))
                .collect();
            let (sender, receiver) = mpsc::channel(PIPELINE_CAPACITY);
            let name = format!("{id}/{from}");
            connector_inputs.insert((id, from), Consumer::blocking(name.clone(), sender));
            let stages: Vec<(String, Box<dyn Processor>)> =
                vec![(id.to_string(), connector.as_dyn().build(id.as_str()))];
            runnable.push(Pipeline::new(name, from, receiver, stages, consumers, DEFAULT_TICK));
        }
    }
    (connector_inputs, runnable)
}

/// A receiver built, with the outputs it feeds.
type BuiltReceiver = (String, Box<dyn weir_core::Receiver>, ReceiverOutput);

/// Receivers: each feeds the input of every pipeline that lists it, through the memory
/// limiters of those pipelines.
async fn receivers(
    plan: &Plan,
    inputs: &Inputs<'_>,
    limiters: &HashMap<&ComponentId, Arc<MemoryLimiter>>,
    auth: &weir_core::auth::Authenticators,
) -> anyhow::Result<Vec<BuiltReceiver>> {
    let mut built = Vec::new();
    for (id, config) in &plan.receivers {
        let mut output = ReceiverOutput::new();
        let fed: Vec<_> = plan.pipelines.iter().filter(|p| p.receivers.contains(id)).collect();
        for signal in Signal::ALL {
            let mut of_signal = fed.iter().filter(|p| p.signal == signal).peekable();
            if of_signal.peek().is_some() && of_signal.all(|p| reads_items(plan, p)) {
                output.set_decoding(signal);
            }
        }
        for pipeline in fed {
            output.add(pipeline.signal, inputs.consumer(&pipeline.id));
            let mut exporters = pipeline.exporters.iter().filter_map(|e| plan.exporter(e));
            let persistent = exporters.any(|e| e.as_dyn().queue().queue.storage.is_some());
            if persistent {
                output.set_durable(pipeline.signal);
            }
            for processor in &pipeline.processors {
                if let Some(limiter) = limiters.get(processor) {
                    output.add_limiter(pipeline.signal, limiter.clone());
                }
            }
        }
        let receiver = config.as_dyn().build(id.as_str(), auth).await?;
        built.push((id.to_string(), receiver, output));
    }
    Ok(built)
}

/// Whether something in `pipeline` reads the items: one of its processors, or one of the
/// exporters or connectors it ends in.
fn reads_items(plan: &Plan, pipeline: &crate::config::PipelinePlan) -> bool {
    let processors = pipeline.processors.iter().filter_map(|id| plan.processor(id));
    let ends = pipeline.exporters.iter().map(|id| match plan.connector(id) {
        Some(connector) => connector.as_dyn().reads_items(),
        None => plan.exporter(id).is_some_and(|e| e.as_dyn().reads_items()),
    });
    processors.map(|p| p.as_dyn().reads_items()).chain(ends).any(|reads| reads)
}

/// Pipelines, each with its own processor instances, taking their input receivers.
fn pipelines(
    plan: &Plan,
    inputs: &mut Inputs<'_>,
    connector_inputs: &ConnectorInputs<'_>,
    exporter_inputs: &HashMap<&ComponentId, Consumer>,
) -> anyhow::Result<Vec<Pipeline>> {
    let mut runnable = Vec::new();
    for pipeline in &plan.pipelines {
        let mut stages: Vec<(String, Box<dyn Processor>)> = Vec::new();
        for id in &pipeline.processors {
            let settings = plan.processor(id).with_context(|| format!("processor {id}"))?;
            stages.push((id.to_string(), settings.as_dyn().build(id.as_str())));
        }
        let consumers = pipeline
            .exporters
            .iter()
            .map(|id| match plan.connector(id) {
                Some(_) => connector_inputs[&(id, pipeline.signal)].clone(),
                None => exporter_inputs[id].clone(),
            })
            .collect();
        let receiver =
            inputs.receivers.remove(pipeline.id.as_str()).expect("one input per pipeline");
        runnable.push(Pipeline::new(
            pipeline.id.clone(),
            pipeline.signal,
            receiver,
            stages,
            consumers,
            DEFAULT_TICK,
        ));
    }
    Ok(runnable)
}

/// Builds every component of `plan` (binding sockets, opening files) and starts it.
pub async fn start(plan: &Plan) -> anyhow::Result<Running> {
    let health = Health::default();
    let services_shutdown = CancellationToken::new();
    let mut addrs = Vec::new();
    let mut services = start_services(plan, &health, &services_shutdown, &mut addrs).await?;

    let extensions = plan.extensions.iter().map(|(id, e)| (id.as_str(), e));
    let auth = weir_extensions::authenticators(extensions).context("authentication extensions")?;

    let (exporter_inputs, queues) = export_queues(plan, &auth, &mut addrs).await?;
    let mut inputs = Inputs::new(plan);
    let (connector_inputs, mut runnable) = connectors(plan, &inputs);
    let limiters = memory_limiters(plan, &services_shutdown, &mut services);
    backgrounds(plan, &services_shutdown, &mut services).await?;
    let receivers = receivers(plan, &inputs, &limiters, &auth).await?;
    runnable.extend(pipelines(plan, &mut inputs, &connector_inputs, &exporter_inputs)?);
    // Only the tasks hold senders from here on, so each channel closes when its feeders end.
    drop((exporter_inputs, connector_inputs, inputs));

    let shutdown = CancellationToken::new();
    let exporters = queues.into_iter().map(|queue| tokio::spawn(queue.run())).collect();
    let pipelines = runnable.into_iter().map(|pipeline| tokio::spawn(pipeline.run())).collect();
    let mut receiver_tasks = Vec::new();
    for (id, receiver, output) in receivers {
        for (transport, addr) in receiver.local_addrs() {
            tracing::info!(receiver = %id, transport, %addr, "listening");
            addrs.push((id.clone(), transport, addr));
        }
        let task = tokio::spawn(receiver.run(output, shutdown.child_token()));
        receiver_tasks.push((id, task));
    }
    health.set_ready();
    Ok(Running {
        addrs,
        shutdown,
        receivers: receiver_tasks,
        pipelines,
        exporters,
        health,
        services_shutdown,
        services,
    })
}

impl Running {
    /// The address receiver `id` listens on for `transport` (`grpc`, `http`).
    pub fn addr(&self, id: &str, transport: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(i, t, _)| i == id && *t == transport).map(|(_, _, a)| *a)
    }

    /// Runs until SIGINT or SIGTERM (or until a receiver fails), then shuts down in order.
    pub async fn run_until_signal(mut self, deadline: Duration) -> anyhow::Result<()> {
        let failed = async {
            loop {
                let Some(i) = self.receivers.iter().position(|(_, t)| t.is_finished()) else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let (id, task) = self.receivers.swap_remove(i);
                return match task.await {
                    Ok(Ok(())) => anyhow::anyhow!("receiver {id} stopped unexpectedly"),
                    Ok(Err(error)) => anyhow::anyhow!(error),
                    Err(join) => anyhow::anyhow!("receiver {id} panicked: {join}"),
                };
            }
        };
        let outcome = tokio::select! {
            signal = shutdown_signal() => {
                tracing::info!(signal, "shutting down");
                Ok(())
            }
            error = failed => {
                tracing::error!(%error, "shutting down after a receiver failed");
                Err(error)
            }
        };
        self.shutdown(deadline).await?;
        outcome
    }

    /// Stops the receivers, drains pipelines and export queues, and returns when everything
    /// accepted has been handed to the exporters, or fails when `deadline` passes first.
    pub async fn shutdown(self, deadline: Duration) -> anyhow::Result<()> {
        self.health.set_stopping();
        self.shutdown.cancel();
        let Running { receivers, pipelines, exporters, services_shutdown, services, .. } = self;
        let drain = async {
            for (id, task) in receivers {
                match task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(receiver = %id, %error, "receiver stopped with an error")
                    }
                    Err(join) => tracing::error!(receiver = %id, %join, "receiver task failed"),
                }
            }
            for task in pipelines.into_iter().chain(exporters) {
                if let Err(join) = task.await {
                    tracing::error!(%join, "pipeline or export task failed");
                }
            }
        };
        let drained = tokio::time::timeout(deadline, drain).await.map_err(|_| {
            tracing::error!(
                ?deadline,
                "shutdown deadline passed: data still in pipelines or export queues is lost"
            );
            anyhow::anyhow!("shutdown did not finish within {deadline:?}")
        });
        services_shutdown.cancel();
        for (id, task) in services {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(service = %id, %error, "stopped with an error"),
                Err(join) => tracing::error!(service = %id, %join, "task failed"),
            }
        }
        drained
    }
}

/// Waits for SIGINT or SIGTERM; returns the signal's name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
