//! What the JavaScript functions return, built on `serde_json::Value` so that it can be tested on
//! the host: the wasm glue in `lib.rs` only moves values across the JavaScript boundary.

use native_sidecar_core::{
    ALL_KINDS, Finding, Kind, Mode, OnResourceIncrease, Operation, PodResources, ResourceChange,
    ResourceList, Settings, meshes as known, resource_change, review,
};
use serde_json::{Map, Value, json};

use crate::patch;

/// Reads settings as the policy does, with the policy's message for mistakes. `undefined` and
/// `null` arrive as `Value::Null`, which means the defaults.
pub fn settings(value: &Value) -> Result<Settings, String> {
    Settings::from_json(value).map_err(|e| format!("invalid policy settings: {e}"))
}

/// The settings with every default filled in.
pub fn normalized_settings(value: &Value) -> Result<Value, String> {
    Ok(settings(value)?.to_json())
}

/// Runs the policy on a manifest as if it were being created, with the given settings: the
/// converted manifest, its patch and what the policy found. A rejection is an error carrying the
/// policy's message.
pub fn convert(manifest: &Value, settings_json: &Value) -> Result<Value, String> {
    let settings = settings(settings_json)?;
    let kind = kind_of(manifest)?;
    let mut converted = manifest.clone();
    let outcome = review(kind, Operation::Create, &mut converted, &settings);
    if let Some(message) = outcome.rejection {
        return Err(message);
    }
    let (patch, admission_patch) = if outcome.changed {
        let write = |patch: json_patch::Patch| {
            serde_json::to_value(patch).map_err(|e| format!("cannot write the patch: {e}"))
        };
        (
            write(patch::readable(manifest, &converted, kind.spec_pointer()))?,
            write(json_patch::diff(manifest, &converted))?,
        )
    } else {
        (Value::Array(Vec::new()), Value::Array(Vec::new()))
    };
    let resources = outcome
        .resources
        .unwrap_or_else(|| resource_change(kind, manifest, &converted));
    Ok(json!({
        "resources": resources_json(&resources),
        "manifest": converted,
        "changed": outcome.changed,
        "patch": patch,
        "admissionPatch": admission_patch,
        "warnings": outcome.warnings,
        "findings": findings(&outcome.findings),
        "expectedInitOrder": outcome.expected_init_order,
        "before": layout(manifest, kind),
        "after": layout(&converted, kind),
    }))
}

/// Checks a manifest the way validate mode (and so the audit scanner) does, whatever mode the
/// settings name, without changing it. Misplaced proxies are a result, not an error; objects the
/// policy refuses in every mode (two proxies, a proxy that cannot become a sidecar) are errors.
pub fn check(manifest: &Value, settings_json: &Value) -> Result<Value, String> {
    let mut settings = settings(settings_json)?;
    settings.mode = Mode::Validate;
    let kind = kind_of(manifest)?;
    let mut copy = manifest.clone();
    let outcome = review(kind, Operation::Create, &mut copy, &settings);
    if let (Some(message), true) = (&outcome.rejection, outcome.findings.is_empty()) {
        return Err(message.clone());
    }
    // Validate mode computed what converting would cost when it finds something to convert;
    // otherwise (or with onResourceIncrease: ignore) convert a copy the way mutate mode would.
    let resources = match outcome.resources {
        Some(resources) => resources,
        None => {
            let mut converted = manifest.clone();
            let mutate = Settings {
                mode: Mode::Mutate,
                on_resource_increase: OnResourceIncrease::Ignore,
                ..settings
            };
            review(kind, Operation::Create, &mut converted, &mutate);
            resource_change(kind, manifest, &converted)
        }
    };
    Ok(json!({
        "resources": resources_json(&resources),
        "valid": outcome.rejection.is_none(),
        "message": outcome.rejection,
        "warnings": outcome.warnings,
        "findings": findings(&outcome.findings),
        "expectedInitOrder": outcome.expected_init_order,
        "layout": layout(manifest, kind),
    }))
}

/// The kinds whose pod spec the policy reviews, as `{apiVersion, kind}` for a manifest's header.
pub fn kinds() -> Value {
    Value::Array(
        ALL_KINDS
            .iter()
            .map(|k| json!({"apiVersion": api_version(*k), "kind": k.name()}))
            .collect(),
    )
}

