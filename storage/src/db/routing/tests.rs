//! Routing storage unit tests: round trips, replace semantics, validation of
//! every change before it is written, route ordering and removal rules.

use super::*;

fn dest(name: &str) -> Destination {
    Destination {
        name: name.into(),
        gateway: "192.0.2.10".into(),
        port: Some(5080),
        domain: Some("carrier.example".into()),
        transport: Transport::Tcp,
        kind: DestinationKind::UserAgent,
        username: Some("acct".into()),
        auth_username: Some("auth-acct".into()),
        password: None,
        register: true,
        register_expires: 600,
        options_ping: true,
        capacity: Some(30),
        remove_prefix: "0".into(),
        add_prefix: "+44".into(),
        media_encryption: true,
        translation_profile: Some("uk".into()),
        enabled: true,
        tls_verify: true,
        tls_client_cert: None,
        tls_client_key: None,
    }
}

#[test]
fn tls_options_round_trip_and_are_validated() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut db = open(&dir);
    let mut d = dest("tls-carrier");
    d.transport = Transport::Tls;
    d.tls_verify = false;
    d.tls_client_cert = Some("/etc/switchboard/client.crt".into());
    d.tls_client_key = Some("/etc/switchboard/client.key".into());
    db.upsert_destination(&d).expect("add");
    let s = db
        .get_destination("tls-carrier")
        .expect("get")
        .expect("some");
    assert_eq!(s.destination, d);
    assert_eq!(db.list_destinations().expect("list")[0].destination, d);
    assert_eq!(
        db.load_routing().expect("load").destinations,
        vec![d.clone()]
    );
    // Back to the defaults.
    d.tls_verify = true;
    d.tls_client_cert = None;
    d.tls_client_key = None;
    db.upsert_destination(&d).expect("edit");
    assert_eq!(
        db.load_routing().expect("load").destinations,
        vec![d.clone()]
    );
    // Refused before writing: a key without its certificate, verify off over TCP.
    d.tls_client_key = Some("/k".into());
    assert!(db.upsert_destination(&d).is_err());
    d.tls_client_key = None;
    d.transport = Transport::Tcp;
    d.tls_verify = false;
    let e = db.upsert_destination(&d).expect_err("verify off over TCP");
    assert!(e.to_string().contains("transport TLS"), "{e}");
    assert!(
        db.get_destination("tls-carrier")
            .expect("get")
            .expect("kept")
            .destination
            .tls_verify
    );
}

fn open(dir: &tempfile::TempDir) -> Db {
    Db::open(&dir.path().join("data").join("sb.db")).expect("open")
}

#[test]
fn destinations_round_trip_and_replace() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut db = open(&dir);
    let g0 = db.routing_generation().expect("gen");
    let mut d = dest("carrier");
    d.password = Some("pw".into());
    assert_eq!(db.upsert_destination(&d).expect("add"), Upsert::Created);
    assert!(db.routing_generation().expect("gen") > g0);
    let s = db.get_destination("carrier").expect("get").expect("some");
    assert!(s.password_set);
    assert_eq!(s.destination.password, None, "never listed");
    assert_eq!(
        s.destination,
        Destination {
            password: None,
            ..d.clone()
        }
    );
    assert_eq!(
        db.load_routing().expect("load").destinations,
        vec![d.clone()]
    );
    // Replacing: every field, the password gone when not given again.
    let mut d2 = dest("carrier");
    d2.port = None;
    d2.domain = None;
    d2.transport = Transport::Udp;
    d2.kind = DestinationKind::Extension;
    d2.capacity = None;
    d2.translation_profile = None;
    d2.register = false;
    assert_eq!(
        db.upsert_destination(&d2).expect("replace"),
        Upsert::Updated
    );
    let listed = db.list_destinations().expect("list");
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].password_set);
    assert_eq!(listed[0].destination, d2);
}

