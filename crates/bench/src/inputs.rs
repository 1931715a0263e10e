//! The requests `make bench` measures, shared with the core's criterion benchmark
//! (`crates/core/benches/core.rs` includes this file), so both report on the same inputs.
//! Only `serde_json`, `std` and the test data crate: it is compiled into both crates.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// One request to measure: `request` is the AdmissionRequest, `settings` the policy's settings.
pub struct Case {
    pub name: String,
    pub request: Value,
    pub settings: Value,
    /// Containers in the pod, for the cases that show how cost grows with them.
    pub containers: Option<usize>,
    /// Nodes in the host's answer to the node list, for the cases with `checkNodes` on.
    pub nodes: Option<usize>,
}

/// How many app containers the synthetic pods hold (each also holds the proxy and `istio-init`).
pub const SYNTHETIC_SIZES: [usize; 4] = [1, 10, 100, 1000];

/// How many nodes the host answers with in the `checkNodes` cases.
pub const NODE_COUNTS: [usize; 3] = [1, 100, 5000];

/// The case the `checkNodes` cases add the node check to.
pub const NODE_BASE_CASE: &str = "hello Deployment (classic to native)";

fn requests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/requests")
}

pub fn load(file: &str) -> Result<Value, String> {
    let path = requests_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// The named cases, then the synthetic pods.
pub fn cases() -> Result<Vec<Case>, String> {
    let case = |name: &str, file: &str, settings: Value| -> Result<Case, String> {
        Ok(Case {
            name: name.to_owned(),
            request: load(file)?,
            settings,
            containers: None,
            nodes: None,
        })
    };
    let mut cases = vec![
        case("native Pod (no change)", "istio-pod-native.json", json!({}))?,
        case(
            "hello Deployment (classic to native)",
            "istio-hello-classic.json",
            json!({}),
        )?,
        // The same without the effective-resources accounting: its cost is the difference.
        case(
            "hello Deployment, onResourceIncrease: ignore",
            "istio-hello-classic.json",
            json!({"onResourceIncrease": "ignore"}),
        )?,
        case(
            "Linkerd emojivoto Deployment (classic to native)",
            "linkerd-emojivoto-deployment-classic.json",
            json!({}),
        )?,
        // With the timings of the control plane the fixture was rendered with.
        case(
            "Kuma Pod (classic to native)",
            "kuma-pod-02-classic.json",
            json!({"kuma": {"startupProbe": {"initialDelaySeconds": 261, "timeoutSeconds": 24, "periodSeconds": 26, "failureThreshold": 213}}}),
        )?,
        case(
            "Pod without proxy (pre-injection)",
            "pod-uninjected.json",
            json!({}),
        )?,
        case(
            "validate mode (native hello)",
            "istio-hello-native.json",
            json!({"mode": "validate"}),
        )?,
    ];
    let classic = load("istio-pod-classic.json")?;
    for size in SYNTHETIC_SIZES {
        cases.push(Case {
            name: format!(
                "Pod, {size} app container{} + proxy",
                if size == 1 { "" } else { "s" }
            ),
            request: synthetic(&classic, size)?,
            settings: json!({}),
            containers: Some(size),
            nodes: None,
        });
    }
    let hello = load("istio-hello-classic.json")?;
    for count in NODE_COUNTS {
        cases.push(Case {
            name: format!(
                "hello Deployment, checkNodes, {count} node{}",
                if count == 1 { "" } else { "s" }
            ),
            request: hello.clone(),
            settings: json!({"checkNodes": true}),
            containers: None,
            nodes: Some(count),
        });
    }
    let largest = SYNTHETIC_SIZES[SYNTHETIC_SIZES.len() - 1];
    cases.push(Case {
        name: format!("Pod, {largest} app containers + proxy, onResourceIncrease: ignore"),
        request: synthetic(&classic, largest)?,
        settings: json!({"onResourceIncrease": "ignore"}),
        containers: None,
        nodes: None,
    });
    Ok(cases)
}

/// Node `at` of an EKS-like cluster, every kubelet 1.33 or later (so the policy converts, as in
/// the case without the check): the same nodes the stub Kubernetes API serves policy-server.
pub fn node(at: usize) -> Value {
    native_sidecar_testdata::eks_node(at)
}

/// The classic Istio Pod with its app container repeated `apps` times (distinct names), so the
/// conversion work grows with the pod while the proxy and its setup stay the same.
pub fn synthetic(classic: &Value, apps: usize) -> Result<Value, String> {
    let mut request = classic.clone();
    let containers = request
        .pointer_mut("/object/spec/containers")
        .and_then(Value::as_array_mut)
        .ok_or("istio-pod-classic.json has no containers")?;
    let (proxies, apps_found): (Vec<Value>, Vec<Value>) = containers
        .drain(..)
        .partition(|c| c["name"] == "istio-proxy");
    let app = apps_found
        .first()
        .ok_or("istio-pod-classic.json has no app container")?;
    for i in 0..apps {
        let mut copy = app.clone();
        copy["name"] = json!(format!("app-{i}"));
        containers.push(copy);
    }
    containers.extend(proxies);
    Ok(request)
}
