//! A Kubernetes API server over plain HTTP on top of [`ObjectStore`]: discovery, GET, LIST
//! (label selectors, pagination, server-side printing as Tables for `kubectl get`), server-side apply, merge patches, PUT, POST, DELETE and the
//! `/status` subresource, with `metav1.Status` errors. It speaks the real wire format so that
//! `kubectl` and kube-rs clients work against it unchanged. For tests it records every request
//! and can inject faults (errors, throttling, latency, dropped connections). It also serves the
//! metrics API (`metrics.k8s.io/v1beta1`, as metrics-server does) with figures tests set
//! ([`ApiServer::set_pod_metrics`]), or not at all ([`ApiServer::set_metrics_api`]).
//!
//! Controllers run inside it ([`ApiServer::controllers`], the [`controllers`] module):
//! namespace deletion, garbage collection, StatefulSets, Jobs, CronJobs, ResourceQuota status,
//! and pods that start and claims that bind, on a clock tests can step. DELETE is graceful as
//! on a real server: finalizers hold objects, a namespace terminates before it goes. Creates
//! go through the admission plugins LimitRanger, PodSecurity and ResourceQuota (`admission`),
//! the controllers' creates included, and DefaultStorageClass; claim updates through
//! PersistentVolumeClaimResize. A default StorageClass ([`DEFAULT_STORAGE_CLASS`]) is there from
//! the start.

mod admission;
mod auth;
pub mod controllers;
mod faults;
mod gojson;
mod handler;
mod metrics;
mod openapi;
mod patch;
mod protobuf;
mod rbac;
mod schema;
mod strategic;
mod table;
mod tls;
mod validation;
mod watches;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use kube_store::ObjectStore;

pub use admission::DEFAULT_STORAGE_CLASS;
pub use controllers::{ControllerError, Controllers};
use faults::Fault;
pub use faults::{Faults, STALL};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    /// Binding or runtime setup failed.
    #[error("cannot start the API server: {0}")]
    Io(#[from] std::io::Error),
}

/// One request the server answered (or dropped: status 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method: `GET`, `PATCH`, ...
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string, "" when none.
    pub query: String,
    /// Status code sent; 0 when the connection was dropped without an answer.
    pub status: u16,
}

pub(crate) struct Shared {
    pub(crate) store: ObjectStore,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    pub(crate) faults: Faults,
    pub(crate) addr: SocketAddr,
    pub(crate) metrics: Mutex<metrics::MetricsState>,
    /// Turns true when the server stops, ending open watches.
    pub(crate) stopping: watch::Receiver<bool>,
    pub(crate) bookmark_interval: Mutex<std::time::Duration>,
    /// Test hooks: after the next answered request whose path ends with this, run this on
    /// the store.
    pub(crate) after: Mutex<Vec<(String, StoreHook)>>,
    pub(crate) tokens: Arc<auth::Tokens>,
    pub(crate) controllers: Controllers,
    /// Counts the store's committed writes; watches wait on it for their next events.
    pub(crate) writes: watch::Receiver<u64>,
}

/// Something a test does to the store between two requests ([`ApiServer::after_request`]).
pub type StoreHook = Box<dyn FnOnce(&ObjectStore) + Send>;

impl Shared {
    pub(crate) fn bookmark_interval(&self) -> std::time::Duration {
        self.bookmark_interval
            .lock()
            .map(|d| *d)
            .unwrap_or(DEFAULT_BOOKMARK_INTERVAL)
    }
}

