//! The OpenAPI schema of the served kinds (Kubernetes v1.35), and the two ways a real API
//! server checks a request body against its types:
//!
//! - create, update and merge/strategic patches decode the body into the Go structs
//!   (`sigs.k8s.io/json`): a value of the wrong JSON type is a decode error, an unknown field
//!   is dropped and, depending on `fieldValidation`, reported (`Strict`), warned about (`Warn`,
//!   the default) or ignored ([`decode`]);
//! - server-side apply converts the patch to a structured-merge-diff typed value first, where
//!   an unknown field or a wrong type is always an error, whatever `fieldValidation` says
//!   ([`check_apply`]).
//!
//! The definitions are embedded from `openapi/definitions-v1.35.json` (see `openapi/trim.py`
//! for where they come from).

use std::sync::LazyLock;

use serde_json::{Map, Value};

use kube_store::KindInfo;

static DEFINITIONS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../openapi/definitions-v1.35.json"))
        .expect("the embedded OpenAPI definitions are valid JSON")
});

const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";

/// Every embedded definition, by its OpenAPI name (`io.k8s.api.apps.v1.StatefulSet`).
pub(crate) fn definitions() -> &'static Map<String, Value> {
    &DEFINITIONS
}

/// The OpenAPI name of the definition of a served kind, found by its
/// `x-kubernetes-group-version-kind`.
pub(crate) fn definition_name(info: &KindInfo) -> Option<&'static str> {
    DEFINITIONS.iter().find_map(|(name, def)| {
        let gvks = def.get("x-kubernetes-group-version-kind")?.as_array()?;
        gvks.iter()
            .any(|g| {
                g["group"] == info.group && g["version"] == info.version && g["kind"] == info.kind
            })
            .then_some(name.as_str())
    })
}

/// What a schema node describes, with `$ref`s resolved.
pub(crate) enum Node<'a> {
    /// A Go struct: its definition name (when it has one), properties and required fields.
    Struct {
        name: Option<&'a str>,
        properties: &'a Map<String, Value>,
        required: Vec<&'a str>,
    },
    /// A Go map with values of this schema.
    Map(&'a Value),
    /// A Go slice with items of this schema; `keys` are the `x-kubernetes-list-map-keys` of a
    /// `map` list, `set` tells a `set` list.
    List {
        items: &'a Value,
        keys: Vec<&'a str>,
        set: bool,
    },
    String,
    /// An integer of this many bits.
    Integer(u32),
    Number,
    Boolean,
    IntOrString,
    Quantity,
    /// `metav1.Time` or `metav1.MicroTime`.
    Time,
    /// Anything goes (`FieldsV1`, `RawExtension`, preserved unknown fields).
    Any,
}

/// Resolves `schema` (following a `$ref`) to what it describes.
pub(crate) fn node(schema: &Value) -> Node<'_> {
    node_named(schema, None)
}

fn node_named<'a>(schema: &'a Value, name: Option<&'a str>) -> Node<'a> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r.rsplit('/').next().unwrap_or(r);
        return match target {
            INT_OR_STRING => Node::IntOrString,
            QUANTITY => Node::Quantity,
            TIME | MICRO_TIME => Node::Time,
            _ => match DEFINITIONS.get_key_value(target) {
                Some((k, def)) => node_named(def, Some(k.as_str())),
                None => Node::Any,
            },
        };
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => Node::String,
        Some("integer") => match schema.get("format").and_then(Value::as_str) {
            Some("int32") => Node::Integer(32),
            _ => Node::Integer(64),
        },
        Some("number") => Node::Number,
        Some("boolean") => Node::Boolean,
        Some("array") => Node::List {
            items: schema.get("items").unwrap_or(&Value::Null),
            keys: schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            set: schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set"),
        },
        _ => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                Node::Struct {
                    name,
                    properties: props,
                    required: schema
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default(),
                }
            } else if let Some(ap) = schema.get("additionalProperties") {
                Node::Map(ap)
            } else {
                Node::Any
            }
        }
    }
}

