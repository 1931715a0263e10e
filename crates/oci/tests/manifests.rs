//! policy.yaml: every document is valid against the Kubewarden CRDs (as the API server would check
//! it), its settings pass the policy's own validation, and the documents do what their comments
//! say.

mod common;

use std::collections::BTreeMap;

use jsonschema::{Draft, Validator};
use native_sidecar_core::{Mode, Settings};
use native_sidecar_oci::Metadata;
use native_sidecar_oci::metadata::{ANNOTATION_OCI_URL, ANNOTATION_VERSION};
use serde_json::{Value, json};

fn all_documents() -> Vec<Value> {
    common::read("policy.yaml")
        .split("\n---")
        .filter_map(|text| serde_yaml::from_str::<Option<Value>>(text).unwrap())
        .collect()
}

fn is_kubewarden(document: &Value) -> bool {
    document["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("policies.kubewarden.io/"))
}

/// The Kubewarden policies of policy.yaml.
fn documents() -> Vec<Value> {
    all_documents().into_iter().filter(is_kubewarden).collect()
}

/// The RBAC documents of policy.yaml (`make schema-check` checks them against Kubernetes' schema).
fn rbac_documents() -> Vec<Value> {
    all_documents()
        .into_iter()
        .filter(|document| !is_kubewarden(document))
        .collect()
}

fn by_name(name: &str) -> Value {
    documents()
        .into_iter()
        .find(|doc| doc["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no document named {name}"))
}

/// Kubernetes prunes, and `kubectl apply` with field validation rejects, fields a structural
/// schema does not declare; JSON Schema allows them. Closing every object that lists its
/// properties (unless it preserves unknown fields) makes a misspelt key fail here too.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let preserves = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            if map.contains_key("properties")
                && !preserves
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), json!(false));
            }
            for value in map.values_mut() {
                close_objects(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The validator for `kind` at `policies.kubewarden.io/<version>`, from the CRDs in test_data.
fn validator(kind: &str, version: &str) -> Validator {
    let file = match kind {
        "ClusterAdmissionPolicy" => "test_data/kubewarden-crds/clusteradmissionpolicies.yaml",
        "AdmissionPolicy" => "test_data/kubewarden-crds/admissionpolicies.yaml",
        other => panic!("policy.yaml holds an unexpected kind {other}"),
    };
    let crd: Value = serde_yaml::from_str(&common::read(file)).unwrap();
    assert_eq!(crd["spec"]["group"], "policies.kubewarden.io");
    assert_eq!(crd["spec"]["names"]["kind"], kind);
    let mut schema = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version && v["served"] == true)
        .unwrap_or_else(|| panic!("{kind} {version} is not served by the CRD"))["schema"]
        ["openAPIV3Schema"]
        .clone();
    close_objects(&mut schema);
    // OpenAPI v3 schemas are JSON Schema draft 4 plus extensions; the x-kubernetes-* keys are
    // annotations a validator ignores.
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .build(&schema)
        .unwrap()
}

fn schema_errors(document: &Value) -> Vec<String> {
    let api_version = document["apiVersion"].as_str().unwrap_or_default();
    let version = api_version
        .strip_prefix("policies.kubewarden.io/")
        .unwrap_or_else(|| panic!("apiVersion {api_version} is not policies.kubewarden.io"));
    let kind = document["kind"].as_str().unwrap_or_default();
    validator(kind, version)
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn every_document_is_valid_against_the_kubewarden_crds() {
    let documents = documents();
    assert_eq!(documents.len(), 6);
    for document in &documents {
        let name = document["metadata"]["name"].as_str().unwrap_or_default();
        assert!(!name.is_empty(), "every document needs metadata.name");
        assert_eq!(
            schema_errors(document),
            Vec::<String>::new(),
            "{name} does not match the CRD schema"
        );
        let namespaced = document["kind"] == "AdmissionPolicy";
        assert_eq!(
            document["metadata"].get("namespace").is_some(),
            namespaced,
            "{name}: an AdmissionPolicy needs a namespace, a ClusterAdmissionPolicy has none"
        );
    }
}

#[test]
fn the_schema_check_catches_misspelt_and_mistyped_fields() {
    let mut misspelt = by_name("native-sidecar-audit");
    misspelt["spec"]["backgroundAduit"] = json!(true);
    assert_eq!(
        schema_errors(&misspelt),
        vec!["/spec: Additional properties are not allowed ('backgroundAduit' was unexpected)"]
    );
    let mut mistyped = by_name("native-sidecar-audit");
    mistyped["spec"]["mutating"] = json!("false");
    assert_eq!(
        schema_errors(&mistyped),
        vec![r#"/spec/mutating: "false" is not of type "boolean""#]
    );
    let mut bad_mode = by_name("native-sidecar-audit");
    bad_mode["spec"]["mode"] = json!("audit");
    assert_eq!(schema_errors(&bad_mode).len(), 1);
    let mut missing = by_name("native-sidecar-convert");
    missing["spec"].as_object_mut().unwrap().remove("module");
    assert_eq!(
        schema_errors(&missing),
        vec![r#"/spec: "module" is a required property"#]
    );
}

#[test]
fn every_settings_block_passes_the_policy_settings_validation() {
    for document in documents() {
        let name = &document["metadata"]["name"];
        let settings = &document["spec"]["settings"];
        assert!(settings.is_object(), "{name} should spell its settings out");
        if let Err(message) = Settings::from_json(settings) {
            panic!("{name}: settings rejected: {message}");
        }
    }
}

#[test]
fn modules_point_at_this_version_in_the_metadata_registry() {
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    let expected = format!(
        "registry://{}:v{}",
        metadata.annotation(ANNOTATION_OCI_URL).unwrap(),
        metadata.annotation(ANNOTATION_VERSION).unwrap()
    );
    for document in documents() {
        assert_eq!(document["spec"]["module"], expected.as_str());
    }
}

#[test]
fn rules_ask_only_for_what_the_metadata_declares() {
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    let declared: Vec<(String, String, String)> = metadata
        .rules
        .iter()
        .flat_map(|rule| {
            rule.resources.iter().flat_map(move |resource| {
                rule.operations.iter().map(move |operation| {
                    (
                        rule.api_groups[0].clone(),
                        resource.clone(),
                        operation.clone(),
                    )
                })
            })
        })
        .collect();
    for document in documents() {
        let name = &document["metadata"]["name"];
        for rule in document["spec"]["rules"].as_array().unwrap() {
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    for operation in rule["operations"].as_array().unwrap() {
                        let triple = (
                            group.as_str().unwrap().to_owned(),
                            resource.as_str().unwrap().to_owned(),
                            operation.as_str().unwrap().to_owned(),
                        );
                        assert!(
                            declared.contains(&triple),
                            "{name}: {triple:?} is not in metadata.yml's rules"
                        );
                    }
                }
            }
        }
    }
}

/// How a namespaceSelector decides (Kubernetes LabelSelector semantics: everything ANDed).
fn selects(selector: &Value, labels: &BTreeMap<&str, &str>) -> bool {
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let labels_ok = match_labels
        .into_iter()
        .all(|(key, value)| labels.get(key.as_str()).copied() == value.as_str());
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten();
    let expressions_ok = expressions.into_iter().all(|expression| {
        let key = expression["key"].as_str().unwrap();
        match expression["operator"].as_str().unwrap() {
            "Exists" => labels.contains_key(key),
            "DoesNotExist" => !labels.contains_key(key),
            // An absent label is not in the list.
            "NotIn" => !expression["values"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| labels.get(key).is_some_and(|l| v.as_str() == Some(*l))),
            other => panic!("operator {other} not modelled"),
        }
    });
    labels_ok && expressions_ok
}

type Labels<'a> = &'a [(&'a str, &'a str)];

#[test]
fn injection_policies_cover_both_istio_labels_without_overlapping() {
    let by_label = by_name("native-sidecar-request-injection");
    let by_revision = by_name("native-sidecar-request-injection-rev");
    // (namespace labels, selected by the istio-injection policy, selected by the revision one)
    let cases: [(Labels, bool, bool); 5] = [
        (&[("istio-injection", "enabled")], true, false),
        (&[("istio.io/rev", "canary")], false, true),
        // Istio lets istio-injection win over istio.io/rev.
        (
            &[("istio-injection", "enabled"), ("istio.io/rev", "canary")],
            true,
            false,
        ),
        (
            &[("istio-injection", "disabled"), ("istio.io/rev", "canary")],
            false,
            false,
        ),
        (&[], false, false),
    ];
    for (labels, first, second) in cases {
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        assert_eq!(
            selects(&by_label["spec"]["namespaceSelector"], &labels),
            first,
            "{labels:?}"
        );
        assert_eq!(
            selects(&by_revision["spec"]["namespaceSelector"], &labels),
            second,
            "{labels:?}"
        );
    }
    for policy in [&by_label, &by_revision] {
        assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
        assert_eq!(policy["spec"]["mutating"], true);
        let settings = Settings::from_json(&policy["spec"]["settings"]).unwrap();
        assert_eq!(settings.mode, Mode::Mutate);
        assert!(settings.request_native_injection);
        assert_eq!(settings.meshes, ["istio"]);
    }
}

/// Linkerd namespaces are annotated, not labelled: the policy selects the label its comment tells
/// users to add, and asks Linkerd (not Istio) for native injection of Pods there.
#[test]
fn linkerd_injection_policy_asks_linkerd_in_labelled_namespaces() {
    use native_sidecar_core::{Kind, Node, Operation, review_with};
    let policy = by_name("native-sidecar-request-injection-linkerd");
    assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
    assert_eq!(policy["spec"]["mutating"], true);
    let selector = &policy["spec"]["namespaceSelector"];
    let labelled: BTreeMap<&str, &str> = [("linkerd.io/inject", "enabled")].into();
    assert!(selects(selector, &labelled));
    assert!(!selects(selector, &BTreeMap::new()));
    assert!(!selects(selector, &[("istio-injection", "enabled")].into()));
    let comment = common::read("policy.yaml");
    assert!(comment.contains("kubectl label namespace emojivoto linkerd.io/inject=enabled"));

    let settings = Settings::from_json(&policy["spec"]["settings"]).unwrap();
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "buoyantio/emojivoto-web:v10"}]}});
    // The policy checks the nodes first: here all of them run native sidecars.
    let mut nodes = vec![Node::new("node-1", "v1.34.1")];
    let outcome = review_with(
        Kind::Pod,
        Operation::Create,
        &mut pod,
        &settings,
        &mut nodes,
    );
    assert!(outcome.changed);
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({
            "config.linkerd.io/proxy-enable-native-sidecar": "true",
            "config.beta.linkerd.io/proxy-enable-native-sidecar": "true",
            "config.alpha.linkerd.io/proxy-enable-native-sidecar": "true"
        })
    );
}

