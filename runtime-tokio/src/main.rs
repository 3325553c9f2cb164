//! The `switchboard` binary: see the library crate for everything it does.
//!
//! The allocator is mimalloc: the engine allocates and frees many small,
//! short-lived buffers per message, on a tokio worker thread. glibc's malloc
//! serves such threads from a secondary arena that it grows and shrinks with
//! `mprotect` over and over (a profile of the REGISTER benchmark showed 14 % of
//! the server's CPU in malloc, half of it in `mprotect`); mimalloc's
//! thread-local free lists do not.
//!
//! mimalloc returns freed pages to the system only after a purge delay (1 s by
//! default), and only when the allocator is next called on that path, so after
//! 2,000 WebSocket clients vanished the server's RSS stayed at its high mark
//! (35 → 64 MB, and there it stayed; `bash bench/ws/measure.sh 2000`). With the
//! delay at 0 a freed page is returned at once and the RSS came back to
//! 34.7 MB. [`purge_freed_pages_at_once`] sets that before anything else runs;
//! `MIMALLOC_PURGE_DELAY` in the environment still wins.

#![deny(unsafe_code)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    purge_freed_pages_at_once();
    switchboard::main_with_args()
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (the 16th entry of
/// the enum in `include/mimalloc.h`; libmimalloc-sys 0.1.49 declares no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's purge delay to 0 (see the crate doc), unless the operator
/// set `MIMALLOC_PURGE_DELAY`.
#[allow(unsafe_code)]
fn purge_freed_pages_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set only stores an integer in mimalloc's option
        // table; it is called once, before any other thread exists, with a
        // valid option number from the same library's header.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}
