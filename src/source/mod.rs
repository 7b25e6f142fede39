//! The `source` stage: reads the files of a config repository. The only module that touches
//! the config files and Git: it reads them, and commits
//! proposed changes to new branches ([`propose`]). Everything after it works on [`SourceTree`] values.
//!
//! Problems with single files (not UTF-8, a directory where a file was expected, a symlink
//! leaving the repository) are diagnostics, so that every problem is reported at once; only a
//! repository that cannot be read at all is a [`SourceError`].

mod dir;
pub mod propose;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, SourceMap};

pub use dir::read_dir;

/// A config file, as read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the repository root, with `/` separators (`tenants/acme.toml`).
    pub path: String,
    /// The text. A file that is not UTF-8 has a diagnostic and no `SourceFile`.
    pub text: Arc<str>,
}

/// Every file of a config repository that berth reads.
#[derive(Debug, Clone, Default)]
pub struct SourceTree {
    /// What was read, for messages (`examples`, `https://...@abc123`).
    pub origin: String,
    /// A revision id when read from Git.
    pub revision: Option<String>,
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
    /// Template override texts by file name, for `render::TemplateSet`.
    pub fn template_texts(&self) -> BTreeMap<String, String> {
        self.templates
            .iter()
            .map(|(name, f)| (name.clone(), f.text.to_string()))
            .collect()
    }
}

/// A repository that cannot be read at all.
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
}
