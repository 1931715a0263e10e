//! Kuma: what its injector renders differently with sidecar containers on (`../shared/SPEC.md`
//! section 11; kumahq/kuma `pkg/plugins/runtime/k8s/webhooks/injector/injector.go` `InjectKuma`,
//! `containers/factory.go`, `probes/`), and the startup probe timings of its control plane, which
//! the pod does not show: the `kuma` settings section.
//!
//! Kuma has no per-pod switch: its control plane renders native sidecars for every pod or for none
//! (2.7 to 2.13 behind `experimental.sidecarContainers`, on by default from 2.14), so the policy
//! converts and reorders Kuma's proxy but never asks Kuma for native injection.

use serde_json::{Map, Value, json};

use super::{
    FieldEdit, Injection, LifecycleEdit, Mesh, MeshSettings, NativeEdit, PROBE_TIMINGS, Timings,
    ready_http_get, section,
};
use crate::pod::{PodView, name, restart_policy};

const PROXY: &str = "kuma-sidecar";
/// The builtin gateway's container (a MeshGatewayInstance's Deployment): Kuma's proxy as the
/// workload, with no `kuma-sidecar`.
const GATEWAY: &str = "kuma-gateway";
const INJECTION: &str = "kuma.io/sidecar-injection";
const ADMIN_PORT: &str = "kuma.io/envoy-admin-port";
const PROBE_PROXY_PORT: &str = "kuma.io/application-probe-proxy-port";
const VIRTUAL_PROBES: &str = "kuma.io/virtual-probes";
const VIRTUAL_PROBES_PORT: &str = "kuma.io/virtual-probes-port";
/// kuma-cp's default Envoy admin port, which an admin port of 0 stands for in `factory.go`.
const DEFAULT_ADMIN_PORT: u32 = 9901;
/// `X-Kuma-Probes-*`, as Kuma 2.14 writes them: the spelling of `probes/headers.go` in the
/// injector goldens of the releases with native sidecars, and Go's canonical header form, which
/// the kuma-dp prober of those releases looks up as is. (An earlier `headers.go` wrote
/// `x-kuma-probes-*`.)
const HEADER_PREFIX: &str = "X-Kuma-Probes-";
/// The lifecycle `InjectKuma` gives a native `kuma-sidecar`: the drain signal to kuma-dp.
const DRAIN: &str = r#"{"preStop":{"exec":{"command":["killall","-USR2","kuma-dp"]}}}"#;

/// kuma-cp's defaults for `runtime.kubernetes.injector.sidecarContainer.startupProbe`, in the
/// order of [`PROBE_TIMINGS`].
const DEFAULT_TIMINGS: Timings = Timings([1, 3, 5, 12]);

pub(crate) struct Kuma;

impl Mesh for Kuma {
    fn id(&self) -> &'static str {
        "kuma"
    }
    fn title(&self) -> &'static str {
        "Kuma"
    }
    fn proxy(&self) -> &'static str {
        PROXY
    }
    /// `kuma-init` sets up iptables; with Kuma's CNI `kuma-validation` checks its rules when
    /// inbound traffic is redirected, and a gateway on CNI has neither.
    fn setup(&self) -> &'static [&'static str] {
        &["kuma-init", "kuma-validation"]
    }
    fn gateways(&self) -> &'static [&'static str] {
        &[GATEWAY]
    }

    /// `kuma.io/sidecar-injection` on the pod, read as Kuma reads it (`true`, `yes`, `enabled`;
    /// `false`, `no`, `disabled`). Kuma's injector reads the label; the builtin gateway's
    /// controller writes `disabled` as an annotation, so both count.
    fn injection(&self, pod: &PodView) -> Injection {
        let label = pod
            .labels()
            .and_then(|labels| labels.get(INJECTION))
            .and_then(Value::as_str);
        match label
            .or_else(|| pod.annotations.get(INJECTION))
            .map(enabled)
        {
            Some(Some(true)) => Injection::Requested,
            Some(Some(false)) => Injection::Refused,
            _ => Injection::Unstated,
        }
    }

    /// `InjectKuma` with sidecar containers on: the whole lifecycle becomes the `kuma-dp` drain
    /// signal (the `kuma-dp wait` postStart of `kuma.io/wait-for-dataplane-ready` goes: the
    /// startup probe holds the next containers instead), the factory adds its startup probe, and
    /// the user's own native sidecars, which now start after the proxy, get their probes routed
    /// as the application containers' already are.
    fn native_edit(
        &self,
        pod: &PodView,
        proxy: &Value,
        settings: &MeshSettings,
    ) -> Result<NativeEdit, String> {
        Ok(NativeEdit {
            lifecycle: LifecycleEdit::Set(
                serde_json::from_slice(DRAIN.as_bytes()).unwrap_or_default(),
            ),
            startup_probe: Some(startup_probe(pod, proxy, &settings.kuma.startup_probe.0)),
            init_fields: sidecar_probes(pod)?,
            ..NativeEdit::default()
        })
    }
}

