//! `checkNodes` in Kubewarden's real policy-server, reading EKS-like nodes from the stub
//! Kubernetes API (`KubeApi`) through policy-server's own client: discovery, the reflector's
//! paged LIST and WATCH, `get_resource`'s GET, field masks, host-capability grants and RBAC
//! refusals all run in the real engine, not in kwctl's replay.
//!
//! Needs Kubewarden's policy-server and `annotated-policy.wasm`, so the tests are ignored by a
//! plain `cargo test`; `make policy-server-tests POLICY_SERVER=path/to/policy-server` runs them
//! (CI always does). The stub and the server stop when a test ends, failed or not.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use native_sidecar_core::{Kind, Node, Operation, Outcome, Settings, review_with};
use native_sidecar_policy_server::{
    Counts, KubeApi, Policy, Server, admission_request, binary_from_env, patch_of, patched_object,
};
use native_sidecar_testdata::{EKS_OLD_KUBELET, eks_node, eks_node_name};
use serde_json::{Value, json};

const POLICY: &str = "check-nodes";
/// policy-server's default `--policy-timeout`, in seconds: a request the policy has not answered
/// by then is refused.
const POLICY_TIMEOUT: Duration = Duration::from_secs(2);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn binary() -> PathBuf {
    let binary = binary_from_env().expect("POLICY_SERVER is not set: make policy-server-tests");
    root().join(binary)
}

fn module() -> PathBuf {
    let module = root().join("annotated-policy.wasm");
    assert!(
        module.is_file(),
        "{} is missing: run `make annotated-policy.wasm`",
        module.display()
    );
    module
}

