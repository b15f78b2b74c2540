//! Fuzz target `log_recovery`: see `wasp::fuzzing::log_recovery`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::log_recovery(data));
