//! `berth daemon` end to end: the real binary, a config repository on disk, the embedded
//! cluster and the test Kubernetes API server over HTTP, changes made with the real kubectl.

mod support;

use std::fs;
use std::path::Path;
use std::time::Instant;

use berth::store::ObjectStore;
use kube_emulator::ApiServer;
use serde_json::Value;
use support::{embedded_replicas, http, kubectl, Daemon};

/// A copy of `examples/` under `root/repo` and an empty state directory `root/state`.
fn examples_in(root: &Path) -> (String, String) {
    let repo = root.join("repo");
    support::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &repo,
    );
    let state = root.join("state");
    (
        repo.to_str().unwrap().to_string(),
        state.to_str().unwrap().to_string(),
    )
}

/// A daemon on the directory `repo` with state in `state`, started in `root`, whose timers
/// (polling and drift, one hour) never fire during a test: only the file watcher and
/// webhooks start syncs. `extra` adds flags.
fn quiet_daemon(root: &Path, repo: &str, state: &str, extra: &[&str]) -> Daemon {
    Daemon::on_dir(Path::new(repo), Path::new(state), root, "1h", extra)
}

fn last_sync(d: &Daemon) -> Value {
    d.status()["last_sync"].clone()
}

#[test]
fn daemon_applies_a_directory_and_follows_changes_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state) = examples_in(root.path());
    // Long timers: only the file watcher can explain a prompt second sync.
    let d = quiet_daemon(root.path(), &repo, &state, &[]);
    let first = d.wait(60, "the first sync", || {
        let s = last_sync(&d);
        (s["result"] == "applied").then_some(s)
    });
    assert_eq!(first["trigger"], "startup");
    assert_eq!(first["added"], 40, "{first}");
    let (code, body) = http("GET", &format!("{}/readyz", d.url), &[], b"");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    assert_eq!(embedded_replicas(Path::new(&state), "tenant-acme"), Some(5));
    let status = d.status();
    assert_eq!(status["tenants"]["acme"]["last_result"], "ok");
    assert_eq!(
        status["tenants"]["acme"]["applied_revision"],
        first["revision"]
    );
    assert_eq!(status["clusters"]["local"]["reachable"], true);
    assert_eq!(
        status["clusters"]["prod-eu"]["reachable"],
        Value::Null,
        "a cluster without tenants is not contacted"
    );

    let changed_at = Instant::now();
    support::edit(
        &Path::new(&repo).join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let second = d.wait(30, "the change on disk to be applied", || {
        let s = last_sync(&d);
        (s["revision"] != first["revision"]).then_some(s)
    });
    let latency = changed_at.elapsed();
    eprintln!("file change to applied: {latency:?}");
    assert_eq!(second["trigger"], "file change", "{second}");
    assert_eq!(second["result"], "applied", "{second}");
    assert_eq!(second["changed"], 1, "{second}");
    assert_eq!(embedded_replicas(Path::new(&state), "tenant-acme"), Some(4));

    let metrics = d.metrics();
    for line in [
        "berth_syncs_total{result=\"applied\"} 2",
        "berth_objects_applied_total{action=\"create\"} 40",
        "berth_objects_applied_total{action=\"update\"} 1",
        "berth_cluster_reachable{cluster=\"local\"} 1",
        "berth_tenants{result=\"ok\"} 3",
        "berth_leader 1",
        "berth_drifted_objects 0",
        // Health as `berth status` decides it: acme's backup Secret is missing.
        "berth_tenant_health{tenant=\"acme\",state=\"attention\"} 1",
        "berth_tenant_problems{tenant=\"acme\",reason=\"missing_secret\"} 1",
        "berth_tenant_health{tenant=\"initech\",state=\"ok\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    let history = d.json("/api/v1/history");
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
}

#[test]
fn an_invalid_revision_is_never_applied_and_the_last_good_one_stays() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state) = examples_in(root.path());
    let d = quiet_daemon(root.path(), &repo, &state, &[]);
    let first = d.wait(60, "the first sync", || {
        let s = last_sync(&d);
        (s["result"] == "applied").then_some(s)
    });

    // One valid change and one invalid file in the same revision: nothing of it applies.
    let repo = Path::new(&repo);
    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 3",
    );
    support::edit(
        &repo.join("tenants/globex.toml"),
        "tier = \"medium\"",
        "tier = \"mediun\"",
    );
    let bad = d.wait(30, "the invalid revision to be seen", || {
        let s = last_sync(&d);
        (s["result"] == "invalid").then_some(s)
    });
    let errors: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("tenants/globex.toml:") && e.contains("mediun")),
        "{errors:?}"
    );
    let status = d.status();
    assert_eq!(status["good_revision"], first["revision"]);
    assert_eq!(status["last_success_revision"], first["revision"]);
    assert_ne!(status["seen_revision"], first["revision"]);
    assert_eq!(
        embedded_replicas(Path::new(&state), "tenant-acme"),
        Some(5),
        "the valid half of an invalid revision is not applied"
    );
    assert!(d
        .metrics()
        .lines()
        .any(|l| l == "berth_errors_total{kind=\"validation\"} 1"));

    support::edit(
        &repo.join("tenants/globex.toml"),
        "tier = \"mediun\"",
        "tier = \"medium\"",
    );
    let fixed = d.wait(30, "the fixed revision to be applied", || {
        let s = last_sync(&d);
        (s["result"] == "applied" && s["revision"] != first["revision"]).then_some(s)
    });
    assert_eq!(fixed["changed"], 1, "{fixed}");
    assert_eq!(embedded_replicas(Path::new(&state), "tenant-acme"), Some(3));
}

