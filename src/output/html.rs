//! The plan as an HTML fragment, for the dashboard: the same content as the Markdown PR comment
//! (counts, a table per tenant, unreachable clusters, conflicts, drift, then the changes of
//! each tenant with their per-field diff), without its length cap. Every text is escaped with
//! [`escape`]; the fragment uses a handful of classes (`add`, `del`, `chg`, `blocked`, `diff`)
//! that the dashboard's stylesheet colours.

use std::fmt::Write as _;

use super::{by_tenant, changes_are, describe, plan_counts, symbol, tenant_name, Counts, Sign};
use crate::plan::{Action, Change, Drift, FieldChange, Plan};

/// `s` with `&`, `<`, `>`, `"` and `'` replaced by entities: safe in element content and in
/// quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

/// [`escape`], appending to `out`.
pub fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// What [`to_html`] shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlOptions<'a> {
    /// Only this tenant's changes and drift.
    pub tenant: Option<&'a str>,
    /// Leave out the headline with the counts.
    pub no_title: bool,
    /// Name tenants without a link to their dashboard page (a new tenant has none yet).
    pub no_links: bool,
}

/// The plan as an HTML fragment (no `<html>` or `<body>`).
pub fn to_html(plan: &Plan, opts: HtmlOptions<'_>) -> String {
    let keep = |t: &str| opts.tenant.is_none_or(|only| only == t);
    let changes: Vec<&Change> = plan.changes.iter().filter(|c| keep(&c.tenant)).collect();
    let drift: Vec<&Drift> = plan.drift.iter().filter(|d| keep(&d.tenant)).collect();
    let counts = if opts.tenant.is_some() {
        Counts::of(changes.iter().copied())
    } else {
        plan_counts(plan)
    };
    let mut out = String::new();
    if !opts.no_title {
        if changes.is_empty() && plan.is_partial() {
            out.push_str(
                "<h3 class=\"plan-title\">Partial plan: nothing to change in what was read</h3>\n",
            );
        } else if changes.is_empty() {
            out.push_str("<h3 class=\"plan-title\">No changes</h3>\n");
        } else {
            let _ = writeln!(
                out,
                "<h3 class=\"plan-title\">Plan: {}</h3>",
                escape(&counts.phrase())
            );
        }
    }
    if let Some(rev) = &plan.revision {
        let _ = writeln!(out, "<p>Revision <code>{}</code>.</p>", escape(rev));
    }
    if changes.is_empty() && opts.tenant.is_none() {
        let phrase = super::no_changes_phrase(plan);
        let _ = writeln!(
            out,
            "<p>{}</p>",
            escape(phrase.strip_prefix("No changes. ").unwrap_or(&phrase))
        );
    }
    let kept: Vec<_> = plan.kept.iter().filter(|k| keep(&k.tenant)).collect();
    if !kept.is_empty() {
        out.push_str(
            "<h4>Removed from the configuration, kept</h4>\n<p>Nothing of these tenants is \
             destroyed.</p>\n<ul>\n",
        );
        for k in kept {
            let (head, stays, help) = super::kept_phrases(k, 6);
            let _ = writeln!(
                out,
                "<li class=\"kept\">{}<br>{}<br><em>{}</em></li>",
                escape(&head),
                escape(&stays),
                escape(&help)
            );
        }
        out.push_str("</ul>\n");
    }
    if counts.blocked > 0 {
        let _ = writeln!(
            out,
            "<p class=\"blocked\"><strong>{} blocked</strong> and will not be applied without \
             explicit permission.</p>",
            escape(&changes_are(counts.blocked))
        );
    }

    let groups: Vec<(&str, &str, Vec<&Change>)> = by_tenant(plan)
        .into_iter()
        .filter(|(_, t, _)| keep(t))
        .collect();
    if !groups.is_empty() && opts.tenant.is_none() {
        out.push_str(
            "<table class=\"counts\"><thead><tr><th>tenant</th><th>cluster</th>\
             <th class=\"num\">add</th><th class=\"num\">change</th>\
             <th class=\"num\">destroy</th><th class=\"num\">blocked</th></tr></thead><tbody>\n",
        );
        for (cluster, tenant, changes) in &groups {
            let c = Counts::of(changes.iter().copied());
            let t = escape(tenant_name(tenant));
            let name = if opts.no_links {
                t
            } else {
                format!("<a href=\"/tenants/{t}\">{t}</a>")
            };
            let _ = writeln!(
                out,
                "<tr><td>{name}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(cluster),
                c.add,
                c.change,
                c.destroy,
                c.blocked,
            );
        }
        out.push_str("</tbody></table>\n");
    }

    if !plan.unreachable.is_empty() && opts.tenant.is_none() {
        out.push_str("<h4>Unreachable clusters (not planned)</h4>\n<ul>\n");
        for (cluster, msg) in &plan.unreachable {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong>: {}</li>",
                escape(cluster),
                escape(msg)
            );
        }
        out.push_str("</ul>\n");
    }
    let unobserved: Vec<_> = plan.unobserved.iter().filter(|u| keep(&u.tenant)).collect();
    let unlisted: Vec<_> = plan
        .unlisted
        .iter()
        .filter(|_| opts.tenant.is_none())
        .collect();
    if !unobserved.is_empty() || !unlisted.is_empty() {
        out.push_str("<h4>Not observed (not planned)</h4>\n<ul>\n");
        for u in unobserved {
            let _ = writeln!(
                out,
                "<li>tenant <strong>{}</strong> on cluster <strong>{}</strong>: {}</li>",
                escape(&u.tenant),
                escape(&u.cluster),
                escape(&u.reason)
            );
        }
        for u in unlisted {
            let _ = writeln!(
                out,
                "<li><code>{}</code> on cluster <strong>{}</strong> could not be listed: {} \
                 (objects of this kind that berth no longer renders are not seen, so not \
                 pruned)</li>",
                escape(&u.kind),
                escape(&u.cluster),
                escape(&u.reason)
            );
        }
        out.push_str("</ul>\n");
    }

    let conflicts: Vec<_> = plan.conflicts.iter().filter(|c| keep(&c.tenant)).collect();
    if !conflicts.is_empty() {
        out.push_str("<h4>Conflicts</h4>\n<ul>\n");
        for c in conflicts {
            let owner = match &c.managed_by {
                Some(m) => format!("managed by `{m}`"),
                None => "not managed by berth".to_string(),
            };
            let _ = writeln!(
                out,
                "<li><code>{}</code> on cluster {} (tenant {}) already exists, {}; pass \
                 <code>--adopt</code> to take it over</li>",
                escape(&c.id.to_string()),
                escape(&c.cluster),
                escape(tenant_name(&c.tenant)),
                escape(&owner)
            );
        }
        out.push_str("</ul>\n");
    }

    if !drift.is_empty() {
        let _ = writeln!(
            out,
            "<h4>Objects changed outside berth ({})</h4>\n<pre class=\"diff\">",
            drift.len()
        );
        for d in &drift {
            let _ = writeln!(
                out,
                "<span class=\"chg\">! {}</span>  (cluster {}, tenant {})",
                escape(&d.id.to_string()),
                escape(&d.cluster),
                escape(tenant_name(&d.tenant))
            );
            write_fields(&mut out, &d.fields);
        }
        out.push_str("</pre>\n");
    }

    for (cluster, tenant, changes) in &groups {
        let c = Counts::of(changes.iter().copied());
        let mut parts = Vec::new();
        for (n, what) in [
            (c.add, "to add"),
            (c.change, "to change"),
            (c.destroy, "to destroy"),
            (c.blocked, "blocked"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let _ = writeln!(
            out,
            "<details open><summary>tenant {} (cluster {}): {}</summary>\n<pre class=\"diff\">",
            escape(tenant_name(tenant)),
            escape(cluster),
            escape(&parts.join(", "))
        );
        for ch in changes {
            let class = match ch.action {
                Action::Create => "add",
                Action::Delete => "del",
                _ => "chg",
            };
            let mut line = format!("{} {}", symbol(ch.action), ch.id);
            match (&ch.action, &ch.reason) {
                (Action::Replace, Some(r)) => {
                    let _ = write!(line, "  # forces replacement: {r}");
                }
                (_, Some(r)) => {
                    let _ = write!(line, "  # {r}");
                }
                _ => {}
            }
            let _ = writeln!(out, "<span class=\"{class}\">{}</span>", escape(&line));
            if let Some(why) = &ch.blocked {
                let _ = writeln!(
                    out,
                    "<span class=\"blocked\">    blocked: {}</span>",
                    escape(why)
                );
            }
            if matches!(ch.action, Action::Update | Action::Replace) {
                write_fields(&mut out, &ch.fields);
            }
        }
        out.push_str("</pre></details>\n");
    }
    out
}

fn write_fields(out: &mut String, fields: &[FieldChange]) {
    for f in fields {
        let line = describe(f);
        let (sign, class) = match line.sign {
            Sign::Add => ('+', "add"),
            Sign::Remove => ('-', "del"),
            Sign::Change => ('~', "chg"),
        };
        let _ = writeln!(
            out,
            "<span class=\"{class}\">    {sign} {}</span>",
            escape(&line.head)
        );
        for d in &line.diff {
            let class = match d.chars().next() {
                Some('+') => "add",
                Some('-') => "del",
                _ => "ctx",
            };
            let _ = writeln!(out, "<span class=\"{class}\">        {}</span>", escape(d));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectRef;
    use crate::plan::{DriftKind, Summary, SENSITIVE_MARKER};
    use serde_json::json;

    fn id(kind: &str, ns: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some(ns.into()),
            name: name.into(),
        }
    }

    fn plan() -> Plan {
        let mut p = Plan {
            base: None,
            restores: Vec::new(),
            warnings: Vec::new(),
            kept: Vec::new(),
            returned: Vec::new(),
            allow_destroy: Default::default(),
            correct_drift: false,
            narrowed: None,
            format_version: "1".into(),
            revision: Some("abc<def>".into()),
            changes: vec![Change {
                id: id("StatefulSet", "tenant-a", "db"),
                cluster: "local".into(),
                tenant: "a<script>".into(),
                action: Action::Update,
                fields: vec![
                    FieldChange {
                        path: "spec.replicas".into(),
                        before: Some(json!(3)),
                        after: Some(json!(5)),
                        sensitive: false,
                    },
                    FieldChange {
                        path: "data.password".into(),
                        before: Some(json!("x")),
                        after: Some(json!("y")),
                        sensitive: true,
                    },
                ],
                reason: None,
                blocked: None,
                desired: None,
            }],
            drift: vec![Drift {
                id: id("ResourceQuota", "tenant-b", "quota"),
                cluster: "local".into(),
                tenant: "b".into(),
                kind: DriftKind::Changed,
                fields: vec![FieldChange {
                    path: "spec.hard.pods".into(),
                    before: Some(json!("10")),
                    after: Some(json!("99")),
                    sensitive: false,
                }],
            }],
            conflicts: vec![],
            unreachable: vec![],
            unobserved: vec![],
            unlisted: vec![],
            summary: Summary::default(),
        };
        p.summarize();
        p
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain ü"), "plain ü");
    }

    #[test]
    fn shows_counts_field_diffs_and_drift_escaped_and_masked() {
        let html = to_html(&plan(), HtmlOptions::default());
        assert!(
            html.contains("Plan: 0 to add, 1 to change, 0 to destroy"),
            "{html}"
        );
        assert!(html.contains("spec.replicas: 3 -&gt; 5"), "{html}");
        assert!(html.contains(&format!("data.password: {SENSITIVE_MARKER}")));
        assert!(!html.contains("\"y\""), "{html}");
        assert!(html.contains("a&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("Objects changed outside berth (1)"), "{html}");
        assert!(
            html.contains("spec.hard.pods: &quot;10&quot; -&gt; &quot;99&quot;"),
            "{html}"
        );
        assert!(
            html.contains("Revision <code>abc&lt;def&gt;</code>"),
            "{html}"
        );
    }

    #[test]
    fn a_tenant_filter_keeps_only_its_changes_and_drift() {
        let html = to_html(
            &plan(),
            HtmlOptions {
                tenant: Some("b"),
                no_title: false,
                no_links: false,
            },
        );
        assert!(html.contains("No changes"), "{html}");
        assert!(html.contains("spec.hard.pods"), "{html}");
        assert!(!html.contains("spec.replicas"), "{html}");
    }
}
