//! checkNodes: native sidecars only where the kubelets run them (Istio's `auto` rule), on Istio's
//! own injector output, with the nodes answered from memory.

use native_sidecar_core::{
    Cluster, Finding, Kind, Mode, Node, Operation, Outcome, Settings, review, review_with,
};
use native_sidecar_testdata::istio_pairs;
use rstest::rstest;
use serde_json::{Value, json};

/// A cluster that answers from memory and counts how often it was asked.
struct Counted {
    answer: Result<Vec<Node>, String>,
    asked: usize,
}

impl Counted {
    fn nodes(list: &[(&str, &str)]) -> Counted {
        Counted {
            answer: Ok(list.iter().map(|(n, v)| Node::new(n, v)).collect()),
            asked: 0,
        }
    }

    fn failing(message: &str) -> Counted {
        Counted {
            answer: Err(message.to_owned()),
            asked: 0,
        }
    }
}

impl Cluster for Counted {
    fn nodes(&mut self) -> Result<Vec<Node>, String> {
        self.asked += 1;
        self.answer.clone()
    }
}

fn pair(name: &str) -> (Value, Value) {
    let pair = istio_pairs()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no Istio pair {name}"));
    (pair.before, pair.after)
}

fn checking(mode: Mode) -> Settings {
    Settings::from_json(&json!({"mode": mode.as_str(), "checkNodes": true})).unwrap()
}

fn run(object: &Value, kind: Kind, settings: &Settings, cluster: &mut Counted) -> (Value, Outcome) {
    let mut output = object.clone();
    let outcome = review_with(kind, Operation::Create, &mut output, settings, cluster);
    (output, outcome)
}

/// What the review would fix without the check: what it holds back when the nodes say no.
fn findings_without_the_check(object: &Value, kind: Kind, mode: Mode) -> Vec<Finding> {
    let settings = Settings::from_json(&json!({"mode": mode.as_str()})).unwrap();
    let findings = review(kind, Operation::Create, &mut object.clone(), &settings).findings;
    assert!(!findings.is_empty(), "nothing to hold back");
    findings
}

fn with_node_name(mut pod: Value, node: &str) -> Value {
    pod["spec"]["nodeName"] = json!(node);
    pod
}

const NEW: &[(&str, &str)] = &[("cp-1", "v1.33.5-eks-3025e55"), ("worker-1", "v1.34.1")];
const ONE_OLD: &[(&str, &str)] = &[
    ("cp-1", "v1.33.5-eks-3025e55"),
    ("worker-1", "v1.34.1"),
    ("worker-2", "v1.32.9+k3s1"),
];

const OLD_WORKER_2: &str = "no native sidecar made: node \"worker-2\" runs kubelet v1.32.9+k3s1, older than minKubeletVersion 1.33 (1 of 3 nodes), and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start. Upgrade the node's kubelet, or lower minKubeletVersion (at least 1.29) if it runs sidecar containers";

#[rstest]
#[case::pod("pod", Kind::Pod)]
#[case::deployment("hello", Kind::Deployment)]
#[case::job("job", Kind::Job)]
fn new_nodes_convert_as_without_the_check(#[case] name: &str, #[case] kind: Kind) {
    let (classic, native) = pair(name);
    let mut cluster = Counted::nodes(NEW);
    let (output, outcome) = run(&classic, kind, &checking(Mode::Mutate), &mut cluster);
    assert_eq!(output, native);
    assert!(outcome.changed);
    assert_eq!(outcome.warnings, Vec::<String>::new());
    assert_eq!(cluster.asked, 1);
}

#[rstest]
#[case::pod("pod", Kind::Pod)]
#[case::deployment("hello", Kind::Deployment)]
fn one_old_node_leaves_the_object_untouched(#[case] name: &str, #[case] kind: Kind) {
    let (classic, _) = pair(name);
    let mut cluster = Counted::nodes(ONE_OLD);
    let (output, outcome) = run(&classic, kind, &checking(Mode::Mutate), &mut cluster);
    assert_eq!(output, classic);
    assert_eq!(
        outcome,
        Outcome {
            warnings: vec![OLD_WORKER_2.to_owned()],
            held_back: findings_without_the_check(&classic, kind, Mode::Mutate),
            ..Outcome::default()
        }
    );
    assert_eq!(cluster.asked, 1);
}

