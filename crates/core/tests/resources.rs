//! The pod's effective requests and limits (KEP-753, `PodRequests`/`PodLimits`) before and after the
//! policy's change, the warnings and refusals they lead to, and the `onResourceIncrease` setting.

use native_sidecar_core::{
    Kind, Mode, OnResourceIncrease, Operation, Outcome, ResourceChange, Settings, SidecarRule,
    resource_change, review, review_manifest,
};
use native_sidecar_testdata::{all_pairs, root};
use rstest::rstest;
use serde_json::{Value, json};

fn resources(requests: Value, limits: Value) -> Value {
    let mut resources = json!({});
    if !requests.is_null() {
        resources["requests"] = requests;
    }
    if !limits.is_null() {
        resources["limits"] = limits;
    }
    resources
}

fn container(name: &str, requests: Value) -> Value {
    json!({"name": name, "image": "busybox", "resources": resources(requests, Value::Null)})
}

fn sidecar(name: &str, requests: Value) -> Value {
    let mut sidecar = container(name, requests);
    sidecar["restartPolicy"] = json!("Always");
    sidecar
}

fn proxy(requests: Value) -> Value {
    json!({"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"], "resources": resources(requests, Value::Null)})
}

/// The issue's pod: `init`, then an app (500m cpu) and Istio's proxy (100m).
fn app_and_proxy(init: Vec<Value>) -> Value {
    pod(
        init,
        vec![
            container("app", json!({"cpu": "500m"})),
            proxy(json!({"cpu": "100m"})),
        ],
    )
}

fn pod(init: Vec<Value>, containers: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "migrate"},
        "spec": {"initContainers": init, "containers": containers}
    })
}

fn mutate_with(object: &Value, settings: &Settings) -> (Value, Outcome) {
    let mut copy = object.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut copy, settings);
    (copy, outcome)
}

fn mutate(object: &Value) -> (Value, Outcome) {
    mutate_with(object, &Settings::default())
}

/// The effective resources of a pod as `{"requests": {...}, "limits": {...}}` of printed quantities.
fn effective(kind: Kind, object: &Value) -> Value {
    printed(&resource_change(kind, object, object).before)
}

