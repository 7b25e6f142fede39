//! Responses as Go's `encoding/json` writes them, which is what a real API server sends
//! (`json.Encoder` in `staging/src/k8s.io/apimachinery/pkg/runtime/serializer/json/json.go`):
//!
//! - `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`,
//!   `\u2029` (`SetEscapeHTML` is on by default), and a newline after the document;
//! - fields tagged `omitempty` absent when empty, and map keys sorted, because the object went
//!   through the Go structs ([`shape`]).
//!
//! Which fields are `omitempty` is derived from the OpenAPI schema as kube-openapi writes it: a
//! field that is not `omitempty` and not `+optional` is `required`, so a required field is
//! never omitted and an optional one is taken to be `omitempty`. Two corrections come from the
//! type definitions (`staging/src/k8s.io/api/*/v1/types.go`,
//! `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go`): optional fields without
//! `omitempty` ([`NOT_OMITEMPTY`]), and optional scalars that are pointers, whose zero value
//! (`0`, `false`, `""`) is kept because only a nil pointer is empty ([`POINTERS`]). A struct
//! is never empty to `omitempty` (a value struct never is, a pointer to one only when nil), so
//! `{}` of a struct-typed field is kept; so are `IntOrString`, `Quantity` and `Time`, which are
//! structs in Go.

use serde_json::Value;

use crate::schema::{self, Node};

/// Optional fields whose zero value is kept: Go pointers to scalars (`*int32`, `*bool`,
/// `*string` and named string types), by definition.
const POINTERS: &[(&str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.PodSpec",
        &[
            "terminationGracePeriodSeconds",
            "activeDeadlineSeconds",
            "automountServiceAccountToken",
            "shareProcessNamespace",
            "priority",
            "enableServiceLinks",
            "preemptionPolicy",
            "setHostnameAsFQDN",
            "hostUsers",
            "runtimeClassName",
            "hostnameOverride",
        ],
    ),
    ("io.k8s.api.core.v1.Container", &["restartPolicy"]),
    (
        "io.k8s.api.core.v1.VolumeMount",
        &["recursiveReadOnly", "mountPropagation"],
    ),
    (
        "io.k8s.api.core.v1.SecurityContext",
        &[
            "privileged",
            "runAsUser",
            "runAsGroup",
            "runAsNonRoot",
            "readOnlyRootFilesystem",
            "allowPrivilegeEscalation",
            "procMount",
        ],
    ),
    (
        "io.k8s.api.core.v1.PodSecurityContext",
        &[
            "runAsUser",
            "runAsGroup",
            "runAsNonRoot",
            "fsGroup",
            "fsGroupChangePolicy",
            "supplementalGroupsPolicy",
        ],
    ),
    (
        "io.k8s.api.core.v1.Probe",
        &["terminationGracePeriodSeconds"],
    ),
    (
        "io.k8s.api.core.v1.SecretVolumeSource",
        &["defaultMode", "optional"],
    ),
    (
        "io.k8s.api.core.v1.ConfigMapVolumeSource",
        &["defaultMode", "optional"],
    ),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", &["defaultMode"]),
    (
        "io.k8s.api.core.v1.DownwardAPIVolumeSource",
        &["defaultMode"],
    ),
    ("io.k8s.api.core.v1.KeyToPath", &["mode"]),
    ("io.k8s.api.core.v1.DownwardAPIVolumeFile", &["mode"]),
    ("io.k8s.api.core.v1.SecretProjection", &["optional"]),
    ("io.k8s.api.core.v1.ConfigMapProjection", &["optional"]),
    (
        "io.k8s.api.core.v1.ServiceAccountTokenProjection",
        &["expirationSeconds"],
    ),
    ("io.k8s.api.core.v1.SecretKeySelector", &["optional"]),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", &["optional"]),
    ("io.k8s.api.core.v1.SecretEnvSource", &["optional"]),
    ("io.k8s.api.core.v1.ConfigMapEnvSource", &["optional"]),
    (
        "io.k8s.api.core.v1.CSIVolumeSource",
        &["readOnly", "fsType"],
    ),
    ("io.k8s.api.core.v1.HostPathVolumeSource", &["type"]),
    ("io.k8s.api.core.v1.GRPCAction", &["service"]),
    ("io.k8s.api.core.v1.PodDNSConfigOption", &["value"]),
    ("io.k8s.api.core.v1.SeccompProfile", &["localhostProfile"]),
    ("io.k8s.api.core.v1.AppArmorProfile", &["localhostProfile"]),
    (
        "io.k8s.api.core.v1.TypedLocalObjectReference",
        &["apiGroup"],
    ),
    (
        "io.k8s.api.core.v1.TypedObjectReference",
        &["apiGroup", "namespace"],
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        &[
            "storageClassName",
            "volumeMode",
            "volumeAttributesClassName",
        ],
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        &["currentVolumeAttributesClassName"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        &[
            "allocateLoadBalancerNodePorts",
            "ipFamilyPolicy",
            "internalTrafficPolicy",
            "loadBalancerClass",
            "trafficDistribution",
        ],
    ),
    ("io.k8s.api.core.v1.ClientIPConfig", &["timeoutSeconds"]),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        &["automountServiceAccountToken"],
    ),
    ("io.k8s.api.core.v1.Secret", &["immutable"]),
    ("io.k8s.api.core.v1.ConfigMap", &["immutable"]),
    ("io.k8s.api.core.v1.Toleration", &["tolerationSeconds"]),
    (
        "io.k8s.api.core.v1.TopologySpreadConstraint",
        &["minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"],
    ),
    ("io.k8s.api.core.v1.ContainerStatus", &["started"]),
    (
        "io.k8s.api.core.v1.WindowsSecurityContextOptions",
        &[
            "gmsaCredentialSpecName",
            "gmsaCredentialSpec",
            "runAsUserName",
            "hostProcess",
        ],
    ),
    (
        "io.k8s.api.apps.v1.StatefulSetSpec",
        &["replicas", "revisionHistoryLimit"],
    ),
    (
        "io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy",
        &["partition"],
    ),
    ("io.k8s.api.apps.v1.StatefulSetStatus", &["collisionCount"]),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        &[
            "replicas",
            "revisionHistoryLimit",
            "progressDeadlineSeconds",
        ],
    ),
    (
        "io.k8s.api.apps.v1.DeploymentStatus",
        &["collisionCount", "terminatingReplicas"],
    ),
    (
        "io.k8s.api.batch.v1.JobSpec",
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "ttlSecondsAfterFinished",
            "completionMode",
            "suspend",
            "manualSelector",
            "podReplacementPolicy",
            "managedBy",
        ],
    ),
    (
        "io.k8s.api.batch.v1.JobStatus",
        &["ready", "terminating", "failedIndexes"],
    ),
    (
        "io.k8s.api.batch.v1.CronJobSpec",
        &[
            "startingDeadlineSeconds",
            "suspend",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
            "timeZone",
        ],
    ),
    (
        "io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement",
        &["containerName"],
    ),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
        &["unhealthyPodEvictionPolicy"],
    ),
    (
        "io.k8s.api.networking.v1.NetworkPolicyPort",
        &["protocol", "endPort"],
    ),
    (
        "io.k8s.api.coordination.v1.LeaseSpec",
        &[
            "holderIdentity",
            "leaseDurationSeconds",
            "leaseTransitions",
            "strategy",
            "preferredHolder",
        ],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
        &["controller", "blockOwnerDeletion"],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        &["deletionGracePeriodSeconds"],
    ),
];

