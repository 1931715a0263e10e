//! metadata.yml: the rules the policy handles, the Kubewarden flags, the annotations kwctl and
//! ArtifactHub read, and its version held to Cargo.toml's.

mod common;

use native_sidecar_oci::Metadata;
use native_sidecar_oci::artifacthub::parse_maintainers;
use native_sidecar_oci::metadata::{
    ANNOTATION_AUTHOR, ANNOTATION_CATEGORY, ANNOTATION_DESCRIPTION, ANNOTATION_DISPLAY_NAME,
    ANNOTATION_KEYWORDS, ANNOTATION_LICENSE, ANNOTATION_OCI_URL, ANNOTATION_RESOURCES,
    ANNOTATION_SEVERITY, ANNOTATION_SOURCE, ANNOTATION_TITLE, ANNOTATION_URL, ANNOTATION_VERSION,
    Rule,
};

fn metadata() -> Metadata {
    Metadata::from_yaml(&common::read("metadata.yml")).unwrap()
}

fn rule(group: &str, resources: &[&str], operations: &[&str]) -> Rule {
    Rule {
        api_groups: vec![group.to_owned()],
        api_versions: vec!["v1".to_owned()],
        resources: resources.iter().map(|r| r.to_string()).collect(),
        operations: operations.iter().map(|o| o.to_string()).collect(),
    }
}

#[test]
fn version_equals_the_cargo_package_version() {
    assert_eq!(
        metadata().annotation(ANNOTATION_VERSION),
        Some(common::cargo_version().as_str()),
        "io.kubewarden.policy.version in metadata.yml must equal the version in Cargo.toml"
    );
}

#[test]
fn rules_are_pods_on_create_and_the_seven_workloads_on_create_and_update() {
    let both = ["CREATE", "UPDATE"];
    assert_eq!(
        metadata().rules,
        vec![
            rule("", &["pods"], &["CREATE"]),
            rule("", &["replicationcontrollers"], &both),
            rule(
                "apps",
                &["deployments", "replicasets", "statefulsets", "daemonsets"],
                &both
            ),
            rule("batch", &["jobs", "cronjobs"], &both),
        ]
    );
}

#[test]
fn flags_match_a_mutating_wapc_policy_with_audit() {
    let metadata = metadata();
    assert!(metadata.mutating);
    assert!(metadata.background_audit);
    assert_eq!(metadata.execution_mode, "kubewarden-wapc");
    assert_eq!(metadata.policy_type, "kubernetes");
    // checkNodes reads the nodes through kubernetes/list_resources_all, and a pinned pod's node
    // through kubernetes/get_resource.
    assert_eq!(
        metadata.context_aware_resources,
        [native_sidecar_oci::metadata::ContextAwareResource {
            api_version: "v1".into(),
            kind: "Node".into()
        }]
    );
    assert_eq!(
        metadata.host_capabilities,
        Some(vec![
            "kubernetes/get_resource".to_owned(),
            "kubernetes/list_resources_all".to_owned()
        ])
    );
    assert_eq!(metadata.protocol_version, None, "annotate sets it");
    let mut with_protocol = metadata;
    with_protocol.protocol_version = Some("v1".into());
    with_protocol.validate().unwrap();
}

#[test]
fn carries_every_annotation_kwctl_and_artifacthub_read() {
    let metadata = metadata();
    for key in [
        ANNOTATION_AUTHOR,
        ANNOTATION_TITLE,
        ANNOTATION_VERSION,
        ANNOTATION_DESCRIPTION,
        ANNOTATION_URL,
        ANNOTATION_SOURCE,
        ANNOTATION_LICENSE,
        ANNOTATION_OCI_URL,
        ANNOTATION_SEVERITY,
        ANNOTATION_CATEGORY,
        ANNOTATION_DISPLAY_NAME,
        ANNOTATION_RESOURCES,
        ANNOTATION_KEYWORDS,
    ] {
        let value = metadata.annotation(key).unwrap_or_default();
        assert!(!value.trim().is_empty(), "annotation {key} is missing");
        assert_eq!(value.lines().count(), 1, "{key} must be one line");
    }
    assert_eq!(metadata.annotation(ANNOTATION_LICENSE), Some("Apache-2.0"));
    assert_eq!(
        metadata.annotation(ANNOTATION_RESOURCES),
        Some(
            "Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController"
        )
    );
    assert!(
        ["low", "medium", "high", "critical"]
            .contains(&metadata.annotation(ANNOTATION_SEVERITY).unwrap_or_default())
    );
    // The author is the project, named as Cargo.toml's authors names it, not a person; kwctl
    // needs "name <email>", and the project has no mailbox, so the address is the no-reply one of
    // the project's organisation on the host of its source.
    let author = metadata.annotation(ANNOTATION_AUTHOR).unwrap_or_default();
    let maintainers = parse_maintainers(author).unwrap();
    let [maintainer] = maintainers.as_slice() else {
        panic!("{author}: one author, the project");
    };
    assert_eq!(
        format!("authors = [\"{}\"]", maintainer.name),
        common::read("Cargo.toml")
            .lines()
            .find(|line| line.starts_with("authors = "))
            .unwrap_or_default()
    );
    let organisation = metadata
        .annotation(ANNOTATION_SOURCE)
        .and_then(|source| source.strip_prefix("https://github.com/"))
        .and_then(|path| path.split('/').next())
        .unwrap_or_default();
    assert_eq!(
        maintainer.email,
        format!("{organisation}@users.noreply.github.com")
    );
    // The usage text is the README, added by annotate; a copy here would go stale.
    assert_eq!(metadata.annotation("io.kubewarden.policy.usage"), None);
}

#[test]
fn unknown_keys_are_refused() {
    let error =
        Metadata::from_yaml("rules: []\nmutating: true\nbackgroundAduit: true\n").unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.starts_with(
            "metadata.yml is not valid policy metadata: unknown field `backgroundAduit`"
        ),
        "{message}"
    );
}
