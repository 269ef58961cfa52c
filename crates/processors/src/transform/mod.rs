//! The `transform` processor: OTTL statements run on spans, span events, metrics, data
//! points, logs, their scopes and resources, with the Collector's options —
//! `trace_statements`, `metric_statements` and `log_statements`, each either a list of
//! statements (one group, its context inferred from the paths, which then carry their context:
//! `span.attributes[...]`) or a list of groups `{context, conditions, statements, error_mode}`
//! (conditions ORed; own-context paths may drop the prefix), and `error_mode` (default
//! `ignore`, as in the Collector since 2025).
//!
//! A signal whose groups all run in the resource context keeps its batches encoded: the
//! statements run on each resource through the batch's resource-level access.

mod config;
#[cfg(test)]
mod tests;

pub use config::{Config, Entry, GroupConfig, Settings};

use weir_core::{Batch, Output, Processor};
use weir_ottl::{Condition, Context, ErrorMode, EvalError, Record, Signal, Statement};

use crate::ottl::Failures;

/// One group: statements run, in order, on every item of `context` for which any condition
/// holds (or always, without conditions).
#[derive(Debug, Clone)]
pub struct Group {
    context: Context,
    conditions: Vec<Condition>,
    statements: Vec<Statement>,
    error_mode: ErrorMode,
}

impl Group {
    /// Runs the group on one item; under `propagate` the first failure is returned.
    fn run(
        &self,
        record: &mut Record<'_>,
        signal: Signal,
        failures: &Failures,
    ) -> Result<(), EvalError> {
        if !self.conditions.is_empty() {
            let mut any = false;
            for condition in &self.conditions {
                if failures.test(condition, record, signal, self.error_mode)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Ok(());
            }
        }
        for statement in &self.statements {
            if let Err(e) = statement.execute(record) {
                failures.handle(signal, self.error_mode, statement.text(), e)?;
            }
        }
        Ok(())
    }
}

/// The `transform` processor.
pub struct Transform {
    settings: Settings,
    failures: Failures,
    dropped: metrics::Counter,
}

impl Transform {
    /// A processor for component `id`.
    pub fn new(settings: &Settings, id: &str) -> Transform {
        Transform {
            settings: settings.clone(),
            failures: Failures::new(id),
            dropped: metrics::counter!(crate::telemetry::OTTL_DROPPED_ITEMS, "processor" => id.to_owned()),
        }
    }

    fn transform(&self, batch: &mut Batch) -> Result<(), EvalError> {
        let signal = batch.signal();
        let groups = self.settings.groups(signal);
        if groups.iter().all(|g| g.context == Context::Resource) {
            let mut failed = None;
            batch.for_each_resource(|resource| {
                if failed.is_some() {
                    return;
                }
                for group in groups {
                    let visit = &mut |r: &mut Record<'_>| {
                        group.run(r, signal, &self.failures).map(|()| true)
                    };
                    if let Err(e) = weir_ottl::visit_resource(resource, visit) {
                        failed = Some(e);
                        return;
                    }
                }
            });
            return failed.map_or(Ok(()), Err);
        }
        let data = batch.decoded_mut();
        for group in groups {
            weir_ottl::walk(group.context, data, &mut |r| {
                group.run(r, signal, &self.failures).map(|()| true)
            })?;
        }
        Ok(())
    }
}

impl Processor for Transform {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        if self.settings.groups(batch.signal()).is_empty() {
            out.push(batch);
            return;
        }
        match self.transform(&mut batch) {
            Ok(()) => out.push(batch),
            Err(error) => {
                // `propagate`: the payload is dropped, as the Collector returns the error
                self.dropped.increment(batch.item_count() as u64);
                tracing::debug!(%error, items = batch.item_count(), "transform dropped a batch");
            }
        }
    }
}
