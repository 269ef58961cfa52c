//! weir's own logs, with the Collector's `service.telemetry.logs` options: `level`,
//! `encoding` (console or JSON), `disable_caller`, `sampling` (per call site and tick:
//! `initial` entries, then one in `thereafter`; what sampling leaves out is counted in
//! `weir_logs_sampled_out_total`), `output_paths` and `error_output_paths` (`stderr`,
//! `stdout` or files, appended to) and `initial_fields` (added to every entry). Warnings and
//! errors also go, unsampled, to the ring the zpages serve.

use std::{
    collections::HashMap,
    fmt::Write as _,
    io::Write as _,
    sync::{Arc, Mutex},
    time::Instant,
};

use tracing::{Event, Subscriber, callsite::Identifier};
use tracing_subscriber::{
    Layer,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{self, Writer},
        writer::{BoxMakeWriter, MakeWriterExt},
    },
    layer::{Context, Filter, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::config::{LogEncoding, LogLevel, LogSampling, Logs};

/// Every problem of `logs`, as `(path below service.telemetry.logs, message)`.
pub fn problems(logs: &Logs) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if logs.development {
        errors.push((
            "development".into(),
            "weir has no development mode: its logs are the same either way".into(),
        ));
    }
    if logs.sampling.enabled && logs.sampling.tick.is_zero() {
        errors.push(("sampling.tick".into(), "must be > 0".into()));
    }
    for (name, paths) in
        [("output_paths", &logs.output_paths), ("error_output_paths", &logs.error_output_paths)]
    {
        if paths.is_empty() {
            errors.push((name.into(), "must name at least one of stderr, stdout or a file".into()));
        }
        for (i, path) in paths.iter().enumerate() {
            if path.is_empty() {
                errors.push((format!("{name}[{i}]"), "must not be empty".into()));
            }
        }
    }
    errors
}

/// Opens `paths` as one writer.
fn writer(paths: &[String]) -> std::io::Result<BoxMakeWriter> {
    let mut combined: Option<BoxMakeWriter> = None;
    for path in paths {
        let next = match path.as_str() {
            "stderr" => BoxMakeWriter::new(std::io::stderr),
            "stdout" => BoxMakeWriter::new(std::io::stdout),
            file => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .map_err(|e| {
                        std::io::Error::new(e.kind(), format!("cannot open log output {file}: {e}"))
                    })?;
                BoxMakeWriter::new(Arc::new(file))
            }
        };
        combined = Some(match combined {
            None => next,
            Some(before) => BoxMakeWriter::new(before.and(next)),
        });
    }
    Ok(combined.unwrap_or_else(|| BoxMakeWriter::new(std::io::stderr)))
}

/// Reports a problem of the logging itself on `error_output_paths` (stderr when those fail).
fn report(logs: &Logs, message: &str) {
    let mut reported = false;
    for path in &logs.error_output_paths {
        let written = match path.as_str() {
            "stderr" => writeln!(std::io::stderr(), "{message}"),
            "stdout" => writeln!(std::io::stdout(), "{message}"),
            file => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .and_then(|mut f| writeln!(f, "{message}")),
        };
        reported |= written.is_ok();
    }
    if !reported {
        eprintln!("{message}");
    }
}

/// Installs weir's logging; a problem (an output that cannot be opened) is reported on
/// `error_output_paths` and returned.
pub fn init(logs: &Logs) -> std::io::Result<()> {
    let level = match logs.level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // RUST_LOG, when set, refines the configured level (e.g. `RUST_LOG=weir_core=debug`).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let output = match writer(&logs.output_paths) {
        Ok(output) => output,
        Err(error) => {
            report(logs, &format!("error: {error}"));
            return Err(error);
        }
    };
    let to_terminal = logs.output_paths.iter().all(|p| p == "stderr")
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let caller = !logs.disable_caller;
    let json = logs.encoding == LogEncoding::Json;
    let fields = initial_fields(logs, json);
    let format = tracing_subscriber::fmt::layer()
        .with_writer(output)
        .with_ansi(to_terminal && fields.is_empty());
    let format = if json {
        let inner = format::format().json().with_file(caller).with_line_number(caller);
        format
            .event_format(WithFields { inner, json, fields })
            .fmt_fields(format::JsonFields::new())
            .boxed()
    } else {
        let inner = format::format().with_file(caller).with_line_number(caller);
        format.event_format(WithFields { inner, json, fields }).boxed()
    };
    let sampler = logs.sampling.enabled.then(|| Sampler::new(&logs.sampling));
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(format.with_filter(SamplerFilter(sampler)))
        .with(crate::telemetry::RecentErrorsLayer)
        .try_init();
    if let Err(error) = result {
        report(logs, &format!("warning: logging already initialised: {error}"));
    }
    Ok(())
}

