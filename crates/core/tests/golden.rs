//! Each mesh's classic output must become the same mesh's native output for the same workload, and
//! native output must come back untouched.

use native_sidecar_core::{Settings, review_manifest};
use native_sidecar_testdata::{Pair, all_pairs, istio_pairs, kuma_pairs, linkerd_pairs, root};
use serde_json::Value;

fn convert(manifest: &Value, settings: &Value) -> (Value, bool) {
    let settings = Settings::from_json(settings).expect("valid settings");
    let mut object = manifest.clone();
    let outcome = review_manifest(&mut object, &settings).expect("a pod-bearing kind");
    assert_eq!(outcome.rejection, None);
    (object, outcome.changed)
}

fn check_pair(pair: &Pair) {
    let (converted, changed) = convert(&pair.before, &pair.settings);
    assert!(changed, "{}: classic input reported unchanged", pair.name);
    assert_eq!(
        converted,
        pair.after,
        "{}: conversion differs from the mesh's native output:\n{}",
        pair.name,
        serde_yaml::to_string(&converted).unwrap_or_default()
    );
    let (again, changed) = convert(&pair.after, &pair.settings);
    assert!(!changed, "{}: native output reported changed", pair.name);
    assert_eq!(again, pair.after, "{}: native output was edited", pair.name);
}

#[test]
fn istio_goldens_cover_the_shared_fixtures() {
    let names: Vec<String> = istio_pairs().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["daemonset", "hello", "job", "pod", "replicaset"]);
}

#[test]
fn linkerd_goldens_cover_the_shared_fixtures() {
    let names: Vec<String> = linkerd_pairs().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["emojivoto-deployment", "emojivoto-pod"]);
}

#[test]
fn kuma_goldens_cover_the_shared_fixtures() {
    let names: Vec<String> = kuma_pairs().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["pod-01", "pod-02"]);
}

/// Kuma's startup probe timings come from the settings: with kuma-cp's defaults instead of the
/// configuration the fixtures were rendered with, the conversion is not Kuma's output.
#[test]
fn kuma_goldens_need_their_control_planes_timings() {
    for pair in kuma_pairs() {
        let (converted, _) = convert(&pair.before, &Value::Null);
        assert_ne!(converted, pair.after, "{}", pair.name);
        let probe = |object: &Value| {
            object
                .pointer("/spec/initContainers/1/startupProbe")
                .cloned()
        };
        assert_eq!(
            probe(&converted),
            Some(
                serde_json::json!({"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 12})
            )
        );
        let mut expected = pair.after.clone();
        expected["spec"]["initContainers"][1]["startupProbe"] =
            probe(&converted).unwrap_or_default();
        assert_eq!(converted, expected, "{}", pair.name);
    }
}

/// `test_data/{istio,linkerd,kuma}` are copies of the shared fixtures, so that the repository
/// tests alone; when the shared folder is beside it, the copies must not have drifted.
#[test]
fn golden_copies_match_the_shared_fixtures() {
    let shared = root().join("../../shared/fixtures");
    if !shared.is_dir() {
        eprintln!("{} not found: copies not compared", shared.display());
        return;
    }
    for mesh in ["istio", "linkerd", "kuma"] {
        for entry in std::fs::read_dir(shared.join(mesh)).expect("a fixtures folder") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().expect("a file name");
            let copy = root().join(mesh).join(name);
            assert_eq!(
                std::fs::read(&copy).ok(),
                std::fs::read(&path).ok(),
                "{} differs from {}",
                copy.display(),
                path.display()
            );
        }
    }
}

#[test]
fn every_pair_converts_exactly_and_stays_put() {
    let pairs = all_pairs();
    assert!(pairs.len() >= 44, "only {} pairs found", pairs.len());
    for pair in &pairs {
        check_pair(pair);
    }
}

/// Conversion output must be a valid object for k8s-openapi's schema of the kind.
#[test]
fn outputs_parse_as_kubernetes_objects() {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    for pair in all_pairs() {
        let (converted, _) = convert(&pair.before, &pair.settings);
        let kind = converted["kind"].as_str().unwrap_or_default().to_owned();
        let parsed = match kind.as_str() {
            "Pod" => serde_json::from_value::<core::Pod>(converted).map(|_| ()),
            "Deployment" => serde_json::from_value::<apps::Deployment>(converted).map(|_| ()),
            "DaemonSet" => serde_json::from_value::<apps::DaemonSet>(converted).map(|_| ()),
            "ReplicaSet" => serde_json::from_value::<apps::ReplicaSet>(converted).map(|_| ()),
            "StatefulSet" => serde_json::from_value::<apps::StatefulSet>(converted).map(|_| ()),
            "Job" => serde_json::from_value::<batch::Job>(converted).map(|_| ()),
            "CronJob" => serde_json::from_value::<batch::CronJob>(converted).map(|_| ()),
            "ReplicationController" => {
                serde_json::from_value::<core::ReplicationController>(converted).map(|_| ())
            }
            other => panic!("{}: unexpected kind {other}", pair.name),
        };
        assert!(parsed.is_ok(), "{}: {:?}", pair.name, parsed.err());
    }
}
