//! Properties of the core on generated pods and workloads of all eight kinds: the output is valid
//! for Kubernetes, only what the rules name changes, a second review changes nothing, proxies end
//! up in place, and validate mode accepts exactly what mutate mode leaves alone.
//!
//! Cases per property: `PROPTEST_CASES` (default 512 here).

mod support;

use native_sidecar_core::{Mode, Operation, Outcome, Settings, review};
use proptest::prelude::*;
use serde_json::Value;
use support::{
    ANY, Check, Sample, VALID, lossless, proxies_in_place, sample, valid_for_kubernetes, with_mode,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Generated pods are large: keep shrinking bounded so a failure is reported in seconds.
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

fn run(sample: &Sample, settings: &Settings, operation: Operation) -> (Value, Outcome) {
    let mut object = sample.object.clone();
    let outcome = review(sample.kind, operation, &mut object, settings);
    (object, outcome)
}

fn mutate(sample: &Sample) -> (Value, Outcome) {
    run(
        sample,
        &with_mode(&sample.settings, Mode::Mutate),
        Operation::Create,
    )
}

fn check(result: Check) -> Result<(), TestCaseError> {
    result.map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(config())]

    /// A valid object stays valid: names unique, nothing a regular init container may not have,
    /// `restartPolicy` only `Always` on init containers, a regular container left.
    #[test]
    fn output_is_valid_for_kubernetes(sample in sample(VALID)) {
        check(valid_for_kubernetes(sample.kind, &sample.object))?;
        let (output, outcome) = mutate(&sample);
        if outcome.rejection.is_none() {
            check(valid_for_kubernetes(sample.kind, &output))?;
        } else {
            prop_assert_eq!(&output, &sample.object, "a rejected object was edited");
        }
    }

    /// Every JSON path the rules do not name comes back unchanged, on any input.
    #[test]
    fn only_what_the_rules_name_changes(sample in sample(ANY)) {
        let (output, outcome) = mutate(&sample);
        if outcome.rejection.is_some() || !outcome.changed {
            prop_assert_eq!(&output, &sample.object, "unchanged or rejected, yet edited");
        } else {
            prop_assert_ne!(&output, &sample.object, "reported changed, yet identical");
            check(lossless(sample.kind, &sample.object, &output, &sample.settings))?;
        }
    }

    /// Reviewing the output again changes nothing and rejects nothing.
    #[test]
    fn review_is_idempotent(sample in sample(ANY)) {
        let (output, outcome) = mutate(&sample);
        if outcome.rejection.is_none() {
            let again = Sample { object: output.clone(), ..sample.clone() };
            let (twice, second) = mutate(&again);
            prop_assert_eq!(&second.rejection, &None);
            prop_assert!(!second.changed, "second review changed the object");
            prop_assert_eq!(twice, output);
            prop_assert!(second.findings.is_empty(), "{:?}", second.findings);
        }
    }

    /// Every native proxy sits after its setup containers and before every dependent init container.
    #[test]
    fn proxies_end_up_in_place(sample in sample(ANY)) {
        let (output, outcome) = mutate(&sample);
        if outcome.rejection.is_none() {
            check(proxies_in_place(sample.kind, &output, &sample.settings))?;
        }
    }

    /// Validate mode accepts exactly the objects mutate mode leaves alone (apart from the Pod
    /// pre-injection annotation), rejects what mutate rejects, and accepts mutate's outputs.
    #[test]
    fn validate_accepts_exactly_the_outputs_of_mutate(sample in sample(ANY), update in any::<bool>()) {
        let operation = if update { Operation::Update } else { Operation::Create };
        let validate = with_mode(&sample.settings, Mode::Validate);
        // Without the pre-injection request, a change can only come from a proxy.
        let proxy_only = Settings {
            mode: Mode::Mutate,
            request_native_injection: false,
            ..sample.settings.clone()
        };
        let (mutated, by_proxy) = run(&sample, &proxy_only, operation);
        let (untouched, verdict) = run(&sample, &validate, operation);
        prop_assert_eq!(&untouched, &sample.object, "validate mode edited the object");
        prop_assert!(!verdict.changed);
        match &by_proxy.rejection {
            Some(message) => prop_assert_eq!(verdict.rejection.as_ref(), Some(message)),
            None => {
                prop_assert_eq!(
                    verdict.rejection.is_some(),
                    by_proxy.changed,
                    "validate verdict {:?} but mutate changed={}",
                    verdict.rejection,
                    by_proxy.changed
                );
                prop_assert_eq!(verdict.findings.is_empty(), !by_proxy.changed);
                let again = Sample { object: mutated, ..sample.clone() };
                let (_, on_output) = run(&again, &validate, operation);
                prop_assert_eq!(on_output.rejection, None, "validate rejects mutate's output");
            }
        }
        // The pre-injection request changes nothing validate mode looks at.
        let (_, full) = run(&sample, &with_mode(&sample.settings, Mode::Mutate), operation);
        prop_assert_eq!(full.rejection, by_proxy.rejection);
        prop_assert_eq!(full.findings, by_proxy.findings);
    }
}

