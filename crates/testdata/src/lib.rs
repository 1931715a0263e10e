//! The repository's test data, loaded for tests of every crate: Istio's, Linkerd's, Kuma's and
//! Consul's golden pairs (`test_data/istio`, `test_data/linkerd`, `test_data/kuma`,
//! `test_data/consul`), the conversion cases
//! (`test_data/cases`) and sample admission requests.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A manifest before and after conversion, with the policy settings that convert it.
#[derive(Debug, Clone)]
pub struct Pair {
    pub name: String,
    pub before: Value,
    pub after: Value,
    /// The policy's settings as JSON; null for the defaults. Kuma's native output depends on its
    /// control plane's configuration, which the pod does not show.
    pub settings: Value,
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

/// Kuma's own injector output, classic and native, for the same pods, with the settings of the
/// injector configuration they were rendered with (`test_data/kuma/settings.yaml`).
pub fn kuma_pairs() -> Vec<Pair> {
    golden_pairs("kuma")
}

/// consul-k8s's webhook output, classic and native, for the same pods.
pub fn consul_pairs() -> Vec<Pair> {
    golden_pairs("consul")
}

/// The pairs of `dir`, with the settings of `dir/settings.yaml` when there is one.
fn golden_pairs(dir: &str) -> Vec<Pair> {
    let settings_file = root().join(dir).join("settings.yaml");
    let settings = if settings_file.is_file() {
        single(&settings_file)
    } else {
        Value::Null
    };
    files(dir, ".classic.yaml")
        .into_iter()
        .map(|(name, classic)| {
            let native = classic.with_file_name(format!("{name}.native.yaml"));
            Pair {
                before: single(&classic),
                after: single(&native),
                name,
                settings: settings.clone(),
            }
        })
        .collect()
}

/// The conversion cases: two documents per file, input then expected output. A comment line
/// `# settings: {...}` before the first document gives the settings that convert it (flow YAML).
pub fn cases() -> Vec<Pair> {
    files("cases", ".yaml")
        .into_iter()
        .map(|(name, path)| {
            let mut docs = documents(&path).into_iter();
            let (Some(before), Some(after), None) = (docs.next(), docs.next(), docs.next()) else {
                panic!("{} must hold exactly two documents", path.display());
            };
            Pair {
                settings: case_settings(&path),
                name,
                before,
                after,
            }
        })
        .collect()
}

fn case_settings(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .take_while(|line| line.starts_with('#'))
        .find_map(|line| line.strip_prefix("# settings: "))
        .map_or(Value::Null, |settings| {
            serde_yaml::from_str(settings)
                .unwrap_or_else(|e| panic!("{}: settings are not YAML: {e}", path.display()))
        })
}

/// Every pair: the meshes' goldens and the cases.
pub fn all_pairs() -> Vec<Pair> {
    let mut pairs = istio_pairs();
    pairs.extend(linkerd_pairs());
    pairs.extend(kuma_pairs());
    pairs.extend(consul_pairs());
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
    /// `classic`, `native`, `misplaced`, `optedOut`, `refused` or `untouched`, on nodes that all
    /// run native sidecars.
    pub category: &'static str,
    /// `spec.nodeName` (Pods only).
    pub node: Option<String>,
    /// What converting adds to the Pod's effective requests, by resource, as the generator built
    /// it: an init container that asks for more than the app, which the proxy now runs beside.
    pub added_requests: &'static [(&'static str, &'static str)],
}

const NAMESPACES: [&str; 5] = ["shop", "payments", "search", "batch", "monitoring"];

/// The generated cluster's nodes: `node-0` to `node-6`; Pod `pod-i` runs on `node-{i % 7}`.
pub const NODES: usize = 7;

/// Converting `istio-proxy` (100m, 128Mi) beside a `migrate` init container of 2 cpu and 1Gi.
const ISTIO_MIGRATE_ADDS: &[(&str, &str)] = &[("cpu", "100m"), ("memory", "128Mi")];
/// Converting `linkerd-proxy` (100m, 64Mi) beside a `migrate` init container of 1 cpu and 1Gi.
const LINKERD_MIGRATE_ADDS: &[(&str, &str)] = &[("cpu", "100m"), ("memory", "64Mi")];

/// What `kubectl get pods,deployments -A -o json` prints for a cluster of `pods` Pods built from
/// Istio's and Linkerd's fixtures, in blocks of 20: 8 classic (6 Istio, 2 Linkerd), 4 native (3
/// Istio, 1 Linkerd), 2 Istio native with an init container before the proxy (misplaced), 2
/// Istio classic that opt out of native sidecars, 1 with a second `istio-proxy` in its init
/// containers (refused), 3 without a proxy. In each block, the first two Istio classic Pods and
/// the second Linkerd one run a `migrate` init container that asks for more than their app, so
/// converting raises their effective requests by the proxy's. Every block of 20 goes to the next
/// of five namespaces, and Pod `i` runs on `node-{i % 7}`. After every 50th Pod comes a
/// Deployment, classic and native in turn. Returns the List and what each item is.
pub fn cluster_list(pods: usize) -> (Value, Vec<ClusterObject>) {
    let classic = single(&root().join("istio/pod.classic.yaml"));
    let native = single(&root().join("istio/pod.native.yaml"));
    let linkerd_classic = single(&root().join("linkerd/emojivoto-pod.classic.yaml"));
    let linkerd_native = single(&root().join("linkerd/emojivoto-pod.native.yaml"));
    let deployments = [
        single(&root().join("istio/hello.classic.yaml")),
        single(&root().join("istio/hello.native.yaml")),
    ];
    let mut items = Vec::with_capacity(pods + pods / 50);
    let mut expected = Vec::with_capacity(items.capacity());
    for i in 0..pods {
        let namespace = NAMESPACES[(i / 20) % NAMESPACES.len()];
        let mut added: &'static [(&str, &str)] = &[];
        let (mut pod, category) = match i % 20 {
            0..2 => {
                let mut pod = classic.clone();
                with_migrate(&mut pod, "2", "1Gi");
                added = ISTIO_MIGRATE_ADDS;
                (pod, "classic")
            }
            2..6 => (classic.clone(), "classic"),
            6 => (linkerd_classic.clone(), "classic"),
            7 => {
                let mut pod = linkerd_classic.clone();
                // What `linkerd inject` renders with config.linkerd.io/proxy-cpu-request and
                // proxy-memory-request.
                let annotations = &mut pod["metadata"]["annotations"];
                annotations["config.linkerd.io/proxy-cpu-request"] = json!("100m");
                annotations["config.linkerd.io/proxy-memory-request"] = json!("64Mi");
                if let Some(proxy) = pod["spec"]["containers"]
                    .as_array_mut()
                    .and_then(|c| c.iter_mut().find(|c| c["name"] == "linkerd-proxy"))
                {
                    proxy["resources"] = json!({"requests": {"cpu": "100m", "memory": "64Mi"}});
                }
                with_migrate(&mut pod, "1", "1Gi");
                added = LINKERD_MIGRATE_ADDS;
                (pod, "classic")
            }
            8..11 => (native.clone(), "native"),
            11 => (linkerd_native.clone(), "native"),
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
        let node = format!("node-{}", i % NODES);
        pod["spec"]["nodeName"] = json!(node);
        pod["status"] = json!({"phase": "Running", "podIP": format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)});
        items.push(pod);
        expected.push(ClusterObject {
            namespace: namespace.to_owned(),
            kind: "Pod",
            category,
            node: Some(node),
            added_requests: added,
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
                node: None,
                added_requests: &[],
            });
        }
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
    (list, expected)
}

/// A `migrate` init container after the mesh's own ones, which needs the mesh and asks for
/// more than the app containers.
fn with_migrate(pod: &mut Value, cpu: &str, memory: &str) {
    if let Some(init) = pod["spec"]["initContainers"].as_array_mut() {
        init.push(json!({
            "name": "migrate",
            "image": "shop/migrate:1.4",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}
        }));
    }
}

