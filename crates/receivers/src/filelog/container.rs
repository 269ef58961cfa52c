//! The `container` operator: container runtimes' log lines — Docker's JSON
//! (`{"log":"...\n","stream":"stdout","time":"..."}`) and the CRI format of CRI-O and containerd
//! (`2026-12-03T10:10:38.123456789Z stdout F message`) — as records: the message as the body,
//! `log.iostream` and (CRI) `logtag`, the runtime's timestamp, partial lines recombined (CRI's
//! `P` lines until an `F`; Docker's `log` without a final newline), and from the Kubernetes path
//! `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log` the resource attributes
//! `k8s.namespace.name`, `k8s.pod.name`, `k8s.pod.uid`, `k8s.container.name` and
//! `k8s.container.restart_count`.

use std::path::Path;

use serde::Deserialize;

/// The operator's options.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerConfig {
    /// `type`: `container`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `id`.
    pub id: Option<String>,
    /// `format`: `docker`, `crio` or `containerd` (default: told from each line).
    pub format: Option<String>,
    /// `add_metadata_from_filepath` (default `true`).
    pub add_metadata_from_filepath: bool,
    /// `max_log_size`: the most bytes of a recombined entry (default 0: `max_log_size` of
    /// the receiver).
    pub max_log_size: Option<String>,
}

impl Default for ContainerConfig {
    fn default() -> ContainerConfig {
        ContainerConfig {
            kind: "container".into(),
            id: None,
            format: None,
            add_metadata_from_filepath: true,
            max_log_size: None,
        }
    }
}

/// The format of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Docker,
    Cri,
}

/// A record made of a container log line.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Record {
    pub(crate) body: String,
    pub(crate) stream: String,
    /// `F` or `P` (CRI).
    pub(crate) logtag: Option<String>,
    pub(crate) time_unix_nano: u64,
}

/// A file's partial lines, waiting for their end, per stream.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    pending: Vec<(String, Record)>,
}

/// One line as a record: `Ok(None)` while a partial line waits for its end.
pub(crate) fn parse(
    line: &str,
    format: Option<Format>,
    partial: &mut Partial,
    max: usize,
) -> Result<Option<Record>, String> {
    let format = format.unwrap_or(if line.starts_with('{') { Format::Docker } else { Format::Cri });
    let (record, complete) = match format {
        Format::Docker => docker(line)?,
        Format::Cri => cri(line)?,
    };
    let stream = record.stream.clone();
    let at = partial.pending.iter().position(|(s, _)| *s == stream);
    let record = match at {
        Some(i) => {
            let (_, mut joined) = partial.pending.remove(i);
            if joined.body.len() < max {
                joined.body.push_str(&record.body);
                joined.body.truncate(floor(&joined.body, max));
            }
            joined.logtag = record.logtag;
            joined
        }
        None => record,
    };
    if complete {
        Ok(Some(record))
    } else {
        partial.pending.push((stream, record));
        Ok(None)
    }
}

fn floor(text: &str, max: usize) -> usize {
    let mut at = max.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[derive(Deserialize)]
struct DockerLine {
    log: String,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    time: String,
}

/// Docker's JSON: complete when `log` ends with a newline (which is removed).
fn docker(line: &str) -> Result<(Record, bool), String> {
    let parsed: DockerLine =
        serde_json::from_str(line).map_err(|e| format!("not a Docker JSON log line: {e}"))?;
    let complete = parsed.log.ends_with('\n');
    let body = parsed.log.strip_suffix('\n').unwrap_or(&parsed.log);
    let body = body.strip_suffix('\r').unwrap_or(body).to_owned();
    let record = Record {
        body,
        stream: parsed.stream,
        logtag: None,
        time_unix_nano: rfc3339_nanos(&parsed.time).unwrap_or(0),
    };
    Ok((record, complete))
}

/// CRI: `<time> <stream> <tag> <message>`; complete unless the tag is `P`.
fn cri(line: &str) -> Result<(Record, bool), String> {
    let mut parts = line.splitn(4, ' ');
    let (Some(time), Some(stream), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("not a CRI log line (time stream tag message): {line:?}"));
    };
    if stream != "stdout" && stream != "stderr" {
        return Err(format!("not a CRI log line: stream {stream:?}"));
    }
    let time_unix_nano =
        rfc3339_nanos(time).ok_or_else(|| format!("not a CRI log line: time {time:?}"))?;
    let record = Record {
        body: parts.next().unwrap_or("").to_owned(),
        stream: stream.to_owned(),
        logtag: Some(tag.to_owned()),
        time_unix_nano,
    };
    Ok((record, tag != "P"))
}

/// `2026-12-03T10:10:38.123456789Z` or with an offset (`+01:00`), as Unix nanoseconds.
pub(crate) fn rfc3339_nanos(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once('T')?;
    let mut fields = date.split('-');
    let (year, month, day): (i64, u32, u32) =
        (fields.next()?.parse().ok()?, fields.next()?.parse().ok()?, fields.next()?.parse().ok()?);
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let offset_seconds: i64 = match offset {
        "Z" | "z" => 0,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.split(':');
    let (h, m, s): (i64, i64, i64) =
        (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    let mut nanos: i64 = 0;
    for (i, digit) in fraction.bytes().take(9).enumerate() {
        if !digit.is_ascii_digit() {
            return None;
        }
        nanos += i64::from(digit - b'0') * 10i64.pow(8 - i as u32);
    }
    // days from the civil date (proleptic Gregorian), after Howard Hinnant's algorithm
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + h * 3600 + m * 60 + s - offset_seconds;
    u64::try_from(seconds).ok()?.checked_mul(1_000_000_000)?.checked_add(nanos as u64)
}

/// The Kubernetes attributes in a pod log's path.
pub(crate) fn path_attributes(path: &Path) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let n = parts.len();
    if n < 3 {
        return Vec::new();
    }
    let (pod_dir, container, file) = (parts[n - 3], parts[n - 2], parts[n - 1]);
    let restart = file.strip_suffix(".log").unwrap_or(file);
    let mut pod = pod_dir.splitn(3, '_');
    let (Some(namespace), Some(name), Some(uid)) = (pod.next(), pod.next(), pod.next()) else {
        return Vec::new();
    };
    if restart.parse::<u32>().is_err() {
        return Vec::new();
    }
    vec![
        ("k8s.namespace.name", namespace.to_owned()),
        ("k8s.pod.name", name.to_owned()),
        ("k8s.pod.uid", uid.to_owned()),
        ("k8s.container.name", container.to_owned()),
        ("k8s.container.restart_count", restart.to_owned()),
    ]
}
