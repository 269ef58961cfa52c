//! Values as OTTL sees them, borrowing from the telemetry where they can so that a condition
//! reads an attribute without copying it; and the language's comparison and arithmetic rules.

use std::{borrow::Cow, cmp::Ordering};

use weir_otlp::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};

use crate::{EvalError, syntax::CmpOp, syntax::MathOp};

/// A value: what a path, literal or converter yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Absent.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit integer (also enums and nanosecond timestamps).
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// Bytes (ids, bytes attributes).
    Bytes(Cow<'a, [u8]>),
    /// A map (attributes, a kvlist body).
    Map(Cow<'a, [KeyValue]>),
    /// A list.
    List(Cow<'a, [AnyValue]>),
    /// A point in time, in nanoseconds since the Unix epoch.
    Time(i64),
    /// A duration, in nanoseconds.
    Duration(i64),
}

impl<'a> Value<'a> {
    /// A value borrowing from `any` (nil when it holds nothing).
    pub fn of(any: Option<&'a AnyValue>) -> Value<'a> {
        use any_value::Value as V;
        match any.and_then(|a| a.value.as_ref()) {
            None => Value::Nil,
            Some(V::StringValue(s)) => Value::Str(Cow::Borrowed(s)),
            Some(V::BoolValue(b)) => Value::Bool(*b),
            Some(V::IntValue(i)) => Value::Int(*i),
            Some(V::DoubleValue(d)) => Value::Double(*d),
            Some(V::BytesValue(b)) => Value::Bytes(Cow::Borrowed(b)),
            Some(V::KvlistValue(kv)) => Value::Map(Cow::Borrowed(&kv.values)),
            Some(V::ArrayValue(a)) => Value::List(Cow::Borrowed(&a.values)),
            // an index into a profile's string table: only profiles carry one
            Some(V::StringValueStrindex(_)) => Value::Nil,
        }
    }

    /// The same value, owning what it borrowed.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Double(d) => Value::Double(d),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::Map(m) => Value::Map(Cow::Owned(m.into_owned())),
            Value::List(l) => Value::List(Cow::Owned(l.into_owned())),
            Value::Time(t) => Value::Time(t),
            Value::Duration(d) => Value::Duration(d),
        }
    }

    /// A value borrowing from this one.
    pub fn reborrow(&self) -> Value<'_> {
        match self {
            Value::Str(s) => Value::Str(Cow::Borrowed(s)),
            Value::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
            Value::Map(m) => Value::Map(Cow::Borrowed(m)),
            Value::List(l) => Value::List(Cow::Borrowed(l)),
            other => other.clone(),
        }
    }

    /// As an attribute value; `None` for nil. Times become their nanoseconds.
    pub fn into_any(self) -> Option<AnyValue> {
        use any_value::Value as V;
        let value = match self {
            Value::Nil => return None,
            Value::Bool(b) => V::BoolValue(b),
            Value::Int(i) | Value::Time(i) | Value::Duration(i) => V::IntValue(i),
            Value::Double(d) => V::DoubleValue(d),
            Value::Str(s) => V::StringValue(s.into_owned()),
            Value::Bytes(b) => V::BytesValue(b.into_owned()),
            Value::Map(m) => V::KvlistValue(KeyValueList { values: m.into_owned() }),
            Value::List(l) => V::ArrayValue(ArrayValue { values: l.into_owned() }),
        };
        Some(AnyValue { value: Some(value) })
    }

    /// The OTTL name of its type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Double(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Map(_) => "map",
            Value::List(_) => "slice",
            Value::Time(_) => "time",
            Value::Duration(_) => "duration",
        }
    }

    /// The string, or an error naming what `function` got instead.
    pub fn as_str(&self, function: &str) -> Result<&str, EvalError> {
        match self {
            Value::Str(s) => Ok(s),
            other => {
                Err(EvalError(format!("{function}: expected a string, got {}", other.type_name())))
            }
        }
    }

    /// The value as a string the way `String()` and `Concat` write it.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Nil => return None,
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => format_float(*d),
            Value::Str(s) => s.to_string(),
            Value::Bytes(b) => hex(b),
            Value::Map(_) | Value::List(_) => to_json(self).to_string(),
            Value::Time(t) => t.to_string(),
            Value::Duration(d) => format!("{}ns", d),
        })
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back the same.
pub(crate) fn format_float(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e21 { format!("{d:.0}") } else { d.to_string() }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Hex digits (either case) to bytes.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// A value as JSON (maps and lists as objects and arrays).
pub(crate) fn to_json(value: &Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) | Value::Time(i) | Value::Duration(i) => J::from(*i),
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(hex(b)),
        Value::Map(m) => J::Object(
            m.iter().map(|kv| (kv.key.clone(), to_json(&Value::of(kv.value.as_ref())))).collect(),
        ),
        Value::List(l) => J::Array(l.iter().map(|v| to_json(&Value::of(Some(v)))).collect()),
    }
}

