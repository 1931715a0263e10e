//! The Kubernetes objects in a document: the document itself, or the items of a List (what
//! `kubectl get -o json` writes), and what the policy makes of each kind.

use native_sidecar_core::{ALL_KINDS, Kind};
use serde_json::Value;

use crate::{Message, Severity};

/// What an object is to the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A kind whose pod spec the policy reviews.
    Reviewed(Kind),
    /// Any other kind (or no kind at all: Helm values, Chart.yaml): passed through untouched.
    Other,
    /// A kind the tool does not know that holds a pod template (an Argo Rollout, a Knative
    /// Service, a CRD of one's own): the message says so, since the policy cannot review it.
    Unknown(String),
}

/// Where the pod templates of kinds the tool does not know usually are.
const POD_SPEC_FIELDS: [(&str, &str); 3] = [
    ("/spec/containers", "spec.containers"),
    ("/spec/template/spec/containers", "spec.template.spec"),
    (
        "/spec/jobTemplate/spec/template/spec/containers",
        "spec.jobTemplate.spec.template.spec",
    ),
];

/// What `object` is; `list_item_kind` is the kind a typed list (`PodList`) gives items that do
/// not name their own, as the API server writes them.
pub fn target(object: &Value, list_item_kind: Option<Kind>) -> Target {
    if object.get("kind").is_none()
        && let Some(kind) = list_item_kind
    {
        return Target::Reviewed(kind);
    }
    if let Some(kind) = Kind::from_object(object) {
        return Target::Reviewed(kind);
    }
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    let (Some(kind), Some(api_version)) = (text("kind"), text("apiVersion")) else {
        return Target::Other;
    };
    match POD_SPEC_FIELDS
        .iter()
        .find(|(pointer, _)| object.pointer(pointer).is_some_and(Value::is_array))
    {
        Some((_, path)) => Target::Unknown(format!(
            "{kind} ({api_version}) has a pod spec at {path}, but native-sidecar does not know this kind, so its proxies were not checked; it knows {}",
            known_kinds()
        )),
        None => Target::Other,
    }
}

fn known_kinds() -> String {
    let names: Vec<String> = ALL_KINDS
        .iter()
        .map(|k| match k.group() {
            "" => format!("{} (v1)", k.name()),
            group => format!("{} ({group}/v1)", k.name()),
        })
        .collect();
    names.join(", ")
}

/// One object of a document.
pub struct Visit<'v> {
    /// The document number, with `.items[N]` for a List item.
    pub at: String,
    pub target: Target,
    pub object: &'v mut Value,
}

/// Calls `each` for every object of document `number` of `file`: the items of a List, or the
/// document itself. Returns what there is to tell: a document or List item that is not an object
/// makes the document unreadable; a null one is passed over with a note, as kubectl skips null
/// documents and `linkerd inject` passes null List items through.
pub fn visit(
    document: &mut Value,
    file: &str,
    number: usize,
    each: &mut dyn FnMut(Visit<'_>),
) -> Vec<Message> {
    let passed_over = |at: String, what: &str| Message {
        severity: Severity::Warning,
        file: file.to_owned(),
        at: Some(at),
        object: None,
        text: format!("{what} is null, not an object: passed through untouched"),
    };
    match document {
        Value::Null => return vec![passed_over(number.to_string(), "the document")],
        Value::Object(_) => {}
        other => {
            return vec![Message::unreadable(
                file,
                number,
                format!(
                    "the document is not a Kubernetes object: found {}",
                    describe_type(other)
                ),
            )];
        }
    }
    if !is_list(document) {
        let target = target(document, None);
        each(Visit {
            at: number.to_string(),
            target,
            object: document,
        });
        return Vec::new();
    }
    let item_kind = typed_list_item_kind(document);
    let Some(items) = document.get_mut("items").and_then(Value::as_array_mut) else {
        return Vec::new();
    };
    let mut messages = Vec::new();
    for (index, item) in items.iter_mut().enumerate() {
        let at = format!("{number}.items[{index}]");
        match item {
            Value::Null => messages.push(passed_over(at, "the item")),
            Value::Object(_) => {
                let target = target(item, item_kind);
                each(Visit {
                    at,
                    target,
                    object: item,
                });
            }
            other => {
                messages.push(Message::unreadable(
                    file,
                    number,
                    format!(
                        "items[{index}] is not a Kubernetes object: found {}",
                        describe_type(other)
                    ),
                ));
                break;
            }
        }
    }
    messages
}

/// `kind: List`, or a typed list (`PodList`, `DeploymentList`), with its `items`.
fn is_list(document: &Value) -> bool {
    let kind = document.get("kind").and_then(Value::as_str).unwrap_or("");
    kind.ends_with("List") && document.get("items").is_some_and(Value::is_array)
}

fn typed_list_item_kind(list: &Value) -> Option<Kind> {
    let item = list.get("kind")?.as_str()?.strip_suffix("List")?;
    let api_version = list.get("apiVersion")?.as_str()?;
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    Kind::from_group_kind(group, item)
}

/// `Kind/name` for messages: the name, the generateName prefix followed by `*`, or `(no name)`.
pub fn describe(object: &Value, target: &Target) -> String {
    format!("{}/{}", kind(object, target), name(object))
}

/// The kind for messages: the reviewed kind, the object's own, or `object`.
pub fn kind<'v>(object: &'v Value, target: &Target) -> &'v str {
    match target {
        Target::Reviewed(kind) => kind.name(),
        _ => object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("object"),
    }
}

