//! Server-side printing: a GET whose `Accept` asks for `application/json;as=Table;v=v1;
//! g=meta.k8s.io` (as `kubectl get` does) is answered with a `meta.k8s.io/v1` Table of the
//! columns `pkg/printers/internalversion/printers.go` gives the kind, or NAME and AGE as the
//! default table convertor (`staging/src/k8s.io/apiserver/pkg/registry/rest/table.go`) does.
//! Each row carries the object's metadata (`includeObject=Metadata`, the default), or the whole
//! object with `includeObject=Object`, or nothing with `None`.

use serde_json::{json, Value};

use kube_store::KindInfo;

use crate::controllers::cronjob::parse_time;
use crate::controllers::s;

/// Whether the client asked for a v1 Table.
pub(crate) fn wanted(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table")
            && params.contains(&"v=v1")
            && params.contains(&"g=meta.k8s.io")
    })
}

/// One column: name, type, format, priority (1: only with `-o wide`).
type Column = (&'static str, &'static str, &'static str, u8);

const NAME: Column = ("Name", "string", "name", 0);
const AGE: Column = ("Age", "string", "", 0);

fn columns(kind: &str) -> Vec<Column> {
    let c = |name, ty| (name, ty, "", 0);
    let wide = |name, ty| (name, ty, "", 1);
    match kind {
        "Namespace" => vec![NAME, c("Status", "string"), AGE],
        "Pod" => vec![
            NAME,
            c("Ready", "string"),
            c("Status", "string"),
            c("Restarts", "string"),
            AGE,
            wide("IP", "string"),
            wide("Node", "string"),
            wide("Nominated Node", "string"),
            wide("Readiness Gates", "string"),
        ],
        "StatefulSet" => vec![
            NAME,
            c("Ready", "string"),
            AGE,
            wide("Containers", "string"),
            wide("Images", "string"),
        ],
        "PersistentVolumeClaim" => vec![
            NAME,
            c("Status", "string"),
            c("Volume", "string"),
            c("Capacity", "string"),
            c("Access Modes", "string"),
            c("StorageClass", "string"),
            c("VolumeAttributesClass", "string"),
            AGE,
            wide("VolumeMode", "string"),
        ],
        "Job" => vec![
            NAME,
            c("Status", "string"),
            c("Completions", "string"),
            c("Duration", "string"),
            AGE,
            wide("Containers", "string"),
            wide("Images", "string"),
            wide("Selector", "string"),
        ],
        "CronJob" => vec![
            NAME,
            c("Schedule", "string"),
            c("Timezone", "string"),
            c("Suspend", "boolean"),
            c("Active", "integer"),
            c("Last Schedule", "string"),
            AGE,
            wide("Containers", "string"),
            wide("Images", "string"),
            wide("Selector", "string"),
        ],
        "ResourceQuota" => vec![NAME, AGE, c("Request", "string"), c("Limit", "string")],
        "NetworkPolicy" => vec![NAME, c("Pod-Selector", "string"), AGE],
        "Service" => vec![
            NAME,
            c("Type", "string"),
            c("Cluster-IP", "string"),
            c("External-IP", "string"),
            c("Port(s)", "string"),
            AGE,
            wide("Selector", "string"),
        ],
        "ConfigMap" => vec![NAME, c("Data", "integer"), AGE],
        "Secret" => vec![NAME, c("Type", "string"), c("Data", "integer"), AGE],
        "ServiceAccount" => vec![NAME, c("Secrets", "integer"), AGE],
        "RoleBinding" | "ClusterRoleBinding" => vec![
            NAME,
            c("Role", "string"),
            AGE,
            wide("Users", "string"),
            wide("Groups", "string"),
            wide("ServiceAccounts", "string"),
        ],
        "StorageClass" => vec![
            NAME,
            c("Provisioner", "string"),
            c("ReclaimPolicy", "string"),
            c("VolumeBindingMode", "string"),
            c("AllowVolumeExpansion", "string"),
            AGE,
        ],
        "ControllerRevision" => vec![
            NAME,
            c("Controller", "string"),
            c("Revision", "integer"),
            AGE,
        ],
        "Lease" => vec![NAME, c("Holder", "string"), AGE],
        "Role" | "ClusterRole" | "LimitRange" => vec![NAME, c("Created At", "date")],
        "Deployment" => vec![
            NAME,
            c("Ready", "string"),
            c("Up-to-date", "string"),
            c("Available", "string"),
            AGE,
            wide("Containers", "string"),
            wide("Images", "string"),
            wide("Selector", "string"),
        ],
        "PodDisruptionBudget" => vec![
            NAME,
            c("Min Available", "string"),
            c("Max Unavailable", "string"),
            c("Allowed Disruptions", "integer"),
            AGE,
        ],
        _ => vec![NAME, AGE],
    }
}

/// `duration.HumanDuration` (`staging/src/k8s.io/apimachinery/pkg/util/duration`).
pub(crate) fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return match secs % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `translateTimestampSince`: `<unknown>` without a time.
fn since(t: &str, now: i64) -> String {
    match parse_time(t) {
        Some(at) if !t.is_empty() => human_duration(now - at),
        _ => "<unknown>".into(),
    }
}

fn none_if_empty(v: String) -> String {
    if v.is_empty() {
        "<none>".into()
    } else {
        v
    }
}

fn strings(v: &Value, ptr: &str, field: &str) -> Vec<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| s(x, field).to_string()).collect())
        .unwrap_or_default()
}

