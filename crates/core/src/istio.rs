//! What Istio renders differently in native mode, and the annotations it keeps in step.

use serde_json::{Map, Value, json};

use crate::path;
use crate::profile::ISTIO_PROXY;
use crate::review::name;
use crate::workload::Kind;

pub const NATIVE_SIDECAR: &str = "sidecar.istio.io/nativeSidecar";
const INJECT: &str = "sidecar.istio.io/inject";
const STATUS: &str = "sidecar.istio.io/status";
const OVERRIDES: &str = "proxy.istio.io/overrides";
const STATUS_PORT: &str = "status.sidecar.istio.io/port";
const EXCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
const TEMPLATES: &str = "inject.istio.io/templates";
const DEFAULT_STATUS_PORT: &str = "15020";

/// The first value of an annotation found on the pod's metadata (most specific first).
pub(crate) fn annotation<'v>(object: &'v Value, kind: Kind, key: &str) -> Option<&'v str> {
    kind.metadata_pointers()
        .iter()
        .filter_map(|pointer| path::at(object, pointer))
        .find_map(|meta| meta.get("annotations")?.get(key)?.as_str())
}

/// Istio's template renders native mode unless the annotation is exactly "false".
pub(crate) fn opts_out_of_native(object: &Value, kind: Kind) -> bool {
    annotation(object, kind, NATIVE_SIDECAR) == Some("false")
}

/// Pods injected from Istio's gateway template run the proxy as their workload.
pub(crate) fn uses_gateway_template(object: &Value, kind: Kind) -> bool {
    annotation(object, kind, TEMPLATES)
        .is_some_and(|templates| templates.split(',').any(|t| t.trim() == "gateway"))
}

/// Whether a Pod without a proxy should ask the injector for native mode: not when it already
/// says which mode it wants, opts out of injection, or uses the host network (never injected).
pub(crate) fn wants_native_request(pod: &Value) -> bool {
    let metadata = pod.get("metadata");
    let annotations = metadata.and_then(|m| m.get("annotations"));
    let labels = metadata.and_then(|m| m.get("labels"));
    if annotations.and_then(|a| a.get(NATIVE_SIDECAR)).is_some() {
        return false;
    }
    // Istio prefers the label over the annotation and injects only for y, yes, true or on.
    let inject = labels
        .and_then(|l| l.get(INJECT))
        .or_else(|| annotations.and_then(|a| a.get(INJECT)))
        .and_then(Value::as_str);
    if let Some(inject) = inject
        && !inject.is_empty()
        && !matches!(
            inject.to_ascii_lowercase().as_str(),
            "y" | "yes" | "true" | "on"
        )
    {
        return false;
    }
    path::at(pod, "/spec/hostNetwork") != Some(&Value::Bool(true))
}

/// Sets the annotation that makes Istio's injector render native mode. Returns whether it did:
/// `metadata` that is not an object (the API server refuses such a pod) is left alone, and the
/// review must then not report a change it did not make.
pub(crate) fn request_native(pod: &mut Value) -> bool {
    let Some(pod) = pod.as_object_mut() else {
        return false;
    };
    let metadata = pod
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if metadata.is_null() {
        *metadata = Value::Object(Map::new());
    }
    if !metadata.is_object() {
        return false;
    }
    let annotations = &mut metadata["annotations"];
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    annotations[NATIVE_SIDECAR] = Value::String("true".to_owned());
    true
}

