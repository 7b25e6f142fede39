//! What `berth status` and `berth show tenant` report: each tenant's health and details from
//! a plan and what observe read. Pure: no I/O, the time is passed in.
//!
//! The drift and pending changes are the plan's; replicas come from the live StatefulSets'
//! status, backups from the CronJobs' `status.lastSuccessfulTime`, failing jobs from the
//! tenants' Jobs (a backup Job that failed after the last successful backup of its schedule,
//! or a failed restore), the revision from the tenant Namespace's
//! [`REVISION_ANNOTATION`]. A StatefulSet without any
//! status (no controller has reported, as on the embedded cluster) has unknown readiness,
//! which is not counted as a problem.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::object::{ObjectRef, REVISION_ANNOTATION, SCHEDULE_LABEL, TENANT_LABEL};
use crate::observe::{LiveObject, Observed, Workloads};
use crate::plan::restores::job_outcome;
use crate::plan::{Action, DriftKind, Plan, RestoreState, RestoreStatus, Warning};
use crate::render::Rendered;
use crate::source::SourceTree;
use crate::spec::model::{Config, Origin, Tenant};
use crate::values::cron::parse_cron;
use crate::values::time::{format_rfc3339, parse_rfc3339};

/// Everything status and show read.
pub struct StatusInput<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// What observe read.
    pub observed: &'a Observed,
    /// The plan of the same observation.
    pub plan: &'a Plan,
    /// Jobs and Pods, by cluster.
    pub workloads: &'a BTreeMap<String, Workloads>,
    /// Now, in unix seconds.
    pub now: i64,
}

/// Database replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// Ready replicas (`status.readyReplicas`); `None` when no controller reported a status.
    pub ready: Option<u64>,
    /// Desired replicas (`spec.replicas` of the live StatefulSet, else the configuration).
    pub desired: u64,
}

/// The newest successful backup of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastBackup {
    /// The schedule that made it.
    pub schedule: String,
    /// When it succeeded (RFC 3339).
    pub at: String,
    /// Its age in seconds.
    pub age_seconds: i64,
}

/// One tenant's line of `berth status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantStatus {
    /// Tenant.
    pub tenant: String,
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Why the cluster could not be read; the other fields are then empty.
    pub error: Option<String>,
    /// Whether the tenant's Namespace exists.
    pub exists: bool,
    /// Set when the configuration no longer has the tenant and its cluster keeps it (deletion
    /// protection): since when and why, in a phrase.
    pub removed: Option<String>,
    /// Database replicas.
    pub database: Replicas,
    /// The config revision last applied to the tenant.
    pub revision: Option<String>,
    /// Objects changed outside berth (drift).
    pub drifted: usize,
    /// Changes a plan would make (the configuration is not applied yet).
    pub pending_changes: usize,
    /// The newest successful backup.
    pub last_backup: Option<LastBackup>,
    /// Jobs whose last run failed: `Job/<ns>/<name>`.
    pub failing_jobs: Vec<String>,
    /// What needs attention, one phrase each; empty when all is well.
    pub problems: Vec<String>,
}

/// `123` seconds as `2m`, `5h`, `3d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn time_at(v: &Value, pointer: &str) -> Option<i64> {
    str_at(v, pointer).and_then(|s| parse_rfc3339(s).ok())
}

/// The owned live objects of a tenant on its cluster, parsed.
fn owned_of(input: &StatusInput<'_>, cluster: &str, tenant: &str) -> Vec<(ObjectRef, Value)> {
    input
        .observed
        .clusters
        .get(cluster)
        .map(|s| {
            s.owned
                .iter()
                .filter(|o| o.tenant() == tenant)
                .filter(|o| {
                    matches!(o.id.kind.as_str(), "Namespace" | "StatefulSet" | "CronJob")
                        || o.id.kind == "ResourceQuota"
                })
                .map(|o: &LiveObject| (o.id.clone(), o.manifest()))
                .collect()
        })
        .unwrap_or_default()
}

/// The problem of a tenant on a reachable cluster that could not be read whole (see
/// [`crate::plan::Unobserved`]); its [`TenantStatus::error`] says why.
pub const NOT_OBSERVED: &str = "not observed";

/// Why a tenant's cluster could not be read, if it could not.
fn cluster_error(input: &StatusInput<'_>, cluster: &str) -> Option<String> {
    if let Some((_, msg)) = input.plan.unreachable.iter().find(|(c, _)| *c == cluster) {
        return Some(msg.clone());
    }
    match input.observed.clusters.get(cluster) {
        None => Some(format!("cluster `{cluster}` was not observed")),
        Some(s) => s.error.clone(),
    }
}

