//! Reading what berth owns in each cluster, clusters in parallel.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use futures::StreamExt;
use serde_json::Value;

use super::{ClusterState, LiveObject, Observed, Unowned};
use crate::cluster::{self, Backend, ClusterError, ClusterSettings, KindRef};
use crate::object::{ObjectRef, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::render::Rendered;
use crate::spec::model::Config;

/// How to observe.
#[derive(Debug, Clone)]
pub struct ObserveOptions {
    /// Objects per LIST page.
    pub page_size: usize,
    /// GETs in flight at once per cluster (for names berth wants to create).
    pub get_concurrency: usize,
    /// Keep `metadata.managedFields` of owned objects. Off by default: the plan diffs against
    /// what berth last applied ([`super::LAST_APPLIED_ANNOTATION`]), and managed fields
    /// roughly double the memory a live object takes.
    pub keep_managed_fields: bool,
    /// Only these tenants (`--tenant`): the LISTs select `berth.io/tenant in (...)`, so the
    /// cost follows the tenants asked for, not the size of the cluster.
    pub tenants: Option<std::collections::BTreeSet<String>>,
}

impl Default for ObserveOptions {
    fn default() -> Self {
        Self {
            page_size: cluster::DEFAULT_PAGE_SIZE,
            get_concurrency: 16,
            keep_managed_fields: false,
            tenants: None,
        }
    }
}

/// Connects to every cluster of the config. Connecting to a Kubernetes cluster reads its
/// kubeconfig but makes no request; an embedded cluster is opened (its store created) only
/// when a tenant is placed on it or its store already exists (it may hold objects to prune).
pub async fn connect_all(
    config: &Config,
    settings: &ClusterSettings,
) -> BTreeMap<String, Result<Backend, ClusterError>> {
    connect_all_with(config, settings, &mut cluster::BackendCache::default()).await
}

/// [`connect_all`] through a [`cluster::BackendCache`].
pub async fn connect_all_with(
    config: &Config,
    settings: &ClusterSettings,
    cache: &mut cluster::BackendCache,
) -> BTreeMap<String, Result<Backend, ClusterError>> {
    let with_tenants: BTreeSet<&str> = config.tenants.iter().map(|t| t.cluster.as_str()).collect();
    let mut out = BTreeMap::new();
    for (name, cluster) in &config.clusters {
        if cluster.target == crate::spec::model::ClusterTarget::Embedded
            && !with_tenants.contains(name.as_str())
            && !cluster::embedded_store_path(&settings.state_dir, name).exists()
        {
            continue;
        }
        out.insert(name.clone(), cache.connect(cluster, settings).await);
    }
    out
}

/// Observes every cluster in `backends` and every cluster that desired objects go to (those
/// without a backend get an error), in parallel.
pub async fn observe(
    config: &Config,
    desired: &Rendered,
    backends: &BTreeMap<String, Backend>,
    opts: &ObserveOptions,
) -> Observed {
    let connections: BTreeMap<String, Result<Backend, String>> = backends
        .iter()
        .map(|(k, b)| (k.clone(), Ok(b.clone())))
        .collect();
    observe_inner(config, desired, connections, opts).await
}

/// Like [`observe`], from the results of [`connect_all`]: a cluster that could not be
/// connected to gets that error.
pub async fn observe_connections(
    config: &Config,
    desired: &Rendered,
    connections: &BTreeMap<String, Result<Backend, ClusterError>>,
    opts: &ObserveOptions,
) -> Observed {
    observe_prelisted(config, desired, connections, Prelisted::default(), opts).await
}

/// What berth owns of the kinds it manages ([`KindRef::managed`]) in each connected
/// cluster, listed ahead by [`prelist`], before the desired objects are known.
#[derive(Debug, Default)]
pub struct Prelisted {
    clusters: BTreeMap<String, cluster::Listing>,
}

/// Lists what berth owns of the kinds it manages in every connected cluster (only
/// `opts.tenants` when set), clusters in parallel: the same LISTs [`observe`] makes first,
/// and they do not depend on what renders, so a caller can render meanwhile (cluster I/O and
/// the store's reads overlap the rendering). [`observe_prelisted`] then lists only the
/// kinds rendered beyond these, and goes on.
pub async fn prelist(
    connections: &BTreeMap<String, Result<Backend, ClusterError>>,
    opts: &ObserveOptions,
) -> Prelisted {
    let selector = selector(opts);
    let mut tasks = tokio::task::JoinSet::new();
    for (name, conn) in connections {
        let Ok(backend) = conn else { continue };
        let (name, backend, selector) = (name.clone(), backend.clone(), selector.clone());
        let (page_size, keep) = (opts.page_size, opts.keep_managed_fields);
        tasks.spawn(async move {
            let listed = backend
                .list_owned_each(&KindRef::managed(), page_size, keep, &selector)
                .await;
            (name, listed)
        });
    }
    let mut clusters = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, listed)) => {
                clusters.insert(name, listed);
            }
            // Not recorded: observe lists that cluster itself.
            Err(e) => tracing::error!("listing a cluster ahead failed: {e}"),
        }
    }
    Prelisted { clusters }
}

