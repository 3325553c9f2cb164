//! ENUM (RFC 6116): from a dialed E.164 number to a SIP URI through DNS.
//!
//! - Which numbers: `+` followed by 1–15 digits, or 8–15 digits without `+`
//!   (shorter plain digit strings are extensions and short codes, not
//!   international numbers). Visual separators are not accepted: the dialed
//!   number is already what the phone sent. A number whose first digit is 0
//!   is a dialing form (`00` international or `0` national prefix), not
//!   E.164: no ITU-T E.164 country code starts with 0, so
//!   `0044…` is not looked up as `+0044…` (a name that cannot exist).
//! - The owner name (RFC 6116 §2.4): the digits reversed, one label each,
//!   under the suffix (`+44 20 7946 0000` → `0.0.0.0.6.4.9.7.0.2.4.4.e164.arpa`).
//! - The records: NAPTR with flag `u` and service `E2U+sip` (RFC 3764; the
//!   enumservice compares case-insensitively, so `E2U+SIP` too), best order
//!   then preference first (RFC 3403 §4.1). The regexp field (RFC 3402 §3.2,
//!   `delim ere delim repl delim flags`) is applied to the Application Unique
//!   String, the number with its `+` (RFC 6116 §3.2).
//!
//! Only the regexp forms ENUM zones use in practice are understood, with a
//! small hand parser (no general regex engine): a pattern of an optional `^`,
//! literal characters (each optionally followed by `?`, `\` escapes), and a
//! final `.*` or `(.*)` with an optional `$`; `\1` in the replacement is the
//! group. So `!^.*$!sip:info@example.com!` and `!^\+?(.*)$!sip:\1@gw.example!`
//! work; anything else is skipped as unusable. Input is bounded
//! ([`MAX_REGEXP`]); nothing here can panic on it.

use super::NaptrRecord;

/// Longest regexp field considered.
pub const MAX_REGEXP: usize = 512;

/// The digits of `dialed` if it counts as an E.164 number (see the module
/// doc), and the Application Unique String (`+` and the digits).
pub fn e164(dialed: &str) -> Option<(&str, String)> {
    let (digits, plus) = match dialed.strip_prefix('+') {
        Some(d) => (d, true),
        None => (dialed, false),
    };
    let n = digits.len();
    let ok_len = if plus {
        (1..=15).contains(&n)
    } else {
        (8..=15).contains(&n)
    };
    if !ok_len || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    Some((digits, format!("+{digits}")))
}

/// The ENUM owner name of `digits` under `suffix` (RFC 6116 §2.4).
pub fn enum_domain(digits: &str, suffix: &str) -> String {
    let suffix = suffix.trim_matches('.');
    let mut out = String::with_capacity(digits.len() * 2 + suffix.len());
    for c in digits.chars().rev() {
        out.push(c);
        out.push('.');
    }
    out.push_str(suffix);
    out
}

/// A piece of a parsed pattern.
#[derive(Debug, PartialEq, Eq)]
struct Lit {
    c: char,
    optional: bool,
}

/// A parsed pattern: literals at the start, then "anything" (captured or not).
#[derive(Debug)]
struct Pattern {
    literals: Vec<Lit>,
    rest_captured: bool,
    ignore_case: bool,
}

fn parse_pattern(ere: &str, flags: &str) -> Option<Pattern> {
    let mut chars = ere.chars().peekable();
    if chars.peek() == Some(&'^') {
        chars.next();
    }
    let mut literals = Vec::new();
    loop {
        match chars.next()? {
            '\\' => {
                let c = chars.next()?;
                let optional = chars.next_if_eq(&'?').is_some();
                literals.push(Lit { c, optional });
            }
            '.' => {
                chars.next_if_eq(&'*')?;
                return finish(&mut chars, literals, false, flags);
            }
            '(' => {
                let (dot, star, close) = (chars.next(), chars.next(), chars.next());
                if (dot, star, close) != (Some('.'), Some('*'), Some(')')) {
                    return None;
                }
                return finish(&mut chars, literals, true, flags);
            }
            c if c.is_ascii_alphanumeric() => {
                let optional = chars.next_if_eq(&'?').is_some();
                literals.push(Lit { c, optional });
            }
            _ => return None,
        }
    }
}

fn finish(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    literals: Vec<Lit>,
    rest_captured: bool,
    flags: &str,
) -> Option<Pattern> {
    chars.next_if_eq(&'$');
    if chars.next().is_some() || !flags.chars().all(|f| f == 'i') {
        return None;
    }
    Some(Pattern {
        literals,
        rest_captured,
        ignore_case: flags.contains('i'),
    })
}

/// Applies an RFC 3402 substitution expression to `aus`; `None` when the
/// expression is not one of the understood forms or does not match.
pub fn apply_regexp(regexp: &str, aus: &str) -> Option<String> {
    if regexp.len() > MAX_REGEXP {
        return None;
    }
    let delim = regexp.chars().next()?;
    if delim.is_ascii_alphanumeric() || delim == '\\' {
        return None;
    }
    let body = regexp.get(delim.len_utf8()..)?;
    let mut parts = body.splitn(3, delim);
    let (ere, repl, flags) = (parts.next()?, parts.next()?, parts.next()?);
    let pat = parse_pattern(ere, flags)?;
    // Match the literals at the start, greedily (the forms above never need backtracking).
    let mut rest = aus;
    for l in &pat.literals {
        let next = rest.chars().next();
        let hit = next.is_some_and(|c| c == l.c || pat.ignore_case && c.eq_ignore_ascii_case(&l.c));
        if hit {
            rest = rest.get(l.c.len_utf8()..)?;
        } else if !l.optional {
            return None;
        }
    }
    let group = if pat.rest_captured { rest } else { "" };
    let mut out = String::with_capacity(repl.len() + group.len());
    let mut r = repl.chars();
    while let Some(c) = r.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match r.next()? {
            '1' if pat.rest_captured => out.push_str(group),
            d if d.is_ascii_digit() => return None, // no such group
            other => out.push(other),
        }
    }
    Some(out)
}

