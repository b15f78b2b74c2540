//! The `_queryFilter` language: a recursive-descent parser into a small AST,
//! its canonical text, and its evaluation against one event.
//!
//! The grammar and the semantics are described in the [module
//! documentation](super).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::{Number, Value};

use super::QueryError;

/// How deep `(` and `!` may nest before a filter is refused; bounds the
/// parser's (and the evaluator's) recursion on hostile input. `!(` counts
/// once, so that the canonical text (which writes every `!` as `!(…)`) of
/// a filter that parses parses too.
pub const MAX_DEPTH: usize = 64;

/// The comparison operators, as written in the filter (lowercase).
const OPERATORS: &str = "eq, co, sw, lt, le, gt, ge, pr";

/// What a value is allowed to be, for error messages.
const VALUE_FORMS: &str = "a string in double or single quotes, a number, true, false or null";

/// A parsed `_queryFilter`. Build it with [`QueryFilter::parse`] (or
/// `str::parse`); test events with [`QueryFilter::matches`]; its
/// [`Display`](fmt::Display) is the canonical text, which parses back to an
/// equal filter.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryFilter {
    expr: Expr,
}

/// The AST. Invariants (kept by the parser, relied on by `Display`): `And`
/// and `Or` have at least two children, and no child of an `And` is an
/// `And` (nor of an `Or` an `Or`): nested ones are flattened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Const(bool),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Present(String),
    Compare {
        /// Normalized JSON pointer: always with its leading `/`.
        pointer: String,
        op: Op,
        /// A string, number, boolean or null.
        value: Value,
        /// The string value, lowercased once for case-insensitive matching.
        folded: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Co,
    Sw,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Co => "co",
            Op::Sw => "sw",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
        }
    }

    /// Whether an ordering between the field and the value satisfies `self`.
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            Op::Co | Op::Sw => false,
        }
    }
}

impl QueryFilter {
    /// The AST (for translating the filter, to SQL).
    pub(crate) fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Parses a `_queryFilter`. Errors are [`QueryError::EmptyFilter`] and
    /// [`QueryError::Filter`], which gives the character offset of the
    /// problem, what was expected and what was found.
    pub fn parse(text: &str) -> Result<QueryFilter, QueryError> {
        let mut parser = Parser { chars: text.chars().collect(), pos: 0, depth: 0 };
        parser.skip_ws();
        if parser.at_end() {
            return Err(QueryError::EmptyFilter);
        }
        let expr = parser.parse_or()?;
        parser.skip_ws();
        match parser.peek() {
            None => Ok(QueryFilter { expr }),
            Some(')') => Err(parser.error(parser.pos, "unbalanced `)`: there is no `(` for it to close".to_owned())),
            Some(_) => Err(parser.error(
                parser.pos,
                format!("expected `and`, `or` or the end of the filter after a complete expression, found {}", parser.found(parser.pos)),
            )),
        }
    }

    /// The top-level members of an event the filter reads (`None`: it
    /// reads the whole document).
    pub fn top_level_members(&self) -> Option<std::collections::BTreeSet<String>> {
        fn walk(expr: &Expr, out: &mut std::collections::BTreeSet<String>) -> Option<()> {
            match expr {
                Expr::Const(_) => {}
                Expr::Not(inner) => walk(inner, out)?,
                Expr::And(list) | Expr::Or(list) => list.iter().try_for_each(|e| walk(e, out))?,
                Expr::Present(pointer) | Expr::Compare { pointer, .. } => {
                    out.insert(top_level(pointer)?);
                }
            }
            Some(())
        }
        let mut out = std::collections::BTreeSet::new();
        walk(&self.expr, &mut out)?;
        Some(out)
    }

    /// The filter `true`, which matches every event.
    pub fn all() -> QueryFilter {
        QueryFilter { expr: Expr::Const(true) }
    }

    /// Whether `event` satisfies the filter.
    pub fn matches(&self, event: &Value) -> bool {
        self.expr.matches(event)
    }
}

impl Default for QueryFilter {
    /// [`QueryFilter::all`].
    fn default() -> QueryFilter {
        QueryFilter::all()
    }
}

impl FromStr for QueryFilter {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<QueryFilter, QueryError> {
        QueryFilter::parse(text)
    }
}

