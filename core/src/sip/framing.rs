//! Stream framing for SIP over TCP and TLS (RFC 3261 §18.3, §7.5; keep-alives
//! RFC 5626 §3.5.1 and §4.4.1).
//!
//! A stream carries messages back to back, so a message ends where its
//! Content-Length says; on streams the header is REQUIRED (§18.3, §20.14) and a
//! message without it is an error. Between messages the peer may send a
//! double-CRLF "ping" (answer it with a single CRLF "pong") or a single CRLF
//! "pong"; [`StreamFramer::next`] reports both.
//!
//! The framer buffers at most `max_message_size` bytes of one message. After
//! any error it stays failed: the stream has lost its framing, so the caller
//! must close the connection (after answering 400/513 if it can).

use bytes::{Bytes, BytesMut};

use super::ParseError;
use super::header::HeaderName;
use super::limits::Limits;
use super::scan::trim_end;

/// One unit cut from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// One whole message (headers and Content-Length bytes of body), to hand
    /// to [`Message::parse`](super::Message::parse).
    Message(Bytes),
    /// A double-CRLF keep-alive ping; answer with a single CRLF.
    Ping,
    /// A single CRLF keep-alive pong (an answer to our ping).
    Pong,
}

/// Incremental framer for one stream connection.
#[derive(Debug)]
pub struct StreamFramer {
    limits: Limits,
    buf: BytesMut,
    /// How far the search for the end of the headers has got, so partial
    /// reads are not rescanned from the start.
    scanned: usize,
    /// Start of the current line while scanning.
    line_start: usize,
    /// Content-Length of the current message, once its line was seen.
    content_length: Option<usize>,
    /// Set after an error; the connection must be closed.
    failed: bool,
}

impl StreamFramer {
    /// A framer bounded by `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            buf: BytesMut::new(),
            scanned: 0,
            line_start: 0,
            content_length: None,
            failed: false,
        }
    }

    /// Appends bytes read from the stream. Ignored once the framer failed.
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// Has the framer failed (the connection must be closed)?
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, e: ParseError) -> Option<Result<Frame, ParseError>> {
        self.failed = true;
        self.buf = BytesMut::new();
        Some(Err(e))
    }

    /// The next frame, `None` if more bytes are needed. After an error has
    /// been returned once, always `None` (see [`StreamFramer::is_failed`]).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Frame, ParseError>> {
        if self.failed {
            return None;
        }
        if self.scanned == 0 {
            // Between messages: keep-alives (RFC 5626 §3.5.1).
            let b = &self.buf[..];
            if b.starts_with(b"\r\n\r\n") {
                let _ = self.buf.split_to(4);
                return Some(Ok(Frame::Ping));
            }
            // Part of a ping (a lone CRLF too: it may be the first half of a
            // ping cut by the stream): decide once more bytes show what follows.
            if b"\r\n\r\n".starts_with(b) {
                return None;
            }
            if b.starts_with(b"\r\n") {
                let _ = self.buf.split_to(2);
                return Some(Ok(Frame::Pong));
            }
        }
        // Find the empty line ending the headers, one line at a time.
        let head_end = loop {
            let rest = &self.buf[self.scanned..];
            let Some(lf) = rest.iter().position(|&c| c == b'\n') else {
                self.scanned = self.buf.len();
                if self.buf.len() > self.limits.max_message_size {
                    return self.fail(ParseError::TooLarge);
                }
                if self.buf.len() - self.line_start > self.limits.max_line_len {
                    return self.fail(ParseError::LineTooLong);
                }
                return None;
            };
            let line_end = self.scanned + lf;
            let line = &self.buf[self.line_start..line_end];
            let content = &line[..trim_end(line, line.len()).min(line.len())];
            let content_len = line.strip_suffix(b"\r").unwrap_or(line).len();
            if line_end - self.line_start > self.limits.max_line_len {
                return self.fail(ParseError::LineTooLong);
            }
            let next = line_end + 1;
            if content_len == 0 && self.line_start > 0 {
                break next;
            }
            match content_length_of(content) {
                Ok(None) => {}
                Ok(Some(n)) => {
                    if self.content_length.replace(n).is_some() {
                        return self.fail(ParseError::DuplicateHeader("Content-Length"));
                    }
                }
                Err(e) => return self.fail(e),
            }
            self.line_start = next;
            self.scanned = next;
            if next > self.limits.max_message_size {
                return self.fail(ParseError::TooLarge);
            }
        };
        let Some(cl) = self.content_length else {
            return self.fail(ParseError::BadContentLength);
        };
        let total = head_end.saturating_add(cl);
        if total > self.limits.max_message_size {
            return self.fail(ParseError::TooLarge);
        }
        if self.buf.len() < total {
            // Headers complete; wait for the body without rescanning.
            self.scanned = self.line_start;
            return None;
        }
        let frame = self.buf.split_to(total).freeze();
        self.scanned = 0;
        self.line_start = 0;
        self.content_length = None;
        Some(Ok(Frame::Message(frame)))
    }
}

