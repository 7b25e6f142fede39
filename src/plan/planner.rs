//! [`plan`]: desired objects against what each cluster holds, per tenant in parallel.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde_json::Value;

use super::diff::{diff_object, drift_fields, redact, Immutable};
use super::restores::{records_of, restore_state, RestoreRecord, RestoreStatus};
use super::unchanged::unchanged;
use super::{
    Action, Change, Conflict, Drift, DriftKind, KeptTenant, Plan, PlanOptions, Unlisted,
    Unobserved, Warning, FORMAT_VERSION,
};
use crate::object::{
    ObjectRef, DELETION_PROTECTION_ANNOTATION, RESTORE_LABEL, RESTORE_RECORD_PREFIX,
};
use crate::observe::{ClusterState, LiveObject, Observed, Unowned};
use crate::render::{DesiredObject, Rendered};
use crate::spec::model::Config;

use super::guard::DATA_BEARING;

/// Lookup key of an object within one cluster: kind, namespace, name.
type Key<'a> = (&'a str, Option<&'a str>, &'a str);

/// Maps keyed by object identity, with one entry per object of a cluster: a fast hasher
/// (the keys are names, not adversarial input to a long-lived service).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

fn fast() -> foldhash::fast::RandomState {
    foldhash::fast::RandomState::default()
}

fn key(id: &ObjectRef) -> Key<'_> {
    (id.kind.as_str(), id.namespace.as_deref(), id.name.as_str())
}

/// What one tenant (or the leftovers of a cluster) contributes to the plan.
#[derive(Default)]
struct Part {
    changes: Vec<Change>,
    drift: Vec<Drift>,
    conflicts: Vec<Conflict>,
    restores: Vec<RestoreStatus>,
    /// Objects of tenants removed from the configuration that are kept whole.
    kept: Vec<ObjectRef>,
    warnings: Vec<Warning>,
    returned: Vec<super::Returned>,
}

impl Part {
    fn append(&mut self, mut other: Part) {
        self.changes.append(&mut other.changes);
        self.drift.append(&mut other.drift);
        self.conflicts.append(&mut other.conflicts);
        self.restores.append(&mut other.restores);
        self.kept.append(&mut other.kept);
        self.warnings.append(&mut other.warnings);
        self.returned.append(&mut other.returned);
    }
}

/// The restore request a Job is for: its [`RESTORE_LABEL`].
fn restore_of(job: &Value) -> Option<&str> {
    job.pointer("/metadata/labels")
        .and_then(|l| l.get(RESTORE_LABEL))
        .and_then(Value::as_str)
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
    let mut unobserved = Vec::new();
    let mut unlisted = Vec::new();
    let mut warnings = Vec::new();
    let mut kept = Vec::new();
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
        if state.gaps.is_empty() {
            let ctx = ClusterCtx::new(cluster, state, &tenants, &in_git, opts);
            let mut part = ctx.run(&tenants);
            kept.extend(ctx.kept(std::mem::take(&mut part.kept)));
            all.append(part);
            warnings.extend(missing_secrets(config, cluster, state, opts));
            continue;
        }
        // Part of the cluster could not be read: the tenants it leaves unknown are left out,
        // their live objects with their desired ones, and the others are planned.
        let left_out = unknown_tenants(state, &tenants, opts);
        unlisted.extend(state.gaps.kinds.iter().map(|(kind, why)| Unlisted {
            cluster: cluster.to_string(),
            kind: kind.to_string(),
            reason: why.clone(),
        }));
        unobserved.extend(left_out.iter().map(|(tenant, why)| Unobserved {
            cluster: cluster.to_string(),
            tenant: tenant.to_string(),
            reason: why.clone(),
        }));
        let known = ClusterState {
            owned: state
                .owned
                .iter()
                .filter(|o| !left_out.contains_key(o.tenant()))
                .cloned()
                .collect(),
            ..state.clone()
        };
        let tenants: BTreeMap<&str, Vec<&DesiredObject>> = tenants
            .into_iter()
            .filter(|(t, _)| !left_out.contains_key(t))
            .collect();
        let ctx = ClusterCtx::new(cluster, &known, &tenants, &in_git, opts);
        let mut part = ctx.run(&tenants);
        kept.extend(ctx.kept(std::mem::take(&mut part.kept)));
        all.append(part);
        let secrets_listed = !state.gaps.kinds.iter().any(|(k, _)| k.kind == "Secret");
        if secrets_listed {
            warnings.extend(
                missing_secrets(config, cluster, &known, opts)
                    .into_iter()
                    .filter(|w| !left_out.contains_key(w.tenant.as_str())),
            );
        }
    }

    let Part {
        mut changes,
        mut drift,
        mut conflicts,
        mut restores,
        warnings: scale_downs,
        mut returned,
        ..
    } = all;
    returned.sort_by(|a, b| (&a.cluster, &a.tenant).cmp(&(&b.cluster, &b.tenant)));
    warnings.extend(scale_downs);
    restores
        .sort_by(|a, b| (&a.cluster, &a.tenant, &a.name).cmp(&(&b.cluster, &b.tenant, &b.name)));
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
        unobserved,
        unlisted,
        restores,
        warnings,
        kept,
        returned,
        allow_destroy: opts.allow_destroy.clone(),
        correct_drift: opts.correct_drift,
        narrowed: None,
        summary: Default::default(),
    };
    plan.warnings.sort_by(|a, b| {
        (&a.cluster, &a.tenant, &a.kind, &a.message)
            .cmp(&(&b.cluster, &b.tenant, &b.kind, &b.message))
    });
    for refusal in super::guard::refusals(&plan, desired, config.policy.max_deletions) {
        plan.warnings.push(refusal_warning(&refusal));
    }
    plan.summarize();
    plan
}

