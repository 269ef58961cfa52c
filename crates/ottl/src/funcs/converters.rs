//! Converters: functions that return a value (upper-case names).

use std::borrow::Cow;

use regex::Regex;
use weir_otlp::proto::common::v1::{KeyValue, any_value};

use super::{Args, opt, req, text};
use crate::{
    Error, EvalError,
    program::{Compiler, Expr},
    record::{Item, Record},
    syntax::CallAst,
    value::{self, Value},
};

/// A bound converter.
#[derive(Debug, Clone)]
pub(crate) enum Converter {
    IsMatch(Expr, Regex),
    ParseJson(Expr),
    ExtractPatterns(Expr, Regex),
    Concat(Expr, String),
    IsType(&'static str, Expr),
    Len(Expr),
    Int(Expr),
    Double(Expr),
    String(Expr),
    Substring(Expr, Expr, Expr),
    ConvertCase(Expr, String),
    HasPrefix(Expr, Expr),
    HasSuffix(Expr, Expr),
    Split(Expr, String),
    Hash(text::Hash, Expr),
    Fnv(Expr),
    ToLowerCase(Expr),
    ToUpperCase(Expr),
    Now,
    Duration(Expr),
    ParseKeyValue(Expr, String, String),
    TraceId(Expr),
    SpanId(Expr),
    Hex(Expr),
    Trim(Expr, String),
    IsRootSpan,
    UnixNano(Expr),
}

/// Binds a converter call.
pub(crate) fn bind(call: &CallAst, compiler: &mut Compiler) -> Result<Converter, Error> {
    let name = call.name.as_str();
    let params: &[super::Param] = match name {
        "IsMatch" => &[req("target"), req("pattern")],
        "ExtractPatterns" => &[req("target"), req("pattern")],
        "Concat" => &[req("vals"), req("delimiter")],
        "Substring" => &[req("target"), req("start"), req("length")],
        "ConvertCase" => &[req("target"), req("toCase")],
        "HasPrefix" => &[req("target"), req("prefix")],
        "HasSuffix" => &[req("target"), req("suffix")],
        "Split" => &[req("target"), req("delimiter")],
        "ParseKeyValue" => &[req("target"), opt("delimiter"), opt("pair_delimiter")],
        "Trim" => &[req("target"), opt("replacement")],
        "Now" | "IsRootSpan" => &[],
        "Duration" => &[req("duration")],
        "UnixNano" => &[req("time")],
        "ParseJSON" | "Len" | "ToLowerCase" | "ToUpperCase" | "TraceID" | "SpanID" => {
            &[req("target")]
        }
        "IsString" | "IsMap" | "IsInt" | "IsDouble" | "IsBool" | "IsList" | "Int" | "Double"
        | "String" | "SHA256" | "SHA512" | "FNV" | "Hex" => &[req("value")],
        _ => {
            return Err(Error::at(
                call.column,
                format!("unknown converter {name} (or one weir does not implement yet)"),
            ));
        }
    };
    let mut args = Args::bind(call, params, compiler)?;
    Ok(match name {
        "IsMatch" => {
            let regex = args.regex(1)?;
            Converter::IsMatch(args.expr(0)?, regex)
        }
        "ExtractPatterns" => {
            let regex = args.regex(1)?;
            if regex.capture_names().flatten().next().is_none() {
                return Err(args.fail(1, "a regular expression with named capture groups"));
            }
            Converter::ExtractPatterns(args.expr(0)?, regex)
        }
        "ParseJSON" => Converter::ParseJson(args.expr(0)?),
        "Concat" => Converter::Concat(args.expr(0)?, args.string(1)?),
        "IsString" => Converter::IsType("string", args.expr(0)?),
        "IsMap" => Converter::IsType("map", args.expr(0)?),
        "IsInt" => Converter::IsType("int", args.expr(0)?),
        "IsDouble" => Converter::IsType("float", args.expr(0)?),
        "IsBool" => Converter::IsType("bool", args.expr(0)?),
        "IsList" => Converter::IsType("slice", args.expr(0)?),
        "Len" => Converter::Len(args.expr(0)?),
        "Int" => Converter::Int(args.expr(0)?),
        "Double" => Converter::Double(args.expr(0)?),
        "String" => Converter::String(args.expr(0)?),
        "Substring" => Converter::Substring(args.expr(0)?, args.expr(1)?, args.expr(2)?),
        "ConvertCase" => {
            let case = args.string(1)?;
            if !["lower", "upper", "snake", "camel"].contains(&case.as_str()) {
                return Err(args.fail(1, "\"lower\", \"upper\", \"snake\" or \"camel\""));
            }
            Converter::ConvertCase(args.expr(0)?, case)
        }
        "HasPrefix" => Converter::HasPrefix(args.expr(0)?, args.expr(1)?),
        "HasSuffix" => Converter::HasSuffix(args.expr(0)?, args.expr(1)?),
        "Split" => Converter::Split(args.expr(0)?, args.string(1)?),
        "SHA256" | "SHA512" => {
            Converter::Hash(text::Hash::parse(name).expect("listed"), args.expr(0)?)
        }
        "FNV" => Converter::Fnv(args.expr(0)?),
        "ToLowerCase" => Converter::ToLowerCase(args.expr(0)?),
        "ToUpperCase" => Converter::ToUpperCase(args.expr(0)?),
        "Now" => Converter::Now,
        "IsRootSpan" => Converter::IsRootSpan,
        "Duration" => Converter::Duration(args.expr(0)?),
        "UnixNano" => Converter::UnixNano(args.expr(0)?),
        "ParseKeyValue" => {
            let delimiter = args.opt_string(1)?.unwrap_or_else(|| "=".into());
            let pairs = args.opt_string(2)?.unwrap_or_else(|| " ".into());
            if delimiter.is_empty() || pairs.is_empty() || delimiter == pairs {
                return Err(args.fail(1, "non-empty and different from pair_delimiter"));
            }
            Converter::ParseKeyValue(args.expr(0)?, delimiter, pairs)
        }
        "TraceID" => Converter::TraceId(args.expr(0)?),
        "SpanID" => Converter::SpanId(args.expr(0)?),
        "Hex" => Converter::Hex(args.expr(0)?),
        _ => Converter::Trim(args.expr(0)?, args.opt_string(1)?.unwrap_or_else(|| " ".into())),
    })
}

fn owned(s: String) -> Value<'static> {
    Value::Str(Cow::Owned(s))
}

