//! The pod an object describes, read once per review into a borrowed view that the meshes, the
//! rules and the node check share, and the container-list helpers they read it with.

use serde_json::{Map, Value};

use crate::describe::describe;
use crate::path;
use crate::workload::Kind;

/// What a review reads of an object's pod: its kind, the spec's two container lists and the
/// annotations of the metadata that describe the pod, each found with one walk. The few fields
/// that only some decisions need are looked up on demand in the maps found here.
#[derive(Clone, Copy)]
pub(crate) struct PodView<'v> {
    pub kind: Kind,
    pub containers: &'v [Value],
    pub init: &'v [Value],
    pub annotations: Annotations<'v>,
    spec: Option<&'v Map<String, Value>>,
    /// The most specific metadata (the pod's, or its template's).
    metadata: Option<&'v Map<String, Value>>,
}

impl<'v> PodView<'v> {
    /// The view of `object`, a `kind`; `Err` when a container list is not a list.
    pub fn read(kind: Kind, object: &'v Value) -> Result<PodView<'v>, String> {
        let spec = path::at(object, kind.spec_pointer()).and_then(Value::as_object);
        let path = kind.spec_path();
        let containers = list(spec, "containers", path)?;
        let init = list(spec, "initContainers", path)?;
        let mut metadata = [None; 2];
        for (slot, pointer) in metadata.iter_mut().zip(kind.metadata_pointers()) {
            *slot = path::at(object, pointer).and_then(Value::as_object);
        }
        Ok(PodView {
            kind,
            containers,
            init,
            annotations: Annotations(
                metadata.map(|meta| path::field(meta?, "annotations")?.as_object()),
            ),
            spec,
            metadata: metadata[0],
        })
    }

    /// The pod spec, for the rules that read a field of it (the node it is pinned to).
    pub fn spec(&self) -> Option<&'v Map<String, Value>> {
        self.spec
    }

    pub fn host_network(&self) -> bool {
        self.spec.and_then(|spec| path::field(spec, "hostNetwork")) == Some(&Value::Bool(true))
    }

    pub fn labels(&self) -> Option<&'v Map<String, Value>> {
        path::field(self.metadata?, "labels")?.as_object()
    }
}

/// The annotation maps of [`Kind::metadata_pointers`], most specific first.
#[derive(Clone, Copy)]
pub(crate) struct Annotations<'v>([Option<&'v Map<String, Value>>; 2]);

impl<'v> Annotations<'v> {
    /// The first string value of `key`.
    pub fn get(self, key: &str) -> Option<&'v str> {
        self.0
            .into_iter()
            .flatten()
            .find_map(|map| path::field(map, key)?.as_str())
    }
}

/// A container list of the pod spec; absent and null are empty.
fn list<'v>(
    spec: Option<&'v Map<String, Value>>,
    key: &str,
    path: &str,
) -> Result<&'v [Value], String> {
    match spec.and_then(|s| path::field(s, key)) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!(
            "{path}.{key} must be a list of containers, found {}",
            describe(other)
        )),
    }
}

pub(crate) fn positions(list: &[Value], wanted: &str) -> Vec<usize> {
    (0..list.len())
        .filter(|&at| name(&list[at]) == Some(wanted))
        .collect()
}

pub(crate) fn name(container: &Value) -> Option<&str> {
    path::get(container, "name")?.as_str()
}

pub(crate) fn restart_policy(container: &Value) -> Option<&str> {
    match path::get(container, "restartPolicy") {
        None | Some(Value::Null) => None,
        Some(Value::String(policy)) => Some(policy),
        Some(_) => Some("(not a string)"),
    }
}

#[cfg(test)]
impl<'v> PodView<'v> {
    /// The view of a Pod whose container lists are lists.
    pub fn of_pod(pod: &'v Value) -> PodView<'v> {
        PodView::read(Kind::Pod, pod).expect("container lists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_template_of_a_cron_job() {
        let object = json!({"spec": {"jobTemplate": {
            "metadata": {"annotations": {"a": "job", "b": "job"}},
            "spec": {"template": {
                "metadata": {"labels": {"app": "x"}, "annotations": {"a": "pod", "c": 1}},
                "spec": {"containers": [{"name": "app"}], "initContainers": null,
                         "nodeName": "n1", "hostNetwork": true}
            }}
        }}});
        let pod = PodView::read(Kind::CronJob, &object).unwrap();
        assert_eq!(pod.containers.len(), 1);
        assert!(pod.init.is_empty());
        assert_eq!(pod.annotations.get("a"), Some("pod"));
        assert_eq!(pod.annotations.get("b"), Some("job"));
        // Only string values count.
        assert_eq!(pod.annotations.get("c"), None);
        assert_eq!(pod.labels().and_then(|l| l.get("app")), Some(&json!("x")));
        assert_eq!(
            pod.spec().and_then(|s| s.get("nodeName")),
            Some(&json!("n1"))
        );
        assert!(pod.host_network());
    }

    #[test]
    fn container_lists_must_be_lists() {
        let object = json!({"spec": {"template": {"spec": {"initContainers": {"name": "x"}}}}});
        assert_eq!(
            PodView::read(Kind::Deployment, &object).err().as_deref(),
            Some("spec.template.spec.initContainers must be a list of containers, found an object")
        );
        let bare = json!({"metadata": "text"});
        let pod = PodView::read(Kind::Pod, &bare).unwrap();
        assert!(pod.containers.is_empty() && pod.labels().is_none() && !pod.host_network());
    }
}
