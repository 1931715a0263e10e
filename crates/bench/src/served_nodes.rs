//! `checkNodes` served by Kubewarden's real policy-server, reading EKS-like nodes from the stub
//! Kubernetes API (`KubeApi`): for each cluster size, one policy-server serves the policy with
//! `checkNodes: true`, the same module with `checkNodes: false`, the list floor and the move floor,
//! and wrk loads each in turn, interleaved, so the ratios come from one run.
//!
//! - **Deployment**: the hello Deployment, which reads the whole node list. The list floor makes
//!   the same host call with the same request bytes and leaves the answer unread, then makes the
//!   move floor's change: what reading the nodes this way costs any policy in policy-server. The
//!   policy's own share is the rest.
//! - **pinned Pod**: the classic Pod with `spec.nodeName`, the same node on every request (so
//!   policy-server's 5 s cache of `get_resource` answers most of them).
//! - **DaemonSet-style Pod**: the classic Pod with the DaemonSet controller's node affinity, each
//!   request naming one of the nodes at random: most reads are API GETs to the stub.
//!
//! The pinned pods are measured beside the **get floor**, which makes the policy's `get_resource`
//! call for the pod's node with the same request bytes, leaves the answer unread and makes the move
//! floor's change: what reading one node costs any policy in policy-server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use native_sidecar_policy_server::{KubeApi, Policy, Server, admission_review, version};
use native_sidecar_testdata::{eks_node, eks_node_name};
use serde_json::{Value, json};

use crate::served::{LoadOptions, Run, answer, median, paired_ratio, pinning, wrk_naming};

/// The cluster sizes measured.
pub const NODE_COUNTS: [usize; 3] = [100, 1000, 5000];

/// The issue-19 goals: the Deployment against the list floor, pinned pods against checkNodes off.
const LIST_FLOOR_GOAL: f64 = 0.9;
const PINNED_GOAL: f64 = 0.8;

/// The annotated modules served.
pub struct NodeModules {
    pub policy: PathBuf,
    pub list_floor: PathBuf,
    pub move_floor: PathBuf,
    /// Measured beside the pinned pods when given.
    pub get_floor: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Request {
    Deployment,
    Pinned,
    DaemonSet,
}

impl Request {
    const ALL: [Request; 3] = [Request::Deployment, Request::Pinned, Request::DaemonSet];

    fn label(self) -> &'static str {
        match self {
            Request::Deployment => "Deployment",
            Request::Pinned => "pinned Pod",
            Request::DaemonSet => "DaemonSet-style Pod",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Module {
    Policy,
    Off,
    ListFloor,
    MoveFloor,
    GetFloor,
}

impl Module {
    fn label(self) -> &'static str {
        match self {
            Module::Policy => "policy, checkNodes: true",
            Module::Off => "policy, checkNodes: false",
            Module::ListFloor => "list floor",
            Module::MoveFloor => "move floor",
            Module::GetFloor => "get floor",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Module::Policy => "policy",
            Module::Off => "policy-off",
            Module::ListFloor => "list-floor",
            Module::MoveFloor => "move-floor",
            Module::GetFloor => "get-floor",
        }
    }

    /// What each request is measured with: the floors only where they mean something.
    fn for_request(request: Request) -> &'static [Module] {
        match request {
            Request::Deployment => &[
                Module::Policy,
                Module::Off,
                Module::ListFloor,
                Module::MoveFloor,
            ],
            Request::Pinned | Request::DaemonSet => {
                &[Module::Policy, Module::Off, Module::GetFloor]
            }
        }
    }
}

impl Request {
    /// The floor that makes this request's host call and nothing more.
    fn floor(self) -> Module {
        match self {
            Request::Deployment => Module::ListFloor,
            Request::Pinned | Request::DaemonSet => Module::GetFloor,
        }
    }
}

pub struct Row {
    nodes: usize,
    request: Request,
    module: Module,
    answer: String,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Requests per second in each round, in round order.
    rounds: Vec<f64>,
    /// The stub's LISTs (first pages) and GETs while this module was loaded with this request.
    lists: u64,
    gets: u64,
}

pub struct NodeReport {
    server_version: String,
    load_line: String,
    /// The first request after policy-server started, per cluster size: milliseconds.
    first_ms: Vec<(usize, f64)>,
    rows: Vec<Row>,
    load_before: String,
    load_after: String,
}

/// The classic Istio Pod pinned to `node`, by `nodeName` or as a DaemonSet's pod.
fn pinned(pod: &Value, node: &str, daemonset: bool) -> Value {
    let mut request = pod.clone();
    let spec = &mut request["object"]["spec"];
    if daemonset {
        spec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
        }}});
    } else {
        spec["nodeName"] = json!(node);
    }
    request
}

