//! Test guest: a handler whose behaviour each event chooses with its
//! `action` field, so that one component exercises every host path. The
//! actions below the first block form a *hostile-guest corpus*: each one
//! attacks one budget or isolation boundary of the host.
//!
//! | `action` | behaviour |
//! |---|---|
//! | absent / `echo` | emits `{"id", "seq", "topic"}` to output `out` |
//! | `document` | emits the event's JSON as published to output `out` |
//! | `fields` | emits every field the SDK hands out (`id`, `topic`, `seq`, `timestamp`, `eventName`, `transactionId`, `userId`, `json`) |
//! | `panic` | panics (a trap: the host must recycle the instance) |
//! | `loop` | loops forever (runs out of fuel) |
//! | `err` | returns `Err("refused <id>")` after emitting (the record must be discarded) |
//! | `emit-undeclared` | emits to `undeclared`, then reports the host's answer to `out` |
//! | `log` | logs `message` at info level, then echoes |
//! | `count` | increments state `count`, emits `{"count": n}` |
//! | `build` | emits `{"id", "seq", "build"}`: `build` is [`BUILD`], a marker the hot-reload tests patch in the component's bytes to make a second version |
//! | `recurse` | unbounded non-tail recursion (a stack-overflow trap) |
//! | `membomb` | allocates 1 MiB chunks and writes one byte per page, never freeing them (hits the memory budget with little fuel) |
//! | `unreachable` | executes the wasm `unreachable` instruction (a trap that is not a panic) |
//! | `output-flood` | emits 64 KiB records to `out` until `emit` fails, then returns that `Err` |
//! | `log-flood` | logs 4 KiB info messages forever (the log budget drops them; fuel ends the call) |
//! | `stdout-flood` | prints 10 000 lines of 1 KiB (10 MiB) to stdout, then echoes (must not be a fault) |
//! | `state-flood` | stores 64 KiB values under `k0`, `k1`, … until `state::set` fails, then returns that `Err` |
//! | `slow` | busy-waits `ms` milliseconds (event field, default 200), then echoes |
//! | `wasi-file` | reads `/etc/passwd` |
//! | `wasi-readdir` | lists `/`, then `.` |
//! | `wasi-env` | reads `PATH`, then counts the environment variables |
//! | `wasi-socket` | connects to `127.0.0.1:5432` |
//! | `wasi-dns` | resolves `localhost:80` |
//! | `emit-other` | emits to the output named by `output` (default `other-tenant.log`), returns `emit`'s answer |
//! | `every-10th` | panics when the event's sequence is a multiple of 10, otherwise echoes |
//! | `sleep` | `std::thread::sleep` for `ms` milliseconds (event field, default an hour): blocks in a WASI host call (`poll`), where epoch interruption cannot reach it; then echoes |
//! | `block-pollable` | subscribes to a monotonic-clock pollable for `ms` milliseconds (default an hour) and calls `pollable.block` on it; then echoes |
//! | `read-stdin` | reads stdin to its end (the sandbox's stdin is closed: returns at once), then echoes |
//! | `huge-err` | returns an `Err` of `bytes` bytes (event field, default 1 MiB) of `€` (3 bytes each) |
//!
//! Each `wasi-*` probe tries one thing the sandbox must refuse. If it
//! succeeds, the probe emits `{"id", "leak": "<what it got>"}` to `out` and
//! returns `Ok` (so a leak shows up as a record); if it is refused, the probe
//! returns `Err("<probe> refused: <error>")`.
//!
//! `init` fails when the config has `"fail_init": true` (with an error of
//! `fail_init_bytes` bytes when that is set), and panics (a trap
//! inside `init`) when it has `"trap_init": true`. With `"healthy": true` it
//! ignores `action` and echoes every event (a well-behaved neighbour).
//!
//! Versions for the deploy tests, by config: `"plain": true` echoes
//! `{"id", "seq", "topic"}` only (the same bytes from every instance);
//! `"differ_every": N` adds `"differs": true` to the echo of events whose
//! sequence is a multiple of N; `"trap_every": N` panics on those events.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wasp_guest::{Config, Event, Handler, emit, export_handler, log, serde_json::json, state};

/// This build's marker (`wasp-probe-build:A`); the hot-reload tests write
/// a copy of the component with another last letter. Read through
/// `black_box` so that the bytes stay one string in the data segment.
pub static BUILD: &str = "wasp-probe-build:A";

struct Probe {
    instance_events: u64,
    /// `"plain": true`: echo without `instance_events`.
    plain: bool,
    /// `"differ_every": N`: mark the echo of every Nth sequence.
    differ_every: u64,
    /// `"trap_every": N`: panic on every Nth sequence.
    trap_every: u64,
    /// `"healthy": true` in the config: ignore `action`, echo every event
    /// (the well-behaved neighbour of a hostile handler).
    healthy: bool,
}

