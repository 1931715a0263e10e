//! Generated pods and workloads for the property tests, and the properties themselves as checks on
//! one input/output pair. Shared by `crates/core/tests/properties.rs`, the policy's
//! `tests/properties.rs` and the `k8s-objects` example (each includes this file by path, so not
//! every includer uses every item).
#![allow(dead_code)]

use native_sidecar_core::{ALL_KINDS, Kind, MeshSettings, Mode, Settings, SidecarRule};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Map, Value, json};

pub const ISTIO_PROXY: &str = "istio-proxy";
pub const ISTIO_SETUP: [&str; 2] = ["istio-init", "istio-validation"];
pub const ENABLE_CORE_DUMP: &str = "enable-core-dump";
pub const LINKERD_PROXY: &str = "linkerd-proxy";
pub const LINKERD_SETUP: [&str; 2] = ["linkerd-init", "linkerd-network-validator"];
/// Linkerd's native switch, newest name first.
pub const LINKERD_NATIVE: [&str; 3] = [
    "config.linkerd.io/proxy-enable-native-sidecar",
    "config.beta.linkerd.io/proxy-enable-native-sidecar",
    "config.alpha.linkerd.io/proxy-enable-native-sidecar",
];
pub const KUMA_PROXY: &str = "kuma-sidecar";
pub const KUMA_SETUP: [&str; 2] = ["kuma-init", "kuma-validation"];
/// A builtin gateway's container: Kuma's proxy as the workload.
const KUMA_GATEWAY: &str = "kuma-gateway";
/// The pod annotations that say where Kuma routes probes: its probe proxy's port, then whether
/// virtual probes are on and their port.
const KUMA_PROBE_PROXY_PORT: &str = "kuma.io/application-probe-proxy-port";
const KUMA_VIRTUAL_PROBES: &str = "kuma.io/virtual-probes";
const KUMA_VIRTUAL_PROBES_PORT: &str = "kuma.io/virtual-probes-port";
pub const CONSUL_PROXY: &str = "consul-dataplane";
pub const CONSUL_INIT: &str = "consul-connect-inject-init";
/// Consul's native switch, which its webhook reads with Go's ParseBool.
const CONSUL_NATIVE: &str = "consul.hashicorp.com/enable-consul-dataplane-as-sidecar";
const CONSUL_STATUS: &str = "consul.hashicorp.com/connect-inject-status";
const CONSUL_INJECT: &str = "consul.hashicorp.com/connect-inject";
const CONSUL_GATEWAY_KIND: &str = "consul.hashicorp.com/gateway-kind";
const CONSUL_PERIOD: &str = "consul.hashicorp.com/sidecar-probe-period-seconds";
/// Dataplane images, new enough for the native startup probe or not.
const CONSUL_IMAGES: [(&str, bool); 4] = [
    ("hashicorp/consul-dataplane:1.9.0", true),
    ("hashicorp/consul-dataplane-enterprise:v1.8.2-ent", true),
    ("hashicorp/consul-dataplane:1.6.8", false),
    ("hashicorp/consul-dataplane:latest", false),
];
/// The annotations the rules name; the lossless property sets them aside.
pub const RULE_ANNOTATIONS: [&str; 7] = [
    "sidecar.istio.io/status",
    "proxy.istio.io/overrides",
    "sidecar.istio.io/nativeSidecar",
    LINKERD_NATIVE[0],
    LINKERD_NATIVE[1],
    LINKERD_NATIVE[2],
    CONSUL_NATIVE,
];
const VAULT: &str = "vault-agent";
const VAULT_INIT: &str = "vault-agent-init";
const SHIPPER: &str = "log-shipper";

/// What kind of objects to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Only objects the API server would accept: unique names, no probes or lifecycle on regular
    /// init containers, `restartPolicy` only `Always` and only on init containers.
    pub valid: bool,
    /// Add fields and annotations no Kubernetes version knows (off for the schema check).
    pub unknown_fields: bool,
}

pub const ANY: Shape = Shape {
    valid: false,
    unknown_fields: true,
};
pub const VALID: Shape = Shape {
    valid: true,
    unknown_fields: true,
};
pub const SCHEMA: Shape = Shape {
    valid: true,
    unknown_fields: false,
};

/// One generated object and the settings to review it with.
#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: Kind,
    pub object: Value,
    pub settings: Settings,
}

/// Where a proxy (Istio's or a declared sidecar) sits in the generated pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Absent,
    Classic,
    Native,
    // The invalid placements below only appear when `Shape::valid` is false.
    /// In both lists.
    Both,
    /// Twice in `initContainers`.
    TwiceNative,
    /// In `initContainers` without `restartPolicy: Always`.
    NativeNotRestarting,
}

fn place(shape: Shape) -> BoxedStrategy<Place> {
    let valid = prop_oneof![
        2 => Just(Place::Absent),
        3 => Just(Place::Classic),
        3 => Just(Place::Native),
    ];
    if shape.valid {
        valid.boxed()
    } else {
        prop_oneof![
            8 => valid,
            1 => Just(Place::Both),
            1 => Just(Place::TwiceNative),
            1 => Just(Place::NativeNotRestarting),
        ]
        .boxed()
    }
}

/// Linkerd's proxy is absent more often than Istio's: pods with both meshes are rare.
fn linkerd_place(shape: Shape) -> BoxedStrategy<Place> {
    prop_oneof![3 => Just(Place::Absent), 2 => place(shape)].boxed()
}

/// Kuma's proxy: absent more often, and rarely where the API server would refuse it, so that a
/// third mesh does not turn most generated pods into refusals.
fn kuma_place(shape: Shape) -> BoxedStrategy<Place> {
    prop_oneof![
        6 => Just(Place::Absent),
        2 => Just(Place::Classic),
        2 => Just(Place::Native),
        1 => place(shape),
    ]
    .boxed()
}

/// Consul's dataplane: absent about as often as present, rarely where the API server would
/// refuse it.
fn consul_place(shape: Shape) -> BoxedStrategy<Place> {
    prop_oneof![
        3 => Just(Place::Absent),
        3 => Just(Place::Classic),
        2 => Just(Place::Native),
        1 => place(shape),
    ]
    .boxed()
}

