//! "Propose a change": forms that write the TOML a person would have written, validate the
//! repository with it (the same [`crate::pipeline::load_and_render`] as `berth validate`),
//! plan it offline (the base revision's rendered objects stand in for the clusters), and
//! commit it to a new branch ([`crate::source::propose`]). Problems are shown next to the
//! field they come from.
//!
//! Every form but "create a tenant" is about one tenant, chosen first (`?tenant=NAME`): its
//! fields then show the tenant file's current values, and its choices are the tenant's own
//! (its members, its backup schedules). Edits of an existing file go through `toml_edit`, so
//! comments, order and formatting of everything else stay as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::html::get;
use super::templates::render;
use crate::pipeline::load_and_render;
use crate::plan::{self, Plan, PlanOptions};
use crate::source::propose::FileChange;
use crate::source::{SourceFile, SourceTree};

/// The forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Create a tenant.
    Tenant,
    /// Change tier, quota or replicas.
    Change,
    /// Database volumes: size and StorageClass.
    Storage,
    /// Database pod resources.
    Resources,
    /// Namespaces allowed to reach the tenant.
    Network,
    /// Add a member.
    Member,
    /// Remove a member.
    RemoveMember,
    /// Add a backup schedule.
    Schedule,
    /// Request a restore.
    Restore,
}

impl Kind {
    /// Every form, in menu order.
    pub const ALL: [Kind; 9] = [
        Kind::Tenant,
        Kind::Change,
        Kind::Storage,
        Kind::Resources,
        Kind::Network,
        Kind::Member,
        Kind::RemoveMember,
        Kind::Schedule,
        Kind::Restore,
    ];

    /// The path segment (`/propose/<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Change => "change",
            Kind::Storage => "storage",
            Kind::Resources => "resources",
            Kind::Network => "network",
            Kind::Member => "member",
            Kind::RemoveMember => "remove-member",
            Kind::Schedule => "schedule",
            Kind::Restore => "restore",
        }
    }

    /// From the path segment.
    pub fn from_slug(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// The form's title.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Tenant => "Create a tenant",
            Kind::Change => "Change tier, quota or replicas",
            Kind::Storage => "Change database storage",
            Kind::Resources => "Change database resources",
            Kind::Network => "Change network access",
            Kind::Member => "Add a member",
            Kind::RemoveMember => "Remove a member",
            Kind::Schedule => "Add a backup schedule",
            Kind::Restore => "Request a restore",
        }
    }

    /// The link text on a tenant's page.
    pub fn short(self) -> &'static str {
        match self {
            Kind::Tenant => "create a tenant",
            Kind::Change => "tier, quota or replicas",
            Kind::Storage => "storage",
            Kind::Resources => "resources",
            Kind::Network => "network",
            Kind::Member => "add a member",
            Kind::RemoveMember => "remove a member",
            Kind::Schedule => "add a backup schedule",
            Kind::Restore => "request a restore",
        }
    }

    fn blurb(self) -> &'static str {
        match self {
            Kind::Tenant => "A new tenants/<name>.toml: namespace, quota, database, members.",
            Kind::Change => "Edit a tenant's tier, quota overrides or database replicas.",
            Kind::Storage => "The volume size and StorageClass of a tenant's database nodes.",
            Kind::Resources => "CPU and memory of each of a tenant's database pods.",
            Kind::Network => "Namespaces and tenants allowed to reach a tenant.",
            Kind::Member => "Give a user, group or service account a role in a tenant.",
            Kind::RemoveMember => "Take a member's role in a tenant away.",
            Kind::Schedule => "A CronJob that exports the tenant's databases.",
            Kind::Restore => "A one-shot Job that imports a backup into the tenant.",
        }
    }

    /// Whether the form is about one existing tenant (chosen first).
    pub fn per_tenant(self) -> bool {
        self != Kind::Tenant
    }

    /// The fields that edit a key of the tenant file in place, with the key's path.
    fn edits(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            Kind::Change => &[
                ("tier", &["tier"]),
                ("cpu", &["quota", "cpu"]),
                ("memory", &["quota", "memory"]),
                ("storage", &["quota", "storage"]),
                ("pods", &["quota", "pods"]),
                ("replicas", &["database", "replicas"]),
            ],
            Kind::Storage => &[
                ("size", &["database", "storage"]),
                ("storage_class", &["database", "storage_class"]),
            ],
            Kind::Resources => &[
                ("cpu", &["database", "resources", "cpu"]),
                ("memory", &["database", "resources", "memory"]),
                ("cpu_limit", &["database", "resources", "cpu_limit"]),
            ],
            Kind::Network => &[("allow_from", &["network", "allow_from"])],
            _ => &[],
        }
    }
}

/// The `#:schema` references written at the top of new files, relative to the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemas {
    /// For `tenants/<name>.toml`.
    pub tenant: Option<String>,
    /// For `backups/<name>.toml`.
    pub backups: Option<String>,
    /// Whether a reference is where the schemas would be written, not where they are.
    pub missing: bool,
}

/// The schema file names, as `berth schema --write DIR` writes them.
const SCHEMA_FILES: [(&str, &str); 2] = [
    ("tenants", "tenant.schema.json"),
    ("backups", "backups.schema.json"),
];

impl Schemas {
    /// Where new files of `tree` point their `#:schema` line: first the reference the
    /// repository's own files of that kind use, when it is a URL or a file that `exists`;
    /// else a `schemas/` directory found in the repository, in the config directory or any
    /// directory above it up to the root of the Git tree (`depth` levels above it); else
    /// `schemas/` at the root of the Git tree, where `berth schema --write schemas` run there
    /// puts them (as the examples do). `exists` takes a path relative to the config
    /// directory, which may climb out of it with `../`.
    pub fn find(tree: &SourceTree, depth: usize, exists: &dyn Fn(&str) -> bool) -> Schemas {
        let missing = std::cell::Cell::new(false);
        let pick = |dir: &str, file: &str| -> String {
            let files = if dir == "tenants" {
                &tree.tenants
            } else {
                &tree.backups
            };
            let mut used: BTreeMap<&str, usize> = BTreeMap::new();
            for f in files {
                if let Some(r) = f
                    .text
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("#:schema "))
                {
                    *used.entry(r.trim()).or_default() += 1;
                }
            }
            let mut used: Vec<(&str, usize)> = used.into_iter().collect();
            used.sort_by_key(|u| std::cmp::Reverse(u.1));
            for (r, _) in used {
                if r.contains("://") || exists(&format!("{dir}/{r}")) {
                    return r.to_string();
                }
            }
            for up in 0..=depth {
                let r = format!("{}schemas/{file}", "../".repeat(up + 1));
                if exists(&format!("{dir}/{r}")) {
                    return r;
                }
            }
            missing.set(true);
            format!("{}schemas/{file}", "../".repeat(depth + 1))
        };
        let [(td, tf), (bd, bf)] = SCHEMA_FILES;
        Schemas {
            tenant: Some(pick(td, tf)),
            backups: Some(pick(bd, bf)),
            missing: missing.get(),
        }
    }
}

/// The tenant a per-tenant form is about, as its file says.
#[derive(Debug, Clone, Default)]
pub struct Chosen {
    /// Its name.
    pub name: String,
    /// `tenants/<name>.toml`.
    pub path: String,
    /// The file, parsed (empty when it does not parse).
    pub table: toml::Table,
    /// Its members: name, kind, role.
    pub members: Vec<(String, String, String)>,
}

/// What the forms offer, read from the base revision.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Tenant names (from tenants/*.toml).
    pub tenants: Vec<String>,
    /// Tier names.
    pub tiers: Vec<String>,
    /// Each tier's table in platform.toml (`cpu`, `max_db_replicas`, ...).
    pub tier_presets: BTreeMap<String, toml::Table>,
    /// The `[database]` table of platform.toml.
    pub platform_database: toml::Table,
    /// Cluster names.
    pub clusters: Vec<String>,
    /// Backup location names.
    pub locations: Vec<String>,
    /// Backup schedule names by tenant.
    pub schedules: BTreeMap<String, Vec<String>>,
    /// The `#:schema` lines of new files.
    pub schemas: Schemas,
    /// The tenant of a per-tenant form, once chosen.
    pub chosen: Option<Chosen>,
}

fn table_keys(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

impl Context {
    /// The context of a tree (files that do not parse contribute nothing); `tenant` is the
    /// tenant a form is about, when one was chosen and has a file.
    pub fn from_tree(tree: &SourceTree, tenant: Option<&str>) -> Context {
        let platform: toml::Table = tree
            .platform
            .as_ref()
            .and_then(|f| toml::from_str(&f.text).ok())
            .unwrap_or_default();
        let mut schedules = BTreeMap::new();
        for f in &tree.backups {
            let Ok(t) = toml::from_str::<toml::Table>(&f.text) else {
                continue;
            };
            let Some(tenant) = t.get("tenant").and_then(toml::Value::as_str) else {
                continue;
            };
            let names: Vec<String> = t
                .get("schedules")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("name")?.as_str().map(str::to_string))
                .collect();
            schedules.insert(tenant.to_string(), names);
        }
        let tier_presets = platform
            .get("tiers")
            .and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_table()?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let chosen = tenant.and_then(|name| {
            let path = format!("tenants/{name}.toml");
            let f = file_of(tree, &path)?;
            let table: toml::Table = toml::from_str(&f.text).unwrap_or_default();
            let members = table
                .get("members")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    let s = |k: &str, d: &str| {
                        m.get(k)
                            .and_then(toml::Value::as_str)
                            .unwrap_or(d)
                            .to_string()
                    };
                    m.get("name")?;
                    Some((s("name", ""), s("kind", "User"), s("role", "")))
                })
                .collect();
            Some(Chosen {
                name: name.to_string(),
                path,
                table,
                members,
            })
        });
        Context {
            tenants: tree
                .tenants
                .iter()
                .filter_map(|f| {
                    f.path
                        .strip_prefix("tenants/")?
                        .strip_suffix(".toml")
                        .map(str::to_string)
                })
                .collect(),
            tiers: table_keys(&platform, "tiers"),
            tier_presets,
            platform_database: platform
                .get("database")
                .and_then(toml::Value::as_table)
                .cloned()
                .unwrap_or_default(),
            clusters: table_keys(&platform, "clusters"),
            locations: table_keys(&platform, "backup_locations"),
            schedules,
            schemas: Schemas::default(),
            chosen,
        }
    }

    /// With the `#:schema` lines of new files.
    pub fn with_schemas(mut self, schemas: Schemas) -> Context {
        self.schemas = schemas;
        self
    }

    /// The value at `path` of the chosen tenant's file, as a form shows it.
    fn current(&self, path: &[&str]) -> Option<String> {
        lookup(&self.chosen.as_ref()?.table, path).map(form_text)
    }

    /// The chosen tenant's tier preset value of `key` (`cpu`, `max_db_replicas`).
    fn preset(&self, key: &str) -> Option<String> {
        let tier = self.current(&["tier"])?;
        self.tier_presets.get(&tier)?.get(key).map(form_text)
    }

    /// The platform's database default at `path` (`storage`, `resources.cpu`).
    fn platform_default(&self, path: &[&str]) -> Option<String> {
        lookup(&self.platform_database, path).map(form_text)
    }

    /// The values a per-tenant form starts with: the chosen tenant's current ones.
    pub fn prefill(&self, kind: Kind) -> Vec<(String, String)> {
        let Some(c) = &self.chosen else {
            return Vec::new();
        };
        let mut out = vec![("tenant".to_string(), c.name.clone())];
        for (field, path) in kind.edits() {
            if let Some(v) = self.current(path) {
                out.push((field.to_string(), v));
            }
        }
        out
    }
}

