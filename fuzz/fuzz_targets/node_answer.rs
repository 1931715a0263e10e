//! The host's node answers read in place (`crates/core/src/nodes/scan.rs`) on any bytes: never a
//! panic, and the decision taken while the list is read (`answer_support`) is the one taken on the
//! nodes `parse_node_list` builds from the same bytes, for a pod pinned to a listed node, to an
//! absent one, and for an unpinned pod.
#![no_main]

use libfuzzer_sys::fuzz_target;
use native_sidecar_core::{KubeletVersion, answer_support, parse_node, parse_node_list, support};

fuzz_target!(|data: &[u8]| {
    let minimum = KubeletVersion::DEFAULT_MINIMUM;
    let nodes = parse_node_list(data);
    let first = nodes
        .as_ref()
        .ok()
        .and_then(|nodes| nodes.first())
        .map(|node| node.name.clone());
    for node_name in [None, Some("absent"), first.as_deref()] {
        let decided = answer_support(data, node_name, minimum);
        let listed = nodes
            .as_ref()
            .map(|nodes| support(nodes, node_name, minimum))
            .map_err(String::clone);
        assert_eq!(decided, listed, "pinned to {node_name:?}");
    }
    let _ = parse_node(data);
});
