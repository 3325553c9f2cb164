//! `switchboard dest …` and `switchboard route …`: manage the routing
//! destinations and prefix routes in the database (issue 4, TekSIP's
//! "Routing" chapter). A running server picks the changes up within about a
//! second (see `reload`), swapping the whole table at once.
//!
//! Every change is checked before it is committed: the storage layer builds the
//! whole new `RoutingConfig` (what the database holds plus the change) and runs
//! the core's `RoutingConfig::validate` on it inside the write transaction, so
//! the messages are the engine's own and a refused change (a route to a missing
//! or disabled destination, a prefix that is not digits, a password with `;`,
//! removing a destination enabled routes use) leaves the database untouched.
//! Destination passwords are stored encrypted (`<data_dir>/secret.key`) and are
//! never printed.

use crate::cli::{DestAdd, DestCmd, DestTransport, DestType, RouteCmd, YesNo, read_secret};
use switchboard_core::Transport;
use switchboard_core::routing::{Destination, DestinationKind, Prefix};
use switchboard_storage::{Db, Settings, StoredDestination, Upsert, kind_name, prefix_text};

fn open(settings: &Settings) -> Result<Db, String> {
    Db::open(&settings.database_path()).map_err(|e| e.to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The destination a `dest add` describes (the password read separately).
pub fn destination_of(a: &DestAdd, password: Option<String>) -> Destination {
    Destination {
        name: a.name.clone(),
        gateway: a.gateway.clone(),
        port: a.port,
        domain: a.domain.clone(),
        transport: match a.transport {
            DestTransport::Udp => Transport::Udp,
            DestTransport::Tcp => Transport::Tcp,
            DestTransport::Tls => Transport::Tls,
        },
        kind: match a.kind {
            DestType::Proxy => DestinationKind::Proxy,
            DestType::Ua => DestinationKind::UserAgent,
            DestType::Extension => DestinationKind::Extension,
        },
        username: a.username.clone(),
        auth_username: a.auth_username.clone(),
        password,
        register: a.register,
        register_expires: a.expires,
        options_ping: a.ping,
        capacity: a.capacity,
        remove_prefix: a.remove_prefix.clone(),
        add_prefix: a.add_prefix.clone(),
        media_encryption: a.media_encryption,
        translation_profile: a.translation.clone(),
        enabled: !a.disabled,
        tls_verify: a.tls.tls_verify != Some(YesNo::No),
        tls_client_cert: a.tls.tls_client_cert.clone(),
        tls_client_key: a.tls.tls_client_key.clone(),
    }
}

/// Runs one `dest` command; the error is printed by the caller.
pub fn run_dest(settings: &Settings, cmd: DestCmd) -> Result<(), String> {
    let mut db = open(settings)?;
    match cmd {
        DestCmd::Add(a) => {
            // Check the name before asking for a password.
            switchboard_core::routing::validate_destination_name(&a.name)
                .map_err(|e| e.to_string())?;
            let password = if a.password || a.password_stdin {
                let pw = read_secret(
                    a.password_stdin,
                    &format!("Password for destination {}: ", a.name),
                )?;
                if pw.is_empty() {
                    return Err("the password is empty".into());
                }
                Some(pw)
            } else {
                None
            };
            let has_password = password.is_some();
            let d = destination_of(&a, password);
            let what = match db.upsert_destination(&d).map_err(|e| e.to_string())? {
                Upsert::Created => "added",
                Upsert::Updated => "replaced",
            };
            println!("destination {} {what}", d.name);
            if has_password {
                println!(
                    "password stored encrypted (key: {}; back it up with the database)",
                    db.secret_key_path().display()
                );
            }
        }
        DestCmd::List => {
            let list = db.list_destinations().map_err(|e| e.to_string())?;
            println!(
                "{:<20} {:<28} {:<9} {:<9} {:<7} {:<8} {:<8} password",
                "name", "gateway", "transport", "type", "enabled", "register", "capacity"
            );
            for s in &list {
                let d = &s.destination;
                println!(
                    "{:<20} {:<28} {:<9} {:<9} {:<7} {:<8} {:<8} {}",
                    d.name,
                    gateway(d),
                    d.transport.param(),
                    kind_name(d.kind),
                    yes_no(d.enabled),
                    yes_no(d.register),
                    d.capacity.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    if s.password_set { "set" } else { "-" }
                );
            }
            println!("{} destinations", list.len());
        }
        DestCmd::Show { name } => {
            let s = db
                .get_destination(&name)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no destination {name:?}"))?;
            print!("{}", show(&s));
        }
        DestCmd::Edit(e) => {
            // The loaded configuration carries the decrypted password, so the
            // rewrite keeps it.
            let cfg = db.load_routing().map_err(|e| e.to_string())?;
            let mut d = cfg
                .destinations
                .into_iter()
                .find(|d| d.name == e.name)
                .ok_or_else(|| format!("no destination {:?}", e.name))?;
            if let Some(v) = e.tls.tls_verify {
                d.tls_verify = v == YesNo::Yes;
            }
            if e.tls.tls_client_cert.is_some() {
                d.tls_client_cert = e.tls.tls_client_cert;
                d.tls_client_key = e.tls.tls_client_key;
            }
            if e.no_tls_client_cert {
                d.tls_client_cert = None;
                d.tls_client_key = None;
            }
            db.upsert_destination(&d).map_err(|e| e.to_string())?;
            println!("destination {} updated", d.name);
            if d.transport == Transport::Tls && !d.tls_verify {
                println!(
                    "warning: the TLS peer of destination {} is not verified",
                    d.name
                );
            }
        }
        DestCmd::Remove { name } => {
            match db.remove_destination(&name).map_err(|e| e.to_string())? {
                None => return Err(format!("no destination {name:?}")),
                Some(gone) if gone.is_empty() => println!("destination {name} removed"),
                Some(gone) => {
                    let list: Vec<String> = gone
                        .iter()
                        .map(|r| prefix_text(&r.prefix).to_owned())
                        .collect();
                    println!(
                        "destination {name} removed, with its disabled routes {}",
                        list.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}

fn gateway(d: &Destination) -> String {
    match d.port {
        Some(p) if d.gateway.contains(':') => format!("[{}]:{p}", d.gateway),
        Some(p) => format!("{}:{p}", d.gateway),
        None => d.gateway.clone(),
    }
}

/// `dest show` text: one `key: value` a line; the password only as set/not set.
pub fn show(s: &StoredDestination) -> String {
    let d = &s.destination;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let or_dash = |v: &str| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.to_owned()
        }
    };
    let lines = [
        ("name", d.name.clone()),
        ("gateway", d.gateway.clone()),
        (
            "port",
            d.port
                .map_or_else(|| "default".to_owned(), |p| p.to_string()),
        ),
        ("domain", opt(&d.domain)),
        ("transport", d.transport.param().to_owned()),
        ("type", kind_name(d.kind).to_owned()),
        ("username", opt(&d.username)),
        ("auth username", opt(&d.auth_username)),
        (
            "password",
            if s.password_set {
                "set (stored encrypted)".to_owned()
            } else {
                "not set".to_owned()
            },
        ),
        ("register", yes_no(d.register).to_owned()),
        ("expires", format!("{} s", d.register_expires)),
        ("options ping", yes_no(d.options_ping).to_owned()),
        (
            "capacity",
            d.capacity
                .map_or_else(|| "unlimited".to_owned(), |c| c.to_string()),
        ),
        ("remove prefix", or_dash(&d.remove_prefix)),
        ("add prefix", or_dash(&d.add_prefix)),
        ("media encryption", yes_no(d.media_encryption).to_owned()),
        ("translation", opt(&d.translation_profile)),
        ("enabled", yes_no(d.enabled).to_owned()),
        ("tls verify", yes_no(d.tls_verify).to_owned()),
        ("tls client cert", opt(&d.tls_client_cert)),
        ("tls client key", opt(&d.tls_client_key)),
    ];
    lines
        .iter()
        .map(|(k, v)| format!("{k:<17} {v}\n"))
        .collect()
}

/// Runs one `route` command; the error is printed by the caller.
pub fn run_route(settings: &Settings, cmd: RouteCmd) -> Result<(), String> {
    let mut db = open(settings)?;
    match cmd {
        RouteCmd::Add {
            prefix,
            dest,
            order,
            disabled,
        } => {
            let (r, what) = db
                .add_route(&prefix, &dest, order, !disabled)
                .map_err(|e| e.to_string())?;
            let what = match what {
                Upsert::Created => "added",
                Upsert::Updated => "updated",
            };
            println!(
                "route {} -> {} {what} (order {}{})",
                prefix_text(&r.prefix),
                r.destination,
                r.order,
                if r.enabled { "" } else { ", disabled" }
            );
        }
        RouteCmd::List => {
            let routes = db.list_routes().map_err(|e| e.to_string())?;
            println!(
                "{:<12} {:<6} {:<20} enabled",
                "prefix", "order", "destination"
            );
            let mut last: Option<&Prefix> = None;
            for r in &routes {
                // The prefix once per group.
                let p = if last == Some(&r.prefix) {
                    ""
                } else {
                    prefix_text(&r.prefix)
                };
                last = Some(&r.prefix);
                println!(
                    "{:<12} {:<6} {:<20} {}",
                    p,
                    r.order,
                    r.destination,
                    yes_no(r.enabled)
                );
            }
            println!("{} routes", routes.len());
        }
        RouteCmd::Remove { prefix, dest } => {
            if !db.remove_route(&prefix, &dest).map_err(|e| e.to_string())? {
                return Err(no_route(&prefix, &dest));
            }
            println!("route {prefix} -> {dest} removed");
        }
        RouteCmd::Enable { prefix, dest } => set_enabled(&mut db, &prefix, &dest, true)?,
        RouteCmd::Disable { prefix, dest } => set_enabled(&mut db, &prefix, &dest, false)?,
        RouteCmd::Order {
            prefix,
            dest,
            order,
        } => {
            if !db
                .set_route_order(&prefix, &dest, order)
                .map_err(|e| e.to_string())?
            {
                return Err(no_route(&prefix, &dest));
            }
            println!("route {prefix} -> {dest} now has order {order}");
        }
    }
    Ok(())
}

fn no_route(prefix: &str, dest: &str) -> String {
    format!("no route {prefix} -> {dest:?}")
}

fn set_enabled(db: &mut Db, prefix: &str, dest: &str, enabled: bool) -> Result<(), String> {
    if !db
        .set_route_enabled(prefix, dest, enabled)
        .map_err(|e| e.to_string())?
    {
        return Err(no_route(prefix, dest));
    }
    println!(
        "route {prefix} -> {dest} {}",
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}
