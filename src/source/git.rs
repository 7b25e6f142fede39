//! Reading a config repository from Git: a remote fetched into a bare cache, or the local
//! repository that contains a directory. Files are read straight from a commit's tree; there
//! is never a working copy.

use std::cell::RefCell;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, Direction, FetchOptions,
    ObjectType, Oid, RemoteCallbacks, Repository,
};

use super::ssh::{inspect_key_file, HostKeyProblem, KnownHosts};
use super::tree::{self, Listing, Read, Reader};
use super::url::{cache_name, local_path, recordable, redact_in_text, redact_url, ssh_host_port};
use super::verify::{verify_commit, SignaturePolicy};
use super::{SourceError, SourceTree};
use crate::diag::Diagnostic;

/// A secret (a token). Never printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, without surrounding whitespace (token files end with a newline).
    pub fn new(value: &str) -> Self {
        Secret(value.trim().to_string())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to authenticate to a remote, and which SSH servers to trust. Without anything set,
/// SSH URLs use the ssh-agent and the host key must be in `~/.ssh/known_hosts` or
/// `/etc/ssh/ssh_known_hosts`.
#[derive(Debug, Clone, Default)]
pub struct GitAuth {
    /// A private key file for SSH URLs (instead of the ssh-agent).
    pub ssh_key: Option<PathBuf>,
    /// The passphrase of `ssh_key`, when one protects it.
    pub ssh_key_passphrase: Option<Secret>,
    /// The known_hosts file SSH host keys are checked against (instead of OpenSSH's
    /// defaults).
    pub known_hosts: Option<PathBuf>,
    /// A token for HTTPS URLs, sent as the password.
    pub token: Option<Secret>,
}

/// What to read from where.
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// The repository: `https://`, `ssh://`, `git@host:path`, `file://` or a local path.
    /// May hold credentials; they are never shown.
    pub url: String,
    /// The branch to follow; default: the remote's HEAD branch, else `main`.
    pub branch: Option<String>,
    /// A commit sha, tag or branch to read instead of the branch tip.
    pub rev: Option<String>,
    /// The state directory; the cache goes to `<state_dir>/git/`.
    pub state_dir: PathBuf,
    /// Credentials.
    pub auth: GitAuth,
    /// When set, only commits with a signature these files accept are read.
    pub verify: Option<SignaturePolicy>,
    /// Read what the cache holds; do not contact the remote.
    pub offline: bool,
}

enum Mode {
    /// A remote, fetched into a bare cache.
    Remote {
        /// The URL as given (credentials included), for libgit2 only.
        url: String,
        /// Strings never to show (password, token).
        secrets: Vec<String>,
        offline: bool,
        auth: GitAuth,
    },
    /// The local repository containing a directory; `subdir` is that directory relative to
    /// the top of the work tree (`""` at the top).
    Local { subdir: String },
}

/// A config repository in Git. Reading is split in two: [`GitSource::fetch`] brings the
/// cache up to date and resolves the revision to read, [`GitSource::read`] reads one commit.
pub struct GitSource {
    repo: Repository,
    mode: Mode,
    /// The repository for messages: the redacted URL, or the directory given.
    origin: String,
    branch: Option<String>,
    rev: Option<String>,
    verify: Option<SignaturePolicy>,
    /// Fetch every branch and tag, not just the branch followed.
    all_refs: bool,
}

impl fmt::Debug for GitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitSource")
            .field("origin", &self.origin)
            .field("branch", &self.branch)
            .field("rev", &self.rev)
            .field("cache", &self.repo.path())
            .finish_non_exhaustive()
    }
}

/// The branch the remote-tracking refs of a cache follow when no branch is named.
const REMOTE_HEAD: &str = "refs/remotes/origin/HEAD";

