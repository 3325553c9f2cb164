//! # switchboard-core: the Sans-IO SIP engine
//!
//! All of Switchboard's protocol logic lives in this crate, and this crate does
//! no I/O: it never opens a socket, reads a clock, draws ambient randomness,
//! spawns, blocks or awaits. It takes *inputs* (bytes that arrived, a deadline
//! that passed, a command) and produces *outputs* (bytes to send, events, the
//! next deadline). Runtimes (`runtime-tokio`, `runtime-smol`) and the
//! deterministic `conformance` harness drive it the same way.
//!
//! ## The run loop
//!
//! ```text
//! loop {
//!     match engine.poll_output() {          // drain until Timeout
//!         Output::Transmit(t)  => send t.data to t's destination,
//!         Output::Connect{..}  => open a stream, report it back with an Input,
//!         Output::Close(c)     => close that connection,
//!         Output::Event(e)     => log, count, publish,
//!         Output::Timeout(at)  => wait for the next input or `at`, whichever is first,
//!     }
//!     engine.handle_input(one input stamped with the runtime's `now`);
//! }
//! ```
//!
//! After every mutation (`handle_input`) the caller drains `poll_output` until it
//! returns `Output::Timeout`, and only then waits. Time arrives with every input
//! as an `Instant`; wall-clock time (for `Date`) is derived from the epoch given
//! at construction. Randomness comes from one seeded CSPRNG ([`rng::Rng`]).
//!
//! ## Panics
//!
//! Bad input never panics and never returns an error to the runtime: a
//! malformed message becomes the response RFC 3261 asks for, or a counted drop.
//! A panic means a broken invariant; every `expect` says why it cannot fail.

#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod connections;
pub mod counters;
pub mod dialog;
pub mod dns;
pub mod engine;
pub mod event;
pub mod identity;
pub mod io;
pub mod proxy;
pub mod registrar;
pub mod rng;
pub mod routing;
pub mod sip;
pub mod transaction;
pub mod transport;
pub mod uac;
pub mod wallclock;

pub use config::{Config, ConfigError, Listener};
pub use engine::{Command, Engine};
pub use event::Event;
pub use io::{Input, Output, TlsPeer, Transmit};
pub use transport::{ConnId, Flow, Transport};

/// The one sanctioned clock read in the core: a base `Instant` for unit tests.
#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need some Instant to offset from; the value never matters
pub(crate) fn test_epoch() -> std::time::Instant {
    std::time::Instant::now()
}
