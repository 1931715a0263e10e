//! The order of init containers that sidecars need: each proxy after its setup containers and before
//! every init container that uses the network.

use crate::profile::Profile;

/// Why an init container is out of place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misplacement {
    /// A setup container (iptables, validation) runs after the proxy it prepares.
    SetupAfterProxy { proxy: String },
    /// An init container that needs the mesh runs before the proxy has started.
    BeforeProxy { proxy: String },
}

/// Positions in `names` that break the rule for a native proxy of `profiles`. `profiles` holds the
/// profiles whose proxy is in `names`, in profile order: members of an earlier profile may precede
/// a later proxy (a mesh's proxy starts before a declared sidecar that needs the mesh).
pub(crate) fn misplaced(
    names: &[Option<&str>],
    profiles: &[&Profile],
) -> Vec<(usize, Misplacement)> {
    let proxies: Vec<Option<usize>> = profiles
        .iter()
        .map(|profile| position(names, profile.proxy))
        .collect();
    // Position by position, the first profile that finds it out of place says why: the order the
    // findings are reported in, without sorting them (a sort costs the module 4 KB).
    let mut found = Vec::new();
    for (at, name) in names.iter().enumerate() {
        let Some(name) = *name else {
            continue;
        };
        for (rank, profile) in profiles.iter().enumerate() {
            let Some(proxy_at) = proxies[rank] else {
                continue;
            };
            let proxy = || profile.proxy.to_owned();
            let why = if profile.setup.contains(&name) {
                (at > proxy_at).then(|| Misplacement::SetupAfterProxy { proxy: proxy() })
            } else if at < proxy_at && !profiles[..rank].iter().any(|p| p.is_member(name)) {
                Some(Misplacement::BeforeProxy { proxy: proxy() })
            } else {
                None
            };
            if let Some(why) = why {
                found.push((at, why));
                break;
            }
        }
    }
    found
}

/// The canonical layout as a permutation of `names`: for each profile, its setup containers in the
/// profile's order, the proxy, the containers its mesh renders right after it; then every other
/// init container in its original relative order. This is the order the meshes render in native
/// mode.
pub(crate) fn canonical(names: &[Option<&str>], profiles: &[&Profile]) -> Vec<usize> {
    let mut placed = vec![false; names.len()];
    let mut order = Vec::with_capacity(names.len());
    // Every copy of a name: with one copy left behind (duplicate names are invalid, but reach the
    // policy before the API server rejects them) the layout would stay misplaced and every review
    // would report a change.
    let mut place = |name: &str, order: &mut Vec<usize>| {
        for at in 0..names.len() {
            if !placed[at] && names[at] == Some(name) {
                placed[at] = true;
                order.push(at);
            }
        }
    };
    for profile in profiles {
        for setup in profile.setup.iter() {
            place(setup, &mut order);
        }
        place(profile.proxy, &mut order);
        for trailing in profile.trailing {
            place(trailing, &mut order);
        }
    }
    order.extend((0..names.len()).filter(|&at| !placed[at]));
    order
}

