//! What `berth status` and `berth show tenant` report: each tenant's health and details from
//! a plan and what observe read. Pure: no I/O, the time is passed in.
//!
//! Health (readiness, backups, failing jobs, overdue schedules, missing Secrets, drift and
//! pending changes) is [`crate::health`]'s, the model the dashboard, the daemon's metrics and
//! apply's wait read too; this module only lays it out, with the revision from the tenant
//! Namespace's [`REVISION_ANNOTATION`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::health::{self, Live, Reading, Reason, State, TenantHealth, TenantInput};
use crate::object::{ObjectRef, REVISION_ANNOTATION};
use crate::observe::{LiveObject, Observed, Workloads};
use crate::plan::{Action, DriftKind, Plan, RestoreStatus, Warning};
use crate::render::Rendered;
use crate::source::SourceTree;
use crate::spec::model::{Config, Origin, Tenant};
use crate::values::time::format_rfc3339;

pub use crate::health::age;

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
    /// Its health, by [`crate::health`].
    pub state: State,
    /// Why it is not ok, each of a stable kind.
    pub reasons: Vec<Reason>,
    /// What needs attention, one phrase each (of `reasons`); empty when all is well.
    pub problems: Vec<String>,
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

/// The owned live objects of a tenant on its cluster.
fn owned_of<'i>(
    input: &'i StatusInput<'_>,
    cluster: &str,
    tenant: &'i str,
) -> impl Iterator<Item = &'i LiveObject> + 'i {
    input
        .observed
        .clusters
        .get(cluster)
        .into_iter()
        .flat_map(|s| &s.owned)
        .filter(move |o| o.tenant() == tenant)
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
    let mut st = status_of(input, &who, None).0;
    st.removed = Some(k.summary());
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
    status_of(input, &who_of(t), Some(t)).0
}

fn who_of(t: &Tenant) -> Who<'_> {
    Who {
        name: &t.name,
        cluster: &t.cluster,
        namespace: &t.namespace,
        replicas: u64::from(t.database.replicas.value),
    }
}

/// The typed live objects of `who`: owned objects, its Jobs and database Pods.
pub fn live_of(input: &StatusInput<'_>, cluster: &str, tenant: &str, namespace: &str) -> Live {
    let w = input.workloads.get(cluster);
    health::live_of(
        owned_of(input, cluster, tenant),
        tenant,
        namespace,
        w.map(|w| w.jobs.as_slice()).unwrap_or_default(),
        w.and_then(|w| w.pods.get(tenant))
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
}

/// The health of `who` by [`crate::health::assess`], and what it was decided from.
fn health_of(
    input: &StatusInput<'_>,
    who: &Who<'_>,
    t: Option<&Tenant>,
) -> (TenantHealth, Option<Live>) {
    let error = cluster_error(input, who.cluster);
    let live = error
        .is_none()
        .then(|| live_of(input, who.cluster, who.name, who.namespace));
    let reading = match (&error, &live) {
        (_, Some(live)) => Reading::Observed(live),
        (Some(e), None) => Reading::Unreachable(e),
        (None, None) => Reading::NotYet,
    };
    let health = health::assess(&TenantInput {
        config: t,
        cluster: who.cluster,
        tenant: who.name,
        namespace: who.namespace,
        reading,
        plan: Some(input.plan),
        pending: Some(input.plan),
        sync_errors: 0,
        now: input.now,
    });
    (health, live)
}

/// The status of `who`; `t`, its configuration, when it has one (backups are read only
/// then). Also its health and live objects, for the details.
fn status_of(
    input: &StatusInput<'_>,
    who: &Who<'_>,
    t: Option<&Tenant>,
) -> (TenantStatus, TenantHealth, Option<Live>) {
    let (health, live) = health_of(input, who, t);
    let mine = |c: &str, tenant: &str| c == who.cluster && tenant == who.name;
    let mut st = TenantStatus {
        tenant: who.name.to_string(),
        cluster: who.cluster.to_string(),
        namespace: who.namespace.to_string(),
        error: health.unread().map(str::to_string),
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
        state: health.state,
        reasons: health.reasons.clone(),
        problems: health.phrases(),
    };
    if st.error.is_some() {
        return (st, health, live);
    }
    st.exists = live.as_ref().is_some_and(|l| l.namespace_exists);
    st.revision = owned_of(input, who.cluster, who.name)
        .find(|o| o.id.kind == "Namespace" && o.id.name == who.namespace)
        .and_then(|o| o.annotation(REVISION_ANNOTATION));
    if let Some(d) = health.database {
        st.database = Replicas {
            ready: d.ready,
            desired: d.desired,
        };
    }
    st.last_backup = health.last_backup.as_ref().map(|b| LastBackup {
        schedule: b.schedule.clone(),
        at: format_rfc3339(b.at),
        age_seconds: input.now - b.at,
    });
    st.drifted = input
        .plan
        .drift
        .iter()
        .filter(|d| mine(&d.cluster, &d.tenant))
        .count();
    st.pending_changes = input
        .plan
        .changes
        .iter()
        .filter(|c| mine(&c.cluster, &c.tenant))
        .count();
    st.failing_jobs = health.failing_jobs.clone();
    (st, health, live)
}

fn restores_of<'p>(plan: &'p Plan, t: &Tenant) -> impl Iterator<Item = &'p RestoreStatus> {
    let (cluster, name) = (t.cluster.clone(), t.name.clone());
    plan.restores
        .iter()
        .filter(move |r| r.cluster == cluster && r.tenant == name)
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
    let (status, health, live) = status_of(input, &who_of(t), Some(t));
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
    let quota = owned_of(input, &t.cluster, &t.name)
        .filter(|o| o.id.kind == "ResourceQuota")
        .flat_map(|o| quota_uses(&o.manifest()))
        .collect();
    let pods = live.iter().flat_map(|l| &l.pods).map(pod_state).collect();
    let backups = t
        .schedules
        .iter()
        .map(|s| {
            let live = health.schedules.iter().find(|h| h.name == s.name);
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
                paused: live.map_or(s.paused || t.database.paused, |l| l.paused),
                retention: if retention.is_empty() {
                    "keep everything".into()
                } else {
                    retention.join(", ")
                },
                last_success: live.and_then(|l| l.last_success).map(format_rfc3339),
                last_schedule: live.and_then(|l| l.last_schedule).map(format_rfc3339),
                next_run: live.and_then(|l| l.next_run).map(format_rfc3339),
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

fn pod_state(pod: &k8s_openapi::api::core::v1::Pod) -> PodState {
    PodState {
        name: pod.metadata.name.clone().unwrap_or_else(|| "?".into()),
        phase: pod.status.as_ref().and_then(|s| s.phase.clone()),
        ready: health::pod_ready(pod),
        restarts: health::pod_restarts(pod),
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
