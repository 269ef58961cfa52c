//! The kubelet's Summary API (`GET /stats/summary`, `k8s.io/kubelet/pkg/apis/stats/v1alpha1`):
//! the fields the receiver reads, as the kubelet writes them in JSON. Every figure is optional,
//! as the kubelet leaves out what it could not measure.

use serde::Deserialize;

/// The summary of one node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Summary {
    pub(crate) node: NodeStats,
    pub(crate) pods: Vec<PodStats>,
}

/// `node`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeStats {
    pub(crate) node_name: String,
    pub(crate) start_time: Option<String>,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) network: Option<Network>,
    pub(crate) fs: Option<Fs>,
}

/// `cpu`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Cpu {
    pub(crate) usage_nano_cores: Option<u64>,
    pub(crate) usage_core_nano_seconds: Option<u64>,
}

/// `memory`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Memory {
    pub(crate) available_bytes: Option<u64>,
    pub(crate) usage_bytes: Option<u64>,
    pub(crate) working_set_bytes: Option<u64>,
    pub(crate) rss_bytes: Option<u64>,
    pub(crate) page_faults: Option<u64>,
    pub(crate) major_page_faults: Option<u64>,
}

/// `network`: the default interface's figures (inline) and every interface's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Network {
    #[serde(flatten)]
    pub(crate) default: Interface,
    pub(crate) interfaces: Vec<Interface>,
}

/// One interface.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Interface {
    pub(crate) name: String,
    pub(crate) rx_bytes: Option<u64>,
    pub(crate) rx_errors: Option<u64>,
    pub(crate) tx_bytes: Option<u64>,
    pub(crate) tx_errors: Option<u64>,
}

/// `fs`, `rootfs`, `logs`, `ephemeral-storage`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Fs {
    pub(crate) available_bytes: Option<u64>,
    pub(crate) capacity_bytes: Option<u64>,
    pub(crate) used_bytes: Option<u64>,
}

/// One pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodStats {
    pub(crate) pod_ref: PodRef,
    pub(crate) start_time: Option<String>,
    pub(crate) containers: Vec<ContainerStats>,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) network: Option<Network>,
    pub(crate) volume: Vec<VolumeStats>,
    #[serde(rename = "ephemeral-storage")]
    pub(crate) ephemeral_storage: Option<Fs>,
}

/// `podRef`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodRef {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) uid: String,
}

/// One container of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContainerStats {
    pub(crate) name: String,
    pub(crate) start_time: Option<String>,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) rootfs: Option<Fs>,
}

/// One volume of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct VolumeStats {
    pub(crate) name: String,
    pub(crate) available_bytes: Option<u64>,
    pub(crate) capacity_bytes: Option<u64>,
    pub(crate) used_bytes: Option<u64>,
    pub(crate) inodes: Option<u64>,
    pub(crate) inodes_free: Option<u64>,
    pub(crate) inodes_used: Option<u64>,
}

/// An RFC 3339 time as the kubelet writes it (`2026-12-01T00:00:00Z`, fractions and offsets
/// allowed), in nanoseconds since the Unix epoch; 0 when absent or unreadable.
pub(crate) fn unix_nanos(time: Option<&str>) -> u64 {
    time.and_then(parse_rfc3339).unwrap_or(0)
}

fn parse_rfc3339(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once(['T', 't'])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(zone_at);
    let mut c = clock.splitn(3, ':');
    let (hour, minute) = (c.next()?.parse::<i64>().ok()?, c.next()?.parse::<i64>().ok()?);
    let seconds: f64 = c.next()?.parse().ok()?;
    let offset = match zone.as_bytes().first()? {
        b'Z' | b'z' => 0,
        sign => {
            let (h, m) = zone[1..].split_once(':')?;
            let minutes = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
            if *sign == b'-' { -minutes * 60 } else { minutes * 60 }
        }
    };
    // days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let whole = days * 86_400 + hour * 3600 + minute * 60 - offset;
    let nanos = i128::from(whole) * 1_000_000_000 + (seconds * 1e9).round() as i128;
    u64::try_from(nanos).ok()
}
