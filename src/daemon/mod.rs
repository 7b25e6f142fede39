//! `berth daemon`: the reconciler that keeps clusters matching the config source.
//!
//! Three parts, one way data flows:
//!
//! - **Triggers** ([`Trigger`]): a polling timer (with jitter), push webhooks ([`http`],
//!   verified in [`webhook`]), and for a directory source a file watcher (`notify`; bursts of
//!   events coalesce into one sync).
//! - **The reconcile loop** ([`reconcile`]): one thread that owns the source and runs syncs
//!   (load, validate, plan, apply) and drift checks one at a time, through [`crate::pipeline`]
//!   and [`crate::apply`]. An invalid revision is never applied; the last good one stays.
//! - **Status** ([`status`]): what the loop found, served by [`http`] as JSON and Prometheus
//!   metrics, and saved in the state directory across restarts.
//! - **Dashboard** ([`dashboard`]): HTML pages over the status and what the last sync saw, and
//!   forms that propose changes as commits on new branches. It never writes to a cluster.
//!
//! With leader election ([`lease`]) several replicas can run: only the holder of the Lease
//! applies; the others plan and report. SIGTERM (or Ctrl-C) stops the HTTP server, lets the
//! sync in progress finish (up to a grace period) and releases the lease.

pub mod dashboard;
pub mod http;
pub mod lease;
pub mod reconcile;
pub mod status;
pub mod webhook;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::pipeline::Scope;
use crate::source::{Source, SourceError, SourceTree};

pub use lease::LeaseSettings;
pub use reconcile::Timing;
pub use status::Status;

/// Why a sync starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A verified push webhook.
    Webhook,
    /// Files of a directory source changed.
    FileChange,
    /// Stop after the current sync.
    Shutdown,
}

impl Trigger {
    /// Name in the status and logs.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Webhook => "webhook",
            Trigger::FileChange => "file change",
            Trigger::Shutdown => "shutdown",
        }
    }
}

/// Where the daemon reads the configuration: a [`Source`] and what it last saw.
#[derive(Debug)]
pub struct DaemonSource {
    source: Source,
}

/// What a look at the source found.
#[derive(Debug)]
pub enum Polled {
    /// The revision already known: nothing was read.
    Unchanged(String),
    /// A revision and its files.
    Read(String, Box<SourceTree>),
}

impl DaemonSource {
    /// Wraps a source.
    pub fn new(source: Source) -> Self {
        DaemonSource { source }
    }

    /// Reads the source. A Git source is fetched first; when its commit is `known`, nothing
    /// more is read. A directory is read every time (its revision is a hash of its files).
    pub fn poll(&mut self, known: Option<&str>) -> Result<Polled, SourceError> {
        if let Source::Git(git) = &mut self.source {
            let sha = git.fetch()?;
            if known == Some(sha.as_str()) {
                return Ok(Polled::Unchanged(sha));
            }
            let tree = git.read(&sha)?;
            return Ok(Polled::Read(sha, Box::new(tree)));
        }
        let tree = self.source.load()?;
        let revision = crate::apply::planfile::revision_id(&tree);
        Ok(Polled::Read(revision, Box::new(tree)))
    }

    /// The source, for logs and status (credentials redacted).
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The directory to watch for changes, if any.
    pub fn watch_dir(&self) -> Option<&Path> {
        match &self.source {
            Source::Dir(dir) => Some(dir),
            Source::Git(_) => None,
        }
    }

    /// Where the dashboard commits proposals, for a Git remote (a directory's repository is
    /// found by the dashboard itself).
    pub fn proposal_repo(&self) -> Option<crate::source::propose::ProposalRepo> {
        match &self.source {
            Source::Git(git) => git.proposal_repo(),
            Source::Dir(_) => None,
        }
    }

    /// The branch pushes must be to for a webhook to trigger a sync (`None`: any).
    pub fn branch(&self) -> Option<String> {
        match &self.source {
            Source::Git(git) => git.branch().map(str::to_string),
            Source::Dir(_) => None,
        }
    }
}

/// Leader election: where the Lease is.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    /// The cluster (from platform.toml) that holds the Lease; `None`: the default cluster.
    pub cluster: Option<String>,
    /// The Lease.
    pub lease: LeaseSettings,
}

/// Everything `berth daemon` needs.
#[derive(Debug)]
pub struct Settings {
    /// The config source.
    pub source: DaemonSource,
    /// Address of the HTTP server (port 0: any free port).
    pub listen: SocketAddr,
    /// Timers.
    pub timing: Timing,
    /// Clusters and permissions.
    pub scope: Scope,
    /// Shared secret of the push webhooks (`None`: webhooks off).
    pub webhook_secret: Option<String>,
    /// Leader election (`None`: this replica always applies).
    pub leader_election: Option<LeaderElection>,
    /// How long shutdown waits for the sync in progress.
    pub shutdown_grace: Duration,
    /// Where the status is kept across restarts (`None`: not kept).
    pub status_file: Option<PathBuf>,
    /// The dashboard.
    pub dashboard: dashboard::DashboardSettings,
}