fn printed(resources: &native_sidecar_core::PodResources) -> Value {
    let list = |list: &native_sidecar_core::ResourceList| -> Value {
        list.iter()
            .map(|(k, q)| (k.clone(), Value::from(q.to_string())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({"requests": list(&resources.requests), "limits": list(&resources.limits)})
}

fn change(outcome: &Outcome) -> &ResourceChange {
    outcome
        .resources
        .as_ref()
        .expect("the review computed the resources")
}

const MIGRATE_RISE: &str = "converting istio-proxy raises the pod's effective cpu request from 2 to 2100m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value";

// ---- the formula itself, on pods that do not change ----

#[rstest]
// No init containers: the containers add up.
#[case::no_init(
    pod(vec![], vec![container("app", json!({"cpu": "500m", "memory": "1Gi"})), container("log", json!({"cpu": "0.25", "memory": "512Mi"}))]),
    json!({"requests": {"cpu": "750m", "memory": "1536Mi"}, "limits": {}})
)]
// An init container smaller than the containers: the containers win.
#[case::init_smaller(
    pod(vec![container("migrate", json!({"cpu": "200m"}))], vec![container("app", json!({"cpu": "500m"}))]),
    json!({"requests": {"cpu": "500m"}, "limits": {}})
)]
// Larger: it wins, alone.
#[case::init_larger(
    pod(vec![container("migrate", json!({"cpu": "2"}))], vec![container("app", json!({"cpu": "500m"}))]),
    json!({"requests": {"cpu": "2"}, "limits": {}})
)]
// KEP-753: an init container counts with the sidecars started before it; sidecars add to the app.
#[case::sidecars_in_order(
    pod(
        vec![
            sidecar("s1", json!({"cpu": "1"})),
            container("i1", json!({"cpu": "4"})),
            sidecar("s2", json!({"cpu": "1"})),
            container("i2", json!({"cpu": "1"})),
        ],
        vec![container("app", json!({"cpu": "1"}))]
    ),
    json!({"requests": {"cpu": "5"}, "limits": {}})
)]
#[case::sidecars_sum_wins(
    pod(
        vec![sidecar("s1", json!({"cpu": "1"})), container("i1", json!({"cpu": "1500m"})), sidecar("s2", json!({"cpu": "1"}))],
        vec![container("app", json!({"cpu": "1"}))]
    ),
    json!({"requests": {"cpu": "3"}, "limits": {}})
)]
// Requests default to limits; a container with requests only sets no limit.
#[case::limits_without_requests(
    pod(
        vec![json!({"name": "migrate", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}})],
        vec![json!({"name": "app", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}})]
    ),
    json!({"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}})
)]
#[case::requests_without_limits(
    pod(vec![], vec![json!({"name": "app", "resources": {"requests": {"memory": "64Mi"}}}), json!({"name": "b", "resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "128Mi"}}})]),
    json!({"requests": {"memory": "128Mi"}, "limits": {"memory": "128Mi"}})
)]
#[case::no_resources(
    pod(vec![json!({"name": "migrate"})], vec![json!({"name": "app", "resources": {}}), json!({"name": "b", "resources": null})]),
    json!({"requests": {}, "limits": {}})
)]
// Overhead adds to every request, and only to the limits that are set and not zero.
#[case::overhead({
    let mut pod = pod(vec![], vec![json!({"name": "app", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "0"}}})]);
    pod["spec"]["overhead"] = json!({"cpu": "250m", "memory": "120Mi", "example.com/slots": "1"});
    pod
}, json!({"requests": {"cpu": "1250m", "example.com/slots": "1", "memory": "1144Mi"}, "limits": {"cpu": "2250m", "memory": "0"}}))]
// Pod-level resources replace the containers' for cpu, memory and hugepages, not for the rest.
#[case::pod_level({
    let mut pod = pod(vec![container("migrate", json!({"cpu": "2", "ephemeral-storage": "1Gi"}))], vec![container("app", json!({"cpu": "1", "memory": "1Gi"}))]);
    pod["spec"]["resources"] = json!({"requests": {"cpu": "3", "ephemeral-storage": "5Gi"}, "limits": {"memory": "4Gi"}});
    pod
}, json!({"requests": {"cpu": "3", "ephemeral-storage": "1Gi", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}))]
// Pod-level limits alone: requests default to the containers' (cpu, memory), else to the limit.
#[case::pod_level_limits_only({
    let mut pod = pod(vec![], vec![container("app", json!({"cpu": "1"}))]);
    pod["spec"]["resources"] = json!({"limits": {"cpu": "4", "memory": "2Gi"}});
    pod
}, json!({"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "2Gi"}}))]
#[case::hugepages_and_extended(
    pod(
        vec![json!({"name": "migrate", "resources": {"limits": {"hugepages-2Mi": "1Gi", "nvidia.com/gpu": "1", "cpu": "1"}}})],
        vec![json!({"name": "app", "resources": {"limits": {"hugepages-2Mi": "256Mi", "nvidia.com/gpu": "2", "cpu": "1"}}})]
    ),
    json!({"requests": {"cpu": "1", "hugepages-2Mi": "1Gi", "nvidia.com/gpu": "2"}, "limits": {"cpu": "1", "hugepages-2Mi": "1Gi", "nvidia.com/gpu": "2"}})
)]
// The API server stores every value rounded up to a milli-unit; JSON numbers are quantities too.
#[case::milli_rounding_and_numbers(
    pod(vec![], vec![container("app", json!({"cpu": "1n", "memory": 1000})), container("b", json!({"cpu": 0.5}))]),
    json!({"requests": {"cpu": "501m", "memory": "1k"}, "limits": {}})
)]
fn the_formula(#[case] object: Value, #[case] expected: Value) {
    assert_eq!(effective(Kind::Pod, &object), expected);
}

// ---- conversions: before and after ----

#[rstest]
// The proxy after every init container changes nothing.
#[case::no_init_containers(vec![], "600m", "600m")]
#[case::init_smaller_than_the_app(vec![container("migrate", json!({"cpu": "200m"}))], "600m", "600m")]
#[case::init_equal_to_app_plus_proxy(vec![container("migrate", json!({"cpu": "500m"}))], "600m", "600m")]
#[case::init_larger_than_the_app(vec![container("migrate", json!({"cpu": "2"}))], "2", "2100m")]
fn conversion_before_and_after(
    #[case] init: Vec<Value>,
    #[case] before: &str,
    #[case] after: &str,
) {
    let object = app_and_proxy(init);
    let (_, outcome) = mutate(&object);
    assert!(outcome.changed);
    let change = change(&outcome);
    assert_eq!(change.before.requests["cpu"].to_string(), before);
    assert_eq!(change.after.requests["cpu"].to_string(), after);
    assert_eq!(change.rises.is_empty(), before == after);
}

