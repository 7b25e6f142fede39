use serde_json::json;

use super::*;
use crate::object::ObjectRef;
use crate::plan::{
    Action, Change, Conflict, Drift, DriftKind, FieldChange, Plan, RestoreState, RestoreStatus,
    Summary, Warning, FORMAT_VERSION, SENSITIVE_MARKER,
};

fn id(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.map(Into::into),
        name: name.into(),
    }
}

fn field(
    path: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> FieldChange {
    FieldChange {
        path: path.into(),
        before,
        after,
        sensitive: false,
    }
}

fn secret_field(path: &str) -> FieldChange {
    FieldChange {
        path: path.into(),
        before: Some(json!(SENSITIVE_MARKER)),
        after: Some(json!(SENSITIVE_MARKER)),
        sensitive: true,
    }
}

fn change(tenant: &str, id: ObjectRef, action: Action) -> Change {
    Change {
        id,
        cluster: "local".into(),
        tenant: tenant.into(),
        action,
        fields: vec![],
        reason: None,
        blocked: None,
        desired: None,
    }
}

const SCRIPT_BEFORE: &str = "set -e\nADVERTISE=db-0\nexec ./kwbase start \\\n  --listen-addr=0.0.0.0:26257 \\\n  --cache=25%\n";
const SCRIPT_AFTER: &str = "set -e\nADVERTISE=db-0\nexec ./kwbase start \\\n  --listen-addr=0.0.0.0:26257 \\\n  --cache=40% \\\n  --max-sql-memory=25%\n";

/// A plan with every kind of entry.
fn sample_plan() -> Plan {
    let acme_sts = id("apps/v1", "StatefulSet", Some("tenant-acme"), "db");
    let mut update = change("acme", acme_sts.clone(), Action::Update);
    update.fields = vec![
        field(
            "metadata.labels[\"app.kubernetes.io/version\"]",
            Some(json!("3.1.0")),
            Some(json!("3.2.0")),
        ),
        field("metadata.labels.team", None, Some(json!("data"))),
        field("metadata.labels.old", Some(json!("x")), None),
        field("spec.replicas", Some(json!(3)), Some(json!(5))),
        field(
            "spec.template.spec.containers[name=db].command[2]",
            Some(json!(SCRIPT_BEFORE)),
            Some(json!(SCRIPT_AFTER)),
        ),
        secret_field("spec.template.spec.containers[name=db].env[name=ADMIN_PASSWORD].value"),
    ];
    update.desired = Some(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "tenant-acme"}, "spec": {"replicas": 5}}));

    let mut create = change(
        "acme",
        id("batch/v1", "CronJob", Some("tenant-acme"), "backup-nightly"),
        Action::Create,
    );
    create.desired = Some(json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "backup-nightly", "namespace": "tenant-acme"},
        "spec": {"schedule": "0 2 * * *", "suspend": false}}));
    let delete = change(
        "acme",
        id("batch/v1", "CronJob", Some("tenant-acme"), "backup-hourly"),
        Action::Delete,
    );

    let mut replace_blocked = change(
        "globex",
        id("apps/v1", "StatefulSet", Some("tenant-globex"), "db"),
        Action::Replace,
    );
    replace_blocked.reason = Some("spec.serviceName is immutable".into());
    replace_blocked.blocked = Some(
        "replacing StatefulSet/tenant-globex/db deletes its pods; its volumes are kept; pass \
         --allow-replace"
            .into(),
    );
    replace_blocked.fields = vec![field(
        "spec.serviceName",
        Some(json!("db")),
        Some(json!("db-headless")),
    )];
    let mut replace = change(
        "globex",
        id("v1", "Service", Some("tenant-globex"), "db"),
        Action::Replace,
    );
    replace.reason = Some("spec.clusterIP is immutable".into());
    replace.fields = vec![field(
        "spec.clusterIP",
        Some(json!("10.96.0.12")),
        Some(json!("None")),
    )];

    let protected = "tenant `gone` has deletion_protection = true in what was last applied; set \
                     it to false and apply, or pass --allow-destroy";
    let mut del_sts = change(
        "gone",
        id("apps/v1", "StatefulSet", Some("tenant-gone"), "db"),
        Action::Delete,
    );
    del_sts.blocked = Some(protected.into());
    let del_svc = change(
        "gone",
        id("v1", "Service", Some("tenant-gone"), "db"),
        Action::Delete,
    );
    let mut del_ns = change(
        "gone",
        id("v1", "Namespace", None, "tenant-gone"),
        Action::Delete,
    );
    del_ns.blocked = Some(protected.into());

    let mut plan = Plan {
        format_version: FORMAT_VERSION.to_string(),
        revision: Some("3f2a9c1".into()),
        base: None,
        changes: vec![
            update,
            create,
            delete,
            replace_blocked,
            replace,
            del_sts,
            del_svc,
            del_ns,
        ],
        drift: vec![Drift {
            id: acme_sts,
            cluster: "local".into(),
            tenant: "acme".into(),
            kind: DriftKind::Changed,
            fields: vec![
                field("spec.replicas", Some(json!(3)), Some(json!(1))),
                field("metadata.labels.team", Some(json!("db")), None),
                secret_field(
                    "spec.template.spec.containers[name=db].env[name=ADMIN_PASSWORD].value",
                ),
            ],
        }],
        conflicts: vec![Conflict {
            id: id("v1", "Service", Some("tenant-initech"), "db"),
            cluster: "local".into(),
            tenant: "initech".into(),
            managed_by: Some("helm".into()),
        }],
        unreachable: vec![(
            "eu-1".into(),
            "cluster `eu-1`: connection refused (kubeconfig context `eu-1`); check that the \
             cluster is up and the context is right"
                .into(),
        )],
        unobserved: vec![crate::plan::Unobserved {
            cluster: "local".into(),
            tenant: "umbrella".into(),
            reason: "CronJob.batch/v1 could not be listed (see below)".into(),
        }],
        unlisted: vec![crate::plan::Unlisted {
            cluster: "local".into(),
            kind: "CronJob.batch/v1".into(),
            reason: "cluster `local`: listing cronjobs.batch failed: 503 Service Unavailable \
                     (after 5 attempts)"
                .into(),
        }],
        restores: vec![
            restore(
                "orders-2026-11-20",
                RestoreState::Requested,
                None,
                None,
                true,
            ),
            restore(
                "nightly-2026-11-01",
                RestoreState::Completed,
                Some("2026-11-01T03:12:00Z"),
                None,
                true,
            ),
            restore(
                "broken",
                RestoreState::Failed,
                Some("2026-11-02T03:12:00Z"),
                Some("Job has reached the specified backoff limit"),
                true,
            ),
            restore(
                "gone",
                RestoreState::Completed,
                Some("2026-10-01T03:12:00Z"),
                None,
                false,
            ),
        ],
        warnings: vec![Warning {
            cluster: "local".into(),
            tenant: "acme".into(),
            kind: "missing_secret".into(),
            object: Some(id("v1", "Secret", Some("tenant-acme"), "backup-s3")),
            message: "Secret `backup-s3` does not exist in namespace `tenant-acme`: the \
                      credentials of backup location `archive`, read by backup schedule `nightly`"
                .into(),
            help: Some("create it in the tenant's namespace".into()),
        }],
        kept: vec![crate::plan::KeptTenant {
            cluster: "local".into(),
            tenant: "legacy".into(),
            namespace: Some("tenant-legacy".into()),
            reason: "kept by deletion protection (deletion_protection = true when it was last \
                     applied)"
                .into(),
            removed_in: Some("9c0ffee1234567890abcdef1234567890abcdef0".into()),
            last_applied_revision: Some("3f2a9c1".into()),
            objects: vec![
                id("apps/v1", "StatefulSet", Some("tenant-legacy"), "db"),
                id(
                    "networking.k8s.io/v1",
                    "NetworkPolicy",
                    Some("tenant-legacy"),
                    "default-deny-ingress",
                ),
                id("v1", "Namespace", None, "tenant-legacy"),
            ],
        }],
        returned: Vec::new(),
        allow_destroy: Default::default(),
        correct_drift: false,
        narrowed: None,
        summary: Summary::default(),
    };
    plan.summarize();
    plan
}

