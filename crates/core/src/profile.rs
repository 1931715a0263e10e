//! Which containers make up a sidecar: the proxy, the init containers that must run before it, and
//! the ones Istio places right after it.

use serde_json::Value;

use crate::settings::SidecarRule;

pub const ISTIO_PROXY: &str = "istio-proxy";
const ISTIO_SETUP: &[&str] = &["istio-init", "istio-validation"];
/// Older Istio releases add `enable-core-dump`; native mode renders it right after the proxy.
const ISTIO_TRAILING: &[&str] = &["enable-core-dump"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Profile<'a> {
    pub proxy: &'a str,
    pub setup: Vec<&'a str>,
    pub trailing: &'static [&'static str],
    /// Istio's annotations, hooks and gateway rules apply.
    pub istio: bool,
}

impl<'a> Profile<'a> {
    pub fn istio() -> Profile<'static> {
        Profile {
            proxy: ISTIO_PROXY,
            setup: ISTIO_SETUP.to_vec(),
            trailing: ISTIO_TRAILING,
            istio: true,
        }
    }

    pub fn generic(rule: &'a SidecarRule) -> Profile<'a> {
        Profile {
            proxy: &rule.name,
            setup: rule.setup_containers.iter().map(String::as_str).collect(),
            trailing: &[],
            istio: false,
        }
    }

    /// Whether a container named like the proxy is one this profile may touch. Istio gateways run
    /// `istio-proxy` as the main workload (`proxy router`): they are not sidecars.
    pub fn is_sidecar(&self, container: &Value) -> bool {
        !self.istio || !is_istio_gateway(container)
    }

    pub fn is_member(&self, name: &str) -> bool {
        name == self.proxy || self.setup.contains(&name) || self.trailing.contains(&name)
    }
}

fn is_istio_gateway(container: &Value) -> bool {
    let args = container.get("args").and_then(Value::as_array);
    matches!(
        args.map(|a| a.iter().take(2).map(Value::as_str).collect::<Vec<_>>())
            .as_deref(),
        Some([Some("proxy"), Some("router")])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::sidecar(json!({"name": "istio-proxy", "args": ["proxy", "sidecar", "--domain", "x"]}), true)]
    #[case::overridden_args(json!({"name": "istio-proxy", "args": ["--custom"]}), true)]
    #[case::no_args(json!({"name": "istio-proxy"}), true)]
    #[case::gateway(json!({"name": "istio-proxy", "args": ["proxy", "router", "--domain", "x"]}), false)]
    fn istio_gateways_are_not_sidecars(#[case] container: Value, #[case] sidecar: bool) {
        assert_eq!(Profile::istio().is_sidecar(&container), sidecar);
    }

    #[test]
    fn generic_profiles_have_no_gateway_rule() {
        let rule = SidecarRule {
            name: "istio-proxy-like".into(),
            setup_containers: vec!["init".into()],
        };
        let profile = Profile::generic(&rule);
        assert!(profile.is_sidecar(&json!({"args": ["proxy", "router"]})));
        assert!(profile.is_member("init"));
        assert!(!profile.is_member("enable-core-dump"));
    }
}
