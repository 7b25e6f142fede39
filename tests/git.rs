//! Git sources, against real repositories made by the `git` CLI: a bare remote reached by a
//! `file://` URL, pushes, force-pushes, an unreachable remote, diagnostics of a commit, the
//! commands through `--repo`, offline plans of a change (`plan --base`), credentials that must
//! never be printed, and signed commits (SSH signatures by ssh-keygen, OpenPGP signatures by
//! gpg). Git over SSH is in `tests/git_ssh.rs`.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use berth::source::{GitAuth, GitOptions, GitSource, SignaturePolicy, Source, SourceError};
use support::git::{git, Repo};
use support::sshd::keygen;
use support::{berth, embedded_replicas, Run};

/// Hides the temporary directory and the commit of the work tree's HEAD (which changes
/// whenever the examples do) in output.
fn filtered(repo: &Repo, text: &str) -> String {
    let head = git(&repo.work(), &["rev-parse", "--short=7", "HEAD"]);
    text.replace(&repo.dir.path().display().to_string(), "[TMP]")
        .replace(&format!("@{head}"), "@[HEAD]")
}

#[test]
fn reads_a_commit_of_a_file_remote_like_the_directory_it_was_made_from() {
    let repo = Repo::examples();
    let head = git(&repo.work(), &["rev-parse", "HEAD"]);
    let tree = Source::Git(repo.source()).load().expect("load");
    let dir = berth::source::read_dir(&repo.work()).unwrap();
    assert_eq!(tree.revision.as_deref(), Some(head.as_str()));
    assert_eq!(tree.origin, repo.url());
    assert!(tree.diagnostics.is_empty(), "{:?}", tree.diagnostics);
    let files = |t: &berth::source::SourceTree| -> Vec<(String, String)> {
        t.platform
            .iter()
            .chain(&t.tenants)
            .chain(&t.backups)
            .chain(t.templates.values())
            .map(|f| (f.path.clone(), f.text.to_string()))
            .collect()
    };
    assert_eq!(files(&tree), files(&dir));
    assert_eq!(
        berth::apply::planfile::config_fingerprint(&tree),
        berth::apply::planfile::config_fingerprint(&dir),
        "a saved plan made from a directory fits the same commit"
    );
    // The cache is bare, under the state directory, and nothing is checked out.
    let caches: Vec<_> = fs::read_dir(repo.state().join("git")).unwrap().collect();
    assert_eq!(caches.len(), 1);
    let cache = caches[0].as_ref().unwrap().path();
    assert!(cache.join("HEAD").exists() && !cache.join("platform.toml").exists());
}

#[test]
fn a_new_pushed_commit_is_seen_by_the_next_load() {
    let repo = Repo::examples();
    let mut source = Source::Git(repo.source());
    let first = source.load().unwrap();
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let second_sha = repo.commit("acme: 4 replicas");
    let second = source.load().unwrap();
    assert_ne!(first.revision, second.revision);
    assert_eq!(second.revision.as_deref(), Some(second_sha.as_str()));
    let acme = |t: &berth::source::SourceTree| {
        t.tenants
            .iter()
            .find(|f| f.path == "tenants/acme.toml")
            .unwrap()
            .text
            .to_string()
    };
    assert!(acme(&first).contains("replicas = 5"));
    assert!(acme(&second).contains("replicas = 4"));
    let commit = second.commit.expect("the commit's author and message");
    assert_eq!(
        (
            commit.author.as_str(),
            commit.email.as_str(),
            commit.summary.as_str()
        ),
        ("Test", "test@example.com", "acme: 4 replicas")
    );
}

#[test]
fn a_force_push_is_followed() {
    let repo = Repo::examples();
    let mut source = repo.source();
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let abandoned = repo.commit("to be rewritten");
    assert_eq!(source.fetch().unwrap(), abandoned);
    // Rewrite history: drop that commit, commit something else, force-push.
    git(&repo.work(), &["reset", "-q", "--hard", "HEAD~1"]);
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 3");
    let rewritten = repo.commit("rewritten");
    let fetched = source.fetch().unwrap();
    assert_eq!(fetched, rewritten);
    let tree = source.read(&fetched).unwrap();
    let acme = tree
        .tenants
        .iter()
        .find(|f| f.path == "tenants/acme.toml")
        .unwrap();
    assert!(acme.text.contains("replicas = 3"));
    // The old commit is still in the cache, and can still be read by sha.
    assert!(source.read(&abandoned).is_ok());
}

