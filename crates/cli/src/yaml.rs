//! YAML as the Kubernetes tools read it, and written so that every reader reads it back the same.
//!
//! kubectl, Helm and Argo CD turn YAML into JSON with sigs.k8s.io/yaml, which resolves plain
//! scalars the way go-yaml v2 does (YAML 1.1): `defaultMode: 0644` is the octal 420, `readOnly: yes`
//! is `true`, `1_000` is 1000. serde's YAML crates follow YAML 1.2 and read those as other
//! numbers or as strings, so a document converted with them could mean something else once
//! applied. This module reads with libyaml's event parser (libyaml-safer, a Rust port of the C
//! library that go-yaml v2 itself is a port of, so it accepts the syntax kubectl accepts, such as
//! a flow sequence whose closing `]` stands at its key's indentation, which YAML 1.2 parsers
//! refuse) and resolves plain scalars with go-yaml v2's rules. When writing, it quotes every string that
//! go-yaml v2, a YAML 1.1 reader (PyYAML, kubernetes-validate) or a YAML 1.2 reader would take
//! for anything but that string; the serde writers leave `on`, `no` and `y` bare.

use std::collections::HashMap;
use std::fmt;

use libyaml_safer::{EventData, Mark, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// A YAML document that cannot be read, with the position in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "YAML syntax error at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Reads one YAML document as kubectl does. `first_line` is the line of the text's first line
/// in its file, so that errors name the file's lines. An empty document is `null`.
pub fn load(text: &str, first_line: usize) -> Result<Value, YamlError> {
    let error = |mark: Mark, message: String| YamlError {
        line: usize::try_from(mark.line)
            .unwrap_or(usize::MAX)
            .saturating_add(first_line),
        column: usize::try_from(mark.column)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
        message,
    };
    let mut parser = Parser::new();
    parser.set_input(text.as_bytes());
    let mut loader = Loader::default();
    for event in parser {
        let event = event.map_err(|e| {
            let message = match e.context() {
                Some(context) => format!("{context}, {}", e.problem()),
                None => e.problem().to_owned(),
            };
            error(e.problem_mark().unwrap_or_default(), message)
        })?;
        loader
            .handle(event.data)
            .map_err(|message| error(event.start_mark, message))?;
    }
    Ok(loader.root.unwrap_or(Value::Null))
}

/// What go-yaml v2 makes of a plain (unquoted, untagged) scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(Number),
    /// Finite floats only: `.inf` and `.nan` have no JSON form.
    Float(f64),
    NotFinite,
    /// `<<`: a merge key when it is a mapping key.
    Merge,
    String,
}

