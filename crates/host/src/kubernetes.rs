//! The Kubernetes host capabilities (`kubewarden/kubernetes/*`) the way `kwctl run` serves them:
//! only the resources the module's metadata lists in `contextAwareResources`, and only when
//! context-aware access is allowed (`--allow-context-aware`); answers from a replay session
//! (kwctl's `--replay-host-capabilities-interactions` format) or, since this host has no cluster
//! to ask, from a node list such as `kubectl get nodes -o json` prints (`list_resources_all` and
//! `get_resource` for `v1/Node`); what it answered can be recorded as a session
//! (`--record-host-capabilities-interactions`) that kwctl replays too.
//!
//! What kwctl 1.36 does, and this host does the same: session entries are used in file order, one
//! per call, whatever the call; the recorded request is compared with the call as a typed value
//! (`field_masks` as a set, an absent selector equal to null), and a mismatch uses the entry up
//! and fails the call with policy-evaluator's message. Failures reach the guest as host call
//! errors, with the words policy-evaluator uses.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use wasmparser::{Parser, Payload};

/// The custom section `kwctl annotate` writes.
const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// policy-evaluator's prefix for a failure of the callback handler (the cluster or the session).
const CALLBACK_FAILURE: &str = "Callback evaluation failure: ";

/// A kind of Kubernetes resource a policy may read, as metadata's `contextAwareResources` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

impl ContextAwareResource {
    pub fn new(api_version: &str, kind: &str) -> ContextAwareResource {
        ContextAwareResource {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        }
    }
}

/// The `contextAwareResources` of an annotated module; `None` for a module without metadata
/// (kwctl then allows no resource at all).
pub fn declared_resources(module: &[u8]) -> Result<Option<BTreeSet<ContextAwareResource>>, String> {
    // WAT text (which the host also compiles) carries no custom sections.
    if !module.starts_with(b"\0asm") {
        return Ok(None);
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Metadata {
        #[serde(default)]
        context_aware_resources: BTreeSet<ContextAwareResource>,
    }
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| format!("cannot parse the module: {e}"))?;
        if let Payload::CustomSection(reader) = payload
            && reader.name() == METADATA_SECTION
        {
            let metadata: Metadata = serde_json::from_slice(reader.data())
                .map_err(|e| format!("the module's metadata is not valid: {e}"))?;
            return Ok(Some(metadata.context_aware_resources));
        }
    }
    Ok(None)
}