/// Istio's status port, which the native preStop hook calls. The injector writes it only into the
/// annotation, the probes' presence and the iptables exclusions, so it is read back from those.
pub(crate) fn status_port(object: &Value, kind: Kind, proxy: &Value, init: &[Value]) -> String {
    if let Some(port) = annotation(object, kind, STATUS_PORT) {
        return port.to_owned();
    }
    // Istio renders the readiness probe only when the status port is not 0.
    if proxy.get("readinessProbe").is_none_or(Value::is_null) {
        return "0".to_owned();
    }
    let excluded: Vec<&str> = annotation(object, kind, EXCLUDE_INBOUND_PORTS)
        .map(|ports| ports.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let ports = init
        .iter()
        .filter(|c| matches!(name(c), Some("istio-init" | "istio-validation")))
        .find_map(iptables_excluded_ports);
    let Some(ports) = ports else {
        return DEFAULT_STATUS_PORT.to_owned();
    };
    // `-d 15090,15021,<excluded inbound ports>,P`: P is appended unless it was already excluded.
    let rest: Vec<&str> = ports
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .skip_while(|p| matches!(*p, "15090" | "15021"))
        .collect();
    match rest.last() {
        None => DEFAULT_STATUS_PORT.to_owned(),
        Some(last) if !excluded.contains(last) => (*last).to_owned(),
        // The status port may be any of the excluded ports: the default when it is one of them.
        Some(_) if rest.contains(&DEFAULT_STATUS_PORT) => DEFAULT_STATUS_PORT.to_owned(),
        Some(last) => (*last).to_owned(),
    }
}

fn iptables_excluded_ports(container: &Value) -> Option<&str> {
    let args = container.get("args")?.as_array()?;
    let at = args.iter().position(|a| a.as_str() == Some("-d"))?;
    args.get(at + 1)?.as_str()
}

/// Native mode's hooks: the `pilot-agent wait` hook that held the application becomes the drain
/// hook (native ordering already holds the application); a custom lifecycle stays as it is.
pub(crate) fn set_native_lifecycle(proxy: &mut Map<String, Value>, status_port: &str) {
    let drain = json!({
        "preStop": {"exec": {"command": [
            "pilot-agent", "request", format!("--debug-port={status_port}"), "POST", "drain"
        ]}}
    });
    match proxy.get_mut("lifecycle") {
        Some(lifecycle) if is_empty(lifecycle) || holds_application(lifecycle) => {
            *lifecycle = drain
        }
        Some(_) => {}
        None => {
            proxy.insert("lifecycle".to_owned(), drain);
        }
    }
}

fn is_empty(value: &Value) -> bool {
    value.is_null() || value.as_object().is_some_and(Map::is_empty)
}

/// `postStart: exec [pilot-agent, wait, ...]` and nothing else: what holdApplicationUntilProxyStarts
/// renders. Null members count as absent: manifest renderers write them.
fn holds_application(lifecycle: &Value) -> bool {
    fn only<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
        let map = value.as_object()?;
        let mut present = map.iter().filter(|(_, v)| !v.is_null());
        match (present.next(), present.next()) {
            (Some((k, v)), None) if k == key => Some(v),
            _ => None,
        }
    }
    let command = only(lifecycle, "postStart")
        .and_then(|hook| only(hook, "exec"))
        .and_then(|exec| only(exec, "command"));
    matches!(
        command.and_then(Value::as_array).map(Vec::as_slice),
        Some([first, second, ..]) if first == "pilot-agent" && second == "wait"
    )
}