fn restore(
    name: &str,
    state: RestoreState,
    at: Option<&str>,
    message: Option<&str>,
    in_config: bool,
) -> RestoreStatus {
    RestoreStatus {
        cluster: "local".into(),
        tenant: "acme".into(),
        name: name.into(),
        job: id(
            "batch/v1",
            "Job",
            Some("tenant-acme"),
            &format!("restore-{name}"),
        ),
        state,
        at: at.map(Into::into),
        message: message.map(Into::into),
        in_config,
        record: None,
    }
}

fn empty_plan() -> Plan {
    Plan {
        format_version: FORMAT_VERSION.to_string(),
        revision: Some("3f2a9c1".into()),
        base: None,
        changes: vec![],
        drift: vec![],
        conflicts: vec![],
        unreachable: vec![],
        unobserved: vec![],
        unlisted: vec![],
        restores: vec![],
        warnings: vec![],
        kept: Vec::new(),
        returned: Vec::new(),
        allow_destroy: Default::default(),
        correct_drift: false,
        narrowed: None,
        summary: Summary::default(),
    }
}

#[test]
fn text_plan() {
    insta::assert_snapshot!(to_text(&sample_plan(), false));
}

#[test]
fn text_plan_closing_line_counts_replaces_like_terraform() {
    let text = to_text(&sample_plan(), false);
    assert!(
        text.contains("\nPlan: 3 to add, 1 to change, 6 to destroy.\n"),
        "{text}"
    );
    assert!(text.contains("3 changes are blocked"));
}

