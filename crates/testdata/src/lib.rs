//! The repository's test data, loaded for tests of every crate: Istio's and Linkerd's golden
//! pairs (`test_data/istio`, `test_data/linkerd`), the conversion cases (`test_data/cases`) and
//! sample admission requests.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A manifest before and after conversion.
#[derive(Debug, Clone)]
pub struct Pair {
    pub name: String,
    pub before: Value,
    pub after: Value,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data")
}

/// Every YAML document of a file, as JSON values (empty documents skipped).
pub fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn files(dir: &str, suffix: &str) -> Vec<(String, PathBuf)> {
    let dir = root().join(dir);
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.strip_suffix(suffix)?.to_owned();
            Some((name, path))
        })
        .collect();
    found.sort();
    found
}

/// Istio's own classic and native output for the same workloads (`NAME.classic.yaml`, `NAME.native.yaml`).
pub fn istio_pairs() -> Vec<Pair> {
    golden_pairs("istio")
}

/// Linkerd's own `linkerd inject` output, classic and native, for the same workloads.
pub fn linkerd_pairs() -> Vec<Pair> {
    golden_pairs("linkerd")
}

fn golden_pairs(dir: &str) -> Vec<Pair> {
    files(dir, ".classic.yaml")
        .into_iter()
        .map(|(name, classic)| {
            let native = classic.with_file_name(format!("{name}.native.yaml"));
            Pair {
                before: single(&classic),
                after: single(&native),
                name,
            }
        })
        .collect()
}

/// The conversion cases: two documents per file, input then expected output.
pub fn cases() -> Vec<Pair> {
    files("cases", ".yaml")
        .into_iter()
        .map(|(name, path)| {
            let mut docs = documents(&path).into_iter();
            let (Some(before), Some(after), None) = (docs.next(), docs.next(), docs.next()) else {
                panic!("{} must hold exactly two documents", path.display());
            };
            Pair {
                name,
                before,
                after,
            }
        })
        .collect()
}

/// Every pair: the meshes' goldens and the cases.
pub fn all_pairs() -> Vec<Pair> {
    let mut pairs = istio_pairs();
    pairs.extend(linkerd_pairs());
    pairs.extend(cases());
    pairs
}

fn single(path: &Path) -> Value {
    let mut docs = documents(path);
    assert_eq!(docs.len(), 1, "{} must hold one document", path.display());
    docs.remove(0)
}

/// An AdmissionRequest for `object`, as the API server sends it.
pub fn admission_request(object: &Value, operation: &str) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or_default();
    let resource = format!("{}s", kind.to_ascii_lowercase());
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "admin", "uid": "014fbff9a07c", "groups": ["system:authenticated"]},
        "object": if operation == "DELETE" { Value::Null } else { object.clone() },
        "oldObject": if operation == "CREATE" { Value::Null } else { object.clone() },
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    })
}

/// What a generated cluster object is, for the counts `native-sidecar report` must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterObject {
    pub namespace: String,
    pub kind: &'static str,
    /// `classic`, `native`, `misplaced`, `optedOut`, `refused` or `untouched`.
    pub category: &'static str,
}

const NAMESPACES: [&str; 5] = ["shop", "payments", "search", "batch", "monitoring"];

/// What `kubectl get pods,deployments -A -o json` prints for a cluster of `pods` Pods built from
/// Istio's fixtures, in blocks of 20: 8 classic, 4 native, 2 native with an init container
/// before the proxy (misplaced), 2 classic that opt out of native sidecars, 1 with a second
/// `istio-proxy` in its init containers (refused), 3 without a proxy. Every block of 20 goes to the
/// next of five namespaces. After every 50th Pod comes a Deployment, classic and native in turn.
/// Returns the List and what each item is.
pub fn cluster_list(pods: usize) -> (Value, Vec<ClusterObject>) {
    let classic = single(&root().join("istio/pod.classic.yaml"));
    let native = single(&root().join("istio/pod.native.yaml"));
    let deployments = [
        single(&root().join("istio/hello.classic.yaml")),
        single(&root().join("istio/hello.native.yaml")),
    ];
    let mut items = Vec::with_capacity(pods + pods / 50);
    let mut expected = Vec::with_capacity(items.capacity());
    for i in 0..pods {
        let namespace = NAMESPACES[(i / 20) % NAMESPACES.len()];
        let (mut pod, category) = match i % 20 {
            0..8 => (classic.clone(), "classic"),
            8..12 => (native.clone(), "native"),
            12..14 => {
                let mut pod = native.clone();
                if let Some(init) = pod["spec"]["initContainers"].as_array_mut() {
                    init.insert(0, json!({"name": "check-traffic", "image": "curlimages/curl", "command": ["curl", "http://catalog"]}));
                }
                (pod, "misplaced")
            }
            14..16 => {
                let mut pod = classic.clone();
                pod["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] = json!("false");
                (pod, "optedOut")
            }
            16 => {
                let mut pod = classic.clone();
                let mut copy = pod["spec"]["containers"][1].clone();
                copy["restartPolicy"] = json!("Always");
                if let Some(init) = pod["spec"]["initContainers"].as_array_mut() {
                    init.push(copy);
                }
                (pod, "refused")
            }
            _ => (
                json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"labels": {"app": "worker"}},
                    "spec": {"containers": [{"name": "worker", "image": "busybox", "command": ["sleep", "3600"]}]}
                }),
                "untouched",
            ),
        };
        as_in_cluster(&mut pod, &format!("pod-{i}"), namespace, i);
        pod["spec"]["nodeName"] = json!(format!("node-{}", i % 7));
        pod["status"] = json!({"phase": "Running", "podIP": format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)});
        items.push(pod);
        expected.push(ClusterObject {
            namespace: namespace.to_owned(),
            kind: "Pod",
            category,
        });
        if i % 50 == 49 {
            let which = (i / 50) % 2;
            let mut deployment = deployments[which].clone();
            let namespace = NAMESPACES[(i / 50) % NAMESPACES.len()];
            as_in_cluster(&mut deployment, &format!("deployment-{i}"), namespace, i);
            items.push(deployment);
            expected.push(ClusterObject {
                namespace: namespace.to_owned(),
                kind: "Deployment",
                category: ["classic", "native"][which],
            });
        }
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
    (list, expected)
}

fn as_in_cluster(object: &mut Value, name: &str, namespace: &str, i: usize) {
    let metadata = &mut object["metadata"];
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(namespace);
    metadata["uid"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
    metadata["resourceVersion"] = json!((1000 + i).to_string());
    metadata["creationTimestamp"] = json!("2026-11-01T10:00:00Z");
}