#[test]
fn an_unreachable_remote_is_a_clear_error_and_the_cache_still_serves_the_last_commit() {
    let repo = Repo::examples();
    let mut source = repo.source();
    let sha = source.fetch().unwrap();
    fs::rename(repo.remote(), repo.dir.path().join("moved.git")).unwrap();

    let err = source.fetch().unwrap_err();
    assert!(matches!(err, SourceError::Fetch { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("cannot fetch {}: ", repo.url())),
        "{msg}"
    );
    let tree = source.read(&sha).expect("the cached commit");
    assert_eq!(tree.revision.as_deref(), Some(sha.as_str()));
    let mut as_source = Source::Git(source);
    assert!(as_source.load().is_err(), "load fetches first and says so");

    // The binary: an error naming the remote, and --offline reads the cache.
    let url = repo.url();
    let run = repo.berth(&["validate", "--repo", &url]);
    assert_eq!(run.code, 1);
    assert_eq!(
        filtered(&repo, &run.stderr),
        "error: cannot read the config repository: cannot fetch file://[TMP]/remote.git: no such repository\n"
    );
    let run = repo.berth(&["validate", "--repo", &url, "--offline"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("{url}@{} is valid: 3 tenants", &sha[..7])),
        "{}",
        run.stdout
    );
}

#[test]
fn offline_without_a_cache_says_so() {
    let repo = Repo::examples();
    let url = repo.url();
    let run = repo.berth(&["validate", "--repo", &url, "--offline"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("the default branch not found in file://"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("run once without --offline"));
}

#[test]
fn problems_in_a_commit_are_diagnostics_that_name_the_commit() {
    let repo = Repo::examples();
    repo.write(
        "tenants/globex.toml",
        b"name = \"globex\"\ntier = \"sm\xe4ll\"\n".as_slice(),
    );
    repo.edit("tenants/acme.toml", "tier = \"large\"", "tier = \"large");
    repo.write("backups/extra.toml/README", "a directory, not a file\n");
    repo.commit("break things");
    let url = repo.url();
    let run = repo.berth(&["validate", "--repo", &url]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    insta::assert_snapshot!(
        "git_diagnostics_name_the_commit",
        filtered(&repo, &run.stderr)
    );
}

#[test]
fn validate_render_and_plan_through_repo() {
    let repo = Repo::examples();
    let url = repo.url();

    let run = repo.berth(&["validate", "--repo", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("git_validate_repo", filtered(&repo, &run.stdout));

    let from_git = repo.berth(&["render", "--repo", &url, "--tenant", "initech"]);
    let work = repo.work().display().to_string();
    let from_dir = repo.berth(&["render", &work, "--tenant", "initech"]);
    assert_eq!(from_git.code, 0, "{}", from_git.stderr);
    // The same objects, after a comment naming the commit.
    let head = git(&repo.work(), &["rev-parse", "HEAD"]);
    let (comment, objects) = from_git.stdout.split_once('\n').unwrap();
    assert_eq!(
        comment,
        format!("# rendered from {url}@{} (commit {head})", &head[..7])
    );
    assert_eq!(objects, from_dir.stdout);

    // A branch, a tag and a sha.
    git(&repo.work(), &["tag", "v1"]);
    git(&repo.work(), &["push", "-q", "origin", "v1"]);
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    git(&repo.work(), &["checkout", "-q", "-b", "next"]);
    let next = repo.commit("next");
    git(&repo.work(), &["push", "-q", "origin", "next"]);
    for (args, expect) in [
        (vec!["--branch", "next"], "replicas: 4"),
        (vec!["--rev", "v1"], "replicas: 5"),
        (vec!["--rev", "next"], "replicas: 4"),
        (vec!["--rev", &next[..12]], "replicas: 4"),
    ] {
        let mut all = vec!["render", "--repo", &url, "--tenant", "acme"];
        all.extend(args.iter().copied());
        let run = repo.berth(&all);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.contains(expect), "{args:?}");
    }
    let run = repo.berth(&["render", "--repo", &url, "--rev", "nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("`nope` not found in file://"),
        "{}",
        run.stderr
    );

    // A plan against the embedded cluster (in the state directory) names the commit, and a
    // saved plan made from Git is applied from Git.
    let run = repo.berth(&["plan", "--repo", &url, "--out", "plan.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let main = git(&repo.work(), &["rev-parse", "main"]);
    assert!(
        run.stdout.starts_with(&format!("berth plan of {main}\n")),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("Plan: 40 to add, 0 to change, 0 to destroy."));
    let saved = fs::read_to_string(repo.dir.path().join("plan.json")).unwrap();
    assert!(saved.contains(&format!("\"revision\": \"{main}\"")));
    let run = repo.berth(&["apply", "plan.json", "--repo", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Apply complete! Resources: 40 added"));
    let run = repo.berth(&["drift", "--repo", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A pull request: add a tenant, change a tier, delete a protected tenant.
fn pull_request(repo: &Repo) -> (String, String) {
    let base = git(&repo.work(), &["rev-parse", "HEAD"]);
    repo.write(
        "tenants/hooli.toml",
        "name = \"hooli\"\ntier = \"small\"\n\n[[members]]\nname = \"gavin@hooli.example\"\nrole = \"admin\"\n\n[database]\nreplicas = 1\n",
    );
    repo.edit(
        "tenants/initech.toml",
        "tier = \"small\"",
        "tier = \"medium\"",
    );
    fs::remove_file(repo.config().join("tenants/globex.toml")).unwrap();
    fs::remove_file(repo.config().join("backups/globex.toml")).unwrap();
    repo.edit(
        "tenants/acme.toml",
        "allow_from = [\"monitoring\", \"tenant:globex\"]",
        "allow_from = [\"monitoring\"]",
    );
    let head = repo.commit("hooli in, initech medium, globex out");
    (base, head)
}

#[test]
fn plan_base_is_an_offline_plan_of_a_pull_request() {
    let repo = Repo::with_config_in("config");
    let (base, head) = pull_request(&repo);
    // Any cluster access would fail: the state directory is a file, the kubeconfig missing.
    let trap = repo.dir.path().join("state-is-a-file");
    fs::write(&trap, "not a directory").unwrap();
    let trap = trap.display().to_string();
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "config",
            "--base",
            "HEAD~1",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ];
        args.extend(extra);
        let out = Command::new(support::bin())
            .args(&args)
            .current_dir(repo.work())
            .env("NO_COLOR", "1")
            .env("BERTH_STATE_DIR", &trap)
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let text = plan(&["--detailed-exitcode"]);
    assert_eq!(text.code, 2, "{}", text.stderr);
    assert_eq!(text.stderr, "");
    assert!(text.stdout.starts_with(&format!(
        "berth plan of {}..{} (offline: the base taken as applied, no cluster contacted)\n",
        &base[..7],
        &head[..7]
    )));
    insta::assert_snapshot!(
        "git_plan_base_pull_request",
        text.stdout
            .replacen(&base[..7], "[BASE]", 1)
            .replacen(&head[..7], "[HEAD]", 1)
    );
    assert_eq!(fs::read_to_string(&trap).unwrap(), "not a directory");

    let md = plan(&["-o", "markdown"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(md
        .stdout
        .contains(&format!("Offline plan of `{}..{}`", &base[..7], &head[..7])));
    assert!(
        md.stdout
            .contains("### Removed from the configuration, kept"),
        "{}",
        md.stdout
    );
    let json = plan(&["-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["base"], base.as_str());
    assert_eq!(doc["revision"], head.as_str());
    // The protected tenant is kept whole: no change touches it.
    assert_eq!(doc["summary"]["destroy"], 0, "{}", json.stdout);
    assert_eq!(doc["kept"][0]["tenant"], "globex", "{}", json.stdout);

    // Permitted by name, all of it goes, nothing blocked; the same revisions give no changes.
    let allowed = plan(&["--allow-destroy", "globex", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&allowed.stdout).unwrap();
    assert_eq!(doc["summary"]["blocked"], 0);
    assert_eq!(doc["summary"]["destroy"], 13, "{}", allowed.stdout);
    assert_eq!(doc["kept"], serde_json::json!([]));
    let same = plan(&["--rev", "HEAD~1"]);
    assert!(
        same.stdout
            .ends_with("No changes. Both revisions render the same objects.\n"),
        "{}",
        same.stdout
    );
}

#[test]
fn plan_base_through_repo_reads_both_revisions_from_the_remote() {
    let repo = Repo::examples();
    let (base, head) = pull_request(&repo);
    let url = repo.url();
    let run = repo.berth(&["plan", "--repo", &url, "--base", &base[..10]]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(&format!(
        "berth plan of {}..{} (offline",
        &base[..7],
        &head[..7]
    )));
    assert!(run.stdout.contains("+ Namespace/tenant-hooli"));
    // The embedded cluster's store was never opened.
    assert!(!repo.state().join("local.sqlite3").exists());

    let run = repo.berth(&["plan", "--repo", &url, "--base", "v0"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("`v0` not found"), "{}", run.stderr);
}

#[test]
fn credentials_never_appear_in_errors_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").display().to_string();
    // Nothing listens on port 1.
    let url = "https://deploy:s3cr3t-TOKEN@127.0.0.1:1/org/config.git";
    for args in [
        vec!["validate", "--repo", url, "-vvv"],
        vec!["plan", "--repo", url, "-vvv"],
        vec!["plan", "--repo", url, "--base", "main"],
    ] {
        let mut args = args;
        args.extend(["--state-dir", &state]);
        let out = Command::new(support::bin())
            .args(&args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("BERTH_GIT_TOKEN", "env-TOKEN-value")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(!all.contains("s3cr3t"), "{all}");
        assert!(!all.contains("env-TOKEN-value"), "{all}");
        assert!(!all.contains("deploy"), "{all}");
        assert!(
            all.contains("cannot fetch https://***@127.0.0.1:1/org/config.git: "),
            "{all}"
        );
    }
    // The cache is named without the credentials too.
    for entry in fs::read_dir(dir.path().join("state/git")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains("s3cr3t") && !name.contains("deploy"),
            "{name}"
        );
    }
}

fn signed_commit(repo: &Repo, key: &Path, message: &str) -> String {
    git(&repo.work(), &["add", "-A"]);
    let key = key.display().to_string();
    git(
        &repo.work(),
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("user.signingkey={key}"),
            "commit",
            "-q",
            "-S",
            "-m",
            message,
        ],
    );
    git(&repo.work(), &["push", "-q", "--force", "origin", "main"]);
    git(&repo.work(), &["rev-parse", "HEAD"])
}

#[test]
fn signed_commits_are_verified_with_ssh_keygen() {
    let repo = Repo::examples();
    let (trusted, trusted_pub) = keygen(repo.dir.path(), "trusted", "");
    let (stranger, _) = keygen(repo.dir.path(), "stranger", "");
    let signers = repo.dir.path().join("allowed_signers");
    fs::write(&signers, format!("test@example.com {trusted_pub}\n")).unwrap();
    let url = repo.url();
    let signers_arg = signers.display().to_string();
    let validate = || {
        repo.berth(&[
            "validate",
            "--repo",
            &url,
            "--verify-signatures",
            "--allowed-signers",
            &signers_arg,
        ])
    };

    // The first commit of Repo::examples is unsigned.
    let run = validate();
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let unsigned = git(&repo.work(), &["rev-parse", "--short=7", "HEAD"]);
    assert_eq!(
        filtered(&repo, &run.stderr),
        format!("error: cannot read the config repository: refusing commit {unsigned} of file://[TMP]/remote.git: the commit is not signed\n")
    );

    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let good = signed_commit(&repo, &trusted, "signed by a trusted key");
    let run = validate();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&format!("@{} is valid", &good[..7])));

    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 3");
    let wrong = signed_commit(&repo, &stranger, "signed by a stranger");
    let run = validate();
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains(&format!("refusing commit {} of file://", &wrong[..7]))
            && run
                .stderr
                .contains("the commit is signed by an unknown key (its key is not in"),
        "{}",
        run.stderr
    );

    // A signed commit whose content was changed afterwards: same signature, other payload.
    git(&repo.work(), &["reset", "-q", "--hard", &good]);
    let object = git(&repo.work(), &["cat-file", "commit", "HEAD"]);
    let forged = object.replace("signed by a trusted key", "forged");
    let forged_file = repo.dir.path().join("forged");
    fs::write(&forged_file, format!("{forged}\n")).unwrap();
    let forged_sha = git(
        &repo.work(),
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            &forged_file.display().to_string(),
        ],
    );
    git(&repo.work(), &["reset", "-q", "--hard", &forged_sha]);
    git(&repo.work(), &["push", "-q", "--force", "origin", "main"]);
    let run = validate();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(&format!("refusing commit {} of", &forged_sha[..7]))
            && run.stderr.contains("bad signature"),
        "{}",
        run.stderr
    );

    // The library: nothing of a refused commit is read.
    let mut opts = repo.options();
    opts.verify = Some(SignaturePolicy {
        allowed_signers: Some(signers.clone()),
        gpg_keyring: None,
    });
    let mut source = GitSource::remote(opts).unwrap();
    let sha = source.fetch().unwrap();
    assert!(matches!(
        source.read(&sha),
        Err(SourceError::Signature { .. })
    ));
    assert!(source.read(&good).is_ok());
}

#[test]
fn rev_on_a_directory_reads_that_commit_of_its_repository() {
    let repo = Repo::with_config_in("config");
    let first = git(&repo.work(), &["rev-parse", "HEAD"]);
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    repo.commit("acme: 4 replicas");
    // Uncommitted changes are not read.
    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 2");
    let render = |rev: &str| {
        berth(
            &["render", "config", "--rev", rev, "--tenant", "acme"],
            &repo.work(),
        )
    };
    let head = render("HEAD");
    assert_eq!(head.code, 0, "{}", head.stderr);
    assert!(head.stdout.contains("replicas: 4"));
    let old = render(&first);
    assert!(old.stdout.contains("replicas: 5"));
    let run = berth(&["validate", "--rev", "HEAD"], &repo.config());
    assert!(run.stdout.starts_with(".@"), "{}", run.stdout);
    let outside = tempfile::tempdir().unwrap();
    let run = berth(&["validate", ".", "--rev", "HEAD"], outside.path());
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("is not in a Git repository"),
        "{}",
        run.stderr
    );
}

/// An HTTP server that answers every request with 401, counting them.
fn refusing_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (format!("http://127.0.0.1:{port}/org/config.git"), count)
}

#[test]
fn bad_credentials_are_tried_once_and_named_not_shown() {
    let (url, requests) = refusing_server();
    let state = tempfile::tempdir().unwrap();
    let opts = GitOptions {
        url: url.replace("http://", "http://deploy:url-SECRET@"),
        branch: Some("main".into()),
        rev: None,
        state_dir: state.path().to_path_buf(),
        auth: GitAuth {
            token: Some(berth::source::Secret::new("token-SECRET")),
            ..GitAuth::default()
        },
        verify: None,
        offline: false,
    };
    let mut source = GitSource::remote(opts).unwrap();
    let err = source.fetch().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SourceError::Auth { .. }), "{err:?}");
    assert!(!msg.contains("SECRET") && !msg.contains("deploy"), "{msg}");
    assert!(!format!("{err:?}").contains("SECRET"));
    assert!(
        msg.starts_with("authentication to http://***@127.0.0.1:"),
        "{msg}"
    );
    let n = requests.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        n <= 4,
        "{n} requests: the credentials must not be retried in a loop"
    );

    // Without any credential, it says so.
    let (url, _) = refusing_server();
    let opts = GitOptions {
        url,
        branch: Some("main".into()),
        rev: None,
        state_dir: state.path().to_path_buf(),
        auth: GitAuth::default(),
        verify: None,
        offline: false,
    };
    let err = GitSource::remote(opts).unwrap().fetch().unwrap_err();
    assert!(
        err.to_string().contains("(no credentials were available)"),
        "{err}"
    );
}

// The daemon following a remote.

fn synced(d: &support::Daemon, sha: &str, result: &str) -> Option<serde_json::Value> {
    let s = d.status()["last_sync"].clone();
    (s["revision"] == sha && s["result"] == result).then_some(s)
}

/// Pushes are picked up by polling; an invalid commit is never applied and the next valid
/// one is; a force-push is followed; an unreachable remote keeps the last good state.
#[test]
fn the_daemon_follows_pushes_force_pushes_and_outages_of_a_remote() {
    let repo = Repo::examples();
    let first = git(&repo.work(), &["rev-parse", "HEAD"]);
    let (url, state) = (repo.url(), repo.state());
    let d = repo.daemon(&url, "1s", &[]);
    d.wait(60, "the first commit applied", || {
        synced(&d, &first, "applied")
    });
    assert_eq!(d.status()["source"], format!("{url} (branch main)"));
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(5));

    // A push, picked up by polling.
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let pushed_at = std::time::Instant::now();
    let second = repo.commit("acme: 4 replicas");
    d.wait(30, "the pushed commit applied", || {
        synced(&d, &second, "applied")
    });
    eprintln!(
        "push to applied, polling every 1s: {:?}",
        pushed_at.elapsed()
    );
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(4));
    assert_eq!(
        d.status()["tenants"]["acme"]["applied_revision"],
        second.as_str()
    );
    // The sync records the commit's author and message, and the tenant's page shows them
    // with the state after the apply (the changed tenant is observed again at once, not at
    // the next drift check an hour away).
    let history = d.json("/api/v1/history");
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["author"], "Test <test@example.com>");
    assert_eq!(last["message"], "acme: 4 replicas");
    let (code, page) = support::http("GET", &format!("{}/tenants/acme", d.url), &[], b"");
    assert_eq!(code, 200);
    assert!(
        page.contains("<td class=\"author\" title=\"test@example.com\">Test</td><td class=\"message\">acme: 4 replicas</td>"),
        "{page}"
    );
    assert!(
        page.contains("?/4 ready"),
        "live state after the apply: {page}"
    );

    // An invalid commit (with a valid change in it) is never applied, not in part.
    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 3");
    repo.edit(
        "tenants/globex.toml",
        "tier = \"medium\"",
        "tier = \"mediun\"",
    );
    let bad = repo.commit("broken");
    let record = d.wait(30, "the invalid commit seen", || {
        synced(&d, &bad, "invalid")
    });
    assert!(
        record["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("tenants/globex.toml:"),
        "{record}"
    );
    let status = d.status();
    assert_eq!(status["good_revision"], second.as_str());
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(4));
    repo.edit(
        "tenants/globex.toml",
        "tier = \"mediun\"",
        "tier = \"medium\"",
    );
    let fixed = repo.commit("fixed");
    d.wait(30, "the fixed commit applied", || {
        synced(&d, &fixed, "applied")
    });
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(3));

    // A force-push rewrites history: the new tip is what counts.
    git(&repo.work(), &["reset", "-q", "--hard", "HEAD~1"]);
    repo.edit(
        "tenants/globex.toml",
        "tier = \"mediun\"",
        "tier = \"medium\"",
    );
    repo.edit("tenants/acme.toml", "replicas = 3", "replicas = 2");
    let rewritten = repo.commit("rewritten");
    d.wait(30, "the force-pushed commit applied", || {
        synced(&d, &rewritten, "applied")
    });
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(2));

    // The remote goes away: errors, and the last good state stays in force.
    let moved = repo.dir.path().join("moved.git");
    fs::rename(repo.remote(), &moved).unwrap();
    let record = d.wait(30, "the outage seen", || {
        let s = d.status()["last_sync"].clone();
        (s["result"] == "source_error").then_some(s)
    });
    assert!(
        record["errors"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot fetch {url}")),
        "{record}"
    );
    let status = d.status();
    assert_eq!(status["good_revision"], rewritten.as_str());
    let (code, _) = support::http("GET", &format!("{}/readyz", d.url), &[], b"");
    assert_eq!(code, 200, "still serving the last good state");
    assert!(d
        .metrics()
        .lines()
        .any(|l| l.starts_with("berth_errors_total{kind=\"source\"}")));
    fs::rename(&moved, repo.remote()).unwrap();
    d.wait(30, "the remote back", || {
        synced(&d, &rewritten, "no_changes")
    });
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(2));
}

/// A signed push webhook syncs at once; a push to another branch is ignored.
#[test]
fn a_push_webhook_syncs_the_daemon_at_once() {
    let repo = Repo::examples();
    let first = git(&repo.work(), &["rev-parse", "HEAD"]);
    let (url, state) = (repo.url(), repo.state());
    let secret = repo.dir.path().join("hook-secret");
    fs::write(&secret, "s3cret").unwrap();
    // Polling once an hour: only the webhook can explain a prompt sync.
    let d = repo.daemon(
        &url,
        "1h",
        &["--webhook-secret-file", secret.to_str().unwrap()],
    );
    d.wait(60, "the first commit applied", || {
        synced(&d, &first, "applied")
    });
    let hook = |git_ref: &str, sha: &str| {
        let body = format!(r#"{{"ref":"{git_ref}","after":"{sha}"}}"#);
        let sig = berth::daemon::webhook::github_signature("s3cret", body.as_bytes());
        support::http(
            "POST",
            &format!("{}/webhooks/github", d.url),
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
            body.as_bytes(),
        )
    };

    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let pushed_at = std::time::Instant::now();
    let second = repo.commit("acme: 4 replicas");
    let (code, _) = hook("refs/heads/main", &second);
    assert_eq!(code, 202);
    let record = d.wait(30, "the pushed commit applied", || {
        synced(&d, &second, "applied")
    });
    eprintln!("push to applied, with a webhook: {:?}", pushed_at.elapsed());
    assert_eq!(record["trigger"], "webhook");
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(4));

    // A push to another branch is acknowledged and changes nothing.
    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 3");
    let third = repo.commit("acme: 3 replicas");
    let (code, text) = hook("refs/heads/other", &third);
    assert_eq!(code, 202);
    assert!(
        text.starts_with("ignored: push to refs/heads/other"),
        "{text}"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(d.json("/api/v1/history").as_array().unwrap().len(), 2);
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(4));
}

/// With signature verification, the daemon applies signed commits and refuses the others,
/// saying why, while the last good commit stays in force.
#[test]
fn the_daemon_applies_only_commits_signed_by_an_allowed_key() {
    let repo = Repo::examples();
    let (trusted, trusted_pub) = keygen(repo.dir.path(), "trusted", "");
    let (stranger, _) = keygen(repo.dir.path(), "stranger", "");
    let signers = repo.dir.path().join("allowed_signers");
    fs::write(&signers, format!("test@example.com {trusted_pub}\n")).unwrap();
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let good = signed_commit(&repo, &trusted, "signed");
    let (url, state) = (repo.url(), repo.state());
    let d = repo.daemon(
        &url,
        "1s",
        &[
            "--verify-signatures",
            "--allowed-signers",
            signers.to_str().unwrap(),
        ],
    );
    d.wait(60, "the signed commit applied", || {
        synced(&d, &good, "applied")
    });

    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 3");
    signed_commit(&repo, &stranger, "signed by a stranger");
    let record = d.wait(30, "the stranger's commit refused", || {
        let s = d.status()["last_sync"].clone();
        (s["result"] == "source_error").then_some(s)
    });
    let why = record["errors"][0].as_str().unwrap();
    assert!(why.contains("refusing commit"), "{why}");
    repo.edit("tenants/acme.toml", "replicas = 3", "replicas = 2");
    repo.commit("unsigned");
    d.wait(30, "the unsigned commit refused", || {
        let s = d.status()["last_sync"].clone();
        let e = s["errors"][0].as_str().unwrap_or("").to_string();
        e.contains("not signed").then_some(())
    });
    assert_eq!(d.status()["good_revision"], good.as_str());
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(4));
}

