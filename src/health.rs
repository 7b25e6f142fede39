//! One model of a tenant's health: what `berth status`, `berth show tenant`, the dashboard,
//! the daemon's metrics and apply's readiness wait all read. Pure: it takes typed live
//! objects (k8s-openapi StatefulSets, CronJobs, Jobs, Pods), what the configuration and the
//! plan say about the tenant and the time, and returns a [`TenantHealth`]: a [`State`] and
//! the [`Reason`]s for it, each of a stable kind. Views map it to their own words and
//! colours; none of them reads a status field itself.
//!
//! The rules, once:
//! - A Job has ended when the Job controller says so: a `Complete` or `Failed` condition
//!   with status `True`. Counters (`succeeded`, `failed`) are not an outcome.
//! - A StatefulSet's rollout is complete as `kubectl rollout status` decides it
//!   ([`rollout`]); one without any status (no controller reported, as on the embedded
//!   cluster) has unknown readiness, which is not a problem.
//! - A backup Job is failing when it failed after its schedule's last success; a restore is
//!   failing when its Job failed, or the plan found it failed and the configuration still
//!   asks for it.
//! - A schedule is overdue when the run due after its last success (or after its CronJob was
//!   created) is more than an hour past, unless it is paused (in the configuration, with the
//!   database, or its live CronJob suspended).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Serialize;

use crate::object::{RESTORE_LABEL, SCHEDULE_LABEL};
use crate::plan::{Plan, RestoreState};
use crate::spec::model::Tenant;
use crate::values::cron::parse_cron;

/// How late a backup may be before it is overdue, in seconds.
pub const OVERDUE_AFTER: i64 = 3600;

/// What is live of one tenant, typed: read by observe, handed in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// Whether its Namespace exists.
    pub namespace_exists: bool,
    /// Its database StatefulSets.
    pub statefulsets: Vec<StatefulSet>,
    /// Its backup CronJobs.
    pub cronjobs: Vec<CronJob>,
    /// Its Jobs: those of backup CronJobs and restores.
    pub jobs: Vec<Job>,
    /// Its database Pods, when they were read.
    pub pods: Vec<Pod>,
}

/// How the tenant's cluster was read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading<'a> {
    /// Read: these are its live objects.
    Observed(&'a Live),
    /// Its cluster could not be read: why.
    Unreachable(&'a str),
    /// Its cluster answered, but something the tenant needs could not be read: why.
    NotObserved(&'a str),
    /// Nothing was read yet (the daemon before its first look).
    NotYet,
}

/// Everything the health of one tenant is decided from.
#[derive(Debug, Clone, Copy)]
pub struct TenantInput<'a> {
    /// Its configuration; `None` for a tenant the configuration no longer has that its
    /// cluster keeps.
    pub config: Option<&'a Tenant>,
    /// Cluster.
    pub cluster: &'a str,
    /// Tenant name.
    pub tenant: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// What was read.
    pub reading: Reading<'a>,
    /// The plan of that reading: drift, warnings, restores, kept tenants.
    pub plan: Option<&'a Plan>,
    /// The changes not applied: the plan itself for the CLI, what the daemon left pending.
    pub pending: Option<&'a Plan>,
    /// Errors of the tenant's last sync (the daemon's apply failures); none for the CLI.
    pub sync_errors: usize,
    /// Now, unix seconds.
    pub now: i64,
}

/// A tenant's health, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Nothing needs attention.
    Ok,
    /// Not known: nothing read yet, or its cluster could not be read (then a reason says
    /// why).
    Unknown,
    /// Something needs attention.
    Attention,
    /// Something is broken: a failing job, a failed sync, no database replica ready.
    Failing,
}

impl State {
    /// `ok`, `unknown`, `attention`, `failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Unknown => "unknown",
            State::Attention => "attention",
            State::Failing => "failing",
        }
    }

    /// Every state, for a metric that has one series per state.
    pub const ALL: [State; 4] = [State::Ok, State::Unknown, State::Attention, State::Failing];
}

