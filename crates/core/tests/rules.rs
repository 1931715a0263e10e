//! One table per rule of the policy, on pods shaped like the ones Istio and users write.

use native_sidecar_core::{
    Kind, Misplacement, Mode, Operation, Outcome, Problem, Settings, SidecarRule, review,
};
use rstest::rstest;
use serde_json::{Value, json};

fn proxy() -> Value {
    json!({
        "name": "istio-proxy",
        "image": "docker.io/istio/proxyv2:1.24.0",
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}},
        "x-unknown-field": {"kept": true}
    })
}

fn native_proxy() -> Value {
    let mut proxy = proxy();
    proxy["restartPolicy"] = json!("Always");
    proxy["lifecycle"] = drain();
    proxy
}

fn drain() -> Value {
    json!({"preStop": {"exec": {"command": ["pilot-agent", "request", "--debug-port=15020", "POST", "drain"]}}})
}

fn init(name: &str) -> Value {
    json!({"name": name, "image": "busybox"})
}

fn istio_init() -> Value {
    json!({"name": "istio-init", "image": "docker.io/istio/proxyv2:1.24.0", "args": ["istio-iptables", "-d", "15090,15021,15020"]})
}

fn app(name: &str) -> Value {
    json!({"name": name, "image": "app:1"})
}

fn pod(init: Vec<Value>, containers: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sleep", "namespace": "default", "annotations": {"team": "a"}},
        "spec": {"initContainers": init, "containers": containers, "futureField": [1, 2]}
    })
}

fn with_annotation(mut object: Value, key: &str, value: &str) -> Value {
    object["metadata"]["annotations"][key] = json!(value);
    object
}

fn names(object: &Value, list: &str) -> Vec<String> {
    object["spec"][list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn mutate(object: &mut Value) -> Outcome {
    review(Kind::Pod, Operation::Create, object, &Settings::default())
}

fn validate_mode() -> Settings {
    Settings {
        mode: Mode::Validate,
        ..Settings::default()
    }
}

/// The article's first scenario: `check-traffic` calls out through the mesh, so the proxy must have
/// started before it runs.
#[test]
fn article_init_container_traffic_goes_through_the_proxy() {
    let check_traffic = json!({"name": "check-traffic", "image": "istio/base", "command": ["curl", "httpbin.org/get"]});
    let sleep =
        json!({"name": "sleep", "image": "istio/base", "command": ["/bin/sleep", "infinity"]});
    // As Istio injects it in classic mode: the user's init container, then istio-init; proxy in containers.
    let mut object = pod(
        vec![check_traffic.clone(), istio_init()],
        vec![sleep.clone(), proxy()],
    );
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(
        names(&object, "initContainers"),
        ["istio-init", "istio-proxy", "check-traffic"]
    );
    assert_eq!(names(&object, "containers"), ["sleep"]);
    assert_eq!(object["spec"]["initContainers"][1], native_proxy());
    assert_eq!(object["spec"]["initContainers"][2], check_traffic);
    assert_eq!(object["spec"]["containers"][0], sleep);
}

/// The article's second scenario: a Job pod whose app exits. A regular proxy container never exits and
/// keeps the pod running; as a native sidecar it no longer holds the pod back.
#[test]
fn article_job_pod_completes_with_a_native_proxy() {
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "sleep"},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"app": "sleep"}},
            "spec": {
                "restartPolicy": "Never",
                "initContainers": [istio_init()],
                "containers": [
                    {"name": "sleep", "image": "istio/base", "command": ["/bin/sleep", "1"]},
                    proxy()
                ]
            }
        }}
    });
    let mut object = job.clone();
    let outcome = review(
        Kind::Job,
        Operation::Create,
        &mut object,
        &Settings::default(),
    );
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    let spec = &object["spec"]["template"]["spec"];
    let regular: Vec<&str> = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        regular,
        ["sleep"],
        "only the app decides when the pod completes"
    );
    assert_eq!(spec["initContainers"][1]["name"], "istio-proxy");
    assert_eq!(spec["initContainers"][1]["restartPolicy"], "Always");
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(object["spec"]["backoffLimit"], 0);
}

