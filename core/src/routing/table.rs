//! The routing table: a validated [`RoutingConfig`] indexed for lookup by
//! dialed number (TekSIP's "Routing" chapter, issue 4).
//!
//! Prefixes live in a digit trie (`0`–`9` and a leading `+`), so finding the
//! routes for a number walks at most as many nodes as the number has digits,
//! whatever the number of routes. A lookup yields the *candidates* in the order
//! they are tried: the routes of the longest matching prefix (in `order` when
//! hunting, rotated by a per-prefix cursor when load sharing), then those of
//! each shorter matching prefix, then `Default`. A destination appears once.
//!
//! Each destination carries a small runtime state ([`DestState`]: calls in
//! progress through it, up/down from health checks, registered upstream) that
//! survives a replacement of the configuration for destinations whose name
//! stays ([`RoutingTable::carry_state_from`]). A candidate is usable
//! ([`RoutingTable::available`]) when its destination is enabled, below its
//! capacity, up, and registered if it registers.

use super::model::{Destination, Prefix, RoutingConfig, Selection};
use super::validate::RoutingError;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

/// Index of a destination in a [`RoutingTable`] (valid for that table only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestId(pub u32);

/// One destination to try for a dialed number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The destination.
    pub destination: DestId,
    /// Index of the matched prefix (see [`RoutingTable::prefix`]).
    pub prefix: u32,
}

/// Runtime state of one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestState {
    /// Calls (and other routed requests) in progress through it.
    pub active: u32,
    /// Health: false while OPTIONS pings fail (skipped by routing).
    pub up: bool,
    /// Registered upstream (only matters when the destination registers).
    pub registered: bool,
}

impl Default for DestState {
    fn default() -> Self {
        Self {
            active: 0,
            up: true,
            registered: false,
        }
    }
}

/// The routes of one prefix.
#[derive(Debug, Clone)]
struct PrefixEntry {
    prefix: Prefix,
    /// Destinations in `order` (ties: configuration order).
    routes: Vec<DestId>,
    /// Load-sharing cursor: where the next round starts.
    cursor: usize,
}

/// A trie node: children by symbol (`0`–`9` = 0–9, `+` = 10), sorted.
#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(u8, u32)>,
    entry: Option<u32>,
}

/// The routing configuration indexed for lookup, with per-destination state.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    config: RoutingConfig,
    states: Vec<DestState>,
    by_name: BTreeMap<String, DestId>,
    entries: Vec<PrefixEntry>,
    nodes: Vec<Node>,
    default: Option<u32>,
    gateway_ips: BTreeSet<IpAddr>,
    /// Enabled destinations with transport TLS ([`Self::tls_peer_for`]).
    tls_dests: Vec<DestId>,
}

impl Default for RoutingTable {
    fn default() -> Self {
        Self::new(RoutingConfig::default()).expect("an empty configuration is valid")
    }
}

fn symbol(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'+' => Some(10),
        _ => None,
    }
}