/// The status of every tenant of the configuration, filtered by `tenants` and `clusters`
/// when they are not empty, in the configuration's order.
pub fn tenant_statuses(
    input: &StatusInput<'_>,
    tenants: &[String],
    clusters: &[String],
) -> Vec<TenantStatus> {
    input
        .config
        .tenants
        .iter()
        .filter(|t| tenants.is_empty() || tenants.contains(&t.name))
        .filter(|t| clusters.is_empty() || clusters.contains(&t.cluster))
        .map(|t| tenant_status(input, t))
        .chain(
            input
                .plan
                .kept
                .iter()
                .filter(|k| tenants.is_empty() || tenants.contains(&k.tenant))
                .filter(|k| clusters.is_empty() || clusters.contains(&k.cluster))
                .map(|k| kept_status(input, k)),
        )
        .collect()
}

/// The status of a tenant the configuration no longer has and that its cluster keeps
/// ([`crate::plan::KeptTenant`]): what is observed of it, and that it needs a decision.
pub fn kept_status(input: &StatusInput<'_>, k: &crate::plan::KeptTenant) -> TenantStatus {
    let who = Who {
        name: &k.tenant,
        cluster: &k.cluster,
        namespace: k.namespace.as_deref().unwrap_or(""),
        replicas: 0,
    };
    let mut st = status_of(input, &who, None);
    let removed = k.summary();
    st.problems.retain(|p| p != "not applied");
    st.problems.insert(0, removed.clone());
    st.removed = Some(removed);
    st
}

/// Whose status is read.
struct Who<'a> {
    name: &'a str,
    cluster: &'a str,
    namespace: &'a str,
    /// Desired database replicas when no StatefulSet is seen.
    replicas: u64,
}

/// The status of one tenant.
pub fn tenant_status(input: &StatusInput<'_>, t: &Tenant) -> TenantStatus {
    let who = Who {
        name: &t.name,
        cluster: &t.cluster,
        namespace: &t.namespace,
        replicas: u64::from(t.database.replicas.value),
    };
    status_of(input, &who, Some(t))
}

/// The status of `who`; `t`, its configuration, when it has one (backups are read only
/// then).
fn status_of(input: &StatusInput<'_>, who: &Who<'_>, t: Option<&Tenant>) -> TenantStatus {
    let mut st = TenantStatus {
        tenant: who.name.to_string(),
        cluster: who.cluster.to_string(),
        namespace: who.namespace.to_string(),
        error: None,
        exists: false,
        removed: None,
        database: Replicas {
            ready: None,
            desired: who.replicas,
        },
        revision: None,
        drifted: 0,
        pending_changes: 0,
        last_backup: None,
        failing_jobs: Vec::new(),
        problems: Vec::new(),
    };
    if let Some(e) = cluster_error(input, who.cluster) {
        st.problems.push("cluster unreachable".into());
        st.error = Some(e);
        return st;
    }
    if let Some(u) = input
        .plan
        .unobserved
        .iter()
        .find(|u| u.cluster == who.cluster && u.tenant == who.name)
    {
        st.problems.push(NOT_OBSERVED.into());
        st.error = Some(u.reason.clone());
        return st;
    }
    let owned = owned_of(input, who.cluster, who.name);
    let mut sts_seen = false;
    let mut ready_total: Option<u64> = None;
    let mut desired_total = 0u64;
    // schedule -> last success (unix)
    let mut last_success: BTreeMap<String, i64> = BTreeMap::new();
    for (id, obj) in &owned {
        match id.kind.as_str() {
            "Namespace" if id.name == who.namespace => {
                st.exists = true;
                st.revision = obj
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(REVISION_ANNOTATION))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            "StatefulSet" => {
                sts_seen = true;
                desired_total += obj
                    .pointer("/spec/replicas")
                    .and_then(Value::as_u64)
                    .unwrap_or(1);
                let status = obj.get("status").and_then(Value::as_object);
                if let Some(status) = status.filter(|s| !s.is_empty()) {
                    let ready = status
                        .get("readyReplicas")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    ready_total = Some(ready_total.unwrap_or(0) + ready);
                }
            }
            "CronJob" => {
                let schedule = str_at(obj, &format!("/metadata/labels/{}", esc(SCHEDULE_LABEL)))
                    .unwrap_or(&id.name)
                    .to_string();
                if let Some(at) = time_at(obj, "/status/lastSuccessfulTime") {
                    last_success.insert(schedule, at);
                }
            }
            _ => {}
        }
    }
    if sts_seen {
        st.database = Replicas {
            ready: ready_total,
            desired: desired_total,
        };
    }
    if let Some((schedule, at)) = last_success.iter().max_by_key(|(_, at)| **at) {
        st.last_backup = Some(LastBackup {
            schedule: schedule.clone(),
            at: format_rfc3339(*at),
            age_seconds: input.now - at,
        });
    }
    st.drifted = input
        .plan
        .drift
        .iter()
        .filter(|d| d.cluster == who.cluster && d.tenant == who.name)
        .count();
    st.pending_changes = input
        .plan
        .changes
        .iter()
        .filter(|c| c.cluster == who.cluster && c.tenant == who.name)
        .count();
    if let Some(t) = t {
        st.failing_jobs = failing_jobs(input, t, &last_success);
    }

    if !st.exists {
        st.problems.push("not applied".into());
    }
    if let Some(ready) = st.database.ready {
        if ready < st.database.desired {
            st.problems
                .push(format!("database {ready}/{} ready", st.database.desired));
        }
    }
    if st.drifted > 0 {
        st.problems.push(format!("{} drifted", st.drifted));
    }
    if st.pending_changes > 0 && st.exists {
        st.problems
            .push(format!("{} changes not applied", st.pending_changes));
    }
    if !st.failing_jobs.is_empty() {
        let n = st.failing_jobs.len();
        st.problems.push(format!(
            "{n} failing {}",
            if n == 1 { "job" } else { "jobs" }
        ));
    }
    for w in input
        .plan
        .warnings
        .iter()
        .filter(|w| w.cluster == who.cluster && w.tenant == who.name)
    {
        match (&w.object, w.kind.as_str()) {
            (Some(o), "missing_secret") => st.problems.push(format!("{o} missing")),
            (_, "destroy_not_named") => st.problems.push("apply would destroy it".into()),
            _ => {}
        }
    }
    if let Some(t) = t {
        for (schedule, overdue) in overdue_backups(input, t, &owned, &last_success) {
            st.problems
                .push(format!("backup `{schedule}` overdue by {}", age(overdue)));
        }
    }
    st
}

