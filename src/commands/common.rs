//! Steps several commands share: open the source the command line names, read a repository
//! and validate it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::cli::GitArgs;
use crate::cluster;
use crate::diag;
use crate::pipeline::{self, Loaded};
use crate::printer::Printer;
use crate::render::{Rendered, TemplateSet};
use crate::source::{GitAuth, GitOptions, GitSource, Secret, SignaturePolicy, Source, SourceTree};
use crate::spec::LoadOutput;

/// The config repository the command line names: `--repo URL`; the Git repository
/// containing `dir` when a revision is asked for (`--rev`, or `force_git` for `plan --base`);
/// else the directory `dir` (default `.`) as it is on disk.
pub fn open_source(dir: Option<&Path>, git: &GitArgs, force_git: bool) -> anyhow::Result<Source> {
    let verify = signature_policy(git)?;
    if let Some(url) = &git.repo {
        let token = secret(git.git_token_file.as_deref(), "BERTH_GIT_TOKEN", "token")?;
        let ssh_key_passphrase = secret(
            git.ssh_key_passphrase_file.as_deref(),
            "BERTH_GIT_SSH_KEY_PASSPHRASE",
            "passphrase",
        )?;
        let opts = GitOptions {
            url: url.clone(),
            branch: git.branch.clone(),
            rev: git.rev.clone(),
            state_dir: state_dir(git),
            auth: GitAuth {
                ssh_key: git.ssh_key.clone(),
                ssh_key_passphrase,
                known_hosts: git.known_hosts.clone(),
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

/// A secret from `file` (its content, without surrounding whitespace), else from the
/// environment variable `var`; `None` when neither holds one.
fn secret(file: Option<&Path>, var: &str, what: &str) -> anyhow::Result<Option<Secret>> {
    Ok(match file {
        Some(file) => Some(Secret::new(&std::fs::read_to_string(file).with_context(
            || format!("cannot read the {what} file {}", file.display()),
        )?)),
        None => std::env::var(var)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| Secret::new(&t)),
    })
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
    let started = std::time::Instant::now();
    let tree = source
        .load()
        .with_context(|| "cannot read the config repository")?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "read");
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
    load_and_render_tenants(tree, &[], printer).map(|(_, out, rendered, _)| (out, rendered))
}

/// Like [`load_and_render`], rendering only `tenants` when the list is not empty (every spec
/// is still validated; a narrowed plan needs only its tenants' objects). Gives the files
/// back, for the fingerprint of saved plans.
pub fn load_and_render_tenants(
    tree: SourceTree,
    tenants: &[String],
    printer: &Printer,
) -> anyhow::Result<(
    SourceTree,
    LoadOutput,
    Option<Rendered>,
    Option<TemplateSet>,
)> {
    let Loaded {
        load,
        rendered,
        templates,
    } = pipeline::load_and_render(&tree, tenants);
    print_diagnostics(&load, printer);
    Ok((tree, load, rendered, templates))
}

/// Prints the diagnostics of a load, if any, to stderr.
pub fn print_diagnostics(load: &LoadOutput, printer: &Printer) {
    if !load.diagnostics.is_empty() {
        printer.err(&diag::render(
            &load.diagnostics,
            &load.sources,
            printer.color_err,
        ));
    }
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

/// The `help:` line of an unknown name: the closest of `known` when one is close enough to
/// be a typo (as validation suggests), else nothing.
pub fn did_you_mean_help<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    diag::did_you_mean(name, known)
        .map(|near| format!("  = help: did you mean `{near}`?\n"))
        .unwrap_or_default()
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
