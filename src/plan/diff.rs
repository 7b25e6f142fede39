//! Field-level comparison of two manifests with the semantics of a client-side three-way
//! diff: only fields the desired side sets are compared, associative lists are matched by
//! key, quantities compare by value, and fields set last time but not now are removals.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::FieldChange;
use crate::observe::LAST_APPLIED_ANNOTATION;
use crate::values::parse_quantity;

/// What a masked value reads as, in a plan and in every printer.
pub const SENSITIVE_MARKER: &str = "(sensitive value)";

/// Keys below which strings are resource quantities (compared by value).
const QUANTITY_KEYS: &[&str] = &[
    "resources",
    "hard",
    "limits",
    "requests",
    "storage",
    "default",
    "defaultRequest",
    "max",
    "min",
    "maxLimitRequestRatio",
    "capacity",
];

/// One step of a path.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A position in an atomic list.
    Index(usize),
    /// An element of an associative list, named by its key fields (taken from `elem`).
    Match(&'static [&'static str], &'a Value),
}

/// The fields of a StatefulSet's spec that may change in place; the API server refuses a change
/// of any other (`ValidateStatefulSetUpdate`, `pkg/apis/apps/validation/validation.go`).
const STATEFULSET_MUTABLE: &[&str] = &[
    "replicas",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "ordinals",
    "revisionHistoryLimit",
];

/// Whether the API server refuses to change the StatefulSet spec field `field` (the first
/// segment after `spec.`) in place: the one rule the diff and the volume planner share.
pub(super) fn statefulset_field_is_immutable(field: &str) -> bool {
    !STATEFULSET_MUTABLE.contains(&field)
}

/// Context flags carried down the recursion.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    /// Strings here are quantities.
    quantity: bool,
    /// Values here are secret.
    sensitive: bool,
    /// Inside an `env` element whose name looks secret: its `value` is sensitive.
    secret_env: bool,
}

/// Whether an environment variable name looks like it holds a credential.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL"]
        .iter()
        .any(|w| upper.contains(w))
}

/// Replaces every secret value inside `value` with [`SENSITIVE_MARKER`]: the `data` and
/// `stringData` of a Secret (when `secret_kind`), and the `value` of environment variables
/// whose names look secret, at any depth.
pub fn redact(value: &mut Value, secret_kind: bool) {
    if secret_kind {
        if let Value::Object(m) = value {
            for key in ["data", "stringData"] {
                if let Some(Value::Object(data)) = m.get_mut(key) {
                    for v in data.values_mut() {
                        *v = Value::String(SENSITIVE_MARKER.into());
                    }
                }
            }
        }
    }
    redact_env(value);
}

fn redact_env(value: &mut Value) {
    match value {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == "env" {
                    if let Value::Array(items) = v {
                        for item in items.iter_mut() {
                            redact_env_entry(item);
                        }
                        continue;
                    }
                }
                redact_env(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_env),
        _ => {}
    }
}

fn redact_env_entry(item: &mut Value) {
    if let Value::Object(m) = item {
        let secret = m
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(looks_secret);
        if secret {
            if let Some(v) = m.get_mut("value") {
                *v = Value::String(SENSITIVE_MARKER.into());
            }
        }
    }
}

/// The immutability rule a changed path hit.
#[derive(Debug, Clone, PartialEq)]
pub enum Immutable {
    /// The object must be replaced: `spec.serviceName is immutable`.
    Replace(String),
    /// The change is impossible (a volume cannot shrink).
    Forbidden(String),
}

/// The result of comparing a desired object with a live one.
#[derive(Debug, Default)]
pub struct ObjectDiff {
    /// Differences, in desired order (removals after the fields of the same mapping).
    pub fields: Vec<FieldChange>,
    /// The first immutable path changed, if any.
    pub immutable: Option<Immutable>,
}