impl Handler for Probe {
    fn init(config: Config) -> Result<Self, String> {
        if config.get("/fail_init").and_then(|v| v.as_bool()) == Some(true) {
            if let Some(bytes) = config.get("/fail_init_bytes").and_then(|v| v.as_u64()) {
                return Err(huge_message(bytes));
            }
            return Err("init refused: fail_init is set".into());
        }
        if config.get("/trap_init").and_then(|v| v.as_bool()) == Some(true) {
            panic!("probe: trap_init is set");
        }
        Ok(Probe {
            instance_events: 0,
            healthy: config.get("/healthy").and_then(|v| v.as_bool()) == Some(true),
            plain: config.get("/plain").and_then(|v| v.as_bool()) == Some(true),
            differ_every: config.get("/differ_every").and_then(|v| v.as_u64()).unwrap_or(0),
            trap_every: config.get("/trap_every").and_then(|v| v.as_u64()).unwrap_or(0),
        })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        self.instance_events += 1;
        let every = |n: u64| n > 0 && event.sequence().is_multiple_of(n);
        if every(self.trap_every) {
            panic!("probe: trap_every {} hit at sequence {}", self.trap_every, event.sequence());
        }
        let echo = || {
            let mut record = if self.plain {
                json!({"id": event.id(), "seq": event.sequence(), "topic": event.topic()})
            } else {
                json!({"id": event.id(), "seq": event.sequence(), "topic": event.topic(), "instance_events": self.instance_events})
            };
            if every(self.differ_every) {
                record["differs"] = json!(true);
            }
            record.to_string()
        };
        let action = if self.healthy { "echo" } else { event.get_str("/action").unwrap_or("echo") };
        match action {
            "echo" => emit("out", echo()),
            "document" => emit("out", event.raw_json()),
            // Every field as the SDK hands it (packed or not).
            "fields" => emit(
                "out",
                json!({
                    "id": event.id(), "topic": event.topic(), "seq": event.sequence(), "timestamp": event.timestamp(),
                    "eventName": event.event_name(), "transactionId": event.transaction_id(), "userId": event.user_id(),
                    "json": event.raw_json(),
                })
                .to_string(),
            ),
            "panic" => panic!("probe: poisoned event {}", event.id()),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "err" => {
                emit("out", echo())?;
                Err(format!("refused {}", event.id()))
            }
            "emit-undeclared" => {
                let answer = emit("undeclared", "x");
                emit("out", json!({"id": event.id(), "undeclared": answer.err()}).to_string())
            }
            "log" => {
                log::info(event.get_str("/message").unwrap_or(""));
                emit("out", echo())
            }
            "build" => emit("out", json!({"id": event.id(), "seq": event.sequence(), "build": black_box(BUILD)}).to_string()),
            "count" => {
                let n = state::get_u64("count") + 1;
                state::set_u64("count", n)?;
                emit("out", json!({"id": event.id(), "count": n}).to_string())
            }

            // Hostile guests: resource exhaustion.
            "recurse" => Err(format!("recursion without a base case returned {}", recurse(0))),
            "membomb" => membomb(),
            "unreachable" => wasm_unreachable(),
            "output-flood" => {
                let record = "x".repeat(64 * 1024);
                loop {
                    emit("out", &record)?;
                }
            }
            "log-flood" => {
                let message = "x".repeat(4 * 1024);
                loop {
                    log::info(&message);
                }
            }
            "stdout-flood" => {
                let line = "x".repeat(1023); // + '\n' = 1 KiB per line
                for _ in 0..10_000 {
                    println!("{line}");
                }
                emit("out", echo())
            }
            "state-flood" => {
                let value = vec![0x5a_u8; 64 * 1024];
                let mut key = 0_u64;
                loop {
                    state::set(&format!("k{key}"), &value)?;
                    key += 1;
                }
            }
            "slow" => {
                let ms = event.get("/ms").and_then(|v| v.as_u64()).unwrap_or(200);
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                emit("out", echo())
            }

            // Hostile guests: WASI capabilities the sandbox must not grant.
            "wasi-file" => match std::fs::read("/etc/passwd") {
                Ok(bytes) => leak(event, format!("read {} bytes of /etc/passwd", bytes.len())),
                Err(e) => Err(format!("wasi-file refused: {e}")),
            },
            "wasi-readdir" => {
                let mut refusals = Vec::new();
                for dir in ["/", "."] {
                    match std::fs::read_dir(dir) {
                        Ok(entries) => {
                            let names: Vec<String> =
                                entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                            return leak(event, format!("listed {dir}: {names:?}"));
                        }
                        Err(e) => refusals.push(format!("{dir}: {e}")),
                    }
                }
                Err(format!("wasi-readdir refused: {}", refusals.join("; ")))
            }
            "wasi-env" => match std::env::var("PATH") {
                Ok(path) => leak(event, format!("PATH={path}")),
                Err(e) => {
                    let count = std::env::vars().count();
                    if count > 0 { leak(event, format!("{count} environment variables")) } else { Err(format!("wasi-env refused: {e}")) }
                }
            },
            "wasi-socket" => match std::net::TcpStream::connect("127.0.0.1:5432") {
                Ok(stream) => leak(event, format!("connected to {:?}", stream.peer_addr())),
                Err(e) => Err(format!("wasi-socket refused: {e}")),
            },
            "wasi-dns" => match std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)) {
                Ok(addrs) => leak(event, format!("resolved localhost to {:?}", addrs.collect::<Vec<_>>())),
                Err(e) => Err(format!("wasi-dns refused: {e}")),
            },

