//! Fuzz target `ingest`: see `wasp::fuzzing::ingest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::ingest(data));
