//! The policy's settings on the command line: a settings file (the same YAML or JSON as in the
//! policy's manifest, or the manifest itself), plus flags for the common ones. Everything is
//! validated by the core, with the policy's messages.

use std::path::PathBuf;

use native_sidecar_core::{Mode, Settings};
use serde_json::{Map, Value, json};

use crate::documents;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingsArgs {
    /// The policy's settings (YAML or JSON: the `settings` object, or a ClusterAdmissionPolicy or
    /// AdmissionPolicy that holds them). Its `mode` is ignored: the command decides it.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,

    /// A sidecar to run as a native sidecar, after the init containers it needs (the
    /// `extraSidecars` setting); repeat for more.
    #[arg(long = "extra-sidecar", value_name = "NAME[:SETUP,...]")]
    pub extra_sidecars: Vec<String>,

    /// Do not ask the first mesh of `meshes` for native injection on Pods that have no proxy yet (the
    /// `requestNativeInjection: false` setting).
    #[arg(long)]
    pub no_request_native_injection: bool,

    /// The meshes whose proxies are handled, comma-separated (the `meshes` setting; '' for none,
    /// to handle only --extra-sidecar ones).
    #[arg(long, value_name = "MESH,...")]
    pub meshes: Option<String>,

    /// What a conversion that raises a pod's effective requests or limits does: warn, reject or
    /// ignore (the `onResourceIncrease` setting).
    #[arg(long, value_name = "warn|reject|ignore")]
    pub on_resource_increase: Option<String>,

    /// The startup probe timings of Kuma's control plane
    /// (`runtime.kubernetes.injector.sidecarContainer.startupProbe`), which a Kuma pod does not
    /// show, comma-separated: initialDelaySeconds, timeoutSeconds, periodSeconds and
    /// failureThreshold, each `KEY=N`, the others kuma-cp's defaults (the `kuma.startupProbe`
    /// setting).
    #[arg(long, value_name = "KEY=N,...")]
    pub kuma_startup_probe: Option<String>,

    /// The startup probe timings consul-k8s's injector gives a native consul-dataplane where the
    /// pod has no probe annotation (its `-default-sidecar-*` flags), comma-separated: each
    /// `KEY=N`, the others consul-k8s's defaults (the `consul.startupProbe` setting).
    #[arg(long, value_name = "KEY=N,...")]
    pub consul_startup_probe: Option<String>,

    /// Convert Consul dataplanes whose image tag does not show a consul-dataplane release with
    /// `-check-proxy-health` (1.6.9, 1.7.5, 1.8.2, 1.9.0 or later): a digest, `latest`, a mirror's
    /// own tags (the `consul.dataplaneSupportsNative: true` setting).
    #[arg(long)]
    pub consul_dataplane_supports_native: bool,
}

impl SettingsArgs {
    /// The settings for `mode`: the file's, then the flags on top.
    pub fn resolve(&self, mode: Mode) -> Result<Settings, String> {
        self.resolve_with(mode, Map::new())
    }

    /// [`SettingsArgs::resolve`] with a command's own flags on top (settings by name, values as
    /// in the policy's settings). A message names the file only when the file is wrong.
    pub fn resolve_with(
        &self,
        mode: Mode,
        command_flags: Map<String, Value>,
    ) -> Result<Settings, String> {
        let mode = Value::String(mode.as_str().to_owned());
        let mut map = match &self.settings {
            Some(path) => {
                let mut map = read_file(path)?;
                map.insert("mode".into(), mode.clone());
                Settings::from_json(&Value::Object(map.clone()))
                    .map_err(|e| invalid(Some(path), &e))?;
                map
            }
            None => Map::new(),
        };
        if self.no_request_native_injection {
            map.insert("requestNativeInjection".into(), Value::Bool(false));
        }
        if let Some(meshes) = &self.meshes {
            let listed: Vec<&str> = meshes
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .collect();
            map.insert("meshes".into(), json!(listed));
        }
        if let Some(setting) = &self.on_resource_increase {
            map.insert("onResourceIncrease".into(), json!(setting));
        }
        if let Some(timings) = &self.kuma_startup_probe {
            mesh_section(&mut map, "kuma", "startupProbe", |probe| {
                probe.extend(startup_timings(timings))
            });
        }
        if let Some(timings) = &self.consul_startup_probe {
            mesh_section(&mut map, "consul", "startupProbe", |probe| {
                probe.extend(startup_timings(timings))
            });
        }
        if self.consul_dataplane_supports_native {
            if let Some(Value::Object(consul)) = map.get_mut("consul") {
                consul.insert("dataplaneSupportsNative".into(), Value::Bool(true));
            } else {
                map.insert("consul".into(), json!({"dataplaneSupportsNative": true}));
            }
        }
        map.extend(command_flags);
        if !self.extra_sidecars.is_empty() {
            let declared = map
                .entry("extraSidecars")
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(entries) = declared else {
                return Err(invalid(self.settings.as_ref(), &settings_error(&map)));
            };
            entries.extend(self.extra_sidecars.iter().map(|spec| sidecar(spec)));
        }
        map.insert("mode".into(), mode);
        // The file alone is valid: what is wrong now comes from the flags.
        Settings::from_json(&Value::Object(map)).map_err(|e| invalid(None, &e))
    }
}

