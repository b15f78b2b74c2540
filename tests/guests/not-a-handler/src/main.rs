//! Test guest: a plain WASI command (exports `wasi:cli/run`, not a WASP
//! world). `wasp check` must say why it does not fit.

fn main() {
    println!("I am a command, not an audit handler");
}
