//! The Kubewarden policy: a thin waPC layer over `native-sidecar-core`.

use kubewarden_policy_sdk::{
    metadata::ProtocolVersion, response::ValidationResponse, settings::SettingsValidationResponse,
    wapc_guest as guest,
};
use native_sidecar_core::{
    Cluster, Kind, KubeletVersion, Node, Operation, Output, Settings, Support, answer_support,
    parse_node, parse_node_list, review_with, to_json_vec,
};
use serde::Deserialize;
use serde_json::Value;
use std::io::Write;

use guest::prelude::*;

// The allocator of the module (see its file); native builds keep the system's.
#[cfg(any(test, all(target_family = "wasm", not(target_feature = "atomics"))))]
mod pools;

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: pools::Pools = pools::Pools::new();

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", protocol_version);
}

/// Evaluates one admission request. Every failure is a response, never a guest error: a guest
/// error becomes a 500 that blocks the user's request with an unhelpful message.
pub fn validate(payload: &[u8]) -> CallResult {
    validate_with_host(payload, |binding, namespace, operation, request| {
        guest::host_call(binding, namespace, operation, request).map_err(|e| {
            // wapc-guest words every failure "Host error: <the host's message>": keep the message.
            let message = e.to_string();
            message
                .strip_prefix("Host error: ")
                .map_or(message.clone(), str::to_owned)
        })
    })
}

/// [`validate`] with the waPC host call as a parameter (binding, namespace, operation, payload),
/// so that tests can answer the policy's host capability calls.
pub fn validate_with_host(
    payload: &[u8],
    host_call: impl FnMut(&str, &str, &str, &[u8]) -> Result<Vec<u8>, String>,
) -> CallResult {
    let response = evaluate(payload, &mut HostCluster { host_call });
    // The answer is about the size of the request: one buffer, no regrowing.
    Ok(to_json_vec(&response, payload.len() + 256)?)
}

/// What the policy asks the host for with `checkNodes` on: the SDK's `ListAllResourcesRequest`
/// for `v1/Node`, with field masks so that only each node's name and kubelet version travel.
/// Written out rather than built: it never changes, and a test holds it equal to the SDK's.
pub const NODE_LIST_REQUEST: &[u8] = br#"{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;

/// How policy-evaluator words `get_resource` for an object that does not exist: "Cannot find
/// v1/Node named 'NAME' inside of namespace 'None'".
pub const NODE_NOT_FOUND: &str = "Cannot find v1/Node named ";