/// The label selector of observe's LISTs: what berth owns, of `opts.tenants` when set.
fn selector(opts: &ObserveOptions) -> String {
    match &opts.tenants {
        Some(t) => cluster::tenant_selector(t),
        None => cluster::owned_selector(),
    }
}

/// [`observe_connections`], with the LISTs [`prelist`] made ahead.
pub async fn observe_prelisted(
    config: &Config,
    desired: &Rendered,
    connections: &BTreeMap<String, Result<Backend, ClusterError>>,
    prelisted: Prelisted,
    opts: &ObserveOptions,
) -> Observed {
    let connections = connections
        .iter()
        .map(|(k, r)| {
            let r = match r {
                Ok(b) => Ok(b.clone()),
                Err(e) => Err(e.to_string()),
            };
            (k.clone(), r)
        })
        .collect();
    observe_inner_with(config, desired, connections, opts, prelisted).await
}

async fn observe_inner(
    config: &Config,
    desired: &Rendered,
    connections: BTreeMap<String, Result<Backend, String>>,
    opts: &ObserveOptions,
) -> Observed {
    observe_inner_with(config, desired, connections, opts, Prelisted::default()).await
}

async fn observe_inner_with(
    config: &Config,
    desired: &Rendered,
    mut connections: BTreeMap<String, Result<Backend, String>>,
    opts: &ObserveOptions,
    mut prelisted: Prelisted,
) -> Observed {
    let mut wanted: BTreeMap<String, Vec<ObjectRef>> = BTreeMap::new();
    for d in &desired.objects {
        if opts
            .tenants
            .as_ref()
            .is_some_and(|t| !t.contains(&d.tenant))
        {
            continue;
        }
        wanted
            .entry(d.cluster.clone())
            .or_default()
            .push(d.id.clone());
    }
    for name in wanted.keys() {
        if !connections.contains_key(name) {
            let why = if config.clusters.contains_key(name) {
                format!("cluster `{name}`: not connected")
            } else {
                format!("cluster `{name}`: not defined in platform.toml")
            };
            connections.insert(name.clone(), Err(why));
        }
    }
    // Clusters with a tenant whose backups or restores read a credentials Secret.
    let needs_secrets: BTreeSet<&str> = config
        .tenants
        .iter()
        .filter(|t| opts.tenants.as_ref().is_none_or(|w| w.contains(&t.name)))
        .filter(|t| !credentials_secrets(t).is_empty())
        .map(|t| t.cluster.as_str())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (name, conn) in connections {
        let ids = wanted.remove(&name).unwrap_or_default();
        let opts = opts.clone();
        let secrets = needs_secrets.contains(name.as_str());
        let listed = prelisted.clusters.remove(&name);
        tasks.spawn(async move {
            match conn {
                Ok(backend) => observe_cluster(&backend, ids, secrets, &opts, listed).await,
                Err(error) => failed_state(&name, error, 0),
            }
        });
    }
    collect(tasks).await
}

