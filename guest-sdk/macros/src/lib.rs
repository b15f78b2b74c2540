//! The export macros behind `wasp_guest::export_handler!` and
//! `wasp_guest::export_filter!`.
//!
//! Why a proc macro: the export bindings must be generated in the author's
//! crate, for exactly one world. Generated in the SDK crate, the type
//! information of both the `handler` and the `filter` world would be linked
//! into every guest and the component would then have to export both. The
//! SDK itself only generates import bindings (the `imports` world); a
//! component imports only what it uses, so those are harmless.
//!
//! A handler is built for world `packed-handler`: it exports
//! `handle-packed` (the host's fast path: the batch in one buffer) and
//! `handle-batch` (for hosts without it), both handing the author's
//! `Handler` the same `Event`s; a filter likewise for `packed-filter`.
//!
//! The WIT is embedded at compile time from this crate's own copy
//! (`world/wasp.wit`, so that the crate can be published), which a test keeps
//! identical to the repository's `wit/` folder: the guest and the host
//! always agree on the contract.

use proc_macro::{Delimiter, Group, Span, TokenStream, TokenTree};

const WIT: &str = include_str!("../world/wasp.wit");

/// See `wasp_guest::export_handler!`.
#[proc_macro]
pub fn export_handler(input: TokenStream) -> TokenStream {
    expand(input, World::Handler)
}

/// See `wasp_guest::export_filter!`.
#[proc_macro]
pub fn export_filter(input: TokenStream) -> TokenStream {
    expand(input, World::Filter)
}

#[derive(Clone, Copy)]
enum World {
    Handler,
    Filter,
}

impl World {
    fn macro_name(self) -> &'static str {
        match self {
            World::Handler => "export_handler",
            World::Filter => "export_filter",
        }
    }

    fn trait_name(self) -> &'static str {
        match self {
            World::Handler => "Handler",
            World::Filter => "Filter",
        }
    }

    /// The generated module: bindings for the world's exports, an adapter
    /// type implementing the generated `Guest` trait, and the export.
    fn module(self) -> String {
        let wit = format!("{WIT:?}");
        let (world, with, guest_impl) = match self {
            World::Handler => (
                "wasp:handler/packed-handler@0.1.0",
                r#"
                "wasp:handler/types@0.1.0": ::wasp_guest::__private::bindings::wasp::handler::types,
                "wasp:handler/logging@0.1.0": ::wasp_guest::__private::bindings::wasp::handler::logging,
                "wasp:handler/output@0.1.0": ::wasp_guest::__private::bindings::wasp::handler::output,
                "wasp:handler/state@0.1.0": ::wasp_guest::__private::bindings::wasp::handler::state,
                "#,
                r#"
                impl Guest for Exports {
                    fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                        ::wasp_guest::__private::handler_init::<super::__WaspExported>(config)
                    }
                    fn handle_batch(
                        events: ::std::vec::Vec<Event>,
                    ) -> ::std::vec::Vec<::std::result::Result<(), ::std::string::String>> {
                        ::wasp_guest::__private::handler_batch::<super::__WaspExported>(events)
                    }
                    fn handle_packed(
                        batch: PackedBatch,
                    ) -> ::std::vec::Vec<::std::result::Result<(), ::std::string::String>> {
                        ::wasp_guest::__private::handler_packed::<super::__WaspExported>(batch)
                    }
                }
                "#,
            ),
            World::Filter => (
                "wasp:handler/packed-filter@0.1.0",
                r#"
                "wasp:handler/types@0.1.0": ::wasp_guest::__private::bindings::wasp::handler::types,
                "wasp:handler/logging@0.1.0": ::wasp_guest::__private::bindings::wasp::handler::logging,
                "#,
                r#"
                impl Guest for Exports {
                    fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                        ::wasp_guest::__private::filter_init::<super::__WaspExported>(config)
                    }
                    fn filter_batch(events: ::std::vec::Vec<Event>) -> ::std::vec::Vec<Verdict> {
                        ::wasp_guest::__private::filter_batch::<super::__WaspExported>(events)
                    }
                    fn filter_packed(batch: PackedBatch) -> ::std::vec::Vec<Verdict> {
                        ::wasp_guest::__private::filter_packed::<super::__WaspExported>(batch)
                    }
                }
                "#,
            ),
        };
        format!(
            r#"
            #[doc(hidden)]
            #[allow(missing_docs, unsafe_code, clippy::all)]
            mod __wasp_export {{
                ::wasp_guest::__private::wit_bindgen::generate!({{
                    inline: {wit},
                    world: "{world}",
                    runtime_path: "::wasp_guest::__private::wit_bindgen::rt",
                    with: {{ {with} }},
                }});
                pub struct Exports;
                {guest_impl}
                export!(Exports);
            }}
            "#
        )
    }
}

fn expand(input: TokenStream, world: World) -> TokenStream {
    let ty: Vec<TokenTree> = input.into_iter().collect();
    if ty.is_empty() {
        return compile_error(
            Span::call_site(),
            &format!("`{}!` needs the type to export, e.g. `{}!(MyHandler);`", world.macro_name(), world.macro_name()),
        );
    }
    let ty: TokenStream = ty.into_iter().collect();

    // `type __WaspExported = <T>;` keeps the author's spans, so a type that
    // does not implement the trait is reported at the macro argument.
    let mut out: TokenStream = "#[doc(hidden)] type __WaspExported = ".parse().expect("static tokens");
    out.extend(ty.clone());
    out.extend(";".parse::<TokenStream>().expect("static tokens"));

    let mut check: TokenStream =
        format!("const fn __wasp_assert<T: ::wasp_guest::{}>() {{}} __wasp_assert::<", world.trait_name()).parse().expect("static tokens");
    check.extend(ty);
    check.extend(">();".parse::<TokenStream>().expect("static tokens"));
    let check = TokenTree::Group(Group::new(Delimiter::Brace, check));
    out.extend("const _: () =".parse::<TokenStream>().expect("static tokens"));
    out.extend(TokenStream::from(check));
    out.extend(";".parse::<TokenStream>().expect("static tokens"));

    out.extend(world.module().parse::<TokenStream>().expect("generated module parses"));
    out
}

fn compile_error(span: Span, message: &str) -> TokenStream {
    let mut tokens: Vec<TokenTree> = "::core::compile_error!".parse::<TokenStream>().expect("static").into_iter().collect();
    let mut group = Group::new(Delimiter::Parenthesis, TokenTree::Literal(proc_macro::Literal::string(message)).into());
    group.set_span(span);
    tokens.push(TokenTree::Group(group));
    tokens.push(";".parse::<TokenStream>().expect("static").into_iter().next().expect("one token"));
    tokens
        .into_iter()
        .map(|mut t| {
            t.set_span(span);
            t
        })
        .collect()
}