/// Moves `istio-proxy` from `containers` to `initContainers` in the injection annotations, wherever
/// Istio wrote them. Istio's re-injection strips what the status lists, so it must stay true.
/// Returns whether an annotation changed.
pub(crate) fn move_proxy_in_annotations(object: &mut Value, kind: Kind) -> bool {
    let mut changed = false;
    for pointer in kind.metadata_pointers() {
        let Some(annotations) = path::at_mut(object, pointer)
            .and_then(|meta| meta.get_mut("annotations"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        changed |= rewrite(annotations, STATUS, move_in_status);
        changed |= rewrite(annotations, OVERRIDES, move_in_overrides);
    }
    changed
}

/// Applies `edit` to a JSON-encoded annotation; leaves values that are not JSON objects alone.
fn rewrite(
    annotations: &mut Map<String, Value>,
    key: &str,
    edit: fn(&mut Map<String, Value>) -> bool,
) -> bool {
    let Some(Value::String(text)) = annotations.get_mut(key) else {
        return false;
    };
    let Ok(Value::Object(mut decoded)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    if !edit(&mut decoded) {
        return false;
    }
    match serde_json::to_string(&decoded) {
        Ok(encoded) => {
            *text = encoded;
            true
        }
        Err(_) => false,
    }
}

/// `{"initContainers":[...],"containers":[...],...}`: Go marshals empty lists as null.
fn move_in_status(status: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(containers)) = status.get_mut("containers") else {
        return false;
    };
    let before = containers.len();
    containers.retain(|c| c.as_str() != Some(ISTIO_PROXY));
    if containers.len() == before {
        return false;
    }
    if containers.is_empty() {
        status["containers"] = Value::Null;
    }
    // `Map` indexing panics on a missing key; an annotation edited by hand may lack the list.
    let init = status
        .entry("initContainers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !init.is_array() {
        *init = Value::Array(Vec::new());
    }
    if let Some(init) = init.as_array_mut()
        && !init.iter().any(|c| c.as_str() == Some(ISTIO_PROXY))
    {
        init.push(Value::String(ISTIO_PROXY.to_owned()));
    }
    true
}

/// `{"containers":[{"name":"istio-proxy",...}],"initContainers":[...]}`: Go omits empty lists.
fn move_in_overrides(overrides: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(containers)) = overrides.get_mut("containers") else {
        return false;
    };
    let Some(at) = containers.iter().position(|c| name(c) == Some(ISTIO_PROXY)) else {
        return false;
    };
    let entry = containers.remove(at);
    if containers.is_empty() {
        overrides.shift_remove("containers");
    }
    match overrides.get_mut("initContainers") {
        Some(Value::Array(init)) => init.push(entry),
        _ => {
            overrides.insert("initContainers".to_owned(), Value::Array(vec![entry]));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn pod(annotations: Value, spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": annotations}, "spec": spec})
    }

    fn init_with_ports(ports: &str) -> Vec<Value> {
        vec![json!({"name": "istio-init", "args": ["istio-iptables", "-p", "15001", "-d", ports]})]
    }

    fn ready_proxy() -> Value {
        json!({"name": "istio-proxy", "readinessProbe": {"httpGet": {"port": 15021}}})
    }

    #[rstest]
    #[case::annotation(json!({"status.sidecar.istio.io/port": "1234"}), ready_proxy(), init_with_ports("15090,15021,15020"), "1234")]
    #[case::zero_has_no_probe(json!({}), json!({"name": "istio-proxy"}), init_with_ports("15090,15021"), "0")]
    #[case::default(json!({}), ready_proxy(), init_with_ports("15090,15021,15020"), "15020")]
    #[case::from_values(json!({}), ready_proxy(), init_with_ports("15090,15021,123"), "123")]
    #[case::after_user_exclusions(json!({"traffic.sidecar.istio.io/excludeInboundPorts": "4,5"}), ready_proxy(), init_with_ports("15090,15021,4,5,123"), "123")]
    #[case::already_excluded(json!({"traffic.sidecar.istio.io/excludeInboundPorts": "15020,4"}), ready_proxy(), init_with_ports("15090,15021,15020,4"), "15020")]
    // With Istio CNI the injector writes its exclusions, status port included, into the annotation.
    #[case::cni(json!({"traffic.sidecar.istio.io/excludeInboundPorts": "123"}), ready_proxy(), vec![json!({"name": "istio-validation", "args": ["istio-iptables", "-d", "15090,15021,123", "--run-validation"]})], "123")]
    #[case::no_setup(json!({}), ready_proxy(), vec![], "15020")]
    fn status_ports(
        #[case] annotations: Value,
        #[case] proxy: Value,
        #[case] init: Vec<Value>,
        #[case] expected: &str,
    ) {
        let object = pod(annotations, json!({}));
        assert_eq!(status_port(&object, Kind::Pod, &proxy, &init), expected);
    }

    fn drain(port: &str) -> Value {
        json!({"preStop": {"exec": {"command": ["pilot-agent", "request", format!("--debug-port={port}"), "POST", "drain"]}}})
    }

    #[rstest]
    #[case::none(None, drain("15020"))]
    #[case::empty(Some(json!({})), drain("15020"))]
    #[case::hold(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}})), drain("15020"))]
    #[case::hold_timeout(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait", "--timeoutSeconds", "100"]}}})), drain("15020"))]
    #[case::hold_with_nulls(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}, "httpGet": null}, "preStop": null})), drain("15020"))]
    #[case::custom(Some(json!({"preStop": {"exec": {"command": ["sleep", "10"]}}})), json!({"preStop": {"exec": {"command": ["sleep", "10"]}}}))]
    #[case::hold_and_custom(
        Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}, "preStop": {"exec": {"command": ["sleep", "5"]}}})),
        json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}, "preStop": {"exec": {"command": ["sleep", "5"]}}})
    )]
    fn lifecycles(#[case] lifecycle: Option<Value>, #[case] expected: Value) {
        let mut proxy = Map::new();
        proxy.insert("name".into(), json!("istio-proxy"));
        if let Some(lifecycle) = lifecycle {
            proxy.insert("lifecycle".into(), lifecycle);
        }
        set_native_lifecycle(&mut proxy, "15020");
        assert_eq!(proxy["lifecycle"], expected);
    }

    #[rstest]
    #[case::classic(
        r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy"],"imagePullSecrets":null,"revision":"default"}"#,
        r#"{"initContainers":["istio-init","istio-proxy"],"containers":null,"volumes":["istio-envoy"],"imagePullSecrets":null,"revision":"default"}"#
    )]
    #[case::interception_none(
        r#"{"initContainers":null,"containers":["istio-proxy"],"volumes":null,"imagePullSecrets":null,"revision":"default"}"#,
        r#"{"initContainers":["istio-proxy"],"containers":null,"volumes":null,"imagePullSecrets":null,"revision":"default"}"#
    )]
    #[case::old_istio(
        r#"{"version":"abc","initContainers":["istio-init","enable-core-dump"],"containers":["istio-proxy","other"],"volumes":["istio-envoy"],"imagePullSecrets":null}"#,
        r#"{"version":"abc","initContainers":["istio-init","enable-core-dump","istio-proxy"],"containers":["other"],"volumes":["istio-envoy"],"imagePullSecrets":null}"#
    )]
    fn status_annotation(#[case] before: &str, #[case] after: &str) {
        let mut object = pod(json!({STATUS: before}), json!({}));
        assert!(move_proxy_in_annotations(&mut object, Kind::Pod));
        assert_eq!(object["metadata"]["annotations"][STATUS], after);
        assert!(!move_proxy_in_annotations(&mut object, Kind::Pod));
    }

    #[rstest]
    #[case::proxy_only(
        r#"{"containers":[{"name":"istio-proxy","command":["envoy"],"args":["-c","my-config.yaml"],"resources":{}}]}"#,
        r#"{"initContainers":[{"name":"istio-proxy","command":["envoy"],"args":["-c","my-config.yaml"],"resources":{}}]}"#
    )]
    #[case::with_app(
        r#"{"containers":[{"name":"app","resources":{}},{"name":"istio-proxy","resources":{}}],"initContainers":[{"name":"init","resources":{}}]}"#,
        r#"{"containers":[{"name":"app","resources":{}}],"initContainers":[{"name":"init","resources":{}},{"name":"istio-proxy","resources":{}}]}"#
    )]
    fn overrides_annotation(#[case] before: &str, #[case] after: &str) {
        let mut object = pod(json!({OVERRIDES: before}), json!({}));
        assert!(move_proxy_in_annotations(&mut object, Kind::Pod));
        assert_eq!(object["metadata"]["annotations"][OVERRIDES], after);
    }

    #[test]
    fn cronjob_annotations_on_the_job_template() {
        let status = r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":null,"imagePullSecrets":null,"revision":"default"}"#;
        let mut object = json!({"spec": {"jobTemplate": {
            "metadata": {"annotations": {STATUS: status}},
            "spec": {"template": {"metadata": {"creationTimestamp": null}}}
        }}});
        assert!(move_proxy_in_annotations(&mut object, Kind::CronJob));
        assert_eq!(
            object["spec"]["jobTemplate"]["metadata"]["annotations"][STATUS],
            r#"{"initContainers":["istio-init","istio-proxy"],"containers":null,"volumes":null,"imagePullSecrets":null,"revision":"default"}"#
        );
        assert_eq!(
            object["spec"]["jobTemplate"]["spec"]["template"]["metadata"],
            json!({"creationTimestamp": null})
        );
    }

    #[rstest]
    #[case::plain(json!({"metadata": {"name": "p"}, "spec": {}}), true)]
    #[case::already_true(json!({"metadata": {"annotations": {NATIVE_SIDECAR: "true"}}}), false)]
    #[case::already_false(json!({"metadata": {"annotations": {NATIVE_SIDECAR: "false"}}}), false)]
    #[case::inject_false_label(json!({"metadata": {"labels": {INJECT: "false"}}}), false)]
    #[case::inject_false_annotation(json!({"metadata": {"annotations": {INJECT: "false"}}}), false)]
    #[case::inject_no(json!({"metadata": {"annotations": {INJECT: "no"}}}), false)]
    #[case::inject_true(json!({"metadata": {"annotations": {INJECT: "true"}}}), true)]
    #[case::label_wins(json!({"metadata": {"labels": {INJECT: "true"}, "annotations": {INJECT: "false"}}}), true)]
    #[case::host_network(json!({"spec": {"hostNetwork": true}}), false)]
    #[case::no_metadata(json!({"spec": {"hostNetwork": false}}), true)]
    fn native_requests(#[case] pod: Value, #[case] expected: bool) {
        assert_eq!(wants_native_request(&pod), expected);
    }

    #[test]
    fn request_native_creates_annotations() {
        let mut pod = json!({"kind": "Pod", "metadata": {"name": "p", "annotations": null}});
        request_native(&mut pod);
        assert_eq!(
            pod["metadata"],
            json!({"name": "p", "annotations": {NATIVE_SIDECAR: "true"}})
        );
        let mut bare = json!({"kind": "Pod"});
        request_native(&mut bare);
        assert_eq!(
            bare["metadata"],
            json!({"annotations": {NATIVE_SIDECAR: "true"}})
        );
    }
}
