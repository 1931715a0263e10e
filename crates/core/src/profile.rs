//! Which containers make up a sidecar: the proxy, the init containers that must run before it, the
//! ones its mesh places right after it, and the mesh whose rules apply (none for a sidecar the
//! user declares).

use crate::mesh::Mesh;
use crate::settings::SidecarRule;

#[derive(Clone)]
pub(crate) struct Profile<'a> {
    pub proxy: &'a str,
    pub setup: Vec<&'a str>,
    pub trailing: &'a [&'a str],
    pub mesh: Option<&'static dyn Mesh>,
}

impl<'a> Profile<'a> {
    pub fn of_mesh(mesh: &'static dyn Mesh) -> Profile<'static> {
        Profile {
            proxy: mesh.proxy(),
            setup: mesh.setup().to_vec(),
            trailing: mesh.trailing(),
            mesh: Some(mesh),
        }
    }

    pub fn declared(rule: &'a SidecarRule) -> Profile<'a> {
        Profile {
            proxy: &rule.name,
            setup: rule.setup_containers.iter().map(String::as_str).collect(),
            trailing: &[],
            mesh: None,
        }
    }

    pub fn is_member(&self, name: &str) -> bool {
        name == self.proxy || self.setup.contains(&name) || self.trailing.contains(&name)
    }
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
