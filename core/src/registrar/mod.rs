//! The registrar (RFC 3261 §10): the extension directory, the location service
//! (bindings) and REGISTER processing with digest authentication.
//!
//! The proxy reads the same directory and bindings for location lookups and
//! uses the same [`Authenticator`] for 407 challenges, so one nonce secret and
//! one nonce-count table serve both.

pub mod bindings;
pub mod directory;
pub mod register;

pub use bindings::{Binding, BindingId, Bindings, NewBinding, Upsert};
pub use directory::{BadExtension, Directory, Extension, Redirect};

use crate::auth::Authenticator;
use crate::config::Config;
use crate::event::{Event, UnbindReason};
use crate::identity::Identity;
use crate::rng::{Rng, SeededState};
use crate::transport::ConnId;
use crate::wallclock::WallClock;
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::Instant;

/// The response the registrar wants sent for a REGISTER.
#[derive(Debug, Clone)]
pub struct RegisterReply {
    /// Its status code.
    pub status: u16,
    /// The whole response.
    pub response: Bytes,
}

/// Registrar state.
#[derive(Debug)]
pub struct Registrar {
    /// Who we are.
    pub identity: Identity,
    /// Provisioned extensions.
    pub directory: Directory,
    /// Current bindings.
    pub bindings: Bindings,
    /// Digest authentication (shared with the proxy).
    pub auth: Authenticator,
    register_auth: bool,
    default_expires: u32,
    min_expires: u32,
    max_expires: u32,
    server_name: String,
    clock: WallClock,
    tag_keys: SeededState,
    /// Where the REGISTER being handled came from (stamped into response Vias).
    src: Option<std::net::SocketAddr>,
    events: VecDeque<Event>,
    /// Successful REGISTERs so far.
    pub accepted: u64,
    /// Failed authentications so far (REGISTER and proxy).
    pub auth_failures: u64,
}

impl Registrar {
    /// A registrar for `cfg`, started at `start`.
    pub fn new(cfg: &Config, start: Instant, rng: &mut Rng) -> Self {
        let secret = rng.derive_seed();
        Self {
            identity: Identity::new(cfg),
            directory: Directory::new(),
            bindings: Bindings::new(),
            auth: Authenticator::new(cfg.domain.clone(), secret, start, cfg.nonce_lifetime)
                .offer(&cfg.digest_algorithms),
            register_auth: cfg.register_auth,
            default_expires: cfg.default_expires,
            min_expires: cfg.min_expires,
            max_expires: cfg.max_expires,
            server_name: cfg.server_name.clone(),
            clock: WallClock::new(start, cfg.wall_epoch),
            tag_keys: rng.hasher(),
            src: None,
            events: VecDeque::new(),
            accepted: 0,
            auth_failures: 0,
        }
    }

    /// The earliest binding expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings.poll_timeout()
    }

    /// Removes expired bindings.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((aor, b)) = self.bindings.pop_expired(now) {
            self.events.push_back(Event::Unregistered {
                aor: aor.into(),
                contact: b.contact.into(),
                reason: UnbindReason::Expired,
            });
        }
    }

    /// A connection closed: bindings that can only be reached through it go
    /// (WebSocket clients and RFC 5626 outbound flows, whose contacts are not
    /// routable on their own); the others stay, detached from it, and are
    /// reached at their Contact address from now on.
    pub fn connection_closed(&mut self, conn: ConnId) {
        let gone = self.bindings.remove_conn_where(conn, |b| {
            matches!(
                b.flow.transport,
                crate::Transport::Ws | crate::Transport::Wss
            ) || b.reg_id.is_some()
                || b.contact.contains(".invalid")
        });
        for (aor, b) in gone {
            self.events.push_back(Event::Unregistered {
                aor: aor.into(),
                contact: b.contact.into(),
                reason: UnbindReason::ConnectionClosed,
            });
        }
        self.bindings.detach_conn(conn);
    }

    /// Clears the bindings of one AOR (`user@domain`, or just `user`); returns how many.
    pub fn clear(&mut self, aor: &str) -> usize {
        let aor = if aor.contains('@') {
            aor.to_owned()
        } else {
            format!("{aor}@{}", self.identity.domain())
        };
        let gone = self.bindings.remove_aor(&aor);
        for b in &gone {
            self.events.push_back(Event::Unregistered {
                aor: aor.clone(),
                contact: b.contact.to_string(),
                reason: UnbindReason::Cleared,
            });
        }
        gone.len()
    }

    /// Clears every binding; returns how many.
    pub fn clear_all(&mut self) -> usize {
        let gone = self.bindings.clear();
        let n = gone.len();
        for (aor, b) in gone {
            self.events.push_back(Event::Unregistered {
                aor: aor.into(),
                contact: b.contact.into(),
                reason: UnbindReason::Cleared,
            });
        }
        n
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