#[test]
fn the_pods_own_node_decides() {
    let (classic, native) = pair("pod");
    let settings = checking(Mode::Mutate);

    let on_new = with_node_name(classic.clone(), "worker-1");
    let (output, outcome) = run(&on_new, Kind::Pod, &settings, &mut Counted::nodes(ONE_OLD));
    assert!(outcome.changed, "the old worker-2 does not run this pod");
    assert_eq!(output, with_node_name(native, "worker-1"));

    let on_old = with_node_name(classic.clone(), "worker-2");
    let mixed = &[
        ("cp-1", "v1.28.15-gke.1503000"),
        ("worker-2", "v1.30.2"),
        ("worker-3", "v1.34.0"),
    ];
    let (output, outcome) = run(&on_old, Kind::Pod, &settings, &mut Counted::nodes(mixed));
    assert_eq!(output, on_old);
    assert_eq!(
        outcome.warnings,
        [
            "no native sidecar made: the pod's node \"worker-2\" runs kubelet v1.30.2, older than minKubeletVersion 1.33, and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start. Upgrade the node's kubelet, or lower minKubeletVersion (at least 1.29) if it runs sidecar containers"
        ]
    );

    // A node name the list does not hold: every node decides, as Istio does.
    let unknown = with_node_name(classic, "gone");
    let (output, outcome) = run(&unknown, Kind::Pod, &settings, &mut Counted::nodes(mixed));
    assert_eq!(output, unknown);
    assert_eq!(
        outcome.warnings,
        [
            "no native sidecar made: node \"cp-1\" runs kubelet v1.28.15-gke.1503000, older than minKubeletVersion 1.33 (the oldest of 2 such nodes out of 3), and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start. Upgrade the node's kubelet, or lower minKubeletVersion (at least 1.29) if it runs sidecar containers"
        ]
    );
}

#[test]
fn a_lower_minimum_lets_older_nodes_run_native_sidecars() {
    let (classic, native) = pair("pod");
    let settings =
        Settings::from_json(&json!({"checkNodes": true, "minKubeletVersion": "1.32"})).unwrap();
    let (output, outcome) = run(&classic, Kind::Pod, &settings, &mut Counted::nodes(ONE_OLD));
    assert!(outcome.changed);
    assert_eq!(output, native);
}

#[rstest]
#[case::no_rbac(
    "nodes is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
    "let the policy-server's service account get, list and watch nodes (the ClusterRole and ClusterRoleBinding in policy.yaml), or set checkNodes: false"
)]
#[case::not_granted(
    "Policy has not been granted access to Kubernetes v1/Node resources. The violation has been reported.",
    "add {apiVersion: v1, kind: Node} to the policy's spec.contextAwareResources (kwctl run: --allow-context-aware and the annotated module), or set checkNodes: false"
)]
#[case::host_capability(
    "Policy has not been granted access to the 'kubernetes/list_resources_all' host capability. The violation has been reported.",
    "allow the policy the host capabilities kubernetes/list_resources_all and kubernetes/get_resource (policy-server: the policy's hostCapabilities; kwctl run: --allowed-host-capabilities), or set checkNodes: false"
)]
#[case::replay(
    "Callback evaluation failure: the list of recorded responses is empty",
    "the replayed session does not answer this call: the policy asks get_resource for the v1/Node a pod is pinned to (then list_resources_all only if it does not exist), else list_resources_all for v1/Node, with the field masks metadata.name and status.nodeInfo.kubeletVersion, once per request that needs the nodes"
)]
#[case::other(
    "Callback evaluation failure: Error sending request over callback channel",
    "check that the policy's spec.contextAwareResources lists {apiVersion: v1, kind: Node} and that the policy-server's service account may get, list and watch nodes, or set checkNodes: false"
)]
fn unreadable_nodes_leave_the_object_untouched(#[case] error: &str, #[case] fix: &str) {
    let (classic, _) = pair("pod");
    let mut cluster = Counted::failing(error);
    let (output, outcome) = run(&classic, Kind::Pod, &checking(Mode::Mutate), &mut cluster);
    assert_eq!(output, classic);
    assert_eq!(
        outcome,
        Outcome {
            warnings: vec![format!(
                "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read ({error}); {fix}"
            )],
            held_back: findings_without_the_check(&classic, Kind::Pod, Mode::Mutate),
            ..Outcome::default()
        }
    );
}

