//! The read-only pages: first their data (plain `Serialize` structs made by pure functions of
//! the [`Status`], the [`Snapshot`] and the time), then their HTML, rendered from the
//! templates of `templates/` (see [`super::templates`]). Nothing here reads a clock, a file or
//! a cluster.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::html::{age, count, short_rev, Nav};
use super::live::TenantLive;
use super::prometheus::{PromSeries, PromTrends, RANGES};
use super::svg::{chart, time_chart, Point, Series, TimeSeries};
use super::templates::{render, Page};
use super::Snapshot;
use crate::daemon::status::{Status, TenantStatus};
use crate::health::{self, Reading, Reason, Replicas, State, TenantHealth, TenantInput};
use crate::output::html::{to_html, HtmlOptions};
use crate::spec::model::{Origin, Tenant};
use crate::values::time::{format_rfc3339, parse_rfc3339};

/// How bad a row is; problems sort first. Serialized as its CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// Its health, by [`crate::health`].
    pub health: TenantHealth,
}

/// Tenant names known to the daemon: the configuration's, else the status's (after a restart,
/// before the first sync).
/// The tenants of the configuration, and those it no longer has that a cluster keeps.
pub fn tenant_names<'a>(status: &'a Status, snap: &'a Snapshot) -> Vec<&'a str> {
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

/// The rows of one tenant's schedules, from its health.
pub fn schedule_rows(t: &Tenant, health: &TenantHealth) -> Vec<ScheduleRow> {
    t.schedules
        .iter()
        .filter_map(|s| {
            let h = health.schedules.iter().find(|h| h.name == s.name)?;
            Some(ScheduleRow {
                tenant: t.name.clone(),
                name: s.name.clone(),
                cron: match &s.timezone {
                    Some(tz) => format!("{} ({tz})", s.cron),
                    None => s.cron.clone(),
                },
                location: format!("{} ({:?})", s.location.name, s.location.kind).to_lowercase(),
                paused: h.paused,
                last_success: h.last_success,
                next_run: h.next_run,
                failures: h.failures.clone(),
                overdue: h.overdue_by.is_some(),
                deployed: h.deployed,
            })
        })
        .collect()
}

/// The health of tenant `name` by [`crate::health::assess`], from what the daemon recorded:
/// the same model `berth status` reads.
pub fn tenant_health(name: &str, status: &Status, snap: &Snapshot, now: i64) -> TenantHealth {
    let st = status.tenants.get(name);
    let spec = find_tenant(snap, name);
    let kept = snap
        .plan
        .as_ref()
        .and_then(|p| p.kept.iter().find(|k| k.tenant == name));
    let cluster = spec
        .map(|t| t.cluster.as_str())
        .or(st.map(|s| s.cluster.as_str()))
        .unwrap_or_default();
    let namespace = spec
        .map(|t| t.namespace.as_str())
        .or(kept.and_then(|k| k.namespace.as_deref()))
        .unwrap_or_default();
    let down = status
        .clusters
        .get(cluster)
        .filter(|c| c.reachable == Some(false))
        .map(|c| c.error.as_deref().unwrap_or("unreachable"));
    let empty = health::Live::default();
    let reading = match (down, snap.live.get(name), &snap.plan) {
        (Some(e), _, _) => Reading::Unreachable(e),
        (None, Some(l), _) => Reading::Observed(&l.objects),
        (None, None, Some(_)) => Reading::Observed(&empty),
        (None, None, None) => Reading::NotYet,
    };
    let sync_errors = match st {
        Some(s) if s.last_result == "failed" => s.errors.len().max(1),
        _ => 0,
    };
    health::assess(&TenantInput {
        config: spec,
        cluster,
        tenant: name,
        namespace,
        reading,
        plan: snap.plan.as_deref(),
        pending: snap.pending.as_deref(),
        sync_errors,
        now,
    })
}

/// A reason as the dashboard words it: an unreadable cluster with its error.
fn problem(r: &Reason) -> String {
    match r {
        Reason::ClusterUnreachable { error } | Reason::NotObserved { error } => {
            format!("{}: {error}", r.phrase())
        }
        _ => r.phrase(),
    }
}

/// The dashboard's colour of a health state: a tenant that cannot be read is bad.
pub fn severity_of(h: &TenantHealth) -> Severity {
    match h.state {
        State::Ok => Severity::Ok,
        State::Unknown if h.reasons.is_empty() => Severity::Unknown,
        State::Unknown | State::Failing => Severity::Bad,
        State::Attention => Severity::Warn,
    }
}

/// The overview's row of one tenant.
pub fn tenant_row(name: &str, status: &Status, snap: &Snapshot, now: i64) -> TenantRow {
    let st = status.tenants.get(name);
    let spec = find_tenant(snap, name);
    let h = tenant_health(name, status, snap, now);
    let cluster = spec
        .map(|t| t.cluster.clone())
        .or_else(|| st.map(|s| s.cluster.clone()))
        .unwrap_or_default();
    let drifted = h
        .reasons
        .iter()
        .find_map(|r| match r {
            Reason::Drifted { objects } => Some(*objects),
            _ => None,
        })
        .unwrap_or(0);
    TenantRow {
        name: name.to_string(),
        display_name: spec.map(|t| t.display_name.clone()).unwrap_or_default(),
        cluster,
        tier: spec.map(|t| t.tier.clone()).unwrap_or_default(),
        replicas: h.database,
        desired: spec.map(|t| t.database.replicas.value),
        applied: st.and_then(|s| Some((s.applied_revision.clone()?, s.applied_at.clone()?))),
        drifted,
        last_backup_age: h.last_backup.as_ref().map(|b| now - b.at),
        schedules: spec.map(|t| t.schedules.len()).unwrap_or(0),
        failing_jobs: h.failing_jobs.len(),
        problems: h.reasons.iter().map(problem).collect(),
        severity: severity_of(&h),
        health: h,
    }
}

/// The overview's rows: filtered, problems first (worst first), then by name.
pub fn overview_rows(
    status: &Status,
    snap: &Snapshot,
    now: i64,
    filter: &Filter,
) -> Vec<TenantRow> {
    let mut rows: Vec<TenantRow> = tenant_names(status, snap)
        .into_iter()
        .map(|n| tenant_row(n, status, snap, now))
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

/// A summary card: a number (or a word) and what it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    /// The number.
    pub n: String,
    /// What it is.
    pub label: String,
    /// Its colour: a [`Severity`] class, or empty.
    pub class: &'static str,
}

impl Card {
    fn new(n: impl ToString, label: impl Into<String>, class: &'static str) -> Card {
        Card {
            n: n.to_string(),
            label: label.into(),
            class,
        }
    }
}

/// A cluster on the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    /// Name.
    pub name: String,
    /// How it is.
    pub severity: Severity,
    /// `reachable`, `unreachable`, `not contacted`.
    pub state: &'static str,
    /// Tenants placed on it.
    pub tenants: usize,
    /// The error of the last contact, or why it was not contacted.
    pub detail: String,
}

