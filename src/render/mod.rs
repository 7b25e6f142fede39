//! Rendering: a validated [`Config`] in, deterministic Kubernetes objects out. No I/O.
//!
//! Every tenant is rendered through the templates of a [`TemplateSet`] (built-in ones, or the
//! platform's overrides from `templates/`). Templates produce multi-document YAML; each
//! document becomes one [`DesiredObject`]. Templates hold every engine detail; this module only
//! adds what berth guarantees on every object, whatever the templates say:
//!
//! - labels: the template's own, then the platform's common labels, the tenant's labels and
//!   finally the ownership labels `app.kubernetes.io/managed-by: berth` and
//!   `berth.io/tenant: <tenant>` (later ones win, so templates cannot remove or change them);
//! - the annotation `berth.io/source: <spec file>` (`tenants/<t>.toml`, or the backups file for
//!   CronJobs and Jobs);
//! - `metadata.namespace` set to the tenant namespace when a template leaves it out.
//!
//! It also rejects what would be unsafe to apply: an object in another namespace than the
//! tenant's, a cluster-scoped object other than the tenant's own Namespace, documents without
//! `apiVersion`, `kind` or `metadata.name`, and two objects with the same identity.
//!
//! Template context: `tenant` ([`crate::spec::model::Tenant`]), `platform` (`name`,
//! `common_labels`, `policy`, `database_engine`), plus `schedule`
//! ([`crate::spec::model::BackupSchedule`]) in `backup-cronjob.yaml` and `restore`
//! ([`crate::spec::model::RestoreRequest`]) in `restore-job.yaml`. The config revision is
//! deliberately not in it: an object that named the commit would change on every commit
//! (apply records the revision on each tenant's Namespace instead). A tenant's objects are
//! therefore a function of berth's version, the templates, the `platform` context and the
//! tenant alone, which [`input_digests`] hashes for `plan --changed`.

pub mod templates;
mod yaml;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use std::collections::HashSet;
use std::fmt;

use minijinja::value::{Serde, Value};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value as Json;

use yaml::Node;

use crate::object::{
    wave, ObjectRef, DELETION_PROTECTION_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
    RESTORE_LABEL, SOURCE_ANNOTATION, TENANT_LABEL,
};
use crate::spec::model::{Config, PolicyModel, Tenant};

pub use templates::{Scope, TemplateInfo, TemplateSet};

/// One object berth wants to exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredObject {
    /// Identity.
    pub id: ObjectRef,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The cluster it goes to.
    pub cluster: String,
    /// The spec file it comes from, relative to the repo root.
    pub source_file: String,
    /// The template file that produced it (`statefulset.yaml`).
    pub template: String,
    /// The full object, keys in the template's order.
    pub manifest: Manifest,
}

/// A rendered object as compact JSON text, keys in the template's order.
///
/// Objects are kept as text rather than as a `serde_json::Value` tree: a tree costs about ten
/// times the text's size (≈12 KB against ≈1.2 KB for an average object), too much for
/// 100,000+ objects. Parse one with [`Manifest::to_value`] when you need to look inside.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Manifest(Box<str>);

