//! The `plan` stage: a pure three-way diff of desired, live and last-applied objects.
//! No I/O. Printers of a [`Plan`] live in `output`.
//!
//! For every desired object, [`plan`] compares the rendered manifest with the live object
//! (only the fields berth sets; server defaults never count), and with what berth applied
//! last time (fields berth stopped setting are removed). Owned live objects that are no
//! longer desired are deleted when pruning is on. Immutable fields turn an update into a
//! replace; replaces and deletes of data-bearing objects are blocked unless permitted.
//! Live fields that differ from what berth last applied are reported as drift.
//!
//! Apply should write the desired manifest's compact JSON ([`crate::render::Manifest::as_str`])
//! as the last-applied annotation: when the annotation equals the desired text, the plan
//! parses each object once.

mod diff;
pub mod guard;
mod offline;
mod planner;
pub mod restores;
#[cfg(test)]
mod tests;
mod unchanged;
pub mod volumes;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::object::ObjectRef;

pub use diff::{
    diff_object, drift_fields, looks_secret, redact, Immutable, ObjectDiff, SENSITIVE_MARKER,
};
pub use offline::{as_applied, plan_change};
pub use planner::plan;
pub use restores::{RestoreRecord, RestoreState, RestoreStatus};

/// What a plan may do and which part of the world it looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Delete owned objects that are no longer desired (the platform's `policy.prune`).
    pub prune: bool,
    /// Take over objects berth does not own whose names berth wants (`--adopt`).
    pub adopt: bool,
    /// Tenants permitted by name to be destroyed, protected or not (`--allow-destroy NAME`,
    /// `policy.allow_destroy`).
    pub allow_destroy: BTreeSet<String>,
    /// Allow replacing data-bearing objects (`--allow-replace`).
    pub allow_replace: bool,
    /// Only these tenants; `None` for all. Objects no longer in Git count as the tenant of
    /// their `berth.io/tenant` label.
    pub tenants: Option<BTreeSet<String>>,
    /// Only these clusters; `None` for all.
    pub clusters: Option<BTreeSet<String>>,
    /// Put objects changed outside berth back. Off (`policy.drift = "report"`), a drifted
    /// object is only rewritten when the configuration itself changes it; otherwise it is
    /// reported and left, and an object berth applied that was deleted is not created again.
    pub correct_drift: bool,
}

impl PlanOptions {
    /// The options a platform's policy implies, nothing more permitted.
    pub fn from_config(config: &crate::spec::model::Config) -> Self {
        PlanOptions {
            prune: config.policy.prune,
            allow_destroy: config.policy.allow_destroy.iter().cloned().collect(),
            correct_drift: config.policy.drift == crate::spec::types::DriftMode::Correct,
            ..PlanOptions::default()
        }
    }

    /// These options, with what a command line permits on top: tenants named by
    /// `--allow-destroy`, and `--correct-drift`.
    pub fn permitting<'a>(
        mut self,
        allow_destroy: impl IntoIterator<Item = &'a String>,
        correct_drift: bool,
    ) -> Self {
        self.allow_destroy
            .extend(allow_destroy.into_iter().cloned());
        self.correct_drift |= correct_drift;
        self
    }

    /// Whether `tenant` may be destroyed by name.
    pub fn destroy_permitted(&self, tenant: &str) -> bool {
        self.allow_destroy.contains(tenant)
    }
}

/// Version of the JSON plan format (`berth plan -o json`). Bump on incompatible changes.
pub const FORMAT_VERSION: &str = "1";

/// What will happen to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Created (`+`).
    Create,
    /// Updated in place (`~`).
    Update,
    /// Deleted and created again: an immutable field changed (`-/+`).
    Replace,
    /// Deleted (`-`).
    Delete,
    /// Nothing to do.
    NoOp,
}

/// One field that differs. Paths are JSON-pointer-like with list keys where lists are
/// associative: `spec.template.spec.containers[name=kwdb].image`, `spec.replicas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path.
    pub path: String,
    /// Value before (live), `None` when added.
    pub before: Option<Value>,
    /// Value after (desired), `None` when removed.
    pub after: Option<Value>,
    /// The value is secret: printers show `(sensitive value)`; `before`/`after` are masked.
    pub sensitive: bool,
}

