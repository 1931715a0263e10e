//! `artifacthub-pkg.yml` from the policy metadata, field for field as `kwctl scaffold artifacthub`
//! writes it (policy-evaluator's `ArtifactHubPkg::from_metadata`).

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;

use crate::metadata::{
    ANNOTATION_AUTHOR, ANNOTATION_DESCRIPTION, ANNOTATION_DISPLAY_NAME, ANNOTATION_HIDDEN_UI,
    ANNOTATION_KEYWORDS, ANNOTATION_LICENSE, ANNOTATION_OCI_URL, ANNOTATION_RESOURCES,
    ANNOTATION_SOURCE, ANNOTATION_TITLE, ANNOTATION_URL, Metadata,
};

/// kwctl's header, trailing space included, so a file written by either tool diffs clean.
pub const HEADER: &str = "# Kubewarden Artifacthub Package config
#
# Use this config to submit the policy to https://artifacthub.io.
#
# This config can be saved to its default location with:
#   kwctl scaffold artifacthub > artifacthub-pkg.yml \n";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactHubPkg {
    pub version: String,
    pub name: String,
    pub display_name: String,
    pub created_at: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(rename = "homeURL", skip_serializing_if = "Option::is_none")]
    pub home_url: Option<String>,
    pub containers_images: Vec<NamedImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
    pub install: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintainers: Option<Vec<Maintainer>>,
    pub provider: Provider,
    pub recommendations: Vec<Recommendation>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct NamedImage {
    pub name: String,
    pub image: String,
}

#[derive(Debug, Serialize)]
pub struct Link {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Serialize)]
pub struct Provider {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct Recommendation {
    pub url: String,
}

impl ArtifactHubPkg {
    /// `version` is the policy version without the `v`; `created_at` an RFC 3339 time, kept from
    /// the checked-in file so that regenerating an unchanged package changes nothing.
    pub fn from_metadata(
        metadata: &Metadata,
        version: &str,
        created_at: &str,
        questions: Option<&str>,
    ) -> Result<ArtifactHubPkg> {
        let required = |key: &str| {
            metadata
                .annotation(key)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("policy metadata must specify \"{key}\" in annotations"))
        };
        if metadata
            .annotations
            .as_ref()
            .is_none_or(|annotations| annotations.is_empty())
        {
            bail!("no annotations in policy metadata. policy metadata must specify annotations");
        }
        check_semver(version)?;
        let oci_url = required(ANNOTATION_OCI_URL)?;
        let source = metadata.annotation(ANNOTATION_SOURCE);
        let oci_reference = format!("{oci_url}:v{version}");
        Ok(ArtifactHubPkg {
            version: version.to_owned(),
            name: required(ANNOTATION_TITLE)?,
            display_name: required(ANNOTATION_DISPLAY_NAME)?,
            created_at: created_at.to_owned(),
            description: required(ANNOTATION_DESCRIPTION)?,
            license: metadata.annotation(ANNOTATION_LICENSE).map(str::to_owned),
            home_url: metadata.annotation(ANNOTATION_URL).map(str::to_owned),
            containers_images: vec![NamedImage {
                name: "policy".to_owned(),
                image: oci_reference.clone(),
            }],
            keywords: metadata
                .annotation(ANNOTATION_KEYWORDS)
                .map(parse_keywords)
                .transpose()?,
            links: source.map(|source| links(source, version)),
            install: install_text(&oci_reference),
            maintainers: metadata
                .annotation(ANNOTATION_AUTHOR)
                .map(parse_maintainers)
                .transpose()?,
            provider: Provider {
                name: "kubewarden".to_owned(),
            },
            recommendations: vec![Recommendation {
                url: "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller"
                    .to_owned(),
            }],
            annotations: annotations(metadata, questions)?,
        })
    }

    /// The file as checked in: kwctl's header, then the YAML.
    pub fn to_file(&self) -> Result<String> {
        Ok(format!("{HEADER}{}", serde_yaml::to_string(self)?))
    }
}

/// The `createdAt` of a checked-in artifacthub-pkg.yml, if it has one.
pub fn created_at_of(existing: &str) -> Option<String> {
    let value: serde_yaml::Value = serde_yaml::from_str(existing).ok()?;
    match value.get("createdAt")? {
        serde_yaml::Value::String(text) => Some(text.clone()),
        _ => None,
    }
}

fn check_semver(version: &str) -> Result<()> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(())
    } else {
        bail!("policy version must be in semver, found \"{version}\"")
    }
}

fn install_text(oci_reference: &str) -> String {
    format!(
        "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n\
         ```console\n\
         kwctl pull {oci_reference}\n\
         ```\n\
         Then, generate the policy manifest and tune it to your liking. For example:\n\
         ```console\n\
         kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{oci_reference}\n\
         ```\n"
    )
}

fn links(source: &str, version: &str) -> Vec<Link> {
    let source_link = Link {
        name: "source".to_owned(),
        url: source.to_owned(),
    };
    // kwctl links the release asset only for GitHub, where the release workflow uploads it.
    if source.starts_with("https://github.com/") {
        vec![
            Link {
                name: "policy".to_owned(),
                url: format!(
                    "{}/releases/download/v{version}/policy.wasm",
                    source.trim_end_matches('/')
                ),
            },
            source_link,
        ]
    } else {
        vec![source_link]
    }
}

