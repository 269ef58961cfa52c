//! The `file_storage` extension: a directory where persistent sending queues keep their
//! write-ahead logs (`sending_queue.storage: file_storage/<name>` on an exporter). Options as
//! in the Collector's extension: `directory`, `fsync`, `create_directory`, `compaction`
//! (accepted: the log deletes a segment as soon as everything in it is delivered, so it needs
//! no separate compaction), `timeout`; and weir's `max_size_mib`, the most each exporter's log
//! may hold on disk, beyond which new data is refused to clients with a retryable status.

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;
use weir_core::export::Storage;

/// `extensions.file_storage`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `directory` (default `/var/lib/otelcol/file_storage`, the Collector's).
    pub directory: PathBuf,
    /// `create_directory`: create `directory` when missing (default false).
    pub create_directory: bool,
    /// `fsync`: flush every write group to the disk before acknowledging it (default false:
    /// data survives the process being killed, not the machine losing power).
    pub fsync: bool,
    /// `timeout`: accepted for compatibility (writes are not bounded by it).
    #[serde(with = "weir_core::duration")]
    pub timeout: Duration,
    /// `compaction`: accepted; see the module documentation.
    pub compaction: Compaction,
    /// `max_size_mib`: the most one exporter's log holds on disk (0: no limit but the
    /// queue's `queue_size`).
    pub max_size_mib: u64,
}

/// `compaction`: the Collector's bbolt compaction options, accepted.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Compaction {
    /// `on_start`.
    pub on_start: bool,
    /// `on_rebound`.
    pub on_rebound: bool,
    /// `directory`.
    pub directory: Option<PathBuf>,
    /// `max_transaction_size`.
    pub max_transaction_size: Option<u64>,
    /// `rebound_needed_threshold_mib`.
    pub rebound_needed_threshold_mib: Option<u64>,
    /// `rebound_trigger_threshold_mib`.
    pub rebound_trigger_threshold_mib: Option<u64>,
    /// `check_interval`.
    pub check_interval: Option<String>,
    /// `cleanup_on_start`.
    pub cleanup_on_start: Option<bool>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            directory: "/var/lib/otelcol/file_storage".into(),
            create_directory: false,
            fsync: false,
            timeout: Duration::from_secs(1),
            compaction: Compaction::default(),
            max_size_mib: 0,
        }
    }
}

impl Config {
    /// Every problem, as `(path below the extension, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.directory.as_os_str().is_empty() {
            errors.push(("directory".into(), "must not be empty".into()));
        }
        errors
    }

    /// The storage a persistent queue opens: checks (or creates) the directory.
    pub fn storage(&self) -> std::io::Result<Storage> {
        if self.create_directory {
            std::fs::create_dir_all(&self.directory)?;
        } else if !self.directory.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "file_storage directory {} does not exist (set create_directory: true)",
                    self.directory.display()
                ),
            ));
        }
        Ok(Storage {
            directory: self.directory.clone(),
            fsync: self.fsync,
            max_bytes: self.max_size_mib << 20,
        })
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "file_storage",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Alpha,
        summary: "a directory for persistent sending queues",
    }
);

impl crate::BuildExtension for Config {
    fn storage(&self) -> Option<&crate::file_storage::Config> {
        Some(self)
    }
}
