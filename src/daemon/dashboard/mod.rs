//! The dashboard: HTML pages served by the daemon on the port of its API.
//!
//! - [`views`]: pure functions from the daemon's data ([`Status`], [`Snapshot`]) to page data
//!   and from page data to HTML (with [`html`]: escaping, the layout and the one stylesheet,
//!   and [`svg`]: charts drawn on the server). No JavaScript is needed to read anything.
//! - [`propose`]: the "propose a change" forms. A proposal is the TOML a person would have
//!   written, validated with the same code as `berth validate`, planned offline against the
//!   base revision, and committed to a new branch by [`crate::source::propose`].
//! - [`auth`]: the token that unlocks the forms (compared in constant time), sessions and CSRF
//!   tokens (HMAC), the same-origin check of every POST.
//! - [`routes`]: the axum handlers.
//!
//! **The dashboard never writes to a cluster**: it reads what the reconcile loop recorded
//! ([`record`]) and its only write is a Git commit on a new branch.

pub mod auth;
pub mod html;
pub mod live;
pub mod propose;
pub mod routes;
pub mod svg;
pub mod views;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::apply::{ChangeSet, Outcome};
use crate::pipeline::Observation;
use crate::plan::Plan;
use crate::source::propose::ProposalRepo;
use crate::spec::model::Config;
use crate::values::time::now_unix;

use super::status::{Status, SyncRecord, TenantEvent, TENANT_HISTORY_LEN};
use live::TenantLive;

/// Quota samples kept per tenant in memory (for the tenant page's chart).
pub const USAGE_SAMPLES: usize = 96;

/// How the dashboard is configured.
#[derive(Debug, Clone, Default)]
pub struct DashboardSettings {
    /// The token that unlocks the proposal forms; `None`: the forms are disabled.
    pub token: Option<String>,
}

impl DashboardSettings {
    /// Reads the token from `token_file`, else from the environment variable
    /// `BERTH_DASHBOARD_TOKEN`. Surrounding white space is ignored; an empty token is an error.
    pub fn resolve(token_file: Option<&Path>) -> Result<DashboardSettings, String> {
        let token = match token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--dashboard-token-file {}: {e}", path.display()))?,
            ),
            None => std::env::var("BERTH_DASHBOARD_TOKEN").ok(),
        };
        let token = token.map(|t| t.trim().to_string());
        if token.as_deref() == Some("") {
            return Err("the dashboard token is empty; write a long random string, or leave it unset to disable the forms".into());
        }
        Ok(DashboardSettings { token })
    }
}

/// One quota sample of a tenant: used and hard per resource, as numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSample {
    /// Unix seconds.
    pub at: i64,
    /// `(resource, used, hard)`.
    pub values: Vec<(String, f64, f64)>,
}

/// What the last sync or drift check saw, for the pages: kept in memory only (the status,
/// persisted, has the history).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The last good configuration.
    pub config: Option<Arc<Config>>,
    /// The plan of the last sync or drift check.
    pub plan: Option<Arc<Plan>>,
    /// Its changes that were not applied (the daemon follows, a change is blocked or failed,
    /// or a drift check only reported): what Git has that the clusters do not.
    pub pending: Option<Arc<Plan>>,
    /// When the plan was made (unix seconds) and by what (`startup`, `drift`, ...).
    pub planned_at: Option<(i64, String)>,
    /// Live summaries by tenant.
    pub live: BTreeMap<String, TenantLive>,
    /// Quota use over time, by tenant.
    pub usage: BTreeMap<String, VecDeque<UsageSample>>,
}

/// The dashboard's state in [`super::Shared`].
pub struct Dashboard {
    /// What the last sync saw.
    pub snapshot: RwLock<Snapshot>,
    /// Token, sessions and CSRF.
    pub auth: auth::Auth,
    /// Where proposals are committed, or why they cannot be.
    pub proposals: Result<ProposalRepo, String>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("forms", &self.auth.enabled())
            .field("proposals", &self.proposals.as_ref().map(|r| r.describe()))
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard of a daemon: `repo_dir` is the config directory when the source is one.
    pub fn new(settings: &DashboardSettings, repo_dir: Option<&Path>) -> Dashboard {
        let proposals = match repo_dir {
            Some(dir) => ProposalRepo::discover(dir).map_err(|e| e.to_string()),
            None => {
                Err("the config source is not a Git repository the daemon can commit to".into())
            }
        };
        Dashboard {
            snapshot: RwLock::new(Snapshot::default()),
            auth: auth::Auth::new(settings.token.as_deref()),
            proposals,
        }
    }

