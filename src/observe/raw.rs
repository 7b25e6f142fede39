//! Reading and trimming JSON objects as text, without building a `serde_json::Value`: the
//! top-level and `metadata` entries are read as raw JSON slices of the text.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::LAST_APPLIED_ANNOTATION;
use crate::object::{ObjectRef, TENANT_LABEL};

/// A key, borrowed from the text unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The entries of a JSON object in order, values as raw slices; a repeated key keeps its
/// first position and its last value, like a parsed `Value` (preserve_order) does.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut out: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(16);
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    match out.iter_mut().find(|(seen, _)| *seen == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

type Fields<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// The entries of `text` when it is a JSON object.
fn entries(text: &str) -> Option<Fields<'_>> {
    serde_json::from_str::<Entries<'_>>(text).ok().map(|e| e.0)
}

fn get<'a>(fields: &[(Cow<'a, str>, &'a RawValue)], key: &str) -> Option<&'a RawValue> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

// The variant tells whether the key had escapes: `&str` would lose that.
#[allow(clippy::ptr_arg)]
fn push_key(out: &mut String, key: &Cow<'_, str>) {
    match key {
        // Borrowed: the key had no escapes, so it needs none.
        Cow::Borrowed(k) => {
            out.push('"');
            out.push_str(k);
            out.push('"');
        }
        Cow::Owned(k) => out.push_str(&serde_json::Value::String(k.clone()).to_string()),
    }
}

/// `text` with `apiVersion` and `kind` first and set from `type_meta` (when given), and
/// without `metadata.managedFields` unless `keep_managed_fields`. `None` when `text` is not a
/// JSON object.
pub(super) fn rewrite(
    text: &str,
    type_meta: Option<(&str, &str)>,
    keep_managed_fields: bool,
) -> Option<String> {
    let top = entries(text)?;
    let mut out = String::with_capacity(text.len());
    out.push('{');
    let mut first = true;
    let mut field = |out: &mut String, key: &Cow<'_, str>, value: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        push_key(out, key);
        out.push(':');
        out.push_str(value);
    };
    if let Some((api_version, kind)) = type_meta {
        let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
        field(&mut out, &Cow::Borrowed("apiVersion"), &s(api_version));
        field(&mut out, &Cow::Borrowed("kind"), &s(kind));
    }
    for (k, v) in &top {
        if type_meta.is_some() && (k == "apiVersion" || k == "kind") {
            continue;
        }
        if k == "metadata" && !keep_managed_fields {
            if let Some(meta) = entries(v.get()) {
                let mut m = String::with_capacity(v.get().len());
                m.push('{');
                let mut first_meta = true;
                for (mk, mv) in meta.iter().filter(|(mk, _)| mk != "managedFields") {
                    if !first_meta {
                        m.push(',');
                    }
                    first_meta = false;
                    push_key(&mut m, mk);
                    m.push(':');
                    m.push_str(mv.get());
                }
                m.push('}');
                field(&mut out, k, &m);
                continue;
            }
        }
        field(&mut out, k, v.get());
    }
    out.push('}');
    Some(out)
}

/// The identity of an object from its text (see [`crate::cluster::object_ref_of`]).
pub(super) fn identity(text: &str) -> Option<ObjectRef> {
    let top = entries(text)?;
    let meta = entries(get(&top, "metadata")?.get())?;
    Some(ObjectRef {
        api_version: string(get(&top, "apiVersion")?)?,
        kind: string(get(&top, "kind")?)?,
        namespace: get(&meta, "namespace")
            .and_then(string)
            .filter(|n| !n.is_empty()),
        name: string(get(&meta, "name")?)?,
    })
}

/// The fields a [`super::LiveObject`] keeps at hand.
#[derive(Default)]
pub(super) struct Index {
    pub tenant: Option<String>,
    pub resource_version: Option<String>,
    pub last_applied: Option<(u32, u32)>,
}

pub(super) fn index(text: &str) -> Index {
    let mut idx = Index::default();
    let Some(top) = entries(text) else {
        return idx;
    };
    let Some(meta) = get(&top, "metadata").and_then(|m| entries(m.get())) else {
        return idx;
    };
    idx.resource_version = get(&meta, "resourceVersion").and_then(string);
    idx.tenant = get(&meta, "labels")
        .and_then(|l| entries(l.get()))
        .and_then(|l| get(&l, TENANT_LABEL))
        .and_then(string);
    let annotation = get(&meta, "annotations")
        .and_then(|a| entries(a.get()))
        .and_then(|a| get(&a, LAST_APPLIED_ANNOTATION));
    if let Some(raw) = annotation.filter(|r| r.get().starts_with('"')) {
        let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        let end = start + raw.get().len();
        if let (Ok(s), Ok(e)) = (u32::try_from(start), u32::try_from(end)) {
            idx.last_applied = Some((s, e));
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn rewrite_drops_managed_fields_and_sets_the_type() {
        let text = r#"{"metadata":{"name":"a","managedFields":[{"m":1}],"labels":{"x":"y"}},"spec":{"a\"b":1},"kind":"Old"}"#;
        let out = rewrite(text, Some(("v1", "ConfigMap")), false).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"a\"b": 1}})
        );
        let kept = rewrite(text, None, true).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&kept).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(rewrite("[1]", None, false).is_none());
    }

    #[test]
    fn index_finds_the_annotation_and_labels() {
        let v = json!({"metadata": {"resourceVersion": "7", "labels": {TENANT_LABEL: "acme"},
            "annotations": {LAST_APPLIED_ANNOTATION: "{\"a\":\"b\"}"}}});
        let text = v.to_string();
        let idx = index(&text);
        assert_eq!(idx.tenant.as_deref(), Some("acme"));
        assert_eq!(idx.resource_version.as_deref(), Some("7"));
        let (s, e) = idx.last_applied.unwrap();
        assert_eq!(
            serde_json::from_str::<String>(&text[s as usize..e as usize]).unwrap(),
            "{\"a\":\"b\"}"
        );
        let odd =
            json!({"metadata": {"labels": "nope", "annotations": {LAST_APPLIED_ANNOTATION: 1}}});
        let idx = index(&odd.to_string());
        assert!(idx.tenant.is_none() && idx.last_applied.is_none());
    }
}
