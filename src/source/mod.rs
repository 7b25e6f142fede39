//! The `source` stage: reads the files of a config repository, from a directory or from a
//! Git commit, and commits proposed changes to new branches ([`propose`]). The only module
//! that touches the config files and Git. Everything after it works on [`SourceTree`] values.
//!
//! Problems with single files (not UTF-8, a directory where a file was expected, a symlink
//! leaving the repository) are diagnostics, so that every problem is reported at once; only a
//! repository that cannot be read at all is a [`SourceError`].

mod dir;
mod git;
pub mod propose;
mod ssh;
mod tree;
mod url;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, SourceMap};

pub use dir::read_dir;
pub use git::{short, GitAuth, GitOptions, GitSource, Secret};
pub use ssh::{HostKey, HostKeyProblem};
pub use url::redact_url;
pub use verify::{SignaturePolicy, SignatureProblem};

/// Where a config repository is read from.
// One per process: its size does not matter, and `Git(GitSource)` is the shape callers match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Source {
    /// A directory on disk, read as it is.
    Dir(PathBuf),
    /// A Git repository, read at a commit.
    Git(GitSource),
}

impl Source {
    /// Reads the repository: a directory as it is now; a Git source is fetched first, then
    /// the resolved commit is read. A failed fetch is an error (the caller decides whether
    /// to carry on with what it read before).
    pub fn load(&mut self) -> Result<SourceTree, SourceError> {
        match self {
            Source::Dir(path) => read_dir(path),
            Source::Git(git) => {
                let sha = git.fetch()?;
                git.read(&sha)
            }
        }
    }

    /// What is read, for messages (`examples`, `https://host/config.git (branch main)`);
    /// never holds credentials.
    pub fn describe(&self) -> String {
        match self {
            Source::Dir(path) => path.display().to_string(),
            Source::Git(git) => git.describe(),
        }
    }
}

/// A config file, as read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the repository root, with `/` separators (`tenants/acme.toml`).
    pub path: String,
    /// The text. A file that is not UTF-8 has a diagnostic and no `SourceFile`.
    pub text: Arc<str>,
}

/// A commit's author and message, as the daemon records them with each sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitInfo {
    /// The author's name.
    pub author: String,
    /// The author's e-mail address.
    pub email: String,
    /// The first line of the message.
    pub summary: String,
    /// The author time, unix seconds.
    pub time: i64,
}

/// Every file of a config repository that berth reads.
#[derive(Debug, Clone, Default)]
pub struct SourceTree {
    /// What was read, for messages: the directory, or the URL of a Git repository with any
    /// credentials redacted.
    pub origin: String,
    /// The full sha of the commit, when read from Git.
    pub revision: Option<String>,
    /// Who made that commit and why, when read from Git.
    pub commit: Option<CommitInfo>,
    /// `platform.toml`.
    pub platform: Option<SourceFile>,
    /// `tenants/*.toml`, sorted by path.
    pub tenants: Vec<SourceFile>,
    /// `backups/*.toml`, sorted by path.
    pub backups: Vec<SourceFile>,
    /// `templates/*`, by file name.
    pub templates: BTreeMap<String, SourceFile>,
    /// Problems found while reading.
    pub diagnostics: Vec<Diagnostic>,
    /// Texts of every file read, for printing diagnostics (including files with problems).
    pub sources: SourceMap,
}

impl SourceTree {
    /// The repository for messages: `examples`, or `https://host/config.git@3f2a9c1`.
    pub fn label(&self) -> String {
        match &self.revision {
            Some(rev) => format!("{}@{}", self.origin, short(rev)),
            None => self.origin.clone(),
        }
    }

    /// Template override texts by file name, for `render::TemplateSet`.
    pub fn template_texts(&self) -> BTreeMap<String, String> {
        self.templates
            .iter()
            .map(|(name, f)| (name.clone(), f.text.to_string()))
            .collect()
    }
}

/// A repository that cannot be read at all. Messages never hold credentials.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The directory does not exist or is not a directory.
    #[error("config repository `{path}` not found: {reason}")]
    NotFound {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An I/O error while listing the repository.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory is not inside a Git repository.
    #[error("`{path}` is not in a Git repository: {reason}")]
    NotARepository {
        /// The directory given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The remote could not be fetched (unreachable, not a repository, ...). The cache still
    /// holds what was fetched before.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The redacted URL.
        url: String,
        /// Why, with any credentials redacted.
        reason: String,
    },
    /// The remote refused every credential berth had.
    #[error("authentication to {url} failed ({tried}); {hint}")]
    Auth {
        /// The redacted URL.
        url: String,
        /// The methods tried (and which key), never their secrets.
        tried: String,
        /// What to do, for the kind of URL.
        hint: &'static str,
    },
    /// The SSH server's host key is not trusted: nothing was sent to it.
    #[error("cannot connect to {url}: {problem}")]
    HostKey {
        /// The redacted URL.
        url: String,
        /// What is wrong with the key.
        problem: Box<HostKeyProblem>,
    },
    /// The SSH key file cannot be used (unreadable, needs a passphrase, a wrong passphrase).
    #[error("cannot use the ssh key file {} for {url}: {reason}", path.display())]
    SshKey {
        /// The redacted URL.
        url: String,
        /// The key file (its path, never its content).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A branch, tag or commit that does not exist (or is not cached, offline).
    #[error("{rev} not found in {origin}: {reason}")]
    Revision {
        /// The redacted URL or directory.
        origin: String,
        /// What was asked for (`branch `x``, `` `v1` ``).
        rev: String,
        /// Why.
        reason: String,
    },
    /// A commit whose signature is not accepted; nothing of it was read.
    #[error("refusing commit {commit} of {origin}: {problem}")]
    Signature {
        /// The redacted URL or directory.
        origin: String,
        /// The short sha.
        commit: String,
        /// What is wrong with the signature.
        problem: SignatureProblem,
    },
    /// Another Git failure (the cache cannot be opened or written).
    #[error("{origin}: {message}")]
    Git {
        /// The redacted URL or directory.
        origin: String,
        /// What failed.
        message: String,
    },
}
