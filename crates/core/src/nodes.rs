//! Can the cluster's kubelets run native sidecars? Istio's rule (`DetectNativeSidecar`, its
//! default `auto` mode since 1.27): a kubelet without sidecar support runs a native sidecar as an
//! ordinary init container that never exits, and the pod never starts. So the pod's own node
//! decides when `spec.nodeName` names a node that exists; otherwise every node must be new enough,
//! because the scheduler may put the pod on any of them. An empty node list means native.
//!
//! A pod pinned to one node (its `nodeName`, or a required node affinity that selects one node by
//! `metadata.name`, as the DaemonSet controller writes for each of its pods) is decided from that
//! node alone, read by name ([`Cluster::node`]): in policy-server reading the whole list costs
//! O(nodes) on every request (SPEC section 12). When that node does not exist, the whole list
//! decides, as for any other pod; when it cannot be read, the pod stays classic with the reason.
//!
//! The nodes come from the caller through [`Cluster`], asked only when a decision needs them, at
//! most once per review (a pinned pod: its node, then the list only if it does not exist): the policy
//! reads them through Kubewarden host capabilities, tests and tools answer from memory, and
//! `review` has no cluster at all.

mod scan;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::describe::join;
use crate::kubelet::KubeletVersion;
use crate::pod::PodView;
use crate::settings::{Mode, Settings};

/// A node as the rule needs it: its name and `status.nodeInfo.kubeletVersion` (empty when the
/// node reports none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub name: String,
    pub kubelet_version: String,
}

impl Node {
    pub fn new(name: &str, kubelet_version: &str) -> Node {
        Node {
            name: name.to_owned(),
            kubelet_version: kubelet_version.to_owned(),
        }
    }

    /// From UTF-8 read in place (nothing to replace: the reader checked it).
    fn from_bytes(name: &[u8], kubelet_version: &[u8]) -> Node {
        Node {
            name: String::from_utf8_lossy(name).into_owned(),
            kubelet_version: String::from_utf8_lossy(kubelet_version).into_owned(),
        }
    }
}

/// Where the review reads the cluster's nodes from. `Err` carries the reason, in the words of
/// whoever failed (the host's error message), and becomes part of the warning.
pub trait Cluster {
    /// Every node.
    fn nodes(&mut self) -> Result<Vec<Node>, String>;

    /// The node named `name` alone: `Ok(None)` when the cluster has no such node. By default
    /// looked for in [`Cluster::nodes`]; a cluster that can read one node by name says so here.
    fn node(&mut self, name: &str) -> Result<Option<Node>, String> {
        Ok(self.nodes()?.into_iter().find(|node| node.name == name))
    }

    /// Istio's rule over every node ([`support`]) for a pod that names `node_name`. By default on
    /// [`Cluster::nodes`]; a cluster that decides while it reads its answer
    /// ([`answer_support`]) says so here.
    fn support(
        &mut self,
        node_name: Option<&str>,
        minimum: KubeletVersion,
    ) -> Result<Support, String> {
        self.nodes()
            .map(|nodes| support(&nodes, node_name, minimum))
    }
}

/// A cluster that cannot be read: the review run without a host (`review`, `review_request`,
/// `review_manifest`, the JavaScript package).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCluster;

/// The reason [`NoCluster`] gives; the warning recognises it to say what to do.
pub const NO_CLUSTER: &str = "this evaluation has no Kubernetes cluster to ask";

impl Cluster for NoCluster {
    fn nodes(&mut self) -> Result<Vec<Node>, String> {
        Err(NO_CLUSTER.to_owned())
    }
}

/// Nodes held in memory, for tests and tools.
impl Cluster for Vec<Node> {
    fn nodes(&mut self) -> Result<Vec<Node>, String> {
        Ok(self.clone())
    }
}

/// Reads the host's answer to `list_resources_all` for `v1/Node`: a NodeList as JSON (a live
/// policy-server trims each node to the masked fields but keeps its whole `metadata`). Only each
/// node's name and kubelet version are kept; a node without status has an empty version.
pub fn parse_node_list(answer: &[u8]) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    match scan::each_node(answer, &mut |name, version| {
        nodes.push(Node::from_bytes(name, version));
    }) {
        Some(()) => Ok(nodes),
        None => serde_node_list(answer),
    }
}

/// [`support`] on the host's answer to `list_resources_all`, decided while the answer is read, in
/// place: no node is built but the pod's own and the oldest. Errors as [`parse_node_list`].
pub fn answer_support(
    answer: &[u8],
    node_name: Option<&str>,
    minimum: KubeletVersion,
) -> Result<Support, String> {
    let mut tally = Tally::new(node_name, minimum);
    match scan::each_node(answer, &mut |name, version| tally.add(name, version)) {
        Some(()) => Ok(tally.support()),
        None => serde_node_list(answer).map(|nodes| support(&nodes, node_name, minimum)),
    }
}

