//! Validation of a routing configuration, with messages that name the
//! offending destination or route and say why (TekSIP's documented refusals,
//! or clearer ones): a route to a missing or disabled destination, a prefix
//! that is not digits, a destination name outside `[A-Za-z0-9-._]`, a
//! password containing `;`, a gateway that is empty.
//!
//! Checks that need to know the server itself (a gateway that points back at
//! us: "Default route points to this host") are made by the engine, which
//! knows its own addresses and domain.

use super::model::{Destination, Prefix, Route, RoutingConfig};
use std::collections::BTreeSet;

/// Why a routing configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct RoutingError {
    /// The destination or route concerned.
    pub what: String,
    /// Why it is refused.
    pub reason: String,
}

impl RoutingError {
    /// An error about `what`.
    pub fn new(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Checks a destination name: 1–64 characters from letters, digits, `-._`.
pub fn validate_destination_name(name: &str) -> Result<(), RoutingError> {
    let what = || format!("destination name {name:?}");
    if name.is_empty() {
        return Err(RoutingError::new(what(), "it is empty"));
    }
    if name.len() > 64 {
        return Err(RoutingError::new(what(), "it is longer than 64 characters"));
    }
    if name.eq_ignore_ascii_case("default") || name.eq_ignore_ascii_case("none") {
        return Err(RoutingError::new(what(), "the name is reserved"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        Some(c) => Err(RoutingError::new(
            what(),
            format!("illegal character {c:?} (allowed: letters, digits, '-', '.', '_')"),
        )),
        None => Ok(()),
    }
}

/// Parses a route prefix as an operator writes it: `Default` (any case) or an
/// optional `+` followed by 1–32 digits.
pub fn validate_prefix(text: &str) -> Result<Prefix, RoutingError> {
    if text.eq_ignore_ascii_case("default") {
        return Ok(Prefix::Default);
    }
    let what = || format!("route prefix {text:?}");
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return Err(RoutingError::new(
            what(),
            "a prefix is digits (optionally after '+') or Default",
        ));
    }
    if digits.len() > 32 {
        return Err(RoutingError::new(what(), "it is longer than 32 digits"));
    }
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(RoutingError::new(
            what(),
            format!(
                "illegal character {c:?}: a prefix is digits (optionally after '+') or Default"
            ),
        ));
    }
    Ok(Prefix::Digits(text.to_owned()))
}

/// Checks one destination on its own.
pub fn validate_destination(d: &Destination) -> Result<(), RoutingError> {
    validate_destination_name(&d.name)?;
    let what = || format!("destination {:?}", d.name);
    if d.gateway.trim().is_empty() {
        return Err(RoutingError::new(what(), "the gateway is empty"));
    }
    if d.gateway.chars().any(|c| c.is_whitespace() || c == ';') {
        return Err(RoutingError::new(
            what(),
            format!("gateway {:?} is not a host name or address", d.gateway),
        ));
    }
    if d.port == Some(0) {
        return Err(RoutingError::new(what(), "port 0 is not a port"));
    }
    if d.password.as_deref().is_some_and(|p| p.contains(';')) {
        return Err(RoutingError::new(
            what(),
            "the password must not contain ';'",
        ));
    }
    for (field, v) in [
        ("remove prefix", &d.remove_prefix),
        ("add prefix", &d.add_prefix),
    ] {
        let digits = v.strip_prefix('+').unwrap_or(v);
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(RoutingError::new(
                what(),
                format!("{field} {v:?} is not digits"),
            ));
        }
    }
    if d.register && d.register_expires < 60 {
        return Err(RoutingError::new(
            what(),
            format!(
                "registration timeout {} s is below 60 s",
                d.register_expires
            ),
        ));
    }
    if d.capacity == Some(0) {
        return Err(RoutingError::new(
            what(),
            "capacity 0 would refuse every call (leave it unset for unlimited)",
        ));
    }
    validate_tls_options(d)
}

/// The TLS options: a client certificate and its key come together, and
/// every TLS option needs transport TLS (elsewhere it would silently do
/// nothing). Paths are checked for being non-empty single lines; whether the
/// files exist is the runtime's business at connect time.
fn validate_tls_options(d: &Destination) -> Result<(), RoutingError> {
    let what = || format!("destination {:?}", d.name);
    let has_cert = d.tls_client_cert.is_some();
    let has_key = d.tls_client_key.is_some();
    if has_cert != has_key {
        return Err(RoutingError::new(
            what(),
            "a TLS client certificate needs its private key and the other way round \
             (set both --tls-client-cert and --tls-client-key, or neither)",
        ));
    }
    if d.transport != crate::Transport::Tls && (has_cert || !d.tls_verify) {
        let opt = if has_cert {
            "a TLS client certificate"
        } else {
            "turning TLS verification off"
        };
        return Err(RoutingError::new(
            what(),
            format!(
                "{opt} only applies to transport TLS (this destination uses {})",
                d.transport
            ),
        ));
    }
    for (field, v) in [
        ("TLS client certificate", &d.tls_client_cert),
        ("TLS client key", &d.tls_client_key),
    ] {
        if let Some(p) = v
            && (p.trim().is_empty() || p.contains(['\n', '\r', '\0']))
        {
            return Err(RoutingError::new(
                what(),
                format!("{field} path {p:?} is not a file path"),
            ));
        }
    }
    Ok(())
}

/// Checks a route against the destinations it may name.
pub fn validate_route(r: &Route, destinations: &[Destination]) -> Result<(), RoutingError> {
    let what = || match &r.prefix {
        Prefix::Default => format!("route Default -> {:?}", r.destination),
        Prefix::Digits(p) => format!("route {p} -> {:?}", r.destination),
    };
    if let Prefix::Digits(p) = &r.prefix {
        validate_prefix(p).map_err(|e| RoutingError::new(what(), e.reason))?;
    }
    match destinations.iter().find(|d| d.name == r.destination) {
        None => Err(RoutingError::new(
            what(),
            format!("there is no destination {:?}", r.destination),
        )),
        Some(d) if r.enabled && !d.enabled => Err(RoutingError::new(
            what(),
            format!("destination {:?} is disabled", r.destination),
        )),
        Some(_) => Ok(()),
    }
}

impl RoutingConfig {
    /// Checks the whole configuration: every destination, unique names, every
    /// route, no route listed twice.
    pub fn validate(&self) -> Result<(), RoutingError> {
        let mut names = BTreeSet::new();
        for d in &self.destinations {
            validate_destination(d)?;
            if !names.insert(d.name.as_str()) {
                return Err(RoutingError::new(
                    format!("destination {:?}", d.name),
                    "the name is used twice",
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for r in &self.routes {
            validate_route(r, &self.destinations)?;
            if !seen.insert((&r.prefix, r.destination.as_str())) {
                return Err(RoutingError::new(
                    format!("route {:?} -> {:?}", r.prefix, r.destination),
                    "the same route is listed twice",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(name: &str) -> Destination {
        Destination::new(name, "192.0.2.10")
    }

    fn route(prefix: &str, dest: &str) -> Route {
        Route {
            prefix: validate_prefix(prefix).expect("test prefix"),
            destination: dest.into(),
            order: 0,
            enabled: true,
        }
    }

    #[test]
    fn prefixes_are_digits_or_default() {
        assert_eq!(validate_prefix("DEFAULT"), Ok(Prefix::Default));
        assert_eq!(validate_prefix("+4420"), Ok(Prefix::Digits("+4420".into())));
        for bad in ["", "+", "12a", "1 2", "*8", "++1", &"9".repeat(33)] {
            let e = validate_prefix(bad).expect_err(bad);
            assert!(e.to_string().contains("route prefix"), "{e}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_destination_name("carrier-1.a_b").is_ok());
        for bad in ["", "a b", "x;y", "Default", "none", &"a".repeat(65)] {
            assert!(validate_destination_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_valid_configuration_passes() {
        let cfg = RoutingConfig {
            destinations: vec![dest("a"), dest("b")],
            routes: vec![route("0", "a"), route("0", "b"), route("default", "b")],
            ..Default::default()
        };
        assert_eq!(cfg.validate(), Ok(()));
    }

    #[test]
    fn a_route_to_a_missing_or_disabled_destination_is_refused() {
        let mut b = dest("b");
        b.enabled = false;
        let cfg = RoutingConfig {
            destinations: vec![dest("a"), b],
            routes: vec![route("9", "zz")],
            ..Default::default()
        };
        let e = cfg.validate().expect_err("missing");
        assert!(e.to_string().contains("no destination \"zz\""), "{e}");
        let cfg = RoutingConfig {
            routes: vec![route("9", "b")],
            ..cfg
        };
        let e = cfg.validate().expect_err("disabled");
        assert!(e.to_string().contains("is disabled"), "{e}");
        // A disabled route to a disabled destination is fine.
        let mut r = route("9", "b");
        r.enabled = false;
        let cfg = RoutingConfig {
            routes: vec![r],
            ..cfg
        };
        assert_eq!(cfg.validate(), Ok(()));
    }

    #[test]
    fn bad_destinations_are_refused_with_reasons() {
        type Mutation = Box<dyn Fn(&mut Destination)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|d| d.gateway = " ".into()), "gateway is empty"),
            (Box::new(|d| d.password = Some("a;b".into())), "';'"),
            (Box::new(|d| d.add_prefix = "9x".into()), "add prefix"),
            (Box::new(|d| d.port = Some(0)), "port 0"),
            (Box::new(|d| d.capacity = Some(0)), "capacity 0"),
            (
                Box::new(|d| {
                    d.register = true;
                    d.register_expires = 10;
                }),
                "below 60",
            ),
        ];
        for (mutate, needle) in cases {
            let mut d = dest("a");
            mutate(&mut d);
            let e = validate_destination(&d).expect_err(needle);
            assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        }
    }

    #[test]
    fn duplicates_are_refused() {
        let cfg = RoutingConfig {
            destinations: vec![dest("a"), dest("a")],
            ..Default::default()
        };
        assert!(
            cfg.validate()
                .expect_err("dup")
                .to_string()
                .contains("twice")
        );
        let cfg = RoutingConfig {
            destinations: vec![dest("a")],
            routes: vec![route("1", "a"), route("1", "a")],
            ..Default::default()
        };
        assert!(
            cfg.validate()
                .expect_err("dup")
                .to_string()
                .contains("twice")
        );
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use crate::routing::model::{Destination, Route};
    use crate::{Command, Config, Engine, Listener, Transport};

    fn dest(name: &str) -> Destination {
        Destination {
            port: Some(5080),
            ..Destination::new(name, "gw.example.net")
        }
    }

    #[test]
    fn a_bad_replacement_is_refused_and_the_old_configuration_keeps_serving() {
        let listener = Listener {
            transport: Transport::Udp,
            addr: "192.0.2.1:5060".parse().expect("addr"),
            advertise: None,
        };
        let t0 = crate::test_epoch();
        let mut e = Engine::new(Config::new("example.com", vec![listener]), t0).expect("engine");
        let good = RoutingConfig {
            destinations: vec![dest("carrier")],
            routes: vec![Route {
                prefix: Prefix::Default,
                destination: "carrier".into(),
                order: 0,
                enabled: true,
            }],
            ..Default::default()
        };
        e.handle_command(t0, Command::ReplaceRouting(good.clone()))
            .expect("valid routing is accepted");
        assert_eq!(e.routing(), &good);
        let mut bad = good.clone();
        bad.routes[0].destination = "nowhere".into();
        let err = e
            .handle_command(t0, Command::ReplaceRouting(bad))
            .expect_err("a route to a missing destination is refused");
        assert!(err.contains("no destination \"nowhere\""), "{err}");
        assert_eq!(e.routing(), &good, "the old configuration keeps serving");
    }

    #[test]
    fn a_gateway_that_points_to_this_host_is_refused() {
        let listener = Listener {
            transport: Transport::Udp,
            addr: "192.0.2.1:5060".parse().expect("addr"),
            advertise: None,
        };
        let t0 = crate::test_epoch();
        let mut e = Engine::new(Config::new("example.com", vec![listener]), t0).expect("engine");
        for (gw, port) in [
            ("192.0.2.1", None),
            ("example.com", None),
            ("192.0.2.1", Some(5060)),
        ] {
            let mut d = dest("loop");
            d.gateway = gw.into();
            d.port = port;
            let cfg = RoutingConfig {
                destinations: vec![d],
                routes: vec![Route {
                    prefix: Prefix::Default,
                    destination: "loop".into(),
                    order: 0,
                    enabled: true,
                }],
                ..Default::default()
            };
            let err = e
                .handle_command(t0, Command::ReplaceRouting(cfg))
                .expect_err(gw);
            assert_eq!(err, "route Default: destination loop points to this host");
        }
        // Another program on the same machine is not us.
        let mut d = dest("softswitch");
        d.gateway = "192.0.2.1".into();
        d.port = Some(5080);
        let cfg = RoutingConfig {
            destinations: vec![d],
            routes: vec![Route {
                prefix: Prefix::Digits("9".into()),
                destination: "softswitch".into(),
                order: 0,
                enabled: true,
            }],
            ..Default::default()
        };
        e.handle_command(t0, Command::ReplaceRouting(cfg))
            .expect("another port is another server");
        e.handle_command(
            t0,
            Command::DestinationHealth {
                name: "softswitch".into(),
                up: false,
            },
        )
        .expect("known destination");
        assert_eq!(
            e.routing_table().state("softswitch").map(|s| s.up),
            Some(false)
        );
        assert!(
            e.handle_command(
                t0,
                Command::DestinationRegistration {
                    name: "nope".into(),
                    registered: true
                }
            )
            .is_err()
        );
    }

    #[test]
    fn tls_options_need_tls_and_come_in_pairs() {
        let mut d = Destination::new("carrier", "192.0.2.10");
        d.tls_verify = false;
        let e = validate_destination(&d).expect_err("verify off over UDP");
        assert!(e.reason.contains("only applies to transport TLS"), "{e}");
        assert!(e.reason.contains("UDP") || e.reason.contains("udp"), "{e}");
        d.transport = crate::Transport::Tls;
        validate_destination(&d).expect("verify off over TLS");
        d.tls_client_cert = Some("/etc/sb/client.crt".into());
        let e = validate_destination(&d).expect_err("cert without key");
        assert!(e.reason.contains("private key"), "{e}");
        d.tls_client_key = Some("/etc/sb/client.key".into());
        validate_destination(&d).expect("pair over TLS");
        d.tls_client_cert = None;
        let e = validate_destination(&d).expect_err("key without cert");
        assert!(e.reason.contains("both"), "{e}");
        d.tls_client_cert = Some("/etc/sb/client.crt".into());
        d.tls_verify = true;
        d.transport = crate::Transport::Tcp;
        let e = validate_destination(&d).expect_err("client cert over TCP");
        assert!(e.reason.contains("client certificate only applies"), "{e}");
        d.transport = crate::Transport::Tls;
        d.tls_client_key = Some(" ".into());
        let e = validate_destination(&d).expect_err("blank key path");
        assert!(e.reason.contains("not a file path"), "{e}");
        d.tls_client_key = Some("a\nb".into());
        assert!(validate_destination(&d).is_err());
    }

    #[test]
    fn tls_peer_carries_the_options() {
        let mut d = Destination::new("carrier", "192.0.2.10");
        assert_eq!(d.tls_peer(), None, "not TLS");
        d.transport = crate::Transport::Tls;
        d.tls_verify = false;
        let p = d.tls_peer().expect("TLS");
        assert_eq!(p.server_name, None, "IP gateway: verified for its address");
        assert!(!p.verify);
        assert_eq!(p.destination.as_deref(), Some("carrier"));
        d.gateway = "sbc.carrier.example".into();
        d.tls_client_cert = Some("c.pem".into());
        d.tls_client_key = Some("k.pem".into());
        let p = d.tls_peer().expect("TLS");
        assert_eq!(p.server_name.as_deref(), Some("sbc.carrier.example"));
        assert_eq!(p.client_cert.as_deref(), Some("c.pem"));
        assert_eq!(p.client_key.as_deref(), Some("k.pem"));
    }
}