impl RoutingTable {
    /// Validates `config` and indexes it. Does not check for gateways that
    /// point to this server (the engine does, knowing its own identity).
    pub fn new(config: RoutingConfig) -> Result<Self, RoutingError> {
        config.validate()?;
        let by_name: BTreeMap<String, DestId> = config
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), DestId(i as u32)))
            .collect();
        let gateway_ips = config
            .destinations
            .iter()
            .filter(|d| d.enabled)
            .filter_map(|d| d.gateway.trim_matches(['[', ']']).parse::<IpAddr>().ok())
            .collect();
        let tls_dests = config
            .destinations
            .iter()
            .enumerate()
            .filter(|(_, d)| d.enabled && d.transport == crate::Transport::Tls)
            .map(|(i, _)| DestId(i as u32))
            .collect();
        let mut t = Self {
            tls_dests,
            states: vec![DestState::default(); config.destinations.len()],
            by_name,
            entries: Vec::new(),
            nodes: vec![Node::default()],
            default: None,
            gateway_ips,
            config: RoutingConfig::default(),
        };
        // Enabled routes to enabled destinations, grouped by prefix in `order`.
        let mut routes: Vec<(usize, &super::model::Route)> = config
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled)
            .collect();
        routes.sort_by(|(ia, a), (ib, b)| a.order.cmp(&b.order).then(ia.cmp(ib)));
        for (_, r) in routes {
            let Some(&dest) = t.by_name.get(&r.destination) else {
                continue; // validation makes this unreachable
            };
            if !config
                .destinations
                .get(dest.0 as usize)
                .is_some_and(|d| d.enabled)
            {
                continue;
            }
            let entry = t.entry_for(&r.prefix);
            if let Some(e) = t.entries.get_mut(entry as usize)
                && !e.routes.contains(&dest)
            {
                e.routes.push(dest);
            }
        }
        t.config = config;
        Ok(t)
    }

    /// The entry index for `prefix`, creating trie nodes as needed.
    fn entry_for(&mut self, prefix: &Prefix) -> u32 {
        let new_entry = |entries: &mut Vec<PrefixEntry>| {
            entries.push(PrefixEntry {
                prefix: prefix.clone(),
                routes: Vec::new(),
                cursor: 0,
            });
            (entries.len() - 1) as u32
        };
        let digits = match prefix {
            Prefix::Default => {
                return match self.default {
                    Some(e) => e,
                    None => {
                        let e = new_entry(&mut self.entries);
                        self.default = Some(e);
                        e
                    }
                };
            }
            Prefix::Digits(d) => d,
        };
        let mut node = 0usize;
        for sym in digits.bytes().filter_map(symbol) {
            let next = self.nodes.get(node).and_then(|n| {
                n.children
                    .binary_search_by_key(&sym, |c| c.0)
                    .ok()
                    .and_then(|i| n.children.get(i))
                    .map(|c| c.1)
            });
            node = match next {
                Some(n) => n as usize,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    if let Some(n) = self.nodes.get_mut(node) {
                        let at = n.children.partition_point(|c| c.0 < sym);
                        n.children.insert(at, (sym, id));
                    }
                    id as usize
                }
            };
        }
        if let Some(e) = self.nodes.get(node).and_then(|n| n.entry) {
            return e;
        }
        let e = new_entry(&mut self.entries);
        if let Some(n) = self.nodes.get_mut(node) {
            n.entry = Some(e);
        }
        e
    }

    /// The configuration this table was built from.
    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    /// True when no enabled route exists (routing is off).
    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(|e| e.routes.is_empty())
    }

    /// Fail over on 600/603 too.
    pub fn failover_on_decline(&self) -> bool {
        self.config.failover_on_decline
    }

    /// A destination by id.
    pub fn destination(&self, id: DestId) -> Option<&Destination> {
        self.config.destinations.get(id.0 as usize)
    }

    /// A destination's id by name.
    pub fn id_of(&self, name: &str) -> Option<DestId> {
        self.by_name.get(name).copied()
    }

    /// The prefix a candidate matched.
    pub fn prefix(&self, c: &Candidate) -> Option<&Prefix> {
        self.entries.get(c.prefix as usize).map(|e| &e.prefix)
    }

    /// The runtime state of a destination, by name.
    pub fn state(&self, name: &str) -> Option<&DestState> {
        self.states.get(self.id_of(name)?.0 as usize)
    }

    /// The runtime state of a destination, by name, for updates (health, registration).
    pub fn state_mut(&mut self, name: &str) -> Option<&mut DestState> {
        let id = self.id_of(name)?;
        self.states.get_mut(id.0 as usize)
    }

    /// Takes over the runtime state of every destination of `old` whose name
    /// is still configured (calls in progress keep counting against capacity).
    pub fn carry_state_from(&mut self, old: &Self) {
        for (name, id) in &old.by_name {
            if let (Some(s), Some(new)) = (old.states.get(id.0 as usize), self.by_name.get(name))
                && let Some(slot) = self.states.get_mut(new.0 as usize)
            {
                *slot = *s;
            }
        }
    }

    /// Is `ip` the address of an enabled destination's gateway (an IP literal)?
    /// Requests from there toward local extensions are not challenged.
    pub fn is_gateway_ip(&self, ip: IpAddr) -> bool {
        self.gateway_ips.contains(&ip)
    }

    /// The TLS options for an outbound TLS connection to `remote`: those of
    /// the first enabled TLS destination whose gateway is that address (an IP
    /// literal at its port or 5061), or a host name that `resolved(name, ip)`
    /// says resolved to it (at its port, when one is set). Work is bounded by
    /// the number of TLS destinations.
    pub fn tls_peer_for(
        &self,
        remote: SocketAddr,
        resolved: impl Fn(&str, IpAddr) -> bool,
    ) -> Option<crate::TlsPeer> {
        self.tls_dests
            .iter()
            .filter_map(|id| self.config.destinations.get(id.0 as usize))
            .find(|d| {
                let port = d.port.unwrap_or(crate::Transport::Tls.default_port());
                match d.gateway.trim_matches(['[', ']']).parse::<IpAddr>() {
                    Ok(ip) => ip == remote.ip() && port == remote.port(),
                    Err(_) => {
                        (d.port.is_none() || port == remote.port())
                            && resolved(&d.gateway, remote.ip())
                    }
                }
            })
            .and_then(Destination::tls_peer)
    }

    /// Can a call be sent to `id` now: enabled, below capacity, up, and
    /// registered if it registers?
    pub fn available(&self, id: DestId) -> bool {
        let (Some(d), Some(s)) = (
            self.config.destinations.get(id.0 as usize),
            self.states.get(id.0 as usize),
        ) else {
            return false;
        };
        d.enabled
            && s.up
            && (!d.register || s.registered)
            && d.capacity.is_none_or(|cap| s.active < cap)
    }

    /// Counts a call through `id` (on selection).
    pub fn acquire(&mut self, id: DestId) {
        if let Some(s) = self.states.get_mut(id.0 as usize) {
            s.active = s.active.saturating_add(1);
        }
    }

    /// A call through the destination named `name` ended or failed.
    pub fn release(&mut self, name: &str) {
        if let Some(s) = self.state_mut(name) {
            s.active = s.active.saturating_sub(1);
        }
    }

    /// The dialed number as sent to `id`: its `remove_prefix` stripped when
    /// the number starts with it, then its `add_prefix` put in front.
    pub fn rewrite(&self, id: DestId, dialed: &str) -> String {
        let Some(d) = self.destination(id) else {
            return dialed.to_owned();
        };
        let rest = if d.remove_prefix.is_empty() {
            dialed
        } else {
            dialed
                .strip_prefix(d.remove_prefix.as_str())
                .unwrap_or(dialed)
        };
        let mut out = String::with_capacity(d.add_prefix.len() + rest.len());
        out.push_str(&d.add_prefix);
        out.push_str(rest);
        out
    }

    /// The prefix entries matching `dialed`, longest first, then `Default`.
    fn matching(&self, dialed: &str) -> smallvec::SmallVec<[u32; 8]> {
        let mut found = smallvec::SmallVec::<[u32; 8]>::new();
        let mut node = 0usize;
        for b in dialed.bytes() {
            let Some(sym) = symbol(b) else { break };
            let Some(n) = self.nodes.get(node) else { break };
            let Ok(i) = n.children.binary_search_by_key(&sym, |c| c.0) else {
                break;
            };
            node = n.children.get(i).map_or(0, |c| c.1 as usize);
            if let Some(e) = self.nodes.get(node).and_then(|n| n.entry) {
                found.push(e);
            }
        }
        found.reverse();
        found.extend(self.default);
        found
    }

    /// The candidates for `dialed`, in the order they are to be tried (see the
    /// module doc). Empty when no route matches. With load sharing, the
    /// longest prefix that has a usable destination advances its cursor, so
    /// successive calls alternate among its destinations with free capacity.
    /// Unusable destinations stay in the list (their state may change before
    /// failover reaches them); check [`available`](Self::available).
    pub fn lookup(&mut self, dialed: &str) -> Vec<Candidate> {
        let levels = self.matching(dialed);
        let mut out: Vec<Candidate> = Vec::new();
        let mut advanced = false;
        for e in levels {
            let Some(entry) = self.entries.get(e as usize) else {
                continue;
            };
            let n = entry.routes.len();
            if n == 0 {
                continue;
            }
            let start = match self.config.selection {
                Selection::Hunting => 0,
                Selection::LoadSharing => {
                    let from = entry.cursor % n;
                    (0..n)
                        .map(|k| (from + k) % n)
                        .find(|&i| entry.routes.get(i).is_some_and(|&d| self.available(d)))
                        .unwrap_or(from)
                }
            };
            let usable_here = entry.routes.iter().any(|&d| self.available(d));
            for k in 0..n {
                let Some(&d) = entry.routes.get((start + k) % n) else {
                    continue;
                };
                if !out.iter().any(|c| c.destination == d) {
                    out.push(Candidate {
                        destination: d,
                        prefix: e,
                    });
                }
            }
            if self.config.selection == Selection::LoadSharing && !advanced && usable_here {
                advanced = true;
                if let Some(entry) = self.entries.get_mut(e as usize) {
                    entry.cursor = (start + 1) % n;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::model::Route;
    use crate::routing::validate::validate_prefix;

    fn dest(name: &str) -> Destination {
        Destination::new(name, "192.0.2.10")
    }

    fn route(prefix: &str, d: &str, order: u32) -> Route {
        Route {
            prefix: validate_prefix(prefix).expect("test prefix"),
            destination: d.into(),
            order,
            enabled: true,
        }
    }

    fn names(t: &RoutingTable, cs: &[Candidate]) -> Vec<String> {
        cs.iter()
            .map(|c| t.destination(c.destination).expect("id").name.clone())
            .collect()
    }

    fn look(t: &mut RoutingTable, dialed: &str) -> Vec<String> {
        let cs = t.lookup(dialed);
        names(t, &cs)
    }

    fn table(routes: Vec<Route>, selection: Selection) -> RoutingTable {
        RoutingTable::new(RoutingConfig {
            destinations: ["a", "b", "c", "d"].iter().map(|n| dest(n)).collect(),
            routes,
            selection,
            failover_on_decline: false,
        })
        .expect("valid")
    }

    #[test]
    fn longest_prefix_first_then_shorter_then_default() {
        let mut t = table(
            vec![
                route("default", "d", 0),
                route("0", "c", 0),
                route("0044", "a", 0),
                route("00", "b", 0),
            ],
            Selection::Hunting,
        );
        let cs = t.lookup("00441234");
        assert_eq!(names(&t, &cs), ["a", "b", "c", "d"]);
        assert_eq!(
            t.prefix(&cs[0]),
            Some(&Prefix::Digits("0044".into())),
            "the longest prefix"
        );
        assert_eq!(look(&mut t, "0133"), ["c", "d"]);
        assert_eq!(look(&mut t, "555"), ["d"]);
        assert_eq!(look(&mut t, "alice"), ["d"], "not digits: Default");
        let mut no_default = table(vec![route("0", "c", 0)], Selection::Hunting);
        assert!(no_default.lookup("123").is_empty());
        assert!(no_default.lookup("").is_empty());
    }

    #[test]
    fn plus_is_part_of_the_prefix() {
        let mut t = table(
            vec![route("+44", "a", 0), route("44", "b", 0)],
            Selection::Hunting,
        );
        assert_eq!(look(&mut t, "+4420"), ["a"]);
        assert_eq!(look(&mut t, "4420"), ["b"]);
    }

    #[test]
    fn hunting_follows_order_and_a_destination_appears_once() {
        let mut t = table(
            vec![
                route("9", "b", 2),
                route("9", "a", 1),
                route("default", "a", 0),
            ],
            Selection::Hunting,
        );
        for _ in 0..3 {
            assert_eq!(look(&mut t, "912"), ["a", "b"]);
        }
    }

    #[test]
    fn load_sharing_alternates_among_destinations_with_free_capacity() {
        let mut cfg = RoutingConfig {
            destinations: ["a", "b", "c"].iter().map(|n| dest(n)).collect(),
            routes: vec![route("9", "a", 0), route("9", "b", 1), route("9", "c", 2)],
            selection: Selection::LoadSharing,
            failover_on_decline: false,
        };
        cfg.destinations[1].capacity = Some(1);
        let mut t = RoutingTable::new(cfg).expect("valid");
        let firsts: Vec<String> = (0..4).map(|_| look(&mut t, "91").remove(0)).collect();
        assert_eq!(firsts, ["a", "b", "c", "a"]);
        // b at capacity: skipped in the rotation.
        t.acquire(t.id_of("b").expect("b"));
        assert!(!t.available(t.id_of("b").expect("b")));
        let firsts: Vec<String> = (0..3).map(|_| look(&mut t, "91").remove(0)).collect();
        assert_eq!(firsts, ["c", "a", "c"]);
        t.release("b");
        assert!(t.available(t.id_of("b").expect("b")));
    }

    #[test]
    fn skipped_destinations_down_unregistered_at_capacity() {
        let mut cfg = RoutingConfig {
            destinations: ["a", "b", "c"].iter().map(|n| dest(n)).collect(),
            ..Default::default()
        };
        cfg.destinations[0].capacity = Some(2);
        cfg.destinations[1].register = true;
        let mut t = RoutingTable::new(cfg).expect("valid");
        let (a, b, c) = (DestId(0), DestId(1), DestId(2));
        assert!(t.available(a) && !t.available(b) && t.available(c));
        t.acquire(a);
        assert!(t.available(a));
        t.acquire(a);
        assert!(!t.available(a), "at capacity");
        t.state_mut("b").expect("b").registered = true;
        assert!(t.available(b));
        t.state_mut("c").expect("c").up = false;
        assert!(!t.available(c));
        t.release("nobody"); // harmless
        t.release("a");
        assert!(t.available(a));
    }

    #[test]
    fn state_survives_a_replacement_for_names_that_stay() {
        let mut old = table(vec![route("1", "a", 0)], Selection::Hunting);
        old.acquire(DestId(0));
        old.state_mut("c").expect("c").up = false;
        let mut new = RoutingTable::new(RoutingConfig {
            destinations: vec![dest("c"), dest("a"), dest("z")],
            ..Default::default()
        })
        .expect("valid");
        new.carry_state_from(&old);
        assert_eq!(new.state("a").map(|s| s.active), Some(1));
        assert_eq!(new.state("c").map(|s| s.up), Some(false));
        assert_eq!(new.state("z"), Some(&DestState::default()));
    }

    #[test]
    fn remove_and_add_prefix_rewrite_the_number() {
        let mut cfg = RoutingConfig {
            destinations: vec![dest("a")],
            ..Default::default()
        };
        cfg.destinations[0].remove_prefix = "0".into();
        cfg.destinations[0].add_prefix = "+44".into();
        let t = RoutingTable::new(cfg).expect("valid");
        assert_eq!(t.rewrite(DestId(0), "02079460000"), "+442079460000");
        assert_eq!(t.rewrite(DestId(0), "12345"), "+4412345", "no 0 to strip");
        assert_eq!(t.rewrite(DestId(9), "123"), "123", "unknown id: as dialed");
    }

    #[test]
    fn disabled_routes_are_ignored_and_gateway_ips_known() {
        let mut r = route("5", "a", 0);
        r.enabled = false;
        let mut t = table(vec![r], Selection::Hunting);
        assert!(t.is_empty());
        assert!(t.lookup("55").is_empty());
        assert!(t.is_gateway_ip("192.0.2.10".parse().expect("ip")));
        assert!(!t.is_gateway_ip("192.0.2.11".parse().expect("ip")));
    }

    #[test]
    fn lookup_cost_does_not_depend_on_the_number_of_routes() {
        // 100,000 six-digit prefixes: the lookup still walks ≤ 12 nodes.
        let routes: Vec<Route> = (0..100_000u32)
            .map(|i| route(&format!("{:06}", i * 7 % 1_000_000), "a", 0))
            .collect();
        let mut t = table(routes, Selection::Hunting);
        assert_eq!(look(&mut t, "000007123"), ["a"]);
        assert!(t.lookup("000008").is_empty());
        assert!(t.nodes.len() < 250_000, "{} nodes", t.nodes.len());
    }
}
