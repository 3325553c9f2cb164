//! The `switchboard` binary: see the library crate for everything it does.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    switchboard::main_with_args()
}