impl Manifest {
    /// The compact JSON of a value.
    pub fn from_value(value: &Json) -> Manifest {
        // `serde_json::to_string` writes into a byte buffer; `Display` goes through
        // `fmt::Write`, which is markedly slower. Same compact text.
        Manifest(
            serde_json::to_string(value)
                .unwrap_or_else(|_| value.to_string())
                .into_boxed_str(),
        )
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object as a JSON value.
    pub fn to_value(&self) -> Json {
        // The text was written by `from_value`, so it always parses.
        serde_json::from_str(&self.0).unwrap_or(Json::Null)
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Manifest {
    /// Serializes as the JSON object itself, not as a string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(self.0.to_string()) {
            Ok(raw) => raw.serialize(s),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

/// Everything a config renders to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rendered {
    /// Sorted by cluster, tenant, apply wave, kind, namespace, name.
    pub objects: Vec<DesiredObject>,
}

/// A problem found while rendering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RenderError {
    /// The template, as `templates/x.yaml` (an override) or `built-in x.yaml`.
    pub template: Option<String>,
    /// Line in the template (syntax and runtime errors) or in its rendered output (YAML and
    /// object errors; then `in_output` is true).
    pub line: Option<usize>,
    /// Whether `line` counts lines of the rendered output rather than of the template.
    pub in_output: bool,
    /// The tenant being rendered.
    pub tenant: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, where known.
    pub help: Option<String>,
}

impl RenderError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        RenderError {
            template: None,
            line: None,
            in_output: false,
            tenant: None,
            message: message.into(),
            help: None,
        }
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.template {
            f.write_str(t)?;
            if let Some(line) = self.line {
                if self.in_output {
                    write!(f, " (rendered output line {line})")?;
                } else {
                    write!(f, ":{line}")?;
                }
            }
            f.write_str(": ")?;
        }
        if let Some(tenant) = &self.tenant {
            write!(f, "tenant `{tenant}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The `platform` variable of the template context.
#[derive(Serialize)]
struct PlatformContext<'a> {
    name: &'a str,
    common_labels: &'a std::collections::BTreeMap<String, String>,
    policy: &'a PolicyModel,
    database_engine: &'a str,
    pod_security: &'a crate::spec::model::PodSecurityModel,
}

fn platform_value(config: &Config) -> Value {
    Value::from(Serde(platform_context(config)))
}

fn platform_context(config: &Config) -> PlatformContext<'_> {
    PlatformContext {
        name: &config.platform_name,
        common_labels: &config.common_labels,
        policy: &config.policy,
        database_engine: &config.database_engine,
        pod_security: &config.pod_security,
    }
}

/// A hex digest (128 bits of SHA-256) of everything each tenant's objects are rendered from:
/// berth's version, the templates ([`TemplateSet`]), the `platform` context and the resolved
/// tenant. Rendering is deterministic, so two runs with the same digest render the same
/// objects for that tenant. Only the tenants in `only` when given. In parallel; no I/O.
pub fn input_digests(
    config: &Config,
    templates: &TemplateSet,
    only: Option<&std::collections::BTreeSet<String>>,
) -> std::collections::BTreeMap<String, String> {
    let mut base = ring::digest::Context::new(&ring::digest::SHA256);
    base.update(&templates.fingerprint);
    // Serializing plain structs into a hasher cannot fail.
    let _ = serde_json::to_writer(HashWriter(&mut base), &platform_context(config));
    base.update(b"\0");
    config
        .tenants
        .par_iter()
        .filter(|t| only.is_none_or(|o| o.contains(&t.name)))
        .map(|t| {
            let mut ctx = base.clone();
            let _ = serde_json::to_writer(HashWriter(&mut ctx), t);
            let digest = ctx.finish();
            let mut hex = String::with_capacity(32);
            for b in &digest.as_ref()[..16] {
                use std::fmt::Write;
                let _ = write!(hex, "{b:02x}");
            }
            (t.name.clone(), hex)
        })
        .collect()
}

/// Feeds what is written into a digest.
struct HashWriter<'a>(&'a mut ring::digest::Context);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders every tenant of `config`, in parallel; all errors of all tenants are returned.
pub fn render(config: &Config, templates: &TemplateSet) -> Result<Rendered, Vec<RenderError>> {
    let platform = platform_value(config);
    let results: Vec<Result<Vec<DesiredObject>, Vec<RenderError>>> = config
        .tenants
        .par_iter()
        .map(|tenant| render_tenant_with(config, tenant, templates, &platform))
        .collect();
    let mut errors = Vec::new();
    let mut groups = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(objs) => groups.push(objs),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    // The final order is by cluster and tenant, then each tenant's own order, which its
    // objects already have: order the tenants and concatenate, rather than sorting every
    // object. Two non-empty groups with the same cluster and tenant would interleave; then
    // sort everything.
    let group_key =
        |g: &Vec<DesiredObject>| g.first().map(|o| (o.cluster.clone(), o.tenant.clone()));
    groups.sort_by_cached_key(group_key);
    let interleaved = groups.windows(2).any(|w| {
        matches!((w[0].first(), w[1].first()), (Some(a), Some(b)) if a.cluster == b.cluster && a.tenant == b.tenant)
    });
    let mut objects = Vec::with_capacity(groups.iter().map(Vec::len).sum());
    for mut objs in groups {
        objects.append(&mut objs);
    }
    // Across tenants: two tenants must not render the same object (e.g. a shared namespace).
    // Every object of a tenant is its namespace or lives in it (`finish_object` sees to that),
    // so objects of different tenants can only collide when the tenants share a namespace on
    // a cluster; only then look at every object.
    let mut seen: HashSet<(&str, &str, Option<&str>, &str)> = HashSet::new();
    let may_collide = tenants_share_a_namespace(config);
    for obj in objects.iter().filter(|_| may_collide) {
        let key = (
            obj.cluster.as_str(),
            obj.id.kind.as_str(),
            obj.id.namespace.as_deref(),
            obj.id.name.as_str(),
        );
        if !seen.insert(key) {
            let mut err = RenderError::new(format!(
                "{} on cluster `{}` is rendered more than once",
                obj.id, obj.cluster
            ));
            err.tenant = Some(obj.tenant.clone());
            err.template = Some(obj.template.clone());
            err.help = Some("each object must belong to exactly one tenant".into());
            errors.push(err);
        }
    }
    if !errors.is_empty() {
        errors.dedup();
        return Err(errors);
    }
    if interleaved {
        objects.par_sort_unstable_by(|a, b| {
            (&a.cluster, &a.tenant)
                .cmp(&(&b.cluster, &b.tenant))
                .then_with(|| object_order(a, b))
        });
    }
    Ok(Rendered { objects })
}

/// Whether two tenants have the same namespace on the same cluster.
fn tenants_share_a_namespace(config: &Config) -> bool {
    let mut seen = HashSet::with_capacity(config.tenants.len());
    config
        .tenants
        .iter()
        .any(|t| !seen.insert((t.cluster.as_str(), t.namespace.as_str())))
}

/// Renders one tenant: its objects sorted by apply wave, kind, namespace, name.
pub fn render_tenant(
    config: &Config,
    tenant: &Tenant,
    templates: &TemplateSet,
) -> Result<Vec<DesiredObject>, Vec<RenderError>> {
    render_tenant_with(config, tenant, templates, &platform_value(config))
}

fn object_order(a: &DesiredObject, b: &DesiredObject) -> std::cmp::Ordering {
    wave(&a.id.kind)
        .cmp(&wave(&b.id.kind))
        .then_with(|| a.id.kind.cmp(&b.id.kind))
        .then_with(|| a.id.namespace.cmp(&b.id.namespace))
        .then_with(|| a.id.name.cmp(&b.id.name))
        .then_with(|| a.id.api_version.cmp(&b.id.api_version))
}

/// What one template run is for.
struct Run<'a> {
    info: &'a TemplateInfo,
    context: Value,
    source_file: String,
    /// The restore request a run of the restore template is for: its Jobs get
    /// [`RESTORE_LABEL`], whatever the template says, so that plan can keep them run-once.
    restore: Option<String>,
}

