//! The seam between the shared review and each service mesh. A mesh's file knows its container
//! names, how its native form differs from its classic form, and its annotations; nothing outside
//! this folder names a mesh: `review`, `convert`, `order` and `validate` only ever go through
//! [`Mesh`] and the profiles built from it.
//!
//! How a mesh plugs in:
//! - One file here with a type that implements [`Mesh`], a variant of [`AnyMesh`] with its line in
//!   `dispatch!`, and one line in [`MESHES`] (whose order is the `meshes` setting's default and the
//!   order proxies start in when a pod carries several).
//! - It reads the pod from the review's [`PodView`] (the container lists, the annotations of the
//!   metadata that describe the pod), read once per review; only `after_conversion` touches the
//!   object, to edit it.
//! - Settings of its own (a `<id>: {...}` section) are parsed and checked in its file, kept in
//!   [`MeshSettings`] (one field per mesh that has a section; settings imports this module, never
//!   the reverse) and handed to [`Mesh::native_edit`], which reads them.
//! - A per-pod switch between classic and native mode is a [`Switch`]: Istio and Linkerd have one,
//!   Kuma has none (its control plane alone decides), so the review neither asks Kuma for native
//!   injection nor names an annotation that would keep its proxy classic.
//! - Which init containers must start after the proxy is the mesh's call ([`Dependents`]): Istio,
//!   Linkerd and Kuma start theirs before every other init container; Consul keeps the user's init
//!   containers before its own and puts each dataplane right after its setup container.
//! - A mesh that runs several proxies per pod, named per pod (Consul's multi-port pods), lists them
//!   with [`Mesh::instances`]; the others have one proxy of a fixed name.
//! - A mesh can keep a classic proxy classic for a reason of its own ([`Mesh::keeps_classic`]: an
//!   image too old for the native form), which the review says in a warning.

mod consul;
mod istio;
mod kuma;
mod linkerd;

use serde_json::{Map, Value};

use crate::describe::describe;
use crate::pod::{PodView, name};
use crate::workload::Kind;
use consul::Consul;
use istio::Istio;
use kuma::Kuma;
use linkerd::Linkerd;

/// Every mesh the policy knows, in the order their proxies start when a pod carries several.
pub(crate) const MESHES: &[AnyMesh] = &[
    AnyMesh::Istio,
    AnyMesh::Linkerd,
    AnyMesh::Kuma,
    AnyMesh::Consul,
];

/// One of the meshes, whose [`Mesh`] calls are a `match`, not a `dyn Mesh`: a fresh wasmtime
/// instance fills a function table slot on the first indirect call through it, about a thousand
/// instructions each, and policy-server makes a fresh instance per request, in which a review
/// calls some twenty mesh methods (2% of a conversion's instructions, measured under callgrind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnyMesh {
    Istio,
    Linkerd,
    Kuma,
    Consul,
}

/// `$call` with `$mesh` bound to the mesh `$any` names.
macro_rules! dispatch {
    ($any:expr, $mesh:ident => $call:expr) => {
        match $any {
            AnyMesh::Istio => {
                let $mesh = &Istio;
                $call
            }
            AnyMesh::Linkerd => {
                let $mesh = &Linkerd;
                $call
            }
            AnyMesh::Kuma => {
                let $mesh = &Kuma;
                $call
            }
            AnyMesh::Consul => {
                let $mesh = &Consul;
                $call
            }
        }
    };
}

impl Mesh for AnyMesh {
    fn id(&self) -> &'static str {
        dispatch!(self, mesh => mesh.id())
    }
    fn title(&self) -> &'static str {
        dispatch!(self, mesh => mesh.title())
    }
    fn proxy(&self) -> &'static str {
        dispatch!(self, mesh => mesh.proxy())
    }
    fn setup(&self) -> &'static [&'static str] {
        dispatch!(self, mesh => mesh.setup())
    }
    fn trailing(&self) -> &'static [&'static str] {
        dispatch!(self, mesh => mesh.trailing())
    }
    fn dependents(&self) -> Dependents {
        dispatch!(self, mesh => mesh.dependents())
    }
    fn instances(&self, pod: &PodView) -> Option<Vec<Instance>> {
        dispatch!(self, mesh => mesh.instances(pod))
    }
    fn is_proxy(&self, name: &str) -> bool {
        dispatch!(self, mesh => mesh.is_proxy(name))
    }
    fn is_setup(&self, name: &str) -> bool {
        dispatch!(self, mesh => mesh.is_setup(name))
    }
    fn gateways(&self) -> &'static [&'static str] {
        dispatch!(self, mesh => mesh.gateways())
    }
    fn is_gateway(&self, pod: &PodView) -> bool {
        dispatch!(self, mesh => mesh.is_gateway(pod))
    }
    fn switch(&self) -> Option<&dyn Switch> {
        dispatch!(self, mesh => mesh.switch())
    }
    fn injection(&self, pod: &PodView) -> Injection {
        dispatch!(self, mesh => mesh.injection(pod))
    }
    fn leaves_alone(&self, pod: &PodView, proxy: &Value) -> bool {
        dispatch!(self, mesh => mesh.leaves_alone(pod, proxy))
    }
    fn native_edit(
        &self,
        pod: &PodView,
        proxy: &Value,
        settings: &MeshSettings,
    ) -> Result<NativeEdit, String> {
        dispatch!(self, mesh => mesh.native_edit(pod, proxy, settings))
    }
    fn keeps_classic(
        &self,
        pod: &PodView,
        at: usize,
        proxy: &Value,
        settings: &MeshSettings,
    ) -> Option<String> {
        dispatch!(self, mesh => mesh.keeps_classic(pod, at, proxy, settings))
    }
    fn after_conversion(&self, object: &mut Value, kind: Kind) {
        dispatch!(self, mesh => mesh.after_conversion(object, kind))
    }
}

