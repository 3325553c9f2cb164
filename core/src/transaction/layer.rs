//! The transaction layer (RFC 3261 §17): matches messages to the four machines,
//! owns their requests and last responses, and turns their actions into bytes.
//!
//! The TU (registrar, proxy, local handlers) talks to the layer through values:
//! it hands in requests to send and responses to give, and pulls [`TxEvent`]s
//! (responses for its client transactions, timeouts, transport errors) and
//! [`Transmit`]s. One deadline index (`BTreeSet<(Instant, TxId)>`) serves all
//! transactions, so [`Layer::poll_timeout`] is O(log n).
//!
//! Matching: requests by [`ServerKey`] (§17.2.3 with the RFC 2543 fallback; an
//! ACK for a non-2xx final is filed under its INVITE, a CANCEL finds its INVITE
//! through [`ServerKey::cancel_target`], §9.2); responses by [`ClientKey`]
//! (§17.1.3: our top Via branch and the CSeq method).

use super::{
    ClientAction, ClientInvite, ClientKey, ClientNonInvite, Rfc2543Key, SentBy, ServerAction,
    ServerInvite, ServerKey, ServerNonInvite, TimerConfig,
};
use crate::io::Transmit;
use crate::rng::{HashMap, SeededState};
use crate::sip::builder::{ResponseBuilder, ack_for_non2xx};
use crate::sip::message::Message;
use crate::sip::method::Method;
use crate::sip::via::ViaView;
use crate::transport::{ConnId, Flow, Transport};
use bytes::Bytes;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// Identifies one transaction for the TU. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// Where a client transaction sends its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    /// Transport.
    pub transport: Transport,
    /// Remote address.
    pub remote: SocketAddr,
    /// Local socket to send from, if it matters.
    pub local: Option<SocketAddr>,
    /// An existing stream connection to use.
    pub conn: Option<ConnId>,
}

/// What the layer tells the TU.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TxEvent {
    /// A response for a client transaction (provisional, final, or an RFC 6026 extra 2xx).
    Response {
        /// The client transaction.
        tx: TxId,
        /// The response as received.
        response: Box<Message>,
        /// The path it came on.
        flow: Flow,
    },
    /// Timer B or F fired: act as on a 408.
    Timeout {
        /// The client transaction.
        tx: TxId,
    },
    /// The transport failed for a client transaction: act as on a 503.
    TransportError {
        /// The client transaction.
        tx: TxId,
    },
    /// A server INVITE transaction's final non-2xx response was never acknowledged (Timer H).
    AckTimeout {
        /// The server transaction.
        tx: TxId,
    },
    /// A server transaction could not send its response.
    ServerTransportError {
        /// The server transaction.
        tx: TxId,
    },
    /// A client or server transaction ended; the TU may drop its state for it.
    Terminated {
        /// The transaction.
        tx: TxId,
        /// True for a server transaction.
        server: bool,
    },
}

/// What happened to a request handed to [`Layer::receive_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestMatch {
    /// A retransmission of a request with a live server transaction; handled (last
    /// response resent, or absorbed).
    Retransmission,
    /// An ACK for a non-2xx final response of ours; absorbed by its INVITE transaction.
    AckAbsorbed,
    /// An ACK that matches no transaction (an ACK for a 2xx, §13.2.2.4): the TU routes it.
    AckUnmatched,
    /// A CANCEL; carries the INVITE server transaction it cancels, if one matches.
    Cancel(Option<TxId>),
    /// A new request: create a server transaction with [`Layer::create_server`].
    New,
}

enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

