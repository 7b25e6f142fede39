//! Backups, restores, `berth status` and `berth show tenant`, end to end: the binary against
//! the test Kubernetes API server, statuses set with the real `kubectl` the way controllers
//! would (`kubectl patch --subresource=status`), and once against the embedded cluster with
//! the store's status helper. Times are fixed with `BERTH_NOW`; times berth records itself
//! are filtered.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use berth::store::ObjectStore;
use kube_emulator::ApiServer;
use support::{kubectl, Run};

const NOW: &str = "2026-11-25T04:00:00Z";

/// Runs berth with the time fixed at [`NOW`].
fn berth(args: &[&str], dir: &Path) -> Run {
    let out = Command::new(support::bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("BERTH_NOW", NOW)
        .env_remove("RUST_LOG")
        .env_remove("BERTH_STATE_DIR")
        .output()
        .expect("run berth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `kubectl patch --subresource=status` with a merge patch, as a controller updates status.
fn set_status(server: &ApiServer, kind: &str, ns: &str, name: &str, status: &str) {
    let patch = format!(r#"{{"status":{status}}}"#);
    kubectl(
        server,
        &[
            "patch",
            kind,
            name,
            "-n",
            ns,
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            &patch,
        ],
    );
}

/// Creates an object from JSON with kubectl.
fn create(server: &ApiServer, dir: &Path, manifest: serde_json::Value) {
    let file = dir.join("object.json");
    fs::write(&file, manifest.to_string()).unwrap();
    kubectl(
        server,
        &["create", "--validate=false", "-f", file.to_str().unwrap()],
    );
}

/// The credentials Secret of the examples' `archive` location, in tenant acme's namespace.
fn secret(key: &str, value: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "backup-s3", "namespace": "tenant-acme"},
        "stringData": {key: value}})
}

/// Filters for the config fingerprint: it covers the kubeconfig path, a temporary directory.
/// Times are not filtered: the tests set them, and berth's own clock is [`NOW`].
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"sha256:[0-9a-f]{12}", "sha256:[revision]")]
}

/// [`filters`] and every time: for output showing when the server created an object.
fn filters_with_times() -> Vec<(&'static str, &'static str)> {
    let mut f = filters();
    f.extend_from_slice(support::TIME_FILTERS);
    f
}

