//! Compiling the keywords whose values need checking (`type`, numbers,
//! lengths, `properties`, `required`).

use super::*;

pub(super) fn compile_type(value: &Value, pointer: &str) -> Result<Vec<JsonType>, SchemaError> {
    let parse = |name: &Value, at: String| -> Result<JsonType, SchemaError> {
        match name {
            Value::String(s) => JsonType::parse(s).ok_or_else(|| error(at, format!("unknown type `{s}` (expected one of {TYPE_NAMES})"))),
            other => Err(error(at, format!("a type name must be a string, found {}", kind(other)))),
        }
    };
    let mut types = match value {
        Value::String(_) => vec![parse(value, pointer.to_owned())?],
        Value::Array(names) if names.is_empty() => {
            return Err(error(pointer.to_owned(), "`type` must not be an empty array: no value could match"));
        }
        Value::Array(names) => {
            let mut types = Vec::with_capacity(names.len());
            for (index, name) in names.iter().enumerate() {
                let t = parse(name, child(pointer, &index.to_string()))?;
                if types.contains(&t) {
                    return Err(error(child(pointer, &index.to_string()), format!("type `{}` is listed twice", t.name())));
                }
                types.push(t);
            }
            types
        }
        other => {
            return Err(error(pointer.to_owned(), format!("`type` must be a type name or an array of type names, found {}", kind(other))));
        }
    };
    types.sort();
    Ok(types)
}

pub(super) fn compile_number(value: &Value, keyword: &str, pointer: String) -> Result<Number, SchemaError> {
    match value {
        Value::Number(n) => Ok(n.clone()),
        other => Err(error(pointer, format!("`{keyword}` must be a number, found {}", kind(other)))),
    }
}

pub(super) fn compile_length(value: &Value, keyword: &str, pointer: String) -> Result<u64, SchemaError> {
    value.as_u64().ok_or_else(|| error(pointer, format!("`{keyword}` must be a non-negative integer, found {}", show(value))))
}

pub(super) fn compile_properties(value: &Value, pointer: &str) -> Result<BTreeMap<String, Schema>, SchemaError> {
    let Value::Object(properties) = value else {
        return Err(error(pointer.to_owned(), format!("`properties` must be an object mapping names to schemas, found {}", kind(value))));
    };
    let mut names: Vec<&String> = properties.keys().collect();
    names.sort();
    names.into_iter().map(|name| Ok((name.clone(), Schema::compile_at(&properties[name], child(pointer, name))?))).collect()
}

pub(super) fn compile_required(value: &Value, pointer: &str) -> Result<Vec<String>, SchemaError> {
    let Value::Array(names) = value else {
        return Err(error(pointer.to_owned(), format!("`required` must be an array of strings, found {}", kind(value))));
    };
    let mut required: Vec<String> = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let at = child(pointer, &index.to_string());
        let Value::String(name) = name else {
            return Err(error(at, format!("`required` must be an array of strings, found {} in it", kind(name))));
        };
        if required.contains(name) {
            return Err(error(at, format!("`required` lists `{name}` twice")));
        }
        required.push(name.clone());
    }
    Ok(required)
}
