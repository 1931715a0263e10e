//! Reading the inputs as kubectl's `-f` reads them: files (whatever their extension), directories
//! (their `.json`, `.yaml` and `.yml` files in name order, hidden ones skipped; their
//! subdirectories only when recursive, as `kubectl -R`) and standard input (`-`).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::documents::Source;
use crate::{Message, Severity};

pub const STDIN: &str = "<stdin>";

/// The extensions of the files a directory read takes, as kubectl's.
pub const EXTENSIONS: [&str; 3] = ["json", "yaml", "yml"];

/// Reads every input in order; what cannot be read is a message, and the rest is still read so
/// that all problems are reported at once. No inputs means standard input. `recursive` reads
/// directories' subdirectories too.
pub fn read(
    inputs: &[PathBuf],
    recursive: bool,
    stdin: &mut dyn Read,
) -> (Vec<Source>, Vec<Message>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let stdin_only = [PathBuf::from("-")];
    let inputs = if inputs.is_empty() {
        &stdin_only[..]
    } else {
        inputs
    };
    for input in inputs {
        if input.as_os_str() == "-" {
            let mut bytes = Vec::new();
            match stdin.read_to_end(&mut bytes) {
                Ok(_) => match String::from_utf8(bytes) {
                    Ok(text) => sources.push(Source::new(STDIN, text)),
                    Err(_) => errors.push(not_utf8(STDIN)),
                },
                Err(e) => errors.push(Message::file(
                    Severity::Unreadable,
                    STDIN,
                    format!("cannot read standard input: {e}"),
                )),
            }
        } else if input.is_dir() {
            read_directory(input, recursive, &mut sources, &mut errors);
        } else {
            read_file(input, &mut sources, &mut errors);
        }
    }
    (sources, errors)
}

fn read_directory(
    dir: &Path,
    recursive: bool,
    sources: &mut Vec<Source>,
    errors: &mut Vec<Message>,
) {
    let walker = walkdir::WalkDir::new(dir)
        .max_depth(if recursive { usize::MAX } else { 1 })
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
        });
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() && is_manifest(entry.path()) => {
                read_file(entry.path(), sources, errors)
            }
            Ok(_) => {}
            Err(e) => {
                let name = e.path().unwrap_or(dir).display().to_string();
                let reason = e
                    .io_error()
                    .map_or_else(|| e.to_string(), ToString::to_string);
                errors.push(Message::file(
                    Severity::Unreadable,
                    &name,
                    format!("cannot read: {reason}"),
                ));
            }
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

fn read_file(path: &Path, sources: &mut Vec<Source>, errors: &mut Vec<Message>) {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => sources.push(Source {
                name,
                path: Some(path.to_owned()),
                text,
            }),
            Err(_) => errors.push(not_utf8(&name)),
        },
        Err(e) => errors.push(Message::file(
            Severity::Unreadable,
            &name,
            format!("cannot read: {}", io_reason(&e)),
        )),
    }
}

/// The OS's reason without Rust's `(os error N)` suffix.
fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" (os error") {
        Some((reason, _)) => reason.to_owned(),
        None => text,
    }
}

fn not_utf8(name: &str) -> Message {
    Message::file(
        Severity::Unreadable,
        name,
        "cannot read: the file is not UTF-8 text",
    )
}
