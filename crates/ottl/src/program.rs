//! Compiled statements and conditions: the checker turns the syntax tree into these once (paths
//! resolved, functions bound to their arguments, regular expressions compiled), so that running
//! one on an item parses nothing.

use weir_otlp::Signal;

use crate::{
    Context, Error, EvalError,
    funcs::{Converter, Editor},
    path::{self, Key, Path},
    record::Record,
    syntax::{self, BoolAst, CmpOp, ExprKind, MathOp},
    value::{self, Value},
};

/// A value expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Lit(Value<'static>),
    Path(Box<Path>),
    Call(Box<Converter>, Vec<Key>),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    Math(Box<Expr>, MathOp, Box<Expr>),
}

impl Expr {
    /// Evaluates the expression on `record`.
    pub(crate) fn eval<'a>(&'a self, record: &'a Record<'_>) -> Result<Value<'a>, EvalError> {
        match self {
            Expr::Lit(v) => Ok(v.reborrow()),
            Expr::Path(p) => p.get(record),
            Expr::Call(c, keys) => {
                let value = c.call(record)?;
                if keys.is_empty() {
                    Ok(value)
                } else {
                    path::index_value(value, keys, record, c.name())
                }
            }
            Expr::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(item.eval(record)?.into_any().unwrap_or_default());
                }
                Ok(Value::List(values.into()))
            }
            Expr::Map(entries) => {
                let mut values = Vec::with_capacity(entries.len());
                for (key, item) in entries {
                    values.push(weir_otlp::proto::common::v1::KeyValue {
                        key: key.clone(),
                        value: item.eval(record)?.into_any(),
                        ..Default::default()
                    });
                }
                Ok(Value::Map(values.into()))
            }
            Expr::Math(l, op, r) => value::math(l.eval(record)?, *op, r.eval(record)?),
        }
    }
}

/// A condition.
#[derive(Debug, Clone)]
pub(crate) enum BoolExpr {
    Lit(bool),
    Cmp(Expr, CmpOp, Expr),
    Value(Expr),
    Not(Box<BoolExpr>),
    And(Vec<BoolExpr>),
    Or(Vec<BoolExpr>),
}

