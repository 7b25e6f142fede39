//! The kinds the store knows: the ones berth renders and the ones their controllers and
//! admission read (ControllerRevision, StorageClass), with their API group, version, plural
//! resource name and scope.

/// One kind of object the store can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindInfo {
    /// API group, "" for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Kind, as in an object's `kind` field.
    pub kind: &'static str,
    /// Plural resource name, as in URL paths.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts (`ns`, `sts`, ...).
    pub short_names: &'static [&'static str],
    /// Whether the kind has a `/status` subresource (status is then ignored on writes to the
    /// main resource).
    pub has_status: bool,
}

impl KindInfo {
    /// Whether the server keeps `metadata.generation` for this kind: only kinds whose registry
    /// strategy sets it in `PrepareForCreate` (`pkg/registry/apps/statefulset/strategy.go`,
    /// `.../apps/deployment`, `.../batch/job`, `.../batch/cronjob`,
    /// `.../networking/networkpolicy`, `.../policy/poddisruptionbudget`, `.../core/pod`).
    /// ConfigMaps, Secrets, Namespaces, RBAC objects and the like have none.
    pub fn has_generation(&self) -> bool {
        matches!(
            self.kind,
            "StatefulSet"
                | "Deployment"
                | "Job"
                | "CronJob"
                | "NetworkPolicy"
                | "PodDisruptionBudget"
                | "Pod"
        )
    }

    /// `apiVersion` of objects of this kind: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource as Kubernetes names it in messages: `statefulsets.apps`, `pods`.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind as Kubernetes names it in validation messages: `StatefulSet.apps`, `Service`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

#[allow(clippy::too_many_arguments)]
const fn k(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    has_status: bool,
) -> KindInfo {
    KindInfo {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        short_names,
        has_status,
    }
}

static KINDS: &[KindInfo] = &[
    k(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["ns"],
        true,
    ),
    k(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "resourcequota",
        true,
        &["quota"],
        true,
    ),
    k(
        "",
        "v1",
        "LimitRange",
        "limitranges",
        "limitrange",
        true,
        &["limits"],
        false,
    ),
    k(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        false,
    ),
    k(
        "",
        "v1",
        "Service",
        "services",
        "service",
        true,
        &["svc"],
        true,
    ),
    k("", "v1", "Secret", "secrets", "secret", true, &[], false),
    k(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        false,
    ),
    k(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        true,
        &["pvc"],
        true,
    ),
    k("", "v1", "Pod", "pods", "pod", true, &["po"], true),
    k(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        true,
        &["netpol"],
        false,
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        true,
        &[],
        false,
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        true,
        &[],
        false,
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        false,
        &[],
        false,
    ),
    k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        false,
        &[],
        false,
    ),
    k(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        true,
        &["sts"],
        true,
    ),
    k(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        "controllerrevision",
        true,
        &[],
        false,
    ),
    k(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["deploy"],
        true,
    ),
    k(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        true,
        &["pdb"],
        true,
    ),
    k(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        true,
        &["cj"],
        true,
    ),
    k("batch", "v1", "Job", "jobs", "job", true, &[], true),
    k(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
        &[],
        false,
    ),
    k(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storageclass",
        false,
        &["sc"],
        false,
    ),
];

/// Every kind the store knows.
pub fn kinds() -> &'static [KindInfo] {
    KINDS
}

/// The kind named `kind` (`StatefulSet`), case-sensitive.
pub fn kind_by_name(kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// The kind of an `apiVersion` + `kind` pair.
pub fn kind_by_api_version(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    KINDS
        .iter()
        .find(|k| k.kind == kind && k.group == group && k.version == version)
}

/// The kind served at `plural` in `group` (`statefulsets`, `apps`).
pub fn kind_by_plural(group: &str, plural: &str) -> Option<&'static KindInfo> {
    KINDS
        .iter()
        .find(|k| k.plural == plural && k.group == group)
}

/// The distinct API groups (other than core) with their versions, in table order.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for k in KINDS {
        if !k.group.is_empty() && !out.iter().any(|(g, v)| *g == k.group && *v == k.version) {
            out.push((k.group, k.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(
            kind_by_name("StatefulSet").map(|k| k.plural),
            Some("statefulsets")
        );
        assert_eq!(
            kind_by_plural("apps", "statefulsets").map(|k| k.kind),
            Some("StatefulSet")
        );
        assert!(kind_by_plural("", "statefulsets").is_none());
        assert_eq!(
            kind_by_api_version("batch/v1", "CronJob").map(|k| k.plural),
            Some("cronjobs")
        );
        assert_eq!(
            kind_by_api_version("v1", "Namespace").map(|k| k.namespaced),
            Some(false)
        );
        assert_eq!(kinds().len(), 22);
        assert!(groups().contains(&("apps", "v1")));
        let sts = kind_by_name("StatefulSet").unwrap();
        assert_eq!(sts.qualified_resource(), "statefulsets.apps");
        assert_eq!(sts.api_version(), "apps/v1");
        assert_eq!(kind_by_name("Pod").unwrap().qualified_kind(), "Pod");
    }
}
