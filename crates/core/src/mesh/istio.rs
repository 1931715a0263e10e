//! Istio: what its injector renders differently in native mode, the annotations it keeps in step,
//! and its opt-out and gateway rules (`../shared/SPEC.md` sections 2, 3 and 5).

use serde_json::{Map, Value, json};

use super::{Injection, LifecycleEdit, Mesh, MeshSettings, NativeEdit, Switch};
use crate::output::to_json_vec;
use crate::pod::{PodView, name};
use crate::workload::Kind;

const PROXY: &str = "istio-proxy";
pub(crate) const NATIVE_SIDECAR: &str = "sidecar.istio.io/nativeSidecar";
const INJECT: &str = "sidecar.istio.io/inject";
const STATUS: &str = "sidecar.istio.io/status";
const OVERRIDES: &str = "proxy.istio.io/overrides";
const STATUS_PORT: &str = "status.sidecar.istio.io/port";
const EXCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
const TEMPLATES: &str = "inject.istio.io/templates";
const DEFAULT_STATUS_PORT: &str = "15020";

pub(crate) struct Istio;

impl Mesh for Istio {
    fn id(&self) -> &'static str {
        "istio"
    }
    fn title(&self) -> &'static str {
        "Istio"
    }
    fn proxy(&self) -> &'static str {
        PROXY
    }
    fn setup(&self) -> &'static [&'static str] {
        &["istio-init", "istio-validation"]
    }
    /// Older Istio releases add `enable-core-dump`; native mode renders it right after the proxy.
    fn trailing(&self) -> &'static [&'static str] {
        &["enable-core-dump"]
    }

    fn switch(&self) -> Option<&dyn Switch> {
        Some(self)
    }
    /// Istio prefers the label over the annotation and injects only for y, yes, true or on; it
    /// never injects host-network pods.
    fn injection(&self, pod: &PodView) -> Injection {
        let inject = match pod.labels().and_then(|labels| labels.get(INJECT)) {
            Some(label) => label.as_str(),
            None => pod.annotations.get(INJECT),
        }
        .filter(|inject| !inject.is_empty());
        match inject {
            _ if pod.host_network() => Injection::Refused,
            Some(inject)
                if matches!(
                    inject.to_ascii_lowercase().as_str(),
                    "y" | "yes" | "true" | "on"
                ) =>
            {
                Injection::Requested
            }
            Some(_) => Injection::Refused,
            None => Injection::Unstated,
        }
    }

    /// Gateways run `istio-proxy` as the main workload (`proxy router`, or pods injected from the
    /// `gateway` template): they are not sidecars.
    fn leaves_alone(&self, pod: &PodView, proxy: &Value) -> bool {
        let args = crate::path::get(proxy, "args").and_then(Value::as_array);
        let router = matches!(
            args.map(|a| a.iter().take(2).map(Value::as_str).collect::<Vec<_>>())
                .as_deref(),
            Some([Some("proxy"), Some("router")])
        );
        router
            || pod
                .annotations
                .get(TEMPLATES)
                .is_some_and(|templates| templates.split(',').any(|t| t.trim() == "gateway"))
    }

    /// The `pilot-agent wait` hook that held the application becomes the drain hook (native
    /// ordering already holds the application), as does a missing lifecycle; a custom lifecycle
    /// stays as it is.
    fn native_edit(
        &self,
        pod: &PodView,
        proxy: &Value,
        _settings: &MeshSettings,
    ) -> Result<NativeEdit, String> {
        let lifecycle = match crate::path::get(proxy, "lifecycle") {
            Some(lifecycle) if !is_empty(lifecycle) && !holds_application(lifecycle) => {
                LifecycleEdit::Keep
            }
            _ => LifecycleEdit::Set(drain(&status_port(pod, proxy))),
        };
        Ok(NativeEdit {
            lifecycle,
            ..NativeEdit::default()
        })
    }

    fn after_conversion(&self, object: &mut Value, kind: Kind) {
        move_proxy_in_annotations(object, kind);
    }
}

