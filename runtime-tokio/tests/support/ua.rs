//! The test user agent: a minimal SIP UA over UDP, TCP or TLS (rustls) built on
//! `switchboard_core::sip` (RFC 3261 §8.1.1 requests, §18.3 stream framing) and
//! `switchboard_core::auth` (digest answers to 401/407, RFC 3261 §22, RFC 7616,
//! RFC 8760). Every receive has a timeout.

use super::{DOMAIN, MSG_TIMEOUT};
use async_tungstenite::tungstenite;
use bytes::Bytes;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use switchboard_core::auth::{Secret, pick_challenge, respond};
use switchboard_core::sip::{
    Frame, HeaderName, Limits, Message, Method, RequestBuilder, StreamFramer, split_commas,
};

/// Numbers for branches, tags and Call-IDs, unique within the test binary.
pub(crate) fn unique() -> u32 {
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A byte stream to the server: TCP, or TLS over TCP.
pub(crate) trait StreamIo: Read + Write + Send {
    /// The underlying socket (for read timeouts).
    fn tcp(&self) -> &TcpStream;
    /// The server's certificate (DER), for TLS.
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        None
    }
}

impl StreamIo for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

/// A client TLS session over a blocking TCP socket.
pub(crate) type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

impl StreamIo for TlsStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        self.conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec())
    }
}

