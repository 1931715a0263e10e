//! The policy through its waPC entry points, as policy-server calls them, for every kind and mode.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use native_sidecar_core::ALL_KINDS;
use native_sidecar_policy::{protocol_version, validate, validate_settings};
use native_sidecar_testdata::{
    Pair, admission_request, all_pairs, cases, consul_pairs, documents, kuma_pairs, linkerd_pairs,
    root,
};
use rstest::rstest;
use serde_json::{Value, json};

fn call(request: Value, settings: Value) -> ValidationResponse {
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("payload serializes");
    let raw = validate(&payload).expect("validate never returns a guest error");
    serde_json::from_slice(&raw).expect("response is a ValidationResponse")
}

/// An Istio pair of `kind` (the tests that use it expect Istio's messages).
fn pair_of_kind(kind: &str) -> Pair {
    all_pairs()
        .into_iter()
        .filter(|p| p.before.to_string().contains("\"istio-proxy\""))
        .find(|p| p.before["kind"] == kind)
        .unwrap_or_else(|| panic!("no test pair of kind {kind}"))
}

fn spec_path(kind: &str) -> &'static str {
    ALL_KINDS
        .iter()
        .find(|k| k.name() == kind)
        .map_or("(unknown kind)", |k| k.spec_path())
}

/// Every kind the policy handles, by name as requests carry it.
fn kinds() -> [&'static str; 8] {
    ALL_KINDS.map(|k| k.name())
}

#[test]
fn mutate_mode_converts_every_kind() {
    for kind in kinds() {
        let pair = pair_of_kind(kind);
        let response = call(admission_request(&pair.before, "CREATE"), json!({}));
        assert!(response.accepted, "{kind}: {:?}", response.message);
        assert_eq!(
            response.mutated_object.as_ref(),
            Some(&pair.after),
            "{kind}"
        );
        let again = call(admission_request(&pair.after, "CREATE"), json!({}));
        assert!(again.accepted);
        assert_eq!(
            again.mutated_object, None,
            "{kind}: native output must not change"
        );
    }
}

#[test]
fn validate_mode_rejects_classic_proxies_of_every_kind() {
    for kind in kinds() {
        let pair = pair_of_kind(kind);
        let response = call(
            admission_request(&pair.before, "CREATE"),
            json!({"mode": "validate"}),
        );
        assert!(!response.accepted, "{kind}");
        assert_eq!(response.mutated_object, None);
        let message = response.message.unwrap_or_default();
        let prefix = format!(
            "{}: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: istio-proxy (containers[",
            spec_path(kind)
        );
        assert!(message.starts_with(&prefix), "{kind}: {message}");
        let accepted = call(
            admission_request(&pair.after, "CREATE"),
            json!({"mode": "validate"}),
        );
        assert!(accepted.accepted, "{kind}: {:?}", accepted.message);
        assert_eq!(accepted.mutated_object, None);
    }
}

#[test]
fn workload_updates_convert_but_pod_updates_do_not() {
    let deployment = pair_of_kind("Deployment");
    let response = call(admission_request(&deployment.before, "UPDATE"), json!({}));
    assert_eq!(response.mutated_object, Some(deployment.after));
    let pod = pair_of_kind("Pod");
    let response = call(admission_request(&pod.before, "UPDATE"), json!({}));
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
}

#[test]
fn delete_and_other_kinds_are_accepted_untouched() {
    let pod = pair_of_kind("Pod");
    let response = call(admission_request(&pod.before, "DELETE"), json!({}));
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"containers": "x"}});
    let response = call(admission_request(&service, "CREATE"), json!({}));
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
}

#[test]
fn pods_without_proxy_ask_for_native_injection() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app", "image": "app"}]}});
    let response = call(admission_request(&pod, "CREATE"), json!({}));
    let mut expected = pod.clone();
    expected["metadata"]["annotations"] = json!({"sidecar.istio.io/nativeSidecar": "true"});
    assert_eq!(response.mutated_object, Some(expected));
    let response = call(
        admission_request(&pod, "CREATE"),
        json!({"requestNativeInjection": false}),
    );
    assert_eq!(response.mutated_object, None);
}

