//! Semantic checks across all files, and resolution into a [`Config`].
//!
//! Structural problems (syntax, unknown keys, types) are found by `load`; this module checks
//! what only the meaning reveals: names, references, quantities, limits, schedules. Every
//! problem is collected; a [`Config`] is produced only when there is no error.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;

use super::load::{child, index, load, FileKind, Loaded};
use super::model::{
    BackupSchedule, Cluster, ClusterTarget, Config, DashboardModel, Database, Location, Origin,
    PolicyModel, Quota, RestoreRequest, RetentionModel, Sourced, Tenant, TenantMember,
};
use super::names::{
    dns_label_problem, dns_subdomain_problem, is_reserved_namespace, label_key_problem,
    label_value_problem, sql_identifier_problem, suggest_label,
};
use super::types::{BackupFile, BackupKind, LocationKind, PlatformFile, SubjectKind, TenantFile};
use crate::diag::{did_you_mean, Diagnostic, SourceMap};
use crate::source::SourceTree;
use crate::values::cron::parse_cron;
use crate::values::duration::parse_duration;
use crate::values::time::parse_rfc3339;
use crate::values::{ParsedQuantity, Quantity};

/// The resolved Pod Security settings: `restricted` runs pods as user 1000 unless
/// `run_as_user` says otherwise.
fn pod_security_model(p: &super::types::PlatformSection) -> super::model::PodSecurityModel {
    use super::types::PodSecurityLevel;
    super::model::PodSecurityModel {
        level: p.pod_security.map(PodSecurityLevel::as_str),
        run_as_user: p
            .run_as_user
            .or((p.pod_security == Some(PodSecurityLevel::Restricted)).then_some(1000)),
    }
}

/// Longest name of a CronJob: its Jobs get an 11-character suffix and must stay within 63.
const MAX_CRONJOB_NAME: usize = 52;
/// Name of the implicit cluster when platform.toml declares none.
pub const IMPLICIT_CLUSTER: &str = "local";

/// What loading a repository produced.
#[derive(Debug, Clone)]
pub struct LoadOutput {
    /// The configuration, when there is no error.
    pub config: Option<Config>,
    /// Every problem found, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file, for printing diagnostics.
    pub sources: SourceMap,
    /// Numbers of files read.
    pub counts: Counts,
}

/// Numbers of files read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// tenants/*.toml
    pub tenants: usize,
    /// backups/*.toml
    pub backups: usize,
    /// templates/*
    pub templates: usize,
}

impl LoadOutput {
    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Loads, checks and resolves a whole repository.
pub fn load_config(tree: &SourceTree) -> LoadOutput {
    let mut diags = tree.diagnostics.clone();
    let platform = tree
        .platform
        .as_ref()
        .and_then(|f| load::<PlatformFile>(f, FileKind::Platform, &mut diags));
    let tenant_files: Vec<(Option<Loaded<TenantFile>>, Vec<Diagnostic>)> = tree
        .tenants
        .par_iter()
        .map(|f| {
            let mut d = Vec::new();
            let l = load::<TenantFile>(f, FileKind::Tenant, &mut d);
            (l, d)
        })
        .collect();
    let backup_files: Vec<(Option<Loaded<BackupFile>>, Vec<Diagnostic>)> = tree
        .backups
        .par_iter()
        .map(|f| {
            let mut d = Vec::new();
            let l = load::<BackupFile>(f, FileKind::Backups, &mut d);
            (l, d)
        })
        .collect();

    let ctx = platform.as_ref().map(|p| PlatformCtx::new(p, &mut diags));

    let mut tenants_loaded = Vec::new();
    for (l, d) in tenant_files {
        diags.extend(d);
        tenants_loaded.extend(l);
    }
    let mut backups_loaded = Vec::new();
    for (l, d) in backup_files {
        diags.extend(d);
        backups_loaded.extend(l);
    }

    // Tenant names are needed to check references between tenants (allow_from, restores).
    // Files that failed to load still name a tenant: their file name. Counting them avoids
    // a cascade of "unknown tenant" errors caused by one broken file.
    let tenant_names: BTreeSet<&str> = tenants_loaded
        .iter()
        .map(|t| t.value.name.as_str())
        .chain(tree.tenants.iter().map(|f| file_stem(&f.path)))
        .collect();

    let checked: Vec<(Option<Tenant>, Vec<Diagnostic>)> = tenants_loaded
        .par_iter()
        .map(|t| check_tenant(ctx.as_ref(), t, &tenant_names))
        .collect();
    let mut tenants = Vec::new();
    for (t, d) in checked {
        diags.extend(d);
        tenants.extend(t);
    }
    check_unique_tenants(&tenants_loaded, ctx.as_ref(), &mut diags);

    // Backups attach to tenants.
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, t) in tenants.iter().enumerate() {
        by_name.insert(t.name.clone(), i);
    }
    let mut seen_backup_tenant: HashMap<String, String> = HashMap::new();
    let mut restores_by_target: Vec<(String, RestoreRequest)> = Vec::new();
    for b in &backups_loaded {
        if let Some(first) = seen_backup_tenant.get(&b.value.tenant) {
            diags.push(
                Diagnostic::error(format!(
                    "backups of tenant `{}` are declared twice",
                    b.value.tenant
                ))
                .at(&b.file.path, b.spans.value("tenant"), "second declaration")
                .also(first, None, "first declared here")
                .help("keep one backups file per tenant, named backups/<tenant>.toml"),
            );
            continue;
        }
        seen_backup_tenant.insert(b.value.tenant.clone(), b.file.path.clone());
        let tenant = by_name.get(&b.value.tenant).map(|&i| &tenants[i]);
        let (schedules, restores) =
            check_backups(ctx.as_ref(), b, tenant, &tenant_names, &mut diags);
        if let Some(&i) = by_name.get(&b.value.tenant) {
            tenants[i].schedules = schedules;
            tenants[i].backup_file = Some(b.file.path.clone());
        }
        restores_by_target.extend(restores);
    }
    for (target, r) in restores_by_target {
        if let Some(&i) = by_name.get(&target) {
            tenants[i].restores.push(r);
        }
    }

