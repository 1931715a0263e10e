//! Bad input through the built module (`policy.wasm`), run in the local host the way policy-server
//! runs it: a fresh instance per evaluation. Every case has its expected outcome: a clear rejection
//! (with the message the user sees) or an accept that leaves the object untouched; never a trap, a
//! guest error (both a 500 for the user's request) or a hang.
//!
//! Needs the module: `make policy.wasm` (or set `POLICY_WASM` to another build).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use native_sidecar_core::{Kind, Operation, Settings, node_list, review_with};
use native_sidecar_host::kubernetes::{Cluster, Nodes, Response, SessionEntry};
use native_sidecar_host::{
    AdmissionResponse, ContextAwareResource, Host, Kubernetes, ValidationResponse,
};
use native_sidecar_testdata::{admission_request, awkward_node_list};
use serde_json::{Value, json};

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let path = std::env::var_os("POLICY_WASM").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policy.wasm"),
            PathBuf::from,
        );
        assert!(
            path.exists(),
            "{} is missing: build the module with `make policy.wasm` first",
            path.display()
        );
        let cache =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/policy-host-cache");
        Host::load_cached(&path, &cache)
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
    })
}

/// The guest's answer to raw `validate` bytes, on a fresh instance. A guest error or a trap fails.
fn validate_raw(payload: &[u8]) -> ValidationResponse {
    let instance = host().instantiate().expect("a fresh instance");
    let started = Instant::now();
    let raw = instance
        .call("validate", payload)
        .unwrap_or_else(|e| panic!("the guest failed instead of answering: {e}"));
    assert_within(started, Duration::from_secs(30));
    serde_json::from_slice(&raw).expect("the answer is a ValidationResponse")
}

/// The AdmissionResponse kwctl would print, on a fresh instance.
fn evaluate(request: &Value, settings: &Value) -> AdmissionResponse {
    let started = Instant::now();
    let response = host()
        .evaluate(request, settings)
        .unwrap_or_else(|e| panic!("the evaluation failed instead of answering: {e}"));
    assert_within(started, Duration::from_secs(60));
    response
}

fn assert_within(started: Instant, limit: Duration) {
    let took = started.elapsed();
    assert!(
        took < limit,
        "the evaluation took {took:?}, more than {limit:?}"
    );
}

/// A clear rejection: 400 for requests the policy cannot read, the policy's own message otherwise.
fn assert_rejected(response: &ValidationResponse, code: Option<u16>, message_starts: &str) {
    assert!(!response.accepted, "accepted: {response:?}");
    assert_eq!(response.code, code, "{response:?}");
    let message = response.message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with(message_starts),
        "message {message:?} does not start with {message_starts:?}"
    );
    assert_eq!(response.mutated_object, None);
}

fn assert_untouched(response: &AdmissionResponse) {
    assert!(response.allowed, "rejected: {:?}", response.status);
    assert_eq!(response.patch, None, "a patch for an object to leave alone");
    assert_eq!(response.status, None);
}

fn assert_refused(response: &AdmissionResponse, message: &str) {
    assert!(!response.allowed, "allowed: {response:?}");
    assert_eq!(response.patch, None);
    let status = response.status.as_ref().expect("a rejection has a status");
    assert_eq!(status.message.as_deref(), Some(message));
}

fn pod(containers: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "annotations": {"sidecar.istio.io/inject": "false"}},
        "spec": {"containers": containers}
    })
}

fn proxy() -> Value {
    json!({"name": "istio-proxy", "image": "istio/proxyv2", "args": ["proxy", "sidecar"]})
}

fn create(object: &Value) -> Value {
    admission_request(object, "CREATE")
}

#[test]
fn malformed_json_is_a_bad_request() {
    for payload in [
        &b"{\"request\": "[..],
        b"not json at all",
        b"",
        b"[]",
        b"null",
    ] {
        let response = validate_raw(payload);
        assert_rejected(&response, Some(400), "cannot read the validation request: ");
    }
}

