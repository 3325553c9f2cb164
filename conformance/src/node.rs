//! The thing under test: any Sans-IO [`Node`] and the [`ScenarioSetup`] it is built from.
//!
//! The harness drives a node exactly as a runtime drives `switchboard_core`
//! (ARCHITECTURE.md §3): feed one [`Input`] stamped with the virtual `now`,
//! then drain [`Node::poll_output`] until it returns [`Output::Timeout`].
//! A test supplies a factory that builds the node from the scenario's setup —
//! a toy node today, the real engine once it exists.

use crate::script::{ExtensionDecl, Script};
use std::net::SocketAddr;
use std::time::Instant;
use switchboard_core::{Input, Output, Transport};

/// A Sans-IO state machine the harness can drive.
pub trait Node {
    /// Feeds one input; the caller drains [`Node::poll_output`] afterwards.
    fn handle_input(&mut self, input: Input);
    /// The next output; the harness calls it until it returns [`Output::Timeout`].
    fn poll_output(&mut self) -> Output;
}

/// What a factory needs to build the node under test for one scenario run.
#[derive(Debug, Clone)]
pub struct ScenarioSetup {
    /// The scenario seed (the engine should seed its RNG from it, e.g. with
    /// [`ScenarioSetup::seed_bytes`]).
    pub seed: u64,
    /// The virtual clock's epoch: virtual time zero. Pass it as the engine's start instant.
    pub epoch: Instant,
    /// The engine's name in the script (`server` by default).
    pub name: String,
    /// The engine's own addresses and the transports it serves on each.
    pub addrs: Vec<(SocketAddr, Vec<Transport>)>,
    /// `config key=value` lines, in order.
    pub config: Vec<(String, String)>,
    /// `extension <user> password=<pw> ...` lines, in order.
    pub extensions: Vec<ExtensionDecl>,
}

impl ScenarioSetup {
    /// The setup a script describes, with `epoch` as time zero.
    pub fn from_script(script: &Script, epoch: Instant) -> Self {
        Self {
            seed: script.seed,
            epoch,
            name: script.engine.clone(),
            addrs: script.engine_addrs.clone(),
            config: script.config.clone(),
            extensions: script.extensions.clone(),
        }
    }

    /// The last value of `config key=...`, if any.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A 32-byte RNG seed derived from [`ScenarioSetup::seed`] (for `Rng::from_seed`).
    pub fn seed_bytes(&self) -> [u8; 32] {
        let mut g = crate::prng::SplitMix64::derive(self.seed, 3);
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&g.next_u64().to_le_bytes());
        }
        out
    }
}

/// Builds the node under test for one run.
pub type Factory<'a> = &'a dyn Fn(&ScenarioSetup) -> Box<dyn Node>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lookup_takes_the_last_value_and_seed_bytes_are_stable() {
        let script = Script::parse(
            "t.scn",
            "seed 9\nengine sb 192.0.2.1:5060 udp\nconfig a=1 b=2\nconfig a=3\n",
        )
        .expect("valid");
        let s = ScenarioSetup::from_script(&script, crate::sim::epoch());
        assert_eq!(s.config("a"), Some("3"));
        assert_eq!(s.config("c"), None);
        assert_eq!(s.name, "sb");
        assert_eq!(s.seed_bytes(), s.clone().seed_bytes());
        let mut other = s.clone();
        other.seed = 10;
        assert_ne!(s.seed_bytes(), other.seed_bytes());
    }
}
