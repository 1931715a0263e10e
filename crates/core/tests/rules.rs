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

/// Reviews `before` as a created Pod with `settings` in mutate and in validate mode, neither of
/// which may change it; the two outcomes, for what each test asserts besides.
fn unchanged_in_both_modes(before: &Value, settings: &Settings) -> Vec<Outcome> {
    [Mode::Mutate, Mode::Validate]
        .into_iter()
        .map(|mode| {
            let settings = Settings {
                mode,
                ..settings.clone()
            };
            let mut object = before.clone();
            let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
            assert!(!outcome.changed);
            assert_eq!(&object, before);
            outcome
        })
        .collect()
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
    for outcome in unchanged_in_both_modes(&before, &Settings::default()) {
        assert_eq!(outcome.rejection, None);
        assert!(outcome.opted_out);
        assert_eq!(
            outcome.warnings,
            [
                "sidecar.istio.io/nativeSidecar: \"false\" leaves istio-proxy as Istio renders it in classic mode; remove the annotation to run the proxy as a native sidecar"
            ]
        );
    }
}

#[rstest]
#[case::args(pod(vec![], vec![json!({"name": "istio-proxy", "args": ["proxy", "router", "--domain", "x"]})]))]
#[case::template(with_annotation(pod(vec![], vec![app("app"), proxy()]), "inject.istio.io/templates", "gateway"))]
fn never_touches_gateways(#[case] before: Value) {
    for outcome in unchanged_in_both_modes(&before, &Settings::default()) {
        assert_eq!(outcome.rejection, None);
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
#[case::linkerd_init_named_like_proxy(
    pod(vec![linkerd_init(), init("linkerd-proxy")], vec![linkerd_proxy(), app("app")]),
    "spec.initContainers already has a container named \"linkerd-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
)]
#[case::linkerd_two_proxies(
    pod(vec![linkerd_init()], vec![linkerd_proxy(), app("app"), linkerd_proxy()]),
    "spec has 2 containers named \"linkerd-proxy\" (containers[0], containers[2]); keep a single proxy"
)]
#[case::linkerd_restart_policy_rules(
    pod(vec![], vec![{let mut p = linkerd_proxy(); p["restartPolicyRules"] = json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]); p}, app("app")]),
    "spec.containers[0] \"linkerd-proxy\" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or keep it classic with the pod annotation config.linkerd.io/proxy-enable-native-sidecar: \"false\""
)]
#[case::linkerd_only_container(
    pod(vec![linkerd_init()], vec![linkerd_proxy()]),
    "spec.containers[0] \"linkerd-proxy\" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation config.linkerd.io/proxy-enable-native-sidecar: \"false\""
)]
fn refuses_what_would_break(#[case] before: Value, #[case] message: &str) {
    for outcome in unchanged_in_both_modes(&before, &Settings::default()) {
        assert_eq!(outcome.rejection.as_deref(), Some(message));
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

// ---- Linkerd ------------------------------------------------------------------------------------

fn linkerd_proxy() -> Value {
    json!({
        "name": "linkerd-proxy",
        "image": "cr.l5d.io/linkerd/proxy:edge-25.4.4",
        "ports": [{"containerPort": 4143, "name": "linkerd-proxy"}, {"containerPort": 4191, "name": "linkerd-admin"}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 4191}, "initialDelaySeconds": 2},
        "lifecycle": {"postStart": {"exec": {"command": ["/usr/lib/linkerd/linkerd-await", "--timeout=2m", "--port=4191"]}}},
        "x-unknown-field": {"kept": true}
    })
}

fn native_linkerd_proxy() -> Value {
    let mut proxy = linkerd_proxy();
    if let Some(fields) = proxy.as_object_mut() {
        fields.shift_remove("lifecycle");
    }
    proxy["restartPolicy"] = json!("Always");
    proxy["startupProbe"] = json!({"failureThreshold": 120, "httpGet": {"path": "/ready", "port": 4191}, "periodSeconds": 1});
    proxy
}

fn linkerd_init() -> Value {
    json!({"name": "linkerd-init", "image": "cr.l5d.io/linkerd/proxy:edge-25.4.4", "args": ["--incoming-proxy-port", "4143"]})
}

fn settings(value: Value) -> Settings {
    Settings::from_json(&value).expect("valid settings")
}

/// An init container that calls a meshed service before the classic proxy exists (linkerd2
/// #11461): Linkerd and Kuma append their setup container after the user's init containers and
/// put the proxy first in containers.
#[rstest]
#[case::linkerd(linkerd_init(), linkerd_proxy(), native_linkerd_proxy())]
#[case::kuma(kuma_init(), kuma_proxy(), native_kuma_proxy())]
fn the_proxy_starts_before_the_init_containers_that_need_it(
    #[case] setup: Value,
    #[case] proxy: Value,
    #[case] native: Value,
) {
    let migrate = init("migrate");
    let expected = json!([setup["name"], proxy["name"], "migrate"]);
    let mut object = pod(vec![migrate.clone(), setup], vec![proxy, app("app")]);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(outcome.warnings, Vec::<String>::new());
    assert_eq!(json!(names(&object, "initContainers")), expected);
    assert_eq!(names(&object, "containers"), ["app"]);
    assert_eq!(object["spec"]["initContainers"][1], native);
    assert_eq!(object["spec"]["initContainers"][2], migrate);
    // No other mesh's annotation on a pod that carries a proxy.
    assert_eq!(object["metadata"]["annotations"], json!({"team": "a"}));
}

#[rstest]
#[case::dependent_first(vec![init("migrate"), linkerd_init(), native_linkerd_proxy()], &["linkerd-init", "linkerd-proxy", "migrate"])]
#[case::setup_after(vec![native_linkerd_proxy(), init("linkerd-network-validator"), init("a")], &["linkerd-network-validator", "linkerd-proxy", "a"])]
fn reorders_native_linkerd_proxies(#[case] init: Vec<Value>, #[case] expected: &[&str]) {
    let mut object = pod(init, vec![app("app")]);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(names(&object, "initContainers"), expected);
    // A native proxy is only moved: its fields stay as they were.
    assert_eq!(object["spec"]["initContainers"][1], native_linkerd_proxy());
}

/// Today's bug: a Linkerd-injected Pod was given `sidecar.istio.io/nativeSidecar: "true"`.
#[rstest]
#[case::native(pod(vec![linkerd_init(), native_linkerd_proxy()], vec![app("app")]), Settings::default())]
#[case::native_istio_only(pod(vec![linkerd_init(), native_linkerd_proxy()], vec![app("app")]), settings(json!({"meshes": ["istio"]})))]
#[case::classic_istio_only(pod(vec![linkerd_init()], vec![linkerd_proxy(), app("app")]), settings(json!({"meshes": ["istio"]})))]
#[case::classic_no_mesh(pod(vec![linkerd_init()], vec![linkerd_proxy(), app("app")]), settings(json!({"meshes": []})))]
fn pods_with_a_mesh_proxy_get_no_other_meshs_annotation(
    #[case] before: Value,
    #[case] settings: Settings,
) {
    let mut object = before.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
    assert_eq!(outcome.rejection, None);
    assert!(!outcome.changed);
    assert_eq!(object, before);
}

const LINKERD_NATIVE: [&str; 3] = [
    "config.linkerd.io/proxy-enable-native-sidecar",
    "config.beta.linkerd.io/proxy-enable-native-sidecar",
    "config.alpha.linkerd.io/proxy-enable-native-sidecar",
];

fn linkerd_requested() -> Value {
    json!({"team": "a", LINKERD_NATIVE[0]: "true", LINKERD_NATIVE[1]: "true", LINKERD_NATIVE[2]: "true"})
}

fn istio_requested() -> Value {
    json!({"team": "a", "sidecar.istio.io/nativeSidecar": "true"})
}

#[rstest]
// The pod asks Linkerd to inject it: Linkerd's switch under every name its releases read.
#[case::pod_asks_linkerd(
    with_annotation(pod(vec![], vec![app("app")]), "linkerd.io/inject", "enabled"),
    Settings::default(),
    Some(json!({"team": "a", "linkerd.io/inject": "enabled", LINKERD_NATIVE[0]: "true", LINKERD_NATIVE[1]: "true", LINKERD_NATIVE[2]: "true"}))
)]
// Nothing on the pod: the first mesh of the setting (Istio by default; Linkerd when deployed for it).
#[case::default_istio(pod(vec![], vec![app("app")]), Settings::default(), Some(istio_requested()))]
#[case::linkerd_first(pod(vec![], vec![app("app")]), settings(json!({"meshes": ["linkerd", "istio"]})), Some(linkerd_requested()))]
#[case::linkerd_only(pod(vec![], vec![app("app")]), settings(json!({"meshes": ["linkerd"]})), Some(linkerd_requested()))]
#[case::no_mesh(pod(vec![], vec![app("app")]), settings(json!({"meshes": []})), None)]
// The pod chose already, or Linkerd will not inject it.
#[case::opted_out(with_annotation(pod(vec![], vec![app("app")]), LINKERD_NATIVE[0], "false"), settings(json!({"meshes": ["linkerd"]})), None)]
#[case::older_name(with_annotation(pod(vec![], vec![app("app")]), LINKERD_NATIVE[2], "true"), settings(json!({"meshes": ["linkerd"]})), None)]
#[case::inject_disabled(with_annotation(pod(vec![], vec![app("app")]), "linkerd.io/inject", "disabled"), settings(json!({"meshes": ["linkerd"]})), None)]
#[case::host_network({let mut p = pod(vec![], vec![app("app")]); p["spec"]["hostNetwork"] = json!(true); p}, settings(json!({"meshes": ["linkerd"]})), None)]
// Istio's opt-out keeps a pod whose injection Istio refuses free of Linkerd's annotations too.
#[case::istio_refused(with_annotation(pod(vec![], vec![app("app")]), "sidecar.istio.io/inject", "false"), Settings::default(), None)]
fn asks_the_injecting_mesh_for_native_injection(
    #[case] before: Value,
    #[case] settings: Settings,
    #[case] annotations: Option<Value>,
) {
    let mut object = before.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
    assert_eq!(outcome.rejection, None);
    assert_eq!(outcome.changed, annotations.is_some());
    let mut expected = before;
    if let Some(annotations) = annotations {
        expected["metadata"]["annotations"] = annotations;
    }
    assert_eq!(object, expected);
}

