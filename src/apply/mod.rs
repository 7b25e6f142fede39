//! The `apply` stage: makes the clusters match a [`Plan`], with server-side apply.
//!
//! [`apply`] takes a plan, the rendered objects it was computed from and one [`Backend`] per
//! cluster, and returns a [`ChangeSet`]: one entry per planned change with its outcome.
//!
//! - **Guard first.** A plan that deletes more than [`ApplyOptions::max_deletions`] objects,
//!   or every tenant Namespace that exists on a cluster (the repository was emptied by
//!   mistake), is refused whole, before anything is written, unless
//!   [`ApplyOptions::allow_mass_deletion`]; so is a plan that destroys a tenant's namespace or
//!   database when the tenant is not permitted by name and nobody confirmed at a prompt
//!   ([`ApplyOptions::confirmed`]). The rules are [`crate::plan::guard`]'s.
//! - **What is applied.** The desired manifest text from [`Rendered`] (never
//!   [`Change::desired`], which has secrets masked), with the annotation
//!   [`LAST_APPLIED_ANNOTATION`] set to exactly that text, as field manager `berth` with
//!   `force`. The plan's fast path relies on the annotation being byte-identical.
//! - **Order.** Per cluster and tenant: creates, updates and replaces wave by wave
//!   ([`crate::object::wave`], Namespace first), each wave finished before the next, up to
//!   [`ApplyOptions::concurrency`] objects at once; then deletes in reverse wave order. Objects
//!   inside a Namespace that is itself deleted are not deleted one by one: the Namespace takes
//!   them. A replace is a delete followed by an apply.
//! - **Isolation.** Tenants run concurrently and independently: a failure stops the later
//!   waves of its own tenant only. Blocked changes are never applied.
//! - **Retries.** Transient errors (throttling, server errors, dropped connections, an
//!   unreachable server) and conflicts are retried with exponential backoff and jitter;
//!   permanent ones are reported once, with the object, the tenant, the spec file and the
//!   server's message.
//!
//! The plan has no no-op changes, so an apply right after an apply writes nothing.
//! [`planfile`] saves plans for a later `apply`, [`wait_ready`] waits for databases to be
//! ready after an apply.

pub mod confirm;
pub mod planfile;
pub mod wait;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{Backend, ClusterError, KindRef};
use crate::object::ObjectRef;
use crate::observe::LAST_APPLIED_ANNOTATION;
use crate::plan::{volumes, Action, Change, Plan};
use crate::render::{DesiredObject, Rendered};

pub use self::planfile::{config_fingerprint, stale_objects, PlanFile, PlanFileError};
pub use self::wait::{statefulsets_to_wait_for, wait_ready, WaitError};

pub use crate::cluster::{random_unit, RetryPolicy};

/// How to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Objects applied at once within one wave of one tenant.
    pub concurrency: usize,
    /// Tenants applied at once.
    pub tenant_concurrency: usize,
    /// Refuse a plan that deletes more objects than this (blocked deletes do not count).
    pub max_deletions: u32,
    /// Apply a plan even when it deletes more than `max_deletions` objects or every tenant
    /// Namespace of a cluster.
    pub allow_mass_deletion: bool,
    /// A person confirmed this apply at the prompt, having been shown which tenants' data it
    /// destroys. Without it (`--auto-approve`, the daemon), destroying a tenant's namespace or
    /// database needs the tenant permitted by name ([`Plan::allow_destroy`]).
    pub confirmed: bool,
    /// Retries of transient failures and conflicts.
    pub retry: RetryPolicy,
    /// The config revision applied: recorded on the Namespace of every tenant that apply
    /// changed without a failure ([`crate::object::REVISION_ANNOTATION`]). `None`: not
    /// recorded.
    pub revision: Option<String>,
    /// The time restore records get (RFC 3339); the clock when `None`.
    pub now: Option<String>,
    /// By cluster and tenant, for the tenants in the plan's scope: the digest of the
    /// tenant's inputs and the one its Namespace holds. Recorded
    /// ([`crate::object::INPUTS_ANNOTATION`]) on every such tenant that is complete after the
    /// apply: each of its changes applied, none blocked, no name conflict. Empty: not
    /// recorded.
    pub inputs: BTreeMap<(String, String), TenantInputs>,
}

/// What a tenant is rendered from now, and what its Namespace says was last applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantInputs {
    /// [`crate::render::input_digests`] of the configuration being applied.
    pub digest: String,
    /// The digest recorded on the tenant's live Namespace, if any.
    pub recorded: Option<String>,
}

