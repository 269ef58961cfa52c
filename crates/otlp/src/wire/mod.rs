//! Walking OTLP export requests in their protobuf encoding without decoding them: one pass
//! that refuses what a full decode would refuse (malformed wire data, a field of the wrong wire
//! type, a string that is not UTF-8, nesting past prost's recursion limit) and what
//! [`crate::validate`] refuses (identifier lengths), names the field where it stopped in the
//! OTLP/JSON spelling, and counts the items (spans, data points, log records). It allocates
//! nothing on the way: the schema is static tables, the path a fixed array.
//!
//! The tables follow the `opentelemetry-proto` messages field by field; unknown fields are
//! skipped, as prost skips them. A test checks the walk against a full decode on random
//! requests and on random damage to them.

mod encoded;
mod partition;
#[cfg(test)]
mod tests;

pub use encoded::Encoded;
pub(crate) use partition::{last_bytes, partition};

use crate::{InvalidRequest, Signal};

/// How deep messages may nest, as prost allows.
const RECURSION_LIMIT: usize = 100;

/// What one field holds.
#[derive(Clone, Copy)]
enum Kind {
    /// A varint scalar (integers, enums, bools).
    Varint,
    /// A repeated varint scalar, packed or not.
    Varints,
    /// A 64-bit scalar.
    Fixed64,
    /// A repeated 64-bit scalar, packed or not.
    Fixed64s,
    /// A 32-bit scalar.
    Fixed32,
    /// A UTF-8 string.
    Str,
    /// Bytes.
    Bytes,
    /// A trace (16) or span (8) id; `optional` allows it to be empty.
    Id { len: usize, optional: bool, what: &'static str },
    /// A nested message.
    Message(&'static Schema),
}

/// One field of a message: its number, its name in OTLP/JSON, what it holds, whether its
/// occurrences are indexed in error paths, and whether each occurrence is an item.
struct Field {
    number: u32,
    name: &'static str,
    kind: Kind,
    indexed: bool,
    item: bool,
    /// Whether items are in it (it is one, or on the way to them): what splitting cuts.
    holds: bool,
}

/// A message: its fields, an index of them by number (position + 1; 0 for unknown numbers),
/// and whether any is an id.
struct Schema {
    fields: &'static [Field],
    by_number: [u8; MAX_FIELD + 1],
    has_ids: bool,
}

/// The highest field number of the OTLP messages.
const MAX_FIELD: usize = 16;

const fn schema(fields: &'static [Field]) -> Schema {
    let mut i = 0;
    let mut has_ids = false;
    let mut by_number = [0u8; MAX_FIELD + 1];
    while i < fields.len() {
        has_ids |= matches!(fields[i].kind, Kind::Id { .. });
        by_number[fields[i].number as usize] = i as u8 + 1;
        i += 1;
    }
    Schema { fields, by_number, has_ids }
}

impl Schema {
    #[inline]
    fn field(&self, number: u32) -> Option<&'static Field> {
        let position = *self.by_number.get(number as usize)?;
        self.fields.get(usize::from(position).checked_sub(1)?)
    }
}

const fn f(number: u32, name: &'static str, kind: Kind) -> Field {
    Field { number, name, kind, indexed: false, item: false, holds: false }
}

/// A repeated message field whose occurrences appear in error paths with their index.
const fn list(number: u32, name: &'static str, schema: &'static Schema) -> Field {
    Field { number, name, kind: Kind::Message(schema), indexed: true, item: false, holds: false }
}

/// A repeated message field on the way to the items (resources, scopes, metrics).
const fn chain(number: u32, name: &'static str, schema: &'static Schema) -> Field {
    Field { number, name, kind: Kind::Message(schema), indexed: true, item: false, holds: true }
}

/// A message field holding a metric's data points.
const fn data(number: u32, name: &'static str, schema: &'static Schema) -> Field {
    Field { number, name, kind: Kind::Message(schema), indexed: false, item: false, holds: true }
}

/// A repeated message field whose occurrences are the request's items.
const fn items(number: u32, name: &'static str, schema: &'static Schema) -> Field {
    Field { number, name, kind: Kind::Message(schema), indexed: true, item: true, holds: true }
}

const fn msg(number: u32, name: &'static str, schema: &'static Schema) -> Field {
    f(number, name, Kind::Message(schema))
}

const TRACE_ID: Kind = Kind::Id { len: 16, optional: false, what: "trace id" };
const SPAN_ID: Kind = Kind::Id { len: 8, optional: false, what: "span id" };
const OPTIONAL_TRACE_ID: Kind = Kind::Id { len: 16, optional: true, what: "trace id" };
const OPTIONAL_SPAN_ID: Kind = Kind::Id { len: 8, optional: true, what: "span id" };

// common.v1
static ANY_VALUE: Schema = schema(&[
    f(1, "stringValue", Kind::Str),
    f(2, "boolValue", Kind::Varint),
    f(3, "intValue", Kind::Varint),
    f(4, "doubleValue", Kind::Fixed64),
    msg(5, "arrayValue", &ARRAY_VALUE),
    msg(6, "kvlistValue", &KEY_VALUE_LIST),
    f(7, "bytesValue", Kind::Bytes),
    f(8, "stringValueStrindex", Kind::Varint),
]);
static ARRAY_VALUE: Schema = schema(&[msg(1, "values", &ANY_VALUE)]);
static KEY_VALUE_LIST: Schema = schema(&[msg(1, "values", &KEY_VALUE)]);
static KEY_VALUE: Schema = schema(&[
    f(1, "key", Kind::Str),
    msg(2, "value", &ANY_VALUE),
    f(3, "keyStrindex", Kind::Varint),
]);
static SCOPE: Schema = schema(&[
    f(1, "name", Kind::Str),
    f(2, "version", Kind::Str),
    msg(3, "attributes", &KEY_VALUE),
    f(4, "droppedAttributesCount", Kind::Varint),
]);
static ENTITY_REF: Schema = schema(&[
    f(1, "schemaUrl", Kind::Str),
    f(2, "type", Kind::Str),
    f(3, "idKeys", Kind::Str),
    f(4, "descriptionKeys", Kind::Str),
]);
// resource.v1
static RESOURCE: Schema = schema(&[
    msg(1, "attributes", &KEY_VALUE),
    f(2, "droppedAttributesCount", Kind::Varint),
    msg(3, "entityRefs", &ENTITY_REF),
]);

// trace.v1
static TRACES: Schema = schema(&[chain(1, "resourceSpans", &RESOURCE_SPANS)]);
static RESOURCE_SPANS: Schema = schema(&[
    msg(1, "resource", &RESOURCE),
    chain(2, "scopeSpans", &SCOPE_SPANS),
    f(3, "schemaUrl", Kind::Str),
]);
static SCOPE_SPANS: Schema =
    schema(&[msg(1, "scope", &SCOPE), items(2, "spans", &SPAN), f(3, "schemaUrl", Kind::Str)]);
static SPAN: Schema = schema(&[
    f(1, "traceId", TRACE_ID),
    f(2, "spanId", SPAN_ID),
    f(3, "traceState", Kind::Str),
    f(4, "parentSpanId", OPTIONAL_SPAN_ID),
    f(16, "flags", Kind::Fixed32),
    f(5, "name", Kind::Str),
    f(6, "kind", Kind::Varint),
    f(7, "startTimeUnixNano", Kind::Fixed64),
    f(8, "endTimeUnixNano", Kind::Fixed64),
    msg(9, "attributes", &KEY_VALUE),
    f(10, "droppedAttributesCount", Kind::Varint),
    msg(11, "events", &EVENT),
    f(12, "droppedEventsCount", Kind::Varint),
    list(13, "links", &LINK),
    f(14, "droppedLinksCount", Kind::Varint),
    msg(15, "status", &STATUS),
]);
static EVENT: Schema = schema(&[
    f(1, "timeUnixNano", Kind::Fixed64),
    f(2, "name", Kind::Str),
    msg(3, "attributes", &KEY_VALUE),
    f(4, "droppedAttributesCount", Kind::Varint),
]);
static LINK: Schema = schema(&[
    f(1, "traceId", TRACE_ID),
    f(2, "spanId", SPAN_ID),
    f(3, "traceState", Kind::Str),
    msg(4, "attributes", &KEY_VALUE),
    f(5, "droppedAttributesCount", Kind::Varint),
    f(6, "flags", Kind::Fixed32),
]);
static STATUS: Schema = schema(&[f(2, "message", Kind::Str), f(3, "code", Kind::Varint)]);

// logs.v1
static LOGS: Schema = schema(&[chain(1, "resourceLogs", &RESOURCE_LOGS)]);
static RESOURCE_LOGS: Schema = schema(&[
    msg(1, "resource", &RESOURCE),
    chain(2, "scopeLogs", &SCOPE_LOGS),
    f(3, "schemaUrl", Kind::Str),
]);
static SCOPE_LOGS: Schema = schema(&[
    msg(1, "scope", &SCOPE),
    items(2, "logRecords", &LOG_RECORD),
    f(3, "schemaUrl", Kind::Str),
]);
static LOG_RECORD: Schema = schema(&[
    f(1, "timeUnixNano", Kind::Fixed64),
    f(11, "observedTimeUnixNano", Kind::Fixed64),
    f(2, "severityNumber", Kind::Varint),
    f(3, "severityText", Kind::Str),
    msg(5, "body", &ANY_VALUE),
    msg(6, "attributes", &KEY_VALUE),
    f(7, "droppedAttributesCount", Kind::Varint),
    f(8, "flags", Kind::Fixed32),
    f(9, "traceId", OPTIONAL_TRACE_ID),
    f(10, "spanId", OPTIONAL_SPAN_ID),
    f(12, "eventName", Kind::Str),
]);

// metrics.v1
static METRICS: Schema = schema(&[chain(1, "resourceMetrics", &RESOURCE_METRICS)]);
static RESOURCE_METRICS: Schema = schema(&[
    msg(1, "resource", &RESOURCE),
    chain(2, "scopeMetrics", &SCOPE_METRICS),
    f(3, "schemaUrl", Kind::Str),
]);
static SCOPE_METRICS: Schema =
    schema(&[msg(1, "scope", &SCOPE), chain(2, "metrics", &METRIC), f(3, "schemaUrl", Kind::Str)]);
static METRIC: Schema = schema(&[
    f(1, "name", Kind::Str),
    f(2, "description", Kind::Str),
    f(3, "unit", Kind::Str),
    msg(12, "metadata", &KEY_VALUE),
    data(5, "gauge", &GAUGE),
    data(7, "sum", &SUM),
    data(9, "histogram", &HISTOGRAM),
    data(10, "exponentialHistogram", &EXPONENTIAL_HISTOGRAM),
    data(11, "summary", &SUMMARY),
]);
static GAUGE: Schema = schema(&[items(1, "dataPoints", &NUMBER_POINT)]);
static SUM: Schema = schema(&[
    items(1, "dataPoints", &NUMBER_POINT),
    f(2, "aggregationTemporality", Kind::Varint),
    f(3, "isMonotonic", Kind::Varint),
]);
static HISTOGRAM: Schema = schema(&[
    items(1, "dataPoints", &HISTOGRAM_POINT),
    f(2, "aggregationTemporality", Kind::Varint),
]);
static EXPONENTIAL_HISTOGRAM: Schema = schema(&[
    items(1, "dataPoints", &EXPONENTIAL_POINT),
    f(2, "aggregationTemporality", Kind::Varint),
]);
static SUMMARY: Schema = schema(&[items(1, "dataPoints", &SUMMARY_POINT)]);
static NUMBER_POINT: Schema = schema(&[
    msg(7, "attributes", &KEY_VALUE),
    f(2, "startTimeUnixNano", Kind::Fixed64),
    f(3, "timeUnixNano", Kind::Fixed64),
    list(5, "exemplars", &EXEMPLAR),
    f(8, "flags", Kind::Varint),
    f(4, "asDouble", Kind::Fixed64),
    f(6, "asInt", Kind::Fixed64),
]);
static HISTOGRAM_POINT: Schema = schema(&[
    msg(9, "attributes", &KEY_VALUE),
    f(2, "startTimeUnixNano", Kind::Fixed64),
    f(3, "timeUnixNano", Kind::Fixed64),
    f(4, "count", Kind::Fixed64),
    f(5, "sum", Kind::Fixed64),
    f(6, "bucketCounts", Kind::Fixed64s),
    f(7, "explicitBounds", Kind::Fixed64s),
    list(8, "exemplars", &EXEMPLAR),
    f(10, "flags", Kind::Varint),
    f(11, "min", Kind::Fixed64),
    f(12, "max", Kind::Fixed64),
]);
static EXPONENTIAL_POINT: Schema = schema(&[
    msg(1, "attributes", &KEY_VALUE),
    f(2, "startTimeUnixNano", Kind::Fixed64),
    f(3, "timeUnixNano", Kind::Fixed64),
    f(4, "count", Kind::Fixed64),
    f(5, "sum", Kind::Fixed64),
    f(6, "scale", Kind::Varint),
    f(7, "zeroCount", Kind::Fixed64),
    msg(8, "positive", &BUCKETS),
    msg(9, "negative", &BUCKETS),
    f(10, "flags", Kind::Varint),
    list(11, "exemplars", &EXEMPLAR),
    f(12, "min", Kind::Fixed64),
    f(13, "max", Kind::Fixed64),
    f(14, "zeroThreshold", Kind::Fixed64),
]);
static BUCKETS: Schema =
    schema(&[f(1, "offset", Kind::Varint), f(2, "bucketCounts", Kind::Varints)]);
static SUMMARY_POINT: Schema = schema(&[
    msg(7, "attributes", &KEY_VALUE),
    f(2, "startTimeUnixNano", Kind::Fixed64),
    f(3, "timeUnixNano", Kind::Fixed64),
    f(4, "count", Kind::Fixed64),
    f(5, "sum", Kind::Fixed64),
    msg(6, "quantileValues", &QUANTILE),
    f(8, "flags", Kind::Varint),
]);
static QUANTILE: Schema = schema(&[f(1, "quantile", Kind::Fixed64), f(2, "value", Kind::Fixed64)]);
static EXEMPLAR: Schema = schema(&[
    msg(7, "filteredAttributes", &KEY_VALUE),
    f(2, "timeUnixNano", Kind::Fixed64),
    f(4, "spanId", OPTIONAL_SPAN_ID),
    f(5, "traceId", OPTIONAL_TRACE_ID),
    f(3, "asDouble", Kind::Fixed64),
    f(6, "asInt", Kind::Fixed64),
]);

/// The request message of `signal`'s export service.
fn request(signal: Signal) -> &'static Schema {
    match signal {
        Signal::Traces => &TRACES,
        Signal::Metrics => &METRICS,
        Signal::Logs => &LOGS,
    }
}

