//! # switchboard-conformance: deterministic SIP scenario replay
//!
//! Drives a Sans-IO SIP node (the [`Node`] trait: `switchboard_core`'s engine,
//! or a toy in tests) on a **virtual clock** and a **virtual network**, from
//! readable **scenario scripts**, and records a **transcript** of every output
//! and delivery. Each scenario runs twice with one seed and the transcripts
//! must be byte-identical; the transcript must also equal the checked-in
//! golden file (`UPDATE_GOLDEN=1` rewrites it). Seed sweeps run a flow under
//! many seeds with loss and check an invariant instead (ARCHITECTURE.md §7,
//! design/sans-io-notes.md §5.4).
//!
//! No tokio, no sockets: the only clock read is the epoch ([`sim::epoch`]),
//! and all randomness comes from a [`prng::SplitMix64`] seeded from the script.
//!
//! ## Plugging in a node
//!
//! ```text
//! let factory = |setup: &ScenarioSetup| -> Box<dyn Node> { Box::new(MyEngine::new(setup)) };
//! runner::check_scenario_file(path, &factory, &runner::Options::default())?;
//! ```
//!
//! ## Script format (`conformance/scenarios/*.scn`)
//!
//! `#` starts a comment (at line start, or after whitespace). Declarations:
//!
//! ```text
//! seed 42                                   # scenario seed (PRNGs of the net, the script, the engine)
//! steps 100000                              # livelock bound (default 100,000)
//! engine server 192.0.2.1:5060 udp tcp      # the node under test: name, address, transports;
//! engine server [2001:db8::1]:5060 udp      #   repeat for more addresses
//! config domain=example.com                 # handed to the factory as key=value pairs
//! extension 101 password=secret             # handed to the factory
//! host alice 192.0.2.101:5060 udp           # a scripted UA: name, address, transports it listens on
//! host bob [2001:db8::2]:5060 tcp
//! ```
//!
//! Steps, run in order on the virtual clock:
//!
//! ```text
//! net loss=0 delay=5ms                      # global impairments; or `net alice loss=0.3 delay=1ms..20ms`
//!                                           #   keys: loss, delay, dup, reorder (UDP), split (TCP)
//! send alice udp [to <engine addr>]         # a message from alice to the engine; the `|` lines below:
//! | OPTIONS sip:example.com SIP/2.0         #   joined with CRLF; `|` alone separates the body;
//! | Via: SIP/2.0/UDP ${addr:alice};branch=${branch:b1}
//! | Content-Length: auto                    #   `auto` is the body length; ${...}: see [`vars`]
//! expect alice response 200 OPTIONS [over udp|tcp] [within 5s]
//! | Via ~ ${branch:b1}                      # matchers: `~` contains, `=` equals, `!` absent,
//! | Record-Route !                          #   bare name: present; `body ~ text` for the body
//! | Contact !~ 192.0.2.9                    #   `!~` none contains; `count 2`: exactly 2 lines
//! | Via[1] ~ ${branch:b1}                   #   `Name[n]`: only the n-th line (1-based; Via[1] = top)
//! | headers !~ 192.0.2.101                  #   `headers`: every header line, as `Name: value`
//! expect alice request INVITE [sip:bob@x]   # a request (optional exact Request-URI)
//! expect alice response 2xx                 # status classes work too
//! expect event Registered aor=101@example.com [within 1s]  # by the event's Debug text
//! expect nothing [alice] 40s                # no message to anyone (or alice) for 40 s
//! save alice nonce = header WWW-Authenticate param nonce   # or: header <H> | status | uri | body
//! advance 1s                                # let time pass (messages queue at the hosts)
//! lose next alice->server 2                 # drop the next 2 UDP datagrams on that path
//! connect bob [to <addr>]                   # bob opens TCP to the engine (`send bob tcp` does it too)
//! close bob                                 # bob closes its connection(s)
//! ```
//!
//! `expect <host>` consumes the next message delivered to that host —
//! retransmissions included, so ladders are visible — and fails with what
//! arrived instead. At the end, any delivered message no `expect` consumed is
//! a failure. Events need not be consumed; `expect event` skips older ones.
//! The default `within` is 40 s.
//!
//! ## Modules
//!
//! [`prng`] (SplitMix64) · [`msg`] (a forgiving SIP view for assertions) ·
//! [`net`] (virtual network) · [`sim`] (virtual clock and loop) · [`node`]
//! (the trait and setup) · [`script`] (parser) · [`vars`] (`${...}`) ·
//! [`digest`] (RFC 7616 client) · [`probe`] (the engine driven directly, for
//! corpus and property tests) · [`transcript`] (format, golden files) ·
//! [`runner`] (runs scripts) · [`sweep`] (seed sweeps).

#![forbid(unsafe_code)]

pub mod digest;
pub mod dns_zone;
pub mod engine_node;
pub mod extfeat_node;
pub mod msg;
pub mod net;
pub mod node;
pub mod prng;
pub mod probe;
pub mod runner;
pub mod script;
pub mod sim;
pub mod sweep;
#[cfg(test)]
mod testnode;
pub mod transcript;
pub mod vars;

pub use engine_node::{engine_config, engine_factory};
pub use node::{Factory, Node, ScenarioSetup};
pub use runner::{Options, Outcome, check_scenario_file, run};
pub use script::{Script, ScriptError};
pub use sim::Sim;
pub use sweep::{sweep, sweep_scenario};
