use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

fn settings(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn custom() -> CsvFormat {
    CsvFormat { quote: '\'', delimiter: ';', end_of_line: "\r\n".to_owned(), neutralise_formulas: false }
}

fn access_schema() -> Value {
    let source = crate::schema::standard_source("access").expect("access schema is built in");
    serde_json::from_str(source).expect("access schema is JSON")
}

/// Decodes `text`, which must hold exactly one complete record.
fn decode_one(format: &CsvFormat, text: &str) -> Vec<String> {
    let records = format.decode(text).expect("decodes");
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].complete);
    assert_eq!(records[0].range, 0..text.len());
    assert_eq!(records[0].line, 1);
    records[0].cells.clone()
}

const AWKWARD: &[&str] = &[
    "plain",
    "with, comma",
    "with; semicolon",
    "say \"hi\"",
    "it's",
    "",
    "line\nbreak",
    "cr\ronly",
    "crlf\r\nend\r\n",
    "ünïcödé ✓ 🦀",
    "\"",
    "''",
    "",
];

#[test]
fn encode_quotes_every_non_empty_cell_and_leaves_empty_cells_bare() {
    let format = CsvFormat::default();
    assert_eq!(format.encode(&["a", "", "b\"c", "x,y"]), "\"a\",,\"b\"\"c\",\"x,y\"\n");
    assert_eq!(format.encode(&["", ""]), ",\n");
    assert_eq!(format.encode(&[]), "\n");
    assert_eq!(custom().encode(&["it's", "a;b", ""]), "'it''s';'a;b';\r\n");
}

#[test]
fn round_trip_default_format() {
    let format = CsvFormat::default();
    let text = format.encode(AWKWARD);
    assert_eq!(decode_one(&format, &text), AWKWARD);
}

#[test]
fn round_trip_custom_quote_delimiter_and_end_of_line() {
    let format = custom();
    let text = format.encode(AWKWARD);
    assert!(text.ends_with("\r\n"));
    assert!(text.starts_with("'plain';'with, comma';'with; semicolon';'say \"hi\"';'it''s';;"), "{text}");
    assert_eq!(decode_one(&format, &text), AWKWARD);
}

#[test]
fn several_records_have_their_ranges_and_lines() {
    let format = custom();
    let first = format.encode(&["one", "two\r\nlines"]);
    let second = format.encode(&["", "x"]);
    let third = format.encode(&["a\nb\rc"]);
    let text = format!("{first}{second}{third}");
    let records = format.decode(&text).expect("decodes");
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].range, 0..first.len());
    assert_eq!(records[1].range, first.len()..first.len() + second.len());
    assert_eq!(records[2].range, first.len() + second.len()..text.len());
    // The first record spans lines 1-2 (a CRLF inside a cell).
    assert_eq!([records[0].line, records[1].line, records[2].line], [1, 3, 4]);
    assert_eq!(records[1].cells, ["", "x"]);
    assert_eq!(records[2].cells, ["a\nb\rc"]);
    assert!(records.iter().all(|r| r.complete));
    for record in &records {
        assert_eq!(format.decode(&text[record.range.clone()]).expect("decodes")[0].cells, record.cells);
    }
}

#[test]
fn empty_text_and_empty_records() {
    let format = CsvFormat::default();
    assert!(format.decode("").expect("decodes").is_empty());
    let records = format.decode("\n\"a\"\n").expect("decodes");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].cells, [""]);
    assert_eq!(records[1].cells, ["a"]);
    assert_eq!(records[1].line, 2);
    // Bare cells (other writers) and `""` are accepted.
    assert_eq!(decode_one(&format, "a,\"\",b c\n"), ["a", "", "b c"]);
}

#[test]
fn torn_last_record_is_incomplete_wherever_it_was_cut() {
    for format in [CsvFormat::default(), custom()] {
        let whole = format.encode(&["first", "x"]);
        let torn = format.encode(&["a\"b'c", "", "d;e,f\r\ng", "ünï"]);
        for cut in (1..torn.len()).filter(|&i| torn.is_char_boundary(i)) {
            let text = format!("{whole}{}", &torn[..cut]);
            let records = format.decode(&text).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert_eq!(records.len(), 2, "cut {cut}: {records:?}");
            assert!(records[0].complete);
            assert_eq!(records[0].cells, ["first", "x"]);
            assert!(!records[1].complete, "cut {cut}");
            assert_eq!(records[1].range, whole.len()..text.len(), "cut {cut}");
            assert_eq!(records[1].line, 2);
        }
        let records = format.decode(&format!("{whole}{torn}")).expect("decodes");
        assert!(records[1].complete);
    }
}

