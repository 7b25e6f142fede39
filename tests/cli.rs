//! End-to-end tests of the `berth` binary: every command run as a user would, output pinned
//! with insta snapshots.

mod support;

use std::fs;

use support::{berth, fixture_repo, Run};

/// Runs `berth validate` on the base fixture with one invalid fixture laid over it, and pins
/// everything it prints and its exit status.
fn check_invalid(name: &str) {
    let repo = fixture_repo(Some(name));
    let run = berth(&["validate", "."], repo.path());
    assert_eq!(
        run.code, 1,
        "validate must fail on `{name}`:\n{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing on stdout when invalid");
    insta::assert_snapshot!(format!("invalid_{name}"), run.stderr);
}

macro_rules! invalid_fixtures {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_invalid($name);
            }
        )*
    };
}

invalid_fixtures! {
    validate_reports_toml_syntax_error => "toml-syntax",
    validate_reports_duplicate_toml_key => "toml-duplicate-key",
    validate_suggests_close_key_for_unknown_key => "unknown-key",
    validate_reports_wrong_types_with_fix => "wrong-types",
    validate_reports_table_written_as_list => "table-vs-list",
    validate_reports_missing_required_keys => "missing-required",
    validate_rejects_names_that_are_not_dns_labels => "name-not-dns-label",
    validate_rejects_names_too_long_once_prefixed => "name-too-long-once-prefixed",
    validate_requires_file_name_to_match_tenant => "file-name-mismatch",
    validate_rejects_two_tenants_in_one_namespace => "duplicate-namespace",
    validate_reports_unknown_references => "unknown-references",
    validate_reports_backups_of_unknown_tenant => "unknown-tenant-in-backups",
    validate_rejects_bad_quantities => "bad-quantities",
    validate_rejects_quota_above_tier_ceiling => "quota-above-ceiling",
    validate_rejects_replicas_outside_tier_range => "replicas-out-of-range",
    validate_rejects_database_larger_than_quota => "database-exceeds-quota",
    validate_points_inside_bad_cron_expressions => "bad-cron",
    validate_rejects_bad_retention => "bad-retention",
    validate_rejects_duplicate_schedule_and_restore_names => "duplicate-names",
    validate_rejects_reserved_namespaces => "reserved-namespace",
    validate_rejects_inline_credentials => "inline-credentials",
    validate_rejects_empty_file => "empty-file",
    validate_requires_platform_toml => "missing-platform",
    validate_checks_restore_requests => "restore-errors",
    validate_checks_members => "member-errors",
    validate_checks_labels => "invalid-labels",
    validate_rejects_unsupported_incremental_backups => "incremental-unsupported",
    validate_rejects_unknown_time_zones => "unknown-timezone",
    validate_rejects_a_prometheus_url_with_credentials => "bad-prometheus-url",
    validate_rejects_tenant_pods_running_as_root => "root-pod-user",
    validate_names_template_file_and_line_of_syntax_error => "template-syntax-error",
    validate_rejects_override_of_unknown_template => "template-unknown-name",
    validate_rejects_template_writing_into_another_namespace => "template-wrong-namespace",
}

#[test]
fn validate_rejects_non_utf8_file() {
    let repo = fixture_repo(None);
    fs::write(
        repo.path().join("tenants/globex.toml"),
        b"name = \"globex\"\ntier = \"sm\xe4ll\"\n",
    )
    .unwrap();
    let run = berth(&["validate", "."], repo.path());
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("invalid_non_utf8", run.stderr);
}

#[test]
fn validate_rejects_directory_where_file_expected() {
    let repo = fixture_repo(None);
    fs::create_dir(repo.path().join("tenants/initech.toml")).unwrap();
    let run = berth(&["validate", "."], repo.path());
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("invalid_directory_as_file", run.stderr);
}

#[cfg(unix)]
#[test]
fn validate_rejects_symlink_outside_repository() {
    let repo = fixture_repo(None);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("secret.toml");
    fs::write(&target, "name = \"initech\"\ntier = \"small\"\n").unwrap();
    std::os::unix::fs::symlink(&target, repo.path().join("tenants/initech.toml")).unwrap();
    let run = berth(&["validate", "."], repo.path());
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("invalid_symlink_outside", run.stderr);
}

#[test]
fn validate_accepts_symlink_inside_repository() {
    let repo = fixture_repo(None);
    fs::create_dir(repo.path().join("shared")).unwrap();
    fs::rename(
        repo.path().join("tenants/globex.toml"),
        repo.path().join("shared/globex.toml"),
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        "../shared/globex.toml",
        repo.path().join("tenants/globex.toml"),
    )
    .unwrap();
    let run = berth(&["validate", "."], repo.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn validate_accepts_examples() {
    let run = berth(
        &["validate", "examples"],
        env!("CARGO_MANIFEST_DIR").as_ref(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("validate_examples", run.stdout);
}

#[test]
fn validate_missing_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let run = berth(&["validate", "does-not-exist"], dir.path());
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("error: cannot read the config repository"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn usage_errors_exit_64_not_2() {
    let dir = tempfile::tempdir().unwrap();
    let run: Run = berth(&["validate", "--no-such-flag"], dir.path());
    assert_eq!(
        run.code, 64,
        "2 means 'changes present'; usage errors must not use it"
    );
}

#[test]
fn render_is_deterministic_and_pinned() {
    let root: &std::path::Path = env!("CARGO_MANIFEST_DIR").as_ref();
    let first = berth(&["render", "examples"], root);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = berth(&["render", "examples"], root);
    assert_eq!(
        first.stdout, second.stdout,
        "same input must give byte-identical output"
    );
    let initech = berth(&["render", "examples", "--tenant", "initech"], root);
    insta::assert_snapshot!("render_examples_initech_yaml", initech.stdout);
    let globex = berth(
        &["render", "examples", "--tenant", "globex", "-o", "json"],
        root,
    );
    assert_eq!(globex.code, 0);
    let list: serde_json::Value = serde_json::from_str(&globex.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    for item in list["items"].as_array().unwrap() {
        let labels = &item["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/managed-by"], "berth");
        assert_eq!(labels["berth.io/tenant"], "globex");
    }
}

#[test]
fn render_unknown_tenant_is_an_error() {
    let root: &std::path::Path = env!("CARGO_MANIFEST_DIR").as_ref();
    let run = berth(&["render", "examples", "--tenant", "nobody"], root);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no tenant named `nobody`"),
        "{}",
        run.stderr
    );
}

/// The rendered objects of the examples and of a synthetic repository are valid Kubernetes
/// 1.35 objects according to an independent validator and the official schemas.
#[test]
fn rendered_objects_pass_official_kubernetes_schemas() {
    let validator = support::kubernetes_validate();
    let root: &std::path::Path = env!("CARGO_MANIFEST_DIR").as_ref();
    let synthetic = tempfile::tempdir().unwrap();
    berth::synth::generate(synthetic.path(), 12).unwrap();
    for repo in [root.join("examples"), synthetic.path().to_path_buf()] {
        let run = berth(&["render", repo.to_str().unwrap()], root);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let file = tempfile::NamedTempFile::new().unwrap();
        fs::write(file.path(), &run.stdout).unwrap();
        let out = std::process::Command::new(&validator)
            .args(["--strict", "-k", "1.35.0"])
            .arg(file.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
        let documents = run.stdout.matches("\n---\n").count() + 1;
        assert_eq!(text.matches("passed").count(), documents, "{text}");
    }
}

/// `berth plan` on an empty embedded cluster, in the three formats.
#[test]
fn plan_on_empty_embedded_cluster_in_three_formats() {
    let root: &std::path::Path = env!("CARGO_MANIFEST_DIR").as_ref();
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let text = berth(
        &[
            "plan",
            "examples",
            "--state-dir",
            state_arg,
            "--tenant",
            "initech",
        ],
        root,
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("plan_empty_text", text.stdout);
    assert!(text
        .stdout
        .ends_with("Plan: 11 to add, 0 to change, 0 to destroy.\n"));

    let json = berth(
        &[
            "plan",
            "examples",
            "--state-dir",
            state_arg,
            "--tenant",
            "initech",
            "-o",
            "json",
        ],
        root,
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["format_version"], "1");
    assert_eq!(v["summary"]["add"], 11);
    assert!(v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["action"] == "create"));

    let md = berth(
        &[
            "plan",
            "examples",
            "--state-dir",
            state_arg,
            "--tenant",
            "initech",
            "-o",
            "markdown",
        ],
        root,
    );
    insta::assert_snapshot!("plan_empty_markdown", md.stdout);

    let detailed = berth(
        &[
            "plan",
            "examples",
            "--state-dir",
            state_arg,
            "--detailed-exitcode",
        ],
        root,
    );
    assert_eq!(detailed.code, 2, "changes present: exit 2");
}

#[test]
fn plan_refuses_state_dir_inside_config_repo() {
    let repo = fixture_repo(None);
    let run = berth(&["plan", ".", "--state-dir", "state"], repo.path());
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("inside the config repository"),
        "{}",
        run.stderr
    );
    assert!(!repo.path().join("state").exists(), "nothing written");
}

/// The Kubernetes backend end to end: plan over HTTP against the test API server through a
/// kubeconfig file; only LIST pages (and one GET per new namespace) are requested.
#[test]
fn plan_against_kubernetes_api_lists_only() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    server.clear_log();
    let run = berth(&["plan", repo.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("Plan: 40 to add, 0 to change, 0 to destroy."),
        "{}",
        run.stdout
    );
    let log = server.request_log();
    let writes: Vec<_> = log.iter().filter(|r| r.method != "GET").collect();
    assert!(writes.is_empty(), "a plan never writes: {writes:?}");
    let lists = log
        .iter()
        .filter(|r| r.query.contains("labelSelector"))
        .count();
    assert_eq!(
        lists, 14,
        "one LIST per managed kind, and one of Secret names: {log:#?}"
    );
    let object_gets = log
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.contains("/namespaces/")
                && !r.query.contains("labelSelector")
        })
        .count();
    assert!(
        object_gets <= 3,
        "at most one GET per new tenant namespace, got {object_gets}"
    );
}

#[test]
fn plan_names_an_unreachable_cluster_in_one_line() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let url = server.url();
    let dir = support::examples_on_kube(&server);
    server.shutdown();
    let repo = dir.path().join("repo");
    let run = berth(&["plan", repo.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 1);
    let expected = format!(
        "cluster `local`: cannot reach {url} (connection refused); check that kubeconfig context `test-ctx` points at a running cluster"
    );
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
    // On stderr too, so that a CI log shows it when the plan goes to a file; and without
    // kube's own per-request error lines.
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect::<Vec<_>>(),
        [
            format!("error: {expected}").as_str(),
            "error: 1 cluster could not be planned"
        ],
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("kube_client"), "{}", run.stderr);
}

/// A copy of `examples/` to edit, and a state directory for its embedded cluster.
fn examples_copy() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    support::copy_tree(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &repo,
    );
    let state = dir.path().join("state");
    (dir, repo, state)
}

