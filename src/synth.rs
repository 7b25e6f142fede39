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

/// How rich synthetic tenants are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Varied and mostly small: six in ten have one database replica, none has a restore.
    Light,
    /// Every tenant as rich as the examples' richest (acme): five replicas, two backup
    /// schedules (one reading a credentials Secret), a restore, three members of three kinds,
    /// network allowances, labels and annotations, a quota override.
    Rich,
}

impl Profile {
    /// `BERTH_SYNTH_PROFILE` (`light` or `rich`; default light), for benchmarks.
    pub fn from_env() -> Profile {
        match std::env::var("BERTH_SYNTH_PROFILE").as_deref() {
            Ok("rich") => Profile::Rich,
            _ => Profile::Light,
        }
    }
}

/// The tenant file of the i-th rich synthetic tenant ([`Profile::Rich`]).
pub fn rich_tenant_toml(i: usize) -> String {
    let name = tenant_name(i);
    let neighbour = tenant_name(i.saturating_sub(1));
    format!(
        r#"name = "{name}"
display_name = "Rich synthetic tenant {i}"
tier = "large"
labels = {{ "cost-center" = "cc-{cc}" }}
annotations = {{ "example.com/contact" = "dba@{name}.example" }}

[quota]
cpu = "48"

[[members]]
name = "alice@{name}.example"
role = "admin"

[[members]]
name = "{name}-developers"
kind = "Group"
role = "editor"

[[members]]
name = "reporting"
kind = "ServiceAccount"
role = "viewer"

[database]
replicas = 5
storage = "100Gi"
resources = {{ cpu = "4", memory = "16Gi" }}
databases = ["orders", "billing"]

[network]
allow_from = ["monitoring", "tenant:{neighbour}"]
"#,
        cc = i % 97
    )
}

/// The backups file of the i-th rich synthetic tenant ([`Profile::Rich`]).
pub fn rich_backups_toml(i: usize) -> String {
    let name = tenant_name(i);
    format!(
        r#"tenant = "{name}"

[[schedules]]
name = "nightly"
cron = "{m} 2 * * *"
timezone = "Europe/Berlin"
location = "archive"
retention = {{ keep_last = 14, keep_within = "30d" }}

[[schedules]]
name = "hourly"
cron = "15 * * * *"
location = "local"
format = "sql"
databases = ["orders"]
retention = {{ keep_last = 24 }}

[[restores]]
name = "orders-2026-11-20"
from_schedule = "nightly"
point_in_time = "2026-11-20T02:30:00Z"
databases = ["orders"]
"#,
        m = i % 60
    )
}

/// Writes a synthetic repository with `tenants` tenants into `dir` ([`Profile::Light`]).
pub fn generate(dir: &Path, tenants: usize) -> io::Result<()> {
    generate_with(dir, tenants, Profile::Light)
}

/// Writes a synthetic repository with `tenants` tenants of `profile` into `dir`.
pub fn generate_with(dir: &Path, tenants: usize, profile: Profile) -> io::Result<()> {
    fs::create_dir_all(dir.join("tenants"))?;
    fs::create_dir_all(dir.join("backups"))?;
    fs::write(dir.join("platform.toml"), PLATFORM)?;
    for i in 0..tenants {
        let name = tenant_name(i);
        let (tenant, backups) = match profile {
            Profile::Light => (tenant_toml(i), backups_toml(i)),
            Profile::Rich => (rich_tenant_toml(i), rich_backups_toml(i)),
        };
        fs::write(dir.join(format!("tenants/{name}.toml")), tenant)?;
        fs::write(dir.join(format!("backups/{name}.toml")), backups)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_tenants_render_as_many_objects_as_the_richest_example() {
        let dir = tempfile::tempdir().unwrap();
        generate_with(dir.path(), 3, Profile::Rich).unwrap();
        let tree = crate::source::read_dir(dir.path()).unwrap();
        let out = crate::spec::load_config(&tree);
        let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let config = out.config.unwrap();
        let rendered =
            crate::render::render(&config, &crate::render::TemplateSet::builtin()).unwrap();
        let examples = crate::source::read_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        )
        .unwrap();
        let examples = crate::spec::load_config(&examples).config.unwrap();
        let examples =
            crate::render::render(&examples, &crate::render::TemplateSet::builtin()).unwrap();
        let kinds = |r: &crate::render::Rendered, tenant: &str| {
            let mut k: Vec<String> = r
                .objects
                .iter()
                .filter(|o| o.tenant == tenant)
                .map(|o| o.id.kind.clone())
                .collect();
            k.sort();
            k
        };
        assert_eq!(kinds(&rendered, &tenant_name(1)), kinds(&examples, "acme"));
        let t = &config.tenants[1];
        assert_eq!(
            (
                t.database.replicas.value,
                t.schedules.len(),
                t.restores.len()
            ),
            (5, 2, 1)
        );
        assert_eq!(t.members.len(), 3);
    }

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
        // Counted only in debug builds (`cargo bench` builds the tests in release).
        #[cfg(debug_assertions)]
        assert_eq!(crate::render::builtin_fallbacks(), Vec::<&str>::new());
    }
}