#[test]
fn torn_record_keeps_the_cells_read_so_far() {
    let format = CsvFormat::default();
    let records = format.decode("\"a\",\"b\"\n\"c\",\"d").expect("decodes");
    assert_eq!(records[1].cells, ["c", "d"]);
    assert_eq!(records[1].range, 8..14);
    assert!(!records[1].complete);
}

fn syntax_line(format: &CsvFormat, text: &str) -> usize {
    match format.decode(text) {
        Err(CsvError::Syntax { line, .. }) => line,
        other => panic!("{text:?}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn malformed_records_are_syntax_errors_with_their_line() {
    let format = CsvFormat::default();
    // A quote in the middle of a bare cell.
    assert_eq!(syntax_line(&format, "\"a\",b\"c\"\n"), 1);
    assert_eq!(syntax_line(&format, "\"ok\"\n\"ok\"\nab\"c\n"), 3);
    // Text after a closing quote.
    assert_eq!(syntax_line(&format, "\"a\"x,\"b\"\n"), 1);
    assert_eq!(syntax_line(&format, "\"a\nb\"x\n"), 2);
    // An unterminated quote swallowed the delimiter: `"a,"b"` ends the cell at the second quote.
    assert_eq!(syntax_line(&format, "\"a,\"b\"\n\"c\"\n"), 1);
    // A line break outside quotes that is not the end of line.
    let crlf = custom();
    assert_eq!(syntax_line(&crlf, "'a'\n'b'\r\n"), 1);
    assert_eq!(syntax_line(&crlf, "'a'\r\nb\nc\r\n"), 2);
    let message = format.decode("\"a\"x\n").expect_err("malformed").to_string();
    assert!(message.starts_with("line 1: "), "{message}");
}

#[test]
fn formula_neutralisation_off_and_on() {
    let off = CsvFormat::default();
    let on = CsvFormat { neutralise_formulas: true, ..CsvFormat::default() };
    let schema = json!({"type": "object", "properties": {"c": {"type": "string"}}});
    let columns = ["c".to_owned()];
    for cell in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
        assert_eq!(off.encode(&[cell]), format!("\"{cell}\"\n"), "{cell:?}");
        let text = on.encode(&[cell]);
        assert_eq!(text, format!("\"'{cell}\"\n"), "{cell:?}");
        let cells = decode_one(&on, &text);
        assert_eq!(cells, [format!("'{cell}")]);
        assert_eq!(row_to_event(&columns, &cells, &schema, true), json!({"c": cell}));
        // Not told the file was neutralised: the stored value is what it is.
        assert_eq!(row_to_event(&columns, &cells, &schema, false), json!({"c": format!("'{cell}")}));
    }
    for cell in ["a=b", "'plain", "x-1", "", "'"] {
        assert_eq!(on.encode(&[cell]), off.encode(&[cell]), "{cell:?}");
    }
    // Values already starting with `'` + trigger get one more, so they round-trip.
    for cell in ["'=x", "''-1"] {
        let cells = decode_one(&on, &on.encode(&[cell]));
        assert_eq!(cells, [format!("'{cell}")]);
        assert_eq!(row_to_event(&columns, &cells, &schema, true), json!({"c": cell}));
    }
    // With `'` as the quote character the guard is doubled like any quote.
    let quoted = CsvFormat { quote: '\'', ..on };
    assert_eq!(quoted.encode(&["=x"]), "'''=x'\n");
    assert_eq!(decode_one(&quoted, "'''=x'\n"), ["'=x"]);
}

#[test]
fn settings_defaults_and_values() {
    let none = settings(json!({"name": "csv", "logDirectory": "/tmp", "topics": ["access"]}));
    assert_eq!(CsvFormat::from_settings(&none).expect("valid"), CsvFormat::default());
    let all = settings(json!({"formatting": {
        "quoteChar": "'", "delimiterChar": ";", "endOfLineSymbols": "\r\n", "neutraliseFormulas": "TRUE"
    }}));
    assert_eq!(CsvFormat::from_settings(&all).expect("valid"), CsvFormat { neutralise_formulas: true, ..custom() });
    for (value, expected) in [(json!(true), true), (json!("false"), false), (json!("True"), true), (json!(false), false)] {
        let s = settings(json!({"formatting": {"neutraliseFormulas": value}}));
        assert_eq!(CsvFormat::from_settings(&s).expect("valid").neutralise_formulas, expected);
    }
    let unicode = settings(json!({"formatting": {"delimiterChar": "¦"}}));
    assert_eq!(CsvFormat::from_settings(&unicode).expect("valid").delimiter, '¦');
}

#[test]
fn settings_errors_name_the_field() {
    let cases = [
        (json!({"formatting": "x"}), "formatting"),
        (json!({"formatting": {"quoteChar": ""}}), "formatting.quoteChar"),
        (json!({"formatting": {"quoteChar": "ab"}}), "formatting.quoteChar"),
        (json!({"formatting": {"quoteChar": 5}}), "formatting.quoteChar"),
        (json!({"formatting": {"quoteChar": "\n"}}), "formatting.quoteChar"),
        (json!({"formatting": {"delimiterChar": "\r"}}), "formatting.delimiterChar"),
        (json!({"formatting": {"delimiterChar": "\""}}), "formatting.delimiterChar"),
        (json!({"formatting": {"quoteChar": ",", "delimiterChar": ","}}), "formatting.delimiterChar"),
        (json!({"formatting": {"delimiterChar": null}}), "formatting.delimiterChar"),
        (json!({"formatting": {"endOfLineSymbols": ""}}), "formatting.endOfLineSymbols"),
        (json!({"formatting": {"endOfLineSymbols": "\"\n"}}), "formatting.endOfLineSymbols"),
        (json!({"formatting": {"endOfLineSymbols": ",\n"}}), "formatting.endOfLineSymbols"),
        (json!({"formatting": {"neutraliseFormulas": "yes"}}), "formatting.neutraliseFormulas"),
        (json!({"formatting": {"neutraliseFormulas": 1}}), "formatting.neutraliseFormulas"),
        (json!({"formatting": {"quoteCharacter": "'"}}), "formatting.quoteCharacter"),
    ];
    for (value, expected) in cases {
        let error = CsvFormat::from_settings(&settings(value.clone())).expect_err("invalid");
        let text = error.to_string();
        assert!(text.starts_with(&format!("{expected}: ")), "{value}: {text}");
        match error {
            CsvError::Settings { field, .. } => assert_eq!(field, expected, "{value}"),
            other => panic!("{value}: expected a settings error, got {other:?}"),
        }
    }
}

#[test]
fn decode_refuses_an_invalid_format() {
    let format = CsvFormat { delimiter: '"', ..CsvFormat::default() };
    assert!(matches!(format.decode("x\n"), Err(CsvError::Settings { .. })));
}

#[test]
fn columns_of_the_access_schema() {
    let schema = access_schema();
    let columns = columns_for_schema(&schema);
    assert_eq!(
        columns,
        [
            "_id",
            "client.ip",
            "client.port",
            "eventName",
            "http.request.cookies",
            "http.request.headers",
            "http.request.method",
            "http.request.path",
            "http.request.queryParameters",
            "http.request.secure",
            "http.response.headers",
            "request.detail",
            "request.operation",
            "request.protocol",
            "response.detail",
            "response.elapsedTime",
            "response.elapsedTimeUnits",
            "response.status",
            "response.statusCode",
            "server.ip",
            "server.port",
            "timestamp",
            "trackingIds",
            "transactionId",
            "userId",
        ]
    );
    // ForgeRock's `{"schema": {...}}` wrapping gives the same columns.
    assert_eq!(columns_for_schema(&json!({"schema": schema})), columns);
}

#[test]
fn columns_flatten_only_objects_with_properties() {
    let schema = json!({"properties": {
        "z": {"type": "string"},
        "_id": {"type": "string"},
        "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "free": {"type": "object", "additionalProperties": {"type": "string"}},
        "empty": {"type": "object", "properties": {}},
        "maybe": {"type": ["object", "null"], "properties": {"b": {"type": "integer"}}},
        "untyped": {"properties": {"c": {"type": "string"}}},
        "any": {}
    }});
    assert_eq!(columns_for_schema(&schema), ["_id", "any", "empty", "free", "list", "maybe.b", "untyped", "z"]);
    assert!(columns_for_schema(&json!({"type": "object"})).is_empty());
}

fn access_event() -> Value {
    json!({
        "_id": "0b7c-1",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "eventName": "AM-ACCESS-OUTCOME",
        "transactionId": "tx-1",
        "trackingIds": ["t1", "t,2"],
        "client": {"ip": "192.0.2.1", "port": 51234},
        "server": {"ip": "198.51.100.7", "port": 8443},
        "request": {"protocol": "HTTP", "operation": "GET", "detail": {"q": "a \"b\"", "n": [1, 2]}},
        "http": {"request": {
            "secure": true,
            "method": "GET",
            "path": "https://example.com/a,b",
            "headers": {"accept": ["text/html"], "user-agent": ["=cmd|' /C calc'!A0"]}
        }},
        "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": 12, "elapsedTimeUnits": "MILLISECONDS"}
    })
}

