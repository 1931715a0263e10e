//! Consul's rules on the pods consul-k8s renders (`test_data/consul/inputs`, each file's header
//! says what the policy must do): images that stay classic, opt-outs, gateways, refusals, native
//! pods read back from the API server, and the native request before injection.

use native_sidecar_core::{Kind, Operation, Outcome, Settings, review};
use native_sidecar_testdata::{cases, consul_pairs, documents, root};
use rstest::rstest;
use serde_json::{Value, json};

fn input(name: &str) -> Vec<Value> {
    documents(&root().join("consul/inputs").join(format!("{name}.yaml")))
}

fn settings(value: Value) -> Settings {
    Settings::from_json(&value).expect("valid settings")
}

fn run(object: &Value, settings: &Settings, operation: Operation) -> (Value, Outcome) {
    let mut object = object.clone();
    let outcome = review(Kind::Pod, operation, &mut object, settings);
    (object, outcome)
}

const OVERRIDE: &str =
    "or set the policy's consul: {dataplaneSupportsNative: true} if this image has the check";

#[rstest]
#[case::v1_5_9(
    "consul-old-dataplane-1.5.9",
    "\"hashicorp/consul-dataplane:1.5.9\" predates consul-dataplane's -check-proxy-health, which Consul's native startupProbe runs (no release of that line has it; 1.9.0 and later do)"
)]
#[case::v1_6_8("consul-old-dataplane-1.6.8", "(1.6.x has it from 1.6.9)")]
#[case::v1_7_4("consul-old-dataplane-1.7.4", "(1.7.x has it from 1.7.5)")]
#[case::v1_8_1("consul-old-dataplane-1.8.1", "(1.8.x has it from 1.8.2)")]
#[case::asked_native_old_injector(
    "consul-asked-native-old-injector",
    "predates consul-dataplane's -check-proxy-health"
)]
#[case::digest("consul-digest", "its image \"hashicorp/consul-dataplane@sha256:")]
#[case::latest(
    "consul-latest",
    "\"hashicorp/consul-dataplane:latest\" names no consul-dataplane version"
)]
#[case::no_tag(
    "consul-no-tag",
    "\"hashicorp/consul-dataplane\" names no consul-dataplane version"
)]
#[case::preview(
    "consul-preview-dev",
    "\"docker.mirror.hashicorp.services/hashicorppreview/consul-dataplane:2.0-dev\" names no consul-dataplane version"
)]
fn old_or_unreadable_images_stay_classic_unless_the_settings_vouch(
    #[case] name: &str,
    #[case] reason: &str,
) {
    for before in input(name) {
        let (after, outcome) = run(&before, &Settings::default(), Operation::Create);
        assert_eq!(outcome.rejection, None);
        assert!(!outcome.changed && after == before, "{name} was changed");
        assert!(!outcome.opted_out);
        let [warning] = outcome.warnings.as_slice() else {
            panic!("{name}: {:?}", outcome.warnings);
        };
        assert!(
            warning.starts_with("spec.containers[0] \"consul-dataplane\" stays classic: "),
            "{warning}"
        );
        assert!(warning.contains(reason), "{warning}");
        assert!(warning.ends_with(OVERRIDE), "{warning}");
        // Validate mode accepts what mutate mode leaves alone.
        let (_, validated) = run(
            &before,
            &settings(json!({"mode": "validate"})),
            Operation::Create,
        );
        assert_eq!(validated.rejection, None);
        // With the override the dataplane goes native like any other.
        let vouched = settings(json!({"consul": {"dataplaneSupportsNative": true}}));
        let (after, outcome) = run(&before, &vouched, Operation::Create);
        assert!(
            outcome.changed && outcome.warnings.is_empty(),
            "{name}: {outcome:?}"
        );
        assert_eq!(
            after["spec"]["initContainers"][1]["name"],
            "consul-dataplane"
        );
        assert_eq!(
            after["spec"]["initContainers"][1]["restartPolicy"],
            "Always"
        );
    }
}