#[rstest]
// Classic Istio order: istio-validation first, the user's init containers, istio-init last.
#[case::classic_cni(vec![init("istio-validation"), init("migrate")], vec![app("app"), proxy()], &["istio-validation", "istio-proxy", "migrate"], &["app"])]
#[case::hold_first(vec![istio_init()], vec![proxy(), app("a"), app("b")], &["istio-init", "istio-proxy"], &["a", "b"])]
#[case::no_setup(vec![], vec![app("app"), proxy()], &["istio-proxy"], &["app"])]
#[case::user_sidecar(vec![json!({"name": "log", "image": "x", "restartPolicy": "Always"}), istio_init()], vec![app("app"), proxy()], &["istio-init", "istio-proxy", "log"], &["app"])]
#[case::core_dump(vec![init("a"), istio_init(), init("enable-core-dump")], vec![proxy(), app("app")], &["istio-init", "istio-proxy", "enable-core-dump", "a"], &["app"])]
fn converts_classic_proxies(
    #[case] init: Vec<Value>,
    #[case] containers: Vec<Value>,
    #[case] expected_init: &[&str],
    #[case] expected_containers: &[&str],
) {
    let mut object = pod(init, containers);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(names(&object, "initContainers"), expected_init);
    assert_eq!(names(&object, "containers"), expected_containers);
    assert_eq!(object["spec"]["futureField"], json!([1, 2]));
    assert_eq!(object["metadata"]["annotations"], json!({"team": "a"}));
}

#[rstest]
#[case::dependent_first(vec![init("check-traffic"), istio_init(), native_proxy()], &["istio-init", "istio-proxy", "check-traffic"])]
#[case::setup_after(vec![native_proxy(), istio_init(), init("a")], &["istio-init", "istio-proxy", "a"])]
#[case::core_dump_first(vec![init("enable-core-dump"), native_proxy(), init("a")], &["istio-proxy", "enable-core-dump", "a"])]
fn reorders_native_proxies(#[case] init: Vec<Value>, #[case] expected: &[&str]) {
    let mut object = pod(init, vec![app("app")]);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(names(&object, "initContainers"), expected);
    assert!(!outcome.findings.is_empty());
}

#[rstest]
#[case::canonical(vec![istio_init(), native_proxy(), init("a")])]
// Not Istio's exact layout, but the proxy starts after its setup and before the rest: left alone.
#[case::core_dump_late(vec![istio_init(), native_proxy(), init("a"), init("enable-core-dump")])]
#[case::no_proxy(vec![init("a")])]
fn leaves_correct_pods_alone(#[case] init: Vec<Value>) {
    let before = with_annotation(
        pod(init, vec![app("app")]),
        "sidecar.istio.io/nativeSidecar",
        "true",
    );
    let mut object = before.clone();
    let outcome = mutate(&mut object);
    assert_eq!(
        outcome,
        Outcome {
            expected_init_order: outcome.expected_init_order.clone(),
            ..Outcome::default()
        }
    );
    assert_eq!(object, before);
}