/// serde's reading of the answer: what the scan gives up on, with serde's words for what is wrong.
fn serde_node_list(answer: &[u8]) -> Result<Vec<Node>, String> {
    let list: WireList = serde_json::from_slice(answer)
        .map_err(|e| format!("the host's answer is not a node list: {e}"))?;
    Ok(list.nodes())
}

/// Reads the host's answer to `get_resource` for one `v1/Node`: its name and kubelet version, with
/// the defaults of [`parse_node_list`].
pub fn parse_node(answer: &[u8]) -> Result<Node, String> {
    if let Some((name, version)) = scan::one_node(answer) {
        return Ok(Node::from_bytes(&name, &version));
    }
    let node: WireNode = serde_json::from_slice(answer)
        .map_err(|e| format!("the host's answer is not a node: {e}"))?;
    Ok(node.into())
}

/// [`parse_node_list`] on a NodeList already read, such as `kubectl get nodes -o json` in a file
/// that a tool read as YAML or JSON: the same fields, the same defaults.
pub fn node_list(list: &Value) -> Result<Vec<Node>, String> {
    WireList::deserialize(list)
        .map(WireList::nodes)
        .map_err(|e| format!("not a node list: {e}"))
}

// The wire shape: every level optional, every other field skipped without being built.
#[derive(Deserialize)]
struct WireList {
    #[serde(default)]
    items: Option<Vec<WireNode>>,
}

impl WireList {
    fn nodes(self) -> Vec<Node> {
        self.items
            .unwrap_or_default()
            .into_iter()
            .map(Node::from)
            .collect()
    }
}

