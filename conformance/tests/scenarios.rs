//! Runs every `conformance/scenarios/*.scn` against the node under test.
//!
//! Each scenario runs twice with its seed (the transcripts must be identical)
//! and is compared with its golden `<name>.transcript`; `UPDATE_GOLDEN=1`
//! rewrites the goldens. All scenarios run even if one fails; the test fails
//! with one report per failing scenario.
//!
//! To test the real engine, change [`factory`] only.

mod support;

use std::path::PathBuf;
use switchboard_conformance::{Node, Options, ScenarioSetup, check_scenario_file};

/// THE place that chooses the node under test. Swap in
/// `Box::new(switchboard_core::Engine::new(config_from(setup), setup.epoch))` later.
fn factory(setup: &ScenarioSetup) -> Box<dyn Node> {
    support::toy::factory(setup)
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_replays_deterministically_and_matches_its_golden_transcript() {
    let files = scenario_files();
    assert!(!files.is_empty(), "no scenarios found");
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = check_scenario_file(f, &factory, &Options::default()) {
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
