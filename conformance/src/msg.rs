//! A forgiving, allocation-happy view of a SIP message for *test assertions*.
//!
//! The harness must read what the engine sent without depending on the engine's
//! own codec (which is the thing under test). This view does plain string
//! handling only: the start line (RFC 3261 §7.1, §7.2), header lines with
//! folding undone (§7.3.1), compact header names (§7.3.3), header parameters
//! (`;name=value`, and the comma-separated auth-params of §25.1 / RFC 7616 §3.3),
//! and stream framing by `Content-Length` (§18.3). It never panics on any input;
//! things it cannot read become `None`.

use std::fmt::Write as _;

/// What the start line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD uri SIP/2.0`.
    Request {
        /// The method token, as written.
        method: String,
        /// The Request-URI, as written.
        uri: String,
    },
    /// `SIP/2.0 code reason`.
    Response {
        /// The status code.
        code: u16,
        /// The reason phrase, as written.
        reason: String,
    },
}

/// A parsed message: start line, unfolded headers in order, raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipView {
    /// The start line.
    pub start: StartLine,
    /// `(name, value)` pairs in order; values trimmed and unfolded.
    pub headers: Vec<(String, String)>,
    /// The body bytes after the empty line.
    pub body: Vec<u8>,
}

/// Expands an RFC 3261 §7.3.3 compact form (and RFC 3515/3891/3903 ones) to the long name.
pub fn long_name(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes().first().map(u8::to_ascii_lowercase) {
        Some(b'v') => "Via",
        Some(b'f') => "From",
        Some(b't') => "To",
        Some(b'i') => "Call-ID",
        Some(b'm') => "Contact",
        Some(b'l') => "Content-Length",
        Some(b'c') => "Content-Type",
        Some(b'k') => "Supported",
        Some(b's') => "Subject",
        Some(b'e') => "Content-Encoding",
        Some(b'o') => "Event",
        Some(b'r') => "Refer-To",
        Some(b'u') => "Allow-Events",
        Some(b'b') => "Referred-By",
        _ => name,
    }
}

/// True if two header names denote the same header (case-insensitive, compact forms expanded).
pub fn same_header(a: &str, b: &str) -> bool {
    long_name(a).eq_ignore_ascii_case(long_name(b))
}

/// Splits `buf` at the first empty line: `(head, body)`; `None` without one.
fn split_head(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(i) = find(buf, b"\r\n\r\n") {
        return Some((&buf[..i], &buf[i + 4..]));
    }
    find(buf, b"\n\n").map(|i| (&buf[..i], &buf[i + 2..]))
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl SipView {
    /// Reads a whole message (a datagram or one framed stream message).
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let (head, body) = split_head(buf).unwrap_or((buf, &[]));
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next()?;
        let start = parse_start(first)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // §7.3.1 folding: continuation of the previous header value.
                if let Some((_, v)) = headers.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        Some(Self {
            start,
            headers,
            body: body.to_vec(),
        })
    }

    /// The values of every header called `name` (each header line counts once;
    /// comma-joined values are not split).
    pub fn header_all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| same_header(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).next()
    }

    /// The CSeq method, if the CSeq header reads.
    pub fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq")?.split_whitespace().nth(1)
    }

    /// One line describing the message: its start line.
    pub fn summary(&self) -> String {
        match &self.start {
            StartLine::Request { method, uri } => format!("{method} {uri} SIP/2.0"),
            StartLine::Response { code, reason } => format!("SIP/2.0 {code} {reason}"),
        }
    }
}

/// Reads a start line.
fn parse_start(line: &str) -> Option<StartLine> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code = code.trim().parse().ok()?;
        return Some(StartLine::Response {
            code,
            reason: reason.trim().to_owned(),
        });
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let uri = parts.next()?.to_owned();
    Some(StartLine::Request { method, uri })
}

/// Finds parameter `name` in a header value: `;name=value` parameters of
/// name-addr/Via values, or `name=value` auth-params separated by commas
/// (`Digest realm="x", nonce="y"`). Quotes are removed. A flag parameter
/// (`;lr`) yields `Some("")`.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    for piece in split_params(value) {
        let piece = piece.trim();
        let (k, v) = match piece.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (piece, ""),
        };
        // "Digest realm" → "realm": the auth scheme precedes the first param.
        let k = k.rsplit([' ', '\t']).next().unwrap_or(k);
        if k.eq_ignore_ascii_case(name) {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            return Some(v);
        }
    }
    None
}

