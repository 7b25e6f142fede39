//! The validated, resolved configuration: what `spec` hands to `render`.
//!
//! Every default is filled in (tier presets, platform database defaults, default cluster),
//! every reference is resolved, and each value says which file it came from. Templates receive
//! these structures as their context, so field names here are part of the template contract.

use std::collections::BTreeMap;

use serde::Serialize;

use super::types::{
    BackupFormat, BackupKind, BackupLocation, DriftMode, LocationKind, Member, Role, SubjectKind,
};
use crate::values::Quantity;

/// A whole validated config repository.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The platform name from `[platform] name`.
    pub platform_name: String,
    /// What the config was read from: a directory path or a Git commit id.
    pub revision: Option<String>,
    /// Clusters, by name.
    pub clusters: BTreeMap<String, Cluster>,
    /// Tenants, sorted by name.
    pub tenants: Vec<Tenant>,
    /// Labels added to every object.
    pub common_labels: BTreeMap<String, String>,
    /// Policy of the platform.
    pub policy: PolicyModel,
    /// Database defaults of the platform (engine, ports, ...), for templates.
    pub database_engine: String,
    /// What the daemon's dashboard reads besides the clusters.
    pub dashboard: DashboardModel,
    /// Pod Security of the tenant namespaces and their pods.
    pub pod_security: PodSecurityModel,
}

/// The `[platform] pod_security` and `run_as_user` settings, resolved: what templates read as
/// `platform.pod_security`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PodSecurityModel {
    /// The level enforced (and warned and audited) on tenant namespaces, when one is.
    pub level: Option<&'static str>,
    /// The user and group id tenant pods run as (with `runAsNonRoot`), when set.
    pub run_as_user: Option<u32>,
}

/// The `[dashboard]` settings, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DashboardModel {
    /// The Prometheus server's base URL, without a trailing `/`.
    pub prometheus_url: Option<String>,
}

impl Config {
    /// A copy with only the tenants `keep` accepts (the others are not cloned).
    pub fn with_tenants(&self, keep: impl Fn(&Tenant) -> bool) -> Config {
        Config {
            platform_name: self.platform_name.clone(),
            revision: self.revision.clone(),
            clusters: self.clusters.clone(),
            tenants: self.tenants.iter().filter(|t| keep(t)).cloned().collect(),
            common_labels: self.common_labels.clone(),
            policy: self.policy.clone(),
            database_engine: self.database_engine.clone(),
            dashboard: self.dashboard.clone(),
            pod_security: self.pod_security.clone(),
        }
    }
}

/// How berth reaches a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterTarget {
    /// The embedded local cluster store.
    Embedded,
    /// A kubeconfig context.
    Kubeconfig {
        /// Context name.
        context: String,
        /// Kubeconfig path, if not the default.
        path: Option<String>,
    },
    /// The service account berth runs under.
    InCluster,
}

/// One cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// How to reach it.
    pub target: ClusterTarget,
}

/// The platform policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyModel {
    /// Delete owned objects that are no longer desired.
    pub prune: bool,
    /// Report or correct drift.
    pub drift: DriftMode,
    /// Apply refuses to delete more objects than this without explicit permission.
    pub max_deletions: u32,
    /// Objects applied at once within a wave.
    pub apply_concurrency: u32,
    /// Tenants permitted to be destroyed by name (`policy.allow_destroy`).
    pub allow_destroy: Vec<String>,
}

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The tenant file.
    Tenant,
    /// The tier preset in platform.toml.
    Tier,
    /// The `[database]` defaults in platform.toml.
    Platform,
    /// berth's built-in default.
    Builtin,
}

/// A value and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}

/// Effective quota of a tenant namespace.
#[derive(Debug, Clone, Serialize)]
pub struct Quota {
    /// Total CPU requests.
    pub cpu: Sourced<Quantity>,
    /// Total memory requests.
    pub memory: Sourced<Quantity>,
    /// Total storage requests.
    pub storage: Sourced<Quantity>,
    /// Maximum pods.
    pub pods: Sourced<u32>,
}

