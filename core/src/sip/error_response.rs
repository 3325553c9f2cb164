//! Answering a request that failed to parse (RFC 3261 §8.2, §21.4; RFC 4475).
//!
//! `Message::parse` refuses the request, so the normal response builder (which
//! copies from a parsed message) cannot be used. This module scans the raw
//! bytes leniently for the headers a response must echo (Via, From, To,
//! Call-ID, CSeq) and builds the error response from them, byte-exact. If the
//! bytes are not even a request line, or no Via can be found (nowhere to
//! send a response that the client could match), there is nothing to answer.

use super::header::HeaderName;
use bytes::{BufMut, Bytes, BytesMut};

/// Does `raw` start like a request (not `SIP/2.0 ...`)?
pub fn looks_like_request(raw: &[u8]) -> bool {
    let start = raw
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(raw.len());
    let line = &raw[start..];
    !line.is_empty() && !line.starts_with(b"SIP/") && line.iter().take(32).any(|&b| b == b' ')
}

/// Builds `status reason` for the request in `raw`, echoing its Via, From, To,
/// Call-ID and CSeq lines; `to_tag` is added to a To without a tag. `None` if
/// `raw` has no Via header.
pub fn error_response(raw: &[u8], status: u16, reason: &str, to_tag: &str) -> Option<Bytes> {
    let head_end = find(raw, b"\r\n\r\n").unwrap_or(raw.len()).min(65_536);
    let head = &raw[..head_end];
    let mut lines: Vec<(HeaderName, &[u8])> = Vec::new();
    let mut have_via = false;
    let mut iter = head.split(|&b| b == b'\n').skip(1).peekable();
    while let Some(line) = iter.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue; // continuation of a header we do not echo (or do: kept below by joining)
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(trim(&line[..colon]));
        if !matches!(
            name,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        ) {
            continue;
        }
        let mut value = trim(&line[colon + 1..]);
        // Skip folded continuation lines of echoed headers rather than mis-joining them.
        while iter
            .peek()
            .is_some_and(|l| l.first().is_some_and(|b| *b == b' ' || *b == b'\t'))
        {
            iter.next();
        }
        if value.len() > 4096 {
            value = &value[..4096];
        }
        if name == HeaderName::Via {
            have_via = true;
        }
        lines.push((name, value));
    }
    if !have_via {
        return None;
    }
    let mut out = BytesMut::with_capacity(256 + head_end.min(2048));
    out.put_slice(format!("SIP/2.0 {status} {}\r\n", clean(reason)).as_bytes());
    let mut to_done = false;
    for (name, value) in lines {
        if name == HeaderName::To {
            if to_done {
                continue;
            }
            to_done = true;
        }
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(&sanitize(value));
        if name == HeaderName::To && !contains_tag(value) && status > 100 {
            out.put_slice(b";tag=");
            out.put_slice(to_tag.as_bytes());
        }
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"Content-Length: 0\r\n\r\n");
    Some(out.freeze())
}

fn contains_tag(v: &[u8]) -> bool {
    let lower: Vec<u8> = v.iter().map(u8::to_ascii_lowercase).collect();
    find(&lower, b";tag=").is_some() || find(&lower, b"; tag=").is_some()
}

fn sanitize(v: &[u8]) -> Vec<u8> {
    v.iter()
        .map(|&b| {
            if b == b'\r' || b == b'\n' || b == 0 {
                b' '
            } else {
                b
            }
        })
        .collect()
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn trim(s: &[u8]) -> &[u8] {
    let a = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let b = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(a, |i| i + 1);
    &s[a..b.max(a)]
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_a_request_missing_call_id() {
        let raw = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nf: <sip:a@x>;tag=9\r\nTo: <sip:bob@example.com>\r\nCSeq: 1 INVITE\r\n\r\n";
        let r = error_response(raw, 400, "Bad Request: missing Call-ID header", "t1")
            .expect("has a Via");
        let text = std::str::from_utf8(&r).expect("ascii");
        assert!(text.starts_with("SIP/2.0 400 Bad Request: missing Call-ID header\r\n"));
        assert!(text.contains("Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"));
        assert!(text.contains("From: <sip:a@x>;tag=9\r\n"));
        assert!(text.contains("To: <sip:bob@example.com>;tag=t1\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn nothing_to_answer_without_a_via_or_for_responses() {
        assert!(
            error_response(
                b"INVITE sip:x SIP/2.0\r\nTo: <sip:x>\r\n\r\n",
                400,
                "x",
                "t"
            )
            .is_none()
        );
        assert!(!looks_like_request(b"SIP/2.0 200 OK\r\n"));
        assert!(looks_like_request(b"\r\nINVITE sip:x SIP/2.0\r\n"));
        assert!(!looks_like_request(b"\x00\x01garbage"));
    }
}
