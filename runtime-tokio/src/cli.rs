//! The command line (clap): run the server (the default), manage extensions,
//! destinations and routes, check the configuration.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Switchboard: a SIP registrar and proxy server.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// Settings file (TOML). Without it, every setting has its default.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do (default: run the server).
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the server (the default).
    Run,
    /// Validate the settings file and the database, print the effective settings, and exit.
    CheckConfig,
    /// Manage extensions (SIP users) in the database.
    #[command(subcommand)]
    Ext(ExtCmd),
    /// Manage routing destinations (carriers, PBXs, proxies) in the database.
    #[command(subcommand)]
    Dest(DestCmd),
    /// Manage prefix routes (dialed number -> destination) in the database.
    #[command(subcommand)]
    Route(RouteCmd),
}

/// `switchboard ext …`
#[derive(Debug, Subcommand)]
pub enum ExtCmd {
    /// Add an extension (or replace one with the same username).
    Add(ExtAdd),
    /// Add (or replace) many extensions from a CSV file in one transaction:
    /// one `username,password[,display name]` a line; blank lines, `#` comments
    /// and a `username,password…` header line are skipped. Any bad line stops
    /// the import (naming the line) and nothing is written.
    Import(ExtImport),
    /// List extensions.
    List,
    /// Remove an extension.
    Remove {
        /// The username.
        username: String,
    },
    /// Set a new password.
    Passwd {
        /// The username.
        username: String,
        /// Read the password from standard input (one line) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `switchboard ext add`
#[derive(Debug, Args)]
pub struct ExtAdd {
    /// The username: the SIP user part (digits, letters, `-._`).
    pub username: String,
    /// Display name.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Read the password from standard input (one line) instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// Create it disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Do not allow calls that leave through a route.
    #[arg(long, conflicts_with = "allow_external")]
    pub no_external: bool,
    /// Allow calls that leave through a route (the default).
    #[arg(long)]
    pub allow_external: bool,
    /// Redirect calls when offline, busy or unanswered: another extension or `voicemail`.
    #[arg(long, value_name = "EXT|voicemail")]
    pub redirect: Option<String>,
    /// The only destination its external calls may use (`None`: any).
    #[arg(long, value_name = "NAME")]
    pub external_route: Option<String>,
}

/// `switchboard ext import`
#[derive(Debug, Args)]
pub struct ExtImport {
    /// The CSV file; `-` reads standard input.
    pub file: PathBuf,
    /// Create them disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Do not allow calls that leave through a route.
    #[arg(long)]
    pub no_external: bool,
}

/// `switchboard dest …`
#[derive(Debug, Subcommand)]
pub enum DestCmd {
    /// Add a destination (or replace the one with the same name, every field).
    Add(Box<DestAdd>),
    /// List destinations.
    List,
    /// Show one destination (never its password, only whether one is set).
    Show {
        /// The destination's name.
        name: String,
    },
    /// Change a destination's TLS options, keeping every other field.
    Edit(DestEdit),
    /// Remove a destination (refused while enabled routes use it; its
    /// disabled routes are removed with it).
    Remove {
        /// The destination's name.
        name: String,
    },
}

/// Transport toward a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DestTransport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2; the peer verified unless `--tls-verify no`).
    Tls,
}

/// A yes/no option value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum YesNo {
    /// Yes.
    Yes,
    /// No.
    No,
}

/// The TLS options of `dest add` and `dest edit` (transport TLS only).
#[derive(Debug, Clone, Args)]
pub struct DestTlsArgs {
    /// Verify the gateway's certificate (against tls.ca_file or the system
    /// roots); `no` only for labs.
    #[arg(long, value_enum, value_name = "yes|no")]
    pub tls_verify: Option<YesNo>,
    /// PEM client certificate (chain) presented to the gateway (mutual TLS).
    #[arg(long, value_name = "PATH", requires = "tls_client_key")]
    pub tls_client_cert: Option<String>,
    /// PEM private key of --tls-client-cert.
    #[arg(long, value_name = "PATH", requires = "tls_client_cert")]
    pub tls_client_key: Option<String>,
}

/// `switchboard dest edit`
#[derive(Debug, Args)]
pub struct DestEdit {
    /// The destination's name.
    pub name: String,
    /// The TLS options to set.
    #[command(flatten)]
    pub tls: DestTlsArgs,
    /// Stop presenting a client certificate.
    #[arg(long, conflicts_with_all = ["tls_client_cert", "tls_client_key"])]
    pub no_tls_client_cert: bool,
}

