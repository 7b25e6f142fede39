//! The metrics API (`metrics.k8s.io/v1beta1`) as metrics-server serves it through the
//! aggregation layer: discovery, and `PodMetrics` (GET and LIST, across namespaces, in one
//! namespace, by label and field selector) in the real wire format. Tests set the figures
//! with [`super::ApiServer::set_pod_metrics`]; nothing measures anything. `NodeMetrics`
//! lists are served empty (the server has no nodes).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The group and version.
pub(crate) const GROUP: &str = "metrics.k8s.io";
/// See [`GROUP`].
pub(crate) const VERSION: &str = "v1beta1";

/// One pod's figures.
#[derive(Debug, Clone)]
pub(crate) struct PodFigures {
    /// `(container, cpu, memory)` as quantities (`250m`, `4014829n`; `13496Ki`).
    pub(crate) containers: Vec<(String, String, String)>,
    /// When they were set, RFC 3339.
    pub(crate) timestamp: String,
}

/// What the metrics API serves.
#[derive(Debug)]
pub(crate) struct MetricsState {
    /// Whether the group is served at all (discovery lists it).
    pub(crate) served: bool,
    /// By `(namespace, pod)`.
    pub(crate) pods: BTreeMap<(String, String), PodFigures>,
}

impl Default for MetricsState {
    fn default() -> Self {
        MetricsState {
            served: true,
            pods: BTreeMap::new(),
        }
    }
}

/// The window metrics-server reports (its default resolution).
pub(crate) const WINDOW: &str = "15s";

/// The `APIGroup` of `metrics.k8s.io`.
pub(crate) fn api_group() -> Value {
    let gv = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [gv.clone()], "preferredVersion": gv})
}

/// The `APIResourceList` of `metrics.k8s.io/v1beta1`, as metrics-server answers it.
pub(crate) fn resource_list() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
        ]
    })
}

/// One `PodMetrics` (without `kind` and `apiVersion`, as list items are); `labels` are the
/// pod's, when the pod exists in the store.
pub(crate) fn pod_metrics(ns: &str, name: &str, f: &PodFigures, labels: Option<Value>) -> Value {
    let mut metadata = json!({"name": name, "namespace": ns, "creationTimestamp": f.timestamp});
    if let Some(l) = labels.filter(|l| l.as_object().is_some_and(|m| !m.is_empty())) {
        metadata["labels"] = l;
    }
    let containers: Vec<Value> = f
        .containers
        .iter()
        .map(|(c, cpu, memory)| json!({"name": c, "usage": {"cpu": cpu, "memory": memory}}))
        .collect();
    json!({
        "metadata": metadata,
        "timestamp": f.timestamp,
        "window": WINDOW,
        "containers": containers,
    })
}

/// A `PodMetricsList` of `items`.
pub(crate) fn pod_metrics_list(items: Vec<Value>) -> Value {
    json!({
        "kind": "PodMetricsList",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {},
        "items": items,
    })
}

/// An empty `NodeMetricsList`.
pub(crate) fn node_metrics_list() -> Value {
    json!({
        "kind": "NodeMetricsList",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {},
        "items": [],
    })
}
