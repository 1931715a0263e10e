//! Floor baseline for a pod pinned to one node: the policy's host call for that node
//! (`kubernetes/get_resource`, the same request bytes as the policy's `node_request`), the answer
//! received and left unread, then the move floor's structural change. What reading one node this
//! way costs any policy in policy-server; the rest is the policy's own.

#[path = "../../guest.rs"]
mod guest_entry;

// Only `validate_request`: this baseline reads the request itself.
#[allow(dead_code)]
#[path = "../../move/src/moved.rs"]
mod moved;

use kubewarden_policy_sdk::{request::ValidationRequest, wapc_guest as guest};
use serde_json::{Value, json};

use guest::prelude::*;

fn validate(payload: &[u8]) -> CallResult {
    let request: ValidationRequest<Value> = serde_json::from_slice(payload)?;
    if let Some(node) = pinned_node(&request.request.object) {
        // Built as the policy builds it (src/lib.rs `node_request`): the same bytes.
        let node_request = serde_json::to_vec(&json!({
            "api_version": "v1",
            "kind": "Node",
            "name": node,
            "namespace": null,
            "disable_cache": false,
            "field_masks": ["metadata.name", "status.nodeInfo.kubeletVersion"],
        }))?;
        // Received into the module's memory like the policy's, then dropped unread.
        let answer = guest::host_call("kubewarden", "kubernetes", "get_resource", &node_request)?;
        drop(std::hint::black_box(answer));
    }
    moved::validate_request(request)
}

/// The node a Pod names: its `nodeName`, else the first name its required node affinity selects
/// by `metadata.name`, as the DaemonSet controller writes it. No checks: the benchmark's pods are
/// pinned one way or the other.
fn pinned_node(pod: &Value) -> Option<&str> {
    let spec = pod.get("spec")?;
    spec.get("nodeName").and_then(Value::as_str).or_else(|| {
        spec.pointer(
            "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0",
        )?
        .as_str()
    })
}