#[test]
fn event_cells_of_an_access_event() {
    let schema = access_schema();
    let columns = columns_for_schema(&schema);
    let cells = event_cells(&columns, &access_event());
    let cell = |name: &str| cells[columns.iter().position(|c| c == name).expect(name)].as_str();
    assert_eq!(cell("_id"), "0b7c-1");
    assert_eq!(cell("client.port"), "51234");
    assert_eq!(cell("http.request.secure"), "true");
    assert_eq!(cell("http.request.method"), "GET");
    assert_eq!(cell("trackingIds"), r#"["t1","t,2"]"#);
    assert_eq!(cell("request.detail"), r#"{"n":[1,2],"q":"a \"b\""}"#);
    assert_eq!(cell("userId"), "");
    assert_eq!(cell("http.response.headers"), "");
    assert_eq!(event_cells(&["a.b".to_owned()], &json!({"a": "not an object"})), [""]);
    assert_eq!(event_cells(&["a".to_owned()], &json!({"a": null})), [""]);
}

#[test]
fn access_event_round_trips_through_csv() {
    let schema = access_schema();
    let columns = columns_for_schema(&schema);
    let event = access_event();
    for format in [CsvFormat::default(), custom(), CsvFormat { neutralise_formulas: true, ..custom() }] {
        let cells = event_cells(&columns, &event);
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        let header: Vec<&str> = columns.iter().map(String::as_str).collect();
        let text = format!("{}{}", format.encode(&header), format.encode(&refs));
        let records = format.decode(&text).expect("decodes");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].cells, columns);
        let back = row_to_event(&records[0].cells, &records[1].cells, &schema, format.neutralise_formulas);
        assert_eq!(back, event, "{format:?}");
    }
}

