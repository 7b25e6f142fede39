//! "Propose a change": forms that write the TOML a person would have written, validate the
//! repository with it (the same [`crate::pipeline::load_and_render`] as `berth validate`),
//! plan it offline (the base revision's rendered objects stand in for the clusters), and
//! commit it to a new branch ([`crate::source::propose`]). Problems are shown next to the
//! field they come from.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::html::{escape, get, url_encode};
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
    /// Add a member.
    Member,
    /// Add a backup schedule.
    Schedule,
    /// Request a restore.
    Restore,
}

impl Kind {
    /// Every form, in menu order.
    pub const ALL: [Kind; 5] = [
        Kind::Tenant,
        Kind::Change,
        Kind::Member,
        Kind::Schedule,
        Kind::Restore,
    ];

    /// The path segment (`/propose/<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Change => "change",
            Kind::Member => "member",
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
            Kind::Member => "Add a member",
            Kind::Schedule => "Add a backup schedule",
            Kind::Restore => "Request a restore",
        }
    }

    fn blurb(self) -> &'static str {
        match self {
            Kind::Tenant => "A new tenants/<name>.toml: namespace, quota, database, members.",
            Kind::Change => "Edit a tenant's tier, quota overrides or database replicas.",
            Kind::Member => "Give a user, group or service account a role in a tenant.",
            Kind::Schedule => "A CronJob that exports the tenant's databases.",
            Kind::Restore => "A one-shot Job that imports a backup into the tenant.",
        }
    }
}

/// What the forms offer, read from the base revision.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Tenant names (from tenants/*.toml).
    pub tenants: Vec<String>,
    /// Tier names.
    pub tiers: Vec<String>,
    /// Cluster names.
    pub clusters: Vec<String>,
    /// Backup location names.
    pub locations: Vec<String>,
    /// Backup schedule names by tenant.
    pub schedules: BTreeMap<String, Vec<String>>,
}

fn table_keys(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

impl Context {
    /// The context of a tree (files that do not parse contribute nothing).
    pub fn from_tree(tree: &SourceTree) -> Context {
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
            clusters: table_keys(&platform, "clusters"),
            locations: table_keys(&platform, "backup_locations"),
            schedules,
        }
    }
}

/// A form field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Form name.
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// Choices (a select); empty: free text.
    pub choices: Vec<String>,
    /// Help under the field.
    pub hint: &'static str,
    /// Must be given.
    pub required: bool,
}

fn field(name: &'static str, label: &'static str, required: bool, hint: &'static str) -> Field {
    Field {
        name,
        label,
        choices: Vec::new(),
        hint,
        required,
    }
}

fn select(
    name: &'static str,
    label: &'static str,
    choices: Vec<String>,
    hint: &'static str,
) -> Field {
    Field {
        name,
        label,
        choices,
        hint,
        required: true,
    }
}

fn with_blank(mut v: Vec<String>) -> Vec<String> {
    v.insert(0, String::new());
    v
}

