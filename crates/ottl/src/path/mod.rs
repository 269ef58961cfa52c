//! Paths: `span.attributes["http.route"]`, `resource.attributes["a"]["b"]`, `log.body.string`,
//! resolved once against a context into a [`Field`] and its keys, then read and written on a
//! [`Record`].

mod field;
mod keys;
mod point;

pub(crate) use field::Field;
use field::{IdForm, TimeForm, field};
pub(crate) use keys::index_value;
use keys::{Base, any_slot, entry, find_mut, index, kvlist};
use point::{point_get, point_set};

use std::borrow::Cow;

use weir_otlp::proto::common::v1::{AnyValue, KeyValue};

use crate::{
    Context, Error, EvalError,
    program::Expr,
    record::{Item, Point, Record},
    syntax::{KeyAst, PathAst},
    value::{Value, hex, unhex},
};

/// A resolved path.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) field: Field,
    pub(crate) keys: Vec<Key>,
    /// Whether a key is computed (then keys are evaluated before use).
    dynamic: bool,
    /// As written, for messages.
    pub(crate) text: String,
    /// The context the path belongs to.
    pub(crate) owner: Context,
}

/// One index.
#[derive(Debug, Clone)]
pub(crate) enum Key {
    Str(String),
    Int(i64),
    Expr(Expr),
}

/// An index, evaluated.
#[derive(Debug, Clone)]
pub(super) enum KeyRef<'k> {
    Str(Cow<'k, str>),
    Int(i64),
}

/// Resolves a path written in `context` (`None`: the context is inferred, so the path must
/// start with one). Keys that are expressions are compiled with `compile`.
pub(crate) fn resolve(
    ast: &PathAst,
    context: Option<Context>,
    compile: &mut dyn FnMut(&crate::syntax::Expr) -> Result<Expr, Error>,
) -> Result<Path, Error> {
    let names: Vec<&str> = ast.names.iter().map(String::as_str).collect();
    let text = describe(ast);
    let unknown = |why: String| Error::at(ast.column, why);
    let prefixed = Context::from_prefix(names[0]).filter(|_| names.len() > 1);
    let (owner, rest) = match (prefixed, context) {
        (Some(named), Some(current)) if current.reaches(named) => (named, &names[1..]),
        (Some(named), Some(current)) => {
            return Err(unknown(format!(
                "path {text} names the {named} context, which the {current} context cannot reach"
            )));
        }
        (Some(named), None) => (named, &names[1..]),
        (None, Some(current)) => (current, &names[..]),
        (None, None) => {
            return Err(unknown(format!(
                "path {text} must start with its context (resource, scope, span, spanevent, \
                 metric, datapoint or log) when the statement does not give one"
            )));
        }
    };
    let field = field(owner, rest)
        .ok_or_else(|| unknown(format!("unknown path {text} in the {owner} context")))?;
    if !ast.keys.is_empty() && !field.is_map() {
        return Err(unknown(format!("path {text} cannot be indexed")));
    }
    let mut keys = Vec::new();
    let mut dynamic = false;
    for key in &ast.keys {
        keys.push(match key {
            KeyAst::Str(s) => Key::Str(s.clone()),
            KeyAst::Int(i) => Key::Int(*i),
            KeyAst::Expr(e) => {
                dynamic = true;
                Key::Expr(compile(e)?)
            }
        });
    }
    Ok(Path { field, keys, dynamic, text, owner })
}

fn describe(ast: &PathAst) -> String {
    let mut text = ast.names.join(".");
    for key in &ast.keys {
        match key {
            KeyAst::Str(s) => text.push_str(&format!("[\"{s}\"]")),
            KeyAst::Int(i) => text.push_str(&format!("[{i}]")),
            KeyAst::Expr(_) => text.push_str("[...]"),
        }
    }
    text
}

fn wrong(path: &Path, value: &Value<'_>, wanted: &str) -> EvalError {
    EvalError(format!("{} takes {wanted}, got {}", path.text, value.type_name()))
}

