//! Policy settings: parsed by hand from JSON so that every mistake gets a message that names the
//! setting, what was found and what is accepted, instead of a serde error with a byte offset.

use serde_json::{Map, Value};

use crate::describe::{and_list, describe};
use crate::kubelet::KubeletVersion;
use crate::mesh::{self, MESHES, Mesh, MeshSettings};

/// What the policy does with pods it looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Convert, reorder and annotate.
    #[default]
    Mutate,
    /// Never mutate: reject pods whose proxy is not a correctly placed native sidecar.
    Validate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mutate => "mutate",
            Mode::Validate => "validate",
        }
    }
}

/// A sidecar declared by the user, handled like a mesh's proxy but without any mesh-specific rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarRule {
    pub name: String,
    pub setup_containers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    /// Ask the mesh's injector for native mode on Pods that have no proxy yet.
    pub request_native_injection: bool,
    pub extra_sidecars: Vec<SidecarRule>,
    /// The meshes whose proxies the policy handles, by id (`istio`, `linkerd`, `kuma`, `consul`). The first
    /// is the one asked for native injection when a pod does not say which mesh injects it.
    pub meshes: Vec<String>,
    pub on_resource_increase: OnResourceIncrease,
    /// Read the cluster's nodes and make native sidecars only where their kubelets run them.
    pub check_nodes: bool,
    /// The lowest kubelet version that runs native sidecars, when `check_nodes` is on.
    pub min_kubelet_version: KubeletVersion,
    /// The meshes' own sections (`kuma: {...}`, `consul: {...}`): what their control planes render that a pod
    /// does not show.
    pub mesh_settings: MeshSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Mutate,
            request_native_injection: true,
            extra_sidecars: Vec::new(),
            meshes: MESHES.iter().map(|m| m.id().to_owned()).collect(),
            on_resource_increase: OnResourceIncrease::Warn,
            check_nodes: false,
            min_kubelet_version: KubeletVersion::DEFAULT_MINIMUM,
            mesh_settings: MeshSettings::default(),
        }
    }
}

/// The settings' keys besides the meshes' sections.
const KEYS: [&str; 7] = [
    "mode",
    "requestNativeInjection",
    "extraSidecars",
    "meshes",
    "onResourceIncrease",
    "checkNodes",
    "minKubeletVersion",
];

impl Settings {
    /// Parses the policy settings. `null` and `{}` mean the defaults.
    pub fn from_json(value: &Value) -> Result<Settings, String> {
        let mut settings = Settings::default();
        let map = match value {
            Value::Null => return Ok(settings),
            Value::Object(map) => map,
            other => {
                return Err(format!(
                    "settings must be an object such as {{\"mode\": \"mutate\"}}, found {}",
                    describe(other)
                ));
            }
        };
        for (key, value) in map {
            match key.as_str() {
                "mode" => settings.mode = parse_mode(value)?,
                "requestNativeInjection" => {
                    settings.request_native_injection = value.as_bool().ok_or_else(|| {
                        format!(
                            "requestNativeInjection must be true or false, found {}",
                            describe(value)
                        )
                    })?
                }
                "extraSidecars" => settings.extra_sidecars = parse_extra_sidecars(value)?,
                "meshes" => settings.meshes = parse_meshes(value)?,
                "onResourceIncrease" => {
                    settings.on_resource_increase = OnResourceIncrease::parse(value)?
                }
                "checkNodes" => {
                    settings.check_nodes = value.as_bool().ok_or_else(|| {
                        format!(
                            "checkNodes must be true or false, found {}",
                            describe(value)
                        )
                    })?
                }
                "minKubeletVersion" => settings.min_kubelet_version = parse_min_kubelet(value)?,
                other => match settings.mesh_settings.parse(other, value) {
                    Some(parsed) => parsed?,
                    None => {
                        return Err(format!(
                            "unknown setting \"{other}\": the settings are {} (camelCase)",
                            and_list(&[&KEYS[..], MeshSettings::KEYS].concat())
                        ));
                    }
                },
            }
        }
        Ok(settings)
    }