/// A tenant row of the overview, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverviewRow {
    /// Name.
    pub name: String,
    /// Display name, when it differs from the name (else empty).
    pub display_name: String,
    /// Database readiness: `3/3 ready`, `paused`.
    pub health: (Severity, String),
    /// Cluster.
    pub cluster: String,
    /// Short revision last applied, and how long ago.
    pub applied: Option<(String, String)>,
    /// Drifted objects.
    pub drifted: usize,
    /// Age of the newest successful backup (`3h`).
    pub last_backup_ago: Option<String>,
    /// Backup schedules.
    pub schedules: usize,
    /// Failing jobs.
    pub failing_jobs: usize,
    /// What needs attention.
    pub problems: Vec<String>,
    /// The worst of it.
    pub severity: Severity,
}

/// The overview page's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    /// Tenants, problems, drift, failing jobs, the last sync.
    pub cards: Vec<Card>,
    /// The clusters.
    pub clusters: Vec<ClusterView>,
    /// The filter in use.
    pub filter: Filter,
    /// The clusters the filter offers.
    pub cluster_names: Vec<String>,
    /// The tenants the filter keeps, problems first.
    pub rows: Vec<OverviewRow>,
    /// How many tenants there are in all (`12 tenants`).
    pub total: String,
}

/// The overview page's data.
pub fn overview(status: &Status, snap: &Snapshot, now: i64, filter: &Filter) -> Overview {
    let all = overview_rows(status, snap, now, &Filter::default());
    let with_problems = all.iter().filter(|r| r.severity >= Severity::Warn).count();
    let drifted: usize = all.iter().map(|r| r.drifted).sum();
    let failing: usize = all.iter().map(|r| r.failing_jobs).sum();
    let warn_if = |bad: bool, sev: Severity| if bad { sev.class() } else { "ok" };
    let mut cards = vec![
        Card::new(all.len(), "tenants", "ok"),
        Card::new(
            with_problems,
            "need attention",
            warn_if(with_problems > 0, Severity::Warn),
        ),
        Card::new(
            drifted,
            "drifted objects",
            warn_if(drifted > 0, Severity::Warn),
        ),
        Card::new(failing, "failing jobs", warn_if(failing > 0, Severity::Bad)),
    ];
    if let Some(l) = &status.last_sync {
        let sev = if l.result.is_success() {
            Severity::Ok
        } else if l.result.as_str() == "planned" {
            Severity::Warn
        } else {
            Severity::Bad
        };
        cards.push(Card::new(
            l.result.as_str(),
            format!(
                "last sync, {} · {}",
                when_text(&l.started_at, now),
                l.revision.as_deref().map(short_rev).unwrap_or("-")
            ),
            sev.class(),
        ));
    }
    let clusters = status
        .clusters
        .iter()
        .map(|(name, c)| {
            let (severity, state) = match c.reachable {
                Some(true) => (Severity::Ok, "reachable"),
                Some(false) => (Severity::Bad, "unreachable"),
                None => (Severity::Unknown, "not contacted"),
            };
            let detail = c.error.as_deref().unwrap_or(if c.reachable.is_none() {
                "no tenants placed on it"
            } else {
                ""
            });
            ClusterView {
                name: name.clone(),
                severity,
                state,
                tenants: c.tenants,
                detail: detail.to_string(),
            }
        })
        .collect();
    let rows = all
        .iter()
        .filter(|r| filter.keeps(r))
        .map(|r| OverviewRow {
            name: r.name.clone(),
            display_name: if r.display_name == r.name {
                String::new()
            } else {
                r.display_name.clone()
            },
            health: health_text(r),
            cluster: r.cluster.clone(),
            applied: r
                .applied
                .as_ref()
                .map(|(rev, at)| (short_rev(rev).to_string(), when_text(at, now))),
            drifted: r.drifted,
            last_backup_ago: r.last_backup_age.map(age),
            schedules: r.schedules,
            failing_jobs: r.failing_jobs,
            problems: r.problems.clone(),
            severity: r.severity,
        })
        .collect();
    Overview {
        cards,
        clusters,
        filter: filter.clone(),
        cluster_names: status.clusters.keys().cloned().collect(),
        rows,
        total: count(all.len(), "tenant"),
    }
}

/// The overview page.
pub fn overview_page(status: &Status, snap: &Snapshot, now: i64, filter: &Filter) -> String {
    render(
        "overview.html",
        &Page {
            title: "Overview",
            nav: Nav::Overview.slug(),
            footer: &footer(status, now),
            page: overview(status, snap, now, filter),
        },
    )
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Tenant => "tenant file",
        Origin::Tier => "tier",
        Origin::Platform => "platform",
        Origin::Builtin => "built-in",
    }
}

/// A schedule row as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleView {
    /// Tenant.
    pub tenant: String,
    /// Schedule name.
    pub name: String,
    /// How it stands.
    pub state: (Severity, &'static str),
    /// Cron expression, and time zone if any.
    pub cron: String,
    /// Location name and kind.
    pub location: String,
    /// Last success (`2026-01-02 03:04 UTC`) and how long ago.
    pub last_success: Option<(String, String)>,
    /// Paused in the configuration.
    pub paused: bool,
    /// Next run and how long until it.
    pub next_run: Option<(String, String)>,
    /// Failed jobs since the last success.
    pub failures: Vec<String>,
}

