//! The dashboard: HTML pages served by the daemon on the port of its API.
//!
//! - [`views`]: pure functions from the daemon's data ([`Status`], [`Snapshot`]) to page data,
//!   rendered to HTML by [`templates`] (minijinja templates embedded in the binary, every
//!   value escaped), with [`html`] (the layout, the one stylesheet, form decoding) and [`svg`]
//!   (charts drawn on the server). No JavaScript is needed to read anything.
//! - [`propose`]: the "propose a change" forms. A proposal is the TOML a person would have
//!   written, validated with the same code as `berth validate`, planned offline against the
//!   base revision, and committed to a new branch by [`crate::source::propose`].
//! - [`prometheus`]: the longer ranges of the trends page, read from a Prometheus server that
//!   scrapes the daemon (`[dashboard] prometheus_url`); its failures are notices on the page.
//! - [`auth`]: the token that unlocks the forms (compared in constant time), sessions and CSRF
//!   tokens (HMAC), the same-origin check of every POST.
//! - [`routes`]: the axum handlers.
//!
//! **The dashboard never writes to a cluster**: it reads what the reconcile loop recorded
//! ([`record`]: live summaries, pod usage from the metrics API, usage samples kept in the
//! state directory) and its only write is a Git commit on a new branch.

pub mod auth;
pub mod html;
pub mod live;
pub mod prometheus;
pub mod propose;
pub mod routes;
pub mod svg;
pub mod templates;
pub mod views;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::apply::{ChangeSet, Outcome};
use crate::observe::metrics::{PodMetrics, PodUsage};
use crate::observe::Observed;
use crate::pipeline::Observation;
use crate::plan::Plan;
use crate::source::propose::ProposalRepo;
use crate::spec::model::Config;
use crate::values::time::now_unix;

use super::status::{Status, SyncRecord, TenantEvent, TENANT_HISTORY_LEN};
use live::TenantLive;

/// Usage samples kept per tenant (for the charts of use against quota): with one every
/// [`USAGE_SPACING`] seconds, a day.
pub const USAGE_SAMPLES: usize = 96;

/// Seconds between two kept usage samples. Every sync and drift check takes one; the newest
/// replaces the one before it until that one is this old, so the history is evenly spread
/// and bounded whatever the drift interval.
pub const USAGE_SPACING: i64 = 900;

/// The file under the state directory the usage samples are kept in across restarts.
pub const USAGE_FILE: &str = "dashboard-usage.json";

/// How the dashboard is configured.
#[derive(Debug, Clone, Default)]
pub struct DashboardSettings {
    /// The token that unlocks the proposal forms; `None`: the forms are disabled.
    pub token: Option<String>,
}

impl DashboardSettings {
    /// Reads the token from `token_file`, else from the environment variable
    /// `BERTH_DASHBOARD_TOKEN`. Surrounding white space is ignored; an empty token is an error.
    pub fn resolve(token_file: Option<&Path>) -> Result<DashboardSettings, String> {
        let token = match token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--dashboard-token-file {}: {e}", path.display()))?,
            ),
            None => std::env::var("BERTH_DASHBOARD_TOKEN").ok(),
        };
        let token = token.map(|t| t.trim().to_string());
        if token.as_deref() == Some("") {
            return Err("the dashboard token is empty; write a long random string, or leave it unset to disable the forms".into());
        }
        Ok(DashboardSettings { token })
    }
}

/// One usage sample of a tenant: quota used and hard per resource, and what its pods use,
/// as numbers (cores, bytes, counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageSample {
    /// Unix seconds.
    pub at: i64,
    /// `(resource, used, hard)` from the ResourceQuota's status (`used` unknown until the
    /// cluster's quota controller reports it).
    pub values: Vec<(String, Option<f64>, f64)>,
    /// CPU (cores) and memory (bytes) in use by its pods, from the metrics API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<(f64, f64)>,
}

impl UsageSample {
    /// `(used, hard)` of a quota resource whose use is known.
    pub fn quota(&self, resource: &str) -> Option<(f64, f64)> {
        self.values
            .iter()
            .find(|(r, _, _)| r == resource)
            .and_then(|(_, u, h)| Some(((*u)?, *h)))
    }