            // Hostile guests: isolation between handlers and events.
            "emit-other" => emit(event.get_str("/output").unwrap_or("other-tenant.log"), echo()),
            "every-10th" => {
                if event.sequence().is_multiple_of(10) {
                    panic!("probe: every 10th event fails (sequence {})", event.sequence());
                }
                emit("out", echo())
            }

            // Hostile guests: waiting in a host call, and huge errors.
            "sleep" => {
                let ms = event.get("/ms").and_then(|v| v.as_u64()).unwrap_or(3_600_000);
                std::thread::sleep(Duration::from_millis(ms));
                emit("out", echo())
            }
            "block-pollable" => {
                let ms = event.get("/ms").and_then(|v| v.as_u64()).unwrap_or(3_600_000);
                block_on_clock(ms);
                emit("out", echo())
            }
            "read-stdin" => {
                let mut input = Vec::new();
                let read = std::io::Read::read_to_end(&mut std::io::stdin(), &mut input);
                emit("out", json!({"id": event.id(), "stdin": format!("{read:?}")}).to_string())
            }
            "huge-err" => Err(huge_message(event.get("/bytes").and_then(|v| v.as_u64()).unwrap_or(1 << 20))),

            other => Err(format!("unknown action {other}")),
        }
    }
}

/// A message of `bytes` bytes (rounded down to whole `€`, 3 bytes each), so
/// that a cut must find a character boundary.
fn huge_message(bytes: u64) -> String {
    "€".repeat((bytes / 3) as usize)
}

/// `wasi:clocks/monotonic-clock.subscribe-duration`, then
/// `pollable.block` (not `poll`) on it.
fn block_on_clock(ms: u64) {
    #[cfg(target_arch = "wasm32")]
    {
        #[link(wasm_import_module = "wasi:clocks/monotonic-clock@0.2.0")]
        unsafe extern "C" {
            #[link_name = "subscribe-duration"]
            fn subscribe_duration(nanos: i64) -> i32;
        }
        #[link(wasm_import_module = "wasi:io/poll@0.2.0")]
        unsafe extern "C" {
            #[link_name = "[method]pollable.block"]
            fn block(pollable: i32);
            #[link_name = "[resource-drop]pollable"]
            fn drop_pollable(pollable: i32);
        }
        // SAFETY: canonical ABI calls with plain integers; the handle comes
        // from `subscribe-duration` and is dropped once.
        unsafe {
            let pollable = subscribe_duration((ms * 1_000_000) as i64);
            block(pollable);
            drop_pollable(pollable);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::sleep(Duration::from_millis(ms));
}

/// Reports a capability the sandbox should not have granted: a record on
/// `out`, so the leak is visible in the output.
fn leak(event: &Event, what: String) -> Result<(), String> {
    emit("out", json!({"id": event.id(), "leak": what}).to_string())
}

/// Recursion without a base case that the optimiser cannot see through.
///
/// Not a tail call (the result is used after the call returns), and the
/// frame holds a small array in the linear-memory shadow stack. The array is
/// deliberately small (16 bytes of shadow stack per frame, against several
/// times that of native stack per wasm frame) so that the engine's native
/// wasm stack limit is hit long before the 1 MiB shadow stack wraps past
/// address 0: the trap is wasmtime's stack overflow rather than an
/// out-of-bounds memory access.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 2]);
    // Never true (`depth` counts up from 0), but `black_box` hides that, so
    // the function is not "unconditionally recursive" to rustc or LLVM.
    if frame[0] == u64::MAX {
        return frame[1];
    }
    recurse(depth + 1).wrapping_add(frame[(depth % 2) as usize])
}

/// Allocates 1 MiB chunks forever, writing every byte of each and keeping
/// them all, until the host refuses to grow memory (the allocator then
/// aborts: a trap the host must classify as a memory fault).
fn membomb() -> ! {
    const CHUNK: usize = 1 << 20;
    let layout = std::alloc::Layout::from_size_align(CHUNK, 4096).expect("a valid layout");
    let mut chunks: Vec<*mut u8> = Vec::new();
    loop {
        // Raw allocation: no zeroing pass. One write per 4 KiB page commits
        // every page with little fuel, so the memory budget (not fuel) is
        // what stops it.
        // SAFETY: `layout` has a non-zero size; every write stays inside the
        // chunk; nothing is ever read or freed.
        let chunk = unsafe { std::alloc::alloc(layout) };
        if chunk.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        for offset in (0..CHUNK).step_by(4096) {
            // SAFETY: `offset < CHUNK`, inside the allocation.
            unsafe { chunk.add(offset).write_volatile(0xa5) };
        }
        chunks.push(black_box(chunk));
        black_box(&chunks);
    }
}

/// The wasm `unreachable` instruction (not a Rust panic: nothing is printed).
fn wasm_unreachable() -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::process::abort()
    }
}

export_handler!(Probe);