/// State shared by the HTTP handlers and the reconcile loop.
#[derive(Debug)]
pub struct Shared {
    /// The status.
    pub status: RwLock<Status>,
    /// Whether this replica applies.
    pub leader: Arc<AtomicBool>,
    /// Set once the first sync has run.
    pub ready: AtomicBool,
    /// Set on shutdown.
    pub stopping: Arc<AtomicBool>,
    /// Where the status is saved.
    pub status_file: Option<PathBuf>,
    /// Webhook secret.
    pub webhook_secret: Option<String>,
    /// The branch webhooks must name.
    pub branch: Option<String>,
    /// Leader election settings.
    pub leader_election: Option<LeaderElection>,
    /// Triggers for the reconcile loop.
    pub triggers: Sender<Trigger>,
    /// Set by a push webhook that arrives while this replica follows: the lease task asks the
    /// leader to sync ([`lease::Relay`]).
    pub relay_pending: Arc<AtomicBool>,
    /// What the dashboard shows beyond the status, and its forms.
    pub dashboard: dashboard::Dashboard,
}

/// A daemon failure that is not about one sync.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The file watcher cannot start.
    #[error("cannot watch {path} for changes: {message}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Threads or runtimes cannot start.
    #[error("cannot start: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the daemon until SIGTERM or Ctrl-C. `on_listen` is called with the bound address
/// (the port is chosen by the system when `settings.listen` has port 0).
pub fn run(settings: Settings, on_listen: impl FnOnce(SocketAddr)) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("berth-http")
        .enable_all()
        .build()?;
    runtime.block_on(serve(settings, on_listen, shutdown_signal()))
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

/// Serves until `shutdown` resolves, then stops the loop.
pub async fn serve(
    settings: Settings,
    on_listen: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr()?;

    let (tx, rx) = mpsc::channel();
    let mut status = settings
        .status_file
        .as_deref()
        .and_then(Status::load)
        .unwrap_or_default();
    status.source = settings.source.describe();
    status.identity = settings
        .leader_election
        .as_ref()
        .map(|l| l.lease.identity.clone())
        .unwrap_or_default();
    let shared = Arc::new(Shared {
        status: RwLock::new(status),
        leader: Arc::new(AtomicBool::new(settings.leader_election.is_none())),
        ready: AtomicBool::new(false),
        stopping: Arc::new(AtomicBool::new(false)),
        status_file: settings.status_file.clone(),
        webhook_secret: settings.webhook_secret.clone(),
        branch: settings.source.branch(),
        leader_election: settings.leader_election.clone(),
        triggers: tx.clone(),
        relay_pending: Arc::new(AtomicBool::new(false)),
        dashboard: {
            let mut d = dashboard::Dashboard::new(
                &settings.dashboard,
                settings.source.watch_dir(),
                settings.status_file.as_deref().and_then(Path::parent),
            );
            if let Some(repo) = settings.source.proposal_repo() {
                d.set_proposals(Ok(repo));
            }
            d
        },
    });

    let _watcher = match settings.source.watch_dir() {
        Some(dir) => Some(watch(dir, tx.clone())?),
        None => None,
    };

    let reconciler = reconcile::Reconciler::new(settings.source, settings.scope, shared.clone())?;
    let timing = settings.timing;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("berth-reconcile".into())
        .spawn(move || {
            reconciler.run(rx, timing);
            let _ = done_tx.send(());
        })?;

    on_listen(addr);
    tracing::info!(%addr, "serving");
    let app = http::router(shared.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "HTTP server failed");
    }
    shared.stopping.store(true, Ordering::SeqCst);
    let _ = tx.send(Trigger::Shutdown);
    match tokio::time::timeout(settings.shutdown_grace, done_rx).await {
        Ok(_) => tracing::info!("stopped"),
        Err(_) => tracing::warn!(
            grace = ?settings.shutdown_grace,
            "the sync in progress did not finish in time; abandoning it (the next sync finishes what is left)"
        ),
    }
    Ok(())
}

/// Watches `dir` and sends one [`Trigger::FileChange`] per burst of changes (200 ms of quiet
/// ends a burst). Changes under `.git/` are ignored.
fn watch(dir: &Path, triggers: Sender<Trigger>) -> Result<notify::RecommendedWatcher, DaemonError> {
    use notify::{RecursiveMode, Watcher};
    let (raw_tx, raw_rx) = mpsc::channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(event) => {
                let relevant = event
                    .paths
                    .iter()
                    .any(|p| !p.components().any(|c| c.as_os_str() == ".git"));
                if relevant && !event.kind.is_access() {
                    let _ = raw_tx.send(());
                }
            }
            Err(e) => tracing::warn!(error = %e, "file watcher error"),
        })
        .map_err(|e| DaemonError::Watch {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| DaemonError::Watch {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    std::thread::Builder::new()
        .name("berth-watch".into())
        .spawn(move || {
            while raw_rx.recv().is_ok() {
                while raw_rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
                if triggers.send(Trigger::FileChange).is_err() {
                    break;
                }
            }
        })?;
    Ok(watcher)
}