impl Switch for Istio {
    fn annotation(&self) -> &'static str {
        NATIVE_SIDECAR
    }
    /// Istio's template renders native mode unless the annotation is exactly "false".
    fn opt_out(&self, pod: &PodView) -> Option<&'static str> {
        (pod.annotations.get(NATIVE_SIDECAR) == Some("false")).then_some(NATIVE_SIDECAR)
    }
    fn states_mode(&self, pod: &PodView) -> bool {
        pod.annotations.get(NATIVE_SIDECAR).is_some()
    }
    fn request_native(&self, annotations: &mut Map<String, Value>) {
        annotations.insert(NATIVE_SIDECAR.to_owned(), Value::from("true"));
    }
}

/// Istio's status port, which the native preStop hook calls. The injector writes it only into the
/// annotation, the probes' presence and the iptables exclusions, so it is read back from those.
fn status_port(pod: &PodView, proxy: &Value) -> String {
    if let Some(port) = pod.annotations.get(STATUS_PORT) {
        return port.to_owned();
    }
    // Istio renders the readiness probe only when the status port is not 0.
    if crate::path::get(proxy, "readinessProbe").is_none_or(Value::is_null) {
        return "0".to_owned();
    }
    let excluded: Vec<&str> = pod
        .annotations
        .get(EXCLUDE_INBOUND_PORTS)
        .map(|ports| ports.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let ports = pod
        .init
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
    let args = crate::path::get(container, "args")?.as_array()?;
    let at = args.iter().position(|a| a.as_str() == Some("-d"))?;
    args.get(at + 1)?.as_str()
}

/// Istio's native drain hook on its status port.
fn drain(status_port: &str) -> Value {
    json!({
        "preStop": {"exec": {"command": [
            "pilot-agent", "request", format!("--debug-port={status_port}"), "POST", "drain"
        ]}}
    })
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
fn move_proxy_in_annotations(object: &mut Value, kind: Kind) -> bool {
    let mut changed = false;
    for pointer in kind.metadata_pointers() {
        let Some(annotations) = crate::path::at_mut(object, pointer)
            .and_then(|meta| crate::path::field_mut(meta.as_object_mut()?, "annotations"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        changed |= rewrite(annotations, STATUS, |text| {
            status_in_place(text).unwrap_or_else(|| edited(text, move_in_status))
        });
        changed |= rewrite(annotations, OVERRIDES, |text| {
            edited(text, move_in_overrides)
        });
    }
    changed
}

/// Replaces the string annotation `key` with what `edit` makes of it, when it makes something.
fn rewrite(
    annotations: &mut Map<String, Value>,
    key: &str,
    edit: impl FnOnce(&str) -> Option<String>,
) -> bool {
    let Some(Value::String(text)) = crate::path::field_mut(annotations, key) else {
        return false;
    };
    match edit(text) {
        Some(new) => {
            *text = new;
            true
        }
        None => false,
    }
}

/// `edit` applied to the JSON object encoded in `text`, encoded again; `None` when `text` is not a
/// JSON object or `edit` changes nothing. Read as bytes: the request's own parser, not a second
/// one for `&str`, which would add 9 KB to the module.
fn edited(text: &str, edit: fn(&mut Map<String, Value>) -> bool) -> Option<String> {
    let Ok(Value::Object(mut decoded)) = serde_json::from_slice(text.as_bytes()) else {
        return None;
    };
    if !edit(&mut decoded) {
        return None;
    }
    // The writer of the policy module's answers: one JSON encoder in the module.
    String::from_utf8(to_json_vec(&Value::Object(decoded), text.len()).ok()?).ok()
}

/// [`move_in_status`] done on the text, for the status as Istio writes it: compact, keys once,
/// values that are strings, null, booleans or lists of those, no escapes. Such text is what
/// decoding and encoding it again gives, so the edit leaves every other byte as it was and the
/// result is the one of [`edited`] (tested on many shapes). `None` for any other text, which
/// [`edited`] decodes; `Some(None)` when there is nothing to move.
fn status_in_place(text: &str) -> Option<Option<String>> {
    let mut entries = flat_object(text)?;
    let proxy = "\"istio-proxy\"";
    let Some(at) = entries.iter().position(|(key, _)| *key == "\"containers\"") else {
        return Some(None);
    };
    let Flat::List(containers) = &mut entries[at].1 else {
        return Some(None);
    };
    let before = containers.len();
    containers.retain(|c| *c != proxy);
    if containers.len() == before {
        return Some(None);
    }
    if containers.is_empty() {
        entries[at].1 = Flat::Scalar("null");
    }
    match entries
        .iter_mut()
        .find(|(key, _)| *key == "\"initContainers\"")
    {
        Some((_, value @ Flat::Scalar(_))) => *value = Flat::List(Vec::new()),
        Some(_) => {}
        None => entries.push(("\"initContainers\"", Flat::List(Vec::new()))),
    }
    if let Some((_, Flat::List(init))) = entries
        .iter_mut()
        .find(|(key, _)| *key == "\"initContainers\"")
        && !init.contains(&proxy)
    {
        init.push(proxy);
    }
    // The proxy's name moves: the text grows by at most its length and a comma.
    let mut out = String::with_capacity(text.len() + proxy.len() + 1);
    out.push('{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        match value {
            Flat::Scalar(scalar) => out.push_str(scalar),
            Flat::List(items) => {
                out.push('[');
                for (j, item) in items.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str(item);
                }
                out.push(']');
            }
        }
    }
    out.push('}');
    Some(Some(out))
}

/// A value of [`flat_object`], as its text.
enum Flat<'t> {
    /// A string (with its quotes), `null`, `true` or `false`.
    Scalar(&'t str),
    List(Vec<&'t str>),
}

/// The members of a compact JSON object whose keys are distinct and whose values are scalars or
/// lists of scalars, none of them a number or a string with an escape or a control character:
/// the text serde_json would write for it. `None` for any other text.
fn flat_object(text: &str) -> Option<Vec<(&str, Flat<'_>)>> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut entries: Vec<(&str, Flat)> = Vec::with_capacity(8);
    expect(bytes, &mut at, b'{')?;
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            let key = string(text, &mut at)?;
            if entries.iter().any(|(k, _)| *k == key) {
                return None;
            }
            expect(bytes, &mut at, b':')?;
            let value = if bytes.get(at) == Some(&b'[') {
                at += 1;
                let mut items = Vec::new();
                if bytes.get(at) == Some(&b']') {
                    at += 1;
                } else {
                    loop {
                        items.push(scalar(text, &mut at)?);
                        if closed(bytes, &mut at, b']')? {
                            break;
                        }
                    }
                }
                Flat::List(items)
            } else {
                Flat::Scalar(scalar(text, &mut at)?)
            };
            entries.push((key, value));
            if closed(bytes, &mut at, b'}')? {
                break;
            }
        }
    }
    (at == bytes.len()).then_some(entries)
}

/// Past the comma after a member or item (`Some(false)`) or past `close` (`Some(true)`).
fn closed(bytes: &[u8], at: &mut usize, close: u8) -> Option<bool> {
    let byte = *bytes.get(*at)?;
    *at += 1;
    match byte {
        b',' => Some(false),
        _ => (byte == close).then_some(true),
    }
}

fn expect(bytes: &[u8], at: &mut usize, byte: u8) -> Option<()> {
    (bytes.get(*at) == Some(&byte)).then(|| *at += 1)
}

/// A string without escapes or control characters, `null`, `true` or `false`.
fn scalar<'t>(text: &'t str, at: &mut usize) -> Option<&'t str> {
    let word = match text.as_bytes().get(*at)? {
        b'"' => return string(text, at),
        b'n' => "null",
        b't' => "true",
        _ => "false",
    };
    let end = *at + word.len();
    (text.get(*at..end)? == word).then(|| {
        *at = end;
        word
    })
}