impl GitSource {
    /// A remote repository with its bare cache under the state directory (created on first
    /// use; the remote is not contacted until [`GitSource::fetch`]).
    pub fn remote(opts: GitOptions) -> Result<GitSource, SourceError> {
        let mut url = opts.url.clone();
        let origin = redact_url(&url);
        if let Some(branch) = &opts.branch {
            check_branch_name(&origin, branch)?;
        }
        // A relative local path is made absolute: the cache must not depend on the working
        // directory, and must not be inside the repository it caches.
        let local = local_path(&url).map(Path::to_path_buf);
        if let Some(path) = &local {
            if let Ok(abs) = std::path::absolute(path) {
                url = abs.display().to_string();
            }
        }
        let dir = opts.state_dir.join("git");
        let cache = dir.join(format!("{}.git", cache_name(&url)));
        if let Some(path) = &local {
            let repo_path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            let state = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::canonicalize(&dir))
                .unwrap_or_else(|_| dir.clone());
            if state.starts_with(&repo_path) {
                return Err(SourceError::Git {
                    origin,
                    message: format!(
                        "the Git cache {} would be inside the repository; choose another state directory with --state-dir or BERTH_STATE_DIR",
                        dir.display()
                    ),
                });
            }
        }
        let git_err = |e: git2::Error| SourceError::Git {
            origin: origin.clone(),
            message: format!("cache {}: {}", cache.display(), e.message()),
        };
        let repo = if cache.join("HEAD").exists() {
            Repository::open_bare(&cache).map_err(git_err)?
        } else {
            std::fs::create_dir_all(&dir).map_err(|e| SourceError::Io {
                path: dir.clone(),
                source: e,
            })?;
            Repository::init_bare(&cache).map_err(git_err)?
        };
        let mut secrets: Vec<String> = userinfo_password(&opts.url).into_iter().collect();
        for s in [&opts.auth.token, &opts.auth.ssh_key_passphrase]
            .into_iter()
            .flatten()
        {
            secrets.push(s.expose().to_string());
        }
        secrets.retain(|s| !s.is_empty());
        Ok(GitSource {
            repo,
            mode: Mode::Remote {
                url,
                secrets,
                offline: opts.offline,
                auth: opts.auth,
            },
            origin,
            branch: opts.branch,
            rev: opts.rev,
            verify: opts.verify,
            all_refs: false,
        })
    }

    /// The Git repository that contains `dir` (which may be a subdirectory of its work tree:
    /// then that subdirectory of each commit is read). Nothing is fetched; `rev` defaults to
    /// `HEAD`. Only committed files are read.
    pub fn discover(
        dir: &Path,
        rev: Option<String>,
        verify: Option<SignaturePolicy>,
    ) -> Result<GitSource, SourceError> {
        let origin = dir.display().to_string();
        let repo = Repository::discover(dir).map_err(|e| SourceError::NotARepository {
            path: dir.to_path_buf(),
            reason: e.message().to_string(),
        })?;
        let subdir = match repo.workdir() {
            Some(top) => {
                let canon = |p: &Path| {
                    std::fs::canonicalize(p).map_err(|e| SourceError::Io {
                        path: p.to_path_buf(),
                        source: e,
                    })
                };
                let rel = canon(dir)?
                    .strip_prefix(canon(top)?)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                rel.components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            }
            None => String::new(),
        };
        Ok(GitSource {
            repo,
            mode: Mode::Local { subdir },
            origin,
            branch: None,
            rev,
            verify,
            all_refs: false,
        })
    }

    /// Makes [`GitSource::fetch`] bring every branch and tag of the remote into the cache
    /// (it fetches only the branch followed otherwise), so that any of them can be
    /// [resolved](GitSource::resolve).
    pub fn fetch_all_branches(&mut self) {
        self.all_refs = true;
    }

    /// The repository for messages: the redacted URL or the directory.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The URL of a remote as a saved plan records it, to fetch it again from anywhere: a
    /// local path made absolute, credentials left out (`url::recordable`). `None` for the local
    /// repository of a directory.
    pub fn recorded_url(&self) -> Option<String> {
        match &self.mode {
            Mode::Remote { url, .. } => Some(recordable(url)),
            Mode::Local { .. } => None,
        }
    }

    /// The branch followed, when one was named.
    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    /// Where the dashboard commits proposals for a remote: new branches made in the cache on
    /// top of the followed branch, pushed to the remote with the same credentials. `None`
    /// for a local repository.
    pub fn proposal_repo(&self) -> Option<super::propose::ProposalRepo> {
        let Mode::Remote {
            url, auth, secrets, ..
        } = &self.mode
        else {
            return None;
        };
        let base_ref = match &self.branch {
            Some(b) => format!("refs/remotes/origin/{b}"),
            None => REMOTE_HEAD.to_string(),
        };
        let (auth, url_, origin, secrets) = (
            auth.clone(),
            url.clone(),
            self.origin.clone(),
            secrets.clone(),
        );
        let host = ssh_host_port(url);
        let factory: super::propose::Callbacks = std::sync::Arc::new(move || {
            let attempts: Rc<RefCell<Attempts>> = Rc::default();
            let cb = callbacks(auth.clone(), host.clone(), attempts.clone());
            let (auth, ssh) = (auth.clone(), host.is_some());
            let (url, origin, secrets) = (url_.clone(), origin.clone(), secrets.clone());
            // A push is refused for the same reasons a fetch is: said the same way.
            let explain: super::propose::Explain = Box::new(move |e| {
                let scrub = |m: &str| scrub(m, &url, &origin, &secrets);
                match classify(e, &attempts.borrow(), &auth, ssh, true, &origin, &scrub) {
                    SourceError::Fetch { reason, .. } => reason,
                    other => other.to_string(),
                }
            });
            (cb, explain)
        });
        Some(
            super::propose::ProposalRepo::at(self.repo.path(), &base_ref).with_push(
                super::propose::PushTarget {
                    url: url.clone(),
                    display: self.origin.clone(),
                    callbacks: factory,
                },
            ),
        )
    }

    /// `https://host/config.git (branch main)`, `https://host/config.git (rev v1.2)`.
    pub fn describe(&self) -> String {
        match (&self.rev, &self.branch) {
            (Some(rev), _) => format!("{} (rev {rev})", self.origin),
            (None, Some(b)) => format!("{} (branch {b})", self.origin),
            (None, None) => self.origin.clone(),
        }
    }

    /// Brings the cache up to date with the remote (not with `--offline`, nor for a local
    /// repository) and returns the full sha of the commit to read: `--rev`, else the tip of
    /// the branch. A failed fetch changes nothing in the cache: [`GitSource::read`] still
    /// serves what was fetched before.
    pub fn fetch(&mut self) -> Result<String, SourceError> {
        let online = matches!(&self.mode, Mode::Remote { offline: false, .. });
        if online {
            self.fetch_remote()?;
        }
        match (&self.rev, &self.mode) {
            (Some(rev), _) => self.resolve(rev),
            (None, Mode::Local { .. }) => self.resolve("HEAD"),
            (None, Mode::Remote { .. }) => {
                let reference = match &self.branch {
                    Some(b) => format!("refs/remotes/origin/{b}"),
                    None => REMOTE_HEAD.to_string(),
                };
                let what = match &self.branch {
                    Some(b) => format!("branch `{b}`"),
                    None => "the default branch".to_string(),
                };
                let oid = self
                    .repo
                    .find_reference(&reference)
                    .and_then(|r| r.resolve())
                    .and_then(|r| r.peel_to_commit())
                    .map(|c| c.id())
                    .map_err(|_| SourceError::Revision {
                        origin: self.origin.clone(),
                        rev: what.clone(),
                        reason: if online {
                            "the remote has no such branch".to_string()
                        } else {
                            "nothing of it is cached yet; run once without --offline".to_string()
                        },
                    })?;
                Ok(oid.to_string())
            }
        }
    }

    /// The full sha of `rev` (a sha, a tag, a branch, or any Git revision expression) among
    /// what the repository or cache holds.
    pub fn resolve(&self, rev: &str) -> Result<String, SourceError> {
        let mut candidates = Vec::new();
        if matches!(self.mode, Mode::Remote { .. }) {
            candidates.push(format!("refs/remotes/origin/{rev}"));
            candidates.push(format!("refs/tags/{rev}"));
        }
        candidates.push(rev.to_string());
        let mut last = String::new();
        for spec in &candidates {
            match self
                .repo
                .revparse_single(spec)
                .and_then(|o| o.peel_to_commit())
            {
                Ok(c) => return Ok(c.id().to_string()),
                Err(e) => last = e.message().to_string(),
            }
        }
        Err(SourceError::Revision {
            origin: self.origin.clone(),
            rev: format!("`{rev}`"),
            reason: last,
        })
    }

    /// Reads the config files of commit `sha` from its tree (with signature verification when
    /// asked for: nothing of a commit that fails it is read).
    pub fn read(&self, sha: &str) -> Result<SourceTree, SourceError> {
        let short = short(sha);
        let revision_err = |reason: String| SourceError::Revision {
            origin: self.origin.clone(),
            rev: format!("`{short}`"),
            reason,
        };
        let oid = Oid::from_str(sha).map_err(|e| revision_err(e.message().to_string()))?;
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(|e| revision_err(e.message().to_string()))?;
        if let Some(policy) = &self.verify {
            verify_commit(&self.repo, oid, policy).map_err(|problem| SourceError::Signature {
                origin: self.origin.clone(),
                commit: short.to_string(),
                problem,
            })?;
        }
        let full_tree = commit
            .tree()
            .map_err(|e| revision_err(e.message().to_string()))?;
        let root = match &self.mode {
            Mode::Local { subdir } if !subdir.is_empty() => full_tree
                .get_path(Path::new(subdir))
                .and_then(|e| e.to_object(&self.repo))
                .and_then(|o| o.peel_to_tree())
                .map_err(|_| revision_err(format!("the commit has no directory `{subdir}`")))?,
            _ => full_tree,
        };
        let label = format!("{}@{short}", self.origin);
        let reader = CommitReader {
            repo: &self.repo,
            root,
        };
        let mut tree = tree::build(self.origin.clone(), Some(oid.to_string()), &label, &reader)?;
        tree.commit = Some(commit_info(&commit));
        Ok(tree)
    }

    fn fetch_remote(&self) -> Result<(), SourceError> {
        let Mode::Remote {
            url, secrets, auth, ..
        } = &self.mode
        else {
            return Ok(());
        };
        let ssh = ssh_host_port(url);
        let attempts: Rc<RefCell<Attempts>> = Rc::default();
        let fail = |e: git2::Error| {
            classify(
                e,
                &attempts.borrow(),
                auth,
                ssh.is_some(),
                false,
                &self.origin,
                &|m| scrub(m, url, &self.origin, secrets),
            )
        };
        // A key file berth cannot use is named before any connection.
        if let (Some(_), Some(path)) = (&ssh, &auth.ssh_key) {
            let info = inspect_key_file(path).map_err(|reason| SourceError::SshKey {
                url: self.origin.clone(),
                path: path.clone(),
                reason: format!("it cannot be read: {reason}"),
            })?;
            if info.encrypted && auth.ssh_key_passphrase.is_none() {
                return Err(SourceError::SshKey {
                    url: self.origin.clone(),
                    path: path.clone(),
                    reason: "a passphrase protects it: give the passphrase with --ssh-key-passphrase-file FILE or BERTH_GIT_SSH_KEY_PASSPHRASE".to_string(),
                });
            }
        }
        tracing::info!(url = %self.origin, cache = %self.repo.path().display(), "fetching");
        if local_path(url).is_some_and(|p| !p.exists()) {
            // libgit2 would say "unsupported URL protocol".
            return Err(SourceError::Fetch {
                url: self.origin.clone(),
                reason: "no such repository".to_string(),
            });
        }
        let mut remote = self.repo.remote_anonymous(url).map_err(&fail)?;
        // One connection: it tells the default branch (without --branch), then the download
        // runs over it (one SSH login, not two).
        let mut conn = remote
            .connect_auth(
                Direction::Fetch,
                Some(callbacks(auth.clone(), ssh.clone(), attempts.clone())),
                None,
            )
            .map_err(&fail)?;
        let branch = match &self.branch {
            Some(b) => b.clone(),
            None => {
                let head = conn
                    .default_branch()
                    .ok()
                    .and_then(|b| b.as_str().ok().map(str::to_string));
                head.as_deref()
                    .and_then(|h| h.strip_prefix("refs/heads/"))
                    .unwrap_or("main")
                    .to_string()
            }
        };
        check_branch_name(&self.origin, &branch)?;
        // Forced refspecs: a force-pushed branch replaces the cached one.
        let refspecs: Vec<String> = if self.rev.is_some() || self.all_refs {
            vec![
                "+refs/heads/*:refs/remotes/origin/*".to_string(),
                "+refs/tags/*:refs/tags/*".to_string(),
            ]
        } else {
            vec![format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")]
        };
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(callbacks(auth.clone(), ssh.clone(), attempts.clone()));
        fo.download_tags(AutotagOption::None);
        conn.remote()
            .download(&refspecs, Some(&mut fo))
            .map_err(&fail)?;
        drop(conn);
        // What `Remote::fetch` does after its download: the tips, as the refspecs say.
        remote
            .update_tips(
                None,
                git2::RemoteUpdateFlags::UPDATE_FETCHHEAD,
                AutotagOption::None,
                Some("berth: fetch"),
            )
            .map_err(&fail)?;
        drop(remote);
        if self.branch.is_none() {
            self.repo
                .reference_symbolic(
                    REMOTE_HEAD,
                    &format!("refs/remotes/origin/{branch}"),
                    true,
                    "berth: the remote's default branch",
                )
                .map_err(|e| SourceError::Git {
                    origin: self.origin.clone(),
                    message: e.message().to_string(),
                })?;
        }
        Ok(())
    }
}

