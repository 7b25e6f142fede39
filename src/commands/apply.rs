//! `berth apply [DIR | PLANFILE]`: plan, show, confirm, apply in waves, summarise.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::common::{load_source, open_source, plural, state_dir};
use super::plan::{compute_tree, print_plan, runtime};
use super::{CommandError, Outcome};
use crate::apply::planfile::{config_fingerprint, stale_objects, PlanFile, PlanSource};
use crate::apply::{self, wait, ApplyEvent, ApplyOptions, ChangeSet, Outcome as EntryOutcome};
use crate::cli::{ApplyArgs, GitArgs, PlanFormat};
use crate::plan::Plan;
use crate::printer::Printer;
use crate::source::{Source, SourceTree};
use crate::values::duration::parse_duration;

/// `berth apply`.
pub fn run(args: &ApplyArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let timeout = match parse_duration(&args.timeout) {
        Ok(secs) => std::time::Duration::from_secs(secs),
        Err(e) => {
            printer.err(&format!(
                "error: --timeout {}: {}\n",
                args.timeout, e.message
            ));
            return Ok(Outcome::Failure);
        }
    };
    // A plan file, or the config repository (a directory, or --repo).
    let plan_path: Option<PathBuf> = args.dir_or_plan.clone().filter(|p| p.is_file());
    let file = plan_path.as_deref().map(PlanFile::load).transpose()?;
    let dir: Option<PathBuf> = match &plan_path {
        Some(_) => args.config.clone(),
        None => args.dir_or_plan.clone(),
    };
    if dir.is_some() && args.git.repo.is_some() {
        printer.err("error: give either a config directory or --repo, not both\n");
        return Ok(Outcome::Failure);
    }
    // A saved plan is applied to the configuration it records, unless the command line
    // names one.
    let named = dir.is_some() || args.git.repo.is_some() || args.git.rev.is_some();
    let recorded = file
        .as_ref()
        .filter(|_| !named)
        .and_then(|f| f.source.as_ref());
    let (tree, config_dir) = match (recorded, &plan_path) {
        (Some(recorded), Some(plan_path)) => match read_recorded(recorded, &args.git) {
            Ok(read) => read,
            Err(e) => {
                printer.err(&format!(
                    "error: cannot read {recorded}, the configuration {} was made from: {e:#}\n  = help: {}\n",
                    plan_path.display(),
                    recorded_help(recorded)
                ));
                return Ok(Outcome::Failure);
            }
        },
        _ => {
            let mut source = open_source(dir.as_deref(), &args.git, false)?;
            let tree = load_source(&mut source)?;
            let config_dir = match source {
                Source::Dir(dir) => Some(dir),
                Source::Git(_) => None,
            };
            (tree, config_dir)
        }
    };
    // A saved plan is applied exactly, or not at all.
    if let (Some(file), Some(plan_path)) = (&file, &plan_path) {
        if file.config_fingerprint != config_fingerprint(&tree) {
            let help = if file.source.is_none() && !named {
                format!(
                    "{} does not record where its configuration was read from (an older berth saved it): pass --config DIR, or --repo URL, with the configuration it was made from",
                    plan_path.display()
                )
            } else {
                "run `berth plan --out FILE` again and apply the new plan".to_string()
            };
            printer.err(&format!(
                "error: the configuration in {} is not the one {} was made from\n  = help: {help}\n",
                tree.label(),
                plan_path.display()
            ));
            return Ok(Outcome::Failure);
        }
    }
    let runtime = runtime()?;
    let Some(planned) = compute_tree(
        tree,
        config_dir,
        state_dir(&args.git),
        &args.target,
        args.changed,
        printer,
        &runtime,
    )?
    else {
        return Ok(Outcome::Failure);
    };

    let plan: Plan = if let Some(file) = file {
        let stale = stale_objects(&file, &planned.observed);
        if !stale.is_empty() {
            let mut msg = format!(
                "error: the saved plan is stale: {} changed in the clusters since it was made:\n",
                plural(stale.len(), "object", "objects")
            );
            for s in &stale {
                msg.push_str(&format!("  - {s}\n"));
            }
            msg.push_str("  = help: run `berth plan --out FILE` again and review the new plan\n");
            printer.err(&msg);
            return Ok(Outcome::Failure);
        }
        file.plan
    } else {
        planned.plan.clone()
    };

    print_plan(&plan, PlanFormat::Text, printer);
    // What could not be read is left out of the plan (which says so above); the rest is
    // applied, so that each run makes progress, and the run ends with the errors and exits 1.
    let partial = plan.is_partial().then(|| {
        super::plan::unreachable_summary(
            &plan,
            if plan.has_changes() {
                "; the rest is applied"
            } else {
                ""
            },
        )
    });
    let mut opts = ApplyOptions::from_config(&planned.config);
    opts.retry = planned.retry.clone();
    opts.revision = Some(revision_of(&planned));
    opts.inputs = planned.tenant_inputs();
    if plan_path.is_some() {
        // A saved plan may leave out changes the configuration asks for now (made with
        // --tenant, or before a later edit): their tenants are not complete after it.
        let in_file: std::collections::HashSet<(&str, &crate::object::ObjectRef)> = plan
            .changes
            .iter()
            .map(|c| (c.cluster.as_str(), &c.id))
            .collect();
        for c in &planned.plan.changes {
            if !in_file.contains(&(c.cluster.as_str(), &c.id)) {
                opts.inputs.remove(&(c.cluster.clone(), c.tenant.clone()));
            }
        }
    }
    // BERTH_NOW fixes the time of restore records, as it fixes the time status reads.
    if std::env::var_os("BERTH_NOW").is_some_and(|v| !v.is_empty()) {
        opts.now = Some(crate::values::time::format_rfc3339(super::status::now()?));
    }
    if !plan.has_changes() {
        // Nothing to change, but restores may have finished since (record how they ended),
        // or Namespaces may not record the inputs they are complete for.
        if apply::records_due(&plan, &opts) {
            let records = runtime.block_on(apply::write_records(
                &plan,
                &planned.rendered,
                &planned.backends,
                &opts,
                &[],
                &|e: &ApplyEvent| printer.err(&format!("{e}\n")),
            ));
            printer.out(&records_summary(&records));
            if records
                .iter()
                .any(|r| matches!(r.outcome, EntryOutcome::Failed(_)))
            {
                return Ok(Outcome::Failure);
            }
        }
        return Ok(match &partial {
            Some(summary) => {
                printer.err(summary);
                Outcome::Failure
            }
            None => Outcome::Success,
        });
    }
    opts.allow_mass_deletion = args.allow_mass_deletion;
    if !args.auto_approve && plan_path.is_none() {
        if !confirm(&destroyed_data(&plan), printer)? {
            printer.err("Apply cancelled.\n");
            return Ok(Outcome::Failure);
        }
        opts.confirmed = true;
    }
    if let Some(c) = args.concurrency {
        opts.concurrency = c.max(1);
    }
    let total = plan.changes.len();
    let display = Progress::new(total, std::io::stdout().is_terminal() && printer.color_out);
    let progress = |e: &ApplyEvent| printer.out(&display.event(e));
    let set = runtime.block_on(apply::apply(
        &plan,
        &planned.rendered,
        &planned.backends,
        &opts,
        &progress,
    ));
    if let Some(reason) = &set.refused {
        printer.err(&format!(
            "error: apply refused, nothing was written: {reason}\n"
        ));
        return Ok(Outcome::Failure);
    }
    printer.out(&display.finish());
    printer.out(&records_summary(&set.records));
    printer.out(&server_warnings(&planned.backends));
    printer.out(&summary(&set));
    let mut ok = set.succeeded();
    if args.wait && ok {
        let targets = wait::statefulsets_to_wait_for(&set);
        if let Err(e) = runtime.block_on(wait::wait_ready(
            &planned.backends,
            &targets,
            timeout,
            &progress,
        )) {
            printer.err(&format!("error: {e}\n"));
            ok = false;
        }
    }
    if let Some(summary) = &partial {
        printer.err(summary);
        ok = false;
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// What the API servers warned about while applying (their `Warning` headers, such as
/// PodSecurity's "would violate PodSecurity" for a workload whose pods the namespace's level
/// would refuse), as kubectl prints them; empty when none did.
fn server_warnings(
    backends: &std::collections::BTreeMap<String, crate::cluster::Backend>,
) -> String {
    let mut out = String::new();
    for (cluster, backend) in backends {
        for (request, text) in backend.take_warnings() {
            if out.is_empty() {
                out.push_str("\nWarnings from the API server:\n");
            }
            out.push_str(&format!("  ! {cluster}: {request}: {text}\n"));
        }
    }
    out
}

/// How apply reports progress: on a terminal, one line rewritten in place with counts (and
/// retries and failures printed above it); otherwise one plain line per event, for logs.
struct Progress {
    total: usize,
    live: bool,
    done: std::cell::Cell<usize>,
    failed: std::cell::Cell<usize>,
}

impl Progress {
    fn new(total: usize, live: bool) -> Self {
        Progress {
            total,
            live,
            done: std::cell::Cell::new(0),
            failed: std::cell::Cell::new(0),
        }
    }

    /// The text to print for one event.
    fn event(&self, e: &ApplyEvent) -> String {
        match e {
            ApplyEvent::Done { .. } | ApplyEvent::Skipped { .. } => {
                self.done.set(self.done.get() + 1)
            }
            ApplyEvent::Failed { .. } => {
                self.done.set(self.done.get() + 1);
                self.failed.set(self.failed.get() + 1);
            }
            _ => {}
        }
        if !self.live {
            return format!("{e}\n");
        }
        let status = self.status(e);
        match e {
            // Worth keeping on screen: printed above the status line.
            ApplyEvent::Retrying { .. } | ApplyEvent::Failed { .. } => {
                format!("\r\x1b[K{e}\n{status}")
            }
            _ => format!("\r\x1b[K{status}"),
        }
    }

    fn status(&self, e: &ApplyEvent) -> String {
        let current = match e {
            ApplyEvent::Started { id, .. } | ApplyEvent::Done { id, .. } => id.to_string(),
            _ => String::new(),
        };
        let failed = match self.failed.get() {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        format!(
            "Applying: {}/{}{failed}  {current}",
            self.done.get(),
            self.total
        )
    }

    /// Clears the status line.
    fn finish(&self) -> String {
        if self.live {
            "\r\x1b[K".to_string()
        } else {
            String::new()
        }
    }
}

/// Reads the configuration a saved plan records, and its directory when it is one: the
/// directory (at the commit, when one was read), or the commit of the remote, from the Git
/// cache when it holds that commit (a commit is the same wherever it is read from), else
/// fetched. Credentials and signature checks come from the command line.
fn read_recorded(
    recorded: &PlanSource,
    git: &GitArgs,
) -> anyhow::Result<(SourceTree, Option<PathBuf>)> {
    let mut git = git.clone();
    match recorded {
        PlanSource::Dir { path, commit } => {
            git.rev = commit.clone();
            let mut source = open_source(Some(path), &git, false)?;
            let tree = source.load()?;
            Ok((tree, commit.is_none().then(|| path.clone())))
        }
        PlanSource::Git {
            url,
            branch,
            commit,
        } => {
            git.repo = Some(url.clone());
            git.branch = branch.clone();
            git.rev = Some(commit.clone());
            git.offline = true;
            if let Ok(tree) = open_source(None, &git, false)?.load() {
                return Ok((tree, None));
            }
            git.offline = false;
            let mut source = open_source(None, &git, false)?;
            if let Source::Git(g) = &mut source {
                // The commit may be on another branch, or behind a tag, by now.
                g.fetch_all_branches();
            }
            Ok((source.load()?, None))
        }
    }
}

/// What to pass when the configuration a saved plan records cannot be read.
fn recorded_help(recorded: &PlanSource) -> String {
    match recorded {
        PlanSource::Dir { commit: None, .. } => {
            "pass --config DIR with the configuration the plan was made from (or --repo URL to read it from Git)".to_string()
        }
        PlanSource::Dir {
            commit: Some(c), ..
        } => format!(
            "pass --config DIR --rev {c} with the repository the plan was made from (or --repo URL --rev {c})"
        ),
        PlanSource::Git { commit, .. } => format!(
            "pass --repo URL (with the flags for its credentials) to read commit {commit} from another remote, or --config DIR with the configuration of that commit"
        ),
    }
}

/// The revision recorded on the Namespaces of the tenants an apply changed.
pub fn revision_of(planned: &super::plan::Planned) -> String {
    match &planned.config.revision {
        Some(r) => r.clone(),
        None => crate::apply::planfile::revision_id(&planned.tree),
    }
}

/// One line per restore recorded on a Namespace.
fn records_summary(records: &[apply::RecordEntry]) -> String {
    let mut out = String::new();
    for r in records {
        if !matches!(r.outcome, EntryOutcome::Applied) {
            continue;
        }
        for (key, value) in &r.annotations {
            let Some(value) = value else {
                continue;
            };
            if let Some(name) = key.strip_prefix(crate::object::RESTORE_RECORD_PREFIX) {
                let record = crate::plan::RestoreRecord::from_annotation(value);
                let state = serde_json::to_value(record.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{}: restore `{name}` of tenant `{}` recorded as {state}\n",
                    r.cluster, r.tenant
                ));
            }
        }
    }
    out
}

/// The tenants whose namespace or database `plan` destroys, one line each, for the prompt.
fn destroyed_data(plan: &crate::plan::Plan) -> String {
    let tenants: std::collections::BTreeSet<(&str, &str)> = plan
        .changes
        .iter()
        .filter(|c| {
            c.action == crate::plan::Action::Delete
                && c.blocked.is_none()
                && crate::plan::guard::destroys_data(&c.id)
        })
        .map(|c| (c.cluster.as_str(), c.tenant.as_str()))
        .collect();
    tenants
        .into_iter()
        .map(|(cluster, tenant)| {
            format!("  ! tenant `{tenant}` on cluster `{cluster}` is destroyed: its namespace, its database and their data\n")
        })
        .collect()
}

/// Asks for `yes` on a terminal; refuses to prompt otherwise. `destroyed` lists the tenants
/// whose data the apply destroys (empty: none).
fn confirm(destroyed: &str, printer: &Printer) -> Result<bool, CommandError> {
    if !std::io::stdin().is_terminal() {
        printer.err("error: refusing to ask for confirmation: standard input is not a terminal\n  = help: review the plan and pass --auto-approve, or save it with `berth plan --out FILE` and apply that file\n");
        return Ok(false);
    }
    if !destroyed.is_empty() {
        printer.out(&format!("\nThis apply destroys data:\n{destroyed}"));
    }
    printer.out("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Per-tenant results and the closing line.
fn summary(set: &ChangeSet) -> String {
    let mut per_tenant: BTreeMap<(&str, &str), [usize; 4]> = BTreeMap::new();
    for e in &set.entries {
        let slot = per_tenant.entry((&e.cluster, &e.tenant)).or_default();
        match &e.outcome {
            EntryOutcome::Applied => slot[0] += 1,
            EntryOutcome::Failed(_) => slot[1] += 1,
            EntryOutcome::Skipped(_) => slot[2] += 1,
        }
        slot[3] += 1;
    }
    let mut out = String::from("\n");
    for ((cluster, tenant), [applied, failed, skipped, _]) in &per_tenant {
        let state = if *failed > 0 {
            "FAILED"
        } else if *skipped > 0 {
            "incomplete"
        } else {
            "ok"
        };
        out.push_str(&format!(
            "  {tenant} ({cluster}): {state}, {applied} applied, {failed} failed, {skipped} skipped\n"
        ));
    }
    for e in set.failures() {
        if let EntryOutcome::Failed(msg) = &e.outcome {
            out.push_str(&format!("error: {msg}\n"));
        }
    }
    for e in &set.entries {
        if let EntryOutcome::Skipped(msg) = &e.outcome {
            out.push_str(&format!("skipped {} ({}): {msg}\n", e.id, e.tenant));
        }
    }
    let (added, changed, destroyed, failed, _) = set.summary();
    if set.succeeded() {
        out.push_str(&format!(
            "\nApply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed.\n"
        ));
    } else {
        out.push_str(&format!(
            "\nApply failed: {} failed; {added} added, {changed} changed, {destroyed} destroyed. Run `berth apply` again to finish what is left.\n",
            plural(failed, "change", "changes")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectRef;
    use crate::plan::Action;

    fn id() -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "tenant-acme".into(),
        }
    }

    #[test]
    fn progress_is_plain_lines_off_a_terminal() {
        let p = Progress::new(2, false);
        let e = ApplyEvent::Done {
            cluster: "local".into(),
            id: id(),
            action: Action::Create,
            attempts: 1,
        };
        let line = p.event(&e);
        assert!(line.ends_with('\n') && !line.contains('\x1b'), "{line:?}");
        assert_eq!(p.finish(), "");
    }

    #[test]
    fn progress_rewrites_one_status_line_on_a_terminal() {
        let p = Progress::new(2, true);
        let e = ApplyEvent::Done {
            cluster: "local".into(),
            id: id(),
            action: Action::Create,
            attempts: 1,
        };
        let line = p.event(&e);
        assert!(line.starts_with("\r\x1b[K"), "{line:?}");
        assert!(line.contains("Applying: 1/2"), "{line:?}");
        assert!(!line.ends_with('\n'));
        assert_eq!(p.finish(), "\r\x1b[K");
    }
}
