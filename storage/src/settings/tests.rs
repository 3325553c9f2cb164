//! Settings tests: defaults, every documented key, and error messages that
//! name the key path, the value and the reason.

use super::*;

fn invalid(text: &str) -> (String, String, String) {
    match Settings::parse(text) {
        Err(SettingsError::Invalid {
            key, value, reason, ..
        }) => (key, value, reason),
        other => panic!("expected Invalid for {text:?}, got {other:?}"),
    }
}

#[test]
fn defaults_are_a_valid_server() {
    let d = Settings::default();
    assert!(d.validate().is_ok());
    assert_eq!(Settings::parse("").expect("empty"), d);
    assert_eq!(d.service.sip_port, 5060);
    assert!(d.service.transport.udp() && d.service.transport.tcp());
    assert_eq!(
        d.service.listen,
        vec![
            "0.0.0.0".parse::<IpAddr>().expect("v4"),
            "::".parse::<IpAddr>().expect("v6")
        ]
    );
    assert_eq!(d.database_path(), Path::new("./data/switchboard.db"));
    assert_eq!(d.logging.level, LoggingLevel::Sessions);
    // The serialised defaults parse back to the same settings.
    let text = d.to_toml();
    assert_eq!(Settings::parse(&text).expect("round trip"), d, "{text}");
}

#[test]
fn every_documented_key_parses() {
    let text = r#"
[service]
sip_domain = "pbx.example.com"
transport = "udp"
sip_port = 5070
listen = ["192.0.2.10", "2001:db8::10"]
tcp_for_large_packets = false
t1_ms = 250
t2_ms = 2000
t4_ms = 2500
min_expires = 30
max_expires = 7200
default_expires = 600
save_registrations = false
max_tcp_connections = 500
tcp_idle_timeout_s = 120

[security]
sip_authentication = false
authenticate_local_calls = false
nonce_lifetime_s = 60
digest_algorithms = ["MD5"]

[accounting]
call_record_retention_days = 400

[media]

[websocket]
ws_port = 8080
wss_port = 8443
max_connections = 2000
max_message_size = 32768
ping_interval_s = 20
idle_timeout_s = 50
handshake_timeout_s = 5

[smpp]
[http]

[logging]
level = "developer"
directory = "/var/log/switchboard"
rotation = "hourly"
auto_clear_days = 7

[storage]
data_dir = "/var/lib/switchboard"
database = "sb.db"

[routing]
selection = "load_sharing"
failover_on_decline = true
"#;
    let s = Settings::parse(text).expect("parses");
    let v = &s.service;
    assert_eq!(v.sip_domain, "pbx.example.com");
    assert_eq!(v.transport, TransportMode::Udp);
    assert!(!v.transport.tcp());
    assert_eq!(v.sip_port, 5070);
    assert_eq!(v.listen.len(), 2);
    assert!(v.listen[1].is_ipv6());
    assert!(!v.tcp_for_large_packets);
    assert_eq!((v.t1_ms, v.t2_ms, v.t4_ms), (250, 2000, 2500));
    assert_eq!(
        (v.min_expires, v.default_expires, v.max_expires),
        (30, 600, 7200)
    );
    assert!(!v.save_registrations);
    assert_eq!((v.max_tcp_connections, v.tcp_idle_timeout_s), (500, 120));
    assert!(!s.security.sip_authentication);
    assert!(!s.security.authenticate_local_calls);
    assert_eq!(s.security.nonce_lifetime_s, 60);
    assert_eq!(s.security.digest_algorithms, [DigestAlgorithm::Md5]);
    assert_eq!(s.logging.level, LoggingLevel::Developer);
    assert_eq!(s.logging.directory, Path::new("/var/log/switchboard"));
    assert_eq!(s.logging.rotation, Rotation::Hourly);
    assert_eq!(s.logging.auto_clear_days, 7);
    assert_eq!(s.accounting.call_record_retention_days, 400);
    assert_eq!(
        Settings::default().accounting.call_record_retention_days,
        0,
        "billing data is kept unless the operator decides otherwise"
    );
    assert_eq!(s.database_path(), Path::new("/var/lib/switchboard/sb.db"));
    assert_eq!(s.routing.selection, RouteSelection::LoadSharing);
    assert!(s.routing.failover_on_decline);
    let w = &s.websocket;
    assert_eq!((w.ws_port, w.wss_port), (Some(8080), Some(8443)));
    assert_eq!((w.max_connections, w.max_message_size), (2000, 32768));
    assert_eq!(
        (w.ping_interval_s, w.idle_timeout_s, w.handshake_timeout_s),
        (20, 50, 5)
    );
    let d = WebSocket::default();
    assert_eq!(
        (d.ws_port, d.wss_port),
        (None, None),
        "unset: 80/443, best effort"
    );
    assert_eq!(d.max_message_size, 65_536);
    let off = Settings::parse("[websocket]\nws_port = 0\nwss_port = 0").expect("off");
    assert_eq!(
        (off.websocket.ws_port, off.websocket.wss_port),
        (Some(0), Some(0))
    );
    let d = Settings::default().routing;
    assert_eq!(d.selection, RouteSelection::Hunting);
    assert!(!d.failover_on_decline);
    let s = Settings::parse("[routing]\nselection = \"hunting\"").expect("hunting");
    assert_eq!(s.routing.selection, RouteSelection::Hunting);
    for (t, m) in [
        ("tcp", TransportMode::Tcp),
        ("udp+tcp", TransportMode::UdpTcp),
    ] {
        let s = Settings::parse(&format!("[service]\ntransport = \"{t}\"")).expect(t);
        assert_eq!(s.service.transport, m);
    }
    for (l, m) in [
        ("none", LoggingLevel::None),
        ("errors", LoggingLevel::Errors),
        ("sessions", LoggingLevel::Sessions),
    ] {
        let s = Settings::parse(&format!("[logging]\nlevel = \"{l}\"")).expect(l);
        assert_eq!(s.logging.level, m);
    }
}

