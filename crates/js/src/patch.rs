//! The patch the package and the playground show: RFC 6902 operations that read as what the
//! policy did. `json_patch::diff`, which policy-server sends, compares lists index by index, so a
//! proxy that moves from `containers` to `initContainers` shows as every later container being
//! replaced field by field. Here containers are followed by name instead: each container that
//! changes list or place is one `move`, and only then are the objects diffed, containers aligned,
//! so that what is left is the few fields that changed (`restartPolicy`, probes, annotations).

use json_patch::jsonptr::PointerBuf;
use json_patch::{
    AddOperation, MoveOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation,
};
use serde_json::Value;

/// The container lists of a pod spec in start order; a proxy the policy converts goes from the
/// second to the first.
const LISTS: [&str; 2] = ["initContainers", "containers"];

/// RFC 6902 operations that turn `before` into `after`: the containers of the pod spec at JSON
/// pointer `spec` moved, added and removed by name, then `json_patch::diff` of the rest. Applied to
/// `before` they give `after`. When containers cannot be told apart by name (one without a name,
/// a name used twice, a list that is not a list), the whole patch is `json_patch::diff`'s.
pub fn readable(before: &Value, after: &Value, spec: &str) -> Patch {
    let mut current = before.clone();
    let mut operations = match container_moves(&mut current, after, spec) {
        Some(operations) => operations,
        None => {
            current = before.clone();
            Vec::new()
        }
    };
    operations.extend(json_patch::diff(&current, after).0);
    Patch(operations)
}

/// The operations that put the containers of `current` in the lists and order they have in
/// `after`, applied to `current` as they are chosen. `None` leaves `current` half edited: the
/// caller starts again from the input.
fn container_moves(current: &mut Value, after: &Value, spec: &str) -> Option<Vec<PatchOperation>> {
    let target = names(after.pointer(spec)?)?;
    // The input's containers must be told apart by name as well.
    names(current.pointer(spec)?)?;
    let wanted: Vec<&String> = target.iter().flatten().collect();
    let mut editor = Editor {
        current,
        spec,
        operations: Vec::new(),
    };
    // Containers that go are removed first, so that the moves count only containers that stay.
    for list in LISTS {
        for (index, name) in editor.names(list)?.iter().enumerate().rev() {
            if !wanted.contains(&name) {
                editor.remove(list, index)?;
            }
        }
    }
    for (list, order) in LISTS.into_iter().zip(&target) {
        // The containers already in this list in the right relative order stay where they are;
        // the others move in, each right after the container that precedes it in `after`. So
        // the containers placed so far are always in `after`'s order, and at the end the list
        // is exactly `after`'s (containers bound for the other list leave it in its own turn).
        let staying = longest_common_subsequence(&editor.names(list)?, order);
        for (position, name) in order.iter().enumerate() {
            if staying.contains(&name) {
                continue;
            }
            let predecessor = position.checked_sub(1).map(|p| &order[p]);
            match editor.find(name)? {
                Some((from_list, from_index)) => {
                    editor.move_to(name, (from_list, from_index), list, predecessor)?
                }
                None => {
                    let value = after.pointer(&format!("{spec}/{list}/{position}"))?.clone();
                    editor.add(list, name, predecessor, value)?;
                }
            }
        }
    }
    Some(editor.operations)
}

/// The container names of a pod spec, per list of [`LISTS`]; `None` unless every container has a
/// name and no name is used twice (Kubernetes requires both across the lists).
fn names(spec: &Value) -> Option<[Vec<String>; 2]> {
    // A handful of containers: a list is smaller in wasm than a hash set, and as fast.
    let mut seen: Vec<String> = Vec::new();
    let mut read = |list: &str| -> Option<Vec<String>> {
        let items = match spec.get(list) {
            None | Some(Value::Null) => return Some(Vec::new()),
            Some(items) => items.as_array()?,
        };
        items
            .iter()
            .map(|c| {
                let name = c.get("name")?.as_str()?.to_owned();
                if seen.contains(&name) {
                    return None;
                }
                seen.push(name.clone());
                Some(name)
            })
            .collect()
    };
    Some([read(LISTS[0])?, read(LISTS[1])?])
}

