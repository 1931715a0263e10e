//! Floor baseline: reads the request with the SDK, as the policy does, and accepts it.

#[path = "../../guest.rs"]
mod guest_entry;

use kubewarden_policy_sdk::{accept_request, request::ValidationRequest, wapc_guest as guest};
use serde_json::Value;

use guest::prelude::*;

fn validate(payload: &[u8]) -> CallResult {
    // Parsed and dropped: the parse is the cost this baseline stands for.
    let _request: ValidationRequest<Value> = serde_json::from_slice(payload)?;
    accept_request()
}
