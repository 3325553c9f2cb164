//! `switchboard ext …`: manage extensions in the database. A running server
//! picks the changes up within a second (see `reload`).
//!
//! `ext import FILE` provisions many extensions at once from CSV
//! (`username,password[,display name]`, one a line): every line is checked
//! first, then all are written in one transaction, so a bad line (named by its
//! number) leaves the database untouched. Passwords are turned into HA1 values
//! (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2) and never stored.

use crate::cli::{ExtCmd, check_password, read_password};
use crate::server::{ha1, sip_domain};
use std::collections::BTreeMap;
use switchboard_storage::{Db, Extension, Settings, Upsert};

/// Checks a redirect target: `voicemail` or another valid extension name.
fn check_redirect(user: &str, target: &str) -> Result<String, String> {
    match switchboard_core::registrar::Redirect::parse(target) {
        Ok(switchboard_core::registrar::Redirect::Voicemail) => Ok("voicemail".to_owned()),
        Ok(switchboard_core::registrar::Redirect::Extension(t)) if t == user => Err(format!(
            "extension {user}: you cannot redirect an endpoint to itself"
        )),
        Ok(switchboard_core::registrar::Redirect::Extension(t)) => Ok(t),
        Err(e) => Err(format!("redirect target: {e}")),
    }
}

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
            e.redirect_target = match a.redirect.as_deref() {
                None | Some("") => None,
                Some(r) => Some(check_redirect(&a.username, r)?),
            };
            e.external_route = match a.external_route.as_deref() {
                None | Some("") => None,
                Some(r) if r.eq_ignore_ascii_case("none") => None,
                Some(r) => {
                    let known = db.list_destinations().map_err(|e| e.to_string())?;
                    if !known.iter().any(|d| d.destination.name == r) {
                        return Err(format!(
                            "external route {r:?}: no such destination (see `switchboard dest list`)"
                        ));
                    }
                    Some(r.to_owned())
                }
            };
            let what = match db.upsert_extension(&e).map_err(|e| e.to_string())? {
                Upsert::Created => "added",
                _ => "updated",
            };
            println!("extension {} {what} (realm {realm})", a.username);
        }
        ExtCmd::Import(i) => {
            let text = read_import_file(&i.file)?;
            let rows = parse_import(&text)?;
            let exts: Vec<Extension> = rows
                .into_iter()
                .map(|r| {
                    let h = ha1(&r.username, &realm, &r.password);
                    let mut e = Extension::new(r.username, realm.clone(), h.md5, h.sha256);
                    e.display_name = r.display_name;
                    e.enabled = !i.disabled;
                    e.allow_external = !i.no_external;
                    e
                })
                .collect();
            let (created, updated) = db.upsert_extensions(&exts).map_err(|e| e.to_string())?;
            println!(
                "{} extensions imported: {created} added, {updated} updated (realm {realm})",
                exts.len()
            );
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

/// One line of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The SIP user part.
    pub username: String,
    /// The password (hashed before it is stored).
    pub password: String,
    /// The display name; empty when the line has none.
    pub display_name: String,
}