// OpenPGP signatures, made and checked by the real gpg.

/// An OpenPGP key in a GNUPGHOME of its own (ed25519, no passphrase, made by gpg); its agent
/// is stopped when dropped.
struct GpgKey {
    home: tempfile::TempDir,
    fingerprint: String,
}

impl GpgKey {
    fn new(uid: &str) -> GpgKey {
        let home = tempfile::tempdir().unwrap();
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .args(["--batch", "--no-tty", "--homedir"])
                .arg(home.path())
                .args(args)
                .output()
                .expect("gpg is installed");
            assert!(out.status.success(), "gpg {args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ]);
        let listing = gpg(&["--with-colons", "--list-secret-keys"]);
        let fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .expect("a fingerprint")
            .to_string();
        GpgKey { home, fingerprint }
    }

    /// `gpg --export` of the public key (`--armor` when `armor`) into `file`.
    fn export(&self, file: &Path, armor: bool) {
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--no-tty", "--homedir"])
            .arg(self.home.path())
            .arg("--export");
        if armor {
            cmd.arg("--armor");
        }
        let out = cmd.arg(&self.fingerprint).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{out:?}");
        fs::write(file, out.stdout).unwrap();
    }

    /// Revokes the key in its home directory, with the revocation certificate gpg made with
    /// it.
    fn revoke(&self) {
        let cert = self
            .home
            .path()
            .join(format!("openpgp-revocs.d/{}.rev", self.fingerprint));
        let text = fs::read_to_string(&cert).unwrap();
        // gpg writes it disarmed: the armor's first line starts with a colon.
        let armed = text.replace(":-----BEGIN PGP", "-----BEGIN PGP");
        fs::write(&cert, armed).unwrap();
        let out = Command::new("gpg")
            .args(["--batch", "--no-tty", "--homedir"])
            .arg(self.home.path())
            .arg("--import")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// Commits everything signed with this key (`git commit -S`, gpg.program = gpg) and
    /// pushes; the new sha.
    fn signed_commit(&self, repo: &Repo, message: &str) -> String {
        git(&repo.work(), &["add", "-A"]);
        support::git::git_with(
            &repo.work(),
            &[
                "-c",
                "gpg.format=openpgp",
                "-c",
                "gpg.program=gpg",
                "-c",
                &format!("user.signingkey={}", self.fingerprint),
                "commit",
                "-q",
                "-S",
                "-m",
                message,
            ],
            &[("GNUPGHOME", self.home.path())],
        );
        git(&repo.work(), &["push", "-q", "--force", "origin", "main"]);
        git(&repo.work(), &["rev-parse", "HEAD"])
    }
}

impl Drop for GpgKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .output();
    }
}

