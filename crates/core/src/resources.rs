//! What a pod costs: its effective requests and limits per resource, as the scheduler, ResourceQuota
//! and LimitRange count them (`PodRequests` and `PodLimits` in k8s.io/component-helpers/resource),
//! and what a conversion or reorder changes in them.
//!
//! A native sidecar runs beside every init container after it (KEP-753), so per resource:
//! `max(max over init containers i of (i + sidecars before i), containers + sidecars)`, then
//! pod-level `spec.resources` for cpu, memory and hugepages where set, then `spec.overhead`. The
//! values are read as the API server stores them: requests default to limits, every value rounds
//! up to a milli-unit, pod-level requests default from pod-level limits. Nothing here knows a
//! mesh: it compares two versions of a pod spec.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::describe::{and_list, describe, join};
use crate::path;
use crate::quantity::Quantity;
use crate::settings::OnResourceIncrease;
use crate::workload::Kind;

/// Quantities by resource name (`v1.ResourceList`).
pub type ResourceList = BTreeMap<String, Quantity>;

/// A pod's effective requests and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodResources {
    pub requests: ResourceList,
    pub limits: ResourceList,
}

impl PodResources {
    fn list(&self, bound: Bound) -> &ResourceList {
        match bound {
            Bound::Request => &self.requests,
            Bound::Limit => &self.limits,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Request,
    Limit,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Request => "request",
            Bound::Limit => "limit",
        }
    }
}

/// A resource whose effective value the change raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rise {
    pub resource: String,
    pub bound: Bound,
    /// Zero when the pod had no value for the resource.
    pub before: Quantity,
    pub after: Quantity,
    /// The warning: which init container now runs beside which sidecars.
    pub message: String,
}

/// The effective resources of a pod spec before and after the policy's change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceChange {
    pub before: PodResources,
    pub after: PodResources,
    pub rises: Vec<Rise>,
    /// Rises the API server refuses: the containers' aggregate passes pod-level `spec.resources`.
    pub refusals: Vec<String>,
    /// Values that are not quantities (or are negative), left out of the sums.
    pub problems: Vec<String>,
}

impl ResourceChange {
    /// The warnings for a change the policy makes: bad values first, then one per rise.
    pub fn warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.problems
            .iter()
            .cloned()
            .chain(self.rises.iter().map(|r| r.message.clone()))
    }

    /// What validate mode adds to its rejection: what converting would cost.
    pub fn cost(&self) -> String {
        self.refusals
            .iter()
            .chain(self.rises.iter().map(|r| &r.message))
            .map(|sentence| {
                let mut chars = sentence.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase());
                format!(
                    ". {}{}",
                    first.map(String::from).unwrap_or_default(),
                    chars.as_str()
                )
            })
            .collect()
    }

    fn rejection(&self, setting: OnResourceIncrease) -> Option<String> {
        if !self.refusals.is_empty() {
            return Some(join(&self.refusals, ". "));
        }
        (setting == OnResourceIncrease::Reject && !self.rises.is_empty()).then(|| {
            format!(
                "{}. onResourceIncrease is \"reject\": lower the init container's resources, or set onResourceIncrease to \"warn\" to convert such pods",
                join(self.rises.iter().map(|r| &r.message), ". ")
            )
        })
    }
}

/// The effective resources of `before` and `after`, two versions of an object of `kind`, and what
/// rose. Problems are those of `before`.
pub fn resource_change(kind: Kind, before: &Value, after: &Value) -> ResourceChange {
    Before::read(kind, before).compare(kind, after)
}

/// What accounting for mutate mode's edit decided.
pub(crate) enum Accounted {
    /// Not counted (`onResourceIncrease: ignore`, or nothing changes): whether the object changed.
    Uncounted(bool),
    /// The edit stands: what it changed in the resources, and whether the object changed.
    Made(ResourceChange, bool),
    /// The edit is refused and undone: what it would have changed, and the refusal.
    Refused(ResourceChange, String),
}

