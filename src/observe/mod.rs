//! The `observe` stage: what berth owns in each cluster right now.
//!
//! Per cluster, one paginated LIST per managed kind, selected by the ownership label; never a
//! GET per object. With [`observe`] the only other reads are GETs of the names berth wants to
//! create (to find objects berth does not own that already use the name), so the cost grows
//! with what changed, not with what exists. Reads that only describe (never planned against)
//! live beside it: [`observe_workloads`] for `status` and `show`, [`metrics`] (pod usage
//! from the metrics API) and [`observe_tenants`] for the daemon's dashboard.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::object::ObjectRef;

/// Annotation holding the compact JSON of the manifest berth last applied to an object
/// (without this annotation itself). The third side of the three-way diff.
pub const LAST_APPLIED_ANNOTATION: &str = "berth.io/last-applied";

/// A live object berth owns, as the cluster returned it.
///
/// Held as compact JSON text (a parsed `serde_json::Value` takes several times the memory),
/// with the few fields observe, plan and apply read for every object at hand: the tenant
/// label, `resourceVersion` and where the last-applied annotation is. [`LiveObject::manifest`]
/// parses the whole object when needed.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveObject {
    /// Identity.
    pub id: ObjectRef,
    /// The whole object, status and server fields included (`metadata.managedFields` only
    /// with [`ObserveOptions::keep_managed_fields`]), as JSON text.
    text: Box<str>,
    /// [`TENANT_LABEL`](crate::object::TENANT_LABEL), when it is a string.
    tenant: Option<Box<str>>,
    /// `metadata.resourceVersion`, when it is a string.
    resource_version: Option<Box<str>>,
    /// Byte range in `text` of the JSON string literal of [`LAST_APPLIED_ANNOTATION`].
    last_applied: Option<(u32, u32)>,
}

impl LiveObject {
    /// A live object from its JSON value.
    pub fn new(id: ObjectRef, manifest: &Value) -> Self {
        Self::indexed(id, manifest.to_string().into_boxed_str())
    }

    /// A live object from the JSON text of an object as a server returned it (compact or
    /// not); its identity comes from `apiVersion`, `kind`, `metadata.namespace` and
    /// `metadata.name` (`type_meta`, when given, replaces the first two: LIST items may lack
    /// them). `metadata.managedFields` is dropped unless `keep_managed_fields`. `None` when
    /// the text is not a JSON object or the identity is incomplete.
    pub fn from_json(
        text: &str,
        type_meta: Option<(&str, &str)>,
        keep_managed_fields: bool,
    ) -> Option<Self> {
        let r = raw::rewrite(text, type_meta, keep_managed_fields)?;
        Some(Self::with_index(r.id, r.text.into_boxed_str(), r.index))
    }

    fn indexed(id: ObjectRef, text: Box<str>) -> Self {
        let idx = raw::index(&text);
        Self::with_index(id, text, idx)
    }

    fn with_index(id: ObjectRef, text: Box<str>, idx: raw::Index) -> Self {
        Self {
            id,
            tenant: idx.tenant.map(String::into_boxed_str),
            resource_version: idx.resource_version.map(String::into_boxed_str),
            last_applied: idx.last_applied,
            text,
        }
    }

    /// The object as JSON text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The whole object, parsed.
    pub fn manifest(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The object parsed, keeping of each mapping only the keys `guide` has at the same
    /// place; lists, scalars and values whose guide is not a mapping are kept whole. Enough
    /// to compare the object with `guide` on the fields `guide` sets, for a fraction of the
    /// cost of [`LiveObject::manifest`].
    pub fn manifest_within(&self, guide: &Value) -> Value {
        raw::parse_within(&self.text, guide).unwrap_or(Value::Null)
    }

    /// Its [`TENANT_LABEL`](crate::object::TENANT_LABEL), `""` when missing.
    pub fn tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or("")
    }

    /// One annotation's value, when it is a string (parses the object).
    pub fn annotation(&self, key: &str) -> Option<String> {
        let v: Value = serde_json::from_str(&self.text).ok()?;
        v.get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
            .map(String::from)
    }