    /// Replaces where proposals go (a Git source hands over its repository and push target).
    pub fn set_proposals(&mut self, repo: Result<ProposalRepo, String>) {
        self.proposals = repo;
    }
}

/// Records what a sync or drift check saw: the configuration, the plan and what is still
/// pending of it, the tenants' live summaries and quota samples (in the snapshot), and one
/// event per tenant it concerned (in the status, persisted with it).
pub fn record(
    dashboard: &Dashboard,
    status: &RwLock<Status>,
    config: &Config,
    observation: &Observation,
    set: Option<&ChangeSet>,
    record: &SyncRecord,
) {
    let now = now_unix();
    let plan = &observation.plan;
    let applied: HashSet<(&str, &crate::object::ObjectRef)> = set
        .map(|s| {
            s.entries
                .iter()
                .filter(|e| matches!(e.outcome, Outcome::Applied))
                .map(|e| (e.cluster.as_str(), &e.id))
                .collect()
        })
        .unwrap_or_default();
    let mut pending = plan.clone();
    pending
        .changes
        .retain(|c| !applied.contains(&(c.cluster.as_str(), &c.id)));
    pending.drift.clear();
    pending.summarize();

    let mut per_tenant: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for c in &plan.changes {
        let e = per_tenant.entry(c.tenant.as_str()).or_default();
        if applied.contains(&(c.cluster.as_str(), &c.id)) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for d in &plan.drift {
        per_tenant.entry(d.tenant.as_str()).or_default().2 += 1;
    }
    let mut errors: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    if let Some(s) = set {
        for e in s.failures() {
            if let Outcome::Failed(m) = &e.outcome {
                errors.entry(e.tenant.as_str()).or_default().push(m.clone());
            }
        }
    }

    let live = live::summarize(&observation.observed);
    {
        let mut snap = dashboard.snapshot.write().unwrap();
        for (tenant, l) in &live {
            let values: Vec<(String, f64, f64)> = l
                .quota
                .iter()
                .filter_map(|q| {
                    let used = crate::values::parse_quantity(q.used.as_deref()?).ok()?;
                    let hard = crate::values::parse_quantity(&q.hard).ok()?;
                    Some((q.resource.clone(), used.to_f64(), hard.to_f64()))
                })
                .collect();
            if values.is_empty() {
                continue;
            }
            let samples = snap.usage.entry(tenant.clone()).or_default();
            samples.push_back(UsageSample { at: now, values });
            while samples.len() > USAGE_SAMPLES {
                samples.pop_front();
            }
        }
        let known: HashSet<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        snap.usage.retain(|t, _| known.contains(t.as_str()));
        snap.config = Some(Arc::new(config.clone()));
        snap.plan = Some(Arc::new(plan.clone()));
        snap.pending = Some(Arc::new(pending));
        snap.planned_at = Some((now, record.trigger.clone()));
        snap.live = live;
    }

    let mut status = status.write().unwrap();
    let at = crate::values::time::format_rfc3339(now);
    for (tenant, (done, left, drifted)) in per_tenant {
        if tenant.is_empty() {
            continue;
        }
        let errs = errors.remove(tenant).unwrap_or_default();
        let result = if !errs.is_empty() {
            "failed"
        } else if done > 0 && left == 0 {
            "applied"
        } else if left > 0 {
            "pending"
        } else {
            "drift"
        };
        let history = status.tenant_history.entry(tenant.to_string()).or_default();
        // A drift check that finds what the last one found is not news.
        if history.back().is_some_and(|last| {
            last.revision == record.revision
                && last.result == result
                && (last.applied, last.pending, last.drifted) == (done, left, drifted)
                && last.errors == errs
        }) {
            continue;
        }
        history.push_back(TenantEvent {
            at: at.clone(),
            revision: record.revision.clone(),
            trigger: record.trigger.clone(),
            result: result.into(),
            applied: done,
            pending: left,
            drifted,
            errors: errs,
        });
        while history.len() > TENANT_HISTORY_LEN {
            history.pop_front();
        }
    }
    let known: HashSet<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
    status
        .tenant_history
        .retain(|t, _| known.contains(t.as_str()));
}
