//! Proposed changes to the config repository: files committed to a **new branch** whose parent
//! is the current revision, so that a pull request can be opened. Nothing here moves `HEAD`,
//! touches a working tree or an existing branch; a branch that already exists is an error.
//!
//! [`ProposalRepo::discover`] serves a directory source that is a Git working copy: the commit
//! is made in that repository (its object database and a new `refs/heads/<branch>`), the files
//! on disk stay as they are. [`ProposalRepo::with_push`] adds a remote the new branch is
//! pushed to (a Git source's bare cache pushes to its origin with the daemon's credentials).
//! A local remote with a working tree, which Git's push does not update, gets the branch
//! written into its object database and refs directly, under the same rules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{SourceFile, SourceTree};
use crate::diag::Diagnostic;

/// One file of a proposal: its path relative to the config repository root and its new text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// `tenants/acme.toml`.
    pub path: String,
    /// The whole new text.
    pub text: String,
}

/// A change to commit.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The new branch (`berth/create-tenant-acme`).
    pub branch: String,
    /// The commit message.
    pub message: String,
    /// The files written (added or replaced).
    pub files: Vec<FileChange>,
    /// Author name and e-mail (the committer is the daemon).
    pub author: (String, String),
}

/// A committed proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposed {
    /// The branch created.
    pub branch: String,
    /// The new commit.
    pub commit: String,
    /// Its parent: the revision the proposal was made against.
    pub parent: String,
    /// The remote the branch was pushed to (credentials redacted), if any.
    pub pushed_to: Option<String>,
}

/// Why a proposal could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The config directory is not inside a Git repository.
    #[error("`{path}` is not in a Git repository: {message}")]
    NotARepository {
        /// The directory.
        path: PathBuf,
        /// What Git said.
        message: String,
    },
    /// The branch exists already.
    #[error("branch `{0}` exists already; choose another name")]
    BranchExists(String),
    /// Not a valid branch name.
    #[error("`{0}` is not a valid branch name")]
    BadBranch(String),
    /// The base revision has changed since the proposal was prepared.
    #[error("the repository moved on from {expected} to {found}; review the proposal again")]
    Moved {
        /// The revision the proposal was validated against.
        expected: String,
        /// The revision now.
        found: String,
    },
    /// Any other Git failure.
    #[error("git: {0}")]
    Git(String),
    /// The push was refused or failed.
    #[error("cannot push `{branch}` to {remote}: {message}")]
    Push {
        /// The branch.
        branch: String,
        /// The remote, credentials redacted.
        remote: String,
        /// Why.
        message: String,
    },
}

impl From<git2::Error> for ProposeError {
    fn from(e: git2::Error) -> Self {
        ProposeError::Git(e.message().to_string())
    }
}

/// Callbacks for the push (credentials, certificate checks), made fresh for every push, with
/// what explains a failed push in their light (what was tried, a refused host key).
pub type Callbacks = Arc<dyn Fn() -> (git2::RemoteCallbacks<'static>, Explain) + Send + Sync>;

/// A failed push's error as the user reads it: never a secret.
pub type Explain = Box<dyn Fn(git2::Error) -> String>;

/// Where a pushed proposal goes.
#[derive(Clone)]
pub struct PushTarget {
    /// The remote URL.
    pub url: String,
    /// The URL as shown (credentials redacted).
    pub display: String,
    /// Credentials and checks.
    pub callbacks: Callbacks,
}

impl std::fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushTarget")
            .field("remote", &self.display)
            .finish_non_exhaustive()
    }
}

/// A Git repository proposals are committed to.
#[derive(Debug, Clone)]
pub struct ProposalRepo {
    /// The repository (a working copy or a bare repository).
    git_dir: PathBuf,
    /// The config repository's directory inside the Git tree (`""` or `config/`).
    prefix: String,
    /// The revision proposals start from (`HEAD`, or a branch of a bare cache).
    base_ref: String,
    /// Where new branches are pushed.
    push: Option<PushTarget>,
}