/// Rewrites the message of the commit `sha` of the work tree, keeping its signature (so the
/// signature no longer matches), and force-pushes the result; the forged sha.
fn forge(repo: &Repo, sha: &str, from: &str, to: &str) -> String {
    git(&repo.work(), &["reset", "-q", "--hard", sha]);
    let object = git(&repo.work(), &["cat-file", "commit", "HEAD"]);
    assert!(object.contains("-----BEGIN PGP SIGNATURE-----"), "{object}");
    let forged = object.replace(from, to);
    let file = repo.dir.path().join("forged");
    fs::write(&file, format!("{forged}\n")).unwrap();
    let forged_sha = git(
        &repo.work(),
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            &file.display().to_string(),
        ],
    );
    git(&repo.work(), &["reset", "-q", "--hard", &forged_sha]);
    git(&repo.work(), &["push", "-q", "--force", "origin", "main"]);
    forged_sha
}

#[test]
fn openpgp_signed_commits_are_verified_with_gpg() {
    let repo = Repo::examples();
    let trusted = GpgKey::new("Test <test@example.com>");
    let stranger = GpgKey::new("Stranger <stranger@example.com>");
    let keyring = repo.dir.path().join("trusted.gpg");
    trusted.export(&keyring, false);
    let armored = repo.dir.path().join("trusted.asc");
    trusted.export(&armored, true);
    let url = repo.url();
    let validate = |keyring: &Path| {
        repo.berth(&[
            "validate",
            "--repo",
            &url,
            "--verify-signatures",
            "--gpg-keyring",
            &keyring.display().to_string(),
        ])
    };

    // The first commit of Repo::examples is unsigned.
    let run = validate(&keyring);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let unsigned = git(&repo.work(), &["rev-parse", "--short=7", "HEAD"]);
    assert_eq!(
        filtered(&repo, &run.stderr),
        format!("error: cannot read the config repository: refusing commit {unsigned} of file://[TMP]/remote.git: the commit is not signed\n")
    );

    // Signed by the key of the keyring, exported as binary or ASCII-armored.
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let good = trusted.signed_commit(&repo, "signed by a trusted key");
    for file in [&keyring, &armored] {
        let run = validate(file);
        assert_eq!(run.code, 0, "{}: {}", file.display(), run.stderr);
        assert!(
            run.stdout.contains(&format!("@{} is valid", &good[..7])),
            "{}",
            run.stdout
        );
    }
    // An OpenPGP signature is not checked against SSH allowed signers.
    let signers = repo.dir.path().join("allowed_signers");
    fs::write(&signers, "").unwrap();
    let run = repo.berth(&[
        "validate",
        "--repo",
        &url,
        "--verify-signatures",
        "--allowed-signers",
        &signers.display().to_string(),
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "the commit is signed by an unknown key (an OpenPGP signature, and no --gpg-keyring was given)"
        ),
        "{}",
        run.stderr
    );

    // Signed by a key that is not in the keyring.
    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 3");
    let wrong = stranger.signed_commit(&repo, "signed by a stranger");
    let run = validate(&keyring);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: refusing commit {} of {url}: the commit is signed by an unknown key (its key is not in {})\n",
            &wrong[..7],
            keyring.display()
        )
    );

    // A signed commit changed afterwards: the signature no longer matches.
    let forged = forge(&repo, &good, "signed by a trusted key", "forged");
    let run = validate(&keyring);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: refusing commit {} of {url}: bad signature (gpg: BADSIG)\n",
            &forged[..7]
        )
    );

    // The library: nothing of a refused commit is read; the good one is.
    let mut opts = repo.options();
    opts.verify = Some(SignaturePolicy {
        allowed_signers: None,
        gpg_keyring: Some(keyring.clone()),
    });
    let mut source = GitSource::remote(opts).unwrap();
    let sha = source.fetch().unwrap();
    assert_eq!(sha, forged);
    assert!(matches!(
        source.read(&sha),
        Err(SourceError::Signature { .. })
    ));
    assert!(source.read(&good).is_ok());

    // The key is revoked after it signed: its commits are refused.
    git(&repo.work(), &["reset", "-q", "--hard", &good]);
    git(&repo.work(), &["push", "-q", "--force", "origin", "main"]);
    trusted.revoke();
    let revoked = repo.dir.path().join("revoked.gpg");
    trusted.export(&revoked, false);
    let run = validate(&revoked);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: refusing commit {} of {url}: bad signature (the signing key is revoked; gpg: REVKEYSIG)\n",
            &good[..7]
        )
    );

    // A keyring that holds no key, or is missing, is an error that says so.
    let run = validate(&signers);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "the signature could not be checked: no OpenPGP public key could be read from {}",
            signers.display()
        )),
        "{}",
        run.stderr
    );
    let run = validate(&repo.dir.path().join("missing.gpg"));
    assert!(
        run.stderr
            .contains("the signature could not be checked: cannot read the keyring "),
        "{}",
        run.stderr
    );
}