impl TenantInputs {
    /// Whether the Namespace's record is out of date.
    pub fn stale(&self) -> bool {
        self.recorded.as_deref() != Some(self.digest.as_str())
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            tenant_concurrency: 8,
            max_deletions: 50,
            allow_mass_deletion: false,
            confirmed: false,
            retry: RetryPolicy::default(),
            revision: None,
            now: None,
            inputs: BTreeMap::new(),
        }
    }
}

impl ApplyOptions {
    /// The options a platform's policy implies (`max_deletions`, `apply_concurrency`).
    pub fn from_config(config: &crate::spec::model::Config) -> Self {
        Self {
            concurrency: (config.policy.apply_concurrency as usize).max(1),
            max_deletions: config.policy.max_deletions,
            ..Self::default()
        }
    }
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "message")]
pub enum Outcome {
    /// Done: the object was written (or deleted).
    Applied,
    /// The change failed; one line naming the object, the tenant, the spec file and the
    /// server's message.
    Failed(String),
    /// Not attempted, and why: blocked by a safety rule, or an earlier wave of the tenant
    /// failed.
    Skipped(String),
}

/// One change and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeSetEntry {
    /// Object identity.
    pub id: ObjectRef,
    /// Cluster name.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// What was planned.
    pub action: Action,
    /// What happened.
    pub outcome: Outcome,
    /// Requests made for the change (0 when skipped, or deleted with its Namespace; a replace
    /// counts its delete and its apply).
    pub attempts: u32,
}

/// The result of an apply: one entry per planned change, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    /// Outcomes, in the order of the plan's changes.
    pub entries: Vec<ChangeSetEntry>,
    /// Set when the whole plan was refused before anything was written, and why.
    pub refused: Option<String>,
    /// Bookkeeping written on tenant Namespaces after the changes (restore records, the
    /// applied revision), one entry per Namespace written.
    pub records: Vec<RecordEntry>,
}

/// Annotations berth wrote on one tenant Namespace for its own bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordEntry {
    /// Cluster.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// The Namespace.
    pub id: ObjectRef,
    /// Annotation -> value written (`None`: removed).
    pub annotations: Annotations,
    /// What happened. A restore record that could not be written is a failure: without it,
    /// the restore could run again once its Job is gone.
    pub outcome: Outcome,
}

impl ChangeSet {
    /// `(added, changed, destroyed, failed, skipped)`. Only applied changes count as added,
    /// changed or destroyed; an applied replace counts as one added and one destroyed.
    pub fn summary(&self) -> (usize, usize, usize, usize, usize) {
        let (mut added, mut changed, mut destroyed, mut failed, mut skipped) = (0, 0, 0, 0, 0);
        for e in &self.entries {
            match &e.outcome {
                Outcome::Applied => match e.action {
                    Action::Create => added += 1,
                    Action::Update => changed += 1,
                    Action::Replace => {
                        added += 1;
                        destroyed += 1;
                    }
                    Action::Delete => destroyed += 1,
                    Action::NoOp => {}
                },
                Outcome::Failed(_) => failed += 1,
                Outcome::Skipped(_) => skipped += 1,
            }
        }
        (added, changed, destroyed, failed, skipped)
    }

    /// Whether the apply was not refused and no change failed. Skipped (blocked) changes do
    /// not make an apply fail.
    pub fn succeeded(&self) -> bool {
        self.refused.is_none()
            && self
                .entries
                .iter()
                .all(|e| !matches!(e.outcome, Outcome::Failed(_)))
            && self
                .records
                .iter()
                .all(|e| !matches!(e.outcome, Outcome::Failed(_)))
    }

    /// The entries that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ChangeSetEntry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Failed(_)))
    }
}