#[test]
fn without_a_cluster_nothing_native_is_made() {
    let (classic, _) = pair("pod");
    let mut output = classic.clone();
    let outcome = review(
        Kind::Pod,
        Operation::Create,
        &mut output,
        &checking(Mode::Mutate),
    );
    assert_eq!(output, classic);
    assert_eq!(
        outcome.warnings,
        [
            "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (this evaluation has no Kubernetes cluster to ask); evaluate the policy in policy-server or with `kwctl run --allow-context-aware`, or set checkNodes: false"
        ]
    );
}

fn uninjected_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "mesh"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}
    })
}

#[test]
fn native_injection_is_requested_only_on_new_nodes() {
    let pod = uninjected_pod();
    let settings = checking(Mode::Mutate);
    let (output, outcome) = run(&pod, Kind::Pod, &settings, &mut Counted::nodes(NEW));
    assert!(outcome.changed);
    assert_eq!(
        output["metadata"]["annotations"],
        json!({"sidecar.istio.io/nativeSidecar": "true"})
    );
    let (output, outcome) = run(&pod, Kind::Pod, &settings, &mut Counted::nodes(ONE_OLD));
    assert_eq!(output, pod);
    assert_eq!(outcome.warnings, [OLD_WORKER_2]);
}

#[test]
fn a_misplaced_native_proxy_is_not_moved_on_old_nodes() {
    let (_, native) = pair("pod");
    let mut misplaced = native.clone();
    // A user init container before the proxy: mutate mode would move the proxy up.
    misplaced["spec"]["initContainers"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"name": "migrate", "image": "busybox"}));
    let settings = checking(Mode::Mutate);
    let (output, outcome) = run(&misplaced, Kind::Pod, &settings, &mut Counted::nodes(NEW));
    assert!(outcome.changed);
    assert_ne!(output, misplaced);
    let (output, outcome) = run(
        &misplaced,
        Kind::Pod,
        &settings,
        &mut Counted::nodes(ONE_OLD),
    );
    assert_eq!(output, misplaced);
    assert_eq!(outcome.warnings, [OLD_WORKER_2]);
}

/// Only a decision that would make something native pays for reading the nodes.
#[rstest]
#[case::native_in_place("pod", true, Mode::Mutate, Operation::Create)]
#[case::pod_update("pod", false, Mode::Mutate, Operation::Update)]
#[case::uninjected_validate("uninjected", false, Mode::Validate, Operation::Create)]
#[case::opted_out_of_injection("opted-out", false, Mode::Mutate, Operation::Create)]
fn nodes_are_read_only_when_something_native_is_pending(
    #[case] which: &str,
    #[case] native: bool,
    #[case] mode: Mode,
    #[case] operation: Operation,
) {
    let object = match which {
        "pod" => {
            let (classic, native_pod) = pair("pod");
            if native { native_pod } else { classic }
        }
        "uninjected" => uninjected_pod(),
        _ => {
            let mut pod = uninjected_pod();
            pod["metadata"]["labels"] = json!({"sidecar.istio.io/inject": "false"});
            pod
        }
    };
    let mut cluster = Counted::nodes(ONE_OLD);
    let mut output = object.clone();
    let outcome = review_with(
        Kind::Pod,
        operation,
        &mut output,
        &checking(mode),
        &mut cluster,
    );
    assert_eq!(cluster.asked, 0);
    assert_eq!(output, object);
    assert_eq!(
        (outcome.changed, outcome.rejection, outcome.warnings),
        (false, None, vec![])
    );
}

#[test]
fn with_check_nodes_off_the_cluster_is_never_asked() {
    let (classic, native) = pair("pod");
    let mut cluster = Counted::nodes(ONE_OLD);
    let (output, outcome) = run(&classic, Kind::Pod, &Settings::default(), &mut cluster);
    assert!(outcome.changed);
    assert_eq!(output, native);
    assert_eq!(cluster.asked, 0);
}

