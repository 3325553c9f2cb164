//! The forwarding writer (RFC 3261 §16.6): copy a received message with a few
//! header edits, passing every untouched byte through verbatim.
//!
//! A proxy pushes a Via, decrements Max-Forwards, adds a Record-Route and pops
//! a Route (§16.6 steps 3–8, §16.4); it must not reorder or rewrite what it does
//! not understand. [`Splice`] collects edits as byte ranges of the original
//! message plus new text, then [`Splice::write`] copies the spans between the
//! edits from [`Message::raw`] and writes only the edited parts. Body and
//! Content-Length are never touched. Leading CRLFs before the start line (§7.5)
//! and bytes after the body of a datagram (§18.3) are not copied.
//!
//! Edits refer to the message as parsed: two `remove_first_value` calls on the
//! same name both target the same first line. Edits naming
//! [`HeaderName::Other`] are ignored (that name has no spelling of its own).

use std::fmt::Display;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::header::HeaderName;
use super::message::{Header, Message};
use super::scan::{first_comma, is_lws, push_display, push_display_value, push_value};

/// One edit: replace `raw[at..end]` (empty for a pure insertion) by `text`.
#[derive(Debug, Clone, Copy)]
struct Edit {
    at: u32,
    end: u32,
    text: (u32, u32),
    seq: u16,
}

/// A set of edits to a parsed message; see the module docs.
#[derive(Debug, Clone)]
pub struct Splice<'a> {
    msg: &'a Message,
    edits: SmallVec<[Edit; 8]>,
    /// The new text of every edit, back to back.
    text: String,
}

impl<'a> Splice<'a> {
    /// No edits yet: writing now reproduces the message.
    pub fn new(msg: &'a Message) -> Self {
        Self {
            msg,
            edits: SmallVec::new(),
            text: String::new(),
        }
    }

    fn first(&self, name: HeaderName) -> Option<&'a Header> {
        let msg: &'a Message = self.msg;
        msg.headers().iter().find(|h| h.name() == name)
    }

    fn push(&mut self, at: usize, end: usize, text_start: usize) {
        let seq = u16::try_from(self.edits.len()).unwrap_or(u16::MAX);
        self.edits.push(Edit {
            at: at as u32,
            end: end as u32,
            text: (text_start as u32, self.text.len() as u32),
            seq,
        });
    }

    fn insert_line(&mut self, at: usize, name: HeaderName, value: impl Display) {
        let t = self.text.len();
        push_display(&mut self.text, name.as_str(), value);
        self.push(at, at, t);
    }

    /// Replaces the Request-URI (no effect on a response).
    pub fn set_request_uri(&mut self, uri: &str) -> &mut Self {
        if let Some(span) = self.msg.request_uri_span() {
            let t = self.text.len();
            push_value(&mut self.text, uri);
            self.push(span.start as usize, span.end as usize, t);
        }
        self
    }

    /// Inserts `Name: value` before the first line called `name`, or before
    /// the first header if there is none (Via and Record-Route go on top).
    pub fn prepend(&mut self, name: HeaderName, value: impl Display) -> &mut Self {
        if name != HeaderName::Other {
            let at = self
                .first(name)
                .map_or(self.msg.first_header_offset(), |h| h.line().start);
            self.insert_line(at, name, value);
        }
        self
    }

    /// Replaces the value of the first line called `name` (e.g. Max-Forwards);
    /// appends the header if the message has none.
    pub fn replace_first(&mut self, name: HeaderName, value: impl Display) -> &mut Self {
        if name == HeaderName::Other {
            return self;
        }
        match self.first(name) {
            Some(h) => {
                let span = h.value_span();
                let t = self.text.len();
                push_display_value(&mut self.text, value);
                self.push(span.start as usize, span.end as usize, t);
            }
            None => {
                self.append(name, value);
            }
        }
        self
    }

    /// Drops the first comma-separated value of the first line called `name`,
    /// or the whole line if that was its only value (pop a Route, strip the top
    /// Via of `Via: a, b`).
    pub fn remove_first_value(&mut self, name: HeaderName) -> &mut Self {
        if name == HeaderName::Other {
            return self;
        }
        let Some(h) = self.first(name) else {
            return self;
        };
        let span = h.value_span();
        let raw = self.msg.raw();
        let value = &raw[span.range()];
        match first_comma(value) {
            None => {
                let line = h.line();
                self.push(line.start, line.end, self.text.len());
            }
            Some(c) => {
                let mut next = c + 1;
                while next < value.len() && is_lws(value[next]) {
                    next += 1;
                }
                let start = span.start as usize;
                self.push(start, start + next, self.text.len());
            }
        }
        self
    }

    /// Removes every line called `name`.
    pub fn remove_all(&mut self, name: HeaderName) -> &mut Self {
        if name == HeaderName::Other {
            return self;
        }
        let msg: &'a Message = self.msg;
        for h in msg.headers().iter().filter(|h| h.name() == name) {
            let line = h.line();
            self.push(line.start, line.end, self.text.len());
        }
        self
    }

    /// Adds `Name: value` after the last header.
    pub fn append(&mut self, name: HeaderName, value: impl Display) -> &mut Self {
        if name != HeaderName::Other {
            self.insert_line(self.msg.head_end(), name, value);
        }
        self
    }

    /// Writes the edited message to `out`.
    pub fn write(&self, out: &mut BytesMut) {
        let raw = self.msg.raw();
        let mut edits = self.edits.clone();
        // By position; at one position insertions first, then in call order.
        edits.sort_unstable_by_key(|e| (e.at, e.end != e.at, e.seq));
        let mut cur = self.msg.start_offset();
        let body_end = self.msg.body_end();
        out.reserve(body_end - cur + self.text.len());
        for e in &edits {
            let (at, end) = (e.at as usize, e.end as usize);
            let text = self
                .text
                .get(e.text.0 as usize..e.text.1 as usize)
                .unwrap_or_default();
            if at >= cur {
                out.extend_from_slice(raw.get(cur..at).unwrap_or_default());
                out.extend_from_slice(text.as_bytes());
                cur = end.max(at);
            } else if at == end {
                // An insertion inside a removed range: keep the new line.
                out.extend_from_slice(text.as_bytes());
            } else if text.is_empty() {
                // A removal overlapping an earlier one: remove the union.
                cur = cur.max(end);
            }
            // A replacement inside a removed range has nothing left to replace.
        }
        out.extend_from_slice(raw.get(cur..body_end).unwrap_or_default());
    }

    /// The edited message as new bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write(&mut out);
        out.freeze()
    }
}

#[cfg(test)]
#[path = "splice_tests.rs"]
mod tests;
