//! Reading what `kwctl run` reads: the request file and the settings.

use std::path::Path;

use serde_json::Value;

use crate::{Error, Result};

/// Reads an AdmissionRequest, or an AdmissionReview whose `request` is taken, from a JSON or
/// YAML file.
pub fn read_request(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
    let document = parse_document(&text)
        .map_err(|e| Error::Input(format!("cannot parse {}: {e}", path.display())))?;
    // kwctl's test: a document of kind AdmissionReview holds the request, anything else is one.
    let request = match document {
        Value::Object(mut review)
            if review.get("kind").and_then(Value::as_str) == Some("AdmissionReview") =>
        {
            review.remove("request").ok_or_else(|| {
                Error::Input(format!(
                    "{}: invalid admission review object: it has no request",
                    path.display()
                ))
            })?
        }
        other => other,
    };
    if !request.is_object() {
        return Err(Error::Input(format!(
            "{}: the request to evaluate is not an AdmissionRequest object",
            path.display()
        )));
    }
    Ok(request)
}

/// The settings from `--settings-json` or `--settings-path` (JSON or YAML); `{}` when neither
/// is given, as kwctl does.
pub fn read_settings(json: Option<&str>, path: Option<&Path>) -> Result<Value> {
    let settings = match (json, path) {
        (Some(_), Some(_)) => {
            return Err(Error::Input(
                "'settings-path' and 'settings-json' cannot be used at the same time".to_owned(),
            ));
        }
        (Some(json), None) => serde_json::from_str(json)
            .map_err(|e| Error::Input(format!("--settings-json is not valid JSON: {e}")))?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Input(format!("cannot read settings from {}: {e}", path.display()))
            })?;
            parse_document(&text).map_err(|e| {
                Error::Input(format!("cannot parse settings in {}: {e}", path.display()))
            })?
        }
        (None, None) => Value::Object(serde_json::Map::new()),
    };
    // An empty settings file is YAML null; kwctl treats it as no settings.
    Ok(match settings {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other,
    })
}

/// JSON first, so that JSON-only details (big integers, escapes) keep JSON's reading; YAML is
/// the fallback for hand-written files.
fn parse_document(text: &str) -> std::result::Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(json_error) => serde_yaml::from_str(text)
            .map_err(|yaml_error| format!("neither JSON ({json_error}) nor YAML ({yaml_error})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("native-sidecar-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn review_yields_its_request_and_yaml_is_read() {
        let path = file(
            "review.yaml",
            "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: abc\n  operation: CREATE\n",
        );
        assert_eq!(
            read_request(&path).unwrap(),
            json!({"uid": "abc", "operation": "CREATE"})
        );
    }

    #[test]
    fn bare_request_is_kept_and_non_objects_are_refused() {
        let path = file("request.json", r#"{"uid": "x", "operation": "DELETE"}"#);
        assert_eq!(read_request(&path).unwrap()["uid"], "x");
        let path = file("empty-review.json", r#"{"kind": "AdmissionReview"}"#);
        assert!(
            read_request(&path)
                .unwrap_err()
                .to_string()
                .ends_with("invalid admission review object: it has no request")
        );
        let path = file("list.json", "[1, 2]");
        assert!(
            read_request(&path)
                .unwrap_err()
                .to_string()
                .ends_with("the request to evaluate is not an AdmissionRequest object")
        );
    }

    #[test]
    fn settings_sources() {
        assert_eq!(read_settings(None, None).unwrap(), json!({}));
        assert_eq!(
            read_settings(Some(r#"{"mode":"validate"}"#), None).unwrap(),
            json!({"mode": "validate"})
        );
        let path = file("settings.yaml", "mode: validate\nextraSidecars: []\n");
        assert_eq!(
            read_settings(None, Some(&path)).unwrap(),
            json!({"mode": "validate", "extraSidecars": []})
        );
        let empty = file("empty.yaml", "");
        assert_eq!(read_settings(None, Some(&empty)).unwrap(), json!({}));
        assert!(read_settings(Some("{}"), Some(&path)).is_err());
        assert!(read_settings(Some("{"), None).is_err());
    }
}