/// A call as policy-evaluator's `CallbackRequestType` holds it: the same variant and field names
/// and order, so that sessions read and write the same YAML, and a mismatch prints the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallbackRequest {
    KubernetesListResourceNamespace {
        api_version: String,
        kind: String,
        namespace: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        #[serde(default)]
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesListResourceAll {
        api_version: String,
        kind: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        #[serde(default)]
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesGetResource {
        api_version: String,
        kind: String,
        name: String,
        namespace: Option<String>,
        disable_cache: bool,
        #[serde(default)]
        field_masks: Option<BTreeSet<String>>,
    },
}

impl CallbackRequest {
    /// The call a guest made: the operation names the SDK request type of the payload.
    pub fn from_call(operation: &str, payload: &[u8]) -> Result<CallbackRequest, String> {
        // The SDK's request types, with their field names.
        #[derive(Deserialize)]
        struct List {
            api_version: String,
            kind: String,
            namespace: Option<String>,
            label_selector: Option<String>,
            field_selector: Option<String>,
            #[serde(default)]
            field_masks: Option<BTreeSet<String>>,
        }
        #[derive(Deserialize)]
        struct Get {
            api_version: String,
            kind: String,
            name: String,
            namespace: Option<String>,
            #[serde(default)]
            disable_cache: bool,
            #[serde(default)]
            field_masks: Option<BTreeSet<String>>,
        }
        let bad = |e: serde_json::Error| format!("cannot read the {operation} request: {e}");
        match operation {
            "list_resources_all" => {
                let list: List = serde_json::from_slice(payload).map_err(bad)?;
                Ok(CallbackRequest::KubernetesListResourceAll {
                    api_version: list.api_version,
                    kind: list.kind,
                    label_selector: list.label_selector,
                    field_selector: list.field_selector,
                    field_masks: list.field_masks,
                })
            }
            "list_resources_by_namespace" => {
                let list: List = serde_json::from_slice(payload).map_err(bad)?;
                Ok(CallbackRequest::KubernetesListResourceNamespace {
                    api_version: list.api_version,
                    kind: list.kind,
                    namespace: list.namespace.unwrap_or_default(),
                    label_selector: list.label_selector,
                    field_selector: list.field_selector,
                    field_masks: list.field_masks,
                })
            }
            "get_resource" => {
                let get: Get = serde_json::from_slice(payload).map_err(bad)?;
                Ok(CallbackRequest::KubernetesGetResource {
                    api_version: get.api_version,
                    kind: get.kind,
                    name: get.name,
                    namespace: get.namespace,
                    disable_cache: get.disable_cache,
                    field_masks: get.field_masks,
                })
            }
            other => Err(format!(
                "host capability not available in this host: kubewarden/kubernetes/{other}"
            )),
        }
    }

    pub fn resource(&self) -> ContextAwareResource {
        match self {
            CallbackRequest::KubernetesListResourceNamespace {
                api_version, kind, ..
            }
            | CallbackRequest::KubernetesListResourceAll {
                api_version, kind, ..
            }
            | CallbackRequest::KubernetesGetResource {
                api_version, kind, ..
            } => ContextAwareResource::new(api_version, kind),
        }
    }
}

/// One entry of a session file: kwctl's `type: Exchange` with the request as a YAML document
/// (tagged with the variant, `!KubernetesListResourceAll`) and the host's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SessionEntry {
    Exchange { request: String, response: Response },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Response {
    /// The bytes the guest receives, as text.
    Success { payload: String },
    /// The host call fails with this message.
    Error { message: String },
}

/// Reads a session file (YAML: a list of entries).
pub fn read_session(text: &str) -> Result<Vec<SessionEntry>, String> {
    serde_yaml::from_str::<Option<Vec<SessionEntry>>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("not a host capabilities session: {e}"))
}

/// Writes a session file as kwctl does.
pub fn write_session(entries: &[SessionEntry]) -> Result<String, String> {
    serde_yaml::to_string(entries).map_err(|e| format!("cannot write the session: {e}"))
}

/// Nodes to answer `list_resources_all` for `v1/Node` with, such as `kubectl get nodes -o json`
/// prints them. The answer for a set of field masks is built once and kept.
pub struct Nodes {
    items: Vec<Value>,
    answer: Mutex<Option<Answer>>,
}

/// An answer built for a set of field masks.
type Answer = (Option<BTreeSet<String>>, Arc<Vec<u8>>);

impl Nodes {
    pub fn new(items: Vec<Value>) -> Nodes {
        Nodes {
            items,
            answer: Mutex::new(None),
        }
    }

    /// The nodes of a `kubectl get nodes -o json` (or `-o yaml`) output, a NodeList or one Node.
    pub fn from_document(document: Value) -> Result<Nodes, String> {
        let items = match document {
            Value::Object(mut object) if object.contains_key("items") => {
                match object.remove("items") {
                    Some(Value::Array(items)) => items,
                    Some(Value::Null) => Vec::new(),
                    _ => return Err("its items are not a list of nodes".to_owned()),
                }
            }
            node @ Value::Object(_) if node.get("kind").and_then(Value::as_str) == Some("Node") => {
                vec![node]
            }
            _ => return Err("it is neither a list of nodes nor a Node".to_owned()),
        };
        if let Some(at) = items.iter().position(|item| !item.is_object()) {
            return Err(format!("items[{at}] is not a Node object"));
        }
        Ok(Nodes::new(items))
    }

    /// The size of the last answer built, if any (for reports).
    pub fn answer_len(&self) -> Option<usize> {
        let cached = self.answer.lock().unwrap_or_else(PoisonError::into_inner);
        cached.as_ref().map(|(_, answer)| answer.len())
    }

