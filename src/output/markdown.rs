//! The plan as a Markdown pull-request comment: a title with the counts, a table per tenant,
//! drift, then one collapsed `diff` block per tenant. Kept under [`MARKDOWN_LIMIT`]
//! characters (GitHub refuses comments above 65,536): when the whole plan does not fit,
//! tenant details are shortened to their object lines, then left out, and a note says how
//! much is missing.

use std::fmt::Write as _;

use super::{by_tenant, changes_are, describe, plan_counts, symbol, tenant_name, Counts, Sign};
use crate::plan::{Action, Change, FieldChange, Plan};

/// The most characters a comment may have.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// Room kept for the closing note when details are cut.
const NOTE_ROOM: usize = 600;

/// The plan as Markdown, at most [`MARKDOWN_LIMIT`] characters.
pub fn to_markdown(plan: &Plan) -> String {
    to_markdown_limited(plan, MARKDOWN_LIMIT)
}

pub(crate) fn to_markdown_limited(plan: &Plan, limit: usize) -> String {
    let counts = plan_counts(plan);
    let mut out = String::new();
    match (plan.changes.is_empty(), plan.is_partial()) {
        (true, false) => {
            let _ = writeln!(out, "## berth plan: no changes");
        }
        (true, true) => {
            let _ = writeln!(
                out,
                "## berth plan (partial): nothing to change in what was read"
            );
        }
        (false, partial) => {
            let _ = writeln!(
                out,
                "## berth plan{}: {}",
                if partial { " (partial)" } else { "" },
                counts.phrase()
            );
        }
    }
    let _ = writeln!(out);
    match (&plan.base, &plan.revision) {
        (Some(base), rev) => {
            let _ = writeln!(
                out,
                "Offline plan of `{}`: the base revision is taken as applied; no cluster was \
                 contacted.",
                super::range(base, rev.as_deref())
            );
        }
        (None, Some(rev)) => {
            let _ = writeln!(out, "Revision `{rev}`.");
        }
        (None, None) => {}
    }
    if let Some(n) = &plan.narrowed {
        let _ = writeln!(out, "{}", super::narrowed_phrase(n));
    }
    if plan.changes.is_empty() {
        let phrase = super::no_changes_phrase(plan);
        let _ = writeln!(
            out,
            "{}",
            phrase
                .strip_prefix("No changes. ")
                .unwrap_or(phrase.as_str())
        );
    }
    if counts.blocked > 0 {
        let _ = writeln!(
            out,
            "**{} blocked** and will not be applied without explicit permission.",
            changes_are(counts.blocked)
        );
    }

    let groups = by_tenant(plan);
    if !groups.is_empty() {
        let _ = writeln!(
            out,
            "\n| tenant | cluster | add | change | destroy | blocked |\n| --- | --- | ---: | ---: \
             | ---: | ---: |"
        );
        for (cluster, tenant, changes) in &groups {
            let c = Counts::of(changes.iter().copied());
            let _ = writeln!(
                out,
                "| {} | {cluster} | {} | {} | {} | {} |",
                tenant_name(tenant),
                c.add,
                c.change,
                c.destroy,
                c.blocked
            );
        }
    }

    if !plan.unreachable.is_empty() {
        let _ = writeln!(out, "\n### Unreachable clusters (not planned)\n");
        for (cluster, msg) in &plan.unreachable {
            let _ = writeln!(out, "- **{cluster}**: {msg}");
        }
    }

    if !plan.unobserved.is_empty() || !plan.unlisted.is_empty() {
        let _ = writeln!(out, "\n### Not observed (not planned)\n");
        for u in &plan.unobserved {
            let _ = writeln!(
                out,
                "- tenant **{}** on cluster **{}**: {}",
                tenant_name(&u.tenant),
                u.cluster,
                u.reason
            );
        }
        for u in &plan.unlisted {
            let _ = writeln!(
                out,
                "- `{}` on cluster **{}** could not be listed: {} (objects of this kind that \
                 berth no longer renders are not seen, so not pruned)",
                u.kind, u.cluster, u.reason
            );
        }
    }

    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n### Warnings\n");
        for shown in super::shown_warnings(plan, false) {
            let help = match shown {
                super::ShownWarning::One(w) => {
                    if w.cluster.is_empty() {
                        let _ = writeln!(out, "- {}", w.message);
                    } else {
                        let _ = writeln!(
                            out,
                            "- **{}** ({}): {}",
                            tenant_name(&w.tenant),
                            w.cluster,
                            w.message
                        );
                    }
                    w.help.clone()
                }
                super::ShownWarning::Many {
                    message,
                    help,
                    cluster,
                    namespaces,
                } => {
                    let _ = writeln!(
                        out,
                        "- ({cluster}): {message}, in {}",
                        super::some_of(&namespaces)
                            .replace("(`-v` lists all)", "(the JSON plan lists all)")
                    );
                    help
                }
            };
            if let Some(h) = help {
                let _ = writeln!(out, "  - help: {h}");
            }
        }
    }

    if !plan.kept.is_empty() {
        let _ = writeln!(
            out,
            "\n### Removed from the configuration, kept\n\nNothing of these tenants is destroyed.\n"
        );
        for k in &plan.kept {
            let (head, stays, help) = super::kept_phrases(k, 6);
            let _ = writeln!(out, "- {head}\n  - {stays}\n  - help: {help}");
        }
    }

    let restores: Vec<_> = super::shown_restores(plan).collect();
    if !restores.is_empty() {
        let _ = writeln!(
            out,
            "\n### Restores\n\n| tenant | cluster | restore | state |\n| --- | --- | --- | --- |"
        );
        for shown in super::grouped_restores(plan, false) {
            match shown {
                super::ShownRestore::One(r) => {
                    let _ = writeln!(
                        out,
                        "| {} | {} | `{}` | {} |",
                        tenant_name(&r.tenant),
                        r.cluster,
                        r.name,
                        super::restore_phrase(r).replace('|', "\\|")
                    );
                }
                super::ShownRestore::Many {
                    cluster,
                    state,
                    restores,
                } => {
                    let _ = writeln!(
                        out,
                        "| {} tenants | {cluster} | {} | {} |",
                        super::thousands(restores.len()),
                        super::some_of(&restores)
                            .replace("(`-v` lists all)", "(the JSON plan lists all)"),
                        super::restore_group_phrase(state)
                    );
                }
            }
        }
    }

    if !plan.conflicts.is_empty() {
        let _ = writeln!(out, "\n### Conflicts\n");
        for c in &plan.conflicts {
            let owner = match &c.managed_by {
                Some(m) => format!("managed by `{m}`"),
                None => "not managed by berth".to_string(),
            };
            let _ = writeln!(
                out,
                "- `{}` on cluster {} (tenant {}) already exists, {owner}; pass `--adopt` to \
                 take it over",
                c.id,
                c.cluster,
                tenant_name(&c.tenant)
            );
        }
    }

    if !plan.drift.is_empty() {
        let _ = writeln!(out, "\n### Objects changed outside berth\n");
        let mut body = String::new();
        for d in &plan.drift {
            if d.kind == crate::plan::DriftKind::Missing {
                let _ = writeln!(
                    body,
                    "- {}  (cluster {}, tenant {}): deleted outside berth",
                    d.id,
                    d.cluster,
                    tenant_name(&d.tenant)
                );
                continue;
            }
            let _ = writeln!(
                body,
                "! {}  (cluster {}, tenant {})",
                d.id,
                d.cluster,
                tenant_name(&d.tenant)
            );
            write_fields(&mut body, &d.fields);
        }
        // Drift may take at most a third of the comment.
        let (body, cut) = cut_lines(&body, limit / 3);
        out.push_str(&fenced("diff", &body));
        if cut > 0 {
            let _ = writeln!(out, "\n_{cut} more lines of drift left out._");
        }
    }

    if groups.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n### Changes\n");

    let sections: Vec<(String, String)> = groups
        .iter()
        .map(|(cluster, tenant, changes)| {
            let full = tenant_section(cluster, tenant, changes, true);
            let short = tenant_section(cluster, tenant, changes, false);
            (full, short)
        })
        .collect();
    let total: usize = out.len() + sections.iter().map(|(f, _)| f.len()).sum::<usize>();
    if total <= limit {
        for (full, _) in &sections {
            out.push_str(full);
        }
        return out;
    }

    let budget = limit.saturating_sub(NOTE_ROOM);
    let (mut shortened, mut omitted, mut left_out_chars) = (0usize, 0usize, 0usize);
    for (full, short) in &sections {
        if out.len() + full.len() <= budget {
            out.push_str(full);
        } else if out.len() + short.len() <= budget {
            out.push_str(short);
            shortened += 1;
            left_out_chars += full.len() - short.len();
        } else {
            omitted += 1;
            left_out_chars += full.len();
        }
    }
    let _ = writeln!(
        out,
        "\n> **This plan is too long for one comment.** Field details of {shortened} tenants \
         and {omitted} whole tenant sections were left out (about {left_out_chars} characters). \
         Run `berth plan` (or `berth plan -o json`) on this revision to see the full plan."
    );
    out
}

