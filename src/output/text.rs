//! The plan as people read it in a terminal, in Terraform's words and symbols.

use std::fmt::Write as _;

use super::{by_tenant, changes_are, describe, leaf_count, plan_counts, symbol, tenant_name, Sign};
use crate::plan::{Action, Change, FieldChange, Plan};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn header(&self, text: &str) -> String {
        self.paint(&format!("{BOLD}{CYAN}"), text)
    }

    fn sign(&self, sign: Sign) -> String {
        match sign {
            Sign::Add => self.paint(GREEN, "+"),
            Sign::Remove => self.paint(RED, "-"),
            Sign::Change => self.paint(YELLOW, "~"),
        }
    }

    fn action(&self, action: Action) -> String {
        match action {
            Action::Create => self.paint(GREEN, "+"),
            Action::Update => self.paint(YELLOW, "~"),
            Action::Delete => self.paint(RED, "-"),
            Action::Replace if self.color => format!("{RED}-{RESET}/{GREEN}+{RESET}"),
            other => symbol(other).to_string(),
        }
    }

    fn diff_line(&self, line: &str) -> String {
        match line.as_bytes().first() {
            Some(b'+') => self.paint(GREEN, line),
            Some(b'-') => self.paint(RED, line),
            Some(b'@') => self.paint(CYAN, line),
            _ => line.to_string(),
        }
    }
}

/// The plan as text. With `color`, ANSI colours: green `+`, yellow `~`, red `-`, cyan headers.
pub fn to_text(plan: &Plan, color: bool) -> String {
    to_text_with(plan, color, false)
}

