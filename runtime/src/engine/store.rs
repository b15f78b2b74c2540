//! Per-instance store data: the WASI context (no preopened directories, no
//! network, no environment, stdio captured with a byte bound), the memory
//! limiter, and the state of each WASP host interface.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::host::HostInterface;
use super::logging::LoggingState;
use super::output::{OutputSpec, OutputState};
use super::poll::DeadlinePoll;
use super::state::{StateStore, StateView};

/// The budgets one handler instance runs under. `docs/sandbox.md` lists each
/// with its default and the fault exceeding it causes.
#[derive(Debug, Clone, PartialEq)]
pub struct Budgets {
    /// Fuel per event; a call gets this times the batch size.
    pub fuel_per_event: u64,
    /// Wall-clock deadline of one call.
    pub deadline: Duration,
    /// Linear memory of one instance, in bytes.
    pub memory_bytes: usize,
    /// Bytes one event may emit to outputs.
    pub output_bytes_per_event: usize,
    /// Bytes one call may emit to outputs.
    pub output_bytes_per_call: usize,
    /// Bytes one event may log; a call gets this times the batch size.
    pub log_bytes_per_event: usize,
    /// Bytes of state (keys + values) one handler may keep, shared by its
    /// instances.
    pub state_bytes: usize,
    /// Bytes of stdout/stderr kept per call (the rest is counted, not kept).
    pub stdio_bytes_per_call: usize,
    /// Bytes of a guest's `err` message kept (the rest is cut and counted).
    pub error_bytes_per_event: usize,
    /// Component instances one store may create.
    pub instances: usize,
    /// Tables one store may create.
    pub tables: usize,
    /// Linear memories one store may create.
    pub memories: usize,
    /// Elements one table may grow to.
    pub table_elements: usize,
    /// Events after which an instance is replaced by a fresh one (0: never).
    pub recycle_after: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            // 0.5-1.4 ms of tight loop per event; a small Python handler
            // needs ~150k per event, a JavaScript one ~210k.
            fuel_per_event: 10_000_000,
            deadline: Duration::from_secs(5),
            // JavaScript guests want at least 64 MiB.
            memory_bytes: 256 << 20,
            output_bytes_per_event: 1 << 20,
            output_bytes_per_call: 16 << 20,
            log_bytes_per_event: 16 << 10,
            state_bytes: 1 << 20,
            stdio_bytes_per_call: 64 << 10,
            error_bytes_per_event: 16 << 10,
            // A Rust guest has 1 instance, 1 table and 1 memory; Python and
            // JavaScript components a few dozen core instances.
            instances: 64,
            tables: 64,
            memories: 32,
            table_elements: 1_000_000,
            // JavaScript guests leak ~0.5 KiB per call (out of memory after
            // ~90k calls at 64 MiB): recycle well before that adds up.
            recycle_after: 10_000,
        }
    }
}

/// What `wasmtime::Store` holds for one handler instance.
pub struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: Limits,
    pub logging: LoggingState,
    pub output: OutputState,
    pub state: StateView,
    pub stdout: Capture,
    pub stderr: Capture,
    /// When the call in progress must end (set by `arm`): WASI waits are
    /// cut there (see `poll`).
    pub deadline: Option<Instant>,
}

impl StoreData {
    pub fn new(handler: &str, budgets: &Budgets, outputs: Arc<[OutputSpec]>, state: StateStore) -> Self {
        let stdout = Capture::new(budgets.stdio_bytes_per_call);
        let stderr = Capture::new(budgets.stdio_bytes_per_call);
        // No preopens, no environment, no arguments; sockets are linked (so
        // that std-built guests instantiate) but every address is refused.
        let wasi = WasiCtxBuilder::new().stdout(stdout.clone()).stderr(stderr.clone()).build();
        StoreData {
            wasi,
            table: ResourceTable::new(),
            limits: Limits::new(budgets),
            logging: LoggingState::new(handler, budgets.log_bytes_per_event),
            output: OutputState::new(outputs, budgets.output_bytes_per_event, budgets.output_bytes_per_call),
            state: StateView::new(state),
            stdout,
            stderr,
            deadline: None,
        }
    }

    /// The WASP host interfaces of this store, for the call lifecycle
    /// (`instance.rs` loops over them; a new interface joins this list).
    pub(super) fn interfaces(&mut self) -> [&mut dyn HostInterface; 3] {
        [&mut self.logging, &mut self.output, &mut self.state]
    }

