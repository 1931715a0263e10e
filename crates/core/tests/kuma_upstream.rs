//! A measurement, not part of the suite: Kuma's own injector goldens (kumahq/kuma
//! `pkg/plugins/runtime/k8s/webhooks/injector/testdata/`, classic `inject.NN.golden.yaml` and native
//! `inject.sidecar-feature.NN.golden.yaml` rendered from the same input and configuration), kept
//! outside the repository because they are Kuma's files. Where they are (`KUMA_UPSTREAM`, default
//! `../ref/kuma/upstream` beside the repository), every pair whose two files come from the same
//! Kuma version must convert exactly and its native file must come back unchanged:
//!
//!   cargo test -p native-sidecar-core --test kuma_upstream -- --ignored --nocapture
//!
//! The upstream folder's INDEX.md has one table row per test number: its configuration's startup
//! probe timings (`i/t/p/f`, or none) and whether the two files are of one version.

use std::path::PathBuf;

use native_sidecar_core::{Settings, review_manifest};
use native_sidecar_testdata::{documents, root};
use serde_json::{Value, json};

fn upstream() -> PathBuf {
    std::env::var_os("KUMA_UPSTREAM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../../ref/kuma/upstream"))
}

/// One INDEX.md row: test number, startup probe timings, and whether the pair is of one version.
struct Row {
    number: String,
    timings: [u32; 4],
    same_version: bool,
}

fn rows(index: &str) -> Vec<Row> {
    index
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | NN | test | cfgFile | timings | classic | native | pair |
            let number = cells
                .get(1)
                .filter(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))?;
            let timings = cells.get(4)?;
            let mut parsed = [0u32; 4];
            if !timings.starts_with("none") {
                for (slot, part) in parsed.iter_mut().zip(timings.split('/')) {
                    *slot = part.trim().parse().ok()?;
                }
            }
            let pair = cells.get(7)?;
            Some(Row {
                number: (*number).to_owned(),
                timings: parsed,
                same_version: pair.starts_with("same commit")
                    || pair.starts_with("content-consistent"),
            })
        })
        .collect()
}

fn settings(timings: [u32; 4]) -> Settings {
    let [initial, timeout, period, failure] = timings;
    Settings::from_json(&json!({"kuma": {"startupProbe": {
        "initialDelaySeconds": initial, "timeoutSeconds": timeout,
        "periodSeconds": period, "failureThreshold": failure
    }}}))
    .expect("timings from INDEX.md")
}

fn single(path: &std::path::Path) -> Option<Value> {
    path.is_file()
        .then(|| documents(path).into_iter().next())
        .flatten()
}

/// Converts `classic` and `native` with `settings`: whether classic gives native exactly and
/// native is left as it is.
fn reproduces(classic: &Value, native: &Value, settings: &Settings) -> bool {
    let mut converted = classic.clone();
    let outcome = review_manifest(&mut converted, settings).expect("a Pod");
    let mut again = native.clone();
    let unchanged = review_manifest(&mut again, settings).expect("a Pod");
    outcome.rejection.is_none()
        && &converted == native
        && unchanged.rejection.is_none()
        && !unchanged.changed
        && &again == native
}

#[test]
#[ignore = "reads Kuma's goldens from outside the repository"]
fn kumas_own_pairs_convert_exactly() {
    let dir = upstream();
    let Ok(index) = std::fs::read_to_string(dir.join("INDEX.md")) else {
        eprintln!("{} not found: nothing measured", dir.display());
        return;
    };
    let mut same = (0, 0);
    let mut skewed = (0, 0);
    let mut missed = Vec::new();
    // The two v2.14.0 pairs (the shared fixtures), rendered with inject.config.yaml.
    let mut pairs: Vec<(String, PathBuf, [u32; 4], bool)> = ["01", "02"]
        .into_iter()
        .map(|n| {
            (
                format!("v2.14.0/{n}"),
                dir.join("v2.14.0"),
                [261, 24, 26, 213],
                true,
            )
        })
        .collect();
    pairs.extend(rows(&index).into_iter().map(|row| {
        (
            row.number,
            dir.join("testdata"),
            row.timings,
            row.same_version,
        )
    }));
    for (name, folder, timings, same_version) in pairs {
        let number = name.rsplit('/').next().unwrap_or_default();
        let classic = single(&folder.join(format!("inject.{number}.golden.yaml")));
        let native = single(&folder.join(format!("inject.sidecar-feature.{number}.golden.yaml")));
        let (Some(classic), Some(native)) = (classic, native) else {
            continue;
        };
        let exact = reproduces(&classic, &native, &settings(timings));
        let tally = if same_version { &mut same } else { &mut skewed };
        tally.1 += 1;
        if exact {
            tally.0 += 1;
        } else if same_version {
            missed.push(name);
        }
    }
    println!(
        "Kuma's own pairs reproduced exactly: {} of {} of one version, {} of {} version-skewed",
        same.0, same.1, skewed.0, skewed.1
    );
    assert!(
        same.1 > 0,
        "no pair of one version found in {}",
        dir.display()
    );
    assert_eq!(
        missed,
        Vec::<String>::new(),
        "pairs of one version not reproduced"
    );
}
