//! Printers of a [`Plan`]: Terraform-style text ([`text::to_text`]), versioned JSON
//! ([`json::to_json`], documented in `docs/plan-format.md`) and a Markdown pull-request comment
//! ([`markdown::to_markdown`]), and HTML for the dashboard ([`html::to_html`]). Each returns a `String`; writing it is the caller's job.
//!
//! No printer ever shows a secret: the plan holds none (`plan` masks them), and fields marked
//! sensitive print as `(sensitive value)`.

pub mod drift;
pub mod html;
pub mod json;
pub mod markdown;
pub mod status;
pub mod text;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::plan::{Action, Change, FieldChange, Plan, SENSITIVE_MARKER};

pub use drift::{drift_json, drift_markdown, drift_text};
pub use json::to_json;
pub use markdown::{to_markdown, MARKDOWN_LIMIT};
pub use text::{to_text, to_text_with};

/// The line that closes a plan without changes. It never says more than was observed: with
/// a cluster that could not be read, or tenants the configuration no longer has, the
/// clusters are not said to match.
pub(crate) fn no_changes_phrase(plan: &Plan) -> String {
    if plan.base.is_some() {
        return "No changes. Both revisions render the same objects.".to_string();
    }
    if let Some(unknown) = unknown_phrase(plan) {
        return format!(
            "Nothing to change in what could be read. {unknown} (see above): what {} is \
             unknown, and nothing of {} was planned.",
            if unknown_count(plan) == 1 {
                "it holds"
            } else {
                "they hold"
            },
            if unknown_count(plan) == 1 {
                "it"
            } else {
                "them"
            },
        );
    }
    if !plan.kept.is_empty() {
        let n = plan.kept.len();
        return format!(
            "No changes will be made. The clusters still hold {} that the configuration no \
             longer has (kept, see above).",
            if n == 1 {
                "1 tenant".to_string()
            } else {
                format!("{n} tenants")
            }
        );
    }
    if !plan.drift.is_empty() {
        let n = plan.drift.len();
        return format!(
            "No changes will be made. {} changed outside berth {} left as {} (policy.drift = \
             \"report\"; see above).",
            if n == 1 {
                "1 object".to_string()
            } else {
                format!("{n} objects")
            },
            if n == 1 { "is" } else { "are" },
            if n == 1 { "it is" } else { "they are" },
        );
    }
    if plan.narrowed.is_some() {
        "No changes. The tenants planned match the configuration.".to_string()
    } else {
        "No changes. The clusters match the configuration.".to_string()
    }
}

/// One line per cluster, tenant and kind a partial plan could not read, with why.
pub(crate) fn unknown_lines(plan: &Plan) -> Vec<String> {
    let clusters = plan
        .unreachable
        .iter()
        .map(|(c, msg)| format!("{c}: {msg}"));
    let tenants = plan.unobserved.iter().map(|u| {
        format!(
            "tenant {} on cluster {}: {}",
            tenant_name(&u.tenant),
            u.cluster,
            u.reason
        )
    });
    let kinds = plan.unlisted.iter().map(|u| {
        format!(
            "{} on cluster {} could not be listed: {}",
            u.kind, u.cluster, u.reason
        )
    });
    clusters.chain(tenants).chain(kinds).collect()
}

fn unknown_count(plan: &Plan) -> usize {
    plan.unreachable.len() + plan.unobserved.len() + plan.unlisted.len()
}

/// What a partial plan could not read, in one sentence ("1 cluster and 2 tenants could not be
/// read; 1 kind could not be listed"); `None` when everything in its scope was read.
pub(crate) fn unknown_phrase(plan: &Plan) -> Option<String> {
    if !plan.is_partial() {
        return None;
    }
    let count = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut read = Vec::new();
    if !plan.unreachable.is_empty() {
        read.push(count(plan.unreachable.len(), "cluster", "clusters"));
    }
    if !plan.unobserved.is_empty() {
        read.push(count(plan.unobserved.len(), "tenant", "tenants"));
    }
    let mut parts = Vec::new();
    if !read.is_empty() {
        parts.push(format!("{} could not be read", read.join(" and ")));
    }
    if !plan.unlisted.is_empty() {
        parts.push(format!(
            "{} could not be listed",
            count(plan.unlisted.len(), "kind", "kinds")
        ));
    }
    Some(parts.join("; "))
}

