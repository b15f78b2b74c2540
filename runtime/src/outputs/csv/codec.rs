//! The CSV codec: audit events to CSV records and back, with the settings
//! of ForgeRock's `CsvAuditEventHandler` (`formatting.quoteChar`,
//! `formatting.delimiterChar`, `formatting.endOfLineSymbols`) plus one of
//! WASP's own (`formatting.neutraliseFormulas`). No file I/O happens here.
//!
//! # What ForgeRock does, and what WASP does
//!
//! Checked against the ForgeRock common audit source as published in
//! `OpenIdentityPlatform/commons` (`audit/forgerock-audit-handler-csv`,
//! `CsvAuditEventHandler.java`; `audit/forgerock-audit-core`,
//! `JsonSchemaUtils.java`, `AuditEventHelper.java`) and SuperCSV 2.x, which
//! it writes with.
//!
//! - **Quoting.** ForgeRock builds its `CsvPreference` from the three
//!   `formatting` settings with `.useQuoteMode(new AlwaysQuoteMode())`:
//!   every non-empty cell is quoted, a quote inside a cell is doubled.
//!   Absent and empty values are left out of the row, and SuperCSV writes
//!   such a cell as nothing at all (no quotes). [`CsvFormat::encode`] does
//!   the same: non-empty cells always quoted, empty cells bare.
//!   *Difference:* SuperCSV's encoder rewrites a line break inside a cell
//!   (CR, LF or CRLF) as `endOfLineSymbols`; WASP keeps it as it is, so
//!   that every cell decodes to exactly what was encoded.
//! - **Columns.** ForgeRock's `generateJsonPointers` walks the topic
//!   schema's `properties`: a property whose `type` is `"object"` is
//!   descended into, anything else (strings, numbers, arrays...) is one
//!   column, and an object with no `properties` is one column too; the
//!   JSON pointers (`/http/request/method`) become dot notation
//!   (`http.request.method`) for the header. [`columns_for_schema`] does
//!   the same, and also descends into a `type` array that names `"object"`.
//!   *Difference:* ForgeRock keeps the schema file's property order; here
//!   `serde_json` maps are sorted (the workspace does not enable
//!   `preserve_order`), so the order is `_id` first, then the rest walking
//!   property names in byte order at each level (siblings stay together:
//!   `client.ip`, `client.port`, `eventName`, ...). Readers should find
//!   columns by the header's names, never by position.
//! - **Cells back into events.** When ForgeRock reads a file for a query it
//!   parses the cells of columns typed `object` or `array` as JSON and keeps
//!   every other cell a string (a port comes back as `"8080"`).
//!   [`row_to_event`] parses every column whose type is not `string`, so
//!   numbers and booleans come back as numbers and booleans.
//! - **Header.** ForgeRock writes the column names as the first record of
//!   each new file; a sink should encode [`columns_for_schema`] the same way.
//!
//! What a CSV file cannot keep, in ForgeRock as here: fields the schema
//! does not name (extra top-level fields, extra keys of a flattened object)
//! have no column; an empty string is not told apart from an absent value;
//! a property name containing `.` cannot be told apart from nesting.
//!
//! # Formula neutralisation (off by default)
//!
//! ForgeRock does not sanitise cells and its documentation warns against
//! opening its CSV logs in spreadsheets. With `neutraliseFormulas`, WASP
//! follows the OWASP CSV-injection advice: a cell starting with `=`, `+`,
//! `-`, `@`, TAB or CR is written with a leading `'`, so a spreadsheet shows
//! it as text. **This changes the stored value** (a negative number `-5` is
//! written `'-5`), which is why it is off by default; [`row_to_event`]
//! removes the `'` again when told the file was written neutralised. So
//! that this is exactly reversible, a cell that already starts with one or
//! more `'` followed by one of those characters gets one more `'` too.
//!
//! # Decoding and torn writes
//!
//! [`CsvFormat::decode`] reads quoted cells (which may hold the delimiter,
//! doubled quotes and line breaks) and bare cells (holding no quote and no
//! line break). A record ends with `endOfLineSymbols`; a last record
//! without it is returned with `complete: false`, never merged with what a
//! later write appends. Anything else out of place (a quote inside a bare
//! cell, text after a closing quote, a line break outside quotes that is
//! not the end of line) is a [`CsvError::Syntax`] naming the line.
//!
//! Line numbers count physical lines, as an editor shows them (LF, CRLF and
//! a lone CR each end one), so a record holding line breaks spans several.
//! An unterminated quote takes everything after it into one incomplete
//! record: before cutting an incomplete tail, a sink should check that it
//! is no longer than its own last write.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::{Map, Value};