fn read_json(path: &str) -> Value {
    let path = root().join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `count` EKS-like nodes, those at `old` on a kubelet too old for native sidecars.
fn cluster(count: usize, old: &[usize]) -> Vec<Value> {
    (0..count)
        .map(|at| {
            let mut node = eks_node(at);
            if old.contains(&at) {
                node["status"]["nodeInfo"]["kubeletVersion"] = json!(EKS_OLD_KUBELET);
            }
            node
        })
        .collect()
}

fn settings() -> Value {
    json!({"checkNodes": true})
}

/// The policy as policy.yaml's ClusterAdmissionPolicies run it, allowed to read nodes, served by
/// a policy-server whose cluster is `api`.
fn serve(api: &KubeApi) -> Server {
    let policy = Policy {
        context_aware_resources: json!([{"apiVersion": "v1", "kind": "Node"}]),
        ..Policy::new(POLICY, &module())
            .settings(settings())
            .allowed_to_mutate()
    };
    Server::start_in(&binary(), &[policy], 2, Some(api)).unwrap_or_else(|e| panic!("{e:#}"))
}

fn answer(server: &Server, request: &Value) -> Value {
    server
        .review("validate", POLICY, request)
        .and_then(|reply| reply.response())
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// What the core decides for `request` with `nodes` in memory: the same rule the module runs.
fn decided(request: &Value, nodes: &[Value]) -> (Value, Outcome) {
    let nodes: Vec<Node> = nodes
        .iter()
        .map(|n| {
            Node::new(
                n["metadata"]["name"].as_str().unwrap(),
                n["status"]["nodeInfo"]["kubeletVersion"].as_str().unwrap(),
            )
        })
        .collect();
    let request = admission_request(request);
    let mut object = request["object"].clone();
    let kind = Kind::from_object(&object).unwrap();
    let outcome = review_with(
        kind,
        Operation::Create,
        &mut object,
        &Settings::from_json(&settings()).unwrap(),
        &mut nodes.clone(),
    );
    (object, outcome)
}

/// policy-server's answer is the core's: the object after the patch and the warnings.
fn assert_as_decided(request: &Value, response: &Value, nodes: &[Value]) -> Outcome {
    let (object, outcome) = decided(request, nodes);
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(
        patched_object(request, response).unwrap(),
        object,
        "{response}"
    );
    assert_eq!(
        patch_of(response).unwrap().is_some(),
        outcome.changed,
        "{response}"
    );
    let warnings: Vec<String> = response["warnings"]
        .as_array()
        .map(|w| w.iter().map(|w| w.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    assert_eq!(warnings, outcome.warnings);
    outcome
}

fn classic_pod() -> Value {
    read_json("test_data/requests/istio-pod-classic.json")
}

fn on_node(mut request: Value, node: &str) -> Value {
    request["object"]["spec"]["nodeName"] = json!(node);
    request
}

/// The pod as the DaemonSet controller creates it for `node`: no `nodeName` (the scheduler binds
/// it), a required node affinity selecting that node by `metadata.name`.
fn daemonset_pod(node: &str) -> Value {
    let mut request = classic_pod();
    request["object"]["spec"]["affinity"] = json!({"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]}
    }});
    request
}

/// Errors in policy-server's log but for the host call of a pinned pod whose node is missing,
/// which policy-server logs before the policy falls back to the list.
fn unexpected_errors(log: &str) -> Vec<String> {
    native_sidecar_policy_server::guest_errors(log)
        .into_iter()
        .filter(|line| !line.contains("Cannot find v1/Node named"))
        .collect()
}

/// A cluster of 5,000 new nodes: the first request after policy-server starts waits for the
/// reflector's initial LIST (ten pages of 500) and is still answered within the policy timeout;
/// then a Deployment, a pinned Pod and a DaemonSet's Pod all become native, the pinned ones from
/// their own node alone.
#[test]
#[ignore = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path"]
fn a_new_cluster_of_5000_nodes_gets_native_sidecars() {
    let nodes = cluster(5000, &[]);
    let api = KubeApi::start(&nodes).unwrap();
    let server = serve(&api);
    assert_eq!(api.counts().lists, 0, "nothing is listed before a request");

    let request = classic_pod();
    let started = Instant::now();
    let response = answer(&server, &request);
    let first = started.elapsed();
    eprintln!("the first request, 5,000 nodes: {first:?}");
    assert_eq!(
        patched_object(&request, &response).unwrap(),
        read_json("test_data/requests/expected/istio-pod-classic.json")
    );
    assert!(
        first < POLICY_TIMEOUT,
        "the first request took {first:?}, over policy-server's policy timeout"
    );
    let counts = api.counts();
    assert_eq!(
        (counts.lists, counts.pages, counts.watches),
        (1, 10, 1),
        "{counts:?}"
    );

    let deployment = read_json("test_data/requests/istio-hello-classic.json");
    assert!(assert_as_decided(&deployment, &answer(&server, &deployment), &nodes).changed);
    for request in [
        on_node(classic_pod(), &eks_node_name(4321)),
        daemonset_pod(&eks_node_name(17)),
    ] {
        assert!(assert_as_decided(&request, &answer(&server, &request), &nodes).changed);
    }
    let counts = api.counts();
    assert_eq!(
        (counts.lists, counts.gets),
        (1, 2),
        "the reflector lists once; each pinned pod reads its node: {counts:?}"
    );
    let log = server.stop().unwrap();
    assert_eq!(unexpected_errors(&log), Vec::<String>::new());
}

/// A cluster in the middle of an upgrade (one node of four on 1.32): new pods stay classic with
/// the warning naming it, but a pod pinned to a new node is converted after reading that node
/// alone, and a pod pinned to a node that does not exist falls back to the whole list.
#[test]
#[ignore = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path"]
fn one_old_node_keeps_new_pods_classic_but_not_pods_pinned_to_new_nodes() {
    let nodes = cluster(4, &[2]);
    let api = KubeApi::start(&nodes).unwrap();
    let server = serve(&api);

    for request in [
        on_node(classic_pod(), &eks_node_name(1)),
        daemonset_pod(&eks_node_name(3)),
    ] {
        assert!(assert_as_decided(&request, &answer(&server, &request), &nodes).changed);
    }
    let pinned_old = on_node(classic_pod(), &eks_node_name(2));
    let outcome = assert_as_decided(&pinned_old, &answer(&server, &pinned_old), &nodes);
    assert!(outcome.warnings[0].starts_with(&format!(
        "no native sidecar made: the pod's node \"{}\" runs kubelet {EKS_OLD_KUBELET}",
        eks_node_name(2)
    )));
    assert_eq!(
        api.counts(),
        Counts {
            discovery: 1,
            gets: 3,
            ..Counts::default()
        },
        "pinned pods read their node and never list"
    );

    let request = classic_pod();
    let outcome = assert_as_decided(&request, &answer(&server, &request), &nodes);
    assert!(!outcome.changed);
    assert!(
        outcome.warnings[0].starts_with(&format!(
            "no native sidecar made: node \"{}\" runs kubelet {EKS_OLD_KUBELET}, older than minKubeletVersion 1.33 (1 of 4 nodes)",
            eks_node_name(2)
        )),
        "{outcome:?}"
    );
    let missing = on_node(classic_pod(), "ip-10-9-9-9.eu-west-1.compute.internal");
    let outcome = assert_as_decided(&missing, &answer(&server, &missing), &nodes);
    assert!(!outcome.changed, "the whole list decides: {outcome:?}");
    let counts = api.counts();
    assert_eq!((counts.lists, counts.gets), (1, 4), "{counts:?}");
    let log = server.stop().unwrap();
    assert_eq!(unexpected_errors(&log), Vec::<String>::new());
}

/// Without RBAC on nodes the API server refuses every read. A pinned pod's refused GET comes
/// back at once: the pod is left as it is, with the warning that says what to grant. A refused
/// LIST is another matter in policy-server 1.36: its reflector retries the LIST forever and the
/// request waits with it, past the policy timeout (the API server's webhook timeout and the
/// policy's failurePolicy then decide), which this test holds for as long as [`NO_ANSWER`].
#[test]
#[ignore = "needs Kubewarden's policy-server: make policy-server-tests POLICY_SERVER=path"]
fn refused_reads_leave_the_pod_untouched_with_the_warning() {
    let api = KubeApi::start(&cluster(3, &[])).unwrap();
    api.refuse(true);
    let server = serve(&api);
    let response = answer(&server, &on_node(classic_pod(), &eks_node_name(1)));
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(patch_of(&response).unwrap(), None, "{response}");
    // policy-evaluator quotes kube-rs' whole error, the API server's Status included.
    let warnings = response["warnings"].as_array().cloned().unwrap_or_default();
    let warning = warnings.first().and_then(Value::as_str).unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{response}");
    assert!(
        warning.starts_with(
            "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (Callback evaluation failure: "
        ) && warning.contains(
            "nodes is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot get resource \"nodes\""
        ) && warning.ends_with(
            "); let the policy-server's service account get, list and watch nodes (the ClusterRole and ClusterRoleBinding in policy.yaml), or set checkNodes: false"
        ),
        "{warning}"
    );
    assert_eq!(
        api.counts(),
        Counts {
            discovery: 1,
            refused: 1,
            ..Counts::default()
        },
        "a refused GET is not retried as a LIST"
    );

    let client = server.client();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(
            client
                .review("validate", POLICY, &classic_pod())
                .map(|r| r.body),
        );
    });
    let waited = receiver.recv_timeout(NO_ANSWER);
    assert!(
        waited.is_err(),
        "policy-server answered a request whose LIST was refused: {waited:?}"
    );
    assert!(api.counts().refused >= 2, "{:?}", api.counts());
    // Stopping the server ends the waiting request.
    drop(server);
}

/// How long the refused LIST is seen to wait: twice the policy timeout.
const NO_ANSWER: Duration = Duration::from_secs(4);
