//! The pipeline run end to end without printing: a [`SourceTree`] becomes a validated
//! [`Config`] and its [`Rendered`] objects ([`load_and_render`]), then live state and a
//! [`Plan`] ([`observe_and_plan`]). The commands print around these steps; the daemon records
//! their results in its status. No module below this one is skipped or reordered here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::cluster::{self, Backend, ClusterError, ClusterSettings};
use crate::diag::{Diagnostic, SourceMap};
use crate::observe::{self, ObserveOptions, Observed, Prelisted};
use crate::plan::{self, Plan, PlanOptions};
use crate::render::{self, RenderError, Rendered, TemplateSet};
use crate::source::SourceTree;
use crate::spec::model::{ClusterTarget, Config};
use crate::spec::{self, LoadOutput};

/// What [`load_and_render`] makes of a tree.
pub struct Loaded {
    /// The validated configuration (`load.config` is `None` when anything failed, including
    /// templates) and every diagnostic.
    pub load: LoadOutput,
    /// The rendered objects, when everything succeeded.
    pub rendered: Option<Rendered>,
    /// The compiled templates, when they compiled.
    pub templates: Option<TemplateSet>,
}

/// Validates `tree` and renders it, only `tenants` when the list is not empty (every spec is
/// still validated). Template problems become diagnostics beside the spec ones.
pub fn load_and_render(tree: &SourceTree, tenants: &[String]) -> Loaded {
    let mut validated = validate(tree);
    let rendered = render_tenants(&mut validated, tenants);
    Loaded {
        load: validated.load,
        rendered,
        templates: validated.templates,
    }
}

/// A validated tree and its compiled templates, before rendering.
pub struct Validated {
    /// The configuration (`None` when anything failed, templates included) and every
    /// diagnostic so far.
    pub load: LoadOutput,
    /// The templates, when they compiled.
    pub templates: Option<TemplateSet>,
}

/// Validates `tree` and compiles its templates (problems of both become diagnostics).
pub fn validate(tree: &SourceTree) -> Validated {
    let started = std::time::Instant::now();
    let mut load = spec::load_config(tree);
    let templates = match TemplateSet::new(&tree.template_texts()) {
        Ok(t) => Some(t),
        Err(errors) => {
            load.diagnostics
                .extend(errors.iter().map(|e| render_diagnostic(e, &load.sources)));
            load.config = None;
            None
        }
    };
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "validated"
    );
    Validated { load, templates }
}

/// Renders the tenants of a [`Validated`] tree (all when `tenants` is empty; names that are
/// not tenants are ignored). Render problems become diagnostics and clear the configuration.
pub fn render_tenants(validated: &mut Validated, tenants: &[String]) -> Option<Rendered> {
    let (Some(config), Some(templates)) = (&validated.load.config, &validated.templates) else {
        return None;
    };
    let scoped = if tenants.is_empty() {
        std::borrow::Cow::Borrowed(config)
    } else {
        std::borrow::Cow::Owned(config.with_tenants(|t| tenants.contains(&t.name)))
    };
    let started = std::time::Instant::now();
    match render::render(&scoped, templates) {
        Ok(r) => {
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                objects = r.objects.len(),
                "rendered"
            );
            Some(r)
        }
        Err(errors) => {
            drop(scoped);
            let out = &mut validated.load;
            out.diagnostics
                .extend(errors.iter().map(|e| render_diagnostic(e, &out.sources)));
            out.config = None;
            None
        }
    }
}

/// A template problem as a diagnostic pointing into the override file when there is one.
fn render_diagnostic(e: &RenderError, sources: &SourceMap) -> Diagnostic {
    let mut message = e
        .message
        .replace("syntax error: syntax error:", "template syntax error:");
    if let Some(t) = &e.tenant {
        message = format!("{message} (rendering tenant `{t}`)");
    }
    let mut d = Diagnostic::error(message).maybe_help(e.help.clone());
    match (&e.template, e.line) {
        (Some(file), Some(line)) if !e.in_output && sources.get(file).is_some() => {
            let text = sources.get(file).unwrap_or_default();
            let start: usize = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            let len = text[start.min(text.len())..]
                .find('\n')
                .unwrap_or(text.len() - start.min(text.len()));
            d = d.at(file, Some(start..start + len), "");
        }
        (Some(file), Some(line)) => {
            let what = if e.in_output {
                "rendered output of "
            } else {
                ""
            };
            d = d.at(file, None, format!("at line {line} of the {what}{file}"));
        }
        (Some(file), None) => d = d.at(file, None, ""),
        _ => {}
    }
    d
}

