//! "Save Registrations" end to end: a binding acknowledged with 200 (RFC 3261
//! §10.3) survives a restart of the server — a graceful one (SIGTERM) and a
//! crash (SIGKILL) — on the same port and data directory, so a call reaches
//! the registered contact without the phone registering again.

mod support;

use support::{Env, Server, Ua, call};

enum Stop {
    Term,
    Kill,
}

fn binding_survives(stop: Stop) {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    env.add_extension("102", "secret-102");
    let server = Server::start(&mut env);
    // The callee's socket outlives the server: it is the phone.
    let mut callee = Ua::udp(server.addr, "101", "secret-101");
    callee.register_ok(600);
    match stop {
        Stop::Term => {
            let status = server.terminate();
            assert!(status.success(), "exit after SIGTERM: {status}");
        }
        // Right after the 200: the binding was acknowledged, so it must be on disk.
        Stop::Kill => server.kill(),
    }

    let server = Server::try_start(&mut env)
        .unwrap_or_else(|f| panic!("restart on port {} failed: {f:?}", env.port));
    assert!(
        server.stderr().contains("1 registrations restored"),
        "{}",
        server.stderr()
    );
    let mut caller = Ua::udp(server.addr, "102", "secret-102");
    call(&mut caller, &mut callee, env.port);
}

#[test]
fn registration_survives_sigterm_restart() {
    binding_survives(Stop::Term);
}

#[test]
fn registration_survives_sigkill() {
    binding_survives(Stop::Kill);
}

/// Many bindings acknowledged in a burst, then SIGKILL at once: every one of
/// them must be restored (a write that is only queued when the 200 goes out is
/// lost by the kill).
#[test]
fn burst_of_registrations_survives_sigkill() {
    const N: usize = 20;
    let mut env = Env::new();
    let users: Vec<String> = (0..N).map(|i| format!("2{i:02}")).collect();
    for u in &users {
        env.add_extension(u, &format!("pw-{u}"));
    }
    let server = Server::start(&mut env);
    let mut phones: Vec<Ua> = users
        .iter()
        .map(|u| Ua::udp(server.addr, u, &format!("pw-{u}")))
        .collect();
    for p in &mut phones {
        p.register_ok(600);
    }
    server.kill();
    let server = Server::try_start(&mut env)
        .unwrap_or_else(|f| panic!("restart on port {} failed: {f:?}", env.port));
    assert!(
        server
            .stderr()
            .contains(&format!("{N} registrations restored")),
        "{}",
        server.stderr()
    );
}

/// `accounting.call_record_retention_days`: at start (and hourly) the server
/// removes call records that ended before the retention period and keeps the
/// others; with the default (0) nothing is ever removed.
#[test]
fn call_records_older_than_the_retention_are_removed() {
    use switchboard_storage::{CallRecord, Db};
    let day_ms = 86_400_000_i64;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let record = |id: &str, ended_days_ago: i64| CallRecord {
        call_id: id.into(),
        caller: "101".into(),
        callee: "102".into(),
        start_ms: now_ms - ended_days_ago * day_ms - 60_000,
        answer_ms: None,
        end_ms: now_ms - ended_days_ago * day_ms,
        cause: "test".into(),
        status: Some(486),
    };
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    {
        let mut db = Db::open(&env.db_path()).expect("open");
        db.insert_call_record(&record("old", 40)).expect("insert");
        db.insert_call_record(&record("recent", 2)).expect("insert");
    }
    let ids = |env: &Env| -> Vec<String> {
        let db = Db::open(&env.db_path()).expect("open");
        let mut v: Vec<String> = db
            .list_call_records(100, 0)
            .expect("list")
            .into_iter()
            .map(|r| r.record.call_id)
            .collect();
        v.sort();
        v
    };

    // Default: kept for ever.
    let server = Server::start(&mut env);
    assert!(server.terminate().success());
    assert_eq!(ids(&env), vec!["old", "recent"]);

    // 30 days: the 40-day-old record goes, within a bounded wait.
    env.extra = "[accounting]\ncall_record_retention_days = 30\n".into();
    env.write_settings();
    let server = Server::start(&mut env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids(&env) != vec!["recent"] {
        assert!(
            std::time::Instant::now() < deadline,
            "old call record not removed: {:?}\n{}",
            ids(&env),
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(server.terminate().success());
}
