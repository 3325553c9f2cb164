//! `tel:` URIs (RFC 3966 §3, §4), as they appear in Request-URIs, To/From and
//! P-Asserted-Identity.
//!
//! ```text
//! telephone-subscriber = global-number / local-number
//! global-number  = "+" *phonedigit DIGIT *phonedigit *par
//! local-number   = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex *par context *par
//! visual-separator = "-" / "." / "(" / ")"
//! ```
//!
//! The number keeps its visual separators as written; [`TelUri::number_digits`]
//! strips them for routing and for the RFC 3966 §4 comparison.

use std::fmt;

use super::error::ParseError;
use super::params::Params;

/// A `tel:` URI: the subscriber number and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TelUri {
    /// The number as written, with `+` for global numbers and visual separators kept.
    pub number: String,
    /// `;ext=`, `;isub=`, `;phone-context=` and other parameters.
    pub params: Params,
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

impl TelUri {
    /// Parses the part after `tel:`. Errors `BadUri`.
    pub fn parse_subscriber(s: &str) -> Result<Self, ParseError> {
        let (number, params) = match s.find(';') {
            // The cut is at an ASCII ';'.
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
        let params = Params::parse_uri(params).ok_or(ParseError::BadUri)?;
        let ok = if let Some(digits) = number.strip_prefix('+') {
            digits.bytes().any(|b| b.is_ascii_digit())
                && digits
                    .bytes()
                    .all(|b| b.is_ascii_digit() || is_separator(b))
        } else {
            number
                .bytes()
                .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
                && number
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#' || is_separator(b))
                && params.value("phone-context").is_some()
        };
        if !ok {
            return Err(ParseError::BadUri);
        }
        Ok(Self {
            number: number.to_owned(),
            params,
        })
    }

    /// True for a global number (`+` followed by an E.164 number).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The number without visual separators (`+1-201-555-0123` → `+12015550123`).
    pub fn number_digits(&self) -> String {
        self.number
            .bytes()
            .filter(|b| !is_separator(*b))
            .map(char::from)
            .collect()
    }

    /// The `phone-context` of a local number.
    pub fn phone_context(&self) -> Option<&str> {
        self.params.value("phone-context")
    }

    /// RFC 3966 §4 comparison: numbers equal without separators (hex digits
    /// case-insensitively), and the same set of parameters with equal values
    /// (case-insensitively).
    pub fn equivalent(&self, other: &Self) -> bool {
        if !self
            .number_digits()
            .eq_ignore_ascii_case(&other.number_digits())
            || self.params.len() != other.params.len()
        {
            return false;
        }
        self.params.iter().all(|(n, v)| match other.params.get(n) {
            Some(ov) => match (v, ov) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            },
            None => false,
        })
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3966_examples() {
        let t = TelUri::parse_subscriber("+1-201-555-0123").unwrap();
        assert!(t.is_global());
        assert_eq!(t.number, "+1-201-555-0123");
        assert_eq!(t.number_digits(), "+12015550123");
        assert_eq!(t.to_string(), "tel:+1-201-555-0123");

        let t = TelUri::parse_subscriber("7042;phone-context=example.com").unwrap();
        assert!(!t.is_global());
        assert_eq!(t.phone_context(), Some("example.com"));

        let t = TelUri::parse_subscriber("863-1234;phone-context=+1-914-555").unwrap();
        assert_eq!(t.phone_context(), Some("+1-914-555"));
        assert_eq!(t.to_string(), "tel:863-1234;phone-context=+1-914-555");

        let t = TelUri::parse_subscriber("+1(201)555.0123;ext=42").unwrap();
        assert_eq!(t.params.value("ext"), Some("42"));
        assert_eq!(t.number_digits(), "+12015550123");
    }

    #[test]
    fn rejects_bad_numbers() {
        for bad in [
            "",
            "+",
            "+--",
            "+1 201",
            "7042",
            "abc;phone-context",
            "+12a",
            "+1;;",
            "+1;ext=",
            "1234;phone-context=é",
        ] {
            assert!(TelUri::parse_subscriber(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compares_per_rfc3966() {
        let a = TelUri::parse_subscriber("+1-201-555-0123;ext=1").unwrap();
        let b = TelUri::parse_subscriber("+1.201.555.0123;EXT=1").unwrap();
        let c = TelUri::parse_subscriber("+1-201-555-0123").unwrap();
        assert!(a.equivalent(&b));
        assert!(!a.equivalent(&c));
        let d = TelUri::parse_subscriber("+1-201-555-0124").unwrap();
        assert!(!c.equivalent(&d));
    }
}
