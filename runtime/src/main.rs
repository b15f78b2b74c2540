//! The `wasp` binary: parse arguments, run, exit with a documented code.

fn main() -> std::process::ExitCode {
    wasp::cli::main()
}
