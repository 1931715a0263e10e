//! The order of init containers that sidecars need: each proxy after its setup containers and before
//! every init container that uses the network, or, for a mesh on which no init container depends
//! (Consul), right after its own setup container.

use crate::mesh::Dependents;
use crate::profile::Profile;

/// Why an init container is out of place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misplacement {
    /// A setup container (iptables, validation) runs after the proxy it prepares.
    SetupAfterProxy { proxy: String },
    /// An init container that needs the mesh runs before the proxy has started.
    BeforeProxy { proxy: String },
    /// The proxy does not start right after its setup container, as its mesh renders it.
    NotAfterSetup { setup: String },
}

/// Positions in `names` that break the rule for a native proxy of `profiles`. `profiles` holds the
/// profiles whose proxy is in `names`, in profile order: members of an earlier profile may precede
/// a later proxy (a mesh's proxy starts before a declared sidecar that needs the mesh).
pub(crate) fn misplaced(
    names: &[Option<&str>],
    profiles: &[&Profile],
) -> Vec<(usize, Misplacement)> {
    let holds = |at: usize, profile: &Profile| names[at].is_some_and(|n| profile.setup.contains(n));
    // Per profile: its proxy's position and, for a proxy on which nothing depends, its last setup
    // container when the proxy does not directly follow it and no setup container comes after
    // the proxy (then the proxy itself is out of place).
    let proxies: Vec<Option<(usize, Option<usize>)>> = profiles
        .iter()
        .map(|profile| {
            let proxy_at = position(names, &profile.proxy)?;
            let apart = (profile.dependents == Dependents::Nothing)
                .then(|| (0..names.len()).rev().find(|&at| holds(at, profile)))
                .flatten()
                .filter(|&last| last < proxy_at && last + 1 != proxy_at);
            Some((proxy_at, apart))
        })
        .collect();
    // Position by position, the first profile that finds it out of place says why: the order the
    // findings are reported in, without sorting them (a sort costs the module 4 KB).
    let mut found = Vec::new();
    for (at, name) in names.iter().enumerate() {
        let Some(name) = *name else {
            continue;
        };
        for (rank, profile) in profiles.iter().enumerate() {
            let Some((proxy_at, apart)) = proxies[rank] else {
                continue;
            };
            let proxy = || profile.proxy.to_string();
            let why = if profile.setup.contains(name) {
                (at > proxy_at).then(|| Misplacement::SetupAfterProxy { proxy: proxy() })
            } else if profile.dependents == Dependents::Nothing {
                apart
                    .filter(|_| at == proxy_at)
                    .map(|last| Misplacement::NotAfterSetup {
                        setup: names[last].unwrap_or_default().to_owned(),
                    })
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

/// The canonical layout as a permutation of `names`: for each profile on whose proxy the other
/// init containers depend, its setup containers in the profile's order, the proxy, the containers
/// its mesh renders right after it; then every other init container in its original relative
/// order, with each proxy on which nothing depends (and its trailing containers) right after its
/// last setup container. This is the order the meshes render in native mode.
pub(crate) fn canonical(names: &[Option<&str>], profiles: &[&Profile]) -> Vec<usize> {
    let mut placed = vec![false; names.len()];
    let mut order = Vec::with_capacity(names.len());
    // Every copy of a name: with one copy left behind (duplicate names are invalid, but reach the
    // policy before the API server rejects them) the layout would stay misplaced and every review
    // would report a change.
    let place = |name: &str, placed: &mut [bool], order: &mut Vec<usize>| {
        for at in 0..names.len() {
            if !placed[at] && names[at] == Some(name) {
                placed[at] = true;
                order.push(at);
            }
        }
    };
    let (leading, following): (Vec<&Profile>, Vec<&Profile>) = profiles
        .iter()
        .partition(|p| p.dependents == Dependents::Others);
    for profile in leading {
        for setup in profile.setup.names() {
            place(setup, &mut placed, &mut order);
        }
        place(&profile.proxy, &mut placed, &mut order);
        for trailing in profile.trailing {
            place(trailing, &mut placed, &mut order);
        }
    }
    // Each following proxy waits for the last of its setup containers; one without any keeps its
    // place.
    let anchors: Vec<(usize, &Profile)> = following
        .into_iter()
        .filter_map(|profile| {
            let last = (0..names.len())
                .rev()
                .find(|&at| names[at].is_some_and(|n| profile.setup.contains(n)))?;
            Some((last, profile))
        })
        .collect();
    let waiting = |at: usize| {
        anchors
            .iter()
            .any(|(_, p)| names[at].is_some_and(|n| n == p.proxy || p.trailing.contains(&n)))
    };
    for at in 0..names.len() {
        if placed[at] || waiting(at) {
            continue;
        }
        placed[at] = true;
        order.push(at);
        for (_, profile) in anchors.iter().filter(|(anchor, _)| *anchor == at) {
            place(&profile.proxy, &mut placed, &mut order);
            for trailing in profile.trailing {
                place(trailing, &mut placed, &mut order);
            }
        }
    }
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

    fn consul(proxy: &str, setup: &str) -> Profile<'static> {
        Profile {
            proxy: proxy.to_owned().into(),
            setup: crate::profile::Setup::Named(setup.to_owned()),
            ..Profile::of_mesh(mesh::by_id("consul").unwrap())
        }
    }

    #[rstest]
    // Classic: the dataplane joins the end, and goes right after its init container, which stays
    // after the user's init containers.
    #[case(&["wait-db", "consul-connect-inject-init", "consul-dataplane"], &["wait-db", "consul-connect-inject-init", "consul-dataplane"])]
    #[case(&["consul-connect-inject-init", "vault-agent-init", "consul-dataplane"], &["consul-connect-inject-init", "consul-dataplane", "vault-agent-init"])]
    #[case(&["consul-dataplane", "wait-db", "consul-connect-inject-init"], &["wait-db", "consul-connect-inject-init", "consul-dataplane"])]
    #[case(&["consul-dataplane", "app-init"], &["consul-dataplane", "app-init"])]
    fn consul_layout(#[case] input: &[&str], #[case] expected: &[&str]) {
        let consul = consul("consul-dataplane", "consul-connect-inject-init");
        assert_eq!(reorder(input, &[&consul]), expected);
        assert_eq!(misplaced(&names(expected), &[&consul]), vec![]);
    }

    #[test]
    fn consul_pairs_by_service() {
        let (api, admin) = (
            consul("consul-dataplane-api", "consul-connect-inject-init-api"),
            consul("consul-dataplane-admin", "consul-connect-inject-init-admin"),
        );
        let input = &[
            "consul-connect-inject-init-api",
            "consul-connect-inject-init-admin",
            "consul-dataplane-admin",
            "consul-dataplane-api",
        ];
        assert_eq!(
            misplaced(&names(input), &[&api, &admin]),
            vec![(
                3,
                Misplacement::NotAfterSetup {
                    setup: "consul-connect-inject-init-api".into()
                }
            )]
        );
        assert_eq!(
            reorder(input, &[&api, &admin]),
            [
                "consul-connect-inject-init-api",
                "consul-dataplane-api",
                "consul-connect-inject-init-admin",
                "consul-dataplane-admin"
            ]
        );
        let misplaced_init = &["consul-dataplane-api", "consul-connect-inject-init-api"];
        assert_eq!(
            misplaced(&names(misplaced_init), &[&api]),
            vec![(
                1,
                Misplacement::SetupAfterProxy {
                    proxy: "consul-dataplane-api".into()
                }
            )]
        );
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
