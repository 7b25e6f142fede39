//! The `observe` stage: what berth owns in each cluster right now.
//!
//! Per cluster, one paginated LIST per managed kind, selected by the ownership label; never a
//! GET per object. With [`observe`] the only other reads are GETs of the names berth wants to
//! create (to find objects berth does not own that already use the name), so the cost grows
//! with what changed, not with what exists.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::object::ObjectRef;

/// Annotation holding the compact JSON of the manifest berth last applied to an object
/// (without this annotation itself). The third side of the three-way diff.
pub const LAST_APPLIED_ANNOTATION: &str = "berth.io/last-applied";

/// A live object berth owns, as the cluster returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveObject {
    /// Identity.
    pub id: ObjectRef,
    /// The whole object, status and server fields included (`metadata.managedFields` only
    /// with [`ObserveOptions::keep_managed_fields`]).
    pub manifest: Value,
}

impl LiveObject {
    /// What berth last applied, from [`LAST_APPLIED_ANNOTATION`], if present and readable.
    pub fn last_applied(&self) -> Option<Value> {
        self.manifest
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
    }
}

/// An object that uses a name berth wants, but that berth does not own.
#[derive(Debug, Clone, PartialEq)]
pub struct Unowned {
    /// Identity.
    pub id: ObjectRef,
    /// Its `app.kubernetes.io/managed-by` label, if any.
    pub managed_by: Option<String>,
    /// The whole object (for `--adopt`).
    pub manifest: Value,
}

/// What one cluster holds, or why it could not be read.
#[derive(Debug, Clone)]
pub struct ClusterState {
    /// Cluster name from platform.toml.
    pub cluster: String,
    /// Objects berth owns (ownership label present), sorted by identity.
    pub owned: Vec<LiveObject>,
    /// Objects berth does not own whose names collide with desired objects.
    pub unowned: Vec<Unowned>,
    /// Why the cluster could not be observed: one line naming the cluster and what to check.
    /// When set, `owned` is empty and the plan marks the cluster as unknown.
    pub error: Option<String>,
    /// Number of API requests made (LIST pages and GETs), for benchmarks and tests.
    pub requests: u64,
}

/// The live state of every cluster the plan touches.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// By cluster name.
    pub clusters: BTreeMap<String, ClusterState>,
}

mod live;

pub use self::live::{connect_all, observe, observe_connections, ObserveOptions};