fn applied_examples(server: &ApiServer) -> (tempfile::TempDir, String) {
    let dir = support::examples_on_kube(server);
    let repo = dir.path().join("repo").to_str().unwrap().to_string();
    let run = berth(&["apply", &repo, "--auto-approve"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    (dir, repo)
}

/// Statuses set by kubectl as controllers would; status and show read them: readiness,
/// backups (a paused schedule, an overdue one), quota usage, pods, a failed backup Job, a
/// completed restore, and the revision apply recorded.
#[test]
fn status_and_show_report_statuses_set_on_the_server() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    // Statuses here are the test's own: no controller writes them.
    server.controllers().pause();
    let (dir, repo) = applied_examples(&server);
    let d = dir.path();
    create(&server, d, secret("AWS_ACCESS_KEY_ID", "x"));
    set_status(
        &server,
        "statefulset",
        "tenant-acme",
        "db",
        r#"{"observedGeneration":1,"replicas":5,"readyReplicas":5,"currentReplicas":5,"updatedReplicas":5,"currentRevision":"db-7c9d","updateRevision":"db-7c9d"}"#,
    );
    set_status(
        &server,
        "statefulset",
        "tenant-globex",
        "db",
        r#"{"replicas":3,"readyReplicas":2}"#,
    );
    set_status(
        &server,
        "statefulset",
        "tenant-initech",
        "db",
        r#"{"observedGeneration":1,"replicas":1,"readyReplicas":1,"currentReplicas":1,"updatedReplicas":1,"currentRevision":"db-5f4b","updateRevision":"db-5f4b"}"#,
    );
    set_status(
        &server,
        "cronjob",
        "tenant-acme",
        "backup-hourly",
        r#"{"lastScheduleTime":"2026-11-25T03:15:00Z","lastSuccessfulTime":"2026-11-25T03:16:40Z"}"#,
    );
    set_status(
        &server,
        "cronjob",
        "tenant-acme",
        "backup-nightly",
        r#"{"lastScheduleTime":"2026-11-25T01:00:00Z","lastSuccessfulTime":"2026-11-25T01:20:00Z"}"#,
    );
    // globex's daily backup last succeeded five days ago, and its latest Job failed.
    set_status(
        &server,
        "cronjob",
        "tenant-globex",
        "backup-daily",
        r#"{"lastScheduleTime":"2026-11-24T03:30:00Z","lastSuccessfulTime":"2026-11-20T03:31:00Z"}"#,
    );
    create(
        &server,
        d,
        serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "backup-daily-29400000", "namespace": "tenant-globex",
                "labels": {"berth.io/tenant": "globex", "berth.io/schedule": "daily"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "kwdb/kwdb:3.1.0"}]}}}
        }),
    );
    set_status(
        &server,
        "job",
        "tenant-globex",
        "backup-daily-29400000",
        r#"{"failed":3,"startTime":"2026-11-24T03:30:00Z","conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit","lastTransitionTime":"2026-11-24T03:41:00Z"}]}"#,
    );
    set_status(
        &server,
        "resourcequota",
        "tenant-acme",
        "tenant-quota",
        r#"{"hard":{"pods":"100","requests.cpu":"48","requests.memory":"128Gi","requests.storage":"2Ti","persistentvolumeclaims":"7"},"used":{"pods":"6","requests.cpu":"20500m","requests.memory":"80Gi","requests.storage":"500Gi","persistentvolumeclaims":"5"}}"#,
    );
    for (i, ready) in [(0, "True"), (1, "True"), (2, "False")] {
        let name = format!("db-{i}");
        create(
            &server,
            d,
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "tenant-acme", "labels": {
                    "app.kubernetes.io/name": "kwdb",
                    "app.kubernetes.io/instance": "acme",
                    "app.kubernetes.io/component": "database"}},
                "spec": {"containers": [{"name": "db", "image": "kwdb/kwdb:3.1.0"}]}
            }),
        );
        set_status(
            &server,
            "pod",
            "tenant-acme",
            &name,
            &format!(
                r#"{{"phase":"Running","conditions":[{{"type":"Ready","status":"{ready}"}}],"containerStatuses":[{{"name":"db","ready":{},"restartCount":{i}}}]}}"#,
                ready == "True"
            ),
        );
    }
    set_status(
        &server,
        "job",
        "tenant-acme",
        "restore-orders-2026-11-20",
        r#"{"succeeded":1,"startTime":"2026-11-25T02:00:00Z","completionTime":"2026-11-25T02:42:00Z","conditions":[{"type":"Complete","status":"True","lastTransitionTime":"2026-11-25T02:42:00Z"}]}"#,
    );

    let status = berth(&["status", &repo], d);
    assert_eq!(
        status.code, 2,
        "globex needs attention: exit 2\n{}",
        status.stderr
    );
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("status_text", status.stdout);
    });
    let json = berth(&["status", &repo, "-o", "json"], d);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("status_json", json.stdout);
    });
    let one = berth(&["status", &repo, "--tenant", "acme"], d);
    assert_eq!(one.code, 0, "acme alone is fine: {}", one.stdout);
    assert_eq!(one.stdout.lines().count(), 4, "{}", one.stdout);

    let show = berth(&["show", "tenant", "acme", &repo], d);
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("show_tenant_acme", show.stdout);
    });
    let show = berth(&["show", "tenant", "initech", &repo, "-o", "json"], d);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("show_tenant_initech_json", show.stdout);
    });
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(
        v["backups"][0]["paused"], true,
        "initech's weekly schedule is paused"
    );
    assert_eq!(v["backups"][0]["next_run"], serde_json::Value::Null);
    // The paused schedule and the retention reached the CronJob on the server.
    let cron: serde_json::Value = serde_json::from_str(&kubectl(
        &server,
        &[
            "get",
            "cronjob",
            "backup-weekly",
            "-n",
            "tenant-initech",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(cron["spec"]["suspend"], true);
    let env = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "KEEP_LAST" && e["value"] == "4"),
        "{env:?}"
    );
}