/// How often a watch with `allowWatchBookmarks` gets a bookmark: about a minute in a real
/// apiserver (the cacher's bookmark timer), settable by tests
/// ([`ApiServer::set_bookmark_interval`]).
pub const DEFAULT_BOOKMARK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// A running API server. Dropping it stops it.
pub struct ApiServer {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

/// Starts serving `store` on `addr` (port 0 picks a free port) on the current tokio runtime.
pub async fn serve(store: ObjectStore, addr: SocketAddr) -> std::io::Result<ApiServer> {
    let (shared, shutdown) = start(store, addr, Arc::new(auth::Tokens::new())).await?;
    Ok(ApiServer {
        shared,
        shutdown,
        thread: None,
    })
}

async fn start(
    store: ObjectStore,
    addr: SocketAddr,
    tokens: Arc<auth::Tokens>,
) -> std::io::Result<(Arc<Shared>, watch::Sender<bool>)> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    bootstrap_namespaces(&store)?;
    rbac::bootstrap(&store).map_err(|e| std::io::Error::other(e.to_string()))?;
    admission::bootstrap_storage_class(&store).map_err(|e| std::io::Error::other(e.to_string()))?;
    store
        .keep_history()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (tx, rx) = watch::channel(false);
    let (written, writes) = watch::channel(0u64);
    store.on_commit(move || written.send_modify(|n| *n = n.wrapping_add(1)));
    let store_for_controllers = store.clone();
    let shared = Arc::new(Shared {
        store,
        log: Mutex::new(Vec::new()),
        faults: Faults::default(),
        addr,
        metrics: Mutex::new(metrics::MetricsState::default()),
        stopping: rx.clone(),
        bookmark_interval: Mutex::new(DEFAULT_BOOKMARK_INTERVAL),
        after: Mutex::new(Vec::new()),
        tokens,
        controllers: Controllers::new(store_for_controllers),
        writes,
    });
    tokio::spawn(accept_loop(listener, shared.clone(), rx.clone()));
    tokio::spawn(controller_loop(shared.controllers.clone(), rx));
    Ok((shared, tx))
}

/// The namespaces every cluster has from its start (`default`, `kube-system`, `kube-public`,
/// `kube-node-lease`), created by the apiserver's system-namespaces controller
/// (`pkg/controlplane/controller/systemnamespaces`). Kept when the store already has them.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

