//! The policy's waPC `validate` on any bytes: always a response (never a guest error or a panic),
//! always JSON with a boolean `accepted`; a rejection has a message; a mutated object sent back is
//! accepted without further change. `validate_settings` on the same bytes answers too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use native_sidecar_policy::{validate, validate_settings};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let response = respond(data);
    let accepted = response["accepted"].as_bool();
    assert!(accepted.is_some(), "no boolean accepted: {response}");
    if accepted == Some(false) {
        assert!(response["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    if let Some(mutated) = response.get("mutated_object").filter(|v| !v.is_null())
        && let Ok(mut payload) = serde_json::from_slice::<Value>(data)
    {
        payload["request"]["object"] = mutated.clone();
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let again = respond(&bytes);
        assert_eq!(
            again["accepted"],
            json!(true),
            "the output is rejected: {again}"
        );
        assert!(
            again.get("mutated_object").is_none_or(Value::is_null),
            "changed twice: {again}"
        );
    }

    let verdict = validate_settings(data).unwrap_or_else(|e| panic!("validate_settings: {e}"));
    let verdict: Value = serde_json::from_slice(&verdict).unwrap_or_else(|e| panic!("{e}"));
    assert!(verdict["valid"].is_boolean(), "{verdict}");
});

fn respond(payload: &[u8]) -> Value {
    let raw = validate(payload).unwrap_or_else(|e| panic!("validate returned a guest error: {e}"));
    serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("the response is not JSON: {e}"))
}