/// Why a tenant is not ok. Serialized with its stable `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Its cluster could not be read.
    ClusterUnreachable {
        /// Why.
        error: String,
    },
    /// Its cluster answered, but the tenant could not be read whole.
    NotObserved {
        /// Why.
        error: String,
    },
    /// The configuration no longer has it; its cluster keeps it.
    Removed {
        /// Since when and why, in a phrase.
        summary: String,
    },
    /// Its Namespace does not exist.
    NotApplied,
    /// The last sync failed for it.
    SyncFailed {
        /// Its errors.
        errors: usize,
    },
    /// Fewer database replicas are ready than desired.
    DatabaseNotReady {
        /// Ready.
        ready: u64,
        /// Desired.
        desired: u64,
    },
    /// Every replica is ready, but not every one runs the current revision yet.
    DatabaseRollingOut {
        /// Replicas at the current revision.
        updated: u64,
        /// Desired.
        desired: u64,
    },
    /// Objects changed outside berth.
    Drifted {
        /// How many.
        objects: usize,
    },
    /// Changes a plan has that are not applied.
    ChangesNotApplied {
        /// How many.
        changes: usize,
    },
    /// Jobs whose last run failed.
    FailingJobs {
        /// `Job/<ns>/<name>`.
        jobs: Vec<String>,
    },
    /// A credentials Secret the tenant's backups or restores read does not exist.
    MissingSecret {
        /// `Secret/<ns>/<name>`.
        secret: String,
    },
    /// Apply would destroy it, and it is not named.
    DestroyNotNamed,
    /// A backup schedule missed its run.
    BackupOverdue {
        /// The schedule.
        schedule: String,
        /// By how long, seconds.
        late_seconds: i64,
    },
    /// The tenant has no backup schedule.
    NoBackupSchedule,
}

impl Reason {
    /// The stable kind: `missing_secret`, `backup_overdue`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::ClusterUnreachable { .. } => "cluster_unreachable",
            Reason::NotObserved { .. } => "not_observed",
            Reason::Removed { .. } => "removed",
            Reason::NotApplied => "not_applied",
            Reason::SyncFailed { .. } => "sync_failed",
            Reason::DatabaseNotReady { .. } => "database_not_ready",
            Reason::DatabaseRollingOut { .. } => "database_rolling_out",
            Reason::Drifted { .. } => "drifted",
            Reason::ChangesNotApplied { .. } => "changes_not_applied",
            Reason::FailingJobs { .. } => "failing_jobs",
            Reason::MissingSecret { .. } => "missing_secret",
            Reason::DestroyNotNamed => "destroy_not_named",
            Reason::BackupOverdue { .. } => "backup_overdue",
            Reason::NoBackupSchedule => "no_backup_schedule",
        }
    }

    /// The state this reason alone puts a tenant in.
    pub fn state(&self) -> State {
        match self {
            Reason::ClusterUnreachable { .. } | Reason::NotObserved { .. } => State::Unknown,
            Reason::SyncFailed { .. } | Reason::FailingJobs { .. } => State::Failing,
            Reason::DatabaseNotReady { ready: 0, .. } => State::Failing,
            _ => State::Attention,
        }
    }

    /// Whether the tenant could not be read (the other fields of its health are empty).
    pub fn is_unread(&self) -> bool {
        self.state() == State::Unknown
    }

    /// The phrase every view prints: `database 2/3 ready`, `backup `daily` overdue by 4d`.
    pub fn phrase(&self) -> String {
        match self {
            Reason::ClusterUnreachable { .. } => "cluster unreachable".into(),
            Reason::NotObserved { .. } => "not observed".into(),
            Reason::Removed { summary } => summary.clone(),
            Reason::NotApplied => "not applied".into(),
            Reason::SyncFailed { errors } => format!("last sync failed ({errors} errors)"),
            Reason::DatabaseNotReady { ready, desired } => {
                format!("database {ready}/{desired} ready")
            }
            Reason::DatabaseRollingOut { updated, desired } => {
                format!("database rolling out ({updated}/{desired} updated)")
            }
            Reason::Drifted { objects } => format!("{objects} drifted"),
            Reason::ChangesNotApplied { changes } => format!("{changes} changes not applied"),
            Reason::FailingJobs { jobs } => {
                let n = jobs.len();
                format!("{n} failing {}", if n == 1 { "job" } else { "jobs" })
            }
            Reason::MissingSecret { secret } => format!("{secret} missing"),
            Reason::DestroyNotNamed => "apply would destroy it".into(),
            Reason::BackupOverdue {
                schedule,
                late_seconds,
            } => format!("backup `{schedule}` overdue by {}", age(*late_seconds)),
            Reason::NoBackupSchedule => "no backup schedule".into(),
        }
    }
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

