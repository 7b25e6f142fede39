//! The LimitRanger admission plugin (`plugin/pkg/admission/limitranger/admission.go`): the
//! `Container` limits of the namespace's LimitRanges give a pod's containers (and init
//! containers) the `default` limits and `defaultRequest` requests they lack, noted in the
//! annotation `kubernetes.io/limit-ranger`; then `min`, `max` and `maxLimitRequestRatio` of
//! `Container` and `Pod` limits are enforced.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use kube_store::quantity::parse_quantity;
use kube_store::{KindInfo, ObjectStore, StoreError};

use super::{forbidden, name_of, Refusal};
use crate::controllers::{list, s};

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

fn limit_ranges(store: &ObjectStore, ns: &str) -> Result<Vec<Value>, StoreError> {
    let mut items = list(store, "LimitRange", Some(ns))?;
    items.sort_by(|a, b| s(a, "/metadata/name").cmp(s(b, "/metadata/name")));
    Ok(items)
}

fn items_of(lr: &Value) -> Vec<Value> {
    lr.pointer("/spec/limits")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn map_of(v: &Value, key: &str) -> BTreeMap<String, Value> {
    v.get(key)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// `PodMutateLimitFunc` of each LimitRange: the defaults of its `Container` limits.
pub(super) fn default_pod(
    store: &ObjectStore,
    ns: &str,
    pod: &mut Value,
) -> Result<(), StoreError> {
    for lr in limit_ranges(store, ns)? {
        let mut requests = BTreeMap::new();
        let mut limits = BTreeMap::new();
        for item in items_of(&lr) {
            if s(&item, "/type") == "Container" {
                requests.extend(map_of(&item, "defaultRequest"));
                limits.extend(map_of(&item, "default"));
            }
        }
        if requests.is_empty() && limits.is_empty() {
            continue;
        }
        let mut notes = Vec::new();
        for (list, what) in [
            ("containers", "container"),
            ("initContainers", "init container"),
        ] {
            let Some(cs) = pod
                .pointer_mut(&format!("/spec/{list}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in cs.iter_mut() {
                let cname = s(c, "/name").to_string();
                let Some(cm) = c.as_object_mut() else {
                    continue;
                };
                let resources = cm
                    .entry("resources")
                    .or_insert_with(|| json!({}))
                    .as_object_mut();
                let Some(resources) = resources else { continue };
                let mut set = |field: &str, defaults: &BTreeMap<String, Value>| {
                    let target = resources
                        .entry(field)
                        .or_insert_with(|| Value::Object(Map::new()));
                    let mut added = Vec::new();
                    if let Some(t) = target.as_object_mut() {
                        for (k, v) in defaults {
                            if !t.contains_key(k) {
                                t.insert(k.clone(), v.clone());
                                added.push(k.clone());
                            }
                        }
                    }
                    added.sort();
                    added
                };
                let set_requests = set("requests", &requests);
                let set_limits = set("limits", &limits);
                if !set_requests.is_empty() {
                    notes.push(format!(
                        "{} request for {what} {cname}",
                        set_requests.join(", ")
                    ));
                }
                if !set_limits.is_empty() {
                    notes.push(format!(
                        "{} limit for {what} {cname}",
                        set_limits.join(", ")
                    ));
                }
            }
        }
        if !notes.is_empty() {
            if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
                let annotations = meta
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(a) = annotations.as_object_mut() {
                    a.insert(
                        ANNOTATION.into(),
                        json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
                    );
                }
            }
        }
    }
    Ok(())
}

/// A quantity in nanos, as `Quantity.Cmp` compares them.
fn nanos(v: &Value) -> Option<i128> {
    Some(parse_quantity(v.as_str()?).ok()?.nanos())
}

fn text(v: &Value) -> String {
    v.as_str()
        .and_then(|t| parse_quantity(t).ok())
        .map(|q| q.canonical())
        .unwrap_or_default()
}

/// `minConstraint`, `maxConstraint`, `limitRequestRatioConstraint` of one resource.
fn constraints(
    item: &Value,
    kind: &str,
    requests: &BTreeMap<String, Value>,
    limits: &BTreeMap<String, Value>,
    errors: &mut Vec<String>,
) {
    for (r, enforced) in map_of(item, "min") {
        let (req, lim) = (requests.get(&r), limits.get(&r));
        let e = nanos(&enforced).unwrap_or(0);
        let shown = text(&enforced);
        match req {
            None => errors.push(format!(
                "minimum {r} usage per {kind} is {shown}.  No request is specified"
            )),
            Some(q) if nanos(q).unwrap_or(0) < e => errors.push(format!(
                "minimum {r} usage per {kind} is {shown}, but request is {}",
                text(q)
            )),
            _ => {
                if let Some(l) = lim.filter(|l| nanos(l).unwrap_or(0) < e) {
                    errors.push(format!(
                        "minimum {r} usage per {kind} is {shown}, but limit is {}",
                        text(l)
                    ));
                }
            }
        }
    }
    for (r, enforced) in map_of(item, "max") {
        let (req, lim) = (requests.get(&r), limits.get(&r));
        let e = nanos(&enforced).unwrap_or(0);
        let shown = text(&enforced);
        match lim {
            None => errors.push(format!(
                "maximum {r} usage per {kind} is {shown}.  No limit is specified"
            )),
            Some(l) if nanos(l).unwrap_or(0) > e => errors.push(format!(
                "maximum {r} usage per {kind} is {shown}, but limit is {}",
                text(l)
            )),
            _ => {
                if let Some(q) = req.filter(|q| nanos(q).unwrap_or(0) > e) {
                    errors.push(format!(
                        "maximum {r} usage per {kind} is {shown}, but request is {}",
                        text(q)
                    ));
                }
            }
        }
    }
    for (r, enforced) in map_of(item, "maxLimitRequestRatio") {
        let shown = text(&enforced);
        let req = requests.get(&r).and_then(nanos).unwrap_or(0);
        let lim = limits.get(&r).and_then(nanos).unwrap_or(0);
        if req == 0 {
            errors.push(format!("{r} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"));
            continue;
        }
        if lim == 0 {
            errors.push(format!("{r} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"));
            continue;
        }
        let ratio = lim as f64 / req as f64;
        if ratio * 1e9 > nanos(&enforced).unwrap_or(0) as f64 {
            errors.push(format!(
                "{r} max limit to request ratio per {kind} is {shown}, but provided ratio is {ratio:.6}"
            ));
        }
    }
}

fn resources_of(c: &Value, field: &str) -> BTreeMap<String, Value> {
    c.pointer(&format!("/resources/{field}"))
        .map(|r| map_of(&json!({"r": r}), "r"))
        .unwrap_or_default()
}

/// `podRequests` / `podLimits`: each resource any container names, the containers' sum or the
/// largest init container, whichever is larger.
fn pod_totals(pod: &Value, field: &str) -> BTreeMap<String, Value> {
    let keys: std::collections::BTreeSet<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| {
            pod.pointer(&format!("/spec/{l}"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|c| resources_of(&c, field).into_keys())
        .collect();
    keys.into_iter()
        .map(|k| {
            let total = pod_resource_without_overhead(pod, field, &k);
            (k, json!(total))
        })
        .collect()
}

fn pod_resource_without_overhead(pod: &Value, field: &str, resource: &str) -> String {
    let mut p = pod.clone();
    if let Some(spec) = p.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("overhead");
    }
    crate::controllers::resourcequota::pod_resource(&p, field, resource).text()
}

/// `PersistentVolumeClaimValidateLimitFunc`: `min` and `max` of `PersistentVolumeClaim` limits
/// against the claim's requests.
pub(super) fn validate_claim(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    claim: &Value,
) -> Result<(), Refusal> {
    let requests = claim
        .pointer("/spec/resources/requests")
        .map(|r| map_of(&json!({"r": r}), "r"))
        .unwrap_or_default();
    for lr in limit_ranges(store, ns).map_err(super::internal)? {
        let mut errors = Vec::new();
        for item in items_of(&lr) {
            if s(&item, "/type") != "PersistentVolumeClaim" {
                continue;
            }
            let min_only = json!({"min": item.get("min").cloned().unwrap_or(Value::Null)});
            constraints(
                &min_only,
                "PersistentVolumeClaim",
                &requests,
                &BTreeMap::new(),
                &mut errors,
            );
            for (r, enforced) in map_of(&item, "max") {
                let shown = text(&enforced);
                match requests.get(&r) {
                    None => errors.push(format!(
                        "maximum {r} usage per PersistentVolumeClaim is {shown}.  No request is specified"
                    )),
                    Some(q) if nanos(q).unwrap_or(0) > nanos(&enforced).unwrap_or(0) => errors.push(format!(
                        "maximum {r} usage per PersistentVolumeClaim is {shown}, but request is {}",
                        text(q)
                    )),
                    _ => {}
                }
            }
        }
        refuse(info, claim, errors)?;
    }
    Ok(())
}

/// `utilerrors.NewAggregate` of one LimitRange's errors (one as it is, several in brackets,
/// duplicates once) as a Forbidden refusal.
fn refuse(info: &KindInfo, obj: &Value, mut errors: Vec<String>) -> Result<(), Refusal> {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    let message = match errors.len() {
        0 => return Ok(()),
        1 => errors[0].clone(),
        _ => format!("[{}]", errors.join(", ")),
    };
    Err(forbidden(info, name_of(obj), &message))
}

/// `PodValidateLimitFunc` of each LimitRange; the first that refuses answers with all its
/// errors (`utilerrors.NewAggregate`: one as it is, several in brackets).
pub(super) fn validate_pod(
    store: &ObjectStore,
    info: &KindInfo,
    ns: &str,
    pod: &Value,
) -> Result<(), Refusal> {
    let ranges = limit_ranges(store, ns).map_err(super::internal)?;
    let containers: Vec<Value> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| {
            pod.pointer(&format!("/spec/{l}"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    for lr in ranges {
        let mut errors = Vec::new();
        for item in items_of(&lr) {
            match s(&item, "/type") {
                "Container" => {
                    for c in &containers {
                        constraints(
                            &item,
                            "Container",
                            &resources_of(c, "requests"),
                            &resources_of(c, "limits"),
                            &mut errors,
                        );
                    }
                }
                "Pod" => constraints(
                    &item,
                    "Pod",
                    &pod_totals(pod, "requests"),
                    &pod_totals(pod, "limits"),
                    &mut errors,
                ),
                _ => {}
            }
        }
        refuse(info, pod, errors)?;
    }
    Ok(())
}
