//! `native-sidecar check`: validate mode for CI. One line per container out of place (a classic
//! proxy, an init container before its proxy, a setup container after it), per object the
//! policy refuses, per warning and per document that cannot be read.

use native_sidecar_core::{Mode, Operation, Settings, review};
use serde_json::{Value, json};

use crate::documents::{self, Source};
use crate::objects::{self, Target};
use crate::{Message, Severity};

/// One line of the check.
#[derive(Debug, Clone)]
pub struct Entry {
    pub message: Message,
    pub object: Option<ObjectInfo>,
    pub finding: Option<FindingInfo>,
}

#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct FindingInfo {
    pub container: String,
    pub list: &'static str,
    pub position: usize,
    pub problem: &'static str,
    pub proxy: String,
    pub expected_init_order: Vec<String>,
}

/// A line about no object in particular: a file or document that cannot be read.
impl From<Message> for Entry {
    fn from(message: Message) -> Entry {
        Entry {
            message,
            object: None,
            finding: None,
        }
    }
}

/// The result of checking some sources.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub entries: Vec<Entry>,
    pub documents: usize,
    /// Objects whose pod spec the policy reviewed.
    pub reviewed: usize,
}

impl Checked {
    pub fn worst(&self) -> Option<Severity> {
        crate::worst(self.entries.iter().map(|e| &e.message))
    }

    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|entry| {
                let m = &entry.message;
                let mut line = json!({
                    "severity": match m.severity {
                        Severity::Warning => "warning",
                        Severity::Finding => "finding",
                        Severity::Refused => "refused",
                        Severity::Unreadable => "error",
                    },
                    "file": m.file,
                    "document": m.at,
                    "message": m.text,
                });
                if let Some(object) = &entry.object {
                    line["kind"] = json!(object.kind);
                    line["namespace"] = json!(object.namespace);
                    line["name"] = json!(object.name);
                }
                if let Some(f) = &entry.finding {
                    line["problem"] = json!(f.problem);
                    line["container"] = json!(f.container);
                    line["list"] = json!(f.list);
                    line["position"] = json!(f.position);
                    line["proxy"] = json!(f.proxy);
                    line["expectedInitOrder"] = json!(f.expected_init_order);
                }
                line
            })
            .collect();
        json!({
            "clean": self.worst().is_none_or(|w| w == Severity::Warning),
            "documents": self.documents,
            "reviewed": self.reviewed,
            "entries": entries,
        })
    }
}

/// Checks `source` in validate mode, whatever mode `settings` names; never changes anything.
/// Kinds the tool does not know are errors, or warnings with `skip_unknown_kinds`.
pub fn check(
    source: &Source,
    settings: &Settings,
    skip_unknown_kinds: bool,
    checked: &mut Checked,
) {
    let mut settings = settings.clone();
    settings.mode = Mode::Validate;
    for (number, value) in documents::read(source) {
        checked.documents += 1;
        let mut value = match value {
            Ok(value) => value,
            Err(message) => {
                checked.entries.push(message.into());
                continue;
            }
        };
        let mut entries = Vec::new();
        let mut reviewed = 0;
        let told = objects::visit(&mut value, &source.name, number, &mut |visit| {
            let object = ObjectInfo {
                kind: objects::kind(visit.object, &visit.target).to_owned(),
                namespace: objects::namespace(visit.object).map(str::to_owned),
                name: objects::name(visit.object),
            };
            let message = |severity, text: String| Message {
                severity,
                file: source.name.clone(),
                at: Some(visit.at.clone()),
                object: Some(format!("{}/{}", object.kind, object.name)),
                text,
            };
            let mut say = |severity, text: String, finding: Option<FindingInfo>| {
                entries.push(Entry {
                    message: message(severity, text),
                    object: Some(object.clone()),
                    finding,
                })
            };
            match visit.target {
                Target::Reviewed(kind) => {
                    reviewed += 1;
                    let outcome = review(kind, Operation::Create, visit.object, &settings);
                    for f in &outcome.findings {
                        let info = FindingInfo {
                            container: f.container.clone(),
                            list: f.list,
                            position: f.position,
                            problem: f.code(),
                            proxy: f.proxy().to_owned(),
                            expected_init_order: outcome.expected_init_order.clone(),
                        };
                        say(Severity::Finding, f.describe(), Some(info));
                    }
                    // Validate mode's rejection restates the findings; without findings it is
                    // a refusal in every mode (two proxies, a proxy that cannot be a sidecar).
                    if let (Some(rejection), true) =
                        (outcome.rejection, outcome.findings.is_empty())
                    {
                        say(Severity::Refused, rejection, None);
                    }
                    for warning in outcome.warnings {
                        say(Severity::Warning, warning, None);
                    }
                }
                Target::Other => {}
                Target::Unknown(text) if skip_unknown_kinds => {
                    say(Severity::Warning, format!("{text}; left unchecked"), None)
                }
                Target::Unknown(text) => say(
                    Severity::Unreadable,
                    format!("{text}; pass --skip-unknown-kinds to leave it unchecked"),
                    None,
                ),
            }
        });
        checked.reviewed += reviewed;
        checked.entries.append(&mut entries);
        checked.entries.extend(told.into_iter().map(Into::into));
    }
}