    /// The settings as JSON, in the same shape `from_json` reads.
    pub fn to_json(&self) -> Value {
        let sidecars = self
            .extra_sidecars
            .iter()
            .map(|rule| {
                serde_json::json!({"name": rule.name, "setupContainers": rule.setup_containers})
            })
            .collect::<Vec<_>>();
        let mut settings = serde_json::json!({
            "mode": self.mode.as_str(),
            "requestNativeInjection": self.request_native_injection,
            "extraSidecars": sidecars,
            "meshes": self.meshes,
            "onResourceIncrease": self.on_resource_increase.as_str(),
            "checkNodes": self.check_nodes,
            "minKubeletVersion": self.min_kubelet_version.to_string(),
        });
        if let Value::Object(map) = &mut settings {
            self.mesh_settings.write(map);
        }
        settings
    }
}

fn mesh_ids() -> String {
    let ids: Vec<String> = MESHES.iter().map(|m| format!("\"{}\"", m.id())).collect();
    and_list(&ids)
}

fn parse_meshes(value: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "meshes must be a list of the meshes whose proxies the policy handles, such as [\"{}\"], found {}; the meshes are {}",
            MESHES[0].id(),
            describe(value),
            mesh_ids()
        ));
    };
    let mut meshes: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let id = match item {
            Value::String(id) if mesh::by_id(id).is_some() => id,
            other => {
                return Err(format!(
                    "meshes[{index}] must be one of {}, found {}",
                    mesh_ids(),
                    describe(other)
                ));
            }
        };
        if meshes.contains(id) {
            return Err(format!(
                "meshes[{index}] \"{id}\" is listed twice; list each mesh once"
            ));
        }
        meshes.push(id.clone());
    }
    Ok(meshes)
}

fn parse_mode(value: &Value) -> Result<Mode, String> {
    match value.as_str() {
        Some("mutate") => Ok(Mode::Mutate),
        Some("validate") => Ok(Mode::Validate),
        _ => Err(format!(
            "mode must be \"mutate\" or \"validate\", found {}",
            describe(value)
        )),
    }
}

fn parse_min_kubelet(value: &Value) -> Result<KubeletVersion, String> {
    let lowest = KubeletVersion::LOWEST_MINIMUM;
    let version = match value {
        Value::String(text) => KubeletVersion::from_setting(text),
        // YAML reads an unquoted 1.33 as a number.
        Value::Number(_) => {
            return Err(format!(
                "minKubeletVersion must be a string such as \"1.33\" (quote it in YAML), found {}",
                describe(value)
            ));
        }
        _ => None,
    };
    match version {
        Some(version) if version >= lowest => Ok(version),
        Some(version) => Err(format!(
            "minKubeletVersion {version} is below {lowest}, the first Kubernetes release that runs sidecar containers by default; set \"{lowest}\" or later"
        )),
        None => Err(format!(
            "minKubeletVersion must be a Kubernetes version MAJOR.MINOR such as \"1.33\", found {}",
            describe(value)
        )),
    }
}