/// Which clusters, tenants and permissions a plan considers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Directory of the embedded clusters' state.
    pub state_dir: Option<PathBuf>,
    /// A kubeconfig used for every kubeconfig cluster.
    pub kubeconfig: Option<PathBuf>,
    /// The config repository directory, when read from one (the state directory may not be
    /// inside it).
    pub config_dir: Option<PathBuf>,
    /// Only these tenants (empty: all).
    pub tenants: Vec<String>,
    /// Only these clusters (empty: all).
    pub clusters: Vec<String>,
    /// Take over unowned objects with wanted names.
    pub adopt: bool,
    /// Tenants permitted to be destroyed (`--allow-destroy`), besides those the platform's
    /// `policy.allow_destroy` names.
    pub allow_destroy: BTreeSet<String>,
    /// Allow replacing data-bearing objects.
    pub allow_replace: bool,
    /// Put drifted objects back even under `policy.drift = "report"` (`--correct-drift`).
    pub correct_drift: bool,
    /// Timeout of each request to a Kubernetes API server.
    pub request_timeout: std::time::Duration,
    /// How failed requests are retried, reads and writes, with the run's budget.
    pub retry: crate::cluster::RetryPolicy,
}

impl Scope {
    /// The plan options of this scope for `config`: the platform's policy, with what the
    /// command line permits on top.
    pub fn plan_options(&self, config: &Config, tenants: Option<BTreeSet<String>>) -> PlanOptions {
        PlanOptions {
            adopt: self.adopt,
            allow_replace: self.allow_replace,
            tenants,
            clusters: (!self.clusters.is_empty()).then(|| self.clusters.iter().cloned().collect()),
            ..PlanOptions::from_config(config)
        }
        .permitting(&self.allow_destroy, self.correct_drift)
    }

    /// How backends are reached under this scope.
    pub fn cluster_settings(&self) -> ClusterSettings {
        let mut settings = ClusterSettings::new(
            self.state_dir
                .clone()
                .unwrap_or_else(cluster::default_state_dir),
        );
        settings.kubeconfig_override = self.kubeconfig.clone();
        settings.config_dir = self.config_dir.clone();
        settings.request_timeout = self.request_timeout;
        settings.retry = self.retry.clone();
        settings
    }
}

impl Observation {
    /// Tells `cache` which clusters could not be observed (they back off) and which could.
    pub fn update_backoff(&self, cache: &mut cluster::BackendCache) {
        for (name, why) in &self.plan.unreachable {
            cache.failed(name, why);
        }
        for name in self.backends.keys() {
            if !self.plan.unreachable.iter().any(|(u, _)| u == name) {
                cache.succeeded(name);
            }
        }
    }
}

/// Live state and the plan against it.
pub struct Observation {
    /// Connections to the clusters that were observed.
    pub backends: BTreeMap<String, Backend>,
    /// Live state.
    pub observed: Observed,
    /// The plan.
    pub plan: Plan,
    /// Notes for the user (clusters left out and why).
    pub notes: Vec<String>,
}

/// Connections to the clusters a plan considers, and notes on the clusters left out.
pub struct Connected {
    /// By cluster name: a backend, or why there is none.
    pub connections: BTreeMap<String, Result<Backend, ClusterError>>,
    /// Notes for the user (clusters left out and why).
    pub notes: Vec<String>,
}

/// Connects to the clusters `config` places tenants on (embedded ones with state, and any in
/// `scope.clusters`). A Kubernetes cluster without tenants is not contacted unless named in
/// `scope.clusters`. Fails only when the state directory is unusable; a cluster that cannot
/// be reached has its error in [`Connected::connections`].
pub async fn connect(config: &Config, scope: &Scope) -> Result<Connected, ClusterError> {
    connect_with(config, scope, &mut cluster::BackendCache::default()).await
}

