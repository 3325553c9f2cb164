//! Picks up extension changes made by another process (the CLI, later the API)
//! while the server runs, without a restart: within about a second.
//!
//! Cheap when nothing changed: `PRAGMA data_version` is compared first (it moves
//! on any commit by another connection, including our own storage worker's),
//! then the extensions generation counter (moved only by extension writes);
//! only then are the extensions read and the differences sent to the engine.
//!
//! The watcher starts from what the engine was loaded with (the list and the
//! generation read *before* it at start-up), not from its own first read: a
//! change committed between the engine's load and the watcher's start (e.g.
//! `switchboard ext add` right after the ready line) is then seen as a
//! difference instead of being taken as already known and never sent.
//!
//! Routing (destinations and routes, issue 4) is watched the same way with its
//! own counter ([`watch_routing`]) but reloaded whole: the new configuration is
//! sent with `Command::ReplaceRouting`, which the engine validates and swaps in
//! at once. If the engine refuses it, the error is logged with the reason and
//! the previous table keeps serving.

use crate::engine_loop::{ToEngine, command};
use crate::server::{core_extension, routing_config, routing_summary};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_core::Command;
use switchboard_storage::settings::Routing as RoutingSettings;
use switchboard_storage::{Db, Extension, StorageError};
use tokio::sync::mpsc;

/// How often the database is checked.
pub const POLL: Duration = Duration::from_millis(500);

/// A 64-bit fingerprint of an extension row: the watcher remembers these, not
/// the rows (a second copy of 100,000 extensions cost ~40 MB of RSS).
pub fn fingerprint(e: &Extension) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    e.hash(&mut h);
    h.finish()
}

/// The fingerprints of `extensions`, by username.
pub fn fingerprints(extensions: &[Extension]) -> BTreeMap<String, u64> {
    extensions
        .iter()
        .map(|e| (e.username.clone(), fingerprint(e)))
        .collect()
}

/// Change detection shared by the watchers: `PRAGMA data_version` first (cheap,
/// moves on any commit), then the watcher's own generation counter; a change
/// that failed to load is retried on the next tick and reported once.
struct Changes {
    /// The data version last looked at; `None` compares the generation on the
    /// next tick whatever data_version says (its baseline is this
    /// connection's first read, possibly after a change).
    version: Option<i64>,
    /// The generation in force.
    generation: i64,
    /// A generation that failed to load (already reported).
    failed: Option<i64>,
}

impl Changes {
    fn new(generation: i64) -> Self {
        Self {
            version: None,
            generation,
            failed: None,
        }
    }

    /// The new generation, if the database moved past the one in force.
    fn poll(
        &mut self,
        db: &Db,
        generation: impl Fn(&Db) -> Result<i64, StorageError>,
    ) -> Option<i64> {
        let v = db.data_version().ok()?;
        if self.version == Some(v) {
            return None;
        }
        self.version = Some(v);
        generation(db).ok().filter(|g| *g != self.generation)
    }

    /// `g` is in force.
    fn loaded(&mut self, g: i64) {
        self.generation = g;
        self.failed = None;
    }

    /// `g` could not be loaded: retry next tick; true the first time (report it).
    fn failed(&mut self, g: i64) -> bool {
        self.version = None;
        self.failed.replace(g) != Some(g)
    }
}

/// Watches the database at `path` and sends extension changes to the engine.
/// `loaded` fingerprints what the engine holds ([`fingerprints`]), read after
/// the extensions generation counter gave `generation`.
pub async fn watch_extensions(
    path: PathBuf,
    tx: mpsc::Sender<ToEngine>,
    loaded: BTreeMap<String, u64>,
    generation: i64,
) {
    let db = match Db::open(&path) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!("extension changes will not be picked up: {e}");
            return;
        }
    };
    let mut known = loaded;
    let mut changes = Changes::new(generation);
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let Some(g) = changes.poll(&db, Db::extensions_generation) else {
            continue;
        };
        let now: BTreeMap<String, Extension> = match db.list_extensions() {
            Ok(v) => v.into_iter().map(|e| (e.username.clone(), e)).collect(),
            Err(e) => {
                if changes.failed(g) {
                    tracing::error!("cannot reload extensions: {e}; retrying");
                }
                continue;
            }
        };
        for (user, e) in &now {
            if known.get(user) != Some(&fingerprint(e)) {
                tracing::info!("extension {user} changed: reloading it");
                if let Err(err) = command(&tx, Command::UpsertExtension(core_extension(e))).await {
                    tracing::warn!("extension {user}: {err}");
                }
            }
        }
        for user in known.keys().filter(|u| !now.contains_key(*u)) {
            tracing::info!("extension {user} removed");
            let _ = command(&tx, Command::RemoveExtension(user.clone())).await;
        }
        known = now
            .iter()
            .map(|(u, e)| (u.clone(), fingerprint(e)))
            .collect();
        changes.loaded(g);
    }
}