/// An unreachable cluster is shown for each of its tenants, and status exits 1.
#[test]
fn status_of_an_unreachable_cluster() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo").to_str().unwrap().to_string();
    drop(server);
    let status = berth(&["status", &repo], dir.path());
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    let port = regex_free_port_filter(&status.stdout);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("status_unreachable", port);
    });
}

/// The server's port varies: `127.0.0.1:PORT` becomes `127.0.0.1:[port]`.
fn regex_free_port_filter(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + "127.0.0.1:".len()]);
        rest = &rest[i + "127.0.0.1:".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        out.push_str("[port]");
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

fn namespace_annotations(server: &ApiServer, ns: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&kubectl(server, &["get", "namespace", ns, "-o", "json"])).unwrap();
    v["metadata"]["annotations"].clone()
}

fn job_writes(server: &ApiServer) -> Vec<String> {
    server
        .request_log()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("/jobs"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// A restore runs once, ever: recorded on the Namespace when created and when finished; not
/// re-created by a re-apply, after its Job was deleted with kubectl, after its entry left
/// Git and came back. Every berth run is a new process: nothing is remembered outside the
/// cluster.
#[test]
fn restore_runs_once_ever() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let d = dir.path();
    let repo = d.join("repo");
    let r = repo.to_str().unwrap();

    let plan = berth(&["plan", r], d);
    assert!(
        plan.stdout.contains(
            "orders-2026-11-20  (cluster local, tenant acme): requested: apply creates Job/tenant-acme/restore-orders-2026-11-20 (it runs once)"
        ),
        "{}",
        plan.stdout
    );
    let apply = berth(&["apply", r, "--auto-approve"], d);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stdout
            .contains("local: restore `orders-2026-11-20` of tenant `acme` recorded as started"),
        "{}",
        apply.stdout
    );
    let a = namespace_annotations(&server, "tenant-acme");
    let record: serde_json::Value =
        serde_json::from_str(a["restore.berth.io/orders-2026-11-20"].as_str().unwrap()).unwrap();
    assert_eq!(record["state"], "started");
    assert_eq!(record["at"], NOW, "apply's clock");
    assert!(
        a["berth.io/revision"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{a}"
    );

    // Re-apply: nothing to do, the records are not a diff.
    server.clear_log();
    let again = berth(&["apply", r, "--auto-approve"], d);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("orders-2026-11-20  (cluster local, tenant acme): running since"),
        "{}",
        again.stdout
    );
    assert!(job_writes(&server).is_empty(), "{:?}", job_writes(&server));
    let drift = berth(&["drift", r], d);
    assert_eq!(drift.code, 0, "records are not drift: {}", drift.stdout);

    // The Job finishes; the next apply records it.
    set_status(
        &server,
        "job",
        "tenant-acme",
        "restore-orders-2026-11-20",
        r#"{"succeeded":1,"completionTime":"2026-11-25T02:42:00Z","conditions":[{"type":"Complete","status":"True","lastTransitionTime":"2026-11-25T02:42:00Z"}]}"#,
    );
    let json = berth(&["plan", r, "-o", "json"], d);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["restores"][0]["state"], "completed", "{}", json.stdout);
    assert_eq!(v["restores"][0]["at"], "2026-11-25T02:42:00Z");
    let md = berth(&["plan", r, "-o", "markdown"], d);
    assert!(
        md.stdout
            .contains("| acme | local | `orders-2026-11-20` | completed at 2026-11-25T02:42:00Z |"),
        "{}",
        md.stdout
    );
    let record_apply = berth(&["apply", r, "--auto-approve"], d);
    assert!(
        record_apply
            .stdout
            .contains("restore `orders-2026-11-20` of tenant `acme` recorded as completed"),
        "{}",
        record_apply.stdout
    );
    let a = namespace_annotations(&server, "tenant-acme");
    assert_eq!(
        a["restore.berth.io/orders-2026-11-20"],
        r#"{"state":"completed","at":"2026-11-25T02:42:00Z"}"#
    );

    // The entry leaves Git: the Job is not pruned, nothing is undone.
    let backups = repo.join("backups/acme.toml");
    let text = fs::read_to_string(&backups).unwrap();
    let without = text[..text.find("[[restores]]").unwrap()].to_string();
    fs::write(&backups, &without).unwrap();
    let plan = berth(&["plan", r], d);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    // The Job is garbage-collected (deleted with kubectl), and the entry comes back: still
    // never re-created, across plans and applies.
    kubectl(
        &server,
        &[
            "delete",
            "job",
            "restore-orders-2026-11-20",
            "-n",
            "tenant-acme",
        ],
    );
    fs::write(&backups, &text).unwrap();
    server.clear_log();
    let plan = berth(&["plan", r], d);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("plan_after_restore_job_deleted", plan.stdout);
    });
    let apply = berth(&["apply", r, "--auto-approve"], d);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(job_writes(&server).is_empty(), "{:?}", job_writes(&server));
    let show = berth(&["show", "tenant", "acme", r, "-o", "json"], d);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["restores"][0]["state"], "completed");
    let job = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["address"] == "Job/tenant-acme/restore-orders-2026-11-20")
        .unwrap()
        .clone();
    assert_eq!(job["state"], "gone (restore completed)");

    // A new restore (new name) is a new request.
    fs::write(
        &backups,
        format!(
            "{text}\n[[restores]]\nname = \"orders-2026-11-24\"\nfrom_schedule = \"nightly\"\n"
        ),
    )
    .unwrap();
    let plan = berth(&["plan", r], d);
    assert!(
        plan.stdout
            .contains("+ Job/tenant-acme/restore-orders-2026-11-24"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan
            .stdout
            .contains("+ Job/tenant-acme/restore-orders-2026-11-20"),
        "{}",
        plan.stdout
    );
}