/// What a pod says about being injected by a mesh, as far as the pod itself shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injection {
    /// The pod asks this mesh to inject it.
    Requested,
    /// The pod says nothing: the mesh injects it if its namespace says so.
    Unstated,
    /// The mesh will not inject it (opted out, host network).
    Refused,
}

/// How the proxy's fields change when it becomes a native sidecar, decided from the classic proxy
/// before anything moves. Applied by `convert`, which knows no mesh.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NativeEdit {
    pub lifecycle: LifecycleEdit,
    /// Set as `startupProbe` unless the proxy has one, or in place of it with
    /// `replaces_startup_probe`.
    pub startup_probe: Option<Value>,
    /// The mesh renders its own startup probe whatever the classic proxy had (Consul).
    pub replaces_startup_probe: bool,
    /// Fields of other init containers that the mesh renders differently in native mode (Kuma
    /// routes the probes of a user's native sidecar through its probe proxy).
    pub init_fields: Vec<FieldEdit>,
    /// Said when the conversion is made (a hook the mesh does not render that is kept, say).
    pub warnings: Vec<String>,
}

/// `initContainers[at].field` becomes `value`; the field exists and keeps its place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldEdit {
    /// The index in `initContainers` as the review read it.
    pub at: usize,
    pub field: &'static str,
    pub value: Value,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum LifecycleEdit {
    #[default]
    Keep,
    Remove,
    Set(Value),
}

/// Which init containers must start after a mesh's proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dependents {
    /// Every init container but the mesh's own: the proxy and its setup containers come first
    /// (Istio, Linkerd, Kuma, and the sidecars users declare).
    Others,
    /// None: the proxy starts right after its own setup container, and the init containers
    /// around the pair keep their places (Consul, whose native layout leaves the user's init
    /// containers before its own, outside the mesh as in classic mode).
    Nothing,
}

/// One of a mesh's proxies in a pod when the mesh names them per pod (Consul's multi-port pods:
/// one dataplane per service), with the setup container that prepares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    pub proxy: String,
    pub setup: String,
}

