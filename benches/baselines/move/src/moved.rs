//! The structural change of a conversion, shared by the move, list and get floor baselines: the
//! container named `istio-proxy` leaves `containers` and becomes the second init container (after
//! Istio's setup container) with `restartPolicy: Always`; the object goes back as
//! `mutated_object`. No checks, no annotations, no hooks.

use kubewarden_policy_sdk::{
    accept_request, mutate_request, request::ValidationRequest, wapc_guest::prelude::CallResult,
};
use serde_json::{Value, json};

pub fn validate(payload: &[u8]) -> CallResult {
    validate_request(serde_json::from_slice(payload)?)
}

/// [`validate`] on a request already read.
pub fn validate_request(request: ValidationRequest<Value>) -> CallResult {
    let mut object = request.request.object;
    let spec = match request.request.kind.kind.as_str() {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    match object.pointer_mut(spec).and_then(Value::as_object_mut) {
        Some(spec) => {
            let proxy = spec
                .get_mut("containers")
                .and_then(Value::as_array_mut)
                .and_then(|containers| {
                    let at = containers.iter().position(|c| c["name"] == "istio-proxy")?;
                    Some(containers.remove(at))
                });
            let Some(mut proxy) = proxy else {
                return accept_request();
            };
            proxy["restartPolicy"] = json!("Always");
            if let Some(init) = spec
                .entry("initContainers")
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                init.insert(init.len().min(1), proxy);
            }
            mutate_request(object)
        }
        None => accept_request(),
    }
}
