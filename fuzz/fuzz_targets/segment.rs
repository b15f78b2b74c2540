//! Fuzz target `segment`: see `wasp::fuzzing::segment`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::segment(data));
