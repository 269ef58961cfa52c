//! The contracts and the runtime of weir pipelines.
//!
//! - [`Processor`], [`Exporter`] and [`Receiver`] are what components implement.
//! - [`ReceiverOutput`] is how a receiver hands data to every pipeline that lists it, with a
//!   deadline: all or nothing, so a refused request was delivered nowhere.
//! - [`pipeline::Pipeline`] runs processors in order on a bounded input and fans out to its
//!   consumers (export queues and connectors).
//! - [`export::ExportQueue`] owns delivery to one exporter.
//! - [`telemetry`] names every self-metric.
//!
//! Shutdown is carried by channel closure: when receivers stop they drop their senders, each
//! pipeline drains its input, flushes its processors once and drops its own senders, and so on
//! down to the exporters. Nothing here is unbounded.

mod ack;
pub mod auth;
mod component;
pub mod declare;
pub mod duration;
pub mod export;
pub mod log_limit;
pub mod memory;
pub mod options;
mod output;
pub mod pipeline;
pub mod telemetry;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod tls;

pub use ack::{Ack, AckWait};
pub use component::{
    BoxFuture, ExportError, Exporter, Output, Persist, Processor, Receiver, ReceiverError,
};
pub use declare::{Component, ConfigError, Declaration, Signals, Stability};
pub use output::{
    Capacity, Consumer, Message, Metadata, ReceiverOutput, Refused, Route, SendError, Sizer,
    WhenFull,
};
pub use tokio_util::sync::CancellationToken;
pub use weir_otlp::{Batch, Decoded, Signal};
