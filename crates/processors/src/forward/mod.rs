//! The `forward` connector: ends pipelines of one signal and feeds others of the same signal,
//! unchanged (the Collector's `forward` connector).

use serde::Deserialize;
use weir_core::{Batch, Output, Processor};

/// `connectors.forward`: no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Passes every batch on.
#[derive(Debug)]
pub struct Forward;

impl Processor for Forward {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        out.push(batch);
    }
}
