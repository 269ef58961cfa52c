//! An export request kept as its protobuf bytes: merged by concatenation (the request is one
//! repeated field, and protobuf merges repeated fields by appending), split at a number of
//! items by walking the wire. A part keeps each item under copies of its resource, scope and,
//! for data points, metric (the fields other than the cut list are copied to both sides).

use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::{
    Field, Kind, LEN, Schema, key, length_delimited,
    partition::{RESOURCE, RESOURCES, fields, merged_resource},
    request, skip, walk,
};
use crate::{Decoded, InvalidRequest, Signal};

/// One signal's export request as protobuf bytes, with its item count. The bytes are kept as
/// the parts they arrived in, each a request of its own, so that joining requests copies
/// nothing. Clones share the bytes and the items decoded from them: of several consumers
/// that read the items of one request (connectors side by side), the first decodes them and
/// the others read the same. A change of the bytes forgets the decoded items.
#[derive(Debug, Clone)]
pub struct Encoded {
    signal: Signal,
    parts: Vec<Part>,
    items: usize,
    decoded: Arc<OnceLock<Decoded>>,
}

#[derive(Debug, Clone)]
struct Part {
    bytes: Bytes,
    items: usize,
}

impl Encoded {
    /// Checks `bytes` as a request of `signal` (see [`walk`]) and keeps them as they are.
    pub fn new(signal: Signal, bytes: Bytes) -> Result<Encoded, InvalidRequest> {
        let items = walk(signal, &bytes)?;
        let parts = if bytes.is_empty() { Vec::new() } else { vec![Part { bytes, items }] };
        Ok(Encoded { signal, parts, items, decoded: Arc::default() })
    }

    /// A request already walked (made by this module), holding `items`.
    pub(super) fn from_parts(signal: Signal, bytes: Bytes, items: usize) -> Encoded {
        let parts = if bytes.is_empty() { Vec::new() } else { vec![Part { bytes, items }] };
        Encoded { signal, parts, items, decoded: Arc::default() }
    }

    /// Encodes decoded items.
    pub(crate) fn from_decoded(decoded: &Decoded) -> Encoded {
        let bytes = decoded.encode();
        let items = decoded.item_count();
        let parts = vec![Part { bytes, items }];
        Encoded { signal: decoded.signal(), parts, items, decoded: Arc::default() }
    }

    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Spans, data points or log records held.
    pub fn item_count(&self) -> usize {
        self.items
    }

