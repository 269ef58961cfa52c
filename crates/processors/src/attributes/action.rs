//! The compiled actions and how each changes one item's attributes, following the Collector's
//! `attraction` package.

use regex::Regex;
use sha2::{Digest, Sha256};
use weir_core::Metadata;
use weir_otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value};

use crate::match_properties::go_string;

/// How `insert`, `update` and `upsert` treat the key being there or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Only where the key is absent.
    Insert,
    /// Only where the key is present.
    Update,
    /// Either way.
    Upsert,
}

impl Mode {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Mode::Insert => "insert",
            Mode::Update => "update",
            Mode::Upsert => "upsert",
        }
    }
}

/// Where `insert`, `update` and `upsert` take the value from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// `value`.
    Value(AnyValue),
    /// `from_attribute`: another attribute of the same item.
    Attribute(String),
    /// `from_context`: the request metadata under this key.
    Context(String),
    /// Only `default_value`.
    Nothing,
}

/// `converted_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    Int,
    Double,
    String,
}

/// One compiled entry of `actions`.
#[derive(Debug, Clone)]
pub(super) enum Action {
    /// `insert`, `update` or `upsert`.
    Set { key: String, mode: Mode, source: Source, default: Option<AnyValue> },
    /// `delete` by key, pattern or both.
    Delete { key: Option<String>, pattern: Option<Regex> },
    /// `hash` by key, pattern or both.
    Hash { key: Option<String>, pattern: Option<Regex> },
    /// `extract`: each named group (with its index) becomes an attribute.
    Extract { key: String, regex: Regex, groups: Vec<(usize, String)> },
    /// `convert`.
    Convert { key: String, to: Type },
}

/// Applies `actions` in order to one item's `attributes`; `metadata` is its request's.
/// Returns how many values `convert` could not convert (left as they were).
pub(super) fn apply(
    actions: &[Action],
    attributes: &mut Vec<KeyValue>,
    metadata: &Metadata,
) -> u64 {
    let mut unconverted = 0;
    for action in actions {
        match action {
            Action::Set { key, mode, source, default } => {
                let Some(value) = source.value(attributes, metadata).or_else(|| default.clone())
                else {
                    continue;
                };
                let position = attributes.iter().position(|kv| kv.key == *key);
                match (mode, position) {
                    (Mode::Update | Mode::Upsert, Some(i)) => attributes[i].value = Some(value),
                    (Mode::Insert | Mode::Upsert, None) => attributes.push(KeyValue {
                        key: key.clone(),
                        value: Some(value),
                        ..KeyValue::default()
                    }),
                    (Mode::Insert, Some(_)) | (Mode::Update, None) => {}
                }
            }
            Action::Delete { key, pattern } => {
                attributes.retain(|kv| !selected(&kv.key, key.as_deref(), pattern.as_ref()));
            }
            Action::Hash { key, pattern } => {
                // Each attribute once, even when both the key and the pattern name it.
                for kv in attributes.iter_mut() {
                    if selected(&kv.key, key.as_deref(), pattern.as_ref()) {
                        let hashed = sha256_hex(kv.value.as_ref());
                        kv.value = Some(AnyValue { value: Some(Value::StringValue(hashed)) });
                    }
                }
            }
            Action::Extract { key, regex, groups } => extract(attributes, key, regex, groups),
            Action::Convert { key, to } => {
                let Some(kv) = attributes.iter_mut().find(|kv| kv.key == *key) else { continue };
                let converted = match (&mut kv.value, to) {
                    (Some(value), _) => convert(value, *to),
                    // an empty value is the empty string as text, and no number
                    (None, Type::String) => {
                        kv.value =
                            Some(AnyValue { value: Some(Value::StringValue(String::new())) });
                        true
                    }
                    (None, Type::Int | Type::Double) => false,
                };
                if !converted {
                    unconverted += 1;
                }
            }
        }
    }
    unconverted
}

