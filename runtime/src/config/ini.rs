//! eZ Publish's INI settings files (`audit.ini`, `site.ini` and their
//! `.append.php` overrides), read into JSON so that a WASM handler's
//! `configFile` can be the file an eZ site already has.
//!
//! - `[Section]` starts a section: an object of the result.
//! - `Key=Value`: a string (the value trimmed; no quoting).
//! - `Key[]` alone empties the array `Key` (an override's way to replace
//!   the defaults instead of adding to them).
//! - `Key[]=Value` appends to the array `Key`; `Key[name]=Value` sets
//!   `name` of the associative array `Key` (a JSON object).
//! - Lines starting with `#` or `;` are comments; the PHP guard of
//!   `.ini.append.php` files (`<?php /* … */ ?>`) is skipped.
//!
//! `[AuditSettings]` with `Audit=enabled`, `AuditFileNames[]`,
//! `AuditFileNames[user-login]=login.log` reads as `{"AuditSettings":
//! {"Audit": "enabled", "AuditFileNames": {"user-login": "login.log"}}}`.
//! An array emptied and never filled is `[]`. Errors name the line.

use serde_json::{Map, Value};

/// What one key holds while the file is read.
enum Entry {
    Text(String),
    List(Vec<Value>),
    Named(Map<String, Value>),
    /// Emptied by `Key[]`, not filled since.
    Empty,
}

/// A line of an INI file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct IniError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Reads eZ INI `text` into `{section: {key: value}}`.
pub fn parse(text: &str) -> Result<Value, IniError> {
    let mut sections: Vec<(String, Vec<(String, Entry)>)> = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |message: String| IniError { line: number + 1, message };
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') || line.starts_with("<?php") || line.starts_with("*/") {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or_else(|| at(format!("`{line}`: a section header ends with `]`")))?.trim();
            if name.is_empty() {
                return Err(at("a section needs a name".into()));
            }
            if !sections.iter().any(|(n, _)| n == name) {
                sections.push((name.to_owned(), Vec::new()));
            }
            let i = sections.iter().position(|(n, _)| n == name).expect("present");
            let section = sections.remove(i);
            sections.push(section);
            continue;
        }
        let Some((_, entries)) = sections.last_mut() else {
            return Err(at(format!("`{line}` is outside any [Section]")));
        };
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line, None),
        };
        let (name, index) = match key.split_once('[') {
            Some((name, rest)) => {
                let index = rest.strip_suffix(']').ok_or_else(|| at(format!("`{key}`: an array key ends with `]`")))?;
                (name.trim(), Some(index.trim()))
            }
            None => (key, None),
        };
        if name.is_empty() {
            return Err(at(format!("`{line}` has no key")));
        }
        let slot = match entries.iter().position(|(k, _)| k == name) {
            Some(i) => &mut entries[i].1,
            None => {
                entries.push((name.to_owned(), Entry::Empty));
                &mut entries.last_mut().expect("pushed").1
            }
        };
        match (index, value) {
            (None, Some(v)) => *slot = Entry::Text(v.to_owned()),
            (None, None) => return Err(at(format!("`{line}`: expected `{name}=value`"))),
            (Some(""), None) => *slot = Entry::Empty,
            (Some(_), None) => return Err(at(format!("`{line}`: expected `{key}=value`"))),
            (Some(""), Some(v)) => match slot {
                Entry::List(items) => items.push(Value::String(v.to_owned())),
                Entry::Empty | Entry::Text(_) => *slot = Entry::List(vec![Value::String(v.to_owned())]),
                Entry::Named(_) => {
                    return Err(at(format!("`{name}` mixes `{name}[]=` and `{name}[key]=` entries")));
                }
            },
            (Some(k), Some(v)) => match slot {
                Entry::Named(map) => {
                    map.insert(k.to_owned(), Value::String(v.to_owned()));
                }
                Entry::Empty | Entry::Text(_) => {
                    let mut map = Map::new();
                    map.insert(k.to_owned(), Value::String(v.to_owned()));
                    *slot = Entry::Named(map);
                }
                Entry::List(_) => {
                    return Err(at(format!("`{name}` mixes `{name}[]=` and `{name}[key]=` entries")));
                }
            },
        }
    }
    let mut out = Map::new();
    for (section, entries) in sections {
        let object: Map<String, Value> = entries
            .into_iter()
            .map(|(k, e)| {
                let v = match e {
                    Entry::Text(t) => Value::String(t),
                    Entry::List(items) => Value::Array(items),
                    Entry::Named(map) => Value::Object(map),
                    Entry::Empty => Value::Array(Vec::new()),
                };
                (k, v)
            })
            .collect();
        out.insert(section, Value::Object(object));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn the_seed_override_reads_as_the_settings_it_means() {
        let text = "<?php /* #?ini charset=\"utf-8\"?\n\n[AuditSettings]\nAudit=enabled\nLogDir=log/my_audit\nAuditFileNames[]\n\
                    AuditFileNames[user-login]=login.log\nAuditFileNames[role-change]=role_change.log\n# a comment\n*/ ?>\n";
        assert_eq!(
            parse(text).unwrap(),
            json!({"AuditSettings": {"Audit": "enabled", "LogDir": "log/my_audit",
                   "AuditFileNames": {"user-login": "login.log", "role-change": "role_change.log"}}})
        );
    }

    #[test]
    fn arrays_emptied_lists_and_repeated_sections() {
        let text = "[A]\nList[]=x\nList[]=y\nGone[]\n[B]\nK=1\n[A]\nK = v w \n";
        assert_eq!(parse(text).unwrap(), json!({"A": {"List": ["x", "y"], "Gone": [], "K": "v w"}, "B": {"K": "1"}}));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("Audit=enabled").unwrap_err().to_string(), "line 1: `Audit=enabled` is outside any [Section]");
        assert_eq!(parse("[A]\nK[]=a\nK[x]=b").unwrap_err().to_string(), "line 3: `K` mixes `K[]=` and `K[key]=` entries");
        assert_eq!(parse("[A\n").unwrap_err().line, 1);
        assert!(parse("[A]\njust text\n").unwrap_err().to_string().contains("expected `just text=value`"));
    }
}