/// The kubelet version of an EKS-like node too old for native sidecars.
pub const EKS_OLD_KUBELET: &str = "v1.32.9-eks-a737599";

/// The name of [`eks_node`] `at`.
pub fn eks_node_name(at: usize) -> String {
    format!(
        "ip-10-0-{}-{}.eu-west-1.compute.internal",
        at / 250,
        at % 250
    )
}

/// Node `at` of an EKS-like cluster as `kubectl get nodes -o json` shows it (13 labels, 3
/// annotations), its kubelet on 1.33 or 1.34 (see [`EKS_OLD_KUBELET`] for an older one).
/// policy-server trims nodes to a policy's field masks but keeps `metadata` whole: the labels and
/// annotations below are most of what a policy that reads nodes receives per node. Its name is
/// [`eks_node_name`].
pub fn eks_node(at: usize) -> Value {
    let name = eks_node_name(at);
    let zone = ["eu-west-1a", "eu-west-1b", "eu-west-1c"][at % 3];
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": format!("10.0.{}.{}", at / 250, at % 250),
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"
            },
            "creationTimestamp": "2025-09-01T08:10:00Z",
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/instance-type": "m6i.large",
                "beta.kubernetes.io/os": "linux",
                "eks.amazonaws.com/capacityType": "ON_DEMAND",
                "eks.amazonaws.com/nodegroup": "general",
                "failure-domain.beta.kubernetes.io/region": "eu-west-1",
                "failure-domain.beta.kubernetes.io/zone": zone,
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m6i.large",
                "topology.kubernetes.io/region": "eu-west-1",
                "topology.kubernetes.io/zone": zone
            },
            "name": name,
            "resourceVersion": format!("{}", 1_000_000 + at),
            "uid": format!("8a1c2f3e-0000-4000-8000-{at:012}")
        },
        "spec": {"providerID": format!("aws:///{zone}/i-0{at:016x}")},
        "status": {
            "nodeInfo": {
                "architecture": "amd64",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.141-155.222.amzn2023.x86_64",
                "kubeletVersion": if at.is_multiple_of(2) { "v1.33.5-eks-3025e55" } else { "v1.34.1-eks-113cf36" },
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.8.20250818"
            }
        }
    })
}

