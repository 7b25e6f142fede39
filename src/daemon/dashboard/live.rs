//! What the dashboard knows about each tenant's live objects, taken from what observe already
//! LISTed in a sync or drift check (no request of its own): database readiness from the
//! StatefulSets' status, quota use from the ResourceQuotas' status, backups from the CronJobs'
//! status and the Jobs berth owns. Only these kinds are parsed; Secrets never are.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::object::{RESTORE_LABEL, SCHEDULE_LABEL};
use crate::observe::Observed;
use crate::values::time::parse_rfc3339;

/// Database replicas of a tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// `status.readyReplicas` summed; `None` when no controller reported a status (the
    /// embedded cluster runs no controllers).
    pub ready: Option<u64>,
    /// `spec.replicas` summed.
    pub desired: u64,
}

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

/// A backup schedule's CronJob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CronLive {
    /// The schedule (its label, else the CronJob name).
    pub schedule: String,
    /// CronJob name.
    pub name: String,
    /// `status.lastSuccessfulTime`, unix seconds.
    pub last_success: Option<i64>,
    /// `status.lastScheduleTime`, unix seconds.
    pub last_schedule: Option<i64>,
    /// `spec.suspend`.
    pub suspended: bool,
}

/// How a Job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Still running (or not started).
    Running,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
}

/// A Job berth owns: a backup run or a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLive {
    /// Job name.
    pub name: String,
    /// The schedule of a backup job.
    pub schedule: Option<String>,
    /// The restore of a restore job.
    pub restore: Option<String>,
    /// State.
    pub state: JobState,
    /// When it finished (or started), unix seconds.
    pub at: Option<i64>,
}

/// A tenant's live summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantLive {
    /// Whether its Namespace exists.
    pub namespace_exists: bool,
    /// Its database, when a StatefulSet exists.
    pub replicas: Option<Replicas>,
    /// Quota, sorted by resource.
    pub quota: Vec<QuotaLine>,
    /// Backup CronJobs, sorted by schedule.
    pub cronjobs: Vec<CronLive>,
    /// Jobs, sorted by name.
    pub jobs: Vec<JobLive>,
}

impl TenantLive {
    /// The newest successful backup: (schedule, unix seconds).
    pub fn last_backup(&self) -> Option<(&str, i64)> {
        self.cronjobs
            .iter()
            .filter_map(|c| c.last_success.map(|t| (c.schedule.as_str(), t)))
            .max_by_key(|(_, t)| *t)
    }

    /// Jobs whose last run failed: a backup job that failed after its schedule's last
    /// success, or a failed restore.
    pub fn failing_jobs(&self) -> Vec<&JobLive> {
        self.jobs
            .iter()
            .filter(|j| j.state == JobState::Failed)
            .filter(|j| {
                let Some(s) = &j.schedule else { return true };
                let ok = self
                    .cronjobs
                    .iter()
                    .find(|c| &c.schedule == s)
                    .and_then(|c| c.last_success);
                !matches!((ok, j.at), (Some(ok), Some(at)) if ok >= at)
            })
            .collect()
    }
}

/// The kinds [`summarize`] reads.
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

fn label<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

fn time_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|s| parse_rfc3339(s).ok())
}

fn quantity_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The summaries of every tenant with live objects in `observed`.
pub fn summarize(observed: &Observed) -> BTreeMap<String, TenantLive> {
    let mut out: BTreeMap<String, TenantLive> = BTreeMap::new();
    for state in observed.clusters.values() {
        for o in &state.owned {
            let kind = o.id.kind.as_str();
            if !matches!(
                kind,
                "Namespace" | "StatefulSet" | "ResourceQuota" | "CronJob" | "Job"
            ) || o.tenant().is_empty()
            {
                continue;
            }
            let t = out.entry(o.tenant().to_string()).or_default();
            let obj = o.manifest();
            match kind {
                "Namespace" => t.namespace_exists = true,
                "StatefulSet" => {
                    let r = t.replicas.get_or_insert_with(Replicas::default);
                    r.desired += obj
                        .pointer("/spec/replicas")
                        .and_then(Value::as_u64)
                        .unwrap_or(1);
                    if let Some(status) = obj
                        .get("status")
                        .and_then(Value::as_object)
                        .filter(|s| !s.is_empty())
                    {
                        let ready = status
                            .get("readyReplicas")
                            .and_then(Value::as_u64)
                            .unwrap_or(0);
                        r.ready = Some(r.ready.unwrap_or(0) + ready);
                    }
                }
                "ResourceQuota" => {
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
                    t.quota.sort_by(|a, b| a.resource.cmp(&b.resource));
                }
                "CronJob" => {
                    t.cronjobs.push(CronLive {
                        schedule: label(&obj, SCHEDULE_LABEL)
                            .unwrap_or(&o.id.name)
                            .to_string(),
                        name: o.id.name.clone(),
                        last_success: time_at(&obj, "/status/lastSuccessfulTime"),
                        last_schedule: time_at(&obj, "/status/lastScheduleTime"),
                        suspended: obj
                            .pointer("/spec/suspend")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    });
                    t.cronjobs.sort_by(|a, b| a.schedule.cmp(&b.schedule));
                }
                _ => {
                    t.jobs.push(job(&o.id.name, &obj));
                    t.jobs.sort_by(|a, b| a.name.cmp(&b.name));
                }
            }
        }
    }
    out
}