    /// Its `metadata.resourceVersion`, `""` when missing.
    pub fn resource_version(&self) -> &str {
        self.resource_version.as_deref().unwrap_or("")
    }

    /// The text of [`LAST_APPLIED_ANNOTATION`], when it is a string.
    pub fn last_applied_text(&self) -> Option<Cow<'_, str>> {
        let (start, end) = self.last_applied?;
        let literal = self.text.get(start as usize..end as usize)?;
        serde_json::from_str::<Cow<'_, str>>(literal)
            .ok()
            .or_else(|| serde_json::from_str::<String>(literal).ok().map(Cow::Owned))
    }

    /// Whether [`LAST_APPLIED_ANNOTATION`] holds exactly `text`. The literal is first compared
    /// in place with `text` as compact JSON writes it; a literal spelled with other escapes
    /// (Go's encoding/json, which every real API server uses, writes `<`, `>` and `&` as
    /// `\u003c`, `\u003e`, `\u0026`) is unescaped and compared then.
    pub fn last_applied_is(&self, text: &str) -> bool {
        self.last_applied_is_literally(text)
            || self
                .last_applied_text()
                .is_some_and(|applied| applied == text)
    }

    fn last_applied_is_literally(&self, text: &str) -> bool {
        let Some((start, end)) = self.last_applied else {
            return false;
        };
        let Some(literal) = self.text.get(start as usize..end as usize) else {
            return false;
        };
        // Cheap checks first: the literal is at least as long as the text and quoted.
        if literal.len() < text.len() + 2 {
            return false;
        }
        match literal.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(inner) => is_escaped(inner.as_bytes(), text.as_bytes()),
            None => false,
        }
    }

    /// What berth last applied, from [`LAST_APPLIED_ANNOTATION`], if present and readable.
    pub fn last_applied(&self) -> Option<Value> {
        self.last_applied_text()
            .and_then(|s| serde_json::from_str(&s).ok())
    }
}

/// Whether `escaped` is `text` with the escapes compact JSON (`serde_json`) writes inside a
/// string literal: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` and `\u00xx` for other
/// control characters; every other byte as it is. Compares in place, without writing the
/// escaped text.
fn is_escaped(escaped: &[u8], text: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a word has a byte below `n` (n <= 0x80); exact for "any byte".
    let has_less = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let has_byte = |x: u64, b: u8| has_less(x ^ (ONES * u64::from(b)), 1);
    let (mut t, mut e) = (0, 0); // positions in `text` and `escaped`
    while t < text.len() {
        // Eight bytes at a time while both sides agree and no byte needs an escape.
        while let (Some(a), Some(b)) = (text.get(t..t + 8), escaped.get(e..e + 8)) {
            let (a, b) = (word(a), word(b));
            if a != b || has_less(a, 0x20) || has_byte(a, b'"') || has_byte(a, b'\\') {
                break;
            }
            t += 8;
            e += 8;
        }
        let Some(&b) = text.get(t) else {
            break;
        };
        t += 1;
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                let seq = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ];
                if escaped.get(e..e + 6) != Some(&seq[..]) {
                    return false;
                }
                e += 6;
                continue;
            }
            _ => {
                if escaped.get(e) != Some(&b) {
                    return false;
                }
                e += 1;
                continue;
            }
        };
        if escaped.get(e..e + short.len()) != Some(short) {
            return false;
        }
        e += short.len();
    }
    e == escaped.len()
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(bytes);
    u64::from_ne_bytes(w)
}

/// An object that uses a name berth wants, but that berth does not own.
#[derive(Debug, Clone, PartialEq)]
pub struct Unowned {
    /// Identity.
    pub id: ObjectRef,
    /// Its `app.kubernetes.io/managed-by` label, if any.
    pub managed_by: Option<String>,
    /// The whole object (for `--adopt`).
    pub manifest: Value,
}

