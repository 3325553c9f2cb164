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
    // One growth at most: room for Content-Type, Content-Length and the body.
    head.reserve(body.map_or(0, |(ct, _)| ct.len() + 16) + 40 + len);
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
///
/// The response is written into one buffer as the builder goes: the status
/// line, the Via lines, From, To, Call-ID and CSeq when it is made, then each
/// added header. `received_from`, `to_tag` and `copy_record_route` edit that
/// buffer in place (their lines keep their places in the order above), so a
/// response costs one right-sized allocation, not one per part.
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    /// The response so far.
    out: String,
    /// Where the first Via line's value is in `out` (`None`: no Via).
    first_via: Option<(usize, usize)>,
    /// The end of the Via lines: where Record-Route lines go.
    via_end: usize,
    /// The end of the To value (before its CRLF): where `;tag=` goes.
    to_end: usize,
    /// Length of the `;tag=…` inserted at `to_end` (0 when none).
    tag_len: usize,
    copy_record_route: bool,
    body: Option<(String, Vec<u8>)>,
}

/// Room left for the headers a response adds (challenges, Contact, Date…).
const ROOM_FOR_HEADERS: usize = 512;

impl<'a> ResponseBuilder<'a> {
    /// A response with `status` and `reason` to `req`, copying its Via lines,
    /// From, To, Call-ID and CSeq.
    pub fn for_request(req: &'a Message, status: u16, reason: &str) -> Self {
        let from = req.header(HeaderName::From).unwrap_or_default();
        let to = req.header(HeaderName::To).unwrap_or_default();
        let call_id = req.call_id();
        let cseq = req.cseq();
        let copied: usize = req
            .header_values(HeaderName::Via)
            .map(|v| v.len() + 7)
            .sum::<usize>()
            + from.len()
            + to.len()
            + call_id.len()
            + 64;
        let mut out = String::with_capacity(copied + reason.len() + ROOM_FOR_HEADERS);
        out.push_str("SIP/2.0 ");
        push_u64(&mut out, u64::from(status));
        out.push(' ');
        push_value(&mut out, reason);
        out.push_str("\r\n");
        let mut first_via = None;
        for v in req.header_values(HeaderName::Via) {
            let start = out.len() + "Via: ".len();
            copy_line(&mut out, "Via", v);
            first_via.get_or_insert((start, start + v.len()));
        }
        let via_end = out.len();
        copy_line(&mut out, "From", from);
        out.push_str("To: ");
        out.push_str(to);
        let to_end = out.len();
        out.push_str("\r\n");
        copy_line(&mut out, "Call-ID", call_id);
        push_cseq(&mut out, cseq.seq, cseq.method.as_str());
        Self {
            req,
            out,
            first_via,
            via_end,
            to_end,
            tag_len: 0,
            copy_record_route: false,
            body: None,
        }
    }

    /// Replaces `range` of the response with `text`, moving the positions
    /// after it.
    fn splice(&mut self, range: (usize, usize), text: &str) {
        let (start, end) = range;
        self.out.replace_range(start..end, text);
        let shift = |at: &mut usize| {
            if *at >= end {
                *at = *at + text.len() - (end - start);
            }
        };
        shift(&mut self.via_end);
        shift(&mut self.to_end);
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
        let (Some(first_line), Some(range)) = (
            self.req.header_values(HeaderName::Via).next(),
            self.first_via,
        ) else {
            return self;
        };
        // The first line's first value is the top Via; the rest of the line stays.
        let rest = first_line.trim_start().strip_prefix(top).unwrap_or("");
        let mut line = stamped;
        line.push_str(rest);
        self.splice(range, &line);
        self.first_via = Some((range.0, range.0 + line.len()));
        self
    }

    /// Adds `;tag=` to To, unless the request's To already has a tag (§8.2.6.2).
    #[must_use]
    pub fn to_tag(mut self, tag: &str) -> Self {
        if self.req.to_tag().is_some() {
            return self;
        }
        let mut t = String::with_capacity(5 + tag.len());
        t.push_str(";tag=");
        push_value(&mut t, tag);
        let at = self.to_end;
        self.splice((at, at + self.tag_len), &t);
        // `splice` moved `to_end` only for text at or after it; it stays
        // before the tag.
        self.to_end = at;
        self.tag_len = t.len();
        self
    }

    /// Also copies the Record-Route lines (§12.1.1: 2xx and 101–199 to a
    /// dialog-creating request).
    #[must_use]
    pub fn copy_record_route(mut self) -> Self {
        if !self.copy_record_route {
            self.copy_record_route = true;
            let mut lines = String::new();
            for v in self.req.header_values(HeaderName::RecordRoute) {
                copy_line(&mut lines, "Record-Route", v);
            }
            let at = self.via_end;
            self.splice((at, at), &lines);
        }
        self
    }

    /// Adds `Name: value` with the canonical long name.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl Display) -> Self {
        push_display(&mut self.out, name.as_str(), value);
        self
    }

    /// Adds a header with a name of the caller's choosing.
    #[must_use]
    pub fn header_raw(mut self, name: &str, value: &str) -> Self {
        push_line(&mut self.out, name, value);
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
        finish(
            self.out,
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