/// A commit's author and the first line of its message (lossy UTF-8, at most 200
/// characters).
fn commit_info(commit: &git2::Commit<'_>) -> super::CommitInfo {
    let author = commit.author();
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    let summary = text(commit.summary_bytes().unwrap_or_default());
    let summary = match summary.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &summary[..i]),
        None => summary,
    };
    super::CommitInfo {
        author: text(author.name_bytes()),
        email: text(author.email_bytes()),
        summary,
        time: author.when().seconds(),
    }
}

/// The first 7 characters of a sha.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn check_branch_name(origin: &str, branch: &str) -> Result<(), SourceError> {
    if branch.contains('*') || !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        return Err(SourceError::Revision {
            origin: origin.to_string(),
            rev: format!("branch `{branch}`"),
            reason: "not a valid branch name".to_string(),
        });
    }
    Ok(())
}

/// The password (or lone token) in a URL's userinfo, to scrub from messages.
fn userinfo_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(match userinfo.split_once(':') {
        Some((_, password)) => password.to_string(),
        None => userinfo.to_string(),
    })
}

/// A way to authenticate, tried at most once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    KeyFile,
    Agent,
    Token,
}

/// libgit2's message with the URL as shown (credentials redacted) and the secrets masked.
fn scrub(message: &str, url: &str, origin: &str, secrets: &[String]) -> String {
    let mut m = message.replace(url, origin);
    for s in secrets {
        m = m.replace(s.as_str(), "***");
    }
    redact_in_text(&m)
}

