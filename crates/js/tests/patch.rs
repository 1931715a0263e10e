//! The patch `convert` returns, over every golden pair and conversion case of `test_data/` and
//! every playground sample (`web/samples.json`): applied to the input it gives the output (so does
//! `admissionPatch`, the diff policy-server sends); containers are moved, never rewritten; the
//! other operations change fields of a moved container, an annotation, or the probes of a user's
//! native sidecar that Kuma routes. Prints the operation
//! counts of both patches (`cargo test -p native-sidecar-js --test patch -- --nocapture`).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashSet;
use std::path::Path;

use json_patch::{Patch, PatchOperation};
use native_sidecar_core::Kind;
use native_sidecar_js::report;
use native_sidecar_testdata::{all_pairs, documents};
use serde_json::Value;

/// An input, and the output the mesh itself gives for it when known, with the settings that
/// convert it.
struct Input {
    name: String,
    before: Value,
    after: Option<Value>,
    settings: Value,
}

/// The playground's samples, each the input document of its file as the page shows it.
fn samples() -> Vec<Input> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("web/samples.json")).unwrap();
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    list.iter()
        .map(|sample| {
            let file = sample["file"].as_str().unwrap();
            let mut docs = documents(&root.join(file));
            if sample["firstDocument"] != true {
                assert_eq!(docs.len(), 1, "{file} must hold one document");
            }
            Input {
                name: format!("sample {}", sample["id"].as_str().unwrap()),
                before: docs.remove(0),
                after: None,
                settings: Value::Null,
            }
        })
        .collect()
}

fn inputs() -> Vec<Input> {
    let mut inputs: Vec<Input> = all_pairs()
        .into_iter()
        .map(|pair| Input {
            name: pair.name,
            before: pair.before,
            after: Some(pair.after),
            settings: pair.settings,
        })
        .collect();
    inputs.extend(samples());
    inputs
}

fn patch_of(result: &Value, key: &str) -> Patch {
    serde_json::from_value(result[key].clone()).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// `Some(name)` when `path` is a whole container of the pod spec, for `document` as it is then.
fn container_at<'a>(document: &'a Value, spec: &str, path: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(spec)?.strip_prefix('/')?;
    let (list, index) = rest.split_once('/')?;
    if !["initContainers", "containers"].contains(&list) || index.parse::<usize>().is_err() {
        return None;
    }
    document.pointer(path)?["name"].as_str()
}

fn list_of(spec: &Value, name: &str) -> Option<&'static str> {
    ["initContainers", "containers"].into_iter().find(|list| {
        spec[*list]
            .as_array()
            .is_some_and(|items| items.iter().any(|c| c["name"] == name))
    })
}

/// What the patch says, checked operation by operation on the document as it stands then.
fn check_reads_as_moves(name: &str, before: &Value, patch: &Patch, spec: &str) {
    let mut document = before.clone();
    let mut moved = HashSet::new();
    let mut edits = false;
    for operation in patch.iter() {
        let path = operation.path().as_str();
        if let PatchOperation::Move(op) = operation {
            assert!(!edits, "{name}: a move after a field edit: {operation}");
            let container = container_at(&document, spec, op.from.as_str()).unwrap_or_else(|| {
                panic!("{name}: moves something else than a container: {operation}")
            });
            moved.insert(container.to_owned());
        } else if path == format!("{spec}/initContainers")
            && matches!(operation, PatchOperation::Add(op) if op.value == serde_json::json!([]))
        {
            // A pod without init containers (Kuma's gateway on CNI) gets the list its proxy
            // moves into.
            assert!(
                !edits && moved.is_empty(),
                "{name}: the list made late: {operation}"
            );
        } else {
            edits = true;
            assert_eq!(
                container_at(&document, spec, path),
                None,
                "{name}: a whole container added, removed or replaced: {operation}"
            );
            let annotation = path.contains("/metadata/annotations/");
            let inside_moved = ["initContainers", "containers"].iter().any(|list| {
                path.strip_prefix(&format!("{spec}/{list}/"))
                    .and_then(|rest| rest.split_once('/'))
                    .and_then(|(index, _)| document.pointer(&format!("{spec}/{list}/{index}/name")))
                    .and_then(Value::as_str)
                    .is_some_and(|n| moved.contains(n))
            });
            // Kuma routes the probes of a user's native sidecar, which need not move.
            let routed_probe = path
                .strip_prefix(&format!("{spec}/initContainers/"))
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(index, field)| {
                    let native = document
                        .pointer(&format!("{spec}/initContainers/{index}/restartPolicy"))
                        == Some(&Value::from("Always"));
                    let probe = ["livenessProbe", "readinessProbe", "startupProbe"]
                        .iter()
                        .any(|p| field == *p || field.starts_with(&format!("{p}/")));
                    native && probe
                });
            assert!(
                annotation || inside_moved || routed_probe,
                "{name}: an edit outside the moved containers, the annotations and Kuma's routed probes: {operation}"
            );
        }
        json_patch::patch(&mut document, std::slice::from_ref(operation))
            .unwrap_or_else(|e| panic!("{name}: {operation} does not apply: {e}"));
    }
    // Every container that changed list is among the moved ones.
    let (spec_before, spec_after) = (
        before.pointer(spec).unwrap(),
        document.pointer(spec).unwrap(),
    );
    for list in ["initContainers", "containers"] {
        for container in spec_after[list].as_array().into_iter().flatten() {
            let container = container["name"].as_str().unwrap();
            if list_of(spec_before, container) != Some(list) {
                assert!(
                    moved.contains(container),
                    "{name}: {container} changed list without a move"
                );
            }
        }
    }
}

#[test]
fn the_patch_moves_containers_and_gives_the_output_for_every_pair_and_sample() {
    let mut counts = Vec::new();
    for Input {
        name,
        before,
        after,
        settings,
    } in inputs()
    {
        let result = report::convert(&before, &settings).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result["changed"], true, "{name}");
        let output = &result["manifest"];
        if let Some(after) = &after {
            assert_eq!(
                output, after,
                "{name}: differs from the mesh's native output"
            );
        }
        let readable = patch_of(&result, "patch");
        let admission = patch_of(&result, "admissionPatch");
        assert_eq!(admission, json_patch::diff(&before, output), "{name}");
        for (key, patch) in [("patch", &readable), ("admissionPatch", &admission)] {
            let mut patched = before.clone();
            json_patch::patch(&mut patched, patch).unwrap_or_else(|e| panic!("{name}: {key}: {e}"));
            assert_eq!(&patched, output, "{name}: {key} does not give the output");
        }
        let spec = Kind::from_object(&before).unwrap().spec_pointer();
        check_reads_as_moves(&name, &before, &readable, spec);
        let moves = readable
            .iter()
            .filter(|op| matches!(op, PatchOperation::Move(_)))
            .count();
        counts.push(format!(
            "{name}: {} -> {} ({moves} moves)",
            admission.len(),
            readable.len()
        ));
    }
    assert!(counts.len() >= 40, "only {} inputs", counts.len());
    println!(
        "operations, json_patch::diff -> patch:\n{}",
        counts.join("\n")
    );
}
