//! The `filter` processor: drops spans, span events, metrics, data points and log records
//! (or whole scopes and resources) for which any OTTL condition holds, with the Collector's
//! options — `trace_conditions`, `metric_conditions`, `log_conditions` (a list of conditions
//! whose paths carry their context, or groups `{context, error_mode, conditions}`), the older
//! `traces.{resource,span,spanevent}`, `metrics.{resource,metric,datapoint}` and
//! `logs.{resource,log_record}` lists, and the legacy `spans`/`metrics`/`logs`
//! `include`/`exclude` match properties (`match_type: strict | regexp`).
//!
//! Conditions run from the resource down, so nothing below a dropped resource is looked at. A
//! metric whose data points are all dropped goes, as do scopes and resources left empty; a
//! span keeps going when its events are dropped. Drops are counted in the Collector's
//! `otelcol_processor_filter_{spans,datapoints,logs}.filtered` (as
//! `otelcol_processor_filter_*_filtered_total`).

mod config;
#[cfg(test)]
mod tests;

pub use config::{Config, Settings};

use weir_core::{Batch, Decoded, Output, Processor};
use weir_ottl::{Condition, Context, ErrorMode, EvalError, Record, Signal};

use crate::{match_properties::Selector, ottl::Failures, telemetry};

/// Conditions of one context, tested in order; any that holds drops the item.
#[derive(Debug, Clone)]
pub struct Rule {
    context: Context,
    conditions: Vec<(Condition, ErrorMode)>,
}

/// What drops items of one signal.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// By context, from the resource down.
    rules: Vec<Rule>,
    /// The legacy `include`/`exclude`.
    legacy: Option<Selector>,
}

impl Rules {
    fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.legacy.is_none()
    }
}

/// The `filter` processor.
pub struct Filter {
    settings: Settings,
    failures: Failures,
    filtered: [metrics::Counter; 3],
    dropped: metrics::Counter,
}

impl Filter {
    /// A processor for component `id`.
    pub fn new(settings: &Settings, id: &str) -> Filter {
        let counter = |name: &'static str| metrics::counter!(name, "processor" => id.to_owned());
        Filter {
            settings: settings.clone(),
            failures: Failures::new(id),
            filtered: [
                counter(telemetry::FILTER_SPANS_FILTERED),
                counter(telemetry::FILTER_DATAPOINTS_FILTERED),
                counter(telemetry::FILTER_LOGS_FILTERED),
            ],
            dropped: metrics::counter!(telemetry::OTTL_DROPPED_ITEMS, "processor" => id.to_owned()),
        }
    }

    /// Whether any condition of `rule` holds for the item; failures follow each condition's
    /// error mode (under `ignore` and `silent` a failing condition does not hold).
    fn holds(&self, rule: &Rule, record: &Record<'_>, signal: Signal) -> Result<bool, EvalError> {
        for (condition, mode) in &rule.conditions {
            if self.failures.test(condition, record, signal, *mode)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn filter(&self, data: &mut Decoded, rules: &Rules) -> Result<(), EvalError> {
        let signal = data.signal();
        if let Some(selector) = &rules.legacy {
            retain_selected(selector, data);
        }
        for rule in &rules.rules {
            weir_ottl::walk(rule.context, data, &mut |r| Ok(!self.holds(rule, r, signal)?))?;
        }
        Ok(())
    }
}

impl Processor for Filter {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let signal = batch.signal();
        let rules = self.settings.rules(signal);
        if rules.is_empty() {
            out.push(batch);
            return;
        }
        let before = batch.item_count();
        let mut data = batch.into_decoded();
        if let Err(error) = self.filter(&mut data, rules) {
            self.dropped.increment(before as u64);
            tracing::debug!(%error, items = before, "filter dropped a batch");
            return;
        }
        let batch = Batch::from(data);
        let index = match signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        };
        self.filtered[index].increment((before - batch.item_count()) as u64);
        if !batch.is_empty() {
            out.push(batch);
        }
    }
}

/// Keeps the items the legacy `include`/`exclude` select, and the scopes and resources that
/// still hold some.
fn retain_selected(selector: &Selector, data: &mut Decoded) {
    match data {
        Decoded::Traces(resources) => resources.retain_mut(|rs| {
            let resource = rs.resource.as_ref();
            rs.scope_spans.retain_mut(|ss| {
                let scope = ss.scope.as_ref();
                ss.spans.retain(|span| selector.span(resource, scope, span));
                !ss.spans.is_empty()
            });
            !rs.scope_spans.is_empty()
        }),
        Decoded::Metrics(resources) => resources.retain_mut(|rm| {
            let resource = rm.resource.as_ref();
            rm.scope_metrics.retain_mut(|sm| {
                let scope = sm.scope.as_ref();
                sm.metrics.retain(|metric| selector.metric(resource, scope, &metric.name));
                !sm.metrics.is_empty()
            });
            !rm.scope_metrics.is_empty()
        }),
        Decoded::Logs(resources) => resources.retain_mut(|rl| {
            let resource = rl.resource.as_ref();
            rl.scope_logs.retain_mut(|sl| {
                let scope = sl.scope.as_ref();
                sl.log_records.retain(|record| selector.log(resource, scope, record));
                !sl.log_records.is_empty()
            });
            !rl.scope_logs.is_empty()
        }),
    }
}
