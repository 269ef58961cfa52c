//! The grammar: text to a syntax tree, every node with the column it starts at (1-based, in
//! characters), so that the checker can point at what it rejects.
//!
//! ```text
//! statement  := editor [ "where" condition ]
//! condition  := and { "or" and }        and := not { "and" not }
//! not        := "not" not | "(" condition ")" | value [ cmp value ]
//! value      := term { ("+" | "-") term }      term := unary { ("*" | "/") unary }
//! unary      := "-" unary | atom
//! atom       := literal | path | Converter(args)[keys] | ENUM | "[" list "]" | "{" map "}"
//!             | "(" value ")"
//! path       := name { "." name } { "[" key "]" }
//! ```

use crate::Error;

/// A value expression as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An upper-case name not called: an enum (`SPAN_KIND_SERVER`) or a function passed by
    /// name (`SHA256`).
    Enum(String),
    Path(PathAst),
    Call(CallAst),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    Math(Box<Expr>, MathOp, Box<Expr>),
}

/// `+ - * /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// `== != < <= > >=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// `a.b.c["k"][0]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathAst {
    pub(crate) names: Vec<String>,
    pub(crate) keys: Vec<KeyAst>,
    pub(crate) column: usize,
}

/// One `[...]` index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyAst {
    Str(String),
    Int(i64),
    Expr(Box<Expr>),
}

/// `Name(args)[keys]` or `name(args)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallAst {
    pub(crate) name: String,
    pub(crate) args: Vec<ArgAst>,
    pub(crate) keys: Vec<KeyAst>,
    pub(crate) column: usize,
}

/// One argument, positional or `name = value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArgAst {
    pub(crate) name: Option<String>,
    pub(crate) value: Expr,
}

/// A condition as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoolAst {
    Lit(bool),
    Cmp(Expr, CmpOp, Expr),
    /// A converter or path that must yield a boolean.
    Value(Expr),
    Not(Box<BoolAst>),
    And(Vec<BoolAst>),
    Or(Vec<BoolAst>),
}

/// `editor(args) where condition`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatementAst {
    pub(crate) editor: CallAst,
    pub(crate) condition: Option<BoolAst>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Punct(&'static str),
    End,
}

struct Token {
    tok: Tok,
    column: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, Error> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(Error::at(column, "unterminated string")),
                    Some('"') => break,
                    Some('\\') => {
                        i += 1;
                        match chars.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            // `\\.` stays `\\.` for regular expressions, as in Go's OTTL
                            Some(&e @ ('"' | '\\')) => s.push(e),
                            Some(&other) => {
                                s.push('\\');
                                s.push(other);
                            }
                            None => return Err(Error::at(column, "unterminated string")),
                        }
                    }
                    Some(&other) => s.push(other),
                }
                i += 1;
            }
            i += 1;
            Tok::Str(s)
        } else if c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            let start = i + 2;
            i = start;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
            let hex: String = chars[start..i].iter().collect();
            if hex.is_empty() || !hex.len().is_multiple_of(2) {
                return Err(Error::at(column, "bytes literal needs an even number of hex digits"));
            }
            Tok::Bytes(crate::value::unhex(&hex).expect("hex digits"))
        } else if c.is_ascii_digit() {
            let start = i;
            let mut float = false;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                float = true;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if matches!(chars.get(i), Some('e' | 'E')) {
                float = true;
                i += 1;
                if matches!(chars.get(i), Some('+' | '-')) {
                    i += 1;
                }
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().collect();
            if float {
                Tok::Float(text.parse().map_err(|_| Error::at(column, "invalid number"))?)
            } else {
                Tok::Int(text.parse().map_err(|_| Error::at(column, "integer out of range"))?)
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Tok::Name(chars[start..i].iter().collect())
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let punct = ["==", "!=", "<=", ">="].into_iter().find(|p| *p == two);
            let punct = match punct {
                Some(p) => p,
                None => match c {
                    '(' => "(",
                    ')' => ")",
                    '[' => "[",
                    ']' => "]",
                    '{' => "{",
                    '}' => "}",
                    ',' => ",",
                    '.' => ".",
                    ':' => ":",
                    '=' => "=",
                    '<' => "<",
                    '>' => ">",
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    _ => return Err(Error::at(column, format!("unexpected character '{c}'"))),
                },
            };
            i += punct.len();
            Tok::Punct(punct)
        };
        tokens.push(Token { tok, column });
    }
    tokens.push(Token { tok: Tok::End, column: chars.len() + 1 });
    Ok(tokens)
}