/// `v1.PodSpec` for `io.k8s.api.core.v1.PodSpec`: the Go package name and the type name.
fn go_name(def: &str) -> String {
    let mut parts = def.rsplit('.');
    let ty = parts.next().unwrap_or(def);
    let pkg = parts.next().unwrap_or("");
    format!("{pkg}.{ty}")
}

/// The Go type a schema decodes into, as Go's `reflect.Type.String` writes it. Named string
/// and integer types (`v1.Protocol`) are not in the schema and come out as their underlying
/// type.
fn go_type(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r.rsplit('/').next().unwrap_or(r);
        return match target {
            INT_OR_STRING => "intstr.IntOrString".into(),
            QUANTITY => "resource.Quantity".into(),
            _ => go_name(target),
        };
    }
    match node(schema) {
        Node::String => "string".into(),
        Node::Integer(bits) => format!("int{bits}"),
        Node::Number => "float64".into(),
        Node::Boolean => "bool".into(),
        Node::List { items, .. } => format!("[]{}", go_type(items)),
        Node::Map(values) => format!("map[string]{}", go_type(values)),
        _ => "map[string]interface {}".into(),
    }
}

/// How Go's decoder names a JSON value in `cannot unmarshal X into ...`.
fn json_kind(v: &Value) -> String {
    match v {
        Value::String(_) => "string".into(),
        Value::Number(n) => format!("number {n}"),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

/// What decoding a body into the Go structs found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Decoded {
    /// The unknown fields, as `sigs.k8s.io/json` names them (`spec.template.spec.containers[0].foo`),
    /// in document order. They have been removed from the value.
    pub(crate) unknown: Vec<String>,
    /// The first value of the wrong type, as Go's `encoding/json` words it.
    pub(crate) type_error: Option<String>,
}

/// Decodes `obj` as the Go struct `def` would: removes unknown fields, reports them and the
/// first value of a wrong type.
pub(crate) fn decode(def: &str, obj: &mut Value) -> Decoded {
    let mut out = Decoded::default();
    let Some(schema) = DEFINITIONS.get(def) else {
        return out;
    };
    let mut walker = GoWalker {
        out: &mut out,
        stack: Vec::new(),
    };
    let top = go_name(def);
    if !matches!(obj, Value::Object(_) | Value::Null) {
        walker.out.type_error = Some(format!(
            "json: cannot unmarshal {} into Go value of type {top}",
            json_kind(obj)
        ));
        return out;
    }
    let ty = top.rsplit('.').next().unwrap_or("").to_string();
    walker.walk(schema, obj, "", &ty);
    out
}

struct GoWalker<'o> {
    out: &'o mut Decoded,
    /// Struct field names from the top, as Go's decoder tracks them (no list indices).
    stack: Vec<String>,
}

