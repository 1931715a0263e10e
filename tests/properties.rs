//! Properties of the policy through its waPC `validate` entry point, as policy-server calls it, on
//! generated pods and workloads of all eight kinds (the generator of the core's property tests):
//! the response is the core's verdict, a mutated object is returned exactly when something changed,
//! feeding it back changes nothing, and validate mode accepts it.
//!
//! Cases: `PROPTEST_CASES` (default 256 here; the core's tests cover the rules in depth).

#[path = "../crates/core/tests/support/mod.rs"]
mod support;

use native_sidecar_core::{Kind, Mode, Operation, review};
use native_sidecar_policy::validate;
use native_sidecar_testdata::admission_request;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{ANY, VALID, lossless, proxies_in_place, sample, valid_for_kubernetes, with_mode};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

/// The response of `validate` as JSON; a guest error or a response that is not JSON fails the case.
fn call(request: &Value, settings: &Value) -> Result<Value, TestCaseError> {
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .map_err(|e| TestCaseError::fail(format!("payload: {e}")))?;
    let raw = validate(&payload)
        .map_err(|e| TestCaseError::fail(format!("validate returned a guest error: {e}")))?;
    serde_json::from_slice(&raw).map_err(|e| TestCaseError::fail(format!("response: {e}")))
}

fn accepted(response: &Value) -> bool {
    response["accepted"] == json!(true)
}

fn request(kind: Kind, object: &Value, operation: &str) -> Value {
    let mut request = admission_request(object, operation);
    // The generated objects carry their own kind; make sure the request names the same one.
    request["kind"]["kind"] = json!(kind.name());
    // The API server omits `name` when the object has none (generated metadata may be missing).
    if let Some(fields) = request.as_object_mut()
        && fields.get("name").is_some_and(Value::is_null)
    {
        fields.shift_remove("name");
    }
    request
}

fn operation_name(operation: u8) -> &'static str {
    match operation % 4 {
        0 | 1 => "CREATE",
        2 => "UPDATE",
        _ => "DELETE",
    }
}

proptest! {
    #![proptest_config(config())]

    /// The waPC layer reports exactly the core's verdict and output.
    #[test]
    fn validate_reports_the_core_verdict(sample in sample(ANY), operation in any::<u8>()) {
        let operation = operation_name(operation);
        let settings = sample.settings.to_json();
        let response = call(&request(sample.kind, &sample.object, operation), &settings)?;
        let mut expected = sample.object.clone();
        let outcome = review(sample.kind, Operation::parse(operation), &mut expected, &sample.settings);
        prop_assert_eq!(accepted(&response), outcome.rejection.is_none(), "{}", response);
        match &outcome.rejection {
            Some(message) => prop_assert_eq!(&response["message"], &json!(message)),
            None => {
                let returned = response.get("mutated_object").filter(|v| !v.is_null());
                prop_assert_eq!(returned.is_some(), outcome.changed, "{}", response);
                if let Some(mutated) = returned {
                    prop_assert_eq!(mutated, &expected);
                }
            }
        }
        let warnings = response.get("warnings").filter(|v| !v.is_null()).cloned();
        let expected_warnings = (!outcome.warnings.is_empty()).then(|| json!(outcome.warnings));
        prop_assert_eq!(warnings, expected_warnings);
    }

    /// A mutated object sent back is accepted untouched in mutate mode and accepted by validate
    /// mode; it is valid for Kubernetes, lossless and has its proxies in place.
    #[test]
    fn mutated_objects_round_trip(sample in sample(VALID)) {
        let mutate = with_mode(&sample.settings, Mode::Mutate);
        let response = call(&request(sample.kind, &sample.object, "CREATE"), &mutate.to_json())?;
        let Some(mutated) = response.get("mutated_object").filter(|v| !v.is_null()) else {
            return Ok(());
        };
        prop_assert!(accepted(&response));
        check(valid_for_kubernetes(sample.kind, mutated))?;
        check(lossless(sample.kind, &sample.object, mutated, &sample.settings))?;
        check(proxies_in_place(sample.kind, mutated, &sample.settings))?;
        for operation in ["CREATE", "UPDATE"] {
            let again = call(&request(sample.kind, mutated, operation), &mutate.to_json())?;
            prop_assert!(accepted(&again), "{}", again);
            prop_assert!(again.get("mutated_object").is_none_or(Value::is_null), "{}", again);
            let validate_mode = with_mode(&sample.settings, Mode::Validate).to_json();
            let verdict = call(&request(sample.kind, mutated, operation), &validate_mode)?;
            prop_assert!(accepted(&verdict), "validate mode rejects mutate's output: {}", verdict);
        }
    }
}

fn check(result: support::Check) -> Result<(), TestCaseError> {
    result.map_err(TestCaseError::fail)
}