/// Progress of an apply (and of [`wait_ready`]), for plain progress lines: `Display` is one
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyEvent {
    /// A change is being made.
    Started {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
        /// What is done.
        action: Action,
    },
    /// A change is done.
    Done {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
        /// What was done.
        action: Action,
        /// Attempts of its request that needed the most (1: nothing was retried).
        attempts: u32,
    },
    /// A request failed in a way worth retrying; the next attempt follows after `delay`.
    Retrying {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Why it failed.
        error: String,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// A change failed for good.
    Failed {
        /// Cluster.
        cluster: String,
        /// Tenant.
        tenant: String,
        /// Object.
        id: ObjectRef,
        /// What was tried.
        action: Action,
        /// The same line as in [`Outcome::Failed`].
        error: String,
    },
    /// A change was not attempted.
    Skipped {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
        /// Why.
        reason: String,
    },
    /// [`wait_ready`]: a cluster without controllers (embedded) counts as ready at once.
    ReadyWithoutControllers {
        /// Cluster.
        cluster: String,
        /// StatefulSets taken as ready.
        objects: usize,
    },
    /// [`wait_ready`]: a StatefulSet is not ready yet.
    Waiting {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
        /// `status.readyReplicas`.
        ready: u64,
        /// `status.updatedReplicas`: replicas at the current revision.
        updated: u64,
        /// `spec.replicas`.
        desired: u64,
    },
    /// [`wait_ready`]: a StatefulSet is ready.
    Ready {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
    },
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::NoOp => "checking",
    }
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::NoOp => "unchanged",
    }
}

impl fmt::Display for ApplyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyEvent::Started {
                cluster,
                id,
                action,
            } => write!(f, "{cluster}: {id}: {}", verb(*action)),
            ApplyEvent::Done {
                cluster,
                id,
                action,
                attempts,
            } => {
                write!(f, "{cluster}: {id}: {}", past(*action))?;
                if *attempts > 1 {
                    write!(f, " after {attempts} attempts")?;
                }
                Ok(())
            }
            ApplyEvent::Retrying {
                cluster,
                id,
                attempt,
                error,
                delay,
            } => write!(
                f,
                "{cluster}: {id}: attempt {attempt} failed, retrying in {} ms: {error}",
                delay.as_millis()
            ),
            ApplyEvent::Failed { error, .. } => write!(f, "error: {error}"),
            ApplyEvent::Skipped {
                cluster,
                id,
                reason,
            } => write!(f, "{cluster}: {id}: skipped: {reason}"),
            ApplyEvent::ReadyWithoutControllers { cluster, objects } => write!(
                f,
                "{cluster}: embedded cluster runs no controllers; {objects} StatefulSet(s) taken as ready"
            ),
            ApplyEvent::Waiting {
                cluster,
                id,
                ready,
                updated,
                desired,
            } => write!(
                f,
                "{cluster}: {id}: {ready}/{desired} replicas ready, {updated}/{desired} updated"
            ),
            ApplyEvent::Ready { cluster, id } => write!(f, "{cluster}: {id}: ready"),
        }
    }
}

/// Why a plan must not be applied without `allow_mass_deletion`, if it must not (the first
/// of the mass-deletion refusals of [`crate::plan::guard::refusals`]).
pub fn mass_deletion(plan: &Plan, rendered: &Rendered, max_deletions: u32) -> Option<String> {
    crate::plan::guard::refusals(plan, rendered, max_deletions)
        .into_iter()
        .find(crate::plan::guard::Refusal::mass)
        .map(|r| r.to_string())
}

/// Why apply refuses `plan` under `opts`, if it does: a mass deletion without
/// `allow_mass_deletion`, or a tenant's data destroyed without the tenant being permitted by
/// name, unless a person confirmed the apply at the prompt.
pub fn refusal(plan: &Plan, rendered: &Rendered, opts: &ApplyOptions) -> Option<String> {
    crate::plan::guard::refusals(plan, rendered, opts.max_deletions)
        .into_iter()
        .find(|r| {
            if r.mass() {
                !opts.allow_mass_deletion
            } else {
                !opts.confirmed
            }
        })
        .map(|r| r.to_string())
}

fn is_namespace(id: &ObjectRef) -> bool {
    id.kind == "Namespace" && id.namespace.is_none()
}

