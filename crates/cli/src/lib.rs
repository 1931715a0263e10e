//! `native-sidecar`, the policy's core on the command line: `convert` rewrites manifests as the
//! policy would admit them, `check` reports what is not a correctly placed native sidecar (for
//! CI), `report` summarises a cluster's pods and workloads before a migration.
//!
//! The library holds everything but argument parsing and the terminal, so that tests and the
//! benchmark run the same code as the binary.

pub mod check;
pub mod convert;
pub mod documents;
pub mod inputs;
pub mod objects;
pub mod report;
pub mod settings;
pub mod yaml;

use std::fmt;

/// How bad a message is; the exit code follows the worst one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    /// A proxy that is classic or misplaced (what `check` looks for).
    Finding,
    /// The policy would reject the object.
    Refused,
    /// The input cannot be read: a file, a syntax error, a document that is not an object, a
    /// kind the tool does not know with a pod template in it.
    Unreadable,
}

impl Severity {
    /// 2 for input that cannot be read, 1 for findings and refusals, 0 otherwise.
    pub fn exit_code(worst: Option<Severity>) -> u8 {
        match worst {
            Some(Severity::Unreadable) => 2,
            Some(Severity::Refused | Severity::Finding) => 1,
            Some(Severity::Warning) | None => 0,
        }
    }
}

/// Something to tell about a file, a document or an object in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub severity: Severity,
    pub file: String,
    /// The document's number in the file (from 1), with `.items[N]` for an item of a List.
    pub at: Option<String>,
    /// `Kind/name`.
    pub object: Option<String>,
    pub text: String,
}

impl Message {
    pub fn file(severity: Severity, file: &str, text: impl Into<String>) -> Message {
        Message {
            severity,
            file: file.to_owned(),
            at: None,
            object: None,
            text: text.into(),
        }
    }

    /// Document `number` of `file` cannot be read.
    pub fn unreadable(file: &str, number: usize, text: impl Into<String>) -> Message {
        Message {
            at: Some(number.to_string()),
            ..Message::file(Severity::Unreadable, file, text)
        }
    }
}

/// `file:document: Kind/name: text`.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(at) = &self.at {
            write!(f, ":{at}")?;
        }
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        write!(f, ": {}", self.text)
    }
}

/// The worst severity among `messages`.
pub fn worst<'m>(messages: impl IntoIterator<Item = &'m Message>) -> Option<Severity> {
    messages.into_iter().map(|m| m.severity).max()
}
