//! Publishes records to NATS JetStream and waits for every publish
//! acknowledgement.

use std::io::ErrorKind;
use std::time::Duration;

use async_nats::jetstream::{self, ErrorCode, context::GetStreamErrorKind, message::PublishMessage};
use bytes::Bytes;

use super::NatsOutputConfig;
use crate::outputs::Sink;
use crate::outputs::broker::{Endpoint, record_id, transient};

/// Publish acknowledgements awaited at once (the client's window).
const MAX_IN_FLIGHT: usize = 65_536;

/// A NATS JetStream output.
pub struct NatsSink {
    config: NatsOutputConfig,
    endpoint: Endpoint,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    /// The connection, opened at the first flush and dropped after a
    /// failure (the next flush connects again).
    context: Option<(async_nats::Client, jetstream::Context)>,
    /// Records since the last flush, with their ids.
    pending: Vec<(Bytes, Option<String>)>,
    /// Acknowledgements that said "duplicate" (a retried publish the
    /// stream had already stored), since the sink was made.
    duplicates: u64,
}

impl std::fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSink").field("config", &self.config).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl NatsSink {
    /// An output to `config`'s server; it connects at the first flush (a
    /// server that is down then is retried like any other failure).
    pub fn new(config: &NatsOutputConfig) -> std::io::Result<NatsSink> {
        let endpoint = config.endpoint().map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
        Ok(NatsSink {
            timeout: crate::outputs::broker::timeout(config.timeout),
            config: config.clone(),
            endpoint,
            runtime: crate::outputs::broker::runtime("nats")?,
            context: None,
            pending: Vec::new(),
            duplicates: 0,
        })
    }

    /// Publish acknowledgements that were duplicates, so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    async fn connect(
        config: &NatsOutputConfig,
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<(async_nats::Client, jetstream::Context), String> {
        let mut options = async_nats::ConnectOptions::new().name("wasp").connection_timeout(timeout).request_timeout(Some(timeout));
        if let Some(user) = &endpoint.username {
            options = options.user_and_password(user.clone(), endpoint.password.clone().unwrap_or_default());
        }
        let address = format!("nats://{}", endpoint.socket_address());
        let client = tokio::time::timeout(timeout, options.connect(address))
            .await
            .map_err(|_| format!("cannot connect: no answer within {timeout:?}"))?
            .map_err(|e| format!("cannot connect: {e}"))?;
        let context = jetstream::ContextBuilder::new()
            .timeout(timeout)
            .max_ack_inflight(MAX_IN_FLIGHT)
            .backpressure_on_inflight(true)
            .build(client.clone());
        if let Some(stream) = &config.stream {
            match context.get_stream(stream).await {
                Ok(_) => {}
                Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
                    if !config.create_stream {
                        return Err(format!(
                            "the JetStream stream `{stream}` does not exist (create it to capture subject `{}`, or set createStream)",
                            config.subject
                        ));
                    }
                    let stream_config =
                        jetstream::stream::Config { name: stream.clone(), subjects: vec![config.subject.clone()], ..Default::default() };
                    context
                        .create_stream(stream_config)
                        .await
                        .map_err(|e| format!("cannot create the JetStream stream `{stream}`: {e}"))?;
                    tracing::info!(stream = %stream, subject = %config.subject, "created the JetStream stream");
                }
                Err(e) => return Err(format!("cannot look up the JetStream stream `{stream}`: {e}")),
            }
        }
        Ok((client, context))
    }
}

impl Drop for NatsSink {
    // The client is dropped inside its runtime (its handles may reach for
    // it), before the runtime goes.
    fn drop(&mut self) {
        let _inside = self.runtime.enter();
        self.context.take();
    }
}

impl Sink for NatsSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        self.pending.push((Bytes::copy_from_slice(record), record_id(record)));
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (config, endpoint, timeout) = (&self.config, &self.endpoint, self.timeout);
        let context = &mut self.context;
        let pending = &self.pending;
        let result: Result<u64, String> = self.runtime.block_on(async {
            if context.is_none() {
                *context = Some(Self::connect(config, endpoint, timeout).await?);
            }
            let (_, js) = context.as_ref().expect("connected above");
            let subject = async_nats::Subject::from(config.subject.as_str());
            // Pipelined: the whole batch is sent, then every ack awaited.
            let mut acks = Vec::with_capacity(pending.len());
            for (payload, id) in pending {
                let mut message = PublishMessage::build().payload(payload.clone());
                if let Some(id) = id {
                    message = message.message_id(id);
                }
                let ack =
                    js.send_publish(subject.clone(), message).await.map_err(|e| format!("cannot publish on `{}`: {e}", config.subject))?;
                acks.push(ack);
            }
            let mut duplicates = 0;
            for ack in acks {
                let ack = ack.await.map_err(|e| match e.kind() {
                    jetstream::context::PublishErrorKind::StreamNotFound => {
                        format!("no JetStream stream captures subject `{}` (create one, or set stream and createStream)", config.subject)
                    }
                    _ => format!("no acknowledgement on `{}`: {e}", config.subject),
                })?;
                duplicates += u64::from(ack.duplicate);
            }
            Ok(duplicates)
        });
        match result {
            Ok(duplicates) => {
                if duplicates > 0 {
                    tracing::info!(output = %self.location(), duplicates, "JetStream recognised re-sent events by their Nats-Msg-Id and stored them once");
                }
                self.duplicates += duplicates;
                self.pending.clear();
                Ok(())
            }
            Err(message) => {
                // Reconnect at the next attempt (the same ids: no duplicates
                // within the stream's duplicate window).
                self.context = None;
                Err(transient(message))
            }
        }
    }

    fn location(&self) -> String {
        format!("{} subject {}", self.endpoint.shown(), self.config.subject)
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }
}