/// Parses a statement.
pub(crate) fn statement(text: &str) -> Result<StatementAst, Error> {
    let mut p = Parser { tokens: lex(text)?, at: 0 };
    let editor = match p.peek().clone() {
        Tok::Name(name) if p.peek_at(1) == &Tok::Punct("(") => {
            let column = p.column();
            p.at += 1;
            if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                return Err(Error::at(
                    column,
                    format!("a statement starts with an editor (lower-case), not {name}"),
                ));
            }
            p.call(name, column)?
        }
        _ => return Err(p.unexpected("an editor call such as set(...)")),
    };
    let condition = if p.eat_name("where") { Some(p.condition()?) } else { None };
    p.expect_end()?;
    Ok(StatementAst { editor, condition })
}

/// Parses a value expression on its own (a path, a literal, a converter call).
pub(crate) fn value(text: &str) -> Result<Expr, Error> {
    let mut p = Parser { tokens: lex(text)?, at: 0 };
    let value = p.value()?;
    p.expect_end()?;
    Ok(value)
}

/// Parses a condition (a boolean expression on its own).
pub(crate) fn condition(text: &str) -> Result<BoolAst, Error> {
    let mut p = Parser { tokens: lex(text)?, at: 0 };
    let condition = p.condition()?;
    p.expect_end()?;
    Ok(condition)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.at + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn column(&self) -> usize {
        self.tokens[self.at].column
    }

    fn next(&mut self) -> Tok {
        let tok = self.tokens[self.at].tok.clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        tok
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(p) if *p == punct) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_name(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Tok::Name(n) if n == word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), Error> {
        if self.eat(punct) { Ok(()) } else { Err(self.unexpected(&format!("'{punct}'"))) }
    }

    fn expect_end(&self) -> Result<(), Error> {
        match self.peek() {
            Tok::End => Ok(()),
            _ => Err(self.unexpected("the end of the statement")),
        }
    }

    fn unexpected(&self, wanted: &str) -> Error {
        let found = match self.peek() {
            Tok::Name(n) => format!("'{n}'"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Bytes(_) => "a bytes literal".to_owned(),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::End => "the end".to_owned(),
        };
        Error::at(self.column(), format!("expected {wanted}, found {found}"))
    }

    fn condition(&mut self) -> Result<BoolAst, Error> {
        let mut terms = vec![self.and()?];
        while self.eat_name("or") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { BoolAst::Or(terms) })
    }

    fn and(&mut self) -> Result<BoolAst, Error> {
        let mut terms = vec![self.not()?];
        while self.eat_name("and") {
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { BoolAst::And(terms) })
    }

    fn not(&mut self) -> Result<BoolAst, Error> {
        if self.eat_name("not") {
            return Ok(BoolAst::Not(Box::new(self.not()?)));
        }
        if matches!(self.peek(), Tok::Punct("(")) {
            // `(a or b)` or `(x + 1) > 2`: try the condition, fall back to a comparison
            let start = self.at;
            self.at += 1;
            if let Ok(inner) = self.condition()
                && self.eat(")")
                && !self.at_operator()
            {
                return Ok(inner);
            }
            self.at = start;
        }
        let left = self.value()?;
        let op = match self.peek() {
            Tok::Punct("==") => Some(CmpOp::Eq),
            Tok::Punct("!=") => Some(CmpOp::Ne),
            Tok::Punct("<") => Some(CmpOp::Lt),
            Tok::Punct("<=") => Some(CmpOp::Le),
            Tok::Punct(">") => Some(CmpOp::Gt),
            Tok::Punct(">=") => Some(CmpOp::Ge),
            _ => None,
        };
        match op {
            Some(op) => {
                self.at += 1;
                let right = self.value()?;
                Ok(BoolAst::Cmp(left, op, right))
            }
            None => match left.kind {
                ExprKind::Bool(b) => Ok(BoolAst::Lit(b)),
                ExprKind::Call(_) | ExprKind::Path(_) => Ok(BoolAst::Value(left)),
                _ => Err(Error::at(left.column, "expected a comparison or a boolean")),
            },
        }
    }

    fn at_operator(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Punct("==" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/")
        )
    }

    fn value(&mut self) -> Result<Expr, Error> {
        let mut left = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("+") => MathOp::Add,
                Tok::Punct("-") => MathOp::Sub,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.term()?;
            let column = left.column;
            left = Expr { kind: ExprKind::Math(Box::new(left), op, Box::new(right)), column };
        }
    }

    fn term(&mut self) -> Result<Expr, Error> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("*") => MathOp::Mul,
                Tok::Punct("/") => MathOp::Div,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.unary()?;
            let column = left.column;
            left = Expr { kind: ExprKind::Math(Box::new(left), op, Box::new(right)), column };
        }
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        let column = self.column();
        if self.eat("-") {
            let inner = self.unary()?;
            let kind = match inner.kind {
                ExprKind::Int(i) => ExprKind::Int(-i),
                ExprKind::Float(f) => ExprKind::Float(-f),
                other => {
                    let zero = Expr { kind: ExprKind::Int(0), column };
                    let inner = Expr { kind: other, column: inner.column };
                    ExprKind::Math(Box::new(zero), MathOp::Sub, Box::new(inner))
                }
            };
            return Ok(Expr { kind, column });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, Error> {
        let column = self.column();
        let start = self.at;
        let kind = match self.next() {
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Bytes(b) => ExprKind::Bytes(b),
            Tok::Punct("(") => {
                let inner = self.value()?;
                self.expect(")")?;
                return Ok(inner);
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.value()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                ExprKind::List(items)
            }
            Tok::Punct("{") => {
                let mut entries = Vec::new();
                if !self.eat("}") {
                    loop {
                        let key_at = self.at;
                        let Tok::Str(key) = self.next() else {
                            self.at = key_at;
                            return Err(self.unexpected("a string key"));
                        };
                        self.expect(":")?;
                        entries.push((key, self.value()?));
                        if self.eat("}") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                ExprKind::Map(entries)
            }
            Tok::Name(name) => match name.as_str() {
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                "nil" => ExprKind::Nil,
                _ if self.peek() == &Tok::Punct("(") => ExprKind::Call(self.call(name, column)?),
                _ if is_enum_name(&name) => ExprKind::Enum(name),
                _ => ExprKind::Path(self.path(name, column)?),
            },
            _ => {
                self.at = start;
                return Err(self.unexpected("a value"));
            }
        };
        Ok(Expr { kind, column })
    }

    /// After the name of a call, at `(`.
    fn call(&mut self, name: String, column: usize) -> Result<CallAst, Error> {
        self.expect("(")?;
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                let named = match (self.peek().clone(), self.peek_at(1)) {
                    (Tok::Name(n), Tok::Punct("=")) => Some(n),
                    _ => None,
                };
                if named.is_some() {
                    self.at += 2;
                }
                args.push(ArgAst { name: named, value: self.value()? });
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        let keys = self.keys()?;
        Ok(CallAst { name, args, keys, column })
    }

    fn path(&mut self, first: String, column: usize) -> Result<PathAst, Error> {
        let mut names = vec![first];
        while self.eat(".") {
            match self.peek().clone() {
                Tok::Name(n) => {
                    self.at += 1;
                    names.push(n);
                }
                _ => return Err(self.unexpected("a field name after '.'")),
            }
        }
        let keys = self.keys()?;
        Ok(PathAst { names, keys, column })
    }

    fn keys(&mut self) -> Result<Vec<KeyAst>, Error> {
        let mut keys = Vec::new();
        while self.eat("[") {
            let key = match (self.peek().clone(), self.peek_at(1)) {
                (Tok::Str(s), Tok::Punct("]")) => {
                    self.at += 1;
                    KeyAst::Str(s)
                }
                (Tok::Int(i), Tok::Punct("]")) => {
                    self.at += 1;
                    KeyAst::Int(i)
                }
                _ => KeyAst::Expr(Box::new(self.value()?)),
            };
            self.expect("]")?;
            keys.push(key);
        }
        Ok(keys)
    }
}

/// `SPAN_KIND_SERVER`, `SHA256`: upper-case letters, digits and underscores.
fn is_enum_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}