#[test]
fn validate_mode_on_new_nodes_judges_as_without_the_check() {
    let (classic, native) = pair("pod");
    let settings = checking(Mode::Validate);
    let (_, outcome) = run(&classic, Kind::Pod, &settings, &mut Counted::nodes(NEW));
    assert!(outcome.rejection.is_some());
    let (_, outcome) = run(&native, Kind::Pod, &settings, &mut Counted::nodes(NEW));
    assert_eq!(outcome.rejection, None);
    assert_eq!(outcome.warnings, Vec::<String>::new());
}

#[test]
fn validate_mode_on_old_nodes_accepts_classic_and_reports_native_proxies() {
    let (classic, native) = pair("pod");
    let settings = checking(Mode::Validate);
    let mut cluster = Counted::nodes(ONE_OLD);
    let (output, outcome) = run(&classic, Kind::Pod, &settings, &mut cluster);
    assert_eq!(output, classic);
    assert_eq!(
        outcome,
        Outcome {
            warnings: vec!["istio-proxy may stay a regular container: node \"worker-2\" runs kubelet v1.32.9+k3s1, older than minKubeletVersion 1.33 (1 of 3 nodes), and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start. Upgrade the node's kubelet, or lower minKubeletVersion (at least 1.29) if it runs sidecar containers".to_owned()],
            held_back: findings_without_the_check(&classic, Kind::Pod, Mode::Validate),
            ..Outcome::default()
        }
    );
    let (_, outcome) = run(&native, Kind::Pod, &settings, &mut cluster);
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(
            "spec: istio-proxy runs as a native sidecar, but node \"worker-2\" runs kubelet v1.32.9+k3s1, older than minKubeletVersion 1.33 (1 of 3 nodes), and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start. Run the pod on nodes with kubelet 1.33 or later, or run the proxy as a regular container"
        )
    );
    assert_eq!(cluster.asked, 2);
}

#[test]
fn validate_mode_with_unreadable_nodes_reports_nothing() {
    let (classic, _) = pair("hello");
    let (_, outcome) = run(
        &classic,
        Kind::Deployment,
        &checking(Mode::Validate),
        &mut Counted::failing("boom"),
    );
    assert_eq!(
        outcome,
        Outcome {
            warnings: vec!["sidecar placement not checked: checkNodes is on and the cluster's nodes cannot be read (boom); check that the policy's spec.contextAwareResources lists {apiVersion: v1, kind: Node} and that the policy-server's service account may get, list and watch nodes, or set checkNodes: false".to_owned()],
            held_back: findings_without_the_check(&classic, Kind::Deployment, Mode::Validate),
            ..Outcome::default()
        }
    );
}

#[test]
fn nodes_without_a_kubelet_version_are_too_old() {
    let (classic, _) = pair("pod");
    let nodes = &[("a", "v1.34.0"), ("b", ""), ("c", "not-a-version")];
    let (output, outcome) = run(
        &classic,
        Kind::Pod,
        &checking(Mode::Mutate),
        &mut Counted::nodes(nodes),
    );
    assert_eq!(output, classic);
    assert_eq!(
        outcome.warnings,
        [
            "no native sidecar made: node \"b\" reports no kubelet version, which counts as older than minKubeletVersion 1.33 (the oldest of 2 such nodes out of 3), and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start. Upgrade the node's kubelet, or lower minKubeletVersion (at least 1.29) if it runs sidecar containers"
        ]
    );
}

#[test]
fn a_node_without_a_name_is_described_as_such() {
    let (classic, _) = pair("pod");
    let (_, outcome) = run(
        &classic,
        Kind::Pod,
        &checking(Mode::Mutate),
        &mut Counted::nodes(&[("", "v1.30.0"), ("b", "v1.34.0")]),
    );
    assert!(outcome.warnings[0].starts_with(
        "no native sidecar made: a node without a name runs kubelet v1.30.0, older than minKubeletVersion 1.33 (1 of 2 nodes)"
    ));
}