/// A TLS client configuration (TLS 1.2/1.3, ring) trusting only the PEM
/// certificates in `trust` (the server's self-signed certificate).
pub(crate) fn tls_config(trust: &std::path::Path) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(trust).expect("reading the trusted certificate") {
        roots
            .add(c.expect("a PEM certificate"))
            .expect("a usable root");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Connects to `server` and completes a TLS handshake verifying the
/// certificate for the SIP domain [`DOMAIN`] (RFC 5922 §7), bounded by
/// [`MSG_TIMEOUT`].
pub(crate) fn tls_connect(
    server: SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<TlsStream, std::io::Error> {
    let stream = TcpStream::connect_timeout(&server, MSG_TIMEOUT)?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(MSG_TIMEOUT))?;
    let name = rustls_pki_types::ServerName::try_from(DOMAIN).expect("a DNS name");
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// The link a UA talks over.
enum Link {
    Udp(UdpSocket),
    Stream {
        io: Box<dyn StreamIo>,
        framer: StreamFramer,
        tls: bool,
    },
    /// A WebSocket (RFC 7118), over TLS when `secure`; `tcp` is the socket
    /// underneath (for read timeouts); `host` our random `.invalid` name.
    Ws {
        ws: Box<tungstenite::WebSocket<Box<dyn super::ws::Io>>>,
        tcp: TcpStream,
        secure: bool,
        host: String,
    },
}

/// A minimal SIP user agent for user `user` of [`DOMAIN`].
pub(crate) struct Ua {
    /// The user part (the extension).
    pub user: String,
    password: String,
    server: SocketAddr,
    link: Link,
    local: SocketAddr,
    reg_call_id: String,
    reg_tag: String,
    reg_cseq: u32,
    /// Every message received and skipped, for failure messages.
    skipped: Vec<String>,
}

impl Ua {
    /// A UA on a UDP socket of its own.
    pub(crate) fn udp(server: SocketAddr, user: &str, password: &str) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket");
        let local = sock.local_addr().expect("local address");
        Self::with_link(server, user, password, Link::Udp(sock), local)
    }

    /// A UA with a TCP connection to the server.
    pub(crate) fn tcp(server: SocketAddr, user: &str, password: &str) -> Self {
        let stream = TcpStream::connect_timeout(&server, MSG_TIMEOUT).expect("connecting over TCP");
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().expect("local address");
        let link = Link::Stream {
            io: Box::new(stream),
            framer: StreamFramer::new(Limits::default()),
            tls: false,
        };
        Self::with_link(server, user, password, link, local)
    }

    /// A UA with a TLS connection to the server, trusting `config`'s roots.
    pub(crate) fn tls(
        server: SocketAddr,
        user: &str,
        password: &str,
        config: std::sync::Arc<rustls::ClientConfig>,
    ) -> Self {
        let stream = tls_connect(server, config).expect("TLS handshake with the server");
        let local = stream.sock.local_addr().expect("local address");
        let link = Link::Stream {
            io: Box::new(stream),
            framer: StreamFramer::new(Limits::default()),
            tls: true,
        };
        Self::with_link(server, user, password, link, local)
    }

    /// The server's certificate (DER) on a TLS link.
    pub(crate) fn peer_certificate(&self) -> Option<Vec<u8>> {
        match &self.link {
            Link::Stream { io, .. } => io.peer_certificate(),
            Link::Udp(_) | Link::Ws { .. } => None,
        }
    }

    /// A UA on a WebSocket (WSS when `secure`) to `ws_server`, with the
    /// `sip` subprotocol; its Via and Contact use a random `.invalid` host
    /// as browser phones do (RFC 7118 §5.2). `server` is the server's
    /// UDP/TCP address (unused for sending).
    pub(crate) fn ws(ws_server: SocketAddr, user: &str, password: &str, secure: bool) -> Self {
        let (ws, tcp) = super::ws::connect(ws_server, secure, &["sip"])
            .unwrap_or_else(|e| panic!("WebSocket handshake with {ws_server}: {e}"));
        let local = tcp.local_addr().expect("local address");
        let host = format!("ws{}x{}.invalid", unique(), local.port());
        let link = Link::Ws {
            ws: Box::new(ws),
            tcp,
            secure,
            host,
        };
        Self::with_link(ws_server, user, password, link, local)
    }

    /// Closes a WebSocket link without a close frame, the way a browser that
    /// vanishes does: the socket is shut down (no FIN exchange of the
    /// WebSocket protocol).
    pub(crate) fn vanish(self) {
        if let Link::Ws { tcp, .. } = &self.link {
            let _ = tcp.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The host written in our Via (our address, or the `.invalid` name).
    pub(crate) fn via_host(&self) -> String {
        match &self.link {
            Link::Ws { host, .. } => host.clone(),
            _ => self.local.to_string(),
        }
    }

    fn with_link(
        server: SocketAddr,
        user: &str,
        password: &str,
        link: Link,
        local: SocketAddr,
    ) -> Self {
        let n = unique();
        Self {
            user: user.to_owned(),
            password: password.to_owned(),
            server,
            link,
            local,
            reg_call_id: format!("reg-{user}-{n}-{}@127.0.0.1", std::process::id()),
            reg_tag: format!("rt{n}"),
            reg_cseq: 0,
            skipped: Vec::new(),
        }
    }

    /// `UDP`, `TCP`, `WS` or `WSS`.
    pub(crate) fn transport(&self) -> &'static str {
        match self.link {
            Link::Udp(_) => "UDP",
            Link::Stream { tls: false, .. } => "TCP",
            Link::Stream { tls: true, .. } => "TLS",
            Link::Ws { secure: false, .. } => "WS",
            Link::Ws { secure: true, .. } => "WSS",
        }
    }

    /// Our address.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Our address of record.
    pub(crate) fn aor(&self) -> String {
        format!("sip:{}@{DOMAIN}", self.user)
    }

    /// Our contact URI (with `transport=tcp` over TCP, `transport=tls` over
    /// TLS; `transport=ws` and the `.invalid` host over WS and WSS, as JsSIP
    /// writes it).
    pub(crate) fn contact_uri(&self) -> String {
        match &self.link {
            Link::Udp(_) => format!("sip:{}@{}", self.user, self.local),
            Link::Stream { tls: false, .. } => {
                format!("sip:{}@{};transport=tcp", self.user, self.local)
            }
            Link::Stream { tls: true, .. } => {
                format!("sip:{}@{};transport=tls", self.user, self.local)
            }
            Link::Ws { host, .. } => format!("sip:{}@{host};transport=ws", self.user),
        }
    }

    /// A fresh Via value for a request we send (§8.1.1.7) and its branch.
    pub(crate) fn via(&self) -> (String, String) {
        let branch = format!("z9hG4bK-e2e-{}-{}", self.user, unique());
        (
            format!(
                "SIP/2.0/{} {};branch={branch};rport",
                self.transport(),
                self.via_host()
            ),
            branch,
        )
    }

    /// A fresh tag.
    pub(crate) fn tag(&self) -> String {
        format!("{}-{}", self.user, unique())
    }

    /// Sends raw bytes to the server.
    pub(crate) fn send(&mut self, data: &[u8]) {
        match &mut self.link {
            Link::Udp(s) => {
                s.send_to(data, self.server).expect("sending a datagram");
            }
            Link::Stream { io, .. } => {
                io.write_all(data).expect("writing to the stream");
                io.flush().expect("flushing the stream");
            }
            Link::Ws { ws, .. } => {
                let text = String::from_utf8(data.to_vec()).expect("our SIP is UTF-8");
                ws.send(tungstenite::Message::text(text))
                    .expect("sending a WebSocket message");
            }
        }
    }

    /// The next message, or `None` after `timeout`. Keep-alives are skipped;
    /// something that does not parse is a test failure.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Option<Message> {
        let end = Instant::now() + timeout;
        match &mut self.link {
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    s.set_read_timeout(Some(left)).expect("set_read_timeout");
                    match s.recv_from(&mut buf) {
                        Ok((n, _)) => {
                            let raw = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                            return Some(parse(raw));
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            return None;
                        }
                        Err(_) => {} // ICMP errors from earlier sends
                    }
                }
            }
            Link::Ws { ws, tcp, .. } => loop {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                tcp.set_read_timeout(Some(left)).expect("set_read_timeout");
                match ws.read() {
                    Ok(tungstenite::Message::Text(t)) => {
                        return Some(parse(Bytes::from(t.as_str().to_owned())));
                    }
                    Ok(tungstenite::Message::Binary(b)) => return Some(parse(b)),
                    Ok(_) => {} // ping (answered), pong
                    Err(tungstenite::Error::Io(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return None;
                    }
                    Err(e) => panic!("the WebSocket failed: {e}"),
                }
            },
            Link::Stream { io, framer, .. } => loop {
                match framer.next() {
                    Some(Ok(Frame::Message(raw))) => return Some(parse(raw)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => panic!("the server sent a stream we cannot frame: {e:?}"),
                    None => {}
                }
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                io.tcp()
                    .set_read_timeout(Some(left))
                    .expect("set_read_timeout");
                let mut buf = [0u8; 16 * 1024];
                match io.read(&mut buf) {
                    Ok(0) => panic!("the server closed our stream connection"),
                    Ok(n) => framer.push(buf.get(..n).unwrap_or_default()),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return None;
                    }
                    Err(e) => panic!("reading from the server failed: {e}"),
                }
            },
        }
    }

    /// The next message matching `want` within `timeout`; other messages are
    /// skipped (and listed if the wait fails).
    pub(crate) fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        want: impl Fn(&Message) -> bool,
    ) -> Message {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(m) if want(&m) => return m,
                Some(m) => self
                    .skipped
                    .push(String::from_utf8_lossy(m.raw()).into_owned()),
                None => panic!(
                    "{} ({}): no {what} within {timeout:?}; skipped:\n{}",
                    self.user,
                    self.transport(),
                    self.skipped.join("\n----\n")
                ),
            }
        }
    }

    /// The next final or non-100 provisional response to `method`.
    pub(crate) fn expect_response(&mut self, method: Method) -> Message {
        let what = format!("response to {method}");
        self.expect(&what, MSG_TIMEOUT, |m| {
            !m.is_request() && m.cseq().method == method && m.status() != Some(100)
        })
    }

    /// The next request with `method`.
    pub(crate) fn expect_request(&mut self, method: Method) -> Message {
        let what = format!("{method} request");
        self.expect(&what, MSG_TIMEOUT, |m| m.method() == Some(&method))
    }

    /// Credentials answering the 401/407 `resp` for `method` to `uri`:
    /// the header to add and its value.
    pub(crate) fn credentials(
        &self,
        resp: &Message,
        method: &str,
        uri: &str,
    ) -> (HeaderName, String) {
        let (ask, answer) = match resp.status() {
            Some(401) => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
            Some(407) => (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            ),
            other => panic!("not a challenge: {other:?}"),
        };
        let ch = pick_challenge(resp.header_values(ask))
            .unwrap_or_else(|| panic!("no usable challenge in {}", text(resp)));
        assert_eq!(ch.realm, DOMAIN, "the realm is the SIP domain");
        let cnonce = format!("cn{}", unique());
        let creds = respond(
            &ch,
            method,
            uri,
            &self.user,
            Secret::Password(&self.password),
            &cnonce,
            1,
        );
        (answer, creds.to_string())
    }

    fn register_request(&mut self, expires: u32, auth: Option<(HeaderName, String)>) -> Bytes {
        self.reg_cseq += 1;
        let (via, _) = self.via();
        let mut b = RequestBuilder::new(&Method::Register, &format!("sip:{DOMAIN}"))
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(
                HeaderName::From,
                format!("<{}>;tag={}", self.aor(), self.reg_tag),
            )
            .header(HeaderName::To, format!("<{}>", self.aor()))
            .header(HeaderName::CallId, &self.reg_call_id)
            .header(HeaderName::CSeq, format!("{} REGISTER", self.reg_cseq))
            .header(HeaderName::Contact, format!("<{}>", self.contact_uri()))
            .header(HeaderName::Expires, expires);
        if let Some((name, value)) = auth {
            b = b.header(name, value);
        }
        b.build()
    }

    /// REGISTERs our contact: a request without credentials, which must be
    /// challenged with 401, then one answering the challenge. Returns the
    /// final response to the second (whatever its status).
    pub(crate) fn register(&mut self, expires: u32) -> Message {
        let req = self.register_request(expires, None);
        self.send(&req);
        let challenge = self.expect_response(Method::Register);
        assert_eq!(
            challenge.status(),
            Some(401),
            "REGISTER without credentials: {}",
            text(&challenge)
        );
        let auth = self.credentials(&challenge, "REGISTER", &format!("sip:{DOMAIN}"));
        let req = self.register_request(expires, Some(auth));
        self.send(&req);
        self.expect_response(Method::Register)
    }

    /// [`Ua::register`], asserting a 200 that lists our contact with an expiry
    /// in (0, `expires`]. Returns the granted expiry.
    pub(crate) fn register_ok(&mut self, expires: u32) -> u32 {
        let resp = self.register(expires);
        assert_eq!(resp.status(), Some(200), "REGISTER: {}", text(&resp));
        let contact = self.contact_uri();
        let granted = resp
            .header_values(HeaderName::Contact)
            .flat_map(split_commas)
            .find(|c| c.contains(&format!("<{contact}>")))
            .unwrap_or_else(|| panic!("200 does not list {contact}: {}", text(&resp)))
            .split(';')
            .find_map(|p| p.trim().strip_prefix("expires="))
            .unwrap_or_else(|| panic!("our contact has no expires in {}", text(&resp)))
            .parse::<u32>()
            .expect("expires is a number");
        assert!(
            granted > 0 && granted <= expires,
            "granted {granted} for {expires}"
        );
        granted
    }

    /// An OPTIONS to the server itself (§11) with `call_id`.
    pub(crate) fn options_request(&self, call_id: &str) -> Bytes {
        let (via, _) = self.via();
        RequestBuilder::new(&Method::Options, &format!("sip:{DOMAIN}"))
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(
                HeaderName::From,
                format!("<{}>;tag={}", self.aor(), self.tag()),
            )
            .header(HeaderName::To, format!("<sip:{DOMAIN}>"))
            .header(HeaderName::CallId, call_id)
            .header(HeaderName::CSeq, "1 OPTIONS")
            .build()
    }

    /// Sends OPTIONS to the server itself and returns the final response.
    pub(crate) fn options(&mut self) -> Message {
        let call_id = format!("opt-{}@127.0.0.1", unique());
        let req = self.options_request(&call_id);
        self.send(&req);
        self.expect("response to OPTIONS", MSG_TIMEOUT, |m| {
            !m.is_request() && m.call_id() == call_id && m.status() != Some(100)
        })
    }
}

/// Parses a message the server sent; a parse failure is a test failure.
pub(crate) fn parse(raw: Bytes) -> Message {
    Message::parse(raw.clone(), &Limits::default()).unwrap_or_else(|e| {
        panic!(
            "the server sent something that does not parse ({e:?}):\n{}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// The message as text, for assertion messages.
pub(crate) fn text(m: &Message) -> String {
    String::from_utf8_lossy(m.raw()).into_owned()
}

/// The URI inside `<…>` of a name-addr value.
pub(crate) fn uri_of(name_addr: &str) -> &str {
    match (name_addr.find('<'), name_addr.find('>')) {
        (Some(a), Some(b)) if a < b => name_addr.get(a + 1..b).unwrap_or(name_addr),
        _ => name_addr.split(';').next().unwrap_or(name_addr).trim(),
    }
}

/// Every element of every `name` header, in order.
pub(crate) fn elements(m: &Message, name: HeaderName) -> Vec<String> {
    m.header_values(name)
        .flat_map(split_commas)
        .map(|s| s.trim().to_owned())
        .collect()
}
