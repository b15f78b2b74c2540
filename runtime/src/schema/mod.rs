//! A small JSON Schema validator for audit topic schemas, and the four
//! standard ForgeRock common audit topic schemas (`access`, `activity`,
//! `authentication`, `config`; see [`standard`]).
//!
//! It implements the subset of JSON Schema draft-04 / draft-07 that topic
//! schemas use, nothing more, and it says so: a schema using a keyword it
//! does not enforce fails to compile, rather than silently accepting events
//! the author meant to reject.
//!
//! # Enforced keywords
//!
//! - `type`: one of `object`, `array`, `string`, `number`, `integer`,
//!   `boolean`, `null`, or a non-empty array of distinct names; the value
//!   has one of the types. `number` includes integers; `integer` accepts any
//!   number without a fractional part (`1.0` too, as in draft-06 and later).
//! - `properties`: an object mapping names to schemas; each property present
//!   in the value matches its schema.
//! - `required`: an array of distinct strings (may be empty); each named
//!   property is present (`null` counts as present).
//! - `additionalProperties`: `true`, `false` or a schema; properties not
//!   named in `properties` are allowed, refused, or must match the schema.
//! - `items`: a schema (the array, "tuple", form is refused); each element
//!   of an array matches it.
//! - `enum`: a non-empty array; the value equals one of its elements.
//! - `const`: any value; the value equals it.
//! - `minimum`, `maximum`: numbers, `minimum` ≤ `maximum`; inclusive bounds
//!   on numbers.
//! - `minLength`, `maxLength`: non-negative integers, `minLength` ≤
//!   `maxLength`; bounds on the length of strings, in Unicode code points.
//!
//! Keywords apply only to values of the kinds they are about (`minimum` to
//! numbers, `properties` to objects, ...), as in JSON Schema. Equality for
//! `enum` and `const` is JSON equality: numbers compare by value (`1` equals
//! `1.0`), objects regardless of key order.
//!
//! # Annotations (accepted, ignored)
//!
//! `$schema`, `id`, `$id`, `title`, `description`, `default`, `examples`,
//! `$comment`, and also `pattern` and `format`: **`pattern` and `format` are
//! not enforced** (there is no regular-expression engine here); a schema may
//! carry them, as ForgeRock schemas do, but no event is ever refused because
//! of them. Their values are not checked either. The list is
//! [`ANNOTATION_KEYWORDS`].
//!
//! # Everything else is refused
//!
//! Any other keyword — `$ref`, `definitions`, `allOf`, `anyOf`, `oneOf`,
//! `not`, `if`/`then`/`else`, `exclusiveMinimum`, `exclusiveMaximum`,
//! `multipleOf`, `minItems`, `maxItems`, `uniqueItems`, `contains`,
//! `patternProperties`, `propertyNames`, `dependencies`, `minProperties`,
//! `maxProperties`, or a misspelling — makes [`Schema::compile`] fail with a
//! [`SchemaError`] naming the keyword and its JSON pointer in the schema.
//! Boolean schemas (`true`/`false` in place of a schema) are refused too,
//! except as the value of `additionalProperties`.
//!
//! # Reports
//!
//! [`Schema::validate`] collects every [`Violation`], each with the JSON
//! pointer of the offending value in the event (`""` for the event itself),
//! the keyword that failed and a message for people. The order is
//! deterministic: depth first; at each value `type` first, then `enum`,
//! `const`, `minimum`, `maximum`, `minLength`, `maxLength`, `required` (in
//! the schema's order), then the object's properties by name (in byte order)
//! or the array's elements by index. When `type` fails at a value, the other
//! keywords there are not checked: they would only restate the mismatch.
//!
//! # Standard schemas
//!
//! `runtime/schemas/{access,activity,authentication,config}.json`, embedded
//! in the binary, follow the topic schemas of ForgeRock's common audit
//! framework (forgerock-audit-core `events.json`): the common fields `_id`,
//! `timestamp`, `eventName`, `transactionId`, `userId`, `trackingIds`, plus
//! each topic's own. They require `_id`, `timestamp`, `transactionId` and
//! `eventName` (the fields ForgeRock documents as mandatory; its own
//! `events.json` requires nothing) and allow extra fields. They differ from
//! ForgeRock's in three ways: `response.status` (access) and `result`
//! (authentication) are restricted to `SUCCESSFUL`/`FAILED`, the values of
//! ForgeRock's builders; and `before`/`after` (activity, config) accept any
//! JSON value where ForgeRock declares `object`.
//! A custom schema for one of these topics should only add to it: see
//! [`Schema::extends`].

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Number, Value};

