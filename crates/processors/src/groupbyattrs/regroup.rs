//! Moving records to the resource their grouping attributes make. Resources are told apart by
//! [`stable_key`] (attributes and schema URL); scopes by their encoded scope and schema URL.

use std::collections::HashMap;

use prost::Message as _;
use weir_otlp::{
    proto::{common::v1::KeyValue, resource::v1::Resource},
    regroup::{Resources, stable_key},
};

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// Records (metric data points) that carried at least one key.
    pub(super) grouped: u64,
    /// Records that carried none.
    pub(super) non_grouped: u64,
    /// Resources out.
    pub(super) resources: usize,
}

/// Moves the `keys` attributes of every record of `input` to its resource and merges equal
/// resources and scopes, keeping the order in which each first appears.
pub(super) fn regroup<R: Resources>(keys: &[String], input: Vec<R>) -> (Vec<R>, Tally) {
    let mut out: Vec<R> = Vec::new();
    let mut resources: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut scopes: HashMap<(usize, Vec<u8>), usize> = HashMap::new();
    let mut tally = Tally::default();
    for entry in input {
        let (resource, schema_url, scoped) = entry.parts();
        let resource = resource.unwrap_or_default();
        for scoped in scoped {
            let (scope, scope_url, items) = R::scope_parts(scoped);
            let items = R::atoms(items);
            let encoded = scope.as_ref().map(|s| s.encode_to_vec()).unwrap_or_default();
            let scope_key = [encoded, scope_url.as_bytes().to_vec()].concat();
            for mut item in items {
                let moved = R::attributes(&mut item).map(|a| take(keys, a)).unwrap_or_default();
                if moved.is_empty() {
                    tally.non_grouped += 1;
                } else {
                    tally.grouped += 1;
                }
                let attributes = merged(&resource.attributes, moved);
                let key = stable_key(&attributes, &schema_url);
                let r = *resources.entry(key).or_insert_with(|| {
                    let grouped = Resource { attributes, ..resource.clone() };
                    out.push(R::new(Some(grouped), schema_url.clone()));
                    out.len() - 1
                });
                let s = *scopes.entry((r, scope_key.clone())).or_insert_with(|| {
                    let list = out[r].scopes();
                    list.push(R::new_scope(scope.clone(), scope_url.clone()));
                    list.len() - 1
                });
                R::push_merging(&mut out[r].scopes()[s], item);
            }
        }
    }
    tally.resources = out.len();
    (out, tally)
}

/// Removes the `keys` attributes from `attributes` and returns them.
fn take(keys: &[String], attributes: &mut Vec<KeyValue>) -> Vec<KeyValue> {
    let mut moved = Vec::new();
    for key in keys {
        if let Some(i) = attributes.iter().position(|kv| &kv.key == key) {
            moved.push(attributes.remove(i));
        }
    }
    moved
}

/// `base` with `moved` upserted.
fn merged(base: &[KeyValue], moved: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut out = base.to_vec();
    for kv in moved {
        match out.iter_mut().find(|o| o.key == kv.key) {
            Some(existing) => *existing = kv,
            None => out.push(kv),
        }
    }
    out
}
