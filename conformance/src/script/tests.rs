//! Parser tests: a full good script, and bad scripts that must name file and line.

use super::*;

const GOOD: &str = "\
# RFC 3665 §2.1-style
seed 42
steps 5000
engine server 192.0.2.1:5060 udp tcp      # the engine under test
engine server [2001:db8::1]:5060 udp
config domain=example.com auth=on
extension 101 password=secret display=Alice
host alice 192.0.2.101:5060 udp
host bob [2001:db8::2]:5060 tcp
net loss=0 delay=5ms
net alice loss=0.3 delay=1ms..20ms dup=0.1 reorder=0.2

send alice udp
| REGISTER sip:example.com SIP/2.0
| Via: SIP/2.0/UDP 192.0.2.101:5060;branch=${branch:r1}   # not a comment in a message
| Content-Length: auto
|
| body
expect alice response 401 REGISTER over udp within 5s
| WWW-Authenticate ~ algorithm=SHA-256       # matcher comment
| Record-Route !
| Contact = <sip:x>
| Expires
save alice nonce = header WWW-Authenticate param nonce
save alice code = status
expect bob request INVITE sip:bob@example.com within 1.5s
expect alice response 2xx
expect event Registered aor=101@example.com within 1s
expect nothing 40s
expect nothing bob 500ms
advance 1s
lose next alice->server 2
lose next server->bob
connect bob to [2001:db8::1]:5060
close bob
send bob tcp to [2001:db8::1]:5060
| OPTIONS sip:x SIP/2.0
";

#[test]
fn parses_a_full_script() {
    let s = Script::parse("good.scn", GOOD).expect("valid");
    assert_eq!(s.seed, 42);
    assert_eq!(s.max_steps, Some(5000));
    assert_eq!(s.engine, "server");
    assert_eq!(s.engine_addrs.len(), 2);
    assert_eq!(s.engine_addrs[0].1, vec![Transport::Udp, Transport::Tcp]);
    assert!(s.engine_addrs[1].0.is_ipv6());
    assert_eq!(
        s.config,
        vec![
            ("domain".into(), "example.com".into()),
            ("auth".into(), "on".into())
        ]
    );
    assert_eq!(s.extensions[0].password, "secret");
    assert_eq!(
        s.extensions[0].extra,
        vec![("display".into(), "Alice".into())]
    );
    assert_eq!(s.hosts.len(), 2);
    assert_eq!(s.steps.len(), 17);

    let Action::Net(n) = &s.steps[1].action else {
        panic!("net")
    };
    assert_eq!(n.host.as_deref(), Some("alice"));
    assert_eq!(n.loss, Some(0.3));
    assert_eq!(
        n.delay,
        Some((Duration::from_millis(1), Duration::from_millis(20)))
    );

    let Action::Send {
        host,
        transport,
        to,
        lines,
    } = &s.steps[2].action
    else {
        panic!("send")
    };
    assert_eq!(
        (host.as_str(), *transport, *to),
        ("alice", Transport::Udp, None)
    );
    assert_eq!(lines.len(), 5);
    assert!(lines[1].ends_with("# not a comment in a message"));
    assert_eq!(lines[3], "");
    assert_eq!(s.steps[2].line, 13);

    let Action::Expect(e) = &s.steps[3].action else {
        panic!("expect")
    };
    assert_eq!(
        e.kind,
        ExpectKind::Response {
            code: "401".into(),
            method: Some("REGISTER".into())
        }
    );
    assert_eq!(e.transport, Some(Transport::Udp));
    assert_eq!(e.within, Some(Duration::from_secs(5)));
    let ops: Vec<MatchOp> = e.headers.iter().map(|h| h.op).collect();
    assert_eq!(
        ops,
        vec![
            MatchOp::Contains,
            MatchOp::Absent,
            MatchOp::Equals,
            MatchOp::Present
        ]
    );
    assert_eq!(e.headers[0].value, "algorithm=SHA-256");
    assert_eq!(e.headers[2].value, "<sip:x>");

    assert_eq!(
        s.steps[4].action,
        Action::Save {
            host: "alice".into(),
            var: "nonce".into(),
            source: SaveSource::Header {
                name: "WWW-Authenticate".into(),
                param: Some("nonce".into())
            }
        }
    );
    let Action::Expect(e) = &s.steps[6].action else {
        panic!("expect")
    };
    assert_eq!(
        e.kind,
        ExpectKind::Request {
            method: "INVITE".into(),
            uri: Some("sip:bob@example.com".into())
        }
    );
    assert_eq!(e.within, Some(Duration::from_millis(1500)));
    assert_eq!(
        s.steps[8].action,
        Action::ExpectEvent {
            pattern: vec!["Registered".into(), "aor=101@example.com".into()],
            within: Some(Duration::from_secs(1))
        }
    );
    assert_eq!(
        s.steps[10].action,
        Action::ExpectNothing {
            host: Some("bob".into()),
            duration: Duration::from_millis(500)
        }
    );
    assert_eq!(
        s.steps[13].action,
        Action::Lose {
            from: "server".into(),
            to: "bob".into(),
            count: 1
        }
    );
}

