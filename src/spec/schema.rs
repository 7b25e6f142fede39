//! JSON Schemas of the three file kinds, generated from [`super::types`]. The files under
//! `schemas/` are these, pretty-printed; a test fails when they are stale.

use schemars::schema_for;

use super::types::{BackupFile, PlatformFile, TenantFile};

/// (file name under `schemas/`, schema text) for every file kind.
pub fn all() -> Vec<(&'static str, String)> {
    let pretty = |v: schemars::Schema| {
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    };
    vec![
        ("platform.schema.json", pretty(schema_for!(PlatformFile))),
        ("tenant.schema.json", pretty(schema_for!(TenantFile))),
        ("backups.schema.json", pretty(schema_for!(BackupFile))),
    ]
}
