//! Publishes records with QoS 1 and waits for each packet id's `PUBACK`.

use std::collections::BTreeSet;
use std::io::{BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::MqttOutputConfig;
use super::packet;
use crate::outputs::Sink;
use crate::outputs::broker::{Endpoint, transient};

/// `PUBLISH`es in flight at once (each chunk's `PUBACK`s are awaited
/// before the next).
const WINDOW: usize = 10_000;

struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The packet id of the next `PUBLISH` (1 to 65535).
    next_id: u16,
}

/// An MQTT 3.1.1 QoS 1 output.
pub struct MqttSink {
    config: MqttOutputConfig,
    endpoint: Endpoint,
    client_id: String,
    timeout: Duration,
    /// Opened at the first flush, dropped after a failure.
    session: Option<Session>,
    /// Records since the last flush.
    pending: Vec<Vec<u8>>,
}

impl std::fmt::Debug for MqttSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSink").field("config", &self.config).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl MqttSink {
    /// An output to `config`'s broker; it connects at the first flush.
    pub fn new(config: &MqttOutputConfig) -> std::io::Result<MqttSink> {
        let endpoint = config.endpoint().map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
        let client_id = config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("wasp-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]));
        Ok(MqttSink {
            timeout: crate::outputs::broker::timeout(config.timeout),
            config: config.clone(),
            endpoint,
            client_id,
            session: None,
            pending: Vec::new(),
        })
    }

    fn connect(&self) -> Result<Session, String> {
        use std::net::ToSocketAddrs;
        let address = self.endpoint.socket_address();
        let addresses = address.to_socket_addrs().map_err(|e| format!("cannot resolve `{address}`: {e}"))?;
        let mut last = format!("`{address}` resolves to no address");
        for addr in addresses {
            let stream = match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(stream) => stream,
                Err(e) => {
                    last = format!("cannot connect: {e}");
                    continue;
                }
            };
            let io = |e: std::io::Error| format!("cannot connect: {e}");
            stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
            stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            let mut writer = stream.try_clone().map_err(io)?;
            writer
                .write_all(&packet::connect(&self.client_id, self.endpoint.username.as_deref(), self.endpoint.password.as_deref()))
                .map_err(io)?;
            let mut reader = BufReader::new(stream);
            let (kind, body) = packet::read(&mut reader).map_err(|e| format!("no CONNACK: {e}"))?;
            if kind != 2 || body.len() < 2 {
                return Err(format!("the broker answered CONNECT with packet type {kind}, not CONNACK"));
            }
            if body[1] != 0 {
                return Err(format!("the broker refused the connection: {} (CONNACK {})", packet::connack_refusal(body[1]), body[1]));
            }
            return Ok(Session { reader, writer, next_id: 1 });
        }
        Err(last)
    }

    fn publish(&mut self) -> Result<(), String> {
        if self.session.is_none() {
            self.session = Some(self.connect()?);
        }
        let session = self.session.as_mut().expect("connected above");
        let topic = &self.config.topic;
        for chunk in self.pending.chunks(WINDOW) {
            let mut out = Vec::with_capacity(chunk.iter().map(|r| r.len() + topic.len() + 8).sum());
            let mut outstanding = BTreeSet::new();
            for record in chunk {
                let id = session.next_id;
                session.next_id = session.next_id.checked_add(1).unwrap_or(1);
                packet::publish(&mut out, topic, id, record);
                outstanding.insert(id);
            }
            session.writer.write_all(&out).map_err(|e| format!("cannot publish on `{topic}`: {e}"))?;
            let deadline = Instant::now() + self.timeout;
            while !outstanding.is_empty() {
                if Instant::now() > deadline {
                    return Err(format!("{} of {} PUBACKs missing after {:?}", outstanding.len(), chunk.len(), self.timeout));
                }
                let (kind, body) = packet::read(&mut session.reader).map_err(|e| format!("waiting for PUBACKs on `{topic}`: {e}"))?;
                if kind == 4 && body.len() >= 2 {
                    outstanding.remove(&u16::from_be_bytes([body[0], body[1]]));
                }
            }
        }
        Ok(())
    }
}

impl Sink for MqttSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        self.pending.push(record.strip_suffix(b"\n").unwrap_or(record).to_vec());
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.publish() {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(message) => {
                self.session = None;
                Err(transient(message))
            }
        }
    }

    fn location(&self) -> String {
        format!("{} topic {}", self.endpoint.shown(), self.config.topic)
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }

    fn close(&mut self) -> std::io::Result<()> {
        let flushed = self.flush();
        if let Some(mut session) = self.session.take() {
            let _ = session.writer.write_all(&packet::DISCONNECT);
        }
        flushed
    }
}
