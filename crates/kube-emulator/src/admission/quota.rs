//! ResourceQuota admission (`staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/
//! controller.go`, `CheckRequest`) with the evaluators of `pkg/quota/v1/evaluator/core`
//! (`pods.go`, `persistent_volume_claims.go`) and the object-count evaluator for other kinds.
//!
//! The usage a create is added to is the larger of the quota's `status.used` and the usage of
//! the objects stored now (the controller's recalculation), resource by resource; the limit is
//! `spec.hard`, as if the quota controller had already synced `status.hard`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use kube_store::quantity::parse_quantity;
use kube_store::{KindInfo, ObjectStore};

use super::{forbidden, internal, name_of, Refusal};
use crate::controllers::resourcequota::{pod_charged, pod_resource, usage, Sum};
use crate::controllers::{list, s};

/// Resources whose quota obliges every container to name them (`validationSet`).
const VALIDATION_SET: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// `podResources`: what the pod evaluator measures (besides hugepages and extended resources).
const POD_RESOURCES: [&str; 11] = [
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// The object-count resource of a kind (`count/<resource>[.<group>]`) and its legacy name.
fn count_names(info: &KindInfo) -> Vec<String> {
    let count = if info.group.is_empty() {
        format!("count/{}", info.plural)
    } else {
        format!("count/{}.{}", info.plural, info.group)
    };
    let mut names = vec![count];
    if info.group.is_empty()
        && matches!(
            info.plural,
            "configmaps" | "secrets" | "services" | "resourcequotas" | "persistentvolumeclaims"
        )
    {
        names.push(info.plural.to_string());
    }
    names
}

/// `MatchingResources`: which of a quota's resources the create of a `kind` object uses.
fn matching(info: &KindInfo, hard: &[String]) -> Vec<String> {
    hard.iter()
        .filter(|r| match info.kind {
            "Pod" => {
                POD_RESOURCES.contains(&r.as_str())
                    || r.starts_with("hugepages-")
                    || r.starts_with("requests.hugepages-")
            }
            "PersistentVolumeClaim" => {
                matches!(
                    r.as_str(),
                    "persistentvolumeclaims" | "count/persistentvolumeclaims" | "requests.storage"
                ) || r.ends_with(".storageclass.storage.k8s.io/requests.storage")
                    || r.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims")
            }
            _ => count_names(info).contains(r),
        })
        .cloned()
        .collect()
}

/// `podComputeUsageHelper`: the quota resources a set of requests and limits uses.
fn compute_usage(
    requests: &dyn Fn(&str) -> Option<Sum>,
    limits: &dyn Fn(&str) -> Option<Sum>,
) -> BTreeMap<String, Sum> {
    let mut out = BTreeMap::new();
    out.insert("pods".to_string(), Sum::count(1));
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests(r) {
            out.insert(r.to_string(), q);
            out.insert(format!("requests.{r}"), q);
        }
        if let Some(q) = limits(r) {
            out.insert(format!("limits.{r}"), q);
        }
    }
    out
}

