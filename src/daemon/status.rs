//! What the daemon knows about its last syncs and drift checks: served as JSON by the status
//! API, turned into Prometheus metrics, and kept in the state directory across restarts.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Syncs kept in [`Status::history`].
pub const HISTORY_LEN: usize = 200;

/// The bucket bounds of the sync duration histogram, in seconds.
pub const DURATION_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncResult {
    /// Applied every change (or there was none).
    Applied,
    /// The plan had no changes.
    NoChanges,
    /// A follower: planned, did not apply.
    Planned,
    /// The revision failed validation; nothing of it was applied.
    Invalid,
    /// The source could not be read (remote unreachable, ...).
    SourceError,
    /// Some changes failed, or a cluster could not be reached.
    Failed,
    /// Apply refused the plan (mass deletion).
    Refused,
}

impl SyncResult {
    /// The label value used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncResult::Applied => "applied",
            SyncResult::NoChanges => "no_changes",
            SyncResult::Planned => "planned",
            SyncResult::Invalid => "invalid",
            SyncResult::SourceError => "source_error",
            SyncResult::Failed => "failed",
            SyncResult::Refused => "refused",
        }
    }

    /// Whether the revision is now live (as far as this sync could make it).
    pub fn is_success(self) -> bool {
        matches!(self, SyncResult::Applied | SyncResult::NoChanges)
    }
}

/// One sync.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRecord {
    /// Revision synced (commit, or a content hash for a directory source); `None` when the
    /// source could not be read.
    pub revision: Option<String>,
    /// What started it (`startup`, `poll`, `webhook`, `file change`, `drift`).
    pub trigger: String,
    /// Start, RFC 3339.
    pub started_at: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// How it ended.
    pub result: SyncResult,
    /// Objects created, updated (including replaced) and deleted.
    pub added: usize,
    /// See `added`.
    pub changed: usize,
    /// See `added`.
    pub destroyed: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Drifted objects seen by the plan.
    pub drifted: usize,
    /// What went wrong, one line each (validation errors with file:line:col).
    pub errors: Vec<String>,
    /// The author of the revision's commit (`Name <email>`); `None` for a directory source,
    /// whose revisions are hashes of files, not commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The first line of the commit's message; `None` as for `author`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Whether the last plan could read it; `None` when it was not contacted (a Kubernetes
    /// cluster without tenants).
    pub reachable: Option<bool>,
    /// Why not.
    pub error: Option<String>,
    /// Tenants placed on it by the last good configuration.
    pub tenants: usize,
}

/// One tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TenantStatus {
    /// Its cluster.
    pub cluster: String,
    /// The last revision fully applied to it.
    pub applied_revision: Option<String>,
    /// When, RFC 3339.
    pub applied_at: Option<String>,
    /// `ok`, `failed`, `pending` (planned by a follower, or its cluster unreachable), `kept`
    /// (removed from the configuration, kept by deletion protection).
    pub last_result: String,
    /// For a kept tenant: since which revision and why, in a phrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
    /// Drifted objects in the last check.
    pub drifted: usize,
    /// Its errors in the last sync.
    pub errors: Vec<String>,
}

/// Entries kept per tenant in [`Status::tenant_history`].
pub const TENANT_HISTORY_LEN: usize = 25;