/// Applies `plan`: see the module documentation. `rendered` must be what the plan was computed
/// from; `backends` holds a connection per cluster the plan touches (changes on other clusters
/// fail). `progress` is called for every step, from the calling task.
pub async fn apply(
    plan: &Plan,
    rendered: &Rendered,
    backends: &BTreeMap<String, Backend>,
    opts: &ApplyOptions,
    progress: &dyn Fn(&ApplyEvent),
) -> ChangeSet {
    if let Some(reason) = refusal(plan, rendered, opts) {
        return ChangeSet {
            entries: Vec::new(),
            refused: Some(reason),
            records: Vec::new(),
        };
    }
    let desired: HashMap<(&str, &ObjectRef), &DesiredObject> = rendered
        .objects
        .iter()
        .map(|d| ((d.cluster.as_str(), &d.id), d))
        .collect();
    // Namespaces deleted by this plan, per cluster: their contents go with them.
    let doomed: HashMap<(&str, &str), usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action == Action::Delete && c.blocked.is_none() && is_namespace(&c.id))
        .map(|(i, c)| ((c.cluster.as_str(), c.id.name.as_str()), i))
        .collect();

    let mut outcomes: Vec<Option<(Outcome, u32)>> = vec![None; plan.changes.len()];
    let mut groups: BTreeMap<(&str, &str), Group> = BTreeMap::new();
    let mut with_namespace: Vec<(usize, usize)> = Vec::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if let Some(reason) = &c.blocked {
            progress(&ApplyEvent::Skipped {
                cluster: c.cluster.clone(),
                id: c.id.clone(),
                reason: reason.clone(),
            });
            outcomes[i] = Some((Outcome::Skipped(reason.clone()), 0));
            continue;
        }
        let g = groups
            .entry((c.cluster.as_str(), c.tenant.as_str()))
            .or_default();
        match c.action {
            Action::NoOp => outcomes[i] = Some((Outcome::Applied, 0)),
            Action::Delete => {
                let ns_delete =
                    c.id.namespace
                        .as_deref()
                        .and_then(|ns| doomed.get(&(c.cluster.as_str(), ns)));
                match ns_delete {
                    Some(&ns_index) => with_namespace.push((i, ns_index)),
                    None => g
                        .deletes
                        .entry(std::cmp::Reverse(c.id.wave()))
                        .or_default()
                        .push(i),
                }
            }
            Action::Create | Action::Update | Action::Replace => {
                g.applies.entry(c.id.wave()).or_default().push(i)
            }
        }
    }

    let ctx = Ctx {
        plan,
        desired: &desired,
        backends,
        opts,
        progress,
    };
    let results: Vec<Vec<(usize, Outcome, u32)>> = futures::stream::iter(groups)
        .map(|((cluster, tenant), group)| ctx.run_tenant(cluster, tenant, group))
        .buffer_unordered(opts.tenant_concurrency.max(1))
        .collect()
        .await;
    for (i, outcome, attempts) in results.into_iter().flatten() {
        outcomes[i] = Some((outcome, attempts));
    }
    for (i, ns_index) in with_namespace {
        let c = &plan.changes[i];
        let ns = &plan.changes[ns_index].id;
        let outcome = match &outcomes[ns_index] {
            Some((Outcome::Applied, _)) => Outcome::Applied,
            _ => Outcome::Skipped(format!("its Namespace {} was not deleted", ns.name)),
        };
        if let Outcome::Skipped(reason) = &outcome {
            progress(&ApplyEvent::Skipped {
                cluster: c.cluster.clone(),
                id: c.id.clone(),
                reason: reason.clone(),
            });
        }
        outcomes[i] = Some((outcome, 0));
    }

    let entries = plan
        .changes
        .iter()
        .zip(outcomes)
        .map(|(c, o)| {
            let (outcome, attempts) =
                o.unwrap_or_else(|| (Outcome::Skipped("not attempted".into()), 0));
            ChangeSetEntry {
                id: c.id.clone(),
                cluster: c.cluster.clone(),
                tenant: c.tenant.clone(),
                action: c.action,
                outcome,
                attempts,
            }
        })
        .collect::<Vec<_>>();
    let records = write_records(plan, rendered, backends, opts, &entries, progress).await;
    ChangeSet {
        entries,
        refused: None,
        records,
    }
}

/// Annotations of a merge patch: a value to set, or `None` to remove the annotation.
pub type Annotations = BTreeMap<String, Option<String>>;

