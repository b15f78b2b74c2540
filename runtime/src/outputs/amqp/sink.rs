//! Publishes records to an AMQP 0-9-1 exchange and waits for the broker's
//! publisher confirms.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::time::Duration;

use amqprs::callbacks::{ChannelCallback, ConnectionCallback};
use amqprs::channel::{BasicPublishArguments, Channel, ConfirmSelectArguments, ExchangeDeclareArguments};
use amqprs::connection::{Connection, OpenConnectionArguments};
type AmqpResult<T> = std::result::Result<T, amqprs::error::Error>;
use amqprs::{Ack, BasicProperties, Cancel, Close, CloseChannel, Nack, Return};
use tokio::sync::mpsc;

use super::AmqpOutputConfig;
use crate::outputs::Sink;
use crate::outputs::broker::{Endpoint, record_id, transient};

/// What the broker says about published messages (and the connection).
#[derive(Debug)]
enum Notice {
    Ack { tag: u64, multiple: bool },
    Nack { tag: u64 },
    Closed(String),
}

/// Forwards the broker's confirms and closes to the sink.
struct Callbacks(mpsc::UnboundedSender<Notice>);

#[async_trait::async_trait]
impl ConnectionCallback for Callbacks {
    async fn close(&mut self, _: &Connection, close: Close) -> AmqpResult<()> {
        let _ = self.0.send(Notice::Closed(format!("the broker closed the connection: {} {}", close.reply_code(), close.reply_text())));
        Ok(())
    }
    async fn blocked(&mut self, _: &Connection, reason: String) {
        tracing::warn!("the AMQP broker blocks publishing: {reason}");
    }
    async fn unblocked(&mut self, _: &Connection) {}
    async fn secret_updated(&mut self, _: &Connection) {}
}

#[async_trait::async_trait]
impl ChannelCallback for Callbacks {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> AmqpResult<()> {
        let _ = self.0.send(Notice::Closed(format!("the broker closed the channel: {} {}", close.reply_code(), close.reply_text())));
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> AmqpResult<()> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> AmqpResult<bool> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let _ = self.0.send(Notice::Ack { tag: ack.delivery_tag(), multiple: ack.mutiple() });
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        let _ = self.0.send(Notice::Nack { tag: nack.delivery_tag() });
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

/// An open connection in confirm mode.
struct Session {
    connection: Connection,
    channel: Channel,
    notices: mpsc::UnboundedReceiver<Notice>,
    /// The delivery tag of the next message (confirms count from 1).
    next_tag: u64,
}

/// An AMQP 0-9-1 output with publisher confirms.
pub struct AmqpSink {
    config: AmqpOutputConfig,
    endpoint: Endpoint,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    /// Opened at the first flush, dropped after a failure.
    session: Option<Session>,
    /// Records since the last flush, with their ids.
    pending: Vec<(Vec<u8>, Option<String>)>,
}

impl std::fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSink").field("config", &self.config).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl Session {
    /// Closes the connection (waiting at most a second: not when the broker
    /// is gone) and drops the rest — inside the runtime: amqprs's drops
    /// spawn tasks.
    async fn close(self) {
        let Session { connection, channel, .. } = self;
        let _ = tokio::time::timeout(Duration::from_secs(1), connection.close()).await;
        drop(channel);
    }
}

impl AmqpSink {
    /// An output to `config`'s broker; it connects at the first flush.
    pub fn new(config: &AmqpOutputConfig) -> std::io::Result<AmqpSink> {
        let endpoint = config.endpoint().map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
        Ok(AmqpSink {
            timeout: crate::outputs::broker::timeout(config.timeout),
            config: config.clone(),
            endpoint,
            runtime: crate::outputs::broker::runtime("amqp")?,
            session: None,
            pending: Vec::new(),
        })
    }