#[rstest]
#[case::plain(pod(vec![], vec![app("app")]), true)]
#[case::already_native(with_annotation(pod(vec![], vec![app("app")]), "sidecar.istio.io/nativeSidecar", "true"), false)]
#[case::opted_out(with_annotation(pod(vec![], vec![app("app")]), "sidecar.istio.io/inject", "false"), false)]
#[case::host_network({let mut p = pod(vec![], vec![app("app")]); p["spec"]["hostNetwork"] = json!(true); p}, false)]
#[case::gateway(pod(vec![], vec![json!({"name": "istio-proxy", "args": ["proxy", "router"]})]), false)]
fn asks_istio_for_native_injection(#[case] before: Value, #[case] annotated: bool) {
    let mut object = before.clone();
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert_eq!(outcome.changed, annotated);
    if annotated {
        let mut expected = before;
        expected["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] = json!("true");
        assert_eq!(object, expected);
    } else {
        assert_eq!(object, before);
    }
}

#[rstest]
#[case::off(Settings { request_native_injection: false, ..Settings::default() }, Kind::Pod, Operation::Create)]
#[case::validate(validate_mode(), Kind::Pod, Operation::Create)]
#[case::workload(Settings::default(), Kind::Deployment, Operation::Create)]
#[case::update(Settings::default(), Kind::Pod, Operation::Update)]
fn native_injection_request_only_on_created_pods(
    #[case] settings: Settings,
    #[case] kind: Kind,
    #[case] operation: Operation,
) {
    let before = json!({"apiVersion": "v1", "kind": kind.name(), "metadata": {"name": "x"},
        "spec": {"containers": [app("app")], "template": {"spec": {"containers": [app("app")]}}}});
    let mut object = before.clone();
    let outcome = review(kind, operation, &mut object, &settings);
    assert!(!outcome.changed);
    assert_eq!(object, before);
}

#[test]
fn opt_out_keeps_the_pod_classic_with_a_warning() {
    let before = with_annotation(
        pod(vec![istio_init()], vec![app("app"), proxy()]),
        "sidecar.istio.io/nativeSidecar",
        "false",
    );
    for settings in [Settings::default(), validate_mode()] {
        let mut object = before.clone();
        let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
        assert_eq!(outcome.rejection, None);
        assert!(!outcome.changed);
        assert!(outcome.opted_out);
        assert_eq!(
            outcome.warnings,
            [
                "sidecar.istio.io/nativeSidecar: \"false\" leaves istio-proxy as Istio renders it in classic mode; remove the annotation to run the proxy as a native sidecar"
            ]
        );
        assert_eq!(object, before);
    }
}

#[rstest]
#[case::args(pod(vec![], vec![json!({"name": "istio-proxy", "args": ["proxy", "router", "--domain", "x"]})]))]
#[case::template(with_annotation(pod(vec![], vec![app("app"), proxy()]), "inject.istio.io/templates", "gateway"))]
fn never_touches_gateways(#[case] before: Value) {
    for settings in [Settings::default(), validate_mode()] {
        let mut object = before.clone();
        let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
        assert_eq!(outcome.rejection, None);
        assert!(!outcome.changed);
        assert_eq!(object, before);
    }
}

#[rstest]
#[case::init_named_like_proxy(
    pod(vec![istio_init(), init("istio-proxy")], vec![app("app"), proxy()]),
    "spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
)]
#[case::two_proxies(
    pod(vec![], vec![app("app"), proxy(), proxy()]),
    "spec has 2 containers named \"istio-proxy\" (containers[1], containers[2]); keep a single proxy"
)]
#[case::restart_policy_rules(
    pod(vec![], vec![app("app"), {let mut p = proxy(); p["restartPolicyRules"] = json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]); p}]),
    "spec.containers[1] \"istio-proxy\" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or keep it classic with the pod annotation sidecar.istio.io/nativeSidecar: \"false\""
)]
#[case::restart_policy_never(
    pod(vec![], vec![app("app"), {let mut p = proxy(); p["restartPolicy"] = json!("Never"); p}]),
    "spec.containers[1] \"istio-proxy\" sets restartPolicy \"Never\", but a native sidecar restarts Always; remove restartPolicy from it, or keep it classic with the pod annotation sidecar.istio.io/nativeSidecar: \"false\""
)]
#[case::only_container(
    pod(vec![istio_init()], vec![proxy()]),
    "spec.containers[0] \"istio-proxy\" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation sidecar.istio.io/nativeSidecar: \"false\""
)]
#[case::blocking_init_proxy(
    pod(vec![istio_init(), proxy()], vec![app("app")]),
    "spec.initContainers[1] \"istio-proxy\" has no restartPolicy, so it would have to exit before the next container starts; set restartPolicy: Always to run it as a native sidecar"
)]
#[case::containers_not_a_list(
    json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"name": "app"}}}),
    "spec.containers must be a list of containers, found an object"
)]
fn refuses_what_would_break(#[case] before: Value, #[case] message: &str) {
    for settings in [Settings::default(), validate_mode()] {
        let mut object = before.clone();
        let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
        assert_eq!(outcome.rejection.as_deref(), Some(message));
        assert!(!outcome.changed);
    }
}

