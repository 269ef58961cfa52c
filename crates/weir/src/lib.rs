//! weir: an OpenTelemetry pipeline that limits, samples and measures telemetry.
//!
//! The binary's pieces, as a library so that end-to-end tests drive the same code:
//! [`config`] (load, parse, validate into a plan), [`topology`] (build and run a plan, shut
//! it down in order) and [`cli`].

pub mod bench;
pub mod cli;
pub mod config;
pub mod fuzz;
pub mod loadgen;
pub mod logs;
pub mod telemetry;
pub mod topology;

pub use weir_extensions as extensions;
