//! The reconcile loop: one thread that owns the source and the last good configuration, and
//! runs syncs (load, validate, plan, apply) and drift checks one at a time, as triggers and
//! timers ask. Results go into the shared [`Status`]; nothing here prints.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::status::{ClusterStatus, Status, SyncRecord, SyncResult, TenantStatus};
use super::{DaemonSource, Polled, Shared, Trigger};
use crate::apply::{self, ApplyOptions, ChangeSet, Outcome};
use crate::diag;
use crate::observe::metrics::{observe_pod_metrics, PodMetrics};
use crate::observe::Prelisted;
use crate::pipeline::{self, Observation, Scope};
use crate::plan::Action;
use crate::render::Rendered;
use crate::source::CommitInfo;
use crate::spec::model::Config;
use crate::spec::types::DriftMode;
use crate::values::time::{format_rfc3339, now_unix};

/// The revision that validated last: what drift checks compare against.
struct Good {
    revision: String,
    /// Its commit, for a Git source.
    commit: Option<CommitInfo>,
    config: Config,
    rendered: Rendered,
    /// [`crate::render::input_digests`] of every tenant, recorded by apply.
    digests: BTreeMap<String, String>,
}

/// Timers of the loop.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Source polling interval.
    pub interval: Duration,
    /// Drift check interval.
    pub drift_interval: Duration,
    /// Fraction of `interval` added or removed at random, so that replicas and daemons of
    /// many platforms do not poll a forge in step.
    pub jitter: f64,
}

/// Owns the source and runs syncs.
pub struct Reconciler {
    source: DaemonSource,
    scope: Scope,
    shared: Arc<Shared>,
    good: Option<Good>,
    /// The last revision synced, and whether that sync left nothing to retry.
    last: Option<(String, bool)>,
    runtime: tokio::runtime::Runtime,
    /// The leader election task: its cluster, handle and stop flag.
    lease_task: Option<LeaseTask>,
    /// The last look at the source failed.
    source_failing: bool,
    /// Kubernetes clients (and their discovery) kept from one cycle to the next.
    backends: crate::cluster::BackendCache,
}

struct LeaseTask {
    cluster: String,
    handle: tokio::task::JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Reconciler {
    /// A reconciler with its own runtime for cluster I/O.
    pub fn new(
        source: DaemonSource,
        scope: Scope,
        shared: Arc<Shared>,
    ) -> std::io::Result<Reconciler> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("berth-reconcile")
            .enable_all()
            .build()?;
        Ok(Reconciler {
            source,
            scope,
            shared,
            good: None,
            last: None,
            runtime,
            lease_task: None,
            source_failing: false,
            backends: crate::cluster::BackendCache::default(),
        })
    }

    /// Runs until a [`Trigger::Shutdown`] arrives or every sender is gone. A sync in progress
    /// always finishes first.
    pub fn run(mut self, triggers: Receiver<Trigger>, timing: Timing) {
        self.sync("startup");
        self.shared.ready.store(true, Ordering::SeqCst);
        let mut next_poll = Instant::now() + jittered(timing.interval, timing.jitter);
        let mut next_drift = Instant::now() + timing.drift_interval;
        // A sync that left work (a cluster down, a failed write) is retried on its own, sooner
        // than the next poll: after 5 s, doubled for each failed sync in a row, at most the
        // poll interval, and not before the first failing cluster's backoff has passed.
        let mut failed_syncs = 0u32;
        let mut next_retry = self.retry_after_sync(&mut failed_syncs, timing.interval);
        loop {
            let now = Instant::now();
            let deadline = next_poll
                .min(next_drift)
                .min(next_retry.unwrap_or(next_poll));
            match triggers.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(Trigger::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(first) => {
                    // Coalesce whatever else is queued into this one sync.
                    let mut shutdown = false;
                    let mut why = first.name();
                    while let Ok(more) = triggers.try_recv() {
                        match more {
                            Trigger::Shutdown => shutdown = true,
                            Trigger::Webhook => why = more.name(),
                            _ => {}
                        }
                    }
                    self.sync(why);
                    if shutdown {
                        break;
                    }
                    next_poll = Instant::now() + jittered(timing.interval, timing.jitter);
                    next_retry = self.retry_after_sync(&mut failed_syncs, timing.interval);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= next_poll {
                        self.sync("poll");
                        next_poll = Instant::now() + jittered(timing.interval, timing.jitter);
                        next_retry = self.retry_after_sync(&mut failed_syncs, timing.interval);
                    } else if next_retry.is_some_and(|r| Instant::now() >= r) {
                        self.sync("retry");
                        next_retry = self.retry_after_sync(&mut failed_syncs, timing.interval);
                    }
                    if Instant::now() >= next_drift {
                        self.drift_check();
                        next_drift = Instant::now() + timing.drift_interval;
                    }
                }
            }
        }
        self.stop_lease();
        self.shared.dashboard.save_usage();
        tracing::info!("reconcile loop stopped");
    }