/// The Content-Length of one header line (long or compact form), `Ok(None)`
/// for any other line.
fn content_length_of(line: &[u8]) -> Result<Option<usize>, ParseError> {
    let Some(colon) = line.iter().position(|&c| c == b':') else {
        return Ok(None); // the start line, or junk Message::parse rejects
    };
    let name = &line[..trim_end(line, colon)];
    if line.first().is_some_and(|&c| c == b' ' || c == b'\t')
        || HeaderName::from_bytes(name) != HeaderName::ContentLength
    {
        return Ok(None);
    }
    let value = line[colon + 1..].trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadContentLength);
    }
    value
        .iter()
        .try_fold(0usize, |n, &d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        })
        .map(Some)
        .ok_or(ParseError::BadContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    fn framer() -> StreamFramer {
        StreamFramer::new(Limits::default())
    }

    #[test]
    fn one_message_and_keepalives() {
        let mut f = framer();
        f.push(b"\r\n\r\n\r\n");
        f.push(MSG);
        assert_eq!(f.next(), Some(Ok(Frame::Ping)));
        assert_eq!(f.next(), Some(Ok(Frame::Pong)));
        assert_eq!(f.next(), Some(Ok(Frame::Message(Bytes::from_static(MSG)))));
        assert_eq!(f.next(), None);
        assert_eq!(f.buffered(), 0);
        // A lone CRLF waits: it is a pong only once something else follows.
        f.push(b"\r\n");
        assert_eq!(f.next(), None);
        f.push(MSG);
        assert_eq!(f.next(), Some(Ok(Frame::Pong)));
        assert_eq!(f.next(), Some(Ok(Frame::Message(Bytes::from_static(MSG)))));
        f.push(b"\r\n\r");
        assert_eq!(f.next(), None);
        f.push(b"\n");
        assert_eq!(f.next(), Some(Ok(Frame::Ping)));
    }

    #[test]
    fn a_ping_cut_into_two_reads_is_still_a_ping() {
        // RFC 5626 §4.4.1: the ping is CRLF CRLF; TCP may deliver it as two reads.
        let mut f = framer();
        f.push(b"\r\n");
        assert_eq!(f.next(), None);
        f.push(b"\r\n");
        assert_eq!(f.next(), Some(Ok(Frame::Ping)));
        assert_eq!(f.next(), None);
        assert_eq!(f.buffered(), 0);
        // Byte by byte too.
        for b in b"\r\n\r\n" {
            assert_eq!(f.next(), None);
            f.push(&[*b]);
        }
        assert_eq!(f.next(), Some(Ok(Frame::Ping)));
        // CR LF CR then not LF: a pong, then the rest is framed as a message
        // (and fails), instead of waiting for a ping that cannot come.
        let mut f = framer();
        f.push(b"\r\n\rX");
        assert_eq!(f.next(), Some(Ok(Frame::Pong)));
        f.push(&[b'Y'; 70_000]);
        assert!(matches!(f.next(), Some(Err(_))));
        assert!(f.is_failed());
    }

    #[test]
    fn byte_by_byte_and_several_per_push() {
        let mut f = framer();
        let mut got = Vec::new();
        let two = [MSG, MSG].concat();
        for &b in &two {
            f.push(&[b]);
            while let Some(fr) = f.next() {
                got.push(fr.unwrap());
            }
        }
        assert_eq!(got, vec![Frame::Message(Bytes::from_static(MSG)); 2]);
        let mut f = framer();
        f.push(&[MSG, b"\r\n\r\n", MSG, MSG].concat());
        assert_eq!(f.next(), Some(Ok(Frame::Message(Bytes::from_static(MSG)))));
        assert_eq!(f.next(), Some(Ok(Frame::Ping)));
        assert_eq!(f.next(), Some(Ok(Frame::Message(Bytes::from_static(MSG)))));
        assert_eq!(f.next(), Some(Ok(Frame::Message(Bytes::from_static(MSG)))));
        assert_eq!(f.next(), None);
    }

    #[test]
    fn missing_content_length_fails_and_stays_failed() {
        let mut f = framer();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next(), Some(Err(ParseError::BadContentLength)));
        assert!(f.is_failed());
        f.push(MSG);
        assert_eq!(f.next(), None);
        let mut f = framer();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n");
        assert_eq!(f.next(), Some(Err(ParseError::BadContentLength)));
        let mut f = framer();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 1\r\n\r\nx");
        assert_eq!(
            f.next(),
            Some(Err(ParseError::DuplicateHeader("Content-Length")))
        );
    }

    #[test]
    fn buffered_bytes_are_bounded() {
        let limits = Limits {
            max_message_size: 200,
            ..Limits::default()
        };
        let mut f = StreamFramer::new(limits);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        for _ in 0..20 {
            f.push(b"X-Pad: 0123456789\r\n");
        }
        assert_eq!(f.next(), Some(Err(ParseError::TooLarge)));
        let mut f = StreamFramer::new(limits);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 999\r\n\r\n");
        assert_eq!(f.next(), Some(Err(ParseError::TooLarge)));
        let mut f = StreamFramer::new(Limits {
            max_line_len: 10,
            ..Limits::default()
        });
        f.push(b"OPTIONS sip:a@b SIP/2.0");
        assert_eq!(f.next(), Some(Err(ParseError::LineTooLong)));
    }

    #[test]
    fn body_split_across_reads() {
        let mut f = framer();
        let (a, b) = MSG.split_at(MSG.len() - 3);
        f.push(a);
        assert_eq!(f.next(), None);
        assert_eq!(f.next(), None);
        f.push(b);
        assert_eq!(f.next(), Some(Ok(Frame::Message(Bytes::from_static(MSG)))));
    }
}
