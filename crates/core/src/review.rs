//! One evaluation: look at the pod spec, decide (refuse, report, convert, reorder, annotate), then
//! edit the object in place, touching only what the decision names.

use serde_json::{Map, Value};

use crate::convert;
use crate::describe::join;
use crate::mesh::{self, Dependents, Injection, Mesh, NativeEdit, Switch};
use crate::nodes::{self, Cluster, HeldBack, NoCluster};
use crate::order::{self, Misplacement};
use crate::path;
use crate::pod::{PodView, name, positions, restart_policy};
use crate::profile::{self, Profile};
use crate::resources::{self, Accounted, ResourceChange};
use crate::settings::{Mode, Settings};
use crate::validate::{self, Finding, Problem};
use crate::workload::{Kind, Operation};

/// The result of reviewing one object. The object itself is edited in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Why the object is refused; `None` means accepted.
    pub rejection: Option<String>,
    /// Whether the object was changed.
    pub changed: bool,
    pub warnings: Vec<String>,
    /// Containers out of place in the object as it came in (what validate mode rejects and mutate
    /// mode fixes).
    pub findings: Vec<Finding>,
    /// The init container order the sidecars need, when there is a sidecar to place.
    pub expected_init_order: Vec<String>,
    /// With `checkNodes`: the containers out of place that the review left as they are because
    /// the nodes are too old or cannot be read (a warning says which). Tools count such objects
    /// apart from those with nothing to change.
    pub held_back: Vec<Finding>,
    /// The object asks to keep its mesh proxy classic (the warning says which annotation); tools
    /// count such objects apart from those without a proxy.
    pub opted_out: bool,
    /// The pod's effective requests and limits before and after a conversion or reorder (in
    /// validate mode: after the one it would make); `None` when nothing changes or with
    /// `onResourceIncrease: ignore`.
    pub resources: Option<ResourceChange>,
}

impl Outcome {
    fn reject(message: String) -> Outcome {
        Outcome {
            rejection: Some(message),
            ..Outcome::default()
        }
    }
}

/// Reviews an object of a known kind for an admission operation, without a cluster: with
/// `checkNodes` on, nothing native is made and a warning says why.
pub fn review(
    kind: Kind,
    operation: Operation,
    object: &mut Value,
    settings: &Settings,
) -> Outcome {
    review_with(kind, operation, object, settings, &mut NoCluster)
}

/// [`review`] with the cluster whose nodes decide, when `checkNodes` is on, whether native
/// sidecars can be made. The nodes are asked for at most once, and only when something native
/// is pending.
pub fn review_with(
    kind: Kind,
    operation: Operation,
    object: &mut Value,
    settings: &Settings,
    cluster: &mut dyn Cluster,
) -> Outcome {
    if !kind.mutable_on(operation) || !object.is_object() {
        return Outcome::default();
    }
    // Everything the decision needs is read from this view; the object is edited once it is made.
    let pod = match PodView::read(kind, object) {
        Ok(pod) => pod,
        Err(message) => return Outcome::reject(message),
    };
    let mut plan = match Plan::new(&pod, settings) {
        Ok(plan) => plan,
        Err(message) => return Outcome::reject(message),
    };
    let mut outcome = Outcome {
        warnings: std::mem::take(&mut plan.warnings),
        findings: plan.findings(),
        expected_init_order: plan.expected_order(),
        opted_out: plan.opted_out,
        ..Outcome::default()
    };
    let native_request = (settings.mode == Mode::Mutate
        && kind == Kind::Pod
        && operation == Operation::Create
        && settings.request_native_injection
        && !plan.carries_mesh_proxy)
        .then(|| native_request_target(&pod, settings))
        .flatten();
    if settings.check_nodes {
        let pending = nodes::Pending {
            edits: !outcome.findings.is_empty(),
            request: native_request.is_some(),
            proxies: plan
                .handled
                .iter()
                .map(|h| (h.profile.proxy.as_ref(), matches!(h.state, State::Native)))
                .collect(),
        };
        if let Some(held) = nodes::hold_back(&pending, &pod, settings, cluster) {
            // Whatever is held back is neither fixed nor reported as out of place.
            outcome.held_back = std::mem::take(&mut outcome.findings);
            outcome.expected_init_order.clear();
            match held {
                HeldBack::Warning(warning) => outcome.warnings.push(warning),
                HeldBack::Rejection(rejection) => outcome.rejection = Some(rejection),
            }
            return outcome;
        }
    }
    let edits = plan.into_edits();
    match settings.mode {
        Mode::Validate => {
            if !outcome.findings.is_empty() {
                let proxies: Vec<&str> = edits
                    .handled
                    .iter()
                    .map(|h| h.profile.proxy.as_ref())
                    .collect();
                let others_depend = edits
                    .handled
                    .iter()
                    .any(|h| h.profile.dependents == Dependents::Others);
                let mut rejection = validate::rejection(
                    kind.spec_path(),
                    &proxies,
                    others_depend,
                    &outcome.findings,
                    &outcome.expected_init_order,
                );
                let cost = resources::cost(kind, object, settings.on_resource_increase, |copy| {
                    edits.apply(kind, copy, &mut Vec::new());
                });
                if let Some(change) = cost {
                    rejection.push_str(&change.cost());
                    outcome.warnings.extend(change.problems.iter().cloned());
                    outcome.resources = Some(change);
                }
                outcome.rejection = Some(rejection);
            }
        }
        Mode::Mutate => {
            let mut said = Vec::new();
            let accounted = resources::apply(
                kind,
                object,
                settings.on_resource_increase,
                edits.changes(),
                |object| edits.apply(kind, object, &mut said),
            );
            match accounted {
                Accounted::Uncounted(changed) => outcome.changed = changed,
                Accounted::Made(change, changed) => {
                    outcome.warnings.extend(change.warnings());
                    outcome.resources = Some(change);
                    outcome.changed = changed;
                }
                Accounted::Refused(change, rejection) => {
                    outcome.warnings.extend(change.problems.iter().cloned());
                    outcome.rejection = Some(rejection);
                    outcome.resources = Some(change);
                    return outcome;
                }
            }
            outcome.warnings.append(&mut said);
            if let Some(mesh) = native_request {
                outcome.changed |= request_native(object, mesh);
            }
        }
    }
    outcome
}

