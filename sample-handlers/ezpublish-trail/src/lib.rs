//! eZ Publish audit trailing (`eZAudit::writeAudit()`), ported to a WASP
//! handler.
//!
//! eZ Publish 4.x writes one plain-text record per audited operation to one
//! log file per *audit function* (`audit.ini`, `[AuditSettings]`:
//! `Audit=enabled`, `AuditFileNames[<function>]=<file>`). Here the
//! application publishes an event whose `eventName` is the function's name;
//! the handler writes the same record to the WASP output named like the
//! function's file. The host owns the files; a failure here never reaches
//! the request path. The crate's `README.md` has a complete configuration.
//!
//! # The record
//!
//! ```text
//! [ May 23 2007 14:47:58 ] [127.0.0.1] [editor:16]
//! Node ID: 124
//! Old parent node ID: 2
//! New parent node ID: 59
//! Object ID: 114
//! Content Name: Folder
//! Comment: Moved the node to the given node: eZContentObjectTreeNode::move()
//!
//! ```
//!
//! The header is `[ <time> ] [<ip>] [<login>:<id>]`, then one `Key: value`
//! line per attribute, then an empty line (eZLog appends `\n` to a message
//! that already ends with one, so records are separated by a blank line).
//!
//! | header part | event field |
//! |---|---|
//! | time | the event's `timestamp` (ISO-8601), in UTC, as `strftime("%b %d %Y %H:%M:%S")`: `May 23 2007 14:47:58`; a timestamp that is not ISO-8601 is copied as it is |
//! | ip | `/client/ip`, else `/ip`; absent: empty (`[]`) |
//! | login | `/user/login`, else `/userId`; absent: empty |
//! | id | `/user/id`; absent: empty |
//!
//! # The event of each built-in function
//!
//! Every attribute is optional: absent or `null`, its line is left out (as
//! eZ's own callers do, e.g. `eZContentObject::purge()` writes
//! `content-delete` without a node). Lines are in the order of the table;
//! fields not listed are not written.
//!
//! | `eventName` | default file | event field → record key |
//! |---|---|---|
//! | `user-login` | `login.log` | `accountId` → `User id`, `accountLogin` → `User login` |
//! | `user-failed-login` | `failed_login.log` | `accountLogin` → `User login`, `comment` → `Comment` |
//! | `content-move` | `content_move.log` | `nodeId` → `Node ID`, `oldParentNodeId` → `Old parent node ID`, `newParentNodeId` → `New parent node ID`, `objectId` → `Object ID`, `contentName` → `Content Name`, `comment` → `Comment` |
//! | `content-delete` | `content_delete.log` | `nodeId` → `Node ID`, `objectId` → `Object ID`, `contentName` → `Content Name`, `comment` → `Comment` |
//! | `role-change` | `role_change.log` | `roleId` → `Role ID`, `roleName` → `Role name`, `comment` → `Comment` |
//! | `role-assign` | `role_assign.log` | `roleId` → `Role ID`, `roleName` → `Role name`, `assignToObjectId` → `Assign to content object ID`, `objectName` → `Content object name`, `comment` → `Comment` |
//! | `section-assign` | `section_assign.log` | `sectionId` → `Section ID`, `sectionName` → `Section name`, `nodeId` → `Node ID`, `objectId` → `Object ID`, `contentName` → `Content Name`, `comment` → `Comment` |
//! | `order-delete` | `order_delete.log` | `orderId` → `Order ID`, `comment` → `Comment` |
//!
//! (`accountId`/`accountLogin` name the account that logged in or tried to:
//! in eZ the header's user is the session's, still anonymous at that point.)
//!
//! # Functions defined by configuration alone
//!
//! Any other `eventName` listed in `AuditFileNames` is written with every
//! top-level field of the event as a `Key: value` line, the field name as
//! the key, except the fields of the header and the event's identity:
//! `_id`, `eventName`, `timestamp`, `transactionId`, `trackingIds`, `user`,
//! `userId`, `client`, `ip`. WASP hands events to handlers with their fields
//! in key order (a JSON object has no order), so that is the line order,
//! unless `AuditFieldOrder` lists the keys to write first:
//! `{"AuditFieldOrder": {"my-new-audit": ["User id", "Comment"]}}` (fields
//! not listed follow, in key order).
//!
//! # Values
//!
//! A string is written as it is, a number or boolean as its JSON text, an
//! array or object as compact JSON; a line break inside becomes `\n` (`\r`)
//! so that every record line stays one line.
//!
//! # Configuration (the handler's `config`)
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `Audit` | `"disabled"` | `"enabled"` turns the trail on (eZ's default is off) |
//! | `AuditFileNames` | the eight built-in functions → their default files | function → file. Given, it replaces the defaults (like `AuditFileNames[]` followed by entries in an ini override). A function not listed is ignored. |
//! | `AuditFieldOrder` | `{}` | function defined by configuration → the keys to write first |
//!
//! eZ's `audit.ini` itself can be the handler's `configFile` (WASP reads
//! the INI; the handler takes its `[AuditSettings]` section). `LogDir` and
//! `VarDir` are accepted, but each file is a WASP output, declared in the
//! handler's `outputs` under the file's name (`{"content_move.log":
//! {"type": "file", "path": "content_move.log"}}`); the directory is the
//! handler's (set it to `<VarDir>/<LogDir>` to keep eZ's layout).
//!
//! # One record, several `emit`s
//!
//! A `file` output is line-oriented and refuses a record containing a
//! newline, so each line of an eZ record is emitted as its own record, in
//! order, and the record ends with an empty one (which the file output
//! writes as an empty line): the file's bytes are eZ's. Records of an event
//! are committed together, and only if `handle` returns `Ok`: a file that
//! is not a declared output fails the event (it is dead-lettered, nothing
//! of it is written), never a half record.

use wasp_guest::{Config, Event, Handler, emit, export_handler};

mod ezdate;
mod trail;

use trail::Trail;

struct EzPublishTrail {
    trail: Trail,
}

impl Handler for EzPublishTrail {
    fn init(config: Config) -> Result<Self, String> {
        Ok(EzPublishTrail { trail: Trail::from_config(config.json())? })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        let Some(function) = event.event_name() else {
            return Ok(());
        };
        let Some(file) = self.trail.file_for(function) else {
            return Ok(());
        };
        let document = event.json()?;
        for line in self.trail.record(function, event.timestamp(), document) {
            emit(file, line).map_err(|e| format!("audit function `{function}` goes to `{file}` (AuditFileNames): {e}"))?;
        }
        Ok(())
    }
}

export_handler!(EzPublishTrail);
