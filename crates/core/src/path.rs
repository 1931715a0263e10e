//! `Value::pointer` for the core's own constant pointers (`Kind::spec_pointer`,
//! `Kind::metadata_pointers`, a few fixed fields), without its cost: serde_json unescapes every
//! token into a new `String` (`~1`, `~0`), and on an Istio Deployment that was a third of the
//! review's instructions, more in WebAssembly where allocation is dearer. These pointers hold no
//! escapes and no array indices (tested below), so walking object keys finds what `pointer` finds.

use serde_json::Value;

pub(crate) fn at<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    let mut tokens = pointer.split('/');
    if tokens.next() != Some("") {
        return (pointer.is_empty()).then_some(value);
    }
    tokens.try_fold(value, |value, token| value.as_object()?.get(token))
}

pub(crate) fn at_mut<'v>(value: &'v mut Value, pointer: &str) -> Option<&'v mut Value> {
    let mut tokens = pointer.split('/');
    if tokens.next() != Some("") {
        return (pointer.is_empty()).then_some(value);
    }
    tokens.try_fold(value, |value, token| value.as_object_mut()?.get_mut(token))
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