fn parse_extra_sidecars(value: &Value) -> Result<Vec<SidecarRule>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "extraSidecars must be a list of {{\"name\": \"...\", \"setupContainers\": [\"...\"]}} entries, found {}",
            describe(value)
        ));
    };
    let mut rules: Vec<SidecarRule> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let rule = parse_rule(index, item)?;
        for (earlier_index, earlier) in rules.iter().enumerate() {
            if earlier.name == rule.name {
                return Err(format!(
                    "extraSidecars[{index}].name \"{}\" is already declared by extraSidecars[{earlier_index}]; keep one entry per sidecar",
                    rule.name
                ));
            }
            if earlier.setup_containers.contains(&rule.name)
                || rule.setup_containers.contains(&earlier.name)
            {
                return Err(format!(
                    "extraSidecars[{index}] and extraSidecars[{earlier_index}] use the same container both as a sidecar and as a setup container; a container is one or the other"
                ));
            }
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn parse_rule(index: usize, item: &Value) -> Result<SidecarRule, String> {
    let Value::Object(map) = item else {
        return Err(format!(
            "extraSidecars[{index}] must be an object such as {{\"name\": \"vault-agent\", \"setupContainers\": [\"vault-agent-init\"]}}, found {}",
            describe(item)
        ));
    };
    check_rule_keys(index, map)?;
    let name = match map.get("name") {
        Some(Value::String(name)) => container_name(name, &format!("extraSidecars[{index}].name"))?,
        Some(other) => {
            return Err(format!(
                "extraSidecars[{index}].name must be a container name, found {}",
                describe(other)
            ));
        }
        None => {
            return Err(format!(
                "extraSidecars[{index}] needs a \"name\": the name of the sidecar container to run as a native sidecar"
            ));
        }
    };
    if let Some(mesh) = mesh::owner_of(&name) {
        let what = if mesh.is_proxy(&name) {
            "proxy, which the policy already handles"
        } else {
            "own init containers, which the policy places itself"
        };
        let article = if mesh.is_proxy(&name) { "" } else { "one of " };
        return Err(format!(
            "extraSidecars[{index}].name \"{name}\" is {article}{}'s {what}; remove this entry",
            mesh.title()
        ));
    }
    let setup_containers = match map.get("setupContainers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(names)) => {
            let mut setup = Vec::with_capacity(names.len());
            for (position, entry) in names.iter().enumerate() {
                let field = format!("extraSidecars[{index}].setupContainers[{position}]");
                let Value::String(setup_name) = entry else {
                    return Err(format!(
                        "{field} must be a container name, found {}",
                        describe(entry)
                    ));
                };
                let setup_name = container_name(setup_name, &field)?;
                if let Some(mesh) = MESHES.iter().find(|m| m.is_proxy(&setup_name)) {
                    return Err(format!(
                        "{field} \"{setup_name}\" is {}'s proxy, which starts before every declared sidecar already; remove it from setupContainers",
                        mesh.title()
                    ));
                }
                if setup_name == name {
                    return Err(format!(
                        "{field} \"{setup_name}\" is the sidecar itself; list only the init containers that must run before it"
                    ));
                }
                if !setup.contains(&setup_name) {
                    setup.push(setup_name);
                }
            }
            setup
        }
        Some(other) => {
            return Err(format!(
                "extraSidecars[{index}].setupContainers must be a list of init container names, found {}",
                describe(other)
            ));
        }
    };
    Ok(SidecarRule {
        name,
        setup_containers,
    })
}

fn check_rule_keys(index: usize, map: &Map<String, Value>) -> Result<(), String> {
    match map
        .keys()
        .find(|key| !matches!(key.as_str(), "name" | "setupContainers"))
    {
        Some(key) => Err(format!(
            "unknown key \"{key}\" in extraSidecars[{index}]: an entry has \"name\" and \"setupContainers\""
        )),
        None => Ok(()),
    }
}

/// Container names are DNS-1123 labels; anything else can never match a container.
fn container_name(name: &str, field: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{field} must be a container name (lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit), found \"{name}\""
        ))
    }
}

/// What a conversion or reorder that raises the pod's effective requests or limits does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnResourceIncrease {
    /// Change the pod and say what rose in a warning.
    #[default]
    Warn,
    /// Refuse the pod with that message.
    Reject,
    /// Change the pod without computing anything.
    Ignore,
}

