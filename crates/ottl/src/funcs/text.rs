//! Text helpers the functions share: hashes, globs, Go durations, case conversion, key-value
//! parsing and map flattening.

use regex::Regex;
use sha2::Digest;
use weir_otlp::proto::common::v1::{AnyValue, KeyValue, any_value};

use crate::value::hex;

/// A hashing function passed by name to the `replace_*` editors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    pub(crate) fn parse(name: &str) -> Option<Hash> {
        match name {
            "SHA256" => Some(Hash::Sha256),
            "SHA512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    /// The hash of `text`, as the converter of the same name returns it.
    pub(crate) fn apply(self, text: &str) -> String {
        match self {
            Hash::Sha256 => hex(&sha2::Sha256::digest(text.as_bytes())),
            Hash::Sha512 => hex(&sha2::Sha512::digest(text.as_bytes())),
        }
    }
}

/// 64-bit FNV-1a.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A glob (`*` any run, `?` one character, `[...]` a class, `\` escapes) as an anchored regular
/// expression.
pub(crate) fn glob(pattern: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^(?s:");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                for c in chars.by_ref() {
                    if c == '!' && re.ends_with('[') {
                        re.push('^');
                        continue;
                    }
                    re.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    re.push_str(&regex::escape(&next.to_string()));
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push_str(")$");
    Regex::new(&re)
}

/// A Go duration (`1h30m`, `300ms`, `-1.5h`, `2us`) in nanoseconds.
pub(crate) fn go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * scale;
    }
    let nanos = total.round() as i64;
    Some(if negative { -nanos } else { nanos })
}

/// `ConvertCase`'s cases.
pub(crate) fn convert_case(text: &str, case: &str) -> String {
    match case {
        "lower" => text.to_lowercase(),
        "upper" => text.to_uppercase(),
        "snake" => {
            let mut out = String::with_capacity(text.len() + 4);
            let mut previous_lower = false;
            for c in text.chars() {
                if c.is_uppercase() {
                    if previous_lower {
                        out.push('_');
                    }
                    out.extend(c.to_lowercase());
                    previous_lower = false;
                } else if c == ' ' || c == '-' {
                    out.push('_');
                    previous_lower = false;
                } else {
                    out.push(c);
                    previous_lower = c.is_lowercase() || c.is_ascii_digit();
                }
            }
            out
        }
        // camel: words split at `_`, `-` and spaces, each capitalised (Go's strcase.ToCamel)
        _ => text
            .split(['_', '-', ' '])
            .filter(|w| !w.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
                first.unwrap_or_default() + chars.as_str()
            })
            .collect(),
    }
}

/// `ParseKeyValue`: `k1=v1 k2="v 2"` to a map; quotes (single or double) keep delimiters inside
/// a value and are removed. `None` with the reason when a pair has no key-value delimiter.
pub(crate) fn parse_key_value(
    text: &str,
    delimiter: &str,
    pair_delimiter: &str,
) -> Result<Vec<KeyValue>, String> {
    let mut pairs = Vec::new();
    for pair in split_quoted(text.trim(), pair_delimiter) {
        if pair.is_empty() {
            continue;
        }
        let parts = split_quoted(&pair, delimiter);
        if parts.len() < 2 {
            return Err(format!("cannot split {pair:?} into 2 items, got {} item(s)", parts.len()));
        }
        let key = unquote(parts[0].trim());
        let value = unquote(parts[1..].join(delimiter).trim());
        let value = Some(AnyValue { value: Some(any_value::Value::StringValue(value)) });
        pairs.push(KeyValue { key, value, ..KeyValue::default() });
    }
    Ok(pairs)
}

/// Splits at `delimiter` outside quotes.
fn split_quoted(text: &str, delimiter: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if quote.is_none() && !delimiter.is_empty() && rest.starts_with(delimiter) {
            parts.push(std::mem::take(&mut current));
            rest = &rest[delimiter.len()..];
            continue;
        }
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    parts.push(current);
    parts
}

fn unquote(text: &str) -> String {
    for q in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(q) && text.ends_with(q) {
            return text[1..text.len() - 1].to_owned();
        }
    }
    text.to_owned()
}

/// `flatten`: nested maps (and lists, by index) become `a.b.c` keys, up to `depth` levels.
pub(crate) fn flatten(
    map: Vec<KeyValue>,
    prefix: Option<&str>,
    depth: Option<i64>,
) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(map.len());
    let depth = depth.unwrap_or(i64::MAX);
    for kv in map {
        let key = match prefix {
            Some(p) => format!("{p}.{}", kv.key),
            None => kv.key,
        };
        flatten_into(&mut out, key, kv.value, depth);
    }
    out
}

fn flatten_into(out: &mut Vec<KeyValue>, key: String, value: Option<AnyValue>, depth: i64) {
    use any_value::Value as V;
    match value.and_then(|v| v.value) {
        Some(V::KvlistValue(kv)) if depth > 0 => {
            for entry in kv.values {
                flatten_into(out, format!("{key}.{}", entry.key), entry.value, depth - 1);
            }
        }
        Some(V::ArrayValue(list)) if depth > 0 => {
            for (i, element) in list.values.into_iter().enumerate() {
                flatten_into(out, format!("{key}.{i}"), Some(element), depth - 1);
            }
        }
        other => out.push(KeyValue {
            key,
            value: Some(AnyValue { value: other }),
            ..KeyValue::default()
        }),
    }
}