#[test]
fn a_payload_without_request_is_a_bad_request() {
    let response = validate_raw(br#"{"settings": {}}"#);
    assert_rejected(
        &response,
        Some(400),
        "cannot read the validation request: missing field `request`",
    );
}

#[test]
fn a_payload_without_settings_is_a_bad_request() {
    // Kubewarden always sends settings (`{}` for none): a payload without them is not one of its
    // requests, and is refused rather than guessed at.
    let object = pod(json!([{"name": "app", "image": "app"}, proxy()]));
    let payload = json!({"request": create(&object)});
    let response = validate_raw(&serde_json::to_vec(&payload).expect("JSON"));
    assert_rejected(
        &response,
        Some(400),
        "cannot read the validation request: missing field `settings`",
    );
}

#[test]
fn an_object_that_is_null_is_accepted_untouched() {
    let mut request = create(&pod(json!([{"name": "app"}])));
    request["object"] = Value::Null;
    assert_untouched(&evaluate(&request, &json!({})));
}

#[test]
fn delete_requests_are_accepted_untouched() {
    let object = pod(json!([{"name": "app"}, proxy()]));
    let request = admission_request(&object, "DELETE");
    assert_eq!(request["object"], Value::Null);
    assert_untouched(&evaluate(&request, &json!({})));
    // Even with an object (admission sends the old one for DELETE only, but a host may not).
    let mut with_object = request.clone();
    with_object["object"] = object;
    assert_untouched(&evaluate(&with_object, &json!({})));
}

#[test]
fn unsupported_kinds_are_accepted_untouched() {
    let objects = [
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"containers": [proxy()]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}),
        // A custom resource that reuses a built-in kind name in another group is not ours.
        json!({"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": [{"name": "app"}, proxy()]}}}}),
    ];
    for object in objects {
        assert_untouched(&evaluate(&create(&object), &json!({})));
    }
    // A pod subresource (ephemeral containers, status) is not the pod spec to convert.
    let mut request = create(&pod(json!([{"name": "app"}, proxy()])));
    request["subResource"] = json!("status");
    assert_untouched(&evaluate(&request, &json!({})));
}

#[test]
fn containers_of_the_wrong_type_are_refused() {
    let cases = [
        (json!("app"), "the string \"app\""),
        (json!({"name": "app"}), "an object"),
        (json!(42), "the number 42"),
    ];
    for (containers, found) in cases {
        let response = evaluate(&create(&pod(containers)), &json!({}));
        assert_refused(
            &response,
            &format!("spec.containers must be a list of containers, found {found}"),
        );
    }
    let mut object = pod(json!([{"name": "app"}]));
    object["spec"]["initContainers"] = json!(true);
    assert_refused(
        &evaluate(&create(&object), &json!({})),
        "spec.initContainers must be a list of containers, found the boolean true",
    );
}

#[test]
fn containers_without_names() {
    // Without a proxy there is nothing to do; the API server refuses the nameless containers.
    let object = pod(json!([{"image": "app"}, {"name": null, "image": "b"}, 7]));
    assert_untouched(&evaluate(&create(&object), &json!({})));
    // Next to a classic proxy the proxy is converted and the nameless container kept as it was,
    // for the API server to refuse with its own message.
    let object = pod(json!([{"image": "app"}, proxy()]));
    let response = evaluate(&create(&object), &json!({}));
    assert!(response.allowed, "{:?}", response.status);
    let converted = response.apply_patch(&object).expect("the patch applies");
    assert_eq!(converted["spec"]["containers"], json!([{"image": "app"}]));
    assert_eq!(
        converted["spec"]["initContainers"][0]["name"],
        "istio-proxy"
    );
}