impl GoWalker<'_> {
    fn type_error(&mut self, v: &Value, parent: &str, schema: &Value) {
        if self.out.type_error.is_none() {
            self.out.type_error = Some(format!(
                "json: cannot unmarshal {} into Go struct field {parent}.{} of type {}",
                json_kind(v),
                self.stack.join("."),
                go_type(schema)
            ));
        }
    }

    fn value_error(&mut self, message: String) {
        if self.out.type_error.is_none() {
            self.out.type_error = Some(message);
        }
    }

    /// `path` names the value for unknown-field messages; `parent` is the Go struct the value
    /// is a field of.
    fn walk(&mut self, schema: &Value, v: &mut Value, path: &str, parent: &str) {
        if v.is_null() {
            return;
        }
        match node(schema) {
            Node::Struct {
                name, properties, ..
            } => {
                let Value::Object(m) = v else {
                    return self.type_error(v, parent, schema);
                };
                let ty = name
                    .and_then(|n| n.rsplit('.').next())
                    .unwrap_or(parent)
                    .to_string();
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let child_path = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match properties.get(&k) {
                        Some(s) => {
                            self.stack.push(k.clone());
                            if let Some(child) = m.get_mut(&k) {
                                self.walk(s, child, &child_path, &ty);
                            }
                            self.stack.pop();
                        }
                        None => {
                            self.out.unknown.push(child_path);
                            m.shift_remove(&k);
                        }
                    }
                }
            }
            Node::Map(values) => {
                let Value::Object(m) = v else {
                    return self.type_error(v, parent, schema);
                };
                for (k, child) in m.iter_mut() {
                    self.walk(values, child, &format!("{path}.{k}"), parent);
                }
            }
            Node::List { items, .. } => {
                let Value::Array(a) = v else {
                    return self.type_error(v, parent, schema);
                };
                for (i, child) in a.iter_mut().enumerate() {
                    self.walk(items, child, &format!("{path}[{i}]"), parent);
                }
            }
            Node::String => {
                if !v.is_string() {
                    self.type_error(v, parent, schema);
                }
            }
            Node::Boolean => {
                if !v.is_boolean() {
                    self.type_error(v, parent, schema);
                }
            }
            Node::Number => {
                if !v.is_number() {
                    self.type_error(v, parent, schema);
                }
            }
            Node::Integer(bits) => {
                let fits = match bits {
                    32 => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                    _ => v.as_i64().is_some(),
                };
                if !fits {
                    self.type_error(v, parent, schema);
                }
            }
            Node::IntOrString => match v {
                Value::String(_) => {}
                Value::Number(n) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => {}
                other => self.value_error(format!(
                    "json: cannot unmarshal {} into Go value of type int32",
                    json_kind(other)
                )),
            },
            Node::Quantity => {
                let text = match v {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                if let Err(e) = check_quantity(&text) {
                    self.value_error(e.to_string());
                }
            }
            Node::Time => {
                if !v.is_string() {
                    self.value_error(format!(
                        "json: cannot unmarshal {} into Go value of type string",
                        json_kind(v)
                    ));
                }
            }
            Node::Any => {}
        }
    }
}

/// `resource.ParseQuantity`'s three errors (`staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go`).
fn check_quantity(s: &str) -> Result<(), &'static str> {
    const FORMAT: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(split);
    if number.is_empty() {
        return Err(FORMAT);
    }
    let rest = suffix.trim_start_matches(|c: char| "eEinumkKMGTP".contains(c));
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FORMAT);
    }
    if number.matches('.').count() > 1 || !number.bytes().any(|b| b.is_ascii_digit()) {
        return Err("unable to parse numeric part of quantity");
    }
    let known = matches!(
        suffix,
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E"
    ) || matches!(suffix, "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei")
        || suffix
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if !known {
        return Err("unable to parse quantity's suffix");
    }
    Ok(())
}

/// Checks a server-side apply patch as structured-merge-diff's typed conversion does
/// (`sigs.k8s.io/structured-merge-diff/typed/validate.go`): every error, each prefixed with
/// its path (`.spec.template.spec.containers[name="db"].foo`). Empty when the patch converts.
pub(crate) fn check_apply(def: &str, obj: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    if let Some(schema) = DEFINITIONS.get(def) {
        smd_walk(schema, obj, "", &mut errs);
    }
    errs
}

/// Go's `%v` of a structured-merge-diff value, as its errors print it: `&{...}`.
fn smd_v(v: &Value) -> String {
    format!("&{{{}}}", go_v(v))
}

