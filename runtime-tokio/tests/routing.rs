//! End-to-end tests of routing management (issue 4) through the real binary:
//! `switchboard dest …` and `switchboard route …` add, list, show and remove;
//! refused changes (a route to a missing or disabled destination, a prefix
//! that is not digits, a password with `;`, removing a destination that
//! enabled routes use) exit non-zero with the reason and leave the database
//! unchanged; a running server puts a route change in force without a restart
//! and refuses to start over a hand-broken routing table.

mod support;

use std::time::{Duration, Instant};
use support::{Env, Finished, Server, run, run_with_stdin};

const SECRET: &str = "Zebra-Quartz-91";

fn sb(env: &Env, args: &[&str]) -> Finished {
    let mut all = vec!["-c", env.config.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    run(&all)
}

fn sb_stdin(env: &Env, args: &[&str], stdin: &str) -> Finished {
    let mut all = vec!["-c", env.config.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    run_with_stdin(&all, stdin)
}

#[track_caller]
fn ok(f: &Finished) -> &str {
    assert!(
        f.status.success(),
        "expected success: {}\nstdout: {}\nstderr: {}",
        f.status,
        f.stdout,
        f.stderr
    );
    &f.stdout
}

/// Asserts a refusal: exit status 1 and `needle` in the message.
#[track_caller]
fn refused(f: &Finished, needle: &str) {
    assert_eq!(
        f.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        f.stdout,
        f.stderr
    );
    assert!(f.stderr.contains(needle), "{needle:?} not in: {}", f.stderr);
}

#[test]
fn destinations_and_routes_are_added_listed_shown_and_removed() {
    let env = Env::new();
    let out = sb_stdin(
        &env,
        &[
            "dest",
            "add",
            "carrier-a",
            "--gateway",
            "192.0.2.10",
            "--port",
            "5080",
            "--transport",
            "tcp",
            "--type",
            "ua",
            "--username",
            "acct",
            "--password-stdin",
            "--register",
            "--expires",
            "600",
            "--capacity",
            "30",
            "--remove-prefix",
            "0",
            "--add-prefix",
            "+44",
        ],
        &format!("{SECRET}\n"),
    );
    assert!(
        ok(&out).contains("destination carrier-a added"),
        "{}",
        out.stdout
    );
    ok(&sb(
        &env,
        &["dest", "add", "backup", "--gateway", "gw.example.net"],
    ));
    let list = sb(&env, &["dest", "list"]);
    let list = ok(&list);
    assert!(
        list.contains("carrier-a") && list.contains("192.0.2.10:5080"),
        "{list}"
    );
    assert!(list.contains("2 destinations"), "{list}");
    let show = sb(&env, &["dest", "show", "carrier-a"]);
    let show = ok(&show);
    assert!(show.contains("set (stored encrypted)"), "{show}");
    assert!(show.contains("ua") && show.contains("600 s"), "{show}");
    assert!(
        !show.contains(SECRET),
        "the password is never printed: {show}"
    );
    let show = sb(&env, &["dest", "show", "backup"]);
    assert!(ok(&show).contains("not set"), "{}", show.stdout);
    // The password is not in the database files.
    for entry in std::fs::read_dir(&env.data_dir).expect("data dir") {
        let p = entry.expect("entry").path();
        let bytes = std::fs::read(&p).expect("read");
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{} holds the password in clear",
            p.display()
        );
    }

    ok(&sb(&env, &["route", "add", "0", "carrier-a"]));
    ok(&sb(&env, &["route", "add", "0", "backup"]));
    ok(&sb(
        &env,
        &["route", "add", "default", "backup", "--order", "9"],
    ));
    ok(&sb(&env, &["route", "disable", "0", "backup"]));
    let routes = sb(&env, &["route", "list"]);
    let routes = ok(&routes);
    let lines: Vec<&str> = routes.lines().collect();
    assert_eq!(lines.len(), 5, "{routes}");
    assert!(
        lines[1].starts_with("0 ") && lines[1].contains("carrier-a"),
        "{routes}"
    );
    assert!(
        lines[2].contains("backup") && lines[2].ends_with("no"),
        "{routes}"
    );
    assert!(
        lines[3].starts_with("Default") && lines[3].contains(" 9 "),
        "{routes}"
    );
    ok(&sb(&env, &["route", "remove", "Default", "backup"]));
    refused(
        &sb(&env, &["route", "remove", "Default", "backup"]),
        "no route",
    );
    // backup is only used by a disabled route now: it goes with it.
    let gone = sb(&env, &["dest", "remove", "backup"]);
    assert!(ok(&gone).contains("disabled routes 0"), "{}", gone.stdout);
    ok(&sb(&env, &["route", "remove", "0", "carrier-a"]));
    ok(&sb(&env, &["dest", "remove", "carrier-a"]));
    refused(&sb(&env, &["dest", "show", "carrier-a"]), "no destination");
    assert!(ok(&sb(&env, &["route", "list"])).contains("0 routes"));
}

#[test]
fn bad_changes_are_refused_and_leave_the_database_unchanged() {
    let env = Env::new();
    ok(&sb(&env, &["dest", "add", "gw", "--gateway", "192.0.2.20"]));
    ok(&sb(
        &env,
        &[
            "dest",
            "add",
            "off",
            "--gateway",
            "192.0.2.21",
            "--disabled",
        ],
    ));
    ok(&sb(&env, &["route", "add", "9", "gw"]));
    let before_routes = ok(&sb(&env, &["route", "list"])).to_owned();
    let before_dests = ok(&sb(&env, &["dest", "list"])).to_owned();

    refused(
        &sb(&env, &["route", "add", "1", "nowhere"]),
        "no destination \"nowhere\"",
    );
    refused(
        &sb(&env, &["route", "add", "1", "off"]),
        "destination \"off\" is disabled",
    );
    refused(
        &sb(&env, &["route", "add", "9a", "gw"]),
        "route prefix \"9a\"",
    );
    refused(&sb(&env, &["route", "add", "*8", "gw"]), "route prefix");
    refused(
        &sb_stdin(
            &env,
            &[
                "dest",
                "add",
                "semi",
                "--gateway",
                "192.0.2.22",
                "--password-stdin",
            ],
            "a;b\n",
        ),
        "';'",
    );
    refused(
        &sb(&env, &["dest", "add", "bad name", "--gateway", "x"]),
        "illegal character",
    );
    // Disabling a destination that an enabled route uses.
    refused(
        &sb(
            &env,
            &["dest", "add", "gw", "--gateway", "192.0.2.20", "--disabled"],
        ),
        "is disabled",
    );
    let used = sb(&env, &["dest", "remove", "gw"]);
    refused(&used, "enabled routes use it: 9 (order 1)");

    assert_eq!(ok(&sb(&env, &["route", "list"])), before_routes);
    assert_eq!(ok(&sb(&env, &["dest", "list"])), before_dests);
    assert!(
        !env.data_dir.join("secret.key").exists(),
        "no key made for the refused password"
    );
}

/// Polls the server's log (stderr) for `needle`, bounded.
fn wait_for_log(server: &Server, needle: &str, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if server.stderr().contains(needle) {
            return true;
        }
        // Bounded polling of a file another process writes (not a sleep-wait
        // for an event we could observe otherwise).
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_running_server_puts_a_route_change_in_force() {
    let mut env = Env::new();
    ok(&sb(&env, &["dest", "add", "gw", "--gateway", "192.0.2.30"]));
    let server = Server::start(&mut env);
    assert!(
        wait_for_log(
            &server,
            "routing: 1 destinations, 0 routes in force",
            Duration::from_secs(5)
        ),
        "start-up line missing: {}",
        server.stderr()
    );
    let started = Instant::now();
    ok(&sb(&env, &["route", "add", "Default", "gw"]));
    assert!(
        wait_for_log(
            &server,
            "routing: 1 destinations, 1 routes in force",
            Duration::from_secs(5)
        ),
        "the change was not put in force: {}",
        server.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    ok(&sb(
        &env,
        &["dest", "add", "gw2", "--gateway", "192.0.2.31"],
    ));
    ok(&sb(&env, &["route", "add", "0", "gw2"]));
    assert!(
        wait_for_log(
            &server,
            "routing: 2 destinations, 2 routes in force",
            Duration::from_secs(5)
        ),
        "{}",
        server.stderr()
    );
    assert!(!server.stderr().contains("refused"), "{}", server.stderr());
    // A configuration the engine refuses (edited by hand while running) is
    // logged with the reason and the old table keeps serving.
    ok(&sb(&env, &["route", "add", "5", "gw"]));
    assert!(
        wait_for_log(
            &server,
            "routing: 2 destinations, 3 routes in force",
            Duration::from_secs(5)
        ),
        "{}",
        server.stderr()
    );
    hand_edit(&env);
    assert!(
        wait_for_log(
            &server,
            "routing change refused: route 5x",
            Duration::from_secs(5)
        ),
        "{}",
        server.stderr()
    );
    assert!(
        server
            .stderr()
            .contains("the previous routing stays in force")
    );
    ok(&sb(&env, &["route", "remove", "5x", "gw"]));
    let in_force = "routing: 2 destinations, 2 routes in force";
    let end = Instant::now() + Duration::from_secs(5);
    while server.stderr().matches(in_force).count() < 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        server.stderr().matches(in_force).count(),
        2,
        "{}",
        server.stderr()
    );
}

#[test]
fn start_up_refuses_a_hand_broken_routing_table() {
    let mut env = Env::new();
    ok(&sb(&env, &["dest", "add", "gw", "--gateway", "192.0.2.40"]));
    ok(&sb(&env, &["route", "add", "5", "gw"]));
    // Edited by hand behind the CLI's back: a prefix that is not digits.
    hand_edit(&env);
    let err = Server::try_start(&mut env).err().expect("refused");
    assert_eq!(err.status.and_then(|s| s.code()), Some(1), "{}", err.stderr);
    assert!(
        err.stderr.contains("invalid routing in database"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("route 5x"), "{}", err.stderr);
    let check = sb(&env, &["check-config"]);
    refused(&check, "invalid routing");
    // The CLI can remove the broken route, and the server starts again.
    ok(&sb(&env, &["route", "remove", "5x", "gw"]));
    let server = Server::start(&mut env);
    assert!(
        wait_for_log(
            &server,
            "routing: 1 destinations, 0 routes in force",
            Duration::from_secs(5)
        ),
        "{}",
        server.stderr()
    );
}

/// Changes route `5` to `5x` directly in the database file.
fn hand_edit(env: &Env) {
    let c = rusqlite::Connection::open(env.db_path()).expect("open the database");
    let n = c
        .execute("UPDATE routes SET prefix = '5x' WHERE prefix = '5'", [])
        .expect("edit");
    assert_eq!(n, 1);
}
