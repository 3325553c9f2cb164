//! The extension directory: who may register and call (provisioned data).
//!
//! The database is the source of truth (ARCHITECTURE.md §5); the runtime loads
//! a snapshot at start and sends changes as commands. Passwords are never held:
//! an extension carries its HA1 digests (MD5 and SHA-256, RFC 7616) only.

use std::collections::BTreeMap;

/// One provisioned extension (a SIP user of our domain).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extension {
    /// The user part of its address-of-record (`101`, `alice`).
    pub username: String,
    /// Display name shown to callees.
    pub display_name: Option<String>,
    /// HA1 = hex(MD5(username:realm:password)).
    pub ha1_md5: String,
    /// HA1 = hex(SHA-256(username:realm:password)).
    pub ha1_sha256: String,
    /// A disabled extension cannot register or call (it answers like an unknown one).
    pub enabled: bool,
    /// Where calls go when it is offline, busy or does not answer in time
    /// (TekSIP "redirect"; issue 4). `None`: no redirection.
    pub redirect: Option<Redirect>,
    /// May it place calls that leave through a route (TekSIP "allow external calls")?
    pub allow_external: bool,
    /// The only destination its external calls may use (TekSIP "default external
    /// route"); `None` = any.
    pub external_route: Option<String>,
}

/// The target of an extension's redirection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Another extension (its username).
    Extension(String),
    /// The voicemail server (`service.voicemail_server`), as `sip:<callee>@<server>`.
    Voicemail,
}

impl Redirect {
    /// Parses the stored form: `voicemail` (any case) or an extension username.
    pub fn parse(s: &str) -> Result<Self, BadUsername> {
        if s.eq_ignore_ascii_case("voicemail") {
            return Ok(Self::Voicemail);
        }
        validate_username(s)?;
        Ok(Self::Extension(s.to_owned()))
    }

    /// The stored form (`voicemail` or the username).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Extension(u) => u,
            Self::Voicemail => "voicemail",
        }
    }
}

impl Extension {
    /// An enabled extension with these digests.
    pub fn new(username: impl Into<String>, ha1_md5: String, ha1_sha256: String) -> Self {
        Self {
            username: username.into(),
            display_name: None,
            ha1_md5,
            ha1_sha256,
            enabled: true,
            redirect: None,
            allow_external: true,
            external_route: None,
        }
    }
}

/// Why a username is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid extension username {0:?}: use 1-64 letters, digits, '-', '.', '_' (never ';')")]
pub struct BadUsername(pub String);

/// Why an extension is refused by [`Directory::upsert`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadExtension {
    /// The username (or the redirect target's) has characters outside the allowed set.
    #[error(transparent)]
    Username(#[from] BadUsername),
    /// The extension redirects to itself (TekSIP refuses it too).
    #[error("extension {0} cannot be redirected to itself")]
    RedirectToItself(String),
}

/// Checks an extension's own fields (username, redirect target).
pub fn validate_extension(e: &Extension) -> Result<(), BadExtension> {
    validate_username(&e.username)?;
    if let Some(Redirect::Extension(t)) = &e.redirect {
        validate_username(t)?;
        if *t == e.username {
            return Err(BadExtension::RedirectToItself(e.username.clone()));
        }
    }
    Ok(())
}

/// Checks an extension username: the SIP user part, letters, digits and `-._` only.
pub fn validate_username(u: &str) -> Result<(), BadUsername> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(BadUsername(u.to_owned()))
    }
}

/// All extensions, by username.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    by_user: BTreeMap<String, Extension>,
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an extension.
    pub fn upsert(&mut self, ext: Extension) -> Result<(), BadExtension> {
        validate_extension(&ext)?;
        self.by_user.insert(ext.username.clone(), ext);
        Ok(())
    }

    /// Removes an extension; returns it if it existed.
    pub fn remove(&mut self, username: &str) -> Option<Extension> {
        self.by_user.remove(username)
    }

    /// The extension with this username (enabled or not).
    pub fn get(&self, username: &str) -> Option<&Extension> {
        self.by_user.get(username)
    }

    /// The enabled extension with this username.
    pub fn active(&self, username: &str) -> Option<&Extension> {
        self.get(username).filter(|e| e.enabled)
    }

    /// Number of extensions.
    pub fn len(&self) -> usize {
        self.by_user.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// All extensions in username order.
    pub fn iter(&self) -> impl Iterator<Item = &Extension> {
        self.by_user.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked_and_disabled_ones_are_not_active() {
        let mut d = Directory::new();
        assert!(
            d.upsert(Extension::new("101", "a".into(), "b".into()))
                .is_ok()
        );
        assert!(
            d.upsert(Extension::new("al.ice_2-x", "a".into(), "b".into()))
                .is_ok()
        );
        assert!(
            d.upsert(Extension::new("bad;user", "a".into(), "b".into()))
                .is_err()
        );
        assert!(
            d.upsert(Extension::new("", "a".into(), "b".into()))
                .is_err()
        );
        let mut e = Extension::new("102", "a".into(), "b".into());
        e.enabled = false;
        d.upsert(e).expect("valid name");
        assert!(d.get("102").is_some() && d.active("102").is_none());
        assert_eq!(d.len(), 3);
        assert!(d.remove("101").is_some() && d.active("101").is_none());
    }

    #[test]
    fn redirects_parse_and_never_point_to_the_extension_itself() {
        assert_eq!(Redirect::parse("VoiceMail"), Ok(Redirect::Voicemail));
        assert_eq!(
            Redirect::parse("102"),
            Ok(Redirect::Extension("102".into()))
        );
        assert!(Redirect::parse("1;2").is_err());
        let mut d = Directory::new();
        let mut e = Extension::new("101", "a".into(), "b".into());
        assert!(e.allow_external && e.redirect.is_none());
        e.redirect = Some(Redirect::Extension("101".into()));
        let err = d.upsert(e.clone()).expect_err("to itself");
        assert_eq!(
            err.to_string(),
            "extension 101 cannot be redirected to itself"
        );
        e.redirect = Some(Redirect::Voicemail);
        assert!(d.upsert(e).is_ok());
    }
}