fn lookup<'a>(t: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut t = t;
    for p in parents {
        t = t.get(*p)?.as_table()?;
    }
    t.get(*last)
}

/// A TOML value as a form field shows it: strings without quotes, lists comma-separated.
fn form_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(form_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A form field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Form name.
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// Choices (a select) as value and text; empty: free text.
    pub choices: Vec<(String, String)>,
    /// Help under the field.
    pub hint: String,
    /// Must be given.
    pub required: bool,
}

fn field(name: &'static str, label: &'static str, required: bool, hint: &str) -> Field {
    Field {
        name,
        label,
        choices: Vec::new(),
        hint: hint.to_string(),
        required,
    }
}

fn select(name: &'static str, label: &'static str, choices: Vec<String>, hint: &str) -> Field {
    Field {
        name,
        label,
        choices: choices.into_iter().map(|c| (c.clone(), c)).collect(),
        hint: hint.to_string(),
        required: true,
    }
}

/// "empty: the tier's 16" and the like (without the value when it is not known).
fn default_hint(example: &str, default: Option<String>, whose: &str) -> String {
    match default {
        Some(d) => format!("{example}empty: {whose} {d}"),
        None => format!("{example}empty: {whose} default"),
    }
}

/// The fields of a form.
pub fn fields(kind: Kind, ctx: &Context) -> Vec<Field> {
    let tier_hint = |key: &str, example: &str| {
        let whose = match ctx.current(&["tier"]) {
            Some(t) => format!("tier {t}'s"),
            None => "the tier's".into(),
        };
        default_hint(example, ctx.preset(key), &whose)
    };
    let platform_hint = |path: &[&str], example: &str| {
        default_hint(example, ctx.platform_default(path), "the platform's")
    };
    let mut f = match kind {
        Kind::Tenant => vec![
            field(
                "name",
                "tenant name",
                true,
                "a DNS label: lowercase letters, digits, '-'",
            ),
            field("display_name", "display name", false, ""),
            select("tier", "tier", ctx.tiers.clone(), "the quota preset"),
            Field {
                required: false,
                choices: std::iter::once((String::new(), "(the platform's default)".into()))
                    .chain(ctx.clusters.iter().map(|c| (c.clone(), c.clone())))
                    .collect(),
                ..select(
                    "cluster",
                    "cluster",
                    Vec::new(),
                    "empty: the platform's default cluster",
                )
            },
            field(
                "replicas",
                "database replicas",
                false,
                &platform_hint(&["replicas"], ""),
            ),
            field(
                "admin",
                "admin (user)",
                false,
                "e-mail or user name given the admin role",
            ),
        ],
        Kind::Change => vec![
            select("tier", "tier", ctx.tiers.clone(), "the quota preset"),
            field("cpu", "quota cpu", false, &tier_hint("cpu", "e.g. 16; ")),
            field(
                "memory",
                "quota memory",
                false,
                &tier_hint("memory", "e.g. 64Gi; "),
            ),
            field(
                "storage",
                "quota storage",
                false,
                &tier_hint("storage", "e.g. 500Gi; "),
            ),
            field("pods", "quota pods", false, &tier_hint("pods", "")),
            field(
                "replicas",
                "database replicas",
                false,
                &match ctx.preset("max_db_replicas") {
                    Some(max) => format!(
                        "at most {max} in this tier; {}",
                        platform_hint(&["replicas"], "")
                    ),
                    None => platform_hint(&["replicas"], ""),
                },
            ),
        ],
        Kind::Storage => vec![
            field(
                "size",
                "volume size of each node",
                false,
                &platform_hint(&["storage"], "e.g. 100Gi; "),
            ),
            field(
                "storage_class",
                "StorageClass",
                false,
                &platform_hint(&["storage_class"], ""),
            ),
        ],
        Kind::Resources => vec![
            field(
                "cpu",
                "CPU request of each pod",
                false,
                &platform_hint(&["resources", "cpu"], "e.g. 2 or 500m; "),
            ),
            field(
                "memory",
                "memory of each pod",
                false,
                &platform_hint(&["resources", "memory"], "request and limit, e.g. 8Gi; "),
            ),
            field(
                "cpu_limit",
                "CPU limit of each pod",
                false,
                &platform_hint(&["resources", "cpu_limit"], ""),
            ),
        ],
        Kind::Network => vec![field(
            "allow_from",
            "allowed from",
            false,
            "namespaces, comma-separated; tenant:<name> for another tenant's; empty: only the tenant's own",
        )],
        Kind::Member => vec![
            field(
                "name",
                "member name",
                true,
                "user e-mail, group or service account name",
            ),
            select(
                "kind",
                "kind",
                vec!["User".into(), "Group".into(), "ServiceAccount".into()],
                "",
            ),
            select(
                "role",
                "role",
                vec!["viewer".into(), "editor".into(), "admin".into()],
                "",
            ),
        ],
        Kind::RemoveMember => vec![Field {
            choices: ctx
                .chosen
                .iter()
                .flat_map(|c| &c.members)
                .map(|(n, k, r)| (n.clone(), format!("{n} ({k}, {r})")))
                .collect(),
            ..select("member", "member", Vec::new(), "")
        }],
        Kind::Schedule => vec![
            field("name", "schedule name", true, "e.g. nightly"),
            field(
                "cron",
                "cron",
                true,
                "five fields or a macro, e.g. 0 2 * * * or @daily",
            ),
            field(
                "timezone",
                "time zone",
                false,
                "e.g. Europe/Berlin; empty: UTC",
            ),
            select(
                "location",
                "location",
                ctx.locations.clone(),
                "from platform.toml",
            ),
            field(
                "keep_last",
                "keep the newest",
                false,
                "number of backups kept",
            ),
        ],
        Kind::Restore => vec![
            field(
                "name",
                "restore name",
                true,
                "runs once, ever: use a new name for each restore",
            ),
            select(
                "from_schedule",
                "from schedule",
                ctx.chosen
                    .as_ref()
                    .and_then(|c| ctx.schedules.get(&c.name))
                    .cloned()
                    .unwrap_or_default(),
                "the tenant's schedule whose backup is restored",
            ),
            field(
                "point_in_time",
                "point in time",
                false,
                "RFC 3339, e.g. 2026-11-20T02:30:00Z; empty: the newest",
            ),
            field(
                "databases",
                "databases",
                false,
                "comma-separated; empty: the schedule's",
            ),
        ],
    };
    if kind.per_tenant() {
        f.insert(
            0,
            Field {
                hint: String::new(),
                ..select("tenant", "tenant", ctx.tenants.clone(), "")
            },
        );
    }
    f.push(field(
        "branch",
        "branch",
        false,
        "the new branch; empty: a name from the change",
    ));
    f.push(field(
        "author_name",
        "your name",
        false,
        "the commit's author",
    ));
    f.push(field("author_email", "your e-mail", false, ""));
    f
}

/// Problems of a proposal: by field, and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors {
    /// By field name.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Not about one field.
    pub general: Vec<String>,
}

impl Errors {
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    /// Adds a problem of `field`.
    pub fn at(&mut self, field: &str, msg: impl Into<String>) {
        self.fields
            .entry(field.to_string())
            .or_default()
            .push(msg.into());
    }
}

/// What a valid form makes.
#[derive(Debug, Clone)]
pub struct Built {
    /// The files written.
    pub files: Vec<FileChange>,
    /// Their texts before (`None`: a new file).
    pub before: Vec<Option<String>>,
    /// Commit message.
    pub message: String,
    /// Branch.
    pub branch: String,
    /// The tenant concerned.
    pub tenant: String,
}

/// A TOML string literal.
fn lit(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn file_of<'a>(tree: &'a SourceTree, path: &str) -> Option<&'a SourceFile> {
    tree.tenants
        .iter()
        .chain(&tree.backups)
        .find(|f| f.path == path)
}

/// The backups file of `tenant`: the file whose `tenant` key names it, else
/// `backups/<tenant>.toml`.
fn backups_path(tree: &SourceTree, tenant: &str) -> String {
    tree.backups
        .iter()
        .find(|f| {
            toml::from_str::<toml::Table>(&f.text)
                .ok()
                .and_then(|t| t.get("tenant")?.as_str().map(|s| s == tenant))
                .unwrap_or(false)
        })
        .map(|f| f.path.clone())
        .unwrap_or_else(|| format!("backups/{tenant}.toml"))
}

/// What a TOML item is, for messages: `an integer`, `an array of tables`.
fn kind_of(item: &toml_edit::Item) -> &'static str {
    use toml_edit::{Item, Value};
    match item {
        Item::None => "nothing",
        Item::Table(_) | Item::Value(Value::InlineTable(_)) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "an integer",
        Item::Value(Value::Float(_)) => "a float",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date-time",
        Item::Value(Value::Array(_)) => "an array",
    }
}

