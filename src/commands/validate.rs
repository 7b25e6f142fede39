//! `berth validate [DIR]`.

use super::common::{failure_summary, load_and_render, load_source, open_source, plural};
use super::{CommandError, Outcome};
use crate::cli::ValidateArgs;
use crate::printer::Printer;

/// Validates a repository: every problem, then exit 1; or a one-line summary and exit 0.
pub fn run(args: &ValidateArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let mut source = open_source(args.source.dir.as_deref(), &args.source.git, false)?;
    let tree = load_source(&mut source)?;
    let label = tree.label();
    let (out, rendered) = load_and_render(tree, printer)?;
    match (&out.config, rendered) {
        (None, _) | (_, None) => {
            printer.err(&failure_summary(&out));
            Ok(Outcome::Failure)
        }
        (Some(config), Some(rendered)) => {
            let warnings = out.diagnostics.len();
            let schedules: usize = config.tenants.iter().map(|t| t.schedules.len()).sum();
            let restores: usize = config.tenants.iter().map(|t| t.restores.len()).sum();
            let mut line = format!(
                "{label} is valid: {}, {}, {}; {} rendered",
                plural(config.tenants.len(), "tenant", "tenants"),
                plural(schedules, "backup schedule", "backup schedules"),
                plural(restores, "restore request", "restore requests"),
                plural(rendered.objects.len(), "object", "objects"),
            );
            if out.counts.templates > 0 {
                line.push_str(&format!(
                    ", {}",
                    plural(
                        out.counts.templates,
                        "template override",
                        "template overrides"
                    )
                ));
            }
            if warnings > 0 {
                line.push_str(&format!(" ({})", plural(warnings, "warning", "warnings")));
            }
            line.push('\n');
            printer.out(&line);
            Ok(Outcome::Success)
        }
    }
}
