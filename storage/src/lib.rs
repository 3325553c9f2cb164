//! # switchboard-storage: what survives a restart
//!
//! Persistence for Switchboard (ARCHITECTURE.md §2, §5). Unlike the Sans-IO
//! core, this crate does real I/O: it owns
//!
//! - [`db`]: the SQLite database (rusqlite, WAL mode, migrations recorded in
//!   `PRAGMA user_version`) with the provisioned extensions, the saved
//!   registrations (RFC 3261 §10.3 bindings), call records and the application
//!   log; and
//! - [`settings`]: the TOML settings file (`switchboard.toml`), every key
//!   optional with a default, sections after TekSIP's settings pages.
//!
//! The types are plain structs (strings, integers, socket addresses); the
//! runtime converts them to and from the core's types, so this crate does not
//! depend on `switchboard-core`. Passwords never reach it: extensions carry HA1
//! digests computed by `switchboard_core::auth::Ha1Set::from_password`.
//!
//! Errors name the file and the cause ([`StorageError`], [`SettingsError`]); a
//! database that cannot be read is an error, never a reason to start empty.

pub mod db;
pub mod error;
pub mod settings;

pub use db::{
    CallRecord, DEFAULT_BUSY_TIMEOUT, Db, Extension, LogEntry, LogLevel, Op, SCHEMA_VERSION,
    SavedBinding, StoredCallRecord, StoredLogEntry, Upsert, validate_username,
};
pub use error::StorageError;
pub use settings::{
    DigestAlgorithm, LoggingLevel, Rotation, Settings, SettingsError, TransportMode,
};
