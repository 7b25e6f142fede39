//! Printers of `berth status` (one line per tenant) and `berth show tenant`, as text and
//! JSON. The JSON carries a `format_version` like the plan's.

use std::fmt::Write as _;

use serde_json::json;

use crate::object::short_revision;
use crate::status::{age, TenantDetails, TenantStatus};
use crate::values::time::format_rfc3339;

/// Version of the JSON of `status` and `show tenant`.
pub const STATUS_FORMAT_VERSION: &str = "1";

fn database(s: &TenantStatus) -> String {
    if s.error.is_some() {
        return "?".into();
    }
    match s.database.ready {
        Some(r) => format!("{r}/{}", s.database.desired),
        None => format!("-/{}", s.database.desired),
    }
}

fn last_backup(s: &TenantStatus) -> String {
    match &s.last_backup {
        Some(b) => format!("{} ago ({})", age(b.age_seconds), b.schedule),
        None => "never".into(),
    }
}

/// Pads columns to their widest cell, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `berth status` as text: a table, then what needs attention, then a closing line.
pub fn status_text(rows: &[TenantStatus]) -> String {
    if rows.is_empty() {
        return "No tenants.\n".into();
    }
    let mut cells = vec![[
        "TENANT",
        "CLUSTER",
        "NAMESPACE",
        "DATABASE",
        "REVISION",
        "DRIFT",
        "LAST BACKUP",
        "FAILING JOBS",
        "STATUS",
    ]
    .map(String::from)
    .to_vec()];
    for s in rows {
        if s.error.is_some() {
            cells.push(vec![
                s.tenant.clone(),
                s.cluster.clone(),
                s.namespace.clone(),
                "?".into(),
                "?".into(),
                "?".into(),
                "?".into(),
                "?".into(),
                unread(s).into(),
            ]);
            continue;
        }
        let state = if s.removed.is_some() {
            "removed, kept"
        } else if !s.exists {
            "not applied"
        } else if s.problems.is_empty() {
            "ok"
        } else {
            "attention"
        };
        cells.push(vec![
            s.tenant.clone(),
            s.cluster.clone(),
            s.namespace.clone(),
            database(s),
            s.revision.as_deref().map_or("-", short_revision).into(),
            s.drifted.to_string(),
            last_backup(s),
            s.failing_jobs.len().to_string(),
            state.into(),
        ]);
    }
    let mut out = table(&cells);
    let attention: Vec<&TenantStatus> = rows.iter().filter(|s| !s.problems.is_empty()).collect();
    if !attention.is_empty() {
        out.push('\n');
        for s in &attention {
            match &s.error {
                Some(e) => {
                    let _ = writeln!(out, "! {}: {e}", s.tenant);
                }
                None => {
                    let _ = writeln!(out, "! {}: {}", s.tenant, s.problems.join(", "));
                }
            }
            for j in &s.failing_jobs {
                let _ = writeln!(out, "    failing: {j}");
            }
        }
    }
    let unreachable = rows
        .iter()
        .filter(|s| s.error.is_some() && unread(s) == "unreachable")
        .count();
    let unobserved = rows.iter().filter(|s| s.error.is_some()).count() - unreachable;
    let ok = rows.iter().filter(|s| s.problems.is_empty()).count();
    let _ = writeln!(
        out,
        "\n{} tenants: {ok} ok, {} need attention, {unreachable} on unreachable clusters{}.",
        rows.len(),
        attention.len() - unreachable - unobserved,
        if unobserved > 0 {
            format!(", {unobserved} not observed")
        } else {
            String::new()
        }
    );
    if rows
        .iter()
        .any(|s| s.error.is_none() && s.database.ready.is_none())
    {
        out.push_str(
            "(DATABASE -/N: no controller has reported the StatefulSet's status, as on the embedded cluster.)\n",
        );
    }
    out
}

fn status_value(s: &TenantStatus) -> serde_json::Value {
    json!({
        "tenant": s.tenant,
        "cluster": s.cluster,
        "namespace": s.namespace,
        "reachable": s.error.is_none(),
        "error": s.error,
        "exists": s.exists,
        "removed": s.removed,
        "database": {"ready": s.database.ready, "desired": s.database.desired},
        "revision": s.revision,
        "drifted": s.drifted,
        "pending_changes": s.pending_changes,
        "last_backup": s.last_backup,
        "failing_jobs": s.failing_jobs,
        "problems": s.problems,
        "state": s.state,
        "reasons": s.reasons,
        "ok": s.problems.is_empty(),
    })
}

