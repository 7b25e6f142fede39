use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::fixtures::{cronjob, job, statefulset};
use super::*;
use crate::daemon::dashboard::{live, tenant_metrics, views, Snapshot};
use crate::daemon::status::{ClusterStatus, Status};
use crate::observe::{LiveObject, Observed, Workloads};
use crate::plan::{PlanOptions, Warning};
use crate::status::{tenant_details, tenant_statuses, StatusInput};
use crate::values::time::parse_rfc3339;

const NOW: &str = "2026-11-25T04:00:00Z";

fn now() -> i64 {
    parse_rfc3339(NOW).unwrap()
}

#[test]
fn a_job_ends_when_the_job_controller_says_so_not_by_its_counters() {
    let job = |status: Value| -> Job { serde_json::from_value(json!({"status": status})).unwrap() };
    let counted = job(json!({"failed": 7, "active": 0, "succeeded": 0}));
    assert_eq!(job_run(&counted).state, JobState::Running);
    let failed = job(json!({"failed": 1, "conditions": [
        {"type": "FailureTarget", "status": "True"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "lastTransitionTime": "2026-11-25T03:00:00Z"}]}));
    let run = job_run(&failed);
    assert_eq!(run.state, JobState::Failed);
    assert_eq!(run.at, Some(parse_rfc3339("2026-11-25T03:00:00Z").unwrap()));
    assert_eq!(run.message.as_deref(), Some("BackoffLimitExceeded"));
    let done = job(
        json!({"succeeded": 1, "completionTime": "2026-11-25T03:10:00Z", "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
    );
    assert_eq!(job_run(&done).state, JobState::Succeeded);
    assert_eq!(
        job_run(&done).at,
        Some(parse_rfc3339("2026-11-25T03:10:00Z").unwrap())
    );
    let not_yet = job(json!({"conditions": [{"type": "Failed", "status": "False"}]}));
    assert_eq!(job_run(&not_yet).state, JobState::Running);
}

#[test]
fn a_rollout_is_complete_as_kubectl_rollout_status_decides() {
    assert!(rollout(&statefulset(3, Some((3, 3)))).complete);
    // Every replica ready, two of the old template: not done.
    let mid = rollout(&statefulset(3, Some((3, 1))));
    assert!(mid.reported && !mid.complete);
    // The controller has not seen the new spec yet.
    let mut behind = statefulset(3, Some((3, 3)));
    behind.metadata.generation = Some(3);
    assert!(!rollout(&behind).complete);
    // No status: nothing reported (the embedded cluster).
    let silent = rollout(&statefulset(3, None));
    assert!(!silent.reported && !silent.complete);
    // A partition: only the replicas above it are updated.
    let mut part = statefulset(4, Some((4, 2)));
    part.spec.as_mut().unwrap().update_strategy = Some(
        serde_json::from_value(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
            .unwrap(),
    );
    assert!(rollout(&part).complete);
    // OnDelete: there is no rollout to wait for.
    let mut on_delete = statefulset(2, Some((2, 0)));
    on_delete.spec.as_mut().unwrap().update_strategy =
        Some(serde_json::from_value(json!({"type": "OnDelete"})).unwrap());
    assert!(rollout(&on_delete).complete);
}

/// The examples, applied as berth renders them, with what controllers would have reported:
/// acme's database mid-rollout and its backup Secret missing (the cluster's Secrets listed,
/// none there); globex's daily backup failed after its last success and overdue; initech's
/// paused weekly schedule long past its run (paused: not overdue).
struct World {
    config: crate::spec::model::Config,
    rendered: crate::render::Rendered,
    tree: crate::source::SourceTree,
    observed: Observed,
    plan: Plan,
    workloads: BTreeMap<String, Workloads>,
}

fn world() -> World {
    let tree =
        crate::source::read_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
            .unwrap();
    let lr = crate::pipeline::load_and_render(&tree, &[]);
    let config = lr.load.config.unwrap();
    let rendered = lr.rendered.unwrap();
    let mut observed = crate::plan::as_applied(&rendered, config.clusters.keys().cloned());
    let now = now();
    let day = 86_400;
    let local = observed.clusters.get_mut("local").unwrap();
    local.secrets = Some(Vec::new());
    for o in &mut local.owned {
        let mut v = o.manifest();
        let status = match (o.tenant(), o.id.kind.as_str(), o.id.name.as_str()) {
            ("acme", "StatefulSet", _) => json!({"observedGeneration": 1, "replicas": 5,
                "readyReplicas": 5, "updatedReplicas": 2, "currentReplicas": 3,
                "currentRevision": "db-1", "updateRevision": "db-2"}),
            (_, "StatefulSet", _) => {
                let n = v["spec"]["replicas"].clone();
                json!({"observedGeneration": 1, "replicas": n, "readyReplicas": n,
                    "updatedReplicas": n, "currentReplicas": n,
                    "currentRevision": "db-1", "updateRevision": "db-1"})
            }
            ("globex", "CronJob", _) => json!({"lastSuccessfulTime": format(now - 5 * day)}),
            ("initech", "CronJob", _) => json!({"lastSuccessfulTime": format(now - 60 * day)}),
            (_, "CronJob", _) => json!({"lastSuccessfulTime": format(now - 1800)}),
            _ => continue,
        };
        v["metadata"]["generation"] = json!(1);
        v["metadata"]["creationTimestamp"] = json!(format(now - 90 * day));
        v["status"] = status;
        *o = LiveObject::new(o.id.clone(), &v);
    }
    let plan = crate::plan::plan(&config, &rendered, &observed, &PlanOptions::default());
    let workloads = BTreeMap::from([(
        "local".to_string(),
        Workloads {
            jobs: vec![job(
                "globex",
                "tenant-globex",
                "backup-daily-29400000",
                Some("daily"),
                Some(now - day),
            )],
            ..Workloads::default()
        },
    )]);
    World {
        config,
        rendered,
        tree,
        observed,
        plan,
        workloads,
    }
}

fn format(t: i64) -> String {
    crate::values::time::format_rfc3339(t)
}

/// One cluster state, every view: `berth status`, `berth show tenant`, the dashboard's
/// overview and tenant pages, the daemon's metrics and apply's readiness wait say the same
/// of every tenant.
#[test]
fn every_view_says_the_same_of_the_same_cluster_state() {
    let w = world();
    let now = now();
    assert!(
        w.plan
            .warnings
            .iter()
            .any(|x: &Warning| x.kind == "missing_secret"),
        "{:?}",
        w.plan.warnings
    );
    let input = StatusInput {
        config: &w.config,
        observed: &w.observed,
        plan: &w.plan,
        workloads: &w.workloads,
        now,
    };
    let statuses = tenant_statuses(&input, &[], &[]);

    // The daemon after a sync of the same observation.
    let mut status = Status::default();
    status.clusters.insert(
        "local".into(),
        ClusterStatus {
            reachable: Some(true),
            error: None,
            tenants: 3,
        },
    );
    for t in &w.config.tenants {
        status.tenants.insert(
            t.name.clone(),
            crate::daemon::status::TenantStatus {
                cluster: t.cluster.clone(),
                last_result: "ok".into(),
                ..Default::default()
            },
        );
    }
    let snap = Snapshot {
        config: Some(Arc::new(w.config.clone())),
        plan: Some(Arc::new(w.plan.clone())),
        pending: Some(Arc::new(w.plan.clone())),
        live: live::summarize(&w.observed, &w.workloads),
        ..Snapshot::default()
    };
    let overview = views::overview(&status, &snap, now, &views::Filter::default());
    let metrics = tenant_metrics(&status, &snap, now);

    let expected: BTreeMap<&str, (&str, Vec<&str>)> = BTreeMap::from([
        (
            "acme",
            (
                "attention",
                vec![
                    "database rolling out (2/5 updated)",
                    "Secret/tenant-acme/backup-s3 missing",
                ],
            ),
        ),
        (
            "globex",
            (
                "failing",
                vec!["1 failing job", "backup `daily` overdue by 4d"],
            ),
        ),
        ("initech", ("ok", vec![])),
    ]);
    for s in &statuses {
        let (state, problems) = &expected[s.tenant.as_str()];
        let name = s.tenant.as_str();
        // berth status
        assert_eq!(s.state.as_str(), *state, "status of {name}: {s:#?}");
        assert_eq!(&s.problems, problems, "status of {name}");
        // berth show tenant
        let t = w.config.tenants.iter().find(|t| t.name == name).unwrap();
        let details = tenant_details(&input, t, &w.rendered, &w.tree);
        assert_eq!(details.status, *s, "show tenant {name}");
        // The dashboard: overview row and tenant page.
        let row = overview.rows.iter().find(|r| r.name == name).unwrap();
        assert_eq!(&row.problems, problems, "overview row of {name}");
        assert_eq!(row.failing_jobs, s.failing_jobs.len(), "{name}");
        let page = views::tenant_data(name, &status, &snap, now).unwrap();
        assert_eq!(&page.problems, problems, "tenant page of {name}");
        let severity = match s.state {
            State::Ok => views::Severity::Ok,
            State::Attention => views::Severity::Warn,
            State::Failing | State::Unknown => views::Severity::Bad,
        };
        assert_eq!(
            (row.severity, page.severity),
            (severity, severity),
            "{name}"
        );
        // Metrics: the state and the kinds of its reasons.
        for st in State::ALL {
            let line = format!(
                "berth_tenant_health{{tenant=\"{name}\",state=\"{}\"}} {}",
                st.as_str(),
                u8::from(st == s.state)
            );
            assert!(metrics.contains(&line), "{line}\n{metrics}");
        }
        let kinds: Vec<&str> = metrics
            .lines()
            .filter_map(|l| {
                l.strip_prefix(&format!(
                    "berth_tenant_problems{{tenant=\"{name}\",reason=\""
                ))
            })
            .filter_map(|l| l.split('"').next())
            .collect();
        let mut want: Vec<&str> = s.reasons.iter().map(Reason::kind).collect();
        want.sort_unstable();
        assert_eq!(kinds, want, "metrics of {name}");
        // Apply's wait: ready exactly when no view says the database is not.
        let sts: Vec<StatefulSet> = w.observed.clusters["local"]
            .owned
            .iter()
            .filter(|o| o.tenant() == name && o.id.kind == "StatefulSet")
            .filter_map(typed)
            .collect();
        let waits = sts.iter().any(|x| !rollout(x).complete);
        let says_not_ready = s.reasons.iter().any(|r| {
            matches!(
                r,
                Reason::DatabaseNotReady { .. } | Reason::DatabaseRollingOut { .. }
            )
        });
        assert_eq!(waits, says_not_ready, "the wait and the views on {name}");
    }
    // The overview's count and the paused schedule.
    let attention = overview
        .cards
        .iter()
        .find(|c| c.label == "need attention")
        .unwrap();
    assert_eq!(attention.n, "2");
    let initech = w
        .config
        .tenants
        .iter()
        .find(|t| t.name == "initech")
        .unwrap();
    let details = tenant_details(&input, initech, &w.rendered, &w.tree);
    assert!(details.backups[0].paused && details.backups[0].next_run.is_none());
    let backups = views::backups_data(&status, &snap, now);
    let overdue = backups.cards.iter().find(|c| c.label == "overdue").unwrap();
    assert_eq!(overdue.n, "1", "only globex's daily schedule");
}

#[test]
fn a_suspended_cronjob_is_never_overdue_and_a_failure_before_the_last_success_is_not_failing() {
    let w = world();
    let now = now();
    let globex = w
        .config
        .tenants
        .iter()
        .find(|t| t.name == "globex")
        .unwrap();
    let mut live = Live {
        namespace_exists: true,
        statefulsets: vec![statefulset(3, Some((3, 3)))],
        cronjobs: vec![cronjob(
            "daily",
            now - 90 * 86_400,
            Some(now - 5 * 86_400),
            true,
        )],
        jobs: vec![job(
            "globex",
            "tenant-globex",
            "backup-daily-1",
            Some("daily"),
            Some(now - 6 * 86_400),
        )],
        pods: vec![],
    };
    let input = |live: &Live| -> TenantHealth {
        assess(&TenantInput {
            config: Some(globex),
            cluster: "local",
            tenant: "globex",
            namespace: "tenant-globex",
            reading: Reading::Observed(live),
            plan: None,
            pending: None,
            sync_errors: 0,
            now,
        })
    };
    let h = input(&live);
    assert_eq!(h.state, State::Ok, "{h:#?}");
    assert!(h.schedules[0].paused);
    // Resumed: the run after the last success is days past.
    live.cronjobs = vec![cronjob(
        "daily",
        now - 90 * 86_400,
        Some(now - 5 * 86_400),
        false,
    )];
    let h = input(&live);
    assert_eq!(
        h.reasons.iter().map(Reason::kind).collect::<Vec<_>>(),
        ["backup_overdue"]
    );
    // Never succeeded: counted from the CronJob's creation; its failed Job now counts.
    live.cronjobs = vec![cronjob("daily", now - 600, None, false)];
    assert_eq!(
        input(&live).failing_jobs,
        ["Job/tenant-globex/backup-daily-1"]
    );
    live.jobs.clear();
    assert_eq!(input(&live).state, State::Ok);
}