/// A sync or drift check as it concerned one tenant: only those that changed it, failed for
/// it or found drift in it are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TenantEvent {
    /// When, RFC 3339.
    pub at: String,
    /// The revision synced.
    pub revision: Option<String>,
    /// What started it.
    pub trigger: String,
    /// `applied`, `failed`, `pending` (planned, not applied), `drift`.
    pub result: String,
    /// Changes applied to the tenant's objects.
    pub applied: usize,
    /// Changes planned and not applied (follower, blocked, failed, unreachable).
    pub pending: usize,
    /// Drifted objects found.
    pub drifted: usize,
    /// Its errors.
    pub errors: Vec<String>,
    /// The author of the revision's commit, as in [`SyncRecord::author`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The first line of its message, as in [`SyncRecord::message`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Everything the daemon reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// The source (directory or redacted URL).
    pub source: String,
    /// This replica's identity (leader election).
    pub identity: String,
    /// Whether this replica applies (holds the lease, or leader election is off).
    pub leader: bool,
    /// The newest revision seen in the source.
    pub seen_revision: Option<String>,
    /// The last revision that validated: what the daemon reconciles against.
    pub good_revision: Option<String>,
    /// The last revision synced without failure, and when.
    pub last_success_revision: Option<String>,
    /// See `last_success_revision`; RFC 3339.
    pub last_success_at: Option<String>,
    /// The same as a Unix time, for metrics.
    pub last_success_unix: Option<i64>,
    /// The last sync.
    pub last_sync: Option<SyncRecord>,
    /// The last drift check, RFC 3339.
    pub drift_checked_at: Option<String>,
    /// Drifted objects in the last check (or sync).
    pub drifted: usize,
    /// `Kind/namespace/name` of each drifted object.
    pub drifted_objects: Vec<String>,
    /// Per cluster.
    pub clusters: BTreeMap<String, ClusterStatus>,
    /// Per tenant.
    pub tenants: BTreeMap<String, TenantStatus>,
    /// Recent syncs, oldest first.
    pub history: VecDeque<SyncRecord>,
    /// Counters, for metrics.
    pub counters: Counters,
    /// Per tenant, its recent events, oldest first (the dashboard's tenant pages).
    #[serde(default)]
    pub tenant_history: BTreeMap<String, VecDeque<TenantEvent>>,
}

/// Monotonic counters behind the Prometheus metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Syncs by result.
    pub syncs: BTreeMap<String, u64>,
    /// Objects written, by action (`create`, `update`, `replace`, `delete`).
    pub objects: BTreeMap<String, u64>,
    /// Errors by kind (`source`, `validation`, `cluster`, `apply`, `webhook`).
    pub errors: BTreeMap<String, u64>,
    /// Sync durations: counts per bucket of [`DURATION_BUCKETS`] (not cumulative), the
    /// overflow, the sum.
    pub duration_buckets: Vec<u64>,
    /// Syncs slower than the last bucket.
    pub duration_overflow: u64,
    /// Sum of sync durations, seconds.
    pub duration_sum: f64,
    /// Drift checks run.
    pub drift_checks: u64,
    /// Drift corrections applied.
    pub drift_corrections: u64,
    /// Requests to clusters retried, by reason ([`crate::cluster::retry_reason`]).
    #[serde(default)]
    pub api_retries: BTreeMap<String, u64>,
    /// Requests to clusters that failed for good (not retried, or out of retries), by reason.
    #[serde(default)]
    pub api_failures: BTreeMap<String, u64>,
}

impl Counters {
    /// Counts one error of `kind`.
    pub fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
    }

    /// Counts a sync that took `secs` and ended with `result`.
    pub fn sync(&mut self, result: SyncResult, secs: f64) {
        *self.syncs.entry(result.as_str().to_string()).or_default() += 1;
        if self.duration_buckets.len() != DURATION_BUCKETS.len() {
            self.duration_buckets = vec![0; DURATION_BUCKETS.len()];
        }
        match DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => self.duration_buckets[i] += 1,
            None => self.duration_overflow += 1,
        }
        self.duration_sum += secs;
    }
}

impl Status {
    /// Appends a sync to the bounded history.
    pub fn record(&mut self, record: SyncRecord) {
        self.history.push_back(record.clone());
        while self.history.len() > HISTORY_LEN {
            self.history.pop_front();
        }
        self.last_sync = Some(record);
    }