/// A planned change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Object identity.
    pub id: ObjectRef,
    /// Cluster name.
    pub cluster: String,
    /// Tenant the object belongs to.
    pub tenant: String,
    /// What happens.
    pub action: Action,
    /// Field-level differences (empty for create/delete).
    pub fields: Vec<FieldChange>,
    /// Why a replace is needed (`spec.serviceName is immutable`), or other context.
    pub reason: Option<String>,
    /// When set, apply will not do this change without explicit permission, and why
    /// (`deletion protection`, `replace of a data-bearing object needs --allow-replace`).
    pub blocked: Option<String>,
    /// The full desired manifest (create, update, replace), for apply and `-o json`.
    pub desired: Option<Value>,
}

/// How much of the configuration a `--changed` plan looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrowed {
    /// Tenants planned.
    pub planned: usize,
    /// Tenants in the configuration and on the clusters.
    pub tenants: usize,
}

/// An object changed outside berth: live differs from last-applied on fields berth owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Object identity.
    pub id: ObjectRef,
    /// Cluster name.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// `changed` or `missing` (berth applied it, it is gone).
    pub kind: DriftKind,
    /// Fields changed outside berth: `before` = last applied, `after` = live.
    pub fields: Vec<FieldChange>,
}

/// Kind of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Fields differ.
    Changed,
    /// The object is gone.
    Missing,
}

/// A desired object whose name is taken by an object berth does not own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Object identity.
    pub id: ObjectRef,
    /// Cluster.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// Who manages it, if it says.
    pub managed_by: Option<String>,
}

/// A problem the plan found that is not a change: apply would succeed, but something the
/// configuration relies on is not in place (for example the credentials Secret of a backup
/// location).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Cluster.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// What kind of problem: `missing_secret`.
    pub kind: String,
    /// The object it is about (the missing Secret).
    pub object: Option<ObjectRef>,
    /// One line saying what is wrong and what it breaks.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// A tenant of a reachable cluster that was not planned: something it needs could not be read
/// (a kind not listed, an object not read), so what it holds is unknown. Nothing of it is
/// changed; the next run plans it once the cluster answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unobserved {
    /// Cluster name.
    pub cluster: String,
    /// Tenant name.
    pub tenant: String,
    /// What could not be read, and why.
    pub reason: String,
}

/// A kind that could not be listed on a reachable cluster. The tenants with objects of it are
/// in [`Plan::unobserved`]; of the others, objects of this kind that berth no longer renders
/// are not seen, so not pruned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unlisted {
    /// Cluster name.
    pub cluster: String,
    /// The kind, `Kind.apiVersion`.
    pub kind: String,
    /// Why it could not be listed.
    pub reason: String,
}

/// A tenant that left the configuration (of one cluster) and that deletion protection keeps
/// whole: none of its objects is destroyed while its deletion is not permitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptTenant {
    /// Cluster.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// Its Namespace, when it still exists.
    pub namespace: Option<String>,
    /// Why it is kept (its deletion protection) and how to permit the deletion.
    pub reason: String,
    /// The revision that removed it from the configuration, as recorded on its Namespace
    /// ([`crate::object::REMOVED_ANNOTATION`]); `None` until an apply records it (then it is
    /// the revision planned).
    pub removed_in: Option<String>,
    /// The revision last applied to it ([`crate::object::REVISION_ANNOTATION`]).
    pub last_applied_revision: Option<String>,
    /// Every object of the tenant that a permitted deletion would destroy, in delete order.
    pub objects: Vec<ObjectRef>,
}

impl KeptTenant {
    /// Its state in a phrase: `removed from the configuration in 9c0ffee12345; kept by
    /// deletion protection (...)`.
    pub fn summary(&self) -> String {
        let removed = match &self.removed_in {
            Some(rev) => format!(
                "removed from the configuration in {}",
                crate::object::short_revision(rev)
            ),
            None => "removed from the configuration in this revision".to_string(),
        };
        format!("{removed}; {}", self.reason)
    }
}

