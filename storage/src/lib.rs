//! # switchboard-storage: what survives a restart
//!
//! Persistence for Switchboard (ARCHITECTURE.md §2, §5). Unlike the Sans-IO
//! core, this crate does real I/O: it owns
//!
//! - [`db`]: the SQLite database (rusqlite, WAL mode, migrations recorded in
//!   `PRAGMA user_version`) with the provisioned extensions, the saved
//!   registrations (RFC 3261 §10.3 bindings), call records, the application
//!   log, and the routing destinations and routes (issue 4; destination
//!   passwords encrypted at rest with AES-256-GCM, key in
//!   `<data_dir>/secret.key`); and
//! - [`settings`]: the TOML settings file (`switchboard.toml`), every key
//!   optional with a default, sections after TekSIP's settings pages.
//!
//! Most types are plain structs (strings, integers, socket addresses) that the
//! runtime converts to and from the core's types. Routing is the exception: it
//! is stored as the core's own model (`switchboard_core::routing`) because
//! every write must pass the core's `RoutingConfig::validate` inside its
//! transaction (storage depends on core; the core, being Sans-IO, never on
//! storage). Extension passwords never reach this crate: extensions carry HA1
//! digests computed by `switchboard_core::auth::Ha1Set::from_password`.
//!
//! Errors name the file and the cause ([`StorageError`], [`SettingsError`]); a
//! database that cannot be read is an error, never a reason to start empty.

pub mod db;
pub mod error;
pub mod settings;

pub use db::{
    CallRecord, DEFAULT_BUSY_TIMEOUT, Db, Extension, KEY_FILE, LogEntry, LogLevel, Op,
    SCHEMA_VERSION, SavedBinding, StoredCallRecord, StoredDestination, StoredLogEntry, Upsert,
    kind_name, prefix_text, validate_username,
};
pub use error::StorageError;
pub use settings::{
    DigestAlgorithm, LoggingLevel, Rotation, RouteSelection, Settings, SettingsError, TransportMode,
};
