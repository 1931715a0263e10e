//! checkNodes through the policy's entry point: what it asks the host for, and what it does with
//! the answer (a node list, an error, bytes that are not a node list).

use std::collections::BTreeSet;

use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListAllResourcesRequest,
};
use kubewarden_policy_sdk::response::ValidationResponse;
use native_sidecar_policy::{
    NODE_LIST_REQUEST, NODE_NOT_FOUND, node_request, validate, validate_with_host,
};
use native_sidecar_testdata::{admission_request, istio_pairs};
use rstest::rstest;
use serde_json::{Value, json};

/// One host call the policy made: binding, namespace, operation and payload.
type Call = (String, String, String, Vec<u8>);

/// Runs `validate` with a host that answers every call with `answer` and records the calls.
fn call_with(
    request: &Value,
    settings: Value,
    answer: impl Fn() -> Result<Vec<u8>, String>,
) -> (ValidationResponse, Vec<Call>) {
    call_answering(request, settings, |_| answer())
}

/// [`call_with`], answering each call by its operation.
fn call_answering(
    request: &Value,
    settings: Value,
    answer: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> (ValidationResponse, Vec<Call>) {
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    let mut calls = Vec::new();
    let raw = validate_with_host(&payload, |binding, namespace, operation, message| {
        calls.push((
            binding.to_owned(),
            namespace.to_owned(),
            operation.to_owned(),
            message.to_vec(),
        ));
        answer(operation)
    })
    .expect("validate never returns a guest error");
    (serde_json::from_slice(&raw).unwrap(), calls)
}

/// A host call of Kubewarden's Kubernetes capabilities.
fn kubernetes_call(operation: &str, payload: &[u8]) -> Call {
    (
        "kubewarden".to_owned(),
        "kubernetes".to_owned(),
        operation.to_owned(),
        payload.to_vec(),
    )
}

fn node_list(nodes: &[(&str, &str)]) -> Vec<u8> {
    let items: Vec<Value> = nodes
        .iter()
        .map(|(name, version)| {
            json!({"metadata": {"name": name}, "status": {"nodeInfo": {"kubeletVersion": version}}})
        })
        .collect();
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "NodeList", "items": items})).unwrap()
}

fn classic_pod() -> (Value, Value) {
    let pair = istio_pairs().into_iter().find(|p| p.name == "pod").unwrap();
    (admission_request(&pair.before, "CREATE"), pair.after)
}

fn checking() -> Value {
    json!({"checkNodes": true})
}

#[test]
fn the_request_is_the_sdks_list_all_resources_for_nodes_with_masks() {
    let sdk = ListAllResourcesRequest {
        api_version: "v1".to_owned(),
        kind: "Node".to_owned(),
        label_selector: None,
        field_selector: None,
        field_masks: Some(BTreeSet::from([
            "metadata.name".to_owned(),
            "status.nodeInfo.kubeletVersion".to_owned(),
        ])),
    };
    assert_eq!(
        String::from_utf8_lossy(NODE_LIST_REQUEST),
        serde_json::to_string(&sdk).unwrap()
    );
}

#[test]
fn new_nodes_convert_after_one_host_call() {
    let (request, after) = classic_pod();
    let (response, calls) = call_with(&request, checking(), || {
        Ok(node_list(&[("a", "v1.33.0"), ("b", "v1.34.2")]))
    });
    assert!(response.accepted);
    assert_eq!(response.mutated_object, Some(after));
    assert_eq!(response.warnings, None);
    assert_eq!(
        calls,
        [kubernetes_call("list_resources_all", NODE_LIST_REQUEST)]
    );
}

#[rstest]
#[case::old_node(
    Ok(br#"{"items":[{"metadata":{"name":"a"},"status":{"nodeInfo":{"kubeletVersion":"v1.33.0"}}},{"metadata":{"name":"b"},"status":{"nodeInfo":{"kubeletVersion":"v1.28.15-gke.1503000"}}}]}"#.to_vec()),
    "no native sidecar made: node \"b\" runs kubelet v1.28.15-gke.1503000, older than minKubeletVersion 1.33 (1 of 2 nodes)"
)]
#[case::without_status(
    Ok(br#"{"kind":"NodeList","items":[{"metadata":{"name":"a"}}]}"#.to_vec()),
    "no native sidecar made: node \"a\" reports no kubelet version, which counts as older than minKubeletVersion 1.33 (the only node)"
)]
#[case::not_json(
    Ok(b"upstream connect error".to_vec()),
    "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (the host's answer is not a node list: expected value at line 1 column 1)"
)]
#[case::host_error(
    Err("Policy has not been granted access to Kubernetes v1/Node resources".to_owned()),
    "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (Policy has not been granted access to Kubernetes v1/Node resources); add {apiVersion: v1, kind: Node} to the policy's spec.contextAwareResources"
)]
fn nodes_that_cannot_run_native_sidecars_leave_the_pod_classic(
    #[case] answer: Result<Vec<u8>, String>,
    #[case] warning_start: &str,
) {
    let (request, _) = classic_pod();
    let (response, calls) = call_with(&request, checking(), || answer.clone());
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
    assert_eq!(calls.len(), 1);
    let warnings = response.warnings.unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with(warning_start), "{}", warnings[0]);
}

