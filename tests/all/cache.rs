//! The compiled-component cache: a second load comes from disk; a damaged
//! entry is recompiled, not trusted.

use std::path::Path;

use wasp::engine::WaspEngine;
use wasp_tests::{Fixture, guests};

#[test]
fn a_second_load_comes_from_the_cache_and_a_damaged_entry_is_replaced() {
    let fx = Fixture::new();
    let cache = fx.path().join("cache");
    let engine = WaspEngine::global().unwrap();
    let first = engine.load(Path::new(guests::PROBE), Some(&cache)).unwrap();
    assert!(!first.cached);
    let second = engine.load(Path::new(guests::PROBE), Some(&cache)).unwrap();
    assert!(second.cached);
    assert_eq!(first.hash, second.hash);

    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"garbage").unwrap();
    let third = engine.load(Path::new(guests::PROBE), Some(&cache)).unwrap();
    assert!(!third.cached, "a damaged entry is not used");
    assert!(engine.load(Path::new(guests::PROBE), Some(&cache)).unwrap().cached, "and is rewritten");
}

#[test]
fn a_different_component_never_loads_another_ones_entry() {
    let fx = Fixture::new();
    let cache = fx.path().join("cache");
    let engine = WaspEngine::global().unwrap();
    engine.load(Path::new(guests::PROBE), Some(&cache)).unwrap();
    let other = engine.load(Path::new(guests::ACCESS_ANYWHERE_FILE), Some(&cache)).unwrap();
    assert!(!other.cached);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);
}