/// Splits at `;` and `,` outside quotes and outside `<...>`.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ';' | ',' if !quoted && !angle => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// For stream transports (§18.3): the length of the first complete message in
/// `buf`, counting leading CRLF keep-alives, or `None` if more bytes are needed.
/// A message with no readable `Content-Length` is framed as having no body.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let lead = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let rest = buf.get(lead..)?;
    if rest.is_empty() {
        return None;
    }
    let end = find(rest, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&rest[..end]);
    let mut len = 0usize;
    for line in head.split("\r\n") {
        if let Some((n, v)) = line.split_once(':')
            && same_header(n.trim(), "Content-Length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let total = lead.checked_add(end)?.checked_add(len)?;
    (buf.len() >= total).then_some(total)
}

/// Renders bytes for a transcript: each line indented by `indent`, CRLF shown
/// as a line break, other control and non-UTF-8 bytes escaped as `\xNN`.
pub fn render(data: &[u8], indent: &str) -> String {
    let mut out = String::new();
    let text = String::from_utf8_lossy(data);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            out.push_str(indent.trim_end());
            out.push('\n');
            continue;
        }
        out.push_str(indent);
        for c in line.chars() {
            if c.is_control() && c != '\t' {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &[u8] = b"SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKabc;received=192.0.2.101\r\n\
f: <sip:101@example.com>;tag=aa\r\n\
To: <sip:101@example.com>;tag=srv\r\n\
WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n,1;x\",\r\n algorithm=SHA-256, qop=\"auth\"\r\n\
CSeq: 1 REGISTER\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn parses_response_headers_folding_and_compact_names() {
        let m = SipView::parse(REG).expect("valid");
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 401,
                reason: "Unauthorized".into()
            }
        );
        assert_eq!(m.header("From"), Some("<sip:101@example.com>;tag=aa"));
        assert_eq!(m.cseq_method(), Some("REGISTER"));
        let auth = m.header("www-authenticate").expect("present");
        assert!(auth.ends_with("algorithm=SHA-256, qop=\"auth\""), "{auth}");
        assert_eq!(param(auth, "nonce"), Some("n,1;x"));
        assert_eq!(param(auth, "realm"), Some("example.com"));
        assert_eq!(param(auth, "algorithm"), Some("SHA-256"));
        assert_eq!(param(m.header("To").expect("to"), "tag"), Some("srv"));
        assert_eq!(
            param(m.header("Via").expect("via"), "branch"),
            Some("z9hG4bKabc")
        );
        assert_eq!(m.summary(), "SIP/2.0 401 Unauthorized");
    }

    #[test]
    fn params_inside_angle_brackets_are_not_header_params() {
        let v = "<sip:a@b;transport=tcp>;expires=60;lr";
        assert_eq!(param(v, "transport"), None);
        assert_eq!(param(v, "expires"), Some("60"));
        assert_eq!(param(v, "lr"), Some(""));
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            &b""[..],
            b"\r\n\r\n",
            b"SIP/2.0 abc x\r\n\r\n",
            b"INVITE\r\n\r\n",
            b"\xff\xfe\r\n:\r\n\r\n",
        ] {
            let _ = SipView::parse(input);
            let _ = frame_len(input);
            let _ = render(input, "  ");
        }
        assert!(SipView::parse(b"INVITE sip:x SIP/2.0\r\n\tfold\r\nnocolon\r\n\r\n").is_some());
    }

    #[test]
    fn stream_framing() {
        let a = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let mut two = b"\r\n\r\n".to_vec();
        two.extend_from_slice(a);
        two.extend_from_slice(a);
        assert_eq!(frame_len(&two), Some(4 + a.len()));
        assert_eq!(frame_len(&two[..10]), None);
        assert_eq!(frame_len(&a[..a.len() - 1]), None);
        assert_eq!(frame_len(b"\r\n"), None);
        let huge = b"X y SIP/2.0\r\nl: 18446744073709551615\r\n\r\n";
        assert_eq!(frame_len(huge), None);
    }

    #[test]
    fn render_escapes_controls() {
        assert_eq!(render(b"A\r\nB\x01\r\n", "  "), "  A\n  B\\x01\n");
    }
}
