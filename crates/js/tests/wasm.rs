//! The core's behaviour, proven in wasm: Istio's, Linkerd's and Kuma's golden pairs, the conversion cases and the
//! article's two scenarios, run compiled to `wasm32-unknown-unknown` under Node
//! (`make js-tests`), both through the core's functions and through the JavaScript exports.
//! A wasm module cannot read files, so the fixtures are embedded; `fixtures.rs` checks on the host
//! that every file of `test_data/` is listed here.
#![cfg(target_arch = "wasm32")]

use native_sidecar_core::{Settings, review_manifest};
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

macro_rules! fixture {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../test_data/", $path)))
    };
}

/// An embedded file: its path under `test_data/` and its text.
type Fixture = (&'static str, &'static str);

/// Istio's injector output for the same workloads: classic, then native.
const ISTIO_PAIRS: [(Fixture, Fixture); 5] = [
    (
        fixture!("istio/daemonset.classic.yaml"),
        fixture!("istio/daemonset.native.yaml"),
    ),
    (
        fixture!("istio/hello.classic.yaml"),
        fixture!("istio/hello.native.yaml"),
    ),
    (
        fixture!("istio/job.classic.yaml"),
        fixture!("istio/job.native.yaml"),
    ),
    (
        fixture!("istio/pod.classic.yaml"),
        fixture!("istio/pod.native.yaml"),
    ),
    (
        fixture!("istio/replicaset.classic.yaml"),
        fixture!("istio/replicaset.native.yaml"),
    ),
];

/// `linkerd inject`'s output for the same workloads: classic, then native.
const LINKERD_PAIRS: [(Fixture, Fixture); 2] = [
    (
        fixture!("linkerd/emojivoto-deployment.classic.yaml"),
        fixture!("linkerd/emojivoto-deployment.native.yaml"),
    ),
    (
        fixture!("linkerd/emojivoto-pod.classic.yaml"),
        fixture!("linkerd/emojivoto-pod.native.yaml"),
    ),
];

/// Kuma's injector output for the same pods, classic then native, and the settings that hold its
/// control plane's startup probe timings.
const KUMA_PAIRS: [(Fixture, Fixture); 2] = [
    (
        fixture!("kuma/pod-01.classic.yaml"),
        fixture!("kuma/pod-01.native.yaml"),
    ),
    (
        fixture!("kuma/pod-02.classic.yaml"),
        fixture!("kuma/pod-02.native.yaml"),
    ),
];
const KUMA_SETTINGS: Fixture = fixture!("kuma/settings.yaml");

/// consul-k8s's webhook output for the same pods, classic then native.
const CONSUL_PAIRS: [(Fixture, Fixture); 2] = [
    (
        fixture!("consul/multiport.classic.yaml"),
        fixture!("consul/multiport.native.yaml"),
    ),
    (
        fixture!("consul/single.classic.yaml"),
        fixture!("consul/single.native.yaml"),
    ),
];

