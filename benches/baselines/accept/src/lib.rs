//! Floor baseline: reads the request with the SDK, as the policy does, and accepts it.

use kubewarden_policy_sdk::{
    accept_request, protocol_version_guest, request::ValidationRequest,
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
    // Parsed and dropped: the parse is the cost this baseline stands for.
    let _request: ValidationRequest<Value> = serde_json::from_slice(payload)?;
    accept_request()
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