/// Sets the key at `path` (`["quota", "cpu"]`) of a document to `value`, creating the tables
/// on the way (`[database.resources]` without an empty `[database]`). A key that is there
/// keeps its place and its comment; a new key goes after the last one of its table, written
/// like its neighbours inside an inline table. Every other byte of the file stays as it was.
///
/// A path through something that is not a table (`database = 1` for `database.replicas`), or
/// to a table, is an error naming the key: such a file is changed by hand.
pub fn set_key(
    doc: &mut toml_edit::DocumentMut,
    path: &[&str],
    mut value: toml_edit::Value,
) -> Result<(), String> {
    use toml_edit::{Item, Value};
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let cannot = |what: String| {
        format!(
            "cannot set `{}`: {what}; change the file by hand",
            path.join(".")
        )
    };
    // New tables go at the end of the file, after every table there is.
    let end = last_position(doc.as_table()).map_or(0, |p| p + 1);
    let mut t: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for (i, p) in parents.iter().enumerate() {
        if t.get(p).is_none() {
            let mut new = toml_edit::Table::new();
            new.set_implicit(true);
            new.set_position(Some(end));
            new.decor_mut().set_prefix("\n");
            t.insert(p, Item::Table(new));
        }
        let item = t.get_mut(p).expect("inserted above");
        let what = kind_of(item);
        t = match item {
            Item::Table(sub) => sub,
            Item::Value(Value::InlineTable(sub)) => {
                let rest = &path[i + 1..];
                if sub.get(rest[0]).is_none() {
                    // The rest of the path is new: nested inline tables, not a `[header]`.
                    for k in rest[1..].iter().rev() {
                        let mut inner = toml_edit::InlineTable::new();
                        inner.insert(*k, value);
                        inner.fmt();
                        value = Value::InlineTable(inner);
                    }
                    insert_inline(sub, rest[0], value);
                    return Ok(());
                }
                sub
            }
            _ => {
                return Err(cannot(format!(
                    "`{}` is {what}, not a table",
                    path[..=i].join(".")
                )))
            }
        };
    }
    match t.get_mut(last) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        Some(item) => return Err(cannot(format!("it is {}, not a value", kind_of(item)))),
        None => {
            t.insert(last, Item::Value(value));
        }
    }
    Ok(())
}

/// The greatest position in the document of the tables under `t`.
fn last_position(t: &toml_edit::Table) -> Option<isize> {
    t.iter()
        .filter_map(|(_, item)| match item {
            toml_edit::Item::Table(sub) => sub.position().max(last_position(sub)),
            toml_edit::Item::ArrayOfTables(a) => a
                .iter()
                .filter_map(|sub| sub.position().max(last_position(sub)))
                .max(),
            _ => None,
        })
        .max()
}

/// Adds `key` after the last key of an inline table, spaced like it: `{a=1}` becomes
/// `{a=1,b=2}`, `{ a = 1 }` becomes `{ a = 1, b = 2 }`.
fn insert_inline(t: &mut toml_edit::InlineTable, key: &str, mut value: toml_edit::Value) {
    let Some(last) = t.iter().last().map(|(k, _)| k.to_string()) else {
        t.insert(key, value);
        t.fmt();
        return;
    };
    let key_decor = t
        .key(&last)
        .map(|k| k.leaf_decor().clone())
        .unwrap_or_default();
    let old = t.get_mut(&last).expect("the last key");
    // The space before `}` belongs after the new last value.
    let decor = old.decor().clone();
    old.decor_mut().set_suffix("");
    *value.decor_mut() = decor;
    t.insert(key, value);
    if let Some(mut k) = t.key_mut(key) {
        *k.leaf_decor_mut() = key_decor;
    }
}

/// `file` is not valid TOML: where, and what, so that it can be fixed by hand first.
fn not_toml(file: &str, text: &str, e: &toml_edit::TomlError) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let at = line.map(|l| format!(":{l}")).unwrap_or_default();
    format!(
        "{file}{at} is not valid TOML ({}); fix it by hand first",
        e.message().trim_end()
    )
}

/// Removes the key at `path`, and its table when that is left empty.
pub fn remove_key(doc: &mut toml_edit::DocumentMut, path: &[&str]) {
    fn walk(t: &mut dyn toml_edit::TableLike, path: &[&str]) {
        match path {
            [] => {}
            [last] => {
                t.remove(last);
            }
            [first, rest @ ..] => {
                let Some(sub) = t
                    .get_mut(first)
                    .and_then(toml_edit::Item::as_table_like_mut)
                else {
                    return;
                };
                walk(sub, rest);
                if sub.is_empty() {
                    t.remove(first);
                }
            }
        }
    }
    walk(doc.as_table_mut(), path);
}

/// The TOML value of a form field's text for the key at `path`: integers for counts, lists
/// for `allow_from`, strings otherwise.
fn typed(path: &[&str], text: &str) -> Result<toml_edit::Value, String> {
    match path.last().copied() {
        Some("pods" | "replicas") => text
            .parse::<u32>()
            .map(|n| toml_edit::Value::from(i64::from(n)))
            .map_err(|_| "a whole number".to_string()),
        Some("allow_from") => Ok(toml_edit::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect(),
        )),
        _ => Ok(toml_edit::Value::from(text)),
    }
}

/// `text` with `block` appended after a blank line.
fn append(text: &str, block: &str) -> String {
    let mut s = text.trim_end().to_string();
    if !s.is_empty() {
        s.push_str("\n\n");
    }
    s.push_str(block);
    s
}

/// `text` with the `[[key]]` table of `block` added: appended after a blank line, or, when
/// the file writes the list inline (`members = [{ ... }]`), as one more inline table of that
/// list, spaced like the one before it. The rest of the file stays as it was.
fn add_entry(text: &str, key: &str, block: &str) -> String {
    use toml_edit::{Item, Value};
    let (Ok(mut doc), Ok(new)) = (
        text.parse::<toml_edit::DocumentMut>(),
        block.parse::<toml_edit::DocumentMut>(),
    ) else {
        return append(text, block);
    };
    let (Some(Item::Value(Value::Array(list))), Some(entry)) = (
        doc.get_mut(key),
        new.get(key)
            .and_then(Item::as_array_of_tables)
            .and_then(|a| a.get(0)),
    ) else {
        return append(text, block);
    };
    let mut inline = entry.clone().into_inline_table();
    inline.fmt();
    let decor = match list.len() {
        0 => None,
        1 => list
            .get(0)
            .map(|v| v.decor().prefix().and_then(|p| p.as_str()).unwrap_or(""))
            .filter(|p| p.contains('\n'))
            .map(str::to_string)
            .or(Some(" ".into())),
        n => list.get(n - 1).map(|v| {
            v.decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string()
        }),
    };
    let mut v = Value::InlineTable(inline);
    if let Some(prefix) = decor {
        v.decor_mut().set_prefix(prefix);
        v.decor_mut().set_suffix("");
    }
    list.push_formatted(v);
    doc.to_string()
}

fn value<'a>(values: &'a [(String, String)], k: &str) -> &'a str {
    get(values, k).unwrap_or("").trim()
}

/// The form fields of a per-tenant form that differ from the tenant file: sets and removals
/// of keys. The new text and what changed, or nothing (`None`) when no field differs.
fn edit_file(
    kind: Kind,
    ctx: &Context,
    (file, text): (&str, &str),
    values: &[(String, String)],
    errors: &mut Errors,
) -> Option<(String, Vec<String>)> {
    // A field that is not sent is left as it is; one sent empty goes back to the default.
    let changes: Vec<(&str, &[&str], &str)> = kind
        .edits()
        .iter()
        .filter_map(|(field, path)| {
            let new = get(values, field).map(str::trim)?;
            (new != ctx.current(path).unwrap_or_default()).then_some((*field, *path, new))
        })
        .collect();
    if changes.is_empty() {
        return None;
    }
    let mut doc: toml_edit::DocumentMut = match text.parse() {
        Ok(d) => d,
        Err(e) => {
            let keys: Vec<String> = changes
                .iter()
                .map(|(_, p, _)| format!("`{}`", p.join(".")))
                .collect();
            errors.general.push(format!(
                "cannot change {}: {}",
                keys.join(", "),
                not_toml(file, text, &e)
            ));
            return None;
        }
    };
    let mut what = Vec::new();
    for (field, path, new) in changes {
        let key = path.join(".");
        if new.is_empty() {
            remove_key(&mut doc, path);
            what.push(format!("{key} back to its default"));
            continue;
        }
        match typed(path, new) {
            Ok(v) => match set_key(&mut doc, path, v) {
                Ok(()) => what.push(format!("{key} {new}")),
                Err(e) => errors.at(field, format!("{file}: {e}")),
            },
            Err(e) => errors.at(field, e),
        }
    }
    (!what.is_empty()).then(|| (doc.to_string(), what))
}