    if let Some(p) = &platform {
        for (i, name) in p.value.policy.allow_destroy.iter().enumerate() {
            if by_name.contains_key(name) {
                diags.push(
                    Diagnostic::warning(format!(
                        "`policy.allow_destroy` names `{name}`, which the configuration still has"
                    ))
                    .at(
                        &p.file.path,
                        p.spans.value(&format!("policy.allow_destroy[{i}]")),
                        "still a tenant",
                    )
                    .help(format!(
                        "removing tenants/{name}.toml now destroys the tenant, protected or not; \
                         name it only in the change that removes it, and remove the name once it \
                         is gone"
                    )),
                );
            }
        }
    }
    sort_diagnostics(&mut diags);
    let errors = diags.iter().any(Diagnostic::is_error);
    let config = match (errors, platform.as_ref(), ctx) {
        (false, Some(p), Some(ctx)) => {
            tenants.sort_by(|a, b| a.name.cmp(&b.name));
            Some(Config {
                platform_name: p.value.platform.name.clone(),
                revision: tree.revision.clone(),
                clusters: ctx.clusters.clone(),
                tenants,
                common_labels: p.value.platform.labels.clone(),
                policy: PolicyModel {
                    prune: p.value.policy.prune,
                    drift: p.value.policy.drift,
                    max_deletions: p.value.policy.max_deletions,
                    apply_concurrency: p.value.policy.apply_concurrency,
                    allow_destroy: p.value.policy.allow_destroy.clone(),
                },
                database_engine: p.value.database.engine.clone(),
                dashboard: DashboardModel {
                    prometheus_url: p
                        .value
                        .dashboard
                        .prometheus_url
                        .as_deref()
                        .map(|u| u.trim_end_matches('/').to_string()),
                },
                pod_security: pod_security_model(&p.value.platform),
            })
        }
        _ => None,
    };
    LoadOutput {
        config,
        diagnostics: diags,
        sources: tree.sources.clone(),
        counts: Counts {
            tenants: tree.tenants.len(),
            backups: tree.backups.len(),
            templates: tree.templates.len(),
        },
    }
}

fn sort_diagnostics(diags: &mut [Diagnostic]) {
    fn rank(file: Option<&str>) -> u8 {
        match file {
            None => 0,
            Some("platform.toml") => 1,
            Some(f) if f.starts_with("tenants/") => 2,
            Some(f) if f.starts_with("backups/") => 3,
            Some(f) if f.starts_with("templates/") => 4,
            Some(_) => 5,
        }
    }
    diags.sort_by(|a, b| {
        let fa = a.file();
        let fb = b.file();
        let sa = a
            .primary
            .as_ref()
            .and_then(|l| l.span.clone())
            .map_or(0, |s| s.start);
        let sb = b
            .primary
            .as_ref()
            .and_then(|l| l.span.clone())
            .map_or(0, |s| s.start);
        (rank(fa), fa, sa).cmp(&(rank(fb), fb, sb))
    });
}

/// What tenants and backups need from platform.toml.
struct PlatformCtx<'a> {
    file: &'a Loaded<PlatformFile>,
    clusters: BTreeMap<String, Cluster>,
    default_cluster: Option<String>,
    quantities_ok: bool,
}