/// The kubelet version of a node that runs native sidecars, and of one that does not.
pub const NEW_KUBELET: &str = "v1.34.1";
pub const OLD_KUBELET: &str = "v1.32.9";

/// What `kubectl get nodes -o json` prints for the generated cluster's [`NODES`] nodes: `node-0`
/// to `node-2` run kubelet v1.33.5, the others [`NEW_KUBELET`], except `node-{old}` at
/// [`OLD_KUBELET`].
pub fn cluster_nodes(old: Option<usize>) -> Value {
    let items: Vec<Value> = (0..NODES)
        .map(|i| {
            let version = match i {
                _ if Some(i) == old => OLD_KUBELET,
                0..3 => "v1.33.5",
                _ => NEW_KUBELET,
            };
            let name = format!("node-{i}");
            json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
                    "uid": format!("00000000-0000-4000-9000-{i:012}"),
                    "resourceVersion": (500 + i).to_string(),
                    "creationTimestamp": "2026-10-01T08:00:00Z"
                },
                "spec": {"podCIDR": format!("10.244.{i}.0/24")},
                "status": {
                    "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "nodeInfo": {
                        "architecture": "amd64",
                        "containerRuntimeVersion": "containerd://1.7.27",
                        "kernelVersion": "6.8.0-1021-aws",
                        "kubeProxyVersion": version,
                        "kubeletVersion": version,
                        "operatingSystem": "linux",
                        "osImage": "Ubuntu 24.04.2 LTS"
                    }
                }
            })
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
}