#[test]
fn text_plan_in_colour() {
    insta::assert_snapshot!(to_text(&sample_plan(), true));
}

#[test]
fn text_without_changes() {
    assert_eq!(
        to_text(&empty_plan(), false),
        "berth plan of 3f2a9c1\n\nNo changes. The clusters match the configuration.\n"
    );
}

#[test]
fn json_plan() {
    insta::assert_snapshot!(to_json(&sample_plan()));
}

#[test]
fn markdown_plan() {
    insta::assert_snapshot!(to_markdown(&sample_plan()));
}

#[test]
fn no_printer_shows_a_secret() {
    let mut plan = sample_plan();
    // Even a plan built by hand that forgot to mask a sensitive field.
    plan.changes[0].fields[5].after = Some(json!("hunter2"));
    for out in [
        to_text(&plan, false),
        to_markdown(&plan),
        to_text(&plan, true),
        to_json(&plan),
    ] {
        assert!(!out.contains("hunter2"), "{out}");
    }
}

#[test]
fn markdown_is_capped_with_a_note() {
    let mut plan = empty_plan();
    let long = "x".repeat(200);
    for t in 0..400 {
        let tenant = format!("t{t:04}");
        let mut c = change(
            &tenant,
            id(
                "apps/v1",
                "StatefulSet",
                Some(&format!("tenant-{tenant}")),
                "db",
            ),
            Action::Update,
        );
        c.fields = (0..5)
            .map(|i| {
                field(
                    &format!("metadata.labels.l{i}"),
                    Some(json!(long)),
                    Some(json!("y")),
                )
            })
            .collect();
        plan.changes.push(c);
    }
    plan.summarize();
    let full = markdown::to_markdown_limited(&plan, usize::MAX);
    assert!(full.len() > MARKDOWN_LIMIT);
    let md = to_markdown(&plan);
    assert!(md.len() <= MARKDOWN_LIMIT, "{}", md.len());
    assert!(md.contains("This plan is too long for one comment"));
    assert!(md.contains("Run `berth plan`"));
    // The table still lists every tenant; the first tenants keep their details.
    assert!(md.contains("| t0399 | local | 0 | 1 | 0 | 0 |"));
    assert!(md.contains("metadata.labels.l4"));
    // Small plans are not cut.
    assert!(!to_markdown(&sample_plan()).contains("too long"));
}

