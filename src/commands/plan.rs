//! `berth plan [DIR]`: read, validate, render, observe the clusters, diff, print.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::common::{failure_summary, load_and_render_tenants, plural};
use super::{CommandError, Outcome};
use crate::cli::{PlanArgs, PlanFormat, TargetArgs};
use crate::cluster::{self, Backend, ClusterSettings};
use crate::observe::{self, ObserveOptions, Observed};
use crate::plan::{self, Plan, PlanOptions};
use crate::printer::Printer;
use crate::render::Rendered;
use crate::spec::model::{ClusterTarget, Config};
use crate::{output, source};

/// Everything a plan needs, computed once; `apply` reuses it.
pub struct Planned {
    /// The validated configuration.
    pub config: Config,
    /// What it renders to.
    pub rendered: Rendered,
    /// Connections to the clusters that were observed.
    pub backends: BTreeMap<String, Backend>,
    /// Live state.
    pub observed: Observed,
    /// The plan.
    pub plan: Plan,
    /// The config files read, for the fingerprint of saved plans.
    pub tree: source::SourceTree,
}

/// Runs the pipeline up to the plan. `None` (after printing why) when the configuration is
/// invalid or a `--tenant`/`--cluster` filter names nothing.
pub fn compute(
    dir: &Path,
    target: &TargetArgs,
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Planned>, CommandError> {
    let (tree, mut load, rendered) = load_and_render_tenants(dir, &target.tenant, printer)?;
    let (Some(config), Some(rendered)) = (load.config.take(), rendered) else {
        printer.err(&failure_summary(&load));
        return Ok(None);
    };
    for t in &target.tenant {
        if !config.tenants.iter().any(|c| &c.name == t) {
            printer.err(&format!(
                "error: no tenant named `{t}` in {}\n",
                dir.display()
            ));
            return Ok(None);
        }
    }
    for c in &target.cluster {
        if !config.clusters.contains_key(c) {
            printer.err(&format!("error: no cluster named `{c}` in platform.toml\n"));
            return Ok(None);
        }
    }
    let mut settings = ClusterSettings::new(
        target
            .state_dir
            .clone()
            .unwrap_or_else(cluster::default_state_dir),
    );
    settings.kubeconfig_override = target.kubeconfig.clone();
    settings.config_dir = Some(dir.to_path_buf());
    if let Err(e) = cluster::check_state_dir("embedded", &settings.state_dir, dir) {
        printer.err(&format!("error: {e}\n"));
        return Ok(None);
    }

    // Clusters to observe: those with tenants, embedded ones with state, and any named with
    // --cluster. A Kubernetes cluster without tenants is not contacted unless named.
    let with_tenants: BTreeSet<&str> = config.tenants.iter().map(|t| t.cluster.as_str()).collect();
    let mut connections = runtime.block_on(observe::connect_all(&config, &settings));
    let mut notes = Vec::new();
    connections.retain(|name, _| {
        let kube = config
            .clusters
            .get(name)
            .is_some_and(|c| c.target != ClusterTarget::Embedded);
        let wanted = target.cluster.is_empty() || target.cluster.contains(name);
        let keep = wanted && (!kube || with_tenants.contains(name.as_str()) || target.cluster.contains(name));
        if wanted && !keep {
            notes.push(format!(
                "note: cluster `{name}` has no tenants in the configuration and was not contacted; name it with --cluster to plan deletions there\n"
            ));
        }
        keep
    });
    let observe_opts = ObserveOptions {
        tenants: (!target.tenant.is_empty()).then(|| target.tenant.iter().cloned().collect()),
        ..ObserveOptions::default()
    };
    let observed = runtime.block_on(observe::observe_connections(
        &config,
        &rendered,
        &connections,
        &observe_opts,
    ));
    let backends: BTreeMap<String, Backend> = connections
        .into_iter()
        .filter_map(|(k, r)| r.ok().map(|b| (k, b)))
        .collect();
    for n in notes {
        printer.err(&n);
    }
    let opts = PlanOptions {
        prune: config.policy.prune,
        adopt: target.adopt,
        allow_destroy: target.allow_destroy,
        allow_replace: target.allow_replace,
        tenants: (!target.tenant.is_empty()).then(|| target.tenant.iter().cloned().collect()),
        clusters: (!target.cluster.is_empty()).then(|| target.cluster.iter().cloned().collect()),
    };
    let plan = plan::plan(&config, &rendered, &observed, &opts);
    Ok(Some(Planned {
        config,
        rendered,
        backends,
        observed,
        plan,
        tree,
    }))
}

/// A tokio runtime for the cluster I/O of one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Prints a plan in the chosen format.
pub fn print_plan(plan: &Plan, format: PlanFormat, printer: &Printer) {
    let text = match format {
        PlanFormat::Text => output::to_text(plan, printer.color_out),
        PlanFormat::Json => output::to_json(plan),
        PlanFormat::Markdown => output::to_markdown(plan),
    };
    printer.out(&text);
}

/// `berth plan`.
pub fn run(args: &PlanArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let runtime = runtime()?;
    let Some(mut planned) = compute(&args.dir, &args.target, printer, &runtime)? else {
        return Ok(Outcome::Failure);
    };
    if args.server_dry_run {
        let notes = runtime.block_on(crate::apply::confirm::confirm_with_dry_run(
            &mut planned.plan,
            &planned.rendered,
            &planned.observed,
            &planned.backends,
        ));
        for n in notes {
            printer.err(&format!("warning: {n}\n"));
        }
    }
    print_plan(&planned.plan, args.output, printer);
    if let Some(path) = &args.out {
        save_plan(path, &planned)?;
        printer.err(&format!(
            "Saved the plan to {}; apply exactly it with `berth apply {}`.\n",
            path.display(),
            path.display()
        ));
    }
    if !planned.plan.unreachable.is_empty() {
        printer.err(&format!(
            "error: {} could not be planned\n",
            plural(planned.plan.unreachable.len(), "cluster", "clusters")
        ));
        return Ok(Outcome::Failure);
    }
    if args.detailed_exitcode && planned.plan.has_changes() {
        return Ok(Outcome::Changes);
    }
    Ok(Outcome::Success)
}

/// Writes a saved plan: the plan (no secret values), the config fingerprint and the
/// resourceVersions of every object it touches, so that apply can refuse it when stale.
fn save_plan(path: &Path, planned: &Planned) -> Result<(), CommandError> {
    let file = crate::apply::planfile::PlanFile::new(
        planned.plan.clone(),
        &planned.tree,
        &planned.observed,
    );
    file.save(path)?;
    Ok(())
}