#[test]
fn the_issue_example_warns_with_the_exact_message() {
    let object = app_and_proxy(vec![container("migrate", json!({"cpu": "2"}))]);
    let (converted, outcome) = mutate(&object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(outcome.warnings, [MIGRATE_RISE]);
    assert_eq!(
        converted["spec"]["initContainers"][0]["restartPolicy"],
        "Always"
    );
}

#[test]
fn several_sidecars_istio_and_extra_sidecars() {
    let settings = Settings {
        extra_sidecars: vec![SidecarRule {
            name: "vault-agent".into(),
            setup_containers: vec![],
        }],
        ..Settings::default()
    };
    let object = pod(
        vec![container("migrate", json!({"cpu": "2", "memory": "1Gi"}))],
        vec![
            container("app", json!({"cpu": "500m", "memory": "256Mi"})),
            proxy(json!({"cpu": "100m", "memory": "128Mi"})),
            container("vault-agent", json!({"cpu": "50m", "memory": "64Mi"})),
        ],
    );
    let (_, outcome) = mutate_with(&object, &settings);
    assert_eq!(
        outcome.warnings,
        [
            "converting istio-proxy and vault-agent raises the pod's effective cpu request from 2 to 2150m: init container \"migrate\" (2) now runs beside istio-proxy (100m) and vault-agent (50m); ResourceQuota, LimitRange and scheduling count the new value",
            "converting istio-proxy and vault-agent raises the pod's effective memory request from 1Gi to 1216Mi: init container \"migrate\" (1Gi) now runs beside istio-proxy (128Mi) and vault-agent (64Mi); ResourceQuota, LimitRange and scheduling count the new value",
        ]
    );
}

/// A user's own native sidecar (no rule names it) already ran beside `migrate` before the proxy
/// moved in front; only the proxy is new beside it.
#[rstest]
#[case::own_sidecar_before(
    vec![sidecar("log-shipper", json!({"cpu": "50m"})), container("migrate", json!({"cpu": "2"}))],
    "2050m", "2150m",
    "converting istio-proxy raises the pod's effective cpu request from 2050m to 2150m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value"
)]
#[case::own_sidecar_after(
    vec![container("migrate", json!({"cpu": "2"})), sidecar("log-shipper", json!({"cpu": "50m"}))],
    "2", "2100m",
    MIGRATE_RISE
)]
fn a_users_own_native_sidecar(
    #[case] init: Vec<Value>,
    #[case] before: &str,
    #[case] after: &str,
    #[case] warning: &str,
) {
    let object = app_and_proxy(init);
    let (_, outcome) = mutate(&object);
    let change = change(&outcome);
    assert_eq!(change.before.requests["cpu"].to_string(), before);
    assert_eq!(change.after.requests["cpu"].to_string(), after);
    assert_eq!(outcome.warnings, [warning]);
}

#[test]
fn limits_rise_too_and_say_so() {
    let object = pod(
        vec![json!({"name": "migrate", "resources": {"limits": {"memory": "2Gi"}}})],
        vec![
            json!({"name": "app", "resources": {"limits": {"memory": "1Gi"}}}),
            json!({"name": "istio-proxy", "args": ["proxy", "sidecar"], "resources": {"requests": {"memory": "128Mi"}, "limits": {"memory": "1Gi"}}}),
        ],
    );
    let (_, outcome) = mutate(&object);
    assert_eq!(
        outcome.warnings,
        [
            "converting istio-proxy raises the pod's effective memory request from 2Gi to 2176Mi: init container \"migrate\" (2Gi) now runs beside istio-proxy (128Mi); ResourceQuota, LimitRange and scheduling count the new value",
            "converting istio-proxy raises the pod's effective memory limit from 2Gi to 3Gi: init container \"migrate\" (2Gi) now runs beside istio-proxy (1Gi); ResourceQuota and LimitRange count the new value",
        ]
    );
}

