//! The location service: contact bindings per address-of-record (RFC 3261 §10.3).
//!
//! Pure data structure: the registrar (`registrar::mod`) decides *what* to do
//! with a REGISTER and asks this store to do it. Each binding remembers the
//! [`Flow`] its REGISTER arrived on (source address, transport, connection) so
//! requests reach clients behind NAT or on a TCP/WebSocket connection
//! (RFC 3581, RFC 5626), and its RFC 5626 `+sip.instance`/`reg-id` so a new
//! flow of the same instance replaces the old one instead of adding a second.
//!
//! Expiry is indexed by time (`BTreeSet<(Instant, id)>`), so [`Bindings::poll_timeout`]
//! is O(log n) and expiring k bindings costs O(k log n).

use crate::transport::{ConnId, Flow};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Stable identifier of one binding (never reused within an engine's life).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingId(pub u64);

/// One contact bound to an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Identifier.
    pub id: BindingId,
    /// The contact as the client wrote it (the URI inside `<>`, without header params).
    pub contact: Box<str>,
    /// Comparison key of the contact URI (§19.1.4 equivalence), computed by the registrar.
    pub contact_key: Box<str>,
    /// q-value in thousandths (1000 when absent).
    pub q: u16,
    /// When the binding expires.
    pub expires_at: Instant,
    /// Call-ID of the REGISTER that last updated it (§10.3 step 7).
    pub call_id: Box<str>,
    /// CSeq of the REGISTER that last updated it.
    pub cseq: u32,
    /// Where that REGISTER came from.
    pub flow: Flow,
    /// RFC 5626 `+sip.instance`, unquoted.
    pub instance: Option<Box<str>>,
    /// RFC 5626 `reg-id`.
    pub reg_id: Option<u32>,
    /// Path header values to use when reaching this contact (RFC 3327).
    pub path: Vec<Box<str>>,
    /// The User-Agent of the REGISTER, for display.
    pub user_agent: Option<Box<str>>,
}

impl Binding {
    /// Seconds left until expiry at `now` (rounded up, 0 if already expired).
    pub fn remaining(&self, now: Instant) -> u32 {
        let d = self.expires_at.saturating_duration_since(now);
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// What the registrar asks to store for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBinding {
    /// See [`Binding::contact`].
    pub contact: Box<str>,
    /// See [`Binding::contact_key`].
    pub contact_key: Box<str>,
    /// See [`Binding::q`].
    pub q: u16,
    /// See [`Binding::expires_at`].
    pub expires_at: Instant,
    /// See [`Binding::call_id`].
    pub call_id: Box<str>,
    /// See [`Binding::cseq`].
    pub cseq: u32,
    /// See [`Binding::flow`].
    pub flow: Flow,
    /// See [`Binding::instance`].
    pub instance: Option<Box<str>>,
    /// See [`Binding::reg_id`].
    pub reg_id: Option<u32>,
    /// See [`Binding::path`].
    pub path: Vec<Box<str>>,
    /// See [`Binding::user_agent`].
    pub user_agent: Option<Box<str>>,
}

/// The result of [`Bindings::upsert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    /// A new binding was added.
    Added(BindingId),
    /// An existing binding with an equivalent contact was refreshed.
    Refreshed(BindingId),
    /// A binding of the same RFC 5626 instance and reg-id (another flow) was replaced;
    /// carries the old contact.
    Replaced {
        /// The new binding's id.
        id: BindingId,
        /// The contact that was replaced.
        old_contact: Box<str>,
    },
}

/// All bindings of all addresses-of-record.
#[derive(Debug, Default)]
pub struct Bindings {
    by_aor: BTreeMap<Box<str>, Vec<Binding>>,
    by_id: BTreeMap<BindingId, Box<str>>,
    expiry: BTreeSet<(Instant, BindingId)>,
    by_conn: BTreeMap<ConnId, BTreeSet<BindingId>>,
    by_contact: BTreeMap<Box<str>, BindingId>,
    next_id: u64,
}

impl Bindings {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of bindings across all AORs.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of AORs with at least one binding.
    pub fn aor_count(&self) -> usize {
        self.by_aor.len()
    }

    /// The bindings of `aor` (possibly including ones whose expiry passed but
    /// were not yet swept; filter with [`Binding::remaining`]).
    pub fn lookup(&self, aor: &str) -> &[Binding] {
        self.by_aor.get(aor).map_or(&[], Vec::as_slice)
    }