fn bootstrap_namespaces(store: &ObjectStore) -> std::io::Result<()> {
    for ns in SYSTEM_NAMESPACES {
        let manifest =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let missing = matches!(
            store.get("Namespace", "", ns),
            Err(kube_store::StoreError::NotFound { .. })
        );
        if missing {
            store
                .apply("Namespace", "", ns, manifest, "kube-apiserver", true, false)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    Ok(())
}

impl ApiServer {
    /// Starts a server on 127.0.0.1 (a free port) on a runtime of its own, in a background
    /// thread, for callers that do not run tokio.
    pub fn start_background(store: ObjectStore) -> Result<ApiServer, ApiServerError> {
        Self::start_background_on(
            store,
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Arc::new(auth::Tokens::new()),
        )
    }

    /// Stops this server and starts it again on the same address with the same store and
    /// the same credentials, as an apiserver restarts with its etcd and its keys: open
    /// connections and watches end, clients reconnect. Faults, the request log and test
    /// hooks start empty. For a background server ([`ApiServer::start_background`]).
    pub fn restart(self) -> Result<ApiServer, ApiServerError> {
        self.restart_after(std::time::Duration::ZERO)
    }

    /// [`ApiServer::restart`], down for `down` in between: connections to its address are
    /// refused meanwhile.
    pub fn restart_after(mut self, down: std::time::Duration) -> Result<ApiServer, ApiServerError> {
        let (store, addr, tokens) = (
            self.shared.store.clone(),
            self.shared.addr,
            self.shared.tokens.clone(),
        );
        self.stop();
        std::thread::sleep(down);
        Self::start_background_on(store, addr, tokens)
    }

    fn start_background_on(
        store: ObjectStore,
        addr: SocketAddr,
        tokens: Arc<auth::Tokens>,
    ) -> Result<ApiServer, ApiServerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("apiserver".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match start(store, addr, tokens).await {
                        Ok((shared, tx)) => {
                            let mut rx = tx.subscribe();
                            let _ = ready_tx.send(Ok((shared, tx)));
                            while !*rx.borrow_and_update() {
                                if rx.changed().await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                rt.shutdown_timeout(std::time::Duration::from_secs(1));
            })?;
        let (shared, shutdown) = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("server thread ended before starting"))??;
        Ok(ApiServer {
            shared,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// A kubeconfig that reaches this server (plain HTTP) under `context` as the
    /// administrator ([`ApiServer::admin_token`]), for berth's Kubernetes backend, kube
    /// clients and `kubectl`.
    pub fn kubeconfig(&self, context: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\nusers:\n- name: tester\n  user:\n    token: {}\ncontexts:\n- name: {context}\n  context:\n    cluster: test\n    user: tester\ncurrent-context: {context}\n",
            self.url(),
            self.admin_token()
        )
    }

    /// `https://127.0.0.1:PORT`: the same port speaks TLS too, with a self-signed
    /// certificate (clients skip its verification).
    pub fn https_url(&self) -> String {
        format!("https://{}", self.shared.addr)
    }

    /// A kubeconfig that reaches this server over TLS (`insecure-skip-tls-verify`) with
    /// bearer token `token` under `context`: what `kubectl` needs to send a token at all,
    /// since it sends none to a plain-HTTP server.
    pub fn tls_kubeconfig(&self, context: &str, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    insecure-skip-tls-verify: true\nusers:\n- name: tester\n  user:\n    token: {token}\ncontexts:\n- name: {context}\n  context:\n    cluster: test\n    user: tester\ncurrent-context: {context}\n",
            self.https_url()
        )
    }

    /// The administrator's bearer token, random per server: user `kubernetes-admin` in the
    /// groups `system:masters` and `system:authenticated`, allowed everything.
    pub fn admin_token(&self) -> &str {
        self.shared.tokens.admin()
    }

    /// A bearer token of ServiceAccount `namespace/name`, as the TokenRequest API issues it
    /// (valid for an hour). `None` when the ServiceAccount does not exist.
    pub fn token_for_service_account(&self, namespace: &str, name: &str) -> Option<String> {
        let sa = self
            .shared
            .store
            .get("ServiceAccount", namespace, name)
            .ok()?;
        let uid = sa
            .pointer("/metadata/uid")
            .and_then(serde_json::Value::as_str)?;
        Some(self.shared.tokens.issue(namespace, name, uid, 3600).0)
    }

    /// The store it serves.
    pub fn store(&self) -> &ObjectStore {
        &self.shared.store
    }

    /// Every request answered so far, in order.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Forgets the requests logged so far.
    pub fn clear_log(&self) {
        if let Ok(mut l) = self.shared.log.lock() {
            l.clear();
        }
    }

    /// How many logged requests used this method (`GET`, `PATCH`, ...).
    pub fn count(&self, method: &str) -> usize {
        self.request_log()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .count()
    }

    /// How many logged requests used this method on a path containing `path_substring`.
    pub fn count_matching(&self, method: &str, path_substring: &str) -> usize {
        self.request_log()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.contains(path_substring))
            .count()
    }

    /// Requests per method.
    pub fn counts_by_verb(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for r in self.request_log() {
            *m.entry(r.method).or_insert(0) += 1;
        }
        m
    }

    /// Sets what the metrics API reports for pod `namespace/pod`: `(container, cpu, memory)`
    /// usage quantities, as metrics-server writes them (`4014829n`, `250m`; `13496Ki`),
    /// measured now. The pod need not exist; when it does, its labels are reported with it.
    pub fn set_pod_metrics(&self, namespace: &str, pod: &str, containers: &[(&str, &str, &str)]) {
        let figures = metrics::PodFigures {
            containers: containers
                .iter()
                .map(|(c, cpu, mem)| (c.to_string(), cpu.to_string(), mem.to_string()))
                .collect(),
            timestamp: kube_store::now_rfc3339(),
        };
        if let Ok(mut m) = self.shared.metrics.lock() {
            m.pods
                .insert((namespace.to_string(), pod.to_string()), figures);
        }
    }

    /// Stops reporting metrics of pod `namespace/pod`.
    pub fn remove_pod_metrics(&self, namespace: &str, pod: &str) {
        if let Ok(mut m) = self.shared.metrics.lock() {
            m.pods.remove(&(namespace.to_string(), pod.to_string()));
        }
    }

    /// Whether the metrics API (`metrics.k8s.io/v1beta1`) is served, as when metrics-server
    /// is installed (the default), or absent from discovery and every path (`false`).
    pub fn set_metrics_api(&self, served: bool) {
        if let Ok(mut m) = self.shared.metrics.lock() {
            m.served = served;
        }
    }

    /// How often watches that allow bookmarks get one.
    pub fn set_bookmark_interval(&self, interval: std::time::Duration) {
        if let Ok(mut d) = self.shared.bookmark_interval.lock() {
            *d = interval;
        }
    }

    /// Compacts the history as the apiserver's periodic etcd compaction does: continue tokens
    /// and watch resource versions older than now get 410 `Expired`. Returns the resource
    /// version compacted at.
    pub fn compact(&self) -> u64 {
        self.shared.store.compact().unwrap_or(0)
    }

    /// Runs `hook` on the store once, right after the next request whose path ends with
    /// `path_suffix` has been answered: for what happens between two requests of a client on
    /// a real cluster (a write by someone else, then a compaction between two pages of a
    /// LIST).
    pub fn after_request(
        &self,
        path_suffix: &str,
        hook: impl FnOnce(&ObjectStore) + Send + 'static,
    ) {
        if let Ok(mut a) = self.shared.after.lock() {
            a.push((path_suffix.to_string(), Box::new(hook)));
        }
    }

    /// The controllers (namespace, garbage collector, StatefulSet, node): their clock,
    /// [`Controllers::step`], [`Controllers::settle`], delays.
    pub fn controllers(&self) -> &Controllers {
        &self.shared.controllers
    }

    /// The fault injection handle.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Stops accepting requests, closes open connections and, for a background server, waits
    /// for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let router = Router::new()
        .fallback(handler::handle)
        .with_state(shared.clone());
    let tls = tls::acceptor().ok();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                let router = router.clone();
                let mut conn_shutdown = shutdown.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let shared = shared.clone();
                        let router = router.clone();
                        async move { serve_one(shared, router, req).await }
                    });
                    // A TLS handshake starts with a handshake record (0x16); anything else
                    // is plain HTTP.
                    let mut first = [0u8; 1];
                    let is_tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
                    match (is_tls, tls) {
                        (true, Some(acceptor)) => {
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            let conn = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service);
                            tokio::select! {
                                _ = conn => {}
                                _ = conn_shutdown.changed() => {}
                            }
                        }
                        _ => {
                            let conn = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service);
                            tokio::select! {
                                _ = conn => {}
                                _ = conn_shutdown.changed() => {}
                            }
                        }
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

