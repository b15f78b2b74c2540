//! Configuration expressions, as ForgeRock writes them: every string of an
//! audit service's configuration may hold
//!
//! - `&{name}` or `&{name|default}`: a property. Looked up in the
//!   properties files given with `--properties` (or `WASP_PROPERTIES`,
//!   paths separated by `:`; Java `.properties` syntax, later files win),
//!   then the configuration's own `properties` object (nested objects give
//!   dotted names: `{"audit": {"dir": "/x"}}` is `audit.dir`), then the
//!   environment variable of that name, then the same with `.` turned into
//!   `_` and upper-cased (`audit.dir` → `AUDIT_DIR`), then the default.
//! - `${expression}`: a subset of the expression language: literals
//!   (`true`, `false`, `null`, numbers, `'text'` or `"text"`), `env['NAME']`
//!   (or `env.NAME`), `system['name']` (a property, as above), arithmetic
//!   (`+ - * / %`, `div`, `mod`), string concatenation with `+=`,
//!   comparisons (`== != < > <= >=`, `eq ne lt gt le ge`), `&& || !`
//!   (`and or not`), `empty x`, `a ? b : c` and parentheses.
//!
//! A string that is exactly one `${…}` or `&{…}` takes the value's type
//! (`"${true}"` is the boolean `true`, `"${60 * 60}"` the number 3600; a
//! property that reads `true`, `false` or a number does the same); a string
//! mixing text and expressions is their concatenation. `\${` and `\&{`
//! stand for the literal text. Anything else — an unknown name or
//! function, a syntax error, a missing property without a default — is an
//! error naming the JSON path and the expression.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where `&{…}` and `system[…]` find properties.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    /// From the properties files, then the configuration's `properties`.
    values: BTreeMap<String, String>,
    /// The files read, for error messages.
    files: Vec<PathBuf>,
}

/// Environment variable naming properties files (`:`-separated) read
/// before every configuration (the CLI's `--properties` sets it).
pub const PROPERTIES_ENV: &str = "WASP_PROPERTIES";

/// The properties files given on the command line (`--properties`).
static COMMAND_LINE_FILES: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

/// Sets the properties files every configuration of this process reads
/// (after those of `WASP_PROPERTIES`); the CLI's `--properties`. Only the
/// first call counts.
pub fn set_properties_files(files: Vec<PathBuf>) {
    let _ = COMMAND_LINE_FILES.set(files);
}

/// Why a configuration string or a properties file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ExprError {
    /// A properties file could not be read.
    #[error("cannot read properties file {}: {source}", path.display())]
    PropertiesFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An expression that does not parse or evaluate, or a property that
    /// is not set; the message quotes the text.
    #[error("{0}")]
    Invalid(String),
}