/// First characters a spreadsheet may take as the start of a formula.
const FORMULA_TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// The prefix formula neutralisation adds.
const FORMULA_GUARD: char = '\'';

/// Why settings or a CSV text were refused.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// A setting is malformed or inconsistent with another.
    #[error("{field}: {message}")]
    Settings {
        /// The offending setting, in dot notation (`formatting.quoteChar`).
        field: String,
        /// What is wrong with it, for people.
        message: String,
    },
    /// The text is not CSV of this format.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based physical line where the problem was found.
        line: usize,
        /// What is wrong, for people.
        message: String,
    },
}

impl CsvError {
    fn settings(field: &str, message: impl Into<String>) -> CsvError {
        CsvError::Settings { field: field.to_owned(), message: message.into() }
    }
}

/// How records are written: ForgeRock's `formatting` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvFormat {
    /// `formatting.quoteChar`: the character around every non-empty cell;
    /// default `"`.
    pub quote: char,
    /// `formatting.delimiterChar`: the character between cells; default `,`.
    pub delimiter: char,
    /// `formatting.endOfLineSymbols`: what ends every record; default `"\n"`
    /// (ForgeRock uses the JVM's line separator, `"\n"` on Linux).
    pub end_of_line: String,
    /// `formatting.neutraliseFormulas` (WASP only, not in ForgeRock): prefix
    /// cells that a spreadsheet would take as a formula with `'` (see the
    /// module documentation); default `false`.
    pub neutralise_formulas: bool,
}

impl Default for CsvFormat {
    fn default() -> CsvFormat {
        CsvFormat { quote: '"', delimiter: ',', end_of_line: "\n".to_owned(), neutralise_formulas: false }
    }
}

/// One record read by [`CsvFormat::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    /// The cells, unquoted (of an incomplete record, the last may be cut).
    pub cells: Vec<String>,
    /// Where the record is in the decoded text, in bytes, its end of line
    /// included.
    pub range: Range<usize>,
    /// The 1-based physical line where the record starts.
    pub line: usize,
    /// Whether the record ends with the end of line; `false` only for the
    /// last record of a text, after a torn write.
    pub complete: bool,
}

