//! Identity, apply order and ownership markers of the Kubernetes objects berth manages.
//!
//! Shared by every stage after `spec`: `render` produces objects with these identities and
//! markers, `observe` lists live objects by the ownership label, `plan` and `apply` order their
//! work with [`wave`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// Label every object berth writes carries; its value is [`MANAGED_BY_VALUE`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`] on objects berth owns.
pub const MANAGED_BY_VALUE: &str = "berth";
/// Label naming the tenant an object belongs to.
pub const TENANT_LABEL: &str = "berth.io/tenant";
/// Annotation naming the spec file (relative to the repo root) an object was rendered from.
pub const SOURCE_ANNOTATION: &str = "berth.io/source";
/// Annotation on a tenant's Namespace: `"true"` or `"false"`, the tenant's
/// `deletion_protection` when it was rendered. Plan reads it from what was last applied.
pub const DELETION_PROTECTION_ANNOTATION: &str = "berth.io/deletion-protection";
/// Label naming the backup schedule a CronJob runs.
pub const SCHEDULE_LABEL: &str = "berth.io/schedule";
/// Label naming the restore request a Job runs.
pub const RESTORE_LABEL: &str = "berth.io/restore";
/// Prefix of the annotations on a tenant's Namespace that record its restores: one key per
/// restore, `restore.berth.io/<name>`, holding `{"state":"started|completed|failed","at":"<RFC
/// 3339>"}`. Written by apply as field manager [`RECORDS_FIELD_MANAGER`], never part of a
/// rendered manifest, so the diff never sees them. A recorded restore is never run again.
pub const RESTORE_RECORD_PREFIX: &str = "restore.berth.io/";
/// Annotation on a tenant's Namespace: the config revision last applied to the tenant.
/// Written like the restore records.
pub const REVISION_ANNOTATION: &str = "berth.io/revision";
/// Annotation on a tenant's Namespace: the objects of the tenant as of its last complete
/// apply, `Kind/name` separated by commas (the Namespace itself and restore Jobs left out).
/// Written like the restore records. An object listed here that is gone from the cluster was
/// deleted outside berth: drift of kind `missing`.
pub const INVENTORY_ANNOTATION: &str = "berth.io/inventory";
/// Annotation on a tenant's Namespace: the digest of everything the tenant's objects were
/// rendered from (berth's version, the templates, the platform-wide template context and the
/// resolved tenant), as of its last complete apply. Written like the restore records.
/// `plan --changed` plans only the tenants whose digest differs.
pub const INPUTS_ANNOTATION: &str = "berth.io/inputs";
/// Annotation on a tenant's Namespace: the config revision that removed the tenant from the
/// configuration while deletion protection kept it (written like the restore records by the
/// first apply that kept it, cleared when the tenant is applied again).
pub const REMOVED_ANNOTATION: &str = "berth.io/removed-in";
/// Field manager of berth's bookkeeping writes (restore records, the applied revision): a
/// manager apart from `berth`, so that applying the rendered Namespace never removes them.
pub const RECORDS_FIELD_MANAGER: &str = "berth-records";

/// The field manager of a volume resize (apply raising a PersistentVolumeClaim's storage
/// request): the claim is the StatefulSet controller's object, and the request is the one
/// field berth writes on it.
pub const RESIZE_FIELD_MANAGER: &str = "berth-resize";

/// A config revision as people read it: a Git commit's sha (40 or 64 hex digits) cut to its
/// first 12 characters, anything else (a directory's `sha256:` digest, already short) as it
/// is. JSON output keeps the full value.
pub fn short_revision(revision: &str) -> &str {
    let is_sha =
        matches!(revision.len(), 40 | 64) && revision.bytes().all(|b| b.is_ascii_hexdigit());
    if is_sha {
        &revision[..12]
    } else {
        revision
    }
}

/// The identity of one Kubernetes object.
///
/// Ordered by `api_version`, `kind`, `namespace` (cluster-scoped first), `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `StatefulSet`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// The API group of the object (`""` for the core group).
    pub fn group(&self) -> &str {
        match self.api_version.rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// The apply wave of the object's kind, see [`wave`].
    pub fn wave(&self) -> u8 {
        wave(&self.kind)
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// The last wave: kinds berth has no rule for.
pub const UNKNOWN_WAVE: u8 = 6;

/// The apply wave of a kind: objects are applied wave by wave, lowest first, and deleted in
/// the reverse order.
///
/// | wave | kinds | why |
/// | --- | --- | --- |
/// | 0 | Namespace | everything else lives in it |
/// | 1 | ServiceAccount, Role, RoleBinding, ResourceQuota, LimitRange, NetworkPolicy | access, limits and isolation in place before any workload exists |
/// | 2 | Secret, ConfigMap | configuration that pods mount or read |
/// | 3 | Service | stable network names before the pods that use them start |
/// | 4 | StatefulSet, PodDisruptionBudget | the database itself |
/// | 5 | CronJob, Job | backups and restores need a running database |
/// | 6 | anything else | unknown kinds go last |
pub fn wave(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "ServiceAccount" | "Role" | "RoleBinding" | "ResourceQuota" | "LimitRange"
        | "NetworkPolicy" => 1,
        "Secret" | "ConfigMap" => 2,
        "Service" => 3,
        "StatefulSet" | "PodDisruptionBudget" => 4,
        "CronJob" | "Job" => 5,
        _ => UNKNOWN_WAVE,
    }
}

/// The inventory entry of an object: `Kind/name` (tenant objects all live in the tenant's
/// Namespace).
pub fn inventory_entry(id: &ObjectRef) -> String {
    format!("{}/{}", id.kind, id.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: &str, ns: Option<&str>) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: ns.map(Into::into),
            name: "x".into(),
        }
    }

    #[test]
    fn display_namespaced_and_cluster_scoped() {
        assert_eq!(
            r("Service", Some("tenant-a")).to_string(),
            "Service/tenant-a/x"
        );
        assert_eq!(r("Namespace", None).to_string(), "Namespace/x");
    }

    #[test]
    fn waves_are_ordered() {
        let order = [
            "Namespace",
            "ResourceQuota",
            "Secret",
            "Service",
            "StatefulSet",
            "CronJob",
            "Widget",
        ];
        for pair in order.windows(2) {
            assert!(wave(pair[0]) < wave(pair[1]), "{pair:?}");
        }
        assert_eq!(wave("RoleBinding"), wave("NetworkPolicy"));
        assert_eq!(wave("Job"), wave("CronJob"));
    }

    #[test]
    fn group_of_core_and_named_groups() {
        assert_eq!(r("Service", None).group(), "");
        let mut s = r("StatefulSet", None);
        s.api_version = "apps/v1".into();
        assert_eq!(s.group(), "apps");
    }
}
