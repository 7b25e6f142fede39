//! Reading a config repository from a directory on disk.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::{SourceError, SourceFile, SourceTree};
use crate::diag::Diagnostic;

/// Reads `platform.toml`, `tenants/*.toml`, `backups/*.toml` and `templates/*` under `root`.
pub fn read_dir(root: &Path) -> Result<SourceTree, SourceError> {
    let meta = fs::metadata(root).map_err(|e| SourceError::NotFound {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(SourceError::NotFound {
            path: root.to_path_buf(),
            reason: "not a directory".to_string(),
        });
    }
    let canonical_root = fs::canonicalize(root).map_err(|e| SourceError::Io {
        path: root.to_path_buf(),
        source: e,
    })?;
    let mut tree = SourceTree {
        origin: root.display().to_string(),
        ..SourceTree::default()
    };

    let platform_path = root.join("platform.toml");
    match read_one(&canonical_root, &platform_path, "platform.toml") {
        Read::File(f) => tree.platform = Some(f),
        Read::Missing => tree.diagnostics.push(
            Diagnostic::error(format!("`{}` has no platform.toml", root.display())).help(
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
        let files = list_dir(root, dir, is_template, &mut tree.diagnostics)?;
        let results: Vec<(String, Read)> = files
            .into_par_iter()
            .map(|(rel, path)| {
                let r = read_one(&canonical_root, &path, &rel);
                (rel, r)
            })
            .collect();
        for (rel, r) in results {
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

/// Lists the entries of `root/dir`, sorted. Non-TOML files in tenants/ and backups/ are warned
/// about; hidden files are skipped.
fn list_dir(
    root: &Path,
    dir: &str,
    any_extension: bool,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<(String, PathBuf)>, SourceError> {
    let path = root.join(dir);
    let entries = match fs::read_dir(&path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            diags.push(
                Diagnostic::error(format!("`{dir}` is a file, expected a directory"))
                    .at(dir, None, "")
                    .help(format!("move it away and create a `{dir}/` directory")),
            );
            return Ok(Vec::new());
        }
        Err(e) => return Err(SourceError::Io { path, source: e }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SourceError::Io {
            path: path.clone(),
            source: e,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            diags.push(
                Diagnostic::warning(format!(
                    "ignoring `{dir}/{}`: the file name is not UTF-8",
                    name.to_string_lossy()
                ))
                .help("rename the file"),
            );
            continue;
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
        out.push((rel, entry.path()));
    }
    out.sort();
    Ok(out)
}

enum Read {
    File(SourceFile),
    Missing,
    Problem(Box<Diagnostic>, Option<Arc<str>>),
}

fn read_one(canonical_root: &Path, path: &Path, rel: &str) -> Read {
    let link_meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
        Err(e) => {
            return problem(
                Diagnostic::error(format!("cannot read `{rel}`: {e}")).at(rel, None, ""),
            )
        }
    };
    if link_meta.file_type().is_symlink() {
        match fs::canonicalize(path) {
            Ok(target) if !target.starts_with(canonical_root) => {
                return problem(
                    Diagnostic::error(format!(
                        "`{rel}` is a symlink that points outside the repository"
                    ))
                    .at(rel, None, "")
                    .help("copy the file into the repository instead of linking to it"),
                )
            }
            Ok(_) => {}
            Err(_) => {
                return problem(
                    Diagnostic::error(format!("`{rel}` is a broken symlink"))
                        .at(rel, None, "")
                        .help("remove the link or point it at a file inside the repository"),
                )
            }
        }
    }
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return problem(
                Diagnostic::error(format!("cannot read `{rel}`: {e}")).at(rel, None, ""),
            )
        }
    };
    if meta.is_dir() {
        return problem(
            Diagnostic::error(format!("`{rel}` is a directory, expected a file"))
                .at(rel, None, "")
                .help("remove the directory or move its contents elsewhere"),
        );
    }
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return problem(
                Diagnostic::error(format!("cannot read `{rel}`: {e}")).at(rel, None, ""),
            )
        }
    };
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

fn problem(d: Diagnostic) -> Read {
    Read::Problem(Box::new(d), None)
}
