//! A consistent-hash ring with virtual nodes: each endpoint owns the arcs that end at its
//! points, so adding or removing one of N endpoints moves about 1/N of the keys, and only
//! keys of that endpoint.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Points per endpoint on the ring.
const VIRTUAL_NODES: u64 = 150;
/// The seed of every hash on the ring (fixed: agents must agree).
const SEED: u64 = 0x6c62_7269_6e67;

/// The hash of a routing key.
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxh3_64_with_seed(key, SEED)
}

/// Endpoints on a ring.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    points: Vec<(u64, usize)>,
    endpoints: Vec<String>,
}

impl Ring {
    /// A ring of `endpoints` (order and duplicates do not matter).
    pub(crate) fn new(endpoints: &[String]) -> Ring {
        let mut endpoints = endpoints.to_vec();
        endpoints.sort();
        endpoints.dedup();
        let mut points = Vec::with_capacity(endpoints.len() * VIRTUAL_NODES as usize);
        for (index, endpoint) in endpoints.iter().enumerate() {
            for node in 0..VIRTUAL_NODES {
                points.push((xxh3_64_with_seed(endpoint.as_bytes(), SEED ^ node), index));
            }
        }
        points.sort_unstable();
        Ring { points, endpoints }
    }

    /// The endpoints.
    pub(crate) fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The endpoint owning `hash`: the first point at or after it, wrapping around.
    pub(crate) fn endpoint(&self, hash: u64) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let at = self.points.partition_point(|(point, _)| *point < hash);
        let (_, index) = self.points[at % self.points.len()];
        Some(&self.endpoints[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_one_of_ten_endpoints_moves_only_its_keys() {
        let endpoints: Vec<String> = (0..10).map(|i| format!("gateway-{i}:4317")).collect();
        let all = Ring::new(&endpoints);
        let fewer = Ring::new(&endpoints[1..]);
        let mut moved = 0;
        for key in 0..100_000u64 {
            let hash = key_hash(&key.to_be_bytes());
            let before = all.endpoint(hash).unwrap();
            let after = fewer.endpoint(hash).unwrap();
            if before != after {
                moved += 1;
                assert_eq!(before, "gateway-0:4317", "only the removed endpoint's keys move");
            }
        }
        let share = moved as f64 / 100_000.0;
        assert!((0.05..=0.15).contains(&share), "{share}");
        // and every endpoint gets a fair share
        let mut counts = std::collections::HashMap::new();
        for key in 0..100_000u64 {
            *counts.entry(all.endpoint(key_hash(&key.to_be_bytes())).unwrap()).or_insert(0) += 1;
        }
        assert!(counts.values().all(|c| (5_000..=15_000).contains(c)), "{counts:?}");
    }
}
