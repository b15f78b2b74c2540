use serde_json::{Value, json};

use super::*;

fn compile(schema: Value) -> Schema {
    Schema::compile(&schema).unwrap_or_else(|e| panic!("{e}"))
}

/// (pointer, rule, message) of every violation, in order.
fn check(schema: &Schema, instance: Value) -> Vec<(String, String, String)> {
    schema.validate(&instance).into_iter().map(|v| (v.pointer, v.rule, v.message)).collect()
}

fn one(pointer: &str, rule: &str, message: &str) -> Vec<(String, String, String)> {
    vec![(pointer.to_owned(), rule.to_owned(), message.to_owned())]
}

fn compile_error(schema: Value) -> (String, String) {
    let e = Schema::compile(&schema).expect_err("the schema should not compile");
    (e.pointer, e.message)
}

// ---- type

#[test]
fn type_accepts_each_matching_type() {
    for (name, value) in [
        ("object", json!({})),
        ("array", json!([])),
        ("string", json!("")),
        ("number", json!(1.5)),
        ("number", json!(-3)),
        ("integer", json!(7)),
        ("boolean", json!(false)),
        ("null", json!(null)),
    ] {
        assert!(compile(json!({"type": name})).is_valid(&value), "{name} should accept {value}");
    }
}

#[test]
fn type_refuses_other_types_naming_both() {
    let s = compile(json!({"type": "string"}));
    assert_eq!(check(&s, json!(5)), one("", "type", "must be a string, found a number"));
    assert_eq!(check(&s, json!({})), one("", "type", "must be a string, found an object"));
    assert_eq!(check(&s, json!(null)), one("", "type", "must be a string, found null"));
    let s = compile(json!({"type": "object"}));
    assert_eq!(check(&s, json!([1])), one("", "type", "must be an object, found an array"));
    assert_eq!(check(&s, json!(true)), one("", "type", "must be an object, found a boolean"));
}

#[test]
fn type_array_accepts_any_listed_type_and_lists_them() {
    let s = compile(json!({"type": ["null", "string"]}));
    assert!(s.is_valid(&json!("x")));
    assert!(s.is_valid(&json!(null)));
    assert_eq!(check(&s, json!(1)), one("", "type", "must be a string or null, found a number"));
    let s = compile(json!({"type": ["null", "string", "object"]}));
    assert_eq!(check(&s, json!(true)), one("", "type", "must be an object, a string or null, found a boolean"));
}

#[test]
fn integer_accepts_whole_numbers_only() {
    let s = compile(json!({"type": "integer"}));
    for ok in [json!(0), json!(-42), json!(u64::MAX), json!(3.0)] {
        assert!(s.is_valid(&ok), "{ok}");
    }
    assert_eq!(check(&s, json!(3.5)), one("", "type", "must be an integer, found a number with a fractional part"));
    assert_eq!(check(&s, json!("3")), one("", "type", "must be an integer, found a string"));
    assert!(compile(json!({"type": "number"})).is_valid(&json!(3.5)));
}

#[test]
fn a_type_mismatch_is_reported_alone() {
    let s = compile(json!({"type": "string", "enum": ["a"], "const": "a"}));
    assert_eq!(check(&s, json!(5)), one("", "type", "must be a string, found a number"));
}

// ---- properties, required, additionalProperties

#[test]
fn properties_validate_nested_values_at_their_pointer() {
    let s = compile(json!({
        "type": "object",
        "properties": {"http": {"type": "object", "properties": {
            "request": {"type": "object", "properties": {"method": {"type": "string"}}}
        }}}
    }));
    assert!(s.is_valid(&json!({"http": {"request": {"method": "GET"}}})));
    assert!(s.is_valid(&json!({"http": {}})));
    assert_eq!(
        check(&s, json!({"http": {"request": {"method": 1}}})),
        one("/http/request/method", "type", "must be a string, found a number")
    );
}

#[test]
fn pointers_escape_tilde_and_slash() {
    let s = compile(json!({"properties": {"a/b~c": {"type": "string"}}}));
    assert_eq!(check(&s, json!({"a/b~c": 1})), one("/a~1b~0c", "type", "must be a string, found a number"));
}