impl CsvFormat {
    /// Reads the `formatting` object of a handler's settings (the whole
    /// `config` map, as written): `quoteChar`, `delimiterChar` (each exactly
    /// one character), `endOfLineSymbols` (a non-empty string) and
    /// `neutraliseFormulas` (a boolean, or the string `"true"`/`"false"` in
    /// any case). Anything missing keeps its default; other keys of the
    /// settings are not looked at, but an unknown key inside `formatting` is
    /// an error. Errors name the field: `formatting.quoteChar: ...`.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<CsvFormat, CsvError> {
        let mut format = CsvFormat::default();
        let formatting = match settings.get("formatting") {
            None => return Ok(format),
            Some(Value::Object(formatting)) => formatting,
            Some(_) => return Err(CsvError::settings("formatting", "must be an object")),
        };
        for (key, value) in formatting {
            let field = format!("formatting.{key}");
            match key.as_str() {
                "quoteChar" => format.quote = one_char(&field, value)?,
                "delimiterChar" => format.delimiter = one_char(&field, value)?,
                "endOfLineSymbols" => format.end_of_line = string(&field, value)?.to_owned(),
                "neutraliseFormulas" => format.neutralise_formulas = boolean(&field, value)?,
                _ => {
                    return Err(CsvError::settings(
                        &field,
                        "unknown setting (known: quoteChar, delimiterChar, endOfLineSymbols, neutraliseFormulas)",
                    ));
                }
            }
        }
        format.validate()?;
        Ok(format)
    }

    /// Checks that the characters can be told apart: quote and delimiter
    /// differ and are not line breaks; the end of line is not empty and
    /// holds neither of them.
    pub fn validate(&self) -> Result<(), CsvError> {
        let line_break = |c: char| c == '\r' || c == '\n';
        if line_break(self.quote) {
            return Err(CsvError::settings("formatting.quoteChar", "must not be a line break"));
        }
        if line_break(self.delimiter) {
            return Err(CsvError::settings("formatting.delimiterChar", "must not be a line break"));
        }
        if self.quote == self.delimiter {
            return Err(CsvError::settings(
                "formatting.delimiterChar",
                format!("must differ from formatting.quoteChar ({:?})", self.quote),
            ));
        }
        let eol = "formatting.endOfLineSymbols";
        if self.end_of_line.is_empty() {
            return Err(CsvError::settings(eol, "must not be empty"));
        }
        if self.end_of_line.contains(self.quote) {
            return Err(CsvError::settings(eol, format!("must not contain the quote character {:?}", self.quote)));
        }
        if self.end_of_line.contains(self.delimiter) {
            return Err(CsvError::settings(eol, format!("must not contain the delimiter {:?}", self.delimiter)));
        }
        Ok(())
    }

    /// One record: every non-empty cell quoted (quotes inside doubled),
    /// empty cells written as nothing, joined by the delimiter, ending with
    /// the end of line. With `neutralise_formulas`, a cell starting with one
    /// of `=` `+` `-` `@` TAB CR gets a leading `'` first, which changes the
    /// stored value (see the module documentation). No cells at all encode
    /// like one empty cell.
    pub fn encode(&self, cells: &[&str]) -> String {
        let mut out = String::new();
        for (i, &cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            if cell.is_empty() {
                continue;
            }
            let cell: Cow<'_, str> = if self.neutralise_formulas && looks_like_formula(cell) {
                Cow::Owned(format!("{FORMULA_GUARD}{cell}"))
            } else {
                Cow::Borrowed(cell)
            };
            out.push(self.quote);
            for c in cell.chars() {
                if c == self.quote {
                    out.push(c);
                }
                out.push(c);
            }
            out.push(self.quote);
        }
        out.push_str(&self.end_of_line);
        out
    }

    /// Splits `text` into records of unquoted cells, each with its byte
    /// range in `text` and the line where it starts. A last record without
    /// the end of line (a torn write, even one torn inside a quoted cell or
    /// inside the end of line) is returned with `complete: false`. Fails
    /// with [`CsvError::Syntax`] on text that is not CSV of this format, and
    /// with [`CsvError::Settings`] if the format itself is invalid.
    pub fn decode(&self, text: &str) -> Result<Vec<DecodedRecord>, CsvError> {
        self.validate()?;
        let mut lines = LineCounter { bytes: text.as_bytes(), pos: 0, line: 1 };
        let mut records = Vec::new();
        let mut pos = 0;
        while pos < text.len() {
            let line = lines.line_at(pos);
            let (cells, end, complete) = self.decode_record(text, pos, &mut lines)?;
            records.push(DecodedRecord { cells, range: pos..end, line, complete });
            pos = end;
        }
        Ok(records)
    }

    /// Reads the record starting at `start`: its cells, where it ends, and
    /// whether it is complete.
    fn decode_record(&self, text: &str, start: usize, lines: &mut LineCounter<'_>) -> Result<(Vec<String>, usize, bool), CsvError> {
        let eol = self.end_of_line.as_str();
        let quote_len = self.quote.len_utf8();
        let mut cells = Vec::new();
        let mut pos = start;
        loop {
            let mut cell = String::new();
            if text[pos..].starts_with(self.quote) {
                pos += quote_len;
                loop {
                    let Some(i) = text[pos..].find(self.quote) else {
                        // Unterminated quote: the write was torn inside it.
                        cell.push_str(&text[pos..]);
                        cells.push(cell);
                        return Ok((cells, text.len(), false));
                    };
                    cell.push_str(&text[pos..pos + i]);
                    pos += i + quote_len;
                    if text[pos..].starts_with(self.quote) {
                        cell.push(self.quote);
                        pos += quote_len;
                    } else {
                        break;
                    }
                }
            } else {
                let rest = &text[pos..];
                let mut stop = rest.len();
                for (i, c) in rest.char_indices() {
                    let here = &rest[i..];
                    if c == self.delimiter || here.starts_with(eol) || eol.starts_with(here) {
                        stop = i;
                        break;
                    }
                    if c == self.quote {
                        return Err(syntax(lines.line_at(pos + i), "a quote inside a cell that does not start with one"));
                    }
                    if c == '\r' || c == '\n' {
                        return Err(syntax(lines.line_at(pos + i), "a line break outside quotes that is not the end of line"));
                    }
                }
                cell.push_str(&rest[..stop]);
                pos += stop;
            }
            cells.push(cell);
            let rest = &text[pos..];
            if rest.is_empty() {
                return Ok((cells, pos, false));
            }
            if rest.starts_with(self.delimiter) {
                pos += self.delimiter.len_utf8();
            } else if rest.starts_with(eol) {
                return Ok((cells, pos + eol.len(), true));
            } else if eol.starts_with(rest) {
                // Torn inside the end of line itself.
                return Ok((cells, text.len(), false));
            } else {
                let found = rest.chars().next().unwrap_or_default();
                return Err(syntax(
                    lines.line_at(pos),
                    format!("{found:?} after a closing quote, where the delimiter or the end of line belongs"),
                ));
            }
        }
    }
}