/// Go's `%v` of a decoded JSON value (`map[a:b]`, `[1 2]`).
pub(crate) fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_v(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%v` of a `float64`: the shortest digits, with an exponent (`1e+06`, `1.5e-07`) below
/// 1e-4 or from 1e6 on (`strconv.FormatFloat(f, 'g', -1, 64)`).
fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return match f {
            f if f.is_nan() => "NaN".into(),
            f if f == f64::INFINITY => "+Inf".into(),
            f if f == f64::NEG_INFINITY => "-Inf".into(),
            f if f.is_sign_negative() => "-0".into(),
            _ => "0".into(),
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

fn go_type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%#v` of a structured-merge-diff value holding `v`.
fn smd_hash_v(v: &Value) -> String {
    fn inner(v: &Value) -> String {
        match v {
            Value::Null => "interface {}(nil)".into(),
            Value::String(s) => format!("{s:?}"),
            Value::Array(a) => format!(
                "[]interface {{}}{{{}}}",
                a.iter().map(inner).collect::<Vec<_>>().join(", ")
            ),
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let parts: Vec<String> = keys
                    .into_iter()
                    .map(|k| format!("{k:?}:{}", inner(&m[k])))
                    .collect();
                format!("map[string]interface {{}}{{{}}}", parts.join(", "))
            }
            other => other.to_string(),
        }
    }
    format!("&value.valueUnstructured{{Value:{}}}", inner(v))
}

fn smd_walk(schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    if v.is_null() {
        return;
    }
    let at = |m: String| {
        if path.is_empty() {
            m
        } else {
            format!("{path}: {m}")
        }
    };
    match node(schema) {
        Node::Struct { properties, .. } => {
            let Value::Object(m) = v else {
                return errs.push(at(format!("expected map, got {}", smd_v(v))));
            };
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let child = format!("{path}.{k}");
                match properties.get(k) {
                    Some(s) => smd_walk(s, &m[k], &child, errs),
                    None => {
                        errs.push(format!("{child}: field not declared in schema"));
                        return;
                    }
                }
            }
        }
        Node::Map(values) => {
            let Value::Object(m) = v else {
                return errs.push(at(format!("expected map, got {}", smd_v(v))));
            };
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                smd_walk(values, &m[k], &format!("{path}.{k}"), errs);
            }
        }
        Node::List { items, keys, set } => {
            let Value::Array(a) = v else {
                return errs.push(at(format!("expected list, got {}", smd_v(v))));
            };
            for (i, child) in a.iter().enumerate() {
                let element = if set {
                    format!("[={child}]")
                } else if !keys.is_empty() && keys.iter().all(|k| child.get(k).is_some()) {
                    let parts: Vec<String> =
                        keys.iter().map(|k| format!("{k}={}", child[*k])).collect();
                    format!("[{}]", parts.join(","))
                } else {
                    format!("[{i}]")
                };
                smd_walk(items, child, &format!("{path}{element}"), errs);
            }
        }
        Node::String | Node::Time => {
            if !v.is_string() {
                errs.push(at(format!("expected string, got {}", smd_hash_v(v))));
            }
        }
        Node::Integer(_) | Node::Number => {
            if !v.is_number() {
                errs.push(at(format!(
                    "expected numeric (int or float), got {}",
                    go_type_of(v)
                )));
            }
        }
        Node::Boolean => {
            if !v.is_boolean() {
                errs.push(at(format!("expected boolean, got {}", smd_v(v))));
            }
        }
        Node::IntOrString | Node::Quantity => {
            if v.is_array() || v.is_object() {
                errs.push(at(format!("expected any scalar, got {}", smd_v(v))));
            }
        }
        Node::Any => {}
    }
}

