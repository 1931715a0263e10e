//! The annotated module in Kubewarden's real policy-server: policy.yaml's policies loaded the way
//! the Kubewarden controller configures them, every sample request sent to each of them as an
//! AdmissionReview over HTTP, the JSONPatch in each reply applied to the request's object.
//!
//! Needs Kubewarden's policy-server and `annotated-policy.wasm`, so the tests are ignored by a
//! plain `cargo test`; `make policy-server-tests POLICY_SERVER=path/to/policy-server` runs them
//! (CI always does). Each test stops its server when it ends, failed or not.

use std::path::{Path, PathBuf};

use native_sidecar_core::{Settings, review_request};
use native_sidecar_policy_server::{
    AUDIT_ID as AUDIT, CONVERT_ID as CONVERT, Policy, REQUEST_INJECTION_ID as REQUEST_INJECTION,
    Server, admission_request, binary_from_env, manifest_policies, patch_of, patched_object,
};
use rstest::rstest;
use serde_json::{Value, json};

const NEEDS: &str = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// POLICY_SERVER; a relative path is taken from the repository's root, where make runs.
fn binary() -> PathBuf {
    let binary = binary_from_env().unwrap_or_else(|| panic!("POLICY_SERVER is not set: {NEEDS}"));
    root().join(binary)
}

/// `make annotated-policy.wasm` (kwctl or policy-publish) writes it at the root.
fn module() -> PathBuf {
    let module = std::env::var_os("ANNOTATED_POLICY")
        .map_or_else(|| root().join("annotated-policy.wasm"), PathBuf::from);
    assert!(
        module.is_file(),
        "{} is missing: run `make annotated-policy.wasm`",
        module.display()
    );
    module
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every sample request (test_data/requests/NAME.json), by name.
fn requests() -> Vec<(String, Value)> {
    let dir = root().join("test_data/requests");
    let mut requests: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".json")?
                .to_owned();
            Some((name, read_json(&path)))
        })
        .collect();
    requests.sort_by(|a, b| a.0.cmp(&b.0));
    requests
}

/// What the policy itself decides for `request` under `settings`: the core's review, which the
/// module runs. Returns the object as the policy leaves it, and the verdict.
fn decided(request: &Value, settings: &Value) -> (Value, native_sidecar_core::Outcome) {
    let settings = Settings::from_json(settings).expect("policy.yaml's settings are valid");
    let mut request = admission_request(request).clone();
    let outcome = review_request(&mut request, &settings);
    (request["object"].clone(), outcome)
}

