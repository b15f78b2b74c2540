//! Message-broker throughput: the built-in `JmsAuditEventHandler` end to
//! end into each of the machine's brokers — `publish` into the memory
//! journal, the handler wraps each event in ForgeRock's JMS body and
//! publishes batches (`batch.maxBatchedEvents` 5000), acknowledging only
//! after the broker's confirm: NATS JetStream (`PubAck`), RabbitMQ
//! (publisher confirms, persistent messages into a durable queue), a Redis
//! stream (the dedupe script), Mosquitto (QoS 1 `PUBACK`).
//!
//! `cargo bench -p wasp-tests --bench brokers [-- nats|amqp|redis|mqtt]`.
//! Each round publishes the events and prints events/s until the handler
//! acknowledged them all (then the same bodies written straight into the
//! output, batches of 5000, to show the broker path alone); the broker's own count (stream messages, queue
//! length, stream length) is checked where it has one. Results are in
//! `docs/benchmarks.md`. Needs the brokers `scripts/services.sh` starts.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ROUNDS: usize = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The provider URL, the JMS destination and extra context properties of
/// `broker` for `name`; prepares the destination.
fn destination(broker: &str, name: &str) -> (String, String, Value) {
    match broker {
        "nats" => (
            String::from("nats://127.0.0.1:4222"),
            format!("bench.{name}"),
            json!({"wasp.nats.stream": name, "wasp.nats.createStream": "true"}),
        ),
        "amqp" => {
            use amqprs::channel::{ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments};
            runtime().block_on(async {
                let args = amqprs::connection::OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest");
                let connection = amqprs::connection::Connection::open(&args).await.unwrap();
                let channel = connection.open_channel(None).await.unwrap();
                let mut exchange = ExchangeDeclareArguments::new(name, "topic");
                exchange.durable = true;
                channel.exchange_declare(exchange).await.unwrap();
                channel.queue_declare(QueueDeclareArguments::durable_client_named(name)).await.unwrap();
                channel.queue_bind(QueueBindArguments::new(name, name, "#")).await.unwrap();
                let _ = connection.close().await;
            });
            (String::from("amqp://guest:guest@127.0.0.1:5672/%2f"), name.to_owned(), json!({}))
        }
        "redis" => (String::from("redis://127.0.0.1:6379"), name.to_owned(), json!({})),
        "mqtt" => (String::from("mqtt://127.0.0.1:1883"), format!("bench/{name}"), json!({})),
        other => panic!("unknown broker {other}"),
    }
}