#[test]
fn required_reports_each_missing_property_on_the_object() {
    let s = compile(json!({
        "required": ["transactionId", "_id"],
        "properties": {"server": {"required": ["ip"]}}
    }));
    assert!(s.is_valid(&json!({"transactionId": "t", "_id": "i"})));
    assert_eq!(
        check(&s, json!({"server": {}})),
        vec![
            ("".to_owned(), "required".to_owned(), "required property `transactionId` is missing".to_owned()),
            ("".to_owned(), "required".to_owned(), "required property `_id` is missing".to_owned()),
            ("/server".to_owned(), "required".to_owned(), "required property `ip` is missing".to_owned()),
        ]
    );
    // A property that is present but null is present.
    assert!(s.is_valid(&json!({"transactionId": null, "_id": "i"})));
}

#[test]
fn additional_properties_false_refuses_undeclared_properties() {
    let s = compile(json!({"properties": {"a": {}}, "additionalProperties": false}));
    assert!(s.is_valid(&json!({"a": 1})));
    assert_eq!(
        check(&s, json!({"a": 1, "b": 2})),
        one("/b", "additionalProperties", "property `b` is not allowed: the schema does not list it")
    );
}

#[test]
fn additional_properties_schema_validates_undeclared_properties() {
    let s = compile(json!({
        "properties": {"a": {"type": "integer"}},
        "additionalProperties": {"type": "array", "items": {"type": "string"}}
    }));
    assert!(s.is_valid(&json!({"a": 1, "accept": ["text/html"]})));
    assert_eq!(check(&s, json!({"accept": "text/html"})), one("/accept", "type", "must be an array, found a string"));
    assert_eq!(check(&s, json!({"accept": ["x", 2]})), one("/accept/1", "type", "must be a string, found a number"));
}

#[test]
fn additional_properties_true_or_absent_allows_anything() {
    for s in [compile(json!({"properties": {"a": {}}, "additionalProperties": true})), compile(json!({}))] {
        assert!(s.is_valid(&json!({"a": 1, "anything": [null]})));
    }
}

// ---- items

#[test]
fn items_validates_each_element_at_its_index() {
    let s = compile(json!({"type": "array", "items": {"type": "string"}}));
    assert!(s.is_valid(&json!([])));
    assert!(s.is_valid(&json!(["a", "b"])));
    assert_eq!(
        check(&s, json!(["a", 1, "c", false])),
        vec![
            ("/1".to_owned(), "type".to_owned(), "must be a string, found a number".to_owned()),
            ("/3".to_owned(), "type".to_owned(), "must be a string, found a boolean".to_owned()),
        ]
    );
}

// ---- enum, const