#[test]
fn hugepages_and_an_extended_resource_rise() {
    let object = pod(
        vec![
            json!({"name": "migrate", "resources": {"limits": {"hugepages-2Mi": "512Mi", "example.com/dongle": "2"}}}),
        ],
        vec![
            container("app", json!({})),
            json!({"name": "istio-proxy", "resources": {"limits": {"hugepages-2Mi": "64Mi", "example.com/dongle": "1"}}}),
        ],
    );
    let (_, outcome) = mutate(&object);
    let change = change(&outcome);
    let rises: Vec<(String, &str, String, String)> = change
        .rises
        .iter()
        .map(|r| {
            (
                r.resource.clone(),
                r.bound.as_str(),
                r.before.to_string(),
                r.after.to_string(),
            )
        })
        .collect();
    let rise =
        |r: &str, b: &'static str, x: &str, y: &str| (r.to_owned(), b, x.to_owned(), y.to_owned());
    assert_eq!(
        rises,
        [
            rise("example.com/dongle", "request", "2", "3"),
            rise("hugepages-2Mi", "request", "512Mi", "576Mi"),
            rise("example.com/dongle", "limit", "2", "3"),
            rise("hugepages-2Mi", "limit", "512Mi", "576Mi"),
        ]
    );
}

#[test]
fn overhead_is_counted_before_and_after() {
    let mut object = app_and_proxy(vec![container("migrate", json!({"cpu": "2"}))]);
    object["spec"]["overhead"] = json!({"cpu": "250m"});
    let (_, outcome) = mutate(&object);
    let change = change(&outcome);
    assert_eq!(change.before.requests["cpu"].to_string(), "2250m");
    assert_eq!(change.after.requests["cpu"].to_string(), "2350m");
}

/// Pod-level requests pin the effective value: a rise under them is silent, one past them is
/// refused (the API server would refuse the pod), and the object is left as it came.
#[rstest]
#[case::room_left("3", None)]
#[case::no_room_left(
    "2",
    Some(
        "converting istio-proxy raises the containers' aggregate cpu request from 2 to 2100m, above spec.resources.requests[cpu] (2), which the API server refuses: init container \"migrate\" (2) now runs beside istio-proxy (100m); raise spec.resources.requests[cpu] to at least 2100m"
    )
)]
fn pod_level_requests(#[case] pod_cpu: &str, #[case] refusal: Option<&str>) {
    let mut object = app_and_proxy(vec![container("migrate", json!({"cpu": "2"}))]);
    object["spec"]["resources"] = json!({"requests": {"cpu": pod_cpu}});
    for setting in [OnResourceIncrease::Warn, OnResourceIncrease::Reject] {
        let settings = Settings {
            on_resource_increase: setting,
            ..Settings::default()
        };
        let (after, outcome) = mutate_with(&object, &settings);
        assert_eq!(outcome.rejection.as_deref(), refusal);
        assert_eq!(outcome.changed, refusal.is_none());
        assert_eq!(outcome.warnings, Vec::<String>::new());
        let change = change(&outcome);
        assert_eq!(change.before.requests["cpu"].to_string(), pod_cpu);
        assert_eq!(change.after.requests["cpu"].to_string(), pod_cpu);
        if refusal.is_some() {
            assert_eq!(after, object, "a refused object is not edited");
        }
    }
}

/// A Pod is defaulted before admission webhooks run: its pod-level requests default from the
/// containers as they came in, so the conversion passes them. A template's pods are defaulted
/// from the converted template.
#[rstest]
#[case::pod(Kind::Pod, true)]
#[case::deployment(Kind::Deployment, false)]
fn pod_level_limits_default_the_requests_before_the_webhook(
    #[case] kind: Kind,
    #[case] refused: bool,
) {
    let spec = json!({
        "resources": {"limits": {"cpu": "4"}},
        "initContainers": [container("migrate", json!({"cpu": "2"}))],
        "containers": [container("app", json!({"cpu": "500m"})), proxy(json!({"cpu": "100m"}))]
    });
    let mut object = match kind {
        Kind::Pod => {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
        }
        _ => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {}, "template": {"metadata": {}, "spec": spec}}}),
    };
    let outcome = review_manifest(&mut object, &Settings::default()).expect("a pod-bearing kind");
    assert_eq!(outcome.rejection.is_some(), refused, "{outcome:?}");
    if !refused {
        assert_eq!(
            outcome.warnings,
            [
                "converting istio-proxy raises the pod's effective cpu request from 2 to 2100m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value"
            ]
        );
    }
}

#[test]
fn reorders_say_so() {
    // Already native, but the proxy starts after migrate: the policy moves it first.
    let mut native = proxy(json!({"cpu": "100m"}));
    native["restartPolicy"] = json!("Always");
    let object = pod(
        vec![container("migrate", json!({"cpu": "2"})), native],
        vec![container("app", json!({"cpu": "500m"}))],
    );
    let (_, outcome) = mutate(&object);
    assert!(outcome.changed);
    assert_eq!(
        outcome.warnings,
        [
            "reordering the init containers raises the pod's effective cpu request from 2 to 2100m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value"
        ]
    );
}

