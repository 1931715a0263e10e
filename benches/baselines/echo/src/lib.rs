//! Floor baseline: reads the request with the SDK and returns its object unchanged as
//! `mutated_object`, the least a mutating policy does (parse the request, write the object back).

#[path = "../../guest.rs"]
mod guest_entry;

use kubewarden_policy_sdk::{mutate_request, request::ValidationRequest, wapc_guest as guest};
use serde_json::Value;

use guest::prelude::*;

fn validate(payload: &[u8]) -> CallResult {
    let request: ValidationRequest<Value> = serde_json::from_slice(payload)?;
    mutate_request(request.request.object)
}