#[test]
fn unknown_keys_are_named() {
    let (key, value, reason) = invalid("[service]\nsip_prot = 5060\n");
    assert_eq!(key, "service.sip_prot");
    assert_eq!(value, "5060");
    assert!(reason.contains("unknown field"), "{reason}");
    let (key, _, _) = invalid("[servce]\nsip_port = 5060\n");
    assert_eq!(key, "servce");
    let (key, _, _) = invalid("verbose = true\n");
    assert_eq!(key, "verbose");
    // Sections without keys yet refuse every key.
    let (key, value, _) = invalid("[media]\nrtp_proxy = true\n");
    assert_eq!((key.as_str(), value.as_str()), ("media.rtp_proxy", "true"));
    let (key, _, _) = invalid("[http]\nport = 8080\n");
    assert_eq!(key, "http.port");
}

#[test]
fn ill_typed_values_are_named() {
    let (key, value, reason) = invalid("[service]\nsip_port = \"abc\"\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("service.sip_port", "\"abc\"")
    );
    assert!(reason.contains("invalid type"), "{reason}");
    let (key, value, _) = invalid("[service]\nsip_port = 70000\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("service.sip_port", "70000")
    );
    let (key, _, reason) = invalid("[service]\ntransport = \"sctp\"\n");
    assert_eq!(key, "service.transport");
    assert!(reason.contains("udp+tcp"), "{reason}");
    let (key, value, _) = invalid("[logging]\nlevel = \"verbose\"\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("logging.level", "\"verbose\"")
    );
    let (key, value, reason) = invalid("[routing]\nselection = \"round_robin\"\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("routing.selection", "\"round_robin\"")
    );
    assert!(reason.contains("load_sharing"), "{reason}");
    let (key, _, _) = invalid("[routing]\nfailover = true\n");
    assert_eq!(key, "routing.failover");
    let (key, _, _) = invalid("[logging]\nrotation = \"weekly\"\n");
    assert_eq!(key, "logging.rotation");
    let (key, value, reason) = invalid("[service]\nlisten = [\"0.0.0.0\", \"not-an-ip\"]\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("service.listen[1]", "\"not-an-ip\"")
    );
    assert!(reason.contains("IP address"), "{reason}");
    let (key, value, reason) = invalid("[security]\ndigest_algorithms = [\"MD5\", \"SHA-512\"]\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("security.digest_algorithms[1]", "\"SHA-512\"")
    );
    assert!(reason.contains("SHA-256"), "{reason}");
    let (key, _, _) = invalid("[security]\nsip_authentication = \"yes\"\n");
    assert_eq!(key, "security.sip_authentication");
    let (key, _, _) = invalid("[service]\nmin_expires = -1\n");
    assert_eq!(key, "service.min_expires");
    let (key, _, _) = invalid("service = 5\n");
    assert_eq!(key, "service");
}

