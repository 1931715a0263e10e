//! Each mesh's classic output must become the same mesh's native output for the same workload, and
//! native output must come back untouched.

use native_sidecar_core::{Settings, review_manifest};
use native_sidecar_testdata::{
    Pair, all_pairs, cases, consul_pairs, istio_pairs, kuma_pairs, linkerd_pairs, root,
};
use rstest::rstest;
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

#[rstest]
#[case::istio(istio_pairs(), &["daemonset", "hello", "job", "pod", "replicaset"])]
#[case::linkerd(linkerd_pairs(), &["emojivoto-deployment", "emojivoto-pod"])]
#[case::kuma(kuma_pairs(), &["pod-01", "pod-02"])]
#[case::consul(consul_pairs(), &["multiport", "single"])]
fn goldens_cover_the_shared_fixtures(#[case] pairs: Vec<Pair>, #[case] expected: &[&str]) {
    let names: Vec<String> = pairs.into_iter().map(|p| p.name).collect();
    assert_eq!(names, expected);
}

/// The cases rendered from consul-k8s's webhook rules (`test_data/cases/consul-*.yaml`): every one
/// converts exactly, and they cover what the issue lists.
#[test]
fn consul_cases_convert_exactly() {
    let consul: Vec<Pair> = cases()
        .into_iter()
        .filter(|p| p.name.starts_with("consul-"))
        .collect();
    let converted = consul
        .iter()
        .filter(|pair| convert(&pair.before, &pair.settings).0 == pair.after)
        .count();
    println!(
        "Consul cases converted exactly: {converted} of {}",
        consul.len()
    );
    assert_eq!(consul.len(), 26);
    for pair in &consul {
        check_pair(pair);
    }
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

/// `test_data/{istio,linkerd,kuma,consul}` are copies of the shared fixtures, so that the repository
/// tests alone; when the shared folder is beside it, the copies must not have drifted.
#[test]
fn golden_copies_match_the_shared_fixtures() {
    let shared = root().join("../../shared/fixtures");
    if !shared.is_dir() {
        eprintln!("{} not found: copies not compared", shared.display());
        return;
    }
    for mesh in ["istio", "linkerd", "kuma", "consul"] {
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
    assert!(pairs.len() >= 72, "only {} pairs found", pairs.len());
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

/// The pod of every Pod pair, as the template of each workload kind: the template converts to
/// the native pod, and the native template stays put.
#[rstest]
#[case::deployment("apps/v1", "Deployment", "/spec/template")]
#[case::daemon_set("apps/v1", "DaemonSet", "/spec/template")]
#[case::replica_set("apps/v1", "ReplicaSet", "/spec/template")]
#[case::stateful_set("apps/v1", "StatefulSet", "/spec/template")]
#[case::job("batch/v1", "Job", "/spec/template")]
#[case::cron_job("batch/v1", "CronJob", "/spec/jobTemplate/spec/template")]
#[case::replication_controller("v1", "ReplicationController", "/spec/template")]
fn pod_pairs_convert_as_every_workload_kinds_template(
    #[case] api_version: &str,
    #[case] kind: &str,
    #[case] template: &str,
) {
    let wrap = |pod: &Value| {
        let mut object = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "w", "namespace": "default"}});
        let mut parts = template.trim_start_matches('/').split('/').peekable();
        let mut slot = &mut object;
        while let Some(part) = parts.next() {
            slot = &mut slot[part];
            if parts.peek().is_none() {
                *slot = serde_json::json!({"metadata": pod["metadata"], "spec": pod["spec"]});
            }
        }
        object
    };
    let pods: Vec<Pair> = all_pairs()
        .into_iter()
        .filter(|pair| pair.before["kind"] == "Pod")
        .collect();
    assert!(
        pods.iter()
            .any(|pair| pair.before.to_string().contains("\"kuma-sidecar\"")),
        "no Kuma Pod pair among {:?}",
        pods.iter().map(|pair| &pair.name).collect::<Vec<_>>()
    );
    for pair in pods {
        check_pair(&Pair {
            name: format!("{} as a {kind}", pair.name),
            before: wrap(&pair.before),
            after: wrap(&pair.after),
            settings: pair.settings.clone(),
        });
    }
}