/// The properties above only mean something if the generator reaches every rule: count what the
/// generated samples exercise and require each outcome to be common enough.
#[test]
fn generated_samples_reach_every_rule() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;

    let mut runner = TestRunner::deterministic();
    let strategy = sample(ANY);
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let total = 1000;
    for _ in 0..total {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            panic!("the generator failed");
        };
        let sample = tree.current();
        let (output, outcome) = mutate(&sample);
        let mut count = |what: &str| *seen.entry(what.to_owned()).or_default() += 1;
        count(&format!("kind {:?}", sample.kind));
        let in_containers = |object: &Value, proxy: &str| {
            support::list(sample.kind, object, "containers")
                .iter()
                .any(|c| support::name(c) == Some(proxy))
        };
        let classic = in_containers(&sample.object, support::ISTIO_PROXY);
        let classic_linkerd = in_containers(&sample.object, support::LINKERD_PROXY);
        let classic_kuma = in_containers(&sample.object, support::KUMA_PROXY);
        let classic_consul = in_containers(&sample.object, support::CONSUL_PROXY);
        if outcome
            .warnings
            .iter()
            .any(|w| w.contains("\"consul-dataplane\" stays classic"))
        {
            count("consul dataplane kept classic");
        }
        if outcome
            .rejection
            .as_deref()
            .is_some_and(|r| r.contains("reserves for Kuma's probes"))
        {
            count("kuma refused a probe on its own port");
        }
        match (&outcome.rejection, outcome.changed) {
            (Some(_), _) => count("rejected"),
            (None, true) => count("changed"),
            (None, false) => count("untouched"),
        }
        if outcome.rejection.is_none() && outcome.changed {
            let converted = classic && !in_containers(&output, support::ISTIO_PROXY);
            let converted_linkerd =
                classic_linkerd && !in_containers(&output, support::LINKERD_PROXY);
            let converted_kuma = classic_kuma && !in_containers(&output, support::KUMA_PROXY);
            let converted_consul = classic_consul && !in_containers(&output, support::CONSUL_PROXY);
            if converted_consul {
                count("consul dataplane converted");
            }
            if converted_kuma {
                count("kuma proxy converted");
                let init =
                    |object: &Value| support::list(sample.kind, object, "initContainers").to_vec();
                let (before, after) = (init(&sample.object), init(&output));
                let routed = after.iter().any(|c| {
                    c.get("restartPolicy") == Some(&serde_json::json!("Always"))
                        && !before.contains(c)
                        && support::name(c) != Some(support::KUMA_PROXY)
                });
                if routed {
                    count("kuma routed a user sidecar's probe");
                }
            }
            if converted_linkerd {
                count("linkerd proxy converted");
                let probed = support::list(sample.kind, &output, "initContainers")
                    .iter()
                    .any(|c| {
                        support::name(c) == Some(support::LINKERD_PROXY)
                            && c.get("startupProbe").is_some()
                            && c.get("lifecycle").is_none()
                    });
                if probed {
                    count("linkerd await became a startup probe");
                }
            }
            if converted {
                count("istio proxy converted");
            } else if converted_linkerd || converted_kuma || converted_consul {
            } else if outcome.findings.iter().all(|f| f.list == "initContainers")
                && !outcome.findings.is_empty()
            {
                count("reordered only");
            }
            if sample.settings.extra_sidecars.iter().any(|rule| {
                outcome
                    .expected_init_order
                    .iter()
                    .any(|name| name == &rule.name)
            }) {
                count("declared sidecar placed");
            }
        }
        if outcome
            .warnings
            .iter()
            .any(|w| w.starts_with("sidecar.istio.io/nativeSidecar"))
        {
            count("opt-out warning");
        }
        if outcome.rejection.is_none() && !outcome.changed && classic {
            count("classic proxy left alone (gateway or opt-out)");
        }
    }
    eprintln!("outcomes of {total} generated samples: {seen:#?}");
    let floor = |what: &str, at_least: u32| {
        let got = seen.get(what).copied().unwrap_or_default();
        assert!(
            got >= at_least,
            "only {got} of {total} samples: {what}; all: {seen:#?}"
        );
    };
    for kind in native_sidecar_core::ALL_KINDS {
        floor(&format!("kind {kind:?}"), 60);
    }
    floor("rejected", 50);
    floor("changed", 200);
    floor("untouched", 100);
    // Four meshes share the samples: each mesh's own outcomes are rarer than with two.
    floor("istio proxy converted", 80);
    floor("linkerd proxy converted", 12);
    floor("linkerd await became a startup probe", 6);
    floor("kuma proxy converted", 40);
    floor("kuma routed a user sidecar's probe", 25);
    floor("kuma refused a probe on its own port", 2);
    floor("consul dataplane converted", 30);
    floor("consul dataplane kept classic", 10);
    floor("reordered only", 30);
    floor("declared sidecar placed", 50);
    floor("opt-out warning", 30);
    floor("classic proxy left alone (gateway or opt-out)", 30);
}
