//! The seam between the shared review and each service mesh. A mesh's file knows its container
//! names, how its native form differs from its classic form, and its annotations; nothing outside
//! this folder names a mesh: `review`, `convert`, `order` and `validate` only ever go through
//! [`Mesh`] and the profiles built from it.
//!
//! How a mesh plugs in:
//! - One file here with a type that implements [`Mesh`], and one line in [`MESHES`] (whose order is
//!   the `meshes` setting's default and the order proxies start in when a pod carries several).
//! - It reads the pod from the review's [`PodView`] (the container lists, the annotations of the
//!   metadata that describe the pod), read once per review; only `after_conversion` touches the
//!   object, to edit it.
//! - Settings of its own (a `<id>: {...}` section) are parsed and checked in its file, kept in
//!   [`MeshSettings`] (one field per mesh that has a section; settings imports this module, never
//!   the reverse) and handed to [`Mesh::native_edit`], which reads them.
//! - A per-pod switch between classic and native mode is a [`Switch`]: Istio and Linkerd have one,
//!   Kuma has none (its control plane alone decides), so the review neither asks Kuma for native
//!   injection nor names an annotation that would keep its proxy classic.
//! - What the trait does not say yet (proxies found by pattern, which init containers must follow
//!   the proxy, keeping a pod classic for a reason of its own) joins the trait when a mesh needs
//!   it, with a default that keeps the other meshes as they are.

mod istio;
mod kuma;
mod linkerd;

use serde_json::{Map, Value};

use crate::pod::{PodView, name};
use crate::workload::Kind;
use istio::Istio;
use kuma::Kuma;
use linkerd::Linkerd;

/// Every mesh the policy knows, in the order their proxies start when a pod carries several.
pub(crate) const MESHES: &[&dyn Mesh] = &[&Istio, &Linkerd, &Kuma];

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
    /// Set as `startupProbe` unless the proxy has one.
    pub startup_probe: Option<Value>,
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

    /// Containers that run the mesh's proxy as the pod's own workload, never as a sidecar (Kuma's
    /// builtin gateway): such a pod is the mesh's, has nothing to convert, and gets no other
    /// mesh's annotation.
    fn gateways(&self) -> &'static [&'static str] {
        &[]
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
}

impl MeshSettings {
    /// The keys of the sections in the settings, as messages list them.
    pub(crate) const KEYS: &[&str] = &["kuma"];

    /// Reads the section `key` of the settings; `None` when no mesh has a section of that name.
    pub(crate) fn parse(&mut self, key: &str, value: &Value) -> Option<Result<(), String>> {
        match key {
            "kuma" => Some(kuma::KumaSettings::parse(value).map(|kuma| self.kuma = kuma)),
            _ => None,
        }
    }

    /// Adds every section to `settings`, in the shape [`MeshSettings::parse`] reads.
    pub(crate) fn write(&self, settings: &mut Map<String, Value>) {
        settings.insert("kuma".to_owned(), self.kuma.to_json());
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
pub(crate) fn owner_of(name: &str) -> Option<&'static dyn Mesh> {
    MESHES.iter().copied().find(|mesh| {
        mesh.proxy() == name || mesh.setup().contains(&name) || mesh.trailing().contains(&name)
    })
}

pub(crate) fn by_id(id: &str) -> Option<&'static dyn Mesh> {
    MESHES.iter().copied().find(|mesh| mesh.id() == id)
}

/// Whether a pod holds any mesh's proxy or gateway, in either list, handled or not.
pub(crate) fn carries_a_proxy(pod: &PodView) -> bool {
    pod.containers.iter().chain(pod.init).any(|c| {
        name(c).is_some_and(|n| {
            MESHES
                .iter()
                .any(|mesh| mesh.proxy() == n || mesh.gateways().contains(&n))
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
    }
}