fn policies(modules: &NodeModules) -> Vec<Policy> {
    let nodes = json!([{"apiVersion": "v1", "kind": "Node"}]);
    let policy = |module: Module, path: &Path, settings: Value, reads_nodes: bool| Policy {
        context_aware_resources: if reads_nodes {
            nodes.clone()
        } else {
            json!([])
        },
        ..Policy::new(module.id(), path)
            .settings(settings)
            .allowed_to_mutate()
    };
    vec![
        policy(
            Module::Policy,
            &modules.policy,
            json!({"checkNodes": true}),
            true,
        ),
        policy(
            Module::Off,
            &modules.policy,
            json!({"checkNodes": false}),
            false,
        ),
        policy(Module::ListFloor, &modules.list_floor, json!({}), true),
        policy(Module::MoveFloor, &modules.move_floor, json!({}), false),
    ]
    .into_iter()
    .chain(
        modules
            .get_floor
            .as_deref()
            .map(|path| policy(Module::GetFloor, path, json!({}), true)),
    )
    .collect()
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Measures every cluster size of `counts`; `deployment` and `pod` are AdmissionRequests (the
/// hello Deployment and the classic Istio Pod).
pub fn measure(
    options: &LoadOptions,
    modules: &NodeModules,
    counts: &[usize],
    deployment: &Value,
    pod: &Value,
) -> Result<NodeReport, String> {
    let load_before = crate::load_average();
    let scratch = tempfile::tempdir().map_err(err)?;
    let script = scratch.path().join("post.lua");
    std::fs::write(&script, crate::served::WRK_SCRIPT).map_err(err)?;
    let mut rows = Vec::new();
    let mut first_ms = Vec::new();
    for &count in counts {
        let nodes: Vec<Value> = (0..count).map(eks_node).collect();
        let api = KubeApi::start(&nodes).map_err(|e| format!("{e:#}"))?;
        let server = Server::start_in(
            &options.policy_server,
            &policies(modules),
            options.workers,
            Some(&api),
        )
        .map_err(|e| format!("{e:#}"))?;
        let deployment_review = admission_review(deployment);
        let started = Instant::now();
        answer(&server, Module::Policy.id(), &deployment_review)?;
        first_ms.push((count, started.elapsed().as_secs_f64() * 1000.0));

        let pinned_node = eks_node_name(count / 2);
        for request in Request::ALL {
            let (review, rotate) = match request {
                Request::Deployment => (deployment_review.clone(), 0),
                Request::Pinned => (admission_review(&pinned(pod, &pinned_node, false)), 0),
                Request::DaemonSet => (admission_review(&pinned(pod, "__NODE__", true)), count),
            };
            let body = scratch.path().join("review.json");
            std::fs::write(&body, serde_json::to_vec(&review).map_err(err)?).map_err(err)?;
            let modules: Vec<Module> = Module::for_request(request)
                .iter()
                .copied()
                .filter(|m| *m != Module::GetFloor || modules.get_floor.is_some())
                .collect();
            // The verdicts on a real node name, before any load.
            let check = if rotate > 0 {
                admission_review(&pinned(pod, &eks_node_name(1), true))
            } else {
                review.clone()
            };
            let answers = modules
                .iter()
                .map(|m| answer(&server, m.id(), &check))
                .collect::<Result<Vec<_>, _>>()?;
            for m in &modules {
                eprintln!(
                    "policy-server, {count} nodes: warming up {} with the {}",
                    m.label(),
                    request.label()
                );
                wrk_naming(
                    options,
                    &script,
                    &body,
                    &server.url("validate", m.id()),
                    1,
                    rotate,
                )?;
            }
            let mut runs: Vec<Vec<Run>> = modules.iter().map(|_| Vec::new()).collect();
            let mut calls = vec![(0u64, 0u64); modules.len()];
            for round in 0..options.rounds {
                for turn in 0..modules.len() {
                    let m = (turn + round) % modules.len();
                    eprintln!(
                        "policy-server, {count} nodes, {}: round {}/{}, {} for {} s",
                        request.label(),
                        round + 1,
                        options.rounds,
                        modules[m].label(),
                        options.seconds
                    );
                    let before = api.counts();
                    let (_, run) = wrk_naming(
                        options,
                        &script,
                        &body,
                        &server.url("validate", modules[m].id()),
                        options.seconds,
                        rotate,
                    )?;
                    let after = api.counts();
                    calls[m].0 += after.lists - before.lists;
                    calls[m].1 += after.gets - before.gets;
                    runs[m].push(run);
                }
            }
            for (((module, answer), runs), (lists, gets)) in
                modules.iter().zip(answers).zip(runs).zip(calls)
            {
                rows.push(Row {
                    nodes: count,
                    request,
                    module: *module,
                    answer,
                    requests_per_second: median(
                        runs.iter().map(|r| r.requests_per_second).collect(),
                    ),
                    p50_ms: median(runs.iter().map(|r| r.p50_ms).collect()),
                    p99_ms: median(runs.iter().map(|r| r.p99_ms).collect()),
                    rounds: runs.iter().map(|r| r.requests_per_second).collect(),
                    lists,
                    gets,
                });
            }
        }
        let log = server.stop().map_err(|e| format!("{e:#}"))?;
        let errors = native_sidecar_policy_server::guest_errors(&log);
        if !errors.is_empty() {
            return Err(format!(
                "policy-server logged errors under load with {count} nodes:\n{}",
                errors.join("\n")
            ));
        }
    }
    Ok(NodeReport {
        server_version: version(&options.policy_server).map_err(|e| format!("{e:#}"))?,
        load_line: format!(
            "{} workers; wrk from {} threads over {} connections, {} s per run, {} round{} interleaved after a 1 s warm-up each",
            options.workers,
            options.threads,
            options.connections,
            options.seconds,
            options.rounds,
            if options.rounds == 1 { "" } else { "s" }
        ) + &pinning("wrk, the stub API and the harness"),
        first_ms,
        rows,
        load_before,
        load_after: crate::load_average(),
    })
}

impl NodeReport {
    fn row(&self, nodes: usize, request: Request, module: Module) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.nodes == nodes && r.request == request && r.module == module)
    }

    fn rate(&self, nodes: usize, request: Request, module: Module) -> f64 {
        self.row(nodes, request, module)
            .map_or(f64::NAN, |r| r.requests_per_second)
    }

    /// The throughput ratio of `module` to `base` for `request`, round by round
    /// ([`paired_ratio`]).
    fn ratio(&self, nodes: usize, request: Request, module: Module, base: Module) -> f64 {
        let rounds = |module: Module| {
            self.row(nodes, request, module)
                .map_or(&[][..], |r| &r.rounds[..])
        };
        let (a, b) = (rounds(module), rounds(base));
        if a.is_empty() || b.is_empty() {
            return f64::NAN;
        }
        paired_ratio(a, b)
    }

    fn calls(&self, nodes: usize, request: Request, module: Module) -> (u64, u64) {
        self.row(nodes, request, module)
            .map_or((0, 0), |r| (r.lists, r.gets))
    }
}