fn position(names: &[Option<&str>], name: &str) -> Option<usize> {
    names.iter().position(|n| *n == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh;
    use crate::settings::SidecarRule;
    use rstest::rstest;

    fn istio<'a>() -> Profile<'a> {
        Profile::of_mesh(mesh::by_id("istio").unwrap())
    }

    fn names<'a>(list: &[&'a str]) -> Vec<Option<&'a str>> {
        list.iter().map(|n| Some(*n)).collect()
    }

    fn reorder<'a>(list: &[&'a str], profiles: &[&Profile]) -> Vec<&'a str> {
        canonical(&names(list), profiles)
            .into_iter()
            .map(|at| list[at])
            .collect()
    }

    #[rstest]
    // Istio's classic order: validation first, user init containers, istio-init last.
    #[case(&["istio-validation", "migrate", "istio-proxy"], &["istio-validation", "istio-proxy", "migrate"])]
    #[case(&["migrate", "istio-init", "enable-core-dump", "istio-proxy"], &["istio-init", "istio-proxy", "enable-core-dump", "migrate"])]
    #[case(&["check-traffic", "istio-init", "istio-proxy"], &["istio-init", "istio-proxy", "check-traffic"])]
    #[case(&["b", "a", "istio-proxy", "c"], &["istio-proxy", "b", "a", "c"])]
    #[case(&["istio-proxy"], &["istio-proxy"])]
    #[case(&["istio-init", "istio-validation", "istio-proxy"], &["istio-init", "istio-validation", "istio-proxy"])]
    fn istio_layout(#[case] input: &[&str], #[case] expected: &[&str]) {
        assert_eq!(reorder(input, &[&istio()]), expected);
    }

    #[rstest]
    // Linkerd's classic order: the user's init containers, then linkerd-init appended last.
    #[case(&["migrate", "linkerd-init", "linkerd-proxy"], &["linkerd-init", "linkerd-proxy", "migrate"])]
    #[case(&["a", "b", "linkerd-network-validator", "linkerd-proxy"], &["linkerd-network-validator", "linkerd-proxy", "a", "b"])]
    #[case(&["linkerd-proxy", "linkerd-init", "a"], &["linkerd-init", "linkerd-proxy", "a"])]
    fn linkerd_layout(#[case] input: &[&str], #[case] expected: &[&str]) {
        let linkerd = Profile::of_mesh(mesh::by_id("linkerd").unwrap());
        assert_eq!(reorder(input, &[&linkerd]), expected);
        assert_eq!(misplaced(&names(expected), &[&linkerd]), vec![]);
    }

    #[test]
    fn declared_sidecars_follow_istio() {
        let rule = SidecarRule {
            name: "vault-agent".into(),
            setup_containers: vec!["vault-agent-init".into()],
        };
        let vault = Profile::declared(&rule);
        let istio = istio();
        let input = &[
            "app-init",
            "vault-agent",
            "vault-agent-init",
            "istio-proxy",
            "istio-init",
        ];
        assert_eq!(
            reorder(input, &[&istio, &vault]),
            [
                "istio-init",
                "istio-proxy",
                "vault-agent-init",
                "vault-agent",
                "app-init"
            ]
        );
        let output = reorder(input, &[&istio, &vault]);
        assert_eq!(misplaced(&names(&output), &[&istio, &vault]), vec![]);
    }

    #[rstest]
    #[case(&["istio-init", "istio-proxy", "check-traffic"], vec![])]
    // A layout other than Istio's that still starts the proxy first is accepted.
    #[case(&["istio-init", "istio-proxy", "migrate", "enable-core-dump"], vec![])]
    #[case(&["check-traffic", "istio-init", "istio-proxy"], vec![(0, Misplacement::BeforeProxy { proxy: "istio-proxy".into() })])]
    #[case(&["istio-proxy", "istio-init"], vec![(1, Misplacement::SetupAfterProxy { proxy: "istio-proxy".into() })])]
    #[case(&["enable-core-dump", "istio-proxy"], vec![(0, Misplacement::BeforeProxy { proxy: "istio-proxy".into() })])]
    fn istio_misplacements(#[case] input: &[&str], #[case] expected: Vec<(usize, Misplacement)>) {
        assert_eq!(misplaced(&names(input), &[&istio()]), expected);
    }

    #[test]
    fn canonical_layout_is_never_misplaced() {
        let istio = istio();
        let inputs: &[&[&str]] = &[
            &["a", "istio-init", "enable-core-dump", "istio-proxy", "b"],
            &["istio-proxy", "istio-validation", "x"],
        ];
        for input in inputs {
            let output = reorder(input, &[&istio]);
            assert_eq!(misplaced(&names(&output), &[&istio]), vec![], "{output:?}");
        }
    }
}