#[test]
fn convert_policy_is_namespaced_and_mutates_after_injection() {
    let policy = by_name("native-sidecar-convert");
    assert_eq!(policy["kind"], "AdmissionPolicy");
    assert_eq!(policy["spec"]["mutating"], true);
    let settings = Settings::from_json(&policy["spec"]["settings"]).unwrap();
    assert_eq!(settings.mode, Mode::Mutate);
    assert!(!settings.request_native_injection);
    assert_eq!(settings.meshes, ["istio", "linkerd", "kuma", "consul"]);
    // Kuma's and Consul's timings are shown, with their defaults, for users to copy theirs over.
    for mesh in ["kuma", "consul"] {
        assert_eq!(
            policy["spec"]["settings"][mesh],
            Settings::default().to_json()[mesh]
        );
    }
}

/// Consul's request policy asks Consul (not Istio) for native injection of Pods that ask
/// consul-k8s to inject them, and of no other Pod.
#[test]
fn consul_injection_policy_asks_consul_for_pods_that_ask_to_be_injected() {
    use native_sidecar_core::{Kind, Node, Operation, review_with};
    let policy = by_name("native-sidecar-request-injection-consul");
    assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
    assert_eq!(policy["spec"]["mutating"], true);
    let selector = &policy["spec"]["namespaceSelector"];
    assert!(selects(
        selector,
        &[("kubernetes.io/metadata.name", "shop")].into()
    ));
    assert!(!selects(
        selector,
        &[("kubernetes.io/metadata.name", "kube-system")].into()
    ));
    let settings = Settings::from_json(&policy["spec"]["settings"]).unwrap();
    let pod = |annotations: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "annotations": annotations},
               "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo:1.0"}]}})
    };
    let mut nodes = vec![Node::new("node-1", "v1.34.1")];
    let mut asks = pod(json!({"consul.hashicorp.com/connect-inject": "true"}));
    let outcome = review_with(
        Kind::Pod,
        Operation::Create,
        &mut asks,
        &settings,
        &mut nodes,
    );
    assert!(outcome.changed);
    assert_eq!(
        asks["metadata"]["annotations"],
        json!({"consul.hashicorp.com/connect-inject": "true",
               "consul.hashicorp.com/enable-consul-dataplane-as-sidecar": "true"})
    );
    let mut silent = pod(json!({}));
    let outcome = review_with(
        Kind::Pod,
        Operation::Create,
        &mut silent,
        &settings,
        &mut nodes,
    );
    assert!(!outcome.changed);
}