fn len_of(v: &Value, ptr: &str) -> usize {
    match v.pointer(ptr) {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(m)) => m.len(),
        _ => 0,
    }
}

/// `metav1.FormatLabelSelector`.
fn label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let values = crate::rbac::strings(e.get("values"));
        let key = s(e, "/key");
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn containers_and_images(spec: Option<&Value>) -> (String, String) {
    let Some(spec) = spec else {
        return (String::new(), String::new());
    };
    (
        strings(spec, "/containers", "/name").join(","),
        strings(spec, "/containers", "/image").join(","),
    )
}

/// `printPod`'s status: the phase, or a container's waiting or terminated reason, or
/// `Terminating`.
fn pod_reason(pod: &Value) -> String {
    let mut reason = match s(pod, "/status/reason") {
        "" => s(pod, "/status/phase").to_string(),
        r => r.to_string(),
    };
    for c in pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .rev()
    {
        let waiting = s(c, "/state/waiting/reason");
        let terminated = s(c, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        }
    }
    if !s(pod, "/metadata/deletionTimestamp").is_empty() {
        reason = "Terminating".into();
    }
    reason
}

fn access_modes(modes: &[String]) -> String {
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.iter().any(|m| m == mode) {
            out.push(short);
        }
    }
    out.join(",")
}

fn job_status(job: &Value) -> String {
    let has = |t: &str| {
        job.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| s(c, "/type") == t && s(c, "/status") == "True")
            })
    };
    for t in ["Complete", "Failed"] {
        if has(t) {
            return t.into();
        }
    }
    if !s(job, "/metadata/deletionTimestamp").is_empty() {
        return "Terminating".into();
    }
    for t in ["SuccessCriteriaMet", "FailureTarget", "Suspended"] {
        if has(t) {
            return t.into();
        }
    }
    "Running".into()
}

fn job_completions(job: &Value) -> String {
    let succeeded = job
        .pointer("/status/succeeded")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(n) => format!("{succeeded}/{n}"),
        None => {
            let parallelism = job
                .pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    }
}

fn job_duration(job: &Value, now: i64) -> String {
    let Some(start) = parse_time(s(job, "/status/startTime")) else {
        return String::new();
    };
    let end = parse_time(s(job, "/status/completionTime")).unwrap_or(now);
    human_duration(end - start)
}