/// Compares `desired` with `live`: fields `desired` sets that differ in `live`, and fields
/// `last` (what was applied before) set that `desired` no longer sets and `live` still has.
/// `kind` selects the immutability and secret rules.
pub fn diff_object(kind: &str, desired: &Value, live: &Value, last: Option<&Value>) -> ObjectDiff {
    let mut d = Differ {
        kind,
        secret_kind: kind == "Secret",
        path: Vec::with_capacity(16),
        out: ObjectDiff::default(),
    };
    d.value(desired, Some(live), last, Flags::default());
    d.out
}

/// Fields of `last` (what berth applied) that differ in `live`: changes made outside berth.
/// `before` is the last-applied value, `after` the live one (`None` when removed).
pub fn drift_fields(kind: &str, last: &Value, live: &Value) -> Vec<FieldChange> {
    diff_object(kind, last, live, None)
        .fields
        .into_iter()
        .map(|f| FieldChange {
            path: f.path,
            before: f.after,
            after: f.before,
            sensitive: f.sensitive,
        })
        .collect()
}

struct Differ<'a> {
    kind: &'a str,
    secret_kind: bool,
    path: Vec<Seg<'a>>,
    out: ObjectDiff,
}

/// Whether `v` is what Go's encoding/json leaves out of an `omitempty` field: null, `""`,
/// 0, `false`, an empty list or mapping. An API server decodes into Go structs and drops such
/// a field, and an absent field decodes to the same zero value, so a desired zero value that
/// live lacks is no difference (an env var's `value: ""` included). A pointer field keeps a
/// zero it was given (`replicas: 0`), so it is never absent when set.
fn is_go_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

impl<'a> Differ<'a> {
    fn value(&mut self, d: &'a Value, l: Option<&'a Value>, last: Option<&'a Value>, f: Flags) {
        let Some(l) = l.filter(|l| !l.is_null()) else {
            // Not in live: a zero value is what a server drops (omitempty); anything else is
            // added.
            if !is_go_zero(d) {
                self.emit(None, Some(d), f);
            }
            return;
        };
        match (d, l) {
            (Value::Object(dm), Value::Object(lm)) => {
                let lastm = last.and_then(Value::as_object);
                self.object(dm, lm, lastm, f);
            }
            (Value::Array(da), Value::Array(la)) => {
                let lasta = last.and_then(Value::as_array);
                self.list(da, la, lasta, f);
            }
            (Value::Object(m), Value::Null) if m.is_empty() => {}
            (Value::Array(a), Value::Null) if a.is_empty() => {}
            _ => {
                if !scalar_eq(d, l, f.quantity) {
                    self.emit(Some(l), Some(d), f);
                }
            }
        }
    }

    fn object(
        &mut self,
        dm: &'a Map<String, Value>,
        lm: &'a Map<String, Value>,
        lastm: Option<&'a Map<String, Value>>,
        f: Flags,
    ) {
        let in_annotations = self.at_annotations();
        let at_root = self.path.is_empty();
        for (k, dv) in dm {
            if in_annotations && k == LAST_APPLIED_ANNOTATION {
                continue;
            }
            let flags = self.child_flags(k, at_root, f);
            self.path.push(Seg::Key(k));
            self.value(dv, lm.get(k), lastm.and_then(|m| m.get(k)), flags);
            self.path.pop();
        }
        if let Some(lastm) = lastm {
            for k in lastm.keys() {
                if dm.contains_key(k) || (in_annotations && k == LAST_APPLIED_ANNOTATION) {
                    continue;
                }
                if let Some(lv) = lm.get(k).filter(|v| !v.is_null()) {
                    let flags = self.child_flags(k, at_root, f);
                    self.path.push(Seg::Key(k));
                    self.emit(Some(lv), None, flags);
                    self.path.pop();
                }
            }
        }
    }

    fn child_flags(&self, key: &str, at_root: bool, f: Flags) -> Flags {
        Flags {
            quantity: f.quantity || QUANTITY_KEYS.contains(&key),
            sensitive: f.sensitive
                || (self.secret_kind && at_root && (key == "data" || key == "stringData"))
                || (f.secret_env && key == "value"),
            secret_env: false,
        }
    }

    fn at_annotations(&self) -> bool {
        matches!(
            self.path.as_slice(),
            [Seg::Key("metadata"), Seg::Key("annotations")]
        )
    }