/// The names common to `present` and `wanted` in an order both share, as many as can be: the
/// containers that need not move.
fn longest_common_subsequence<'a>(present: &[String], wanted: &'a [String]) -> Vec<&'a String> {
    // lengths[i][j]: the longest common subsequence of present[i..] and wanted[j..].
    let mut lengths = vec![vec![0usize; wanted.len() + 1]; present.len() + 1];
    for i in (0..present.len()).rev() {
        for j in (0..wanted.len()).rev() {
            lengths[i][j] = if present[i] == wanted[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let mut common = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < present.len() && j < wanted.len() {
        if present[i] == wanted[j] {
            common.push(&wanted[j]);
            i += 1;
            j += 1;
        } else if lengths[i + 1][j] > lengths[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    common
}

/// Chooses operations and makes each on the object at once, so that every index it writes is
/// the one RFC 6902 resolves at that point of the patch. It edits the lists itself rather than
/// through `json_patch::patch`, whose pointer resolution and errors would add a tenth to the
/// package's wasm for operations whose paths it has just read.
struct Editor<'a> {
    current: &'a mut Value,
    spec: &'a str,
    operations: Vec<PatchOperation>,
}

impl Editor<'_> {
    fn names(&self, list: &str) -> Option<Vec<String>> {
        let spec = self.current.pointer(self.spec)?;
        let [init, containers] = names(spec)?;
        Some(if list == LISTS[0] { init } else { containers })
    }

    /// Where the container named `name` is: `Some(None)` when it is in neither list.
    fn find(&self, name: &str) -> Option<Option<(&'static str, usize)>> {
        for list in LISTS {
            if let Some(index) = self.names(list)?.iter().position(|n| n == name) {
                return Some(Some((list, index)));
            }
        }
        Some(None)
    }

    fn list_mut(&mut self, list: &str) -> Option<&mut Vec<Value>> {
        self.current
            .pointer_mut(self.spec)?
            .get_mut(list)?
            .as_array_mut()
    }

    /// `{spec}/{list}`, or `{spec}/{list}/{index}`.
    fn pointer(&self, list: &str, index: Option<usize>) -> PointerBuf {
        let index = index.map(|i| i.to_string());
        let tokens = self.spec.split('/').skip(1).chain([list]);
        PointerBuf::from_tokens(tokens.chain(index.as_deref()))
    }

    /// Where `name` goes in `list` to follow `predecessor` (first when `None`). RFC 6902 takes a
    /// moved value out before it resolves `path`, so `name` itself is not counted.
    fn index_after(&self, list: &str, name: &str, predecessor: Option<&String>) -> Option<usize> {
        let Some(predecessor) = predecessor else {
            return Some(0);
        };
        let names = self.names(list)?;
        let position = names
            .iter()
            .filter(|n| *n != name)
            .position(|n| n == predecessor)?;
        Some(position + 1)
    }

    fn take(&mut self, list: &str, index: usize) -> Option<Value> {
        let items = self.list_mut(list)?;
        (index < items.len()).then(|| items.remove(index))
    }

    fn put(&mut self, list: &str, index: usize, value: Value) -> Option<()> {
        let items = self.list_mut(list)?;
        (index <= items.len()).then(|| items.insert(index, value))
    }

    fn remove(&mut self, list: &str, index: usize) -> Option<()> {
        self.take(list, index)?;
        let path = self.pointer(list, Some(index));
        self.operations
            .push(PatchOperation::Remove(RemoveOperation { path }));
        Some(())
    }

    fn move_to(
        &mut self,
        name: &str,
        from: (&str, usize),
        list: &str,
        predecessor: Option<&String>,
    ) -> Option<()> {
        self.ensure_list(list)?;
        let index = self.index_after(list, name, predecessor)?;
        let value = self.take(from.0, from.1)?;
        self.put(list, index, value)?;
        let (from, path) = (
            self.pointer(from.0, Some(from.1)),
            self.pointer(list, Some(index)),
        );
        self.operations
            .push(PatchOperation::Move(MoveOperation { from, path }));
        Some(())
    }

    fn add(
        &mut self,
        list: &str,
        name: &str,
        predecessor: Option<&String>,
        value: Value,
    ) -> Option<()> {
        self.ensure_list(list)?;
        let index = self.index_after(list, name, predecessor)?;
        self.put(list, index, value.clone())?;
        let path = self.pointer(list, Some(index));
        self.operations
            .push(PatchOperation::Add(AddOperation { path, value }));
        Some(())
    }

    /// A pod spec without init containers gets an empty list for the first one to move into.
    fn ensure_list(&mut self, list: &str) -> Option<()> {
        let spec = self.current.pointer_mut(self.spec)?.as_object_mut()?;
        // None: no such key; Some(true): null.
        let null = spec.get(list).map(Value::is_null);
        if null == Some(false) {
            return Some(());
        }
        spec.insert(list.to_owned(), Value::Array(Vec::new()));
        let (path, value) = (self.pointer(list, None), Value::Array(Vec::new()));
        self.operations.push(if null == Some(true) {
            PatchOperation::Replace(ReplaceOperation { path, value })
        } else {
            PatchOperation::Add(AddOperation { path, value })
        });
        Some(())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    fn container(name: &str) -> Value {
        json!({"name": name, "image": format!("{name}:1")})
    }

    /// A Pod, or a Deployment whose pod spec is its template's, with these container names.
    fn object(template: bool, init: &[String], containers: &[String], omit_empty: bool) -> Value {
        let mut spec = serde_json::Map::new();
        for (key, names) in [("initContainers", init), ("containers", containers)] {
            if !(names.is_empty() && omit_empty) {
                let list = names.iter().map(|n| container(n)).collect();
                spec.insert(key.to_owned(), Value::Array(list));
            }
        }
        let spec = Value::Object(spec);
        if template {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
                   "spec": {"replicas": 1, "template": {"metadata": {}, "spec": spec}}})
        } else {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"}, "spec": spec})
        }
    }

    fn applied(before: &Value, patch: &Patch) -> Value {
        let mut document = before.clone();
        json_patch::patch(&mut document, patch).expect("the patch applies");
        document
    }

    /// The length of the longest increasing subsequence, by patience: an independent way to the
    /// longest run of containers that keep their relative order.
    fn longest_increasing(values: &[usize]) -> usize {
        let mut tails: Vec<usize> = Vec::new();
        for &value in values {
            match tails.binary_search(&value) {
                Ok(_) => {}
                Err(at) if at == tails.len() => tails.push(value),
                Err(at) => tails[at] = value,
            }
        }
        tails.len()
    }

    /// The fewest moves that can do it: one per container that changes list, and per list, the
    /// containers that stay in it less the most that can keep their relative order.
    fn fewest_moves(before: &[&[String]; 2], after: &[&[String]; 2]) -> usize {
        let mut moves = 0;
        for (list, wanted) in after.iter().enumerate() {
            let other = &before[1 - list];
            moves += wanted.iter().filter(|n| other.contains(n)).count();
            let staying: Vec<usize> = before[list]
                .iter()
                .filter_map(|n| wanted.iter().position(|w| w == n))
                .collect();
            moves += staying.len() - longest_increasing(&staying);
        }
        moves
    }

    fn whole_container(spec: &str, path: &str) -> bool {
        LISTS.iter().any(|list| {
            path.strip_prefix(&format!("{spec}/{list}/"))
                .is_some_and(|index| index.parse::<usize>().is_ok())
        })
    }

    /// Containers c0.. in `before_order`, the first `before_split` of them init containers; after,
    /// those `kept` (and n0, n1 when `kept` says so) in `after_order`, split the same way, with
    /// `restartPolicy: Always` on those `edited`.
    fn reordering() -> impl Strategy<
        Value = (
            Vec<String>,
            usize,
            Vec<String>,
            usize,
            Vec<bool>,
            bool,
            bool,
        ),
    > {
        (1..=7usize).prop_flat_map(|n| {
            let all: Vec<String> = (0..n)
                .map(|i| format!("c{i}"))
                .chain(["n0".into(), "n1".into()])
                .collect();
            let originals = all[..n].to_vec();
            (
                Just(originals).prop_shuffle(),
                0..=n,
                Just(all.clone()).prop_shuffle(),
                proptest::collection::vec(proptest::bool::weighted(0.85), n + 2),
                0..=n + 2,
                proptest::collection::vec(proptest::bool::weighted(0.3), n + 2),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(
                    move |(
                        before,
                        before_split,
                        shuffled,
                        kept,
                        after_split,
                        edited,
                        template,
                        omit,
                    )| {
                        let after: Vec<String> = shuffled
                            .into_iter()
                            .filter(|name| {
                                let index = all.iter().position(|a| a == name).unwrap_or(0);
                                // The originals survive when kept; n0 and n1 are added only when not.
                                (index < n) == kept[index]
                            })
                            .collect();
                        let after_split = after_split.min(after.len());
                        (
                            before,
                            before_split,
                            after,
                            after_split,
                            edited,
                            template,
                            omit,
                        )
                    },
                )
        })
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleep"}, "spec": spec})
    }

    #[rstest]
    #[case::a_proxy_into_the_init_containers_and_setup_first(
        json!({"initContainers": [{"name": "check-traffic"}, {"name": "istio-init"}],
               "containers": [{"name": "sleep"}, {"name": "istio-proxy"}]}),
        json!({"initContainers": [{"name": "istio-init"}, {"name": "istio-proxy", "restartPolicy": "Always"}, {"name": "check-traffic"}],
               "containers": [{"name": "sleep"}]}),
        json!([
            {"op": "move", "from": "/spec/initContainers/1", "path": "/spec/initContainers/0"},
            {"op": "move", "from": "/spec/containers/1", "path": "/spec/initContainers/1"},
            {"op": "add", "path": "/spec/initContainers/1/restartPolicy", "value": "Always"},
        ])
    )]
    #[case::the_first_init_container(
        json!({"containers": [{"name": "istio-proxy"}, {"name": "app"}]}),
        json!({"initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
        json!([
            {"op": "add", "path": "/spec/initContainers", "value": []},
            {"op": "move", "from": "/spec/containers/0", "path": "/spec/initContainers/0"},
            {"op": "add", "path": "/spec/initContainers/0/restartPolicy", "value": "Always"},
        ])
    )]
    #[case::an_init_container_after_the_proxy(
        json!({"initContainers": [{"name": "check-traffic"}, {"name": "istio-init"}, {"name": "istio-proxy", "restartPolicy": "Always"}]}),
        json!({"initContainers": [{"name": "istio-init"}, {"name": "istio-proxy", "restartPolicy": "Always"}, {"name": "check-traffic"}]}),
        json!([{"op": "move", "from": "/spec/initContainers/0", "path": "/spec/initContainers/2"}])
    )]
    fn containers_are_moved_by_name(
        #[case] before: Value,
        #[case] after: Value,
        #[case] expected: Value,
    ) {
        let (before, after) = (pod(before), pod(after));
        let patch = readable(&before, &after, "/spec");
        assert_eq!(serde_json::to_value(&patch).unwrap(), expected);
        assert_eq!(applied(&before, &patch), after);
    }

    /// Containers that cannot be followed by name are left to `json_patch::diff`.
    #[rstest]
    #[case::an_unnamed_container(json!({"containers": [{"image": "app"}, {"name": "istio-proxy"}]}), "/spec")]
    #[case::a_name_used_twice(json!({"initContainers": [{"name": "app"}], "containers": [{"name": "app"}, {"name": "istio-proxy"}]}), "/spec")]
    #[case::a_list_that_is_not_a_list(json!({"initContainers": "istio-init", "containers": [{"name": "istio-proxy"}]}), "/spec")]
    #[case::no_pod_spec_there(json!({"containers": [{"name": "app"}, {"name": "istio-proxy"}]}), "/spec/template/spec")]
    fn containers_without_a_name_of_their_own_are_diffed(
        #[case] spec: Value,
        #[case] pointer: &str,
    ) {
        let before = pod(spec);
        let mut after = before.clone();
        let containers = after["spec"]["containers"].as_array_mut().unwrap();
        let proxy = containers.pop().unwrap();
        containers.insert(0, proxy);
        after["metadata"]["annotations"] = json!({"moved": "yes"});
        let patch = readable(&before, &after, pointer);
        assert_eq!(patch, json_patch::diff(&before, &after));
        assert_eq!(applied(&before, &patch), after);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn any_reordering_is_the_fewest_moves_then_the_edits(
            (before, before_split, after, after_split, edited, template, omit) in reordering()
        ) {
            let (before_init, before_regular) = before.split_at(before_split);
            let (after_init, after_regular) = after.split_at(after_split);
            let input = object(template, before_init, before_regular, omit);
            let mut output = object(template, after_init, after_regular, omit);
            let spec = if template { "/spec/template/spec" } else { "/spec" };
            // The edits: restartPolicy on the containers that were there before, picked by their
            // place in the output (a container that is added comes whole).
            let mut edits = 0;
            let places = after_init.iter().map(|n| ("initContainers", n)).enumerate();
            let places = places.chain(after_regular.iter().map(|n| ("containers", n)).enumerate());
            for (index, (list, name)) in places {
                let position = if list == "initContainers" { index } else { after_split + index };
                if edited[position] && before.contains(name) {
                    let pointer = format!("{spec}/{list}/{index}");
                    output.pointer_mut(&pointer).unwrap()["restartPolicy"] = json!("Always");
                    edits += 1;
                }
            }
            let patch = readable(&input, &output, spec);
            prop_assert_eq!(applied(&input, &patch), output.clone());

            let moves = patch.iter().filter(|op| matches!(op, PatchOperation::Move(_))).count();
            prop_assert_eq!(moves, fewest_moves(&[before_init, before_regular], &[after_init, after_regular]));
            let added = after.iter().filter(|n| n.starts_with('n')).count();
            let removed = before.iter().filter(|n| !after.contains(n)).count();
            let whole = |kind: &str| patch.iter().filter(|op| {
                let name = match op { PatchOperation::Add(_) => "add", PatchOperation::Remove(_) => "remove", _ => "" };
                name == kind && whole_container(spec, op.path().as_str())
            }).count();
            prop_assert_eq!(whole("add"), added);
            prop_assert_eq!(whole("remove"), removed);
            // Besides those: the edits, and creating or dropping an empty list.
            let rest = patch.len() - moves - added - removed;
            prop_assert!(rest >= edits && rest <= edits + 2, "{} other operations for {} edits: {}", rest, edits, patch);
        }
    }
}