/// Two documents each: input, then the mesh's native rendering of it; a `# settings: {...}` line
/// in the header gives the settings that convert it.
const CASES: [Fixture; 61] = [
    fixture!("cases/check-traffic.yaml"),
    fixture!("cases/cni.yaml"),
    fixture!("cases/cronjob-kube-inject.yaml"),
    fixture!("cases/custom-lifecycle.yaml"),
    fixture!("cases/enable-core-dump.yaml"),
    fixture!("cases/hold-application.yaml"),
    fixture!("cases/interception-none.yaml"),
    fixture!("cases/proxy-overrides.yaml"),
    fixture!("cases/status-port-annotation.yaml"),
    fixture!("cases/status-port-zero.yaml"),
    fixture!("cases/linkerd-admin-port.yaml"),
    fixture!("cases/linkerd-await-disabled.yaml"),
    fixture!("cases/linkerd-cni.yaml"),
    fixture!("cases/linkerd-config-overrides.yaml"),
    fixture!("cases/linkerd-cronjob.yaml"),
    fixture!("cases/linkerd-custom-lifecycle.yaml"),
    fixture!("cases/linkerd-debug.yaml"),
    fixture!("cases/linkerd-job-pod.yaml"),
    fixture!("cases/linkerd-statefulset-init.yaml"),
    fixture!("cases/linkerd-wait-before-exit.yaml"),
    fixture!("cases/kuma-admin-port.yaml"),
    fixture!("cases/kuma-cni-gateway.yaml"),
    fixture!("cases/kuma-cni-validation.yaml"),
    fixture!("cases/kuma-cronjob.yaml"),
    fixture!("cases/kuma-deployment-init.yaml"),
    fixture!("cases/kuma-gateway-init.yaml"),
    fixture!("cases/kuma-init-first.yaml"),
    fixture!("cases/kuma-job.yaml"),
    fixture!("cases/kuma-startup-probe-zero.yaml"),
    fixture!("cases/kuma-statefulset.yaml"),
    fixture!("cases/kuma-user-sidecar-no-rewrite.yaml"),
    fixture!("cases/kuma-user-sidecar-probe-headers.yaml"),
    fixture!("cases/kuma-user-sidecar-probe-proxy.yaml"),
    fixture!("cases/kuma-user-sidecar-virtual-probes.yaml"),
    fixture!("cases/kuma-wait-for-dataplane-ready.yaml"),
    fixture!("cases/consul-api-defaulted.yaml"),
    fixture!("cases/consul-cni.yaml"),
    fixture!("cases/consul-cronjob.yaml"),
    fixture!("cases/consul-deployment.yaml"),
    fixture!("cases/consul-image-1.6.9-registry-port.yaml"),
    fixture!("cases/consul-image-1.7.5-ent-ubi.yaml"),
    fixture!("cases/consul-image-ent.yaml"),
    fixture!("cases/consul-image-v1.8.2.yaml"),
    fixture!("cases/consul-job.yaml"),
    fixture!("cases/consul-later-init.yaml"),
    fixture!("cases/consul-lifecycle-off.yaml"),
    fixture!("cases/consul-lifecycle-on.yaml"),
    fixture!("cases/consul-misplaced-multiport.yaml"),
    fixture!("cases/consul-misplaced.yaml"),
    fixture!("cases/consul-multiport-2.yaml"),
    fixture!("cases/consul-multiport-3.yaml"),
    fixture!("cases/consul-multiport-partial.yaml"),
    fixture!("cases/consul-probe-annotation-unparsable.yaml"),
    fixture!("cases/consul-probe-annotation-zero.yaml"),
    fixture!("cases/consul-probe-annotations.yaml"),
    fixture!("cases/consul-proxy-health-check.yaml"),
    fixture!("cases/consul-startup-failure-seconds.yaml"),
    fixture!("cases/consul-statefulset.yaml"),
    fixture!("cases/consul-tproxy-off.yaml"),
    fixture!("cases/consul-tproxy.yaml"),
    fixture!("cases/consul-user-init.yaml"),
];

const ARTICLE_JOB_POD: &str = include_str!("fixtures/article-job-pod.yaml");

fn documents(name: &str, text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn single((name, text): (&str, &str)) -> Value {
    let mut docs = documents(name, text);
    assert_eq!(docs.len(), 1, "{name} must hold one document");
    docs.remove(0)
}

/// A pair: its name, input, expected output and the settings (JSON) that convert it.
struct Pair(String, Value, Value, Value);

/// Every pair.
fn pairs() -> Vec<Pair> {
    let pair = |&(classic, native): &(Fixture, Fixture), settings: &Value| {
        Pair(
            classic.0.to_owned(),
            single(classic),
            single(native),
            settings.clone(),
        )
    };
    let mut pairs: Vec<Pair> = ISTIO_PAIRS
        .iter()
        .chain(&LINKERD_PAIRS)
        .chain(&CONSUL_PAIRS)
        .map(|p| pair(p, &Value::Null))
        .collect();
    let kuma = single(KUMA_SETTINGS);
    pairs.extend(KUMA_PAIRS.iter().map(|p| pair(p, &kuma)));
    for &(name, text) in &CASES {
        let mut docs = documents(name, text).into_iter();
        let (Some(before), Some(after), None) = (docs.next(), docs.next(), docs.next()) else {
            panic!("{name} must hold exactly two documents");
        };
        let settings = text
            .lines()
            .take_while(|line| line.starts_with('#'))
            .find_map(|line| line.strip_prefix("# settings: "))
            .map_or(Value::Null, |line| single((name, line)));
        pairs.push(Pair(name.to_owned(), before, after, settings));
    }
    pairs
}

fn core_convert(manifest: &Value, settings: &Settings) -> (Value, bool) {
    let mut object = manifest.clone();
    let outcome = review_manifest(&mut object, settings).expect("a kind with a pod spec");
    assert_eq!(outcome.rejection, None);
    (object, outcome.changed)
}

fn to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).expect("JSON the test wrote")
}