/// apply from empty, no-op re-apply, a change, removing a protected and an unprotected
/// tenant: the lifecycle of tenants on the embedded cluster, through the binary.
#[test]
fn apply_lifecycle_on_embedded_cluster() {
    let (dir, repo, state) = examples_copy();
    let r = repo.to_str().unwrap();
    let s = state.to_str().unwrap();
    let run = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run
        .stdout
        .ends_with("Apply complete! Resources: 40 added, 0 changed, 0 destroyed.\n"));

    let again = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(
        !again.stdout.contains("Apply complete"),
        "a no-op apply applies nothing"
    );

    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let plan = berth(
        &["plan", r, "--state-dir", s, "--detailed-exitcode"],
        dir.path(),
    );
    assert_eq!(plan.code, 2);
    insta::with_settings!({filters => support::TIME_FILTERS.to_vec()}, {
        insta::assert_snapshot!("plan_replicas_change", plan.stdout);
    });
    let applied = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert!(
        applied
            .stdout
            .contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        applied.stdout
    );

    // acme is protected: removing its files destroys nothing of it, not one object.
    let before = objects_of(&state, "tenant-acme");
    assert_eq!(before.len(), 16, "{before:?}");
    fs::remove_file(repo.join("tenants/acme.toml")).unwrap();
    fs::remove_file(repo.join("backups/acme.toml")).unwrap();
    let removed = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(removed.code, 0, "{}{}", removed.stdout, removed.stderr);
    assert!(
        !removed.stdout.contains("Apply complete") && !removed.stdout.contains("  - "),
        "{}",
        removed.stdout
    );
    assert!(
        removed
            .stdout
            .contains("tenant `acme` (cluster local): removed from the configuration"),
        "{}",
        removed.stdout
    );
    assert!(
        removed.stdout.contains("--allow-destroy acme"),
        "{}",
        removed.stdout
    );
    assert!(!removed.stdout.contains("match the configuration"));
    assert_eq!(objects_of(&state, "tenant-acme"), before);
    // Still visible: the plan (exit 2, it differs), status and show say so.
    let plan = berth(
        &["plan", r, "--state-dir", s, "--detailed-exitcode"],
        dir.path(),
    );
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("kept by deletion protection"),
        "{}",
        plan.stdout
    );
    let status = berth(&["status", r, "--state-dir", s], dir.path());
    assert_eq!(status.code, 2, "{}{}", status.stdout, status.stderr);
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with("acme "))
        .unwrap_or_else(|| panic!("acme is not listed:\n{}", status.stdout));
    assert!(line.ends_with("removed, kept"), "{line}");
    assert!(
        status
            .stdout
            .contains("! acme: removed from the configuration in "),
        "{}",
        status.stdout
    );
    let show = berth(&["show", "tenant", "acme", r, "--state-dir", s], dir.path());
    assert_eq!(show.code, 2, "{}{}", show.stdout, show.stderr);
    assert!(
        show.stdout
            .starts_with("Tenant acme (not in the configuration)\n")
            && show.stdout.contains("kept by deletion protection")
            && show.stdout.contains("15 objects stay: ")
            && show.stdout.contains("--allow-destroy acme"),
        "{}",
        show.stdout
    );

    // initech has deletion_protection = false; without a person at a prompt its removal
    // still needs its name.
    fs::remove_file(repo.join("tenants/initech.toml")).unwrap();
    fs::remove_file(repo.join("backups/initech.toml")).unwrap();
    let plan = berth(&["plan", r, "--state-dir", s], dir.path());
    assert!(
        plan.stdout.contains("will refuse this plan")
            && plan.stdout.contains("--allow-destroy initech"),
        "{}",
        plan.stdout
    );
    let refused = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("apply refused, nothing was written")
            && refused.stderr.contains("--allow-destroy initech"),
        "{}",
        refused.stderr
    );
    assert!(!objects_of(&state, "tenant-initech").is_empty());
    let gone = berth(
        &[
            "apply",
            r,
            "--state-dir",
            s,
            "--auto-approve",
            "--allow-destroy",
            "initech",
        ],
        dir.path(),
    );
    assert_eq!(gone.code, 0, "{}{}", gone.stdout, gone.stderr);
    assert!(
        gone.stdout.contains("- Namespace/tenant-initech"),
        "{}",
        gone.stdout
    );
    assert!(objects_of(&state, "tenant-initech").is_empty());
    assert_eq!(
        objects_of(&state, "tenant-acme"),
        before,
        "acme is still kept"
    );

    // Permitted by name, acme goes whole, its Namespace last.
    let gone = berth(
        &[
            "apply",
            r,
            "--state-dir",
            s,
            "--auto-approve",
            "--allow-destroy",
            "acme",
        ],
        dir.path(),
    );
    assert_eq!(gone.code, 0, "{}{}", gone.stdout, gone.stderr);
    let deletes: Vec<&str> = gone
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("- ") && l.contains("tenant-acme"))
        .collect();
    // Everything but the restore Job, which is never deleted on its own: its Namespace
    // takes it.
    assert_eq!(deletes.len(), before.len() - 1, "{}", gone.stdout);
    assert!(
        deletes.last().unwrap().contains("Namespace/tenant-acme"),
        "{deletes:?}"
    );
    assert!(objects_of(&state, "tenant-acme").is_empty());
    let after = berth(
        &["plan", r, "--state-dir", s, "--detailed-exitcode"],
        dir.path(),
    );
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
}