    /// Whether there are no bytes at all (no resource).
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.bytes.is_empty())
    }

    /// The length of the request in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.bytes.len()).sum()
    }

    /// The request's protobuf bytes, in the parts they are held in (each a request).
    pub fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.parts.iter().map(|p| &p.bytes)
    }

    /// The request's protobuf bytes in one buffer (copied only when held in several parts).
    pub fn to_bytes(&self) -> Bytes {
        match self.parts.as_slice() {
            [] => Bytes::new(),
            [one] => one.bytes.clone(),
            parts => {
                let mut joined = BytesMut::with_capacity(self.len());
                parts.iter().for_each(|p| joined.put_slice(&p.bytes));
                joined.freeze()
            }
        }
    }

    /// Copies each part into a buffer of exactly its size. Parts are views into the buffers
    /// they were received or cut in, which can be larger than the parts: a batch held for long
    /// (in an export queue) should hold only its own bytes. The parts stay apart, so that
    /// cutting the batch later still moves whole parts without copying them.
    pub fn compact(&mut self) {
        for part in &mut self.parts {
            part.bytes = Bytes::copy_from_slice(&part.bytes);
        }
        self.decoded = Arc::default();
    }

    /// The items, decoded on first use and shared with every clone.
    pub fn decoded(&self) -> &Decoded {
        self.decoded.get_or_init(|| self.decode())
    }

    /// The items, decoded: taken from the shared decode when no clone holds it any more,
    /// copied from it when one does, decoded now when nothing has decoded them.
    pub fn into_decoded(mut self) -> Decoded {
        let cached = match Arc::try_unwrap(std::mem::take(&mut self.decoded)) {
            Ok(cell) => cell.into_inner(),
            Err(shared) => shared.get().cloned(),
        };
        cached.unwrap_or_else(|| self.decode())
    }

    /// Decodes the items.
    pub fn decode(&self) -> Decoded {
        let mut decoded = Decoded::empty(self.signal);
        for part in &self.parts {
            let more = Decoded::decode_protobuf(self.signal, &part.bytes);
            decoded.extend_from(more.expect("checked when kept"));
        }
        decoded
    }

    /// Appends `other`'s items after these (same signal: the caller's to ensure).
    pub fn append(&mut self, other: Encoded) {
        debug_assert_eq!(self.signal, other.signal);
        self.parts.extend(other.parts);
        self.items += other.items;
        self.decoded = Arc::default();
    }

    /// Removes the first `n` items (all when there are fewer) into a request of their own.
    /// Whole parts move without a copy; a part that straddles `n` is cut on the wire.
    pub fn split_front(&mut self, n: usize) -> Encoded {
        let decoded = std::mem::take(&mut self.decoded);
        if n >= self.items {
            let parts = std::mem::take(&mut self.parts);
            let items = std::mem::take(&mut self.items);
            return Encoded { signal: self.signal, parts, items, decoded };
        }
        let mut remaining = n;
        let whole = self
            .parts
            .iter()
            .take_while(|p| {
                let fits = remaining > 0 && p.items <= remaining;
                remaining -= if fits { p.items } else { 0 };
                fits
            })
            .count();
        let mut front: Vec<Part> = self.parts.drain(..whole).collect();
        if remaining > 0 {
            let straddling = &mut self.parts[0];
            let (f, b) = split(request(self.signal), &straddling.bytes, remaining);
            front.push(Part { bytes: f.freeze(), items: remaining });
            straddling.bytes = b.freeze();
            straddling.items -= remaining;
        }
        self.items -= n;
        Encoded { signal: self.signal, parts: front, items: n, decoded: Arc::default() }
    }

    /// Calls `change` with the resource of every resource-level entry and writes the entries
    /// back: the resource re-encoded first, every other field copied as it was. (A resource
    /// written in several occurrences of its field is merged, as a decode merges it.)
    pub fn for_each_resource(&mut self, mut change: impl FnMut(&mut Option<Resource>)) {
        self.decoded = Arc::default();
        for part in &mut self.parts {
            let mut out = BytesMut::with_capacity(part.bytes.len() + 64);
            let mut entry = BytesMut::new();
            // fields other than the list are dropped, as a decode drops them
            for resource_entry in fields(&part.bytes, RESOURCES).1 {
                let (rest, bodies) = fields(resource_entry, RESOURCE);
                let mut resource = merged_resource(bodies);
                change(&mut resource);
                entry.clear();
                if let Some(resource) = &resource {
                    put_varint(&mut entry, (1 << 3) | LEN);
                    put_varint(&mut entry, resource.encoded_len() as u64);
                    resource.encode(&mut entry).expect("room is made as needed");
                }
                rest.iter().for_each(|raw| entry.put_slice(raw));
                put_field(&mut out, RESOURCES, &entry);
            }
            part.bytes = out.freeze();
        }
    }
}