/// A tenant back in the configuration whose Namespace still says it was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Returned {
    /// Cluster.
    pub cluster: String,
    /// Tenant.
    pub tenant: String,
    /// Its Namespace.
    pub namespace: ObjectRef,
}

/// Counts for the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Creates.
    pub add: usize,
    /// Updates.
    pub change: usize,
    /// Replaces. Not included in `add` and `destroy`; printers that follow Terraform count
    /// each replace as one add and one destroy.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
    /// Changes blocked by a safety rule.
    pub blocked: usize,
    /// Objects changed outside berth.
    pub drifted: usize,
    /// Name collisions with objects berth does not own.
    pub conflicts: usize,
    /// Tenants removed from the configuration and kept by deletion protection.
    #[serde(default)]
    pub kept: usize,
}

/// A whole plan. `Plan::default()` is empty: nothing observed, nothing to do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// The config revision planned (directory or commit).
    pub revision: Option<String>,
    /// For an offline plan of a change (`berth plan --base`): the commit taken as applied
    /// instead of observing the clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Changes, ordered by cluster, tenant, wave, identity; no-ops left out.
    pub changes: Vec<Change>,
    /// Drift, shown before the changes.
    pub drift: Vec<Drift>,
    /// Name collisions.
    pub conflicts: Vec<Conflict>,
    /// Clusters that could not be observed: (cluster, message).
    pub unreachable: Vec<(String, String)>,
    /// Tenants of reachable clusters left out of the plan because something they need could
    /// not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unobserved: Vec<Unobserved>,
    /// Kinds that could not be listed on reachable clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlisted: Vec<Unlisted>,
    /// Restore requests and what became of them, by cluster, tenant and name. Restores no
    /// longer in the configuration are listed while the cluster remembers them.
    #[serde(default)]
    pub restores: Vec<RestoreStatus>,
    /// Problems that are not changes (missing credentials Secrets, a scale-down, a plan that
    /// apply will refuse).
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Tenants removed from the configuration that deletion protection keeps whole.
    #[serde(default)]
    pub kept: Vec<KeptTenant>,
    /// The tenants this plan was permitted to destroy by name (`--allow-destroy`,
    /// `policy.allow_destroy`): apply needs no other permission for their deletion.
    #[serde(default)]
    pub allow_destroy: BTreeSet<String>,
    /// Tenants in the configuration again whose Namespace still records their removal
    /// ([`crate::object::REMOVED_ANNOTATION`]): apply clears the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returned: Vec<Returned>,
    /// Whether drifted objects are put back (`policy.drift = "correct"` or `--correct-drift`).
    /// When not, drift is reported and left as it is unless a change rewrites the object.
    #[serde(default)]
    pub correct_drift: bool,
    /// Set by `--changed`: only some tenants were planned (those whose inputs changed since
    /// they were last applied); drift in the others was not looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrowed: Option<Narrowed>,
    /// Counts.
    pub summary: Summary,
}

impl Plan {
    /// Whether applying would change anything (blocked changes count: they need attention).
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Whether the clusters differ from the configuration in a way that needs a person:
    /// changes to apply, or tenants removed from the configuration that deletion protection
    /// keeps (`--detailed-exitcode` exits 2).
    pub fn differs(&self) -> bool {
        self.has_changes() || !self.kept.is_empty()
    }

    /// Whether everything the plan's scope covers was observed and matches: no changes, no
    /// kept tenants, nothing that could not be read. Only then may output say that the
    /// clusters match the configuration.
    pub fn matches(&self) -> bool {
        !self.differs() && !self.is_partial()
    }

    /// Whether something in the plan's scope could not be observed: a cluster, a kind or a
    /// tenant. Such a plan covers only what was read, and the run exits 1.
    pub fn is_partial(&self) -> bool {
        !self.unreachable.is_empty() || !self.unobserved.is_empty() || !self.unlisted.is_empty()
    }

    /// Recomputes [`Plan::summary`] from the lists.
    pub fn summarize(&mut self) {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
            if c.blocked.is_some() {
                s.blocked += 1;
            }
        }
        s.drifted = self.drift.len();
        s.conflicts = self.conflicts.len();
        s.kept = self.kept.len();
        self.summary = s;
    }
}
