//! The ezpublish-trail sample (eZ Publish audit trailing), end to end
//! through the embedded API, with byte-exact files.

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, guests};

/// The record the eZ Publish 4.x documentation ("Audit trailing") shows
/// after a node was moved. eZLog ends every record with an empty line.
const SEED_CONTENT_MOVE: &str = include_str!("../../sample-handlers/ezpublish-trail/seed/content-move.txt");

/// The documentation's record of a new audit function, `my-new-audit`.
const SEED_MY_NEW_AUDIT: &str = include_str!("../../sample-handlers/ezpublish-trail/seed/my-new-audit.txt");

/// The node move of the documentation, as an event.
fn node_move() -> Value {
    json!({
        "_id": "move-124",
        "timestamp": "2007-05-23T14:47:58Z",
        "transactionId": "tx-move",
        "eventName": "content-move",
        "client": {"ip": "127.0.0.1"},
        "user": {"login": "editor", "id": 16},
        "nodeId": 124,
        "oldParentNodeId": 2,
        "newParentNodeId": 59,
        "objectId": 114,
        "contentName": "Folder",
        "comment": "Moved the node to the given node: eZContentObjectTreeNode::move()"
    })
}

/// The ezpublish-trail handler `name` with this `config` and a file output
/// per name in `files`.
fn trail_handler(name: &str, config: Value, files: &[&str]) -> Value {
    let outputs: serde_json::Map<String, Value> = files.iter().map(|f| ((*f).to_owned(), json!({"type": "file", "path": f}))).collect();
    json!({
        "name": name,
        "topics": ["activity", "authentication"],
        "component": guests::EZPUBLISH_TRAIL,
        "outputs": outputs,
        "config": config
    })
}

/// The bytes of `wasp-data/<handler>/<file>`; `None` when it does not exist.
fn file_text(fx: &Fixture, handler: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(fx.path().join("wasp-data").join(handler).join(file)).ok()
}

#[test]
fn ezpublish_node_move_record_matches_the_seed_byte_for_byte() {
    let fx = Fixture::new();
    let config = json!({"Audit": "enabled", "AuditFileNames": {"content-move": "content_move.log"}});
    let handler = trail_handler("ezpublish", config, &["content_move.log"]);
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service.publish("activity", node_move()).unwrap();
    service.flush();

    let one = format!("{SEED_CONTENT_MOVE}\n");
    assert_eq!(file_text(&fx, "ezpublish", "content_move.log").unwrap(), one);
    let mut lines: Vec<&str> = SEED_CONTENT_MOVE.lines().collect();
    lines.push("");
    assert_eq!(fx.output_lines("ezpublish", "content_move.log"), lines, "one record per line, then the empty line");

    // The next record follows the blank line, as in an eZ log file.
    service.publish("activity", node_move()).unwrap();
    service.flush();
    assert_eq!(file_text(&fx, "ezpublish", "content_move.log").unwrap(), one.repeat(2));

    let summary = service.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.received, h.delivered, h.dead_lettered), (2, 2, 0), "{h:?}");
}

#[test]
fn ezpublish_ignores_unconfigured_functions_and_writes_a_function_added_by_config_alone() {
    let fx = Fixture::new();
    let config = json!({
        "Audit": "enabled",
        "AuditFileNames": {"content-move": "content_move.log", "my-new-audit": "info.log"},
        "AuditFieldOrder": {"my-new-audit": ["User id", "Comment"]}
    });
    let enabled = trail_handler("ezpublish", config, &["content_move.log", "info.log", "login.log"]);
    // eZ's default: auditing is off until `Audit` is `enabled`.
    let off = trail_handler("ezpublish-off", json!({}), &["content_move.log", "info.log", "login.log"]);
    let service = AuditService::from_config_file(fx.config(&[enabled, off])).unwrap();

    // Not in AuditFileNames: ignored, even with an output of its default name.
    service
        .publish(
            "authentication",
            json!({"timestamp": "2007-05-23T14:40:00Z", "transactionId": "t1", "eventName": "user-login",
                   "client": {"ip": "127.0.0.1"}, "user": {"login": "admin", "id": 14}, "accountId": 14, "accountLogin": "admin"}),
        )
        .unwrap();
    service
        .publish(
            "activity",
            json!({"timestamp": "2007-05-23T14:41:00Z", "transactionId": "t2", "eventName": "content-delete", "nodeId": 7}),
        )
        .unwrap();
    service.publish("activity", json!({"timestamp": "2007-05-23T14:42:00Z", "transactionId": "t3"})).unwrap();
    // A function no code knows, added by configuration alone.
    service
        .publish(
            "activity",
            json!({"timestamp": "2007-05-23T14:44:04Z", "transactionId": "t4", "eventName": "my-new-audit",
                   "ip": "127.0.0.1", "user": {"login": "anonymous", "id": 10},
                   "User id": 10, "Comment": "The operation XYZ was performed."}),
        )
        .unwrap();
    service.flush();

    assert_eq!(file_text(&fx, "ezpublish", "info.log").unwrap(), format!("{SEED_MY_NEW_AUDIT}\n"));
    for handler in ["ezpublish", "ezpublish-off"] {
        for file in ["content_move.log", "login.log"] {
            assert_eq!(file_text(&fx, handler, file).unwrap_or_default(), "", "{handler}/{file}");
        }
    }
    assert_eq!(file_text(&fx, "ezpublish-off", "info.log").unwrap_or_default(), "");

    let summary = service.shutdown();
    for h in &summary.handlers {
        assert_eq!((h.received, h.delivered, h.dead_lettered), (4, 4, 0), "ignored is not failed: {h:?}");
    }
}

