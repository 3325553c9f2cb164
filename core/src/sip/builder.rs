//! Writers for new messages (RFC 3261 §8.1.1, §8.2.6, §9.1, §17.1.1.3).
//!
//! [`RequestBuilder`] and [`ResponseBuilder`] write the start line, the header
//! lines in the order given (canonical long names), then Content-Type and
//! Content-Length (always present, so the result is valid on streams too,
//! §18.3) and the body. A response copies Via (every line, in order, values
//! byte-exact), From, To, Call-ID and CSeq from the request (§8.2.6.2) and adds a
//! To tag when asked and the request had none. [`ack_for_non2xx`] and
//! [`cancel_for`] build the requests a client transaction sends on its own
//! (§17.1.1.3, §9.1).
//!
//! CR and LF inside a value are written as spaces, so a value can never start
//! a new header line (header injection).

use std::fmt::Display;

use bytes::Bytes;

use super::Method;
use super::header::HeaderName;
use super::message::Message;
use super::scan::{push_display, push_u64, push_value};

/// Appends `name: value\r\n`.
fn push_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    push_value(out, value);
    out.push_str("\r\n");
}

/// Appends `name: value\r\n` for a value copied from a parsed message: written
/// byte-exact (its line breaks, if any, are folding and legal, §7.3.1).
fn copy_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

/// Appends `CSeq: seq METHOD\r\n` (the text `CSeq`'s `Display` writes; a
/// method is a token, so there is nothing to sanitise).
fn push_cseq(out: &mut String, seq: u32, method: &str) {
    out.push_str("CSeq: ");
    push_u64(out, u64::from(seq));
    out.push(' ');
    out.push_str(method);
    out.push_str("\r\n");
}

/// Appends Content-Type (if there is a body), Content-Length, the empty line
/// and the body, and freezes the result.
fn finish(mut head: String, body: Option<(&str, &[u8])>) -> Bytes {
    let len = body.map_or(0, |(_, b)| b.len());
    if let Some((ct, _)) = body {
        push_line(&mut head, "Content-Type", ct);
    }
    head.push_str("Content-Length: ");
    push_u64(&mut head, len as u64);
    head.push_str("\r\n\r\n");
    let mut out = head.into_bytes();
    if let Some((_, b)) = body {
        out.extend_from_slice(b);
    }
    // `Bytes::from(Vec)` keeps the whole allocation; a response kept by a
    // completed transaction (Timer J holds 100,000s of them at high rates)
    // should not carry the builder's spare capacity along.
    if out.capacity() > out.len() + 64 {
        out.shrink_to_fit();
    }
    Bytes::from(out)
}

/// Builds a new request: `RequestBuilder::new(&Method::Options, "sip:a@b")
/// .header(HeaderName::Via, via).….build()`.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    head: String,
    body: Option<(String, Vec<u8>)>,
}

impl RequestBuilder {
    /// Starts `METHOD uri SIP/2.0`.
    pub fn new(method: &Method, uri: &str) -> Self {
        let mut head = String::with_capacity(512);
        head.push_str(method.as_str());
        head.push(' ');
        push_value(&mut head, uri);
        head.push_str(" SIP/2.0\r\n");
        Self { head, body: None }
    }

    /// Adds `Name: value` with the canonical long name. `Content-Length` is
    /// always written by [`RequestBuilder::build`]; do not add it here.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl Display) -> Self {
        push_display(&mut self.head, name.as_str(), value);
        self
    }

    /// Adds a header with a name of the caller's choosing (extension headers).
    #[must_use]
    pub fn header_raw(mut self, name: &str, value: &str) -> Self {
        push_line(&mut self.head, name, value);
        self
    }

    /// Sets the body and its Content-Type.
    #[must_use]
    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.body = Some((content_type.to_owned(), body.to_vec()));
        self
    }

    /// The finished message, with Content-Length.
    pub fn build(self) -> Bytes {
        finish(
            self.head,
            self.body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice())),
        )
    }
}

/// Builds a response to a parsed request (§8.2.6).
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    /// The status line and the Via lines, written when the builder is made.
    head: String,
    to_tag: Option<String>,
    copy_record_route: bool,
    extra: String,
    body: Option<(String, Vec<u8>)>,
}

impl<'a> ResponseBuilder<'a> {
    /// A response with `status` and `reason` to `req`, copying its Via lines,
    /// From, To, Call-ID and CSeq.
    pub fn for_request(req: &'a Message, status: u16, reason: &str) -> Self {
        let mut head = String::with_capacity(256 + req.raw().len() / 2);
        head.push_str("SIP/2.0 ");
        push_u64(&mut head, u64::from(status));
        head.push(' ');
        push_value(&mut head, reason);
        head.push_str("\r\n");
        for v in req.header_values(HeaderName::Via) {
            copy_line(&mut head, "Via", v);
        }
        Self {
            req,
            head,
            to_tag: None,
            copy_record_route: false,
            extra: String::new(),
            body: None,
        }
    }

