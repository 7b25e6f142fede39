//! Synthetic config repositories of any size, for benchmarks and scale tests.
//!
//! `generate(dir, n)` writes a platform.toml with three tiers and three backup locations, and
//! `n` tenants of varied shapes (members, network allowances, overrides), each with a backups
//! file holding one or two schedules. The output is deterministic for a given `n`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// The platform.toml of synthetic repositories.
pub const PLATFORM: &str = r#"[platform]
name = "synthetic"
default_cluster = "local"

[clusters.local]

[tiers.small]
cpu = "4"
memory = "8Gi"
storage = "50Gi"
pods = 10
max_db_replicas = 1

[tiers.medium]
cpu = "16"
memory = "64Gi"
storage = "500Gi"
pods = 30
max_db_replicas = 3

[tiers.large]
cpu = "64"
memory = "256Gi"
storage = "4Ti"
pods = 100
max_db_replicas = 5

[database]
engine = "kwdb"
image = "kwdb/kwdb"
version = "3.1.0"
replicas = 1
storage = "10Gi"
resources = { cpu = "1", memory = "2Gi" }

[backup_locations.local]
kind = "pvc"
path = "backups"

[backup_locations.archive]
kind = "s3"
bucket = "synthetic-backups"
credentials_secret = "backup-s3"

[backup_locations.vault]
kind = "http"
url = "http://vault.backup.svc:8080/exports"
"#;

/// Name of the i-th synthetic tenant.
pub fn tenant_name(i: usize) -> String {
    format!("t{i:05}")
}

/// The tenant file of the i-th synthetic tenant.
pub fn tenant_toml(i: usize) -> String {
    let name = tenant_name(i);
    let (tier, replicas) = match i % 10 {
        0..=5 => ("small", 1),
        6..=8 => ("medium", 3),
        _ => ("large", 5),
    };
    let mut s = String::with_capacity(512);
    let _ = writeln!(s, "name = \"{name}\"");
    let _ = writeln!(s, "display_name = \"Synthetic tenant {i}\"");
    let _ = writeln!(s, "tier = \"{tier}\"");
    let _ = writeln!(s, "labels = {{ \"cost-center\" = \"cc-{}\" }}", i % 97);
    let _ = writeln!(s);
    for (m, role) in ["admin", "editor", "viewer"]
        .iter()
        .enumerate()
        .take(1 + i % 3)
    {
        let _ = writeln!(s, "[[members]]");
        let _ = writeln!(s, "name = \"user{m}@{name}.example\"");
        let _ = writeln!(s, "role = \"{role}\"\n");
    }
    let _ = writeln!(s, "[database]");
    let _ = writeln!(s, "replicas = {replicas}");
    if i.is_multiple_of(4) {
        let _ = writeln!(s, "storage = \"20Gi\"");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "[network]");
    if i > 0 && i.is_multiple_of(5) {
        let _ = writeln!(
            s,
            "allow_from = [\"monitoring\", \"tenant:{}\"]",
            tenant_name(i - 1)
        );
    } else {
        let _ = writeln!(s, "allow_from = [\"monitoring\"]");
    }
    s
}

/// The backups file of the i-th synthetic tenant.
pub fn backups_toml(i: usize) -> String {
    let name = tenant_name(i);
    let location = ["local", "archive", "vault"][i % 3];
    let mut s = format!(
        "tenant = \"{name}\"\n\n[[schedules]]\nname = \"nightly\"\ncron = \"{} {} * * *\"\nlocation = \"{location}\"\nretention = {{ keep_last = 7, keep_within = \"14d\" }}\n",
        i % 60,
        i % 6
    );
    if i.is_multiple_of(2) {
        s.push_str(
            "\n[[schedules]]\nname = \"hourly\"\ncron = \"*/30 * * * *\"\nlocation = \"local\"\nformat = \"sql\"\nretention = { keep_last = 48 }\n",
        );
    }
    s
}

/// Writes a synthetic repository with `tenants` tenants into `dir`.
pub fn generate(dir: &Path, tenants: usize) -> io::Result<()> {
    fs::create_dir_all(dir.join("tenants"))?;
    fs::create_dir_all(dir.join("backups"))?;
    fs::write(dir.join("platform.toml"), PLATFORM)?;
    for i in 0..tenants {
        let name = tenant_name(i);
        fs::write(dir.join(format!("tenants/{name}.toml")), tenant_toml(i))?;
        fs::write(dir.join(format!("backups/{name}.toml")), backups_toml(i))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_repository_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 50).unwrap();
        let tree = crate::source::read_dir(dir.path()).unwrap();
        let out = crate::spec::load_config(&tree);
        let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let config = out.config.unwrap();
        assert_eq!(config.tenants.len(), 50);
        assert!(config.tenants.iter().any(|t| t.schedules.len() == 2));
    }

    /// Built-in templates stay within the fast YAML subset (rendering 100,000+ objects spends
    /// most of its time parsing), and the fast parser agrees with the full one on every
    /// object (checked inside `render` in debug builds).
    #[test]
    fn builtin_templates_use_the_fast_yaml_path() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 40).unwrap();
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for repo in [dir.path(), examples.as_path()] {
            let tree = crate::source::read_dir(repo).unwrap();
            let config = crate::spec::load_config(&tree).config.unwrap();
            let templates = crate::render::TemplateSet::builtin();
            crate::render::render(&config, &templates).unwrap();
        }
        assert_eq!(crate::render::builtin_fallbacks(), Vec::<&str>::new());
    }
}