#[test]
fn linkerd_opt_out_keeps_the_pod_classic_with_a_warning() {
    for key in LINKERD_NATIVE {
        let before = with_annotation(
            pod(vec![linkerd_init()], vec![linkerd_proxy(), app("app")]),
            key,
            "false",
        );
        for outcome in unchanged_in_both_modes(&before, &Settings::default()) {
            assert_eq!(outcome.rejection, None);
            assert_eq!(
                outcome.warnings,
                [format!(
                    "{key}: \"false\" leaves linkerd-proxy as Linkerd renders it in classic mode; remove the annotation to run the proxy as a native sidecar"
                )]
            );
        }
    }
}

#[test]
fn linkerd_hooks_that_are_not_linkerds_are_kept_with_a_warning() {
    let mut proxy = linkerd_proxy();
    proxy["lifecycle"]["preStop"] = json!({"exec": {"command": ["/drain.sh"]}});
    let mut object = pod(vec![linkerd_init()], vec![proxy, app("app")]);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert_eq!(
        outcome.warnings,
        [
            "linkerd-proxy keeps its preStop hook, which Linkerd does not render: as a native sidecar a postStart hook holds back every later init container and a preStop hook runs before the proxy stops; check that the hook still does what it should"
        ]
    );
    let native = &object["spec"]["initContainers"][1];
    assert_eq!(
        native["lifecycle"],
        json!({"preStop": {"exec": {"command": ["/drain.sh"]}}})
    );
    assert_eq!(native["startupProbe"]["httpGet"]["port"], 4191);
}

