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
