//! # switchboard: the SIP registrar and proxy server (library half of the binary)
//!
//! The tokio runtime around `switchboard-core` (ARCHITECTURE.md §6): sockets,
//! timers, the storage worker, signals and the command line. One task owns the
//! engine; socket tasks and the storage worker reach it through bounded
//! channels. No protocol logic lives here.
//!
//! ```text
//! switchboard [--config FILE]            run the server (default)
//! switchboard check-config               validate settings and database, print them
//! switchboard ext add|import|list|remove|passwd  manage extensions
//! switchboard dest add|list|show|remove  manage routing destinations
//! switchboard route add|list|remove|enable|disable|order  manage prefix routes
//! ```

#![forbid(unsafe_code)]

pub mod autoconf;
pub mod certs;
pub mod cli;
pub mod dns;
pub mod engine_loop;
pub mod events;
pub mod extcmd;
pub mod logging;
pub mod net;
pub mod reload;
pub mod routecmd;
pub mod server;
pub mod storage_worker;
pub mod stream;
pub mod tls;
pub mod tlsdest;
pub mod udp;
pub mod ws;
pub mod ws_handshake;

use clap::Parser;
use cli::{Cli, Cmd};
use std::process::ExitCode;
use switchboard_storage::Settings;
use switchboard_storage::settings::{LoggingLevel, Rotation};

/// The whole program: parses the command line and runs what it asks for.
pub fn main_with_args() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load_or_default(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Run => run(settings),
        Cmd::CheckConfig => check_config(&settings),
        Cmd::Ext(cmd) => cli_result(|| extcmd::run(&settings, cmd)),
        Cmd::Dest(cmd) => cli_result(|| routecmd::run_dest(&settings, cmd)),
        Cmd::Route(cmd) => cli_result(|| routecmd::run_route(&settings, cmd)),
    }
}

/// Runs a management command: exit status 0, or 1 with the message on stderr.
fn cli_result(f: impl FnOnce() -> Result<(), String>) -> ExitCode {
    init_cli_logging();
    match f() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_cli_logging() {
    let _ = logging::init(&logging::LogSetup {
        level: "errors".into(),
        directory: None,
        rotation: "daily".into(),
        auto_clear_days: 0,
    });
}

fn run(settings: Settings) -> ExitCode {
    let log = &settings.logging;
    let level = match log.level {
        LoggingLevel::None => "none",
        LoggingLevel::Errors => "errors",
        LoggingLevel::Sessions => "sessions",
        LoggingLevel::Developer => "developer",
    };
    let setup = logging::LogSetup {
        level: level.to_owned(),
        directory: (level != "none").then(|| log.directory.clone()),
        rotation: if log.rotation == Rotation::Hourly {
            "hourly"
        } else {
            "daily"
        }
        .to_owned(),
        auto_clear_days: log.auto_clear_days,
    };
    let _guard = match logging::init(&setup) {
        Ok(g) => g,
        Err(e) => {
            eprintln!(
                "switchboard: cannot open the log directory {}: {e}",
                log.directory.display()
            );
            return ExitCode::from(1);
        }
    };
    if let Some(dir) = &setup.directory {
        let n = logging::auto_clear(dir, setup.auto_clear_days, std::time::SystemTime::now());
        if n > 0 {
            tracing::info!(
                "removed {n} log files older than {} days",
                setup.auto_clear_days
            );
        }
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(server::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("switchboard: {e}");
            ExitCode::from(1)
        }
    }
}

fn check_config(settings: &Settings) -> ExitCode {
    init_cli_logging();
    let domain = server::sip_domain(settings);
    let path = settings.database_path();
    match switchboard_storage::Db::open(&path) {
        Ok(db) => {
            let n = db.extension_count().unwrap_or(0);
            println!("settings: OK");
            println!("sip domain: {domain}");
            println!(
                "database: {} (schema {}, {n} extensions)",
                path.display(),
                db.schema_version().unwrap_or(0)
            );
            let routing = server::routing_config(&db, &settings.routing)
                .and_then(|cfg| cfg.validate().map(|()| cfg).map_err(|e| e.to_string()));
            match routing {
                Ok(cfg) => println!("{}", server::routing_summary(&cfg)),
                Err(e) => {
                    eprintln!(
                        "switchboard: invalid routing in database {}: {e}",
                        path.display()
                    );
                    return ExitCode::from(1);
                }
            }
            println!("\n{}", settings.to_toml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(1)
        }
    }
}
