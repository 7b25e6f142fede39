//! Leader election with a `coordination.k8s.io/v1` Lease, the way Kubernetes controllers do
//! it: the holder renews `spec.renewTime` every few seconds; another replica takes the lease
//! over only when it has not been renewed for `leaseDurationSeconds`. Creating the Lease is a
//! POST (only one replica can succeed) and every later write carries the `resourceVersion`
//! it read, so two replicas cannot both win a race: the loser gets a 409 Conflict.
//!
//! Only the leader applies; followers plan and report. On shutdown the leader releases the
//! lease (empty holder) so that another replica takes over at once.
//!
//! A push webhook may land on a follower (a Service spreads requests over the replicas). The
//! follower then writes [`SYNC_REQUEST_ANNOTATION`] on the Lease, which every replica reads
//! each round anyway; the leader, seeing the value change, syncs as if the webhook had come
//! to it. The leader retries a renewal that such a write made stale (409) at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{Backend, ClusterError};
use crate::daemon::Trigger;
use crate::object::ObjectRef;
use crate::values::time::{format_rfc3339, now_unix, parse_rfc3339};

/// Annotation on the Lease by which a follower that received a push webhook asks the leader to
/// sync: `<identity> <unix nanoseconds>`, a new value per request.
pub const SYNC_REQUEST_ANNOTATION: &str = "berth.io/sync-requested";

/// Where the lease is and how long it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// `leaseDurationSeconds`: how long a lease lasts without renewal.
    pub duration: Duration,
}

impl LeaseSettings {
    /// How often the holder renews (and followers retry): a third of the duration.
    pub fn renew_every(&self) -> Duration {
        (self.duration / 3).max(Duration::from_millis(200))
    }

    fn id(&self) -> ObjectRef {
        ObjectRef {
            api_version: "coordination.k8s.io/v1".into(),
            kind: "Lease".into(),
            namespace: Some(self.namespace.clone()),
            name: self.name.clone(),
        }
    }
}

/// What to do with the lease as read, at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is none: create it.
    Create,
    /// Ours: renew it.
    Renew,
    /// Expired or released: take it over (a new transition).
    TakeOver,
    /// Someone else holds it and renewed it in time.
    Follow {
        /// The holder.
        holder: String,
    },
}

/// Decides from the lease `current` (as read) what `me` should do at unix time `now`.
pub fn decide(current: Option<&Value>, me: &str, now: i64) -> Decision {
    let Some(lease) = current else {
        return Decision::Create;
    };
    let spec = &lease["spec"];
    let holder = spec["holderIdentity"].as_str().unwrap_or("");
    if holder == me {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::TakeOver;
    }
    let duration = spec["leaseDurationSeconds"].as_i64().unwrap_or(15);
    let renewed = spec["renewTime"]
        .as_str()
        .and_then(|t| parse_rfc3339(t).ok())
        .unwrap_or(0);
    if renewed + duration < now {
        Decision::TakeOver
    } else {
        Decision::Follow {
            holder: holder.to_string(),
        }
    }
}

/// A Kubernetes `MicroTime`: RFC 3339 with microseconds.
fn micro_time(secs: i64) -> String {
    format_rfc3339(secs).replace('Z', ".000000Z")
}

/// The Lease as written by `me` at `now`, keeping `acquireTime` and the transition count of
/// `current` when renewing.
fn lease_body(
    settings: &LeaseSettings,
    current: Option<&Value>,
    decision: &Decision,
    now: i64,
) -> Value {
    let spec = current.map(|c| &c["spec"]);
    let transitions = spec
        .and_then(|s| s["leaseTransitions"].as_i64())
        .unwrap_or(0);
    let (acquire, transitions) = match decision {
        Decision::Renew => (
            spec.and_then(|s| s["acquireTime"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| micro_time(now)),
            transitions,
        ),
        Decision::TakeOver => (micro_time(now), transitions + 1),
        _ => (micro_time(now), 0),
    };
    let mut metadata = json!({
        "name": settings.name,
        "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/name": "berth"},
    });
    if let Some(rv) = current.and_then(|c| c.pointer("/metadata/resourceVersion")) {
        metadata["resourceVersion"] = rv.clone();
    }
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": settings.identity,
            "leaseDurationSeconds": settings.duration.as_secs().max(1),
            "acquireTime": acquire,
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }
    })
}

/// One round: read the lease, create/renew/take it over or follow. Returns whether this
/// replica now leads. A conflict (another replica was faster) means following.
pub async fn try_acquire(
    backend: &Backend,
    settings: &LeaseSettings,
) -> Result<bool, ClusterError> {
    round(backend, settings).await.map(|r| r.leads)
}

