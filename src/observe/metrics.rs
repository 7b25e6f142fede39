//! What the tenants' pods use right now, from the Kubernetes metrics API
//! (`metrics.k8s.io/v1beta1`, served by metrics-server), for the daemon's dashboard. Per
//! cluster: discovery of the API version (a cluster that does not serve it is skipped
//! quietly), then ONE LIST of every `PodMetrics`, summed per namespace. Describes only; a
//! plan never reads it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cluster::{Backend, KindRef};
use crate::values::parse_quantity;
use crate::values::time::parse_rfc3339;

/// The `apiVersion` of pod metrics.
pub const METRICS_API_VERSION: &str = "metrics.k8s.io/v1beta1";

/// The kind read.
pub fn pod_metrics_kind() -> KindRef {
    KindRef::new(METRICS_API_VERSION, "PodMetrics")
}

/// What the pods of one namespace use, summed over their containers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodUsage {
    /// CPU in use, cores.
    pub cpu: f64,
    /// Memory in use (the working set metrics-server reports), bytes.
    pub memory: f64,
    /// Pods measured.
    pub pods: usize,
    /// The newest measurement's `timestamp`, unix seconds.
    pub at: Option<i64>,
    /// Its `window` (the interval the CPU rate is taken over), as the API wrote it.
    pub window: Option<String>,
}

/// What reading one cluster's metrics API gave.
#[derive(Debug, Clone, PartialEq)]
pub enum PodMetrics {
    /// The cluster does not serve `metrics.k8s.io/v1beta1` (no metrics-server): nothing was
    /// listed.
    NotServed,
    /// Served when discovery last looked, but the LIST answered 404: the API was removed
    /// since (a long-lived client's discovery can be minutes old). Nothing was read.
    Withdrawn,
    /// Usage by namespace (namespaces without measured pods are absent).
    Read {
        /// By namespace.
        by_namespace: BTreeMap<String, PodUsage>,
        /// LIST requests made (pages).
        requests: u64,
    },
    /// Discovery or the LIST failed: one line.
    Failed(String),
}

/// Sums `PodMetrics` items (as a `PodMetricsList` holds them) per namespace. Items or
/// quantities that cannot be read are skipped.
pub fn sum_by_namespace(items: &[Value]) -> BTreeMap<String, PodUsage> {
    let mut out: BTreeMap<String, PodUsage> = BTreeMap::new();
    for item in items {
        let Some(ns) = item.pointer("/metadata/namespace").and_then(Value::as_str) else {
            continue;
        };
        let u = out.entry(ns.to_string()).or_default();
        u.pods += 1;
        for c in item
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let q = |k: &str| {
                c.pointer(&format!("/usage/{k}"))
                    .and_then(Value::as_str)
                    .and_then(|s| parse_quantity(s).ok())
                    .map(|q| q.to_f64())
                    .unwrap_or(0.0)
            };
            u.cpu += q("cpu");
            u.memory += q("memory");
        }
        let at = item
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|s| parse_rfc3339(s).ok());
        if at.is_some() && at > u.at {
            u.at = at;
            u.window = item
                .get("window")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    out
}

/// How long reading one cluster's metrics API may take (discovery and the LIST): the
/// aggregated API can hang while metrics-server is down, and the daemon's cycle waits.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the metrics API of each cluster in `clusters` that has a backend, in parallel, each
/// within [`TIMEOUT`].
pub async fn observe_pod_metrics(
    backends: &BTreeMap<String, Backend>,
    clusters: &BTreeSet<String>,
) -> BTreeMap<String, PodMetrics> {
    let mut tasks = tokio::task::JoinSet::new();
    for cluster in clusters {
        let Some(backend) = backends.get(cluster).cloned() else {
            continue;
        };
        let cluster = cluster.clone();
        tasks.spawn(async move {
            let m = match tokio::time::timeout(TIMEOUT, read(&backend)).await {
                Ok(m) => m,
                Err(_) => PodMetrics::Failed(format!(
                    "cluster `{cluster}`: the metrics API did not answer within {} s",
                    TIMEOUT.as_secs()
                )),
            };
            (cluster, m)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((cluster, m)) = joined {
            out.insert(cluster, m);
        }
    }
    out
}

async fn read(backend: &Backend) -> PodMetrics {
    let kind = pod_metrics_kind();
    match backend.serves(&kind).await {
        Ok(false) => return PodMetrics::NotServed,
        Ok(true) => {}
        Err(e) => return PodMetrics::Failed(e.to_string()),
    }
    match backend.list(&kind, None, "", false).await {
        Ok((items, requests)) => PodMetrics::Read {
            by_namespace: sum_by_namespace(&items),
            requests,
        },
        Err(crate::cluster::ClusterError::NotFound { .. }) => PodMetrics::Withdrawn,
        Err(e) => PodMetrics::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_metrics_are_summed_per_namespace_in_cores_and_bytes() {
        let items = vec![
            json!({"metadata": {"name": "db-0", "namespace": "tenant-a"},
                   "timestamp": "2026-11-25T01:00:00Z", "window": "15s",
                   "containers": [
                       {"name": "db", "usage": {"cpu": "250000000n", "memory": "1Gi"}},
                       {"name": "exporter", "usage": {"cpu": "5m", "memory": "20Mi"}}]}),
            json!({"metadata": {"name": "db-1", "namespace": "tenant-a"},
                   "timestamp": "2026-11-25T01:00:05Z", "window": "16s",
                   "containers": [{"name": "db", "usage": {"cpu": "1", "memory": "512Mi"}}]}),
            json!({"metadata": {"name": "x", "namespace": "tenant-b"},
                   "containers": [{"name": "x", "usage": {"cpu": "bogus", "memory": "1Ki"}}]}),
            json!({"metadata": {"name": "no-namespace"}}),
        ];
        let m = sum_by_namespace(&items);
        let a = &m["tenant-a"];
        assert_eq!(a.pods, 2);
        assert!((a.cpu - 1.255).abs() < 1e-9, "{a:?}");
        assert_eq!(a.memory, (1024.0 + 20.0 + 512.0) * 1024.0 * 1024.0);
        assert_eq!(a.at, Some(parse_rfc3339("2026-11-25T01:00:05Z").unwrap()));
        assert_eq!(a.window.as_deref(), Some("16s"));
        let b = &m["tenant-b"];
        assert_eq!((b.cpu, b.memory, b.at), (0.0, 1024.0, None));
        assert_eq!(m.len(), 2);
    }

    #[tokio::test]
    async fn the_embedded_cluster_serves_no_metrics_api() {
        let store = crate::store::ObjectStore::in_memory().unwrap();
        let backend =
            Backend::Embedded(crate::cluster::EmbeddedCluster::from_store("local", store));
        let backends = BTreeMap::from([("local".to_string(), backend)]);
        let read = observe_pod_metrics(&backends, &BTreeSet::from(["local".to_string()])).await;
        assert_eq!(read["local"], PodMetrics::NotServed);
    }
}
