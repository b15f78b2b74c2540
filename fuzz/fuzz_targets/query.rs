//! Fuzz target `query`: see `wasp::fuzzing::query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::query(data));