#[test]
fn opt_out_is_accepted_with_a_warning() {
    let mut pod = pair_of_kind("Pod").before;
    pod["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] = json!("false");
    let response = call(admission_request(&pod, "CREATE"), json!({}));
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
    assert_eq!(
        response.warnings,
        Some(vec!["sidecar.istio.io/nativeSidecar: \"false\" leaves istio-proxy as Istio renders it in classic mode; remove the annotation to run the proxy as a native sidecar".to_owned()])
    );
}

#[test]
fn refusals_carry_the_core_message() {
    let mut pod = pair_of_kind("Pod").before;
    pod["spec"]["initContainers"]
        .as_array_mut()
        .expect("fixture has init containers")
        .push(json!({"name": "istio-proxy", "image": "stale"}));
    let response = call(admission_request(&pod, "CREATE"), json!({}));
    assert!(!response.accepted);
    assert_eq!(
        response.message.as_deref(),
        Some(
            "spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
        )
    );
    assert_eq!(response.mutated_object, None);
}

#[rstest]
#[case::malformed(b"{\"request\": ".to_vec(), "cannot read the validation request: EOF while parsing a value at line 1 column 12")]
#[case::not_utf8(vec![0xff, 0xfe], "cannot read the validation request: expected value at line 1 column 1")]
#[case::bad_settings(br#"{"request": {}, "settings": {"mode": "audit"}}"#.to_vec(), "invalid policy settings: mode must be \"mutate\" or \"validate\", found the string \"audit\"")]
fn bad_payloads_are_rejected_not_errors(#[case] payload: Vec<u8>, #[case] message: &str) {
    let raw = validate(&payload).expect("never a guest error");
    let response: ValidationResponse = serde_json::from_slice(&raw).expect("a response");
    assert!(!response.accepted);
    assert_eq!(response.message.as_deref(), Some(message));
    assert_eq!(response.code, Some(400));
}

#[rstest]
#[case::empty(b"{}".to_vec(), true, None)]
#[case::full(br#"{"mode": "validate", "requestNativeInjection": false, "extraSidecars": [{"name": "vault-agent", "setupContainers": ["vault-agent-init"]}]}"#.to_vec(), true, None)]
#[case::unknown(br#"{"modes": "mutate"}"#.to_vec(), false, Some("unknown setting \"modes\": the settings are mode, requestNativeInjection, extraSidecars, meshes, onResourceIncrease, checkNodes, minKubeletVersion, kuma and consul (camelCase)"))]
#[case::wrong_type(br#"{"requestNativeInjection": "true"}"#.to_vec(), false, Some("requestNativeInjection must be true or false, found the string \"true\""))]
#[case::meshes(br#"{"meshes": ["linkerd"]}"#.to_vec(), true, None)]
#[case::unknown_mesh(br#"{"meshes": ["cilium"]}"#.to_vec(), false, Some("meshes[0] must be one of \"istio\", \"linkerd\", \"kuma\" and \"consul\", found the string \"cilium\""))]
#[case::not_json(b"mode: mutate".to_vec(), false, Some("settings are not valid JSON: expected value at line 1 column 1"))]
fn settings_validation(
    #[case] payload: Vec<u8>,
    #[case] valid: bool,
    #[case] message: Option<&str>,
) {
    let raw = validate_settings(&payload).expect("never a guest error");
    let response: SettingsValidationResponse = serde_json::from_slice(&raw).expect("a response");
    assert_eq!(response.valid, valid);
    assert_eq!(response.message.as_deref(), message);
}

/// The module answers `protocol_version` with its own JSON writer: the same bytes as the SDK's.
#[test]
fn protocol_version_is_the_sdks() {
    let ours = protocol_version(b"").expect("an answer");
    assert_eq!(ours, br#""v1""#);
    assert_eq!(
        ours,
        kubewarden_policy_sdk::protocol_version_guest(b"").expect("the SDK's answer")
    );
}

/// Linkerd's own classic output, and every Linkerd case, becomes Linkerd's native output through the
/// entry point; native output comes back with no patch, and validate mode accepts only that.
#[test]
fn linkerd_output_converts_exactly_through_the_entry_point() {
    let pairs: Vec<Pair> = linkerd_pairs()
        .into_iter()
        .chain(
            cases()
                .into_iter()
                .filter(|p| p.name.starts_with("linkerd-")),
        )
        .collect();
    assert!(pairs.len() >= 12, "only {} Linkerd pairs", pairs.len());
    for pair in pairs {
        let response = call(admission_request(&pair.before, "CREATE"), json!({}));
        assert!(response.accepted, "{}: {:?}", pair.name, response.message);
        assert_eq!(
            response.mutated_object.as_ref(),
            Some(&pair.after),
            "{}",
            pair.name
        );
        let again = call(admission_request(&pair.after, "CREATE"), json!({}));
        assert_eq!(again.mutated_object, None, "{}", pair.name);
        assert_eq!(again.warnings, None, "{}", pair.name);
        let kind = pair.before["kind"].as_str().unwrap_or_default().to_owned();
        let verdict = call(
            admission_request(&pair.before, "CREATE"),
            json!({"mode": "validate"}),
        );
        assert!(!verdict.accepted, "{}", pair.name);
        let message = verdict.message.unwrap_or_default();
        let prefix = format!(
            "{}: linkerd-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: ",
            spec_path(&kind)
        );
        assert!(message.starts_with(&prefix), "{}: {message}", pair.name);
        let accepted = call(
            admission_request(&pair.after, "CREATE"),
            json!({"mode": "validate"}),
        );
        assert!(accepted.accepted, "{}: {:?}", pair.name, accepted.message);
    }
}

#[test]
fn linkerd_pods_get_no_istio_annotation() {
    for pair in linkerd_pairs() {
        for object in [&pair.before, &pair.after] {
            if object["kind"] != "Pod" {
                continue;
            }
            let response = call(
                admission_request(object, "CREATE"),
                json!({"meshes": ["istio"]}),
            );
            assert!(response.accepted);
            assert_eq!(response.mutated_object, None, "{}", pair.name);
        }
    }
}

/// With `settings` merged into the pair's own (Kuma's timings, when it has them).
fn with_settings(pair: &Pair, settings: Value) -> Value {
    let mut merged = pair.settings.as_object().cloned().unwrap_or_default();
    if let Value::Object(settings) = settings {
        merged.extend(settings);
    }
    Value::Object(merged)
}

/// A mesh's own classic output, and every case of that mesh, becomes its native output through the
/// entry point with the pair's settings (Kuma's control plane timings); native output comes back
/// with no patch and no annotation of another mesh, and validate mode rejects the classic pod with
/// the mesh's rule (Consul's dataplanes go right after their setup containers, not before every
/// other init container) and accepts only the native one.
#[rstest]
#[case::kuma(
    kuma_pairs(),
    "kuma-",
    17,
    "kuma-sidecar must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: "
)]
#[case::consul(consul_pairs(), "consul-", 28, "consul-dataplane")]
fn mesh_output_converts_exactly_through_the_entry_point(
    #[case] goldens: Vec<Pair>,
    #[case] prefix: &str,
    #[case] count: usize,
    #[case] rule: &str,
) {
    let pairs: Vec<Pair> = goldens
        .into_iter()
        .chain(cases().into_iter().filter(|p| p.name.starts_with(prefix)))
        .collect();
    assert!(pairs.len() >= count, "only {} {prefix} pairs", pairs.len());
    for pair in pairs {
        let response = call(
            admission_request(&pair.before, "CREATE"),
            pair.settings.clone(),
        );
        assert!(response.accepted, "{}: {:?}", pair.name, response.message);
        assert_eq!(response.warnings, None, "{}", pair.name);
        assert_eq!(
            response.mutated_object.as_ref(),
            Some(&pair.after),
            "{}",
            pair.name
        );
        let again = call(
            admission_request(&pair.after, "CREATE"),
            pair.settings.clone(),
        );
        assert_eq!(again.mutated_object, None, "{}", pair.name);
        assert_eq!(again.warnings, None, "{}", pair.name);
        let kind = pair.before["kind"].as_str().unwrap_or_default().to_owned();
        let validate = with_settings(&pair, json!({"mode": "validate"}));
        let verdict = call(admission_request(&pair.before, "CREATE"), validate.clone());
        assert!(!verdict.accepted, "{}", pair.name);
        let message = verdict.message.unwrap_or_default();
        let prefix = format!("{}: {rule}", spec_path(&kind));
        assert!(message.starts_with(&prefix), "{}: {message}", pair.name);
        if prefix.ends_with("consul-dataplane") {
            assert!(
                message.contains("setup containers, right after them. Wrong place: "),
                "{}: {message}",
                pair.name
            );
        }
        let accepted = call(admission_request(&pair.after, "CREATE"), validate);
        assert!(accepted.accepted, "{}: {:?}", pair.name, accepted.message);
    }
}