fn schedule_views(rows: &[ScheduleRow], now: i64) -> Vec<ScheduleView> {
    rows.iter()
        .map(|r| ScheduleView {
            tenant: r.tenant.clone(),
            name: r.name.clone(),
            state: r.state(),
            cron: r.cron.clone(),
            location: r.location.clone(),
            last_success: r.last_success.map(|t| (when(t), age(now - t))),
            paused: r.paused,
            next_run: r.next_run.map(|t| (when(t), age(t - now))),
            failures: r.failures.clone(),
        })
        .collect()
}

/// A `<meter>` of `used` against `hard`, as its attributes and the percentage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterView {
    /// `max`: the quota.
    pub max: String,
    /// `low`: 70% of it.
    pub low: String,
    /// `high`: 90% of it.
    pub high: String,
    /// `value`: the use.
    pub value: String,
    /// Use in percent of the quota, rounded.
    pub percent: String,
}

/// The meter of `used` against `hard`; none for a quota of zero.
fn meter_view(used: f64, hard: f64) -> Option<MeterView> {
    (hard > 0.0).then(|| MeterView {
        max: hard.to_string(),
        low: (hard * 0.7).to_string(),
        high: (hard * 0.9).to_string(),
        value: used.to_string(),
        percent: format!("{:.0}", 100.0 * used / hard),
    })
}

/// One resource of a quota table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaUse {
    /// `requests.cpu`.
    pub resource: String,
    /// What is used (`unknown` when the quota controller has not said).
    pub used: String,
    /// The quota (`none` when there is none).
    pub hard: String,
    /// The meter, when both are numbers.
    pub meter: Option<MeterView>,
}

fn quota_uses(live: &TenantLive) -> Vec<QuotaUse> {
    live.quota
        .iter()
        .map(|q| {
            let used = q
                .used
                .as_deref()
                .and_then(|u| crate::values::parse_quantity(u).ok())
                .map(|u| u.to_f64());
            let hard = crate::values::parse_quantity(&q.hard)
                .ok()
                .map(|h| h.to_f64());
            QuotaUse {
                resource: q.resource.clone(),
                used: q.used.clone().unwrap_or_else(|| "unknown".into()),
                hard: q.hard.clone(),
                meter: used.zip(hard).and_then(|(u, h)| meter_view(u, h)),
            }
        })
        .collect()
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

/// What a tenant's pods use now (metrics API), or why it is not known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InUse {
    /// Measured: cpu and memory against the requests quotas.
    Measured {
        /// `cpu`, `memory`.
        rows: Vec<QuotaUse>,
        /// Pods measured.
        pods: usize,
        /// How long ago.
        ago: Option<String>,
        /// The metrics' window (`30s`).
        window: Option<String>,
    },
    /// The embedded cluster, which runs no pods.
    Embedded,
    /// The cluster does not serve the metrics API.
    NotServed {
        /// The cluster.
        cluster: String,
    },
    /// The metrics API could not be read.
    Failed {
        /// The cluster.
        cluster: String,
        /// Why.
        error: String,
    },
    /// Not read yet.
    NotRead,
}

fn pods_in_use(snap: &Snapshot, tenant: &str, cluster: &str, now: i64) -> InUse {
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
        (Some(u), _) => InUse::Measured {
            rows: [
                (
                    "cpu",
                    "requests.cpu",
                    u.cpu,
                    format!("{} cores", cores(u.cpu)),
                ),
                ("memory", "requests.memory", u.memory, bytes(u.memory)),
            ]
            .into_iter()
            .map(|(res, quota, used, text)| {
                let h = hard(quota);
                QuotaUse {
                    resource: res.to_string(),
                    used: text,
                    hard: h.as_ref().map(|h| h.0.clone()).unwrap_or("none".into()),
                    meter: h.and_then(|(_, h)| meter_view(used, h)),
                }
            })
            .collect(),
            pods: u.pods,
            ago: u.at.map(|t| age(now - t)),
            window: u.window.clone(),
        },
        (None, Some(super::MetricsApi::NotServed))
            if snap
                .config
                .as_ref()
                .and_then(|c| c.clusters.get(cluster))
                .is_some_and(|c| c.target == crate::spec::model::ClusterTarget::Embedded) =>
        {
            InUse::Embedded
        }
        (None, Some(super::MetricsApi::NotServed)) => InUse::NotServed {
            cluster: cluster.to_string(),
        },
        (None, Some(super::MetricsApi::Failed(e))) => InUse::Failed {
            cluster: cluster.to_string(),
            error: e.clone(),
        },
        _ => InUse::NotRead,
    }
}

/// The chart of a tenant's use against quota over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageChart {
    /// The chart, by [`chart`].
    pub svg: String,
    /// The least spacing of samples, minutes.
    pub every_minutes: i64,
    /// How far back the samples go at most (`7d`).
    pub span: String,
}

/// The chart of a tenant's use against quota over its samples, in percent.
fn usage_chart(samples: &std::collections::VecDeque<super::UsageSample>) -> Option<UsageChart> {
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
        return None;
    }
    let first = samples.front().map(|s| when(s.at)).unwrap_or_default();
    let last = samples.back().map(|s| when(s.at)).unwrap_or_default();
    Some(UsageChart {
        svg: chart(&series, false, "%", &first, &last),
        every_minutes: super::USAGE_SPACING / 60,
        span: age(super::USAGE_SPACING * super::USAGE_SAMPLES as i64),
    })
}

/// Whether the daemon knows tenant `name` (it has a page).
pub fn knows_tenant(name: &str, status: &Status, snap: &Snapshot) -> bool {
    find_tenant(snap, name).is_some() || status.tenants.contains_key(name)
}

/// A member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// Name.
    pub name: String,
    /// `User`, `Group`, `ServiceAccount`.
    pub kind: String,
    /// `Admin`, `Developer`, `Viewer`.
    pub role: String,
    /// The ClusterRole it is bound to.
    pub cluster_role: String,
}

