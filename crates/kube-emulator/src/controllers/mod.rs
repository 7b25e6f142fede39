//! The controllers of a cluster, run inside the server: what kube-controller-manager (and, for
//! pods and volumes, the scheduler, the kubelet and the volume provisioner) would do to the
//! objects. Each module is one controller, written after the real one:
//!
//! - `namespace`: empties a namespace being deleted, then removes its `kubernetes`
//!   finalizer; also the NamespaceLifecycle admission plugin;
//! - `garbagecollector`: ownerReferences, the `orphan` and `foregroundDeletion` finalizers;
//! - `statefulset`: pods and claims of StatefulSets, ordered or parallel, rolling updates;
//! - `job`: pods of Jobs until enough succeed or too many fail, with the conditions;
//! - `cronjob`: Jobs from schedules, at the controllers' clock;
//! - `resourcequota`: `status.hard` and `status.used` of quotas;
//! - `node`: the stand-in for scheduler, kubelet and provisioner: pods become Running and
//!   Ready after a settable delay, claims are bound.
//!
//! They run on a clock of their own ([`Controllers::advance`] moves it), one pass over every
//! controller at a time: by themselves every tick (real time) when something changed or a
//! deadline is due, or when a test calls [`Controllers::step`] / [`Controllers::settle`].

// Controllers pass the store's errors on, as the store returns them.
#![allow(clippy::result_large_err)]

pub(crate) mod cronjob;
pub(crate) mod garbagecollector;
pub(crate) mod job;
pub(crate) mod namespace;
pub(crate) mod node;
pub(crate) mod resourcequota;
pub(crate) mod statefulset;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use kube_store::{kinds, KindInfo, LabelSelector, ObjectStore, StoreError};

/// The field manager of every write the controllers make (the real controllers' user agent is
/// `kube-controller-manager/...`).
pub(crate) const MANAGER: &str = "kube-controller-manager";

/// Why the controllers could not settle.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A store call failed.
    #[error("a controller failed: {0}")]
    Store(#[from] StoreError),
    /// Passes kept changing objects.
    #[error(
        "the controllers did not settle within {0} passes; some controller keeps changing objects"
    )]
    Unsettled(usize),
}

struct Inner {
    store: ObjectStore,
    /// Milliseconds added to real time by [`Controllers::advance`].
    offset_ms: AtomicI64,
    running: AtomicBool,
    tick_ms: AtomicU64,
    pod_ready_delay_ms: AtomicU64,
    /// One pass at a time.
    pass: Mutex<()>,
    /// The store's resource version when the last pass began.
    last_rv: AtomicU64,
    /// The earliest time (clock ms) a controller waits for.
    wake_at: AtomicI64,
    /// When (clock ms) the node first saw each pod, by uid.
    pod_seen: Mutex<HashMap<String, i64>>,
    /// When (clock ms) a test finished each pod, by uid.
    pod_finished: Mutex<HashMap<String, i64>>,
    /// One admitted create at a time, API requests and controllers alike.
    admission: crate::admission::Gate,
}

