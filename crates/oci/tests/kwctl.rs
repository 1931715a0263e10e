//! policy-publish against the real kwctl (`KWCTL=path`, which CI sets): the metadata section
//! `annotate` writes, what `inspect` reads back from the other tool's module, and the ArtifactHub
//! package are the same. Compared with the kwctl release policy-publish reproduces
//! (`KWCTL_VERSION`); without kwctl the tests are skipped (failed under CI=true).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use native_sidecar_oci::metadata::KWCTL_VERSION;
use native_sidecar_oci::{annotate_files, read_metadata, scaffold_artifacthub};
use serde_json::Value;

/// kwctl from `KWCTL` (relative to the repository's root), when it is the release to compare with.
fn kwctl() -> Option<PathBuf> {
    let Some(path) = std::env::var_os("KWCTL").filter(|p| !p.is_empty()) else {
        // .ci/run on a runner without Kubewarden's binaries says so; elsewhere CI must have them.
        if std::env::var("WITHOUT_KUBEWARDEN_BINARIES").is_ok_and(|v| v == "1") {
            eprintln!("SKIPPED: kwctl is missing (WITHOUT_KUBEWARDEN_BINARIES=1)");
        } else {
            common::missing("kwctl", "set KWCTL=path/to/kwctl");
        }
        return None;
    };
    let path = common::root().join(path);
    let version = run(&path, &["--version".as_ref()]);
    let version = String::from_utf8_lossy(&version.stdout);
    let expected = format!("kwctl {KWCTL_VERSION}");
    if version.lines().next() != Some(expected.as_str()) {
        let message = format!(
            "{} is {}, not {expected}, the release policy-publish writes like",
            path.display(),
            version.lines().next().unwrap_or("?")
        );
        assert!(
            !common::in_ci(),
            "{message}: compare the two and update KWCTL_VERSION"
        );
        eprintln!("SKIPPED: {message}");
        return None;
    }
    Some(path)
}

fn run(program: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let output = Command::new(program)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn section(module: &Path) -> Vec<u8> {
    common::metadata_section(&std::fs::read(module).unwrap())
}

#[test]
fn annotate_writes_and_inspect_reads_what_kwctl_does() {
    let Some(kwctl) = kwctl() else { return };
    let Some(module) = common::policy_module() else {
        return common::missing("policy.wasm", "run `make policy.wasm` first");
    };
    let root = common::root();
    let (metadata, readme) = (root.join("metadata.yml"), root.join("README.md"));
    let dir = tempfile::tempdir().unwrap();
    let by_kwctl = dir.path().join("kwctl.wasm");
    let annotate = common::annotate_args(&by_kwctl, &module);
    run(
        &kwctl,
        &annotate.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
    );
    let by_policy_publish = dir.path().join("policy-publish.wasm");
    let (annotated, _) = annotate_files(&module, &metadata, Some(&readme), false).unwrap();
    std::fs::write(&by_policy_publish, annotated).unwrap();

    // The same JSON, byte for byte: field order, defaults, annotations, kwctl's version.
    assert_eq!(
        String::from_utf8_lossy(&section(&by_policy_publish)),
        String::from_utf8_lossy(&section(&by_kwctl))
    );
    // Each tool reads the other's module as its own.
    let inspected = run(
        &kwctl,
        &[
            "inspect".as_ref(),
            "-o".as_ref(),
            "yaml".as_ref(),
            by_policy_publish.as_os_str(),
        ],
    );
    let by_kwctl_inspect: Value = serde_yaml::from_slice(&inspected.stdout)
        .unwrap_or_else(|e| panic!("kwctl inspect -o yaml printed no YAML ({e})"));
    let read_back = read_metadata(&std::fs::read(&by_kwctl).unwrap())
        .unwrap()
        .expect("kwctl's module carries metadata");
    assert_eq!(by_kwctl_inspect, serde_json::to_value(&read_back).unwrap());
    assert_eq!(
        by_kwctl_inspect["annotations"]["io.kubewarden.policy.author"],
        read_back
            .annotation(native_sidecar_oci::metadata::ANNOTATION_AUTHOR)
            .expect("metadata.yml names the author")
    );
    assert_eq!(
        by_kwctl_inspect,
        serde_json::from_slice::<Value>(&section(&by_kwctl)).unwrap()
    );
}

#[test]
fn scaffold_artifacthub_writes_what_kwctl_does() {
    let Some(kwctl) = kwctl() else { return };
    let root = common::root();
    let (metadata, questions) = (root.join("metadata.yml"), root.join("questions-ui.yml"));
    let dir = tempfile::tempdir().unwrap();
    let by_kwctl = dir.path().join("artifacthub-pkg.yml");
    run(
        &kwctl,
        &[
            "scaffold".as_ref(),
            "artifacthub".as_ref(),
            "--metadata-path".as_ref(),
            metadata.as_os_str(),
            "--version".as_ref(),
            common::cargo_version().as_ref(),
            "--questions-path".as_ref(),
            questions.as_os_str(),
            "--output".as_ref(),
            by_kwctl.as_os_str(),
        ],
    );
    let ours = scaffold_artifacthub(
        &metadata,
        Some(&common::cargo_version()),
        Some(&questions),
        None,
    )
    .unwrap();
    // createdAt is the time of each run (kwctl with nanoseconds).
    let without_time = |text: &str| {
        text.lines()
            .filter(|line| !line.starts_with("createdAt: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        without_time(&ours),
        without_time(&std::fs::read_to_string(&by_kwctl).unwrap())
    );
}