fn render_tenant_with(
    config: &Config,
    tenant: &Tenant,
    templates: &TemplateSet,
    platform: &Value,
) -> Result<Vec<DesiredObject>, Vec<RenderError>> {
    let tenant_value = Value::from(Serde(tenant));
    let base = |extra: Option<(&'static str, Value)>| -> Value {
        let mut map = std::collections::BTreeMap::new();
        map.insert("tenant", tenant_value.clone());
        map.insert("platform", platform.clone());
        if let Some((key, value)) = extra {
            map.insert(key, value);
        }
        Value::from(map)
    };
    let backups_file = || {
        tenant
            .backup_file
            .clone()
            .unwrap_or_else(|| format!("backups/{}.toml", tenant.name))
    };

    // Every tenant-wide template gets the same context: build it once (values are shared).
    let tenant_context = base(None);
    let mut runs = Vec::new();
    for info in templates.templates() {
        match info.scope {
            Scope::Tenant => runs.push(Run {
                info,
                context: tenant_context.clone(),
                source_file: tenant.source_file.clone(),
                restore: None,
            }),
            Scope::Schedule => {
                for schedule in &tenant.schedules {
                    runs.push(Run {
                        info,
                        context: base(Some(("schedule", Value::from(Serde(schedule))))),
                        source_file: backups_file(),
                        restore: None,
                    });
                }
            }
            Scope::Restore => {
                for restore in &tenant.restores {
                    runs.push(Run {
                        info,
                        context: base(Some(("restore", Value::from(Serde(restore))))),
                        source_file: format!("backups/{}.toml", restore.source_tenant),
                        restore: Some(restore.name.clone()),
                    });
                }
            }
        }
    }

    let mut errors = Vec::new();
    let mut objects = Vec::with_capacity(runs.len() + 4);
    for run in runs {
        let display = run.info.display_name();
        let fail = |mut err: RenderError| {
            err.template = Some(display.clone());
            err.tenant = Some(tenant.name.clone());
            err
        };
        let text = match templates
            .env
            .get_template(run.info.name)
            .and_then(|t| t.render(&run.context))
        {
            Ok(text) => text,
            Err(e) => {
                let mut err = RenderError::new(templates::jinja_message(&e));
                err.line = e.line();
                errors.push(fail(err));
                continue;
            }
        };
        for doc in split_documents(&text) {
            #[cfg(debug_assertions)]
            if !run.info.overridden && yaml::parse_fast(doc.text).is_none() {
                note_builtin_fallback(run.info.name);
            }
            let manifest = match parse_document(doc.text) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err((line, msg)) => {
                    let mut err = RenderError::new(format!(
                        "rendered output is not valid YAML: {msg}{}",
                        line.and_then(|l| text.lines().nth(doc.first_line + l - 2))
                            .map(|l| format!("\n  | {l}"))
                            .unwrap_or_default()
                    ));
                    err.line = Some(doc.first_line + line.unwrap_or(1) - 1);
                    err.in_output = true;
                    errors.push(fail(err));
                    continue;
                }
            };
            match finish_object(config, tenant, manifest, &run, doc.text.len()) {
                Ok(obj) => objects.push(obj),
                Err(mut err) => {
                    err.line = Some(doc.first_line);
                    err.in_output = true;
                    errors.push(fail(err));
                }
            }
        }
    }

    objects.sort_by(object_order);
    for pair in objects.windows(2) {
        let (a, b) = (&pair[0].id, &pair[1].id);
        if a.kind == b.kind && a.namespace == b.namespace && a.name == b.name {
            let mut err = RenderError::new(format!(
                "{b} is rendered twice (by {} and {})",
                pair[0].template, pair[1].template
            ));
            err.tenant = Some(tenant.name.clone());
            err.template = Some(pair[1].template.clone());
            errors.push(err);
        }
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(errors)
    }
}