/// A location's credentials Secret missing from a tenant's namespace is a plan warning in
/// every format, found with one metadata-only LIST of Secrets; it goes once the Secret exists.
#[test]
fn missing_credentials_secret_is_reported_in_plan() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let (dir, repo) = applied_examples(&server);
    let d = dir.path();
    server.clear_log();
    let json = berth(&["plan", &repo, "-o", "json"], d);
    assert_eq!(
        json.code, 0,
        "a warning does not fail the plan: {}",
        json.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["summary"]["warnings"], 1);
    assert_eq!(v["warnings"][0]["kind"], "missing_secret");
    assert_eq!(v["warnings"][0]["address"], "Secret/tenant-acme/backup-s3");
    let name_lists: Vec<_> = server
        .request_log()
        .into_iter()
        .filter(|r| r.path == "/api/v1/secrets" && !r.query.contains("managed-by"))
        .collect();
    assert_eq!(
        name_lists.len(),
        1,
        "one LIST of all Secrets: {name_lists:?}"
    );
    let text = berth(&["plan", &repo], d);
    insta::with_settings!({filters => filters_with_times()}, {
        insta::assert_snapshot!("plan_missing_secret", text.stdout);
    });
    let md = berth(&["plan", &repo, "-o", "markdown"], d);
    assert!(md.stdout.contains("### Warnings"), "{}", md.stdout);
    assert!(
        md.stdout.contains("Secret `backup-s3` does not exist"),
        "{}",
        md.stdout
    );

    create(&server, d, secret("AWS_SECRET_ACCESS_KEY", "s3cr3t-value"));
    let json = berth(&["plan", &repo, "-o", "json"], d);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["summary"]["warnings"], 0, "{}", json.stdout);
    assert!(!json.stdout.contains("s3cr3t"), "never a secret value");
}