/// The `kuma` settings section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KumaSettings {
    /// The startup probe timings of kuma-cp's configuration.
    startup_probe: Timings,
}

impl Default for KumaSettings {
    fn default() -> Self {
        KumaSettings {
            startup_probe: DEFAULT_TIMINGS,
        }
    }
}

impl KumaSettings {
    /// `{startupProbe: {initialDelaySeconds, timeoutSeconds, periodSeconds, failureThreshold}}`,
    /// each part optional; null is the defaults.
    pub fn parse(value: &Value) -> Result<KumaSettings, String> {
        let mut settings = KumaSettings::default();
        for (key, value) in section(
            value,
            "kuma",
            "{\"startupProbe\": {\"failureThreshold\": 12}}",
        )? {
            if key != "startupProbe" {
                return Err(format!(
                    "unknown key \"{key}\" in kuma: the section has \"startupProbe\", the timings of the startup probe Kuma's control plane gives kuma-sidecar"
                ));
            }
            settings.startup_probe = settings.startup_probe.parse(
                value,
                "kuma.startupProbe",
                "kuma-cp's runtime.kubernetes.injector.sidecarContainer.startupProbe",
                "Kuma",
            )?;
        }
        Ok(settings)
    }

    pub fn to_json(&self) -> Value {
        json!({"startupProbe": self.startup_probe.to_json()})
    }
}

