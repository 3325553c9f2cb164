//! `switchboard ext …`: manage extensions in the database. A running server
//! picks the changes up within a second (see `reload`).

use crate::cli::{ExtCmd, read_password};
use crate::server::{ha1, sip_domain};
use switchboard_storage::{Db, Extension, Settings, Upsert};

/// Runs one extension command; the error is printed by the caller.
pub fn run(settings: &Settings, cmd: ExtCmd) -> Result<(), String> {
    let path = settings.database_path();
    let mut db = Db::open(&path).map_err(|e| e.to_string())?;
    let realm = sip_domain(settings);
    match cmd {
        ExtCmd::Add(a) => {
            switchboard_storage::validate_username(&a.username).map_err(|e| e.to_string())?;
            let pw = read_password(a.password_stdin, &a.username)?;
            let h = ha1(&a.username, &realm, &pw);
            let mut e = Extension::new(a.username.clone(), realm.clone(), h.md5, h.sha256);
            e.display_name = a.display_name.unwrap_or_default();
            e.enabled = !a.disabled;
            e.allow_external = !a.no_external;
            let what = match db.upsert_extension(&e).map_err(|e| e.to_string())? {
                Upsert::Created => "added",
                _ => "updated",
            };
            println!("extension {} {what} (realm {realm})", a.username);
        }
        ExtCmd::List => {
            let list = db.list_extensions().map_err(|e| e.to_string())?;
            println!(
                "{:<20} {:<24} {:<8} {:<8} realm",
                "username", "display name", "enabled", "external"
            );
            for e in &list {
                println!(
                    "{:<20} {:<24} {:<8} {:<8} {}",
                    e.username,
                    e.display_name,
                    if e.enabled { "yes" } else { "no" },
                    if e.allow_external { "yes" } else { "no" },
                    e.realm
                );
            }
            println!("{} extensions", list.len());
        }
        ExtCmd::Remove { username } => {
            if db.remove_extension(&username).map_err(|e| e.to_string())? {
                println!("extension {username} removed");
            } else {
                return Err(format!("no extension {username:?}"));
            }
        }
        ExtCmd::Passwd {
            username,
            password_stdin,
        } => {
            let mut e = db
                .get_extension(&username)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no extension {username:?}"))?;
            let pw = read_password(password_stdin, &username)?;
            let h = ha1(&username, &realm, &pw);
            e.realm = realm.clone();
            e.ha1_md5 = h.md5;
            e.ha1_sha256 = h.sha256;
            db.upsert_extension(&e).map_err(|e| e.to_string())?;
            println!("password of {username} changed (realm {realm})");
        }
    }
    Ok(())
}
