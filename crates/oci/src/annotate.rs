//! Writes and reads the `io.kubewarden.metadata` custom section the way `kwctl annotate` does.
//!
//! kwctl re-emits the whole module through walrus; this crate leaves every byte of the module as
//! it is and appends one custom section, which is what walrus does with a new custom section too
//! (custom sections go last). Readers (policy-evaluator's `Metadata::from_contents`, `kwctl
//! inspect`) only look for the section by name, so both layouts read the same.

use std::borrow::Cow;

use anyhow::{Context, Result, anyhow, bail};
use wasm_encoder::{CustomSection, Section};
use wasmparser::{Parser, Payload};

use crate::metadata::{
    ANNOTATION_KWCTL_VERSION, ANNOTATION_USAGE, KWCTL_VERSION, METADATA_SECTION, Metadata,
};

/// What `annotate` needs besides the module: the metadata file's content, the usage text (the
/// README) and the module's protocol version.
pub struct AnnotateRequest<'a> {
    pub metadata: Metadata,
    pub usage: Option<String>,
    pub protocol_version: &'a str,
    /// Replace metadata the module already carries instead of refusing, as `kwctl annotate --force`.
    pub force: bool,
}

/// Returns the annotated module and the metadata written into it.
pub fn annotate(module: &[u8], request: AnnotateRequest<'_>) -> Result<(Vec<u8>, Metadata)> {
    wasmparser::Validator::new()
        .validate_all(module)
        .context("the input is not a valid WebAssembly module")?;
    let (mut output, removed) = without_section(module, METADATA_SECTION)?;
    if removed > 0 && !request.force {
        bail!(
            "the policy is already annotated; use `annotate --force` to overwrite the existing metadata"
        );
    }
    let mut metadata = request.metadata;
    metadata.protocol_version = Some(request.protocol_version.to_owned());
    let annotations = metadata.annotations.get_or_insert_with(Default::default);
    // As kwctl: its version, replacing one metadata.yml may carry.
    annotations.insert(
        ANNOTATION_KWCTL_VERSION.to_owned(),
        KWCTL_VERSION.to_owned(),
    );
    if let Some(usage) = request.usage {
        annotations.insert(ANNOTATION_USAGE.to_owned(), usage);
    }
    metadata
        .validate()
        .map_err(|e| anyhow!("metadata is invalid: {e}"))?;
    let json = serde_json::to_vec(&metadata)?;
    CustomSection {
        name: Cow::Borrowed(METADATA_SECTION),
        data: Cow::Owned(json),
    }
    .append_to(&mut output);
    Ok((output, metadata))
}

/// Every custom section of the module, in order, as (name, data).
pub fn custom_sections(module: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut sections = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CustomSection(reader) = payload.context("cannot parse the module")? {
            sections.push((reader.name().to_owned(), reader.data().to_vec()));
        }
    }
    Ok(sections)
}

/// The metadata of an annotated module: the first metadata section, as policy-evaluator reads it.
pub fn read_metadata(module: &[u8]) -> Result<Option<Metadata>> {
    custom_sections(module)?
        .into_iter()
        .find(|(name, _)| name == METADATA_SECTION)
        .map(|(_, data)| Metadata::from_json(&data))
        .transpose()
}

/// The module without the custom sections called `name`, and how many were removed. Works on the
/// raw section framing (id, size) so every other byte is kept exactly.
fn without_section(module: &[u8], name: &str) -> Result<(Vec<u8>, usize)> {
    const HEADER: usize = 8;
    let header = module
        .get(..HEADER)
        .ok_or_else(|| anyhow!("the module is shorter than a WebAssembly header"))?;
    let mut output = header.to_vec();
    let mut removed = 0;
    let mut offset = HEADER;
    while offset < module.len() {
        let start = offset;
        let id = module[offset];
        offset += 1;
        let (size, read) = leb128_u32(&module[offset..])?;
        offset += read;
        let end = offset
            .checked_add(size as usize)
            .filter(|end| *end <= module.len())
            .ok_or_else(|| anyhow!("a section at byte {start} runs past the end of the module"))?;
        if id == 0 {
            let (name_len, read) = leb128_u32(&module[offset..end])?;
            let name_start = offset + read;
            let section_name = module
                .get(name_start..name_start + name_len as usize)
                .ok_or_else(|| anyhow!("a custom section at byte {start} has a truncated name"))?;
            if section_name == name.as_bytes() {
                removed += 1;
                offset = end;
                continue;
            }
        }
        output.extend_from_slice(&module[start..end]);
        offset = end;
    }
    Ok((output, removed))
}

fn leb128_u32(bytes: &[u8]) -> Result<(u32, usize)> {
    let mut value: u32 = 0;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    bail!("malformed section size in the module")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    fn metadata() -> Metadata {
        Metadata::from_yaml(
            "rules: [{apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}]\nmutating: true\n",
        )
        .unwrap()
    }

    fn request(force: bool) -> AnnotateRequest<'static> {
        AnnotateRequest {
            metadata: metadata(),
            usage: Some("usage\ntext".into()),
            protocol_version: "v1",
            force,
        }
    }

    #[test]
    fn appends_one_section_and_keeps_the_module() {
        let (annotated, written) = annotate(EMPTY_MODULE, request(false)).unwrap();
        assert!(annotated.starts_with(EMPTY_MODULE));
        assert_eq!(read_metadata(&annotated).unwrap(), Some(written.clone()));
        assert_eq!(written.protocol_version.as_deref(), Some("v1"));
        assert_eq!(written.annotation(ANNOTATION_USAGE), Some("usage\ntext"));
        assert_eq!(
            written.annotation(ANNOTATION_KWCTL_VERSION),
            Some(KWCTL_VERSION)
        );
    }

    #[test]
    fn the_kwctl_version_replaces_one_in_the_metadata_file() {
        let mut metadata = metadata();
        metadata.annotations = Some(
            [(ANNOTATION_KWCTL_VERSION.to_owned(), "0.0.1".to_owned())]
                .into_iter()
                .collect(),
        );
        let (_, written) = annotate(
            EMPTY_MODULE,
            AnnotateRequest {
                metadata,
                usage: None,
                protocol_version: "v1",
                force: false,
            },
        )
        .unwrap();
        assert_eq!(
            written.annotations,
            Some(
                [(
                    ANNOTATION_KWCTL_VERSION.to_owned(),
                    KWCTL_VERSION.to_owned()
                )]
                .into_iter()
                .collect()
            )
        );
    }

    #[test]
    fn refuses_to_annotate_twice_without_force() {
        let (annotated, _) = annotate(EMPTY_MODULE, request(false)).unwrap();
        let error = annotate(&annotated, request(false)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the policy is already annotated; use `annotate --force` to overwrite the existing metadata"
        );
        let (again, _) = annotate(&annotated, request(true)).unwrap();
        assert_eq!(again, annotated);
        let names: Vec<String> = custom_sections(&again)
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, vec![METADATA_SECTION.to_owned()]);
    }

    #[test]
    fn refuses_a_wapc_policy_without_protocol_v1() {
        let mut bad = request(false);
        bad.protocol_version = "Unknown";
        let error = annotate(EMPTY_MODULE, bad).unwrap_err();
        assert_eq!(
            error.to_string(),
            "metadata is invalid: a kubewarden-wapc policy needs protocolVersion \"v1\", found Some(\"Unknown\")"
        );
    }

    #[test]
    fn refuses_what_is_not_a_module() {
        let error = annotate(b"not wasm", request(false)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the input is not a valid WebAssembly module"
        );
    }
}
