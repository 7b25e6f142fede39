//! `berth drift [DIR]`: what changed in the clusters outside berth. Exit 0 none, 2 some,
//! 1 error (an invalid config, or a cluster, tenant or kind that could not be read).

use super::plan::{compute_read_only, runtime};
use super::{CommandError, Outcome};
use crate::cli::{DriftArgs, PlanFormat, TargetArgs};
use crate::output;
use crate::printer::Printer;

/// `berth drift`.
pub fn run(args: &DriftArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let runtime = runtime()?;
    let target = TargetArgs::read_only(&args.target);
    let Some(planned) = compute_read_only(&args.source, &target, printer, &runtime)? else {
        return Ok(Outcome::Failure);
    };
    let plan = &planned.plan;
    printer.out(&match args.output {
        PlanFormat::Text => output::drift_text(plan),
        PlanFormat::Json => output::drift_json(plan),
        PlanFormat::Markdown => output::drift_markdown(plan),
    });
    Ok(if plan.is_partial() {
        Outcome::Failure
    } else if !plan.drift.is_empty() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}