/// Consul's dataplane as its webhook renders it: a TCP readiness probe, no hooks, an image that
/// can run the native startup probe or not, now and then a classic startup probe of the user's
/// (which Consul's replaces).
fn consul_proxy(shape: Shape) -> BoxedStrategy<Value> {
    (
        prop_oneof![6 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize), 1 => Just(3usize)],
        prop::bool::weighted(0.2),
        proxy_fields(shape),
    )
        .prop_map(|(image, startup, mut fields)| {
            fields.insert("image".into(), Value::from(CONSUL_IMAGES[image].0));
            fields.insert(
                "args".into(),
                json!(["-addresses", "consul-server.consul.svc", "-grpc-port=8502"]),
            );
            fields.insert(
                "readinessProbe".into(),
                json!({"tcpSocket": {"port": 20000}, "initialDelaySeconds": 1}),
            );
            if startup {
                fields.insert(
                    "startupProbe".into(),
                    json!({"tcpSocket": {"port": 20000}, "failureThreshold": 30}),
                );
            }
            container(CONSUL_PROXY, fields)
        })
        .boxed()
}

/// A small JSON value of any type, for fields and annotations no rule names.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        "\\PC{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z]{1,8}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Fields no Kubernetes version knows, with names that cannot collide with the ones rules read.
fn unknown_fields(shape: Shape) -> BoxedStrategy<Vec<(String, Value)>> {
    if shape.unknown_fields {
        prop::collection::vec(("zz[A-Za-z]{0,6}", any_json()), 0..3).boxed()
    } else {
        Just(Vec::new()).boxed()
    }
}

/// A probe port: mostly any, sometimes the ports Kuma's probe proxy and virtual probes listen on,
/// or a name.
fn probe_port() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => (1u16..65535).prop_map(Value::from),
        1 => select(vec![json!(9000), json!(9001), json!("http"), json!("9000")]),
    ]
}

fn probe() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (probe_port(), "/[a-z]{0,8}")
            .prop_map(|(port, path)| json!({"httpGet": {"path": path, "port": port}})),
        2 => probe_port().prop_map(|port| json!({"tcpSocket": {"port": port}, "periodSeconds": 5})),
        1 => (1u16..65535, 0u8..4)
            .prop_map(|(port, timeout)| json!({"grpc": {"port": port, "service": "health"}, "timeoutSeconds": timeout})),
    ]
}

fn lifecycle() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"preStop": {"exec": {"command": ["sleep", "5"]}}})),
        Just(json!({"postStart": {"exec": {"command": ["sh", "-c", "echo started"]}}})),
    ]
}

/// The fields of a container besides its name. `sidecar`: it runs for the pod's lifetime, so it
/// may have probes and a lifecycle (a regular container or a native sidecar).
fn container_fields(shape: Shape, sidecar: bool) -> BoxedStrategy<Map<String, Value>> {
    let probes = !shape.valid || sidecar;
    (
        "[a-z]{1,8}(:[0-9]{1,2})?",
        prop::option::of(prop::collection::vec(
            ("[A-Z][A-Z_]{0,6}", "[ -~]{0,8}"),
            1..3,
        )),
        prop::option::of((1u16..65535).prop_map(|port| json!([{"containerPort": port}]))),
        prop::option::of(Just(
            json!({"requests": {"cpu": "10m", "memory": "40Mi"}, "limits": {"memory": "1Gi"}}),
        )),
        maybe(probes, 0.4, probe()),
        maybe(probes, 0.3, lifecycle()),
        unknown_fields(shape),
    )
        .prop_map(
            |(image, env, ports, resources, readiness, lifecycle, unknown)| {
                let mut fields = Map::new();
                fields.insert("image".into(), Value::from(image));
                if let Some(env) = env {
                    let env: Vec<Value> = env
                        .into_iter()
                        .map(|(name, value)| json!({"name": name, "value": value}))
                        .collect();
                    fields.insert("env".into(), Value::Array(env));
                }
                let optional = [
                    ("ports", ports),
                    ("resources", resources),
                    ("readinessProbe", readiness),
                    ("lifecycle", lifecycle),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        fields.insert(key.into(), value);
                    }
                }
                fields.extend(unknown);
                fields
            },
        )
        .boxed()
}

