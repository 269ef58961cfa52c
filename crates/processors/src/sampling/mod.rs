//! OpenTelemetry consistent probability sampling, in one place for every sampler: 56-bit
//! randomness (`rv`, else the trace id's low 56 bits), rejection thresholds (keep iff
//! randomness ≥ threshold), their `th` encoding in the `ot` entry of the W3C tracestate, and
//! adjusted counts (specification: `trace/tracestate-probability-sampling.md`).

#[cfg(test)]
mod tests;

/// 2^56: the size of the randomness and threshold space.
pub const MAX: u64 = 1 << 56;
/// Hex digits of a full threshold.
const DIGITS: usize = 14;

/// A rejection threshold: an item is kept iff its randomness is at least the threshold.
/// `Threshold(0)` keeps everything; [`Threshold::NEVER`] keeps nothing (and has no encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Threshold(u64);

impl Threshold {
    /// Keeps everything (`th:0`).
    pub const ALWAYS: Threshold = Threshold(0);
    /// Keeps nothing.
    pub const NEVER: Threshold = Threshold(MAX);

    /// A threshold from its integer value (at most 2^56).
    pub fn new(value: u64) -> Threshold {
        Threshold(value.min(MAX))
    }

    /// The integer value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// The threshold of probability `p`, rounded to `precision` significant hex digits as the
    /// specification's reference encoder does: digits are added for each leading `f` (or
    /// `0`) the value needs, and the last one is rounded to nearest. `None` for p ≤ 0;
    /// probabilities above 1 are 1.
    pub fn from_probability(p: f64, precision: u8) -> Option<Threshold> {
        if p.is_nan() || p <= 0.0 {
            return None;
        }
        if p >= 1.0 {
            return Some(Threshold::ALWAYS);
        }
        let exponent = |x: f64| -> i32 {
            // frexp: x = m · 2^e with m in [0.5, 1)
            if x == 0.0 { 0 } else { x.abs().log2().floor() as i32 + 1 }
        };
        let precision = i32::from(precision.clamp(1, DIGITS as u8));
        let extra = (exponent(p) / -4).max(exponent(1.0 - p) / -4);
        let precision = (precision + extra).min(DIGITS as i32) as u32;
        let scaled = (p * MAX as f64).round() as u64;
        let mut threshold = MAX - scaled.min(MAX);
        let shift = 4 * (DIGITS as u32 - precision);
        if shift > 0 {
            threshold += 1 << (shift - 1);
            threshold >>= shift;
            threshold <<= shift;
        }
        (threshold < MAX).then_some(Threshold(threshold))
    }

    /// The sampling probability: (2^56 − T) / 2^56.
    pub fn probability(self) -> f64 {
        (MAX - self.0) as f64 / MAX as f64
    }

    /// The adjusted count 1/p: 2^56 / (2^56 − T); infinite for [`Threshold::NEVER`].
    pub fn adjusted_count(self) -> f64 {
        MAX as f64 / (MAX - self.0) as f64
    }

    /// Whether an item with `randomness` is kept.
    pub fn keeps(self, randomness: Randomness) -> bool {
        randomness.0 >= self.0
    }

    /// The threshold after a proportional stage of probability `p`: T2P(self) · p, encoded at
    /// `precision` and never below `self`.
    pub fn proportional(self, p: f64, precision: u8) -> Option<Threshold> {
        let combined = Threshold::from_probability(self.probability() * p, precision)?;
        Some(combined.max(self))
    }

    /// Parses a `th` value: 1 to 14 lowercase hex digits, right-padded with zeros.
    pub fn parse(text: &str) -> Option<Threshold> {
        if text.is_empty()
            || text.len() > DIGITS
            || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let value = u64::from_str_radix(text, 16).ok()?;
        Some(Threshold(value << (4 * (DIGITS - text.len()))))
    }

    /// The `th` value: 14 hex digits with trailing zeros removed (`0` for zero).
    pub fn encode(self) -> String {
        if self.0 == 0 {
            return "0".into();
        }
        let full = format!("{:014x}", self.0.min(MAX - 1));
        full.trim_end_matches('0').to_owned()
    }
}

