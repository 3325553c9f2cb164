//! The WebSocket opening handshake on the server side (RFC 6455 §4.2) for
//! SIP over WebSocket (RFC 7118 §4): read the client's HTTP/1.1 upgrade
//! request (bounded in size), check it, and answer `101 Switching Protocols`
//! with `Sec-WebSocket-Protocol: sip` — or refuse it with a 4xx and close.
//!
//! Done here rather than inside the WebSocket library so that every refusal
//! gets an HTTP answer that says why (the library drops the connection
//! without one when the request is not an upgrade at all):
//!
//! - not a `GET` → `405 Method Not Allowed` (RFC 6455 §4.1: the handshake is a GET);
//! - no `Upgrade: websocket` / `Connection: Upgrade` (plain HTTP) →
//!   `426 Upgrade Required` with `Upgrade: websocket` (RFC 7231 §6.5.15: a
//!   426 names the protocol to switch to);
//! - `Sec-WebSocket-Version` other than 13 → `426` with
//!   `Sec-WebSocket-Version: 13` (RFC 6455 §4.2.2 item 4, §4.4);
//! - no valid `Sec-WebSocket-Key` → `400 Bad Request` (RFC 6455 §4.2.1);
//! - no `sip` among the offered subprotocols → `400 Bad Request`. RFC 6455
//!   §4.2.2 would let a server accept with no subprotocol, but RFC 7118 §4.1
//!   makes the client fail such a connection, and a WebSocket that does not
//!   carry SIP is of no use here: refusing at once with the reason in the
//!   body is clearer. Not 426: that status asks for another *protocol* named
//!   in `Upgrade`, and the client already asked for the right one;
//! - a request head over [`MAX_HEAD`] bytes or with too many header lines →
//!   `431 Request Header Fields Too Large` (RFC 6585 §5).
//!
//! The checks are a pure function ([`check`]); [`read_request`] adds the
//! bounded read.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest request head accepted, bytes (browsers send well under 2 KiB).
pub const MAX_HEAD: usize = 8 * 1024;
/// Most header lines in the request head.
const MAX_HEADERS: usize = 32;

/// The subprotocol SIP over WebSocket negotiates (RFC 7118 §4.1).
pub const SUBPROTOCOL: &str = "sip";

/// An upgrade request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The value for `Sec-WebSocket-Accept`.
    pub accept: String,
    /// The `Origin` header, if any (for the log).
    pub origin: Option<String>,
}

impl Upgrade {
    /// The `101 Switching Protocols` answer.
    pub fn response(&self) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n",
            self.accept
        )
    }
}

/// A refused handshake: the HTTP status, and why (sent as the body and logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status code.
    pub status: u16,
    /// Why, in one line.
    pub why: &'static str,
}

impl Refusal {
    const fn new(status: u16, why: &'static str) -> Self {
        Self { status, why }
    }

    /// The HTTP answer (the connection is closed after it).
    pub fn response(&self) -> String {
        let (reason, extra) = match self.status {
            400 => ("Bad Request", ""),
            405 => ("Method Not Allowed", "Allow: GET\r\n"),
            426 => (
                "Upgrade Required",
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            ),
            431 => ("Request Header Fields Too Large", ""),
            _ => ("Error", ""),
        };
        let body = format!("{}\n", self.why);
        format!(
            "HTTP/1.1 {} {reason}\r\n{extra}Connection: close\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.status,
            body.len()
        )
    }
}

/// Does the comma-separated header value contain `token` (case-insensitive)?
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks a complete request head (through the blank line).
pub fn check(head: &[u8]) -> Result<Upgrade, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Refusal::new(400, "incomplete HTTP request"));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::new(431, "too many header lines"));
        }
        Err(_) => return Err(Refusal::new(400, "malformed HTTP request")),
    }
    if req.method != Some("GET") {
        return Err(Refusal::new(
            405,
            "only GET can open a WebSocket (RFC 6455 section 4.1)",
        ));
    }
    let all = |name: &str| {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .collect::<Vec<&str>>()
    };
    let upgrade = all("Upgrade");
    let connection = all("Connection");
    if !upgrade.iter().any(|v| has_token(v, "websocket"))
        || !connection.iter().any(|v| has_token(v, "upgrade"))
    {
        return Err(Refusal::new(
            426,
            "this port serves SIP over WebSocket (RFC 7118) only: send a WebSocket upgrade",
        ));
    }
    if all("Sec-WebSocket-Version").first().map(|v| v.trim()) != Some("13") {
        return Err(Refusal::new(426, "WebSocket version 13 is required"));
    }
    let keys = all("Sec-WebSocket-Key");
    let key = match keys.as_slice() {
        [k] if is_key(k.trim()) => k.trim(),
        _ => {
            return Err(Refusal::new(
                400,
                "missing or invalid Sec-WebSocket-Key (RFC 6455 section 4.1)",
            ));
        }
    };
    if !all("Sec-WebSocket-Protocol")
        .iter()
        .any(|v| has_token(v, SUBPROTOCOL))
    {
        return Err(Refusal::new(
            400,
            "the \"sip\" WebSocket subprotocol is required (RFC 7118 section 4.1)",
        ));
    }
    let origin = all("Origin").first().map(|o| (*o).to_owned());
    Ok(Upgrade {
        accept: async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
        origin,
    })
}

