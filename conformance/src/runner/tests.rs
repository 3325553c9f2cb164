//! Runner tests: expectations pass and fail with readable reasons; leftovers fail the run.

use super::*;
use crate::testnode::Echo;

const HEAD: &str = "seed 1\nengine server 192.0.2.1:5060 udp tcp\nhost alice 192.0.2.101:5060 udp tcp\nnet delay=5ms\n";

const PING: &str = "send alice udp\n| OPTIONS sip:x SIP/2.0\n| Via: SIP/2.0/UDP ${addr:alice};branch=${branch:b}\n| CSeq: 1 OPTIONS\n| Content-Length: 0\n";

fn go(body: &str) -> Outcome {
    let s = Script::parse("t.scn", &format!("{HEAD}{body}")).expect("valid");
    run(&s, &Echo::boxed, &Options::default())
}

#[test]
fn a_matching_expectation_passes() {
    let o = go(&format!(
        "{PING}expect alice request OPTIONS sip:x over udp within 20ms\n| Via ~ ${{branch:b}}\n| CSeq = 1 OPTIONS\n| Route !\nsave alice cs = header CSeq\nexpect nothing 1s\n"
    ));
    assert_eq!(o.failure, None, "{}", o.transcript);
    assert!(
        o.transcript
            .contains("+0.010s alice <- server UDP OPTIONS sip:x SIP/2.0")
    );
}

#[test]
fn negative_count_and_indexed_matchers_judge_header_lines() {
    let two_vias = "send alice udp\n| OPTIONS sip:x SIP/2.0\n| Via: SIP/2.0/UDP p;branch=z9hG4bKtop\n| Via: SIP/2.0/UDP q;branch=z9hG4bKnext\n| CSeq: 1 OPTIONS\n| Content-Length: 0\n";
    let ok = go(&format!(
        "{two_vias}expect alice request OPTIONS\n| Via count 2\n| Via[1] ~ z9hG4bKtop\n| Via[2] ~ z9hG4bKnext\n| Via !~ z9hG4bKother\n| Route count 0\n"
    ));
    assert_eq!(ok.failure, None, "{}", ok.transcript);
    for (m, needle) in [
        ("| Via count 1", "header Via count 1 does not hold"),
        ("| Via[1] ~ next", "header Via[1] ~ next does not hold"),
        ("| Via[3]", "header Via[3] present does not hold"),
        ("| Via !~ top", "header Via !~ top does not hold"),
    ] {
        let o = go(&format!("{two_vias}expect alice request OPTIONS\n{m}\n"));
        let f = o.failure.unwrap_or_else(|| panic!("{m} must fail"));
        assert!(f.contains(needle), "{m}: {f}");
    }
}

#[test]
fn failures_say_what_arrived_instead() {
    let cases = [
        (
            "expect alice response 200\n",
            "a request arrived, not a response",
        ),
        (
            "expect alice request INVITE\n",
            "method is OPTIONS, not INVITE",
        ),
        (
            "expect alice request OPTIONS sip:y\n",
            "Request-URI is sip:x",
        ),
        (
            "expect alice request OPTIONS over tcp\n",
            "came over UDP instead of TCP",
        ),
        (
            "expect alice request OPTIONS\n| Via ~ nope\n",
            "header Via ~ nope does not hold",
        ),
        (
            "expect alice request OPTIONS\n| CSeq !\n",
            "header CSeq absent",
        ),
        (
            "expect alice request OPTIONS within 5ms\n",
            "nothing arrived at alice by +0.005s",
        ),
        ("expect nothing 1s\n", "a message arrived"),
        ("advance 1s\n", "no `expect` consumed them"),
        (
            "expect alice request OPTIONS\nsave alice x = header Route\n",
            "no such value",
        ),
        (
            "expect alice request OPTIONS\nexpect event Registered within 1s\n",
            "no such event",
        ),
    ];
    for (tail, needle) in cases {
        let o = go(&format!("{PING}{tail}"));
        let f = o.failure.unwrap_or_else(|| panic!("{tail} must fail"));
        assert!(f.contains(needle), "{tail}: {f}");
        assert!(f.starts_with("t.scn"), "{f}");
    }
    // Line numbers point at the failing step.
    let o = go(&format!("{PING}expect alice response 200\n"));
    assert!(o.failure.expect("fails").starts_with("t.scn:10: "));
}

#[test]
fn unset_variables_fail_the_step() {
    let o = go("send alice udp\n| X ${saved:nope} SIP/2.0\n");
    assert!(o.failure.expect("fails").contains("never saved"));
}

#[test]
fn lenient_mode_skips_and_records_misses() {
    let s = Script::parse(
        "t.scn",
        &format!("{HEAD}{PING}{PING}expect alice request INVITE within 1s\nexpect alice request OPTIONS\n"),
    )
    .expect("valid");
    let o = run(
        &s,
        &Echo::boxed,
        &Options {
            lenient: true,
            ..Options::default()
        },
    );
    assert_eq!(o.failure, None);
    assert_eq!(o.missed.len(), 2, "{:?}", o.missed);
    assert!(o.transcript.contains("(skipped at alice"));
}

#[test]
fn events_match_by_name_fields_and_words() {
    let text = r#"Registered { aor: "101@example.com", expires: 3600, refresh: false }"#;
    let p = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(event_matches(&p(&["Registered"]), text));
    assert!(event_matches(
        &p(&["Registered", "aor=101@example.com", "expires=3600"]),
        text
    ));
    assert!(event_matches(&p(&["Reg", "refresh"]), text));
    assert!(!event_matches(&p(&["Unregistered"]), text));
    assert!(!event_matches(
        &p(&["Registered", "aor=102@example.com"]),
        text
    ));
    assert!(!event_matches(&p(&[]), text));
}

#[test]
fn scenario_files_report_parse_errors_and_missing_goldens() {
    let dir = std::env::temp_dir().join(format!("sb-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.scn");
    std::fs::write(&bad, format!("{HEAD}advance soon\n")).expect("write");
    let e = check_scenario_file(&bad, &Echo::boxed, &Options::default()).expect_err("bad");
    assert!(e.starts_with("bad.scn:5: "), "{e}");
    let good = dir.join("good.scn");
    std::fs::write(&good, format!("{HEAD}{PING}expect alice request OPTIONS\n")).expect("write");
    let e = check_scenario_file(&good, &Echo::boxed, &Options::default()).expect_err("no golden");
    assert!(e.contains("UPDATE_GOLDEN=1"), "{e}");
    std::fs::write(
        dir.join("good.transcript"),
        go(&format!("{PING}expect alice request OPTIONS\n")).transcript,
    )
    .expect("write");
    assert_eq!(
        check_scenario_file(&good, &Echo::boxed, &Options::default()),
        Ok(())
    );
    std::fs::write(dir.join("good.transcript"), "stale\n").expect("write");
    let e = check_scenario_file(&good, &Echo::boxed, &Options::default()).expect_err("stale");
    assert!(e.contains("first difference at line 1"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
