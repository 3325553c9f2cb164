//! Seed sweeps: the same flow under many seeds with impairments, judged by an
//! invariant instead of a golden transcript (ARCHITECTURE.md §7).
//!
//! Loss makes each seed's run different, so no single transcript can be
//! golden; instead a closure checks what must always hold ("every request
//! that reached the server was answered", "the INVITE completes or gets 408
//! by Timer B", RFC 3261 §17.1.1.2). Each seed still runs twice and must give
//! byte-identical transcripts: determinism holds under loss too.

use crate::node::Factory;
use crate::runner::{Options, Outcome, run};
use crate::script::{NetSetting, Script};
use crate::transcript::diff;

/// A seed that broke the invariant.
#[derive(Debug, Clone)]
pub struct SweepFailure {
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub message: String,
}

/// Runs `check` for every seed and collects the failures (all seeds run).
///
/// # Errors
/// One report naming every failing seed.
pub fn sweep<I, F>(seeds: I, mut check: F) -> Result<usize, String>
where
    I: IntoIterator<Item = u64>,
    F: FnMut(u64) -> Result<(), String>,
{
    let mut failures = Vec::new();
    let mut n = 0;
    for seed in seeds {
        n += 1;
        if let Err(message) = check(seed) {
            failures.push(SweepFailure { seed, message });
        }
    }
    if failures.is_empty() {
        return Ok(n);
    }
    let mut report = format!("{} of {n} seeds failed:\n", failures.len());
    for f in &failures {
        report.push_str(&format!("--- seed {} ---\n{}\n", f.seed, f.message));
    }
    Err(report)
}

/// Runs `script` leniently under each seed with `net` impairments (applied at
/// time zero and after every `net` line), twice per seed, and checks `invariant`
/// on the outcome. A harness failure (such as the step bound) fails the seed.
///
/// # Errors
/// The failing seeds, each with its message.
pub fn sweep_scenario<I>(
    script: &Script,
    factory: Factory<'_>,
    seeds: I,
    net: &NetSetting,
    invariant: &dyn Fn(&Outcome) -> Result<(), String>,
) -> Result<usize, String>
where
    I: IntoIterator<Item = u64>,
{
    sweep(seeds, |seed| {
        let opts = Options {
            seed: Some(seed),
            net: Some(net.clone()),
            lenient: true,
            ..Options::default()
        };
        let a = run(script, factory, &opts);
        if let Some(f) = &a.failure {
            return Err(f.clone());
        }
        let b = run(script, factory, &opts);
        if let Some(d) = diff(&a.transcript, &b.transcript) {
            return Err(format!("two runs differ (nondeterminism)\n{d}"));
        }
        invariant(&a).map_err(|e| format!("{e}\n--- transcript ---\n{}", a.transcript))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_reports_every_failing_seed() {
        assert_eq!(sweep(0..5, |_| Ok(())), Ok(5));
        let e = sweep(0..6, |s| {
            if s % 3 == 0 {
                Err(format!("bad {s}"))
            } else {
                Ok(())
            }
        })
        .expect_err("seeds 0 and 3 fail");
        assert!(e.starts_with("2 of 6 seeds failed"), "{e}");
        assert!(e.contains("--- seed 0 ---\nbad 0") && e.contains("--- seed 3 ---\nbad 3"));
    }
}