fn run_due_hooks(shared: &Shared, path: &str) {
    let due: Vec<StoreHook> = match shared.after.lock() {
        Ok(mut hooks) => {
            let mut due = Vec::new();
            let mut kept = Vec::new();
            for (suffix, hook) in hooks.drain(..) {
                if path.ends_with(&suffix) {
                    due.push(hook);
                } else {
                    kept.push((suffix, hook));
                }
            }
            *hooks = kept;
            due
        }
        Err(_) => Vec::new(),
    };
    for hook in due {
        hook(&shared.store);
    }
}

/// Runs the controllers every tick while they are running by themselves and a pass is due.
async fn controller_loop(controllers: Controllers, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(controllers.tick()) => {}
            _ = shutdown.changed() => break,
        }
        let c = controllers.clone();
        let due = tokio::task::spawn_blocking(move || {
            if c.due() {
                if let Err(e) = c.step() {
                    eprintln!("kube-emulator: {e}");
                }
            }
        });
        let _ = due.await;
    }
}

/// The connection is closed without an answer (fault injection).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn serve_one(
    shared: Arc<Shared>,
    router: Router,
    req: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Dropped> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let log = |status: u16| {
        if let Ok(mut l) = shared.log.lock() {
            l.push(LoggedRequest {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                status,
            });
        }
    };
    let (latency, fault) = shared.faults.take(&method, &path);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Some(Fault::Drop) => {
            log(0);
            return Err(Dropped);
        }
        Some(Fault::Stall(wait)) => {
            tokio::time::sleep(wait).await;
            log(0);
            return Err(Dropped);
        }
        Some(Fault::Status(code)) => {
            let resp = handler::fault_response(code);
            log(resp.status().as_u16());
            return Ok(resp);
        }
        None => {}
    }
    let req = req.map(Body::new);
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    log(resp.status().as_u16());
    run_due_hooks(&shared, &path);
    Ok(resp)
}