/// What one round of the election found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// Whether this replica leads now.
    pub leads: bool,
    /// [`SYNC_REQUEST_ANNOTATION`] as read.
    pub sync_request: Option<String>,
}

/// [`try_acquire`], also returning the sync request the lease holds. A renewal that fails
/// with a conflict is tried again once with the lease read anew: a follower's sync request
/// changes the lease's `resourceVersion` without touching its holder.
pub async fn round(backend: &Backend, settings: &LeaseSettings) -> Result<Round, ClusterError> {
    let id = settings.id();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = backend.get(&id).await?;
        let sync_request = current
            .as_ref()
            .and_then(|c| c["metadata"]["annotations"][SYNC_REQUEST_ANNOTATION].as_str())
            .map(String::from);
        let now = now_unix();
        let decision = decide(current.as_ref(), &settings.identity, now);
        let body = lease_body(settings, current.as_ref(), &decision, now);
        let result = match &decision {
            Decision::Follow { .. } => {
                return Ok(Round {
                    leads: false,
                    sync_request,
                })
            }
            Decision::Create => backend.create(&id, &body).await,
            Decision::Renew | Decision::TakeOver => backend.apply(&id, &body, false, true).await,
        };
        match result {
            Ok(_) => {
                if decision == Decision::TakeOver || decision == Decision::Create {
                    tracing::info!(identity = %settings.identity, lease = %id, "acquired the leader lease");
                }
                return Ok(Round {
                    leads: true,
                    sync_request,
                });
            }
            Err(ClusterError::Conflict { .. }) if decision == Decision::Renew && attempt < 2 => {
                continue;
            }
            Err(ClusterError::Conflict { .. }) => {
                return Ok(Round {
                    leads: false,
                    sync_request,
                })
            }
            Err(e) => return Err(e),
        }
    }
}

/// Asks the leader to sync: writes a new [`SYNC_REQUEST_ANNOTATION`] on the lease (a JSON
/// merge patch, as berth's other bookkeeping).
pub async fn request_sync(backend: &Backend, settings: &LeaseSettings) -> Result<(), ClusterError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let value = format!("{} {nanos}", settings.identity);
    let annotations =
        std::collections::BTreeMap::from([(SYNC_REQUEST_ANNOTATION.to_string(), Some(value))]);
    backend.annotate(&settings.id(), &annotations).await
}