/// The switch to set for a native sidecar on a Pod that has no proxy yet (a ClusterAdmissionPolicy
/// sees Pods before the meshes' injectors): that of the mesh the Pod asks to be injected by, else
/// of the first of the `meshes` setting, since the namespaces the policy is deployed on are that
/// mesh's. None when the Pod already says which mode it wants, that mesh will not inject it, or it
/// has no per-pod switch (Kuma).
fn native_request_target(pod: &PodView, settings: &Settings) -> Option<&'static dyn Switch> {
    let mut meshes = settings.meshes.iter().filter_map(|id| mesh::by_id(id));
    let target = meshes
        .clone()
        .find(|m| m.injection(pod) == Injection::Requested)
        .or_else(|| {
            meshes
                .next()
                .filter(|m| m.injection(pod) == Injection::Unstated)
        })?
        .switch()?;
    (!target.states_mode(pod)).then_some(target)
}

/// Sets the mesh's native switch on the Pod; whether it could.
fn request_native(pod: &mut Value, switch: &dyn Switch) -> bool {
    match annotations_mut(pod) {
        Some(annotations) => {
            switch.request_native(annotations);
            true
        }
        None => false,
    }
}

/// The Pod's annotations, created when absent or null. `None` when `metadata` is not an object:
/// the API server refuses such a Pod, and the review must not report a change it did not make.
fn annotations_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    let metadata = pod
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if metadata.is_null() {
        *metadata = Value::Object(Map::new());
    }
    let annotations = metadata
        .as_object_mut()?
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    annotations.as_object_mut()
}

/// A proxy the policy handles in this pod spec.
struct Handled<'s> {
    profile: Profile<'s>,
    state: State,
}

enum State {
    /// A regular container at this index of `containers`, to become a native sidecar.
    Classic { at: usize, edit: Box<NativeEdit> },
    /// Already a native sidecar at this index of `initContainers`.
    Native,
}

/// What the review found in the pod, borrowed from it.
struct Plan<'s, 'v> {
    handled: Vec<Handled<'s>>,
    init_names: Vec<Option<&'v str>>,
    misplaced: Vec<(usize, Misplacement)>,
    warnings: Vec<String>,
    /// Any mesh's proxy, sidecar or gateway, handled or not: such a pod needs no native request.
    carries_mesh_proxy: bool,
    /// A mesh's proxy stays classic because the pod opted out of native mode.
    opted_out: bool,
}

