//! The apply stage end to end against the embedded cluster: real synthetic config, render,
//! observe, plan, apply, and observe + plan again.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::cluster::EmbeddedCluster;
use crate::observe::{observe, ObserveOptions, Observed};
use crate::plan::{plan, PlanOptions};
use crate::render::{render, TemplateSet};
use crate::source::SourceTree;
use crate::spec::model::Config;
use crate::store::ObjectStore;
use crate::synth;

const TENANTS: usize = 8;

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(dir.path(), TENANTS).unwrap();
    dir
}

fn tenant_file(dir: &Path, i: usize) -> std::path::PathBuf {
    dir.join(format!("tenants/{}.toml", synth::tenant_name(i)))
}

fn unprotect(dir: &Path, i: usize) {
    let path = tenant_file(dir, i);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("deletion_protection = false\n{text}")).unwrap();
}

fn remove_tenant(dir: &Path, i: usize) {
    let name = synth::tenant_name(i);
    std::fs::remove_file(dir.join(format!("tenants/{name}.toml"))).unwrap();
    std::fs::remove_file(dir.join(format!("backups/{name}.toml"))).unwrap();
}

fn edit_tenant(dir: &Path, i: usize, from: &str, to: &str) {
    let path = tenant_file(dir, i);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

struct Cluster {
    store: ObjectStore,
    backends: BTreeMap<String, Backend>,
}

fn cluster() -> Cluster {
    let store = ObjectStore::in_memory().unwrap();
    let backend = Backend::Embedded(EmbeddedCluster::from_store("local", store.clone()));
    Cluster {
        store,
        backends: BTreeMap::from([("local".to_string(), backend)]),
    }
}

/// Everything one pipeline run produced.
struct Run {
    tree: SourceTree,
    config: Config,
    rendered: Rendered,
    observed: Observed,
    plan: Plan,
}

async fn run_plan(dir: &Path, cluster: &Cluster) -> Run {
    run_plan_permitting(dir, cluster, &[]).await
}

/// [`run_plan`], with these tenants permitted by name to be destroyed.
async fn run_plan_permitting(dir: &Path, cluster: &Cluster, allow_destroy: &[String]) -> Run {
    let tree = crate::source::read_dir(dir).unwrap();
    let config = crate::spec::load_config(&tree)
        .config
        .expect("valid config");
    let rendered = render(&config, &TemplateSet::builtin()).unwrap();
    let observed = observe(
        &config,
        &rendered,
        &cluster.backends,
        &ObserveOptions::default(),
    )
    .await;
    let plan = plan(
        &config,
        &rendered,
        &observed,
        &PlanOptions::from_config(&config).permitting(allow_destroy, false),
    );
    Run {
        tree,
        config,
        rendered,
        observed,
        plan,
    }
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        concurrency: 4,
        tenant_concurrency: 4,
        max_deletions: 200,
        allow_mass_deletion: false,
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(1),
            max: Duration::from_millis(10),
            jitter: true,
            budget: None,
        },
        ..ApplyOptions::default()
    }
}

async fn run_apply(run: &Run, cluster: &Cluster, opts: &ApplyOptions) -> ChangeSet {
    apply(&run.plan, &run.rendered, &cluster.backends, opts, &|_| {}).await
}

