//! Instructions per request, counted by callgrind: unlike times, the counts do not move with
//! whatever else runs on the machine, so their ratios are the steadiest figures `make bench` gives.
//!
//! The harness runs itself under `valgrind --tool=callgrind` in a child mode that calls
//! [`count_request`] once per case, module and mode; callgrind collects only inside that function
//! and writes one profile after each call, whose total is that request's count.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use native_sidecar_host::kubernetes::Nodes;

use crate::{Mode, Module};

/// The child mode's flag; the child measures in the order of [`order`].
pub const CHILD_FLAG: &str = "--count-instructions-child";

/// Runs one request the way [`crate::time_one`] does. Named in the valgrind command line: keep its
/// name and path, and keep it out of line so callgrind sees its entry and exit.
#[inline(never)]
pub fn count_request(
    module: &Module,
    warm: &native_sidecar_host::Instance,
    mode: Mode,
    payload: &[u8],
) -> Result<(), String> {
    crate::time_one(module, warm, mode, payload).map(|_| ())
}

/// (case, module, mode) in the order the child counts them.
pub fn order(cases: usize, modules: usize) -> Vec<(usize, usize, Mode)> {
    let mut order = Vec::new();
    for case in 0..cases {
        for module in 0..modules {
            order.push((case, module, Mode::Fresh));
            order.push((case, module, Mode::Warm));
        }
    }
    order
}

/// The child: one counted call per entry of [`order`], each after an uncounted warm-up call.
pub fn child(
    modules: &[Module],
    payloads: &[Vec<u8>],
    nodes: &[Option<Arc<Nodes>>],
) -> Result<(), String> {
    let warm = modules
        .iter()
        .map(|m| m.host.instantiate().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    for (case, module, mode) in order(payloads.len(), modules.len()) {
        crate::answer_with(&nodes[case]);
        crate::time_one(&modules[module], &warm[module], Mode::Warm, &payloads[case])?;
        count_request(&modules[module], &warm[module], mode, &payloads[case])?;
    }
    Ok(())
}

/// The child mode that counts the node read: [`node_child`].
pub const NODE_CHILD_FLAG: &str = "--count-node-instructions-child";

/// The cluster sizes of [`node_child`]: the difference between the two, over the nodes added, is
/// the cost per node.
pub const NODE_SIZES: [usize; 2] = [1000, 5000];

/// The child for the node read: the hello Deployment with `checkNodes: true`, the host answering
/// with [`NODE_SIZES`] EKS-like nodes, one fresh-instance request counted per size and module
/// (the policy, then the list floor), each after an uncounted warm-up call.
pub fn node_child(modules: &[Module], payload: &[u8]) -> Result<(), String> {
    let warm = modules
        .iter()
        .map(|m| m.host.instantiate().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    for size in NODE_SIZES {
        let nodes = Some(Arc::new(Nodes::new(
            (0..size).map(crate::inputs::node).collect(),
        )));
        crate::answer_with(&nodes);
        for (module, warm) in modules.iter().zip(&warm) {
            crate::time_one(module, warm, Mode::Warm, payload)?;
            count_request(module, warm, Mode::Fresh, payload)?;
        }
    }
    Ok(())
}

/// Runs the child under callgrind with `args` (the module options) and returns one count per
/// entry of [`order`], or why there are none.
pub fn count(args: &[String], expected: usize) -> Result<Vec<u64>, String> {
    count_with(args, CHILD_FLAG, expected)
}

/// [`count`] for the child mode `flag`.
pub fn count_with(args: &[String], flag: &str, expected: usize) -> Result<Vec<u64>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the harness: {e}"))?;
    let dir = std::env::temp_dir().join(format!("policy-bench-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = run_valgrind(&exe, args, flag, &dir, expected);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_valgrind(
    exe: &Path,
    args: &[String],
    flag: &str,
    dir: &Path,
    expected: usize,
) -> Result<Vec<u64>, String> {
    let out = dir.join("callgrind.out");
    let status = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--collect-atstart=no",
            // --dump-after takes no wildcard: the full path of the function.
            "--toggle-collect=policy_bench::instructions::count_request",
            "--dump-after=policy_bench::instructions::count_request",
            "--quiet",
        ])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(args)
        .arg(flag)
        .status()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("valgrind exited with {status}"));
    }
    // Callgrind numbers the profiles it dumps `callgrind.out.1`, `.2`, ... in call order.
    let mut dumps: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let n = path.extension()?.to_str()?.parse().ok()?;
            Some((n, path))
        })
        .collect();
    dumps.sort();
    let counts = dumps
        .iter()
        .map(|(_, path)| total(path))
        .collect::<Result<Vec<_>, _>>()?;
    if counts.len() != expected {
        return Err(format!(
            "callgrind wrote {} profiles, {expected} expected",
            counts.len()
        ));
    }
    Ok(counts)
}

fn total(path: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|n| n.trim().parse().ok())
        .ok_or(format!("{}: no totals line", path.display()))
}
