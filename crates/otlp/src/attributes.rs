//! Attribute helpers shared by every crate: lookup, a value as text (the one stable rendering
//! used for labels, routing keys and comparisons), and the `kv` builder.

use std::fmt::Write as _;

use crate::proto::common::v1::{AnyValue, KeyValue, any_value::Value};

/// A string attribute.
pub fn kv(key: &str, value: &str) -> KeyValue {
    kv_value(key, Value::StringValue(value.to_owned()))
}

/// An attribute of any value type.
pub fn kv_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// The value of attribute `key`, if present.
pub fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

/// A value as text where a string is needed (labels, keys, comparisons): strings as they are,
/// booleans and numbers in their usual form, arrays and maps as JSON, as the Collector writes
/// them; bytes as lowercase hex (the Collector writes base64). `None` for an empty value.
pub fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        other => {
            let mut out = String::new();
            write_value(&mut out, other);
            Some(out)
        }
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::StringValue(s) => write_json_string(out, s),
        Value::BoolValue(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::IntValue(i) => {
            let _ = write!(out, "{i}");
        }
        // an index into a profile's string table, which an attribute here never has
        Value::StringValueStrindex(i) => {
            let _ = write!(out, "{i}");
        }
        Value::DoubleValue(d) => {
            let _ = write!(out, "{d}");
        }
        Value::BytesValue(bytes) => {
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
        }
        Value::ArrayValue(array) => {
            out.push('[');
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_nested(out, v);
            }
            out.push(']');
        }
        Value::KvlistValue(list) => {
            out.push('{');
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, &kv.key);
                out.push(':');
                match &kv.value {
                    Some(v) => write_nested(out, v),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

/// A value inside an array or map: strings and bytes quoted, as JSON.
fn write_nested(out: &mut String, value: &AnyValue) {
    match &value.value {
        None => out.push_str("null"),
        Some(Value::BytesValue(_)) => {
            out.push('"');
            write_value(out, value.value.as_ref().expect("matched"));
            out.push('"');
        }
        Some(v) => write_value(out, v),
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::v1::{ArrayValue, KeyValueList};

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn every_value_has_one_stable_text() {
        assert_eq!(text(Some(&any(Value::StringValue("a\"b".into())))).unwrap(), "a\"b");
        assert_eq!(text(Some(&any(Value::IntValue(-3)))).unwrap(), "-3");
        assert_eq!(text(Some(&any(Value::DoubleValue(0.5)))).unwrap(), "0.5");
        assert_eq!(text(Some(&any(Value::BoolValue(true)))).unwrap(), "true");
        assert_eq!(text(Some(&any(Value::BytesValue(vec![0, 255])))).unwrap(), "00ff");
        let array = Value::ArrayValue(ArrayValue {
            values: vec![any(Value::StringValue("x".into())), any(Value::IntValue(1))],
        });
        assert_eq!(text(Some(&any(array))).unwrap(), "[\"x\",1]");
        let map = Value::KvlistValue(KeyValueList { values: vec![kv("k", "v")] });
        assert_eq!(text(Some(&any(map))).unwrap(), "{\"k\":\"v\"}");
        assert_eq!(text(None), None);
        assert_eq!(find(&[kv("a", "1")], "a").and_then(|v| text(Some(v))).as_deref(), Some("1"));
    }
}
