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
mod offline;
mod planner;
pub mod restores;
#[cfg(test)]
mod tests;
mod unchanged;

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
    /// Allow deleting data-bearing objects of protected tenants (`--allow-destroy`).
    pub allow_destroy: bool,
    /// Allow replacing data-bearing objects (`--allow-replace`).
    pub allow_replace: bool,
    /// Only these tenants; `None` for all. Objects no longer in Git count as the tenant of
    /// their `berth.io/tenant` label.
    pub tenants: Option<BTreeSet<String>>,
    /// Only these clusters; `None` for all.
    pub clusters: Option<BTreeSet<String>>,
}

impl PlanOptions {
    /// The options a platform's policy implies, nothing more permitted.
    pub fn from_config(config: &crate::spec::model::Config) -> Self {
        PlanOptions {
            prune: config.policy.prune,
            ..PlanOptions::default()
        }
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
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Restore requests and what became of them, by cluster, tenant and name. Restores no
    /// longer in the configuration are listed while the cluster remembers them.
    #[serde(default)]
    pub restores: Vec<RestoreStatus>,
    /// Problems that are not changes (missing credentials Secrets).
    #[serde(default)]
    pub warnings: Vec<Warning>,
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
        self.summary = s;
    }
}
