//! `Value::pointer` for the core's own constant pointers (`Kind::spec_pointer`,
//! `Kind::metadata_pointers`, a few fixed fields), without its cost: serde_json unescapes every
//! token into a new `String` (`~1`, `~0`), and on an Istio Deployment that was a third of the
//! review's instructions, more in WebAssembly where allocation is dearer. These pointers hold no
//! escapes and no array indices (tested below), so walking object keys finds what `pointer` finds.

use serde_json::{Map, Value};

/// Up to this many members, a key is found by comparing the keys in order.
const SCANNED: usize = 16;

/// `map.get(key)` for the small objects of a pod spec (a container, its resources, metadata):
/// up to 16 members the keys are compared in order, a fraction of the cost of hashing the key
/// with SipHash in WebAssembly, as `get` does. Keys are unique, so both find the same member.
pub(crate) fn field<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= SCANNED {
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get(key)
    }
}

/// [`field`] for editing.
pub(crate) fn field_mut<'v>(map: &'v mut Map<String, Value>, key: &str) -> Option<&'v mut Value> {
    if map.len() <= SCANNED {
        map.iter_mut().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get_mut(key)
    }
}

/// `value.get(key)` through [`field`]: the member of an object, `None` for anything else.
pub(crate) fn get<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    field(value.as_object()?, key)
}

pub(crate) fn at<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    let mut tokens = pointer.split('/');
    if tokens.next() != Some("") {
        return (pointer.is_empty()).then_some(value);
    }
    tokens.try_fold(value, |value, token| field(value.as_object()?, token))
}

pub(crate) fn at_mut<'v>(value: &'v mut Value, pointer: &str) -> Option<&'v mut Value> {
    let mut tokens = pointer.split('/');
    if tokens.next() != Some("") {
        return (pointer.is_empty()).then_some(value);
    }
    tokens.try_fold(value, |value, token| {
        field_mut(value.as_object_mut()?, token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::ALL_KINDS;
    use serde_json::json;

    fn constant_pointers() -> Vec<&'static str> {
        let mut pointers = vec![
            "/spec/hostNetwork",
            "/subResource",
            "/kind/group",
            "/kind/kind",
            "/operation",
        ];
        for kind in ALL_KINDS {
            pointers.push(kind.spec_pointer());
            pointers.extend(kind.metadata_pointers());
        }
        pointers
    }

    #[test]
    fn constant_pointers_need_no_unescaping_or_indices() {
        for pointer in constant_pointers() {
            assert!(
                pointer.starts_with('/') && !pointer.contains('~'),
                "{pointer}"
            );
            for token in pointer.split('/').skip(1) {
                assert!(token.parse::<usize>().is_err(), "{pointer}");
            }
        }
    }

    #[test]
    fn fields_are_found_as_get_finds_them() {
        for size in [0, 1, 2, 15, 16, 17, 40] {
            let mut map: Map<String, Value> =
                (0..size).map(|i| (format!("k{i}"), json!(i))).collect();
            for key in ["k0", "k1", "k15", "k16", "k39", "absent", ""] {
                assert_eq!(field(&map, key), map.get(key), "{key} of {size}");
                assert_eq!(get(&Value::Object(map.clone()), key), map.get(key));
                let expected = map.get(key).cloned();
                assert_eq!(field_mut(&mut map, key).map(|v| v.clone()), expected);
            }
        }
        assert_eq!(get(&json!([1]), "0"), None);
    }

    #[test]
    fn finds_what_pointer_finds() {
        let documents = [
            json!({"spec": {"template": {"spec": {"containers": []}, "metadata": {"a": 1}},
                            "jobTemplate": {"spec": {"template": {"spec": 1, "metadata": null}}, "metadata": "x"},
                            "hostNetwork": true},
                   "metadata": {"annotations": {}}, "kind": {"group": "", "kind": "Pod"},
                   "subResource": "status", "operation": "CREATE"}),
            json!({"spec": [1, 2], "metadata": "text", "kind": null}),
            json!({"spec": {"template": [{"spec": 1}]}}),
            json!([1, 2, 3]),
            json!(null),
        ];
        for document in documents {
            for pointer in constant_pointers()
                .into_iter()
                .chain(["", "/", "spec", "/nope/x"])
            {
                assert_eq!(
                    at(&document, pointer),
                    document.pointer(pointer),
                    "{pointer} in {document}"
                );
                let mut copy = document.clone();
                let mut other = document.clone();
                assert_eq!(
                    at_mut(&mut copy, pointer),
                    other.pointer_mut(pointer),
                    "{pointer}"
                );
            }
        }
    }
}