/// Counts physical lines up to a position, remembering where it got to.
struct LineCounter<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl LineCounter<'_> {
    /// The 1-based line of byte `pos`: LF, CRLF and a lone CR each end one.
    fn line_at(&mut self, pos: usize) -> usize {
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        let bytes = self.bytes;
        for (i, &b) in bytes.iter().enumerate().take(pos).skip(self.pos) {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.pos = pos;
        self.line
    }
}

fn syntax(line: usize, message: impl Into<String>) -> CsvError {
    CsvError::Syntax { line, message: message.into() }
}

fn string<'a>(field: &str, value: &'a Value) -> Result<&'a str, CsvError> {
    value.as_str().ok_or_else(|| CsvError::settings(field, format!("must be a string, not {value}")))
}

fn one_char(field: &str, value: &Value) -> Result<char, CsvError> {
    let text = string(field, value)?;
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(CsvError::settings(field, format!("must be exactly one character, not {text:?}"))),
    }
}

fn boolean(field: &str, value: &Value) -> Result<bool, CsvError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(CsvError::settings(field, format!("must be true or false, not {value}"))),
    }
}

/// Whether neutralisation prefixes `cell`: it starts with a formula
/// trigger, possibly after `'`s (so that removing one `'` is unambiguous).
fn looks_like_formula(cell: &str) -> bool {
    cell.trim_start_matches(FORMULA_GUARD).starts_with(FORMULA_TRIGGERS)
}

/// Undoes [`CsvFormat::encode`]'s neutralisation of one cell.
fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix(FORMULA_GUARD) {
        Some(rest) if looks_like_formula(rest) => rest,
        _ => cell,
    }
}

/// The schema of the topic's events: `schema` itself, or its `schema`
/// member when it is ForgeRock's `{"schema": {...}}` wrapping.
fn topic_schema(schema: &Value) -> &Value {
    match schema.get("schema") {
        Some(inner) if inner.is_object() && schema.get("properties").is_none() => inner,
        _ => schema,
    }
}

fn non_empty_properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties")?.as_object().filter(|p| !p.is_empty())
}