/// `initial_fields` as they are spliced into each entry: `"k":v,...` for JSON, `k=v ...` for
/// console lines.
fn initial_fields(logs: &Logs, json: bool) -> String {
    let mut out = String::new();
    for (key, value) in &logs.initial_fields {
        if json {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "{}:{}", serde_json::Value::String(key.clone()), value);
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            match value {
                serde_json::Value::String(s) => {
                    let _ = write!(out, "{key}={s}");
                }
                other => {
                    let _ = write!(out, "{key}={other}");
                }
            }
        }
    }
    out
}

/// A formatter that adds `initial_fields` to what `inner` writes.
struct WithFields<F> {
    inner: F,
    json: bool,
    fields: String,
}

impl<S, N, F> FormatEvent<S, N> for WithFields<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        if self.fields.is_empty() {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        let line = line.trim_end_matches('\n');
        match (self.json, line.strip_prefix('{')) {
            (true, Some(rest)) => writeln!(writer, "{{{},{rest}", self.fields),
            _ => writeln!(writer, "{line} {}", self.fields),
        }
    }
}

/// Per call site and tick: the first `initial` entries, then one in `thereafter`.
struct Sampler<K = Identifier> {
    tick: std::time::Duration,
    initial: u64,
    thereafter: u64,
    seen: Mutex<HashMap<K, (Instant, u64)>>,
    dropped: metrics::Counter,
}

impl<K: std::hash::Hash + Eq> Sampler<K> {
    fn new(config: &LogSampling) -> Sampler<K> {
        Sampler {
            tick: config.tick,
            initial: config.initial,
            thereafter: config.thereafter,
            seen: Mutex::new(HashMap::new()),
            dropped: metrics::counter!(crate::telemetry::LOGS_SAMPLED_OUT),
        }
    }

    fn keep(&self, site: K, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let entry = seen.entry(site).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.tick {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let n = entry.1;
        let keep = n <= self.initial
            || (self.thereafter > 0 && (n - self.initial).is_multiple_of(self.thereafter));
        if !keep {
            self.dropped.increment(1);
        }
        keep
    }
}

/// The sampler as a filter of the formatting layer only.
struct SamplerFilter(Option<Sampler>);

impl<S: Subscriber> Filter<S> for SamplerFilter {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        match &self.0 {
            Some(sampler) => sampler.keep(event.metadata().callsite(), Instant::now()),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_the_first_then_one_in_thereafter_per_tick() {
        let sampler: Sampler<&str> = Sampler::new(&LogSampling {
            enabled: true,
            tick: std::time::Duration::from_secs(10),
            initial: 3,
            thereafter: 5,
        });
        let site = "one call site";
        let t0 = Instant::now();
        let kept: Vec<bool> = (0..13).map(|_| sampler.keep(site, t0)).collect();
        let expected =
            [true, true, true, false, false, false, false, true, false, false, false, false, true];
        assert_eq!(kept, expected);
        assert!(
            sampler.keep(site, t0 + std::time::Duration::from_secs(10)),
            "a new tick starts over"
        );
    }

    #[test]
    fn initial_fields_render_for_both_encodings() {
        let logs = Logs {
            initial_fields: [
                ("region".to_owned(), serde_json::json!("eu")),
                ("shard".to_owned(), serde_json::json!(3)),
            ]
            .into_iter()
            .collect(),
            ..Logs::default()
        };
        assert_eq!(initial_fields(&logs, true), r#""region":"eu","shard":3"#);
        assert_eq!(initial_fields(&logs, false), "region=eu shard=3");
    }

    #[test]
    fn development_mode_and_empty_outputs_are_refused() {
        let logs = Logs { development: true, output_paths: vec![], ..Logs::default() };
        let paths: Vec<String> = problems(&logs).into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["development", "output_paths"]);
    }
}