    /// The view of `wasi:io/poll` that bounds waits by the call's deadline.
    pub(super) fn poll_view(&mut self) -> DeadlinePoll<'_> {
        DeadlinePoll { table: &mut self.table, deadline: self.deadline }
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Memory and table limits that remember the peak and whether a growth was
/// refused (a refused growth is not a trap by itself; the guest usually
/// traps right after, and the fault is then reported as `memory`).
#[derive(Debug)]
pub struct Limits {
    max_memory: usize,
    max_table_elements: usize,
    instances: usize,
    tables: usize,
    memories: usize,
    pub peak_memory: usize,
    pub memory_refused: bool,
}

impl Limits {
    fn new(budgets: &Budgets) -> Self {
        Limits {
            max_memory: budgets.memory_bytes,
            max_table_elements: budgets.table_elements,
            instances: budgets.instances,
            tables: budgets.tables,
            memories: budgets.memories,
            peak_memory: 0,
            memory_refused: false,
        }
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_refused = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.max_table_elements)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

/// A bounded capture of a guest's stdout or stderr. Writes past the bound are
/// counted and discarded (never a trap: a chatty guest is not a faulty one).
#[derive(Debug, Clone)]
pub struct Capture {
    inner: Arc<Mutex<CaptureBuf>>,
}

#[derive(Debug)]
struct CaptureBuf {
    kept: Vec<u8>,
    capacity: usize,
    discarded: u64,
}

impl Capture {
    fn new(capacity: usize) -> Self {
        Capture { inner: Arc::new(Mutex::new(CaptureBuf { kept: Vec::new(), capacity, discarded: 0 })) }
    }

    fn push(&self, bytes: &[u8]) {
        let mut buf = self.inner.lock().unwrap();
        let room = buf.capacity.saturating_sub(buf.kept.len());
        let take = room.min(bytes.len());
        buf.kept.extend_from_slice(&bytes[..take]);
        buf.discarded += (bytes.len() - take) as u64;
    }

    /// Takes what was captured since the last call, and how many bytes were
    /// discarded over the bound.
    pub fn take(&self) -> (String, u64) {
        let mut buf = self.inner.lock().unwrap();
        let text = String::from_utf8_lossy(&buf.kept).into_owned();
        buf.kept.clear();
        (text, std::mem::take(&mut buf.discarded))
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::Budgets;

    /// Each budget by its configuration name, with its default written as
    /// the docs write it.
    fn documented_defaults() -> Vec<(&'static str, &'static str, String)> {
        let d = Budgets::default();
        vec![
            ("fuelPerEvent", "fuel_per_event", count(d.fuel_per_event as usize)),
            ("deadline", "deadline", format!("{} s", d.deadline.as_secs())),
            ("memory", "memory", bytes(d.memory_bytes)),
            ("outputPerEvent", "output_per_event", bytes(d.output_bytes_per_event)),
            ("outputPerCall", "output_per_call", bytes(d.output_bytes_per_call)),
            ("logPerEvent", "log_per_event", bytes(d.log_bytes_per_event)),
            ("state", "state", bytes(d.state_bytes)),
            ("stdioPerCall", "stdio_per_call", bytes(d.stdio_bytes_per_call)),
            ("errorPerEvent", "error_per_event", bytes(d.error_bytes_per_event)),
            ("instances", "instances", count(d.instances)),
            ("tables", "tables", count(d.tables)),
            ("memories", "memories", count(d.memories)),
            ("tableElements", "table_elements", count(d.table_elements)),
            ("recycleAfter", "recycle_after", count(d.recycle_after as usize)),
        ]
    }

    fn count(n: usize) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    fn bytes(n: usize) -> String {
        match n {
            n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
            n => format!("{n} bytes"),
        }
    }

    /// `Budgets::default()` is the one place the defaults live; the table
    /// in `docs/sandbox.md` and the configuration's field comments (which
    /// `wasp config check` users read) must say the same.
    #[test]
    fn the_docs_and_the_config_comments_give_the_defaults_of_budgets() {
        let table = include_str!("../../../docs/sandbox.md");
        let raw = include_str!("../config/raw.rs");
        let raw_lines: Vec<&str> = raw.lines().collect();
        for (name, field, default) in documented_defaults() {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("docs/sandbox.md has no row for `{name}`"));
            let cell = row.split('|').nth(2).expect("a default column").trim();
            assert_eq!(cell, default, "docs/sandbox.md: the default of `{name}`");

            let at = raw_lines
                .iter()
                .position(|l| l.trim_start().starts_with(&format!("pub {field}: Option<")))
                .unwrap_or_else(|| panic!("config/raw.rs has no budget field `{field}`"));
            let comment: String = raw_lines[..at]
                .iter()
                .rev()
                .skip_while(|l| l.trim_start().starts_with("#["))
                .take_while(|l| l.trim_start().starts_with("///"))
                .map(|l| l.trim_start().trim_start_matches("///").trim())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" ");
            let said = comment
                .split("Default: ")
                .nth(1)
                .unwrap_or_else(|| panic!("config/raw.rs: `{field}` does not say its default"))
                .trim_end_matches('.');
            assert_eq!(said, default, "config/raw.rs: the default `{field}`'s comment gives");
        }
    }
}
