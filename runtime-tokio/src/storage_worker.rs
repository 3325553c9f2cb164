//! The storage worker: one thread that owns a database connection and applies
//! the engine's writes in batches (one transaction per batch), so the engine
//! task never waits for the disk.
//!
//! Writes arrive through a bounded channel. When the channel is full the write
//! is counted as lost and an error is logged — never silently. A failed batch
//! (disk full, locked database) is reported with the file and the cause.
//!
//! A *barrier* ([`StorageTx::barrier`]) reports back, without blocking anyone,
//! once every write queued before it is committed: the engine task holds a
//! REGISTER's 200 until the binding it acknowledges is on disk (RFC 3261 §10.3
//! "Save Registrations": a kill -9 loses no acknowledged binding). Batching
//! still applies: one commit releases every barrier it covers.
//!
//! Writes nobody waits for (call records, log rows) are group-committed: they
//! wait up to [`LINGER`] for more to share one transaction.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;
use switchboard_storage::{Db, Op};

/// Most writes waiting for the worker.
const QUEUE: usize = 16_384;
/// Most writes in one transaction.
const BATCH: usize = 512;
/// How long writes nobody waits for (call records, log rows) may wait for
/// company before they are committed: one transaction per 50 ms instead of one
/// per call (the storage thread was 17 % of the server's CPU per proxied call).
/// Writes something waits for — saved bindings behind a held 200, a flush at
/// shutdown — are committed at once.
const LINGER: std::time::Duration = std::time::Duration::from_millis(50);

/// Counters shared with the rest of the server.
#[derive(Debug, Default)]
pub struct StorageStats {
    /// Writes applied.
    pub applied: AtomicU64,
    /// Writes lost (queue full, or their batch failed).
    pub lost: AtomicU64,
}

/// The sending side, cloned wherever writes originate.
#[derive(Debug, Clone)]
pub struct StorageTx {
    tx: SyncSender<Msg>,
    stats: Arc<StorageStats>,
}

enum Msg {
    Op(Box<Op>),
    Flush(std::sync::mpsc::Sender<()>),
    Barrier(u64, tokio::sync::mpsc::UnboundedSender<u64>),
}

/// Someone waiting for the writes queued before it to be committed.
enum Waiter {
    Flush(std::sync::mpsc::Sender<()>),
    Barrier(u64, tokio::sync::mpsc::UnboundedSender<u64>),
}

impl Waiter {
    fn wake(self) {
        match self {
            Self::Flush(done) => {
                let _ = done.send(());
            }
            Self::Barrier(id, done) => {
                let _ = done.send(id);
            }
        }
    }
}

impl StorageTx {
    /// Queues one write; never blocks.
    pub fn send(&self, op: Op) {
        match self.tx.try_send(Msg::Op(Box::new(op))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.stats.lost.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::error!(
                        "storage queue full: {n} writes lost so far (is the disk slow or full?)"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Asks for `id` to be sent on `done` once every write queued before this
    /// call is committed (or its batch failed, which is logged). Never blocks;
    /// `false` if the queue is full or the worker gone (nothing will be sent).
    pub fn barrier(&self, id: u64, done: &tokio::sync::mpsc::UnboundedSender<u64>) -> bool {
        self.tx.try_send(Msg::Barrier(id, done.clone())).is_ok()
    }

    /// Waits until every write queued before this call is applied (or failed).
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(std::time::Duration::from_secs(10));
        }
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<StorageStats> {
        &self.stats
    }
}

/// Starts the worker on `db`; returns the sender and the thread handle (it ends
/// when every sender is dropped).
pub fn start(db: Db) -> (StorageTx, JoinHandle<()>) {
    let (tx, rx) = sync_channel(QUEUE);
    let stats = Arc::new(StorageStats::default());
    let st = stats.clone();
    let path = db.path().to_path_buf();
    let handle = std::thread::Builder::new()
        .name("storage".into())
        .spawn(move || run(db, rx, st, path))
        .expect("spawning the storage thread (only fails when the OS is out of threads)");
    (StorageTx { tx, stats }, handle)
}

fn run(mut db: Db, rx: Receiver<Msg>, stats: Arc<StorageStats>, path: PathBuf) {
    let mut batch: Vec<Op> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<Waiter> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut linger_until: Option<Instant> = None;
        loop {
            while let Some(m) = next.take() {
                match m {
                    Msg::Op(op) => batch.push(*op),
                    Msg::Flush(done) => waiting.push(Waiter::Flush(done)),
                    Msg::Barrier(id, done) => waiting.push(Waiter::Barrier(id, done)),
                }
                if batch.len() >= BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if batch.len() >= BATCH || batch.is_empty() || !waiting.is_empty() {
                break;
            }
            // Nobody waits for these writes (call records, log rows): gather
            // more for one transaction (group commit) instead of paying a WAL
            // commit per call.
            let until = *linger_until.get_or_insert_with(|| Instant::now() + LINGER);
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(m) => next = Some(m),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            match db.apply(&batch) {
                Ok(()) => {
                    stats
                        .applied
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.lost.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::error!("{} writes to {} lost: {e}", batch.len(), path.display());
                }
            }
            batch.clear();
        }
        for w in waiting.drain(..) {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_storage::CallRecord;

    fn record(i: usize) -> Op {
        Op::InsertCallRecord(CallRecord {
            call_id: format!("c{i}"),
            caller: "101".into(),
            callee: "102".into(),
            start_ms: 1,
            answer_ms: None,
            end_ms: 2,
            cause: "test".into(),
            status: Some(486),
        })
    }

    #[test]
    fn lingering_writes_are_committed_and_a_flush_does_not_wait_for_the_linger() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sb.db");
        let (tx, thread) = start(Db::open(&path).expect("open"));
        // Three writes nobody waits for: committed once the linger is over.
        for i in 0..3 {
            tx.send(record(i));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while tx.stats().applied.load(Ordering::Relaxed) < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "lingering writes never committed"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // A burst then a flush: the flush returns with everything committed.
        for i in 3..1_000 {
            tx.send(record(i));
        }
        tx.flush();
        assert_eq!(tx.stats().applied.load(Ordering::Relaxed), 1_000);
        let db = Db::open(&path).expect("open");
        assert_eq!(db.list_call_records(2_000, 0).expect("list").len(), 1_000);
        drop(tx);
        thread
            .join()
            .expect("the worker ends when its senders are gone");
    }
}