#[test]
fn out_of_range_values_are_named() {
    let cases = [
        ("[service]\nsip_port = 0", "service.sip_port", "0"),
        ("[service]\nt1_ms = 0", "service.t1_ms", "0"),
        ("[service]\nt2_ms = 100", "service.t2_ms", "100"),
        ("[service]\nt4_ms = 0", "service.t4_ms", "0"),
        ("[service]\nmin_expires = 0", "service.min_expires", "0"),
        (
            "[service]\nmin_expires = 7200",
            "service.min_expires",
            "7200",
        ),
        (
            "[service]\ndefault_expires = 30",
            "service.default_expires",
            "30",
        ),
        ("[service]\nlisten = []", "service.listen", "[]"),
        (
            "[service]\nlisten = [\"::\", \"::\"]",
            "service.listen",
            "\"::\"",
        ),
        (
            "[service]\nsip_domain = \"bad domain\"",
            "service.sip_domain",
            "\"bad domain\"",
        ),
        (
            "[service]\nmax_tcp_connections = 0",
            "service.max_tcp_connections",
            "0",
        ),
        (
            "[service]\ntcp_idle_timeout_s = 0",
            "service.tcp_idle_timeout_s",
            "0",
        ),
        (
            "[security]\nnonce_lifetime_s = 5",
            "security.nonce_lifetime_s",
            "5",
        ),
        (
            "[security]\ndigest_algorithms = []",
            "security.digest_algorithms",
            "[]",
        ),
        (
            "[security]\ndigest_algorithms = [\"MD5\", \"SHA-256\", \"md5\"]",
            "security.digest_algorithms",
            "[Md5, Sha256, Md5]",
        ),
        (
            "[websocket]\nmax_connections = 0",
            "websocket.max_connections",
            "0",
        ),
        (
            "[websocket]\nmax_message_size = 100",
            "websocket.max_message_size",
            "100",
        ),
        (
            "[websocket]\nping_interval_s = 0",
            "websocket.ping_interval_s",
            "0",
        ),
        (
            "[websocket]\nidle_timeout_s = 30",
            "websocket.idle_timeout_s",
            "30",
        ),
        (
            "[websocket]\nhandshake_timeout_s = 0",
            "websocket.handshake_timeout_s",
            "0",
        ),
        (
            "[websocket]\nws_port = 8080\nwss_port = 8080",
            "websocket.wss_port",
            "8080",
        ),
        ("[websocket]\nws_port = 70000", "websocket.ws_port", "70000"),
        ("[logging]\ndirectory = \"\"", "logging.directory", "\"\""),
        ("[storage]\ndata_dir = \"\"", "storage.data_dir", "\"\""),
        (
            "[storage]\ndatabase = \"a/b.db\"",
            "storage.database",
            "\"a/b.db\"",
        ),
    ];
    for (text, key, value) in cases {
        let (k, v, reason) = invalid(text);
        assert_eq!((k.as_str(), v.as_str()), (key, value), "{text}");
        assert!(!reason.is_empty());
    }
    let e = Settings::parse("[service]\nt2_ms = 100").expect_err("t2");
    assert_eq!(e.key(), Some("service.t2_ms"));
    assert_eq!(
        e.to_string(),
        "invalid setting service.t2_ms = 100: must not be smaller than service.t1_ms (500)"
    );
    // Accepted edge values.
    for ok in [
        "[service]\nsip_domain = \"192.0.2.1\"",
        "[service]\nsip_domain = \"pbx.example.com.\"",
        "[service]\nsip_port = 65535",
        "[service]\nmin_expires = 3600",
        "[logging]\nauto_clear_days = 0",
    ] {
        assert!(Settings::parse(ok).is_ok(), "{ok}");
    }
}