fn tenant_section(cluster: &str, tenant: &str, changes: &[&Change], detailed: bool) -> String {
    let c = Counts::of(changes.iter().copied());
    let mut summary = format!("tenant {} (cluster {cluster}): ", tenant_name(tenant));
    let mut parts = Vec::new();
    if c.add > 0 {
        parts.push(format!("{} to add", c.add));
    }
    if c.change > 0 {
        parts.push(format!("{} to change", c.change));
    }
    if c.destroy > 0 {
        parts.push(format!("{} to destroy", c.destroy));
    }
    if c.blocked > 0 {
        parts.push(format!("{} blocked", c.blocked));
    }
    summary.push_str(&parts.join(", "));
    let mut body = String::new();
    for ch in changes {
        let sign = match ch.action {
            Action::Update => "!",
            other => symbol(other),
        };
        let mut line = format!("{sign} {}", ch.id);
        match (&ch.action, &ch.reason) {
            (Action::Replace, Some(r)) => {
                let _ = write!(line, "  # forces replacement: {r}");
            }
            (_, Some(r)) => {
                let _ = write!(line, "  # {r}");
            }
            _ => {}
        }
        let _ = writeln!(body, "{line}");
        if let Some(why) = &ch.blocked {
            let _ = writeln!(body, "#   blocked: {why}");
        }
        if detailed && matches!(ch.action, Action::Update | Action::Replace) {
            write_fields(&mut body, &ch.fields);
        }
    }
    if !detailed {
        body.push_str("# field details left out to fit the comment\n");
    }
    format!(
        "<details><summary>{}</summary>\n\n{}\n</details>\n",
        escape_html(&summary),
        fenced("diff", &body)
    )
}

