//! `native-sidecar convert`: every document as the policy would admit it on CREATE. Documents
//! that do not change come back exactly as they were; changed ones are rewritten in their own
//! format (a List whose items changed is rewritten as a whole).

use native_sidecar_core::{Operation, Settings, review};

use crate::documents::{self, Source};
use crate::objects::{self, Target};
use crate::{Message, Severity};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Pass kinds the tool does not know through with a warning instead of failing.
    pub skip_unknown_kinds: bool,
}

/// One source after conversion.
#[derive(Debug, Clone)]
pub struct Converted {
    pub text: String,
    pub documents: usize,
    /// Documents that changed.
    pub changed: usize,
    /// Objects whose pod spec the policy reviewed.
    pub reviewed: usize,
    /// Warnings, refusals and unreadable documents; the text must not be used when any message is
    /// worse than a warning.
    pub messages: Vec<Message>,
}

pub fn convert(source: &Source, settings: &Settings, options: Options) -> Converted {
    let text = &source.text;
    let mut converted = Converted {
        text: String::with_capacity(text.len()),
        documents: 0,
        changed: 0,
        reviewed: 0,
        messages: Vec::new(),
    };
    for chunk in documents::split(text) {
        let original = &text[chunk.span.clone()];
        if chunk.body.is_none() {
            converted.text.push_str(original);
            continue;
        }
        converted.documents += 1;
        let number = converted.documents;
        let unreadable = |text: String| Message::unreadable(&source.name, number, text);
        let (format, mut value) = match documents::parse(text, &chunk) {
            Ok(parsed) => parsed,
            Err(e) => {
                converted.messages.push(unreadable(e));
                converted.text.push_str(original);
                continue;
            }
        };
        let mut changed = false;
        let mut messages = Vec::new();
        let told = objects::visit(&mut value, &source.name, number, &mut |visit| {
            let at = Some(visit.at.clone());
            let object = Some(objects::describe(visit.object, &visit.target));
            let mut say = |severity, text: String| {
                messages.push(Message {
                    severity,
                    file: source.name.clone(),
                    at: at.clone(),
                    object: object.clone(),
                    text,
                })
            };
            match visit.target {
                Target::Reviewed(kind) => {
                    converted.reviewed += 1;
                    let outcome = review(kind, Operation::Create, visit.object, settings);
                    changed |= outcome.changed;
                    for warning in outcome.warnings {
                        say(Severity::Warning, warning);
                    }
                    if let Some(rejection) = outcome.rejection {
                        say(Severity::Refused, rejection);
                    }
                }
                Target::Other => {}
                Target::Unknown(text) if options.skip_unknown_kinds => {
                    say(Severity::Warning, format!("{text}; left untouched"))
                }
                Target::Unknown(text) => say(
                    Severity::Unreadable,
                    format!(
                        "{text}; convert it by hand, or pass --skip-unknown-kinds to leave it untouched"
                    ),
                ),
            }
        });
        converted.messages.append(&mut messages);
        converted.messages.extend(told);
        if changed {
            converted.changed += 1;
            converted
                .text
                .push_str(&documents::rewrite(text, &chunk, &format, &value));
        } else {
            converted.text.push_str(original);
        }
    }
    converted
}

/// The outputs of several sources as one YAML stream: each as it is, separated by `---` where
/// the next one does not start with its own.
pub fn join<'t>(texts: impl IntoIterator<Item = &'t str>) -> String {
    let mut out = String::new();
    for text in texts {
        if text.trim().is_empty() {
            continue;
        }
        if !out.is_empty() {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            if !text.starts_with("---") {
                out.push_str("---\n");
            }
        }
        out.push_str(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_separates_documents_once() {
        assert_eq!(
            join(["a: 1", "---\nb: 2\n", "", "c: 3\n"]),
            "a: 1\n---\nb: 2\n---\nc: 3\n"
        );
    }
}
