//! Keys below a path: evaluating them, and walking maps and lists by them to read a value
//! or reach the slot to write.

use std::borrow::Cow;

use weir_otlp::proto::common::v1::{AnyValue, KeyValue, KeyValueList, any_value};

use crate::{EvalError, record::Record, value::Value};

use super::{Key, KeyRef};

/// Where keys start: a map of attributes, or a value (a log body).
pub(super) enum Base<'a> {
    Map(&'a mut Vec<KeyValue>),
    Any(&'a mut Option<AnyValue>),
}

/// The entries of a kvlist value.
pub(super) fn kvlist(any: Option<&mut AnyValue>) -> Option<&mut Vec<KeyValue>> {
    match any?.value.as_mut()? {
        any_value::Value::KvlistValue(kv) => Some(&mut kv.values),
        _ => None,
    }
}

/// The slot of `key` in `map`, added (empty) when absent.
pub(super) fn entry<'a>(map: &'a mut Vec<KeyValue>, key: &str) -> &'a mut Option<AnyValue> {
    let i = match map.iter().position(|kv| kv.key == key) {
        Some(i) => i,
        None => {
            map.push(KeyValue { key: key.to_owned(), ..KeyValue::default() });
            map.len() - 1
        }
    };
    &mut map[i].value
}

/// One step down from a value: a map entry (making an empty value a map) or a list element.
pub(super) fn any_slot<'a>(
    slot: &'a mut AnyValue,
    key: &KeyRef<'_>,
    text: &str,
) -> Result<&'a mut AnyValue, EvalError> {
    use any_value::Value as V;
    if slot.value.is_none() && matches!(key, KeyRef::Str(_)) {
        slot.value = Some(V::KvlistValue(KeyValueList::default()));
    }
    match (slot.value.as_mut(), key) {
        (Some(V::KvlistValue(kv)), KeyRef::Str(k)) => {
            Ok(entry(&mut kv.values, k).get_or_insert_default())
        }
        (Some(V::ArrayValue(list)), KeyRef::Int(i)) => {
            let len = list.values.len();
            let element = usize::try_from(*i).ok().and_then(|i| list.values.get_mut(i));
            element
                .ok_or_else(|| EvalError(format!("{text}: index {i} out of range (length {len})")))
        }
        (_, KeyRef::Int(_)) => Err(EvalError(format!("{text}: only a list is indexed by an int"))),
        (_, KeyRef::Str(_)) => Err(EvalError(format!("{text}: only a map is indexed by a string"))),
    }
}

/// The slot at `keys` below `base`, without creating anything.
pub(super) fn find_mut<'a>(
    base: Base<'a>,
    keys: &[KeyRef<'_>],
) -> Option<&'a mut Option<AnyValue>> {
    use any_value::Value as V;
    let mut slot = match (base, &keys[0]) {
        (Base::Map(map), KeyRef::Str(k)) => &mut map.iter_mut().find(|kv| kv.key == *k)?.value,
        (Base::Any(any), KeyRef::Str(k)) => match any.as_mut()?.value.as_mut()? {
            V::KvlistValue(kv) => &mut kv.values.iter_mut().find(|e| e.key == *k)?.value,
            _ => return None,
        },
        _ => return None,
    };
    for key in &keys[1..] {
        let KeyRef::Str(k) = key else { return None };
        slot = match slot.as_mut()?.value.as_mut()? {
            V::KvlistValue(kv) => &mut kv.values.iter_mut().find(|e| e.key == *k)?.value,
            _ => return None,
        };
    }
    Some(slot)
}

/// Evaluates `keys` on `record` (computed keys must give a string or an int).
pub(crate) fn evaluate<'k>(
    keys: &'k [Key],
    record: &Record<'_>,
    text: &str,
) -> Result<Vec<KeyRef<'k>>, EvalError> {
    let mut evaluated = Vec::with_capacity(keys.len());
    for key in keys {
        evaluated.push(match key {
            Key::Str(s) => KeyRef::Str(Cow::Borrowed(s)),
            Key::Int(i) => KeyRef::Int(*i),
            Key::Expr(e) => match e.eval(record)? {
                Value::Str(s) => KeyRef::Str(Cow::Owned(s.into_owned())),
                Value::Int(i) => KeyRef::Int(i),
                other => {
                    return Err(EvalError(format!(
                        "{text}: a key must be a string or an int, got {}",
                        other.type_name()
                    )));
                }
            },
        });
    }
    Ok(evaluated)
}

/// Indexes what a converter returned by `keys` (`ParseJSON(body)["a"]`).
pub(crate) fn index_value<'a>(
    value: Value<'a>,
    keys: &[Key],
    record: &Record<'_>,
    text: &str,
) -> Result<Value<'a>, EvalError> {
    let evaluated = evaluate(keys, record, text)?;
    index(value, evaluated.into_iter(), text)
}

/// Indexes a value by keys: maps by strings, lists by ints; indexing nil gives nil.
pub(super) fn index<'a, 'k>(
    mut value: Value<'a>,
    keys: impl Iterator<Item = KeyRef<'k>>,
    text: &str,
) -> Result<Value<'a>, EvalError> {
    for key in keys {
        value = match (value, key) {
            (Value::Nil, _) => return Ok(Value::Nil),
            (Value::Map(Cow::Borrowed(map)), KeyRef::Str(k)) => {
                Value::of(map.iter().find(|kv| kv.key == *k).and_then(|kv| kv.value.as_ref()))
            }
            (Value::Map(Cow::Owned(map)), KeyRef::Str(k)) => {
                Value::of(map.iter().find(|kv| kv.key == *k).and_then(|kv| kv.value.as_ref()))
                    .into_owned()
            }
            (Value::List(list), KeyRef::Int(i)) => {
                let len = list.len();
                let out_of_range =
                    || EvalError(format!("{text}: index {i} out of range (length {len})"));
                let i = usize::try_from(i).map_err(|_| out_of_range())?;
                match list {
                    Cow::Borrowed(l) => Value::of(Some(l.get(i).ok_or_else(out_of_range)?)),
                    Cow::Owned(l) => {
                        Value::of(Some(l.get(i).ok_or_else(out_of_range)?)).into_owned()
                    }
                }
            }
            (other, _) => {
                return Err(EvalError(format!("{text}: cannot index a {}", other.type_name())));
            }
        };
    }
    Ok(value)
}
