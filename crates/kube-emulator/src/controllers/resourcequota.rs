//! The ResourceQuota controller (`pkg/controller/resourcequota/resource_quota_controller.go`,
//! with the evaluators of `pkg/quota/v1/evaluator/core`): `status.hard` is `spec.hard`,
//! `status.used` the usage in the namespace of each resource `spec.hard` names. Pods count
//! (`pods`, compute resources) while not terminal (`Succeeded`, `Failed`) nor being deleted;
//! `count/pods` counts every pod; a pod's requests (limits) are the larger of its containers'
//! sum and its largest init container, plus its overhead. Claims count whatever their phase.
//! The same calculation gives ResourceQuota admission its usage (`crate::admission`).

use serde_json::{json, Map, Value};

use kube_store::quantity::{parse_quantity, ParsedQuantity, QuantityFormat};
use kube_store::StoreError;

use super::{deleting, list, s, tolerate, Controllers};

/// A sum of quantities, in the format of the first one added (`Quantity.Add` keeps the
/// receiver's).
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Sum {
    pub(crate) nanos: i128,
    format: Option<QuantityFormat>,
}

impl Sum {
    pub(crate) fn of(q: Option<&Value>) -> Sum {
        let mut sum = Sum::default();
        sum.add(q);
        sum
    }
    pub(crate) fn count(n: usize) -> Sum {
        Sum {
            nanos: n as i128 * 1_000_000_000,
            format: Some(QuantityFormat::DecimalSI),
        }
    }
    fn add(&mut self, q: Option<&Value>) {
        if let Some(p) = q
            .and_then(Value::as_str)
            .and_then(|t| parse_quantity(t).ok())
        {
            self.add_parsed(&p);
        }
    }
    fn add_parsed(&mut self, p: &ParsedQuantity) {
        self.nanos += p.nanos();
        self.format.get_or_insert(p.format());
    }
    pub(crate) fn plus(mut self, other: Sum) -> Sum {
        if other.nanos != 0 {
            self.nanos += other.nanos;
            self.format = self.format.or(other.format);
        }
        self
    }
    fn max(self, other: Sum) -> Sum {
        if other.nanos > self.nanos {
            other
        } else {
            self
        }
    }
    /// `Quantity.String()`: the canonical form.
    pub(crate) fn text(&self) -> String {
        ParsedQuantity::from_nanos(self.nanos, self.format.unwrap_or(QuantityFormat::DecimalSI))
            .canonical()
    }
}

/// `resourcehelper.PodRequests` / `PodLimits` of one resource: the larger of the containers'
/// sum and the largest init container, plus the overhead. `field` is `requests` or `limits`.
pub(crate) fn pod_resource(pod: &Value, field: &str, resource: &str) -> Sum {
    let each = |key: &str| -> Vec<Sum> {
        pod.pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| Sum::of(c.pointer(&format!("/resources/{field}/{resource}"))))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = each("containers")
        .into_iter()
        .fold(Sum::default(), Sum::plus);
    let mut total = each("initContainers")
        .into_iter()
        .fold(containers, Sum::max);
    total.add(pod.pointer(&format!("/spec/overhead/{resource}")));
    total
}

/// Whether a pod is charged for its compute resources (`QuotaV1Pod`): not terminal, not being
/// deleted.
pub(crate) fn pod_charged(p: &Value) -> bool {
    !deleting(p) && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
}

/// The usage in namespace `ns` of each resource in `keys`, from the objects stored now, as the
/// controller's full recalculation finds it; resources it does not evaluate are left out.
pub(crate) fn usage(
    store: &kube_store::ObjectStore,
    ns: &str,
    keys: impl Iterator<Item = String>,
) -> Result<Map<String, Value>, StoreError> {
    let all_pods = list(store, "Pod", Some(ns))?;
    let pods: Vec<&Value> = all_pods.iter().filter(|p| pod_charged(p)).collect();
    let claims = list(store, "PersistentVolumeClaim", Some(ns))?;
    let sum_pods = |field: &str, resource: &str| {
        pods.iter()
            .map(|p| pod_resource(p, field, resource))
            .fold(Sum::default(), Sum::plus)
            .text()
    };
    let mut used = Map::new();
    for key in keys {
        let value = match key.as_str() {
            "pods" => pods.len().to_string(),
            "count/pods" => all_pods.len().to_string(),
            "persistentvolumeclaims" | "count/persistentvolumeclaims" => claims.len().to_string(),
            "requests.cpu" | "cpu" => sum_pods("requests", "cpu"),
            "requests.memory" | "memory" => sum_pods("requests", "memory"),
            "requests.ephemeral-storage" | "ephemeral-storage" => {
                sum_pods("requests", "ephemeral-storage")
            }
            "limits.cpu" => sum_pods("limits", "cpu"),
            "limits.memory" => sum_pods("limits", "memory"),
            "limits.ephemeral-storage" => sum_pods("limits", "ephemeral-storage"),
            "requests.storage" => claims
                .iter()
                .map(|c| Sum::of(c.pointer("/spec/resources/requests/storage")))
                .fold(Sum::default(), Sum::plus)
                .text(),
            "configmaps" | "secrets" | "services" | "resourcequotas" => {
                let info = kube_store::kind_by_plural("", &key);
                match info {
                    Some(info) => list(store, info.kind, Some(ns))?.len().to_string(),
                    None => continue,
                }
            }
            other => match other.strip_prefix("count/") {
                // count/KIND.GROUP for the kinds the server stores.
                Some(resource) => {
                    let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
                    match kube_store::kind_by_plural(group, plural) {
                        Some(info) if info.namespaced => {
                            list(store, info.kind, Some(ns))?.len().to_string()
                        }
                        _ => continue,
                    }
                }
                // services.*, per-StorageClass and extended resources: not evaluated.
                None => continue,
            },
        };
        used.insert(key, json!(value));
    }
    Ok(used)
}

pub(crate) fn reconcile(c: &Controllers, _now: i64) -> Result<(), StoreError> {
    let store = c.store();
    for quota in list(store, "ResourceQuota", None)? {
        let ns = s(&quota, "/metadata/namespace").to_string();
        let name = s(&quota, "/metadata/name").to_string();
        let Some(hard) = quota
            .pointer("/spec/hard")
            .and_then(Value::as_object)
            .cloned()
        else {
            continue;
        };
        let used = usage(store, &ns, hard.keys().cloned())?;
        let status = json!({"hard": hard, "used": used});
        if quota.get("status") != Some(&status) {
            tolerate(store.set_status("ResourceQuota", &ns, &name, status))?;
        }
    }
    Ok(())
}
