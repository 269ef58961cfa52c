//! The `nop` exporter: accepts everything and sends it nowhere. The export queue counts what
//! it "sent", which makes it the sink of throughput measurements.

use serde::Deserialize;
use weir_core::{Batch, BoxFuture, ExportError, Exporter};

/// `exporters.nop`: no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Discards every batch.
#[derive(Debug)]
pub struct NopExporter;

impl Exporter for NopExporter {
    fn export<'a>(&'a self, _batch: &'a Batch) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async { Ok(()) })
    }
}