/// Whether [`connect`] under `scope` writes nothing: every embedded cluster it would open
/// already has its store. (Opening one creates it; a plan of a configuration that then fails
/// to render must leave the state directory as it was.)
pub fn connecting_writes_nothing(config: &Config, scope: &Scope) -> bool {
    let settings = scope.cluster_settings();
    config.tenants.iter().all(|t| {
        config
            .clusters
            .get(&t.cluster)
            .is_none_or(|c| c.target != ClusterTarget::Embedded)
            || cluster::embedded_store_path(&settings.state_dir, &t.cluster).exists()
    })
}

/// [`connect`] through a [`cluster::BackendCache`] kept by the caller (the daemon).
pub async fn connect_with(
    config: &Config,
    scope: &Scope,
    cache: &mut cluster::BackendCache,
) -> Result<Connected, ClusterError> {
    let settings = scope.cluster_settings();
    if let Some(dir) = &scope.config_dir {
        cluster::check_state_dir("embedded", &settings.state_dir, dir)?;
    }
    let with_tenants: BTreeSet<&str> = config.tenants.iter().map(|t| t.cluster.as_str()).collect();
    let mut connections = observe::connect_all_with(config, &settings, cache).await;
    let mut notes = Vec::new();
    connections.retain(|name, _| {
        let kube = config
            .clusters
            .get(name)
            .is_some_and(|c| c.target != ClusterTarget::Embedded);
        let named = scope.clusters.contains(name);
        let wanted = scope.clusters.is_empty() || named;
        let keep = wanted && (!kube || with_tenants.contains(name.as_str()) || named);
        if wanted && !keep {
            notes.push(format!(
                "cluster `{name}` has no tenants in the configuration and was not contacted; name it with --cluster to plan deletions there"
            ));
        }
        keep
    });
    Ok(Connected { connections, notes })
}

/// [`connect`], then [`plan_connected`]. Fails only when the state directory is unusable;
/// unreachable clusters are in `plan.unreachable`.
pub async fn observe_and_plan(
    config: &Config,
    rendered: &Rendered,
    scope: &Scope,
) -> Result<Observation, ClusterError> {
    observe_and_plan_with(
        config,
        rendered,
        scope,
        &mut cluster::BackendCache::default(),
    )
    .await
}

/// [`observe_and_plan`] through a [`cluster::BackendCache`] kept by the caller (the daemon).
/// A cluster that could not be observed is dropped from the cache: the next run connects to
/// it anew.
pub async fn observe_and_plan_with(
    config: &Config,
    rendered: &Rendered,
    scope: &Scope,
    cache: &mut cluster::BackendCache,
) -> Result<Observation, ClusterError> {
    let connected = connect_with(config, scope, cache).await?;
    let observation = plan_connected(config, rendered, scope, connected).await;
    observation.update_backoff(cache);
    Ok(observation)
}

/// Observes the connected clusters (only `scope.tenants` when not empty) and plans.
pub async fn plan_connected(
    config: &Config,
    rendered: &Rendered,
    scope: &Scope,
    connected: Connected,
) -> Observation {
    plan_prelisted(config, rendered, scope, connected, Prelisted::default()).await
}

/// How [`plan_connected`] observes under `scope`.
pub fn observe_options(scope: &Scope) -> ObserveOptions {
    ObserveOptions {
        tenants: (!scope.tenants.is_empty()).then(|| scope.tenants.iter().cloned().collect()),
        ..ObserveOptions::default()
    }
}

/// Lists what berth owns of the kinds it manages in the connected clusters, for
/// [`plan_prelisted`]: a caller renders meanwhile. Must be given the `connected` and `scope`
/// it will plan with.
pub async fn prelist(scope: &Scope, connected: &Connected) -> Prelisted {
    observe::prelist(&connected.connections, &observe_options(scope)).await
}

/// Renders `validated` ([`render_tenants`]) on a thread of its own while `runtime` makes
/// the LISTs of [`prelist`]: cluster I/O and the store's reads overlap the rendering.
pub fn render_beside_prelist(
    validated: &mut Validated,
    tenants: &[String],
    runtime: &tokio::runtime::Runtime,
    scope: &Scope,
    connected: &Connected,
) -> (Option<Rendered>, Prelisted) {
    std::thread::scope(|s| {
        let render = s.spawn(|| render_tenants(validated, tenants));
        let prelisted = runtime.block_on(prelist(scope, connected));
        let rendered = render
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (rendered, prelisted)
    })
}

