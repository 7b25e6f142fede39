//! Restores run once, ever: what the cluster records about each restore request, and the
//! state a plan shows for it. Pure: these functions read live objects handed to them.
//!
//! A restore request renders to a Job labelled [`RESTORE_LABEL`](crate::object::RESTORE_LABEL). Apply creates it once and
//! then records the restore on the tenant's Namespace (annotation
//! `restore.berth.io/<name>`, see [`RESTORE_RECORD_PREFIX`]). Once a restore has a record or
//! its Job exists, the plan never creates, updates, replaces or prunes that Job again: not
//! after the Job was deleted, not after the entry was removed from Git and added back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::object::{ObjectRef, RESTORE_RECORD_PREFIX};

/// What a plan shows for a restore request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreState {
    /// Not run yet: apply creates its Job.
    Requested,
    /// Its Job exists and has not finished.
    Running,
    /// Its Job succeeded.
    Completed,
    /// Its Job failed. It is not retried: a new attempt needs a new restore name.
    Failed,
    /// It was started, but its Job was deleted before berth saw how it ended.
    Unknown,
}

impl RestoreState {
    /// The state as printed: `requested`, `running`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreState::Requested => "requested",
            RestoreState::Running => "running",
            RestoreState::Completed => "completed",
            RestoreState::Failed => "failed",
            RestoreState::Unknown => "unknown",
        }
    }
}

/// The state a record on the Namespace holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// The Job was created.
    Started,
    /// The Job succeeded.
    Completed,
    /// The Job failed.
    Failed,
}

/// The record of one restore on its tenant's Namespace: the value of the annotation
/// `restore.berth.io/<name>`, as JSON `{"state":"completed","at":"2026-11-21T02:40:00Z"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecord {
    /// What is known.
    pub state: RecordState,
    /// When it started or ended (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl RestoreRecord {
    /// The annotation value.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A record read from an annotation value. Any value counts as a record (the restore ran
    /// or was started): one that cannot be read is taken as `started`, time unknown.
    pub fn from_annotation(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or(RestoreRecord {
            state: RecordState::Started,
            at: None,
        })
    }
}

/// The annotation key of the record of restore `name`.
pub fn record_key(name: &str) -> String {
    format!("{RESTORE_RECORD_PREFIX}{name}")
}

/// The restore records on a live Namespace, by restore name.
pub fn records_of(namespace: &Value) -> BTreeMap<String, RestoreRecord> {
    let Some(annotations) = namespace
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return BTreeMap::new();
    };
    annotations
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(RESTORE_RECORD_PREFIX)?;
            Some((
                name.to_string(),
                RestoreRecord::from_annotation(v.as_str().unwrap_or("")),
            ))
        })
        .collect()
}

/// How a live Job stands: its state (running, completed or failed), when it started or
/// ended, and the reason of a failure. The Job controller decides ([`crate::health::job_run`]):
/// a `Complete` or `Failed` condition with status `True`; a Job berth cannot read is running.
pub fn job_outcome(job: &Value) -> (RestoreState, Option<String>, Option<String>) {
    use crate::health::{job_run, JobState};
    let run = serde_json::from_value(job.clone())
        .map(|j| job_run(&j))
        .unwrap_or(crate::health::JobRun {
            state: JobState::Running,
            at: None,
            message: None,
        });
    let state = match run.state {
        JobState::Running => RestoreState::Running,
        JobState::Succeeded => RestoreState::Completed,
        JobState::Failed => RestoreState::Failed,
    };
    (
        state,
        run.at.map(crate::values::time::format_rfc3339),
        run.message,
    )
}

/// One restore request of a tenant, as the plan sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreStatus {
    /// Cluster.
    pub cluster: String,
    /// Tenant restored into.
    pub tenant: String,
    /// Restore name.
    pub name: String,
    /// Its Job.
    pub job: ObjectRef,
    /// Requested, running, completed, failed or unknown.
    pub state: RestoreState,
    /// When it started (running) or ended (completed, failed), RFC 3339, when known.
    pub at: Option<String>,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// Whether the configuration still requests it. A restore removed from Git keeps its
    /// record; nothing is undone.
    pub in_config: bool,
    /// The record apply writes on the Namespace, when the cluster's differs from what the
    /// Job shows (a finished Job, a Job without a record). `None`: nothing to record.
    pub record: Option<RestoreRecord>,
}