/// Builds the files of a proposal from the form `values` against `base`, or the problems with
/// the values themselves (validation of the result comes after, in [`check`]). `ctx` is the
/// context of `base` for the form's tenant.
pub fn build(
    kind: Kind,
    values: &[(String, String)],
    base: &SourceTree,
    ctx: &Context,
) -> Result<Built, Errors> {
    let mut errors = Errors::default();
    for f in fields(kind, ctx) {
        let v = value(values, f.name);
        let edit_not_sent =
            kind.edits().iter().any(|(n, _)| *n == f.name) && get(values, f.name).is_none();
        if f.required && v.is_empty() && !edit_not_sent {
            errors.at(f.name, "required");
        } else if !f.choices.is_empty() && !v.is_empty() && !f.choices.iter().any(|c| c.0 == v) {
            let names: Vec<&str> = f
                .choices
                .iter()
                .map(|c| c.0.as_str())
                .filter(|c| !c.is_empty())
                .collect();
            errors.at(f.name, format!("choose one of: {}", names.join(", ")));
        }
    }
    let tenant = match kind {
        Kind::Tenant => value(values, "name"),
        _ => value(values, "tenant"),
    }
    .to_string();
    if !tenant.is_empty() && !is_dns_label(&tenant) {
        errors.at(
            if kind == Kind::Tenant {
                "name"
            } else {
                "tenant"
            },
            "a tenant name is a DNS label: lowercase letters, digits and '-', at most 63",
        );
    }
    if kind.per_tenant()
        && !tenant.is_empty()
        && ctx.chosen.as_ref().map(|c| c.name.as_str()) != Some(tenant.as_str())
    {
        errors.at("tenant", format!("no file tenants/{tenant}.toml"));
    }
    let number = |errors: &mut Errors, k: &str| -> Option<String> {
        let v = value(values, k);
        if v.is_empty() {
            return None;
        }
        match v.parse::<u32>() {
            Ok(n) => Some(n.to_string()),
            Err(_) => {
                errors.at(k, "a whole number");
                None
            }
        }
    };
    let tenant_text = ctx
        .chosen
        .as_ref()
        .and_then(|c| file_of(base, &c.path))
        .map(|f| (f.path.clone(), f.text.to_string()));
    let mut files: Vec<(String, String)> = Vec::new();
    let message;
    let branch_default;
    match kind {
        Kind::Tenant => {
            let path = format!("tenants/{tenant}.toml");
            if file_of(base, &path).is_some() {
                errors.at("name", format!("tenant `{tenant}` exists already"));
            }
            let replicas = number(&mut errors, "replicas");
            let mut t = String::new();
            if let Some(s) = &ctx.schemas.tenant {
                let _ = writeln!(t, "#:schema {s}");
            }
            let _ = writeln!(t, "name = {}", lit(&tenant));
            if !value(values, "display_name").is_empty() {
                let _ = writeln!(t, "display_name = {}", lit(value(values, "display_name")));
            }
            let _ = writeln!(t, "tier = {}", lit(value(values, "tier")));
            if !value(values, "cluster").is_empty() {
                let _ = writeln!(t, "cluster = {}", lit(value(values, "cluster")));
            }
            if !value(values, "admin").is_empty() {
                let _ = write!(
                    t,
                    "\n[[members]]\nname = {}\nrole = \"admin\"\n",
                    lit(value(values, "admin"))
                );
            }
            if let Some(r) = replicas {
                let _ = write!(t, "\n[database]\nreplicas = {r}\n");
            }
            files.push((path, t));
            message = format!("Create tenant {tenant} (tier {})", value(values, "tier"));
            branch_default = format!("berth/create-tenant-{tenant}");
        }
        Kind::Change | Kind::Storage | Kind::Resources | Kind::Network => {
            if let Some((path, text)) = &tenant_text {
                match edit_file(kind, ctx, (path, text), values, &mut errors) {
                    Some((new, what)) => {
                        files.push((path.clone(), new));
                        message = format!("Change tenant {tenant}: {}", what.join(", "));
                    }
                    None => {
                        if errors.is_empty() {
                            errors.general.push(
                                "nothing to change: every field has the tenant's current value"
                                    .into(),
                            );
                        }
                        message = String::new();
                    }
                }
            } else {
                message = String::new();
            }
            branch_default = format!("berth/{}-{tenant}", kind.slug());
        }
        Kind::Member => {
            if let Some((path, t)) = &tenant_text {
                let mut block = format!("[[members]]\nname = {}\n", lit(value(values, "name")));
                if value(values, "kind") != "User" {
                    let _ = writeln!(block, "kind = {}", lit(value(values, "kind")));
                }
                let _ = writeln!(block, "role = {}", lit(value(values, "role")));
                files.push((path.clone(), add_entry(t, "members", &block)));
            }
            message = format!(
                "Add {} {} to tenant {tenant} as {}",
                value(values, "kind"),
                value(values, "name"),
                value(values, "role")
            );
            branch_default = format!("berth/member-{tenant}");
        }
        Kind::RemoveMember => {
            let name = value(values, "member");
            if let (Some((path, t)), false) = (&tenant_text, name.is_empty()) {
                match remove_member(path, t, name) {
                    Ok(new) => files.push((path.clone(), new)),
                    Err(e) => errors.at("member", e),
                }
            }
            message = format!("Remove member {name} from tenant {tenant}");
            branch_default = format!("berth/remove-member-{tenant}");
        }
        Kind::Schedule | Kind::Restore => {
            let path = backups_path(base, &tenant);
            let before = file_of(base, &path)
                .map(|f| f.text.to_string())
                .unwrap_or_else(|| {
                    let mut t = String::new();
                    if let Some(s) = &ctx.schemas.backups {
                        let _ = writeln!(t, "#:schema {s}");
                    }
                    let _ = writeln!(t, "tenant = {}", lit(&tenant));
                    t
                });
            let name = value(values, "name");
            let block = if kind == Kind::Schedule {
                let mut b = format!(
                    "[[schedules]]\nname = {}\ncron = {}\n",
                    lit(name),
                    lit(value(values, "cron"))
                );
                if !value(values, "timezone").is_empty() {
                    let _ = writeln!(b, "timezone = {}", lit(value(values, "timezone")));
                }
                let _ = writeln!(b, "location = {}", lit(value(values, "location")));
                if let Some(k) = number(&mut errors, "keep_last") {
                    let _ = writeln!(b, "retention = {{ keep_last = {k} }}");
                }
                message = format!(
                    "Add backup schedule {name} ({}) to tenant {tenant}",
                    value(values, "cron")
                );
                branch_default = format!("berth/backup-{tenant}-{name}");
                b
            } else {
                if ctx
                    .chosen
                    .as_ref()
                    .is_some_and(|c| ctx.schedules.get(&c.name).is_none_or(Vec::is_empty))
                {
                    errors.at(
                        "from_schedule",
                        format!("tenant `{tenant}` has no backup schedule to restore from: add one first"),
                    );
                }
                let mut b = format!(
                    "[[restores]]\nname = {}\nfrom_schedule = {}\n",
                    lit(name),
                    lit(value(values, "from_schedule"))
                );
                if !value(values, "point_in_time").is_empty() {
                    let _ = writeln!(b, "point_in_time = {}", lit(value(values, "point_in_time")));
                }
                let dbs: Vec<String> = value(values, "databases")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(lit)
                    .collect();
                if !dbs.is_empty() {
                    let _ = writeln!(b, "databases = [{}]", dbs.join(", "));
                }
                message = format!(
                    "Restore tenant {tenant} from {}",
                    value(values, "from_schedule")
                );
                branch_default = format!("berth/restore-{tenant}-{name}");
                b
            };
            let list = if kind == Kind::Schedule {
                "schedules"
            } else {
                "restores"
            };
            files.push((path, add_entry(&before, list, &block)));
        }
    }
    let branch = match value(values, "branch") {
        "" => branch_default,
        b => b.to_string(),
    };
    let refname = format!("refs/heads/{branch}");
    if !git2::Reference::is_valid_name(&refname) || branch.starts_with('-') {
        errors.at("branch", format!("`{branch}` is not a valid branch name"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let before = files
        .iter()
        .map(|(p, _)| file_of(base, p).map(|f| f.text.to_string()))
        .collect();
    Ok(Built {
        files: files
            .into_iter()
            .map(|(path, text)| FileChange { path, text })
            .collect(),
        before,
        message: format!("{message}\n\nProposed from the berth dashboard."),
        branch,
        tenant,
    })
}

/// The tenant file `text` without its member `name` (the first one of that name), the rest
/// as it was.
fn remove_member(file: &str, text: &str, name: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot remove `{name}`: {}", not_toml(file, text, &e)))?;
    let is = |t: &dyn toml_edit::TableLike| {
        t.get("name").and_then(toml_edit::Item::as_str) == Some(name)
    };
    match doc.get_mut("members") {
        Some(toml_edit::Item::ArrayOfTables(a)) => {
            let i = a
                .iter()
                .position(|t| is(t))
                .ok_or_else(|| format!("no member `{name}`"))?;
            a.remove(i);
            if a.is_empty() {
                doc.remove("members");
            }
        }
        Some(toml_edit::Item::Value(toml_edit::Value::Array(a))) => {
            let i = a
                .iter()
                .position(|v| v.as_inline_table().is_some_and(|t| is(t)))
                .ok_or_else(|| format!("no member `{name}`"))?;
            a.remove(i);
        }
        _ => return Err(format!("no member `{name}`")),
    }
    Ok(doc.to_string())
}

/// `base` with the files of `built` written.
pub fn apply_files(base: &SourceTree, files: &[FileChange]) -> SourceTree {
    let mut tree = base.clone();
    for f in files {
        let file = SourceFile {
            path: f.path.clone(),
            text: f.text.as_str().into(),
        };
        tree.sources.insert(&f.path, file.text.clone());
        let list = if f.path.starts_with("tenants/") {
            &mut tree.tenants
        } else {
            &mut tree.backups
        };
        match list.iter_mut().find(|x| x.path == f.path) {
            Some(x) => *x = file,
            None => {
                list.push(file);
                list.sort_by(|a, b| a.path.cmp(&b.path));
            }
        }
    }
    tree.revision = None;
    tree
}

/// The key path (`database.replicas`, `members.role`: no list positions) whose key or value
/// holds byte `offset` of a TOML text, if any.
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    fn walk(t: &dyn toml_edit::TableLike, prefix: &str, offset: usize) -> Option<String> {
        let holds = |s: Option<std::ops::Range<usize>>| {
            s.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
        };
        for (k, item) in t.iter() {
            let path = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            let found = match item {
                toml_edit::Item::Value(v) => match v.as_inline_table() {
                    Some(inline) => walk(inline, &path, offset),
                    None => None,
                }
                .or_else(|| {
                    (holds(t.key(k).and_then(toml_edit::Key::span)) || holds(v.span()))
                        .then(|| path.clone())
                }),
                toml_edit::Item::Table(sub) => walk(sub, &path, offset),
                toml_edit::Item::ArrayOfTables(a) => {
                    a.iter().find_map(|sub| walk(sub, &path, offset))
                }
                toml_edit::Item::None => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
    let doc = toml_edit::Document::parse(text).ok()?;
    walk(doc.as_table(), "", offset)
}

/// Which form field a key path of the written TOML comes from.
fn field_of_path(kind: Kind, path: &str) -> Option<&'static str> {
    if path == "tenant" || (kind.per_tenant() && path == "name" && kind != Kind::Member) {
        return kind.per_tenant().then_some("tenant");
    }
    if let Some((field, _)) = kind.edits().iter().find(|(_, p)| p.join(".") == path) {
        return Some(*field);
    }
    let f = match (kind, path) {
        (Kind::Tenant, "name") => "name",
        (Kind::Tenant, "display_name") => "display_name",
        (Kind::Tenant, "tier") => "tier",
        (Kind::Tenant, "cluster") => "cluster",
        (Kind::Tenant, "database.replicas") => "replicas",
        (Kind::Tenant, "members.name" | "members.role") => "admin",
        (Kind::Member, "members.name") => "name",
        (Kind::Member, "members.kind") => "kind",
        (Kind::Member, "members.role") => "role",
        (Kind::Schedule, "schedules.name") | (Kind::Restore, "restores.name") => "name",
        (Kind::Schedule, "schedules.cron") => "cron",
        (Kind::Schedule, "schedules.timezone") => "timezone",
        (Kind::Schedule, "schedules.location") => "location",
        (Kind::Schedule, p) if p.starts_with("schedules.retention") => "keep_last",
        (Kind::Restore, "restores.from_schedule") => "from_schedule",
        (Kind::Restore, "restores.point_in_time") => "point_in_time",
        (Kind::Restore, "restores.databases") => "databases",
        _ => return None,
    };
    Some(f)
}

/// The result of validating and planning a proposal.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Problems, placed by field where the line they point at was written by the form.
    pub errors: Errors,
    /// The plan of the change against the base revision (when valid).
    pub plan: Option<Plan>,
}

/// Validates `base` with the proposal's files (every diagnostic of `berth validate`, with its
/// message and help) and plans it against the base revision's rendered objects.
pub fn check(kind: Kind, built: &Built, base: &SourceTree) -> Checked {
    let tree = apply_files(base, &built.files);
    let loaded = load_and_render(&tree, &[]);
    let mut errors = Errors::default();
    let changed: BTreeSet<&str> = built.files.iter().map(|f| f.path.as_str()).collect();
    for d in loaded.load.diagnostics.iter().filter(|d| d.is_error()) {
        let line = crate::diag::one_line(d, &loaded.load.sources);
        let placed = d.primary.as_ref().and_then(|l| {
            if !changed.contains(l.file.as_str()) {
                return None;
            }
            let text = loaded.load.sources.get(&l.file)?;
            let span = l.span.clone()?;
            field_of_path(kind, &key_path_at(text, span.start)?)
        });
        let message = match &d.help {
            Some(h) => format!("{} ({h})", d.message),
            None => d.message.clone(),
        };
        match placed {
            Some(f) => errors.at(f, message),
            None => errors.general.push(line),
        }
    }
    let plan = match (loaded.load.config, loaded.rendered) {
        (Some(config), Some(rendered)) if errors.is_empty() => {
            let base_loaded = load_and_render(base, &[]);
            let base_rendered = base_loaded.rendered.unwrap_or_default();
            let mut opts = PlanOptions::from_config(&config);
            opts.tenants = None;
            let mut p = plan::plan_change(&config, &rendered, &base_rendered, [], &opts);
            p.revision = None;
            Some(p)
        }
        _ => None,
    };
    Checked { errors, plan }
}
/// A file of a proposal as a unified diff: each line with its class (`add`, `del`, `ctx`,
/// or empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// The file.
    pub path: String,
    /// Whether it is new.
    pub new: bool,
    /// The lines of the diff and their classes.
    pub lines: Vec<(&'static str, String)>,
}

/// The unified diff of a file's text before and after.
pub fn file_diff(path: &str, before: Option<&str>, after: &str) -> FileDiff {
    let diff = similar::TextDiff::from_lines(before.unwrap_or(""), after);
    let lines = diff
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(false)
        .to_string()
        .lines()
        .map(|line| {
            let class = match line.chars().next() {
                Some('+') => "add",
                Some('-') => "del",
                Some('@') => "ctx",
                _ => "",
            };
            (class, line.to_string())
        })
        .collect();
    FileDiff {
        path: path.to_string(),
        new: before.is_none(),
        lines,
    }
}

/// A unified diff of a file's text before and after, escaped and coloured.
pub fn file_diff_html(path: &str, before: Option<&str>, after: &str) -> String {
    render_fragment("file_diff.html", file_diff(path, before, after))
}

/// `template` with `page`, a fragment of a page.
fn render_fragment(template: &str, page: impl Serialize) -> String {
    #[derive(Serialize)]
    struct Fragment<T> {
        page: T,
    }
    render(template, &Fragment { page })
}

/// A field of a form as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldView {
    /// Form name (its id is `f-NAME`).
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// A hidden field (the tenant, once chosen).
    pub hidden: bool,
    /// Must be given.
    pub required: bool,
    /// Its value.
    pub value: String,
    /// A select's choices: value, text, whether selected.
    pub choices: Vec<(String, String, bool)>,
    /// Help under the field.
    pub hint: String,
    /// Its problems.
    pub errors: Vec<String>,
}

/// The choice of the tenant a per-tenant form is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChooseTenant {
    /// The tenants, and whether selected.
    pub tenants: Vec<(String, bool)>,
    /// Problems with the choice.
    pub errors: Vec<String>,
}

/// A form as shown: its values, problems and CSRF token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormView {
    /// The form's path segment.
    pub slug: &'static str,
    /// Problems not about one field.
    pub general_errors: Vec<String>,
    /// A per-tenant form whose tenant is not chosen yet: the choice, and no fields.
    pub choose: Option<ChooseTenant>,
    /// The tenant chosen.
    pub chosen: Option<String>,
    /// A restore for a tenant without a schedule.
    pub no_schedule: bool,
    /// A member removal for a tenant without members.
    pub no_member: bool,
    /// The CSRF token.
    pub csrf: String,
    /// The fields.
    pub fields: Vec<FieldView>,
}