/// A JSON-pointer segment: `/` and `~` escaped.
fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Jobs of the tenant whose last run failed: a backup Job that failed after its schedule's
/// last success, or a failed restore.
fn failing_jobs(
    input: &StatusInput<'_>,
    t: &Tenant,
    last_success: &BTreeMap<String, i64>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(w) = input.workloads.get(&t.cluster) {
        for job in &w.jobs {
            if str_at(job, &format!("/metadata/labels/{}", esc(TENANT_LABEL))) != Some(&t.name)
                || str_at(job, "/metadata/namespace") != Some(&t.namespace)
            {
                continue;
            }
            let (state, at, _) = job_outcome(job);
            if state != RestoreState::Failed {
                continue;
            }
            let schedule = str_at(job, &format!("/metadata/labels/{}", esc(SCHEDULE_LABEL)));
            let failed_at = at
                .as_deref()
                .and_then(|s| parse_rfc3339(s).ok())
                .or_else(|| time_at(job, "/metadata/creationTimestamp"))
                .unwrap_or(0);
            if let Some(s) = schedule {
                if last_success.get(s).is_some_and(|ok| *ok >= failed_at) {
                    continue;
                }
            }
            let name = str_at(job, "/metadata/name").unwrap_or("?");
            out.push(format!("Job/{}/{name}", t.namespace));
        }
    }
    for r in restores_of(input.plan, t) {
        if r.state == RestoreState::Failed && r.in_config {
            let job = r.job.to_string();
            if !out.contains(&job) {
                out.push(job);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn restores_of<'p>(plan: &'p Plan, t: &Tenant) -> impl Iterator<Item = &'p RestoreStatus> {
    let (cluster, name) = (t.cluster.clone(), t.name.clone());
    plan.restores
        .iter()
        .filter(move |r| r.cluster == cluster && r.tenant == name)
}

/// Schedules (not paused, in UTC) whose next run after their last success (or after the
/// CronJob was created) is more than an hour past: how long past.
fn overdue_backups(
    input: &StatusInput<'_>,
    t: &Tenant,
    owned: &[(ObjectRef, Value)],
    last_success: &BTreeMap<String, i64>,
) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for s in &t.schedules {
        if s.paused || t.database.paused {
            continue;
        }
        let Ok(cron) = parse_cron(&s.cron) else {
            continue;
        };

        let created = owned
            .iter()
            .find(|(id, _)| id.kind == "CronJob" && id.name == format!("backup-{}", s.name))
            .and_then(|(_, o)| time_at(o, "/metadata/creationTimestamp"));
        let Some(since) = last_success.get(&s.name).copied().or(created) else {
            continue;
        };
        if let Some(due) = cron.next_run(since, s.timezone.as_deref()) {
            let late = input.now - due;
            if late > 3600 {
                out.push((s.name.clone(), late));
            }
        }
    }
    out
}

/// Where a resolved value came from, for `show tenant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The setting, as in the tenant file: `quota.cpu`, `database.replicas`.
    pub key: String,
    /// Its value.
    pub value: String,
    /// `tenant`, `tier`, `platform` or `builtin`.
    pub origin: Origin,
    /// `file:line` of the value, when it is written in a file.
    pub location: Option<String>,
}