/// The state of a restore from its record and its live Job, and the record to write.
pub fn restore_state(
    record: Option<&RestoreRecord>,
    job: Option<&Value>,
) -> (
    RestoreState,
    Option<String>,
    Option<String>,
    Option<RestoreRecord>,
) {
    match (record, job) {
        (None, None) => (RestoreState::Requested, None, None, None),
        (record, Some(job)) => {
            let (state, at, message) = job_outcome(job);
            let want = match state {
                RestoreState::Completed => RecordState::Completed,
                RestoreState::Failed => RecordState::Failed,
                _ => RecordState::Started,
            };
            let update = match record {
                Some(r) if r.state == want || r.state != RecordState::Started => None,
                _ => Some(RestoreRecord {
                    state: want,
                    at: at.clone(),
                }),
            };
            // A finished record wins over a Job that says otherwise (it was re-created by hand).
            match record {
                Some(r) if r.state != RecordState::Started => {
                    let (s, m) = recorded(r);
                    (s, r.at.clone(), m.or(message), None)
                }
                _ => (state, at, message, update),
            }
        }
        (Some(r), None) => {
            let (state, message) = recorded(r);
            (state, r.at.clone(), message, None)
        }
    }
}

fn recorded(r: &RestoreRecord) -> (RestoreState, Option<String>) {
    match r.state {
        RecordState::Completed => (RestoreState::Completed, None),
        RecordState::Failed => (RestoreState::Failed, None),
        RecordState::Started => (
            RestoreState::Unknown,
            Some("its Job was deleted before berth recorded how it ended".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_read_from_namespace_annotations() {
        let ns = json!({"metadata": {"annotations": {
            "restore.berth.io/a": "{\"state\":\"completed\",\"at\":\"2026-11-21T02:40:00Z\"}",
            "restore.berth.io/b": "garbage",
            "berth.io/source": "tenants/x.toml",
        }}});
        let r = records_of(&ns);
        assert_eq!(r.len(), 2);
        assert_eq!(r["a"].state, RecordState::Completed);
        assert_eq!(r["a"].at.as_deref(), Some("2026-11-21T02:40:00Z"));
        assert_eq!(r["b"].state, RecordState::Started, "any value is a record");
        let round = RestoreRecord::from_annotation(&r["a"].to_annotation());
        assert_eq!(round, r["a"]);
    }

    #[test]
    fn job_outcomes() {
        let done = json!({"status": {"succeeded": 1, "completionTime": "2026-11-21T03:00:00Z",
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-11-21T03:00:00Z"}]}});
        assert_eq!(
            job_outcome(&done),
            (
                RestoreState::Completed,
                Some("2026-11-21T03:00:00Z".into()),
                None
            )
        );
        let failed = json!({"status": {"failed": 2, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-11-21T03:00:00Z"}]}});
        assert_eq!(job_outcome(&failed).0, RestoreState::Failed);
        assert_eq!(
            job_outcome(&failed).2.as_deref(),
            Some("Job has reached the specified backoff limit")
        );
        // Counters are not an outcome: the Job controller's conditions are.
        let counted = json!({"spec": {"backoffLimit": 0}, "status": {"succeeded": 1, "failed": 3}});
        assert_eq!(job_outcome(&counted).0, RestoreState::Running);
        let not_yet = json!({"status": {"conditions": [{"type": "Failed", "status": "False"}]}});
        assert_eq!(job_outcome(&not_yet).0, RestoreState::Running);
        let running = json!({"metadata": {"creationTimestamp": "2026-11-21T02:00:00Z"}});
        assert_eq!(
            job_outcome(&running),
            (
                RestoreState::Running,
                Some("2026-11-21T02:00:00Z".into()),
                None
            )
        );
    }

    #[test]
    fn states_from_record_and_job() {
        let (t0, t1) = ("2026-11-21T02:00:00Z", "2026-11-21T03:00:00Z");
        let started = RestoreRecord {
            state: RecordState::Started,
            at: Some(t0.into()),
        };
        let done_job = json!({"status": {"succeeded": 1, "completionTime": t1,
            "conditions": [{"type": "Complete", "status": "True"}]}});
        // Nothing yet: requested.
        assert_eq!(restore_state(None, None).0, RestoreState::Requested);
        // Started, Job finished: completed, and the record is updated.
        let (s, at, _, rec) = restore_state(Some(&started), Some(&done_job));
        assert_eq!((s, at.as_deref()), (RestoreState::Completed, Some(t1)));
        assert_eq!(rec.unwrap().state, RecordState::Completed);
        // Started, Job gone: unknown, never requested again.
        assert_eq!(restore_state(Some(&started), None).0, RestoreState::Unknown);
        // A Job without a record (apply stopped in between): recorded as started.
        let running = json!({"metadata": {"creationTimestamp": t0}});
        let (s, _, _, rec) = restore_state(None, Some(&running));
        assert_eq!(s, RestoreState::Running);
        assert_eq!(rec.unwrap().state, RecordState::Started);
        // Completed record, Job gone: completed, nothing to write.
        let done = RestoreRecord {
            state: RecordState::Completed,
            at: Some(t1.into()),
        };
        assert_eq!(
            restore_state(Some(&done), None),
            (RestoreState::Completed, Some(t1.into()), None, None)
        );
    }
}