impl<'s, 'v> Plan<'s, 'v> {
    fn new(pod: &PodView<'v>, settings: &'s Settings) -> Result<Plan<'s, 'v>, String> {
        let path = pod.kind.spec_path();
        let (containers, init) = (pod.containers, pod.init);
        let mut plan = Plan {
            handled: Vec::new(),
            init_names: init.iter().map(name).collect(),
            misplaced: Vec::new(),
            warnings: Vec::new(),
            carries_mesh_proxy: mesh::carries_a_proxy(pod),
            opted_out: false,
        };
        for profile in profile::profiles(settings, pod) {
            let opted_out = profile.mesh.and_then(|mesh| {
                let annotation = mesh.switch()?.opt_out(pod)?;
                let warning = format!(
                    "{annotation}: \"false\" leaves {proxy} as {title} renders it in classic mode; remove the annotation to run the proxy as a native sidecar",
                    proxy = mesh.proxy(),
                    title = mesh.title()
                );
                // Said once for a mesh with several proxies in the pod.
                if !plan.warnings.contains(&warning) {
                    plan.warnings.push(warning);
                }
                Some(annotation)
            });
            let in_containers = positions(containers, &profile.proxy);
            let in_init = positions(init, &profile.proxy);
            if in_containers.is_empty() && in_init.is_empty() {
                continue;
            }
            if let Some(mesh) = profile.mesh {
                if opted_out.is_some() {
                    plan.opted_out = true;
                    continue;
                }
                let mut found = in_containers
                    .iter()
                    .map(|&at| &containers[at])
                    .chain(in_init.iter().map(|&at| &init[at]));
                if found.any(|c| mesh.leaves_alone(pod, c)) {
                    continue;
                }
            }
            let state = match (in_containers.as_slice(), in_init.as_slice()) {
                ([_], [_]) => {
                    return Err(format!(
                        "{path}.initContainers already has a container named \"{proxy}\", the name of the proxy in {path}.containers; remove one of the two copies so that a single proxy runs as a native sidecar",
                        proxy = profile.proxy
                    ));
                }
                (&[at], []) => {
                    let proxy = &containers[at];
                    let kept = profile.mesh.and_then(|mesh| {
                        mesh.keeps_classic(pod, at, proxy, &settings.mesh_settings)
                    });
                    if let Some(warning) = kept {
                        plan.warnings.push(warning);
                        continue;
                    }
                    check_proxy(path, "containers", at, proxy, &profile)?;
                    if let Some(policy) = restart_policy(proxy).filter(|p| *p != "Always") {
                        return Err(format!(
                            "{path}.containers[{at}] \"{proxy_name}\" sets restartPolicy \"{policy}\", but a native sidecar restarts Always; remove restartPolicy from it, or {hint}",
                            proxy_name = profile.proxy,
                            hint = opt_out_hint(&profile)
                        ));
                    }
                    let edit = match profile.mesh {
                        Some(mesh) => mesh.native_edit(pod, proxy, &settings.mesh_settings)?,
                        None => NativeEdit::default(),
                    };
                    State::Classic {
                        at,
                        edit: Box::new(edit),
                    }
                }
                ([], &[at]) => {
                    let proxy = &init[at];
                    check_proxy(path, "initContainers", at, proxy, &profile)?;
                    if restart_policy(proxy) != Some("Always") {
                        let found = restart_policy(proxy)
                            .map_or("no restartPolicy".to_owned(), |p| {
                                format!("restartPolicy \"{p}\"")
                            });
                        return Err(format!(
                            "{path}.initContainers[{at}] \"{proxy_name}\" has {found}, so it would have to exit before the next container starts; set restartPolicy: Always to run it as a native sidecar",
                            proxy_name = profile.proxy
                        ));
                    }
                    State::Native
                }
                (many_containers, many_init) => {
                    let places: Vec<String> = many_containers
                        .iter()
                        .map(|at| format!("containers[{at}]"))
                        .chain(many_init.iter().map(|at| format!("initContainers[{at}]")))
                        .collect();
                    return Err(format!(
                        "{path} has {count} containers named \"{proxy}\" ({places}); keep a single proxy",
                        count = places.len(),
                        proxy = profile.proxy,
                        places = join(&places, ", ")
                    ));
                }
            };
            plan.handled.push(Handled { profile, state });
        }
        // Converting every regular container would leave none, which the API server refuses.
        let classic: Vec<(usize, &Profile)> = plan
            .handled
            .iter()
            .filter_map(|h| match h.state {
                State::Classic { at, .. } => Some((at, &h.profile)),
                State::Native => None,
            })
            .collect();
        if !containers.is_empty() && classic.len() == containers.len() {
            let message = match classic.as_slice() {
                [(at, profile)] => format!(
                    "{path}.containers[{at}] \"{proxy}\" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or {hint}",
                    proxy = profile.proxy,
                    hint = opt_out_hint(profile)
                ),
                many => format!(
                    "{path}.containers holds only sidecars ({names}), and a pod needs a regular container besides its native sidecars; add the application container, or keep one of them a regular container",
                    names = join(many.iter().map(|(_, p)| &p.proxy), ", ")
                ),
            };
            return Err(message);
        }
        let natives: Vec<&Profile> = plan
            .handled
            .iter()
            .filter(|h| matches!(h.state, State::Native))
            .map(|h| &h.profile)
            .collect();
        plan.misplaced = order::misplaced(&plan.init_names, &natives);
        Ok(plan)
    }