#[test]
fn syntax_errors_show_the_line() {
    match Settings::parse("[service]\nsip_port = = 5\n") {
        Err(SettingsError::Syntax { message, .. }) => {
            assert!(message.contains("line 2"), "{message}");
        }
        other => panic!("expected Syntax, got {other:?}"),
    }
}

#[test]
fn files_are_named_in_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("nope.toml");
    let e = Settings::load(&missing).expect_err("missing");
    assert!(matches!(e, SettingsError::Read { .. }));
    assert!(e.to_string().contains("nope.toml"), "{e}");
    assert!(
        Settings::load_or_default(Some(&missing)).is_err(),
        "explicit path must exist"
    );

    let file = dir.path().join("switchboard.toml");
    std::fs::write(&file, "[service]\nsip_port = 0\n").expect("write");
    let e = Settings::load(&file).expect_err("bad");
    let text = e.to_string();
    assert!(
        text.contains("switchboard.toml") && text.contains("service.sip_port = 0"),
        "{text}"
    );

    std::fs::write(&file, "[service]\nsip_port = 5080\n").expect("write");
    let s = Settings::load_or_default(Some(&file)).expect("good");
    assert_eq!(s.service.sip_port, 5080);
}

#[test]
fn tls_keys_parse_and_are_checked() {
    let d = Settings::default().tls;
    assert!(d.enabled);
    assert_eq!(d.port, 5061, "RFC 3261 §19.1.2: sips default port");
    assert_eq!(d.handshake_timeout_s, 10);
    assert!(d.certificate.as_os_str().is_empty() && d.ca_file.as_os_str().is_empty());
    let s = Settings::parse(
        "[tls]\nenabled = false\nport = 5071\ncertificate = \"/etc/sb/cert.pem\"\n\
         private_key = \"/etc/sb/key.pem\"\nca_file = \"/etc/sb/ca.pem\"\nhandshake_timeout_s = 3",
    )
    .expect("tls keys");
    assert!(!s.tls.enabled);
    assert_eq!(s.tls.port, 5071);
    assert_eq!(s.tls.certificate, Path::new("/etc/sb/cert.pem"));
    assert_eq!(s.tls.private_key, Path::new("/etc/sb/key.pem"));
    assert_eq!(s.tls.ca_file, Path::new("/etc/sb/ca.pem"));
    assert_eq!(s.tls.handshake_timeout_s, 3);
    for (text, key, value) in [
        ("[tls]\nport = 0", "tls.port", "0"),
        ("[tls]\nport = 5060", "tls.port", "5060"),
        (
            "[tls]\nhandshake_timeout_s = 0",
            "tls.handshake_timeout_s",
            "0",
        ),
        (
            "[tls]\nhandshake_timeout_s = 301",
            "tls.handshake_timeout_s",
            "301",
        ),
        (
            "[tls]\ncertificate = \"c.pem\"",
            "tls.certificate",
            "\"c.pem\"",
        ),
        (
            "[tls]\nprivate_key = \"k.pem\"",
            "tls.private_key",
            "\"k.pem\"",
        ),
        ("[tls]\nverify = false", "tls.verify", "false"),
    ] {
        let (k, v, reason) = invalid(text);
        assert_eq!((k.as_str(), v.as_str()), (key, value), "{text}: {reason}");
    }
    // TLS on the SIP port is fine when TCP is off or TLS is disabled.
    assert!(Settings::parse("[service]\ntransport = \"udp\"\n[tls]\nport = 5060").is_ok());
    assert!(Settings::parse("[tls]\nenabled = false\nport = 5060").is_ok());
}