fn parse_keywords(text: &str) -> Result<Vec<String>> {
    let keywords: Vec<String> = text.split(',').map(|k| k.trim().to_owned()).collect();
    if keywords.iter().any(String::is_empty) {
        bail!(
            "annotation \"{ANNOTATION_KEYWORDS}\" in policy metadata is malformed, must be csv values"
        );
    }
    Ok(keywords)
}

/// `Name <email>, Other <email>` (RFC 5322 name-addr list), as kwctl reads the author annotation.
pub fn parse_maintainers(text: &str) -> Result<Vec<Maintainer>> {
    let malformed = || {
        anyhow!(
            "annotation \"{ANNOTATION_AUTHOR}\" in policy metadata is malformed, must be csv values of \"name <email>\""
        )
    };
    let mut maintainers = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, rest) = entry.split_once('<').ok_or_else(malformed)?;
        let email = rest.strip_suffix('>').ok_or_else(malformed)?.trim();
        let valid_email = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !valid_email {
            bail!("annotation \"{ANNOTATION_AUTHOR}\" has an invalid email address \"{email}\"");
        }
        maintainers.push(Maintainer {
            name: name.trim().to_owned(),
            email: email.to_owned(),
        });
    }
    if maintainers.is_empty() {
        return Err(malformed());
    }
    Ok(maintainers)
}

fn annotations(metadata: &Metadata, questions: Option<&str>) -> Result<BTreeMap<String, String>> {
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "kubewarden/mutation".to_owned(),
        metadata.mutating.to_string(),
    );
    if !metadata.context_aware_resources.is_empty() {
        annotations.insert(
            "kubewarden/contextAwareResources".to_owned(),
            serde_yaml::to_string(&metadata.context_aware_resources)?,
        );
    }
    annotations.insert(
        "kubewarden/rules".to_owned(),
        serde_yaml::to_string(&metadata.rules)?,
    );
    if let Some(questions) = questions {
        if questions.is_empty() {
            bail!("questions-ui content cannot be empty");
        }
        annotations.insert("kubewarden/questions-ui".to_owned(), questions.to_owned());
    }
    if let Some(hidden) = metadata.annotation(ANNOTATION_HIDDEN_UI) {
        let hidden: bool = hidden
            .parse()
            .map_err(|_| anyhow!("annotation \"{ANNOTATION_HIDDEN_UI}\" must be true or false"))?;
        annotations.insert("kubewarden/hidden-ui".to_owned(), hidden.to_string());
    }
    if let Some(resources) = metadata.annotation(ANNOTATION_RESOURCES) {
        annotations.insert("kubewarden/resources".to_owned(), resources.to_owned());
    }
    Ok(annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintainers_are_name_addr_lists() {
        assert_eq!(
            parse_maintainers("Tux Tuxedo <tux@example.com>, Pidgin <pidgin@example.com>").unwrap(),
            vec![
                Maintainer {
                    name: "Tux Tuxedo".into(),
                    email: "tux@example.com".into()
                },
                Maintainer {
                    name: "Pidgin".into(),
                    email: "pidgin@example.com".into()
                },
            ]
        );
        assert_eq!(
            parse_maintainers("Foo foo@example.com")
                .unwrap_err()
                .to_string(),
            "annotation \"io.kubewarden.policy.author\" in policy metadata is malformed, must be csv values of \"name <email>\""
        );
        assert_eq!(
            parse_maintainers("Bar <#$%>").unwrap_err().to_string(),
            "annotation \"io.kubewarden.policy.author\" has an invalid email address \"#$%\""
        );
    }

    #[test]
    fn keywords_are_trimmed_csv() {
        assert_eq!(
            parse_keywords(" foo,bar, faz fiz, baz").unwrap(),
            vec!["foo", "bar", "faz fiz", "baz"]
        );
        assert_eq!(
            parse_keywords("foo,,bar").unwrap_err().to_string(),
            "annotation \"io.artifacthub.keywords\" in policy metadata is malformed, must be csv values"
        );
    }

    #[test]
    fn links_name_the_release_asset_only_on_github() {
        let on_github = links("https://github.com/o/r", "1.2.3");
        assert_eq!(
            on_github[0].url,
            "https://github.com/o/r/releases/download/v1.2.3/policy.wasm"
        );
        assert_eq!(on_github[1].url, "https://github.com/o/r");
        let elsewhere = links("https://example.org/r", "1.2.3");
        assert_eq!(elsewhere.len(), 1);
        assert_eq!(elsewhere[0].name, "source");
    }

    #[test]
    fn version_must_be_semver() {
        assert!(check_semver("0.1.0").is_ok());
        assert!(check_semver("1.2.3-rc.1").is_ok());
        assert_eq!(
            check_semver("v0.1.0").unwrap_err().to_string(),
            "policy version must be in semver, found \"v0.1.0\""
        );
    }
}
