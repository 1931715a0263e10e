//! questions-ui.yml, the settings form of Kubewarden's policy catalog: one question for every
//! setting validate_settings accepts, and no other, each with the policy's default. The settings
//! come from the core (`Settings::default().to_json()`, nested objects key by key, as the form's
//! `map[` subquestions name them: `parent.child`), so a new setting fails here until the form asks
//! for it.

mod common;

use std::collections::BTreeMap;

use native_sidecar_core::Settings;
use serde_json::{Map, Value, json};

fn questions() -> Vec<Value> {
    let file: Value = serde_yaml::from_str(&common::read("questions-ui.yml")).unwrap();
    file["questions"]
        .as_array()
        .expect("questions-ui.yml has a questions list")
        .clone()
}

/// The settings by dotted path, each with its default.
fn settings() -> BTreeMap<String, Value> {
    leaves(&Settings::default().to_json())
}

/// The leaves of a settings object by dotted path: an object is its keys, a list or a scalar is
/// one setting.
fn leaves(settings: &Value) -> BTreeMap<String, Value> {
    fn walk(path: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, value) in map {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            _ => {
                out.insert(path.to_owned(), value.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", settings, &mut out);
    out
}

/// The questions of questions-ui.yml that ask for a value.
fn asked() -> BTreeMap<String, Value> {
    asked_in(&questions())
}

/// The questions that ask for a value, by variable: a `map[` question's subquestions stand for
/// it (Rancher names them by their full dotted path).
fn asked_in(questions: &[Value]) -> BTreeMap<String, Value> {
    fn walk(questions: &[Value], out: &mut BTreeMap<String, Value>) {
        for question in questions {
            match question.get("subquestions").and_then(Value::as_array) {
                Some(subquestions) => walk(subquestions, out),
                None => {
                    let variable = question["variable"].as_str().expect("a variable");
                    let earlier = out.insert(variable.to_owned(), question.clone());
                    assert!(earlier.is_none(), "{variable} is asked twice");
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(questions, &mut out);
    out
}

/// `value` at the dotted `path` of a settings object.
fn at(path: &str, value: Value) -> Value {
    path.rsplit('.')
        .fold(value, |inner, key| json!({ key: inner }))
}

/// Sets `value` at the dotted `path` of `settings`, making the objects on the way.
fn insert(settings: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        Some((key, rest)) => {
            let inner = settings
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                insert(inner, rest, value);
            }
        }
        None => {
            settings.insert(path.to_owned(), value);
        }
    }
}

/// How a nested setting (a mesh's own object of settings) is matched with its form.
#[test]
fn nested_settings_are_asked_for_by_dotted_path() {
    let settings =
        json!({"mode": "mutate", "mesh": {"probe": {"failureThreshold": 120}, "ports": []}});
    let form: Value = serde_yaml::from_str(
        "- {variable: mode, type: enum, default: mutate}
- variable: mesh
  type: map[
  subquestions:
    - {variable: mesh.probe.failureThreshold, type: int, default: 120}
    - {variable: mesh.ports, type: 'array[', default: []}
",
    )
    .unwrap();
    let expected = ["mesh.ports", "mesh.probe.failureThreshold", "mode"];
    assert_eq!(leaves(&settings).keys().collect::<Vec<_>>(), expected);
    assert_eq!(
        asked_in(form.as_array().unwrap())
            .keys()
            .collect::<Vec<_>>(),
        expected
    );
    let mut rebuilt = Map::new();
    for (path, default) in leaves(&settings) {
        insert(&mut rebuilt, &path, default);
    }
    assert_eq!(Value::Object(rebuilt), settings);
    assert_eq!(
        at("mesh.probe.failureThreshold", json!(3)),
        json!({"mesh": {"probe": {"failureThreshold": 3}}})
    );
}

#[test]
fn every_setting_is_asked_for_and_nothing_else() {
    let settings = settings();
    let asked = asked();
    let missing: Vec<String> = settings
        .iter()
        .filter(|(path, _)| !asked.contains_key(*path))
        .map(|(path, default)| format!("{path} (default {default})"))
        .collect();
    let unknown: Vec<&String> = asked
        .keys()
        .filter(|v| !settings.contains_key(*v))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "questions-ui.yml must ask for every setting and nothing else: add {missing:?}, remove {unknown:?}"
    );
    // Each of them, alone, is a setting validate_settings takes.
    for (variable, question) in &asked {
        let settings = at(variable, question["default"].clone());
        assert!(
            Settings::from_json(&settings).is_ok(),
            "{variable}: {settings} is refused"
        );
    }
}

#[test]
fn each_question_defaults_to_the_settings_default() {
    let settings = settings();
    let mut form = Map::new();
    for (variable, question) in asked() {
        let default = &question["default"];
        assert_eq!(
            Some(default),
            settings.get(&variable),
            "{variable}: the question's default is not the policy's"
        );
        let kind = question["type"].as_str().unwrap_or_default();
        let fits = match kind {
            "boolean" => default.is_boolean(),
            "string" | "enum" => default.is_string(),
            "int" => default.is_i64(),
            "array[" | "sequence[" => default.is_array(),
            "map[" => default.is_object(),
            other => panic!("{variable}: type {other:?} is not one the form knows"),
        };
        assert!(fits, "{variable}: type {kind} with default {default}");
        insert(&mut form, &variable, default.clone());
    }
    // The form sent as it opens is the policy's defaults.
    assert_eq!(
        Settings::from_json(&Value::Object(form)),
        Ok(Settings::default())
    );
}

#[test]
fn enum_options_are_the_values_the_policy_takes() {
    let mut enums = 0;
    for (variable, question) in asked() {
        if question["type"] != "enum" {
            continue;
        }
        enums += 1;
        let options = question["options"].as_array().expect("an enum has options");
        assert!(options.contains(&question["default"]), "{variable}");
        for option in options {
            let settings = at(&variable, option.clone());
            assert!(
                Settings::from_json(&settings).is_ok(),
                "{variable}: option {option} is refused"
            );
        }
        assert!(Settings::from_json(&at(&variable, json!("not-an-option"))).is_err());
    }
    assert!(enums >= 2, "mode and onResourceIncrease are enums");
}

/// A `sequence[` question's items: filled in from its sequence_questions, the policy takes them
/// and writes back the same fields.
#[test]
fn sequence_items_have_the_fields_the_policy_reads() {
    let mut sequences = 0;
    for (variable, question) in asked() {
        let Some(fields) = question["sequence_questions"].as_array() else {
            continue;
        };
        sequences += 1;
        let mut item = Map::new();
        for (n, field) in fields.iter().enumerate() {
            let name = field["variable"].as_str().unwrap();
            // Values every name-like field takes: DNS labels.
            let value = match field["type"].as_str() {
                Some("string") => json!(format!("sample-{n}")),
                Some("array[") => json!([format!("sample-{n}")]),
                Some("boolean") => json!(true),
                Some("int") => json!(1),
                other => panic!("{variable}.{name}: type {other:?}"),
            };
            item.insert(name.to_owned(), value);
        }
        let settings = Settings::from_json(&at(&variable, json!([item])))
            .unwrap_or_else(|e| panic!("{variable}: an item of the form is refused: {e}"));
        let written = settings.to_json();
        let written = variable.split('.').fold(&written, |value, key| &value[key]);
        let keys: Vec<&String> = written[0].as_object().unwrap().keys().collect();
        let asked: Vec<&String> = item.keys().collect();
        assert_eq!(
            keys, asked,
            "{variable}: the form's fields are not the item's"
        );
    }
    assert!(sequences >= 1, "extraSidecars is a sequence");
}
