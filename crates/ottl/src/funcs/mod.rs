//! The function reference: editors (lower-case, change the item) and converters (upper-case,
//! return a value), each bound to its compiled arguments at check time. Arguments follow the
//! Collector's parameter names, so both `replace_pattern(x, "a", "b")` and
//! `replace_pattern(x, "a", "b", function = SHA256)` bind.

mod converters;
mod editors;
mod text;

pub(crate) use converters::Converter;
pub(crate) use editors::Editor;
#[cfg(test)]
pub(crate) use editors::{MergeBuckets, merge_buckets};

use regex::Regex;

use crate::{
    Error,
    path::Path,
    program::{Compiler, Expr},
    syntax::{self, CallAst, ExprKind},
};

/// One parameter: its name and whether it may be left out.
pub(crate) struct Param {
    name: &'static str,
    optional: bool,
}

/// A required parameter.
pub(crate) const fn req(name: &'static str) -> Param {
    Param { name, optional: false }
}

/// An optional parameter.
pub(crate) const fn opt(name: &'static str) -> Param {
    Param { name, optional: true }
}

/// A call's arguments matched to its parameters, compiled on demand.
pub(crate) struct Args<'c, 'p> {
    call: &'c CallAst,
    bound: Vec<Option<&'c syntax::Expr>>,
    params: &'p [Param],
    compiler: &'p mut Compiler,
}

impl<'c, 'p> Args<'c, 'p> {
    /// Matches `call`'s arguments (positional first, then by name) to `params`.
    pub(crate) fn bind(
        call: &'c CallAst,
        params: &'p [Param],
        compiler: &'p mut Compiler,
    ) -> Result<Args<'c, 'p>, Error> {
        let name = &call.name;
        let mut bound: Vec<Option<&syntax::Expr>> = vec![None; params.len()];
        let mut named_seen = false;
        for (i, arg) in call.args.iter().enumerate() {
            let slot = match &arg.name {
                None if named_seen => {
                    return Err(Error::at(
                        arg.value.column,
                        format!("{name}: a positional argument cannot follow a named one"),
                    ));
                }
                None if i >= params.len() => {
                    return Err(Error::at(
                        arg.value.column,
                        format!(
                            "{name} takes at most {} arguments, got {}",
                            params.len(),
                            call.args.len()
                        ),
                    ));
                }
                None => i,
                Some(n) => {
                    named_seen = true;
                    let n = &snake_case(n);
                    params.iter().position(|p| p.name == n).ok_or_else(|| {
                        let known: Vec<&str> = params.iter().map(|p| p.name).collect();
                        Error::at(
                            arg.value.column,
                            format!(
                                "{name} has no parameter '{n}' (it takes {})",
                                known.join(", ")
                            ),
                        )
                    })?
                }
            };
            if bound[slot].is_some() {
                return Err(Error::at(
                    arg.value.column,
                    format!("{name}: '{}' is given twice", params[slot].name),
                ));
            }
            bound[slot] = Some(&arg.value);
        }
        for (param, arg) in params.iter().zip(&bound) {
            if arg.is_none() && !param.optional {
                return Err(Error::at(
                    call.column,
                    format!("{name} needs the argument '{}'", param.name),
                ));
            }
        }
        Ok(Args { call, bound, params, compiler })
    }