// ---- the setting, validate mode ----

fn migrate_pod() -> Value {
    app_and_proxy(vec![container("migrate", json!({"cpu": "2"}))])
}

#[test]
fn reject_refuses_with_the_message_and_leaves_the_object() {
    let settings = Settings {
        on_resource_increase: OnResourceIncrease::Reject,
        ..Settings::default()
    };
    let object = migrate_pod();
    let (after, outcome) = mutate_with(&object, &settings);
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(format!("{MIGRATE_RISE}. onResourceIncrease is \"reject\": lower the init container's resources, or set onResourceIncrease to \"warn\" to convert such pods").as_str())
    );
    assert!(!outcome.changed);
    assert_eq!(after, object);
    // Nothing rises: converted as usual.
    let (_, outcome) = mutate_with(&app_and_proxy(vec![]), &settings);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
}

#[test]
fn ignore_computes_nothing() {
    let settings = Settings {
        on_resource_increase: OnResourceIncrease::Ignore,
        ..Settings::default()
    };
    let (_, outcome) = mutate_with(&migrate_pod(), &settings);
    assert!(outcome.changed);
    assert_eq!(outcome.warnings, Vec::<String>::new());
    assert_eq!(outcome.resources, None);
}

#[test]
fn validate_mode_says_what_converting_would_cost() {
    let settings = Settings {
        mode: Mode::Validate,
        ..Settings::default()
    };
    let object = migrate_pod();
    let (after, outcome) = mutate_with(&object, &settings);
    assert_eq!(after, object);
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(
            "spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: istio-proxy, migrate. Converting istio-proxy raises the pod's effective cpu request from 2 to 2100m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value"
        )
    );
    assert_eq!(change(&outcome).after.requests["cpu"].to_string(), "2100m");
}

// ---- bad input ----

#[rstest]
#[case::two_dots(json!("1.2.3"), "spec.initContainers[0] \"migrate\": resources.requests.cpu is not a quantity, found the string \"1.2.3\" (quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'); the API server refuses it, and the effective resources leave it out")]
#[case::unknown_suffix(json!("1Qi"), "spec.initContainers[0] \"migrate\": resources.requests.cpu is not a quantity, found the string \"1Qi\" (quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'); the API server refuses it, and the effective resources leave it out")]
#[case::huge_exponent(json!("1e400"), "spec.initContainers[0] \"migrate\": resources.requests.cpu is not a quantity, found the string \"1e400\" (larger than 1e24, more than the policy adds up); the API server refuses it, and the effective resources leave it out")]
#[case::negative(json!("-1"), "spec.initContainers[0] \"migrate\": resources.requests.cpu is negative (-1), which the API server refuses; the effective resources leave it out")]
#[case::not_a_string(json!(["1"]), "spec.initContainers[0] \"migrate\": resources.requests.cpu is not a quantity, found a list (a quantity is a string, found a list); the API server refuses it, and the effective resources leave it out")]
fn bad_quantities_are_reported_and_the_conversion_goes_on(
    #[case] cpu: Value,
    #[case] problem: &str,
) {
    let object = pod(
        vec![container("migrate", json!({"cpu": cpu, "memory": "1Gi"}))],
        vec![
            container("app", json!({"cpu": "500m", "memory": "256Mi"})),
            proxy(json!({"cpu": "100m", "memory": "128Mi"})),
        ],
    );
    let (converted, outcome) = mutate(&object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(
        converted["spec"]["initContainers"][0]["name"],
        "istio-proxy"
    );
    assert_eq!(
        outcome.warnings,
        [
            problem,
            "converting istio-proxy raises the pod's effective memory request from 1Gi to 1152Mi: init container \"migrate\" (1Gi) now runs beside istio-proxy (128Mi); ResourceQuota, LimitRange and scheduling count the new value",
        ]
    );
}

/// Kubernetes reads `"-"` and JSON numbers as quantities (0, and the number's text): no problem.
#[rstest]
#[case::bare_minus(json!("-"), "600m")]
#[case::number(json!(2), "2100m")]
fn what_kubernetes_accepts_is_no_problem(#[case] cpu: Value, #[case] after: &str) {
    let object = app_and_proxy(vec![container("migrate", json!({"cpu": cpu}))]);
    let (_, outcome) = mutate(&object);
    assert!(change(&outcome).problems.is_empty());
    assert_eq!(change(&outcome).after.requests["cpu"].to_string(), after);
}

#[rstest]
#[case::resources_string(json!({"name": "migrate", "resources": "2 cpus"}), "spec.initContainers[0] \"migrate\": resources must be an object, found the string \"2 cpus\"; the effective resources leave it out")]
#[case::requests_list(json!({"name": "migrate", "resources": {"requests": ["cpu"]}}), "spec.initContainers[0] \"migrate\": resources.requests must be a map of quantities, found a list; the effective resources leave it out")]
fn wrong_shapes_are_reported(#[case] init: Value, #[case] problem: &str) {
    let (_, outcome) = mutate(&pod(
        vec![init],
        vec![container("app", json!({})), proxy(json!({"cpu": "100m"}))],
    ));
    assert_eq!(outcome.warnings, [problem]);
}

// ---- the fixtures ----

/// The Pod a Job creates (the article's second scenario, from Istio's Job fixture): Istio's own
/// resources on istio-init and the proxy, none on the app.
#[test]
fn the_article_job_pod() {
    let path = root().join("requests/article-job-pod.json");
    let text = std::fs::read_to_string(&path).expect("the sample request exists");
    let request: Value = serde_json::from_str(&text).expect("JSON");
    let (_, outcome) = mutate(&request["object"]);
    let change = change(&outcome);
    let expected = json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}});
    assert_eq!(printed(&change.before), expected);
    assert_eq!(printed(&change.after), expected);
    assert!(change.rises.is_empty());
}