/// A string-like argument: strings as they are, other scalars as `String()` writes them, nil
/// stays nil.
fn string_like<'a>(value: Value<'a>) -> Option<Cow<'a, str>> {
    match value {
        Value::Str(s) => Some(s),
        Value::Nil => None,
        other => other.to_text().map(Cow::Owned),
    }
}

fn want_str<'a>(value: Value<'a>, function: &str) -> Result<Cow<'a, str>, EvalError> {
    match value {
        Value::Str(s) => Ok(s),
        other => {
            Err(EvalError(format!("{function}: expected a string, got {}", other.type_name())))
        }
    }
}

impl Converter {
    /// Its name, for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Converter::IsMatch(..) => "IsMatch",
            Converter::ParseJson(_) => "ParseJSON",
            Converter::ExtractPatterns(..) => "ExtractPatterns",
            Converter::Concat(..) => "Concat",
            Converter::IsType(..) => "Is*",
            Converter::Len(_) => "Len",
            Converter::Int(_) => "Int",
            Converter::Double(_) => "Double",
            Converter::String(_) => "String",
            Converter::Substring(..) => "Substring",
            Converter::ConvertCase(..) => "ConvertCase",
            Converter::HasPrefix(..) => "HasPrefix",
            Converter::HasSuffix(..) => "HasSuffix",
            Converter::Split(..) => "Split",
            Converter::Hash(..) => "hash",
            Converter::Fnv(_) => "FNV",
            Converter::ToLowerCase(_) => "ToLowerCase",
            Converter::ToUpperCase(_) => "ToUpperCase",
            Converter::Now => "Now",
            Converter::Duration(_) => "Duration",
            Converter::ParseKeyValue(..) => "ParseKeyValue",
            Converter::TraceId(_) => "TraceID",
            Converter::SpanId(_) => "SpanID",
            Converter::Hex(_) => "Hex",
            Converter::Trim(..) => "Trim",
            Converter::IsRootSpan => "IsRootSpan",
            Converter::UnixNano(_) => "UnixNano",
        }
    }

    pub(crate) fn call<'a>(&'a self, record: &'a Record<'_>) -> Result<Value<'a>, EvalError> {
        let name = self.name();
        Ok(match self {
            Converter::IsMatch(target, regex) => match string_like(target.eval(record)?) {
                Some(s) => Value::Bool(regex.is_match(&s)),
                None => Value::Bool(false),
            },
            Converter::ParseJson(target) => {
                let text = want_str(target.eval(record)?, name)?;
                let json: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| EvalError(format!("ParseJSON: {e}")))?;
                match value::from_json(json).value {
                    Some(any_value::Value::KvlistValue(kv)) => Value::Map(Cow::Owned(kv.values)),
                    Some(any_value::Value::ArrayValue(a)) => Value::List(Cow::Owned(a.values)),
                    _ => return Err(EvalError("ParseJSON: expected an object or an array".into())),
                }
            }
            Converter::ExtractPatterns(target, regex) => {
                let text = want_str(target.eval(record)?, name)?;
                let mut map = Vec::new();
                if let Some(caps) = regex.captures(&text) {
                    for group in regex.capture_names().flatten() {
                        if let Some(m) = caps.name(group) {
                            map.push(KeyValue {
                                key: group.to_owned(),
                                value: owned(m.as_str().to_owned()).into_any(),
                                ..KeyValue::default()
                            });
                        }
                    }
                }
                Value::Map(Cow::Owned(map))
            }
            Converter::Concat(values, delimiter) => {
                let Value::List(items) = values.eval(record)? else {
                    return Err(EvalError("Concat: 'vals' must be a list".into()));
                };
                let parts: Vec<String> = items
                    .iter()
                    .map(|item| Value::of(Some(item)).to_text().unwrap_or_else(|| "<nil>".into()))
                    .collect();
                owned(parts.join(delimiter))
            }
            Converter::IsType(kind, v) => Value::Bool(v.eval(record)?.type_name() == *kind),
            Converter::Len(v) => Value::Int(match v.eval(record)? {
                Value::Str(s) => s.len() as i64,
                Value::List(l) => l.len() as i64,
                Value::Map(m) => m.len() as i64,
                Value::Bytes(b) => b.len() as i64,
                other => {
                    return Err(EvalError(format!("Len: cannot measure a {}", other.type_name())));
                }
            }),
            Converter::Int(v) => match v.eval(record)? {
                Value::Int(i) => Value::Int(i),
                Value::Double(d) => Value::Int(d.trunc() as i64),
                Value::Bool(b) => Value::Int(b as i64),
                Value::Str(s) => s.trim().parse().map_or(Value::Nil, Value::Int),
                _ => Value::Nil,
            },
            Converter::Double(v) => match v.eval(record)? {
                Value::Int(i) => Value::Double(i as f64),
                Value::Double(d) => Value::Double(d),
                Value::Bool(b) => Value::Double(if b { 1.0 } else { 0.0 }),
                Value::Str(s) => s.trim().parse().map_or(Value::Nil, Value::Double),
                _ => Value::Nil,
            },
            Converter::String(v) => match v.eval(record)? {
                Value::Nil => Value::Nil,
                Value::Str(s) => Value::Str(s),
                other => owned(other.to_text().unwrap_or_default()),
            },
            Converter::Substring(target, start, length) => {
                let text = want_str(target.eval(record)?, name)?;
                let (Value::Int(start), Value::Int(length)) =
                    (start.eval(record)?, length.eval(record)?)
                else {
                    return Err(EvalError("Substring: start and length must be ints".into()));
                };
                if start < 0 || length <= 0 || (start + length) as usize > text.len() {
                    return Err(EvalError(format!(
                        "Substring: invalid range start {start}, length {length} for a string of {} bytes",
                        text.len()
                    )));
                }
                let part = text
                    .get(start as usize..(start + length) as usize)
                    .ok_or_else(|| EvalError("Substring: the range splits a character".into()))?;
                owned(part.to_owned())
            }
            Converter::ConvertCase(target, case) => match target.eval(record)? {
                Value::Nil => Value::Nil,
                v => owned(text::convert_case(&want_str(v, name)?, case)),
            },
            Converter::HasPrefix(target, prefix) => {
                let text = want_str(target.eval(record)?, name)?;
                let prefix = prefix.eval(record)?;
                Value::Bool(text.starts_with(prefix.as_str(name)?))
            }
            Converter::HasSuffix(target, suffix) => {
                let text = want_str(target.eval(record)?, name)?;
                let suffix = suffix.eval(record)?;
                Value::Bool(text.ends_with(suffix.as_str(name)?))
            }
            Converter::Split(target, delimiter) => match target.eval(record)? {
                Value::Nil => Value::Nil,
                v => {
                    let text = want_str(v, name)?;
                    let parts = text
                        .split(delimiter.as_str())
                        .map(|p| owned(p.to_owned()).into_any().unwrap_or_default())
                        .collect();
                    Value::List(Cow::Owned(parts))
                }
            },
            Converter::Hash(hash, v) => match string_like(v.eval(record)?) {
                Some(s) => owned(hash.apply(&s)),
                None => Value::Nil,
            },
            Converter::Fnv(v) => match string_like(v.eval(record)?) {
                Some(s) => Value::Int(text::fnv1a64(s.as_bytes()) as i64),
                None => Value::Nil,
            },
            Converter::ToLowerCase(v) => owned(want_str(v.eval(record)?, name)?.to_lowercase()),
            Converter::ToUpperCase(v) => owned(want_str(v.eval(record)?, name)?.to_uppercase()),
            Converter::Now => {
                // the one clock in the language: `Now()` is the wall clock by definition
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as i64);
                Value::Time(now)
            }
            Converter::Duration(v) => {
                let text = want_str(v.eval(record)?, name)?;
                let nanos = text::go_duration(&text)
                    .ok_or_else(|| EvalError(format!("Duration: invalid duration {text:?}")))?;
                Value::Duration(nanos)
            }
            Converter::UnixNano(v) => match v.eval(record)? {
                Value::Time(t) => Value::Int(t),
                other => {
                    return Err(EvalError(format!(
                        "UnixNano: expected a time, got {}",
                        other.type_name()
                    )));
                }
            },
            Converter::ParseKeyValue(target, delimiter, pairs) => {
                let text = want_str(target.eval(record)?, name)?;
                if text.is_empty() {
                    return Err(EvalError("ParseKeyValue: cannot parse an empty string".into()));
                }
                let map = text::parse_key_value(&text, delimiter, pairs)
                    .map_err(|e| EvalError(format!("ParseKeyValue: {e}")))?;
                Value::Map(Cow::Owned(map))
            }
            Converter::TraceId(v) => id(v.eval(record)?, 16, name)?,
            Converter::SpanId(v) => id(v.eval(record)?, 8, name)?,
            Converter::Hex(v) => match v.eval(record)? {
                Value::Bytes(b) => owned(value::hex(&b)),
                Value::Str(s) => owned(value::hex(s.as_bytes())),
                Value::Int(i) => owned(value::hex(&i.to_be_bytes())),
                Value::Nil => Value::Nil,
                other => {
                    return Err(EvalError(format!("Hex: cannot encode a {}", other.type_name())));
                }
            },
            Converter::Trim(target, cut) => match target.eval(record)? {
                Value::Nil => Value::Nil,
                v => {
                    let text = want_str(v, name)?;
                    owned(text.trim_matches(|c| cut.contains(c)).to_owned())
                }
            },
            Converter::IsRootSpan => match &record.item {
                Item::Span(s) | Item::Event(s, _) => Value::Bool(s.parent_span_id.is_empty()),
                _ => return Err(EvalError("IsRootSpan: only spans have parents".into())),
            },
        })
    }
}

fn id(value: Value<'_>, len: usize, name: &str) -> Result<Value<'static>, EvalError> {
    match value {
        Value::Bytes(b) if b.len() == len => Ok(Value::Bytes(Cow::Owned(b.into_owned()))),
        other => Err(EvalError(format!("{name}: expected {len} bytes, got {}", other.type_name()))),
    }
}