/// What a kept tenant is, in one line, what stays (shortened past `max` objects) and how to
/// permit its deletion.
pub(crate) fn kept_phrases(k: &crate::plan::KeptTenant, max: usize) -> (String, String, String) {
    let head = format!(
        "tenant `{}` (cluster {}): {}",
        k.tenant,
        k.cluster,
        k.summary()
    );
    let mut names: Vec<String> = k.objects.iter().take(max).map(|o| o.to_string()).collect();
    if k.objects.len() > max {
        names.push(format!("... ({} more)", k.objects.len() - max));
    }
    let stays = format!(
        "{} {} stay{}: {}",
        k.objects.len(),
        if k.objects.len() == 1 {
            "object"
        } else {
            "objects"
        },
        if k.objects.len() == 1 { "s" } else { "" },
        names.join(", ")
    );
    let help = if k.reason.starts_with("policy.prune") {
        "berth deletes what leaves the configuration only with policy.prune = true".to_string()
    } else {
        format!(
            "to destroy it, restore tenants/{t}.toml with `deletion_protection = false`, apply, \
             then remove it; or apply with `--allow-destroy {t}` (or name it in \
             policy.allow_destroy). To keep it, restore its file",
            t = k.tenant
        )
    };
    (head, stays, help)
}

/// Where a warning is, `  (cluster c, tenant t)`, or nothing for a plan-wide one.
pub(crate) fn warning_place(w: &crate::plan::Warning) -> String {
    match (w.cluster.is_empty(), w.tenant.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!("  (cluster {})", w.cluster),
        (false, false) => format!("  (cluster {}, tenant {})", w.cluster, w.tenant),
    }
}

/// From this many alike warnings or restores on, a plan shows them as one group (the text
/// and Markdown plans; JSON keeps every item).
pub(crate) const GROUP_MIN: usize = 4;

/// Names a group shows before `... (-v lists all)`.
const GROUP_SHOWN: usize = 3;

/// Warnings as a plan shows them: one at a time, or alike ones (the same words but for the
/// tenant's namespace) as one group.
pub(crate) enum ShownWarning<'a> {
    /// A warning on its own.
    One(&'a crate::plan::Warning),
    /// Alike warnings: the message and help with `{n} namespaces` in place of the namespace,
    /// and the namespaces.
    Many {
        message: String,
        help: Option<String>,
        cluster: String,
        namespaces: Vec<String>,
    },
}

/// `plan.warnings` as shown: alike warnings of [`GROUP_MIN`] or more tenants grouped, unless
/// `list_all` (`-v`).
pub(crate) fn shown_warnings(plan: &Plan, list_all: bool) -> Vec<ShownWarning<'_>> {
    use std::collections::BTreeMap;
    const SLOT: &str = "\u{0}";
    type Key = (String, String, String, Option<String>);
    // Each warning is shown on its own or as a member of the group of its key (its words
    // with the namespace cut out); `order` keeps the plan's order, a group at its first member.
    let mut groups: BTreeMap<Key, Vec<&crate::plan::Warning>> = BTreeMap::new();
    let mut order: Vec<Result<Key, &crate::plan::Warning>> = Vec::new();
    for w in &plan.warnings {
        let ns = w.object.as_ref().and_then(|o| o.namespace.as_deref());
        let key = ns
            .map(|ns| (ns, format!("namespace `{ns}`")))
            .filter(|(_, phrase)| !list_all && w.message.contains(phrase.as_str()))
            .map(|(ns, phrase)| {
                (
                    w.cluster.clone(),
                    w.kind.clone(),
                    w.message.replace(&phrase, SLOT),
                    w.help.as_ref().map(|h| h.replace(ns, "NAMESPACE")),
                )
            });
        match key {
            Some(key) => {
                let members = groups.entry(key.clone()).or_default();
                if members.is_empty() {
                    order.push(Ok(key));
                }
                members.push(w);
            }
            None => order.push(Err(w)),
        }
    }
    let mut out = Vec::new();
    for slot in order {
        let key = match slot {
            Err(w) => {
                out.push(ShownWarning::One(w));
                continue;
            }
            Ok(key) => key,
        };
        let members = groups.remove(&key).unwrap_or_default();
        if members.len() < GROUP_MIN {
            out.extend(members.into_iter().map(ShownWarning::One));
            continue;
        }
        let (cluster, _, message, help) = key;
        let namespaces: Vec<String> = members
            .iter()
            .filter_map(|w| w.object.as_ref()?.namespace.clone())
            .collect();
        out.push(ShownWarning::Many {
            message: message.replace(SLOT, &format!("{} namespaces", thousands(namespaces.len()))),
            help,
            cluster,
            namespaces,
        });
    }
    out
}

/// `names` as a group shows them: the first few, then how many more and how to see them.
pub(crate) fn some_of(names: &[String]) -> String {
    if names.len() <= GROUP_SHOWN {
        return names.join(", ");
    }
    format!(
        "{}, ... and {} more (`-v` lists all)",
        names[..GROUP_SHOWN].join(", "),
        thousands(names.len() - GROUP_SHOWN)
    )
}

