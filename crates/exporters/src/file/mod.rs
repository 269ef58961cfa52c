//! The `file` exporter: one OTLP/JSON export request per line, as the Collector's file
//! exporter writes with `format: json`; the lines read back with
//! `weir_otlp::json::decode_any`. Each batch is flushed to the file before the export
//! counts as done.

use std::path::PathBuf;

use serde::Deserialize;
use tokio::{
    fs::{File, OpenOptions},
    io::{AsyncWriteExt, BufWriter},
    sync::Mutex,
};
use weir_core::{Batch, BoxFuture, ExportError, Exporter};

/// `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OTLP/JSON, one request per line.
    #[default]
    Json,
}

/// `exporters.file`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `path`: the file to write (required).
    pub path: PathBuf,
    /// `format`: only `json`.
    pub format: Format,
    /// `append`: keep what the file holds (default: truncate it at start).
    pub append: bool,
}

impl Config {
    /// Every problem, as `(path below the exporter, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        if self.path.as_os_str().is_empty() {
            return vec![("path".into(), "is required".into())];
        }
        Vec::new()
    }
}

/// Writes batches to a file.
#[derive(Debug)]
pub struct FileExporter {
    file: Mutex<BufWriter<File>>,
}

impl FileExporter {
    /// Opens (creating, and unless `append` truncating) the configured file.
    pub async fn open(config: &Config) -> std::io::Result<FileExporter> {
        let mut options = OpenOptions::new();
        options.create(true);
        if config.append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options.open(&config.path).await.map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot open {}: {error}", config.path.display()),
            )
        })?;
        Ok(FileExporter { file: Mutex::new(BufWriter::new(file)) })
    }
}

impl Exporter for FileExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        _: &'a weir_core::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let mut line = weir_otlp::json::encode(batch);
            line.push(b'\n');
            let mut file = self.file.lock().await;
            file.write_all(&line).await?;
            file.flush().await?;
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ExportError>> {
        Box::pin(async move {
            let mut file = self.file.lock().await;
            file.flush().await?;
            file.get_ref().sync_all().await?;
            Ok(())
        })
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "file",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Alpha,
        summary: "appends each batch to a file as one OTLP/JSON request per line",
    }
);

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build<'a>(
        &'a self,
        _id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move { Ok(Arc::new(FileExporter::open(self).await?) as Arc<dyn Exporter>) })
    }

    fn queue(&self) -> weir_core::export::Settings {
        weir_core::export::Settings::in_order()
    }

    fn authenticator(&self) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use weir_core::testing::{logs, spans};

    use super::*;

    #[tokio::test]
    async fn lines_read_back_as_the_batches_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "stale\n").unwrap();
        let config = Config { path: path.clone(), ..Config::default() };
        let exporter = FileExporter::open(&config).await.unwrap();
        let written = [spans("a", 3, 1), logs("b", 2)];
        for batch in &written {
            exporter.export(batch, &Default::default()).await.unwrap();
        }
        exporter.shutdown().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let read: Vec<Batch> =
            text.lines().map(|l| weir_otlp::json::decode_any(l.as_bytes()).unwrap()).collect();
        assert_eq!(read, written, "the file was truncated and holds exactly what was written");
    }

    #[test]
    fn path_is_required() {
        assert_eq!(
            Config::default().problems(),
            vec![("path".to_owned(), "is required".to_owned())]
        );
    }
}
