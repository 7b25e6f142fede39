//! `berth render [DIR]`.

use super::common::{
    did_you_mean_help, failure_summary, load_and_render, load_source, open_source,
};
use super::{CommandError, Outcome};
use crate::cli::{RenderArgs, RenderFormat};
use crate::printer::Printer;
use crate::render;

/// Prints the objects the specs become, as YAML documents or a JSON `List`.
pub fn run(args: &RenderArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let mut source = open_source(args.source.dir.as_deref(), &args.source.git, false)?;
    let tree = load_source(&mut source)?;
    let label = tree.label();
    let commit = tree.revision.clone();
    let (out, rendered) = load_and_render(tree, printer)?;
    let (Some(config), Some(rendered)) = (&out.config, rendered) else {
        printer.err(&failure_summary(&out));
        return Ok(Outcome::Failure);
    };
    for t in &args.tenant {
        if !config.tenants.iter().any(|c| &c.name == t) {
            let help = did_you_mean_help(t, config.tenants.iter().map(|c| c.name.as_str()));
            printer.err(&format!("error: no tenant named `{t}` in {label}\n{help}"));
            return Ok(Outcome::Failure);
        }
    }
    let objects: Vec<_> = rendered
        .objects
        .into_iter()
        .filter(|o| args.tenant.is_empty() || args.tenant.contains(&o.tenant))
        .collect();
    let text = match args.output {
        // A YAML comment names the commit; the objects themselves do not (an annotation
        // holding it would change every object on every commit).
        RenderFormat::Yaml => match &commit {
            Some(sha) => format!(
                "# rendered from {label} (commit {sha})\n{}",
                render::to_yaml(&objects)
            ),
            None => render::to_yaml(&objects),
        },
        RenderFormat::Json => render::to_json(&objects),
    };
    printer.out(&text);
    Ok(Outcome::Success)
}
