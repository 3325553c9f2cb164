//! Database tests against real files: migrations, round trips for every table,
//! atomic batches, and every failure mode naming the file (issue 3, "storage").

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard_storage::{
    CallRecord, Db, Extension, LogEntry, LogLevel, Op, SCHEMA_VERSION, SavedBinding, StorageError,
    Upsert,
};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("switchboard.db")
}

fn ext(user: &str) -> Extension {
    let mut e = Extension::new(
        user,
        "example.com",
        "0123456789abcdef".repeat(2),
        "ab".repeat(32),
    );
    e.display_name = format!("User {user}");
    e
}

fn binding(aor: &str, key: &str, expires_at: i64) -> SavedBinding {
    SavedBinding {
        aor: aor.into(),
        contact: format!("<sip:{key}@192.0.2.7:5062;transport=tcp>"),
        contact_key: key.into(),
        q: 500,
        expires_at,
        call_id: "a84b4c76e66710@pc33".into(),
        cseq: 314_159,
        transport: "tcp".into(),
        local_addr: "[2001:db8::1]:5060".parse().expect("addr"),
        remote_addr: "192.0.2.7:5062".parse().expect("addr"),
        instance: Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>".into()),
        reg_id: Some(1),
        path: vec![
            "<sip:p1.example.com;lr>".into(),
            "<sip:p2.example.com;lr>".into(),
        ],
        user_agent: Some("Softphone/1.0".into()),
    }
}

fn record(call_id: &str, end_ms: i64) -> CallRecord {
    CallRecord {
        call_id: call_id.into(),
        caller: "sip:101@example.com".into(),
        callee: "sip:102@example.com".into(),
        start_ms: end_ms - 10_000,
        answer_ms: Some(end_ms - 8_000),
        end_ms,
        cause: "BYE from caller".into(),
        status: None,
    }
}

fn log(ts_ms: i64, msg: &str) -> LogEntry {
    LogEntry {
        ts_ms,
        level: LogLevel::Info,
        message: msg.into(),
    }
}

fn names_file(e: &StorageError, path: &Path) {
    let text = e.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name {}: {text}",
        path.display()
    );
}