    fn list_name(&self) -> Option<&'a str> {
        match self.path.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    fn list(&mut self, da: &'a [Value], la: &'a [Value], lasta: Option<&'a Vec<Value>>, f: Flags) {
        let name = self.list_name().unwrap_or("");
        if let Some(key) = list_key(name, da).filter(|k| keys_usable(k, da)) {
            let env = name == "env";
            for de in da {
                let lv = la.iter().find(|le| same_key(key, de, le));
                let lastv = lasta.and_then(|a| a.iter().find(|e| same_key(key, de, e)));
                let flags = Flags {
                    secret_env: env
                        && de
                            .get("name")
                            .and_then(Value::as_str)
                            .is_some_and(looks_secret),
                    ..f
                };
                self.path.push(Seg::Match(key, de));
                match lv {
                    Some(lv) => self.value(de, Some(lv), lastv, flags),
                    None => self.emit_masked_env(None, Some(de), flags),
                }
                self.path.pop();
            }
            if let Some(lasta) = lasta {
                for laste in lasta {
                    if get_field(laste, key[0]).is_none()
                        || da.iter().any(|de| same_key(key, de, laste))
                    {
                        continue;
                    }
                    if let Some(lv) = la.iter().find(|le| same_key(key, laste, le)) {
                        let flags = Flags {
                            secret_env: env
                                && lv
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .is_some_and(looks_secret),
                            ..f
                        };
                        self.path.push(Seg::Match(key, lv));
                        self.emit_masked_env(Some(lv), None, flags);
                        self.path.pop();
                    }
                }
            }
            return;
        }
        // Atomic list: element by element when the lengths agree, else the whole list.
        if da.len() == la.len() {
            for (i, (de, le)) in da.iter().zip(la).enumerate() {
                let lastv = lasta.filter(|a| a.len() == da.len()).and_then(|a| a.get(i));
                self.path.push(Seg::Index(i));
                self.value(de, Some(le), lastv, f);
                self.path.pop();
            }
        } else {
            self.emit_values(Some(la_value(la)), Some(la_value(da)), f);
        }
    }

    /// Emits a whole env element; its `value` is masked when the name looks secret.
    fn emit_masked_env(&mut self, before: Option<&Value>, after: Option<&Value>, f: Flags) {
        if f.secret_env {
            let mask = |v: Option<&Value>| {
                v.map(|v| {
                    let mut v = v.clone();
                    redact_env_entry(&mut v);
                    v
                })
            };
            let (b, a) = (mask(before), mask(after));
            self.push_change(
                b,
                a,
                Flags {
                    secret_env: false,
                    ..f
                },
            );
        } else {
            self.emit(before, after, f);
        }
    }

    fn emit(&mut self, before: Option<&Value>, after: Option<&Value>, f: Flags) {
        self.emit_values(before.cloned(), after.cloned(), f);
    }

    fn emit_values(&mut self, before: Option<Value>, after: Option<Value>, f: Flags) {
        let redact_value = |v: Option<Value>, secret_kind: bool| {
            v.map(|mut v| {
                if f.sensitive {
                    Value::String(SENSITIVE_MARKER.into())
                } else {
                    redact(&mut v, secret_kind);
                    v
                }
            })
        };
        // A whole Secret subtree that contains data (e.g. the root) is masked by `redact`.
        let secret_kind = self.secret_kind && self.path.len() <= 1;
        let before = redact_value(before, secret_kind);
        let after = redact_value(after, secret_kind);
        self.push_change(before, after, f);
    }

    fn push_change(&mut self, before: Option<Value>, after: Option<Value>, f: Flags) {
        if self.out.immutable.is_none() {
            self.out.immutable = self.immutable_rule(before.as_ref(), after.as_ref());
        }
        self.out.fields.push(FieldChange {
            path: format_path(&self.path),
            before,
            after,
            sensitive: f.sensitive,
        });
    }

