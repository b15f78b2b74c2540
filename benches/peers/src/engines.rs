//! The audit-handler logic in each engine. Every engine takes the event's
//! JSON text and returns the line
//! `"<id> <topic> <ts> user=<u> action=<a> session=<s>"` after setting
//! `actor.session` to `"***"` in the parsed event and reading `actor.user`
//! and `action` back.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

/// One engine: a name, and a function from event text to output line.
pub trait Engine {
    /// The name printed in the table.
    fn name(&self) -> &'static str;
    /// Handles `events` (JSON texts), appending one line per event to `out`.
    fn run(&mut self, events: &[String], out: &mut Vec<String>);
}

/// The fields the logic reads, borrowed from the text (`Cow`: a string with
/// escapes is unescaped into its own allocation).
#[derive(Deserialize)]
struct Audit<'a> {
    #[serde(rename = "_id", borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    actor: Actor<'a>,
}

#[derive(Deserialize)]
struct Actor<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    session: Cow<'a, str>,
}

/// Native Rust, serde derive into a struct borrowing from the text.
pub struct NativeTyped;

impl Engine for NativeTyped {
    fn name(&self) -> &'static str {
        "native Rust, typed serde (borrowed)"
    }
    fn run(&mut self, events: &[String], out: &mut Vec<String>) {
        for text in events {
            let mut audit: Audit<'_> = serde_json::from_str(text).expect("event fits");
            audit.actor.session = Cow::Borrowed("***");
            let mut line = String::with_capacity(96);
            let (user, action) = (&audit.actor.user, &audit.action);
            write!(line, "{} {} {} user={user} action={action} session={}", audit.id, audit.topic, audit.timestamp, audit.actor.session)
                .expect("write to a String");
            out.push(line);
        }
    }
}

/// Native Rust, `serde_json::Value` tree.
pub struct NativeValue;

impl Engine for NativeValue {
    fn name(&self) -> &'static str {
        "native Rust, serde_json::Value"
    }
    fn run(&mut self, events: &[String], out: &mut Vec<String>) {
        for text in events {
            let mut event: serde_json::Value = serde_json::from_str(text).expect("event is JSON");
            event["actor"]["session"] = "***".into();
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            let (user, action) = (s(&event["actor"]["user"]), s(&event["action"]));
            out.push(format!(
                "{} {} {} user={user} action={action} session={}",
                s(&event["_id"]),
                s(&event["topic"]),
                s(&event["timestamp"]),
                s(&event["actor"]["session"])
            ));
        }
    }
}

/// VRL (Vector's remap language): the program parses the text with
/// `parse_json!`, as a Vector `remap` transform over raw messages does.
pub struct Vrl {
    program: vrl::compiler::Program,
    timezone: vrl::compiler::TimeZone,
}

const VRL_PROGRAM: &str = r#"
e = object!(parse_json!(string!(.)))
e.actor.session = "***"
user = string!(e.actor.user)
action = string!(e.action)
string!(e._id) + " " + string!(e.topic) + " " + string!(e.timestamp) + " user=" + user + " action=" + action + " session=" + string!(e.actor.session)
"#;

impl Vrl {
    /// Compiles the program with VRL's standard library.
    pub fn new() -> Self {
        let functions = vrl::stdlib::all();
        let compiled = vrl::compiler::compile(VRL_PROGRAM, &functions).unwrap_or_else(|e| panic!("VRL program: {e:?}"));
        Vrl { program: compiled.program, timezone: vrl::compiler::TimeZone::default() }
    }
}

impl Engine for Vrl {
    fn name(&self) -> &'static str {
        "VRL 0.38"
    }
    fn run(&mut self, events: &[String], out: &mut Vec<String>) {
        use vrl::compiler::{Context, TargetValue, state::RuntimeState};
        use vrl::value::{Secrets, Value};
        let mut state = RuntimeState::default();
        for text in events {
            let mut target =
                TargetValue { value: Value::from(text.as_str()), metadata: Value::Object(BTreeMap::new()), secrets: Secrets::default() };
            let mut ctx = Context::new(&mut target, &mut state, &self.timezone);
            let result = self.program.resolve(&mut ctx).expect("VRL program runs");
            state.clear();
            match result.as_str() {
                Some(line) => out.push(line.into_owned()),
                None => panic!("VRL returned {result:?}"),
            }
        }
    }
}

/// Lua via mlua (LuaJIT): the text is parsed by serde_json straight into a
/// Lua table (as Fluent Bit hands its Lua filter a table), and a Lua function
/// does the rest.
pub struct Lua {
    lua: mlua::Lua,
    handle: mlua::Function,
}

const LUA_PROGRAM: &str = r#"
return function(e)
  e.actor.session = "***"
  local user, action = e.actor.user, e.action
  return e._id .. " " .. e.topic .. " " .. e.timestamp .. " user=" .. user .. " action=" .. action .. " session=" .. e.actor.session
end
"#;

impl Lua {
    /// Loads the handler function.
    pub fn new() -> Self {
        let lua = mlua::Lua::new();
        let handle: mlua::Function = lua.load(LUA_PROGRAM).eval().expect("Lua program loads");
        Lua { lua, handle }
    }
}

impl Engine for Lua {
    fn name(&self) -> &'static str {
        "LuaJIT (mlua 0.12)"
    }
    fn run(&mut self, events: &[String], out: &mut Vec<String>) {
        use mlua::LuaSerdeExt;
        for text in events {
            let value: serde_json::Value = serde_json::from_str(text).expect("event is JSON");
            let table = self.lua.to_value(&value).expect("event converts to Lua");
            let line: String = self.handle.call(table).expect("Lua handler runs");
            out.push(line);
        }
    }
}

/// Rhai: `Engine::parse_json` into an object map, then a script function.
pub struct Rhai {
    engine: rhai::Engine,
    ast: rhai::AST,
}

const RHAI_PROGRAM: &str = r#"
fn handle(e) {
    e.actor.session = "***";
    let user = e.actor.user;
    let action = e.action;
    `${e["_id"]} ${e.topic} ${e.timestamp} user=${user} action=${action} session=${e.actor.session}`
}
"#;

impl Rhai {
    /// Compiles the script.
    pub fn new() -> Self {
        let engine = rhai::Engine::new();
        let ast = engine.compile(RHAI_PROGRAM).expect("Rhai script compiles");
        Rhai { engine, ast }
    }
}

impl Engine for Rhai {
    fn name(&self) -> &'static str {
        "Rhai 1.27"
    }
    fn run(&mut self, events: &[String], out: &mut Vec<String>) {
        let mut scope = rhai::Scope::new();
        for text in events {
            let map = self.engine.parse_json(text, true).expect("event is JSON");
            let line: String =
                self.engine.call_fn(&mut scope, &self.ast, "handle", (rhai::Dynamic::from_map(map),)).expect("Rhai handler runs");
            out.push(line);
        }
    }
}
