//! WebSocket churn (issue 5): thousands of browser-like clients connect over
//! WS, REGISTER with digest, and vanish without a close frame — half drop
//! their socket, half simply stop reading, so only the server's ping and idle
//! timeout (RFC 6455 §5.5.2 ping/pong) can find them. After each round the
//! server's counters (the SIGUSR1 `stats:` line) must be back at their
//! baseline: no open WS connection, no connection handle, no binding
//! (RFC 7118 §5: the connection is the flow; its bindings go with it).
//! The server's RSS before and after is printed, never asserted
//! (`bench/ws/` measures it properly).
//!
//! `SWITCHBOARD_WS_CHURN` sets the clients per round (default 2000),
//! `SWITCHBOARD_WS_ROUNDS` the rounds (default 2).

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Env, Server, Ua, free_port};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Asks the server for its counters (SIGUSR1) and parses the `stats:` line.
fn stats(server: &Server) -> BTreeMap<String, u64> {
    let count = |s: &str| s.matches("stats: ").count();
    let before = count(&server.stderr());
    let sent = Command::new("kill")
        .args(["-USR1", &server.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(sent.success());
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.stderr();
        if count(&log) > before
            && let Some(line) = log.lines().rev().find(|l| l.contains("stats: "))
        {
            return line
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
                .collect();
        }
        assert!(Instant::now() < end, "no stats line after SIGUSR1");
        // Bounded polling of the log file.
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Connects and registers `users` over WS from `threads` threads; returns
/// the clients that stop reading (odd index) — the others have vanished.
fn connect_register_vanish(ws: SocketAddr, users: &[String], threads: usize) -> Vec<Ua> {
    let chunks: Vec<Vec<(usize, String)>> = {
        let mut c = vec![Vec::new(); threads];
        for (i, u) in users.iter().enumerate() {
            c[i % threads].push((i, u.clone()));
        }
        c
    };
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                let mut silent = Vec::new();
                for (i, user) in chunk {
                    let mut ua = Ua::ws(ws, &user, &format!("pw-{user}"), false);
                    ua.register_ok(600);
                    if i % 2 == 0 {
                        ua.vanish();
                    } else {
                        silent.push(ua);
                    }
                }
                silent
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("a client thread failed"))
        .collect()
}

#[test]
fn vanished_websocket_clients_free_everything() {
    let clients = env_number("SWITCHBOARD_WS_CHURN", 2000);
    let rounds = env_number("SWITCHBOARD_WS_ROUNDS", 2);
    let mut env = Env::new();
    let ws_port = free_port();
    env.websocket =
        format!("ws_port = {ws_port}\nwss_port = 0\nping_interval_s = 1\nidle_timeout_s = 2\n");
    env.write_settings();
    let users: Vec<String> = (0..clients).map(|i| format!("w{i}")).collect();
    let csv: String = users.iter().map(|u| format!("{u},pw-{u}\n")).collect();
    let file = env.dir().join("users.csv");
    std::fs::write(&file, csv).expect("writing the CSV");
    let out = support::run(&[
        "-c",
        env.config.to_str().expect("UTF-8"),
        "ext",
        "import",
        file.to_str().expect("UTF-8"),
    ]);
    assert!(out.status.success(), "ext import: {}", out.stderr);
    let server = Server::start(&mut env);
    let ws = SocketAddr::from(([127, 0, 0, 1], ws_port));

    let base = stats(&server);
    assert_eq!(base.get("ws_connections"), Some(&0), "{base:?}");
    let base_regs = base.get("registrations").copied();
    let rss0 = rss_kib(server.pid());
    println!("baseline: RSS {rss0} KiB, {base:?}");
    for round in 1..=rounds {
        let start = Instant::now();
        let silent = connect_register_vanish(ws, &users, 8);
        let up = stats(&server);
        let rss_full = rss_kib(server.pid());
        println!(
            "round {round}: {clients} clients registered in {:?}; {} still connected, {} registrations; RSS {rss_full} KiB",
            start.elapsed(),
            up.get("ws_connections").copied().unwrap_or(0),
            up.get("registrations").copied().unwrap_or(0),
        );
        // Half of them stop reading: only the ping/idle timeout can find them.
        let end = Instant::now() + Duration::from_secs(60);
        let now = loop {
            let s = stats(&server);
            if s.get("ws_connections") == Some(&0)
                && s.get("handles") == Some(&0)
                && s.get("registrations").copied() == base_regs
            {
                break s;
            }
            assert!(
                Instant::now() < end,
                "round {round}: not back to the baseline after 60 s: {s:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        let rss = rss_kib(server.pid());
        println!(
            "round {round}: back to baseline {:?} after the last client vanished; RSS {rss} KiB (baseline {rss0} KiB); {now:?}",
            start.elapsed()
        );
        assert_eq!(now.get("ws_buffered_bytes"), Some(&0));
        drop(silent);
    }
    let log = server.stderr();
    assert!(
        log.contains("(no pong), closing"),
        "clients that stopped reading were found by the idle timeout"
    );
}
