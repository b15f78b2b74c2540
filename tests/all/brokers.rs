//! The message-broker outputs against the machine's real brokers — NATS
//! with JetStream (4222), RabbitMQ (5672), Redis (6379), Mosquitto (1883),
//! which `scripts/services.sh` starts — read back by a consumer of each:
//! the seeds' `JmsAuditEventHandler` configuration (the ActiveMQ route,
//! its provider URL pointed at each broker) and the WASM handler outputs
//! deliver every event; with the broker stopped and started again (the
//! machine's commands), every accepted event arrives, duplicates counted;
//! a wrong password, a missing stream or exchange, an unreachable host are
//! named, retried, counted in `/metrics`, and nothing is lost.
//!
//! Each test uses its own stream, subject, exchange, queue, key or topic
//! (test name and process id). A test holds its broker's lock
//! ([`Broker::take`]): an outage test stops the broker, the others must
//! not run meanwhile.

use std::net::TcpStream;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, figure, in_ci, probe_handler, wait_for};

static NATS: Mutex<()> = Mutex::new(());
static AMQP: Mutex<()> = Mutex::new(());
static REDIS: Mutex<()> = Mutex::new(());
static MQTT: Mutex<()> = Mutex::new(());

#[derive(Clone, Copy, Debug, PartialEq)]
enum Broker {
    Nats,
    Amqp,
    Redis,
    Mqtt,
}
use Broker::{Amqp, Mqtt, Nats, Redis};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

impl Broker {
    fn port(self) -> u16 {
        match self {
            Nats => 4222,
            Amqp => 5672,
            Redis => 6379,
            Mqtt => 1883,
        }
    }

    fn url(self) -> &'static str {
        match self {
            Nats => "nats://127.0.0.1:4222",
            Amqp => "amqp://127.0.0.1:5672/%2f",
            Redis => "redis://127.0.0.1:6379",
            Mqtt => "mqtt://127.0.0.1:1883",
        }
    }

    /// Holds the broker's lock; `None` (skipped) when it does not answer,
    /// except under `CI=true`, where that fails the test.
    fn take(self) -> Option<MutexGuard<'static, ()>> {
        let lock = match self {
            Nats => &NATS,
            Amqp => &AMQP,
            Redis => &REDIS,
            Mqtt => &MQTT,
        };
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if listening(self.port()) {
            return Some(guard);
        }
        let reason = format!("{self:?} does not answer on 127.0.0.1:{}: scripts/services.sh starts it", self.port());
        assert!(!in_ci(), "{reason}");
        eprintln!("skipped: {reason}");
        None
    }

    /// Stops the broker with the machine's means (its state saved); the
    /// [`Outage`] starts it again when dropped, even if the test fails.
    fn stop(self) -> Outage {
        let out = Command::new("ss").args(["-Hltnp", &format!("sport = :{}", self.port())]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let pid = text.split("pid=").nth(1).and_then(|p| p.split(',').next()).map(str::to_owned);
        let pid = pid.unwrap_or_else(|| panic!("no process listens on {}: {text}", self.port()));
        let status = match self {
            Nats | Mqtt => Command::new("kill").args(["-TERM", &pid]).status(),
            Amqp => Command::new("rabbitmqctl").arg("stop").status(),
            Redis => Command::new("redis-cli").args(["-p", "6379", "shutdown", "save"]).status(),
        };
        let outage = Outage(self);
        assert!(status.is_ok_and(|s| s.success()), "stopping {self:?}");
        // Gone, not only closed: a start command finding it still running
        // (`start-stop-daemon --oknodo`) would do nothing.
        wait_for(&format!("{self:?} (process {pid}) to exit"), || !std::path::Path::new(&format!("/proc/{pid}")).exists());
        outage
    }
}

/// A stopped broker, started again (`scripts/services.sh`: the machine's
/// start commands) when dropped.
struct Outage(Broker);

impl Drop for Outage {
    fn drop(&mut self) {
        let script = wasp_tests::repo_root().join("scripts/services.sh");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !listening(self.0.port()) && std::time::Instant::now() < deadline {
            let _ = Command::new("bash").arg(&script).status();
        }
    }
}

