//! The Job controller (`pkg/controller/job/job_controller.go`), for NonIndexed Jobs: up to
//! `parallelism` pods at a time until `completions` succeeded; a failed pod counts against
//! `backoffLimit` (6 by default) and is replaced after the pod failure backoff (10 s doubling,
//! at most 6 min); pods carry the `batch.kubernetes.io/job-tracking` finalizer until counted.
//! Conditions as 1.35 writes them: `SuccessCriteriaMet` then `Complete`, or `FailureTarget`
//! then `Failed`, the second once no pod of the Job is left running. Pods finish when a test
//! says so ([`super::Controllers::finish_pod`]).

use serde_json::{json, Map, Value};

use kube_store::{DeleteOptions, Propagation, StoreError};

use super::{
    create_admitted, deleting, finalizers, list, rfc3339, s, tolerate, Controllers, MANAGER,
};

/// The finalizer the Job controller keeps on its pods until it has counted them.
const TRACKING: &str = "batch.kubernetes.io/job-tracking";
const DEFAULT_BACKOFF_MS: i64 = 10_000;
const MAX_BACKOFF_MS: i64 = 360_000;

fn condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

fn has_condition(status: &Value, kind: &str) -> bool {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == kind && c["status"] == "True")
        })
}

fn owned_by(pod: &Value, uid: &str) -> bool {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|rs| {
            rs.iter()
                .any(|r| s(r, "/uid") == uid && r["controller"] == true)
        })
}

/// `newPod` of the Job: the template, the Job's labels, owner and tracking finalizer.
fn new_pod(job: &Value) -> Value {
    let name = s(job, "/metadata/name");
    let uid = s(job, "/metadata/uid");
    let template = &job["spec"]["template"];
    let mut labels: Map<String, Value> = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid),
        ("job-name", name),
    ] {
        labels.insert(k.into(), json!(v));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": format!("{name}-"),
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                "controller": true, "blockOwnerDeletion": true,
            }],
            "finalizers": [TRACKING],
        },
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The controller's Job of a pod: the uid of the owner reference with `controller: true` of
/// kind Job.
fn controlling_job(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["kind"] == "Job" && r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
}

/// Pods whose Job is gone (or being deleted) let go of the tracking finalizer, as the real
/// controller's orphan-pod handling does (`pkg/controller/job/job_controller.go`,
/// `syncOrphanPod`): otherwise a deleted Job's pod, and its namespace, would never go.
fn release_orphans(c: &Controllers, jobs: &[Value]) -> Result<(), StoreError> {
    let store = c.store();
    let live: std::collections::HashSet<&str> = jobs
        .iter()
        .filter(|j| !deleting(j))
        .map(|j| s(j, "/metadata/uid"))
        .collect();
    for p in list(store, "Pod", None)? {
        if !finalizers(&p).iter().any(|f| f == TRACKING) {
            continue;
        }
        let orphan = match controlling_job(&p) {
            Some(uid) => !live.contains(uid),
            None => true,
        };
        if !orphan {
            continue;
        }
        let kept: Vec<String> = finalizers(&p)
            .into_iter()
            .filter(|f| f != TRACKING)
            .collect();
        let patch = json!({"metadata": {"finalizers": if kept.is_empty() { Value::Null } else { json!(kept) }}});
        tolerate(store.merge_patch(
            "Pod",
            s(&p, "/metadata/namespace"),
            s(&p, "/metadata/name"),
            &patch,
            MANAGER,
            false,
        ))?;
    }
    Ok(())
}