/// One mesh's knowledge. The hooks with a default do nothing, as for a sidecar the user declares.
pub(crate) trait Mesh: Sync {
    /// The name in the `meshes` setting.
    fn id(&self) -> &'static str;
    /// The mesh's name in messages.
    fn title(&self) -> &'static str;
    fn proxy(&self) -> &'static str;
    /// Init containers that must run before the proxy (iptables, CNI validation).
    fn setup(&self) -> &'static [&'static str];
    /// Init containers the mesh renders right after its proxy.
    fn trailing(&self) -> &'static [&'static str] {
        &[]
    }
    /// Which init containers must start after the proxy.
    fn dependents(&self) -> Dependents {
        Dependents::Others
    }
    /// The proxies of this mesh in `pod` with their setup containers, when the mesh names them per
    /// pod; `None` for the one proxy named [`Mesh::proxy`] with the setup containers of
    /// [`Mesh::setup`]. An empty list: the pod has nothing of this mesh to handle.
    fn instances(&self, _pod: &PodView) -> Option<Vec<Instance>> {
        None
    }
    /// Whether a container of this name is one of the mesh's proxies.
    fn is_proxy(&self, name: &str) -> bool {
        name == self.proxy()
    }
    /// Whether an init container of this name is one of the mesh's setup containers.
    fn is_setup(&self, name: &str) -> bool {
        self.setup().contains(&name)
    }

    /// Containers that run the mesh's proxy as the pod's own workload, never as a sidecar (Kuma's
    /// builtin gateway): such a pod is the mesh's, has nothing to convert, and gets no other
    /// mesh's annotation.
    fn gateways(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether the pod says it is one of the mesh's gateways when its containers' names do not
    /// (Consul names a gateway's container after the gateway): such a pod gets no other mesh's
    /// annotation either.
    fn is_gateway(&self, _pod: &PodView) -> bool {
        false
    }

    /// The pod's switch between native and classic mode; `None` when the mesh has none per pod.
    fn switch(&self) -> Option<&dyn Switch> {
        None
    }
    fn injection(&self, pod: &PodView) -> Injection;

    /// A container named like the proxy that the policy must leave alone (a gateway whose proxy
    /// is the workload).
    fn leaves_alone(&self, _pod: &PodView, _proxy: &Value) -> bool {
        false
    }
    /// How the classic `proxy`, one of `pod.containers`, changes as a native sidecar, with the
    /// settings sections of `settings`; `Err` says why the mesh itself would not render this pod
    /// with native sidecars, so that there is nothing exact to convert it to.
    fn native_edit(
        &self,
        _pod: &PodView,
        _proxy: &Value,
        _settings: &MeshSettings,
    ) -> Result<NativeEdit, String> {
        Ok(NativeEdit::default())
    }
    /// Why the classic `proxy` at `containers[at]` stays classic although the pod did not opt
    /// out (its image cannot run the mesh's native form, say): the review leaves it as it is and
    /// says this as a warning.
    fn keeps_classic(
        &self,
        _pod: &PodView,
        _at: usize,
        _proxy: &Value,
        _settings: &MeshSettings,
    ) -> Option<String> {
        None
    }
    /// Keeps the mesh's own annotations in step after its proxy became a native sidecar.
    fn after_conversion(&self, _object: &mut Value, _kind: Kind) {}
}

/// A mesh's per-pod annotation that picks native or classic mode.
pub(crate) trait Switch {
    /// The annotation as named in messages and written by [`Switch::request_native`].
    fn annotation(&self) -> &'static str;
    /// The annotation that chose classic mode, when the pod chose it.
    fn opt_out(&self, pod: &PodView) -> Option<&'static str>;
    /// Whether the Pod already says which mode it wants.
    fn states_mode(&self, pod: &PodView) -> bool;
    /// Sets the annotations that make the injector render a native sidecar.
    fn request_native(&self, annotations: &mut Map<String, Value>);
}

/// The settings sections of the meshes that have one, each parsed, checked and read in its
/// mesh's file. Built by `Settings::from_json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshSettings {
    kuma: kuma::KumaSettings,
    consul: consul::ConsulSettings,
}

impl MeshSettings {
    /// The keys of the sections in the settings, as messages list them.
    pub(crate) const KEYS: &[&str] = &["kuma", "consul"];

    /// Reads the section `key` of the settings; `None` when no mesh has a section of that name.
    pub(crate) fn parse(&mut self, key: &str, value: &Value) -> Option<Result<(), String>> {
        match key {
            "kuma" => Some(kuma::KumaSettings::parse(value).map(|kuma| self.kuma = kuma)),
            "consul" => {
                Some(consul::ConsulSettings::parse(value).map(|consul| self.consul = consul))
            }
            _ => None,
        }
    }

    /// Adds every section to `settings`, in the shape [`MeshSettings::parse`] reads.
    pub(crate) fn write(&self, settings: &mut Map<String, Value>) {
        settings.insert("kuma".to_owned(), self.kuma.to_json());
        settings.insert("consul".to_owned(), self.consul.to_json());
    }
}

/// The timings of a startup probe a control plane renders, in the order Go's `corev1.Probe`
/// writes them.
pub(super) const PROBE_TIMINGS: [&str; 4] = [
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "failureThreshold",
];

/// A settings section's `startupProbe`: the [`PROBE_TIMINGS`] its mesh's control plane gives the
/// proxy, which the pod does not show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timings(pub [u32; 4]);

impl Timings {
    /// `{initialDelaySeconds, timeoutSeconds, periodSeconds, failureThreshold}` at `path`, each
    /// part optional over `self`; null keeps them. `source` names where the mesh sets them, `title`
    /// the mesh.
    pub fn parse(
        mut self,
        value: &Value,
        path: &str,
        source: &str,
        title: &str,
    ) -> Result<Timings, String> {
        for (key, value) in section(value, path, "{\"failureThreshold\": 12}")? {
            let Some(at) = PROBE_TIMINGS.iter().position(|t| *t == key.as_str()) else {
                return Err(format!(
                    "unknown key \"{key}\" in {path}: the timings are initialDelaySeconds, timeoutSeconds, periodSeconds and failureThreshold, as in {source}"
                ));
            };
            self.0[at] = value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| {
                    format!(
                        "{path}.{key} must be a whole number from 0 to 2147483647 (0 leaves the field out, as {title} does), found {}",
                        describe(value)
                    )
                })?;
        }
        Ok(self)
    }

    pub fn to_json(self) -> Value {
        let timings: Map<String, Value> = PROBE_TIMINGS
            .iter()
            .zip(self.0)
            .map(|(key, value)| ((*key).to_owned(), Value::from(value)))
            .collect();
        Value::Object(timings)
    }
}