/// The fields of a form.
pub fn fields(kind: Kind, ctx: &Context) -> Vec<Field> {
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
                ..select(
                    "cluster",
                    "cluster",
                    with_blank(ctx.clusters.clone()),
                    "empty: the platform's default cluster",
                )
            },
            field(
                "replicas",
                "database replicas",
                false,
                "empty: the platform default",
            ),
            field(
                "admin",
                "admin (user)",
                false,
                "e-mail or user name given the admin role",
            ),
        ],
        Kind::Change => vec![
            select("tenant", "tenant", ctx.tenants.clone(), ""),
            Field {
                required: false,
                ..select(
                    "tier",
                    "tier",
                    with_blank(ctx.tiers.clone()),
                    "empty: unchanged",
                )
            },
            field("cpu", "quota cpu", false, "e.g. 16; empty: unchanged"),
            field(
                "memory",
                "quota memory",
                false,
                "e.g. 64Gi; empty: unchanged",
            ),
            field(
                "storage",
                "quota storage",
                false,
                "e.g. 500Gi; empty: unchanged",
            ),
            field("pods", "quota pods", false, "empty: unchanged"),
            field("replicas", "database replicas", false, "empty: unchanged"),
        ],
        Kind::Member => vec![
            select("tenant", "tenant", ctx.tenants.clone(), ""),
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
        Kind::Schedule => vec![
            select("tenant", "tenant", ctx.tenants.clone(), ""),
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
            select(
                "tenant",
                "tenant",
                ctx.tenants.clone(),
                "the tenant restored into",
            ),
            field(
                "name",
                "restore name",
                true,
                "runs once, ever: use a new name for each restore",
            ),
            field(
                "from_schedule",
                "from schedule",
                true,
                "the schedule whose backup is restored",
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

    fn at(&mut self, field: &str, msg: impl Into<String>) {
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

/// Sets `key = value` (value already TOML) in `[table]` (`None`: the root) of a TOML text,
/// keeping every other line. Adds the key, or the table, when missing.
pub fn set_key(text: &str, table: Option<&str>, key: &str, value: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut current: Option<String> = None;
    let mut header_at: Option<usize> = None;
    let mut first_header: Option<usize> = None;
    let mut found: Option<usize> = None;
    let key_of = |line: &str| -> Option<String> {
        let t = line.trim_start();
        if t.starts_with('#') || t.starts_with('[') {
            return None;
        }
        let (k, _) = t.split_once('=')?;
        Some(k.trim().trim_matches('"').to_string())
    };
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            first_header.get_or_insert(i);
            let name = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            current = Some(if t.starts_with("[[") {
                format!("{name}[]")
            } else {
                name.to_string()
            });
            if current.as_deref() == table {
                header_at = Some(i);
            }
            continue;
        }
        let Some(k) = key_of(line) else { continue };
        if let (None, Some(tb)) = (&current, table) {
            if k == tb || k.starts_with(&format!("{tb}.")) {
                return Err(format!(
                    "the file sets `{tb}` inline (`{}`); change it by hand",
                    t
                ));
            }
        }
        if current.as_deref() == table && k == key {
            found = Some(i);
        }
    }
    let new_line = format!("{key} = {value}");
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match (found, table, header_at) {
        (Some(i), _, _) => out[i] = new_line,
        (None, Some(_), Some(h)) => out.insert(h + 1, new_line),
        (None, None, _) => {
            // After the last root key, before the first table.
            let end = first_header.unwrap_or(out.len());
            let mut at = end;
            while at > 0 && out[at - 1].trim().is_empty() {
                at -= 1;
            }
            out.insert(at, new_line);
        }
        (None, Some(tb), None) => {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{tb}]"));
            out.push(new_line);
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    if let Err(e) = toml::from_str::<toml::Table>(&s) {
        return Err(format!(
            "the edited file is not valid TOML: {}",
            e.message()
        ));
    }
    Ok(s)
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

fn value<'a>(values: &'a [(String, String)], k: &str) -> &'a str {
    get(values, k).unwrap_or("").trim()
}

/// Builds the files of a proposal from the form `values` against `base`, or the problems with
/// the values themselves (validation of the result comes after, in [`check`]).
pub fn build(kind: Kind, values: &[(String, String)], base: &SourceTree) -> Result<Built, Errors> {
    let ctx = Context::from_tree(base);
    let mut errors = Errors::default();
    for f in fields(kind, &ctx) {
        if f.required && value(values, f.name).is_empty() {
            errors.at(f.name, "required");
        } else if !f.choices.is_empty()
            && !value(values, f.name).is_empty()
            && !f.choices.iter().any(|c| c == value(values, f.name))
        {
            errors.at(f.name, format!("choose one of: {}", f.choices.join(", ")));
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
            let mut t = format!(
                "#:schema ../../schemas/tenant.schema.json\nname = {}\n",
                lit(&tenant)
            );
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
        Kind::Change => {
            let path = format!("tenants/{tenant}.toml");
            let mut text = file_of(base, &path).map(|f| f.text.to_string());
            if text.is_none() && !tenant.is_empty() {
                errors.at("tenant", format!("no file {path}"));
            }
            let mut what = Vec::new();
            let mut edit =
                |errors: &mut Errors, field: &str, table: Option<&str>, key: &str, v: String| {
                    if let Some(t) = &text {
                        match set_key(t, table, key, &v) {
                            Ok(n) => text = Some(n),
                            Err(e) => errors.at(field, e),
                        }
                    }
                };
            if !value(values, "tier").is_empty() {
                edit(
                    &mut errors,
                    "tier",
                    None,
                    "tier",
                    lit(value(values, "tier")),
                );
                what.push(format!("tier {}", value(values, "tier")));
            }
            for k in ["cpu", "memory", "storage"] {
                if !value(values, k).is_empty() {
                    edit(&mut errors, k, Some("quota"), k, lit(value(values, k)));
                    what.push(format!("quota {k} {}", value(values, k)));
                }
            }
            if let Some(p) = number(&mut errors, "pods") {
                edit(&mut errors, "pods", Some("quota"), "pods", p.clone());
                what.push(format!("quota pods {p}"));
            }
            if let Some(r) = number(&mut errors, "replicas") {
                edit(
                    &mut errors,
                    "replicas",
                    Some("database"),
                    "replicas",
                    r.clone(),
                );
                what.push(format!("replicas {r}"));
            }
            if what.is_empty() && errors.is_empty() {
                errors
                    .general
                    .push("nothing to change: fill in at least one field".into());
            }
            if let Some(t) = text {
                files.push((path, t));
            }
            message = format!("Change tenant {tenant}: {}", what.join(", "));
            branch_default = format!("berth/change-{tenant}");
        }
        Kind::Member => {
            let path = format!("tenants/{tenant}.toml");
            let text = file_of(base, &path).map(|f| f.text.to_string());
            match text {
                Some(t) => {
                    let mut block = format!("[[members]]\nname = {}\n", lit(value(values, "name")));
                    if value(values, "kind") != "User" {
                        let _ = writeln!(block, "kind = {}", lit(value(values, "kind")));
                    }
                    let _ = writeln!(block, "role = {}", lit(value(values, "role")));
                    files.push((path, append(&t, &block)));
                }
                None if !tenant.is_empty() => errors.at("tenant", format!("no file {path}")),
                None => {}
            }
            message = format!(
                "Add {} {} to tenant {tenant} as {}",
                value(values, "kind"),
                value(values, "name"),
                value(values, "role")
            );
            branch_default = format!("berth/member-{tenant}");
        }
        Kind::Schedule | Kind::Restore => {
            if !tenant.is_empty() && !ctx.tenants.contains(&tenant) {
                errors.at("tenant", format!("no tenant `{tenant}`"));
            }
            let path = backups_path(base, &tenant);
            let before = file_of(base, &path)
                .map(|f| f.text.to_string())
                .unwrap_or_else(|| {
                    format!(
                        "#:schema ../../schemas/backups.schema.json\ntenant = {}\n",
                        lit(&tenant)
                    )
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
            files.push((path, append(&before, &block)));
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

/// The key a diagnostic's line sets (`replicas` of `replicas = 9`), if any.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (k, _) = line.split_once('=')?;
    let k = k.trim().trim_matches('"');
    (!k.is_empty() && !k.starts_with('#')).then(|| k.rsplit('.').next().unwrap_or(k).to_string())
}

/// Which form field a key of the written TOML comes from.
fn field_of_key(kind: Kind, key: &str) -> Option<&'static str> {
    let f = match (kind, key) {
        (Kind::Tenant, "name") => "name",
        (Kind::Tenant, "display_name") => "display_name",
        (_, "tier") => "tier",
        (Kind::Tenant, "cluster") => "cluster",
        (Kind::Tenant | Kind::Change, "replicas") => "replicas",
        (Kind::Change, "cpu" | "memory" | "storage" | "pods") => match key {
            "cpu" => "cpu",
            "memory" => "memory",
            "storage" => "storage",
            _ => "pods",
        },
        (Kind::Tenant, "role") => "admin",
        (Kind::Member, "name") => "name",
        (Kind::Member, "kind") => "kind",
        (Kind::Member, "role") => "role",
        (Kind::Schedule | Kind::Restore, "name") => "name",
        (Kind::Schedule, "cron") => "cron",
        (Kind::Schedule, "timezone") => "timezone",
        (Kind::Schedule, "location") => "location",
        (Kind::Schedule, "keep_last" | "retention") => "keep_last",
        (Kind::Restore, "from_schedule") => "from_schedule",
        (Kind::Restore, "point_in_time") => "point_in_time",
        (Kind::Restore, "databases") => "databases",
        (_, "tenant") => "tenant",
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

/// Validates `base` with the proposal's files (every diagnostic of `berth validate`) and plans
/// it against the base revision's rendered objects.
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
            // Only lines the form wrote: compare with the file before.
            let span = l.span.clone()?;
            let key = key_at(text, span.start)?;
            field_of_key(kind, &key)
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

/// A unified diff of a file's text before and after, escaped and coloured.
pub fn file_diff_html(path: &str, before: Option<&str>, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before.unwrap_or(""), after);
    let mut out = format!(
        "<h3><code>{}</code>{}</h3><pre class=\"diff\">",
        escape(path),
        if before.is_none() { " (new file)" } else { "" }
    );
    for line in diff
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(false)
        .to_string()
        .lines()
    {
        let class = match line.chars().next() {
            Some('+') => "add",
            Some('-') => "del",
            Some('@') => "ctx",
            _ => "",
        };
        let _ = writeln!(out, "<span class=\"{class}\">{}</span>", escape(line));
    }
    out.push_str("</pre>");
    out
}

/// The form, with values, errors and the CSRF token.
pub fn form_html(
    kind: Kind,
    ctx: &Context,
    values: &[(String, String)],
    errors: &Errors,
    csrf: &str,
) -> String {
    let mut b = String::new();
    if !errors.general.is_empty() {
        b.push_str(
            "<div class=\"notice bad\"><strong>The configuration would not be valid:</strong><ul>",
        );
        for e in &errors.general {
            let _ = write!(b, "<li>{}</li>", escape(e));
        }
        b.push_str("</ul></div>");
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/propose/{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        kind.slug(),
        escape(csrf)
    );
    for f in fields(kind, ctx) {
        let v = value(values, f.name);
        let id = format!("f-{}", f.name);
        let _ = write!(
            b,
            "<div class=\"field\"><label for=\"{id}\">{}{}</label>",
            escape(f.label),
            if f.required { " *" } else { "" }
        );
        if f.choices.is_empty() {
            let _ = write!(
                b,
                "<input id=\"{id}\" name=\"{}\" value=\"{}\"{}>",
                f.name,
                escape(v),
                if f.required { " required" } else { "" }
            );
        } else {
            let _ = write!(b, "<select id=\"{id}\" name=\"{}\">", f.name);
            for c in &f.choices {
                let sel = if c == v { " selected" } else { "" };
                let _ = write!(
                    b,
                    "<option value=\"{c}\"{sel}>{}</option>",
                    if c.is_empty() {
                        "(unchanged / default)".to_string()
                    } else {
                        escape(c)
                    },
                    c = escape(c)
                );
            }
            b.push_str("</select>");
        }
        if !f.hint.is_empty() {
            let _ = write!(b, "<div class=\"hint\">{}</div>", escape(f.hint));
        }
        for e in errors.fields.get(f.name).into_iter().flatten() {
            let _ = write!(
                b,
                "<div class=\"err\" data-field=\"{}\">{}</div>",
                f.name,
                escape(e)
            );
        }
        b.push_str("</div>");
    }
    b.push_str("<p><button type=\"submit\" name=\"action\" value=\"preview\" class=\"secondary\">Preview</button> <button type=\"submit\" name=\"action\" value=\"commit\">Commit to a new branch</button></p></form>");
    b
}

/// The index of the forms.
pub fn index_html(enabled: Result<(), String>) -> String {
    let mut b = String::from("<h1>Propose a change</h1><p>Changes are never made to a cluster from here: each form writes the TOML you would have written, checks it with the same rules as <code>berth validate</code>, shows the plan it would cause, and commits it to a new branch of the config repository for review.</p>");
    if let Err(why) = &enabled {
        let _ = write!(
            b,
            "<div class=\"notice\"><strong>Proposals are disabled.</strong> {}</div>",
            escape(why)
        );
    }
    b.push_str("<div class=\"forms\">");
    for k in Kind::ALL {
        let _ = write!(
            b,
            "<div class=\"card\"><h3><a href=\"/propose/{}\">{}</a></h3><p class=\"meta\">{}</p></div>",
            url_encode(k.slug()),
            escape(k.title()),
            escape(k.blurb())
        );
    }
    b.push_str("</div>");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn examples() -> SourceTree {
        crate::source::read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap()
    }

    #[test]
    fn set_key_replaces_adds_and_refuses_inline_tables() {
        let t = "name = \"a\"\ntier = \"small\"\n\n[quota]\ncpu = \"4\"\n\n[[members]]\nname = \"x\"\nrole = \"admin\"\n";
        let out = set_key(t, None, "tier", "\"large\"").unwrap();
        assert!(
            out.contains("tier = \"large\"\n") && !out.contains("small"),
            "{out}"
        );
        let out = set_key(t, Some("quota"), "memory", "\"8Gi\"").unwrap();
        assert!(
            out.contains("[quota]\nmemory = \"8Gi\"\ncpu = \"4\""),
            "{out}"
        );
        let out = set_key(t, Some("database"), "replicas", "3").unwrap();
        assert!(
            out.ends_with("role = \"admin\"\n\n[database]\nreplicas = 3\n"),
            "{out}"
        );
        let out = set_key("name = \"a\"\n\n[quota]\n", None, "cluster", "\"b\"").unwrap();
        assert!(
            out.starts_with("name = \"a\"\ncluster = \"b\"\n\n[quota]"),
            "{out}"
        );
        let inline = "name = \"a\"\ndatabase = { replicas = 1 }\n";
        assert!(set_key(inline, Some("database"), "replicas", "3")
            .unwrap_err()
            .contains("inline"));
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
        let built = build(Kind::Tenant, &v, &base).unwrap();
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
    fn problems_are_shown_next_to_their_field() {
        let base = examples();
        // Form-level: required, choices, existing tenant, bad names.
        let err = build(
            Kind::Tenant,
            &pairs(&[("name", "acme"), ("tier", "huge")]),
            &base,
        )
        .unwrap_err();
        assert!(err.fields["name"][0].contains("exists already"), "{err:?}");
        assert!(err.fields["tier"][0].contains("choose one of"), "{err:?}");
        let err = build(
            Kind::Tenant,
            &pairs(&[("name", "../x"), ("tier", "small")]),
            &base,
        )
        .unwrap_err();
        assert!(err.fields["name"][0].contains("DNS label"), "{err:?}");
        // Validation: the small tier allows one database replica.
        let v = pairs(&[("name", "hooli"), ("tier", "small"), ("replicas", "3")]);
        let built = build(Kind::Tenant, &v, &base).unwrap();
        let checked = check(Kind::Tenant, &built, &base);
        assert!(checked.plan.is_none());
        assert!(
            checked
                .errors
                .fields
                .get("replicas")
                .is_some_and(|e| !e.is_empty()),
            "{:?}",
            checked.errors
        );
        // A bad cron expression.
        let v = pairs(&[
            ("tenant", "globex"),
            ("name", "weekly"),
            ("cron", "0 2 * *"),
            ("location", "archive"),
        ]);
        let built = build(Kind::Schedule, &v, &base).unwrap();
        let checked = check(Kind::Schedule, &built, &base);
        assert!(
            checked.errors.fields.contains_key("cron"),
            "{:?}",
            checked.errors
        );
    }

    #[test]
    fn change_member_schedule_and_restore_edit_the_right_files() {
        let base = examples();
        let built = build(
            Kind::Change,
            &pairs(&[("tenant", "globex"), ("replicas", "2"), ("memory", "12Gi")]),
            &base,
        )
        .unwrap();
        assert_eq!(built.files[0].path, "tenants/globex.toml");
        assert!(built.files[0].text.contains("replicas = 2"));
        let checked = check(Kind::Change, &built, &base);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        let plan = checked.plan.unwrap();
        assert!(
            plan.changes.iter().any(|c| c.id.kind == "StatefulSet"),
            "{plan:?}"
        );

        let built = build(
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

        let built = build(
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

        let err = build(Kind::Change, &pairs(&[("tenant", "acme")]), &base).unwrap_err();
        assert!(err.general[0].contains("nothing to change"));
    }
}