/// A restore of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreView {
    /// Name.
    pub name: String,
    /// The schedule or path restored from, and the point in time.
    pub from: String,
    /// How it stands.
    pub state: (Severity, &'static str),
}

/// The commit of a history row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommitView {
    /// A commit: its author's name (the address goes in the tooltip) and its message.
    Known {
        /// Author's name.
        name: String,
        /// Author's address.
        email: String,
        /// Message.
        message: String,
    },
    /// A directory source, whose revisions are hashes of its files, not commits.
    Directory,
    /// Not known.
    Unknown,
}

/// A sync of a tenant's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// When (`2026-01-02 03:04:05 UTC`).
    pub at: String,
    /// Short revision.
    pub revision: String,
    /// Its commit.
    pub commit: CommitView,
    /// What triggered it.
    pub trigger: String,
    /// Its result.
    pub result: (Severity, String),
    /// Objects applied.
    pub applied: usize,
    /// Changes left pending.
    pub pending: usize,
    /// Drifted objects.
    pub drifted: usize,
    /// Its errors, joined.
    pub errors: String,
}

/// A tenant page's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantPage {
    /// Name.
    pub name: String,
    /// Display name, when it differs from the name (else empty).
    pub display_name: String,
    /// Database, drift, last backup, last result.
    pub cards: Vec<Card>,
    /// What needs attention.
    pub problems: Vec<String>,
    /// The worst of it.
    pub severity: Severity,
    /// The errors of its last sync.
    pub errors: Vec<String>,
    /// Its settings with where they come from, when the configuration has it.
    pub settings: Vec<(&'static str, String)>,
    /// Its members.
    pub members: Vec<MemberView>,
    /// Quota use, from the ResourceQuota's status.
    pub quota: Vec<QuotaUse>,
    /// What its pods use now.
    pub in_use: InUse,
    /// Use against quota over time, once there are two samples.
    pub usage_chart: Option<UsageChart>,
    /// Its backup schedules.
    pub schedules: Vec<ScheduleView>,
    /// Its restores.
    pub restores: Vec<RestoreView>,
    /// Its pending changes, by the HTML plan printer.
    pub pending_html: Option<String>,
    /// Its drift, by the HTML plan printer.
    pub drift_html: Option<String>,
    /// Syncs that changed it, newest first.
    pub history: Vec<HistoryRow>,
    /// The revision applied last (short), and how long ago.
    pub applied: Option<(String, String)>,
    /// The forms about one tenant: slug and name.
    pub forms: Vec<(&'static str, &'static str)>,
}