/// What a failed fetch or push (`push`) over one connection says: the host key refused, a
/// key file libssh2 could not use, credentials refused (naming what was tried, never a
/// secret), or libgit2's message, scrubbed.
fn classify(
    e: git2::Error,
    a: &Attempts,
    auth: &GitAuth,
    ssh: bool,
    push: bool,
    origin: &str,
    scrub: &dyn Fn(&str) -> String,
) -> SourceError {
    if let Some(problem) = &a.host_key {
        return SourceError::HostKey {
            url: origin.to_string(),
            problem: Box::new(problem.clone()),
        };
    }
    // libssh2 could not use the key file (a wrong passphrase, a format it cannot read): its
    // message says which, and holds nothing secret.
    if a.tried.last() == Some(&Method::KeyFile)
        && e.class() == git2::ErrorClass::Ssh
        && e.code() != git2::ErrorCode::Auth
        && e.message().contains("private key")
    {
        let path = auth.ssh_key.clone().unwrap_or_default();
        let said = scrub(e.message());
        let said = said
            .strip_prefix("failed to authenticate SSH session: ")
            .unwrap_or(&said);
        let encrypted = inspect_key_file(&path).is_ok_and(|i| i.encrypted);
        let reason = if encrypted {
            format!("the passphrase given does not open it, or libssh2 cannot read its format (libssh2 says: {said})")
        } else {
            format!("libssh2 cannot read it: {said}")
        };
        return SourceError::SshKey {
            url: origin.to_string(),
            path,
            reason,
        };
    }
    let auth_failed = a.gave_up
        || e.code() == git2::ErrorCode::Auth
        || (!a.tried.is_empty()
            && matches!(
                e.class(),
                git2::ErrorClass::Ssh | git2::ErrorClass::Callback
            ));
    if auth_failed {
        SourceError::Auth {
            url: origin.to_string(),
            tried: describe_attempts(&a.tried, auth, ssh),
            hint: match (ssh, push) {
                (true, false) => "the server must accept the key: add its public key to the repository's deploy keys (or the user's authorized keys), or use another key with --ssh-key or ssh-agent",
                (true, true) => "the server must accept the key for writing: add its public key to the repository's deploy keys with write access (or the user's authorized keys), or use another key with --ssh-key or ssh-agent",
                (false, false) => "set BERTH_GIT_TOKEN or --git-token-file to a token that can read the repository",
                (false, true) => "set BERTH_GIT_TOKEN or --git-token-file to a token that can push branches to the repository",
            },
        }
    } else if !ssh
        && (e.code() == git2::ErrorCode::Certificate
            || (e.class() == git2::ErrorClass::Ssl && e.message().contains("certificate")))
    {
        SourceError::Fetch {
            url: origin.to_string(),
            reason: format!(
                "{}: the server's TLS certificate is not trusted here; it must chain to a certificate authority of the system's store, or of the file SSL_CERT_FILE names",
                scrub(e.message())
            ),
        }
    } else {
        SourceError::Fetch {
            url: origin.to_string(),
            reason: scrub(e.message()),
        }
    }
}

