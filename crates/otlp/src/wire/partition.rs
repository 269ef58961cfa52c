//! Splitting an encoded request by a key per item without decoding the items: each part gets
//! its items under copies of their resource and scope entries (every field but the list that
//! was cut, as it was written). Only each resource is decoded, for what its items' keys share.

use std::collections::BTreeMap;

use bytes::{BufMut, BytesMut};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::{
    Field, Kind, LEN, Schema,
    encoded::{Encoded, count, put_field},
    key, length_delimited, request, skip,
};

/// A request's resource list, and in every resource-level and scope-level entry the list one
/// level down.
pub(super) const LIST: u32 = 2;
/// The request's own list is field 1; so is the resource of a resource-level entry.
pub(super) const RESOURCES: u32 = 1;
pub(super) const RESOURCE: u32 = 1;

/// A message's fields split in two: every field but `number`, as written (key included), and
/// the bodies of the length-delimited occurrences of `number`. Unknown fields of any wire type
/// are skipped over whole, as a decode skips them.
pub(super) fn fields(mut buf: &[u8], number: u32) -> (Vec<&[u8]>, Vec<&[u8]>) {
    let (mut others, mut bodies) = (Vec::new(), Vec::new());
    while !buf.is_empty() {
        let start = buf;
        let Ok((n, wire_type)) = key(&mut buf) else { break };
        if n == number && wire_type == LEN {
            let Ok(body) = length_delimited(&mut buf) else { break };
            bodies.push(body);
        } else if skip(&mut buf, n, wire_type, 0).is_ok() {
            others.push(&start[..start.len() - buf.len()]);
        } else {
            break;
        }
    }
    (others, bodies)
}

/// A resource decoded from the bodies of its field's occurrences in a resource-level entry
/// (merged, as a decode merges them).
pub(super) fn merged_resource(bodies: Vec<&[u8]>) -> Option<Resource> {
    bodies.into_iter().fold(None, |merged, body| {
        let mut merged: Resource = merged.unwrap_or_default();
        merged.merge(body).expect("checked when kept");
        Some(merged)
    })
}

/// Writes an entry made of `head` fields and already-written list occurrences as field
/// `number` of `out`.
fn put_entry(out: &mut BytesMut, number: u32, head: &[&[u8]], list: &[u8]) {
    let mut body =
        BytesMut::with_capacity(head.iter().map(|h| h.len()).sum::<usize>() + list.len());
    head.iter().for_each(|h| body.put_slice(h));
    body.put_slice(list);
    put_field(out, number, &body);
}

fn inner(schema: &'static Schema, number: u32) -> (&'static Schema, bool) {
    match schema.field(number) {
        Some(Field { kind: Kind::Message(inner), item, .. }) => (inner, *item),
        _ => unreachable!("every request schema nests resource, scope and item lists"),
    }
}

/// Splits `encoded` by `key(of_resource(resource), item)` where `item` is the protobuf body
/// of a span, log record or metric; items keep their order within each part.
pub(crate) fn partition<P, K: Ord>(
    encoded: &Encoded,
    mut of_resource: impl FnMut(Option<&Resource>) -> P,
    mut key_of: impl FnMut(&P, &[u8]) -> K,
) -> BTreeMap<K, Encoded> {
    let signal = encoded.signal();
    let (resource_schema, _) = inner(request(signal), RESOURCES);
    let (scope_schema, _) = inner(resource_schema, LIST);
    let (item_schema, is_item) = inner(scope_schema, LIST);
    // per part: the request written so far and its items
    let mut parts: BTreeMap<K, (BytesMut, usize)> = BTreeMap::new();
    for chunk in encoded.chunks() {
        for resource_entry in fields(chunk, RESOURCES).1 {
            let (resource_head, scopes) = fields(resource_entry, LIST);
            let resource = merged_resource(fields(resource_entry, RESOURCE).1);
            let shared = of_resource(resource.as_ref());
            // per part: this resource's scope entries, written
            let mut scoped: BTreeMap<K, (BytesMut, usize)> = BTreeMap::new();
            for scope_entry in scopes {
                let (scope_head, items) = fields(scope_entry, LIST);
                let mut here: BTreeMap<K, (BytesMut, usize)> = BTreeMap::new();
                for item in items {
                    let held = if is_item { 1 } else { count(item_schema, item) };
                    let (list, n) = here.entry(key_of(&shared, item)).or_default();
                    put_field(list, LIST, item);
                    *n += held;
                }
                for (k, (list, n)) in here {
                    let (out, total) = scoped.entry(k).or_default();
                    put_entry(out, LIST, &scope_head, &list);
                    *total += n;
                }
            }
            for (k, (list, n)) in scoped {
                let (out, total) = parts.entry(k).or_default();
                put_entry(out, RESOURCES, &resource_head, &list);
                *total += n;
            }
        }
    }
    parts
        .into_iter()
        .map(|(k, (bytes, items))| (k, Encoded::from_parts(signal, bytes.freeze(), items)))
        .collect()
}

/// The body of the last occurrence of length-delimited field `number` in a message (as a
/// decode keeps it), or empty.
pub(crate) fn last_bytes(mut buf: &[u8], number: u32) -> &[u8] {
    let mut found: &[u8] = &[];
    while !buf.is_empty() {
        let Ok((n, wire_type)) = key(&mut buf) else { break };
        if n == number && wire_type == LEN {
            let Ok(body) = length_delimited(&mut buf) else { break };
            found = body;
        } else if skip(&mut buf, n, wire_type, 0).is_err() {
            break;
        }
    }
    found
}