/// Protobuf wire types.
const VARINT: u64 = 0;
const I64: u64 = 1;
const LEN: u64 = 2;
const START_GROUP: u64 = 3;
const END_GROUP: u64 = 4;
const I32: u64 = 5;

/// The most indexed path elements an error names (a request nests five levels of lists).
const MAX_PATH: usize = 8;

/// Where the walk is: the indexed lists it is in, as a fixed array.
struct Path {
    at: [(&'static str, usize); MAX_PATH],
    depth: usize,
}

impl Path {
    fn describe(&self, leaf: &str) -> String {
        let mut parts: Vec<String> = self.at[..self.depth.min(MAX_PATH)]
            .iter()
            .map(|(name, index)| format!("{name}[{index}]"))
            .collect();
        if !leaf.is_empty() {
            parts.push(leaf.to_owned());
        }
        if parts.is_empty() { "request".to_owned() } else { parts.join(".") }
    }
}

struct Walker {
    path: Path,
    items: usize,
}

/// Why a read failed, before the path is known.
type Malformed = &'static str;

/// Reads one varint, as prost does (at most ten bytes, the tenth at most 1).
#[inline]
fn varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    if let Some((&byte, rest)) = buf.split_first()
        && byte < 0x80
    {
        *buf = rest;
        return Ok(u64::from(byte));
    }
    varint_slow(buf)
}

fn varint_slow(buf: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for i in 0..10 {
        let Some((&byte, rest)) = buf.split_first() else { return Err("truncated varint") };
        *buf = rest;
        if i == 9 && byte > 1 {
            return Err("invalid varint");
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err("invalid varint")
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Result<&'a [u8], Malformed> {
    if buf.len() < len {
        return Err("buffer underflow");
    }
    let (taken, rest) = buf.split_at(len);
    *buf = rest;
    Ok(taken)
}

fn length_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], Malformed> {
    let len = varint(buf)?;
    let len = usize::try_from(len).map_err(|_| "buffer underflow")?;
    take(buf, len)
}

/// Reads a field key: `(field number, wire type)`.
fn key(buf: &mut &[u8]) -> Result<(u32, u64), Malformed> {
    let key = varint(buf)?;
    if key > u64::from(u32::MAX) {
        return Err("invalid key value");
    }
    let wire_type = key & 7;
    if wire_type > I32 {
        return Err("invalid wire type");
    }
    let number = (key >> 3) as u32;
    if number == 0 {
        return Err("invalid tag value: 0");
    }
    Ok((number, wire_type))
}

/// Skips a field of an unknown number, as prost does (groups included).
fn skip(buf: &mut &[u8], number: u32, wire_type: u64, depth: usize) -> Result<(), Malformed> {
    match wire_type {
        VARINT => varint(buf).map(drop),
        I64 => take(buf, 8).map(drop),
        I32 => take(buf, 4).map(drop),
        LEN => length_delimited(buf).map(drop),
        START_GROUP => {
            if depth >= RECURSION_LIMIT {
                return Err("recursion limit reached");
            }
            loop {
                let (inner, inner_type) = key(buf)?;
                if inner_type == END_GROUP {
                    return if inner == number { Ok(()) } else { Err("unexpected end group tag") };
                }
                skip(buf, inner, inner_type, depth + 1)?;
            }
        }
        _ => Err("unexpected end group tag"),
    }
}

impl Walker {
    fn fail(&self, leaf: &str, message: impl Into<String>) -> InvalidRequest {
        InvalidRequest { path: self.path.describe(leaf), message: message.into() }
    }

    fn malformed(&self, leaf: &str, what: Malformed) -> InvalidRequest {
        self.fail(leaf, format!("invalid protobuf: {what}"))
    }

    /// Walks one message of `schema`; `leaf` names it in errors about its own bytes.
    fn message(
        &mut self,
        schema: &'static Schema,
        mut buf: &[u8],
        depth: usize,
        leaf: &str,
    ) -> Result<(), InvalidRequest> {
        if depth >= RECURSION_LIMIT {
            return Err(self.malformed(leaf, "recursion limit reached"));
        }
        // the occurrences of indexed fields so far and the length of each id field's last
        // occurrence (the one a decode keeps), by field number
        let mut counts = [0u32; MAX_FIELD + 1];
        // 0: absent; otherwise the length plus one
        let mut ids = [0u32; MAX_FIELD + 1];
        while !buf.is_empty() {
            let (number, wire_type) = key(&mut buf).map_err(|e| self.malformed(leaf, e))?;
            let Some(field) = schema.field(number) else {
                skip(&mut buf, number, wire_type, depth).map_err(|e| self.malformed(leaf, e))?;
                continue;
            };
            let wrong_type =
                |walker: &Walker| walker.malformed(field.name, "invalid wire type for the field");
            match field.kind {
                Kind::Varint => match wire_type {
                    VARINT => varint(&mut buf).map(drop),
                    _ => return Err(wrong_type(self)),
                }
                .map_err(|e| self.malformed(field.name, e))?,
                Kind::Varints => match wire_type {
                    VARINT => varint(&mut buf).map(drop),
                    LEN => length_delimited(&mut buf).and_then(|mut packed| {
                        while !packed.is_empty() {
                            varint(&mut packed)?;
                        }
                        Ok(())
                    }),
                    _ => return Err(wrong_type(self)),
                }
                .map_err(|e| self.malformed(field.name, e))?,
                Kind::Fixed64 => match wire_type {
                    I64 => take(&mut buf, 8).map(drop),
                    _ => return Err(wrong_type(self)),
                }
                .map_err(|e| self.malformed(field.name, e))?,
                Kind::Fixed64s => match wire_type {
                    I64 => take(&mut buf, 8).map(drop),
                    LEN => length_delimited(&mut buf).and_then(|packed| {
                        if packed.len() % 8 == 0 { Ok(()) } else { Err("buffer underflow") }
                    }),
                    _ => return Err(wrong_type(self)),
                }
                .map_err(|e| self.malformed(field.name, e))?,
                Kind::Fixed32 => match wire_type {
                    I32 => take(&mut buf, 4).map(drop),
                    _ => return Err(wrong_type(self)),
                }
                .map_err(|e| self.malformed(field.name, e))?,
                Kind::Str | Kind::Bytes | Kind::Id { .. } | Kind::Message(_)
                    if wire_type != LEN =>
                {
                    return Err(wrong_type(self));
                }
                Kind::Str => {
                    let text =
                        length_delimited(&mut buf).map_err(|e| self.malformed(field.name, e))?;
                    if std::str::from_utf8(text).is_err() {
                        return Err(self.malformed(field.name, "string is not UTF-8"));
                    }
                }
                Kind::Bytes => {
                    length_delimited(&mut buf).map_err(|e| self.malformed(field.name, e))?;
                }
                Kind::Id { .. } => {
                    let id =
                        length_delimited(&mut buf).map_err(|e| self.malformed(field.name, e))?;
                    ids[number as usize] = id.len() as u32 + 1;
                }
                Kind::Message(inner) => {
                    let bytes =
                        length_delimited(&mut buf).map_err(|e| self.malformed(field.name, e))?;
                    if field.item {
                        self.items += 1;
                    }
                    if field.indexed {
                        let slot = &mut counts[number as usize];
                        let index = *slot as usize;
                        *slot += 1;
                        if self.path.depth < MAX_PATH {
                            self.path.at[self.path.depth] = (field.name, index);
                        }
                        self.path.depth += 1;
                        let walked = self.message(inner, bytes, depth + 1, "");
                        self.path.depth -= 1;
                        walked?;
                    } else {
                        self.message(inner, bytes, depth + 1, field.name)?;
                    }
                }
            }
        }
        // ids are checked as decoded: the last occurrence, or empty when there was none
        for field in schema.fields.iter().filter(|_| schema.has_ids) {
            if let Kind::Id { len, optional, what } = field.kind {
                let found = ids[field.number as usize].saturating_sub(1) as usize;
                if found != len && !(optional && found == 0) {
                    let message = format!("invalid {what} of {found} bytes: expected {len}");
                    return Err(self.fail(field.name, message));
                }
            }
        }
        Ok(())
    }
}

/// The items of an export request of `signal` as far as its bytes are well formed (for
/// counting what a refused request held).
pub fn count_items(signal: Signal, bytes: &[u8]) -> usize {
    encoded::count(request(signal), bytes)
}

/// Walks an export request of `signal` (its protobuf bytes): refuses it as a full decode and
/// [`crate::validate`] would, naming the field, or returns how many items it holds.
pub fn walk(signal: Signal, bytes: &[u8]) -> Result<usize, InvalidRequest> {
    let mut walker = Walker { path: Path { at: [("", 0); MAX_PATH], depth: 0 }, items: 0 };
    walker.message(request(signal), bytes, 0, "")?;
    Ok(walker.items)
}
