//! Linkerd: how `linkerd inject` renders `linkerd-proxy` in native mode, and the annotations its
//! injector reads (`../shared/SPEC.md` section 8; linkerd2 `charts/partials/templates/_proxy.tpl`).

use serde_json::{Map, Value};

use super::{
    Injection, LifecycleEdit, Mesh, MeshSettings, NativeEdit, Switch, parse_bool, ready_http_get,
};
use crate::describe::join;
use crate::pod::PodView;

const PROXY: &str = "linkerd-proxy";
/// The native switch under the names Linkerd 2.20+, 2.19 and 2.15 to 2.18 read, newest first.
/// The injector takes the newest one it knows, so writing all three with the same value works on
/// every release, and whichever of them a user set first is the one that decides.
pub(crate) const NATIVE_SIDECAR: [&str; 3] = [
    "config.linkerd.io/proxy-enable-native-sidecar",
    "config.beta.linkerd.io/proxy-enable-native-sidecar",
    "config.alpha.linkerd.io/proxy-enable-native-sidecar",
];
const INJECT: &str = "linkerd.io/inject";
const ADMIN_PORT: &str = "config.linkerd.io/admin-port";
const DEFAULT_ADMIN_PORT: u16 = 4191;
const AWAIT: &str = "linkerd-await";

pub(crate) struct Linkerd;

impl Mesh for Linkerd {
    fn id(&self) -> &'static str {
        "linkerd"
    }
    fn title(&self) -> &'static str {
        "Linkerd"
    }
    fn proxy(&self) -> &'static str {
        PROXY
    }
    /// `linkerd-init` sets up iptables; with Linkerd's CNI plugin `linkerd-network-validator`
    /// checks the plugin's rules instead. Only one of the two is present.
    fn setup(&self) -> &'static [&'static str] {
        &["linkerd-init", "linkerd-network-validator"]
    }

    fn switch(&self) -> Option<&dyn Switch> {
        Some(self)
    }
    /// `linkerd.io/inject` on the pod: `enabled` or `ingress` asks for the proxy, `disabled`
    /// refuses it. Linkerd never injects host-network pods. Namespaces say it with the same
    /// annotation, which a pod's admission request does not show.
    fn injection(&self, pod: &PodView) -> Injection {
        if pod.host_network() {
            return Injection::Refused;
        }
        match pod.annotations.get(INJECT) {
            Some("enabled" | "ingress") => Injection::Requested,
            Some("disabled") => Injection::Refused,
            _ => Injection::Unstated,
        }
    }

    /// Native mode renders no lifecycle: the `linkerd-await` postStart hook becomes a startup
    /// probe on the proxy's `/ready` endpoint (the next init container starts once it passes),
    /// and the wait-before-exit preStop sleep goes (native sidecars stop after the app anyway).
    /// Hooks Linkerd does not render are kept and said so.
    fn native_edit(
        &self,
        pod: &PodView,
        proxy: &Value,
        _settings: &MeshSettings,
    ) -> Result<NativeEdit, String> {
        let Some(Value::Object(hooks)) = proxy.get("lifecycle") else {
            return Ok(NativeEdit::default());
        };
        let mut awaited = None;
        let mut kept = Map::new();
        for (hook, handler) in hooks {
            let command = handler
                .get("exec")
                .and_then(|exec| exec.get("command"))
                .and_then(Value::as_array)
                .map(Vec::as_slice);
            match (hook.as_str(), command) {
                // Renderers write absent members as null.
                (_, _) if handler.is_null() => {}
                ("postStart", Some(command)) if is_await(command) => awaited = Some(command),
                ("preStop", Some(command)) if is_wait_before_exit(command) => {}
                _ => {
                    kept.insert(hook.clone(), handler.clone());
                }
            }
        }
        let startup_probe = awaited.map(|command| {
            let port = await_port(command)
                .or_else(|| readiness_port(proxy))
                .or_else(|| admin_port_annotation(pod))
                .unwrap_or_else(|| Value::from(DEFAULT_ADMIN_PORT));
            // As Linkerd renders it: two minutes of one-second checks, the await's own timeout.
            let mut probe = Map::new();
            probe.insert("failureThreshold".to_owned(), Value::from(120));
            probe.insert("httpGet".to_owned(), ready_http_get(port));
            probe.insert("periodSeconds".to_owned(), Value::from(1));
            Value::Object(probe)
        });
        let mut warnings = Vec::new();
        let lifecycle = if kept.is_empty() {
            LifecycleEdit::Remove
        } else {
            warnings.push(format!(
                "{PROXY} keeps its {} hook{}, which Linkerd does not render: as a native sidecar a postStart hook holds back every later init container and a preStop hook runs before the proxy stops; check that the hook still does what it should",
                join(kept.keys(), " and "),
                if kept.len() > 1 { "s" } else { "" }
            ));
            if kept.len() == hooks.len() {
                LifecycleEdit::Keep
            } else {
                LifecycleEdit::Set(Value::Object(kept))
            }
        };
        Ok(NativeEdit {
            lifecycle,
            startup_probe,
            warnings,
            ..NativeEdit::default()
        })
    }
}