/// One YAML document of a rendered template.
struct Document<'a> {
    /// 1-based line of its first line in the rendered output.
    first_line: usize,
    text: &'a str,
}

/// Splits multi-document YAML at `---` lines, keeping line numbers.
fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0; // byte offset of the current document
    let mut first_line = 1;
    let bytes = text.as_bytes();
    let mut line_start = 0;
    let lines = memchr::memchr_iter(b'\n', bytes)
        .map(|at| at + 1)
        .chain((bytes.last().is_some_and(|b| *b != b'\n')).then_some(bytes.len()));
    for (line_no, end) in (1..).zip(lines) {
        let line = &text[line_start..end];
        // Only a line starting with `---` or `...` can separate documents.
        if line.starts_with("---") || line.starts_with("...") {
            let trimmed = line.trim_end();
            if trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "..." {
                docs.push(Document {
                    first_line,
                    text: &text[start..line_start],
                });
                start = end;
                first_line = line_no + 1;
            }
        }
        line_start = end;
    }
    docs.push(Document {
        first_line,
        text: &text[start..],
    });
    docs
}

/// Built-in templates whose output needed the slow YAML parser (debug builds only). Built-in
/// templates must stay within the fast parser's subset; a test checks this set stays empty.
#[cfg(debug_assertions)]
static BUILTIN_FALLBACKS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

#[cfg(debug_assertions)]
fn note_builtin_fallback(name: &'static str) {
    if let Ok(mut v) = BUILTIN_FALLBACKS.lock() {
        if !v.contains(&name) {
            v.push(name);
        }
    }
}

/// The built-in templates that fell back to the slow YAML parser so far (debug builds).
#[cfg(debug_assertions)]
pub fn builtin_fallbacks() -> Vec<&'static str> {
    BUILTIN_FALLBACKS
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default()
}

