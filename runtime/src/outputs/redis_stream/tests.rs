//! Settings of the `redis-stream` output and RESP parsing (delivery
//! against a real server is in `tests/all/brokers.rs`).

use super::RedisStreamConfig;
use super::resp::{Reply, read_reply};

fn config(value: serde_json::Value) -> Result<RedisStreamConfig, String> {
    let config: RedisStreamConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
    config.validate().map(|()| config).map_err(|e| e.to_string())
}

#[test]
fn settings_are_checked_and_name_the_field() {
    let ok = config(serde_json::json!({"url": "redis://:secret@127.0.0.1/2", "key": "audit"})).unwrap();
    assert_eq!((ok.database().unwrap(), ok.window()), (2, 300));
    assert!(!format!("{ok:?}").contains("secret"));
    assert!(config(serde_json::json!({"url": "redis://h/x", "key": "a"})).unwrap_err().starts_with("url:"));
    assert!(config(serde_json::json!({"url": "redis://h", "key": ""})).unwrap_err().starts_with("key:"));
    assert!(config(serde_json::json!({"url": "redis://h", "key": "a", "maxLen": 0})).unwrap_err().starts_with("maxLen:"));
}

#[test]
fn replies_are_read() {
    let mut input: &[u8] = b"+OK\r\n-WRONGPASS invalid\r\n:3\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n";
    let mut reader = std::io::BufReader::new(&mut input);
    assert_eq!(read_reply(&mut reader).unwrap(), Reply::Status("OK".into()));
    assert_eq!(read_reply(&mut reader).unwrap(), Reply::Error("WRONGPASS invalid".into()));
    assert_eq!(read_reply(&mut reader).unwrap(), Reply::Integer(3));
    assert_eq!(read_reply(&mut reader).unwrap(), Reply::Bulk(Some(b"a\r\nb".to_vec())));
    assert_eq!(read_reply(&mut reader).unwrap(), Reply::Bulk(None));
    assert_eq!(read_reply(&mut reader).unwrap(), Reply::Array(Some(vec![Reply::Integer(1), Reply::Bulk(Some(Vec::new()))])));
    assert!(read_reply(&mut reader).is_err(), "end of input");
}
