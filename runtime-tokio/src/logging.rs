//! Logging: tracing to stderr and to files in the log directory, rotated daily
//! or hourly, with files older than the auto-clear period removed — TekSIP's
//! levels (None, Errors, Sessions, Developer) mapped onto tracing levels.
//!
//! | TekSIP level | tracing filter | what it shows |
//! | --- | --- | --- |
//! | none | `off` | nothing |
//! | errors | `warn` | errors and warnings (bad settings, failed writes, refused connections) |
//! | sessions | `info` | plus registrations and calls: who called whom and how it ended |
//! | developer | `debug` | plus drops, transport details and every event |

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// How logging is set up.
#[derive(Debug, Clone)]
pub struct LogSetup {
    /// `none`, `errors`, `sessions` or `developer`.
    pub level: String,
    /// Directory for log files; `None` logs to stderr only.
    pub directory: Option<PathBuf>,
    /// `daily` or `hourly`.
    pub rotation: String,
    /// Remove files older than this many days (0 keeps everything).
    pub auto_clear_days: u32,
}

/// The tracing filter for a TekSIP level name.
pub fn filter_for(level: &str) -> &'static str {
    match level {
        "none" => "off",
        "errors" => "warn",
        "developer" => "debug",
        _ => "info",
    }
}

/// Installs the global subscriber. Keep the guard alive for the life of the
/// process: dropping it flushes the file writer.
pub fn init(setup: &LogSetup) -> std::io::Result<Option<WorkerGuard>> {
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new(filter_for(&setup.level)));
    let Some(dir) = &setup.directory else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init();
        return Ok(None);
    };
    std::fs::create_dir_all(dir)?;
    let rotation = if setup.rotation == "hourly" {
        Rotation::HOURLY
    } else {
        Rotation::DAILY
    };
    let appender = RollingFileAppender::builder()
        .rotation(rotation)
        .filename_prefix("switchboard")
        .filename_suffix("log")
        .build(dir)
        .map_err(std::io::Error::other)?;
    let (file, guard) = tracing_appender::non_blocking(appender);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr.and(file))
        .with_target(false)
        .with_ansi(false)
        .try_init();
    Ok(Some(guard))
}

/// Deletes `switchboard*.log*` files in `dir` last modified more than `days` days
/// before `now`; returns how many were removed.
pub fn auto_clear(dir: &Path, days: u32, now: SystemTime) -> usize {
    if days == 0 {
        return 0;
    }
    let limit = Duration::from_secs(u64::from(days) * 86_400);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("switchboard") || !name.contains(".log") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > limit));
        if old && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_filters() {
        assert_eq!(filter_for("none"), "off");
        assert_eq!(filter_for("errors"), "warn");
        assert_eq!(filter_for("sessions"), "info");
        assert_eq!(filter_for("developer"), "debug");
    }

    #[test]
    fn auto_clear_removes_only_old_log_files() {
        let dir = std::env::temp_dir().join(format!("sb-logclear-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for f in ["switchboard.2026-01-01.log", "other.log"] {
            std::fs::write(dir.join(f), b"x").expect("write");
        }
        // Files were just written: "now" 40 days ahead makes them 40 days old.
        let later = SystemTime::now() + Duration::from_secs(40 * 86_400);
        assert_eq!(
            auto_clear(&dir, 30, SystemTime::now()),
            0,
            "fresh files stay"
        );
        assert_eq!(auto_clear(&dir, 30, later), 1, "only our old log goes");
        assert!(dir.join("other.log").exists());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