#[test]
fn duplicate_names() {
    // Duplicate application containers: not the policy's to judge (the API server refuses them).
    let object = pod(json!([{"name": "app"}, {"name": "app"}]));
    assert_untouched(&evaluate(&create(&object), &json!({})));
    // Two proxies: ambiguous, refused with the places.
    let object = pod(json!([{"name": "app"}, proxy(), proxy()]));
    assert_refused(
        &evaluate(&create(&object), &json!({})),
        "spec has 2 containers named \"istio-proxy\" (containers[1], containers[2]); keep a single proxy",
    );
    // A proxy in both lists.
    let mut object = pod(json!([{"name": "app"}, proxy()]));
    object["spec"]["initContainers"] = json!([proxy()]);
    assert_refused(
        &evaluate(&create(&object), &json!({})),
        "spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar",
    );
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn json_nested_deeper_than_the_parser_allows_is_a_bad_request() {
    // serde_json stops at 128 levels instead of overflowing the guest's stack.
    let object = serde_json::to_string(&pod(json!([{"name": "app"}]))).expect("JSON");
    let deep = object.replacen(
        "{\"name\"",
        &format!("{{\"deep\":{},\"name\"", nested(10_000)),
        1,
    );
    let payload = format!(
        r#"{{"request": {{"uid": "1", "operation": "CREATE", "kind": {{"group": "", "version": "v1", "kind": "Pod"}}, "object": {deep}}}, "settings": {{}}}}"#
    );
    let response = validate_raw(payload.as_bytes());
    assert_rejected(
        &response,
        Some(400),
        "cannot read the validation request: recursion limit exceeded",
    );
    // Within the limit, an unknown deep field is kept as it is.
    let mut object = pod(json!([{"name": "app"}, proxy()]));
    let fine: Value = serde_json::from_str(&nested(100)).expect("JSON");
    object["spec"]["containers"][0]["deep"] = fine.clone();
    let response = evaluate(&create(&object), &json!({}));
    let converted = response.apply_patch(&object).expect("the patch applies");
    assert_eq!(converted["spec"]["containers"][0]["deep"], fine);
}

#[test]
fn a_ten_megabyte_pod_with_thousands_of_containers() {
    let filler = "x".repeat(3_500);
    let mut containers: Vec<Value> = (0..3_000)
        .map(|at| json!({"name": format!("app-{at}"), "image": "app", "env": [{"name": "FILL", "value": filler}]}))
        .collect();
    containers.insert(1_500, proxy());
    let object = pod(Value::Array(containers));
    let size = serde_json::to_vec(&object).expect("JSON").len();
    assert!(size > 10_000_000, "only {size} bytes");
    let response = evaluate(&create(&object), &json!({}));
    assert!(response.allowed, "{:?}", response.status);
    let converted = response.apply_patch(&object).expect("the patch applies");
    assert_eq!(
        converted["spec"]["containers"].as_array().map(Vec::len),
        Some(3_000)
    );
    assert_eq!(
        converted["spec"]["initContainers"][0]["name"],
        "istio-proxy"
    );
    assert_eq!(converted["spec"]["containers"][1_500]["name"], "app-1500");
    // Validate mode reads the same pod and names the proxy to move.
    let response = evaluate(&create(&object), &json!({"mode": "validate"}));
    assert!(!response.allowed);
    let message = response.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.contains("istio-proxy (containers[1500]) runs in containers"),
        "{message}"
    );
}

#[test]
fn invalid_utf8_is_a_bad_request() {
    let mut payload = serde_json::to_vec(
        &json!({"request": create(&pod(json!([{"name": "app"}]))), "settings": {}}),
    )
    .expect("JSON");
    let at = payload
        .windows(5)
        .position(|w| w == b"\"app\"")
        .expect("the container name")
        + 1;
    payload[at] = 0xff;
    let response = validate_raw(&payload);
    assert_rejected(
        &response,
        Some(400),
        "cannot read the validation request: invalid unicode code point",
    );
    // Not UTF-8 anywhere.
    let response = validate_raw(&[0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe]);
    assert_rejected(&response, Some(400), "cannot read the validation request: ");
}

#[test]
fn wrong_typed_settings_are_refused() {
    let object = pod(json!([{"name": "app"}, proxy()]));
    let cases = [
        (
            json!({"mode": 1}),
            "mode must be \"mutate\" or \"validate\", found the number 1",
        ),
        (
            json!({"requestNativeInjection": "yes"}),
            "requestNativeInjection must be true or false, found the string \"yes\"",
        ),
        (
            json!({"extraSidecars": "vault-agent"}),
            "extraSidecars must be a list of {\"name\": \"...\", \"setupContainers\": [\"...\"]} entries, found the string \"vault-agent\"",
        ),
        (
            json!("mutate"),
            "settings must be an object such as {\"mode\": \"mutate\"}, found the string \"mutate\"",
        ),
        (
            json!([]),
            "settings must be an object such as {\"mode\": \"mutate\"}, found a list",
        ),
    ];
    for (settings, message) in cases {
        let verdict = host()
            .validate_settings(&settings)
            .expect("validate_settings answers");
        assert!(!verdict.valid);
        assert_eq!(verdict.message.as_deref(), Some(message));
        // Evaluated anyway (a host that skips validate_settings): refused with the same reason.
        let response = evaluate(&create(&object), &settings);
        assert!(!response.allowed);
        let status = response.status.expect("a status");
        assert_eq!(status.code, Some(400));
        assert_eq!(
            status.message,
            Some(format!("invalid policy settings: {message}"))
        );
    }
}

// ---- checkNodes: what the host answers for the nodes ----

const NODE_REQUEST: &str = "!KubernetesListResourceAll\napi_version: v1\nkind: Node\nlabel_selector: null\nfield_selector: null\nfield_masks:\n- metadata.name\n- status.nodeInfo.kubeletVersion\n";