/// 56 bits of randomness of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Randomness(u64);

impl Randomness {
    /// Randomness from an integer (its low 56 bits).
    pub fn new(value: u64) -> Randomness {
        Randomness(value & (MAX - 1))
    }

    /// The integer value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// The trace id's least significant 56 bits (its last 7 bytes, big-endian); `None` for
    /// an id that is not 16 bytes or is all zeros.
    pub fn from_trace_id(trace_id: &[u8]) -> Option<Randomness> {
        if trace_id.len() != 16 || trace_id.iter().all(|b| *b == 0) {
            return None;
        }
        let mut bytes = [0u8; 8];
        bytes[1..].copy_from_slice(&trace_id[9..]);
        Some(Randomness(u64::from_be_bytes(bytes)))
    }

    /// Parses an `rv` value: exactly 14 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Randomness> {
        if text.len() != DIGITS
            || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(Randomness)
    }
}

/// The `ot` entry of a W3C tracestate, as far as sampling goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtState<'a> {
    /// `th`, as written.
    pub th: Option<&'a str>,
    /// `rv`, as written.
    pub rv: Option<&'a str>,
}

/// Reads the `ot` entry of `tracestate`.
pub fn ot_state(tracestate: &str) -> OtState<'_> {
    let mut state = OtState::default();
    let Some(ot) = ot_entry(tracestate) else { return state };
    for field in ot.split(';') {
        match field.split_once(':') {
            Some(("th", value)) => state.th = Some(value),
            Some(("rv", value)) => state.rv = Some(value),
            _ => {}
        }
    }
    state
}

fn ot_entry(tracestate: &str) -> Option<&str> {
    tracestate.split(',').map(str::trim).find_map(|entry| entry.strip_prefix("ot="))
}

/// `tracestate` with `th` set to `threshold` (or removed for `None`) in its `ot` entry, every
/// other `ot` sub-key and every other vendor's entry kept; the `ot` entry moves to the front,
/// as W3C Trace Context asks of a modified entry.
pub fn with_threshold(tracestate: &str, threshold: Option<Threshold>) -> String {
    let mut fields: Vec<String> = Vec::new();
    if let Some(th) = threshold {
        fields.push(format!("th:{}", th.encode()));
    }
    if let Some(ot) = ot_entry(tracestate) {
        fields.extend(
            ot.split(';').filter(|f| !f.is_empty() && !f.starts_with("th:")).map(str::to_owned),
        );
    }
    let others = tracestate
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty() && !entry.starts_with("ot="));
    let mut entries: Vec<String> = Vec::new();
    if !fields.is_empty() {
        entries.push(format!("ot={}", fields.join(";")));
    }
    entries.extend(others.map(str::to_owned));
    entries.join(",")
}

/// What a sampler learns from an item's tracestate and trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming {
    /// The randomness (from `rv`, else the trace id), if any.
    pub randomness: Option<Randomness>,
    /// The incoming threshold: `None` when absent, malformed or inconsistent.
    pub threshold: Option<Threshold>,
    /// Why an incoming `th` was not usable.
    pub erased: Option<&'static str>,
}

/// Reads randomness and threshold, erasing a `th` that does not parse or that the item's
/// randomness contradicts (a sampled item whose randomness is below its threshold).
pub fn incoming(tracestate: &str, trace_id: &[u8]) -> Incoming {
    let state = ot_state(tracestate);
    let randomness =
        state.rv.and_then(Randomness::parse).or_else(|| Randomness::from_trace_id(trace_id));
    let mut result = Incoming { randomness, threshold: None, erased: None };
    if let Some(th) = state.th {
        match Threshold::parse(th) {
            None => result.erased = Some("malformed"),
            Some(t) if randomness.is_some_and(|r| !t.keeps(r)) => {
                result.erased = Some("inconsistent")
            }
            Some(t) => result.threshold = Some(t),
        }
    }
    result
}
