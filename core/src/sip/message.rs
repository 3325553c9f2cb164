//! The zero-copy SIP message (RFC 3261 §7, §18.3): the bytes as received plus an
//! index of spans into them.
//!
//! [`Message::parse`] reads the start line (§7.1, §7.2), the header lines with
//! their LWS and folding (§7.3.1, compact names §7.3.3), the empty line and the
//! body (§7.4, §7.5), and checks what the message layer owns (§8.1.1, §8.2.2.3 context):
//! the mandatory headers (Via, From, To, Call-ID, CSeq), headers that must not
//! repeat, Content-Length against the bytes present (§18.3: a datagram's body is
//! truncated to Content-Length; too few bytes is an error), and the CSeq method
//! against the request method. Typed views (URIs, Contact, Via parameters…)
//! are parsed on demand by the grammar modules from the values indexed here.
//!
//! Nothing is copied: header values, the Request-URI, the reason phrase and the
//! body are spans into [`Message::raw`]. The header section is checked to be
//! UTF-8 once, so every value is available as `&str`.

use std::ops::Range;

use bytes::Bytes;
use smallvec::SmallVec;

use super::cseq::CSeq;
use super::header::HeaderName;
use super::limits::Limits;
use super::scan::{
    find_colon_or_lf, find_lf_from, find_param, first_comma, is_lws, is_token, trim_end,
};
use super::{Method, ParseError};

/// A byte range into the message; `u32` keeps the index small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        // Message::parse rejects inputs longer than u32::MAX, so offsets fit.
        Self {
            start: start as u32,
            end: end as u32,
        }
    }

    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One header line in the index of a [`Message`]: its name, and where its
/// name, value and whole line (with folded continuation lines) lie in the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    name: HeaderName,
    /// Start of the line (the first byte of the name).
    line_start: u32,
    name_end: u32,
    /// The value, trimmed of surrounding LWS; folded lines included.
    value: Span,
    /// End of the line, after its CRLF (or the last continuation's CRLF).
    line_end: u32,
}

impl Header {
    /// The header's name (`Other` for names the codec does not know).
    pub fn name(&self) -> HeaderName {
        self.name
    }

    pub(crate) fn line(&self) -> Range<usize> {
        self.line_start as usize..self.line_end as usize
    }

    pub(crate) fn value_span(&self) -> Span {
        self.value
    }
}

/// What the start line says.
#[derive(Debug, Clone)]
enum StartLine {
    Request { method: Method, uri: Span },
    Response { status: u16, reason: Span },
}

/// A parsed SIP request or response; see the module docs.
#[derive(Debug, Clone)]
pub struct Message {
    raw: Bytes,
    /// Offset of the start line (after any leading CRLFs, §7.5).
    start: u32,
    start_line: StartLine,
    headers: SmallVec<[Header; 24]>,
    /// Offset of the empty line that ends the header section.
    head_end: u32,
    body: Span,
    call_id: Span,
    cseq: CSeq,
    top_via: Span,
    branch: Option<Span>,
    from_tag: Option<Span>,
    to_tag: Option<Span>,
    /// The Max-Forwards value, if the header is present.
    max_forwards: Option<Span>,
    content_length: Option<u32>,
}

