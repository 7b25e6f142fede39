//! The deletion guard: the reasons apply refuses a plan before writing anything. Pure, so
//! that `plan` can warn about a refusal before `apply` meets it.
//!
//! - More objects deleted than `policy.max_deletions`, or every tenant Namespace that exists
//!   on a cluster (the repository was emptied by mistake): refused unless
//!   `--allow-mass-deletion`.
//! - A tenant's data destroyed (its Namespace or database StatefulSet deleted) without the
//!   tenant being permitted by name (`--allow-destroy NAME`, `policy.allow_destroy`): refused
//!   when nobody confirms the apply at a prompt (`--auto-approve`, the daemon).
//!
//! Deletes of tenants permitted by name count toward neither limit: naming the tenant is
//! the most explicit permission there is.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use super::{Action, Change, Plan};
use crate::object::ObjectRef;
use crate::render::Rendered;

/// Kinds whose deletion or replacement can lose data.
pub const DATA_BEARING: &[&str] = &["Namespace", "StatefulSet", "PersistentVolumeClaim"];

/// Why apply refuses a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More deletes than the limit.
    TooManyDeletions {
        /// Deletes counted.
        deletes: usize,
        /// `policy.max_deletions`.
        limit: u32,
    },
    /// Every tenant Namespace of a cluster would go.
    EveryNamespace {
        /// The cluster.
        cluster: String,
        /// Namespaces deleted.
        namespaces: usize,
    },
    /// Tenants whose data would be destroyed without their being named.
    Unnamed {
        /// (cluster, tenant), sorted.
        tenants: Vec<(String, String)>,
    },
}

impl Refusal {
    /// Whether `--allow-mass-deletion` lifts this refusal (a confirmation at the prompt lifts
    /// [`Refusal::Unnamed`]).
    pub fn mass(&self) -> bool {
        !matches!(self, Refusal::Unnamed { .. })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooManyDeletions { deletes, limit } => write!(
                f,
                "the plan deletes {deletes} objects, more than the limit of {limit} \
                 (policy.max_deletions); check that the config repository is complete, or pass \
                 --allow-mass-deletion"
            ),
            Refusal::EveryNamespace {
                cluster,
                namespaces,
            } => write!(
                f,
                "the plan deletes every tenant Namespace on cluster `{cluster}` ({namespaces}); \
                 check that the config repository is complete, or pass --allow-mass-deletion"
            ),
            Refusal::Unnamed { tenants } => {
                let names: BTreeSet<&str> = tenants.iter().map(|(_, t)| t.as_str()).collect();
                let list = names
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let flags = names
                    .iter()
                    .map(|t| format!("--allow-destroy {t}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                write!(
                    f,
                    "the plan destroys {} {list} (namespace, database and data) and nobody \
                     confirmed it at a prompt; name {}: {flags}, or policy.allow_destroy",
                    if names.len() == 1 {
                        "tenant"
                    } else {
                        "tenants"
                    },
                    if names.len() == 1 { "it" } else { "them" }
                )
            }
        }
    }
}

/// Every reason apply would refuse `plan` (computed from `rendered`) without further
/// permission. `plan.allow_destroy` names the tenants permitted.
pub fn refusals(plan: &Plan, rendered: &Rendered, max_deletions: u32) -> Vec<Refusal> {
    let named = |c: &Change| plan.allow_destroy.contains(&c.tenant);
    let runs = |c: &&Change| c.blocked.is_none() && c.action == Action::Delete;
    let mut out = Vec::new();
    let deletes = plan
        .changes
        .iter()
        .filter(runs)
        .filter(|c| !named(c))
        .count();
    if deletes > max_deletions as usize {
        out.push(Refusal::TooManyDeletions {
            deletes,
            limit: max_deletions,
        });
    }
    // Per cluster: Namespaces deleted, and Namespaces that exist and stay (desired and not
    // created by this plan, or a delete that is blocked).
    let mut deleted: BTreeMap<&str, usize> = BTreeMap::new();
    let mut staying: HashMap<&str, usize> = HashMap::new();
    let mut created: HashSet<(&str, &ObjectRef)> = HashSet::new();
    for c in &plan.changes {
        if !is_namespace(&c.id) {
            continue;
        }
        match (c.action, c.blocked.is_some()) {
            (Action::Delete, false) if !named(c) => {
                *deleted.entry(c.cluster.as_str()).or_default() += 1
            }
            (Action::Delete, true) => *staying.entry(c.cluster.as_str()).or_default() += 1,
            (Action::Create, _) => {
                created.insert((c.cluster.as_str(), &c.id));
            }
            _ => {}
        }
    }
    for k in &plan.kept {
        if k.namespace.is_some() {
            *staying.entry(k.cluster.as_str()).or_default() += 1;
        }
    }
    for d in &rendered.objects {
        if is_namespace(&d.id) && !created.contains(&(d.cluster.as_str(), &d.id)) {
            *staying.entry(d.cluster.as_str()).or_default() += 1;
        }
    }
    for (cluster, n) in deleted {
        if staying.get(cluster).copied().unwrap_or(0) == 0 {
            out.push(Refusal::EveryNamespace {
                cluster: cluster.to_string(),
                namespaces: n,
            });
        }
    }
    let unnamed: BTreeSet<(String, String)> = plan
        .changes
        .iter()
        .filter(runs)
        .filter(|c| !named(c) && destroys_data(&c.id))
        .map(|c| (c.cluster.clone(), c.tenant.clone()))
        .collect();
    if !unnamed.is_empty() {
        out.push(Refusal::Unnamed {
            tenants: unnamed.into_iter().collect(),
        });
    }
    out
}

/// Whether deleting `id` destroys a tenant's data: its Namespace (which takes everything in
/// it), its database StatefulSet, a volume.
pub fn destroys_data(id: &ObjectRef) -> bool {
    DATA_BEARING.contains(&id.kind.as_str())
}

fn is_namespace(id: &ObjectRef) -> bool {
    id.kind == "Namespace" && id.namespace.is_none()
}
