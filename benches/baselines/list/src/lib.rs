//! Floor baseline for reading nodes: the policy's host call for the node list
//! (`kubernetes/list_resources_all`, the same request bytes, so it shares the policy's reflector in
//! policy-server), the answer received and left unread, then the move floor's structural change.
//! What any policy that reads the nodes this way pays in policy-server; the rest is the policy's
//! own.

#[path = "../../guest.rs"]
mod guest_entry;

#[path = "../../move/src/moved.rs"]
mod moved;

use kubewarden_policy_sdk::wapc_guest as guest;

use guest::prelude::*;

/// The policy's request, byte for byte (`NODE_LIST_REQUEST` in the policy's `src/lib.rs`).
const NODE_LIST_REQUEST: &[u8] = br#"{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;

fn validate(payload: &[u8]) -> CallResult {
    // Received into the module's memory like the policy's, then dropped unread.
    let answer = guest::host_call(
        "kubewarden",
        "kubernetes",
        "list_resources_all",
        NODE_LIST_REQUEST,
    )?;
    drop(std::hint::black_box(answer));
    moved::validate(payload)
}