impl Switch for Linkerd {
    fn annotation(&self) -> &'static str {
        NATIVE_SIDECAR[0]
    }
    fn opt_out(&self, pod: &PodView) -> Option<&'static str> {
        let annotations = pod.annotations;
        NATIVE_SIDECAR.into_iter().find_map(|key| {
            let value = parse_bool(annotations.get(key)?)?;
            Some((!value).then_some(key))
        })?
    }
    fn states_mode(&self, pod: &PodView) -> bool {
        let annotations = pod.annotations;
        NATIVE_SIDECAR.iter().any(|key| {
            annotations
                .get(key)
                .is_some_and(|v| parse_bool(v).is_some())
        })
    }
    fn request_native(&self, annotations: &mut Map<String, Value>) {
        for key in NATIVE_SIDECAR {
            annotations.insert(key.to_owned(), Value::from("true"));
        }
    }
}

/// `[/usr/lib/linkerd/linkerd-await, --timeout=2m, --port=4191]`.
fn is_await(command: &[Value]) -> bool {
    command
        .first()
        .and_then(Value::as_str)
        .is_some_and(|program| program.rsplit('/').next() == Some(AWAIT))
}

/// `[/bin/sleep, N]`, or `[/bin/bash, -c, sleep N]` from releases before 2.12.
fn is_wait_before_exit(command: &[Value]) -> bool {
    let words: Vec<&str> = command.iter().filter_map(Value::as_str).collect();
    let seconds = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match words.as_slice() {
        [sleep, n] if *sleep == "/bin/sleep" => seconds(n),
        [shell, "-c", script] if shell.ends_with("sh") => script
            .strip_prefix("sleep ")
            .is_some_and(|n| seconds(n.trim())),
        _ => false,
    }
}

/// The admin port linkerd-await polls: `--port=N` or `--port N`.
fn await_port(command: &[Value]) -> Option<Value> {
    let args: Vec<&str> = command.iter().filter_map(Value::as_str).collect();
    let text = args.iter().enumerate().find_map(|(at, arg)| {
        arg.strip_prefix("--port=").or_else(|| {
            (matches!(*arg, "--port" | "-p"))
                .then(|| args.get(at + 1).copied())
                .flatten()
        })
    })?;
    Some(port_value(text))
}

/// The proxy's readiness probe polls the same admin endpoint.
fn readiness_port(proxy: &Value) -> Option<Value> {
    let port = proxy.get("readinessProbe")?.get("httpGet")?.get("port")?;
    (port.is_u64() || port.is_string()).then(|| port.clone())
}

fn admin_port_annotation(pod: &PodView) -> Option<Value> {
    pod.annotations.get(ADMIN_PORT).map(port_value)
}