fn write_fields(out: &mut String, fields: &[FieldChange]) {
    for f in fields {
        let line = describe(f);
        let sign = match line.sign {
            Sign::Add => '+',
            Sign::Remove => '-',
            Sign::Change => '!',
        };
        let _ = writeln!(out, "{sign}     {}", line.head);
        for d in &line.diff {
            // The diff's own sign stays in the first column, so that it is coloured.
            match d.chars().next() {
                Some('@') => {
                    let _ = writeln!(out, "#         {d}");
                }
                Some(first) => {
                    let rest = &d[first.len_utf8()..];
                    let _ = writeln!(out, "{first}         {rest}");
                }
                None => {}
            }
        }
    }
}

/// A fenced code block whose fence is longer than any backtick run in `body`.
fn fenced(lang: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{lang}\n{body}{fence}\n")
}

/// The first lines of `text` that fit in `max` characters, and how many lines were cut.
fn cut_lines(text: &str, max: usize) -> (String, usize) {
    if text.len() <= max {
        return (text.to_string(), 0);
    }
    let mut kept = String::new();
    let mut cut = 0;
    for line in text.lines() {
        if cut == 0 && kept.len() + line.len() < max {
            kept.push_str(line);
            kept.push('\n');
        } else {
            cut += 1;
        }
    }
    (kept, cut)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