/// Converting Istio's own injections raises nothing unless an init container asks for more than
/// the app containers together.
#[test]
fn istio_fixtures_rise_only_with_a_larger_init_container() {
    for pair in all_pairs() {
        let kind = Kind::from_object(&pair.before).expect("a pod-bearing kind");
        let change = resource_change(kind, &pair.before, &pair.after);
        let rises: Vec<&str> = change.rises.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(rises, Vec::<&str>::new(), "{}", pair.name);
        assert!(
            change.problems.is_empty(),
            "{}: {:?}",
            pair.name,
            change.problems
        );
        assert_eq!(change.before, change.after, "{}", pair.name);
    }
}

// ---- properties, against an independent model of the formula ----

mod properties {
    use super::*;
    use native_sidecar_core::Quantity;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A generated container's resources: cpu in millis, memory in bytes; `None` is unset.
    #[derive(Debug, Clone, Default)]
    struct Res {
        requests: [Option<i64>; 2],
        limits: [Option<i64>; 2],
    }

    const NAMES: [&str; 2] = ["cpu", "memory"];

    /// cpu in millis or memory in bytes, written the ways people write them.
    fn written(resource: usize, value: i64, style: u8) -> Value {
        match (resource, style % 3) {
            (0, 0) => json!(format!("{value}m")),
            (0, 1) if value % 1000 == 0 => json!(value / 1000),
            (0, _) => json!(format!("{}.{:03}", value / 1000, value % 1000)),
            (_, 0) if value % (1 << 20) == 0 => json!(format!("{}Mi", value >> 20)),
            (_, 1) if value % 1000 == 0 => json!(format!("{}k", value / 1000)),
            (_, _) => json!(value.to_string()),
        }
    }

    fn res() -> impl Strategy<Value = (Res, u8)> {
        let cpu = prop::option::weighted(0.7, (0i64..4000).prop_map(|m| m / 50 * 50));
        let memory = prop::option::weighted(
            0.5,
            prop_oneof![(0i64..4096).prop_map(|m| m << 20), 0i64..10_000_000],
        );
        (cpu.clone(), memory.clone(), cpu, memory, any::<u8>()).prop_map(
            |(rc, rm, lc, lm, style)| {
                (
                    Res {
                        requests: [rc, rm],
                        limits: [lc, lm],
                    },
                    style,
                )
            },
        )
    }

    fn json_of(name: &str, (res, style): &(Res, u8), sidecar: bool) -> Value {
        let list = |values: &[Option<i64>; 2]| -> Value {
            let mut map = serde_json::Map::new();
            for (at, value) in values.iter().enumerate() {
                if let Some(value) = value {
                    map.insert(
                        NAMES[at].into(),
                        written(at, *value, style.wrapping_add(at as u8)),
                    );
                }
            }
            Value::Object(map)
        };
        let mut container = json!({"name": name, "image": "busybox", "resources": {"requests": list(&res.requests), "limits": list(&res.limits)}});
        if name == "istio-proxy" {
            container["args"] = json!(["proxy", "sidecar"]);
        }
        if sidecar {
            container["restartPolicy"] = json!("Always");
        }
        container
    }