/// A tenant page's data; `None` when the daemon knows no such tenant.
pub fn tenant_data(name: &str, status: &Status, snap: &Snapshot, now: i64) -> Option<TenantPage> {
    if !knows_tenant(name, status, snap) {
        return None;
    }
    let spec = find_tenant(snap, name);
    let st: Option<&TenantStatus> = status.tenants.get(name);
    let live = snap.live.get(name);
    let row = tenant_row(name, status, snap, now);
    let (hs, ht) = health_text(&row);
    let cards = vec![
        Card::new(ht, "database", hs.class()),
        Card::new(
            row.drifted,
            "drifted objects",
            if row.drifted > 0 { "warn" } else { "ok" },
        ),
        Card::new(
            row.last_backup_age
                .map(|a| format!("{} ago", age(a)))
                .unwrap_or_else(|| "none".into()),
            "last backup",
            "",
        ),
        Card::new(
            st.map(|s| s.last_result.as_str()).unwrap_or("unknown"),
            "last result",
            "",
        ),
    ];
    let mut settings = Vec::new();
    let mut members = Vec::new();
    let mut schedules = Vec::new();
    let mut restores = Vec::new();
    if let Some(t) = spec {
        let q = &t.quota;
        let d = &t.database;
        settings = vec![
            ("cluster", t.cluster.clone()),
            ("namespace", t.namespace.clone()),
            ("tier", t.tier.clone()),
            ("spec file", t.source_file.clone()),
            (
                "backups file",
                t.backup_file.clone().unwrap_or_else(|| "none".into()),
            ),
            (
                "deletion protection",
                if t.deletion_protection { "on" } else { "off" }.into(),
            ),
            (
                "quota cpu",
                format!("{} ({})", q.cpu.value.as_str(), origin(q.cpu.origin)),
            ),
            (
                "quota memory",
                format!("{} ({})", q.memory.value.as_str(), origin(q.memory.origin)),
            ),
            (
                "quota storage",
                format!(
                    "{} ({})",
                    q.storage.value.as_str(),
                    origin(q.storage.origin)
                ),
            ),
            (
                "quota pods",
                format!("{} ({})", q.pods.value, origin(q.pods.origin)),
            ),
            (
                "database",
                format!(
                    "{} {} ({})",
                    d.engine,
                    d.version.value,
                    origin(d.version.origin)
                ),
            ),
            (
                "replicas",
                format!(
                    "{} ({}){}",
                    d.replicas.value,
                    origin(d.replicas.origin),
                    if d.paused { ", paused" } else { "" }
                ),
            ),
            (
                "storage per node",
                format!(
                    "{} ({})",
                    d.storage.value.as_str(),
                    origin(d.storage.origin)
                ),
            ),
            (
                "cpu / memory per node",
                format!("{} / {}", d.cpu.value.as_str(), d.memory.value.as_str()),
            ),
            ("databases", d.databases.join(", ")),
            (
                "allowed from",
                if t.allow_from.is_empty() {
                    "its own namespace".into()
                } else {
                    t.allow_from.join(", ")
                },
            ),
        ];
        members = t
            .members
            .iter()
            .map(|m| MemberView {
                name: m.name.clone(),
                kind: format!("{:?}", m.kind),
                role: format!("{:?}", m.role),
                cluster_role: m.cluster_role.to_string(),
            })
            .collect();
        schedules = schedule_views(&schedule_rows(t, &row.health), now);
        restores = t
            .restores
            .iter()
            .map(|r| {
                let job = live.and_then(|l| {
                    l.objects
                        .jobs
                        .iter()
                        .find(|j| health::restore_of(&j.metadata) == Some(r.name.as_str()))
                });
                let state = match job.map(|j| health::job_run(j).state) {
                    Some(health::JobState::Succeeded) => (Severity::Ok, "done"),
                    Some(health::JobState::Failed) => (Severity::Bad, "failed"),
                    Some(health::JobState::Running) => (Severity::Warn, "running"),
                    None => (Severity::Unknown, "not started"),
                };
                let from = r
                    .from_schedule
                    .clone()
                    .or_else(|| r.from_path.clone())
                    .unwrap_or_default();
                let at = r
                    .point_in_time
                    .as_ref()
                    .map(|p| format!(" at {p}"))
                    .unwrap_or_default();
                RestoreView {
                    name: r.name.clone(),
                    from: format!("{from}{at}"),
                    state,
                }
            })
            .collect();
    }
    let cluster = spec
        .map(|t| t.cluster.as_str())
        .unwrap_or(row.cluster.as_str());
    let pending_html = snap
        .pending
        .as_ref()
        .filter(|p| p.changes.iter().any(|c| c.tenant == name))
        .map(|p| {
            to_html(
                p,
                HtmlOptions {
                    tenant: Some(name),
                    no_title: false,
                    no_links: false,
                },
            )
        });
    let drift_html = snap
        .plan
        .as_ref()
        .filter(|p| p.drift.iter().any(|d| d.tenant == name))
        .map(|p| {
            let mut only_drift = (**p).clone();
            only_drift.changes.clear();
            to_html(
                &only_drift,
                HtmlOptions {
                    tenant: Some(name),
                    no_title: true,
                    no_links: false,
                },
            )
        });
    let history = status
        .tenant_history
        .get(name)
        .map(|h| {
            h.iter()
                .rev()
                .map(|e| {
                    let sev = match e.result.as_str() {
                        "applied" => Severity::Ok,
                        "failed" => Severity::Bad,
                        _ => Severity::Warn,
                    };
                    HistoryRow {
                        at: e.at.replace('T', " ").replace('Z', " UTC"),
                        revision: e
                            .revision
                            .as_deref()
                            .map(short_rev)
                            .unwrap_or("-")
                            .to_string(),
                        commit: commit_view(
                            e.revision.as_deref(),
                            e.author.as_deref(),
                            e.message.as_deref(),
                        ),
                        trigger: e.trigger.clone(),
                        result: (sev, e.result.clone()),
                        applied: e.applied,
                        pending: e.pending,
                        drifted: e.drifted,
                        errors: e.errors.join("; "),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Some(TenantPage {
        name: name.to_string(),
        display_name: if row.display_name == name {
            String::new()
        } else {
            row.display_name.clone()
        },
        cards,
        problems: row.problems.clone(),
        severity: row.severity,
        errors: st.map(|s| s.errors.clone()).unwrap_or_default(),
        settings,
        members,
        quota: live.map(quota_uses).unwrap_or_default(),
        in_use: pods_in_use(snap, name, cluster, now),
        usage_chart: snap
            .usage
            .get(name)
            .filter(|s| s.len() > 1)
            .and_then(usage_chart),
        schedules,
        restores,
        pending_html,
        drift_html,
        history,
        applied: st.and_then(|st| match (&st.applied_revision, &st.applied_at) {
            (Some(rev), Some(at)) => Some((short_rev(rev).to_string(), when_text(at, now))),
            _ => None,
        }),
        forms: super::propose::Kind::ALL
            .into_iter()
            .filter(|k| k.per_tenant())
            .map(|k| (k.slug(), k.short()))
            .collect(),
    })
}

/// A tenant's page; `None` when the daemon knows no such tenant.
pub fn tenant_page(name: &str, status: &Status, snap: &Snapshot, now: i64) -> Option<String> {
    let page = tenant_data(name, status, snap, now)?;
    Some(render(
        "tenant.html",
        &Page {
            title: &format!("Tenant {name}"),
            nav: Nav::Tenant.slug(),
            footer: &footer(status, now),
            page,
        },
    ))
}

/// The commit of a history row. A directory source's revisions are hashes of its files
/// (`sha256:...`): they have no commit.
fn commit_view(revision: Option<&str>, author: Option<&str>, message: Option<&str>) -> CommitView {
    match author {
        Some(a) => {
            let (name, email) = match a.rsplit_once(" <") {
                Some((n, e)) => (n, e.trim_end_matches('>')),
                None => (a, ""),
            };
            CommitView::Known {
                name: name.to_string(),
                email: email.to_string(),
                message: message.unwrap_or("").to_string(),
            }
        }
        None if revision.is_some_and(|r| r.starts_with("sha256:")) => CommitView::Directory,
        None => CommitView::Unknown,
    }
}

/// The plan and drift page's data, once a plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// How long ago.
    pub ago: String,
    /// What triggered it.
    pub trigger: String,
    /// `2 drifted objects`.
    pub drifted: String,
    /// When drift was last checked (`3m ago`).
    pub drift_checked: Option<String>,
    /// The pending part of the plan (what Git has and the clusters not), by the HTML plan
    /// printer, when there is any.
    pub pending_html: Option<String>,
    /// The plan, by the HTML plan printer.
    pub plan_html: String,
}

/// The plan and drift page's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPage {
    /// The latest plan, if any yet.
    pub planned: Option<Planned>,
    /// The errors of the last sync.
    pub errors: Vec<String>,
}

/// The plan and drift page's data.
pub fn plan_data(status: &Status, snap: &Snapshot, now: i64) -> PlanPage {
    let planned = match (&snap.plan, &snap.planned_at) {
        (Some(plan), Some((at, trigger))) => Some(Planned {
            ago: age(now - at),
            trigger: trigger.clone(),
            drifted: count(plan.drift.len(), "drifted object"),
            drift_checked: status
                .drift_checked_at
                .as_deref()
                .map(|d| when_text(d, now)),
            pending_html: snap
                .pending
                .as_ref()
                .filter(|p| !p.changes.is_empty())
                .map(|p| to_html(p, HtmlOptions::default())),
            plan_html: to_html(plan, HtmlOptions::default()),
        }),
        _ => None,
    };
    PlanPage {
        planned,
        errors: status
            .last_sync
            .as_ref()
            .map(|l| l.errors.clone())
            .unwrap_or_default(),
    }
}

/// The plan and drift page.
pub fn plan_page(status: &Status, snap: &Snapshot, now: i64) -> String {
    render(
        "plan.html",
        &Page {
            title: "Plan and drift",
            nav: Nav::Plan.slug(),
            footer: &footer(status, now),
            page: plan_data(status, snap, now),
        },
    )
}

/// The backups page's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupsPage {
    /// Whether a configuration is loaded (else there is nothing else).
    pub configured: bool,
    /// Schedules, failing, overdue, tenants without a schedule.
    pub cards: Vec<Card>,
    /// The tenants without any schedule.
    pub without: Vec<String>,
    /// Every schedule, problems first.
    pub rows: Vec<ScheduleView>,
}

/// The backups page's data.
pub fn backups_data(status: &Status, snap: &Snapshot, now: i64) -> BackupsPage {
    let Some(config) = &snap.config else {
        return BackupsPage {
            configured: false,
            cards: Vec::new(),
            without: Vec::new(),
            rows: Vec::new(),
        };
    };
    let mut rows = Vec::new();
    let mut without = Vec::new();
    for t in &config.tenants {
        if t.schedules.is_empty() {
            without.push(t.name.clone());
        }
        rows.extend(schedule_rows(t, &tenant_health(&t.name, status, snap, now)));
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
    let cards = vec![
        Card::new(rows.len(), "schedules", ""),
        Card::new(failing, "failing", if failing > 0 { "bad" } else { "ok" }),
        Card::new(overdue, "overdue", if overdue > 0 { "warn" } else { "ok" }),
        Card::new(
            without.len(),
            "tenants without a schedule",
            if without.is_empty() { "ok" } else { "warn" },
        ),
    ];
    BackupsPage {
        configured: true,
        cards,
        without,
        rows: schedule_views(&rows, now),
    }
}

/// The backups page.
pub fn backups_page(status: &Status, snap: &Snapshot, now: i64) -> String {
    render(
        "backups.html",
        &Page {
            title: "Backups",
            nav: Nav::Backups.slug(),
            footer: &footer(status, now),
            page: backups_data(status, snap, now),
        },
    )
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
/// A cell of the quota table: a meter and `used / quota`, or nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaCell {
    /// Hidden on narrow screens.
    pub opt: bool,
    /// Use against the quota.
    pub meter: Option<MeterView>,
    /// `2 / 4`, `not measured`.
    pub text: Option<String>,
}

/// A tenant of the quota table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaRow {
    /// Tenant.
    pub tenant: String,
    /// cpu, memory, storage, pods, cpu in use, memory in use.
    pub cells: Vec<QuotaCell>,
}

/// Quota use by tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaTable {
    /// The fullest 100 tenants with some use known, fullest first.
    pub rows: Vec<QuotaRow>,
    /// How many tenants have some use known (`3 tenants`).
    pub count: String,
    /// Whether there are more than the rows.
    pub truncated: bool,
}

fn quota_table(snap: &Snapshot) -> QuotaTable {
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
    let hard_of = |l: &TenantLive, res: &str| {
        l.quota.iter().find(|q| q.resource == res).and_then(|q| {
            Some((
                q.hard.clone(),
                crate::values::parse_quantity(&q.hard).ok()?.to_f64(),
            ))
        })
    };
    let rows = usage
        .iter()
        .take(100)
        .map(|(t, _, l)| {
            let mut cells = Vec::new();
            for (res, opt) in [
                ("requests.cpu", false),
                ("requests.memory", false),
                ("requests.storage", false),
                ("pods", true),
            ] {
                let cell = match l.quota.iter().find(|q| q.resource == res) {
                    Some(q) => {
                        let u = q
                            .used
                            .as_deref()
                            .and_then(|u| crate::values::parse_quantity(u).ok())
                            .map(|u| u.to_f64());
                        let h = crate::values::parse_quantity(&q.hard)
                            .ok()
                            .map(|h| h.to_f64());
                        QuotaCell {
                            opt,
                            meter: u.zip(h).and_then(|(u, h)| meter_view(u, h)),
                            text: Some(format!(
                                "{} / {}",
                                q.used.as_deref().unwrap_or("?"),
                                q.hard
                            )),
                        }
                    }
                    None => QuotaCell {
                        opt,
                        meter: None,
                        text: None,
                    },
                };
                cells.push(cell);
            }
            let pods = snap.pod_usage.get(*t);
            for (res, quota, opt) in [
                ("cpu", "requests.cpu", false),
                ("memory", "requests.memory", true),
            ] {
                let cell = match pods {
                    Some(u) => {
                        let (used, text) = if res == "cpu" {
                            (u.cpu, cores(u.cpu))
                        } else {
                            (u.memory, bytes(u.memory))
                        };
                        let hard = hard_of(l, quota);
                        QuotaCell {
                            opt,
                            meter: hard.as_ref().and_then(|(_, h)| meter_view(used, *h)),
                            text: Some(format!(
                                "{text} / {}",
                                hard.as_ref().map(|h| h.0.as_str()).unwrap_or("?")
                            )),
                        }
                    }
                    None => QuotaCell {
                        opt,
                        meter: None,
                        text: Some("not measured".into()),
                    },
                };
                cells.push(cell);
            }
            QuotaRow {
                tenant: t.to_string(),
                cells,
            }
        })
        .collect();
    QuotaTable {
        rows,
        count: count(usage.len(), "tenant"),
        truncated: usage.len() > 100,
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

/// A chart of the trends page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartView {
    /// What it shows, for Prometheus charts (`duration`, `quota`): its `data-chart`.
    pub key: &'static str,
    /// Its title.
    pub title: String,
    /// The chart, by [`chart`] or [`time_chart`].
    pub svg: String,
}

/// The charts of the history the daemon keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalCharts {
    /// What they cover (`The last 12 syncs and drift checks that found something`).
    pub summary: String,
    /// How many syncs the daemon keeps.
    pub kept: usize,
    /// Duration, objects changed, drift.
    pub charts: Vec<ChartView>,
}

/// The charts of the history the daemon keeps: its recent syncs and drift checks.
fn local_charts(status: &Status) -> LocalCharts {
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
    let view = |title: &str, svg: String| ChartView {
        key: "",
        title: title.to_string(),
        svg,
    };
    LocalCharts {
        summary: match h.len() {
            0 => "No sync yet".to_string(),
            1 => "1 sync or drift check that found something so far".to_string(),
            n => format!("The last {n} syncs and drift checks that found something"),
        },
        kept: crate::daemon::status::HISTORY_LEN,
        charts: vec![
            view(
                "Sync duration",
                chart(
                    &[series("duration", "#0b5cad", &|r| r.duration_seconds)],
                    false,
                    "s",
                    &first,
                    &last,
                ),
            ),
            view(
                "Objects changed per sync",
                chart(
                    &[
                        series("added", "#1a7f37", &|r| r.added as f64),
                        series("changed", "#9a6700", &|r| r.changed as f64),
                        series("destroyed", "#cf222e", &|r| r.destroyed as f64),
                    ],
                    true,
                    "",
                    &first,
                    &last,
                ),
            ),
            view(
                "Drifted objects",
                chart(
                    &[series("drifted", "#cf222e", &|r| r.drifted as f64)],
                    false,
                    "",
                    &first,
                    &last,
                ),
            ),
        ],
    }
}

/// Colours of series by position.
const PALETTE: [&str; 6] = [
    "#0b5cad", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#5b6470",
];

/// The charts read from Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromCharts {
    /// The server.
    pub url: String,
    /// The range (`7 days`).
    pub range: &'static str,
    /// One point every (`1h`).
    pub step: String,
    /// The charts that could be read.
    pub charts: Vec<ChartView>,
}

