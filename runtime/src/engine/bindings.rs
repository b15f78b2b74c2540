//! The one `bindgen!` of the `handler` world. Host interfaces implement the
//! generated `Host` traits in their own files; nothing here is public.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "wasp:handler/handler@0.1.0",
    // Going over a budget traps the call (the fault names the budget).
    imports: {
        "wasp:handler/output.emit": trappable,
        "wasp:handler/logging.log": trappable,
        "wasp:handler/state.set": trappable,
    },
});