#[test]
fn webhooks_need_a_valid_signature_or_token() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state) = examples_in(root.path());
    let secret_file = root.path().join("webhook-secret");
    fs::write(&secret_file, "s3cret\n").unwrap();
    let d = quiet_daemon(
        root.path(),
        &repo,
        &state,
        &["--webhook-secret-file", secret_file.to_str().unwrap()],
    );
    d.wait(60, "the first sync", || {
        (last_sync(&d)["result"] == "applied").then_some(())
    });
    let body = br#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
    let good = berth::daemon::webhook::github_signature("s3cret", body);
    let bad = berth::daemon::webhook::github_signature("guess", body);
    let github = format!("{}/webhooks/github", d.url);
    let gitlab = format!("{}/webhooks/gitlab", d.url);

    let (code, text) = http(
        "POST",
        &github,
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &bad)],
        body,
    );
    assert_eq!(code, 401, "{text}");
    let (code, _) = http("POST", &github, &[("X-GitHub-Event", "push")], body);
    assert_eq!(code, 401);
    let (code, _) = http(
        "POST",
        &gitlab,
        &[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "guess")],
        body,
    );
    assert_eq!(code, 401);
    let syncs = d.json("/api/v1/history").as_array().unwrap().len();
    assert_eq!(syncs, 1, "a rejected webhook triggers nothing");
    assert!(d
        .metrics()
        .lines()
        .any(|l| l == "berth_errors_total{kind=\"webhook\"} 3"));
    assert!(
        d.log().contains("webhook rejected"),
        "rejections are logged:\n{}",
        d.log()
    );

    // A valid push runs a sync (the directory did not change: nothing new to apply).
    let (code, text) = http(
        "POST",
        &github,
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &good)],
        body,
    );
    assert_eq!(code, 202, "{text}");
    let (code, _) = http(
        "POST",
        &gitlab,
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "s3cret"),
        ],
        body,
    );
    assert_eq!(code, 202);
    let (code, text) = http(
        "POST",
        &github,
        &[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &good)],
        body,
    );
    assert_eq!((code, text.as_str()), (200, "ignored event `ping`\n"));
    assert!(
        !d.log().contains("s3cret"),
        "the secret never reaches the log"
    );
}