/// Tags the version check reads as new enough: a pre-release of 1.9.0, a tag with a digest, and a
/// registry that does not name the image.
#[rstest]
#[case::rc("consul-old-dataplane-1.9.0-rc1")]
#[case::tag_and_digest("consul-tag-and-digest")]
#[case::redhat("consul-redhat-registry")]
fn readable_new_images_convert(#[case] name: &str) {
    for before in input(name) {
        let (after, outcome) = run(&before, &Settings::default(), Operation::Create);
        assert!(outcome.changed, "{name}: {outcome:?}");
        assert_eq!(outcome.warnings, Vec::<String>::new());
        let dataplane = &after["spec"]["initContainers"][1];
        assert_eq!(dataplane["name"], "consul-dataplane");
        assert_eq!(
            dataplane["startupProbe"],
            json!({"exec": {"command": ["/usr/local/bin/consul-dataplane", "-check-proxy-health"]}, "initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 1, "failureThreshold": 10})
        );
        let (again, outcome) = run(&after, &Settings::default(), Operation::Create);
        assert!(
            !outcome.changed && again == after,
            "{name} is not idempotent"
        );
    }
}

#[rstest]
#[case::false_("consul-opt-out-false")]
#[case::zero("consul-opt-out-0")]
#[case::f("consul-opt-out-F")]
fn opt_out_keeps_the_dataplane_classic(#[case] name: &str) {
    for before in input(name) {
        let (after, outcome) = run(&before, &Settings::default(), Operation::Create);
        assert!(!outcome.changed && after == before);
        assert!(outcome.opted_out);
        assert_eq!(
            outcome.warnings,
            [
                "consul.hashicorp.com/enable-consul-dataplane-as-sidecar: \"false\" leaves consul-dataplane as Consul renders it in classic mode; remove the annotation to run the proxy as a native sidecar"
            ]
        );
        let (_, validated) = run(
            &before,
            &settings(json!({"mode": "validate"})),
            Operation::Create,
        );
        assert_eq!(validated.rejection, None);
    }
}

#[test]
fn a_native_switch_consul_cannot_read_keeps_the_dataplane_classic() {
    for before in input("consul-native-annotation-invalid") {
        let (after, outcome) = run(&before, &Settings::default(), Operation::Create);
        assert!(!outcome.changed && after == before);
        assert_eq!(
            outcome.warnings,
            [
                "spec.containers[0] \"consul-dataplane\" stays classic: consul.hashicorp.com/enable-consul-dataplane-as-sidecar is \"yes\", which consul-k8s does not accept (it reads 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False); set it to \"true\" to run the dataplane as a native sidecar"
            ]
        );
    }
}

#[test]
fn a_probe_timing_beyond_int32_keeps_the_dataplane_classic() {
    let mut before = input("consul-latest").remove(0);
    before["spec"]["containers"][0]["image"] = json!("hashicorp/consul-dataplane:1.9.0");
    before["metadata"]["annotations"]["consul.hashicorp.com/sidecar-probe-period-seconds"] =
        json!("4294967297");
    let (after, outcome) = run(&before, &Settings::default(), Operation::Create);
    assert!(!outcome.changed && after == before);
    assert_eq!(
        outcome.warnings,
        [
            "spec.containers[0] \"consul-dataplane\" stays classic: consul.hashicorp.com/sidecar-probe-period-seconds is \"4294967297\", beyond the probe's 2147483647, which consul-k8s would wrap into another number; give it a smaller value"
        ]
    );
}

/// Gateways, the Helm telemetry collector and native pods as the API server hands them back
/// (probes defaulted, or a period of 0 that Consul omitted and the API server filled in).
#[rstest]
#[case::api_gateway("consul-api-gateway")]
#[case::mesh_gateway("consul-mesh-gateway")]
#[case::telemetry_collector("consul-telemetry-collector")]
#[case::native_defaulted("consul-native-defaulted")]
#[case::native_defaulted_probe_zero("consul-native-defaulted-probe-zero")]
fn leaves_alone(#[case] name: &str) {
    for before in input(name) {
        for mode in ["mutate", "validate"] {
            let (after, outcome) =
                run(&before, &settings(json!({"mode": mode})), Operation::Create);
            assert_eq!(outcome.rejection, None, "{name} in {mode} mode");
            assert!(!outcome.changed && after == before, "{name} in {mode} mode");
            assert_eq!(outcome.warnings, Vec::<String>::new(), "{name}");
        }
    }
}

#[rstest]
#[case::only_container(
    "consul-dataplane-only",
    "spec.containers[0] \"consul-dataplane\" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation consul.hashicorp.com/enable-consul-dataplane-as-sidecar: \"false\""
)]
#[case::init_named_like_it(
    "consul-init-named-like-dataplane",
    "spec.initContainers already has a container named \"consul-dataplane\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
)]
#[case::two_dataplanes(
    "consul-two-dataplanes",
    "spec.initContainers already has a container named \"consul-dataplane\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"
)]
#[case::restart_policy_rules(
    "consul-restart-policy-rules",
    "spec.containers[0] \"consul-dataplane\" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or keep it classic with the pod annotation consul.hashicorp.com/enable-consul-dataplane-as-sidecar: \"false\""
)]
fn refuses_what_would_break(#[case] name: &str, #[case] message: &str) {
    for before in input(name) {
        for mode in ["mutate", "validate"] {
            let (after, outcome) =
                run(&before, &settings(json!({"mode": mode})), Operation::Create);
            assert_eq!(
                outcome.rejection.as_deref(),
                Some(message),
                "{name} in {mode} mode"
            );
            assert!(after == before);
        }
    }
}

