//! `JmsAuditEventHandler`: events published to a message broker,
//! configured as in ForgeRock: `deliveryMode` (`PERSISTENT`,
//! `NON_PERSISTENT`), `sessionMode` (`AUTO`, `CLIENT`, `DUPS_OK`), `batch`
//! (`batchEnabled`, `maxBatchedEvents`, …) and `jndi` (`contextProperties`,
//! `topicName`, `connectionFactoryName`).
//!
//! WASP speaks no JMS (a Java API): the broker is named by the scheme of
//! `jndi.contextProperties["java.naming.provider.url"]` and reached with
//! its own protocol — `amqp://` (AMQP 0-9-1, RabbitMQ), `nats://` (NATS
//! JetStream), `redis://` (a Redis stream), `mqtt://` (MQTT 3.1.1) — and
//! `jndi.topicName` is the destination: the exchange, the subject, the
//! stream key, the topic. `java.naming.security.principal` and
//! `java.naming.security.credentials` are the user and password. An
//! ActiveMQ OpenWire URL (`tcp://`, `ssl://`, `failover:`, `vm://`) is
//! recognised and refused with the schemes WASP supports. Broker options
//! beyond JNDI are context properties under `wasp.` (see
//! [`WASP_PROPERTIES`]).
//!
//! Each event is one message whose body is ForgeRock's:
//! `{"auditTopic": "<topic>", "event": <the event as published>}`.
//! Delivery is the broker output's ([`crate::outputs::nats`],
//! [`crate::outputs::amqp`], [`crate::outputs::redis_stream`],
//! [`crate::outputs::mqtt`]): acknowledged after the broker's confirm,
//! retried while it is down or refuses.

use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, boolean, duration, integer, object, only, string};
use crate::event::HostEvent;
use crate::outputs::OutputConfig;

/// The context properties WASP reads beyond JNDI's (an unknown `wasp.`
/// property is refused, to catch a typo).
pub const WASP_PROPERTIES: [&str; 6] = [
    "wasp.nats.stream",
    "wasp.nats.createStream",
    "wasp.amqp.routingKey",
    "wasp.amqp.declareExchange",
    "wasp.redis.dedupeWindow",
    "wasp.timeout",
];

const URL: &str = "jndi.contextProperties[\"java.naming.provider.url\"]";

/// Where a JMS handler's messages go.
#[derive(Debug, Clone, PartialEq)]
pub enum JmsBroker {
    /// A broker WASP reaches: the output that publishes to it.
    Output(OutputConfig),
    /// A provider URL WASP cannot reach (ActiveMQ OpenWire): why, naming
    /// the setting and the supported schemes.
    Unsupported(String),
}

/// The settings of a `JmsAuditEventHandler`.
#[derive(Debug, Clone, PartialEq)]
pub struct JmsSettings {
    /// The broker.
    pub broker: JmsBroker,
    /// `jndi.topicName`: the destination.
    pub topic_name: String,
    /// `deliveryMode`: `PERSISTENT` (default) or `NON_PERSISTENT` (AMQP
    /// delivery mode 1; the other brokers store either way).
    pub persistent: bool,
    /// `sessionMode` as written (`AUTO`, `CLIENT` or `DUPS_OK`): how a JMS
    /// *consumer* acknowledges; it does not change publishing.
    pub session_mode: String,
    /// `batch.maxBatchedEvents` (default 100; 1 with `batchEnabled`
    /// false): events per broker round.
    pub max_batched: usize,
    /// `batch.writeInterval` (default 0: whatever is waiting): how long
    /// events may wait to be sent together.
    pub write_interval: Duration,
}