/// The classic pod evaluated with checkNodes on, the host answering the node list from `cluster`.
fn evaluate_with_nodes(cluster: Cluster) -> (Value, AdmissionResponse) {
    let object = pod(json!([{"name": "app", "image": "app"}, proxy()]));
    let kubernetes = Kubernetes::new(
        BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
        cluster,
        false,
    );
    let started = Instant::now();
    let response = host()
        .with_kubernetes(Arc::new(kubernetes))
        .evaluate(&create(&object), &json!({"checkNodes": true}))
        .unwrap_or_else(|e| panic!("the evaluation failed instead of answering: {e}"));
    assert_within(started, Duration::from_secs(60));
    (object, response)
}

fn answered(response: Response) -> Cluster {
    Cluster::Replay(
        vec![SessionEntry::Exchange {
            request: NODE_REQUEST.to_owned(),
            response,
        }]
        .into(),
    )
}

fn payload(text: String) -> Cluster {
    answered(Response::Success { payload: text })
}

/// Accepted untouched with one warning starting with `start`.
fn assert_held_back(response: &AdmissionResponse, start: &str) {
    assert_untouched(response);
    let warnings = response.warnings.clone().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with(start), "{}", warnings[0]);
}

const UNREADABLE: &str =
    "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (";

#[test]
fn host_answers_that_are_not_node_lists_leave_the_pod_classic() {
    for (answer, reason) in [
        (
            "<html>502 Bad Gateway</html>".to_owned(),
            "the host's answer is not a node list: expected value at line 1 column 1",
        ),
        (
            String::new(),
            "the host's answer is not a node list: EOF while parsing a value",
        ),
        (
            r#"{"items": "nodes"}"#.to_owned(),
            "the host's answer is not a node list: invalid type: string",
        ),
        (
            r#"{"items": [{"status": {"nodeInfo": {"kubeletVersion": 133}}}]}"#.to_owned(),
            "the host's answer is not a node list: invalid type: integer `133`",
        ),
    ] {
        let (_, response) = evaluate_with_nodes(payload(answer));
        assert_held_back(&response, &format!("{UNREADABLE}{reason}"));
    }
}

#[test]
fn fields_the_policy_skips_may_nest_deeper_than_the_parser_builds() {
    // serde_json skips an unread value without building it, at any depth.
    let answer = format!(
        r#"{{"items": [{{"metadata": {{"name": "a", "labels": {}}}, "status": {{"nodeInfo": {{"kubeletVersion": "v1.33.0"}}}}}}]}}"#,
        nested(100_000)
    );
    let (object, response) = evaluate_with_nodes(payload(answer));
    assert!(response.allowed);
    let converted = response.apply_patch(&object).expect("the patch applies");
    assert_eq!(
        converted["spec"]["initContainers"][0]["name"],
        "istio-proxy"
    );
}

#[test]
fn a_failing_host_call_leaves_the_pod_classic() {
    let (_, response) = evaluate_with_nodes(answered(Response::Error {
        message: "etcdserver: request timed out".to_owned(),
    }));
    assert_held_back(
        &response,
        &format!("{UNREADABLE}Callback evaluation failure: etcdserver: request timed out)"),
    );
}

#[test]
fn nodes_without_status_or_with_garbage_versions_count_as_too_old() {
    let (_, response) = evaluate_with_nodes(payload(
        r#"{"kind": "NodeList", "items": [{"metadata": {"name": "new"}, "status": {"nodeInfo": {"kubeletVersion": "v1.34.0"}}}, {"metadata": {"name": "bare"}}, {"metadata": {"name": "null"}, "status": null}]}"#.to_owned(),
    ));
    assert_held_back(
        &response,
        "no native sidecar made: node \"bare\" reports no kubelet version, which counts as older than minKubeletVersion 1.33 (the oldest of 2 such nodes out of 3)",
    );
    let garbage = "v".repeat(1_000_000);
    let (_, response) = evaluate_with_nodes(payload(format!(
        r#"{{"items": [{{"metadata": {{"name": "odd"}}, "status": {{"nodeInfo": {{"kubeletVersion": "{garbage}"}}}}}}]}}"#
    )));
    assert_held_back(
        &response,
        &format!(
            "no native sidecar made: node \"odd\" reports kubelet version \"{}...\", which is not a version",
            "v".repeat(40)
        ),
    );
}

fn many_nodes(count: usize, old: Option<usize>) -> Cluster {
    let items = (0..count)
        .map(|at| {
            let version = if Some(at) == old { "v1.31.4" } else { "v1.34.1" };
            json!({"metadata": {"name": format!("node-{at:06}")}, "status": {"nodeInfo": {"kubeletVersion": version}}})
        })
        .collect();
    Cluster::Nodes(Arc::new(Nodes::new(items)))
}

