//! Editors: the functions a statement starts with, which change the item.

use std::borrow::Cow;

use regex::Regex;
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{Gauge, Sum, metric},
};

use super::{Args, opt, req, text};
use crate::{
    Context, Error, EvalError,
    path::Path,
    program::{Compiler, Expr},
    record::{Item, Record},
    syntax::CallAst,
    value::Value,
};

/// How a `replace_*` editor rewrites what matched: the replacement (with `$1` captures),
/// optionally hashed and then formatted into `replacementFormat`'s `%s`.
#[derive(Debug, Clone)]
pub(crate) struct Replacement {
    with: Expr,
    hash: Option<text::Hash>,
    format: Option<String>,
}

impl Replacement {
    fn bind(args: &mut Args<'_, '_>, with: usize) -> Result<Replacement, Error> {
        Ok(Replacement {
            with: args.expr(with)?,
            hash: args.hash(with + 1)?,
            format: args.opt_string(with + 2)?,
        })
    }

    fn finish(&self, replaced: String) -> String {
        let hashed = match self.hash {
            Some(hash) => hash.apply(&replaced),
            None => replaced,
        };
        match &self.format {
            Some(format) => format.replacen("%s", &hashed, 1),
            None => hashed,
        }
    }

    /// Every match of `regex` in `text` replaced; `None` when nothing matched.
    fn pattern(&self, regex: &Regex, text: &str, with: &str) -> Option<String> {
        if !regex.is_match(text) {
            return None;
        }
        if self.hash.is_none() && self.format.is_none() {
            return Some(regex.replace_all(text, with).into_owned());
        }
        Some(
            regex
                .replace_all(text, |caps: &regex::Captures<'_>| {
                    let mut expanded = String::new();
                    caps.expand(with, &mut expanded);
                    self.finish(expanded)
                })
                .into_owned(),
        )
    }
}

/// A bound editor.
#[derive(Debug, Clone)]
pub(crate) enum Editor {
    Set(Path, Expr),
    /// `set` of a literal: its attribute value built once.
    SetLiteral(Path, AnyValue),
    DeleteKey(Path, Expr),
    DeleteMatchingKeys(Path, Regex),
    KeepKeys(Path, Vec<String>),
    KeepMatchingKeys(Path, Regex),
    ReplacePattern(Path, Regex, Replacement),
    ReplaceAllPatterns(Path, bool, Regex, Replacement),
    ReplaceMatch(Path, Regex, Replacement),
    ReplaceAllMatches(Path, Regex, Replacement),
    TruncateAll(Path, usize),
    Limit(Path, usize, Vec<String>),
    MergeMaps(Path, Expr, Strategy),
    Flatten(Path, Option<String>, Option<i64>),
    Append(Path, Option<Expr>, Option<Expr>),
    ConvertGaugeToSum(i32, bool),
    ConvertSumToGauge,
    /// `merge_histogram_buckets`: a bound to remove, or (`limit_buckets`) a bucket count.
    MergeHistogramBuckets(MergeBuckets),
}

/// How `merge_histogram_buckets` merges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MergeBuckets {
    /// `remove_explicit_bound`: the bucket ending at the bound joins the next.
    RemoveBound(f64),
    /// `limit_buckets`: adjacent buckets grouped, low to high, to at most this many.
    Limit(usize),
}

/// `merge_maps`' strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Insert,
    Update,
    Upsert,
}