impl From<WireNode> for Node {
    fn from(node: WireNode) -> Node {
        Node {
            name: node.metadata.and_then(|m| m.name).unwrap_or_default(),
            kubelet_version: node
                .status
                .and_then(|s| s.node_info)
                .and_then(|i| i.kubelet_version)
                .unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct WireNode {
    #[serde(default)]
    metadata: Option<WireMetadata>,
    #[serde(default)]
    status: Option<WireStatus>,
}

#[derive(Deserialize)]
struct WireMetadata {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WireStatus {
    #[serde(default, rename = "nodeInfo")]
    node_info: Option<WireNodeInfo>,
}

#[derive(Deserialize)]
struct WireNodeInfo {
    #[serde(default, rename = "kubeletVersion")]
    kubelet_version: Option<String>,
}

/// What the nodes say about native sidecars for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Every node that decides runs at least the minimum (or there are no nodes).
    Native,
    /// Some deciding node is older: the oldest of them, and how many of the nodes are too old.
    TooOld {
        oldest: Node,
        /// The pod's own node decided (`spec.nodeName`).
        own_node: bool,
        too_old: usize,
        nodes: usize,
    },
}

/// Istio's rule, with `minimum` as the lowest kubelet version that runs native sidecars.
pub fn support(nodes: &[Node], node_name: Option<&str>, minimum: KubeletVersion) -> Support {
    let mut tally = Tally::new(node_name, minimum);
    for node in nodes {
        tally.add(node.name.as_bytes(), node.kubelet_version.as_bytes());
    }
    tally.support()
}

/// Istio's rule fed one node at a time, in the list's order, keeping only the pod's own node and
/// the oldest one: [`support`] on a list, or on the host's answer as it is read.
struct Tally<'a> {
    node_name: Option<&'a str>,
    minimum: KubeletVersion,
    /// The first node named `node_name`: it alone decides.
    own: Option<Node>,
    /// The first of the oldest too-old nodes, and its version (`None`, unreadable, sorts below
    /// every version: it is the worst case).
    oldest: Option<(Node, Option<KubeletVersion>)>,
    too_old: usize,
    nodes: usize,
}

impl<'a> Tally<'a> {
    fn new(node_name: Option<&'a str>, minimum: KubeletVersion) -> Tally<'a> {
        Tally {
            node_name,
            minimum,
            own: None,
            oldest: None,
            too_old: 0,
            nodes: 0,
        }
    }

    /// A node's name and kubelet version, as UTF-8. In line: the answer's reader calls it for
    /// every node.
    #[inline(always)]
    fn add(&mut self, name: &[u8], kubelet_version: &[u8]) {
        self.nodes += 1;
        if self.own.is_none() && self.node_name.map(str::as_bytes) == Some(name) {
            self.own = Some(Node::from_bytes(name, kubelet_version));
        }
        let version = KubeletVersion::from_kubelet_bytes(kubelet_version);
        if version.is_some_and(|v| v >= self.minimum) {
            return;
        }
        self.too_old += 1;
        if self
            .oldest
            .as_ref()
            .is_none_or(|(_, oldest)| version < *oldest)
        {
            self.oldest = Some((Node::from_bytes(name, kubelet_version), version));
        }
    }

    fn support(self) -> Support {
        if let Some(own) = self.own {
            return match KubeletVersion::from_kubelet(&own.kubelet_version) {
                Some(version) if version >= self.minimum => Support::Native,
                _ => Support::TooOld {
                    oldest: own,
                    own_node: true,
                    too_old: 1,
                    nodes: 1,
                },
            };
        }
        match self.oldest {
            None => Support::Native,
            Some((oldest, _)) => Support::TooOld {
                oldest,
                own_node: false,
                too_old: self.too_old,
                nodes: self.nodes,
            },
        }
    }
}

/// The one node a pod spec can run on, when it names one: `nodeName` (set by the scheduler, or by
/// whoever bypasses it), else a required node affinity all of whose terms select the same single
/// node by `metadata.name`. That is what the DaemonSet controller writes into each of its pods
/// (`matchFields: [{key: metadata.name, operator: In, values: [NODE]}]` in every term); terms are
/// ORed, so one term without it, or with several names, lets the pod run elsewhere.
pub(crate) fn pinned_node(spec: &Map<String, Value>) -> Option<&str> {
    if let Some(name) = spec
        .get("nodeName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
    {
        return Some(name);
    }
    let terms = spec
        .get("affinity")?
        .pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")?
        .as_array()?;
    let mut pinned = None;
    for term in terms {
        let name = term
            .get("matchFields")?
            .as_array()?
            .iter()
            .find_map(|requirement| match requirement["values"].as_array() {
                Some(values)
                    if requirement["key"] == "metadata.name"
                        && requirement["operator"] == "In"
                        && values.len() == 1 =>
                {
                    values[0].as_str().filter(|name| !name.is_empty())
                }
                _ => None,
            })?;
        if pinned.is_some_and(|other| other != name) {
            return None;
        }
        pinned = Some(name);
    }
    pinned
}

/// What the review is about to make native, which only nodes that support it may receive.
pub(crate) struct Pending<'a> {
    /// Mutate mode: a classic proxy to convert or a native one to move.
    pub edits: bool,
    /// Mutate mode: the native-injection annotation would be set.
    pub request: bool,
    /// Validate mode: the proxies to judge, each with whether it already runs native.
    pub proxies: Vec<(&'a str, bool)>,
}

/// Why the review makes nothing native: what the nodes said, as the review words it.
pub(crate) enum HeldBack {
    Warning(String),
    /// Validate mode: a native proxy on nodes too old to run it.
    Rejection(String),
}

/// With `checkNodes` on, asks the cluster (once, and only when something native is pending)
/// whether the pod's nodes can run native sidecars. `Some` when they cannot or cannot be read:
/// the review must then make nothing native.
pub(crate) fn hold_back(
    pending: &Pending,
    pod: &PodView,
    settings: &Settings,
    cluster: &mut dyn Cluster,
) -> Option<HeldBack> {
    let asks = match settings.mode {
        Mode::Mutate => pending.edits || pending.request,
        Mode::Validate => !pending.proxies.is_empty(),
    };
    if !settings.check_nodes || !asks {
        return None;
    }
    let node_name = pod.spec().and_then(pinned_node);
    let minimum = settings.min_kubelet_version;
    let verdict = match node_name.map(|name| (name, cluster.node(name))) {
        Some((name, Ok(Some(node)))) => {
            Ok(support(std::slice::from_ref(&node), Some(name), minimum))
        }
        // A read that failed is not retried as a list: what refuses one node (RBAC, a missing
        // grant) refuses the list too, and policy-server 1.36 never answers a request whose
        // list was refused (its reflector retries the LIST forever).
        Some((_, Err(error))) => Err(error),
        // No such node: the whole list decides, as in Istio's rule.
        Some((_, Ok(None))) | None => cluster.support(node_name, minimum),
    };
    let held = match (verdict, settings.mode) {
        (Ok(Support::Native), _) => return None,
        (Ok(old), Mode::Mutate) => HeldBack::Warning(format!(
            "no native sidecar made: {}",
            too_old_reason(&old, minimum)
        )),
        (Ok(old), Mode::Validate) => {
            let (native, classic): (Vec<_>, Vec<_>) =
                pending.proxies.iter().partition(|(_, native)| *native);
            let names =
                |proxies: &[&(&str, bool)]| join(proxies.iter().map(|(name, _)| name), ", ");
            if native.is_empty() {
                HeldBack::Warning(format!(
                    "{} may stay a regular container: {}",
                    names(&classic),
                    too_old_reason(&old, minimum)
                ))
            } else {
                HeldBack::Rejection(format!(
                    "{}: {} runs as a native sidecar, but {}. Run the pod on nodes with kubelet {minimum} or later, or run the proxy as a regular container",
                    pod.kind.spec_path(),
                    names(&native),
                    old_nodes(&old, minimum)
                ))
            }
        }
        (Err(error), mode) => {
            let what = match mode {
                Mode::Mutate => "no native sidecar made",
                Mode::Validate => "sidecar placement not checked",
            };
            HeldBack::Warning(format!(
                "{what}: checkNodes is on and the cluster's nodes cannot be read ({}); {}",
                if error.is_empty() {
                    "the host gave no reason"
                } else {
                    error.as_str()
                },
                unreadable_fix(&error)
            ))
        }
    };
    Some(held)
}

/// Which node is too old, and what that does to a native sidecar.
fn old_nodes(old: &Support, minimum: KubeletVersion) -> String {
    let Support::TooOld {
        oldest,
        own_node,
        too_old,
        nodes,
    } = old
    else {
        return String::new();
    };
    let node = match (own_node, oldest.name.as_str()) {
        (true, name) => format!("the pod's node \"{name}\""),
        (false, "") => "a node without a name".to_owned(),
        (false, name) => format!("node \"{name}\""),
    };
    let version = match oldest.kubelet_version.as_str() {
        "" => format!(
            "reports no kubelet version, which counts as older than minKubeletVersion {minimum}"
        ),
        text if KubeletVersion::from_kubelet(text).is_none() => {
            let shown: String = text.chars().take(40).collect();
            let cut = if shown.len() < text.len() { "..." } else { "" };
            format!(
                "reports kubelet version \"{shown}{cut}\", which is not a version and counts as older than minKubeletVersion {minimum}"
            )
        }
        text => format!("runs kubelet {text}, older than minKubeletVersion {minimum}"),
    };
    let count = if *own_node {
        String::new()
    } else if *nodes == 1 {
        " (the only node)".to_owned()
    } else if *too_old == 1 {
        format!(" (1 of {nodes} nodes)")
    } else {
        format!(" (the oldest of {too_old} such nodes out of {nodes})")
    };
    format!(
        "{node} {version}{count}, and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start"
    )
}

fn too_old_reason(old: &Support, minimum: KubeletVersion) -> String {
    format!(
        "{}. Upgrade the node's kubelet, or lower minKubeletVersion (at least {}) if it runs sidecar containers",
        old_nodes(old, minimum),
        KubeletVersion::LOWEST_MINIMUM
    )
}

/// What to change so that the nodes can be read, from what the host said.
fn unreadable_fix(error: &str) -> &'static str {
    if error == NO_CLUSTER {
        "evaluate the policy in policy-server or with `kwctl run --allow-context-aware`, or set checkNodes: false"
    } else if error.contains("host capability") {
        "allow the policy the host capabilities kubernetes/list_resources_all and kubernetes/get_resource (policy-server: the policy's hostCapabilities; kwctl run: --allowed-host-capabilities), or set checkNodes: false"
    } else if error.contains("not been granted access") || error.contains("not allowed") {
        "add {apiVersion: v1, kind: Node} to the policy's spec.contextAwareResources (kwctl run: --allow-context-aware and the annotated module), or set checkNodes: false"
    } else if error.contains("the host's answer is not a node list") {
        "the host answered something other than a NodeList: check its version and its logs, or set checkNodes: false"
    } else if error.contains("Replay error") || error.contains("recorded responses") {
        "the replayed session does not answer this call: the policy asks get_resource for the v1/Node a pod is pinned to (then list_resources_all only if it does not exist), else list_resources_all for v1/Node, with the field masks metadata.name and status.nodeInfo.kubeletVersion, once per request that needs the nodes"
    } else if error.to_ascii_lowercase().contains("forbidden") {
        "let the policy-server's service account get, list and watch nodes (the ClusterRole and ClusterRoleBinding in policy.yaml), or set checkNodes: false"
    } else {
        "check that the policy's spec.contextAwareResources lists {apiVersion: v1, kind: Node} and that the policy-server's service account may get, list and watch nodes, or set checkNodes: false"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    const MIN: KubeletVersion = KubeletVersion::DEFAULT_MINIMUM;

    fn nodes(list: &[(&str, &str)]) -> Vec<Node> {
        list.iter().map(|(n, v)| Node::new(n, v)).collect()
    }

    fn too_old(node: (&str, &str), own_node: bool, too_old: usize, nodes: usize) -> Support {
        Support::TooOld {
            oldest: Node::new(node.0, node.1),
            own_node,
            too_old,
            nodes,
        }
    }

    const NEW: &[(&str, &str)] = &[
        ("a", "v1.33.0"),
        ("b", "v1.33.5-eks-3025e55"),
        ("c", "v1.34.1+k3s1"),
    ];
    const MIXED: &[(&str, &str)] = &[
        ("a", "v1.33.0"),
        ("b", "v1.32.9+k3s1"),
        ("c", "v1.34.1"),
        ("d", "v1.28.15-gke.1503000"),
    ];

    #[rstest]
    #[case::no_nodes(&[], None, Support::Native)]
    #[case::no_nodes_named(&[], Some("a"), Support::Native)]
    #[case::one_new(&[("a", "v1.33.0")], None, Support::Native)]
    #[case::one_old(&[("a", "v1.32.9+k3s1")], None, too_old(("a", "v1.32.9+k3s1"), false, 1, 1))]
    #[case::one_empty(&[("a", "")], None, too_old(("a", ""), false, 1, 1))]
    #[case::one_garbage(&[("a", "garbage")], None, too_old(("a", "garbage"), false, 1, 1))]
    #[case::many_new(NEW, None, Support::Native)]
    #[case::one_old_among_many(&[("a", "v1.33.0"), ("b", "v1.34.0"), ("c", "v1.32.9+k3s1"), ("d", "v1.35.0")], None, too_old(("c", "v1.32.9+k3s1"), false, 1, 4))]
    #[case::oldest_of_several(MIXED, None, too_old(("d", "v1.28.15-gke.1503000"), false, 2, 4))]
    #[case::unreadable_is_oldest(&[("a", "v1.28.0"), ("b", ""), ("c", "v1.20.0")], None, too_old(("b", ""), false, 3, 3))]
    #[case::own_node_new_others_old(MIXED, Some("c"), Support::Native)]
    #[case::own_node_old_others_new(&[("a", "v1.33.0"), ("b", "v1.32.9+k3s1"), ("c", "v1.34.1")], Some("b"), too_old(("b", "v1.32.9+k3s1"), true, 1, 1))]
    #[case::own_node_unknown(MIXED, Some("zz"), too_old(("d", "v1.28.15-gke.1503000"), false, 2, 4))]
    #[case::own_node_unknown_all_new(NEW, Some("zz"), Support::Native)]
    fn istio_rule(
        #[case] list: &[(&str, &str)],
        #[case] node_name: Option<&str>,
        #[case] expected: Support,
    ) {
        assert_eq!(support(&nodes(list), node_name, MIN), expected);
    }

    #[test]
    fn the_minimum_moves_the_line() {
        let list = nodes(MIXED);
        assert_eq!(
            support(&list, None, KubeletVersion::new(1, 28)),
            Support::Native
        );
        assert_eq!(
            support(&list, None, KubeletVersion::new(1, 29)),
            too_old(("d", "v1.28.15-gke.1503000"), false, 1, 4)
        );
    }

    #[test]
    fn node_lists_as_hosts_answer() {
        // A live policy-server keeps metadata whole and trims the rest to the masked fields.
        let answer = br#"{"apiVersion":"v1","kind":"NodeList","metadata":{"resourceVersion":"9"},"items":[
            {"metadata":{"name":"cp","labels":{"node-role.kubernetes.io/control-plane":""},"managedFields":[{"manager":"kubelet"}]},"status":{"nodeInfo":{"kubeletVersion":"v1.33.5-eks-3025e55"}}},
            {"metadata":{"name":"w\u0031"},"status":{"nodeInfo":{}}},
            {"metadata":{"name":"w2"},"status":null},
            {"metadata":{"name":"w3"}},
            {"status":{"nodeInfo":{"kubeletVersion":"v1.34.0"}}}
        ]}"#;
        assert_eq!(
            parse_node_list(answer),
            Ok(vec![
                Node::new("cp", "v1.33.5-eks-3025e55"),
                Node::new("w1", ""),
                Node::new("w2", ""),
                Node::new("w3", ""),
                Node::new("", "v1.34.0"),
            ])
        );
        assert_eq!(parse_node_list(br#"{"kind":"NodeList"}"#), Ok(vec![]));
        assert_eq!(parse_node_list(br#"{"items":null}"#), Ok(vec![]));
    }

    #[test]
    fn node_lists_already_read() {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp", "labels": {"kubernetes.io/hostname": "cp"}},
             "status": {"nodeInfo": {"kubeletVersion": "v1.33.5-eks-3025e55", "containerRuntimeVersion": "containerd://1.7.27"}}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"}, "status": {"nodeInfo": {}}},
            {"metadata": {"name": "w2"}, "status": null}
        ]});
        assert_eq!(
            node_list(&list),
            Ok(vec![
                Node::new("cp", "v1.33.5-eks-3025e55"),
                Node::new("w1", ""),
                Node::new("w2", ""),
            ])
        );
        assert_eq!(
            node_list(&list),
            parse_node_list(list.to_string().as_bytes())
        );
        assert_eq!(
            node_list(&serde_json::json!({"kind": "NodeList"})),
            Ok(vec![])
        );
    }

    #[rstest]
    #[case::items_not_list(serde_json::json!({"items": {"a": 1}}), "not a node list: invalid type: map, expected a sequence")]
    #[case::version_not_string(serde_json::json!({"items": [{"status": {"nodeInfo": {"kubeletVersion": 133}}}]}), "not a node list: invalid type: integer `133`, expected a string")]
    #[case::string(serde_json::json!("v1.33"), "not a node list: invalid type: string \"v1.33\", expected struct WireList")]
    fn bad_lists(#[case] list: Value, #[case] message: &str) {
        assert_eq!(node_list(&list), Err(message.to_owned()));
    }

    #[rstest]
    #[case::not_json(b"<html>502</html>".as_slice(), "the host's answer is not a node list: expected value at line 1 column 1")]
    #[case::empty(b"".as_slice(), "the host's answer is not a node list: EOF while parsing a value at line 1 column 0")]
    #[case::items_not_list(br#"{"items":{"a":1}}"#.as_slice(), "the host's answer is not a node list: invalid type: map, expected a sequence at line 1 column 9")]
    #[case::version_not_string(br#"{"items":[{"status":{"nodeInfo":{"kubeletVersion":133}}}]}"#.as_slice(), "the host's answer is not a node list: invalid type: integer `133`, expected a string at line 1 column 53")]
    #[case::string(br#""v1.33""#.as_slice(), "the host's answer is not a node list: invalid type: string \"v1.33\", expected struct WireList at line 1 column 7")]
    #[case::duplicate_name(br#"{"items":[{"metadata":{"name":"a","name":"b"}}]}"#.as_slice(), "the host's answer is not a node list: duplicate field `name` at line 1 column 40")]
    #[case::duplicate_items(br#"{"items":[],"items":[]}"#.as_slice(), "the host's answer is not a node list: duplicate field `items` at line 1 column 19")]
    #[case::item_not_object(br#"{"items":[7]}"#.as_slice(), "the host's answer is not a node list: invalid type: integer `7`, expected struct WireNode at line 1 column 11")]
    #[case::unfinished(br#"{"items":[{"metadata":{"name":"a"}}"#.as_slice(), "the host's answer is not a node list: EOF while parsing a list at line 1 column 35")]
    #[case::control_character_in_name(b"{\"items\":[{\"metadata\":{\"name\":\"a\x01\"}}]}".as_slice(), "the host's answer is not a node list: control character (\\u0000-\\u001F) found while parsing a string at line 1 column 33")]
    #[case::trailing(br#"{"items":[]} x"#.as_slice(), "the host's answer is not a node list: trailing characters at line 1 column 14")]
    fn bad_answers(#[case] answer: &[u8], #[case] message: &str) {
        assert_eq!(parse_node_list(answer), Err(message.to_owned()));
    }

    fn spec_with_terms(terms: Value) -> Value {
        json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}})
    }

