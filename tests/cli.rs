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