enum ClientMachine {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

/// §8.2.2.2 merged-request key: From tag, Call-ID, CSeq of a request without To tag.
type MergeKey = (Box<str>, Box<str>, u32, Method);

/// The parts of a request's [`MergeKey`], borrowed from it.
fn merge_parts(msg: &Message) -> Option<(&str, &str, u32, &Method)> {
    if msg.to_tag().is_some() || matches!(msg.method(), Some(Method::Ack | Method::Cancel)) {
        return None;
    }
    Some((
        msg.from_tag()?,
        msg.call_id(),
        msg.cseq().seq,
        msg.method()?,
    ))
}

fn merge_key(msg: &Message) -> Option<MergeKey> {
    let (from_tag, call_id, seq, method) = merge_parts(msg)?;
    Some((from_tag.into(), call_id.into(), seq, method.clone()))
}

/// The keyed 64-bit hash the merge index files a [`MergeKey`] under (the
/// same for the borrowed parts and the stored key).
fn merge_hash(keys: &SeededState, from_tag: &str, call_id: &str, seq: u32, method: &Method) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = keys.build_hasher();
    h.write_usize(from_tag.len());
    h.write(from_tag.as_bytes());
    h.write_usize(call_id.len());
    h.write(call_id.as_bytes());
    h.write_u32(seq);
    h.write(method.as_str().as_bytes());
    h.finish()
}

struct ServerTx {
    key: ServerKey,
    merge: Option<MergeKey>,
    ack_key: Option<ServerKey>,
    machine: ServerMachine,
    /// The request, until the final response is sent (a completed transaction
    /// only answers retransmissions with `last`; dropping it early keeps the
    /// tens of thousands of transactions Timer J/L hold at high rates small).
    request: Option<Box<Message>>,
    flow: Flow,
    last: Option<Bytes>,
    pending: Option<Bytes>,
    deadline: Option<Instant>,
}

struct ClientTx {
    key: ClientKey,
    machine: ClientMachine,
    request: Bytes,
    /// Parsed copy of an INVITE we sent (needed to build ACK and CANCEL): given,
    /// or parsed from `request` on first use when `lazy_invite` (most calls
    /// never need it).
    invite: OnceCell<Option<Message>>,
    lazy_invite: bool,
    dest: Destination,
    ack: Option<Bytes>,
    last_response: Option<(Message, Flow)>,
    deadline: Option<Instant>,
}

impl ClientTx {
    fn invite(&self) -> Option<&Message> {
        self.invite
            .get_or_init(|| {
                self.lazy_invite
                    .then(|| Message::parse(self.request.clone(), &Default::default()).ok())
                    .flatten()
            })
            .as_ref()
    }
}

/// All transactions of the engine.
pub struct Layer {
    cfg: TimerConfig,
    // Boxed: a transaction is large (it holds the parsed request), and B-tree
    // nodes move their values on every insert and remove.
    servers: BTreeMap<TxId, Box<ServerTx>>,
    clients: BTreeMap<TxId, Box<ClientTx>>,
    // Keyed hash maps: keys are long strings from the network (branch,
    // sent-by, Call-ID…), and a B-tree compared them byte by byte a dozen
    // times per lookup with 100,000 transactions held for Timer J/K.
    server_keys: HashMap<ServerKey, TxId>,
    /// §8.2.2.2 index: the keyed hash of a transaction's [`MergeKey`] (the key
    /// itself stays in the transaction, which a hit is checked against), so a
    /// lookup for every new request builds no key. Two live keys with the same
    /// 64-bit hash (about 1 in 10^9 with 100,000 held) only cost a missed merge.
    merge_keys: HashMap<u64, TxId>,
    merge_hasher: SeededState,
    client_keys: HashMap<ClientKey, TxId>,
    deadlines: BTreeSet<(Instant, TxId)>,
    next: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
    server_header: Bytes,
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("servers", &self.servers.len())
            .field("clients", &self.clients.len())
            .finish()
    }
}

/// The server-transaction key of a request, from its top Via.
pub fn server_key(msg: &Message, flow: &Flow) -> Option<ServerKey> {
    let method = msg.method()?;
    // A borrowed view of the top Via: no parameter list is built.
    ViaView::with(msg.top_via_value(), |via| {
        let transport = via.transport_kind().unwrap_or(flow.transport);
        let sent_by = SentBy::from_host(&via.host, via.port, transport);
        ServerKey::for_request(via.branch, sent_by, method, || {
            Rfc2543Key::new(
                msg.request_uri().unwrap_or(""),
                msg.to_tag(),
                msg.from_tag(),
                msg.call_id(),
                msg.cseq().seq,
                msg.top_via_value(),
                method,
            )
        })
    })
}