    fn by_name(values: Value) -> Value {
        json!({"key": "metadata.name", "operator": "In", "values": values})
    }

    #[rstest]
    #[case::node_name(json!({"nodeName": "worker-1"}), Some("worker-1"))]
    #[case::empty_node_name(json!({"nodeName": ""}), None)]
    #[case::not_pinned(json!({"containers": []}), None)]
    #[case::daemonset(spec_with_terms(json!([{"matchFields": [by_name(json!(["worker-1"]))]}])), Some("worker-1"))]
    #[case::daemonset_with_the_users_terms(spec_with_terms(json!([
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}], "matchFields": [by_name(json!(["worker-1"]))]},
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["b"]}], "matchFields": [by_name(json!(["worker-1"]))]}
    ])), Some("worker-1"))]
    #[case::node_name_first(json!({"nodeName": "a", "affinity": spec_with_terms(json!([{"matchFields": [by_name(json!(["b"]))]}]))["affinity"]}), Some("a"))]
    #[case::two_names(spec_with_terms(json!([{"matchFields": [by_name(json!(["a", "b"]))]}])), None)]
    #[case::terms_disagree(spec_with_terms(json!([{"matchFields": [by_name(json!(["a"]))]}, {"matchFields": [by_name(json!(["b"]))]}])), None)]
    #[case::a_term_without_a_name(spec_with_terms(json!([{"matchFields": [by_name(json!(["a"]))]}, {"matchExpressions": [{"key": "pool", "operator": "Exists"}]}])), None)]
    #[case::not_in(spec_with_terms(json!([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["a"]}]}])), None)]
    #[case::label_not_field(spec_with_terms(json!([{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["a"]}]}])), None)]
    #[case::no_terms(spec_with_terms(json!([])), None)]
    #[case::wrong_types(spec_with_terms(json!([{"matchFields": [by_name(json!([7]))]}])), None)]
    #[case::terms_not_a_list(spec_with_terms(json!({"matchFields": []})), None)]
    fn pinned_nodes(#[case] spec: Value, #[case] expected: Option<&str>) {
        assert_eq!(pinned_node(spec.as_object().expect("a spec")), expected);
    }

    #[test]
    fn answers_read_in_place_agree_with_serde() {
        for seed in 0..2_000 {
            let list = native_sidecar_testdata::awkward_node_list(seed);
            let nodes = node_list(&list).expect("the generated list is one serde reads");
            let items = list["items"].as_array().cloned().unwrap_or_default();
            for answer in [serde_json::to_vec(&list), serde_json::to_vec_pretty(&list)] {
                let answer = answer.expect("a list serialises");
                // The reader itself, not serde behind it, reads every generated answer.
                assert!(
                    scan::each_node(&answer, &mut |_, _| {}).is_some(),
                    "seed {seed}"
                );
                assert_eq!(parse_node_list(&answer).as_ref(), Ok(&nodes), "seed {seed}");
                let named = nodes.iter().map(|node| Some(node.name.as_str()));
                for node_name in named.chain([None, Some("absent")]) {
                    assert_eq!(
                        answer_support(&answer, node_name, MIN),
                        Ok(support(&nodes, node_name, MIN)),
                        "seed {seed}, node {node_name:?}"
                    );
                }
            }
            for (item, node) in items.iter().zip(&nodes) {
                let answer = serde_json::to_vec(item).expect("a node serialises");
                assert!(scan::one_node(&answer).is_some(), "seed {seed}");
                assert_eq!(parse_node(&answer).as_ref(), Ok(node), "seed {seed}");
            }
        }
    }

    /// The reader's reading of `answer`, or `None` when it leaves the answer to serde.
    fn scanned(answer: &str) -> Option<Vec<Node>> {
        let mut nodes = Vec::new();
        scan::each_node(answer.as_bytes(), &mut |name, version| {
            nodes.push(Node::from_bytes(name, version));
        })
        .map(|()| nodes)
    }

    /// The reader agrees with serde on `answer`: the same nodes when serde reads it, and it
    /// leaves to serde (which gives the error) what serde refuses. `reads`: the reader must read
    /// the answer itself when serde does.
    fn agree(answer: &str, reads: bool) {
        let scan = scanned(answer);
        match serde_node_list(answer.as_bytes()) {
            Ok(nodes) if reads || scan.is_some() => assert_eq!(scan, Some(nodes), "{answer}"),
            Ok(_) => {}
            Err(_) => assert_eq!(scan, None, "{answer}"),
        }
    }

    /// A NodeList of one node whose name, kubelet version and one label are given as JSON.
    fn one_node_list(name: &str, version: &str, label: &str) -> String {
        format!(
            r#"{{"items":[{{"metadata":{{"annotations":{{"a":"1"}},"labels":{{"k":{label},"z":"2"}},"name":{name}}},"status":{{"nodeInfo":{{"kubeletVersion":{version}}}}}}}]}}"#
        )
    }

    #[test]
    fn strings_across_chunk_and_block_edges() {
        // Around the reader's sixteen-byte string steps and 64-byte skip blocks, a byte that a
        // reader must mind at every position: escapes, non-ASCII text, control characters
        // (serde refuses them in a string it reads) and brackets.
        const LENGTHS: &[usize] = &[
            0, 1, 7, 8, 9, 14, 15, 16, 17, 18, 30, 31, 32, 33, 47, 48, 49, 62, 63, 64, 65, 66, 127,
            128, 129,
        ];
        const SPECIALS: &[&str] = &[
            r#"\""#,
            r"\\",
            r"\n",
            r"\u00e9",
            r"\ud834\udd1e",
            r"\u0000",
            r#"\\\""#,
            "é",
            "𝄞",
            "\u{1}",
            "\u{7f}",
            "{",
            "}",
            "[",
            "]",
            "|",
        ];
        for &length in LENGTHS {
            for special in SPECIALS {
                for at in 0..=length {
                    let text = format!(
                        r#""{}{special}{}""#,
                        "a".repeat(at),
                        "b".repeat(length - at)
                    );
                    let plain = format!(r#""{}""#, "c".repeat(length));
                    agree(&one_node_list(&text, r#""v1.33.0""#, &plain), true);
                    agree(&one_node_list(r#""n""#, &text, &plain), true);
                    if special.contains('\u{1}') {
                        // Skipped, not checked: serde refuses what the reader does not read.
                        continue;
                    }
                    agree(&one_node_list(r#""n""#, r#""v1.33.0""#, &text), true);
                    let nested = format!(r#"[{text},{{"x":{text}}}]"#);
                    agree(&one_node_list(&plain, r#""v1.33.0""#, &nested), true);
                }
            }
        }
    }

    #[rstest]
    fn keys_near_the_names_read(
        #[values(
            "",
            "n",
            "nam",
            "name",
            "names",
            "Name",
            "nAme",
            "items",
            "item",
            "itemss",
            "status",
            "statu",
            "statuss",
            "metadata",
            "metadat",
            "metadataa",
            "nodeInfo",
            "nodeInf",
            "nodeInfoo",
            "kubeletVersion",
            "kubeletVersio",
            "kubeletVersionn",
            "kubeletVersioN",
            "xxxxxxxxxxxxxxx",
            "xxxxxxxxxxxxxxxx",
            "xxxxxxxxxxxxxxxxx",
            "metadata-metadat",
            "kubeletVersion-x",
            "nodeInfo/nodeInf",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "é",
            "namé",
            r"na\u006de",
            r"\u006eame",
            r"name\u0000",
            r"a\\b",
            r#"a\"b"#
        )]
        key: &str,
    ) {
        // The key with each value, first or last among the fields of the list, the node, its
        // metadata, status or nodeInfo; the JSON compact, or with whitespace around every colon
        // and comma.
        let values = [
            r#""v""#,
            "null",
            "7",
            r#"{"name":"x","a":[1,{"b":"}"}]}"#,
            r#"["]",{}]"#,
        ];
        let fields: [&[&str]; 5] = [
            &[r#""kind":"NodeList""#, r#""items":[NODE]"#],
            &[r#""metadata":METADATA"#, r#""status":STATUS"#],
            &[r#""labels":{"a":"b"}"#, r#""name":"node-1""#],
            &[r#""capacity":{"cpu":"2"}"#, r#""nodeInfo":INFO"#],
            &[r#""kernelVersion":"6.1""#, r#""kubeletVersion":"v1.33.5""#],
        ];
        for value in values {
            for space in ["", " ", "\n  "] {
                for level in 0..fields.len() {
                    for last in [false, true] {
                        let member = format!(r#""{key}"{space}:{space}{value}"#);
                        let object = |at: usize| {
                            let mut members: Vec<String> =
                                fields[at].iter().map(ToString::to_string).collect();
                            if at == level {
                                let place = if last { members.len() } else { 0 };
                                members.insert(place, member.clone());
                            }
                            format!("{{{}}}", members.join(&format!(",{space}")))
                        };
                        let answer = object(0)
                            .replace("NODE", &object(1))
                            .replace("METADATA", &object(2))
                            .replace("STATUS", &object(3))
                            .replace("INFO", &object(4));
                        // Escaped keys are left to serde.
                        agree(&answer, !key.contains('\\'));
                    }
                }
            }
        }
    }

    #[test]
    fn a_hundred_thousand_nodes() {
        let items: Vec<String> = (0..100_000)
            .map(|i| {
                format!(
                    r#"{{"metadata":{{"name":"node-{i}"}},"status":{{"nodeInfo":{{"kubeletVersion":"v1.{}.2"}}}}}}"#,
                    if i == 77_777 { 30 } else { 34 }
                )
            })
            .collect();
        let answer = format!(r#"{{"kind":"NodeList","items":[{}]}}"#, items.join(","));
        let list = parse_node_list(answer.as_bytes()).unwrap();
        assert_eq!(list.len(), 100_000);
        assert_eq!(
            support(&list, None, MIN),
            too_old(("node-77777", "v1.30.2"), false, 1, 100_000)
        );
        assert_eq!(support(&list, Some("node-5"), MIN), Support::Native);
    }
}
