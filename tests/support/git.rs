//! Git repositories made by the `git` CLI for the tests: a work tree pushing to a bare
//! remote, with a fixed identity and dates.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth::source::{GitAuth, GitOptions, GitSource};

use super::{berth, copy_tree, Run};

/// Runs `git` in `dir` with a fixed identity and dates (so commit shas are the same on every
/// run) and no user or system configuration; panics when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with(dir, args, &[])
}

/// Like [`git`], with more environment variables (`GNUPGHOME` for signing, say).
pub fn git_with(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A work repository (`work/`, the config under `work/<sub>`) pushing to a bare remote
/// (`remote.git`), and a state directory for berth's caches.
pub struct Repo {
    /// The temporary directory holding everything.
    pub dir: tempfile::TempDir,
    sub: &'static str,
}

impl Repo {
    /// The examples committed at the top of the work tree and pushed.
    pub fn examples() -> Repo {
        Repo::with_config_in("")
    }

    /// The examples committed under `sub/` of the work tree and pushed.
    pub fn with_config_in(sub: &'static str) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
            sub,
        };
        let root = repo.dir.path();
        git(root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
        git(root, &["init", "-q", "-b", "main", "work"]);
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            &repo.config(),
        );
        git(&repo.work(), &["remote", "add", "origin", "../remote.git"]);
        repo.commit("examples");
        repo
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The config directory in the work tree.
    pub fn config(&self) -> PathBuf {
        self.work().join(self.sub)
    }

    pub fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.remote().display())
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `berth daemon` following `url` (a remote of this repository), branch `main`, with this
    /// repository's state directory, polling every `interval`, drift checks hourly, and
    /// `extra` flags.
    pub fn daemon(&self, url: &str, interval: &str, extra: &[&str]) -> super::Daemon {
        let state = self.state().display().to_string();
        let mut args = vec![
            "--repo",
            url,
            "--branch",
            "main",
            "--state-dir",
            &state,
            "--interval",
            interval,
            "--drift-interval",
            "1h",
        ];
        args.extend_from_slice(extra);
        super::Daemon::start(&args, self.dir.path(), &[])
    }

    /// Commits everything and pushes; the new sha.
    pub fn commit(&self, message: &str) -> String {
        git(&self.work(), &["add", "-A"]);
        git(&self.work(), &["commit", "-q", "-m", message]);
        git(&self.work(), &["push", "-q", "--force", "origin", "main"]);
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let path = self.config().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        super::edit(&self.config().join(rel), from, to);
    }

    pub fn source(&self) -> GitSource {
        GitSource::remote(self.options()).expect("open the cache")
    }

    pub fn options(&self) -> GitOptions {
        GitOptions {
            url: self.url(),
            branch: None,
            rev: None,
            state_dir: self.state(),
            auth: GitAuth::default(),
            verify: None,
            offline: false,
        }
    }

    /// Runs berth in the temporary directory with its state directory set.
    pub fn berth(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        let state = self.state().display().to_string();
        all.extend(["--state-dir", &state]);
        berth(&all, self.dir.path())
    }
}