#[test]
fn creates_directory_and_file_then_reopens_idempotently() {
    let dir = tmp();
    let path = db_path(&dir);
    let mut db = Db::open(&path).expect("open new");
    assert!(path.is_file());
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(db.path(), path);
    db.upsert_extension(&ext("101")).expect("upsert");
    drop(db);
    for _ in 0..2 {
        let db = Db::open(&path).expect("reopen");
        assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(db.extension_count().expect("count"), 1);
    }
    let raw = Connection::open(&path).expect("raw");
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[test]
fn extensions_round_trip() {
    let dir = tmp();
    let mut db = Db::open(&db_path(&dir)).expect("open");
    let mut a = ext("alice");
    a.redirect_target = Some("101".into());
    a.allow_external = true;
    a.external_route = Some("carrier1".into());
    a.record_audio = true;
    assert_eq!(db.upsert_extension(&a).expect("add"), Upsert::Created);
    assert_eq!(
        db.upsert_extension(&ext("101")).expect("add"),
        Upsert::Created
    );
    let got = db.get_extension("alice").expect("get").expect("present");
    assert!(got.created_at > 1_600_000_000 && got.updated_at >= got.created_at);
    let mut expect = a.clone();
    expect.created_at = got.created_at;
    expect.updated_at = got.updated_at;
    assert_eq!(got, expect);

    // Replace: new values, creation time kept.
    let mut b = a.clone();
    b.enabled = false;
    b.redirect_target = None;
    b.ha1_md5 = "f".repeat(32);
    assert_eq!(db.upsert_extension(&b).expect("update"), Upsert::Updated);
    let got2 = db.get_extension("alice").expect("get").expect("present");
    assert!(!got2.enabled);
    assert_eq!(got2.redirect_target, None);
    assert_eq!(got2.ha1_md5, "f".repeat(32));
    assert_eq!(got2.created_at, got.created_at);

    let names: Vec<_> = db
        .list_extensions()
        .expect("list")
        .into_iter()
        .map(|e| e.username)
        .collect();
    assert_eq!(names, ["101", "alice"]);
    assert_eq!(db.extension_count().expect("count"), 2);
    assert!(db.remove_extension("101").expect("remove"));
    assert!(!db.remove_extension("101").expect("remove again"));
    assert_eq!(db.get_extension("101").expect("get"), None);
    assert_eq!(db.extension_count().expect("count"), 1);

    let err = db.upsert_extension(&ext("a;b")).expect_err("semicolon");
    assert!(matches!(err, StorageError::Invalid { .. }), "{err:?}");
    assert_eq!(db.extension_count().expect("count"), 1);
}

#[test]
fn bulk_upsert_is_one_transaction_all_or_nothing() {
    let dir = tmp();
    let mut db = Db::open(&db_path(&dir)).expect("open");
    db.upsert_extension(&ext("100")).expect("add");
    let gen0 = db.extensions_generation().expect("generation");
    let batch: Vec<_> = (100..1100).map(|n| ext(&n.to_string())).collect();
    assert_eq!(db.upsert_extensions(&batch).expect("bulk"), (999, 1));
    assert_eq!(db.extension_count().expect("count"), 1000);
    assert!(db.extensions_generation().expect("generation") > gen0);

    // One bad row: nothing of the batch is written, the error names it.
    let mut bad: Vec<_> = (2000..2010).map(|n| ext(&n.to_string())).collect();
    bad.push(ext("a;b"));
    let err = db.upsert_extensions(&bad).expect_err("semicolon");
    assert!(matches!(err, StorageError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("a;b"), "{err}");
    assert_eq!(db.extension_count().expect("count"), 1000);
    assert_eq!(db.get_extension("2000").expect("get"), None);
    assert_eq!(db.upsert_extensions(&[]).expect("empty"), (0, 0));
}

#[test]
fn another_connection_changes_are_noticed() {
    let dir = tmp();
    let path = db_path(&dir);
    let mut server = Db::open(&path).expect("server");
    let mut cli = Db::open(&path).expect("cli");
    let v0 = server.data_version().expect("dv");
    let g0 = server.extensions_generation().expect("gen");
    assert_eq!(
        server.data_version().expect("dv"),
        v0,
        "stable without writes"
    );

    cli.upsert_extension(&ext("101")).expect("cli add");
    let v1 = server.data_version().expect("dv");
    assert_ne!(v1, v0);
    let g1 = server.extensions_generation().expect("gen");
    assert!(g1 > g0);

    // A binding written elsewhere moves data_version but not the generation.
    cli.save_binding(&binding("sip:101@example.com", "k", i64::MAX))
        .expect("save");
    assert_ne!(server.data_version().expect("dv"), v1);
    assert_eq!(server.extensions_generation().expect("gen"), g1);

    cli.remove_extension("101").expect("remove");
    assert!(server.extensions_generation().expect("gen") > g1);
    // The server's own writes work alongside.
    server.append_log(&log(1, "started")).expect("log");
}

#[test]
fn bindings_round_trip_and_expiry() {
    let dir = tmp();
    let mut db = Db::open(&db_path(&dir)).expect("open");
    let a = binding("sip:101@example.com", "k1", 1_000);
    let mut b = binding("sip:101@example.com", "k2", 2_000);
    b.path.clear();
    b.instance = None;
    b.reg_id = None;
    b.user_agent = None;
    b.local_addr = "0.0.0.0:5060".parse().expect("addr");
    let c = binding("sip:102@example.com", "k1", 3_000);
    for x in [&a, &b, &c] {
        db.save_binding(x).expect("save");
    }
    assert_eq!(
        db.load_bindings(500).expect("load"),
        vec![a.clone(), b.clone(), c.clone()]
    );

    // Upsert by aor + contact_key.
    let mut a2 = a.clone();
    a2.cseq += 1;
    a2.expires_at = 4_000;
    db.save_binding(&a2).expect("refresh");
    assert_eq!(db.load_bindings(500).expect("load").len(), 3);

    // Expired ones (expiry not after now) are skipped and deleted.
    assert_eq!(
        db.load_bindings(2_000).expect("load"),
        vec![a2.clone(), c.clone()]
    );
    assert_eq!(
        db.load_bindings(0).expect("load"),
        vec![a2.clone(), c.clone()]
    );

    assert!(db.delete_binding("sip:101@example.com", "k1").expect("del"));
    assert!(
        !db.delete_binding("sip:101@example.com", "k1")
            .expect("del again")
    );
    db.save_binding(&b).expect("save");
    assert_eq!(
        db.delete_bindings_of("sip:101@example.com")
            .expect("del aor"),
        1
    );
    assert_eq!(db.clear_bindings().expect("clear"), 1);
    assert!(db.load_bindings(0).expect("load").is_empty());

    let mut bad = a;
    bad.q = 1001;
    assert!(matches!(
        db.save_binding(&bad),
        Err(StorageError::Invalid { .. })
    ));
    bad.q = 0;
    bad.path = vec!["<sip:x>\r\nVia: evil".into()];
    assert!(matches!(
        db.save_binding(&bad),
        Err(StorageError::Invalid { .. })
    ));
}

#[test]
fn unreadable_binding_row_is_an_error_not_a_silent_drop() {
    let dir = tmp();
    let path = db_path(&dir);
    let mut db = Db::open(&path).expect("open");
    db.save_binding(&binding("sip:101@example.com", "k1", i64::MAX))
        .expect("save");
    let raw = Connection::open(&path).expect("raw");
    raw.execute("UPDATE bindings SET remote_addr = 'nonsense'", [])
        .expect("damage");
    let err = db.load_bindings(0).expect_err("bad row");
    assert!(
        matches!(
            err,
            StorageError::BadRow {
                table: "bindings",
                ..
            }
        ),
        "{err:?}"
    );
    names_file(&err, &path);
    assert!(err.to_string().contains("nonsense"), "{err}");
}

#[test]
fn call_records_round_trip_page_and_prune() {
    let dir = tmp();
    let mut db = Db::open(&db_path(&dir)).expect("open");
    let mut failed = record("c2", 20_000);
    failed.answer_ms = None;
    failed.status = Some(486);
    failed.cause = "486 Busy Here".into();
    let id1 = db
        .insert_call_record(&record("c1", 10_000))
        .expect("insert");
    let id2 = db.insert_call_record(&failed).expect("insert");
    let id3 = db
        .insert_call_record(&record("c3", 30_000))
        .expect("insert");
    assert!(id1 < id2 && id2 < id3);
    let all = db.list_call_records(10, 0).expect("list");
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [id3, id2, id1]
    );
    assert_eq!(all[1].record, failed);
    assert_eq!(all[2].record, record("c1", 10_000));
    let page = db.list_call_records(1, 1).expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, id2);
    assert_eq!(db.prune_call_records(20_000).expect("prune"), 1);
    assert_eq!(db.list_call_records(10, 0).expect("list").len(), 2);
}

