//! The containers of a pod spec as the rules read them: the two lists, names and restart policies.

use serde_json::Value;

use crate::describe::describe;

/// A container list of the pod spec; absent and null are empty.
pub(crate) fn list<'v>(
    spec: Option<&'v Value>,
    key: &str,
    path: &str,
) -> Result<&'v [Value], String> {
    match spec.and_then(|s| s.get(key)) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!(
            "{path}.{key} must be a list of containers, found {}",
            describe(other)
        )),
    }
}

pub(crate) fn positions(list: &[Value], wanted: &str) -> Vec<usize> {
    (0..list.len())
        .filter(|&at| name(&list[at]) == Some(wanted))
        .collect()
}

pub(crate) fn name(container: &Value) -> Option<&str> {
    container.get("name")?.as_str()
}

pub(crate) fn restart_policy(container: &Value) -> Option<&str> {
    match container.get("restartPolicy") {
        None | Some(Value::Null) => None,
        Some(Value::String(policy)) => Some(policy),
        Some(_) => Some("(not a string)"),
    }
}