/// The tenants of a partly read cluster that cannot be planned, with why: those with a desired
/// object of a kind that could not be listed or that could not be read, and, when a kind
/// could not be listed, those removed from the configuration (what destroying them would
/// delete is not known).
fn unknown_tenants<'a>(
    state: &'a ClusterState,
    tenants: &BTreeMap<&'a str, Vec<&'a DesiredObject>>,
    opts: &PlanOptions,
) -> BTreeMap<&'a str, String> {
    let mut out: BTreeMap<&'a str, String> = BTreeMap::new();
    let planned = |tenant: &str| opts.tenants.as_ref().is_none_or(|t| t.contains(tenant));
    let unread: HashMap<&ObjectRef, &str> = state
        .gaps
        .objects
        .iter()
        .map(|(id, why)| (id, why.as_str()))
        .collect();
    for (tenant, objects) in tenants {
        if !planned(tenant) {
            continue;
        }
        for obj in objects {
            let reason = if let Some((kind, _)) = state
                .gaps
                .kinds
                .iter()
                .find(|(k, _)| k.api_version == obj.id.api_version && k.kind == obj.id.kind)
            {
                // Why is said once, with the kind (`Plan::unlisted`).
                format!("{kind} could not be listed (see below)")
            } else if let Some(why) = unread.get(&obj.id) {
                format!("{} could not be read: {why}", obj.id)
            } else {
                continue;
            };
            out.entry(*tenant).or_insert(reason);
            break;
        }
    }
    if let Some((kind, _)) = state.gaps.kinds.iter().find(|(k, _)| k.kind != "Secret") {
        for live in &state.owned {
            let tenant = live.tenant();
            if !tenant.is_empty() && !tenants.contains_key(tenant) && planned(tenant) {
                out.entry(tenant).or_insert_with(|| {
                    format!(
                        "removed from the configuration, and {kind} could not be listed (see \
                         below): what removing it deletes is unknown"
                    )
                });
            }
        }
    }
    out
}

/// A plan-time warning of what apply will refuse.
fn refusal_warning(refusal: &super::guard::Refusal) -> Warning {
    let (cluster, tenant) = match refusal {
        super::guard::Refusal::EveryNamespace { cluster, .. } => (cluster.clone(), String::new()),
        super::guard::Refusal::Unnamed { tenants } if tenants.len() == 1 => tenants[0].clone(),
        _ => (String::new(), String::new()),
    };
    let (message, help) = match refusal {
        super::guard::Refusal::Unnamed { .. } => (
            format!("`apply --auto-approve` and the daemon will refuse this plan: {refusal}"),
            "or run `berth apply` at a terminal and confirm there".to_string(),
        ),
        _ => (
            format!("apply will refuse this plan: {refusal}"),
            "nothing is written when apply refuses".to_string(),
        ),
    };
    Warning {
        cluster,
        tenant,
        kind: if refusal.mass() {
            "mass_deletion".into()
        } else {
            "destroy_not_named".into()
        },
        object: None,
        message,
        help: Some(help),
    }
}

