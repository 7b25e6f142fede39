//! `berth render [DIR]`.

use super::common::{failure_summary, load};
use super::{CommandError, Outcome};
use crate::cli::RenderArgs;
use crate::printer::Printer;

/// Prints the objects the specs become.
pub fn run(args: &RenderArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let out = load(&args.dir, printer)?;
    if out.config.is_none() {
        printer.err(&failure_summary(&out));
        return Ok(Outcome::Failure);
    }
    printer.err("render: not wired yet\n");
    Ok(Outcome::Failure)
}