    /// Iterates over every AOR and its bindings, in AOR order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Binding])> {
        self.by_aor.iter().map(|(k, v)| (&**k, v.as_slice()))
    }

    /// Finds the binding of `aor` whose contact key equals `contact_key`.
    pub fn find(&self, aor: &str, contact_key: &str) -> Option<&Binding> {
        self.lookup(aor)
            .iter()
            .find(|b| &*b.contact_key == contact_key)
    }

    /// The binding (of any AOR) whose contact has this key: used to reach a
    /// registered client by its contact (in-dialog requests, NAT).
    pub fn find_by_contact(&self, contact_key: &str) -> Option<&Binding> {
        let id = self.by_contact.get(contact_key)?;
        let aor = self.by_id.get(id)?;
        self.by_aor.get(aor)?.iter().find(|b| b.id == *id)
    }

    /// Adds or refreshes a binding. A binding with the same contact key is
    /// refreshed in place; otherwise, when `instance` and `reg_id` are both set
    /// and an existing binding has the same pair, that one is replaced (RFC 5626
    /// §6); otherwise a new binding is added.
    pub fn upsert(&mut self, aor: &str, nb: NewBinding) -> Upsert {
        // Look up before inserting: a refresh must not allocate a key.
        let list = match self.by_aor.get_mut(aor) {
            Some(list) => list,
            None => self.by_aor.entry(aor.into()).or_default(),
        };
        let same_contact = list.iter().position(|b| b.contact_key == nb.contact_key);
        let same_flow = || {
            list.iter().position(|b| {
                nb.instance.is_some()
                    && nb.reg_id.is_some()
                    && b.instance == nb.instance
                    && b.reg_id == nb.reg_id
            })
        };
        let (idx, outcome_of) = match same_contact {
            Some(i) => (Some(i), 0),
            None => match same_flow() {
                Some(i) => (Some(i), 1),
                None => (None, 2),
            },
        };
        match idx {
            Some(i) => {
                let old = &mut list[i];
                let id = old.id;
                self.expiry.remove(&(old.expires_at, id));
                unlink_conn(&mut self.by_conn, old.flow.conn, id);
                let indexed = self.by_contact.get(&old.contact_key) == Some(&id);
                // A refresh of the same contact keeps its index entry as it is.
                if !(indexed && old.contact_key == nb.contact_key) {
                    if indexed {
                        self.by_contact.remove(&old.contact_key);
                    }
                    self.by_contact.insert(nb.contact_key.clone(), id);
                }
                let old_contact = std::mem::replace(&mut old.contact, nb.contact);
                old.contact_key = nb.contact_key;
                old.q = nb.q;
                old.expires_at = nb.expires_at;
                old.call_id = nb.call_id;
                old.cseq = nb.cseq;
                old.flow = nb.flow;
                old.instance = nb.instance;
                old.reg_id = nb.reg_id;
                old.path = nb.path;
                old.user_agent = nb.user_agent;
                self.expiry.insert((old.expires_at, id));
                if let Some(c) = old.flow.conn {
                    self.by_conn.entry(c).or_default().insert(id);
                }
                if outcome_of == 0 {
                    Upsert::Refreshed(id)
                } else {
                    Upsert::Replaced { id, old_contact }
                }
            }
            None => {
                self.next_id += 1;
                let id = BindingId(self.next_id);
                self.expiry.insert((nb.expires_at, id));
                self.by_contact.insert(nb.contact_key.clone(), id);
                if let Some(c) = nb.flow.conn {
                    self.by_conn.entry(c).or_default().insert(id);
                }
                if list.is_empty() {
                    // Most AORs have one contact: don't let `push` reserve four
                    // (a `Binding` is ~250 bytes).
                    list.reserve_exact(1);
                }
                list.push(Binding {
                    id,
                    contact: nb.contact,
                    contact_key: nb.contact_key,
                    q: nb.q,
                    expires_at: nb.expires_at,
                    call_id: nb.call_id,
                    cseq: nb.cseq,
                    flow: nb.flow,
                    instance: nb.instance,
                    reg_id: nb.reg_id,
                    path: nb.path,
                    user_agent: nb.user_agent,
                });
                self.by_id.insert(id, aor.into());
                Upsert::Added(id)
            }
        }
    }

    /// Removes one binding by id; returns it with its AOR.
    pub fn remove(&mut self, id: BindingId) -> Option<(Box<str>, Binding)> {
        let aor = self.by_id.remove(&id)?;
        let list = self.by_aor.get_mut(&aor)?;
        let pos = list.iter().position(|b| b.id == id)?;
        let b = list.swap_remove(pos);
        if list.is_empty() {
            self.by_aor.remove(&aor);
        }
        self.expiry.remove(&(b.expires_at, id));
        if self.by_contact.get(&b.contact_key) == Some(&id) {
            self.by_contact.remove(&b.contact_key);
        }
        unlink_conn(&mut self.by_conn, b.flow.conn, id);
        Some((aor, b))
    }

    /// Removes every binding of `aor`; returns them.
    pub fn remove_aor(&mut self, aor: &str) -> Vec<Binding> {
        let ids: Vec<BindingId> = self.lookup(aor).iter().map(|b| b.id).collect();
        ids.into_iter()
            .filter_map(|id| self.remove(id).map(|(_, b)| b))
            .collect()
    }

    /// Removes every binding; returns them with their AORs.
    pub fn clear(&mut self) -> Vec<(Box<str>, Binding)> {
        let ids: Vec<BindingId> = self.by_id.keys().copied().collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Removes every binding whose REGISTER came over connection `conn`
    /// (the connection is the flow, RFC 5626 / RFC 7118).
    pub fn remove_conn(&mut self, conn: ConnId) -> Vec<(Box<str>, Binding)> {
        let ids: Vec<BindingId> = self
            .by_conn
            .get(&conn)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Removes the bindings on connection `conn` that `doomed` selects; found
    /// through the per-connection index, so a close costs O(bindings on it),
    /// not a scan of every binding (WebSocket churn).
    pub fn remove_conn_where(
        &mut self,
        conn: ConnId,
        mut doomed: impl FnMut(&Binding) -> bool,
    ) -> Vec<(Box<str>, Binding)> {
        let Some(ids) = self.by_conn.get(&conn) else {
            return Vec::new();
        };
        let ids: Vec<BindingId> = ids
            .iter()
            .copied()
            .filter(|id| {
                self.by_id
                    .get(id)
                    .and_then(|aor| self.by_aor.get(aor))
                    .and_then(|list| list.iter().find(|b| b.id == *id))
                    .is_some_and(&mut doomed)
            })
            .collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Connection `conn` closed but its bindings stay (no RFC 5626 flow): they
    /// no longer ride on it, so requests to them go to the Contact address
    /// (RFC 3261 §18.2.2), never to the old connection's source port.
    pub fn detach_conn(&mut self, conn: ConnId) {
        let Some(ids) = self.by_conn.remove(&conn) else {
            return;
        };
        for id in ids {
            let Some(aor) = self.by_id.get(&id) else {
                continue;
            };
            if let Some(b) = self
                .by_aor
                .get_mut(aor)
                .and_then(|list| list.iter_mut().find(|b| b.id == id))
            {
                b.flow.conn = None;
            }
        }
    }

    /// The earliest expiry, for the engine's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiry.first().map(|(t, _)| *t)
    }

    /// Removes and returns one binding whose expiry is at or before `now`.
    /// Call until it returns `None`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Box<str>, Binding)> {
        let &(at, id) = self.expiry.first()?;
        if at > now {
            return None;
        }
        self.remove(id)
    }
}