/// Binds an editor call.
pub(crate) fn bind(call: &CallAst, compiler: &mut Compiler) -> Result<Editor, Error> {
    let name = call.name.as_str();
    let params: &[super::Param] = match name {
        "set" => &[req("target"), req("value")],
        "delete_key" => &[req("target"), req("key")],
        "delete_matching_keys" | "keep_matching_keys" => &[req("target"), req("pattern")],
        "keep_keys" => &[req("target"), req("keys")],
        "replace_pattern" => &[
            req("target"),
            req("regex"),
            req("replacement"),
            opt("function"),
            opt("replacement_format"),
        ],
        "replace_all_patterns" => &[
            req("target"),
            req("mode"),
            req("regex"),
            req("replacement"),
            opt("function"),
            opt("replacement_format"),
        ],
        "replace_match" | "replace_all_matches" => &[
            req("target"),
            req("pattern"),
            req("replacement"),
            opt("function"),
            opt("replacement_format"),
        ],
        "truncate_all" => &[req("target"), req("limit")],
        "limit" => &[req("target"), req("limit"), req("priority_keys")],
        "merge_maps" => &[req("target"), req("source"), req("strategy")],
        "flatten" => &[req("target"), opt("prefix"), opt("depth")],
        "append" => &[req("target"), opt("value"), opt("values")],
        "convert_gauge_to_sum" => &[req("aggregation_temporality"), req("is_monotonic")],
        "convert_sum_to_gauge" => &[],
        "merge_histogram_buckets" => &[req("target_value"), opt("method")],
        _ => {
            return Err(Error::at(
                call.column,
                format!("unknown editor {name} (or one weir does not implement yet)"),
            ));
        }
    };
    let mut args = Args::bind(call, params, compiler)?;
    let glob = |args: &Args<'_, '_>, i: usize| {
        let pattern = args.string(i)?;
        text::glob(&pattern).map_err(|_| args.fail(i, "a valid glob"))
    };
    Ok(match name {
        "set" => match (args.path(0)?, args.expr(1)?) {
            (path, Expr::Lit(value)) if value != crate::Value::Nil => {
                Editor::SetLiteral(path, value.into_any().unwrap_or_default())
            }
            (path, value) => Editor::Set(path, value),
        },
        "delete_key" => Editor::DeleteKey(args.path(0)?, args.expr(1)?),
        "delete_matching_keys" => Editor::DeleteMatchingKeys(args.path(0)?, args.regex(1)?),
        "keep_matching_keys" => Editor::KeepMatchingKeys(args.path(0)?, args.regex(1)?),
        "keep_keys" => Editor::KeepKeys(args.path(0)?, args.strings(1)?),
        "replace_pattern" => {
            Editor::ReplacePattern(args.path(0)?, args.regex(1)?, Replacement::bind(&mut args, 2)?)
        }
        "replace_all_patterns" => {
            let by_key = match args.string(1)?.as_str() {
                "key" => true,
                "value" => false,
                _ => return Err(args.fail(1, "\"key\" or \"value\"")),
            };
            let regex = args.regex(2)?;
            Editor::ReplaceAllPatterns(
                args.path(0)?,
                by_key,
                regex,
                Replacement::bind(&mut args, 3)?,
            )
        }
        "replace_match" => {
            let pattern = glob(&args, 1)?;
            Editor::ReplaceMatch(args.path(0)?, pattern, Replacement::bind(&mut args, 2)?)
        }
        "replace_all_matches" => {
            let pattern = glob(&args, 1)?;
            Editor::ReplaceAllMatches(args.path(0)?, pattern, Replacement::bind(&mut args, 2)?)
        }
        "truncate_all" => {
            let limit = args.int(1)?;
            if limit < 0 {
                return Err(args.fail(1, "zero or more"));
            }
            Editor::TruncateAll(args.path(0)?, limit as usize)
        }
        "limit" => {
            let limit = args.int(1)?;
            if limit <= 0 {
                return Err(args.fail(1, "more than zero"));
            }
            let keys = args.strings(2)?;
            if keys.len() > limit as usize {
                return Err(args.fail(2, "no more keys than the limit"));
            }
            Editor::Limit(args.path(0)?, limit as usize, keys)
        }
        "merge_maps" => {
            let strategy = match args.string(2)?.as_str() {
                "insert" => Strategy::Insert,
                "update" => Strategy::Update,
                "upsert" => Strategy::Upsert,
                _ => return Err(args.fail(2, "\"insert\", \"update\" or \"upsert\"")),
            };
            Editor::MergeMaps(args.path(0)?, args.expr(1)?, strategy)
        }
        "flatten" => {
            let depth = args.opt_int(2)?;
            if depth.is_some_and(|d| d < 0) {
                return Err(args.fail(2, "zero or more"));
            }
            Editor::Flatten(args.path(0)?, args.opt_string(1)?, depth)
        }
        "append" => Editor::Append(args.path(0)?, args.opt_expr(1)?, args.opt_expr(2)?),
        "convert_gauge_to_sum" => {
            let temporality = match args.string(0)?.as_str() {
                "cumulative" => 2,
                "delta" => 1,
                _ => return Err(args.fail(0, "\"cumulative\" or \"delta\"")),
            };
            Editor::ConvertGaugeToSum(temporality, args.bool(1)?)
        }
        "merge_histogram_buckets" => {
            let target = match args.arg(0).map(|a| &a.kind) {
                Some(crate::syntax::ExprKind::Int(i)) => *i as f64,
                Some(crate::syntax::ExprKind::Float(f)) => *f,
                _ => return Err(args.fail(0, "a number literal")),
            };
            let method = args.opt_string(1)?;
            Editor::MergeHistogramBuckets(match method.as_deref() {
                None | Some("remove_explicit_bound") => MergeBuckets::RemoveBound(target),
                Some("limit_buckets") if target >= 1.0 && target.fract() == 0.0 => {
                    MergeBuckets::Limit(target as usize)
                }
                Some("limit_buckets") => return Err(args.fail(0, "a whole number of buckets")),
                Some(_) => {
                    return Err(args.fail(1, "\"remove_explicit_bound\" or \"limit_buckets\""));
                }
            })
        }
        _ => Editor::ConvertSumToGauge,
    })
}