/// One test's destination on a broker and its consumer.
struct Destination {
    broker: Broker,
    /// Stream, exchange and queue, Redis key; `audit.<name>` is the NATS
    /// subject, `audit/<name>` the MQTT topic.
    name: String,
}

impl Destination {
    /// A fresh destination; with `prepare`, the NATS stream is created (or
    /// the AMQP exchange and its queue declared) here, as an operator would.
    fn new(broker: Broker, test: &str, prepare: bool) -> Destination {
        let d = Destination { broker, name: format!("wasp-{test}-{}", std::process::id()) };
        match broker {
            Nats if prepare => d.create_stream(),
            Amqp if prepare => d.declare_exchange(),
            Redis => drop(d.redis(&["DEL", &d.name])),
            // A persistent session: QoS 1 messages wait for it.
            Mqtt => drop(d.mqtt_receive(0)),
            _ => {}
        }
        d
    }

    fn subject(&self) -> String {
        format!("audit.{}", self.name)
    }

    fn topic(&self) -> String {
        format!("audit/{}", self.name)
    }

    fn create_stream(&self) {
        let config =
            async_nats::jetstream::stream::Config { name: self.name.clone(), subjects: vec![self.subject()], ..Default::default() };
        runtime().block_on(async {
            let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap());
            js.create_stream(config).await.unwrap();
        });
    }

    async fn amqp() -> amqprs::channel::Channel {
        use amqprs::connection::{Connection, OpenConnectionArguments};
        let connection = Connection::open(&OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest")).await.unwrap();
        let channel = connection.open_channel(None).await.unwrap();
        std::mem::forget(connection); // kept open for the channel
        channel
    }

    fn declare_exchange(&self) {
        use amqprs::channel::{ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments};
        runtime().block_on(async {
            let channel = Self::amqp().await;
            let mut exchange = ExchangeDeclareArguments::new(&self.name, "topic");
            exchange.durable = true;
            channel.exchange_declare(exchange).await.unwrap();
            channel.queue_declare(QueueDeclareArguments::durable_client_named(&self.name)).await.unwrap();
            channel.queue_bind(QueueBindArguments::new(&self.name, &self.name, "#")).await.unwrap();
        });
    }

    fn redis(&self, args: &[&str]) -> wasp::outputs::redis_stream::resp::Reply {
        let mut connection = wasp::outputs::redis_stream::resp::Connection::open("127.0.0.1:6379", Duration::from_secs(10)).unwrap();
        connection.command(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>()).unwrap()
    }

    /// Reads the QoS 1 messages waiting for this test's persistent MQTT
    /// session (subscribing, the first time), acknowledging each, until
    /// `expected` arrived and nothing more came for a second and a half.
    fn mqtt_receive(&self, expected: usize) -> Vec<Vec<u8>> {
        use std::io::{Read, Write};
        fn field(out: &mut Vec<u8>, data: &[u8]) {
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![kind];
            let mut length = body.len();
            loop {
                let byte = (length % 128) as u8;
                length /= 128;
                out.push(if length > 0 { byte | 0x80 } else { byte });
                if length == 0 {
                    break;
                }
            }
            out.extend_from_slice(body);
            out
        }
        let mut stream = TcpStream::connect("127.0.0.1:1883").unwrap();
        let mut connect = Vec::new();
        field(&mut connect, b"MQTT");
        connect.extend_from_slice(&[4, 0, 0, 60]); // 3.1.1, persistent session, keep-alive 60 s
        field(&mut connect, format!("{}-reader", self.name).as_bytes());
        let mut subscribe = vec![0, 1];
        field(&mut subscribe, self.topic().as_bytes());
        subscribe.push(1);
        stream.write_all(&[packet(0x10, &connect), packet(0x82, &subscribe)].concat()).unwrap();
        let mut received = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let quiet = if received.len() >= expected {
                Duration::from_millis(1500)
            } else {
                deadline.saturating_duration_since(std::time::Instant::now())
            };
            stream.set_read_timeout(Some(quiet.max(Duration::from_millis(1)))).unwrap();
            let mut head = [0u8; 1];
            if stream.read_exact(&mut head).is_err() {
                break;
            }
            let (mut length, mut shift) = (0usize, 0);
            loop {
                let mut byte = [0u8; 1];
                stream.read_exact(&mut byte).unwrap();
                length |= usize::from(byte[0] & 0x7F) << shift;
                shift += 7;
                if byte[0] & 0x80 == 0 {
                    break;
                }
            }
            let mut body = vec![0; length];
            stream.read_exact(&mut body).unwrap();
            if head[0] >> 4 == 3 {
                let topic_length = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let mut at = 2 + topic_length;
                if (head[0] >> 1) & 3 > 0 {
                    stream.write_all(&packet(0x40, &body[at..at + 2])).unwrap();
                    at += 2;
                }
                received.push(body[at..].to_vec());
            }
        }
        let _ = stream.write_all(&[0xE0, 0]);
        received
    }

    /// Every message body received (consumed, for AMQP and MQTT), at least
    /// `expected` of them unless the wait runs out.
    fn read(&self, expected: usize) -> Vec<Value> {
        let bodies: Vec<Vec<u8>> = match self.broker {
            Nats => runtime().block_on(async {
                let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap());
                let mut stream = js.get_stream(&self.name).await.unwrap();
                let state = stream.info().await.unwrap().state.clone();
                let mut bodies = Vec::new();
                for seq in state.first_sequence..=state.last_sequence {
                    let message = stream.get_raw_message(seq).await.unwrap();
                    let id = message.headers.get("Nats-Msg-Id").map(|v| v.to_string());
                    let body: Value = serde_json::from_slice(&message.payload).unwrap();
                    if let Some(event) = body.get("event") {
                        assert_eq!(id.as_deref(), event["_id"].as_str(), "Nats-Msg-Id is the event's _id");
                    }
                    bodies.push(message.payload.to_vec());
                }
                js.delete_stream(&self.name).await.unwrap();
                bodies
            }),
            Amqp => runtime().block_on(async {
                use amqprs::channel::BasicGetArguments;
                let channel = Self::amqp().await;
                let mut bodies = Vec::new();
                while let Some((_, properties, body)) =
                    channel.basic_get(BasicGetArguments::new(&self.name).no_ack(true).finish()).await.unwrap()
                {
                    let value: Value = serde_json::from_slice(&body).unwrap();
                    if let Some(event) = value.get("event") {
                        assert_eq!(properties.message_id().map(String::as_str), event["_id"].as_str(), "message-id is the event's _id");
                    }
                    bodies.push(body);
                }
                bodies
            }),
            Redis => {
                use wasp::outputs::redis_stream::resp::Reply;
                let Reply::Array(Some(entries)) = self.redis(&["XRANGE", &self.name, "-", "+"]) else { panic!("XRANGE") };
                drop(self.redis(&["DEL", &self.name]));
                entries
                    .into_iter()
                    .map(|entry| {
                        let Reply::Array(Some(parts)) = entry else { panic!("an entry") };
                        let Reply::Array(Some(fields)) = &parts[1] else { panic!("fields") };
                        let field =
                            |name: &[u8]| fields.iter().position(|f| *f == Reply::Bulk(Some(name.to_vec()))).map(|i| fields[i + 1].clone());
                        let Some(Reply::Bulk(Some(body))) = field(b"body") else { panic!("no body") };
                        body
                    })
                    .collect()
            }
            Mqtt => self.mqtt_receive(expected),
        };
        bodies.iter().map(|b| serde_json::from_slice(b).unwrap()).collect()
    }

    /// The seeds' ActiveMQ route's JMS handler (001-1094), its provider URL
    /// pointed at this broker and its topic at this destination.
    fn jms(&self, name: &str, properties: Value) -> Value {
        let route: Value = serde_json::from_str(
            &std::fs::read_to_string(wasp_tests::repo_root().join("tests/fixtures/seeds/001-1094-route-jms-activemq-example.json"))
                .unwrap(),
        )
        .unwrap();
        let mut handler = route["heap"][0]["config"]["eventHandlers"][0].clone();
        assert_eq!(handler["class"], "org.forgerock.audit.handlers.jms.JmsAuditEventHandler");
        let config = &mut handler["config"];
        config["name"] = json!(name);
        config["jndi"]["contextProperties"]["java.naming.provider.url"] = json!(self.broker.url());
        let topic = match self.broker {
            Nats => self.subject(),
            Mqtt => self.topic(),
            Amqp | Redis => self.name.clone(),
        };
        config["jndi"]["topicName"] = json!(topic);
        config["jndi"]["contextProperties"]["topic.audit"] = json!(topic);
        if self.broker == Amqp {
            config["jndi"]["contextProperties"]["java.naming.security.principal"] = json!("guest");
            config["jndi"]["contextProperties"]["java.naming.security.credentials"] = json!("guest");
        }
        if self.broker == Nats {
            config["jndi"]["contextProperties"]["wasp.nats.stream"] = json!(self.name);
        }
        for (k, v) in properties.as_object().unwrap() {
            config["jndi"]["contextProperties"][k] = v.clone();
        }
        handler
    }

    /// A WASM handler output of this broker's type to this destination.
    fn output(&self) -> Value {
        match self.broker {
            Nats => {
                json!({"type": "nats", "url": Nats.url(), "subject": self.subject(), "stream": self.name})
            }
            Amqp => {
                json!({"type": "amqp", "url": "amqp://guest:guest@127.0.0.1:5672/%2f", "exchange": self.name, "routingKey": "probe"})
            }
            Redis => json!({"type": "redis-stream", "url": Redis.url(), "key": self.name}),
            Mqtt => json!({"type": "mqtt", "url": Mqtt.url(), "topic": self.topic()}),
        }
    }
}

