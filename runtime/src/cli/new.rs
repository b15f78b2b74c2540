//! `wasp new NAME --lang rust|python|js`: scaffolds a handler project that
//! builds and passes its own test out of the box (`bash test.sh`: build the
//! component, run it with `wasp pipe` on `events.ndjson`, compare with
//! `expected.log`). For Python and JavaScript the WIT and the SDK are copied
//! into the project (embedded in this binary); a Rust project depends on the
//! published `wasp-guest` crate of this version, or the one at `--sdk PATH`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

const WIT: &str = include_str!("../../../wit/wasp.wit");
const PY_SDK: &str = include_str!("../../../guest-sdk-py/wasp_guest/__init__.py");
const JS_SDK: &str = include_str!("../../../guest-sdk-js/wasp-guest.js");
const RUST_LIB: &str = include_str!("new/rust_lib.rs.txt");
const PY_APP: &str = include_str!("new/app.py.txt");
const JS_APP: &str = include_str!("new/app.js.txt");
/// Pinned guest tool versions (as `scripts/build-guests.sh`).
const COMPONENTIZE_PY: &str = "0.25.1";
const COMPONENTIZE_JS: &str = "0.23.0";

/// The handler's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Lang {
    /// Rust, with the `wasp-guest` crate (target wasm32-wasip2).
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-js.
    Js,
}

const EVENTS: &str = r#"{"topic":"authentication","_id":"e1","timestamp":"2026-11-22T04:45:10Z","transactionId":"tx-1","eventName":"AM-LOGIN-COMPLETED","userId":"bjensen","result":"SUCCESSFUL"}
{"topic":"access","_id":"e2","timestamp":"2026-11-22T04:46:00Z","transactionId":"tx-2","eventName":"AM-ACCESS-OUTCOME","client":{"ip":"203.0.113.7"}}
"#;

const EXPECTED: &str = r#"{"event":"AM-LOGIN-COMPLETED","topic":"authentication","user":"bjensen"}
{"event":"AM-ACCESS-OUTCOME","topic":"access","user":null}
"#;

/// The `wasp-guest` dependency of a Rust scaffold: the published crate of
/// this build's version, or the crate at `--sdk PATH` (local work on the
/// SDK itself, or a checkout of this repository).
fn sdk_dependency(sdk: Option<&Path>) -> anyhow::Result<String> {
    match sdk {
        None => Ok(format!("wasp-guest = \"{}\"", env!("CARGO_PKG_VERSION"))),
        Some(sdk) => {
            let sdk = sdk.canonicalize().with_context(|| format!("--sdk {}: the wasp-guest crate's directory", sdk.display()))?;
            anyhow::ensure!(sdk.join("Cargo.toml").exists(), "--sdk {}: no Cargo.toml there (give the guest-sdk directory)", sdk.display());
            Ok(format!("wasp-guest = {{ path = {:?} }}", sdk.display().to_string()))
        }
    }
}

