//! The `loadbalancing` exporter: routes each trace (or service, resource, metric, stream) to
//! one backend of a consistent-hash ring, over OTLP/gRPC, so that a tier of gateways sees
//! whole traces and each derived series has a single writer.
//!
//! Every endpoint has its own export queue (the `protocol.otlp` exporter's `sending_queue`,
//! `retry_on_failure` and `timeout`), labelled `loadbalancing/<endpoint>` in the self-metrics:
//! a failing endpoint's data is retried there while the others flow. Endpoints come from
//! `resolver.static.hostnames` or from `resolver.dns` (`hostname`, `port`, `interval`,
//! `timeout`), re-resolved periodically; a membership change rebuilds the ring, which moves
//! about 1/N of the keys. An endpoint that leaves the ring hands what its queue still holds
//! (and any batch it is retrying) back to the ring: each attempt of its queue first checks
//! that the endpoint is still a member, and otherwise routes the batch anew, so a pod that is
//! gone for good does not keep its share until `max_elapsed_time` drops it.

mod config;
pub(crate) mod ring;

pub use config::{Config, DnsResolver, Protocol, Resolver, RoutingKey, StaticResolver};

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, Weak},
};

use ring::{Ring, key_hash};
use tokio::task::JoinHandle;
use weir_core::{
    Batch, BoxFuture, Consumer, ExportError, Exporter, Message, Metadata, Refused, Signal,
    auth::ClientAuth, export, telemetry,
};
use weir_otlp::{
    proto::{
        common::v1::{KeyValue, any_value::Value},
        resource::v1::Resource,
    },
    regroup::stable_key,
};

use crate::otlp;

/// One backend: its queue's input and the task draining it.
struct Backend {
    consumer: Consumer,
    task: JoinHandle<()>,
}

struct State {
    ring: Ring,
    backends: HashMap<String, Backend>,
}

/// The `loadbalancing` exporter.
pub struct LoadBalancingExporter {
    id: String,
    config: Config,
    auth: Option<Arc<dyn ClientAuth>>,
    state: Arc<Mutex<State>>,
    resolver: Option<JoinHandle<()>>,
}

/// Looks a name up: `(hostname, port)` to `host:port` endpoints.
pub type Lookup =
    Arc<dyn Fn(String, u16) -> BoxFuture<'static, std::io::Result<Vec<String>>> + Send + Sync>;

/// The system resolver.
pub fn system_lookup() -> Lookup {
    Arc::new(|hostname, port| {
        Box::pin(async move {
            let mut endpoints: Vec<String> = tokio::net::lookup_host((hostname.as_str(), port))
                .await?
                .map(|a| a.to_string())
                .collect();
            endpoints.sort();
            endpoints.dedup();
            Ok(endpoints)
        })
    })
}

impl LoadBalancingExporter {
    /// Starts with the static endpoints, or resolves the DNS name once and then every
    /// `interval`.
    pub async fn start(
        id: &str,
        config: &Config,
        auth: Option<Arc<dyn ClientAuth>>,
    ) -> std::io::Result<LoadBalancingExporter> {
        LoadBalancingExporter::start_with(id, config, system_lookup(), auth).await
    }

    /// As [`LoadBalancingExporter::start`], resolving names with `lookup`.
    pub async fn start_with(
        id: &str,
        config: &Config,
        lookup: Lookup,
        auth: Option<Arc<dyn ClientAuth>>,
    ) -> std::io::Result<LoadBalancingExporter> {
        let state = Arc::new(Mutex::new(State { ring: Ring::default(), backends: HashMap::new() }));
        let mut exporter = LoadBalancingExporter {
            id: id.to_owned(),
            config: config.clone(),
            auth,
            state,
            resolver: None,
        };
        if let Some(s) = &config.resolver.static_ {
            exporter.set_endpoints(s.hostnames.clone())?;
        }
        if let Some(dns) = config.resolver.dns.clone() {
            let endpoints = resolve(&lookup, &dns).await.unwrap_or_default();
            exporter.set_endpoints(endpoints)?;
            let (id, config, state, auth) = (
                exporter.id.clone(),
                exporter.config.clone(),
                exporter.state.clone(),
                exporter.auth.clone(),
            );
            exporter.resolver = Some(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(dns.interval);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    match resolve(&lookup, &dns).await {
                        Ok(endpoints) => {
                            if let Err(error) =
                                set_endpoints(&id, &config, &state, &auth, endpoints)
                            {
                                tracing::warn!(exporter = %id, %error, "loadbalancing: endpoints not updated");
                            }
                        }
                        Err(error) => {
                            tracing::warn!(exporter = %id, hostname = %dns.hostname, %error, "loadbalancing: DNS lookup failed; keeping the last endpoints")
                        }
                    }
                }
            }));
        }
        Ok(exporter)
    }

    fn set_endpoints(&self, endpoints: Vec<String>) -> std::io::Result<()> {
        set_endpoints(&self.id, &self.config, &self.state, &self.auth, endpoints)
    }

    /// The endpoints on the ring now.
    pub fn endpoints(&self) -> Vec<String> {
        self.state.lock().expect("not poisoned").ring.endpoints().to_vec()
    }
}

