//! Writes the objects the test suites produce as files for `kubernetes-validate`: the policy's
//! output for every fixture (test_data/istio and test_data/cases, with the expected native objects)
//! and the mutate-mode outputs of generated valid pods and workloads (the property tests'
//! generator without unknown fields, which a strict schema check would rightly refuse).
//!
//! `cargo run -p native-sidecar-core --example k8s_objects -- target/k8s-objects [SAMPLES]`

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use native_sidecar_core::{Mode, Operation, Settings, review, review_manifest};
use native_sidecar_testdata::all_pairs;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::Value;

type Error = Box<dyn std::error::Error>;

/// JSON, which YAML readers take as it is: block YAML from a YAML 1.2 writer (serde_yaml) is read
/// differently by kubernetes-validate's YAML 1.1 parser (`no` and `on` become booleans, `<<` a
/// merge key), so the check would test the writer instead of the object.
fn write(dir: &Path, name: &str, object: &Value) -> Result<(), Error> {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(object)?)?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: k8s_objects DIR [SAMPLES]")?);
    let samples: usize = args.next().map_or(Ok(300), |n| n.parse())?;
    std::fs::create_dir_all(&dir)?;
    let mut fixtures = 0;
    for pair in all_pairs() {
        let mut converted = pair.before.clone();
        let settings = Settings::from_json(&pair.settings)?;
        let outcome = review_manifest(&mut converted, &settings).ok_or("a fixture without pods")?;
        if let Some(message) = outcome.rejection {
            return Err(format!("{}: rejected: {message}", pair.name).into());
        }
        write(&dir, &format!("fixture-{}-output", pair.name), &converted)?;
        write(
            &dir,
            &format!("fixture-{}-expected", pair.name),
            &pair.after,
        )?;
        fixtures += 2;
    }
    let mut runner = TestRunner::deterministic();
    let strategy = support::sample(support::SCHEMA);
    let (mut generated, mut changed) = (0, 0);
    let mut attempts = 0;
    while generated < samples && attempts < samples * 10 {
        attempts += 1;
        let sample = strategy
            .new_tree(&mut runner)
            .map_err(|e| format!("generator: {e}"))?
            .current();
        let settings = support::with_mode(&sample.settings, Mode::Mutate);
        let mut object = sample.object.clone();
        let outcome = review(sample.kind, Operation::Create, &mut object, &settings);
        if outcome.rejection.is_some() {
            continue;
        }
        if outcome.changed {
            changed += 1;
        }
        write(
            &dir,
            &format!("generated-{generated:04}-{}", sample.kind.name()),
            &object,
        )?;
        generated += 1;
    }
    eprintln!(
        "wrote {fixtures} fixture objects and {generated} generated outputs ({changed} changed by the policy) to {}",
        dir.display()
    );
    Ok(())
}
