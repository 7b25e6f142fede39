//! `berth completions SHELL` and `berth man`: what the shell and `man` need to know about the
//! command line, generated from it.

use anyhow::Context as _;
use clap::CommandFactory;

use super::{CommandError, Outcome};
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::printer::Printer;

/// Prints the completion script of a shell.
pub fn completions(args: &CompletionsArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "berth", &mut script);
    printer.out(&String::from_utf8(script)?);
    Ok(Outcome::Success)
}

/// Prints berth(1), or writes it and one page per command (berth-plan(1), berth-show-tenant(1))
/// into `--write`'s directory.
pub fn man(args: &ManArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    // As `generate_to` does: `help` is no command with a page of its own.
    let cmd = Cli::command().disable_help_subcommand(true);
    let Some(dir) = &args.write else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        printer.out(&String::from_utf8(page)?);
        return Ok(Outcome::Success);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    printer.out(&format!("wrote the man pages into {}\n", dir.display()));
    Ok(Outcome::Success)
}