/// `Kind/ns/name` -> resourceVersion of everything in the store.
async fn versions(cluster: &Cluster) -> BTreeMap<String, (String, String)> {
    let (objects, _) = cluster.backends["local"]
        .list_owned(&crate::cluster::KindRef::managed(), 500)
        .await
        .unwrap();
    objects
        .into_iter()
        .map(|o| {
            let manifest = o.manifest();
            let rv = manifest["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
            let tenant = manifest["metadata"]["labels"]["berth.io/tenant"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (o.id.to_string(), (rv, tenant))
        })
        .collect()
}

/// Applies the repo's config from empty and checks it converged.
async fn applied(dir: &Path, cluster: &Cluster) -> Run {
    let run = run_plan(dir, cluster).await;
    let set = run_apply(&run, cluster, &opts()).await;
    assert!(set.succeeded(), "{set:#?}");
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_from_empty_creates_everything_then_a_second_apply_writes_nothing() {
    let dir = repo();
    let cluster = cluster();
    let run = run_plan(dir.path(), &cluster).await;
    let n = run.rendered.objects.len();
    assert_eq!(run.plan.changes.len(), n);

    let events = RefCell::new(Vec::new());
    let set = apply(
        &run.plan,
        &run.rendered,
        &cluster.backends,
        &opts(),
        &|e: &ApplyEvent| events.borrow_mut().push(e.clone()),
    )
    .await;
    assert!(set.succeeded(), "{set:#?}");
    assert_eq!(set.summary(), (n, 0, 0, 0, 0));
    assert!(set.entries.iter().all(|e| e.attempts == 1));
    assert_eq!(cluster.store.len().unwrap(), n);

    // Waves: within a tenant, no object starts before every object of an earlier wave is done.
    let events = events.into_inner();
    for t in &run.config.tenants {
        let ns = &t.namespace;
        let mine = |id: &ObjectRef| id.namespace.as_deref() == Some(ns) || id.name == *ns;
        let mut done_wave = 0u8;
        let mut started_max = 0u8;
        for e in &events {
            match e {
                ApplyEvent::Started { id, .. } if mine(id) => {
                    assert!(id.wave() >= started_max, "{id} started out of order");
                    started_max = started_max.max(id.wave());
                    assert!(id.wave() >= done_wave);
                }
                ApplyEvent::Done { id, .. } if mine(id) => done_wave = done_wave.max(id.wave()),
                _ => {}
            }
        }
    }
    // The last-applied annotation is exactly the rendered text.
    let first = &run.rendered.objects[0];
    let live = cluster.backends["local"]
        .get(&first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
        json!(first.manifest.as_str())
    );

    let again = run_plan(dir.path(), &cluster).await;
    assert!(again.plan.changes.is_empty(), "{:#?}", again.plan.changes);
    assert!(again.plan.drift.is_empty(), "{:#?}", again.plan.drift);
    let rv = cluster.store.resource_version().unwrap();
    let set = run_apply(&again, &cluster, &opts()).await;
    assert!(set.succeeded() && set.entries.is_empty());
    assert_eq!(
        cluster.store.resource_version().unwrap(),
        rv,
        "a no-op apply wrote"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_one_tenant_writes_only_its_objects() {
    let dir = repo();
    let cluster = cluster();
    applied(dir.path(), &cluster).await;
    let before = versions(&cluster).await;

    // Tenant 6 is "medium": three replicas, at most three.
    edit_tenant(dir.path(), 6, "replicas = 3", "replicas = 2");
    let run = run_plan(dir.path(), &cluster).await;
    let changed = synth::tenant_name(6);
    assert!(!run.plan.changes.is_empty());
    assert!(run.plan.changes.iter().all(|c| c.tenant == changed));
    let set = run_apply(&run, &cluster, &opts()).await;
    assert!(set.succeeded(), "{set:#?}");
    assert_eq!(set.summary().1, run.plan.changes.len());

    let after = versions(&cluster).await;
    assert_eq!(before.len(), after.len());
    let written: Vec<_> = after
        .iter()
        .filter(|(k, v)| before[*k].0 != v.0)
        .map(|(k, v)| (k.clone(), v.1.clone()))
        .collect();
    assert!(!written.is_empty());
    assert!(written.iter().all(|(_, t)| *t == changed), "{written:?}");
    let sts = run
        .rendered
        .objects
        .iter()
        .find(|d| d.tenant == changed && d.id.kind == "StatefulSet")
        .unwrap();
    let sts = cluster
        .store
        .get(
            "StatefulSet",
            sts.id.namespace.as_deref().unwrap(),
            &sts.id.name,
        )
        .unwrap();
    assert_eq!(sts["spec"]["replicas"], json!(2));

    let again = run_plan(dir.path(), &cluster).await;
    assert!(again.plan.changes.is_empty(), "{:#?}", again.plan.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_unprotected_tenant_deletes_its_objects() {
    let dir = repo();
    unprotect(dir.path(), 1);
    let cluster = cluster();
    let first = applied(dir.path(), &cluster).await;
    let gone = synth::tenant_name(1);
    let theirs = first
        .rendered
        .objects
        .iter()
        .filter(|d| d.tenant == gone)
        .count();

    remove_tenant(dir.path(), 1);
    let run = run_plan(dir.path(), &cluster).await;
    assert_eq!(run.plan.changes.len(), theirs);
    assert!(run.plan.changes.iter().all(|c| c.action == Action::Delete));
    assert!(run.plan.changes.iter().all(|c| c.blocked.is_none()));

    // Nobody confirmed and the tenant is not named: refused, nothing written.
    let rv = cluster.store.resource_version().unwrap();
    let refused = run_apply(&run, &cluster, &opts()).await;
    let reason = refused.refused.expect("refused");
    assert!(
        reason.contains(&format!("--allow-destroy {gone}")),
        "{reason}"
    );
    assert_eq!(cluster.store.resource_version().unwrap(), rv);
    // Named: it goes.
    let run = run_plan_permitting(dir.path(), &cluster, std::slice::from_ref(&gone)).await;

    let events = RefCell::new(Vec::new());
    let set = apply(
        &run.plan,
        &run.rendered,
        &cluster.backends,
        &opts(),
        &|e: &ApplyEvent| events.borrow_mut().push(e.clone()),
    )
    .await;
    assert!(set.succeeded(), "{set:#?}");
    assert_eq!(set.summary(), (0, 0, theirs, 0, 0));
    // The Namespace takes its contents: one delete request.
    let started = events
        .borrow()
        .iter()
        .filter(|e| matches!(e, ApplyEvent::Started { .. }))
        .count();
    assert_eq!(started, 1);
    let left = versions(&cluster).await;
    assert!(left.values().all(|(_, t)| *t != gone));
    assert_eq!(left.len(), first.rendered.objects.len() - theirs);

    let again = run_plan(dir.path(), &cluster).await;
    assert!(again.plan.changes.is_empty(), "{:#?}", again.plan.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_protected_tenant_destroys_nothing_of_it() {
    let dir = repo();
    let cluster = cluster();
    let first = applied(dir.path(), &cluster).await;
    let gone = synth::tenant_name(7);
    let theirs: BTreeSet<String> = first
        .rendered
        .objects
        .iter()
        .filter(|d| d.tenant == gone)
        .map(|d| d.id.to_string())
        .collect();
    remove_tenant(dir.path(), 7);
    let run = run_plan(dir.path(), &cluster).await;
    assert!(run.plan.changes.is_empty(), "{:#?}", run.plan.changes);
    assert_eq!(run.plan.kept.len(), 1);
    let kept = &run.plan.kept[0];
    assert_eq!(kept.tenant, gone);
    assert_eq!(kept.removed_in, None);
    let listed: BTreeSet<String> = kept.objects.iter().map(|o| o.to_string()).collect();
    assert_eq!(listed, theirs);

    // Apply destroys nothing; it records which revision removed the tenant, once.
    let with_revision = ApplyOptions {
        revision: Some("rev-2".into()),
        ..opts()
    };
    assert!(records_due(&run.plan, &with_revision));
    let set = run_apply(&run, &cluster, &with_revision).await;
    assert!(set.succeeded(), "{set:#?}");
    assert!(set.entries.is_empty());
    let left: BTreeSet<String> = versions(&cluster)
        .await
        .into_iter()
        .filter(|(_, (_, t))| *t == gone)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(left, theirs, "objects of a protected tenant were destroyed");
    let again = run_plan(dir.path(), &cluster).await;
    assert_eq!(again.plan.kept[0].removed_in.as_deref(), Some("rev-2"));
    assert!(!records_due(&again.plan, &with_revision));

    // Permitted by name, all of it goes, the Namespace last.
    let run = run_plan_permitting(dir.path(), &cluster, std::slice::from_ref(&gone)).await;
    assert!(run.plan.kept.is_empty());
    let planned: BTreeSet<String> = run.plan.changes.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(planned, theirs);
    assert!(run
        .plan
        .changes
        .iter()
        .all(|c| c.action == Action::Delete && c.blocked.is_none()));
    assert_eq!(run.plan.changes.last().unwrap().id.kind, "Namespace");
    let set = run_apply(&run, &cluster, &opts()).await;
    assert!(set.succeeded(), "{set:#?}");
    assert!(versions(&cluster).await.values().all(|(_, t)| *t != gone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_back_in_the_configuration_loses_its_removal_record() {
    let dir = repo();
    let cluster = cluster();
    applied(dir.path(), &cluster).await;
    let name = synth::tenant_name(3);
    let files: Vec<(std::path::PathBuf, String)> = ["tenants", "backups"]
        .iter()
        .map(|d| dir.path().join(format!("{d}/{name}.toml")))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    remove_tenant(dir.path(), 3);
    let o = ApplyOptions {
        revision: Some("rev-2".into()),
        ..opts()
    };
    let run = run_plan(dir.path(), &cluster).await;
    assert!(run_apply(&run, &cluster, &o).await.succeeded());
    for (p, text) in &files {
        std::fs::write(p, text).unwrap();
    }
    let back = run_plan(dir.path(), &cluster).await;
    assert!(back.plan.kept.is_empty());
    assert_eq!(back.plan.returned.len(), 1);
    assert!(back.plan.changes.is_empty(), "{:#?}", back.plan.changes);
    assert!(records_due(&back.plan, &o));
    let set = run_apply(&back, &cluster, &o).await;
    assert!(set.succeeded(), "{set:#?}");
    let ns = cluster
        .store
        .get("Namespace", "", &format!("tenant-{name}"))
        .unwrap();
    assert!(
        ns.pointer(&format!(
            "/metadata/annotations/{}",
            crate::object::REMOVED_ANNOTATION.replace('/', "~1")
        ))
        .is_none(),
        "{ns:#}"
    );
    assert!(run_plan(dir.path(), &cluster)
        .await
        .plan
        .returned
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emptying_the_repository_is_refused_before_any_write() {
    let dir = repo();
    for i in 0..TENANTS {
        unprotect(dir.path(), i);
    }
    let cluster = cluster();
    applied(dir.path(), &cluster).await;
    for i in 0..TENANTS {
        remove_tenant(dir.path(), i);
    }
    let run = run_plan(dir.path(), &cluster).await;
    let rv = cluster.store.resource_version().unwrap();

    // Under the count limit, but every tenant Namespace goes.
    let set = run_apply(&run, &cluster, &opts()).await;
    let reason = set.refused.clone().expect("refused");
    assert!(reason.contains("every tenant Namespace"), "{reason}");
    assert!(set.entries.is_empty() && !set.succeeded());
    // Over the count limit.
    let strict = ApplyOptions {
        max_deletions: 5,
        ..opts()
    };
    let reason = run_apply(&run, &cluster, &strict).await.refused.unwrap();
    assert!(reason.contains("more than the limit of 5"), "{reason}");
    assert_eq!(
        cluster.store.resource_version().unwrap(),
        rv,
        "a refused apply wrote"
    );

    // Permitted as a mass deletion, it is still refused while nobody confirms the
    // destruction of each tenant's data.
    let allowed = ApplyOptions {
        allow_mass_deletion: true,
        ..opts()
    };
    let reason = run_apply(&run, &cluster, &allowed).await.refused.unwrap();
    assert!(reason.contains("destroys tenants"), "{reason}");
    let allowed = ApplyOptions {
        confirmed: true,
        ..allowed
    };
    let set = run_apply(&run, &cluster, &allowed).await;
    assert!(set.succeeded(), "{set:#?}");
    assert_eq!(cluster.store.len().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_one_of_two_tenants_is_no_mass_deletion_but_the_last_one_is() {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(dir.path(), 2).unwrap();
    unprotect(dir.path(), 0);
    unprotect(dir.path(), 1);
    let cluster = cluster();
    applied(dir.path(), &cluster).await;
    remove_tenant(dir.path(), 1);
    let run = run_plan(dir.path(), &cluster).await;
    assert_eq!(mass_deletion(&run.plan, &run.rendered, 100), None);
    remove_tenant(dir.path(), 0);
    let run = run_plan(dir.path(), &cluster).await;
    assert!(mass_deletion(&run.plan, &run.rendered, 100).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_round_trips_and_names_objects_changed_behind_its_back() {
    let dir = repo();
    let cluster = cluster();
    applied(dir.path(), &cluster).await;
    edit_tenant(dir.path(), 6, "replicas = 3", "replicas = 2");
    let run = run_plan(dir.path(), &cluster).await;
    let file = PlanFile::new(run.plan.clone(), &run.tree, &run.observed);
    let path = dir.path().join("saved.plan.json");
    file.save(&path).unwrap();
    let loaded = PlanFile::load(&path).unwrap();
    assert_eq!(loaded, file);
    assert_eq!(loaded.config_fingerprint, config_fingerprint(&run.tree));
    assert_eq!(loaded.config_fingerprint.len(), 64);
    let touched: usize = loaded.observed_versions.values().map(BTreeMap::len).sum();
    assert_eq!(touched, run.plan.changes.len());
    assert!(stale_objects(&loaded, &run.observed).is_empty());

    // Nothing changed: still current.
    let now = run_plan(dir.path(), &cluster).await;
    assert!(stale_objects(&loaded, &now.observed).is_empty());

    // Someone scales the StatefulSet by hand, and edits an object the plan does not touch.
    let sts = &run
        .plan
        .changes
        .iter()
        .find(|c| c.id.kind == "StatefulSet")
        .unwrap()
        .id;
    let ns = sts.namespace.as_deref().unwrap();
    cluster
        .store
        .merge_patch(
            "StatefulSet",
            ns,
            &sts.name,
            &json!({"spec": {"replicas": 1}}),
            "kubectl",
            false,
        )
        .unwrap();
    let other = run
        .rendered
        .objects
        .iter()
        .find(|d| d.tenant == synth::tenant_name(0) && d.id.kind == "ServiceAccount")
        .unwrap();
    cluster
        .store
        .merge_patch(
            "ServiceAccount",
            other.id.namespace.as_deref().unwrap(),
            &other.id.name,
            &json!({"metadata": {"labels": {"x": "y"}}}),
            "kubectl",
            false,
        )
        .unwrap();
    let now = run_plan(dir.path(), &cluster).await;
    let stale = stale_objects(&loaded, &now.observed);
    assert_eq!(stale, vec![format!("local: {sts} changed since the plan")]);

    // The config changed: another fingerprint.
    edit_tenant(dir.path(), 6, "replicas = 2", "replicas = 1");
    let tree = crate::source::read_dir(dir.path()).unwrap();
    assert_ne!(config_fingerprint(&tree), loaded.config_fingerprint);

    // A file of another format is refused by name.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(planfile::PLAN_FILE_FORMAT, "berth-plan/99");
    std::fs::write(&path, text).unwrap();
    let err = PlanFile::load(&path).unwrap_err();
    assert!(err.to_string().contains("berth-plan/99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_an_embedded_cluster_says_it_has_no_controllers() {
    let dir = repo();
    let cluster = cluster();
    let run = run_plan(dir.path(), &cluster).await;
    let set = run_apply(&run, &cluster, &opts()).await;
    let targets = statefulsets_to_wait_for(&set);
    assert_eq!(targets.len(), TENANTS);
    let events = RefCell::new(Vec::new());
    wait_ready(
        &cluster.backends,
        &targets,
        Duration::from_secs(1),
        &|e: &ApplyEvent| events.borrow_mut().push(e.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(
        events.into_inner(),
        vec![format!(
            "local: embedded cluster runs no controllers; {TENANTS} StatefulSet(s) taken as ready"
        )]
    );
}

#[test]
fn retry_delays_grow_and_stay_within_bounds() {
    let p = RetryPolicy::default();
    for attempt in 1..=10 {
        let full = (p.base * (1 << (attempt - 1))).min(p.max);
        let d = p.delay(attempt);
        assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
    }
    let fixed = RetryPolicy { jitter: false, ..p };
    assert_eq!(fixed.delay(1), Duration::from_millis(200));
    assert_eq!(fixed.delay(3), Duration::from_millis(800));
    assert_eq!(fixed.delay(9), Duration::from_secs(5));
}

#[test]
fn no_retry_begins_once_the_runs_retry_budget_is_spent() {
    let throttled = ClusterError::Transient {
        cluster: "c".into(),
        verb: "patch".into(),
        resource: "statefulsets.apps".into(),
        code: 429,
        message: "Too Many Requests".into(),
        retry_after: Some(Duration::from_secs(1)),
    };
    let budget = crate::cluster::RetryBudget::new(Duration::from_millis(1500));
    let p = RetryPolicy {
        jitter: false,
        budget: Some(budget.clone()),
        ..RetryPolicy::default()
    };
    // A retry after the 1 s the server asked for fits in 1.5 s; one after a 5 s delay
    // does not.
    assert_eq!(
        p.retry_after_failure(1, &throttled, retryable),
        Some(Duration::from_secs(1))
    );
    let slow = ClusterError::Transient {
        cluster: "c".into(),
        verb: "patch".into(),
        resource: "statefulsets.apps".into(),
        code: 503,
        message: "Service Unavailable".into(),
        retry_after: Some(Duration::from_secs(5)),
    };
    assert_eq!(p.retry_after_failure(1, &slow, retryable), None);
    // Not worth retrying, or out of attempts: no retry whatever the budget.
    let forbidden = ClusterError::Forbidden {
        cluster: "c".into(),
        verb: "patch".into(),
        resource: "statefulsets.apps".into(),
        message: "no".into(),
    };
    assert_eq!(p.retry_after_failure(1, &forbidden, retryable), None);
    assert_eq!(p.retry_after_failure(5, &throttled, retryable), None);
    assert_eq!(budget.retries(), BTreeMap::from([("throttled", 1)]));
    assert_eq!(
        budget.failures(),
        BTreeMap::from([("forbidden", 1), ("server_error", 1), ("throttled", 1)])
    );
    // A new run (the daemon's next sync) has its whole budget again.
    budget.restart();
    assert!(p.retry_after_failure(1, &throttled, retryable).is_some());
    assert_eq!(budget.retries()["throttled"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_deletes_then_applies_and_a_missing_cluster_fails_its_changes_only() {
    let dir = repo();
    let cluster = cluster();
    let mut run = applied(dir.path(), &cluster).await;
    let tenant = synth::tenant_name(2);
    let d = run
        .rendered
        .objects
        .iter_mut()
        .find(|d| d.tenant == tenant && d.id.kind == "StatefulSet")
        .unwrap();
    let ns = d.id.namespace.clone().unwrap();
    let old_uid =
        cluster.store.get("StatefulSet", &ns, &d.id.name).unwrap()["metadata"]["uid"].clone();
    let mut v = d.manifest.to_value();
    v["spec"]["serviceName"] = json!("renamed");
    d.manifest = crate::render::Manifest::from_value(&v);
    let sts = d.id.clone();
    let change = |id: &ObjectRef, cluster: &str, action| Change {
        id: id.clone(),
        cluster: cluster.to_string(),
        tenant: tenant.clone(),
        action,
        fields: Vec::new(),
        reason: None,
        blocked: None,
        desired: None,
    };
    let mut elsewhere = change(&sts, "gone", Action::Update);
    elsewhere.tenant = "other".into();
    run.plan.changes = vec![change(&sts, "local", Action::Replace), elsewhere];

    let set = run_apply(&run, &cluster, &opts()).await;
    assert_eq!(set.entries[0].outcome, Outcome::Applied, "{set:#?}");
    assert_eq!(set.entries[0].attempts, 2);
    assert!(
        matches!(&set.entries[1].outcome, Outcome::Failed(m) if m.contains("cluster `gone` is not connected")),
        "{set:#?}"
    );
    assert_eq!(set.summary(), (1, 0, 1, 1, 0));
    let live = cluster.store.get("StatefulSet", &ns, &sts.name).unwrap();
    assert_eq!(live["spec"]["serviceName"], json!("renamed"));
    assert_ne!(live["metadata"]["uid"], old_uid);
}

#[tokio::test]
async fn inputs_are_recorded_on_complete_tenants_and_only_when_out_of_date() {
    let dir = repo();
    let cluster = cluster();
    let run = run_plan(dir.path(), &cluster).await;
    let digests = crate::render::input_digests(&run.config, &TemplateSet::builtin(), None);
    let mut o = opts();
    o.inputs = crate::pipeline::tenant_inputs(&digests, &run.rendered, &run.observed);
    assert_eq!(o.inputs.len(), TENANTS);
    assert!(o.inputs.values().all(|i| i.recorded.is_none() && i.stale()));
    let set = run_apply(&run, &cluster, &o).await;
    assert!(set.succeeded());

    // Every tenant was applied completely: each Namespace records its digest.
    let run = run_plan(dir.path(), &cluster).await;
    assert!(!run.plan.has_changes());
    let inputs = crate::pipeline::tenant_inputs(&digests, &run.rendered, &run.observed);
    assert_eq!(inputs.len(), TENANTS);
    for ((_, tenant), i) in &inputs {
        assert_eq!(i.recorded.as_deref(), Some(digests[tenant].as_str()));
    }
    // Up to date: nothing to write.
    let mut o = opts();
    o.inputs = inputs.clone();
    assert!(records_to_write(&run.plan, &run.rendered, &o, &[], "now").is_empty());

    // Out of date and no changes: rewritten, alone. A tenant with a failed or skipped
    // change is not complete and keeps its old record.
    let mut stale = inputs.clone();
    for i in stale.values_mut() {
        i.recorded = Some("0".repeat(32));
    }
    o.inputs = stale;
    let records = records_to_write(&run.plan, &run.rendered, &o, &[], "now");
    assert_eq!(records.len(), TENANTS);
    for (_, annotations) in records.values() {
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            [crate::object::INPUTS_ANNOTATION]
        );
    }
    let first = run.rendered.objects[0].clone();
    let second = run
        .rendered
        .objects
        .iter()
        .find(|d| d.tenant != first.tenant)
        .unwrap()
        .clone();
    let entry = |d: &crate::render::DesiredObject, outcome: Outcome| ChangeSetEntry {
        id: d.id.clone(),
        cluster: d.cluster.clone(),
        tenant: d.tenant.clone(),
        action: Action::Update,
        outcome,
        attempts: 1,
    };
    let entries = [
        entry(&first, Outcome::Failed("boom".into())),
        entry(&second, Outcome::Skipped("blocked".into())),
    ];
    let records = records_to_write(&run.plan, &run.rendered, &o, &entries, "now");
    assert_eq!(records.len(), TENANTS - 2);
    assert!(!records.contains_key(&(first.cluster.clone(), first.tenant.clone())));
    assert!(!records.contains_key(&(second.cluster.clone(), second.tenant.clone())));
}