fn ids(bodies: &[Value]) -> Vec<String> {
    bodies.iter().filter_map(|b| b["event"]["_id"].as_str().map(str::to_owned)).collect()
}

/// The seed's JMS configuration and a WASM handler's output to the same
/// destination: a consumer reads back every event, in ForgeRock's body.
fn seed_jms_and_wasm_output_deliver_every_event(broker: Broker) {
    let Some(_lock) = broker.take() else { return };
    let d = Destination::new(broker, &format!("seed-{broker:?}").to_lowercase(), broker != Nats);
    // NATS: the handler creates its stream (createStream).
    let jms = d.jms("jms", if broker == Nats { json!({"wasp.nats.createStream": "true"}) } else { json!({}) });
    let wasm = probe_handler("wasm", json!({"topics": ["access"], "outputs": {"out": d.output()}}));
    let fx = Fixture::new();
    let audit = AuditService::from_config_file(fx.config_doc(&json!({"eventHandlers": [jms, {"class": "wasm", "config": wasm}]}))).unwrap();
    for n in 0..200 {
        let event =
            json!({"_id": format!("seed-{n}"), "timestamp": "2026-12-05T07:00:00Z", "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen"});
        audit.publish("access", event).unwrap();
    }
    audit.flush();
    let summary = audit.shutdown();
    for h in &summary.handlers {
        assert_eq!((h.delivered, h.dead_lettered, h.lost), (200, 0, 0), "{h:?}");
    }
    let bodies = d.read(400);
    let jms_bodies: Vec<&Value> = bodies.iter().filter(|b| b.get("auditTopic").is_some()).collect();
    assert_eq!(jms_bodies.len(), 200, "{broker:?}: {:?} {:?}", summary.handlers, ids(&bodies));
    let first = json!({"auditTopic": "access", "event": {"_id": "seed-0", "timestamp": "2026-12-05T07:00:00Z", "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen"}});
    assert_eq!(jms_bodies[0], &first, "ForgeRock's JMS body");
    let expected: Vec<String> = (0..200).map(|n| format!("seed-{n}")).collect();
    assert_eq!(ids(&bodies), expected, "{broker:?}: every event, in order");
    let probe: Vec<&Value> = bodies.iter().filter(|b| b.get("seq").is_some()).collect();
    assert_eq!(probe.len(), 200, "{broker:?}: the WASM handler's records");
}