/// Runs `edit` (mutate mode's conversion, which changes something when `changes`) with the
/// resources accounted as `setting` says; a refused edit leaves the object as it came.
pub(crate) fn apply(
    kind: Kind,
    object: &mut Value,
    setting: OnResourceIncrease,
    changes: bool,
    edit: impl FnOnce(&mut Value) -> bool,
) -> Accounted {
    if setting == OnResourceIncrease::Ignore || !changes {
        return Accounted::Uncounted(edit(object));
    }
    let before = Before::read(kind, object);
    // Only a reject setting or pod-level resources can refuse: then keep a copy to restore.
    let original = (setting == OnResourceIncrease::Reject || before.pod_level.is_some())
        .then(|| object.clone());
    let changed = edit(object);
    let change = before.compare(kind, object);
    match (change.rejection(setting), original) {
        (Some(message), Some(original)) => {
            *object = original;
            Accounted::Refused(change, message)
        }
        _ => Accounted::Made(change, changed),
    }
}

/// Validate mode: what converting would cost, computed on a copy that `convert` edits as mutate
/// mode would; `None` with `onResourceIncrease: ignore`.
pub(crate) fn cost(
    kind: Kind,
    object: &Value,
    setting: OnResourceIncrease,
    convert: impl FnOnce(&mut Value),
) -> Option<ResourceChange> {
    if setting == OnResourceIncrease::Ignore {
        return None;
    }
    let mut converted = object.clone();
    convert(&mut converted);
    Some(resource_change(kind, object, &converted))
}

type List<'a> = Vec<(&'a str, Quantity)>;

/// Quantities by resource name, in insertion order. A pod names a handful of resources: a list
/// searched in place is faster than a map, and keeps the module smaller.
#[derive(Clone, Default)]
struct Sum<'a>(List<'a>);

impl<'a> Sum<'a> {
    fn new() -> Sum<'a> {
        Sum(Vec::new())
    }

    fn get(&self, resource: &str) -> Option<&Quantity> {
        self.0.iter().find(|(k, _)| *k == resource).map(|(_, q)| q)
    }

    fn get_mut(&mut self, resource: &str) -> Option<&mut Quantity> {
        self.0
            .iter_mut()
            .find(|(k, _)| *k == resource)
            .map(|(_, q)| q)
    }

    fn contains_key(&self, resource: &str) -> bool {
        self.get(resource).is_some()
    }

    fn insert(&mut self, resource: &'a str, quantity: Quantity) {
        match self.get_mut(resource) {
            Some(current) => *current = quantity,
            None => self.0.push((resource, quantity)),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> std::slice::Iter<'_, (&'a str, Quantity)> {
        self.0.iter()
    }
}

impl<'s, 'a> IntoIterator for &'s Sum<'a> {
    type Item = &'s (&'a str, Quantity);
    type IntoIter = std::slice::Iter<'s, (&'a str, Quantity)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One container's requests and limits, as the API server stores them.
struct Entry<'v> {
    /// Read for init containers only.
    name: Option<&'v str>,
    sidecar: bool,
    requests: List<'v>,
    limits: List<'v>,
}

impl<'v> Entry<'v> {
    fn list(&self, bound: Bound) -> &List<'v> {
        match bound {
            Bound::Request => &self.requests,
            Bound::Limit => &self.limits,
        }
    }

    fn value(&self, bound: Bound, resource: &str) -> Option<Quantity> {
        self.list(bound)
            .iter()
            .find(|(name, _)| *name == resource)
            .map(|(_, q)| *q)
    }
}

/// The parts of a pod spec the formula reads.
struct Spec<'v> {
    containers: Vec<Entry<'v>>,
    init: Vec<Entry<'v>>,
    overhead: List<'v>,
    /// `spec.resources`, when it is an object: requests and limits as written.
    pod: Option<(List<'v>, List<'v>)>,
}

