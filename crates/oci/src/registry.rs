//! Pushes and pulls the policy as an OCI artifact with the layout of `kwctl push`
//! (policy-fetcher's `Registry::push`): one layer holding the module, config `{}`, the wasm media
//! types, and the metadata's single-line annotations on the manifest.

use std::collections::BTreeMap;
use std::error::Error as _;

use anyhow::{Result, anyhow, bail};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OciImageManifest, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

use crate::annotate::read_metadata;
use crate::metadata::ANNOTATION_SOURCE;

pub const OCI_SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";
/// What policy-fetcher puts in the config blob.
pub const CONFIG_DATA: &[u8] = b"{}";

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Plain HTTP, for a local registry without TLS (`127.0.0.1:5000`).
    pub plain_http: bool,
    pub auth: Auth,
}

#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
}

/// The artifact as fetched back.
#[derive(Debug)]
pub struct Pulled {
    pub module: Vec<u8>,
    /// `sha256:...` of the manifest.
    pub manifest_digest: String,
    pub manifest: OciImageManifest,
}

fn client(connection: &Connection) -> Client {
    // rustls needs one process-wide crypto provider; a second install fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(ClientConfig {
        protocol: if connection.plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..Default::default()
    })
}

fn auth(connection: &Connection) -> RegistryAuth {
    match &connection.auth {
        Auth::Anonymous => RegistryAuth::Anonymous,
        Auth::Basic { username, password } => {
            RegistryAuth::Basic(username.clone(), password.clone())
        }
    }
}

fn parse_reference(reference: &str) -> Result<Reference> {
    let plain = reference.strip_prefix("registry://").unwrap_or(reference);
    plain.parse().map_err(|e| {
        anyhow!("\"{reference}\" is not an OCI reference such as ghcr.io/org/policy:v1.0.0: {e}")
    })
}

/// kwctl's manifest annotations: multi-line values (the usage text) are not allowed by the OCI
/// annotation rules and are dropped; `org.opencontainers.image.source` comes from the policy
/// source unless the metadata sets it.
pub fn manifest_annotations(annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut result: BTreeMap<String, String> = annotations
        .iter()
        .filter(|(_, value)| value.lines().count() <= 1)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(source) = result.get(ANNOTATION_SOURCE).cloned() {
        result
            .entry(OCI_SOURCE_ANNOTATION.to_owned())
            .or_insert(source);
    }
    result
}

/// The manifest `push` sends for `module`, with its digest.
pub fn manifest_for(module: &[u8]) -> Result<OciImageManifest> {
    let metadata = read_metadata(module)?.ok_or_else(|| {
        anyhow!(
            "cannot push a policy that is not annotated; run `policy-publish annotate` (or `make annotated-policy.wasm`) first"
        )
    })?;
    let annotations = metadata.annotations.as_ref().map(manifest_annotations);
    Ok(OciImageManifest::build(
        &[layer(module)],
        &config(),
        annotations,
    ))
}

fn layer(module: &[u8]) -> ImageLayer {
    ImageLayer::new(module.to_vec(), WASM_LAYER_MEDIA_TYPE.to_owned(), None)
}

