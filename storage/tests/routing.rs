//! Routing storage against real files (issue 4): destination passwords are
//! encrypted at rest (AES-256-GCM, key in `<data_dir>/secret.key`), a wrong
//! or missing key is an error naming the file, and a version-1 database is
//! migrated with its extensions kept.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use switchboard_core::routing::{Destination, Prefix};
use switchboard_storage::{Db, Extension, KEY_FILE, SCHEMA_VERSION, StorageError};

const PASSWORD: &str = "Tr0ub4dor-and-3-horses";

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("switchboard.db")
}

fn dest(name: &str, password: Option<&str>) -> Destination {
    Destination {
        username: Some("acct-1".into()),
        password: password.map(Into::into),
        ..Destination::new(name, "sip.carrier.example")
    }
}

/// Does any file in `dir` (database, WAL, shared memory) contain `needle`?
fn any_file_contains(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read file");
        if bytes.windows(needle.len()).any(|w| w == needle) {
            hits.push(path);
        }
    }
    hits
}

#[test]
fn passwords_are_encrypted_at_rest_and_decrypt_with_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db_path(&dir);
    let mut db = Db::open(&path).expect("open");
    db.upsert_destination(&dest("carrier", Some(PASSWORD)))
        .expect("add");
    db.add_route("Default", "carrier", None, true)
        .expect("route");
    let key = path.with_file_name(KEY_FILE);
    assert_eq!(db.secret_key_path(), key);
    assert_eq!(std::fs::read(&key).expect("key").len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }
    // Neither the database nor its WAL holds the password's bytes…
    let data = path.parent().expect("data dir");
    let hits = any_file_contains(data, PASSWORD.as_bytes());
    assert_eq!(hits, Vec::<PathBuf>::new());
    drop(db);
    let hits = any_file_contains(data, PASSWORD.as_bytes());
    assert_eq!(hits, Vec::<PathBuf>::new(), "not after a checkpoint either");
    // …but another connection gets it back through the key.
    let db = Db::open(&path).expect("reopen");
    let cfg = db.load_routing().expect("load");
    assert_eq!(cfg.destinations[0].password.as_deref(), Some(PASSWORD));
    assert_eq!(cfg.routes[0].prefix, Prefix::Default);
    assert_eq!(cfg.validate(), Ok(()));
    // Listing never decrypts.
    let listed = db.list_destinations().expect("list");
    assert!(listed[0].password_set);
    assert_eq!(listed[0].destination.password, None);
}

#[test]
fn a_wrong_key_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db_path(&dir);
    let mut db = Db::open(&path).expect("open");
    db.upsert_destination(&dest("carrier", Some(PASSWORD)))
        .expect("add");
    let key = db.secret_key_path();
    std::fs::write(&key, [7u8; 32]).expect("replace the key");
    let e = db.load_routing().expect_err("wrong key");
    assert!(matches!(e, StorageError::SecretKey { .. }), "{e:?}");
    assert!(e.to_string().contains(&*key.to_string_lossy()), "{e}");
    assert!(e.to_string().contains("\"carrier\""), "{e}");
    // Listing and removing still work without decrypting.
    assert_eq!(db.list_destinations().expect("list").len(), 1);
}

#[test]
fn a_missing_key_with_stored_passwords_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db_path(&dir);
    let mut db = Db::open(&path).expect("open");
    db.upsert_destination(&dest("a", Some(PASSWORD)))
        .expect("add");
    let key = db.secret_key_path();
    std::fs::remove_file(&key).expect("lose the key");
    let e = db.load_routing().expect_err("missing key");
    assert!(e.to_string().contains("secret.key"), "{e}");
    assert!(e.to_string().contains("missing"), "{e}");
    // Storing another password would orphan the first: refused.
    let e = db
        .upsert_destination(&dest("b", Some("other")))
        .expect_err("no new key over old passwords");
    assert!(e.to_string().contains("1 destination password"), "{e}");
    assert!(!key.exists());
    // Without passwords, nothing needs the key.
    db.upsert_destination(&dest("b", None))
        .expect("no password");
    // Replacing the only encrypted one makes a new key.
    db.upsert_destination(&dest("a", Some("fresh")))
        .expect("replace a");
    assert!(key.exists());
    let cfg = db.load_routing().expect("load");
    assert_eq!(cfg.destinations[0].password.as_deref(), Some("fresh"));
}

#[test]
fn a_version_1_database_is_migrated_keeping_extensions() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db_path(&dir);
    {
        let mut db = Db::open(&path).expect("open");
        db.upsert_extension(&Extension::new(
            "101",
            "example.com",
            "0".repeat(32),
            "a".repeat(64),
        ))
        .expect("ext");
    }
    // Roll the file back to version 1 (drop what version 2 added).
    {
        let raw = Connection::open(&path).expect("raw");
        raw.execute_batch(
            "DROP TABLE routes; DROP TABLE destinations; \
             DELETE FROM meta WHERE key = 'routing_generation'; PRAGMA user_version = 1;",
        )
        .expect("downgrade");
    }
    let db = Db::open(&path).expect("migrate");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(db.extension_count().expect("count"), 1);
    assert_eq!(db.routing_generation().expect("gen"), 0);
    assert!(db.load_routing().expect("empty").destinations.is_empty());
}

#[test]
fn a_version_2_database_is_migrated_with_tls_defaults() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db_path(&dir);
    {
        let mut db = Db::open(&path).expect("open");
        db.upsert_destination(&dest("carrier", Some(PASSWORD)))
            .expect("dest");
    }
    // Roll the file back to version 2 (drop what version 3 added).
    {
        let raw = Connection::open(&path).expect("raw");
        raw.execute_batch(
            "ALTER TABLE destinations DROP COLUMN tls_client_key; \
             ALTER TABLE destinations DROP COLUMN tls_client_cert; \
             ALTER TABLE destinations DROP COLUMN tls_verify; PRAGMA user_version = 2;",
        )
        .expect("downgrade");
        let cols: i64 = raw
            .query_row(
                "SELECT count(*) FROM pragma_table_info('destinations') WHERE name LIKE 'tls_%'",
                [],
                |r| r.get(0),
            )
            .expect("columns");
        assert_eq!(cols, 0, "a real version-2 table");
    }
    let mut db = Db::open(&path).expect("migrate");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    let cfg = db.load_routing().expect("load");
    let d = &cfg.destinations[0];
    assert_eq!(d.name, "carrier");
    assert_eq!(
        d.password.as_deref(),
        Some(PASSWORD),
        "kept and decryptable"
    );
    assert!(d.tls_verify, "existing rows verify");
    assert_eq!(
        (d.tls_client_cert.as_deref(), d.tls_client_key.as_deref()),
        (None, None)
    );
    // The new columns are written after the migration.
    let mut tls = d.clone();
    tls.transport = switchboard_core::Transport::Tls;
    tls.tls_verify = false;
    db.upsert_destination(&tls).expect("edit");
    assert!(!db.load_routing().expect("load").destinations[0].tls_verify);
}