    /// Whether the current path may not change in place for this kind.
    fn immutable_rule(&self, before: Option<&Value>, after: Option<&Value>) -> Option<Immutable> {
        let (Some(Seg::Key("spec")), Some(Seg::Key(field))) = (self.path.first(), self.path.get(1))
        else {
            return None;
        };
        let field: &str = field;
        let replace = |p: &str| Some(Immutable::Replace(format!("spec.{p} is immutable")));
        match self.kind {
            "StatefulSet" => statefulset_field_is_immutable(field)
                .then(|| replace(field))
                .flatten(),
            "Job" => match field {
                "selector" | "template" | "completionMode" | "podFailurePolicy" => replace(field),
                _ => None,
            },
            "Service" => match field {
                "clusterIP" | "clusterIPs" => replace(field),
                _ => None,
            },
            "Deployment" => match field {
                "selector" => replace(field),
                _ => None,
            },
            "PersistentVolumeClaim" => {
                let storage = matches!(
                    self.path.as_slice(),
                    [
                        Seg::Key("spec"),
                        Seg::Key("resources"),
                        Seg::Key("requests"),
                        Seg::Key("storage")
                    ]
                );
                if !storage {
                    return replace(&format_path(&self.path[1..]));
                }
                let q = |v: Option<&Value>| v.and_then(quantity_of);
                match (q(before), q(after)) {
                    (Some(b), Some(a)) if a < b => Some(Immutable::Forbidden(format!(
                        "a volume cannot shrink (spec.resources.requests.storage {} -> {})",
                        show_scalar(before),
                        show_scalar(after)
                    ))),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

fn show_scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "none".into(),
    }
}

fn la_value(items: &[Value]) -> Value {
    Value::Array(items.to_vec())
}

fn quantity_of(v: &Value) -> Option<crate::values::ParsedQuantity> {
    match v {
        Value::String(s) => parse_quantity(s).ok(),
        Value::Number(n) => parse_quantity(&n.to_string()).ok(),
        _ => None,
    }
}

/// Scalar (or mismatched-type) equality: numbers by value, quantities by value where
/// `quantity` says strings are quantities.
fn scalar_eq(d: &Value, l: &Value, quantity: bool) -> bool {
    if d == l {
        return true;
    }
    match (d, l) {
        (Value::Number(a), Value::Number(b)) => {
            if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
                x == y
            } else {
                false
            }
        }
        (Value::String(_) | Value::Number(_), Value::String(_) | Value::Number(_)) if quantity => {
            matches!((quantity_of(d), quantity_of(l)), (Some(a), Some(b)) if a == b)
        }
        _ => false,
    }
}

/// The key fields of an associative list, by the list's field name.
fn list_key(name: &str, items: &[Value]) -> Option<&'static [&'static str]> {
    key_fields(
        name,
        items.first().map(|f| move |k: &str| f.get(k).is_some()),
    )
}

/// The key fields of an associative list by its field name (`None`: not one berth knows, or
/// an empty `ports`). `first_has` tells whether the list's first element has a field: `ports`
/// are keyed by what they carry. Shared with the quick check of `unchanged.rs`.
pub(super) fn key_fields(
    name: &str,
    first_has: Option<impl Fn(&str) -> bool>,
) -> Option<&'static [&'static str]> {
    Some(match name {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "volumeClaimTemplates" => &["metadata.name"],
        "subjects" => &["kind", "name", "namespace"],
        "ports" => {
            let first_has = first_has?;
            if first_has("containerPort") {
                &["containerPort"]
            } else if first_has("port") {
                &["port"]
            } else {
                &["name"]
            }
        }
        _ => return None,
    })
}

/// A key is usable when every desired element has its first field and no two elements share
/// a key; otherwise the list is compared as atomic.
fn keys_usable(key: &[&str], items: &[Value]) -> bool {
    for (i, a) in items.iter().enumerate() {
        if get_field(a, key[0]).is_none() {
            return false;
        }
        if items[..i].iter().any(|b| same_key(key, a, b)) {
            return false;
        }
    }
    true
}

fn get_field<'v>(v: &'v Value, field: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in field.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur).filter(|v| !v.is_null())
}

