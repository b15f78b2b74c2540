//! The fast path must find and write exactly what `serde_json::Value` does.

use serde_json::Value;

use super::{Doc, ObjectWriter, Pointer, as_str, push_canonical, push_str};

const DOCS: &[&str] = &[
    r#"{"_id":"e1","userId":"bjensen","client":{"ip":"203.0.113.7","port":44321},"request":{"operation":"GET","detail":{"path":"/files/q3.pdf"}}}"#,
    r#"{"principal":["alice","bob"],"result":"FAILED","n":-0,"f":1.0,"e":1e21,"big":100000000000000000000}"#,
    r#"{"params":{"z":1,"a":[2.5,-7,1.5e-7,1e21,0.1,0.00001,1e-6,12345678901234,123456.75,true,null],"é":"ü\u0001\"\\/\u007f😀\t\n","Z":{"b":{},"a":[]},"😀":0,"":"empty","\uffff":1}}"#,
    r#"{"a/b":1,"m~n":2,"dup":1,"dup":{"x":[1,{"y":"\u0041"}]},"esc\"aped":"k","e\u0073c":"escaped key","list":[[0,1],[2,[3]]]}"#,
    r#"  {  "ws" : [ 1 , 2 ] , "s" : "x" }  "#,
    r#"[1,{"a":2}]"#,
    r#""just a string""#,
    r#"{"n":18446744073709551615,"m":18446744073709551616,"neg":-9223372036854775808,"u":1234567890123456789}"#,
];

const POINTERS: &[&str] = &[
    "",
    "/",
    "/_id",
    "/userId",
    "/client/ip",
    "/client/port",
    "/request/operation",
    "/request/detail",
    "/request/detail/path",
    "/principal/0",
    "/principal/1",
    "/principal/2",
    "/principal/01",
    "/principal/+1",
    "/principal/-",
    "/result",
    "/n",
    "/f",
    "/e",
    "/big",
    "/params",
    "/params/a",
    "/params/a/3",
    "/params/é",
    "/params/",
    "/params/Z/a",
    "/a~1b",
    "/m~0n",
    "/dup",
    "/dup/x/1/y",
    "/esc\"aped",
    "/esc",
    "/list/1/1/0",
    "/ws/1",
    "/s",
    "/0",
    "/1/a",
    "no-slash",
    "/m",
    "/neg",
    "/u",
    "/missing/deeper",
];

#[test]
fn lookups_and_writes_match_serde_json_value() {
    for (text, trusted) in DOCS.iter().flat_map(|t| [(t, false), (t, true)]) {
        let value: Value = serde_json::from_str(text).unwrap();
        // Validated, and scanned for structure only (an event's text).
        let doc = if trusted { Doc::trusted(text).unwrap() } else { Doc::parse(text).unwrap() };
        for pointer in POINTERS {
            let expected = value.pointer(pointer).map(Value::to_string);
            let found = doc.pointer(pointer).map(|raw| {
                let mut out = String::new();
                push_canonical(&mut out, raw);
                out
            });
            assert_eq!(found, expected, "{pointer} in {text} (trusted: {trusted})");
            if let Some(Value::String(s)) = value.pointer(pointer) {
                assert_eq!(as_str(doc.pointer(pointer).unwrap()).as_deref(), Some(s.as_str()));
            }
        }
    }
}

#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let mut every_byte: String = (0u8..0x80).map(char::from).collect();
    every_byte.push_str("é😀\u{ffff}\u{2028}/");
    for s in [every_byte.as_str(), "", "plain", "\"\\", "\u{7f}"] {
        let mut out = String::new();
        push_str(&mut out, s);
        assert_eq!(out, serde_json::to_string(s).unwrap());
    }
}

#[test]
fn whole_values_are_written_as_serde_json_writes_them() {
    for text in DOCS.iter().copied().chain([
        "[]",
        "{}",
        " [ 1 , { \"b\" : 2 , \"a\" : [ ] } ] ",
        "-0",
        "-7",
        "-12.50",
        "0.0",
        "1E300",
        "-9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901",
        "\"\\u00e9\\n\"",
    ]) {
        let expected = serde_json::from_str::<Value>(text).unwrap().to_string();
        let raw: &super::RawValue = serde_json::from_str(text).unwrap();
        let mut out = String::new();
        push_canonical(&mut out, raw);
        assert_eq!(out, expected, "{text}");
    }
}

#[test]
fn not_json_is_an_error_and_objects_are_written_in_order() {
    assert!(Doc::parse("{\"a\":").is_err());
    assert!(Doc::parse("{} x").is_err());
    // Text the scanner cannot read is parsed, and refused, as by `parse`.
    for bad in ["{\"a\":", "{} x", "{\"a\" 1}", "{\"a\":1,}", "{\"a\":[1}", "{\"a\":\"x}", "{,}", "{\"a\":1]"] {
        assert!(Doc::trusted(bad).is_err(), "{bad}");
    }
    let mut line = String::new();
    let mut object = ObjectWriter::new(&mut line);
    object.key("b").push_str("null");
    push_str(object.key("a\n"), "x");
    object.finish();
    assert_eq!(line, r#"{"b":null,"a\n":"x"}"#);
    assert_eq!(Pointer::parse("/a~01"), Pointer::parse("/a~01"));
}

#[test]
fn escapes_and_brackets_at_every_offset_of_a_word() {
    for n in 0..20 {
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "{", "]", " "] {
            let s = format!("{}{special}{}", "a".repeat(n), "b".repeat(n % 9));
            let mut out = String::new();
            push_str(&mut out, &s);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
            // The same text as a key, a value, and inside nested values.
            let value = serde_json::json!({&s: s, "nested": {"k": [s, {&s: [1, s]}], "after": n}, "last": "x"});
            let text = value.to_string();
            let doc = Doc::trusted(&text).unwrap();
            for pointer in ["/nested/after", "/last", "/nested/k/1"] {
                let mut found = String::new();
                push_canonical(&mut found, doc.pointer(pointer).unwrap());
                assert_eq!(found, value.pointer(pointer).unwrap().to_string(), "{pointer} in {text}");
            }
            let key = format!("/{}", s.replace('~', "~0").replace('/', "~1"));
            assert_eq!(as_str(doc.pointer(&key).unwrap()).as_deref(), Some(s.as_str()), "{text}");
        }
    }
}