/// Pod-level requests and limits after the API server's defaulting.
#[derive(Clone)]
struct PodLevel<'a> {
    requests: Sum<'a>,
    limits: Sum<'a>,
}

/// The totals of one pod spec.
struct Totals<'a> {
    /// The containers' aggregate (`AggregateContainerRequests`/`Limits`), without pod-level values.
    aggregate: [Sum<'a>; 2],
    pod_level: Option<PodLevel<'a>>,
    effective: [Sum<'a>; 2],
}

const BOUNDS: [Bound; 2] = [Bound::Request, Bound::Limit];

/// What is kept of the pod spec before the edit, owned: the object changes in between.
struct Before {
    spec_path: &'static str,
    /// The containers' aggregate; `None` when it is `effective` (no pod-level values, no overhead).
    aggregate: Option<PodResources>,
    pod_level: Option<PodResources>,
    effective: PodResources,
    /// Init container names and whether each is a sidecar, in order.
    init: Vec<(Option<String>, bool)>,
    problems: Vec<String>,
}

impl Before {
    fn read(kind: Kind, object: &Value) -> Before {
        let mut problems = Vec::new();
        let spec = Spec::read(
            path::at(object, kind.spec_pointer()),
            kind.spec_path(),
            &mut problems,
        );
        let totals = totals(&spec, None);
        let pod_level = totals
            .pod_level
            .as_ref()
            .map(|p| pod_resources(&p.requests, &p.limits));
        Before {
            spec_path: kind.spec_path(),
            aggregate: (pod_level.is_some() || !spec.overhead.is_empty())
                .then(|| pod_resources(&totals.aggregate[0], &totals.aggregate[1])),
            pod_level,
            effective: pod_resources(&totals.effective[0], &totals.effective[1]),
            init: spec
                .init
                .iter()
                .map(|e| (e.name.map(str::to_owned), e.sidecar))
                .collect(),
            problems,
        }
    }

    fn compare(self, kind: Kind, after: &Value) -> ResourceChange {
        let spec = Spec::read(
            path::at(after, kind.spec_pointer()),
            kind.spec_path(),
            &mut Vec::new(),
        );
        // A Pod is defaulted before any admission webhook: its pod-level values stay those of the
        // spec as it came in. A template's pods are defaulted from the template as it is stored.
        let kept = self
            .pod_level
            .as_ref()
            .filter(|_| kind == Kind::Pod)
            .map(|p| PodLevel {
                requests: borrowed(&p.requests),
                limits: borrowed(&p.limits),
            });
        let totals = totals(&spec, kept);
        let explain = Explainer {
            before: &self,
            spec: &spec,
        };
        let after = pod_resources(&totals.effective[0], &totals.effective[1]);
        // What rose: resource, bound, before, after, and the aggregate the formula reached.
        let mut rose = Vec::new();
        for (at, bound) in BOUNDS.into_iter().enumerate() {
            let was = self.effective.list(bound);
            for (resource, now) in after.list(bound) {
                let before = was.get(resource).copied().unwrap_or(Quantity::ZERO);
                if now.cmp_value(&before).is_gt() {
                    let reach = totals.aggregate[at].get(resource).copied().unwrap_or(*now);
                    rose.push((resource, bound, before, *now, reach));
                }
            }
        }
        let refused = totals
            .pod_level
            .as_ref()
            .map(|pod| self.refused(&totals.aggregate, pod))
            .unwrap_or_default();
        let subject = if rose.is_empty() && refused.is_empty() {
            String::new()
        } else {
            explain.subject()
        };
        let rises = rose
            .into_iter()
            .map(|(resource, bound, before, now, reach)| Rise {
                resource: resource.clone(),
                bound,
                before,
                after: now,
                message: format!(
                    "{subject} raises the pod's effective {resource} {} from {before} to {now}{}; {}",
                    bound.as_str(),
                    explain.beside(bound, resource, reach),
                    match bound {
                        Bound::Request => {
                            "ResourceQuota, LimitRange and scheduling count the new value"
                        }
                        Bound::Limit => "ResourceQuota and LimitRange count the new value",
                    }
                ),
            })
            .collect();
        let refusals = refused
            .into_iter()
            .map(|(resource, bound, before, now, ceiling)| {
                let field = format!(
                    "{}.resources.{}s[{resource}]",
                    self.spec_path,
                    bound.as_str()
                );
                format!(
                    "{subject} raises the containers' aggregate {resource} {} from {before} to {now}, above {field} ({ceiling}), which the API server refuses{}; raise {field} to at least {now}",
                    bound.as_str(),
                    explain.beside(bound, resource, now),
                )
            })
            .collect();
        let Before {
            effective: before,
            problems,
            ..
        } = self;
        ResourceChange {
            before,
            after,
            rises,
            refusals,
            problems,
        }
    }

    /// `validatePodResourceConsistency`: pod-level requests must cover the containers' aggregate
    /// requests, pod-level hugepage limits their aggregate limits. Only what the change breaks:
    /// (resource, bound, aggregate before, after, pod-level value).
    fn refused<'a>(
        &self,
        aggregate: &[Sum<'a>; 2],
        pod: &PodLevel,
    ) -> Vec<(&'a str, Bound, Quantity, Quantity, Quantity)> {
        let mut found = Vec::new();
        for (at, bound) in BOUNDS.into_iter().enumerate() {
            let ceilings = match bound {
                Bound::Request => &pod.requests,
                Bound::Limit => &pod.limits,
            };
            for &(resource, now) in &aggregate[at] {
                let checked = match bound {
                    Bound::Request => pod_level_resource(resource),
                    Bound::Limit => resource.starts_with(HUGE_PAGES),
                };
                let Some(&ceiling) = ceilings.get(resource).filter(|_| checked) else {
                    continue;
                };
                let before = self
                    .aggregate
                    .as_ref()
                    .unwrap_or(&self.effective)
                    .list(bound)
                    .get(resource)
                    .copied()
                    .unwrap_or(Quantity::ZERO);
                let ceiling_before = self
                    .pod_level
                    .as_ref()
                    .and_then(|p| p.list(bound).get(resource).copied());
                let was_within = ceiling_before.is_none_or(|c| before.cmp_value(&c).is_le());
                if now.cmp_value(&ceiling).is_gt() && was_within {
                    found.push((resource, bound, before, now, ceiling));
                }
            }
        }
        found
    }
}

fn pod_resources(requests: &Sum, limits: &Sum) -> PodResources {
    PodResources {
        requests: owned(requests),
        limits: owned(limits),
    }
}

fn owned(sum: &Sum) -> ResourceList {
    // Inserted one by one: collecting would sort first, which costs the module a sort.
    let mut list = ResourceList::new();
    for &(resource, quantity) in sum {
        list.insert(resource.to_owned(), quantity);
    }
    list
}

fn borrowed(list: &ResourceList) -> Sum<'_> {
    Sum(list.iter().map(|(k, q)| (k.as_str(), *q)).collect())
}