/// `Kind/name` of every object in the embedded cluster's store `state/local.sqlite3` that is
/// the Namespace `namespace` or inside it.
fn objects_of(state: &std::path::Path, namespace: &str) -> std::collections::BTreeSet<String> {
    let store = berth::store::ObjectStore::open(state.join("local.sqlite3")).unwrap();
    let all = berth::store::LabelSelector::everything();
    berth::store::kinds()
        .iter()
        .flat_map(|k| store.list(k.kind, None, &all, None, None).unwrap().items)
        .filter(|o| {
            o.pointer("/metadata/namespace").and_then(|v| v.as_str()) == Some(namespace)
                || (o["kind"] == "Namespace" && o["metadata"]["name"] == namespace)
        })
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn apply_refuses_to_prompt_without_a_terminal() {
    let (dir, repo, state) = examples_copy();
    let run = berth(
        &[
            "apply",
            repo.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("standard input is not a terminal"),
        "{}",
        run.stderr
    );
    let plan = berth(
        &[
            "plan",
            repo.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        plan.stdout.contains("Plan: 40 to add"),
        "nothing was applied"
    );
}

/// A saved plan is applied exactly, and refused when the clusters or the config moved on.
#[test]
fn apply_refuses_stale_saved_plan() {
    let (dir, repo, state) = examples_copy();
    let (r, s) = (repo.to_str().unwrap(), state.to_str().unwrap());
    berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    support::edit(
        &repo.join("tenants/globex.toml"),
        "[database]\nversion = \"3.1.0\"",
        "[database]\nversion = \"3.1.1\"",
    );
    let planfile = dir.path().join("plan.json");
    let p = planfile.to_str().unwrap();
    let saved = berth(&["plan", r, "--state-dir", s, "--out", p], dir.path());
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let text = fs::read_to_string(&planfile).unwrap();
    assert!(!text.contains("hunter2") && text.contains("berth-plan/1"));

    // Someone changes the StatefulSet behind berth's back.
    let store = berth::store::ObjectStore::open(state.join("local.sqlite3")).unwrap();
    store
        .merge_patch(
            "StatefulSet",
            "tenant-globex",
            "db",
            &serde_json::json!({"spec": {"replicas": 1}}),
            "kubectl-edit",
            false,
        )
        .unwrap();
    drop(store);
    let stale = berth(&["apply", p, "--config", r, "--state-dir", s], dir.path());
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.contains("the saved plan is stale"),
        "{}",
        stale.stderr
    );
    assert!(
        stale.stderr.contains("StatefulSet/tenant-globex/db"),
        "{}",
        stale.stderr
    );

    // A fresh plan of the same config applies; a changed config refuses it.
    let fresh = berth(&["plan", r, "--state-dir", s, "--out", p], dir.path());
    assert_eq!(fresh.code, 0);
    support::edit(&repo.join("tenants/globex.toml"), "3.1.1", "3.1.2");
    let moved = berth(&["apply", p, "--config", r, "--state-dir", s], dir.path());
    assert_eq!(moved.code, 1);
    assert!(moved.stderr.contains("is not the one"), "{}", moved.stderr);
    support::edit(&repo.join("tenants/globex.toml"), "3.1.2", "3.1.1");
    let ok = berth(&["apply", p, "--config", r, "--state-dir", s], dir.path());
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("Apply complete!"), "{}", ok.stdout);
}

/// Drift made with the real kubectl against the test API server shows up in its own section,
/// and apply corrects it.
#[test]
fn drift_made_with_kubectl_is_reported_left_then_corrected_on_request() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    let run = berth(&["apply", r, "--auto-approve"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    support::kubectl(
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

    let report = berth(&["drift", r], dir.path());
    assert_eq!(report.code, 2, "drift present: exit 2\n{}", report.stderr);
    insta::assert_snapshot!("drift_text_after_kubectl_patch", report.stdout);
    let json = berth(&["drift", r, "-o", "json"], dir.path());
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["drifted"], 1);
    assert_eq!(v["drift"][0]["fields"][0]["path"], "spec.replicas");

    // policy.drift = "report": reported, and left as it is.
    let plan = berth(&["plan", r], dir.path());
    assert!(
        plan.stdout.contains("Objects changed outside berth"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("StatefulSet/tenant-globex/db"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("spec.replicas: 3 -> 1"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("No changes will be made. 1 object changed outside berth is left as it is"),
        "{}",
        plan.stdout
    );
    server.clear_log();
    let left = berth(&["apply", r, "--auto-approve"], dir.path());
    assert_eq!(left.code, 0, "{}", left.stderr);
    assert!(
        server.request_log().iter().all(|q| q.method != "PATCH"),
        "report mode wrote: {:?}",
        server.request_log()
    );

    // Asked for, it is put back.
    let plan = berth(&["plan", r, "--correct-drift"], dir.path());
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    server.clear_log();
    let fix = berth(
        &["apply", r, "--auto-approve", "--correct-drift"],
        dir.path(),
    );
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    let patches: Vec<String> = server
        .request_log()
        .iter()
        .filter(|q| q.method == "PATCH")
        .map(|q| q.path.clone())
        .collect();
    assert_eq!(
        patches,
        [
            "/apis/apps/v1/namespaces/tenant-globex/statefulsets/db",
            "/api/v1/namespaces/tenant-globex"
        ],
        "only the drifted object is written, then the revision applied to its tenant"
    );
    let after = berth(&["plan", r], dir.path());
    assert!(after.stdout.contains("No changes."), "{}", after.stdout);
    let none = berth(&["drift", r], dir.path());
    assert_eq!(none.code, 0, "{}", none.stdout);
    assert!(none.stdout.contains("No drift"), "{}", none.stdout);
}

/// `--tenant` narrows the LISTs to that tenant's objects (cost follows what is asked, not the
/// size of the cluster), and still plans exactly.
#[test]
fn plan_for_one_tenant_lists_only_that_tenant() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    assert_eq!(berth(&["apply", r, "--auto-approve"], dir.path()).code, 0);
    support::edit(
        &repo.join("tenants/initech.toml"),
        "storage = \"5Gi\"",
        "storage = \"6Gi\"",
    );
    support::edit(
        &repo.join("tenants/globex.toml"),
        "role = \"viewer\"",
        "role = \"editor\"",
    );
    server.clear_log();
    let plan = berth(&["plan", r, "--tenant", "initech"], dir.path());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("tenant initech"), "{}", plan.stdout);
    assert!(
        !plan.stdout.contains("tenant globex"),
        "other tenants are left out"
    );
    let lists: Vec<_> = server
        .request_log()
        .into_iter()
        .filter(|q| q.query.contains("labelSelector"))
        .collect();
    assert!(!lists.is_empty());
    for l in &lists {
        assert!(
            l.query.contains("initech"),
            "LIST not narrowed: {}",
            l.query
        );
    }
}

/// `--changed` plans and applies only the tenants whose inputs changed since they were last
/// applied (each tenant Namespace records a digest of them), and tenants removed from the
/// configuration; it reads the recorded digests with one LIST of Namespaces and looks at
/// nothing else of the unchanged tenants.
#[test]
fn changed_plans_only_tenants_whose_inputs_changed_since_their_last_apply() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    // `plan --changed`, which must succeed and say it plans `n` of the 3 tenants.
    let plan_changed = |n: usize| {
        let run = berth(&["plan", r, "--changed"], dir.path());
        assert_eq!(run.code, 0, "{}", run.stderr);
        let planning = format!("planning {n} of 3 tenants");
        assert!(run.stderr.contains(&planning), "{}", run.stderr);
        run
    };
    let first = berth(&["apply", r, "--auto-approve"], dir.path());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let recorded = support::kubectl(
        &server,
        &[
            "get",
            "namespaces",
            "-l",
            "app.kubernetes.io/managed-by=berth",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.annotations.berth\.io/inputs}{"\n"}{end}"#,
        ],
    );
    let digests: Vec<&str> = recorded.lines().collect();
    assert_eq!(digests.len(), 3, "{recorded}");
    assert!(
        digests
            .iter()
            .all(|d| d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit())),
        "{recorded}"
    );

    // Nothing changed: one LIST of Namespaces, nothing else.
    server.clear_log();
    let plan = berth(&["plan", r, "--changed"], dir.path());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("No changes. The tenants planned match the configuration."),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Only 0 of 3 tenants were planned"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("planning 0 of 3 tenants"),
        "{}",
        plan.stderr
    );
    let lists: Vec<String> = server
        .request_log()
        .iter()
        .filter(|q| q.query.contains("labelSelector"))
        .map(|q| q.path.clone())
        .collect();
    assert_eq!(lists, ["/api/v1/namespaces"]);

    // One tenant changed: only it is rendered, listed, planned and applied.
    support::edit(
        &repo.join("tenants/initech.toml"),
        "storage = \"5Gi\"",
        "storage = \"6Gi\"",
    );
    server.clear_log();
    let plan = plan_changed(1);
    assert!(plan.stdout.contains("tenant initech"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("tenant globex"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("tenant acme"), "{}", plan.stdout);
    for q in server.request_log() {
        if q.query.contains("labelSelector") && q.path != "/api/v1/namespaces" {
            assert!(q.query.contains("initech"), "LIST not narrowed: {q:?}");
        }
    }
    // Every output says the plan was narrowed; a full plan does not.
    let json = berth(&["plan", r, "--changed", "-o", "json"], dir.path());
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        v["narrowed"],
        serde_json::json!({"planned": 1, "tenants": 3})
    );
    let markdown = berth(&["plan", r, "--changed", "-o", "markdown"], dir.path());
    assert!(
        markdown
            .stdout
            .contains("Only 1 of 3 tenants were planned (`--changed`"),
        "{}",
        markdown.stdout
    );
    let full_json = berth(&["plan", r, "-o", "json"], dir.path());
    let v: serde_json::Value = serde_json::from_str(&full_json.stdout).unwrap();
    assert!(v.get("narrowed").is_none(), "{v}");
    let full = berth(&["plan", r], dir.path());
    assert!(!full.stdout.contains("were planned"), "{}", full.stdout);
    let changed_summary = plan.stdout.lines().find(|l| l.starts_with("Plan:"));
    assert_eq!(
        changed_summary,
        full.stdout.lines().find(|l| l.starts_with("Plan:")),
        "the same plan as without --changed\n{}",
        full.stdout
    );
    // The storage change is a blocked replace: the tenant is not complete, so its inputs are
    // not recorded and it stays in the next `--changed` plan.
    let blocked = berth(&["apply", r, "--changed", "--auto-approve"], dir.path());
    assert!(blocked.stdout.contains("1 skipped"), "{}", blocked.stdout);
    plan_changed(1);
    support::edit(
        &repo.join("tenants/initech.toml"),
        "storage = \"6Gi\"",
        "storage = \"5Gi\"",
    );
    support::edit(
        &repo.join("tenants/initech.toml"),
        "role = \"editor\"",
        "role = \"viewer\"",
    );
    server.clear_log();
    let apply = berth(&["apply", r, "--changed", "--auto-approve"], dir.path());
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        apply.stdout.contains("1 added, 0 changed, 1 destroyed"),
        "{}",
        apply.stdout
    );
    let writes: Vec<String> = server
        .request_log()
        .iter()
        .filter(|q| q.method != "GET")
        .map(|q| q.path.clone())
        .collect();
    assert!(!writes.is_empty(), "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        writes.iter().all(|p| p.contains("tenant-initech")),
        "{writes:?}"
    );
    let after = berth(&["plan", r], dir.path());
    assert!(after.stdout.contains("No changes."), "{}", after.stdout);
    let again = berth(&["plan", r, "--changed"], dir.path());
    assert!(
        again.stderr.contains("planning 0 of 3 tenants"),
        "the apply recorded the new inputs: {}",
        again.stderr
    );

    // A saved plan narrowed to one tenant completes only that tenant: the other changed
    // tenant keeps its old record and stays in the next --changed plan.
    support::edit(
        &repo.join("tenants/acme.toml"),
        "role = \"viewer\"",
        "role = \"editor\"",
    );
    support::edit(
        &repo.join("tenants/globex.toml"),
        "role = \"viewer\"",
        "role = \"editor\"",
    );
    let planfile = dir.path().join("acme.plan");
    let p = planfile.to_str().unwrap();
    let saved = berth(&["plan", r, "--tenant", "acme", "--out", p], dir.path());
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let applied = berth(&["apply", p, "--config", r], dir.path());
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let left = plan_changed(1);
    assert!(left.stdout.contains("tenant globex"), "{}", left.stdout);
    let done = berth(&["apply", r, "--changed", "--auto-approve"], dir.path());
    assert_eq!(done.code, 0, "{}", done.stderr);

    // Drift in an unchanged tenant is not looked for under --changed; a full plan finds it.
    support::kubectl(
        &server,
        &[
            "patch",
            "statefulset",
            "db",
            "-n",
            "tenant-globex",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":1}}"#,
        ],
    );
    let changed = berth(&["plan", r, "--changed"], dir.path());
    assert!(changed.stdout.contains("No changes."), "{}", changed.stdout);
    let full = berth(&["plan", r], dir.path());
    assert!(
        full.stdout.contains("Objects changed outside berth"),
        "{}",
        full.stdout
    );

    // A tenant removed from the configuration is planned for deletion.
    fs::remove_file(repo.join("tenants/initech.toml")).unwrap();
    fs::remove_file(repo.join("backups/initech.toml")).unwrap();
    let removed = plan_changed(1);
    assert!(
        removed
            .stdout
            .contains("Namespace/tenant-initech will be destroyed")
            || removed.stdout.contains("- Namespace/tenant-initech"),
        "{}",
        removed.stdout
    );
    assert!(
        !removed.stdout.contains("tenant globex"),
        "{}",
        removed.stdout
    );

    // A platform-wide change is a change of every tenant.
    support::edit(
        &repo.join("platform.toml"),
        "\"platform.example.com/name\" = \"acme-dbaas\"",
        "\"platform.example.com/name\" = \"acme-dbaas\", team = \"data\"",
    );
    plan_changed(3);
}