/// The annotations to write on each tenant Namespace after `entries` were applied: restore
/// records (a Job created now is `started`; a Job seen finished or unrecorded by the plan
/// gets the record the plan computed) and the applied revision. Pure.
pub fn records_to_write(
    plan: &Plan,
    rendered: &Rendered,
    opts: &ApplyOptions,
    entries: &[ChangeSetEntry],
    now: &str,
) -> BTreeMap<(String, String), (ObjectRef, Annotations)> {
    use crate::plan::restores::{record_key, RecordState, RestoreRecord};
    let mut out: BTreeMap<(String, String), (ObjectRef, Annotations)> = BTreeMap::new();
    let namespace_ref = |ns: &str| ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: ns.to_string(),
    };
    let created: HashSet<(&str, &ObjectRef)> = entries
        .iter()
        .filter(|e| e.action == Action::Create && e.outcome == Outcome::Applied)
        .map(|e| (e.cluster.as_str(), &e.id))
        .collect();
    for r in &plan.restores {
        let record = if created.contains(&(r.cluster.as_str(), &r.job)) {
            RestoreRecord {
                state: RecordState::Started,
                at: Some(now.to_string()),
            }
        } else if let Some(rec) = &r.record {
            rec.clone()
        } else {
            continue;
        };
        let Some(ns) = r.job.namespace.as_deref() else {
            continue;
        };
        out.entry((r.cluster.clone(), r.tenant.clone()))
            .or_insert_with(|| (namespace_ref(ns), BTreeMap::new()))
            .1
            .insert(record_key(&r.name), Some(record.to_annotation()));
    }
    // The inputs digest: on every tenant in scope that is complete now, when it changed.
    if !opts.inputs.is_empty() {
        let mut incomplete: HashSet<(&str, &str)> = HashSet::new();
        let mut changed: HashSet<(&str, &str)> = HashSet::new();
        for e in entries {
            let key = (e.cluster.as_str(), e.tenant.as_str());
            match &e.outcome {
                Outcome::Applied => {
                    changed.insert(key);
                }
                Outcome::Failed(_) | Outcome::Skipped(_) => {
                    incomplete.insert(key);
                }
            }
        }
        let applied: HashSet<(&str, &ObjectRef)> = entries
            .iter()
            .filter(|e| e.outcome == Outcome::Applied)
            .map(|e| (e.cluster.as_str(), &e.id))
            .collect();
        for c in &plan.changes {
            if c.blocked.is_some() || !applied.contains(&(c.cluster.as_str(), &c.id)) {
                incomplete.insert((&c.cluster, &c.tenant));
            }
        }
        for c in &plan.conflicts {
            incomplete.insert((&c.cluster, &c.tenant));
        }
        // Not observed, so not planned: not complete either. On a cluster with a kind that
        // could not be listed, no tenant is known to be complete (objects of that kind that
        // should be pruned are not seen).
        for u in &plan.unobserved {
            incomplete.insert((&u.cluster, &u.tenant));
        }
        for d in rendered.objects.iter().filter(|d| is_namespace(&d.id)) {
            let key = (d.cluster.as_str(), d.tenant.as_str());
            if plan.unlisted.iter().any(|u| u.cluster == d.cluster) {
                continue;
            }
            let Some(inputs) = opts.inputs.get(&(d.cluster.clone(), d.tenant.clone())) else {
                continue;
            };
            if incomplete.contains(&key) || !(inputs.stale() || changed.contains(&key)) {
                continue;
            }
            out.entry((d.cluster.clone(), d.tenant.clone()))
                .or_insert_with(|| (d.id.clone(), BTreeMap::new()))
                .1
                .insert(
                    crate::object::INPUTS_ANNOTATION.to_string(),
                    Some(inputs.digest.clone()),
                );
        }
    }
    if let Some(revision) = &opts.revision {
        // Tenants with an applied change and no failure, whose Namespace stays.
        let mut tenants: BTreeMap<(&str, &str), (bool, bool)> = BTreeMap::new();
        for e in entries {
            let slot = tenants.entry((&e.cluster, &e.tenant)).or_default();
            match &e.outcome {
                Outcome::Applied => slot.0 = true,
                Outcome::Failed(_) => slot.1 = true,
                Outcome::Skipped(_) => {}
            }
            if e.action == Action::Delete && is_namespace(&e.id) {
                slot.1 = true;
            }
        }
        // What each such tenant has now: its inventory (missing objects are drift later).
        let mut inventories: HashMap<(&str, &str), Vec<String>> = HashMap::new();
        for d in &rendered.objects {
            let complete =
                tenants.get(&(d.cluster.as_str(), d.tenant.as_str())) == Some(&(true, false));
            if !complete || is_namespace(&d.id) {
                continue;
            }
            let restore_job = d.id.kind == "Job"
                && d.manifest
                    .as_str()
                    .contains(&format!("\"{}\"", crate::object::RESTORE_LABEL));
            if !restore_job {
                inventories
                    .entry((&d.cluster, &d.tenant))
                    .or_default()
                    .push(crate::object::inventory_entry(&d.id));
            }
        }
        for d in &rendered.objects {
            if !is_namespace(&d.id) {
                continue;
            }
            if tenants.get(&(d.cluster.as_str(), d.tenant.as_str())) == Some(&(true, false)) {
                let mut inventory = inventories
                    .remove(&(d.cluster.as_str(), d.tenant.as_str()))
                    .unwrap_or_default();
                inventory.sort();
                let annotations = &mut out
                    .entry((d.cluster.clone(), d.tenant.clone()))
                    .or_insert_with(|| (d.id.clone(), BTreeMap::new()))
                    .1;
                annotations.insert(
                    crate::object::REVISION_ANNOTATION.to_string(),
                    Some(revision.clone()),
                );
                annotations.insert(
                    crate::object::INVENTORY_ANNOTATION.to_string(),
                    Some(inventory.join(",")),
                );
            }
        }
        // The revision that removed a kept tenant, once.
        for k in plan.kept.iter().filter(|k| k.removed_in.is_none()) {
            let Some(ns) = &k.namespace else {
                continue;
            };
            out.entry((k.cluster.clone(), k.tenant.clone()))
                .or_insert_with(|| (namespace_ref(ns), BTreeMap::new()))
                .1
                .insert(
                    crate::object::REMOVED_ANNOTATION.to_string(),
                    Some(revision.clone()),
                );
        }
    }
    // A tenant back in the configuration is no longer removed.
    for r in &plan.returned {
        out.entry((r.cluster.clone(), r.tenant.clone()))
            .or_insert_with(|| (r.namespace.clone(), BTreeMap::new()))
            .1
            .insert(crate::object::REMOVED_ANNOTATION.to_string(), None);
    }
    out
}