impl<'a> PlatformCtx<'a> {
    fn new(p: &'a Loaded<PlatformFile>, diags: &mut Vec<Diagnostic>) -> Self {
        let f = &p.file.path;
        let v = &p.value;
        let start = diags.len();
        let mut clusters = BTreeMap::new();
        if v.clusters.is_empty() {
            clusters.insert(
                IMPLICIT_CLUSTER.to_string(),
                Cluster {
                    name: IMPLICIT_CLUSTER.to_string(),
                    target: ClusterTarget::Embedded,
                },
            );
        }
        for (name, c) in &v.clusters {
            let path = child("clusters", name);
            if let Some(problem) = dns_label_problem(name, 63) {
                diags.push(
                    Diagnostic::error(format!("cluster name `{name}` {problem}"))
                        .at(f, p.spans.key(&path), "not a DNS label")
                        .maybe_help(suggest_label(name, 63).map(|s| format!("call it `{s}`"))),
                );
            }
            let target = match (&c.context, c.in_cluster) {
                (Some(_), true) => {
                    diags.push(
                        Diagnostic::error(format!(
                            "cluster `{name}` sets both `context` and `in_cluster`"
                        ))
                        .at(f, p.spans.key(&child(&path, "in_cluster")), "conflicts with `context`")
                        .help("use `context` to reach the cluster through a kubeconfig, or `in_cluster = true` when berth runs inside it, not both"),
                    );
                    ClusterTarget::Embedded
                }
                (Some(ctx), false) => ClusterTarget::Kubeconfig {
                    context: ctx.clone(),
                    path: c.kubeconfig.clone(),
                },
                (None, true) => ClusterTarget::InCluster,
                (None, false) => {
                    if c.kubeconfig.is_some() {
                        diags.push(
                            Diagnostic::error(format!(
                                "cluster `{name}` names a kubeconfig but no context"
                            ))
                            .at(f, p.spans.key(&child(&path, "kubeconfig")), "")
                            .help("add `context = \"<context name>\"`; without a context the cluster is the embedded local store"),
                        );
                    }
                    ClusterTarget::Embedded
                }
            };
            clusters.insert(
                name.clone(),
                Cluster {
                    name: name.clone(),
                    target,
                },
            );
        }
        let default_cluster = match &v.platform.default_cluster {
            Some(d) if clusters.contains_key(d) => Some(d.clone()),
            Some(d) => {
                diags.push(unknown_ref(
                    f,
                    p.spans.value("platform.default_cluster"),
                    "cluster",
                    d,
                    clusters.keys().map(String::as_str),
                    "declare it under [clusters.<name>]",
                ));
                None
            }
            None if clusters.len() == 1 => clusters.keys().next().cloned(),
            None => None,
        };
        let prefix = &v.platform.namespace_prefix;
        if !prefix.is_empty()
            && (prefix
                .chars()
                .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                || prefix.starts_with('-'))
        {
            diags.push(
                Diagnostic::error(format!(
                    "`platform.namespace_prefix` \"{prefix}\" cannot start a namespace name"
                ))
                .at(f, p.spans.value("platform.namespace_prefix"), "")
                .help("use lowercase letters, digits and `-`, starting with a letter, e.g. \"tenant-\""),
            );
        }
        if v.platform.run_as_user == Some(0) {
            diags.push(
                Diagnostic::error("`platform.run_as_user` is 0, the root user")
                    .at(f, p.spans.value("platform.run_as_user"), "")
                    .help(
                        "tenant pods run with runAsNonRoot; give a non-zero user id that the \
                         database image can run as, such as 1000",
                    ),
            );
        }
        for (k, val) in &v.platform.labels {
            check_label(f, &p.spans, "platform.labels", k, val, diags);
        }
        // Tiers.
        for (name, t) in &v.tiers {
            let path = child("tiers", name);
            if let Some(problem) = dns_label_problem(name, 63) {
                diags.push(
                    Diagnostic::error(format!("tier name `{name}` {problem}")).at(
                        f,
                        p.spans.key(&path),
                        "not a DNS label",
                    ),
                );
            }
            let cpu = quantity(f, &p.spans, &child(&path, "cpu"), &t.cpu, diags);
            let mem = quantity(f, &p.spans, &child(&path, "memory"), &t.memory, diags);
            let sto = quantity(f, &p.spans, &child(&path, "storage"), &t.storage, diags);
            if t.pods == 0 {
                diags.push(
                    Diagnostic::error(format!("tier `{name}` allows 0 pods"))
                        .at(f, p.spans.value(&child(&path, "pods")), "")
                        .help("a tenant needs at least one pod per database replica"),
                );
            }
            if t.max_db_replicas == 0 {
                diags.push(
                    Diagnostic::error(format!("tier `{name}` allows 0 database replicas"))
                        .at(f, p.spans.value(&child(&path, "max_db_replicas")), "")
                        .help("set `max_db_replicas` to 1 or more"),
                );
            }
            if let Some(ceiling) = &t.ceiling {
                let cpath = child(&path, "ceiling");
                for (key, preset, max) in [
                    ("cpu", cpu, ceiling.cpu.as_ref()),
                    ("memory", mem, ceiling.memory.as_ref()),
                    ("storage", sto, ceiling.storage.as_ref()),
                ] {
                    let Some(max) = max else { continue };
                    let mp = child(&cpath, key);
                    if let (Some(preset), Some(m)) =
                        (preset, quantity(f, &p.spans, &mp, max, diags))
                    {
                        if m < preset {
                            diags.push(
                                Diagnostic::error(format!(
                                    "the ceiling of `{key}` in tier `{name}` is below its preset"
                                ))
                                .at(f, p.spans.value(&mp), "below the preset")
                                .also(f, p.spans.value(&child(&path, key)), "preset")
                                .help("a ceiling is the most a tenant may ask for; make it at least the preset"),
                            );
                        }
                    }
                }
            }
        }
        if v.tiers.is_empty() {
            diags.push(
                Diagnostic::error("platform.toml declares no tier")
                    .at(f, p.spans.key("tiers"), "")
                    .help("add at least one [tiers.<name>] with cpu, memory, storage, pods and max_db_replicas"),
            );
        }
        // Database defaults.
        let db = &v.database;
        for (key, text) in [
            ("engine", &db.engine),
            ("image", &db.image),
            ("version", &db.version),
        ] {
            if text.trim().is_empty() {
                diags.push(Diagnostic::error(format!("`database.{key}` is empty")).at(
                    f,
                    p.spans.value(&child("database", key)),
                    "",
                ));
            }
        }
        if db.image.contains(':') && !db.image.contains('/')
            || db
                .image
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'))
        {
            diags.push(
                Diagnostic::error("`database.image` includes a tag")
                    .at(
                        f,
                        p.spans.value("database.image"),
                        "tag belongs in `version`",
                    )
                    .help("write the image without its tag and the tag in `database.version`"),
            );
        }
        if db.replicas == 0 {
            diags.push(
                Diagnostic::error("`database.replicas` must be at least 1")
                    .at(f, p.spans.value("database.replicas"), "")
                    .help(
                        "to stop a tenant's database, set `paused = true` in its [database] table",
                    ),
            );
        }
        quantity(f, &p.spans, "database.storage", &db.storage, diags);
        quantity(
            f,
            &p.spans,
            "database.resources.cpu",
            &db.resources.cpu,
            diags,
        );
        quantity(
            f,
            &p.spans,
            "database.resources.memory",
            &db.resources.memory,
            diags,
        );
        if let Some(l) = &db.resources.cpu_limit {
            quantity(f, &p.spans, "database.resources.cpu_limit", l, diags);
        }
        if let Some(sc) = &db.storage_class {
            if let Some(problem) = dns_subdomain_problem(sc) {
                diags.push(
                    Diagnostic::error(format!("storage class `{sc}` {problem}")).at(
                        f,
                        p.spans.value("database.storage_class"),
                        "",
                    ),
                );
            }
        }
        check_databases(f, &p.spans, "database.databases", &db.databases, diags);
        // Backup locations.
        for (name, loc) in &v.backup_locations {
            let path = child("backup_locations", name);
            if let Some(problem) = dns_label_problem(name, 63) {
                diags.push(
                    Diagnostic::error(format!("backup location name `{name}` {problem}")).at(
                        f,
                        p.spans.key(&path),
                        "not a DNS label",
                    ),
                );
            }
            let need = |key: &str, present: bool, diags: &mut Vec<Diagnostic>, why: &str| {
                if !present {
                    diags.push(
                        Diagnostic::error(format!(
                            "backup location `{name}` of kind `{}` needs `{key}`",
                            kind_name(loc.kind)
                        ))
                        .at(f, p.spans.key(&path), format!("`{key}` missing"))
                        .help(why.to_string()),
                    );
                }
            };
            match loc.kind {
                LocationKind::Pvc => {}
                LocationKind::Http => need(
                    "url",
                    loc.url.is_some(),
                    diags,
                    "add `url = \"http://host:port/backups\"`, a server that accepts PUT",
                ),
                LocationKind::S3 => need(
                    "bucket",
                    loc.bucket.is_some(),
                    diags,
                    "add `bucket = \"<bucket name>\"`",
                ),
            }
            for key in ["url", "endpoint"] {
                let val = if key == "url" {
                    &loc.url
                } else {
                    &loc.endpoint
                };
                let Some(u) = val else { continue };
                let kp = child(&path, key);
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    diags.push(
                        Diagnostic::error(format!("`{kp}` must be an http:// or https:// URL")).at(
                            f,
                            p.spans.value(&kp),
                            "",
                        ),
                    );
                } else if url_has_credentials(u) {
                    diags.push(
                        Diagnostic::error(format!("`{kp}` contains a user name and password"))
                            .at(f, p.spans.value(&kp), "credential written inline")
                            .help("remove them from the URL, store them in a Kubernetes Secret and name it with `credentials_secret`"),
                    );
                }
            }
            if let Some(secret) = &loc.credentials_secret {
                let kp = child(&path, "credentials_secret");
                if looks_like_credential(secret) {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{kp}` holds what looks like a credential, not the name of a Secret"
                        ))
                        .at(f, p.spans.value(&kp), "expected a Secret name")
                        .help("store the credential in a Kubernetes Secret in each tenant namespace and write the Secret's name here, e.g. `credentials_secret = \"backup-s3\"`"),
                    );
                } else if let Some(problem) = dns_subdomain_problem(secret) {
                    diags.push(
                        Diagnostic::error(format!("Secret name `{secret}` {problem}")).at(
                            f,
                            p.spans.value(&kp),
                            "not a Secret name",
                        ),
                    );
                }
            }
        }
        if let Some(url) = &v.dashboard.prometheus_url {
            if let Err((problem, help)) = check_http_url(url) {
                diags.push(
                    Diagnostic::error(format!("`dashboard.prometheus_url` {problem}"))
                        .at(f, p.spans.value("dashboard.prometheus_url"), "")
                        .help(help),
                );
            }
        }
        if v.policy.apply_concurrency == 0 {
            diags.push(
                Diagnostic::error("`policy.apply_concurrency` must be at least 1").at(
                    f,
                    p.spans.value("policy.apply_concurrency"),
                    "",
                ),
            );
        }
        let quantities_ok = !diags[start..].iter().any(Diagnostic::is_error);
        PlatformCtx {
            file: p,
            clusters,
            default_cluster,
            quantities_ok,
        }
    }

    fn platform(&self) -> &PlatformFile {
        &self.file.value
    }
}