    /// When to sync again after the sync that just ended: `None` when it left nothing to
    /// retry; otherwise after [`crate::cluster::BackendCache::BASE_BACKOFF`], doubled for
    /// each failed sync in a row (`failed_syncs`), at most `interval`, and not before a
    /// failing cluster's own backoff has passed.
    fn retry_after_sync(&self, failed_syncs: &mut u32, interval: Duration) -> Option<Instant> {
        if !matches!(&self.last, Some((_, false))) {
            *failed_syncs = 0;
            return None;
        }
        *failed_syncs += 1;
        let backoff = crate::cluster::BackendCache::BASE_BACKOFF
            .saturating_mul(1 << (*failed_syncs - 1).min(16))
            .min(interval);
        let delay = backoff.max(self.backends.next_attempt_in().unwrap_or_default());
        tracing::info!(
            ?delay,
            failed_syncs = *failed_syncs,
            "the sync left work; retrying"
        );
        Some(Instant::now() + delay)
    }

    /// Starts leader election on the cluster that holds the lease (again when that cluster
    /// changed), trying once at once so that a lone replica applies its first sync.
    fn ensure_lease(&mut self, config: &Config) {
        let Some(election) = self.shared.leader_election.clone() else {
            return;
        };
        let name = match (&election.cluster, config.clusters.len()) {
            (Some(c), _) => c.clone(),
            (None, 1) => config.clusters.keys().next().cloned().unwrap_or_default(),
            (None, _) => {
                tracing::error!("leader election needs --lease-cluster: platform.toml has several clusters; not applying");
                self.shared.leader.store(false, Ordering::SeqCst);
                return;
            }
        };
        if self.lease_task.as_ref().is_some_and(|t| t.cluster == name) {
            return;
        }
        self.stop_lease();
        let Some(cluster) = config.clusters.get(&name) else {
            tracing::error!(cluster = %name, "the lease cluster is not in platform.toml; not applying");
            return;
        };
        let settings = self.scope.cluster_settings();
        let backend = match self
            .runtime
            .block_on(crate::cluster::connect(cluster, &settings))
        {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(cluster = %name, error = %e, "cannot connect to the lease cluster; not applying");
                return;
            }
        };
        let leads = self
            .runtime
            .block_on(super::lease::try_acquire(&backend, &election.lease))
            .unwrap_or(false);
        self.shared.leader.store(leads, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let handle = self.runtime.spawn(super::lease::run(
            backend,
            election.lease,
            self.shared.leader.clone(),
            stop.clone(),
            super::lease::Relay {
                pending: self.shared.relay_pending.clone(),
                triggers: self.shared.triggers.clone(),
            },
        ));
        self.lease_task = Some(LeaseTask {
            cluster: name,
            handle,
            stop,
        });
    }

    /// Stops leader election, releasing the lease if held.
    fn stop_lease(&mut self) {
        if let Some(task) = self.lease_task.take() {
            task.stop.store(true, Ordering::SeqCst);
            let _ = self
                .runtime
                .block_on(tokio::time::timeout(Duration::from_secs(5), task.handle));
        }
    }

    fn leader(&self) -> bool {
        self.shared.leader.load(Ordering::SeqCst)
    }

