//! Floor baseline: reads the request with the SDK and returns its object unchanged as
//! `mutated_object`, the least a mutating policy does (parse the request, write the object back).

use kubewarden_policy_sdk::{
    mutate_request, protocol_version_guest, request::ValidationRequest,
    settings::SettingsValidationResponse, wapc_guest as guest,
};
use serde_json::Value;

use guest::prelude::*;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    let request: ValidationRequest<Value> = serde_json::from_slice(payload)?;
    mutate_request(request.request.object)
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
