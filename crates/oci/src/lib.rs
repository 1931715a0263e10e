//! Ships the policy the way Kubewarden ships policies: the `io.kubewarden.metadata` section
//! (`kwctl annotate`), the OCI artifact (`kwctl push` / `kwctl pull`) and the ArtifactHub package
//! (`kwctl scaffold artifacthub`), for machines without kwctl.

pub mod annotate;
pub mod artifacthub;
pub mod metadata;
pub mod protocol;
pub mod registry;
pub mod time;

use std::path::Path;

use anyhow::{Context, Result};

pub use annotate::{AnnotateRequest, annotate, custom_sections, read_metadata};
pub use artifacthub::ArtifactHubPkg;
pub use metadata::Metadata;

fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// `kwctl annotate -m METADATA [-u USAGE] MODULE`: the annotated module's bytes and the metadata
/// written into it. The protocol version comes from running the module's `protocol_version`.
pub fn annotate_files(
    module_path: &Path,
    metadata_path: &Path,
    usage_path: Option<&Path>,
    force: bool,
) -> Result<(Vec<u8>, Metadata)> {
    let module = std::fs::read(module_path)
        .with_context(|| format!("cannot read the module {}", module_path.display()))?;
    let metadata = Metadata::from_yaml(&read_text(metadata_path, "the metadata file")?)
        .with_context(|| format!("in {}", metadata_path.display()))?;
    let usage = usage_path
        .map(|path| read_text(path, "the usage file"))
        .transpose()?;
    let protocol_version = protocol::protocol_version(&module)?;
    annotate(
        &module,
        AnnotateRequest {
            metadata,
            usage,
            protocol_version: &protocol_version,
            force,
        },
    )
}

/// `kwctl scaffold artifacthub`: the file's content. `createdAt` is kept from `existing` (the
/// checked-in file) when it has one, so regenerating an unchanged package is a no-op.
pub fn scaffold_artifacthub(
    metadata_path: &Path,
    version: Option<&str>,
    questions_path: Option<&Path>,
    existing: Option<&str>,
) -> Result<String> {
    let metadata = Metadata::from_yaml(&read_text(metadata_path, "the metadata file")?)
        .with_context(|| format!("in {}", metadata_path.display()))?;
    let version = match version {
        Some(version) => version.to_owned(),
        None => metadata
            .annotation(metadata::ANNOTATION_VERSION)
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "give --version or set \"{}\" in the metadata",
                    metadata::ANNOTATION_VERSION
                )
            })?,
    };
    let questions = questions_path
        .map(|path| read_text(path, "the questions file"))
        .transpose()?;
    let created_at = existing
        .and_then(artifacthub::created_at_of)
        .unwrap_or_else(time::now_rfc3339);
    ArtifactHubPkg::from_metadata(&metadata, &version, &created_at, questions.as_deref())?.to_file()
}