/// A `Sec-WebSocket-Key`: base64 of 16 bytes (24 characters, `==` at the end).
fn is_key(k: &str) -> bool {
    k.len() == 24
        && k.ends_with("==")
        && k.bytes()
            .take(22)
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// What reading the request head gave.
#[derive(Debug)]
pub enum Head {
    /// A complete head, and whatever the client sent after it (the start of
    /// its first frame), to hand to the WebSocket layer.
    Complete(Vec<u8>, Vec<u8>),
    /// The client closed (or the read failed) before a complete head.
    Gone,
    /// No blank line within [`MAX_HEAD`] bytes.
    TooLarge,
}

/// Reads a request head from `stream`, bounded by [`MAX_HEAD`] bytes (the
/// caller bounds the time).
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Head {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Head::Gone,
            Ok(n) => n,
        };
        let scan_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf
            .get(scan_from..)
            .and_then(|tail| tail.windows(4).position(|w| w == b"\r\n\r\n"))
            .map(|p| scan_from + p + 4)
        {
            let rest = buf.split_off(end);
            if buf.len() > MAX_HEAD {
                return Head::TooLarge;
            }
            return Head::Complete(buf, rest);
        }
        if buf.len() > MAX_HEAD {
            return Head::TooLarge;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3's example key and accept value, with the sip subprotocol.
    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
        Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, SIP\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn accepts_the_rfc_6455_example_with_sip() {
        let u = check(GOOD.as_bytes()).expect("valid");
        assert_eq!(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(u.origin.as_deref(), Some("http://example.com"));
        let r = u.response();
        assert!(r.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(r.contains("\r\nSec-WebSocket-Protocol: sip\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
    }

    fn refused(text: &str) -> Refusal {
        check(text.as_bytes()).expect_err("refused")
    }

    #[test]
    fn refuses_with_the_right_status() {
        let without = |line: &str| GOOD.replace(line, "");
        assert_eq!(
            refused(&without("Sec-WebSocket-Protocol: chat, SIP\r\n")).status,
            400
        );
        let chat_only = GOOD.replace("chat, SIP", "chat, sipx");
        assert_eq!(refused(&chat_only).status, 400);
        let plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let r = refused(plain);
        assert_eq!(r.status, 426);
        assert!(r.response().contains("\r\nUpgrade: websocket\r\n"));
        assert_eq!(refused(&GOOD.replace("GET", "POST")).status, 405);
        assert_eq!(
            refused(&GOOD.replace("Version: 13", "Version: 8")).status,
            426
        );
        assert_eq!(
            refused(&without("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")).status,
            400
        );
        assert_eq!(
            refused(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "short")).status,
            400
        );
        let many = GOOD.replacen("\r\n", &"\r\nX-A: b".repeat(40), 1);
        assert_eq!(refused(&many).status, 431);
        assert_eq!(
            refused("\x16\x03\x01\x02\x00\r\n\r\n").status,
            400,
            "TLS on the WS port"
        );
        let resp = refused(plain).response();
        let (head, body) = resp.split_once("\r\n\r\n").expect("a head");
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }

    #[tokio::test]
    async fn reads_a_head_and_keeps_what_follows() {
        let mut data = GOOD.as_bytes().to_vec();
        data.extend_from_slice(b"\x81\x05hello");
        let mut r = &data[..];
        match read_request(&mut r).await {
            Head::Complete(head, rest) => {
                assert_eq!(head, GOOD.as_bytes());
                assert_eq!(rest, b"\x81\x05hello");
            }
            other => panic!("{other:?}"),
        }
        let big = vec![b'a'; MAX_HEAD + 2000];
        assert!(matches!(read_request(&mut &big[..]).await, Head::TooLarge));
        assert!(matches!(
            read_request(&mut &b"GET / HT"[..]).await,
            Head::Gone
        ));
    }
}
