//! The pipeline run end to end without printing: a [`SourceTree`] becomes a validated
//! [`Config`] and its [`Rendered`] objects ([`load_and_render`]), then live state and a
//! [`Plan`] ([`observe_and_plan`]). The commands print around these steps; the daemon records
//! their results in its status. No module below this one is skipped or reordered here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::cluster::{self, Backend, ClusterError, ClusterSettings};
use crate::diag::{Diagnostic, SourceMap};
use crate::observe::{self, ObserveOptions, Observed};
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
}

/// Validates `tree` and renders it, only `tenants` when the list is not empty (every spec is
/// still validated). Template problems become diagnostics beside the spec ones.
pub fn load_and_render(tree: &SourceTree, tenants: &[String]) -> Loaded {
    let mut out = spec::load_config(tree);
    let templates = TemplateSet::new(&tree.template_texts());
    let scoped = out.config.as_ref().map(|config| {
        if tenants.is_empty() {
            return std::borrow::Cow::Borrowed(config);
        }
        let mut c = config.clone();
        c.tenants.retain(|t| tenants.contains(&t.name));
        std::borrow::Cow::Owned(c)
    });
    let rendered = match (&scoped, templates) {
        (Some(config), Ok(templates)) => match render::render(config, &templates) {
            Ok(r) => Some(r),
            Err(errors) => {
                out.diagnostics
                    .extend(errors.iter().map(|e| render_diagnostic(e, &out.sources)));
                None
            }
        },
        (_, Err(errors)) => {
            out.diagnostics
                .extend(errors.iter().map(|e| render_diagnostic(e, &out.sources)));
            None
        }
        (None, Ok(_)) => None,
    };
    drop(scoped);
    if rendered.is_none() {
        out.config = None;
    }
    Loaded {
        load: out,
        rendered,
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
    /// Allow deleting protected tenants' namespaces and databases.
    pub allow_destroy: bool,
    /// Allow replacing data-bearing objects.
    pub allow_replace: bool,
}

impl Scope {
    /// How backends are reached under this scope.
    pub fn cluster_settings(&self) -> ClusterSettings {
        let mut settings = ClusterSettings::new(
            self.state_dir
                .clone()
                .unwrap_or_else(cluster::default_state_dir),
        );
        settings.kubeconfig_override = self.kubeconfig.clone();
        settings.config_dir = self.config_dir.clone();
        settings
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

/// Connects to the clusters `config` places tenants on (embedded ones with state, and any in
/// `scope.clusters`), observes them and plans. A Kubernetes cluster without tenants is not
/// contacted unless named in `scope.clusters`. Fails only when the state directory is
/// unusable; unreachable clusters are in `plan.unreachable`.
pub async fn observe_and_plan(
    config: &Config,
    rendered: &Rendered,
    scope: &Scope,
) -> Result<Observation, ClusterError> {
    let settings = scope.cluster_settings();
    if let Some(dir) = &scope.config_dir {
        cluster::check_state_dir("embedded", &settings.state_dir, dir)?;
    }
    let with_tenants: BTreeSet<&str> = config.tenants.iter().map(|t| t.cluster.as_str()).collect();
    let mut connections = observe::connect_all(config, &settings).await;
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
    let tenants: Option<BTreeSet<String>> =
        (!scope.tenants.is_empty()).then(|| scope.tenants.iter().cloned().collect());
    let observe_opts = ObserveOptions {
        tenants: tenants.clone(),
        ..ObserveOptions::default()
    };
    let observed =
        observe::observe_connections(config, rendered, &connections, &observe_opts).await;
    let backends: BTreeMap<String, Backend> = connections
        .into_iter()
        .filter_map(|(k, r)| r.ok().map(|b| (k, b)))
        .collect();
    let opts = PlanOptions {
        prune: config.policy.prune,
        adopt: scope.adopt,
        allow_destroy: scope.allow_destroy,
        allow_replace: scope.allow_replace,
        tenants,
        clusters: (!scope.clusters.is_empty()).then(|| scope.clusters.iter().cloned().collect()),
    };
    let plan = plan::plan(config, rendered, &observed, &opts);
    Ok(Observation {
        backends,
        observed,
        plan,
        notes,
    })
}
