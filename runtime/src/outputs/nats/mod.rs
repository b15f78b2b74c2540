//! The `nats` output: records published to NATS JetStream.
//!
//! Each record is one message on `subject`, with the header `Nats-Msg-Id`
//! set to the event's `_id` (the record's `_id`, or `event._id` in
//! ForgeRock's JMS body): JetStream stores a message id once within the
//! stream's duplicate window (2 minutes by default), so a batch re-sent
//! after a lost acknowledgement is not stored twice.
//!
//! Delivery: a batch is published whole (pipelined), then every publish
//! acknowledgement (`PubAck`) is awaited; only when all arrived is the
//! batch acknowledged in the journal. A connection failure, a wrong
//! password, a missing stream, a missing acknowledgement: the batch waits
//! in the journal and is sent again with a backoff (the error names the
//! cause; `wasp_handler_output_retries_total` counts it).

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::NatsOutputConfig;
pub use sink::NatsSink;

super::broker::broker_output!(NatsOutputConfig, NatsSink);