#[test]
fn enum_accepts_members_and_names_them_otherwise() {
    let s = compile(json!({"enum": ["SUCCESSFUL", "FAILED"]}));
    assert!(s.is_valid(&json!("FAILED")));
    assert_eq!(check(&s, json!("MAYBE")), one("", "enum", r#"must be one of "SUCCESSFUL" or "FAILED", found "MAYBE""#));
    let s = compile(json!({"enum": [1, "two", null]}));
    assert_eq!(check(&s, json!([3])), one("", "enum", r#"must be one of 1, "two" or null, found an array"#));
}

#[test]
fn enum_and_const_use_json_equality() {
    assert!(compile(json!({"enum": [1]})).is_valid(&json!(1.0)));
    assert!(compile(json!({"const": {"a": 1, "b": [2, {"c": 3}]}})).is_valid(&json!({"b": [2.0, {"c": 3}], "a": 1})));
    assert!(!compile(json!({"const": [1, 2]})).is_valid(&json!([2, 1])));
    assert!(!compile(json!({"const": {"a": 1}})).is_valid(&json!({"a": 1, "b": 2})));
    assert!(!compile(json!({"enum": [1]})).is_valid(&json!("1")));
}

#[test]
fn const_accepts_only_its_value() {
    let s = compile(json!({"const": "access"}));
    assert!(s.is_valid(&json!("access")));
    assert_eq!(check(&s, json!("activity")), one("", "const", r#"must be "access", found "activity""#));
    let long = "x".repeat(50);
    assert_eq!(check(&s, json!(long)), one("", "const", &format!(r#"must be "access", found "{}"…"#, "x".repeat(40))));
}

// ---- minimum, maximum

#[test]
fn minimum_and_maximum_are_inclusive() {
    let s = compile(json!({"minimum": 0, "maximum": 65535}));
    for ok in [json!(0), json!(65535), json!(80), json!(0.5)] {
        assert!(s.is_valid(&ok), "{ok}");
    }
    assert_eq!(check(&s, json!(-1)), one("", "minimum", "must be at least 0, found -1"));
    assert_eq!(check(&s, json!(65536)), one("", "maximum", "must be at most 65535, found 65536"));
    assert_eq!(check(&s, json!(-0.5)), one("", "minimum", "must be at least 0, found -0.5"));
}

#[test]
fn number_bounds_are_exact_for_large_integers() {
    let s = compile(json!({"maximum": 9007199254740992_u64}));
    assert!(s.is_valid(&json!(9007199254740992_u64)));
    assert_eq!(check(&s, json!(9007199254740993_u64)), one("", "maximum", "must be at most 9007199254740992, found 9007199254740993"));
    let s = compile(json!({"minimum": -1}));
    assert!(s.is_valid(&json!(u64::MAX)));
}

// ---- minLength, maxLength

#[test]
fn string_lengths_count_code_points() {
    let s = compile(json!({"minLength": 2, "maxLength": 3}));
    assert!(s.is_valid(&json!("éé")));
    assert!(s.is_valid(&json!("日本語")));
    assert_eq!(check(&s, json!("é")), one("", "minLength", "must be at least 2 characters long, found 1 character"));
    assert_eq!(check(&s, json!("abcd")), one("", "maxLength", "must be at most 3 characters long, found 4 characters"));
    assert_eq!(
        check(&compile(json!({"maxLength": 1})), json!("ab")),
        one("", "maxLength", "must be at most 1 character long, found 2 characters")
    );
}

#[test]
fn keywords_apply_only_to_their_kind_of_value() {
    let s = compile(json!({
        "minimum": 1, "maxLength": 1, "required": ["a"], "properties": {"a": {"type": "string"}},
        "additionalProperties": false, "items": {"type": "string"}
    }));
    for value in [json!("long string"), json!(0), json!([1, 2]), json!(null), json!(true)] {
        let expected = match &value {
            Value::String(_) => 1,
            Value::Number(_) => 1,
            Value::Array(_) => 2,
            _ => 0,
        };
        assert_eq!(s.validate(&value).len(), expected, "{value}");
    }
}

// ---- collecting

#[test]
fn all_violations_are_collected_in_a_deterministic_order() {
    let s = compile(json!({
        "type": "object",
        "required": ["_id", "timestamp"],
        "properties": {
            "b": {"type": "integer", "minimum": 10},
            "a": {"type": "object", "required": ["x"], "properties": {"y": {"enum": [1]}}},
            "list": {"items": {"maxLength": 1}}
        },
        "additionalProperties": false
    }));
    let event = json!({"list": ["ok", "x", "too long"], "b": 3, "a": {"y": 2}, "zzz": 0, "extra": 1});
    let expected = vec![
        ("", "required", "required property `_id` is missing"),
        ("", "required", "required property `timestamp` is missing"),
        ("/a", "required", "required property `x` is missing"),
        ("/a/y", "enum", "must be one of 1, found 2"),
        ("/b", "minimum", "must be at least 10, found 3"),
        ("/extra", "additionalProperties", "property `extra` is not allowed: the schema does not list it"),
        ("/list/0", "maxLength", "must be at most 1 character long, found 2 characters"),
        ("/list/2", "maxLength", "must be at most 1 character long, found 8 characters"),
        ("/zzz", "additionalProperties", "property `zzz` is not allowed: the schema does not list it"),
    ];
    let expected: Vec<_> = expected.into_iter().map(|(p, r, m)| (p.to_owned(), r.to_owned(), m.to_owned())).collect();
    assert_eq!(check(&s, event.clone()), expected);
    assert_eq!(s.validate(&event), s.validate(&event));
}

#[test]
fn violations_display_their_pointer_and_message() {
    let v = Violation { pointer: "/a/b".into(), rule: "type".into(), message: "must be a string, found a number".into() };
    assert_eq!(v.to_string(), "/a/b: must be a string, found a number");
    let v = Violation { pointer: String::new(), rule: "required".into(), message: "required property `x` is missing".into() };
    assert_eq!(v.to_string(), "required property `x` is missing");
}

// ---- compile errors

#[test]
fn compile_refuses_unknown_type_names() {
    assert_eq!(
        compile_error(json!({"properties": {"a": {"type": "text"}}})),
        (
            "/properties/a/type".to_owned(),
            "unknown type `text` (expected one of object, array, string, number, integer, boolean, null)".to_owned()
        )
    );
    assert_eq!(compile_error(json!({"type": ["string", "int"]})).0, "/type/1");
    assert_eq!(compile_error(json!({"type": ["string", "string"]})), ("/type/1".to_owned(), "type `string` is listed twice".to_owned()));
    assert_eq!(
        compile_error(json!({"type": []})),
        ("/type".to_owned(), "`type` must not be an empty array: no value could match".to_owned())
    );
    assert_eq!(
        compile_error(json!({"type": 1})),
        ("/type".to_owned(), "`type` must be a type name or an array of type names, found a number".to_owned())
    );
    assert_eq!(compile_error(json!({"type": [true]})), ("/type/0".to_owned(), "a type name must be a string, found a boolean".to_owned()));
}

#[test]
fn compile_refuses_required_that_is_not_an_array_of_strings() {
    assert_eq!(
        compile_error(json!({"required": "a"})),
        ("/required".to_owned(), "`required` must be an array of strings, found a string".to_owned())
    );
    assert_eq!(
        compile_error(json!({"properties": {"x": {"required": ["a", 1]}}})),
        ("/properties/x/required/1".to_owned(), "`required` must be an array of strings, found a number in it".to_owned())
    );
    assert_eq!(compile_error(json!({"required": ["a", "a"]})), ("/required/1".to_owned(), "`required` lists `a` twice".to_owned()));
    assert!(Schema::compile(&json!({"required": []})).is_ok());
}

#[test]
fn compile_refuses_malformed_keyword_values() {
    let cases = [
        (json!({"properties": []}), "/properties", "`properties` must be an object mapping names to schemas, found an array"),
        (json!({"properties": {"a": "string"}}), "/properties/a", "a schema must be an object, found a string"),
        (json!({"properties": {"a": true}}), "/properties/a", "a schema must be an object, found a boolean"),
        (json!([]), "", "a schema must be an object, found an array"),
        (
            json!({"additionalProperties": "no"}),
            "/additionalProperties",
            "`additionalProperties` must be a boolean or a schema, found a string",
        ),
        (
            json!({"additionalProperties": {"type": "nope"}}),
            "/additionalProperties/type",
            "unknown type `nope` (expected one of object, array, string, number, integer, boolean, null)",
        ),
        (json!({"items": [{}, {}]}), "/items", "`items` as an array of schemas (tuple validation) is not supported; use one schema"),
        (json!({"items": 3}), "/items", "`items` must be a schema, found a number"),
        (json!({"items": {"minLength": -1}}), "/items/minLength", "`minLength` must be a non-negative integer, found -1"),
        (json!({"maxLength": 2.5}), "/maxLength", "`maxLength` must be a non-negative integer, found 2.5"),
        (json!({"enum": []}), "/enum", "`enum` must not be empty: no value could match"),
        (json!({"enum": "a"}), "/enum", "`enum` must be an array, found a string"),
        (json!({"minimum": "0"}), "/minimum", "`minimum` must be a number, found a string"),
        (json!({"maximum": null}), "/maximum", "`maximum` must be a number, found null"),
        (json!({"minimum": 5, "maximum": 3}), "/minimum", "`minimum` (5) is greater than `maximum` (3): no number could match"),
        (json!({"minLength": 5, "maxLength": 3}), "/minLength", "`minLength` (5) is greater than `maxLength` (3): no string could match"),
    ];
    for (schema, pointer, message) in cases {
        assert_eq!(compile_error(schema.clone()), (pointer.to_owned(), message.to_owned()), "{schema}");
    }
}

#[test]
fn compile_refuses_unsupported_keywords_naming_them() {
    for keyword in [
        "$ref",
        "definitions",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "patternProperties",
        "exclusiveMinimum",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "requried",
    ] {
        let (pointer, message) = compile_error(json!({"properties": {"a": {keyword: 1}}}));
        assert_eq!(pointer, format!("/properties/a/{keyword}"));
        assert!(message.starts_with(&format!("unsupported keyword `{keyword}`: it would not be enforced")), "{message}");
    }
    let (pointer, _) = compile_error(json!({"properties": {"x/y": {"$ref": "#/definitions/z"}}}));
    assert_eq!(pointer, "/properties/x~1y/$ref");
}

#[test]
fn annotations_are_accepted_and_not_enforced() {
    let s = compile(json!({
        "$schema": "http://json-schema.org/draft-07/schema#", "$id": "urn:x", "id": "/", "title": "t",
        "description": "d", "default": 1, "examples": [1], "$comment": "c",
        "properties": {"mail": {"type": "string", "pattern": "^[^@]+@[^@]+$", "format": "email"}}
    }));
    assert!(s.is_valid(&json!({"mail": "not an address"})));
    for keyword in ANNOTATION_KEYWORDS {
        assert!(Schema::compile(&json!({*keyword: {"anything": [1]}})).is_ok(), "{keyword}");
    }
}

#[test]
fn schema_errors_display_where_and_what() {
    let e = Schema::compile(&json!({"properties": {"a": {"type": "text"}}})).unwrap_err();
    assert!(e.to_string().starts_with("invalid schema at `/properties/a/type`: unknown type `text`"), "{e}");
    let e = Schema::compile(&json!(1)).unwrap_err();
    assert_eq!(e.to_string(), "invalid schema at the root: a schema must be an object, found a number");
}

// ---- extends

fn core() -> Schema {
    compile(json!({
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "server": {"type": "object", "properties": {"ip": {"type": "string"}, "port": {"type": "integer"}}},
            "status": {"enum": ["SUCCESSFUL", "FAILED"]}
        },
        "required": ["_id"]
    }))
}

#[test]
fn extends_accepts_added_properties_and_requirements() {
    let custom = compile(json!({
        "type": "object",
        "title": "custom access",
        "properties": {
            "_id": {"type": "string", "description": "annotations may change"},
            "server": {"type": "object", "properties": {"port": {"type": "integer"}, "ip": {"type": "string"}}},
            "status": {"enum": ["FAILED", "SUCCESSFUL"]},
            "customField": {"type": "string"}
        },
        "required": ["customField", "_id"]
    }));
    assert_eq!(custom.extends(&core()).map_err(|e| e.to_string()), Ok(()));
    assert_eq!(core().extends(&core()).map_err(|e| e.to_string()), Ok(()));
}

#[test]
fn extends_refuses_a_removed_property() {
    let custom = compile(json!({
        "type": "object",
        "properties": {"_id": {"type": "string"}, "status": {"enum": ["SUCCESSFUL", "FAILED"]}},
        "required": ["_id"]
    }));
    let e = custom.extends(&core()).map_err(|e| e.to_string()).unwrap_err();
    assert!(e.starts_with("property `server` of the core schema is missing"), "{e}");
}

#[test]
fn extends_refuses_a_changed_property_naming_it_and_where() {
    let custom = compile(json!({
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "server": {"type": "object", "properties": {"ip": {"type": "string"}, "port": {"type": "string"}}},
            "status": {"enum": ["SUCCESSFUL", "FAILED"]}
        },
        "required": ["_id"]
    }));
    assert_eq!(
        custom.extends(&core()).map_err(|e| e.to_string()),
        Err("property `server` differs from the core schema (at `/properties/server/properties/port/type`): \
             a custom schema for a core topic may only add properties"
            .to_owned())
    );
    let custom = compile(json!({
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "server": {"type": "object", "properties": {"ip": {"type": "string"}, "port": {"type": "integer"}}},
            "status": {"enum": ["SUCCESSFUL", "FAILED", "MAYBE"]}
        },
        "required": ["_id"]
    }));
    let e = custom.extends(&core()).map_err(|e| e.to_string()).unwrap_err();
    assert!(e.starts_with("property `status` differs from the core schema (at `/properties/status/enum`)"), "{e}");
    let custom = compile(json!({
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "server": {"type": "object", "properties": {"ip": {"type": "string"}, "port": {"type": "integer"}, "host": {}}},
            "status": {"enum": ["SUCCESSFUL", "FAILED"]}
        },
        "required": ["_id"]
    }));
    let e = custom.extends(&core()).map_err(|e| e.to_string()).unwrap_err();
    assert!(e.starts_with("property `server` differs from the core schema (at `/properties/server/properties/host`)"), "{e}");
}

#[test]
fn extends_refuses_a_dropped_requirement_or_a_changed_root() {
    let mut value = json!({
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "server": {"type": "object", "properties": {"ip": {"type": "string"}, "port": {"type": "integer"}}},
            "status": {"enum": ["SUCCESSFUL", "FAILED"]}
        }
    });
    assert_eq!(
        compile(value.clone()).extends(&core()).map_err(|e| e.to_string()),
        Err("property `_id` must stay required: the core schema requires it".to_owned())
    );
    value["required"] = json!(["_id"]);
    value["type"] = json!(["object", "null"]);
    assert_eq!(
        compile(value).extends(&core()).map_err(|e| e.to_string()),
        Err("the root of the schema differs from the core schema (at `/type`)".to_owned())
    );
}

#[test]
fn extends_accepts_each_standard_schema_with_an_added_field() {
    for topic in STANDARD_TOPICS {
        let core = standard(topic).unwrap();
        let mut value: Value = serde_json::from_str(standard_source(topic).unwrap()).unwrap();
        value["properties"]["customField"] = json!({"type": "string"});
        assert_eq!(compile(value.clone()).extends(core).map_err(|e| e.to_string()), Ok(()), "{topic}");
        value["properties"].as_object_mut().unwrap().remove("transactionId");
        assert!(compile(value).extends(core).map_err(|e| e.to_string()).unwrap_err().contains("`transactionId`"), "{topic}");
    }
}

// ---- standard schemas

#[test]
fn standard_schemas_compile_once_and_only_for_core_topics() {
    for topic in STANDARD_TOPICS {
        let first = standard(topic).unwrap();
        assert!(std::ptr::eq(first, standard(topic).unwrap()), "{topic}");
        let raw: Value = serde_json::from_str(standard_source(topic).unwrap()).unwrap();
        assert_eq!(raw["$schema"], "http://json-schema.org/draft-04/schema#", "{topic}");
        assert_eq!(raw["required"], json!(["_id", "timestamp", "transactionId", "eventName"]), "{topic}");
        assert!(raw.get("additionalProperties").is_none(), "{topic}");
        assert_eq!(first.required, ["_id", "timestamp", "transactionId", "eventName"], "{topic}");
        for common in ["_id", "timestamp", "eventName", "transactionId", "userId", "trackingIds"] {
            assert!(first.properties.contains_key(common), "{topic} lacks {common}");
        }
    }
    assert!(standard("custom").is_none());
    assert!(standard_source("Access").is_none());
}

#[test]
fn standard_schemas_require_the_mandatory_fields_and_allow_extra_ones() {
    for topic in STANDARD_TOPICS {
        let s = standard(topic).unwrap();
        assert_eq!(
            check(s, json!({"userId": "demo", "extra": {"anything": true}})),
            ["_id", "timestamp", "transactionId", "eventName"]
                .map(|f| (String::new(), "required".to_owned(), format!("required property `{f}` is missing")))
                .to_vec(),
            "{topic}"
        );
        assert_eq!(check(s, json!("not an object")), one("", "type", "must be an object, found a string"), "{topic}");
    }
}

fn access_event() -> Value {
    json!({
        "_id": "5c1b4a3e-8f6d-4a8e-b7c2-0f6e3d2a1b9c-4812",
        "timestamp": "2024-05-14T09:21:07.552Z",
        "eventName": "AM-ACCESS-OUTCOME",
        "transactionId": "9c4e8f1a-2b7d-4c3e-a1f0-6d5e4c3b2a19-0",
        "userId": "id=demo,ou=user,dc=openam,dc=forgerock,dc=org",
        "trackingIds": ["3f9a1c2e-7b6d-4e5f-8a9b-0c1d2e3f4a5b-2207"],
        "component": "OAuth",
        "realm": "/",
        "server": {"ip": "10.0.0.12", "port": 8443},
        "client": {"ip": "203.0.113.7", "port": 51234},
        "request": {
            "protocol": "HTTP",
            "operation": "POST",
            "detail": {"client_id": "myClient", "grant_type": "authorization_code"}
        },
        "http": {
            "request": {
                "secure": true,
                "method": "POST",
                "path": "https://am.example.com:8443/am/oauth2/access_token",
                "queryParameters": {"realm": ["/"]},
                "headers": {"accept": ["application/json"], "host": ["am.example.com:8443"], "user-agent": ["curl/8.5.0"]},
                "cookies": {"amlbcookie": "01"}
            },
            "response": {"headers": {"content-type": ["application/json"]}}
        },
        "response": {
            "status": "SUCCESSFUL",
            "statusCode": "200",
            "detail": {"scope": "openid profile"},
            "elapsedTime": 42,
            "elapsedTimeUnits": "MILLISECONDS"
        }
    })
}

#[test]
fn access_schema_accepts_a_forgerock_access_event() {
    assert_eq!(check(standard("access").unwrap(), access_event()), vec![]);
}

#[test]
fn access_schema_rejects_wrong_types_naming_the_pointer() {
    let s = standard("access").unwrap();
    let mut event = access_event();
    event["response"]["status"] = json!("MAYBE");
    assert_eq!(check(s, event), one("/response/status", "enum", r#"must be one of "SUCCESSFUL" or "FAILED", found "MAYBE""#));
    let mut event = access_event();
    event["trackingIds"] = json!("x");
    assert_eq!(check(s, event), one("/trackingIds", "type", "must be an array, found a string"));
    let mut event = access_event();
    event["server"]["port"] = json!("8443");
    event["http"]["request"]["headers"]["accept"] = json!("application/json");
    event["http"]["request"]["cookies"]["amlbcookie"] = json!(1);
    event["response"]["elapsedTime"] = json!(4.2);
    assert_eq!(
        check(s, event),
        vec![
            ("/http/request/cookies/amlbcookie".to_owned(), "type".to_owned(), "must be a string, found a number".to_owned()),
            ("/http/request/headers/accept".to_owned(), "type".to_owned(), "must be an array, found a string".to_owned()),
            ("/response/elapsedTime".to_owned(), "type".to_owned(), "must be an integer, found a number with a fractional part".to_owned()),
            ("/server/port".to_owned(), "type".to_owned(), "must be an integer, found a string".to_owned()),
        ]
    );
}

fn activity_event() -> Value {
    json!({
        "_id": "0419d364-1b3d-4e4e-b769-5a7b5f8a9c3d-1187",
        "timestamp": "2024-05-14T09:30:12.004Z",
        "eventName": "activity",
        "transactionId": "1715679012001-2c5c1b0e8f3a7d6e4b21-88",
        "userId": "openidm-admin",
        "trackingIds": [],
        "runAs": "openidm-admin",
        "objectId": "managed/user/4b8f2d6a-9e1c-4f7b-a3d5-6c2e1f0b9a87",
        "operation": "PATCH",
        "before": {"userName": "bjensen", "mail": "bjensen@example.com"},
        "after": {"userName": "bjensen", "mail": "babs@example.com"},
        "changedFields": ["/mail"],
        "revision": "2",
        "passwordChanged": false,
        "message": "",
        "status": "SUCCESS"
    })
}

#[test]
fn activity_schema_accepts_a_forgerock_activity_event() {
    let s = standard("activity").unwrap();
    assert_eq!(check(s, activity_event()), vec![]);
    // `before` and `after` may be any JSON value (IDM may log them as strings).
    let mut event = activity_event();
    event["before"] = json!("{\"userName\":\"bjensen\"}");
    event["after"] = json!(null);
    assert_eq!(check(s, event), vec![]);
}

#[test]
fn activity_schema_rejects_wrong_types_naming_the_pointer() {
    let s = standard("activity").unwrap();
    let mut event = activity_event();
    event["changedFields"] = json!(["/mail", 7]);
    event["transactionId"] = json!(12);
    assert_eq!(
        check(s, event),
        vec![
            ("/changedFields/1".to_owned(), "type".to_owned(), "must be a string, found a number".to_owned()),
            ("/transactionId".to_owned(), "type".to_owned(), "must be a string, found a number".to_owned()),
        ]
    );
}

fn authentication_event() -> Value {
    json!({
        "_id": "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a0f-2291",
        "timestamp": "2024-05-14T09:21:06.918Z",
        "eventName": "AM-LOGIN-COMPLETED",
        "transactionId": "9c4e8f1a-2b7d-4c3e-a1f0-6d5e4c3b2a19-0",
        "userId": "id=demo,ou=user,dc=openam,dc=forgerock,dc=org",
        "trackingIds": ["3f9a1c2e-7b6d-4e5f-8a9b-0c1d2e3f4a5b-2207"],
        "result": "SUCCESSFUL",
        "principal": ["demo"],
        "context": {},
        "entries": [{
            "moduleId": "DataStore",
            "result": "SUCCESSFUL",
            "info": {
                "authIndex": "service",
                "authControlFlag": "REQUIRED",
                "moduleClass": "DataStore",
                "ipAddress": "203.0.113.7",
                "authLevel": "0"
            }
        }],
        "realm": "/",
        "component": "Authentication"
    })
}

#[test]
fn authentication_schema_accepts_a_forgerock_authentication_event() {
    assert_eq!(check(standard("authentication").unwrap(), authentication_event()), vec![]);
}

#[test]
fn authentication_schema_rejects_wrong_types_naming_the_pointer() {
    let s = standard("authentication").unwrap();
    let mut event = authentication_event();
    event["result"] = json!("MAYBE");
    event["principal"] = json!("demo");
    event["entries"][0]["moduleId"] = json!(5);
    event["entries"][0]["info"] = json!("none");
    assert_eq!(
        check(s, event),
        vec![
            ("/entries/0/info".to_owned(), "type".to_owned(), "must be an object, found a string".to_owned()),
            ("/entries/0/moduleId".to_owned(), "type".to_owned(), "must be a string, found a number".to_owned()),
            ("/principal".to_owned(), "type".to_owned(), "must be an array, found a string".to_owned()),
            ("/result".to_owned(), "enum".to_owned(), r#"must be one of "SUCCESSFUL" or "FAILED", found "MAYBE""#.to_owned()),
        ]
    );
}

fn config_event() -> Value {
    json!({
        "_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d-377",
        "timestamp": "2024-05-14T10:02:44.130Z",
        "eventName": "AM-CONFIG-CHANGE",
        "transactionId": "6e1d2c3b-4a5f-4e6d-9c8b-7a6f5e4d3c2b-0",
        "userId": "id=amadmin,ou=user,dc=openam,dc=forgerock,dc=org",
        "trackingIds": ["c0ffee00-1234-4abc-8def-0123456789ab-11"],
        "runAs": "id=amadmin,ou=user,dc=openam,dc=forgerock,dc=org",
        "objectId": "ou=default,ou=OrganizationConfig,ou=1.0,ou=iPlanetAMAuthService,ou=services,dc=openam,dc=forgerock,dc=org",
        "operation": "UPDATE",
        "before": {"sunKeyValue": ["iplanet-am-auth-login-success-url=/home"]},
        "after": {"sunKeyValue": ["iplanet-am-auth-login-success-url=/welcome"]},
        "changedFields": ["sunKeyValue"],
        "revision": "",
        "realm": "/",
        "component": "Config"
    })
}

#[test]
fn config_schema_accepts_a_forgerock_config_event() {
    assert_eq!(check(standard("config").unwrap(), config_event()), vec![]);
}

#[test]
fn config_schema_rejects_wrong_types_naming_the_pointer() {
    let s = standard("config").unwrap();
    let mut event = config_event();
    event["revision"] = json!(3);
    event["trackingIds"] = json!("x");
    assert_eq!(
        check(s, event),
        vec![
            ("/revision".to_owned(), "type".to_owned(), "must be a string, found a number".to_owned()),
            ("/trackingIds".to_owned(), "type".to_owned(), "must be an array, found a string".to_owned()),
        ]
    );
}
