//! The `bindgen!`s: the `handler` world, and the `filter` world (sharing its
//! types and logging). Host interfaces implement the generated `Host`
//! traits in their own files; nothing here is public.

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

pub mod filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasp:handler/filter@0.1.0",
        with: {
            "wasp:handler/types": super::wasp::handler::types,
            "wasp:handler/logging": super::wasp::handler::logging,
        },
    });
}