fn job(name: &str, obj: &Value) -> JobLive {
    let status = obj.get("status");
    let count = |k: &str| {
        status
            .and_then(|s| s.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let condition = |ty: &str| {
        status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c["type"] == ty && c["status"] == "True")
    };
    let failed_cond = condition("Failed");
    let state = if count("succeeded") > 0 || condition("Complete").is_some() {
        JobState::Succeeded
    } else if failed_cond.is_some() || (count("failed") > 0 && count("active") == 0) {
        JobState::Failed
    } else {
        JobState::Running
    };
    let at = time_at(obj, "/status/completionTime")
        .or_else(|| {
            failed_cond
                .and_then(|c| c["lastTransitionTime"].as_str())
                .and_then(|s| parse_rfc3339(s).ok())
        })
        .or_else(|| time_at(obj, "/status/startTime"))
        .or_else(|| time_at(obj, "/metadata/creationTimestamp"));
    JobLive {
        name: name.to_string(),
        schedule: label(obj, SCHEDULE_LABEL).map(str::to_string),
        restore: label(obj, RESTORE_LABEL).map(str::to_string),
        state,
        at,
    }
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

    #[test]
    fn reads_readiness_quota_backups_and_failing_jobs_from_status() {
        let owned = vec![
            obj(
                "StatefulSet",
                "db",
                json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}),
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
            obj(
                "CronJob",
                "backup-hourly",
                json!({"metadata": {"labels": {"berth.io/schedule": "hourly"}},
                       "status": {"lastSuccessfulTime": "2026-11-25T01:15:00Z"}}),
            ),
            obj(
                "Job",
                "backup-hourly-1",
                json!({"metadata": {"labels": {"berth.io/schedule": "hourly"}},
                       "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "2026-11-25T02:15:00Z"}]}}),
            ),
            obj(
                "Job",
                "backup-nightly-0",
                json!({"metadata": {"labels": {"berth.io/schedule": "nightly"}},
                       "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "2026-11-24T02:15:00Z"}]}}),
            ),
            obj("Secret", "creds", json!({"data": {"password": "c2VjcmV0"}})),
        ];
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
        let live = summarize(&observed);
        let a = &live["a"];
        assert_eq!(
            a.replicas,
            Some(Replicas {
                ready: Some(2),
                desired: 3
            })
        );
        assert_eq!(a.quota[0].used.as_deref(), Some("3500m"));
        assert_eq!(a.quota[0].hard, "8");
        assert_eq!(
            a.last_backup(),
            Some(("nightly", parse_rfc3339("2026-11-25T02:00:00Z").unwrap()))
        );
        // The nightly failure is older than its last success; the hourly one is not.
        let failing: Vec<&str> = a.failing_jobs().iter().map(|j| j.name.as_str()).collect();
        assert_eq!(failing, ["backup-hourly-1"]);
        assert!(!a.namespace_exists);
    }

    #[test]
    fn a_statefulset_without_status_has_unknown_readiness() {
        let mut observed = Observed::default();
        observed.clusters.insert(
            "local".into(),
            ClusterState {
                cluster: "local".into(),
                owned: vec![obj("StatefulSet", "db", json!({"spec": {"replicas": 3}}))],
                unowned: vec![],
                error: None,
                gaps: Default::default(),
                requests: 0,
                secrets: None,
            },
        );
        let live = summarize(&observed);
        assert_eq!(
            live["a"].replicas,
            Some(Replicas {
                ready: None,
                desired: 3
            })
        );
    }
}