/// The charts read from Prometheus; none when none could be read.
fn prometheus_charts(p: &PromTrends) -> Option<PromCharts> {
    let range = p.range?;
    if p.charts.is_empty() {
        return None;
    }
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
    let charts: [(&'static str, String, Vec<TimeSeries>, bool, &str); 5] = [
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
    let mut views = Vec::new();
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
        views.push(ChartView {
            key,
            title,
            svg: time_chart(&series, p.start, p.end, range.step, bars, unit, per_tenant),
        });
    }
    Some(PromCharts {
        url: p.url.clone(),
        range: range.label,
        step,
        charts: views,
    })
}

/// A link to a range of the trends page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeLink {
    /// `/trends?range=7d`.
    pub href: String,
    /// `7 days`.
    pub label: &'static str,
    /// The range shown.
    pub on: bool,
}

/// The trends page's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendsPage {
    /// The ranges, when a Prometheus server is configured.
    pub ranges: Option<Vec<RangeLink>>,
    /// Why the range asked for cannot be shown.
    pub notice: Option<String>,
    /// What went wrong reading Prometheus.
    pub prometheus_errors: Vec<String>,
    /// The charts from Prometheus, when some could be read.
    pub prometheus: Option<PromCharts>,
    /// Prometheus was asked and nothing could be read.
    pub prometheus_empty: bool,
    /// The charts of the history the daemon keeps, when Prometheus' are not shown.
    pub local: Option<LocalCharts>,
    /// Quota use by tenant.
    pub quota: QuotaTable,
}

