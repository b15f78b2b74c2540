use serde_json::json;

use super::format::{facility, message, severity};

#[test]
fn messages_are_laid_out_as_forgerock_does() {
    let event =
        json!({"_id": "e1", "timestamp": "2026-12-04T10:00:00.123Z", "userId": "bj\"en]sen", "response": {"status": "FAILED"}, "n": 3});
    let json = event.to_string();
    let fields = super::format::fields(&json).unwrap();
    let text = message(facility("local0").unwrap(), severity("ERROR").unwrap(), "host-1", "wasp", "access", &fields);
    assert_eq!(
        text,
        r#"<131>1 2026-12-04T10:00:00.123Z host-1 wasp - access [access@36733 _id="e1" n="3" response="{\"status\":\"FAILED\"}" timestamp="2026-12-04T10:00:00.123Z" userId="bj\"en\]sen"]"#
    );
    assert_eq!(facility("KERN"), Some(0));
    assert_eq!(severity("informational"), Some(6));
    assert_eq!(facility("local8"), None);
}
