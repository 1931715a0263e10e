//! `native-sidecar report`: what the policy would do to a cluster's pods and workloads, from
//! `kubectl get pods,deployments,... -A -o json`, counted per namespace and kind.

use std::collections::BTreeMap;
use std::io::Write as _;

use indicatif::ProgressBar;
use native_sidecar_core::{Mode, Operation, Outcome, Problem, Settings, review};
use serde_json::{Map, Value, json};

use crate::documents::{self, Source};
use crate::objects::{self, Target};
use crate::{Message, Severity};

/// What the policy makes of one object, as it would on CREATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A proxy runs as a regular container: conversion makes it a native sidecar.
    Classic,
    /// Every proxy is a native sidecar in its place: nothing to do.
    Native,
    /// A native proxy starts after an init container that needs it (or before its setup):
    /// conversion reorders the init containers.
    Misplaced,
    /// The object asks to keep its proxy classic.
    OptedOut,
    /// The policy would reject the object.
    Refused,
    /// No proxy the policy handles (no mesh, or a gateway).
    Untouched,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Classic,
        Category::Native,
        Category::Misplaced,
        Category::OptedOut,
        Category::Refused,
        Category::Untouched,
    ];

    pub fn of(outcome: &Outcome) -> Category {
        if outcome.rejection.is_some() {
            Category::Refused
        } else if outcome
            .findings
            .iter()
            .any(|f| f.problem == Problem::NotNative)
        {
            Category::Classic
        } else if !outcome.findings.is_empty() {
            Category::Misplaced
        } else if outcome.opted_out {
            Category::OptedOut
        } else if !outcome.expected_init_order.is_empty() {
            Category::Native
        } else {
            Category::Untouched
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Category::Classic => "CLASSIC",
            Category::Native => "NATIVE",
            Category::Misplaced => "MISPLACED",
            Category::OptedOut => "OPTED OUT",
            Category::Refused => "REFUSED",
            Category::Untouched => "UNTOUCHED",
        }
    }

    /// The name in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            Category::Classic => "classic",
            Category::Native => "native",
            Category::Misplaced => "misplaced",
            Category::OptedOut => "optedOut",
            Category::Refused => "refused",
            Category::Untouched => "untouched",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([usize; 6]);

impl Counts {
    pub fn get(&self, category: Category) -> usize {
        self.0[category.index()]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    fn add(&mut self, category: Category) {
        self.0[category.index()] += 1;
    }

    fn to_json(self) -> Value {
        let mut map = Map::new();
        for category in Category::ALL {
            map.insert(category.key().into(), json!(self.get(category)));
        }
        map.insert("total".into(), json!(self.total()));
        Value::Object(map)
    }
}

/// One line of the table. Columns that come from the nodes or from effective resources belong
/// here, next to the counts, so that the table and the JSON output both show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub namespace: Option<String>,
    pub kind: &'static str,
    pub counts: Counts,
}

/// An object the policy would reject, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub namespace: Option<String>,
    pub object: String,
    pub message: String,
}

/// A nodes file given with `--nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    pub file: String,
    pub count: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Sorted by namespace, then kind.
    pub rows: Vec<Row>,
    pub totals: Counts,
    pub refused: Vec<Refusal>,
    /// Objects of kinds without a pod spec, by kind.
    pub other_kinds: BTreeMap<String, usize>,
    /// Objects of kinds the tool does not know that hold a pod spec.
    pub unknown: Vec<Message>,
    /// Documents that cannot be read.
    pub errors: Vec<Message>,
    pub nodes: Option<Nodes>,
}