/// A value as a string, borrowing when it is one; other scalars are left alone by the
/// string editors.
fn string_of(any: &AnyValue) -> Option<&str> {
    match &any.value {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn string_value(s: String) -> Option<AnyValue> {
    Some(AnyValue { value: Some(any_value::Value::StringValue(s)) })
}

impl Editor {
    /// The context the editor is limited to, if any.
    pub(crate) fn context(&self) -> Option<Context> {
        match self {
            Editor::ConvertGaugeToSum(..)
            | Editor::ConvertSumToGauge
            | Editor::MergeHistogramBuckets(_) => Some(Context::Metric),
            _ => None,
        }
    }

    pub(crate) fn apply(&self, record: &mut Record<'_>) -> Result<(), EvalError> {
        match self {
            Editor::SetLiteral(target, value) => target.set_any(record, value),
            Editor::Set(target, value) => {
                let value = value.eval(record)?.into_owned();
                target.set(record, value)
            }
            Editor::DeleteKey(target, key) => {
                let key = key.eval(record)?.into_owned();
                let key = key.as_str("delete_key")?;
                if let Some(map) = target.map_mut(record)? {
                    map.retain(|kv| kv.key != key);
                }
                Ok(())
            }
            Editor::DeleteMatchingKeys(target, regex) => {
                if let Some(map) = target.map_mut(record)? {
                    map.retain(|kv| !regex.is_match(&kv.key));
                }
                Ok(())
            }
            Editor::KeepKeys(target, keys) => {
                if let Some(map) = target.map_mut(record)? {
                    map.retain(|kv| keys.contains(&kv.key));
                }
                Ok(())
            }
            Editor::KeepMatchingKeys(target, regex) => {
                if let Some(map) = target.map_mut(record)? {
                    map.retain(|kv| regex.is_match(&kv.key));
                }
                Ok(())
            }
            Editor::ReplacePattern(target, regex, replacement) => {
                let Value::Str(current) = target.get(record)? else { return Ok(()) };
                let with = replacement.with.eval(record)?;
                let with = with.as_str("replace_pattern")?;
                match replacement.pattern(regex, &current, with) {
                    Some(replaced) => target.set(record, Value::Str(Cow::Owned(replaced))),
                    None => Ok(()),
                }
            }
            Editor::ReplaceAllPatterns(target, by_key, regex, replacement) => {
                let with = replacement.with.eval(record)?.into_owned();
                let with = with.as_str("replace_all_patterns")?;
                let Some(map) = target.map_mut(record)? else { return Ok(()) };
                for kv in map.iter_mut() {
                    if *by_key {
                        if let Some(replaced) = replacement.pattern(regex, &kv.key, with) {
                            kv.key = replaced;
                        }
                    } else if let Some(current) = kv.value.as_ref().and_then(string_of)
                        && let Some(replaced) = replacement.pattern(regex, current, with)
                    {
                        kv.value = string_value(replaced);
                    }
                }
                Ok(())
            }
            Editor::ReplaceMatch(target, glob, replacement) => {
                let Value::Str(current) = target.get(record)? else { return Ok(()) };
                if !glob.is_match(&current) {
                    return Ok(());
                }
                let with = replacement.with.eval(record)?.into_owned();
                let replaced = replacement.finish(with.as_str("replace_match")?.to_owned());
                target.set(record, Value::Str(Cow::Owned(replaced)))
            }
            Editor::ReplaceAllMatches(target, glob, replacement) => {
                let with = replacement.with.eval(record)?.into_owned();
                let replaced = replacement.finish(with.as_str("replace_all_matches")?.to_owned());
                let Some(map) = target.map_mut(record)? else { return Ok(()) };
                for kv in map.iter_mut() {
                    if kv.value.as_ref().and_then(string_of).is_some_and(|s| glob.is_match(s)) {
                        kv.value = string_value(replaced.clone());
                    }
                }
                Ok(())
            }
            Editor::TruncateAll(target, limit) => {
                let Some(map) = target.map_mut(record)? else { return Ok(()) };
                for kv in map.iter_mut() {
                    if let Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) =
                        &mut kv.value
                        && s.len() > *limit
                    {
                        let mut cut = *limit;
                        while !s.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        s.truncate(cut);
                    }
                }
                Ok(())
            }
            Editor::Limit(target, limit, priority) => {
                let Some(map) = target.map_mut(record)? else { return Ok(()) };
                if map.len() <= *limit {
                    return Ok(());
                }
                let mut room = limit - map.iter().filter(|kv| priority.contains(&kv.key)).count();
                map.retain(|kv| {
                    if priority.contains(&kv.key) {
                        return true;
                    }
                    let keep = room > 0;
                    room = room.saturating_sub(1);
                    keep
                });
                Ok(())
            }
            Editor::MergeMaps(target, source, strategy) => {
                let Value::Map(source) = source.eval(record)?.into_owned() else { return Ok(()) };
                let Some(map) = target.map_mut(record)? else { return Ok(()) };
                merge(map, source.into_owned(), *strategy);
                Ok(())
            }
            Editor::Flatten(target, prefix, depth) => {
                let Some(map) = target.map_mut(record)? else { return Ok(()) };
                let flat = text::flatten(std::mem::take(map), prefix.as_deref(), *depth);
                *map = flat;
                Ok(())
            }
            Editor::Append(target, value, values) => {
                let mut list = match target.get(record)? {
                    Value::Nil => Vec::new(),
                    Value::List(l) => l.into_owned(),
                    other => vec![other.into_owned().into_any().unwrap_or_default()],
                };
                if let Some(value) = value {
                    list.extend(value.eval(record)?.into_owned().into_any());
                }
                if let Some(values) = values {
                    match values.eval(record)?.into_owned() {
                        Value::List(l) => list.extend(l.into_owned()),
                        Value::Nil => {}
                        other => list.extend(other.into_any()),
                    }
                }
                target.set(record, Value::List(Cow::Owned(list)))
            }
            Editor::ConvertGaugeToSum(temporality, monotonic) => {
                if let Item::Metric(m) = &mut record.item
                    && let Some(metric::Data::Gauge(g)) = &mut m.data
                {
                    let data_points = std::mem::take(&mut g.data_points);
                    m.data = Some(metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: *temporality,
                        is_monotonic: *monotonic,
                    }));
                }
                Ok(())
            }
            Editor::MergeHistogramBuckets(how) => {
                if let Item::Metric(m) = &mut record.item
                    && let Some(metric::Data::Histogram(h)) = &mut m.data
                {
                    for point in &mut h.data_points {
                        merge_buckets(&mut point.explicit_bounds, &mut point.bucket_counts, *how);
                    }
                }
                Ok(())
            }
            Editor::ConvertSumToGauge => {
                if let Item::Metric(m) = &mut record.item
                    && let Some(metric::Data::Sum(s)) = &mut m.data
                {
                    let data_points = std::mem::take(&mut s.data_points);
                    m.data = Some(metric::Data::Gauge(Gauge { data_points }));
                }
                Ok(())
            }
        }
    }
}

