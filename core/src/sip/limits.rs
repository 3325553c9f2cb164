//! Parser limits: every byte the codec reads is bounded by these numbers
//! (RFC 3261 §18.1.1 asks for messages up to 65,535 bytes over streams; §21.5.14
//! gives 513 "Message Too Large" for what exceeds them).
//!
//! A message, a header line or a header count over its limit fails with
//! [`ParseError::TooLarge`](super::ParseError::TooLarge),
//! [`ParseError::LineTooLong`](super::ParseError::LineTooLong) or
//! [`ParseError::TooManyHeaders`](super::ParseError::TooManyHeaders), all answered
//! with 513. The stream framer also uses `max_message_size` to bound what it buffers.

/// Bounds on the size and shape of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message (start line, headers and body), in bytes.
    pub max_message_size: usize,
    /// Most header lines in one message.
    pub max_headers: usize,
    /// Longest single physical line (start line or header line), in bytes.
    pub max_line_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 65_536,
            max_headers: 256,
            max_line_len: 8_192,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let l = Limits::default();
        assert_eq!(l.max_message_size, 65_536);
        assert_eq!(l.max_headers, 256);
        assert_eq!(l.max_line_len, 8_192);
    }
}
