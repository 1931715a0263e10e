//! What every floor baseline registers with waPC, the same for all of them: the crate's own
//! `validate`, settings that are always valid, and the SDK's protocol version. Included by path,
//! like `move/src/moved.rs`: each baseline is its own module.

use kubewarden_policy_sdk::{
    protocol_version_guest, settings::SettingsValidationResponse, wapc_guest as guest,
};

use guest::prelude::*;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", crate::validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", protocol_version_guest);
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