/// Database replicas of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// Ready replicas; `None` when no controller reported a status.
    pub ready: Option<u64>,
    /// Desired replicas (`spec.replicas`).
    pub desired: u64,
}

/// The newest successful backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastBackup {
    /// The schedule that made it.
    pub schedule: String,
    /// When, unix seconds.
    pub at: i64,
}

/// One configured backup schedule, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleHealth {
    /// Schedule name.
    pub name: String,
    /// Paused: in the configuration, with the database, or its CronJob suspended.
    pub paused: bool,
    /// Its CronJob exists.
    pub deployed: bool,
    /// `status.lastSuccessfulTime` of its CronJob, unix seconds.
    pub last_success: Option<i64>,
    /// `status.lastScheduleTime` of its CronJob, unix seconds.
    pub last_schedule: Option<i64>,
    /// The next run, unless paused.
    pub next_run: Option<i64>,
    /// Its Jobs failing since its last success, by name.
    pub failures: Vec<String>,
    /// How long past its missed run, when overdue.
    pub overdue_by: Option<i64>,
}

/// A tenant's health: its state, the reasons for it, and the facts they were decided from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantHealth {
    /// How it is: the worst of its reasons.
    pub state: State,
    /// What needs attention, in a stable order.
    pub reasons: Vec<Reason>,
    /// Its database, when a StatefulSet was seen.
    pub database: Option<Replicas>,
    /// The newest successful backup.
    pub last_backup: Option<LastBackup>,
    /// Jobs whose last run failed: `Job/<ns>/<name>`, sorted.
    pub failing_jobs: Vec<String>,
    /// Its configured backup schedules.
    pub schedules: Vec<ScheduleHealth>,
}

impl TenantHealth {
    /// The phrases of its reasons.
    pub fn phrases(&self) -> Vec<String> {
        self.reasons.iter().map(Reason::phrase).collect()
    }

    /// Why it could not be read, when it could not.
    pub fn unread(&self) -> Option<&str> {
        self.reasons.iter().find_map(|r| match r {
            Reason::ClusterUnreachable { error } | Reason::NotObserved { error } => {
                Some(error.as_str())
            }
            _ => None,
        })
    }
}

fn secs(t: &Time) -> i64 {
    t.0.as_second()
}

fn label<'m>(meta: &'m ObjectMeta, key: &str) -> Option<&'m str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

/// How a StatefulSet's rollout stands, read from its status as `kubectl rollout status`
/// reads it (kubectl's `StatefulSetStatusViewer`): complete when the controller has seen the
/// current spec (`status.observedGeneration` not behind `metadata.generation`), every replica
/// is ready, and every replica runs the current revision (`status.updatedReplicas` reaches
/// `spec.replicas` minus the partition, and without a partition `status.updateRevision`
/// equals `status.currentRevision`). Ready pods of the old template are not a finished
/// rollout: the controller replaces them one by one after they were counted ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    /// `status.readyReplicas`.
    pub ready: u64,
    /// `spec.replicas`.
    pub desired: u64,
    /// `status.updatedReplicas`.
    pub updated: u64,
    /// Whether a controller reported any status.
    pub reported: bool,
    /// Whether the rollout is complete.
    pub complete: bool,
}