    /// The file the status is kept in under `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("daemon-status.json")
    }

    /// Loads a status saved by [`Status::save`]; a missing or unreadable file gives `None`
    /// (a fresh start, logged by the caller).
    pub fn load(path: &Path) -> Option<Status> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the status atomically (temporary file, fsync, rename): a crash leaves the old
    /// file or the new one, never half of one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_atomic(
            path,
            &serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )
    }
}

/// Writes `bytes` to `path` atomically (a temporary file beside it, fsync, rename): a crash
/// leaves the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Prometheus text exposition of `status`.
pub fn metrics(status: &Status) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let c = &status.counters;
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };

    head(
        &mut out,
        "berth_sync_duration_seconds",
        "histogram",
        "Duration of syncs (load, validate, plan, apply).",
    );
    let mut cumulative = 0;
    for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
        cumulative += c.duration_buckets.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "berth_sync_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += c.duration_overflow;
    let _ = writeln!(
        out,
        "berth_sync_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}\nberth_sync_duration_seconds_sum {}\nberth_sync_duration_seconds_count {cumulative}",
        c.duration_sum
    );

    head(&mut out, "berth_syncs_total", "counter", "Syncs by result.");
    for (result, n) in &c.syncs {
        let _ = writeln!(out, "berth_syncs_total{{result=\"{result}\"}} {n}");
    }

    head(
        &mut out,
        "berth_last_successful_sync_timestamp_seconds",
        "gauge",
        "Unix time of the last sync that left the clusters matching its revision.",
    );
    let _ = writeln!(
        out,
        "berth_last_successful_sync_timestamp_seconds {}",
        status.last_success_unix.unwrap_or(0)
    );
    head(
        &mut out,
        "berth_last_successful_sync_info",
        "gauge",
        "The revision of the last successful sync, as a label.",
    );
    if let Some(rev) = &status.last_success_revision {
        let _ = writeln!(
            out,
            "berth_last_successful_sync_info{{revision=\"{}\"}} 1",
            escape(rev)
        );
    }

    head(
        &mut out,
        "berth_objects_applied_total",
        "counter",
        "Objects written to clusters, by action.",
    );
    for (action, n) in &c.objects {
        let _ = writeln!(
            out,
            "berth_objects_applied_total{{action=\"{action}\"}} {n}"
        );
    }

    head(
        &mut out,
        "berth_drifted_objects",
        "gauge",
        "Objects changed outside berth in the last check.",
    );
    let _ = writeln!(out, "berth_drifted_objects {}", status.drifted);
    head(
        &mut out,
        "berth_drift_corrections_total",
        "counter",
        "Drift corrections applied (policy drift = \"correct\").",
    );
    let _ = writeln!(out, "berth_drift_corrections_total {}", c.drift_corrections);
    head(
        &mut out,
        "berth_drift_checks_total",
        "counter",
        "Drift checks run.",
    );
    let _ = writeln!(out, "berth_drift_checks_total {}", c.drift_checks);

    head(&mut out, "berth_errors_total", "counter", "Errors by kind.");
    for (kind, n) in &c.errors {
        let _ = writeln!(out, "berth_errors_total{{kind=\"{kind}\"}} {n}");
    }

    head(
        &mut out,
        "berth_api_retries_total",
        "counter",
        "Requests to clusters retried, by reason (throttled, server_error, unreachable, conflict).",
    );
    for (reason, n) in &c.api_retries {
        let _ = writeln!(out, "berth_api_retries_total{{reason=\"{reason}\"}} {n}");
    }
    head(
        &mut out,
        "berth_api_failures_total",
        "counter",
        "Requests to clusters that failed after their retries or were not worth retrying, by reason.",
    );
    for (reason, n) in &c.api_failures {
        let _ = writeln!(out, "berth_api_failures_total{{reason=\"{reason}\"}} {n}");
    }

    head(
        &mut out,
        "berth_cluster_reachable",
        "gauge",
        "1 when the last plan could read the cluster.",
    );
    for (name, cl) in &status.clusters {
        if let Some(reachable) = cl.reachable {
            let _ = writeln!(
                out,
                "berth_cluster_reachable{{cluster=\"{}\"}} {}",
                escape(name),
                u8::from(reachable)
            );
        }
    }

    head(
        &mut out,
        "berth_tenants",
        "gauge",
        "Tenants by the result of their last sync.",
    );
    let mut by_result: BTreeMap<&str, usize> = BTreeMap::new();
    for t in status.tenants.values() {
        *by_result.entry(t.last_result.as_str()).or_default() += 1;
    }
    for (result, n) in by_result {
        let _ = writeln!(out, "berth_tenants{{result=\"{}\"}} {n}", escape(result));
    }

    head(
        &mut out,
        "berth_leader",
        "gauge",
        "1 when this replica applies changes.",
    );
    let _ = writeln!(out, "berth_leader {}", u8::from(status.leader));
    out
}