    /// Stamps `received`/`rport` into the copied top Via for a request that came
    /// from `src` (RFC 3261 §18.2.1, RFC 3581 §4): the client learns the address
    /// and port we saw it at. A no-op when nothing needs stamping.
    #[must_use]
    pub fn received_from(mut self, src: std::net::SocketAddr) -> Self {
        let top = self.req.top_via_value();
        let Some(stamped) = super::via::stamp_top_via(top, src) else {
            return self;
        };
        let Some(first_line) = self.req.header_values(HeaderName::Via).next() else {
            return self;
        };
        // Rebuild the Via lines: the first line's first value is the top Via.
        let status_end = self.head.find("\r\n").map_or(self.head.len(), |i| i + 2);
        self.head.truncate(status_end);
        let rest = first_line.trim_start().strip_prefix(top).unwrap_or("");
        let mut line = String::with_capacity(stamped.len() + rest.len());
        line.push_str(&stamped);
        line.push_str(rest);
        copy_line(&mut self.head, "Via", &line);
        for v in self.req.header_values(HeaderName::Via).skip(1) {
            copy_line(&mut self.head, "Via", v);
        }
        self
    }

    /// Adds `;tag=` to To, unless the request's To already has a tag (§8.2.6.2).
    #[must_use]
    pub fn to_tag(mut self, tag: &str) -> Self {
        self.to_tag = Some(tag.to_owned());
        self
    }

    /// Also copies the Record-Route lines (§12.1.1: 2xx and 101–199 to a
    /// dialog-creating request).
    #[must_use]
    pub fn copy_record_route(mut self) -> Self {
        self.copy_record_route = true;
        self
    }

    /// Adds `Name: value` with the canonical long name.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl Display) -> Self {
        if self.extra.capacity() == 0 {
            self.extra.reserve(256);
        }
        push_display(&mut self.extra, name.as_str(), value);
        self
    }

    /// Adds a header with a name of the caller's choosing.
    #[must_use]
    pub fn header_raw(mut self, name: &str, value: &str) -> Self {
        push_line(&mut self.extra, name, value);
        self
    }

    /// Sets the body and its Content-Type.
    #[must_use]
    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.body = Some((content_type.to_owned(), body.to_vec()));
        self
    }

    /// The finished response, with Content-Length.
    pub fn build(self) -> Bytes {
        let req = self.req;
        let mut head = self.head;
        head.reserve(self.extra.len() + 40);
        if self.copy_record_route {
            for v in req.header_values(HeaderName::RecordRoute) {
                copy_line(&mut head, "Record-Route", v);
            }
        }
        copy_line(
            &mut head,
            "From",
            req.header(HeaderName::From).unwrap_or_default(),
        );
        head.push_str("To: ");
        head.push_str(req.header(HeaderName::To).unwrap_or_default());
        if let (Some(tag), None) = (&self.to_tag, req.to_tag()) {
            head.push_str(";tag=");
            push_value(&mut head, tag);
        }
        head.push_str("\r\n");
        copy_line(&mut head, "Call-ID", req.call_id());
        push_cseq(&mut head, req.cseq().seq, req.cseq().method.as_str());
        head.push_str(&self.extra);
        finish(
            head,
            self.body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice())),
        )
    }
}

/// Writes the lines a client-generated ACK or CANCEL shares (§9.1, §17.1.1.3).
fn own_request(invite: &Message, method: Method, to: &str) -> Bytes {
    let mut head = String::with_capacity(invite.raw().len());
    head.push_str(method.as_str());
    head.push(' ');
    head.push_str(invite.request_uri().unwrap_or_default());
    head.push_str(" SIP/2.0\r\n");
    copy_line(&mut head, "Via", invite.top_via_value());
    head.push_str("Max-Forwards: 70\r\n");
    for r in invite.header_values(HeaderName::Route) {
        copy_line(&mut head, "Route", r);
    }
    copy_line(
        &mut head,
        "From",
        invite.header(HeaderName::From).unwrap_or_default(),
    );
    copy_line(&mut head, "To", to);
    copy_line(&mut head, "Call-ID", invite.call_id());
    push_cseq(&mut head, invite.cseq().seq, method.as_str());
    finish(head, None)
}

/// The ACK a client INVITE transaction sends for a non-2xx final response
/// (§17.1.1.3): the INVITE's Request-URI, top Via, Route lines, From, Call-ID
/// and CSeq number; To from the response; Max-Forwards 70; no body.
pub fn ack_for_non2xx(invite: &Message, response: &Message) -> Bytes {
    own_request(
        invite,
        Method::Ack,
        response.header(HeaderName::To).unwrap_or_default(),
    )
}

/// The CANCEL for a pending INVITE (§9.1): the INVITE's Request-URI, top Via,
/// Route lines, From, To, Call-ID and CSeq number; Max-Forwards 70; no body.
pub fn cancel_for(invite: &Message) -> Bytes {
    own_request(
        invite,
        Method::Cancel,
        invite.header(HeaderName::To).unwrap_or_default(),
    )
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