/// The states of the clusters observed by `tasks`, as they finish.
async fn collect(mut tasks: tokio::task::JoinSet<ClusterState>) -> Observed {
    let mut observed = Observed::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(state) => {
                observed.clusters.insert(state.cluster.clone(), state);
            }
            // A panicking task loses its cluster's name; nothing to record it under.
            Err(e) => tracing::error!("observing a cluster failed: {e}"),
        }
    }
    observed
}

/// Above this many tenants on a cluster, [`observe_tenants`] lists by the ownership label
/// alone (every tenant) rather than naming them all in a selector.
pub const TENANT_SELECTOR_MAX: usize = 100;

/// What berth owns of `kinds` for some tenants of each cluster (`cluster -> tenants`): per
/// cluster, one LIST per kind selected by `berth.io/tenant in (...)` (by the ownership label
/// alone, so for every tenant, when more than [`TENANT_SELECTOR_MAX`] are named), clusters in
/// parallel. Cheap next to a whole observation; the daemon uses it to see what an apply just
/// changed. A cluster without a backend, or that cannot be read, gets an error.
pub async fn observe_tenants(
    backends: &BTreeMap<String, Backend>,
    tenants: &BTreeMap<String, BTreeSet<String>>,
    kinds: &[KindRef],
) -> Observed {
    let mut tasks = tokio::task::JoinSet::new();
    for (cluster, names) in tenants {
        if names.is_empty() {
            continue;
        }
        let backend = backends.get(cluster).cloned();
        let selector = if names.len() > TENANT_SELECTOR_MAX {
            cluster::owned_selector()
        } else {
            cluster::tenant_selector(names)
        };
        let (cluster, kinds) = (cluster.clone(), kinds.to_vec());
        tasks.spawn(async move {
            let Some(backend) = backend else {
                return failed_state(&cluster, format!("cluster `{cluster}`: not connected"), 0);
            };
            match backend
                .list_owned_with(&kinds, cluster::DEFAULT_PAGE_SIZE, false, &selector)
                .await
            {
                Ok((owned, requests)) => ClusterState {
                    cluster,
                    owned,
                    requests,
                    ..ClusterState::default()
                },
                Err(e) => failed_state(&cluster, e.to_string(), 0),
            }
        });
    }
    collect(tasks).await
}

/// The credentials Secrets a tenant's backup and restore jobs read, in its namespace:
/// Secret name -> (location, the schedules and restores that use it).
pub fn credentials_secrets(
    tenant: &crate::spec::model::Tenant,
) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let uses = tenant
        .schedules
        .iter()
        .map(|s| (&s.location, format!("backup schedule `{}`", s.name)))
        .chain(
            tenant
                .restores
                .iter()
                .map(|r| (&r.location, format!("restore `{}`", r.name))),
        );
    for (location, user) in uses {
        if let Some(secret) = &location.spec.credentials_secret {
            out.entry(secret.clone())
                .or_insert_with(|| (location.name.clone(), Vec::new()))
                .1
                .push(user);
        }
    }
    out
}

fn failed_state(cluster: &str, error: String, requests: u64) -> ClusterState {
    ClusterState {
        cluster: cluster.to_string(),
        error: Some(error),
        requests,
        ..ClusterState::default()
    }
}

/// Above this many desired Namespaces that berth does not own yet, observe LISTs all
/// Namespaces once instead of a GET each.
const NAMESPACE_GETS_MAX: usize = 16;