/// Credentials Secrets that the backup and restore jobs of the cluster's tenants read and
/// that do not exist in their namespaces.
fn missing_secrets(
    config: &Config,
    cluster: &str,
    state: &ClusterState,
    opts: &PlanOptions,
) -> Vec<Warning> {
    let mut out = Vec::new();
    for t in &config.tenants {
        if t.cluster != cluster || opts.tenants.as_ref().is_some_and(|w| !w.contains(&t.name)) {
            continue;
        }
        for (secret, (location, users)) in crate::observe::credentials_secrets(t) {
            if state.has_secret(&t.namespace, &secret) != Some(false) {
                continue;
            }
            out.push(Warning {
                cluster: cluster.to_string(),
                tenant: t.name.clone(),
                kind: "missing_secret".into(),
                object: Some(ObjectRef {
                    api_version: "v1".into(),
                    kind: "Secret".into(),
                    namespace: Some(t.namespace.clone()),
                    name: secret.clone(),
                }),
                message: format!(
                    "Secret `{secret}` does not exist in namespace `{}`: the credentials of backup \
                     location `{location}`, read by {}",
                    t.namespace,
                    users.join(", ")
                ),
                help: Some(format!(
                    "create it before the first backup runs: `kubectl -n {} create secret \
                     generic {secret} --from-literal=KEY=VALUE ...` with the keys the jobs read \
                     as environment variables",
                    t.namespace
                )),
            });
        }
    }
    out
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
    live: FastMap<Key<'a>, &'a LiveObject>,
    unowned: FastMap<Key<'a>, &'a Unowned>,
    desired_keys: FastSet<Key<'a>>,
    /// Tenant -> deletion protection in the last-applied manifest of its live Namespace.
    applied_protection: HashMap<&'a str, bool>,
    /// Namespace name -> (its tenant, the restore records on it).
    records: HashMap<&'a str, (&'a str, BTreeMap<String, RestoreRecord>)>,
    /// Namespace name -> `Kind/name` of every object its last complete apply left
    /// ([`INVENTORY_ANNOTATION`](crate::object::INVENTORY_ANNOTATION)).
    inventory: HashMap<&'a str, HashSet<String>>,
    in_git: &'a HashMap<&'a str, bool>,
    /// Tenants with desired objects on this cluster.
    desired_tenants: HashSet<&'a str>,
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
        // The two big lookups (one entry per object) are built at the same time.
        let (live, desired_keys) = rayon::join(
            || {
                let mut live = FastMap::with_capacity_and_hasher(state.owned.len(), fast());
                live.extend(state.owned.iter().map(|o| (key(&o.id), o)));
                live
            },
            || {
                let n = tenants.values().map(Vec::len).sum();
                let mut keys = FastSet::with_capacity_and_hasher(n, fast());
                keys.extend(tenants.values().flatten().map(|o| key(&o.id)));
                keys
            },
        );
        let unowned = state.unowned.iter().map(|o| (key(&o.id), o)).collect();
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
        let records = state
            .owned
            .iter()
            .filter(|o| o.id.kind == "Namespace" && o.text().contains(RESTORE_RECORD_PREFIX))
            .map(|o| (o.id.name.as_str(), (o.tenant(), records_of(&o.manifest()))))
            .collect();
        let inventory = state
            .owned
            .iter()
            .filter(|o| {
                o.id.kind == "Namespace" && o.text().contains(crate::object::INVENTORY_ANNOTATION)
            })
            .filter_map(|o| {
                let m = o.manifest();
                let list = m
                    .pointer("/metadata/annotations")?
                    .get(crate::object::INVENTORY_ANNOTATION)?
                    .as_str()?
                    .split(',')
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect();
                Some((o.id.name.as_str(), list))
            })
            .collect();
        ClusterCtx {
            cluster,
            state,
            live,
            unowned,
            desired_keys,
            applied_protection,
            records,
            inventory,
            in_git,
            desired_tenants: tenants.keys().copied().collect(),
            opts,
        }
    }

    /// Why `obj` cannot be applied now, if it cannot: its live object, or its namespace, has a
    /// `deletionTimestamp` (finalizers or the namespace controller are still at work).
    fn being_deleted(&self, obj: &DesiredObject, live: Option<&LiveObject>) -> Option<String> {
        let deleting = |o: &LiveObject| o.text().contains("\"deletionTimestamp\"");
        if let Some(ns) = obj.id.namespace.as_deref() {
            if self
                .live
                .get(&("Namespace", None, ns))
                .is_some_and(|n| deleting(n))
            {
                return Some(format!("namespace `{ns}` is being deleted"));
            }
        }
        live.filter(|l| deleting(l))
            .map(|_| format!("{} is being deleted", obj.id))
    }

    /// The tenants whose `objects` were kept (see [`Self::plan_leftover`]), one entry each.
    fn kept(&self, objects: Vec<ObjectRef>) -> Vec<KeptTenant> {
        let mut by_tenant: BTreeMap<&str, Vec<ObjectRef>> = BTreeMap::new();
        for id in objects {
            let Some(live) = self.live.get(&key(&id)) else {
                continue;
            };
            by_tenant.entry(live.tenant()).or_default().push(id);
        }
        by_tenant
            .into_iter()
            .map(|(tenant, mut objects)| {
                objects.sort_by(|a, b| (u8::MAX - a.wave(), a).cmp(&(u8::MAX - b.wave(), b)));
                let namespace = objects
                    .iter()
                    .find(|o| o.kind == "Namespace" && o.namespace.is_none())
                    .and_then(|o| self.live.get(&key(o)))
                    .map(|ns| (ns.id.name.clone(), ns.manifest()));
                let annotation = |name: &str| {
                    namespace
                        .as_ref()
                        .and_then(|(_, m)| m.pointer("/metadata/annotations")?.get(name)?.as_str())
                        .map(str::to_string)
                };
                let reason = self
                    .keep_reason(tenant)
                    .unwrap_or_else(|| "kept".to_string());
                KeptTenant {
                    cluster: self.cluster.to_string(),
                    tenant: tenant.to_string(),
                    removed_in: annotation(crate::object::REMOVED_ANNOTATION),
                    last_applied_revision: annotation(crate::object::REVISION_ANNOTATION),
                    namespace: namespace.map(|(name, _)| name),
                    reason,
                    objects,
                }
            })
            .collect()
    }

    /// Why a tenant removed from this cluster's configuration is kept whole, if it is: it is
    /// protected (or its protection is unknown) and not permitted by name, or pruning is off.
    fn keep_reason(&self, tenant: &str) -> Option<String> {
        if !self.opts.prune {
            return Some(
                "policy.prune = false: berth deletes nothing that leaves the configuration"
                    .to_string(),
            );
        }
        if self.opts.destroy_permitted(tenant) {
            return None;
        }
        match (self.applied_protection.get(tenant), self.in_git.get(tenant)) {
            (Some(true), _) | (None, Some(true)) => Some(
                "kept by deletion protection (deletion_protection = true when it was last \
                 applied)"
                    .to_string(),
            ),
            (Some(false), _) | (None, Some(false)) => None,
            (None, None) => Some(
                "kept: its deletion protection is unknown (its Namespace has no readable \
                 last-applied state)"
                    .to_string(),
            ),
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
        part.restores = self.restores(tenants);
        part
    }

    /// The record of restore `name` in `namespace`, if any.
    fn record(&self, namespace: Option<&str>, name: &str) -> Option<&RestoreRecord> {
        self.records.get(namespace?)?.1.get(name)
    }

    /// Every restore of the cluster's wanted tenants: requested in the configuration, with a
    /// Job berth owns, or recorded on a Namespace.
    fn restores(&self, tenants: &BTreeMap<&'a str, Vec<&'a DesiredObject>>) -> Vec<RestoreStatus> {
        // (namespace, restore name) -> (tenant, Job, in the configuration)
        let mut found: BTreeMap<(String, String), (String, ObjectRef, bool)> = BTreeMap::new();
        for obj in tenants.values().flatten() {
            if obj.id.kind != "Job" || !self.wanted_tenant(&obj.tenant) {
                continue;
            }
            let manifest = obj.manifest.to_value();
            if let Some(name) = restore_of(&manifest) {
                let ns = obj.id.namespace.clone().unwrap_or_default();
                found.insert(
                    (ns, name.to_string()),
                    (obj.tenant.clone(), obj.id.clone(), true),
                );
            }
        }
        let mut jobs: HashMap<(String, String), Value> = HashMap::new();
        for live in &self.state.owned {
            if live.id.kind != "Job" || !self.wanted_tenant(live.tenant()) {
                continue;
            }
            let manifest = live.manifest();
            let Some(name) = restore_of(&manifest).map(str::to_string) else {
                continue;
            };
            let key = (live.id.namespace.clone().unwrap_or_default(), name);
            found
                .entry(key.clone())
                .or_insert_with(|| (live.tenant().to_string(), live.id.clone(), false));
            jobs.insert(key, manifest);
        }
        for (ns, (tenant, records)) in &self.records {
            if !self.wanted_tenant(tenant) {
                continue;
            }
            for name in records.keys() {
                found
                    .entry((ns.to_string(), name.clone()))
                    .or_insert_with(|| {
                        (
                            tenant.to_string(),
                            ObjectRef {
                                api_version: "batch/v1".into(),
                                kind: "Job".into(),
                                namespace: Some(ns.to_string()),
                                name: format!("restore-{name}"),
                            },
                            false,
                        )
                    });
            }
        }
        found
            .into_iter()
            .map(|((ns, name), (tenant, job, in_config))| {
                let record = self.record(Some(&ns), &name);
                let (state, at, message, record) =
                    restore_state(record, jobs.get(&(ns.clone(), name.clone())));
                RestoreStatus {
                    cluster: self.cluster.to_string(),
                    tenant,
                    name,
                    job,
                    state,
                    at,
                    message,
                    in_config,
                    record,
                }
            })
            .collect()
    }

    fn plan_desired(&self, obj: &DesiredObject, part: &mut Part) {
        let kind = obj.id.kind.as_str();
        let live = self.live.get(&key(&obj.id));
        // An object being deleted (or in a namespace being deleted) is not there to keep:
        // it is created again once it is gone. Until then the change waits, and says why.
        if let Some(why) = self.being_deleted(obj, live.copied()) {
            part.changes.push(Change {
                id: obj.id.clone(),
                cluster: self.cluster.to_string(),
                tenant: obj.tenant.clone(),
                action: Action::Create,
                fields: Vec::new(),
                reason: Some(why.clone()),
                blocked: Some(format!(
                    "{why}: berth creates it again once it is gone; apply again then"
                )),
                desired: None,
            });
            return;
        }
        // A restore runs once: once its Job exists or the Namespace records it, its Job is
        // never created, updated or replaced again, and changes to it are not drift.
        if kind == "Job" {
            let desired = obj.manifest.to_value();
            if let Some(name) = restore_of(&desired) {
                if live.is_some() || self.record(obj.id.namespace.as_deref(), name).is_some() {
                    return;
                }
            }
        }
        if kind == "Namespace" {
            if let Some(l) = live.filter(|l| l.text().contains(crate::object::REMOVED_ANNOTATION)) {
                part.returned.push(super::Returned {
                    cluster: self.cluster.to_string(),
                    tenant: obj.tenant.clone(),
                    namespace: l.id.clone(),
                });
            }
        }
        // When the annotation holds exactly the desired text, last-applied equals desired.
        let same = live.is_some_and(|l| l.last_applied_is(obj.manifest.as_str()));
        // The common case, an object nobody touched: nothing to parse into trees.
        if same && live.is_some_and(|l| unchanged(obj.manifest.as_str(), l.text())) {
            return;
        }
        let mut desired = obj.manifest.to_value();
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
        let (diff, adopted) = match live {
            Some(live) => {
                // When last-applied equals desired, one parse and one comparison serve both
                // the diff and drift.
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
                // Last applied equals desired: the configuration does not change this object,
                // so every difference is drift. Reported, and put back only when correcting.
                if same && !self.opts.correct_drift {
                    return;
                }
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
                    // Applied before (in the Namespace's inventory) and gone: deleted
                    // outside berth.
                    let applied_before = obj.id.namespace.as_deref().is_some_and(|ns| {
                        self.inventory.get(ns).is_some_and(|inv| {
                            inv.contains(&crate::object::inventory_entry(&obj.id))
                        })
                    });
                    if applied_before {
                        part.drift.push(Drift {
                            id: obj.id.clone(),
                            cluster: self.cluster.to_string(),
                            tenant: obj.tenant.clone(),
                            kind: DriftKind::Missing,
                            fields: Vec::new(),
                        });
                        // Deleted outside berth: drift like any other, created again only
                        // when correcting.
                        if !self.opts.correct_drift {
                            return;
                        }
                    }
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
        if kind == "StatefulSet" && change.action == Action::Replace {
            let replicas = live
                .and_then(|l| {
                    l.manifest()
                        .pointer("/spec/replicas")
                        .and_then(Value::as_u64)
                })
                .unwrap_or(0);
            super::volumes::explain(&mut change, replicas, self.opts.allow_replace);
        }
        if kind == "StatefulSet" && change.action == Action::Update {
            part.warnings
                .extend(scale_down(self.cluster, &change, &desired));
        }
        redact(&mut desired, kind == "Secret");
        change.desired = Some(desired);
        part.changes.push(change);
    }

    /// An owned live object that is no longer desired: drift, and a delete when pruning.
    fn plan_leftover(&self, live: &LiveObject, part: &mut Part) {
        let tenant = live.tenant();
        // A restore's Job stays when its request leaves the configuration: deleting a running
        // restore would break it half-way, and nothing is undone. Its Namespace takes it along.
        if live.id.kind == "Job" && restore_of(&live.manifest()).is_some() {
            return;
        }
        if let Some(last) = live.last_applied() {
            let fields = drift_fields(&live.id.kind, &last, &live.manifest());
            self.push_drift(&live.id, tenant, fields, part);
        }
        // A tenant that left this cluster's configuration goes whole or not at all: while its
        // deletion is not permitted, not one of its objects (network policies, quotas and
        // bindings protect its data too) is destroyed.
        if !self.desired_tenants.contains(tenant) && self.keep_reason(tenant).is_some() {
            part.kept.push(live.id.clone());
            return;
        }
        if !self.opts.prune {
            return;
        }
        let blocked = if DATA_BEARING.contains(&live.id.kind.as_str())
            && !self.opts.destroy_permitted(tenant)
        {
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
                 it to false and apply, or pass --allow-destroy {tenant}"
            )),
            (_, Some(true)) => Some(format!(
                "tenant `{tenant}` has deletion_protection = true; set it to false and apply, \
                 or pass --allow-destroy {tenant}"
            )),
            (Some(false), _) | (None, Some(false)) => None,
            (None, None) => Some(format!(
                "the deletion protection of tenant `{tenant}` is unknown (its Namespace has no \
                 readable last-applied state); pass --allow-destroy {tenant}"
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

/// The warning of a StatefulSet update that lowers `spec.replicas`: which pods go, and what
/// becomes of their volumes (kept unless the retention policy deletes them when scaled).
fn scale_down(cluster: &str, change: &Change, desired: &Value) -> Option<Warning> {
    let field = change.fields.iter().find(|f| f.path == "spec.replicas")?;
    let before = field.before.as_ref()?.as_u64()?;
    let after = field.after.as_ref()?.as_u64()?;
    if after >= before {
        return None;
    }
    let name = &change.id.name;
    let pods: Vec<String> = (after..before)
        .rev()
        .map(|i| format!("{name}-{i}"))
        .collect();
    let claims: Vec<String> = desired
        .pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/metadata/name")?.as_str())
        .flat_map(|claim| {
            (after..before)
                .rev()
                .map(move |i| format!("{claim}-{name}-{i}"))
        })
        .collect();
    let deleted_when_scaled = desired
        .pointer("/spec/persistentVolumeClaimRetentionPolicy/whenScaled")
        .and_then(Value::as_str)
        == Some("Delete");
    let one = pods.len() == 1;
    let (their, volumes, are) = if one {
        ("its", "volume", "is")
    } else {
        ("their", "volumes", "are")
    };
    let volumes = if claims.is_empty() {
        format!(
            "{} no volumes of {} own",
            if one { "it has" } else { "they have" },
            their
        )
    } else if deleted_when_scaled {
        format!(
            "{their} {volumes} ({}) {are} deleted with {} (persistentVolumeClaimRetentionPolicy.whenScaled = Delete)",
            claims.join(", "),
            if one { "it" } else { "them" }
        )
    } else {
        format!(
            "{their} {volumes} ({}) {}, and {are} used again if the database scales back up",
            claims.join(", "),
            if one { "stays" } else { "stay" }
        )
    };
    Some(Warning {
        cluster: cluster.to_string(),
        tenant: change.tenant.clone(),
        kind: "scale_down".into(),
        object: Some(change.id.clone()),
        message: format!(
            "{} scales down from {before} to {after} replicas: {} {} {are} removed{}; {volumes}",
            change.id,
            if one { "pod" } else { "pods" },
            pods.join(", "),
            if one { "" } else { ", highest ordinal first" },
        ),
        help: Some(
            "decommission those nodes in the database before applying, so that the data they \
             hold is moved to the nodes that stay"
                .to_string(),
        ),
    })
}

fn replace_blocked(id: &ObjectRef) -> String {
    match id.kind.as_str() {
        "StatefulSet" => {
            format!("replacing {id} deletes its pods; its volumes are kept; pass --allow-replace")
        }
        _ => format!("replacing {id} deletes its data; pass --allow-replace"),
    }
}