/// [`plan_connected`], with the LISTs [`prelist`] made ahead.
pub async fn plan_prelisted(
    config: &Config,
    rendered: &Rendered,
    scope: &Scope,
    connected: Connected,
    prelisted: Prelisted,
) -> Observation {
    let Connected { connections, notes } = connected;
    let observe_opts = observe_options(scope);
    let tenants = observe_opts.tenants.clone();
    let started = std::time::Instant::now();
    let observed =
        observe::observe_prelisted(config, rendered, &connections, prelisted, &observe_opts).await;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "observed"
    );
    let backends: BTreeMap<String, Backend> = connections
        .into_iter()
        .filter_map(|(k, r)| r.ok().map(|b| (k, b)))
        .collect();
    let opts = scope.plan_options(config, tenants);
    let started = std::time::Instant::now();
    let plan = plan::plan(config, rendered, &observed, &opts);
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "planned");
    Observation {
        backends,
        observed,
        plan,
        notes,
    }
}

/// What `--changed` found: the tenants whose inputs differ from what their Namespace
/// records.
#[derive(Debug, Clone, Default)]
pub struct Changed {
    /// Tenants to plan: inputs changed, never applied completely, removed from the
    /// configuration or moved to another cluster, or on a cluster whose Namespaces could not
    /// be read.
    pub tenants: BTreeSet<String>,
    /// Tenants left out: their Namespace records the inputs they have now.
    pub unchanged: usize,
    /// API requests made (LIST pages).
    pub requests: u64,
}

/// Compares `digests` ([`render::input_digests`] of every tenant) with what each connected
/// cluster's tenant Namespaces record (one metadata-only LIST of Namespaces per cluster).
pub async fn changed_tenants(
    config: &Config,
    digests: &BTreeMap<String, String>,
    connected: &Connected,
) -> Changed {
    let mut out = Changed::default();
    for (name, connection) in &connected.connections {
        let here = config.tenants.iter().filter(|t| &t.cluster == name);
        let recorded = match connection {
            Ok(backend) => observe::recorded_inputs(backend).await,
            Err(e) => Err(e.clone()),
        };
        let recorded = match recorded {
            Ok((recorded, requests)) => {
                out.requests += requests;
                recorded
            }
            Err(_) => {
                // The plan will say why; every tenant of the cluster is in it.
                out.tenants.extend(here.map(|t| t.name.clone()));
                continue;
            }
        };
        let by_tenant: BTreeMap<&str, Option<&str>> = recorded
            .iter()
            .map(|r| (r.tenant.as_str(), r.inputs.as_deref()))
            .collect();
        let mut configured = BTreeSet::new();
        for t in here {
            configured.insert(t.name.as_str());
            let now = digests.get(&t.name).map(String::as_str);
            if now.is_some() && by_tenant.get(t.name.as_str()).copied().flatten() == now {
                out.unchanged += 1;
            } else {
                out.tenants.insert(t.name.clone());
            }
        }
        // Namespaces of tenants no longer (or no longer here) in the configuration.
        for r in &recorded {
            if !configured.contains(r.tenant.as_str()) {
                out.tenants.insert(r.tenant.clone());
            }
        }
    }
    out
}

/// For each tenant in `rendered` on a cluster that `observed` read: the digest of its inputs
/// (from `digests`, [`render::input_digests`]) and the one its live Namespace records, for
/// [`crate::apply::ApplyOptions::inputs`].
pub fn tenant_inputs(
    digests: &BTreeMap<String, String>,
    rendered: &Rendered,
    observed: &Observed,
) -> BTreeMap<(String, String), crate::apply::TenantInputs> {
    let mut out = BTreeMap::new();
    for d in &rendered.objects {
        if d.id.kind != "Namespace" || d.id.namespace.is_some() {
            continue;
        }
        let Some(digest) = digests.get(&d.tenant) else {
            continue;
        };
        // Only clusters that were observed (not left out by --cluster, not unreachable).
        let Some(cluster) = observed
            .clusters
            .get(&d.cluster)
            .filter(|c| c.error.is_none())
        else {
            continue;
        };
        let recorded = cluster
            .owned
            .binary_search_by(|o| o.id.cmp(&d.id))
            .ok()
            .and_then(|i| cluster.owned[i].annotation(crate::object::INPUTS_ANNOTATION));
        out.insert(
            (d.cluster.clone(), d.tenant.clone()),
            crate::apply::TenantInputs {
                digest: digest.clone(),
                recorded,
            },
        );
    }
    out
}