/// What the policy asks the host for a pod pinned to node `name`: the SDK's `GetResourceRequest`
/// for that `v1/Node`, with the field masks of [`NODE_LIST_REQUEST`]. policy-server answers it with
/// one API GET, cached 5 s per name, instead of the whole node list (SPEC section 12). Written
/// around the name rather than built with `json!`, whose value serializer the module has no other
/// use for; the name is escaped by the writer of the responses.
pub fn node_request(name: &str) -> Vec<u8> {
    // Writing into an Output cannot fail.
    let mut request = Output::with_capacity(192 + name.len());
    let _ = request.write_all(br#"{"api_version":"v1","kind":"Node","name":"#);
    let _ = serde_json::to_writer(&mut request, name);
    let _ = request.write_all(
        br#","namespace":null,"disable_cache":false,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#,
    );
    request.into_inner()
}

/// The cluster behind Kubewarden's `kubernetes/list_resources_all` and `kubernetes/get_resource`
/// host capabilities. Answers are read by the core's parsers rather than the SDK's typed
/// `List<Node>`: they build only the two fields the rule needs (serde skips each node's metadata
/// without building it), and they are the parsers the core's tests hold to bad input.
struct HostCluster<F> {
    host_call: F,
}

impl<F: FnMut(&str, &str, &str, &[u8]) -> Result<Vec<u8>, String>> HostCluster<F> {
    fn list(&mut self) -> Result<Vec<u8>, String> {
        (self.host_call)(
            "kubewarden",
            "kubernetes",
            "list_resources_all",
            NODE_LIST_REQUEST,
        )
    }
}

impl<F: FnMut(&str, &str, &str, &[u8]) -> Result<Vec<u8>, String>> Cluster for HostCluster<F> {
    fn nodes(&mut self) -> Result<Vec<Node>, String> {
        parse_node_list(&self.list()?)
    }

    /// Decided while the answer is read: no node is built per node.
    fn support(
        &mut self,
        node_name: Option<&str>,
        minimum: KubeletVersion,
    ) -> Result<Support, String> {
        answer_support(&self.list()?, node_name, minimum)
    }

    /// policy-server (policy-evaluator) reports a node that does not exist as a failed call
    /// whose message says it cannot find it: the core then decides from the whole list.
    fn node(&mut self, name: &str) -> Result<Option<Node>, String> {
        match (self.host_call)(
            "kubewarden",
            "kubernetes",
            "get_resource",
            &node_request(name),
        ) {
            Ok(answer) => parse_node(&answer).map(Some),
            Err(message) if message.contains(NODE_NOT_FOUND) => Ok(None),
            Err(message) => Err(message),
        }
    }
}

/// The parts of the validation payload the policy reads. The SDK's `ValidationRequest` would also
/// build `oldObject`, `userInfo` and `options` as JSON values on every call, doubling the parsing
/// of a workload UPDATE; here serde skips them without allocating.
#[derive(Deserialize)]
struct Payload {
    request: AdmissionRequest,
    settings: Value,
}

/// Field names as the SDK's `KubernetesAdmissionRequest` reads them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AdmissionRequest {
    kind: GroupKind,
    operation: String,
    #[serde(alias = "subResource")]
    sub_resource: String,
    object: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GroupKind {
    group: String,
    kind: String,
}

fn evaluate(payload: &[u8], cluster: &mut dyn Cluster) -> ValidationResponse {
    let request = match serde_json::from_slice::<Payload>(payload) {
        Ok(request) => request,
        Err(e) => {
            return rejection(
                format!("cannot read the validation request: {e}"),
                Some(400),
            );
        }
    };
    let settings = match Settings::from_json(&request.settings) {
        Ok(settings) => settings,
        Err(e) => return rejection(format!("invalid policy settings: {e}"), Some(400)),
    };
    let admission = request.request;
    if !admission.sub_resource.is_empty() {
        return accepted(None, Vec::new());
    }
    let Some(kind) = Kind::from_group_kind(&admission.kind.group, &admission.kind.kind) else {
        return accepted(None, Vec::new());
    };
    let mut object = admission.object;
    let outcome = review_with(
        kind,
        Operation::parse(&admission.operation),
        &mut object,
        &settings,
        cluster,
    );
    match outcome.rejection {
        Some(message) => ValidationResponse {
            warnings: non_empty(outcome.warnings),
            ..rejection(message, None)
        },
        None => accepted(outcome.changed.then_some(object), outcome.warnings),
    }
}

fn accepted(mutated_object: Option<Value>, warnings: Vec<String>) -> ValidationResponse {
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings: non_empty(warnings),
    }
}

fn rejection(message: String, code: Option<u16>) -> ValidationResponse {
    ValidationResponse {
        accepted: false,
        message: Some(message),
        code,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    }
}

fn non_empty(warnings: Vec<String>) -> Option<Vec<String>> {
    (!warnings.is_empty()).then_some(warnings)
}

/// The SDK's `protocol_version_guest`, written by the module's one JSON writer: the SDK's own
/// would bring a second copy of serde_json's string escaping for its `Vec` (600 bytes).
pub fn protocol_version(_payload: &[u8]) -> CallResult {
    Ok(to_json_vec(&ProtocolVersion::default(), 8)?)
}

/// Checks the settings a policy is deployed with; the payload is the settings object itself.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let verdict = serde_json::from_slice::<Value>(payload)
        .map_err(|e| format!("settings are not valid JSON: {e}"))
        .and_then(|value| Settings::from_json(&value));
    let response = SettingsValidationResponse {
        valid: verdict.is_ok(),
        message: verdict.err(),
    };
    Ok(to_json_vec(&response, 256)?)
}