/// Optional fields written without `omitempty`: kept even when empty (`"rules": []`).
const NOT_OMITEMPTY: &[(&str, &[&str])] = &[
    ("io.k8s.api.rbac.v1.Role", &["rules"]),
    ("io.k8s.api.rbac.v1.ClusterRole", &["rules"]),
];

fn listed(table: &[(&str, &[&str])], def: Option<&str>, field: &str) -> bool {
    def.is_some_and(|d| {
        table
            .iter()
            .any(|(t, fields)| *t == d && fields.contains(&field))
    })
}

/// Whether Go's `omitempty` drops this value of a field described by `schema`.
fn is_empty(schema: &Value, v: &Value, pointer: bool) -> bool {
    match v {
        Value::Null => true,
        _ if pointer => false,
        Value::Bool(b) => !b && matches!(schema::node(schema), Node::Boolean),
        Value::Number(n) => {
            n.as_f64() == Some(0.0)
                && matches!(schema::node(schema), Node::Integer(_) | Node::Number)
        }
        Value::String(s) => s.is_empty() && matches!(schema::node(schema), Node::String),
        Value::Array(a) => a.is_empty() && matches!(schema::node(schema), Node::List { .. }),
        Value::Object(m) => m.is_empty() && matches!(schema::node(schema), Node::Map(_)),
    }
}

/// Shapes an object of definition `def` as the Go structs would write it: empty `omitempty`
/// fields dropped, map keys sorted.
pub(crate) fn shape(def: &str, obj: &mut Value) {
    if let Some(schema) = schema::definitions().get(def) {
        shape_node(schema, obj, Some(def));
    }
}