/// go-yaml v2's `resolve` for an untagged plain scalar decoded into `interface{}` (timestamps
/// stay strings there).
pub fn resolve(plain: &str) -> Scalar {
    match plain {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Scalar::NotFinite,
        "<<" => return Scalar::Merge,
        _ => {}
    }
    match plain.as_bytes()[0] {
        b'.' => match plain.parse::<f64>() {
            Ok(f) if f.is_finite() => Scalar::Float(f),
            _ => Scalar::String,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let digits = plain.replace('_', "");
            if let Some(number) = go_parse_int(&digits) {
                return Scalar::Int(number);
            }
            if yaml_style_float(&digits) {
                // Go's ParseFloat fails on overflow, and go-yaml then keeps the string.
                if let Ok(f) = digits.parse::<f64>()
                    && f.is_finite()
                {
                    return Scalar::Float(f);
                }
            }
            Scalar::String
        }
        _ => Scalar::String,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint` for what does not fit: an optional sign,
/// then `0x`, `0o`, `0b` or a leading `0` (octal) selects the base.
fn go_parse_int(s: &str) -> Option<Number> {
    let (negative, signed, body) = match s.as_bytes().first()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0o") => (8, &body[2..]),
        Some("0b") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            return Some(Number::from((magnitude as i128).wrapping_neg() as i64));
        }
        return None;
    }
    if magnitude <= i64::MAX as u64 {
        Some(Number::from(magnitude as i64))
    } else if signed {
        None
    } else {
        Some(Number::from(magnitude))
    }
}

/// go-yaml v2's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => {
            digits(whole) && (fraction.is_empty() || fraction.bytes().all(|b| b.is_ascii_digit()))
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// serde_json's limit for JSON documents; values this deep would overflow the stack when they
/// are written or dropped.
const MAX_DEPTH: usize = 128;

enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: Option<String>,
    },
    Mapping {
        entries: Map<String, Value>,
        anchor: Option<String>,
        key: Option<Key>,
        merged: Vec<Map<String, Value>>,
    },
}

enum Key {
    Name(String),
    Merge,
}

/// An anchored value, with its size and depth, so that an alias is weighed before it is copied.
struct Anchored {
    value: Value,
    values: usize,
    depth: usize,
}

#[derive(Default)]
struct Loader {
    stack: Vec<Frame>,
    anchors: HashMap<String, Anchored>,
    root: Option<Value>,
    documents: usize,
    /// Values read, those that aliases copy included, and those alone (go-yaml v2's decodeCount
    /// and aliasCount).
    values: usize,
    aliased: usize,
}

/// The share of a document's values that may come from aliases, as go-yaml v2 allows it since
/// CVE-2019-11253 (kubectl's "billion laughs"): 99% up to 400,000 values, 10% from 4,000,000,
/// scaled between.
fn allowed_alias_ratio(values: usize) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let values = values as f64;
    if values <= LOW {
        0.99
    } else if values >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((values - LOW) / (HIGH - LOW))
    }
}

/// How many values `value` holds, itself and mapping keys included (the nodes go-yaml v2 decodes
/// again for an alias), and how many collections deep it nests.
fn size(value: &Value) -> (usize, usize) {
    let (inner, keys): (Box<dyn Iterator<Item = &Value>>, usize) = match value {
        Value::Array(items) => (Box::new(items.iter()), 0),
        Value::Object(map) => (Box::new(map.values()), map.len()),
        _ => return (1, 0),
    };
    inner.fold((1 + keys, 1), |(values, depth), item| {
        let (item_values, item_depth) = size(item);
        (values + item_values, depth.max(item_depth + 1))
    })
}

impl Loader {
    fn handle(&mut self, event: EventData) -> Result<(), String> {
        match event {
            EventData::DocumentStart { .. } => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err("a second document where one was expected".to_owned());
                }
                Ok(())
            }
            EventData::Scalar {
                anchor,
                tag,
                value: text,
                style,
                ..
            } => {
                let merge_key = style == ScalarStyle::Plain
                    && tag.is_none()
                    && text == "<<"
                    && matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }));
                if merge_key {
                    if let Some(Frame::Mapping { key, .. }) = self.stack.last_mut() {
                        *key = Some(Key::Merge);
                    }
                    return Ok(());
                }
                self.values += 1;
                let value = scalar(&text, style, tag.as_deref())?;
                self.value(value, anchor)
            }
            EventData::Alias { anchor } => {
                let anchored = self
                    .anchors
                    .get(&anchor)
                    .ok_or("an alias to an anchor that is not defined before it")?;
                if self.stack.len() + anchored.depth > MAX_DEPTH {
                    return Err(format!(
                        "the document nests deeper than {MAX_DEPTH} levels, as no Kubernetes object does"
                    ));
                }
                self.values += anchored.values;
                self.aliased += anchored.values;
                if self.aliased > 100
                    && self.values > 1000
                    && self.aliased as f64 / self.values as f64 > allowed_alias_ratio(self.values)
                {
                    return Err(format!(
                        "the aliases expand the document to {} values, {} of them copies, which kubectl refuses as excessive aliasing",
                        self.values, self.aliased
                    ));
                }
                let value = anchored.value.clone();
                self.value(value, None)
            }
            EventData::SequenceStart { .. } | EventData::MappingStart { .. }
                if self.stack.len() >= MAX_DEPTH =>
            {
                Err(format!(
                    "the document nests deeper than {MAX_DEPTH} levels, as no Kubernetes object does"
                ))
            }
            EventData::SequenceStart { anchor, .. } => {
                self.values += 1;
                self.stack.push(Frame::Sequence {
                    items: Vec::new(),
                    anchor,
                });
                Ok(())
            }
            EventData::MappingStart { anchor, .. } => {
                self.values += 1;
                self.stack.push(Frame::Mapping {
                    entries: Map::new(),
                    anchor,
                    key: None,
                    merged: Vec::new(),
                });
                Ok(())
            }
            EventData::SequenceEnd | EventData::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence { items, anchor }) => (Value::Array(items), anchor),
                    Some(Frame::Mapping {
                        mut entries,
                        anchor,
                        merged,
                        ..
                    }) => {
                        // Keys written in the mapping win over merged ones, as YAML's merge
                        // key specifies; earlier merged mappings win over later ones.
                        for source in merged {
                            for (key, value) in source {
                                entries.entry(key).or_insert(value);
                            }
                        }
                        (Value::Object(entries), anchor)
                    }
                    None => return Err("a collection closed that was never opened".to_owned()),
                };
                self.value(value, anchor)
            }
            EventData::StreamStart { .. }
            | EventData::StreamEnd
            | EventData::DocumentEnd { .. } => Ok(()),
        }
    }

    fn value(&mut self, value: Value, anchor: Option<String>) -> Result<(), String> {
        if let Some(anchor) = anchor {
            let (values, depth) = size(&value);
            let value = value.clone();
            self.anchors.insert(
                anchor,
                Anchored {
                    value,
                    values,
                    depth,
                },
            );
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Ok(())
            }
            Some(Frame::Sequence { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Mapping {
                entries,
                key,
                merged,
                ..
            }) => {
                match key.take() {
                    None => {
                        *key = Some(Key::Name(key_string(value)?));
                        Ok(())
                    }
                    Some(Key::Merge) => {
                        match value {
                            Value::Object(map) => merged.push(map),
                            Value::Array(items) => {
                                for item in items {
                                    let Value::Object(map) = item else {
                                        return Err("a merge key (<<) takes a mapping or a list of mappings".to_owned());
                                    };
                                    merged.push(map);
                                }
                            }
                            _ => {
                                return Err(
                                    "a merge key (<<) takes a mapping or a list of mappings"
                                        .to_owned(),
                                );
                            }
                        }
                        Ok(())
                    }
                    Some(Key::Name(name)) => {
                        if entries.contains_key(&name) {
                            // kubectl refuses duplicate keys too ("mapping key already defined").
                            return Err(format!("mapping key \"{name}\" is defined twice"));
                        }
                        entries.insert(name, value);
                        Ok(())
                    }
                }
            }
        }
    }
}

/// A scalar as a JSON value: quoted and block scalars are strings, plain ones are resolved, and
/// the core schema's tags (`!!str`, `!!int`, ...) are applied. Other tags are ignored, as go-yaml
/// ignores them when decoding into `interface{}`.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    // libyaml writes `!!int` out in full.
    let core_tag = tag.and_then(|t| t.strip_prefix("tag:yaml.org,2002:"));
    let plain = style == ScalarStyle::Plain;
    let resolved = match core_tag {
        Some("str" | "binary" | "timestamp") => return Ok(Value::String(text.to_owned())),
        Some(wanted @ ("int" | "float" | "bool" | "null")) => {
            let resolved = resolve(text);
            let fits = matches!(
                (wanted, &resolved),
                ("int", Scalar::Int(_))
                    | ("float", Scalar::Float(_) | Scalar::Int(_))
                    | ("bool", Scalar::Bool(_))
                    | ("null", Scalar::Null)
            );
            if !fits {
                return Err(format!("\"{text}\" cannot be read as !!{wanted}"));
            }
            if let ("float", Scalar::Int(n)) = (wanted, &resolved) {
                return Ok(n
                    .as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number));
            }
            resolved
        }
        _ if plain && tag.is_none() => resolve(text),
        _ => return Ok(Value::String(text.to_owned())),
    };
    Ok(match resolved {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(n) => Value::Number(n),
        Scalar::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Scalar::NotFinite => {
            return Err(format!(
                "\"{text}\" is not a finite number, which JSON (and so the Kubernetes API) cannot hold"
            ));
        }
        Scalar::Merge | Scalar::String => Value::String(text.to_owned()),
    })
}

/// Mapping keys become strings as sigs.k8s.io/yaml makes them: numbers and booleans by their
/// text; a null or a collection as a key has no JSON form.
fn key_string(key: Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("a null mapping key, which JSON cannot hold".to_owned()),
        Value::Array(_) | Value::Object(_) => {
            Err("a list or mapping used as a mapping key, which JSON cannot hold".to_owned())
        }
    }
}

/// Writes a document in block style, as kubectl writes YAML (lists at their key's indentation).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0, false),
        scalar => write_scalar(&mut out, scalar, 2),
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Entries at `indent`; with `inline`, the first one continues the current line (after `- `).
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline: bool) {
    for (at, (key, value)) in map.iter().enumerate() {
        if at > 0 || !inline {
            pad(out, indent);
        }
        write_key(out, key);
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_sequence(out, items, indent, false);
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar, indent + 2);
            }
        }
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize, inline: bool) {
    for (at, item) in items.iter().enumerate() {
        if at > 0 || !inline {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => {
                write_sequence(out, inner, indent + 2, true)
            }
            scalar => write_scalar(out, scalar, indent + 2),
        }
    }
}

/// A scalar or an empty collection and the end of its line; block text is indented by `indent`.
fn write_scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if literal_block(s) => {
            write_literal(out, s, indent);
            return;
        }
        Value::String(s) => write_string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
    out.push('\n');
}

fn write_key(out: &mut String, key: &str) {
    write_string(out, key);
}

/// A one-line string: bare when every reader reads it back as this string, else double quotes
/// (as go-yaml quotes strings that would read as another type) or single quotes (for syntax).
fn write_string(out: &mut String, s: &str) {
    if ambiguous(s) || !s.chars().all(printable) {
        write_double_quoted(out, s);
    } else if plain_syntax(s) {
        out.push_str(s);
    } else {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    }
}

/// Whether a bare `s` could be read as something other than the string `s` by go-yaml v2, by a
/// YAML 1.1 reader (PyYAML, kubernetes-validate) or by a YAML 1.2 reader. Every number and
/// timestamp form of the three has a digit and nothing but the characters of `NUMBERISH`, so
/// `100m` and `1Gi` stay bare, as kubectl writes them, while `1.0`, `0x1F`, `1:20` and
/// `2001-12-14` are quoted.
fn ambiguous(s: &str) -> bool {
    const NUMBERISH: &str = "0123456789+-._:eExXoObBaAcCdDfFtTzZ ";
    if resolve(s) != Scalar::String {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | "="
            | "<<"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        && s.contains(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| NUMBERISH.contains(c))
}

/// Characters that may appear unescaped in a quoted or plain scalar. YAML 1.1 also reads NEL,
/// LS and PS as line breaks, so they are escaped too.
fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// Whether `s` is a well-formed plain scalar in block context, as a key or a value.
fn plain_syntax(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let second = s.chars().nth(1);
    let first_ok = match first {
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => false,
        '-' | '?' | ':' => second.is_some_and(|c| !c.is_whitespace()),
        c => !c.is_whitespace(),
    };
    first_ok
        && !s.starts_with("---")
        && !s.starts_with("...")
        && !s.ends_with(char::is_whitespace)
        && !s.ends_with(':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains(['\t', '\n', '\r'])
}

/// Multi-line text reads best as a literal block (`|`), which YAML can hold exactly when the
/// text has a line with content, no line made only of spaces, and a first content line that
/// does not start with a space (block indentation is taken from it).
fn literal_block(s: &str) -> bool {
    if !s.contains('\n') || !s.chars().all(|c| c == '\n' || c == '\t' || printable(c)) {
        return false;
    }
    let lines: Vec<&str> = s.split('\n').collect();
    let Some(first) = lines.iter().find(|l| !l.is_empty()) else {
        return false;
    };
    !first.starts_with([' ', '\t'])
        && lines
            .iter()
            .all(|l| l.is_empty() || !l.trim_matches([' ', '\t']).is_empty())
}

fn write_literal(out: &mut String, s: &str, indent: usize) {
    let body = s.strip_suffix('\n').unwrap_or(s);
    out.push('|');
    if !s.ends_with('\n') {
        out.push('-');
    } else if body.ends_with('\n') {
        out.push('+');
    }
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::octal("0644", json!(420))]
    #[case::octal_o("0o644", json!(420))]
    #[case::hex("0x1F", json!(31))]
    #[case::binary("0b101", json!(5))]
    #[case::underscores("1_000", json!(1000))]
    #[case::negative_hex("-0x10", json!(-16))]
    #[case::plus("+7", json!(7))]
    #[case::bad_octal_is_a_float("09", json!(9.0))]
    #[case::float("1.5", json!(1.5))]
    #[case::exponent("1e3", json!(1000.0))]
    #[case::leading_dot(".5", json!(0.5))]
    #[case::big_unsigned("18446744073709551615", json!(18446744073709551615u64))]
    #[case::min_int("-9223372036854775808", json!(i64::MIN))]
    #[case::too_big_is_a_float("99999999999999999999", json!(1e20))]
    #[case::overflowing_float_is_a_string("1e400", json!("1e400"))]
    #[case::yes("yes", json!(true))]
    #[case::on("On", json!(true))]
    #[case::y("y", json!(true))]
    #[case::no("NO", json!(false))]
    #[case::off("off", json!(false))]
    #[case::tilde("~", json!(null))]
    #[case::null("Null", json!(null))]
    #[case::mixed_case_is_a_string("yEs", json!("yEs"))]
    #[case::timestamp_is_a_string("2001-12-14", json!("2001-12-14"))]
    #[case::sexagesimal_is_a_string("1:20", json!("1:20"))]
    #[case::version("1.0.0", json!("1.0.0"))]
    #[case::flag("--domain", json!("--domain"))]
    #[case::word("istio-proxy", json!("istio-proxy"))]
    fn plain_scalars_read_as_kubectl_reads_them(#[case] plain: &str, #[case] expected: Value) {
        assert_eq!(
            load(&format!("a: {plain}\n"), 1),
            Ok(json!({ "a": expected }))
        );
    }

    #[rstest]
    #[case::single("a: '0644'", json!({"a": "0644"}))]
    #[case::double("a: \"yes\"", json!({"a": "yes"}))]
    #[case::block("a: |\n  on\n", json!({"a": "on\n"}))]
    #[case::str_tag("a: !!str 0644", json!({"a": "0644"}))]
    #[case::int_tag("a: !!int 0644", json!({"a": 420}))]
    #[case::float_tag("a: !!float 1", json!({"a": 1.0}))]
    #[case::custom_tag("a: !Ref 12", json!({"a": "12"}))]
    #[case::number_key("80: http", json!({"80": "http"}))]
    #[case::bool_key("on: push", json!({"true": "push"}))]
    #[case::anchor("a: &x {b: 1}\nc: *x", json!({"a": {"b": 1}, "c": {"b": 1}}))]
    #[case::merge("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3", json!({"base": {"x": 1, "z": 2}, "d": {"z": 3, "x": 1}}))]
    #[case::merge_list("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nd:\n  <<: [*a, *b]", json!({"a": {"x": 1}, "b": {"x": 2, "z": 3}, "d": {"x": 1, "z": 3}}))]
    #[case::quoted_merge_is_a_key("'<<': 1", json!({"<<": 1}))]
    #[case::empty("# only a comment\n", json!(null))]
    #[case::flow("{a: [1, on], b: {c: null}}", json!({"a": [1, true], "b": {"c": null}}))]
    // Flow collections whose lines, closing bracket included, stand at or left of their key's
    // indentation, with a trailing comma: go-yaml v2 (libyaml) reads them, YAML 1.2 parsers
    // refuse them ("invalid indentation"). Istio's SPIRE sample writes its args this way.
    #[case::flow_sequence_closed_at_the_keys_indentation(
        "containers:\n  - name: csi\n    args: [\n        \"-node-id\", \"CSI_NODE\",\n        \"-v\",\n    ]\n    image: csi\n",
        json!({"containers": [{"name": "csi", "args": ["-node-id", "CSI_NODE", "-v"], "image": "csi"}]})
    )]
    #[case::flow_mapping_left_of_its_key(
        "spec:\n  - selector: {\n  app: web,\n  }\n",
        json!({"spec": [{"selector": {"app": "web"}}]})
    )]
    fn documents(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(load(text, 1), Ok(expected));
    }

    #[rstest]
    #[case::syntax(
        "a: b\n  c: d\n",
        10,
        "YAML syntax error at line 11, column 4: mapping values are not allowed in this context"
    )]
    #[case::duplicate(
        "a: 1\nb: 2\na: 3\n",
        1,
        "YAML syntax error at line 3, column 4: mapping key \"a\" is defined twice"
    )]
    #[case::nan(
        "a: .nan\n",
        1,
        "YAML syntax error at line 1, column 4: \".nan\" is not a finite number, which JSON (and so the Kubernetes API) cannot hold"
    )]
    #[case::null_key(
        "~: 1\n",
        1,
        "YAML syntax error at line 1, column 1: a null mapping key, which JSON cannot hold"
    )]
    #[case::bad_tag(
        "a: !!int x\n",
        1,
        "YAML syntax error at line 1, column 4: \"x\" cannot be read as !!int"
    )]
    #[case::deep(&format!("a: {}{}", "[".repeat(200), "]".repeat(200)), 1, "YAML syntax error at line 1, column 131: the document nests deeper than 128 levels, as no Kubernetes object does")]
    #[case::billion_laughs(
        &laughs(9),
        1,
        "YAML syntax error at line 4, column 10: the aliases expand the document to 2350 values, 2331 of them copies, which kubectl refuses as excessive aliasing"
    )]
    #[case::deep_through_aliases(
        &format!("a: &a {}{}\nb: [[*a]]\n", "[".repeat(127), "]".repeat(127)),
        1,
        "YAML syntax error at line 2, column 6: the document nests deeper than 128 levels, as no Kubernetes object does"
    )]
    #[case::unknown_alias(
        "a: *x\n",
        1,
        "YAML syntax error at line 1, column 4: an alias to an anchor that is not defined before it"
    )]
    fn errors_name_the_line(#[case] text: &str, #[case] first_line: usize, #[case] message: &str) {
        assert_eq!(
            load(text, first_line).map_err(|e| e.to_string()),
            Err(message.to_owned())
        );
    }

    /// `levels` anchors, each a list of ten aliases to the one before.
    fn laughs(levels: usize) -> String {
        let mut text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned();
        for level in 1..levels {
            let alias = format!("*l{}", level - 1);
            text.push_str(&format!(
                "l{level}: &l{level} [{}]\n",
                vec![alias; 10].join(", ")
            ));
        }
        text
    }

    /// Aliases that kubectl reads are read: go-yaml v2 allows up to 99% of a document of fewer
    /// than 400,000 values to be copies (laughs(3): 1,220 of 1,237), and any share of one of
    /// fewer than 1,000.
    #[test]
    fn aliases_within_kubectls_limit_are_read() {
        let value = load(&laughs(3), 1).unwrap();
        assert_eq!(value["l2"][9][9][9], "x");
        assert_eq!(size(&value), (1 + 3 + 11 + 111 + 1111, 4));
        let pod = "env: &env [{name: A, value: a}, {name: B, value: b}]\ncontainers:\n- {name: a, env: *env}\n- {name: b, env: *env}\n";
        assert_eq!(
            load(pod, 1).unwrap()["containers"][1]["env"][1]["value"],
            "b"
        );
    }

    #[test]
    fn writes_like_kubectl() {
        let value = json!({
            "apiVersion": "v1",
            "metadata": {"annotations": {"prometheus.io/port": "15020", "status": "{\"a\": [1]}"}, "labels": {}},
            "spec": {
                "containers": [
                    {"name": "app", "args": ["--domain", "-x", "a: b", "on", "0644", "1.0.0", "100m", "it's"], "ports": [{"containerPort": 80}]},
                    {"name": "script", "command": ["sh", "-c", "echo hi\nexit 0\n"], "env": [], "x": [["a", "b"], []]}
                ],
                "readOnly": true,
                "ratio": 0.5,
                "none": null
            }
        });
        let text = to_string(&value);
        assert_eq!(
            text,
            r#"apiVersion: v1
metadata:
  annotations:
    prometheus.io/port: "15020"
    status: '{"a": [1]}'
  labels: {}
spec:
  containers:
  - name: app
    args:
    - --domain
    - -x
    - 'a: b'
    - "on"
    - "0644"
    - "1.0.0"
    - 100m
    - it's
    ports:
    - containerPort: 80
  - name: script
    command:
    - sh
    - -c
    - |
      echo hi
      exit 0
    env: []
    x:
    - - a
      - b
    - []
  readOnly: true
  ratio: 0.5
  none: null
"#
        );
        assert_eq!(load(&text, 1), Ok(value.clone()));
        assert_eq!(serde_yaml::from_str::<Value>(&text).ok(), Some(value));
    }

    #[rstest]
    #[case::no_newline("a\nb")]
    #[case::one_newline("a\nb\n")]
    #[case::kept_newlines("a\n\n\n")]
    #[case::leading_empty_lines("\n\na\n")]
    #[case::indented_later_line("a\n  b\n")]
    #[case::leading_space(" a\nb")]
    #[case::blank_line_with_spaces("a\n  \nb")]
    #[case::only_newlines("\n\n")]
    #[case::carriage_return("a\r\nb")]
    #[case::tab("a\tb\n\tc")]
    #[case::line_separator("a\u{2028}b\nc")]
    fn multi_line_strings_read_back(#[case] s: &str) {
        let value = json!({"k": s, "list": [s]});
        let text = to_string(&value);
        assert_eq!(load(&text, 1), Ok(value.clone()), "{text}");
        assert_eq!(
            serde_yaml::from_str::<Value>(&text).ok(),
            Some(value),
            "{text}"
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let string = prop_oneof![
            "[ -~]{0,12}",
            "(yes|No|ON|y|~|null|0644|0x1F|1_000|1e3|.5|-|---|<<|=|: |#|'|\"|\\\\|2001-12-1|1:2)[0-9a-z: #.]{0,3}",
            "\\PC{0,6}",
            "[a-z\n \t]{0,10}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            string.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((string.clone(), inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// What is written reads back as the same value, with kubectl's rules and with YAML 1.2's.
        #[test]
        fn written_documents_read_back(entries in prop::collection::vec(("[a-z]{1,8}", json_value()), 1..6)) {
            let value = Value::Object(entries.into_iter().collect());
            let text = to_string(&value);
            prop_assert_eq!(load(&text, 1), Ok(value.clone()), "{}", text);
            prop_assert_eq!(serde_yaml::from_str::<Value>(&text).map_err(|e| e.to_string()), Ok(value), "{}", text);
        }
    }
}
