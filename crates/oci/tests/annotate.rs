//! The annotated module: annotate the built policy with metadata.yml and README.md (library and
//! `policy-publish annotate`), read the custom section back and compare it with what kwctl writes.

mod common;

use std::process::Command;

use native_sidecar_oci::metadata::{ANNOTATION_KWCTL_VERSION, KWCTL_VERSION};
use native_sidecar_oci::protocol::protocol_version;
use native_sidecar_oci::{Metadata, annotate_files};
use serde_json::{Value, json};

/// The section kwctl would write for metadata.yml and README.md: metadata.yml as JSON with
/// policy-evaluator's field names and defaults, protocolVersion from the module, the README as
/// io.kubewarden.policy.usage, and kwctl's version.
fn expected_section() -> Value {
    let yaml: Value = serde_yaml::from_str(&common::read("metadata.yml")).unwrap();
    let mut annotations = yaml["annotations"].clone();
    annotations["io.kubewarden.policy.usage"] = json!(common::read("README.md"));
    annotations[ANNOTATION_KWCTL_VERSION] = json!(KWCTL_VERSION);
    json!({
        "protocolVersion": "v1",
        "rules": yaml["rules"],
        "annotations": annotations,
        "mutating": true,
        "backgroundAudit": true,
        "executionMode": "kubewarden-wapc",
        "policyType": "kubernetes",
        "contextAwareResources": yaml["contextAwareResources"],
        "hostCapabilities": yaml["hostCapabilities"],
    })
}

fn metadata_section(module: &[u8]) -> Value {
    serde_json::from_slice(&common::metadata_section(module)).unwrap()
}

#[test]
fn annotating_the_policy_writes_what_kwctl_writes() {
    let Some(module_path) = common::policy_module() else {
        return common::missing("policy.wasm", "run `make policy.wasm` first");
    };
    let module = std::fs::read(&module_path).unwrap();
    assert_eq!(protocol_version(&module).unwrap(), "v1");
    let root = common::root();
    let (annotated, written) = annotate_files(
        &module_path,
        &root.join("metadata.yml"),
        Some(&root.join("README.md")),
        false,
    )
    .unwrap();
    // Only a section is appended: the code kwctl would run is byte for byte the one we built.
    assert!(annotated.starts_with(&module));
    assert_eq!(metadata_section(&annotated), expected_section());
    assert_eq!(
        Metadata::from_json(&serde_json::to_vec(&expected_section()).unwrap()).unwrap(),
        written
    );
    // The annotated module still loads and answers as a policy.
    assert_eq!(protocol_version(&annotated).unwrap(), "v1");
    wasmparser::Validator::new()
        .validate_all(&annotated)
        .unwrap();
}

#[test]
fn policy_publish_annotate_and_inspect() {
    let Some(module_path) = common::policy_module() else {
        return common::missing("policy.wasm", "run `make policy.wasm` first");
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("annotated-policy.wasm");
    let root = common::root();
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_policy-publish"))
            .args(args)
            .output()
            .unwrap()
    };
    let metadata = root.join("metadata.yml");
    let annotate = common::annotate_args(&output, &module_path);
    let result = run(&annotate.iter().map(AsRef::as_ref).collect::<Vec<_>>());
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let annotated = std::fs::read(&output).unwrap();
    assert_eq!(metadata_section(&annotated), expected_section());

    let inspected = run(&["inspect".as_ref(), output.as_os_str()]);
    assert!(inspected.status.success());
    let printed: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(printed, expected_section());

    // A second annotate of the annotated module is refused, as kwctl refuses it without --force.
    let again = run(&[
        "annotate".as_ref(),
        "-m".as_ref(),
        metadata.as_os_str(),
        "-o".as_ref(),
        dir.path().join("twice.wasm").as_os_str(),
        output.as_os_str(),
    ]);
    assert!(!again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "policy-publish: the policy is already annotated; use `annotate --force` to overwrite the existing metadata\n"
    );
}

#[test]
fn inspect_says_when_a_module_is_not_annotated() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.wasm");
    std::fs::write(&bare, b"\0asm\x01\0\0\0").unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_policy-publish"))
        .arg("inspect")
        .arg(&bare)
        .output()
        .unwrap();
    assert!(!result.status.success());
    assert_eq!(
        String::from_utf8_lossy(&result.stderr),
        format!(
            "policy-publish: {} carries no Kubewarden metadata\n",
            bare.display()
        )
    );
}

#[test]
fn the_checked_in_annotated_module_if_built_matches_metadata_yml() {
    // `make annotated-policy.wasm` (kwctl or policy-publish) leaves it at the root.
    let path = common::root().join("annotated-policy.wasm");
    let Ok(annotated) = std::fs::read(&path) else {
        eprintln!("SKIPPED: annotated-policy.wasm not built (make annotated-policy.wasm)");
        return;
    };
    let modified = |file: &str| {
        std::fs::metadata(common::root().join(file))
            .and_then(|m| m.modified())
            .unwrap()
    };
    let built = modified("annotated-policy.wasm");
    if !common::in_ci()
        && ["README.md", "metadata.yml"]
            .iter()
            .any(|f| modified(f) > built)
    {
        // A local build older than its inputs is stale, not wrong; CI always builds it fresh.
        eprintln!("SKIPPED: annotated-policy.wasm is older than README.md or metadata.yml");
        return;
    }
    let mut section = metadata_section(&annotated);
    // Written by whichever kwctl is installed, or by policy-publish: the version is kwctl's own.
    let kwctl_version = &mut section["annotations"][ANNOTATION_KWCTL_VERSION];
    assert!(
        kwctl_version.is_string(),
        "no {ANNOTATION_KWCTL_VERSION} annotation"
    );
    *kwctl_version = json!(KWCTL_VERSION);
    assert!(
        section == expected_section(),
        "annotated-policy.wasm does not carry the current metadata.yml and README.md: run `make annotated-policy.wasm`"
    );
}
