//! The read-only pages: first their data (pure functions of the [`Status`], the [`Snapshot`]
//! and the time), then their HTML. Nothing here reads a clock, a file or a cluster.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::{age, count, escape, layout, short_rev, url_encode, Nav};
use super::live::{JobState, Replicas, TenantLive};
use super::prometheus::{PromSeries, PromTrends, RANGES};
use super::svg::{chart, time_chart, Point, Series, TimeSeries};
use super::Snapshot;
use crate::daemon::status::{Status, TenantStatus};
use crate::output::html::{to_html, HtmlOptions};
use crate::spec::model::{BackupSchedule, Origin, Tenant};
use crate::values::cron::parse_cron;
use crate::values::time::{format_rfc3339, parse_rfc3339};

/// How bad a row is; problems sort first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing to do.
    Ok,
    /// Unknown (not observed yet).
    Unknown,
    /// Needs attention.
    Warn,
    /// Broken.
    Bad,
}

impl Severity {
    fn class(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Unknown => "unknown",
            Severity::Warn => "warn",
            Severity::Bad => "bad",
        }
    }
}

/// The overview's filter, from the query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Text searched in name, display name, cluster, tier and problems.
    pub q: String,
    /// Only this cluster.
    pub cluster: String,
    /// Only tenants with a problem.
    pub problems_only: bool,
}

impl Filter {
    /// From decoded query pairs (`q`, `cluster`, `problems=1`).
    pub fn from_pairs(pairs: &[(String, String)]) -> Filter {
        let get = |k: &str| super::html::get(pairs, k).unwrap_or("").trim().to_string();
        Filter {
            q: get("q"),
            cluster: get("cluster"),
            problems_only: matches!(get("problems").as_str(), "1" | "on" | "true"),
        }
    }

    fn keeps(&self, row: &TenantRow) -> bool {
        if !self.cluster.is_empty() && row.cluster != self.cluster {
            return false;
        }
        if self.problems_only && row.problems.is_empty() {
            return false;
        }
        if self.q.is_empty() {
            return true;
        }
        let q = self.q.to_lowercase();
        [&row.name, &row.display_name, &row.cluster, &row.tier]
            .iter()
            .any(|s| s.to_lowercase().contains(&q))
            || row.problems.iter().any(|p| p.to_lowercase().contains(&q))
    }
}

/// One tenant on the overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRow {
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Cluster.
    pub cluster: String,
    /// Tier.
    pub tier: String,
    /// Database replicas, when a StatefulSet was seen.
    pub replicas: Option<Replicas>,
    /// Desired replicas from the configuration.
    pub desired: Option<u32>,
    /// Last revision applied, and when.
    pub applied: Option<(String, String)>,
    /// Drifted objects.
    pub drifted: usize,
    /// Age of the newest successful backup, seconds.
    pub last_backup_age: Option<i64>,
    /// Backup schedules in the configuration.
    pub schedules: usize,
    /// Failing jobs.
    pub failing_jobs: usize,
    /// What needs attention.
    pub problems: Vec<String>,
    /// The worst of it.
    pub severity: Severity,
}

/// Tenant names known to the daemon: the configuration's, else the status's (after a restart,
/// before the first sync).
/// The tenants of the configuration, and those it no longer has that a cluster keeps.
fn tenant_names<'a>(status: &'a Status, snap: &'a Snapshot) -> Vec<&'a str> {
    match &snap.config {
        Some(c) => c
            .tenants
            .iter()
            .map(|t| t.name.as_str())
            .chain(
                status
                    .tenants
                    .iter()
                    .filter(|(_, s)| s.last_result == "kept")
                    .map(|(n, _)| n.as_str()),
            )
            .collect(),
        None => status.tenants.keys().map(String::as_str).collect(),
    }
}

fn find_tenant<'a>(snap: &'a Snapshot, name: &str) -> Option<&'a Tenant> {
    snap.config
        .as_ref()?
        .tenants
        .iter()
        .find(|t| t.name == name)
}

/// A backup schedule's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Tenant.
    pub tenant: String,
    /// Schedule name.
    pub name: String,
    /// Cron expression, and time zone if any.
    pub cron: String,
    /// Location name and kind.
    pub location: String,
    /// Paused in the configuration.
    pub paused: bool,
    /// Last success, unix seconds.
    pub last_success: Option<i64>,
    /// Next run, unix seconds (UTC evaluation of the expression).
    pub next_run: Option<i64>,
    /// Failed jobs since the last success.
    pub failures: Vec<String>,
    /// Whether the last success is older than a missed run (plus an hour).
    pub overdue: bool,
    /// The schedule's CronJob exists.
    pub deployed: bool,
}

impl ScheduleRow {
    /// How it stands.
    pub fn state(&self) -> (Severity, &'static str) {
        if self.paused {
            (Severity::Unknown, "paused")
        } else if !self.failures.is_empty() {
            (Severity::Bad, "failing")
        } else if self.overdue {
            (Severity::Warn, "overdue")
        } else if !self.deployed {
            (Severity::Unknown, "not observed yet")
        } else if self.last_success.is_none() {
            (Severity::Unknown, "no success yet")
        } else {
            (Severity::Ok, "ok")
        }
    }
}

/// The rows of one tenant's schedules.
pub fn schedule_rows(t: &Tenant, live: Option<&TenantLive>, now: i64) -> Vec<ScheduleRow> {
    let failing: Vec<_> = live.map(|l| l.failing_jobs()).unwrap_or_default();
    t.schedules
        .iter()
        .map(|s: &BackupSchedule| {
            let cron = live.and_then(|l| l.cronjobs.iter().find(|c| c.schedule == s.name));
            let last_success = cron.and_then(|c| c.last_success);
            let parsed = parse_cron(&s.cron).ok();
            let next = |c: &crate::values::cron::CronSchedule, after: i64| {
                c.next_run(after, s.timezone.as_deref())
            };
            let next_run = parsed.as_ref().and_then(|c| next(c, now));
            let overdue = match (&parsed, last_success) {
                (Some(c), Some(ok)) if !s.paused => {
                    next(c, ok).is_some_and(|missed| missed + 3600 < now)
                }
                _ => false,
            };
            ScheduleRow {
                tenant: t.name.clone(),
                name: s.name.clone(),
                cron: match &s.timezone {
                    Some(tz) => format!("{} ({tz})", s.cron),
                    None => s.cron.clone(),
                },
                location: format!("{} ({:?})", s.location.name, s.location.kind).to_lowercase(),
                paused: s.paused,
                last_success,
                next_run,
                failures: failing
                    .iter()
                    .filter(|j| j.schedule.as_deref() == Some(s.name.as_str()))
                    .map(|j| j.name.clone())
                    .collect(),
                overdue,
                deployed: cron.is_some(),
            }
        })
        .collect()
}

/// The overview's row of one tenant.
pub fn tenant_row(
    name: &str,
    status: &Status,
    snap: &Snapshot,
    unreachable: &BTreeMap<&str, &str>,
    now: i64,
) -> TenantRow {
    let st = status.tenants.get(name);
    let spec = find_tenant(snap, name);
    let live = snap.live.get(name);
    let cluster = spec
        .map(|t| t.cluster.clone())
        .or_else(|| st.map(|s| s.cluster.clone()))
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut severity = Severity::Ok;
    let bump = |s: Severity, p: String, problems: &mut Vec<(Severity, String)>| {
        problems.push((s, p));
    };
    if let Some(msg) = unreachable.get(cluster.as_str()) {
        bump(
            Severity::Bad,
            format!("cluster unreachable: {msg}"),
            &mut problems,
        );
    }
    match st.map(|s| s.last_result.as_str()) {
        Some("failed") => {
            let n = st.map(|s| s.errors.len()).unwrap_or(0);
            bump(
                Severity::Bad,
                format!("last sync failed ({n} errors)"),
                &mut problems,
            );
        }
        Some("pending") if !unreachable.contains_key(cluster.as_str()) => bump(
            Severity::Warn,
            "changes not applied yet".into(),
            &mut problems,
        ),
        Some("kept") => bump(
            Severity::Warn,
            st.and_then(|s| s.removed.clone())
                .unwrap_or_else(|| "removed from the configuration, kept".into()),
            &mut problems,
        ),
        None => severity = Severity::Unknown,
        _ => {}
    }
    let replicas = live.and_then(|l| l.replicas);
    if let Some(Replicas {
        ready: Some(ready),
        desired,
    }) = replicas
    {
        if ready < desired {
            let s = if ready == 0 {
                Severity::Bad
            } else {
                Severity::Warn
            };
            bump(
                s,
                format!("database {ready}/{desired} ready"),
                &mut problems,
            );
        }
    }
    if live.is_some_and(|l| !l.namespace_exists) && st.is_some_and(|s| s.last_result == "ok") {
        bump(Severity::Warn, "namespace missing".into(), &mut problems);
    }
    let drifted = st.map(|s| s.drifted).unwrap_or(0);
    if drifted > 0 {
        bump(Severity::Warn, format!("{drifted} drifted"), &mut problems);
    }
    let failing_jobs = live.map(|l| l.failing_jobs().len()).unwrap_or(0);
    if failing_jobs > 0 {
        bump(
            Severity::Bad,
            format!(
                "{failing_jobs} failing {}",
                if failing_jobs == 1 { "job" } else { "jobs" }
            ),
            &mut problems,
        );
    }
    let schedules = spec.map(|t| t.schedules.len()).unwrap_or(0);
    if spec.is_some() && schedules == 0 {
        bump(Severity::Warn, "no backup schedule".into(), &mut problems);
    }
    if let Some(t) = spec {
        for r in schedule_rows(t, live, now) {
            if r.overdue && r.failures.is_empty() {
                bump(
                    Severity::Warn,
                    format!("backup `{}` overdue", r.name),
                    &mut problems,
                );
            }
        }
    }
    for (s, _) in &problems {
        severity = severity.max(*s);
    }
    let problems = problems.into_iter().map(|(_, p)| p).collect();
    TenantRow {
        name: name.to_string(),
        display_name: spec.map(|t| t.display_name.clone()).unwrap_or_default(),
        cluster,
        tier: spec.map(|t| t.tier.clone()).unwrap_or_default(),
        replicas,
        desired: spec.map(|t| t.database.replicas.value),
        applied: st.and_then(|s| Some((s.applied_revision.clone()?, s.applied_at.clone()?))),
        drifted,
        last_backup_age: live.and_then(|l| l.last_backup()).map(|(_, at)| now - at),
        schedules,
        failing_jobs,
        problems,
        severity,
    }
}

