//! Cluster backends: the one place (with apply) that talks to clusters.
//!
//! A [`Backend`] is either the embedded local cluster (an [`ObjectStore`](crate::store::ObjectStore)
//! in a SQLite file under the state directory) or a real Kubernetes API server reached through a
//! kubeconfig context or the in-cluster service account. Both offer the same operations:
//! [`Backend::list_owned`] (paginated LISTs by the ownership label), [`Backend::get`],
//! [`Backend::apply`] (server-side apply as field manager `berth`) and [`Backend::delete`].
//!
//! Every failure is a [`ClusterError`] whose `Display` is one line naming the cluster and what
//! to check.

mod embedded;
mod error;
mod kube;
mod retry;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::object::{ObjectRef, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::observe::LiveObject;
use crate::spec::model::{self, ClusterTarget};

pub use self::embedded::{store_path as embedded_store_path, EmbeddedCluster};
pub use self::error::ClusterError;
pub use self::kube::KubeCluster;
pub use self::retry::{
    random_unit, retry_reason, retry_transient, RetryBudget, RetryPolicy, DEFAULT_ATTEMPTS,
    DEFAULT_RETRY_BUDGET,
};

/// Field manager of every write berth makes.
pub const FIELD_MANAGER: &str = "berth";

/// Objects per LIST page unless told otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// The label selector of objects berth owns: `app.kubernetes.io/managed-by=berth`.
pub fn owned_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")
}

/// The ownership selector narrowed to some tenants:
/// `app.kubernetes.io/managed-by=berth,berth.io/tenant in (a,b)`.
pub fn tenant_selector(tenants: &std::collections::BTreeSet<String>) -> String {
    let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
    format!(
        "{},{} in ({})",
        owned_selector(),
        crate::object::TENANT_LABEL,
        names.join(",")
    )
}

/// What [`Backend::list_owned_each`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The objects of the kinds listed, sorted by identity.
    pub objects: Vec<LiveObject>,
    /// LIST requests (pages) made.
    pub requests: u64,
    /// The kinds that could not be listed, sorted, and why: nothing of them is known.
    pub failed: Vec<(KindRef, ClusterError)>,
}

/// A kind of object: `apiVersion` and `kind`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KindRef {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `StatefulSet`.
    pub kind: String,
}

impl KindRef {
    /// A kind from its `apiVersion` and `kind`.
    pub fn new(api_version: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
        }
    }

    /// The kind of an object.
    pub fn of(id: &ObjectRef) -> Self {
        Self::new(id.api_version.clone(), id.kind.clone())
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    /// The version within the group.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(_, v)| v)
            .unwrap_or(&self.api_version)
    }

    /// Every kind berth's built-in templates can render, in apply order. Observe lists all of
    /// them, so that objects of kinds no longer rendered are still found (and pruned).
    pub fn managed() -> Vec<KindRef> {
        [
            ("v1", "Namespace"),
            ("v1", "ResourceQuota"),
            ("v1", "LimitRange"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("v1", "ServiceAccount"),
            ("v1", "Secret"),
            ("v1", "ConfigMap"),
            ("v1", "Service"),
            ("apps/v1", "StatefulSet"),
            ("policy/v1", "PodDisruptionBudget"),
            ("batch/v1", "CronJob"),
            ("batch/v1", "Job"),
        ]
        .into_iter()
        .map(|(v, k)| KindRef::new(v, k))
        .collect()
    }

    /// [`KindRef::managed`] plus the distinct kinds of `ids` that are not among them, in apply
    /// order (wave, then name).
    pub fn to_list<'a>(ids: impl IntoIterator<Item = &'a ObjectRef>) -> Vec<KindRef> {
        let mut kinds = Self::managed();
        for id in ids {
            let k = Self::of(id);
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        kinds.sort_by(|a, b| {
            (crate::object::wave(&a.kind), &a.kind, &a.api_version).cmp(&(
                crate::object::wave(&b.kind),
                &b.kind,
                &b.api_version,
            ))
        });
        kinds
    }
}

impl std::fmt::Display for KindRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kind, self.api_version)
    }
}

/// The timeout of each request to a Kubernetes API server by default (`--request-timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How backends are reached, from the command line and the environment.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Where embedded clusters keep their SQLite files (see [`default_state_dir`]).
    pub state_dir: PathBuf,
    /// A kubeconfig file used for every kubeconfig cluster instead of the one in its spec or
    /// the default (`KUBECONFIG`, `~/.kube/config`).
    pub kubeconfig_override: Option<PathBuf>,
    /// Timeout of each request (connect, read and write) to a Kubernetes API server.
    pub request_timeout: Duration,
    /// How reads are retried (writes: [`crate::apply::ApplyOptions::retry`]), with the run's
    /// [`RetryBudget`].
    pub retry: RetryPolicy,
    /// The config repository, if read from a directory: the state directory may not be inside
    /// it (cluster state would end up in Git).
    pub config_dir: Option<PathBuf>,
}

