//! The `syslog` output: records as RFC 5424 messages to a syslog daemon,
//! over UDP (RFC 5426, one datagram per message), TCP with octet counting
//! (RFC 6587) or TLS (RFC 5425, octet counting too).
//!
//! The ForgeRock `SyslogAuditEventHandler` (`builtin::syslog`) formats each
//! event into a whole message ([`format`](mod@format)) and hands it to this output; a
//! WASM handler's `{"type": "syslog"}` output ([`SyslogOutputConfig`]) sends
//! each record as the MSG of a message whose header WASP writes
//! ([`FramedSyslogSink`]).
//!
//! Delivery: `flush` returns `Ok` once every message was written to the
//! connection and flushed (TCP, TLS) or sent (UDP); only then does the
//! handler acknowledge its events. A connection or send error is
//! *retryable*: the handler keeps its events in the journal and tries again
//! with a capped exponential backoff, reconnecting first. Messages of a
//! batch written before the error may reach the daemon twice (at least
//! once). UDP cannot tell whether a datagram arrived: only local send
//! errors are seen.

mod config;
pub mod format;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{Protocol, SyslogOutputConfig, SyslogTarget, SyslogTlsConfig, TlsFiles};
pub use sink::{FramedSyslogSink, SyslogSink};

impl super::Output for SyslogOutputConfig {
    fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        SyslogOutputConfig::resolve_paths(self, base_dir);
    }
    fn validate(&self) -> Result<(), super::SettingError> {
        SyslogOutputConfig::validate(self)
    }
    fn open(&self, _place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        Ok(Box::new(FramedSyslogSink::new(self)?))
    }
    fn check_network(&self) -> Result<(), super::CheckError> {
        let target = self.target();
        super::check_network(&target.host, target.port, || SyslogSink::new(target.clone()).map(drop))
    }
}
