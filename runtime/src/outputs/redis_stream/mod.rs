//! The `redis-stream` output: records appended to a Redis stream.
//!
//! Each record is one entry with the fields `_id` (the event's `_id`: the
//! record's `_id`, or `event._id` in ForgeRock's JMS body; empty when it
//! has none) and `body` (the record). A batch is appended by a Lua script
//! (atomic per call, pipelined in calls of 500 records) that skips an id
//! it added within `dedupeWindow` seconds (default 300), remembered in an
//! expiring key `<key>:wasp-ids:<_id>`: a batch re-sent after a lost reply
//! adds each event once. With the window off (`0`), such a retry can add
//! entries twice (same `_id`, for consumers to recognise).
//!
//! Delivery: the batch is acknowledged once Redis answered every call. A
//! refused connection, a wrong password (`WRONGPASS`), a key of another
//! type (`WRONGTYPE`), a timeout: the batch waits in the journal and is
//! sent again with a backoff. Redis acknowledges writes in memory: its
//! persistence (AOF, RDB, replicas) decides what survives its own crash.

mod config;
pub mod resp;
mod sink;
#[cfg(test)]
mod tests;

pub use config::RedisStreamConfig;
pub use sink::RedisStreamSink;

super::broker::broker_output!(RedisStreamConfig, RedisStreamSink);