/// The live state of one object of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectState {
    /// `Kind/namespace/name`.
    pub address: String,
    /// `up to date`, `drifted`, `missing`, `to create`, `to update`, `to replace`,
    /// `to delete`, `blocked`, `conflict`, `unknown`.
    pub state: String,
}

/// A database Pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodState {
    /// Pod name.
    pub name: String,
    /// `status.phase`.
    pub phase: Option<String>,
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// Container restarts.
    pub restarts: u64,
}

/// One resource of the tenant's ResourceQuota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaUse {
    /// Resource name: `requests.cpu`, `pods`, ...
    pub resource: String,
    /// `status.used`.
    pub used: Option<String>,
    /// `status.hard`, else `spec.hard`.
    pub hard: Option<String>,
}

/// One backup schedule, configured and live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupState {
    /// Schedule name.
    pub schedule: String,
    /// Cron expression.
    pub cron: String,
    /// Time zone of the cron expression.
    pub timezone: Option<String>,
    /// Backup location.
    pub location: String,
    /// Suspended.
    pub paused: bool,
    /// Retention, as written: `keep_last = 14, keep_within = 30d`.
    pub retention: String,
    /// `status.lastSuccessfulTime` of its CronJob.
    pub last_success: Option<String>,
    /// `status.lastScheduleTime` of its CronJob.
    pub last_schedule: Option<String>,
    /// The next run (UTC schedules that are not paused), RFC 3339.
    pub next_run: Option<String>,
}

/// Everything `berth show tenant` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantDetails {
    /// The status line.
    pub status: TenantStatus,
    /// Display name.
    pub display_name: String,
    /// Tier.
    pub tier: String,
    /// Resolved settings and where they came from.
    pub settings: Vec<Setting>,
    /// Its objects and their live state.
    pub objects: Vec<ObjectState>,
    /// Database Pods.
    pub pods: Vec<PodState>,
    /// Quota usage.
    pub quota: Vec<QuotaUse>,
    /// Backup schedules.
    pub backups: Vec<BackupState>,
    /// Restores.
    pub restores: Vec<RestoreStatus>,
    /// Plan warnings about the tenant.
    pub warnings: Vec<Warning>,
}

/// `file:line` of `key` (a dotted path) in `file` of `tree`, when the key is written there.
fn locate(tree: &SourceTree, file: &str, key: &str) -> Option<String> {
    let text: Arc<str> = tree
        .platform
        .iter()
        .chain(&tree.tenants)
        .chain(&tree.backups)
        .find(|f| f.path == file)?
        .text
        .clone();
    let spans = crate::spec::load::SpanIndex::of(text.clone());
    let range = spans.key(key)?;
    let (line, _) = crate::diag::line_col(&text, range.start);
    Some(format!("{file}:{line}"))
}