#[test]
fn nats_seed_jms_and_wasm_output() {
    seed_jms_and_wasm_output_deliver_every_event(Nats);
}

#[test]
fn amqp_seed_jms_and_wasm_output() {
    seed_jms_and_wasm_output_deliver_every_event(Amqp);
}

#[test]
fn redis_seed_jms_and_wasm_output() {
    seed_jms_and_wasm_output_deliver_every_event(Redis);
}

#[test]
fn mqtt_seed_jms_and_wasm_output() {
    seed_jms_and_wasm_output_deliver_every_event(Mqtt);
}

/// The broker stopped while events are published, then started again:
/// every accepted event arrives; duplicates are counted.
fn outage_loses_nothing(broker: Broker) {
    let Some(_lock) = broker.take() else { return };
    let d = Destination::new(broker, &format!("outage-{broker:?}").to_lowercase(), true);
    let mut jms = d.jms("jms", json!({"wasp.timeout": "3000"}));
    jms["config"]["deliveryMode"] = json!("PERSISTENT"); // survives the broker's restart
    jms["config"]["batch"] = json!({"batchEnabled": true, "maxBatchedEvents": 50});
    let fx = Fixture::new();
    let audit = AuditService::from_config_file(fx.config_doc(&json!({"eventHandlers": [jms]}))).unwrap();
    let publish = |phase: &str, count: usize| {
        for n in 0..count {
            audit.publish("access", json!({"_id": format!("{phase}-{n}")})).unwrap();
        }
    };
    publish("before", 100);
    wait_for("the first 100", || audit.summary().handlers[0].delivered == 100);
    let outage = broker.stop();
    publish("during", 200);
    wait_for("the output error", || audit.summary().handlers[0].output_error.is_some());
    // (Not "still 100 delivered": on a shared machine another user's
    // `scripts/services.sh` may start the broker again at any moment.)
    let h = audit.summary().handlers[0].clone();
    assert_eq!(h.dead_lettered, 0, "{h:?}");
    assert!(h.retries > 0, "{h:?}");
    drop(outage);
    publish("after", 100);
    wait_for("every event delivered", || audit.summary().handlers[0].delivered == 400);
    let summary = audit.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.delivered, h.dead_lettered, h.lost), (400, 0, 0), "{h:?}");
    let received = ids(&d.read(400));
    let unique: std::collections::BTreeSet<&String> = received.iter().collect();
    assert_eq!(unique.len(), 400, "{broker:?}: every accepted event arrives");
    if matches!(broker, Nats | Redis) {
        // These two store an `_id` once however often it is resent
        // (`Nats-Msg-Id`; the Redis output's idempotent XADD): a resend
        // after the outage must not show as a second message.
        assert_eq!(received.len(), 400, "{broker:?}: a resent event is stored once");
    }
    figure(&format!(
        "{broker:?} outage: 400 events accepted, {} received, {} duplicates, {} retries",
        received.len(),
        received.len() - 400,
        h.retries
    ));
}