    /// (name, sidecar, resources) in order.
    type Layout = Vec<(String, bool, (Res, u8))>;

    #[derive(Debug, Clone)]
    struct Case {
        init: Layout,
        containers: Layout,
        overhead: Option<(Res, u8)>,
        vault: bool,
    }

    fn case(with_init: bool) -> impl Strategy<Value = Case> {
        let init = if with_init {
            prop::collection::vec((any::<bool>(), res()), 1..5).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (
            init,
            prop::collection::vec(res(), 1..3),
            res(),
            res(),
            any::<bool>(),
            prop::option::weighted(0.2, res()),
        )
            .prop_map(|(init, apps, proxy, vault_res, vault, overhead)| {
                let init = init
                    .into_iter()
                    .enumerate()
                    .map(|(at, (sidecar, r))| {
                        (
                            format!("{}{at}", if sidecar { "sidecar-" } else { "init-" }),
                            sidecar,
                            r,
                        )
                    })
                    .collect();
                let mut containers: Layout = apps
                    .into_iter()
                    .enumerate()
                    .map(|(at, r)| (format!("app-{at}"), false, r))
                    .collect();
                containers.push(("istio-proxy".into(), false, proxy));
                if vault {
                    containers.push(("vault-agent".into(), false, vault_res));
                }
                Case {
                    init,
                    containers,
                    overhead,
                    vault,
                }
            })
    }

    fn object(case: &Case) -> Value {
        let list = |layout: &Layout| -> Vec<Value> {
            layout
                .iter()
                .map(|(name, sidecar, r)| json_of(name, r, *sidecar))
                .collect()
        };
        let mut pod = pod(list(&case.init), list(&case.containers));
        if let Some((res, style)) = &case.overhead {
            let mut map = serde_json::Map::new();
            for (at, value) in res.requests.iter().enumerate() {
                if let Some(value) = value {
                    map.insert(NAMES[at].into(), written(at, *value, *style));
                }
            }
            pod["spec"]["overhead"] = Value::Object(map);
        }
        pod
    }

    fn settings(case: &Case) -> Settings {
        Settings {
            extra_sidecars: if case.vault {
                vec![SidecarRule {
                    name: "vault-agent".into(),
                    setup_containers: vec![],
                }]
            } else {
                vec![]
            },
            ..Settings::default()
        }
    }

    /// The model: (requests, limits) per resource, in millis of cpu and bytes of memory.
    fn model(
        init: &Layout,
        containers: &Layout,
        overhead: Option<&Res>,
    ) -> [BTreeMap<&'static str, i64>; 2] {
        let value = |r: &Res, bound: usize, at: usize| -> Option<i64> {
            match bound {
                // Requests default to limits.
                0 => r.requests[at].or(r.limits[at]),
                _ => r.limits[at],
            }
        };
        let mut out = [BTreeMap::new(), BTreeMap::new()];
        for (bound, out) in out.iter_mut().enumerate() {
            for (at, name) in NAMES.iter().enumerate() {
                let mut present = false;
                let mut sum = 0;
                let mut sidecars = 0;
                let mut peak = 0;
                for (_, sidecar, (r, _)) in init {
                    let own = value(r, bound, at);
                    present |= own.is_some();
                    if *sidecar {
                        sidecars += own.unwrap_or(0);
                        sum += own.unwrap_or(0);
                        peak = peak.max(sidecars);
                    } else {
                        peak = peak.max(own.unwrap_or(0) + sidecars);
                    }
                }
                for (_, _, (r, _)) in containers {
                    let own = value(r, bound, at);
                    present |= own.is_some();
                    sum += own.unwrap_or(0);
                }
                if present {
                    let mut total = sum.max(peak);
                    if let Some(extra) = overhead.and_then(|o| o.requests[at])
                        && (bound == 0 || total != 0)
                    {
                        total += extra;
                    }
                    out.insert(*name, total);
                } else if let Some(extra) = overhead.and_then(|o| o.requests[at])
                    && bound == 0
                {
                    out.insert(*name, extra);
                }
            }
        }
        out
    }

    /// The layout after conversion: the proxy, then vault-agent, then the init containers.
    fn converted(case: &Case) -> (Layout, Layout) {
        let mut init: Layout = case
            .containers
            .iter()
            .filter(|(name, ..)| name == "istio-proxy" || name == "vault-agent")
            .map(|(name, _, r)| (name.clone(), true, r.clone()))
            .collect();
        init.extend(case.init.iter().cloned());
        let containers = case
            .containers
            .iter()
            .filter(|(name, ..)| name.starts_with("app-"))
            .cloned()
            .collect();
        (init, containers)
    }

    fn as_quantity(resource: &str, value: i64) -> Quantity {
        let text = if resource == "cpu" {
            format!("{value}m")
        } else {
            value.to_string()
        };
        Quantity::parse(&text).expect("a model value parses")
    }

    fn matches_model(
        list: &native_sidecar_core::ResourceList,
        model: &BTreeMap<&'static str, i64>,
    ) -> Result<(), TestCaseError> {
        let keys: Vec<&str> = list.keys().map(String::as_str).collect();
        let expected: Vec<&str> = model.keys().copied().collect();
        prop_assert_eq!(keys, expected);
        for (resource, value) in model {
            let got = list[*resource];
            prop_assert!(
                got.cmp_value(&as_quantity(resource, *value)).is_eq(),
                "{resource}: {got} != model {value}"
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Before and after match the model, after is never below before for a conversion, and
        /// there is a warning exactly for each value that rose.
        #[test]
        fn conversions_against_the_model(case in case(true)) {
            let object = object(&case);
            let (_, outcome) = mutate_with(&object, &settings(&case));
            prop_assert_eq!(&outcome.rejection, &None);
            prop_assert!(outcome.changed);
            let change = change(&outcome).clone();
            let overhead = case.overhead.as_ref().map(|(r, _)| r);
            let before = model(&case.init, &case.containers, overhead);
            let (init, containers) = converted(&case);
            let after = model(&init, &containers, overhead);
            matches_model(&change.before.requests, &before[0])?;
            matches_model(&change.before.limits, &before[1])?;
            matches_model(&change.after.requests, &after[0])?;
            matches_model(&change.after.limits, &after[1])?;
            let mut rose = Vec::new();
            for (at, bound) in ["request", "limit"].into_iter().enumerate() {
                for (resource, value) in &after[at] {
                    let was = before[at].get(resource).copied().unwrap_or(0);
                    prop_assert!(*value >= was, "{resource} {bound} fell from {was} to {value}");
                    if *value > was {
                        rose.push((resource.to_string(), bound));
                    }
                }
            }
            let rises: Vec<(String, &str)> = change.rises.iter().map(|r| (r.resource.clone(), r.bound.as_str())).collect();
            prop_assert_eq!(rises, rose);
            let messages: Vec<String> = change.rises.iter().map(|r| r.message.clone()).collect();
            prop_assert_eq!(&outcome.warnings, &messages);
            for message in &messages {
                prop_assert!(message.starts_with("converting istio-proxy"), "{}", message);
                prop_assert!(message.contains(": init container \"init-"), "{}", message);
            }
        }

        /// A pod without init containers never rises.
        #[test]
        fn no_init_containers_no_rise(case in case(false)) {
            let (_, outcome) = mutate_with(&object(&case), &settings(&case));
            let change = change(&outcome);
            prop_assert_eq!(&change.before, &change.after);
            prop_assert!(change.rises.is_empty());
            prop_assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
        }

        /// Whatever the values, reviewing never panics and never loses the conversion.
        #[test]
        fn any_values_are_reported_not_fatal(
            values in prop::collection::vec(prop_oneof![
                "[-+0-9.eEinumkKMGTPQ]{0,10}".prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                Just(Value::Null),
                Just(json!(true)),
                Just(json!({"x": 1})),
            ], 4)
        ) {
            let object = pod(
                vec![json!({"name": "migrate", "resources": {"requests": {"cpu": values[0]}, "limits": {"cpu": values[1]}}})],
                vec![
                    json!({"name": "app", "resources": {"requests": {"memory": values[2]}}}),
                    json!({"name": "istio-proxy", "args": ["proxy", "sidecar"], "resources": {"requests": {"cpu": values[3]}}}),
                ],
            );
            let (converted, outcome) = mutate(&object);
            prop_assert_eq!(outcome.rejection, None);
            prop_assert!(outcome.changed);
            prop_assert_eq!(&converted["spec"]["initContainers"][0]["name"], "istio-proxy");
        }
    }
}