/// The handle on the controllers of a server ([`crate::ApiServer::controllers`]). Cheap to
/// clone.
#[derive(Clone)]
pub struct Controllers {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Controllers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controllers")
            .field("running", &self.inner.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 in UTC with whole seconds, as the API server writes times.
pub(crate) fn rfc3339(ms: i64) -> String {
    kube_store::format_rfc3339(ms.div_euclid(1000))
}

impl Controllers {
    pub(crate) fn new(store: ObjectStore) -> Self {
        store.enable_lifecycle();
        Self {
            inner: Arc::new(Inner {
                store,
                offset_ms: AtomicI64::new(0),
                running: AtomicBool::new(true),
                tick_ms: AtomicU64::new(20),
                pod_ready_delay_ms: AtomicU64::new(0),
                pass: Mutex::new(()),
                last_rv: AtomicU64::new(u64::MAX),
                wake_at: AtomicI64::new(i64::MAX),
                pod_seen: Mutex::new(HashMap::new()),
                pod_finished: Mutex::new(HashMap::new()),
                admission: crate::admission::Gate::default(),
            }),
        }
    }

    /// The controllers' clock, in milliseconds since the Unix epoch: real time plus every
    /// [`Controllers::advance`].
    pub fn now_ms(&self) -> i64 {
        real_ms() + self.inner.offset_ms.load(Ordering::Relaxed)
    }

    /// The clock as RFC 3339 (`2026-11-05T10:00:00Z`), as timestamps are written.
    pub fn now_rfc3339(&self) -> String {
        rfc3339(self.now_ms())
    }

    /// Moves the clock forward (pod readiness delays, schedules). Nothing runs until the next
    /// tick, [`Controllers::step`] or [`Controllers::settle`].
    pub fn advance(&self, by: Duration) {
        self.inner
            .offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }

    /// Stops the controllers running by themselves: only [`Controllers::step`] and
    /// [`Controllers::settle`] run them then.
    pub fn pause(&self) {
        self.inner.running.store(false, Ordering::Relaxed);
    }

    /// Lets the controllers run by themselves again, every tick (the default).
    pub fn resume(&self) {
        self.inner.running.store(true, Ordering::Relaxed);
    }

    /// How often (real time) the controllers look for work when running by themselves;
    /// 20 ms by default.
    pub fn set_tick(&self, tick: Duration) {
        self.inner
            .tick_ms
            .store(tick.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    pub(crate) fn tick(&self) -> Duration {
        Duration::from_millis(self.inner.tick_ms.load(Ordering::Relaxed))
    }

    /// How long (on the controllers' clock) a pod takes from being first seen to Running and
    /// Ready; 0 by default.
    pub fn set_pod_ready_delay(&self, delay: Duration) {
        self.inner
            .pod_ready_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn pod_ready_delay_ms(&self) -> i64 {
        self.inner.pod_ready_delay_ms.load(Ordering::Relaxed) as i64
    }

    pub(crate) fn store(&self) -> &ObjectStore {
        &self.inner.store
    }

    /// The server's admission gate ([`crate::admission::Gate`]).
    pub(crate) fn admission(&self) -> &crate::admission::Gate {
        &self.inner.admission
    }

    /// Asks for a pass at `at` (clock ms) even if nothing changes before.
    pub(crate) fn wake_at(&self, at: i64) {
        self.inner.wake_at.fetch_min(at, Ordering::Relaxed);
    }

    pub(crate) fn pod_first_seen(&self, uid: &str, now: i64) -> i64 {
        let mut seen = self
            .inner
            .pod_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *seen.entry(uid.to_string()).or_insert(now)
    }

    /// Ends pod `namespace/name` as its containers would: all exit 0 (`succeeded`: phase
    /// `Succeeded`) or 1 (phase `Failed`), now on the controllers' clock. This is how a test
    /// makes a Job's pod succeed or fail.
    pub fn finish_pod(
        &self,
        namespace: &str,
        name: &str,
        succeeded: bool,
    ) -> Result<(), ControllerError> {
        let store = &self.inner.store;
        let pod = store.get("Pod", namespace, name)?;
        let now = self.now_ms();
        let status = node::terminated_status(&pod, succeeded, now);
        store.set_status("Pod", namespace, name, status)?;
        self.inner
            .pod_finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s(&pod, "/metadata/uid").to_string(), now);
        Ok(())
    }

    pub(crate) fn pod_finished_at(&self, uid: &str) -> Option<i64> {
        self.inner
            .pod_finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uid)
            .copied()
    }

    /// Whether a pass is due: something changed since the last one, or a deadline passed.
    pub(crate) fn due(&self) -> bool {
        if !self.inner.running.load(Ordering::Relaxed) {
            return false;
        }
        let rv = self.inner.store.resource_version().unwrap_or(0);
        rv != self.inner.last_rv.load(Ordering::Relaxed)
            || self.now_ms() >= self.inner.wake_at.load(Ordering::Relaxed)
    }

    /// One pass of every controller, in order: namespace, garbage collector, StatefulSet,
    /// CronJob, Job, node, ResourceQuota. Returns whether it changed anything.
    pub fn step(&self) -> Result<bool, ControllerError> {
        let _pass = self.inner.pass.lock().unwrap_or_else(|e| e.into_inner());
        let store = &self.inner.store;
        let before = store.resource_version()?;
        self.inner.wake_at.store(i64::MAX, Ordering::Relaxed);
        let now = self.now_ms();
        namespace::reconcile(self, now)?;
        garbagecollector::reconcile(self, now)?;
        statefulset::reconcile(self, now)?;
        cronjob::reconcile(self, now)?;
        job::reconcile(self, now)?;
        node::reconcile(self, now)?;
        resourcequota::reconcile(self, now)?;
        let after = store.resource_version()?;
        // What the pass saw is the store as of `before`: a write that came in during the pass
        // (or by the pass) makes the next tick run another one.
        self.inner.last_rv.store(before, Ordering::Relaxed);
        Ok(after != before)
    }

    /// Runs passes until one changes nothing (at most 1000), at the current clock. Returns how
    /// many passes changed something.
    pub fn settle(&self) -> Result<usize, ControllerError> {
        const MAX: usize = 1000;
        for n in 0..MAX {
            if !self.step()? {
                return Ok(n);
            }
        }
        Err(ControllerError::Unsettled(MAX))
    }
}

/// Every object of a kind, in one namespace or all.
pub(crate) fn list(
    store: &ObjectStore,
    kind: &str,
    ns: Option<&str>,
) -> Result<Vec<Value>, StoreError> {
    Ok(store
        .list(kind, ns, &LabelSelector::default(), None, None)?
        .items)
}

/// The namespaced kinds the store knows.
pub(crate) fn namespaced_kinds() -> impl Iterator<Item = &'static KindInfo> {
    kinds().iter().filter(|k| k.namespaced)
}

pub(crate) fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp").is_some()
}

pub(crate) fn finalizers(v: &Value) -> Vec<String> {
    crate::rbac::strings(v.pointer("/metadata/finalizers"))
}

/// A controller's create, through admission as on a real cluster (the controller is a client
/// like any other): `Ok(None)` when admission refuses it (the real controllers record a
/// `FailedCreate` event and retry later) or the object exists already.
pub(crate) fn create_admitted(
    c: &Controllers,
    kind: &str,
    ns: &str,
    mut obj: Value,
) -> Result<Option<Value>, StoreError> {
    let Some(info) = kube_store::kind_by_name(kind) else {
        return Ok(None);
    };
    let store = c.store();
    let _one_at_a_time = c.admission().serialize();
    if crate::admission::admit_create(store, info, ns, &mut obj).is_err() {
        return Ok(None);
    }
    match store.create(kind, ns, obj, MANAGER, false) {
        Ok(o) => Ok(Some(o)),
        Err(StoreError::AlreadyExists { .. }) => Ok(None),
        Err(e) => tolerate(Err(e)),
    }
}

/// Ignores `NotFound` (the object went meanwhile) and `Conflict` (it changed meanwhile: the
/// next pass sees it anew), as controllers requeue.
pub(crate) fn tolerate<T>(r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound { .. } | StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