    /// The hard limit of a quota resource.
    pub fn hard(&self, resource: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(r, _, _)| r == resource)
            .map(|(_, _, h)| *h)
    }
}

/// Adds `sample` to a tenant's samples, keeping them [`USAGE_SPACING`] apart (the newest
/// replaces the last one while that one is younger than the spacing after the one before
/// it) and at most [`USAGE_SAMPLES`]. Returns whether a sample was added rather than
/// replaced (then the samples are worth saving).
pub fn push_sample(samples: &mut VecDeque<UsageSample>, sample: UsageSample) -> bool {
    let n = samples.len();
    if n >= 2 && samples[n - 1].at - samples[n - 2].at < USAGE_SPACING {
        samples[n - 1] = sample;
        return false;
    }
    samples.push_back(sample);
    while samples.len() > USAGE_SAMPLES {
        samples.pop_front();
    }
    true
}

/// The usage file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
struct UsageFile {
    /// Samples by tenant, oldest first.
    tenants: BTreeMap<String, VecDeque<UsageSample>>,
}

/// Whether a cluster serves the metrics API, as the last read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsApi {
    /// It does not serve `metrics.k8s.io/v1beta1`.
    NotServed,
    /// It was read at this time (unix seconds).
    Read(i64),
    /// Reading failed.
    Failed(String),
}

/// What the last sync or drift check saw, for the pages: kept in memory only (the status,
/// persisted, has the history).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The last good configuration.
    pub config: Option<Arc<Config>>,
    /// The plan of the last sync or drift check.
    pub plan: Option<Arc<Plan>>,
    /// Its changes that were not applied (the daemon follows, a change is blocked or failed,
    /// or a drift check only reported): what Git has that the clusters do not.
    pub pending: Option<Arc<Plan>>,
    /// When the plan was made (unix seconds) and by what (`startup`, `drift`, ...).
    pub planned_at: Option<(i64, String)>,
    /// Live summaries by tenant.
    pub live: BTreeMap<String, TenantLive>,
    /// Quota use and pod usage over time, by tenant (saved in the state directory).
    pub usage: BTreeMap<String, VecDeque<UsageSample>>,
    /// What each tenant's pods use now (metrics API), where a cluster serves it.
    pub pod_usage: BTreeMap<String, PodUsage>,
    /// The metrics API of each cluster with tenants.
    pub metrics_api: BTreeMap<String, MetricsApi>,
}

/// The dashboard's state in [`super::Shared`].
pub struct Dashboard {
    /// What the last sync saw.
    pub snapshot: RwLock<Snapshot>,
    /// Token, sessions and CSRF.
    pub auth: auth::Auth,
    /// Where proposals are committed, or why they cannot be.
    pub proposals: Result<ProposalRepo, String>,
    /// Where the usage samples are kept across restarts (`None`: not kept).
    pub usage_file: Option<PathBuf>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("forms", &self.auth.enabled())
            .field("proposals", &self.proposals.as_ref().map(|r| r.describe()))
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard of a daemon: `repo_dir` is the config directory when the source is one;
    /// `state_dir` the daemon's state directory, where the usage samples are kept (and read
    /// back from at start).
    pub fn new(
        settings: &DashboardSettings,
        repo_dir: Option<&Path>,
        state_dir: Option<&Path>,
    ) -> Dashboard {
        let proposals = match repo_dir {
            Some(dir) => ProposalRepo::discover(dir).map_err(|e| e.to_string()),
            None => {
                Err("the config source is not a Git repository the daemon can commit to".into())
            }
        };
        let usage_file = state_dir.map(|d| d.join(USAGE_FILE));
        let usage = usage_file.as_deref().map(load_usage).unwrap_or_default();
        Dashboard {
            snapshot: RwLock::new(Snapshot {
                usage,
                ..Snapshot::default()
            }),
            auth: auth::Auth::new(settings.token.as_deref()),
            proposals,
            usage_file,
        }
    }