impl ClusterSettings {
    /// Settings with `state_dir`, a [`DEFAULT_REQUEST_TIMEOUT`] and the default retries.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            kubeconfig_override: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            config_dir: None,
        }
    }
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self::new(default_state_dir())
    }
}

/// The state directory when `--state-dir` is not given: `BERTH_STATE_DIR`, else
/// `$XDG_STATE_HOME/berth`, else `~/.local/state/berth`, else `.berth-state`.
pub fn default_state_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("BERTH_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("berth");
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home).join(".local/state/berth");
    }
    PathBuf::from(".berth-state")
}

/// An absolute, symlink-free form of `path`, resolving the longest existing prefix.
fn normalize(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(canon) = cur.canonicalize() {
            return rest.iter().rev().fold(canon, |acc, c| acc.join(c));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Refuses a state directory inside the config repository: embedded cluster state would be
/// committed with the specs.
pub fn check_state_dir(
    cluster: &str,
    state_dir: &Path,
    config_dir: &Path,
) -> Result<(), ClusterError> {
    let state = normalize(state_dir);
    let repo = normalize(config_dir);
    if state.starts_with(&repo) {
        return Err(ClusterError::Config {
            cluster: cluster.to_string(),
            message: format!(
                "the state directory {} is inside the config repository {}",
                state_dir.display(),
                config_dir.display()
            ),
            help: "choose another one with --state-dir or BERTH_STATE_DIR".into(),
        });
    }
    Ok(())
}

/// A connection to one cluster.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded local cluster.
    Embedded(EmbeddedCluster),
    /// A Kubernetes API server.
    Kube(KubeCluster),
}

/// Connects to a cluster. For a Kubernetes cluster this reads the kubeconfig (or in-cluster
/// config) but makes no request yet; the first operation does.
pub async fn connect(
    cluster: &model::Cluster,
    settings: &ClusterSettings,
) -> Result<Backend, ClusterError> {
    match &cluster.target {
        ClusterTarget::Embedded => {
            if let Some(repo) = &settings.config_dir {
                check_state_dir(&cluster.name, &settings.state_dir, repo)?;
            }
            let name = cluster.name.clone();
            let dir = settings.state_dir.clone();
            let opened =
                tokio::task::spawn_blocking(move || EmbeddedCluster::open(&name, &dir)).await;
            match opened {
                Ok(r) => r.map(Backend::Embedded),
                Err(e) => Err(ClusterError::Store {
                    cluster: cluster.name.clone(),
                    message: format!("opening the store failed: {e}"),
                }),
            }
        }
        ClusterTarget::Kubeconfig { context, path } => {
            // A relative path in platform.toml is relative to the config repository.
            let path = settings.kubeconfig_override.clone().or_else(|| {
                path.as_deref()
                    .map(expand_home)
                    .map(|p| match &settings.config_dir {
                        Some(repo) if p.is_relative() => repo.join(p),
                        _ => p,
                    })
            });
            KubeCluster::from_kubeconfig(&cluster.name, context, path, settings.request_timeout)
                .await
                .map(|c| Backend::Kube(c.with_retry(settings.retry.clone())))
        }
        ClusterTarget::InCluster => {
            KubeCluster::in_cluster(&cluster.name, settings.request_timeout)
                .map(|c| Backend::Kube(c.with_retry(settings.retry.clone())))
        }
    }
}

/// Kubernetes backends kept between the runs of a long-lived process (the daemon), so that a
/// cluster's client and its discovery are not rebuilt on every cycle. An entry is reused while
/// the cluster's target in platform.toml is unchanged and it is younger than
/// [`BackendCache::MAX_AGE`] (discovery is then redone); [`BackendCache::forget`] drops one
/// that failed. Embedded clusters are opened anew each time: opening is cheap, and a fresh
/// store sees every change another process committed. The [`ClusterSettings`] must stay the
/// same for the life of the cache.
#[derive(Default)]
pub struct BackendCache {
    kept: std::collections::BTreeMap<String, (ClusterTarget, std::time::Instant, Backend)>,
    /// Clusters that failed, with how often in a row, until when they are left alone, and
    /// the last error.
    backoff: std::collections::BTreeMap<String, (u32, std::time::Instant, String)>,
}

impl BackendCache {
    /// How long a kept backend is reused.
    pub const MAX_AGE: Duration = Duration::from_secs(600);

    /// How long a cluster that failed once is left alone; doubled for each further failure in
    /// a row, up to [`Self::MAX_BACKOFF`].
    pub const BASE_BACKOFF: Duration = Duration::from_secs(5);

    /// The longest a failing cluster is left alone.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

    /// [`connect`], reusing a kept Kubernetes backend when it may. A cluster backing off
    /// ([`Self::failed`]) is not contacted: [`ClusterError::BackingOff`].
    pub async fn connect(
        &mut self,
        cluster: &model::Cluster,
        settings: &ClusterSettings,
    ) -> Result<Backend, ClusterError> {
        if let Some((failures, until, last)) = self.backoff.get(&cluster.name) {
            let now = std::time::Instant::now();
            if *until > now {
                return Err(ClusterError::BackingOff {
                    cluster: cluster.name.clone(),
                    failures: *failures,
                    next_in: (*until - now).as_secs().max(1),
                    last: last.clone(),
                });
            }
        }
        if let Some((target, at, backend)) = self.kept.get(&cluster.name) {
            if target == &cluster.target && at.elapsed() < Self::MAX_AGE {
                return Ok(backend.clone());
            }
        }
        let backend = connect(cluster, settings).await?;
        if matches!(backend, Backend::Kube(_)) {
            self.kept.insert(
                cluster.name.clone(),
                (
                    cluster.target.clone(),
                    std::time::Instant::now(),
                    backend.clone(),
                ),
            );
        }
        Ok(backend)
    }

    /// Drops the kept backend of `cluster` (after it failed): the next run connects anew.
    pub fn forget(&mut self, cluster: &str) {
        self.kept.remove(cluster);
    }

    /// `cluster` could not be observed (`error`): it is connected anew, and not before its
    /// backoff has passed ([`Self::BASE_BACKOFF`], doubled for each failure in a row, at most
    /// [`Self::MAX_BACKOFF`]), so that a cluster that is down costs the other clusters'
    /// syncs nothing. A cluster already backing off keeps its time.
    pub fn failed(&mut self, cluster: &str, error: &str) {
        self.forget(cluster);
        let now = std::time::Instant::now();
        if self
            .backoff
            .get(cluster)
            .is_some_and(|(_, until, _)| *until > now)
        {
            return;
        }
        let failures = self.backoff.get(cluster).map_or(0, |b| b.0) + 1;
        let delay = Self::BASE_BACKOFF
            .saturating_mul(1 << (failures - 1).min(16))
            .min(Self::MAX_BACKOFF);
        tracing::warn!(%cluster, failures, ?delay, %error, "cluster failed; backing off");
        let prefix = format!("cluster `{cluster}`: ");
        let last = error.strip_prefix(&prefix).unwrap_or(error);
        self.backoff.insert(
            cluster.to_string(),
            (failures, now + delay, last.to_string()),
        );
    }

    /// How long until the first cluster backing off may be contacted again; `None` when none
    /// backs off.
    pub fn next_attempt_in(&self) -> Option<Duration> {
        let now = std::time::Instant::now();
        self.backoff
            .values()
            .map(|(_, until, _)| until.saturating_duration_since(now))
            .min()
    }

    /// `cluster` was observed: its backoff ends.
    pub fn succeeded(&mut self, cluster: &str) {
        if self.backoff.remove(cluster).is_some() {
            tracing::info!(%cluster, "cluster reachable again");
        }
    }

    /// How many backends are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

/// `~/x` -> `$HOME/x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

impl Backend {
    /// The cluster name.
    pub fn name(&self) -> &str {
        match self {
            Backend::Embedded(c) => c.name(),
            Backend::Kube(c) => c.name(),
        }
    }

    /// Every object berth owns of `kinds`, across all namespaces: per kind, a LIST by the
    /// ownership label, `page_size` objects a page, following `continue`. Returns the objects
    /// sorted by identity and the number of LIST requests (pages) made; the first error when
    /// a kind could not be listed.
    pub async fn list_owned(
        &self,
        kinds: &[KindRef],
        page_size: usize,
    ) -> Result<(Vec<LiveObject>, u64), ClusterError> {
        self.list_owned_with(kinds, page_size, true, &owned_selector())
            .await
    }

    /// Like [`Backend::list_owned`]; `metadata.managedFields` is dropped from each object as
    /// its page arrives unless `keep_managed_fields`.
    pub async fn list_owned_with(
        &self,
        kinds: &[KindRef],
        page_size: usize,
        keep_managed_fields: bool,
        selector: &str,
    ) -> Result<(Vec<LiveObject>, u64), ClusterError> {
        let listing = self
            .list_owned_each(kinds, page_size, keep_managed_fields, selector)
            .await;
        match listing.failed.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok((listing.objects, listing.requests)),
        }
    }

    /// Like [`Backend::list_owned_with`], kind by kind: a kind that cannot be listed (after
    /// the retries) is in [`Listing::failed`] and the others are still returned.
    pub async fn list_owned_each(
        &self,
        kinds: &[KindRef],
        page_size: usize,
        keep_managed_fields: bool,
        selector: &str,
    ) -> Listing {
        let page_size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size
        };
        let mut listing = match self {
            Backend::Embedded(c) => {
                // One store read for every kind: it fails (or not) as a whole.
                match c
                    .list_owned(kinds, page_size, keep_managed_fields, selector)
                    .await
                {
                    Ok((objects, requests)) => Listing {
                        objects,
                        requests,
                        failed: Vec::new(),
                    },
                    Err(e) => Listing {
                        failed: kinds.iter().map(|k| (k.clone(), e.clone())).collect(),
                        ..Listing::default()
                    },
                }
            }
            Backend::Kube(c) => {
                c.list_owned(kinds, page_size, keep_managed_fields, selector)
                    .await
            }
        };
        listing.objects.sort_by(|a, b| a.id.cmp(&b.id));
        listing.failed.sort_by(|a, b| a.0.cmp(&b.0));
        listing
    }

    /// The object, or `None` when it does not exist.
    pub async fn get(&self, id: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        match self {
            Backend::Embedded(c) => c.get(id).await,
            Backend::Kube(c) => c.get(id).await,
        }
    }

    /// Server-side apply of `manifest` as field manager `berth`; creates the object when
    /// missing. Returns the object as stored (or as it would be, with `dry_run`).
    pub async fn apply(
        &self,
        id: &ObjectRef,
        manifest: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ClusterError> {
        match self {
            Backend::Embedded(c) => c.apply(id, manifest, dry_run, force).await,
            Backend::Kube(c) => c.apply(id, manifest, dry_run, force).await,
        }
    }

    /// Creates the object (POST): [`ClusterError::Conflict`] when it exists. For objects
    /// that must be created exactly once, such as the daemon's leader Lease.
    pub async fn create(&self, id: &ObjectRef, manifest: &Value) -> Result<Value, ClusterError> {
        match self {
            Backend::Embedded(c) => c.create(id, manifest).await,
            Backend::Kube(c) => c.create(id, manifest).await,
        }
    }

    /// Every object of `kind` matching the label `selector` (any owner), in `namespace` or
    /// across all namespaces, as parsed JSON: one paginated LIST. With `metadata_only`, each
    /// item holds only `apiVersion`, `kind` and `metadata` (a Kubernetes server is asked for
    /// `PartialObjectMetadata`, so that values such as a Secret's data never travel). Returns
    /// the objects and the number of LIST requests made; a kind the server does not serve has
    /// no objects.
    pub async fn list(
        &self,
        kind: &KindRef,
        namespace: Option<&str>,
        selector: &str,
        metadata_only: bool,
    ) -> Result<(Vec<Value>, u64), ClusterError> {
        let (mut items, n) = match self {
            Backend::Embedded(c) => c.list(kind, namespace, selector).await?,
            Backend::Kube(c) => c.list(kind, namespace, selector, metadata_only).await?,
        };
        if metadata_only {
            for item in &mut items {
                *item = metadata_of(item, kind);
            }
        }
        Ok((items, n))
    }

    /// [`Backend::list`], each object read into `T` (fields `T` does not name are skipped;
    /// objects `T` cannot read are left out). From a Kubernetes server the items are read
    /// straight from the response text, without building JSON values: for LISTs of many
    /// objects of which berth needs a few fields.
    pub async fn list_typed<T: serde::de::DeserializeOwned>(
        &self,
        kind: &KindRef,
        namespace: Option<&str>,
        selector: &str,
        metadata_only: bool,
    ) -> Result<(Vec<T>, u64), ClusterError> {
        match self {
            Backend::Kube(c) => c.list_typed(kind, namespace, selector, metadata_only).await,
            Backend::Embedded(_) => {
                let (items, n) = self.list(kind, namespace, selector, metadata_only).await?;
                let typed = items
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect();
                Ok((typed, n))
            }
        }
    }

    /// Whether the cluster serves `kind` (for a Kubernetes cluster: whether discovery of its
    /// API version lists it; an API version the server does not know is `false`, not an
    /// error). The embedded cluster serves the kinds its store knows.
    pub async fn serves(&self, kind: &KindRef) -> Result<bool, ClusterError> {
        match self {
            Backend::Embedded(_) => {
                Ok(crate::store::kind_by_api_version(&kind.api_version, &kind.kind).is_some())
            }
            Backend::Kube(c) => c.serves(kind).await,
        }
    }

    /// Sets (`Some`) or removes (`None`) annotations of an object with a JSON merge patch as
    /// field manager [`RECORDS_FIELD_MANAGER`](crate::object::RECORDS_FIELD_MANAGER): berth's
    /// bookkeeping (restore records, the applied revision), which the rendered manifests do
    /// not hold and server-side apply as `berth` therefore leaves alone.
    pub async fn annotate(
        &self,
        id: &ObjectRef,
        annotations: &std::collections::BTreeMap<String, Option<String>>,
    ) -> Result<(), ClusterError> {
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        match self {
            Backend::Embedded(c) => {
                c.merge_patch(id, &patch, crate::object::RECORDS_FIELD_MANAGER)
                    .await
            }
            Backend::Kube(c) => {
                c.merge_patch(id, &patch, crate::object::RECORDS_FIELD_MANAGER)
                    .await
            }
        }
    }

    /// Deletes the object; an object that is already gone is not an error.
    pub async fn delete(&self, id: &ObjectRef) -> Result<(), ClusterError> {
        match self {
            Backend::Embedded(c) => c.delete(id).await,
            Backend::Kube(c) => c.delete(id, false).await,
        }
    }

    /// What the server warned about (its `Warning` headers: PodSecurity's "would violate",
    /// deprecated APIs) since the last call, as `(request, text)`, each once per request
    /// target. The embedded cluster never warns.
    pub fn take_warnings(&self) -> Vec<(String, String)> {
        match self {
            Backend::Embedded(_) => Vec::new(),
            Backend::Kube(c) => c.take_warnings(),
        }
    }

    /// Deletes the object with `propagationPolicy: Orphan`: what it owns (a StatefulSet's
    /// pods) stays, without the owner. The object goes once the garbage collector has
    /// released its dependents. The embedded cluster runs no pods: a plain delete there.
    pub async fn delete_orphan(&self, id: &ObjectRef) -> Result<(), ClusterError> {
        match self {
            Backend::Embedded(c) => c.delete(id).await,
            Backend::Kube(c) => c.delete(id, true).await,
        }
    }

    /// Raises the storage request of PersistentVolumeClaim `id` to `size` (a JSON merge
    /// patch of `spec.resources.requests.storage`): the volume resize, which the server
    /// refuses unless the claim's StorageClass allows volume expansion.
    pub async fn grow_claim(&self, id: &ObjectRef, size: &str) -> Result<(), ClusterError> {
        let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": size}}}});
        let manager = crate::object::RESIZE_FIELD_MANAGER;
        match self {
            Backend::Embedded(c) => c.merge_patch(id, &patch, manager).await,
            Backend::Kube(c) => c.merge_patch(id, &patch, manager).await,
        }
    }
}

/// The label selector text (`app=db,tier in (a,b),!legacy`) of a `LabelSelector` object, as
/// `metav1.LabelSelectorAsSelector` reads it: `matchLabels` are `key=value`,
/// `matchExpressions` are `In`, `NotIn`, `Exists` and `DoesNotExist` requirements. `None`
/// for an operator or a shape it refuses, so that a caller never lists more than it meant to.
/// An empty selector is `Some("")`: everything.
pub fn selector_text(selector: &Value) -> Option<String> {
    crate::store::LabelSelector::from_object(selector)
        .ok()
        .map(|s| s.to_string())
}

/// `apiVersion`, `kind` and `metadata` of an object (a `PartialObjectMetadata`, typed as the
/// object's kind).
fn metadata_of(obj: &Value, kind: &KindRef) -> Value {
    serde_json::json!({
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

/// The identity of a live object from its `apiVersion`, `kind`, `metadata.namespace` and
/// `metadata.name`; `None` when one is missing.
pub fn object_ref_of(obj: &Value) -> Option<ObjectRef> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str);
    Some(ObjectRef {
        api_version: s("/apiVersion")?.to_string(),
        kind: s("/kind")?.to_string(),
        namespace: s("/metadata/namespace")
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        name: s("/metadata/name")?.to_string(),
    })
}

#[cfg(test)]
mod tests;