/// Says which init container a value comes from, and which sidecars newly run beside it.
struct Explainer<'a, 'v> {
    before: &'a Before,
    spec: &'a Spec<'v>,
}

impl Explainer<'_, '_> {
    /// "converting a and b", for the sidecars that were regular containers; else a reorder. The
    /// policy makes sidecars only of regular containers, so those are the sidecars that are new.
    fn subject(&self) -> String {
        let converted: Vec<&str> = self
            .spec
            .init
            .iter()
            .filter(|e| e.sidecar)
            .filter_map(|e| e.name)
            .filter(|name| {
                !self
                    .before
                    .init
                    .iter()
                    .any(|(n, sidecar)| *sidecar && n.as_deref() == Some(*name))
            })
            .collect();
        if converted.is_empty() {
            "reordering the init containers".to_owned()
        } else {
            format!("converting {}", and_list(&converted))
        }
    }

    /// `: init container "x" (2) now runs beside p (100m)`, for the first init container whose
    /// term of the formula reaches `reach`; empty when none does.
    fn beside(&self, bound: Bound, resource: &str, reach: Quantity) -> String {
        let mut sidecars = Quantity::ZERO;
        for (at, entry) in self.spec.init.iter().enumerate() {
            let own = entry.value(bound, resource);
            if entry.sidecar {
                sidecars = sidecars.saturating_add(&own.unwrap_or(Quantity::ZERO));
                continue;
            }
            let Some(own) = own else { continue };
            if own.saturating_add(&sidecars).cmp_value(&reach).is_ne() {
                continue;
            }
            let earlier = self.sidecars_before_in_before(entry.name);
            let newly: Vec<String> = self.spec.init[..at]
                .iter()
                .filter(|e| e.sidecar && !earlier.contains(&e.name))
                .filter_map(|e| {
                    let value = e.value(bound, resource).filter(|q| !q.is_zero())?;
                    Some(format!(
                        "{} ({value})",
                        e.name.unwrap_or("a nameless sidecar")
                    ))
                })
                .collect();
            if newly.is_empty() {
                return String::new();
            }
            let who = match entry.name {
                Some(name) => format!("\"{name}\""),
                None => format!("initContainers[{at}]"),
            };
            return format!(
                ": init container {who} ({own}) now runs beside {}",
                and_list(&newly)
            );
        }
        String::new()
    }

