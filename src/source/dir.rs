//! Reading a config repository from a directory on disk.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::tree::{self, Listing, Read, Reader};
use super::{SourceError, SourceTree};

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
    let origin = root.display().to_string();
    let reader = DirReader {
        root,
        canonical_root,
    };
    tree::build(origin.clone(), None, &origin, &reader)
}

struct DirReader<'a> {
    root: &'a Path,
    canonical_root: PathBuf,
}

impl Reader for DirReader<'_> {
    type Handle = PathBuf;

    fn list(&self, dir: &str) -> Result<Listing<PathBuf>, SourceError> {
        let path = self.root.join(dir);
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listing::Missing),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Ok(Listing::NotADirectory)
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
            let name = match name.to_str() {
                Some(n) => Ok(n.to_string()),
                None => Err(name.to_string_lossy().into_owned()),
            };
            out.push((name, entry.path()));
        }
        Ok(Listing::Entries(out))
    }

    fn read_root_file(&self, name: &str) -> Read {
        read_one(&self.canonical_root, &self.root.join(name), name)
    }

    fn read(&self, rel: &str, path: PathBuf) -> Read {
        read_one(&self.canonical_root, &path, rel)
    }

    fn read_many(&self, files: Vec<(String, PathBuf)>) -> Vec<(String, Read)> {
        files
            .into_par_iter()
            .map(|(rel, path)| {
                let r = read_one(&self.canonical_root, &path, &rel);
                (rel, r)
            })
            .collect()
    }
}

fn read_one(canonical_root: &Path, path: &Path, rel: &str) -> Read {
    let link_meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
        Err(e) => return tree::unreadable(rel, e),
    };
    // A plain file's own metadata is enough; only a symlink needs its target's.
    let meta = if link_meta.file_type().is_symlink() {
        match fs::canonicalize(path) {
            Ok(target) if !target.starts_with(canonical_root) => return tree::symlink_outside(rel),
            Ok(_) => {}
            Err(_) => return tree::broken_symlink(rel),
        }
        match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return tree::unreadable(rel, e),
        }
    } else {
        link_meta
    };
    if meta.is_dir() {
        return tree::is_a_directory(rel);
    }
    // `fs::read` would ask for the size again: the metadata above has it.
    let read = || -> std::io::Result<Vec<u8>> {
        use std::io::Read as _;
        let mut file = fs::File::open(path)?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0) + 1);
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    match read() {
        Ok(bytes) => tree::decode(rel, bytes),
        Err(e) => tree::unreadable(rel, e),
    }
}