mod compile;
mod extends;
mod safelist;

use compile::{compile_length, compile_number, compile_properties, compile_required, compile_type};

#[cfg(test)]
mod tests;

/// Keywords [`Schema::compile`] accepts and ignores. `pattern` and `format`
/// are among them: they are **not enforced**.
pub const ANNOTATION_KEYWORDS: &[&str] =
    &["$schema", "id", "$id", "title", "description", "default", "examples", "$comment", "pattern", "format"];

/// Keywords [`Schema::compile`] accepts and [`Schema::validate`] enforces.
pub const SUPPORTED_KEYWORDS: &[&str] =
    &["type", "properties", "required", "additionalProperties", "items", "enum", "const", "minimum", "maximum", "minLength", "maxLength"];

/// The topics that have a standard schema (see [`standard`]).
pub const STANDARD_TOPICS: [&str; 4] = ["access", "activity", "authentication", "config"];

/// Why a schema does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schema {}: {message}", describe_pointer(pointer))]
pub struct SchemaError {
    /// JSON pointer, inside the schema, of the faulty value: for a keyword,
    /// the keyword itself (`/properties/server/type`); `""` for the root.
    pub pointer: String,
    /// What is wrong, for people.
    pub message: String,
}

/// One way in which a value fails a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer, inside the validated value, of the offending value:
    /// `""` for the value itself, e.g. `/http/request/method`. For `required`
    /// it is the object that lacks the property.
    pub pointer: String,
    /// The keyword that failed: `type`, `required`, `enum`, ...
    pub rule: String,
    /// What is wrong, for people: "must be a string, found a number".
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.pointer, self.message) }
    }
}

/// A compiled schema. Compile it once with [`Schema::compile`], validate
/// values with [`Schema::validate`].
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Allowed types, sorted and distinct; `None`: any.
    types: Option<Vec<JsonType>>,
    properties: BTreeMap<String, Schema>,
    /// In the schema's order.
    required: Vec<String>,
    additional: Additional,
    items: Option<Box<Schema>>,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    minimum: Option<Number>,
    maximum: Option<Number>,
    min_length: Option<u64>,
    max_length: Option<u64>,
}

#[derive(Debug, Clone, Default)]
enum Additional {
    #[default]
    Allowed,
    Forbidden,
    Schema(Box<Schema>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum JsonType {
    Object,
    Array,
    String,
    Number,
    Integer,
    Boolean,
    Null,
}

const TYPE_NAMES: &str = "object, array, string, number, integer, boolean, null";

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "boolean" => JsonType::Boolean,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
        }
    }

    /// The name with its article: "an object", "null".
    fn phrase(self) -> &'static str {
        match self {
            JsonType::Object => "an object",
            JsonType::Array => "an array",
            JsonType::String => "a string",
            JsonType::Number => "a number",
            JsonType::Integer => "an integer",
            JsonType::Boolean => "a boolean",
            JsonType::Null => "null",
        }
    }

    fn matches(self, value: &Value) -> bool {
        match (self, value) {
            (JsonType::Object, Value::Object(_))
            | (JsonType::Array, Value::Array(_))
            | (JsonType::String, Value::String(_))
            | (JsonType::Number, Value::Number(_))
            | (JsonType::Boolean, Value::Bool(_))
            | (JsonType::Null, Value::Null) => true,
            (JsonType::Integer, Value::Number(n)) => is_integer(n),
            _ => false,
        }
    }
}

fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

/// "an object", "a string", "a number", ... for the kind of `value`.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

/// A short rendering of `value` for messages: scalars as JSON (long strings
/// cut), objects and arrays by kind.
fn show(value: &Value) -> String {
    const MAX: usize = 40;
    match value {
        Value::Object(_) | Value::Array(_) => kind(value).to_owned(),
        Value::String(s) if s.chars().count() > MAX => {
            let cut: String = s.chars().take(MAX).collect();
            format!("{}…", Value::String(cut))
        }
        _ => value.to_string(),
    }
}

/// "a", "a or b", "a, b or c".
fn alternatives<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn describe_pointer(pointer: &str) -> String {
    if pointer.is_empty() { "at the root".to_owned() } else { format!("at `{pointer}`") }
}

/// Appends `token` to `pointer` as one JSON pointer reference token.
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

fn child(pointer: &str, token: &str) -> String {
    let mut p = pointer.to_owned();
    push_token(&mut p, token);
    p
}

/// Compares numbers by value, exactly for integers.
fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    fn int(n: &Number) -> Option<i128> {
        n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// JSON equality: numbers by value, objects regardless of key order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
        _ => a == b,
    }
}