/// `Some` of `value` with probability `chance` when `allowed`, else always `None`.
fn maybe(
    allowed: bool,
    chance: f64,
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Option<Value>> {
    if allowed {
        prop::option::weighted(chance, value).boxed()
    } else {
        Just(None).boxed()
    }
}

fn container(name: &str, mut fields: Map<String, Value>) -> Value {
    let mut container = Map::new();
    container.insert("name".into(), Value::from(name));
    container.append(&mut fields);
    Value::Object(container)
}

fn with_restart(mut container: Value, policy: &str) -> Value {
    container["restartPolicy"] = Value::from(policy);
    container
}

/// A mesh proxy's other fields: the mesh renders a valid container.
fn proxy_fields(shape: Shape) -> BoxedStrategy<Map<String, Value>> {
    container_fields(
        Shape {
            valid: true,
            ..shape
        },
        false,
    )
}

/// Istio's proxy: a sidecar (usually `proxy sidecar`), sometimes a gateway (`proxy router`), with
/// the lifecycles and probes Istio renders in either mode or a user's own.
fn istio_proxy(shape: Shape) -> BoxedStrategy<Value> {
    let args = prop_oneof![
        4 => Just(Some(json!(["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"]))),
        1 => Just(Some(json!(["proxy", "router"]))),
        1 => Just(Some(json!(["--custom"]))),
        1 => Just(None),
    ];
    let proxy_lifecycle = prop_oneof![
        3 => Just(None),
        2 => Just(Some(json!({"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}}))),
        1 => Just(Some(json!({"preStop": {"exec": {"command": ["pilot-agent", "request", "--debug-port=15020", "POST", "drain"]}}}))),
        1 => Just(Some(json!({}))),
        1 => lifecycle().prop_map(Some),
    ];
    let probe = prop::option::of(Just(
        json!({"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15}),
    ));
    (args, proxy_lifecycle, probe, proxy_fields(shape))
        .prop_map(|(args, lifecycle, probe, mut fields)| {
            fields.insert(
                "image".into(),
                Value::from("docker.io/istio/proxyv2:1.27.0"),
            );
            for (key, value) in [
                ("args", args),
                ("lifecycle", lifecycle),
                ("readinessProbe", probe),
            ] {
                if let Some(value) = value {
                    fields.insert(key.into(), value);
                }
            }
            container(ISTIO_PROXY, fields)
        })
        .boxed()
}

/// Linkerd's proxy as `linkerd inject` renders it: the linkerd-await hook (on the default or a
/// custom admin port) and the wait-before-exit sleep in classic mode, the startup probe in native
/// mode, or a user's own lifecycle.
fn linkerd_proxy(shape: Shape) -> BoxedStrategy<Value> {
    let admin = prop_oneof![3 => Just(4191u16), 1 => Just(9991u16)];
    let hooks = prop_oneof![
        4 => Just("await"),
        1 => Just("await+sleep"),
        1 => Just("sleep"),
        2 => Just("none"),
        1 => Just("custom"),
        1 => Just("empty"),
    ];
    (
        admin,
        hooks,
        prop::bool::weighted(0.3),
        proxy_fields(shape),
    )
        .prop_map(|(admin, hooks, startup, mut fields)| {
            let await_hook = json!({"exec": {"command": ["/usr/lib/linkerd/linkerd-await", "--timeout=2m", format!("--port={admin}")]}});
            let sleep = json!({"exec": {"command": ["/bin/sleep", "30"]}});
            let lifecycle = match hooks {
                "await" => Some(json!({"postStart": await_hook})),
                "await+sleep" => Some(json!({"postStart": await_hook, "preStop": sleep})),
                "sleep" => Some(json!({"preStop": sleep})),
                "custom" => Some(json!({"preStop": {"exec": {"command": ["/drain.sh"]}}})),
                "empty" => Some(json!({})),
                _ => None,
            };
            fields.insert(
                "image".into(),
                Value::from("cr.l5d.io/linkerd/proxy:edge-25.1.1"),
            );
            fields.insert(
                "readinessProbe".into(),
                json!({"httpGet": {"path": "/ready", "port": admin}, "initialDelaySeconds": 2}),
            );
            if let Some(lifecycle) = lifecycle {
                fields.insert("lifecycle".into(), lifecycle);
            }
            if startup {
                fields.insert(
                    "startupProbe".into(),
                    json!({"failureThreshold": 120, "httpGet": {"path": "/ready", "port": admin}, "periodSeconds": 1}),
                );
            }
            container(LINKERD_PROXY, fields)
        })
        .boxed()
}

/// Kuma's proxy as its injector renders it: probes on the admin port, no lifecycle or the
/// `kuma-dp wait` of wait-for-dataplane-ready in classic mode, the drain hook and the startup
/// probe in native mode, or a user's own hook.
fn kuma_proxy(shape: Shape) -> BoxedStrategy<Value> {
    let admin = prop_oneof![3 => Just(9901u16), 1 => Just(9911u16)];
    let hooks = prop_oneof![
        4 => Just("none"),
        2 => Just("wait"),
        2 => Just("native"),
        1 => Just("custom"),
    ];
    (
        admin,
        hooks,
        prop::bool::weighted(0.3),
        proxy_fields(shape),
    )
        .prop_map(|(admin, hooks, startup, mut fields)| {
            let ready = json!({"path": "/ready", "port": admin});
            let lifecycle = match hooks {
                "wait" => Some(json!({"postStart": {"exec": {"command": ["kuma-dp", "wait", "--url", format!("http://localhost:{admin}/ready")]}}})),
                "native" => Some(json!({"preStop": {"exec": {"command": ["killall", "-USR2", "kuma-dp"]}}})),
                "custom" => Some(json!({"preStop": {"exec": {"command": ["sleep", "5"]}}})),
                _ => None,
            };
            fields.insert("image".into(), Value::from("docker.io/kumahq/kuma-dp:2.14.0"));
            fields.insert("args".into(), json!(["run", "--log-level=info"]));
            fields.insert("livenessProbe".into(), json!({"httpGet": ready, "initialDelaySeconds": 60}));
            fields.insert("readinessProbe".into(), json!({"httpGet": ready, "initialDelaySeconds": 1}));
            if let Some(lifecycle) = lifecycle {
                fields.insert("lifecycle".into(), lifecycle);
            }
            if startup {
                fields.insert(
                    "startupProbe".into(),
                    json!({"httpGet": ready, "successThreshold": 1, "failureThreshold": 12}),
                );
            }
            container(KUMA_PROXY, fields)
        })
        .boxed()
}

/// Places `proxy` as `place` says into the two lists.
fn put(place: Place, proxy: Value, containers: &mut Vec<Value>, init: &mut Vec<Value>) {
    let native = with_restart(proxy.clone(), "Always");
    match place {
        Place::Absent => {}
        Place::Classic => containers.push(proxy),
        Place::Native => init.push(native),
        Place::Both => {
            containers.push(proxy);
            init.push(native);
        }
        Place::TwiceNative => {
            init.push(native.clone());
            init.push(native);
        }
        Place::NativeNotRestarting => init.push(proxy),
    }
}

fn settings() -> impl Strategy<Value = Settings> {
    let rules = vec![
        SidecarRule {
            name: VAULT.into(),
            setup_containers: vec![VAULT_INIT.into()],
        },
        SidecarRule {
            name: SHIPPER.into(),
            setup_containers: Vec::new(),
        },
    ];
    let meshes = prop_oneof![
        12 => Just(vec!["istio", "linkerd", "kuma", "consul"]),
        1 => Just(vec!["consul", "istio"]),
        1 => Just(vec!["consul"]),
        1 => Just(vec!["linkerd", "istio"]),
        1 => Just(vec!["kuma", "istio"]),
        1 => Just(vec!["istio"]),
        1 => Just(vec!["linkerd"]),
        1 => Just(vec!["kuma"]),
        1 => Just(vec![]),
    ];
    // Kuma's control plane timings, 0 (left out) among them.
    let timing = prop_oneof![1 => Just(0u32), 3 => 1u32..300];
    let kuma = prop::option::of([timing.clone(), timing.clone(), timing.clone(), timing]);
    (
        any::<bool>(),
        subsequence(rules, 0..=2).prop_shuffle(),
        prop::bool::weighted(0.1),
        meshes,
        kuma,
    )
        .prop_map(
            |(request_native_injection, extra_sidecars, validate, meshes, kuma)| Settings {
                mode: if validate {
                    Mode::Validate
                } else {
                    Mode::Mutate
                },
                request_native_injection,
                extra_sidecars,
                meshes: meshes.into_iter().map(String::from).collect(),
                mesh_settings: kuma.map_or_else(MeshSettings::default, |[i, t, p, f]| {
                    let section = json!({"kuma": {"startupProbe": {"initialDelaySeconds": i, "timeoutSeconds": t, "periodSeconds": p, "failureThreshold": f}}});
                    Settings::from_json(&section)
                        .expect("timings in range")
                        .mesh_settings
                }),
                ..Settings::default()
            },
        )
}

/// Annotations, Istio's among them: the ones the rules read, with values that matter and junk.
fn annotations(shape: Shape) -> BoxedStrategy<Map<String, Value>> {
    let status = prop_oneof![
        Just(r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy"],"imagePullSecrets":null,"revision":"default"}"#.to_owned()),
        Just(r#"{"initContainers":["istio-validation","istio-proxy"],"containers":null,"volumes":["istio-envoy"],"imagePullSecrets":null,"revision":"default"}"#.to_owned()),
        Just(r#"{"initContainers":null,"containers":["istio-proxy","other"],"volumes":null}"#.to_owned()),
        "[ -~]{0,10}",
    ];
    let overrides = prop_oneof![
        Just(r#"{"containers":[{"name":"istio-proxy","resources":{}}]}"#.to_owned()),
        Just(r#"{"containers":[{"name":"app","resources":{}},{"name":"istio-proxy","args":["--x"]}],"initContainers":[{"name":"migrate"}]}"#.to_owned()),
        "[ -~]{0,10}",
    ];
    let native = prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        "[a-z]{0,5}"
    ];
    let inject = prop_oneof![
        Just("false".to_owned()),
        Just("true".to_owned()),
        Just("no".to_owned())
    ];
    let port = prop_oneof![
        Just("15020".to_owned()),
        Just("0".to_owned()),
        Just("1234".to_owned())
    ];
    let templates = prop_oneof![
        Just("sidecar".to_owned()),
        Just("gateway".to_owned()),
        Just("sidecar,custom".to_owned())
    ];
    let excluded = prop_oneof![Just("123".to_owned()), Just("15020,4".to_owned())];
    let linkerd_native = (
        select(LINKERD_NATIVE.to_vec()),
        prop_oneof![
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("0".to_owned()),
            "[a-z]{0,5}"
        ],
    );
    let linkerd_inject = prop_oneof![
        Just("enabled".to_owned()),
        Just("disabled".to_owned()),
        Just("ingress".to_owned())
    ];
    let admin_port = prop_oneof![Just("9991".to_owned()), Just("admin".to_owned())];
    let kuma_probe_proxy = prop_oneof![
        1 => Just("0".to_owned()),
        3 => Just("9000".to_owned()),
        1 => Just("9001".to_owned()),
        1 => Just("x".to_owned())
    ];
    let kuma_virtual = prop_oneof![
        Just("enabled".to_owned()),
        Just("disabled".to_owned()),
        Just("on".to_owned())
    ];
    let kuma_virtual_port = prop_oneof![Just("9000".to_owned()), Just("0".to_owned())];
    let kuma_admin = prop_oneof![Just("9911".to_owned()), Just("0".to_owned())];
    let consul_status = prop_oneof![4 => Just("injected".to_owned()), 1 => Just("".to_owned())];
    let consul_inject = prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("yes".to_owned())
    ];
    let consul_native = prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("0".to_owned()),
        Just("".to_owned()),
        Just("yes".to_owned())
    ];
    let consul_period = prop_oneof![
        Just("2".to_owned()),
        Just("0".to_owned()),
        Just("x".to_owned()),
        Just("4294967297".to_owned())
    ];
    let user = prop::collection::vec(("example\\.com/[a-z]{1,6}", "[ -~]{0,12}"), 0..3);
    let chance = 0.25;
    (
        (
            prop::option::weighted(chance, status),
            prop::option::weighted(chance, overrides),
            prop::option::weighted(chance, native),
            prop::option::weighted(0.15, inject),
        ),
        (
            prop::option::weighted(chance, port),
            prop::option::weighted(0.15, templates),
            prop::option::weighted(chance, excluded),
            user,
        ),
        (
            prop::collection::vec(linkerd_native, 0..=2),
            prop::option::weighted(0.15, linkerd_inject),
            prop::option::weighted(0.1, admin_port),
        ),
        (
            prop::option::weighted(0.7, kuma_probe_proxy),
            prop::option::weighted(0.5, kuma_virtual),
            prop::option::weighted(0.5, kuma_virtual_port),
            prop::option::weighted(0.1, kuma_admin),
        ),
        (
            prop::option::weighted(0.8, consul_status),
            prop::option::weighted(0.1, consul_inject),
            prop::option::weighted(0.15, consul_native),
            prop::option::weighted(0.1, consul_period),
            prop::option::weighted(0.03, Just("mesh-gateway".to_owned())),
        ),
        unknown_fields(shape),
    )
        .prop_map(
            move |(
                (status, overrides, native, inject),
                (port, templates, excluded, user),
                (linkerd_native, linkerd_inject, admin_port),
                (kuma_probe_proxy, kuma_virtual, kuma_virtual_port, kuma_admin),
                (consul_status, consul_inject, consul_native, consul_period, consul_gateway),
                junk,
            )| {
                let mut map = Map::new();
                let istio = [
                    ("sidecar.istio.io/status", status),
                    ("proxy.istio.io/overrides", overrides),
                    ("sidecar.istio.io/nativeSidecar", native),
                    ("sidecar.istio.io/inject", inject),
                    ("status.sidecar.istio.io/port", port),
                    ("inject.istio.io/templates", templates),
                    ("traffic.sidecar.istio.io/excludeInboundPorts", excluded),
                ];
                let linkerd = [
                    ("linkerd.io/inject", linkerd_inject),
                    ("config.linkerd.io/admin-port", admin_port),
                ];
                let kuma = [
                    (KUMA_PROBE_PROXY_PORT, kuma_probe_proxy),
                    (KUMA_VIRTUAL_PROBES, kuma_virtual),
                    (KUMA_VIRTUAL_PROBES_PORT, kuma_virtual_port),
                    ("kuma.io/envoy-admin-port", kuma_admin),
                ];
                let consul = [
                    (CONSUL_STATUS, consul_status),
                    (CONSUL_INJECT, consul_inject),
                    (CONSUL_NATIVE, consul_native),
                    (CONSUL_PERIOD, consul_period),
                    (CONSUL_GATEWAY_KIND, consul_gateway),
                ];
                let rules = istio.into_iter().chain(linkerd).chain(kuma).chain(consul);
                for (key, value) in rules {
                    if let Some(value) = value {
                        map.insert(key.into(), Value::from(value));
                    }
                }
                for (key, value) in linkerd_native {
                    map.insert(key.into(), Value::from(value));
                }
                for (key, value) in user {
                    map.insert(key, Value::from(value));
                }
                // Annotation values are strings; unknown-typed ones only in invalid objects.
                for (key, value) in junk {
                    map.insert(
                        key,
                        match value {
                            Value::String(s) => Value::String(s),
                            other if !shape.valid => other,
                            other => Value::String(other.to_string()),
                        },
                    );
                }
                map
            },
        )
        .boxed()
}

/// A pod's `metadata` (or a template's). `None` leaves it out.
fn metadata(shape: Shape) -> BoxedStrategy<Option<Value>> {
    (
        prop::option::weighted(0.9, annotations(shape)),
        (
            prop::option::weighted(0.1, Just("false")),
            prop::option::weighted(0.1, select(vec!["enabled", "disabled"])),
        ),
        unknown_fields(shape),
        prop::bool::weighted(0.1),
        // Metadata the API server would refuse, in invalid shapes only.
        maybe(
            !shape.valid,
            0.05,
            prop_oneof![Just(Value::Null), Just(json!("meta")), Just(json!([]))],
        ),
    )
        .prop_map(
            move |(annotations, (inject_label, kuma_label), unknown, absent, junk)| {
                if absent {
                    return None;
                }
                if let Some(junk) = junk {
                    return Some(junk);
                }
                let mut meta = Map::new();
                let mut labels = Map::new();
                labels.insert("app".into(), Value::from("sample"));
                if let Some(label) = inject_label {
                    labels.insert("sidecar.istio.io/inject".into(), Value::from(label));
                }
                if let Some(label) = kuma_label {
                    labels.insert("kuma.io/sidecar-injection".into(), Value::from(label));
                }
                meta.insert("labels".into(), Value::Object(labels));
                if let Some(annotations) = annotations {
                    meta.insert("annotations".into(), Value::Object(annotations));
                }
                meta.extend(unknown);
                Some(Value::Object(meta))
            },
        )
        .boxed()
}

/// The containers of a pod spec: apps, the meshes' proxies and setup containers (now and then a
/// Kuma builtin gateway), declared sidecars and their setup containers, user init containers (some
/// of them native sidecars), in random order.
fn pod_lists(shape: Shape) -> BoxedStrategy<(Vec<Value>, Vec<Value>)> {
    // A valid pod has a regular container; an invalid one may have none.
    let apps = subsequence(
        vec!["app", "web", "worker", "metrics"],
        if shape.valid { 1..=4 } else { 0..=4 },
    );
    let user_init = subsequence(
        vec!["migrate", "init-db", "check-traffic", "wait-db"],
        0..=4,
    );
    let user_sidecars = subsequence(vec!["user-sidecar", "cache-warmer"], 0..=2);
    let setup = prop_oneof![
        Just(vec![]),
        Just(vec!["istio-init"]),
        Just(vec!["istio-validation"]),
        Just(vec!["istio-init", ENABLE_CORE_DUMP]),
        Just(vec!["istio-validation", ENABLE_CORE_DUMP]),
    ];
    let linkerd_setup = prop_oneof![
        Just(vec![]),
        Just(vec!["linkerd-init"]),
        Just(vec!["linkerd-network-validator"]),
    ];
    let kuma_setup = prop_oneof![
        Just(vec![]),
        Just(vec![KUMA_SETUP[0]]),
        Just(vec![KUMA_SETUP[1]]),
    ];
    let fields = prop::collection::vec(container_fields(shape, false), 14);
    let sidecar_fields = prop::collection::vec(container_fields(shape, true), 12);
    (
        (apps, user_init, user_sidecars, setup),
        (place(shape), istio_proxy(shape), place(shape), place(shape)),
        (linkerd_place(shape), linkerd_proxy(shape), linkerd_setup),
        (
            kuma_place(shape),
            kuma_proxy(shape),
            kuma_setup,
            prop::bool::weighted(0.05),
        ),
        (any::<bool>(), fields, sidecar_fields),
        (
            consul_place(shape),
            consul_proxy(shape),
            prop::bool::weighted(0.85),
        ),
        (
            any::<u64>(),
            prop::bool::weighted(0.1),
            prop::collection::vec(junk_entry(), 0..=if shape.valid { 0 } else { 2 }),
        ),
    )
        .prop_map(
            move |(
                (apps, user_init, user_sidecars, setup),
                (istio, proxy, vault, shipper),
                (linkerd, linkerd_proxy, linkerd_setup),
                (kuma, kuma_proxy, kuma_setup, kuma_gateway),
                (vault_init, mut fields, mut sidecar_fields),
                (consul, consul_proxy, consul_init),
                (seed, duplicate, junk),
            )| {
                let mut containers = Vec::new();
                let mut init = Vec::new();
                let mut next = |sidecar: bool| {
                    let pool = if sidecar {
                        &mut sidecar_fields
                    } else {
                        &mut fields
                    };
                    pool.pop().unwrap_or_default()
                };
                for name in apps {
                    containers.push(container(name, next(true)));
                }
                if kuma_gateway {
                    containers.push(container(KUMA_GATEWAY, next(false)));
                }
                let setups = setup.into_iter().chain(linkerd_setup).chain(kuma_setup);
                for name in setups.chain(user_init) {
                    init.push(container(name, next(false)));
                }
                if vault_init {
                    init.push(container(VAULT_INIT, next(false)));
                }
                if consul_init && consul != Place::Absent {
                    init.push(container(CONSUL_INIT, next(false)));
                }
                for name in user_sidecars {
                    init.push(with_restart(container(name, next(true)), "Always"));
                }
                put(istio, proxy, &mut containers, &mut init);
                put(linkerd, linkerd_proxy, &mut containers, &mut init);
                put(kuma, kuma_proxy, &mut containers, &mut init);
                put(consul, consul_proxy, &mut containers, &mut init);
                put(
                    vault,
                    container(VAULT, next(true)),
                    &mut containers,
                    &mut init,
                );
                put(
                    shipper,
                    container(SHIPPER, next(true)),
                    &mut containers,
                    &mut init,
                );
                for (entry, in_init) in junk {
                    if in_init {
                        init.push(entry);
                    } else {
                        containers.push(entry);
                    }
                }
                if duplicate && !shape.valid && !containers.is_empty() {
                    let copy = containers[0].clone();
                    init.push(copy);
                }
                shuffle(&mut containers, seed);
                shuffle(&mut init, seed.rotate_left(17));
                (containers, init)
            },
        )
        .boxed()
}

/// List entries the API server would refuse (no name, not an object), and which list to put them in.
fn junk_entry() -> impl Strategy<Value = (Value, bool)> {
    (
        prop_oneof![
            Just(json!({"image": "nameless"})),
            Just(json!({"name": null})),
            Just(json!({"name": 7})),
            Just(Value::Null),
            Just(json!("istio-proxy")),
            Just(json!([])),
        ],
        any::<bool>(),
    )
}

/// A deterministic shuffle (proptest shrinks the seed; the lists' contents shrink on their own).
fn shuffle(items: &mut [Value], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}

fn pod_spec(shape: Shape) -> BoxedStrategy<Value> {
    (
        pod_lists(shape),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.2),
        unknown_fields(shape),
    )
        .prop_map(
            move |((containers, init), host_network, null_init, unknown)| {
                let mut spec = Map::new();
                spec.insert("containers".into(), Value::Array(containers));
                if !init.is_empty() {
                    spec.insert("initContainers".into(), Value::Array(init));
                } else if null_init && !shape.valid {
                    spec.insert("initContainers".into(), Value::Null);
                }
                if host_network {
                    spec.insert("hostNetwork".into(), Value::Bool(true));
                }
                spec.insert("restartPolicy".into(), Value::from("Never"));
                spec.insert(
                    "volumes".into(),
                    json!([{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}]),
                );
                spec.extend(unknown);
                Value::Object(spec)
            },
        )
        .boxed()
}

fn template(metadata: Option<Value>, spec: Value) -> Value {
    let mut template = Map::new();
    if let Some(metadata) = metadata {
        template.insert("metadata".into(), metadata);
    }
    template.insert("spec".into(), spec);
    Value::Object(template)
}

/// Builds an object of `kind` around a pod spec. Workload specs hold what the API server requires
/// (selector, schedule) so that valid shapes pass the schema check.
fn wrap(kind: Kind, pod_meta: Option<Value>, job_meta: Option<Value>, spec: Value) -> Value {
    let api_version = match kind.group() {
        "" => "v1".to_owned(),
        group => format!("{group}/v1"),
    };
    let selector = json!({"matchLabels": {"app": "sample"}});
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind.name(),
        "metadata": {"name": "sample", "namespace": "default"},
    });
    // Job templates need restartPolicy Never or OnFailure; the others run forever.
    let mut spec = spec;
    if !matches!(kind, Kind::Pod | Kind::Job | Kind::CronJob) {
        spec["restartPolicy"] = Value::from("Always");
    }
    object["spec"] = match kind {
        Kind::Pod => {
            match pod_meta {
                Some(meta) if meta.is_object() => {
                    object["metadata"] = merge_meta(&object["metadata"], meta)
                }
                // Invalid shapes: metadata that is not an object replaces the name too.
                Some(junk) => object["metadata"] = junk,
                None => {}
            }
            spec
        }
        Kind::Job => json!({"backoffLimit": 2, "template": template(pod_meta, spec)}),
        Kind::CronJob => {
            let mut job_template = Map::new();
            if let Some(meta) = job_meta {
                job_template.insert("metadata".into(), meta);
            }
            job_template.insert("spec".into(), json!({"template": template(pod_meta, spec)}));
            json!({"schedule": "*/5 * * * *", "jobTemplate": job_template})
        }
        Kind::StatefulSet => json!({
            "selector": selector, "serviceName": "sample", "template": template(pod_meta, spec)
        }),
        Kind::ReplicationController => {
            json!({"replicas": 1, "selector": {"app": "sample"}, "template": template(pod_meta, spec)})
        }
        _ => json!({"selector": selector, "template": template(pod_meta, spec)}),
    };
    object
}

fn merge_meta(base: &Value, extra: Value) -> Value {
    let mut merged = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(extra) = extra {
        merged.extend(extra);
    }
    Value::Object(merged)
}

/// Objects of the eight kinds with generated pod specs and settings.
pub fn sample(shape: Shape) -> BoxedStrategy<Sample> {
    (
        select(ALL_KINDS.to_vec()),
        metadata(shape),
        metadata(shape),
        pod_spec(shape),
        settings(),
    )
        .prop_map(|(kind, pod_meta, job_meta, spec, settings)| Sample {
            kind,
            object: wrap(kind, pod_meta, job_meta, spec),
            settings,
        })
        .boxed()
}

/// The settings with another mode.
pub fn with_mode(settings: &Settings, mode: Mode) -> Settings {
    Settings {
        mode,
        ..settings.clone()
    }
}

// ---- Reading generated objects ----

pub fn spec(kind: Kind, object: &Value) -> Option<&Value> {
    object.pointer(kind.spec_pointer())
}

pub fn list<'v>(kind: Kind, object: &'v Value, key: &str) -> &'v [Value] {
    spec(kind, object)
        .and_then(|s| s.get(key))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub fn name(container: &Value) -> Option<&str> {
    container.get("name")?.as_str()
}

fn annotation<'v>(kind: Kind, object: &'v Value, key: &str) -> Option<&'v str> {
    kind.metadata_pointers()
        .iter()
        .filter_map(|pointer| object.pointer(pointer))
        .find_map(|meta| meta.get("annotations")?.get(key)?.as_str())
}

/// The proxies the rules apply to in `object`, in the order they must start: Istio's (unless the
/// pod opts out or is a gateway), then the declared sidecars. Each with its setup containers and
/// the containers allowed between them and the proxy.
pub fn handled(kind: Kind, object: &Value, settings: &Settings) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let all: Vec<&Value> = list(kind, object, "containers")
        .iter()
        .chain(list(kind, object, "initContainers"))
        .collect();
    let istio: Vec<&&Value> = all
        .iter()
        .filter(|c| name(c) == Some(ISTIO_PROXY))
        .collect();
    let gateway = istio.iter().any(|c| {
        let args = c.get("args").and_then(Value::as_array);
        args.is_some_and(|a| a.len() >= 2 && a[0] == "proxy" && a[1] == "router")
    }) || annotation(kind, object, "inject.istio.io/templates")
        .is_some_and(|t| t.split(',').any(|t| t.trim() == "gateway"));
    let opted_out = annotation(kind, object, "sidecar.istio.io/nativeSidecar") == Some("false");
    let enabled = |mesh: &str| settings.meshes.iter().any(|m| m == mesh);
    let mut meshes = Vec::new();
    if enabled("istio") && !istio.is_empty() && !gateway && !opted_out {
        meshes.push((
            "istio",
            ISTIO_PROXY.to_owned(),
            ISTIO_SETUP
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        ));
    }
    // Linkerd's injector reads the newest of its three names whose value Go's ParseBool takes.
    let linkerd_classic = LINKERD_NATIVE
        .iter()
        .find_map(|key| match annotation(kind, object, key)? {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(false),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(true),
            _ => None,
        })
        .unwrap_or(false);
    let has_linkerd = all.iter().any(|c| name(c) == Some(LINKERD_PROXY));
    if enabled("linkerd") && has_linkerd && !linkerd_classic {
        meshes.push((
            "linkerd",
            LINKERD_PROXY.to_owned(),
            LINKERD_SETUP.iter().map(|s| s.to_string()).collect(),
        ));
    }
    // Kuma has no per-pod switch: its proxy is handled wherever it is.
    let has_kuma = all.iter().any(|c| name(c) == Some(KUMA_PROXY));
    if enabled("kuma") && has_kuma {
        meshes.push((
            "kuma",
            KUMA_PROXY.to_owned(),
            KUMA_SETUP.iter().map(|s| s.to_string()).collect(),
        ));
    }
    // Consul: a pod its webhook injected (not a gateway, nor the telemetry collector's
    // connect-inject "false"), with its init container; a classic dataplane stays classic when
    // the pod opts out, the switch is no ParseBool value, a probe annotation overflows int32, or
    // the image is too old or unreadable.
    let parse_bool = |value: &str| match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    };
    let consul_pod = annotation(kind, object, CONSUL_STATUS) == Some("injected")
        && annotation(kind, object, CONSUL_GATEWAY_KIND).is_none()
        && annotation(kind, object, CONSUL_INJECT).and_then(parse_bool) != Some(false);
    let consul_native = annotation(kind, object, CONSUL_NATIVE);
    let consul_opted_out = consul_native.and_then(parse_bool) == Some(false);
    let dataplanes: Vec<&&Value> = all
        .iter()
        .filter(|c| name(c) == Some(CONSUL_PROXY))
        .collect();
    let classic_dataplane = list(kind, object, "containers")
        .iter()
        .filter(|c| name(c) == Some(CONSUL_PROXY))
        .count()
        == dataplanes.len();
    let kept_classic = dataplanes.len() == 1
        && classic_dataplane
        && (consul_native.is_some_and(|v| !v.is_empty() && parse_bool(v).is_none())
            || annotation(kind, object, CONSUL_PERIOD) == Some("4294967297")
            || !CONSUL_IMAGES
                .iter()
                .any(|(image, new)| *new && dataplanes[0].get("image") == Some(&json!(image))));
    let consul_init = list(kind, object, "initContainers")
        .iter()
        .any(|c| name(c) == Some(CONSUL_INIT));
    if enabled("consul")
        && consul_pod
        && consul_init
        && !dataplanes.is_empty()
        && !consul_opted_out
        && !kept_classic
    {
        meshes.push((
            "consul",
            CONSUL_PROXY.to_owned(),
            vec![CONSUL_INIT.to_owned()],
        ));
    }
    // The proxies start in the order of the meshes setting.
    for id in &settings.meshes {
        if let Some(at) = meshes.iter().position(|(mesh, _, _)| mesh == id) {
            let (_, proxy, setup) = meshes.remove(at);
            found.push((proxy, setup));
        }
    }
    for rule in &settings.extra_sidecars {
        if all.iter().any(|c| name(c) == Some(rule.name.as_str())) {
            found.push((rule.name.clone(), rule.setup_containers.clone()));
        }
    }
    found
}

fn proxy_names(settings: &Settings) -> Vec<String> {
    let mut names = vec![
        ISTIO_PROXY.to_owned(),
        LINKERD_PROXY.to_owned(),
        KUMA_PROXY.to_owned(),
        CONSUL_PROXY.to_owned(),
    ];
    names.extend(settings.extra_sidecars.iter().map(|r| r.name.clone()));
    names
}

// ---- The properties, each on one input/output pair; Err says what broke ----

pub type Check = Result<(), String>;

fn fail(what: &str, detail: impl std::fmt::Debug) -> Check {
    Err(format!("{what}: {detail:?}"))
}

/// What the API server requires of the containers the rules touch (`pkg/apis/core/validation`).
pub fn valid_for_kubernetes(kind: Kind, object: &Value) -> Check {
    let containers = list(kind, object, "containers");
    let init = list(kind, object, "initContainers");
    if containers.is_empty() {
        return fail("a pod needs a regular container", object);
    }
    let mut names: Vec<&str> = Vec::new();
    for container in containers.iter().chain(init) {
        let Some(name) = name(container) else {
            return fail("container without a name", container);
        };
        if names.contains(&name) {
            return fail("container name used twice", name);
        }
        names.push(name);
    }
    for container in containers {
        if container.get("restartPolicy").is_some() {
            return fail("restartPolicy on a regular container", container);
        }
    }
    for container in init {
        match container.get("restartPolicy") {
            None => {
                for field in [
                    "lifecycle",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                ] {
                    if container.get(field).is_some() {
                        return fail(&format!("{field} on a regular init container"), container);
                    }
                }
            }
            Some(policy) if policy == "Always" => {}
            Some(policy) => return fail("init container restartPolicy", policy),
        }
    }
    Ok(())
}

/// `object` with the container lists and the three annotations the rules name taken out.
fn set_aside(kind: Kind, object: &Value) -> Value {
    let mut rest = object.clone();
    if let Some(spec) = rest
        .pointer_mut(kind.spec_pointer())
        .and_then(Value::as_object_mut)
    {
        spec.shift_remove("containers");
        spec.shift_remove("initContainers");
    }
    for pointer in kind.metadata_pointers() {
        if let Some(annotations) = rest
            .pointer_mut(pointer)
            .and_then(|m| m.get_mut("annotations"))
            .and_then(Value::as_object_mut)
        {
            for key in RULE_ANNOTATIONS {
                annotations.shift_remove(key);
            }
        }
    }
    rest
}

/// Only what the rules name changed: outside the container lists and the annotations the rules
/// name the object is identical; every container other than a proxy is identical and stays in its
/// list (regular containers in their order), but for the probes of the user's native sidecars,
/// which Kuma routes to the port of its probe proxy or virtual probes when it converts; a proxy
/// changes only its `restartPolicy` and, for a mesh, its `lifecycle` (and Linkerd's and Kuma's
/// `startupProbe`); a proxy leaves `containers` only for `initContainers`.
pub fn lossless(kind: Kind, input: &Value, output: &Value, settings: &Settings) -> Check {
    let before = set_aside(kind, input);
    let mut after = set_aside(kind, output);
    // Requesting native injection may have created `metadata` or `annotations` to hold the
    // annotation; once the annotation is set aside they are empty, which is no loss.
    for pointer in ["/metadata/annotations", "/metadata"] {
        let created = after.pointer(pointer).is_some_and(|v| v == &json!({}))
            && before.pointer(pointer).is_none_or(|v| !v.is_object());
        if created {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or_default();
            let original = before.pointer(pointer).cloned();
            let parent = if parent.is_empty() {
                Some(&mut after)
            } else {
                after.pointer_mut(parent)
            };
            if let Some(Value::Object(parent)) = parent {
                match original {
                    Some(value) => {
                        parent.insert(key.to_owned(), value);
                    }
                    None => {
                        parent.shift_remove(key);
                    }
                }
            }
        }
    }
    if before != after {
        return fail(
            "a field outside the container lists and the rules' annotations changed",
            (before, after),
        );
    }
    let proxies = proxy_names(settings);
    let is_proxy = |c: &&Value| name(c).is_some_and(|n| proxies.iter().any(|p| p == n));
    let in_list = |object: &Value, key: &str| {
        list(kind, object, key)
            .iter()
            .any(|c| name(c) == Some(KUMA_PROXY))
    };
    let kuma_converted = in_list(input, "containers") && in_list(output, "initContainers");
    if kuma_converted {
        check_kuma_probes(kind, input, output)?;
    }
    for key in ["containers", "initContainers"] {
        let others = |object: &Value| -> Vec<Value> {
            list(kind, object, key)
                .iter()
                .filter(|c| !is_proxy(c))
                .map(|c| {
                    if kuma_converted && key == "initContainers" {
                        without_probes(c)
                    } else {
                        c.clone()
                    }
                })
                .collect()
        };
        let (mut was, mut now) = (others(input), others(output));
        if key == "initContainers" {
            // Init containers are reordered: compare them as multisets.
            let text = |v: &Value| v.to_string();
            was.sort_by_key(text);
            now.sort_by_key(text);
        }
        if was != now {
            return fail(&format!("{key} other than the proxies changed"), (was, now));
        }
    }
    for proxy in &proxies {
        let find = |object: &Value, key: &str| -> Vec<Value> {
            list(kind, object, key)
                .iter()
                .filter(|c| name(c) == Some(proxy.as_str()))
                .cloned()
                .collect()
        };
        let was: Vec<Value> = find(input, "containers")
            .into_iter()
            .chain(find(input, "initContainers"))
            .collect();
        let now: Vec<Value> = find(output, "containers")
            .into_iter()
            .chain(find(output, "initContainers"))
            .collect();
        if was.len() != now.len() {
            return fail(&format!("{proxy} appeared or disappeared"), (was, now));
        }
        if find(output, "containers").len() > find(input, "containers").len() {
            return fail(&format!("{proxy} moved into containers"), output);
        }
        let strip = |c: &Value| {
            let mut c = c.clone();
            if let Some(fields) = c.as_object_mut() {
                fields.shift_remove("restartPolicy");
                if [ISTIO_PROXY, LINKERD_PROXY, KUMA_PROXY].contains(&proxy.as_str()) {
                    fields.shift_remove("lifecycle");
                }
                // Consul replaces any startup probe with its own.
                if [LINKERD_PROXY, KUMA_PROXY, CONSUL_PROXY].contains(&proxy.as_str()) {
                    fields.shift_remove("startupProbe");
                }
                // A declared sidecar is a user's native sidecar to Kuma (check_kuma_probes).
                if kuma_converted && settings.extra_sidecars.iter().any(|r| &r.name == proxy) {
                    for probe in PROBES {
                        fields.shift_remove(probe);
                    }
                }
            }
            c
        };
        let mut was: Vec<Value> = was.iter().map(strip).collect();
        let mut now: Vec<Value> = now.iter().map(strip).collect();
        was.sort_by_key(Value::to_string);
        now.sort_by_key(Value::to_string);
        if was != now {
            return fail(
                &format!("{proxy} changed beyond restartPolicy and lifecycle"),
                (was, now),
            );
        }
    }
    Ok(())
}

const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];

