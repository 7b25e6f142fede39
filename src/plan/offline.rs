//! Offline plans of a change: a base revision's rendered objects stand in for the live state.

use std::collections::BTreeMap;

use crate::observe::{ClusterState, LiveObject, Observed};
use crate::render::Rendered;

/// The live state the clusters would have if `rendered` had been applied by berth exactly and
/// nothing else had touched them: every object as berth sends it (the manifest plus its
/// last-applied annotation), on its cluster. Every cluster of `clusters` is present, with no
/// objects when nothing goes there. No cluster is contacted.
pub fn as_applied(rendered: &Rendered, clusters: impl IntoIterator<Item = String>) -> Observed {
    let mut by_cluster: BTreeMap<String, ClusterState> = clusters
        .into_iter()
        .map(|c| (c.clone(), empty(c)))
        .collect();
    for d in &rendered.objects {
        let state = by_cluster
            .entry(d.cluster.clone())
            .or_insert_with(|| empty(d.cluster.clone()));
        let manifest = crate::apply::with_last_applied(d);
        state.owned.push(LiveObject::new(d.id.clone(), &manifest));
    }
    for state in by_cluster.values_mut() {
        state.owned.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Observed {
        clusters: by_cluster,
    }
}

fn empty(cluster: String) -> ClusterState {
    ClusterState {
        cluster,
        owned: Vec::new(),
        unowned: Vec::new(),
        error: None,
        gaps: Default::default(),
        requests: 0,
        // Not listed: whether credentials Secrets exist is a question for a cluster.
        secrets: None,
    }
}

/// The plan of a change from `base` (rendered, taken as exactly applied) to `config` and
/// `rendered`, with no cluster: what a pull request would do. Restores already in the base
/// only look started offline (their Job is "live"), so only the restores the change requests
/// are kept.
pub fn plan_change(
    config: &crate::spec::model::Config,
    rendered: &Rendered,
    base: &Rendered,
    base_clusters: impl IntoIterator<Item = String>,
    opts: &super::PlanOptions,
) -> super::Plan {
    let clusters: std::collections::BTreeSet<String> = config
        .clusters
        .keys()
        .cloned()
        .chain(base_clusters)
        .collect();
    let observed = as_applied(base, clusters);
    let mut plan = super::plan(config, rendered, &observed, opts);
    plan.restores
        .retain(|r| r.state == super::restores::RestoreState::Requested);
    plan
}
