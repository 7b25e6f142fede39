//! Typed live objects for tests, as the controllers would report them.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use serde_json::json;

use crate::values::time::format_rfc3339;

/// A StatefulSet of `replicas` as its controller reports it: `ready` ready, `updated` at the
/// update revision (the rollout finished when `updated` reaches `replicas`); `None`: no
/// status at all.
pub fn statefulset(replicas: i32, ready_updated: Option<(i32, i32)>) -> StatefulSet {
    let mut v = json!({
        "metadata": {"name": "db", "generation": 2},
        "spec": {"replicas": replicas},
    });
    if let Some((ready, updated)) = ready_updated {
        let done = updated >= replicas;
        v["status"] = json!({
            "observedGeneration": 2, "replicas": replicas, "readyReplicas": ready,
            "updatedReplicas": updated, "currentReplicas": replicas,
            "currentRevision": if done { "db-2" } else { "db-1" }, "updateRevision": "db-2",
        });
    }
    serde_json::from_value(v).unwrap()
}

/// The CronJob of schedule `name`, created at `created`, last successful at `last_success`.
pub fn cronjob(name: &str, created: i64, last_success: Option<i64>, suspend: bool) -> CronJob {
    let mut v = json!({
        "metadata": {"name": format!("backup-{name}"), "creationTimestamp": format_rfc3339(created),
            "labels": {"berth.io/schedule": name}},
        "spec": {"schedule": "0 2 * * *", "suspend": suspend},
    });
    if let Some(at) = last_success {
        v["status"] = json!({"lastSuccessfulTime": format_rfc3339(at), "lastScheduleTime": format_rfc3339(at)});
    }
    serde_json::from_value(v).unwrap()
}

/// A Job of tenant `tenant` in `namespace`, of backup schedule `schedule`, that failed at
/// `failed_at` (the Job controller's `Failed` condition), else is running.
pub fn job(
    tenant: &str,
    namespace: &str,
    name: &str,
    schedule: Option<&str>,
    failed_at: Option<i64>,
) -> Job {
    let mut v = json!({
        "metadata": {"name": name, "namespace": namespace, "labels": {"berth.io/tenant": tenant}},
    });
    if let Some(s) = schedule {
        v["metadata"]["labels"]["berth.io/schedule"] = json!(s);
    }
    if let Some(at) = failed_at {
        v["status"] = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
            "lastTransitionTime": format_rfc3339(at)}]});
    }
    serde_json::from_value(v).unwrap()
}
