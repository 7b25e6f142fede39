//! What the scheduler, the kubelet and the volume provisioner would do, reduced to what the
//! API shows: a pod becomes Running and Ready once the node has seen it for the pod readiness
//! delay ([`super::Controllers::set_pod_ready_delay`]); a Pending claim is bound at once to a
//! volume of the size it requests.

use serde_json::{json, Value};

use kube_store::StoreError;

use super::{deleting, list, rfc3339, s, tolerate, Controllers};

pub(crate) fn reconcile(c: &Controllers, now: i64) -> Result<(), StoreError> {
    let store = c.store();
    for pod in list(store, "Pod", None)? {
        let phase = s(&pod, "/status/phase");
        if deleting(&pod) && !matches!(phase, "Succeeded" | "Failed") {
            // Kept by a finalizer: the kubelet kills its containers, the pod ends Failed.
            tolerate(store.set_status(
                "Pod",
                s(&pod, "/metadata/namespace"),
                s(&pod, "/metadata/name"),
                terminated_status(&pod, false, now),
            ))?;
            continue;
        }
        if deleting(&pod) || matches!(phase, "Running" | "Succeeded" | "Failed") {
            continue;
        }
        let seen = c.pod_first_seen(s(&pod, "/metadata/uid"), now);
        let ready_at = seen + c.pod_ready_delay_ms();
        if now < ready_at {
            c.wake_at(ready_at);
            continue;
        }
        tolerate(store.set_status(
            "Pod",
            s(&pod, "/metadata/namespace"),
            s(&pod, "/metadata/name"),
            running_status(&pod, seen, now),
        ))?;
    }
    for pvc in list(store, "PersistentVolumeClaim", None)? {
        if deleting(&pvc) || s(&pvc, "/status/phase") == "Bound" {
            continue;
        }
        let ns = s(&pvc, "/metadata/namespace");
        let name = s(&pvc, "/metadata/name");
        let mut status = json!({
            "phase": "Bound",
            "accessModes": pvc.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!([])),
        });
        if let Some(size) = pvc.pointer("/spec/resources/requests/storage") {
            status["capacity"] = json!({"storage": size});
        }
        tolerate(store.set_status("PersistentVolumeClaim", ns, name, status))?;
    }
    Ok(())
}

/// The status a kubelet reports for a pod whose containers all started and are ready.
fn running_status(pod: &Value, seen: i64, now: i64) -> Value {
    let start = rfc3339(seen);
    let at = rfc3339(now);
    let cond = |t: &str, time: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": time});
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({
                        "name": s(c, "/name"),
                        "state": {"running": {"startedAt": at}},
                        "lastState": {},
                        "ready": true,
                        "restartCount": 0,
                        "image": s(c, "/image"),
                        "imageID": "",
                        "started": true,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "phase": "Running",
        "conditions": [
            cond("PodReadyToStartContainers", &at),
            cond("Initialized", &start),
            cond("Ready", &at),
            cond("ContainersReady", &at),
            cond("PodScheduled", &start),
        ],
        "hostIP": "10.0.0.1",
        "podIP": "10.244.0.10",
        "startTime": start,
        "containerStatuses": containers,
        "qosClass": "BestEffort",
    })
}

/// The status of a pod whose containers all exited: 0 (`Succeeded`, reason `Completed`) or
/// 1 (`Failed`, reason `Error`), as the kubelet reports them.
pub(crate) fn terminated_status(pod: &Value, succeeded: bool, now: i64) -> Value {
    let at = rfc3339(now);
    let mut status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
    let (phase, code, reason) = if succeeded {
        ("Succeeded", 0, "Completed")
    } else {
        ("Failed", 1, "Error")
    };
    let started = status
        .pointer("/startTime")
        .cloned()
        .unwrap_or_else(|| json!(at));
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({
                        "name": s(c, "/name"),
                        "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": at}},
                        "lastState": {},
                        "ready": false,
                        "restartCount": 0,
                        "image": s(c, "/image"),
                        "imageID": "",
                        "started": false,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    status["phase"] = json!(phase);
    let cond = |t: &str, st: &str| json!({"type": t, "status": st, "lastProbeTime": null, "lastTransitionTime": at});
    status["conditions"] = json!([
        cond("PodReadyToStartContainers", "False"),
        cond("Initialized", "True"),
        json!({"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": at, "reason": "PodCompleted"}),
        json!({"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": at, "reason": "PodCompleted"}),
        cond("PodScheduled", "True"),
    ]);
    status["startTime"] = started;
    status["containerStatuses"] = json!(containers);
    status
}

/// Whether a pod is Running with its `Ready` condition True (`podutil.IsPodReady`).
pub(crate) fn running_and_ready(pod: &Value) -> bool {
    s(pod, "/status/phase") == "Running"
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
}
