//! Small byte scanners shared by the message index, the builders and the
//! splicing writer: the first element of a comma list and one `;name=value`
//! parameter of a header value (RFC 3261 §7.3.1, §20, §25.1).
//!
//! These are not the header grammar (that lives in the typed value parsers);
//! they only know enough to skip quoted strings (with `\` escapes) and `<…>`
//! URIs, so a `;` or `,` inside them is not mistaken for a separator. That is
//! all the fast paths need: the `tag` of From/To and the `branch` of the top
//! Via for transaction and dialog matching (§17.1.3, §17.2.3, §12).

use std::fmt::{Display, Write as _};

use super::method::is_token_char;

/// Is `b` linear white space (SP, HTAB, or the CR/LF of a folded line)?
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The index of the first `\n` in `v`, eight bytes at a time.
pub(crate) fn find_lf(v: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = LO * b'\n' as u64;
    let mut chunks = v.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ LF;
        // A zero byte in x is a `\n` in the chunk.
        if x.wrapping_sub(LO) & !x & HI != 0 {
            return chunk.iter().position(|&c| c == b'\n').map(|i| base + i);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'\n')
        .map(|i| base + i)
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

/// The bytes `find_param` must look at outside a quoted string.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b';' as usize] = true;
    t
};

/// Quotes or angle brackets that do not balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unbalanced;

/// The length of the first element of a comma-separated value, i.e. the
/// index of the first `,` outside quotes and `<…>`; `None` if there is none.
pub(crate) fn first_comma(v: &[u8]) -> Option<usize> {
    let mut in_quote = false;
    let mut angle = false;
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
        if in_quote {
            match c {
                b'\\' => i += 1,
                b'"' => in_quote = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_quote = true,
                b'<' => angle = true,
                b'>' => angle = false,
                b',' if !angle => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Trims LWS from the end of `v[..end]` and returns the new end.
pub(crate) fn trim_end(v: &[u8], mut end: usize) -> usize {
    while end > 0 && v.get(end - 1).is_some_and(|&b| is_lws(b)) {
        end -= 1;
    }
    end
}

/// Finds the header parameter `name` (case-insensitive) of a header value:
/// a `;` outside quotes and `<…>`, LWS, the name, LWS, `=`, LWS, then a value
/// that runs to the next `;`, `,` or LWS. Returns the value's range (never
/// empty), `Ok(None)` if the parameter is absent or valueless, and
/// `Err(Unbalanced)` if quotes or angle brackets do not balance.
pub(crate) fn find_param(v: &[u8], name: &str) -> Result<Option<(usize, usize)>, Unbalanced> {
    let mut in_quote = false;
    let mut angle = false;
    let mut found = None;
    let mut i = 0;
    let skip_lws = |mut j: usize| {
        while j < v.len() && is_lws(v[j]) {
            j += 1;
        }
        j
    };
    while i < v.len() {
        let c = v[i];
        if in_quote {
            match c {
                b'\\' => i += 1,
                b'"' => in_quote = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if !SPECIAL[c as usize] {
            i += 1;
            continue;
        }
        match c {
            b'"' => in_quote = true,
            b'<' if angle => return Err(Unbalanced),
            b'<' => angle = true,
            b'>' if !angle => return Err(Unbalanced),
            b'>' => angle = false,
            b';' if !angle && found.is_none() => {
                let ns = skip_lws(i + 1);
                let mut j = ns;
                while j < v.len() && is_token_char(v[j]) {
                    j += 1;
                }
                if v[ns..j].eq_ignore_ascii_case(name.as_bytes()) {
                    let k = skip_lws(j);
                    if v.get(k) == Some(&b'=') {
                        let vs = skip_lws(k + 1);
                        let mut ve = vs;
                        while ve < v.len() && !matches!(v[ve], b';' | b',') && !is_lws(v[ve]) {
                            ve += 1;
                        }
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
    if in_quote || angle {
        return Err(Unbalanced);
    }
    Ok(found)
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
    fn find_lf_and_token_table() {
        for n in 0..40 {
            let mut v = vec![b'a'; n];
            assert_eq!(find_lf(&v), None);
            for at in 0..n {
                v[at] = b'\n';
                assert_eq!(find_lf(&v), Some(at), "{n} {at}");
                v[at] = 0x8a; // high bytes must not look like LF
            }
            assert_eq!(find_lf(&v), None);
        }
        for b in 0..=255u8 {
            assert_eq!(is_token(b), is_token_char(b), "{b}");
        }
    }
}