/// Whether an apply of `plan` has bookkeeping to write even when it changes nothing:
/// restores that finished, inputs digests out of date, kept tenants whose removal is not
/// recorded yet, returned tenants whose removal is.
pub fn records_due(plan: &Plan, opts: &ApplyOptions) -> bool {
    plan.restores.iter().any(|r| r.record.is_some())
        || opts.inputs.values().any(TenantInputs::stale)
        || !plan.returned.is_empty()
        || (opts.revision.is_some()
            && plan
                .kept
                .iter()
                .any(|k| k.removed_in.is_none() && k.namespace.is_some()))
}

/// Writes [`records_to_write`], Namespace by Namespace, with retries. Also usable when a plan
/// has no changes but restores finished since the last apply.
pub async fn write_records(
    plan: &Plan,
    rendered: &Rendered,
    backends: &BTreeMap<String, Backend>,
    opts: &ApplyOptions,
    entries: &[ChangeSetEntry],
    progress: &dyn Fn(&ApplyEvent),
) -> Vec<RecordEntry> {
    let now = opts.now.clone().unwrap_or_else(crate::store::now_rfc3339);
    let mut out = Vec::new();
    for ((cluster, tenant), (id, annotations)) in
        records_to_write(plan, rendered, opts, entries, &now)
    {
        let outcome = match backends.get(&cluster) {
            None => Outcome::Failed(format!("cluster `{cluster}` is not connected")),
            Some(backend) => {
                let patch = &annotations;
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let result = backend.annotate(&id, patch).await;
                    let retry = match &result {
                        Err(e) => opts.retry.retry_after_failure(attempt, e, retryable),
                        Ok(()) => None,
                    };
                    if let Some(delay) = retry {
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    match result {
                        Ok(()) => break Outcome::Applied,
                        Err(e) => {
                            let line = format!(
                                "{id} (tenant `{tenant}`): recording {} failed: {e}",
                                annotations.keys().cloned().collect::<Vec<_>>().join(", ")
                            );
                            progress(&ApplyEvent::Failed {
                                cluster: cluster.clone(),
                                tenant: tenant.clone(),
                                id: id.clone(),
                                action: Action::Update,
                                error: line.clone(),
                            });
                            break Outcome::Failed(line);
                        }
                    }
                }
            }
        };
        out.push(RecordEntry {
            cluster,
            tenant,
            id,
            annotations,
            outcome,
        });
    }
    out
}

/// The changes of one tenant on one cluster, by wave (indices into the plan's changes).
#[derive(Default)]
struct Group {
    applies: BTreeMap<u8, Vec<usize>>,
    deletes: BTreeMap<std::cmp::Reverse<u8>, Vec<usize>>,
}

