//! Small byte scanners shared by the message index, the builders and the
//! splicing writer: the first element of a comma list and one `;name=value`
//! parameter of a header value (RFC 3261 §7.3.1, §20, §25.1).
//!
//! These are not the header grammar (that lives in the typed value parsers);
//! they only know enough to skip quoted strings (with `\` escapes) and `<…>`
//! URIs, so a `;` or `,` inside them is not mistaken for a separator. That is
//! all the fast paths need: the `tag` of From/To and the `branch` of the top
//! Via for transaction and dialog matching (§17.1.3, §17.2.3, §12).
//!
//! The searches that run over most of a message's bytes (the line break ending
//! each line, the `:` ending each header name, and the quotes, brackets and
//! separators inside a value) look at a word of eight bytes at a time: XOR
//! with the byte sought turns a match into a zero byte, which one
//! subtract-and-mask finds for all eight at once ("SWAR"). No `unsafe`, no
//! allocation; every search is bounded by the slice it is given.

use std::fmt::{Display, Write as _};

/// Is `b` linear white space (SP, HTAB, or the CR/LF of a folded line)?
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `x`. Bits above the lowest zero byte may
/// be false positives (a borrow), but the lowest set bit is exact.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// `c` in every byte of a word.
#[inline(always)]
const fn splat(c: u8) -> u64 {
    LO * c as u64
}

/// A little-endian word of eight bytes.
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// The index of the first byte at or after `from` that is one of `set`, or
/// `v.len()` if there is none. Sixteen bytes at a time: each word is
/// compared with every byte of `set` at once (SWAR), so a long run without a
/// match costs under a cycle per byte. `pair` adds the two bytes `c` and
/// `c | 2` with a single comparison (`<` and `>` are such a pair).
#[inline(always)]
fn find_any<const N: usize>(v: &[u8], from: usize, set: [u8; N], pair: Option<u8>) -> usize {
    let matches = |x: u64| {
        let mut m = 0;
        for c in set {
            m |= zero_bytes(x ^ splat(c));
        }
        if let Some(c) = pair {
            m |= zero_bytes((x ^ splat(c)) & !splat(2));
        }
        m
    };
    let Some(rest) = v.get(from..) else {
        return v.len();
    };
    let mut base = from;
    let mut chunks = rest.chunks_exact(16);
    for chunk in &mut chunks {
        let (lo, hi) = chunk.split_at(8);
        let (m0, m1) = (matches(word(lo)), matches(word(hi)));
        if m0 | m1 != 0 {
            let at = if m0 != 0 {
                m0.trailing_zeros()
            } else {
                64 + m1.trailing_zeros()
            };
            return base + (at / 8) as usize;
        }
        base += 16;
    }
    let mut tail = chunks.remainder();
    if tail.len() >= 8 {
        let m = matches(word(&tail[..8]));
        if m != 0 {
            return base + (m.trailing_zeros() / 8) as usize;
        }
        base += 8;
        tail = &tail[8..];
    }
    tail.iter()
        .position(|&c| set.contains(&c) || pair.is_some_and(|p| c & !2 == p))
        .map_or(v.len(), |p| base + p)
}

/// The index of the first `:` or `\n` at or after `from` (or `v.len()`),
/// eight bytes at a time.
#[inline]
pub(crate) fn find_colon_or_lf(v: &[u8], from: usize) -> usize {
    find_any(v, from, [b':', b'\n'], None)
}

/// The index of the first `\n` at or after `from`, eight bytes at a time.
#[inline]
pub(crate) fn find_lf_from(v: &[u8], from: usize) -> Option<usize> {
    let i = find_any(v, from, [b'\n'], None);
    (i < v.len()).then_some(i)
}

/// `token` characters (§25.1) as a table, for the hot header-name loop.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Is `b` a `token` character (§25.1)? Same as `method::is_token_char`, by table.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Quotes or angle brackets that do not balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unbalanced;

/// Skips a quoted string whose opening `"` is at `open - 1`: returns the
/// offset after the closing `"`, or `None` if the string does not end.
/// A `\\` escapes the byte after it (§25.1 quoted-pair).
#[inline]
fn skip_quoted(v: &[u8], open: usize) -> Option<usize> {
    let mut i = open;
    loop {
        i = find_any(v, i, [b'"', b'\\'], None);
        match v.get(i)? {
            b'"' => return Some(i + 1),
            _ => i += 2,
        }
    }
}

