//! Field paths, field ownership (`metadata.managedFields` in the `FieldsV1` format) and the
//! merge rules of server-side apply. Maps are merged key by key; lists and scalars are atomic.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A path of map keys from the object's root: `["spec", "replicas"]`.
pub(crate) type Path = Vec<String>;
/// The leaf paths a manager owns.
pub(crate) type FieldSet = BTreeSet<Path>;

/// Metadata fields a client may own; the rest of `metadata` belongs to the server.
const USER_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// `.spec.replicas` for `["spec","replicas"]`.
pub(crate) fn path_string(p: &Path) -> String {
    p.iter().map(|s| format!(".{s}")).collect()
}

/// Whether one path is a prefix of the other (or they are equal).
pub(crate) fn related(a: &Path, b: &Path) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// The part of an applied configuration a manager can own: no `apiVersion`, `kind` or
/// `status`, and from `metadata` only labels, annotations, finalizers and owner references.
/// `null` values are dropped.
pub(crate) fn user_fields(v: &Value) -> Value {
    let mut out = Map::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            match k.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    let mut meta = Map::new();
                    if let Some(m) = val.as_object() {
                        for (mk, mv) in m {
                            if USER_METADATA.contains(&mk.as_str()) && !mv.is_null() {
                                meta.insert(mk.clone(), drop_nulls(mv));
                            }
                        }
                    }
                    if !meta.is_empty() {
                        out.insert(k.clone(), Value::Object(meta));
                    }
                }
                _ if val.is_null() => {}
                _ => {
                    out.insert(k.clone(), drop_nulls(val));
                }
            }
        }
    }
    Value::Object(out)
}

fn drop_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), drop_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every leaf path of `v`: scalars, lists and empty maps.
pub(crate) fn leaf_paths(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    walk(v, &mut path, &mut out);
    out
}

fn walk(v: &Value, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.push(k.clone());
                walk(v, path, out);
                path.pop();
            }
        }
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

/// The value at `path`, if any.
pub(crate) fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

/// Removes the value at `path`, then any map on the way that became empty.
pub(crate) fn remove_path(v: &mut Value, path: &[String]) {
    fn rec(v: &mut Value, path: &[String]) -> bool {
        let Some(m) = v.as_object_mut() else {
            return false;
        };
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        if rest.is_empty() {
            m.shift_remove(first);
        } else if let Some(child) = m.get_mut(first) {
            if rec(child, rest) {
                m.shift_remove(first);
            }
        }
        m.is_empty()
    }
    rec(v, path);
}

/// Merges `patch` into `target`: maps key by key, everything else replaced; `null` removes.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, pv) in p {
                if pv.is_null() {
                    t.shift_remove(k);
                } else if let Some(tv) = t.get_mut(k) {
                    if tv.is_object() && pv.is_object() {
                        merge(tv, pv);
                    } else {
                        *tv = strip_nulls(pv);
                    }
                } else {
                    t.insert(k.clone(), strip_nulls(pv));
                }
            }
        }
        _ => *target = strip_nulls(patch),
    }
}

fn strip_nulls(v: &Value) -> Value {
    drop_nulls(v)
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

/// Reads `metadata.managedFields` of an object.
pub(crate) fn parse_managed(obj: &Value) -> Vec<ManagedEntry> {
    let Some(list) = obj
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            let mut fields = FieldSet::new();
            if let Some(f) = e.get("fieldsV1") {
                let mut path = Vec::new();
                from_v1(f, &mut path, &mut fields);
            }
            Some(ManagedEntry {
                manager: s("manager")?,
                operation: s("operation").unwrap_or_else(|| "Update".into()),
                api_version: s("apiVersion").unwrap_or_default(),
                time: s("time").unwrap_or_default(),
                subresource: s("subresource"),
                fields,
            })
        })
        .collect()
}

fn from_v1(v: &Value, path: &mut Path, out: &mut FieldSet) {
    let children: Vec<(&String, &Value)> = v
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
        .unwrap_or_default();
    if children.is_empty() {
        if !path.is_empty() {
            out.insert(path.clone());
        }
        return;
    }
    for (k, child) in children {
        path.push(k[2..].to_string());
        from_v1(child, path, out);
        path.pop();
    }
}

/// The `FieldsV1` form of a field set: `{"f:spec":{"f:replicas":{}}}`.
pub(crate) fn to_v1(fields: &FieldSet) -> Value {
    let mut root = Value::Object(Map::new());
    for p in fields {
        let mut cur = &mut root;
        for seg in p {
            let Some(m) = cur.as_object_mut() else { break };
            cur = m
                .entry(format!("f:{seg}"))
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    root
}

/// The `metadata.managedFields` list for these entries.
pub(crate) fn render_managed(entries: &[ManagedEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("manager".into(), Value::String(e.manager.clone()));
                m.insert("operation".into(), Value::String(e.operation.clone()));
                m.insert("apiVersion".into(), Value::String(e.api_version.clone()));
                m.insert("time".into(), Value::String(e.time.clone()));
                m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
                m.insert("fieldsV1".into(), to_v1(&e.fields));
                if let Some(s) = &e.subresource {
                    m.insert("subresource".into(), Value::String(s.clone()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Path {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn leaf_paths_and_v1_round_trip() {
        let v = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "a"}]}}, "empty": {}}});
        let f = leaf_paths(&v);
        assert!(f.contains(&p("spec.replicas")));
        assert!(f.contains(&p("spec.template.spec.containers")));
        assert!(f.contains(&p("spec.empty")));
        assert_eq!(f.len(), 3);
        let v1 = to_v1(&f);
        assert_eq!(v1["f:spec"]["f:replicas"], json!({}));
        let mut back = FieldSet::new();
        from_v1(&v1, &mut Vec::new(), &mut back);
        assert_eq!(back, f);
    }

    #[test]
    fn user_fields_drop_server_metadata_and_status() {
        let v = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"x": "1"}, "resourceVersion": "3"}, "spec": {"a": 1, "b": null}, "status": {"s": 1}});
        assert_eq!(
            user_fields(&v),
            json!({"metadata": {"labels": {"x": "1"}}, "spec": {"a": 1}})
        );
    }

    #[test]
    fn merge_and_remove() {
        let mut t = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge(&mut t, &json!({"a": {"c": [3], "e": 2}, "d": null}));
        assert_eq!(t, json!({"a": {"b": 1, "c": [3], "e": 2}}));
        remove_path(&mut t, &p("a.b"));
        remove_path(&mut t, &p("a.c"));
        remove_path(&mut t, &p("a.e"));
        assert_eq!(t, json!({}));
        assert!(related(&p("a.b"), &p("a")));
        assert!(!related(&p("a.b"), &p("a.c")));
        assert_eq!(path_string(&p("spec.replicas")), ".spec.replicas");
    }
}