fn error(pointer: String, message: impl Into<String>) -> SchemaError {
    SchemaError { pointer, message: message.into() }
}

impl Schema {
    /// Compiles a schema (see the [module documentation](self) for what is
    /// supported). The error names the JSON pointer of the first faulty
    /// keyword found, keywords being examined in byte order at each level.
    pub fn compile(schema: &Value) -> Result<Schema, SchemaError> {
        Schema::compile_at(schema, String::new())
    }

    fn compile_at(schema: &Value, pointer: String) -> Result<Schema, SchemaError> {
        let Value::Object(object) = schema else {
            return Err(error(pointer, format!("a schema must be an object, found {}", kind(schema))));
        };
        let mut keys: Vec<&String> = object.keys().collect();
        keys.sort();
        let mut compiled = Schema::default();
        for key in keys {
            let value = &object[key];
            let here = child(&pointer, key);
            match key.as_str() {
                "type" => compiled.types = Some(compile_type(value, &here)?),
                "properties" => compiled.properties = compile_properties(value, &here)?,
                "required" => compiled.required = compile_required(value, &here)?,
                "additionalProperties" => {
                    compiled.additional = match value {
                        Value::Bool(true) => Additional::Allowed,
                        Value::Bool(false) => Additional::Forbidden,
                        Value::Object(_) => Additional::Schema(Box::new(Schema::compile_at(value, here)?)),
                        other => {
                            return Err(error(
                                here,
                                format!("`additionalProperties` must be a boolean or a schema, found {}", kind(other)),
                            ));
                        }
                    }
                }
                "items" => {
                    compiled.items = Some(Box::new(match value {
                        Value::Object(_) => Schema::compile_at(value, here)?,
                        Value::Array(_) => {
                            return Err(error(here, "`items` as an array of schemas (tuple validation) is not supported; use one schema"));
                        }
                        other => {
                            return Err(error(here, format!("`items` must be a schema, found {}", kind(other))));
                        }
                    }))
                }
                "enum" => match value {
                    Value::Array(options) if !options.is_empty() => compiled.enumeration = Some(options.clone()),
                    Value::Array(_) => return Err(error(here, "`enum` must not be empty: no value could match")),
                    other => return Err(error(here, format!("`enum` must be an array, found {}", kind(other)))),
                },
                "const" => compiled.constant = Some(value.clone()),
                "minimum" => compiled.minimum = Some(compile_number(value, key, here)?),
                "maximum" => compiled.maximum = Some(compile_number(value, key, here)?),
                "minLength" => compiled.min_length = Some(compile_length(value, key, here)?),
                "maxLength" => compiled.max_length = Some(compile_length(value, key, here)?),
                k if ANNOTATION_KEYWORDS.contains(&k) => {}
                other => {
                    return Err(error(
                        here,
                        format!(
                            "unsupported keyword `{other}`: it would not be enforced (supported: {}; ignored annotations: {})",
                            SUPPORTED_KEYWORDS.join(", "),
                            ANNOTATION_KEYWORDS.join(", ")
                        ),
                    ));
                }
            }
        }
        if let (Some(min), Some(max)) = (&compiled.minimum, &compiled.maximum)
            && cmp_numbers(min, max) == Some(Ordering::Greater)
        {
            return Err(error(
                child(&pointer, "minimum"),
                format!("`minimum` ({min}) is greater than `maximum` ({max}): no number could match"),
            ));
        }
        if let (Some(min), Some(max)) = (compiled.min_length, compiled.max_length)
            && min > max
        {
            return Err(error(
                child(&pointer, "minLength"),
                format!("`minLength` ({min}) is greater than `maxLength` ({max}): no string could match"),
            ));
        }
        Ok(compiled)
    }

    /// Validates `instance`, returning every violation (none: valid), in the
    /// deterministic order described in the [module documentation](self).
    pub fn validate(&self, instance: &Value) -> Vec<Violation> {
        let mut violations = Vec::new();
        self.check(instance, &mut String::new(), &mut violations);
        violations
    }

