//! Findings about proxies in the wrong place, and the messages that explain them.

use crate::describe::join;
use crate::order::Misplacement;

/// A container that is not where the sidecars need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub container: String,
    /// `containers` or `initContainers`.
    pub list: &'static str,
    pub position: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The proxy is a regular container.
    NotNative,
    Misplaced(Misplacement),
}

impl Finding {
    /// The problem as tools name it: `notNative`, `beforeProxy`, `setupAfterProxy` or
    /// `notAfterSetup`.
    pub fn code(&self) -> &'static str {
        match &self.problem {
            Problem::NotNative => "notNative",
            Problem::Misplaced(Misplacement::BeforeProxy { .. }) => "beforeProxy",
            Problem::Misplaced(Misplacement::SetupAfterProxy { .. }) => "setupAfterProxy",
            Problem::Misplaced(Misplacement::NotAfterSetup { .. }) => "notAfterSetup",
        }
    }

    /// The proxy the finding is about.
    pub fn proxy(&self) -> &str {
        match &self.problem {
            Problem::NotNative | Problem::Misplaced(Misplacement::NotAfterSetup { .. }) => {
                &self.container
            }
            Problem::Misplaced(
                Misplacement::BeforeProxy { proxy } | Misplacement::SetupAfterProxy { proxy },
            ) => proxy,
        }
    }

    pub fn describe(&self) -> String {
        let what = match &self.problem {
            Problem::NotNative => {
                "runs in containers, not as a native sidecar in initContainers".to_owned()
            }
            Problem::Misplaced(Misplacement::BeforeProxy { proxy }) => {
                format!("runs before {proxy} has started, outside the mesh")
            }
            Problem::Misplaced(Misplacement::SetupAfterProxy { proxy }) => {
                format!("must run before {proxy}, which it sets up")
            }
            Problem::Misplaced(Misplacement::NotAfterSetup { setup }) => {
                format!("must start right after {setup}, which sets it up")
            }
        };
        format!(
            "{} ({}[{}]) {what}",
            self.container, self.list, self.position
        )
    }
}

/// The validate-mode rejection for one pod spec; `others_depend` when the other init containers
/// must start after the proxies (every mesh but Consul, whose dataplanes go right after their
/// setup containers).
pub(crate) fn rejection(
    spec_path: &str,
    proxies: &[&str],
    others_depend: bool,
    findings: &[Finding],
    expected: &[String],
) -> String {
    let (subject, rule) = match proxies {
        [one] => (
            one.to_string(),
            "must run as a native sidecar that starts after its setup containers",
        ),
        many => (
            join(many, ", "),
            "must run as native sidecars that start after their setup containers",
        ),
    };
    let others = if others_depend {
        " and before every other init container"
    } else {
        ", right after them"
    };
    let wrong = join(findings.iter().map(Finding::describe), "; ");
    format!(
        "{spec_path}: {subject} {rule}{others}. Wrong place: {wrong}. Expected initContainers order: {}",
        join(expected, ", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_every_misplaced_container_and_the_order() {
        let findings = vec![
            Finding {
                container: "check-traffic".into(),
                list: "initContainers",
                position: 0,
                problem: Problem::Misplaced(Misplacement::BeforeProxy {
                    proxy: "istio-proxy".into(),
                }),
            },
            Finding {
                container: "istio-proxy".into(),
                list: "containers",
                position: 1,
                problem: Problem::NotNative,
            },
        ];
        let expected = ["istio-init", "istio-proxy", "check-traffic"].map(String::from);
        assert_eq!(
            rejection("spec", &["istio-proxy"], true, &findings, &expected),
            "spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh; istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: istio-init, istio-proxy, check-traffic"
        );
    }
}
