//! Saved plans (`berth plan --out FILE`, `berth apply FILE`).
//!
//! A [`PlanFile`] holds the plan (already free of secret values: `plan` masks them), a
//! fingerprint of the config it was made from, and the `resourceVersion` of every object the
//! plan touches as observed then. Before applying a saved plan, re-read the config and
//! compare [`config_fingerprint`]s, re-observe and check [`stale_objects`]: a plan is only
//! applied to the world it was made for.
//!
//! A plan file also records where its configuration was read from ([`PlanSource`]: an
//! absolute directory, or a Git URL without credentials and the commit read), so that
//! `berth apply FILE` reads the same configuration from any working directory. Files saved
//! before it was recorded have no `source`; they are still read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::observe::Observed;
use crate::plan::Plan;
use crate::source::SourceTree;

/// Version of the saved plan format. Bump on incompatible changes (fields added with a
/// default, such as `source`, are not).
pub const PLAN_FILE_FORMAT: &str = "berth-plan/1";

/// The version recorded for an object that did not exist.
pub const ABSENT: &str = "absent";

/// A saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`PLAN_FILE_FORMAT`].
    pub format_version: String,
    /// When the plan was made, RFC 3339 UTC.
    pub created_at: String,
    /// [`config_fingerprint`] of the config the plan was made from.
    pub config_fingerprint: String,
    /// Where that config was read from; `None` in files saved before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PlanSource>,
    /// The plan.
    pub plan: Plan,
    /// Cluster -> `Kind/namespace/name` -> `resourceVersion` (or [`ABSENT`]) of every object
    /// the plan touches, as observed when planning.
    pub observed_versions: BTreeMap<String, BTreeMap<String, String>>,
}

/// Where the configuration of a saved plan was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanSource {
    /// A directory on disk, by absolute path. With `commit`, that commit of the Git
    /// repository containing the directory was read (`berth plan DIR --rev REV`).
    Dir {
        /// The absolute path.
        path: PathBuf,
        /// The full sha, when a commit was read rather than the files on disk.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
    /// A Git remote (`berth plan --repo URL`).
    Git {
        /// The URL without credentials; a local path is absolute.
        url: String,
        /// The branch followed, when one was named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        branch: Option<String>,
        /// The full sha of the commit read.
        commit: String,
    },
}

impl std::fmt::Display for PlanSource {
    /// `/srv/config`, `/srv/config at commit 3f2a9c1d0e4b`,
    /// `https://host/config.git at commit 3f2a9c1d0e4b`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |c: &str| c.get(..12).unwrap_or(c).to_string();
        match self {
            PlanSource::Dir { path, commit: None } => write!(f, "{}", path.display()),
            PlanSource::Dir {
                path,
                commit: Some(c),
            } => write!(f, "{} at commit {}", path.display(), short(c)),
            PlanSource::Git { url, commit, .. } => write!(f, "{url} at commit {}", short(commit)),
        }
    }
}

/// Why a plan file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not a plan file.
    #[error("{path}: not a berth plan file: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file was written by an incompatible version of berth.
    #[error("{path}: plan file format `{found}` is not supported (expected `{PLAN_FILE_FORMAT}`); make a new plan")]
    Version {
        /// The file.
        path: String,
        /// The format found.
        found: String,
    },
}

impl PlanFile {
    /// A plan file for `plan`, made from `tree`, against `observed`.
    pub fn new(plan: Plan, tree: &SourceTree, observed: &Observed) -> PlanFile {
        let observed_versions = observed_versions(&plan, observed);
        PlanFile {
            format_version: PLAN_FILE_FORMAT.to_string(),
            created_at: crate::store::now_rfc3339(),
            config_fingerprint: config_fingerprint(tree),
            source: None,
            plan,
            observed_versions,
        }
    }