/// The length of the first element of a comma-separated value, i.e. the
/// index of the first `,` outside quotes and `<…>`; `None` if there is none.
/// Unbalanced quotes or brackets are not an error here (see [`find_param`]).
pub(crate) fn first_comma(v: &[u8]) -> Option<usize> {
    // Most values hold no comma at all.
    if find_any(v, 0, [b','], None) == v.len() {
        return None;
    }
    let mut angle = false;
    let mut i = 0;
    loop {
        i = find_any(v, i, [b'"', b','], Some(b'<'));
        match *v.get(i)? {
            b'"' => i = skip_quoted(v, i + 1)?,
            b'<' => {
                angle = true;
                i += 1;
            }
            b'>' => {
                angle = false;
                i += 1;
            }
            _ if !angle => return Some(i),
            _ => i += 1,
        }
    }
}

/// Trims LWS from the end of `v[..end]` and returns the new end.
pub(crate) fn trim_end(v: &[u8], mut end: usize) -> usize {
    while end > 0 && v.get(end - 1).is_some_and(|&b| is_lws(b)) {
        end -= 1;
    }
    end
}

/// The index of the first non-LWS byte at or after `j` (or `v.len()`).
#[inline]
fn skip_lws(v: &[u8], mut j: usize) -> usize {
    while j < v.len() && is_lws(v[j]) {
        j += 1;
    }
    j
}