    pub(crate) fn arg(&self, i: usize) -> Option<&'c syntax::Expr> {
        self.bound[i]
    }

    pub(crate) fn fail(&self, i: usize, what: &str) -> Error {
        let column = self.arg(i).map_or(self.call.column, |a| a.column);
        Error::at(column, format!("{}: '{}' must be {what}", self.call.name, self.params[i].name))
    }

    /// Any value (a getter).
    pub(crate) fn expr(&mut self, i: usize) -> Result<Expr, Error> {
        let arg = self.arg(i).expect("required argument");
        self.compiler.expr(arg)
    }

    /// An optional value.
    pub(crate) fn opt_expr(&mut self, i: usize) -> Result<Option<Expr>, Error> {
        match self.arg(i) {
            Some(arg) => Ok(Some(self.compiler.expr(arg)?)),
            None => Ok(None),
        }
    }

    /// A path to change (a setter).
    pub(crate) fn path(&mut self, i: usize) -> Result<Path, Error> {
        match self.arg(i).map(|a| &a.kind) {
            Some(ExprKind::Path(p)) => self.compiler.path(p),
            _ => Err(self.fail(i, "a path")),
        }
    }

    /// A literal string.
    pub(crate) fn string(&self, i: usize) -> Result<String, Error> {
        match self.arg(i).map(|a| &a.kind) {
            Some(ExprKind::Str(s)) => Ok(s.clone()),
            _ => Err(self.fail(i, "a string literal")),
        }
    }

    /// An optional literal string.
    pub(crate) fn opt_string(&self, i: usize) -> Result<Option<String>, Error> {
        if self.arg(i).is_none() { Ok(None) } else { self.string(i).map(Some) }
    }

    /// A literal int.
    pub(crate) fn int(&self, i: usize) -> Result<i64, Error> {
        match self.arg(i).map(|a| &a.kind) {
            Some(ExprKind::Int(v)) => Ok(*v),
            _ => Err(self.fail(i, "an int literal")),
        }
    }

    /// An optional literal int.
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, Error> {
        if self.arg(i).is_none() { Ok(None) } else { self.int(i).map(Some) }
    }

    /// A literal bool.
    pub(crate) fn bool(&self, i: usize) -> Result<bool, Error> {
        match self.arg(i).map(|a| &a.kind) {
            Some(ExprKind::Bool(v)) => Ok(*v),
            _ => Err(self.fail(i, "true or false")),
        }
    }

    /// A list of literal strings.
    pub(crate) fn strings(&self, i: usize) -> Result<Vec<String>, Error> {
        let Some(ExprKind::List(items)) = self.arg(i).map(|a| &a.kind) else {
            return Err(self.fail(i, "a list of strings"));
        };
        items
            .iter()
            .map(|item| match &item.kind {
                ExprKind::Str(s) => Ok(s.clone()),
                _ => Err(self.fail(i, "a list of strings")),
            })
            .collect()
    }

    /// A regular expression, compiled now (the Collector's Go syntax is close to the `regex`
    /// crate's; an expression it rejects is reported here).
    pub(crate) fn regex(&self, i: usize) -> Result<Regex, Error> {
        let pattern = self.string(i)?;
        let column = self.arg(i).map_or(self.call.column, |a| a.column);
        Regex::new(&pattern).map_err(|e| {
            let first = e.to_string().lines().last().unwrap_or_default().to_owned();
            Error::at(
                column,
                format!("{}: invalid regular expression {pattern:?}: {first}", self.call.name),
            )
        })
    }

    /// A hashing function passed by name (`function = SHA256`).
    pub(crate) fn hash(&self, i: usize) -> Result<Option<text::Hash>, Error> {
        if self.arg(i).is_none() {
            return Ok(None);
        }
        match name_of(self.arg(i)).and_then(text::Hash::parse) {
            Some(hash) => Ok(Some(hash)),
            None => Err(self.fail(i, "a hashing function: SHA256 or SHA512")),
        }
    }
}

/// `replacementFormat` → `replacement_format`: the language names arguments in snake case,
/// while some documented examples use the Go field's camel case; both are accepted.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn name_of(arg: Option<&syntax::Expr>) -> Option<&str> {
    match &arg?.kind {
        ExprKind::Enum(name) => Some(name),
        ExprKind::Path(p) if p.names.len() == 1 && p.keys.is_empty() => Some(&p.names[0]),
        _ => None,
    }
}

/// Binds an editor call.
pub(crate) fn editor(call: &CallAst, compiler: &mut Compiler) -> Result<Editor, Error> {
    editors::bind(call, compiler)
}

/// Binds a converter call.
pub(crate) fn converter(call: &CallAst, compiler: &mut Compiler) -> Result<Converter, Error> {
    converters::bind(call, compiler)
}