fn shape_node(schema: &Value, v: &mut Value, def: Option<&str>) {
    match schema::node(schema) {
        Node::Struct {
            properties,
            required,
            name,
        } => {
            let def = name.or(def);
            let Value::Object(m) = v else { return };
            m.retain(|k, child| {
                let Some(s) = properties.get(k) else {
                    return true;
                };
                if required.contains(&k.as_str()) || listed(NOT_OMITEMPTY, def, k) {
                    return true;
                }
                if s.get("$ref").is_some() {
                    // Structs (IntOrString, Quantity and Time too) are never empty.
                    return !child.is_null();
                }
                !is_empty(s, child, listed(POINTERS, def, k))
            });
            for (k, child) in m.iter_mut() {
                if let Some(s) = properties.get(k) {
                    shape_node(s, child, None);
                }
            }
        }
        Node::Map(values) => {
            let Value::Object(m) = v else { return };
            m.sort_keys();
            for child in m.values_mut() {
                shape_node(values, child, None);
            }
        }
        Node::List { items, .. } => {
            if let Value::Array(a) = v {
                for child in a {
                    shape_node(items, child, None);
                }
            }
        }
        _ => {}
    }
}

/// `v` as `json.Encoder.Encode` writes it: compact, HTML characters and line separators
/// escaped, a newline at the end.
pub(crate) fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, v);
    out.push('\n');
    out.into_bytes()
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, x);
            }
            out.push('}');
        }
    }
}

/// Go's `appendString` with HTML escaping (`encoding/json/encode.go`).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_characters_and_line_separators_are_escaped_as_go_does() {
        let v = json!({"a": "<b>&c</b>\u{2028}\u{2029}\"\\\n\t\u{1}é"});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            "{\"a\":\"\\u003cb\\u003e\\u0026c\\u003c/b\\u003e\\u2028\\u2029\\\"\\\\\\n\\t\\u0001é\"}\n"
        );
    }

    #[test]
    fn omitempty_fields_are_dropped_when_empty_and_pointers_keep_zero() {
        let mut v = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "", "labels": {}, "annotations": {"b": "2", "a": "1"}, "generation": 0},
            "spec": {
                "replicas": 0, "minReadySeconds": 0, "serviceName": "",
                "selector": {"matchLabels": {"app": "db"}, "matchExpressions": []},
                "template": {"metadata": {}, "spec": {
                    "automountServiceAccountToken": false, "hostNetwork": false,
                    "containers": [{"name": "db", "image": "pg", "stdin": false,
                        "ports": [{"containerPort": 5432, "hostPort": 0, "name": ""}],
                        "volumeMounts": [{"name": "data", "mountPath": "/d", "readOnly": false}],
                        "resources": {}}]}},
                "updateStrategy": {"rollingUpdate": {"partition": 0}}
            },
            "status": {"replicas": 0, "readyReplicas": 0, "observedGeneration": 0}
        });
        shape("io.k8s.api.apps.v1.StatefulSet", &mut v);
        assert_eq!(
            v,
            json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "db", "annotations": {"a": "1", "b": "2"}},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {}, "spec": {
                        "automountServiceAccountToken": false,
                        "containers": [{"name": "db", "image": "pg",
                            "ports": [{"containerPort": 5432}],
                            "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                            "resources": {}}]}},
                    "updateStrategy": {"rollingUpdate": {"partition": 0}}
                },
                "status": {"replicas": 0}
            })
        );
        // Map keys are sorted, as Go writes maps.
        let text = String::from_utf8(to_vec(&v)).unwrap();
        assert!(
            text.contains("\"annotations\":{\"a\":\"1\",\"b\":\"2\"}"),
            "{text}"
        );
    }

    #[test]
    fn optional_fields_without_omitempty_are_kept_empty() {
        let mut v = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r"}, "rules": []});
        shape("io.k8s.api.rbac.v1.Role", &mut v);
        assert_eq!(v["rules"], json!([]));
        let mut v = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "r"}, "subjects": [], "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}});
        shape("io.k8s.api.rbac.v1.RoleBinding", &mut v);
        assert!(v.get("subjects").is_none());
    }

    #[test]
    fn every_pointer_field_is_an_optional_field_of_its_definition() {
        for (def, fields) in POINTERS.iter().chain(NOT_OMITEMPTY) {
            let d = schema::definitions()
                .get(*def)
                .unwrap_or_else(|| panic!("{def} is not a served definition"));
            for f in *fields {
                assert!(d["properties"].get(*f).is_some(), "{def}.{f}");
                let required = d.get("required").and_then(Value::as_array);
                assert!(
                    !required.is_some_and(|r| r.contains(&json!(f))),
                    "{def}.{f} is required"
                );
            }
        }
    }
}