/// How long apply waits for a StatefulSet deleted with `propagationPolicy: Orphan` to go.
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits until `id` no longer exists, reading it every quarter second (transient read
/// failures are read again), for at most `timeout`.
async fn gone(backend: &Backend, id: &ObjectRef, timeout: Duration) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        match backend.get(id).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {}
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(format!("cannot read {id} while it is deleted: {e}")),
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "{id} was still being deleted after {}s (the garbage collector releases its \
                 pods first); nothing was created in its place, run apply again",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    desired: &'a HashMap<(&'a str, &'a ObjectRef), &'a DesiredObject>,
    backends: &'a BTreeMap<String, Backend>,
    opts: &'a ApplyOptions,
    progress: &'a dyn Fn(&ApplyEvent),
}

impl Ctx<'_> {
    async fn run_tenant(
        &self,
        cluster: &str,
        tenant: &str,
        group: Group,
    ) -> Vec<(usize, Outcome, u32)> {
        let waves: Vec<Vec<usize>> = group
            .applies
            .into_values()
            .chain(group.deletes.into_values())
            .collect();
        let mut out = Vec::new();
        let mut failed = false;
        for wave in waves {
            if failed {
                let reason = format!("an earlier wave of tenant `{tenant}` failed");
                for i in wave {
                    let c = &self.plan.changes[i];
                    (self.progress)(&ApplyEvent::Skipped {
                        cluster: cluster.to_string(),
                        id: c.id.clone(),
                        reason: reason.clone(),
                    });
                    out.push((i, Outcome::Skipped(reason.clone()), 0));
                }
                continue;
            }
            let done: Vec<(usize, Outcome, u32)> = futures::stream::iter(wave)
                .map(|i| async move {
                    let (outcome, attempts) = self.change(&self.plan.changes[i]).await;
                    (i, outcome, attempts)
                })
                .buffer_unordered(self.opts.concurrency.max(1))
                .collect()
                .await;
            failed = done.iter().any(|(_, o, _)| matches!(o, Outcome::Failed(_)));
            out.extend(done);
        }
        out
    }

    /// Makes one change, with retries. Returns the outcome and the requests made.
    async fn change(&self, c: &Change) -> (Outcome, u32) {
        let progress = self.progress;
        let desired = self.desired.get(&(c.cluster.as_str(), &c.id)).copied();
        let fail = |message: String, attempts: u32| {
            let mut line = format!("{} (tenant `{}`", c.id, c.tenant);
            if let Some(d) = desired {
                line.push_str(&format!(", {}", d.source_file));
            }
            line.push_str(&format!("): {message}"));
            progress(&ApplyEvent::Failed {
                cluster: c.cluster.clone(),
                tenant: c.tenant.clone(),
                id: c.id.clone(),
                action: c.action,
                error: line.clone(),
            });
            (Outcome::Failed(line), attempts)
        };
        let Some(backend) = self.backends.get(&c.cluster) else {
            return fail(format!("cluster `{}` is not connected", c.cluster), 0);
        };
        let manifest = match c.action {
            Action::Delete | Action::NoOp => None,
            _ => match desired {
                Some(d) => Some(with_last_applied(d)),
                None => {
                    return fail(
                        "no rendered manifest for it: the plan was made from another config".into(),
                        0,
                    )
                }
            },
        };
        progress(&ApplyEvent::Started {
            cluster: c.cluster.clone(),
            id: c.id.clone(),
            action: c.action,
        });
        let mut attempts = 0;
        let mut most = 1;
        if c.action == Action::Replace {
            // Volumes first: a StorageClass that does not allow expansion stops the change
            // before anything is deleted.
            let (r, n, m) = self.grow_volumes(backend, c, manifest.as_ref()).await;
            attempts += n;
            most = most.max(m);
            if let Err(e) = r {
                return fail(e, attempts);
            }
        }
        if matches!(c.action, Action::Delete | Action::Replace) {
            let keep_pods = c.action == Action::Replace && volumes::recreate_keeps_pods(c);
            let (r, n) = self
                .retrying(c, || async {
                    if keep_pods {
                        backend.delete_orphan(&c.id).await
                    } else {
                        backend.delete(&c.id).await
                    }
                })
                .await;
            attempts += n;
            most = most.max(n);
            if let Err(e) = r {
                return fail(e.to_string(), attempts);
            }
            if keep_pods {
                // Orphaning takes the garbage collector a moment: the old StatefulSet stays,
                // marked for deletion, until its pods are released. Created before it is
                // gone, the new one would be an update of the old.
                if let Err(e) = gone(backend, &c.id, ORPHAN_TIMEOUT).await {
                    return fail(e, attempts);
                }
            }
        }
        if let Some(manifest) = &manifest {
            let (r, n) = self
                .retrying(c, || async {
                    backend.apply(&c.id, manifest, false, true).await.map(drop)
                })
                .await;
            attempts += n;
            most = most.max(n);
            if let Err(e) = r {
                return fail(e.to_string(), attempts);
            }
        }
        progress(&ApplyEvent::Done {
            cluster: c.cluster.clone(),
            id: c.id.clone(),
            action: c.action,
            attempts: most,
        });
        (Outcome::Applied, attempts)
    }

    /// Raises the storage request of every existing claim of each claim template whose size
    /// grows in `c` (a StatefulSet replacement) to the new size: the claims
    /// `TEMPLATE-SET-N` in the set's namespace, found by the set's selector. Claims already
    /// that large are left. Returns the first refusal, as one line.
    async fn grow_volumes(
        &self,
        backend: &Backend,
        c: &Change,
        manifest: Option<&Value>,
    ) -> (Result<(), String>, u32, u32) {
        let growth = volumes::growth(c);
        if growth.is_empty() {
            return (Ok(()), 0, 1);
        }
        // The claims are listed by the set's selector and then picked by name; a selector
        // that cannot be read lists the namespace's claims, and the names still pick.
        let selector = manifest
            .and_then(|m| m.pointer("/spec/selector"))
            .and_then(crate::cluster::selector_text)
            .unwrap_or_default();
        let claims = KindRef::new("v1", "PersistentVolumeClaim");
        // `retrying` takes an operation without a result: the listing lands here.
        let found = std::sync::Mutex::new(Vec::new());
        let (r, mut requests) = self
            .retrying(c, || async {
                let (items, _) = backend
                    .list(&claims, c.id.namespace.as_deref(), &selector, false)
                    .await?;
                *found.lock().unwrap_or_else(|e| e.into_inner()) = items;
                Ok(())
            })
            .await;
        if let Err(e) = r {
            return (
                Err(format!("cannot list the volumes of {}: {e}", c.id)),
                requests,
                requests,
            );
        }
        let mut most = requests;
        let listed = found.into_inner().unwrap_or_else(|e| e.into_inner());
        for (template, size) in growth {
            let Ok(want) = crate::values::parse_quantity(&size) else {
                continue;
            };
            for claim in &listed {
                let name = claim
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !volumes::is_claim_of(name, &template, &c.id.name) {
                    continue;
                }
                let has = claim
                    .pointer("/spec/resources/requests/storage")
                    .and_then(Value::as_str)
                    .and_then(|q| crate::values::parse_quantity(q).ok());
                if has.is_some_and(|h| h >= want) {
                    continue;
                }
                let id = ObjectRef {
                    api_version: "v1".into(),
                    kind: "PersistentVolumeClaim".into(),
                    namespace: c.id.namespace.clone(),
                    name: name.to_string(),
                };
                let (r, n) = self
                    .retrying(c, || async { backend.grow_claim(&id, &size).await })
                    .await;
                requests += n;
                most = most.max(n);
                if let Err(e) = r {
                    return (
                        Err(format!("cannot grow {id} to {size}: {e}")),
                        requests,
                        most,
                    );
                }
            }
        }
        (Ok(()), requests, most)
    }

    /// Runs `op` until it succeeds, fails permanently or the attempts are used up.
    async fn retrying<F, Fut>(&self, c: &Change, op: F) -> (Result<(), ClusterError>, u32)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), ClusterError>>,
    {
        let policy = &self.opts.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match op().await {
                Ok(()) => return (Ok(()), attempt),
                Err(e) if policy.retry_after_failure(attempt, &e, retryable).is_some() => {
                    let delay = policy.delay_after(attempt, &e);
                    (self.progress)(&ApplyEvent::Retrying {
                        cluster: c.cluster.clone(),
                        id: c.id.clone(),
                        attempt,
                        error: e.to_string(),
                        delay,
                    });
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return (Err(e), attempt),
            }
        }
    }
}

/// Whether a failed request is worth repeating: transient failures and conflicts.
pub fn retryable(e: &ClusterError) -> bool {
    e.is_transient() || matches!(e, ClusterError::Conflict { .. })
}

/// The manifest berth sends for `d`: its text parsed, plus the last-applied annotation holding
/// exactly that text.
pub fn with_last_applied(d: &DesiredObject) -> Value {
    let mut v = d.manifest.to_value();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(
                LAST_APPLIED_ANNOTATION.to_string(),
                Value::String(d.manifest.as_str().to_string()),
            );
        }
    }
    v
}