fn from_js(value: &JsValue) -> Value {
    let text = js_sys::JSON::stringify(value)
        .expect("a JSON value")
        .as_string()
        .expect("a string");
    serde_json::from_str(&text).expect("JSON from JSON.stringify")
}

fn js_convert(manifest: &Value, settings: Value) -> Result<Value, String> {
    native_sidecar_js::convert(to_js(manifest), Some(to_js(&settings)))
        .map(|result| from_js(&result))
        .map_err(error_message)
}

fn js_check(manifest: &Value, settings: Value) -> Result<Value, String> {
    native_sidecar_js::check(to_js(manifest), Some(to_js(&settings)))
        .map(|result| from_js(&result))
        .map_err(error_message)
}

/// Errors must reach JavaScript as `Error` objects, so `catch (e) { e.message }` works.
fn error_message(error: wasm_bindgen::JsError) -> String {
    let value = JsValue::from(error);
    let error = value
        .dyn_ref::<js_sys::Error>()
        .expect("thrown values are Error objects");
    String::from(error.message())
}

fn init_names(manifest: &Value, spec: &str) -> Vec<String> {
    manifest
        .pointer(&format!("{spec}/initContainers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

#[wasm_bindgen_test]
fn every_fixture_is_embedded_and_parses() {
    let pairs = pairs();
    assert_eq!(pairs.len(), 72);
    for Pair(name, before, after, _) in &pairs {
        assert_ne!(before, after, "{name}: input and expected output are equal");
    }
}

#[wasm_bindgen_test]
fn the_core_converts_every_pair_exactly_and_leaves_native_output_alone() {
    for Pair(name, before, after, settings) in pairs() {
        let settings = Settings::from_json(&settings).expect("valid settings");
        let (converted, changed) = core_convert(&before, &settings);
        assert!(changed, "{name}: classic input reported unchanged");
        assert_eq!(
            converted, after,
            "{name}: differs from the mesh's native output"
        );
        let (again, changed) = core_convert(&after, &settings);
        assert!(!changed, "{name}: native output reported changed");
        assert_eq!(again, after, "{name}: native output was edited");
    }
}

#[wasm_bindgen_test]
fn convert_gives_istio_native_output_and_a_patch_that_makes_it() {
    for Pair(name, before, after, settings) in pairs() {
        let result =
            js_convert(&before, settings.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result["changed"], true, "{name}");
        assert_eq!(
            result["manifest"], after,
            "{name}: differs from the mesh's native output"
        );
        for key in ["patch", "admissionPatch"] {
            let patch: json_patch::Patch =
                serde_json::from_value(result[key].clone()).expect("an RFC 6902 patch");
            assert!(!patch.0.is_empty(), "{name}: empty {key} for a change");
            let mut patched = before.clone();
            json_patch::patch(&mut patched, &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(patched, after, "{name}: {key} does not give the output");
        }
        // Every pair moves a container: the readable patch opens with a move, or with the
        // initContainers list a pod without one (Kuma's gateway on CNI) needs first.
        let patch = &result["patch"];
        let made = patch[0]["op"] == "add" && patch[0]["value"] == json!([]);
        let first = if made { &patch[1] } else { &patch[0] };
        assert_eq!(first["op"], "move", "{name}: {patch}");
        let findings = result["findings"].as_array().expect("findings");
        assert!(!findings.is_empty(), "{name}: a change without a finding");

        let again = js_convert(&after, settings).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again["changed"], false, "{name}");
        assert_eq!(again["patch"], json!([]), "{name}");
        assert_eq!(again["admissionPatch"], json!([]), "{name}");
        assert_eq!(again["findings"], json!([]), "{name}");
    }
}

#[wasm_bindgen_test]
fn check_accepts_istio_native_output_and_rejects_classic_output() {
    for Pair(name, before, after, settings) in pairs() {
        let verdict = js_check(&after, settings.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verdict["valid"], true, "{name}: {}", verdict["message"]);
        let verdict = js_check(&before, settings).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verdict["valid"], false, "{name}");
        let message = verdict["message"].as_str().expect("a rejection message");
        for finding in verdict["findings"].as_array().expect("findings") {
            let described = finding["message"].as_str().expect("a description");
            assert!(
                message.contains(described),
                "{name}: {message} lacks {described}"
            );
        }
    }
}

/// The article's first scenario: an init container that calls out through the mesh must start
/// after the proxy, or its traffic bypasses (or is refused by) the mesh.
#[wasm_bindgen_test]
fn check_traffic_runs_after_the_proxy() {
    let (_, text) = CASES[0];
    let mut docs = documents("check-traffic", text).into_iter();
    let before = docs.next().expect("input");
    assert_eq!(
        init_names(&before, "/spec"),
        ["check-traffic", "istio-init", "istio-proxy"]
    );

    let verdict = js_check(&before, json!({})).expect("a report");
    assert_eq!(verdict["valid"], false);
    assert_eq!(
        verdict["findings"],
        json!([{
            "container": "check-traffic",
            "list": "initContainers",
            "position": 0,
            "problem": "beforeProxy",
            "proxy": "istio-proxy",
            "message": "check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh",
        }])
    );
    assert_eq!(
        verdict["expectedInitOrder"],
        json!(["istio-init", "istio-proxy", "check-traffic"])
    );

    let error = js_convert(&before, json!({"mode": "validate"})).expect_err("validate rejects");
    assert_eq!(error, verdict["message"]);
    assert!(
        error.ends_with("Expected initContainers order: istio-init, istio-proxy, check-traffic"),
        "{error}"
    );

    let result = js_convert(&before, json!({})).expect("converted");
    assert_eq!(
        init_names(&result["manifest"], "/spec"),
        ["istio-init", "istio-proxy", "check-traffic"]
    );
    assert_eq!(
        result["after"]["initContainers"],
        json!([
            {"name": "istio-init", "sidecar": false},
            {"name": "istio-proxy", "sidecar": true},
            {"name": "check-traffic", "sidecar": false},
        ])
    );
}

/// The article's second scenario: a Job's pod whose app exits. The proxy must be a native sidecar
/// so that it stops after the app and the pod completes.
#[wasm_bindgen_test]
fn a_job_pod_completes_because_the_proxy_becomes_a_native_sidecar() {
    let before = single(("article-job-pod.yaml", ARTICLE_JOB_POD));
    let result = js_convert(&before, json!({})).expect("converted");
    let pod = &result["manifest"];
    assert_eq!(
        pod["spec"]["restartPolicy"], "Never",
        "the pod's policy stays"
    );
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["report"], "only the app is a regular container");
    assert_eq!(init_names(pod, "/spec"), ["istio-init", "istio-proxy"]);
    let proxy = &pod["spec"]["initContainers"][1];
    assert_eq!(proxy["restartPolicy"], "Always");
    assert_eq!(
        proxy["lifecycle"]["preStop"]["exec"]["command"],
        json!([
            "pilot-agent",
            "request",
            "--debug-port=15020",
            "POST",
            "drain"
        ])
    );
    assert_eq!(
        proxy["readinessProbe"], before["spec"]["containers"][1]["readinessProbe"],
        "the proxy keeps its probe"
    );
    let status = pod["metadata"]["annotations"]["sidecar.istio.io/status"]
        .as_str()
        .expect("status annotation");
    assert!(
        status.starts_with(r#"{"initContainers":["istio-init","istio-proxy"],"containers":null,"#),
        "{status}"
    );

    // Istio's own Job golden: the same through a workload template.
    let ((_, classic), (_, native)) = ISTIO_PAIRS[2];
    let job = single(("job.classic.yaml", classic));
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let result = js_convert(&job, json!({})).expect("converted");
    assert_eq!(result["manifest"], single(("job.native.yaml", native)));
    assert_eq!(result["after"]["specPath"], "spec.template.spec");
    assert_eq!(
        result["after"]["initContainers"],
        json!([
            {"name": "istio-init", "sidecar": false},
            {"name": "istio-proxy", "sidecar": true},
        ])
    );
}

#[wasm_bindgen_test]
fn errors_are_javascript_errors_with_the_policy_messages() {
    let pod = single(("article-job-pod.yaml", ARTICLE_JOB_POD));
    let error = js_convert(&pod, json!({"mode": "enforce"})).expect_err("invalid settings");
    assert!(error.starts_with("invalid policy settings: "), "{error}");
    assert!(error.contains("enforce"), "{error}");

    let error = js_convert(&json!({"apiVersion": "v1", "kind": "Service"}), json!({}))
        .expect_err("unsupported kind");
    assert!(
        error.starts_with("Service (v1) has no pod spec the policy reviews"),
        "{error}"
    );

    let mut two_proxies = pod.clone();
    let proxy = two_proxies["spec"]["containers"][1].clone();
    two_proxies["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(proxy);
    let error = js_convert(&two_proxies, json!({})).expect_err("two proxies");
    assert!(
        error.starts_with("spec has 2 containers named \"istio-proxy\""),
        "{error}"
    );

    let error = native_sidecar_js::convert(JsValue::from_str("{\"kind\":"), None)
        .map_err(error_message)
        .expect_err("broken JSON text");
    assert!(
        error.starts_with("the manifest is not valid JSON"),
        "{error}"
    );
}

#[wasm_bindgen_test]
fn a_manifest_can_be_json_text_and_settings_can_be_left_out() {
    let pod = single(("article-job-pod.yaml", ARTICLE_JOB_POD));
    let from_text = native_sidecar_js::convert(
        JsValue::from_str(&pod.to_string()),
        Some(JsValue::UNDEFINED),
    )
    .map(|r| from_js(&r))
    .map_err(error_message)
    .expect("converted");
    assert_eq!(from_text, js_convert(&pod, json!({})).expect("converted"));
    let settings = native_sidecar_js::normalize_settings(Some(JsValue::NULL))
        .map(|r| from_js(&r))
        .map_err(error_message)
        .expect("defaults");
    assert_eq!(
        settings,
        json!({"mode": "mutate", "requestNativeInjection": true, "extraSidecars": [], "meshes": ["istio", "linkerd", "kuma", "consul"], "onResourceIncrease": "warn", "checkNodes": false, "minKubeletVersion": "1.33", "kuma": {"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "failureThreshold": 12}}, "consul": {"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 1, "failureThreshold": 10}, "dataplaneSupportsNative": false}})
    );
}

/// The effective resources cross into JavaScript with the quantities in Kubernetes' canonical
/// form, and the rise is both a warning and a highlighted entry.
#[wasm_bindgen_test]
fn the_effective_resources_before_and_after_reach_javascript() {
    let mut pod = single(("article-job-pod.yaml", ARTICLE_JOB_POD));
    pod["spec"]["initContainers"]
        .as_array_mut()
        .expect("init containers")
        .push(json!({"name": "migrate", "image": "app", "resources": {"requests": {"cpu": "1.5", "memory": "0.5Gi"}}}));
    pod["spec"]["containers"][1]["resources"] =
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}});
    let result = js_convert(&pod, json!({})).expect("converted");
    let rise = "converting istio-proxy raises the pod's effective cpu request from 1500m to 1600m: init container \"migrate\" (1500m) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value";
    assert_eq!(
        result["resources"],
        json!({
            "before": {"requests": {"cpu": "1500m", "memory": "512Mi"}, "limits": {}},
            "after": {"requests": {"cpu": "1600m", "memory": "640Mi"}, "limits": {}},
            "rises": [
                {"resource": "cpu", "bound": "request", "before": "1500m", "after": "1600m", "message": rise},
                {"resource": "memory", "bound": "request", "before": "512Mi", "after": "640Mi", "message": "converting istio-proxy raises the pod's effective memory request from 512Mi to 640Mi: init container \"migrate\" (512Mi) now runs beside istio-proxy (128Mi); ResourceQuota, LimitRange and scheduling count the new value"},
            ],
            "refusals": [],
            "problems": [],
        })
    );
    assert_eq!(result["warnings"][0], rise);
    let checked = js_check(&pod, json!({})).expect("checked");
    assert_eq!(checked["resources"], result["resources"]);
    assert!(
        checked["message"].as_str().unwrap_or_default().ends_with(". Converting istio-proxy raises the pod's effective memory request from 512Mi to 640Mi: init container \"migrate\" (512Mi) now runs beside istio-proxy (128Mi); ResourceQuota, LimitRange and scheduling count the new value"),
        "{}",
        checked["message"]
    );
}