#[test]
fn sigterm_stops_the_daemon_cleanly_and_its_status_survives_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state) = examples_in(root.path());
    let d = quiet_daemon(root.path(), &repo, &state, &[]);
    let first = d.wait(60, "the first sync", || {
        let s = last_sync(&d);
        (s["result"] == "applied").then_some(s)
    });
    let log_path = d.log.clone();
    let exit = d.terminate();
    assert!(exit.success(), "{exit:?}");
    let log = fs::read_to_string(log_path).unwrap();
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );

    let d = quiet_daemon(root.path(), &repo, &state, &[]);
    d.wait(60, "the second start's first sync", || {
        (d.json("/api/v1/history").as_array().unwrap().len() == 2).then_some(())
    });
    let status = d.status();
    assert_eq!(status["last_sync"]["result"], "no_changes", "{status}");
    assert_eq!(status["last_success_revision"], first["revision"]);
    assert!(d
        .metrics()
        .lines()
        .any(|l| l == "berth_objects_applied_total{action=\"create\"} 40"));
}

fn live_replicas(server: &ApiServer, ns: &str) -> String {
    kubectl(
        server,
        &[
            "get",
            "statefulset",
            "db",
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    )
}

#[test]
fn drift_made_with_kubectl_is_reported_then_corrected_under_policy_correct() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let (dir, d) = drift_checking_daemon(&server);
    let repo = dir.path().join("repo");
    assert_eq!(live_replicas(&server, "tenant-globex"), "3");

    kubectl(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "tenant-globex",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"replicas":1}}"#,
        ],
    );
    let status = d.wait(30, "the drift to be reported", || {
        let s = d.status();
        (s["drifted"] == 1).then_some(s)
    });
    assert_eq!(status["drifted_objects"][0], "StatefulSet/tenant-globex/db");
    assert_eq!(status["tenants"]["globex"]["drifted"], 1);
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("drift: changed outside berth")
                && l.contains("StatefulSet/tenant-globex/db")),
        "drift is logged:\n{log}"
    );
    assert!(d.metrics().lines().any(|l| l == "berth_drifted_objects 1"));
    // Policy "report": a later check still finds it, and nothing was written back.
    let checks = |d: &Daemon| d.counter("berth_drift_checks_total");
    let seen = checks(&d);
    d.wait(30, "another drift check", || {
        (checks(&d) > seen).then_some(())
    });
    assert_eq!(live_replicas(&server, "tenant-globex"), "1");
    assert_eq!(d.status()["drifted"], 1);

    // Policy "correct": the revision changes (a sync), and then drift is put right.
    support::edit(
        &repo.join("platform.toml"),
        "drift = \"report\"",
        "drift = \"correct\"",
    );
    d.wait(30, "the new policy to be in force", || {
        (live_replicas(&server, "tenant-globex") == "3").then_some(())
    });
    kubectl(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "tenant-globex",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"replicas":2}}"#,
        ],
    );
    d.wait(30, "the drift to be corrected", || {
        (live_replicas(&server, "tenant-globex") == "3").then_some(())
    });
    // Two corrections: the sync of the new policy put 1 back to 3, the drift check 2 to 3.
    assert_eq!(
        d.counter("berth_drift_corrections_total"),
        2,
        "{}",
        d.metrics()
    );
    d.wait(30, "the status to show no drift", || {
        (d.status()["drifted"] == 0).then_some(())
    });
}

