//! Kubewarden policy metadata, in the shape policy-evaluator's `Metadata` reads and writes: the
//! same camelCase field names, the same defaults, and the same fields left out when unset, so that
//! kwctl and policy-server read what this crate writes.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

/// The custom section `kwctl annotate` writes and policy-server reads.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

pub const ANNOTATION_TITLE: &str = "io.kubewarden.policy.title";
pub const ANNOTATION_VERSION: &str = "io.kubewarden.policy.version";
pub const ANNOTATION_DESCRIPTION: &str = "io.kubewarden.policy.description";
pub const ANNOTATION_AUTHOR: &str = "io.kubewarden.policy.author";
pub const ANNOTATION_URL: &str = "io.kubewarden.policy.url";
pub const ANNOTATION_SOURCE: &str = "io.kubewarden.policy.source";
pub const ANNOTATION_LICENSE: &str = "io.kubewarden.policy.license";
pub const ANNOTATION_USAGE: &str = "io.kubewarden.policy.usage";
pub const ANNOTATION_OCI_URL: &str = "io.kubewarden.policy.ociUrl";
pub const ANNOTATION_SEVERITY: &str = "io.kubewarden.policy.severity";
pub const ANNOTATION_CATEGORY: &str = "io.kubewarden.policy.category";
pub const ANNOTATION_DISPLAY_NAME: &str = "io.artifacthub.displayName";
pub const ANNOTATION_RESOURCES: &str = "io.artifacthub.resources";
pub const ANNOTATION_KEYWORDS: &str = "io.artifacthub.keywords";
pub const ANNOTATION_HIDDEN_UI: &str = "io.kubewarden.hidden-ui";
pub const ANNOTATION_QUESTIONS_UI: &str = "io.kubewarden.questions-ui";
/// kwctl annotate records its version here.
pub const ANNOTATION_KWCTL_VERSION: &str = "io.kubewarden.kwctl";

/// The kwctl release whose output this crate writes (annotate, scaffold artifacthub). A module
/// annotated by policy-publish carries it in [`ANNOTATION_KWCTL_VERSION`], as one annotated by that
/// kwctl does, so the two metadata sections are the same; CI compares them with that release.
pub const KWCTL_VERSION: &str = "1.36.0-beta.1";

const OPERATIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"];
const EXECUTION_MODES: [&str; 4] = ["kubewarden-wapc", "opa", "gatekeeper", "wasi"];
const POLICY_TYPES: [&str; 2] = ["kubernetes", "raw"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// Field order and `skip_serializing_if` follow policy-evaluator, so the JSON matches kwctl's.
/// Unknown keys are refused: a misspelt key in metadata.yml would otherwise be dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    #[serde(default)]
    pub protocol_version: Option<String>,
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default = "default_execution_mode")]
    pub execution_mode: String,
    #[serde(default = "default_policy_type")]
    pub policy_type: String,
    #[serde(default)]
    pub context_aware_resources: Vec<ContextAwareResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_capabilities: Option<Vec<String>>,
}

fn default_true() -> bool {
    true
}

fn default_execution_mode() -> String {
    "kubewarden-wapc".to_owned()
}

fn default_policy_type() -> String {
    "kubernetes".to_owned()
}

impl Metadata {
    /// Reads metadata.yml. `contextAwareResources` and `hostCapabilities` are sets in
    /// policy-evaluator (BTreeSets), so they are sorted and deduplicated here to serialize the same
    /// way.
    pub fn from_yaml(text: &str) -> Result<Metadata> {
        let mut metadata: Metadata =
            serde_yaml::from_str(text).context("metadata.yml is not valid policy metadata")?;
        metadata.context_aware_resources.sort();
        metadata.context_aware_resources.dedup();
        if let Some(capabilities) = &mut metadata.host_capabilities {
            capabilities.sort();
            capabilities.dedup();
        }
        Ok(metadata)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Metadata> {
        serde_json::from_slice(bytes).context("the metadata section is not valid policy metadata")
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .as_ref()
            .and_then(|annotations| annotations.get(key))
            .map(String::as_str)
    }

    /// The checks policy-evaluator's `Metadata::validate` makes before kwctl writes the section,
    /// so that a module this crate annotates is one policy-server accepts.
    pub fn validate(&self) -> Result<()> {
        if !EXECUTION_MODES.contains(&self.execution_mode.as_str()) {
            bail!(
                "executionMode \"{}\" is not one of {}",
                self.execution_mode,
                EXECUTION_MODES.join(", ")
            );
        }
        if !POLICY_TYPES.contains(&self.policy_type.as_str()) {
            bail!(
                "policyType \"{}\" is not one of {}",
                self.policy_type,
                POLICY_TYPES.join(", ")
            );
        }
        if self.execution_mode == "kubewarden-wapc"
            && self.protocol_version.as_deref() != Some("v1")
        {
            bail!(
                "a kubewarden-wapc policy needs protocolVersion \"v1\", found {:?}",
                self.protocol_version
            );
        }
        for (index, rule) in self.rules.iter().enumerate() {
            check_list(index, "apiGroups", &rule.api_groups)?;
            check_list(index, "apiVersions", &rule.api_versions)?;
            check_list(index, "resources", &rule.resources)?;
            check_list(index, "operations", &rule.operations)?;
            if rule.resources.iter().any(String::is_empty) {
                bail!("rules[{index}].resources has an empty resource");
            }
            if let Some(bad) = rule
                .operations
                .iter()
                .find(|operation| !OPERATIONS.contains(&operation.as_str()))
            {
                bail!(
                    "rules[{index}].operations has \"{bad}\"; operations are {}",
                    OPERATIONS.join(", ")
                );
            }
        }
        for resource in &self.context_aware_resources {
            if resource.api_version.is_empty() || resource.kind.is_empty() {
                bail!("contextAwareResources entries need both apiVersion and kind");
            }
        }
        Ok(())
    }
}

fn check_list(index: usize, field: &str, values: &[String]) -> Result<()> {
    if values.is_empty() {
        return Err(anyhow!("rules[{index}].{field} must not be empty"));
    }
    if values.len() > 1 && values.iter().any(|value| value == "*") {
        return Err(anyhow!(
            "rules[{index}].{field}: no other value may be listed with \"*\""
        ));
    }
    Ok(())
}