fn kind_name(k: LocationKind) -> &'static str {
    match k {
        LocationKind::Pvc => "pvc",
        LocationKind::Http => "http",
        LocationKind::S3 => "s3",
    }
}

fn url_has_credentials(u: &str) -> bool {
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    authority.contains('@')
}

/// Whether a would-be Secret name is in fact a credential value.
fn looks_like_credential(s: &str) -> bool {
    let aws_key = s.len() == 20 && (s.starts_with("AKIA") || s.starts_with("ASIA"));
    let has_secret_chars = s.chars().any(|c| matches!(c, '/' | '+' | '=' | ':' | '@'));
    let mixed_case =
        s.chars().any(|c| c.is_ascii_uppercase()) && s.chars().any(|c| c.is_ascii_lowercase());
    let long_token = s.len() >= 32 && !s.contains('-') && !s.contains('.');
    aws_key
        || has_secret_chars
        || (mixed_case && s.chars().any(|c| c.is_ascii_digit()))
        || long_token
}

fn unknown_ref<'c>(
    file: &str,
    span: Option<std::ops::Range<usize>>,
    what: &str,
    name: &str,
    known: impl IntoIterator<Item = &'c str> + Clone,
    otherwise: &str,
) -> Diagnostic {
    let help = match did_you_mean(name, known.clone()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => {
            let all: Vec<String> = known.into_iter().map(|k| format!("`{k}`")).collect();
            if all.is_empty() {
                otherwise.to_string()
            } else {
                format!("known {what}s: {}; or {otherwise}", all.join(", "))
            }
        }
    };
    Diagnostic::error(format!("unknown {what} `{name}`"))
        .at(file, span, format!("no such {what}"))
        .help(help)
}

fn quantity(
    file: &str,
    spans: &super::load::SpanIndex,
    path: &str,
    q: &Quantity,
    diags: &mut Vec<Diagnostic>,
) -> Option<ParsedQuantity> {
    match q.parse() {
        Ok(v) => {
            if v.nanos() < 0 {
                diags.push(
                    Diagnostic::error(format!("`{path}` must not be negative")).at(
                        file,
                        spans.value(path),
                        "",
                    ),
                );
                return None;
            }
            Some(v)
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("`{path}`: {}", e.message))
                    .at(file, spans.value(path), "not a Kubernetes quantity")
                    .help(e.help.unwrap_or_else(|| {
                        "write a number with an optional suffix, such as \"500m\", \"2\" or \"8Gi\"".to_string()
                    })),
            );
            None
        }
    }
}

fn check_label(
    file: &str,
    spans: &super::load::SpanIndex,
    table: &str,
    key: &str,
    value: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let path = child(table, key);
    if let Some(problem) = label_key_problem(key) {
        diags.push(
            Diagnostic::error(format!("label key `{key}` is not valid: {problem}"))
                .at(file, spans.key(&path), "")
                .help("label keys are `[prefix/]name`: a DNS subdomain prefix and a name of letters, digits, `-`, `_` and `.`"),
        );
    }
    if let Some(problem) = label_value_problem(value) {
        diags.push(
            Diagnostic::error(format!("label value \"{value}\" is not valid: it {problem}"))
                .at(file, spans.value(&path), "")
                .help("label values are at most 63 letters, digits, `-`, `_` and `.`; put longer text in an annotation"),
        );
    }
    if key.starts_with("berth.io/") || key == "app.kubernetes.io/managed-by" {
        diags.push(
            Diagnostic::error(format!("label `{key}` is reserved for berth"))
                .at(file, spans.key(&path), "reserved")
                .help("berth sets this label itself; choose another key"),
        );
    }
}

fn check_databases(
    file: &str,
    spans: &super::load::SpanIndex,
    path: &str,
    dbs: &[String],
    diags: &mut Vec<Diagnostic>,
) {
    if dbs.is_empty() {
        diags.push(
            Diagnostic::error(format!("`{path}` is empty"))
                .at(file, spans.value(path), "")
                .help("list at least one database, e.g. `[\"defaultdb\"]`"),
        );
    }
    for (i, db) in dbs.iter().enumerate() {
        if let Some(problem) = sql_identifier_problem(db) {
            diags.push(
                Diagnostic::error(format!("database name `{db}` {problem}")).at(
                    file,
                    spans.value(&index(path, i)),
                    "",
                ),
            );
        }
    }
}

fn sourced<T>(value: T, origin: Origin) -> Sourced<T> {
    Sourced { value, origin }
}