fn as_in_cluster(object: &mut Value, name: &str, namespace: &str, i: usize) {
    let metadata = &mut object["metadata"];
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(namespace);
    metadata["uid"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
    metadata["resourceVersion"] = json!((1000 + i).to_string());
    metadata["creationTimestamp"] = json!("2026-11-01T10:00:00Z");
}

/// A NodeList made to trip a reader that skips what it does not read: strings full of quotes,
/// backslashes, brackets, control characters and non-ASCII text (so escapes and bracket-like bytes
/// fall anywhere in a 64-byte block), values nested a few levels deep, fields in any order,
/// `null` or missing at every level the rule reads, and unusual kubelet versions. The same `seed`
/// gives the same list.
pub fn awkward_node_list(seed: u64) -> Value {
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let items: Vec<Value> = (0..random.below(12))
        .map(|_| awkward_node(&mut random))
        .collect();
    let mut list = vec![
        ("kind", json!("NodeList")),
        ("apiVersion", json!("v1")),
        ("metadata", json!({"resourceVersion": random.text(12)})),
        (
            "items",
            if random.below(12) == 0 {
                Value::Null
            } else {
                Value::Array(items)
            },
        ),
    ];
    random.shuffle(&mut list);
    object(list)
}

/// A kubelet version the rule may meet: new, old, with a distribution's suffix, or unreadable.
const AWKWARD_VERSIONS: &[&str] = &[
    "v1.33.5-eks-3025e55",
    "v1.34.1+k3s1",
    "v1.28.15-gke.1503000",
    "v1.32.9",
    "1.33.0",
    "v1.33",
    "v1.4294967296.0",
    "",
    "garbage",
    "v1.33\u{e9}",
    "v1.3\"3\\",
];

fn awkward_node(random: &mut Random) -> Value {
    let mut metadata = vec![
        ("labels", random.map(14)),
        ("annotations", random.map(4)),
        (
            "ownerReferences",
            json!([{"kind": random.text(8), "uid": random.text(36), "controller": true}]),
        ),
        ("generation", json!(random.below(1_000_000))),
        ("resourceVersion", json!(random.text(10))),
    ];
    match random.below(6) {
        0 => {}
        1 => metadata.push(("name", Value::Null)),
        _ => metadata.push(("name", json!(random.text(40)))),
    }
    random.shuffle(&mut metadata);
    let mut node_info = vec![
        ("kernelVersion", json!(random.text(30))),
        ("containerRuntimeVersion", json!("containerd://1.7.27")),
    ];
    match random.below(8) {
        0 => {}
        1 => node_info.push(("kubeletVersion", Value::Null)),
        2 => node_info.push(("kubeletVersion", json!(random.text(20)))),
        _ => {
            let version = AWKWARD_VERSIONS[random.below(AWKWARD_VERSIONS.len() as u64) as usize];
            node_info.push(("kubeletVersion", json!(version)));
        }
    }
    random.shuffle(&mut node_info);
    let mut status = vec![("conditions", json!([random.map(3), random.map(2)]))];
    match random.below(6) {
        0 => {}
        1 => status.push(("nodeInfo", Value::Null)),
        _ => status.push(("nodeInfo", object(node_info))),
    }
    random.shuffle(&mut status);
    let mut node = vec![
        ("apiVersion", json!("v1")),
        (
            "spec",
            json!({"taints": [random.map(2)], "unschedulable": random.below(2) == 0}),
        ),
    ];
    for (key, value) in [("metadata", object(metadata)), ("status", object(status))] {
        match random.below(8) {
            0 => {}
            1 => node.push((key, Value::Null)),
            _ => node.push((key, value)),
        }
    }
    random.shuffle(&mut node);
    object(node)
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

/// xorshift64: repeatable test data without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// Up to `longest` characters, most of them the ones a JSON reader must mind.
    fn text(&mut self, longest: u64) -> String {
        const CHARACTERS: &[char] = &[
            'a', 'z', '0', '.', '-', '/', ' ', '"', '\\', '{', '}', '[', ']', ',', ':', '\n', '\t',
            '\u{1}', '\u{7f}', 'é', '€', '𝄞',
        ];
        let length = self.below(longest + 1);
        (0..length)
            .map(|_| CHARACTERS[self.below(CHARACTERS.len() as u64) as usize])
            .collect()
    }

    /// Up to `entries` fields of text, some holding a list or an object of their own.
    fn map(&mut self, entries: u64) -> Value {
        let fields = (0..self.below(entries + 1))
            .map(|_| {
                let value = match self.below(5) {
                    0 => json!([self.text(6), {"x": [self.text(4)]}, 1.5e3, null]),
                    1 => json!({"{": self.text(20), "a": {"]": []}}),
                    _ => json!(self.text(70)),
                };
                (self.text(30), value)
            })
            .collect();
        Value::Object(fields)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for at in (1..items.len()).rev() {
            items.swap(at, self.below(at as u64 + 1) as usize);
        }
    }
}