impl fmt::Display for QueryFilter {
    /// The canonical text: lowercase keywords, pointers with their leading
    /// `/`, strings in double quotes, single spaces, parentheses only where
    /// needed (and always after `!`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn children(f: &mut fmt::Formatter<'_>, children: &[Expr], keyword: &str) -> fmt::Result {
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    write!(f, " {keyword} ")?;
                }
                // An `or` inside an `and` needs parentheses; nothing else
                // does (`and` binds tighter, and children are flattened).
                if keyword == "and" && matches!(child, Expr::Or(_)) {
                    write!(f, "({child})")?;
                } else {
                    write!(f, "{child}")?;
                }
            }
            Ok(())
        }
        match self {
            Expr::Const(b) => write!(f, "{b}"),
            Expr::Not(inner) => write!(f, "!({inner})"),
            Expr::And(list) => children(f, list, "and"),
            Expr::Or(list) => children(f, list, "or"),
            Expr::Present(pointer) => write!(f, "{} pr", DisplayPointer(pointer)),
            Expr::Compare { pointer, op, value, .. } => write!(f, "{} {} {value}", DisplayPointer(pointer), op.name()),
        }
    }
}

/// A normalized pointer as the parser reads it back: bare, or as a JSON
/// string when it holds whitespace or parentheses.
struct DisplayPointer<'a>(&'a str);

impl fmt::Display for DisplayPointer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.chars().any(ends_word) { write!(f, "{}", Value::String(self.0.to_owned())) } else { f.write_str(self.0) }
    }
}

/// Whether `c` ends a bare word (a pointer, keyword or bare value).
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')'
}

/// Normalizes a JSON pointer written with or without its leading `/`, and
/// checks its escapes (`~` must be followed by `0` or `1`). Shared with
/// `_sortKeys`.
pub(super) fn normalize_pointer(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("empty field (expected a JSON pointer such as `/userId` or `userId`)".to_owned());
    }
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
            return Err(format!("`{raw}`: in a JSON pointer `~` must be followed by 0 or 1 (`~0` is `~`, `~1` is `/`)"));
        }
    }
    Ok(if raw.starts_with('/') { raw.to_owned() } else { format!("/{raw}") })
}