/// Is this NAPTR service an ENUM SIP service (RFC 3764 `E2U+sip`, or the
/// older RFC 2916 `SIP+E2U`)?
fn is_sip_service(service: &str) -> bool {
    service.eq_ignore_ascii_case("E2U+sip") || service.eq_ignore_ascii_case("SIP+E2U")
}

/// The SIP URI the best usable `E2U+sip` record gives for `aus`.
pub fn enum_sip_uri(records: &[NaptrRecord], aus: &str) -> Option<String> {
    let mut usable: Vec<&NaptrRecord> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("u") && is_sip_service(&r.service))
        .collect();
    usable.sort_by_key(|r| (r.order, r.preference));
    usable.into_iter().find_map(|r| {
        let uri = apply_regexp(&r.regexp, aus)?;
        let sip = uri.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sip:"))
            || uri
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("sips:"));
        sip.then_some(uri)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(order: u16, pref: u16, service: &str, regexp: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference: pref,
            flags: "u".into(),
            service: service.into(),
            regexp: regexp.into(),
            replacement: ".".into(),
        }
    }

    #[test]
    fn which_numbers_are_e164() {
        assert_eq!(
            e164("+442079460000"),
            Some(("442079460000", "+442079460000".into()))
        );
        assert_eq!(
            e164("442079460000"),
            Some(("442079460000", "+442079460000".into()))
        );
        assert_eq!(e164("+1"), Some(("1", "+1".into())));
        for bad in [
            "",
            "+",
            "7001",
            "1234567",
            "+1234567890123456",
            "+44 20",
            "+44-20",
            "12a45678",
            "++1",
            // dialing forms, not E.164 (no country code starts with 0)
            "00442079460000",
            "02079460000",
            "+0442079460000",
            "+0",
        ] {
            assert_eq!(e164(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn owner_name_per_rfc_6116() {
        // RFC 6116 §2.4 example: +442079460148.
        assert_eq!(
            enum_domain("442079460148", "e164.arpa"),
            "8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa"
        );
        assert_eq!(
            enum_domain("12", "e164.example.org."),
            "2.1.e164.example.org"
        );
    }

    #[test]
    fn regexp_forms() {
        let aus = "+442079460148";
        assert_eq!(
            apply_regexp("!^.*$!sip:info@example.com!", aus).as_deref(),
            Some("sip:info@example.com")
        );
        assert_eq!(
            apply_regexp("!^\\+?(.*)$!sip:\\1@gw.example.net!", aus).as_deref(),
            Some("sip:442079460148@gw.example.net")
        );
        assert_eq!(
            apply_regexp("!^(.*)$!sip:\\1@gw.example.net!", aus).as_deref(),
            Some("sip:+442079460148@gw.example.net")
        );
        assert_eq!(
            apply_regexp("/^\\+44(.*)$/sip:0\\1@uk.example/i", aus).as_deref(),
            Some("sip:02079460148@uk.example")
        );
        // Does not match: a required literal differs.
        assert_eq!(apply_regexp("!^\\+1(.*)$!sip:\\1@us.example!", aus), None);
        // Unsupported or broken forms are refused, not guessed.
        for bad in [
            "",
            "!",
            "!^.*$!sip:x@y",
            "!^[0-9]+$!sip:x@y!",
            "!^.*x$!sip:x@y!",
            "!^.*$!sip:\\2@y!",
            "!^.*$!sip:x@y!g",
            "a^.*$asip:x@ya",
            "!^(.*$!sip:\\1@y!",
        ] {
            assert_eq!(apply_regexp(bad, aus), None, "{bad:?}");
        }
        assert_eq!(apply_regexp(&"!".repeat(MAX_REGEXP + 1), aus), None);
    }

    #[test]
    fn best_sip_record_wins() {
        let aus = "+4420";
        let recs = vec![
            rec(100, 10, "E2U+mailto", "!^.*$!mailto:a@b!"),
            rec(100, 20, "E2U+SIP", "!^.*$!sip:second@b!"),
            rec(100, 10, "E2U+sip", "!^.*$!sip:first@b!"),
            rec(50, 10, "E2U+sip", "!^[x]$!sip:broken@b!"),
            rec(10, 10, "E2U+sip", "!^.*$!tel:+4420!"),
        ];
        assert_eq!(enum_sip_uri(&recs, aus).as_deref(), Some("sip:first@b"));
        let mut non_terminal = rec(1, 1, "E2U+sip", "!^.*$!sip:x@b!");
        non_terminal.flags = String::new();
        assert_eq!(enum_sip_uri(&[non_terminal], aus), None);
        assert_eq!(enum_sip_uri(&[], aus), None);
    }
}
