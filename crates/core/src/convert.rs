//! Moves classic proxies into `initContainers` as native sidecars and lays the init containers out
//! the way the meshes render native mode.

use serde_json::{Map, Value};

use crate::mesh::{LifecycleEdit, NativeEdit};
use crate::order;
use crate::pod::name;
use crate::profile::Profile;

/// A proxy to convert: its index in `containers`, and how its fields change.
pub(crate) struct Conversion<'a> {
    pub at: usize,
    pub edit: &'a NativeEdit,
}

/// Edits the pod spec: the proxies of `conversions` leave `containers` and join `initContainers`
/// with `restartPolicy: Always`, and the init container fields the meshes render differently in
/// native mode change; then the init containers take the canonical layout of `profiles`. Other
/// containers keep their relative order and every field the move does not name.
pub(crate) fn to_native(
    spec: &mut Map<String, Value>,
    conversions: &[Conversion],
    profiles: &[&Profile],
) {
    let mut moved = Vec::with_capacity(conversions.len());
    if let Some(Value::Array(containers)) = spec.get_mut("containers") {
        // From the last container down, so that each removal leaves the other indices as they were.
        for at in (0..containers.len()).rev() {
            let Some(conversion) = conversions.iter().find(|c| c.at == at) else {
                continue;
            };
            let mut proxy = containers.remove(at);
            if let Some(fields) = proxy.as_object_mut() {
                fields.insert("restartPolicy".to_owned(), Value::from("Always"));
                apply(fields, conversion.edit);
            }
            moved.push(proxy);
        }
    }
    let init = spec
        .entry("initContainers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !init.is_array() {
        *init = Value::Array(Vec::new());
    }
    let Some(init) = init.as_array_mut() else {
        return;
    };
    // The edits' indices are those of the list as read: before the proxies join it.
    for edit in conversions.iter().flat_map(|c| &c.edit.init_fields) {
        if let Some(field) = init.get_mut(edit.at).and_then(|c| c.get_mut(edit.field)) {
            *field = edit.value.clone();
        }
    }
    init.extend(moved);
    let names: Vec<Option<&str>> = init.iter().map(name).collect();
    let layout = order::canonical(&names, profiles);
    let mut slots: Vec<Option<Value>> = std::mem::take(init).into_iter().map(Some).collect();
    init.extend(layout.into_iter().filter_map(|at| slots[at].take()));
}

/// Edits an existing field in place (its position in the object kept); adds missing ones last.
fn apply(proxy: &mut Map<String, Value>, edit: &NativeEdit) {
    match &edit.lifecycle {
        LifecycleEdit::Keep => {}
        LifecycleEdit::Remove => {
            proxy.shift_remove("lifecycle");
        }
        LifecycleEdit::Set(lifecycle) => {
            proxy.insert("lifecycle".to_owned(), lifecycle.clone());
        }
    }
    if let Some(probe) = &edit.startup_probe {
        let slot = proxy.entry("startupProbe").or_insert(Value::Null);
        if slot.is_null() || edit.replaces_startup_probe {
            *slot = probe.clone();
        }
    }
}
