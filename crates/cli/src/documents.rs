//! Files as streams of documents. A file is split into documents at the text level (at `---`
//! lines, as YAML itself splits them), so that every document that does not change can be written
//! back byte for byte, comments and formatting included, and only changed ones are rewritten.

use std::ops::Range;

use serde_json::Value;

use crate::{Message, yaml};

/// One input: a file or standard input.
#[derive(Debug, Clone)]
pub struct Source {
    /// How messages name it: the path as given, or `<stdin>`.
    pub name: String,
    /// Where `--in-place` writes it back; `None` for standard input.
    pub path: Option<std::path::PathBuf>,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source {
            name: name.into(),
            path: None,
            text: text.into(),
        }
    }
}

/// A document's place in its file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The whole document: its `---` line, comments and blank lines around it.
    pub span: Range<usize>,
    /// Line of the chunk's first line (1-based).
    pub line: usize,
    /// From the first to the last line with content (end of line included); `None` for a
    /// document that holds only comments.
    pub body: Option<Range<usize>>,
    /// Line of the body's first line.
    pub body_line: usize,
    /// The body starts on the `---` line itself (`--- {a: 1}`).
    pub body_on_marker: bool,
}

/// How a changed document is written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Yaml,
    /// JSON with this indentation (`None`: on one line), as the document was written.
    Json(Option<String>),
}

enum Line {
    Marker { content: bool },
    End,
    Directive,
    Blank,
    Content,
}

fn classify(line: &str) -> Line {
    let after = |prefix: &str| {
        line.strip_prefix(prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    };
    if let Some(rest) = after("---") {
        let rest = rest.trim();
        return Line::Marker {
            content: !rest.is_empty() && !rest.starts_with('#'),
        };
    }
    if after("...").is_some() {
        return Line::End;
    }
    if line.starts_with('%') {
        return Line::Directive;
    }
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        Line::Blank
    } else {
        Line::Content
    }
}

/// Splits a YAML stream (or a JSON file, which is one document) into its documents. The chunks
/// cover the text exactly, in order.
pub fn split(text: &str) -> Vec<Chunk> {
    let new_chunk = |start: usize, line: usize| Chunk {
        span: start..start,
        line,
        body: None,
        body_line: line,
        body_on_marker: false,
    };
    let mut chunks = Vec::new();
    let mut current = new_chunk(0, 1);
    let (mut marker, mut ended) = (false, false);
    let (mut offset, mut number) = (0, 1);
    for line in text.split_inclusive('\n') {
        let kind = classify(line.trim_end_matches(['\n', '\r']));
        let starts_document = match kind {
            Line::Marker { .. } | Line::Directive => marker || ended || current.body.is_some(),
            Line::Content => ended,
            Line::End | Line::Blank => false,
        };
        if starts_document {
            current.span.end = offset;
            chunks.push(std::mem::replace(&mut current, new_chunk(offset, number)));
            marker = false;
            ended = false;
        }
        let end = offset + line.len();
        let mut content = matches!(kind, Line::Content);
        match kind {
            Line::Marker { content: on_marker } => {
                marker = true;
                if on_marker {
                    current.body_on_marker = true;
                    content = true;
                }
            }
            Line::End => ended = true,
            Line::Directive | Line::Blank | Line::Content => {}
        }
        if content {
            match &mut current.body {
                Some(body) => body.end = end,
                None => {
                    current.body = Some(offset..end);
                    current.body_line = number;
                }
            }
        }
        offset = end;
        number += 1;
    }
    current.span.end = offset;
    chunks.push(current);
    chunks
}

/// The documents of `source` that have content, numbered from 1, each read with [`parse`]; one
/// that cannot be read is a message naming it.
pub fn read(source: &Source) -> impl Iterator<Item = (usize, Result<Value, Message>)> + '_ {
    split(&source.text)
        .into_iter()
        .filter(|chunk| chunk.body.is_some())
        .zip(1..)
        .map(|(chunk, number)| {
            let value = parse(&source.text, &chunk)
                .map(|(_, value)| value)
                .map_err(|e| Message::unreadable(&source.name, number, e));
            (number, value)
        })
}

/// Reads a document with content: JSON when it looks like JSON (as kubectl decides), else YAML
/// read the way kubectl reads it.
pub fn parse(text: &str, chunk: &Chunk) -> Result<(Format, Value), String> {
    let Some(body_range) = chunk.body.clone() else {
        return Ok((Format::Yaml, Value::Null));
    };
    let body = &text[body_range];
    if body.starts_with(['{', '[']) {
        match serde_json::from_str::<Value>(body) {
            Ok(value) => return Ok((json_format(body), value)),
            Err(json_error) => {
                // Flow-style YAML also starts with a brace; JSON's message is the useful one
                // when the text is not YAML either.
                return match yaml::load(&text[chunk.span.clone()], chunk.line) {
                    Ok(value) => Ok((Format::Yaml, value)),
                    Err(_) => Err(json_message(&json_error, chunk.body_line)),
                };
            }
        }
    }
    yaml::load(&text[chunk.span.clone()], chunk.line)
        .map(|value| (Format::Yaml, value))
        .map_err(|e| e.to_string())
}