#[test]
fn validate_mode_lists_what_is_out_of_place() {
    let mut object = pod(
        vec![init("check-traffic"), istio_init()],
        vec![app("sleep"), proxy()],
    );
    let before = object.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &validate_mode());
    assert_eq!(object, before, "validate mode never mutates");
    assert!(!outcome.changed);
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(
            "spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: istio-init, istio-proxy, check-traffic"
        )
    );
    let mut misplaced = pod(
        vec![init("check-traffic"), istio_init(), native_proxy()],
        vec![app("sleep")],
    );
    let outcome = review(
        Kind::Pod,
        Operation::Create,
        &mut misplaced,
        &validate_mode(),
    );
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(
            "spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh. Expected initContainers order: istio-init, istio-proxy, check-traffic"
        )
    );
    assert_eq!(outcome.findings[0].container, "check-traffic");
    assert_eq!(outcome.findings[0].position, 0);
    assert_eq!(
        outcome.findings[0].problem,
        Problem::Misplaced(Misplacement::BeforeProxy {
            proxy: "istio-proxy".into()
        })
    );
}

#[test]
fn validate_mode_accepts_what_mutate_mode_produces() {
    let mut object = pod(
        vec![init("check-traffic"), istio_init()],
        vec![app("sleep"), proxy()],
    );
    mutate(&mut object);
    let converted = object.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &validate_mode());
    assert_eq!(outcome.rejection, None);
    assert!(outcome.findings.is_empty());
    assert_eq!(object, converted);
}

#[test]
fn declared_sidecars_become_native_after_istio() {
    let settings = Settings {
        extra_sidecars: vec![SidecarRule {
            name: "vault-agent".into(),
            setup_containers: vec!["vault-agent-init".into()],
        }],
        ..Settings::default()
    };
    let vault = json!({"name": "vault-agent", "image": "vault", "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}}});
    let mut object = pod(
        vec![init("migrate"), init("vault-agent-init"), istio_init()],
        vec![app("app"), vault.clone(), proxy()],
    );
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
    assert_eq!(outcome.rejection, None);
    assert_eq!(
        names(&object, "initContainers"),
        [
            "istio-init",
            "istio-proxy",
            "vault-agent-init",
            "vault-agent",
            "migrate"
        ]
    );
    let mut expected_vault = vault;
    expected_vault["restartPolicy"] = json!("Always");
    // Generic sidecars get no Istio hooks: their lifecycle stays as it was.
    assert_eq!(object["spec"]["initContainers"][3], expected_vault);
    assert_eq!(names(&object, "containers"), ["app"]);
}

#[rstest]
#[case(Kind::Pod, Operation::Update)]
#[case(Kind::Pod, Operation::Other)]
#[case(Kind::Deployment, Operation::Other)]
fn operations_without_changes(#[case] kind: Kind, #[case] operation: Operation) {
    let before = pod(vec![istio_init()], vec![app("app"), proxy()]);
    let mut object = before.clone();
    let outcome = review(kind, operation, &mut object, &Settings::default());
    assert_eq!(outcome, Outcome::default());
    assert_eq!(object, before);
}

#[test]
fn workload_updates_are_converted() {
    let before = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"initContainers": [istio_init()], "containers": [app("app"), proxy()]}}}});
    let mut object = before.clone();
    let outcome = review(
        Kind::Deployment,
        Operation::Update,
        &mut object,
        &Settings::default(),
    );
    assert!(outcome.changed);
    assert_eq!(
        object["spec"]["template"]["spec"]["initContainers"][1]["name"],
        "istio-proxy"
    );
}

/// Every regular container a sidecar: converting them all would leave `containers` empty, which the
/// API server refuses.
#[test]
fn refuses_to_leave_no_regular_container() {
    let settings = Settings {
        extra_sidecars: vec![SidecarRule {
            name: "vault-agent".into(),
            setup_containers: vec![],
        }],
        ..Settings::default()
    };
    let before = pod(
        vec![istio_init()],
        vec![proxy(), json!({"name": "vault-agent", "image": "vault"})],
    );
    let mut object = before.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(
            "spec.containers holds only sidecars (istio-proxy, vault-agent), and a pod needs a regular container besides its native sidecars; add the application container, or keep one of them a regular container"
        )
    );
    assert_eq!(object, before);
}