/// `10000` -> `10,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Restores as a plan shows them: one at a time, or those of one cluster in one state, when
/// there are [`GROUP_MIN`] or more, as one group.
pub(crate) enum ShownRestore<'a> {
    /// A restore on its own.
    One(&'a crate::plan::RestoreStatus),
    /// Restores of one cluster in one state: `name (tenant t)` of each.
    Many {
        cluster: String,
        state: crate::plan::RestoreState,
        restores: Vec<String>,
    },
}

/// [`shown_restores`], grouped by cluster and state unless `list_all` (`-v`).
pub(crate) fn grouped_restores(plan: &Plan, list_all: bool) -> Vec<ShownRestore<'_>> {
    use std::collections::BTreeMap;
    let shown: Vec<_> = shown_restores(plan).collect();
    if list_all {
        return shown.into_iter().map(ShownRestore::One).collect();
    }
    let mut counts: BTreeMap<(&str, crate::plan::RestoreState), usize> = BTreeMap::new();
    for r in &shown {
        *counts.entry((r.cluster.as_str(), r.state)).or_default() += 1;
    }
    let mut out = Vec::new();
    let mut grouped: BTreeMap<(&str, crate::plan::RestoreState), usize> = BTreeMap::new();
    for r in &shown {
        let key = (r.cluster.as_str(), r.state);
        if counts[&key] < GROUP_MIN {
            out.push(ShownRestore::One(r));
            continue;
        }
        let entry = format!("{} (tenant {})", r.name, tenant_name(&r.tenant));
        match grouped.get(&key) {
            Some(&i) => {
                if let ShownRestore::Many { restores, .. } = &mut out[i] {
                    restores.push(entry);
                }
            }
            None => {
                grouped.insert(key, out.len());
                out.push(ShownRestore::Many {
                    cluster: r.cluster.clone(),
                    state: r.state,
                    restores: vec![entry],
                });
            }
        }
    }
    out
}

/// What restores in `state` are, for a group: `running`, `requested: apply creates their
/// Jobs (each runs once)`.
pub(crate) fn restore_group_phrase(state: crate::plan::RestoreState) -> &'static str {
    use crate::plan::RestoreState as S;
    match state {
        S::Requested => "requested: apply creates their Jobs (each runs once)",
        S::Running => "running",
        S::Completed => "completed",
        S::Failed => "failed; not retried: a new attempt needs a new restore name",
        S::Unknown => {
            "unknown: started, their Jobs deleted before berth saw how they ended; not run again"
        }
    }
}

/// The restores a plan shows: those the configuration requests, and those still running.
pub(crate) fn shown_restores(plan: &Plan) -> impl Iterator<Item = &crate::plan::RestoreStatus> {
    plan.restores
        .iter()
        .filter(|r| r.in_config || r.state == crate::plan::RestoreState::Running)
}

/// What a restore's state means, in a few words: `requested: apply creates
/// Job/tenant-acme/restore-x (it runs once)`.
pub(crate) fn restore_phrase(r: &crate::plan::RestoreStatus) -> String {
    use crate::plan::RestoreState as S;
    let at = |word: &str| match &r.at {
        Some(t) => format!(" {word} {t}"),
        None => String::new(),
    };
    let mut s = match r.state {
        S::Requested => format!("requested: apply creates {} (it runs once)", r.job),
        S::Running => format!("running{}", at("since")),
        S::Completed => format!("completed{}", at("at")),
        S::Failed => format!(
            "failed{}{}; not retried: a new attempt needs a new restore name",
            at("at"),
            r.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
        S::Unknown => format!(
            "unknown: started{}, {}; not run again",
            at("at"),
            r.message.as_deref().unwrap_or("its Job is gone")
        ),
    };
    if !r.in_config {
        s.push_str(" (no longer in the configuration; nothing is undone)");
    }
    s
}

/// How one field line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sign {
    /// Added (`+`).
    Add,
    /// Removed (`-`).
    Remove,
    /// Changed (`~`).
    Change,
}

/// One field of a change, ready to print.
pub(crate) struct FieldLine {
    pub sign: Sign,
    /// `path: value`, `path: before -> after`, or `path:` when `diff` follows.
    pub head: String,
    /// Unified diff lines of a multi-line string (`@@ ...`, ` ctx`, `-old`, `+new`).
    pub diff: Vec<String>,
}

/// A value as a plan shows it: strings quoted, everything else as compact JSON.
pub(crate) fn show(v: &Value) -> String {
    v.to_string()
}

fn multiline(v: Option<&Value>) -> Option<&str> {
    match v {
        Some(Value::String(s)) if s.contains('\n') => Some(s),
        _ => None,
    }
}

