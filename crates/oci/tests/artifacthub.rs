//! artifacthub-pkg.yml: generated from metadata.yml as `kwctl scaffold artifacthub` does, and
//! fails here when it no longer matches metadata.yml.

mod common;

use native_sidecar_oci::artifacthub::parse_maintainers;
use native_sidecar_oci::{Metadata, scaffold_artifacthub};
use serde_json::Value;

fn committed() -> String {
    common::read("artifacthub-pkg.yml")
}

fn package() -> Value {
    serde_yaml::from_str(&committed()).unwrap()
}

/// The package as `make artifacthub-pkg.yml` writes it: with the questions file.
fn scaffold(metadata: &std::path::Path, version: Option<&str>) -> String {
    let questions = common::root().join("questions-ui.yml");
    scaffold_artifacthub(metadata, version, Some(&questions), Some(&committed())).unwrap()
}

#[test]
fn the_checked_in_package_is_up_to_date() {
    let root = common::root();
    let fresh = scaffold(&root.join("metadata.yml"), None);
    assert!(
        fresh == committed(),
        "artifacthub-pkg.yml is stale: run `make artifacthub-pkg.yml` and commit it\n--- expected ---\n{fresh}"
    );
}

#[test]
fn a_changed_metadata_makes_it_stale() {
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("metadata.yml");
    std::fs::write(
        &changed,
        common::read("metadata.yml").replace("severity: medium", "severity: high"),
    )
    .unwrap();
    let fresh = scaffold(&changed, Some("0.2.0"));
    assert_ne!(fresh, committed());
    assert!(fresh.contains("version: 0.2.0\n"));
    assert!(fresh.contains(":v0.2.0\n"));
}

#[test]
fn fields_follow_kwctl() {
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    let annotation = |key: &str| metadata.annotation(key).unwrap().to_owned();
    let version = common::cargo_version();
    let package = package();
    assert!(committed().starts_with(
        "# Kubewarden Artifacthub Package config\n#\n# Use this config to submit the policy to https://artifacthub.io.\n"
    ));
    assert_eq!(package["version"], version.as_str());
    assert_eq!(package["name"], annotation("io.kubewarden.policy.title"));
    assert_eq!(
        package["displayName"],
        annotation("io.artifacthub.displayName")
    );
    assert_eq!(
        package["description"],
        annotation("io.kubewarden.policy.description")
    );
    assert_eq!(package["license"], "Apache-2.0");
    assert_eq!(package["homeURL"], annotation("io.kubewarden.policy.url"));
    let image = format!("{}:v{version}", annotation("io.kubewarden.policy.ociUrl"));
    assert_eq!(package["containersImages"][0]["name"], "policy");
    assert_eq!(package["containersImages"][0]["image"], image.as_str());
    assert_eq!(
        package["keywords"],
        serde_json::json!([
            "istio",
            "linkerd",
            "kuma",
            "consul",
            "service mesh",
            "sidecar",
            "native sidecar",
            "init containers",
            "job"
        ])
    );
    let source = annotation("io.kubewarden.policy.source");
    assert_eq!(package["links"][0]["name"], "policy");
    assert_eq!(
        package["links"][0]["url"],
        format!("{source}/releases/download/v{version}/policy.wasm").as_str()
    );
    assert_eq!(package["links"][1]["url"], source.as_str());
    let install = package["install"].as_str().unwrap();
    assert!(install.contains(&format!("kwctl pull {image}\n")));
    assert!(install.contains(&format!(
        "kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n"
    )));
    // The author annotation, read as kwctl reads it.
    let author = parse_maintainers(&annotation("io.kubewarden.policy.author")).unwrap();
    assert_eq!(
        package["maintainers"],
        serde_json::to_value(&author).unwrap()
    );
    assert_eq!(package["provider"]["name"], "kubewarden");
    assert_eq!(
        package["recommendations"][0]["url"],
        "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller"
    );
    let created_at = package["createdAt"].as_str().unwrap();
    assert!(
        created_at.len() >= 20 && created_at.ends_with('Z'),
        "{created_at}"
    );

    let annotations = package["annotations"].as_object().unwrap();
    let keys: Vec<&str> = annotations.keys().map(String::as_str).collect();
    // contextAwareResources: kwctl writes it for context-aware policies (checkNodes reads nodes).
    assert_eq!(
        keys,
        [
            "kubewarden/contextAwareResources",
            "kubewarden/mutation",
            "kubewarden/questions-ui",
            "kubewarden/resources",
            "kubewarden/rules"
        ]
    );
    // The settings form, as the file is: kwctl embeds the text unchanged.
    assert_eq!(
        annotations["kubewarden/questions-ui"],
        common::read("questions-ui.yml").as_str()
    );
    assert_eq!(
        annotations["kubewarden/contextAwareResources"],
        "- apiVersion: v1\n  kind: Node\n"
    );
    assert_eq!(annotations["kubewarden/mutation"], "true");
    assert_eq!(
        annotations["kubewarden/resources"],
        annotation("io.artifacthub.resources").as_str()
    );
    let rules: Value =
        serde_yaml::from_str(annotations["kubewarden/rules"].as_str().unwrap()).unwrap();
    assert_eq!(rules, serde_json::to_value(&metadata.rules).unwrap());
}

#[test]
fn the_context_aware_annotation_follows_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metadata.yml");
    let scaffold = |metadata: String| -> Value {
        std::fs::write(&path, metadata).unwrap();
        let text = scaffold_artifacthub(&path, None, None, Some(&committed())).unwrap();
        serde_yaml::from_str(&text).unwrap()
    };
    let metadata = common::read("metadata.yml");
    let declared = "contextAwareResources:\n  - apiVersion: v1\n    kind: Node\n";
    assert!(metadata.contains(declared));
    let namespaces = scaffold(metadata.replace(
        declared,
        "contextAwareResources:\n  - apiVersion: v1\n    kind: Namespace\n",
    ));
    assert_eq!(
        namespaces["annotations"]["kubewarden/contextAwareResources"],
        "- apiVersion: v1\n  kind: Namespace\n"
    );
    let none = scaffold(metadata.replace(declared, "contextAwareResources: []\n"));
    assert!(
        none["annotations"]
            .get("kubewarden/contextAwareResources")
            .is_none()
    );
}
