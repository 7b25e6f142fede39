//! What the dashboard knows about each tenant's live objects, taken from what observe already
//! LISTed in a sync or drift check, and the tenants' Jobs (one LIST per cluster by tenant
//! label, [`crate::observe::observe_workloads`]): the typed StatefulSets, CronJobs and Jobs
//! that [`crate::health`] decides a tenant's health from, and quota use from the
//! ResourceQuotas' status. Only these kinds are parsed; Secrets never are.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::health::Live;
use crate::observe::{Observed, Workloads};

/// One resource of a ResourceQuota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaLine {
    /// `requests.cpu`, `pods`, ...
    pub resource: String,
    /// `status.used` (else unknown).
    pub used: Option<String>,
    /// `status.hard`, else `spec.hard`.
    pub hard: String,
}

/// A tenant's live summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantLive {
    /// Its Namespace, StatefulSets, CronJobs and Jobs, typed, for [`crate::health::assess`].
    pub objects: Live,
    /// Quota, sorted by resource.
    pub quota: Vec<QuotaLine>,
}

/// The kinds [`summarize`] reads of what observe listed.
pub fn kinds() -> Vec<crate::cluster::KindRef> {
    use crate::cluster::KindRef;
    vec![
        KindRef::new("v1", "Namespace"),
        KindRef::new("v1", "ResourceQuota"),
        KindRef::new("apps/v1", "StatefulSet"),
        KindRef::new("batch/v1", "CronJob"),
        KindRef::new("batch/v1", "Job"),
    ]
}

fn quantity_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The summaries of every tenant with live objects in `observed`, with the Jobs of
/// `workloads` (by cluster).
pub fn summarize(
    observed: &Observed,
    workloads: &BTreeMap<String, Workloads>,
) -> BTreeMap<String, TenantLive> {
    let mut out: BTreeMap<String, TenantLive> = BTreeMap::new();
    for (cluster, state) in &observed.clusters {
        // A tenant's namespace: where its owned objects are.
        let mut namespaces: BTreeMap<&str, &str> = BTreeMap::new();
        for o in &state.owned {
            if o.tenant().is_empty() {
                continue;
            }
            if let Some(ns) = o.id.namespace.as_deref() {
                namespaces.entry(o.tenant()).or_insert(ns);
            } else if o.id.kind == "Namespace" {
                namespaces.insert(o.tenant(), o.id.name.as_str());
            }
        }
        let jobs = workloads
            .get(cluster)
            .map(|w| w.jobs.as_slice())
            .unwrap_or_default();
        for (tenant, namespace) in namespaces {
            let t = out.entry(tenant.to_string()).or_default();
            t.objects = crate::health::live_of(&state.owned, tenant, namespace, jobs, &[]);
            for o in state
                .owned
                .iter()
                .filter(|o| o.tenant() == tenant && o.id.kind == "ResourceQuota")
            {
                let obj = o.manifest();
                let hard = obj
                    .pointer("/status/hard")
                    .or_else(|| obj.pointer("/spec/hard"))
                    .and_then(Value::as_object);
                let used = obj.pointer("/status/used").and_then(Value::as_object);
                for (resource, h) in hard.into_iter().flatten() {
                    let Some(hard) = quantity_text(h) else {
                        continue;
                    };
                    t.quota.push(QuotaLine {
                        resource: resource.clone(),
                        used: used.and_then(|u| u.get(resource)).and_then(quantity_text),
                        hard,
                    });
                }
            }
            t.quota.sort_by(|a, b| a.resource.cmp(&b.resource));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectRef;
    use crate::observe::{ClusterState, LiveObject};
    use serde_json::json;

    fn obj(kind: &str, name: &str, v: Value) -> LiveObject {
        let mut v = v;
        v["kind"] = json!(kind);
        v["metadata"]["name"] = json!(name);
        v["metadata"]["namespace"] = json!("tenant-a");
        v["metadata"]["labels"]["berth.io/tenant"] = json!("a");
        let id = ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("tenant-a".into()),
            name: name.into(),
        };
        LiveObject::new(id, &v)
    }

    fn observed(owned: Vec<LiveObject>) -> Observed {
        let mut observed = Observed::default();
        observed.clusters.insert(
            "local".into(),
            ClusterState {
                cluster: "local".into(),
                owned,
                unowned: vec![],
                error: None,
                gaps: Default::default(),
                requests: 0,
                secrets: None,
            },
        );
        observed
    }

    #[test]
    fn reads_typed_objects_and_quota_and_never_a_secret() {
        let owned = vec![
            obj("Namespace", "tenant-a", json!({})),
            obj(
                "StatefulSet",
                "db",
                json!({"spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 2}}),
            ),
            obj(
                "ResourceQuota",
                "tenant-quota",
                json!({"spec": {"hard": {"requests.cpu": "8"}},
                       "status": {"hard": {"requests.cpu": "8"}, "used": {"requests.cpu": "3500m"}}}),
            ),
            obj(
                "CronJob",
                "backup-nightly",
                json!({"metadata": {"labels": {"berth.io/schedule": "nightly"}},
                       "status": {"lastSuccessfulTime": "2026-11-25T02:00:00Z"}}),
            ),
            obj("Secret", "creds", json!({"data": {"password": "c2VjcmV0"}})),
        ];
        let job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(json!({
            "metadata": {"name": "backup-nightly-1", "namespace": "tenant-a",
                "labels": {"berth.io/tenant": "a", "berth.io/schedule": "nightly"}},
        }))
        .unwrap();
        let other: k8s_openapi::api::batch::v1::Job = serde_json::from_value(json!({
            "metadata": {"name": "x", "namespace": "tenant-b", "labels": {"berth.io/tenant": "b"}},
        }))
        .unwrap();
        let workloads = BTreeMap::from([(
            "local".to_string(),
            Workloads {
                jobs: vec![job, other],
                ..Workloads::default()
            },
        )]);
        let live = summarize(&observed(owned), &workloads);
        let a = &live["a"];
        assert!(a.objects.namespace_exists);
        assert_eq!(a.objects.statefulsets.len(), 1);
        assert_eq!(a.objects.cronjobs.len(), 1);
        let jobs: Vec<_> = a
            .objects
            .jobs
            .iter()
            .map(|j| j.metadata.name.clone())
            .collect();
        assert_eq!(
            jobs,
            [Some("backup-nightly-1".to_string())],
            "only tenant a's"
        );
        assert_eq!(a.quota[0].used.as_deref(), Some("3500m"));
        assert_eq!(a.quota[0].hard, "8");
        assert!(!format!("{a:?}").contains("c2VjcmV0"));
    }
}
