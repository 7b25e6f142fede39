//! Git over smart HTTP with a token, against the real `git http-backend` behind a server
//! that asks for Basic authentication (`support::git_http`): the token from the environment
//! or from a file reads the repository; a wrong token or none is refused, named and never
//! shown; a dashboard proposal is pushed with the same token.

mod support;

use std::fs;

use berth::source::propose::{FileChange, Proposal};
use berth::source::{GitAuth, GitSource, Secret};
use support::git::Repo;
use support::git_http::GitHttp;
use support::{berth_with, Run};

const TOKEN: &str = "glpat-good-SECRET-token";

/// Variables of the user's environment that would change the credentials berth uses.
const USER_ENV: &[&str] = &["BERTH_GIT_TOKEN", "BERTH_GIT_TOKEN_FILE", "SSH_AUTH_SOCK"];

fn validate(repo: &Repo, url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let state = repo.state().display().to_string();
    let mut all = vec!["validate", "--repo", url, "--state-dir", &state];
    all.extend(args);
    berth_with(&all, repo.dir.path(), env, USER_ENV)
}

#[test]
fn a_token_from_the_environment_or_a_file_reads_the_repository_and_a_wrong_one_is_refused() {
    let repo = Repo::examples();
    let server = GitHttp::start(repo.dir.path(), TOKEN);
    let url = server.url("remote.git");
    let head = support::git::git(&repo.work(), &["rev-parse", "--short=7", "HEAD"]);

    let run = validate(&repo, &url, &[], &[("BERTH_GIT_TOKEN", TOKEN)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("{url}@{head} is valid: 3 tenants, 4 backup schedules, 1 restore request; 40 objects rendered\n")
    );
    // Challenged first, then the token as the password of `x-access-token`.
    let seen = server.seen();
    assert!(
        seen.iter().any(|s| !s.authorized && s.user.is_none()),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.authorized && s.user.as_deref() == Some("x-access-token")),
        "{seen:?}"
    );

    // A new commit, read with the token from a file.
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let second = repo.commit("acme: 4 replicas");
    let file = repo.dir.path().join("token");
    fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let file = file.display().to_string();
    let run = validate(&repo, &url, &["--git-token-file", &file], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("{url}@{} is valid", &second[..7])),
        "{}",
        run.stdout
    );

    // A wrong token: refused once, named, never shown; nothing read.
    let before = server.seen().len();
    let run = validate(&repo, &url, &[], &[("BERTH_GIT_TOKEN", "wrong-SECRET")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!("error: cannot read the config repository: authentication to {url} failed (tried the token); set BERTH_GIT_TOKEN or --git-token-file to a token that can read the repository\n")
    );
    assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    let tries = server.seen().len() - before;
    assert!(
        tries <= 3,
        "{tries} requests: a refused token is not retried"
    );

    // No token at all.
    let run = validate(&repo, &url, &[], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("(no credentials were available)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_proposal_is_pushed_over_http_with_the_token() {
    let repo = Repo::examples();
    let server = GitHttp::start(repo.dir.path(), TOKEN);
    let mut options = repo.options();
    options.url = server.url("remote.git");
    options.auth = GitAuth {
        token: Some(Secret::new(TOKEN)),
        ..GitAuth::default()
    };
    let mut source = GitSource::remote(options).expect("open the cache");
    let base = source.fetch().expect("fetch over http");
    let proposals = source.proposal_repo().expect("a remote takes proposals");
    let text = fs::read_to_string(repo.config().join("tenants/acme.toml")).unwrap();
    let done = proposals
        .commit(
            &base,
            &Proposal {
                branch: "berth/acme-replicas".to_string(),
                message: "acme: 4 replicas".to_string(),
                files: vec![FileChange {
                    path: "tenants/acme.toml".to_string(),
                    text: text.replace("replicas = 5", "replicas = 4"),
                }],
                author: ("Ada".to_string(), "ada@example.com".to_string()),
            },
        )
        .expect("pushed");
    assert_eq!(
        done.pushed_to.as_deref(),
        Some(server.url("remote.git").as_str())
    );
    let pushed = support::git::git(&repo.remote(), &["rev-parse", "berth/acme-replicas"]);
    assert_eq!(pushed, done.commit);
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.authorized && s.line.starts_with("POST /remote.git/git-receive-pack")),
        "{:?}",
        server.seen()
    );
}

#[test]
fn https_with_a_token_reads_the_repository_and_an_untrusted_certificate_is_refused() {
    let repo = Repo::examples();
    let (server, cert) = GitHttp::start_tls(repo.dir.path(), TOKEN, repo.dir.path());
    let url = server.url("remote.git");
    assert!(url.starts_with("https://localhost:"), "{url}");
    let head = support::git::git(&repo.work(), &["rev-parse", "--short=7", "HEAD"]);
    let cert = cert.display().to_string();

    // The server's certificate trusted (OpenSSL reads SSL_CERT_FILE).
    let run = validate(
        &repo,
        &url,
        &[],
        &[("BERTH_GIT_TOKEN", TOKEN), ("SSL_CERT_FILE", &cert)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!("{url}@{head} is valid")),
        "{}",
        run.stdout
    );
    assert!(
        server.seen().iter().any(|s| s.authorized),
        "{:?}",
        server.seen()
    );

    // Not trusted: refused before any request is made, and the error says why.
    let before = server.seen().len();
    let run = validate(
        &repo,
        &url,
        &[],
        &[
            ("BERTH_GIT_TOKEN", TOKEN),
            ("SSL_CERT_FILE", "/dev/null"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!("error: cannot read the config repository: cannot fetch {url}: the SSL certificate is invalid: the server's TLS certificate is not trusted here; it must chain to a certificate authority of the system's store, or of the file SSL_CERT_FILE names\n")
    );
    assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    assert_eq!(
        server.seen().len(),
        before,
        "no request without a trusted server"
    );
}
