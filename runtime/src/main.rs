//! The `wasp` binary: parse arguments, run, exit with a documented code.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
