//! The three file kinds of a config repository, as the user writes them.
//!
//! These types are the single source of truth for the file format: the JSON Schemas in
//! `schemas/` are generated from them (doc comments become descriptions), and `berth validate`
//! checks the structure of every file against the same schemas before deserializing.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::values::Quantity;

/// `platform.toml`: clusters, tiers, database defaults, backup locations and policy.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "berth platform.toml")]
pub struct PlatformFile {
    /// The platform itself.
    pub platform: PlatformSection,
    /// Clusters tenants can be placed on, by name. A cluster that names no `context` and is not
    /// `in_cluster` is the embedded local cluster store. When no cluster is declared, one
    /// embedded cluster named `local` exists.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterSpec>,
    /// Quota presets, by name. A tenant picks one with `tier`.
    pub tiers: BTreeMap<String, TierSpec>,
    /// Defaults for every tenant's database cluster.
    pub database: DatabaseDefaults,
    /// Where backups are written, by name. Schedules refer to one with `location`.
    #[serde(default)]
    pub backup_locations: BTreeMap<String, BackupLocation>,
    /// How berth applies changes.
    #[serde(default)]
    pub policy: Policy,
    /// What the dashboard of `berth daemon` reads besides the clusters.
    #[serde(default)]
    pub dashboard: DashboardSection,
}

/// The `[dashboard]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardSection {
    /// Base URL of a Prometheus server that scrapes the daemon's `/metrics`, such as
    /// `http://prometheus.monitoring:9090` (`http` or `https`, no credentials, query or
    /// fragment). When set, the trends page offers ranges of 6 hours to 30 days read from it
    /// with `/api/v1/query_range`: sync duration, objects changed, drift and per-tenant quota
    /// use. Without it, the trends show the history the daemon keeps itself.
    #[serde(default)]
    pub prometheus_url: Option<String>,
}

/// The `[platform]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformSection {
    /// A short name of the platform, used in plan output and status pages.
    pub name: String,
    /// The cluster tenants go to when their file names none.
    #[serde(default)]
    pub default_cluster: Option<String>,
    /// Prefix of every tenant namespace: tenant `acme` lives in `<prefix>acme`.
    #[serde(default = "default_namespace_prefix")]
    pub namespace_prefix: String,
    /// Labels added to every object berth renders.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The Pod Security Standard enforced on every tenant namespace (its
    /// `pod-security.kubernetes.io/enforce`, `warn` and `audit` labels); none when absent.
    /// `restricted` also makes every tenant pod run as `run_as_user`.
    #[serde(default)]
    pub pod_security: Option<PodSecurityLevel>,
    /// The user and group id (not 0) that tenant pods (database, backups, restores) run as,
    /// with `runAsNonRoot`; 1000 when `pod_security = "restricted"` and this is absent, the
    /// images' own user otherwise. The database image must be able to run as this user.
    #[serde(default)]
    pub run_as_user: Option<u32>,
}

/// A Pod Security Standard level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Pod hardening best practices: non-root, no capabilities, RuntimeDefault seccomp.
    Restricted,
}

impl PodSecurityLevel {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

fn default_namespace_prefix() -> String {
    "tenant-".to_string()
}

/// How to reach one cluster.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// A kubeconfig context. When set, berth talks to this cluster through the Kubernetes API.
    #[serde(default)]
    pub context: Option<String>,
    /// Path of the kubeconfig file (relative to the config repository, or `~/...`); defaults to
    /// `$KUBECONFIG` or `~/.kube/config`.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Use the service account berth runs under (berth deployed inside this cluster).
    #[serde(default)]
    pub in_cluster: bool,
    /// Free text shown in status pages.
    #[serde(default)]
    pub description: Option<String>,
}