    fn findings(&self) -> Vec<Finding> {
        let classic = self.handled.iter().filter_map(|h| match h.state {
            State::Classic { at, .. } => Some(Finding {
                container: h.profile.proxy.to_string(),
                list: "containers",
                position: at,
                problem: Problem::NotNative,
            }),
            State::Native => None,
        });
        let misplaced = self.misplaced.iter().map(|(at, why)| Finding {
            container: self.init_names[*at].unwrap_or_default().to_owned(),
            list: "initContainers",
            position: *at,
            problem: Problem::Misplaced(why.clone()),
        });
        misplaced.chain(classic).collect()
    }

    /// Init container names after conversion, in the canonical layout.
    fn expected_order(&self) -> Vec<String> {
        if self.handled.is_empty() {
            return Vec::new();
        }
        let mut names = self.init_names.clone();
        names.extend(self.handled.iter().filter_map(|h| match h.state {
            State::Classic { .. } => Some(Some(h.profile.proxy.as_ref())),
            State::Native => None,
        }));
        let profiles: Vec<&Profile> = self.handled.iter().map(|h| &h.profile).collect();
        order::canonical(&names, &profiles)
            .into_iter()
            .map(|at| names[at].unwrap_or_default().to_owned())
            .collect()
    }

    /// What the edits need, which no longer borrows the object.
    fn into_edits(self) -> Edits<'s> {
        Edits {
            reorder: !self.misplaced.is_empty(),
            handled: self.handled,
        }
    }
}

/// The conversions and the reorder the review decided.
struct Edits<'s> {
    handled: Vec<Handled<'s>>,
    /// A native proxy or its setup containers are out of place.
    reorder: bool,
}

impl Edits<'_> {
    /// Whether `apply` converts or reorders anything.
    fn changes(&self) -> bool {
        self.handled
            .iter()
            .any(|h| matches!(h.state, State::Classic { .. }))
            || self.reorder
    }

    /// Converts classic proxies and restores the layout; returns whether anything changed, and
    /// adds what the conversions have to say to `warnings`.
    fn apply(&self, kind: Kind, object: &mut Value, warnings: &mut Vec<String>) -> bool {
        if !self.changes() {
            return false;
        }
        let Some(spec) = path::at_mut(object, kind.spec_pointer()).and_then(Value::as_object_mut)
        else {
            return false;
        };
        let conversions = self
            .handled
            .iter()
            .filter_map(|h| match &h.state {
                State::Classic { at, edit } => Some(convert::Conversion { at: *at, edit }),
                State::Native => None,
            })
            .collect::<Vec<_>>();
        let profiles: Vec<&Profile> = self.handled.iter().map(|h| &h.profile).collect();
        convert::to_native(spec, &conversions, &profiles);
        for handled in &self.handled {
            if let State::Classic { edit, .. } = &handled.state {
                warnings.extend(edit.warnings.iter().cloned());
                if let Some(mesh) = handled.profile.mesh {
                    mesh.after_conversion(object, kind);
                }
            }
        }
        true
    }
}

fn check_proxy(
    path: &str,
    list: &str,
    at: usize,
    proxy: &Value,
    profile: &Profile,
) -> Result<(), String> {
    if proxy
        .get("restartPolicyRules")
        .is_some_and(|r| !r.is_null())
    {
        return Err(format!(
            "{path}.{list}[{at}] \"{name}\" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or {hint}",
            name = profile.proxy,
            hint = opt_out_hint(profile)
        ));
    }
    Ok(())
}

/// How to keep the proxy classic: the pod's switch when its mesh has one, else the setting that
/// makes the policy handle the proxy.
fn opt_out_hint(profile: &Profile) -> String {
    match profile.mesh {
        Some(mesh) => match mesh.switch() {
            Some(switch) => format!(
                "keep it classic with the pod annotation {}: \"false\"",
                switch.annotation()
            ),
            None => format!("remove \"{}\" from the policy's meshes setting", mesh.id()),
        },
        None => format!(
            "remove \"{}\" from the policy's extraSidecars setting",
            profile.proxy
        ),
    }
}