impl JmsSettings {
    /// Reads the handler's settings (besides name, topics and enabled).
    pub fn from_settings(settings: &Map<String, Value>) -> Result<JmsSettings, SettingsError> {
        only(settings, "", &["deliveryMode", "sessionMode", "jndi", "batch"])?;
        let persistent = match string(settings, "", "deliveryMode")?.map(|m| m.to_ascii_uppercase()).as_deref() {
            None | Some("PERSISTENT") => true,
            Some("NON_PERSISTENT") => false,
            Some(other) => {
                return Err(SettingsError::new("deliveryMode", format!("`{other}` is not PERSISTENT or NON_PERSISTENT")));
            }
        };
        let session_mode = string(settings, "", "sessionMode")?.map_or_else(|| "AUTO".to_owned(), |m| m.to_ascii_uppercase());
        if !["AUTO", "CLIENT", "DUPS_OK"].contains(&session_mode.as_str()) {
            return Err(SettingsError::new("sessionMode", format!("`{session_mode}` is not AUTO, CLIENT or DUPS_OK")));
        }
        let (max_batched, write_interval) = batch(settings)?;
        let jndi = object(settings, "jndi", &["contextProperties", "topicName", "connectionFactoryName"])?
            .ok_or_else(|| SettingsError::new("jndi", "required: contextProperties (with java.naming.provider.url) and topicName"))?;
        let topic_name = string(jndi, "jndi", "topicName")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SettingsError::new("jndi.topicName", "required: the destination (exchange, subject, stream key or topic)"))?;
        let properties = match jndi.get("contextProperties") {
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(SettingsError::new("jndi.contextProperties", "must be an object"));
            }
            None => {
                return Err(SettingsError::new("jndi.contextProperties", "required: java.naming.provider.url names the broker"));
            }
        };
        let property = |key: &str| -> Result<Option<String>, SettingsError> {
            match properties.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(SettingsError::new(format!("jndi.contextProperties[\"{key}\"]"), "must be a string")),
            }
        };
        if let Some(key) = properties.keys().find(|k| k.starts_with("wasp.") && !WASP_PROPERTIES.contains(&k.as_str())) {
            return Err(SettingsError::new(
                format!("jndi.contextProperties[\"{key}\"]"),
                format!("unknown WASP property (known: {})", WASP_PROPERTIES.join(", ")),
            ));
        }
        let url = property("java.naming.provider.url")?
            .ok_or_else(|| SettingsError::new(URL, "required: the broker, amqp://, nats://, redis:// or mqtt://"))?;
        let (username, password) = (property("java.naming.security.principal")?, property("java.naming.security.credentials")?);
        let flag = |key: &str| -> Result<bool, SettingsError> {
            match property(key)?.as_deref() {
                None | Some("false") => Ok(false),
                Some("true") => Ok(true),
                Some(other) => {
                    Err(SettingsError::new(format!("jndi.contextProperties[\"{key}\"]"), format!("`{other}` is not true or false")))
                }
            }
        };
        let number = |key: &str| -> Result<Option<u64>, SettingsError> {
            property(key)?
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        SettingsError::new(format!("jndi.contextProperties[\"{key}\"]"), format!("`{v}` is not a whole number"))
                    })
                })
                .transpose()
        };
        let timeout = number("wasp.timeout")?;
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        let output = match scheme.as_str() {
            "nats" => OutputConfig::Nats(crate::outputs::nats::NatsOutputConfig {
                url,
                subject: topic_name.clone(),
                stream: property("wasp.nats.stream")?,
                create_stream: flag("wasp.nats.createStream")?,
                username,
                password,
                timeout,
            }),
            "amqp" => OutputConfig::Amqp(crate::outputs::amqp::AmqpOutputConfig {
                url,
                exchange: topic_name.clone(),
                routing_key: property("wasp.amqp.routingKey")?.unwrap_or_default(),
                declare_exchange: flag("wasp.amqp.declareExchange")?,
                persistent,
                username,
                password,
                timeout,
            }),
            "redis" => OutputConfig::RedisStream(crate::outputs::redis_stream::RedisStreamConfig {
                url,
                key: topic_name.clone(),
                dedupe_window: number("wasp.redis.dedupeWindow")?,
                max_len: None,
                username,
                password,
                timeout,
            }),
            "mqtt" => OutputConfig::Mqtt(crate::outputs::mqtt::MqttOutputConfig {
                url,
                topic: topic_name.clone(),
                client_id: None,
                username,
                password,
                timeout,
            }),
            _ => {
                let shown = crate::outputs::broker::redact(&url);
                let what = if ["tcp", "ssl", "nio", "nio+ssl", "failover", "vm", "auto", "auto+ssl", "discovery", "static"]
                    .contains(&scheme.as_str())
                {
                    "an ActiveMQ OpenWire URL, a protocol WASP does not speak"
                } else {
                    "not a broker URL WASP supports"
                };
                let message = format!(
                    "{URL}: `{shown}` is {what}; supported: amqp:// (AMQP 0-9-1, RabbitMQ), nats:// (NATS JetStream), redis:// (Redis streams), \
                     mqtt:// (MQTT 3.1.1, e.g. ActiveMQ's MQTT connector)"
                );
                return Ok(JmsSettings {
                    broker: JmsBroker::Unsupported(message),
                    topic_name,
                    persistent,
                    session_mode,
                    max_batched,
                    write_interval,
                });
            }
        };
        output.validate().map_err(|e| {
            let at = match e.field.as_str() {
                "url" => URL.to_owned(),
                "subject" | "exchange" | "key" | "topic" => "jndi.topicName".to_owned(),
                "password" => "jndi.contextProperties[\"java.naming.security.credentials\"]".to_owned(),
                "createStream" | "stream" => "jndi.contextProperties[\"wasp.nats.stream\"]".to_owned(),
                "declareExchange" => "jndi.contextProperties[\"wasp.amqp.declareExchange\"]".to_owned(),
                "routingKey" => "jndi.contextProperties[\"wasp.amqp.routingKey\"]".to_owned(),
                "timeout" => "jndi.contextProperties[\"wasp.timeout\"]".to_owned(),
                _ => "jndi".to_owned(),
            };
            SettingsError::new(at, e.message)
        })?;
        Ok(JmsSettings { broker: JmsBroker::Output(output), topic_name, persistent, session_mode, max_batched, write_interval })
    }

    /// Why this handler cannot run (an unsupported provider URL).
    pub fn unsupported(&self) -> Option<&str> {
        match &self.broker {
            JmsBroker::Unsupported(message) => Some(message),
            JmsBroker::Output(_) => None,
        }
    }
}