/// Forgets that binding `id` rides on connection `conn`.
fn unlink_conn(
    by_conn: &mut BTreeMap<ConnId, BTreeSet<BindingId>>,
    conn: Option<ConnId>,
    id: BindingId,
) {
    let Some(c) = conn else { return };
    if let Some(set) = by_conn.get_mut(&c) {
        set.remove(&id);
        if set.is_empty() {
            by_conn.remove(&c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;
    use std::time::Duration;

    fn flow(port: u16, conn: Option<u64>) -> Flow {
        Flow {
            transport: if conn.is_some() {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            local: "192.0.2.1:5060".parse().expect("literal address"),
            remote: format!("192.0.2.9:{port}")
                .parse()
                .expect("literal address"),
            conn: conn.map(ConnId),
        }
    }

    fn nb(contact: &str, at: Instant, instance: Option<&str>, reg_id: Option<u32>) -> NewBinding {
        NewBinding {
            contact: contact.into(),
            contact_key: contact.into(),
            q: 1000,
            expires_at: at,
            call_id: "c1".into(),
            cseq: 1,
            flow: flow(5060, None),
            instance: instance.map(Into::into),
            reg_id,
            path: Vec::new(),
            user_agent: None,
        }
    }

    #[test]
    fn add_refresh_and_expire_in_time_order() {
        let t0 = crate::test_epoch();
        let mut s = Bindings::new();
        let a = s.upsert(
            "101@x",
            nb("sip:101@h1", t0 + Duration::from_secs(60), None, None),
        );
        let b = s.upsert(
            "101@x",
            nb("sip:101@h2", t0 + Duration::from_secs(30), None, None),
        );
        assert!(matches!(a, Upsert::Added(_)) && matches!(b, Upsert::Added(_)));
        assert_eq!(s.lookup("101@x").len(), 2);
        // refresh h2 to 120 s: now h1 (60 s) expires first
        let r = s.upsert(
            "101@x",
            nb("sip:101@h2", t0 + Duration::from_secs(120), None, None),
        );
        assert!(matches!(r, Upsert::Refreshed(_)));
        assert_eq!(s.len(), 2);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(60)));
        assert!(s.pop_expired(t0 + Duration::from_secs(59)).is_none());
        let (aor, gone) = s
            .pop_expired(t0 + Duration::from_secs(60))
            .expect("h1 expired");
        assert_eq!((&*aor, &*gone.contact), ("101@x", "sip:101@h1"));
        assert!(s.pop_expired(t0 + Duration::from_secs(60)).is_none());
        assert_eq!(
            s.lookup("101@x")[0].remaining(t0 + Duration::from_millis(500)),
            120
        );
    }

    #[test]
    fn same_instance_and_reg_id_replaces_the_old_flow() {
        let t0 = crate::test_epoch();
        let mut s = Bindings::new();
        let t = t0 + Duration::from_secs(60);
        s.upsert(
            "a@x",
            nb("sip:a@10.0.0.1", t, Some("<urn:uuid:1>"), Some(1)),
        );
        // same instance, another reg-id: a second flow, kept
        s.upsert(
            "a@x",
            nb("sip:a@10.0.0.2", t, Some("<urn:uuid:1>"), Some(2)),
        );
        // same instance and reg-id 1, new contact: replaces the first
        let r = s.upsert(
            "a@x",
            nb("sip:a@10.0.0.3", t, Some("<urn:uuid:1>"), Some(1)),
        );
        assert_eq!(
            r,
            Upsert::Replaced {
                id: BindingId(1),
                old_contact: "sip:a@10.0.0.1".into()
            }
        );
        let contacts: Vec<&str> = s.lookup("a@x").iter().map(|b| &*b.contact).collect();
        assert_eq!(contacts, ["sip:a@10.0.0.3", "sip:a@10.0.0.2"]);
    }

    #[test]
    fn closing_a_connection_removes_its_bindings_only() {
        let t = crate::test_epoch() + Duration::from_secs(60);
        let mut s = Bindings::new();
        let mut x = nb("sip:a@ws1.invalid", t, None, None);
        x.flow = flow(4000, Some(7));
        s.upsert("a@x", x);
        s.upsert("a@x", nb("sip:a@udp", t, None, None));
        let gone = s.remove_conn(ConnId(7));
        assert_eq!(gone.len(), 1);
        assert_eq!(s.len(), 1);
        assert!(s.remove_conn(ConnId(7)).is_empty());
        assert_eq!(s.remove_aor("a@x").len(), 1);
        assert!(s.is_empty() && s.aor_count() == 0 && s.poll_timeout().is_none());
    }

    #[test]
    fn detaching_a_connection_keeps_its_bindings_off_it() {
        let t0 = crate::test_epoch();
        let mut s = Bindings::new();
        let t = t0 + Duration::from_secs(60);
        let mut on7 = nb("sip:a@192.0.2.9;transport=tcp", t, None, None);
        on7.flow = flow(49152, Some(7));
        s.upsert("a@x", on7);
        let mut on8 = nb("sip:b@192.0.2.8;transport=tcp", t, None, None);
        on8.flow = flow(49153, Some(8));
        s.upsert("b@x", on8);
        s.detach_conn(ConnId(7));
        assert_eq!(s.lookup("a@x")[0].flow.conn, None);
        assert_eq!(s.lookup("b@x")[0].flow.conn, Some(ConnId(8)));
        // Nothing rides on 7 any more; 8 is untouched.
        assert!(s.remove_conn(ConnId(7)).is_empty());
        assert_eq!(s.len(), 2);
        s.detach_conn(ConnId(99));
        assert_eq!(s.remove_conn(ConnId(8)).len(), 1);
    }
}