#[test]
fn with_leader_election_only_the_lease_holder_applies() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    // Only the test server's cluster: the lease goes there.
    let repo = dir.path().join("repo");
    let platform = fs::read_to_string(repo.join("platform.toml")).unwrap();
    let cut = platform.find("# A real cluster").unwrap();
    let end = platform[cut..].find("[tiers.").unwrap() + cut;
    fs::write(
        repo.join("platform.toml"),
        format!("{}{}", &platform[..cut], &platform[end..]),
    )
    .unwrap();
    // As deploy/ does: the Lease lives in the daemon's own namespace.
    // (`kubectl create namespace` sends protobuf, which the test server does not speak.)
    let ns = dir.path().join("ns.yaml");
    fs::write(
        &ns,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: berth-system\n",
    )
    .unwrap();
    kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--validate=false",
            "-f",
            ns.to_str().unwrap(),
        ],
    );
    let state_a = dir.path().join("state-a");
    let state_b = dir.path().join("state-b");
    let args = |state: &Path, id: &str| -> Vec<String> {
        [
            repo.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--interval",
            "1s",
            "--drift-interval",
            "1h",
            "--leader-elect",
            "--lease-duration",
            "3s",
            "--identity",
            id,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a_args = args(&state_a, "replica-a");
    let a = Daemon::start(
        &a_args.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
        &[],
    );
    a.wait(60, "replica a to apply", || {
        (last_sync(&a)["result"] == "applied").then_some(())
    });
    let b_args = args(&state_b, "replica-b");
    let b = Daemon::start(
        &b_args.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
        &[],
    );
    b.wait(60, "replica b's first sync", || {
        (!last_sync(&b).is_null()).then_some(())
    });
    assert_eq!(a.status()["leader"], true);
    assert_eq!(b.status()["leader"], false);
    let lease = kubectl(
        &server,
        &[
            "get",
            "lease",
            "berth",
            "-n",
            "berth-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert_eq!(lease, "replica-a");

    // A new revision: both replicas see it, only the leader writes.
    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let applied = a.wait(30, "replica a to apply the change", || {
        let s = last_sync(&a);
        (s["result"] == "applied" && s["changed"] == 1).then_some(s)
    });
    b.wait(30, "replica b to see the change", || {
        (last_sync(&b)["revision"] == applied["revision"]).then_some(())
    });
    let b_history = b.json("/api/v1/history");
    assert!(
        b_history
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["result"] != "applied" && s["added"] == 0 && s["changed"] == 0),
        "a follower never applies: {b_history}"
    );
    assert!(!b.metrics().contains("berth_objects_applied_total{"));
    let exit = a.terminate();
    assert!(exit.success());
    b.wait(30, "replica b to take over", || {
        (b.status()["leader"] == true).then_some(())
    });
    let holder = kubectl(
        &server,
        &[
            "get",
            "lease",
            "berth",
            "-n",
            "berth-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert_eq!(holder, "replica-b");
}

/// The examples on the test server, applied by a daemon that polls hourly and checks drift
/// every second; returns once the first sync has applied them.
fn drift_checking_daemon(server: &ApiServer) -> (tempfile::TempDir, Daemon) {
    let dir = support::examples_on_kube(server);
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    let d = Daemon::on_dir(&repo, &state, dir.path(), "1s", &[]);
    d.wait(60, "the first sync", || {
        (last_sync(&d)["result"] == "applied").then_some(())
    });
    (dir, d)
}

/// The daemon keeps its Kubernetes client from one cycle to the next: drift checks after the
/// first sync LIST, but do not redo discovery.
#[test]
fn drift_checks_reuse_the_cluster_connection_and_its_discovery() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let (_dir, d) = drift_checking_daemon(&server);
    let checks = |d: &Daemon| d.counter("berth_drift_checks_total");
    let before = checks(&d);
    server.clear_log();
    d.wait(30, "three drift checks", || {
        (checks(&d) >= before + 3).then_some(())
    });
    let log = server.request_log();
    let discovery: Vec<&str> = log
        .iter()
        .map(|q| q.path.as_str())
        .filter(|p| {
            matches!(*p, "/api" | "/apis" | "/api/v1" | "/version")
                || (p.starts_with("/apis/") && p.split('/').count() == 4)
        })
        .collect();
    assert!(
        log.iter().any(|q| q.query.contains("labelSelector")),
        "the drift checks LISTed"
    );
    assert!(discovery.is_empty(), "discovery again: {discovery:?}");
}

/// A quiet daemon (see [`quiet_daemon`]) on the copy of the examples under `root/repo`.
fn quiet_daemon_at(root: &Path) -> Daemon {
    let (repo, state) = (root.join("repo"), root.join("state"));
    quiet_daemon(root, repo.to_str().unwrap(), state.to_str().unwrap(), &[])
}

/// The examples on the test server, applied by a quiet daemon; returns once its first sync
/// has applied them, with the directory, the config repository and the daemon.
fn quiet_daemon_on_kube(server: &ApiServer) -> (tempfile::TempDir, std::path::PathBuf, Daemon) {
    let dir = support::examples_on_kube(server);
    let repo = dir.path().join("repo");
    let d = quiet_daemon_at(dir.path());
    d.wait(60, "the first sync", || {
        (last_sync(&d)["result"] == "applied").then_some(())
    });
    (dir, repo, d)
}

/// The objects of `namespace` (and the Namespace) the test server holds, `Kind/name`.
fn objects_in(server: &ApiServer, namespace: &str) -> Vec<String> {
    let out = kubectl(
        server,
        &[
            "get",
            "namespace,networkpolicy,resourcequota,limitrange,rolebinding,serviceaccount,service,statefulset,poddisruptionbudget,cronjob",
            "-n",
            namespace,
            "-o",
            "name",
        ],
    );
    let mut names: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with("namespace/") || *l == format!("namespace/{namespace}"))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// Under `drift = "report"` a sync of an unrelated change and a restart leave drift as it is:
/// a RoleBinding deleted and a quota edited by hand stay so, are reported, and no correction
/// is counted.
#[test]
fn report_mode_leaves_drift_through_an_unrelated_sync_and_a_restart() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let (dir, repo, d) = quiet_daemon_on_kube(&server);
    kubectl(
        &server,
        &["delete", "rolebinding", "berth-view", "-n", "tenant-globex"],
    );
    kubectl(
        &server,
        &[
            "patch",
            "resourcequota",
            "tenant-quota",
            "-n",
            "tenant-globex",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"hard":{"pods":"99"}}}"#,
        ],
    );
    let quota = || {
        kubectl(
            &server,
            &[
                "get",
                "resourcequota",
                "tenant-quota",
                "-n",
                "tenant-globex",
                "-o",
                "jsonpath={.spec.hard.pods}",
            ],
        )
    };
    assert_eq!(quota(), "99");
    let first = last_sync(&d)["revision"].clone();

    // A change to another tenant.
    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let sync = d.wait(30, "the change to be applied", || {
        let s = last_sync(&d);
        (s["revision"] != first && s["result"] == "applied").then_some(s)
    });
    assert_eq!(sync["added"], 0, "{sync}");
    assert_eq!(sync["changed"], 1, "only acme's StatefulSet: {sync}");
    assert_eq!(sync["drifted"], 2, "{sync}");
    let bindings = kubectl(
        &server,
        &["get", "rolebinding", "-n", "tenant-globex", "-o", "name"],
    );
    assert!(!bindings.contains("berth-view"), "recreated: {bindings}");
    assert_eq!(quota(), "99", "the hand-edited quota was reset");
    let metrics = d.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l == "berth_drift_corrections_total 0"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "berth_drifted_objects 2"),
        "{metrics}"
    );
    assert_eq!(d.status()["tenants"]["globex"]["drifted"], 2);
    drop(d);

    // A restart: the startup sync reports the drift and writes none of it back.
    let d = quiet_daemon_at(dir.path());
    let startup = d.wait(60, "the startup sync", || {
        let s = last_sync(&d);
        (s["trigger"] == "startup").then_some(s)
    });
    assert_eq!(startup["drifted"], 2, "{startup}");
    assert_eq!(
        (startup["added"].clone(), startup["changed"].clone()),
        (0.into(), 0.into()),
        "{startup}"
    );
    let bindings = kubectl(
        &server,
        &["get", "rolebinding", "-n", "tenant-globex", "-o", "name"],
    );
    assert!(!bindings.contains("berth-view"), "recreated: {bindings}");
    assert_eq!(quota(), "99");

    // The configuration changes the drifted quota: it is written as Git says, and that counts
    // as a correction.
    let corrections = |d: &Daemon| d.counter("berth_drift_corrections_total");
    let before = corrections(&d);
    let revision = last_sync(&d)["revision"].clone();
    let globex = repo.join("tenants/globex.toml");
    let text = fs::read_to_string(&globex).unwrap();
    fs::write(&globex, format!("{text}\n[quota]\npods = 20\n")).unwrap();
    d.wait(30, "the quota change to be applied", || {
        let s = last_sync(&d);
        (s["revision"] != revision && s["result"] == "applied").then_some(())
    });
    assert_eq!(quota(), "20");
    assert_eq!(corrections(&d), before + 1, "{}", d.metrics());
    let bindings = kubectl(
        &server,
        &["get", "rolebinding", "-n", "tenant-globex", "-o", "name"],
    );
    assert!(!bindings.contains("berth-view"), "recreated: {bindings}");
}