/// The trends page's data: charts from `source`, then every tenant's quota use.
pub fn trends_data(status: &Status, snap: &Snapshot, source: &TrendsSource<'_>) -> TrendsPage {
    let prometheus_url = snap
        .config
        .as_ref()
        .and_then(|c| c.dashboard.prometheus_url.as_deref());
    let current = match source {
        TrendsSource::Prometheus(p) => p.range.map(|r| r.name).unwrap_or(""),
        _ => "",
    };
    let ranges = prometheus_url.map(|_| {
        std::iter::once(RangeLink {
            href: "/trends".into(),
            label: "kept by the daemon",
            on: current.is_empty(),
        })
        .chain(RANGES.iter().map(|r| RangeLink {
            href: format!("/trends?range={}", r.name),
            label: r.label,
            on: current == r.name,
        }))
        .collect()
    });
    let (notice, prometheus_errors, prometheus, asked) = match source {
        TrendsSource::Local => (None, Vec::new(), None, false),
        TrendsSource::Unavailable(why) => (Some(why.clone()), Vec::new(), None, false),
        TrendsSource::Prometheus(p) => (None, p.errors.clone(), prometheus_charts(p), true),
    };
    TrendsPage {
        ranges,
        notice,
        prometheus_errors,
        prometheus_empty: asked && prometheus.is_none(),
        local: prometheus.is_none().then(|| local_charts(status)),
        prometheus,
        quota: quota_table(snap),
    }
}