/// A native sidecar's fields without its probes, which Kuma may route.
fn without_probes(container: &Value) -> Value {
    let mut container = container.clone();
    if container.get("restartPolicy") == Some(&json!("Always"))
        && let Some(fields) = container.as_object_mut()
    {
        for probe in PROBES {
            fields.shift_remove(probe);
        }
    }
    container
}

/// After Kuma converted its proxy, a probe of a user's native sidecar is the one it had, or one
/// on the port the pod's annotations give Kuma's probe proxy or virtual probes.
fn check_kuma_probes(kind: Kind, input: &Value, output: &Value) -> Check {
    let ports: Vec<Value> = [KUMA_PROBE_PROXY_PORT, KUMA_VIRTUAL_PROBES_PORT]
        .iter()
        .filter_map(|key| annotation(kind, output, key)?.parse::<u32>().ok())
        .map(Value::from)
        .collect();
    let was = list(kind, input, "initContainers")
        .iter()
        .chain(list(kind, input, "containers"));
    let meshes = [ISTIO_PROXY, LINKERD_PROXY, KUMA_PROXY, CONSUL_PROXY];
    for container in list(kind, output, "initContainers") {
        if name(container).is_some_and(|n| meshes.contains(&n)) {
            continue;
        }
        let Some(before) = was.clone().find(|c| name(c) == name(container)) else {
            continue;
        };
        for probe in PROBES {
            let now = container.get(probe);
            if now == before.get(probe) {
                continue;
            }
            let port = now.and_then(|p| p.pointer("/httpGet/port"));
            if !port.is_some_and(|port| ports.contains(port)) {
                return fail(
                    "a probe changed, but not to Kuma's port",
                    (name(container), probe, before.get(probe), now, &ports),
                );
            }
        }
    }
    Ok(())
}