/// Narrowed with `--cluster`, apply records inputs only on the clusters it observed: a tenant
/// on a cluster left out is neither written to nor a failure.
#[test]
fn apply_narrowed_to_a_cluster_records_inputs_only_there() {
    let (dir, repo, state) = examples_copy();
    let (r, s) = (repo.to_str().unwrap(), state.to_str().unwrap());
    support::edit(
        &repo.join("tenants/initech.toml"),
        "name = \"initech\"",
        "cluster = \"prod-eu\"\nname = \"initech\"",
    );
    let args = [
        "apply",
        r,
        "--cluster",
        "local",
        "--auto-approve",
        "--state-dir",
        s,
    ];
    let first = berth(&args, dir.path());
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(!first.stdout.contains("initech"), "{}", first.stdout);
    let again = berth(&args, dir.path());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// The apply process is killed (SIGKILL) half-way; the next plan shows exactly what is left
/// and the next apply finishes it, with nothing duplicated.
#[cfg(unix)]
#[test]
fn apply_killed_mid_way_is_finished_by_the_next_run() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    berth::synth::generate(&repo, 150).unwrap();
    let state = dir.path().join("state");
    let (r, s) = (repo.to_str().unwrap(), state.to_str().unwrap());
    let mut child = std::process::Command::new(support::bin())
        .args([
            "apply",
            r,
            "--state-dir",
            s,
            "--auto-approve",
            "--concurrency",
            "2",
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut created = 0;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().ends_with(": created") {
            created += 1;
            if created == 300 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    let _ = child.wait();
    assert_eq!(created, 300, "the apply was cut off before it finished");

    let json = berth(&["plan", r, "--state-dir", s, "-o", "json"], dir.path());
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let left = v["summary"]["add"].as_u64().unwrap();
    let total = 150 * 129 / 10; // about 12.9 objects per synthetic tenant
    assert!(
        left > 0 && (left as usize) < total,
        "left {left} of about {total}"
    );
    assert_eq!(
        v["summary"]["change"], 0,
        "nothing half-written: {}",
        json.stdout
    );

    let resumed = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed
            .stdout
            .contains(&format!("Resources: {left} added, 0 changed, 0 destroyed.")),
        "{}",
        resumed.stdout
    );
    let after = berth(&["plan", r, "--state-dir", s], dir.path());
    assert!(after.stdout.contains("No changes."), "{}", after.stdout);
    let store = berth::store::ObjectStore::open(state.join("local.sqlite3")).unwrap();
    let rendered_total = berth::render::render(
        &berth::spec::load_config(&berth::source::read_dir(&repo).unwrap())
            .config
            .unwrap(),
        &berth::render::TemplateSet::builtin(),
    )
    .unwrap()
    .objects
    .len();
    assert_eq!(
        store.len().unwrap(),
        rendered_total,
        "every object exactly once"
    );
}

/// An object berth applied and someone deleted is drift of kind `missing`; an object that is
/// new in the configuration is only a create.
#[test]
fn an_object_deleted_with_kubectl_is_missing_drift_and_a_new_one_is_not() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    let run = berth(&["apply", r, "--auto-approve"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let clean = berth(&["drift", r], dir.path());
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);

    support::kubectl(
        &server,
        &["delete", "cronjob", "backup-daily", "-n", "tenant-globex"],
    );
    // A new schedule in Git at the same time: planned, not drift.
    let backups = repo.join("backups/globex.toml");
    let mut text = fs::read_to_string(&backups).unwrap();
    text.push_str(
        "\n[[schedules]]\nname = \"weekly\"\ncron = \"0 4 * * SUN\"\nlocation = \"vault\"\nretention = { keep_last = 4 }\n",
    );
    fs::write(&backups, text).unwrap();

    let report = berth(&["drift", r], dir.path());
    assert_eq!(report.code, 2, "{}{}", report.stdout, report.stderr);
    assert!(
        report
            .stdout
            .contains("- CronJob/tenant-globex/backup-daily  (cluster local, tenant globex): deleted outside berth"),
        "{}",
        report.stdout
    );
    assert!(
        !report.stdout.contains("backup-weekly"),
        "{}",
        report.stdout
    );
    let json = berth(&["drift", r, "-o", "json"], dir.path());
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["drifted"], 1, "{v}");
    assert_eq!(v["drift"][0]["kind"], "missing");

    let plan = berth(&["plan", r], dir.path());
    assert!(
        plan.stdout.contains("deleted outside berth"),
        "{}",
        plan.stdout
    );
    // policy.drift = "report": the new schedule is created, the deleted one is not.
    assert!(
        plan.stdout.contains("Plan: 1 to add")
            && plan
                .stdout
                .contains("+ CronJob/tenant-globex/backup-weekly"),
        "only the new CronJob is created:\n{}",
        plan.stdout
    );
    let apply = berth(&["apply", r, "--auto-approve"], dir.path());
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let still = berth(&["drift", r], dir.path());
    assert_eq!(still.code, 2, "{}{}", still.stdout, still.stderr);
    // Asked for, the deleted one is created again.
    let fix = berth(
        &["apply", r, "--auto-approve", "--correct-drift"],
        dir.path(),
    );
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    assert!(fix.stdout.contains("Resources: 1 added"), "{}", fix.stdout);
    let after = berth(&["drift", r], dir.path());
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
}

/// A relative `kubeconfig` in platform.toml is relative to the config repository, not to
/// the directory berth runs in.
#[test]
fn a_relative_kubeconfig_path_is_relative_to_the_config_repository() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("clusters")).unwrap();
    fs::copy(
        dir.path().join("kubeconfig"),
        repo.join("clusters/kubeconfig"),
    )
    .unwrap();
    let platform = fs::read_to_string(repo.join("platform.toml")).unwrap();
    let absolute = format!(
        "kubeconfig = \"{}\"",
        dir.path().join("kubeconfig").display()
    );
    assert!(platform.contains(&absolute));
    fs::write(
        repo.join("platform.toml"),
        platform.replace(&absolute, "kubeconfig = \"clusters/kubeconfig\""),
    )
    .unwrap();
    fs::remove_file(dir.path().join("kubeconfig")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = berth(&["plan", repo.to_str().unwrap()], elsewhere.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Plan: 40 to add"), "{}", run.stdout);
}

/// `plan` and `apply` render while the clusters are listed, but not when connecting would
/// create an embedded cluster's store: a configuration whose templates fail to render leaves
/// no state behind. Once the store exists, the same failure still plans nothing.
#[test]
fn a_render_error_creates_no_state_and_plans_nothing() {
    let (dir, repo, state) = examples_copy();
    let r = repo.to_str().unwrap();
    let s = state.to_str().unwrap();
    support::copy_tree(
        &support::fixtures().join("invalid/template-wrong-namespace"),
        &repo,
    );
    for args in [
        &["plan", r, "--state-dir", s][..],
        &["apply", r, "--state-dir", s, "--auto-approve"],
    ] {
        let run = berth(args, dir.path());
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(
            run.stderr.contains(
                "is in namespace `kube-system`, not the tenant's namespace `tenant-acme`"
            ),
            "{}",
            run.stderr
        );
        assert!(!state.exists(), "{} created {}", args[0], state.display());
    }

    // With a store (applied before), the listing runs beside the rendering; the render
    // error still stops everything before the plan.
    fs::remove_file(repo.join("templates/serviceaccount.yaml")).unwrap();
    let apply = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    support::copy_tree(
        &support::fixtures().join("invalid/template-wrong-namespace"),
        &repo,
    );
    let run = berth(&["plan", r, "--state-dir", s], dir.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .ends_with("error: validation failed: 3 errors in 1 file\n"),
        "{}",
        run.stderr
    );
}

/// At a terminal, the prompt names the tenants whose data the apply destroys; a person who
/// answers `yes` may destroy an unprotected tenant without naming it, any other answer
/// destroys nothing. The terminal is a real pseudo-terminal (`script` from util-linux).
#[test]
fn the_prompt_names_the_tenants_an_apply_destroys_and_only_yes_destroys_them() {
    let (dir, repo, state) = examples_copy();
    let (r, s) = (repo.to_str().unwrap(), state.to_str().unwrap());
    let run = berth(
        &["apply", r, "--state-dir", s, "--auto-approve"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    fs::remove_file(repo.join("tenants/initech.toml")).unwrap();
    fs::remove_file(repo.join("backups/initech.toml")).unwrap();
    let at_terminal = |answer: &str| {
        use std::io::Write as _;
        let command = format!(
            "{} --color never apply {r} --state-dir {s}",
            support::bin().display()
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = at_terminal("no");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("This apply destroys data:")
            && out.contains("tenant `initech` on cluster `local` is destroyed"),
        "{out}"
    );
    assert!(out.contains("Apply cancelled."), "{out}");
    assert!(!objects_of(&state, "tenant-initech").is_empty());
    let (code, out) = at_terminal("yes");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Resources: 0 added, 0 changed, 11 destroyed."),
        "{out}"
    );
    assert!(objects_of(&state, "tenant-initech").is_empty());
}

#[test]
fn validate_warns_when_allow_destroy_names_a_tenant_the_configuration_still_has() {
    let (dir, repo, _) = examples_copy();
    support::edit(
        &repo.join("platform.toml"),
        "allow_destroy = []",
        "allow_destroy = [\"acme\", \"gone\"]",
    );
    let run = berth(&["validate", repo.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 0, "a warning, not an error: {}", run.stderr);
    assert!(
        run.stderr.contains(
            "warning: `policy.allow_destroy` names `acme`, which the configuration still has"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("platform.toml:81:18"), "{}", run.stderr);
    assert!(!run.stderr.contains("`gone`"), "{}", run.stderr);
}

/// A saved plan records where its configuration was read from (`berth apply p.plan`
/// from another directory failed with "`.` has no platform.toml"): apply reads that directory
/// from anywhere, says what to pass when it is gone, and `--config` still wins.
#[test]
fn a_saved_plan_is_applied_from_another_directory_to_the_configuration_it_records() {
    let (dir, repo, state) = examples_copy();
    let s = state.to_str().unwrap();
    let planfile = dir.path().join("p.plan");
    let p = planfile.to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();

    // Planned with a relative path, as a user does.
    let saved = berth(
        &["plan", "repo", "--state-dir", s, "--out", "p.plan"],
        dir.path(),
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let file: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&planfile).unwrap()).unwrap();
    assert_eq!(
        file["source"],
        serde_json::json!({"kind": "dir", "path": fs::canonicalize(&repo).unwrap()})
    );
    assert_eq!(file["format_version"], "berth-plan/1");

    // A file saved before the source was recorded: apply says what to pass.
    let mut old = file.clone();
    old.as_object_mut().unwrap().remove("source");
    let oldfile = dir.path().join("old.plan");
    fs::write(&oldfile, serde_json::to_string_pretty(&old).unwrap()).unwrap();
    let o = oldfile.to_str().unwrap();
    let run = berth(&["apply", o, "--state-dir", s], elsewhere.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "error: the configuration in . is not the one {o} was made from\n  = help: {o} does not record where its configuration was read from (an older berth saved it): pass --config DIR, or --repo URL, with the configuration it was made from\n"
        )),
        "{}",
        run.stderr
    );

    let applied = berth(&["apply", p, "--state-dir", s], elsewhere.path());
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert!(
        applied
            .stdout
            .ends_with("Apply complete! Resources: 40 added, 0 changed, 0 destroyed.\n"),
        "{}",
        applied.stdout
    );

    // The configuration moved: apply names where it looked and what to pass.
    support::edit(
        &repo.join("tenants/acme.toml"),
        "replicas = 5",
        "replicas = 4",
    );
    let saved = berth(
        &["plan", "repo", "--state-dir", s, "--out", "p.plan"],
        dir.path(),
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let recorded = fs::canonicalize(&repo).unwrap();
    let moved = dir.path().join("moved");
    fs::rename(&repo, &moved).unwrap();
    let lost = berth(&["apply", p, "--state-dir", s], elsewhere.path());
    assert_eq!(lost.code, 1, "{}{}", lost.stdout, lost.stderr);
    assert!(
        lost.stderr.starts_with(&format!(
            "error: cannot read {}, the configuration {p} was made from: config repository `{}` not found",
            recorded.display(),
            recorded.display()
        )),
        "{}",
        lost.stderr
    );
    assert!(
        lost.stderr.ends_with("  = help: pass --config DIR with the configuration the plan was made from (or --repo URL to read it from Git)\n"),
        "{}",
        lost.stderr
    );
    let found = berth(
        &[
            "apply",
            p,
            "--config",
            moved.to_str().unwrap(),
            "--state-dir",
            s,
        ],
        elsewhere.path(),
    );
    assert_eq!(found.code, 0, "{}{}", found.stdout, found.stderr);
    assert!(
        found
            .stdout
            .contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        found.stdout
    );
}

/// A plan saved from a Git remote records the URL, branch and commit: apply reads exactly
/// that commit from anywhere (from the cache, without the remote, when the cache has it),
/// names `--repo` and `--config` when it cannot, and `--repo` still wins.
#[test]
fn a_plan_saved_from_git_is_applied_at_its_commit_from_another_directory() {
    use support::git::{git, Repo};
    let repo = Repo::examples();
    let url = repo.url();
    let head = git(&repo.work(), &["rev-parse", "HEAD"]);
    let saved = repo.berth(&[
        "plan", "--repo", &url, "--branch", "main", "--out", "p.plan",
    ]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let planfile = repo.dir.path().join("p.plan");
    let p = planfile.to_str().unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&planfile).unwrap()).unwrap();
    assert_eq!(
        file["source"],
        serde_json::json!({
            "kind": "git",
            "url": repo.remote().display().to_string(),
            "branch": "main",
            "commit": head,
        })
    );

    // The branch moves on and the remote goes away; the cache still holds the commit.
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    repo.commit("acme: 4 replicas");
    let gone = repo.dir.path().join("gone.git");
    fs::rename(repo.remote(), &gone).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let state = repo.state().display().to_string();
    let applied = berth(&["apply", p, "--state-dir", &state], elsewhere.path());
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert!(
        applied
            .stdout
            .ends_with("Apply complete! Resources: 40 added, 0 changed, 0 destroyed.\n"),
        "{}",
        applied.stdout
    );

    // Without a cache, the unreachable remote is named, and what to pass instead.
    let fresh = repo.dir.path().join("fresh");
    let f = fresh.to_str().unwrap();
    let lost = berth(&["apply", p, "--state-dir", f], elsewhere.path());
    assert_eq!(lost.code, 1, "{}{}", lost.stdout, lost.stderr);
    assert!(
        lost.stderr.starts_with(&format!(
            "error: cannot read {} at commit {}, the configuration {p} was made from: cannot fetch {}",
            repo.remote().display(),
            &head[..12],
            repo.remote().display()
        )),
        "{}",
        lost.stderr
    );
    assert!(
        lost.stderr.ends_with(&format!("  = help: pass --repo URL (with the flags for its credentials) to read commit {head} from another remote, or --config DIR with the configuration of that commit\n")),
        "{}",
        lost.stderr
    );
    let moved = format!("file://{}", gone.display());
    let found = berth(
        &[
            "apply",
            p,
            "--repo",
            &moved,
            "--rev",
            &head,
            "--state-dir",
            f,
        ],
        elsewhere.path(),
    );
    assert_eq!(found.code, 0, "{}{}", found.stdout, found.stderr);
    assert!(found.stdout.contains("Apply complete! Resources: 40 added"));
}

/// `berth status` shows the commit a tenant was applied from as `git log` abbreviates it (12
/// characters); its JSON keeps the full sha.
#[test]
fn status_text_shows_short_commits_and_json_full_ones() {
    use support::git::{git, Repo};
    let repo = Repo::examples();
    let url = repo.url();
    let head = git(&repo.work(), &["rev-parse", "HEAD"]);
    let applied = repo.berth(&["apply", "--repo", &url, "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let text = repo.berth(&["status", "--repo", &url]);
    assert!(
        text.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(4) == Some(&head[..12])),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains(&head), "{}", text.stdout);
    let show = repo.berth(&["show", "tenant", "acme", "--repo", &url]);
    assert!(
        show.stdout
            .contains(&format!("  revision   {}\n", &head[..12])),
        "{}",
        show.stdout
    );
    let json = repo.berth(&["status", "--repo", &url, "-o", "json"]);
    assert!(
        json.stdout.contains(&format!("\"revision\": \"{head}\"")),
        "{}",
        json.stdout
    );
}

/// A mistyped tenant or cluster name gets the closest known one, as validation suggests.
#[test]
fn unknown_tenant_and_cluster_names_suggest_the_closest() {
    let (dir, repo, state) = examples_copy();
    let (r, s) = (repo.to_str().unwrap(), state.to_str().unwrap());
    let show = berth(
        &["show", "tenant", "acmee", r, "--state-dir", s],
        dir.path(),
    );
    assert_eq!(show.code, 1);
    // Nothing is kept where nothing was ever applied: the name is a mistake, said before any
    // store is opened.
    assert_eq!(
        show.stderr,
        format!("error: no tenant named `acmee` in {r}\n  = help: did you mean `acme`?\n")
    );
    let plan = berth(
        &["plan", r, "--cluster", "locl", "--state-dir", s],
        dir.path(),
    );
    assert_eq!(
        plan.stderr,
        "error: no cluster named `locl` in platform.toml\n  = help: did you mean `local`?\n"
    );
    let render = berth(&["render", r, "--tenant", "xyz"], dir.path());
    assert_eq!(
        render.stderr,
        format!("error: no tenant named `xyz` in {r}\n")
    );
    assert!(!state.exists(), "nothing was planned");
}

/// Operator logs (issue: ANSI codes in a log file even with `--color never`) are coloured
/// only when colour is wanted: `--color always`, or `auto` on a terminal without NO_COLOR.
#[test]
fn operator_logs_have_colour_codes_only_when_colour_is_wanted() {
    let root: &std::path::Path = env!("CARGO_MANIFEST_DIR").as_ref();
    for (color, set, want) in [
        ("never", &[][..], false),
        ("auto", &[][..], false),
        ("always", &[][..], true),
        ("always", &[("NO_COLOR", "1")][..], true),
    ] {
        let run = support::berth_with(
            &["-vv", "--color", color, "validate", "examples"],
            root,
            set,
            &["NO_COLOR"],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("DEBUG"), "{color}: {}", run.stderr);
        assert_eq!(
            run.stderr.contains('\x1b'),
            want,
            "--color {color} {set:?}: {:?}",
            run.stderr
        );
    }
}

/// `berth completions SHELL` prints a script the shell accepts, covering every command.
#[test]
fn completion_scripts_cover_every_command() {
    use clap::CommandFactory;
    let dir = tempfile::tempdir().unwrap();
    let commands: Vec<String> = berth::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(commands.iter().any(|c| c == "completions"));
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = berth(&["completions", shell], dir.path());
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for c in &commands {
            assert!(run.stdout.contains(c.as_str()), "{shell}: no `{c}`");
        }
        if shell == "bash" {
            let script = dir.path().join("berth.bash");
            fs::write(&script, &run.stdout).unwrap();
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&script)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stderr)
            );
            // What bash offers on Tab after `berth pl` and after `berth plan --det`.
            let complete = "source \"$1\"; \
                COMP_WORDS=(berth pl); COMP_CWORD=1; _berth berth pl berth; echo \"${COMPREPLY[*]}\"; \
                COMP_WORDS=(berth plan --det); COMP_CWORD=2; _berth berth --det plan; echo \"${COMPREPLY[*]}\"";
            let offered = std::process::Command::new("bash")
                .args(["-c", complete, "bash"])
                .arg(&script)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&offered.stdout),
                "plan\n--detailed-exitcode\n",
                "{}",
                String::from_utf8_lossy(&offered.stderr)
            );
        }
    }
    let run = berth(&["completions", "tcsh"], dir.path());
    assert_eq!(run.code, 64, "{}", run.stderr);
}