#[rstest]
#[case::classic(
    pod(vec![init("migrate"), linkerd_init()], vec![linkerd_proxy(), app("app")]),
    "spec: linkerd-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: linkerd-proxy (containers[0]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: linkerd-init, linkerd-proxy, migrate"
)]
#[case::misplaced(
    pod(vec![init("migrate"), linkerd_init(), native_linkerd_proxy()], vec![app("app")]),
    "spec: linkerd-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: migrate (initContainers[0]) runs before linkerd-proxy has started, outside the mesh. Expected initContainers order: linkerd-init, linkerd-proxy, migrate"
)]
#[case::kuma_classic(
    pod(vec![init("migrate"), kuma_init()], vec![kuma_proxy(), app("app")]),
    "spec: kuma-sidecar must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: kuma-sidecar (containers[0]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: kuma-init, kuma-sidecar, migrate"
)]
#[case::kuma_misplaced(
    pod(vec![kuma_init(), init("migrate"), native_kuma_proxy()], vec![app("app")]),
    "spec: kuma-sidecar must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: migrate (initContainers[1]) runs before kuma-sidecar has started, outside the mesh. Expected initContainers order: kuma-init, kuma-sidecar, migrate"
)]
#[case::kuma_setup_after(
    pod(vec![native_kuma_proxy(), init("kuma-validation")], vec![app("app")]),
    "spec: kuma-sidecar must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: kuma-validation (initContainers[1]) must run before kuma-sidecar, which it sets up. Expected initContainers order: kuma-validation, kuma-sidecar"
)]
fn validate_mode_reports_linkerd_and_kuma_like_istio(#[case] before: Value, #[case] message: &str) {
    let mut object = before.clone();
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &validate_mode());
    assert_eq!(outcome.rejection.as_deref(), Some(message));
    assert_eq!(object, before, "validate mode never mutates");
}