/// A quota preset. Its values are also the ceiling a tenant's `[quota]` may not pass, unless
/// `[tiers.<name>.ceiling]` raises it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// Total CPU requests of the tenant namespace, a Kubernetes quantity ("8", "500m").
    pub cpu: Quantity,
    /// Total memory requests of the tenant namespace ("16Gi").
    pub memory: Quantity,
    /// Total storage requested by the tenant's volumes ("200Gi").
    pub storage: Quantity,
    /// Maximum number of pods in the tenant namespace.
    pub pods: u32,
    /// Maximum number of database replicas a tenant of this tier may run.
    pub max_db_replicas: u32,
    /// Upper limits for tenant `[quota]` overrides; each defaults to the preset value.
    #[serde(default)]
    pub ceiling: Option<QuotaValues>,
    /// Free text shown in status pages.
    #[serde(default)]
    pub description: Option<String>,
}

/// Quota values; each one is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaValues {
    /// Total CPU requests ("8", "500m").
    #[serde(default)]
    pub cpu: Option<Quantity>,
    /// Total memory requests ("16Gi").
    #[serde(default)]
    pub memory: Option<Quantity>,
    /// Total storage requests ("200Gi").
    #[serde(default)]
    pub storage: Option<Quantity>,
    /// Maximum number of pods.
    #[serde(default)]
    pub pods: Option<u32>,
}

/// CPU and memory of one database pod.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU request of each database pod ("2", "500m").
    pub cpu: Quantity,
    /// Memory request (and limit) of each database pod ("4Gi").
    pub memory: Quantity,
    /// CPU limit of each database pod; none by default (CPU is compressible).
    #[serde(default)]
    pub cpu_limit: Option<Quantity>,
}

/// Overrides of the database pod resources; each one is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesOverride {
    /// CPU request of each database pod.
    #[serde(default)]
    pub cpu: Option<Quantity>,
    /// Memory request (and limit) of each database pod.
    #[serde(default)]
    pub memory: Option<Quantity>,
    /// CPU limit of each database pod.
    #[serde(default)]
    pub cpu_limit: Option<Quantity>,
}

/// The `[database]` table of platform.toml: what every tenant's database cluster looks like
/// unless the tenant overrides it. Engine details live here and in templates only.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseDefaults {
    /// The database engine; selects engine-specific parts of the templates ("kwdb").
    pub engine: String,
    /// Container image without tag ("kwdb/kwdb").
    pub image: String,
    /// Image tag, the engine version ("3.1.0").
    pub version: String,
    /// Image used by backup and restore jobs; defaults to `image:version`.
    #[serde(default)]
    pub client_image: Option<String>,
    /// Number of database nodes per tenant.
    pub replicas: u32,
    /// Volume size of each database node ("20Gi").
    pub storage: Quantity,
    /// StorageClass of the database volumes; the cluster default when absent.
    #[serde(default)]
    pub storage_class: Option<String>,
    /// Resources of each database pod.
    pub resources: Resources,
    /// SQL port.
    #[serde(default = "default_sql_port")]
    pub port: u16,
    /// HTTP port (admin UI, health checks).
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    /// Databases (SQL schemas) exported by backups unless a schedule lists its own.
    #[serde(default = "default_databases")]
    pub databases: Vec<String>,
    /// Whether the engine can take incremental backups.
    #[serde(default)]
    pub supports_incremental: bool,
}

fn default_sql_port() -> u16 {
    26257
}
fn default_http_port() -> u16 {
    8080
}
fn default_databases() -> Vec<String> {
    vec!["defaultdb".to_string()]
}

/// Kind of backup location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LocationKind {
    /// On the database's own volumes (`nodelocal://<node>/<path>`).
    Pvc,
    /// An HTTP server that accepts `PUT` (`url`).
    Http,
    /// An S3-compatible object store (`bucket`, `endpoint`, `region`); the export is written
    /// locally, then copied by an object-store client in the same job.
    S3,
}

