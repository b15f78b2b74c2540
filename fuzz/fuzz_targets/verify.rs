//! Fuzz target `verify`: see `wasp::fuzzing::verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::verify(data));