impl BoolExpr {
    pub(crate) fn test(&self, record: &Record<'_>) -> Result<bool, EvalError> {
        Ok(match self {
            BoolExpr::Lit(b) => *b,
            BoolExpr::Cmp(l, op, r) => value::compare(&l.eval(record)?, *op, &r.eval(record)?),
            BoolExpr::Value(e) => match e.eval(record)? {
                Value::Bool(b) => b,
                other => {
                    return Err(EvalError(format!(
                        "a condition must be a boolean, got {}",
                        other.type_name()
                    )));
                }
            },
            BoolExpr::Not(inner) => !inner.test(record)?,
            BoolExpr::And(terms) => {
                for term in terms {
                    if !term.test(record)? {
                        return Ok(false);
                    }
                }
                true
            }
            BoolExpr::Or(terms) => {
                for term in terms {
                    if term.test(record)? {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }
}

/// A compiled statement: an editor and the condition under which it runs.
#[derive(Debug, Clone)]
pub struct Statement {
    editor: Editor,
    condition: Option<BoolExpr>,
    context: Context,
    text: String,
}

impl Statement {
    /// The context it runs in (given, or inferred from its paths).
    pub fn context(&self) -> Context {
        self.context
    }

    /// As written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The one context its editor works in (`convert_sum_to_gauge`: metric), if it has one.
    pub fn editor_context(&self) -> Option<Context> {
        self.editor.context()
    }

    /// Runs the editor on `record` when the `where` condition holds.
    pub fn execute(&self, record: &mut Record<'_>) -> Result<(), EvalError> {
        if let Some(condition) = &self.condition
            && !condition.test(record)?
        {
            return Ok(());
        }
        self.editor.apply(record)
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    expr: BoolExpr,
    context: Context,
    text: String,
}

impl Condition {
    /// The context it is tested in (given, or inferred from its paths).
    pub fn context(&self) -> Context {
        self.context
    }

    /// As written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it holds for `record`.
    pub fn test(&self, record: &Record<'_>) -> Result<bool, EvalError> {
        self.expr.test(record)
    }
}

/// Compiles `text` as a statement of a `signal` pipeline, in `context` or, when `None`, in the
/// context its paths name (each must then start with one: `span.attributes[...]`).
pub fn statement(text: &str, context: Option<Context>, signal: Signal) -> Result<Statement, Error> {
    let ast = syntax::statement(text)?;
    let mut compiler = Compiler::new(context, signal);
    let editor = crate::funcs::editor(&ast.editor, &mut compiler)?;
    let condition = ast.condition.as_ref().map(|c| compiler.condition(c)).transpose()?;
    let hint = editor.context();
    let context = compiler.settle(hint, ast.editor.column)?;
    Ok(Statement { editor, condition, context, text: text.to_owned() })
}

/// Compiles `text` as a condition of a `signal` pipeline, in `context` or, when `None`, in the
/// context its paths name.
pub fn condition(text: &str, context: Option<Context>, signal: Signal) -> Result<Condition, Error> {
    let ast = syntax::condition(text)?;
    let mut compiler = Compiler::new(context, signal);
    let expr = compiler.condition(&ast)?;
    let context = compiler.settle(None, 1)?;
    Ok(Condition { expr, context, text: text.to_owned() })
}

/// A compiled value expression (`attributes["env"]`), read on items.
#[derive(Debug, Clone)]
pub struct Getter {
    expr: Expr,
    context: Context,
}

impl Getter {
    /// The context it reads in.
    pub fn context(&self) -> Context {
        self.context
    }

    /// Its value on `record`.
    pub fn get<'a>(&'a self, record: &'a Record<'_>) -> Result<Value<'a>, EvalError> {
        self.expr.eval(record)
    }
}

/// Compiles `text` as a value expression of a `signal` pipeline, in `context` or, when
/// `None`, in the context its paths name.
pub fn getter(text: &str, context: Option<Context>, signal: Signal) -> Result<Getter, Error> {
    let ast = syntax::value(text)?;
    let mut compiler = Compiler::new(context, signal);
    let expr = compiler.expr(&ast)?;
    let context = compiler.settle(None, 1)?;
    Ok(Getter { expr, context })
}

/// The checker's state while compiling one statement or condition.
pub(crate) struct Compiler {
    context: Option<Context>,
    signal: Signal,
    /// The contexts of the paths seen, for inference and checking.
    seen: Vec<(Context, usize)>,
}

impl Compiler {
    fn new(context: Option<Context>, signal: Signal) -> Compiler {
        Compiler { context, signal, seen: Vec::new() }
    }

    /// The statement's context: the given one, or the deepest named by its paths (all on one
    /// line of descent), else the editor's own (`hint`), else the signal's item context.
    fn settle(&self, hint: Option<Context>, column: usize) -> Result<Context, Error> {
        let context = match self.context {
            Some(c) => c,
            None => {
                let mut deepest: Option<Context> = None;
                for &(seen, _) in &self.seen {
                    if deepest.is_none_or(|d| seen.depth() > d.depth()) {
                        deepest = Some(seen);
                    }
                }
                deepest.or(hint).ok_or_else(|| {
                    Error::at(column, "no path names a context, so the context must be given")
                })?
            }
        };
        for &(seen, column) in &self.seen {
            if !context.reaches(seen) {
                return Err(Error::at(
                    column,
                    format!("a path of the {seen} context cannot be used with {context} paths"),
                ));
            }
        }
        if !context.of_signal(self.signal) {
            return Err(Error::at(
                column,
                format!("the {context} context does not exist in a {} pipeline", self.signal),
            ));
        }
        if let Some(hint) = hint
            && hint != context
        {
            return Err(Error::at(
                column,
                format!("this function runs in the {hint} context only"),
            ));
        }
        Ok(context)
    }

    pub(crate) fn condition(&mut self, ast: &BoolAst) -> Result<BoolExpr, Error> {
        Ok(match ast {
            BoolAst::Lit(b) => BoolExpr::Lit(*b),
            BoolAst::Cmp(l, op, r) => BoolExpr::Cmp(self.expr(l)?, *op, self.expr(r)?),
            BoolAst::Value(e) => BoolExpr::Value(self.expr(e)?),
            BoolAst::Not(inner) => BoolExpr::Not(Box::new(self.condition(inner)?)),
            BoolAst::And(terms) => {
                BoolExpr::And(terms.iter().map(|t| self.condition(t)).collect::<Result<_, _>>()?)
            }
            BoolAst::Or(terms) => {
                BoolExpr::Or(terms.iter().map(|t| self.condition(t)).collect::<Result<_, _>>()?)
            }
        })
    }

    pub(crate) fn expr(&mut self, ast: &syntax::Expr) -> Result<Expr, Error> {
        Ok(match &ast.kind {
            ExprKind::Nil => Expr::Lit(Value::Nil),
            ExprKind::Bool(b) => Expr::Lit(Value::Bool(*b)),
            ExprKind::Int(i) => Expr::Lit(Value::Int(*i)),
            ExprKind::Float(f) => Expr::Lit(Value::Double(*f)),
            ExprKind::Str(s) => Expr::Lit(Value::Str(s.clone().into())),
            ExprKind::Bytes(b) => Expr::Lit(Value::Bytes(b.clone().into())),
            ExprKind::Enum(name) => match crate::enums::value(name) {
                Some(v) => Expr::Lit(Value::Int(v)),
                None => return Err(Error::at(ast.column, format!("unknown enum {name}"))),
            },
            ExprKind::Path(p) => Expr::Path(Box::new(self.path(p)?)),
            ExprKind::Call(call) => {
                let converter = crate::funcs::converter(call, self)?;
                let keys = self.keys(&call.keys)?;
                Expr::Call(Box::new(converter), keys)
            }
            ExprKind::List(items) => {
                Expr::List(items.iter().map(|i| self.expr(i)).collect::<Result<_, _>>()?)
            }
            ExprKind::Map(entries) => Expr::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.expr(v)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            ExprKind::Math(l, op, r) => {
                Expr::Math(Box::new(self.expr(l)?), *op, Box::new(self.expr(r)?))
            }
        })
    }

    pub(crate) fn path(&mut self, ast: &syntax::PathAst) -> Result<Path, Error> {
        let context = self.context;
        let path = path::resolve(ast, context, &mut |e| self.expr(e))?;
        self.seen.push((path.owner, ast.column));
        Ok(path)
    }

    fn keys(&mut self, keys: &[syntax::KeyAst]) -> Result<Vec<Key>, Error> {
        keys.iter()
            .map(|k| {
                Ok(match k {
                    syntax::KeyAst::Str(s) => Key::Str(s.clone()),
                    syntax::KeyAst::Int(i) => Key::Int(*i),
                    syntax::KeyAst::Expr(e) => Key::Expr(self.expr(e)?),
                })
            })
            .collect()
    }
}