/// Removing a protected tenant's files while the daemon runs destroys nothing of it; the
/// daemon shows it as kept. Permitted by name in Git (`policy.allow_destroy`), it goes whole.
#[test]
fn removing_a_protected_tenant_under_the_daemon_destroys_nothing_until_named() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let (_dir, repo, d) = quiet_daemon_on_kube(&server);
    let before = objects_in(&server, "tenant-acme");
    assert!(before.len() >= 14, "{before:?}");
    let first = last_sync(&d)["revision"].clone();

    fs::remove_file(repo.join("tenants/acme.toml")).unwrap();
    fs::remove_file(repo.join("backups/acme.toml")).unwrap();
    let sync = d.wait(30, "the removal to be synced", || {
        let s = last_sync(&d);
        (s["revision"] != first).then_some(s)
    });
    assert_eq!(sync["destroyed"], 0, "{sync}");
    assert_eq!(objects_in(&server, "tenant-acme"), before);
    let acme = d.wait(30, "acme to be shown as kept", || {
        let s = d.status();
        (s["tenants"]["acme"]["last_result"] == "kept").then(|| s["tenants"]["acme"].clone())
    });
    let removed = acme["removed"].as_str().unwrap_or_default();
    assert!(
        removed.starts_with("removed from the configuration in ")
            && removed.contains("deletion protection"),
        "{acme}"
    );
    let metrics = d.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l == "berth_tenants{result=\"kept\"} 1"),
        "{metrics}"
    );
    let (_, page) = http("GET", &format!("{}/", d.url), &[], b"");
    assert!(page.contains("removed from the configuration"), "{page}");
    assert!(
        page.contains(">1</div><div class=\"l\">need attention"),
        "the kept tenant needs attention: {page}"
    );
    let (code, page) = http("GET", &format!("{}/tenants/acme", d.url), &[], b"");
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("removed from the configuration"), "{page}");

    // Named in Git: it goes, all of it.
    let second = last_sync(&d)["revision"].clone();
    support::edit(
        &repo.join("platform.toml"),
        "allow_destroy = []",
        "allow_destroy = [\"acme\"]",
    );
    let sync = d.wait(30, "the permitted removal", || {
        let s = last_sync(&d);
        (s["revision"] != second).then_some(s)
    });
    assert_eq!(sync["result"], "applied", "{sync}");
    assert!(sync["destroyed"].as_u64().unwrap() >= 14, "{sync}");
    support::wait_or(
        30,
        "the namespace to go",
        || objects_in(&server, "tenant-acme").is_empty().then_some(()),
        || {
            format!(
                "left: {:?}\nnamespace: {}\ndaemon log:\n{}",
                objects_in(&server, "tenant-acme"),
                server
                    .store()
                    .get("Namespace", "", "tenant-acme")
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                d.log()
            )
        },
    );
}