/// A place backups are written to.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupLocation {
    /// `pvc`, `http` or `s3`.
    pub kind: LocationKind,
    /// Directory (pvc) or key prefix (s3) under which backups are written.
    #[serde(default)]
    pub path: Option<String>,
    /// Base URL of the HTTP server (http).
    #[serde(default)]
    pub url: Option<String>,
    /// Bucket name (s3).
    #[serde(default)]
    pub bucket: Option<String>,
    /// Endpoint URL of the object store (s3); AWS when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region of the bucket (s3).
    #[serde(default)]
    pub region: Option<String>,
    /// Name of the Secret, in each tenant namespace, that holds the credentials. A name, never
    /// a credential value.
    #[serde(default)]
    pub credentials_secret: Option<String>,
    /// Node whose volume receives `pvc` exports.
    #[serde(default = "default_node_id")]
    pub node_id: u32,
}

fn default_node_id() -> u32 {
    1
}

/// What berth does about drift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftMode {
    /// Report objects changed outside berth.
    #[default]
    Report,
    /// Report them and re-apply what Git says.
    Correct,
}

/// The `[policy]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Delete objects berth owns that are no longer in Git.
    #[serde(default = "yes")]
    pub prune: bool,
    /// `report` or `correct` drift.
    #[serde(default)]
    pub drift: DriftMode,
    /// Apply refuses a plan that deletes more objects than this, unless explicitly allowed.
    #[serde(default = "default_max_deletions")]
    pub max_deletions: u32,
    /// How many objects are applied at once within an apply wave.
    #[serde(default = "default_concurrency")]
    pub apply_concurrency: u32,
    /// Tenants that may be destroyed (their namespace, database and everything around them)
    /// when they leave the configuration, even with deletion protection: the reviewed, by-name
    /// permission for the daemon and CI (`--allow-destroy NAME` on the command line). Remove a
    /// name once its tenant is gone.
    #[serde(default)]
    pub allow_destroy: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            prune: true,
            drift: DriftMode::Report,
            max_deletions: default_max_deletions(),
            apply_concurrency: default_concurrency(),
            allow_destroy: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_max_deletions() -> u32 {
    25
}
fn default_concurrency() -> u32 {
    8
}

/// `tenants/<name>.toml`: one tenant.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "berth tenant")]
pub struct TenantFile {
    /// The tenant name: a DNS label, equal to the file name without `.toml`.
    pub name: String,
    /// Human-readable name shown in status pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The tier (quota preset) from platform.toml.
    pub tier: String,
    /// The cluster from platform.toml; `[platform] default_cluster` when absent.
    #[serde(default)]
    pub cluster: Option<String>,
    /// The tenant namespace; `<namespace_prefix><name>` when absent.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels added to the tenant's objects.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations added to the tenant's namespace.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// While true, berth never deletes the tenant's namespace or database volumes.
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Overrides of the tier's quota, within the tier's ceiling.
    #[serde(default)]
    pub quota: QuotaValues,
    /// People and robots with access to the tenant namespace.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Overrides of platform.toml's `[database]` for this tenant.
    #[serde(default)]
    pub database: DatabaseOverride,
    /// Network isolation.
    #[serde(default)]
    pub network: Network,
}

/// Kind of a member.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum SubjectKind {
    /// A user, as the cluster's authenticator names it.
    User,
    /// A group of users.
    Group,
    /// A Kubernetes ServiceAccount (in the tenant namespace unless `namespace` is set).
    ServiceAccount,
}

/// What a member may do in the tenant namespace.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in the namespace (ClusterRole `admin`).
    Admin,
    /// Read and write workloads (ClusterRole `edit`).
    Editor,
    /// Read only (ClusterRole `view`).
    Viewer,
}

impl Role {
    /// The built-in ClusterRole this role binds to.
    pub fn cluster_role(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "edit",
            Role::Viewer => "view",
        }
    }
}

/// A member of a tenant.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// User name, group name or ServiceAccount name.
    pub name: String,
    /// `User`, `Group` or `ServiceAccount`.
    #[serde(default = "default_subject_kind")]
    pub kind: SubjectKind,
    /// `admin`, `editor` or `viewer`.
    pub role: Role,
    /// Namespace of a ServiceAccount member; the tenant namespace when absent.
    #[serde(default)]
    pub namespace: Option<String>,
}

