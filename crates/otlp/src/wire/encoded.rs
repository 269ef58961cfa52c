//! An export request kept as its protobuf bytes: merged by concatenation (the request is one
//! repeated field, and protobuf merges repeated fields by appending), split at a number of
//! items by walking the wire. A part keeps each item under copies of its resource, scope and,
//! for data points, metric (the fields other than the cut list are copied to both sides).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Field, Kind, LEN, Schema, key, length_delimited, request, skip, walk};
use crate::{Batch, InvalidRequest, Signal};

/// One signal's export request as protobuf bytes, with its item count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    signal: Signal,
    bytes: Bytes,
    items: usize,
}

impl Encoded {
    /// Checks `bytes` as a request of `signal` (see [`walk`]) and keeps them as they are.
    pub fn new(signal: Signal, bytes: Bytes) -> Result<Encoded, InvalidRequest> {
        let items = walk(signal, &bytes)?;
        Ok(Encoded { signal, bytes, items })
    }

    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Spans, data points or log records held.
    pub fn item_count(&self) -> usize {
        self.items
    }

    /// The request's protobuf bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Decodes the items.
    pub fn decode(&self) -> Batch {
        Batch::decode_protobuf(self.signal, &self.bytes).expect("checked when kept")
    }

    /// Appends `other`'s items after these (same signal: the caller's to ensure).
    pub fn append(&mut self, other: Encoded) {
        debug_assert_eq!(self.signal, other.signal);
        let mut joined = BytesMut::with_capacity(self.bytes.len() + other.bytes.len());
        joined.put_slice(&self.bytes);
        joined.put_slice(&other.bytes);
        self.bytes = joined.freeze();
        self.items += other.items;
    }

    /// Removes the first `n` items (`0 < n < item_count`) into a request of their own.
    pub fn split_front(&mut self, n: usize) -> Encoded {
        let (front, back) = split(request(self.signal), &self.bytes, n);
        let front = Encoded { signal: self.signal, bytes: front.freeze(), items: n };
        self.bytes = back.freeze();
        self.items -= n;
        front
    }
}

/// Writes a length-delimited field.
fn put_field(out: &mut BytesMut, number: u32, bytes: &[u8]) {
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
fn count(schema: &'static Schema, mut buf: &[u8]) -> usize {
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
    use crate::testgen::Rng;

    /// Every item of `batch` with its resource, scope and (for points) metric, as JSON lines.
    fn flatten(batch: &Batch) -> Vec<String> {
        let json = crate::json::encode(batch);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let mut out = Vec::new();
        let (resources, scopes, items) = match batch.signal() {
            Signal::Traces => ("resourceSpans", "scopeSpans", "spans"),
            Signal::Logs => ("resourceLogs", "scopeLogs", "logRecords"),
            Signal::Metrics => ("resourceMetrics", "scopeMetrics", "metrics"),
        };
        let list = |v: &serde_json::Value, k: &str| v[k].as_array().cloned().unwrap_or_default();
        for r in list(&value, resources) {
            for s in list(&r, scopes) {
                for item in list(&s, items) {
                    let context = format!("{} {} {}", r["resource"], s["scope"], s["schemaUrl"]);
                    if batch.signal() != Signal::Metrics {
                        out.push(format!("{context} {item}"));
                        continue;
                    }
                    let mut metric = item.clone();
                    let data = ["gauge", "sum", "histogram", "exponentialHistogram", "summary"]
                        .into_iter()
                        .find(|d| item.get(*d).is_some());
                    let Some(data) = data else { continue };
                    let points = list(&item[data], "dataPoints");
                    metric[data]["dataPoints"] = serde_json::Value::Null;
                    for point in points {
                        out.push(format!("{context} {metric} {point}"));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn split_and_append_keep_every_item_once_in_order_under_its_resource_and_scope() {
        let mut rng = Rng(0xfeed_0003);
        let mut splits = 0;
        for round in 0..3000 {
            let signal = Signal::ALL[round % 3];
            let bytes = Bytes::from(rng.request(signal));
            let mut whole = Encoded::new(signal, bytes).unwrap();
            let expected = flatten(&whole.decode());
            assert_eq!(expected.len(), whole.item_count(), "round {round}");
            if whole.item_count() < 2 {
                continue;
            }
            let n = 1 + rng.below(whole.item_count() as u64 - 1);
            let total = whole.item_count();
            let front = whole.split_front(n);
            splits += 1;
            assert_eq!(walk(signal, front.bytes()), Ok(n), "round {round}: the front walks");
            assert_eq!(walk(signal, whole.bytes()), Ok(total - n), "round {round}: the back walks");
            let mut parts = flatten(&front.decode());
            parts.extend(flatten(&whole.decode()));
            assert_eq!(parts, expected, "round {round}: split at {n} of {total}");
            let mut joined = front;
            joined.append(whole);
            assert_eq!(joined.item_count(), total);
            assert_eq!(flatten(&joined.decode()), expected, "round {round}: appended back");
        }
        assert!(splits > 1000, "{splits}");
    }
}