#[test]
fn invalid_changes_leave_the_database_unchanged() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut db = open(&dir);
    db.upsert_destination(&dest("a")).expect("add");
    let g = db.routing_generation().expect("gen");
    let e = db.add_route("9", "zz", None, true).expect_err("missing");
    assert!(e.to_string().contains("no destination \"zz\""), "{e}");
    let e = db.add_route("9x", "a", None, true).expect_err("prefix");
    assert!(e.to_string().contains("route prefix"), "{e}");
    let mut bad = dest("b");
    bad.password = Some("x;y".into());
    let e = db.upsert_destination(&bad).expect_err("semicolon");
    assert!(e.to_string().contains("';'"), "{e}");
    assert!(
        !db.secret_key_path().exists(),
        "no key made for a refused change"
    );
    db.add_route("9", "a", None, true).expect("route");
    let g = g + 1;
    assert_eq!(db.routing_generation().expect("gen"), g);
    let mut off = dest("a");
    off.enabled = false;
    let e = db
        .upsert_destination(&off)
        .expect_err("disabled while used");
    assert!(e.to_string().contains("is disabled"), "{e}");
    assert_eq!(db.routing_generation().expect("gen"), g, "nothing written");
    assert!(
        db.get_destination("a")
            .expect("get")
            .expect("a")
            .destination
            .enabled
    );
}

#[test]
fn routes_orders_enable_and_removal_rules() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut db = open(&dir);
    for n in ["a", "b", "c"] {
        db.upsert_destination(&dest(n)).expect("add");
    }
    let (r, what) = db.add_route("0", "a", None, true).expect("0 a");
    assert_eq!((r.order, what), (1, Upsert::Created));
    assert_eq!(db.add_route("0", "b", None, true).expect("0 b").0.order, 2);
    db.add_route("DEFAULT", "c", Some(5), true)
        .expect("default");
    db.add_route("+44", "c", None, false).expect("+44");
    // Same pair again: an update that keeps the order.
    let (r, what) = db.add_route("0", "a", None, true).expect("again");
    assert_eq!((r.order, what), (1, Upsert::Updated));
    assert!(db.set_route_order("0", "b", 0).expect("reorder"));
    let list: Vec<(String, String, u32, bool)> = db
        .list_routes()
        .expect("list")
        .into_iter()
        .map(|r| {
            (
                prefix_text(&r.prefix).to_owned(),
                r.destination,
                r.order,
                r.enabled,
            )
        })
        .collect();
    assert_eq!(
        list,
        [
            ("+44".into(), "c".into(), 1, false),
            ("0".into(), "b".into(), 0, true),
            ("0".into(), "a".into(), 1, true),
            ("Default".into(), "c".into(), 5, true),
        ]
    );
    // Remove a used destination: refused, naming the routes.
    let e = db.remove_destination("c").expect_err("used");
    assert!(e.to_string().contains("Default (order 5)"), "{e}");
    assert!(
        db.set_route_enabled("default", "c", false)
            .expect("disable")
    );
    // Now only disabled routes use it: they go with it.
    let gone = db
        .remove_destination("c")
        .expect("remove")
        .expect("existed");
    assert_eq!(gone.len(), 2);
    assert_eq!(db.list_routes().expect("list").len(), 2);
    assert_eq!(db.remove_destination("c").expect("again"), None);
    assert!(db.remove_route("0", "a").expect("remove"));
    assert!(!db.remove_route("0", "a").expect("gone"));
    assert!(!db.set_route_enabled("0", "zz", true).expect("no route"));
    // Enabling a route to a disabled destination is refused.
    let mut b = dest("b");
    db.set_route_enabled("0", "b", false).expect("disable");
    b.enabled = false;
    db.upsert_destination(&b).expect("disable b");
    let e = db.set_route_enabled("0", "b", true).expect_err("disabled");
    assert!(e.to_string().contains("is disabled"), "{e}");
}

#[test]
fn a_hand_edited_bad_row_is_reported_not_guessed() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut db = open(&dir);
    db.upsert_destination(&dest("a")).expect("add");
    db.conn
        .execute("UPDATE destinations SET transport = 'sctp'", [])
        .expect("edit");
    let e = db.load_routing().expect_err("bad transport");
    assert!(e.to_string().contains("sctp"), "{e}");
    db.conn
        .execute("UPDATE destinations SET transport = 'udp'", [])
        .expect("edit");
    db.conn
        .execute(
            "INSERT INTO routes (prefix, destination, ord, enabled) VALUES ('12a', 'a', 1, 1)",
            [],
        )
        .expect("edit");
    let cfg = db.load_routing().expect("loads");
    let e = cfg.validate().expect_err("bad prefix");
    assert!(e.to_string().contains("12a"), "{e}");
}