impl Source {
    /// The value to set, if the source has one for this item.
    fn value(&self, attributes: &[KeyValue], metadata: &Metadata) -> Option<AnyValue> {
        match self {
            Source::Value(value) => Some(value.clone()),
            Source::Attribute(from) => attributes
                .iter()
                .find(|kv| kv.key == *from)
                .map(|kv| kv.value.clone().unwrap_or_default()),
            Source::Context(key) => {
                let values: Vec<&str> = metadata.get_all(key).collect();
                if values.is_empty() {
                    return None;
                }
                Some(AnyValue { value: Some(Value::StringValue(values.join(";"))) })
            }
            Source::Nothing => None,
        }
    }
}

fn selected(candidate: &str, key: Option<&str>, pattern: Option<&Regex>) -> bool {
    key == Some(candidate) || pattern.is_some_and(|p| p.is_match(candidate))
}

/// The Collector's hash: SHA-256 in lowercase hex of a string's bytes, a bool's one byte,
/// an int's or a double's eight little-endian bytes. Other values, and the empty string,
/// become the empty string.
pub(super) fn sha256_hex(value: Option<&AnyValue>) -> String {
    let mut buffer = [0u8; 8];
    let bytes: &[u8] = match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.as_bytes(),
        Some(Value::BoolValue(b)) => {
            buffer[0] = u8::from(*b);
            &buffer[..1]
        }
        Some(Value::IntValue(i)) => {
            buffer = i.to_le_bytes();
            &buffer
        }
        Some(Value::DoubleValue(d)) => {
            buffer = d.to_bits().to_le_bytes();
            &buffer
        }
        _ => &[],
    };
    if bytes.is_empty() {
        return String::new();
    }
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).expect("a hex digit"));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).expect("a hex digit"));
    }
    hex
}

/// Sets each named group of `regex`'s first match in the string value of `key` as a string
/// attribute (empty for a group that took no part in the match), replacing what is there.
fn extract(attributes: &mut Vec<KeyValue>, key: &str, regex: &Regex, groups: &[(usize, String)]) {
    let Some(Value::StringValue(text)) = attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
    else {
        return;
    };
    let Some(captures) = regex.captures(text) else { return };
    let found: Vec<(&str, String)> = groups
        .iter()
        .map(|(index, name)| {
            let text = captures.get(*index).map_or("", |m| m.as_str());
            (name.as_str(), text.to_owned())
        })
        .collect();
    for (name, text) in found {
        let value = Some(AnyValue { value: Some(Value::StringValue(text)) });
        match attributes.iter_mut().find(|kv| kv.key == name) {
            Some(kv) => kv.value = value,
            None => {
                attributes.push(KeyValue { key: name.to_owned(), value, ..KeyValue::default() })
            }
        }
    }
}

/// Converts `value` in place by the Collector's rules; false when it cannot be converted (a
/// string that is not a number, or bytes, a map or an array to a number), leaving it as is.
///
/// To `int`: doubles are truncated toward zero (saturating), booleans are 1 or 0, strings are
/// parsed as decimal integers. To `double`: ints and booleans widen, strings are parsed. To
/// `string`: anything not a string is written as the Collector writes values as text.
pub(super) fn convert(value: &mut AnyValue, to: Type) -> bool {
    let converted = match (to, &value.value) {
        (Type::Int, Some(Value::IntValue(_)))
        | (Type::Double, Some(Value::DoubleValue(_)))
        | (Type::String, Some(Value::StringValue(_))) => return true,
        (Type::Int, Some(Value::DoubleValue(d))) => Value::IntValue(*d as i64),
        (Type::Int, Some(Value::BoolValue(b))) => Value::IntValue(i64::from(*b)),
        (Type::Int, Some(Value::StringValue(s))) => match s.parse::<i64>() {
            Ok(i) => Value::IntValue(i),
            Err(_) => return false,
        },
        (Type::Double, Some(Value::IntValue(i))) => Value::DoubleValue(*i as f64),
        (Type::Double, Some(Value::BoolValue(b))) => Value::DoubleValue(if *b { 1.0 } else { 0.0 }),
        (Type::Double, Some(Value::StringValue(s))) => match s.parse::<f64>() {
            Ok(d) => Value::DoubleValue(d),
            Err(_) => return false,
        },
        (Type::String, _) => Value::StringValue(go_string(Some(value))),
        (Type::Int | Type::Double, _) => return false,
    };
    value.value = Some(converted);
    true
}