/// The trends page.
pub fn trends_page(
    status: &Status,
    snap: &Snapshot,
    now: i64,
    source: &TrendsSource<'_>,
) -> String {
    render(
        "trends.html",
        &Page {
            title: "Trends",
            nav: Nav::Trends.slug(),
            footer: &footer(status, now),
            page: trends_data(status, snap, source),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::dashboard::live::QuotaLine;
    use crate::daemon::status::{ClusterStatus, TenantEvent};
    use crate::health::fixtures;
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
        let n = i32::try_from(t.database.replicas.value).unwrap();
        TenantLive {
            objects: crate::health::Live {
                namespace_exists: true,
                statefulsets: vec![fixtures::statefulset(n, Some((n, n)))],
                cronjobs: t
                    .schedules
                    .iter()
                    .map(|s| fixtures::cronjob(&s.name, NOW - 86_400 * 30, Some(NOW - 1800), false))
                    .collect(),
                jobs: vec![],
                pods: vec![],
            },
            quota: vec![QuotaLine {
                resource: "requests.cpu".into(),
                used: Some("1500m".into()),
                hard: t.quota.cpu.value.as_str().into(),
            }],
        }
    }

    /// `n` drifted objects of `tenant` in the snapshot's plan.
    fn drift(snap: &mut Snapshot, tenant: &str, n: usize) {
        let mut plan = snap.plan.as_deref().cloned().unwrap_or_default();
        for i in 0..n {
            plan.drift.push(crate::plan::Drift {
                cluster: "local".into(),
                tenant: tenant.into(),
                id: crate::object::ObjectRef {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    namespace: Some(format!("tenant-{tenant}")),
                    name: format!("c{i}"),
                },
                kind: crate::plan::DriftKind::Changed,
                fields: vec![],
            });
        }
        snap.plan = Some(Arc::new(plan));
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
        let status = ok_status(&config);
        let mut snap = snapshot(config);
        // acme: 3 of 5 database replicas ready; globex: drift; initech: a failing backup job.
        snap.live.get_mut("acme").unwrap().objects.statefulsets =
            vec![fixtures::statefulset(5, Some((3, 5)))];
        drift(&mut snap, "globex", 2);
        let initech = snap.live.get_mut("initech").unwrap();
        initech.objects.jobs.push(fixtures::job(
            "initech",
            "tenant-initech",
            "backup-1",
            Some("weekly"),
            Some(NOW - 60),
        ));
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
        snap.live.get_mut("acme").unwrap().objects.statefulsets =
            vec![fixtures::statefulset(5, Some((5, 5)))];
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
        live.objects.cronjobs[1] =
            fixtures::cronjob("hourly", NOW - 86_400 * 30, Some(NOW - 86_400), false);
        assert_eq!(acme.schedules[1].name, "hourly");
        let mut snap = snapshot(config.clone());
        snap.live.insert("acme".into(), live);
        let h = tenant_health("acme", &ok_status(&config), &snap, NOW);
        let rows = schedule_rows(acme, &h);
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

    /// Text that breaks out of HTML, an attribute of either quote, or an entity if a page
    /// forgets to escape it.
    const EVIL: &str = "<script>alert(1)</script>\"'&";
    const EVIL_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";

    fn assert_escaped(page: &str, what: &str) {
        assert!(
            !page.contains("<script"),
            "{what}: a raw <script> in\n{page}"
        );
        assert!(!page.contains(EVIL), "{what}: the raw text in\n{page}");
        assert!(
            page.contains(EVIL_ESCAPED),
            "{what}: the escaped text is missing from\n{page}"
        );
    }

    #[test]
    fn names_messages_authors_and_errors_are_escaped_on_every_page() {
        let mut config = examples();
        config.tenants[0].name = EVIL.into();
        config.tenants[0].display_name = format!("display {EVIL}");
        let mut status = ok_status(&config);
        let cluster = config.tenants[0].cluster.clone();
        status.clusters.get_mut(&cluster).unwrap().error = Some(format!("cluster {EVIL}"));
        status.tenants.get_mut(EVIL).unwrap().errors = vec![format!("tenant error {EVIL}")];
        status.record(crate::daemon::status::SyncRecord {
            revision: Some(format!("rev {EVIL}")),
            trigger: format!("trigger {EVIL}"),
            started_at: format_rfc3339(NOW - 600),
            duration_seconds: 1.0,
            result: crate::daemon::status::SyncResult::Failed,
            added: 1,
            changed: 0,
            destroyed: 0,
            failed: 1,
            drifted: 0,
            errors: vec![format!("sync error {EVIL}")],
            author: Some(format!("{EVIL} <{EVIL}@example.com>")),
            message: Some(format!("message {EVIL}")),
        });
        status.tenant_history.insert(
            EVIL.into(),
            [TenantEvent {
                at: "2026-11-25T02:00:00Z".into(),
                revision: Some("abc".into()),
                trigger: "webhook".into(),
                result: "failed".into(),
                applied: 0,
                pending: 0,
                drifted: 0,
                errors: vec![format!("history error {EVIL}")],
                author: Some(format!("Author {EVIL} <a{EVIL}@example.com>")),
                message: Some(format!("Commit {EVIL}")),
            }]
            .into(),
        );
        let snap = snapshot(config);

        let overview = overview_page(&status, &snap, NOW, &Filter::default());
        assert_escaped(&overview, "overview");
        for shown in ["cluster ", "display "] {
            assert!(
                overview.contains(&format!("{shown}{EVIL_ESCAPED}")),
                "{shown}: {overview}"
            );
        }
        assert!(overview.contains(&format!("data-tenant=\"{EVIL_ESCAPED}\"")));
        assert!(overview.contains(&format!(
            "href=\"/tenants/{}\"",
            super::super::html::url_encode(EVIL)
        )));
        // The filter's own text goes back into its field.
        let filter = Filter {
            q: EVIL.into(),
            cluster: EVIL.into(),
            problems_only: false,
        };
        let filtered = overview_page(&status, &snap, NOW, &filter);
        assert!(filtered.contains(&format!("value=\"{EVIL_ESCAPED}\" placeholder")));

        let tenant = tenant_page(EVIL, &status, &snap, NOW).unwrap();
        assert_escaped(&tenant, "tenant");
        for shown in [
            "<h1>Tenant ",
            "<title>Tenant ",
            "tenant error ",
            "history error ",
            "<td class=\"message\">Commit ",
            "<td class=\"author\" title=\"a",
            "Author ",
        ] {
            assert!(
                tenant.contains(&format!("{shown}{EVIL_ESCAPED}")),
                "{shown}: {tenant}"
            );
        }

        let plan = plan_page(&status, &snap, NOW);
        assert_escaped(&plan, "plan");
        assert!(plan.contains(&format!("sync error {EVIL_ESCAPED}")));

        let backups = backups_page(&status, &snap, NOW);
        assert_escaped(&backups, "backups");
        assert!(backups.contains(&format!(">{EVIL_ESCAPED}</a>")));

        let trends = trends_page(&status, &snap, NOW, &TrendsSource::Local);
        assert_escaped(&trends, "trends");
        assert!(
            trends.contains(&format!("trigger {EVIL_ESCAPED}")),
            "the chart's hover text: {trends}"
        );
        let why = TrendsSource::Unavailable(format!("unavailable {EVIL}"));
        let trends = trends_page(&status, &snap, NOW, &why);
        assert!(trends.contains(&format!("unavailable {EVIL_ESCAPED}")));
        assert!(!trends.contains("<script"));
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
