//! The `amqp` output: records published to an AMQP 0-9-1 broker
//! (RabbitMQ) with publisher confirms.
//!
//! Each record is one message to `exchange` with `routingKey`, content
//! type `application/json`, delivery mode 2 (persistent) unless
//! `persistent` is false, and the event's `_id` (the record's `_id`, or
//! `event._id` in ForgeRock's JMS body) as its `message-id` property, for
//! consumers to recognise a message they already have.
//!
//! Delivery: the channel is in confirm mode; a batch is published whole,
//! then the broker's confirms are awaited, and only when every message is
//! confirmed (`basic.ack`) is the batch acknowledged in the journal. A
//! `basic.nack`, a closed channel (a missing exchange: 404), a refused
//! login, a broker that is down, a confirm that does not come: the batch
//! waits in the journal and is published again with a backoff. AMQP has no
//! publish-side deduplication: a batch re-sent after a confirm was lost can
//! deliver some messages twice (same `message-id`). The broker routes
//! without `mandatory`: a message no queue is bound to is confirmed and
//! dropped by the broker, as a JMS topic without subscribers would — bind
//! a queue before events flow.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::AmqpOutputConfig;
pub use sink::AmqpSink;

super::broker::broker_output!(AmqpOutputConfig, AmqpSink);
