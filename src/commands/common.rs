//! Steps several commands share: read a repository and validate it.

use std::path::Path;

use anyhow::Context as _;

use crate::diag;
use crate::printer::Printer;
use crate::source;
use crate::spec::{self, LoadOutput};

/// Reads and validates the repository at `dir`, printing diagnostics to stderr.
/// Returns the load output; `config` is `None` when there were errors.
pub fn load(dir: &Path, printer: &Printer) -> anyhow::Result<LoadOutput> {
    let tree = source::read_dir(dir).with_context(|| "cannot read the config repository")?;
    let out = spec::load_config(&tree);
    if !out.diagnostics.is_empty() {
        printer.err(&diag::render(&out.diagnostics, &out.sources, printer.color_err));
    }
    Ok(out)
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