/// Watches the database at `path` for routing changes and puts each new
/// configuration in force (`Command::ReplaceRouting`). `generation` is the
/// routing generation read before the configuration the engine was started
/// with.
pub async fn watch_routing(
    path: PathBuf,
    tx: mpsc::Sender<ToEngine>,
    settings: RoutingSettings,
    generation: i64,
) {
    let db = match Db::open(&path) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!("routing changes will not be picked up: {e}");
            return;
        }
    };
    let mut changes = Changes::new(generation);
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let Some(g) = changes.poll(&db, Db::routing_generation) else {
            continue;
        };
        let cfg = match routing_config(&db, &settings) {
            Ok(cfg) => cfg,
            Err(e) => {
                if changes.failed(g) {
                    tracing::error!(
                        "cannot reload the routing: {e}; the previous routing stays in force; retrying"
                    );
                }
                continue;
            }
        };
        changes.loaded(g);
        let summary = routing_summary(&cfg);
        let unverified = crate::tlsdest::unverified(&cfg);
        match command(&tx, Command::ReplaceRouting(cfg)).await {
            Ok(()) => {
                tracing::info!("{summary}");
                crate::tlsdest::warn_unverified(&unverified);
            }
            Err(e) => {
                tracing::error!("routing change refused: {e}; the previous routing stays in force")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(user: &str) -> Extension {
        Extension::new(user, "example.test", "0".repeat(32), "0".repeat(64))
    }

    /// The next extension command the watcher sends (answered), within 3 s.
    async fn next_upsert(rx: &mut mpsc::Receiver<ToEngine>) -> String {
        let msg = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .expect("a command within 3 s")
            .expect("the watcher is running");
        match msg {
            ToEngine::Command(Command::UpsertExtension(e), reply) => {
                if let Some(r) = reply {
                    let _ = r.send(Ok(()));
                }
                e.username
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_change_is_seen_once_and_a_failed_load_is_retried_and_reported_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sb.db");
        let mut db = Db::open(&path).expect("open");
        let watcher = Db::open(&path).expect("open");
        let mut c = Changes::new(watcher.extensions_generation().expect("generation"));
        assert_eq!(
            c.poll(&watcher, Db::extensions_generation),
            None,
            "nothing changed"
        );
        db.upsert_extension(&ext("101")).expect("add 101");
        let g = c
            .poll(&watcher, Db::extensions_generation)
            .expect("the write is seen");
        // The load fails: reported the first time only, and polled again.
        assert!(c.failed(g));
        assert_eq!(c.poll(&watcher, Db::extensions_generation), Some(g));
        assert!(!c.failed(g), "the same failure is not reported twice");
        assert_eq!(c.poll(&watcher, Db::extensions_generation), Some(g));
        c.loaded(g);
        assert_eq!(c.poll(&watcher, Db::extensions_generation), None);
    }

    #[tokio::test]
    async fn a_change_between_load_and_watcher_start_is_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sb.db");
        let mut db = Db::open(&path).expect("open");
        db.upsert_extension(&ext("101")).expect("add 101");
        // What the engine was loaded with…
        let generation = db.extensions_generation().expect("generation");
        let loaded = db.list_extensions().expect("list");
        // …then another process adds 103 before the watcher has started.
        db.upsert_extension(&ext("103")).expect("add 103");
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(watch_extensions(
            path,
            tx,
            fingerprints(&loaded),
            generation,
        ));
        assert_eq!(next_upsert(&mut rx).await, "103");
        task.abort();
    }

    #[tokio::test]
    async fn a_routing_change_is_sent_whole_with_the_settings() {
        use switchboard_core::routing::{Destination, Selection};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sb.db");
        let mut db = Db::open(&path).expect("open");
        let generation = db.routing_generation().expect("generation");
        let settings = RoutingSettings {
            selection: switchboard_storage::RouteSelection::LoadSharing,
            failover_on_decline: true,
        };
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(watch_routing(path, tx, settings, generation));
        db.upsert_destination(&Destination {
            password: Some("pw".into()),
            ..Destination::new("gw", "192.0.2.1")
        })
        .expect("add");
        let msg = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .expect("a command within 3 s")
            .expect("the watcher is running");
        match msg {
            ToEngine::Command(Command::ReplaceRouting(cfg), reply) => {
                assert_eq!(cfg.destinations.len(), 1);
                assert_eq!(cfg.destinations[0].password.as_deref(), Some("pw"));
                assert_eq!(cfg.selection, Selection::LoadSharing);
                assert!(cfg.failover_on_decline);
                if let Some(r) = reply {
                    let _ = r.send(Ok(()));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
        task.abort();
    }

    #[tokio::test]
    async fn a_change_after_start_is_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sb.db");
        let mut db = Db::open(&path).expect("open");
        let generation = db.extensions_generation().expect("generation");
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(watch_extensions(path, tx, BTreeMap::new(), generation));
        db.upsert_extension(&ext("104")).expect("add 104");
        assert_eq!(next_upsert(&mut rx).await, "104");
        task.abort();
    }
}
