//! Jaeger's thrift encoding (`jaeger.thrift`): a bare `Batch` in the binary protocol (the
//! collector's `POST /api/traces`), or an `Agent.emitBatch` message in the compact or binary
//! protocol (the agent's UDP ports).

use super::model::{Batch, Log, Process, Reference, Span, Tag, Value, trace_id};
use crate::thrift::{Protocol, Reader, Result, Type};

/// The batch of a bare `Batch` struct.
pub(crate) fn batch(bytes: &[u8], protocol: Protocol) -> Result<Batch> {
    let mut reader = Reader::new(bytes, protocol);
    read_batch(&mut reader)
}

/// The batch of one `emitBatch` message (one UDP datagram).
pub(crate) fn emit_batch(bytes: &[u8], protocol: Protocol) -> Result<Batch> {
    let mut reader = Reader::new(bytes, protocol);
    let method = reader.message_begin()?;
    if method != "emitBatch" {
        return Err(format!("method {method:?} is not accepted: only emitBatch"));
    }
    let mut batch = None;
    reader.read_struct(|r, id, kind| match (id, kind) {
        (1, Type::Struct) => {
            batch = Some(read_batch(r)?);
            Ok(())
        }
        (_, kind) => r.skip(kind),
    })?;
    batch.ok_or_else(|| "emitBatch without its batch".into())
}

fn read_batch(reader: &mut Reader<'_>) -> Result<Batch> {
    let mut batch = Batch::default();
    let (mut process, mut spans) = (false, false);
    reader.read_struct(|r, id, kind| match (id, kind) {
        (1, Type::Struct) => {
            process = true;
            batch.process = Some(read_process(r)?);
            Ok(())
        }
        (2, Type::List) => {
            spans = true;
            batch.spans = r.list_of(read_span)?;
            Ok(())
        }
        (_, kind) => r.skip(kind),
    })?;
    if !process {
        return Err("Batch: required field process is not set".into());
    }
    if !spans {
        return Err("Batch: required field spans is not set".into());
    }
    Ok(batch)
}

fn read_process(reader: &mut Reader<'_>) -> Result<Process> {
    let mut process = Process::default();
    reader.read_struct(|r, id, kind| match (id, kind) {
        (1, Type::Binary) => {
            process.service_name = r.string()?;
            Ok(())
        }
        (2, Type::List) => {
            process.tags = r.list_of(read_tag)?;
            Ok(())
        }
        (_, kind) => r.skip(kind),
    })?;
    Ok(process)
}

fn read_tag(reader: &mut Reader<'_>) -> Result<Tag> {
    let (mut key, mut kind_of) = (None, None);
    let (mut text, mut double, mut boolean, mut long, mut binary) = (None, None, None, None, None);
    reader.read_struct(|r, id, kind| {
        match (id, kind) {
            (1, Type::Binary) => key = Some(r.string()?),
            (2, Type::I32) => kind_of = Some(r.i32()?),
            (3, Type::Binary) => text = Some(r.string()?),
            (4, Type::Double) => double = Some(r.double()?),
            (5, Type::Bool) => boolean = Some(r.bool()?),
            (6, Type::I64) => long = Some(r.i64()?),
            (7, Type::Binary) => binary = Some(r.binary()?.to_vec()),
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    let key = key.ok_or("Tag: required field key is not set")?;
    let value = match kind_of.ok_or("Tag: required field vType is not set")? {
        0 => Value::Str(text.unwrap_or_default()),
        1 => Value::Double(double.unwrap_or_default()),
        2 => Value::Bool(boolean.unwrap_or_default()),
        3 => Value::Long(long.unwrap_or_default()),
        4 => Value::Binary(binary.unwrap_or_default()),
        other => return Err(format!("Tag {key:?}: unknown vType {other}")),
    };
    Ok(Tag { key, value })
}

fn read_log(reader: &mut Reader<'_>) -> Result<Log> {
    let mut log = Log::default();
    reader.read_struct(|r, id, kind| {
        match (id, kind) {
            (1, Type::I64) => log.timestamp_nanos = micros(r.i64()?),
            (2, Type::List) => log.fields = r.list_of(read_tag)?,
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    Ok(log)
}

fn read_reference(reader: &mut Reader<'_>) -> Result<Reference> {
    let (mut kind_of, mut low, mut high, mut span) = (0, 0, 0, 0);
    reader.read_struct(|r, id, kind| {
        match (id, kind) {
            (1, Type::I32) => kind_of = r.i32()?,
            (2, Type::I64) => low = r.i64()?,
            (3, Type::I64) => high = r.i64()?,
            (4, Type::I64) => span = r.i64()?,
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    Ok(Reference {
        follows_from: kind_of == 1,
        trace_id: trace_id(high, low),
        span_id: span.to_be_bytes(),
    })
}

fn read_span(reader: &mut Reader<'_>) -> Result<Span> {
    let mut span = Span::default();
    let (mut low, mut high, mut start, mut duration) = (0i64, 0i64, 0i64, 0i64);
    reader.read_struct(|r, id, kind| {
        match (id, kind) {
            (1, Type::I64) => low = r.i64()?,
            (2, Type::I64) => high = r.i64()?,
            (3, Type::I64) => span.span_id = r.i64()?.to_be_bytes(),
            (4, Type::I64) => span.parent_span_id = r.i64()?.to_be_bytes(),
            (5, Type::Binary) => span.operation_name = r.string()?,
            (6, Type::List) => span.references = r.list_of(read_reference)?,
            (7, Type::I32) => span.flags = r.i32()? as u32,
            (8, Type::I64) => start = r.i64()?,
            (9, Type::I64) => duration = r.i64()?,
            (10, Type::List) => span.tags = r.list_of(read_tag)?,
            (11, Type::List) => span.logs = r.list_of(read_log)?,
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    span.trace_id = trace_id(high, low);
    span.start_nanos = micros(start);
    span.duration_nanos = micros(duration);
    Ok(span)
}

/// Microseconds (as thrift's signed i64) to nanoseconds.
fn micros(value: i64) -> u64 {
    (value as u64).saturating_mul(1000)
}