/// Parses one document; `None` for an empty one. Errors carry the 1-based line inside the
/// document where known.
fn parse_document(text: &str) -> Result<Option<Node<'_>>, (Option<usize>, String)> {
    let content = text.trim_start();
    if content.is_empty() {
        return Ok(None);
    }
    // Fast path: a template may emit JSON, which is YAML too and much faster to parse.
    if content.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<Json>(content) {
            return Ok(Some(Node::from_json(v)));
        }
    }
    // Fast path for the block YAML templates usually produce; exact or nothing.
    if let Some(v) = yaml::parse_fast_node(text) {
        // Debug builds (and so every test) check the fast path against the full parser.
        #[cfg(debug_assertions)]
        if let Ok(full) = serde_norway::from_str::<Json>(text) {
            let fast = v.to_json();
            assert_eq!(
                fast, full,
                "fast YAML parser disagrees with serde_norway on:\n{text}"
            );
            // Key order matters for the manifest text, which map equality ignores.
            assert_eq!(
                v.json_text(),
                full.to_string(),
                "fast YAML parser disagrees with serde_norway on:\n{text}"
            );
        }
        return Ok((v != Node::Null).then_some(v));
    }
    match serde_norway::from_str::<Json>(text) {
        Ok(Json::Null) => Ok(None),
        Ok(v) => Ok(Some(Node::from_json(v))),
        Err(e) => {
            let line = e.location().map(|l| l.line());
            Err((line, e.to_string()))
        }
    }
}

/// Kinds that are cluster-scoped in Kubernetes; only the tenant's Namespace may be rendered.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "Node",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "VolumeAttachment",
];

fn finish_object(
    config: &Config,
    tenant: &Tenant,
    manifest: Node<'_>,
    run: &Run<'_>,
    yaml_len: usize,
) -> Result<DesiredObject, RenderError> {
    let Node::Map(mut root) = manifest else {
        return Err(RenderError::new(
            "a rendered document is not a mapping (expected a Kubernetes object)",
        ));
    };
    let api_version = match yaml::entry_mut(&mut root, "apiVersion") {
        Some(Node::Str(s)) if !s.is_empty() => s.to_string(),
        _ => return Err(RenderError::new("a rendered object has no `apiVersion`")),
    };
    let kind = match yaml::entry_mut(&mut root, "kind") {
        Some(Node::Str(s)) if !s.is_empty() => s.to_string(),
        _ => return Err(RenderError::new("a rendered object has no `kind`")),
    };
    let Some(Node::Map(metadata)) = yaml::entry_mut(&mut root, "metadata") else {
        return Err(RenderError::new(format!(
            "a rendered {kind} has no `metadata` mapping"
        )));
    };
    let name = match yaml::entry_mut(metadata, "name") {
        Some(Node::Str(s)) if !s.is_empty() => s.to_string(),
        _ => {
            return Err(RenderError::new(format!(
                "a rendered {kind} has no `metadata.name`"
            )))
        }
    };

    let namespace = if kind == "Namespace" {
        if yaml::entry_mut(metadata, "namespace").is_some() {
            return Err(RenderError::new(format!(
                "Namespace/{name} must not have `metadata.namespace`"
            )));
        }
        if name != tenant.namespace {
            let mut err = RenderError::new(format!(
                "Namespace/{name} is not the tenant's namespace `{}`",
                tenant.namespace
            ));
            err.help = Some("a tenant's templates may only create the tenant's namespace".into());
            return Err(err);
        }
        None
    } else if CLUSTER_SCOPED.contains(&kind.as_str()) {
        let mut err = RenderError::new(format!(
            "{kind}/{name} is cluster-scoped; templates may only create objects in the tenant \
             namespace"
        ));
        err.help = Some("the only cluster-scoped object a tenant owns is its Namespace".into());
        return Err(err);
    } else {
        match yaml::entry_mut(metadata, "namespace") {
            None | Some(Node::Null) => {
                yaml::set(
                    metadata,
                    "namespace".into(),
                    Node::Str(tenant.namespace.as_str().into()),
                );
                Some(tenant.namespace.clone())
            }
            Some(Node::Str(ns)) if *ns == tenant.namespace => Some(ns.to_string()),
            Some(other) => {
                let shown = match other {
                    Node::Str(s) => s.to_string(),
                    other => other.json_text(),
                };
                let mut err = RenderError::new(format!(
                    "{kind}/{name} is in namespace `{shown}`, not the tenant's namespace `{}`",
                    tenant.namespace
                ));
                err.help = Some(
                    "a template must not write into other namespaces; use \
                     `{{ tenant.namespace | tojson }}`"
                        .into(),
                );
                return Err(err);
            }
        }
    };

    // Labels: template's, platform's, tenant's, then ownership (later wins).
    let labels = object_entry(metadata, "labels").map_err(|()| {
        RenderError::new(format!("{kind}/{name}: `metadata.labels` is not a mapping"))
    })?;
    for (k, v) in config.common_labels.iter().chain(tenant.labels.iter()) {
        yaml::set(labels, k.as_str().into(), Node::Str(v.as_str().into()));
    }
    yaml::set(
        labels,
        MANAGED_BY_LABEL.into(),
        Node::Str(MANAGED_BY_VALUE.into()),
    );
    yaml::set(
        labels,
        TENANT_LABEL.into(),
        Node::Str(tenant.name.as_str().into()),
    );
    if let (Some(restore), "Job") = (&run.restore, kind.as_str()) {
        yaml::set(
            labels,
            RESTORE_LABEL.into(),
            Node::Str(restore.as_str().into()),
        );
    }
    let annotations = object_entry(metadata, "annotations").map_err(|()| {
        RenderError::new(format!(
            "{kind}/{name}: `metadata.annotations` is not a mapping"
        ))
    })?;
    yaml::set(
        annotations,
        SOURCE_ANNOTATION.into(),
        Node::Str(run.source_file.as_str().into()),
    );
    // The tenant's deletion protection travels with its namespace, so that a later plan knows
    // what was last applied even after the tenant file is gone.
    if kind == "Namespace" {
        yaml::set(
            annotations,
            DELETION_PROTECTION_ANNOTATION.into(),
            Node::Str(tenant.deletion_protection.to_string().into()),
        );
    }

    Ok(DesiredObject {
        id: ObjectRef {
            api_version,
            kind,
            namespace,
            name,
        },
        tenant: tenant.name.clone(),
        cluster: tenant.cluster.clone(),
        source_file: run.source_file.clone(),
        template: run.info.name.to_string(),
        // The JSON is about as long as the YAML plus what was added here.
        manifest: Manifest(
            Node::Map(root)
                .json_text_with_capacity(yaml_len + 512)
                .into_boxed_str(),
        ),
    })
}