    /// Saves the usage samples (atomically), when they are kept; a failure is logged.
    pub fn save_usage(&self) {
        let Some(path) = &self.usage_file else {
            return;
        };
        let bytes = {
            let snap = self.snapshot.read().unwrap();
            let file = UsageFileRef {
                tenants: &snap.usage,
            };
            serde_json::to_vec(&file)
        };
        let result = bytes
            .map_err(std::io::Error::other)
            .and_then(|b| super::status::write_atomic(path, &b));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the dashboard's usage samples");
        }
    }

    /// Replaces where proposals go (a Git source hands over its repository and push target).
    pub fn set_proposals(&mut self, repo: Result<ProposalRepo, String>) {
        self.proposals = repo;
    }
}

/// [`UsageFile`] borrowed, for saving.
#[derive(Serialize)]
struct UsageFileRef<'a> {
    tenants: &'a BTreeMap<String, VecDeque<UsageSample>>,
}

/// The samples saved in `path`; none when it is missing or unreadable (logged).
fn load_usage(path: &Path) -> BTreeMap<String, VecDeque<UsageSample>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the dashboard's usage samples; starting without");
            return BTreeMap::new();
        }
    };
    match serde_json::from_str::<UsageFile>(&text) {
        Ok(mut f) => {
            for samples in f.tenants.values_mut() {
                while samples.len() > USAGE_SAMPLES {
                    samples.pop_front();
                }
            }
            f.tenants
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the dashboard's usage samples are unreadable; starting without");
            BTreeMap::new()
        }
    }
}

/// What one sync or drift check saw, for [`record`].
pub struct Cycle<'a> {
    /// The configuration it reconciled.
    pub config: &'a Config,
    /// Live state and the plan.
    pub observation: &'a Observation,
    /// What apply did, when it ran.
    pub set: Option<&'a ChangeSet>,
    /// The sync.
    pub record: &'a SyncRecord,
    /// The metrics API of each cluster with tenants.
    pub metrics: &'a BTreeMap<String, PodMetrics>,
    /// The tenants' Jobs (backup runs and restores), by cluster.
    pub jobs: &'a BTreeMap<String, crate::observe::Workloads>,
    /// Tenants the apply changed, observed again after it: their live summaries replace
    /// those from before the apply.
    pub after_apply: Option<&'a (std::collections::BTreeSet<String>, Observed)>,
}