/// How calls are handed to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DestType {
    /// Forward as a proxy.
    Proxy,
    /// Forward as a user agent (B2BUA: the caller's topology hidden).
    Ua,
    /// Deliver to a registered extension (the gateway names it).
    Extension,
}

/// `switchboard dest add`
#[derive(Debug, Args)]
pub struct DestAdd {
    /// Unique name (letters, digits, `-._`), used by routes.
    pub name: String,
    /// IP address or host name of the next hop (for `--type extension`: the extension).
    #[arg(long)]
    pub gateway: String,
    /// Port (default: the transport's, or SRV for a host name).
    #[arg(long)]
    pub port: Option<u16>,
    /// Domain for the Request-URI and To when it differs from the gateway.
    #[arg(long)]
    pub domain: Option<String>,
    /// Transport toward the gateway.
    #[arg(long, value_enum, default_value_t = DestTransport::Udp)]
    pub transport: DestTransport,
    /// How calls are handed over.
    #[arg(long = "type", value_enum, default_value_t = DestType::Proxy)]
    pub kind: DestType,
    /// Account user toward the destination (From, Contact, REGISTER).
    #[arg(long)]
    pub username: Option<String>,
    /// Digest username when it differs from --username.
    #[arg(long)]
    pub auth_username: Option<String>,
    /// Prompt for the digest password (stored encrypted).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: bool,
    /// Read the digest password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    /// Register to the destination as a user agent.
    #[arg(long)]
    pub register: bool,
    /// Registration timeout in seconds (also the OPTIONS ping period).
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub expires: u32,
    /// Send OPTIONS pings and skip the destination while it does not answer.
    #[arg(long)]
    pub ping: bool,
    /// Most concurrent calls (default: unlimited).
    #[arg(long)]
    pub capacity: Option<u32>,
    /// Digits removed from the front of the dialed number.
    #[arg(long, default_value = "", value_name = "DIGITS")]
    pub remove_prefix: String,
    /// Digits put in front of the dialed number.
    #[arg(long, default_value = "", value_name = "DIGITS")]
    pub add_prefix: String,
    /// SRTP toward the destination (stored for the media feature).
    #[arg(long)]
    pub media_encryption: bool,
    /// Translation profile name (stored for the translation feature).
    #[arg(long, value_name = "NAME")]
    pub translation: Option<String>,
    /// Create it disabled.
    #[arg(long)]
    pub disabled: bool,
    /// TLS options.
    #[command(flatten)]
    pub tls: DestTlsArgs,
}

/// `switchboard route …`
#[derive(Debug, Subcommand)]
pub enum RouteCmd {
    /// Add a route PREFIX -> DEST (or update that pair's order and state).
    Add {
        /// Digits (optionally after `+`) or `Default` (the catch-all).
        prefix: String,
        /// The destination's name.
        dest: String,
        /// Position among the routes with this prefix, lower first
        /// (default: after the others).
        #[arg(long)]
        order: Option<u32>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List routes, by prefix then order.
    List,
    /// Remove a route.
    Remove {
        /// The prefix.
        prefix: String,
        /// The destination's name.
        dest: String,
    },
    /// Enable a route.
    Enable {
        /// The prefix.
        prefix: String,
        /// The destination's name.
        dest: String,
    },
    /// Disable a route.
    Disable {
        /// The prefix.
        prefix: String,
        /// The destination's name.
        dest: String,
    },
    /// Move a route to another position among those with its prefix.
    Order {
        /// The prefix.
        prefix: String,
        /// The destination's name.
        dest: String,
        /// The new position (lower first).
        order: u32,
    },
}

/// Reads a secret without echoing it: from a prompt (asked twice) on a
/// terminal, or one line from standard input. Not checked.
pub fn read_secret(from_stdin: bool, prompt: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        let a = rpassword::prompt_password(prompt).map_err(|e| e.to_string())?;
        let b = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if a != b {
            return Err("the passwords do not match".into());
        }
        Ok(a)
    }
}

/// Reads an extension's password ([`read_secret`]) and checks it
/// ([`check_password`]).
pub fn read_password(from_stdin: bool, username: &str) -> Result<String, String> {
    let pw = read_secret(from_stdin, &format!("Password for {username}: "))?;
    check_password(&pw)?;
    Ok(pw)
}

/// The rules every password follows, however it was given: not empty, no `;`.
pub fn check_password(pw: &str) -> Result<(), String> {
    if pw.is_empty() {
        return Err("the password is empty".into());
    }
    if pw.contains(';') {
        return Err("the password may not contain ';'".into());
    }
    Ok(())
}
