//! The layers of `docs/architecture.md`, checked against the code: a
//! module of the library imports (`crate::<module>`) only modules of the
//! layers below its own, so no import runs back up and no circle forms
//! between folders. A new top-level module fails this test until it is
//! given its layer here and in the picture of the docs.

use std::path::Path;

/// Top to bottom, as `docs/architecture.md` draws them.
const LAYERS: &[&[&str]] = &[
    &["fuzzing"],
    &["sidecar"],
    &["fleet", "replay"],
    &["service", "export"],
    &["deploy", "handler_query"],
    &["config"],
    &["delivery"],
    &["builtin", "dead_letter"],
    &["outputs", "engine", "journal"],
    &["query", "integrity", "schema", "event", "quota", "units"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file under `dir`, with its path from `src/`.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
            out.push((path.strip_prefix(&src).unwrap().to_string_lossy().into_owned(), text));
        }
    }
}

/// The modules `text` names as `crate::<module>`, outside comments and
/// unit tests.
fn imports(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() {
                found.push((number + 1, name));
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_the_layers_below_its_own() {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut wrong = Vec::new();
    for (path, text) in &files {
        let module = path.split(['/', '.']).next().unwrap();
        // The binary's own modules, the crate root and test files.
        if matches!(module, "cli" | "main" | "lib" | "layers_tests") || path.ends_with("tests.rs") {
            continue;
        }
        let Some(own) = layer(module) else {
            wrong.push(format!("{path}: module `{module}` has no layer (add it to LAYERS and docs/architecture.md)"));
            continue;
        };
        for (line, target) in imports(text) {
            if target == module {
                continue;
            }
            match layer(&target) {
                Some(theirs) if theirs > own => {}
                Some(_) => wrong.push(format!("{path}:{line}: `{module}` imports `{target}`, which is not below it")),
                None => wrong.push(format!("{path}:{line}: `crate::{target}` is not a layered module")),
            }
        }
    }
    assert!(files.len() > 100, "the sources were not found");
    assert!(wrong.is_empty(), "imports that run back up:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_import_that_runs_back_up() {
    let text = "use crate::service::AuditService;\n// crate::sidecar in a comment\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n";
    assert_eq!(imports(text), vec![(1, "service".to_owned())]);
    assert!(layer("service") < layer("journal"));
}
