//! A quick, conservative "nothing to do" check for the common case of a plan: the live object
//! carries, as its last-applied annotation, exactly the desired manifest, and still has every
//! field the manifest sets.
//!
//! [`unchanged`] reads both texts without building `serde_json::Value` trees: the desired
//! manifest becomes a light tree of borrowed slices, and the live text is scanned against it,
//! fields the manifest does not set skipped unread. It answers `true` only where
//! [`super::diff::diff_object`] with `last` = desired would find no difference; anything it is
//! not sure about (a quantity spelled differently, a reordered associative list, odd shapes)
//! answers `false`, and the caller runs the full diff.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// Whether `live` (JSON text of the live object) sets every field that `desired` (compact
/// JSON of the desired manifest) sets to the very same value, so that a three-way diff whose
/// last-applied side equals `desired` finds nothing. `false` when unsure.
pub fn unchanged(desired: &str, live: &str) -> bool {
    let Ok(Tree::Map(guide)) = serde_json::from_str::<Tree<'_>>(desired) else {
        return false;
    };
    let guide = Tree::Map(guide);
    let mut de = serde_json::Deserializer::from_str(live);
    Check {
        guide: &guide,
        name: "",
        absent: &[],
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .is_ok()
}

/// A JSON value with strings and keys borrowed from the text where they had no escapes.
#[derive(Debug, PartialEq)]
enum Tree<'a> {
    Null,
    Bool(bool),
    /// Numbers keep the variant `serde_json` reads them as, so equal means equal `Number`s.
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Tree<'a>>),
    /// Entries in text order; keys unique (a repeated key fails the parse).
    Map(Vec<(Cow<'a, str>, Tree<'a>)>),
}

impl Tree<'_> {
    /// What the diff treats as "nothing" when the live side lacks it: Go's zero values,
    /// which an `omitempty` field drops (as `diff::is_go_zero`).
    fn is_go_zero(&self) -> bool {
        match self {
            Tree::Null => true,
            Tree::Map(m) => m.is_empty(),
            Tree::Seq(s) => s.is_empty(),
            Tree::Str(s) => s.is_empty(),
            Tree::Bool(b) => !b,
            Tree::U64(n) => *n == 0,
            Tree::I64(n) => *n == 0,
            Tree::F64(n) => *n == 0.0,
        }
    }

    fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Tree::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A dotted field (`metadata.name`), not null.
    fn field(&self, path: &str) -> Option<&Self> {
        let mut cur = self;
        for part in path.split('.') {
            cur = cur.get(part)?;
        }
        (*cur != Tree::Null).then_some(cur)
    }
}