/// Finds the line starting at `pos`: returns the end of its content (before
/// CRLF or a bare LF) and the offset after the line break. The caller knows
/// `b[pos..from]` holds no LF, so the search starts at `from`.
#[inline]
fn next_line(
    b: &[u8],
    pos: usize,
    from: usize,
    limits: &Limits,
) -> Result<(usize, usize), ParseError> {
    let Some(lf) = find_lf_from(b, from) else {
        return Err(if b.len().saturating_sub(pos) > limits.max_line_len {
            ParseError::LineTooLong
        } else {
            ParseError::Incomplete
        });
    };
    if lf - pos > limits.max_line_len {
        return Err(ParseError::LineTooLong);
    }
    let content_end = if lf > pos && b[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    Ok((content_end, lf + 1))
}

/// Minimal Request-URI check (§19.1.1, §25.1): `scheme ":" 1*visible-ASCII`,
/// and no headers component in a SIP or SIPS Request-URI (§19.1.1 table 1;
/// RFC 4475 "escruri"). The full grammar lives in the URI module.
fn check_request_uri(uri: &[u8]) -> Result<(), ParseError> {
    let colon = uri
        .iter()
        .position(|&c| c == b':')
        .ok_or(ParseError::BadUri)?;
    let (scheme, rest) = uri.split_at(colon);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    let rest = &rest[1..];
    if !scheme_ok
        || rest.is_empty()
        || rest
            .iter()
            .any(|&c| !(0x21..0x7f).contains(&c) || matches!(c, b'<' | b'>' | b'"'))
    {
        return Err(ParseError::BadUri);
    }
    let sip = scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips");
    // `?` may appear in the userinfo (§25.1 user-unreserved); headers come after it.
    let host_part = rest.rsplit(|&c| c == b'@').next().unwrap_or(rest);
    if sip && host_part.contains(&b'?') {
        return Err(ParseError::BadUri);
    }
    Ok(())
}

/// Parses the start line `b[s..e]`.
fn parse_start_line(b: &[u8], s: usize, e: usize) -> Result<StartLine, ParseError> {
    let line = &b[s..e];
    let is_sip_version = |v: &[u8]| v.eq_ignore_ascii_case(b"SIP/2.0");
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = line
            .iter()
            .position(|&c| c == b' ')
            .ok_or(ParseError::BadStartLine)?;
        if !is_sip_version(&line[..sp]) {
            return Err(ParseError::BadVersion);
        }
        let rest = &line[sp + 1..];
        let code = rest.get(..3).ok_or(ParseError::BadStartLine)?;
        if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&c| c != b' ') {
            return Err(ParseError::BadStartLine);
        }
        let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&status) {
            return Err(ParseError::BadStartLine);
        }
        let reason_start = (s + sp + 1 + 4).min(e);
        return Ok(StartLine::Response {
            status,
            reason: Span::new(reason_start, e),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let mut parts = line.split(|&c| c == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine);
    };
    if !is_sip_version(version) {
        let looks_sip = version.len() > 4 && version[..4].eq_ignore_ascii_case(b"SIP/");
        return Err(if looks_sip {
            ParseError::BadVersion
        } else {
            ParseError::BadStartLine
        });
    }
    let method = std::str::from_utf8(method)
        .ok()
        .and_then(Method::parse)
        .ok_or(ParseError::BadStartLine)?;
    check_request_uri(uri)?;
    let uri_start = s + method.as_str().len() + 1;
    Ok(StartLine::Request {
        method,
        uri: Span::new(uri_start, uri_start + uri.len()),
    })
}

/// Where the headers the message layer checks were found while indexing.
#[derive(Default)]
struct Found {
    via: Option<usize>,
    from: Option<usize>,
    to: Option<usize>,
    call_id: Option<usize>,
    cseq: Option<usize>,
    content_length: Option<usize>,
    max_forwards: Option<usize>,
    /// The first header that repeated although it must appear at most once.
    duplicate: Option<HeaderName>,
}

impl Found {
    /// Notes header number `idx`, called `name`.
    #[inline]
    fn note(&mut self, name: HeaderName, idx: usize) {
        let slot = match name {
            HeaderName::Via => {
                self.via.get_or_insert(idx);
                return;
            }
            HeaderName::From => &mut self.from,
            HeaderName::To => &mut self.to,
            HeaderName::CallId => &mut self.call_id,
            HeaderName::CSeq => &mut self.cseq,
            HeaderName::ContentLength => &mut self.content_length,
            HeaderName::MaxForwards => &mut self.max_forwards,
            _ => return,
        };
        if slot.replace(idx).is_some() && self.duplicate.is_none() {
            self.duplicate = Some(name);
        }
    }
}