#[test]
fn nats_outage_loses_nothing() {
    outage_loses_nothing(Nats);
}

#[test]
fn amqp_outage_loses_nothing() {
    outage_loses_nothing(Amqp);
}

#[test]
fn redis_outage_loses_nothing() {
    outage_loses_nothing(Redis);
}

#[test]
fn mqtt_outage_loses_nothing() {
    outage_loses_nothing(Mqtt);
}

/// The same `_id`s sent again by a second service (to the broker, what a
/// retry after a lost acknowledgement looks like) are stored once: NATS
/// JetStream drops them by `Nats-Msg-Id` (its duplicate window), the Redis
/// output's script by `_id` (its 5-minute window).
fn a_resent_id_is_stored_once(broker: Broker) {
    let Some(_lock) = broker.take() else { return };
    let d = Destination::new(broker, &format!("dedup-{broker:?}").to_lowercase(), true);
    let jms = d.jms("jms", json!({}));
    for _ in 0..2 {
        let fx = Fixture::new();
        let audit = AuditService::from_config_file(fx.config_doc(&json!({"eventHandlers": [jms.clone()]}))).unwrap();
        for n in 0..50 {
            audit.publish("access", json!({"_id": format!("dup-{n}")})).unwrap();
        }
        audit.flush();
        let h = audit.shutdown().handlers[0].clone();
        assert_eq!((h.delivered, h.dead_lettered, h.lost), (50, 0, 0), "{broker:?}: acknowledged both times: {h:?}");
    }
    let expected: Vec<String> = (0..50).map(|n| format!("dup-{n}")).collect();
    assert_eq!(ids(&d.read(50)), expected, "{broker:?}: each _id stored once");
}

#[test]
fn nats_stores_a_resent_id_once() {
    a_resent_id_is_stored_once(Nats);
}

#[test]
fn redis_stores_a_resent_id_once() {
    a_resent_id_is_stored_once(Redis);
}

