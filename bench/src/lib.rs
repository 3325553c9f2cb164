//! A small, dependency-free benchmark harness for Switchboard's in-process benchmarks.
//!
//! Each benchmark runs a closure in batches, measures each batch with the
//! monotonic clock, and reports the median, 10th and 90th percentile time per
//! iteration. Batches are sized so each takes about a millisecond, which keeps
//! clock overhead negligible. Results print as one Markdown table row each, so
//! `cargo bench -p switchboard-bench` output pastes straight into BENCHMARKS.md.
//!
//! Run pinned to one core for stable numbers: `taskset -c 1 cargo bench -p switchboard-bench`.

pub mod messages;
pub mod sim;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Timing summary of one benchmark.
#[derive(Debug, Clone)]
pub struct Report {
    /// Benchmark name.
    pub name: String,
    /// Median time per iteration, in nanoseconds.
    pub median_ns: f64,
    /// 10th percentile, in nanoseconds.
    pub p10_ns: f64,
    /// 90th percentile, in nanoseconds.
    pub p90_ns: f64,
    /// Iterations measured in total.
    pub iterations: u64,
}

impl Report {
    /// Iterations per second at the median.
    pub fn per_second(&self) -> f64 {
        1e9 / self.median_ns
    }

    /// One Markdown table row: name, median, p10, p90, rate.
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {:.0}/s |",
            self.name,
            fmt_ns(self.median_ns),
            fmt_ns(self.p10_ns),
            fmt_ns(self.p90_ns),
            self.per_second()
        )
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Prints the table header for [`Report::row`] lines.
pub fn header(title: &str) {
    println!("\n### {title}\n");
    println!("| benchmark | median | p10 | p90 | rate (median) |");
    println!("| --- | --- | --- | --- | --- |");
}

/// Measures `f` (one iteration per call) for about `budget` of wall time.
pub fn bench<R>(name: &str, budget: Duration, mut f: impl FnMut() -> R) -> Report {
    // Warm up and size a batch to roughly 1 ms.
    let mut batch: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        if t.elapsed() >= Duration::from_micros(500) || batch >= 1 << 24 {
            break;
        }
        batch *= 2;
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || samples.len() < 11 {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
        if samples.len() >= 100_000 {
            break;
        }
    }
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let r = Report {
        name: name.to_owned(),
        median_ns: pick(0.5),
        p10_ns: pick(0.1),
        p90_ns: pick(0.9),
        iterations: batch * samples.len() as u64,
    };
    println!("{}", r.row());
    r
}

/// The measuring budget: `default`, or `SB_BENCH_SECS` seconds when that
/// environment variable is set (e.g. `SB_BENCH_SECS=0.2` for a quick run under
/// a profiler).
pub fn budget(default: Duration) -> Duration {
    std::env::var("SB_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(default, Duration::from_secs_f64)
}

/// Resident set size of this process in bytes (Linux `/proc/self/statm`), if readable.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Prints the two "same run" rows shared by the engine benchmarks (mean wall
/// time per iteration, and the engine's share clocked around its calls) and
/// returns both means in nanoseconds.
pub fn engine_share(wall: Duration, engine: Duration, iterations: u64) -> (f64, f64) {
    let n = iterations.max(1) as f64;
    let mean_ns = wall.as_nanos() as f64 / n;
    let engine_ns = engine.as_nanos() as f64 / n;
    println!(
        "| same run, mean (wall / iterations) | {:.2} µs | | | {:.0}/s |",
        mean_ns / 1e3,
        1e9 / mean_ns
    );
    println!(
        "| engine only, mean (clock around handle_input + drain) | {:.2} µs | | | {:.0}/s |",
        engine_ns / 1e3,
        1e9 / engine_ns
    );
    (mean_ns, engine_ns)
}