/// `berth status -o json`.
pub fn status_json(rows: &[TenantStatus], now: i64) -> String {
    let doc = json!({
        "format_version": STATUS_FORMAT_VERSION,
        "now": format_rfc3339(now),
        "tenants": rows.iter().map(status_value).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// `berth show tenant` as text.
pub fn show_text(d: &TenantDetails) -> String {
    let s = &d.status;
    let mut out = String::new();
    let _ = writeln!(out, "Tenant {} ({})", s.tenant, d.display_name);
    let _ = writeln!(out, "  cluster    {}", s.cluster);
    let _ = writeln!(out, "  namespace  {}", s.namespace);
    let _ = writeln!(out, "  tier       {}", d.tier);
    if let Some(e) = &s.error {
        let _ = writeln!(out, "  status     {}: {e}", unread(s));
    } else {
        let _ = writeln!(
            out,
            "  status     {}",
            if !s.exists {
                "not applied".to_string()
            } else if s.problems.is_empty() {
                "ok".to_string()
            } else {
                format!("needs attention: {}", s.problems.join(", "))
            }
        );
        let _ = writeln!(
            out,
            "  revision   {}",
            s.revision
                .as_deref()
                .map_or("- (never applied by this version)", short_revision)
        );
        let _ = writeln!(
            out,
            "  drift      {} drifted, {} changes not applied",
            s.drifted, s.pending_changes
        );
    }

    let _ = writeln!(out, "\nSettings:");
    let mut rows = Vec::new();
    for st in &d.settings {
        let origin = match st.origin {
            crate::spec::model::Origin::Tenant => "tenant file".to_string(),
            crate::spec::model::Origin::Tier => format!("tier {}", d.tier),
            crate::spec::model::Origin::Platform => "platform default".to_string(),
            crate::spec::model::Origin::Builtin => "built-in default".to_string(),
        };
        let place = st
            .location
            .as_ref()
            .map(|l| format!("({l})"))
            .unwrap_or_default();
        rows.push(vec![
            format!("  {}", st.key),
            st.value.clone(),
            origin,
            place,
        ]);
    }
    out.push_str(&table(&rows));

    let _ = writeln!(out, "\nObjects:");
    let rows: Vec<Vec<String>> = d
        .objects
        .iter()
        .map(|o| vec![format!("  {}", o.address), o.state.clone()])
        .collect();
    out.push_str(&table(&rows));

    let _ = writeln!(out, "\nDatabase pods:");
    if d.pods.is_empty() {
        let _ = writeln!(out, "  none");
    } else {
        let rows: Vec<Vec<String>> = d
            .pods
            .iter()
            .map(|p| {
                vec![
                    format!("  {}", p.name),
                    if p.ready { "ready" } else { "not ready" }.into(),
                    p.phase.clone().unwrap_or_else(|| "-".into()),
                    format!("{} restarts", p.restarts),
                ]
            })
            .collect();
        out.push_str(&table(&rows));
    }

    let _ = writeln!(out, "\nQuota (used / hard):");
    if d.quota.is_empty() {
        let _ = writeln!(out, "  none");
    } else {
        let rows: Vec<Vec<String>> = d
            .quota
            .iter()
            .map(|q| {
                vec![
                    format!("  {}", q.resource),
                    format!(
                        "{} / {}",
                        q.used.as_deref().unwrap_or("-"),
                        q.hard.as_deref().unwrap_or("-")
                    ),
                ]
            })
            .collect();
        out.push_str(&table(&rows));
    }

    let _ = writeln!(out, "\nBackups:");
    if d.backups.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for b in &d.backups {
        let when = match &b.timezone {
            Some(tz) => format!("{} ({tz})", b.cron),
            None => format!("{} (UTC)", b.cron),
        };
        let _ = writeln!(
            out,
            "  {}  {when} to {}{}",
            b.schedule,
            b.location,
            if b.paused { ", paused" } else { "" }
        );
        let _ = writeln!(out, "    retention     {}", b.retention);
        let _ = writeln!(
            out,
            "    last success  {}",
            b.last_success.as_deref().unwrap_or("never")
        );
        let next = match (&b.next_run, b.paused, &b.timezone) {
            (Some(n), _, _) => n.clone(),
            (None, true, _) => "- (paused)".into(),
            (None, false, Some(tz)) => format!("- (no run found in {tz})"),
            (None, false, None) => "-".into(),
        };
        let _ = writeln!(out, "    next run      {next}");
    }

    let _ = writeln!(out, "\nRestores:");
    if d.restores.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for r in &d.restores {
        let _ = writeln!(out, "  {}  {}", r.name, super::restore_phrase(r));
    }
    if !d.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for w in &d.warnings {
            let _ = writeln!(out, "  ! {}", w.message);
        }
    }
    out
}

/// `berth show tenant -o json`.
pub fn show_json(d: &TenantDetails, now: i64) -> String {
    let doc = json!({
        "format_version": STATUS_FORMAT_VERSION,
        "now": format_rfc3339(now),
        "status": status_value(&d.status),
        "display_name": d.display_name,
        "tier": d.tier,
        "settings": d.settings,
        "objects": d.objects,
        "pods": d.pods,
        "quota": d.quota,
        "backups": d.backups,
        "restores": d.restores.iter().map(|r| json!({
            "name": r.name,
            "address": r.job.to_string(),
            "state": r.state,
            "at": r.at,
            "message": r.message,
            "in_config": r.in_config,
        })).collect::<Vec<_>>(),
        "warnings": d.warnings.iter().map(|w| json!({
            "kind": w.kind,
            "address": w.object.as_ref().map(ToString::to_string),
            "message": w.message,
            "help": w.help,
        })).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// `berth show tenant` of a tenant the configuration no longer has and its cluster keeps.
pub fn show_kept_text(s: &TenantStatus, k: &crate::plan::KeptTenant) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Tenant {} (not in the configuration)", s.tenant);
    let _ = writeln!(out, "  cluster    {}", s.cluster);
    let _ = writeln!(out, "  namespace  {}", s.namespace);
    match &s.error {
        Some(e) => {
            let _ = writeln!(out, "  status     {}: {e}", unread(s));
        }
        None => {
            let _ = writeln!(out, "  status     {}", s.problems.join(", "));
            let _ = writeln!(out, "  database   {}", database(s));
            if let Some(rev) = &k.last_applied_revision {
                let _ = writeln!(out, "  applied    {}", short_revision(rev));
            }
        }
    }
    let (_, stays, help) = super::kept_phrases(k, usize::MAX);
    let _ = writeln!(out, "\n{stays}");
    let _ = writeln!(out, "\nhelp: {help}");
    out
}

/// `berth show tenant -o json` of a kept tenant.
pub fn show_kept_json(s: &TenantStatus, k: &crate::plan::KeptTenant, now: i64) -> String {
    let doc = json!({
        "format_version": STATUS_FORMAT_VERSION,
        "now": format_rfc3339(now),
        "status": status_value(s),
        "in_config": false,
        "kept": {
            "reason": k.reason,
            "removed_in": k.removed_in,
            "last_applied_revision": k.last_applied_revision,
            "objects": k.objects.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// How a tenant that could not be read is shown: `unreachable` (its cluster) or `not
/// observed` (part of its cluster could not be read).
fn unread(s: &crate::status::TenantStatus) -> &'static str {
    if s.problems.iter().any(|p| p == crate::status::NOT_OBSERVED) {
        crate::status::NOT_OBSERVED
    } else {
        "unreachable"
    }
}

#[cfg(test)]
mod tests {
    use super::short_revision;

    #[test]
    fn text_shows_commit_shas_short_and_directory_digests_as_they_are() {
        let sha = "3f2a9c1d0e4b5a69788796a5b4c3d2e1f0a9b8c7";
        assert_eq!(short_revision(sha), "3f2a9c1d0e4b");
        let sha256 = "3f2a9c1d0e4b".repeat(5) + "abcd";
        assert_eq!(short_revision(&sha256), "3f2a9c1d0e4b");
        assert_eq!(short_revision("sha256:0123456789ab"), "sha256:0123456789ab");
        assert_eq!(short_revision("v1.2"), "v1.2");
    }
}