/// `metadata.Annotations.GetEnabled`: `None` for a value Kuma refuses.
fn enabled(value: &str) -> Option<bool> {
    match value {
        "enabled" | "true" | "yes" => Some(true),
        "disabled" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// The factory's native startup probe: `/ready` on the proxy's probe port, which its liveness
/// and readiness probes already poll, with the control plane's timings; a timing of 0 is left
/// out, as Go's `omitempty` renders it.
fn startup_probe(pod: &PodView, proxy: &Value, timings: &[u32; 4]) -> Value {
    let polled = ["livenessProbe", "readinessProbe"]
        .iter()
        .find_map(|probe| proxy.get(probe)?.get("httpGet")?.get("port"));
    // Without both probes (a ContainerPatch removed them) the factory's own port: the pod's admin
    // port, where 0 means kuma-cp's default. (After 2.14 a control plane whose admin port is 0
    // polls kuma-dp's readiness port instead; the probes copied above show it.)
    let port = polled.cloned().unwrap_or_else(|| {
        let annotated = pod.annotations.get(ADMIN_PORT).and_then(|p| p.parse().ok());
        Value::from(annotated.filter(|p| *p != 0).unwrap_or(DEFAULT_ADMIN_PORT))
    });
    let mut probe = Map::new();
    probe.insert("httpGet".into(), ready_http_get(port));
    for (at, key) in PROBE_TIMINGS.iter().enumerate() {
        if at == 3 {
            probe.insert("successThreshold".into(), Value::from(1));
        }
        if timings[at] != 0 {
            probe.insert((*key).into(), Value::from(timings[at]));
        }
    }
    Value::Object(probe)
}

/// Where Kuma routes the kubelet's probes of a meshed container, from the pod's annotations
/// (its injector always writes them): its application probe proxy when
/// `kuma.io/application-probe-proxy-port` is above 0, else its virtual probes when
/// `kuma.io/virtual-probes` is enabled (`InjectKuma`'s last step).
#[derive(Clone, Copy)]
enum Route {
    /// `probes/probe_converter.go`: HTTP, TCP and gRPC probes become HTTP probes on the port.
    ProbeProxy(i64),
    /// `injector/probes.go`: HTTP probes move to the port; the others stay.
    Virtual(i64),
}

impl Route {
    fn of(pod: &PodView) -> Option<Route> {
        let port = |key| pod.annotations.get(key).and_then(|p| p.parse::<u32>().ok());
        match port(PROBE_PROXY_PORT) {
            Some(port) if port > 0 => Some(Route::ProbeProxy(port.into())),
            _ => {
                let on = pod.annotations.get(VIRTUAL_PROBES).and_then(enabled);
                // Without a port Kuma would write port 0, which the API server refuses.
                let port = port(VIRTUAL_PROBES_PORT).filter(|p| *p > 0)?;
                (on == Some(true)).then_some(Route::Virtual(port.into()))
            }
        }
    }

    fn port(self) -> i64 {
        match self {
            Route::ProbeProxy(port) | Route::Virtual(port) => port,
        }
    }

    fn annotation(self) -> &'static str {
        match self {
            Route::ProbeProxy(_) => PROBE_PROXY_PORT,
            Route::Virtual(_) => VIRTUAL_PROBES_PORT,
        }
    }

    /// `probe` of `container` routed this way; `None` when it stays as it is; `Err` with the
    /// probe's port when that is the route's own port, which Kuma refuses.
    fn rewrite(self, probe: &Map<String, Value>, container: &Value) -> Result<Option<Value>, i64> {
        let handler = |key| probe.get(key).filter(|h| h.is_object());
        let (http, tcp, grpc) = (handler("httpGet"), handler("tcpSocket"), handler("grpc"));
        // `/<port><path>` for HTTP, `/tcp/<port>` and `/grpc/<port>` through the probe proxy.
        let (port, kind, path) = match (self, http, tcp, grpc) {
            (_, Some(http), _, _) => {
                let path = http.get("path").and_then(Value::as_str).unwrap_or_default();
                (port_of(http.get("port"), container), "", path)
            }
            (Route::ProbeProxy(_), None, Some(tcp), _) => {
                (port_of(tcp.get("port"), container), "tcp/", "")
            }
            (Route::ProbeProxy(_), None, None, Some(grpc)) => (
                grpc.get("port").and_then(Value::as_i64).unwrap_or_default(),
                "grpc/",
                "",
            ),
            _ => return Ok(None),
        };
        if port == self.port() {
            return Err(port);
        }
        let slash = if path.is_empty() || path.starts_with('/') {
            ""
        } else {
            "/"
        };
        let path = Value::from(format!("/{kind}{port}{slash}{path}"));
        let mut routed = match (self, http) {
            // Virtual probes: only the port and the path change.
            (Route::Virtual(_), Some(http)) => http.as_object().cloned().unwrap_or_default(),
            _ => Map::new(),
        };
        routed.insert("path".into(), path);
        routed.insert("port".into(), Value::from(self.port()));
        if let Route::ProbeProxy(_) = self {
            let headers = probe_proxy_headers(probe, http, grpc);
            if !headers.is_empty() {
                routed.insert("httpHeaders".into(), Value::Array(headers));
            }
        }
        // The new handler takes the old one's place among the probe's fields; the probe proxy
        // replaces every network handler, virtual probes only `httpGet`.
        let replaced: &[&str] = match self {
            Route::ProbeProxy(_) => &["httpGet", "tcpSocket", "grpc"],
            Route::Virtual(_) => &["httpGet"],
        };
        let mut out = Map::new();
        let mut routed = Some(Value::Object(routed));
        for (key, value) in probe {
            if !replaced.contains(&key.as_str()) {
                out.insert(key.clone(), value.clone());
            } else if let Some(routed) = routed.take() {
                out.insert("httpGet".into(), routed);
            }
        }
        Ok(Some(Value::Object(out)))
    }
}

/// The headers of a probe through Kuma's probe proxy: the user's, `Host` under Kuma's name in its
/// place, then the scheme, the timeout and the gRPC service.
fn probe_proxy_headers(
    probe: &Map<String, Value>,
    http: Option<&Value>,
    grpc: Option<&Value>,
) -> Vec<Value> {
    fn text(value: Option<&Value>) -> &str {
        value.and_then(Value::as_str).unwrap_or_default()
    }
    let mut headers = Vec::new();
    let given = http
        .and_then(|h| h.get("httpHeaders"))
        .and_then(Value::as_array);
    for entry in given.into_iter().flatten() {
        headers.push(if text(entry.get("name")) == "Host" {
            header("Host", text(entry.get("value")))
        } else {
            entry.clone()
        });
    }
    let scheme = text(http.and_then(|h| h.get("scheme")));
    if !matches!(scheme, "" | "HTTP") {
        headers.push(header("Scheme", scheme));
    }
    let timeout = probe
        .get("timeoutSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if timeout > 1 {
        headers.push(header("Timeout", &timeout.to_string()));
    }
    let service = text(grpc.and_then(|g| g.get("service")));
    if !service.is_empty() {
        headers.push(header("GRPC-Service", service));
    }
    headers
}

/// `{"name": "X-Kuma-Probes-<name>", "value": value}`.
fn header(name: &str, value: &str) -> Value {
    let mut header = Map::new();
    header.insert("name".into(), Value::from(format!("{HEADER_PREFIX}{name}")));
    header.insert("value".into(), Value::from(value));
    Value::Object(header)
}

/// A probe's port as Kuma reads it (`intstr.IntValue`, then the container's named ports); 0 when
/// it is neither a number nor one of them.
fn port_of(port: Option<&Value>, container: &Value) -> i64 {
    match port {
        Some(Value::Number(number)) => number.as_i64().unwrap_or_default(),
        Some(Value::String(text)) => match text.parse::<i32>() {
            Ok(number) if number != 0 => number.into(),
            _ => container
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(text.as_str()))
                .and_then(|p| p.get("containerPort")?.as_i64())
                .unwrap_or_default(),
        },
        _ => 0,
    }
}