impl Layer {
    /// An empty layer. `server_header` is added to the 100 (Trying) responses it
    /// builds; `keys` seeds the hash of the transaction-key maps.
    pub fn new(cfg: TimerConfig, server_header: &str, keys: SeededState) -> Self {
        Self {
            cfg,
            servers: BTreeMap::new(),
            clients: BTreeMap::new(),
            server_keys: HashMap::with_hasher(keys),
            merge_keys: HashMap::with_hasher(keys),
            merge_hasher: keys,
            client_keys: HashMap::with_hasher(keys),
            deadlines: BTreeSet::new(),
            next: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            server_header: Bytes::copy_from_slice(server_header.as_bytes()),
        }
    }

    /// The timer configuration.
    pub fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    /// Live server transactions.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Live client transactions.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    fn alloc(&mut self) -> TxId {
        self.next += 1;
        TxId(self.next)
    }

    /// Matches an incoming request against the server transactions.
    pub fn receive_request(&mut self, now: Instant, msg: &Message, flow: &Flow) -> RequestMatch {
        self.receive_request_keyed(now, msg, server_key(msg, flow).as_ref())
    }

    /// [`Layer::receive_request`] with the request's key already computed
    /// ([`server_key`]), so a caller that goes on to [`Layer::create_server_keyed`]
    /// computes it once.
    pub fn receive_request_keyed(
        &mut self,
        now: Instant,
        msg: &Message,
        key: Option<&ServerKey>,
    ) -> RequestMatch {
        let Some(key) = key else {
            return RequestMatch::New;
        };
        let is_ack = msg.method() == Some(&Method::Ack);
        if let Some(target) = key.cancel_target() {
            if let Some(&id) = self.server_keys.get(key) {
                self.server_retransmission(now, id);
                return RequestMatch::Retransmission;
            }
            return RequestMatch::Cancel(self.server_keys.get(&target).copied());
        }
        let found = self.server_keys.get(key).copied();
        match (found, is_ack) {
            (Some(id), true) => {
                let deliver = self.server_ack(now, id);
                if deliver {
                    RequestMatch::AckUnmatched
                } else {
                    RequestMatch::AckAbsorbed
                }
            }
            (Some(id), false) => {
                self.server_retransmission(now, id);
                RequestMatch::Retransmission
            }
            (None, true) => RequestMatch::AckUnmatched,
            (None, false) => RequestMatch::New,
        }
    }

    fn server_ack(&mut self, now: Instant, id: TxId) -> bool {
        let Some(tx) = self.servers.get_mut(&id) else {
            return false;
        };
        match &mut tx.machine {
            ServerMachine::Invite(m) => m.handle_ack(now),
            ServerMachine::NonInvite(_) => return false,
        }
        self.drain_server(id)
    }

    fn server_retransmission(&mut self, now: Instant, id: TxId) {
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        match &mut tx.machine {
            ServerMachine::Invite(m) => m.handle_request_retransmission(now),
            ServerMachine::NonInvite(m) => m.handle_request_retransmission(now),
        }
        self.drain_server(id);
    }

    /// §8.2.2.2: a live server transaction for the same request (From tag, Call-ID,
    /// CSeq, no To tag) that arrived by another path (the new one did not match it).
    pub fn merged_with(&self, msg: &Message) -> Option<TxId> {
        let (from_tag, call_id, seq, method) = merge_parts(msg)?;
        let h = merge_hash(&self.merge_hasher, from_tag, call_id, seq, method);
        let id = *self.merge_keys.get(&h)?;
        let (f, c, q, m) = self.servers.get(&id)?.merge.as_ref()?;
        (**f == *from_tag && **c == *call_id && *q == seq && m == method).then_some(id)
    }

    /// Creates a server transaction for a new request (not ACK) that arrived on `flow`.
    pub fn create_server(&mut self, now: Instant, msg: Message, flow: Flow) -> TxId {
        let key = server_key(&msg, &flow);
        self.create_server_keyed(now, msg, flow, key)
    }

    /// [`Layer::create_server`] with the request's key already computed ([`server_key`]).
    pub fn create_server_keyed(
        &mut self,
        now: Instant,
        msg: Message,
        flow: Flow,
        key: Option<ServerKey>,
    ) -> TxId {
        let id = self.alloc();
        let key = key.unwrap_or_else(|| {
            // A request always has a method and a Via (the codec checked); if the Via
            // did not parse, file it under a key no retransmission can match.
            ServerKey::rfc3261(
                &format!("z9hG4bK-unmatchable-{}", id.0),
                SentBy::new("invalid", None, flow.transport),
                msg.method().unwrap_or(&Method::Options),
            )
        });
        let reliable = flow.transport.is_reliable();
        let machine = if msg.method() == Some(&Method::Invite) {
            ServerMachine::Invite(ServerInvite::new(now, &self.cfg, reliable))
        } else {
            ServerMachine::NonInvite(ServerNonInvite::new(now, &self.cfg, reliable))
        };
        self.server_keys.insert(key.clone(), id);
        let merge = merge_key(&msg);
        if let Some((f, c, q, m)) = &merge {
            let h = merge_hash(&self.merge_hasher, f, c, *q, m);
            self.merge_keys.insert(h, id);
        }
        self.servers.insert(
            id,
            Box::new(ServerTx {
                key,
                merge,
                ack_key: None,
                machine,
                request: Some(Box::new(msg)),
                flow,
                last: None,
                pending: None,
                deadline: None,
            }),
        );
        self.drain_server(id);
        id
    }

    /// The request of a server transaction.
    pub fn server_request(&self, id: TxId) -> Option<&Message> {
        self.servers.get(&id).and_then(|t| t.request.as_deref())
    }

    /// The flow a server transaction's request came on.
    pub fn server_flow(&self, id: TxId) -> Option<Flow> {
        self.servers.get(&id).map(|t| t.flow)
    }

    /// Transactions still in progress: server transactions that have not sent a
    /// final response, client transactions that have not received one. (Completed
    /// transactions lingering to absorb retransmissions are not counted.) O(n):
    /// meant for shutdown and diagnostics.
    pub fn in_flight(&self) -> usize {
        use super::{client_invite::State as Ci, client_non_invite::State as Cn};
        let servers = self
            .servers
            .keys()
            .filter(|id| self.server_is_pending(**id))
            .count();
        let clients = self
            .clients
            .values()
            .filter(|t| match &t.machine {
                ClientMachine::Invite(m) => matches!(m.state(), Ci::Calling | Ci::Proceeding),
                ClientMachine::NonInvite(m) => matches!(m.state(), Cn::Trying | Cn::Proceeding),
            })
            .count();
        servers + clients
    }

    /// Is this server transaction still able to send a final response?
    pub fn server_is_pending(&self, id: TxId) -> bool {
        self.servers
            .get(&id)
            .is_some_and(|t| server_machine_pending(&t.machine))
    }

    /// The TU responds on a server transaction with `response` (status `status`).
    /// Returns false if the machine refused it (e.g. a second final response).
    pub fn respond(&mut self, now: Instant, id: TxId, status: u16, response: Bytes) -> bool {
        let Some(tx) = self.servers.get_mut(&id) else {
            return false;
        };
        tx.pending = Some(response);
        match &mut tx.machine {
            ServerMachine::Invite(m) => m.handle_tu_response(now, status),
            ServerMachine::NonInvite(m) => m.handle_tu_response(now, status),
        }
        let sent = self.drain_server(id);
        if let Some(tx) = self.servers.get_mut(&id) {
            tx.pending = None;
        }
        sent
    }

    /// Answers server transaction `id` with a final response *statelessly*
    /// (RFC 3261 §8.2.7) and forgets it at once: the response goes out on the
    /// request's flow, no state is kept for Timer J/H, and a retransmitted
    /// request is simply answered again. Meant for digest challenges (401/407):
    /// half of all REGISTER and INVITE transactions are challenges, and keeping
    /// them for 32 s only to absorb retransmissions cost as much memory as the
    /// registrations themselves. The ACK for a stateless 407 to an INVITE then
    /// matches no transaction; the TU recognises it by the To tag it chose.
    pub fn respond_stateless(&mut self, id: TxId, response: Bytes) -> bool {
        let Some(flow) = self.servers.get(&id).map(|tx| tx.flow) else {
            return false;
        };
        self.transmits.push_back(flow_transmit(&flow, response));
        self.forget_server(id);
        true
    }

    /// Removes server transaction `id` with its keys and deadline, and tells the TU.
    fn forget_server(&mut self, id: TxId) {
        if let Some(tx) = self.servers.remove(&id) {
            if let Some(d) = tx.deadline {
                self.deadlines.remove(&(d, id));
            }
            self.server_keys.remove(&tx.key);
            if let Some((f, c, q, m)) = &tx.merge {
                let h = merge_hash(&self.merge_hasher, f, c, *q, m);
                if self.merge_keys.get(&h) == Some(&id) {
                    self.merge_keys.remove(&h);
                }
            }
            if let Some(k) = tx.ack_key {
                self.server_keys.remove(&k);
            }
        }
        self.events.push_back(TxEvent::Terminated {
            tx: id,
            server: true,
        });
    }

    /// Sends a response that belongs to no live server transaction state change: a 2xx
    /// retransmission passed through by a proxy (RFC 6026), on the server transaction's flow.
    pub fn send_on_server_flow(&mut self, id: TxId, data: Bytes) -> bool {
        let Some(tx) = self.servers.get(&id) else {
            return false;
        };
        self.transmits.push_back(flow_transmit(&tx.flow, data));
        true
    }

    /// Returns true when the machine's actions included sending the pending response
    /// (or, for `server_ack`, delivering the ACK).
    fn drain_server(&mut self, id: TxId) -> bool {
        let Some(tx) = self.servers.get_mut(&id) else {
            return false;
        };
        let mut flag = false;
        let mut terminated = false;
        loop {
            let action = match &mut tx.machine {
                ServerMachine::Invite(m) => m.poll_action(),
                ServerMachine::NonInvite(m) => m.poll_action(),
            };
            let Some(action) = action else { break };
            match action {
                ServerAction::Send => {
                    if let Some(resp) = tx.pending.take() {
                        // Only an RFC 2543 key changes for the ACK (it carries our To
                        // tag); an RFC 3261 key is the ACK's key as it is, so the
                        // response need not be parsed back.
                        if tx.ack_key.is_none()
                            && matches!(tx.key, ServerKey::Rfc2543(_))
                            && let Ok(parsed) = Message::parse(resp.clone(), &Default::default())
                        {
                            let k = tx.key.for_ack(parsed.to_tag());
                            if k != tx.key {
                                self.server_keys.insert(k.clone(), id);
                                tx.ack_key = Some(k);
                            }
                        }
                        self.transmits
                            .push_back(flow_transmit(&tx.flow, resp.clone()));
                        tx.last = Some(resp);
                        flag = true;
                    }
                }
                ServerAction::ResendLast => {
                    if let Some(last) = &tx.last {
                        self.transmits
                            .push_back(flow_transmit(&tx.flow, last.clone()));
                    }
                }
                ServerAction::Send100 => {
                    let Some(request) = &tx.request else { continue };
                    let trying = ResponseBuilder::for_request(request, 100, "Trying")
                        .received_from(tx.flow.remote)
                        .header_raw(
                            "Server",
                            std::str::from_utf8(&self.server_header).unwrap_or("Switchboard"),
                        )
                        .build();
                    self.transmits
                        .push_back(flow_transmit(&tx.flow, trying.clone()));
                    tx.last = Some(trying);
                }
                ServerAction::DeliverAck => flag = true,
                ServerAction::Absorb | ServerAction::RejectTuResponse => {}
                ServerAction::Timeout => self.events.push_back(TxEvent::AckTimeout { tx: id }),
                ServerAction::TransportError => self
                    .events
                    .push_back(TxEvent::ServerTransportError { tx: id }),
                ServerAction::Terminated => terminated = true,
            }
        }
        let deadline = match &tx.machine {
            ServerMachine::Invite(m) => m.poll_timeout(),
            ServerMachine::NonInvite(m) => m.poll_timeout(),
        };
        if !server_machine_pending(&tx.machine) {
            tx.request = None;
        }
        let old = std::mem::replace(&mut tx.deadline, deadline);
        if let Some(o) = old {
            self.deadlines.remove(&(o, id));
        }
        if terminated {
            self.forget_server(id);
        } else if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        flag
    }

    /// Starts a client transaction: sends `request` (whose top Via carries `branch`) to `dest`.
    /// For INVITE pass the parsed request as `invite` (used to build ACK for non-2xx).
    pub fn send_request(
        &mut self,
        now: Instant,
        branch: &str,
        method: &Method,
        request: Bytes,
        invite: Option<Message>,
        dest: Destination,
    ) -> TxId {
        let lazy = false;
        self.start_client(now, branch, method, request, invite, lazy, dest)
    }

    /// Starts a client INVITE transaction like [`Layer::send_request`], with the
    /// parsed copy of the request (for ACK and CANCEL) made from `request` only
    /// when first needed.
    pub fn send_invite(
        &mut self,
        now: Instant,
        branch: &str,
        request: Bytes,
        dest: Destination,
    ) -> TxId {
        self.start_client(now, branch, &Method::Invite, request, None, true, dest)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_client(
        &mut self,
        now: Instant,
        branch: &str,
        method: &Method,
        request: Bytes,
        invite: Option<Message>,
        lazy_invite: bool,
        dest: Destination,
    ) -> TxId {
        let id = self.alloc();
        let key = ClientKey::new(branch, method);
        let reliable = dest.transport.is_reliable();
        let machine = if *method == Method::Invite {
            ClientMachine::Invite(ClientInvite::new(now, &self.cfg, reliable))
        } else {
            ClientMachine::NonInvite(ClientNonInvite::new(now, &self.cfg, reliable))
        };
        self.transmits
            .push_back(dest_transmit(&dest, request.clone()));
        self.client_keys.insert(key.clone(), id);
        self.clients.insert(
            id,
            Box::new(ClientTx {
                key,
                machine,
                request,
                invite: invite.map_or_else(OnceCell::new, |m| OnceCell::from(Some(m))),
                lazy_invite,
                dest,
                ack: None,
                last_response: None,
                deadline: None,
            }),
        );
        self.drain_client(id);
        id
    }

    /// The destination of a client transaction.
    pub fn client_destination(&self, id: TxId) -> Option<Destination> {
        self.clients.get(&id).map(|t| t.dest)
    }

    /// The request bytes a client transaction sent (to resend it changed,
    /// e.g. with credentials after a 401/407, RFC 3261 §22.2).
    pub fn client_request(&self, id: TxId) -> Option<&Bytes> {
        self.clients.get(&id).map(|t| &t.request)
    }

    /// The parsed INVITE of a client INVITE transaction.
    pub fn client_invite(&self, id: TxId) -> Option<&Message> {
        self.clients.get(&id).and_then(|t| t.invite())
    }

    /// Matches a response to a client transaction; returns its id if one matched.
    pub fn receive_response(&mut self, now: Instant, msg: Message, flow: Flow) -> Option<TxId> {
        let branch = msg.top_via_branch()?;
        let key = ClientKey::new(branch, &msg.cseq().method);
        let id = *self.client_keys.get(&key)?;
        let status = msg.status()?;
        let tx = self.clients.get_mut(&id)?;
        tx.last_response = Some((msg, flow));
        match &mut tx.machine {
            ClientMachine::Invite(m) => m.handle_response(now, status),
            ClientMachine::NonInvite(m) => m.handle_response(now, status),
        }
        self.drain_client(id);
        Some(id)
    }

    fn drain_client(&mut self, id: TxId) {
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        let mut terminated = false;
        loop {
            let action = match &mut tx.machine {
                ClientMachine::Invite(m) => m.poll_action(),
                ClientMachine::NonInvite(m) => m.poll_action(),
            };
            let Some(action) = action else { break };
            match action {
                ClientAction::Retransmit => {
                    self.transmits
                        .push_back(dest_transmit(&tx.dest, tx.request.clone()));
                }
                ClientAction::Deliver => {
                    if let Some((response, flow)) = tx.last_response.take() {
                        self.events.push_back(TxEvent::Response {
                            tx: id,
                            response: Box::new(response),
                            flow,
                        });
                    }
                }
                ClientAction::SendAck => {
                    if tx.ack.is_none()
                        && let (Some(inv), Some((resp, _))) = (tx.invite(), &tx.last_response)
                    {
                        tx.ack = Some(ack_for_non2xx(inv, resp));
                    }
                    if let Some(ack) = &tx.ack {
                        self.transmits
                            .push_back(dest_transmit(&tx.dest, ack.clone()));
                    }
                }
                ClientAction::Absorb => {}
                ClientAction::Timeout => self.events.push_back(TxEvent::Timeout { tx: id }),
                ClientAction::TransportError => {
                    self.events.push_back(TxEvent::TransportError { tx: id })
                }
                ClientAction::Terminated => terminated = true,
            }
        }
        // A delivered response is handed over above; anything left is a retransmission.
        tx.last_response = None;
        let deadline = match &tx.machine {
            ClientMachine::Invite(m) => m.poll_timeout(),
            ClientMachine::NonInvite(m) => m.poll_timeout(),
        };
        let old = std::mem::replace(&mut tx.deadline, deadline);
        if let Some(o) = old {
            self.deadlines.remove(&(o, id));
        }
        if terminated {
            if let Some(tx) = self.clients.remove(&id) {
                if let Some(d) = tx.deadline {
                    self.deadlines.remove(&(d, id));
                }
                self.client_keys.remove(&tx.key);
            }
            self.events.push_back(TxEvent::Terminated {
                tx: id,
                server: false,
            });
        } else if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
    }

    /// The earliest deadline of any transaction.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, id));
            if let Some(tx) = self.servers.get_mut(&id) {
                tx.deadline = None;
                match &mut tx.machine {
                    ServerMachine::Invite(m) => m.handle_timeout(now),
                    ServerMachine::NonInvite(m) => m.handle_timeout(now),
                }
                self.drain_server(id);
            } else if let Some(tx) = self.clients.get_mut(&id) {
                tx.deadline = None;
                match &mut tx.machine {
                    ClientMachine::Invite(m) => m.handle_timeout(now),
                    ClientMachine::NonInvite(m) => m.handle_timeout(now),
                }
                self.drain_client(id);
            }
        }
    }

    /// A connection closed (or failed to open): every transaction using it sees a
    /// transport error. `addr` (its transport and remote address) also catches client
    /// transactions whose request was waiting for that connection to open.
    pub fn connection_closed(
        &mut self,
        now: Instant,
        conn: ConnId,
        addr: Option<(Transport, SocketAddr)>,
    ) {
        let servers: Vec<TxId> = self
            .servers
            .iter()
            .filter(|(_, t)| t.flow.conn == Some(conn))
            .map(|(id, _)| *id)
            .collect();
        for id in servers {
            if let Some(tx) = self.servers.get_mut(&id) {
                match &mut tx.machine {
                    ServerMachine::Invite(m) => m.handle_transport_error(now),
                    ServerMachine::NonInvite(m) => m.handle_transport_error(now),
                }
            }
            self.drain_server(id);
        }
        let clients: Vec<TxId> = self
            .clients
            .iter()
            .filter(|(_, t)| {
                t.dest.conn == Some(conn)
                    || (t.dest.conn.is_none() && addr == Some((t.dest.transport, t.dest.remote)))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in clients {
            self.client_transport_error(now, id);
        }
    }

    /// A datagram to `remote` could not be sent (e.g. ICMP port unreachable): the
    /// client transactions sending there see a transport error (§17.1.4).
    pub fn send_failed(&mut self, now: Instant, transport: Transport, remote: SocketAddr) {
        let ids: Vec<TxId> = self
            .clients
            .iter()
            .filter(|(_, t)| t.dest.transport == transport && t.dest.remote == remote)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.client_transport_error(now, id);
        }
    }

    /// Sending a client transaction's request failed (e.g. the connection could not be opened).
    pub fn client_transport_error(&mut self, now: Instant, id: TxId) {
        if let Some(tx) = self.clients.get_mut(&id) {
            match &mut tx.machine {
                ClientMachine::Invite(m) => m.handle_transport_error(now),
                ClientMachine::NonInvite(m) => m.handle_transport_error(now),
            }
        }
        self.drain_client(id);
    }

    /// Binds a client transaction to the connection the runtime opened for it.
    pub fn set_client_conn(&mut self, id: TxId, conn: ConnId) {
        if let Some(tx) = self.clients.get_mut(&id) {
            tx.dest.conn = Some(conn);
        }
    }

    /// The next datagram or stream write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }
}