/// Every native proxy the rules handle starts after its setup containers and before every other
/// init container, except those of a proxy that starts before it.
pub fn proxies_in_place(kind: Kind, object: &Value, settings: &Settings) -> Check {
    let init: Vec<Option<&str>> = list(kind, object, "initContainers")
        .iter()
        .map(name)
        .collect();
    let mut earlier: Vec<String> = Vec::new();
    for (proxy, setup) in handled(kind, object, settings) {
        let Some(at) = init.iter().position(|n| *n == Some(proxy.as_str())) else {
            return fail("a handled proxy is not a native sidecar", (proxy, object));
        };
        if list(kind, object, "initContainers")[at].get("restartPolicy") != Some(&json!("Always")) {
            return fail("a handled proxy does not restart Always", proxy);
        }
        // Consul's dataplane depends on nothing but its init container, right before it.
        if proxy == CONSUL_PROXY {
            if at == 0 || init[at - 1] != Some(CONSUL_INIT) {
                return fail("the dataplane does not follow its init container", &init);
            }
            earlier.push(proxy.clone());
            earlier.extend(setup);
            continue;
        }
        for (position, other) in init.iter().enumerate() {
            let Some(other) = *other else { continue };
            let is_setup = setup.iter().any(|s| s == other);
            if is_setup && position > at {
                return fail(
                    "a setup container starts after its proxy",
                    (other, &proxy, &init),
                );
            }
            if !is_setup && position < at && !earlier.iter().any(|e| e == other) {
                return fail(
                    "an init container starts before the proxy",
                    (other, &proxy, &init),
                );
            }
        }
        earlier.push(proxy.clone());
        earlier.extend(setup);
        if proxy == ISTIO_PROXY {
            earlier.push(ENABLE_CORE_DUMP.to_owned());
        }
    }
    Ok(())
}
