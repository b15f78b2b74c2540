//! The one `bindgen!` of the `handler` world. Host interfaces implement the
//! generated `Host` traits in their own files; nothing here is public.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "wasp:handler/handler@0.1.0",
});