#[test]
fn a_hundred_thousand_nodes() {
    let (object, response) = evaluate_with_nodes(many_nodes(100_000, None));
    assert!(response.allowed);
    let converted = response.apply_patch(&object).expect("the patch applies");
    assert_eq!(
        converted["spec"]["initContainers"][0]["name"],
        "istio-proxy"
    );

    let (_, response) = evaluate_with_nodes(many_nodes(100_000, Some(99_999)));
    assert_held_back(
        &response,
        "no native sidecar made: node \"node-099999\" runs kubelet v1.31.4, older than minKubeletVersion 1.33 (1 of 100000 nodes)",
    );
}

#[test]
fn awkward_node_answers_are_read_as_serde_reads_them() {
    // The module's reader skips what it does not read 64 bytes at a time with wasm SIMD: it must
    // decide as the core does natively on the nodes serde reads, for the list (compact, as
    // policy-server sends it, and pretty) and for one node.
    let settings_json = json!({"checkNodes": true});
    let settings = Settings::from_json(&settings_json).expect("valid settings");
    for seed in 0..150 {
        let list = awkward_node_list(seed);
        let nodes = node_list(&list).expect("the generated list is one serde reads");
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let pinned = nodes
            .iter()
            .map(|node| node.name.clone())
            .find(|name| !name.is_empty());
        let mut cases = vec![
            (None, payload(serde_json::to_string(&list).unwrap())),
            (None, payload(serde_json::to_string_pretty(&list).unwrap())),
        ];
        if let Some(name) = pinned {
            // get_resource for the pod's node, answered from the same items.
            cases.push((Some(name), Cluster::Nodes(Arc::new(Nodes::new(items)))));
        }
        for (node_name, cluster) in cases {
            let mut object = pod(json!([{"name": "app", "image": "app"}, proxy()]));
            if let Some(name) = &node_name {
                object["spec"]["nodeName"] = json!(name);
            }
            let kubernetes = Kubernetes::new(
                BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
                cluster,
                false,
            );
            let response = host()
                .with_kubernetes(Arc::new(kubernetes))
                .evaluate(&create(&object), &settings_json)
                .unwrap_or_else(|e| panic!("seed {seed}: the evaluation failed: {e}"));
            let mut expected = object.clone();
            let outcome = review_with(
                Kind::Pod,
                Operation::Create,
                &mut expected,
                &settings,
                &mut nodes.clone(),
            );
            let context = format!("seed {seed}, pinned to {node_name:?}");
            assert!(response.allowed, "{context}");
            assert_eq!(
                response.warnings.clone().unwrap_or_default(),
                outcome.warnings,
                "{context}"
            );
            let output = response.apply_patch(&object).expect("the patch applies");
            assert_eq!(output, expected, "{context}");
        }
    }
}

/// Numbers the policy does not mean to touch come back as the request wrote them, not as a float
/// parsed and written again (which would give `1` or `1000.0`, and for some `0.1`-like numbers
/// another float): the module keeps each number as its text (serde_json's `arbitrary_precision`,
/// Cargo.toml). Only an exponent is written in serde_json's one form, `e+3` for `E3` or `e3`.
#[test]
fn numbers_in_unknown_fields_come_back_as_written() {
    let kept = "1.0,0.1,-0,-0.0,1.50,12345678901234567890,123456789012345678901234567890,\
                0.30000000000000004,950757.7065291745,1.5e-7,5e-324,1e+2";
    let written = format!("[{kept},1E3,1e3]");
    let expected = format!("[{kept},1e+3,1e+3]");
    let mut object = pod(json!([{"name": "app", "image": "app"}, proxy()]));
    object["spec"]["containers"][0]["x-numbers"] = json!("@numbers@");
    let payload = serde_json::to_string(&json!({"request": create(&object), "settings": {}}))
        .expect("the payload serializes")
        .replace("\"@numbers@\"", &written);
    let instance = host().instantiate().expect("a fresh instance");
    let raw = instance
        .call("validate", payload.as_bytes())
        .unwrap_or_else(|e| panic!("the guest failed instead of answering: {e}"));
    let answer = String::from_utf8(raw).expect("the answer is UTF-8");
    let response: ValidationResponse =
        serde_json::from_str(&answer).expect("the answer is a ValidationResponse");
    assert!(response.accepted, "{answer}");
    let mutated = response
        .mutated_object
        .expect("the proxy became a native sidecar");
    assert_eq!(mutated["spec"]["initContainers"][0]["name"], "istio-proxy");
    assert!(
        answer.contains(&format!("\"x-numbers\":{expected}")),
        "{answer}"
    );
}
