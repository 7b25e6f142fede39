//! Printers of a drift report (`berth drift`): the "Objects changed outside berth" part of a
//! plan on its own, as text, JSON or Markdown.

use std::fmt::Write as _;

use serde::Serialize;

use crate::plan::{Drift, DriftKind, Plan, FORMAT_VERSION};

/// Text: one block per drifted object, one line per field (`applied -> live`).
pub fn drift_text(plan: &Plan) -> String {
    let mut out = String::new();
    for line in super::unknown_lines(plan) {
        let _ = writeln!(out, "! {line}");
    }
    for k in &plan.kept {
        let _ = writeln!(out, "! {}", super::kept_phrases(k, 6).0);
    }
    if plan.drift.is_empty() {
        match super::unknown_phrase(plan) {
            None => out.push_str("No drift: every object berth applied is as it left it.\n"),
            Some(unknown) => {
                let _ = writeln!(
                    out,
                    "No drift in what could be read. {unknown} (above): whether it drifted is \
                     unknown."
                );
            }
        }
        return out;
    }
    let _ = writeln!(out, "Objects changed outside berth (applied -> live):\n");
    for d in &plan.drift {
        if d.kind == DriftKind::Missing {
            let _ = writeln!(
                out,
                "  - {}  (cluster {}, tenant {}): deleted outside berth",
                d.id, d.cluster, d.tenant
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  ~ {}  (cluster {}, tenant {})",
            d.id, d.cluster, d.tenant
        );
        for f in &d.fields {
            let show = |v: &Option<serde_json::Value>| match v {
                Some(v) => v.to_string(),
                None => "(absent)".to_string(),
            };
            let _ = writeln!(
                out,
                "      {}: {} -> {}",
                f.path,
                show(&f.before),
                show(&f.after)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nDrift: {} changed outside berth. `berth apply{}` puts {} back as Git says.",
        objects(plan.drift.len()),
        if plan.correct_drift {
            ""
        } else {
            " --correct-drift"
        },
        if plan.drift.len() == 1 { "it" } else { "them" }
    );
    out
}

fn objects(n: usize) -> String {
    if n == 1 {
        "1 object".to_string()
    } else {
        format!("{n} objects")
    }
}

#[derive(Serialize)]
struct DriftReport<'a> {
    format_version: &'a str,
    revision: &'a Option<String>,
    drifted: usize,
    drift: &'a [Drift],
    partial: bool,
    unreachable: &'a [(String, String)],
    unobserved: &'a [crate::plan::Unobserved],
    unlisted: &'a [crate::plan::Unlisted],
}

/// JSON: `{"format_version", "revision", "drifted", "drift": [...], "partial", "unreachable":
/// [...], "unobserved": [...], "unlisted": [...]}`,
/// with drift entries as in the plan format (docs/plan-format.md).
pub fn drift_json(plan: &Plan) -> String {
    let report = DriftReport {
        format_version: FORMAT_VERSION,
        revision: &plan.revision,
        drifted: plan.drift.len(),
        drift: &plan.drift,
        partial: plan.is_partial(),
        unreachable: &plan.unreachable,
        unobserved: &plan.unobserved,
        unlisted: &plan.unlisted,
    };
    let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
    s.push('\n');
    s
}

/// Markdown for an issue or a scheduled CI job's summary.
pub fn drift_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.drift.is_empty() && plan.is_partial() {
        out.push_str("## berth drift: none seen\n\nNo drift in what could be read. Not read:\n\n");
        for line in super::unknown_lines(plan) {
            let _ = writeln!(out, "- {line}");
        }
    } else if plan.drift.is_empty() {
        out.push_str("## berth drift: none\n\nEvery object berth applied is as it left it.\n");
    } else {
        let _ = writeln!(
            out,
            "## berth drift: {} changed outside berth\n\n| object | cluster | tenant | fields |\n| --- | --- | --- | ---: |",
            objects(plan.drift.len())
        );
        for d in &plan.drift {
            let fields = match d.kind {
                DriftKind::Missing => "deleted".to_string(),
                DriftKind::Changed => d.fields.len().to_string(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {fields} |",
                d.id, d.cluster, d.tenant
            );
        }
        out.push_str("\n<details><summary>fields (applied -> live)</summary>\n\n```diff\n");
        for d in &plan.drift {
            if d.kind == DriftKind::Missing {
                let _ = writeln!(out, "- {}  (deleted outside berth)", d.id);
                continue;
            }
            let _ = writeln!(out, "! {}", d.id);
            for f in &d.fields {
                let v = |v: &Option<serde_json::Value>| {
                    v.as_ref().map_or("(absent)".to_string(), |v| v.to_string())
                };
                let _ = writeln!(out, "-   {}: {}", f.path, v(&f.before));
                let _ = writeln!(out, "+   {}: {}", f.path, v(&f.after));
            }
        }
        out.push_str("```\n\n</details>\n");
    }
    if !plan.drift.is_empty() {
        for line in super::unknown_lines(plan) {
            let _ = writeln!(out, "\n> not checked: {line}");
        }
    }
    out
}