fn same_key(key: &[&str], a: &Value, b: &Value) -> bool {
    key.iter()
        .all(|f| match (get_field(a, f), get_field(b, f)) {
            (Some(x), Some(y)) => scalar_eq(x, y, false),
            (None, None) => true,
            _ => false,
        })
}

fn simple_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn format_path(path: &[Seg<'_>]) -> String {
    let mut s = String::with_capacity(64);
    for (i, seg) in path.iter().enumerate() {
        match seg {
            Seg::Key(k) if simple_key(k) => {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Key(k) => {
                let _ = write!(s, "[{}]", Value::String((*k).to_string()));
            }
            Seg::Index(n) => {
                let _ = write!(s, "[{n}]");
            }
            Seg::Match(key, elem) => {
                s.push('[');
                let mut first = true;
                for f in key.iter() {
                    let Some(v) = get_field(elem, f) else {
                        continue;
                    };
                    if !first {
                        s.push(',');
                    }
                    first = false;
                    let label = f.rsplit('.').next().unwrap_or(f);
                    let text = match v {
                        Value::String(t)
                            if !t.is_empty() && !t.contains([']', ',', '=', '"', ' ', '[']) =>
                        {
                            t.clone()
                        }
                        other => other.to_string(),
                    };
                    let _ = write!(s, "{label}={text}");
                }
                s.push(']');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(d: &ObjectDiff) -> Vec<&str> {
        d.fields.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn server_defaults_are_not_changes() {
        let desired = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "db", "image": "kwdb:1", "ports": [{"containerPort": 80}]}
        ]}}}});
        let live = json!({"spec": {"replicas": 1, "template": {"spec": {
            "restartPolicy": "Always",
            "containers": [
                {"name": "sidecar", "image": "x"},
                {"name": "db", "image": "kwdb:1", "imagePullPolicy": "IfNotPresent",
                 "ports": [{"containerPort": 80, "protocol": "TCP"}]}
            ]}}}, "status": {"replicas": 1}});
        let d = diff_object("StatefulSet", &desired, &live, None);
        assert!(d.fields.is_empty(), "{:?}", d.fields);
    }

    #[test]
    fn zero_values_a_server_drops_are_not_changes() {
        // Go's encoding/json leaves out an omitempty field's zero value: an env var's
        // `value: ""`, `hostNetwork: false`, an empty list. A real server stores none of them.
        let desired = json!({"spec": {"hostNetwork": false, "containers": [{"name": "db",
            "env": [{"name": "KEEP_LAST", "value": ""}], "args": []}]}});
        let live = json!({"spec": {"containers": [{"name": "db",
            "env": [{"name": "KEEP_LAST"}]}]}});
        let d = diff_object("Pod", &desired, &live, None);
        assert!(d.fields.is_empty(), "{:?}", d.fields);
        assert!(super::super::unchanged::unchanged(
            &desired.to_string(),
            &live.to_string()
        ));
        // A value that is not zero still counts.
        let desired = json!({"spec": {"containers": [{"name": "db",
            "env": [{"name": "KEEP_LAST", "value": "7"}]}]}});
        let d = diff_object("Pod", &desired, &live, None);
        assert_eq!(
            paths(&d),
            ["spec.containers[name=db].env[name=KEEP_LAST].value"]
        );
        assert!(!super::super::unchanged::unchanged(
            &desired.to_string(),
            &live.to_string()
        ));
    }

    #[test]
    fn keyed_paths_and_quoted_keys() {
        let desired = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}},
            "spec": {"containers": [{"name": "db", "image": "new"}]}});
        let live = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a"}},
            "spec": {"containers": [{"name": "db", "image": "old"}]}});
        let d = diff_object("Pod", &desired, &live, None);
        assert_eq!(
            paths(&d),
            [
                "metadata.labels[\"app.kubernetes.io/name\"]",
                "spec.containers[name=db].image"
            ]
        );
    }

    #[test]
    fn quantities_compare_by_value_only_where_quantities_live() {
        let desired = json!({"spec": {"hard": {"memory": "1Gi", "cpu": "1000m", "pods": 10}},
            "metadata": {"name": "1000m"}});
        let live = json!({"spec": {"hard": {"memory": "1024Mi", "cpu": "1", "pods": "10"}},
            "metadata": {"name": "1"}});
        let d = diff_object("ResourceQuota", &desired, &live, None);
        assert_eq!(paths(&d), ["metadata.name"]);
    }

    #[test]
    fn removals_come_from_last_applied() {
        let desired = json!({"metadata": {"labels": {"a": "1"}}});
        let last = json!({"metadata": {"labels": {"a": "1", "team": "x"}}});
        let live = json!({"metadata": {"labels": {"a": "1", "team": "x", "other": "y"}}});
        let d = diff_object("Service", &desired, &live, Some(&last));
        assert_eq!(paths(&d), ["metadata.labels.team"]);
        assert_eq!(d.fields[0].after, None);
        assert_eq!(d.fields[0].before, Some(json!("x")));
    }

    #[test]
    fn last_applied_annotation_is_never_compared() {
        let desired = json!({"metadata": {"annotations": {"berth.io/last-applied": "a"}}});
        let live = json!({"metadata": {"annotations": {"berth.io/last-applied": "b"}}});
        assert!(diff_object("Service", &desired, &live, Some(&desired))
            .fields
            .is_empty());
    }

    #[test]
    fn immutable_paths_and_shrinking_volumes() {
        let d = diff_object(
            "StatefulSet",
            &json!({"spec": {"replicas": 3, "serviceName": "b"}}),
            &json!({"spec": {"replicas": 1, "serviceName": "a"}}),
            None,
        );
        assert_eq!(
            d.immutable,
            Some(Immutable::Replace("spec.serviceName is immutable".into()))
        );
        let grow = diff_object(
            "PersistentVolumeClaim",
            &json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
            &json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}}),
            None,
        );
        assert_eq!(grow.immutable, None);
        let shrink = diff_object(
            "PersistentVolumeClaim",
            &json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}}),
            &json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
            None,
        );
        assert!(matches!(shrink.immutable, Some(Immutable::Forbidden(_))));
    }

    #[test]
    fn secrets_are_masked() {
        let desired = json!({"data": {"password": "bmV3"}, "spec": {"containers": [
            {"name": "db", "env": [{"name": "DB_PASSWORD", "value": "new"},
                                    {"name": "MODE", "value": "b"}]}]}});
        let live = json!({"data": {"password": "b2xk"}, "spec": {"containers": [
            {"name": "db", "env": [{"name": "DB_PASSWORD", "value": "old"},
                                    {"name": "MODE", "value": "a"}]}]}});
        let d = diff_object("Secret", &desired, &live, None);
        let text = serde_json::to_string(&d.fields).unwrap();
        for secret in ["bmV3", "b2xk", "new", "old"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(d.fields[0].sensitive && d.fields[1].sensitive && !d.fields[2].sensitive);
        // A new env element with a secret value is masked too.
        let added = diff_object(
            "Pod",
            &json!({"env": [{"name": "API_TOKEN", "value": "t0p"}]}),
            &json!({"env": []}),
            None,
        );
        assert!(!serde_json::to_string(&added.fields)
            .unwrap()
            .contains("t0p"));
    }

    #[test]
    fn atomic_lists_differ_whole_when_lengths_differ() {
        let d = diff_object(
            "NetworkPolicy",
            &json!({"spec": {"policyTypes": ["Ingress", "Egress"]}}),
            &json!({"spec": {"policyTypes": ["Ingress"]}}),
            None,
        );
        assert_eq!(paths(&d), ["spec.policyTypes"]);
    }

    #[test]
    fn odd_live_shapes_just_differ() {
        let desired = json!({"spec": {"containers": [{"name": "db"}], "a": {"b": 1}}});
        let live = json!({"spec": {"containers": "oops", "a": [1]}});
        let d = diff_object("Pod", &desired, &live, Some(&json!(42)));
        assert_eq!(paths(&d), ["spec.containers", "spec.a"]);
    }
}