pub fn name(object: &Value) -> String {
    let metadata = object.get("metadata");
    let text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
    match (text("name"), text("generateName")) {
        (Some(name), _) => name.to_owned(),
        (None, Some(prefix)) => format!("{prefix}*"),
        (None, None) => "(no name)".to_owned(),
    }
}

pub fn namespace(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
}

fn describe_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "an empty document",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::pod(json!({"apiVersion": "v1", "kind": "Pod"}), Target::Reviewed(Kind::Pod))]
    #[case::service(json!({"apiVersion": "v1", "kind": "Service", "spec": {}}), Target::Other)]
    #[case::values_file(json!({"replicaCount": 1, "spec": {"containers": []}}), Target::Other)]
    #[case::rollout(
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "spec": {"template": {"spec": {"containers": []}}}}),
        Target::Unknown("Rollout (argoproj.io/v1alpha1) has a pod spec at spec.template.spec, but native-sidecar does not know this kind, so its proxies were not checked; it knows Pod (v1), Deployment (apps/v1), ReplicaSet (apps/v1), StatefulSet (apps/v1), DaemonSet (apps/v1), Job (batch/v1), CronJob (batch/v1), ReplicationController (v1)".into())
    )]
    #[case::deployment_of_another_group(
        json!({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": []}}}}),
        Target::Unknown("Deployment (example.com/v1) has a pod spec at spec.template.spec, but native-sidecar does not know this kind, so its proxies were not checked; it knows Pod (v1), Deployment (apps/v1), ReplicaSet (apps/v1), StatefulSet (apps/v1), DaemonSet (apps/v1), Job (batch/v1), CronJob (batch/v1), ReplicationController (v1)".into())
    )]
    fn targets(#[case] object: Value, #[case] expected: Target) {
        assert_eq!(target(&object, None), expected);
    }

    #[test]
    fn typed_lists_name_their_items_kind() {
        let mut list = json!({"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "a"}}, {"apiVersion": "v1", "kind": "ConfigMap"}]});
        let mut seen = Vec::new();
        let messages = visit(&mut list, "list.yaml", 3, &mut |v| {
            seen.push((
                v.at.clone(),
                v.target.clone(),
                describe(v.object, &v.target),
            ))
        });
        assert_eq!(messages, []);
        assert_eq!(
            seen,
            [
                (
                    "3.items[0]".to_owned(),
                    Target::Reviewed(Kind::Pod),
                    "Pod/a".to_owned()
                ),
                (
                    "3.items[1]".to_owned(),
                    Target::Other,
                    "ConfigMap/(no name)".to_owned()
                ),
            ]
        );
    }

    #[rstest]
    #[case::scalar(json!("text"), "the document is not a Kubernetes object: found a string")]
    #[case::list(json!([{"kind": "Pod"}]), "the document is not a Kubernetes object: found a list")]
    #[case::item(json!({"apiVersion": "v1", "kind": "List", "items": [1]}), "items[0] is not a Kubernetes object: found a number")]
    fn not_objects(#[case] mut document: Value, #[case] message: &str) {
        assert_eq!(
            visit(&mut document, "a.yaml", 1, &mut |_| {}),
            [Message::unreadable("a.yaml", 1, message)]
        );
    }

    /// Null documents and List items are passed over with a note; the objects around them are
    /// visited, and nothing is changed.
    #[test]
    fn nulls_are_passed_over() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}});
        let mut list = json!({"apiVersion": "v1", "kind": "List", "items": [null, pod, null]});
        let before = list.clone();
        let mut seen = Vec::new();
        let messages = visit(&mut list, "a.yaml", 2, &mut |v| seen.push(v.at));
        assert_eq!(seen, ["2.items[1]"]);
        let note = |at: &str, what: &str| Message {
            severity: Severity::Warning,
            file: "a.yaml".into(),
            at: Some(at.into()),
            object: None,
            text: format!("{what} is null, not an object: passed through untouched"),
        };
        assert_eq!(
            messages,
            [
                note("2.items[0]", "the item"),
                note("2.items[2]", "the item")
            ]
        );
        assert_eq!(list, before);
        assert_eq!(
            visit(&mut Value::Null, "a.yaml", 4, &mut |_| panic!(
                "nothing to visit"
            )),
            [note("4", "the document")]
        );
    }
}