/// The embedded cluster: statuses set with the store's helper, read by `berth status`.
#[test]
fn status_on_the_embedded_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    support::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &repo,
    );
    let state = dir.path().join("state");
    let (r, s) = (repo.to_str().unwrap(), state.to_str().unwrap());
    let run = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    {
        let store = ObjectStore::open(state.join("local.sqlite3")).unwrap();
        let status = |kind: &str, ns: &str, name: &str, patch: serde_json::Value| {
            store.merge_status(kind, ns, name, &patch).unwrap();
        };
        status(
            "StatefulSet",
            "tenant-acme",
            "db",
            serde_json::json!({"replicas": 5, "readyReplicas": 3}),
        );
        status(
            "CronJob",
            "tenant-globex",
            "backup-daily",
            serde_json::json!({"lastSuccessfulTime": "2026-11-24T03:31:10Z"}),
        );
        status(
            "Job",
            "tenant-acme",
            "restore-orders-2026-11-20",
            serde_json::json!({"failed": 2, "conditions": [{"type": "Failed", "status": "True",
                "message": "Job has reached the specified backoff limit",
                "lastTransitionTime": "2026-11-25T01:00:00Z"}]}),
        );
        // A status write leaves the spec alone.
        let sts = store.get("StatefulSet", "tenant-acme", "db").unwrap();
        assert_eq!(sts["spec"]["replicas"], 5);
        assert_eq!(sts["metadata"]["generation"], 1);
    }
    let status = berth(&["status", r, "--state-dir", s], dir.path());
    assert_eq!(status.code, 2, "{}", status.stderr);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("status_embedded", status.stdout);
    });
}

/// The test server's `/status` subresource behaves as Kubernetes': a status patch changes
/// only status, a patch of the object never its status; `PUT .../status` replaces it.
#[test]
fn status_subresource_is_apart_from_spec() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    create(
        &server,
        dir.path(),
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}),
    );
    create(
        &server,
        dir.path(),
        serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "b", "namespace": "t"},
            "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "i:1"}]}}}}}}),
    );
    // A status patch that also tries to change the spec changes only the status.
    kubectl(
        &server,
        &[
            "patch",
            "cronjob",
            "b",
            "-n",
            "t",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"schedule":"* * * * *"},"status":{"lastSuccessfulTime":"2026-11-25T02:00:00Z"}}"#,
        ],
    );
    let get = |s: &ApiServer| -> serde_json::Value {
        serde_json::from_str(&kubectl(
            s,
            &["get", "cronjob", "b", "-n", "t", "-o", "json"],
        ))
        .unwrap()
    };
    let v = get(&server);
    assert_eq!(v["spec"]["schedule"], "0 2 * * *");
    assert_eq!(v["status"]["lastSuccessfulTime"], "2026-11-25T02:00:00Z");
    // A patch of the object that carries a status changes only the spec.
    kubectl(
        &server,
        &[
            "patch",
            "cronjob",
            "b",
            "-n",
            "t",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true},"status":{"lastSuccessfulTime":"2020-01-01T00:00:00Z"}}"#,
        ],
    );
    let v = get(&server);
    assert_eq!(v["spec"]["suspend"], true);
    assert_eq!(v["status"]["lastSuccessfulTime"], "2026-11-25T02:00:00Z");
    // PUT of the status subresource (kubectl replace --subresource=status).
    let mut body = v.clone();
    body["status"] = serde_json::json!({"lastScheduleTime": "2026-11-25T03:00:00Z"});
    let file = dir.path().join("put.json");
    fs::write(&file, body.to_string()).unwrap();
    kubectl(
        &server,
        &[
            "replace",
            "--subresource=status",
            "--validate=false",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    let v = get(&server);
    assert_eq!(v["status"]["lastScheduleTime"], "2026-11-25T03:00:00Z");
    assert_eq!(
        v["status"].get("lastSuccessfulTime"),
        None,
        "PUT replaces status"
    );
    assert_eq!(v["spec"]["suspend"], true);
}
