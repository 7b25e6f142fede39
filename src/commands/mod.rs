//! Glue between the CLI and the pipeline stages: one module per subcommand.

pub mod apply;
mod common;
pub mod completions;
pub mod daemon;
pub mod drift;
pub mod plan;
pub mod render;
pub mod schema;
pub mod show;
pub mod status;
pub mod validate;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// What a command ended with; `main` turns it into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went well (exit 0).
    Success,
    /// The input was bad or an operation failed; messages were printed (exit 1).
    Failure,
    /// Success, and there are changes or drift (exit 2 with `--detailed-exitcode`).
    Changes,
}

/// A failure that is not about the user's input.
pub type CommandError = anyhow::Error;

/// Runs a parsed command line.
pub fn run(cli: Cli, printer: &Printer) -> Result<Outcome, CommandError> {
    match cli.command {
        Command::Validate(args) => validate::run(&args, printer),
        Command::Render(args) => render::run(&args, printer),
        Command::Schema(args) => schema::run(&args, printer),
        Command::Plan(args) => plan::run(&args, printer),
        Command::Apply(args) => apply::run(&args, printer),
        Command::Drift(args) => drift::run(&args, printer),
        Command::Daemon(args) => daemon::run(&args, printer),
        Command::Status(args) => status::run(&args, printer),
        Command::Show(args) => show::run(&args, printer),
        Command::Completions(args) => completions::completions(&args, printer),
        Command::Man(args) => completions::man(&args, printer),
    }
}
