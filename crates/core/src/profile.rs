//! Which containers make up a sidecar: the proxy, the init containers that must run before it, the
//! ones its mesh places right after it, and the mesh whose rules apply (none for a sidecar the
//! user declares).

use std::borrow::Cow;

use crate::mesh::{self, Mesh};
use crate::settings::{Settings, SidecarRule};

#[derive(Clone)]
pub(crate) struct Profile<'a> {
    pub proxy: &'a str,
    /// A mesh's own list, borrowed: a review builds a profile per mesh and allocates none.
    pub setup: Cow<'a, [&'a str]>,
    pub trailing: &'a [&'a str],
    pub mesh: Option<&'static dyn Mesh>,
}

impl<'a> Profile<'a> {
    pub fn of_mesh(mesh: &'static dyn Mesh) -> Profile<'a> {
        Profile {
            proxy: mesh.proxy(),
            setup: Cow::Borrowed(mesh.setup()),
            trailing: mesh.trailing(),
            mesh: Some(mesh),
        }
    }

    pub fn declared(rule: &'a SidecarRule) -> Profile<'a> {
        Profile {
            proxy: &rule.name,
            setup: Cow::Owned(rule.setup_containers.iter().map(String::as_str).collect()),
            trailing: &[],
            mesh: None,
        }
    }

    pub fn is_member(&self, name: &str) -> bool {
        name == self.proxy || self.setup.contains(&name) || self.trailing.contains(&name)
    }
}

/// The profiles `settings` ask for: the meshes' first, then the user's sidecars in the order given,
/// since an earlier sidecar starts before a later one, so a later sidecar can use the mesh.
pub(crate) fn profiles(settings: &Settings) -> Vec<Profile<'_>> {
    let mut profiles: Vec<Profile> = settings
        .meshes
        .iter()
        .filter_map(|id| mesh::by_id(id))
        .map(Profile::of_mesh)
        .collect();
    profiles.extend(settings.extra_sidecars.iter().map(Profile::declared));
    profiles
}

impl std::fmt::Debug for Profile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("proxy", &self.proxy)
            .field("setup", &self.setup)
            .field("trailing", &self.trailing)
            .field("mesh", &self.mesh.map(|m| m.id()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_mesh_leaves_only_declared_sidecars() {
        let settings =
            Settings::from_json(&json!({"meshes": [], "extraSidecars": [{"name": "vault-agent"}]}))
                .unwrap();
        let proxies: Vec<&str> = profiles(&settings).iter().map(|p| p.proxy).collect();
        assert_eq!(proxies, ["vault-agent"]);
        let linkerd_first = Settings::from_json(&json!({"meshes": ["linkerd", "istio"]})).unwrap();
        let proxies: Vec<&str> = profiles(&linkerd_first).iter().map(|p| p.proxy).collect();
        assert_eq!(proxies, ["linkerd-proxy", "istio-proxy"]);
    }
}