impl<'de> Deserialize<'de> for Tree<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Tree<'de>, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Tree<'de>, E> {
        Ok(Tree::U64(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Tree<'de>, E> {
        Ok(Tree::I64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Tree<'de>, E> {
        Ok(Tree::F64(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Tree<'de>, E> {
        Ok(Tree::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Tree<'de>, E> {
        Ok(Tree::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Tree<'de>, E> {
        Ok(Tree::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Tree<'de>)> = Vec::with_capacity(8);
        while let Some(Key(k)) = map.next_key()? {
            if entries.iter().any(|(seen, _)| *seen == k) {
                return Err(de::Error::custom("repeated key"));
            }
            let v = map.next_value()?;
            entries.push((k, v));
        }
        Ok(Tree::Map(entries))
    }
}

/// A key, borrowed from the text unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Reads one live value and fails (stopping the scan) unless it matches `guide` on every
/// field `guide` sets. `name` is the key the value sits under, which decides whether a list
/// is associative.
struct Check<'g, 'a> {
    guide: &'g Tree<'a>,
    name: &'g str,
    /// Key fields of an associative list's element that the desired element lacks: the live
    /// element must lack them too (see [`positional_match`]).
    absent: &'g [&'static str],
}

fn differs<E: de::Error>() -> E {
    E::custom("differs")
}

impl<'de> DeserializeSeed<'de> for Check<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    // A live null is a missing field: fine only where desired sets nothing that counts.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.guide.is_go_zero() {
            Ok(())
        } else {
            Err(differs())
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.guide {
            Tree::Bool(b) if *b == v => Ok(()),
            _ => Err(differs()),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match self.guide {
            Tree::U64(n) if *n == v => Ok(()),
            _ => Err(differs()),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        match self.guide {
            Tree::I64(n) if *n == v => Ok(()),
            _ => Err(differs()),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        match self.guide {
            Tree::F64(n) if *n == v => Ok(()),
            _ => Err(differs()),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self.guide {
            Tree::Str(s) if s == v => Ok(()),
            _ => Err(differs()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Tree::Seq(items) = self.guide else {
            return Err(differs());
        };
        let Some(absent) = positional_match(self.name, items) else {
            return Err(differs());
        };
        // Same length, element by element: what the diff does for an atomic list, and, with
        // the keys checked above, what it finds by key in an associative one.
        for (i, item) in items.iter().enumerate() {
            let found = seq.next_element_seed(Check {
                guide: item,
                name: "",
                absent: absent.get(i).map_or(&[], Vec::as_slice),
            })?;
            if found.is_none() {
                return Err(differs());
            }
        }
        match seq.next_element::<IgnoredAny>()? {
            None => Ok(()),
            Some(_) => Err(differs()),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Tree::Map(entries) = self.guide else {
            return Err(differs());
        };
        let mut seen = vec![false; entries.len()];
        while let Some(Key(k)) = map.next_key()? {
            match entries.iter().position(|(dk, _)| *dk == k) {
                Some(i) => {
                    if seen[i] {
                        return Err(differs()); // a repeated live key: let the full diff judge
                    }
                    seen[i] = true;
                    let (name, guide) = (&entries[i].0, &entries[i].1);
                    map.next_value_seed(Check {
                        guide,
                        name,
                        absent: &[],
                    })?;
                }
                // A key field the desired element lacks, set on the live one: the diff
                // pairs them differently (or not at all).
                None if self.absent.contains(&&*k) => {
                    return Err(differs());
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // A field desired sets but live lacks counts unless desired sets nothing there.
        let missing_counts = entries
            .iter()
            .zip(&seen)
            .any(|((_, v), seen)| !seen && !v.is_go_zero());
        if missing_counts {
            Err(differs())
        } else {
            Ok(())
        }
    }
}

/// Whether comparing a desired list with a live one of the same length element by element
/// gives what the diff gives, and on what condition: `None` when it may not, else for each
/// element the key fields the live element must lack. It does for an atomic list. For an
/// associative list (see `diff::list_key`) the diff pairs elements by their key fields;
/// pairing by position agrees when every desired element has every key field (they are then
/// compared too), as then the first live element with an element's key is the one at its
/// position. A desired element that lacks a secondary key field (a User subject has no
/// `namespace`) pairs the same way when the live element at its position lacks it too and no
/// other desired element has the same key: the first is checked element by element, the
/// second here. A dotted secondary key field missing is not exact.
fn positional_match(name: &str, items: &[Tree<'_>]) -> Option<Vec<Vec<&'static str>>> {
    let first_has = items.first().map(|f| move |k: &str| f.get(k).is_some());
    let Some(key) = super::diff::key_fields(name, first_has) else {
        return Some(Vec::new());
    };
    // The diff treats the list as atomic when an element lacks the first key field.
    if items.iter().any(|e| e.field(key[0]).is_none()) {
        return Some(Vec::new());
    }
    let mut absent = Vec::with_capacity(items.len());
    for (i, e) in items.iter().enumerate() {
        let missing: Vec<&'static str> = key
            .iter()
            .copied()
            .filter(|f| e.field(f).is_none())
            .collect();
        if missing.iter().any(|f| f.contains('.')) {
            return None;
        }
        let same_key = |o: &Tree<'_>| key.iter().all(|f| o.field(f) == e.field(f));
        if !missing.is_empty() && items.iter().enumerate().any(|(j, o)| j != i && same_key(o)) {
            return None;
        }
        absent.push(missing);
    }
    Some(absent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff::diff_object;
    use serde_json::{json, Value};

    /// `unchanged` may only say yes where the full diff finds nothing.
    fn agrees(desired: &Value, live: &Value) -> bool {
        let quick = unchanged(&desired.to_string(), &live.to_string());
        let full = diff_object("StatefulSet", desired, live, Some(desired));
        if quick {
            assert!(
                full.fields.is_empty(),
                "quick check said unchanged, the diff found {:?}\ndesired {desired}\nlive {live}",
                full.fields
            );
        }
        quick
    }

    #[test]
    fn server_fields_and_defaults_are_ignored() {
        let desired = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "db", "labels": {"a": "b"}},
            "spec": {"ports": [{"name": "sql", "port": 26257}], "selector": {}}});
        let live = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "db", "uid": "x", "resourceVersion": "7",
                         "labels": {"a": "b", "other": "c"},
                         "annotations": {"berth.io/last-applied": desired.to_string()}},
            "spec": {"ports": [{"name": "sql", "port": 26257, "protocol": "TCP"}],
                     "clusterIP": "10.0.0.1"},
            "status": {"loadBalancer": {}}});
        assert!(agrees(&desired, &live));
    }

    #[test]
    fn any_difference_or_doubt_says_no() {
        let desired = json!({"kind": "X", "metadata": {"name": "a"},
            "spec": {"replicas": 3, "containers": [{"name": "c", "image": "i"}],
                     "resources": {"cpu": "1"}, "list": [1, 2], "empty": {}, "nothing": null,
                     "subjects": [{"kind": "User", "name": "u"}]}});
        let base = json!({"kind": "X", "metadata": {"name": "a"},
            "spec": {"replicas": 3, "containers": [{"name": "c", "image": "i", "x": 1}],
                     "resources": {"cpu": "1"}, "list": [1, 2], "nothing": null,
                     "subjects": [{"kind": "User", "name": "u"}]}});
        // A subject without `namespace` pairs by position only with a live one without it.
        assert!(agrees(&desired, &base));
        let mut namespaced = base.clone();
        namespaced["spec"]["subjects"][0]["namespace"] = json!("n");
        assert!(!agrees(&desired, &namespaced));
        let mut twice = desired.clone();
        twice["spec"]["subjects"] =
            json!([{"kind": "User", "name": "u"}, {"kind": "User", "name": "u"}]);
        let mut twice_live = base.clone();
        twice_live["spec"]["subjects"] = twice["spec"]["subjects"].clone();
        assert!(
            !agrees(&twice, &twice_live),
            "the same key twice: let the diff judge"
        );
        let mut desired = desired;
        desired["spec"]["subjects"][0]["namespace"] = json!("n");
        let mut live = base.clone();
        live["spec"]["subjects"][0]["namespace"] = json!("n");
        assert!(agrees(&desired, &live));
        for (pointer, value) in [
            ("/spec/replicas", json!(2)),
            ("/spec/replicas", json!(3.0)),
            ("/spec/replicas", json!("3")),
            ("/spec/replicas", Value::Null),
            ("/spec/containers/0/image", json!("j")),
            ("/spec/containers", json!([{"name": "d", "image": "i"}])),
            ("/spec/resources/cpu", json!("1000m")),
            ("/spec/list", json!([1, 2, 3])),
            ("/spec/list", json!([2, 1])),
            ("/spec/nothing", json!(1)),
            ("/metadata", json!("x")),
        ] {
            let mut changed = live.clone();
            *changed.pointer_mut(pointer).unwrap() = value.clone();
            assert!(!agrees(&desired, &changed), "{pointer} = {value}");
        }
        let mut gone = live.clone();
        gone["spec"].as_object_mut().unwrap().remove("replicas");
        assert!(!agrees(&desired, &gone));
        // Empty containers and nulls desired are satisfied by nothing.
        let mut filled = live.clone();
        filled["spec"]["empty"] = json!({"server": "default"});
        assert!(agrees(&desired, &filled));
        assert!(!unchanged("{\"a\":1,\"a\":1}", "{\"a\":1}"));
        assert!(!unchanged("{\"a\":1}", "{\"a\":1,\"a\":2}"));
        assert!(!unchanged("{\"a\":1}", "{\"a\":1} x"));
        assert!(!unchanged("[1]", "[1]"));
    }

    #[test]
    fn escaped_strings_and_keys_compare_by_content() {
        let desired = json!({"a\"b": "x\ny", "c": "\u{e9}"});
        let live = r#"{"a\"b":"x\ny","c":"\u00e9"}"#;
        assert!(unchanged(&desired.to_string(), live));
    }
}