/// A tenant's database cluster, defaults resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    /// Engine name ("kwdb").
    pub engine: String,
    /// Image without tag.
    pub image: String,
    /// Image tag.
    pub version: Sourced<String>,
    /// `image:version`.
    pub image_ref: String,
    /// Image of backup and restore jobs.
    pub client_image: String,
    /// Desired replicas (0 when paused).
    pub replicas: Sourced<u32>,
    /// Whether the database is paused (scaled to zero).
    pub paused: bool,
    /// Volume size of each node.
    pub storage: Sourced<Quantity>,
    /// StorageClass of the volumes.
    pub storage_class: Option<String>,
    /// CPU request per pod.
    pub cpu: Sourced<Quantity>,
    /// Memory request and limit per pod.
    pub memory: Sourced<Quantity>,
    /// CPU limit per pod.
    pub cpu_limit: Option<Quantity>,
    /// SQL port.
    pub port: u16,
    /// HTTP port.
    pub http_port: u16,
    /// Databases exported by backups.
    pub databases: Vec<String>,
}

/// A member of a tenant, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct TenantMember {
    /// Subject name.
    pub name: String,
    /// Subject kind.
    pub kind: SubjectKind,
    /// Role.
    pub role: Role,
    /// The ClusterRole the role binds to (`admin`, `edit`, `view`).
    pub cluster_role: &'static str,
    /// Namespace of a ServiceAccount subject.
    pub namespace: Option<String>,
}

impl TenantMember {
    pub(crate) fn from_spec(m: &Member, tenant_namespace: &str) -> Self {
        let namespace = match m.kind {
            SubjectKind::ServiceAccount => Some(
                m.namespace
                    .clone()
                    .unwrap_or_else(|| tenant_namespace.to_string()),
            ),
            _ => None,
        };
        TenantMember {
            name: m.name.clone(),
            kind: m.kind,
            role: m.role,
            cluster_role: m.role.cluster_role(),
            namespace,
        }
    }
}

/// A backup location, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    /// Location name.
    pub name: String,
    /// Kind of location.
    pub kind: LocationKind,
    /// The location as written in platform.toml.
    #[serde(flatten)]
    pub spec: BackupLocation,
}

/// Retention of a schedule.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionModel {
    /// Keep this many newest backups.
    pub keep_last: Option<u32>,
    /// Keep backups younger than this, as written ("14d").
    pub keep_within: Option<String>,
    /// `keep_within` in seconds.
    pub keep_within_seconds: Option<u64>,
}

/// A backup schedule, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSchedule {
    /// Schedule name.
    pub name: String,
    /// Cron expression (macros kept as written).
    pub cron: String,
    /// Time zone.
    pub timezone: Option<String>,
    /// Where backups go.
    pub location: Location,
    /// Full or incremental.
    pub kind: BackupKind,
    /// CSV or SQL.
    pub format: BackupFormat,
    /// Databases exported.
    pub databases: Vec<String>,
    /// Retention.
    pub retention: RetentionModel,
    /// Suspended.
    pub paused: bool,
}

/// A restore request, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreRequest {
    /// Restore name.
    pub name: String,
    /// The schedule whose newest backup is restored.
    pub from_schedule: Option<String>,
    /// Or an explicit backup path.
    pub from_path: Option<String>,
    /// Location the backup is read from.
    pub location: Location,
    /// Restore the newest backup at or before this time (RFC 3339, as written).
    pub point_in_time: Option<String>,
    /// `point_in_time` as unix seconds.
    pub point_in_time_unix: Option<i64>,
    /// Tenant the backup belongs to (the backups file's tenant).
    pub source_tenant: String,
    /// Databases imported.
    pub databases: Vec<String>,
}

/// One tenant, everything resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Tenant name.
    pub name: String,
    /// Display name (the name when none is given).
    pub display_name: String,
    /// Tier name.
    pub tier: String,
    /// Cluster name.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Spec file, relative to the repo root (`tenants/acme.toml`).
    pub source_file: String,
    /// Backups file, if any.
    pub backup_file: Option<String>,
    /// Labels for the tenant's objects (user labels; ownership labels are added by render).
    pub labels: BTreeMap<String, String>,
    /// Annotations of the namespace.
    pub annotations: BTreeMap<String, String>,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Effective quota.
    pub quota: Quota,
    /// Maximum database replicas of the tier.
    pub max_db_replicas: u32,
    /// Members.
    pub members: Vec<TenantMember>,
    /// Database cluster.
    pub database: Database,
    /// Namespaces allowed to reach the tenant (resolved from `tenant:<name>` entries).
    pub allow_from: Vec<String>,
    /// Backup schedules.
    pub schedules: Vec<BackupSchedule>,
    /// Restore requests that target this tenant.
    pub restores: Vec<RestoreRequest>,
}