    /// The NodeList policy-server answers: each node trimmed to the masked fields but for its
    /// `metadata`, which it keeps whole.
    fn answer(&self, masks: &Option<BTreeSet<String>>) -> Arc<Vec<u8>> {
        let mut cached = self.answer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((for_masks, answer)) = cached.as_ref()
            && for_masks == masks
        {
            return Arc::clone(answer);
        }
        let items: Vec<Value> = self.items.iter().map(|node| masked(node, masks)).collect();
        let list = json!({
            "apiVersion": "v1",
            "kind": "NodeList",
            "metadata": {"resourceVersion": ""},
            "items": items,
        });
        let answer = Arc::new(serde_json::to_vec(&list).unwrap_or_default());
        *cached = Some((masks.clone(), Arc::clone(&answer)));
        answer
    }
}

impl Nodes {
    /// The node named `name`, trimmed as a list's items are; a missing one fails in
    /// policy-evaluator's words.
    fn get(&self, name: &str, masks: &Option<BTreeSet<String>>) -> Result<Vec<u8>, String> {
        let node = self
            .items
            .iter()
            .find(|node| node["metadata"]["name"] == name)
            .ok_or_else(|| {
                format!("Cannot find v1/Node named '{name}' inside of namespace 'None'")
            })?;
        serde_json::to_vec(&masked(node, masks)).map_err(|e| e.to_string())
    }
}

/// `object` with only the fields the masks name (dot-separated paths, arrays traversed), plus
/// its whole `metadata`. No masks: the whole object.
fn masked(object: &Value, masks: &Option<BTreeSet<String>>) -> Value {
    let Some(masks) = masks.as_ref().filter(|masks| !masks.is_empty()) else {
        return object.clone();
    };
    let mut kept = Value::Object(Map::new());
    if let Some(metadata) = object.get("metadata") {
        kept["metadata"] = metadata.clone();
    }
    for mask in masks {
        let path: Vec<&str> = mask.split('.').collect();
        if let Some(part) = pick(object, &path) {
            merge(&mut kept, part);
        }
    }
    kept
}

fn pick(value: &Value, path: &[&str]) -> Option<Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value.clone());
    };
    match value {
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|item| pick(item, path)).collect(),
        )),
        Value::Object(map) => {
            let inner = pick(map.get(*first)?, rest)?;
            Some(json!({ *first: inner }))
        }
        _ => None,
    }
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) => {
            for (existing, value) in into.iter_mut().zip(from) {
                merge(existing, value);
            }
        }
        (into, from) => *into = from,
    }
}

/// Where the answers come from.
pub enum Cluster {
    /// None: every call the policy may make fails, saying how to give this host a cluster.
    None,
    /// Answers `list_resources_all` for `v1/Node`; fails every other call.
    Nodes(Arc<Nodes>),
    /// A session's entries, used in order.
    Replay(VecDeque<SessionEntry>),
}

/// The Kubernetes host capabilities of one run.
pub struct Kubernetes {
    allowed: BTreeSet<ContextAwareResource>,
    /// kwctl's `--allowed-host-capabilities` patterns (`*`, `kubernetes/*`, or a full name).
    capabilities: Vec<String>,
    state: Mutex<State>,
}

struct State {
    cluster: Cluster,
    /// What the cluster answered, when recording.
    recorded: Option<Vec<SessionEntry>>,
}

impl Default for Kubernetes {
    /// kwctl without `--allow-context-aware`: every resource denied.
    fn default() -> Kubernetes {
        Kubernetes::new(BTreeSet::new(), Cluster::None, false)
    }
}

impl Kubernetes {
    /// Access to the `allowed` resources, answered by `cluster`; `record` keeps every exchange.
    pub fn new(
        allowed: BTreeSet<ContextAwareResource>,
        cluster: Cluster,
        record: bool,
    ) -> Kubernetes {
        Kubernetes {
            allowed,
            capabilities: vec!["*".to_owned()],
            state: Mutex::new(State {
                cluster,
                recorded: record.then(Vec::new),
            }),
        }
    }

