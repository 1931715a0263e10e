//! The requests `make bench` measures, shared with the core's criterion benchmark
//! (`crates/core/benches/core.rs` includes this file), so both report on the same inputs.
//! Only `serde_json` and `std`: it is compiled into both crates.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// One request to measure: `request` is the AdmissionRequest, `settings` the policy's settings.
pub struct Case {
    pub name: String,
    pub request: Value,
    pub settings: Value,
    /// Containers in the pod, for the cases that show how cost grows with them.
    pub containers: Option<usize>,
}

/// How many app containers the synthetic pods hold (each also holds the proxy and `istio-init`).
pub const SYNTHETIC_SIZES: [usize; 4] = [1, 10, 100, 1000];

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
        });
    }
    let largest = SYNTHETIC_SIZES[SYNTHETIC_SIZES.len() - 1];
    cases.push(Case {
        name: format!("Pod, {largest} app containers + proxy, onResourceIncrease: ignore"),
        request: synthetic(&classic, largest)?,
        settings: json!({"onResourceIncrease": "ignore"}),
        containers: None,
    });
    Ok(cases)
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