fn count(n: Option<i32>) -> u64 {
    n.map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

/// The rollout of `sts`; see [`Rollout`].
pub fn rollout(sts: &StatefulSet) -> Rollout {
    let spec = sts.spec.as_ref();
    let status = sts.status.as_ref();
    let desired = spec.and_then(|s| s.replicas).map_or(1, |n| count(Some(n)));
    let ready = count(status.and_then(|s| s.ready_replicas));
    let updated = count(status.and_then(|s| s.updated_replicas));
    let observed = match (
        sts.metadata.generation,
        status.and_then(|s| s.observed_generation),
    ) {
        (Some(g), Some(o)) => o >= g,
        (Some(_), None) => false,
        _ => true,
    };
    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    let rolling = strategy
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    let partition = strategy
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .filter(|p| *p > 0)
        .map(|p| count(Some(p)));
    // OnDelete: pods change only when someone deletes them; there is no rollout to wait for.
    let updated_enough = !rolling
        || match partition {
            Some(partition) => updated >= desired.saturating_sub(partition),
            None => {
                updated >= desired
                    && status.and_then(|s| s.update_revision.as_deref())
                        == status.and_then(|s| s.current_revision.as_deref())
            }
        };
    Rollout {
        ready,
        desired,
        updated,
        reported: status.is_some_and(|s| *s != Default::default()),
        complete: observed && ready >= desired && updated_enough,
    }
}

/// How a Job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Not ended (or not started).
    Running,
    /// Its `Complete` condition is `True`.
    Succeeded,
    /// Its `Failed` condition is `True`.
    Failed,
}

/// A Job's outcome, as the Job controller reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    /// Running, succeeded or failed.
    pub state: JobState,
    /// When it ended (succeeded, failed) or started (running), unix seconds, when known.
    pub at: Option<i64>,
    /// Why it failed: the condition's message, else its reason.
    pub message: Option<String>,
}

/// The outcome of `job`: a `Complete` or `Failed` condition with status `True` ends it.
pub fn job_run(job: &Job) -> JobRun {
    let status = job.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    for c in conditions.iter().filter(|c| c.status == "True") {
        let at = c.last_transition_time.as_ref().map(secs);
        match c.type_.as_str() {
            "Complete" => {
                return JobRun {
                    state: JobState::Succeeded,
                    at: status
                        .and_then(|s| s.completion_time.as_ref())
                        .map(secs)
                        .or(at),
                    message: None,
                }
            }
            "Failed" => {
                return JobRun {
                    state: JobState::Failed,
                    at,
                    message: c.message.clone().or_else(|| c.reason.clone()),
                }
            }
            _ => {}
        }
    }
    JobRun {
        state: JobState::Running,
        at: status
            .and_then(|s| s.start_time.as_ref())
            .or(job.metadata.creation_timestamp.as_ref())
            .map(secs),
        message: None,
    }
}

/// The schedule a CronJob or Job belongs to: its [`SCHEDULE_LABEL`].
pub fn schedule_of(meta: &ObjectMeta) -> Option<&str> {
    label(meta, SCHEDULE_LABEL)
}

/// The restore a Job runs: its [`RESTORE_LABEL`].
pub fn restore_of(meta: &ObjectMeta) -> Option<&str> {
    label(meta, RESTORE_LABEL)
}

/// Whether a Pod's `Ready` condition is `True`.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Container restarts of a Pod.
pub fn pod_restarts(pod: &Pod) -> u64 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| count(Some(c.restart_count))).sum())
        .unwrap_or(0)
}

/// The schedule of a live CronJob: its label, else its name.
fn cron_schedule(c: &CronJob) -> &str {
    schedule_of(&c.metadata)
        .or(c.metadata.name.as_deref())
        .unwrap_or("")
}

