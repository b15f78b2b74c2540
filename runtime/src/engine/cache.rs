//! On-disk cache of compiled components.
//!
//! Invariants:
//! - a cache entry's name is the SHA-256 of (wasmtime version, engine
//!   configuration fingerprint, SHA-256 of the component bytes): a changed
//!   component, engine setting or wasmtime version never loads a stale entry;
//! - entries are written to a temporary file and renamed into place, so a
//!   reader sees a whole entry or none;
//! - an entry that fails to load is ignored and recompiled (and rewritten).
//!
//! Only WASP writes this directory; loading an entry is `unsafe` in wasmtime
//! because a forged file could contain arbitrary machine code, so the cache
//! directory must not be writable by anyone the host does not trust.

use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::{EngineError, LoadedComponent, engine_fingerprint};

pub fn load(engine: &Engine, path: &Path, bytes: &[u8], cache_dir: Option<&Path>) -> Result<LoadedComponent, EngineError> {
    let hash = hex::encode(Sha256::digest(bytes));
    if bytes.starts_with(b"\0asm") && bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        return Err(EngineError::Compile {
            path: path.to_owned(),
            message: "this is a core WebAssembly module, not a component (build for wasm32-wasip2, or wrap it with \
                      `wasm-tools component new`)"
                .into(),
        });
    }
    let entry = cache_dir.map(|dir| {
        let mut key = Sha256::new();
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        key.update(b"\0wasmtime-48.0.8\0");
        key.update(engine_fingerprint(engine).to_le_bytes());
        key.update(hash.as_bytes());
        dir.join(format!("{}.cwasm", hex::encode(key.finalize())))
    });
    if let Some(entry) = entry.as_deref().filter(|e| e.exists()) {
        // Read into memory rather than mmap the file: a file truncated under
        // a mapping would crash the process (SIGBUS) when the code runs.
        let loaded = std::fs::read(entry).map_err(|e| e.to_string()).and_then(|compiled| {
            // SAFETY: the cache directory is written only by WASP (see module
            // docs); wasmtime checks the entry's engine compatibility first.
            unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| e.to_string())
        });
        match loaded {
            Ok(component) => return Ok(LoadedComponent { component, hash, cached: true }),
            Err(e) => tracing::warn!(entry = %entry.display(), "ignoring unusable compiled-cache entry: {e}"),
        }
    }
    let component = Component::new(engine, bytes).map_err(|e| EngineError::Compile { path: path.to_owned(), message: format!("{e:#}") })?;
    if let Some(entry) = entry
        && let Err(e) = store(&component, &entry)
    {
        tracing::warn!(entry = %entry.display(), "cannot write the compiled cache (continuing without): {e}");
    }
    Ok(LoadedComponent { component, hash, cached: false })
}

fn store(component: &Component, entry: &Path) -> std::io::Result<()> {
    let dir = entry.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    std::fs::write(&tmp, serialized)?;
    std::fs::rename(&tmp, entry)
}
