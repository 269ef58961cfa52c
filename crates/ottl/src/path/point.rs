//! Data point fields, read and written for every point type.

use std::borrow::Cow;

use crate::{EvalError, record::Point, value::Value};

use super::{Field, Path, TimeForm, not_here, wrong};

pub(super) fn point_get<'a>(
    path: &Path,
    field: Field,
    point: &'a Point<'_>,
) -> Result<Value<'a>, EvalError> {
    use Field::*;
    use weir_otlp::proto::metrics::v1::number_data_point::Value as N;
    let time = |nanos: u64, form: TimeForm| match form {
        TimeForm::Nanos => Value::Int(nanos as i64),
        TimeForm::Time => Value::Time(nanos as i64),
    };
    let ints = |v: &[u64]| {
        let values = v.iter().map(|&i| Value::Int(i as i64).into_any().expect("int")).collect();
        Value::List(Cow::Owned(values))
    };
    let floats = |v: &[f64]| {
        let values = v.iter().map(|&d| Value::Double(d).into_any().expect("float")).collect();
        Value::List(Cow::Owned(values))
    };
    Ok(match (field, point) {
        (PointAttributes, Point::Number(p)) => Value::Map(Cow::Borrowed(&p.attributes)),
        (PointAttributes, Point::Histogram(p)) => Value::Map(Cow::Borrowed(&p.attributes)),
        (PointAttributes, Point::Exponential(p)) => Value::Map(Cow::Borrowed(&p.attributes)),
        (PointAttributes, Point::Summary(p)) => Value::Map(Cow::Borrowed(&p.attributes)),
        (PointStart(f), Point::Number(p)) => time(p.start_time_unix_nano, f),
        (PointStart(f), Point::Histogram(p)) => time(p.start_time_unix_nano, f),
        (PointStart(f), Point::Exponential(p)) => time(p.start_time_unix_nano, f),
        (PointStart(f), Point::Summary(p)) => time(p.start_time_unix_nano, f),
        (PointTime(f), Point::Number(p)) => time(p.time_unix_nano, f),
        (PointTime(f), Point::Histogram(p)) => time(p.time_unix_nano, f),
        (PointTime(f), Point::Exponential(p)) => time(p.time_unix_nano, f),
        (PointTime(f), Point::Summary(p)) => time(p.time_unix_nano, f),
        (PointValueInt, Point::Number(p)) => match p.value {
            Some(N::AsInt(i)) => Value::Int(i),
            _ => Value::Int(0),
        },
        (PointValueDouble, Point::Number(p)) => match p.value {
            Some(N::AsDouble(d)) => Value::Double(d),
            _ => Value::Double(0.0),
        },
        (PointFlags, Point::Number(p)) => Value::Int(p.flags as i64),
        (PointFlags, Point::Histogram(p)) => Value::Int(p.flags as i64),
        (PointFlags, Point::Exponential(p)) => Value::Int(p.flags as i64),
        (PointFlags, Point::Summary(p)) => Value::Int(p.flags as i64),
        (PointCount, Point::Histogram(p)) => Value::Int(p.count as i64),
        (PointCount, Point::Exponential(p)) => Value::Int(p.count as i64),
        (PointCount, Point::Summary(p)) => Value::Int(p.count as i64),
        (PointSum, Point::Histogram(p)) => Value::Double(p.sum.unwrap_or(0.0)),
        (PointSum, Point::Exponential(p)) => Value::Double(p.sum.unwrap_or(0.0)),
        (PointSum, Point::Summary(p)) => Value::Double(p.sum),
        (PointBucketCounts, Point::Histogram(p)) => ints(&p.bucket_counts),
        (PointExplicitBounds, Point::Histogram(p)) => floats(&p.explicit_bounds),
        (PointScale, Point::Exponential(p)) => Value::Int(p.scale as i64),
        (PointZeroCount, Point::Exponential(p)) => Value::Int(p.zero_count as i64),
        _ => return Err(not_here(path)),
    })
}

pub(super) fn point_set(
    path: &Path,
    field: Field,
    point: &mut Point<'_>,
    value: Value<'_>,
) -> Result<(), EvalError> {
    use Field::*;
    use weir_otlp::proto::metrics::v1::number_data_point::Value as N;
    let nanos = |v: &Value<'_>, form: TimeForm| match (v, form) {
        (Value::Int(i), TimeForm::Nanos) | (Value::Time(i), TimeForm::Time) => Ok(*i as u64),
        (other, _) => Err(wrong(path, other, "a time")),
    };
    match (field, point, &value) {
        (PointStart(f), Point::Number(p), v) => p.start_time_unix_nano = nanos(v, f)?,
        (PointStart(f), Point::Histogram(p), v) => p.start_time_unix_nano = nanos(v, f)?,
        (PointStart(f), Point::Exponential(p), v) => p.start_time_unix_nano = nanos(v, f)?,
        (PointStart(f), Point::Summary(p), v) => p.start_time_unix_nano = nanos(v, f)?,
        (PointTime(f), Point::Number(p), v) => p.time_unix_nano = nanos(v, f)?,
        (PointTime(f), Point::Histogram(p), v) => p.time_unix_nano = nanos(v, f)?,
        (PointTime(f), Point::Exponential(p), v) => p.time_unix_nano = nanos(v, f)?,
        (PointTime(f), Point::Summary(p), v) => p.time_unix_nano = nanos(v, f)?,
        (PointValueInt, Point::Number(p), Value::Int(i)) => p.value = Some(N::AsInt(*i)),
        (PointValueDouble, Point::Number(p), Value::Double(d)) => p.value = Some(N::AsDouble(*d)),
        (PointFlags, Point::Number(p), Value::Int(i)) => p.flags = *i as u32,
        (PointCount, Point::Histogram(p), Value::Int(i)) => p.count = *i as u64,
        (PointSum, Point::Histogram(p), Value::Double(d)) => p.sum = Some(*d),
        (PointCount, Point::Summary(p), Value::Int(i)) => p.count = *i as u64,
        (PointSum, Point::Summary(p), Value::Double(d)) => p.sum = *d,
        _ => {
            return Err(EvalError(format!(
                "path {} cannot be set to {} on this point",
                path.text,
                value.type_name()
            )));
        }
    }
    Ok(())
}
