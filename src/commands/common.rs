//! Steps several commands share: read a repository and validate it.

use std::path::Path;

use anyhow::Context as _;

use crate::diag::{self, Diagnostic, SourceMap};
use crate::printer::Printer;
use crate::render::{self, RenderError, Rendered, TemplateSet};
use crate::source::{self, SourceTree};
use crate::spec::{self, LoadOutput};

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
    let mut out = spec::load_config(&tree);
    let templates = TemplateSet::new(&tree.template_texts());
    let scoped = out.config.as_ref().map(|config| {
        let mut c = config.clone();
        if !tenants.is_empty() {
            c.tenants.retain(|t| tenants.contains(&t.name));
        }
        c
    });
    let rendered = match (&scoped, templates) {
        (Some(config), Ok(templates)) => match render::render(config, &templates) {
            Ok(r) => Some(r),
            Err(errors) => {
                out.diagnostics
                    .extend(errors.iter().map(|e| render_diagnostic(e, &out.sources)));
                out.config = None;
                None
            }
        },
        (_, Err(errors)) => {
            out.diagnostics
                .extend(errors.iter().map(|e| render_diagnostic(e, &out.sources)));
            out.config = None;
            None
        }
        (None, Ok(_)) => None,
    };
    if !out.diagnostics.is_empty() {
        printer.err(&diag::render(
            &out.diagnostics,
            &out.sources,
            printer.color_err,
        ));
    }
    Ok((tree, out, rendered))
}

/// A template problem as a diagnostic pointing into the override file when there is one.
fn render_diagnostic(e: &RenderError, sources: &SourceMap) -> Diagnostic {
    let mut message = e
        .message
        .replace("syntax error: syntax error:", "template syntax error:");
    if let Some(t) = &e.tenant {
        message = format!("{message} (rendering tenant `{t}`)");
    }
    let mut d = Diagnostic::error(message).maybe_help(e.help.clone());
    match (&e.template, e.line) {
        (Some(file), Some(line)) if !e.in_output && sources.get(file).is_some() => {
            let text = sources.get(file).unwrap_or_default();
            let start: usize = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            let len = text[start.min(text.len())..]
                .find('\n')
                .unwrap_or(text.len() - start.min(text.len()));
            d = d.at(file, Some(start..start + len), "");
        }
        (Some(file), Some(line)) => {
            let what = if e.in_output {
                "rendered output of "
            } else {
                ""
            };
            d = d.at(file, None, format!("at line {line} of the {what}{file}"));
        }
        (Some(file), None) => d = d.at(file, None, ""),
        _ => {}
    }
    d
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