/// Reads an import file (`-`: standard input) as UTF-8.
fn read_import_file(path: &std::path::Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("cannot read the extensions from stdin: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Parses CSV import text: `username,password[,display name]` a line.
///
/// Fields are trimmed of surrounding blanks; the display name is everything
/// after the second comma (so it may hold commas). Blank lines and lines
/// starting with `#` are skipped, and so is a first line that is a header
/// (`username,password…`). The first bad line stops the parse: the error
/// names its number and why. A username given twice is an error too, since
/// one of the two passwords would be silently lost.
pub fn parse_import(text: &str) -> Result<Vec<ImportRow>, String> {
    let mut rows = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let was_first = std::mem::replace(&mut first, false);
        let mut fields = line.splitn(3, ',');
        let username = fields.next().unwrap_or_default().trim();
        let Some(password) = fields.next().map(str::trim) else {
            return Err(format!(
                "line {n}: expected `username,password[,display name]`"
            ));
        };
        if was_first
            && username.eq_ignore_ascii_case("username")
            && password.eq_ignore_ascii_case("password")
        {
            continue;
        }
        let display_name = fields.next().unwrap_or_default().trim();
        switchboard_storage::validate_username(username).map_err(|e| format!("line {n}: {e}"))?;
        check_password(password).map_err(|e| format!("line {n}: {e}"))?;
        if let Some(prev) = seen.insert(username, n) {
            return Err(format!(
                "line {n}: extension {username:?} is already on line {prev}"
            ));
        }
        rows.push(ImportRow {
            username: username.to_owned(),
            password: password.to_owned(),
            display_name: display_name.to_owned(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(u: &str, p: &str, d: &str) -> ImportRow {
        ImportRow {
            username: u.into(),
            password: p.into(),
            display_name: d.into(),
        }
    }

    #[test]
    fn parses_lines_header_comments_and_display_names() {
        let text = "Username,Password,Display name\r\n\
                    # staff\n\
                    \n\
                    101,secret\n\
                    \t102 , s3cr3t pass , Bob, Jr. \r\n\
                    alice.b,pw,\n";
        assert_eq!(
            parse_import(text).expect("valid"),
            [
                row("101", "secret", ""),
                row("102", "s3cr3t pass", "Bob, Jr."),
                row("alice.b", "pw", ""),
            ]
        );
        assert_eq!(parse_import("").expect("empty"), []);
        assert_eq!(parse_import("# only\n\n").expect("comments"), []);
    }

    #[test]
    fn a_header_is_only_skipped_on_the_first_line() {
        let e = parse_import("101,a\nusername,password\n").expect("a user called username");
        assert_eq!(e[1], row("username", "password", ""));
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, want) in [
            ("101\n", "line 1: expected"),
            ("101,a\n102\n", "line 2: expected"),
            ("101,\n", "line 1: the password is empty"),
            ("101,a;b\n", "line 1: the password may not contain ';'"),
            ("10;1,a\n", "line 1: "),
            (",a\n", "line 1: "),
            ("al ice,a\n", "line 1: "),
            (
                "101,a\n\n101,b\n",
                "line 3: extension \"101\" is already on line 1",
            ),
        ] {
            let e = parse_import(text).expect_err(text);
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn import_writes_all_or_nothing_with_ha1_for_the_realm() {
        let dir = std::env::temp_dir().join(format!("sb-extimport-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut settings = Settings::default();
        settings.service.sip_domain = "example.test".into();
        settings.storage.data_dir = dir.join("data");
        let import = |name: &str, text: &str| {
            let file = dir.join(name);
            std::fs::write(&file, text).expect("write csv");
            run(
                &settings,
                ExtCmd::Import(crate::cli::ExtImport {
                    file,
                    disabled: false,
                    no_external: true,
                }),
            )
        };
        let good: String = (2000..3000)
            .map(|n| format!("{n},pw{n},User {n}\n"))
            .collect();
        import("good.csv", &good).expect("import");
        let db = Db::open(&settings.database_path()).expect("open");
        assert_eq!(db.extension_count().expect("count"), 1000);
        let e = db.get_extension("2999").expect("get").expect("present");
        let h = ha1("2999", "example.test", "pw2999");
        assert_eq!(
            (e.ha1_md5.as_str(), e.ha1_sha256.as_str()),
            (&*h.md5, &*h.sha256)
        );
        assert_eq!(e.display_name, "User 2999");
        assert_eq!(e.realm, "example.test");
        assert!(e.enabled && !e.allow_external);

        // A bad last line: nothing of that file is written.
        let err = import("bad.csv", "3000,a\n2000,new\n3001,\n").expect_err("bad line");
        assert!(err.starts_with("line 3:"), "{err}");
        assert_eq!(db.extension_count().expect("count"), 1000);
        assert!(db.get_extension("3000").expect("get").is_none());
        let missing = run(
            &settings,
            ExtCmd::Import(crate::cli::ExtImport {
                file: dir.join("none.csv"),
                disabled: false,
                no_external: false,
            }),
        )
        .expect_err("no such file");
        assert!(missing.contains("none.csv"), "{missing}");
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_thousand_lines() {
        let text: String = (1000..2000).map(|n| format!("{n},pw{n}\n")).collect();
        let rows = parse_import(&text).expect("valid");
        assert_eq!(rows.len(), 1000);
        assert_eq!(rows[999], row("1999", "pw1999", ""));
    }
}