async fn resolve(lookup: &Lookup, dns: &DnsResolver) -> std::io::Result<Vec<String>> {
    tokio::time::timeout(dns.timeout, lookup(dns.hostname.clone(), dns.port))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS lookup timed out"))?
}

/// Rebuilds the ring; starts queues for new endpoints and lets removed ones drain.
fn set_endpoints(
    id: &str,
    config: &Config,
    shared: &Arc<Mutex<State>>,
    auth: &Option<Arc<dyn ClientAuth>>,
    endpoints: Vec<String>,
) -> std::io::Result<()> {
    let ring = Ring::new(&endpoints);
    let mut state = shared.lock().expect("not poisoned");
    if state.ring.endpoints() == ring.endpoints() {
        return Ok(());
    }
    for endpoint in ring.endpoints() {
        if state.backends.contains_key(endpoint) {
            continue;
        }
        let mut otlp = config.protocol.otlp.clone();
        otlp.endpoint = endpoint.clone();
        let name = format!("{id}/{endpoint}");
        let exporter = Arc::new(Member {
            name: name.clone(),
            endpoint: endpoint.clone(),
            otlp: otlp::OtlpExporter::new(&name, &otlp, auth.clone())?,
            routing: config.routing_key,
            state: Arc::downgrade(shared),
        });
        let (consumer, queue) = export::queue(&name, exporter, otlp.settings());
        let task = tokio::spawn(queue.run());
        state.backends.insert(endpoint.clone(), Backend { consumer, task });
    }
    // dropping a consumer lets its queue deliver what it holds and stop
    state.backends.retain(|endpoint, _| ring.endpoints().contains(endpoint));
    tracing::info!(exporter = id, endpoints = ?ring.endpoints(), "loadbalancing: ring updated");
    state.ring = ring;
    Ok(())
}

fn string<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Splits a batch by backend, each item under its resource and scope; an item whose key has
/// no owner (an empty ring) is in no part.
fn split(ring: &Ring, routing: RoutingKey, batch: &Batch) -> BTreeMap<String, Batch> {
    let owner = |key: &[u8]| ring.endpoint(key_hash(key));
    fn attributes(r: Option<&Resource>) -> &[KeyValue] {
        r.map_or(&[][..], |r| &r.attributes[..])
    }
    let service = |r: Option<&Resource>| {
        string(attributes(r), "service.name").unwrap_or("").as_bytes().to_vec()
    };
    let signal = batch.signal();
    // once per resource: the key its items share (its service name or its identity) and,
    // where the routing stops at the resource, its endpoint
    let of_resource = |r: Option<&Resource>| {
        let key = match (signal, routing) {
            (Signal::Logs, _) | (_, RoutingKey::Service | RoutingKey::TraceId) => service(r),
            (_, RoutingKey::Resource | RoutingKey::Metric | RoutingKey::StreamId) => {
                stable_key(attributes(r), "")
            }
        };
        let endpoint = owner(&key);
        (key, endpoint)
    };
    // read from the items in whichever form the batch is: an encoded batch is cut on the wire
    let parts =
        batch.clone().partition(of_resource, |(key, endpoint), item| match (signal, routing) {
            (Signal::Traces, RoutingKey::TraceId) => owner(item.trace_id()),
            (Signal::Logs, RoutingKey::TraceId) if !item.trace_id().is_empty() => {
                owner(item.trace_id())
            }
            (Signal::Metrics, RoutingKey::Metric | RoutingKey::StreamId) => {
                owner(&[key.as_slice(), item.metric_name().as_bytes()].concat())
            }
            _ => *endpoint,
        });
    parts.into_iter().filter_map(|(endpoint, part)| Some((endpoint?.to_owned(), part))).collect()
}