/// What the callbacks of one connection did, for the error when it fails.
#[derive(Debug, Default)]
struct Attempts {
    /// Methods offered, in order.
    tried: Vec<Method>,
    /// The credential callback had nothing more to offer.
    gave_up: bool,
    /// Why the server's host key was refused.
    host_key: Option<HostKeyProblem>,
}

/// `tried the ssh key file K (ssh-ed25519 key SHA256:...)`, or why nothing was tried; never a
/// secret.
fn describe_attempts(tried: &[Method], auth: &GitAuth, ssh: bool) -> String {
    if tried.is_empty() {
        return if ssh && auth.ssh_key.is_none() && std::env::var_os("SSH_AUTH_SOCK").is_none() {
            "no credentials were available: no --ssh-key, and no ssh-agent (SSH_AUTH_SOCK is not set)".to_string()
        } else {
            "no credentials were available".to_string()
        };
    }
    let names: Vec<String> = tried
        .iter()
        .map(|m| match m {
            Method::KeyFile => {
                let path = auth.ssh_key.clone().unwrap_or_default();
                match inspect_key_file(&path).ok().and_then(|i| i.public) {
                    Some(public) => format!("the ssh key file {} ({public})", path.display()),
                    None => format!("the ssh key file {}", path.display()),
                }
            }
            Method::Agent => "the keys of ssh-agent".to_string(),
            Method::Token => "the token".to_string(),
        })
        .collect();
    format!("tried {}", names.join(", then "))
}