/// What one cluster holds, or why it could not be read.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    /// Cluster name from platform.toml.
    pub cluster: String,
    /// Objects berth owns (ownership label present), sorted by identity.
    pub owned: Vec<LiveObject>,
    /// Objects berth does not own whose names collide with desired objects.
    pub unowned: Vec<Unowned>,
    /// Why the cluster could not be observed: one line naming the cluster and what to check.
    /// When set, `owned` is empty and the plan marks the cluster as unknown.
    pub error: Option<String>,
    /// What of a cluster that was reached could not be read: the plan leaves out the tenants
    /// it leaves unknown and says so.
    pub gaps: Gaps,
    /// Number of API requests made (LIST pages and GETs), for benchmarks and tests.
    pub requests: u64,
    /// `(namespace, name)` of every Secret in the cluster, sorted, when some tenant on it
    /// needs a credentials Secret (one metadata-only LIST: names, never values); `None` when
    /// not listed.
    pub secrets: Option<Vec<(String, String)>>,
}

/// What could not be read of a cluster that was reached (after the retries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gaps {
    /// Kinds that could not be listed, sorted, and why: no object of them is known.
    pub kinds: Vec<(crate::cluster::KindRef, String)>,
    /// Objects berth wants that could not be read (their GET failed), and why: whether they
    /// exist is unknown.
    pub objects: Vec<(ObjectRef, String)>,
}

impl Gaps {
    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.objects.is_empty()
    }
}

impl ClusterState {
    /// Whether the Secret `namespace/name` exists; `None` when Secrets were not listed.
    pub fn has_secret(&self, namespace: &str, name: &str) -> Option<bool> {
        self.secrets.as_ref().map(|s| {
            s.binary_search_by(|(n, m)| (n.as_str(), m.as_str()).cmp(&(namespace, name)))
                .is_ok()
        })
    }
}

/// The live state of every cluster the plan touches.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// By cluster name.
    pub clusters: BTreeMap<String, ClusterState>,
}

mod live;
pub mod metrics;
mod raw;
mod workloads;

pub use self::workloads::{observe_workloads, WorkloadQuery, Workloads};

pub use self::live::{
    connect_all, connect_all_with, credentials_secrets, observe, observe_connections,
    observe_prelisted, observe_tenants, prelist, recorded_inputs, ObserveOptions, Prelisted,
    RecordedTenant, TENANT_SELECTOR_MAX,
};

#[cfg(test)]
mod tests {
    use super::is_escaped;

    #[test]
    fn is_escaped_agrees_with_serde_json() {
        let texts = [
            "",
            "plain",
            r#"{"a":"b\"c","d":"e\\f"}"#,
            "line\nbreak\ttab\rcr\u{8}\u{c}",
            "\u{0}\u{1}\u{1f}\u{7f} é ✓",
            "\"",
            "\\",
        ];
        for text in texts {
            let quoted = serde_json::to_string(text).unwrap();
            let inner = &quoted[1..quoted.len() - 1];
            assert!(is_escaped(inner.as_bytes(), text.as_bytes()), "{text:?}");
            for other in texts.iter().filter(|o| **o != text) {
                assert!(!is_escaped(inner.as_bytes(), other.as_bytes()), "{other:?}");
            }
            assert!(!is_escaped(format!("{inner}x").as_bytes(), text.as_bytes()));
        }
        // Another spelling of the same string is a different text.
        assert!(!is_escaped(br"\u0022", b"\""));
        assert!(!is_escaped(br"\u000a", b"\n"));
    }

    #[test]
    fn last_applied_written_with_gos_escapes_is_still_what_was_applied() {
        // A real API server writes `&`, `<` and `>` inside strings as Go escapes them.
        let applied = r#"{"apiVersion":"v1","kind":"ConfigMap","data":{"run":"a && b <c>"}}"#;
        let go = serde_json::to_string(applied)
            .unwrap()
            .replace('&', "\\u0026")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e");
        let live = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c","namespace":"t","annotations":{{"{}":{go}}}}},"data":{{"run":"a \u0026\u0026 b"}}}}"#,
            super::LAST_APPLIED_ANNOTATION
        );
        let obj = super::LiveObject::from_json(&live, None, false).expect("an object");
        assert!(obj.last_applied_is(applied), "{live}");
        assert!(!obj.last_applied_is(&applied.replace("&&", "||")));
    }
}
