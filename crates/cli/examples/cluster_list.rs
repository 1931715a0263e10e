//! Prints the generated cluster the tests and `make bench` use: what `kubectl get pods,deployments
//! -A -o json` would print for a cluster of N Pods built from Istio's fixtures.
//!
//! `cargo run -p native-sidecar-cli --example cluster_list -- 5000 > pods.json`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pods: usize = std::env::args().nth(1).map_or(Ok(5000), |n| n.parse())?;
    let (list, _) = native_sidecar_testdata::cluster_list(pods);
    println!("{}", serde_json::to_string_pretty(&list)?);
    Ok(())
}