/// The callbacks of one connection. Credentials: each method is offered once (libgit2 asks
/// again after every failure), then the callback gives up; `attempts` records what was tried,
/// never the secrets. Host keys of SSH servers (`ssh` is the URL's host and port) are checked
/// against known_hosts; a refused key is recorded in `attempts`. TLS certificates are left to
/// libgit2.
fn callbacks(
    auth: GitAuth,
    ssh: Option<(String, u16)>,
    attempts: Rc<RefCell<Attempts>>,
) -> RemoteCallbacks<'static> {
    let mut cb = RemoteCallbacks::new();
    let known_hosts = KnownHosts::new(auth.known_hosts.as_deref());
    let host_attempts = attempts.clone();
    cb.certificate_check(move |cert, hostname| {
        let Some(hostkey) = cert.as_hostkey() else {
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let Some(blob) = hostkey.hostkey() else {
            return Err(git2::Error::from_str("the server sent no host key"));
        };
        let (host, port) = ssh.clone().unwrap_or_else(|| (hostname.to_string(), 22));
        match known_hosts.check(&host, port, blob) {
            Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
            Err(problem) => {
                tracing::debug!(%problem, "host key refused");
                host_attempts.borrow_mut().host_key = Some(problem);
                Err(git2::Error::new(
                    git2::ErrorCode::Certificate,
                    git2::ErrorClass::Ssh,
                    "host key refused",
                ))
            }
        }
    });
    let mut offered_user = false;
    cb.credentials(move |_url, user_from_url, allowed| {
        let user = user_from_url.unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME) && !offered_user {
            offered_user = true;
            return Cred::username(user);
        }
        let mut a = attempts.borrow_mut();
        if allowed.contains(CredentialType::SSH_KEY) {
            match &auth.ssh_key {
                Some(key) if !a.tried.contains(&Method::KeyFile) => {
                    a.tried.push(Method::KeyFile);
                    let passphrase = auth.ssh_key_passphrase.as_ref().map(Secret::expose);
                    return Cred::ssh_key(user, None, key, passphrase);
                }
                None if !a.tried.contains(&Method::Agent)
                    && std::env::var_os("SSH_AUTH_SOCK").is_some() =>
                {
                    a.tried.push(Method::Agent);
                    return Cred::ssh_key_from_agent(user);
                }
                _ => {}
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(token) = &auth.token {
                if !a.tried.contains(&Method::Token) {
                    a.tried.push(Method::Token);
                    return Cred::userpass_plaintext(
                        user_from_url.unwrap_or("x-access-token"),
                        token.expose(),
                    );
                }
            }
        }
        a.gave_up = true;
        Err(git2::Error::from_str("no more credentials to try"))
    });
    cb
}