impl ProposalRepo {
    /// The Git working copy holding the config directory `dir`; proposals start from its `HEAD`.
    pub fn discover(dir: &Path) -> Result<ProposalRepo, ProposeError> {
        let not_repo = |message: String| ProposeError::NotARepository {
            path: dir.to_path_buf(),
            message,
        };
        let repo = git2::Repository::discover(dir).map_err(|e| not_repo(e.message().into()))?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| not_repo("a bare repository has no working copy".into()))?;
        let canon = |p: &Path| std::fs::canonicalize(p).map_err(|e| not_repo(e.to_string()));
        let (workdir, dir) = (canon(workdir)?, canon(dir)?);
        let rel = dir
            .strip_prefix(&workdir)
            .map_err(|_| not_repo("the directory is outside the working copy".into()))?;
        let mut prefix = String::new();
        for c in rel.components() {
            prefix.push_str(&c.as_os_str().to_string_lossy());
            prefix.push('/');
        }
        Ok(ProposalRepo {
            git_dir: repo.path().to_path_buf(),
            prefix,
            base_ref: "HEAD".into(),
            push: None,
        })
    }

    /// A repository (bare or not) at `git_dir` whose config files are at the root, proposals
    /// starting from `base_ref` (`refs/remotes/origin/main`, say).
    pub fn at(git_dir: &Path, base_ref: &str) -> ProposalRepo {
        ProposalRepo {
            git_dir: git_dir.to_path_buf(),
            prefix: String::new(),
            base_ref: base_ref.into(),
            push: None,
        }
    }

    /// Pushes every new branch to `target`.
    pub fn with_push(mut self, target: PushTarget) -> ProposalRepo {
        self.push = Some(target);
        self
    }

    /// The repository and directory, for pages and logs.
    pub fn describe(&self) -> String {
        let mut s = self.git_dir.display().to_string();
        if !self.prefix.is_empty() {
            s = format!("{s} ({})", self.prefix.trim_end_matches('/'));
        }
        if let Some(p) = &self.push {
            s = format!("{s}, pushed to {}", p.display);
        }
        s
    }

    /// How deep the config directory is in the Git tree (0: at its root).
    pub fn depth(&self) -> usize {
        self.prefix.matches('/').count()
    }

    /// Whether `path`, relative to the config directory (`../` climbs out of it, up to the
    /// root of the Git tree), is a file of commit `rev`.
    pub fn exists(&self, rev: &str, path: &str) -> bool {
        let joined = format!("{}{path}", self.prefix);
        let mut parts: Vec<&str> = Vec::new();
        for c in joined.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return false;
                    }
                }
                c => parts.push(c),
            }
        }
        let full = parts.join("/");
        let found = || -> Result<bool, git2::Error> {
            let repo = git2::Repository::open(&self.git_dir)?;
            let tree = repo.find_commit(git2::Oid::from_str(rev)?)?.tree()?;
            let entry = tree.get_path(Path::new(&full))?;
            Ok(entry.kind() == Some(git2::ObjectType::Blob))
        };
        found().unwrap_or(false)
    }

    fn open(&self) -> Result<git2::Repository, ProposeError> {
        Ok(git2::Repository::open(&self.git_dir)?)
    }

    /// The base revision and the config repository as it is there.
    pub fn base(&self) -> Result<(String, SourceTree), ProposeError> {
        let repo = self.open()?;
        let commit = repo.revparse_single(&self.base_ref)?.peel_to_commit()?;
        let tree = commit.tree()?;
        let sha = commit.id().to_string();
        let mut out = SourceTree {
            origin: format!("{}@{}", self.git_dir.display(), &sha[..12.min(sha.len())]),
            revision: Some(sha.clone()),
            ..SourceTree::default()
        };
        let root = if self.prefix.is_empty() {
            tree
        } else {
            let entry = tree.get_path(Path::new(self.prefix.trim_end_matches('/')))?;
            entry.to_object(&repo)?.peel_to_tree()?
        };
        let mut read = |rel: &str, entry: &git2::TreeEntry<'_>| -> Option<SourceFile> {
            let blob = entry.to_object(&repo).ok()?.peel_to_blob().ok()?;
            match std::str::from_utf8(blob.content()) {
                Ok(text) => Some(SourceFile {
                    path: rel.to_string(),
                    text: Arc::from(text),
                }),
                Err(_) => {
                    out.diagnostics.push(
                        Diagnostic::error(format!("`{rel}` is not UTF-8 text")).at(rel, None, ""),
                    );
                    None
                }
            }
        };
        let mut files = Vec::new();
        for entry in root.iter() {
            let Ok(name) = entry.name() else { continue };
            match (name, entry.kind()) {
                ("platform.toml", Some(git2::ObjectType::Blob)) => {
                    files.push(("platform", read("platform.toml", &entry)));
                }
                ("tenants" | "backups" | "templates", Some(git2::ObjectType::Tree)) => {
                    let dir: &'static str = match name {
                        "tenants" => "tenants",
                        "backups" => "backups",
                        _ => "templates",
                    };
                    let sub = entry.to_object(&repo)?.peel_to_tree()?;
                    for e in sub.iter() {
                        let Ok(n) = e.name() else { continue };
                        if e.kind() != Some(git2::ObjectType::Blob)
                            || n.starts_with('.')
                            || (dir != "templates" && !n.ends_with(".toml"))
                        {
                            continue;
                        }
                        let rel = format!("{dir}/{n}");
                        files.push((dir, read(&rel, &e)));
                    }
                }
                _ => {}
            }
        }
        for (kind, file) in files {
            let Some(f) = file else { continue };
            out.sources.insert(&f.path, f.text.clone());
            match kind {
                "platform" => out.platform = Some(f),
                "tenants" => out.tenants.push(f),
                "backups" => out.backups.push(f),
                _ => {
                    let name = f.path.trim_start_matches("templates/").to_string();
                    out.templates.insert(name, f);
                }
            }
        }
        if out.platform.is_none() {
            out.diagnostics.push(Diagnostic::error(format!(
                "{} has no platform.toml",
                out.origin
            )));
        }
        out.tenants.sort_by(|a, b| a.path.cmp(&b.path));
        out.backups.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((sha, out))
    }

    /// Commits `proposal` on a new branch whose parent is `base` (which must still be the
    /// base revision), then pushes it when a push target is set.
    pub fn commit(&self, base: &str, proposal: &Proposal) -> Result<Proposed, ProposeError> {
        let refname = format!("refs/heads/{}", proposal.branch);
        if !git2::Reference::is_valid_name(&refname) || proposal.branch.starts_with('-') {
            return Err(ProposeError::BadBranch(proposal.branch.clone()));
        }
        let repo = self.open()?;
        let head = repo.revparse_single(&self.base_ref)?.peel_to_commit()?;
        if head.id().to_string() != base {
            return Err(ProposeError::Moved {
                expected: base.to_string(),
                found: head.id().to_string(),
            });
        }
        if repo.find_reference(&refname).is_ok() {
            return Err(ProposeError::BranchExists(proposal.branch.clone()));
        }
        // An index in memory only: the repository's own index and working tree stay as they are.
        let mut index = git2::Index::new()?;
        index.read_tree(&head.tree()?)?;
        for f in &proposal.files {
            let path = format!("{}{}", self.prefix, f.path);
            let blob = repo.blob(f.text.as_bytes())?;
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: f.text.len() as u32,
                id: blob,
                flags: 0,
                flags_extended: 0,
                path: path.into_bytes(),
            };
            index.add(&entry)?;
        }
        let tree_id = index.write_tree_to(&repo)?;
        let tree = repo.find_tree(tree_id)?;
        let now = git2::Time::new(crate::values::time::now_unix(), 0);
        let author = git2::Signature::new(&proposal.author.0, &proposal.author.1, &now)?;
        let committer = git2::Signature::new("berth dashboard", "berth@localhost", &now)?;
        let oid = repo.commit(
            None,
            &author,
            &committer,
            &proposal.message,
            &tree,
            &[&head],
        )?;
        repo.reference(&refname, oid, false, "berth: proposal from the dashboard")
            .map_err(|e| match e.code() {
                git2::ErrorCode::Exists => ProposeError::BranchExists(proposal.branch.clone()),
                _ => e.into(),
            })?;
        let pushed_to = match &self.push {
            Some(target) => {
                push(&repo, target, &refname).map_err(|message| {
                    // The branch stays local only if the push failed: remove it, so that the
                    // same name can be tried again.
                    if let Ok(mut r) = repo.find_reference(&refname) {
                        let _ = r.delete();
                    }
                    ProposeError::Push {
                        branch: proposal.branch.clone(),
                        remote: target.display.clone(),
                        message,
                    }
                })?;
                Some(target.display.clone())
            }
            None => None,
        };
        Ok(Proposed {
            branch: proposal.branch.clone(),
            commit: oid.to_string(),
            parent: head.id().to_string(),
            pushed_to,
        })
    }
}