impl OnResourceIncrease {
    pub fn as_str(self) -> &'static str {
        match self {
            OnResourceIncrease::Warn => "warn",
            OnResourceIncrease::Reject => "reject",
            OnResourceIncrease::Ignore => "ignore",
        }
    }

    fn parse(value: &Value) -> Result<OnResourceIncrease, String> {
        match value.as_str() {
            Some("warn") => Ok(OnResourceIncrease::Warn),
            Some("reject") => Ok(OnResourceIncrease::Reject),
            Some("ignore") => Ok(OnResourceIncrease::Ignore),
            _ => Err(format!(
                "onResourceIncrease must be \"warn\", \"reject\" or \"ignore\", found {}",
                describe(value)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::null(json!(null))]
    #[case::empty(json!({}))]
    fn defaults(#[case] input: Value) {
        assert_eq!(Settings::from_json(&input), Ok(Settings::default()));
        assert_eq!(Settings::default().mode, Mode::Mutate);
        assert!(Settings::default().request_native_injection);
        assert_eq!(
            Settings::default().meshes,
            ["istio", "linkerd", "kuma", "consul"]
        );
        assert!(!Settings::default().check_nodes);
        assert_eq!(Settings::default().min_kubelet_version.to_string(), "1.33");
    }

    #[rstest]
    #[case("1.29", KubeletVersion::new(1, 29))]
    #[case("1.33", KubeletVersion::new(1, 33))]
    #[case("1.40", KubeletVersion::new(1, 40))]
    fn node_checking(#[case] minimum: &str, #[case] expected: KubeletVersion) {
        let settings =
            Settings::from_json(&json!({"checkNodes": true, "minKubeletVersion": minimum}))
                .unwrap();
        assert!(settings.check_nodes);
        assert_eq!(settings.min_kubelet_version, expected);
        assert_eq!(Settings::from_json(&settings.to_json()), Ok(settings));
    }

    /// Kuma's section: the startup probe timings of its control plane, each defaulting to kuma-cp's.
    #[test]
    fn kuma_settings() {
        let settings = Settings::from_json(&json!({
            "meshes": ["kuma"],
            "kuma": {"startupProbe": {"initialDelaySeconds": 0, "failureThreshold": 30}}
        }))
        .unwrap();
        assert_eq!(
            settings.to_json()["kuma"],
            json!({"startupProbe": {"initialDelaySeconds": 0, "timeoutSeconds": 3, "periodSeconds": 5, "failureThreshold": 30}})
        );
        assert_eq!(Settings::from_json(&settings.to_json()), Ok(settings));
        assert_eq!(
            Settings::default().to_json()["kuma"],
            json!({"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "failureThreshold": 12}})
        );
        for empty in [
            json!({"kuma": null}),
            json!({"kuma": {}}),
            json!({"kuma": {"startupProbe": {}}}),
        ] {
            assert_eq!(Settings::from_json(&empty), Ok(Settings::default()));
        }
    }

    /// Consul's section: the injector's probe flags, each defaulting to consul-k8s's, and the
    /// image check's override.
    #[test]
    fn consul_settings() {
        let settings = Settings::from_json(&json!({
            "meshes": ["consul"],
            "consul": {"startupProbe": {"periodSeconds": 0, "failureThreshold": 30}, "dataplaneSupportsNative": true}
        }))
        .unwrap();
        assert_eq!(
            settings.to_json()["consul"],
            json!({"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 0, "failureThreshold": 30}, "dataplaneSupportsNative": true})
        );
        assert_eq!(Settings::from_json(&settings.to_json()), Ok(settings));
        for empty in [
            json!({"consul": null}),
            json!({"consul": {}}),
            json!({"consul": {"startupProbe": null, "dataplaneSupportsNative": null}}),
        ] {
            assert_eq!(Settings::from_json(&empty), Ok(Settings::default()));
        }
    }

    #[test]
    fn full_settings() {
        let settings = Settings::from_json(&json!({
            "mode": "validate",
            "requestNativeInjection": false,
            "extraSidecars": [{"name": "vault-agent", "setupContainers": ["vault-agent-init"]}, {"name": "log-shipper"}],
            "meshes": ["linkerd"],
            "onResourceIncrease": "reject"
        }))
        .unwrap();
        assert_eq!(settings.on_resource_increase, OnResourceIncrease::Reject);
        assert_eq!(settings.mode, Mode::Validate);
        assert_eq!(settings.meshes, ["linkerd"]);
        assert!(!settings.request_native_injection);
        assert_eq!(
            settings.extra_sidecars,
            vec![
                SidecarRule {
                    name: "vault-agent".into(),
                    setup_containers: vec!["vault-agent-init".into()]
                },
                SidecarRule {
                    name: "log-shipper".into(),
                    setup_containers: vec![]
                },
            ]
        );
        assert_eq!(Settings::from_json(&settings.to_json()), Ok(settings));
    }

    #[rstest]
    #[case::not_object(json!("mutate"), "settings must be an object such as {\"mode\": \"mutate\"}, found the string \"mutate\"")]
    #[case::unknown(json!({"nativeSidecar": true}), "unknown setting \"nativeSidecar\": the settings are mode, requestNativeInjection, extraSidecars, meshes, onResourceIncrease, checkNodes, minKubeletVersion, kuma and consul (camelCase)")]
    #[case::snake_case(json!({"request_native_injection": true}), "unknown setting \"request_native_injection\": the settings are mode, requestNativeInjection, extraSidecars, meshes, onResourceIncrease, checkNodes, minKubeletVersion, kuma and consul (camelCase)")]
    #[case::bad_mode(json!({"mode": "audit"}), "mode must be \"mutate\" or \"validate\", found the string \"audit\"")]
    #[case::mode_type(json!({"mode": 1}), "mode must be \"mutate\" or \"validate\", found the number 1")]
    #[case::bool_type(json!({"requestNativeInjection": "yes"}), "requestNativeInjection must be true or false, found the string \"yes\"")]
    #[case::sidecars_type(json!({"extraSidecars": {"name": "x"}}), "extraSidecars must be a list of {\"name\": \"...\", \"setupContainers\": [\"...\"]} entries, found an object")]
    #[case::entry_type(json!({"extraSidecars": ["vault-agent"]}), "extraSidecars[0] must be an object such as {\"name\": \"vault-agent\", \"setupContainers\": [\"vault-agent-init\"]}, found the string \"vault-agent\"")]
    #[case::missing_name(json!({"extraSidecars": [{"setupContainers": []}]}), "extraSidecars[0] needs a \"name\": the name of the sidecar container to run as a native sidecar")]
    #[case::bad_name(json!({"extraSidecars": [{"name": "Vault_Agent"}]}), "extraSidecars[0].name must be a container name (lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit), found \"Vault_Agent\"")]
    #[case::name_type(json!({"extraSidecars": [{"name": null}]}), "extraSidecars[0].name must be a container name, found null")]
    #[case::istio(json!({"extraSidecars": [{"name": "istio-proxy"}]}), "extraSidecars[0].name \"istio-proxy\" is Istio's proxy, which the policy already handles; remove this entry")]
    #[case::istio_init(json!({"extraSidecars": [{"name": "istio-init"}]}), "extraSidecars[0].name \"istio-init\" is one of Istio's own init containers, which the policy places itself; remove this entry")]
    #[case::setup_proxy(json!({"extraSidecars": [{"name": "a", "setupContainers": ["istio-proxy"]}]}), "extraSidecars[0].setupContainers[0] \"istio-proxy\" is Istio's proxy, which starts before every declared sidecar already; remove it from setupContainers")]
    #[case::duplicate(json!({"extraSidecars": [{"name": "a"}, {"name": "a"}]}), "extraSidecars[1].name \"a\" is already declared by extraSidecars[0]; keep one entry per sidecar")]
    #[case::crossed(json!({"extraSidecars": [{"name": "a", "setupContainers": ["b"]}, {"name": "b"}]}), "extraSidecars[1] and extraSidecars[0] use the same container both as a sidecar and as a setup container; a container is one or the other")]
    #[case::setup_self(json!({"extraSidecars": [{"name": "a", "setupContainers": ["a"]}]}), "extraSidecars[0].setupContainers[0] \"a\" is the sidecar itself; list only the init containers that must run before it")]
    #[case::setup_type(json!({"extraSidecars": [{"name": "a", "setupContainers": "b"}]}), "extraSidecars[0].setupContainers must be a list of init container names, found the string \"b\"")]
    #[case::setup_entry(json!({"extraSidecars": [{"name": "a", "setupContainers": [true]}]}), "extraSidecars[0].setupContainers[0] must be a container name, found the boolean true")]
    #[case::linkerd(json!({"extraSidecars": [{"name": "linkerd-proxy"}]}), "extraSidecars[0].name \"linkerd-proxy\" is Linkerd's proxy, which the policy already handles; remove this entry")]
    #[case::linkerd_validator(json!({"extraSidecars": [{"name": "linkerd-network-validator"}]}), "extraSidecars[0].name \"linkerd-network-validator\" is one of Linkerd's own init containers, which the policy places itself; remove this entry")]
    #[case::setup_linkerd_proxy(json!({"extraSidecars": [{"name": "a", "setupContainers": ["linkerd-proxy"]}]}), "extraSidecars[0].setupContainers[0] \"linkerd-proxy\" is Linkerd's proxy, which starts before every declared sidecar already; remove it from setupContainers")]
    #[case::meshes_type(json!({"meshes": "istio"}), "meshes must be a list of the meshes whose proxies the policy handles, such as [\"istio\"], found the string \"istio\"; the meshes are \"istio\", \"linkerd\", \"kuma\" and \"consul\"")]
    #[case::unknown_mesh(json!({"meshes": ["istio", "cilium"]}), "meshes[1] must be one of \"istio\", \"linkerd\", \"kuma\" and \"consul\", found the string \"cilium\"")]
    #[case::mesh_case(json!({"meshes": ["Linkerd"]}), "meshes[0] must be one of \"istio\", \"linkerd\", \"kuma\" and \"consul\", found the string \"Linkerd\"")]
    #[case::mesh_entry_type(json!({"meshes": [{"name": "istio"}]}), "meshes[0] must be one of \"istio\", \"linkerd\", \"kuma\" and \"consul\", found an object")]
    #[case::mesh_twice(json!({"meshes": ["linkerd", "linkerd"]}), "meshes[1] \"linkerd\" is listed twice; list each mesh once")]
    #[case::on_resource_increase(json!({"onResourceIncrease": "error"}), "onResourceIncrease must be \"warn\", \"reject\" or \"ignore\", found the string \"error\"")]
    #[case::on_resource_increase_type(json!({"onResourceIncrease": false}), "onResourceIncrease must be \"warn\", \"reject\" or \"ignore\", found the boolean false")]
    #[case::check_nodes_type(json!({"checkNodes": "true"}), "checkNodes must be true or false, found the string \"true\"")]
    #[case::min_number(json!({"minKubeletVersion": 1.33}), "minKubeletVersion must be a string such as \"1.33\" (quote it in YAML), found the number 1.33")]
    #[case::min_v(json!({"minKubeletVersion": "v1.33"}), "minKubeletVersion must be a Kubernetes version MAJOR.MINOR such as \"1.33\", found the string \"v1.33\"")]
    #[case::min_patch(json!({"minKubeletVersion": "1.33.0"}), "minKubeletVersion must be a Kubernetes version MAJOR.MINOR such as \"1.33\", found the string \"1.33.0\"")]
    #[case::min_null(json!({"minKubeletVersion": null}), "minKubeletVersion must be a Kubernetes version MAJOR.MINOR such as \"1.33\", found null")]
    #[case::min_too_low(json!({"minKubeletVersion": "1.28"}), "minKubeletVersion 1.28 is below 1.29, the first Kubernetes release that runs sidecar containers by default; set \"1.29\" or later")]
    #[case::min_major_zero(json!({"minKubeletVersion": "0.99"}), "minKubeletVersion 0.99 is below 1.29, the first Kubernetes release that runs sidecar containers by default; set \"1.29\" or later")]
    #[case::entry_key(json!({"extraSidecars": [{"name": "a", "setup": ["b"]}]}), "unknown key \"setup\" in extraSidecars[0]: an entry has \"name\" and \"setupContainers\"")]
    #[case::kuma_proxy(json!({"extraSidecars": [{"name": "kuma-sidecar"}]}), "extraSidecars[0].name \"kuma-sidecar\" is Kuma's proxy, which the policy already handles; remove this entry")]
    #[case::kuma_validation(json!({"extraSidecars": [{"name": "kuma-validation"}]}), "extraSidecars[0].name \"kuma-validation\" is one of Kuma's own init containers, which the policy places itself; remove this entry")]
    #[case::consul_proxy(json!({"extraSidecars": [{"name": "consul-dataplane-web"}]}), "extraSidecars[0].name \"consul-dataplane-web\" is Consul's proxy, which the policy already handles; remove this entry")]
    #[case::consul_init(json!({"extraSidecars": [{"name": "consul-connect-inject-init"}]}), "extraSidecars[0].name \"consul-connect-inject-init\" is one of Consul's own init containers, which the policy places itself; remove this entry")]
    #[case::consul_type(json!({"consul": [1, 1, 10, 5]}), "consul must be an object such as {\"startupProbe\": {\"failureThreshold\": 10}, \"dataplaneSupportsNative\": false}, found a list")]
    #[case::kuma_type(json!({"kuma": "1,3,5,12"}), "kuma must be an object such as {\"startupProbe\": {\"failureThreshold\": 12}}, found the string \"1,3,5,12\"")]
    #[case::kuma_key(json!({"kuma": {"startupProbes": {}}}), "unknown key \"startupProbes\" in kuma: the section has \"startupProbe\", the timings of the startup probe Kuma's control plane gives kuma-sidecar")]
    #[case::kuma_probe_type(json!({"kuma": {"startupProbe": [1, 3, 5, 12]}}), "kuma.startupProbe must be an object such as {\"failureThreshold\": 12}, found a list")]
    #[case::kuma_timing_key(json!({"kuma": {"startupProbe": {"successThreshold": 1}}}), "unknown key \"successThreshold\" in kuma.startupProbe: the timings are initialDelaySeconds, timeoutSeconds, periodSeconds and failureThreshold, as in kuma-cp's runtime.kubernetes.injector.sidecarContainer.startupProbe")]
    #[case::kuma_negative(json!({"kuma": {"startupProbe": {"periodSeconds": -5}}}), "kuma.startupProbe.periodSeconds must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the number -5")]
    #[case::kuma_fraction(json!({"kuma": {"startupProbe": {"timeoutSeconds": 2.5}}}), "kuma.startupProbe.timeoutSeconds must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the number 2.5")]
    #[case::kuma_string(json!({"kuma": {"startupProbe": {"failureThreshold": "12"}}}), "kuma.startupProbe.failureThreshold must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the string \"12\"")]
    #[case::kuma_too_big(json!({"kuma": {"startupProbe": {"initialDelaySeconds": 2147483648u64}}}), "kuma.startupProbe.initialDelaySeconds must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the number 2147483648")]
    #[case::kuma_null_timing(json!({"kuma": {"startupProbe": {"failureThreshold": null}}}), "kuma.startupProbe.failureThreshold must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found null")]
    fn rejects(#[case] input: Value, #[case] message: &str) {
        assert_eq!(Settings::from_json(&input), Err(message.to_owned()));
    }
}