/// The form's data, with values, errors and the CSRF token. A per-tenant form whose tenant
/// is not chosen yet (`ctx.chosen`) is a choice of the tenant first.
pub fn form_view(
    kind: Kind,
    ctx: &Context,
    values: &[(String, String)],
    errors: &Errors,
    csrf: &str,
) -> FormView {
    let errors_of = |name: &str| errors.fields.get(name).cloned().unwrap_or_default();
    let chosen = ctx.chosen.as_ref().filter(|_| kind.per_tenant());
    let choose = (kind.per_tenant() && chosen.is_none()).then(|| ChooseTenant {
        tenants: ctx
            .tenants
            .iter()
            .map(|t| (t.clone(), t == value(values, "tenant")))
            .collect(),
        errors: errors_of("tenant"),
    });
    let fields = if choose.is_some() {
        Vec::new()
    } else {
        fields(kind, ctx)
            .into_iter()
            .map(|f| {
                let v = value(values, f.name);
                FieldView {
                    name: f.name,
                    label: f.label,
                    hidden: f.name == "tenant",
                    required: f.required,
                    value: v.to_string(),
                    choices: f
                        .choices
                        .iter()
                        .map(|(c, label)| (c.clone(), label.clone(), c == v))
                        .collect(),
                    hint: f.hint.clone(),
                    errors: errors_of(f.name),
                }
            })
            .collect()
    };
    FormView {
        slug: kind.slug(),
        general_errors: errors.general.clone(),
        no_schedule: chosen.is_some_and(|c| {
            kind == Kind::Restore && ctx.schedules.get(&c.name).is_none_or(Vec::is_empty)
        }),
        no_member: chosen.is_some_and(|c| kind == Kind::RemoveMember && c.members.is_empty()),
        chosen: chosen.map(|c| c.name.clone()),
        choose,
        csrf: csrf.to_string(),
        fields,
    }
}

/// The form, with values, errors and the CSRF token (see [`form_view`]).
pub fn form_html(
    kind: Kind,
    ctx: &Context,
    values: &[(String, String)],
    errors: &Errors,
    csrf: &str,
) -> String {
    render_fragment(
        "propose_form.html",
        form_view(kind, ctx, values, errors, csrf),
    )
}

