//! [`plan`]: desired objects against what each cluster holds, per tenant in parallel.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde_json::Value;

use super::diff::{diff_object, drift_fields, redact, Immutable};
use super::{Action, Change, Conflict, Drift, DriftKind, Plan, PlanOptions, FORMAT_VERSION};
use crate::object::{ObjectRef, DELETION_PROTECTION_ANNOTATION};
use crate::observe::{ClusterState, LiveObject, Observed, Unowned};
use crate::render::{DesiredObject, Rendered};
use crate::spec::model::Config;

/// Kinds whose deletion or replacement can lose data.
const DATA_BEARING: &[&str] = &["Namespace", "StatefulSet", "PersistentVolumeClaim"];

/// Lookup key of an object within one cluster: kind, namespace, name.
type Key<'a> = (&'a str, Option<&'a str>, &'a str);

fn key(id: &ObjectRef) -> Key<'_> {
    (id.kind.as_str(), id.namespace.as_deref(), id.name.as_str())
}

/// What one tenant (or the leftovers of a cluster) contributes to the plan.
#[derive(Default)]
struct Part {
    changes: Vec<Change>,
    drift: Vec<Drift>,
    conflicts: Vec<Conflict>,
}

impl Part {
    fn append(&mut self, mut other: Part) {
        self.changes.append(&mut other.changes);
        self.drift.append(&mut other.drift);
        self.conflicts.append(&mut other.conflicts);
    }
}

/// Plans the changes that make the observed clusters match the desired objects.
///
/// Pure: no I/O, no cluster. Clusters that could not be observed get no changes and are listed
/// in [`Plan::unreachable`]. Changes are ordered by cluster, tenant, then applies in wave order
/// followed by deletes in reverse wave order, then identity.
pub fn plan(config: &Config, desired: &Rendered, observed: &Observed, opts: &PlanOptions) -> Plan {
    let in_git: HashMap<&str, bool> = config
        .tenants
        .iter()
        .map(|t| (t.name.as_str(), t.deletion_protection))
        .collect();

    // Desired objects by cluster, then tenant.
    let mut by_cluster: BTreeMap<&str, BTreeMap<&str, Vec<&DesiredObject>>> = BTreeMap::new();
    for obj in &desired.objects {
        by_cluster
            .entry(obj.cluster.as_str())
            .or_default()
            .entry(obj.tenant.as_str())
            .or_default()
            .push(obj);
    }
    for name in observed.clusters.keys() {
        by_cluster.entry(name.as_str()).or_default();
    }

    let mut unreachable = Vec::new();
    let mut all = Part::default();
    for (cluster, tenants) in by_cluster {
        if opts.clusters.as_ref().is_some_and(|c| !c.contains(cluster)) {
            continue;
        }
        let state = match observed.clusters.get(cluster) {
            Some(state) if state.error.is_none() => state,
            Some(state) => {
                let msg = state.error.clone().unwrap_or_default();
                unreachable.push((cluster.to_string(), msg));
                continue;
            }
            None => {
                unreachable.push((
                    cluster.to_string(),
                    format!("cluster `{cluster}` was not observed"),
                ));
                continue;
            }
        };
        let ctx = ClusterCtx::new(cluster, state, &tenants, &in_git, opts);
        all.append(ctx.run(&tenants));
    }

    let Part {
        mut changes,
        mut drift,
        mut conflicts,
    } = all;
    changes.par_sort_unstable_by(|a, b| {
        (&a.cluster, &a.tenant, change_rank(a), &a.id).cmp(&(
            &b.cluster,
            &b.tenant,
            change_rank(b),
            &b.id,
        ))
    });
    drift.sort_by(|a, b| {
        (&a.cluster, &a.tenant, a.id.wave(), &a.id).cmp(&(
            &b.cluster,
            &b.tenant,
            b.id.wave(),
            &b.id,
        ))
    });
    conflicts.sort_by(|a, b| (&a.cluster, &a.tenant, &a.id).cmp(&(&b.cluster, &b.tenant, &b.id)));

    let mut plan = Plan {
        format_version: FORMAT_VERSION.to_string(),
        revision: config.revision.clone(),
        base: None,
        changes,
        drift,
        conflicts,
        unreachable,
        summary: Default::default(),
    };
    plan.summarize();
    plan
}

