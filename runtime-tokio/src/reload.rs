//! Picks up extension changes made by another process (the CLI, later the API)
//! while the server runs, without a restart: within about a second.
//!
//! Cheap when nothing changed: `PRAGMA data_version` is compared first (it moves
//! on any commit by another connection, including our own storage worker's),
//! then the extensions generation counter (moved only by extension writes);
//! only then are the extensions read and the differences sent to the engine.

use crate::engine_loop::{ToEngine, command};
use crate::server::core_extension;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_core::Command;
use switchboard_storage::{Db, Extension};
use tokio::sync::mpsc;

/// How often the database is checked.
pub const POLL: Duration = Duration::from_millis(500);

/// Watches the database at `path` and sends extension changes to the engine.
pub async fn watch_extensions(path: PathBuf, tx: mpsc::Sender<ToEngine>) {
    let db = match Db::open(&path) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!("extension changes will not be picked up: {e}");
            return;
        }
    };
    let mut known: BTreeMap<String, Extension> = match db.list_extensions() {
        Ok(v) => v.into_iter().map(|e| (e.username.clone(), e)).collect(),
        Err(e) => {
            tracing::error!("extension changes will not be picked up: {e}");
            return;
        }
    };
    let mut version = db.data_version().unwrap_or(0);
    let mut generation = db.extensions_generation().unwrap_or(0);
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let Ok(v) = db.data_version() else { continue };
        if v == version {
            continue;
        }
        version = v;
        let Ok(g) = db.extensions_generation() else {
            continue;
        };
        if g == generation {
            continue;
        }
        generation = g;
        let now: BTreeMap<String, Extension> = match db.list_extensions() {
            Ok(v) => v.into_iter().map(|e| (e.username.clone(), e)).collect(),
            Err(e) => {
                tracing::error!("cannot reload extensions: {e}");
                continue;
            }
        };
        for (user, e) in &now {
            if known.get(user) != Some(e) {
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
        known = now;
    }
}