/// The index of the forms: why proposals are disabled, or the sign-out control (when
/// `signed_in`) and the repository they are committed to.
pub fn index_html(enabled: Result<(), String>, signed_in: bool, repo: Option<String>) -> String {
    #[derive(Serialize)]
    struct Index {
        disabled: Option<String>,
        sign_out: bool,
        repo: Option<String>,
        forms: Vec<(&'static str, &'static str, &'static str)>,
    }
    render_fragment(
        "propose_index.html",
        Index {
            disabled: enabled.err(),
            sign_out: signed_in,
            repo,
            forms: Kind::ALL
                .into_iter()
                .map(|k| (k.slug(), k.title(), k.blurb()))
                .collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::dashboard::html::url_encode;
    use std::path::{Path, PathBuf};

    fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
    }

    fn examples() -> SourceTree {
        crate::source::read_dir(&examples_dir()).unwrap()
    }

    /// The examples as the daemon sees them in this repository: `examples/` one level below
    /// the root of the Git tree, whose `schemas/` holds the schemas.
    fn examples_schemas(tree: &SourceTree) -> Schemas {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Schemas::find(tree, 1, &|p| {
            let full = examples_dir().join(p);
            std::fs::canonicalize(&full).is_ok_and(|f| f.starts_with(root) && f.is_file())
        })
    }

    /// [`build`] with the context a form has for the tenant the values name.
    fn build_for(
        kind: Kind,
        values: &[(String, String)],
        base: &SourceTree,
    ) -> Result<Built, Errors> {
        let ctx =
            Context::from_tree(base, get(values, "tenant")).with_schemas(examples_schemas(base));
        build(kind, values, base, &ctx)
    }

    #[test]
    fn keys_are_set_and_removed_keeping_the_rest_of_the_file() {
        let t = "name = \"a\"\ntier = \"small\" # the cheapest\n\n[quota]\ncpu = \"4\"\n\n[[members]]\nname = \"x\"\nrole = \"admin\"\n";
        let mut doc: toml_edit::DocumentMut = t.parse().unwrap();
        set_key(&mut doc, &["tier"], "large".into()).unwrap();
        set_key(&mut doc, &["quota", "memory"], "8Gi".into()).unwrap();
        set_key(&mut doc, &["database", "resources", "cpu"], "2".into()).unwrap();
        let out = doc.to_string();
        assert_eq!(
            out,
            "name = \"a\"\ntier = \"large\" # the cheapest\n\n[quota]\ncpu = \"4\"\nmemory = \"8Gi\"\n\n[[members]]\nname = \"x\"\nrole = \"admin\"\n\n[database.resources]\ncpu = \"2\"\n"
        );
        remove_key(&mut doc, &["quota", "cpu"]);
        remove_key(&mut doc, &["quota", "memory"]);
        assert!(!doc.to_string().contains("[quota]"), "{doc}");

        // Inline tables are edited where they are.
        let mut doc: toml_edit::DocumentMut = "name = \"a\"\ndatabase = { replicas = 1 }\n"
            .parse()
            .unwrap();
        set_key(&mut doc, &["database", "replicas"], 3i64.into()).unwrap();
        assert_eq!(
            doc.to_string(),
            "name = \"a\"\ndatabase = { replicas = 3 }\n"
        );
        let mut doc: toml_edit::DocumentMut = "database = 1\n".parse().unwrap();
        assert!(set_key(&mut doc, &["database", "replicas"], 3i64.into())
            .unwrap_err()
            .contains("not a table"));
    }

    #[test]
    fn tenant_names_values_and_errors_are_escaped_in_the_forms_and_diffs() {
        const EVIL: &str = "<script>alert(1)</script>\"'&";
        const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
        let base = examples();
        let mut ctx = Context::from_tree(&base, None);
        ctx.tenants.push(EVIL.into());
        let mut errors = Errors::default();
        errors.general.push(format!("general {EVIL}"));
        errors.at("tenant", format!("tenant {EVIL}"));
        // The choice of a tenant: the names, the chosen one, the problems.
        let html = form_html(
            Kind::Change,
            &ctx,
            &pairs(&[("tenant", EVIL)]),
            &errors,
            EVIL,
        );
        assert!(!html.contains("<script"), "{html}");
        for shown in [
            format!("<option value=\"{ESCAPED}\" selected>{ESCAPED}</option>"),
            format!("general {ESCAPED}"),
            format!("tenant {ESCAPED}"),
        ] {
            assert!(html.contains(&shown), "{shown}: {html}");
        }

        // A chosen tenant's form: the values, the CSRF token, the problems of a field.
        let mut chosen = Context::from_tree(&base, Some("acme"));
        chosen.chosen.as_mut().unwrap().name = EVIL.into();
        let mut errors = Errors::default();
        errors.at("cpu", format!("cpu {EVIL}"));
        let html = form_html(
            Kind::Restore,
            &chosen,
            &pairs(&[("cpu", EVIL), ("name", EVIL)]),
            &errors,
            EVIL,
        );
        assert!(!html.contains("<script"), "{html}");
        for shown in [
            format!("name=\"csrf\" value=\"{ESCAPED}\""),
            format!("name=\"name\" value=\"{ESCAPED}\""),
            format!(
                "Tenant <a href=\"/tenants/{}\">{ESCAPED}</a>",
                url_encode(EVIL)
            ),
        ] {
            assert!(html.contains(&shown), "{shown}: {html}");
        }

        let diff = file_diff_html(
            &format!("tenants/{EVIL}.toml"),
            None,
            &format!("name = '{EVIL}'\n"),
        );
        assert!(!diff.contains("<script"), "{diff}");
        assert!(
            diff.contains(&format!("<code>tenants/{ESCAPED}.toml</code> (new file)")),
            "{diff}"
        );
        assert!(
            diff.contains(&format!("+name = &#39;{ESCAPED}&#39;</span>")),
            "{diff}"
        );

        let index = index_html(Err(format!("disabled {EVIL}")), false, None);
        assert!(index.contains(&format!("disabled {ESCAPED}")), "{index}");
        let index = index_html(Ok(()), true, Some(format!("repo {EVIL}")));
        assert!(
            index.contains(&format!("committed to repo {ESCAPED}.")),
            "{index}"
        );
        assert!(index.contains("id=\"sign-out\""), "{index}");
        assert!(!index.contains("<script"), "{index}");
    }

    /// `text` with the key at `path` set to `value`, checked to parse as TOML.
    fn edited(text: &str, path: &[&str], value: toml_edit::Value) -> String {
        let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
        set_key(&mut doc, path, value).unwrap();
        let out = doc.to_string();
        if let Err(e) = toml::from_str::<toml::Table>(&out) {
            panic!("{path:?} gives a file that does not parse: {e}\n{out}");
        }
        out
    }

    #[test]
    fn edits_of_files_in_every_toml_style_change_only_the_value_and_keep_every_other_byte() {
        let commented = "# acme's file\nname = \"acme\" # the name\n\ntier = \"small\"   # cheap, for now\n[quota] # what it may use\ncpu = \"4\" # cores\nmemory = \"8Gi\"\t# memory\n# the end\n";
        let inline = "name = \"acme\"\ndatabase = { replicas = 1, storage = \"10Gi\", resources = { cpu = \"1\" } } # db\nquota = {cpu=\"4\"}\n";
        let dotted = "name = \"acme\"\ndatabase.replicas = 1 # replicas\ndatabase.resources.cpu = \"1\"\n\n[quota]\ncpu = \"4\"\n";
        let quoted = "\"name\" = \"acme\"\n[ \"quota\" ]\n\"cpu\" = \"4\"\n'memory' = '8Gi'\n[\"database\".'resources']\n\"cpu\" = \"1\"\n";
        let multiline = "name = \"acme\"\ndisplay_name = \"\"\"\nAcme\ncpu = \"4\"\n[quota]\n\"\"\"\nnotes = '''\n[database]\nreplicas = 9\n'''\n\n[quota]\ncpu = \"4\" # after the strings\n";
        let arrays = "name = \"acme\"\n\n[[members]]\nname = \"ann\" # first\nrole = \"admin\"\n\n[quota]\ncpu = \"4\"\n\n# more members\n[[members]]\nname = \"bob\"\nrole = \"viewer\"\n";
        let no_newline = "name = \"acme\"\n[quota]\ncpu = \"4\"";
        let list = |v: &[&str]| toml_edit::Value::Array(v.iter().copied().collect());
        #[rustfmt::skip]
        let cases: Vec<(&str, &[&str], toml_edit::Value, String)> = vec![
            // Values that are there: only their text changes, comments and spacing stay.
            (commented, &["quota", "cpu"], "8".into(), commented.replace("cpu = \"4\"", "cpu = \"8\"")),
            (commented, &["tier"], "large".into(), commented.replace("\"small\"", "\"large\"")),
            (inline, &["database", "replicas"], 3i64.into(), inline.replace("replicas = 1", "replicas = 3")),
            (inline, &["database", "resources", "cpu"], "2".into(), inline.replace("cpu = \"1\"", "cpu = \"2\"")),
            (inline, &["quota", "cpu"], "8".into(), inline.replace("{cpu=\"4\"}", "{cpu=\"8\"}")),
            (dotted, &["database", "replicas"], 3i64.into(), dotted.replace("replicas = 1", "replicas = 3")),
            (dotted, &["database", "resources", "cpu"], "2".into(), dotted.replace("cpu = \"1\"", "cpu = \"2\"")),
            (quoted, &["quota", "cpu"], "8".into(), quoted.replace("\"cpu\" = \"4\"", "\"cpu\" = \"8\"")),
            (quoted, &["quota", "memory"], "16Gi".into(), quoted.replace("'memory' = '8Gi'", "'memory' = \"16Gi\"")),
            (quoted, &["database", "resources", "cpu"], "2".into(), quoted.replace("\"cpu\" = \"1\"", "\"cpu\" = \"2\"")),
            (multiline, &["quota", "cpu"], "8".into(), multiline.replace("cpu = \"4\" # after", "cpu = \"8\" # after")),
            (arrays, &["quota", "cpu"], "8".into(), arrays.replace("cpu = \"4\"", "cpu = \"8\"")),
            // Keys that are not there yet: after the last key of their table, written like it.
            (commented, &["quota", "pods"], 20i64.into(), commented.replace("# memory\n", "# memory\npods = 20\n")),
            (inline, &["database", "storage_class"], "fast".into(), inline.replace("cpu = \"1\" } }", "cpu = \"1\" }, storage_class = \"fast\" }")),
            (inline, &["database", "resources", "memory"], "4Gi".into(), inline.replace("cpu = \"1\" }", "cpu = \"1\", memory = \"4Gi\" }")),
            (inline, &["quota", "memory"], "8Gi".into(), inline.replace("{cpu=\"4\"}", "{cpu=\"4\",memory=\"8Gi\"}")),
            (dotted, &["database", "storage"], "10Gi".into(), dotted.replace("cpu = \"1\"\n", "cpu = \"1\"\ndatabase.storage = \"10Gi\"\n")),
            (dotted, &["database", "resources", "memory"], "4Gi".into(), dotted.replace("cpu = \"1\"\n", "cpu = \"1\"\ndatabase.resources.memory = \"4Gi\"\n")),
            (quoted, &["quota", "pods"], 20i64.into(), quoted.replace("'8Gi'\n", "'8Gi'\npods = 20\n")),
            (multiline, &["quota", "memory"], "8Gi".into(), format!("{multiline}memory = \"8Gi\"\n")),
            (arrays, &["quota", "memory"], "8Gi".into(), arrays.replace("cpu = \"4\"\n", "cpu = \"4\"\nmemory = \"8Gi\"\n")),
            (arrays, &["tier"], "small".into(), arrays.replace("name = \"acme\"\n", "name = \"acme\"\ntier = \"small\"\n")),
            (no_newline, &["quota", "memory"], "8Gi".into(), format!("{no_newline}\nmemory = \"8Gi\"\n")),
            // In a table that is not there yet: a new table at the end, its parents implicit.
            // (The comment that ends the file stays at its end.)
            (commented, &["database", "resources", "cpu"], "2".into(), commented.replace("# the end\n", "\n[database.resources]\ncpu = \"2\"\n# the end\n")),
            (multiline, &["database", "replicas"], 2i64.into(), format!("{multiline}\n[database]\nreplicas = 2\n")),
            ("name = \"acme\" # only keys\n", &["database", "replicas"], 2i64.into(), "name = \"acme\" # only keys\n\n[database]\nreplicas = 2\n".into()),
            (arrays, &["network", "allow_from"], list(&["ops", "web"]), format!("{arrays}\n[network]\nallow_from = [\"ops\", \"web\"]\n")),
            (inline, &["database", "extra", "x"], "y".into(), inline.replace("cpu = \"1\" } }", "cpu = \"1\" }, extra = { x = \"y\" } }")),
        ];
        for (text, path, value, want) in cases {
            let got = edited(text, path, value);
            assert_eq!(got, want, "{path:?} in\n{text}");
        }
    }

    #[test]
    fn members_schedules_and_restores_are_added_to_lists_written_inline() {
        let block = "[[members]]\nname = \"bob\"\nrole = \"viewer\"\n";
        for (text, want) in [
            (
                "name = \"acme\" # c\nmembers = [{ name = \"ann\", role = \"admin\" }] # team\n",
                "name = \"acme\" # c\nmembers = [{ name = \"ann\", role = \"admin\" }, { name = \"bob\", role = \"viewer\" }] # team\n",
            ),
            (
                "members = [\n  { name = \"ann\", role = \"admin\" },\n  { name = \"cy\", role = \"editor\" },\n]\n",
                "members = [\n  { name = \"ann\", role = \"admin\" },\n  { name = \"cy\", role = \"editor\" },\n  { name = \"bob\", role = \"viewer\" },\n]\n",
            ),
            (
                "members = []\n",
                "members = [{ name = \"bob\", role = \"viewer\" }]\n",
            ),
            // Written as tables (or not at all): after a blank line.
            (
                "name = \"acme\"\n\n[[members]]\nname = \"ann\"\nrole = \"admin\"\n",
                "name = \"acme\"\n\n[[members]]\nname = \"ann\"\nrole = \"admin\"\n\n[[members]]\nname = \"bob\"\nrole = \"viewer\"\n",
            ),
            (
                "name = \"acme\"\n",
                "name = \"acme\"\n\n[[members]]\nname = \"bob\"\nrole = \"viewer\"\n",
            ),
        ] {
            let got = add_entry(text, "members", block);
            assert_eq!(got, want, "{text}");
            let t: toml::Table = toml::from_str(&got).unwrap();
            assert_eq!(
                t["members"].as_array().unwrap().last().unwrap()["name"].as_str(),
                Some("bob")
            );
        }

        // Through the form, on a backups file that lists its schedules inline.
        let mut base = examples();
        let f = base
            .backups
            .iter_mut()
            .find(|f| f.path == "backups/acme.toml")
            .unwrap();
        let text: toml::Table = toml::from_str(&f.text).unwrap();
        let tenant = text["tenant"].as_str().unwrap().to_string();
        let inline = format!(
            "tenant = {}\nschedules = [{{ name = \"old\", cron = \"0 3 * * *\", location = \"archive\" }}]\n",
            lit(&tenant)
        );
        f.text = inline.as_str().into();
        let v = pairs(&[
            ("tenant", &tenant),
            ("name", "weekly"),
            ("cron", "0 4 * * 0"),
            ("location", "archive"),
        ]);
        let built = build_for(Kind::Schedule, &v, &base).unwrap();
        assert_eq!(
            built.files[0].text,
            inline.replace(
                "\"archive\" }]",
                "\"archive\" }, { name = \"weekly\", cron = \"0 4 * * 0\", location = \"archive\" }]"
            )
        );
    }

    #[test]
    fn edits_that_cannot_be_made_name_the_file_and_key_and_change_nothing() {
        #[rustfmt::skip]
        let cases: [(&str, &[&str], &str); 5] = [
            ("database = 1\n", &["database", "replicas"], "cannot set `database.replicas`: `database` is an integer, not a table"),
            ("[[database]]\nreplicas = 1\n", &["database", "replicas"], "`database` is an array of tables, not a table"),
            ("database = { resources = \"big\" }\n", &["database", "resources", "cpu"], "`database.resources` is a string, not a table"),
            ("[quota]\ncpu = \"4\"\n", &["quota"], "cannot set `quota`: it is a table, not a value"),
            ("database.storage.size = \"1Gi\"\n", &["database", "storage"], "cannot set `database.storage`: it is a table, not a value"),
        ];
        for (text, path, want) in cases {
            let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
            let e = set_key(&mut doc, path, "2".into()).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(e.ends_with("change the file by hand"), "{e}");
            assert_eq!(doc.to_string(), text, "nothing changed");
        }

        // Through a form: the messages name the file, and a file that does not parse is not
        // edited at all.
        let base = examples();
        let ctx = Context::from_tree(&base, Some("acme"));
        let mut v = ctx.prefill(Kind::Resources);
        for (k, val) in &mut v {
            if k == "cpu" {
                *val = "3".into();
            }
        }
        let acme = file_of(&base, "tenants/acme.toml")
            .unwrap()
            .text
            .to_string();
        let with_acme = |text: String| {
            let mut tree = base.clone();
            let f = tree
                .tenants
                .iter_mut()
                .find(|f| f.path == "tenants/acme.toml")
                .unwrap();
            f.text = text.as_str().into();
            tree
        };
        let broken = with_acme(format!("{acme}\n[quota\n"));
        let err = build(Kind::Resources, &v, &broken, &ctx).unwrap_err();
        let line = acme.lines().count() + 2;
        assert_eq!(err.general.len(), 1, "{err:?}");
        assert!(
            err.general[0].starts_with(&format!(
                "cannot change `database.resources.cpu`: tenants/acme.toml:{line} is not valid TOML ("
            )),
            "{err:?}"
        );
        assert!(
            err.general[0].ends_with("); fix it by hand first"),
            "{err:?}"
        );

        let odd = with_acme(acme.replace(
            "resources = { cpu = \"4\", memory = \"16Gi\" }",
            "resources = \"default\"",
        ));
        let err = build(Kind::Resources, &v, &odd, &ctx).unwrap_err();
        assert_eq!(
            err.fields.get("cpu").map(|v| v[0].as_str()),
            Some("tenants/acme.toml: cannot set `database.resources.cpu`: `database.resources` is a string, not a table; change the file by hand"),
            "{err:?}"
        );
    }

    #[test]
    fn create_tenant_writes_the_file_a_person_would_and_it_validates_and_plans() {
        let base = examples();
        let v = pairs(&[
            ("name", "hooli"),
            ("display_name", "Hooli \"XYZ\""),
            ("tier", "small"),
            ("admin", "gavin@hooli.example"),
            ("replicas", "1"),
        ]);
        let built = build_for(Kind::Tenant, &v, &base).unwrap();
        assert_eq!(built.branch, "berth/create-tenant-hooli");
        assert_eq!(built.files[0].path, "tenants/hooli.toml");
        assert_eq!(
            built.files[0].text,
            "#:schema ../../schemas/tenant.schema.json\nname = \"hooli\"\ndisplay_name = 'Hooli \"XYZ\"'\ntier = \"small\"\n\n[[members]]\nname = \"gavin@hooli.example\"\nrole = \"admin\"\n\n[database]\nreplicas = 1\n"
        );
        let checked = check(Kind::Tenant, &built, &base);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        let plan = checked.plan.unwrap();
        assert!(!plan.changes.is_empty());
        assert!(
            plan.changes.iter().all(|c| c.tenant == "hooli"),
            "only the new tenant changes"
        );
    }

    #[test]
    fn schema_lines_of_new_files_resolve_in_the_repository() {
        let base = examples();
        let s = examples_schemas(&base);
        // In this repository: examples/tenants/ -> schemas/ at the root.
        for (dir, r) in [("tenants", &s.tenant), ("backups", &s.backups)] {
            let r = r.as_deref().unwrap();
            assert!(examples_dir().join(dir).join(r).is_file(), "{dir}: {r}");
        }
        assert_eq!(
            s.tenant.as_deref(),
            Some("../../schemas/tenant.schema.json")
        );

        // A copy of the examples as a repository of its own, with `berth schema --write
        // schemas` run at its root: the examples' `../../schemas` does not resolve there.
        let has = |files: &'static [&'static str]| move |p: &str| files.contains(&p);
        let own = Schemas::find(
            &base,
            0,
            &has(&[
                "tenants/../schemas/tenant.schema.json",
                "backups/../schemas/backups.schema.json",
            ]),
        );
        assert_eq!(own.tenant.as_deref(), Some("../schemas/tenant.schema.json"));
        assert_eq!(
            own.backups.as_deref(),
            Some("../schemas/backups.schema.json")
        );
        // No schemas anywhere: where `berth schema --write schemas` at the root puts them.
        let none = Schemas::find(&base, 2, &|_| false);
        assert_eq!(
            none.tenant.as_deref(),
            Some("../../../schemas/tenant.schema.json")
        );
        assert!(none.missing && !own.missing && !s.missing);
        // The reference the repository's files use wins when it resolves, or is a URL.
        let mut tree = base.clone();
        for f in &mut tree.tenants {
            f.text = f
                .text
                .replace("../../schemas/", "https://schemas.example/")
                .into();
        }
        let url = Schemas::find(&tree, 0, &|_| false);
        assert_eq!(
            url.tenant.as_deref(),
            Some("https://schemas.example/tenant.schema.json")
        );
    }

    /// `berth validate`'s message (and help) for `tree`'s first error.
    fn validate_message(tree: &SourceTree) -> String {
        let loaded = load_and_render(tree, &[]);
        let d = loaded
            .load
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .expect("an error");
        format!("{} ({})", d.message, d.help.as_deref().unwrap_or(""))
    }

    #[test]
    fn problems_are_shown_next_to_their_field_with_the_message_of_validate() {
        let base = examples();
        // Form-level: required, choices, existing tenant, bad names.
        let err = build_for(
            Kind::Tenant,
            &pairs(&[("name", "acme"), ("tier", "huge")]),
            &base,
        )
        .unwrap_err();
        assert!(err.fields["name"][0].contains("exists already"), "{err:?}");
        assert!(err.fields["tier"][0].contains("choose one of"), "{err:?}");
        let err = build_for(
            Kind::Tenant,
            &pairs(&[("name", "../x"), ("tier", "small")]),
            &base,
        )
        .unwrap_err();
        assert!(err.fields["name"][0].contains("DNS label"), "{err:?}");
        // Validation: the small tier allows one database replica.
        let v = pairs(&[("name", "hooli"), ("tier", "small"), ("replicas", "3")]);
        let built = build_for(Kind::Tenant, &v, &base).unwrap();
        let checked = check(Kind::Tenant, &built, &base);
        assert!(checked.plan.is_none());
        assert_eq!(
            checked.errors.fields.get("replicas"),
            Some(&vec![validate_message(&apply_files(&base, &built.files))]),
            "{:?}",
            checked.errors
        );
        // Changing a tenant: globex's medium tier allows three.
        let ctx = Context::from_tree(&base, Some("globex"));
        let mut v = ctx.prefill(Kind::Change);
        v.push(("replicas".into(), "9".into()));
        let built = build(Kind::Change, &v, &base, &ctx).unwrap();
        let checked = check(Kind::Change, &built, &base);
        let by_hand = base
            .tenants
            .iter()
            .find(|f| f.path == "tenants/globex.toml")
            .unwrap()
            .text
            .replace("[database]\n", "[database]\nreplicas = 9\n");
        let expected = validate_message(&apply_files(
            &base,
            &[FileChange {
                path: "tenants/globex.toml".into(),
                text: by_hand,
            }],
        ));
        assert!(
            expected.contains("between 1 and 3 (tier `medium`), found 9"),
            "{expected}"
        );
        assert_eq!(checked.errors.fields.get("replicas"), Some(&vec![expected]));
        assert!(checked.errors.general.is_empty(), "{:?}", checked.errors);
        // A bad cron expression.
        let v = pairs(&[
            ("tenant", "globex"),
            ("name", "weekly"),
            ("cron", "0 2 * *"),
            ("location", "archive"),
        ]);
        let built = build_for(Kind::Schedule, &v, &base).unwrap();
        let checked = check(Kind::Schedule, &built, &base);
        assert!(
            checked.errors.fields.contains_key("cron"),
            "{:?}",
            checked.errors
        );
    }

    #[test]
    fn a_tenant_form_starts_from_the_current_values_and_edits_only_what_changed() {
        let base = examples();
        let ctx = Context::from_tree(&base, Some("acme"));
        let v = ctx.prefill(Kind::Change);
        assert_eq!(get(&v, "tier"), Some("large"), "the current tier");
        assert_eq!(get(&v, "cpu"), Some("48"));
        assert_eq!(get(&v, "replicas"), Some("5"));
        assert_eq!(get(&v, "memory"), None, "from the tier");
        let html = form_html(Kind::Change, &ctx, &v, &Errors::default(), "t");
        assert!(html.contains("<option value=\"large\" selected>"), "{html}");
        assert!(html.contains("name=\"cpu\" value=\"48\""), "{html}");
        assert!(html.contains("at most 5 in this tier"), "{html}");
        assert!(
            html.contains("empty: tier large&#39;s 128Gi")
                || html.contains("empty: tier large's 128Gi"),
            "{html}"
        );

        // Unchanged values: nothing to commit.
        let err = build(Kind::Change, &v, &base, &ctx).unwrap_err();
        assert!(err.general[0].contains("nothing to change"), "{err:?}");

        // One value changed, one cleared (back to the tier's): only those lines move.
        let mut v2 = v.clone();
        for (k, val) in &mut v2 {
            match k.as_str() {
                "memory" => {}
                "cpu" => val.clear(),
                "replicas" => *val = "4".into(),
                _ => {}
            }
        }
        let built = build(Kind::Change, &v2, &base, &ctx).unwrap();
        let before = built.before[0].as_deref().unwrap();
        let after = &built.files[0].text;
        assert!(!after.contains("cpu = \"48\""), "{after}");
        assert!(
            after.contains("replicas = 4\nstorage = \"100Gi\""),
            "{after}"
        );
        assert_eq!(
            before.lines().count() - 3,
            after.lines().count(),
            "[quota] and its line go: {after}"
        );
        assert!(after.contains("resources = { cpu = \"4\", memory = \"16Gi\" }"));
        assert!(
            built.message.starts_with(
                "Change tenant acme: quota.cpu back to its default, database.replicas 4"
            ),
            "{}",
            built.message
        );
        assert!(check(Kind::Change, &built, &base).errors.is_empty());
    }

    #[test]
    fn storage_resources_and_network_edit_the_tenant_file() {
        let base = examples();
        let ctx = Context::from_tree(&base, Some("acme"));
        let with = |kind: Kind, k: &str, val: &str| {
            let mut v = ctx.prefill(kind);
            match v.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = val.into(),
                None => v.push((k.into(), val.into())),
            }
            build(kind, &v, &base, &ctx).unwrap()
        };
        assert_eq!(get(&ctx.prefill(Kind::Storage), "size"), Some("100Gi"));
        let built = with(Kind::Storage, "size", "200Gi");
        assert!(built.files[0].text.contains("storage = \"200Gi\""));
        assert!(check(Kind::Storage, &built, &base).errors.is_empty());
        let built = with(Kind::Storage, "storage_class", "fast");
        assert!(
            built.files[0].text.contains("storage_class = \"fast\""),
            "{}",
            built.files[0].text
        );

        assert_eq!(get(&ctx.prefill(Kind::Resources), "memory"), Some("16Gi"));
        let built = with(Kind::Resources, "cpu_limit", "8");
        assert!(
            built.files[0]
                .text
                .contains("resources = { cpu = \"4\", memory = \"16Gi\", cpu_limit = \"8\" }"),
            "{}",
            built.files[0].text
        );
        let checked = check(Kind::Resources, &built, &base);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        assert!(checked
            .plan
            .unwrap()
            .changes
            .iter()
            .any(|c| c.id.kind == "StatefulSet"));
        let built = with(Kind::Resources, "memory", "lots");
        let checked = check(Kind::Resources, &built, &base);
        assert!(
            checked.errors.fields.contains_key("memory"),
            "{:?}",
            checked.errors
        );

        assert_eq!(
            get(&ctx.prefill(Kind::Network), "allow_from"),
            Some("monitoring, tenant:globex")
        );
        let built = with(
            Kind::Network,
            "allow_from",
            "monitoring, tenant:globex, tenant:initech",
        );
        assert!(built.files[0]
            .text
            .contains("allow_from = [\"monitoring\", \"tenant:globex\", \"tenant:initech\"]"));
        let checked = check(Kind::Network, &built, &base);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        let built = with(Kind::Network, "allow_from", "");
        assert!(
            !built.files[0].text.contains("[network]"),
            "{}",
            built.files[0].text
        );
    }

    #[test]
    fn change_member_schedule_and_restore_edit_the_right_files() {
        let base = examples();
        let built = build_for(
            Kind::Member,
            &pairs(&[
                ("tenant", "acme"),
                ("name", "ops"),
                ("kind", "Group"),
                ("role", "viewer"),
            ]),
            &base,
        )
        .unwrap();
        assert!(built.files[0]
            .text
            .ends_with("\n\n[[members]]\nname = \"ops\"\nkind = \"Group\"\nrole = \"viewer\"\n"));
        assert!(check(Kind::Member, &built, &base).errors.is_empty());

        // Removing a member: a choice of the tenant's members.
        let ctx = Context::from_tree(&base, Some("acme"));
        let f = fields(Kind::RemoveMember, &ctx);
        let member = f.iter().find(|f| f.name == "member").unwrap();
        assert_eq!(
            member
                .choices
                .iter()
                .map(|c| c.1.as_str())
                .collect::<Vec<_>>(),
            [
                "alice@acme.example (User, admin)",
                "acme-developers (Group, editor)",
                "reporting (ServiceAccount, viewer)"
            ]
        );
        let built = build_for(
            Kind::RemoveMember,
            &pairs(&[("tenant", "acme"), ("member", "acme-developers")]),
            &base,
        )
        .unwrap();
        let text = &built.files[0].text;
        assert!(!text.contains("acme-developers") && text.contains("alice@acme.example"));
        assert!(
            text.contains("role = \"admin\"\n\n[[members]]\nname = \"reporting\""),
            "{text}"
        );
        let checked = check(Kind::RemoveMember, &built, &base);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        assert!(checked
            .plan
            .unwrap()
            .changes
            .iter()
            .any(|c| c.id.kind == "RoleBinding"));
        let err = build_for(
            Kind::RemoveMember,
            &pairs(&[("tenant", "acme"), ("member", "nobody")]),
            &base,
        )
        .unwrap_err();
        assert!(err.fields["member"][0].contains("choose one of"), "{err:?}");

        // Restores come from one of the tenant's schedules.
        let ctx = Context::from_tree(&base, Some("acme"));
        let f = fields(Kind::Restore, &ctx);
        let from = f.iter().find(|f| f.name == "from_schedule").unwrap();
        assert_eq!(
            from.choices
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>(),
            ["nightly", "hourly"]
        );
        let built = build_for(
            Kind::Restore,
            &pairs(&[
                ("tenant", "acme"),
                ("name", "r2"),
                ("from_schedule", "nightly"),
                ("databases", "orders, billing"),
            ]),
            &base,
        )
        .unwrap();
        assert_eq!(built.files[0].path, "backups/acme.toml");
        assert!(built.files[0]
            .text
            .contains("databases = [\"orders\", \"billing\"]"));
        let checked = check(Kind::Restore, &built, &base);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        let err = build_for(
            Kind::Restore,
            &pairs(&[
                ("tenant", "acme"),
                ("name", "r3"),
                ("from_schedule", "daily"),
            ]),
            &base,
        )
        .unwrap_err();
        assert!(
            err.fields["from_schedule"][0].contains("choose one of: nightly, hourly"),
            "{err:?}"
        );

        // A tenant form without a tenant asks for one first.
        let html = form_html(
            Kind::Storage,
            &Context::from_tree(&base, None),
            &[],
            &Errors::default(),
            "t",
        );
        assert!(
            html.contains("method=\"get\" action=\"/propose/storage\"") && !html.contains("csrf"),
            "{html}"
        );
        let err = build_for(
            Kind::Change,
            &pairs(&[("tenant", "nobody"), ("tier", "small")]),
            &base,
        )
        .unwrap_err();
        assert!(
            err.fields["tenant"]
                .iter()
                .any(|e| e.contains("no file tenants/nobody.toml")),
            "{err:?}"
        );
    }
}
