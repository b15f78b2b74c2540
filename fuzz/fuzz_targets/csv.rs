//! Fuzz target `csv`: see `wasp::fuzzing::csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasp::fuzzing::csv(data));