    /// Allows only the host capabilities these patterns match, as kwctl's
    /// `--allowed-host-capabilities` (default `*`).
    pub fn with_allowed_capabilities(mut self, patterns: Vec<String>) -> Kubernetes {
        self.capabilities = patterns;
        self
    }

    /// Answers from another cluster from now on (the benchmark switches node lists this way).
    pub fn set_cluster(&self, cluster: Cluster) {
        self.lock().cluster = cluster;
    }

    /// Answers one host call `kubewarden/kubernetes/<operation>`.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let capability = format!("kubernetes/{operation}");
        if !self
            .capabilities
            .iter()
            .any(|pattern| capability_matches(pattern, &capability))
        {
            return Err(format!(
                "Policy has not been granted access to the '{capability}' host capability. The violation has been reported."
            ));
        }
        let request = CallbackRequest::from_call(operation, payload)?;
        let resource = request.resource();
        if !self.allowed.contains(&resource) {
            return Err(format!(
                "Policy has not been granted access to Kubernetes {}/{} resources. The violation has been reported.",
                resource.api_version, resource.kind
            ));
        }
        let mut state = self.lock();
        let answer = match &mut state.cluster {
            Cluster::Replay(entries) => replay(entries, &request),
            Cluster::Nodes(nodes) => match &request {
                CallbackRequest::KubernetesListResourceAll {
                    api_version,
                    kind,
                    label_selector: None,
                    field_selector: None,
                    field_masks,
                } if api_version == "v1" && kind == "Node" => {
                    Ok(nodes.answer(field_masks).as_ref().clone())
                }
                CallbackRequest::KubernetesGetResource {
                    api_version,
                    kind,
                    name,
                    namespace: None,
                    field_masks,
                    ..
                } if api_version == "v1" && kind == "Node" => nodes.get(name, field_masks),
                other => Err(format!(
                    "policy-host answers only list_resources_all (without selectors) and get_resource for v1/Node from --nodes, not {other:?}"
                )),
            },
            Cluster::None => Err(
                "policy-host has no cluster to ask: answer from a node list with --nodes FILE (kubectl get nodes -o json) or from a session with --replay-host-capabilities-interactions FILE"
                    .to_owned(),
            ),
        };
        if let Some(recorded) = &mut state.recorded {
            let response = match &answer {
                Ok(payload) => Response::Success {
                    payload: String::from_utf8_lossy(payload).into_owned(),
                },
                Err(message) => Response::Error {
                    message: message.clone(),
                },
            };
            recorded.push(SessionEntry::Exchange {
                request: serde_yaml::to_string(&request)
                    .map_err(|e| format!("cannot record the request: {e}"))?,
                response,
            });
        }
        answer.map_err(|message| format!("{CALLBACK_FAILURE}{message}"))
    }

    /// The exchanges recorded so far.
    pub fn recorded(&self) -> Vec<SessionEntry> {
        self.lock().recorded.clone().unwrap_or_default()
    }

    /// Session entries not used.
    pub fn leftovers(&self) -> usize {
        match &self.lock().cluster {
            Cluster::Replay(entries) => entries.len(),
            _ => 0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn capability_matches(pattern: &str, capability: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            (prefix.is_empty() || prefix.ends_with('/')) && capability.starts_with(prefix)
        }
        None => pattern == capability,
    }
}