/// `used/hard` of each resource of a quota, sorted, for requests or for `limits.*`.
fn quota_usage(q: &Value, limits: bool) -> String {
    let Some(hard) = q
        .pointer("/status/hard")
        .or_else(|| q.pointer("/spec/hard"))
        .and_then(Value::as_object)
    else {
        return String::new();
    };
    let mut keys: Vec<&String> = hard
        .keys()
        .filter(|k| k.starts_with("limits.") == limits)
        .collect();
    keys.sort();
    keys.iter()
        .map(|k| {
            let used = q
                .pointer("/status/used")
                .and_then(|u| u.get(k.as_str()))
                .and_then(Value::as_str)
                .unwrap_or("0");
            format!("{k}: {used}/{}", hard[k.as_str()].as_str().unwrap_or(""))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p.get("port").map(|v| v.to_string()).unwrap_or_default();
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(n) => format!("{port}:{n}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    none_if_empty(ports.join(","))
}

fn selector_map(sel: Option<&Value>) -> String {
    let parts: Vec<String> = sel
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    none_if_empty(parts.join(","))
}

fn subjects(rb: &Value, kind: &str) -> String {
    rb.get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|sub| s(sub, "/kind") == kind)
        .map(|sub| {
            if kind == "ServiceAccount" {
                format!("{}/{}", s(sub, "/namespace"), s(sub, "/name"))
            } else {
                s(sub, "/name").to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn cells(info: &KindInfo, o: &Value, now: i64) -> Vec<Value> {
    let name = s(o, "/metadata/name");
    let age = since(s(o, "/metadata/creationTimestamp"), now);
    match info.kind {
        "Namespace" => vec![json!(name), json!(s(o, "/status/phase")), json!(age)],
        "Pod" => {
            let total = len_of(o, "/spec/containers");
            let ready = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map_or(0, |cs| cs.iter().filter(|c| c["ready"] == true).count());
            let restarts: i64 = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map_or(0, |cs| {
                    cs.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
                });
            vec![
                json!(name),
                json!(format!("{ready}/{total}")),
                json!(pod_reason(o)),
                json!(restarts.to_string()),
                json!(age),
                json!(none_if_empty(s(o, "/status/podIP").to_string())),
                json!(none_if_empty(s(o, "/spec/nodeName").to_string())),
                json!(none_if_empty(s(o, "/status/nominatedNodeName").to_string())),
                json!("<none>"),
            ]
        }
        "StatefulSet" => {
            let (containers, images) = containers_and_images(o.pointer("/spec/template/spec"));
            let ready = o
                .pointer("/status/readyReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let desired = o
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            vec![
                json!(name),
                json!(format!("{ready}/{desired}")),
                json!(age),
                json!(containers),
                json!(images),
            ]
        }
        "PersistentVolumeClaim" => {
            let volume = s(o, "/spec/volumeName");
            let (capacity, modes) = if volume.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    s(o, "/status/capacity/storage").to_string(),
                    access_modes(
                        &o.pointer("/status/accessModes")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect::<Vec<_>>(),
                    ),
                )
            };
            let phase = if s(o, "/metadata/deletionTimestamp").is_empty() {
                s(o, "/status/phase").to_string()
            } else {
                "Terminating".into()
            };
            let class = o
                .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
                .and_then(Value::as_str)
                .unwrap_or_else(|| s(o, "/spec/storageClassName"));
            let vac = match s(o, "/spec/volumeAttributesClassName") {
                "" => "<unset>",
                v => v,
            };
            let mode = match s(o, "/spec/volumeMode") {
                "" => "<unset>",
                m => m,
            };
            vec![
                json!(name),
                json!(phase),
                json!(volume),
                json!(capacity),
                json!(modes),
                json!(class),
                json!(vac),
                json!(age),
                json!(mode),
            ]
        }
        "Job" => {
            let (containers, images) = containers_and_images(o.pointer("/spec/template/spec"));
            vec![
                json!(name),
                json!(job_status(o)),
                json!(job_completions(o)),
                json!(job_duration(o, now)),
                json!(age),
                json!(containers),
                json!(images),
                json!(label_selector(o.pointer("/spec/selector"))),
            ]
        }
        "CronJob" => {
            let (containers, images) =
                containers_and_images(o.pointer("/spec/jobTemplate/spec/template/spec"));
            let last = match s(o, "/status/lastScheduleTime") {
                "" => "<none>".to_string(),
                t => since(t, now),
            };
            vec![
                json!(name),
                json!(s(o, "/spec/schedule")),
                json!(none_if_empty(s(o, "/spec/timeZone").to_string())),
                json!(o
                    .pointer("/spec/suspend")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)),
                json!(len_of(o, "/status/active")),
                json!(last),
                json!(age),
                json!(containers),
                json!(images),
                json!(label_selector(o.pointer("/spec/jobTemplate/spec/selector"))),
            ]
        }
        "ResourceQuota" => vec![
            json!(name),
            json!(age),
            json!(quota_usage(o, false)),
            json!(quota_usage(o, true)),
        ],
        "NetworkPolicy" => vec![
            json!(name),
            json!(label_selector(o.pointer("/spec/podSelector"))),
            json!(age),
        ],
        "Service" => {
            let ty = match s(o, "/spec/type") {
                "" => "ClusterIP",
                t => t,
            };
            let ips = strings(o, "/status/loadBalancer/ingress", "/ip").join(",");
            let external = match (ty, ips.is_empty()) {
                ("LoadBalancer", true) => "<pending>".to_string(),
                ("ExternalName", _) => s(o, "/spec/externalName").to_string(),
                (_, _) => none_if_empty(ips),
            };
            vec![
                json!(name),
                json!(ty),
                json!(none_if_empty(s(o, "/spec/clusterIP").to_string())),
                json!(external),
                json!(service_ports(o)),
                json!(age),
                json!(selector_map(o.pointer("/spec/selector"))),
            ]
        }
        "ConfigMap" => vec![
            json!(name),
            json!(len_of(o, "/data") + len_of(o, "/binaryData")),
            json!(age),
        ],
        "Secret" => vec![
            json!(name),
            json!(s(o, "/type")),
            json!(len_of(o, "/data")),
            json!(age),
        ],
        "ServiceAccount" => vec![json!(name), json!(len_of(o, "/secrets")), json!(age)],
        "RoleBinding" | "ClusterRoleBinding" => vec![
            json!(name),
            json!(format!(
                "{}/{}",
                s(o, "/roleRef/kind"),
                s(o, "/roleRef/name")
            )),
            json!(age),
            json!(subjects(o, "User")),
            json!(subjects(o, "Group")),
            json!(subjects(o, "ServiceAccount")),
        ],
        "StorageClass" => {
            let default = [
                "storageclass.kubernetes.io~1is-default-class",
                "storageclass.beta.kubernetes.io~1is-default-class",
            ]
            .iter()
            .any(|a| {
                o.pointer(&format!("/metadata/annotations/{a}"))
                    .and_then(Value::as_str)
                    == Some("true")
            });
            let shown = if default {
                format!("{name} (default)")
            } else {
                name.to_string()
            };
            vec![
                json!(shown),
                json!(s(o, "/provisioner")),
                json!(s(o, "/reclaimPolicy")),
                json!(s(o, "/volumeBindingMode")),
                json!(o
                    .get("allowVolumeExpansion")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string()),
                json!(age),
            ]
        }
        "ControllerRevision" => {
            let controller = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .and_then(|rs| rs.iter().find(|r| r["controller"] == true))
                .map_or("<none>".to_string(), |r| {
                    let api = s(r, "/apiVersion");
                    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
                    let kind = s(r, "/kind").to_lowercase();
                    let kind = if group.is_empty() {
                        kind
                    } else {
                        format!("{kind}.{group}")
                    };
                    format!("{kind}/{}", s(r, "/name"))
                });
            vec![
                json!(name),
                json!(controller),
                json!(o.get("revision").and_then(Value::as_i64).unwrap_or(0)),
                json!(age),
            ]
        }
        "Lease" => vec![json!(name), json!(s(o, "/spec/holderIdentity")), json!(age)],
        "Role" | "ClusterRole" | "LimitRange" => {
            vec![json!(name), json!(s(o, "/metadata/creationTimestamp"))]
        }
        "Deployment" => {
            let (containers, images) = containers_and_images(o.pointer("/spec/template/spec"));
            let n = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            vec![
                json!(name),
                json!(format!(
                    "{}/{}",
                    n("/status/readyReplicas"),
                    n("/spec/replicas")
                )),
                json!(n("/status/updatedReplicas")),
                json!(n("/status/availableReplicas")),
                json!(age),
                json!(containers),
                json!(images),
                json!(label_selector(o.pointer("/spec/selector"))),
            ]
        }
        "PodDisruptionBudget" => {
            let field = |p: &str| match o.pointer(p) {
                Some(Value::String(v)) => v.clone(),
                Some(Value::Number(v)) => v.to_string(),
                _ => "N/A".to_string(),
            };
            vec![
                json!(name),
                json!(field("/spec/minAvailable")),
                json!(field("/spec/maxUnavailable")),
                json!(o
                    .pointer("/status/disruptionsAllowed")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)),
                json!(age),
            ]
        }
        _ => vec![json!(name), json!(age)],
    }
}

/// The Table of `items` (one object or a list page), with the list's `resourceVersion` and
/// `continue`; `include` is the request's `includeObject` (`Metadata` when absent).
pub(crate) fn table(
    info: &KindInfo,
    items: &[Value],
    resource_version: Option<&str>,
    continue_token: Option<&str>,
    include: Option<&str>,
    now_ms: i64,
) -> Value {
    let now = now_ms.div_euclid(1000);
    let column_definitions: Vec<Value> = columns(info.kind)
        .into_iter()
        .map(|(name, ty, format, priority)| {
            json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let object = match include {
                Some("None") => Value::Null,
                Some("Object") => o.clone(),
                _ => {
                    let mut metadata = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
                    crate::gojson::shape("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", &mut metadata);
                    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata})
                }
            };
            let mut row = json!({"cells": cells(info, o, now)});
            if !object.is_null() {
                row["object"] = object;
            }
            row
        })
        .collect();
    let mut meta = serde_json::Map::new();
    if let Some(rv) = resource_version {
        meta.insert("resourceVersion".into(), json!(rv));
    }
    if let Some(c) = continue_token {
        meta.insert("continue".into(), json!(c));
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_written_as_human_duration_writes_them() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 300, "3h5m"),
            (8 * 3600, "8h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 86400, "8d"),
            (2 * 365 * 86400 + 86400, "2y1d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn only_a_v1_meta_table_is_a_table() {
        assert!(wanted("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
        assert!(!wanted("application/json;as=Table;v=v1beta1;g=meta.k8s.io"));
        assert!(!wanted("application/json"));
    }
}
