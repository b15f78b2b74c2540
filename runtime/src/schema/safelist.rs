//! The safelist of custom topics (`filterPolicies.field.includeIf`): an
//! event of a topic defined in `topicsSchemasDirectory` keeps only the
//! properties its schema declares, plus the fields `includeIf` names (and
//! everything under them), as the Ping documentation describes. Objects
//! whose schema declares no properties are kept whole.

use serde_json::Value;

use super::Schema;

impl Schema {
    /// Removes every property of `value` the schema does not declare, except
    /// under the pointers (inside the event, e.g. `/http/request/headers`)
    /// of `include`.
    pub fn safelist(&self, value: &mut Value, include: &[String]) {
        let mut pointer = String::new();
        self.keep_declared(value, include, &mut pointer);
    }

    fn keep_declared(&self, value: &mut Value, include: &[String], pointer: &mut String) {
        let Value::Object(map) = value else { return };
        if self.properties.is_empty() {
            return;
        }
        let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
        map.retain(|key, _| {
            let child = format!("{pointer}/{}", escape(key));
            self.properties.contains_key(key)
                || include.iter().any(|i| child == *i || child.starts_with(&format!("{i}/")) || i.starts_with(&format!("{child}/")))
        });
        for (key, child_value) in map.iter_mut() {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape(key));
            let included = include.iter().any(|i| *pointer == *i || pointer.starts_with(&format!("{i}/")));
            if !included && let Some(child_schema) = self.properties.get(key) {
                child_schema.keep_declared(child_value, include, pointer);
            }
            pointer.truncate(len);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn undeclared_fields_are_removed_unless_included() {
        let schema = Schema::compile(&json!({
            "type": "object",
            "properties": {
                "_id": {"type": "string"},
                "http": {"type": "object", "properties": {"path": {"type": "string"}}},
                "free": {"type": "object"}
            }
        }))
        .unwrap();
        let mut event = json!({
            "_id": "e1", "secret": "x", "extra": {"a": 1},
            "http": {"path": "/p", "headers": {"authorization": "Bearer t"}, "cookies": {"c": "1"}},
            "free": {"anything": true}
        });
        schema.safelist(&mut event, &["/extra".into(), "/http/cookies".into()]);
        assert_eq!(
            event,
            json!({
                "_id": "e1", "extra": {"a": 1},
                "http": {"path": "/p", "cookies": {"c": "1"}},
                "free": {"anything": true}
            })
        );
    }
}