/// One cluster: LIST every kind by the ownership label, then GET the desired names that are
/// not owned, skipping objects in namespaces that do not exist. What cannot be read after the
/// retries is recorded in [`ClusterState::gaps`], and the rest is still returned; only a
/// cluster of which nothing could be listed is an error.
async fn observe_cluster(
    backend: &Backend,
    desired: Vec<ObjectRef>,
    needs_secrets: bool,
    opts: &ObserveOptions,
    prelisted: Option<cluster::Listing>,
) -> ClusterState {
    let name = backend.name().to_string();
    let mut kinds = KindRef::to_list(&desired);
    // Kinds listed in all: when every one failed, nothing of the cluster is known.
    let mut asked = 0;
    let mut listing = match prelisted {
        Some(listed) => {
            // The managed kinds are listed: only the other kinds rendered are left.
            let managed = KindRef::managed();
            asked = managed.len();
            kinds.retain(|k| !managed.contains(k));
            listed
        }
        None => cluster::Listing::default(),
    };
    if !kinds.is_empty() {
        asked += kinds.len();
        let more = backend
            .list_owned_each(
                &kinds,
                opts.page_size,
                opts.keep_managed_fields,
                &selector(opts),
            )
            .await;
        listing.objects.extend(more.objects);
        listing.requests += more.requests;
        listing.failed.extend(more.failed);
    }
    let cluster::Listing {
        objects: mut owned,
        mut requests,
        failed,
    } = listing;
    if let Some((_, rejected)) = failed
        .iter()
        .find(|(_, e)| matches!(e, ClusterError::Unauthorized { .. }))
    {
        // Rejected credentials are rejected for every request: the cluster as a whole.
        return failed_state(&name, rejected.to_string(), requests);
    }
    if !failed.is_empty() && failed.len() >= asked {
        // Nothing could be listed: the cluster is unknown as a whole.
        let (_, first) = failed.into_iter().next().expect("a failed kind");
        return failed_state(&name, first.to_string(), requests);
    }
    let mut gaps = super::Gaps {
        kinds: failed
            .into_iter()
            .map(|(k, e)| (k, e.to_string()))
            .collect(),
        objects: Vec::new(),
    };
    gaps.kinds.sort_by(|a, b| a.0.cmp(&b.0));
    // Objects of a kind that could not be listed are unknown: no GET for them either.
    let desired: Vec<ObjectRef> = desired
        .into_iter()
        .filter(|id| {
            !gaps
                .kinds
                .iter()
                .any(|(k, _)| k.api_version == id.api_version && k.kind == id.kind)
        })
        .collect();
    let owned_ids: HashSet<&ObjectRef> = owned.iter().map(|o| &o.id).collect();
    let missing: Vec<ObjectRef> = desired
        .into_iter()
        .filter(|id| !owned_ids.contains(id))
        .collect();
    drop(owned_ids);

    // Namespaces first: nothing lives in a namespace that does not exist.
    let (namespaces, others): (Vec<ObjectRef>, Vec<ObjectRef>) = missing
        .into_iter()
        .partition(|id| id.kind == "Namespace" && id.namespace.is_none());
    let found_ns = if namespaces.len() > NAMESPACE_GETS_MAX {
        // Many new tenants (a first apply): one LIST of every Namespace is cheaper than a
        // GET each.
        match backend
            .list(&KindRef::new("v1", "Namespace"), None, "", false)
            .await
        {
            Ok((all, pages)) => {
                requests += pages;
                // Items of a LIST need not repeat `apiVersion` and `kind`: identify by name.
                let by_name: std::collections::HashMap<&str, &Value> = all
                    .iter()
                    .filter_map(|v| Some((v.pointer("/metadata/name")?.as_str()?, v)))
                    .collect();
                namespaces
                    .iter()
                    .filter_map(|id| {
                        let mut v = (*by_name.get(id.name.as_str())?).clone();
                        v["apiVersion"] = Value::from("v1");
                        v["kind"] = Value::from("Namespace");
                        Some((id.clone(), v))
                    })
                    .collect()
            }
            Err(e) => {
                let why = e.to_string();
                gaps.objects
                    .extend(namespaces.iter().map(|id| (id.clone(), why.clone())));
                Vec::new()
            }
        }
    } else {
        let (found, unread) = get_all(backend, namespaces.clone(), opts).await;
        requests += namespaces.len() as u64;
        gaps.objects.extend(unread);
        found
    };
    let unknown_ns: HashSet<String> = gaps
        .objects
        .iter()
        .filter(|(id, _)| id.kind == "Namespace" && id.namespace.is_none())
        .map(|(id, _)| id.name.clone())
        .collect();
    let absent_ns: HashSet<&str> = namespaces
        .iter()
        .filter(|id| !found_ns.iter().any(|(f, _)| f == *id))
        .map(|id| id.name.as_str())
        .collect();
    // Nothing lives in a namespace that does not exist, and what is in a namespace that could
    // not be read is left unknown with it.
    let others: Vec<ObjectRef> = others
        .into_iter()
        .filter(|id| {
            id.namespace
                .as_deref()
                .is_none_or(|ns| !absent_ns.contains(ns) && !unknown_ns.contains(ns))
        })
        .collect();
    let n_others = others.len() as u64;
    let (found_others, unread) = get_all(backend, others, opts).await;
    requests += n_others;
    gaps.objects.extend(unread);
    gaps.objects.sort_by(|a, b| a.0.cmp(&b.0));

    let mut unowned = Vec::new();
    for (id, manifest) in found_ns.into_iter().chain(found_others) {
        let managed_by = manifest
            .pointer("/metadata/labels")
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .and_then(Value::as_str)
            .map(str::to_string);
        if managed_by.as_deref() == Some(MANAGED_BY_VALUE) {
            // Labelled after the LIST: it is ours.
            owned.push(LiveObject::new(id, &manifest));
        } else {
            unowned.push(Unowned {
                id,
                managed_by,
                manifest,
            });
        }
    }
    owned.sort_by(|a, b| a.id.cmp(&b.id));
    unowned.sort_by(|a, b| a.id.cmp(&b.id));
    // Credentials Secrets are not berth's: one LIST of every Secret's name, when a tenant
    // here names one.
    let secrets = if needs_secrets {
        let kind = KindRef::new("v1", "Secret");
        match backend.list(&kind, None, "", true).await {
            Ok((items, n)) => {
                requests += n;
                let mut names: Vec<(String, String)> = items
                    .iter()
                    .filter_map(|s| {
                        let m = s.get("metadata")?;
                        Some((
                            m.get("namespace")?.as_str()?.to_string(),
                            m.get("name")?.as_str()?.to_string(),
                        ))
                    })
                    .collect();
                names.sort();
                Some(names)
            }
            Err(e) => {
                // Not planned against: the credentials checks are left out and the gap says so,
                // once: the listing of owned Secrets may have recorded the same refusal.
                if !gaps.kinds.iter().any(|(k, _)| *k == kind) {
                    gaps.kinds.push((kind, e.to_string()));
                    gaps.kinds.sort_by(|a, b| a.0.cmp(&b.0));
                }
                None
            }
        }
    } else {
        None
    };
    ClusterState {
        cluster: name,
        owned,
        unowned,
        error: None,
        gaps,
        requests,
        secrets,
    }
}

