//! The command line (clap): run the server (the default), manage extensions,
//! check the configuration.

use clap::{Args, Parser, Subcommand};
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
    #[arg(long)]
    pub no_external: bool,
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

/// Reads a password without echoing it: from a prompt (asked twice) on a
/// terminal, or one line from standard input.
pub fn read_password(from_stdin: bool, username: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    let pw = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let a = rpassword::prompt_password(format!("Password for {username}: "))
            .map_err(|e| e.to_string())?;
        let b = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if a != b {
            return Err("the passwords do not match".into());
        }
        a
    };
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
