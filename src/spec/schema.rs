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

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas under `schemas/` must be what the types generate today.
    #[test]
    fn committed_schemas_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for (name, text) in all() {
            let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            assert!(
                committed == text,
                "schemas/{name} is stale: run `cargo run -- schema --write schemas`"
            );
        }
    }

    #[test]
    fn schemas_carry_doc_comments_and_reject_unknown_keys() {
        let tenant = &all()[1].1;
        let v: serde_json::Value = serde_json::from_str(tenant).unwrap();
        assert_eq!(v["additionalProperties"], false);
        assert!(v["properties"]["tier"]["description"]
            .as_str()
            .unwrap()
            .contains("quota preset"));
    }
}