/// The health of one tenant.
pub fn assess(input: &TenantInput<'_>) -> TenantHealth {
    let mut health = TenantHealth {
        state: State::Ok,
        reasons: Vec::new(),
        database: None,
        last_backup: None,
        failing_jobs: Vec::new(),
        schedules: Vec::new(),
    };
    let mine = |cluster: &str, tenant: &str| cluster == input.cluster && tenant == input.tenant;
    let kept = input
        .plan
        .and_then(|p| p.kept.iter().find(|k| mine(&k.cluster, &k.tenant)));
    let live = match input.reading {
        Reading::Unreachable(e) => {
            health.reasons.push(Reason::ClusterUnreachable {
                error: e.to_string(),
            });
            health.state = State::Unknown;
            return health;
        }
        Reading::NotObserved(e) => {
            health.reasons.push(Reason::NotObserved {
                error: e.to_string(),
            });
            health.state = State::Unknown;
            return health;
        }
        Reading::NotYet => {
            health.state = State::Unknown;
            return health;
        }
        Reading::Observed(live) => live,
    };
    let unobserved = input
        .plan
        .and_then(|p| p.unobserved.iter().find(|u| mine(&u.cluster, &u.tenant)));
    if let Some(u) = unobserved {
        return assess(&TenantInput {
            reading: Reading::NotObserved(&u.reason),
            ..*input
        });
    }
    let reasons = &mut health.reasons;
    if let Some(k) = kept {
        reasons.push(Reason::Removed {
            summary: k.summary(),
        });
    } else if !live.namespace_exists {
        reasons.push(Reason::NotApplied);
    }
    if input.sync_errors > 0 {
        reasons.push(Reason::SyncFailed {
            errors: input.sync_errors,
        });
    }

    // The database.
    let mut database: Option<Replicas> = None;
    let mut rolling: Option<(u64, u64)> = None;
    for sts in &live.statefulsets {
        let r = rollout(sts);
        let d = database.get_or_insert(Replicas {
            ready: None,
            desired: 0,
        });
        d.desired += r.desired;
        if r.reported {
            d.ready = Some(d.ready.unwrap_or(0) + r.ready);
            if !r.complete {
                let (u, n) = rolling.unwrap_or((0, 0));
                rolling = Some((u + r.updated.min(r.desired), n + r.desired));
            }
        }
    }
    if let Some(Replicas {
        ready: Some(ready),
        desired,
    }) = database
    {
        if ready < desired {
            reasons.push(Reason::DatabaseNotReady { ready, desired });
        } else if let Some((updated, desired)) = rolling {
            reasons.push(Reason::DatabaseRollingOut { updated, desired });
        }
    }
    health.database = database;

    // Drift and pending changes, from the plan.
    let drifted = input.plan.map_or(0, |p| {
        p.drift
            .iter()
            .filter(|d| mine(&d.cluster, &d.tenant))
            .count()
    });
    if drifted > 0 {
        reasons.push(Reason::Drifted { objects: drifted });
    }
    let pending = input.pending.map_or(0, |p| {
        p.changes
            .iter()
            .filter(|c| mine(&c.cluster, &c.tenant))
            .count()
    });
    if pending > 0 && live.namespace_exists {
        reasons.push(Reason::ChangesNotApplied { changes: pending });
    }

    // Backups: the last success of each schedule, failing jobs.
    let mut last_success: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &live.cronjobs {
        if let Some(at) = c
            .status
            .as_ref()
            .and_then(|s| s.last_successful_time.as_ref())
        {
            last_success.insert(cron_schedule(c), secs(at));
        }
    }
    health.last_backup = last_success
        .iter()
        .max_by_key(|(_, at)| **at)
        .map(|(s, at)| LastBackup {
            schedule: s.to_string(),
            at: *at,
        });
    let mut failing: Vec<(Option<&str>, String)> = Vec::new();
    if input.config.is_some() {
        for job in &live.jobs {
            if job.metadata.namespace.as_deref() != Some(input.namespace) {
                continue;
            }
            let run = job_run(job);
            if run.state != JobState::Failed {
                continue;
            }
            let failed_at = run
                .at
                .or(job.metadata.creation_timestamp.as_ref().map(secs))
                .unwrap_or(0);
            let schedule = schedule_of(&job.metadata);
            if schedule.is_some_and(|s| last_success.get(s).is_some_and(|ok| *ok >= failed_at)) {
                continue;
            }
            let name = job.metadata.name.as_deref().unwrap_or("?");
            failing.push((schedule, name.to_string()));
        }
    }
    let mut failing_jobs: Vec<String> = failing
        .iter()
        .map(|(_, n)| format!("Job/{}/{n}", input.namespace))
        .collect();
    if input.config.is_some() {
        for r in input.plan.into_iter().flat_map(|p| &p.restores) {
            if mine(&r.cluster, &r.tenant) && r.state == RestoreState::Failed && r.in_config {
                failing_jobs.push(r.job.to_string());
            }
        }
    }
    failing_jobs.sort();
    failing_jobs.dedup();
    if !failing_jobs.is_empty() {
        reasons.push(Reason::FailingJobs {
            jobs: failing_jobs.clone(),
        });
    }
    health.failing_jobs = failing_jobs;

    // Plan warnings.
    for w in input
        .plan
        .into_iter()
        .flat_map(|p| &p.warnings)
        .filter(|w| mine(&w.cluster, &w.tenant))
    {
        match (&w.object, w.kind.as_str()) {
            (Some(o), "missing_secret") => reasons.push(Reason::MissingSecret {
                secret: o.to_string(),
            }),
            (_, "destroy_not_named") => reasons.push(Reason::DestroyNotNamed),
            _ => {}
        }
    }

    // Schedules: overdue, and none at all.
    if let Some(t) = input.config {
        for s in &t.schedules {
            let cron = live.cronjobs.iter().find(|c| {
                cron_schedule(c) == s.name
                    || c.metadata.name.as_deref() == Some(&format!("backup-{}", s.name))
            });
            let suspended = cron
                .and_then(|c| c.spec.as_ref())
                .and_then(|s| s.suspend)
                .unwrap_or(false);
            let paused = s.paused || t.database.paused || suspended;
            let status = cron.and_then(|c| c.status.as_ref());
            let ok = last_success.get(s.name.as_str()).copied();
            let parsed = parse_cron(&s.cron).ok();
            let overdue_by = if paused {
                None
            } else {
                let since = ok.or(cron
                    .and_then(|c| c.metadata.creation_timestamp.as_ref())
                    .map(secs));
                parsed
                    .as_ref()
                    .zip(since)
                    .and_then(|(c, since)| c.next_run(since, s.timezone.as_deref()))
                    .map(|due| input.now - due)
                    .filter(|late| *late > OVERDUE_AFTER)
            };
            if let Some(late) = overdue_by {
                reasons.push(Reason::BackupOverdue {
                    schedule: s.name.clone(),
                    late_seconds: late,
                });
            }
            health.schedules.push(ScheduleHealth {
                name: s.name.clone(),
                paused,
                deployed: cron.is_some(),
                last_success: ok,
                last_schedule: status.and_then(|s| s.last_schedule_time.as_ref()).map(secs),
                next_run: if paused {
                    None
                } else {
                    parsed.and_then(|c| c.next_run(input.now, s.timezone.as_deref()))
                },
                failures: failing
                    .iter()
                    .filter(|(sched, _)| *sched == Some(s.name.as_str()))
                    .map(|(_, n)| n.clone())
                    .collect(),
                overdue_by,
            });
        }
        if t.schedules.is_empty() {
            reasons.push(Reason::NoBackupSchedule);
        }
    }
    health.state = health
        .reasons
        .iter()
        .map(Reason::state)
        .max()
        .unwrap_or(State::Ok);
    health
}