#[test]
fn asks_consul_for_native_injection() {
    let consul_only = settings(json!({"meshes": ["consul"]}));
    for defaults in [Settings::default(), consul_only] {
        for before in input("consul-request-native") {
            let (after, outcome) = run(&before, &defaults, Operation::Create);
            let mut expected = before.clone();
            expected["metadata"]["annotations"]["consul.hashicorp.com/enable-consul-dataplane-as-sidecar"] =
                json!("true");
            assert!(outcome.changed);
            assert_eq!(after, expected);
            // Pods only, on creation.
            let (_, updated) = run(&before, &defaults, Operation::Update);
            assert!(!updated.changed);
        }
    }
}

/// `consul-request-none.yaml`'s pods with Consul as the only mesh: opted out, a `connect-inject`
/// Consul's webhook cannot read, no `connect-inject` (consul-k8s injects it only when Helm's
/// `connectInject.default` is true, which the pod cannot show), the switch already set (empty
/// too), a gateway, injected already, Consul's own: none is asked.
#[test]
fn leaves_pods_that_chose_or_that_consul_skips() {
    let consul_only = settings(json!({"meshes": ["consul"]}));
    let pods = input("consul-request-none");
    assert_eq!(pods.len(), 8);
    for (at, before) in pods.into_iter().enumerate() {
        let (after, outcome) = run(&before, &consul_only, Operation::Create);
        assert_eq!(outcome.warnings, Vec::<String>::new(), "pod {at}");
        assert!(!outcome.changed && after == before, "pod {at} was changed");
    }
}

/// Validate mode rejects exactly what mutate mode changes, on every Consul pair and input.
#[test]
fn validate_mode_rejects_exactly_what_mutate_mode_changes() {
    let mut objects: Vec<(String, Value, Value)> = Vec::new();
    for pair in consul_pairs().into_iter().chain(
        cases()
            .into_iter()
            .filter(|p| p.name.starts_with("consul-")),
    ) {
        objects.push((
            format!("{} (classic)", pair.name),
            pair.before,
            pair.settings.clone(),
        ));
        objects.push((format!("{} (native)", pair.name), pair.after, pair.settings));
    }
    let dir = root().join("consul/inputs");
    for entry in std::fs::read_dir(&dir).expect("inputs") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for (at, doc) in documents(&path).into_iter().enumerate() {
            objects.push((format!("{} #{at}", path.display()), doc, Value::Null));
        }
    }
    let mut changed = 0;
    for (name, object, base) in &objects {
        let Some(kind) = Kind::from_object(object) else {
            panic!("{name}: no kind");
        };
        let mut mutate = settings(base.clone());
        mutate.request_native_injection = false;
        let mut validate = mutate.clone();
        validate.mode = native_sidecar_core::Mode::Validate;
        let (mut m, mut v) = (object.clone(), object.clone());
        let mutated = review(kind, Operation::Create, &mut m, &mutate);
        let validated = review(kind, Operation::Create, &mut v, &validate);
        assert_eq!(v, *object, "{name}: validate mode edited the object");
        if mutated.rejection.is_some() {
            assert_eq!(validated.rejection, mutated.rejection, "{name}");
        } else {
            assert_eq!(
                validated.rejection.is_some(),
                mutated.changed,
                "{name}: {validated:?}"
            );
            changed += usize::from(mutated.changed);
        }
    }
    assert!(changed >= 28, "only {changed} objects converted");
}

#[test]
fn validate_mode_names_the_misplaced_dataplane() {
    let pair = cases()
        .into_iter()
        .find(|p| p.name == "consul-misplaced-multiport")
        .expect("the case");
    let mut object = pair.before.clone();
    let outcome = review(
        Kind::Pod,
        Operation::Create,
        &mut object,
        &settings(json!({"mode": "validate"})),
    );
    assert_eq!(
        outcome.rejection.as_deref(),
        Some(
            "spec: consul-dataplane-api, consul-dataplane-api-admin must run as native sidecars that start after their setup containers, right after them. Wrong place: consul-dataplane-api (initContainers[3]) must start right after consul-connect-inject-init-api, which sets it up. Expected initContainers order: consul-connect-inject-init-api, consul-dataplane-api, consul-connect-inject-init-api-admin, consul-dataplane-api-admin"
        )
    );
    assert_eq!(outcome.findings[0].code(), "notAfterSetup");
    assert_eq!(outcome.findings[0].proxy(), "consul-dataplane-api");
}