/// `berth man` prints berth(1), which names every command; `--write DIR` writes a page per
/// command. groff, where installed, formats them without a warning.
#[test]
fn man_pages_name_every_command_and_format_cleanly() {
    use clap::CommandFactory;
    let dir = tempfile::tempdir().unwrap();
    let run = berth(&["man"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.lines().any(|l| l.starts_with(".TH berth 1")),
        "{}",
        run.stdout
    );
    let cli = berth::cli::Cli::command();
    for c in cli.get_subcommands() {
        assert!(
            run.stdout.contains(&format!("berth\\-{}(1)", c.get_name())),
            "berth(1) does not name `{}`",
            c.get_name()
        );
    }

    let pages = dir.path().join("man1");
    let wrote = berth(&["man", "--write", pages.to_str().unwrap()], dir.path());
    assert_eq!(wrote.code, 0, "{}", wrote.stderr);
    let mut names: Vec<String> = fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for page in [
        "berth.1",
        "berth-plan.1",
        "berth-show-tenant.1",
        "berth-man.1",
    ] {
        assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
    }
    assert_eq!(
        fs::read_to_string(pages.join("berth.1")).unwrap(),
        run.stdout
    );

    let groff = std::process::Command::new("groff")
        .arg("--version")
        .output();
    if groff.is_ok_and(|o| o.status.success()) {
        for name in &names {
            let out = std::process::Command::new("groff")
                // -P-cbou: plain text, without overstriking for bold and underline.
                .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
                .arg(pages.join(name))
                .output()
                .unwrap();
            assert!(out.status.success(), "{name}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.is_empty(), "{name}: {stderr}");
            if name == "berth-plan.1" {
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(text.contains("--detailed-exitcode"), "{text}");
            }
        }
    }
}

/// A template override with a field Kubernetes does not know: `plan --server-dry-run` shows
/// the server's refusal of that object as blocked, before anything is written; `apply`
/// reports it failed without retrying it and skips the later waves of its tenant.
#[test]
fn a_template_override_with_an_unknown_field_is_refused_by_the_server_at_plan_time() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let builtin = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/render/templates/limitrange.yaml"),
    )
    .unwrap();
    fs::create_dir_all(repo.join("templates")).unwrap();
    fs::write(
        repo.join("templates/limitrange.yaml"),
        builtin.replace(
            "    - type: Container\n",
            "    - type: Container\n      maxLimitRequestRatios: {}\n",
        ),
    )
    .unwrap();
    let r = repo.to_str().unwrap();
    let plan = berth(&["plan", "--server-dry-run", r], dir.path());
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("# blocked: the server rejects this change: failed to create typed patch object (tenant-acme/tenant-limits; /v1, Kind=LimitRange): .spec.limits[0].maxLimitRequestRatios: field not declared in schema"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    // Refused at once: a schema error is not retried.
    assert!(
        !plan.stderr.contains("could not confirm LimitRange"),
        "{}",
        plan.stderr
    );
    assert!(
        server.store().get("Namespace", "", "tenant-acme").is_err(),
        "a dry-run plan wrote"
    );

    let apply = berth(&["apply", "--auto-approve", r], dir.path());
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    let all = format!("{}{}", apply.stdout, apply.stderr);
    assert!(all.contains("field not declared in schema"), "{all}");
    assert!(server
        .store()
        .get("LimitRange", "tenant-acme", "tenant-limits")
        .is_err());
    // The waves after it wait for it: nothing runs without its limits.
    assert!(
        all.contains(
            "StatefulSet/tenant-acme/db: skipped: an earlier wave of tenant `acme` failed"
        ),
        "{all}"
    );
    assert!(server
        .store()
        .get("StatefulSet", "tenant-acme", "db")
        .is_err());
    assert!(server.store().get("Namespace", "", "tenant-acme").is_ok());
}

/// A tenant destroyed and put back while its namespace is still terminating: what is being
/// deleted is not taken as present (no "No changes"); its changes wait, blocked with why,
/// and once the namespace is gone, the next apply creates the tenant whole.
#[test]
fn a_tenant_put_back_while_its_namespace_terminates_is_created_once_it_is_gone() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    let first = berth(&["apply", "--auto-approve", r], dir.path());
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    server.controllers().settle().unwrap();

    // initech leaves, permitted by name; the namespace controller is held, so its namespace
    // stays Terminating.
    let initech = fs::read_to_string(repo.join("tenants/initech.toml")).unwrap();
    let backups = fs::read_to_string(repo.join("backups/initech.toml")).unwrap();
    fs::remove_file(repo.join("tenants/initech.toml")).unwrap();
    fs::remove_file(repo.join("backups/initech.toml")).unwrap();
    server.controllers().pause();
    let gone = berth(
        &["apply", "--auto-approve", "--allow-destroy", "initech", r],
        dir.path(),
    );
    assert_eq!(gone.code, 0, "{}\n{}", gone.stdout, gone.stderr);
    let ns = server
        .store()
        .get("Namespace", "", "tenant-initech")
        .unwrap();
    assert!(ns["metadata"]["deletionTimestamp"].is_string(), "{ns}");

    // Back in the configuration while it terminates.
    fs::write(repo.join("tenants/initech.toml"), &initech).unwrap();
    fs::write(repo.join("backups/initech.toml"), &backups).unwrap();
    let early = berth(&["apply", "--auto-approve", r], dir.path());
    let all = format!("{}{}", early.stdout, early.stderr);
    assert!(!all.contains("No changes"), "{all}");
    assert!(
        all.contains("# blocked: Namespace/tenant-initech is being deleted: berth creates it again once it is gone; apply again then"),
        "{all}"
    );
    assert!(
        all.contains(
            "StatefulSet/tenant-initech/db: skipped: namespace `tenant-initech` is being deleted"
        ),
        "{all}"
    );
    assert!(
        all.contains("  initech (local): incomplete, 0 applied, 0 failed, 11 skipped"),
        "{all}"
    );

    // The namespace controller finishes; the next apply creates initech whole.
    server.controllers().resume();
    server.controllers().settle().unwrap();
    assert!(server
        .store()
        .get("Namespace", "", "tenant-initech")
        .is_err());
    let again = berth(&["apply", "--auto-approve", r], dir.path());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let plan = berth(&["plan", "--detailed-exitcode", r], dir.path());
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(server
        .store()
        .get("StatefulSet", "tenant-initech", "db")
        .is_ok());
}