fn not_here(path: &Path) -> EvalError {
    EvalError(format!("path {} is not available on this item", path.text))
}

impl Path {
    fn keys<'k>(&'k self, record: &Record<'_>) -> Result<Vec<KeyRef<'k>>, EvalError> {
        keys::evaluate(&self.keys, record, &self.text)
    }

    /// Reads the path.
    pub(crate) fn get<'a>(&self, record: &'a Record<'_>) -> Result<Value<'a>, EvalError> {
        // the common case first: one attribute by a literal key
        if let [Key::Str(key)] = &self.keys[..]
            && let Some(attributes) = self.attributes(record)
        {
            let found = attributes.iter().find(|kv| kv.key == *key);
            return Ok(Value::of(found.and_then(|kv| kv.value.as_ref())));
        }
        let base = self.base(record)?;
        if self.keys.is_empty() {
            return Ok(base);
        }
        if !self.dynamic {
            return index(base, self.static_keys(), &self.text);
        }
        let keys = self.keys(record)?;
        let value = index(base, keys.into_iter(), &self.text)?;
        Ok(value)
    }

    /// The attributes the path names, when it names some (matched on the field first, so
    /// that reading an attribute costs one jump).
    fn attributes<'a>(&self, r: &'a Record<'_>) -> Option<&'a [KeyValue]> {
        match self.field {
            Field::SpanAttributes => match &r.item {
                Item::Span(s) | Item::Event(s, _) => Some(&s.attributes),
                _ => None,
            },
            Field::LogAttributes => match &r.item {
                Item::Log(l) => Some(&l.attributes),
                _ => None,
            },
            Field::ResourceAttributes => Some(&r.resource.attributes),
            Field::PointAttributes => match &r.item {
                Item::Point(_, _, Point::Number(p)) => Some(&p.attributes),
                Item::Point(_, _, Point::Histogram(p)) => Some(&p.attributes),
                Item::Point(_, _, Point::Exponential(p)) => Some(&p.attributes),
                Item::Point(_, _, Point::Summary(p)) => Some(&p.attributes),
                _ => None,
            },
            Field::EventAttributes => match &r.item {
                Item::Event(_, e) => Some(&e.attributes),
                _ => None,
            },
            Field::ScopeAttributes => r.scope.as_deref().map(|s| &s.attributes[..]),
            Field::Cache => Some(r.cache),
            _ => None,
        }
    }

