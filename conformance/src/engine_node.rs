//! The real engine as a scenario [`Node`]: maps a script's `engine`, `config`
//! and `extension` lines to a [`switchboard_core::Config`] and extensions.
//!
//! Recognized `config` keys (all optional): `domain` (default `example.com`),
//! `auth` (`on`/`off`: REGISTER authentication, default on), `call_auth`
//! (`on`/`off`: 407 for calls from our users, default on), `t1`/`t2`/`t4` (in
//! ms), `min_expires`, `max_expires`, `default_expires`, `record_route`
//! (`on`/`off`), `large_over_tcp` (`on`/`off`: RFC 3261 §18.1.1, default off).
//!
//! Routing (issue 4), applied with `Command::ReplaceRouting` after the
//! extensions: `dest=<name>,<gateway>,<port|->,<udp|tcp>,<proxy|ua|extension>[,opt=value…]`
//! with options `cap`, `remove`, `add`, `domain`, `register` (`on`/`off`),
//! `enabled` (`on`/`off`), `user`, `authuser`, `password`, `expires`
//! (registration expiry and ping period, seconds), `ping` (`on`/`off`: OPTIONS
//! health pings), one key per destination;
//! `route=<prefix|Default>,<dest>[,<order>]`, one key per route;
//! `selection` (`hunting`/`loadsharing`); `failover_on_decline` (`on`/`off`).
//!
//! Extension features (issue 4): the `ext_…` keys and extension attributes
//! of [`crate::extfeat_node`].
//! DNS (issue 4): `enum` (`on`/`off`), `enum_suffix`, `process_3xx`
//! (`on`/`off`), and the canned records of [`crate::dns_zone`] (`dns_a`,
//! `dns_srv`, `dns_naptr`, `dns_silent`).
//!
//! An unknown key or a bad value fails the scenario at setup: a misspelt
//! setting must not silently test the defaults.

use crate::node::{Node, ScenarioSetup};
use std::time::{Duration, SystemTime};
use switchboard_core::auth::Ha1Set;
use switchboard_core::registrar::Extension;
use switchboard_core::routing::{
    Destination, DestinationKind, Route, RoutingConfig, Selection, validate_prefix,
};
use switchboard_core::{Command, Config, Engine, Input, Listener, Output, Transport};

impl Node for Engine {
    fn handle_input(&mut self, input: Input) {
        Self::handle_input(self, input);
    }

    fn poll_output(&mut self) -> Output {
        Self::poll_output(self)
    }
}

fn on_off(key: &str, v: &str) -> bool {
    match v {
        "on" | "yes" | "true" => true,
        "off" | "no" | "false" => false,
        _ => panic!("config {key}={v}: expected on or off"),
    }
}

fn number<T: std::str::FromStr>(key: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| panic!("config {key}={v}: expected a number"))
}

/// Builds the engine configuration a scenario describes. Panics (failing the
/// scenario with the key and value) on an unknown key or a bad value.
pub fn engine_config(setup: &ScenarioSetup) -> Config {
    let domain = setup.config("domain").unwrap_or("example.com").to_owned();
    let listeners = setup
        .addrs
        .iter()
        .flat_map(|(addr, ts)| {
            ts.iter().map(move |t| Listener {
                transport: *t,
                addr: *addr,
                advertise: None,
            })
        })
        .collect();
    let mut cfg = Config::new(domain, listeners);
    cfg.rng_seed = setup.seed_bytes();
    // A fixed wall clock keeps Date headers identical on every run.
    cfg.wall_epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600);
    for (k, v) in &setup.config {
        match k.as_str() {
            "domain" | "dest" | "route" | "selection" | "failover_on_decline" => {}
            "dns_a" | "dns_srv" | "dns_naptr" | "dns_silent" => {}
            "enum" => cfg.enum_enabled = on_off(k, v),
            "enum_suffix" => cfg.enum_suffix = v.clone(),
            "process_3xx" => cfg.process_3xx_locally = on_off(k, v),
            "auth" => cfg.register_auth = on_off(k, v),
            "call_auth" => cfg.call_auth = on_off(k, v),
            "record_route" => cfg.record_route = on_off(k, v),
            "large_over_tcp" => cfg.large_requests_over_tcp = on_off(k, v),
            "t1" => cfg.t1 = Duration::from_millis(number(k, v)),
            "t2" => cfg.t2 = Duration::from_millis(number(k, v)),
            "t4" => cfg.t4 = Duration::from_millis(number(k, v)),
            "min_expires" => cfg.min_expires = number(k, v),
            "max_expires" => cfg.max_expires = number(k, v),
            "default_expires" => cfg.default_expires = number(k, v),
            other if crate::extfeat_node::apply_config(&mut cfg, other, v) => {}
            other => panic!("unknown config key {other:?} in scenario {}", setup.name),
        }
    }
    cfg
}

