//! The `mqtt` output: records published to an MQTT broker (3.1.1) with
//! QoS 1.
//!
//! Each record is one `PUBLISH` on `topic` (not retained). MQTT 3.1.1 has
//! no message properties: the event's `_id` travels in the record (the
//! JMS body's `event._id`) for consumers to recognise a message twice.
//!
//! Delivery: a batch's `PUBLISH`es are written in windows of 10000, then
//! the `PUBACK` of every packet id is awaited; only when all arrived is the
//! batch acknowledged in the journal. A refused `CONNACK` (bad user name or
//! password: code 4; not authorized: 5), a broker that is down, a missing
//! `PUBACK`: the batch waits in the journal and is published again with a
//! backoff, on a new clean session. QoS 1 is "at least once": a batch
//! re-sent after a lost `PUBACK` delivers those messages again.

mod config;
mod packet;
mod sink;
#[cfg(test)]
mod tests;

pub use config::MqttOutputConfig;
pub use sink::MqttSink;

super::broker::broker_output!(MqttOutputConfig, MqttSink);