/// `apply --wait` after a pod template change lasts until the rollout is complete: every pod
/// of the StatefulSet replaced by one of the new revision and ready, with the controllers
/// running by themselves (pods take a while to become ready), not only until enough pods are
/// ready.
#[test]
fn apply_wait_lasts_until_a_pod_template_change_has_rolled_out() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    server
        .controllers()
        .set_pod_ready_delay(std::time::Duration::from_millis(600));
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let r = repo.to_str().unwrap();
    let first = berth(
        &["apply", "--auto-approve", "--wait", "--timeout", "2m", r],
        dir.path(),
    );
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let store = server.store();
    let rolled_out = |ns: &str| {
        let sts = store.get("StatefulSet", ns, "db").unwrap();
        let update = sts["status"]["updateRevision"]
            .as_str()
            .unwrap()
            .to_string();
        let pods: Vec<String> = store
            .list(
                "Pod",
                Some(ns),
                &berth::store::LabelSelector::everything(),
                None,
                None,
            )
            .unwrap()
            .items
            .iter()
            .filter(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("db-"))
            })
            .map(|p| {
                p["metadata"]["labels"]["controller-revision-hash"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        (sts, update, pods)
    };
    let (_, before, pods) = rolled_out("tenant-acme");
    assert_eq!(pods.len(), 5, "{pods:?}");

    // acme's database gets less CPU: a new pod template, rolled out pod by pod.
    let acme = repo.join("tenants/acme.toml");
    let text = fs::read_to_string(&acme).unwrap();
    fs::write(
        &acme,
        text.replace(
            "resources = { cpu = \"4\", memory = \"16Gi\" }",
            "resources = { cpu = \"3\", memory = \"16Gi\" }",
        ),
    )
    .unwrap();
    let second = berth(
        &["apply", "--auto-approve", "--wait", "--timeout", "2m", r],
        dir.path(),
    );
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let (sts, after, pods) = rolled_out("tenant-acme");
    assert_ne!(before, after, "the pod template did not change: {sts}");
    assert_eq!(sts["status"]["currentRevision"], after, "{sts}");
    assert_eq!(sts["status"]["updatedReplicas"], 5, "{sts}");
    assert_eq!(sts["status"]["readyReplicas"], 5, "{sts}");
    assert_eq!(pods, vec![after.clone(); 5], "pods not all at {after}");
    assert!(
        format!("{}{}", second.stdout, second.stderr).contains("/5 updated"),
        "no rollout progress shown:\n{}\n{}",
        second.stdout,
        second.stderr
    );
}

/// With `[platform] pod_security = "restricted"`, tenant namespaces enforce the restricted
/// Pod Security Standard, and what berth renders still runs there: the emulator's PodSecurity
/// admission (the real checks) admits the database pods the StatefulSet controller creates,
/// the restore Job's pod and the pods of the Jobs the backup CronJobs start.
#[test]
fn the_database_backups_and_restores_run_under_the_restricted_pod_security_standard() {
    use berth::store::{LabelSelector, ObjectStore};
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    server.controllers().pause();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let platform = fs::read_to_string(repo.join("platform.toml")).unwrap();
    fs::write(
        repo.join("platform.toml"),
        platform.replace(
            "namespace_prefix = \"tenant-\"\n",
            "namespace_prefix = \"tenant-\"\npod_security = \"restricted\"\n",
        ),
    )
    .unwrap();
    let r = repo.to_str().unwrap();
    let out = berth(&["apply", "--auto-approve", r], dir.path());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let store = server.store();
    let ns = store.get("Namespace", "", "tenant-acme").unwrap();
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "{ns}"
    );
    let pods = |ns: &str, component: &str| -> Vec<serde_json::Value> {
        store
            .list(
                "Pod",
                Some(ns),
                &LabelSelector::parse(&format!("app.kubernetes.io/component={component}")).unwrap(),
                None,
                None,
            )
            .unwrap()
            .items
    };
    server.controllers().settle().unwrap();
    for (tenant, replicas) in [("acme", 5), ("globex", 3), ("initech", 1)] {
        let db = pods(&format!("tenant-{tenant}"), "database");
        assert_eq!(db.len(), replicas, "{tenant}: {db:#?}");
        for p in &db {
            assert_eq!(p["spec"]["securityContext"]["runAsNonRoot"], true, "{p}");
        }
    }
    // acme's restore Job has its pod, which can succeed.
    let restore = pods("tenant-acme", "restore");
    assert_eq!(restore.len(), 1, "{restore:#?}");
    let name = restore[0]["metadata"]["name"].as_str().unwrap();
    server
        .controllers()
        .finish_pod("tenant-acme", name, true)
        .unwrap();
    server.controllers().settle().unwrap();
    // Within the hour, the hourly backup schedule has started a Job, and the Job its pod
    // (in steps of five minutes: a schedule missed by more than startingDeadlineSeconds is
    // skipped). The nightly schedule has a time zone, which the emulator's CronJob
    // controller does not run.
    let backups = || pods("tenant-acme", "backup");
    assert!(backups().is_empty());
    for _ in 0..13 {
        if !backups().is_empty() {
            break;
        }
        server
            .controllers()
            .advance(std::time::Duration::from_secs(300));
        server.controllers().settle().unwrap();
    }
    let started = backups();
    assert_eq!(started.len(), 1, "{started:#?}");
    assert_eq!(
        started[0]["metadata"]["labels"]["berth.io/schedule"], "hourly",
        "{started:#?}"
    );
}

/// What the API server warns about reaches the user: a namespace (through a template
/// override) that warns at the restricted Pod Security level, and pods that would not meet it
/// (no pod_security setting, so no runAsNonRoot): the StatefulSet is created (workloads are
/// only warned about) and apply prints PodSecurity's warning with the request it answered,
/// as kubectl does.
#[test]
fn apply_shows_the_warnings_the_api_server_answers_with() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    server.controllers().pause();
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("templates")).unwrap();
    fs::write(
        repo.join("templates/namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ tenant.namespace | tojson }}\n  \
         labels:\n    pod-security.kubernetes.io/warn: restricted\n",
    )
    .unwrap();
    let out = berth(
        &["apply", "--auto-approve", repo.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("\nWarnings from the API server:\n")
            && out.stdout.contains("\n  ! local: PATCH /apis/apps/v1/namespaces/tenant-acme/statefulsets/db: would violate PodSecurity \"restricted:latest\": runAsNonRoot != true"),
        "{}",
        out.stdout
    );
}