/// The details of tenant `t`: its status, settings with their origins, objects, Pods, quota,
/// backups and restores.
pub fn tenant_details(
    input: &StatusInput<'_>,
    t: &Tenant,
    rendered: &Rendered,
    tree: &SourceTree,
) -> TenantDetails {
    let status = tenant_status(input, t);
    let reachable = status.error.is_none();
    let setting = |key: &str,
                   value: String,
                   origin: Origin,
                   tier_key: Option<&str>,
                   platform_key: Option<&str>| {
        let location = match origin {
            Origin::Tenant => locate(tree, &t.source_file, key),
            Origin::Tier => tier_key
                .and_then(|k| locate(tree, "platform.toml", &format!("tiers.{}.{k}", t.tier))),
            Origin::Platform => platform_key.and_then(|k| locate(tree, "platform.toml", k)),
            Origin::Builtin => None,
        };
        Setting {
            key: key.to_string(),
            value,
            origin,
            location,
        }
    };
    let written = |key: &str| locate(tree, &t.source_file, key).is_some();
    let q = &t.quota;
    let db = &t.database;
    let mut settings = vec![
        setting("tier", t.tier.clone(), Origin::Tenant, None, None),
        if written("cluster") {
            setting("cluster", t.cluster.clone(), Origin::Tenant, None, None)
        } else {
            setting(
                "cluster",
                t.cluster.clone(),
                Origin::Platform,
                None,
                Some("platform.default_cluster"),
            )
        },
        setting(
            "deletion_protection",
            t.deletion_protection.to_string(),
            if written("deletion_protection") {
                Origin::Tenant
            } else {
                Origin::Builtin
            },
            None,
            None,
        ),
        setting(
            "quota.cpu",
            q.cpu.value.to_string(),
            q.cpu.origin,
            Some("cpu"),
            None,
        ),
        setting(
            "quota.memory",
            q.memory.value.to_string(),
            q.memory.origin,
            Some("memory"),
            None,
        ),
        setting(
            "quota.storage",
            q.storage.value.to_string(),
            q.storage.origin,
            Some("storage"),
            None,
        ),
        setting(
            "quota.pods",
            q.pods.value.to_string(),
            q.pods.origin,
            Some("pods"),
            None,
        ),
        setting(
            "database.version",
            db.version.value.clone(),
            db.version.origin,
            None,
            Some("database.version"),
        ),
        setting(
            "database.replicas",
            db.replicas.value.to_string(),
            db.replicas.origin,
            None,
            Some("database.replicas"),
        ),
        setting(
            "database.storage",
            db.storage.value.to_string(),
            db.storage.origin,
            None,
            Some("database.storage"),
        ),
        setting(
            "database.resources.cpu",
            db.cpu.value.to_string(),
            db.cpu.origin,
            None,
            Some("database.resources.cpu"),
        ),
        setting(
            "database.resources.memory",
            db.memory.value.to_string(),
            db.memory.origin,
            None,
            Some("database.resources.memory"),
        ),
    ];
    // The tenant file's tier line for values of the tier.
    for s in &mut settings {
        if s.origin == Origin::Tier && s.location.is_none() {
            s.location = locate(tree, "platform.toml", &format!("tiers.{}", t.tier));
        }
    }

    let objects = object_states(input, t, rendered, reachable);
    let owned = owned_of(input, &t.cluster, &t.name);
    let quota = owned
        .iter()
        .filter(|(id, _)| id.kind == "ResourceQuota")
        .flat_map(|(_, o)| quota_uses(o))
        .collect();
    let pods = input
        .workloads
        .get(&t.cluster)
        .and_then(|w| w.pods.get(&t.name))
        .map(|pods| pods.iter().map(pod_state).collect())
        .unwrap_or_default();
    let backups = t
        .schedules
        .iter()
        .map(|s| {
            let live = owned
                .iter()
                .find(|(id, _)| id.kind == "CronJob" && id.name == format!("backup-{}", s.name))
                .map(|(_, o)| o);
            let next_run = if s.paused || t.database.paused {
                None
            } else {
                parse_cron(&s.cron)
                    .ok()
                    .and_then(|c| c.next_run(input.now, s.timezone.as_deref()))
                    .map(format_rfc3339)
            };
            let mut retention = Vec::new();
            if let Some(n) = s.retention.keep_last {
                retention.push(format!("keep_last = {n}"));
            }
            if let Some(w) = &s.retention.keep_within {
                retention.push(format!("keep_within = {w}"));
            }
            BackupState {
                schedule: s.name.clone(),
                cron: s.cron.clone(),
                timezone: s.timezone.clone(),
                location: s.location.name.clone(),
                paused: s.paused || t.database.paused,
                retention: if retention.is_empty() {
                    "keep everything".into()
                } else {
                    retention.join(", ")
                },
                last_success: live
                    .and_then(|o| str_at(o, "/status/lastSuccessfulTime"))
                    .map(str::to_string),
                last_schedule: live
                    .and_then(|o| str_at(o, "/status/lastScheduleTime"))
                    .map(str::to_string),
                next_run,
            }
        })
        .collect();
    TenantDetails {
        display_name: t.display_name.clone(),
        tier: t.tier.clone(),
        settings,
        objects,
        pods,
        quota,
        backups,
        restores: restores_of(input.plan, t).cloned().collect(),
        warnings: input
            .plan
            .warnings
            .iter()
            .filter(|w| w.cluster == t.cluster && w.tenant == t.name)
            .cloned()
            .collect(),
        status,
    }
}