/// A missing stream (NATS) or exchange (AMQP): a clear error, retried;
/// once the operator creates it, every event arrives.
#[test]
fn a_missing_stream_or_exchange_is_named_and_retried_until_it_exists() {
    for broker in [Nats, Amqp] {
        let Some(_lock) = broker.take() else { continue };
        let d = Destination::new(broker, "missing", false);
        let fx = Fixture::new();
        let audit = AuditService::from_config_file(fx.config_doc(&json!({"eventHandlers": [d.jms("jms", json!({}))]}))).unwrap();
        for n in 0..20 {
            audit.publish("access", json!({"_id": format!("m-{n}")})).unwrap();
        }
        wait_for("the output error", || audit.summary().handlers[0].retries >= 2);
        let h = audit.summary().handlers[0].clone();
        let error = h.output_error.clone().unwrap_or_default();
        let expected = match broker {
            Nats => format!("the JetStream stream `{}` does not exist", d.name),
            _ => format!("the exchange `{}` does not exist", d.name),
        };
        assert!(error.contains(&expected), "{broker:?}: {error}");
        assert_eq!((h.delivered, h.dead_lettered), (0, 0), "{h:?}");
        match broker {
            Nats => d.create_stream(),
            _ => d.declare_exchange(),
        }
        wait_for("every event once it exists", || audit.summary().handlers[0].delivered == 20);
        assert_eq!(audit.shutdown().handlers[0].dead_lettered, 0);
        assert_eq!(ids(&d.read(20)).len(), 20, "{broker:?}");
    }
}

