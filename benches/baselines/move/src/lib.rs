//! Floor baseline: the structural change of a conversion and nothing else (`moved.rs`).
//! policy-server turns every mutation into a JSONPatch, so this is the least a converting policy
//! costs there.

mod moved;

use kubewarden_policy_sdk::{
    protocol_version_guest, settings::SettingsValidationResponse, wapc_guest as guest,
};

use guest::prelude::*;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", moved::validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", protocol_version_guest);
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
