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
//! default), and only when some thread next goes through its collection path,
//! so after 2,000 WebSocket clients vanished the server's RSS stayed at its
//! high mark (35 → 64 MB, for good; `bash bench/ws/measure.sh 2000`). A small
//! thread ([`return_freed_memory_periodically`]) calls `mi_collect` every
//! second: the RSS then comes back to its baseline (35.5 MB) within seconds.
//! A purge delay of 0 did the same but cost 7–12 % more CPU per proxied call
//! (pages handed back and faulted in again on every burst); the collector
//! thread costs nothing measurable (BENCHMARKS §7).

#![deny(unsafe_code)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    return_freed_memory_periodically();
    switchboard::main_with_args()
}

/// How often freed memory is handed back to the system.
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts a thread that asks mimalloc every [`COLLECT_EVERY`] to return the
/// pages whose purge delay has passed (see the crate doc).
#[allow(unsafe_code)]
fn return_freed_memory_periodically() {
    let _ = std::thread::Builder::new()
        .name("mem-collect".into())
        .spawn(|| {
            // mi_collect works on the calling thread's heap and returns at
            // once from a thread that never allocated: allocate once first.
            drop(std::hint::black_box(vec![0u8; 64]));
            loop {
                std::thread::sleep(COLLECT_EVERY);
                // SAFETY: mi_collect takes no pointers; it may be called from
                // any thread at any time (it only frees memory mimalloc owns
                // and no one uses).
                unsafe { libmimalloc_sys::mi_collect(false) };
            }
        });
}