#[test]
fn ezpublish_file_that_is_not_an_output_dead_letters_the_event_and_writes_nothing() {
    let fx = Fixture::new();
    let config = json!({"Audit": "enabled", "AuditFileNames": {"content-move": "moves.log", "order-delete": "order_delete.log"}});
    let handler = trail_handler("ezpublish", config, &["order_delete.log"]);
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service.publish("activity", node_move()).unwrap();
    service
        .publish(
            "activity",
            json!({"timestamp": "2007-05-23T15:00:00Z", "transactionId": "t", "eventName": "order-delete",
                   "client": {"ip": "10.0.0.1"}, "user": {"login": "admin", "id": 14}, "orderId": 1001,
                   "comment": "Removed the order and its related data from the database: eZOrder::cleanupOrder()"}),
        )
        .unwrap();
    service.flush();

    assert_eq!(
        file_text(&fx, "ezpublish", "order_delete.log").unwrap(),
        "[ May 23 2007 15:00:00 ] [10.0.0.1] [admin:14]\nOrder ID: 1001\n\
         Comment: Removed the order and its related data from the database: eZOrder::cleanupOrder()\n\n"
    );
    assert_eq!(file_text(&fx, "ezpublish", "moves.log"), None);
    let letters = fx.dead_letters("ezpublish");
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.event.id, "move-124");
    assert_eq!(serde_json::to_value(letter.fault.kind).unwrap(), "guest-error");
    let message = &letter.fault.message;
    assert!(message.contains("audit function `content-move` goes to `moves.log`"), "{message}");
    assert!(message.contains("output `moves.log` is not declared"), "{message}");
    service.shutdown();
}

/// The seed's `audit.ini` override, as an eZ site keeps it
/// (`settings/override/audit.ini.append.php`), given to the handler as its
/// `configFile`: log-ins and role changes go to their files under the
/// handler's directory (`var/log/my_audit`, eZ's `<VarDir>/<LogDir>`);
/// everything else is ignored.
#[test]
fn ezpublish_reads_the_seeds_audit_ini_override() {
    let fx = Fixture::new();
    std::fs::write(
        fx.path().join("audit.ini.append.php"),
        "<?php /* #?ini charset=\"utf-8\"?\n\n[AuditSettings]\nAudit=enabled\nLogDir=log/my_audit\nAuditFileNames[]\n\
         AuditFileNames[user-login]=login.log\nAuditFileNames[role-change]=role_change.log\n*/ ?>\n",
    )
    .unwrap();
    let mut handler = trail_handler("ezpublish", Value::Null, &["login.log", "role_change.log", "content_move.log"]);
    handler.as_object_mut().unwrap().remove("config");
    handler["configFile"] = json!("audit.ini.append.php");
    handler["directory"] = json!("var/log/my_audit");
    let service = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    service
        .publish(
            "authentication",
            json!({"timestamp": "2007-05-23T14:40:00Z", "transactionId": "t1", "eventName": "user-login",
                   "client": {"ip": "127.0.0.1"}, "user": {"login": "admin", "id": 14}, "accountId": 14, "accountLogin": "admin"}),
        )
        .unwrap();
    service.publish("activity", node_move()).unwrap();
    service.flush();
    let dir = fx.path().join("wasp-data/var/log/my_audit");
    let login = std::fs::read_to_string(dir.join("login.log")).unwrap();
    assert!(login.starts_with("[ May 23 2007 14:40:00 ] [127.0.0.1] [admin:14]\n"), "{login}");
    assert_eq!(std::fs::read_to_string(dir.join("content_move.log")).unwrap_or_default(), "", "not in AuditFileNames: ignored");
    let h = service.shutdown().handlers[0].clone();
    assert_eq!((h.received, h.delivered, h.dead_lettered), (2, 2, 0), "{h:?}");

    // Both `config` and `configFile`, or an INI file that is not one: named errors.
    let mut both = trail_handler("ezpublish", json!({"Audit": "enabled"}), &["login.log"]);
    both["configFile"] = json!("audit.ini.append.php");
    let error = AuditService::from_config_file(fx.config(&[both])).err().unwrap().to_string();
    assert!(error.contains("configFile") && error.contains("not both"), "{error}");
    std::fs::write(fx.path().join("broken.ini"), "Audit=enabled\n").unwrap();
    let mut broken = trail_handler("ezpublish", Value::Null, &["login.log"]);
    broken.as_object_mut().unwrap().remove("config");
    broken["configFile"] = json!("broken.ini");
    let error = AuditService::from_config_file(fx.config(&[broken])).err().unwrap().to_string();
    assert!(error.contains("broken.ini: line 1: `Audit=enabled` is outside any [Section]"), "{error}");
}