/// Splits `batch` over the ring and hands each part to its endpoint's queue.
async fn route(
    state: &Mutex<State>,
    routing: RoutingKey,
    batch: &Batch,
    metadata: &Metadata,
) -> Result<(), ExportError> {
    let (parts, consumers) = {
        let state = state.lock().expect("not poisoned");
        if state.ring.endpoints().is_empty() {
            return Err(ExportError::Retryable {
                after: None,
                message: "loadbalancing: no endpoint resolved yet".into(),
            });
        }
        let parts = split(&state.ring, routing, batch);
        let consumers: HashMap<String, Consumer> = parts
            .keys()
            .filter_map(|e| Some((e.clone(), state.backends.get(e)?.consumer.clone())))
            .collect();
        (parts, consumers)
    };
    for (endpoint, part) in parts {
        let refused = || ExportError::Retryable {
            after: None,
            message: format!("loadbalancing: {endpoint} refused the batch"),
        };
        // no queue: the exporter is shutting down
        let consumer = consumers.get(&endpoint).ok_or_else(refused)?;
        if let Err(Refused::Full(_) | Refused::Closed(_)) =
            consumer.send(Message { metadata: metadata.clone(), ..Message::from(part) }).await
        {
            return Err(refused());
        }
    }
    Ok(())
}

/// The exporter behind one endpoint's queue: OTLP to the endpoint while it is on the ring,
/// back to the ring once it has left.
struct Member {
    /// The queue's name, `<exporter id>/<endpoint>`.
    name: String,
    endpoint: String,
    otlp: otlp::OtlpExporter,
    routing: RoutingKey,
    state: Weak<Mutex<State>>,
}

impl Exporter for Member {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let Some(state) = self.state.upgrade() else {
                return self.otlp.export(batch, metadata).await;
            };
            let member =
                state.lock().expect("not poisoned").ring.endpoints().contains(&self.endpoint);
            if member {
                return self.otlp.export(batch, metadata).await;
            }
            metrics::counter!(telemetry::EXPORTER_REROUTED_ITEMS,
                telemetry::EXPORTER => self.name.clone(), telemetry::SIGNAL => batch.signal().as_str())
            .increment(batch.item_count() as u64);
            tracing::info!(exporter = %self.name, items = batch.item_count(),
                "loadbalancing: endpoint left the ring; routing its batch anew");
            route(&state, self.routing, batch, metadata).await
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ExportError>> {
        self.otlp.shutdown()
    }
}

impl Exporter for LoadBalancingExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(route(&self.state, self.config.routing_key, batch, metadata))
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ExportError>> {
        Box::pin(async move {
            if let Some(resolver) = &self.resolver {
                resolver.abort();
            }
            let backends: Vec<Backend> =
                self.state.lock().expect("not poisoned").backends.drain().map(|(_, b)| b).collect();
            for backend in backends {
                drop(backend.consumer);
                let _ = backend.task.await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn dns_membership_changes_rebuild_the_ring() {
        let answers =
            Arc::new(Mutex::new(vec!["10.0.0.1:4317".to_owned(), "10.0.0.2:4317".to_owned()]));
        let served = answers.clone();
        let lookup: Lookup = Arc::new(move |hostname, port| {
            let answer = served.lock().unwrap().clone();
            Box::pin(async move {
                assert_eq!((hostname.as_str(), port), ("gateway.ns.svc", 4317));
                Ok(answer)
            })
        });
        let config: Config = serde_saphyr::from_str(
            "resolver: {dns: {hostname: gateway.ns.svc, interval: 100ms}}\nprotocol: {otlp: {tls: {insecure: true}}}",
        )
        .unwrap();
        assert_eq!(config.problems(), Vec::<(String, String)>::new());
        let exporter =
            LoadBalancingExporter::start_with("lb", &config, lookup, None).await.unwrap();
        assert_eq!(exporter.endpoints(), vec!["10.0.0.1:4317", "10.0.0.2:4317"]);
        *answers.lock().unwrap() = vec!["10.0.0.2:4317".into(), "10.0.0.3:4317".into()];
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            exporter.endpoints(),
            vec!["10.0.0.2:4317", "10.0.0.3:4317"],
            "pods came and went"
        );
        exporter.shutdown().await.unwrap();
    }
}
