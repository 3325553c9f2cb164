//! Parse errors of the SIP codec, each mapped to the response a server owes
//! (RFC 3261 §8.2, §16.3, §21).
//!
//! A request that fails to parse gets the status [`ParseError::status`] with the
//! reason phrase [`ParseError::reason`], which names the problem so an operator
//! reading a trace knows what was wrong. A response that fails to parse is
//! dropped and counted by the caller; it is never answered.

use thiserror::Error;

/// Why a message (or a header value inside it) could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// A stream needs more bytes before a whole message is available.
    #[error("incomplete message")]
    Incomplete,
    /// The message exceeds the configured size limit (513).
    #[error("message too large")]
    TooLarge,
    /// More header fields than the configured limit (513).
    #[error("too many header fields")]
    TooManyHeaders,
    /// A line longer than the configured limit (513).
    #[error("line too long")]
    LineTooLong,
    /// The start line is not a SIP request or status line (400).
    #[error("malformed start line")]
    BadStartLine,
    /// The SIP-Version is not `SIP/2.0` (505).
    #[error("unsupported SIP version")]
    BadVersion,
    /// A header line without a colon, or with an invalid name (400).
    #[error("malformed header line")]
    BadHeaderLine,
    /// A header that must be present is missing (400); carries its canonical name.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header that must appear once appears several times (400).
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// A header value does not follow its grammar (400); carries its canonical name.
    #[error("malformed {0} header")]
    BadHeader(&'static str),
    /// A URI does not follow the SIP/SIPS/tel grammar (400).
    #[error("malformed URI")]
    BadUri,
    /// A URI scheme other than sip, sips or tel where one is required (416).
    #[error("unsupported URI scheme")]
    UnsupportedScheme,
    /// The body is shorter than Content-Length, or Content-Length is invalid (400).
    #[error("Content-Length does not match the body")]
    BadContentLength,
    /// CSeq method differs from the request method (400).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Bytes that are not valid UTF-8 where text is required (400).
    #[error("invalid UTF-8")]
    BadEncoding,
}

impl ParseError {
    /// The status code a server answers a request that failed this way.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge | Self::TooManyHeaders | Self::LineTooLong => 513,
            Self::BadVersion => 505,
            Self::UnsupportedScheme => 416,
            _ => 400,
        }
    }

    /// The reason phrase for that response: the standard phrase for 505/513/416,
    /// otherwise a `400` phrase that names the problem (e.g. "Bad Request: missing Call-ID header").
    pub fn reason(&self) -> String {
        match self.status() {
            505 => "Version Not Supported".to_owned(),
            513 => "Message Too Large".to_owned(),
            416 => "Unsupported URI Scheme".to_owned(),
            _ => format!("Bad Request: {self}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_rfc3261() {
        assert_eq!(ParseError::TooLarge.status(), 513);
        assert_eq!(ParseError::BadVersion.status(), 505);
        assert_eq!(ParseError::UnsupportedScheme.status(), 416);
        assert_eq!(ParseError::MissingHeader("Call-ID").status(), 400);
        assert_eq!(
            ParseError::MissingHeader("Call-ID").reason(),
            "Bad Request: missing Call-ID header"
        );
    }
}