/// `batch`: ForgeRock's batch publisher (`batchEnabled`, `capacity`,
/// `threadCount`, `maxBatchedEvents`, `insertTimeout`, `pollTimeout`,
/// `shutdownTimeout`; WASP's journal replaces the queue, so only
/// `batchEnabled`, `maxBatchedEvents` and `writeInterval` matter).
fn batch(settings: &Map<String, Value>) -> Result<(usize, Duration), SettingsError> {
    let keys =
        ["batchEnabled", "capacity", "threadCount", "maxBatchedEvents", "insertTimeout", "pollTimeout", "shutdownTimeout", "writeInterval"];
    let Some(b) = object(settings, "batch", &keys)? else { return Ok((100, Duration::ZERO)) };
    for key in ["capacity", "threadCount", "insertTimeout", "pollTimeout", "shutdownTimeout"] {
        if let Some(n) = integer(b, "batch", key)?
            && n < 0
        {
            return Err(SettingsError::new(format!("batch.{key}"), "must not be negative"));
        }
    }
    let batched = integer(b, "batch", "maxBatchedEvents")?.unwrap_or(100);
    if batched <= 0 || batched > 100_000 {
        return Err(SettingsError::new("batch.maxBatchedEvents", "must be between 1 and 100000"));
    }
    let interval = duration(b, "batch", "writeInterval")?.unwrap_or(Duration::ZERO);
    if !boolean(b, "batch", "batchEnabled")?.unwrap_or(true) {
        return Ok((1, Duration::ZERO));
    }
    Ok((batched as usize, interval))
}

/// Formats events as ForgeRock's JMS message body (one output).
#[derive(Debug)]
pub struct JmsHandler;

impl NativeHandler for JmsHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let raw: &serde_json::value::RawValue = serde_json::from_str(&event.json).map_err(|e| format!("the event is not JSON: {e}"))?;
        let topic = Value::String(event.topic.clone()).to_string();
        let mut record = Vec::with_capacity(event.json.len() + topic.len() + 28);
        record.extend_from_slice(b"{\"auditTopic\":");
        record.extend_from_slice(topic.as_bytes());
        record.extend_from_slice(b",\"event\":");
        record.extend_from_slice(raw.get().as_bytes());
        record.push(b'}');
        Ok(vec![(0, record)])
    }
}

impl JmsSettings {
    /// The handler with its broker connection (the broker its `jndi`
    /// settings name).
    pub(crate) fn open(&self) -> super::Opened {
        let output = match &self.broker {
            JmsBroker::Output(output) => match output.build(&crate::outputs::OutputPlace::without_directory()) {
                Ok(sink) => Ok(super::OpenedOutput { name: "jms".into(), kind: output.kind(), location: sink.location(), sink }),
                Err(e) => Err(format!("the JMS output ({}): {e}", output.kind())),
            },
            JmsBroker::Unsupported(message) => Err(message.clone()),
        };
        super::Opened::one(Box::new(JmsHandler), output, self.max_batched, self.write_interval)
    }