    /// Writes the plan file as pretty JSON (through a temporary file, then renamed, so that a
    /// reader never sees half a plan).
    pub fn save(&self, path: &Path) -> Result<(), PlanFileError> {
        let io = |source| PlanFileError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| PlanFileError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        text.push('\n');
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a plan file.
    pub fn load(path: &Path) -> Result<PlanFile, PlanFileError> {
        let p = || path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PlanFileError::Io { path: p(), source })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| PlanFileError::Parse {
            path: p(),
            message: e.to_string(),
        })?;
        match value.get("format_version").and_then(Value::as_str) {
            Some(PLAN_FILE_FORMAT) => {}
            Some(found) => {
                return Err(PlanFileError::Version {
                    path: p(),
                    found: found.to_string(),
                })
            }
            None => {
                return Err(PlanFileError::Parse {
                    path: p(),
                    message: "no `format_version`".into(),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| PlanFileError::Parse {
            path: p(),
            message: e.to_string(),
        })
    }
}

/// The revision of a tree as berth records it: the Git commit, else `sha256:` and the first
/// 12 hex digits of [`config_fingerprint`] (a directory has no commit).
pub fn revision_id(tree: &SourceTree) -> String {
    match &tree.revision {
        Some(r) => r.clone(),
        None => format!("sha256:{}", &config_fingerprint(tree)[..12]),
    }
}

/// A SHA-256 (hex) over the sorted paths and contents of every file of the config
/// (platform.toml, tenants, backups, templates). Equal for equal configs, whatever the
/// directory or commit they were read from.
pub fn config_fingerprint(tree: &SourceTree) -> String {
    let mut files: Vec<(&str, &str)> = tree
        .platform
        .iter()
        .chain(&tree.tenants)
        .chain(&tree.backups)
        .chain(tree.templates.values())
        .map(|f| (f.path.as_str(), &*f.text))
        .collect();
    files.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for (path, text) in files {
        // Lengths first: no two different trees hash the same bytes.
        ctx.update(&(path.len() as u64).to_le_bytes());
        ctx.update(path.as_bytes());
        ctx.update(&(text.len() as u64).to_le_bytes());
        ctx.update(text.as_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Cluster -> `Kind/namespace/name` -> `resourceVersion` of every live object (owned, or using
/// a name berth wants) in `observed`.
fn versions_by_cluster(observed: &Observed) -> BTreeMap<&str, BTreeMap<String, String>> {
    let rv = |v: &Value| {
        v.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    observed
        .clusters
        .iter()
        .filter(|(_, s)| s.error.is_none())
        .map(|(name, state)| {
            let mut m = BTreeMap::new();
            for o in &state.owned {
                m.insert(o.id.to_string(), o.resource_version().to_string());
            }
            for o in &state.unowned {
                m.insert(o.id.to_string(), rv(&o.manifest));
            }
            (name.as_str(), m)
        })
        .collect()
}

/// The `resourceVersion` (or [`ABSENT`]) of every object `plan` touches, by cluster.
pub fn observed_versions(
    plan: &Plan,
    observed: &Observed,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let live = versions_by_cluster(observed);
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for c in &plan.changes {
        let key = c.id.to_string();
        let version = live
            .get(c.cluster.as_str())
            .and_then(|m| m.get(&key))
            .cloned()
            .unwrap_or_else(|| ABSENT.to_string());
        out.entry(c.cluster.clone())
            .or_default()
            .insert(key, version);
    }
    out
}

/// Every object of the saved plan that changed since it was made: its `resourceVersion`
/// differs, or it appeared or disappeared; one line each (`cluster: Kind/ns/name changed since
/// the plan`). A cluster that cannot be observed now is one line too. Empty when the plan is
/// still current.
pub fn stale_objects(file: &PlanFile, observed: &Observed) -> Vec<String> {
    let live = versions_by_cluster(observed);
    let mut out = Vec::new();
    for (cluster, objects) in &file.observed_versions {
        let Some(now) = live.get(cluster.as_str()) else {
            out.push(format!("{cluster}: the cluster could not be observed"));
            continue;
        };
        for (key, then) in objects {
            let current = now.get(key).map(String::as_str).unwrap_or(ABSENT);
            if current == then {
                continue;
            }
            let what = if then == ABSENT {
                "was created since the plan"
            } else if current == ABSENT {
                "was deleted since the plan"
            } else {
                "changed since the plan"
            };
            out.push(format!("{cluster}: {key} {what}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::PlanSource;
    use serde_json::json;

    #[test]
    fn plan_sources_are_tagged_in_json_and_shown_with_short_commits() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let git = PlanSource::Git {
            url: "https://git.example/config.git".into(),
            branch: None,
            commit: sha.into(),
        };
        assert_eq!(
            serde_json::to_value(&git).unwrap(),
            json!({"kind": "git", "url": "https://git.example/config.git", "commit": sha})
        );
        assert_eq!(
            git.to_string(),
            "https://git.example/config.git at commit 0123456789ab"
        );
        let dir = PlanSource::Dir {
            path: "/srv/config".into(),
            commit: None,
        };
        let value = json!({"kind": "dir", "path": "/srv/config"});
        assert_eq!(serde_json::to_value(&dir).unwrap(), value);
        assert_eq!(serde_json::from_value::<PlanSource>(value).unwrap(), dir);
        assert_eq!(dir.to_string(), "/srv/config");
    }
}