/// Kuma has no per-pod switch: no policy asks for native injection with Kuma among its meshes.
#[test]
fn no_policy_asks_kuma_for_native_injection() {
    for policy in documents() {
        let settings = Settings::from_json(&policy["spec"]["settings"]).unwrap();
        if settings.mode == Mode::Mutate && settings.request_native_injection {
            assert!(
                !settings.meshes.iter().any(|m| m == "kuma"),
                "{}",
                policy["metadata"]["name"]
            );
        }
    }
}

#[test]
fn audit_policy_validates_only_and_feeds_the_audit_scanner() {
    let policy = by_name("native-sidecar-audit");
    assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
    assert_eq!(policy["spec"]["mutating"], false);
    assert_eq!(policy["spec"]["backgroundAudit"], true);
    assert_eq!(policy["spec"]["mode"], "monitor");
    let settings = Settings::from_json(&policy["spec"]["settings"]).unwrap();
    assert_eq!(settings.mode, Mode::Validate);
}

#[test]
fn the_crds_are_the_shared_copy_with_their_readme() {
    let readme = common::read("test_data/kubewarden-crds/README.md");
    assert!(readme.contains("kubewarden/kubewarden-controller"));
    let shared = common::root().join("../shared/kubewarden-crds");
    if shared.is_dir() {
        for file in ["clusteradmissionpolicies.yaml", "admissionpolicies.yaml"] {
            assert_eq!(
                common::read(&format!("test_data/kubewarden-crds/{file}")),
                std::fs::read_to_string(shared.join(file)).unwrap(),
                "test_data/kubewarden-crds/{file} differs from shared/kubewarden-crds"
            );
        }
    }
}

