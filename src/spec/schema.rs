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

/// A Markdown reference of every field of the three file kinds, generated from the same
/// schemas (and so from the doc comments of `spec::types`). Kept in `docs/reference.md`.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Config repository reference\n\n\
         Generated from the Rust types by `berth schema --reference`; do not edit by hand.\n",
    );
    for (name, text) in all() {
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let file = match name {
            "platform.schema.json" => "platform.toml",
            "tenant.schema.json" => "tenants/<name>.toml",
            _ => "backups/<name>.toml",
        };
        out.push_str(&format!("\n## `{file}`\n\n"));
        if let Some(d) = schema.get("description").and_then(|d| d.as_str()) {
            out.push_str(&format!("{}\n\n", one_line(d)));
        }
        out.push_str("| key | type | default | description |\n| --- | --- | --- | --- |\n");
        let mut rows = Vec::new();
        walk(&schema, &schema, "", &mut rows, 0);
        for row in rows {
            out.push_str(&row);
        }
    }
    out
}

fn resolve<'a>(root: &'a serde_json::Value, s: &'a serde_json::Value) -> &'a serde_json::Value {
    match s
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => root.get("$defs").and_then(|d| d.get(name)).unwrap_or(s),
        None => s,
    }
}

/// The schema without its `null` alternative (for `Option<T>`).
fn non_null<'a>(root: &'a serde_json::Value, s: &'a serde_json::Value) -> &'a serde_json::Value {
    let s = resolve(root, s);
    if let Some(alts) = s.get("anyOf").and_then(|a| a.as_array()) {
        let rest: Vec<_> = alts
            .iter()
            .filter(|a| a.get("type").and_then(|t| t.as_str()) != Some("null"))
            .collect();
        if rest.len() == 1 {
            return resolve(root, rest[0]);
        }
    }
    s
}

fn type_name(root: &serde_json::Value, s: &serde_json::Value) -> String {
    let s = non_null(root, s);
    if let Some(alts) = s.get("oneOf").and_then(|a| a.as_array()) {
        let consts: Vec<String> = alts
            .iter()
            .filter_map(|a| a.get("const").and_then(|c| c.as_str()))
            .map(|c| format!("`\"{c}\"`"))
            .collect();
        if !consts.is_empty() {
            return consts.join(" \\| ");
        }
    }
    if let Some(e) = s.get("enum").and_then(|e| e.as_array()) {
        return e
            .iter()
            .filter_map(|c| c.as_str())
            .map(|c| format!("`\"{c}\"`"))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    let types: Vec<&str> = match s.get("type") {
        Some(serde_json::Value::String(t)) => vec![t.as_str()],
        Some(serde_json::Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => Vec::new(),
    };
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    if types.contains(&"array") {
        if let Some(items) = s.get("items") {
            return format!("list of {}", type_name(root, items));
        }
    }
    if types.len() == 3 && types.contains(&"string") && types.contains(&"integer") {
        return "quantity".to_string();
    }
    match types.as_slice() {
        ["object"] if s.get("properties").is_none() => match s.get("additionalProperties") {
            Some(extra) if extra.is_object() => format!("table of {}s", type_name(root, extra)),
            _ => "table".to_string(),
        },
        ["object"] => "table".to_string(),
        [] => "value".to_string(),
        ts => ts.join(" or "),
    }
}

fn one_line(s: &str) -> String {
    s.replace("\n\n", " ")
        .replace('\n', " ")
        .replace('|', "\\|")
}

fn walk(
    root: &serde_json::Value,
    s: &serde_json::Value,
    prefix: &str,
    rows: &mut Vec<String>,
    depth: usize,
) {
    if depth > 6 {
        return;
    }
    let s = non_null(root, s);
    let Some(props) = s.get("properties").and_then(|p| p.as_object()) else {
        return;
    };
    let required: Vec<&str> = s
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|k| k.as_str()).collect())
        .unwrap_or_default();
    for (key, prop) in props {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let target = non_null(root, prop);
        let description = prop
            .get("description")
            .or_else(|| target.get("description"))
            .and_then(|d| d.as_str())
            .map(one_line)
            .unwrap_or_default();
        let default = if required.contains(&key.as_str()) {
            "required".to_string()
        } else {
            match prop.get("default") {
                Some(serde_json::Value::Null) | None => "—".to_string(),
                Some(v) => format!("`{v}`"),
            }
        };
        rows.push(format!(
            "| `{path}` | {} | {default} | {description} |\n",
            type_name(root, prop)
        ));
        // Nested tables, maps of tables and lists of tables.
        if target.get("properties").is_some() {
            walk(root, target, &path, rows, depth + 1);
        } else if let Some(extra) = target.get("additionalProperties").filter(|e| e.is_object()) {
            walk(root, extra, &format!("{path}.<name>"), rows, depth + 1);
        } else if let Some(items) = target.get("items") {
            walk(root, items, &format!("{path}[]"), rows, depth + 1);
        }
    }
}

#[cfg(test)]
mod reference_tests {
    #[test]
    fn committed_reference_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::reference_markdown(),
            "docs/reference.md is stale: run `cargo run -- schema --reference > docs/reference.md`"
        );
    }
}