/// The meshes the policy knows: the ids the `meshes` setting takes and their containers.
pub fn meshes() -> Value {
    Value::Array(
        known()
            .into_iter()
            .map(|mesh| {
                json!({
                    "id": mesh.id,
                    "title": mesh.title,
                    "proxy": mesh.proxy,
                    "setupContainers": mesh.setup_containers,
                    "trailingContainers": mesh.trailing_containers,
                    "nativeAnnotation": mesh.native_annotation,
                })
            })
            .collect(),
    )
}

fn api_version(kind: Kind) -> String {
    match kind.group() {
        "" => "v1".to_owned(),
        group => format!("{group}/v1"),
    }
}

fn kind_of(manifest: &Value) -> Result<Kind, String> {
    Kind::from_object(manifest).ok_or_else(|| unsupported(manifest))
}

/// Why a manifest is not one the policy reviews. The policy itself accepts such objects untouched;
/// a tool asked to convert one should say so instead of returning it as if it had been checked.
fn unsupported(manifest: &Value) -> String {
    let supported = ALL_KINDS
        .iter()
        .map(|k| format!("{} ({})", k.name(), api_version(*k)))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(object) = manifest.as_object() else {
        return format!(
            "a manifest must be an object with apiVersion and kind, found {}; supported kinds: {supported}",
            type_name(manifest)
        );
    };
    let field = |key: &str| object.get(key).and_then(Value::as_str);
    match (field("apiVersion"), field("kind")) {
        (Some(api_version), Some(kind)) => format!(
            "{kind} ({api_version}) has no pod spec the policy reviews; supported kinds: {supported}"
        ),
        _ => format!(
            "the manifest has no apiVersion and kind strings, so its pod spec cannot be found; supported kinds: {supported}"
        ),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn findings(found: &[Finding]) -> Vec<Value> {
    found
        .iter()
        .map(|finding| {
            json!({
                "container": finding.container,
                "list": finding.list,
                "position": finding.position,
                "problem": finding.code(),
                "proxy": finding.proxy(),
                "message": finding.describe(),
            })
        })
        .collect()
}

/// The effective resources before and after, quantities in Kubernetes' canonical form.
fn resources_json(change: &ResourceChange) -> Value {
    fn list(list: &ResourceList) -> Value {
        Value::Object(
            list.iter()
                .map(|(name, quantity)| (name.clone(), Value::from(quantity.to_string())))
                .collect(),
        )
    }
    fn pod(resources: &PodResources) -> Value {
        json!({"requests": list(&resources.requests), "limits": list(&resources.limits)})
    }
    let rises: Vec<Value> = change
        .rises
        .iter()
        .map(|rise| {
            json!({
                "resource": rise.resource,
                "bound": rise.bound.as_str(),
                "before": rise.before.to_string(),
                "after": rise.after.to_string(),
                "message": rise.message,
            })
        })
        .collect();
    json!({
        "before": pod(&change.before),
        "after": pod(&change.after),
        "rises": rises,
        "refusals": change.refusals,
        "problems": change.problems,
    })
}

/// The container names of the pod spec in start order, init containers marked as sidecars when
/// they restart Always: what the playground draws before and after.
fn layout(manifest: &Value, kind: Kind) -> Value {
    let spec = manifest.pointer(kind.spec_pointer());
    let list = |key: &str| -> Vec<&Map<String, Value>> {
        spec.and_then(|s| s.get(key))
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    };
    let name = |c: &Map<String, Value>| c.get("name").and_then(Value::as_str).map(str::to_owned);
    let init: Vec<Value> = list("initContainers")
        .into_iter()
        .map(|c| {
            json!({
                "name": name(c),
                "sidecar": c.get("restartPolicy").and_then(Value::as_str) == Some("Always"),
            })
        })
        .collect();
    let containers: Vec<Option<String>> = list("containers").into_iter().map(name).collect();
    json!({
        "specPath": kind.spec_path(),
        "initContainers": init,
        "containers": containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic_pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sleep"},
            "spec": {
                "initContainers": [
                    {"name": "check-traffic", "image": "curl"},
                    {"name": "istio-init", "image": "proxyv2", "args": ["istio-iptables", "-d", "15090,15021,15020"]}
                ],
                "containers": [
                    {"name": "sleep", "image": "sleep"},
                    {"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"], "readinessProbe": {}}
                ]
            }
        })
    }

    fn names(layout: &Value) -> Vec<&str> {
        layout["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect()
    }

    #[test]
    fn convert_returns_the_manifest_its_patch_and_the_findings() {
        let before = classic_pod();
        let result = convert(&before, &Value::Null).unwrap();
        assert_eq!(result["changed"], true);
        assert_eq!(
            names(&result["after"]),
            ["istio-init", "istio-proxy", "check-traffic"]
        );
        assert_eq!(
            names(&result["before"]),
            ["check-traffic", "istio-init"],
            "the layout before is the input's"
        );
        assert_eq!(result["after"]["initContainers"][1]["sidecar"], true);
        assert_eq!(result["after"]["containers"], json!(["sleep"]));
        assert_eq!(
            result["expectedInitOrder"],
            json!(["istio-init", "istio-proxy", "check-traffic"])
        );
        let finding = &result["findings"][0];
        assert_eq!(finding["container"], "istio-proxy");
        assert_eq!(finding["list"], "containers");
        assert_eq!(finding["position"], 1);
        assert_eq!(finding["problem"], "notNative");
        assert_eq!(
            finding["message"],
            "istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers"
        );

        // istio-init goes first, then istio-proxy moves in after it; then its fields change.
        assert_eq!(
            result["patch"].as_array().unwrap()[..2],
            [
                json!({"op": "move", "from": "/spec/initContainers/1", "path": "/spec/initContainers/0"}),
                json!({"op": "move", "from": "/spec/containers/1", "path": "/spec/initContainers/1"}),
            ]
        );
        assert_eq!(
            result["patch"][2],
            json!({"op": "add", "path": "/spec/initContainers/1/restartPolicy", "value": "Always"})
        );
        for key in ["patch", "admissionPatch"] {
            let patch: json_patch::Patch = serde_json::from_value(result[key].clone()).unwrap();
            let mut patched = before.clone();
            json_patch::patch(&mut patched, &patch).unwrap();
            assert_eq!(patched, result["manifest"], "{key} gives the manifest");
            assert_ne!(patched, before);
        }
        assert_eq!(
            result["admissionPatch"],
            serde_json::to_value(json_patch::diff(&before, &result["manifest"])).unwrap(),
            "what policy-server sends"
        );
    }

    #[test]
    fn an_unchanged_manifest_has_an_empty_patch() {
        let native = convert(&classic_pod(), &Value::Null).unwrap()["manifest"].clone();
        let again = convert(&native, &Value::Null).unwrap();
        assert_eq!(again["changed"], false);
        assert_eq!(again["patch"], json!([]));
        assert_eq!(again["admissionPatch"], json!([]));
        assert_eq!(again["manifest"], native);
        assert_eq!(again["findings"], json!([]));
    }

    #[test]
    fn validate_mode_rejections_carry_the_policy_message() {
        let settings = json!({"mode": "validate"});
        let error = convert(&classic_pod(), &settings).unwrap_err();
        assert!(
            error.starts_with("spec: istio-proxy must run as a native sidecar"),
            "{error}"
        );
        assert!(
            error
                .ends_with("Expected initContainers order: istio-init, istio-proxy, check-traffic"),
            "{error}"
        );
    }

    #[test]
    fn check_reports_misplaced_containers_without_changing_anything() {
        let result = check(&classic_pod(), &json!({"mode": "mutate"})).unwrap();
        assert_eq!(result["valid"], false);
        assert!(
            result["message"]
                .as_str()
                .unwrap()
                .contains("istio-proxy (containers[1])")
        );
        assert_eq!(result["findings"][0]["problem"], "notNative");
        assert_eq!(names(&result["layout"]), ["check-traffic", "istio-init"]);

        let native = convert(&classic_pod(), &Value::Null).unwrap()["manifest"].clone();
        let result = check(&native, &Value::Null).unwrap();
        assert_eq!(result["valid"], true);
        assert_eq!(result["message"], Value::Null);
    }

    #[test]
    fn check_reports_an_init_container_that_starts_before_the_proxy() {
        let mut native = convert(&classic_pod(), &Value::Null).unwrap()["manifest"].clone();
        let init = native["spec"]["initContainers"].as_array_mut().unwrap();
        let moved = init.remove(2);
        init.insert(0, moved);
        let result = check(&native, &Value::Null).unwrap();
        assert_eq!(
            result["findings"],
            json!([{
                "container": "check-traffic",
                "list": "initContainers",
                "position": 0,
                "problem": "beforeProxy",
                "proxy": "istio-proxy",
                "message": "check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh",
            }])
        );
    }

    #[test]
    fn refusals_in_every_mode_are_errors_of_check_too() {
        let mut pod = classic_pod();
        pod["spec"]["initContainers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "istio-proxy", "restartPolicy": "Always"}));
        let error = check(&pod, &Value::Null).unwrap_err();
        assert!(
            error.starts_with("spec.initContainers already has a container named \"istio-proxy\""),
            "{error}"
        );
        assert_eq!(convert(&pod, &Value::Null).unwrap_err(), error);
    }

    /// `migrate` asks for more than the app and the proxy together.
    fn migrate_pod() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "migrate"},
            "spec": {"template": {"spec": {
                "initContainers": [{"name": "migrate", "image": "app", "resources": {"requests": {"cpu": "2", "memory": "256Mi"}}}],
                "containers": [
                    {"name": "app", "image": "app", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                    {"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"], "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}}}
                ]
            }}}
        })
    }

    const MIGRATE_RISE: &str = "converting istio-proxy raises the pod's effective cpu request from 2 to 2100m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value";

    #[test]
    fn convert_and_check_carry_the_effective_resources() {
        let expected = json!({
            "before": {"requests": {"cpu": "2", "memory": "1152Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            "after": {"requests": {"cpu": "2100m", "memory": "1152Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            "rises": [{"resource": "cpu", "bound": "request", "before": "2", "after": "2100m", "message": MIGRATE_RISE}],
            "refusals": [],
            "problems": [],
        });
        let converted = convert(&migrate_pod(), &Value::Null).unwrap();
        assert_eq!(converted["resources"], expected);
        assert_eq!(converted["warnings"], json!([MIGRATE_RISE]));
        // check says the same about the conversion it would ask for, whatever the setting.
        for setting in ["warn", "ignore"] {
            let checked = check(&migrate_pod(), &json!({"onResourceIncrease": setting})).unwrap();
            assert_eq!(checked["resources"], expected, "{setting}");
        }
        // Native already: nothing changes, before and after are the same.
        let native = check(&converted["manifest"], &Value::Null).unwrap();
        assert_eq!(native["resources"]["before"], expected["after"]);
        assert_eq!(native["resources"]["after"], expected["after"]);
        assert_eq!(native["resources"]["rises"], json!([]));
        let error = convert(&migrate_pod(), &json!({"onResourceIncrease": "reject"})).unwrap_err();
        assert!(error.starts_with(MIGRATE_RISE), "{error}");
    }

    #[test]
    fn invalid_settings_carry_the_policy_message() {
        let error = convert(&classic_pod(), &json!({"mode": "audit"})).unwrap_err();
        assert!(error.starts_with("invalid policy settings: "), "{error}");
        assert!(error.contains("audit"), "{error}");
        assert_eq!(
            check(&classic_pod(), &json!({"colour": 1})).unwrap_err(),
            "invalid policy settings: unknown setting \"colour\": the settings are mode, requestNativeInjection, extraSidecars, meshes, onResourceIncrease, checkNodes, minKubeletVersion, kuma and consul (camelCase)"
        );
    }

    #[test]
    fn kinds_without_a_pod_spec_are_errors() {
        let error = convert(
            &json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            &Value::Null,
        )
        .unwrap_err();
        assert!(
            error.starts_with("ConfigMap (v1) has no pod spec the policy reviews; supported kinds: Pod (v1), Deployment (apps/v1)"),
            "{error}"
        );
        let error = check(&json!([1]), &Value::Null).unwrap_err();
        assert!(
            error
                .starts_with("a manifest must be an object with apiVersion and kind, found a list"),
            "{error}"
        );
        let error = convert(&json!({"kind": "Pod"}), &Value::Null).unwrap_err();
        assert!(
            error.starts_with("the manifest has no apiVersion"),
            "{error}"
        );
    }

    #[test]
    fn normalized_settings_fill_in_the_defaults() {
        assert_eq!(
            normalized_settings(&json!({"mode": "validate"})).unwrap(),
            json!({"mode": "validate", "requestNativeInjection": true, "extraSidecars": [], "meshes": ["istio", "linkerd", "kuma", "consul"], "onResourceIncrease": "warn", "checkNodes": false, "minKubeletVersion": "1.33", "kuma": {"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "failureThreshold": 12}}, "consul": {"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 1, "failureThreshold": 10}, "dataplaneSupportsNative": false}})
        );
        assert_eq!(
            kinds()[3],
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet"})
        );
        assert_eq!(kinds().as_array().map(Vec::len), Some(8));
    }
}