/// The state of each object of the tenant: its rendered objects, and owned objects the plan
/// deletes.
fn object_states(
    input: &StatusInput<'_>,
    t: &Tenant,
    rendered: &Rendered,
    reachable: bool,
) -> Vec<ObjectState> {
    let live: std::collections::HashSet<&ObjectRef> = input
        .observed
        .clusters
        .get(&t.cluster)
        .map(|s| s.owned.iter().map(|o| &o.id).collect())
        .unwrap_or_default();
    let plan = input.plan;
    let mine = |c: &str, tenant: &str| c == t.cluster && tenant == t.name;
    let mut out = Vec::new();
    for d in rendered
        .objects
        .iter()
        .filter(|d| mine(&d.cluster, &d.tenant))
    {
        let change = plan
            .changes
            .iter()
            .find(|c| mine(&c.cluster, &c.tenant) && c.id == d.id);
        let drift = plan
            .drift
            .iter()
            .find(|x| mine(&x.cluster, &x.tenant) && x.id == d.id);
        let conflict = plan
            .conflicts
            .iter()
            .any(|x| mine(&x.cluster, &x.tenant) && x.id == d.id);
        let restore = plan
            .restores
            .iter()
            .find(|r| mine(&r.cluster, &r.tenant) && r.job == d.id);
        let state = if !reachable {
            "unknown".to_string()
        } else if conflict {
            "conflict (not owned by berth)".to_string()
        } else if let Some(c) = change {
            let what = match c.action {
                Action::Create if live.contains(&d.id) => "to create",
                Action::Create => "missing (to create)",
                Action::Update => "to update",
                Action::Replace => "to replace",
                Action::Delete => "to delete",
                Action::NoOp => "up to date",
            };
            let mut s = match drift {
                Some(x) if x.kind == DriftKind::Changed => format!("drifted ({what})"),
                _ => what.to_string(),
            };
            if c.blocked.is_some() {
                s.push_str(", blocked");
            }
            s
        } else if let Some(r) = restore.filter(|_| !live.contains(&d.id)) {
            format!("gone (restore {})", r.state.as_str())
        } else {
            "up to date".to_string()
        };
        out.push(ObjectState {
            address: d.id.to_string(),
            state,
        });
    }
    for c in plan
        .changes
        .iter()
        .filter(|c| mine(&c.cluster, &c.tenant) && c.action == Action::Delete)
    {
        out.push(ObjectState {
            address: c.id.to_string(),
            state: "to delete (no longer in the configuration)".into(),
        });
    }
    out
}

fn quota_uses(quota: &Value) -> Vec<QuotaUse> {
    let map = |p: &str| -> BTreeMap<String, String> {
        quota
            .pointer(p)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let s = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                        (k.clone(), s)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let spec = map("/spec/hard");
    let hard = map("/status/hard");
    let used = map("/status/used");
    let mut keys: Vec<&String> = spec.keys().chain(hard.keys()).chain(used.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| QuotaUse {
            resource: k.clone(),
            used: used.get(k).cloned(),
            hard: hard.get(k).or_else(|| spec.get(k)).cloned(),
        })
        .collect()
}

fn pod_state(pod: &Value) -> PodState {
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    let restarts = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
                .sum()
        })
        .unwrap_or(0);
    PodState {
        name: str_at(pod, "/metadata/name").unwrap_or("?").to_string(),
        phase: str_at(pod, "/status/phase").map(str::to_string),
        ready,
        restarts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(5 * 3600 + 10), "5h");
        assert_eq!(age(3 * 86_400), "3d");
        assert_eq!(age(-4), "0s");
    }

    #[test]
    fn quota_use_prefers_status_hard() {
        let q = serde_json::json!({
            "spec": {"hard": {"requests.cpu": "8", "pods": "30"}},
            "status": {"hard": {"requests.cpu": "8"}, "used": {"requests.cpu": "3500m"}},
        });
        let uses = quota_uses(&q);
        assert_eq!(uses.len(), 2);
        assert_eq!(uses[1].resource, "requests.cpu");
        assert_eq!(uses[1].used.as_deref(), Some("3500m"));
        assert_eq!(uses[0].hard.as_deref(), Some("30"));
        assert_eq!(uses[0].used, None);
    }
}