/// Edits `<mesh>.<key>` of the settings, created as objects when absent; a value of another type
/// is left for the core to refuse in its words.
fn mesh_section(
    map: &mut Map<String, Value>,
    mesh: &str,
    key: &str,
    edit: impl FnOnce(&mut Map<String, Value>),
) {
    if let Value::Object(section) = map.entry(mesh).or_insert_with(|| json!({}))
        && let Value::Object(inner) = section
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()))
    {
        edit(inner);
    }
}

/// `KEY=N,...` as the settings' timings: a number where N is one, else the text, which the core
/// refuses in its words; an entry without `=` is a key without a value.
fn startup_timings(flag: &str) -> Map<String, Value> {
    flag.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            let value = value.trim();
            let number = value.parse::<i64>().map(Value::from);
            (
                key.trim().to_owned(),
                number.unwrap_or_else(|_| json!(value)),
            )
        })
        .collect()
}

fn settings_error(map: &Map<String, Value>) -> String {
    Settings::from_json(&Value::Object(map.clone()))
        .err()
        .unwrap_or_default()
}

/// `NAME[:SETUP,...]` as an `extraSidecars` entry; the core checks the names.
fn sidecar(spec: &str) -> Value {
    match spec.split_once(':') {
        Some((name, setup)) => json!({
            "name": name,
            "setupContainers": setup.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        }),
        None => json!({"name": spec}),
    }
}

fn invalid(file: Option<&PathBuf>, message: &str) -> String {
    match file {
        Some(path) => format!("{}: invalid policy settings: {message}", path.display()),
        None => format!("invalid policy settings: {message}"),
    }
}

