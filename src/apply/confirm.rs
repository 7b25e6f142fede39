//! `berth plan --server-dry-run`: each planned create, update and replace is sent to the
//! cluster as a server-side dry-run apply, so that admission and server defaults take part
//! (as `kubectl diff` does). Changes the server says are no-ops are dropped; changes it
//! rejects are marked blocked with its message. The default plan stays a pure comparison.

use std::collections::BTreeMap;

use serde_json::Value;

use super::with_last_applied;
use crate::cluster::{Backend, ClusterError};
use crate::observe::Observed;
use crate::plan::{Action, Plan};
use crate::render::Rendered;

/// Confirms `plan` against the clusters; returns one line per change it could not confirm
/// (unreachable, forbidden, ...), which stays in the plan as it was.
pub async fn confirm_with_dry_run(
    plan: &mut Plan,
    rendered: &Rendered,
    observed: &Observed,
    backends: &BTreeMap<String, Backend>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let mut keep = Vec::with_capacity(plan.changes.len());
    for mut change in std::mem::take(&mut plan.changes) {
        if !matches!(
            change.action,
            Action::Create | Action::Update | Action::Replace
        ) {
            keep.push(change);
            continue;
        }
        let desired = rendered
            .objects
            .iter()
            .find(|d| d.cluster == change.cluster && d.id == change.id);
        let (Some(desired), Some(backend)) = (desired, backends.get(&change.cluster)) else {
            keep.push(change);
            continue;
        };
        let manifest = with_last_applied(desired);
        match backend.apply(&change.id, &manifest, true, true).await {
            Ok(merged) => {
                let live = observed
                    .clusters
                    .get(&change.cluster)
                    .and_then(|c| c.owned.iter().find(|o| o.id == change.id))
                    .map(|o| o.manifest());
                let unchanged = change.action == Action::Update
                    && live.is_some_and(|live| comparable(&merged) == comparable(&live));
                if !unchanged {
                    keep.push(change);
                }
            }
            Err(ClusterError::Invalid { message, .. }) => {
                change.blocked = Some(format!("the server rejects this change: {message}"));
                keep.push(change);
            }
            Err(e) => {
                notes.push(format!("could not confirm {}: {e}", change.id));
                keep.push(change);
            }
        }
    }
    plan.changes = keep;
    plan.summarize();
    notes
}

/// The object without what the server changes on every write.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in [
                "resourceVersion",
                "managedFields",
                "generation",
                "uid",
                "creationTimestamp",
            ] {
                meta.remove(key);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::EmbeddedCluster;
    use crate::observe::{observe, ObserveOptions};
    use crate::plan::{plan, Change, PlanOptions};
    use crate::render::{render, TemplateSet};
    use crate::store::ObjectStore;

    /// After an apply, a spurious update is dropped by the server's dry run, a real one is
    /// kept, and one the server rejects (an immutable field) is blocked with its message.
    #[tokio::test]
    async fn dry_run_drops_no_ops_and_blocks_rejected_changes() {
        let dir = tempfile::tempdir().unwrap();
        crate::synth::generate(dir.path(), 2).unwrap();
        let tree = crate::source::read_dir(dir.path()).unwrap();
        let config = crate::spec::load_config(&tree).config.unwrap();
        let rendered = render(&config, &TemplateSet::builtin()).unwrap();
        let store = ObjectStore::in_memory().unwrap();
        let backends = BTreeMap::from([(
            "local".to_string(),
            Backend::Embedded(EmbeddedCluster::from_store("local", store.clone())),
        )]);
        let opts = ObserveOptions::default();
        let observed = observe(&config, &rendered, &backends, &opts).await;
        let first = plan(
            &config,
            &rendered,
            &observed,
            &PlanOptions::from_config(&config),
        );
        let set =
            crate::apply::apply(&first, &rendered, &backends, &Default::default(), &|_| {}).await;
        assert!(set.succeeded());

        let observed = observe(&config, &rendered, &backends, &opts).await;
        let mut p = plan(
            &config,
            &rendered,
            &observed,
            &PlanOptions::from_config(&config),
        );
        assert!(p.changes.is_empty());
        let sts = rendered
            .objects
            .iter()
            .find(|d| d.id.kind == "StatefulSet")
            .unwrap();
        let update = |id: &crate::object::ObjectRef| Change {
            id: id.clone(),
            cluster: "local".into(),
            tenant: sts.tenant.clone(),
            action: Action::Update,
            fields: Vec::new(),
            reason: None,
            blocked: None,
            desired: None,
        };
        // A spurious update: the object is exactly as desired.
        p.changes.push(update(&sts.id));
        let notes = confirm_with_dry_run(&mut p, &rendered, &observed, &backends).await;
        assert!(notes.is_empty(), "{notes:?}");
        assert!(p.changes.is_empty(), "the server says nothing would change");

        // Someone changed the live object: the update is real and kept.
        store
            .merge_patch(
                "StatefulSet",
                sts.id.namespace.as_deref().unwrap(),
                "db",
                &serde_json::json!({"spec": {"replicas": 7}}),
                "someone",
                false,
            )
            .unwrap();
        let observed = observe(&config, &rendered, &backends, &opts).await;
        let mut p = plan(
            &config,
            &rendered,
            &observed,
            &PlanOptions::from_config(&config).permitting(&[], true),
        );
        assert_eq!(p.changes.len(), 1);
        confirm_with_dry_run(&mut p, &rendered, &observed, &backends).await;
        assert_eq!(p.changes.len(), 1);
        assert!(p.changes[0].blocked.is_none());

        // The server rejects a change of an immutable field.
        let mut changed = rendered.clone();
        for d in &mut changed.objects {
            if d.id == sts.id {
                let mut v = d.manifest.to_value();
                v["spec"]["serviceName"] = "other".into();
                d.manifest = crate::render::Manifest::from_value(&v);
            }
        }
        let mut p = plan(
            &config,
            &changed,
            &observed,
            &PlanOptions::from_config(&config),
        );
        for c in &mut p.changes {
            c.action = Action::Update; // as if the planner had missed it
            c.blocked = None;
        }
        confirm_with_dry_run(&mut p, &changed, &observed, &backends).await;
        let blocked = p.changes.iter().find(|c| c.id == sts.id).unwrap();
        let why = blocked.blocked.as_deref().unwrap_or_default();
        assert!(why.contains("the server rejects this change"), "{why}");
        assert!(why.contains("Forbidden"), "{why}");
    }
}