impl Properties {
    /// The properties of the files named by `WASP_PROPERTIES`, then those
    /// given with `--properties`.
    pub fn from_env() -> Result<Properties, ExprError> {
        let mut properties = Properties::default();
        let mut files: Vec<PathBuf> = std::env::var(PROPERTIES_ENV)
            .map(|list| list.split(':').filter(|f| !f.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default();
        files.extend(COMMAND_LINE_FILES.get().cloned().unwrap_or_default());
        // Later files win: read them last to first, keeping the first value seen.
        for file in files.iter().rev() {
            properties.read_file(file)?;
        }
        properties.files.reverse();
        Ok(properties)
    }

    /// Adds the properties of a Java `.properties` file (`key=value` or
    /// `key: value` lines, `#`/`!` comments, `\` line continuations); a
    /// property already set keeps its value.
    pub fn read_file(&mut self, path: &Path) -> Result<(), ExprError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExprError::PropertiesFile { path: path.to_owned(), source })?;
        let mut logical = String::new();
        for line in text.lines() {
            let line = line.trim_start();
            if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
                continue;
            }
            if let Some(continued) = line.strip_suffix('\\') {
                logical.push_str(continued);
                continue;
            }
            logical.push_str(line);
            let entry = std::mem::take(&mut logical);
            let split = entry.find(['=', ':']).unwrap_or(entry.len());
            let key = entry[..split].trim().to_owned();
            let value = entry.get(split + 1..).unwrap_or("").trim().to_owned();
            if !key.is_empty() {
                self.values.entry(key).or_insert(value);
            }
        }
        self.files.push(path.to_owned());
        Ok(())
    }

    /// Adds a configuration's `properties` object (nested objects give
    /// dotted names); what the files set wins.
    pub fn add_object(&mut self, object: &Value) {
        fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                        walk(&name, v, out);
                    }
                }
                Value::String(s) => out.push((prefix.to_owned(), s.clone())),
                Value::Null => {}
                other => out.push((prefix.to_owned(), other.to_string())),
            }
        }
        let mut found = Vec::new();
        walk("", object, &mut found);
        for (k, v) in found {
            self.values.entry(k).or_insert(v);
        }
    }

    /// A property's value: files and `properties`, then the environment.
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        if let Ok(v) = std::env::var(name) {
            return Some(v);
        }
        std::env::var(name.replace('.', "_").to_ascii_uppercase()).ok()
    }

    fn sources(&self) -> String {
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        let files = if files.is_empty() { "no properties file".to_owned() } else { format!("properties files {}", files.join(", ")) };
        format!("{files}, the configuration's `properties`, the environment")
    }
}