/// Compares policy-server's AdmissionResponse with what the policy decides: the verdict and its
/// message, the warnings, and the object after the patch (no patch when nothing changes).
fn answers_as_decided(request: &Value, settings: &Value, response: &Value) -> Result<(), String> {
    let (object, outcome) = decided(request, settings);
    let mut wrong = Vec::new();
    if response["uid"] != admission_request(request)["uid"] {
        wrong.push(format!("uid {}", response["uid"]));
    }
    if response["allowed"] != json!(outcome.rejection.is_none()) {
        wrong.push(format!(
            "allowed {} where the policy decides {:?}",
            response["allowed"], outcome.rejection
        ));
    }
    if let Some(message) = &outcome.rejection
        && response["status"]["message"] != json!(message)
    {
        wrong.push(format!("message {}", response["status"]["message"]));
    }
    let warnings = response["warnings"].as_array().cloned().unwrap_or_default();
    if warnings
        != outcome
            .warnings
            .iter()
            .map(|w| json!(w))
            .collect::<Vec<_>>()
    {
        wrong.push(format!(
            "warnings {warnings:?}, expected {:?}",
            outcome.warnings
        ));
    }
    match patch_of(response) {
        Err(e) => wrong.push(e.to_string()),
        Ok(patch) if patch.is_some() != outcome.changed => wrong.push(format!(
            "patch {} where the policy changes {}",
            patch.is_some(),
            outcome.changed
        )),
        Ok(_) if outcome.rejection.is_none() => match patched_object(request, response) {
            Ok(patched) if patched == object => {}
            Ok(patched) => wrong.push(format!(
                "the patched object differs from the policy's:\n{patched}\nexpected\n{object}"
            )),
            Err(e) => wrong.push(e.to_string()),
        },
        Ok(_) => {}
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

/// policy.yaml's policies as a cluster whose nodes all run native sidecars sees them: this
/// policy-server has no cluster to read nodes from, so `checkNodes` is off here (the node check is
/// `without_a_cluster_nothing_native_is_made` below, and tests/nodes.bats with replayed nodes).
fn policies_on_new_nodes() -> Vec<Policy> {
    manifest_policies(&root().join("policy.yaml"), &module())
        .unwrap()
        .into_iter()
        .map(Policy::on_new_nodes)
        .collect()
}

#[test]
#[ignore = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path"]
fn policy_yaml_policies_answer_every_request_as_the_policy_decides() {
    let policies = policies_on_new_nodes();
    let server = Server::start(&binary(), &policies, 2).unwrap_or_else(|e| panic!("{e:#}"));
    let requests = requests();
    let mut failures = Vec::new();
    let mut fail = |what: String| failures.push(what);

    for (name, request) in &requests {
        for policy in &policies {
            let response = match server.review("validate", &policy.id, request) {
                Ok(reply) => reply.response(),
                Err(e) => Err(e),
            };
            let response = match response {
                Ok(response) => response,
                Err(e) => {
                    fail(format!("{name} to {}: {e:#}", policy.id));
                    continue;
                }
            };
            let verdict = if policy.monitor {
                // Monitor mode lets everything through untouched; the verdict goes to /audit.
                match (&response["allowed"], patch_of(&response)) {
                    (Value::Bool(true), Ok(None)) => Ok(()),
                    _ => Err(format!("not let through untouched: {response}")),
                }
            } else {
                answers_as_decided(request, &policy.settings, &response)
            };
            if let Err(e) = verdict {
                fail(format!("{name} to /validate/{}: {e}", policy.id));
            }
        }
        // The audit scanner's endpoint gives the audit policy's verdict despite monitor mode.
        let audit = policies.iter().find(|p| p.id == AUDIT).unwrap();
        match server
            .review("audit", AUDIT, request)
            .and_then(|reply| reply.response())
        {
            Ok(response) => {
                if let Err(e) = answers_as_decided(request, &audit.settings, &response) {
                    fail(format!("{name} to /audit/{AUDIT}: {e}"));
                }
            }
            Err(e) => fail(format!("{name} to /audit/{AUDIT}: {e:#}")),
        }
    }

    // The conversions against the objects the meshes render in native mode
    // (test_data/requests/expected), but for those that need other settings than the convert
    // policy's (expected/settings.json: Kuma rendered with other startup probe timings).
    let expected_dir = root().join("test_data/requests/expected");
    let own_settings = read_json(&expected_dir.join("settings.json"));
    let mut converted = 0;
    for (name, request) in &requests {
        let expected_path = expected_dir.join(format!("{name}.json"));
        if !expected_path.exists() || own_settings.get(name).is_some() {
            continue;
        }
        converted += 1;
        let patched = server
            .review("validate", CONVERT, request)
            .and_then(|reply| reply.response())
            .and_then(|response| patched_object(request, &response));
        match patched {
            Ok(patched) if patched == read_json(&expected_path) => {}
            Ok(patched) => fail(format!("{name}: converted to {patched}")),
            Err(e) => fail(format!("{name}: {e:#}")),
        }
    }
    if converted < 10 {
        fail(format!(
            "only {converted} expected objects in {}",
            expected_dir.display()
        ));
    }

    // A few answers spelt out, so that they do not rest on the core alone.
    let request = |name: &str| {
        requests
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("test_data/requests/{name}.json is missing"))
    };
    let answer = |endpoint: &str, policy: &str, name: &str| {
        server
            .review(endpoint, policy, &request(name))
            .and_then(|reply| reply.response())
            .unwrap_or_else(|e| panic!("{name} to /{endpoint}/{policy}: {e:#}"))
    };
    let rejected = answer("audit", AUDIT, "istio-pod-classic");
    if rejected["allowed"] != false
        || !rejected["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("istio-proxy (containers[1])"))
    {
        fail(format!(
            "validate mode does not reject a classic proxy: {rejected}"
        ));
    }
    let opt_out = answer("validate", CONVERT, "pod-opt-out");
    if opt_out["allowed"] != true
        || opt_out.get("patch").is_some_and(|p| !p.is_null())
        || !opt_out["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with("sidecar.istio.io/nativeSidecar: \"false\""))
    {
        fail(format!(
            "the opt-out is not accepted with its warning: {opt_out}"
        ));
    }
    for policy in &policies {
        let other_kind = answer("validate", &policy.id, "configmap");
        if other_kind["allowed"] != true
            || other_kind.get("patch").is_some_and(|p| !p.is_null())
            || other_kind.get("warnings").is_some_and(|w| !w.is_null())
        {
            fail(format!(
                "a ConfigMap is not accepted untouched by {}: {other_kind}",
                policy.id
            ));
        }
    }
    let uninjected = request("pod-uninjected");
    let annotated = patched_object(
        &uninjected,
        &answer("validate", REQUEST_INJECTION, "pod-uninjected"),
    )
    .unwrap();
    let mut expected = admission_request(&uninjected)["object"].clone();
    expected["metadata"]
        .as_object_mut()
        .unwrap()
        .entry("annotations")
        .or_insert_with(|| json!({}))["sidecar.istio.io/nativeSidecar"] = json!("true");
    if annotated != expected {
        fail(format!(
            "pre-injection does not add only the annotation: {annotated}"
        ));
    }

    let log = server.stop().unwrap();
    let errors = native_sidecar_policy_server::guest_errors(&log);
    if !errors.is_empty() {
        fail(format!(
            "errors in policy-server's log:\n{}",
            errors.join("\n")
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of the answers are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// policy.yaml as it ships (`checkNodes: true` on the ClusterAdmissionPolicies) in a policy-server
/// that cannot reach a cluster: the node list cannot be read, so nothing native is made, every
/// request is still answered (never a 500 or a guest error), and the warning says why.
#[test]
#[ignore = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path"]
fn without_a_cluster_nothing_native_is_made() {
    let policies = manifest_policies(&root().join("policy.yaml"), &module()).unwrap();
    let checking: Vec<&Policy> = policies
        .iter()
        .filter(|p| p.settings["checkNodes"] == json!(true))
        .collect();
    assert!(
        checking.len() >= 3,
        "policy.yaml checks nodes in {checking:?}"
    );
    let server = Server::start(&binary(), &policies, 2).unwrap_or_else(|e| panic!("{e:#}"));
    let mut failures = Vec::new();
    let mut warned = 0;
    for (name, request) in requests() {
        for policy in &checking {
            let endpoint = if policy.monitor { "audit" } else { "validate" };
            let response = match server
                .review(endpoint, &policy.id, &request)
                .and_then(|reply| reply.response())
            {
                Ok(response) => response,
                Err(e) => {
                    failures.push(format!("{name} to /{endpoint}/{}: {e:#}", policy.id));
                    continue;
                }
            };
            let (_, outcome) = decided(&request, &policy.settings);
            // Refusals do not depend on the nodes; everything else is let through unchanged.
            let expected_allowed = outcome.rejection.is_none();
            if response["allowed"] != json!(expected_allowed) {
                failures.push(format!("{name} to {}: {response}", policy.id));
            }
            if expected_allowed && patch_of(&response).ok().flatten().is_some() {
                failures.push(format!("{name} to {}: patched without nodes", policy.id));
            }
            let warnings = response["warnings"].as_array().cloned().unwrap_or_default();
            let held_back = warnings.iter().any(|w| {
                w.as_str().is_some_and(|w| {
                    w.starts_with("no native sidecar made: checkNodes is on and the cluster's nodes cannot be read")
                        || w.starts_with("sidecar placement not checked: checkNodes is on and the cluster's nodes cannot be read")
                })
            });
            // The core, with no cluster either, holds back exactly the same requests.
            if held_back
                != outcome
                    .warnings
                    .iter()
                    .any(|w| w.contains("cannot be read"))
            {
                failures.push(format!("{name} to {}: warnings {warnings:?}", policy.id));
            }
            warned += usize::from(held_back);
        }
    }
    let log = server.stop().unwrap();
    // policy-server logs the failed node listing itself (it has no Kubernetes client here);
    // anything else logged as an error, or any guest error, is a fault.
    let errors: Vec<String> = native_sidecar_policy_server::guest_errors(&log)
        .into_iter()
        // Server::stop returns the log without colour codes.
        .filter(|line| {
            !(line.contains("callback evaluation failed")
                && line.contains(r#"operation="list_resources_all""#)
                && line.contains("kube::Client was not initialized properly"))
        })
        .collect();
    assert!(
        errors.is_empty(),
        "errors in policy-server's log:\n{}",
        errors.join("\n")
    );
    assert!(
        warned >= 20,
        "only {warned} answers said the nodes cannot be read"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Settings the policy refuses stop policy-server at start-up, with the policy's own message.
#[rstest]
#[case::unknown_key(json!({"mode": "mutate", "dryRun": true}))]
#[case::wrong_mode(json!({"mode": "enforce"}))]
#[case::wrong_type(json!({"extraSidecars": "vault-agent"}))]
#[ignore = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path"]
fn wrong_settings_stop_policy_server_with_the_policy_message(#[case] settings: Value) {
    let message = Settings::from_json(&settings).expect_err("the policy refuses these settings");
    let policies = [Policy::new("convert", &module())
        .settings(settings)
        .allowed_to_mutate()];
    let (status, log) =
        Server::expect_exit(&binary(), &policies).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!status.success(), "policy-server exited with {status}");
    assert_eq!(
        log.lines().last(),
        Some(format!("Error: Policy settings are invalid: {message}").as_str()),
        "policy-server's log:\n{log}"
    );
}