fn json_message(error: &serde_json::Error, first_line: usize) -> String {
    let text = error.to_string();
    let reason = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(reason, _)| reason);
    format!(
        "JSON syntax error at line {}, column {}: {reason}",
        error.line() + first_line - 1,
        error.column()
    )
}

/// The indentation of the JSON text's second line: kubectl writes four spaces, most tools two.
fn json_format(body: &str) -> Format {
    let indent = body.lines().nth(1).map(|line| {
        line.chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect::<String>()
    });
    Format::Json(indent.filter(|i| !i.is_empty()))
}

/// The document's text with its body replaced by `value`, written in `format`; the `---` line,
/// the comments before the first and after the last content line are kept.
pub fn rewrite(text: &str, chunk: &Chunk, format: &Format, value: &Value) -> String {
    let Some(body) = chunk.body.clone() else {
        return text[chunk.span.clone()].to_owned();
    };
    let mut out = String::with_capacity(chunk.span.len() + 256);
    out.push_str(&text[chunk.span.start..body.start]);
    if chunk.body_on_marker {
        out.push_str("---\n");
    }
    match format {
        Format::Yaml => out.push_str(&yaml::to_string(value)),
        Format::Json(indent) => {
            out.push_str(&json_text(value, indent.as_deref()));
            if text[body.clone()].ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out.push_str(&text[body.end..chunk.span.end]);
    out
}

fn json_text(value: &Value, indent: Option<&str>) -> String {
    let Some(indent) = indent else {
        return value.to_string();
    };
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    // Writing a Value to memory cannot fail: its keys are strings and its numbers finite.
    let _ = serde::Serialize::serialize(value, &mut serializer);
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pieces(text: &str) -> Vec<(&str, Option<&str>)> {
        split(text)
            .into_iter()
            .map(|c| (&text[c.span.clone()], c.body.map(|b| &text[b])))
            .collect()
    }

    #[test]
    fn chunks_cover_the_text() {
        let text = "# Source: a.yaml\n---\n# head\na: 1\n# tail\n\n---\n---\nb: 2\n...\n# after\nc: 3\n--- # marker comment\n%YAML 1.2\n---\nd: 4";
        assert_eq!(
            pieces(text),
            [
                (
                    "# Source: a.yaml\n---\n# head\na: 1\n# tail\n\n",
                    Some("a: 1\n")
                ),
                ("---\n", None),
                ("---\nb: 2\n...\n# after\n", Some("b: 2\n")),
                ("c: 3\n", Some("c: 3\n")),
                ("--- # marker comment\n", None),
                ("%YAML 1.2\n---\nd: 4", Some("d: 4")),
            ]
        );
        let chunks = split(text);
        assert_eq!(chunks[2].line, 8);
        assert_eq!(chunks[2].body_line, 9);
    }

    #[test]
    fn indented_markers_and_block_text_stay_in_their_document() {
        let text = "a: |\n  ---\n  x\nb: '---'\n";
        assert_eq!(pieces(text), [(text, Some(text))]);
    }

    #[test]
    fn a_marker_with_content_starts_the_body() {
        let text = "--- {a: 1}\n";
        let chunk = &split(text)[0];
        assert!(chunk.body_on_marker);
        assert_eq!(parse(text, chunk), Ok((Format::Yaml, json!({"a": 1}))));
        assert_eq!(
            rewrite(text, chunk, &Format::Yaml, &json!({"a": 2})),
            "---\na: 2\n"
        );
    }

    #[test]
    fn json_keeps_its_indentation() {
        let text = "{\n    \"a\": [\n        1\n    ]\n}\n";
        let chunk = &split(text)[0];
        let (format, value) = parse(text, chunk).unwrap();
        assert_eq!(format, Format::Json(Some("    ".into())));
        assert_eq!(rewrite(text, chunk, &format, &value), text);
        let compact = "{\"a\":1}";
        let (format, _) = parse(compact, &split(compact)[0]).unwrap();
        assert_eq!(format, Format::Json(None));
    }

    #[test]
    fn errors_name_the_line_in_the_file() {
        let text = "a: 1\n---\n{\n  \"a\": 1\n  \"b\": 2\n}\n---\nb: [\n";
        let chunks = split(text);
        assert_eq!(
            parse(text, &chunks[1]),
            Err("JSON syntax error at line 5, column 3: expected `,` or `}`".to_owned())
        );
        assert_eq!(
            parse(text, &chunks[2]),
            Err("YAML syntax error at line 9, column 1: while parsing a flow node, did not find expected node content".to_owned())
        );
    }

    #[test]
    fn rewriting_keeps_the_comments_around_the_body() {
        let text = "---\n# Source: chart/deploy.yaml\nkind: A\nspec: {}  # inline\n# trailing\n";
        let chunk = &split(text)[0];
        assert_eq!(
            rewrite(
                text,
                chunk,
                &Format::Yaml,
                &json!({"kind": "A", "spec": {"x": 1}})
            ),
            "---\n# Source: chart/deploy.yaml\nkind: A\nspec:\n  x: 1\n# trailing\n"
        );
    }
}