#[rstest]
#[case::linkerd(linkerd_init(), linkerd_proxy())]
#[case::kuma(kuma_init(), kuma_proxy())]
fn declared_sidecars_start_after_the_meshs_proxy(#[case] setup: Value, #[case] proxy: Value) {
    let settings = settings(
        json!({"extraSidecars": [{"name": "vault-agent", "setupContainers": ["vault-agent-init"]}]}),
    );
    let (setup_name, proxy_name) = (setup["name"].clone(), proxy["name"].clone());
    let mut object = pod(
        vec![init("vault-agent-init"), init("migrate"), setup],
        vec![
            proxy,
            app("app"),
            json!({"name": "vault-agent", "image": "vault"}),
        ],
    );
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
    assert_eq!(outcome.rejection, None);
    assert_eq!(
        json!(names(&object, "initContainers")),
        json!([
            setup_name,
            proxy_name,
            "vault-agent-init",
            "vault-agent",
            "migrate"
        ])
    );
}

#[test]
fn a_disabled_mesh_is_left_alone() {
    let before = pod(vec![linkerd_init()], vec![linkerd_proxy(), app("app")]);
    for outcome in unchanged_in_both_modes(&before, &settings(json!({"meshes": ["istio"]}))) {
        assert_eq!(outcome.rejection, None);
    }
}

// ---- Kuma ---------------------------------------------------------------------------------------

