//! [`wait_ready`]: after an apply, wait until the databases berth touched are ready.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{ApplyEvent, ChangeSet, Outcome};
use crate::cluster::{Backend, ClusterError};
use crate::health::{rollout, Rollout};
use crate::object::ObjectRef;
use crate::plan::Action;

/// Why waiting ended without every StatefulSet ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// Time ran out; the StatefulSets not ready, as `cluster: Kind/ns/name (ready/desired)`.
    #[error("timed out after {}s waiting for {}", .timeout.as_secs(), .pending.join(", "))]
    TimedOut {
        /// The timeout.
        timeout: Duration,
        /// What was still not ready.
        pending: Vec<String>,
    },
    /// A StatefulSet could not be read for a reason other than a passing failure.
    #[error("{0}")]
    Cluster(ClusterError),
    /// A StatefulSet is gone.
    #[error("cluster `{cluster}`: {id} does not exist")]
    Missing {
        /// Cluster.
        cluster: String,
        /// Object.
        id: ObjectRef,
    },
    /// No backend for a cluster.
    #[error("cluster `{0}` is not connected")]
    NotConnected(String),
}

/// The StatefulSets an apply created, updated or replaced: `(cluster, id)`.
pub fn statefulsets_to_wait_for(set: &ChangeSet) -> Vec<(String, ObjectRef)> {
    set.entries
        .iter()
        .filter(|e| e.id.kind == "StatefulSet")
        .filter(|e| matches!(e.action, Action::Create | Action::Update | Action::Replace))
        .filter(|e| e.outcome == Outcome::Applied)
        .map(|e| (e.cluster.clone(), e.id.clone()))
        .collect()
}

/// Polls each StatefulSet in `targets` (`(cluster, id)`) until its rollout is complete (every
/// replica ready and at the current revision, as `kubectl rollout status` decides it) for all
/// of them, or `timeout` passes. Embedded clusters run no controllers: their StatefulSets
/// count as ready at once (with a progress event saying so). Transient read failures are
/// retried until the timeout.
pub async fn wait_ready(
    backends: &BTreeMap<String, Backend>,
    targets: &[(String, ObjectRef)],
    timeout: Duration,
    progress: &dyn Fn(&ApplyEvent),
) -> Result<(), WaitError> {
    let start = Instant::now();
    let poll = (timeout / 20).clamp(Duration::from_millis(50), Duration::from_secs(2));
    let mut embedded: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pending: Vec<(&Backend, &str, &ObjectRef)> = Vec::new();
    for (cluster, id) in targets {
        match backends.get(cluster) {
            None => return Err(WaitError::NotConnected(cluster.clone())),
            Some(Backend::Embedded(_)) => *embedded.entry(cluster.as_str()).or_default() += 1,
            Some(b) => pending.push((b, cluster.as_str(), id)),
        }
    }
    for (cluster, objects) in embedded {
        progress(&ApplyEvent::ReadyWithoutControllers {
            cluster: cluster.to_string(),
            objects,
        });
    }
    let mut last_seen: BTreeMap<(&str, &ObjectRef), Rollout> = BTreeMap::new();
    loop {
        let mut still = Vec::new();
        for (backend, cluster, id) in pending {
            match backend.get(id).await {
                Ok(Some(obj)) => {
                    // Read as the health model reads it: one rule for status, the dashboard and this wait.
                    let r = rollout(&serde_json::from_value(obj).unwrap_or_default());
                    if r.complete {
                        progress(&ApplyEvent::Ready {
                            cluster: cluster.to_string(),
                            id: id.clone(),
                        });
                        continue;
                    }
                    if last_seen.insert((cluster, id), r) != Some(r) {
                        progress(&ApplyEvent::Waiting {
                            cluster: cluster.to_string(),
                            id: id.clone(),
                            ready: r.ready,
                            updated: r.updated,
                            desired: r.desired,
                        });
                    }
                    still.push((backend, cluster, id));
                }
                Ok(None) => {
                    return Err(WaitError::Missing {
                        cluster: cluster.to_string(),
                        id: id.clone(),
                    })
                }
                Err(e) if super::retryable(&e) => still.push((backend, cluster, id)),
                Err(e) => return Err(WaitError::Cluster(e)),
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            let pending = pending
                .iter()
                .map(|(_, cluster, id)| match last_seen.get(&(*cluster, *id)) {
                    Some(r) => format!(
                        "{cluster}: {id} ({}/{} ready, {}/{} updated)",
                        r.ready, r.desired, r.updated, r.desired
                    ),
                    None => format!("{cluster}: {id} (not read)"),
                })
                .collect();
            return Err(WaitError::TimedOut { timeout, pending });
        }
        tokio::time::sleep(poll.min(timeout.saturating_sub(start.elapsed()))).await;
    }
}
