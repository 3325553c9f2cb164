//! What the server does with the engine's events: log lines at TekSIP's levels,
//! and the writes that must survive a restart (saved registrations, call records,
//! the application log) sent to the storage worker.

use crate::storage_worker::StorageTx;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};
use switchboard_core::event::{EndCause, LogLevel as CoreLevel, UnbindReason};
use switchboard_core::registrar::Binding;
use switchboard_core::{Engine, Event};
use switchboard_storage::{CallRecord, LogEntry, LogLevel, Op, SavedBinding};

/// A call in progress, as far as accounting is concerned.
#[derive(Debug, Clone)]
struct Call {
    call_id: String,
    caller: String,
    callee: String,
    start_ms: i64,
    answer_ms: Option<i64>,
}

/// Turns events into log lines and storage writes.
#[derive(Debug)]
pub struct EventSink {
    storage: Option<StorageTx>,
    save_registrations: bool,
    calls: BTreeMap<u64, Call>,
    /// A binding write was queued since [`EventSink::take_durable`] was last called.
    durable: bool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Converts the engine's binding into the stored form.
pub fn saved_binding(aor: &str, b: &Binding, now: std::time::Instant) -> SavedBinding {
    let left = b.expires_at.saturating_duration_since(now).as_secs() as i64;
    SavedBinding {
        aor: aor.to_owned(),
        contact: b.contact.to_string(),
        contact_key: b.contact_key.to_string(),
        q: b.q,
        expires_at: now_ms() / 1000 + left,
        call_id: b.call_id.to_string(),
        cseq: b.cseq,
        transport: b.flow.transport.param().to_owned(),
        local_addr: b.flow.local,
        remote_addr: b.flow.remote,
        instance: b.instance.as_deref().map(str::to_owned),
        reg_id: b.reg_id,
        path: b.path.iter().map(|p| p.to_string()).collect(),
        user_agent: b.user_agent.as_deref().map(str::to_owned),
    }
}

impl EventSink {
    /// A sink writing to `storage` (if any); bindings are saved only when
    /// `save_registrations` is on.
    pub fn new(storage: Option<StorageTx>, save_registrations: bool) -> Self {
        Self {
            storage,
            save_registrations,
            calls: BTreeMap::new(),
            durable: false,
        }
    }

    /// Whether a write that must be on disk before the engine's answer leaves
    /// (a saved or deleted binding: the 200 to a REGISTER acknowledges it) was
    /// queued since the last call; clears the flag.
    pub fn take_durable(&mut self) -> bool {
        std::mem::take(&mut self.durable)
    }

    fn store(&self, op: Op) {
        if let Some(s) = &self.storage {
            s.send(op);
        }
    }

    fn app_log(&self, level: LogLevel, message: String) {
        self.store(Op::AppendLog(LogEntry {
            ts_ms: now_ms(),
            level,
            message,
        }));
    }