fn check_tenant(
    ctx: Option<&PlatformCtx<'_>>,
    t: &Loaded<TenantFile>,
    tenant_names: &BTreeSet<&str>,
) -> (Option<Tenant>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let f = t.file.path.as_str();
    let v = &t.value;
    let stem = file_stem(f);
    if let Some(problem) = dns_label_problem(&v.name, 63) {
        diags.push(
            Diagnostic::error(format!("tenant name `{}` {problem}", v.name))
                .at(f, t.spans.value("name"), "not a DNS label")
                .maybe_help(
                    suggest_label(&v.name, 63)
                        .map(|s| format!("tenant names are DNS labels; try `{s}`")),
                ),
        );
    }
    if stem != v.name {
        diags.push(
            Diagnostic::error(format!(
                "tenant `{}` is defined in `{f}`; the file name must be the tenant name",
                v.name
            ))
            .at(
                f,
                t.spans.value("name"),
                format!("does not match the file name `{stem}`"),
            )
            .help(format!(
                "rename the file to `tenants/{}.toml`, or set `name = \"{stem}\"`",
                v.name
            )),
        );
    }
    let Some(ctx) = ctx else {
        return (None, diags);
    };
    let p = ctx.platform();
    let prefix = &p.platform.namespace_prefix;
    let namespace = v
        .namespace
        .clone()
        .unwrap_or_else(|| format!("{prefix}{}", v.name));
    let ns_path = if v.namespace.is_some() {
        "namespace"
    } else {
        "name"
    };
    if dns_label_problem(&v.name, 63).is_none() {
        if let Some(problem) = dns_label_problem(&namespace, 63) {
            let help = if v.namespace.is_none() {
                format!(
                    "the namespace is the prefix \"{prefix}\" plus the tenant name; shorten the name to at most {} characters or set `namespace`",
                    63usize.saturating_sub(prefix.len())
                )
            } else {
                "namespaces are DNS labels of at most 63 characters".to_string()
            };
            diags.push(
                Diagnostic::error(format!("namespace `{namespace}` {problem}"))
                    .at(f, t.spans.value(ns_path), "namespace would be invalid")
                    .help(help),
            );
        }
    }
    if is_reserved_namespace(&namespace) {
        diags.push(
            Diagnostic::error(format!("namespace `{namespace}` is reserved"))
                .at(f, t.spans.value(ns_path), "reserved namespace")
                .help("tenants cannot live in `default`, `kube-*` or berth's own namespace; choose another name"),
        );
    }
    for (k, val) in &v.labels {
        check_label(f, &t.spans, "labels", k, val, &mut diags);
    }
    for k in v.annotations.keys() {
        if let Some(problem) = label_key_problem(k) {
            diags.push(
                Diagnostic::error(format!("annotation key `{k}` is not valid: {problem}")).at(
                    f,
                    t.spans.key(&child("annotations", k)),
                    "",
                ),
            );
        }
    }

    let tier = match p.tiers.get(&v.tier) {
        Some(tier) => Some(tier),
        None => {
            diags.push(unknown_ref(
                f,
                t.spans.value("tier"),
                "tier",
                &v.tier,
                p.tiers.keys().map(String::as_str),
                "declare it under [tiers.<name>] in platform.toml",
            ));
            None
        }
    };
    let cluster = match &v.cluster {
        Some(c) if ctx.clusters.contains_key(c) => Some(c.clone()),
        Some(c) => {
            diags.push(unknown_ref(
                f,
                t.spans.value("cluster"),
                "cluster",
                c,
                ctx.clusters.keys().map(String::as_str),
                "declare it under [clusters.<name>] in platform.toml",
            ));
            None
        }
        None => match &ctx.default_cluster {
            Some(d) => Some(d.clone()),
            None => {
                diags.push(
                    Diagnostic::error(format!("tenant `{}` names no cluster", v.name))
                        .at(f, t.spans.value("name"), "")
                        .help("set `cluster = \"<name>\"`, or `[platform] default_cluster` in platform.toml"),
                );
                None
            }
        },
    };

    // Members.
    let mut seen_members: HashMap<(SubjectKind, &str), usize> = HashMap::new();
    for (i, m) in v.members.iter().enumerate() {
        let mp = index("members", i);
        if m.name.trim().is_empty() {
            diags.push(Diagnostic::error("member name is empty").at(
                f,
                t.spans.value(&child(&mp, "name")),
                "",
            ));
        }
        if m.kind == SubjectKind::ServiceAccount {
            if let Some(problem) = dns_subdomain_problem(&m.name) {
                diags.push(
                    Diagnostic::error(format!("ServiceAccount name `{}` {problem}", m.name)).at(
                        f,
                        t.spans.value(&child(&mp, "name")),
                        "",
                    ),
                );
            }
        } else if m.namespace.is_some() {
            diags.push(
                Diagnostic::error("`namespace` only applies to ServiceAccount members")
                    .at(f, t.spans.key(&child(&mp, "namespace")), "")
                    .help("remove `namespace`, or set `kind = \"ServiceAccount\"`"),
            );
        }
        if let Some(first) = seen_members.insert((m.kind, m.name.as_str()), i) {
            diags.push(
                Diagnostic::error(format!("member `{}` is listed twice", m.name))
                    .at(f, t.spans.value(&mp), "listed again here")
                    .also(
                        f,
                        t.spans.value(&index("members", first)),
                        "first listed here",
                    )
                    .help("a member has one role; keep the entry with the role you mean"),
            );
        }
    }

    // Network.
    let mut allow_from = Vec::new();
    for (i, entry) in v.network.allow_from.iter().enumerate() {
        let ep = index("network.allow_from", i);
        if let Some(other) = entry.strip_prefix("tenant:") {
            if !tenant_names.contains(other) {
                diags.push(unknown_ref(
                    f,
                    t.spans.value(&ep),
                    "tenant",
                    other,
                    tenant_names.iter().copied(),
                    "add tenants/<name>.toml",
                ));
            } else {
                allow_from.push(format!("{prefix}{other}"));
            }
        } else if let Some(problem) = dns_label_problem(entry, 63) {
            diags.push(
                Diagnostic::error(format!("`{entry}` is not a namespace name: it {problem}"))
                    .at(f, t.spans.value(&ep), "")
                    .help(
                        "list namespace names, or `tenant:<name>` for another tenant's namespace",
                    ),
            );
        } else {
            allow_from.push(entry.clone());
        }
    }
    allow_from.sort();
    allow_from.dedup();

    let Some(tier) = tier else {
        return (None, diags);
    };
    if !ctx.quantities_ok {
        return (None, diags);
    }
    let before = diags.len();
    // Quota: overrides within the ceiling.
    let ceiling = tier.ceiling.clone().unwrap_or_default();
    let q = |key: &str,
             preset: &Quantity,
             over: &Option<Quantity>,
             max: &Option<Quantity>,
             diags: &mut Vec<Diagnostic>|
     -> Sourced<Quantity> {
        let Some(o) = over else {
            return sourced(preset.clone(), Origin::Tier);
        };
        let path = child("quota", key);
        let val = quantity(f, &t.spans, &path, o, diags);
        let max_q = max.as_ref().unwrap_or(preset);
        if let (Some(val), Ok(max_v)) = (val, max_q.parse()) {
            if val > max_v {
                diags.push(
                    Diagnostic::error(format!(
                        "`quota.{key}` = {o} is above the ceiling of tier `{}` ({max_q})",
                        v.tier
                    ))
                    .at(f, t.spans.value(&path), "above the tier's ceiling")
                    .help(format!(
                        "lower it to at most {max_q}, choose a bigger tier, or raise `[tiers.{}.ceiling] {key}` in platform.toml",
                        v.tier
                    )),
                );
            }
        }
        sourced(o.clone(), Origin::Tenant)
    };
    let quota = Quota {
        cpu: q("cpu", &tier.cpu, &v.quota.cpu, &ceiling.cpu, &mut diags),
        memory: q(
            "memory",
            &tier.memory,
            &v.quota.memory,
            &ceiling.memory,
            &mut diags,
        ),
        storage: q(
            "storage",
            &tier.storage,
            &v.quota.storage,
            &ceiling.storage,
            &mut diags,
        ),
        pods: match v.quota.pods {
            Some(n) => {
                let max = ceiling.pods.unwrap_or(tier.pods);
                if n > max {
                    diags.push(
                        Diagnostic::error(format!(
                            "`quota.pods` = {n} is above the ceiling of tier `{}` ({max})",
                            v.tier
                        ))
                        .at(f, t.spans.value("quota.pods"), "above the tier's ceiling")
                        .help(format!(
                            "lower it to at most {max}, or choose a bigger tier"
                        )),
                    );
                }
                sourced(n, Origin::Tenant)
            }
            None => sourced(tier.pods, Origin::Tier),
        },
    };

    // Database.
    let d = &v.database;
    let pdb = &p.database;
    let replicas = match d.replicas {
        Some(r) => sourced(r, Origin::Tenant),
        None => sourced(pdb.replicas, Origin::Platform),
    };
    if replicas.value == 0 || replicas.value > tier.max_db_replicas {
        let (span, label) = match d.replicas {
            Some(_) => (
                t.spans.value("database.replicas"),
                "out of range".to_string(),
            ),
            None => (
                t.spans.value("tier"),
                format!("platform default of {} replicas", pdb.replicas),
            ),
        };
        let help = if replicas.value == 0 {
            "to stop the database, set `paused = true` instead".to_string()
        } else {
            format!(
                "set `[database] replicas` to at most {}, or choose a tier that allows {} replicas",
                tier.max_db_replicas, replicas.value
            )
        };
        diags.push(
            Diagnostic::error(format!(
                "database replicas must be between 1 and {} (tier `{}`), found {}",
                tier.max_db_replicas, v.tier, replicas.value
            ))
            .at(f, span, label)
            .help(help),
        );
    }
    let pick = |over: &Option<Quantity>,
                default: &Quantity,
                key: &str,
                diags: &mut Vec<Diagnostic>| match over {
        Some(q) => {
            quantity(f, &t.spans, &format!("database.{key}"), q, diags);
            sourced(q.clone(), Origin::Tenant)
        }
        None => sourced(default.clone(), Origin::Platform),
    };
    let storage = pick(&d.storage, &pdb.storage, "storage", &mut diags);
    let cpu = pick(
        &d.resources.cpu,
        &pdb.resources.cpu,
        "resources.cpu",
        &mut diags,
    );
    let memory = pick(
        &d.resources.memory,
        &pdb.resources.memory,
        "resources.memory",
        &mut diags,
    );
    let cpu_limit = match &d.resources.cpu_limit {
        Some(l) => {
            quantity(f, &t.spans, "database.resources.cpu_limit", l, &mut diags);
            Some(l.clone())
        }
        None => pdb.resources.cpu_limit.clone(),
    };
    let version = match &d.version {
        Some(ver) => {
            if ver.trim().is_empty() || ver.contains(char::is_whitespace) || ver.contains(':') {
                diags.push(
                    Diagnostic::error(format!("`database.version` \"{ver}\" is not an image tag"))
                        .at(f, t.spans.value("database.version"), "")
                        .help("write the engine version only, e.g. `version = \"3.1.0\"`"),
                );
            }
            sourced(ver.clone(), Origin::Tenant)
        }
        None => sourced(pdb.version.clone(), Origin::Platform),
    };
    let databases = match &d.databases {
        Some(dbs) => {
            check_databases(f, &t.spans, "database.databases", dbs, &mut diags);
            dbs.clone()
        }
        None => pdb.databases.clone(),
    };
    // The database must fit in the quota, or its pods will never be admitted.
    if diags.len() == before && replicas.value > 0 && !d.paused {
        for (what, per_pod, total, key) in [
            ("CPU", &cpu.value, &quota.cpu.value, "cpu"),
            ("memory", &memory.value, &quota.memory.value, "memory"),
            ("storage", &storage.value, &quota.storage.value, "storage"),
        ] {
            let (Ok(pp), Ok(tot)) = (per_pod.parse(), total.parse()) else {
                continue;
            };
            let need = pp.nanos().saturating_mul(i128::from(replicas.value));
            if need > tot.nanos() {
                let span = t
                    .spans
                    .get("database")
                    .map(|_| t.spans.key("database"))
                    .unwrap_or_else(|| t.spans.value("tier"));
                diags.push(
                    Diagnostic::error(format!(
                        "the database needs {} × {per_pod} {what} but the tenant's {what} quota is {total}",
                        replicas.value
                    ))
                    .at(f, span, "does not fit in the quota")
                    .help(format!(
                        "lower the database's {key} or replicas, or raise `quota.{key}` (within the tier's ceiling)"
                    )),
                );
            }
        }
    }
    let (Some(cluster), true) = (cluster, diags.iter().all(|d| !d.is_error())) else {
        return (None, diags);
    };
    let image_ref = format!("{}:{}", pdb.image, version.value);
    let tenant = Tenant {
        name: v.name.clone(),
        display_name: v.display_name.clone().unwrap_or_else(|| v.name.clone()),
        tier: v.tier.clone(),
        cluster,
        namespace: namespace.clone(),
        source_file: f.to_string(),
        backup_file: None,
        labels: v.labels.clone(),
        annotations: v.annotations.clone(),
        deletion_protection: v.deletion_protection,
        quota,
        max_db_replicas: tier.max_db_replicas,
        members: v
            .members
            .iter()
            .map(|m| TenantMember::from_spec(m, &namespace))
            .collect(),
        database: Database {
            engine: pdb.engine.clone(),
            image: pdb.image.clone(),
            client_image: pdb
                .client_image
                .clone()
                .unwrap_or_else(|| image_ref.clone()),
            image_ref,
            version,
            replicas: if d.paused {
                sourced(0, Origin::Tenant)
            } else {
                replicas
            },
            paused: d.paused,
            storage,
            storage_class: d
                .storage_class
                .clone()
                .or_else(|| pdb.storage_class.clone()),
            cpu,
            memory,
            cpu_limit,
            port: pdb.port,
            http_port: pdb.http_port,
            databases,
        },
        allow_from,
        schedules: Vec::new(),
        restores: Vec::new(),
    };
    (Some(tenant), diags)
}

fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".toml").unwrap_or(name)
}

fn check_unique_tenants(
    tenants: &[Loaded<TenantFile>],
    ctx: Option<&PlatformCtx<'_>>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut names: HashMap<&str, &Loaded<TenantFile>> = HashMap::new();
    let mut namespaces: HashMap<String, &Loaded<TenantFile>> = HashMap::new();
    let prefix = ctx.map(|c| c.platform().platform.namespace_prefix.as_str());
    for t in tenants {
        if let Some(first) = names.get(t.value.name.as_str()) {
            diags.push(
                Diagnostic::error(format!("tenant `{}` is defined twice", t.value.name))
                    .at(&t.file.path, t.spans.value("name"), "defined again here")
                    .also(
                        &first.file.path,
                        first.spans.value("name"),
                        "first defined here",
                    )
                    .help("tenant names are unique; rename or remove one of the files"),
            );
            continue;
        }
        names.insert(&t.value.name, t);
        let Some(prefix) = prefix else { continue };
        let ns = t
            .value
            .namespace
            .clone()
            .unwrap_or_else(|| format!("{prefix}{}", t.value.name));
        if let Some(first) = namespaces.get(&ns) {
            let path = if t.value.namespace.is_some() {
                "namespace"
            } else {
                "name"
            };
            let first_path = if first.value.namespace.is_some() {
                "namespace"
            } else {
                "name"
            };
            diags.push(
                Diagnostic::error(format!(
                    "tenants `{}` and `{}` share the namespace `{ns}`",
                    first.value.name, t.value.name
                ))
                .at(&t.file.path, t.spans.value(path), "same namespace")
                .also(
                    &first.file.path,
                    first.spans.value(first_path),
                    "already used here",
                )
                .help(
                    "every tenant needs a namespace of its own; change `namespace` in one of them",
                ),
            );
        } else {
            namespaces.insert(ns, t);
        }
    }
}