fn err(text: &str) -> ScriptError {
    Script::parse("bad.scn", text).expect_err("must fail")
}

const HEAD: &str = "engine server 192.0.2.1:5060 udp\nhost alice 192.0.2.101:5060 udp\n";

#[test]
fn bad_scripts_name_file_and_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("frobnicate\n", 3, "unknown directive"),
        ("seed x\n", 3, "seed"),
        ("send carol udp\n| X\n", 3, "unknown host \"carol\""),
        ("send alice sctp\n", 3, "unknown transport"),
        ("send alice udp\nadvance 1s\n", 3, "needs a message"),
        ("| orphan\n", 3, "must follow"),
        ("expect alice response 4x4\n", 3, "bad status"),
        ("expect alice response 200 within soon\n", 3, "duration"),
        ("expect alice request\n", 3, "expect <host> request"),
        (
            "expect alice response 200\n| ~ nothing\n",
            4,
            "expected `| Header",
        ),
        ("expect alice response 200\n| Via ? x\n", 4, "bad matcher"),
        (
            "expect alice response 200\n| Via count two\n",
            4,
            "needs a number",
        ),
        (
            "expect alice response 200\n| Via[0] ~ x\n",
            4,
            "bad header index",
        ),
        (
            "expect alice response 200\n| [1] ~ x\n",
            4,
            "bad header index",
        ),
        ("expect nothing\n", 3, "duration"),
        ("advance 5 parsecs\n", 3, "duration"),
        ("net loss=1.5\n", 3, "probability"),
        ("net jitter=3\n", 3, "unknown net setting"),
        ("net delay=9ms..1ms\n", 3, "low..high"),
        ("lose next alice->carol 1\n", 3, "unknown host \"carol\""),
        ("lose alice->server\n", 3, "lose next"),
        ("save alice x = header\n", 3, "unknown save source"),
        ("save alice x header Via\n", 3, "expected `save"),
        ("host alice 192.0.2.5:5060 udp\n", 3, "already used"),
        ("host event 192.0.2.5:5060 udp\n", 3, "reserved"),
        ("host carol 192.0.2.5 udp\n", 3, "address"),
        ("host carol 192.0.2.5:5060\n", 3, "at least one transport"),
        ("extension 101 secret\n", 3, "key=value"),
        ("extension 101 pin=1\n", 3, "password"),
        ("engine other 192.0.2.9:5060 udp\n", 3, "already called"),
        ("close\n", 3, "close <host>"),
    ];
    for (body, line, needle) in cases {
        let e = err(&format!("{HEAD}{body}"));
        assert_eq!(e.file, "bad.scn", "{body}");
        assert_eq!(e.line, *line, "{body}: {e}");
        assert!(e.message.contains(needle), "{body}: {e}");
        assert!(e.to_string().starts_with(&format!("bad.scn:{line}: ")));
    }
    let e = err("host alice 192.0.2.101:5060 udp\n");
    assert!(e.message.contains("no `engine"), "{e}");
}

#[test]
fn negative_count_and_indexed_matchers() {
    let s = Script::parse(
        "m.scn",
        &format!(
            "{HEAD}expect alice response 200\n| Contact !~ 192.0.2.9\n| Contact count 2\n| Via[1] ~ z9hG4bK\n| Via[2]\n"
        ),
    )
    .expect("parses");
    let Action::Expect(e) = &s.steps[0].action else {
        panic!("expect")
    };
    let got: Vec<(&str, Option<usize>, MatchOp, &str)> = e
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.index, h.op, h.value.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Contact", None, MatchOp::NotContains, "192.0.2.9"),
            ("Contact", None, MatchOp::Count, "2"),
            ("Via", Some(1), MatchOp::Contains, "z9hG4bK"),
            ("Via", Some(2), MatchOp::Present, ""),
        ]
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500us"), Some(Duration::from_micros(500)));
    assert_eq!(parse_duration("5ms"), Some(Duration::from_millis(5)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    for bad in ["", "5", "ms", "-1s", "1h", "NaNs", "infs", "1e400s"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

proptest::proptest! {
    #[test]
    fn the_parser_never_panics(text in "(?s).{0,400}") {
        let _ = Script::parse("fuzz.scn", &text);
    }

    #[test]
    fn the_parser_never_panics_on_script_like_lines(
        lines in proptest::collection::vec(
            "(seed|engine|host|send|expect|save|lose|net|advance|connect|close|\\|)( [a-z0-9=:.\\[\\]>~!-]{0,12}){0,6}",
            0..12,
        )
    ) {
        let _ = Script::parse("fuzz.scn", &lines.join("\n"));
    }
}
