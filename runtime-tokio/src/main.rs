//! The `switchboard` binary: see the library crate for everything it does.
//!
//! The allocator is mimalloc: the engine allocates and frees many small,
//! short-lived buffers per message, on a tokio worker thread. glibc's malloc
//! serves such threads from a secondary arena that it grows and shrinks with
//! `mprotect` over and over (a profile of the REGISTER benchmark showed 14 % of
//! the server's CPU in malloc, half of it in `mprotect`); mimalloc's
//! thread-local free lists do not.

#![forbid(unsafe_code)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchboard::main_with_args()
}
