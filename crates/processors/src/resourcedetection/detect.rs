//! The detectors: what they read (the environment, `/proc`, `/etc`) and how they turn it into
//! attributes. Parsing is kept apart from reading so that it is tested on fixed inputs.

use std::collections::BTreeMap;

use weir_otlp::{attributes::kv, proto::common::v1::KeyValue};

use super::Settings;

/// Runs the detectors in order; the first to find an attribute wins. A failing detector is
/// logged and skipped. The detectors that ask a remote service run beside the processor
/// (`remote.rs`): what they found is `remote`, or nothing yet.
pub(super) fn detect(
    settings: &Settings,
    id: &str,
    remote: Option<&BTreeMap<&'static str, Vec<KeyValue>>>,
) -> Vec<KeyValue> {
    let mut detected: Vec<KeyValue> = Vec::new();
    for detector in &settings.detectors {
        let found = match detector.as_str() {
            "env" => match std::env::var("OTEL_RESOURCE_ATTRIBUTES") {
                Ok(text) => env(&text),
                Err(_) => Ok(Vec::new()),
            },
            "system" => system(settings),
            other => match remote.and_then(|found| found.get(other)) {
                Some(found) => Ok(found.clone()),
                None => continue,
            },
        };
        match found {
            Ok(attributes) => {
                tracing::debug!(
                    processor = id,
                    detector,
                    attributes = attributes.len(),
                    "resource detected"
                );
                for attribute in attributes {
                    if !detected.iter().any(|d| d.key == attribute.key) {
                        detected.push(attribute);
                    }
                }
            }
            Err(error) => {
                metrics::counter!("weir_resource_detection_failures_total", "processor" => id.to_owned(), "detector" => detector.clone()).increment(1);
                tracing::warn!(processor = id, detector, %error, "resource detection failed")
            }
        }
    }
    detected
}

/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs separated by commas, values percent-encoded.
pub(super) fn env(text: &str) -> Result<Vec<KeyValue>, String> {
    let mut attributes = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("OTEL_RESOURCE_ATTRIBUTES: {pair:?} is not key=value"))?;
        let value = percent_decode(value.trim()).ok_or_else(|| {
            format!("OTEL_RESOURCE_ATTRIBUTES: {value:?} is not percent-encoded UTF-8")
        })?;
        attributes.push(kv(key.trim(), &value));
    }
    Ok(attributes)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The `system` detector on this host.
fn system(settings: &Settings) -> Result<Vec<KeyValue>, String> {
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let facts = Facts {
        hostname: read("/proc/sys/kernel/hostname").or_else(|| read("/etc/hostname")),
        machine_id: read("/etc/machine-id").or_else(|| read("/var/lib/dbus/machine-id")),
        kernel: read("/proc/sys/kernel/osrelease"),
        os_release: &os_release,
        cpuinfo: &cpuinfo,
    };
    system_attributes(settings, &facts)
}

/// What the `system` detector reads.
pub(super) struct Facts<'a> {
    pub(super) hostname: Option<String>,
    pub(super) machine_id: Option<String>,
    pub(super) kernel: Option<String>,
    pub(super) os_release: &'a str,
    pub(super) cpuinfo: &'a str,
}

/// The enabled `system` attributes from `facts`.
pub(super) fn system_attributes(
    settings: &Settings,
    facts: &Facts<'_>,
) -> Result<Vec<KeyValue>, String> {
    let mut out = Vec::new();
    for name in settings.enabled.get("system").into_iter().flatten() {
        let value: Option<String> = match *name {
            "host.name" => Some(hostname(&settings.hostname_sources, facts)?),
            "os.type" => Some(std::env::consts::OS.to_owned()),
            "host.id" => facts.machine_id.clone(),
            "host.arch" => Some(arch(std::env::consts::ARCH).to_owned()),
            "os.description" => {
                let pretty = os_release(facts.os_release, "PRETTY_NAME");
                match (pretty, &facts.kernel) {
                    (Some(p), Some(k)) => Some(format!("{p} (Linux {k})")),
                    (p, _) => p,
                }
            }
            "os.version" => os_release(facts.os_release, "VERSION_ID"),
            "host.cpu.vendor.id" => cpuinfo(facts.cpuinfo, "vendor_id"),
            "host.cpu.family" => cpuinfo(facts.cpuinfo, "cpu family"),
            "host.cpu.model.id" => cpuinfo(facts.cpuinfo, "model"),
            "host.cpu.model.name" => cpuinfo(facts.cpuinfo, "model name"),
            "host.cpu.stepping" => cpuinfo(facts.cpuinfo, "stepping"),
            _ => None,
        };
        if let Some(value) = value {
            out.push(kv(name, &value));
        }
    }
    Ok(out)
}

/// The host name from the first source that has one: `os` is the kernel's host name; `dns`,
/// `cname` and `lookup` ask for a fully qualified name, which weir takes only when the host
/// name already is one (it resolves nothing at start).
fn hostname(sources: &[String], facts: &Facts<'_>) -> Result<String, String> {
    for source in sources {
        let found = match source.as_str() {
            "os" => facts.hostname.clone(),
            _ => facts.hostname.clone().filter(|h| h.contains('.')),
        };
        if let Some(name) = found {
            return Ok(name);
        }
    }
    Err(format!("no host name from the sources {sources:?}"))
}

/// Rust's architecture names as the semantic conventions write them.
pub(super) fn arch(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm32",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        other => other,
    }
}

/// A value of `/etc/os-release` (quotes removed).
pub(super) fn os_release(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?;
        Some(value.trim_matches('"').to_owned())
    })
}

/// A field of the first processor in `/proc/cpuinfo`.
pub(super) fn cpuinfo(text: &str, field: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == field).then(|| value.trim().to_owned())
    })
}
