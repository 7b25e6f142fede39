//! What reading a directory and reading a commit have in common: which files make up a config
//! repository, which entries are skipped or warned about, UTF-8 decoding, and the assembly of
//! a [`SourceTree`] with the same diagnostics whatever the files came from.

use std::sync::Arc;

use super::{SourceError, SourceFile, SourceTree};
use crate::diag::Diagnostic;

/// The outcome of reading one file.
pub(super) enum Read {
    /// The file and its text.
    File(SourceFile),
    /// There is no such file.
    Missing,
    /// A problem, with the (lossy) text when there is one to show.
    Problem(Box<Diagnostic>, Option<Arc<str>>),
}

/// The entries of one directory of the repository.
pub(super) enum Listing<H> {
    /// The directory does not exist.
    Missing,
    /// A file where the directory was expected.
    NotADirectory,
    /// Its entries: the name (or, when it is not UTF-8, its lossy form as the error) and a
    /// handle to read it with.
    Entries(Vec<(Result<String, String>, H)>),
}

/// One way of reading the files of a config repository (a directory, a Git tree).
pub(super) trait Reader {
    /// How an entry found by [`Reader::list`] is read again.
    type Handle: Send;

    /// The entries of `dir` (`tenants`), relative to the repository root.
    fn list(&self, dir: &str) -> Result<Listing<Self::Handle>, SourceError>;

    /// A file at the root of the repository, by name.
    fn read_root_file(&self, name: &str) -> Read;

    /// One file found by [`Reader::list`]; `rel` is its path relative to the root.
    fn read(&self, rel: &str, handle: Self::Handle) -> Read;

    /// Several files, in the order given.
    fn read_many(&self, files: Vec<(String, Self::Handle)>) -> Vec<(String, Read)> {
        files
            .into_iter()
            .map(|(rel, h)| {
                let r = self.read(&rel, h);
                (rel, r)
            })
            .collect()
    }
}

/// Reads `platform.toml`, `tenants/*.toml`, `backups/*.toml` and `templates/*` through
/// `reader`. `label` names the repository in messages (`examples`, `https://...@3f2a9c1`).
pub(super) fn build(
    origin: String,
    revision: Option<String>,
    label: &str,
    reader: &impl Reader,
) -> Result<SourceTree, SourceError> {
    let mut tree = SourceTree {
        origin,
        revision: revision.clone(),
        ..SourceTree::default()
    };
    if revision.is_some() {
        tree.sources.set_origin(label);
    }

    match reader.read_root_file("platform.toml") {
        Read::File(f) => tree.platform = Some(f),
        Read::Missing => tree.diagnostics.push(
            Diagnostic::error(format!("`{label}` has no platform.toml")).help(
                "a config repository has platform.toml at its root, next to tenants/ and backups/",
            ),
        ),
        Read::Problem(d, text) => {
            if let Some(text) = text {
                tree.sources.insert("platform.toml", text);
            }
            tree.diagnostics.push(*d);
        }
    }

    for (dir, is_template) in [("tenants", false), ("backups", false), ("templates", true)] {
        let files = match reader.list(dir)? {
            Listing::Missing => Vec::new(),
            Listing::NotADirectory => {
                tree.diagnostics.push(
                    Diagnostic::error(format!("`{dir}` is a file, expected a directory"))
                        .at(dir, None, "")
                        .help(format!("move it away and create a `{dir}/` directory")),
                );
                Vec::new()
            }
            Listing::Entries(entries) => select(dir, entries, is_template, &mut tree.diagnostics),
        };
        for (rel, r) in reader.read_many(files) {
            match r {
                Read::File(f) => match dir {
                    "tenants" => tree.tenants.push(f),
                    "backups" => tree.backups.push(f),
                    _ => {
                        let name = rel.trim_start_matches("templates/").to_string();
                        tree.templates.insert(name, f);
                    }
                },
                Read::Missing => {}
                Read::Problem(d, text) => {
                    if let Some(text) = text {
                        tree.sources.insert(&rel, text);
                    }
                    tree.diagnostics.push(*d);
                }
            }
        }
    }
    let good: Vec<SourceFile> = tree
        .platform
        .iter()
        .chain(&tree.tenants)
        .chain(&tree.backups)
        .chain(tree.templates.values())
        .cloned()
        .collect();
    for f in good {
        tree.sources.insert(&f.path, f.text);
    }
    Ok(tree)
}

/// The entries of `dir` berth reads, sorted by path. Non-TOML files in tenants/ and backups/
/// and names that are not UTF-8 are warned about; hidden files are skipped.
fn select<H>(
    dir: &str,
    entries: Vec<(Result<String, String>, H)>,
    any_extension: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, H)> {
    let mut out = Vec::new();
    for (name, handle) in entries {
        let name = match name {
            Ok(name) => name,
            Err(lossy) => {
                diags.push(
                    Diagnostic::warning(format!(
                        "ignoring `{dir}/{lossy}`: the file name is not UTF-8"
                    ))
                    .help("rename the file"),
                );
                continue;
            }
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{dir}/{name}");
        if !any_extension && !name.ends_with(".toml") {
            diags.push(
                Diagnostic::warning(format!("ignoring `{rel}`: not a .toml file"))
                    .at(&rel, None, "")
                    .help(format!("files in {dir}/ are named <tenant>.toml")),
            );
            continue;
        }
        out.push((rel, handle));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The text of a file, or a diagnostic pointing at its first byte that is not UTF-8.
pub(super) fn decode(rel: &str, bytes: Vec<u8>) -> Read {
    match String::from_utf8(bytes) {
        Ok(text) => Read::File(SourceFile {
            path: rel.to_string(),
            text: text.into(),
        }),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bad_len = e.utf8_error().error_len().unwrap_or(1);
            let lossy: Arc<str> = String::from_utf8_lossy(e.as_bytes()).into();
            // The lossy text is identical up to the first invalid byte, which becomes U+FFFD.
            let d = Diagnostic::error(format!("`{rel}` is not valid UTF-8"))
                .at(
                    rel,
                    Some(valid..valid + '\u{FFFD}'.len_utf8()),
                    format!("invalid byte sequence ({bad_len} byte(s))"),
                )
                .help("save the file as UTF-8");
            Read::Problem(Box::new(d), Some(lossy))
        }
    }
}

/// A problem with no text to show.
pub(super) fn problem(d: Diagnostic) -> Read {
    Read::Problem(Box::new(d), None)
}

/// A directory where a file was expected.
pub(super) fn is_a_directory(rel: &str) -> Read {
    problem(
        Diagnostic::error(format!("`{rel}` is a directory, expected a file"))
            .at(rel, None, "")
            .help("remove the directory or move its contents elsewhere"),
    )
}

/// A symlink whose target is outside the repository.
pub(super) fn symlink_outside(rel: &str) -> Read {
    problem(
        Diagnostic::error(format!(
            "`{rel}` is a symlink that points outside the repository"
        ))
        .at(rel, None, "")
        .help("copy the file into the repository instead of linking to it"),
    )
}

/// A symlink whose target does not exist.
pub(super) fn broken_symlink(rel: &str) -> Read {
    problem(
        Diagnostic::error(format!("`{rel}` is a broken symlink"))
            .at(rel, None, "")
            .help("remove the link or point it at a file inside the repository"),
    )
}

/// A file that could not be read.
pub(super) fn unreadable(rel: &str, why: impl std::fmt::Display) -> Read {
    problem(Diagnostic::error(format!("cannot read `{rel}`: {why}")).at(rel, None, ""))
}
