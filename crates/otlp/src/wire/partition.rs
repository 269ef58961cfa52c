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

/// In every resource-level and scope-level entry, the list one level down is field 2.
const LIST: u32 = 2;
/// And the resource is field 1 of a resource-level entry.
const RESOURCE: u32 = 1;

/// The fields of one entry: those other than the list (as written, key included), and the
/// bodies of the list's occurrences.
fn entry(mut buf: &[u8]) -> (Vec<&[u8]>, Vec<&[u8]>) {
    let (mut head, mut list) = (Vec::new(), Vec::new());
    while !buf.is_empty() {
        let start = buf;
        let Ok((number, wire_type)) = key(&mut buf) else { break };
        if number == LIST && wire_type == LEN {
            let Ok(body) = length_delimited(&mut buf) else { break };
            list.push(body);
        } else if skip(&mut buf, number, wire_type, 0).is_ok() {
            head.push(&start[..start.len() - buf.len()]);
        } else {
            break;
        }
    }
    (head, list)
}

/// The resource of a resource-level entry's head, decoded (occurrences merged, as a decode
/// merges them).
fn resource(head: &[&[u8]]) -> Option<Resource> {
    let mut resource: Option<Resource> = None;
    for mut field in head.iter().copied() {
        if let Ok((RESOURCE, LEN)) = key(&mut field)
            && let Ok(body) = length_delimited(&mut field)
        {
            let merged = resource.get_or_insert_with(Resource::default);
            merged.merge(body).expect("checked when kept");
        }
    }
    resource
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
    let (resource_schema, _) = inner(request(signal), 1);
    let (scope_schema, _) = inner(resource_schema, LIST);
    let (item_schema, is_item) = inner(scope_schema, LIST);
    // per part: the request written so far and its items
    let mut parts: BTreeMap<K, (BytesMut, usize)> = BTreeMap::new();
    for chunk in encoded.chunks() {
        let mut buf = &chunk[..];
        while let Ok((_, _)) = key(&mut buf) {
            let Ok(resource_entry) = length_delimited(&mut buf) else { break };
            let (resource_head, scopes) = entry(resource_entry);
            let shared = of_resource(resource(&resource_head).as_ref());
            // per part: this resource's scope entries, written
            let mut scoped: BTreeMap<K, (BytesMut, usize)> = BTreeMap::new();
            for scope_entry in scopes {
                let (scope_head, items) = entry(scope_entry);
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
                put_entry(out, 1, &resource_head, &list);
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