fn config() -> Config {
    Config::new(
        CONFIG_DATA.to_vec(),
        WASM_CONFIG_MEDIA_TYPE.to_owned(),
        None,
    )
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// Pushes the annotated module and returns the immutable reference `REGISTRY/REPO@sha256:...`.
pub async fn push(module: &[u8], destination: &str, connection: &Connection) -> Result<String> {
    let reference = parse_reference(destination)?;
    let manifest = manifest_for(module)?;
    let response = client(connection)
        .push(
            &reference,
            &[layer(module)],
            config(),
            &auth(connection),
            Some(manifest),
        )
        .await
        .map_err(|e| explain("push to", &reference, connection, &e))?;
    immutable_reference(&reference, &response.manifest_url)
}

/// Fetches the module back, checking that the layer is the one the manifest names.
pub async fn pull(source: &str, connection: &Connection) -> Result<Pulled> {
    let reference = parse_reference(source)?;
    let data = client(connection)
        .pull(&reference, &auth(connection), vec![WASM_LAYER_MEDIA_TYPE])
        .await
        .map_err(|e| explain("pull from", &reference, connection, &e))?;
    let manifest = data
        .manifest
        .ok_or_else(|| anyhow!("the registry returned no manifest for {reference}"))?;
    let manifest_digest = data
        .digest
        .ok_or_else(|| anyhow!("the registry returned no manifest digest for {reference}"))?;
    let [layer] = <[ImageLayer; 1]>::try_from(data.layers).map_err(|layers| {
        anyhow!(
            "{reference} has {} layers; a policy artifact has exactly one",
            layers.len()
        )
    })?;
    let module = layer.data.to_vec();
    let expected = manifest
        .layers
        .first()
        .map(|descriptor| descriptor.digest.clone())
        .unwrap_or_default();
    if sha256_digest(&module) != expected {
        bail!("the layer of {reference} does not match the digest its manifest names ({expected})");
    }
    Ok(Pulled {
        module,
        manifest_digest,
        manifest,
    })
}

/// `https://host/v2/repo/manifests/sha256:...` -> `host/repo@sha256:...`, as kwctl prints it.
fn immutable_reference(reference: &Reference, manifest_url: &str) -> Result<String> {
    let digest = manifest_url
        .rsplit_once('/')
        .map(|(_, digest)| digest)
        .filter(|digest| {
            digest
                .strip_prefix("sha256:")
                .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .ok_or_else(|| {
            anyhow!("cannot read the manifest digest from the registry's answer: {manifest_url}")
        })?;
    Ok(format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    ))
}

/// Turns a client error into one line that says what failed and what to check.
fn explain(
    action: &str,
    reference: &Reference,
    connection: &Connection,
    error: &oci_client::errors::OciDistributionError,
) -> anyhow::Error {
    let registry = reference.resolve_registry();
    let scheme = if connection.plain_http {
        "http"
    } else {
        "https"
    };
    let mut causes = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = current {
        causes.push(cause.to_string().trim().to_owned());
        current = cause.source();
    }
    let chain = causes.join(": ");
    let unreachable = causes.iter().any(|cause| {
        cause.contains("Connection refused")
            || cause.contains("tcp connect error")
            || cause.contains("dns error")
            || cause.contains("timed out")
    });
    if unreachable {
        anyhow!(
            "{action} {reference} failed: cannot reach the registry at {scheme}://{registry} ({chain}); check that it runs and listens there"
        )
    } else if error.source().is_some() && chain.contains("error sending request") {
        anyhow!(
            "{action} {reference} failed: no valid answer from {scheme}://{registry} ({chain}); a registry without TLS needs --plain-http"
        )
    } else {
        anyhow!(
            "{action} {reference} failed: the registry at {scheme}://{registry} refused it: {chain}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_annotations_drop_multi_line_values_and_add_the_source() {
        let annotations = BTreeMap::from([
            (
                ANNOTATION_SOURCE.to_owned(),
                "https://example.org/src".to_owned(),
            ),
            (
                "io.kubewarden.policy.usage".to_owned(),
                "two\nlines".to_owned(),
            ),
            ("io.kubewarden.policy.title".to_owned(), "t".to_owned()),
        ]);
        assert_eq!(
            manifest_annotations(&annotations),
            BTreeMap::from([
                (
                    ANNOTATION_SOURCE.to_owned(),
                    "https://example.org/src".to_owned()
                ),
                ("io.kubewarden.policy.title".to_owned(), "t".to_owned()),
                (
                    OCI_SOURCE_ANNOTATION.to_owned(),
                    "https://example.org/src".to_owned()
                ),
            ])
        );
        let preset = BTreeMap::from([
            (ANNOTATION_SOURCE.to_owned(), "a".to_owned()),
            (OCI_SOURCE_ANNOTATION.to_owned(), "b".to_owned()),
        ]);
        assert_eq!(manifest_annotations(&preset)[OCI_SOURCE_ANNOTATION], "b");
    }

    #[test]
    fn immutable_reference_is_registry_repo_and_digest() {
        let reference: Reference = "ghcr.io/kubewarden/secure-policy:latest".parse().unwrap();
        let digest = "sha256:72b4569c3daee67abeaa64192fb53895d0edb2d44fa6e1d9d4c5d3f8ece09f6e";
        assert_eq!(
            immutable_reference(
                &reference,
                &format!("https://ghcr.io/v2/kubewarden/secure-policy/manifests/{digest}")
            )
            .unwrap(),
            format!("ghcr.io/kubewarden/secure-policy@{digest}")
        );
        assert_eq!(
            immutable_reference(&reference, "https://ghcr.io/v2/x/manifests/sha256:72b4")
                .unwrap_err()
                .to_string(),
            "cannot read the manifest digest from the registry's answer: https://ghcr.io/v2/x/manifests/sha256:72b4"
        );
    }

    #[test]
    fn unannotated_modules_are_not_pushed() {
        assert_eq!(
            manifest_for(b"\0asm\x01\0\0\0").unwrap_err().to_string(),
            "cannot push a policy that is not annotated; run `policy-publish annotate` (or `make annotated-policy.wasm`) first"
        );
    }
}
