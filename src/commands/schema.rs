//! `berth schema`: the JSON Schemas editors use to validate files as people type.

use anyhow::Context as _;

use super::{CommandError, Outcome};
use crate::cli::SchemaArgs;
use crate::printer::Printer;
use crate::spec::schema;

/// Prints the schemas, writes them, or checks that written ones are current.
pub fn run(args: &SchemaArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    if args.reference {
        printer.out(&schema::reference_markdown());
        return Ok(Outcome::Success);
    }
    let all = schema::all();
    let Some(dir) = &args.write else {
        for (name, text) in &all {
            printer.out(&format!("// {name}\n{text}"));
        }
        return Ok(Outcome::Success);
    };
    let mut stale = Vec::new();
    for (name, text) in &all {
        let path = dir.join(name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != *text {
            stale.push(path.display().to_string());
            if !args.check {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    if args.check {
        if stale.is_empty() {
            printer.out("schemas are up to date\n");
            return Ok(Outcome::Success);
        }
        printer.err(&format!(
            "error: stale schemas: {}\n  = help: run `berth schema --write {}`\n",
            stale.join(", "),
            dir.display()
        ));
        return Ok(Outcome::Failure);
    }
    for s in &stale {
        printer.out(&format!("wrote {s}\n"));
    }
    Ok(Outcome::Success)
}
