//! `wasp check`: which WASP world a component implements, what it imports,
//! or exactly why it does not fit.

use std::path::Path;

use serde::Serialize;

use super::{EngineError, WaspEngine};

use super::bindings::WIT_VERSION;
use super::bindings::filter as filter_bindings;
use super::bindings::packed_export;
use super::bindings::wasp::handler::types::Verdict;

/// What `wasp check` found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    /// The world implemented (`wasp:handler/handler@0.1.0`, or
    /// `packed-handler`, `filter`, `packed-filter`), when one fits.
    pub world: Option<String>,
    /// Everything the component imports.
    pub imports: Vec<String>,
    /// Everything it exports.
    pub exports: Vec<String>,
    /// Why it does not fit (empty when it does).
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether the component implements a handler world (`handler` or
    /// `packed-handler`) of this host's WIT version.
    pub fn is_handler(&self) -> bool {
        let version = format!("@{WIT_VERSION}");
        matches!(
            self.world.as_deref().and_then(|w| w.strip_suffix(version.as_str())),
            Some("wasp:handler/handler" | "wasp:handler/packed-handler")
        )
    }

    /// Whether the component can run as a WASP handler or filter.
    pub fn fits(&self) -> bool {
        self.world.is_some() && self.problems.is_empty()
    }
}

/// Checks a component file. `Err` when it cannot be read or compiled at all.
pub fn check(engine: &WaspEngine, path: &Path) -> Result<CheckReport, EngineError> {
    let loaded = engine.load(path, None)?;
    let ty = loaded.component.component_type();
    let imports: Vec<String> = ty.imports(engine.engine()).map(|(name, _)| name.to_owned()).collect();
    let exports: Vec<String> = ty.exports(engine.engine()).map(|(name, _)| name.to_owned()).collect();
    let exported = |name: &str| exports.iter().any(|e| e == name);
    let mut problems = Vec::new();

    for import in imports.iter().filter(|i| i.starts_with("wasp:handler/")) {
        if let Some(version) = import.rsplit_once('@').map(|(_, v)| v)
            && version != WIT_VERSION
        {
            problems.push(format!("imports `{import}`: built against wasp:handler@{version}, this host implements @{WIT_VERSION}"));
        }
    }

    let world = if exported("handle-batch") {
        Some(if exported("handle-packed") { "packed-handler" } else { "handler" })
    } else if exported("filter-batch") {
        Some(if exported("filter-packed") { "packed-filter" } else { "filter" })
    } else {
        problems.push(format!(
            "exports no WASP world: a handler exports `init` and `handle-batch` (world wasp:handler/handler@{WIT_VERSION}), \
             a filter `init` and `filter-batch` (world wasp:handler/filter@{WIT_VERSION}); this component exports {}",
            if exports.is_empty() { "nothing".to_owned() } else { exports.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ") }
        ));
        None
    };

    if let Some(world) = world {
        match engine.linker.instantiate_pre(&loaded.component) {
            Err(e) => problems.push(explain_link_error(&format!("{e:#}"))),
            Ok(pre) => {
                let packed = match world {
                    "packed-handler" => packed_export::<_, (Vec<Result<(), String>>,)>(&pre, "handle-packed", world),
                    "packed-filter" => packed_export::<_, (Vec<Verdict>,)>(&pre, "filter-packed", world),
                    _ => Ok(None),
                };
                problems.extend(packed.err());
                let typed = match world {
                    "handler" | "packed-handler" => super::bindings::HandlerPre::new(pre).map(drop),
                    _ => filter_bindings::FilterPre::new(pre).map(drop),
                };
                if let Err(e) = typed {
                    problems.push(format!("does not match world wasp:handler/{world}@{WIT_VERSION}: {e:#}"));
                }
            }
        }
    }
    Ok(CheckReport { world: world.map(|w| format!("wasp:handler/{w}@{WIT_VERSION}")), imports, exports, problems })
}

fn explain_link_error(message: &str) -> String {
    // wasmtime: "component imports instance `wasi:http/types@0.2.0`, but a
    // matching implementation was not found in the linker"
    match message.split('`').nth(1) {
        Some(import) if message.contains("not found in the linker") => format!(
            "imports `{import}`, which the WASP sandbox does not provide (handlers get WASI without files, network \
             or environment, and the wasp:handler host interfaces)"
        ),
        _ => format!("its imports do not fit the sandbox: {message}"),
    }
}
