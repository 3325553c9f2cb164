//! The CSeq header value (RFC 3261 §8.1.1.5, §20.16): `1*DIGIT LWS Method`.
//!
//! The sequence number must be below 2^31 (§8.1.1.5); leading zeros are
//! allowed (RFC 4475 "wsinv" has `0009`). The LWS between number and method may
//! include a folded line break. The method is case-sensitive (§7.1).

use std::fmt;

use super::{Method, ParseError};

/// A parsed CSeq: the sequence number and the method it counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number, below 2^31.
    pub seq: u32,
    /// The request method this CSeq belongs to.
    pub method: Method,
}

/// Is `b` linear white space (SP, HTAB, or the CR/LF of a folded line)?
fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl CSeq {
    /// Parses a CSeq value (surrounding LWS allowed). Fails with
    /// `BadHeader("CSeq")` on anything but `1*DIGIT LWS Method` with a number < 2^31.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        const ERR: ParseError = ParseError::BadHeader("CSeq");
        let b = value.as_bytes();
        let mut i = 0;
        while i < b.len() && is_lws(b[i]) {
            i += 1;
        }
        let digits_start = i;
        let mut seq: u64 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            seq = seq * 10 + u64::from(b[i] - b'0');
            if seq >= 1 << 31 {
                return Err(ERR);
            }
            i += 1;
        }
        if i == digits_start {
            return Err(ERR);
        }
        let lws_start = i;
        while i < b.len() && is_lws(b[i]) {
            i += 1;
        }
        if i == lws_start {
            return Err(ERR);
        }
        let method = value
            .get(i..)
            .ok_or(ERR)?
            .trim_end_matches(|c| is_lws(c as u8));
        let method = Method::parse(method).ok_or(ERR)?;
        Ok(Self {
            seq: u32::try_from(seq).map_err(|_| ERR)?,
            method,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_forms() {
        let c = CSeq::parse("314159 INVITE").unwrap();
        assert_eq!((c.seq, c.method), (314159, Method::Invite));
        // RFC 4475 wsinv: leading zeros and a folded line between the parts.
        let c = CSeq::parse("0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        let c = CSeq::parse(" 1\tACK ").unwrap();
        assert_eq!((c.seq, &c.method), (1, &Method::Ack));
        assert_eq!(CSeq::parse("2147483647 BYE").unwrap().seq, (1 << 31) - 1);
        assert_eq!(c.to_string(), "1 ACK");
    }

    #[test]
    fn rejects_malformed() {
        for v in [
            "",
            "INVITE",
            "1",
            "1INVITE",
            "-1 INVITE",
            "2147483648 INVITE",
            "36893488147419103232 REGISTER", // RFC 4475 scalar02
            "1 INVITE BYE",
            "1 IN<VITE",
            "0x1 INVITE",
        ] {
            assert_eq!(CSeq::parse(v), Err(ParseError::BadHeader("CSeq")), "{v:?}");
        }
    }
}