/// A `dest=` value: `name,gateway,port|-,transport,kind[,opt=value…]`.
fn destination(v: &str) -> Destination {
    let bad = |why: &str| -> ! { panic!("config dest={v}: {why}") };
    let mut parts = v.split(',');
    let mut next = |what: &str| parts.next().unwrap_or_else(|| bad(&format!("no {what}")));
    let name = next("name").to_owned();
    let gateway = next("gateway").to_owned();
    let port = match next("port") {
        "-" => None,
        p => Some(number("dest port", p)),
    };
    let transport = match next("transport") {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        _ => bad("transport is udp or tcp"),
    };
    let kind = match next("kind") {
        "proxy" => DestinationKind::Proxy,
        "ua" => DestinationKind::UserAgent,
        "extension" => DestinationKind::Extension,
        _ => bad("kind is proxy, ua or extension"),
    };
    let mut d = Destination {
        port,
        transport,
        kind,
        ..Destination::new(name, gateway)
    };
    for opt in parts {
        match opt.split_once('=') {
            Some(("cap", n)) => d.capacity = Some(number("dest cap", n)),
            Some(("remove", p)) => d.remove_prefix = p.to_owned(),
            Some(("add", p)) => d.add_prefix = p.to_owned(),
            Some(("domain", h)) => d.domain = Some(h.to_owned()),
            Some(("register", b)) => d.register = on_off("dest register", b),
            Some(("enabled", b)) => d.enabled = on_off("dest enabled", b),
            // Issue 4 UA side (uac branch): account, credentials, expiry, pings.
            Some(("user", u)) => d.username = Some(u.to_owned()),
            Some(("authuser", u)) => d.auth_username = Some(u.to_owned()),
            Some(("password", p)) => d.password = Some(p.to_owned()),
            Some(("expires", n)) => d.register_expires = number("dest expires", n),
            Some(("ping", b)) => d.options_ping = on_off("dest ping", b),
            _ => bad(&format!("unknown option {opt:?}")),
        }
    }
    d
}

/// The routing configuration a scenario describes, if it has any routing key.
pub fn routing_config(setup: &ScenarioSetup) -> Option<RoutingConfig> {
    let mut cfg = RoutingConfig::default();
    let mut any = false;
    for (k, v) in &setup.config {
        match k.as_str() {
            "dest" => cfg.destinations.push(destination(v)),
            "route" => {
                let mut p = v.split(',');
                let (Some(prefix), Some(dest)) = (p.next(), p.next()) else {
                    panic!("config route={v}: expected <prefix>,<destination>[,<order>]");
                };
                cfg.routes.push(Route {
                    prefix: validate_prefix(prefix)
                        .unwrap_or_else(|e| panic!("config route={v}: {e}")),
                    destination: dest.to_owned(),
                    order: p.next().map_or(0, |o| number("route order", o)),
                    enabled: true,
                });
            }
            "selection" => {
                cfg.selection = match v.as_str() {
                    "hunting" => Selection::Hunting,
                    "loadsharing" => Selection::LoadSharing,
                    _ => panic!("config selection={v}: expected hunting or loadsharing"),
                }
            }
            "failover_on_decline" => cfg.failover_on_decline = on_off(k, v),
            _ => continue,
        }
        any = true;
    }
    any.then_some(cfg)
}

/// The factory for scenarios that test the real engine.
pub fn engine_factory(setup: &ScenarioSetup) -> Box<dyn Node> {
    let cfg = engine_config(setup);
    let realm = cfg.domain.clone();
    let mut engine =
        Engine::new(cfg, setup.epoch).unwrap_or_else(|e| panic!("scenario engine config: {e}"));
    for x in &setup.extensions {
        let ha1 = Ha1Set::from_password(&x.user, &realm, &x.password);
        let mut ext = Extension::new(x.user.clone(), ha1.md5, ha1.sha256);
        crate::extfeat_node::apply_attributes(&mut ext, &x.extra);
        engine
            .handle_command(setup.epoch, Command::UpsertExtension(ext))
            .unwrap_or_else(|e| panic!("scenario extension {}: {e}", x.user));
    }
    if let Some(routing) = routing_config(setup) {
        engine
            .handle_command(setup.epoch, Command::ReplaceRouting(routing))
            .unwrap_or_else(|e| panic!("scenario routing: {e}"));
    }
    // One wrapper per scenario: canned DNS answers, or a timed terminate command.
    match crate::dns_zone::Zone::from_setup(setup) {
        Some(zone) => {
            assert!(
                setup.config("ext_terminate").is_none(),
                "a scenario cannot combine canned DNS with ext_terminate"
            );
            Box::new(crate::dns_zone::DnsEngine::new(engine, zone, setup.epoch))
        }
        None => crate::extfeat_node::wrap(engine, setup),
    }
}