/// The BENCHMARKS.md section; `report` is `Err` with the reason when the run was skipped.
pub fn write_section(w: &mut String, report: &Result<NodeReport, String>) {
    let heading = "checkNodes served by policy-server, nodes from a stub Kubernetes API";
    let Some(report) = crate::served::section(w, heading, report) else {
        return;
    };
    let _ = writeln!(
        w,
        "`{}` reads EKS-like nodes (13 labels, 3 annotations; `crates/testdata` `eks_node`) from \
         the stub Kubernetes API (`crates/policy-server/src/kube_api.rs`) through its own client, \
         one policy-server per cluster size serving the policy with `checkNodes: true` and with \
         `checkNodes: false`, the **list floor** (`benches/baselines/list`: the policy's node-list \
         host call with the same request bytes, the answer left unread, then the move floor's \
         change), the move floor and the **get floor** (`benches/baselines/get`: the policy's \
         `get_resource` call for the pod's node, the same bytes, the answer unread, then the move \
         floor's change). {}. Load average (1 min): {} before, {} after. \
         Requests: the hello Deployment (reads the whole list), the classic Pod with `nodeName` \
         (always the same node: policy-server caches `get_resource` 5 s per name) and the classic \
         Pod with the DaemonSet controller's node affinity on a random node of the cluster (most \
         reads are API GETs). LISTs and GETs: what the stub was asked during the measured runs.\n",
        report.server_version, report.load_line, report.load_before, report.load_after
    );
    let _ = writeln!(
        w,
        "| nodes | request | module | answers | requests/s | p50 ms | p99 ms | LISTs / GETs | **/ checkNodes off** | **/ its floor** (list floor: Deployment; get floor: pinned pods) |\n|---:|---|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for row in &report.rows {
        let off = report.rate(row.nodes, row.request, Module::Off);
        let floor = report.rate(row.nodes, row.request, row.request.floor());
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} / {} | **{:.3}x** | {} |",
            row.nodes,
            row.request.label(),
            row.module.label(),
            row.answer,
            row.requests_per_second,
            row.p50_ms,
            row.p99_ms,
            row.lists,
            row.gets,
            row.requests_per_second / off,
            if floor.is_finite() {
                format!("**{:.2}x**", row.requests_per_second / floor)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        w,
        "\nThe first request after policy-server starts waits for the reflector's initial LIST \
         (pages of 500): {}.\n",
        report
            .first_ms
            .iter()
            .map(|(nodes, ms)| format!("{ms:.0} ms at {nodes} nodes"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        w,
        "Goals are judged on the median of the rounds' ratios (each round runs the modules back \
         to back), not on the ratio of the medians in the table above.\n"
    );
    let _ = writeln!(w, "| goal | measured | reached |\n|---|---|---|");
    // A run limited to some cluster sizes (`--node-counts`) has no row for the others.
    let measured = |nodes: &usize| report.first_ms.iter().any(|(n, _)| n == nodes);
    for nodes in [1000, 5000].into_iter().filter(measured) {
        let ratio = report.ratio(
            nodes,
            Request::Deployment,
            Module::Policy,
            Module::ListFloor,
        );
        let _ = writeln!(
            w,
            "| Deployment at {nodes} nodes: at least {LIST_FLOOR_GOAL}x the list floor's throughput | {ratio:.3}x | {} |",
            crate::yes_no(ratio >= LIST_FLOOR_GOAL)
        );
    }
    for request in [Request::Pinned, Request::DaemonSet] {
        let nodes = 5000;
        if !measured(&nodes) {
            continue;
        }
        let ratio = report.ratio(nodes, request, Module::Policy, Module::Off);
        let (lists, gets) = report.calls(nodes, request, Module::Policy);
        let floor = report.ratio(nodes, request, Module::GetFloor, Module::Off);
        let floor = if floor.is_finite() {
            format!(" (the get floor: {floor:.2}x)")
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "| {} at {nodes} nodes: at least {PINNED_GOAL}x checkNodes off, no LIST | {ratio:.3}x{floor}, {lists} LISTs, {gets} GETs | {} |",
            request.label(),
            crate::yes_no(ratio >= PINNED_GOAL && lists == 0)
        );
    }
    let _ = writeln!(w);
}
