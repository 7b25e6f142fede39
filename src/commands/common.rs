//! Steps several commands share: read a repository and validate it.

use std::path::Path;

use anyhow::Context as _;

use crate::diag;
use crate::pipeline::{self, Loaded};
use crate::printer::Printer;
use crate::render::Rendered;
use crate::source::{self, SourceTree};
use crate::spec::LoadOutput;

/// Reads, validates and renders the repository at `dir`, printing every problem (spec
/// diagnostics, then template problems) to stderr. `rendered` is `None` when anything failed.
pub fn load_and_render(
    dir: &Path,
    printer: &Printer,
) -> anyhow::Result<(LoadOutput, Option<Rendered>)> {
    load_and_render_tenants(dir, &[], printer).map(|(_, out, rendered)| (out, rendered))
}

/// Like [`load_and_render`], rendering only `tenants` when the list is not empty (every spec
/// is still validated; a narrowed plan needs only its tenants' objects). Also returns the
/// files read, so that callers need not read the repository again.
pub fn load_and_render_tenants(
    dir: &Path,
    tenants: &[String],
    printer: &Printer,
) -> anyhow::Result<(SourceTree, LoadOutput, Option<Rendered>)> {
    let tree = source::read_dir(dir).with_context(|| "cannot read the config repository")?;
    let Loaded { load, rendered } = pipeline::load_and_render(&tree, tenants);
    if !load.diagnostics.is_empty() {
        printer.err(&diag::render(
            &load.diagnostics,
            &load.sources,
            printer.color_err,
        ));
    }
    Ok((tree, load, rendered))
}

/// The closing line of a failed validation.
pub fn failure_summary(out: &LoadOutput) -> String {
    let errors = out.error_count();
    let warnings = out.diagnostics.len() - errors;
    let mut files: Vec<&str> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.file())
        .collect();
    files.sort_unstable();
    files.dedup();
    let mut s = format!(
        "error: validation failed: {}",
        plural(errors, "error", "errors")
    );
    if warnings > 0 {
        s.push_str(&format!(", {}", plural(warnings, "warning", "warnings")));
    }
    if !files.is_empty() {
        s.push_str(&format!(" in {}", plural(files.len(), "file", "files")));
    }
    s.push('\n');
    s
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
