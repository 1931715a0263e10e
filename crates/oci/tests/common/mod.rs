//! Paths and fixtures shared by the integration tests.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use native_sidecar_oci::custom_sections;
use native_sidecar_oci::metadata::METADATA_SECTION;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// The `version` of the root package in Cargo.toml.
pub fn cargo_version() -> String {
    let manifest = read("Cargo.toml");
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("version = ") {
            return value.trim_matches('"').to_owned();
        }
    }
    panic!("no [package] version in Cargo.toml")
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Skips (or, under CI=true, fails) a test whose prerequisite is missing, saying which.
pub fn missing(what: &str, fix: &str) {
    if in_ci() {
        panic!("{what} is missing and CI=true: {fix}");
    }
    eprintln!("SKIPPED: {what} is missing ({fix})");
}

/// The built policy module: `make policy.wasm` copies it to the root.
pub fn policy_module() -> Option<PathBuf> {
    [
        root().join("policy.wasm"),
        root().join("target/wasm32-wasip1/release/native_sidecar_policy.wasm"),
    ]
    .into_iter()
    .find(|path| path.is_file())
}

/// The arguments of `annotate` (kwctl's and policy-publish's) that annotate `module` with the
/// repository's metadata.yml and README.md into `output`.
pub fn annotate_args(output: &Path, module: &Path) -> Vec<OsString> {
    let root = root();
    vec![
        "annotate".into(),
        "-m".into(),
        root.join("metadata.yml").into(),
        "-u".into(),
        root.join("README.md").into(),
        "-o".into(),
        output.into(),
        module.into(),
    ]
}

/// The data of the module's one metadata section.
pub fn metadata_section(module: &[u8]) -> Vec<u8> {
    let mut sections: Vec<Vec<u8>> = custom_sections(module)
        .unwrap()
        .into_iter()
        .filter(|(name, _)| name == METADATA_SECTION)
        .map(|(_, data)| data)
        .collect();
    assert_eq!(sections.len(), 1, "exactly one {METADATA_SECTION} section");
    sections.remove(0)
}
