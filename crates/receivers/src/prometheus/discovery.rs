//! A job's targets: its `static_configs`, the groups in its `file_sd_configs` files (JSON or
//! YAML lists of `{targets, labels}`, `*` allowed in a file's name, read at each refresh) and
//! those `kubernetes_sd_configs` found, each with Prometheus' reserved labels, through
//! `relabel_configs`.

use std::{collections::BTreeMap, path::Path};

use super::{
    config::{Job, StaticConfig},
    kubernetes::Group,
    relabel,
    translate::Target,
};

/// The job's targets now: its static ones, those in its `file_sd_configs` files, and the
/// groups its `kubernetes_sd_configs` found (`kubernetes`, one list per entry).
pub(crate) fn targets(job: &Job, kubernetes: &[Vec<Group>]) -> Vec<Target> {
    let mut discovered: Vec<BTreeMap<String, String>> = Vec::new();
    let mut add = |group: &StaticConfig, file: Option<&Path>| {
        for address in &group.targets {
            let mut labels = group.labels.clone();
            labels.insert("__address__".into(), address.clone());
            if let Some(file) = file {
                labels.insert("__meta_filepath".into(), file.display().to_string());
            }
            discovered.push(labels);
        }
    };
    for group in &job.static_targets {
        add(group, None);
    }
    for (patterns, _) in &job.file_sd {
        for pattern in patterns {
            for path in matching(pattern) {
                match read_groups(&path) {
                    Ok(found) => found.iter().for_each(|g| add(g, Some(&path))),
                    Err(error) => {
                        tracing::warn!(job = %job.name, file = %path.display(), %error, "file_sd: cannot read targets")
                    }
                }
            }
        }
    }
    for group in kubernetes.iter().flatten() {
        for own in &group.targets {
            // a target's own label wins over its group's
            let mut labels = group.labels.clone();
            labels.extend(own.clone());
            discovered.push(labels);
        }
    }
    let mut out = Vec::new();
    for labels in discovered {
        if let Some(target) = target(job, labels)
            && !out.contains(&target)
        {
            out.push(target);
        }
    }
    out
}

/// The files a `files` entry names: itself, or with `*` in its name, those that match.
fn matching(pattern: &str) -> Vec<std::path::PathBuf> {
    let path = Path::new(pattern);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains('*') {
        return vec![path.to_owned()];
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (prefix, suffix) = name.split_once('*').expect("has *");
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().into_string().ok()?;
            (file.starts_with(prefix) && file.ends_with(suffix) && file.len() >= name.len() - 1)
                .then(|| entry.path())
        })
        .collect();
    found.sort();
    found
}

fn read_groups(path: &Path) -> Result<Vec<StaticConfig>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let json = path.extension().is_some_and(|e| e == "json");
    if json {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| e.to_string())
    }
}

/// One target: its discovered labels with the job's (where discovery set none), relabeled;
/// `None` when dropped.
fn target(job: &Job, discovered: BTreeMap<String, String>) -> Option<Target> {
    let mut labels: Vec<(String, String)> =
        discovered.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut set = |name: &str, value: String| {
        if labels.binary_search_by(|(k, _)| k.as_str().cmp(name)).is_err() {
            relabel::set(&mut labels, name, value);
        }
    };
    set("job", job.name.clone());
    set("__scheme__", job.scheme.clone());
    set("__metrics_path__", job.metrics_path.clone());
    set("__scrape_interval__", prometheus_duration(job.interval));
    set("__scrape_timeout__", prometheus_duration(job.timeout));
    for (name, values) in &job.params {
        if let Some(first) = values.first() {
            set(&format!("__param_{name}"), first.clone());
        }
    }
    if !relabel::apply(&job.relabel, &mut labels) {
        return None;
    }
    let get = |name: &str| labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let address = get("__address__").filter(|a| !a.is_empty())?;
    let scheme = get("__scheme__").unwrap_or_else(|| job.scheme.clone());
    let path = get("__metrics_path__").unwrap_or_else(|| job.metrics_path.clone());
    let mut query: Vec<(String, String)> = Vec::new();
    for (name, values) in &job.params {
        match get(&format!("__param_{name}")) {
            Some(value) => query.push((name.clone(), value)),
            None => query.extend(values.iter().map(|v| (name.clone(), v.clone()))),
        }
    }
    for (name, value) in &labels {
        if let Some(param) = name.strip_prefix("__param_")
            && !job.params.contains_key(param)
        {
            query.push((param.to_owned(), value.clone()));
        }
    }
    if get("instance").is_none() {
        relabel::set(&mut labels, "instance", address.clone());
    }
    labels.retain(|(k, _)| !k.starts_with("__"));
    let mut url = format!("{scheme}://{address}{path}");
    if !query.is_empty() {
        let pairs: Vec<String> =
            query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        url.push('?');
        url.push_str(&pairs.join("&"));
    }
    Some(Target { url, scheme, labels })
}

fn prometheus_duration(duration: std::time::Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) { format!("{}s", millis / 1000) } else { format!("{millis}ms") }
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
