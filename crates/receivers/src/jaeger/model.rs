//! Jaeger's span model as both the thrift and the protobuf encodings decode into it, before it
//! becomes OTLP (`translate.rs`).

/// A batch: the process that sent it and its spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Batch {
    pub(crate) process: Option<Process>,
    pub(crate) spans: Vec<Span>,
}

/// The process (service) spans come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Process {
    pub(crate) service_name: String,
    pub(crate) tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Span {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// Thrift's `parentSpanId`; zero when absent (protobuf has references only).
    pub(crate) parent_span_id: [u8; 8],
    pub(crate) operation_name: String,
    pub(crate) references: Vec<Reference>,
    pub(crate) flags: u32,
    pub(crate) start_nanos: u64,
    pub(crate) duration_nanos: u64,
    pub(crate) tags: Vec<Tag>,
    pub(crate) logs: Vec<Log>,
    /// Protobuf: a span may name its own process.
    pub(crate) process: Option<Process>,
}

/// A reference to another span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    pub(crate) follows_from: bool,
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tag {
    pub(crate) key: String,
    pub(crate) value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(Vec<u8>),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Log {
    pub(crate) timestamp_nanos: u64,
    pub(crate) fields: Vec<Tag>,
}

/// A 128-bit trace id from its two halves.
pub(crate) fn trace_id(high: i64, low: i64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    id
}