/// Applies first in wave order, then deletes in reverse wave order.
fn change_rank(c: &Change) -> (u8, u8) {
    if c.action == Action::Delete {
        (1, u8::MAX - c.id.wave())
    } else {
        (0, c.id.wave())
    }
}

/// Everything the per-tenant work of one cluster reads.
struct ClusterCtx<'a> {
    cluster: &'a str,
    state: &'a ClusterState,
    live: HashMap<Key<'a>, &'a LiveObject>,
    unowned: HashMap<Key<'a>, &'a Unowned>,
    desired_keys: HashSet<Key<'a>>,
    /// Tenant -> deletion protection in the last-applied manifest of its live Namespace.
    applied_protection: HashMap<&'a str, bool>,
    in_git: &'a HashMap<&'a str, bool>,
    opts: &'a PlanOptions,
}

impl<'a> ClusterCtx<'a> {
    fn new(
        cluster: &'a str,
        state: &'a ClusterState,
        tenants: &BTreeMap<&'a str, Vec<&'a DesiredObject>>,
        in_git: &'a HashMap<&'a str, bool>,
        opts: &'a PlanOptions,
    ) -> Self {
        let live: HashMap<_, _> = state.owned.iter().map(|o| (key(&o.id), o)).collect();
        let unowned = state.unowned.iter().map(|o| (key(&o.id), o)).collect();
        let desired_keys = tenants
            .values()
            .flat_map(|objs| objs.iter().map(|o| key(&o.id)))
            .collect();
        let applied_protection = state
            .owned
            .iter()
            .filter(|o| o.id.kind == "Namespace")
            .filter_map(|o| {
                let last = o.last_applied()?;
                let flag = last
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(DELETION_PROTECTION_ANNOTATION))
                    .and_then(Value::as_str)?;
                Some((o.tenant(), flag != "false"))
            })
            .collect();
        ClusterCtx {
            cluster,
            state,
            live,
            unowned,
            desired_keys,
            applied_protection,
            in_git,
            opts,
        }
    }

    fn wanted_tenant(&self, tenant: &str) -> bool {
        self.opts
            .tenants
            .as_ref()
            .is_none_or(|t| t.contains(tenant))
    }

    fn run(&self, tenants: &BTreeMap<&'a str, Vec<&'a DesiredObject>>) -> Part {
        let groups: Vec<(&&str, &Vec<&DesiredObject>)> = tenants
            .iter()
            .filter(|(t, _)| self.wanted_tenant(t))
            .collect();
        let mut part = groups
            .par_iter()
            .map(|(_, objs)| {
                let mut part = Part::default();
                for obj in objs.iter() {
                    self.plan_desired(obj, &mut part);
                }
                part
            })
            .reduce(Part::default, |mut a, b| {
                a.append(b);
                a
            });
        let leftovers = self
            .state
            .owned
            .par_iter()
            .filter(|o| !self.desired_keys.contains(&key(&o.id)))
            .filter(|o| self.wanted_tenant(o.tenant()))
            .map(|o| {
                let mut part = Part::default();
                self.plan_leftover(o, &mut part);
                part
            })
            .reduce(Part::default, |mut a, b| {
                a.append(b);
                a
            });
        part.append(leftovers);
        part
    }

    fn plan_desired(&self, obj: &DesiredObject, part: &mut Part) {
        let mut desired = obj.manifest.to_value();
        let kind = obj.id.kind.as_str();
        let base = |action| Change {
            id: obj.id.clone(),
            cluster: self.cluster.to_string(),
            tenant: obj.tenant.clone(),
            action,
            fields: Vec::new(),
            reason: None,
            blocked: None,
            desired: None,
        };
        let (diff, adopted) = match self.live.get(&key(&obj.id)) {
            Some(live) => {
                // When the annotation holds exactly the desired text, last-applied equals
                // desired: one parse, one comparison serves both the diff and drift.
                let same = live.last_applied_is(obj.manifest.as_str());
                let last: Option<Value> = if same { None } else { live.last_applied() };
                // Only the fields desired (= last applied) sets are compared: parse just those.
                let live_manifest = if same {
                    live.manifest_within(&desired)
                } else {
                    live.manifest()
                };
                let diff = diff_object(
                    kind,
                    &desired,
                    &live_manifest,
                    if same { Some(&desired) } else { last.as_ref() },
                );
                let drifted = if same {
                    diff.fields
                        .iter()
                        .map(|f| super::FieldChange {
                            path: f.path.clone(),
                            before: f.after.clone(),
                            after: f.before.clone(),
                            sensitive: f.sensitive,
                        })
                        .collect()
                } else {
                    last.as_ref()
                        .map(|l| drift_fields(kind, l, &live_manifest))
                        .unwrap_or_default()
                };
                self.push_drift(&obj.id, &obj.tenant, drifted, part);
                (diff, None)
            }
            None => match self.unowned.get(&key(&obj.id)) {
                Some(other) if self.opts.adopt => (
                    diff_object(kind, &desired, &other.manifest, None),
                    Some(other.managed_by.clone()),
                ),
                Some(other) => {
                    part.conflicts.push(Conflict {
                        id: obj.id.clone(),
                        cluster: self.cluster.to_string(),
                        tenant: obj.tenant.clone(),
                        managed_by: other.managed_by.clone(),
                    });
                    return;
                }
                None => {
                    redact(&mut desired, kind == "Secret");
                    let mut change = base(Action::Create);
                    change.desired = Some(desired);
                    part.changes.push(change);
                    return;
                }
            },
        };
        if diff.fields.is_empty() && adopted.is_none() {
            return;
        }
        let mut change = base(Action::Update);
        if let Some(managed_by) = adopted {
            change.reason = Some(match managed_by {
                Some(m) => format!("adopts an object managed by `{m}`"),
                None => "adopts an object berth does not own".to_string(),
            });
        }
        match diff.immutable {
            Some(Immutable::Replace(reason)) => {
                change.action = Action::Replace;
                if DATA_BEARING.contains(&kind) && !self.opts.allow_replace {
                    change.blocked = Some(replace_blocked(&obj.id));
                }
                change.reason = Some(reason);
            }
            Some(Immutable::Forbidden(reason)) => change.blocked = Some(reason),
            None => {}
        }
        change.fields = diff.fields;
        redact(&mut desired, kind == "Secret");
        change.desired = Some(desired);
        part.changes.push(change);
    }

    /// An owned live object that is no longer desired: drift, and a delete when pruning.
    fn plan_leftover(&self, live: &LiveObject, part: &mut Part) {
        let tenant = live.tenant();
        if let Some(last) = live.last_applied() {
            let fields = drift_fields(&live.id.kind, &last, &live.manifest());
            self.push_drift(&live.id, tenant, fields, part);
        }
        if !self.opts.prune {
            return;
        }
        let blocked = if DATA_BEARING.contains(&live.id.kind.as_str()) && !self.opts.allow_destroy {
            self.protection_reason(tenant)
        } else {
            None
        };
        part.changes.push(Change {
            id: live.id.clone(),
            cluster: self.cluster.to_string(),
            tenant: tenant.to_string(),
            action: Action::Delete,
            fields: Vec::new(),
            reason: None,
            blocked,
            desired: None,
        });
    }

    /// Why deleting a data-bearing object of `tenant` is blocked, if it is.
    fn protection_reason(&self, tenant: &str) -> Option<String> {
        match (self.applied_protection.get(tenant), self.in_git.get(tenant)) {
            (Some(true), _) => Some(format!(
                "tenant `{tenant}` has deletion_protection = true in what was last applied; set \
                 it to false and apply, or pass --allow-destroy"
            )),
            (_, Some(true)) => Some(format!(
                "tenant `{tenant}` has deletion_protection = true; set it to false and apply, \
                 or pass --allow-destroy"
            )),
            (Some(false), _) | (None, Some(false)) => None,
            (None, None) => Some(format!(
                "the deletion protection of tenant `{tenant}` is unknown (its Namespace has no \
                 readable last-applied state); pass --allow-destroy"
            )),
        }
    }

    fn push_drift(
        &self,
        id: &ObjectRef,
        tenant: &str,
        fields: Vec<super::FieldChange>,
        part: &mut Part,
    ) {
        if fields.is_empty() {
            return;
        }
        part.drift.push(Drift {
            id: id.clone(),
            cluster: self.cluster.to_string(),
            tenant: tenant.to_string(),
            kind: DriftKind::Changed,
            fields,
        });
    }
}

fn replace_blocked(id: &ObjectRef) -> String {
    match id.kind.as_str() {
        "StatefulSet" => {
            format!("replacing {id} deletes its pods; its volumes are kept; pass --allow-replace")
        }
        _ => format!("replacing {id} deletes its data; pass --allow-replace"),
    }
}