/// Records what a sync or drift check saw: the configuration, the plan and what is still
/// pending of it, the tenants' live summaries, pod usage and usage samples (in the snapshot;
/// the samples are also saved), and one event per tenant it concerned (in the status,
/// persisted with it).
pub fn record(dashboard: &Dashboard, status: &RwLock<Status>, cycle: &Cycle<'_>) {
    let Cycle {
        config,
        observation,
        set,
        record,
        metrics,
        jobs,
        after_apply,
    } = *cycle;
    let now = now_unix();
    let plan = &observation.plan;
    let applied: HashSet<(&str, &crate::object::ObjectRef)> = set
        .map(|s| {
            s.entries
                .iter()
                .filter(|e| matches!(e.outcome, Outcome::Applied))
                .map(|e| (e.cluster.as_str(), &e.id))
                .collect()
        })
        .unwrap_or_default();
    let mut pending = plan.clone();
    pending
        .changes
        .retain(|c| !applied.contains(&(c.cluster.as_str(), &c.id)));
    pending.drift.clear();
    pending.summarize();

    let mut per_tenant: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for c in &plan.changes {
        let e = per_tenant.entry(c.tenant.as_str()).or_default();
        if applied.contains(&(c.cluster.as_str(), &c.id)) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for d in &plan.drift {
        per_tenant.entry(d.tenant.as_str()).or_default().2 += 1;
    }
    let mut errors: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    if let Some(s) = set {
        for e in s.failures() {
            if let Outcome::Failed(m) = &e.outcome {
                errors.entry(e.tenant.as_str()).or_default().push(m.clone());
            }
        }
    }

    let mut live = live::summarize(&observation.observed, jobs);
    if let Some((changed, fresh)) = after_apply {
        live.retain(|t, _| !changed.contains(t));
        live.extend(live::summarize(fresh, jobs));
    }
    let (pod_usage, metrics_api) = pod_usage_by_tenant(config, metrics, now);
    let mut appended = false;
    {
        let mut snap = dashboard.snapshot.write().unwrap();
        for t in &config.tenants {
            let values: Vec<(String, Option<f64>, f64)> = live
                .get(&t.name)
                .into_iter()
                .flat_map(|l| &l.quota)
                .filter_map(|q| {
                    let used = q
                        .used
                        .as_deref()
                        .and_then(|u| crate::values::parse_quantity(u).ok())
                        .map(|u| u.to_f64());
                    let hard = crate::values::parse_quantity(&q.hard).ok()?;
                    Some((q.resource.clone(), used, hard.to_f64()))
                })
                .collect();
            let pods = pod_usage.get(&t.name).map(|u| (u.cpu, u.memory));
            // Nothing measured (no quota controller, no metrics API): no sample.
            if values.iter().all(|(_, used, _)| used.is_none()) && pods.is_none() {
                continue;
            }
            let samples = snap.usage.entry(t.name.clone()).or_default();
            appended |= push_sample(
                samples,
                UsageSample {
                    at: now,
                    values,
                    pods,
                },
            );
        }
        let known: HashSet<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        snap.usage.retain(|t, _| known.contains(t.as_str()));
        snap.config = Some(Arc::new(config.clone()));
        snap.plan = Some(Arc::new(plan.clone()));
        snap.pending = Some(Arc::new(pending));
        snap.planned_at = Some((now, record.trigger.clone()));
        snap.live = live;
        snap.pod_usage = pod_usage;
        snap.metrics_api = metrics_api;
    }
    if appended {
        dashboard.save_usage();
    }

    let mut status = status.write().unwrap();
    let at = crate::values::time::format_rfc3339(now);
    for (tenant, (done, left, drifted)) in per_tenant {
        if tenant.is_empty() {
            continue;
        }
        let errs = errors.remove(tenant).unwrap_or_default();
        let result = if !errs.is_empty() {
            "failed"
        } else if done > 0 && left == 0 {
            "applied"
        } else if left > 0 {
            "pending"
        } else {
            "drift"
        };
        let history = status.tenant_history.entry(tenant.to_string()).or_default();
        // A drift check that finds what the last one found is not news.
        if history.back().is_some_and(|last| {
            last.revision == record.revision
                && last.result == result
                && (last.applied, last.pending, last.drifted) == (done, left, drifted)
                && last.errors == errs
        }) {
            continue;
        }
        history.push_back(TenantEvent {
            at: at.clone(),
            revision: record.revision.clone(),
            trigger: record.trigger.clone(),
            result: result.into(),
            applied: done,
            pending: left,
            drifted,
            errors: errs,
            author: record.author.clone(),
            message: record.message.clone(),
        });
        while history.len() > TENANT_HISTORY_LEN {
            history.pop_front();
        }
    }
    let known: HashSet<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
    status
        .tenant_history
        .retain(|t, _| known.contains(t.as_str()));
}

/// Per-tenant gauges for Prometheus, from the newest usage sample of each tenant and what
/// its pods use (one series per tenant and resource):
/// `berth_tenant_quota_used` and `berth_tenant_quota_hard` (`{tenant, resource}`, the
/// ResourceQuota's resources in base units: cores, bytes, counts) and
/// `berth_tenant_pod_usage` (`{tenant, resource="cpu"|"memory"}`, cores and bytes, from the
/// metrics API); and each tenant's health by [`crate::health`], the model of `berth status`
/// and the pages: `berth_tenant_health` (`{tenant, state}`, 1 for the state it is in, 0 for
/// the others) and `berth_tenant_problems` (`{tenant, reason}`, the number of reasons of each
/// kind it has).
pub fn tenant_metrics(status: &Status, snap: &Snapshot, now: i64) -> String {
    use super::status::escape;
    use std::fmt::Write as _;
    let known: Option<HashSet<&str>> = snap
        .config
        .as_ref()
        .map(|c| c.tenants.iter().map(|t| t.name.as_str()).collect());
    let keep = |t: &str| known.as_ref().is_none_or(|k| k.contains(t));
    let mut out = String::new();
    for (name, help, hard) in [
        (
            "berth_tenant_quota_used",
            "Quota used by the tenant's namespace (ResourceQuota status), by resource, as of the last sync or drift check.",
            false,
        ),
        (
            "berth_tenant_quota_hard",
            "Quota of the tenant's namespace (ResourceQuota status, else spec), by resource.",
            true,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (tenant, samples) in &snap.usage {
            let Some(s) = samples.back().filter(|_| keep(tenant)) else {
                continue;
            };
            for (resource, used, h) in &s.values {
                let Some(v) = (if hard { Some(*h) } else { *used }) else {
                    continue;
                };
                let _ = writeln!(
                    out,
                    "{name}{{tenant=\"{}\",resource=\"{}\"}} {v}",
                    escape(tenant),
                    escape(resource),
                );
            }
        }
    }
    let healths: Vec<(&str, crate::health::TenantHealth)> = views::tenant_names(status, snap)
        .into_iter()
        .map(|t| (t, views::tenant_health(t, status, snap, now)))
        .collect();
    let _ = writeln!(out, "# HELP berth_tenant_health 1 for the state the tenant is in (ok, unknown, attention, failing), as berth status and the dashboard decide it.\n# TYPE berth_tenant_health gauge");
    for (tenant, h) in &healths {
        for state in crate::health::State::ALL {
            let _ = writeln!(
                out,
                "berth_tenant_health{{tenant=\"{}\",state=\"{}\"}} {}",
                escape(tenant),
                state.as_str(),
                u8::from(h.state == state)
            );
        }
    }
    let _ = writeln!(out, "# HELP berth_tenant_problems What needs attention in the tenant, by reason kind (missing_secret, backup_overdue, failing_jobs, ...).\n# TYPE berth_tenant_problems gauge");
    for (tenant, h) in &healths {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &h.reasons {
            *kinds.entry(r.kind()).or_default() += 1;
        }
        for (kind, n) in kinds {
            let _ = writeln!(
                out,
                "berth_tenant_problems{{tenant=\"{}\",reason=\"{kind}\"}} {n}",
                escape(tenant)
            );
        }
    }
    let _ = writeln!(out, "# HELP berth_tenant_pod_usage CPU (cores) and memory (bytes) the tenant's pods use, from the metrics API where the cluster serves it.\n# TYPE berth_tenant_pod_usage gauge");
    for (tenant, u) in &snap.pod_usage {
        if !keep(tenant) {
            continue;
        }
        for (resource, v) in [("cpu", u.cpu), ("memory", u.memory)] {
            let _ = writeln!(
                out,
                "berth_tenant_pod_usage{{tenant=\"{}\",resource=\"{resource}\"}} {v}",
                escape(tenant)
            );
        }
    }
    out
}

/// Pod usage by tenant (its namespace on its cluster), and the state of each cluster's
/// metrics API, from what the metrics API gave. A tenant on a cluster that was read but has
/// no measured pod uses nothing.
pub fn pod_usage_by_tenant(
    config: &Config,
    metrics: &BTreeMap<String, PodMetrics>,
    now: i64,
) -> (BTreeMap<String, PodUsage>, BTreeMap<String, MetricsApi>) {
    let mut usage = BTreeMap::new();
    for t in &config.tenants {
        if let Some(PodMetrics::Read { by_namespace, .. }) = metrics.get(&t.cluster) {
            usage.insert(
                t.name.clone(),
                by_namespace.get(&t.namespace).cloned().unwrap_or_default(),
            );
        }
    }
    let api = metrics
        .iter()
        .map(|(cluster, m)| {
            let state = match m {
                PodMetrics::NotServed | PodMetrics::Withdrawn => MetricsApi::NotServed,
                PodMetrics::Read { .. } => MetricsApi::Read(now),
                PodMetrics::Failed(e) => MetricsApi::Failed(e.clone()),
            };
            (cluster.clone(), state)
        })
        .collect();
    (usage, api)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, used: f64) -> UsageSample {
        UsageSample {
            at,
            values: vec![
                ("requests.cpu".into(), Some(used), 48.0),
                ("requests.memory".into(), None, 64e9),
            ],
            pods: Some((used / 2.0, 1e9)),
        }
    }

    #[test]
    fn usage_samples_are_spread_out_and_bounded() {
        let mut s = VecDeque::new();
        assert!(push_sample(&mut s, sample(0, 1.0)));
        assert!(push_sample(&mut s, sample(10, 2.0)));
        // Younger than the spacing after the one before: the newest is replaced.
        assert!(!push_sample(&mut s, sample(20, 3.0)));
        assert_eq!(s.len(), 2);
        assert_eq!(s[1], sample(20, 3.0));
        assert!(!push_sample(&mut s, sample(USAGE_SPACING - 1, 4.0)));
        assert!(!push_sample(&mut s, sample(USAGE_SPACING, 5.0)));
        // Now the last one is a full spacing after the first: a new one is added.
        assert!(push_sample(&mut s, sample(USAGE_SPACING + 1, 6.0)));
        assert_eq!(
            s.iter().map(|x| x.at).collect::<Vec<_>>(),
            [0, USAGE_SPACING, USAGE_SPACING + 1]
        );
        let mut t = 2 * USAGE_SPACING;
        for _ in 0..3 * USAGE_SAMPLES {
            push_sample(&mut s, sample(t, 1.0));
            t += USAGE_SPACING;
        }
        assert_eq!(s.len(), USAGE_SAMPLES);
        assert_eq!(s.back().unwrap().at, t - USAGE_SPACING);
    }

    #[test]
    fn tenant_gauges_have_one_series_per_tenant_and_resource() {
        let mut snap = Snapshot::default();
        snap.usage
            .insert("acme".into(), [sample(1, 10.0), sample(2000, 20.0)].into());
        snap.pod_usage.insert(
            "acme".into(),
            PodUsage {
                cpu: 1.5,
                memory: 2e9,
                pods: 2,
                at: None,
                window: None,
            },
        );
        let m = tenant_metrics(&Status::default(), &snap, 0);
        let lines: Vec<&str> = m.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "berth_tenant_quota_used{tenant=\"acme\",resource=\"requests.cpu\"} 20",
                "berth_tenant_quota_hard{tenant=\"acme\",resource=\"requests.cpu\"} 48",
                "berth_tenant_quota_hard{tenant=\"acme\",resource=\"requests.memory\"} 64000000000",
                "berth_tenant_pod_usage{tenant=\"acme\",resource=\"cpu\"} 1.5",
                "berth_tenant_pod_usage{tenant=\"acme\",resource=\"memory\"} 2000000000",
            ]
        );
        assert!(m.contains("# TYPE berth_tenant_quota_hard gauge"));
    }

    #[test]
    fn usage_samples_are_saved_and_read_back_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DashboardSettings::default();
        let d = Dashboard::new(&settings, None, Some(dir.path()));
        assert!(d.snapshot.read().unwrap().usage.is_empty());
        d.snapshot
            .write()
            .unwrap()
            .usage
            .insert("acme".into(), [sample(1, 20.0), sample(2000, 30.0)].into());
        d.save_usage();
        let path = dir.path().join(USAGE_FILE);
        assert!(path.exists() && !dir.path().join(format!("{USAGE_FILE}.tmp")).exists());
        let again = Dashboard::new(&settings, None, Some(dir.path()));
        let snap = again.snapshot.read().unwrap();
        assert_eq!(
            snap.usage["acme"].iter().cloned().collect::<Vec<_>>(),
            [sample(1, 20.0), sample(2000, 30.0)]
        );
        // A damaged file is a fresh start, not a failure.
        std::fs::write(&path, "{not json").unwrap();
        let fresh = Dashboard::new(&settings, None, Some(dir.path()));
        assert!(fresh.snapshot.read().unwrap().usage.is_empty());
    }
}