/// The entries of a settings object at `path`; none for null.
pub(super) fn section<'v>(
    value: &'v Value,
    path: &str,
    example: &str,
) -> Result<impl Iterator<Item = (&'v String, &'v Value)>, String> {
    match value {
        Value::Null => Ok(None.into_iter().flatten()),
        Value::Object(map) => Ok(Some(map.iter()).into_iter().flatten()),
        other => Err(format!(
            "{path} must be an object such as {example}, found {}",
            describe(other)
        )),
    }
}

/// Go's `strconv.ParseBool`, which Linkerd and Consul read their annotations with.
pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A mesh the policy knows, as tools and pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshInfo {
    /// Its name in the `meshes` setting.
    pub id: &'static str,
    pub title: &'static str,
    pub proxy: &'static str,
    pub setup_containers: &'static [&'static str],
    /// Init containers the mesh renders right after its proxy.
    pub trailing_containers: &'static [&'static str],
    /// The pod annotation that keeps the proxy classic when "false"; `None` for a mesh whose
    /// control plane alone decides (Kuma).
    pub native_annotation: Option<&'static str>,
}

/// Every mesh the policy knows, in the order of the `meshes` setting's default.
pub fn meshes() -> Vec<MeshInfo> {
    MESHES
        .iter()
        .map(|mesh| MeshInfo {
            id: mesh.id(),
            title: mesh.title(),
            proxy: mesh.proxy(),
            setup_containers: mesh.setup(),
            trailing_containers: mesh.trailing(),
            native_annotation: mesh.switch().map(|switch| switch.annotation()),
        })
        .collect()
}

/// `{"path": "/ready", "port": PORT}`: the `httpGet` of the startup probes Linkerd and Kuma give
/// their proxies. Built as a map rather than with `json!`, which would bring serde_json's value
/// serializer into the module for the port alone.
pub(crate) fn ready_http_get(port: Value) -> Value {
    let mut get = Map::new();
    get.insert("path".to_owned(), Value::from("/ready"));
    get.insert("port".to_owned(), port);
    Value::Object(get)
}

/// The mesh whose proxy, setup or trailing container is called `name`.
pub(crate) fn owner_of(name: &str) -> Option<&'static AnyMesh> {
    MESHES
        .iter()
        .find(|mesh| mesh.is_proxy(name) || mesh.is_setup(name) || mesh.trailing().contains(&name))
}

pub(crate) fn by_id(id: &str) -> Option<&'static AnyMesh> {
    MESHES.iter().find(|mesh| mesh.id() == id)
}

/// Whether a pod holds any mesh's proxy or gateway, in either list, handled or not.
pub(crate) fn carries_a_proxy(pod: &PodView) -> bool {
    MESHES.iter().any(|mesh| mesh.is_gateway(pod))
        || pod.containers.iter().chain(pod.init).any(|c| {
            name(c).is_some_and(|n| {
                MESHES
                    .iter()
                    .any(|mesh| mesh.is_proxy(n) || mesh.gateways().contains(&n))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are the key by which settings, ownership and ordering find a mesh: they must not clash.
    #[test]
    fn meshes_own_distinct_containers() {
        let mut seen: Vec<&str> = Vec::new();
        for mesh in MESHES {
            assert_eq!(by_id(mesh.id()).map(|m| m.id()), Some(mesh.id()));
            for name in [mesh.proxy()]
                .iter()
                .chain(mesh.setup())
                .chain(mesh.trailing())
            {
                assert!(!seen.contains(name), "{name} claimed twice");
                seen.push(name);
                assert_eq!(owner_of(name).map(|m| m.id()), Some(mesh.id()));
            }
        }
        assert!(owner_of("app").is_none());
        // Consul names its proxies and setup containers per service.
        assert_eq!(
            owner_of("consul-dataplane-web").map(|m| m.id()),
            Some("consul")
        );
        assert_eq!(
            owner_of("consul-connect-inject-init-web").map(|m| m.id()),
            Some("consul")
        );
        assert!(owner_of("consul-connect-init").is_none());
    }
}