/// `wasp run` with a wrong password (RabbitMQ, Redis) and an unreachable
/// host (MQTT): each handler's error names the cause, is retried, counted
/// in `/metrics` and shown by `/health`; nothing is dead-lettered.
#[test]
fn wrong_passwords_and_unreachable_hosts_are_named_retried_and_counted() {
    let (Some(_amqp), Some(_redis)) = (Amqp.take(), Redis.take()) else {
        return;
    };
    let token = "broker-admin-token";
    let d = Destination::new(Amqp, "password", true);
    let amqp = d.jms("jms-amqp", json!({"java.naming.security.credentials": "not-the-password"}));
    let redis = Destination::new(Redis, "password", false)
        .jms("jms-redis", json!({"java.naming.provider.url": "redis://:not-the-password@127.0.0.1:6379"}));
    let mqtt =
        Destination { broker: Mqtt, name: "unreachable".into() }.jms("jms-mqtt", json!({"java.naming.provider.url": "mqtt://127.0.0.1:1"}));
    let fx = Fixture::new();
    fx.config_doc(&json!({"eventHandlers": [amqp, redis, mqtt], "wasp": {"sidecar": {"adminToken": wasp::sidecar::hash_token(token)}}}));
    let run = wasp_tests::WaspRun::start(fx.path());
    let (status, body) =
        wasp_tests::http(&run.address, token, "POST", "/audit/access", "application/json", &json!({"_id": "p-1"}).to_string());
    assert_eq!(status, 201, "{body}");
    let metric = |text: &str, handler: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with("wasp_handler_output_retries_total") && l.contains(&format!("handler=\"{handler}\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    wait_for("retries of every handler in /metrics", || {
        let (_, text) = wasp_tests::http(&run.address, token, "GET", "/metrics", "text/plain", "");
        ["jms-amqp", "jms-redis", "jms-mqtt"].iter().all(|h| metric(&text, h) >= 2)
    });
    let (_, health) = wasp_tests::http(&run.address, token, "GET", "/health", "application/json", "");
    for cause in ["a wrong user name or password", "cannot log in: ERR AUTH", "Connection refused"] {
        assert!(health.contains(cause), "{cause}: {health}");
    }
    assert!(!health.contains("not-the-password"), "a password in /health: {health}");
    let (_, stderr) = run.terminate();
    assert!(stderr.contains("jms-amqp") && stderr.contains("output down"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "a password in the log: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `wasp config check` on the seeds' ActiveMQ route: the OpenWire URL is
/// named with the schemes WASP supports; pointed at a broker, it passes.
#[test]
fn config_check_names_an_activemq_url_and_the_supported_schemes() {
    let route = wasp_tests::repo_root().join("tests/fixtures/seeds/001-1094-route-jms-activemq-example.json");
    let fx = Fixture::new();
    let out = wasp_tests::run_wasp(&["config", "check", route.to_str().unwrap()], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("error: handler `jms`: jndi.contextProperties[\"java.naming.provider.url\"]: `tcp://openam.example.com:61616` is an ActiveMQ OpenWire URL"), "{stdout}");
    assert!(["amqp://", "nats://", "redis://", "mqtt://"].iter().all(|s| stdout.contains(s)), "{stdout}");
    let d = Destination { broker: Amqp, name: "check".into() };
    let config = fx.config_doc(&json!({"eventHandlers": [d.jms("jms", json!({"java.naming.security.credentials": "s3cret"}))]}));
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("jms via amqp amqp://127.0.0.1:5672, destination check"), "{stdout}");
    assert!(stdout.trim_end().ends_with("ok") && !stdout.contains("s3cret"), "{stdout}");
    // The service refuses to start with the ActiveMQ URL, naming it.
    let e = AuditService::from_config_file(&route).err().expect("refused").to_string();
    assert!(e.contains("handler `jms`") && e.contains("java.naming.provider.url"), "{e}");
}

/// A NATS server and a Mosquitto of this test that require a password (on
/// free ports; killed by their process id when dropped).
struct Guarded(Vec<std::process::Child>);

impl Drop for Guarded {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A wrong password on NATS (`authorization violation`) and MQTT
/// (Mosquitto 2 answers `CONNACK` 5): named, retried, nothing
/// dead-lettered; the right one connects.
#[test]
fn nats_and_mqtt_wrong_passwords_are_named_and_retried() {
    for program in ["/usr/sbin/nats-server", "/usr/sbin/mosquitto"] {
        if !std::path::Path::new(program).exists() {
            assert!(!in_ci(), "{program} is missing");
            eprintln!("skipped: {program} is missing");
            return;
        }
    }
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let (nats_port, mqtt_port) = (free(), free());
    let passwords = dir.path().join("passwords");
    let made = Command::new("mosquitto_passwd").args(["-b", "-c"]).arg(&passwords).args(["audit", "right"]).status().unwrap();
    assert!(made.success());
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {mqtt_port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\n", passwords.display()),
    )
    .unwrap();
    let _servers = Guarded(vec![
        Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &nats_port.to_string(), "--user", "audit", "--pass", "right"])
            .spawn()
            .unwrap(),
        Command::new("/usr/sbin/mosquitto").arg("-c").arg(&conf).spawn().unwrap(),
    ]);
    wait_for("the servers", || listening(nats_port) && listening(mqtt_port));
    for (broker, port, cause) in
        [(Nats, nats_port, "authorization violation"), (Mqtt, mqtt_port, "the broker refused the connection: not authorized (connack 5)")]
    {
        for password in ["wrong", "right"] {
            let d = Destination { broker, name: format!("auth-{}", std::process::id()) };
            let url = format!("{}://audit:{password}@127.0.0.1:{port}", if broker == Nats { "nats" } else { "mqtt" });
            let jms = d.jms("jms", json!({"java.naming.provider.url": url, "wasp.nats.stream": null}));
            let fx = Fixture::new();
            let config = fx.config_doc(&json!({"eventHandlers": [jms], "wasp": {"journal": {"durability": "memory"}}}));
            let audit = AuditService::from_config_file(config).unwrap();
            audit.publish("access", json!({"_id": "auth-1"})).unwrap();
            if password == "wrong" {
                wait_for("retries", || audit.summary().handlers[0].retries >= 2);
                let h = audit.summary().handlers[0].clone();
                let error = h.output_error.clone().unwrap_or_default();
                assert!(error.to_lowercase().contains(cause) && !error.contains("wrong"), "{broker:?}: {error}");
                assert_eq!((h.delivered, h.dead_lettered), (0, 0), "{h:?}");
            } else if broker == Mqtt {
                wait_for("the event", || audit.summary().handlers[0].delivered == 1);
            }
            // (NATS without JetStream here: the right password connects,
            // then no stream captures the subject: named as such.)
            if password == "right" && broker == Nats {
                wait_for("the stream error", || {
                    audit.summary().handlers[0].output_error.as_deref().is_some_and(|e| e.contains("JetStream"))
                });
            }
            drop(audit);
        }
    }
}