/// With an OpenPGP keyring, the daemon applies commits signed by its keys and refuses the
/// others (a stranger's, a forged one), while the last good commit stays in force.
#[test]
fn the_daemon_applies_only_commits_signed_by_a_key_of_the_gpg_keyring() {
    let repo = Repo::examples();
    let trusted = GpgKey::new("Test <test@example.com>");
    let stranger = GpgKey::new("Stranger <stranger@example.com>");
    let keyring = repo.dir.path().join("trusted.asc");
    trusted.export(&keyring, true);
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let good = trusted.signed_commit(&repo, "signed");
    let (url, state) = (repo.url(), repo.state());
    let d = repo.daemon(
        &url,
        "1s",
        &[
            "--verify-signatures",
            "--gpg-keyring",
            keyring.to_str().unwrap(),
        ],
    );
    d.wait(60, "the signed commit applied", || {
        synced(&d, &good, "applied")
    });

    repo.edit("tenants/acme.toml", "replicas = 4", "replicas = 3");
    let wrong = stranger.signed_commit(&repo, "signed by a stranger");
    let refused = |sha: &str| {
        let s = d.status()["last_sync"].clone();
        let e = s["errors"][0].as_str().unwrap_or("").to_string();
        (s["result"] == "source_error" && e.contains(&format!("refusing commit {}", &sha[..7])))
            .then_some(e)
    };
    let why = d.wait(30, "the stranger's commit refused", || refused(&wrong));
    assert!(
        why.contains("the commit is signed by an unknown key (its key is not in"),
        "{why}"
    );

    let forged = forge(&repo, &good, "signed", "forged");
    let why = d.wait(30, "the forged commit refused", || refused(&forged));
    assert!(why.ends_with("bad signature (gpg: BADSIG)"), "{why}");
    assert_eq!(d.status()["good_revision"], good.as_str());
    assert_eq!(embedded_replicas(&state, "tenant-acme"), Some(4));
}