/// Writes a length-delimited field.
pub(super) fn put_field(out: &mut BytesMut, number: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | LEN);
    put_varint(out, bytes.len() as u64);
    out.put_slice(bytes);
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8(value as u8 | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// Items under a message of `schema` (the bytes were checked when kept).
pub(super) fn count(schema: &'static Schema, mut buf: &[u8]) -> usize {
    let mut items = 0;
    while let Ok((number, wire_type)) = key(&mut buf) {
        match schema.field(number) {
            Some(Field { kind: Kind::Message(inner), item, holds: true, .. })
                if wire_type == LEN =>
            {
                let Ok(bytes) = length_delimited(&mut buf) else { break };
                items += if *item { 1 } else { count(inner, bytes) };
            }
            _ => {
                if skip(&mut buf, number, wire_type, 0).is_err() {
                    break;
                }
            }
        }
    }
    items
}

/// Splits a message of `schema` holding more than `n` items into one with the first `n` and
/// one with the rest; every field that holds no items goes to both.
fn split(schema: &'static Schema, whole: &[u8], n: usize) -> (BytesMut, BytesMut) {
    let mut front = BytesMut::with_capacity(whole.len() / 2 + 64);
    let mut back = BytesMut::with_capacity(whole.len() / 2 + 64);
    let mut remaining = n;
    let mut buf = whole;
    while !buf.is_empty() {
        let start = buf;
        let Ok((number, wire_type)) = key(&mut buf) else { break };
        let holder = schema.field(number).filter(|f| f.holds && wire_type == LEN);
        let Some(Field { kind: Kind::Message(inner), item, .. }) = holder else {
            // a field without items: copied to both sides, as it was written
            if skip(&mut buf, number, wire_type, 0).is_err() {
                break;
            }
            let raw = &start[..start.len() - buf.len()];
            front.put_slice(raw);
            back.put_slice(raw);
            continue;
        };
        let Ok(bytes) = length_delimited(&mut buf) else { break };
        let raw = &start[..start.len() - buf.len()];
        let items = if *item { 1 } else { count(inner, bytes) };
        if remaining == 0 {
            back.put_slice(raw);
        } else if items <= remaining {
            front.put_slice(raw);
            remaining -= items;
        } else {
            let (f, b) = split(inner, bytes, remaining);
            put_field(&mut front, number, &f);
            put_field(&mut back, number, &b);
            remaining = 0;
        }
    }
    (front, back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Batch,
        testgen::{Rng, flatten},
    };

    #[test]
    fn split_and_append_keep_every_item_once_in_order_under_its_resource_and_scope() {
        let mut rng = Rng(0xfeed_0003);
        let mut splits = 0;
        for round in 0..3000 {
            let signal = Signal::ALL[round % 3];
            // one request, or several joined (held as parts)
            let mut whole = Encoded::new(signal, Bytes::from(rng.request(signal))).unwrap();
            for _ in 0..rng.below(3) {
                let more = Encoded::new(signal, Bytes::from(rng.request(signal))).unwrap();
                whole.append(more);
            }
            let expected = flatten(&whole.decode().into());
            assert_eq!(expected.len(), whole.item_count(), "round {round}");
            if whole.item_count() < 2 {
                continue;
            }
            let n = 1 + rng.below(whole.item_count() as u64 - 1);
            let total = whole.item_count();
            let front = whole.split_front(n);
            splits += 1;
            assert_eq!(walk(signal, &front.to_bytes()), Ok(n), "round {round}: the front walks");
            assert_eq!(
                walk(signal, &whole.to_bytes()),
                Ok(total - n),
                "round {round}: the back walks"
            );
            let mut parts = flatten(&front.decode().into());
            parts.extend(flatten(&whole.decode().into()));
            assert_eq!(parts, expected, "round {round}: split at {n} of {total}");
            let mut joined = front;
            joined.append(whole);
            assert_eq!(joined.item_count(), total);
            assert_eq!(flatten(&joined.decode().into()), expected, "round {round}: appended back");
        }
        assert!(splits > 1000, "{splits}");
    }

    #[test]
    fn a_resource_changed_on_the_wire_is_the_resource_changed_decoded() {
        use opentelemetry_proto::tonic::common::v1::KeyValue;
        let mut rng = Rng(0xfeed_0004);
        let mut change = |resource: &mut Option<Resource>| {
            let resource = resource.get_or_insert_with(Resource::default);
            resource.attributes.push(KeyValue { key: "k8s.pod.name".into(), ..Default::default() });
            resource.dropped_attributes_count += 1;
        };
        for round in 0..1000 {
            let signal = Signal::ALL[round % 3];
            let mut encoded = Encoded::new(signal, Bytes::from(rng.request(signal))).unwrap();
            encoded.append(Encoded::new(signal, Bytes::from(rng.request(signal))).unwrap());
            let mut decoded = Batch::from(encoded.decode());
            decoded.for_each_resource(&mut change);
            let items = encoded.item_count();
            encoded.for_each_resource(&mut change);
            assert_eq!(walk(signal, &encoded.to_bytes()), Ok(items), "round {round}");
            assert_eq!(Batch::from(encoded.decode()), decoded, "round {round}");
        }
    }

    #[test]
    fn fields_unknown_to_the_request_are_skipped_whole_not_misread() {
        let mut rng = Rng(0xfeed_0006);
        for round in 0..60 {
            let signal = Signal::ALL[round % 3];
            // an unknown varint field (number 9, value 1) between two requests' lists: the
            // walk skips it, as a decode does
            let mut bytes = rng.request(signal);
            bytes.extend_from_slice(&[9 << 3, 1]);
            bytes.extend_from_slice(&rng.request(signal));
            let encoded = Encoded::new(signal, Bytes::from(bytes)).unwrap();
            let expected = flatten(&encoded.decode().into());
            let mut changed = encoded.clone();
            changed.for_each_resource(|_| {});
            assert_eq!(flatten(&changed.decode().into()), expected, "round {round}");
            let parts = crate::wire::partition(&encoded, |_| (), |_, _| 0u8);
            let items: Vec<String> =
                parts.values().flat_map(|part| flatten(&part.decode().into())).collect();
            assert_eq!(items, expected, "round {round}");
        }
    }
}