/// `merge_maps`: `source` into `map` by `strategy`.
fn merge(map: &mut Vec<KeyValue>, source: Vec<KeyValue>, strategy: Strategy) {
    for kv in source {
        match (map.iter().position(|e| e.key == kv.key), strategy) {
            (Some(i), Strategy::Update | Strategy::Upsert) => map[i].value = kv.value,
            (None, Strategy::Insert | Strategy::Upsert) => map.push(kv),
            _ => {}
        }
    }
}

/// Merges histogram buckets in place; counts and the total stay the same. A layout that does
/// not fit (counts not one more than bounds) or a bound not found leaves the point as it is.
pub(crate) fn merge_buckets(bounds: &mut Vec<f64>, counts: &mut Vec<u64>, how: MergeBuckets) {
    if counts.len() != bounds.len() + 1 {
        return;
    }
    match how {
        MergeBuckets::RemoveBound(bound) => {
            let Some(k) = bounds.iter().position(|b| (b - bound).abs() < 1e-12) else { return };
            bounds.remove(k);
            let merged = counts.remove(k);
            counts[k] += merged;
        }
        MergeBuckets::Limit(target) => {
            let n = counts.len();
            if n <= target {
                return;
            }
            let group = n.div_ceil(target);
            let group = (group..=n).find(|g| n.div_ceil(*g) <= target).unwrap_or(n);
            let mut merged_counts = Vec::with_capacity(target);
            let mut merged_bounds = Vec::with_capacity(target);
            for start in (0..n).step_by(group) {
                let end = (start + group).min(n);
                merged_counts.push(counts[start..end].iter().sum());
                if end - 1 < bounds.len() {
                    merged_bounds.push(bounds[end - 1]);
                }
            }
            *counts = merged_counts;
            *bounds = merged_bounds;
        }
    }
}
