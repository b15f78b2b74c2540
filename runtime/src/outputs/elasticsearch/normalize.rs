//! ForgeRock's Elasticsearch-compatible form of an event (the JSON
//! handlers' `elasticsearchCompatible`, and what the Elasticsearch handler
//! indexes): `normalize` for writes, `denormalize` for reads, which undoes
//! it.

use serde_json::{Map, Value};

/// Elasticsearch-compatible form: `_id` → `_eventId`, dots in field names
/// → `_`, with `_normalized.fieldNames` (pointer of the normalized field →
/// its original name) when any name changed.
pub fn normalize(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    if let Some(id) = map.remove("_id") {
        map.insert("_eventId".into(), id);
    }
    let mut renamed = Map::new();
    let mut out = Value::Object(normalize_keys(map, "", &mut renamed));
    if !renamed.is_empty() {
        out.as_object_mut().expect("an object").insert("_normalized".into(), serde_json::json!({ "fieldNames": renamed }));
    }
    out
}

fn normalize_keys(map: Map<String, Value>, at: &str, renamed: &mut Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(key, value)| {
            let new_key = key.replace('.', "_");
            let pointer = format!("{at}/{}", new_key.replace('~', "~0").replace('/', "~1"));
            if new_key != key {
                renamed.insert(pointer.clone(), Value::String(key));
            }
            let value = match value {
                Value::Object(inner) => Value::Object(normalize_keys(inner, &pointer, renamed)),
                other => other,
            };
            (new_key, value)
        })
        .collect()
}

/// Undoes [`normalize`] (for reads).
pub fn denormalize(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    if let Some(id) = map.remove("_eventId") {
        map.insert("_id".into(), id);
    }
    let renamed = map.remove("_normalized").and_then(|n| n.get("fieldNames").cloned());
    let mut value = Value::Object(map);
    if let Some(Value::Object(renamed)) = renamed {
        // Deepest first, so that parents are renamed after their children.
        let mut pointers: Vec<(&String, &Value)> = renamed.iter().collect();
        pointers.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('/').count()));
        for (pointer, original) in pointers {
            let (Some((parent, _)), Some(original)) = (pointer.rsplit_once('/'), original.as_str()) else {
                continue;
            };
            let key = pointer.rsplit('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~");
            if let Some(Value::Object(map)) = if parent.is_empty() { Some(&mut value) } else { value.pointer_mut(parent) }
                && let Some(v) = map.remove(&key)
            {
                map.insert(original.to_owned(), v);
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{denormalize, normalize};

    #[test]
    fn dotted_names_and_the_id_are_renamed_and_restored() {
        let event = json!({"_id": "e1", "http": {"request.path": "/a", "headers": {"x.y": ["1"]}}, "n.b": 2});
        let normalized = normalize(event.clone());
        assert_eq!(normalized["_eventId"], "e1");
        assert_eq!(normalized["http"]["request_path"], "/a");
        assert_eq!(normalized["n_b"], 2);
        assert_eq!(normalized["_normalized"]["fieldNames"]["/http/headers/x_y"], "x.y");
        assert_eq!(denormalize(normalized), event);
    }
}