    /// The sidecars that started before the init container `name` in the spec as it came in.
    fn sidecars_before_in_before(&self, name: Option<&str>) -> Vec<Option<&str>> {
        let Some(name) = name else {
            return Vec::new();
        };
        let init = &self.before.init;
        let at = init
            .iter()
            .position(|(n, sidecar)| !sidecar && n.as_deref() == Some(name))
            .unwrap_or(0);
        init[..at]
            .iter()
            .filter(|(_, sidecar)| *sidecar)
            .map(|(n, _)| n.as_deref())
            .collect()
    }
}

const HUGE_PAGES: &str = "hugepages-";

/// `IsSupportedPodLevelResource`: what pod-level `spec.resources` may set.
fn pod_level_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory") || name.starts_with(HUGE_PAGES)
}

impl<'v> Spec<'v> {
    fn read(spec: Option<&'v Value>, path: &str, problems: &mut Vec<String>) -> Spec<'v> {
        let entries = |key: &str, problems: &mut Vec<String>| -> Vec<Entry<'v>> {
            let Some(Value::Array(items)) = spec.and_then(|s| path::get(s, key)) else {
                return Vec::new();
            };
            items
                .iter()
                .enumerate()
                .filter_map(|(at, item)| {
                    let where_ = || match path::get(item, "name").and_then(Value::as_str) {
                        Some(name) => format!("{path}.{key}[{at}] \"{name}\": resources"),
                        None => format!("{path}.{key}[{at}]: resources"),
                    };
                    entry(item, key == "initContainers", &where_, problems)
                })
                .collect()
        };
        let containers = entries("containers", problems);
        let init = entries("initContainers", problems);
        let field = |key: &str| spec.and_then(|s| path::get(s, key));
        let overhead = resource_list(field("overhead"), &|| format!("{path}.overhead"), problems)
            .unwrap_or_default();
        let pod = match field("resources") {
            Some(Value::Object(resources)) => {
                let at = |key: &'static str| move || format!("{path}.resources.{key}");
                Some((
                    resource_list(
                        path::field(resources, "requests"),
                        &at("requests"),
                        problems,
                    )
                    .unwrap_or_default(),
                    resource_list(path::field(resources, "limits"), &at("limits"), problems)
                        .unwrap_or_default(),
                ))
            }
            _ => None,
        };
        Spec {
            containers,
            init,
            overhead,
            pod,
        }
    }
}