/// Unreachable clusters: (name, why).
fn unreachable(status: &Status) -> BTreeMap<&str, &str> {
    status
        .clusters
        .iter()
        .filter(|(_, c)| c.reachable == Some(false))
        .map(|(n, c)| (n.as_str(), c.error.as_deref().unwrap_or("unreachable")))
        .collect()
}

/// The overview's rows: filtered, problems first (worst first), then by name.
pub fn overview_rows(
    status: &Status,
    snap: &Snapshot,
    now: i64,
    filter: &Filter,
) -> Vec<TenantRow> {
    let down = unreachable(status);
    let mut rows: Vec<TenantRow> = tenant_names(status, snap)
        .into_iter()
        .map(|n| tenant_row(n, status, snap, &down, now))
        .filter(|r| filter.keeps(r))
        .collect();
    rows.sort_by(|a, b| {
        let bad = |r: &TenantRow| r.severity >= Severity::Warn;
        bad(b)
            .cmp(&bad(a))
            .then(b.severity.cmp(&a.severity))
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

fn pill(out: &mut String, sev: Severity, text: &str) {
    let _ = write!(
        out,
        "<span class=\"pill {}\">{}</span>",
        sev.class(),
        escape(text)
    );
}

fn health_text(r: &TenantRow) -> (Severity, String) {
    match (r.replicas, r.desired) {
        (
            Some(Replicas {
                ready: Some(ready),
                desired,
            }),
            _,
        ) => {
            let s = if ready >= desired {
                Severity::Ok
            } else if ready == 0 {
                Severity::Bad
            } else {
                Severity::Warn
            };
            (s, format!("{ready}/{desired} ready"))
        }
        (
            Some(Replicas {
                ready: None,
                desired,
            }),
            _,
        ) => (Severity::Unknown, format!("?/{desired} ready")),
        (None, Some(0)) => (Severity::Unknown, "paused".into()),
        // Not observed yet (the sync that created it observed before applying).
        (None, Some(d)) => (Severity::Unknown, format!("?/{d} ready")),
        (None, None) => (Severity::Unknown, "unknown".into()),
    }
}

fn when(unix: i64) -> String {
    let s = format_rfc3339(unix);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

fn when_text(rfc3339: &str, now: i64) -> String {
    match parse_rfc3339(rfc3339) {
        Ok(t) => format!("{} ago", age(now - t)),
        Err(_) => rfc3339.to_string(),
    }
}

fn footer(status: &Status, now: i64) -> String {
    let mut s = format!("source {}", status.source);
    if let Some(r) = &status.good_revision {
        let _ = write!(s, " · revision {}", short_rev(r));
    }
    if let Some(l) = &status.last_sync {
        let _ = write!(
            s,
            " · last sync {} ({})",
            when_text(&l.started_at, now),
            l.result.as_str()
        );
    }
    s
}

/// The overview page.
pub fn overview_page(status: &Status, snap: &Snapshot, now: i64, filter: &Filter) -> String {
    let all = overview_rows(status, snap, now, &Filter::default());
    let rows: Vec<&TenantRow> = all.iter().filter(|r| filter.keeps(r)).collect();
    let mut b = String::with_capacity(256 * rows.len() + 4096);
    b.push_str("<h1>Overview</h1>\n<div class=\"cards\">");
    let with_problems = all.iter().filter(|r| r.severity >= Severity::Warn).count();
    let drifted: usize = all.iter().map(|r| r.drifted).sum();
    let failing: usize = all.iter().map(|r| r.failing_jobs).sum();
    for (n, l, sev) in [
        (all.len().to_string(), "tenants", Severity::Ok),
        (
            with_problems.to_string(),
            "need attention",
            if with_problems > 0 {
                Severity::Warn
            } else {
                Severity::Ok
            },
        ),
        (
            drifted.to_string(),
            "drifted objects",
            if drifted > 0 {
                Severity::Warn
            } else {
                Severity::Ok
            },
        ),
        (
            failing.to_string(),
            "failing jobs",
            if failing > 0 {
                Severity::Bad
            } else {
                Severity::Ok
            },
        ),
    ] {
        let _ = write!(
            b,
            "<div class=\"card\"><div class=\"n {}\">{}</div><div class=\"l\">{}</div></div>",
            sev.class(),
            escape(&n),
            escape(l)
        );
    }
    if let Some(l) = &status.last_sync {
        let sev = if l.result.is_success() {
            Severity::Ok
        } else if l.result.as_str() == "planned" {
            Severity::Warn
        } else {
            Severity::Bad
        };
        let _ = write!(
            b,
            "<div class=\"card\"><div class=\"n {}\">{}</div><div class=\"l\">last sync, {} · {}</div></div>",
            sev.class(),
            escape(l.result.as_str()),
            escape(&when_text(&l.started_at, now)),
            escape(l.revision.as_deref().map(short_rev).unwrap_or("-"))
        );
    }
    b.push_str("</div>\n");

    b.push_str("<h2>Clusters</h2>\n<div class=\"scroll\"><table><thead><tr><th>cluster</th><th>state</th><th class=\"num\">tenants</th><th>detail</th></tr></thead><tbody>");
    for (name, c) in &status.clusters {
        let (sev, text) = match c.reachable {
            Some(true) => (Severity::Ok, "reachable"),
            Some(false) => (Severity::Bad, "unreachable"),
            None => (Severity::Unknown, "not contacted"),
        };
        let _ = write!(b, "<tr><td>{}</td><td>", escape(name));
        pill(&mut b, sev, text);
        let _ = write!(
            b,
            "</td><td class=\"num\">{}</td><td>{}</td></tr>",
            c.tenants,
            escape(c.error.as_deref().unwrap_or(if c.reachable.is_none() {
                "no tenants placed on it"
            } else {
                ""
            }))
        );
    }
    if status.clusters.is_empty() {
        b.push_str("<tr><td colspan=\"4\">No sync has run yet.</td></tr>");
    }
    b.push_str("</tbody></table></div>\n");

    b.push_str("<h2>Tenants</h2>\n<form class=\"filter\" method=\"get\" action=\"/\"><div><label for=\"q\">search</label><input id=\"q\" name=\"q\" type=\"search\" value=\"");
    b.push_str(&escape(&filter.q));
    b.push_str("\" placeholder=\"name, tier, problem\"></div><div><label for=\"cluster\">cluster</label><select id=\"cluster\" name=\"cluster\"><option value=\"\">all</option>");
    for name in status.clusters.keys() {
        let sel = if *name == filter.cluster {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            b,
            "<option value=\"{n}\"{sel}>{n}</option>",
            n = escape(name)
        );
    }
    let checked = if filter.problems_only { " checked" } else { "" };
    let _ = writeln!(
        b,
        "</select></div><div><label><input type=\"checkbox\" name=\"problems\" value=\"1\"{checked}> problems only</label></div><div><button type=\"submit\">Filter</button></div></form>"
    );
    let _ = write!(
        b,
        "<p class=\"meta\">{} of {}, problems first.</p>",
        rows.len(),
        count(all.len(), "tenant")
    );
    b.push_str("<div class=\"scroll\"><table class=\"tenants\"><thead><tr><th>tenant</th><th>health</th><th class=\"opt\">cluster</th><th class=\"opt\">applied</th><th class=\"num\">drift</th><th class=\"opt\">last backup</th><th class=\"num opt\">failing jobs</th><th>problems</th></tr></thead><tbody>\n");
    for r in &rows {
        let (hs, ht) = health_text(r);
        let _ = write!(
            b,
            "<tr data-tenant=\"{n}\"><td><a href=\"/tenants/{u}\">{n}</a>",
            n = escape(&r.name),
            u = url_encode(&r.name)
        );
        if !r.display_name.is_empty() && r.display_name != r.name {
            let _ = write!(b, "<div class=\"meta\">{}</div>", escape(&r.display_name));
        }
        b.push_str("</td><td>");
        pill(&mut b, hs, &ht);
        let _ = write!(
            b,
            "</td><td class=\"opt\">{}</td><td class=\"opt\">",
            escape(&r.cluster)
        );
        match &r.applied {
            Some((rev, at)) => {
                let _ = write!(
                    b,
                    "<code>{}</code> <span class=\"meta\">{}</span>",
                    escape(short_rev(rev)),
                    escape(&when_text(at, now))
                );
            }
            None => b.push_str("<span class=\"meta\">never</span>"),
        }
        let _ = write!(
            b,
            "</td><td class=\"num {}\">{}</td><td class=\"opt\">",
            if r.drifted > 0 { "warn" } else { "" },
            r.drifted
        );
        match r.last_backup_age {
            Some(a) => {
                let _ = write!(b, "{} ago", escape(&age(a)));
            }
            None if r.schedules == 0 => b.push_str("<span class=\"warn\">no schedule</span>"),
            None => b.push_str("<span class=\"meta\">none yet</span>"),
        }
        let _ = write!(
            b,
            "</td><td class=\"num opt {}\">{}</td><td>",
            if r.failing_jobs > 0 { "bad" } else { "" },
            r.failing_jobs
        );
        if r.problems.is_empty() {
            pill(
                &mut b,
                r.severity,
                if r.severity == Severity::Ok {
                    "ok"
                } else {
                    "unknown"
                },
            );
        } else {
            let _ = write!(b, "<ul class=\"problems {}\">", r.severity.class());
            for p in &r.problems {
                let _ = write!(b, "<li>{}</li>", escape(p));
            }
            b.push_str("</ul>");
        }
        b.push_str("</td></tr>\n");
    }
    if rows.is_empty() {
        b.push_str("<tr><td colspan=\"8\">No tenant matches.</td></tr>");
    }
    b.push_str("</tbody></table></div>\n");
    layout("Overview", Nav::Overview, &b, &footer(status, now))
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Tenant => "tenant file",
        Origin::Tier => "tier",
        Origin::Platform => "platform",
        Origin::Builtin => "built-in",
    }
}

fn schedules_table(b: &mut String, rows: &[ScheduleRow], now: i64, with_tenant: bool) {
    b.push_str("<div class=\"scroll\"><table><thead><tr>");
    if with_tenant {
        b.push_str("<th>tenant</th>");
    }
    b.push_str("<th>schedule</th><th>state</th><th class=\"opt\">cron</th><th class=\"opt\">location</th><th>last success</th><th>next run</th><th>failures</th></tr></thead><tbody>\n");
    for r in rows {
        b.push_str("<tr>");
        if with_tenant {
            let _ = write!(
                b,
                "<td><a href=\"/tenants/{}\">{}</a></td>",
                url_encode(&r.tenant),
                escape(&r.tenant)
            );
        }
        let _ = write!(b, "<td>{}</td><td>", escape(&r.name));
        let (sev, text) = r.state();
        pill(b, sev, text);
        let _ = write!(
            b,
            "</td><td class=\"opt\"><code>{}</code></td><td class=\"opt\">{}</td><td>",
            escape(&r.cron),
            escape(&r.location)
        );
        match r.last_success {
            Some(t) => {
                let _ = write!(
                    b,
                    "{} <span class=\"meta\">({} ago)</span>",
                    escape(&when(t)),
                    escape(&age(now - t))
                );
            }
            None => b.push_str("<span class=\"meta\">none</span>"),
        }
        b.push_str("</td><td>");
        match (r.paused, r.next_run) {
            (true, _) => b.push_str("<span class=\"meta\">paused</span>"),
            (false, Some(t)) => {
                let _ = write!(
                    b,
                    "{} <span class=\"meta\">(in {})</span>",
                    escape(&when(t)),
                    escape(&age(t - now))
                );
            }
            (false, None) => b.push_str("<span class=\"meta\">never</span>"),
        }
        b.push_str("</td><td>");
        if r.failures.is_empty() {
            b.push_str("<span class=\"meta\">none</span>");
        } else {
            for f in &r.failures {
                let _ = write!(b, "<div class=\"bad\">Job {}</div>", escape(f));
            }
        }
        b.push_str("</td></tr>\n");
    }
    b.push_str("</tbody></table></div>\n");
}

fn usage_table(b: &mut String, live: &TenantLive) {
    b.push_str("<div class=\"scroll\"><table><thead><tr><th>resource</th><th>used</th><th>quota</th><th>use</th></tr></thead><tbody>");
    for q in &live.quota {
        let used = q
            .used
            .as_deref()
            .and_then(|u| crate::values::parse_quantity(u).ok())
            .map(|u| u.to_f64());
        let hard = crate::values::parse_quantity(&q.hard)
            .ok()
            .map(|h| h.to_f64());
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>",
            escape(&q.resource),
            escape(q.used.as_deref().unwrap_or("unknown")),
            escape(&q.hard)
        );
        if let (Some(u), Some(h)) = (used, hard) {
            meter(b, u, h);
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</tbody></table></div>\n");
}

/// Cores, for people: `1.26`, `0.045`.
fn cores(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Bytes, for people: `512 MiB`, `1.5 GiB`.
pub fn bytes(v: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut x = v.max(0.0);
    let mut i = 0;
    while x >= 1024.0 && i + 1 < units.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 || x >= 100.0 {
        format!("{x:.0} {}", units[i])
    } else {
        format!("{x:.1} {}", units[i])
    }
}

fn meter(b: &mut String, used: f64, hard: f64) {
    if hard > 0.0 {
        let _ = write!(
            b,
            "<meter min=\"0\" max=\"{hard}\" low=\"{}\" high=\"{}\" optimum=\"0\" value=\"{used}\"></meter> {:.0}%",
            hard * 0.7,
            hard * 0.9,
            100.0 * used / hard
        );
    }
}

/// What the tenant's pods use now (metrics API) against the quota's requests, or why it is
/// not known.
fn pods_in_use(b: &mut String, snap: &Snapshot, tenant: &str, cluster: &str, now: i64) {
    b.push_str("<h3>In use now (metrics API)</h3>");
    let hard = |res: &str| {
        snap.live.get(tenant).and_then(|l| {
            let q = l.quota.iter().find(|q| q.resource == res)?;
            Some((
                q.hard.clone(),
                crate::values::parse_quantity(&q.hard).ok()?.to_f64(),
            ))
        })
    };
    match (snap.pod_usage.get(tenant), snap.metrics_api.get(cluster)) {
        (Some(u), _) => {
            b.push_str("<div class=\"scroll\"><table class=\"pods-in-use\"><thead><tr><th>resource</th><th>in use</th><th>quota (requests)</th><th>use</th></tr></thead><tbody>");
            for (res, quota, used, text) in [
                (
                    "cpu",
                    "requests.cpu",
                    u.cpu,
                    format!("{} cores", cores(u.cpu)),
                ),
                ("memory", "requests.memory", u.memory, bytes(u.memory)),
            ] {
                let h = hard(quota);
                let _ = write!(
                    b,
                    "<tr><td>{res}</td><td>{}</td><td>{}</td><td>",
                    escape(&text),
                    escape(h.as_ref().map(|h| h.0.as_str()).unwrap_or("none"))
                );
                if let Some((_, h)) = h {
                    meter(b, used, h);
                }
                b.push_str("</td></tr>");
            }
            b.push_str("</tbody></table></div>");
            let _ = write!(
                b,
                "<p class=\"meta\">{} {} measured{}{}. The quota counts what pods request; this is what they use.</p>",
                u.pods,
                if u.pods == 1 { "pod" } else { "pods" },
                u.at.map(|t| format!(" {} ago", age(now - t))).unwrap_or_default(),
                u.window
                    .as_deref()
                    .map(|w| format!(" over a {w} window"))
                    .unwrap_or_default()
            );
        }
        (None, Some(super::MetricsApi::NotServed))
            if snap
                .config
                .as_ref()
                .and_then(|c| c.clusters.get(cluster))
                .is_some_and(|c| c.target == crate::spec::model::ClusterTarget::Embedded) =>
        {
            b.push_str("<p class=\"meta\">The embedded cluster runs no pods: there is no usage to measure.</p>");
        }
        (None, Some(super::MetricsApi::NotServed)) => {
            let _ = write!(
                b,
                "<p class=\"meta\">Cluster <code>{}</code> does not serve the metrics API (<code>metrics.k8s.io</code>); install metrics-server there to see the CPU and memory the pods use.</p>",
                escape(cluster)
            );
        }
        (None, Some(super::MetricsApi::Failed(e))) => {
            let _ = write!(
                b,
                "<div class=\"notice\">The metrics API of cluster <code>{}</code> could not be read: {}</div>",
                escape(cluster),
                escape(e)
            );
        }
        _ => b.push_str("<p class=\"meta\">Not read: no cycle has observed the cluster yet, or it could not be reached.</p>"),
    }
}

/// The chart of a tenant's use against quota over its samples, in percent.
fn usage_chart(b: &mut String, samples: &std::collections::VecDeque<super::UsageSample>) {
    let mut series = Vec::new();
    let quota = [
        ("requests.cpu", "#0b5cad"),
        ("requests.memory", "#1a7f37"),
        ("requests.storage", "#9a6700"),
    ];
    for (res, color) in quota {
        let points: Vec<Point> = samples
            .iter()
            .filter_map(|s| {
                let (u, h) = s.quota(res)?;
                Some(Point {
                    label: when(s.at),
                    value: if h > 0.0 { 100.0 * u / h } else { 0.0 },
                })
            })
            .collect();
        if !points.is_empty() {
            series.push(Series {
                name: res.to_string(),
                color,
                points,
            });
        }
    }
    // Pod usage (metrics API) against the same quotas.
    for (i, name, color, quota) in [
        (0, "cpu in use", "#6cb6ff", "requests.cpu"),
        (1, "memory in use", "#4ac26b", "requests.memory"),
    ] {
        let points: Vec<Point> = samples
            .iter()
            .filter_map(|s| {
                let (cpu, mem) = s.pods?;
                let h = s.hard(quota).filter(|h| *h > 0.0)?;
                Some(Point {
                    label: when(s.at),
                    value: 100.0 * if i == 0 { cpu } else { mem } / h,
                })
            })
            .collect();
        if !points.is_empty() {
            series.push(Series {
                name: name.to_string(),
                color,
                points,
            });
        }
    }
    if series.is_empty() {
        return;
    }
    let first = samples.front().map(|s| when(s.at)).unwrap_or_default();
    let last = samples.back().map(|s| when(s.at)).unwrap_or_default();
    let _ = write!(
        b,
        "<div class=\"chart\"><h3>Use against quota over time</h3>{}<p class=\"meta\">One sample every {} minutes at most, the last {}; kept across restarts.</p></div>",
        chart(&series, false, "%", &first, &last),
        super::USAGE_SPACING / 60,
        age(super::USAGE_SPACING * super::USAGE_SAMPLES as i64)
    );
}

/// Whether the daemon knows tenant `name` (it has a page).
pub fn knows_tenant(name: &str, status: &Status, snap: &Snapshot) -> bool {
    find_tenant(snap, name).is_some() || status.tenants.contains_key(name)
}

/// A tenant's page; `None` when the daemon knows no such tenant.
pub fn tenant_page(name: &str, status: &Status, snap: &Snapshot, now: i64) -> Option<String> {
    if !knows_tenant(name, status, snap) {
        return None;
    }
    let spec = find_tenant(snap, name);
    let st: Option<&TenantStatus> = status.tenants.get(name);
    let live = snap.live.get(name);
    let row = tenant_row(name, status, snap, &unreachable(status), now);
    let mut b = String::new();
    let _ = write!(b, "<h1>Tenant {}</h1>", escape(name));
    if !row.display_name.is_empty() && row.display_name != name {
        let _ = write!(b, "<p class=\"meta\">{}</p>", escape(&row.display_name));
    }
    b.push_str("<div class=\"cards\">");
    let (hs, ht) = health_text(&row);
    let _ = write!(
        b,
        "<div class=\"card\"><div class=\"n {}\">{}</div><div class=\"l\">database</div></div>",
        hs.class(),
        escape(&ht)
    );
    let _ = write!(
        b,
        "<div class=\"card\"><div class=\"n {}\">{}</div><div class=\"l\">drifted objects</div></div>",
        if row.drifted > 0 { "warn" } else { "ok" },
        row.drifted
    );
    let _ = write!(
        b,
        "<div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">last backup</div></div>",
        escape(
            &row.last_backup_age
                .map(|a| format!("{} ago", age(a)))
                .unwrap_or_else(|| "none".into())
        )
    );
    let _ = write!(
        b,
        "<div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">last result</div></div></div>",
        escape(st.map(|s| s.last_result.as_str()).unwrap_or("unknown"))
    );
    if !row.problems.is_empty() {
        let _ = write!(
            b,
            "<div class=\"notice {}\"><strong>Needs attention</strong><ul class=\"problems\">",
            if row.severity == Severity::Bad {
                "bad"
            } else {
                ""
            }
        );
        for p in &row.problems {
            let _ = write!(b, "<li>{}</li>", escape(p));
        }
        b.push_str("</ul></div>");
    }
    if let Some(s) = st {
        if !s.errors.is_empty() {
            b.push_str("<h2>Errors of the last sync</h2><pre>");
            for e in &s.errors {
                let _ = writeln!(b, "{}", escape(e));
            }
            b.push_str("</pre>");
        }
    }

    if let Some(t) = spec {
        b.push_str("<h2>Settings</h2><div class=\"card\"><dl class=\"kv\">");
        let mut kv = |k: &str, v: String| {
            let _ = write!(b, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
        };
        kv("cluster", t.cluster.clone());
        kv("namespace", t.namespace.clone());
        kv("tier", t.tier.clone());
        kv("spec file", t.source_file.clone());
        kv(
            "backups file",
            t.backup_file.clone().unwrap_or_else(|| "none".into()),
        );
        kv(
            "deletion protection",
            if t.deletion_protection { "on" } else { "off" }.into(),
        );
        let q = &t.quota;
        kv(
            "quota cpu",
            format!("{} ({})", q.cpu.value.as_str(), origin(q.cpu.origin)),
        );
        kv(
            "quota memory",
            format!("{} ({})", q.memory.value.as_str(), origin(q.memory.origin)),
        );
        kv(
            "quota storage",
            format!(
                "{} ({})",
                q.storage.value.as_str(),
                origin(q.storage.origin)
            ),
        );
        kv(
            "quota pods",
            format!("{} ({})", q.pods.value, origin(q.pods.origin)),
        );
        let d = &t.database;
        kv(
            "database",
            format!(
                "{} {} ({})",
                d.engine,
                d.version.value,
                origin(d.version.origin)
            ),
        );
        kv(
            "replicas",
            format!(
                "{} ({}){}",
                d.replicas.value,
                origin(d.replicas.origin),
                if d.paused { ", paused" } else { "" }
            ),
        );
        kv(
            "storage per node",
            format!(
                "{} ({})",
                d.storage.value.as_str(),
                origin(d.storage.origin)
            ),
        );
        kv(
            "cpu / memory per node",
            format!("{} / {}", d.cpu.value.as_str(), d.memory.value.as_str()),
        );
        kv("databases", d.databases.join(", "));
        kv(
            "allowed from",
            if t.allow_from.is_empty() {
                "its own namespace".into()
            } else {
                t.allow_from.join(", ")
            },
        );
        b.push_str("</dl></div>");

        b.push_str("<h2>Members</h2><div class=\"scroll\"><table><thead><tr><th>name</th><th>kind</th><th>role</th><th class=\"opt\">ClusterRole</th></tr></thead><tbody>");
        for m in &t.members {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{:?}</td><td>{:?}</td><td class=\"opt\">{}</td></tr>",
                escape(&m.name),
                m.kind,
                m.role,
                escape(m.cluster_role)
            );
        }
        if t.members.is_empty() {
            b.push_str("<tr><td colspan=\"4\">No members.</td></tr>");
        }
        b.push_str("</tbody></table></div>");
    }

    b.push_str("<h2>Quota use</h2>");
    match live {
        Some(l) if !l.quota.is_empty() => usage_table(&mut b, l),
        _ => b.push_str("<p class=\"meta\">No quota use reported yet (the cluster's quota controller writes it into the ResourceQuota's status).</p>"),
    }
    let cluster = spec
        .map(|t| t.cluster.as_str())
        .unwrap_or(row.cluster.as_str());
    pods_in_use(&mut b, snap, name, cluster, now);
    if let Some(samples) = snap.usage.get(name).filter(|s| s.len() > 1) {
        usage_chart(&mut b, samples);
    }

    if let Some(t) = spec {
        b.push_str("<h2>Backups</h2>");
        let rows = schedule_rows(t, live, now);
        if rows.is_empty() {
            b.push_str("<p class=\"notice\">This tenant has no backup schedule.</p>");
        } else {
            schedules_table(&mut b, &rows, now, false);
        }
        if !t.restores.is_empty() {
            b.push_str("<h3>Restores</h3><div class=\"scroll\"><table><thead><tr><th>restore</th><th>from</th><th>state</th></tr></thead><tbody>");
            for r in &t.restores {
                let job = live.and_then(|l| {
                    l.jobs
                        .iter()
                        .find(|j| j.restore.as_deref() == Some(r.name.as_str()))
                });
                let (sev, text) = match job.map(|j| j.state) {
                    Some(JobState::Succeeded) => (Severity::Ok, "done"),
                    Some(JobState::Failed) => (Severity::Bad, "failed"),
                    Some(JobState::Running) => (Severity::Warn, "running"),
                    None => (Severity::Unknown, "not started"),
                };
                let from = r
                    .from_schedule
                    .clone()
                    .or_else(|| r.from_path.clone())
                    .unwrap_or_default();
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}{}</td><td>",
                    escape(&r.name),
                    escape(&from),
                    escape(
                        &r.point_in_time
                            .as_ref()
                            .map(|p| format!(" at {p}"))
                            .unwrap_or_default()
                    )
                );
                pill(&mut b, sev, text);
                b.push_str("</td></tr>");
            }
            b.push_str("</tbody></table></div>");
        }
    }

    b.push_str("<h2>Pending changes</h2>");
    let pending = snap
        .pending
        .as_ref()
        .filter(|p| p.changes.iter().any(|c| c.tenant == name));
    match pending {
        Some(p) => {
            b.push_str(
                "<p>Git is ahead of the cluster: these changes are planned and not applied.</p>",
            );
            b.push_str(&to_html(
                p,
                HtmlOptions {
                    tenant: Some(name),
                    no_title: false,
                    no_links: false,
                },
            ));
        }
        None => b.push_str("<p class=\"meta\">None: the cluster has what Git has.</p>"),
    }
    if let Some(p) = snap
        .plan
        .as_ref()
        .filter(|p| p.drift.iter().any(|d| d.tenant == name))
    {
        b.push_str("<h2>Drift</h2>");
        let mut only_drift = (**p).clone();
        only_drift.changes.clear();
        b.push_str(&to_html(
            &only_drift,
            HtmlOptions {
                tenant: Some(name),
                no_title: true,
                no_links: false,
            },
        ));
    }

    b.push_str("<h2>Sync history</h2>");
    match status.tenant_history.get(name) {
        Some(h) if !h.is_empty() => {
            b.push_str("<div class=\"scroll\"><table class=\"history\"><thead><tr><th>when</th><th>revision</th><th>author</th><th>message</th><th class=\"opt\">trigger</th><th>result</th><th class=\"num\">applied</th><th class=\"num\">pending</th><th class=\"num\">drift</th><th class=\"opt\">errors</th></tr></thead><tbody>");
            for e in h.iter().rev() {
                let sev = match e.result.as_str() {
                    "applied" => Severity::Ok,
                    "failed" => Severity::Bad,
                    _ => Severity::Warn,
                };
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td><code>{}</code></td>",
                    escape(&e.at.replace('T', " ").replace('Z', " UTC")),
                    escape(e.revision.as_deref().map(short_rev).unwrap_or("-")),
                );
                commit_cells(
                    &mut b,
                    e.revision.as_deref(),
                    e.author.as_deref(),
                    e.message.as_deref(),
                );
                let _ = write!(b, "<td class=\"opt\">{}</td><td>", escape(&e.trigger));
                pill(&mut b, sev, &e.result);
                let _ = write!(
                    b,
                    "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"opt\">{}</td></tr>",
                    e.applied,
                    e.pending,
                    e.drifted,
                    escape(&e.errors.join("; "))
                );
            }
            b.push_str("</tbody></table></div>");
        }
        _ => b.push_str(
            "<p class=\"meta\">No sync has changed this tenant since the history began.</p>",
        ),
    }
    if let Some(st) = st {
        if let (Some(rev), Some(at)) = (&st.applied_revision, &st.applied_at) {
            let _ = write!(
                b,
                "<p class=\"meta\">Revision {} applied {}.</p>",
                escape(short_rev(rev)),
                escape(&when_text(at, now))
            );
        }
    }
    b.push_str("<h2>Propose a change</h2><p>");
    let forms = super::propose::Kind::ALL
        .into_iter()
        .filter(|k| k.per_tenant());
    for (i, k) in forms.enumerate() {
        let _ = write!(
            b,
            "{}<a href=\"/propose/{}?tenant={}\">{}</a>",
            if i == 0 { "" } else { " · " },
            k.slug(),
            url_encode(name),
            escape(k.short())
        );
    }
    b.push_str("</p>");
    Some(layout(
        &format!("Tenant {name}"),
        Nav::Tenant,
        &b,
        &footer(status, now),
    ))
}

/// The author and message cells of a history row. A directory source's revisions are
/// hashes of its files (`sha256:...`): they have no commit, and the cells say so.
fn commit_cells(
    b: &mut String,
    revision: Option<&str>,
    author: Option<&str>,
    message: Option<&str>,
) {
    match (author, message) {
        (Some(a), m) => {
            // The name shows; the address is in the tooltip.
            let (name, email) = match a.rsplit_once(" <") {
                Some((n, e)) => (n, e.trim_end_matches('>')),
                None => (a, ""),
            };
            let _ = write!(
                b,
                "<td class=\"author\" title=\"{}\">{}</td><td class=\"message\">{}</td>",
                escape(email),
                escape(name),
                escape(m.unwrap_or(""))
            );
        }
        (None, _) if revision.is_some_and(|r| r.starts_with("sha256:")) => {
            b.push_str("<td colspan=\"2\" class=\"meta\">no commit: the source is a directory</td>")
        }
        (None, _) => b.push_str("<td class=\"meta\">unknown</td><td></td>"),
    }
}

/// The plan and drift page.
pub fn plan_page(status: &Status, snap: &Snapshot, now: i64) -> String {
    let mut b = String::from("<h1>Plan and drift</h1>");
    match (&snap.plan, &snap.planned_at) {
        (Some(plan), Some((at, trigger))) => {
            let _ = write!(
                b,
                "<p class=\"meta\">Planned {} ago ({}), {}{}. <a href=\"/plan.md\">Markdown</a> as posted on pull requests.</p>",
                escape(&age(now - at)),
                escape(trigger),
                count(plan.drift.len(), "drifted object"),
                status
                    .drift_checked_at
                    .as_deref()
                    .map(|d| format!("; last drift check {}", when_text(d, now)))
                    .unwrap_or_default()
            );
            let pending = snap.pending.as_ref().filter(|p| !p.changes.is_empty());
            b.push_str("<h2>Pending: Git is ahead of the clusters</h2>");
            match pending {
                Some(p) => b.push_str(&to_html(p, HtmlOptions::default())),
                None => b.push_str(
                    "<p>Nothing pending: the clusters have what the last good revision says.</p>",
                ),
            }
            b.push_str("<h2>Latest plan</h2>");
            b.push_str(&to_html(plan, HtmlOptions::default()));
        }
        _ => b.push_str(
            "<p>No plan yet: the first sync is running, or the configuration is invalid.</p>",
        ),
    }
    if let Some(l) = &status.last_sync {
        if !l.errors.is_empty() {
            b.push_str("<h2>Errors of the last sync</h2><pre>");
            for e in &l.errors {
                let _ = writeln!(b, "{}", escape(e));
            }
            b.push_str("</pre>");
        }
    }
    layout("Plan and drift", Nav::Plan, &b, &footer(status, now))
}

/// The backups page.
pub fn backups_page(status: &Status, snap: &Snapshot, now: i64) -> String {
    let mut b = String::from("<h1>Backups</h1>");
    let Some(config) = &snap.config else {
        b.push_str("<p>No configuration loaded yet.</p>");
        return layout("Backups", Nav::Backups, &b, &footer(status, now));
    };
    let mut rows = Vec::new();
    let mut without = Vec::new();
    for t in &config.tenants {
        if t.schedules.is_empty() {
            without.push(t.name.as_str());
        }
        rows.extend(schedule_rows(t, snap.live.get(&t.name), now));
    }
    rows.sort_by(|a, b| {
        b.state()
            .0
            .cmp(&a.state().0)
            .then_with(|| a.tenant.cmp(&b.tenant))
            .then_with(|| a.name.cmp(&b.name))
    });
    let failing = rows.iter().filter(|r| !r.failures.is_empty()).count();
    let overdue = rows.iter().filter(|r| r.overdue).count();
    let _ = write!(
        b,
        "<div class=\"cards\"><div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">schedules</div></div><div class=\"card\"><div class=\"n {}\">{failing}</div><div class=\"l\">failing</div></div><div class=\"card\"><div class=\"n {}\">{overdue}</div><div class=\"l\">overdue</div></div><div class=\"card\"><div class=\"n {}\">{}</div><div class=\"l\">tenants without a schedule</div></div></div>",
        rows.len(),
        if failing > 0 { "bad" } else { "ok" },
        if overdue > 0 { "warn" } else { "ok" },
        if without.is_empty() { "ok" } else { "warn" },
        without.len()
    );
    if !without.is_empty() {
        b.push_str("<div class=\"notice\"><strong>Tenants without any backup schedule:</strong> ");
        let links: Vec<String> = without
            .iter()
            .map(|t| {
                format!(
                    "<a href=\"/tenants/{}\">{}</a> (<a href=\"/propose/schedule?tenant={}\">add one</a>)",
                    url_encode(t),
                    escape(t),
                    url_encode(t)
                )
            })
            .collect();
        b.push_str(&links.join(", "));
        b.push_str("</div>");
    }
    b.push_str("<p class=\"meta\">Next runs are computed from the cron expression, in the schedule's time zone when it has one (UTC otherwise); times are shown in UTC.</p>");
    schedules_table(&mut b, &rows, now, true);
    layout("Backups", Nav::Backups, &b, &footer(status, now))
}

/// The fullest tenants first: the largest share of any quota used (requests and, where the
/// metrics API is read, what the pods use against the requests quota), from the newest sample.
pub fn fullest_tenants(snap: &Snapshot) -> Vec<(&str, f64)> {
    let mut out: Vec<(&str, f64)> = snap
        .usage
        .iter()
        .filter_map(|(t, samples)| {
            let s = samples.back()?;
            let mut worst = s
                .values
                .iter()
                .filter(|(_, _, h)| *h > 0.0)
                .filter_map(|(_, u, h)| Some((*u)? / h))
                .fold(0.0, f64::max);
            if let Some((cpu, mem)) = s.pods {
                for (used, res) in [(cpu, "requests.cpu"), (mem, "requests.memory")] {
                    if let Some(h) = s.hard(res).filter(|h| *h > 0.0) {
                        worst = worst.max(used / h);
                    }
                }
            }
            Some((t.as_str(), worst))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    out
}

/// The table of every tenant's quota use and pod usage, fullest first (the first 100).
fn quota_table(b: &mut String, snap: &Snapshot) {
    b.push_str("<h2>Quota use by tenant</h2>");
    let worst: BTreeMap<&str, f64> = fullest_tenants(snap).into_iter().collect();
    let mut usage: Vec<(&str, f64, &TenantLive)> = snap
        .live
        .iter()
        .filter(|(t, l)| {
            l.quota.iter().any(|q| q.used.is_some()) || snap.pod_usage.contains_key(*t)
        })
        .map(|(t, l)| (t.as_str(), worst.get(t.as_str()).copied().unwrap_or(0.0), l))
        .collect();
    usage.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    if usage.is_empty() {
        b.push_str("<p class=\"meta\">No quota use reported yet (the cluster's quota controller writes it into each ResourceQuota's status; the embedded cluster has none), and no cluster serves the metrics API.</p>");
        return;
    }
    let _ = write!(
        b,
        "<p class=\"meta\">{}, fullest first{}. Requests count against the quota; <em>in use</em> is what the pods use (metrics API).</p>",
        count(usage.len(), "tenant"),
        if usage.len() > 100 {
            "; the first 100"
        } else {
            ""
        }
    );
    b.push_str("<div class=\"scroll\"><table class=\"quota-use\"><thead><tr><th>tenant</th><th>cpu</th><th>memory</th><th>storage</th><th class=\"opt\">pods</th><th>cpu in use</th><th class=\"opt\">memory in use</th></tr></thead><tbody>");
    let hard_of = |l: &TenantLive, res: &str| {
        l.quota.iter().find(|q| q.resource == res).and_then(|q| {
            Some((
                q.hard.clone(),
                crate::values::parse_quantity(&q.hard).ok()?.to_f64(),
            ))
        })
    };
    for (t, _, l) in usage.iter().take(100) {
        let _ = write!(
            b,
            "<tr><td><a href=\"/tenants/{}\">{}</a></td>",
            url_encode(t),
            escape(t)
        );
        for (res, opt) in [
            ("requests.cpu", false),
            ("requests.memory", false),
            ("requests.storage", false),
            ("pods", true),
        ] {
            let _ = write!(b, "<td{}>", if opt { " class=\"opt\"" } else { "" });
            if let Some(q) = l.quota.iter().find(|q| q.resource == res) {
                let u = q
                    .used
                    .as_deref()
                    .and_then(|u| crate::values::parse_quantity(u).ok())
                    .map(|u| u.to_f64());
                let h = crate::values::parse_quantity(&q.hard)
                    .ok()
                    .map(|h| h.to_f64());
                if let (Some(u), Some(h)) = (u, h) {
                    short_meter(b, u, h);
                }
                let _ = write!(
                    b,
                    "<span class=\"meta\">{} / {}</span>",
                    escape(q.used.as_deref().unwrap_or("?")),
                    escape(&q.hard)
                );
            }
            b.push_str("</td>");
        }
        let pods = snap.pod_usage.get(*t);
        for (res, quota, opt) in [
            ("cpu", "requests.cpu", false),
            ("memory", "requests.memory", true),
        ] {
            let _ = write!(b, "<td{}>", if opt { " class=\"opt\"" } else { "" });
            match pods {
                Some(u) => {
                    let (used, text) = if res == "cpu" {
                        (u.cpu, cores(u.cpu))
                    } else {
                        (u.memory, bytes(u.memory))
                    };
                    let hard = hard_of(l, quota);
                    if let Some((_, h)) = &hard {
                        short_meter(b, used, *h);
                    }
                    let _ = write!(
                        b,
                        "<span class=\"meta\">{} / {}</span>",
                        escape(&text),
                        escape(hard.as_ref().map(|h| h.0.as_str()).unwrap_or("?"))
                    );
                }
                None => b.push_str("<span class=\"meta\">not measured</span>"),
            }
            b.push_str("</td>");
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table></div>");
}

fn short_meter(b: &mut String, used: f64, hard: f64) {
    if hard > 0.0 {
        let _ = write!(
            b,
            "<meter min=\"0\" max=\"{hard}\" low=\"{}\" high=\"{}\" optimum=\"0\" value=\"{used}\"></meter> ",
            hard * 0.7,
            hard * 0.9
        );
    }
}

/// Where the trends page takes its charts from.
#[derive(Debug, Clone)]
pub enum TrendsSource<'a> {
    /// The history the daemon keeps (the default).
    Local,
    /// A range read from Prometheus.
    Prometheus(&'a PromTrends),
    /// A range was asked for that cannot be had: why (the local history is shown).
    Unavailable(String),
}

/// The charts of the history the daemon keeps: its recent syncs and drift checks.
fn local_charts(b: &mut String, status: &Status) {
    let h: Vec<_> = status.history.iter().collect();
    let label = |r: &crate::daemon::status::SyncRecord| {
        format!(
            "{} {} {}",
            r.started_at.replace('T', " ").replace('Z', ""),
            r.trigger,
            r.revision.as_deref().map(short_rev).unwrap_or("-")
        )
    };
    // The ends of the x axis, to the minute: they must fit side by side under a chart.
    let minute = |r: &crate::daemon::status::SyncRecord| {
        let t = r.started_at.replace('T', " ");
        format!("{} UTC", t.get(..16).unwrap_or(&t))
    };
    let first = h.first().map(|r| minute(r)).unwrap_or_default();
    let last = h.last().map(|r| minute(r)).unwrap_or_default();
    let series = |name: &str,
                  color: &'static str,
                  f: &dyn Fn(&crate::daemon::status::SyncRecord) -> f64| Series {
        name: name.to_string(),
        color,
        points: h
            .iter()
            .map(|r| Point {
                label: label(r),
                value: f(r),
            })
            .collect(),
    };
    let _ = write!(
        b,
        "<p class=\"meta\">{} (the daemon keeps {} across restarts).</p><div class=\"charts\">",
        match h.len() {
            0 => "No sync yet".to_string(),
            1 => "1 sync or drift check that found something so far".to_string(),
            n => format!("The last {n} syncs and drift checks that found something"),
        },
        crate::daemon::status::HISTORY_LEN
    );
    b.push_str("<div class=\"chart\"><h3>Sync duration</h3>");
    b.push_str(&chart(
        &[series("duration", "#0b5cad", &|r| r.duration_seconds)],
        false,
        "s",
        &first,
        &last,
    ));
    b.push_str("</div><div class=\"chart\"><h3>Objects changed per sync</h3>");
    b.push_str(&chart(
        &[
            series("added", "#1a7f37", &|r| r.added as f64),
            series("changed", "#9a6700", &|r| r.changed as f64),
            series("destroyed", "#cf222e", &|r| r.destroyed as f64),
        ],
        true,
        "",
        &first,
        &last,
    ));
    b.push_str("</div><div class=\"chart\"><h3>Drifted objects</h3>");
    b.push_str(&chart(
        &[series("drifted", "#cf222e", &|r| r.drifted as f64)],
        false,
        "",
        &first,
        &last,
    ));
    b.push_str("</div></div>");
}

/// Colours of series by position.
const PALETTE: [&str; 6] = [
    "#0b5cad", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#5b6470",
];

/// The charts read from Prometheus; `false` when none could be read.
fn prometheus_charts(b: &mut String, p: &PromTrends) -> bool {
    let Some(range) = p.range else { return false };
    if p.charts.is_empty() {
        return false;
    }
    let _ = write!(
        b,
        "<p class=\"meta\" data-source=\"prometheus\">From Prometheus at <code>{}</code>: the last {}, one point every {}.</p><div class=\"charts\">",
        escape(&p.url),
        escape(range.label),
        escape(&age(range.step))
    );
    let by = |key: &str, names: &dyn Fn(&PromSeries) -> String| -> Vec<TimeSeries> {
        let mut out: Vec<TimeSeries> = p
            .charts
            .get(key)
            .into_iter()
            .flatten()
            .map(|s| TimeSeries {
                name: names(s),
                color: "",
                points: s.points.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, s) in out.iter_mut().enumerate() {
            s.color = PALETTE[i % PALETTE.len()];
        }
        out
    };
    let plain = |name: &'static str| move |_: &PromSeries| name.to_string();
    let label_of =
        |l: &'static str| move |s: &PromSeries| s.labels.get(l).cloned().unwrap_or_default();
    let step = age(range.step);
    let charts: [(&str, String, Vec<TimeSeries>, bool, &str); 5] = [
        (
            "duration",
            "Sync duration (mean)".into(),
            by("duration", &plain("duration")),
            false,
            "s",
        ),
        (
            "changed",
            format!("Objects changed per {step}"),
            by("changed", &label_of("action")),
            true,
            "",
        ),
        (
            "drift",
            "Drifted objects".into(),
            by("drift", &plain("drifted")),
            false,
            "",
        ),
        (
            "quota",
            "Quota use, fullest tenants".into(),
            by("quota", &label_of("tenant")),
            false,
            "%",
        ),
        (
            "cpu",
            "CPU in use against the requests quota".into(),
            by("cpu", &label_of("tenant")),
            false,
            "%",
        ),
    ];
    for (key, title, mut series, bars, unit) in charts {
        if !p.charts.contains_key(key) || (key == "cpu" && series.is_empty()) {
            continue;
        }
        if key == "drift" {
            for s in &mut series {
                s.color = "#cf222e";
            }
        }
        // Tenants are named even when there is one.
        let per_tenant = matches!(key, "quota" | "cpu");
        let _ = write!(
            b,
            "<div class=\"chart\" data-chart=\"{key}\"><h3>{}</h3>{}</div>",
            escape(&title),
            time_chart(&series, p.start, p.end, range.step, bars, unit, per_tenant)
        );
    }
    b.push_str("</div>");
    true
}

/// The trends page: charts from `source`, then every tenant's quota use.
pub fn trends_page(
    status: &Status,
    snap: &Snapshot,
    now: i64,
    source: &TrendsSource<'_>,
) -> String {
    let mut b = String::from("<h1>Trends</h1>");
    let prometheus = snap
        .config
        .as_ref()
        .and_then(|c| c.dashboard.prometheus_url.as_deref());
    let current = match source {
        TrendsSource::Prometheus(p) => p.range.map(|r| r.name).unwrap_or(""),
        _ => "",
    };
    if prometheus.is_some() {
        b.push_str("<nav class=\"ranges\" aria-label=\"range\">");
        let mut link = |href: &str, label: &str, on: bool| {
            let _ = write!(
                b,
                "<a href=\"{}\"{}>{}</a>",
                escape(href),
                if on {
                    " class=\"on\" aria-current=\"page\""
                } else {
                    ""
                },
                escape(label)
            );
        };
        link("/trends", "kept by the daemon", current.is_empty());
        for r in RANGES {
            link(
                &format!("/trends?range={}", r.name),
                r.label,
                current == r.name,
            );
        }
        b.push_str("</nav>");
    } else {
        b.push_str("<p class=\"meta\">Longer ranges come from Prometheus: name a server that scrapes this daemon's <code>/metrics</code> in platform.toml (<code>[dashboard] prometheus_url</code>).</p>");
    }
    let shown = match source {
        TrendsSource::Local => false,
        TrendsSource::Unavailable(why) => {
            let _ = write!(b, "<div class=\"notice\">{}</div>", escape(why));
            false
        }
        TrendsSource::Prometheus(p) => {
            if !p.errors.is_empty() {
                b.push_str("<div class=\"notice bad\" id=\"prometheus-errors\"><strong>Prometheus:</strong><ul>");
                for e in &p.errors {
                    let _ = write!(b, "<li>{}</li>", escape(e));
                }
                b.push_str("</ul></div>");
            }
            let shown = prometheus_charts(&mut b, p);
            if !shown {
                b.push_str("<p class=\"meta\">Nothing could be read from Prometheus: the history the daemon keeps follows.</p>");
            }
            shown
        }
    };
    if !shown {
        local_charts(&mut b, status);
    }
    quota_table(&mut b, snap);
    layout("Trends", Nav::Trends, &b, &footer(status, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::dashboard::live::{CronLive, JobLive, QuotaLine};
    use crate::daemon::status::{ClusterStatus, TenantEvent};
    use std::sync::Arc;

    const NOW: i64 = 1_795_000_000;

    fn config_of(tenants: usize) -> crate::spec::model::Config {
        let dir = tempfile::tempdir().unwrap();
        crate::synth::generate(dir.path(), tenants).unwrap();
        let tree = crate::source::read_dir(dir.path()).unwrap();
        crate::pipeline::load_and_render(&tree, &[])
            .load
            .config
            .expect("synthetic repositories are valid")
    }

    fn examples() -> crate::spec::model::Config {
        let tree = crate::source::read_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        )
        .unwrap();
        crate::pipeline::load_and_render(&tree, &[])
            .load
            .config
            .unwrap()
    }

    fn ok_status(config: &crate::spec::model::Config) -> Status {
        let mut s = Status::default();
        for c in config.clusters.keys() {
            s.clusters.insert(
                c.clone(),
                ClusterStatus {
                    reachable: Some(true),
                    error: None,
                    tenants: 0,
                },
            );
        }
        for t in &config.tenants {
            s.tenants.insert(
                t.name.clone(),
                TenantStatus {
                    cluster: t.cluster.clone(),
                    applied_revision: Some("sha256:0123456789ab".into()),
                    applied_at: Some(format_rfc3339(NOW - 600)),
                    last_result: "ok".into(),
                    drifted: 0,
                    errors: vec![],
                    removed: None,
                },
            );
        }
        s
    }

    fn healthy(t: &Tenant) -> TenantLive {
        TenantLive {
            namespace_exists: true,
            replicas: Some(Replicas {
                ready: Some(u64::from(t.database.replicas.value)),
                desired: u64::from(t.database.replicas.value),
            }),
            quota: vec![QuotaLine {
                resource: "requests.cpu".into(),
                used: Some("1500m".into()),
                hard: t.quota.cpu.value.as_str().into(),
            }],
            cronjobs: t
                .schedules
                .iter()
                .map(|s| CronLive {
                    schedule: s.name.clone(),
                    name: format!("backup-{}", s.name),
                    last_success: Some(NOW - 1800),
                    last_schedule: Some(NOW - 1800),
                    suspended: false,
                })
                .collect(),
            jobs: vec![],
        }
    }

    fn snapshot(config: crate::spec::model::Config) -> Snapshot {
        let live = config
            .tenants
            .iter()
            .map(|t| (t.name.clone(), healthy(t)))
            .collect();
        Snapshot {
            config: Some(Arc::new(config)),
            live,
            ..Snapshot::default()
        }
    }

    #[test]
    fn problems_come_first_worst_first_and_the_filter_narrows() {
        let config = examples();
        let mut status = ok_status(&config);
        let mut snap = snapshot(config);
        // acme: 3 of 5 database replicas ready; globex: drift; initech: a failing backup job.
        snap.live.get_mut("acme").unwrap().replicas = Some(Replicas {
            ready: Some(3),
            desired: 5,
        });
        status.tenants.get_mut("globex").unwrap().drifted = 2;
        let initech = snap.live.get_mut("initech").unwrap();
        let schedule = initech.cronjobs[0].schedule.clone();
        initech.jobs.push(JobLive {
            name: "backup-1".into(),
            schedule: Some(schedule),
            restore: None,
            state: JobState::Failed,
            at: Some(NOW - 60),
        });
        let rows = overview_rows(&status, &snap, NOW, &Filter::default());
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["initech", "acme", "globex"], "{rows:#?}");
        assert_eq!(rows[0].severity, Severity::Bad);
        assert_eq!(rows[0].failing_jobs, 1);
        assert!(rows[1].problems.contains(&"database 3/5 ready".to_string()));
        assert_eq!(rows[2].problems, ["2 drifted"]);

        let f = |q: &str, problems: bool| Filter {
            q: q.into(),
            cluster: String::new(),
            problems_only: problems,
        };
        let only = |snap: &Snapshot, f: Filter| -> Vec<String> {
            overview_rows(&status, snap, NOW, &f)
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(only(&snap, f("ACME", false)), ["acme"]);
        assert_eq!(only(&snap, f("drifted", false)), ["globex"]);
        assert_eq!(only(&snap, f("", true)).len(), 3);
        snap.live.get_mut("acme").unwrap().replicas = Some(Replicas {
            ready: Some(5),
            desired: 5,
        });
        assert_eq!(only(&snap, f("", true)), ["initech", "globex"]);
    }

    #[test]
    fn an_unreachable_cluster_and_a_failed_sync_are_problems() {
        let config = examples();
        let mut status = ok_status(&config);
        let c = status.clusters.get_mut("local").unwrap();
        c.reachable = Some(false);
        c.error = Some("connection refused".into());
        status.tenants.get_mut("acme").unwrap().last_result = "failed".into();
        let snap = snapshot(config);
        let rows = overview_rows(&status, &snap, NOW, &Filter::default());
        assert!(rows.iter().all(|r| r.severity == Severity::Bad));
        assert!(
            rows[0].problems[0].contains("connection refused"),
            "{rows:#?}"
        );
        let html = overview_page(&status, &snap, NOW, &Filter::default());
        assert!(html.contains("unreachable"));
    }

    #[test]
    fn backups_know_last_success_next_run_overdue_and_missing_schedules() {
        let config = examples();
        let acme = config.tenants.iter().find(|t| t.name == "acme").unwrap();
        let mut live = healthy(acme);
        // The hourly schedule last succeeded a day ago: overdue.
        live.cronjobs
            .iter_mut()
            .find(|c| c.schedule == "hourly")
            .unwrap()
            .last_success = Some(NOW - 86_400);
        let rows = schedule_rows(acme, Some(&live), NOW);
        let hourly = rows.iter().find(|r| r.name == "hourly").unwrap();
        assert!(hourly.overdue);
        assert_eq!(hourly.state().1, "overdue");
        let nightly = rows.iter().find(|r| r.name == "nightly").unwrap();
        assert!(!nightly.overdue);
        assert_eq!(nightly.cron, "0 2 * * * (Europe/Berlin)");
        let next = nightly.next_run.unwrap();
        assert!(next > NOW && next - NOW <= 86_400);
        // 02:00 in Berlin, shown in UTC: 01:00 in winter, 00:00 in summer.
        let utc = format_rfc3339(next)[11..16].to_string();
        assert!(utc == "01:00" || utc == "00:00", "{utc}");

        let mut config = examples();
        config.tenants[1].schedules.clear();
        let name = config.tenants[1].name.clone();
        let status = ok_status(&config);
        let html = backups_page(&status, &snapshot(config), NOW);
        assert!(
            html.contains("Tenants without any backup schedule"),
            "{html}"
        );
        assert!(html.contains(&format!("/propose/schedule?tenant={name}")));
    }

    #[test]
    fn the_tenant_page_shows_settings_history_and_no_secret() {
        let config = examples();
        let mut status = ok_status(&config);
        status.tenant_history.insert(
            "acme".into(),
            [TenantEvent {
                at: "2026-11-25T02:00:00Z".into(),
                revision: Some("abc".into()),
                trigger: "webhook".into(),
                result: "applied".into(),
                applied: 3,
                pending: 0,
                drifted: 0,
                errors: vec![],
                author: Some("Ann Example <ann@example.com>".into()),
                message: Some("Raise acme's <quota>".into()),
            }]
            .into(),
        );
        let snap = snapshot(config);
        let html = tenant_page("acme", &status, &snap, NOW).unwrap();
        assert!(html.contains("ACME Corporation"));
        assert!(html.contains("alice@acme.example"));
        assert!(html.contains("5/5 ready"));
        assert!(html.contains("webhook"));
        assert!(html.contains("48 (tenant file)"), "quota with its origin");
        assert!(
            html.contains("<td class=\"author\" title=\"ann@example.com\">Ann Example</td><td class=\"message\">Raise acme&#39;s &lt;quota&gt;</td>")
                || html.contains("<td class=\"author\" title=\"ann@example.com\">Ann Example</td><td class=\"message\">Raise acme&#x27;s &lt;quota&gt;</td>"),
            "the commit's author and message, escaped: {html}"
        );
        assert!(tenant_page("nobody", &status, &snap, NOW).is_none());

        // A directory source has no commits, and the page says so.
        let h = status.tenant_history.get_mut("acme").unwrap();
        h[0].revision = Some("sha256:0123456789ab".into());
        h[0].author = None;
        h[0].message = None;
        let html = tenant_page("acme", &status, &snap, NOW).unwrap();
        assert!(
            html.contains("no commit: the source is a directory"),
            "{html}"
        );
    }

    #[test]
    fn the_tenant_page_shows_what_pods_use_or_why_it_is_not_known() {
        let config = examples();
        let status = ok_status(&config);
        let mut snap = snapshot(config);
        snap.live.get_mut("acme").unwrap().quota.push(QuotaLine {
            resource: "requests.memory".into(),
            used: Some("64Gi".into()),
            hard: "128Gi".into(),
        });
        snap.metrics_api.insert(
            "local".into(),
            crate::daemon::dashboard::MetricsApi::NotServed,
        );
        let html = tenant_page("acme", &status, &snap, NOW).unwrap();
        assert!(html.contains("The embedded cluster runs no pods"), "{html}");
        let mut kube = (**snap.config.as_ref().unwrap()).clone();
        kube.clusters.get_mut("local").unwrap().target =
            crate::spec::model::ClusterTarget::InCluster;
        snap.config = Some(Arc::new(kube));
        let html = tenant_page("acme", &status, &snap, NOW).unwrap();
        assert!(html.contains("does not serve the metrics API"), "{html}");
        snap.metrics_api.insert(
            "local".into(),
            crate::daemon::dashboard::MetricsApi::Failed("cluster `local`: 503 <x>".into()),
        );
        let html = tenant_page("acme", &status, &snap, NOW).unwrap();
        assert!(
            html.contains("could not be read: cluster `local`: 503 &lt;x&gt;"),
            "{html}"
        );
        snap.pod_usage.insert(
            "acme".into(),
            crate::observe::metrics::PodUsage {
                cpu: 12.0,
                memory: 32.0 * 1024.0 * 1024.0 * 1024.0,
                pods: 5,
                at: Some(NOW - 30),
                window: Some("15s".into()),
            },
        );
        let html = tenant_page("acme", &status, &snap, NOW).unwrap();
        let table = &html[html.find("class=\"pods-in-use\"").expect("a table")..];
        assert!(
            table.contains("<td>cpu</td><td>12.0 cores</td><td>48</td>"),
            "{table}"
        );
        assert!(table.contains("value=\"12\"></meter> 25%"), "{table}");
        assert!(
            table.contains("<td>memory</td><td>32.0 GiB</td><td>128Gi</td>"),
            "{table}"
        );
        assert!(
            html.contains("5 pods measured 30s ago over a 15s window"),
            "{html}"
        );
    }

    #[test]
    fn bytes_read_like_kubectl_top() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0 * 1024.0 * 1024.0), "1.5 GiB");
        assert_eq!(bytes(300.0 * 1024.0 * 1024.0), "300 MiB");
    }

    #[test]
    fn trends_chart_the_history() {
        let config = examples();
        let mut status = ok_status(&config);
        for i in 0..5 {
            status.record(crate::daemon::status::SyncRecord {
                revision: Some(format!("rev{i}")),
                trigger: "poll".into(),
                started_at: format_rfc3339(NOW - 600 * (5 - i)),
                duration_seconds: 0.5 * i as f64,
                result: crate::daemon::status::SyncResult::Applied,
                added: i as usize,
                changed: 1,
                destroyed: 0,
                failed: 0,
                drifted: i as usize % 2,
                errors: vec![],
                author: None,
                message: None,
            });
        }
        let html = trends_page(
            &status,
            &snapshot(config.clone()),
            NOW,
            &TrendsSource::Local,
        );
        assert_eq!(html.matches("<svg viewBox=\"0 0 360 170\"").count(), 3);
        assert!(html.contains("rev4"));
        assert!(html.contains("The last 5 syncs and drift checks"), "{html}");
        assert!(html.contains("<meter"), "quota use");
        // The ends of the x axis, to the minute.
        let first = format_rfc3339(NOW - 3000).replace('T', " ");
        assert!(
            html.contains(&format!(">{} UTC</text>", &first[..16])),
            "{html}"
        );

        let mut one = ok_status(&config);
        one.record(status.history.back().unwrap().clone());
        let html = trends_page(&one, &snapshot(config), NOW, &TrendsSource::Local);
        assert!(html.contains("1 sync or drift check"), "{html}");
        assert!(!html.contains("1 syncs"), "{html}");
    }

    #[test]
    fn trends_from_prometheus_chart_its_series_and_fall_back_with_a_notice() {
        use crate::daemon::dashboard::prometheus::{range, PromSeries, PromTrends};
        let mut config = examples();
        config.dashboard.prometheus_url = Some("http://prometheus:9090".into());
        let status = ok_status(&config);
        let snap = snapshot(config);
        let series = |labels: &[(&str, &str)], points: &[(i64, f64)]| PromSeries {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: points.to_vec(),
        };
        let r = range("1d").unwrap();
        let mut p = PromTrends {
            range: Some(r),
            url: "http://prometheus:9090".into(),
            start: NOW - r.seconds,
            end: NOW,
            ..PromTrends::default()
        };
        p.charts
            .insert("duration", vec![series(&[], &[(NOW - 600, 0.25)])]);
        p.charts.insert(
            "changed",
            vec![
                series(&[("action", "update")], &[(NOW - 600, 2.0)]),
                series(&[("action", "create")], &[(NOW - 1200, 40.0)]),
            ],
        );
        p.charts.insert("drift", vec![series(&[], &[(NOW, 1.0)])]);
        p.charts.insert(
            "quota",
            vec![series(
                &[("tenant", "acme")],
                &[(NOW - 600, 41.666), (NOW, 62.5)],
            )],
        );
        p.charts.insert("cpu", vec![]);
        p.errors
            .push("Prometheus at http://prometheus:9090 refused a query (bad_data): <x>".into());
        let html = trends_page(&status, &snap, NOW, &TrendsSource::Prometheus(&p));
        assert!(html.contains("data-source=\"prometheus\""), "{html}");
        assert!(
            html.contains("the last 1 day, one point every 10m"),
            "{html}"
        );
        assert!(html.contains("aria-current=\"page\">1 day</a>"), "{html}");
        for chart in ["duration", "changed", "drift", "quota"] {
            assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
        }
        assert!(
            !html.contains("data-chart=\"cpu\""),
            "no pod usage: no chart"
        );
        assert!(html.contains("Objects changed per 10m"));
        assert!(html.contains(": 62.5% acme</title>"), "{html}");
        assert!(html.contains(": 40 create</title>"), "{html}");
        assert!(html.contains("id=\"prometheus-errors\"") && html.contains("&lt;x&gt;"));
        assert!(
            !html.contains("the daemon keeps"),
            "the local charts are not shown"
        );

        // Nothing readable: the notice, then the history the daemon keeps.
        let failed = PromTrends {
            charts: Default::default(),
            errors: vec!["cannot reach Prometheus at http://prometheus:9090: refused".into()],
            ..p.clone()
        };
        let html = trends_page(&status, &snap, NOW, &TrendsSource::Prometheus(&failed));
        assert!(html.contains("cannot reach Prometheus"));
        assert_eq!(
            html.matches("<svg viewBox=\"0 0 360 170\"").count(),
            3,
            "local charts"
        );

        // Without a Prometheus server, no range links; asking for one says why.
        let mut config = examples();
        config.dashboard.prometheus_url = None;
        let snap = snapshot(config);
        let html = trends_page(&status, &snap, NOW, &TrendsSource::Local);
        assert!(!html.contains("?range=7d") && html.contains("prometheus_url"));
        let html = trends_page(
            &status,
            &snap,
            NOW,
            &TrendsSource::Unavailable("No Prometheus server is configured".into()),
        );
        assert!(html.contains("<div class=\"notice\">No Prometheus server is configured</div>"));
    }

    /// The overview of 1,000 tenants, every one of them with live data: the render time is
    /// printed (run with `--nocapture`), and must stay well under 100 ms (the bound here is
    /// looser, for unoptimised builds on a busy machine).
    #[test]
    fn overview_of_1000_tenants_renders_fast() {
        let config = config_of(1000);
        let mut status = ok_status(&config);
        for (i, t) in status.tenants.values_mut().enumerate() {
            if i % 10 == 0 {
                t.drifted = 1;
            }
        }
        let snap = snapshot(config);
        let mut best = std::time::Duration::MAX;
        let mut html = String::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            html = overview_page(&status, &snap, NOW, &Filter::default());
            best = best.min(started.elapsed());
        }
        eprintln!(
            "overview of 1000 tenants: {:.1} ms, {} bytes",
            best.as_secs_f64() * 1000.0,
            html.len()
        );
        assert_eq!(html.matches("<tr data-tenant=").count(), 1000);
        assert!(best < std::time::Duration::from_millis(500), "{best:?}");
    }
}