/// What the broker holds for `name` (`None`: no count to check), and
/// removes it.
fn held(broker: &str, name: &str) -> Option<u64> {
    match broker {
        "nats" => runtime().block_on(async {
            let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap());
            let mut stream = js.get_stream(name).await.unwrap();
            let count = stream.info().await.unwrap().state.messages;
            js.delete_stream(name).await.unwrap();
            Some(count)
        }),
        "amqp" => runtime().block_on(async {
            use amqprs::channel::{ExchangeDeleteArguments, QueueDeleteArguments};
            let args = amqprs::connection::OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest");
            let connection = amqprs::connection::Connection::open(&args).await.unwrap();
            let channel = connection.open_channel(None).await.unwrap();
            let count = channel.queue_delete(QueueDeleteArguments::new(name)).await.unwrap();
            channel.exchange_delete(ExchangeDeleteArguments::new(name)).await.unwrap();
            let _ = connection.close().await;
            count.map(u64::from)
        }),
        "redis" => {
            use wasp::outputs::redis_stream::resp::{Connection, Reply};
            let mut connection = Connection::open("127.0.0.1:6379", Duration::from_secs(10)).unwrap();
            let Reply::Integer(count) = connection.command(&[b"XLEN", name.as_bytes()]).unwrap() else { panic!("XLEN") };
            connection.command(&[b"DEL", name.as_bytes()]).unwrap();
            Some(count as u64)
        }
        _ => None,
    }
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    for (broker, count) in [("nats", 200_000usize), ("amqp", 100_000), ("redis", 100_000), ("mqtt", 100_000)] {
        if !only.is_empty() && !only.iter().any(|o| o == broker) {
            continue;
        }
        let events: Vec<Value> = (0..count)
            .map(|n| {
                json!({"_id": format!("0419-{n:08}"), "timestamp": "2026-11-22T06:00:00.000Z", "transactionId": format!("tx-{n}"),
                    "eventName": "AM-ACCESS-OUTCOME", "userId": "bjensen", "client": {"ip": "203.0.113.7", "port": 443},
                    "http": {"request": {"method": "GET", "path": "/am/json/realms/root/authenticate"}},
                    "response": {"status": "SUCCESSFUL", "statusCode": "200", "elapsedTime": n % 100, "elapsedTimeUnits": "MILLISECONDS"}})
            })
            .collect();
        let mut rates = Vec::new();
        for round in 0..ROUNDS {
            let name = format!("wasp-bench-{broker}-{}-{round}", std::process::id());
            let (url, topic, mut properties) = destination(broker, &name);
            properties["java.naming.provider.url"] = json!(url);
            let fx = wasp_tests::Fixture::new();
            let config = fx.config_doc(&json!({
                "eventHandlers": [{"class": "org.forgerock.audit.handlers.jms.JmsAuditEventHandler", "config": {
                    "name": "jms", "topics": ["access"], "deliveryMode": "PERSISTENT", "sessionMode": "AUTO",
                    "batch": {"batchEnabled": true, "maxBatchedEvents": 5000},
                    "jndi": {"contextProperties": properties, "topicName": topic, "connectionFactoryName": "ConnectionFactory"}}}],
                "wasp": {"journal": {"durability": "memory", "maxEvents": 1_000_000}, "safelist": true}
            }));
            let audit = wasp::AuditService::from_config_file(&config).unwrap();
            let started = Instant::now();
            for event in &events {
                audit.publish("access", event.clone()).unwrap();
            }
            audit.flush();
            let elapsed = started.elapsed();
            let summary = audit.shutdown();
            let h = &summary.handlers[0];
            assert_eq!((h.delivered as usize, h.dead_lettered), (count, 0), "{h:?}");
            if let Some(held) = held(broker, &name) {
                assert_eq!(held as usize, count, "{broker}: the broker's count");
            }
            let rate = count as f64 / elapsed.as_secs_f64();
            println!("{broker} round {round}: {count} events acknowledged in {elapsed:.2?}: {rate:.0} events/s ({} retries)", h.retries);
            rates.push(rate);
        }
        rates.sort_by(f64::total_cmp);
        println!("{broker}: median {:.0} events/s acknowledged (min {:.0}, max {:.0})", rates[ROUNDS / 2], rates[0], rates[ROUNDS - 1]);
        // The output alone: the same bodies, written and flushed in
        // batches of 5000 straight into the sink (no journal, no handler).
        let bodies: Vec<Vec<u8>> = events.iter().map(|e| json!({"auditTopic": "access", "event": e}).to_string().into_bytes()).collect();
        let mut rates = Vec::new();
        for round in 0..ROUNDS {
            let name = format!("wasp-bench-sink-{broker}-{}-{round}", std::process::id());
            let (url, topic, _) = destination(broker, &name);
            let output = match broker {
                "nats" => {
                    json!({"type": "nats", "url": url, "subject": topic, "stream": name, "createStream": true})
                }
                "amqp" => json!({"type": "amqp", "url": url, "exchange": topic}),
                "redis" => json!({"type": "redis-stream", "url": url, "key": topic}),
                _ => json!({"type": "mqtt", "url": url, "topic": topic}),
            };
            let output: wasp::outputs::OutputConfig = serde_json::from_value(output).unwrap();
            let mut sink = output.build(&wasp::outputs::OutputPlace::without_directory()).unwrap();
            let started = Instant::now();
            for batch in bodies.chunks(5000) {
                for body in batch {
                    sink.write(body).unwrap();
                }
                sink.flush().unwrap();
            }
            let elapsed = started.elapsed();
            drop(sink);
            if let Some(held) = held(broker, &name) {
                assert_eq!(held as usize, count, "{broker}: the broker's count");
            }
            let rate = count as f64 / elapsed.as_secs_f64();
            println!("{broker} sink only, round {round}: {count} records acknowledged in {elapsed:.2?}: {rate:.0} records/s");
            rates.push(rate);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "{broker} sink only: median {:.0} records/s acknowledged (min {:.0}, max {:.0})",
            rates[ROUNDS / 2],
            rates[0],
            rates[ROUNDS - 1]
        );
    }
}