/// `spec.replicas` of StatefulSet `db` in `ns`, read from the server's store (no request, so
/// not subject to the server's faults).
fn stored_replicas(server: &ApiServer, ns: &str) -> Option<i64> {
    server
        .store()
        .get("StatefulSet", ns, "db")
        .ok()?
        .pointer("/spec/replicas")?
        .as_i64()
}

/// The API server goes down (its state kept) while a change is synced, and comes back after
/// a while: the daemon reports the cluster unreachable, never a match, retries on its own
/// with backoff, and applies the change once the server is back, without a person.
#[test]
fn an_api_server_down_during_a_sync_is_retried_until_it_is_back() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let (_dir, repo, d) = quiet_daemon_on_kube(&server);
    let first = last_sync(&d);
    let down = std::thread::spawn(move || {
        server
            .restart_after(std::time::Duration::from_secs(8))
            .expect("restart")
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let failed = d.wait(60, "a sync that fails while the server is down", || {
        let s = last_sync(&d);
        (s["revision"] != first["revision"] && s["result"] == "failed").then_some(s)
    });
    let status = d.status();
    assert_eq!(status["clusters"]["local"]["reachable"], false, "{status}");
    assert_eq!(
        status["tenants"]["acme"]["last_result"], "pending",
        "{status}"
    );
    assert!(
        d.metrics()
            .lines()
            .any(|l| l == "berth_cluster_reachable{cluster=\"local\"} 0"),
        "{}",
        d.metrics()
    );
    assert!(
        failed["errors"][0]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{failed}"
    );
    let server = down.join().unwrap();
    let applied = d.wait(
        90,
        "the daemon to apply the change once the server is back",
        || {
            let s = last_sync(&d);
            (s["result"] == "applied").then_some(s)
        },
    );
    assert_eq!(applied["trigger"], "retry", "{applied}");
    assert_eq!(stored_replicas(&server, "tenant-acme"), Some(4));
    let status = d.status();
    assert_eq!(status["clusters"]["local"]["reachable"], true, "{status}");
    assert_eq!(status["tenants"]["acme"]["last_result"], "ok", "{status}");
    assert!(d.log().contains("backing off"), "{}", d.log());
}

/// A daemon on a server failing three requests in ten (every fault kind, stalls past its
/// 1 s request timeout) for a minute applies a change made meanwhile; no status it serves
/// says there were no changes while something could not be read, and no error it reports
/// shows the server's credentials.
#[test]
fn under_thirty_percent_faults_the_daemon_applies_a_change_and_never_claims_a_match() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    let d = Daemon::on_dir(
        &repo,
        &state,
        dir.path(),
        "1h",
        &["--request-timeout", "1s"],
    );
    d.wait(60, "the first sync", || {
        (last_sync(&d)["result"] == "applied").then_some(())
    });
    server.faults().set_stall(std::time::Duration::from_secs(3));
    server.faults().set_rate(0.3, 7);
    let started = Instant::now();
    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let mut samples = 0;
    let mut applied_at = None;
    while started.elapsed() < std::time::Duration::from_secs(60) {
        let status = d.status();
        samples += 1;
        let text = status.to_string();
        assert!(
            !text.contains(server.admin_token()),
            "a credential in {text}"
        );
        let sync = &status["last_sync"];
        if sync["result"] == "no changes" {
            assert_eq!(sync["errors"], serde_json::json!([]), "{sync}");
        }
        if applied_at.is_none() && stored_replicas(&server, "tenant-acme") == Some(4) {
            applied_at = Some(started.elapsed());
        }
        if applied_at.is_some() && sync["result"] == "applied" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.faults().clear();
    let applied_at = applied_at.expect("the change was applied under faults");
    eprintln!("applied under 30% faults after {applied_at:?}, {samples} status samples");
    assert!(
        !d.log().contains(server.admin_token()),
        "a credential in the log"
    );
}