/// A numeric port as a JSON number, as Linkerd renders it; a named port as its name.
fn port_value(text: &str) -> Value {
    text.parse::<u16>()
        .map_or_else(|_| Value::from(text), Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn pod(annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": annotations}, "spec": {}})
    }

    fn await_hook(port: &str) -> Value {
        json!({"postStart": {"exec": {"command": ["/usr/lib/linkerd/linkerd-await", "--timeout=2m", format!("--port={port}")]}}})
    }

    fn startup(port: Value) -> Option<Value> {
        Some(
            json!({"failureThreshold": 120, "httpGet": {"path": "/ready", "port": port}, "periodSeconds": 1}),
        )
    }

    fn proxy(lifecycle: Option<Value>) -> Value {
        let mut proxy = json!({"name": "linkerd-proxy", "readinessProbe": {"httpGet": {"path": "/ready", "port": 4191}}});
        if let Some(lifecycle) = lifecycle {
            proxy["lifecycle"] = lifecycle;
        }
        proxy
    }

    fn edit(object: &Value, proxy: &Value) -> NativeEdit {
        Linkerd
            .native_edit(&PodView::of_pod(object), proxy, &MeshSettings::default())
            .unwrap()
    }

    #[rstest]
    #[case::default_await(Some(await_hook("4191")), LifecycleEdit::Remove, startup(json!(4191)))]
    #[case::custom_admin_port(Some(await_hook("9991")), LifecycleEdit::Remove, startup(json!(9991)))]
    #[case::await_and_wait_before_exit(
        Some(json!({"postStart": await_hook("4191")["postStart"], "preStop": {"exec": {"command": ["/bin/sleep", "30"]}}})),
        LifecycleEdit::Remove, startup(json!(4191))
    )]
    #[case::wait_before_exit_only(Some(json!({"preStop": {"exec": {"command": ["/bin/sleep", "30"]}}})), LifecycleEdit::Remove, None)]
    #[case::old_wait_before_exit(Some(json!({"preStop": {"exec": {"command": ["/bin/bash", "-c", "sleep 30"]}}})), LifecycleEdit::Remove, None)]
    #[case::await_disabled(None, LifecycleEdit::Keep, None)]
    #[case::null_members(Some(json!({"postStart": await_hook("4191")["postStart"], "preStop": null})), LifecycleEdit::Remove, startup(json!(4191)))]
    #[case::await_without_port(
        Some(json!({"postStart": {"exec": {"command": ["/usr/lib/linkerd/linkerd-await"]}}})),
        LifecycleEdit::Remove, startup(json!(4191))
    )]
    #[case::await_port_flag(
        Some(json!({"postStart": {"exec": {"command": ["linkerd-await", "--port", "5000"]}}})),
        LifecycleEdit::Remove, startup(json!(5000))
    )]
    fn linkerd_hooks_become_a_startup_probe(
        #[case] lifecycle: Option<Value>,
        #[case] expected: LifecycleEdit,
        #[case] probe: Option<Value>,
    ) {
        let edit = edit(&pod(json!({})), &proxy(lifecycle));
        assert_eq!(edit.lifecycle, expected);
        assert_eq!(edit.startup_probe, probe);
        assert_eq!(edit.warnings, Vec::<String>::new());
    }

    #[test]
    fn admin_port_falls_back_to_the_readiness_probe_then_the_annotation() {
        let bare_await = json!({"postStart": {"exec": {"command": ["/usr/lib/linkerd/linkerd-await", "--timeout=2m"]}}});
        let mut custom = proxy(Some(bare_await.clone()));
        custom["readinessProbe"]["httpGet"]["port"] = json!(5191);
        assert_eq!(
            edit(&pod(json!({})), &custom).startup_probe,
            startup(json!(5191))
        );
        let mut unprobed = proxy(Some(bare_await));
        unprobed
            .as_object_mut()
            .map(|p| p.shift_remove("readinessProbe"));
        assert_eq!(
            edit(&pod(json!({ADMIN_PORT: "6191"})), &unprobed).startup_probe,
            startup(json!(6191))
        );
        assert_eq!(
            edit(&pod(json!({})), &unprobed).startup_probe,
            startup(json!(4191))
        );
    }

    #[rstest]
    #[case::custom_pre_stop(
        json!({"postStart": await_hook("4191")["postStart"], "preStop": {"exec": {"command": ["/drain.sh"]}}}),
        LifecycleEdit::Set(json!({"preStop": {"exec": {"command": ["/drain.sh"]}}})),
        "linkerd-proxy keeps its preStop hook, which Linkerd does not render: as a native sidecar a postStart hook holds back every later init container and a preStop hook runs before the proxy stops; check that the hook still does what it should"
    )]
    #[case::custom_both(
        json!({"postStart": {"exec": {"command": ["echo"]}}, "preStop": {"httpGet": {"path": "/shutdown", "port": 4191}}}),
        LifecycleEdit::Keep,
        "linkerd-proxy keeps its postStart and preStop hooks, which Linkerd does not render: as a native sidecar a postStart hook holds back every later init container and a preStop hook runs before the proxy stops; check that the hook still does what it should"
    )]
    fn other_hooks_are_kept_with_a_warning(
        #[case] lifecycle: Value,
        #[case] expected: LifecycleEdit,
        #[case] warning: &str,
    ) {
        let edit = edit(&pod(json!({})), &proxy(Some(lifecycle)));
        assert_eq!(edit.lifecycle, expected);
        assert_eq!(edit.warnings, [warning]);
    }

    #[rstest]
    #[case::none(json!({}), false, None)]
    #[case::native(json!({NATIVE_SIDECAR[0]: "true"}), true, None)]
    #[case::classic(json!({NATIVE_SIDECAR[0]: "false"}), true, Some(NATIVE_SIDECAR[0]))]
    #[case::classic_beta(json!({NATIVE_SIDECAR[1]: "false"}), true, Some(NATIVE_SIDECAR[1]))]
    #[case::classic_alpha(json!({NATIVE_SIDECAR[2]: "0"}), true, Some(NATIVE_SIDECAR[2]))]
    // The newest name decides when several are set.
    #[case::newest_wins(json!({NATIVE_SIDECAR[2]: "false", NATIVE_SIDECAR[0]: "true"}), true, None)]
    #[case::newest_says_classic(json!({NATIVE_SIDECAR[1]: "true", NATIVE_SIDECAR[0]: "False"}), true, Some(NATIVE_SIDECAR[0]))]
    // A value Linkerd cannot parse is ignored by its injector, and so here.
    #[case::unparsable(json!({NATIVE_SIDECAR[0]: "no"}), false, None)]
    #[case::unparsable_then_classic(json!({NATIVE_SIDECAR[0]: "no", NATIVE_SIDECAR[2]: "false"}), true, Some(NATIVE_SIDECAR[2]))]
    fn native_switch(
        #[case] annotations: Value,
        #[case] states: bool,
        #[case] opt_out: Option<&str>,
    ) {
        let pod = pod(annotations);
        let pod = PodView::of_pod(&pod);
        assert_eq!(Linkerd.states_mode(&pod), states);
        assert_eq!(Linkerd.opt_out(&pod), opt_out);
    }

    #[rstest]
    #[case::unstated(json!({"metadata": {}}), Injection::Unstated)]
    #[case::enabled(json!({"metadata": {"annotations": {INJECT: "enabled"}}}), Injection::Requested)]
    #[case::ingress(json!({"metadata": {"annotations": {INJECT: "ingress"}}}), Injection::Requested)]
    #[case::disabled(json!({"metadata": {"annotations": {INJECT: "disabled"}}}), Injection::Refused)]
    #[case::host_network(json!({"metadata": {"annotations": {INJECT: "enabled"}}, "spec": {"hostNetwork": true}}), Injection::Refused)]
    fn injection(#[case] pod: Value, #[case] expected: Injection) {
        assert_eq!(Linkerd.injection(&PodView::of_pod(&pod)), expected);
    }

    #[test]
    fn requests_native_under_every_name() {
        let mut annotations = Map::new();
        Linkerd.request_native(&mut annotations);
        assert_eq!(
            Value::Object(annotations),
            json!({NATIVE_SIDECAR[0]: "true", NATIVE_SIDECAR[1]: "true", NATIVE_SIDECAR[2]: "true"})
        );
    }
}
