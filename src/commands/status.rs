//! `berth status [DIR]`: one line per tenant. Exit 0 when every tenant is fine, 2 when one
//! needs attention (a reason of [`crate::health`]: drift, changes not applied, database not
//! ready or rolling out, failing or overdue backups, no backup schedule, a missing credentials
//! Secret), 1 when a cluster could not be read or the configuration is invalid.

use std::collections::BTreeMap;

use super::plan::{compute_read_only, runtime, Planned};
use super::{CommandError, Outcome};
use crate::cli::{StatusArgs, StatusFormat, TargetArgs};
use crate::observe::{self, WorkloadQuery, Workloads};
use crate::output;
use crate::printer::Printer;
use crate::status::{tenant_statuses, StatusInput, TenantStatus};
use crate::values::time::{now_unix, parse_rfc3339};

/// Now, for ages and next runs: `BERTH_NOW` (RFC 3339) when set, for reproducible output;
/// else the clock.
pub fn now() -> Result<i64, CommandError> {
    match std::env::var("BERTH_NOW") {
        Ok(s) if !s.is_empty() => parse_rfc3339(&s)
            .map_err(|e| anyhow::anyhow!("BERTH_NOW={s:?} is not an RFC 3339 time: {e}")),
        _ => Ok(now_unix()),
    }
}

/// Reads the Jobs of the planned tenants (one LIST per cluster) and, for `pods_of`, the Pods
/// of their database StatefulSets.
pub fn workloads(
    planned: &Planned,
    tenants: &[String],
    pods_of: &[String],
    runtime: &tokio::runtime::Runtime,
) -> BTreeMap<String, Workloads> {
    let mut queries: BTreeMap<String, WorkloadQuery> = BTreeMap::new();
    for t in &planned.config.tenants {
        if !tenants.is_empty() && !tenants.contains(&t.name) {
            continue;
        }
        if !planned.backends.contains_key(&t.cluster)
            || planned
                .observed
                .clusters
                .get(&t.cluster)
                .is_none_or(|s| s.error.is_some())
        {
            continue;
        }
        let q = queries.entry(t.cluster.clone()).or_default();
        q.job_tenants.push(t.name.clone());
        if pods_of.contains(&t.name) {
            let state = &planned.observed.clusters[&t.cluster];
            for sts in state
                .owned
                .iter()
                .filter(|o| o.id.kind == "StatefulSet" && o.tenant() == t.name)
            {
                let m = sts.manifest();
                // An empty or unreadable selector would list every pod: none are read.
                let selector = m
                    .pointer("/spec/selector")
                    .and_then(crate::cluster::selector_text)
                    .filter(|s| !s.is_empty());
                if let Some(selector) = selector {
                    q.pods.push((t.name.clone(), t.namespace.clone(), selector));
                }
            }
        }
    }
    runtime.block_on(observe::observe_workloads(&planned.backends, queries))
}

/// The exit outcome of a set of tenant statuses.
pub fn outcome_of(rows: &[&TenantStatus]) -> Outcome {
    if rows.iter().any(|r| r.error.is_some()) {
        Outcome::Failure
    } else if rows.iter().any(|r| !r.problems.is_empty()) {
        Outcome::Changes
    } else {
        Outcome::Success
    }
}

/// `berth status`.
pub fn run(args: &StatusArgs, printer: &Printer) -> Result<Outcome, CommandError> {
    let now = now()?;
    let runtime = runtime()?;
    let target = TargetArgs::read_only(&args.target);
    let Some(planned) = compute_read_only(&args.source, &target, printer, &runtime)? else {
        return Ok(Outcome::Failure);
    };
    let mut workloads = workloads(&planned, &args.target.tenant, &[], &runtime);
    note_workload_errors(&mut workloads, printer);
    let input = StatusInput {
        config: &planned.config,
        observed: &planned.observed,
        plan: &planned.plan,
        workloads: &workloads,
        now,
    };
    let rows = tenant_statuses(&input, &args.target.tenant, &args.target.cluster);
    printer.out(&match args.output {
        StatusFormat::Text => output::status::status_text(&rows),
        StatusFormat::Json => output::status::status_json(&rows, now),
    });
    Ok(outcome_of(&rows.iter().collect::<Vec<_>>()))
}

/// Jobs and Pods that could not be read leave their columns empty: say so on stderr.
pub fn note_workload_errors(workloads: &mut BTreeMap<String, Workloads>, printer: &Printer) {
    for (cluster, w) in workloads.iter_mut() {
        if let Some(e) = w.error.take() {
            printer.err(&format!(
                "warning: cluster `{cluster}`: cannot read jobs and pods: {e}\n"
            ));
        }
    }
}