#[test]
fn cluster_wide_policies_check_nodes_and_may_read_them() {
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    let node = json!([{"apiVersion": "v1", "kind": "Node"}]);
    assert_eq!(
        serde_json::to_value(&metadata.context_aware_resources).unwrap(),
        node,
        "metadata.yml declares what the module reads"
    );
    // The node list, and one node for a pinned pod.
    assert_eq!(
        metadata.host_capabilities.as_deref(),
        Some(
            &[
                "kubernetes/get_resource".to_owned(),
                "kubernetes/list_resources_all".to_owned()
            ][..]
        )
    );
    for document in documents() {
        let name = &document["metadata"]["name"];
        let settings = Settings::from_json(&document["spec"]["settings"]).unwrap();
        // Kubewarden gives only ClusterAdmissionPolicies cluster context (the AdmissionPolicy CRD
        // has no contextAwareResources): a namespaced policy checking nodes would never convert.
        let cluster_wide = document["kind"] == "ClusterAdmissionPolicy";
        assert_eq!(settings.check_nodes, cluster_wide, "{name}");
        if cluster_wide {
            assert_eq!(document["spec"]["contextAwareResources"], node, "{name}");
        }
    }
}

#[test]
fn the_cluster_role_lets_policy_server_list_and_watch_nodes() {
    let rbac = rbac_documents();
    let kinds: Vec<&str> = rbac.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["ClusterRole", "ClusterRoleBinding"]);
    let (role, binding) = (&rbac[0], &rbac[1]);
    for document in &rbac {
        assert_eq!(document["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert!(document["metadata"].get("namespace").is_none());
    }
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}])
    );
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]})
    );
    // The ServiceAccount of the default PolicyServer in Kubewarden's Helm charts.
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "policy-server", "namespace": "kubewarden"}])
    );
}
