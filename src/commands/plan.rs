//! `berth plan [DIR]`: read, validate, render, observe the clusters, diff, print.
//! `berth plan --base REV`: the same diff between two revisions, without any cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::common::{
    did_you_mean_help, failure_summary, load_and_render_tenants, load_source, open_source, plural,
    print_diagnostics, state_dir,
};
use super::{CommandError, Outcome};
use crate::apply::planfile::PlanSource;
use crate::cli::{PlanArgs, PlanFormat, TargetArgs};
use crate::cluster::Backend;
use crate::observe::Observed;
use crate::pipeline::{self, Connected, Observation, Scope};
use crate::plan::{self, Plan, PlanOptions};
use crate::printer::Printer;
use crate::render::{Rendered, TemplateSet};
use crate::source::{Source, SourceTree};
use crate::spec::model::Config;
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
    /// The compiled templates (for the inputs digests apply records).
    pub templates: TemplateSet,
    /// How failed requests are retried, with the run's budget (apply's writes use it too).
    pub retry: crate::cluster::RetryPolicy,
}

impl Planned {
    /// What apply records on each tenant Namespace of the plan's scope: the digest of the
    /// tenant's inputs now, and what the Namespace says.
    pub fn tenant_inputs(&self) -> BTreeMap<(String, String), crate::apply::TenantInputs> {
        let tenants: std::collections::BTreeSet<String> = self
            .rendered
            .objects
            .iter()
            .map(|o| o.tenant.clone())
            .collect();
        let digests = crate::render::input_digests(&self.config, &self.templates, Some(&tenants));
        pipeline::tenant_inputs(&digests, &self.rendered, &self.observed)
    }
}