    /// Loads the source; on a new revision (or after a sync that left work), validates,
    /// plans and (as leader) applies it. An invalid revision is never applied, not in part:
    /// the last good one stays in force.
    pub fn sync(&mut self, trigger: &str) {
        let started = Instant::now();
        self.restart_retry_budget();
        let started_at = format_rfc3339(now_unix());
        let mut record = SyncRecord {
            revision: None,
            trigger: trigger.to_string(),
            started_at,
            duration_seconds: 0.0,
            result: SyncResult::NoChanges,
            added: 0,
            changed: 0,
            destroyed: 0,
            failed: 0,
            drifted: 0,
            errors: Vec::new(),
            author: None,
            message: None,
        };
        let known = match &self.last {
            Some((rev, true)) if trigger != "startup" => Some(rev.clone()),
            _ => None,
        };
        let (revision, tree) = match self.source.poll(known.as_deref()) {
            Ok(Polled::Unchanged(revision)) => {
                tracing::debug!(%revision, "no new revision");
                if self.source_failing {
                    // Reachable again: say so, the revision in force is unchanged.
                    self.source_failing = false;
                    record.revision = Some(revision);
                    self.finish(record, started, |_| {});
                }
                return;
            }
            Ok(Polled::Read(revision, tree)) => (revision, tree),
            Err(e) => {
                tracing::error!(source = %self.source.describe(), error = %e, "cannot read the config source; keeping the last good state");
                record.result = SyncResult::SourceError;
                record.errors.push(e.to_string());
                self.source_failing = true;
                self.finish(record, started, |c| c.error("source"));
                return;
            }
        };
        self.source_failing = false;
        record.revision = Some(revision.clone());
        set_commit(&mut record, tree.commit.as_ref());
        self.shared.status.write().unwrap().seen_revision = Some(revision.clone());
        if known.as_deref() == Some(revision.as_str()) {
            tracing::debug!(%revision, "no new revision");
            return;
        }

        // Validate; then render while the clusters are listed, when connecting writes
        // nothing (as `berth plan` does).
        let mut validated = pipeline::validate(&tree);
        let mut ahead = None;
        if let Some(config) = &validated.load.config {
            if pipeline::connecting_writes_nothing(config, &self.scope) {
                let (runtime, scope) = (&self.runtime, &self.scope);
                match runtime.block_on(pipeline::connect_with(config, scope, &mut self.backends)) {
                    Ok(connected) => {
                        let (rendered, prelisted) = pipeline::render_beside_prelist(
                            &mut validated,
                            &[],
                            runtime,
                            scope,
                            &connected,
                        );
                        ahead = Some((connected, prelisted, rendered));
                    }
                    // Said by the observation below, which connects again.
                    Err(e) => tracing::debug!(error = %e, "cannot connect ahead of rendering"),
                }
            }
        }
        let (ahead, rendered) = match ahead {
            Some((connected, prelisted, rendered)) => (Some((connected, prelisted)), rendered),
            None => (None, pipeline::render_tenants(&mut validated, &[])),
        };
        let (load, templates) = (validated.load, validated.templates);
        let (Some(config), Some(rendered), Some(templates)) = (load.config, rendered, templates)
        else {
            record.result = SyncResult::Invalid;
            record.errors = load
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| diag::one_line(d, &load.sources))
                .collect();
            tracing::error!(%revision, errors = record.errors.len(), "revision is invalid; nothing of it is applied, the last good revision stays in force");
            for e in &record.errors {
                tracing::error!(%revision, "{e}");
            }
            // Not retried until the source changes.
            self.last = Some((revision, true));
            self.finish(record, started, |c| c.error("validation"));
            return;
        };

