//! Runs every scenario: `scenarios/harness/*.scn` against the toy node (they
//! prove the harness itself) and `scenarios/engine/*.scn` against the real
//! engine (RFC 3261/3665 flows).
//!
//! Each scenario runs twice with its seed (the transcripts must be identical)
//! and is compared with its golden `<name>.transcript`; `UPDATE_GOLDEN=1`
//! rewrites the goldens. All scenarios run even if one fails; the test fails
//! with one report per failing scenario.
//!

mod support;

use std::path::PathBuf;
use switchboard_conformance::{Factory, Options, check_scenario_file, engine_factory};

fn scenario_files(sub: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    files
}

fn run_all(sub: &str, factory: Factory<'_>) {
    let files = scenario_files(sub);
    assert!(!files.is_empty(), "no scenarios found in {sub}");
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = check_scenario_file(f, factory, &Options::default()) {
            failures.push(format!("=== {} ===\n{e}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn harness_scenarios_replay_deterministically_against_the_toy_node() {
    run_all("harness", &support::toy::factory);
}

#[test]
fn engine_scenarios_replay_deterministically_and_match_their_golden_transcripts() {
    run_all("engine", &engine_factory);
}