fn kuma_proxy() -> Value {
    json!({
        "name": "kuma-sidecar",
        "image": "docker.io/kumahq/kuma-dp:2.14.0",
        "args": ["run", "--log-level=info", "--concurrency=2"],
        "livenessProbe": {"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 60},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 1},
        "x-unknown-field": {"kept": true}
    })
}

fn native_kuma_proxy() -> Value {
    let mut proxy = kuma_proxy();
    proxy["restartPolicy"] = json!("Always");
    proxy["lifecycle"] = json!({"preStop": {"exec": {"command": ["killall", "-USR2", "kuma-dp"]}}});
    proxy["startupProbe"] = json!({"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 12});
    proxy
}

fn kuma_init() -> Value {
    json!({"name": "kuma-init", "image": "docker.io/kumahq/kuma-init:2.14.0", "command": ["/usr/bin/kumactl", "install", "transparent-proxy"]})
}

/// Kuma's timings come from its control plane's configuration, given as settings.
#[test]
fn kuma_startup_probe_takes_the_control_planes_timings() {
    let settings = settings(
        json!({"kuma": {"startupProbe": {"initialDelaySeconds": 0, "timeoutSeconds": 10, "periodSeconds": 0, "failureThreshold": 60}}}),
    );
    let mut object = pod(vec![kuma_init()], vec![kuma_proxy(), app("app")]);
    let outcome = review(Kind::Pod, Operation::Create, &mut object, &settings);
    assert_eq!(outcome.rejection, None);
    assert_eq!(
        object["spec"]["initContainers"][1]["startupProbe"],
        json!({"httpGet": {"path": "/ready", "port": 9901}, "timeoutSeconds": 10, "successThreshold": 1, "failureThreshold": 60})
    );
}

#[rstest]
#[case::after_user_init(vec![kuma_init(), init("wait-db"), native_kuma_proxy()], &["kuma-init", "kuma-sidecar", "wait-db"])]
#[case::before_validation(vec![native_kuma_proxy(), init("kuma-validation"), init("fetch-config")], &["kuma-validation", "kuma-sidecar", "fetch-config"])]
fn reorders_native_kuma_proxies(#[case] init: Vec<Value>, #[case] expected: &[&str]) {
    let mut object = pod(init, vec![app("app")]);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(names(&object, "initContainers"), expected);
    // A native proxy is only moved: its fields, its timings included, stay as they were.
    assert_eq!(object["spec"]["initContainers"][1], native_kuma_proxy());
}

fn builtin_gateway(marker: &str) -> Value {
    let mut gateway = pod(
        vec![],
        vec![
            json!({"name": "kuma-gateway", "image": "docker.io/kumahq/kuma-dp:2.14.0", "args": ["run", "--log-level=info"]}),
        ],
    );
    gateway["metadata"]["annotations"]["kuma.io/gateway"] = json!("builtin");
    gateway["metadata"][marker]["kuma.io/sidecar-injection"] = json!("disabled");
    gateway
}

/// A Kuma-injected pod, or a builtin gateway's, got `sidecar.istio.io/nativeSidecar: "true"`.
#[rstest]
#[case::native(pod(vec![kuma_init(), native_kuma_proxy()], vec![app("app")]), Settings::default())]
#[case::native_istio_only(pod(vec![kuma_init(), native_kuma_proxy()], vec![app("app")]), settings(json!({"meshes": ["istio"]})))]
#[case::classic_istio_only(pod(vec![kuma_init()], vec![kuma_proxy(), app("app")]), settings(json!({"meshes": ["istio"]})))]
#[case::gateway_annotated(builtin_gateway("annotations"), Settings::default())]
#[case::gateway_labelled(builtin_gateway("labels"), Settings::default())]
#[case::gateway_kuma_first(builtin_gateway("annotations"), settings(json!({"meshes": ["kuma", "istio"]})))]
// A pod that asks Kuma to inject it: Kuma has no annotation to ask for native mode with.
#[case::asks_kuma({let mut p = pod(vec![], vec![app("app")]); p["metadata"]["labels"] = json!({"kuma.io/sidecar-injection": "enabled"}); p}, Settings::default())]
#[case::kuma_first(pod(vec![], vec![app("app")]), settings(json!({"meshes": ["kuma", "istio"]})))]
fn kuma_pods_get_no_other_meshs_annotation(#[case] before: Value, #[case] settings: Settings) {
    for outcome in unchanged_in_both_modes(&before, &settings) {
        assert_eq!(outcome.rejection, None);
        assert_eq!(outcome.warnings, Vec::<String>::new());
    }
}

fn with_probe_port(port: &str) -> Value {
    with_annotation(
        pod(
            vec![
                json!({"name": "metrics-sidecar", "image": "metrics", "restartPolicy": "Always", "readinessProbe": {"httpGet": {"path": "/ready", "port": 9001}}}),
                kuma_init(),
            ],
            vec![kuma_proxy(), app("app")],
        ),
        "kuma.io/application-probe-proxy-port",
        port,
    )
}

#[rstest]
#[case::init_named_like_proxy(
    pod(vec![init("kuma-sidecar"), kuma_init()], vec![kuma_proxy(), app("app")]),
    "spec.initContainers already has a container named \"kuma-sidecar\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
)]
#[case::two_proxies(
    pod(vec![kuma_init(), native_kuma_proxy()], vec![kuma_proxy(), app("app")]),
    "spec.initContainers already has a container named \"kuma-sidecar\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
)]
#[case::two_classic_proxies(
    pod(vec![kuma_init()], vec![kuma_proxy(), app("app"), kuma_proxy()]),
    "spec has 2 containers named \"kuma-sidecar\" (containers[0], containers[2]); keep a single proxy"
)]
#[case::restart_policy_rules(
    pod(vec![kuma_init()], vec![{let mut p = kuma_proxy(); p["restartPolicyRules"] = json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]); p}, app("app")]),
    "spec.containers[0] \"kuma-sidecar\" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or remove \"kuma\" from the policy's meshes setting"
)]
#[case::only_container(
    pod(vec![kuma_init()], vec![kuma_proxy()]),
    "spec.containers[0] \"kuma-sidecar\" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or remove \"kuma\" from the policy's meshes setting"
)]
#[case::not_restartable(
    pod(vec![kuma_init(), kuma_proxy()], vec![app("app")]),
    "spec.initContainers[1] \"kuma-sidecar\" has no restartPolicy, so it would have to exit before the next container starts; set restartPolicy: Always to run it as a native sidecar"
)]
// Kuma's injector refuses a pod whose probe is on its probe proxy's port: there is no native
// rendering to convert to.
#[case::probe_on_the_probe_proxy_port(
    with_probe_port("9001"),
    "spec.initContainers[0] \"metrics-sidecar\" has a readinessProbe on port 9001, which kuma.io/application-probe-proxy-port reserves for Kuma's probes: Kuma refuses to run such a pod with native sidecars; probe another port, or give kuma.io/application-probe-proxy-port another port"
)]
fn refuses_what_would_break_kuma(#[case] before: Value, #[case] message: &str) {
    for outcome in unchanged_in_both_modes(&before, &Settings::default()) {
        assert_eq!(outcome.rejection.as_deref(), Some(message));
    }
}

/// The same probe is routed when the probe proxy listens elsewhere, and left alone when the pod
/// has neither the probe proxy nor virtual probes.
#[rstest]
#[case::probe_proxy("9000", json!({"httpGet": {"path": "/9001/ready", "port": 9000}}))]
#[case::off("0", json!({"httpGet": {"path": "/ready", "port": 9001}}))]
fn user_native_sidecars_are_probed_through_kuma(#[case] port: &str, #[case] probe: Value) {
    let mut object = with_probe_port(port);
    let outcome = mutate(&mut object);
    assert_eq!(outcome.rejection, None);
    assert_eq!(
        names(&object, "initContainers"),
        ["kuma-init", "kuma-sidecar", "metrics-sidecar"]
    );
    assert_eq!(object["spec"]["initContainers"][2]["readinessProbe"], probe);
}

#[test]
fn kuma_left_out_of_meshes_is_left_alone() {
    let before = pod(vec![kuma_init()], vec![kuma_proxy(), app("app")]);
    for outcome in
        unchanged_in_both_modes(&before, &settings(json!({"meshes": ["istio", "linkerd"]})))
    {
        assert_eq!(outcome.rejection, None);
    }
}
