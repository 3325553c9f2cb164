//! Robustness tests for every header-value parser (in the spirit of RFC 4475):
//! random bytes, random strings over the SIP alphabet, and pathological
//! repetitions must give `Ok` or `Err`, never a panic, and every value that
//! parses must re-parse equal from its `Display`.

use proptest::prelude::*;

use super::contact::{ContactSet, parse_contacts};
use super::name_addr::{NameAddr, parse_header_params, parse_name_addr_list};
use super::params::Params;
use super::split::split_commas;
use super::uri::{Host, Uri};
use super::values::{
    ContentType, parse_delta_seconds, parse_max_forwards, parse_tokens, parse_u32,
};
use super::via::{Via, parse_via_list};

/// Runs every parser on `s`; checks Display round trips of what parses.
fn run_all(s: &str) {
    if let Ok(u) = Uri::parse(s) {
        assert_eq!(Uri::parse(&u.to_string()).as_ref(), Ok(&u), "{s:?}");
    }
    let _ = Host::parse(s);
    let _ = Params::parse(s);
    if let Ok(n) = NameAddr::parse(s) {
        assert_eq!(NameAddr::parse(&n.to_string()).as_ref(), Ok(&n), "{s:?}");
    }
    let _ = parse_header_params(s);
    let _ = parse_name_addr_list(s);
    if let Ok(v) = Via::parse(s) {
        assert_eq!(Via::parse(&v.to_string()).as_ref(), Ok(&v), "{s:?}");
    }
    let _ = parse_via_list(s);
    if let Ok(ContactSet::List(l)) = parse_contacts(s) {
        for c in l {
            assert_eq!(
                parse_contacts(&c.to_string()),
                Ok(ContactSet::List(vec![c.clone()])),
                "{s:?}"
            );
        }
    }
    let _ = parse_u32(s, "Expires");
    let _ = parse_u32(s, "Content-Length");
    let _ = parse_max_forwards(s);
    let _ = parse_delta_seconds(s, "Expires");
    let _ = parse_tokens(s);
    let _ = split_commas(s).count();
    if let Ok(c) = ContentType::parse(s) {
        assert_eq!(ContentType::parse(&c.to_string()).as_ref(), Ok(&c), "{s:?}");
    }
}

/// Valid values from RFC 3261, RFC 4475 and RFC 5118 to mutate.
const SAMPLES: &[&str] = &[
    "\"Bob\" <sip:bob@biloxi.com>;tag=a6c85cf",
    "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    "<sip:alice@atlanta.com;transport=tcp;lr>, <sip:[2001:db8::10]:5070;lr>",
    "SIP/2.0/UDP [2001:db8::9:1]:5070;received=[2001:db8::9:255];rport=5060;branch=z9hG4bKas3",
    "  SIP  / 2.0  / TCP  spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  , SIP/2.0/UDP h:1;ttl=1",
    "<sip:line1@192.0.2.2;transport=tcp>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000>\";q=0.5;expires=60",
    "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
    "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
    "tel:863-1234;phone-context=+1-914-555",
    "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n    ;\r\n    tag = 98asjd8",
    "multipart/mixed ; boundary=unique-boundary-1",
    "*",
];

/// Fragments inserted by the mutation test.
const PIECES: &[&str] = &[
    ";", "<", ">", "\"", "\\", ",", "%", "%4", "[", "]", ":", "@", "=", "?", "&", " ", "\r\n ",
    "\u{e9}", "sip:", "::", "99999", "0", ";lr", "*",
];

#[test]
fn samples_are_valid() {
    for s in SAMPLES {
        let ok = Uri::parse(s).is_ok()
            || parse_name_addr_list(s).is_ok()
            || parse_via_list(s).is_ok()
            || parse_contacts(s).is_ok()
            || ContentType::parse(s).is_ok();
        assert!(ok, "{s:?}");
    }
}

#[test]
fn pathological_inputs() {
    for unit in [
        ";",
        "<",
        ">",
        "\"",
        "\\",
        ",",
        "%",
        "[",
        "]",
        ":",
        "@",
        "=",
        "\r\n ",
        "\u{e9}",
        ";a",
        "<sip:a@b>,",
    ] {
        for n in [1, 2, 3, 10_000] {
            run_all(&unit.repeat(n));
            run_all(&format!("SIP/2.0/UDP h{}", unit.repeat(n)));
            run_all(&format!("<sip:a@b>{}", unit.repeat(n)));
            run_all(&format!("sip:a@b{}", unit.repeat(n)));
        }
    }
    for s in [
        "",
        " ",
        "\0",
        "\u{feff}sip:a@b",
        "sip:a@b\0",
        "\"\\",
        "<sip:a@b>;tag=\"\\",
    ] {
        run_all(s);
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        run_all(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn mutated_valid_values_never_panic(
        base in 0..SAMPLES.len(),
        edits in proptest::collection::vec((any::<usize>(), 0..3u8, 0..PIECES.len()), 0..4),
    ) {
        let mut s = SAMPLES[base].to_owned();
        for (pos, op, piece) in edits {
            let cuts: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
            let at = cuts[pos % cuts.len()];
            match op {
                0 => s.insert_str(at, PIECES[piece]),
                1 => {
                    let end = cuts.iter().copied().find(|&c| c > at).unwrap_or(at);
                    s.replace_range(at..end, "");
                }
                _ => s.truncate(at),
            }
        }
        run_all(&s);
    }
}
