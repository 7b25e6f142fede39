//! The `plan` stage: a pure three-way diff of desired, live and last-applied objects.
//! No I/O. Printers of a [`Plan`] live in `output`.

use serde::Serialize;
use serde_json::Value;

use crate::object::ObjectRef;

/// Version of the JSON plan format (`berth plan -o json`). Bump on incompatible changes.
pub const FORMAT_VERSION: &str = "1";

/// What will happen to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// An object changed outside berth: live differs from last-applied on fields berth owns.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Fields differ.
    Changed,
    /// The object is gone.
    Missing,
}

/// A desired object whose name is taken by an object berth does not own.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Counts for the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Creates.
    pub add: usize,
    /// Updates.
    pub change: usize,
    /// Replaces (counted in both add and destroy by Terraform; here separately).
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: &'static str,
    /// The config revision planned (directory or commit).
    pub revision: Option<String>,
    /// Changes, ordered by cluster, tenant, wave, identity; no-ops left out.
    pub changes: Vec<Change>,
    /// Drift, shown before the changes.
    pub drift: Vec<Drift>,
    /// Name collisions.
    pub conflicts: Vec<Conflict>,
    /// Clusters that could not be observed: (cluster, message).
    pub unreachable: Vec<(String, String)>,
    /// Counts.
    pub summary: Summary,
}
