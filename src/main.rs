//! stacd: see the library crate; `main` only hands over to the command line.
fn main() -> std::process::ExitCode {
    stacd::app::cli::main()
}
