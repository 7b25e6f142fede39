//! `berth plan [DIR]`: read, validate, render, observe the clusters, diff, print.

use std::collections::BTreeMap;
use std::path::Path;

use super::common::{failure_summary, load_and_render_tenants, plural};
use super::{CommandError, Outcome};
use crate::cli::{PlanArgs, PlanFormat, TargetArgs};
use crate::cluster::Backend;
use crate::observe::Observed;
use crate::pipeline::{self, Observation, Scope};
use crate::plan::Plan;
use crate::printer::Printer;
use crate::render::Rendered;
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
    let scope = scope_of(target, dir);
    let observation = match runtime.block_on(pipeline::observe_and_plan(&config, &rendered, &scope))
    {
        Ok(o) => o,
        Err(e) => {
            printer.err(&format!("error: {e}\n"));
            return Ok(None);
        }
    };
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
    }))
}

/// The pipeline scope of a command line.
fn scope_of(target: &TargetArgs, dir: &Path) -> Scope {
    Scope {
        state_dir: target.state_dir.clone(),
        kubeconfig: target.kubeconfig.clone(),
        config_dir: Some(dir.to_path_buf()),
        tenants: target.tenant.clone(),
        clusters: target.cluster.clone(),
        adopt: target.adopt,
        allow_destroy: target.allow_destroy,
        allow_replace: target.allow_replace,
    }
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