/// How a field change reads.
pub(crate) fn describe(f: &FieldChange) -> FieldLine {
    let sign = match (&f.before, &f.after) {
        (None, _) => Sign::Add,
        (_, None) => Sign::Remove,
        _ => Sign::Change,
    };
    if f.sensitive {
        return FieldLine {
            sign,
            head: format!("{}: {SENSITIVE_MARKER}", f.path),
            diff: vec![],
        };
    }
    let (b, a) = (multiline(f.before.as_ref()), multiline(f.after.as_ref()));
    fn text_of(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str)
    }
    if b.is_some() || a.is_some() {
        // Both sides strings (or absent): a line diff reads better than two long strings.
        let old = text_of(f.before.as_ref());
        let new = text_of(f.after.as_ref());
        if f.before.as_ref().is_none_or(Value::is_string)
            && f.after.as_ref().is_none_or(Value::is_string)
        {
            return FieldLine {
                sign,
                head: format!("{}:", f.path),
                diff: line_diff(old.unwrap_or(""), new.unwrap_or("")),
            };
        }
    }
    let head = match (&f.before, &f.after) {
        (None, Some(a)) => format!("{}: {}", f.path, show(a)),
        (Some(b), None) => format!("{}: {}", f.path, show(b)),
        (Some(b), Some(a)) => format!("{}: {} -> {}", f.path, show(b), show(a)),
        (None, None) => format!("{}: null", f.path),
    };
    FieldLine {
        sign,
        head,
        diff: vec![],
    }
}

/// Unified diff lines (hunk headers and lines, no file header) of two texts.
fn line_diff(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    diff.unified_diff()
        .context_radius(3)
        .missing_newline_hint(false)
        .to_string()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Counts of a group of changes, Terraform-style: a replace is one add and one destroy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub blocked: usize,
}

impl Counts {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Counts {
        let mut c = Counts::default();
        for ch in changes {
            match ch.action {
                Action::Create => c.add += 1,
                Action::Update => c.change += 1,
                Action::Replace => {
                    c.add += 1;
                    c.destroy += 1;
                }
                Action::Delete => c.destroy += 1,
                Action::NoOp => {}
            }
            if ch.blocked.is_some() {
                c.blocked += 1;
            }
        }
        c
    }

    /// `3 to add, 1 to change, 0 to destroy`.
    pub fn phrase(&self) -> String {
        format!(
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )
    }
}

/// Counts of a whole plan.
pub(crate) fn plan_counts(plan: &Plan) -> Counts {
    let s = &plan.summary;
    Counts {
        add: s.add + s.replace,
        change: s.change,
        destroy: s.destroy + s.replace,
        blocked: s.blocked,
    }
}

/// `1 change is` / `3 changes are`.
pub(crate) fn changes_are(n: usize) -> String {
    if n == 1 {
        "1 change is".to_string()
    } else {
        format!("{n} changes are")
    }
}

/// The leaves a manifest sets (for `+ Kind/ns/name (N fields)`).
pub(crate) fn leaf_count(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(leaf_count).sum(),
        Value::Array(a) => a.iter().map(leaf_count).sum(),
        _ => 1,
    }
}

/// Changes grouped by (cluster, tenant), in plan order.
pub(crate) fn by_tenant(plan: &Plan) -> Vec<(&str, &str, Vec<&Change>)> {
    let mut groups: Vec<(&str, &str, Vec<&Change>)> = Vec::new();
    for c in &plan.changes {
        match groups.last_mut() {
            Some((cl, t, list)) if *cl == c.cluster && *t == c.tenant => list.push(c),
            _ => groups.push((&c.cluster, &c.tenant, vec![c])),
        }
    }
    groups
}

/// The Terraform symbol of an action.
pub(crate) fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

/// A tenant name for display (objects without a tenant label have an empty one).
/// `3f2a9c1..8b1e0d4`: the commits of an offline plan of a change.
/// The sentence every printer writes for a plan narrowed by `--changed`.
pub(crate) fn narrowed_phrase(n: &crate::plan::Narrowed) -> String {
    format!(
        "Only {} of {} tenants were planned (`--changed`: their inputs changed since they were last applied); drift in the others was not looked for.",
        n.planned, n.tenants
    )
}

pub(crate) fn range(base: &str, rev: Option<&str>) -> String {
    let short = |s: &str| s.get(..7).unwrap_or(s).to_string();
    format!("{}..{}", short(base), rev.map_or_else(|| "?".into(), short))
}

pub(crate) fn tenant_name(t: &str) -> &str {
    if t.is_empty() {
        "(no tenant label)"
    } else {
        t
    }
}
