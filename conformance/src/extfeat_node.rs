//! Scenario support for the extension features of issue 4: the `ext_…`
//! config keys, the per-extension attributes, and a node wrapper that runs
//! `Command::TerminateSession` at a set virtual time.
//!
//! Config keys: `ext_voicemail=<ip:port>` (the voicemail server),
//! `ext_max_ring_s=<s>`, `ext_max_session_s=<s>`, `ext_session_idle_s=<s>`
//! (0: off), `ext_pickup_prefix=<p>`,
//! `ext_terminate=<seconds>,<Call-ID>` (the operator ends that call at that
//! virtual time; the Call-ID is written literally in the script).
//! Extension attributes: `redirect=<ext|voicemail>`, `allow_external=on|off`,
//! `external_route=<destination>`.

use crate::node::{Node, ScenarioSetup};
use std::time::{Duration, Instant};
use switchboard_core::registrar::{Extension, Redirect};
use switchboard_core::{Command, Config, Engine, Input, Output};

fn on_off(key: &str, v: &str) -> bool {
    match v {
        "on" | "yes" | "true" => true,
        "off" | "no" | "false" => false,
        _ => panic!("{key}={v}: expected on or off"),
    }
}

fn secs(key: &str, v: &str) -> Duration {
    Duration::from_secs(
        v.parse()
            .unwrap_or_else(|_| panic!("config {key}={v}: expected seconds")),
    )
}

/// Applies an `ext_…` config key; false if `k` is not one.
pub fn apply_config(cfg: &mut Config, k: &str, v: &str) -> bool {
    match k {
        "ext_voicemail" => {
            cfg.voicemail_server = Some(
                v.parse()
                    .unwrap_or_else(|_| panic!("config {k}={v}: expected ip:port")),
            );
        }
        "ext_max_ring_s" => cfg.max_ring_duration = Some(secs(k, v)),
        "ext_max_session_s" => cfg.max_session_duration = Some(secs(k, v)),
        "ext_session_idle_s" => {
            cfg.session_idle_timeout = (v != "0").then(|| secs(k, v));
        }
        "ext_pickup_prefix" => cfg.pickup_prefix = v.to_owned(),
        "ext_terminate" => {}
        _ => return false,
    }
    true
}

/// Applies an extension line's attributes (`display` and unknown ones are left alone).
pub fn apply_attributes(ext: &mut Extension, extra: &[(String, String)]) {
    for (k, v) in extra {
        match k.as_str() {
            "redirect" => {
                ext.redirect = Some(
                    Redirect::parse(v).unwrap_or_else(|e| panic!("extension redirect={v}: {e}")),
                );
            }
            "allow_external" => ext.allow_external = on_off(k, v),
            "external_route" => ext.external_route = Some(v.clone()),
            _ => {}
        }
    }
}

/// The engine, plus a terminate command at a set time.
pub struct Terminating {
    engine: Engine,
    at: Instant,
    call_id: String,
    done: bool,
}

/// Wraps `engine` when the scenario has `ext_terminate`.
pub fn wrap(engine: Engine, setup: &ScenarioSetup) -> Box<dyn Node> {
    let Some(v) = setup.config("ext_terminate") else {
        return Box::new(engine);
    };
    let (s, cid) = v
        .split_once(',')
        .unwrap_or_else(|| panic!("config ext_terminate={v}: expected <seconds>,<Call-ID>"));
    Box::new(Terminating {
        engine,
        at: setup.epoch + secs("ext_terminate", s),
        call_id: cid.to_owned(),
        done: false,
    })
}

impl Node for Terminating {
    fn handle_input(&mut self, input: Input) {
        let now = input.now();
        self.engine.handle_input(input);
        if !self.done && now >= self.at {
            self.done = true;
            let r = self.engine.handle_command(
                now,
                Command::TerminateSession {
                    call_id: self.call_id.clone(),
                },
            );
            assert!(r.is_ok(), "TerminateSession {}: {r:?}", self.call_id);
        }
    }

    fn poll_output(&mut self) -> Output {
        match self.engine.poll_output() {
            Output::Timeout(t) if !self.done => Output::Timeout(t.min(self.at)),
            o => o,
        }
    }
}
