//! The ResourceQuota controller (`pkg/controller/resourcequota/resource_quota_controller.go`,
//! with the evaluators of `pkg/quota/v1/evaluator/core`): `status.hard` is `spec.hard`,
//! `status.used` the usage in the namespace of each resource `spec.hard` names. Pods count
//! while not terminal (`Succeeded`, `Failed`) nor being deleted; a pod's requests are the
//! larger of its containers' sum and its largest init container, plus its overhead. Claims
//! count whatever their phase.

use serde_json::{json, Map, Value};

use kube_store::quantity::{parse_quantity, ParsedQuantity, QuantityFormat};
use kube_store::StoreError;

use super::{deleting, list, s, tolerate, Controllers};

/// A sum of quantities, in the format of the first one added (`Quantity.Add` keeps the
/// receiver's).
#[derive(Default, Clone, Copy)]
struct Sum {
    nanos: i128,
    format: Option<QuantityFormat>,
}

impl Sum {
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
    fn max(self, other: Sum) -> Sum {
        if other.nanos > self.nanos {
            other
        } else {
            self
        }
    }
    fn text(&self) -> String {
        ParsedQuantity::from_nanos(self.nanos, self.format.unwrap_or(QuantityFormat::DecimalSI))
            .canonical()
    }
}

fn pod_request(pod: &Value, resource: &str) -> Sum {
    let each = |key: &str| -> Vec<Sum> {
        pod.pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        let mut sum = Sum::default();
                        sum.add(c.pointer(&format!("/resources/requests/{resource}")));
                        sum
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut containers = Sum::default();
    for c in each("containers") {
        if c.nanos != 0 {
            containers.nanos += c.nanos;
            containers.format = containers.format.or(c.format);
        }
    }
    let mut total = each("initContainers")
        .into_iter()
        .fold(containers, Sum::max);
    total.add(pod.pointer(&format!("/spec/overhead/{resource}")));
    total
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
        let pods: Vec<Value> = list(store, "Pod", Some(&ns))?
            .into_iter()
            .filter(|p| !deleting(p) && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed"))
            .collect();
        let claims = list(store, "PersistentVolumeClaim", Some(&ns))?;
        let mut used = Map::new();
        for key in hard.keys() {
            let value = match key.as_str() {
                "pods" | "count/pods" => pods.len().to_string(),
                "persistentvolumeclaims" | "count/persistentvolumeclaims" => {
                    claims.len().to_string()
                }
                "requests.cpu" | "cpu" => sum_pods(&pods, "cpu"),
                "requests.memory" | "memory" => sum_pods(&pods, "memory"),
                "requests.storage" => {
                    let mut sum = Sum::default();
                    for pvc in &claims {
                        sum.add(pvc.pointer("/spec/resources/requests/storage"));
                    }
                    sum.text()
                }
                other => match other.strip_prefix("count/") {
                    // count/KIND.GROUP for the kinds the server stores.
                    Some(resource) => {
                        let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
                        match kube_store::kind_by_plural(group, plural) {
                            Some(info) if info.namespaced => {
                                list(store, info.kind, Some(&ns))?.len().to_string()
                            }
                            _ => continue,
                        }
                    }
                    // limits.*, services.*, extended resources: not evaluated.
                    None => continue,
                },
            };
            used.insert(key.clone(), json!(value));
        }
        let status = json!({"hard": hard, "used": used});
        if quota.get("status") != Some(&status) {
            tolerate(store.set_status("ResourceQuota", &ns, &name, status))?;
        }
    }
    Ok(())
}

fn sum_pods(pods: &[Value], resource: &str) -> String {
    let mut sum = Sum::default();
    for p in pods {
        let r = pod_request(p, resource);
        if r.nanos != 0 {
            sum.nanos += r.nanos;
            sum.format = sum.format.or(r.format);
        }
    }
    sum.text()
}
