//! Where a pod spec and its metadata live in each kind the policy handles.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

pub const ALL_KINDS: [Kind; 8] = [
    Kind::Pod,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::Job,
    Kind::CronJob,
    Kind::ReplicationController,
];

impl Kind {
    /// The kind from an admission request's `kind` (group and kind; the version does not move the
    /// pod spec). Custom resources that reuse a built-in kind name in another group are not ours.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Kind> {
        let found = ALL_KINDS.into_iter().find(|k| k.name() == kind)?;
        (found.group() == group).then_some(found)
    }

    /// The kind of a manifest, from its `apiVersion` and `kind`.
    pub fn from_object(object: &Value) -> Option<Kind> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        Kind::from_group_kind(group, object.get("kind")?.as_str()?)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::ReplicationController => "ReplicationController",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Kind::Pod | Kind::ReplicationController => "",
            Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet | Kind::DaemonSet => "apps",
            Kind::Job | Kind::CronJob => "batch",
        }
    }

    /// JSON pointer to the pod spec.
    pub fn spec_pointer(self) -> &'static str {
        match self {
            Kind::Pod => "/spec",
            Kind::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }

    /// The pod spec's path as written in messages.
    pub fn spec_path(self) -> &'static str {
        match self {
            Kind::Pod => "spec",
            Kind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    /// JSON pointers to the metadata whose annotations describe the pod, most specific first.
    /// `istioctl kube-inject` writes a CronJob's injection annotations on the job template.
    pub fn metadata_pointers(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &["/metadata"],
            Kind::CronJob => &[
                "/spec/jobTemplate/spec/template/metadata",
                "/spec/jobTemplate/metadata",
            ],
            _ => &["/spec/template/metadata"],
        }
    }

    /// Pods' containers are immutable after creation; templates may change on update.
    pub fn mutable_on(self, operation: Operation) -> bool {
        match operation {
            Operation::Create => true,
            Operation::Update => self != Kind::Pod,
            Operation::Other => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    /// DELETE, CONNECT and anything else: nothing to do.
    Other,
}

impl Operation {
    pub fn parse(operation: &str) -> Operation {
        match operation {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            _ => Operation::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case("", "Pod", Some(Kind::Pod))]
    #[case("apps", "Deployment", Some(Kind::Deployment))]
    #[case("batch", "CronJob", Some(Kind::CronJob))]
    #[case("", "ReplicationController", Some(Kind::ReplicationController))]
    #[case("example.com", "Deployment", None)]
    #[case("", "Service", None)]
    #[case("apps", "Pod", None)]
    fn kinds_from_requests(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] expected: Option<Kind>,
    ) {
        assert_eq!(Kind::from_group_kind(group, kind), expected);
    }

    #[rstest]
    #[case(json!({"apiVersion": "v1", "kind": "Pod"}), Some(Kind::Pod))]
    #[case(json!({"apiVersion": "apps/v1", "kind": "StatefulSet"}), Some(Kind::StatefulSet))]
    #[case(json!({"apiVersion": "batch/v1", "kind": "Job"}), Some(Kind::Job))]
    #[case(json!({"apiVersion": "v1", "kind": "ConfigMap"}), None)]
    #[case(json!({"kind": "Pod"}), None)]
    fn kinds_from_manifests(#[case] object: Value, #[case] expected: Option<Kind>) {
        assert_eq!(Kind::from_object(&object), expected);
    }

    #[test]
    fn every_pointer_matches_its_path() {
        for kind in ALL_KINDS {
            let from_path = format!("/{}", kind.spec_path().replace('.', "/"));
            assert_eq!(from_path, kind.spec_pointer(), "{kind:?}");
        }
    }

    #[test]
    fn annotations_hold_every_metadata_pointer() {
        for kind in ALL_KINDS {
            assert!(kind.metadata_pointers().len() <= 2, "{kind:?}");
        }
    }

    #[test]
    fn pods_change_on_create_only() {
        assert!(Kind::Pod.mutable_on(Operation::Create));
        assert!(!Kind::Pod.mutable_on(Operation::Update));
        assert!(Kind::Job.mutable_on(Operation::Update));
        assert!(!Kind::Job.mutable_on(Operation::parse("DELETE")));
    }
}