struct Parser {
    chars: Vec<char>,
    /// Offset in characters.
    pos: usize,
    /// Open `(` and `!` around the current position.
    depth: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The word starting at the current position (up to whitespace, a
    /// parenthesis or, with `stop_at_quote`, a quote), consumed.
    fn word(&mut self, stop_at_quote: bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !(ends_word(c) || (stop_at_quote && (c == '"' || c == '\'')))) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// The next word, not consumed, lowercased (`and`, `or` lookahead; the
    /// word also ends at `!` and quotes, which cannot follow them in a
    /// keyword: `and!(...)`).
    fn peek_keyword(&self) -> String {
        let keyword_char = |c: &&char| !(ends_word(**c) || matches!(**c, '!' | '"' | '\''));
        self.chars[self.pos..].iter().take_while(keyword_char).collect::<String>().to_ascii_lowercase()
    }

    /// What is at `pos`, for "found ..." in messages.
    fn found(&self, pos: usize) -> String {
        match self.chars.get(pos) {
            None => "the end of the filter".to_owned(),
            Some(&c) if ends_word(c) => format!("`{c}`"),
            Some(_) => {
                let word: String = self.chars[pos..].iter().take_while(|&&c| !ends_word(c)).collect();
                format!("`{}`", excerpt(&word, 24))
            }
        }
    }

    fn error(&self, position: usize, message: String) -> QueryError {
        const AROUND: usize = 16;
        let from = position.saturating_sub(AROUND);
        let to = (position + AROUND).min(self.chars.len());
        let clean = |range: &[char]| -> String { range.iter().map(|&c| if c.is_whitespace() { ' ' } else { c }).collect() };
        let context = format!(
            "{}{}<here>{}{}",
            if from > 0 { "…" } else { "" },
            clean(&self.chars[from..position.min(self.chars.len())]),
            clean(&self.chars[position.min(self.chars.len())..to]),
            if to < self.chars.len() { "…" } else { "" },
        );
        QueryError::Filter { position, message, context }
    }

    fn parse_or(&mut self) -> Result<Expr, QueryError> {
        let mut list = Vec::new();
        loop {
            match self.parse_and()? {
                Expr::Or(inner) => list.extend(inner),
                other => list.push(other),
            }
            self.skip_ws();
            if self.peek_keyword() != "or" {
                break;
            }
            self.pos += 2;
        }
        Ok(if list.len() == 1 { list.remove(0) } else { Expr::Or(list) })
    }

    fn parse_and(&mut self) -> Result<Expr, QueryError> {
        let mut list = Vec::new();
        loop {
            match self.parse_unary()? {
                Expr::And(inner) => list.extend(inner),
                other => list.push(other),
            }
            self.skip_ws();
            if self.peek_keyword() != "and" {
                break;
            }
            self.pos += 3;
        }
        Ok(if list.len() == 1 { list.remove(0) } else { Expr::And(list) })
    }

    fn enter(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(at, format!("the filter nests deeper than {MAX_DEPTH} levels of `(` and `!`")));
        }
        Ok(())
    }

    /// The rest of a group whose `(` is at `start` (already consumed): the
    /// expression and its `)`.
    fn group(&mut self, start: usize) -> Result<Expr, QueryError> {
        let inner = self.parse_or()?;
        self.skip_ws();
        match self.peek() {
            Some(')') => {
                self.pos += 1;
                Ok(inner)
            }
            None => Err(self.error(self.pos, format!("expected `)` to close the `(` at {start}, found the end of the filter"))),
            Some(_) => {
                Err(self
                    .error(self.pos, format!("expected `and`, `or` or `)` to close the `(` at {start}, found {}", self.found(self.pos))))
            }
        }
    }

    fn parse_unary(&mut self) -> Result<Expr, QueryError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(self.error(start, "expected an expression, found the end of the filter".to_owned())),
            Some(')') => Err(self.error(start, "expected an expression, found `)`".to_owned())),
            Some('!') => {
                self.enter(start)?;
                self.pos += 1;
                self.skip_ws();
                // `!(…)` is one level: the canonical text writes every `!` so.
                let inner = if self.peek() == Some('(') {
                    let group = self.pos;
                    self.pos += 1;
                    self.group(group)?
                } else {
                    self.parse_unary()?
                };
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            Some('(') => {
                self.enter(start)?;
                self.pos += 1;
                let inner = self.group(start)?;
                self.depth -= 1;
                Ok(inner)
            }
            Some('"') => {
                let raw = self.quoted_string()?;
                self.comparison(start, &raw)
            }
            Some(_) => {
                let raw = self.word(false);
                match raw.to_ascii_lowercase().as_str() {
                    "true" => return Ok(Expr::Const(true)),
                    "false" => return Ok(Expr::Const(false)),
                    _ => {}
                }
                self.comparison(start, &raw)
            }
        }
    }

    /// After a pointer (`raw`, as written at `start`): `pr`, or an operator
    /// and a value.
    fn comparison(&mut self, start: usize, raw: &str) -> Result<Expr, QueryError> {
        let pointer = normalize_pointer(raw).map_err(|message| self.error(start, message))?;
        let shown = excerpt(raw, 40);
        self.skip_ws();
        let op_at = self.pos;
        let word = self.word(true);
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Expr::Present(pointer));
        }
        let Some(op) = Op::parse(&word) else {
            return Err(self.error(op_at, format!("expected an operator ({OPERATORS}) after `{shown}`, found {}", self.found(op_at))));
        };
        self.skip_ws();
        let value = self.value(&word)?;
        let folded = value.as_str().map(str::to_lowercase);
        Ok(Expr::Compare { pointer, op, value, folded })
    }

    /// The value after operator `op` (as written).
    fn value(&mut self, op: &str) -> Result<Value, QueryError> {
        let at = self.pos;
        match self.peek() {
            None => Err(self.error(at, format!("expected a value ({VALUE_FORMS}) after `{op}`, found the end of the filter"))),
            Some('"') => Ok(Value::String(self.quoted_string()?)),
            Some('\'') => Ok(Value::String(self.single_quoted_string()?)),
            Some(_) => {
                let word = self.word(false);
                match word.to_ascii_lowercase().as_str() {
                    "true" => return Ok(Value::Bool(true)),
                    "false" => return Ok(Value::Bool(false)),
                    "null" => return Ok(Value::Null),
                    _ => {}
                }
                if word.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                    if let Ok(number) = serde_json::from_str::<Number>(&word) {
                        return Ok(Value::Number(number));
                    }
                    return Err(self.error(at, format!("`{}` is not a number (or is out of range)", excerpt(&word, 24))));
                }
                Err(self.error(at, format!("expected a value ({VALUE_FORMS}) after `{op}`, found {}", self.found(at))))
            }
        }
    }

    /// A JSON string in double quotes, starting at the current position.
    fn quoted_string(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.chars.get(i) {
                None => {
                    return Err(self.error(start, "unterminated string: no closing `\"`".to_owned()));
                }
                Some('\\') => i += 2,
                Some('"') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        let literal: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str::<String>(&literal).map_err(|e| self.error(start, format!("invalid JSON string: {e}")))
    }

    /// A string in single quotes, starting at the current position; `\'`
    /// is a quote, `\\` a backslash, any other backslash is itself.
    fn single_quoted_string(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        let mut i = start + 1;
        let mut out = String::new();
        loop {
            match (self.chars.get(i), self.chars.get(i + 1)) {
                (None, _) => {
                    return Err(self.error(start, "unterminated string: no closing `'`".to_owned()));
                }
                (Some('\\'), Some(&c @ ('\'' | '\\'))) => {
                    out.push(c);
                    i += 2;
                }
                (Some('\''), _) => break,
                (Some(&c), _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        Ok(out)
    }
}

/// At most `max` characters of `text`, with `…` when cut.
fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max { text.to_owned() } else { format!("{}…", text.chars().take(max).collect::<String>()) }
}

impl Expr {
    fn matches(&self, event: &Value) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Not(inner) => !inner.matches(event),
            Expr::And(list) => list.iter().all(|e| e.matches(event)),
            Expr::Or(list) => list.iter().any(|e| e.matches(event)),
            Expr::Present(pointer) => lookup(event, pointer).is_some_and(|v| !v.is_null()),
            Expr::Compare { pointer, op, value, folded } => match lookup(event, pointer) {
                None => false,
                Some(Value::Array(items)) => items.iter().any(|item| compare(item, *op, value, folded.as_deref())),
                Some(field) => compare(field, *op, value, folded.as_deref()),
            },
        }
    }
}

