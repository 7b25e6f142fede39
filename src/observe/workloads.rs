//! Reading what the tenants' workloads report, for `berth status` and `berth show tenant`:
//! objects berth does not own but its objects create (the Jobs of backup CronJobs, database
//! Pods), read with [`Backend::list_typed`] into their k8s-openapi types for
//! [`crate::health`]. Separate from [`super::observe`], which a plan needs; these reads only
//! describe.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use crate::cluster::{Backend, KindRef};
use crate::object::TENANT_LABEL;

/// Jobs and Pods of some tenants on one cluster.
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    /// Jobs labelled with a tenant ([`TENANT_LABEL`]): those of backup CronJobs and restores.
    pub jobs: Vec<Job>,
    /// Pods, by tenant: those matching its database StatefulSets' selectors.
    pub pods: BTreeMap<String, Vec<Pod>>,
    /// Why the cluster could not be read, when it could not.
    pub error: Option<String>,
    /// LIST requests made.
    pub requests: u64,
}

/// What to read on one cluster.
#[derive(Debug, Clone, Default)]
pub struct WorkloadQuery {
    /// Tenants whose Jobs to list (one LIST by `berth.io/tenant in (...)`); empty: none.
    pub job_tenants: Vec<String>,
    /// Per tenant, `(namespace, label selector)` of its database Pods: one LIST each.
    pub pods: Vec<(String, String, String)>,
}

/// Reads [`Workloads`] of each cluster in `queries`, clusters in parallel; a cluster without
/// a backend gets an error.
pub async fn observe_workloads(
    backends: &BTreeMap<String, Backend>,
    queries: BTreeMap<String, WorkloadQuery>,
) -> BTreeMap<String, Workloads> {
    let mut tasks = tokio::task::JoinSet::new();
    for (cluster, query) in queries {
        let backend = backends.get(&cluster).cloned();
        tasks.spawn(async move {
            let w = match backend {
                Some(b) => read(&b, &query).await,
                None => Workloads {
                    error: Some(format!("cluster `{cluster}`: not connected")),
                    ..Workloads::default()
                },
            };
            (cluster, w)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((cluster, w)) = joined {
            out.insert(cluster, w);
        }
    }
    out
}

async fn read(backend: &Backend, query: &WorkloadQuery) -> Workloads {
    let mut w = Workloads::default();
    if !query.job_tenants.is_empty() {
        let selector = format!("{TENANT_LABEL} in ({})", query.job_tenants.join(","));
        match backend
            .list_typed::<Job>(&KindRef::new("batch/v1", "Job"), None, &selector, false)
            .await
        {
            Ok((items, n)) => {
                w.jobs = items;
                w.requests += n;
            }
            Err(e) => {
                w.error = Some(e.to_string());
                return w;
            }
        }
    }
    for (tenant, namespace, selector) in &query.pods {
        match backend
            .list_typed::<Pod>(&KindRef::new("v1", "Pod"), Some(namespace), selector, false)
            .await
        {
            Ok((items, n)) => {
                w.pods.entry(tenant.clone()).or_default().extend(items);
                w.requests += n;
            }
            Err(e) => {
                w.error = Some(e.to_string());
                return w;
            }
        }
    }
    w
}
