//! `berth show tenant NAME [DIR]`: one tenant in detail. Exit codes as `berth status`.

use super::common::did_you_mean_help;
use super::plan::{compute_read_only, runtime};
use super::status::{note_workload_errors, now, outcome_of, workloads};
use super::{CommandError, Outcome};
use crate::cli::{ShowArgs, ShowCommand, StatusFormat, TargetArgs};
use crate::output;
use crate::printer::Printer;
use crate::status::{tenant_details, StatusInput};

/// `berth show`.
pub fn run(args: &ShowArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let ShowCommand::Tenant(args) = &args.what;
    let now = now()?;
    let runtime = runtime()?;
    let mut target = TargetArgs::read_only(&args.target);
    target.scope.tenant = vec![args.name.clone()];
    // A tenant gone from the configuration may still be kept by its cluster.
    target.scope.removed_ok = true;
    let Some(planned) = compute_read_only(&args.source, &target, printer, &runtime)? else {
        return Ok(Outcome::Failure);
    };
    let tenant = planned.config.tenants.iter().find(|t| t.name == args.name);
    let kept = planned.plan.kept.iter().find(|k| k.tenant == args.name);
    let names = std::slice::from_ref(&args.name);
    let mut workloads = workloads(&planned, names, names, &runtime);
    note_workload_errors(&mut workloads, printer);
    let input = StatusInput {
        config: &planned.config,
        observed: &planned.observed,
        plan: &planned.plan,
        workloads: &workloads,
        now,
    };
    let (text, status) = match (tenant, kept) {
        (Some(tenant), _) => {
            let details = tenant_details(&input, tenant, &planned.rendered, &planned.tree);
            let text = match args.output {
                StatusFormat::Text => output::status::show_text(&details),
                StatusFormat::Json => output::status::show_json(&details, now),
            };
            (text, details.status)
        }
        // A tenant the configuration no longer has, that its cluster keeps.
        (None, Some(kept)) => {
            let status = crate::status::kept_status(&input, kept);
            let text = match args.output {
                StatusFormat::Text => output::status::show_kept_text(&status, kept),
                StatusFormat::Json => output::status::show_kept_json(&status, kept, now),
            };
            (text, status)
        }
        (None, None) => {
            let help = did_you_mean_help(
                &args.name,
                planned.config.tenants.iter().map(|t| t.name.as_str()),
            );
            printer.err(&format!(
                "error: no tenant named `{}` in {}, and no cluster keeps one\n{help}",
                args.name,
                planned.tree.label()
            ));
            return Ok(Outcome::Failure);
        }
    };
    printer.out(&text);
    Ok(outcome_of(&[&status]))
}