/// Reviews every object of `sources` as the policy would on CREATE (mutate mode), advancing
/// `progress` by one per object.
pub fn build(sources: &[Source], settings: &Settings, progress: &ProgressBar) -> Report {
    let mut settings = settings.clone();
    settings.mode = Mode::Mutate;
    let mut report = Report::default();
    let mut parsed = Vec::new();
    for source in sources {
        let mut number = 0;
        for chunk in documents::split(&source.text) {
            if chunk.body.is_none() {
                continue;
            }
            number += 1;
            match documents::parse(&source.text, &chunk) {
                Ok((_, value)) => parsed.push((source, number, value)),
                Err(e) => report.errors.push(Message {
                    severity: Severity::Unreadable,
                    file: source.name.clone(),
                    at: Some(number.to_string()),
                    object: None,
                    text: e,
                }),
            }
        }
    }
    let objects: usize = parsed
        .iter()
        .map(|(_, _, value)| match value.get("items") {
            Some(Value::Array(items)) => items.len(),
            _ => 1,
        })
        .sum();
    progress.set_length(objects as u64);
    // The time spent reading is not reviewing.
    progress.reset_elapsed();

    let mut rows: BTreeMap<(Option<String>, &'static str), Counts> = BTreeMap::new();
    for (source, number, mut value) in parsed {
        let visited = objects::visit(&mut value, number, &mut |visit| {
            progress.inc(1);
            let namespace = objects::namespace(visit.object).map(str::to_owned);
            match visit.target {
                Target::Reviewed(kind) => {
                    // The copy is thrown away, so the policy may edit it in place.
                    let outcome = review(kind, Operation::Create, visit.object, &settings);
                    let category = Category::of(&outcome);
                    if let (Category::Refused, Some(message)) = (category, outcome.rejection) {
                        report.refused.push(Refusal {
                            namespace: namespace.clone(),
                            object: format!("{}/{}", kind.name(), objects::name(visit.object)),
                            message,
                        });
                    }
                    rows.entry((namespace, kind.name()))
                        .or_default()
                        .add(category);
                    report.totals.add(category);
                }
                Target::Other => {
                    let kind = visit
                        .object
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("(no kind)");
                    *report.other_kinds.entry(kind.to_owned()).or_default() += 1;
                }
                Target::Unknown(ref text) => report.unknown.push(Message {
                    severity: Severity::Warning,
                    file: source.name.clone(),
                    at: Some(visit.at.clone()),
                    object: Some(objects::describe(visit.object, &visit.target)),
                    text: text.clone(),
                }),
            }
        });
        if let Err(e) = visited {
            report.errors.push(Message {
                severity: Severity::Unreadable,
                file: source.name.clone(),
                at: Some(number.to_string()),
                object: None,
                text: e,
            });
        }
    }
    report.rows = rows
        .into_iter()
        .map(|((namespace, kind), counts)| Row {
            namespace,
            kind,
            counts,
        })
        .collect();
    progress.finish_and_clear();
    report
}

/// Counts the nodes of a `kubectl get nodes -o json` file.
pub fn read_nodes(source: &Source) -> Result<Nodes, Message> {
    let mut count = 0;
    for chunk in documents::split(&source.text) {
        if chunk.body.is_none() {
            continue;
        }
        let (_, value) = documents::parse(&source.text, &chunk)
            .map_err(|e| Message::file(Severity::Unreadable, &source.name, e))?;
        let is_node = |v: &Value| v.get("kind").and_then(Value::as_str) == Some("Node");
        count += match value.get("items") {
            Some(Value::Array(items)) => items
                .iter()
                .filter(|item| is_node(item) || item.get("kind").is_none())
                .count(),
            _ => usize::from(is_node(&value)),
        };
    }
    Ok(Nodes {
        file: source.name.clone(),
        count,
    })
}

const MAX_LISTED: usize = 20;
const EXAMPLES: usize = 3;

impl Report {
    pub fn reviewed(&self) -> usize {
        self.totals.total()
    }

    /// The table and what follows it, for a person.
    pub fn to_text(&self) -> String {
        let mut table = tabwriter::TabWriter::new(Vec::new()).padding(3);
        let mut header = vec!["NAMESPACE", "KIND"];
        header.extend(Category::ALL.map(Category::header));
        header.push("TOTAL");
        let _ = writeln!(table, "{}", header.join("\t"));
        let mut line = |namespace: &str, kind: &str, counts: &Counts| {
            let mut cells = vec![namespace.to_owned(), kind.to_owned()];
            cells.extend(Category::ALL.map(|c| counts.get(c).to_string()));
            cells.push(counts.total().to_string());
            let _ = writeln!(table, "{}", cells.join("\t"));
        };
        for row in &self.rows {
            line(
                row.namespace.as_deref().unwrap_or("<none>"),
                row.kind,
                &row.counts,
            );
        }
        line("TOTAL", "", &self.totals);
        let mut out = table
            .into_inner()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();

        let count = |c: Category| self.totals.get(c);
        out.push_str(&format!(
            "\nConverting changes {} of {} objects: {} get native sidecars in place of classic proxies, {} have their init containers reordered; {} would be refused on create.\n",
            count(Category::Classic) + count(Category::Misplaced),
            self.reviewed(),
            count(Category::Classic),
            count(Category::Misplaced),
            count(Category::Refused),
        ));
        if !self.refused.is_empty() {
            // Refusals share a handful of causes: one line per cause, with a few examples.
            let mut causes: Vec<(&str, Vec<String>)> = Vec::new();
            for refusal in &self.refused {
                let object = match &refusal.namespace {
                    Some(namespace) => format!("{namespace}/{}", refusal.object),
                    None => refusal.object.clone(),
                };
                match causes.iter_mut().find(|(m, _)| *m == refusal.message) {
                    Some((_, objects)) => objects.push(object),
                    None => causes.push((&refusal.message, vec![object])),
                }
            }
            out.push_str(&format!("\nRefused on create ({}):\n", self.refused.len()));
            for (message, objects) in causes {
                let examples = objects.iter().take(EXAMPLES).cloned().collect::<Vec<_>>();
                let others = objects.len().saturating_sub(EXAMPLES);
                out.push_str(&format!(
                    "  {} {}: {message}\n    {}{}\n",
                    objects.len(),
                    if objects.len() == 1 {
                        "object"
                    } else {
                        "objects"
                    },
                    examples.join(", "),
                    if others > 0 {
                        format!(" and {others} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        if !self.unknown.is_empty() {
            out.push_str(&format!(
                "\nNot reviewed, kinds native-sidecar does not know ({}):\n",
                self.unknown.len()
            ));
            for message in self.unknown.iter().take(MAX_LISTED) {
                out.push_str(&format!("  {message}\n"));
            }
            more(&mut out, self.unknown.len());
        }
        if !self.other_kinds.is_empty() {
            let kinds: Vec<String> = self
                .other_kinds
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            out.push_str(&format!(
                "\nWithout a pod spec, not reviewed: {}.\n",
                kinds.join(", ")
            ));
        }
        if let Some(nodes) = &self.nodes {
            out.push_str(&format!(
                "\nNodes: {} read from {}; whether their kubelets can run native sidecars is not checked by this build.\n",
                nodes.count, nodes.file
            ));
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut value = json!({"namespace": row.namespace, "kind": row.kind});
                if let (Value::Object(map), Value::Object(counts)) =
                    (&mut value, row.counts.to_json())
                {
                    map.extend(counts);
                }
                value
            })
            .collect();
        let refused: Vec<Value> = self
            .refused
            .iter()
            .map(|r| json!({"namespace": r.namespace, "object": r.object, "message": r.message}))
            .collect();
        let listed = |messages: &[Message]| -> Vec<Value> {
            messages
                .iter()
                .map(|m| json!({"file": m.file, "document": m.at, "object": m.object, "message": m.text}))
                .collect()
        };
        json!({
            "rows": rows,
            "totals": self.totals.to_json(),
            "refused": refused,
            "otherKinds": self.other_kinds,
            "unknownKinds": listed(&self.unknown),
            "errors": listed(&self.errors),
            "nodes": self.nodes.as_ref().map(|n| json!({"file": n.file, "count": n.count, "checked": false})),
        })
    }
}

fn more(out: &mut String, total: usize) {
    if total > MAX_LISTED {
        out.push_str(&format!(
            "  ... and {} more (--output json lists them all)\n",
            total - MAX_LISTED
        ));
    }
}