#[test]
fn application_log_round_trip_clear_and_prune() {
    let dir = tmp();
    let mut db = Db::open(&db_path(&dir)).expect("open");
    db.append_log(&log(1_000, "started")).expect("append");
    let err = LogEntry {
        ts_ms: 2_000,
        level: LogLevel::Error,
        message: "cannot bind UDP 0.0.0.0:5060: address in use".into(),
    };
    db.append_log(&err).expect("append");
    db.append_log(&log(3_000, "stopped")).expect("append");
    let got = db.list_log(2).expect("list");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].entry, log(3_000, "stopped"));
    assert_eq!(got[1].entry, err);
    assert_eq!(db.prune_log(2_000).expect("prune"), 1);
    assert_eq!(db.list_log(10).expect("list").len(), 2);
    assert_eq!(db.clear_log().expect("clear"), 2);
    assert!(db.list_log(10).expect("list").is_empty());
}

#[test]
fn apply_is_all_or_nothing() {
    let dir = tmp();
    let mut db = Db::open(&db_path(&dir)).expect("open");
    db.save_binding(&binding("sip:100@example.com", "old", i64::MAX))
        .expect("save");
    let mut bad = binding("sip:102@example.com", "k", i64::MAX);
    bad.q = 5000;
    let batch = [
        Op::AppendLog(log(1, "one")),
        Op::SaveBinding(binding("sip:101@example.com", "k", i64::MAX)),
        Op::InsertCallRecord(record("c1", 5_000)),
        Op::ClearBindings,
        Op::SaveBinding(bad),
    ];
    let err = db.apply(&batch).expect_err("last op is invalid");
    assert!(matches!(err, StorageError::Invalid { .. }), "{err:?}");
    assert!(db.list_log(10).expect("log").is_empty());
    assert!(db.list_call_records(10, 0).expect("cdr").is_empty());
    let kept = db.load_bindings(0).expect("bindings");
    assert_eq!(kept.len(), 1, "the clear was rolled back too");
    assert_eq!(kept[0].contact_key, "old");

    let good = [
        Op::AppendLog(log(1, "one")),
        Op::SaveBinding(binding("sip:101@example.com", "k", i64::MAX)),
        Op::SaveBinding(binding("sip:101@example.com", "k2", i64::MAX)),
        Op::DeleteBinding {
            aor: "sip:100@example.com".into(),
            contact_key: "old".into(),
        },
        Op::DeleteBindingsOf {
            aor: "sip:nobody@example.com".into(),
        },
        Op::InsertCallRecord(record("c1", 5_000)),
    ];
    db.apply(&good).expect("apply");
    assert_eq!(db.list_log(10).expect("log").len(), 1);
    assert_eq!(db.list_call_records(10, 0).expect("cdr").len(), 1);
    let keys: Vec<_> = db
        .load_bindings(0)
        .expect("bindings")
        .into_iter()
        .map(|b| b.contact_key)
        .collect();
    assert_eq!(keys, ["k", "k2"]);
    db.apply(&[]).expect("empty batch");
}