#[test]
fn a_hundred_thousand_nodes() {
    let (request, after) = classic_pod();
    let names: Vec<String> = (0..100_000).map(|i| format!("node-{i:05}")).collect();
    let nodes: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v1.34.1")).collect();
    let answer = node_list(&nodes);
    let (response, _) = call_with(&request, checking(), || Ok(answer.clone()));
    assert_eq!(response.mutated_object, Some(after));

    let mut with_old = nodes.clone();
    with_old[54_321].1 = "v1.31.0";
    let answer = node_list(&with_old);
    let (response, _) = call_with(&request, checking(), || Ok(answer.clone()));
    assert_eq!(response.mutated_object, None);
    assert!(
        response.warnings.unwrap()[0]
            .starts_with("no native sidecar made: node \"node-54321\" runs kubelet v1.31.0, older than minKubeletVersion 1.33 (1 of 100000 nodes)")
    );
}

#[test]
fn without_check_nodes_the_host_is_never_called() {
    let (request, after) = classic_pod();
    let (response, calls) = call_with(&request, json!({}), || Err("unexpected".to_owned()));
    assert_eq!(response.mutated_object, Some(after));
    assert!(calls.is_empty());
}

/// Natively built, the SDK's host call stub fails without a reason: the policy still answers.
#[test]
fn a_host_that_answers_nothing_gets_a_warning() {
    let (request, _) = classic_pod();
    let payload = serde_json::to_vec(&json!({"request": request, "settings": checking()})).unwrap();
    let response: ValidationResponse =
        serde_json::from_slice(&validate(&payload).unwrap()).unwrap();
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
    assert!(response.warnings.unwrap()[0].starts_with(
        "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read ("
    ));
}

#[test]
fn the_pinned_request_is_the_sdks_get_resource_for_the_node_with_masks() {
    let sdk = GetResourceRequest {
        api_version: "v1".to_owned(),
        kind: "Node".to_owned(),
        name: "ip-10-0-1-2.eu-west-1.compute.internal".to_owned(),
        namespace: None,
        disable_cache: false,
        field_masks: Some(BTreeSet::from([
            "metadata.name".to_owned(),
            "status.nodeInfo.kubeletVersion".to_owned(),
        ])),
    };
    assert_eq!(
        String::from_utf8_lossy(&node_request("ip-10-0-1-2.eu-west-1.compute.internal")),
        serde_json::to_string(&sdk).unwrap()
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&node_request("a\"b")).unwrap()["name"],
        "a\"b"
    );
}

fn pinned(node: &str) -> (Value, Value) {
    let (mut request, mut after) = classic_pod();
    request["object"]["spec"]["nodeName"] = json!(node);
    after["spec"]["nodeName"] = json!(node);
    (request, after)
}

fn operations(calls: &[Call]) -> Vec<&str> {
    calls
        .iter()
        .map(|(_, _, operation, _)| operation.as_str())
        .collect()
}

/// A pod pinned to a new node in a cluster whose other nodes are old: one get_resource, no list.
#[test]
fn a_pinned_pod_reads_its_node_alone() {
    let (request, after) = pinned("worker-1");
    let (response, calls) = call_answering(&request, checking(), |operation| {
        match operation {
        "get_resource" => Ok(br#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"worker-1","labels":{"a":"b"}},"status":{"nodeInfo":{"kubeletVersion":"v1.34.1"}}}"#.to_vec()),
        _ => Ok(node_list(&[("worker-1", "v1.34.1"), ("worker-2", "v1.28.0")])),
    }
    });
    assert_eq!(response.mutated_object, Some(after));
    assert_eq!(response.warnings, None);
    assert_eq!(
        calls,
        [kubernetes_call("get_resource", &node_request("worker-1"))]
    );
}

/// policy-server's words for a node that does not exist: the whole list decides, as Istio's rule.
#[rstest]
#[case::all_new(&[("a", "v1.33.0")], true)]
#[case::one_old(&[("a", "v1.33.0"), ("b", "v1.31.0")], false)]
fn a_pinned_pod_whose_node_is_missing_is_decided_by_the_list(
    #[case] nodes: &[(&str, &str)],
    #[case] converted: bool,
) {
    let (request, after) = pinned("gone");
    let (response, calls) = call_answering(&request, checking(), |operation| match operation {
        "get_resource" => Err(format!(
            "Callback evaluation failure: {NODE_NOT_FOUND}'gone' inside of namespace 'None'"
        )),
        _ => Ok(node_list(nodes)),
    });
    assert_eq!(operations(&calls), ["get_resource", "list_resources_all"]);
    assert_eq!(response.mutated_object, converted.then_some(after));
}

/// Any other failure is reported, not retried as a list (policy-server would wait on a refused
/// LIST forever).
#[test]
fn a_pinned_pod_whose_node_cannot_be_read_stays_classic_with_a_warning() {
    let (request, _) = pinned("worker-1");
    let refused = "Callback evaluation failure: ApiError: nodes is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot get resource \"nodes\" in API group \"\" at the cluster scope: Forbidden";
    let (response, calls) = call_with(&request, checking(), || Err(refused.to_owned()));
    assert_eq!(operations(&calls), ["get_resource"]);
    assert_eq!(response.mutated_object, None);
    assert_eq!(
        response.warnings,
        Some(vec![format!(
            "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read ({refused}); let the policy-server's service account get, list and watch nodes (the ClusterRole and ClusterRoleBinding in policy.yaml), or set checkNodes: false"
        )])
    );
}