/// Gives the lease up if this replica holds it (an empty holder lets another replica take
/// over without waiting for it to expire).
pub async fn release(backend: &Backend, settings: &LeaseSettings) -> Result<(), ClusterError> {
    let id = settings.id();
    let Some(current) = backend.get(&id).await? else {
        return Ok(());
    };
    if current["spec"]["holderIdentity"].as_str() != Some(settings.identity.as_str()) {
        return Ok(());
    }
    let mut body = lease_body(settings, Some(&current), &Decision::Renew, now_unix());
    body["spec"]["holderIdentity"] = json!("");
    body["spec"]["leaseDurationSeconds"] = json!(1);
    match backend.apply(&id, &body, false, true).await {
        Ok(_) | Err(ClusterError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// How a follower hands a push webhook on to the leader: `pending` is set by the webhook
/// handler of a follower; the leader's syncs go to `triggers`.
#[derive(Debug, Clone)]
pub struct Relay {
    /// A webhook arrived while following: ask the leader to sync.
    pub pending: Arc<AtomicBool>,
    /// The reconcile loop's triggers.
    pub triggers: std::sync::mpsc::Sender<Trigger>,
}

/// Keeps trying to lead until `stop` is set, publishing the result in `leader`. A failure to
/// reach the lease's cluster drops leadership (better no applier than two). As a follower it
/// passes webhooks on to the leader through the lease; as the leader it syncs on a new
/// request there (see [`Relay`]).
pub async fn run(
    backend: Backend,
    settings: LeaseSettings,
    leader: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    relay: Relay,
) {
    let mut was = false;
    // The last request seen as leader; `None` until the first round as leader, whose request
    // (if any) is older than this leadership.
    let mut seen: Option<Option<String>> = None;
    while !stop.load(Ordering::SeqCst) {
        let now = match round(&backend, &settings).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    lease = %settings.id(),
                    "cannot read or write the leader Lease; not applying (does its namespace exist? choose it with --lease-namespace)"
                );
                Round {
                    leads: false,
                    sync_request: None,
                }
            }
        };
        if now.leads != was {
            tracing::info!(identity = %settings.identity, leader = now.leads, "leadership changed");
            was = now.leads;
        }
        leader.store(now.leads, Ordering::SeqCst);
        if now.leads {
            if let Some(before) = &seen {
                if now.sync_request.is_some() && &now.sync_request != before {
                    tracing::info!(
                        request = now.sync_request.as_deref().unwrap_or(""),
                        "a follower received a push webhook; syncing"
                    );
                    let _ = relay.triggers.send(Trigger::Webhook);
                }
            }
            seen = Some(now.sync_request.clone());
            relay.pending.store(false, Ordering::SeqCst);
        } else {
            seen = None;
            if relay.pending.swap(false, Ordering::SeqCst) {
                match request_sync(&backend, &settings).await {
                    Ok(()) => tracing::info!("asked the leader to sync, through the Lease"),
                    Err(e) => tracing::warn!(error = %e, "could not ask the leader to sync"),
                }
            }
        }
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while waited < settings.renew_every() && !stop.load(Ordering::SeqCst) {
            if !now.leads && relay.pending.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(step).await;
            waited += step;
        }
    }
    if was {
        leader.store(false, Ordering::SeqCst);
        if let Err(e) = release(&backend, &settings).await {
            tracing::warn!(error = %e, "could not release the leader lease");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::EmbeddedCluster;
    use crate::store::ObjectStore;

    fn settings(identity: &str) -> LeaseSettings {
        LeaseSettings {
            namespace: "berth-system".into(),
            name: "berth".into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
        }
    }

    /// A cluster with the Lease's namespace, as deploy/ makes it.
    async fn backend() -> Backend {
        let b = Backend::Embedded(EmbeddedCluster::from_store(
            "local",
            ObjectStore::in_memory().unwrap(),
        ));
        let ns = ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "berth-system".into(),
        };
        let body =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "berth-system"}});
        b.apply(&ns, &body, false, true).await.unwrap();
        b
    }

    fn lease(holder: &str, renewed: i64, duration: i64) -> Value {
        json!({"spec": {"holderIdentity": holder, "renewTime": micro_time(renewed), "leaseDurationSeconds": duration}})
    }

    #[test]
    fn decisions_follow_holder_and_expiry() {
        let now = 1_800_000_000;
        assert_eq!(decide(None, "a", now), Decision::Create);
        assert_eq!(
            decide(Some(&lease("a", now - 100, 15)), "a", now),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&lease("b", now - 5, 15)), "a", now),
            Decision::Follow { holder: "b".into() }
        );
        assert_eq!(
            decide(Some(&lease("b", now - 16, 15)), "a", now),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&lease("", now, 15)), "a", now),
            Decision::TakeOver
        );
    }

    #[test]
    fn micro_time_parses_back() {
        let t = 1_800_000_000;
        assert_eq!(parse_rfc3339(&micro_time(t)).unwrap(), t);
        assert!(micro_time(t).ends_with(".000000Z"));
    }

    #[tokio::test]
    async fn only_one_of_two_replicas_leads_until_the_leader_releases() {
        let b = backend().await;
        let (a, other) = (settings("a"), settings("b"));
        assert!(try_acquire(&b, &a).await.unwrap());
        assert!(!try_acquire(&b, &other).await.unwrap());
        assert!(try_acquire(&b, &a).await.unwrap(), "the holder renews");
        release(&b, &a).await.unwrap();
        assert!(
            try_acquire(&b, &other).await.unwrap(),
            "released: taken over at once"
        );
        assert!(!try_acquire(&b, &a).await.unwrap());
        let lease = b.get(&other.id()).await.unwrap().unwrap();
        assert_eq!(lease["spec"]["holderIdentity"], "b");
        assert_eq!(lease["spec"]["leaseTransitions"], 1);
    }

    #[tokio::test]
    async fn a_write_with_a_stale_resource_version_loses() {
        let b = backend().await;
        let a = settings("a");
        assert!(try_acquire(&b, &a).await.unwrap());
        let read = b.get(&a.id()).await.unwrap().unwrap();
        // The holder writes in between (a longer duration, so the content changes).
        let longer = LeaseSettings {
            duration: Duration::from_secs(20),
            ..a.clone()
        };
        assert!(try_acquire(&b, &longer).await.unwrap());
        let mut stale = lease_body(&settings("b"), Some(&read), &Decision::TakeOver, now_unix());
        stale["metadata"]["resourceVersion"] = read["metadata"]["resourceVersion"].clone();
        let r = b.apply(&a.id(), &stale, false, true).await;
        assert!(matches!(r, Err(ClusterError::Conflict { .. })), "{r:?}");
    }
}
