//! The `filelog` receiver: the files `include` matches (less `exclude` and those older than
//! `exclude_older_than`), polled every `poll_interval`, each followed by its fingerprint — its
//! first `fingerprint_size` bytes — rather than its name, as the Collector follows them: a
//! file renamed by rotation is the same file, read on from where it was; a file truncated in
//! place (copytruncate) is read again from its start; a file recreated under the same name is a
//! new file; a file rotated away or deleted is read to its end through the handle kept open.
//! `start_at: end` (the default) skips what the files held at weir's start; files that appear
//! later are read from their beginning.
//!
//! Each line is a log record (`multiline` joins lines into entries by the pattern that starts
//! or ends one), its body the text, with `log.file.name` (and `log.file.path`, resolved
//! variants, `attributes`) as attributes and `resource` on the resource. An entry longer than
//! `max_log_size` is cut there and counted in `weir_receiver_filelog_truncated_entries_total`.
//! When the pipelines are full, reading waits: nothing is buffered beyond one poll's read.
//!
//! The `container` operator reads container runtimes' log lines (`container.rs`). Not built
//! yet: the other operators, `storage` checkpoints, `header`, `compression`.

mod config;
mod container;
mod reader;
#[cfg(test)]
mod tests;

use std::{
    fs::File,
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

pub use config::{Config, Multiline, Settings};
pub use container::ContainerConfig;
use tokio_util::sync::CancellationToken;
use weir_core::{BoxFuture, Receiver, ReceiverError, ReceiverOutput, declare::BuildReceiver};
use weir_otlp::{
    Batch,
    attributes::kv,
    proto::{
        common::v1::{AnyValue, any_value},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        resource::v1::Resource,
    },
};

use self::reader::{Reader, fingerprint};

impl BuildReceiver for Settings {
    fn build<'a>(
        &'a self,
        id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> BoxFuture<'a, std::io::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            Ok(Box::new(FileLog { id: id.to_owned(), settings: self.clone() }) as Box<dyn Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// The running receiver.
pub struct FileLog {
    id: String,
    settings: Settings,
}

/// The files followed.
#[derive(Default)]
pub(crate) struct Tracker {
    readers: Vec<Reader>,
    polled: bool,
}

/// What one poll read: each file's entries, and the files to delete once they are sent.
pub(crate) struct Poll {
    pub(crate) entries: Vec<(PathBuf, Vec<String>)>,
    pub(crate) done: Vec<PathBuf>,
}

impl Tracker {
    /// The files to follow now, sorted.
    fn matched(settings: &Settings) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for pattern in &settings.include {
            for path in glob::glob(pattern).into_iter().flatten().flatten() {
                if settings.exclude.iter().any(|p| p.matches_path(&path)) || !path.is_file() {
                    continue;
                }
                if let Some(age) = settings.exclude_older_than {
                    let modified = std::fs::metadata(&path).and_then(|m| m.modified());
                    if modified.is_ok_and(|m| m.elapsed().unwrap_or_default() > age) {
                        continue;
                    }
                }
                paths.push(path);
            }
        }
        paths.sort();
        paths.dedup();
        paths.truncate(settings.max_concurrent_files);
        paths
    }

    /// Finds the files, reads what is new in each.
    pub(crate) fn poll(&mut self, settings: &Settings, cut: &mut u64) -> Poll {
        let mut seen = vec![false; self.readers.len()];
        let mut fresh = Vec::new();
        for path in Self::matched(settings) {
            let Ok(file) = File::open(&path) else { continue };
            let Ok(print) = fingerprint(&file, settings.fingerprint_size) else { continue };
            if print.is_empty() {
                // nothing identifies an empty file yet
                continue;
            }
            let known =
                (0..self.readers.len()).find(|&i| !seen[i] && self.readers[i].matches(&print));
            match known {
                Some(i) => {
                    self.readers[i].update(path, print);
                    seen[i] = true;
                }
                None if fresh.iter().any(|r: &Reader| r.matches(&print)) => {}
                None => {
                    let at_end = !self.polled && !settings.start_at_beginning;
                    let offset = if at_end { file.metadata().map_or(0, |m| m.len()) } else { 0 };
                    fresh.push(Reader::new(path, file, print, offset));
                }
            }
        }
        self.polled = true;
        let mut entries = Vec::new();
        let mut done = Vec::new();
        // files no longer matched (rotated away, deleted) are read to their end, then let go
        let mut kept = Vec::new();
        for (mut reader, seen) in std::mem::take(&mut self.readers).into_iter().zip(seen) {
            let mut read = Vec::new();
            if seen {
                while let Ok(true) = reader.read(settings, &mut read, cut) {}
            } else {
                reader.drain(settings, &mut read, cut);
            }
            if !read.is_empty() {
                entries.push((reader.path.clone(), read));
            }
            if seen {
                kept.push(reader);
            }
        }
        for mut reader in fresh {
            let mut read = Vec::new();
            let _ = reader.read(settings, &mut read, cut);
            if !read.is_empty() {
                entries.push((reader.path.clone(), read));
            }
            kept.push(reader);
        }
        if settings.delete_after_read {
            kept.retain(|reader| {
                let finished = reader.quiet_for() >= settings.force_flush_period
                    && std::fs::metadata(&reader.path).is_ok_and(|m| m.len() == reader.offset);
                if finished {
                    done.push(reader.path.clone());
                }
                !finished
            });
        }
        self.readers = kept;
        Poll { entries, done }
    }
}

/// The files of a `filelog` receiver followed and turned into batches: what the receiver does
/// at each poll, and what a benchmark measures.
pub struct Follower {
    settings: Settings,
    tracker: Tracker,
    /// Each file's partial container lines.
    partials: std::collections::HashMap<PathBuf, container::Partial>,
}

/// What one poll read.
pub struct Read {
    /// A batch per file with new records.
    pub batches: Vec<Batch>,
    /// Entries cut at `max_log_size`.
    pub cut: u64,
    /// Files to delete once their batches are sent (`delete_after_read`).
    pub done: Vec<PathBuf>,
}

impl Follower {
    /// Follows what `settings` names; nothing is read before the first [`Follower::poll`].
    pub fn new(settings: Settings) -> Follower {
        Follower { settings, tracker: Tracker::default(), partials: Default::default() }
    }

    /// Finds the files and reads what is new.
    pub fn poll(&mut self) -> Read {
        let mut cut = 0;
        let poll = self.tracker.poll(&self.settings, &mut cut);
        let mut batches = Vec::new();
        for (path, entries) in poll.entries {
            let partial = self.partials.entry(path.clone()).or_default();
            let batch = batch(&self.settings, &path, entries, partial);
            if batch.item_count() > 0 {
                batches.push(batch);
            }
        }
        // the partial lines of files no longer followed are let go
        let followed: std::collections::HashSet<&Path> =
            self.tracker.readers.iter().map(|r| r.path.as_path()).collect();
        self.partials.retain(|path, _| followed.contains(path.as_path()));
        Read { batches, cut, done: poll.done }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The records of one file's entries (through the `container` operator, with the file's
/// partial lines in `partial`).
pub(crate) fn batch(
    settings: &Settings,
    path: &Path,
    entries: Vec<String>,
    partial: &mut container::Partial,
) -> Batch {
    let now = unix_nanos();
    let [name, full, name_resolved, full_resolved] = settings.names;
    let mut attributes = Vec::new();
    if name {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        attributes.push(kv("log.file.name", &file));
    }
    if full {
        attributes.push(kv("log.file.path", &path.to_string_lossy()));
    }
    if name_resolved || full_resolved {
        let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        if name_resolved {
            let file =
                resolved.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            attributes.push(kv("log.file.name_resolved", &file));
        }
        if full_resolved {
            attributes.push(kv("log.file.path_resolved", &resolved.to_string_lossy()));
        }
    }
    for (key, value) in &settings.attributes {
        attributes.push(kv(key, value));
    }
    let text = |body: String| Some(AnyValue { value: Some(any_value::Value::StringValue(body)) });
    let mut log_records = Vec::with_capacity(entries.len());
    let mut resource: Vec<_> = settings.resource.iter().map(|(k, v)| kv(k, v)).collect();
    match settings.container {
        None => {
            for body in entries {
                log_records.push(LogRecord {
                    observed_time_unix_nano: now,
                    body: text(body),
                    attributes: attributes.clone(),
                    ..Default::default()
                });
            }
        }
        Some((format, from_path, max)) => {
            if from_path {
                resource.extend(container::path_attributes(path).iter().map(|(k, v)| kv(k, v)));
            }
            for line in entries {
                match container::parse(&line, format, partial, max) {
                    Ok(None) => {}
                    Ok(Some(record)) => {
                        let mut attributes = attributes.clone();
                        attributes.push(kv("log.iostream", &record.stream));
                        if let Some(tag) = &record.logtag {
                            attributes.push(kv("logtag", tag));
                        }
                        log_records.push(LogRecord {
                            time_unix_nano: record.time_unix_nano,
                            observed_time_unix_nano: now,
                            body: text(record.body),
                            attributes,
                            ..Default::default()
                        });
                    }
                    Err(error) => {
                        // as the Collector's default on_error (send): the line as it is
                        tracing::debug!(file = %path.display(), %error, "container: line not parsed");
                        log_records.push(LogRecord {
                            observed_time_unix_nano: now,
                            body: text(line),
                            attributes: attributes.clone(),
                            ..Default::default()
                        });
                    }
                }
            }
        }
    }
    Batch::from(vec![ResourceLogs {
        resource: Some(Resource { attributes: resource, ..Default::default() }),
        scope_logs: vec![ScopeLogs { log_records, ..Default::default() }],
        ..Default::default()
    }])
}

impl Receiver for FileLog {
    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let FileLog { id, settings } = *self;
            let signal = weir_otlp::Signal::Logs;
            let labels = [
                (weir_core::telemetry::RECEIVER, id.clone()),
                (weir_core::telemetry::TRANSPORT, "file".to_owned()),
            ];
            let accepted =
                metrics::counter!(weir_core::telemetry::receiver_accepted(signal), &labels);
            let truncated = metrics::counter!("weir_receiver_filelog_truncated_entries_total",
                "receiver" => id.clone());
            let poll_interval = settings.poll_interval;
            let max_log_size = settings.max_log_size;
            let mut follower = Follower::new(settings);
            loop {
                let read = follower.poll();
                if read.cut > 0 {
                    truncated.increment(read.cut);
                    tracing::warn!(receiver = %id, entries = read.cut, max_log_size, "log entries cut at max_log_size");
                }
                for batch in read.batches {
                    let count = batch.item_count() as u64;
                    // Full pipelines: reading waits until they take this batch.
                    loop {
                        let deadline = Instant::now() + Duration::from_secs(1);
                        match output.send(batch.clone(), deadline).await {
                            Ok(()) => break,
                            Err(error) if shutdown.is_cancelled() => {
                                tracing::warn!(receiver = %id, %error, "log entries not sent at shutdown");
                                return Ok(());
                            }
                            Err(error) => {
                                tracing::debug!(receiver = %id, %error, "pipelines full: reading waits");
                            }
                        }
                    }
                    accepted.increment(count);
                }
                for path in read.done {
                    if let Err(error) = std::fs::remove_file(&path) {
                        tracing::warn!(receiver = %id, file = %path.display(), %error, "delete_after_read: cannot delete");
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(poll_interval) => {}
                }
            }
        })
    }
}