/// Kuma-injected Pods, classic or native, handled or not, get no other mesh's annotation.
#[test]
fn kuma_pods_get_no_istio_annotation() {
    for pair in kuma_pairs() {
        for object in [&pair.before, &pair.after] {
            for meshes in [json!(["istio"]), json!(["istio", "linkerd", "kuma"])] {
                let settings = with_settings(&pair, json!({"meshes": meshes}));
                let handled = meshes != json!(["istio"]);
                let response = call(admission_request(object, "CREATE"), settings);
                assert!(response.accepted);
                // Converted to exactly Kuma's native output, or not changed at all.
                let expected = (handled && object == &pair.before).then(|| pair.after.clone());
                assert_eq!(response.mutated_object, expected, "{}", pair.name);
            }
        }
    }
}

/// A Pod that asks consul-k8s to inject it gets Consul's native switch, and nothing else; an old
/// dataplane stays classic with a warning that says why.
#[test]
fn consul_request_and_image_check_through_the_entry_point() {
    let inputs = root().join("consul/inputs");
    let asks = documents(&inputs.join("consul-request-native.yaml")).remove(0);
    let response = call(admission_request(&asks, "CREATE"), Value::Null);
    let mut expected = asks.clone();
    expected["metadata"]["annotations"]["consul.hashicorp.com/enable-consul-dataplane-as-sidecar"] =
        json!("true");
    assert_eq!(response.mutated_object, Some(expected));
    let old = documents(&inputs.join("consul-old-dataplane-1.6.8.yaml")).remove(0);
    let response = call(admission_request(&old, "CREATE"), Value::Null);
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
    let warnings = response.warnings.unwrap_or_default();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("(1.6.x has it from 1.6.9)"),
        "{warnings:?}"
    );
    let vouched = call(
        admission_request(&old, "CREATE"),
        json!({"consul": {"dataplaneSupportsNative": true}}),
    );
    assert!(vouched.mutated_object.is_some());
}