pub(super) fn run(name: &str, lang: Lang, dir: Option<&Path>, sdk: Option<&Path>) -> anyhow::Result<ExitCode> {
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !valid {
        bail!(
            "NAME `{name}`: use lowercase letters, digits, `-` and `_`, starting with a letter (it names the crate, the component and the handler)"
        );
    }
    let root = dir.map_or_else(|| PathBuf::from(name), Path::to_owned);
    if root.exists() && std::fs::read_dir(&root).with_context(|| root.display().to_string())?.next().is_some() {
        bail!("{} exists and is not empty: choose another --dir", root.display());
    }
    let write = |relative: &str, text: &str| -> anyhow::Result<()> {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::write(&path, text.replace("{{NAME}}", name)).with_context(|| path.display().to_string())
    };
    if lang != Lang::Rust {
        // (A Rust project gets the WIT from the wasp-guest crate; a second
        // copy beside it would be read twice.)
        write("wit/wasp.wit", WIT)?;
    }
    write("events.ndjson", EVENTS)?;
    write("expected.log", EXPECTED)?;
    write(
        "audit.json",
        &serde_json::to_string_pretty(&serde_json::json!({
            "eventHandlers": [{"class": "wasm", "config": {
                "name": name, "topics": ["access", "authentication"], "component": format!("{name}.wasm"),
                "outputs": {"out.log": {"type": "file", "path": "out.log"}}
            }}],
            "wasp": {"dataDirectory": "wasp-data", "journal": {"durability": "memory"}}
        }))?,
    )?;
    write(".gitignore", "/target/\n/wasp-data/\n/node_modules/\n__pycache__/\n*.wasm\n")?;
    let build = match lang {
        Lang::Rust => {
            let dependency = sdk_dependency(sdk)?;
            write(
                "Cargo.toml",
                &format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
                     [dependencies]\n{dependency}\n\n# Fast (JSON parsing inlines); a panic is a trap the host isolates.\n[profile.release]\n\
                     opt-level = 3\nlto = true\ncodegen-units = 1\npanic = \"abort\"\nstrip = \"debuginfo\"\n\n# Not part of an enclosing workspace.\n[workspace]\n",
                ),
            )?;
            write("src/lib.rs", RUST_LIB)?;
            format!(
                "rustup target add wasm32-wasip2 >/dev/null 2>&1 || true\ncargo build --release --target wasm32-wasip2\n\
                 cp \"${{CARGO_TARGET_DIR:-target}}/wasm32-wasip2/release/{}.wasm\" {name}.wasm\n",
                name.replace('-', "_")
            )
        }
        Lang::Python => {
            write("app.py", PY_APP)?;
            write("wasp_guest/__init__.py", PY_SDK)?;
            write("requirements.txt", &format!("componentize-py=={COMPONENTIZE_PY}\n"))?;
            format!(
                "# componentize-py {COMPONENTIZE_PY}: COMPONENTIZE_PY, else one on PATH, else a venv in .venv\n\
                 if [ -z \"${{COMPONENTIZE_PY:-}}\" ]; then\n    if command -v componentize-py >/dev/null; then COMPONENTIZE_PY=componentize-py; else\n        \
                 [ -x .venv/bin/componentize-py ] || {{ python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt; }}\n        \
                 COMPONENTIZE_PY=.venv/bin/componentize-py\n    fi\nfi\n\
                 \"$COMPONENTIZE_PY\" -d wit -w handler componentize app -p . -o {name}.wasm\n"
            )
        }
        Lang::Js => {
            write("app.js", JS_APP)?;
            write("wasp-guest.js", JS_SDK)?;
            write(
                "package.json",
                &serde_json::to_string_pretty(&serde_json::json!({
                    "name": name, "version": "0.1.0", "private": true, "type": "module",
                    "devDependencies": {"@bytecodealliance/componentize-js": COMPONENTIZE_JS}
                }))?,
            )?;
            format!(
                "# componentize-js {COMPONENTIZE_JS}: COMPONENTIZE_JS (its cli.js), else node_modules (npm install)\n\
                 if [ -z \"${{COMPONENTIZE_JS:-}}\" ]; then\n    \
                 [ -f node_modules/@bytecodealliance/componentize-js/src/cli.js ] || npm install --no-audit --no-fund --loglevel=error\n    \
                 COMPONENTIZE_JS=node_modules/@bytecodealliance/componentize-js/src/cli.js\nfi\n\
                 # Without wasi:http: the host links no network.\n\
                 node \"$COMPONENTIZE_JS\" app.js --wit wit --world-name handler -d http fetch-event -o {name}.wasm\n"
            )
        }
    };
    write("build.sh", &format!("#!/usr/bin/env bash\n# Builds {name}.wasm.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n{build}"))?;
    write(
        "test.sh",
        &format!(
            "#!/usr/bin/env bash\n# Builds the component and runs it with `wasp pipe` on events.ndjson; the\n# output must equal expected.log. \
             WASP names the wasp binary (default: on PATH).\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\nbash build.sh\nrm -rf wasp-data\n\
             \"${{WASP:-wasp}}\" pipe --config audit.json --input events.ndjson\ndiff -u expected.log wasp-data/{name}/out.log\necho \"PASS: {name}\"\n"
        ),
    )?;
    write(
        "README.md",
        &format!(
            "# {name}\n\nA WASP audit handler ({lang:?}), scaffolded by `wasp new`. For every event it emits one JSON line with the event's \
             name, topic and user to its `out.log` output.\n\n- `bash build.sh` builds `{name}.wasm`;\n- `bash test.sh` builds it, runs it with \
             `wasp pipe --config audit.json --input events.ndjson` and compares the output with `expected.log`;\n- `wasp check {name}.wasm` \
             says which world it implements.\n\nThe guide to writing handlers is `docs/handlers.md` in the WASP repository.\n"
        ),
    )?;
    for script in ["build.sh", "test.sh"] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(root.join(script), std::fs::Permissions::from_mode(0o755))?;
    }
    eprintln!("wasp new: {} ({lang:?}) created; `bash {}/test.sh` builds and tests it", root.display(), root.display());
    Ok(ExitCode::SUCCESS)
}