/// Can the machine still send a final response (it has not sent one)?
fn server_machine_pending(m: &ServerMachine) -> bool {
    match m {
        ServerMachine::Invite(m) => m.state() == super::server_invite::State::Proceeding,
        ServerMachine::NonInvite(m) => matches!(
            m.state(),
            super::server_non_invite::State::Trying | super::server_non_invite::State::Proceeding
        ),
    }
}

/// A transmit back along the flow a request came on (the connection for
/// reliable transports; the source address for UDP: symmetric response routing,
/// RFC 3581 / `force_rport`).
pub fn flow_transmit(flow: &Flow, data: Bytes) -> Transmit {
    Transmit {
        transport: flow.transport,
        local: Some(flow.local),
        remote: flow.remote,
        conn: flow.conn,
        data,
    }
}

/// A transmit toward a client transaction's destination (or any destination).
pub fn dest_transmit(dest: &Destination, data: Bytes) -> Transmit {
    Transmit {
        transport: dest.transport,
        local: dest.local,
        remote: dest.remote,
        conn: dest.conn,
        data,
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;
    use crate::sip::Limits;

    fn register(branch: &str, cseq: u32, to_tag: &str) -> Message {
        let raw = format!(
            "REGISTER sip:example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.9:5060;branch={branch}\r\n\
             From: <sip:a@example.com>;tag=f1\r\nTo: <sip:a@example.com>{to_tag}\r\n\
             Call-ID: c1\r\nCSeq: {cseq} REGISTER\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(raw), &Limits::default()).expect("valid request")
    }

    #[test]
    fn merged_requests_are_found_by_from_tag_call_id_and_cseq_only() {
        // RFC 3261 §8.2.2.2: same From tag, Call-ID and CSeq, no To tag, another branch.
        let now = crate::test_epoch();
        let mut layer = Layer::new(TimerConfig::default(), "test", SeededState::default());
        let flow = Flow {
            transport: Transport::Udp,
            local: "192.0.2.1:5060".parse().expect("literal"),
            remote: "192.0.2.9:5060".parse().expect("literal"),
            conn: None,
        };
        assert_eq!(layer.merged_with(&register("z9hG4bKb", 1, "")), None);
        let id = layer.create_server(now, register("z9hG4bKa", 1, ""), flow);
        assert_eq!(layer.merged_with(&register("z9hG4bKb", 1, "")), Some(id));
        assert_eq!(layer.merged_with(&register("z9hG4bKb", 2, "")), None);
        assert_eq!(layer.merged_with(&register("z9hG4bKb", 1, ";tag=t")), None);
        // Gone with its transaction.
        assert!(layer.respond_stateless(id, Bytes::from_static(b"SIP/2.0 401 x\r\n\r\n")));
        assert_eq!(layer.merged_with(&register("z9hG4bKb", 1, "")), None);
    }
}
