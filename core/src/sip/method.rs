//! SIP request methods (RFC 3261 §7.1, §27.4 and the extension RFCs).

use std::fmt;

/// A SIP method. Known methods are variants; anything else that is a valid
/// `token` is kept as [`Method::Other`] so a proxy can forward it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Method {
    /// INVITE (RFC 3261)
    Invite,
    /// ACK (RFC 3261)
    Ack,
    /// BYE (RFC 3261)
    Bye,
    /// CANCEL (RFC 3261)
    Cancel,
    /// REGISTER (RFC 3261)
    Register,
    /// OPTIONS (RFC 3261)
    Options,
    /// INFO (RFC 6086)
    Info,
    /// UPDATE (RFC 3311)
    Update,
    /// PRACK (RFC 3262)
    Prack,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// REFER (RFC 3515)
    Refer,
    /// MESSAGE (RFC 3428)
    Message,
    /// PUBLISH (RFC 3903)
    Publish,
    /// Any other token, case preserved (methods are case-sensitive, §7.1).
    Other(Box<str>),
}

/// Is `b` a `token` character (RFC 3261 §25.1)?
pub fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

impl Method {
    /// Parses a method token. Returns `None` if `s` is empty or not a token.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "REGISTER" => Self::Register,
            "OPTIONS" => Self::Options,
            "INFO" => Self::Info,
            "UPDATE" => Self::Update,
            "PRACK" => Self::Prack,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            "PUBLISH" => Self::Publish,
            _ if !s.is_empty() && s.bytes().all(is_token_char) => Self::Other(s.into()),
            _ => return None,
        })
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Register => "REGISTER",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Update => "UPDATE",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Publish => "PUBLISH",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_extension_methods() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(Method::parse("NEWMETHOD").unwrap().as_str(), "NEWMETHOD");
        // Methods are case-sensitive: lowercase is an extension token, not INVITE.
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Other("invite".into()))
        );
        assert_eq!(Method::parse(""), None);
        assert_eq!(Method::parse("IN VITE"), None);
    }
}
