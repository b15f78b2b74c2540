//! Fuzz target `config`: see `wasp::fuzzing::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::config(data));