    /// Whether `instance` is valid: `validate(instance).is_empty()`.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validate(instance).is_empty()
    }

    fn check(&self, value: &Value, pointer: &mut String, out: &mut Vec<Violation>) {
        let mut report = |rule: &str, message: String| {
            out.push(Violation { pointer: pointer.clone(), rule: rule.to_owned(), message });
        };
        if let Some(types) = &self.types
            && !types.iter().any(|t| t.matches(value))
        {
            let found = match value {
                Value::Number(_) if types.contains(&JsonType::Integer) => "a number with a fractional part",
                _ => kind(value),
            };
            report("type", format!("must be {}, found {found}", alternatives(types.iter().map(|t| t.phrase()))));
            return;
        }
        if let Some(options) = &self.enumeration
            && !options.iter().any(|o| json_eq(o, value))
        {
            let options: Vec<String> = options.iter().map(show).collect();
            report("enum", format!("must be one of {}, found {}", alternatives(options.iter().map(String::as_str)), show(value)));
        }
        if let Some(constant) = &self.constant
            && !json_eq(constant, value)
        {
            report("const", format!("must be {}, found {}", show(constant), show(value)));
        }
        if let Value::Number(n) = value {
            if let Some(min) = &self.minimum
                && cmp_numbers(n, min) == Some(Ordering::Less)
            {
                report("minimum", format!("must be at least {min}, found {n}"));
            }
            if let Some(max) = &self.maximum
                && cmp_numbers(n, max) == Some(Ordering::Greater)
            {
                report("maximum", format!("must be at most {max}, found {n}"));
            }
        }
        if let Value::String(s) = value {
            let length = s.chars().count() as u64;
            let characters = |n: u64| if n == 1 { "1 character".to_owned() } else { format!("{n} characters") };
            if let Some(min) = self.min_length
                && length < min
            {
                report("minLength", format!("must be at least {} long, found {}", characters(min), characters(length)));
            }
            if let Some(max) = self.max_length
                && length > max
            {
                report("maxLength", format!("must be at most {} long, found {}", characters(max), characters(length)));
            }
        }
        match value {
            Value::Object(object) => self.check_object(object, pointer, out),
            Value::Array(elements) => {
                if let Some(items) = &self.items {
                    for (index, element) in elements.iter().enumerate() {
                        let len = pointer.len();
                        push_token(pointer, &index.to_string());
                        items.check(element, pointer, out);
                        pointer.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(&self, object: &Map<String, Value>, pointer: &mut String, out: &mut Vec<Violation>) {
        for name in &self.required {
            if !object.contains_key(name) {
                out.push(Violation {
                    pointer: pointer.clone(),
                    rule: "required".to_owned(),
                    message: format!("required property `{name}` is missing"),
                });
            }
        }
        let mut names: Vec<&String> = object.keys().collect();
        names.sort();
        for name in names {
            let len = pointer.len();
            push_token(pointer, name);
            let value = &object[name];
            match (self.properties.get(name), &self.additional) {
                (Some(schema), _) => schema.check(value, pointer, out),
                (None, Additional::Allowed) => {}
                (None, Additional::Forbidden) => out.push(Violation {
                    pointer: pointer.clone(),
                    rule: "additionalProperties".to_owned(),
                    message: format!("property `{name}` is not allowed: the schema does not list it"),
                }),
                (None, Additional::Schema(schema)) => schema.check(value, pointer, out),
            }
            pointer.truncate(len);
        }
    }
}

/// The JSON text of the standard schema of `topic` (one of
/// [`STANDARD_TOPICS`]), e.g. as a starting point for a custom schema.
pub fn standard_source(topic: &str) -> Option<&'static str> {
    Some(match topic {
        "access" => include_str!("../../schemas/access.json"),
        "activity" => include_str!("../../schemas/activity.json"),
        "authentication" => include_str!("../../schemas/authentication.json"),
        "config" => include_str!("../../schemas/config.json"),
        _ => return None,
    })
}

/// The compiled standard ForgeRock schema of `topic` (one of
/// [`STANDARD_TOPICS`]), compiled on first use; `None` for other topics.
///
/// All four require `_id`, `timestamp`, `transactionId` and `eventName` and
/// allow extra fields.
pub fn standard(topic: &str) -> Option<&'static Schema> {
    static ACCESS: OnceLock<Schema> = OnceLock::new();
    static ACTIVITY: OnceLock<Schema> = OnceLock::new();
    static AUTHENTICATION: OnceLock<Schema> = OnceLock::new();
    static CONFIG: OnceLock<Schema> = OnceLock::new();
    let cell = match topic {
        "access" => &ACCESS,
        "activity" => &ACTIVITY,
        "authentication" => &AUTHENTICATION,
        "config" => &CONFIG,
        _ => return None,
    };
    Some(cell.get_or_init(|| {
        let source = standard_source(topic).expect("every standard topic has a source");
        let value: Value = serde_json::from_str(source).unwrap_or_else(|e| panic!("embedded schemas/{topic}.json is not JSON: {e}"));
        Schema::compile(&value).unwrap_or_else(|e| panic!("embedded schemas/{topic}.json does not compile: {e}"))
    }))
}
