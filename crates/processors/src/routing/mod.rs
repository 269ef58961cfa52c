//! The `routing` connector: sends each resource, span, metric, data point or log record to the
//! pipelines of the first route of `table` whose condition holds for it, with the Collector's
//! options — routes of `condition` (or `statement: route() where ...`), `context` (inferred
//! from the paths when absent; `request` for `request["X-Tenant"] == "acme"` on the client's
//! metadata), `action` (`move`, the default, ends the search; `copy` sends and goes on),
//! `pipelines`; then `default_pipelines` for what no `move` route took (unrouted data with no
//! default is dropped and counted), and `error_mode` (a failing condition does not hold under
//! `ignore` and `silent`; under `propagate` the payload is dropped).

mod config;
#[cfg(test)]
mod tests;

pub use config::{Config, Settings};

use std::sync::Arc;

use weir_core::{Batch, Decoded, Output, Processor};
use weir_ottl::{Condition, Context, EvalError, Record, Signal};

use crate::{ottl::Failures, telemetry};

/// What a route tests.
#[derive(Debug, Clone)]
pub enum Test {
    /// `request["key"] == "value"` (or `!=`) on the request's metadata.
    Request {
        /// The metadata key, lowercase.
        key: String,
        /// `==` (true) or `!=`.
        equal: bool,
        /// The value compared with.
        value: String,
    },
    /// An OTTL condition.
    Ottl(Condition),
}

/// One route of the table.
#[derive(Debug, Clone)]
pub struct Route {
    test: Test,
    copy: bool,
}

impl Route {
    /// The context the route is tested in (`None`: per request).
    fn context(&self) -> Option<Context> {
        match &self.test {
            Test::Request { .. } => None,
            Test::Ottl(c) => Some(c.context()),
        }
    }
}

/// The destinations of an item: a bit per route, and the default.
type Mask = u64;
const DEFAULT: Mask = 1 << 63;

/// The `routing` connector.
pub struct Router {
    settings: Settings,
    failures: Failures,
    unrouted: metrics::Counter,
    dropped: metrics::Counter,
}

impl Router {
    /// A connector for component `id`.
    pub fn new(settings: &Settings, id: &str) -> Router {
        Router {
            settings: settings.clone(),
            failures: Failures::new(id),
            unrouted: metrics::counter!(telemetry::ROUTING_UNROUTED_ITEMS, "connector" => id.to_owned()),
            dropped: metrics::counter!(telemetry::OTTL_DROPPED_ITEMS, "processor" => id.to_owned()),
        }
    }

    /// The destinations of one item.
    fn mask(&self, record: &Record<'_>, out: &Output, signal: Signal) -> Result<Mask, EvalError> {
        let mut mask = 0;
        for (i, route) in self.settings.routes.iter().enumerate() {
            let holds = match &route.test {
                Test::Request { key, equal, value } => {
                    let found = out.metadata().get(key) == Some(value.as_str());
                    found == *equal
                }
                Test::Ottl(condition) if !condition.context().of_signal(signal) => false,
                Test::Ottl(condition) => {
                    self.failures.test(condition, record, signal, self.settings.error_mode)?
                }
            };
            if holds {
                mask |= 1 << i;
                if !route.copy {
                    return Ok(mask);
                }
            }
        }
        Ok(mask | DEFAULT)
    }

    /// The pipelines of a mask, in table order, each once.
    fn pipelines(&self, mask: Mask) -> Vec<String> {
        let mut pipelines: Vec<String> = Vec::new();
        let routes = self.settings.pipelines.iter().enumerate();
        let chosen = routes.filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| p);
        let default = (mask & DEFAULT != 0).then_some(&self.settings.default_pipelines);
        for pipeline in chosen.chain(default).flatten() {
            if !pipelines.contains(pipeline) {
                pipelines.push(pipeline.clone());
            }
        }
        pipelines
    }

    fn route(&self, mut data: Decoded, out: &mut Output) -> Result<(), EvalError> {
        let signal = data.signal();
        // the finest context any route of this signal needs: each item of it gets a mask
        let context = self
            .settings
            .routes
            .iter()
            .filter_map(Route::context)
            .filter(|c| c.of_signal(signal))
            .fold(Context::Resource, |finest, c| if c.reaches(finest) { c } else { finest });
        let mut masks = Vec::new();
        let probe = &*out;
        weir_ottl::walk(context, &mut data, &mut |r| {
            masks.push(self.mask(r, probe, signal)?);
            Ok(true)
        })?;
        let mut distinct: Vec<Mask> = Vec::new();
        for mask in &masks {
            if !distinct.contains(mask) {
                distinct.push(*mask);
            }
        }
        for (n, mask) in distinct.iter().enumerate() {
            let mut part = if n + 1 == distinct.len() {
                std::mem::replace(&mut data, Decoded::empty(signal))
            } else {
                data.clone()
            };
            let mut i = 0;
            weir_ottl::walk(context, &mut part, &mut |_| {
                let keep = masks[i] == *mask;
                i += 1;
                Ok(keep)
            })?;
            let batch = Batch::from(part);
            let pipelines = self.pipelines(*mask);
            if pipelines.is_empty() {
                self.unrouted.increment(batch.item_count() as u64);
                continue;
            }
            out.push_routed(batch, Arc::from(pipelines));
        }
        Ok(())
    }
}

impl Processor for Router {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let items = batch.item_count();
        if let Err(error) = self.route(batch.into_decoded(), out) {
            self.dropped.increment(items as u64);
            tracing::debug!(%error, items, "routing dropped a batch");
        }
    }
}