/// Parses the start of a header line at `b[pos..]`: `token *(SP / HTAB) ":"
/// *(SP / HTAB)`. Returns the name, where it ends, and where the value starts;
/// `None` if the line does not start that way (an empty line, a continuation
/// line, or a malformed one). The scan does not cross a line break.
#[inline]
fn header_name(b: &[u8], pos: usize) -> Option<(HeaderName, usize, usize)> {
    // The first `:` of the line ends the name: it is not a token character.
    let colon = find_colon_or_lf(b, pos);
    if b.get(colon) != Some(&b':') {
        return None;
    }
    let mut name_end = colon;
    while name_end > pos && matches!(b[name_end - 1], b' ' | b'\t') {
        name_end -= 1;
    }
    let name_bytes = &b[pos..name_end];
    let name = HeaderName::from_bytes(name_bytes);
    // A known name is a token; anything else must be checked.
    if name == HeaderName::Other
        && (name_bytes.is_empty() || !name_bytes.iter().all(|&c| is_token(c)))
    {
        return None;
    }
    let mut vs = colon + 1;
    while b.get(vs).is_some_and(|&c| c == b' ' || c == b'\t') {
        vs += 1;
    }
    Some((name, name_end, vs))
}

/// Parses a Content-Length value (§20.14): digits, below 2^32.
fn parse_content_length(v: &[u8]) -> Result<u32, ParseError> {
    if v.is_empty() {
        return Err(ParseError::BadContentLength);
    }
    v.iter()
        .try_fold(0u32, |n, &d| {
            if !d.is_ascii_digit() {
                return None;
            }
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(ParseError::BadContentLength)
}

impl Message {
    /// Parses one message from a datagram (or a frame cut by the stream
    /// framer), bounded by `limits`. See the module docs for what is checked.
    pub fn parse(raw: Bytes, limits: &Limits) -> Result<Self, ParseError> {
        if raw.len() > limits.max_message_size || raw.len() > u32::MAX as usize {
            return Err(ParseError::TooLarge);
        }
        let b: &[u8] = &raw;
        // §7.5: implementations should ignore CRLFs before the start line.
        let start = b
            .iter()
            .position(|&c| c != b'\r' && c != b'\n')
            .ok_or(ParseError::Incomplete)?;
        let (sl_end, mut pos) = next_line(b, start, start, limits)?;
        let start_line = parse_start_line(b, start, sl_end)?;

        // One pass over the header lines: index them and note the ones the
        // message layer checks.
        let mut headers: SmallVec<[Header; 24]> = SmallVec::new();
        let mut found = Found::default();
        let head_end = loop {
            let Some((name, name_end, vs)) = header_name(b, pos) else {
                // Not `name:`: the empty line, a continuation line or an error.
                let (le, next) = next_line(b, pos, pos, limits)?;
                if le == pos {
                    break pos;
                }
                if !matches!(b[pos], b' ' | b'\t') {
                    return Err(ParseError::BadHeaderLine);
                }
                // A continuation line (§7.3.1): part of the previous value.
                let h = headers.last_mut().ok_or(ParseError::BadHeaderLine)?;
                let mut cs = pos;
                while cs < le && is_lws(b[cs]) {
                    cs += 1;
                }
                let ce = trim_end(b, le).max(cs);
                if cs < ce {
                    if h.value.start == h.value.end {
                        h.value.start = cs as u32;
                    }
                    h.value.end = ce as u32;
                }
                h.line_end = next as u32;
                pos = next;
                continue;
            };
            let (le, next) = next_line(b, pos, vs, limits)?;
            let ve = trim_end(b, le).max(vs);
            if headers.len() >= limits.max_headers {
                return Err(ParseError::TooManyHeaders);
            }
            found.note(name, headers.len());
            headers.push(Header {
                name,
                line_start: pos as u32,
                name_end: name_end as u32,
                value: Span::new(vs, ve),
                line_end: next as u32,
            });
            pos = next;
        };
        let (_, body_start) = next_line(b, head_end, head_end, limits)?;
        // The header section is checked once; values are sliced from it.
        let head = std::str::from_utf8(&b[start..head_end]).map_err(|_| ParseError::BadEncoding)?;
        let head_text = |span: Span| {
            head.get(span.start as usize - start..span.end as usize - start)
                .unwrap_or_default()
        };

        if let Some(name) = found.duplicate {
            return Err(ParseError::DuplicateHeader(name.as_str()));
        }
        let need = |slot: Option<usize>, name: HeaderName| {
            slot.and_then(|i| headers.get(i))
                .map(|h| h.value)
                .ok_or(ParseError::MissingHeader(name.as_str()))
        };
        let via = need(found.via, HeaderName::Via)?;
        let from = need(found.from, HeaderName::From)?;
        let to = need(found.to, HeaderName::To)?;
        let call_id = need(found.call_id, HeaderName::CallId)?;
        let cseq = need(found.cseq, HeaderName::CSeq)?;
        let max_forwards = found
            .max_forwards
            .and_then(|i| headers.get(i))
            .map(|h| h.value);

        // Content-Length (§20.14, §18.3).
        let content_length = match found.content_length.and_then(|i| headers.get(i)) {
            None => None,
            Some(h) => Some(parse_content_length(&b[h.value.range()])?),
        };
        let available = b.len() - body_start;
        let body_len = match content_length {
            Some(n) if n as usize > available => return Err(ParseError::BadContentLength),
            Some(n) => n as usize,
            None => available,
        };
        let body = Span::new(body_start, body_start + body_len);

        if call_id.start == call_id.end {
            return Err(ParseError::BadHeader("Call-ID"));
        }
        let cseq = CSeq::parse(head_text(cseq))?;
        if let StartLine::Request { method, .. } = &start_line
            && *method != cseq.method
        {
            return Err(ParseError::CSeqMethodMismatch);
        }

        let tag = |span: Span, name: &'static str| {
            find_param(&b[span.range()], "tag")
                .map(|r| {
                    r.map(|(s, e)| Span::new(span.start as usize + s, span.start as usize + e))
                })
                .map_err(|_| ParseError::BadHeader(name))
        };
        let from_tag = tag(from, "From")?;
        let to_tag = tag(to, "To")?;

        let via_text = &b[via.range()];
        let top_len = trim_end(via_text, first_comma(via_text).unwrap_or(via_text.len()));
        if top_len == 0 {
            return Err(ParseError::BadHeader("Via"));
        }
        let top_via = Span::new(via.start as usize, via.start as usize + top_len);
        let branch = find_param(&via_text[..top_len], "branch")
            .map_err(|_| ParseError::BadHeader("Via"))?
            .map(|(s, e)| Span::new(via.start as usize + s, via.start as usize + e));

        Ok(Self {
            start: start as u32,
            start_line,
            headers,
            head_end: head_end as u32,
            body,
            call_id,
            cseq,
            top_via,
            branch,
            from_tag,
            to_tag,
            max_forwards,
            content_length,
            raw,
        })
    }

    /// Text of a span inside the UTF-8-checked header section.
    fn text(&self, span: Span) -> &str {
        // Spans start and end next to ASCII delimiters inside the section that
        // parse() validated, so this cannot fail; "" keeps it panic-free.
        std::str::from_utf8(self.raw.get(span.range()).unwrap_or_default()).unwrap_or_default()
    }

    /// The whole datagram or frame, as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Is this a request (rather than a response)?
    pub fn is_request(&self) -> bool {
        matches!(self.start_line, StartLine::Request { .. })
    }

    /// The request method; `None` for a response.
    pub fn method(&self) -> Option<&Method> {
        match &self.start_line {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written; `None` for a response.
    pub fn request_uri(&self) -> Option<&str> {
        match self.start_line {
            StartLine::Request { uri, .. } => Some(self.text(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code (100–699); `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start_line {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase (may be empty, may be UTF-8); `None` for a request.
    pub fn reason(&self) -> Option<&str> {
        match self.start_line {
            StartLine::Response { reason, .. } => Some(self.text(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The value of the first header line called `name`. For names the codec
    /// does not know, use [`Message::header_named`].
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.header_values(name).next()
    }

    /// The value of each header line called `name`, in order. A line holding
    /// a comma list gives the whole list; splitting is the grammar's job.
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| self.text(h.value))
    }

    /// The value of the first header line whose name is `name` (any case, long
    /// or compact form); works for unknown names too.
    pub fn header_named(&self, name: &str) -> Option<&str> {
        let known = HeaderName::parse(name);
        self.headers
            .iter()
            .find(|h| {
                h.name == known
                    && (known != HeaderName::Other || self.name_text(h).eq_ignore_ascii_case(name))
            })
            .map(|h| self.text(h.value))
    }

    /// How many header lines are called `name`.
    pub fn header_count(&self, name: HeaderName) -> usize {
        self.headers.iter().filter(|h| h.name == name).count()
    }

    /// The header index, one entry per header line, in message order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The name of a header line as written (e.g. `v` or `TO`).
    pub fn name_text(&self, h: &Header) -> &str {
        self.text(Span {
            start: h.line_start,
            end: h.name_end,
        })
    }

    /// The value of a header line, trimmed of surrounding LWS.
    pub fn value_text(&self, h: &Header) -> &str {
        self.text(h.value)
    }

    /// The Call-ID value.
    pub fn call_id(&self) -> &str {
        self.text(self.call_id)
    }

    /// The CSeq, parsed once by [`Message::parse`].
    pub fn cseq(&self) -> &CSeq {
        &self.cseq
    }

    /// The `tag` parameter of From, if any.
    pub fn from_tag(&self) -> Option<&str> {
        self.from_tag.map(|s| self.text(s))
    }

    /// The `tag` parameter of To, if any.
    pub fn to_tag(&self) -> Option<&str> {
        self.to_tag.map(|s| self.text(s))
    }

    /// The topmost Via value (the first element of the first Via line).
    pub fn top_via_value(&self) -> &str {
        self.text(self.top_via)
    }

    /// The `branch` parameter of the topmost Via, if any.
    pub fn top_via_branch(&self) -> Option<&str> {
        self.branch.map(|s| self.text(s))
    }

    /// The body (zero-copy), truncated to Content-Length when one was given.
    pub fn body(&self) -> Bytes {
        self.raw.slice(self.body.range())
    }

    /// The declared Content-Length, if the header is present.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// The Max-Forwards value (§20.22, 0–255), `Ok(None)` if absent.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        let Some(span) = self.max_forwards else {
            return Ok(None);
        };
        let err = ParseError::BadHeader("Max-Forwards");
        let v = self.raw.get(span.range()).unwrap_or_default();
        if v.is_empty() {
            return Err(err);
        }
        // Any number of leading zeros; the value saturates past 255.
        let mut n: u16 = 0;
        for &c in v {
            if !c.is_ascii_digit() {
                return Err(err);
            }
            n = (n * 10 + u16::from(c - b'0')).min(256);
        }
        u8::try_from(n).map(Some).map_err(|_| err)
    }

    /// Offset of the start line.
    pub(crate) fn start_offset(&self) -> usize {
        self.start as usize
    }

    /// Offset of the empty line ending the header section.
    pub(crate) fn head_end(&self) -> usize {
        self.head_end as usize
    }

    /// Offset just past the body.
    pub(crate) fn body_end(&self) -> usize {
        self.body.end as usize
    }

    /// Offset of the first header line (the end of the start line).
    pub(crate) fn first_header_offset(&self) -> usize {
        self.headers
            .first()
            .map_or(self.head_end(), |h| h.line_start as usize)
    }

    /// Span of the Request-URI, for requests.
    pub(crate) fn request_uri_span(&self) -> Option<Span> {
        match self.start_line {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