    /// What `wasp config check` says; the broker is probed when `enabled`.
    pub(crate) fn check(&self, enabled: bool) -> super::Checked {
        let mut checked = super::Checked::default();
        match &self.broker {
            JmsBroker::Output(output) => {
                let endpoint = output.broker_endpoint().and_then(Result::ok).map(|e| e.shown()).unwrap_or_default();
                checked.lines.push(format!(
                    "jms via {} {endpoint}, destination {} ({} events a batch)",
                    output.kind(),
                    self.topic_name,
                    self.max_batched
                ));
                checked.probe(enabled, || output.check_network());
            }
            JmsBroker::Unsupported(message) => {
                checked.lines.push("jms: unsupported broker".into());
                checked.probe(enabled, || Err(message.clone()));
            }
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<JmsSettings, SettingsError> {
        JmsSettings::from_settings(value.as_object().unwrap())
    }

    fn jndi(url: &str) -> Value {
        json!({"contextProperties": {"java.naming.provider.url": url}, "topicName": "audit"})
    }

    #[test]
    fn the_provider_url_names_the_broker_and_the_topic_the_destination() {
        let s =
            read(json!({"deliveryMode": "NON_PERSISTENT", "sessionMode": "AUTO", "jndi": jndi("amqp://guest:guest@127.0.0.1:5672/%2f")}))
                .unwrap();
        let JmsBroker::Output(OutputConfig::Amqp(amqp)) = &s.broker else { panic!("{:?}", s.broker) };
        assert_eq!((amqp.exchange.as_str(), amqp.persistent, s.max_batched), ("audit", false, 100));
        for (url, kind) in [("nats://127.0.0.1:4222", "nats"), ("redis://127.0.0.1", "redis-stream"), ("mqtt://127.0.0.1", "mqtt")] {
            let s = read(json!({"jndi": jndi(url)})).unwrap();
            let JmsBroker::Output(o) = &s.broker else { panic!("{url}") };
            assert_eq!(o.kind(), kind);
        }
        let s = read(json!({"jndi": jndi("nats://h"), "batch": {"batchEnabled": false, "maxBatchedEvents": 500}})).unwrap();
        assert_eq!(s.max_batched, 1);
        let s = read(json!({"jndi": jndi("nats://h"), "batch": {"batchEnabled": true, "capacity": 1000, "threadCount": 3, "maxBatchedEvents": 500, "insertTimeout": 60, "pollTimeout": 10, "shutdownTimeout": 15}})).unwrap();
        assert_eq!(s.max_batched, 500);
    }

    #[test]
    fn an_activemq_url_is_recognised_and_refused_with_the_supported_schemes() {
        let s = read(json!({"jndi": jndi("tcp://openam.example.com:61616")})).unwrap();
        let message = s.unsupported().unwrap();
        assert!(message.contains("java.naming.provider.url") && message.contains("ActiveMQ OpenWire"), "{message}");
        assert!(["amqp://", "nats://", "redis://", "mqtt://"].iter().all(|s| message.contains(s)), "{message}");
    }

    #[test]
    fn mistakes_name_the_setting() {
        let e = read(json!({"jndi": {"topicName": "audit"}})).unwrap_err();
        assert_eq!(e.path, "jndi.contextProperties");
        let e = read(json!({"deliveryMode": "SOMETIMES", "jndi": jndi("nats://h")})).unwrap_err();
        assert_eq!(e.path, "deliveryMode");
        let mut j = jndi("nats://h");
        j["contextProperties"]["wasp.nats.stram"] = json!("X");
        let e = read(json!({"jndi": j})).unwrap_err();
        assert!(e.path.contains("wasp.nats.stram") && e.message.contains("wasp.nats.stream"), "{e:?}");
        let mut j = jndi("nats://h");
        j["topicName"] = json!("audit.*");
        assert_eq!(read(json!({"jndi": j})).unwrap_err().path, "jndi.topicName");
        assert_eq!(read(json!({"jndi": jndi("amqp://h:99999")})).unwrap_err().path, URL);
    }

    #[test]
    fn the_body_is_forgerocks() {
        let event = HostEvent {
            id: "e1".into(),
            topic: "access".into(),
            sequence: 1,
            tenant: None,
            timestamp: String::new(),
            event_name: None,
            transaction_id: None,
            user_id: None,
            json: r#"{"_id":"e1","userId":"bjensen"}"#.into(),
        };
        let records = JmsHandler.record(&event).unwrap();
        let body: Value = serde_json::from_slice(&records[0].1).unwrap();
        assert_eq!(body, json!({"auditTopic": "access", "event": {"_id": "e1", "userId": "bjensen"}}));
    }
}
