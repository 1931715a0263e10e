//! Which containers make up a sidecar: the proxy, the init containers that must run before it, the
//! ones its mesh places right after it, which init containers must start after it, and the mesh
//! whose rules apply (none for a sidecar the user declares).

use std::borrow::Cow;

use crate::mesh::{self, AnyMesh, Dependents, Mesh};
use crate::pod::PodView;
use crate::settings::{Settings, SidecarRule};

#[derive(Clone)]
pub(crate) struct Profile<'a> {
    /// Borrowed from the mesh or the settings; owned for a proxy a mesh names per pod.
    pub proxy: Cow<'a, str>,
    pub setup: Setup<'a>,
    pub trailing: &'a [&'a str],
    pub dependents: Dependents,
    pub mesh: Option<&'static AnyMesh>,
}

/// A profile's setup containers: a mesh's own list or the settings', borrowed (a review builds a
/// profile per mesh and allocates none), or the one a mesh names per pod.
#[derive(Debug, Clone)]
pub(crate) enum Setup<'a> {
    Mesh(&'a [&'a str]),
    Declared(&'a [String]),
    Named(String),
}

impl Setup<'_> {
    /// The names, in the profile's order.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Setup::Mesh(names) => names.to_vec(),
            Setup::Declared(names) => names.iter().map(String::as_str).collect(),
            Setup::Named(name) => vec![name],
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        match self {
            Setup::Mesh(names) => names.contains(&name),
            Setup::Declared(names) => names.iter().any(|n| n == name),
            Setup::Named(own) => own == name,
        }
    }
}

impl<'a> Profile<'a> {
    pub fn of_mesh(mesh: &'static AnyMesh) -> Profile<'a> {
        Profile {
            proxy: Cow::Borrowed(mesh.proxy()),
            setup: Setup::Mesh(mesh.setup()),
            trailing: mesh.trailing(),
            dependents: mesh.dependents(),
            mesh: Some(mesh),
        }
    }

    pub fn declared(rule: &'a SidecarRule) -> Profile<'a> {
        Profile {
            proxy: Cow::Borrowed(&rule.name),
            setup: Setup::Declared(&rule.setup_containers),
            trailing: &[],
            dependents: Dependents::Others,
            mesh: None,
        }
    }

    pub fn is_member(&self, name: &str) -> bool {
        name == self.proxy || self.setup.contains(name) || self.trailing.contains(&name)
    }
}

/// The profiles `settings` ask for in `pod`: the meshes' first (a profile per proxy for a mesh
/// that names its proxies per pod), then the user's sidecars in the order given, since an earlier
/// sidecar starts before a later one, so a later sidecar can use the mesh.
pub(crate) fn profiles<'s>(settings: &'s Settings, pod: &PodView) -> Vec<Profile<'s>> {
    let mut profiles: Vec<Profile> = Vec::new();
    for mesh in settings.meshes.iter().filter_map(|id| mesh::by_id(id)) {
        match mesh.instances(pod) {
            None => profiles.push(Profile::of_mesh(mesh)),
            Some(instances) => profiles.extend(instances.into_iter().map(|instance| Profile {
                proxy: Cow::Owned(instance.proxy),
                setup: Setup::Named(instance.setup),
                ..Profile::of_mesh(mesh)
            })),
        }
    }
    profiles.extend(settings.extra_sidecars.iter().map(Profile::declared));
    profiles
}

impl std::fmt::Debug for Profile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("proxy", &self.proxy)
            .field("setup", &self.setup)
            .field("trailing", &self.trailing)
            .field("dependents", &self.dependents)
            .field("mesh", &self.mesh.map(|m| m.id()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Consul's multi-port pods get a profile per service, each with its own setup container.
    #[test]
    fn consul_names_a_profile_per_service() {
        let object = json!({"metadata": {"annotations": {
            "consul.hashicorp.com/connect-inject-status": "injected",
            "consul.hashicorp.com/connect-service": "api,admin"}},
            "spec": {"initContainers": [{"name": "consul-connect-inject-init-api"},
                                        {"name": "consul-connect-inject-init-admin"}]}});
        let settings = Settings::from_json(&json!({"meshes": ["consul"]})).unwrap();
        let found: Vec<(String, Vec<String>, Dependents)> =
            profiles(&settings, &PodView::of_pod(&object))
                .iter()
                .map(|p| {
                    let setup = p.setup.names().into_iter().map(str::to_owned).collect();
                    (p.proxy.to_string(), setup, p.dependents)
                })
                .collect();
        assert_eq!(
            found,
            [
                (
                    "consul-dataplane-api".to_owned(),
                    vec!["consul-connect-inject-init-api".to_owned()],
                    Dependents::Nothing
                ),
                (
                    "consul-dataplane-admin".to_owned(),
                    vec!["consul-connect-inject-init-admin".to_owned()],
                    Dependents::Nothing
                ),
            ]
        );
    }

    #[test]
    fn no_mesh_leaves_only_declared_sidecars() {
        let settings =
            Settings::from_json(&json!({"meshes": [], "extraSidecars": [{"name": "vault-agent"}]}))
                .unwrap();
        let object = json!({});
        let pod = PodView::of_pod(&object);
        let proxies = |settings| -> Vec<String> {
            profiles(settings, &pod)
                .iter()
                .map(|p| p.proxy.to_string())
                .collect()
        };
        assert_eq!(proxies(&settings), ["vault-agent"]);
        let linkerd_first = Settings::from_json(&json!({"meshes": ["linkerd", "istio"]})).unwrap();
        assert_eq!(proxies(&linkerd_first), ["linkerd-proxy", "istio-proxy"]);
    }
}