/// A container's entry; requests default to limits where missing, as for every Pod the API server
/// stores (`SetDefaults_Pod`).
fn entry<'v>(
    container: &'v Value,
    init: bool,
    where_: &dyn Fn() -> String,
    problems: &mut Vec<String>,
) -> Option<Entry<'v>> {
    let container = container.as_object()?;
    let sidecar =
        init && path::field(container, "restartPolicy").and_then(Value::as_str) == Some("Always");
    // Only init containers' names are used (explanations): a lookup fewer per regular container.
    let name = if init {
        path::field(container, "name").and_then(Value::as_str)
    } else {
        None
    };
    let (requests_value, limits_value) = match path::field(container, "resources") {
        Some(Value::Object(resources)) => (
            path::field(resources, "requests"),
            path::field(resources, "limits"),
        ),
        None | Some(Value::Null) => (None, None),
        Some(other) => {
            problems.push(format!(
                "{} must be an object, found {}; the effective resources leave it out",
                where_(),
                describe(other)
            ));
            (None, None)
        }
    };
    let at = |key: &'static str| move || format!("{}.{key}", where_());
    let mut requests = resource_list(requests_value, &at("requests"), problems).unwrap_or_default();
    let limits = resource_list(limits_value, &at("limits"), problems);
    if let Some(limits) = &limits {
        let written = requests_value.and_then(Value::as_object);
        for &(resource, quantity) in limits {
            // A written request is kept, valid or not; the parsed ones answer without hashing.
            let kept = requests.iter().any(|(r, _)| *r == resource)
                || written.is_some_and(|r| path::field(r, resource).is_some());
            if !kept {
                requests.push((resource, quantity));
            }
        }
    }
    Some(Entry {
        name,
        sidecar,
        requests,
        limits: limits.unwrap_or_default(),
    })
}

/// A `v1.ResourceList`; `None` when absent or null. Values that are no quantity are reported and
/// left out: the API server refuses them, and the conversion goes on without them.
fn resource_list<'v>(
    value: Option<&'v Value>,
    where_: &dyn Fn() -> String,
    problems: &mut Vec<String>,
) -> Option<List<'v>> {
    let map = match value? {
        Value::Null => return None,
        Value::Object(map) => map,
        other => {
            problems.push(format!(
                "{} must be a map of quantities, found {}; the effective resources leave it out",
                where_(),
                describe(other)
            ));
            return None;
        }
    };
    let mut list = Vec::with_capacity(map.len());
    for (resource, value) in map {
        match Quantity::from_json(value) {
            Ok(quantity) if quantity.is_negative() => problems.push(format!(
                "{}.{resource} is negative ({quantity}), which the API server refuses; the effective resources leave it out",
                where_()
            )),
            Ok(quantity) => list.push((resource.as_str(), quantity.round_up_to_milli())),
            Err(error) => problems.push(format!(
                "{}.{resource} is not a quantity, found {} ({error}); the API server refuses it, and the effective resources leave it out",
                where_(),
                describe(value)
            )),
        }
    }
    Some(list)
}

/// `addResourceList`: absent keys take a copy, present ones add.
fn add<'a>(sum: &mut Sum<'a>, items: impl IntoIterator<Item = (&'a str, Quantity)>) {
    for (resource, quantity) in items {
        match sum.get_mut(resource) {
            Some(total) => *total = total.saturating_add(&quantity),
            None => sum.0.push((resource, quantity)),
        }
    }
}

/// `maxResourceList`: a larger value (or a new key) replaces.
fn max<'a>(sum: &mut Sum<'a>, items: &Sum<'a>) {
    for &(resource, quantity) in items {
        let larger = sum
            .get(resource)
            .is_none_or(|current| quantity.cmp_value(current).is_gt());
        if larger {
            sum.insert(resource, quantity);
        }
    }
}