type Restores = Vec<(String, RestoreRequest)>;

fn check_backups(
    ctx: Option<&PlatformCtx<'_>>,
    b: &Loaded<BackupFile>,
    tenant: Option<&Tenant>,
    tenant_names: &BTreeSet<&str>,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<BackupSchedule>, Restores) {
    let f = b.file.path.as_str();
    let v = &b.value;
    let stem = file_stem(f);
    let before = diags.len();
    if !tenant_names.contains(v.tenant.as_str()) {
        diags.push(unknown_ref(
            f,
            b.spans.value("tenant"),
            "tenant",
            &v.tenant,
            tenant_names.iter().copied(),
            "add tenants/<name>.toml",
        ));
    } else if stem != v.tenant {
        diags.push(
            Diagnostic::error(format!(
                "backups of tenant `{}` are in `{f}`; the file name must be the tenant name",
                v.tenant
            ))
            .at(
                f,
                b.spans.value("tenant"),
                format!("does not match the file name `{stem}`"),
            )
            .help(format!("rename the file to `backups/{}.toml`", v.tenant)),
        );
    }
    let Some(ctx) = ctx else {
        return (Vec::new(), Vec::new());
    };
    let p = ctx.platform();
    let locations = &p.backup_locations;
    let location_of = |name: &str| Location {
        name: name.to_string(),
        kind: locations[name].kind,
        spec: locations[name].clone(),
    };
    let mut schedules = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, s) in v.schedules.iter().enumerate() {
        let sp = index("schedules", i);
        let max = MAX_CRONJOB_NAME - "backup-".len();
        if let Some(problem) = dns_label_problem(&s.name, max) {
            diags.push(
                Diagnostic::error(format!("schedule name `{}` {problem}", s.name))
                    .at(f, b.spans.value(&child(&sp, "name")), "")
                    .help(format!(
                        "schedule names are DNS labels of at most {max} characters (the CronJob is called `backup-<name>`)"
                    )),
            );
        }
        if let Some(first) = names.insert(&s.name, i) {
            diags.push(
                Diagnostic::error(format!("schedule `{}` is declared twice", s.name))
                    .at(f, b.spans.value(&child(&sp, "name")), "declared again here")
                    .also(
                        f,
                        b.spans.value(&child(&index("schedules", first), "name")),
                        "first declared here",
                    )
                    .help("schedule names are unique per tenant; rename one of them"),
            );
        }
        let cron_ok = match parse_cron(&s.cron) {
            Ok(_) => true,
            Err(e) => {
                let cp = child(&sp, "cron");
                // Point inside the string when it is a plain quoted string.
                let span = b.spans.value(&cp).map(|vs| {
                    let raw = &b.file.text[vs.clone()];
                    if raw.len() == s.cron.len() + 2 && raw[1..raw.len() - 1] == *s.cron {
                        let start = vs.start + 1 + e.span.start.min(s.cron.len());
                        start..(vs.start + 1 + e.span.end.min(s.cron.len())).max(start)
                    } else {
                        vs
                    }
                });
                diags.push(
                    Diagnostic::error(format!("invalid cron expression \"{}\": {}", s.cron, e.message))
                        .at(f, span, "")
                        .maybe_help(e.help.or_else(|| Some("cron expressions have 5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"".to_string()))),
                );
                false
            }
        };
        if let Some(tz) = &s.timezone {
            if crate::values::cron::ScheduleZone::get(tz).is_none() {
                let help = match crate::values::cron::ScheduleZone::closest(tz) {
                    Some(near) => format!("did you mean \"{near}\"? (an IANA time zone name)"),
                    None => "use a name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
                        .to_string(),
                };
                diags.push(
                    Diagnostic::error(format!("`{tz}` is not an IANA time zone name"))
                        .at(f, b.spans.value(&child(&sp, "timezone")), "")
                        .help(help),
                );
            }
        }
        let loc_ok = if locations.contains_key(&s.location) {
            true
        } else {
            diags.push(unknown_ref(
                f,
                b.spans.value(&child(&sp, "location")),
                "backup location",
                &s.location,
                locations.keys().map(String::as_str),
                "declare it under [backup_locations.<name>] in platform.toml",
            ));
            false
        };
        if s.kind == BackupKind::Incremental && !p.database.supports_incremental {
            diags.push(
                Diagnostic::error(format!(
                    "engine `{}` cannot take incremental backups",
                    p.database.engine
                ))
                .at(f, b.spans.value(&child(&sp, "kind")), "not supported")
                .help("use `kind = \"full\"`, or set `[database] supports_incremental = true` in platform.toml if the engine supports it"),
            );
        }
        if let Some(dbs) = &s.databases {
            check_databases(f, &b.spans, &child(&sp, "databases"), dbs, diags);
        }
        let rp = child(&sp, "retention");
        let keep_within_seconds = match &s.retention.keep_within {
            Some(kw) => match parse_duration(kw) {
                Ok(secs) => Some(secs),
                Err(e) => {
                    diags.push(
                        Diagnostic::error(format!("invalid retention \"{kw}\": {}", e.message))
                            .at(
                                f,
                                b.spans.value(&child(&rp, "keep_within")),
                                "not a duration",
                            )
                            .help(e.help.unwrap_or_else(|| {
                                "write a number and a unit: s, m, h, d or w, e.g. \"14d\""
                                    .to_string()
                            })),
                    );
                    None
                }
            },
            None => None,
        };
        if s.retention.keep_last == Some(0) {
            diags.push(
                Diagnostic::error("`retention.keep_last` = 0 would delete every backup")
                    .at(f, b.spans.value(&child(&rp, "keep_last")), "")
                    .help("keep at least 1, or remove `keep_last` and rely on `keep_within`"),
            );
        }
        if s.retention.keep_last.is_none() && s.retention.keep_within.is_none() {
            diags.push(
                Diagnostic::warning(format!("schedule `{}` keeps its backups forever", s.name))
                    .at(f, b.spans.value(&child(&sp, "name")), "no retention")
                    .help("add `[schedules.retention]` with `keep_last` and/or `keep_within`"),
            );
        }
        if cron_ok && loc_ok {
            if let Some(t) = tenant {
                schedules.push(BackupSchedule {
                    name: s.name.clone(),
                    cron: s.cron.clone(),
                    timezone: s.timezone.clone(),
                    location: location_of(&s.location),
                    kind: s.kind,
                    format: s.format,
                    databases: s
                        .databases
                        .clone()
                        .unwrap_or_else(|| t.database.databases.clone()),
                    retention: RetentionModel {
                        keep_last: s.retention.keep_last,
                        keep_within: s.retention.keep_within.clone(),
                        keep_within_seconds,
                    },
                    paused: s.paused,
                });
            }
        }
    }

    let mut restores = Vec::new();
    let mut rnames: HashMap<&str, usize> = HashMap::new();
    for (i, r) in v.restores.iter().enumerate() {
        let rp = index("restores", i);
        let max = 63 - "restore-".len();
        if let Some(problem) = dns_label_problem(&r.name, max) {
            diags.push(
                Diagnostic::error(format!("restore name `{}` {problem}", r.name))
                    .at(f, b.spans.value(&child(&rp, "name")), "")
                    .help(format!("restore names are DNS labels of at most {max} characters (the Job is called `restore-<name>`)")),
            );
        }
        if let Some(first) = rnames.insert(&r.name, i) {
            diags.push(
                Diagnostic::error(format!("restore `{}` is declared twice", r.name))
                    .at(f, b.spans.value(&child(&rp, "name")), "declared again here")
                    .also(f, b.spans.value(&child(&index("restores", first), "name")), "first declared here")
                    .help("restore names are unique per tenant: each one runs once, so a new restore needs a new name"),
            );
        }
        let location = match (&r.from_schedule, &r.from_path) {
            (Some(_), Some(_)) | (None, None) => {
                diags.push(
                    Diagnostic::error(format!(
                        "restore `{}` must name exactly one of `from_schedule` and `from_path`",
                        r.name
                    ))
                    .at(f, b.spans.value(&child(&rp, "name")), "")
                    .help("`from_schedule = \"nightly\"` restores the newest backup of a schedule; `from_path` a specific backup"),
                );
                None
            }
            (Some(sched), None) => match v.schedules.iter().find(|s| &s.name == sched) {
                Some(s) => r.location.clone().or(Some(s.location.clone())),
                None => {
                    diags.push(unknown_ref(
                        f,
                        b.spans.value(&child(&rp, "from_schedule")),
                        "schedule",
                        sched,
                        v.schedules.iter().map(|s| s.name.as_str()),
                        "declare it under [[schedules]] in this file",
                    ));
                    None
                }
            },
            (None, Some(_)) => {
                if r.location.is_none() {
                    diags.push(
                        Diagnostic::error(format!(
                            "restore `{}` reads `from_path` but names no `location`",
                            r.name
                        ))
                        .at(f, b.spans.value(&child(&rp, "from_path")), "")
                        .help("add `location = \"<backup location>\"`"),
                    );
                }
                if r.point_in_time.is_some() {
                    diags.push(
                        Diagnostic::error(
                            "`point_in_time` only applies to restores `from_schedule`",
                        )
                        .at(f, b.spans.key(&child(&rp, "point_in_time")), "")
                        .help("`from_path` names one backup already; remove `point_in_time`"),
                    );
                }
                r.location.clone()
            }
        };
        let location = match location {
            Some(l) if locations.contains_key(&l) => Some(l),
            Some(l) => {
                diags.push(unknown_ref(
                    f,
                    b.spans.value(&child(&rp, "location")),
                    "backup location",
                    &l,
                    locations.keys().map(String::as_str),
                    "declare it under [backup_locations.<name>] in platform.toml",
                ));
                None
            }
            None => None,
        };
        let pit = match &r.point_in_time {
            Some(text) => match parse_rfc3339(text) {
                Ok(t) => Some(t),
                Err(e) => {
                    diags.push(
                        Diagnostic::error(format!(
                            "invalid point in time \"{text}\": {}",
                            e.message
                        ))
                        .at(
                            f,
                            b.spans.value(&child(&rp, "point_in_time")),
                            "not an RFC 3339 time",
                        )
                        .help(e.help.unwrap_or_else(|| {
                            "write a time such as \"2026-11-20T02:00:00Z\"".to_string()
                        })),
                    );
                    None
                }
            },
            None => None,
        };
        let target = r.target.clone().unwrap_or_else(|| v.tenant.clone());
        if r.target.is_some() && !tenant_names.contains(target.as_str()) {
            diags.push(unknown_ref(
                f,
                b.spans.value(&child(&rp, "target")),
                "tenant",
                &target,
                tenant_names.iter().copied(),
                "create the target tenant first (tenants/<name>.toml)",
            ));
            continue;
        }
        if let Some(dbs) = &r.databases {
            check_databases(f, &b.spans, &child(&rp, "databases"), dbs, diags);
        }
        if let (Some(loc), true) = (location, r.point_in_time.is_none() || pit.is_some()) {
            restores.push((
                target,
                RestoreRequest {
                    name: r.name.clone(),
                    from_schedule: r.from_schedule.clone(),
                    from_path: r.from_path.clone(),
                    location: location_of(&loc),
                    point_in_time: r.point_in_time.clone(),
                    point_in_time_unix: pit,
                    source_tenant: v.tenant.clone(),
                    databases: r
                        .databases
                        .clone()
                        .or_else(|| tenant.map(|t| t.database.databases.clone()))
                        .unwrap_or_default(),
                },
            ));
        }
    }
    if diags[before..].iter().any(Diagnostic::is_error) {
        return (Vec::new(), Vec::new());
    }
    (schedules, restores)
}

/// Checks the base URL of an HTTP service berth reads (Prometheus): `http` or `https`, a
/// host, no credentials, no query or fragment. The problem and a help text otherwise.
fn check_http_url(url: &str) -> Result<(), (String, String)> {
    let example = "write a base URL such as `http://prometheus.monitoring:9090`";
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(("is not a URL".into(), example.into()));
    };
    if scheme != "http" && scheme != "https" {
        return Err((
            format!("uses `{scheme}`, not `http` or `https`"),
            example.into(),
        ));
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err((
            "holds credentials".into(),
            "no credentials belong in the repository: let Prometheus accept the daemon's requests without them (a network policy, a proxy), and write the URL without `user@`".into(),
        ));
    }
    if authority.is_empty() || authority.starts_with(':') {
        return Err(("has no host".into(), example.into()));
    }
    if authority.contains(char::is_whitespace) || rest.contains(char::is_whitespace) {
        return Err(("contains spaces".into(), example.into()));
    }
    if rest.contains(['?', '#']) {
        return Err((
            "has a query or fragment".into(),
            "write only the base URL; berth adds `/api/v1/query_range` and its parameters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod url_tests {
    use super::check_http_url;

    #[test]
    fn prometheus_urls_are_plain_http_base_urls() {
        for ok in [
            "http://prometheus.monitoring:9090",
            "https://metrics.example.com/prometheus/",
            "http://127.0.0.1:9090",
        ] {
            assert!(check_http_url(ok).is_ok(), "{ok}");
        }
        for (bad, problem) in [
            ("prometheus:9090", "is not a URL"),
            ("ftp://x", "uses `ftp`"),
            ("http://user:pw@x:9090", "holds credentials"),
            ("http://:9090", "has no host"),
            ("http://x:9090/?q=1", "has a query"),
            ("http://x:9090/#top", "has a query or fragment"),
            ("http://x y", "contains spaces"),
        ] {
            let (p, _) = check_http_url(bad).unwrap_err();
            assert!(p.starts_with(problem), "{bad}: {p}");
        }
    }
}