/// Runs the pipeline up to the plan. `None` (after printing why) when the configuration is
/// invalid or a `--tenant`/`--cluster` filter names nothing.
pub fn compute(
    source: &mut Source,
    state_dir: PathBuf,
    target: &TargetArgs,
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Planned>, CommandError> {
    compute_with(source, state_dir, target, false, printer, runtime)
}

/// [`compute`] for a read-only command (`drift`, `status`, `show`): the configuration of
/// `source` and the clusters in `target`, nothing permitted.
pub fn compute_read_only(
    source: &crate::cli::SourceArgs,
    target: &TargetArgs,
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Planned>, CommandError> {
    let mut opened = open_source(source.dir.as_deref(), &source.git, false)?;
    let state_dir = state_dir(&source.git);
    compute(&mut opened, state_dir, target, printer, runtime)
}

/// [`compute`], with `changed`: only the tenants whose inputs changed since they were last
/// applied completely (see [`pipeline::changed_tenants`]).
pub fn compute_with(
    source: &mut Source,
    state_dir: PathBuf,
    target: &TargetArgs,
    changed: bool,
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Planned>, CommandError> {
    let tree = load_source(source)?;
    let config_dir = match source {
        Source::Dir(dir) => Some(dir.clone()),
        Source::Git(_) => None,
    };
    compute_tree(
        tree, config_dir, state_dir, target, changed, printer, runtime,
    )
}

/// [`compute_with`] on a config already read; `config_dir` is its directory when it was read
/// from one (relative kubeconfig paths are relative to it).
pub fn compute_tree(
    tree: SourceTree,
    config_dir: Option<PathBuf>,
    state_dir: PathBuf,
    target: &TargetArgs,
    changed: bool,
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Planned>, CommandError> {
    let scope = scope_of(target, state_dir, config_dir);
    if changed {
        return compute_changed(tree, scope, target, printer, runtime);
    }
    let mut validated = pipeline::validate(&tree);
    print_diagnostics(&validated.load, printer);
    let printed = validated.load.diagnostics.len();
    let Some(config) = &validated.load.config else {
        printer.err(&failure_summary(&validated.load));
        return Ok(None);
    };
    // A `--tenant` the configuration does not have may still be kept by a cluster (for
    // `show`), unless the clusters hold nothing yet: then it is a mistake, and nothing is
    // opened or created.
    let mut checked = target.clone();
    checked.scope.removed_ok &= pipeline::connecting_writes_nothing(config, &scope);
    if !check_targets(config, &checked, &tree, printer) {
        return Ok(None);
    }
    let connect = |config: &Config| match runtime.block_on(pipeline::connect(config, &scope)) {
        Ok(c) => Some(c),
        Err(e) => {
            printer.err(&format!("error: {e}\n"));
            None
        }
    };
    let (connected, rendered, prelisted) = if pipeline::connecting_writes_nothing(config, &scope) {
        // Render while the clusters are listed: the LISTs of the kinds berth manages do not
        // depend on what renders.
        let Some(connected) = connect(config) else {
            return Ok(None);
        };
        let (rendered, prelisted) = pipeline::render_beside_prelist(
            &mut validated,
            &target.scope.tenant,
            runtime,
            &scope,
            &connected,
        );
        (Some(connected), rendered, prelisted)
    } else {
        // Connecting would create an embedded cluster's store: not before the configuration
        // is known to render.
        let rendered = pipeline::render_tenants(&mut validated, &target.scope.tenant);
        (None, rendered, Default::default())
    };
    // What rendering found (template errors), after what validation found.
    let load = &validated.load;
    if load.diagnostics.len() > printed {
        printer.err(&crate::diag::render(
            &load.diagnostics[printed..],
            &load.sources,
            printer.color_err,
        ));
    }
    let (Some(config), Some(rendered), Some(templates)) = (
        validated.load.config.take(),
        rendered,
        validated.templates.take(),
    ) else {
        printer.err(&failure_summary(&validated.load));
        return Ok(None);
    };
    let Some(connected) = connected.or_else(|| connect(&config)) else {
        return Ok(None);
    };
    let observation = runtime.block_on(pipeline::plan_prelisted(
        &config, &rendered, &scope, connected, prelisted,
    ));
    for n in &observation.notes {
        printer.err(&format!("note: {n}\n"));
    }
    let Observation {
        backends,
        observed,
        plan,
        ..
    } = observation;
    Ok(Some(Planned {
        config,
        rendered,
        backends,
        observed,
        plan,
        tree,
        templates,
        retry: scope.retry.clone(),
    }))
}

/// `--changed`: validates everything, reads the inputs digest each tenant Namespace records
/// (one metadata-only LIST of Namespaces per cluster), then renders, observes and plans only
/// the tenants whose digest differs, and those removed from the configuration. Drift in the
/// other tenants is not looked for.
fn compute_changed(
    tree: SourceTree,
    mut scope: Scope,
    target: &TargetArgs,
    printer: &Printer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Planned>, CommandError> {
    let mut validated = pipeline::validate(&tree);
    print_diagnostics(&validated.load, printer);
    let (Some(config), Some(templates)) = (&validated.load.config, &validated.templates) else {
        printer.err(&failure_summary(&validated.load));
        return Ok(None);
    };
    if !check_clusters(config, target, printer) {
        return Ok(None);
    }
    let digests = crate::render::input_digests(config, templates, None);
    let connected = match runtime.block_on(pipeline::connect(config, &scope)) {
        Ok(c) => c,
        Err(e) => {
            printer.err(&format!("error: {e}\n"));
            return Ok(None);
        }
    };
    let changed = runtime.block_on(pipeline::changed_tenants(config, &digests, &connected));
    let total = changed.tenants.len() + changed.unchanged;
    let mut narrowed = None;
    if changed.tenants.len() > crate::observe::TENANT_SELECTOR_MAX {
        printer.err(&format!(
            "note: {} of {total} tenants changed since they were last applied; planning every tenant\n",
            changed.tenants.len()
        ));
    } else {
        printer.err(&format!(
            "note: --changed: planning {} of {total} tenants (inputs changed since they were last applied); drift in the others is not looked for\n",
            changed.tenants.len()
        ));
        scope.tenants = changed.tenants.iter().cloned().collect();
        narrowed = Some(crate::plan::Narrowed {
            planned: changed.tenants.len(),
            tenants: total,
        });
    }
    let rendered = if changed.tenants.is_empty() {
        Some(Rendered::default())
    } else {
        pipeline::render_tenants(&mut validated, &scope.tenants)
    };
    let Some(rendered) = rendered else {
        print_diagnostics(&validated.load, printer);
        printer.err(&failure_summary(&validated.load));
        return Ok(None);
    };
    let (Some(config), Some(templates)) = (validated.load.config, validated.templates) else {
        return Ok(None);
    };
    let mut observation = if changed.tenants.is_empty() {
        // Nothing to look at: an empty plan, without a request more.
        let Connected { connections, notes } = connected;
        let backends: BTreeMap<String, Backend> = connections
            .into_iter()
            .filter_map(|(k, r)| r.ok().map(|b| (k, b)))
            .collect();
        let observed = Observed::default();
        let opts = PlanOptions {
            tenants: Some(Default::default()),
            ..PlanOptions::default()
        };
        let plan = plan::plan(&config, &rendered, &observed, &opts);
        Observation {
            backends,
            observed,
            plan,
            notes,
        }
    } else {
        runtime.block_on(pipeline::plan_connected(
            &config, &rendered, &scope, connected,
        ))
    };
    observation.plan.narrowed = narrowed;
    for n in &observation.notes {
        printer.err(&format!("note: {n}\n"));
    }
    Ok(Some(Planned {
        config,
        rendered,
        backends: observation.backends,
        observed: observation.observed,
        plan: observation.plan,
        tree,
        templates,
        retry: scope.retry.clone(),
    }))
}

/// Whether every `--cluster` names a cluster of `config` (printing why not).
fn check_clusters(config: &Config, target: &TargetArgs, printer: &Printer) -> bool {
    for c in &target.scope.cluster {
        if !config.clusters.contains_key(c) {
            let help = did_you_mean_help(c, config.clusters.keys().map(String::as_str));
            printer.err(&format!(
                "error: no cluster named `{c}` in platform.toml\n{help}"
            ));
            return false;
        }
    }
    true
}

/// The pipeline scope of a command line.
fn scope_of(target: &TargetArgs, state_dir: PathBuf, config_dir: Option<PathBuf>) -> Scope {
    Scope {
        state_dir: Some(state_dir),
        kubeconfig: target.scope.kubeconfig.clone(),
        config_dir,
        tenants: target.scope.tenant.clone(),
        clusters: target.scope.cluster.clone(),
        adopt: target.write.adopt,
        allow_destroy: target.write.allow_destroy.iter().cloned().collect(),
        allow_replace: target.write.allow_replace,
        correct_drift: target.write.correct_drift,
        request_timeout: target.scope.request_timeout,
        retry: target.scope.retry_policy(),
    }
}

/// Validates and renders `tree` (only the `--tenant`s when given) and checks that the
/// `--tenant` and `--cluster` filters name something. `None` after printing why otherwise.
fn validate_scope(
    tree: SourceTree,
    target: &TargetArgs,
    printer: &Printer,
) -> Result<Option<(SourceTree, Config, Rendered, TemplateSet)>, CommandError> {
    let (tree, mut load, rendered, templates) =
        load_and_render_tenants(tree, &target.scope.tenant, printer)?;
    let (Some(config), Some(rendered), Some(templates)) = (load.config.take(), rendered, templates)
    else {
        printer.err(&failure_summary(&load));
        return Ok(None);
    };
    if !check_targets(&config, target, &tree, printer) {
        return Ok(None);
    }
    Ok(Some((tree, config, rendered, templates)))
}

/// Whether every `--tenant` and `--cluster` names one of the configuration (after printing
/// which does not).
fn check_targets(
    config: &Config,
    target: &TargetArgs,
    tree: &SourceTree,
    printer: &Printer,
) -> bool {
    for t in &target.scope.tenant {
        if !target.scope.removed_ok && !config.tenants.iter().any(|c| &c.name == t) {
            let help = did_you_mean_help(t, config.tenants.iter().map(|c| c.name.as_str()));
            printer.err(&format!(
                "error: no tenant named `{t}` in {}\n{help}",
                tree.label()
            ));
            return false;
        }
    }
    check_clusters(config, target, printer)
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
        PlanFormat::Text => output::to_text_with(plan, printer.color_out, printer.verbose),
        PlanFormat::Json => output::to_json(plan),
        PlanFormat::Markdown => output::to_markdown(plan),
    };
    printer.out(&text);
}

/// `berth plan`.
pub fn run(args: &PlanArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    if let Some(base) = &args.base {
        return run_offline(args, base, printer);
    }
    let mut source = open_source(args.source.dir.as_deref(), &args.source.git, false)?;
    let runtime = runtime()?;
    let state_dir = state_dir(&args.source.git);
    let Some(mut planned) = compute_with(
        &mut source,
        state_dir,
        &args.target,
        args.changed,
        printer,
        &runtime,
    )?
    else {
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
        let recorded = plan_source(&source, args.source.dir.as_deref(), &planned.tree);
        save_plan(path, &planned, recorded)?;
        printer.err(&format!(
            "Saved the plan to {}; apply exactly it with `berth apply {}`.\n",
            path.display(),
            path.display()
        ));
    }
    if planned.plan.is_partial() {
        printer.err(&unreachable_summary(&planned.plan, ""));
        return Ok(Outcome::Failure);
    }
    if args.detailed_exitcode && planned.plan.differs() {
        return Ok(Outcome::Changes);
    }
    Ok(Outcome::Success)
}

/// The error lines of a partial plan: one line per cluster, tenant and kind that could not be
/// read, with why (on stderr, so that it shows in a CI log even when the plan goes to a file),
/// then how many. `tail` ends the last line.
pub fn unreachable_summary(plan: &Plan, tail: &str) -> String {
    let mut out = String::new();
    for (cluster, why) in &plan.unreachable {
        if why.contains(&format!("`{cluster}`")) {
            out.push_str(&format!("error: {why}\n"));
        } else {
            out.push_str(&format!("error: cluster `{cluster}`: {why}\n"));
        }
    }
    for u in &plan.unobserved {
        out.push_str(&format!(
            "error: tenant `{}` on cluster `{}` was not observed: {}\n",
            u.tenant, u.cluster, u.reason
        ));
    }
    for u in &plan.unlisted {
        out.push_str(&format!(
            "error: {} on cluster `{}` could not be listed: {}\n",
            u.kind, u.cluster, u.reason
        ));
    }
    let mut parts = Vec::new();
    if !plan.unreachable.is_empty() {
        parts.push(plural(plan.unreachable.len(), "cluster", "clusters"));
    }
    if !plan.unobserved.is_empty() {
        parts.push(plural(plan.unobserved.len(), "tenant", "tenants"));
    }
    if !parts.is_empty() {
        out.push_str(&format!(
            "error: {} could not be planned{tail}\n",
            parts.join(" and ")
        ));
    } else {
        out.push_str(&format!(
            "error: {} could not be listed{tail}\n",
            plural(plan.unlisted.len(), "kind", "kinds")
        ));
    }
    out
}

/// Writes a saved plan: the plan (no secret values), the config fingerprint and where the
/// config was read from, and the resourceVersions of every object it touches, so that apply
/// reads the same config from anywhere and refuses the plan when stale.
fn save_plan(
    path: &Path,
    planned: &Planned,
    recorded: Option<PlanSource>,
) -> Result<(), CommandError> {
    let mut file = crate::apply::planfile::PlanFile::new(
        planned.plan.clone(),
        &planned.tree,
        &planned.observed,
    );
    file.source = recorded;
    file.save(path)?;
    Ok(())
}

/// Where a saved plan's config was read from, for `berth apply FILE` in another directory:
/// the directory made absolute (with the commit read, under `--rev`), or the remote's URL
/// without credentials with its branch and commit. `None` when a directory's absolute path
/// cannot be known.
fn plan_source(source: &Source, dir: Option<&Path>, tree: &SourceTree) -> Option<PlanSource> {
    let absolute = |dir: &Path| {
        std::fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .ok()
    };
    match source {
        Source::Dir(dir) => Some(PlanSource::Dir {
            path: absolute(dir)?,
            commit: None,
        }),
        Source::Git(git) => match git.recorded_url() {
            Some(url) => Some(PlanSource::Git {
                url,
                branch: git.branch().map(str::to_string),
                commit: tree.revision.clone()?,
            }),
            None => Some(PlanSource::Dir {
                path: absolute(dir.unwrap_or(Path::new(".")))?,
                commit: tree.revision.clone(),
            }),
        },
    }
}

/// `berth plan --base REV`: renders the base revision and the new one, takes the base as
/// exactly applied (its rendered objects become the live objects, each with its last-applied
/// annotation) and plans the new one against it. No cluster, kubeconfig or cluster state is
/// touched; only Git is read.
fn run_offline(args: &PlanArgs, base: &str, printer: &Printer) -> Result<Outcome, CommandError> {
    let mut source = open_source(args.source.dir.as_deref(), &args.source.git, true)?;
    let Source::Git(git) = &mut source else {
        unreachable!("open_source gives a Git source when asked for one");
    };
    git.fetch_all_branches();
    let head_sha = git.fetch()?;
    let base_sha = git.resolve(base)?;
    let read = |sha: &str| {
        git.read(sha)
            .map_err(|e| anyhow::anyhow!(e).context("cannot read the config repository"))
    };
    let base_tree = read(&base_sha)?;
    let head_tree = read(&head_sha)?;

    let base_label = base_tree.label();
    let Some((_, base_config, base_rendered, _)) =
        validate_scope(base_tree, &args.target, printer)?
    else {
        printer.err(&format!(
            "error: the base revision {base_label} is not valid; nothing to compare against\n"
        ));
        return Ok(Outcome::Failure);
    };
    let Some((_, config, rendered, _)) = validate_scope(head_tree, &args.target, printer)? else {
        return Ok(Outcome::Failure);
    };
    let scope = &args.target.scope;
    let opts = PlanOptions {
        adopt: args.target.write.adopt,
        allow_replace: args.target.write.allow_replace,
        tenants: (!scope.tenant.is_empty()).then(|| scope.tenant.iter().cloned().collect()),
        clusters: (!scope.cluster.is_empty()).then(|| scope.cluster.iter().cloned().collect()),
        ..PlanOptions::from_config(&config)
    }
    .permitting(
        &args.target.write.allow_destroy,
        args.target.write.correct_drift,
    );
    let mut plan = plan::plan_change(
        &config,
        &rendered,
        &base_rendered,
        base_config.clusters.keys().cloned(),
        &opts,
    );
    plan.base = Some(base_sha);
    print_plan(&plan, args.output, printer);
    if args.detailed_exitcode && plan.differs() {
        return Ok(Outcome::Changes);
    }
    Ok(Outcome::Success)
}
