//! Regression tests for bugs found by the property tests and the fuzzers, each with the minimized
//! input that found it.

use native_sidecar_core::{Settings, review_manifest};
use serde_json::{Value, json};

/// Found by the policy's property tests: a float in a field no rule names (here an unknown field
/// of a container) came back as 950757.7065291743, one ulp off, because serde_json's default float
/// parser is not correctly rounded. The host diffs the object it sent against the one returned, so
/// the policy would have emitted a patch changing the user's number. serde_json's
/// `float_roundtrip` feature, enabled by the core for every crate that links it, fixes that.
#[test]
fn floats_survive_a_json_round_trip() {
    for text in [
        "950757.7065291745",
        "903634.6183041825",
        "0.30000000000000004",
        "-1.7976931348623157e308",
        "5e-324",
    ] {
        let value: Value = serde_json::from_str(text).expect("a JSON number");
        let again: Value =
            serde_json::from_str(&value.to_string()).expect("serde_json writes JSON numbers");
        assert_eq!(value, again, "{text} became {value}");
        assert_eq!(
            value.as_f64(),
            text.parse::<f64>().ok(),
            "{text} parsed as {value}"
        );
    }
}

/// The same through a conversion: the proxy's override annotation is decoded and re-encoded, and a
/// number in it must come back as written.
#[test]
fn floats_in_rewritten_annotations_are_kept() {
    let overrides = r#"{"containers":[{"name":"istio-proxy","x":950757.7065291745}]}"#;
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"proxy.istio.io/overrides": overrides}},
        "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy", "args": ["proxy", "sidecar"]}]}
    });
    let outcome = review_manifest(&mut pod, &Settings::default()).expect("a Pod");
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(
        pod["metadata"]["annotations"]["proxy.istio.io/overrides"],
        r#"{"initContainers":[{"name":"istio-proxy","x":950757.7065291745}]}"#
    );
}

/// Found by the `review` fuzzer (minimized input below): a `sidecar.istio.io/status` annotation
/// without an `initContainers` key made the conversion panic (`serde_json::Map` indexing on a
/// missing key), which in the module is a trap and a 500 for the user's request.
#[test]
fn status_annotation_without_init_containers() {
    let minimized = r#"{"request":{"u":"-639300002","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"zero","annotations":{"sidecar.istio.io/status":"{\"rs\":[\"isi\"],\"containers\":[\"istio-proxy\"],\"etsevision\":\"defaul\"}"}},"spec":{"containers":[{"nae":"app:1"},{"name":"istio-proxy","imag":["p021"]}]}},"oltions":{"apiVersiod":"Crns"}},"settings":{}}"#;
    let payload: Value = serde_json::from_str(minimized).expect("the fuzzer's input is JSON");
    let mut pod = payload["request"]["object"].clone();
    let outcome = review_manifest(&mut pod, &Settings::default()).expect("a Pod");
    assert_eq!(outcome.rejection, None);
    assert!(outcome.changed);
    assert_eq!(
        pod["metadata"]["annotations"]["sidecar.istio.io/status"],
        r#"{"rs":["isi"],"containers":null,"etsevision":"defaul","initContainers":["istio-proxy"]}"#
    );
    assert_eq!(pod["spec"]["initContainers"][0]["name"], "istio-proxy");
}

/// Found by the `review` fuzzer's idempotence check (minimized input below): with two init
/// containers named `istio-validation` (invalid, but admission runs before the API server's
/// validation) only the first moved before the proxy, the layout stayed misplaced, and every
/// review reported a change. Every copy of a setup container now goes before its proxy.
#[test]
fn duplicate_setup_containers_are_all_placed_before_the_proxy() {
    let minimized = r#"{"request":{"u":{"erions":["systed"]},"object":{"apiVersion":"apps/v1","kind":"Deployment","met":{"nce":"lt"},"spec":{"template":{"metadata":{"ls":{"statuMn":{}},"z":{}},"spec":{"i":[{"n":[]}],"initContainers":[{"name":"istio-proxy","be":{"htts":15},"restartPolicy":"Always"},{"name":"istio-validation"},{"name":"istio-validation","mZ":{}}],"hosk":true,"sf":{"kfBFmB":null}}}}},"ols":[{}]}}"#;
    let payload: Value = serde_json::from_str(minimized).expect("the fuzzer's input is JSON");
    let mut deployment = payload["request"]["object"].clone();
    let first = review_manifest(&mut deployment, &Settings::default()).expect("a Deployment");
    assert_eq!(first.rejection, None);
    assert!(first.changed);
    let init = &deployment["spec"]["template"]["spec"]["initContainers"];
    assert_eq!(init[0], json!({"name": "istio-validation"}));
    assert_eq!(init[1], json!({"name": "istio-validation", "mZ": {}}));
    assert_eq!(init[2]["name"], "istio-proxy");
    let output = deployment.clone();
    let second = review_manifest(&mut deployment, &Settings::default()).expect("a Deployment");
    assert_eq!(second.rejection, None);
    assert!(!second.changed, "a second review changed {output}");
    assert_eq!(deployment, output);
}

/// Found by probing the `review` fuzzer's invariant "reported changed, yet identical": a Pod
/// whose `metadata` is not an object cannot hold the native-injection annotation, yet the review
/// reported a change, so the policy returned a "mutated" object identical to the request's.
#[test]
fn metadata_that_is_not_an_object_is_no_change() {
    for metadata in [json!("x"), json!(7), json!([])] {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                             "spec": {"containers": [{"name": "app"}]}});
        let before = pod.clone();
        let outcome = review_manifest(&mut pod, &Settings::default()).expect("a Pod");
        assert_eq!(outcome.rejection, None);
        assert!(!outcome.changed, "reported a change for {before}");
        assert_eq!(pod, before);
    }
    // Missing or null metadata is created to hold the annotation, as before.
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": null,
                         "spec": {"containers": [{"name": "app"}]}});
    let outcome = review_manifest(&mut pod, &Settings::default()).expect("a Pod");
    assert!(outcome.changed);
    assert_eq!(
        pod["metadata"],
        json!({"annotations": {"sidecar.istio.io/nativeSidecar": "true"}})
    );
}