/// JSON to an attribute value; every number becomes a double, as in the Collector's
/// `ParseJSON`.
pub(crate) fn from_json(json: serde_json::Value) -> AnyValue {
    use any_value::Value as V;
    let value = match json {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(V::BoolValue(b)),
        serde_json::Value::Number(n) => Some(V::DoubleValue(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Some(V::StringValue(s)),
        serde_json::Value::Array(items) => {
            Some(V::ArrayValue(ArrayValue { values: items.into_iter().map(from_json).collect() }))
        }
        serde_json::Value::Object(entries) => Some(V::KvlistValue(KeyValueList {
            values: entries
                .into_iter()
                .map(|(key, v)| KeyValue { key, value: Some(from_json(v)), ..KeyValue::default() })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// The language's comparison: nil equals only nil; ints and floats compare as numbers; strings,
/// bytes, times and durations order; anything else of different types is unequal and unordered.
pub(crate) fn compare(left: &Value<'_>, op: CmpOp, right: &Value<'_>) -> bool {
    let ordering = match (left, right) {
        (Value::Nil, Value::Nil) => Some(Ordering::Equal),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Double(b)) => (*a as f64).partial_cmp(b),
        (Value::Double(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
        (Value::Str(a), Value::Str(b)) => Some(a.as_ref().cmp(b.as_ref())),
        (Value::Bytes(a), Value::Bytes(b)) => Some(a.as_ref().cmp(b.as_ref())),
        (Value::Time(a), Value::Time(b)) | (Value::Duration(a), Value::Duration(b)) => {
            Some(a.cmp(b))
        }
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Map(_), Value::Map(_)) | (Value::List(_), Value::List(_)) => {
            return match op {
                CmpOp::Eq => left == right,
                CmpOp::Ne => left != right,
                _ => false,
            };
        }
        _ => None,
    };
    match (ordering, op) {
        (None, CmpOp::Ne) => true,
        (None, _) => false,
        (Some(o), CmpOp::Eq) => o == Ordering::Equal,
        (Some(o), CmpOp::Ne) => o != Ordering::Equal,
        (Some(o), CmpOp::Lt) => o == Ordering::Less,
        (Some(o), CmpOp::Le) => o != Ordering::Greater,
        (Some(o), CmpOp::Gt) => o == Ordering::Greater,
        (Some(o), CmpOp::Ge) => o != Ordering::Less,
    }
}

/// Arithmetic: ints with ints, floats with floats; times and durations as the language allows
/// (time − time = duration, time ± duration = time, duration ± duration = duration).
pub(crate) fn math(
    left: Value<'_>,
    op: MathOp,
    right: Value<'_>,
) -> Result<Value<'static>, EvalError> {
    let bad = |l: &Value<'_>, r: &Value<'_>| {
        EvalError(format!("cannot apply {op:?} to {} and {}", l.type_name(), r.type_name()))
    };
    Ok(match (&left, &right) {
        (Value::Int(a), Value::Int(b)) => Value::Int(match op {
            MathOp::Add => a.wrapping_add(*b),
            MathOp::Sub => a.wrapping_sub(*b),
            MathOp::Mul => a.wrapping_mul(*b),
            MathOp::Div => a.checked_div(*b).ok_or_else(|| EvalError("division by zero".into()))?,
        }),
        (Value::Double(a), Value::Double(b)) => Value::Double(match op {
            MathOp::Add => a + b,
            MathOp::Sub => a - b,
            MathOp::Mul => a * b,
            MathOp::Div if *b == 0.0 => return Err(EvalError("division by zero".into())),
            MathOp::Div => a / b,
        }),
        (Value::Time(a), Value::Time(b)) if op == MathOp::Sub => Value::Duration(a - b),
        (Value::Time(a), Value::Duration(b)) if op == MathOp::Add => Value::Time(a + b),
        (Value::Time(a), Value::Duration(b)) if op == MathOp::Sub => Value::Time(a - b),
        (Value::Duration(a), Value::Duration(b)) if op == MathOp::Add => Value::Duration(a + b),
        (Value::Duration(a), Value::Duration(b)) if op == MathOp::Sub => Value::Duration(a - b),
        _ => return Err(bad(&left, &right)),
    })
}