fn default_subject_kind() -> SubjectKind {
    SubjectKind::User
}

/// Tenant overrides of the database defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseOverride {
    /// Engine version (image tag).
    #[serde(default)]
    pub version: Option<String>,
    /// Number of database nodes, from 1 to the tier's `max_db_replicas`.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Volume size of each node.
    #[serde(default)]
    pub storage: Option<Quantity>,
    /// StorageClass of the volumes.
    #[serde(default)]
    pub storage_class: Option<String>,
    /// Resources of each database pod.
    #[serde(default)]
    pub resources: ResourcesOverride,
    /// Scale the database to zero pods, keeping its volumes.
    #[serde(default)]
    pub paused: bool,
    /// Databases exported by backups, replacing the platform default.
    #[serde(default)]
    pub databases: Option<Vec<String>>,
}

/// Network isolation of a tenant: ingress is denied except from the tenant's own namespace and
/// the ones listed here.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Namespaces allowed to reach the tenant. `tenant:<name>` names another tenant's namespace.
    #[serde(default)]
    pub allow_from: Vec<String>,
}

/// `backups/<name>.toml`: backup schedules and restore requests of one tenant.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "berth backups")]
pub struct BackupFile {
    /// The tenant these backups belong to: equal to the file name without `.toml`.
    pub tenant: String,
    /// Recurring backups.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// Restore requests. Each one runs once, ever.
    #[serde(default)]
    pub restores: Vec<Restore>,
}

/// Full or incremental backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// A complete export.
    #[default]
    Full,
    /// Only what changed since the previous backup (if the engine supports it).
    Incremental,
}

/// Export format of a backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupFormat {
    /// CSV files (`EXPORT INTO CSV`).
    #[default]
    Csv,
    /// SQL statements (`EXPORT INTO SQL`).
    Sql,
}

/// How many backups are kept. Both limits may be given; a backup is deleted once it is
/// outside both.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep at least this many of the newest successful backups.
    #[serde(default)]
    pub keep_last: Option<u32>,
    /// Keep every backup younger than this ("14d", "36h", "2w").
    #[serde(default)]
    pub keep_within: Option<String>,
}

/// A recurring backup.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Name, unique within the tenant; a DNS label.
    pub name: String,
    /// When to run: a 5-field cron expression ("0 2 * * *") or a macro such as "@daily"
    pub cron: String,
    /// IANA time zone of the cron expression ("Europe/Berlin"); UTC when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// A backup location from platform.toml.
    pub location: String,
    /// `full` or `incremental`.
    #[serde(default)]
    pub kind: BackupKind,
    /// `csv` or `sql`.
    #[serde(default)]
    pub format: BackupFormat,
    /// Databases to export; the tenant's databases when absent.
    #[serde(default)]
    pub databases: Option<Vec<String>>,
    /// How many backups to keep.
    #[serde(default)]
    pub retention: Retention,
    /// Suspend the schedule.
    #[serde(default)]
    pub paused: bool,
}

/// A request to restore a backup. It runs once and is never re-run.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// Name, unique within the tenant; a DNS label.
    pub name: String,
    /// Restore the newest backup of this schedule (at or before `point_in_time`).
    #[serde(default)]
    pub from_schedule: Option<String>,
    /// Restore the backup at this path of `location` instead.
    #[serde(default)]
    pub from_path: Option<String>,
    /// Location of `from_path`; the schedule's location when restoring from a schedule.
    #[serde(default)]
    pub location: Option<String>,
    /// Newest backup taken at or before this RFC 3339 time.
    #[serde(default)]
    pub point_in_time: Option<String>,
    /// Tenant to restore into; this file's tenant when absent.
    #[serde(default)]
    pub target: Option<String>,
    /// Databases to import; all databases of the backup when absent.
    #[serde(default)]
    pub databases: Option<Vec<String>>,
}
