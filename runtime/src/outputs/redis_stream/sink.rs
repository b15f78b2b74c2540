//! Appends records to a Redis stream, skipping ids already added within
//! the dedupe window.

use std::io::ErrorKind;
use std::time::Duration;

use super::RedisStreamConfig;
use super::resp::{Connection, Reply};
use crate::outputs::Sink;
use crate::outputs::broker::{Endpoint, record_id, transient};

/// Adds each record (`ARGV` pairs of id and body after the window and the
/// cap) unless its id was added within the window; returns how many it
/// added. The id's marker is set after its `XADD`: if the `XADD` fails, the
/// retry adds it.
const SCRIPT: &str = r"
local window = tonumber(ARGV[1])
local maxlen = tonumber(ARGV[2])
local added = 0
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local marker = KEYS[2] .. id
  if window == 0 or id == '' or redis.call('EXISTS', marker) == 0 then
    if maxlen > 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', '_id', id, 'body', ARGV[i + 1])
    else
      redis.call('XADD', KEYS[1], '*', '_id', id, 'body', ARGV[i + 1])
    end
    if window > 0 and id ~= '' then
      redis.call('SET', marker, '1', 'EX', window)
    end
    added = added + 1
  end
end
return added
";

/// Records per script call (the calls of a batch are pipelined).
const CHUNK: usize = 500;

/// A Redis stream output.
pub struct RedisStreamSink {
    config: RedisStreamConfig,
    endpoint: Endpoint,
    database: u32,
    timeout: Duration,
    /// Opened at the first flush, dropped after a failure.
    connection: Option<Connection>,
    /// Records since the last flush, with their ids (`""`: none).
    pending: Vec<(Vec<u8>, String)>,
    /// Records the dedupe window recognised as added before.
    duplicates: u64,
}

impl std::fmt::Debug for RedisStreamSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamSink").field("config", &self.config).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

fn failed(what: &str, reply: Reply) -> String {
    match reply {
        Reply::Error(e) => format!("{what}: {e}"),
        other => format!("{what}: unexpected reply {other:?}"),
    }
}

impl RedisStreamSink {
    /// An output to `config`'s server; it connects at the first flush.
    pub fn new(config: &RedisStreamConfig) -> std::io::Result<RedisStreamSink> {
        let invalid = |e| std::io::Error::new(ErrorKind::InvalidInput, e);
        Ok(RedisStreamSink {
            endpoint: config.endpoint().map_err(invalid)?,
            database: config.database().map_err(invalid)?,
            timeout: crate::outputs::broker::timeout(config.timeout),
            config: config.clone(),
            connection: None,
            pending: Vec::new(),
            duplicates: 0,
        })
    }

    fn connect(&self) -> Result<Connection, String> {
        let mut connection = Connection::open(&self.endpoint.socket_address(), self.timeout).map_err(|e| format!("cannot connect: {e}"))?;
        let io = |e: std::io::Error| e.to_string();
        if let Some(password) = &self.endpoint.password {
            let reply = match &self.endpoint.username {
                Some(user) => connection.command(&[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => connection.command(&[b"AUTH", password.as_bytes()]),
            }
            .map_err(io)?;
            if reply != Reply::Status("OK".into()) {
                return Err(failed("cannot log in", reply));
            }
        }
        if self.database != 0 {
            let reply = connection.command(&[b"SELECT", self.database.to_string().as_bytes()]).map_err(io)?;
            if reply != Reply::Status("OK".into()) {
                return Err(failed(&format!("cannot select database {}", self.database), reply));
            }
        }
        Ok(connection)
    }

    fn append(&mut self) -> Result<u64, String> {
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let connection = self.connection.as_mut().expect("connected above");
        let marker = format!("{}:wasp-ids:", self.config.key);
        let (window, max_len) = (self.config.window().to_string(), self.config.max_len.unwrap_or(0).to_string());
        let chunks: Vec<_> = self.pending.chunks(CHUNK).collect();
        for chunk in &chunks {
            let mut args: Vec<&[u8]> = vec![
                b"EVAL",
                SCRIPT.as_bytes(),
                b"2",
                self.config.key.as_bytes(),
                marker.as_bytes(),
                window.as_bytes(),
                max_len.as_bytes(),
            ];
            for (record, id) in *chunk {
                args.push(id.as_bytes());
                args.push(record);
            }
            connection.send(&args).map_err(|e| e.to_string())?;
        }
        let mut added = 0;
        let mut error = None;
        for _ in &chunks {
            match connection.read().map_err(|e| e.to_string())? {
                Reply::Integer(n) => added += n as u64,
                other => {
                    error.get_or_insert(failed(&format!("cannot append to the stream `{}`", self.config.key), other));
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(self.pending.len() as u64 - added),
        }
    }
}

impl Sink for RedisStreamSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        self.pending.push((record.to_vec(), record_id(record).unwrap_or_default()));
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.append() {
            Ok(duplicates) => {
                if duplicates > 0 {
                    tracing::info!(output = %self.location(), duplicates, "re-sent events recognised by their _id within the dedupe window: added once");
                }
                self.duplicates += duplicates;
                self.pending.clear();
                Ok(())
            }
            Err(message) => {
                self.connection = None;
                Err(transient(message))
            }
        }
    }

    fn location(&self) -> String {
        format!("{}/{} stream {}", self.endpoint.shown(), self.database, self.config.key)
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != ErrorKind::InvalidData
    }
}