/// `aggregateContainerResourcesByFn`, the KEP-753 formula.
fn aggregate<'v>(spec: &Spec<'v>, bound: Bound) -> Sum<'v> {
    let mut result = Sum::new();
    for container in &spec.containers {
        add(&mut result, container.list(bound).iter().copied());
    }
    let mut sidecars = Sum::new();
    let mut init = Sum::new();
    for container in &spec.init {
        let own = container.list(bound).iter().copied();
        if container.sidecar {
            add(&mut result, own.clone());
            add(&mut sidecars, own);
            max(&mut init, &sidecars);
        } else {
            let mut combined = Sum::new();
            add(&mut combined, own);
            add(&mut combined, sidecars.iter().copied());
            max(&mut init, &combined);
        }
    }
    max(&mut result, &init);
    result
}

/// The totals of a spec. `kept`: pod-level values defaulted on another version of the spec.
fn totals<'a>(spec: &Spec<'a>, kept: Option<PodLevel<'a>>) -> Totals<'a> {
    let aggregate = [
        aggregate(spec, Bound::Request),
        aggregate(spec, Bound::Limit),
    ];
    let pod_level = kept.or_else(|| defaulted(spec, &aggregate));
    let mut requests = aggregate[0].clone();
    let mut limits = aggregate[1].clone();
    if let Some(pod) = &pod_level {
        // PodRequests applies pod-level requests when one is set; PodLimits applies pod-level
        // limits when any pod-level value is set.
        let set = |sum: &Sum| sum.iter().any(|(k, _)| pod_level_resource(k));
        let apply = |to: &mut Sum<'a>, from: &Sum<'a>| {
            for &(resource, quantity) in from {
                if pod_level_resource(resource) {
                    to.insert(resource, quantity);
                }
            }
        };
        if set(&pod.requests) {
            apply(&mut requests, &pod.requests);
        }
        if set(&pod.requests) || set(&pod.limits) {
            apply(&mut limits, &pod.limits);
        }
    }
    add(&mut requests, spec.overhead.iter().copied());
    // Overhead adds to the limits that are set and not zero.
    for (resource, quantity) in &spec.overhead {
        if let Some(limit) = limits.get_mut(resource).filter(|l| !l.is_zero()) {
            *limit = limit.saturating_add(quantity);
        }
    }
    Totals {
        aggregate,
        pod_level,
        effective: [requests, limits],
    }
}

/// Pod-level resources after `defaultHugePagePodLimits` and `defaultPodRequests` (PodLevelResources).
fn defaulted<'a>(spec: &Spec<'a>, aggregate: &[Sum<'a>; 2]) -> Option<PodLevel<'a>> {
    let (requests, limits) = spec.pod.as_ref()?;
    let mut pod = PodLevel {
        requests: Sum(requests.clone()),
        limits: Sum(limits.clone()),
    };
    if !pod.requests.is_empty() || !pod.limits.is_empty() {
        for &(resource, quantity) in &aggregate[1] {
            if resource.starts_with(HUGE_PAGES)
                && !pod.requests.contains_key(resource)
                && !pod.limits.contains_key(resource)
            {
                pod.limits.insert(resource, quantity);
            }
        }
    }
    if !pod.limits.is_empty() {
        for &(resource, quantity) in &aggregate[0] {
            // cpu and memory: the resources pod level supports that may be overcommitted.
            if matches!(resource, "cpu" | "memory") && !pod.requests.contains_key(resource) {
                pod.requests.insert(resource, quantity);
            }
        }
        for &(resource, quantity) in &pod.limits.clone() {
            if pod_level_resource(resource) && !pod.requests.contains_key(resource) {
                pod.requests.insert(resource, quantity);
            }
        }
    }
    Some(pod)
}