        self.ensure_lease(&config);
        let digests = crate::render::input_digests(&config, &templates, None);
        let good = Good {
            revision: revision.clone(),
            commit: tree.commit.clone(),
            config,
            rendered,
            digests,
        };
        let done = self.reconcile(&good, &mut record, false, ahead);
        self.shared.status.write().unwrap().good_revision = Some(revision.clone());
        self.good = Some(good);
        self.last = Some((revision, done));
        self.finish(record, started, |_| {});
    }

    /// Each sync and drift check is a run with the whole retry budget.
    fn restart_retry_budget(&self) {
        if let Some(budget) = &self.scope.retry.budget {
            budget.restart();
        }
    }

    /// Drift check against the last good revision: plans against live state, records the
    /// drift and, under `drift = "correct"`, applies the plan.
    pub fn drift_check(&mut self) {
        let Some(good) = self.good.take() else {
            return;
        };
        let started = Instant::now();
        self.restart_retry_budget();
        let mut record = SyncRecord {
            revision: Some(good.revision.clone()),
            trigger: "drift".into(),
            started_at: format_rfc3339(now_unix()),
            duration_seconds: 0.0,
            result: SyncResult::NoChanges,
            added: 0,
            changed: 0,
            destroyed: 0,
            failed: 0,
            drifted: 0,
            errors: Vec::new(),
            author: None,
            message: None,
        };
        set_commit(&mut record, good.commit.as_ref());
        let correct = good.config.policy.drift == DriftMode::Correct;
        self.reconcile(&good, &mut record, !correct, None);
        self.shared.status.write().unwrap().drift_checked_at = Some(format_rfc3339(now_unix()));
        self.good = Some(good);
        // A check that found nothing is not worth a history entry.
        let quiet = record.result == SyncResult::NoChanges && record.drifted == 0;
        self.shared.status.write().unwrap().counters.drift_checks += 1;
        if quiet {
            return;
        }
        self.finish(record, started, |_| {});
    }

    /// Observes, plans and (as leader, unless `report_only`) applies `good`, filling in
    /// `record` and the per-cluster and per-tenant status. Returns whether nothing is left to
    /// retry (every cluster reachable, nothing failed, or a follower that planned).
    /// `ahead`: the clusters connected and listed while `good` rendered (see `sync`).
    fn reconcile(
        &mut self,
        good: &Good,
        record: &mut SyncRecord,
        report_only: bool,
        ahead: Option<(pipeline::Connected, Prelisted)>,
    ) -> bool {
        let observed = match ahead {
            Some((connected, prelisted)) => {
                let o = self.runtime.block_on(pipeline::plan_prelisted(
                    &good.config,
                    &good.rendered,
                    &self.scope,
                    connected,
                    prelisted,
                ));
                o.update_backoff(&mut self.backends);
                Ok(o)
            }
            None => self.runtime.block_on(pipeline::observe_and_plan_with(
                &good.config,
                &good.rendered,
                &self.scope,
                &mut self.backends,
            )),
        };
        let observation = match observed {
            Ok(o) => o,
            Err(e) => {
                record.result = SyncResult::Failed;
                record.errors.push(e.to_string());
                self.shared
                    .status
                    .write()
                    .unwrap()
                    .counters
                    .error("cluster");
                return false;
            }
        };
        let Observation {
            backends,
            plan,
            observed,
            ..
        } = &observation;
        record.drifted = plan.drift.len();
        for d in &plan.drift {
            tracing::warn!(
                object = %d.id,
                cluster = %d.cluster,
                tenant = %d.tenant,
                kind = ?d.kind,
                fields = d.fields.len(),
                "drift: changed outside berth"
            );
        }
        let apply_now = !report_only && self.leader() && plan.has_changes();
        let mut opts = ApplyOptions::from_config(&good.config);
        opts.retry = self.scope.retry.clone();
        opts.revision = Some(good.revision.clone());
        opts.inputs = pipeline::tenant_inputs(&good.digests, &good.rendered, observed);
        let progress = |e: &apply::ApplyEvent| tracing::debug!("{e}");
        if !report_only && self.leader() && !plan.has_changes() && apply::records_due(plan, &opts) {
            // Nothing to change, but restores finished since (record how they ended), or
            // Namespaces do not record the inputs they are complete for.
            let records = self.runtime.block_on(apply::write_records(
                plan,
                &good.rendered,
                backends,
                &opts,
                &[],
                &progress,
            ));
            for r in &records {
                if let Outcome::Failed(m) = &r.outcome {
                    record.errors.push(m.clone());
                }
            }
        }
        let set = if apply_now {
            let set = self.runtime.block_on(apply::apply(
                plan,
                &good.rendered,
                backends,
                &opts,
                &progress,
            ));
            for (cluster, backend) in backends.iter() {
                for (request, text) in backend.take_warnings() {
                    tracing::warn!(cluster = %cluster, request = %request, "the API server warned: {text}");
                }
            }
            Some(set)
        } else {
            None
        };

        let mut unreachable: BTreeMap<&str, &str> = BTreeMap::new();
        for (cluster, message) in &plan.unreachable {
            unreachable.insert(cluster, message);
            record
                .errors
                .push(format!("cluster `{cluster}`: {message}"));
        }
        for u in &plan.unobserved {
            record.errors.push(format!(
                "tenant `{}` on cluster `{}` was not observed: {}",
                u.tenant, u.cluster, u.reason
            ));
        }
        for u in &plan.unlisted {
            record.errors.push(format!(
                "{} on cluster `{}` could not be listed: {}",
                u.kind, u.cluster, u.reason
            ));
        }
        let partial = plan.is_partial();
        record.result = match &set {
            Some(s) if s.refused.is_some() => SyncResult::Refused,
            Some(s) if !s.succeeded() => SyncResult::Failed,
            Some(_) if partial => SyncResult::Failed,
            Some(_) => SyncResult::Applied,
            None if partial => SyncResult::Failed,
            None if plan.has_changes() => SyncResult::Planned,
            None => SyncResult::NoChanges,
        };
        if let Some(s) = &set {
            // Every drifted object an apply rewrote is a correction, whatever the policy and
            // whatever triggered the apply.
            let drifted: std::collections::HashSet<(&str, &crate::object::ObjectRef)> = plan
                .drift
                .iter()
                .map(|d| (d.cluster.as_str(), &d.id))
                .collect();
            let corrected = s
                .entries
                .iter()
                .filter(|e| {
                    e.outcome == Outcome::Applied && e.action != crate::plan::Action::Delete
                })
                .filter(|e| drifted.contains(&(e.cluster.as_str(), &e.id)))
                .count() as u64;
            if corrected > 0 {
                tracing::info!(
                    corrected,
                    "drifted objects put back as the configuration says"
                );
                self.shared
                    .status
                    .write()
                    .unwrap()
                    .counters
                    .drift_corrections += corrected;
            }
            let (added, changed, destroyed, failed, _) = s.summary();
            (
                record.added,
                record.changed,
                record.destroyed,
                record.failed,
            ) = (added, changed, destroyed, failed);
            if let Some(reason) = &s.refused {
                record.errors.push(format!("apply refused: {reason}"));
            }
            for e in s.failures() {
                if let Outcome::Failed(m) = &e.outcome {
                    record.errors.push(m.clone());
                }
            }
        }
        self.update_status(good, &observation, set.as_ref(), record);
        let metrics = self.pod_metrics(&good.config, &observation);
        let jobs = self.tenant_jobs(&good.config, &observation);
        let after_apply = set
            .as_ref()
            .and_then(|s| self.observe_changed(s, &observation));
        super::dashboard::record(
            &self.shared.dashboard,
            &self.shared.status,
            &super::dashboard::Cycle {
                config: &good.config,
                observation: &observation,
                set: set.as_ref(),
                record,
                metrics: &metrics,
                jobs: &jobs,
                after_apply: after_apply.as_ref(),
            },
        );
        matches!(
            record.result,
            SyncResult::Applied | SyncResult::NoChanges | SyncResult::Planned | SyncResult::Refused
        )
    }

    /// What the tenants' pods use, from the metrics API of each observed cluster with tenants
    /// (one LIST per cluster that serves it). A cluster without the API is skipped quietly; a
    /// failure is a warning, never a failed sync.
    fn pod_metrics(
        &mut self,
        config: &Config,
        observation: &Observation,
    ) -> BTreeMap<String, PodMetrics> {
        let clusters: BTreeSet<String> = config
            .tenants
            .iter()
            .map(|t| t.cluster.clone())
            .filter(|c| {
                !observation.plan.unreachable.iter().any(|(u, _)| u == c)
                    && observation.backends.contains_key(c)
            })
            .collect();
        let metrics = self
            .runtime
            .block_on(observe_pod_metrics(&observation.backends, &clusters));
        for (cluster, m) in &metrics {
            match m {
                PodMetrics::Failed(e) => {
                    tracing::warn!(
                        %cluster,
                        error = %e,
                        "cannot read the metrics API (metrics.k8s.io); pod usage is not shown"
                    );
                    // Connect anew (and redo discovery) next time.
                    self.backends.forget(cluster);
                }
                PodMetrics::Withdrawn => {
                    tracing::debug!(%cluster, "the metrics API is gone; discovering anew");
                    self.backends.forget(cluster);
                }
                PodMetrics::NotServed => {
                    tracing::debug!(%cluster, "the cluster serves no metrics API")
                }
                PodMetrics::Read { requests, .. } => {
                    tracing::debug!(%cluster, requests, "read pod metrics")
                }
            }
        }
        metrics
    }

    /// The Jobs of the tenants (those of backup CronJobs carry the tenant's label but are not
    /// owned): one LIST per observed cluster with tenants, for the dashboard's health. A
    /// failure is a warning; the tenants' failing backups are then not known.
    fn tenant_jobs(
        &self,
        config: &Config,
        observation: &Observation,
    ) -> BTreeMap<String, crate::observe::Workloads> {
        let mut queries: BTreeMap<String, crate::observe::WorkloadQuery> = BTreeMap::new();
        for t in &config.tenants {
            let read = observation
                .observed
                .clusters
                .get(&t.cluster)
                .is_some_and(|s| s.error.is_none());
            if read && observation.backends.contains_key(&t.cluster) {
                queries
                    .entry(t.cluster.clone())
                    .or_default()
                    .job_tenants
                    .push(t.name.clone());
            }
        }
        let mut jobs = self.runtime.block_on(crate::observe::observe_workloads(
            &observation.backends,
            queries,
        ));
        for (cluster, w) in &mut jobs {
            if let Some(e) = w.error.take() {
                tracing::warn!(%cluster, error = %e, "cannot list the tenants' jobs; failing backups are not shown");
            }
        }
        jobs
    }

    /// The tenants an apply changed, observed again (the kinds the dashboard's live
    /// summaries read, one LIST each by tenant label), so that the dashboard does not show
    /// the state from before the apply until the next cycle. `None` when nothing was applied.
    /// Tenants on a cluster that cannot be read keep their summaries from before.
    fn observe_changed(
        &self,
        set: &ChangeSet,
        observation: &Observation,
    ) -> Option<(BTreeSet<String>, crate::observe::Observed)> {
        let mut changed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in &set.entries {
            if matches!(e.outcome, Outcome::Applied) && !e.tenant.is_empty() {
                changed
                    .entry(e.cluster.clone())
                    .or_default()
                    .insert(e.tenant.clone());
            }
        }
        if changed.is_empty() {
            return None;
        }
        let fresh = self.runtime.block_on(crate::observe::observe_tenants(
            &observation.backends,
            &changed,
            &super::dashboard::live::kinds(),
        ));
        let mut tenants = BTreeSet::new();
        for (cluster, names) in changed {
            match fresh.clusters.get(&cluster) {
                Some(state) if state.error.is_none() => tenants.extend(names),
                Some(state) => tracing::warn!(
                    %cluster,
                    error = state.error.as_deref().unwrap_or(""),
                    "cannot observe the tenants just changed; the dashboard shows them as before the apply"
                ),
                None => {}
            }
        }
        Some((tenants, fresh))
    }

    /// Per-cluster, per-tenant and drift status after a plan (and apply).
    fn update_status(
        &self,
        good: &Good,
        observation: &Observation,
        set: Option<&ChangeSet>,
        record: &SyncRecord,
    ) {
        let plan = &observation.plan;
        let now = format_rfc3339(now_unix());
        let mut status = self.shared.status.write().unwrap();
        let status: &mut Status = &mut status;
        let errors = &mut status.counters;
        if plan.is_partial() {
            errors.error("cluster");
        }
        if let Some(budget) = &self.scope.retry.budget {
            let totals = |m: BTreeMap<&'static str, u64>| -> BTreeMap<String, u64> {
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            };
            errors.api_retries = totals(budget.retries());
            errors.api_failures = totals(budget.failures());
        }
        if set.is_some_and(|s| !s.succeeded()) {
            errors.error("apply");
        }
        if let Some(s) = set {
            for e in &s.entries {
                if !matches!(e.outcome, Outcome::Applied) {
                    continue;
                }
                let action = match e.action {
                    Action::Create => "create",
                    Action::Update => "update",
                    Action::Replace => "replace",
                    Action::Delete => "delete",
                    Action::NoOp => continue,
                };
                *status.counters.objects.entry(action.into()).or_default() += 1;
            }
        }

        status.clusters = good
            .config
            .clusters
            .keys()
            .map(|name| {
                let error = plan
                    .unreachable
                    .iter()
                    .find(|(c, _)| c == name)
                    .map(|(_, m)| m.clone());
                let contacted = error.is_some() || observation.backends.contains_key(name);
                let cs = ClusterStatus {
                    reachable: contacted.then_some(error.is_none()),
                    error,
                    tenants: good
                        .config
                        .tenants
                        .iter()
                        .filter(|t| &t.cluster == name)
                        .count(),
                };
                (name.clone(), cs)
            })
            .collect();

        status.drifted = plan.drift.len();
        status.drifted_objects = plan.drift.iter().map(|d| d.id.to_string()).collect();
        let mut drift_by_tenant: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &plan.drift {
            *drift_by_tenant.entry(d.tenant.as_str()).or_default() += 1;
        }
        let mut failed_by_tenant: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        if let Some(s) = set {
            for e in s.failures() {
                if let Outcome::Failed(m) = &e.outcome {
                    failed_by_tenant
                        .entry(&e.tenant)
                        .or_default()
                        .push(m.clone());
                }
            }
        }
        let mut changes_by_tenant: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &plan.changes {
            if c.blocked.is_none() {
                *changes_by_tenant.entry(c.tenant.as_str()).or_default() += 1;
            }
        }
        let applied = set.is_some_and(|s| s.refused.is_none());
        let mut tenants = BTreeMap::new();
        for t in &good.config.tenants {
            let mut ts: TenantStatus = status.tenants.remove(&t.name).unwrap_or_default();
            ts.cluster = t.cluster.clone();
            ts.drifted = drift_by_tenant.get(t.name.as_str()).copied().unwrap_or(0);
            ts.errors = Vec::new();
            let unreachable = plan.unreachable.iter().find(|(c, _)| c == &t.cluster);
            let unobserved = plan
                .unobserved
                .iter()
                .find(|u| u.cluster == t.cluster && u.tenant == t.name);
            if let Some((_, m)) = unreachable {
                ts.last_result = "pending".into();
                ts.errors
                    .push(format!("cluster `{}` unreachable: {m}", t.cluster));
            } else if let Some(u) = unobserved {
                ts.last_result = "pending".into();
                ts.errors.push(format!("not observed: {}", u.reason));
            } else if let Some(errs) = failed_by_tenant.get(t.name.as_str()) {
                ts.last_result = "failed".into();
                ts.errors = errs.clone();
            } else if applied || !changes_by_tenant.contains_key(t.name.as_str()) {
                ts.last_result = "ok".into();
                if record.trigger != "drift" || applied {
                    ts.applied_revision = Some(good.revision.clone());
                    ts.applied_at = Some(now.clone());
                }
            } else {
                ts.last_result = "pending".into();
            }
            tenants.insert(t.name.clone(), ts);
        }
        // Tenants the configuration no longer has and their clusters keep: visible, with
        // since when and why, until someone decides.
        for k in &plan.kept {
            let mut ts: TenantStatus = status.tenants.remove(&k.tenant).unwrap_or_default();
            ts.cluster = k.cluster.clone();
            ts.drifted = drift_by_tenant.get(k.tenant.as_str()).copied().unwrap_or(0);
            ts.errors = Vec::new();
            ts.last_result = "kept".into();
            if ts.applied_revision.is_none() {
                ts.applied_revision = k.last_applied_revision.clone();
            }
            ts.removed = Some(k.summary());
            tenants.insert(k.tenant.clone(), ts);
        }
        status.tenants = tenants;
    }

    /// Records the end of a sync in the status (and its file).
    fn finish(
        &self,
        mut record: SyncRecord,
        started: Instant,
        count: impl FnOnce(&mut super::status::Counters),
    ) {
        record.duration_seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            revision = record.revision.as_deref().unwrap_or("-"),
            trigger = %record.trigger,
            result = record.result.as_str(),
            added = record.added,
            changed = record.changed,
            destroyed = record.destroyed,
            failed = record.failed,
            drifted = record.drifted,
            seconds = record.duration_seconds,
            "sync finished"
        );
        let mut status = self.shared.status.write().unwrap();
        count(&mut status.counters);
        if record.trigger != "drift" {
            status.counters.sync(record.result, record.duration_seconds);
        }
        status.leader = self.leader();
        if record.result.is_success() {
            status.last_success_revision = record.revision.clone();
            status.last_success_at = Some(record.started_at.clone());
            status.last_success_unix = Some(now_unix());
        }
        status.record(record);
        if let Some(path) = &self.shared.status_file {
            if let Err(e) = status.save(path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot save the daemon status");
            }
        }
    }
}

/// The commit's author and message on a sync record.
fn set_commit(record: &mut SyncRecord, commit: Option<&CommitInfo>) {
    if let Some(c) = commit {
        record.author = Some(if c.email.is_empty() {
            c.author.clone()
        } else {
            format!("{} <{}>", c.author, c.email)
        });
        record.message = Some(c.summary.clone());
    }
}

/// `base` plus or minus `fraction` of it, at random.
fn jittered(base: Duration, fraction: f64) -> Duration {
    let r = crate::apply::random_unit() * 2.0 - 1.0;
    base.mul_f64((1.0 + fraction.clamp(0.0, 1.0) * r).max(0.0))
}