/// Reads the files of one tree.
struct CommitReader<'r> {
    repo: &'r Repository,
    root: git2::Tree<'r>,
}

/// A tree entry, enough to read it again.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: Oid,
    mode: i32,
    kind: Option<ObjectType>,
}

impl Entry {
    fn of(e: &git2::TreeEntry<'_>) -> Entry {
        Entry {
            id: e.id(),
            mode: e.filemode(),
            kind: e.kind(),
        }
    }
}

const SYMLINK_MODE: i32 = 0o120000;

impl Reader for CommitReader<'_> {
    type Handle = Entry;

    fn list(&self, dir: &str) -> Result<Listing<Entry>, SourceError> {
        let Some(entry) = self.root.get_name(dir) else {
            return Ok(Listing::Missing);
        };
        if entry.kind() != Some(ObjectType::Tree) {
            return Ok(Listing::NotADirectory);
        }
        let subtree = self
            .repo
            .find_tree(entry.id())
            .map_err(|e| SourceError::Git {
                origin: dir.to_string(),
                message: e.message().to_string(),
            })?;
        Ok(Listing::Entries(
            subtree
                .iter()
                .map(|e| {
                    let name = std::str::from_utf8(e.name_bytes())
                        .map(str::to_string)
                        .map_err(|_| String::from_utf8_lossy(e.name_bytes()).into_owned());
                    (name, Entry::of(&e))
                })
                .collect(),
        ))
    }

    fn read_root_file(&self, name: &str) -> Read {
        match self.root.get_name(name) {
            Some(e) => self.read(name, Entry::of(&e)),
            None => Read::Missing,
        }
    }

    fn read(&self, rel: &str, entry: Entry) -> Read {
        let mut entry = entry;
        let mut at = rel.to_string();
        // Symlinks are followed inside the tree, a few levels deep.
        for _ in 0..8 {
            match entry.kind {
                Some(ObjectType::Tree) => return tree::is_a_directory(rel),
                Some(ObjectType::Commit) => {
                    return tree::problem(
                        Diagnostic::error(format!("`{rel}` is a submodule, expected a file"))
                            .at(rel, None, "")
                            .help("commit the file itself into the repository"),
                    )
                }
                Some(ObjectType::Blob) => {}
                _ => return tree::unreadable(rel, "not a file"),
            }
            let blob = match self.repo.find_blob(entry.id) {
                Ok(b) => b,
                Err(e) => return tree::unreadable(rel, e.message()),
            };
            if entry.mode != SYMLINK_MODE {
                return tree::decode(rel, blob.content().to_vec());
            }
            let target = String::from_utf8_lossy(blob.content()).into_owned();
            let Some(path) = resolve_link(&at, &target) else {
                return tree::symlink_outside(rel);
            };
            match self.root.get_path(Path::new(&path)) {
                Ok(e) => {
                    entry = Entry::of(&e);
                    at = path;
                }
                Err(_) => return tree::broken_symlink(rel),
            }
        }
        tree::broken_symlink(rel)
    }
}