/// Two replicas with leader election behind one Service: a push webhook that lands on the
/// follower makes the leader sync at once (the follower asks through the Lease), not at its
/// next poll an hour later.
#[test]
fn a_webhook_that_lands_on_the_follower_makes_the_leader_sync() {
    use berth::store::ObjectStore;
    use kube_emulator::ApiServer;
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let repo = Repo::examples();
    // The repository's only cluster is the test server, which also holds the Lease.
    let kubeconfig = support::write_kubeconfig(repo.dir.path(), &server);
    let platform_path = repo.config().join("platform.toml");
    let platform = fs::read_to_string(&platform_path).unwrap();
    let cut = platform.find("# A real cluster").unwrap();
    let end = platform[cut..].find("[tiers.").unwrap() + cut;
    let platform = format!("{}{}", &platform[..cut], &platform[end..]).replace(
        "[clusters.local]\ndescription = \"embedded local cluster\"",
        &format!(
            "[clusters.local]\ncontext = \"{}\"\nkubeconfig = \"{}\"",
            support::CONTEXT,
            kubeconfig.display()
        ),
    );
    fs::write(&platform_path, platform).unwrap();
    let first = repo.commit("on the test server");
    let ns = repo.dir.path().join("ns.yaml");
    fs::write(
        &ns,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: berth-system\n",
    )
    .unwrap();
    support::kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--validate=false",
            "-f",
            ns.to_str().unwrap(),
        ],
    );
    let secret = repo.dir.path().join("hook-secret");
    fs::write(&secret, "s3cret").unwrap();
    let url = repo.url();
    let replica = |id: &str| {
        let state = repo.dir.path().join(format!("state-{id}"));
        let state = state.to_str().unwrap();
        support::Daemon::start(
            &[
                "--repo",
                &url,
                "--branch",
                "main",
                "--state-dir",
                state,
                "--interval",
                "1h",
                "--drift-interval",
                "1h",
                "--leader-elect",
                "--lease-duration",
                "3s",
                "--identity",
                id,
                "--webhook-secret-file",
                secret.to_str().unwrap(),
            ],
            repo.dir.path(),
            &[],
        )
    };
    let a = replica("replica-a");
    a.wait(60, "replica a to apply", || synced(&a, &first, "applied"));
    let b = replica("replica-b");
    b.wait(60, "replica b's first sync", || {
        (!b.status()["last_sync"].is_null()).then_some(())
    });
    assert_eq!(a.status()["leader"], true);
    assert_eq!(b.status()["leader"], false);

    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let second = repo.commit("acme: 4 replicas");
    let body = format!(r#"{{"ref":"refs/heads/main","after":"{second}"}}"#);
    let sig = berth::daemon::webhook::github_signature("s3cret", body.as_bytes());
    let pushed_at = std::time::Instant::now();
    let (code, _) = support::http(
        "POST",
        &format!("{}/webhooks/github", b.url),
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
        body.as_bytes(),
    );
    assert_eq!(code, 202);
    a.wait(
        30,
        "the leader to apply the push the follower received",
        || synced(&a, &second, "applied"),
    );
    eprintln!(
        "webhook on the follower to applied by the leader: {:?}",
        pushed_at.elapsed()
    );
    assert!(b.log().contains("asked the leader to sync"), "{}", b.log());
    assert!(
        a.log().contains("a follower received a push webhook"),
        "{}",
        a.log()
    );
    let replicas = support::kubectl(
        &server,
        &[
            "get",
            "statefulset",
            "db",
            "-n",
            "tenant-acme",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(replicas, "4");
}