/// [`to_text`]; with `list_all` (`-v`), alike warnings and restores of many tenants are
/// listed one by one instead of as one group each.
pub fn to_text_with(plan: &Plan, color: bool, list_all: bool) -> String {
    let p = Painter { color };
    let mut out = String::new();
    match (&plan.base, &plan.revision) {
        (Some(base), rev) => {
            let _ = writeln!(
                out,
                "{}",
                p.header(&format!(
                    "berth plan of {} (offline: the base taken as applied, no cluster contacted)",
                    super::range(base, rev.as_deref())
                ))
            );
        }
        (None, Some(rev)) => {
            let _ = writeln!(out, "{}", p.header(&format!("berth plan of {rev}")));
        }
        (None, None) => {
            let _ = writeln!(out, "{}", p.header("berth plan"));
        }
    }
    if let Some(n) = &plan.narrowed {
        let _ = writeln!(out, "\n{}", super::narrowed_phrase(n));
    }

    if !plan.drift.is_empty() {
        let _ = writeln!(out, "\n{}", p.header("Objects changed outside berth:"));
        let _ = writeln!(
            out,
            "  (fields berth applied that differ in the cluster now: applied -> live)\n"
        );
        if !plan.correct_drift && plan.base.is_none() {
            let _ = writeln!(
                out,
                "  (policy.drift = \"report\": berth leaves these as they are, unless a change \
                 below rewrites them; `berth apply --correct-drift` puts them back)\n"
            );
        }
        for d in &plan.drift {
            if d.kind == crate::plan::DriftKind::Missing {
                let _ = writeln!(
                    out,
                    "  {} {}  (cluster {}, tenant {}): deleted outside berth",
                    p.sign(Sign::Remove),
                    d.id,
                    d.cluster,
                    tenant_name(&d.tenant)
                );
                continue;
            }
            let _ = writeln!(
                out,
                "  {} {}  (cluster {}, tenant {})",
                p.sign(Sign::Change),
                d.id,
                d.cluster,
                tenant_name(&d.tenant)
            );
            for f in &d.fields {
                write_field(&mut out, &p, f);
            }
        }
    }

    if !plan.conflicts.is_empty() {
        let _ = writeln!(out, "\n{}", p.header("Conflicts:"));
        for c in &plan.conflicts {
            let owner = match &c.managed_by {
                Some(m) => format!("managed by `{m}`"),
                None => "not managed by berth".to_string(),
            };
            let _ = writeln!(
                out,
                "  ! {} on cluster {} (tenant {}) already exists, {owner}; pass --adopt to take \
                 it over",
                c.id,
                c.cluster,
                tenant_name(&c.tenant)
            );
        }
    }

    if !plan.unreachable.is_empty() {
        let _ = writeln!(out, "\n{}", p.header("Unreachable clusters (not planned):"));
        for (cluster, msg) in &plan.unreachable {
            let _ = writeln!(out, "  ! {cluster}: {msg}");
        }
    }

    if !plan.unobserved.is_empty() || !plan.unlisted.is_empty() {
        let _ = writeln!(out, "\n{}", p.header("Not observed (not planned):"));
        // Tenants first, then the kinds their reasons point to ("see below").
        for u in &plan.unobserved {
            let _ = writeln!(
                out,
                "  ! tenant {} on cluster {}: {}",
                tenant_name(&u.tenant),
                u.cluster,
                u.reason
            );
        }
        for u in &plan.unlisted {
            let _ = writeln!(
                out,
                "  ! {} on cluster {} could not be listed: {}",
                u.kind, u.cluster, u.reason
            );
            let _ = writeln!(
                out,
                "      = objects of this kind that berth no longer renders are not seen, so not \
                 pruned"
            );
        }
    }

    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n{}", p.header("Warnings:"));
        for shown in super::shown_warnings(plan, list_all) {
            let (message, place, help) = match shown {
                super::ShownWarning::One(w) => {
                    (w.message.clone(), super::warning_place(w), w.help.clone())
                }
                super::ShownWarning::Many {
                    message,
                    help,
                    cluster,
                    namespaces,
                } => (
                    format!("{message}\n      in {}", super::some_of(&namespaces)),
                    format!("  (cluster {cluster})"),
                    help,
                ),
            };
            let _ = writeln!(out, "  {} {message}{place}", p.paint(YELLOW, "!"));
            if let Some(help) = help {
                let _ = writeln!(out, "      = help: {help}");
            }
        }
    }

    if !plan.kept.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            p.header("Removed from the configuration, kept (nothing of them is destroyed):")
        );
        for k in &plan.kept {
            let (head, stays, help) = super::kept_phrases(k, 6);
            let _ = writeln!(out, "  {} {head}", p.paint(YELLOW, "!"));
            let _ = writeln!(out, "      {stays}");
            let _ = writeln!(out, "      = help: {help}");
        }
    }

    let restores = super::grouped_restores(plan, list_all);
    if !restores.is_empty() {
        let _ = writeln!(out, "\n{}", p.header("Restores:"));
        for shown in restores {
            match shown {
                super::ShownRestore::One(r) => {
                    let _ = writeln!(
                        out,
                        "  {}  (cluster {}, tenant {}): {}",
                        r.name,
                        r.cluster,
                        tenant_name(&r.tenant),
                        super::restore_phrase(r)
                    );
                }
                super::ShownRestore::Many {
                    cluster,
                    state,
                    restores,
                } => {
                    let _ = writeln!(
                        out,
                        "  {} restores (cluster {cluster}): {}\n      {}",
                        super::thousands(restores.len()),
                        super::restore_group_phrase(state),
                        super::some_of(&restores)
                    );
                }
            }
        }
    }

    if plan.changes.is_empty() {
        let _ = writeln!(out, "\n{}", p.header(&super::no_changes_phrase(plan)));
        return out;
    }

    let _ = writeln!(
        out,
        "\nberth will perform the following actions:\n  {} create  {} update in place  {} \
         destroy  {} destroy and then create replacement",
        p.action(Action::Create),
        p.action(Action::Update),
        p.action(Action::Delete),
        p.action(Action::Replace)
    );
    for (cluster, tenant, changes) in by_tenant(plan) {
        let _ = writeln!(
            out,
            "\n{}",
            p.header(&format!(
                "# cluster {cluster}, tenant {}",
                tenant_name(tenant)
            ))
        );
        for c in changes {
            write_change(&mut out, &p, c);
        }
    }

    let counts = plan_counts(plan);
    let _ = writeln!(out, "\n{}Plan: {}.{}", bold(&p), counts.phrase(), reset(&p));
    if let Some(unknown) = super::unknown_phrase(plan) {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                RED,
                &format!("Partial plan: {unknown} (see above); nothing of them was planned.")
            )
        );
    }
    if counts.blocked > 0 {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                RED,
                &format!(
                    "{} blocked; apply skips them unless permitted (see `# blocked` above).",
                    changes_are(counts.blocked)
                )
            )
        );
    }
    out
}

fn bold(p: &Painter) -> &'static str {
    if p.color {
        BOLD
    } else {
        ""
    }
}

fn reset(p: &Painter) -> &'static str {
    if p.color {
        RESET
    } else {
        ""
    }
}

fn write_change(out: &mut String, p: &Painter, c: &Change) {
    let pad = if c.action == Action::Replace {
        ""
    } else {
        "  "
    };
    let mut line = format!("{pad}{} {}", p.action(c.action), c.id);
    match c.action {
        Action::Create => {
            if let Some(d) = &c.desired {
                let _ = write!(line, " ({} fields)", leaf_count(d));
            }
        }
        Action::Replace => {
            if let Some(reason) = &c.reason {
                let _ = write!(line, " # forces replacement: {reason}");
            }
        }
        _ => {
            if let Some(reason) = &c.reason {
                let _ = write!(line, " # {reason}");
            }
        }
    }
    let _ = writeln!(out, "{line}");
    if let Some(why) = &c.blocked {
        let _ = writeln!(out, "      {}", p.paint(RED, &format!("# blocked: {why}")));
    }
    if matches!(c.action, Action::Update | Action::Replace) {
        for f in &c.fields {
            write_field(out, p, f);
        }
    }
}

fn write_field(out: &mut String, p: &Painter, f: &FieldChange) {
    let line = describe(f);
    let _ = writeln!(out, "      {} {}", p.sign(line.sign), line.head);
    for d in &line.diff {
        let _ = writeln!(out, "          {}", p.diff_line(d));
    }
}