/// Pushes `refname` to the same name on `target` (never forced). A local repository with a
/// working tree, which Git's push protocol does not update, gets the branch written into it
/// directly ([`write_branch`]).
fn push(repo: &git2::Repository, target: &PushTarget, refname: &str) -> Result<(), String> {
    if let Some(dest) = local_with_work_tree(&target.url) {
        return write_branch(repo, &dest, refname);
    }
    let (mut callbacks, explain) = (target.callbacks)();
    let mut remote = repo.remote_anonymous(&target.url).map_err(&explain)?;
    let rejected = Arc::new(std::sync::Mutex::new(None::<String>));
    let r = rejected.clone();
    callbacks.push_update_reference(move |_, status| {
        if let Some(s) = status {
            *r.lock().unwrap() = Some(s.to_string());
        }
        Ok(())
    });
    let mut opts = git2::PushOptions::new();
    opts.remote_callbacks(callbacks);
    remote
        .push(&[format!("{refname}:{refname}")], Some(&mut opts))
        .map_err(&explain)?;
    let why = rejected.lock().unwrap().take();
    match why {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The repository a local URL (a path or `file://`) names, when it has a working tree.
fn local_with_work_tree(url: &str) -> Option<git2::Repository> {
    let path = super::url::local_path(url)?;
    let repo = git2::Repository::open(path).ok()?;
    (!repo.is_bare()).then_some(repo)
}

/// Writes the commit `refname` points to in `src` (with the trees and blobs `dest` lacks) into
/// `dest`'s object database and creates the same branch there. `dest`'s working tree, index
/// and `HEAD` are not touched; a branch that exists there already is refused, never moved.
fn write_branch(
    src: &git2::Repository,
    dest: &git2::Repository,
    refname: &str,
) -> Result<(), String> {
    let git = |e: git2::Error| e.message().to_string();
    let oid = src.refname_to_id(refname).map_err(git)?;
    if dest.find_reference(refname).is_ok() {
        return Err("the branch exists already there; choose another branch name".into());
    }
    let commit = src.find_commit(oid).map_err(git)?;
    for parent in commit.parent_ids() {
        if dest.find_commit(parent).is_err() {
            return Err(format!(
                "the repository no longer has the base revision {}; reload the form and propose again",
                &parent.to_string()[..12]
            ));
        }
    }
    let (from, to) = (src.odb().map_err(git)?, dest.odb().map_err(git)?);
    copy_tree(src, &from, &to, commit.tree_id()).map_err(git)?;
    let object = from.read(oid).map_err(git)?;
    to.write(object.kind(), object.data()).map_err(git)?;
    dest.reference(refname, oid, false, "berth: proposal from the dashboard")
        .map_err(|e| match e.code() {
            git2::ErrorCode::Exists => {
                "the branch exists already there; choose another branch name".to_string()
            }
            _ => git(e),
        })?;
    Ok(())
}

/// Copies the tree `id` and what it holds into `to`, skipping what `to` has: an object is
/// written after its entries, so one that is present has all of its own.
fn copy_tree(
    src: &git2::Repository,
    from: &git2::Odb<'_>,
    to: &git2::Odb<'_>,
    id: git2::Oid,
) -> Result<(), git2::Error> {
    if to.exists(id) {
        return Ok(());
    }
    for entry in src.find_tree(id)?.iter() {
        match entry.kind() {
            Some(git2::ObjectType::Tree) => copy_tree(src, from, to, entry.id())?,
            Some(git2::ObjectType::Blob) if !to.exists(entry.id()) => {
                let blob = from.read(entry.id())?;
                to.write(git2::ObjectType::Blob, blob.data())?;
            }
            // A submodule's commit lives in another repository.
            _ => {}
        }
    }
    let tree = from.read(id)?;
    to.write(git2::ObjectType::Tree, tree.data())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A working copy with the config under `config/` and one commit.
    fn repo() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::create_dir_all(cfg.join("tenants")).unwrap();
        std::fs::write(cfg.join("platform.toml"), "[platform]\nname = \"p\"\n").unwrap();
        std::fs::write(cfg.join("tenants/a.toml"), "name = \"a\"\n").unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "init"]);
        (dir, cfg)
    }

    fn proposal(branch: &str) -> Proposal {
        Proposal {
            branch: branch.into(),
            message: "Create tenant b".into(),
            files: vec![FileChange {
                path: "tenants/b.toml".into(),
                text: "name = \"b\"\n".into(),
            }],
            author: ("Ann".into(), "ann@example.com".into()),
        }
    }

    #[test]
    fn a_proposal_is_a_new_branch_and_the_working_copy_is_untouched() {
        let (dir, cfg) = repo();
        let pr = ProposalRepo::discover(&cfg).unwrap();
        let (base, tree) = pr.base().unwrap();
        assert_eq!(tree.tenants.len(), 1);
        assert!(tree.platform.is_some());
        let head = git(dir.path(), &["rev-parse", "HEAD"]);
        assert_eq!(base, head);

        let done = pr.commit(&base, &proposal("berth/b")).unwrap();
        assert_eq!(done.parent, head);
        assert_eq!(git(dir.path(), &["rev-parse", "HEAD"]), head, "HEAD moved");
        assert_eq!(git(dir.path(), &["branch", "--show-current"]), "main");
        assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
        assert!(!cfg.join("tenants/b.toml").exists());
        assert_eq!(
            git(dir.path(), &["show", "berth/b:config/tenants/b.toml"]),
            "name = \"b\""
        );
        assert_eq!(
            git(dir.path(), &["log", "-1", "--format=%an|%s", "berth/b"]),
            "Ann|Create tenant b"
        );
        assert_eq!(git(dir.path(), &["rev-parse", "berth/b^"]), head);

        assert!(matches!(
            pr.commit(&base, &proposal("berth/b")),
            Err(ProposeError::BranchExists(_))
        ));
        assert!(matches!(
            pr.commit(&base, &proposal("bad..name")),
            Err(ProposeError::BadBranch(_))
        ));
        assert!(matches!(
            pr.commit("0000", &proposal("berth/c")),
            Err(ProposeError::Moved { .. })
        ));
    }

    #[test]
    fn a_proposal_is_pushed_when_a_remote_is_set() {
        let (dir, cfg) = repo();
        let remote = tempfile::tempdir().unwrap();
        git(remote.path(), &["init", "-q", "--bare"]);
        let url = remote.path().to_str().unwrap().to_string();
        let pr = ProposalRepo::discover(&cfg).unwrap().with_push(PushTarget {
            url: url.clone(),
            display: "origin".into(),
            callbacks: Arc::new(|| {
                let explain: Explain = Box::new(|e| e.message().to_string());
                (git2::RemoteCallbacks::new(), explain)
            }),
        });
        let (base, _) = pr.base().unwrap();
        let done = pr.commit(&base, &proposal("berth/b")).unwrap();
        assert_eq!(done.pushed_to.as_deref(), Some("origin"));
        assert_eq!(
            git(remote.path(), &["rev-parse", "refs/heads/berth/b"]),
            done.commit
        );
        drop(dir);
    }

    fn plain_callbacks() -> Callbacks {
        Arc::new(|| {
            let explain: Explain = Box::new(|e| e.message().to_string());
            (git2::RemoteCallbacks::new(), explain)
        })
    }

    #[test]
    fn a_proposal_to_a_repository_with_a_work_tree_is_written_there_as_a_branch() {
        let (target, _) = repo();
        std::fs::write(target.path().join("notes.txt"), "uncommitted\n").unwrap();
        let clone = tempfile::tempdir().unwrap();
        git(
            clone.path(),
            &["clone", "-q", target.path().to_str().unwrap(), "."],
        );
        let head = git(target.path(), &["rev-parse", "HEAD"]);
        let status = git(target.path(), &["status", "--porcelain"]);
        let url = format!("file://{}", target.path().display());
        let pr = ProposalRepo::discover(&clone.path().join("config"))
            .unwrap()
            .with_push(PushTarget {
                url,
                display: "target".into(),
                callbacks: plain_callbacks(),
            });
        let (base, _) = pr.base().unwrap();
        let done = pr.commit(&base, &proposal("berth/b")).unwrap();
        assert_eq!(done.pushed_to.as_deref(), Some("target"));
        assert_eq!(
            git(target.path(), &["log", "-1", "--format=%H %s", "berth/b"]),
            format!("{} Create tenant b", done.commit)
        );
        assert_eq!(
            git(target.path(), &["show", "berth/b:config/tenants/b.toml"]),
            "name = \"b\""
        );
        git(target.path(), &["fsck", "--strict", "--no-dangling"]);
        // HEAD, the index and the files on disk are as they were.
        assert_eq!(git(target.path(), &["rev-parse", "HEAD"]), head);
        assert_eq!(git(target.path(), &["branch", "--show-current"]), "main");
        assert_eq!(git(target.path(), &["status", "--porcelain"]), status);
        assert!(!target.path().join("config/tenants/b.toml").exists());

        // A branch that exists there is refused, not moved, and not kept in the clone.
        git(target.path(), &["branch", "berth/c"]);
        let err = pr.commit(&base, &proposal("berth/c")).unwrap_err();
        match &err {
            ProposeError::Push {
                branch, message, ..
            } => {
                assert_eq!(branch, "berth/c");
                assert!(message.contains("exists already there"), "{err}");
            }
            other => panic!("not a push failure: {other}"),
        }
        assert_eq!(git(target.path(), &["rev-parse", "berth/c"]), head);
        assert_eq!(git(clone.path(), &["branch", "--list", "berth/c"]), "");
    }

    #[test]
    fn a_directory_outside_git_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = ProposalRepo::discover(dir.path()).unwrap_err();
        assert!(matches!(err, ProposeError::NotARepository { .. }), "{err}");
    }
}