fn replay(
    entries: &mut VecDeque<SessionEntry>,
    actual: &CallbackRequest,
) -> Result<Vec<u8>, String> {
    let Some(SessionEntry::Exchange { request, response }) = entries.pop_front() else {
        return Err("the list of recorded responses is empty".to_owned());
    };
    let expected: CallbackRequest = serde_yaml::from_str(&request).map_err(|e| {
        format!("Cannot deserialize recorded request into `CallbackRequestType`: {e}")
    })?;
    if &expected != actual {
        return Err(format!(
            "Replay error: unexpected request. Was expecting {expected:?}, got {actual:?} instead"
        ));
    }
    match response {
        Response::Success { payload } => Ok(payload.into_bytes()),
        Response::Error { message } => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_REQUEST: &[u8] = br#"{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;

    fn node(name: &str, version: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {
                "capacity": {"cpu": "4"},
                "nodeInfo": {"kubeletVersion": version, "osImage": "Debian"},
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": name}]
            }
        })
    }

    fn node_access(record: bool) -> Kubernetes {
        Kubernetes::new(
            BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
            Cluster::Nodes(Arc::new(Nodes::new(vec![
                node("a", "v1.33.1"),
                node("b", "v1.32.0"),
            ]))),
            record,
        )
    }

    #[test]
    fn node_lists_are_trimmed_to_the_masks_and_metadata() {
        let answer = node_access(false)
            .call("list_resources_all", NODE_REQUEST)
            .unwrap();
        let list: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            list,
            json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": ""}, "items": [
                {"metadata": {"name": "a", "labels": {"kubernetes.io/os": "linux"}}, "status": {"nodeInfo": {"kubeletVersion": "v1.33.1"}}},
                {"metadata": {"name": "b", "labels": {"kubernetes.io/os": "linux"}}, "status": {"nodeInfo": {"kubeletVersion": "v1.32.0"}}}
            ]})
        );
    }

    #[test]
    fn one_node_by_name_is_trimmed_as_in_lists() {
        const GET: &[u8] = br#"{"api_version":"v1","kind":"Node","name":"b","namespace":null,"disable_cache":false,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;
        let recording = node_access(true);
        let answer = recording.call("get_resource", GET).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&answer).unwrap(),
            json!({"metadata": {"name": "b", "labels": {"kubernetes.io/os": "linux"}}, "status": {"nodeInfo": {"kubeletVersion": "v1.32.0"}}})
        );
        let missing = String::from_utf8_lossy(GET).replace(r#""name":"b""#, r#""name":"zz""#);
        assert_eq!(
            recording.call("get_resource", missing.as_bytes()),
            Err("Callback evaluation failure: Cannot find v1/Node named 'zz' inside of namespace 'None'".to_owned())
        );
        let session = write_session(&recording.recorded()).unwrap();
        assert!(
            session.starts_with("- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: Node\n    name: b\n    namespace: null\n    disable_cache: false\n    field_masks:\n    - metadata.name\n    - status.nodeInfo.kubeletVersion\n  response:\n    type: Success\n"),
            "{session}"
        );
        let replaying = Kubernetes::new(
            BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
            Cluster::Replay(read_session(&session).unwrap().into()),
            false,
        );
        assert_eq!(replaying.call("get_resource", GET), Ok(answer));
        assert!(
            replaying
                .call("get_resource", missing.as_bytes())
                .unwrap_err()
                .ends_with("Cannot find v1/Node named 'zz' inside of namespace 'None'")
        );
    }

    #[test]
    fn masks_go_through_lists() {
        let masks = Some(BTreeSet::from([
            "status.addresses.type".to_owned(),
            "status.capacity".to_owned(),
        ]));
        assert_eq!(
            masked(&node("a", "v1"), &masks),
            json!({
                "metadata": {"name": "a", "labels": {"kubernetes.io/os": "linux"}},
                "status": {"addresses": [{"type": "InternalIP"}, {"type": "Hostname"}], "capacity": {"cpu": "4"}}
            })
        );
        assert_eq!(masked(&node("a", "v1"), &None), node("a", "v1"));
    }

    #[test]
    fn without_access_nothing_is_answered() {
        assert_eq!(
            Kubernetes::default().call("list_resources_all", NODE_REQUEST),
            Err("Policy has not been granted access to Kubernetes v1/Node resources. The violation has been reported.".to_owned())
        );
    }

    #[test]
    fn recorded_sessions_replay_to_the_same_answers() {
        let recording = node_access(true);
        let answer = recording.call("list_resources_all", NODE_REQUEST).unwrap();
        let pods =
            br#"{"api_version":"v1","kind":"Pod","label_selector":null,"field_selector":null}"#;
        let refused = recording.call("list_resources_all", pods);
        let session = write_session(&recording.recorded()).unwrap();
        assert!(
            session.starts_with("- type: Exchange\n  request: |\n    !KubernetesListResourceAll\n    api_version: v1\n    kind: Node\n    label_selector: null\n    field_selector: null\n    field_masks:\n    - metadata.name\n    - status.nodeInfo.kubeletVersion\n  response:\n    type: Success\n    payload: '"),
            "{session}"
        );
        let entries = read_session(&session).unwrap();
        assert_eq!(entries.len(), 1, "denied calls are not recorded");
        let replaying = Kubernetes::new(
            BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
            Cluster::Replay(entries.into()),
            false,
        );
        assert_eq!(
            replaying.call("list_resources_all", NODE_REQUEST),
            Ok(answer)
        );
        assert_eq!(
            replaying.call("list_resources_all", NODE_REQUEST),
            Err("Callback evaluation failure: the list of recorded responses is empty".to_owned())
        );
        assert!(
            refused
                .unwrap_err()
                .starts_with("Policy has not been granted access to Kubernetes v1/Pod")
        );
    }

    #[test]
    fn entries_are_used_in_order_and_a_mismatch_uses_one_up() {
        let entry = |masks: &str, payload: &str| {
            format!(
                "- type: Exchange\n  request: |\n    !KubernetesListResourceAll\n    api_version: v1\n    kind: Node\n{masks}  response:\n    type: Success\n    payload: '{payload}'\n"
            )
        };
        let text = [
            entry("    field_masks: [metadata.name]\n", "first"),
            entry("    field_masks: [status.nodeInfo.kubeletVersion, metadata.name]\n", "second"),
            "- type: Exchange\n  request: |\n    !KubernetesListResourceAll\n    api_version: v1\n    kind: Node\n    label_selector: null\n    field_masks: [metadata.name, status.nodeInfo.kubeletVersion]\n  response:\n    type: Error\n    message: nodes is forbidden\n".to_owned(),
        ]
        .concat();
        let access = Kubernetes::new(
            BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
            Cluster::Replay(read_session(&text).unwrap().into()),
            false,
        );
        assert_eq!(
            access.call("list_resources_all", NODE_REQUEST),
            Err("Callback evaluation failure: Replay error: unexpected request. Was expecting KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\", label_selector: None, field_selector: None, field_masks: Some({\"metadata.name\"}) }, got KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\", label_selector: None, field_selector: None, field_masks: Some({\"metadata.name\", \"status.nodeInfo.kubeletVersion\"}) } instead".to_owned())
        );
        // Masks are a set, and an absent selector is null.
        assert_eq!(
            access.call("list_resources_all", NODE_REQUEST),
            Ok(b"second".to_vec())
        );
        assert_eq!(
            access.call("list_resources_all", NODE_REQUEST),
            Err("Callback evaluation failure: nodes is forbidden".to_owned())
        );
        assert_eq!(access.leftovers(), 0);
    }

    #[test]
    fn host_capability_patterns() {
        for (pattern, allowed) in [
            ("*", true),
            ("kubernetes/*", true),
            ("kubernetes/list_resources_all", true),
            ("kubernetes/get_resource", false),
            ("oci/*", false),
            ("kube*", false),
        ] {
            let access = node_access(false).with_allowed_capabilities(vec![pattern.to_owned()]);
            let answer = access.call("list_resources_all", NODE_REQUEST);
            assert_eq!(answer.is_ok(), allowed, "{pattern}: {answer:?}");
            if !allowed {
                assert_eq!(
                    answer.unwrap_err(),
                    "Policy has not been granted access to the 'kubernetes/list_resources_all' host capability. The violation has been reported."
                );
            }
        }
    }

    #[test]
    fn node_files() {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [node("a", "v1.34.0")]});
        assert_eq!(Nodes::from_document(list).unwrap().items.len(), 1);
        assert_eq!(
            Nodes::from_document(node("a", "v1")).unwrap().items.len(),
            1
        );
        assert_eq!(
            Nodes::from_document(json!({"items": [1]})).err(),
            Some("items[0] is not a Node object".to_owned())
        );
        assert_eq!(
            Nodes::from_document(json!([])).err(),
            Some("it is neither a list of nodes nor a Node".to_owned())
        );
    }
}
