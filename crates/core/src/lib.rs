//! The injection core of native-sidecar-policy: pure functions on JSON that make mesh proxies
//! Kubernetes native sidecars (`initContainers` entries with `restartPolicy: Always`) placed before
//! every init container that needs the network.
//!
//! No I/O and no Kubewarden types: the same code runs in the policy module, in the JavaScript
//! package and in native tools. Objects are edited as `serde_json::Value` so that every field the
//! rules do not name, known to Kubernetes or not, comes back as it was.

mod convert;
mod describe;
mod kubelet;
mod mesh;
mod nodes;
mod order;
mod output;
mod path;
mod pod;
mod profile;
mod quantity;
mod resources;
mod review;
mod settings;
mod validate;
mod workload;

pub use kubelet::KubeletVersion;
pub use mesh::{MeshInfo, MeshSettings, meshes};
pub use nodes::{
    Cluster, NO_CLUSTER, NoCluster, Node, Support, answer_support, node_list, parse_node,
    parse_node_list, support,
};
pub use order::Misplacement;
pub use output::{Output, to_json_vec};
pub use quantity::{Format, Quantity, QuantityError};
pub use resources::{Bound, PodResources, ResourceChange, ResourceList, Rise, resource_change};
pub use review::{Outcome, review, review_with};
pub use settings::{Mode, OnResourceIncrease, Settings, SidecarRule};
pub use validate::{Finding, Problem};
pub use workload::{ALL_KINDS, Kind, Operation};

use serde_json::Value;

/// Reviews an AdmissionRequest (`kind`, `operation`, `subResource`, `object`): the object in
/// `request["object"]` is edited in place. Kinds the policy does not handle, subresources and
/// operations other than CREATE and UPDATE are accepted untouched.
pub fn review_request(request: &mut Value, settings: &Settings) -> Outcome {
    let text = |pointer: &str| path::at(request, pointer).and_then(Value::as_str);
    if text("/subResource").is_some_and(|s| !s.is_empty()) {
        return Outcome::default();
    }
    let Some(kind) = Kind::from_group_kind(
        text("/kind/group").unwrap_or_default(),
        text("/kind/kind").unwrap_or_default(),
    ) else {
        return Outcome::default();
    };
    let operation = Operation::parse(text("/operation").unwrap_or_default());
    match request.get_mut("object") {
        Some(object) => review(kind, operation, object, settings),
        None => Outcome::default(),
    }
}

/// Reviews a manifest as if it were being created: the kind comes from its `apiVersion` and `kind`.
/// Returns `None` for kinds without a pod spec.
pub fn review_manifest(manifest: &mut Value, settings: &Settings) -> Option<Outcome> {
    let kind = Kind::from_object(manifest)?;
    Some(review(kind, Operation::Create, manifest, settings))
}
