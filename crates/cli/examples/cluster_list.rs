//! Prints the generated cluster the tests and `make bench` use: what `kubectl get pods,deployments
//! -A -o json` would print for a cluster of N Pods built from Istio's and Linkerd's fixtures, or
//! what `kubectl get nodes -o json` prints for its nodes.
//!
//! `cargo run -p native-sidecar-cli --example cluster_list -- 5000 > pods.json`
//! `cargo run -p native-sidecar-cli --example cluster_list -- --nodes > nodes.json` (every
//! kubelet runs native sidecars), `-- --nodes --old 6` (`node-6` runs kubelet 1.32).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => native_sidecar_testdata::cluster_list(5000).0,
        ["--nodes"] => native_sidecar_testdata::cluster_nodes(None),
        ["--nodes", "--old", node] => native_sidecar_testdata::cluster_nodes(Some(node.parse()?)),
        [pods] => native_sidecar_testdata::cluster_list(pods.parse()?).0,
        _ => return Err("usage: cluster_list [PODS] | cluster_list --nodes [--old NODE]".into()),
    };
    println!("{}", serde_json::to_string_pretty(&list)?);
    Ok(())
}
