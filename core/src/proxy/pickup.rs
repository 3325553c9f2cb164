//! Call pickup (issue 4, TekSIP's "call pickup"): dialing the pickup prefix
//! and an extension (`*8101`) takes over a call that is ringing that extension.
//!
//! A proxy has no media and no dialog of its own, so it cannot answer the
//! picker and bridge the two (that is a B2BUA's job). What it can do within
//! RFC 3261 is retarget the ringing call:
//! 1. the pickup INVITE is answered at once with a final non-2xx response,
//!    `480 Call Picked Up` (§21.4.18; the reason phrase is free text, §7.2),
//!    so the picker's phone is free for the call that follows;
//! 2. the branches ringing the extension are CANCELled (§16.10, as Timer C
//!    or a 2xx elsewhere would);
//! 3. once their 487s are in, the *original* caller's INVITE — the same server
//!    transaction, still without a final response — is forked to the picker's
//!    contacts (§16.7 step 5 allows new branches until a final response has
//!    been sent; §16.5 lets the proxy choose the target set).
//!
//! The caller keeps its one INVITE transaction and ends up in a dialog with
//! the picker's phone, which rings and is answered like any call; nothing is
//! forged on anyone's behalf. Without a ringing call to that extension the
//! pickup gets `404 Not Found`. Only our own extensions may pick up (an
//! authenticated one when call authentication is on), never a call they
//! placed themselves or one ringing their own phone.

use super::extfeat::{from_user, ringing_extension};
use super::{Ctx, Proxy};
use crate::event::{Event, LogLevel};
use crate::registrar::Redirect;
use crate::sip::Message;
use crate::transaction::TxId;

/// Is `p` a usable pickup prefix: empty (off) or 1–8 of `0-9 * #`?
pub fn valid_prefix(p: &str) -> bool {
    p.len() <= 8
        && p.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

/// The extension a dialed user names with pickup prefix `prefix`, if any.
pub fn picked_extension<'a>(prefix: &str, dialed: &'a str) -> Option<&'a str> {
    if prefix.is_empty() {
        return None;
    }
    dialed.strip_prefix(prefix).filter(|e| !e.is_empty())
}

impl Proxy {
    /// Is `user` (an initial INVITE's Request-URI user) a pickup code?
    pub(crate) fn is_pickup(&self, user: &str) -> bool {
        picked_extension(&self.ext.pickup_prefix, user).is_some()
    }

    /// Handles a pickup INVITE on server transaction `tx`.
    pub(crate) fn pickup(&mut self, ctx: &mut Ctx<'_>, tx: TxId, msg: &Message, trusted: bool) {
        let dialed = crate::sip::Uri::parse(msg.request_uri().unwrap_or(""))
            .ok()
            .and_then(|u| {
                u.as_sip()
                    .and_then(|s| s.user_unescaped().map(|c| c.into_owned()))
            })
            .unwrap_or_default();
        let Some(ext) = picked_extension(&self.ext.pickup_prefix, &dialed).map(str::to_owned)
        else {
            return self.reply(ctx, tx, 404, "Not Found", &[]);
        };
        let picker = from_user(msg).filter(|u| ctx.registrar.directory.active(u).is_some());
        let Some(picker) = picker.filter(|_| trusted) else {
            return self.reply(
                ctx,
                tx,
                403,
                "Forbidden: only extensions may pick up calls",
                &[],
            );
        };
        let call_id = msg.call_id();
        let found = self.contexts.iter().find_map(|(server, c)| {
            let callee = ringing_extension(c)?;
            if callee != ext || callee == picker {
                return None;
            }
            let caller = ctx.layer.server_request(*server).and_then(from_user);
            (caller.as_deref() != Some(picker.as_str())
                && ctx.layer.server_request(*server).map(|m| m.call_id()) != Some(call_id))
            .then_some(*server)
        });
        let Some(server) = found else {
            return self.reply(
                ctx,
                tx,
                404,
                "Not Found: no call is ringing that extension",
                &[],
            );
        };
        self.reply(ctx, tx, 480, "Call Picked Up", &[]);
        let Some(c) = self.contexts.get_mut(&server) else {
            return;
        };
        if let Some(x) = c.ext.as_mut() {
            x.move_on(Redirect::Extension(picker.clone()), "picked up");
        }
        let open: Vec<TxId> = c
            .branches
            .iter()
            .filter(|b| !b.done)
            .map(|b| b.client)
            .collect();
        self.events.push_back(Event::Log {
            level: LogLevel::Session,
            message: format!("call to {ext} picked up by {picker}"),
        });
        for o in open {
            self.cancel_branch(ctx, server, o);
        }
        self.maybe_finish(ctx, server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_codes() {
        assert!(valid_prefix("") && valid_prefix("*8") && valid_prefix("#12"));
        assert!(!valid_prefix("*8a") && !valid_prefix("123456789") && !valid_prefix("*;8"));
        assert_eq!(picked_extension("*8", "*8101"), Some("101"));
        assert_eq!(picked_extension("*8", "*8"), None);
        assert_eq!(picked_extension("*8", "8101"), None);
        assert_eq!(picked_extension("", "101"), None);
    }
}