/// structured-merge-diff's `ValidationErrors.Error()`: one error alone, or `errors:` and one
/// indented line each.
pub(crate) fn join_apply_errors(errs: &[String]) -> String {
    if errs.len() == 1 {
        return errs[0].clone();
    }
    let mut out = vec!["errors:".to_string()];
    out.extend(errs.iter().map(|e| format!("  {e}")));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sts() -> &'static str {
        definition_name(kube_store::kind_by_name("StatefulSet").unwrap()).unwrap()
    }

    #[test]
    fn every_served_kind_has_a_definition() {
        for info in kube_store::kinds() {
            assert!(definition_name(info).is_some(), "{}", info.kind);
        }
        assert_eq!(sts(), "io.k8s.api.apps.v1.StatefulSet");
    }

    #[test]
    fn decoding_drops_unknown_fields_and_names_them_with_list_indices() {
        let mut obj = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "foo": 1,
            "metadata": {"name": "db", "bogus": true},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "a", "image": "x"}, {"name": "b", "imagee": "y"}
            ]}}}
        });
        let d = decode(sts(), &mut obj);
        assert_eq!(
            d.unknown,
            [
                "foo",
                "metadata.bogus",
                "spec.template.spec.containers[1].imagee"
            ]
        );
        assert_eq!(d.type_error, None);
        assert!(obj.get("foo").is_none());
        assert!(obj
            .pointer("/spec/template/spec/containers/1/imagee")
            .is_none());
        assert_eq!(
            obj.pointer("/spec/template/spec/containers/1/name"),
            Some(&json!("b"))
        );
    }

    #[test]
    fn decoding_words_a_wrong_type_as_go_does() {
        let mut obj = json!({"spec": {"replicas": "3"}});
        let d = decode(sts(), &mut obj);
        assert_eq!(
            d.type_error.as_deref(),
            Some("json: cannot unmarshal string into Go struct field StatefulSetSpec.spec.replicas of type int32")
        );
        let mut obj = json!({"spec": {"template": {"spec": {"containers": [{"name": 5}]}}}});
        assert_eq!(
            decode(sts(), &mut obj).type_error.as_deref(),
            Some("json: cannot unmarshal number 5 into Go struct field Container.spec.template.spec.containers.name of type string")
        );
        let mut obj = json!({"spec": {"template": []}});
        assert_eq!(
            decode(sts(), &mut obj).type_error.as_deref(),
            Some("json: cannot unmarshal array into Go struct field StatefulSetSpec.spec.template of type v1.PodTemplateSpec")
        );
        let mut obj = json!({"spec": {"replicas": 1.5}});
        assert_eq!(
            decode(sts(), &mut obj).type_error.as_deref(),
            Some("json: cannot unmarshal number 1.5 into Go struct field StatefulSetSpec.spec.replicas of type int32")
        );
    }

    #[test]
    fn quantities_and_int_or_strings_accept_what_go_accepts() {
        let mut obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "a",
            "resources": {"limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": "250m"}},
            "ports": [{"containerPort": 80}],
            "readinessProbe": {"tcpSocket": {"port": "pg"}}}]}}}});
        assert_eq!(decode(sts(), &mut obj), Decoded::default());
        let mut obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "a",
            "resources": {"limits": {"cpu": "lots"}}}]}}}});
        assert_eq!(
            decode(sts(), &mut obj).type_error.as_deref(),
            Some("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
        );
        assert_eq!(
            check_quantity("1iG"),
            Err("unable to parse quantity's suffix")
        );
        assert!(check_quantity("1Gb").is_err());
        assert_eq!(check_quantity("1e3"), Ok(()));
        assert_eq!(
            check_quantity("1.2.3"),
            Err("unable to parse numeric part of quantity")
        );
    }

    #[test]
    fn apply_checks_name_the_path_as_structured_merge_diff_does() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {"foo": 1, "template": {"spec": {"containers": [{"name": "db", "bar": 2}]}}}});
        assert_eq!(
            check_apply(sts(), &obj),
            [".spec.foo: field not declared in schema",]
        );
        let obj = json!({"spec": {"replicas": "3",
            "template": {"spec": {"containers": [{"name": "db", "bar": 2}]}}}});
        let errs = check_apply(sts(), &obj);
        assert_eq!(
            errs,
            [
                ".spec.replicas: expected numeric (int or float), got string",
                ".spec.template.spec.containers[name=\"db\"].bar: field not declared in schema",
            ]
        );
        assert_eq!(
            join_apply_errors(&errs),
            "errors:\n  .spec.replicas: expected numeric (int or float), got string\n  .spec.template.spec.containers[name=\"db\"].bar: field not declared in schema"
        );
    }
}
