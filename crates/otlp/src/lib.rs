//! OTLP types for weir: the `opentelemetry-proto` messages re-exported, [`Signal`], [`Batch`]
//! (item counting and splitting), request validation and the OTLP/JSON codec.
//!
//! Every other weir crate names OTLP types only through this crate, so that the in-memory
//! representation can change in one place.

pub mod attributes;
mod batch;
pub mod exponential;
pub mod grpc;
pub mod json;
pub mod regroup;
mod split;
#[cfg(test)]
mod testgen;
mod validate;
pub mod wire;

pub use batch::{Batch, Decoded, Item, Signal};
pub use validate::{InvalidRequest, validate};

/// The generated OTLP protobuf messages and gRPC services.
pub use opentelemetry_proto::tonic as proto;

/// The OTLP export request of each signal, as received and sent.
pub use opentelemetry_proto::tonic::collector::{
    logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse},
    metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse},
    trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
};
