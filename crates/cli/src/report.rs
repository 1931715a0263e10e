//! `native-sidecar report`: what the policy would do to a cluster's pods and workloads, from
//! `kubectl get pods,deployments,... -A -o json`, counted per namespace and kind.

use std::collections::BTreeMap;
use std::io::Write as _;

use indicatif::ProgressBar;
use native_sidecar_core::{
    Cluster, Kind, KubeletVersion, Mode, NoCluster, Node, OnResourceIncrease, Operation, Outcome,
    Problem, Quantity, ResourceChange, Settings, Support, node_list, resource_change, review_with,
    support,
};
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
    /// Classic or misplaced, but the pod's node (or, without `spec.nodeName`, some node of the
    /// cluster) runs a kubelet too old for native sidecars: the policy leaves it as it is.
    HeldBack,
    /// The object asks to keep its proxy classic.
    OptedOut,
    /// The policy would reject the object.
    Refused,
    /// No proxy the policy handles (no mesh, or a gateway).
    Untouched,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Classic,
        Category::Native,
        Category::Misplaced,
        Category::HeldBack,
        Category::OptedOut,
        Category::Refused,
        Category::Untouched,
    ];

    pub fn of(outcome: &Outcome) -> Category {
        if outcome.rejection.is_some() {
            Category::Refused
        } else if !outcome.held_back.is_empty() {
            Category::HeldBack
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
            Category::HeldBack => "HELD BACK",
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
            Category::HeldBack => "heldBack",
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
pub struct Counts([usize; 7]);

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

    fn to_json(self, categories: &[Category]) -> Map<String, Value> {
        let mut map = Map::new();
        for &category in categories {
            map.insert(category.key().into(), json!(self.get(category)));
        }
        map.insert("total".into(), json!(self.total()));
        map
    }
}

/// What converting adds to effective requests, by resource: the sum of after minus before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added(BTreeMap<String, Quantity>);

impl Added {
    /// Adds one pod's change; whether any of its effective requests changed.
    fn add(&mut self, change: &ResourceChange) -> bool {
        let (before, after) = (&change.before.requests, &change.after.requests);
        let mut changed = false;
        for resource in after
            .keys()
            .chain(before.keys().filter(|r| !after.contains_key(*r)))
        {
            let value = |list: &BTreeMap<String, Quantity>| {
                list.get(resource).copied().unwrap_or(Quantity::ZERO)
            };
            let Some(difference) = value(after).checked_sub(&value(before)) else {
                continue;
            };
            if difference.is_zero() {
                continue;
            }
            changed = true;
            self.plus(resource, &difference);
        }
        changed
    }

    fn plus(&mut self, resource: &str, quantity: &Quantity) {
        let sum = self.0.entry(resource.to_owned()).or_insert(Quantity::ZERO);
        *sum = sum.saturating_add(quantity);
    }

    fn extend(&mut self, other: &Added) {
        for (resource, quantity) in &other.0 {
            self.plus(resource, quantity);
        }
    }

    /// The resources that changed: cpu, memory, then the others by name.
    pub fn resources(&self) -> Vec<(&str, Quantity)> {
        let mut listed: Vec<(&str, Quantity)> = self
            .0
            .iter()
            .filter(|(_, q)| !q.is_zero())
            .map(|(r, q)| (r.as_str(), *q))
            .collect();
        listed.sort_by_key(|(resource, _)| match *resource {
            "cpu" => 0,
            "memory" => 1,
            _ => 2,
        });
        listed
    }

    /// `cpu +200m, memory +128Mi`, or `-` when nothing changes.
    pub fn to_text(&self) -> String {
        let listed = self.resources();
        if listed.is_empty() {
            return "-".to_owned();
        }
        listed
            .iter()
            .map(|(resource, q)| {
                let sign = if q.is_negative() { "" } else { "+" };
                format!("{resource} {sign}{q}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn to_json(&self) -> Value {
        Value::Object(
            self.resources()
                .into_iter()
                .map(|(resource, q)| (resource.to_owned(), json!(q.to_string())))
                .collect(),
        )
    }
}

/// One line of the table. Columns that come from the nodes or from effective resources belong
/// here, next to the counts, so that the table and the JSON output both show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub namespace: Option<String>,
    pub kind: &'static str,
    pub counts: Counts,
    /// What converting adds to the effective requests of the row's Pods; `None` for workloads,
    /// whose pods ResourceQuota counts as Pods.
    pub added: Option<Added>,
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
    pub list: Vec<Node>,
}

/// The nodes at a glance, by the policy's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSummary {
    pub file: String,
    pub count: usize,
    pub minimum: KubeletVersion,
    /// Nodes whose kubelet is older than `minimum` or reports no version.
    pub below_minimum: usize,
    /// The node with the lowest kubelet version (an unreadable one counts lowest).
    pub oldest: Option<Node>,
    /// Whether a new pod without `spec.nodeName` gets native sidecars: the rule with every node
    /// deciding.
    pub new_pods_native: bool,
}

impl NodeSummary {
    pub fn of(nodes: &Nodes, minimum: KubeletVersion) -> NodeSummary {
        let cluster = support(&nodes.list, None, minimum);
        let below_minimum = match &cluster {
            Support::Native => 0,
            Support::TooOld { too_old, .. } => *too_old,
        };
        // The rule's own order: an unreadable version sorts below every version.
        let oldest = nodes
            .list
            .iter()
            .min_by_key(|node| KubeletVersion::from_kubelet(&node.kubelet_version))
            .cloned();
        NodeSummary {
            file: nodes.file.clone(),
            count: nodes.list.len(),
            minimum,
            below_minimum,
            oldest,
            new_pods_native: cluster == Support::Native,
        }
    }

    fn to_text(&self) -> String {
        let Some(oldest) = &self.oldest else {
            return format!(
                "\nNodes: none in {}. New pods get native sidecars: with no nodes, the policy makes them.\n",
                self.file
            );
        };
        let name = if oldest.name.is_empty() {
            "a node without a name".to_owned()
        } else {
            oldest.name.clone()
        };
        let version = match oldest.kubelet_version.as_str() {
            "" => "no kubelet version".to_owned(),
            text if KubeletVersion::from_kubelet(text).is_none() => {
                let shown: String = text.chars().take(40).collect();
                let cut = if shown.len() < text.len() { "..." } else { "" };
                format!("kubelet \"{shown}{cut}\", not a version")
            }
            text => format!("kubelet {text}"),
        };
        let (count, file, minimum) = (self.count, &self.file, self.minimum);
        let nodes = if count == 1 { "node" } else { "nodes" };
        let below = match self.below_minimum {
            0 => format!("all at kubelet {minimum} (minKubeletVersion) or later"),
            n => format!("{n} older than minKubeletVersion {minimum}"),
        };
        let new_pods = if self.new_pods_native {
            "New pods without spec.nodeName get native sidecars.".to_owned()
        } else {
            format!(
                "New pods without spec.nodeName (every pod a workload creates) get no native sidecars until every node runs kubelet {minimum} or later; a Pod whose spec.nodeName names a newer node gets them."
            )
        };
        format!(
            "\nNodes: {count} {nodes} in {file}, {below}; the oldest is {name} ({version}).\n{new_pods}\n"
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "file": self.file,
            "count": self.count,
            "minKubeletVersion": self.minimum.to_string(),
            "belowMinimum": self.below_minimum,
            "oldest": self.oldest.as_ref().map(|n| json!({"name": n.name, "kubeletVersion": n.kubelet_version})),
            "newPodsGetNativeSidecars": self.new_pods_native,
        })
    }
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
    /// Null documents and List items, which hold no object.
    pub passed_over: Vec<Message>,
    /// What converting adds to the effective requests of every Pod.
    pub added: Added,
    /// How many Pods' effective requests converting changes.
    pub pods_added_to: usize,
    /// With `--nodes`.
    pub nodes: Option<NodeSummary>,
}

/// Reviews every object of `sources` as the policy would on CREATE (mutate mode), advancing
/// `progress` by one per object. With `nodes`, node checking is on and they are the cluster, so
/// what the policy holds back on old nodes is counted apart; without, every node is taken to run
/// native sidecars.
pub fn build(
    sources: &[Source],
    settings: &Settings,
    nodes: Option<Nodes>,
    progress: &ProgressBar,
) -> Report {
    let mut settings = settings.clone();
    settings.mode = Mode::Mutate;
    settings.check_nodes = nodes.is_some();
    // With `ignore` the policy computes no cost; the report computes it from the edited copy.
    let ignore = settings.on_resource_increase == OnResourceIncrease::Ignore;
    let mut report = Report {
        nodes: nodes
            .as_ref()
            .map(|n| NodeSummary::of(n, settings.min_kubelet_version)),
        ..Report::default()
    };
    let mut list = nodes.map(|n| n.list);
    let cluster: &mut dyn Cluster = match &mut list {
        Some(list) => list,
        None => &mut NoCluster,
    };
    let mut parsed = Vec::new();
    for source in sources {
        for (number, value) in documents::read(source) {
            match value {
                Ok(value) => parsed.push((source, number, value)),
                Err(message) => report.errors.push(message),
            }
        }
    }
    let objects: usize = parsed
        .iter()
        .map(|(_, _, value)| match value.get("items") {
            Some(Value::Array(items)) => items.iter().filter(|item| !item.is_null()).count(),
            _ => 1,
        })
        .sum();
    progress.set_length(objects as u64);
    // The time spent reading is not reviewing.
    progress.reset_elapsed();

    let mut rows: BTreeMap<(Option<String>, &'static str), (Counts, Added)> = BTreeMap::new();
    for (source, number, mut value) in parsed {
        let told = objects::visit(&mut value, &source.name, number, &mut |visit| {
            progress.inc(1);
            let namespace = objects::namespace(visit.object).map(str::to_owned);
            match visit.target {
                Target::Reviewed(kind) => {
                    // ResourceQuota counts pods, not the templates they come from.
                    let pod = kind == Kind::Pod;
                    let original = (pod && ignore).then(|| visit.object.clone());
                    // The copy is thrown away, so the policy may edit it in place.
                    let mut outcome =
                        review_with(kind, Operation::Create, visit.object, &settings, cluster);
                    if let (Some(original), true) = (original, outcome.changed) {
                        outcome.resources = Some(resource_change(kind, &original, visit.object));
                    }
                    let category = Category::of(&outcome);
                    let (counts, added) = rows.entry((namespace.clone(), kind.name())).or_default();
                    counts.add(category);
                    report.totals.add(category);
                    // A refused pod is not converted: it adds nothing.
                    if let (true, None, Some(change)) =
                        (pod, &outcome.rejection, &outcome.resources)
                        && added.add(change)
                    {
                        report.pods_added_to += 1;
                    }
                    if let (Category::Refused, Some(message)) = (category, outcome.rejection) {
                        report.refused.push(Refusal {
                            namespace,
                            object: format!("{}/{}", kind.name(), objects::name(visit.object)),
                            message,
                        });
                    }
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
        for message in told {
            match message.severity {
                Severity::Unreadable => report.errors.push(message),
                _ => report.passed_over.push(message),
            }
        }
    }
    report.rows = rows
        .into_iter()
        .map(|((namespace, kind), (counts, added))| {
            report.added.extend(&added);
            Row {
                namespace,
                kind,
                counts,
                added: (kind == Kind::Pod.name()).then_some(added),
            }
        })
        .collect();
    progress.finish_and_clear();
    report
}

/// Reads the nodes of a `kubectl get nodes -o json` file (YAML too): a List or NodeList of
/// Nodes, or single Nodes, with the policy's own parser.
pub fn read_nodes(source: &Source) -> Result<Nodes, Message> {
    let mut list = Vec::new();
    for (number, value) in documents::read(source) {
        let value = value?;
        let kind = |v: &Value| v.get("kind").and_then(Value::as_str).map(str::to_owned);
        let nodes = match (kind(&value).as_deref(), value.get("items")) {
            (Some("Node"), _) => node_list(&json!({"items": [value]})),
            (_, Some(Value::Array(items))) => {
                let other = items.iter().enumerate().find_map(|(at, item)| {
                    kind(item)
                        .filter(|k| k != "Node")
                        .map(|k| format!("items[{at}] is a {k}, not a Node"))
                });
                match other {
                    Some(text) => Err(text),
                    None => node_list(&value),
                }
            }
            (found, _) => Err(format!(
                "the document is {}, not a node list",
                found.map_or("not a Kubernetes list".to_owned(), |k| format!("a {k}"))
            )),
        };
        list.extend(nodes.map_err(|text| {
            Message::unreadable(
                &source.name,
                number,
                format!("{text}: --nodes reads what `kubectl get nodes -o json` prints"),
            )
        })?);
    }
    Ok(Nodes {
        file: source.name.clone(),
        list,
    })
}

const MAX_LISTED: usize = 20;
const EXAMPLES: usize = 3;

impl Report {
    pub fn reviewed(&self) -> usize {
        self.totals.total()
    }

    /// The columns: held back only when the nodes were checked.
    fn categories(&self) -> Vec<Category> {
        Category::ALL
            .into_iter()
            .filter(|c| *c != Category::HeldBack || self.nodes.is_some())
            .collect()
    }

    /// The table and what follows it, for a person.
    pub fn to_text(&self) -> String {
        let categories = self.categories();
        let mut table = tabwriter::TabWriter::new(Vec::new()).padding(3);
        let mut header = vec!["NAMESPACE", "KIND"];
        header.extend(categories.iter().map(|c| c.header()));
        header.extend(["TOTAL", "ADDED REQUESTS"]);
        let _ = writeln!(table, "{}", header.join("\t"));
        let mut line = |namespace: &str, kind: &str, counts: &Counts, added: Option<&Added>| {
            let mut cells = vec![namespace.to_owned(), kind.to_owned()];
            cells.extend(categories.iter().map(|c| counts.get(*c).to_string()));
            cells.push(counts.total().to_string());
            cells.push(added.map_or("n/a".to_owned(), Added::to_text));
            let _ = writeln!(table, "{}", cells.join("\t"));
        };
        for row in &self.rows {
            line(
                row.namespace.as_deref().unwrap_or("<none>"),
                row.kind,
                &row.counts,
                row.added.as_ref(),
            );
        }
        line("TOTAL", "", &self.totals, Some(&self.added));
        let mut out = table
            .into_inner()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();

        let count = |c: Category| self.totals.get(c);
        let held_back = match self.nodes {
            Some(_) => format!("; {} are held back by old nodes", count(Category::HeldBack)),
            None => String::new(),
        };
        out.push_str(&format!(
            "\nConverting changes {} of {} objects: {} get native sidecars in place of classic proxies, {} have their init containers reordered{held_back}; {} would be refused on create.\n",
            count(Category::Classic) + count(Category::Misplaced),
            self.reviewed(),
            count(Category::Classic),
            count(Category::Misplaced),
            count(Category::Refused),
        ));
        let pods = match self.pods_added_to {
            0 => "no Pod's effective requests".to_owned(),
            1 => format!("the effective requests of 1 Pod: {}", self.added.to_text()),
            n => format!(
                "the effective requests of {n} Pods: {} in all",
                self.added.to_text()
            ),
        };
        out.push_str(&format!(
            "Converting changes {pods} (ADDED REQUESTS counts Pods only: ResourceQuota counts pods, not the templates of workloads).\n"
        ));
        if let Some(nodes) = &self.nodes {
            out.push_str(&nodes.to_text());
        }
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
        list(
            &mut out,
            "Not reviewed, kinds native-sidecar does not know",
            &self.unknown,
        );
        list(&mut out, "Passed over, no object", &self.passed_over);
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
        out
    }

    pub fn to_json(&self) -> Value {
        let categories = self.categories();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut map = Map::new();
                map.insert("namespace".into(), json!(row.namespace));
                map.insert("kind".into(), json!(row.kind));
                map.extend(row.counts.to_json(&categories));
                map.insert(
                    "addedRequests".into(),
                    row.added.as_ref().map_or(Value::Null, Added::to_json),
                );
                Value::Object(map)
            })
            .collect();
        let mut totals = self.totals.to_json(&categories);
        totals.insert("addedRequests".into(), self.added.to_json());
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
            "totals": totals,
            "podsWithAddedRequests": self.pods_added_to,
            "refused": refused,
            "otherKinds": self.other_kinds,
            "unknownKinds": listed(&self.unknown),
            "errors": listed(&self.errors),
            "passedOver": listed(&self.passed_over),
            "nodes": self.nodes.as_ref().map(NodeSummary::to_json),
        })
    }
}

/// `title (N):` and the first messages, one a line; nothing when there are none.
fn list(out: &mut String, title: &str, messages: &[Message]) {
    if messages.is_empty() {
        return;
    }
    out.push_str(&format!("\n{title} ({}):\n", messages.len()));
    for message in messages.iter().take(MAX_LISTED) {
        out.push_str(&format!("  {message}\n"));
    }
    more(out, messages.len());
}

fn more(out: &mut String, total: usize) {
    if total > MAX_LISTED {
        out.push_str(&format!(
            "  ... and {} more (--output json lists them all)\n",
            total - MAX_LISTED
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use native_sidecar_core::PodResources;
    use rstest::rstest;

    fn requests(list: &[(&str, &str)]) -> PodResources {
        PodResources {
            requests: list
                .iter()
                .map(|(r, q)| ((*r).to_owned(), Quantity::parse(q).unwrap()))
                .collect(),
            limits: BTreeMap::new(),
        }
    }

    fn change(before: &[(&str, &str)], after: &[(&str, &str)]) -> ResourceChange {
        ResourceChange {
            before: requests(before),
            after: requests(after),
            ..ResourceChange::default()
        }
    }

    #[test]
    fn added_requests_are_summed_per_resource() {
        let mut added = Added::default();
        assert_eq!(added.to_text(), "-");
        assert!(added.add(&change(
            &[("cpu", "2"), ("memory", "1Gi")],
            &[("cpu", "2100m"), ("memory", "1152Mi")]
        )));
        assert!(!added.add(&change(&[("cpu", "600m")], &[("cpu", "600m")])));
        assert!(added.add(&change(
            &[("cpu", "1"), ("ephemeral-storage", "10Gi")],
            &[
                ("cpu", "1100m"),
                ("ephemeral-storage", "11Gi"),
                ("memory", "64Mi")
            ]
        )));
        assert_eq!(
            added.to_text(),
            "cpu +200m, memory +192Mi, ephemeral-storage +1Gi"
        );
        assert_eq!(
            added.to_json(),
            json!({"cpu": "200m", "memory": "192Mi", "ephemeral-storage": "1Gi"})
        );
        // A resource that only the pod before had counts as falling to zero.
        assert!(added.add(&change(&[("nvidia.com/gpu", "1")], &[])));
        assert_eq!(
            added.to_text(),
            "cpu +200m, memory +192Mi, ephemeral-storage +1Gi, nvidia.com/gpu -1"
        );
    }

    fn nodes(list: &[(&str, &str)]) -> Nodes {
        Nodes {
            file: "nodes.json".into(),
            list: list.iter().map(|(n, v)| Node::new(n, v)).collect(),
        }
    }

    #[rstest]
    #[case::none(&[], "\nNodes: none in nodes.json. New pods get native sidecars: with no nodes, the policy makes them.\n")]
    #[case::one_new(&[("cp", "v1.33.0")], "\nNodes: 1 node in nodes.json, all at kubelet 1.33 (minKubeletVersion) or later; the oldest is cp (kubelet v1.33.0).\nNew pods without spec.nodeName get native sidecars.\n")]
    #[case::oldest_of_two(&[("a", "v1.34.1"), ("b", "v1.30.2-eks-1"), ("c", "v1.29.0+k3s1")], "\nNodes: 3 nodes in nodes.json, 2 older than minKubeletVersion 1.33; the oldest is c (kubelet v1.29.0+k3s1).\nNew pods without spec.nodeName (every pod a workload creates) get no native sidecars until every node runs kubelet 1.33 or later; a Pod whose spec.nodeName names a newer node gets them.\n")]
    #[case::no_version(&[("a", "v1.34.1"), ("", "")], "\nNodes: 2 nodes in nodes.json, 1 older than minKubeletVersion 1.33; the oldest is a node without a name (no kubelet version).\nNew pods without spec.nodeName (every pod a workload creates) get no native sidecars until every node runs kubelet 1.33 or later; a Pod whose spec.nodeName names a newer node gets them.\n")]
    #[case::garbage(&[("a", "v1.34.1"), ("b", "garbage")], "\nNodes: 2 nodes in nodes.json, 1 older than minKubeletVersion 1.33; the oldest is b (kubelet \"garbage\", not a version).\nNew pods without spec.nodeName (every pod a workload creates) get no native sidecars until every node runs kubelet 1.33 or later; a Pod whose spec.nodeName names a newer node gets them.\n")]
    fn node_summaries(#[case] list: &[(&str, &str)], #[case] text: &str) {
        let summary = NodeSummary::of(&nodes(list), KubeletVersion::DEFAULT_MINIMUM);
        assert_eq!(summary.to_text(), text);
    }

    #[test]
    fn the_minimum_decides_which_nodes_are_old() {
        let list = nodes(&[("a", "v1.34.1"), ("b", "v1.31.4")]);
        let strict = NodeSummary::of(&list, KubeletVersion::DEFAULT_MINIMUM);
        assert_eq!((strict.below_minimum, strict.new_pods_native), (1, false));
        let lenient = NodeSummary::of(&list, KubeletVersion::new(1, 31));
        assert_eq!((lenient.below_minimum, lenient.new_pods_native), (0, true));
        assert_eq!(lenient.oldest, Some(Node::new("b", "v1.31.4")));
    }

    #[rstest]
    #[case::node_list("{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"kind\": \"Node\", \"metadata\": {\"name\": \"a\"}, \"status\": {\"nodeInfo\": {\"kubeletVersion\": \"v1.34.1\"}}}]}", Ok(vec![Node::new("a", "v1.34.1")]))]
    #[case::yaml_nodes("kind: Node\nmetadata: {name: a}\nstatus:\n  nodeInfo:\n    kubeletVersion: v1.34.1\n---\nkind: Node\nmetadata: {name: b}\n", Ok(vec![Node::new("a", "v1.34.1"), Node::new("b", "")]))]
    #[case::typed_list("kind: NodeList\nitems:\n- metadata: {name: a}\n", Ok(vec![Node::new("a", "")]))]
    #[case::pods(
        "{\"kind\": \"List\", \"items\": [{\"kind\": \"Node\"}, {\"kind\": \"Pod\"}]}",
        Err(
            "nodes.json:1: items[1] is a Pod, not a Node: --nodes reads what `kubectl get nodes -o json` prints"
        )
    )]
    #[case::pod(
        "kind: Pod\nmetadata: {name: a}\n",
        Err(
            "nodes.json:1: the document is a Pod, not a node list: --nodes reads what `kubectl get nodes -o json` prints"
        )
    )]
    #[case::empty_then_list(
        "---\n# nothing\n---\n- a\n",
        Err(
            "nodes.json:1: the document is not a Kubernetes list, not a node list: --nodes reads what `kubectl get nodes -o json` prints"
        )
    )]
    #[case::bad_version(
        "kind: List\nitems:\n- status: {nodeInfo: {kubeletVersion: 1.33}}\n",
        Err(
            "nodes.json:1: not a node list: invalid type: floating point `1.33`, expected a string: --nodes reads what `kubectl get nodes -o json` prints"
        )
    )]
    #[case::syntax(
        "kind: List\nitems: [\n",
        Err(
            "nodes.json:1: YAML syntax error at line 3, column 1: while parsing a flow node, did not find expected node content"
        )
    )]
    fn nodes_files(#[case] text: &str, #[case] expected: Result<Vec<Node>, &str>) {
        let read = read_nodes(&Source::new("nodes.json", text));
        assert_eq!(
            read.map(|n| n.list).map_err(|m| m.to_string()),
            expected.map_err(str::to_owned)
        );
    }
}