/// The value a JSON pointer points to: what `Value::pointer` gives, without
/// allocating for tokens that hold no escape (queries look up a pointer of
/// every event they read).
pub(super) fn lookup<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    let mut target = value;
    for token in pointer.strip_prefix('/')?.split('/') {
        let unescaped;
        let token = if token.contains('~') {
            unescaped = token.replace("~1", "/").replace("~0", "~");
            unescaped.as_str()
        } else {
            token
        };
        target = match target {
            Value::Object(map) => map.get(token)?,
            Value::Array(list) => {
                if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                    return None;
                }
                list.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(target)
}

/// The top-level member a JSON pointer starts in (`None` for the pointer to
/// the whole document).
pub(crate) fn top_level(pointer: &str) -> Option<String> {
    let rest = pointer.strip_prefix('/')?;
    let first = rest.split('/').next().unwrap_or_default();
    Some(first.replace("~1", "/").replace("~0", "~"))
}

/// One field (not an array) against the filter's value.
fn compare(field: &Value, op: Op, value: &Value, folded: Option<&str>) -> bool {
    match (field, value) {
        (Value::String(field), Value::String(_)) => {
            let folded = folded.unwrap_or_default();
            match op {
                Op::Co => field.to_lowercase().contains(folded),
                Op::Sw => field.to_lowercase().starts_with(folded),
                _ => op.accepts(fold_cmp(field, folded)),
            }
        }
        (Value::Number(a), Value::Number(b)) => number_cmp(a, b).is_some_and(|o| op.accepts(o)),
        (Value::Bool(a), Value::Bool(b)) => op == Op::Eq && a == b,
        (Value::Null, Value::Null) => op == Op::Eq,
        _ => false,
    }
}

/// Compares two strings ignoring case (Unicode lowercase), without
/// allocating.
pub(super) fn fold_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    a.chars().flat_map(char::to_lowercase).cmp(b.chars().flat_map(char::to_lowercase))
}

/// Compares two JSON numbers by value: exactly when both are integers,
/// as `f64` otherwise.
pub(super) fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}