type Entries<'a> = Vec<(std::borrow::Cow<'a, str>, Node<'a>)>;

/// The mapping under `key`, created when missing or null.
fn object_entry<'m, 'a>(
    map: &'m mut Entries<'a>,
    key: &'static str,
) -> Result<&'m mut Entries<'a>, ()> {
    let i = match map.iter().position(|(k, _)| k == key) {
        Some(i) => i,
        None => {
            map.push((key.into(), Node::Map(Vec::new())));
            map.len() - 1
        }
    };
    let entry = &mut map[i].1;
    if *entry == Node::Null {
        *entry = Node::Map(Vec::new());
    }
    match entry {
        Node::Map(m) => Ok(m),
        _ => Err(()),
    }
}

/// Multi-document YAML of the objects, in the given order, each document preceded by `---`.
pub fn to_yaml(objects: &[DesiredObject]) -> String {
    let mut out = String::with_capacity(objects.len() * 1024);
    for obj in objects {
        out.push_str("---\n");
        match serde_norway::to_string(&obj.manifest.to_value()) {
            Ok(text) => out.push_str(&text),
            // A serde_json value always serializes; keep going rather than panic.
            Err(e) => out.push_str(&format!("# cannot serialize {}: {e}\n", obj.id)),
        }
    }
    out
}

/// JSON of the objects as one Kubernetes `v1` `List` (`{"apiVersion": "v1", "kind": "List",
/// "items": [...]}`), pretty-printed, which `kubectl apply -f` and `kubectl get -o json` users
/// recognise.
pub fn to_json(objects: &[DesiredObject]) -> String {
    let items: Vec<Json> = objects.iter().map(|o| o.manifest.to_value()).collect();
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items,
    });
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}
