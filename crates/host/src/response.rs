//! The guest's `validate` answer and the AdmissionResponse built from it, field for field as
//! Kubewarden's policy-evaluator builds it (and kwctl prints it).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// What a policy returns from `validate` (kubewarden-policy-sdk's `ValidationResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// Kubernetes' admission/v1 AdmissionResponse as kwctl prints it: `patchType`, `patch` and
/// `status` are left out when absent, `auditAnnotations` and `warnings` are printed as `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<PatchType>,
    /// Base64 of the RFC 6902 JSON patch from the request's object to the mutated object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PatchType {
    #[default]
    #[serde(rename = "JSONPatch")]
    JsonPatch,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionResponseStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// policy-evaluator's wording, so that scripts matching kwctl's output match ours.
const MUTATED_DELETE: &str = "Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed";

impl AdmissionResponse {
    /// Builds the response for the request `uid` whose object (absent or `null` on DELETE) is
    /// `object`. The patch is `json_patch::diff(object, mutated_object)`, left out when empty.
    pub fn from_validation(
        uid: &str,
        object: Option<&Value>,
        verdict: &ValidationResponse,
    ) -> Result<AdmissionResponse> {
        let patch = match (&verdict.mutated_object, object) {
            (None, _) => None,
            (Some(_), None) => {
                return Ok(AdmissionResponse {
                    uid: uid.to_owned(),
                    allowed: false,
                    status: Some(AdmissionResponseStatus {
                        message: Some(MUTATED_DELETE.to_owned()),
                        code: None,
                    }),
                    ..AdmissionResponse::default()
                });
            }
            (Some(mutated), Some(object)) => {
                let diff = json_patch::diff(object, mutated);
                if diff.0.is_empty() {
                    None
                } else {
                    let text = serde_json::to_string(&diff)
                        .map_err(|e| Error::Input(format!("cannot serialize the patch: {e}")))?;
                    Some(STANDARD.encode(text))
                }
            }
        };
        let status = (verdict.message.is_some() || verdict.code.is_some()).then(|| {
            AdmissionResponseStatus {
                message: verdict.message.clone(),
                code: verdict.code,
            }
        });
        Ok(AdmissionResponse {
            uid: uid.to_owned(),
            allowed: verdict.accepted,
            patch_type: patch.as_ref().map(|_| PatchType::JsonPatch),
            patch,
            status,
            audit_annotations: verdict.audit_annotations.clone(),
            warnings: verdict.warnings.clone(),
        })
    }

    /// The decoded patch operations, `None` when the response carries no patch.
    pub fn patch_operations(&self) -> Result<Option<json_patch::Patch>> {
        let Some(encoded) = &self.patch else {
            return Ok(None);
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| Error::Input(format!("the patch is not base64: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Input(format!("the patch is not a JSON patch: {e}")))
    }

    /// `object` with the response's patch applied: what the API server would store.
    pub fn apply_patch(&self, object: &Value) -> Result<Value> {
        let mut result = object.clone();
        if let Some(patch) = self.patch_operations()? {
            json_patch::patch(&mut result, &patch)
                .map_err(|e| Error::Input(format!("the patch does not apply: {e}")))?;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accepted(mutated_object: Option<Value>) -> ValidationResponse {
        ValidationResponse {
            accepted: true,
            mutated_object,
            ..ValidationResponse::default()
        }
    }

    #[test]
    fn unchanged_object_has_no_patch_and_prints_like_kwctl() {
        let object = json!({"a": 1});
        let response =
            AdmissionResponse::from_validation("u", Some(&object), &accepted(Some(object.clone())))
                .unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"uid":"u","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn mutation_becomes_a_base64_json_patch_that_applies() {
        let object = json!({"a": 1, "b": [1, 2]});
        let mutated = json!({"a": 2, "b": [1, 2]});
        let response = AdmissionResponse::from_validation(
            "u",
            Some(&object),
            &accepted(Some(mutated.clone())),
        )
        .unwrap();
        assert_eq!(response.patch_type, Some(PatchType::JsonPatch));
        let decoded = STANDARD.decode(response.patch.as_deref().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            r#"[{"op":"replace","path":"/a","value":2}]"#
        );
        assert_eq!(response.apply_patch(&object).unwrap(), mutated);
        assert!(
            serde_json::to_string(&response)
                .unwrap()
                .starts_with(r#"{"uid":"u","allowed":true,"patchType":"JSONPatch","patch":""#)
        );
    }

    #[test]
    fn rejection_carries_status_and_warnings() {
        let verdict = ValidationResponse {
            accepted: false,
            message: Some("no".into()),
            warnings: Some(vec!["w".into()]),
            ..ValidationResponse::default()
        };
        let response = AdmissionResponse::from_validation("u", None, &verdict).unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"uid":"u","allowed":false,"status":{"message":"no"},"auditAnnotations":null,"warnings":["w"]}"#
        );
    }

    #[test]
    fn mutating_a_deleted_object_is_refused() {
        let response =
            AdmissionResponse::from_validation("u", None, &accepted(Some(json!({})))).unwrap();
        assert!(!response.allowed);
        assert_eq!(
            response.status.unwrap().message.as_deref(),
            Some(MUTATED_DELETE)
        );
    }
}