/// Whether `schema`'s `type` names `name` (alone or in a type array).
fn has_type(schema: &Value, name: &str) -> Option<bool> {
    match schema.get("type")? {
        Value::String(t) => Some(t == name),
        Value::Array(types) => Some(types.iter().any(|t| t == name)),
        _ => Some(false),
    }
}

/// Column names of a topic from its JSON schema (the schema itself or
/// ForgeRock's `{"schema": {...}}`), in dot notation: properties of
/// `"object"` type that have `properties` are flattened
/// (`http.request.method`); arrays, objects without `properties` (such as
/// ones with `additionalProperties` only) and everything else are one
/// column, whose cell holds JSON text for arrays and objects. `_id` comes
/// first, then the rest with property names in byte order at each level
/// (`serde_json` maps are sorted here; ForgeRock keeps the schema's order).
pub fn columns_for_schema(schema: &Value) -> Vec<String> {
    fn flatten(properties: &Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
        for (name, property) in properties {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            match non_empty_properties(property) {
                Some(nested) if has_type(property, "object") == Some(true) => flatten(nested, &path, out),
                _ => out.push(path),
            }
        }
    }
    let mut columns = Vec::new();
    if let Some(properties) = non_empty_properties(topic_schema(schema)) {
        flatten(properties, "", &mut columns);
    }
    if let Some(i) = columns.iter().position(|c| c == "_id") {
        let id = columns.remove(i);
        columns.insert(0, id);
    }
    columns
}

/// The cells of `event` for `columns` (dot notation): strings as they are,
/// numbers and booleans as JSON text, objects and arrays as compact JSON
/// text, absent values and `null` as empty cells.
pub fn event_cells(columns: &[String], event: &Value) -> Vec<String> {
    columns
        .iter()
        .map(|column| {
            let value = column.split('.').try_fold(event, |value, name| value.as_object()?.get(name));
            match value {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            }
        })
        .collect()
}

/// Rebuilds an event from a row, for queries: each dot-notation column
/// becomes a member of nested objects; empty cells are left out. A cell is
/// parsed back into a number, boolean, object or array when `schema` (as
/// for [`columns_for_schema`]) gives its column a type other than `string`
/// (or no type) and the cell is such JSON; otherwise, and for columns the
/// schema does not know, it stays a string. With `neutralised` (the file
/// was written with `neutralise_formulas`), the `'` that neutralisation
/// added is removed first. Cells beyond `columns` are ignored; a column
/// that would nest under a member already holding something else is
/// dropped (the first wins).
pub fn row_to_event(columns: &[String], cells: &[String], schema: &Value, neutralised: bool) -> Value {
    let mut event = Map::new();
    for (column, cell) in columns.iter().zip(cells) {
        let cell = if neutralised { unneutralise(cell) } else { cell.as_str() };
        if cell.is_empty() {
            continue;
        }
        let column_schema = column.split('.').try_fold(topic_schema(schema), |s, name| s.get("properties")?.get(name));
        let textual = match column_schema {
            None => true,
            Some(s) => has_type(s, "string").unwrap_or(false),
        };
        let value = match textual {
            true => None,
            false => serde_json::from_str::<Value>(cell).ok().filter(|v| !v.is_string() && !v.is_null()),
        };
        let value = value.unwrap_or_else(|| Value::String(cell.to_owned()));
        insert_path(&mut event, column, value);
    }
    Value::Object(event)
}

/// Puts `value` at the dot-notation `path` of `event`, creating objects on
/// the way; leaves `event` as it is if something is already there.
fn insert_path(event: &mut Map<String, Value>, path: &str, value: Value) {
    let mut names = path.split('.');
    let mut map = event;
    let Some(mut name) = names.next() else { return };
    for next in names {
        match map.entry(name.to_owned()).or_insert_with(|| Value::Object(Map::new())) {
            Value::Object(nested) => map = nested,
            _ => return,
        }
        name = next;
    }
    map.entry(name.to_owned()).or_insert(value);
}