pub(crate) fn reconcile(c: &Controllers, now: i64) -> Result<(), StoreError> {
    let store = c.store();
    let at = rfc3339(now);
    let jobs = list(store, "Job", None)?;
    release_orphans(c, &jobs)?;
    for job in jobs {
        let ns = s(&job, "/metadata/namespace").to_string();
        let name = s(&job, "/metadata/name").to_string();
        let uid = s(&job, "/metadata/uid").to_string();
        let old_status = job.get("status").cloned().unwrap_or_else(|| json!({}));
        let pods: Vec<Value> = list(store, "Pod", Some(&ns))?
            .into_iter()
            .filter(|p| owned_by(p, &uid))
            .collect();
        // Count finished pods once, then let them go of the tracking finalizer.
        let mut succeeded = old_status["succeeded"].as_i64().unwrap_or(0);
        let mut failed = old_status["failed"].as_i64().unwrap_or(0);
        let mut last_failure: Option<i64> = None;
        for p in &pods {
            let phase = s(p, "/status/phase");
            if !matches!(phase, "Succeeded" | "Failed") {
                continue;
            }
            if phase == "Failed" {
                last_failure = Some(c.pod_finished_at(s(p, "/metadata/uid")).unwrap_or(now));
            }
            if !finalizers(p).iter().any(|f| f == TRACKING) {
                continue;
            }
            if phase == "Succeeded" {
                succeeded += 1;
            } else {
                failed += 1;
            }
            let kept: Vec<String> = finalizers(p)
                .into_iter()
                .filter(|f| f != TRACKING)
                .collect();
            let patch = json!({"metadata": {"finalizers": if kept.is_empty() { Value::Null } else { json!(kept) }}});
            tolerate(store.merge_patch(
                "Pod",
                &ns,
                s(p, "/metadata/name"),
                &patch,
                MANAGER,
                false,
            ))?;
        }
        let running: Vec<&Value> = pods
            .iter()
            .filter(|p| !matches!(s(p, "/status/phase"), "Succeeded" | "Failed"))
            .collect();
        let active = running.iter().filter(|p| !deleting(p)).count() as i64;
        let ready = running
            .iter()
            .filter(|p| super::node::running_and_ready(p))
            .count() as i64;
        let completions = job
            .pointer("/spec/completions")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let parallelism = job
            .pointer("/spec/parallelism")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let backoff_limit = job
            .pointer("/spec/backoffLimit")
            .and_then(Value::as_i64)
            .unwrap_or(6);
        let suspended = job
            .pointer("/spec/suspend")
            .and_then(Value::as_bool)
            .unwrap_or(false);

        let mut status = old_status.clone();
        let mut conditions: Vec<Value> = status
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let finished = has_condition(&status, "Complete") || has_condition(&status, "Failed");
        if !finished && !deleting(&job) {
            let opts = DeleteOptions {
                propagation: Some(Propagation::Background),
                now: at.clone(),
                dry_run: false,
            };
            if !has_condition(&status, "SuccessCriteriaMet")
                && !has_condition(&status, "FailureTarget")
            {
                if succeeded >= completions {
                    conditions.push(condition(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        &at,
                    ));
                } else if failed > backoff_limit {
                    conditions.push(condition(
                        "FailureTarget",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                        &at,
                    ));
                }
            }
            let success = conditions.iter().any(|c| c["type"] == "SuccessCriteriaMet");
            let failure = conditions.iter().any(|c| c["type"] == "FailureTarget");
            if success || failure {
                // The remaining pods are terminated; the final condition waits for them.
                for p in running.iter().filter(|p| !deleting(p)) {
                    tolerate(store.delete_with("Pod", &ns, s(p, "/metadata/name"), &opts))?;
                }
                if running.is_empty() {
                    if success {
                        conditions.push(condition(
                            "Complete",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                            &at,
                        ));
                        status["completionTime"] = json!(at);
                    } else {
                        conditions.push(condition(
                            "Failed",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit",
                            &at,
                        ));
                    }
                }
            } else if !suspended {
                // More pods: as many as parallelism allows and completions still need,
                // after the backoff when pods failed.
                let want = parallelism.min(completions - succeeded) - active;
                let backoff_until = last_failure.map(|t| {
                    let n = failed.clamp(1, 30) as u32;
                    t + (DEFAULT_BACKOFF_MS << (n - 1)).min(MAX_BACKOFF_MS)
                });
                match backoff_until {
                    Some(until) if now < until && want > 0 => c.wake_at(until),
                    _ => {
                        for _ in 0..want.max(0) {
                            create_admitted(c, "Pod", &ns, new_pod(&job))?;
                        }
                    }
                }
            }
        }
        if status.get("startTime").is_none() && !suspended {
            status["startTime"] = json!(at);
        }
        if !conditions.is_empty() {
            status["conditions"] = json!(conditions);
        }
        let pods_now = list(store, "Pod", Some(&ns))?
            .into_iter()
            .filter(|p| {
                owned_by(p, &uid) && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
            })
            .collect::<Vec<_>>();
        let active_now = pods_now.iter().filter(|p| !deleting(p)).count() as i64;
        let terminating_now = pods_now.iter().filter(|p| deleting(p)).count() as i64;
        let m = status.as_object_mut().expect("status is an object");
        // active, succeeded and failed are `omitempty`; ready and terminating are pointers the
        // controller always sets.
        for (k, v) in [
            ("active", active_now),
            ("succeeded", succeeded),
            ("failed", failed),
        ] {
            if v == 0 {
                m.shift_remove(k);
            } else {
                m.insert(k.into(), json!(v));
            }
        }
        m.insert("terminating".into(), json!(terminating_now));
        m.insert("uncountedTerminatedPods".into(), json!({}));
        m.insert("ready".into(), json!(ready.min(active_now)));
        if status != old_status {
            tolerate(store.set_status("Job", &ns, &name, status))?;
        }
    }
    Ok(())
}
