//! Steps several commands share: open the source the command line names, read a repository
//! and validate it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::cli::GitArgs;
use crate::cluster;
use crate::diag::{self, Diagnostic, SourceMap};
use crate::printer::Printer;
use crate::render::{self, RenderError, Rendered, TemplateSet};
use crate::source::{GitAuth, GitOptions, GitSource, Secret, SignaturePolicy, Source, SourceTree};
use crate::spec::{self, LoadOutput};

/// The config repository the command line names: `--repo URL`; the Git repository
/// containing `dir` when a revision is asked for (`--rev`, or `force_git` for `plan --base`);
/// else the directory `dir` (default `.`) as it is on disk.
pub fn open_source(dir: Option<&Path>, git: &GitArgs, force_git: bool) -> anyhow::Result<Source> {
    let verify = signature_policy(git)?;
    if let Some(url) = &git.repo {
        let token = match &git.git_token_file {
            Some(file) => Some(Secret::new(&std::fs::read_to_string(file).with_context(
                || format!("cannot read the token file {}", file.display()),
            )?)),
            None => std::env::var("BERTH_GIT_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| Secret::new(&t)),
        };
        let opts = GitOptions {
            url: url.clone(),
            branch: git.branch.clone(),
            rev: git.rev.clone(),
            state_dir: state_dir(git),
            auth: GitAuth {
                ssh_key: git.ssh_key.clone(),
                token,
            },
            verify,
            offline: git.offline,
        };
        return Ok(Source::Git(GitSource::remote(opts)?));
    }
    let dir = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if git.rev.is_some() || force_git {
        return Ok(Source::Git(GitSource::discover(
            &dir,
            git.rev.clone(),
            verify,
        )?));
    }
    if verify.is_some() {
        bail!("--verify-signatures checks Git commits: read the repository with --repo URL, or a commit of DIR's repository with --rev");
    }
    Ok(Source::Dir(dir))
}

/// The state directory: `--state-dir`, `BERTH_STATE_DIR`, else the default.
pub fn state_dir(git: &GitArgs) -> PathBuf {
    git.state_dir
        .clone()
        .unwrap_or_else(cluster::default_state_dir)
}

fn signature_policy(git: &GitArgs) -> anyhow::Result<Option<SignaturePolicy>> {
    if !git.verify_signatures {
        return Ok(None);
    }
    if git.allowed_signers.is_none() && git.gpg_keyring.is_none() {
        bail!("--verify-signatures needs --allowed-signers FILE (SSH signatures) or --gpg-keyring FILE (OpenPGP signatures)");
    }
    Ok(Some(SignaturePolicy {
        allowed_signers: git.allowed_signers.clone(),
        gpg_keyring: git.gpg_keyring.clone(),
    }))
}

/// Reads the source (fetching a Git source first).
pub fn load_source(source: &mut Source) -> anyhow::Result<SourceTree> {
    let tree = source
        .load()
        .with_context(|| "cannot read the config repository")?;
    if let Some(rev) = &tree.revision {
        tracing::info!(origin = %tree.origin, revision = %rev, "read the config repository");
    }
    Ok(tree)
}

/// Validates and renders `tree`, printing every problem (spec diagnostics, then template
/// problems) to stderr. `rendered` is `None` when anything failed.
pub fn load_and_render(
    tree: SourceTree,
    printer: &Printer,
) -> anyhow::Result<(LoadOutput, Option<Rendered>)> {
    load_and_render_tenants(tree, &[], printer).map(|(_, out, rendered)| (out, rendered))
}

/// Like [`load_and_render`], rendering only `tenants` when the list is not empty (every spec
/// is still validated; a narrowed plan needs only its tenants' objects). Gives the files
/// back, for the fingerprint of saved plans.
pub fn load_and_render_tenants(
    tree: SourceTree,
    tenants: &[String],
    printer: &Printer,
) -> anyhow::Result<(SourceTree, LoadOutput, Option<Rendered>)> {
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