#[test]
fn row_to_event_types_cells_by_the_schema() {
    let schema = json!({"schema": {"properties": {
        "n": {"type": "integer"},
        "s": {"type": "string"},
        "o": {"type": "object"},
        "u": {},
        "a": {"type": "object", "properties": {"b": {"type": "boolean"}}}
    }}});
    let columns: Vec<String> = ["n", "s", "o", "u", "a.b", "extra", "n2"].map(String::from).to_vec();
    let row = |cells: [&str; 7]| row_to_event(&columns, &cells.map(String::from), &schema, false);
    assert_eq!(
        row(["7", "7", "{\"k\":1}", "[1]", "false", "8", ""]),
        json!({"n": 7, "s": "7", "o": {"k": 1}, "u": [1], "a": {"b": false}, "extra": "8"})
    );
    // Text that is not JSON of a non-string type stays a string; empty cells are left out.
    assert_eq!(row(["seven", "", "not json", "\"quoted\"", "", "", ""]), json!({"n": "seven", "o": "not json", "u": "\"quoted\""}));
    assert_eq!(row(["null", "", "", "null", "", "", ""]), json!({"n": "null", "u": "null"}));
    // Fewer cells than columns: the rest are absent.
    assert_eq!(row_to_event(&columns, &["1".to_owned()], &schema, false), json!({"n": 1}));
}

proptest! {
    #[test]
    fn any_cells_round_trip(
        cells in prop::collection::vec("[a-c,;'\"\r\n\t=é🦀 ]{0,8}", 1..6),
        custom_format in any::<bool>(),
        neutralise in any::<bool>(),
    ) {
        let format = CsvFormat {
            neutralise_formulas: neutralise,
            ..if custom_format { custom() } else { CsvFormat::default() }
        };
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        let text = format!("{}{}", format.encode(&refs), format.encode(&refs));
        let records = format.decode(&text).expect("decodes");
        prop_assert_eq!(records.len(), 2);
        let columns: Vec<String> = (0..cells.len()).map(|i| format!("c{i}")).collect();
        let schema = json!({"properties": {}});
        for record in &records {
            prop_assert!(record.complete);
            let back = row_to_event(&columns, &record.cells, &schema, neutralise);
            let expected: Map<String, Value> = columns
                .iter()
                .zip(&cells)
                .filter(|(_, c)| !c.is_empty())
                .map(|(k, c)| (k.clone(), Value::String(c.clone())))
                .collect();
            prop_assert_eq!(back, Value::Object(expected));
        }
    }
}