/// A label value with `\`, `"` and newlines escaped.
pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(result: SyncResult, secs: f64) -> SyncRecord {
        SyncRecord {
            revision: Some("abc".into()),
            trigger: "poll".into(),
            started_at: "2026-11-25T00:00:00Z".into(),
            duration_seconds: secs,
            result,
            added: 0,
            changed: 0,
            destroyed: 0,
            failed: 0,
            drifted: 0,
            errors: Vec::new(),
            author: None,
            message: None,
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_in_the_exposition() {
        let mut s = Status::default();
        s.counters.sync(SyncResult::Applied, 0.05);
        s.counters.sync(SyncResult::Applied, 0.3);
        s.counters.sync(SyncResult::Invalid, 1000.0);
        let m = metrics(&s);
        assert!(
            m.contains("berth_sync_duration_seconds_bucket{le=\"0.1\"} 1\n"),
            "{m}"
        );
        assert!(
            m.contains("berth_sync_duration_seconds_bucket{le=\"0.5\"} 2\n"),
            "{m}"
        );
        assert!(
            m.contains("berth_sync_duration_seconds_bucket{le=\"300\"} 2\n"),
            "{m}"
        );
        assert!(
            m.contains("berth_sync_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{m}"
        );
        assert!(m.contains("berth_sync_duration_seconds_count 3\n"), "{m}");
        assert!(
            m.contains("berth_syncs_total{result=\"applied\"} 2\n"),
            "{m}"
        );
        assert!(
            m.contains("berth_syncs_total{result=\"invalid\"} 1\n"),
            "{m}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let s = Status {
            last_success_revision: Some("a\"b\\c\nd".into()),
            ..Status::default()
        };
        let m = metrics(&s);
        assert!(
            m.contains("berth_last_successful_sync_info{revision=\"a\\\"b\\\\c\\nd\"} 1"),
            "{m}"
        );
    }

    #[test]
    fn history_is_bounded_and_keeps_the_newest() {
        let mut s = Status::default();
        for i in 0..HISTORY_LEN + 5 {
            s.record(record(SyncResult::Applied, i as f64));
        }
        assert_eq!(s.history.len(), HISTORY_LEN);
        assert_eq!(
            s.history.back().unwrap().duration_seconds,
            (HISTORY_LEN + 4) as f64
        );
        assert_eq!(s.history.front().unwrap().duration_seconds, 5.0);
    }

    #[test]
    fn saved_status_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = Status::path(dir.path());
        let mut s = Status {
            good_revision: Some("abc".into()),
            ..Status::default()
        };
        s.record(record(SyncResult::Applied, 1.0));
        s.counters.error("source");
        s.save(&path).unwrap();
        let back = Status::load(&path).unwrap();
        assert_eq!(back.good_revision.as_deref(), Some("abc"));
        assert_eq!(back.history.len(), 1);
        assert_eq!(back.counters.errors["source"], 1);
        assert!(!path.with_extension("json.tmp").exists());
    }
}
