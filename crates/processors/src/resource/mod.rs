//! The `resource` processor, with the Collector's options: `attributes: [{key, value,
//! action}]` applied to every resource, in order — `insert` (only when absent), `update`
//! (only when present), `upsert` (always) or `delete`. With `${env:...}` references it carries
//! what the Kubernetes downward API puts in the environment (`k8s.node.name`, `k8s.pod.ip`).

use serde::Deserialize;
use weir_core::{Batch, Output, Processor};
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value::Value},
    resource::v1::Resource,
};

/// `processors.resource`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `attributes`.
    pub attributes: Vec<Action>,
}

/// One entry of `attributes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// `key`.
    pub key: String,
    /// `value` (a string; not needed for `delete`).
    #[serde(default)]
    pub value: Option<String>,
    /// `action`.
    pub action: Kind,
}

/// `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Set when absent.
    Insert,
    /// Set when present.
    Update,
    /// Set always.
    Upsert,
    /// Remove.
    Delete,
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.attributes.is_empty() {
            errors.push(("attributes".into(), "must hold at least one action".into()));
        }
        for (i, action) in self.attributes.iter().enumerate() {
            if action.key.is_empty() {
                errors.push((format!("attributes[{i}].key"), "must be set".into()));
            }
            if action.action != Kind::Delete && action.value.is_none() {
                errors.push((
                    format!("attributes[{i}].value"),
                    format!("{:?} needs a value", action.action),
                ));
            }
        }
        errors
    }
}

/// The `resource` processor.
pub struct ResourceProcessor {
    config: Config,
}

impl ResourceProcessor {
    /// A processor with a validated `config`.
    pub fn new(config: &Config) -> ResourceProcessor {
        ResourceProcessor { config: config.clone() }
    }

    fn apply(&self, resource: &mut Option<Resource>) {
        let attributes = &mut resource.get_or_insert_with(Resource::default).attributes;
        for action in &self.config.attributes {
            let position = attributes.iter().position(|kv| kv.key == action.key);
            let value = || {
                Some(AnyValue {
                    value: Some(Value::StringValue(action.value.clone().unwrap_or_default())),
                })
            };
            match (action.action, position) {
                (Kind::Delete, Some(i)) => {
                    attributes.remove(i);
                }
                (Kind::Update | Kind::Upsert, Some(i)) => attributes[i].value = value(),
                (Kind::Insert | Kind::Upsert, None) => attributes.push(KeyValue {
                    key: action.key.clone(),
                    value: value(),
                    ..KeyValue::default()
                }),
                _ => {}
            }
        }
    }
}

impl Processor for ResourceProcessor {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        batch.for_each_resource(|resource| self.apply(resource));
        out.push(batch);
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "resource",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "inserts, updates, upserts or deletes resource attributes",
    }
);

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let _ = id;
        Box::new(ResourceProcessor::new(self))
    }
}

#[cfg(test)]
mod tests {
    use weir_core::{Decoded, testing::spans};

    use super::*;

    #[test]
    fn actions_apply_in_order() {
        let config: Config = serde_saphyr::from_str(
            "attributes:
  - {key: k8s.node.name, value: node-1, action: upsert}
  - {key: service.name, value: never, action: insert}
  - {key: host.name, action: delete}
  - {key: missing, value: x, action: update}",
        )
        .unwrap();
        assert!(config.problems().is_empty());
        let mut processor = ResourceProcessor::new(&config);
        let mut out = Output::new();
        processor.process(spans("svc", 1, 1), &mut out);
        let Some(Decoded::Traces(r)) = out.drain().next().map(|m| m.batch.into_decoded()) else {
            panic!()
        };
        let attributes = &r[0].resource.as_ref().unwrap().attributes;
        let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert!(
            keys.contains(&"k8s.node.name")
                && !keys.contains(&"missing")
                && !keys.contains(&"host.name")
        );
        let service = attributes.iter().find(|kv| kv.key == "service.name").unwrap();
        assert_eq!(
            service.value,
            Some(AnyValue { value: Some(Value::StringValue("svc".into())) }),
            "insert keeps what is there"
        );
        let bad: Config = serde_saphyr::from_str("attributes: [{key: a, action: upsert}]").unwrap();
        assert_eq!(bad.problems()[0].0, "attributes[0].value");
    }
}