/// `Constraints` of the pod evaluator: every container (and init container) must name each
/// cpu/memory resource the quota constrains.
fn pod_constraints(pod: &Value, required: &[String]) -> Option<String> {
    let required: BTreeSet<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|r| VALIDATION_SET.contains(r))
        .collect();
    let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for list in ["containers", "initContainers"] {
        for c in pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let has = |field: &str, r: &str| {
                c.pointer(&format!("/resources/{field}/{r}"))
                    .map(|v| Sum::of(Some(v)))
            };
            let usage = compute_usage(&|r| has("requests", r), &|r| has("limits", r));
            for r in &required {
                if !usage.contains_key(*r) {
                    missing
                        .entry(r)
                        .or_default()
                        .insert(s(c, "/name").to_string());
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(r, names)| {
            format!(
                "{r} for: {}",
                names.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// `Usage` of the object being created.
fn object_usage(info: &KindInfo, obj: &Value) -> BTreeMap<String, Sum> {
    match info.kind {
        "Pod" => {
            let mut out = BTreeMap::new();
            out.insert("count/pods".to_string(), Sum::count(1));
            if !pod_charged(obj) {
                return out;
            }
            let quantity = |field: &'static str| {
                move |r: &str| {
                    let present = ["containers", "initContainers"].iter().any(|l| {
                        obj.pointer(&format!("/spec/{l}"))
                            .and_then(Value::as_array)
                            .is_some_and(|cs| {
                                cs.iter().any(|c| {
                                    c.pointer(&format!("/resources/{field}/{r}")).is_some()
                                })
                            })
                    });
                    present.then(|| pod_resource(obj, field, r))
                }
            };
            out.extend(compute_usage(&quantity("requests"), &quantity("limits")));
            out
        }
        "PersistentVolumeClaim" => {
            let mut out = BTreeMap::new();
            out.insert("persistentvolumeclaims".to_string(), Sum::count(1));
            out.insert("count/persistentvolumeclaims".to_string(), Sum::count(1));
            let storage = Sum::of(obj.pointer("/spec/resources/requests/storage"));
            out.insert("requests.storage".to_string(), storage);
            let class = s(obj, "/spec/storageClassName");
            if !class.is_empty() {
                out.insert(
                    format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
                    Sum::count(1),
                );
                out.insert(
                    format!("{class}.storageclass.storage.k8s.io/requests.storage"),
                    storage,
                );
            }
            out
        }
        _ => count_names(info)
            .into_iter()
            .map(|n| (n, Sum::count(1)))
            .collect(),
    }
}

fn quantity(v: Option<&Value>) -> Option<Sum> {
    let text = v.and_then(Value::as_str)?;
    parse_quantity(text).ok()?;
    Some(Sum::of(v))
}

fn pretty(items: &BTreeMap<String, Sum>) -> String {
    items
        .iter()
        .map(|(k, v)| format!("{k}={}", v.text()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `CheckRequest` for a create: constraints, then whether the usage fits every quota of the
/// namespace, quota by quota in name order.
pub(super) fn admit(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    obj: &Value,
) -> Result<(), Refusal> {
    let mut quotas = list(store, "ResourceQuota", Some(ns)).map_err(internal)?;
    if quotas.is_empty() {
        return Ok(());
    }
    quotas.sort_by(|a, b| s(a, "/metadata/name").cmp(s(b, "/metadata/name")));
    let name = name_of(obj);
    let delta = object_usage(info, obj);
    for q in &quotas {
        let qname = s(q, "/metadata/name");
        let hard: BTreeMap<String, Sum> = q
            .pointer("/spec/hard")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| quantity(Some(v)).map(|q| (k.clone(), q)))
                    .collect()
            })
            .unwrap_or_default();
        let hard_names: Vec<String> = hard.keys().cloned().collect();
        let restricted = matching(info, &hard_names);
        if restricted.is_empty() {
            continue;
        }
        if info.kind == "Pod" {
            if let Some(m) = pod_constraints(obj, &restricted) {
                return Err(forbidden(
                    info,
                    name,
                    &format!("failed quota: {qname}: {m}"),
                ));
            }
        }
        let requested: BTreeMap<String, Sum> = delta
            .iter()
            .filter(|(k, v)| hard.contains_key(*k) && v.nanos != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        if requested.is_empty() {
            continue;
        }
        let stored = usage(store, ns, requested.keys().cloned()).map_err(internal)?;
        let mut used = BTreeMap::new();
        for k in requested.keys() {
            let from_status =
                quantity(q.pointer(&format!("/status/used/{}", k.replace('/', "~1"))));
            let from_store = quantity(stored.get(k));
            let u = match (from_status, from_store) {
                (Some(a), Some(b)) => {
                    if b.nanos > a.nanos {
                        b
                    } else {
                        a
                    }
                }
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => Sum::of(Some(&Value::from("0"))),
            };
            used.insert(k.clone(), u);
        }
        let exceeded: Vec<&String> = requested
            .iter()
            .filter(|(k, r)| used[*k].nanos + r.nanos > hard[*k].nanos)
            .map(|(k, _)| k)
            .collect();
        if !exceeded.is_empty() {
            let mask = |m: &BTreeMap<String, Sum>| -> BTreeMap<String, Sum> {
                m.iter()
                    .filter(|(k, _)| exceeded.contains(k))
                    .map(|(k, v)| (k.clone(), *v))
                    .collect()
            };
            return Err(forbidden(
                info,
                name,
                &format!(
                    "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                    pretty(&mask(&requested)),
                    pretty(&mask(&used)),
                    pretty(&mask(&hard)),
                ),
            ));
        }
    }
    Ok(())
}