#[test]
fn garbage_file_is_not_a_database_and_is_left_untouched() {
    let dir = tmp();
    let path = dir.path().join("switchboard.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    let err = Db::open(&path).expect_err("garbage");
    assert!(
        matches!(
            err,
            StorageError::NotADatabase { .. } | StorageError::Corrupt { .. }
        ),
        "{err:?}"
    );
    names_file(&err, &path);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        garbage,
        "never overwritten"
    );
}

#[test]
fn damaged_schema_page_is_corrupt() {
    let dir = tmp();
    let path = dir.path().join("switchboard.db");
    let mut db = Db::open(&path).expect("open");
    for i in 0..50 {
        db.upsert_extension(&ext(&format!("u{i}"))).expect("add");
    }
    drop(db); // last connection: checkpoints and removes the WAL
    let mut bytes = std::fs::read(&path).expect("read");
    // Page 1 after the 100-byte file header holds sqlite_schema's b-tree page.
    for b in bytes.iter_mut().take(4096).skip(100) {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).expect("write");
    let err = Db::open(&path).expect_err("damaged");
    assert!(
        matches!(
            err,
            StorageError::Corrupt { .. } | StorageError::NotADatabase { .. }
        ),
        "{err:?}"
    );
    names_file(&err, &path);
}

#[test]
fn write_while_another_connection_holds_the_lock_is_locked() {
    let dir = tmp();
    let path = db_path(&dir);
    let mut db = Db::open_with_busy_timeout(&path, Duration::from_millis(200)).expect("open");
    let other = Connection::open(&path).expect("other");
    other
        .execute_batch(
            "BEGIN EXCLUSIVE; INSERT INTO app_log (ts_ms, level, message) VALUES (1, 'info', 'x');",
        )
        .expect("lock");
    let t = Instant::now();
    let err = db.append_log(&log(2, "blocked")).expect_err("locked");
    let waited = t.elapsed();
    assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
    names_file(&err, &path);
    assert!(
        waited >= Duration::from_millis(150),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    other.execute_batch("COMMIT").expect("commit");
    db.append_log(&log(2, "now free"))
        .expect("append after unlock");
}

#[test]
fn open_while_another_process_holds_an_exclusive_lock_is_locked() {
    let dir = tmp();
    let path = db_path(&dir);
    drop(Db::open(&path).expect("create"));
    let other = Connection::open(&path).expect("other");
    other
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")
        .expect("exclusive");
    let err = Db::open_with_busy_timeout(&path, Duration::from_millis(100)).expect_err("locked");
    assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
    names_file(&err, &path);
}

#[test]
fn parent_that_is_a_file_is_a_clear_open_error() {
    let dir = tmp();
    let file = dir.path().join("plainfile");
    std::fs::write(&file, b"x").expect("write");
    let path = file.join("sub").join("switchboard.db");
    let err = Db::open(&path).expect_err("not a dir");
    assert!(matches!(err, StorageError::Open { .. }), "{err:?}");
    names_file(&err, &path);
    assert!(err.to_string().contains("is not a directory"), "{err}");

    let err = Db::open(dir.path()).expect_err("a directory");
    assert!(matches!(err, StorageError::Open { .. }), "{err:?}");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tmp();
    let path = db_path(&dir);
    drop(Db::open(&path).expect("create"));
    let raw = Connection::open(&path).expect("raw");
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(raw);
    let err = Db::open(&path).expect_err("newer");
    match &err {
        StorageError::NewerSchema { found, known, .. } => {
            assert_eq!(*found, SCHEMA_VERSION + 1);
            assert_eq!(*known, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    names_file(&err, &path);
}

#[test]
fn another_programs_database_is_refused_and_untouched() {
    let dir = tmp();
    let path = dir.path().join("other.db");
    let raw = Connection::open(&path).expect("raw");
    raw.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);")
        .expect("create");
    drop(raw);
    let err = Db::open(&path).expect_err("foreign");
    assert!(
        matches!(err, StorageError::NotSwitchboard { .. }),
        "{err:?}"
    );
    names_file(&err, &path);
    let raw = Connection::open(&path).expect("raw");
    let names: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_schema ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(names, ["accounts"], "no tables of ours were added");
}

#[test]
fn db_can_move_to_a_worker_thread() {
    fn is_send<T: Send>() {}
    is_send::<Db>();
    let dir = tmp();
    let path = db_path(&dir);
    let mut db = Db::open(&path).expect("open");
    let handle = std::thread::spawn(move || {
        db.append_log(&log(1, "from the worker")).expect("append");
        db
    });
    let db = handle.join().expect("join");
    assert_eq!(db.list_log(1).expect("list").len(), 1);
}