/// The path a symlink at `link` (relative to the root) pointing to `target` names, relative
/// to the root; `None` when it leaves the root.
fn resolve_link(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_tree_only() {
        assert_eq!(
            resolve_link("tenants/a.toml", "b.toml").as_deref(),
            Some("tenants/b.toml")
        );
        assert_eq!(
            resolve_link("tenants/a.toml", "../shared/a.toml").as_deref(),
            Some("shared/a.toml")
        );
        assert_eq!(resolve_link("tenants/a.toml", "../../etc/passwd"), None);
        assert_eq!(resolve_link("tenants/a.toml", "/etc/passwd"), None);
    }

    #[test]
    fn secrets_are_found_and_never_debug_printed() {
        assert_eq!(
            userinfo_password("https://u:tok@h/x").as_deref(),
            Some("tok")
        );
        assert_eq!(userinfo_password("https://tok@h/x").as_deref(), Some("tok"));
        assert_eq!(userinfo_password("https://h/x"), None);
        let s = Secret::new("hunter2\n");
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let auth = GitAuth {
            token: Some(s),
            ..GitAuth::default()
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }

    #[test]
    fn sources_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<GitSource>();
        assert_send::<super::super::Source>();
    }

    #[test]
    fn short_shas() {
        assert_eq!(short("0123456789abcdef"), "0123456");
        assert_eq!(short("abc"), "abc");
    }
}