/// A string with its quotes, without escapes or control characters.
fn string<'t>(text: &'t str, at: &mut usize) -> Option<&'t str> {
    let start = *at;
    expect(text.as_bytes(), at, b'"')?;
    for (i, &byte) in text.as_bytes()[*at..].iter().enumerate() {
        match byte {
            b'"' => {
                *at += i + 1;
                // Quotes are ASCII, so both ends are character boundaries.
                return text.get(start..*at);
            }
            b'\\' | 0..0x20 => return None,
            _ => {}
        }
    }
    None
}

/// `{"initContainers":[...],"containers":[...],...}`: Go marshals empty lists as null.
fn move_in_status(status: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(containers)) = status.get_mut("containers") else {
        return false;
    };
    let before = containers.len();
    containers.retain(|c| c.as_str() != Some(PROXY));
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
        && !init.iter().any(|c| c.as_str() == Some(PROXY))
    {
        init.push(Value::String(PROXY.to_owned()));
    }
    true
}

/// `{"containers":[{"name":"istio-proxy",...}],"initContainers":[...]}`: Go omits empty lists.
fn move_in_overrides(overrides: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(containers)) = overrides.get_mut("containers") else {
        return false;
    };
    let Some(at) = containers.iter().position(|c| name(c) == Some(PROXY)) else {
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
    use proptest::prelude::*;
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
        let object = pod(annotations, json!({"initContainers": init}));
        assert_eq!(status_port(&PodView::of_pod(&object), &proxy), expected);
    }

    fn drain(port: &str) -> Value {
        json!({"preStop": {"exec": {"command": ["pilot-agent", "request", format!("--debug-port={port}"), "POST", "drain"]}}})
    }

    #[rstest]
    #[case::none(None, LifecycleEdit::Set(drain("15020")))]
    #[case::empty(Some(json!({})), LifecycleEdit::Set(drain("15020")))]
    #[case::hold(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}})), LifecycleEdit::Set(drain("15020")))]
    #[case::hold_timeout(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait", "--timeoutSeconds", "100"]}}})), LifecycleEdit::Set(drain("15020")))]
    #[case::hold_with_nulls(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}, "httpGet": null}, "preStop": null})), LifecycleEdit::Set(drain("15020")))]
    #[case::custom(Some(json!({"preStop": {"exec": {"command": ["sleep", "10"]}}})), LifecycleEdit::Keep)]
    #[case::hold_and_custom(
        Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}, "preStop": {"exec": {"command": ["sleep", "5"]}}})),
        LifecycleEdit::Keep
    )]
    fn lifecycles(#[case] lifecycle: Option<Value>, #[case] expected: LifecycleEdit) {
        let mut proxy = ready_proxy();
        if let Some(lifecycle) = lifecycle {
            proxy["lifecycle"] = lifecycle;
        }
        let init = init_with_ports("15090,15021,15020");
        let object = pod(json!({}), json!({"initContainers": init}));
        let edit = Istio
            .native_edit(&PodView::of_pod(&object), &proxy, &MeshSettings::default())
            .unwrap();
        assert_eq!(
            edit,
            NativeEdit {
                lifecycle: expected,
                ..NativeEdit::default()
            }
        );
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

    /// A status value for the property below: a scalar, a list, or what the in-place edit leaves
    /// to the decoder (a number, an object).
    #[derive(Debug, Clone)]
    enum Member {
        Null,
        Bool(bool),
        Text(String),
        List(Vec<Member>),
        Number(i64),
        Object(Vec<(String, Member)>),
    }

    /// Writes `member` compactly (as serde_json and Go do), or with spaces, or with Go's escapes
    /// of `<`, `>` and `&`.
    fn write(member: &Member, spaced: bool, go_escapes: bool, out: &mut String) {
        let sep = if spaced { ", " } else { "," };
        match member {
            Member::Null => out.push_str("null"),
            Member::Bool(b) => out.push_str(&b.to_string()),
            Member::Number(n) => out.push_str(&n.to_string()),
            Member::Text(text) => {
                let mut encoded = serde_json::to_string(text).unwrap();
                if go_escapes {
                    encoded = encoded
                        .replace('<', "\\u003c")
                        .replace('>', "\\u003e")
                        .replace('&', "\\u0026");
                }
                out.push_str(&encoded);
            }
            Member::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    write(item, spaced, go_escapes, out);
                }
                out.push(']');
            }
            Member::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    write(&Member::Text(key.clone()), spaced, go_escapes, out);
                    out.push_str(if spaced { ": " } else { ":" });
                    write(value, spaced, go_escapes, out);
                }
                out.push('}');
            }
        }
    }

    /// One of `words`, or a string matching `pattern`.
    fn words(words: &'static [&'static str], pattern: &'static str) -> BoxedStrategy<String> {
        prop_oneof![
            proptest::sample::select(words).prop_map(str::to_owned),
            pattern,
        ]
        .boxed()
    }

    fn member() -> impl Strategy<Value = Member> {
        let text = words(
            &[
                "istio-proxy",
                "istio-init",
                "istio-validation",
                "default",
                "a\"quote",
                "back\\slash",
                "<tag> & co",
                "line\nbreak",
                "naïve ☃",
            ],
            "[a-z-]{0,12}",
        );
        let scalar = prop_oneof![
            Just(Member::Null),
            any::<bool>().prop_map(Member::Bool),
            text.prop_map(Member::Text),
        ];
        prop_oneof![
            6 => scalar.clone(),
            6 => proptest::collection::vec(scalar.clone(), 0..5).prop_map(Member::List),
            1 => any::<i64>().prop_map(Member::Number),
            1 => proptest::collection::vec(("[a-z]{1,3}", scalar), 0..3).prop_map(Member::Object),
        ]
    }

    fn status_members() -> impl Strategy<Value = Vec<(String, Member)>> {
        let key = words(
            &[
                "initContainers",
                "containers",
                "volumes",
                "imagePullSecrets",
                "revision",
                "version",
            ],
            "[a-z]{1,4}",
        );
        proptest::collection::vec((key, member()), 0..7)
    }

    proptest! {
        /// The in-place edit of the status gives what decoding, editing and encoding gives, byte
        /// for byte, on every text it takes; it takes every compact text of scalars and lists.
        #[test]
        fn status_edited_in_place_as_decoded(
            members in status_members(),
            spaced in proptest::bool::weighted(0.1),
            go_escapes in proptest::bool::weighted(0.2),
        ) {
            let mut text = String::new();
            write(&Member::Object(members.clone()), spaced, go_escapes, &mut text);
            let decoded = edited(&text, move_in_status);
            match status_in_place(&text) {
                Some(in_place) => prop_assert_eq!(in_place, decoded),
                None => {
                    let mut keys: Vec<&String> = members.iter().map(|(k, _)| k).collect();
                    keys.sort();
                    keys.dedup();
                    let simple = |m: &Member| match m {
                        Member::Text(t) => {
                            let escaped = t.contains(['"', '\\', '\n'])
                                || go_escapes && t.contains(['<', '>', '&']);
                            !escaped
                        }
                        Member::Null | Member::Bool(_) => true,
                        _ => false,
                    };
                    let takes = !spaced
                        && keys.len() == members.len()
                        && members.iter().all(|(k, m)| simple(&Member::Text(k.clone())) && match m {
                            Member::List(items) => items.iter().all(simple),
                            other => simple(other),
                        });
                    prop_assert!(!takes, "left to the decoder: {}", text);
                }
            }
        }
    }

    /// Istio's own status texts take the in-place edit.
    #[rstest]
    #[case::classic(
        r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert","istio-ca-crl"],"imagePullSecrets":null,"revision":"default"}"#,
        r#"{"initContainers":["istio-init","istio-proxy"],"containers":null,"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert","istio-ca-crl"],"imagePullSecrets":null,"revision":"default"}"#
    )]
    #[case::no_init_list(
        r#"{"containers":["istio-proxy","other"],"revision":"default"}"#,
        r#"{"containers":["other"],"revision":"default","initContainers":["istio-proxy"]}"#
    )]
    fn istio_status_edited_in_place(#[case] before: &str, #[case] after: &str) {
        assert_eq!(status_in_place(before), Some(Some(after.to_owned())));
        assert_eq!(status_in_place(after), Some(None));
    }

    #[rstest]
    #[case::not_json("istio-proxy")]
    #[case::list(r#"["istio-proxy"]"#)]
    #[case::trailing(r#"{"containers":["istio-proxy"]} "#)]
    #[case::unclosed(r#"{"containers":["istio-proxy"]"#)]
    #[case::duplicate_key(r#"{"containers":["istio-proxy"],"containers":[]}"#)]
    #[case::number(r#"{"containers":["istio-proxy"],"n":1}"#)]
    #[case::escape(r#"{"containers":["istio\u002dproxy"]}"#)]
    fn status_texts_left_to_the_decoder(#[case] text: &str) {
        assert!(status_in_place(text).is_none(), "{text}");
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
    #[case::plain(json!({"metadata": {"name": "p"}, "spec": {}}), Injection::Unstated)]
    #[case::inject_false_label(json!({"metadata": {"labels": {INJECT: "false"}}}), Injection::Refused)]
    #[case::inject_false_annotation(json!({"metadata": {"annotations": {INJECT: "false"}}}), Injection::Refused)]
    #[case::inject_no(json!({"metadata": {"annotations": {INJECT: "no"}}}), Injection::Refused)]
    #[case::inject_true(json!({"metadata": {"annotations": {INJECT: "true"}}}), Injection::Requested)]
    #[case::inject_on(json!({"metadata": {"annotations": {INJECT: "On"}}}), Injection::Requested)]
    #[case::inject_empty(json!({"metadata": {"annotations": {INJECT: ""}}}), Injection::Unstated)]
    #[case::label_wins(json!({"metadata": {"labels": {INJECT: "true"}, "annotations": {INJECT: "false"}}}), Injection::Requested)]
    #[case::host_network(json!({"metadata": {"labels": {INJECT: "true"}}, "spec": {"hostNetwork": true}}), Injection::Refused)]
    #[case::no_metadata(json!({"spec": {"hostNetwork": false}}), Injection::Unstated)]
    fn injection(#[case] pod: Value, #[case] expected: Injection) {
        assert_eq!(Istio.injection(&PodView::of_pod(&pod)), expected);
    }

    #[rstest]
    #[case::absent(json!({"metadata": {"name": "p"}}), false, None)]
    #[case::native(json!({"metadata": {"annotations": {NATIVE_SIDECAR: "true"}}}), true, None)]
    #[case::classic(json!({"metadata": {"annotations": {NATIVE_SIDECAR: "false"}}}), true, Some(NATIVE_SIDECAR))]
    #[case::other_value(json!({"metadata": {"annotations": {NATIVE_SIDECAR: "False"}}}), true, None)]
    fn native_switch(#[case] pod: Value, #[case] states: bool, #[case] opt_out: Option<&str>) {
        let pod = PodView::of_pod(&pod);
        assert_eq!(Istio.states_mode(&pod), states);
        assert_eq!(Istio.opt_out(&pod), opt_out);
    }

    #[rstest]
    #[case::sidecar(json!({"name": "istio-proxy", "args": ["proxy", "sidecar", "--domain", "x"]}), false)]
    #[case::overridden_args(json!({"name": "istio-proxy", "args": ["--custom"]}), false)]
    #[case::no_args(json!({"name": "istio-proxy"}), false)]
    #[case::gateway(json!({"name": "istio-proxy", "args": ["proxy", "router", "--domain", "x"]}), true)]
    fn gateways_are_left_alone(#[case] container: Value, #[case] left_alone: bool) {
        let object = pod(json!({}), json!({}));
        assert_eq!(
            Istio.leaves_alone(&PodView::of_pod(&object), &container),
            left_alone
        );
        let gateway = pod(json!({TEMPLATES: "sidecar, gateway"}), json!({}));
        assert!(Istio.leaves_alone(&PodView::of_pod(&gateway), &container));
    }
}