/// The probes of the user's own native sidecars routed as Kuma routes them in native mode: every
/// init container with `restartPolicy: Always` that is no mesh's (each ends up after
/// `kuma-sidecar`). In classic mode Kuma leaves them as they are.
fn sidecar_probes(pod: &PodView) -> Result<Vec<FieldEdit>, String> {
    let Some(route) = Route::of(pod) else {
        return Ok(Vec::new());
    };
    let mut edits = Vec::new();
    for (at, container) in pod.init.iter().enumerate() {
        let own = name(container).and_then(super::owner_of).is_some();
        if own || restart_policy(container) != Some("Always") {
            continue;
        }
        for field in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let Some(Value::Object(probe)) = container.get(field) else {
                continue;
            };
            match route.rewrite(probe, container) {
                Ok(Some(value)) => edits.push(FieldEdit { at, field, value }),
                Ok(None) => {}
                Err(port) => {
                    return Err(format!(
                        "{path}.initContainers[{at}] \"{name}\" has a {field} on port {port}, which {annotation} reserves for Kuma's probes: Kuma refuses to run such a pod with native sidecars; probe another port, or give {annotation} another port",
                        path = pod.kind.spec_path(),
                        name = name(container).unwrap_or_default(),
                        annotation = route.annotation(),
                    ));
                }
            }
        }
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn pod(annotations: Value, init: Vec<Value>) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": annotations},
               "spec": {"initContainers": init, "containers": [{"name": "app"}]}})
    }

    fn proxy() -> Value {
        json!({"name": "kuma-sidecar",
               "livenessProbe": {"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 60},
               "readinessProbe": {"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 1}})
    }

    fn edit(object: &Value, proxy: &Value, settings: &MeshSettings) -> Result<NativeEdit, String> {
        Kuma.native_edit(&PodView::of_pod(object), proxy, settings)
    }

    fn settings(value: Value) -> MeshSettings {
        let mut settings = MeshSettings::default();
        settings.parse("kuma", &value).unwrap().unwrap();
        settings
    }

    #[rstest]
    #[case::defaults(json!(null), json!({"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 12}))]
    #[case::fixtures(
        json!({"startupProbe": {"initialDelaySeconds": 261, "timeoutSeconds": 24, "periodSeconds": 26, "failureThreshold": 213}}),
        json!({"httpGet": {"path": "/ready", "port": 9901}, "initialDelaySeconds": 261, "timeoutSeconds": 24, "periodSeconds": 26, "successThreshold": 1, "failureThreshold": 213})
    )]
    // A configuration without a startupProbe block: every timing 0, none written.
    #[case::zeros(
        json!({"startupProbe": {"initialDelaySeconds": 0, "timeoutSeconds": 0, "periodSeconds": 0, "failureThreshold": 0}}),
        json!({"httpGet": {"path": "/ready", "port": 9901}, "successThreshold": 1})
    )]
    #[case::some_zeros(
        json!({"startupProbe": {"initialDelaySeconds": 0, "timeoutSeconds": 2, "periodSeconds": 0, "failureThreshold": 30}}),
        json!({"httpGet": {"path": "/ready", "port": 9901}, "timeoutSeconds": 2, "successThreshold": 1, "failureThreshold": 30})
    )]
    fn startup_probe_timings_come_from_the_settings(
        #[case] section: Value,
        #[case] expected: Value,
    ) {
        let edit = edit(&pod(json!({}), vec![]), &proxy(), &settings(section)).unwrap();
        assert_eq!(edit.startup_probe, Some(expected));
        assert_eq!(
            edit.lifecycle,
            LifecycleEdit::Set(
                json!({"preStop": {"exec": {"command": ["killall", "-USR2", "kuma-dp"]}}})
            )
        );
        assert_eq!(edit.init_fields, vec![]);
    }

    #[rstest]
    #[case::liveness(proxy(), json!({}), json!(9901))]
    #[case::custom_admin_port(json!({"livenessProbe": {"httpGet": {"path": "/ready", "port": 9911}}}), json!({ADMIN_PORT: "9911"}), json!(9911))]
    // After 2.14, with the admin port on a Unix socket, Kuma polls kuma-dp's readiness port.
    #[case::readiness_port(json!({"livenessProbe": {"httpGet": {"path": "/ready", "port": 9902}}}), json!({ADMIN_PORT: "0"}), json!(9902))]
    #[case::readiness_only(json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 9911}}}), json!({}), json!(9911))]
    #[case::no_probes_annotation(json!({}), json!({ADMIN_PORT: "9911"}), json!(9911))]
    #[case::no_probes_zero(json!({}), json!({ADMIN_PORT: "0"}), json!(9901))]
    #[case::no_probes(json!({}), json!({}), json!(9901))]
    fn startup_probe_polls_the_proxys_probe_port(
        #[case] proxy: Value,
        #[case] annotations: Value,
        #[case] port: Value,
    ) {
        let edit = edit(&pod(annotations, vec![]), &proxy, &MeshSettings::default()).unwrap();
        assert_eq!(
            edit.startup_probe.unwrap()["httpGet"],
            json!({"path": "/ready", "port": port})
        );
    }

    fn sidecar(probes: Value) -> Value {
        let mut sidecar = json!({"name": "metrics", "restartPolicy": "Always",
                                 "ports": [{"name": "http", "containerPort": 8080}]});
        if let (Some(sidecar), Value::Object(probes)) = (sidecar.as_object_mut(), probes) {
            sidecar.extend(probes);
        }
        sidecar
    }

    fn routed(annotations: Value, probe: Value) -> Result<Vec<FieldEdit>, String> {
        let object = pod(annotations, vec![sidecar(json!({"readinessProbe": probe}))]);
        edit(&object, &proxy(), &MeshSettings::default()).map(|e| e.init_fields)
    }

    fn probe_proxy() -> Value {
        json!({PROBE_PROXY_PORT: "9000", VIRTUAL_PROBES: "disabled", VIRTUAL_PROBES_PORT: "9000"})
    }

    fn virtual_probes() -> Value {
        json!({PROBE_PROXY_PORT: "0", VIRTUAL_PROBES: "enabled", VIRTUAL_PROBES_PORT: "9000"})
    }

    #[rstest]
    #[case::http_named_port(
        probe_proxy(),
        json!({"httpGet": {"path": "/metrics", "port": "http"}, "periodSeconds": 3}),
        Some(json!({"httpGet": {"path": "/8080/metrics", "port": 9000}, "periodSeconds": 3}))
    )]
    #[case::http_headers(
        probe_proxy(),
        json!({"httpGet": {"path": "healthz", "port": 8081, "scheme": "HTTPS", "httpHeaders": [{"name": "A", "value": "1"}, {"name": "Host", "value": "x.example"}, {"name": "B", "value": "2"}]}, "timeoutSeconds": 5}),
        Some(json!({"httpGet": {"path": "/8081/healthz", "port": 9000, "httpHeaders": [
            {"name": "A", "value": "1"}, {"name": "X-Kuma-Probes-Host", "value": "x.example"}, {"name": "B", "value": "2"},
            {"name": "X-Kuma-Probes-Scheme", "value": "HTTPS"}, {"name": "X-Kuma-Probes-Timeout", "value": "5"}]}, "timeoutSeconds": 5}))
    )]
    #[case::tcp(
        probe_proxy(),
        json!({"tcpSocket": {"port": "http"}, "timeoutSeconds": 1}),
        Some(json!({"httpGet": {"path": "/tcp/8080", "port": 9000}, "timeoutSeconds": 1}))
    )]
    #[case::grpc(
        probe_proxy(),
        json!({"initialDelaySeconds": 2, "grpc": {"port": 8082, "service": "health"}, "timeoutSeconds": 2}),
        Some(json!({"initialDelaySeconds": 2, "httpGet": {"path": "/grpc/8082", "port": 9000, "httpHeaders": [
            {"name": "X-Kuma-Probes-Timeout", "value": "2"}, {"name": "X-Kuma-Probes-GRPC-Service", "value": "health"}]}, "timeoutSeconds": 2}))
    )]
    #[case::exec(probe_proxy(), json!({"exec": {"command": ["true"]}}), None)]
    #[case::virtual_http(
        virtual_probes(),
        json!({"httpGet": {"path": "/metrics", "port": "http", "scheme": "HTTPS", "httpHeaders": [{"name": "Host", "value": "x"}]}, "timeoutSeconds": 5}),
        Some(json!({"httpGet": {"path": "/8080/metrics", "port": 9000, "scheme": "HTTPS", "httpHeaders": [{"name": "Host", "value": "x"}]}, "timeoutSeconds": 5}))
    )]
    #[case::virtual_tcp(virtual_probes(), json!({"tcpSocket": {"port": 8080}}), None)]
    #[case::virtual_grpc(virtual_probes(), json!({"grpc": {"port": 8082}}), None)]
    #[case::neither(json!({PROBE_PROXY_PORT: "0", VIRTUAL_PROBES: "disabled", VIRTUAL_PROBES_PORT: "9000"}), json!({"httpGet": {"path": "/", "port": 8080}}), None)]
    #[case::no_annotations(json!({}), json!({"httpGet": {"path": "/", "port": 8080}}), None)]
    // An unresolved name is port 0 to Kuma.
    #[case::unknown_name(
        probe_proxy(),
        json!({"httpGet": {"path": "/", "port": "admin"}}),
        Some(json!({"httpGet": {"path": "/0/", "port": 9000}}))
    )]
    fn user_sidecar_probes_are_routed_like_kumas(
        #[case] annotations: Value,
        #[case] probe: Value,
        #[case] expected: Option<Value>,
    ) {
        let expected: Vec<FieldEdit> = expected
            .into_iter()
            .map(|value| FieldEdit {
                at: 0,
                field: "readinessProbe",
                value,
            })
            .collect();
        assert_eq!(routed(annotations, probe), Ok(expected));
    }

    #[test]
    fn only_user_native_sidecars_are_routed() {
        let probe = json!({"httpGet": {"path": "/", "port": 8080}});
        let object = pod(
            probe_proxy(),
            vec![
                json!({"name": "migrate"}),
                json!({"name": "linkerd-proxy", "restartPolicy": "Always", "readinessProbe": probe}),
                json!({"name": "kuma-init"}),
                sidecar(json!({"livenessProbe": probe, "startupProbe": probe})),
            ],
        );
        let routed = json!({"httpGet": {"path": "/8080/", "port": 9000}});
        assert_eq!(
            edit(&object, &proxy(), &MeshSettings::default()).map(|e| e.init_fields),
            Ok(vec![
                FieldEdit {
                    at: 3,
                    field: "livenessProbe",
                    value: routed.clone()
                },
                FieldEdit {
                    at: 3,
                    field: "startupProbe",
                    value: routed
                },
            ])
        );
    }

    #[rstest]
    #[case::probe_proxy(probe_proxy(), json!({"httpGet": {"path": "/", "port": 9000}}), PROBE_PROXY_PORT)]
    #[case::probe_proxy_tcp(probe_proxy(), json!({"tcpSocket": {"port": "9000"}}), PROBE_PROXY_PORT)]
    #[case::virtual_probes(virtual_probes(), json!({"httpGet": {"path": "/", "port": 9000}}), VIRTUAL_PROBES_PORT)]
    fn a_probe_on_kumas_port_is_refused(
        #[case] annotations: Value,
        #[case] probe: Value,
        #[case] annotation: &str,
    ) {
        assert_eq!(
            routed(annotations, probe),
            Err(format!(
                "spec.initContainers[0] \"metrics\" has a readinessProbe on port 9000, which {annotation} reserves for Kuma's probes: Kuma refuses to run such a pod with native sidecars; probe another port, or give {annotation} another port"
            ))
        );
    }

    #[rstest]
    #[case::unstated(json!({"metadata": {}}), Injection::Unstated)]
    #[case::label(json!({"metadata": {"labels": {INJECTION: "enabled"}}}), Injection::Requested)]
    #[case::label_true(json!({"metadata": {"labels": {INJECTION: "true"}}}), Injection::Requested)]
    #[case::label_disabled(json!({"metadata": {"labels": {INJECTION: "disabled"}}}), Injection::Refused)]
    // The builtin gateway's controller writes the annotation.
    #[case::annotation_disabled(json!({"metadata": {"annotations": {INJECTION: "disabled"}}}), Injection::Refused)]
    #[case::label_wins(json!({"metadata": {"labels": {INJECTION: "enabled"}, "annotations": {INJECTION: "disabled"}}}), Injection::Requested)]
    #[case::unknown_value(json!({"metadata": {"labels": {INJECTION: "on"}}}), Injection::Unstated)]
    fn injection(#[case] pod: Value, #[case] expected: Injection) {
        assert_eq!(Kuma.injection(&PodView::of_pod(&pod)), expected);
    }

    #[test]
    fn settings_round_trip() {
        let section = json!({"startupProbe": {"initialDelaySeconds": 0, "timeoutSeconds": 2, "periodSeconds": 7, "failureThreshold": 30}});
        let parsed = KumaSettings::parse(&section).unwrap();
        assert_eq!(parsed.to_json(), section);
        assert_eq!(
            KumaSettings::default().to_json(),
            json!({"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "failureThreshold": 12}})
        );
        // Parts left out keep kuma-cp's defaults.
        let partial =
            KumaSettings::parse(&json!({"startupProbe": {"failureThreshold": 30}})).unwrap();
        assert_eq!(partial.startup_probe, Timings([1, 3, 5, 30]));
        assert_eq!(
            KumaSettings::parse(&json!({"startupProbe": null})),
            Ok(KumaSettings::default())
        );
    }
}