/// The typed live objects of tenant `tenant` in `namespace` among `owned` (what observe
/// listed of a cluster) and `jobs` and `pods` (what it read of the tenant's workloads): the
/// Namespace, StatefulSets, CronJobs and Jobs (owned restore Jobs and the tenant's other
/// Jobs, once each). An object k8s-openapi cannot read is left out.
pub fn live_of<'a>(
    owned: impl IntoIterator<Item = &'a crate::observe::LiveObject>,
    tenant: &str,
    namespace: &str,
    jobs: &[Job],
    pods: &[Pod],
) -> Live {
    let mut live = Live::default();
    for o in owned {
        if o.tenant() != tenant {
            continue;
        }
        match o.id.kind.as_str() {
            "Namespace" if o.id.name == namespace => live.namespace_exists = true,
            "StatefulSet" => live.statefulsets.extend(typed(o)),
            "CronJob" => live.cronjobs.extend(typed(o)),
            "Job" => live.jobs.extend(typed(o)),
            _ => {}
        }
    }
    for j in jobs {
        let same = |k: &Job| {
            k.metadata.name == j.metadata.name && k.metadata.namespace == j.metadata.namespace
        };
        if j.metadata.namespace.as_deref() == Some(namespace)
            && label(&j.metadata, crate::object::TENANT_LABEL) == Some(tenant)
        {
            match live.jobs.iter_mut().find(|k| same(k)) {
                Some(k) => *k = j.clone(),
                None => live.jobs.push(j.clone()),
            }
        }
    }
    live.jobs
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    live.pods = pods.to_vec();
    live
}

/// A live object read into its k8s-openapi type.
pub fn typed<T: serde::de::DeserializeOwned>(o: &crate::observe::LiveObject) -> Option<T> {
    serde_json::from_str(o.text()).ok()
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