/// GETs `ids`, a few at a time; returns the ones that exist, and those that could not be
/// read (after the retries) with why.
async fn get_all(
    backend: &Backend,
    ids: Vec<ObjectRef>,
    opts: &ObserveOptions,
) -> (Vec<(ObjectRef, Value)>, Vec<(ObjectRef, String)>) {
    let concurrency = opts.get_concurrency.max(1);
    let mut results = futures::stream::iter(ids)
        .map(|id| async move {
            let r = backend.get(&id).await;
            (id, r)
        })
        .buffer_unordered(concurrency);
    let mut found = Vec::new();
    let mut unread = Vec::new();
    while let Some((id, r)) = results.next().await {
        match r {
            Ok(Some(v)) => found.push((id, v)),
            Ok(None) => {}
            Err(e) => unread.push((id, e.to_string())),
        }
    }
    (found, unread)
}

/// What berth recorded on one tenant Namespace it owns (see [`recorded_inputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTenant {
    /// The tenant label.
    pub tenant: String,
    /// The Namespace.
    pub namespace: String,
    /// [`crate::object::INPUTS_ANNOTATION`], when present.
    pub inputs: Option<String>,
}

/// The tenant Namespaces berth owns on a cluster with the inputs digest each records: one
/// paginated, metadata-only LIST of Namespaces, each item read for three fields only.
/// Returns them and the number of requests.
pub async fn recorded_inputs(
    backend: &Backend,
) -> Result<(Vec<RecordedTenant>, u64), ClusterError> {
    #[derive(serde::Deserialize)]
    struct Item {
        metadata: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        name: String,
        #[serde(default)]
        labels: Labels,
        #[serde(default)]
        annotations: Annotations,
    }
    #[derive(serde::Deserialize, Default)]
    struct Labels {
        #[serde(rename = "berth.io/tenant")]
        tenant: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Annotations {
        #[serde(rename = "berth.io/inputs")]
        inputs: Option<String>,
    }
    const _: () = assert!(
        matches!(crate::object::TENANT_LABEL.as_bytes(), b"berth.io/tenant")
            && matches!(
                crate::object::INPUTS_ANNOTATION.as_bytes(),
                b"berth.io/inputs"
            )
    );
    let (items, requests) = backend
        .list_typed::<Item>(
            &KindRef::new("v1", "Namespace"),
            None,
            &cluster::owned_selector(),
            true,
        )
        .await?;
    let out = items
        .into_iter()
        .filter_map(|i| {
            Some(RecordedTenant {
                tenant: i.metadata.labels.tenant?,
                namespace: i.metadata.name,
                inputs: i.metadata.annotations.inputs,
            })
        })
        .collect();
    Ok((out, requests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn observe_tenants_lists_only_the_tenants_named() {
        let store = crate::store::ObjectStore::in_memory().unwrap();
        let objects: Vec<Value> = ["a", "b", "c"]
            .iter()
            .map(|t| {
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("tenant-{t}"),
                    "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, crate::object::TENANT_LABEL: t}}})
            })
            .collect();
        store.apply_all(&objects, "berth", true, false).unwrap();
        let backend = Backend::Embedded(cluster::EmbeddedCluster::from_store("local", store));
        let backends = BTreeMap::from([("local".to_string(), backend)]);
        let kinds = [KindRef::new("v1", "Namespace")];
        let names = |o: &Observed| -> Vec<String> {
            o.clusters["local"]
                .owned
                .iter()
                .map(|x| x.id.name.clone())
                .collect()
        };
        let some = BTreeMap::from([(
            "local".to_string(),
            BTreeSet::from(["a".to_string(), "c".to_string()]),
        )]);
        let seen = observe_tenants(&backends, &some, &kinds).await;
        assert_eq!(names(&seen), ["tenant-a", "tenant-c"]);
        // Many tenants: one LIST of everything berth owns instead of a huge selector.
        let many = BTreeMap::from([(
            "local".to_string(),
            (0..=TENANT_SELECTOR_MAX).map(|i| format!("t{i}")).collect(),
        )]);
        let seen = observe_tenants(&backends, &many, &kinds).await;
        assert_eq!(names(&seen), ["tenant-a", "tenant-b", "tenant-c"]);
        // A cluster without a backend is an error, not a panic.
        let elsewhere = BTreeMap::from([("eu".to_string(), BTreeSet::from(["a".to_string()]))]);
        let seen = observe_tenants(&backends, &elsewhere, &kinds).await;
        assert!(seen.clusters["eu"].error.is_some());
    }
}