/// Finds the header parameter `name` (case-insensitive) of a header value:
/// a `;` outside quotes and `<…>`, LWS, the name, LWS, `=`, LWS, then a value
/// that runs to the next `;`, `,` or LWS. Returns the value's range (never
/// empty), `Ok(None)` if the parameter is absent or valueless, and
/// `Err(Unbalanced)` if quotes or angle brackets do not balance.
pub(crate) fn find_param(v: &[u8], name: &str) -> Result<Option<(usize, usize)>, Unbalanced> {
    let mut angle = false;
    let mut found = None;
    let mut i = 0;
    loop {
        i = find_any(v, i, [b'"', b';'], Some(b'<'));
        let Some(&c) = v.get(i) else { break };
        match c {
            b'"' => {
                i = skip_quoted(v, i + 1).ok_or(Unbalanced)?;
                continue;
            }
            b'<' if angle => return Err(Unbalanced),
            b'<' => angle = true,
            b'>' if !angle => return Err(Unbalanced),
            b'>' => angle = false,
            // A `;`: outside `<…>` and before the parameter is found, a
            // parameter name follows.
            _ if !angle && found.is_none() => {
                let ns = skip_lws(v, i + 1);
                let j = v
                    .get(ns..)
                    .and_then(|r| r.iter().position(|&c| !is_token(c)))
                    .map_or(v.len(), |p| ns + p);
                if v[ns..j].eq_ignore_ascii_case(name.as_bytes()) {
                    let k = skip_lws(v, j);
                    if v.get(k) == Some(&b'=') {
                        let vs = skip_lws(v, k + 1);
                        let ve = v
                            .get(vs..)
                            .and_then(|r| {
                                r.iter()
                                    .position(|&c| matches!(c, b';' | b',') || is_lws(c))
                            })
                            .map_or(v.len(), |p| vs + p);
                        if ve > vs {
                            found = Some((vs, ve));
                        }
                        i = ve;
                        continue;
                    }
                }
                i = j.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if angle {
        return Err(Unbalanced);
    }
    Ok(found)
}

/// Appends `n` in decimal without the formatting machinery (same text as `Display`).
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// Appends an IP address as `Display` writes it (IPv6 without brackets); IPv4
/// without the formatting machinery.
pub(crate) fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(a) => {
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(o));
            }
        }
        std::net::IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// Appends `v` to `out`, writing CR and LF as spaces so a value can never
/// start a new header line.
pub(crate) fn push_value(out: &mut String, v: &str) {
    if v.bytes().any(|b| b == b'\r' || b == b'\n') {
        out.extend(
            v.chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
        );
    } else {
        out.push_str(v);
    }
}

/// Appends a `Display` value, CR and LF written as spaces.
pub(crate) fn push_display_value(out: &mut String, value: impl Display) {
    let at = out.len();
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
    if out[at..].bytes().any(|b| b == b'\r' || b == b'\n') {
        let clean: String = out[at..]
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        out.truncate(at);
        out.push_str(&clean);
    }
}

/// Appends `name: value\r\n` for a `Display` value, CR and LF written as spaces.
pub(crate) fn push_display(out: &mut String, name: &str, value: impl Display) {
    out.push_str(name);
    out.push_str(": ");
    push_display_value(out, value);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::super::method::is_token_char;
    use super::*;

    fn param<'a>(v: &'a str, name: &str) -> Option<&'a str> {
        find_param(v.as_bytes(), name)
            .unwrap()
            .map(|(s, e)| &v[s..e])
    }

    #[test]
    fn finds_tag_in_both_forms() {
        assert_eq!(param("<sip:a@b;tag=x>;tag=abc", "tag"), Some("abc"));
        assert_eq!(param("sip:a@b;TAG=1;x=y", "tag"), Some("1"));
        assert_eq!(param("\"a;tag=no\" <sip:a@b>", "tag"), None);
        assert_eq!(
            param("\"\\\";tag=no\" <sip:a@b> ; tag = yes", "tag"),
            Some("yes")
        );
        // RFC 4475 wsinv From: folded LWS around `;` and `=`.
        assert_eq!(
            param(
                "\"J Rosenberg \\\\\\\"\"  <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
                "tag"
            ),
            Some("98asjd8")
        );
        assert_eq!(param("<sip:a@b>;tagx=1;tag", "tag"), None);
        assert_eq!(param("<sip:a@b>;tag=", "tag"), None);
    }

    #[test]
    fn finds_branch_and_reports_unbalanced() {
        assert_eq!(
            param(
                "SIP/2.0/UDP h;rport;branch=z9hG4bK1;received=1.2.3.4",
                "branch"
            ),
            Some("z9hG4bK1")
        );
        assert_eq!(
            find_param(b"\"Mr. J. User <sip:j@e.com>", "tag"),
            Err(Unbalanced)
        );
        assert_eq!(find_param(b"<sip:a@b;tag=1", "tag"), Err(Unbalanced));
        assert_eq!(find_param(b"sip:a@b>", "tag"), Err(Unbalanced));
    }

    #[test]
    fn first_comma_skips_quotes_and_uris() {
        assert_eq!(first_comma(b"a, b"), Some(1));
        assert_eq!(first_comma(b"\"x,y\" <sip:a@b;p=1,2>, c"), Some(21));
        assert_eq!(first_comma(b"only"), None);
        assert_eq!(trim_end(b"ab \r\n", 5), 2);
    }

    #[test]
    fn find_any_matches_a_plain_search() {
        // Bytes next to the searched ones (`#` is `"` ^ 1, `=` lies between
        // `<` and `>`, `?` is `>` | 1) catch borrow and mask mistakes.
        let alphabet = b"\"#<=>?;:,\\\n\r a\x80\xff\x01\x00";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..3000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 58) as usize;
            let v: Vec<u8> = (0..len)
                .map(|k| alphabet[((seed >> (k % 50)) as usize + k * 7) % alphabet.len()])
                .collect();
            let from = (seed as usize >> 20) % (len + 2);
            let naive = |hit: &dyn Fn(u8) -> bool| {
                v.get(from..)
                    .and_then(|r| r.iter().position(|&c| hit(c)))
                    .map_or(v.len(), |p| from + p)
            };
            assert_eq!(
                find_any(&v, from, [b'"', b';'], Some(b'<')),
                naive(&|c| matches!(c, b'"' | b';' | b'<' | b'>')),
                "{v:?} {from}"
            );
            assert_eq!(
                find_colon_or_lf(&v, from),
                naive(&|c| c == b':' || c == b'\n'),
                "{v:?} {from}"
            );
        }
    }

    #[test]
    fn find_lf_and_token_table() {
        for n in 0..40 {
            let mut v = vec![b'a'; n];
            assert_eq!(find_lf_from(&v, 0), None);
            for at in 0..n {
                v[at] = b'\n';
                assert_eq!(find_lf_from(&v, 0), Some(at), "{n} {at}");
                for from in 0..=n + 2 {
                    let want = (from <= at).then_some(at);
                    assert_eq!(find_lf_from(&v, from), want, "{n} {at} {from}");
                }
                v[at] = 0x8a; // high bytes must not look like LF
            }
            assert_eq!(find_lf_from(&v, 0), None);
        }
        for b in 0..=255u8 {
            assert_eq!(is_token(b), is_token_char(b), "{b}");
        }
    }
}