/// Resolves every expression in every string of `value` (object keys are
/// left alone); `at` is the JSON path of `value` for errors.
pub fn resolve(value: &mut Value, at: &str, properties: &Properties) -> Result<(), (String, ExprError)> {
    match value {
        Value::String(text) if text.contains("${") || text.contains("&{") => {
            *value = evaluate_string(text, properties).map_err(|m| (display_path(at), m))?;
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                resolve(v, &join(at, k), properties)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                resolve(v, &format!("{at}[{i}]"), properties)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

fn display_path(at: &str) -> String {
    if at.is_empty() { ".".to_owned() } else { at.to_owned() }
}

/// The value of one configuration string (see the module docs).
pub fn evaluate_string(text: &str, properties: &Properties) -> Result<Value, ExprError> {
    evaluate(text, properties).map_err(ExprError::Invalid)
}

fn evaluate(text: &str, properties: &Properties) -> Result<Value, String> {
    let parts = split(text)?;
    if let [Part::Expr(source)] | [Part::Prop(source)] = parts.as_slice() {
        let value = match &parts[0] {
            Part::Expr(_) => eval_expression(source, properties)?,
            _ => typed_property(property(source, properties)?),
        };
        return value.into_json().map_err(|m| format!("`{text}`: {m}"));
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(&t),
            Part::Expr(source) => out.push_str(&eval_expression(&source, properties)?.as_text().map_err(|m| format!("`{text}`: {m}"))?),
            Part::Prop(source) => out.push_str(&property(&source, properties)?),
        }
    }
    Ok(Value::String(out))
}

enum Part {
    Text(String),
    Expr(String),
    Prop(String),
}

/// Splits a string into text, `${…}` and `&{…}` parts (braces inside
/// quoted text of an expression do not end it).
fn split(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && matches!(bytes.get(i + 1), Some(b'$' | b'&')) && bytes.get(i + 2) == Some(&b'{') {
            literal.push(bytes[i + 1] as char);
            literal.push('{');
            i += 3;
            continue;
        }
        if (c == b'$' || c == b'&') && bytes.get(i + 1) == Some(&b'{') {
            let start = i + 2;
            let mut j = start;
            let mut quote: Option<u8> = None;
            while j < bytes.len() {
                match (quote, bytes[j]) {
                    (Some(q), b) if b == q => quote = None,
                    (Some(_), b'\\') => j += 1,
                    (Some(_), _) => {}
                    (None, b'\'' | b'"') if c == b'$' => quote = Some(bytes[j]),
                    (None, b'}') => break,
                    _ => {}
                }
                j += 1;
            }
            if j >= bytes.len() {
                return Err(format!("`{text}`: `{}{{` at byte {i} is not closed with `}}`", c as char));
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            let inner = text[start..j].to_owned();
            parts.push(if c == b'$' { Part::Expr(inner) } else { Part::Prop(inner) });
            i = j + 1;
            continue;
        }
        let ch = text[i..].chars().next().expect("in bounds");
        literal.push(ch);
        i += ch.len_utf8();
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

/// `&{name|default}`.
fn property(source: &str, properties: &Properties) -> Result<String, String> {
    let (name, default) = match source.split_once('|') {
        Some((n, d)) => (n.trim(), Some(d)),
        None => (source.trim(), None),
    };
    if name.is_empty() {
        return Err(format!("`&{{{source}}}` names no property"));
    }
    match (properties.get(name), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_owned()),
        (None, None) => Err(format!(
            "property `{name}` of `&{{{source}}}` is not set (looked in {}; give a default with `&{{{name}|…}}`)",
            properties.sources()
        )),
    }
}

/// A whole-string property keeps a boolean or number type.
fn typed_property(text: String) -> Val {
    match text.as_str() {
        "true" => Val::Bool(true),
        "false" => Val::Bool(false),
        _ => match text.parse::<i64>() {
            Ok(n) => Val::Int(n),
            Err(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) => {
                    Val::Float(f)
                }
                _ => Val::Str(text),
            },
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `env` or `system`.
    Scope(Scope),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Env,
    System,
}

impl Val {
    fn into_json(self) -> Result<Value, String> {
        Ok(match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Int(n) => Value::from(n),
            Val::Float(f) => serde_json::Number::from_f64(f).map(Value::Number).ok_or("the result is not a finite number")?,
            Val::Str(s) => Value::String(s),
            Val::Scope(_) => {
                return Err("`env` and `system` must be indexed, e.g. `env['HOME']`".into());
            }
        })
    }

    fn as_text(&self) -> Result<String, String> {
        Ok(match self {
            Val::Null => String::new(),
            Val::Bool(b) => b.to_string(),
            Val::Int(n) => n.to_string(),
            Val::Float(f) => f.to_string(),
            Val::Str(s) => s.clone(),
            Val::Scope(_) => {
                return Err("`env` and `system` must be indexed, e.g. `env['HOME']`".into());
            }
        })
    }

    fn truthy(&self) -> Result<bool, String> {
        match self {
            Val::Bool(b) => Ok(*b),
            Val::Str(s) if s == "true" || s == "false" => Ok(s == "true"),
            Val::Null => Ok(false),
            other => Err(format!("{} is not a boolean", other.describe())),
        }
    }

    fn number(&self) -> Result<Num, String> {
        match self {
            Val::Int(n) => Ok(Num::Int(*n)),
            Val::Float(f) => Ok(Num::Float(*f)),
            Val::Null => Ok(Num::Int(0)),
            Val::Str(s) => match typed_property(s.clone()) {
                Val::Int(n) => Ok(Num::Int(n)),
                Val::Float(f) => Ok(Num::Float(f)),
                _ => Err(format!("'{s}' is not a number")),
            },
            other => Err(format!("{} is not a number", other.describe())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(n) => n.to_string(),
            Val::Float(f) => f.to_string(),
            Val::Str(s) => format!("'{s}'"),
            Val::Scope(Scope::Env) => "env".into(),
            Val::Scope(Scope::System) => "system".into(),
        }
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn float(self) -> f64 {
        match self {
            Num::Int(n) => n as f64,
            Num::Float(f) => f,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    Ident(String),
    Op(&'static str),
}

const OPS: [&str; 23] =
    ["+=", "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "!", "(", ")", "[", "]", ".", "?", ":", ","];

fn tokenize(source: &str) -> Result<Vec<Tok>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == 'e' || chars[i] == 'E') {
                i += 1;
            }
            tokens.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("a string starting with {c} is not closed")),
                    Some('\\') => {
                        if let Some(next) = chars.get(i + 1) {
                            text.push(*next);
                        }
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        text.push(*other);
                        i += 1;
                    }
                }
            }
            tokens.push(Tok::Str(text));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
                return Err(format!("unexpected `{c}`"));
            };
            tokens.push(Tok::Op(op));
            i += op.chars().count();
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Tok>,
    at: usize,
    properties: &'a Properties,
}

fn eval_expression(source: &str, properties: &Properties) -> Result<Val, String> {
    let fail = |m: String| format!("`${{{source}}}`: {m}");
    let tokens = tokenize(source).map_err(fail)?;
    if tokens.is_empty() {
        return Err(fail("an empty expression".into()));
    }
    let mut parser = Parser { tokens, at: 0, properties };
    let value = parser.ternary().map_err(fail)?;
    if let Some(extra) = parser.tokens.get(parser.at) {
        return Err(fail(format!("unexpected {extra:?} after the expression")));
    }
    Ok(value)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.peek() == Some(&Tok::Op(OPS.iter().find(|o| **o == op).expect("known op"))) {
            self.at += 1;
            return true;
        }
        false
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.at += 1;
            return true;
        }
        false
    }

    fn ternary(&mut self) -> Result<Val, String> {
        let condition = self.or()?;
        if self.eat_op("?") {
            let yes = self.ternary()?;
            if !self.eat_op(":") {
                return Err("`?` without `:`".into());
            }
            let no = self.ternary()?;
            return Ok(if condition.truthy()? { yes } else { no });
        }
        Ok(condition)
    }

    fn or(&mut self) -> Result<Val, String> {
        let mut left = self.and()?;
        while self.eat_op("||") || self.eat_word("or") {
            let right = self.and()?;
            left = Val::Bool(left.truthy()? || right.truthy()?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Val, String> {
        let mut left = self.equality()?;
        while self.eat_op("&&") || self.eat_word("and") {
            let right = self.equality()?;
            left = Val::Bool(left.truthy()? && right.truthy()?);
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Val, String> {
        let mut left = self.relation()?;
        loop {
            let equal = if self.eat_op("==") || self.eat_word("eq") {
                true
            } else if self.eat_op("!=") || self.eat_word("ne") {
                false
            } else {
                return Ok(left);
            };
            let right = self.relation()?;
            let same = match (left.number(), right.number()) {
                (Ok(a), Ok(b)) if !matches!(left, Val::Str(_)) || !matches!(right, Val::Str(_)) => a.float() == b.float(),
                _ => left.as_text()? == right.as_text()?,
            };
            left = Val::Bool(same == equal);
        }
    }

    fn relation(&mut self) -> Result<Val, String> {
        let mut left = self.additive()?;
        loop {
            let op = if self.eat_op("<=") || self.eat_word("le") {
                "<="
            } else if self.eat_op(">=") || self.eat_word("ge") {
                ">="
            } else if self.eat_op("<") || self.eat_word("lt") {
                "<"
            } else if self.eat_op(">") || self.eat_word("gt") {
                ">"
            } else {
                return Ok(left);
            };
            let right = self.additive()?;
            let (a, b) = (left.number()?.float(), right.number()?.float());
            left = Val::Bool(match op {
                "<=" => a <= b,
                ">=" => a >= b,
                "<" => a < b,
                _ => a > b,
            });
        }
    }

    fn additive(&mut self) -> Result<Val, String> {
        let mut left = self.multiplicative()?;
        loop {
            if self.eat_op("+=") {
                let right = self.multiplicative()?;
                left = Val::Str(left.as_text()? + &right.as_text()?);
            } else if self.eat_op("+") {
                let right = self.multiplicative()?;
                left = arithmetic('+', &left, &right)?;
            } else if self.eat_op("-") {
                let right = self.multiplicative()?;
                left = arithmetic('-', &left, &right)?;
            } else {
                return Ok(left);
            }
        }
    }

    fn multiplicative(&mut self) -> Result<Val, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                '*'
            } else if self.eat_op("/") || self.eat_word("div") {
                '/'
            } else if self.eat_op("%") || self.eat_word("mod") {
                '%'
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = arithmetic(op, &left, &right)?;
        }
    }

    fn unary(&mut self) -> Result<Val, String> {
        if self.eat_op("-") {
            let value = self.unary()?;
            return arithmetic('-', &Val::Int(0), &value);
        }
        if self.eat_op("!") || self.eat_word("not") {
            return Ok(Val::Bool(!self.unary()?.truthy()?));
        }
        if self.eat_word("empty") {
            let value = self.unary()?;
            return Ok(Val::Bool(matches!(value, Val::Null) || value == Val::Str(String::new())));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Val, String> {
        let mut value = self.primary()?;
        loop {
            let key = if self.eat_op("[") {
                let key = self.ternary()?;
                if !self.eat_op("]") {
                    return Err("`[` without `]`".into());
                }
                key.as_text()?
            } else if self.eat_op(".") {
                match self.tokens.get(self.at).cloned() {
                    Some(Tok::Ident(name)) => {
                        self.at += 1;
                        name
                    }
                    _ => return Err("`.` must be followed by a name".into()),
                }
            } else {
                return Ok(value);
            };
            value = match value {
                Val::Scope(Scope::Env) => std::env::var(&key).map(Val::Str).unwrap_or(Val::Null),
                Val::Scope(Scope::System) => self.properties.get(&key).map(Val::Str).unwrap_or(Val::Null),
                other => {
                    return Err(format!("{} cannot be indexed with `{key}`", other.describe()));
                }
            };
        }
    }

    fn primary(&mut self) -> Result<Val, String> {
        let Some(token) = self.tokens.get(self.at).cloned() else {
            return Err("the expression ends too early".into());
        };
        self.at += 1;
        match token {
            Tok::Num(text) => match text.parse::<i64>() {
                Ok(n) => Ok(Val::Int(n)),
                Err(_) => text.parse::<f64>().map(Val::Float).map_err(|_| format!("`{text}` is not a number")),
            },
            Tok::Str(text) => Ok(Val::Str(text)),
            Tok::Op("(") => {
                let value = self.ternary()?;
                if !self.eat_op(")") {
                    return Err("`(` without `)`".into());
                }
                Ok(value)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Val::Bool(true)),
                "false" => Ok(Val::Bool(false)),
                "null" => Ok(Val::Null),
                "env" => Ok(Val::Scope(Scope::Env)),
                "system" => Ok(Val::Scope(Scope::System)),
                other if self.peek() == Some(&Tok::Op("(")) => {
                    Err(format!("function `{other}` is not supported in WASP's configuration expressions"))
                }
                other => Err(format!("unknown name `{other}` (known: env, system, true, false, null)")),
            },
            Tok::Op(op) => Err(format!("unexpected `{op}`")),
        }
    }
}

fn arithmetic(op: char, left: &Val, right: &Val) -> Result<Val, String> {
    let (a, b) = (left.number()?, right.number()?);
    if let (Num::Int(a), Num::Int(b)) = (a, b) {
        let result = match op {
            '+' => a.checked_add(b),
            '-' => a.checked_sub(b),
            '*' => a.checked_mul(b),
            '/' if b == 0 => return Err("division by zero".into()),
            '/' if a % b == 0 => Some(a / b),
            '/' => return Ok(Val::Float(a as f64 / b as f64)),
            '%' if b == 0 => return Err("division by zero".into()),
            _ => a.checked_rem(b),
        };
        return result.map(Val::Int).ok_or_else(|| "the result overflows".into());
    }
    let (a, b) = (a.float(), b.float());
    Ok(Val::Float(match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' => a / b,
        _ => a % b,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval(text: &str) -> Result<Value, String> {
        let mut properties = Properties::default();
        properties.add_object(&json!({"audit": {"dir": "/var/audit", "size": "1048576"}}));
        evaluate_string(text, &properties).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_expressions_keep_their_type() {
        assert_eq!(eval("${true}").unwrap(), json!(true));
        assert_eq!(eval("${60 * 60}").unwrap(), json!(3600));
        assert_eq!(eval("${7 / 2}").unwrap(), json!(3.5));
        assert_eq!(eval("${(1 + 2) * 3 - 10 % 4}").unwrap(), json!(7));
        assert_eq!(eval("${'a' += 'b' += 1}").unwrap(), json!("ab1"));
        assert_eq!(eval("${1 < 2 && !false ? 'yes' : 'no'}").unwrap(), json!("yes"));
        assert_eq!(eval("${empty env['WASP_SURELY_UNSET_VAR']}").unwrap(), json!(true));
        assert_eq!(eval("&{audit.size}").unwrap(), json!(1048576));
        assert_eq!(eval("${system['audit.dir']}").unwrap(), json!("/var/audit"));
    }

    #[test]
    fn properties_environment_defaults_and_composites() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(eval("${env['HOME']}/logs").unwrap(), json!(format!("{home}/logs")));
        assert_eq!(eval("${env.HOME}").unwrap(), json!(home));
        assert_eq!(eval("&{audit.dir}/access").unwrap(), json!("/var/audit/access"));
        assert_eq!(eval("&{audit.missing|/tmp/x}").unwrap(), json!("/tmp/x"));
        assert_eq!(eval("&{home|none}").unwrap(), json!(home), "`home` → HOME");
        assert_eq!(eval(r"price \${not} \&{this}").unwrap(), json!("price ${not} &{this}"));
        assert_eq!(eval("${'}'}").unwrap(), json!("}"), "a brace inside quotes");
    }

    #[test]
    fn errors_name_the_expression_and_what_is_wrong() {
        let e = eval("&{audit.nope}").unwrap_err();
        assert!(e.contains("property `audit.nope`") && e.contains("give a default"), "{e}");
        let e = eval("${matches(request.uri.path, '^/x')}").unwrap_err();
        assert!(e.contains("function `matches` is not supported"), "{e}");
        let e = eval("${request}").unwrap_err();
        assert!(e.contains("unknown name `request`"), "{e}");
        let e = eval("${1 +}").unwrap_err();
        assert!(e.contains("${1 +}") && e.contains("ends too early"), "{e}");
        assert!(eval("${1 / 0}").unwrap_err().contains("division by zero"));
        assert!(eval("x ${true").unwrap_err().contains("not closed"));
        let mut doc = json!({"a": [{"b": "${nope}"}]});
        let (at, _) = resolve(&mut doc, "", &Properties::default()).unwrap_err();
        assert_eq!(at, "a[0].b");
    }

    #[test]
    fn a_properties_file_is_read_and_wins_over_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.properties");
        std::fs::write(&file, "# comment\naudit.dir = /from/file\nlong.value=a\\\n  b\nsep: colon\n").unwrap();
        let mut properties = Properties::default();
        properties.read_file(&file).unwrap();
        properties.add_object(&json!({"audit": {"dir": "/from/config"}}));
        let other = dir.path().join("other.properties");
        std::fs::write(&other, "audit.dir=/from/other\n").unwrap();
        properties.read_file(&other).unwrap();
        assert_eq!(evaluate_string("&{audit.dir}", &properties).unwrap(), json!("/from/file"));
        assert_eq!(evaluate_string("&{long.value}", &properties).unwrap(), json!("ab"));
        assert_eq!(evaluate_string("&{sep}", &properties).unwrap(), json!("colon"));
    }
}