    fn base<'a>(&self, r: &'a Record<'_>) -> Result<Value<'a>, EvalError> {
        use Field::*;
        let str = |s: &'a str| Value::Str(Cow::Borrowed(s));
        let map = |m: &'a [KeyValue]| Value::Map(Cow::Borrowed(m));
        let time = |nanos: u64, form: TimeForm| match form {
            TimeForm::Nanos => Value::Int(nanos as i64),
            TimeForm::Time => Value::Time(nanos as i64),
        };
        let id = |bytes: &'a [u8], form: IdForm| match form {
            IdForm::Bytes => Value::Bytes(Cow::Borrowed(bytes)),
            IdForm::Hex => Value::Str(Cow::Owned(hex(bytes))),
        };
        let scope = r.scope.as_deref();
        Ok(match (self.field, &r.item) {
            (Cache, _) => map(r.cache),
            (ResourceAttributes, _) => map(&r.resource.attributes),
            (ResourceDropped, _) => Value::Int(r.resource.dropped_attributes_count as i64),
            (ScopeName, _) => str(&scope.ok_or_else(|| not_here(self))?.name),
            (ScopeVersion, _) => str(&scope.ok_or_else(|| not_here(self))?.version),
            (ScopeAttributes, _) => map(&scope.ok_or_else(|| not_here(self))?.attributes),
            (ScopeDropped, _) => {
                Value::Int(scope.ok_or_else(|| not_here(self))?.dropped_attributes_count as i64)
            }
            (SpanTraceId(f), Item::Span(s) | Item::Event(s, _)) => id(&s.trace_id, f),
            (SpanSpanId(f), Item::Span(s) | Item::Event(s, _)) => id(&s.span_id, f),
            (SpanParentSpanId(f), Item::Span(s) | Item::Event(s, _)) => id(&s.parent_span_id, f),
            (SpanTraceState, Item::Span(s) | Item::Event(s, _)) => str(&s.trace_state),
            (SpanName, Item::Span(s) | Item::Event(s, _)) => str(&s.name),
            (SpanKind, Item::Span(s) | Item::Event(s, _)) => Value::Int(s.kind as i64),
            (SpanKindString, Item::Span(s) | Item::Event(s, _)) => {
                str(crate::enums::kind_string(s.kind as i64))
            }
            (SpanStart(f), Item::Span(s) | Item::Event(s, _)) => time(s.start_time_unix_nano, f),
            (SpanEnd(f), Item::Span(s) | Item::Event(s, _)) => time(s.end_time_unix_nano, f),
            (SpanAttributes, Item::Span(s) | Item::Event(s, _)) => map(&s.attributes),
            (SpanDroppedAttributes, Item::Span(s) | Item::Event(s, _)) => {
                Value::Int(s.dropped_attributes_count as i64)
            }
            (SpanDroppedEvents, Item::Span(s) | Item::Event(s, _)) => {
                Value::Int(s.dropped_events_count as i64)
            }
            (SpanDroppedLinks, Item::Span(s) | Item::Event(s, _)) => {
                Value::Int(s.dropped_links_count as i64)
            }
            (SpanStatusCode, Item::Span(s) | Item::Event(s, _)) => {
                Value::Int(s.status.as_ref().map_or(0, |st| st.code as i64))
            }
            (SpanStatusMessage, Item::Span(s) | Item::Event(s, _)) => {
                str(s.status.as_ref().map_or("", |st| st.message.as_str()))
            }
            (SpanFlags, Item::Span(s) | Item::Event(s, _)) => Value::Int(s.flags as i64),
            (EventName, Item::Event(_, e)) => str(&e.name),
            (EventTime(f), Item::Event(_, e)) => time(e.time_unix_nano, f),
            (EventAttributes, Item::Event(_, e)) => map(&e.attributes),
            (EventDropped, Item::Event(_, e)) => Value::Int(e.dropped_attributes_count as i64),
            (MetricName, Item::Metric(m) | Item::Point(m, ..)) => str(&m.name),
            (MetricDescription, Item::Metric(m) | Item::Point(m, ..)) => str(&m.description),
            (MetricUnit, Item::Metric(m) | Item::Point(m, ..)) => str(&m.unit),
            (MetricType, Item::Metric(m)) => {
                Value::Int(crate::record::Shape::of(m.data.as_ref()).kind)
            }
            (MetricType, Item::Point(_, shape, _)) => Value::Int(shape.kind),
            (MetricTemporality, Item::Metric(m)) => {
                Value::Int(crate::record::Shape::of(m.data.as_ref()).temporality)
            }
            (MetricTemporality, Item::Point(_, shape, _)) => Value::Int(shape.temporality),
            (MetricMonotonic, Item::Metric(m)) => {
                Value::Bool(crate::record::Shape::of(m.data.as_ref()).monotonic)
            }
            (MetricMonotonic, Item::Point(_, shape, _)) => Value::Bool(shape.monotonic),
            (field, Item::Point(_, _, point)) => point_get(self, field, point)?,
            (LogTime(f), Item::Log(l)) => time(l.time_unix_nano, f),
            (LogObservedTime(f), Item::Log(l)) => time(l.observed_time_unix_nano, f),
            (LogSeverityNumber, Item::Log(l)) => Value::Int(l.severity_number as i64),
            (LogSeverityText, Item::Log(l)) => str(&l.severity_text),
            (LogBody, Item::Log(l)) => Value::of(l.body.as_ref()),
            (LogBodyString, Item::Log(l)) => match Value::of(l.body.as_ref()) {
                Value::Nil => str(""),
                Value::Str(s) => Value::Str(s),
                other => Value::Str(Cow::Owned(other.to_text().unwrap_or_default())),
            },
            (LogAttributes, Item::Log(l)) => map(&l.attributes),
            (LogDropped, Item::Log(l)) => Value::Int(l.dropped_attributes_count as i64),
            (LogFlags, Item::Log(l)) => Value::Int(l.flags as i64),
            (LogTraceId(f), Item::Log(l)) => id(&l.trace_id, f),
            (LogSpanId(f), Item::Log(l)) => id(&l.span_id, f),
            (LogEventName, Item::Log(l)) => str(&l.event_name),
            _ => return Err(not_here(self)),
        })
    }

    /// Writes the path; `nil` writes nothing.
    pub(crate) fn set(&self, record: &mut Record<'_>, value: Value<'_>) -> Result<(), EvalError> {
        if value == Value::Nil {
            return Ok(());
        }
        if !self.keys.is_empty() {
            let slot = if self.dynamic {
                let keys = self.owned_keys(record)?;
                self.slot(record, keys.into_iter())?
            } else {
                self.slot(record, self.static_keys())?
            };
            *slot = value.into_any().unwrap_or_default();
            return Ok(());
        }
        if self.field.is_map() && self.field != Field::LogBody {
            let Value::Map(entries) = value else { return Err(wrong(self, &value, "a map")) };
            *self.map_mut(record)?.ok_or_else(|| not_here(self))? = entries.into_owned();
            return Ok(());
        }
        self.set_scalar(record, value)
    }

    /// Writes an attribute value: straight into the attributes for one literal key, else as
    /// [`Path::set`] does.
    pub(crate) fn set_any(
        &self,
        record: &mut Record<'_>,
        value: &AnyValue,
    ) -> Result<(), EvalError> {
        if let [Key::Str(key)] = &self.keys[..]
            && self.field != Field::LogBody
        {
            *entry(self.attributes_mut(record)?, key) = Some(value.clone());
            return Ok(());
        }
        self.set(record, Value::of(Some(value)).into_owned())
    }

    /// The keys when none is computed, borrowed.
    fn static_keys(&self) -> impl Iterator<Item = KeyRef<'_>> {
        self.keys.iter().map(|k| match k {
            Key::Str(s) => KeyRef::Str(Cow::Borrowed(s.as_str())),
            Key::Int(i) => KeyRef::Int(*i),
            Key::Expr(_) => unreachable!("static keys"),
        })
    }

    /// The keys evaluated on `record`, owned (so that the record can then be changed).
    fn owned_keys(&self, record: &Record<'_>) -> Result<Vec<KeyRef<'static>>, EvalError> {
        Ok(self
            .keys(record)?
            .into_iter()
            .map(|k| match k {
                KeyRef::Str(s) => KeyRef::Str(Cow::Owned(s.into_owned())),
                KeyRef::Int(i) => KeyRef::Int(i),
            })
            .collect())
    }

    /// The map the path names (a map attribute, the attributes, a kvlist body, the cache), for
    /// editors that change maps in place; `None` when it is absent or not a map.
    pub(crate) fn map_mut<'a>(
        &self,
        record: &'a mut Record<'_>,
    ) -> Result<Option<&'a mut Vec<KeyValue>>, EvalError> {
        if self.keys.is_empty() {
            return Ok(match self.field {
                Field::LogBody => match &mut record.item {
                    Item::Log(l) => kvlist(l.body.as_mut()),
                    _ => None,
                },
                _ => Some(self.attributes_mut(record)?),
            });
        }
        let keys = self.owned_keys(record)?;
        let base = self.attributes_or_body(record)?;
        let Some(slot) = find_mut(base, &keys) else { return Ok(None) };
        Ok(kvlist(slot.as_mut()))
    }

    fn attributes_or_body<'a>(&self, record: &'a mut Record<'_>) -> Result<Base<'a>, EvalError> {
        if self.field == Field::LogBody {
            return match &mut record.item {
                Item::Log(l) => Ok(Base::Any(&mut l.body)),
                _ => Err(not_here(self)),
            };
        }
        Ok(Base::Map(self.attributes_mut(record)?))
    }

    fn attributes_mut<'a>(
        &self,
        r: &'a mut Record<'_>,
    ) -> Result<&'a mut Vec<KeyValue>, EvalError> {
        use Field::*;
        Ok(match (self.field, &mut r.item) {
            (Cache, _) => r.cache,
            (ResourceAttributes, _) => &mut r.resource.attributes,
            (ScopeAttributes, _) => {
                &mut r.scope.as_deref_mut().ok_or_else(|| not_here(self))?.attributes
            }
            (SpanAttributes, Item::Span(s) | Item::Event(s, _)) => &mut s.attributes,
            (EventAttributes, Item::Event(_, e)) => &mut e.attributes,
            (PointAttributes, Item::Point(_, _, p)) => match p {
                Point::Number(p) => &mut p.attributes,
                Point::Histogram(p) => &mut p.attributes,
                Point::Exponential(p) => &mut p.attributes,
                Point::Summary(p) => &mut p.attributes,
            },
            (LogAttributes, Item::Log(l)) => &mut l.attributes,
            _ => return Err(not_here(self)),
        })
    }

    /// The value slot at the path's keys, creating maps on the way.
    fn slot<'a, 'k>(
        &self,
        record: &'a mut Record<'_>,
        mut keys: impl Iterator<Item = KeyRef<'k>>,
    ) -> Result<&'a mut AnyValue, EvalError> {
        let text = &self.text;
        let first = keys.next().expect("a path with keys");
        let base = self.attributes_or_body(record)?;
        let mut slot: &mut AnyValue = match (base, &first) {
            (Base::Map(map), KeyRef::Str(k)) => entry(map, k).get_or_insert_default(),
            (Base::Any(any), _) => any_slot(any.get_or_insert_default(), &first, text)?,
            (Base::Map(_), KeyRef::Int(_)) => {
                return Err(EvalError(format!("{text}: a map is indexed by strings")));
            }
        };
        for key in keys {
            slot = any_slot(slot, &key, text)?;
        }
        Ok(slot)
    }

    fn set_scalar(&self, r: &mut Record<'_>, value: Value<'_>) -> Result<(), EvalError> {
        use Field::*;
        let as_int = |v: &Value<'_>| match v {
            Value::Int(i) => Ok(*i),
            other => Err(wrong(self, other, "an int")),
        };
        let as_string = |v: Value<'_>| match v {
            Value::Str(s) => Ok(s.into_owned()),
            other => Err(wrong(self, &other, "a string")),
        };
        let as_time = |v: &Value<'_>, form: TimeForm| match (v, form) {
            (Value::Int(i), TimeForm::Nanos) | (Value::Time(i), TimeForm::Time) => Ok(*i as u64),
            (other, TimeForm::Nanos) => Err(wrong(self, other, "an int")),
            (other, TimeForm::Time) => Err(wrong(self, other, "a time")),
        };
        let as_id = |v: Value<'_>, form: IdForm, len: usize| {
            let bytes = match (v, form) {
                (Value::Bytes(b), IdForm::Bytes) => b.into_owned(),
                (Value::Str(s), IdForm::Hex) => unhex(&s).unwrap_or_default(),
                (other, _) => return Err(wrong(self, &other, "an id")),
            };
            if bytes.len() == len {
                Ok(bytes)
            } else {
                Err(EvalError(format!("{} takes {len} bytes", self.text)))
            }
        };
        let scope = r.scope.as_deref_mut();
        match (self.field, &mut r.item) {
            (ResourceDropped, _) => r.resource.dropped_attributes_count = as_int(&value)? as u32,
            (ScopeName, _) => scope.ok_or_else(|| not_here(self))?.name = as_string(value)?,
            (ScopeVersion, _) => scope.ok_or_else(|| not_here(self))?.version = as_string(value)?,
            (ScopeDropped, _) => {
                scope.ok_or_else(|| not_here(self))?.dropped_attributes_count =
                    as_int(&value)? as u32
            }
            (SpanTraceId(f), Item::Span(s)) => s.trace_id = as_id(value, f, 16)?,
            (SpanSpanId(f), Item::Span(s)) => s.span_id = as_id(value, f, 8)?,
            (SpanParentSpanId(f), Item::Span(s)) => s.parent_span_id = as_id(value, f, 8)?,
            (SpanTraceState, Item::Span(s)) => s.trace_state = as_string(value)?,
            (SpanName, Item::Span(s) | Item::Event(s, _)) => s.name = as_string(value)?,
            (SpanKind, Item::Span(s)) => s.kind = as_int(&value)? as i32,
            (SpanStart(f), Item::Span(s)) => s.start_time_unix_nano = as_time(&value, f)?,
            (SpanEnd(f), Item::Span(s)) => s.end_time_unix_nano = as_time(&value, f)?,
            (SpanDroppedAttributes, Item::Span(s)) => {
                s.dropped_attributes_count = as_int(&value)? as u32
            }
            (SpanStatusCode, Item::Span(s) | Item::Event(s, _)) => {
                s.status.get_or_insert_default().code = as_int(&value)? as i32
            }
            (SpanStatusMessage, Item::Span(s) | Item::Event(s, _)) => {
                s.status.get_or_insert_default().message = as_string(value)?
            }
            (EventName, Item::Event(_, e)) => e.name = as_string(value)?,
            (EventTime(f), Item::Event(_, e)) => e.time_unix_nano = as_time(&value, f)?,
            (MetricName, Item::Metric(m) | Item::Point(m, ..)) => m.name = as_string(value)?,
            (MetricDescription, Item::Metric(m) | Item::Point(m, ..)) => {
                m.description = as_string(value)?
            }
            (MetricUnit, Item::Metric(m) | Item::Point(m, ..)) => m.unit = as_string(value)?,
            (MetricTemporality, Item::Metric(m)) => set_temporality(m, as_int(&value)?),
            (MetricMonotonic, Item::Metric(m)) => {
                let Value::Bool(b) = value else { return Err(wrong(self, &value, "a bool")) };
                if let Some(weir_otlp::proto::metrics::v1::metric::Data::Sum(s)) = &mut m.data {
                    s.is_monotonic = b;
                }
            }
            (field, Item::Point(_, _, point)) => point_set(self, field, point, value)?,
            (LogTime(f), Item::Log(l)) => l.time_unix_nano = as_time(&value, f)?,
            (LogObservedTime(f), Item::Log(l)) => l.observed_time_unix_nano = as_time(&value, f)?,
            (LogSeverityNumber, Item::Log(l)) => l.severity_number = as_int(&value)? as i32,
            (LogSeverityText, Item::Log(l)) => l.severity_text = as_string(value)?,
            (LogBody, Item::Log(l)) => l.body = value.into_any(),
            (LogBodyString, Item::Log(l)) => {
                l.body = Value::Str(Cow::Owned(as_string(value)?)).into_any()
            }
            (LogDropped, Item::Log(l)) => l.dropped_attributes_count = as_int(&value)? as u32,
            (LogFlags, Item::Log(l)) => l.flags = as_int(&value)? as u32,
            (LogTraceId(f), Item::Log(l)) => l.trace_id = as_id(value, f, 16)?,
            (LogSpanId(f), Item::Log(l)) => l.span_id = as_id(value, f, 8)?,
            (LogEventName, Item::Log(l)) => l.event_name = as_string(value)?,
            _ => return Err(EvalError(format!("path {} cannot be set", self.text))),
        }
        Ok(())
    }
}

fn set_temporality(metric: &mut weir_otlp::proto::metrics::v1::Metric, temporality: i64) {
    use weir_otlp::proto::metrics::v1::metric::Data;
    let t = temporality as i32;
    match &mut metric.data {
        Some(Data::Sum(s)) => s.aggregation_temporality = t,
        Some(Data::Histogram(h)) => h.aggregation_temporality = t,
        Some(Data::ExponentialHistogram(h)) => h.aggregation_temporality = t,
        _ => {}
    }
}
