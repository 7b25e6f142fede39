//! Reading and trimming JSON objects as text, without building a `serde_json::Value`: the
//! top-level and `metadata` entries are read as raw JSON slices of the text.

use std::borrow::Cow;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

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

/// A live object's text, rewritten by [`rewrite`], and what it read on the way.
pub(super) struct Rewritten {
    pub text: String,
    pub id: ObjectRef,
    pub index: Index,
}

/// `text` with `apiVersion` and `kind` first and set from `type_meta` (when given), and
/// without `metadata.managedFields` unless `keep_managed_fields`; with its identity and
/// [`Index`], all in one pass over the text. `None` when `text` is not a JSON object or the
/// identity is incomplete (see [`crate::cluster::object_ref_of`]).
pub(super) fn rewrite(
    text: &str,
    type_meta: Option<(&str, &str)>,
    keep_managed_fields: bool,
) -> Option<Rewritten> {
    let top = entries(text)?;
    let meta = entries(get(&top, "metadata")?.get())?;
    let (api_version, kind) = match type_meta {
        Some((a, k)) => (a.to_string(), k.to_string()),
        None => (
            string(get(&top, "apiVersion")?)?,
            string(get(&top, "kind")?)?,
        ),
    };
    let id = ObjectRef {
        api_version,
        kind,
        namespace: get(&meta, "namespace")
            .and_then(string)
            .filter(|n| !n.is_empty()),
        name: string(get(&meta, "name")?)?,
    };
    let mut index = Index::default();
    let mut out = String::with_capacity(text.len());
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, key: &Cow<'_, str>| {
        if !first {
            out.push(',');
        }
        first = false;
        push_key(out, key);
        out.push(':');
    };
    if type_meta.is_some() {
        key(&mut out, &Cow::Borrowed("apiVersion"));
        out.push_str(&serde_json::Value::String(id.api_version.clone()).to_string());
        key(&mut out, &Cow::Borrowed("kind"));
        out.push_str(&serde_json::Value::String(id.kind.clone()).to_string());
    }
    for (k, v) in &top {
        if type_meta.is_some() && (k == "apiVersion" || k == "kind") {
            continue;
        }
        key(&mut out, k);
        if k != "metadata" {
            out.push_str(v.get());
            continue;
        }
        out.push('{');
        let mut first_meta = true;
        for (mk, mv) in &meta {
            if !keep_managed_fields && mk == "managedFields" {
                continue;
            }
            if !first_meta {
                out.push(',');
            }
            first_meta = false;
            push_key(&mut out, mk);
            out.push(':');
            let at = out.len();
            out.push_str(mv.get());
            match mk.as_ref() {
                "resourceVersion" => index.resource_version = string(mv),
                "labels" => {
                    index.tenant = entries(mv.get())
                        .and_then(|l| get(&l, TENANT_LABEL))
                        .and_then(string);
                }
                "annotations" => {
                    let literal = entries(mv.get())
                        .and_then(|a| get(&a, LAST_APPLIED_ANNOTATION))
                        .filter(|r| r.get().starts_with('"'));
                    if let Some(raw) = literal {
                        let start = at + (raw.get().as_ptr() as usize - mv.get().as_ptr() as usize);
                        index.last_applied = range(start, start + raw.get().len());
                    }
                }
                _ => {}
            }
        }
        out.push('}');
    }
    out.push('}');
    Some(Rewritten {
        text: out,
        id,
        index,
    })
}

fn range(start: usize, end: usize) -> Option<(u32, u32)> {
    Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
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
        idx.last_applied = range(start, start + raw.get().len());
    }
    idx
}

/// Parses `text`, keeping of each mapping only the keys that `guide` has at the same place
/// (where `guide` has a mapping); lists, scalars and values whose guide is not a mapping are
/// kept whole. Skipped values are scanned, never built.
pub(super) fn parse_within(text: &str, guide: &Value) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Guided(guide).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

struct Guided<'g>(&'g Value);

impl<'de> DeserializeSeed<'de> for Guided<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Value::Object(g) => d.deserialize_any(GuidedVisitor(g)),
            _ => Value::deserialize(d),
        }
    }
}

struct GuidedVisitor<'g>(&'g Map<String, Value>);

impl<'de> Visitor<'de> for GuidedVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match self.0.get(k.as_ref()) {
                Some(g) => {
                    let v = map.next_value_seed(Guided(g))?;
                    out.insert(k.into_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_within_keeps_what_the_guide_has() {
        let text = r#"{"a":{"b":1,"c":{"d":2}},"l":[{"x":1,"y":2}],"s":"t","n":{"m":[1]},"z":3}"#;
        let guide = json!({"a": {"c": {}}, "l": [{"x": 0}], "s": {"k": 1}, "n": 1});
        assert_eq!(
            parse_within(text, &guide).unwrap(),
            json!({"a": {"c": {}}, "l": [{"x": 1, "y": 2}], "s": "t", "n": {"m": [1]}})
        );
        assert!(parse_within("{} x", &guide).is_err());
    }

    #[test]
    fn rewrite_drops_managed_fields_and_sets_the_type() {
        let text = r#"{"metadata":{"name":"a","managedFields":[{"m":1}],"labels":{"x":"y"}},"spec":{"a\"b":1},"kind":"Old"}"#;
        let out = rewrite(text, Some(("v1", "ConfigMap")), false).unwrap();
        assert_eq!(out.id.to_string(), "ConfigMap/a");
        let v: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"a\"b": 1}})
        );
        assert!(rewrite(text, None, true).is_none(), "no apiVersion");
        let full = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n","managedFields":[]}}"#;
        let kept = rewrite(full, None, true).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&kept.text).unwrap(),
            serde_json::from_str::<Value>(full).unwrap()
        );
        assert!(rewrite("[1]", None, false).is_none());
    }

    #[test]
    fn index_finds_the_annotation_and_labels() {
        let v = json!({"metadata": {"resourceVersion": "7", "labels": {TENANT_LABEL: "acme"},
            "annotations": {LAST_APPLIED_ANNOTATION: "{\"a\":\"b\"}"}}});
        let text = v.to_string();
        let idx = index(&text);
        let mut with_id = v.clone();
        with_id["apiVersion"] = json!("v1");
        with_id["kind"] = json!("ConfigMap");
        with_id["metadata"]["name"] = json!("a");
        with_id["metadata"]["managedFields"] = json!([{"a": 1}]);
        let rewritten = rewrite(&with_id.to_string(), None, false).unwrap();
        let (s, e) = rewritten.index.last_applied.unwrap();
        assert_eq!(
            serde_json::from_str::<String>(&rewritten.text[s as usize..e as usize]).unwrap(),
            "{\"a\":\"b\"}"
        );
        assert_eq!(rewritten.index.tenant.as_deref(), Some("acme"));
        assert_eq!(rewritten.index.resource_version.as_deref(), Some("7"));
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