fn read_file(path: &PathBuf) -> Result<Map<String, Value>, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let value = documents::split(&text)
        .iter()
        .find(|chunk| chunk.body.is_some())
        .map(|chunk| documents::parse(&text, chunk))
        .transpose()
        .map_err(|e| format!("{name}: {e}"))?
        .map_or(Value::Null, |(_, value)| value);
    let is_policy = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("AdmissionPolicy"));
    let settings = if is_policy {
        value
            .pointer("/spec/settings")
            .cloned()
            .unwrap_or(Value::Null)
    } else {
        value
    };
    match settings {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        other => Settings::from_json(&other)
            .map(|_| Map::new())
            .map_err(|e| invalid(Some(path), &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use native_sidecar_core::{KubeletVersion, OnResourceIncrease, SidecarRule};

    #[test]
    fn flags_add_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nspec:\n  settings:\n    mode: validate\n    extraSidecars:\n    - name: vault-agent\n      setupContainers: [vault-agent-init]\n",
        )
        .unwrap();
        let args = SettingsArgs {
            settings: Some(path),
            extra_sidecars: vec!["log-shipper".into(), "otel:otel-init,otel-cfg".into()],
            no_request_native_injection: true,
            ..SettingsArgs::default()
        };
        let settings = args.resolve(Mode::Mutate).unwrap();
        assert_eq!(settings.mode, Mode::Mutate);
        assert!(!settings.request_native_injection);
        let rule = |name: &str, setup: &[&str]| SidecarRule {
            name: name.into(),
            setup_containers: setup.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            settings.extra_sidecars,
            [
                rule("vault-agent", &["vault-agent-init"]),
                rule("log-shipper", &[]),
                rule("otel", &["otel-init", "otel-cfg"])
            ]
        );
    }

    #[test]
    fn common_settings_as_flags() {
        let args = SettingsArgs {
            meshes: Some("linkerd, istio".into()),
            on_resource_increase: Some("reject".into()),
            ..SettingsArgs::default()
        };
        let settings = args.resolve(Mode::Validate).unwrap();
        assert_eq!(settings.mode, Mode::Validate);
        assert_eq!(settings.meshes, ["linkerd", "istio"]);
        assert_eq!(settings.on_resource_increase, OnResourceIncrease::Reject);
        let none = SettingsArgs {
            meshes: Some(String::new()),
            ..SettingsArgs::default()
        };
        assert_eq!(
            none.resolve(Mode::Mutate).unwrap().meshes,
            Vec::<String>::new()
        );
        let mut flags = Map::new();
        flags.insert("minKubeletVersion".into(), json!("1.31"));
        let settings = SettingsArgs::default()
            .resolve_with(Mode::Mutate, flags)
            .unwrap();
        assert_eq!(settings.min_kubelet_version, KubeletVersion::new(1, 31));
    }

    /// Flags override the file; a bad flag is not blamed on the file.
    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.yaml");
        std::fs::write(
            &path,
            "meshes: [istio]\nonResourceIncrease: reject\nminKubeletVersion: \"1.30\"\n",
        )
        .unwrap();
        let args = SettingsArgs {
            settings: Some(path),
            meshes: Some("linkerd".into()),
            on_resource_increase: Some("ignore".into()),
            ..SettingsArgs::default()
        };
        let settings = args.resolve(Mode::Mutate).unwrap();
        assert_eq!(settings.meshes, ["linkerd"]);
        assert_eq!(settings.on_resource_increase, OnResourceIncrease::Ignore);
        assert_eq!(settings.min_kubelet_version, KubeletVersion::new(1, 30));
        let mut flags = Map::new();
        flags.insert("minKubeletVersion".into(), json!("1.28"));
        assert_eq!(
            args.resolve_with(Mode::Mutate, flags),
            Err("invalid policy settings: minKubeletVersion 1.28 is below 1.29, the first Kubernetes release that runs sidecar containers by default; set \"1.29\" or later".to_owned())
        );
        let bad = SettingsArgs {
            on_resource_increase: Some("error".into()),
            ..args
        };
        assert_eq!(
            bad.resolve(Mode::Mutate),
            Err("invalid policy settings: onResourceIncrease must be \"warn\", \"reject\" or \"ignore\", found the string \"error\"".to_owned())
        );
    }

    /// Consul's timings and image check: the flags override the file's keys.
    #[test]
    fn consul_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.yaml");
        std::fs::write(
            &path,
            "consul:\n  startupProbe:\n    failureThreshold: 30\n",
        )
        .unwrap();
        let args = SettingsArgs {
            settings: Some(path),
            consul_startup_probe: Some("periodSeconds=0".into()),
            consul_dataplane_supports_native: true,
            ..SettingsArgs::default()
        };
        assert_eq!(
            args.resolve(Mode::Mutate).unwrap().to_json()["consul"],
            json!({"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 0, "failureThreshold": 30}, "dataplaneSupportsNative": true})
        );
        let only_flag = SettingsArgs {
            consul_dataplane_supports_native: true,
            ..SettingsArgs::default()
        };
        assert_eq!(
            only_flag.resolve(Mode::Mutate).unwrap().to_json()["consul"]["dataplaneSupportsNative"],
            json!(true)
        );
    }

    /// Kuma's timings: the flag overrides the file's key by key.
    #[test]
    fn kuma_startup_probe_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.yaml");
        std::fs::write(
            &path,
            "kuma:\n  startupProbe:\n    initialDelaySeconds: 261\n    failureThreshold: 213\n",
        )
        .unwrap();
        let args = SettingsArgs {
            settings: Some(path),
            kuma_startup_probe: Some("timeoutSeconds=24, failureThreshold=0".into()),
            ..SettingsArgs::default()
        };
        let settings = args.resolve(Mode::Mutate).unwrap();
        assert_eq!(
            settings.to_json()["kuma"],
            json!({"startupProbe": {"initialDelaySeconds": 261, "timeoutSeconds": 24, "periodSeconds": 5, "failureThreshold": 0}})
        );
        let bad = |flag: &str| {
            SettingsArgs {
                kuma_startup_probe: Some(flag.into()),
                ..SettingsArgs::default()
            }
            .resolve(Mode::Mutate)
        };
        assert_eq!(
            bad("periodSeconds=5s"),
            Err("invalid policy settings: kuma.startupProbe.periodSeconds must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the string \"5s\"".to_owned())
        );
        assert_eq!(
            bad("period=5"),
            Err("invalid policy settings: unknown key \"period\" in kuma.startupProbe: the timings are initialDelaySeconds, timeoutSeconds, periodSeconds and failureThreshold, as in kuma-cp's runtime.kubernetes.injector.sidecarContainer.startupProbe".to_owned())
        );
    }

    #[test]
    fn the_core_checks_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{\"requestNativeInjection\": \"yes\"}").unwrap();
        let args = SettingsArgs {
            settings: Some(path.clone()),
            ..SettingsArgs::default()
        };
        assert_eq!(
            args.resolve(Mode::Mutate),
            Err(format!(
                "{}: invalid policy settings: requestNativeInjection must be true or false, found the string \"yes\"",
                path.display()
            ))
        );
        let args = SettingsArgs {
            extra_sidecars: vec!["Vault_Agent".into()],
            ..SettingsArgs::default()
        };
        assert_eq!(
            args.resolve(Mode::Mutate),
            Err("invalid policy settings: extraSidecars[0].name must be a container name (lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit), found \"Vault_Agent\"".to_owned())
        );
    }
}