    /// Handles one event.
    pub fn event(&mut self, engine: &Engine, e: Event) {
        match e {
            Event::Registered {
                aor,
                contact,
                expires,
                flow,
                refresh,
            } => {
                if refresh {
                    tracing::debug!("{aor}: refreshed {contact} for {expires} s from {flow}");
                } else {
                    tracing::info!("{aor}: registered {contact} for {expires} s from {flow}");
                }
                if self.save_registrations {
                    let now = std::time::Instant::now();
                    if let Some(b) = engine
                        .bindings_of(&aor)
                        .iter()
                        .find(|b| *b.contact == *contact)
                    {
                        self.store(Op::SaveBinding(saved_binding(&aor, b, now)));
                        self.durable = true;
                    }
                }
            }
            Event::Unregistered {
                aor,
                contact,
                reason,
            } => {
                let why = match reason {
                    UnbindReason::Expired => "expired",
                    UnbindReason::Unregistered => "unregistered",
                    UnbindReason::Replaced => "replaced by a new flow",
                    UnbindReason::Cleared => "cleared by an operator",
                    UnbindReason::ConnectionClosed => "its connection closed",
                    _ => "removed",
                };
                tracing::info!("{aor}: {contact} {why}");
                if self.save_registrations {
                    let key = switchboard_core::sip::Uri::parse(&contact)
                        .map(|u| switchboard_core::registrar::register::contact_key(&u))
                        .unwrap_or(contact);
                    self.store(Op::DeleteBinding {
                        aor,
                        contact_key: key,
                    });
                    self.durable = true;
                }
            }
            Event::AuthFailed {
                username,
                flow,
                reason,
            } => {
                let who = username.as_deref().unwrap_or("(no username)");
                tracing::warn!("authentication failed for {who} from {flow}: {reason}");
                self.app_log(
                    LogLevel::Warning,
                    format!("authentication failed for {who} from {flow}: {reason}"),
                );
            }
            Event::SessionStarted {
                id,
                call_id,
                caller,
                callee,
            } => {
                tracing::info!("call {id}: {caller} calls {callee} (Call-ID {call_id})");
                self.calls.insert(
                    id,
                    Call {
                        call_id,
                        caller,
                        callee,
                        start_ms: now_ms(),
                        answer_ms: None,
                    },
                );
            }
            Event::SessionAnswered { id } => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.answer_ms = Some(now_ms());
                    tracing::info!("call {id}: {} answered {}", c.callee, c.caller);
                }
            }
            Event::SessionEnded { id, cause } => {
                let Some(c) = self.calls.remove(&id) else {
                    return;
                };
                let (text, status) = match &cause {
                    EndCause::Bye { by_caller: true } => ("caller hung up".to_owned(), None),
                    EndCause::Bye { by_caller: false } => ("callee hung up".to_owned(), None),
                    EndCause::Cancelled => ("cancelled by the caller".to_owned(), None),
                    EndCause::Rejected(s) => (format!("rejected {s}"), Some(*s)),
                    EndCause::Timeout => ("no answer (timeout)".to_owned(), Some(408)),
                    EndCause::Terminated => ("terminated by an operator".to_owned(), None),
                    _ => ("ended".to_owned(), None),
                };
                let end = now_ms();
                let talk = c
                    .answer_ms
                    .map(|a| format!(", talked {} s", (end - a) / 1000))
                    .unwrap_or_default();
                tracing::info!("call {id}: {} → {} ended: {text}{talk}", c.caller, c.callee);
                self.store(Op::InsertCallRecord(CallRecord {
                    call_id: c.call_id,
                    caller: c.caller,
                    callee: c.callee,
                    start_ms: c.start_ms,
                    answer_ms: c.answer_ms,
                    end_ms: end,
                    cause: text,
                    status,
                }));
            }
            Event::Dropped { flow, reason } => {
                tracing::debug!("dropped a message from {flow}: {reason:?}")
            }
            Event::Log { level, message } => match level {
                CoreLevel::Error => {
                    tracing::error!("{message}");
                    self.app_log(LogLevel::Error, message);
                }
                CoreLevel::Warn => tracing::warn!("{message}"),
                CoreLevel::Session => tracing::info!("{message}"),
                CoreLevel::Debug => tracing::debug!("{message}"),
            },
            Event::UpstreamRegistration {
                destination,
                state,
                status,
                reason,
                expires,
            } => {
                let status = status
                    .map(|s| format!(" ({s} {reason})"))
                    .unwrap_or_else(|| {
                        if reason.is_empty() {
                            String::new()
                        } else {
                            format!(" ({reason})")
                        }
                    });
                let expires = expires.map(|e| format!(", {e} s")).unwrap_or_default();
                tracing::info!(
                    "upstream registration to {destination}: {state:?}{status}{expires}"
                );
            }
            Event::DestinationHealth {
                destination,
                up,
                reason,
            } => {
                let state = if up { "up" } else { "down" };
                tracing::info!("destination {destination} is {state} ({reason})");
            }
            other => tracing::debug!("{other:?}"),
        }
    }
}