    async fn connect(config: &AmqpOutputConfig, endpoint: &Endpoint) -> Result<Session, String> {
        let user = endpoint.username.as_deref().unwrap_or("guest");
        let password = endpoint.password.as_deref().unwrap_or(if endpoint.username.is_some() { "" } else { "guest" });
        let arguments = OpenConnectionArguments::new(&endpoint.host, endpoint.port, user, password)
            .virtual_host(&endpoint.path)
            .connection_name("wasp")
            .finish();
        let connection = Connection::open(&arguments).await.map_err(|e| {
            let text = e.to_string();
            // RabbitMQ refuses a login by closing the socket (amqprs does
            // not ask for `authentication_failure_close`).
            let hint = if text.contains("reset by peer") || text.contains("closed") || text.contains("EOF") || text.contains("eof") {
                " (the broker closed the connection during the login: a wrong user name or password, or no access to the vhost)"
            } else {
                ""
            };
            format!("cannot connect as `{user}` to vhost `{}`: {text}{hint}", endpoint.path)
        })?;
        let (sender, notices) = mpsc::unbounded_channel();
        connection.register_callback(Callbacks(sender.clone())).await.map_err(|e| e.to_string())?;
        let channel = connection.open_channel(None).await.map_err(|e| format!("cannot open a channel: {e}"))?;
        channel.register_callback(Callbacks(sender)).await.map_err(|e| e.to_string())?;
        if !config.exchange.is_empty() {
            let mut declare = ExchangeDeclareArguments::new(&config.exchange, "topic");
            declare.passive = !config.declare_exchange;
            declare.durable = true;
            channel.exchange_declare(declare).await.map_err(|e| {
                if config.declare_exchange {
                    format!("cannot declare the exchange `{}`: {e}", config.exchange)
                } else {
                    format!(
                        "the exchange `{}` does not exist in vhost `{}` (declare it, or set declareExchange): {e}",
                        config.exchange, endpoint.path
                    )
                }
            })?;
        }
        channel.confirm_select(ConfirmSelectArguments::default()).await.map_err(|e| format!("cannot enter confirm mode: {e}"))?;
        Ok(Session { connection, channel, notices, next_tag: 1 })
    }

    async fn publish(
        config: &AmqpOutputConfig,
        session: &mut Session,
        pending: &[(Vec<u8>, Option<String>)],
        timeout: Duration,
    ) -> Result<(), String> {
        // A notice left from before (a close between batches) fails this batch.
        if let Ok(Notice::Closed(reason)) = session.notices.try_recv() {
            return Err(reason);
        }
        let mut outstanding = BTreeSet::new();
        for (record, id) in pending {
            let mut properties = BasicProperties::default();
            properties.with_content_type("application/json").with_delivery_mode(if config.persistent { 2 } else { 1 });
            // A short string in AMQP: a longer id stays in the body only.
            if let Some(id) = id.as_deref().filter(|id| id.len() <= 255) {
                properties.with_message_id(id);
            }
            session
                .channel
                .basic_publish(properties.finish(), record.clone(), BasicPublishArguments::new(&config.exchange, &config.routing_key))
                .await
                .map_err(|e| format!("cannot publish to exchange `{}`: {e}", config.exchange))?;
            outstanding.insert(session.next_tag);
            session.next_tag += 1;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while !outstanding.is_empty() {
            let notice = tokio::time::timeout_at(deadline, session.notices.recv())
                .await
                .map_err(|_| format!("{} of {} messages not confirmed within {timeout:?}", outstanding.len(), pending.len()))?
                .ok_or("the connection ended")?;
            match notice {
                Notice::Ack { tag, multiple: true } => outstanding = outstanding.split_off(&(tag + 1)),
                Notice::Ack { tag, multiple: false } => {
                    outstanding.remove(&tag);
                }
                Notice::Nack { tag, .. } => return Err(format!("the broker refused message {tag} of the batch (basic.nack)")),
                Notice::Closed(reason) => return Err(reason),
            }
        }
        Ok(())
    }
}

impl Drop for AmqpSink {
    // amqprs closes its connection and channel from a tokio task when they
    // are dropped: inside the runtime, or it panics.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.runtime.block_on(session.close());
        }
    }
}

impl Sink for AmqpSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        self.pending.push((record.to_vec(), record_id(record)));
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (config, endpoint, timeout) = (&self.config, &self.endpoint, self.timeout);
        let (session, pending) = (&mut self.session, &self.pending);
        let result: Result<(), String> = self.runtime.block_on(async {
            if session.is_none() {
                let opened = tokio::time::timeout(timeout, Self::connect(config, endpoint))
                    .await
                    .map_err(|_| format!("cannot connect: no answer within {timeout:?}"))??;
                *session = Some(opened);
            }
            Self::publish(config, session.as_mut().expect("connected above"), pending, timeout).await
        });
        match result {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(message) => {
                if let Some(session) = self.session.take() {
                    // Closing waits for the broker: not when it is gone. (In
                    // the runtime: amqprs's drops spawn tasks.)
                    self.runtime.block_on(session.close());
                }
                Err(transient(format!("exchange `{}`: {message}", self.config.exchange)))
            }
        }
    }

    fn location(&self) -> String {
        format!("{}/{} exchange {}", self.endpoint.shown(), self.endpoint.path.trim_start_matches('/'), self.config.exchange)
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }
}