/// A no-op plan of 10,000 tenants whose backups read a missing Secret and whose restore is
/// running: the text plan groups the alike lines (at most 50 lines), `-v` lists them all,
/// JSON keeps every item.
#[test]
fn a_no_op_plan_of_ten_thousand_tenants_groups_alike_warnings_and_restores() {
    let mut plan = empty_plan();
    for i in 0..10_000 {
        let tenant = format!("t{i:05}");
        let ns = format!("tenant-{tenant}");
        plan.warnings.push(crate::plan::Warning {
            cluster: "local".into(),
            tenant: tenant.clone(),
            kind: "missing_secret".into(),
            object: Some(id("v1", "Secret", Some(&ns), "backup-s3")),
            message: format!(
                "Secret `backup-s3` does not exist in namespace `{ns}`: the credentials of backup location `archive`, read by backup schedule `nightly`"
            ),
            help: Some(format!(
                "create it before the first backup runs: `kubectl -n {ns} create secret generic backup-s3 --from-literal=KEY=VALUE ...`"
            )),
        });
        let mut r = restore(
            "orders",
            RestoreState::Running,
            Some("2026-12-03T10:00:00Z"),
            None,
            true,
        );
        r.tenant = tenant;
        plan.restores.push(r);
    }
    // One that differs stays on its own.
    plan.warnings.push(crate::plan::Warning {
        cluster: "local".into(),
        tenant: "acme".into(),
        kind: "scale_down".into(),
        object: None,
        message: "the database of tenant acme goes from 5 to 4 pods".into(),
        help: None,
    });
    let text = to_text(&plan, false);
    let lines = text.lines().count();
    assert!(lines <= 50, "{lines} lines:\n{text}");
    assert!(
        text.contains(
            "  ! Secret `backup-s3` does not exist in 10,000 namespaces: the credentials of backup location `archive`, read by backup schedule `nightly`\n      in tenant-t00000, tenant-t00001, tenant-t00002, ... and 9,997 more (`-v` lists all)  (cluster local)\n      = help: create it before the first backup runs: `kubectl -n NAMESPACE create secret"
        ),
        "{text}"
    );
    assert!(
        text.contains("  10,000 restores (cluster local): running\n      orders (tenant t00000), orders (tenant t00001), orders (tenant t00002), ... and 9,997 more (`-v` lists all)"),
        "{text}"
    );
    assert!(text.contains("the database of tenant acme goes from 5 to 4 pods"));
    let all = crate::output::to_text_with(&plan, false, true);
    assert_eq!(
        all.matches("does not exist in namespace `tenant-t").count(),
        10_000
    );
    assert_eq!(
        all.matches("orders  (cluster local, tenant t").count(),
        10_000
    );
    let json: serde_json::Value = serde_json::from_str(&to_json(&plan)).unwrap();
    assert_eq!(json["warnings"].as_array().unwrap().len(), 10_001);
    assert_eq!(json["restores"].as_array().unwrap().len(), 10_000);
    let md = to_markdown(&plan);
    assert!(md.contains("in tenant-t00000, tenant-t00001, tenant-t00002, ... and 9,997 more (the JSON plan lists all)"), "{md}");
    // Three alike warnings are still shown one by one.
    plan.warnings.truncate(3);
    plan.restores.truncate(3);
    let text = to_text(&plan, false);
    assert_eq!(
        text.matches("does not exist in namespace `tenant-t")
            .count(),
        3
    );
    assert_eq!(text.matches("orders  (cluster local, tenant t").count(), 3);
}
